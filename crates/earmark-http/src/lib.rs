#![doc = include_str!("../README.md")]

pub mod app;
pub mod auth;
pub mod disk;
pub mod error;
pub mod fs_atomic;
pub mod known_routes;
pub mod metrics;
pub mod routes;
pub mod state;
pub mod tools;
