//! The result model shared by every suite and by `validate`, and the writers that render it.
//!
//! The types here are the stable vocabulary of a run: a [`Level`] says how strongly the spec asks
//! for something, a [`Role`] says who it is asked of, and a [`Finding`] ties an observation to the
//! requirement it breaks.

pub mod model;

pub use model::{Finding, Level, Role};
