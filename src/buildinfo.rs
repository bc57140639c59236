//! Where this binary was built from, recorded by `build.rs`: shown by
//! `--version`, `/api/v1/status/buildinfo`, `prometheus_build_info` and
//! the start-up log.

/// The release version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the binary was built from ("unknown" outside a checkout).
pub const REVISION: &str = env!("FLINT_REVISION");
/// The git branch the binary was built from.
pub const BRANCH: &str = env!("FLINT_BRANCH");
/// When it was built, UTC, as `YYYYMMDD-hh:mm:ss`.
pub const BUILD_DATE: &str = env!("FLINT_BUILD_DATE");
/// Who built it, as `user@host`.
pub const BUILD_USER: &str = env!("FLINT_BUILD_USER");
/// The compiler, as `rustc --version` printed it.
pub const TOOLCHAIN: &str = env!("FLINT_TOOLCHAIN");

/// The compiler's version number alone (`1.95.0`), the value Prometheus
/// puts where its Go version goes.
pub fn toolchain_version() -> &'static str {
    TOOLCHAIN.split_whitespace().nth(1).unwrap_or(TOOLCHAIN)
}

/// `os/arch`, as Go spells them (`linux/amd64`).
pub fn platform() -> String {
    format!("{}/{}", std::env::consts::OS, goarch())
}

/// The architecture as Go names it.
pub fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64",
        a => a,
    }
}

/// The `--version` text, in Prometheus's layout.
pub fn version_text() -> String {
    format!(
        "flint, version {VERSION} (branch: {BRANCH}, revision: {REVISION})\n  build user:       {BUILD_USER}\n  build date:       {BUILD_DATE}\n  rust version:     {}\n  platform:         {}\n  tags:             {}\n",
        toolchain_version(),
        platform(),
        if cfg!(debug_assertions) { "debug" } else { "release" },
    )
}

/// `(go=…, platform=…, user=…, date=…, tags=…)` as Prometheus logs its
/// build context, with the Rust toolchain in Go's place.
pub fn build_context() -> String {
    format!(
        "(rust={}, platform={}, user={BUILD_USER}, date={BUILD_DATE}, tags={})",
        toolchain_version(),
        platform(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    )
}

fn proc_text(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `(sysname release version machine nodename domainname)`, as `uname`
/// reports them, read from `/proc/sys/kernel` (Linux).
pub fn host_details() -> String {
    format!(
        "({} {} {} {} {} {})",
        proc_text("/proc/sys/kernel/ostype"),
        proc_text("/proc/sys/kernel/osrelease"),
        proc_text("/proc/sys/kernel/version"),
        std::env::consts::ARCH,
        proc_text("/proc/sys/kernel/hostname"),
        proc_text("/proc/sys/kernel/domainname"),
    )
}

/// The soft and hard limit of one `/proc/self/limits` row, as
/// `(soft=…, hard=…)`, with `unit` after numbers.
fn limits(row: &str, unit: &str) -> String {
    let text = proc_text("/proc/self/limits");
    let Some(line) = text.lines().find(|l| l.starts_with(row)) else {
        return "(soft=unknown, hard=unknown)".into();
    };
    let mut f = line[row.len()..].split_whitespace();
    let fmt = |v: Option<&str>| match v {
        Some("unlimited") => "unlimited".to_string(),
        Some(n) => format!("{n}{unit}"),
        None => "unknown".to_string(),
    };
    let soft = fmt(f.next());
    let hard = fmt(f.next());
    format!("(soft={soft}, hard={hard})")
}

/// The open-files limit, as Prometheus logs `fd_limits`.
pub fn fd_limits() -> String {
    limits("Max open files", "")
}

/// The address-space limit, as Prometheus logs `vm_limits`.
pub fn vm_limits() -> String {
    limits("Max address space", "b")
}
