#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod cli;
pub mod download;
pub mod library;
pub mod positions;
pub mod profiles;
pub mod record;

pub use accounts::AccountHelper;
pub use cli::AudibleCli;
pub use download::AudibleDownloader;
pub use library::AudibleLibrary;
pub use positions::AudiblePositionsApi;
