//! `/auth`: tokens for clients that cannot send headers (and, later, Audible accounts).

pub mod audible;
pub mod tokens;
