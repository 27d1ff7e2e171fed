use std::process::ExitCode;

use node_agent::app::{Application, cancel_on_signal};
use node_agent::cli::{Args, USAGE};
use node_agent::config::Config;

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("node-agent: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.help || args.version {
        print!(
            "{}",
            if args.help {
                USAGE.to_string()
            } else {
                format!("node-agent {}\n", env!("CARGO_PKG_VERSION"))
            }
        );
        return ExitCode::SUCCESS;
    }
    let config = match Config::load(args.config.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("node-agent: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        print!("{}", config.to_yaml());
        return ExitCode::SUCCESS;
    }
    node_agent::telemetry::init_logging(&config.log.level);
    // One thread is plenty for a scrape every few seconds and keeps resident memory small;
    // blocking reads (statfs) get their own short-lived threads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(2)
        .build();
    let result = runtime.map_err(anyhow::Error::from).and_then(|runtime| {
        runtime.block_on(async {
            let app = Application::build(config).await?;
            let token = app.shutdown_token();
            tokio::spawn(async move {
                if let Err(error) = cancel_on_signal(token).await {
                    tracing::error!(%error, "cannot install signal handlers");
                }
            });
            tracing::info!(port = app.port(), "node-agent started");
            app.run_until_stopped().await
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "node-agent failed");
            eprintln!("node-agent: {error:#}");
            ExitCode::FAILURE
        }
    }
}
