//! The `flint` binary: flags, logging, runtime, exit code.

use flint::buildinfo::version_text;
use flint::flags::Flags;
use flint::logging::PromLogLayer;
use tracing_subscriber::layer::SubscriberExt as _;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("check") {
        let code = flint::check::run(&args[2..], &mut std::io::stdout(), &mut std::io::stderr());
        std::process::exit(code);
    }
    if args.get(1).map(String::as_str) == Some("test") {
        let code = match args.get(2).map(String::as_str) {
            Some("rules") if args.len() > 3 => {
                if flint::rules::unittest::run_rule_tests(&args[3..], &mut std::io::stdout()) {
                    0
                } else {
                    1
                }
            }
            _ => {
                eprintln!("usage: flint test rules FILE...");
                1
            }
        };
        std::process::exit(code);
    }
    let flags = match Flags::parse_args(std::env::args_os()) {
        Ok(f) => f,
        Err((msg, 0)) => {
            print!("{msg}");
            std::process::exit(0);
        }
        Err((msg, code)) => {
            eprintln!("{msg}");
            std::process::exit(code);
        }
    };
    if flags.version {
        print!("{}", version_text());
        return;
    }
    let subscriber =
        tracing_subscriber::registry().with(PromLogLayer::new(flags.log_format, flags.log_level));
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        eprintln!("flint: error: could not install the logger");
        std::process::exit(1);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flint: error: starting the runtime: {e}");
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
