//! The CDEvents schema registry of cdevents-conformance.
//!
//! - [`SpecVersion`]: the supported CDEvents versions.
//! - [`catalogue`]: every event type of every version, parsed from `schemas/catalogue/*.toml`,
//!   the one source of truth.
//! - [`generate`]: the JSON Schemas (draft 2020-12) generated from the catalogue, checked in
//!   under `schemas/generated/` and embedded in the binary.
//! - [`registry`]: compiled validators, from the embedded schemas or from an official spec
//!   checkout (`--schemas DIR`); formats asserted, nothing ever fetched over the network.

pub mod catalogue;
pub mod formats;
pub mod generate;
pub mod official;
pub mod registry;
pub mod version;

pub use registry::{Registry, RegistryError, SchemaError, SchemaLookup, TypeSchema};
pub use version::{SpecVersion, UnknownVersion};
