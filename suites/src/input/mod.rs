//! Decoders of untrusted input: JSON documents, NDJSON streams, HTTP request captures and
//! requests, and the walk over files and directories that feeds them.
//!
//! Every decoder is panic-free on any bytes, bounded in memory by [`Limits`], and reports
//! per item: one bad event never hides the others.

mod cloudevents;
mod http;
mod json;
mod model;
mod ndjson;
mod walk;

#[cfg(test)]
mod tests;

pub use http::{
    decode_batch, decode_binary, decode_http_body, decode_http_request, decode_structured,
    BATCH_JSON, STRUCTURED_JSON,
};
pub use json::decode_document;
pub use model::{CeAttributes, ContentMode, Envelope, InputError, Item, Limits, Location};
pub use ndjson::NdjsonReader;
pub use walk::{
    decode_file, decode_reader, decode_source, walk_paths, InputKind, Source, Walk, WalkError,
};
