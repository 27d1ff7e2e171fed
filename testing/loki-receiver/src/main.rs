//! `loki-receiver`: the test harness as a process, for scripts (the benchmark) that need a
//! Loki push endpoint. `loki-receiver --help` lists the options.

use std::net::SocketAddr;

use loki_receiver::{Limits, Receiver, ReceiverConfig};

const USAGE: &str =
    "usage: loki-receiver [--listen ADDR] [--rate-mib N] [--count-only] [--require-tenant]
  --listen ADDR     address to listen on (default 127.0.0.1:3100; port 0 picks one)
  --rate-mib N      ingestion rate limit in MiB/s, burst twice that (default: Loki's 4, burst 6)
  --count-only      count entries without keeping them (benchmarks)
  --require-tenant  answer 401 without X-Scope-OrgID
  --tls             serve HTTPS with a fresh self-signed certificate (printed as PEM)
Prints `listening on ADDR` once ready. GET /stats, POST /control/mode (accept|stall|fail S [N]).";

fn parse(args: Vec<String>) -> Result<ReceiverConfig, String> {
    let mut config = ReceiverConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 3100)),
        ..ReceiverConfig::default()
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                config.listen = v
                    .parse()
                    .map_err(|_| format!("--listen: bad address {v}"))?;
            }
            "--rate-mib" => {
                let v = value("--rate-mib")?;
                let rate: f64 = v
                    .parse()
                    .map_err(|_| format!("--rate-mib: bad number {v}"))?;
                config.limits = Limits::default().with_rate_mib(rate);
            }
            "--count-only" => config.retain = false,
            "--require-tenant" => config.require_tenant = true,
            "--tls" => config.tls = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(config)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return std::process::ExitCode::SUCCESS;
    }
    let config = match parse(args) {
        Ok(config) => config,
        Err(why) => {
            eprintln!("loki-receiver: {why}\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    let receiver = match Receiver::start(config).await {
        Ok(receiver) => receiver,
        Err(error) => {
            eprintln!("loki-receiver: cannot listen: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(pem) = receiver.ca_pem() {
        print!("{pem}");
    }
    println!("listening on {}", receiver.addr());
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
