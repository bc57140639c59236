//! The `flint` binary: flags, logging, runtime, exit code.

use flint::flags::{help, Flags};
use flint::logging::PromLogLayer;
use tracing_subscriber::layer::SubscriberExt as _;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let app = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "flint".into());
    let wants_help = |rest: &[String]| rest.iter().any(|a| a == "--help" || a == "-h");
    // called as promtool (the container image's /bin/promtool link):
    // promtool's commands that flint has, nothing else
    if app == "promtool" {
        match args.get(1).map(String::as_str) {
            Some("check" | "test" | "tsdb" | "help") => {}
            Some("--version") => {}
            other => {
                eprintln!(
                    "promtool: error: {}: this promtool is flint, which has promtool's check, test and tsdb commands",
                    other.map_or("no command given".to_string(), |c| format!("{c:?} is not one of them"))
                );
                std::process::exit(1);
            }
        }
    }
    match args.get(1).map(String::as_str) {
        Some("help") => {
            print!("{}", help::help(&app, false));
            return;
        }
        Some("check") => {
            if wants_help(&args[2..]) {
                print!("{}", help::help(&app, false));
                return;
            }
            let code =
                flint::check::run(&args[2..], &mut std::io::stdout(), &mut std::io::stderr());
            std::process::exit(code);
        }
        Some("tsdb") => {
            if wants_help(&args[2..]) {
                print!("{}", flint::tsdbcmd::USAGE);
                return;
            }
            let code =
                flint::tsdbcmd::run(&args[2..], &mut std::io::stdout(), &mut std::io::stderr());
            std::process::exit(code);
        }
        Some("test") => {
            if wants_help(&args[2..]) {
                print!("{}", help::help(&app, false));
                return;
            }
            let code = match args.get(2).map(String::as_str) {
                Some("rules") if args.len() > 3 => {
                    if flint::rules::unittest::run_rule_tests(&args[3..], &mut std::io::stdout()) {
                        0
                    } else {
                        1
                    }
                }
                _ => {
                    eprintln!("usage: {app} test rules FILE...");
                    1
                }
            };
            std::process::exit(code);
        }
        _ => {}
    }
    let flags = match Flags::parse_args(&args) {
        Ok(f) => f,
        Err(exit) => {
            print!("{}", exit.stdout);
            eprint!("{}", exit.stderr);
            std::process::exit(exit.code);
        }
    };
    let subscriber =
        tracing_subscriber::registry().with(PromLogLayer::new(flags.log_format, flags.log_level));
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        eprintln!("{app}: error: could not install the logger");
        std::process::exit(1);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{app}: error: starting the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(flint::server::run(flags)) {
        if e.downcast_ref::<flint::server::ConfigLoadFailed>()
            .is_some()
        {
            std::process::exit(2);
        }
        tracing::error!(err = format!("{e:#}"), "Fatal error");
        std::process::exit(1);
    }
}
