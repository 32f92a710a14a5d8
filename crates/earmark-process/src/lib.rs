#![doc = include_str!("../README.md")]

mod hold;
mod ledger;
mod lines;
mod run;

pub use hold::held_by;
pub use ledger::{Ledger, kill_recorded_tools, set_ledger};
pub use lines::{LineSplitter, Redactor};
pub use run::{Line, OutputStream, ProcessError, ProcessSpec, run, set_default_niceness};
