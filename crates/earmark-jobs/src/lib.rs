#![doc = include_str!("../README.md")]

mod config;
mod engine;
mod run;
#[cfg(feature = "test-support")]
pub mod testing;

pub use config::{BackOff, EngineConfig};
pub use engine::{Engine, EngineError};
