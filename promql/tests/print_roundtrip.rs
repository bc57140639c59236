//! Print-then-parse round trip over every expression of the PromQL test
//! scripts: `testdata/*.test` and, when present, the upstream files in
//! `../../shared/promql-tests/*/`. For each expression that parses, both
//! the one-line form (`Display`) and the `format_query` form must parse
//! back to the same syntax tree, and printing must be idempotent.

use std::path::{Path, PathBuf};

use promql::parser::{Expr, VectorSelector};

fn test_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            test_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "test") {
            out.push(p);
        }
    }
}

/// The expression of an `eval` line, if it is one:
/// `eval[_x] instant at <t> <expr>` or
/// `eval[_x] range from <t> to <t> step <d> <expr>`.
fn eval_expr(line: &str) -> Option<&str> {
    let (cmd, rest) = line.trim().split_once(' ')?;
    if !cmd.starts_with("eval") {
        return None;
    }
    if let Some(r) = rest.strip_prefix("instant at ") {
        return r.split_once(' ').map(|(_, e)| e.trim());
    }
    let r = rest.strip_prefix("range from ")?;
    r.splitn(6, ' ').nth(5).map(str::trim)
}

/// Sorts the matchers of every selector: printing sorts them, as
/// Prometheus does, and their order does not change what they select.
fn normalize(e: &mut Expr) {
    let sort = |vs: &mut VectorSelector| {
        vs.matchers
            .sort_by_key(|m| (m.name.clone(), m.op.to_string(), m.value.clone()))
    };
    match e {
        Expr::VectorSelector(vs) | Expr::MatrixSelector { selector: vs, .. } => sort(vs),
        Expr::Subquery { expr, .. } | Expr::Unary { expr, .. } | Expr::Paren(expr) => {
            normalize(expr)
        }
        Expr::Call { args, .. } => args.iter_mut().for_each(normalize),
        Expr::Aggregate { expr, param, .. } => {
            normalize(expr);
            if let Some(p) = param {
                normalize(p);
            }
        }
        Expr::Binary { lhs, rhs, .. } => {
            normalize(lhs);
            normalize(rhs);
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
    }
}

/// The normalized tree of `q`, as text (`Debug` shows NaN as equal to
/// itself, unlike `==`).
fn tree(q: &str) -> Result<String, String> {
    let mut e = promql::parse(q).map_err(|e| e.to_string())?;
    normalize(&mut e);
    Ok(format!("{e:?}"))
}

#[test]
fn print_then_parse_gives_the_same_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    test_files(&root.join("testdata"), &mut files);
    test_files(&root.join("../../shared/promql-tests"), &mut files);
    let mut checked = 0;
    let mut problems = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            let Some(q) = eval_expr(line) else { continue };
            let Ok(expr) = promql::parse(q) else { continue };
            let Ok(want) = tree(q) else { continue };
            let printed = expr.to_string();
            let pretty = promql::format_query(q).expect("parsed once already");
            for (form, text) in [("display", &printed), ("pretty", &pretty)] {
                match tree(text) {
                    Ok(got) if got == want => {}
                    Ok(_) => problems.push(format!(
                        "{}:{}: {q}\n  {form} {text:?} parses to a different tree",
                        f.display(),
                        i + 1
                    )),
                    Err(e) => problems.push(format!(
                        "{}:{}: {q}\n  {form} {text:?} does not parse: {e}",
                        f.display(),
                        i + 1
                    )),
                }
            }
            if let Ok(again) = promql::parse(&printed) {
                if again.to_string() != printed {
                    problems.push(format!("{q}: printing is not idempotent: {printed:?}"));
                }
            }
            checked += 1;
        }
    }
    println!(
        "round-tripped {checked} expressions from {} files",
        files.len()
    );
    assert!(checked > 50, "only {checked} expressions found");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
