#![doc = include_str!("../README.md")]

pub mod cli;
pub mod library;
pub mod record;

pub use cli::AudibleCli;
pub use library::AudibleLibrary;
