use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::input::CeAttributes;

/// `Content-Type` of structured mode.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";
/// `Content-Type` of batch mode.
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";

/// A CloudEvents HTTP content mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Attributes in `ce-` headers, the CDEvent as the body.
    Binary,
    /// One JSON CloudEvent as the body.
    Structured,
    /// A JSON array of CloudEvents as the body.
    Batch,
}

impl Mode {
    /// The lower-case name used in case ids and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Binary => "binary",
            Mode::Structured => "structured",
            Mode::Batch => "batch",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "binary" => Ok(Mode::Binary),
            "structured" => Ok(Mode::Structured),
            "batch" => Ok(Mode::Batch),
            _ => Err(format!(
                "unknown mode `{s}` (expected binary, structured or batch)"
            )),
        }
    }
}

/// An HTTP request as it will be written: everything a driver sends and a report shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRequest {
    /// `POST`, usually.
    pub method: String,
    /// Headers in order; values already encoded for the wire.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl WireRequest {
    /// The value of a header (first match, case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The CloudEvents attributes the CDEvents binding prescribes for an event: specversion 1.0,
/// id, source and type from the context, subject from `subject.id`, time from the timestamp,
/// and `application/json` data.
pub fn ce_attributes_for(cdevent: &Value) -> CeAttributes {
    let s = |p: &str| {
        cdevent
            .pointer(p)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    CeAttributes {
        specversion: Some("1.0".to_owned()),
        id: s("/context/id"),
        source: s("/context/source"),
        type_: s("/context/type"),
        subject: s("/subject/id"),
        time: s("/context/timestamp"),
        datacontenttype: Some("application/json".to_owned()),
        dataschema: None,
        extensions: Default::default(),
    }
}

/// Percent-encodes a `ce-` header value as the HTTP binding requires: space, `"`, `%` and
/// everything outside printable ASCII (as UTF-8 octets).
pub fn percent_encode_header_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x21..=0x7E).contains(&b) && b != b'"' && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn attribute_pairs(ce: &CeAttributes) -> Vec<(String, Value)> {
    let mut v = Vec::new();
    let mut put = |k: &str, val: &Option<String>| {
        if let Some(x) = val {
            v.push((k.to_owned(), Value::from(x.clone())));
        }
    };
    put("specversion", &ce.specversion);
    put("id", &ce.id);
    put("source", &ce.source);
    put("type", &ce.type_);
    put("subject", &ce.subject);
    put("time", &ce.time);
    put("datacontenttype", &ce.datacontenttype);
    put("dataschema", &ce.dataschema);
    for (k, x) in &ce.extensions {
        v.push((k.clone(), x.clone()));
    }
    v
}

fn envelope(ce: &CeAttributes, data: &Value) -> Value {
    let mut o: Map<String, Value> = attribute_pairs(ce).into_iter().collect();
    o.insert("data".to_owned(), data.clone());
    Value::Object(o)
}

/// Encodes events as one HTTP request. Binary and structured mode take the first event only.
pub fn encode(mode: Mode, events: &[(CeAttributes, Value)]) -> WireRequest {
    let mut headers = Vec::new();
    let body = match (mode, events.first()) {
        (_, None) => Vec::new(),
        (Mode::Binary, Some((ce, data))) => {
            for (k, v) in attribute_pairs(ce) {
                if k == "datacontenttype" {
                    continue;
                }
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                headers.push((format!("ce-{k}"), percent_encode_header_value(&text)));
            }
            let ct = ce
                .datacontenttype
                .clone()
                .unwrap_or_else(|| "application/json".to_owned());
            headers.insert(0, ("content-type".to_owned(), ct));
            serde_json::to_vec(data).unwrap_or_default()
        }
        (Mode::Structured, Some((ce, data))) => {
            headers.push((
                "content-type".to_owned(),
                STRUCTURED_CONTENT_TYPE.to_owned(),
            ));
            serde_json::to_vec(&envelope(ce, data)).unwrap_or_default()
        }
        (Mode::Batch, Some(_)) => {
            headers.push(("content-type".to_owned(), BATCH_CONTENT_TYPE.to_owned()));
            let all: Vec<Value> = events.iter().map(|(ce, d)| envelope(ce, d)).collect();
            serde_json::to_vec(&all).unwrap_or_default()
        }
    };
    WireRequest {
        method: "POST".to_owned(),
        headers,
        body,
    }
}

/// The request as HTTP/1.1 bytes for `authority` and `path`, with `Content-Length`: what the
/// raw client writes and what a capture file holds.
pub fn raw_request(req: &WireRequest, authority: &str, path: &str) -> Vec<u8> {
    let mut out = format!("{} {path} HTTP/1.1\r\nhost: {authority}\r\n", req.method).into_bytes();
    for (k, v) in &req.headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if req.header("content-length").is_none() {
        out.extend_from_slice(format!("content-length: {}\r\n", req.body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&req.body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{decode_http_request, ContentMode, Limits, Location};
    use serde_json::json;

    fn event() -> Value {
        json!({
            "context": {
                "specversion": "0.5.1", "id": "é 1", "source": "/ci/café",
                "type": "dev.cdevents.build.queued.0.2.0", "timestamp": "2024-01-01T00:00:00Z"
            },
            "subject": { "id": "b\"1%", "content": {} }
        })
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode_header_value("a b\"c%d"), "a%20b%22c%25d");
        assert_eq!(percent_encode_header_value("€"), "%E2%82%AC");
        assert_eq!(percent_encode_header_value("/ok-~"), "/ok-~");
    }

    #[test]
    fn every_mode_decodes_back() {
        let ev = event();
        let ce = ce_attributes_for(&ev);
        for (mode, expect) in [
            (Mode::Binary, ContentMode::Binary),
            (Mode::Structured, ContentMode::Structured),
            (Mode::Batch, ContentMode::Batch),
        ] {
            let req = encode(mode, &[(ce.clone(), ev.clone())]);
            let raw = raw_request(&req, "127.0.0.1:1", "/");
            let items = decode_http_request(&raw, Location::file("t"), &Limits::default());
            assert_eq!(items.len(), 1, "{mode}");
            let env = items[0].result.as_ref().unwrap();
            assert_eq!(env.mode, expect);
            assert_eq!(env.cdevent, ev, "{mode}");
            let got = env.ce.as_ref().unwrap();
            assert_eq!(got.id.as_deref(), Some("é 1"), "{mode}");
            assert_eq!(got.subject.as_deref(), Some("b\"1%"), "{mode}");
        }
    }
}
