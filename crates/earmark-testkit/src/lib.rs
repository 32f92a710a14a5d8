#![doc = include_str!("../README.md")]
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test harness fails by panicking"
)]

pub mod app;
pub mod arrivals;
pub mod conversion;
pub mod fake_audible;
pub mod fake_content;
pub mod fake_positions;
pub mod files;
mod loopback;
pub mod seed;
pub mod server;
pub mod shape;
pub mod stand_in;
pub mod webhook_receiver;
pub mod wrk;
pub mod ws_client;

pub use server::*;
