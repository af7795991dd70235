//! JSON text to events: bounded parsing and telling a bare CDEvent, a CloudEvent and a batch
//! apart.

use serde_json::{Map, Value};

use super::cloudevents::from_json_event;
use super::http::{decode_http_request, looks_like_http_request};
use super::model::{ContentMode, Envelope, InputError, Item, Limits, Location};

/// Decodes one JSON document: a bare CDEvent (an object with `context` or `subject`), a
/// CloudEvent in the JSON event format (an object with `specversion`; its `data` is the
/// CDEvent), or a batch (an array of either; its items get an `index`). A document that
/// starts with an HTTP request line (`POST /path HTTP/1.1`) is decoded as a request capture
/// with [`decode_http_request`].
///
/// Never panics; yields at least one item.
pub fn decode_document(bytes: &[u8], location: Location, limits: &Limits) -> Vec<Item> {
    if bytes.len() > limits.max_document_bytes {
        let err = InputError::TooLarge {
            what: "document",
            limit: limits.max_document_bytes,
        };
        return vec![Item::new(location, Err(err))];
    }
    if looks_like_http_request(bytes) {
        return decode_http_request(bytes, location, limits);
    }
    decode_json(bytes, location, limits)
}

/// Decodes JSON text holding one event or a batch of them, without the HTTP sniffing.
pub(crate) fn decode_json(bytes: &[u8], location: Location, limits: &Limits) -> Vec<Item> {
    match decode_json_items(bytes, location, limits) {
        Decoded::One(item) => vec![item],
        Decoded::Many(items) => items,
    }
}

/// What one JSON text decoded to: one item, or the items of a batch.
// Boxing `One` would put back the allocation per line this enum exists to save.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Decoded {
    /// An event, or why the text is not one.
    One(Item),
    /// The items of a batch (a JSON array).
    Many(Vec<Item>),
}

/// [`decode_json`] without a `Vec` for the usual single event (the NDJSON reader's hot path).
pub(crate) fn decode_json_items(bytes: &[u8], location: Location, limits: &Limits) -> Decoded {
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first == Some(b'{') && bytes.len() > limits.max_event_bytes {
        let err = InputError::TooLarge {
            what: "event",
            limit: limits.max_event_bytes,
        };
        return Decoded::One(Item::new(location, Err(err)));
    }
    match parse_json(bytes, limits) {
        Ok(Value::Array(elements)) => Decoded::Many(batch_items(elements, location, limits, false)),
        Ok(value) => {
            let result = event_from_value(value, limits);
            Decoded::One(Item::new(location, result))
        }
        Err(err) => Decoded::One(Item::new(location, Err(err))),
    }
}

/// The items of a batch. With `cloudevents_only` (an HTTP batch) every element is read as a
/// CloudEvent; otherwise an element may also be a bare CDEvent.
pub(crate) fn batch_items(
    elements: Vec<Value>,
    location: Location,
    limits: &Limits,
    cloudevents_only: bool,
) -> Vec<Item> {
    if elements.is_empty() {
        let err = InputError::Empty(
            "the batch is an empty JSON array: there is no event to check".into(),
        );
        return vec![Item::new(location, Err(err))];
    }
    if elements.len() > limits.max_batch_items {
        let err = InputError::TooManyItems {
            limit: limits.max_batch_items,
        };
        return vec![Item::new(location, Err(err))];
    }
    elements
        .into_iter()
        .enumerate()
        .map(|(i, element)| {
            let result = match element {
                Value::Object(map) if cloudevents_only => {
                    from_json_event(map, ContentMode::Batch, None, limits)
                }
                Value::Array(_) => Err(InputError::NotAnEvent(
                    "a batch element is itself an array; a batch is one flat array of events"
                        .into(),
                )),
                other => event_from_value(other, limits),
            };
            Item::new(location.at_index(i), result)
        })
        .collect()
}

/// One event from a JSON value that is not a batch.
fn event_from_value(value: Value, limits: &Limits) -> Result<Envelope, InputError> {
    let map = match value {
        Value::Object(map) => map,
        other => {
            return Err(InputError::NotAnEvent(format!(
                "the JSON is {}, but an event is a JSON object (a CDEvent or a CloudEvent)",
                kind(&other)
            )))
        }
    };
    let has = |key| crate::checks::member(&map, key).is_some();
    if has("specversion") {
        from_json_event(map, ContentMode::Structured, None, limits)
    } else if has("context") || has("subject") {
        Ok(Envelope {
            mode: ContentMode::Bare,
            ce: None,
            content_type: None,
            cdevent: Value::Object(map),
            raw_data_was_base64: false,
        })
    } else {
        Err(InputError::NotAnEvent(not_an_event_hint(&map)))
    }
}

fn not_an_event_hint(map: &Map<String, Value>) -> String {
    let keys: Vec<&str> = map.keys().take(5).map(String::as_str).collect();
    format!(
        "the object has neither `specversion` (a CloudEvent) nor `context` and `subject` \
         (a CDEvent); its members are [{}]",
        keys.join(", ")
    )
}

/// What kind of JSON value this is, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses JSON text within the depth limit. The caller has checked the size. A UTF-8 byte
/// order mark is skipped.
pub(crate) fn parse_json(bytes: &[u8], limits: &Limits) -> Result<Value, InputError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = utf8(bytes)?;
    if text.trim().is_empty() {
        return Err(InputError::Empty(
            "the input is empty: there is no event to check".into(),
        ));
    }
    // serde_json refuses more than 128 levels by itself; the scan makes the limit ours and
    // keeps the error a clear one.
    let limit = limits.max_depth.min(128);
    if nesting_exceeds(bytes, limit) {
        return Err(InputError::TooDeep { limit });
    }
    serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let mut msg = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(m, _)| m)
            .to_owned();
        if msg.starts_with("trailing characters") {
            msg.push_str(
                " (several events? put one per line in a .ndjson file, or in a JSON array)",
            );
        }
        if msg.starts_with("recursion limit exceeded") {
            InputError::TooDeep { limit }
        } else {
            InputError::NotJson {
                line: e.line(),
                column: e.column(),
                msg,
            }
        }
    })
}

/// The bytes as UTF-8 text, or where the first bad byte is.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, InputError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_column(bytes, e.valid_up_to());
        InputError::NotUtf8 { line, column }
    })
}

/// 1-based line and column (in bytes) of byte offset `pos`.
fn line_column(bytes: &[u8], pos: usize) -> (usize, usize) {
    let before = bytes.get(..pos).unwrap_or(bytes);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, pos - line_start + 1)
}

/// Whether arrays and objects nest deeper than `max` anywhere outside strings. Does not
/// validate: the parser does that.
fn nesting_exceeds(bytes: &[u8], max: usize) -> bool {
    // Depth never exceeds the number of opening brackets; finding them is a fast, vectorized
    // pass (memchr) that stops at the one past `max`, and real events have a handful, so the
    // exact scan below rarely runs.
    if memchr::memchr2_iter(b'{', b'[', bytes).nth(max).is_none() {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}
