//! Keeping up without being asked: when the automatic sync is due, and what a sync queues
//! for the books it finds new. The clock and the loop live in the job engine; the decisions
//! live here, where they can be tested without waiting.

pub mod new_books;
pub mod schedule;

#[cfg(test)]
mod tests;
