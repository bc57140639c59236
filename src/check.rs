//! `flint check …`: promtool's checks in the same binary, with its output
//! shape and exit codes (0 fine, 1 failed, 3 lint problems), so CI
//! pipelines that call promtool can call flint.

use std::io::Read;
use std::path::Path;

use textparse::{Entry, MetricType, PromParser};

/// Exit code: all checks passed.
pub const SUCCESS: i32 = 0;
/// Exit code: a check failed.
pub const FAILURE: i32 = 1;
/// Exit code: lint problems found.
pub const LINT_ERROR: i32 = 3;

/// Runs `flint check <what> …` with the arguments after `check`; returns
/// the exit code. Output goes to `out`, errors to `err`.
pub fn run(args: &[String], out: &mut impl std::io::Write, err: &mut impl std::io::Write) -> i32 {
    match args.first().map(String::as_str) {
        Some("config") if args.len() > 1 => check_configs(&args[1..], out, err),
        Some("rules") if args.len() > 1 => match crate::rules::check_rule_files(&args[1..]) {
            Ok(report) => {
                let _ = write!(out, "{report}");
                SUCCESS
            }
            Err(report) => {
                let _ = write!(err, "{report}");
                FAILURE
            }
        },
        Some("metrics") => {
            let mut body = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut body) {
                let _ = writeln!(err, "error reading standard input: {e}");
                return FAILURE;
            }
            check_metrics(&body, out, err)
        }
        _ => {
            let _ = writeln!(
                err,
                "usage: flint check config FILE...\n       flint check rules FILE...\n       flint check metrics < exposition.txt"
            );
            FAILURE
        }
    }
}

/// `flint check config FILE...`.
pub fn check_configs(
    files: &[String],
    out: &mut impl std::io::Write,
    err: &mut impl std::io::Write,
) -> i32 {
    let mut code = SUCCESS;
    for f in files {
        let _ = writeln!(out, "Checking {f}");
        match crate::config::load_file(Path::new(f)) {
            Ok(cfg) => {
                let _ = writeln!(out, " SUCCESS: {f} is valid prometheus config file syntax");
                if !cfg.rule_files.is_empty() {
                    let _ = writeln!(out, "  (rule files listed: {})", cfg.rule_files.join(", "));
                }
            }
            Err(e) => {
                let _ = writeln!(err, "  FAILED: {e}");
                code = FAILURE;
            }
        }
        let _ = writeln!(out);
    }
    code
}

/// A lint finding: metric family and text.
#[derive(Debug, PartialEq, Eq)]
pub struct Problem {
    /// Metric family.
    pub metric: String,
    /// What is wrong.
    pub text: String,
}

/// Units that have a base unit Prometheus prefers.
const NON_BASE_UNITS: &[(&str, &str)] = &[
    ("milliseconds", "seconds"),
    ("microseconds", "seconds"),
    ("nanoseconds", "seconds"),
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("kilobytes", "bytes"),
    ("megabytes", "bytes"),
    ("gigabytes", "bytes"),
    ("terabytes", "bytes"),
    ("kilometers", "meters"),
    ("millimeters", "meters"),
    ("centimeters", "meters"),
    ("grams", "kilograms"),
    ("celsius", "celsius"),
];

/// Lints a text exposition as promtool's `check metrics` does.
pub fn lint(body: &[u8]) -> Result<Vec<Problem>, textparse::ParseError> {
    let mut p = PromParser::new(body);
    // family → (help seen, type)
    let mut families: Vec<(String, bool, MetricType)> = Vec::new();
    let family = |fams: &mut Vec<(String, bool, MetricType)>, name: &str| -> usize {
        match fams.iter().position(|f| f.0 == name) {
            Some(i) => i,
            None => {
                fams.push((name.to_string(), false, MetricType::Unknown));
                fams.len() - 1
            }
        }
    };
    while let Some(e) = p.next()? {
        match e {
            Entry::Help => {
                let (n, _) = p.help();
                let i = family(&mut families, &String::from_utf8_lossy(n));
                families[i].1 = true;
            }
            Entry::Type => {
                let (n, t) = p.metric_type();
                let i = family(&mut families, &String::from_utf8_lossy(n));
                families[i].2 = t;
            }
            Entry::Series => {
                let (raw, _, _) = p.series();
                let name: String = String::from_utf8_lossy(raw)
                    .split('{')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| {
                        name.strip_suffix(s)
                            .filter(|b| families.iter().any(|f| f.0 == *b))
                    })
                    .unwrap_or(&name)
                    .to_string();
                family(&mut families, &base);
            }
            _ => {}
        }
    }
    let mut problems = Vec::new();
    for (name, help, kind) in &families {
        let mut add = |t: String| {
            problems.push(Problem {
                metric: name.clone(),
                text: t,
            })
        };
        if !help {
            add("no help text".into());
        }
        if *kind == MetricType::Counter && !name.ends_with("_total") {
            add("counter metrics should have \"_total\" suffix".into());
        }
        if *kind != MetricType::Counter && *kind != MetricType::Unknown && name.ends_with("_total")
        {
            add("non-counter metrics should not have \"_total\" suffix".into());
        }
        if name.chars().any(|c| c.is_ascii_uppercase()) {
            add("metric names should be written in 'snake_case' not 'camelCase'".into());
        }
        for part in name.split('_') {
            if let Some((unit, base)) = NON_BASE_UNITS.iter().find(|(u, _)| *u == part) {
                if unit != base {
                    add(format!("use base unit \"{base}\" instead of \"{unit}\""));
                }
            }
        }
        if name.contains("_metric") || name.ends_with("_gauge") || name.ends_with("_counter") {
            add("metric names should not include type 'gauge', 'counter' or 'metric'".into());
        }
    }
    Ok(problems)
}

/// `flint check metrics` over `body`.
pub fn check_metrics(
    body: &[u8],
    out: &mut impl std::io::Write,
    err: &mut impl std::io::Write,
) -> i32 {
    match lint(body) {
        Err(e) => {
            let _ = writeln!(err, "error while linting: {e}");
            FAILURE
        }
        Ok(problems) if problems.is_empty() => SUCCESS,
        Ok(problems) => {
            for p in problems {
                let _ = writeln!(out, "{} {}", p.metric, p.text);
            }
            LINT_ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lint_findings() {
        let body = b"# HELP good_total Fine.\n# TYPE good_total counter\ngood_total 1\n# TYPE bad counter\nbad 1\nlatency_milliseconds 3\n# HELP h_seconds H.\n# TYPE h_seconds histogram\nh_seconds_bucket{le=\"+Inf\"} 1\nh_seconds_sum 1\nh_seconds_count 1\n";
        let p = lint(body).unwrap();
        let texts: Vec<String> = p
            .iter()
            .map(|p| format!("{} {}", p.metric, p.text))
            .collect();
        assert!(texts.contains(&"bad no help text".to_string()), "{texts:?}");
        assert!(texts.contains(&"bad counter metrics should have \"_total\" suffix".to_string()));
        assert!(texts.contains(
            &"latency_milliseconds use base unit \"seconds\" instead of \"milliseconds\""
                .to_string()
        ));
        assert!(
            !texts
                .iter()
                .any(|t| t.starts_with("good_total") || t.starts_with("h_seconds")),
            "{texts:?}"
        );
        let (mut o, mut e) = (Vec::new(), Vec::new());
        assert_eq!(
            check_metrics(
                b"# HELP a_total A.\n# TYPE a_total counter\na_total 1\n",
                &mut o,
                &mut e
            ),
            SUCCESS
        );
        assert_eq!(check_metrics(body, &mut o, &mut e), LINT_ERROR);
        assert_eq!(check_metrics(b"bad line {\n", &mut o, &mut e), FAILURE);
    }

    #[test]
    fn config_check_output() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.yml");
        std::fs::write(
            &good,
            "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['h:1']}]\n",
        )
        .unwrap();
        let bad = dir.path().join("bad.yml");
        std::fs::write(
            &bad,
            "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs: [{role: pods}]\n",
        )
        .unwrap();
        let (mut o, mut e) = (Vec::new(), Vec::new());
        let g = good.display().to_string();
        assert_eq!(
            check_configs(std::slice::from_ref(&g), &mut o, &mut e),
            SUCCESS
        );
        assert!(String::from_utf8_lossy(&o).contains(&format!(
            " SUCCESS: {g} is valid prometheus config file syntax"
        )));
        assert_eq!(
            check_configs(&[bad.display().to_string()], &mut o, &mut e),
            FAILURE
        );
        assert!(
            String::from_utf8_lossy(&e).contains("unknown Kubernetes SD role \"pods\""),
            "{}",
            String::from_utf8_lossy(&e)
        );
    }
}
