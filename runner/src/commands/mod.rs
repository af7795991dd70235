//! One module per subcommand.

pub mod common_args;
pub mod completions;
pub mod demo;
pub mod promote;
pub mod reference_listener;
pub mod reference_relay;
pub mod reference_sender;
pub mod relay_repro;
pub mod report;
pub mod reproduce;
pub mod requirements;
pub mod selftest;
pub mod sender_repro;
pub mod test_listener;
pub mod test_relay;
pub mod test_sender;
pub mod validate;
