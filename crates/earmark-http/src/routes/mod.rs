//! The HTTP routes, one module per capability.

pub mod auth;
pub mod chapters;
pub mod docs;
pub mod health;
pub mod jobs;
pub mod library;
pub mod metrics;
pub mod settings;
pub mod stream;
pub mod webhooks;
pub mod wire;
pub mod ws;
