//! `flint --help` in the layout of Prometheus's (usage line, description,
//! a two-column flag list, then the commands), the Markdown flag table of
//! `--write-documentation`, and shell completion.

use super::table::{Check, Effect, Kind, Mode, Spec, FLAGS};

/// The subcommands, with their arguments and help.
pub const COMMANDS: &[(&str, &str)] = &[
    ("help [<command>...]", "Show help."),
    (
        "check config <config-files>...",
        "Check that configuration files are valid, with the rule files they name.",
    ),
    (
        "check rules <rule-files>...",
        "Check that rule files are valid and report duplicate rules.",
    ),
    (
        "check metrics",
        "Lint the metrics exposition read from standard input.",
    ),
    (
        "test rules <test-rule-file>...",
        "Run rule unit tests (promtool's format).",
    ),
    ("tsdb list [<flags>] [<db path>]", "List tsdb blocks."),
    (
        "tsdb analyze [<flags>] [<db path>] [<block id>]",
        "Analyze churn, label pair cardinality and compaction efficiency.",
    ),
    (
        "tsdb dump [<flags>] [<db path>]",
        "Dump samples (or only series) from a TSDB.",
    ),
    (
        "tsdb dump-openmetrics [<flags>] [<db path>]",
        "Dump samples from a TSDB into OpenMetrics text format.",
    ),
    (
        "tsdb create-blocks-from openmetrics <input file> [<output directory>]",
        "Import samples from OpenMetrics input and produce TSDB blocks.",
    ),
    (
        "tsdb create-blocks-from rules --start=START [<flags>] <rule-files>...",
        "Create blocks of data for new recording rules.",
    ),
    (
        "tsdb export-prometheus [<flags>] <output directory> [<db path>]",
        "Write the data as Prometheus blocks (index v2, XOR chunks).",
    ),
];

/// The left column of a flag's line: `--[no-]name` for booleans,
/// `--name=<default or placeholder>` for the others, ` ...` after lists.
fn usage(s: &Spec) -> String {
    let mut u = if s.kind == Kind::Bool {
        format!("--[no-]{}", s.name)
    } else {
        let shown = if let Some(p) = s.placeholder {
            p.to_string()
        } else if let Some(d) = s.default.first() {
            let quoted = s.check == Check::Text;
            let d = if quoted {
                format!("{d:?}")
            } else {
                d.to_string()
            };
            if s.default.len() > 1 {
                format!("{d}...")
            } else {
                d
            }
        } else {
            s.name.to_uppercase()
        };
        format!("--{}={shown}", s.name)
    };
    if s.kind == Kind::List {
        u.push_str(" ...");
    }
    if s.name == "help" {
        u = format!("-h, {u}");
    } else {
        u = format!("    {u}");
    }
    u
}

/// A flag's help with what flint makes of it.
fn help_text(s: &Spec) -> String {
    let mut h = s.help.to_string();
    if let Effect::Ignored(why) = s.effect {
        h.push_str(&format!(" (Accepted, no effect: {why}.)"));
    }
    match s.mode {
        Mode::Server => h.push_str(" Use with server mode only."),
        Mode::Agent => h.push_str(" Use with agent mode only."),
        Mode::Both => {}
    }
    h
}

/// Splits `text` into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The text `--help` prints. `long` adds the hidden flags.
pub fn help(app: &str, long: bool) -> String {
    const WIDTH: usize = 80;
    let shown: Vec<&Spec> = FLAGS.iter().filter(|s| long || !s.hidden).collect();
    let cells: Vec<String> = shown.iter().map(|s| usage(s)).collect();
    // the first column is as wide as the widest cell under 30 characters;
    // a wider cell stands on a line of its own
    let col = cells
        .iter()
        .map(|c| c.chars().count())
        .filter(|w| *w < 30)
        .max()
        .unwrap_or(20);
    let indent = 2 + col + 2;
    let mut out = format!(
        "usage: {app} [<flags>] [<command> [<args> ...]]\n\nThe flint time-series server, a drop-in for Prometheus.\n\n\nFlags:\n"
    );
    for (s, cell) in shown.iter().zip(&cells) {
        let lines = wrap(&help_text(s), WIDTH - indent);
        let w = cell.chars().count();
        if w < 30 {
            out.push_str(&format!("  {cell}{}", " ".repeat(col - w + 2)));
        } else {
            out.push_str(&format!("  {cell}  \n{}", " ".repeat(indent)));
        }
        for (i, l) in lines.iter().enumerate() {
            if i > 0 {
                out.push_str(&" ".repeat(indent));
            }
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str("\nCommands:\n");
    for (cmd, h) in COMMANDS {
        out.push_str(&format!("  {cmd}\n"));
        for l in wrap(h, WIDTH - 4) {
            out.push_str(&format!("    {l}\n"));
        }
        out.push('\n');
    }
    out
}

/// The flags as a Markdown table (`--write-documentation`).
pub fn markdown(app: &str) -> String {
    let mut out = format!(
        "---\ntitle: {app}\n---\n\n# {app}\n\nThe flint time-series server, a drop-in for Prometheus.\n\n## Flags\n\n| Flag | Description | Default |\n| --- | --- | --- |\n"
    );
    for s in FLAGS.iter().filter(|s| !s.hidden) {
        let name = if s.name == "help" {
            "<code class=\"text-nowrap\">-h</code>, <code class=\"text-nowrap\">--help</code>"
                .to_string()
        } else {
            format!("<code class=\"text-nowrap\">--{}</code>", s.name)
        };
        let default = s
            .default
            .iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "| {name} | {} | {default} |\n",
            help_text(s).replace('|', "\\|")
        ));
    }
    out.push_str("\n## Commands\n\n| Command | Description |\n| --- | --- |\n");
    for (cmd, h) in COMMANDS {
        out.push_str(&format!("| `{cmd}` | {h} |\n"));
    }
    out
}

/// Every flag as `--name`, one a line (what `--completion-bash` prints).
pub fn completion_words() -> String {
    let mut out = String::new();
    for s in FLAGS.iter().filter(|s| !s.hidden) {
        out.push_str(&format!("--{}\n", s.name));
    }
    for w in ["check", "test", "tsdb", "help"] {
        out.push_str(w);
        out.push('\n');
    }
    out
}

/// A completion script for `shell` ("bash" or "zsh") that asks the binary
/// for its words.
pub fn completion_script(app: &str, shell: &str) -> String {
    let bash = format!(
        "_{app}_complete() {{\n  COMPREPLY=($(compgen -W \"$(\"${{COMP_WORDS[0]}}\" --completion-bash)\" -- \"${{COMP_WORDS[COMP_CWORD]}}\"))\n}}\ncomplete -o default -F _{app}_complete {app}\n"
    );
    if shell == "zsh" {
        format!("#compdef {app}\nautoload -U +X bashcompinit && bashcompinit\n{bash}")
    } else {
        bash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_layout() {
        let h = help("flint", false);
        assert!(h.starts_with("usage: flint [<flags>]"), "{h}");
        assert!(h.contains("\n\n\nFlags:\n  -h, --[no-]help "), "{h}");
        assert!(
            h.contains("\n      --config.file=\"prometheus.yml\"  \n"),
            "{h}"
        );
        assert!(
            h.contains("\n      --web.listen-address=0.0.0.0:9090 ... "),
            "{h}"
        );
        assert!(h.contains("--[no-]web.enable-lifecycle"), "{h}");
        assert!(
            !h.contains("storage.tsdb.wal-compression"),
            "hidden flags: {h}"
        );
        assert!(help("flint", true).contains("storage.tsdb.wal-compression"));
        assert!(h.contains("\nCommands:\n  help [<command>...]\n"), "{h}");
        assert!(h.contains("  check config <config-files>...\n"), "{h}");
        // only a flag too long for the column stands on a longer line
        for line in h.lines() {
            assert!(
                line.chars().count() <= 80
                    || (line.starts_with("      --") && line.ends_with("  ")),
                "{line}"
            );
        }
        // flags that change nothing say so
        assert!(h.contains("no effect"), "{h}");
    }
}
