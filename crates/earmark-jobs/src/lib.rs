#![doc = include_str!("../README.md")]

mod auto_sync;
mod config;
mod engine;
mod finish;
mod position_push;
mod run;

pub use auto_sync::{AutoSyncPacing, start_auto_sync};
pub use config::{BackOff, EngineConfig};
pub use engine::{Engine, EngineError};
pub use position_push::{MAX_DELAY, PositionPusher, PushPacing};
