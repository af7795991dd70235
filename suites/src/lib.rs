//! Requirement catalogue, checks, generators and role drivers.

pub mod checks;
pub mod generators;
pub mod input;
pub mod requirements;
