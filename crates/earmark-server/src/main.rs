//! The `earmark` binary: reads settings, chooses adapters, serves.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use earmark_server::config::Settings;
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
    /// Manage the API key.
    ApiKey {
        #[command(subcommand)]
        action: ApiKeyAction,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeyAction {
    /// Replace the stored key with a new one, printed once; restart earmark to use it.
    Rotate,
}

/// `earmark api-key rotate`: a new key in the data directory, printed once.
fn rotate_key(settings: &Settings) -> Result<(), String> {
    if settings.auth.api_key.is_some() {
        return Err(
            "the API key is set by configuration (EARMARK__AUTH__API_KEY or the \
                    settings file): change it there"
                .into(),
        );
    }
    let data_dir = earmark_server::data_dir::DataDir::prepare(&settings.data_dir)
        .map_err(|e| format!("cannot prepare {}: {e}", settings.data_dir.display()))?;
    let key = earmark_http::auth::api_key::rotate(data_dir.root()).map_err(|e| e.to_string())?;
    println!("API key: {key}");
    println!("(shown once; restart earmark for the new key to replace the old one)");
    Ok(())
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
    // Never dropped: dropping a runtime waits for its blocking tasks without limit, and a
    // stopping server must end within its bound (see `server::run`).
    let system = actix_web::rt::System::new();
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => system
            .block_on(earmark_server::server::run(settings))
            .map_err(|e| e.to_string()),
        Command::ApiKey {
            action: ApiKeyAction::Rotate,
        } => rotate_key(&settings),
    };
    let code = match outcome {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("earmark: {err}");
            1
        }
    };
    std::process::exit(code)
}
