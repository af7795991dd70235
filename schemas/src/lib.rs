//! The CDEvents schema registry.
