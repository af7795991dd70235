//! The types every decoder shares: where an item came from, what was decoded, what went wrong.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// Where an item came from, for messages: `file.ndjson:12`, `<stdin>:3`, `batch.json[4]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// The file as the user named it, or `<stdin>`, or what a driver calls its source.
    /// Shared: every item of a stream points at the one name (no copy per line).
    pub file: Arc<str>,
    /// 1-based line of an NDJSON stream.
    pub line: Option<u64>,
    /// 0-based position in a batch (a JSON array).
    pub index: Option<usize>,
}

impl Location {
    /// The location of a whole file or stream.
    pub fn file(name: impl Into<String>) -> Self {
        Location {
            file: Arc::from(name.into()),
            line: None,
            index: None,
        }
    }

    /// This location at 1-based `line`.
    pub fn at_line(&self, line: u64) -> Self {
        Location {
            line: Some(line),
            ..self.clone()
        }
    }

    /// This location at batch position `index`.
    pub fn at_index(&self, index: usize) -> Self {
        Location {
            index: Some(index),
            ..self.clone()
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(index) = self.index {
            write!(f, "[{index}]")?;
        }
        Ok(())
    }
}

/// CloudEvents context attributes as found on the wire. All optional: checks judge them later.
///
/// In binary mode every value is a string (from a `ce-*` header, percent-decoded), names are
/// lower-cased, and `datacontenttype` is the `Content-Type` header. In the JSON format the
/// attributes are the envelope's members; a JSON `null` counts as absent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CeAttributes {
    /// `specversion`.
    pub specversion: Option<String>,
    /// `id`.
    pub id: Option<String>,
    /// `source`.
    pub source: Option<String>,
    /// `type`.
    pub type_: Option<String>,
    /// `subject`.
    pub subject: Option<String>,
    /// `time`, as written (not parsed).
    pub time: Option<String>,
    /// `datacontenttype` (in binary mode: the `Content-Type` header).
    pub datacontenttype: Option<String>,
    /// `dataschema`.
    pub dataschema: Option<String>,
    /// Every other attribute, by name as found. In binary mode a stray `ce-datacontenttype`
    /// header lands here too, under `datacontenttype`.
    pub extensions: BTreeMap<String, Value>,
}

impl CeAttributes {
    /// The field of a context attribute the CloudEvents spec names (`specversion`, `id`,
    /// `source`, `type`, `subject`, `time`, `datacontenttype`, `dataschema`); `None` for an
    /// extension.
    pub fn known_mut(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "specversion" => &mut self.specversion,
            "id" => &mut self.id,
            "source" => &mut self.source,
            "type" => &mut self.type_,
            "subject" => &mut self.subject,
            "time" => &mut self.time,
            "datacontenttype" => &mut self.datacontenttype,
            "dataschema" => &mut self.dataschema,
            _ => return None,
        })
    }
}

/// How an event was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentMode {
    /// A bare CDEvent, not wrapped in a CloudEvent.
    Bare,
    /// A CloudEvent in the JSON event format (`application/cloudevents+json`).
    Structured,
    /// An HTTP request whose `ce-*` headers are the attributes and whose body is the data.
    Binary,
    /// One CloudEvent of a JSON batch (`application/cloudevents-batch+json`).
    Batch,
}

/// One decoded event ready to be checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// How the event was carried.
    pub mode: ContentMode,
    /// The CloudEvents attributes; `None` for a bare CDEvent.
    pub ce: Option<CeAttributes>,
    /// The HTTP `Content-Type`, when the event came in an HTTP request.
    pub content_type: Option<String>,
    /// The CDEvent: the CloudEvent's data, or the bare document. Not judged yet: it may be
    /// any JSON value.
    pub cdevent: Value,
    /// Whether the data came base64-encoded in `data_base64` (JSON format only).
    pub raw_data_was_base64: bool,
}

/// One item of input: an envelope or why it could not be decoded. One bad item never hides
/// the others.
#[derive(Debug)]
pub struct Item {
    /// Where it came from.
    pub location: Location,
    /// The decoded event, or the error.
    pub result: Result<Envelope, InputError>,
}

impl Item {
    /// An item at `location` holding `result`.
    pub fn new(location: Location, result: Result<Envelope, InputError>) -> Self {
        Item { location, result }
    }
}

/// Why an input item could not be decoded. Each message says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Not JSON (position is 1-based, within the decoded text).
    #[error("not valid JSON at line {line}, column {column}: {msg}; fix the JSON syntax")]
    NotJson {
        /// 1-based line within the JSON text.
        line: usize,
        /// 1-based column within the line.
        column: usize,
        /// What the parser said.
        msg: String,
    },
    /// Larger than a limit allows; nothing of it was parsed.
    #[error("{what} is larger than the limit of {limit} bytes; split it or raise the limit")]
    TooLarge {
        /// What was too large: "event", "document", "line", "HTTP head".
        what: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
    /// Nested deeper than the depth limit.
    #[error(
        "JSON is nested deeper than {limit} levels; no CDEvent needs that, so it was not parsed"
    )]
    TooDeep {
        /// The limit in levels of arrays and objects.
        limit: usize,
    },
    /// Not UTF-8 text.
    #[error("not UTF-8 text: invalid byte at line {line}, column {column}; JSON must be UTF-8 (is it a binary file?)")]
    NotUtf8 {
        /// 1-based line of the first invalid byte.
        line: usize,
        /// 1-based column (in bytes) of the first invalid byte.
        column: usize,
    },
    /// Nothing to decode.
    #[error("{0}")]
    Empty(String),
    /// JSON, but neither a CDEvent, a CloudEvent nor a batch of them.
    #[error("not an event: {0}")]
    NotAnEvent(String),
    /// More batch elements than allowed.
    #[error("the batch has more than {limit} events; split it or raise the limit")]
    TooManyItems {
        /// The limit on events in one batch.
        limit: usize,
    },
    /// An HTTP request capture or request that cannot be decoded.
    #[error("HTTP: {0}")]
    Http(String),
    /// A CloudEvent whose envelope breaks the CloudEvents format or binding so badly that its
    /// CDEvent cannot be had.
    #[error("CloudEvents: {0}")]
    CloudEvents(String),
    /// Reading failed.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
}

/// Bounds on what the decoders accept, so that no input can exhaust memory or stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest single event: an NDJSON line, a single-event document, an HTTP body outside
    /// batch mode, decoded `data_base64`. Default 4 MiB.
    pub max_event_bytes: usize,
    /// Largest whole document or HTTP capture (a batch may be this large). Default 32 MiB.
    pub max_document_bytes: usize,
    /// Most events in one batch. Default 10,000.
    pub max_batch_items: usize,
    /// Deepest nesting of JSON arrays and objects in one document. Default 64; serde_json
    /// stops at 128 whatever this says.
    pub max_depth: usize,
    /// Most files one walk yields. Default 100,000.
    pub max_files: usize,
    /// Most HTTP headers in one request (at most 4096 whatever this says). Default 128.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: 4 << 20,
            max_document_bytes: 32 << 20,
            max_batch_items: 10_000,
            max_depth: 64,
            max_files: 100_000,
            max_headers: 128,
        }
    }
}
