//! One module per subcommand.

pub mod reference_listener;
pub mod reference_sender;
pub mod report;
pub mod requirements;
pub mod test_listener;
pub mod test_sender;
pub mod validate;
