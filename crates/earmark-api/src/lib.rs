#![doc = include_str!("../README.md")]

pub mod app;
pub mod auth;
pub mod config;
pub mod data_dir;
pub mod error;
pub mod fs_atomic;
pub mod listen;
pub mod metrics;
pub mod routes;
pub mod server;
pub mod state;
pub mod tools;
pub mod zero_copy;
