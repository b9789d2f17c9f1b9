//! The `tarcza` binary: parse the command line, set up logging, run the command, map the
//! exit code. Everything else is in the library.

use std::process::ExitCode;

use clap::Parser;
use tarcza::config::{Cli, Command, KeysCommand};
use tarcza::domain::{Binding, PhoneNumber, Role};
use tokio_util::sync::CancellationToken;

/// mimalloc rather than glibc's allocator: `/v1/check` allocates and frees a few small
/// buffers per request from two threads, where glibc's arenas and its consolidation of
/// freed chunks took about a tenth of the process's time under wrk (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = tarcza::telemetry::init(&cli.config.log, cli.config.log_format) {
        eprintln!("tarcza: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tarcza: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "tarcza stopped with an error");
            eprintln!("tarcza: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = cli.config;
    config.load_registries()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let shutdown = CancellationToken::new();
            tokio::spawn(on_signal(shutdown.clone()));
            tarcza::serve(config, shutdown).await?;
        }
        Command::Migrate => {
            let db = tarcza::db::Database::open(&config).await?;
            let result = db.migrate().await;
            db.shutdown().await?;
            result?;
            println!("migrations applied");
        }
        Command::Openapi => print!("{}", tarcza::http::openapi_json()),
        Command::Import(args) => return Ok(tarcza::cli::import(args).await),
        Command::Check(args) => return Ok(tarcza::cli::check(args).await),
        Command::Normalize { number } => match PhoneNumber::parse(&number, config.default_region) {
            Ok(n) => println!("{n}"),
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::from(1));
            }
        },
        Command::Keys(KeysCommand::Create {
            name,
            role,
            client,
            campaigns,
            may_block_global,
        }) => {
            let binding = match client.as_deref() {
                None => None,
                Some(_) if !matches!(role, Role::Dialer | Role::Agent) => {
                    eprintln!("a client-bound key is a dialer or an agent");
                    return Ok(ExitCode::from(2));
                }
                Some(c) => match Binding::new(c, &campaigns, may_block_global) {
                    Ok(b) => Some(b),
                    Err(e) => {
                        eprintln!("{e}");
                        return Ok(ExitCode::from(2));
                    }
                },
            };
            let db = tarcza::db::Database::open(&config).await?;
            let result = async {
                tarcza::prepare(&db, &config).await?;
                tarcza::store::keys::create_bound(&db.pool, None, &name, role, binding.as_ref())
                    .await
                    .map_err(anyhow::Error::from)
            }
            .await;
            db.shutdown().await?;
            let (key, secret) = result?;
            println!(
                "created key {} ({}, role {}): {secret}",
                key.id, key.name, key.role
            );
            println!("store it now: it is not shown again");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: draining requests");
    shutdown.cancel();
}
