#![doc = include_str!("../README.md")]

pub mod config;
pub mod data_dir;
pub mod listen;
pub mod server;
