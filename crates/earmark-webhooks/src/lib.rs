#![doc = include_str!("../README.md")]

mod deliverer;
mod sender;
mod signature;

pub use deliverer::{JobEventsReceiver, Webhooks, forward_job_events};
pub use sender::{HttpSender, Sender, Sent};
pub use signature::signature;
