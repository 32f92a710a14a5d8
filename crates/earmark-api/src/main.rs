//! The `earmark` binary: reads settings, chooses adapters, serves.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use earmark_api::config::Settings;
use tracing_subscriber::EnvFilter;

/// Self-hosted backend for an Audible library.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// A TOML settings file (environment variables EARMARK__SECTION__KEY override it).
    #[arg(long, global = true, env = "EARMARK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("earmark: {err}");
            return ExitCode::from(2);
        }
    };
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(earmark_api::server::run(settings)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("earmark: {err}");
            ExitCode::FAILURE
        }
    }
}
