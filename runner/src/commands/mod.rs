//! One module per subcommand.

pub mod requirements;
pub mod validate;
