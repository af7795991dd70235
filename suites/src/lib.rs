//! Requirement catalogue, checks, generators and role drivers.

pub mod checks;
pub mod drivers;
pub mod faults;
pub mod generators;
pub mod golden;
pub mod input;
pub mod reference;
pub mod regressions;
pub mod requirements;
pub mod selftest;
pub mod wire;
