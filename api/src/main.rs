use std::process::ExitCode;

use task_api::{config::Settings, startup::Application, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("-h" | "--help") => {
            print!("{}", Settings::help());
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") => {
            println!("task-api {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!(
                "task-api: unexpected argument {other:?}; configuration comes from environment variables (see --help)"
            );
            return ExitCode::from(2);
        }
        None => {}
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("task-api: {error}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match telemetry::init(&settings.log, settings.telemetry_enabled) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("task-api: {error}");
            return ExitCode::from(2);
        }
    };
    let result = async {
        Application::build(settings)
            .await?
            .run_until_stopped(shutdown_signal())
            .await
    }
    .await;
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "task-api failed");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM (Kubernetes) or SIGINT (a terminal).
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler can be installed");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
