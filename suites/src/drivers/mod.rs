//! The drivers of the live suites, one per role of the implementation under test.
//!
//! - [`listener`]: the runner is the sender; the target is a CDEvents listener.
//! - [`sender`]: the runner is the receiver (a sink); the target is a CDEvents sender.

pub mod listener;
pub mod sender;
