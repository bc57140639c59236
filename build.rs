//! Records where the binary was built from (git revision and branch, date,
//! user, toolchain), for `--version`, the build-info API and the start-up
//! log. Outside a git checkout the revision and branch read "unknown".

use std::process::Command;

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    let revision = run("git", &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let branch =
        run("git", &["rev-parse", "--abbrev-ref", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let date = run("date", &["-u", "+%Y%m%d-%H:%M:%S"]).unwrap_or_else(|| "unknown".into());
    let user = std::env::var("USER")
        .ok()
        .or_else(|| run("id", &["-un"]))
        .unwrap_or_else(|| "unknown".into());
    let host = run("hostname", &[]).unwrap_or_else(|| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let toolchain = run(&rustc, &["--version"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=FLINT_REVISION={revision}");
    println!("cargo:rustc-env=FLINT_BRANCH={branch}");
    println!("cargo:rustc-env=FLINT_BUILD_DATE={date}");
    println!("cargo:rustc-env=FLINT_BUILD_USER={user}@{host}");
    println!("cargo:rustc-env=FLINT_TOOLCHAIN={toolchain}");
    // a new commit or branch means new build information; other changes
    // leave it as it is, so this does not rebuild the crate every time.
    // In a worktree HEAD is in its own git folder, branches in the common
    // one.
    let git_dir = run("git", &["rev-parse", "--git-dir"]).unwrap_or_else(|| ".git".into());
    let common = run("git", &["rev-parse", "--git-common-dir"]).unwrap_or_else(|| git_dir.clone());
    let mut watch = vec![format!("{git_dir}/HEAD"), format!("{common}/packed-refs")];
    if let Ok(head) = std::fs::read_to_string(format!("{git_dir}/HEAD")) {
        if let Some(r) = head.trim().strip_prefix("ref: ") {
            watch.push(format!("{common}/{r}"));
        }
    }
    for p in watch {
        if std::path::Path::new(&p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
