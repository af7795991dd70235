//! Reference implementations: conformant by default, and deliberately broken variants
//! (`--fault NAME`, one rule broken each) that prove every check can fail.

pub mod listener;
pub mod metrics;
pub mod relay;
pub mod sender;
