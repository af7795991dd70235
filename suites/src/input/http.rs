//! CloudEvents over HTTP: request captures, and the structured, batch and binary modes of
//! the HTTP protocol binding.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::Value;

use super::cloudevents::from_json_event;
use super::json::{batch_items, kind, parse_json};
use super::model::{CeAttributes, ContentMode, Envelope, InputError, Item, Limits, Location};

/// Media type of the JSON event format (structured mode).
pub const STRUCTURED_JSON: &str = "application/cloudevents+json";
/// Media type of the JSON batch format (batch mode).
pub const BATCH_JSON: &str = "application/cloudevents-batch+json";

/// Decodes an HTTP request capture: request line, headers, an empty line, the body. Lines
/// may end in CRLF or bare LF. A `Content-Length` must match the body (one line ending after
/// the body is allowed, as editors add one); chunked bodies are refused. The body is then
/// decoded as [`decode_http_body`] does.
pub fn decode_http_request(bytes: &[u8], location: Location, limits: &Limits) -> Vec<Item> {
    match parse_request(bytes, limits) {
        Ok((headers, body)) => decode_http_body(&headers, body, location, limits),
        Err(err) => vec![Item::new(location, Err(err))],
    }
}

/// Decodes the body of an HTTP request given its headers (names in any case, raw values).
/// The media type of `Content-Type` decides the mode: `application/cloudevents+json` is
/// structured ([`decode_structured`]), `application/cloudevents-batch+json` is batch
/// ([`decode_batch`]), any other (or none) is binary ([`decode_binary`]).
pub fn decode_http_body(
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    location: Location,
    limits: &Limits,
) -> Vec<Item> {
    let content_type = match single_header(headers, "content-type") {
        Ok(ct) => ct,
        Err(err) => return vec![Item::new(location, Err(err))],
    };
    let media = content_type.as_deref().map(media_type).unwrap_or_default();
    match media.as_str() {
        BATCH_JSON => decode_batch(body, content_type.as_deref(), location, limits),
        STRUCTURED_JSON => {
            let result = decode_structured(body, content_type.as_deref(), limits);
            vec![Item::new(location, result)]
        }
        m if m.starts_with("application/cloudevents") => {
            let err = InputError::Http(format!(
                "the Content-Type `{m}` names a CloudEvents event format other than JSON; \
                 only {STRUCTURED_JSON} and {BATCH_JSON} are supported"
            ));
            vec![Item::new(location, Err(err))]
        }
        _ => vec![Item::new(location, decode_binary(headers, body, limits))],
    }
}

/// Decodes a structured-mode body: one CloudEvent in the JSON event format.
pub fn decode_structured(
    body: &[u8],
    content_type: Option<&str>,
    limits: &Limits,
) -> Result<Envelope, InputError> {
    if body.len() > limits.max_event_bytes {
        return Err(InputError::TooLarge {
            what: "request body",
            limit: limits.max_event_bytes,
        });
    }
    match parse_json(body, limits)? {
        Value::Object(map) => from_json_event(
            map,
            ContentMode::Structured,
            content_type.map(str::to_owned),
            limits,
        ),
        other => Err(InputError::CloudEvents(format!(
            "a structured-mode body must be a JSON object (one CloudEvent), it is {}",
            kind(&other)
        ))),
    }
}

/// Decodes a batch-mode body: a JSON array of CloudEvents, one item each (with `index`).
pub fn decode_batch(
    body: &[u8],
    content_type: Option<&str>,
    location: Location,
    limits: &Limits,
) -> Vec<Item> {
    let result = if body.len() > limits.max_document_bytes {
        Err(InputError::TooLarge {
            what: "request body",
            limit: limits.max_document_bytes,
        })
    } else {
        parse_json(body, limits)
    };
    let mut items = match result {
        Ok(Value::Array(elements)) => batch_items(elements, location, limits, true),
        Ok(other) => {
            let err = InputError::CloudEvents(format!(
                "a batch-mode body must be a JSON array of CloudEvents, it is {}",
                kind(&other)
            ));
            vec![Item::new(location, Err(err))]
        }
        Err(err) => vec![Item::new(location, Err(err))],
    };
    for item in &mut items {
        if let Ok(env) = &mut item.result {
            env.content_type = content_type.map(str::to_owned);
        }
    }
    items
}

/// Decodes a binary-mode request: the attributes are the `ce-*` headers (names in any case;
/// values unquoted if double-quoted, then percent-decoded, and refused unless UTF-8, as in
/// §3.1.3.2 of the HTTP binding), `Content-Type` is `datacontenttype`, and the body is the
/// CDEvent as JSON.
pub fn decode_binary(
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    limits: &Limits,
) -> Result<Envelope, InputError> {
    if body.len() > limits.max_event_bytes {
        return Err(InputError::TooLarge {
            what: "request body",
            limit: limits.max_event_bytes,
        });
    }
    let mut ce = CeAttributes::default();
    let mut seen = BTreeSet::new();
    for (name, raw) in headers {
        let lower = name.to_ascii_lowercase();
        let Some(attr) = lower.strip_prefix("ce-") else {
            continue;
        };
        if attr.is_empty() {
            return Err(InputError::CloudEvents(
                "a header is named `ce-` alone; it names no attribute".into(),
            ));
        }
        if !seen.insert(attr.to_owned()) {
            return Err(InputError::CloudEvents(format!(
                "the header `{name}` appears more than once; send each attribute once"
            )));
        }
        let value = decode_header_value(name, raw)?;
        // In binary mode `datacontenttype` is the Content-Type header; a stray
        // `ce-datacontenttype` is kept as an extension so that the checks can see it.
        match ce.known_mut(attr).filter(|_| attr != "datacontenttype") {
            Some(slot) => *slot = Some(value),
            None => {
                ce.extensions.insert(attr.to_owned(), Value::String(value));
            }
        }
    }
    let content_type = single_header(headers, "content-type")?;
    ce.datacontenttype.clone_from(&content_type);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(InputError::Empty(
            "the request body is empty; in binary mode the body must be the CDEvent".into(),
        ));
    }
    Ok(Envelope {
        mode: ContentMode::Binary,
        ce: Some(ce),
        content_type,
        cdevent: parse_json(body, limits)?,
        raw_data_was_base64: false,
    })
}

/// Whether the bytes start (after blank lines) with an HTTP request line such as
/// `POST /path HTTP/1.1`.
pub(crate) fn looks_like_http_request(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let rest = &bytes[start..];
    let head = &rest[..rest.len().min(8192)];
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    matches!(parts.as_slice(), [method, target, version]
        if !method.is_empty()
            && method.iter().all(u8::is_ascii_uppercase)
            && !target.is_empty()
            && version.starts_with(b"HTTP/"))
}

type Headers = Vec<(String, Vec<u8>)>;

/// Splits a capture into its headers and its body.
fn parse_request<'b>(bytes: &'b [u8], limits: &Limits) -> Result<(Headers, &'b [u8]), InputError> {
    if bytes.len() > limits.max_document_bytes {
        return Err(InputError::TooLarge {
            what: "HTTP capture",
            limit: limits.max_document_bytes,
        });
    }
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers.clamp(1, 4096)];
    let mut request = httparse::Request::new(&mut slots);
    let head_len = match request.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return Err(InputError::Http(
                "the capture ends inside the request head; end the headers with an empty line \
                 (a capture is a request line, headers, an empty line, the body)"
                    .into(),
            ))
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(InputError::Http(format!(
                "the request has more than {} headers",
                limits.max_headers.clamp(1, 4096)
            )))
        }
        Err(e) => {
            return Err(InputError::Http(format!(
                "malformed request head ({e}); a capture is a request line such as \
                 `POST /path HTTP/1.1`, headers `Name: value`, an empty line, the body"
            )))
        }
    };
    let headers: Headers = request
        .headers
        .iter()
        .map(|h| (h.name.to_owned(), h.value.to_vec()))
        .collect();
    let body = bytes.get(head_len..).unwrap_or_default();
    if let Some(te) = single_header(&headers, "transfer-encoding")? {
        if !te.eq_ignore_ascii_case("identity") {
            return Err(InputError::Http(format!(
                "`Transfer-Encoding: {te}` is not supported in a capture; save the de-chunked \
                 body with a Content-Length"
            )));
        }
    }
    let Some(declared) = content_length(&headers)? else {
        return Ok((headers, body));
    };
    let body = match body.len() {
        n if n == declared => body,
        n if n > declared && matches!(&body[declared..], b"\n" | b"\r\n") => &body[..declared],
        n => {
            return Err(InputError::Http(format!(
                "the body is {n} bytes but `Content-Length` says {declared}; fix the header or \
                 the body"
            )))
        }
    };
    Ok((headers, body))
}

/// The declared body length; several `Content-Length` headers must agree.
fn content_length(headers: &[(String, Vec<u8>)]) -> Result<Option<usize>, InputError> {
    let mut declared = None;
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let text = String::from_utf8_lossy(trim_ows(value));
        let n = text
            .parse::<usize>()
            .ok()
            .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                InputError::Http(format!(
                    "`Content-Length: {text}` is not a number of bytes; write the body's length \
                     or leave the header out"
                ))
            })?;
        if declared.is_some_and(|d| d != n) {
            return Err(InputError::Http(
                "several `Content-Length` headers disagree; keep one".into(),
            ));
        }
        declared = Some(n);
    }
    Ok(declared)
}

/// The value of a header that may appear at most once, trimmed.
fn single_header(headers: &[(String, Vec<u8>)], name: &str) -> Result<Option<String>, InputError> {
    let mut found = None;
    for (n, value) in headers {
        if !n.eq_ignore_ascii_case(name) {
            continue;
        }
        if found.is_some() {
            return Err(InputError::Http(format!(
                "the header `{n}` appears more than once; send it once"
            )));
        }
        let text = std::str::from_utf8(trim_ows(value))
            .map_err(|_| InputError::Http(format!("the header `{n}` is not ASCII text")))?;
        found = Some(text.to_owned());
    }
    Ok(found)
}

/// The media type of a `Content-Type` value: lower case, without parameters.
fn media_type(content_type: &str) -> String {
    let media = content_type.split(';').next().unwrap_or_default();
    media.trim().to_ascii_lowercase()
}

fn trim_ows(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    value.get(start..end).unwrap_or_default()
}

/// A `ce-*` header value as its attribute value (HTTP binding §3.1.3.2).
pub(crate) fn decode_header_value(name: &str, raw: &[u8]) -> Result<String, InputError> {
    let bad = |what: String| InputError::CloudEvents(format!("the header `{name}` {what}"));
    let raw = trim_ows(raw);
    let unquoted: Cow<'_, [u8]> =
        if raw.first() == Some(&b'"') {
            Cow::Owned(unquote(raw).ok_or_else(|| {
                bad("starts with `\"` but is not a well-formed quoted string".into())
            })?)
        } else {
            Cow::Borrowed(raw)
        };
    if let Some(pos) = unquoted.iter().position(|b| !b.is_ascii()) {
        return Err(bad(format!(
            "has a raw non-ASCII byte at position {pos}; the CloudEvents HTTP binding requires \
             such characters to be percent-encoded (é is %C3%A9)"
        )));
    }
    let bytes = percent_decode(&unquoted).map_err(|pos| {
        bad(format!(
            "has an invalid percent-encoding at position {pos}; `%` must be followed by two \
             hex digits (a literal `%` is %25)"
        ))
    })?;
    String::from_utf8(bytes).map_err(|e| {
        bad(format!(
            "percent-decodes to bytes that are not UTF-8 (byte {} of the decoded value); \
             percent-encode the value's UTF-8 bytes",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// The content of an RFC 7230 quoted-string, or `None` when it is not one.
fn unquote(raw: &[u8]) -> Option<Vec<u8>> {
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => out.push(*bytes.next()?),
            b'"' => return None,
            _ => out.push(b),
        }
    }
    Some(out)
}

/// One round of strict percent-decoding; the error is the position of a bad `%`.
fn percent_decode(input: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let hex = |j: usize| input.get(j).and_then(|&c| (c as char).to_digit(16));
        match (hex(i + 1), hex(i + 2)) {
            (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
            _ => return Err(i),
        }
        i += 3;
    }
    Ok(out)
}
