//! The reference listener: a conformant CDEvents listener on axum/hyper whose validator is the
//! kit's own (the HTTP decoders of [`crate::input`] and [`crate::checks::EventChecker`]), and
//! its deliberately broken variants ([`Fault`], one rule broken each).

mod faults;
mod server;

pub use faults::{Fault, UnknownFault};
pub use server::{spawn_reference_listener, Config, ListenerHandle};
