//! The drivers of the live suites, one per role of the implementation under test.
//!
//! - [`listener`]: the runner is the sender; the target is a CDEvents listener.
//! - [`sender`]: the runner is the receiver (a sink); the target is a CDEvents sender.
//! - [`relay`]: the runner is both; the target is an intermediary between them.

pub mod listener;
pub mod relay;
pub mod sender;
