#![doc = include_str!("../README.md")]

mod lines;
mod run;

pub use lines::{LineSplitter, Redactor};
pub use run::{Line, OutputStream, ProcessError, ProcessSpec, run, set_default_niceness};
