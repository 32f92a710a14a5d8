#![doc = include_str!("../README.md")]

mod config;
mod engine;
mod finish;
mod run;

pub use config::{BackOff, EngineConfig};
pub use engine::{Engine, EngineError};
