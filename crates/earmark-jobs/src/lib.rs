#![doc = include_str!("../README.md")]

mod config;
mod engine;
mod finish;
mod run;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{BackOff, EngineConfig};
pub use engine::{Engine, EngineError};
