//! Recording files: a sink's recording (and the sender's manifest) as JSON lines, so that a
//! run against an externally started sender can be judged again later without that sender
//! (`test sender --replay FILE`).
//!
//! One JSON object per line, each with a `kind`:
//!
//! - `{"kind":"recording","version":1}` first (with `"token_redacted":true` when it was written
//!   with the sender's access token: see [`write_recording`]);
//! - `{"kind":"delivery", ...}` per request, in arrival order: times in microseconds since the
//!   sink started, header values and the body base64-encoded (they are raw bytes, kept exactly);
//! - `{"kind":"manifest","id":…,"source":…}` per manifest entry, when the sender printed one.
//!
//! The file is read as untrusted input: every line is bounded and a bad line is an error that
//! names its number, never a panic.

use std::io::{BufRead, Write};
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::sink::{decode_events, Delivery, ManifestEntry, Recording};
use crate::faults::{Fault, FaultKind};
use crate::input::Limits;

/// The format version written in the first line.
pub const RECORDING_VERSION: u32 = 1;
/// Longest line read back (a capped body, base64-encoded, plus headers).
const MAX_LINE: usize = 16 << 20;

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Line {
    Recording {
        version: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        token_redacted: bool,
    },
    Delivery(Box<RecordedDelivery>),
    Manifest(ManifestEntry),
    /// An OPTIONS validation request of the webhook profile (same fields as a delivery).
    Handshake(Box<RecordedDelivery>),
}

#[derive(Serialize, Deserialize)]
struct RecordedDelivery {
    index: u64,
    connection: u64,
    received_us: u64,
    answered_us: u64,
    method: String,
    path: String,
    /// Name and base64 of the raw value.
    headers: Vec<(String, String)>,
    body_base64: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
    attempt: u32,
    fault: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

/// Why a recording file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// Reading failed.
    #[error("cannot read the recording: {0}")]
    Io(#[from] std::io::Error),
    /// A line is not a recording line.
    #[error("line {line} of the recording: {why}")]
    Line {
        /// 1-based.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Writes a recording and the manifest.
///
/// With `token` (the access token the sender was given), every occurrence of it in a request
/// target, a header value or a body is written as [`REDACTED_TOKEN`], and the file says so:
/// recordings are written beside results that get published, and the token is a secret. A
/// replay judges WH-013 against the placeholder, which stands where the token was and only
/// there, so a delivery without the token, or with another, is still one without it.
pub fn write_recording(
    out: &mut impl Write,
    rec: &Recording,
    manifest: Option<&[ManifestEntry]>,
    token: Option<&str>,
) -> std::io::Result<()> {
    let token = token.filter(|t| !t.is_empty()).map(str::as_bytes);
    let mut line = |l: &Line| -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, l)?;
        out.write_all(b"\n")
    };
    line(&Line::Recording {
        version: RECORDING_VERSION,
        token_redacted: token.is_some() || rec.token_redacted,
    })?;
    for d in &rec.handshakes {
        line(&Line::Handshake(Box::new(recorded(d, token))))?;
    }
    for d in &rec.deliveries {
        line(&Line::Delivery(Box::new(recorded(d, token))))?;
    }
    for m in manifest.unwrap_or_default() {
        line(&Line::Manifest(m.clone()))?;
    }
    out.flush()
}

/// What stands for the sender's access token in a recording written with it.
pub const REDACTED_TOKEN: &str = "REDACTED-ACCESS-TOKEN";

/// `bytes` with every occurrence of `token` replaced by [`REDACTED_TOKEN`], left to right
/// (`find_iter` yields non-overlapping occurrences).
fn without_token<'b>(bytes: &'b [u8], token: Option<&[u8]>) -> std::borrow::Cow<'b, [u8]> {
    let Some(token) = token else {
        return bytes.into();
    };
    let mut found = memchr::memmem::find_iter(bytes, token).peekable();
    if found.peek().is_none() {
        return bytes.into();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut from = 0;
    for at in found {
        out.extend_from_slice(&bytes[from..at]);
        out.extend_from_slice(REDACTED_TOKEN.as_bytes());
        from = at + token.len();
    }
    out.extend_from_slice(&bytes[from..]);
    out.into()
}

/// A request target without the token: replaced as bytes, then, when its query still holds it
/// percent-encoded (`access_token=a%2Fb`), rebuilt from the decoded pairs with it replaced
/// (the rest of the query is then re-encoded, which is the price of not leaking it).
fn path_without_token(path: &str, token: Option<&[u8]>) -> String {
    let plain = String::from_utf8_lossy(&without_token(path.as_bytes(), token)).into_owned();
    let Some(token) = token.and_then(|t| std::str::from_utf8(t).ok()) else {
        return plain;
    };
    let Ok(mut url) = reqwest::Url::parse(&format!("http://sink{plain}")) else {
        return plain;
    };
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if !pairs
        .iter()
        .any(|(k, v)| k.contains(token) || v.contains(token))
    {
        return plain;
    }
    let redact = |s: &str| s.replace(token, REDACTED_TOKEN);
    url.query_pairs_mut()
        .clear()
        .extend_pairs(pairs.iter().map(|(k, v)| (redact(k), redact(v))));
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

fn recorded(d: &Delivery, token: Option<&[u8]>) -> RecordedDelivery {
    RecordedDelivery {
        index: d.index,
        connection: d.connection,
        received_us: micros(d.received),
        answered_us: micros(d.answered),
        method: d.method.clone(),
        path: path_without_token(&d.path, token),
        headers: d
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), b64().encode(without_token(v, token))))
            .collect(),
        body_base64: b64().encode(without_token(&d.body, token)),
        refused: d.refused.clone(),
        attempt: d.attempt,
        fault: d.fault.to_string(),
        status: d.status,
        retry_after: d.retry_after,
    }
}

/// Reads a recording back, decoding every request's events again with `limits`.
pub fn read_recording(
    input: impl BufRead,
    limits: &Limits,
) -> Result<(Recording, Vec<ManifestEntry>), RecordingError> {
    let mut rec = Recording::default();
    let mut manifest = Vec::new();
    let mut seen_header = false;
    let mut input = input.take(u64::MAX);
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        input.set_limit(MAX_LINE as u64 + 1);
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        n += 1;
        let bad = |why: String| RecordingError::Line { line: n, why };
        if buf.len() > MAX_LINE {
            return Err(bad(format!("longer than {MAX_LINE} bytes")));
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line: Line = serde_json::from_slice(&buf).map_err(|e| bad(e.to_string()))?;
        match line {
            Line::Recording {
                version,
                token_redacted,
            } => {
                rec.token_redacted = token_redacted;
                if version != RECORDING_VERSION {
                    return Err(bad(format!(
                        "recording version {version}; this build reads version {RECORDING_VERSION}"
                    )));
                }
                seen_header = true;
            }
            _ if !seen_header => {
                return Err(bad(
                    "not a recording file: it must start with {\"kind\":\"recording\"}".into(),
                ))
            }
            Line::Manifest(m) => manifest.push(m),
            Line::Handshake(r) => {
                let d = delivery_of(*r).map_err(bad)?;
                rec.handshakes.push(d);
            }
            Line::Delivery(r) => {
                let mut d = delivery_of(*r).map_err(bad)?;
                if d.refused.is_none() {
                    decode_events(&mut d, limits);
                }
                rec.deliveries.push(d);
            }
        }
    }
    if !seen_header {
        return Err(RecordingError::Line {
            line: 1,
            why: "the file is empty".into(),
        });
    }
    Ok((rec, manifest))
}

/// A recorded request back as a delivery (not decoded yet).
fn delivery_of(r: RecordedDelivery) -> Result<Delivery, String> {
    let fault = match r.fault.as_str() {
        "none" => Fault::None,
        k => Fault::Inject(k.parse::<FaultKind>().map_err(|e| format!("fault: {e}"))?),
    };
    let mut headers = Vec::with_capacity(r.headers.len());
    for (name, v) in r.headers {
        let v = b64()
            .decode(v.as_bytes())
            .map_err(|e| format!("header {name}: {e}"))?;
        headers.push((name, v));
    }
    let body = b64()
        .decode(r.body_base64.as_bytes())
        .map_err(|e| format!("body: {e}"))?;
    Ok(Delivery {
        index: r.index,
        connection: r.connection,
        received: Duration::from_micros(r.received_us),
        answered: Duration::from_micros(r.answered_us),
        method: r.method,
        path: r.path,
        headers,
        body,
        refused: r.refused,
        events: Vec::new(),
        decode_errors: Vec::new(),
        attempt: r.attempt,
        fault,
        status: r.status,
        retry_after: r.retry_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(body: &[u8], headers: &[(&str, &[u8])]) -> Delivery {
        let mut d = Delivery {
            index: 3,
            connection: 1,
            received: Duration::from_micros(1500),
            answered: Duration::from_micros(2500),
            method: "POST".into(),
            path: "/".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_vec()))
                .collect(),
            body: body.to_vec(),
            refused: None,
            events: Vec::new(),
            decode_errors: Vec::new(),
            attempt: 1,
            fault: Fault::Inject(FaultKind::S503),
            status: Some(503),
            retry_after: None,
        };
        decode_events(&mut d, &Limits::default());
        d
    }

    #[test]
    fn round_trips_raw_bytes_and_the_manifest() {
        let body = br#"{"context":{"id":"1","source":"/s","type":"dev.cdevents.pipelinerun.queued.0.2.0","timestamp":"2024-01-01T00:00:00Z","specversion":"0.4.1"},"subject":{"id":"x","content":{}}}"#;
        let rec = Recording {
            deliveries: vec![delivery(
                body,
                &[
                    ("content-type", b"application/json"),
                    ("ce-id", b"1"),
                    ("ce-source", b"/s"),
                    ("ce-subject", b"caf\xc3\xa9 raw"),
                ],
            )],
            handshakes: vec![delivery(b"", &[("webhook-request-origin", b"o.example")])],
            ..Recording::default()
        };
        let m = vec![ManifestEntry {
            id: "1".into(),
            source: "/s".into(),
            type_: None,
            subject: None,
        }];
        let mut out = Vec::new();
        write_recording(&mut out, &rec, Some(&m), None).unwrap();
        let (back, manifest) = read_recording(&out[..], &Limits::default()).unwrap();
        assert_eq!(manifest, m);
        let (a, b) = (&rec.deliveries[0], &back.deliveries[0]);
        assert_eq!(a.headers, b.headers);
        assert_eq!(a.body, b.body);
        assert_eq!((a.received, a.answered), (b.received, b.answered));
        assert_eq!(
            (a.fault, a.status, a.attempt),
            (b.fault, b.status, b.attempt)
        );
        assert_eq!(a.decode_errors, b.decode_errors);
        assert_eq!(back.handshakes.len(), 1);
        assert_eq!(back.handshakes[0].headers, rec.handshakes[0].headers);
        assert_eq!(a.events.len(), b.events.len());
    }

    #[test]
    fn bad_files_are_errors_with_a_line_number() {
        for (text, line) in [
            ("", 1),
            ("{\"kind\":\"manifest\",\"id\":\"1\",\"source\":\"s\"}\n", 1),
            ("{\"kind\":\"recording\",\"version\":9}\n", 1),
            ("{\"kind\":\"recording\",\"version\":1}\nnot json\n", 2),
            (
                "{\"kind\":\"recording\",\"version\":1}\n{\"kind\":\"delivery\",\"index\":0,\"connection\":0,\"received_us\":0,\"answered_us\":0,\"method\":\"POST\",\"path\":\"/\",\"headers\":[],\"body_base64\":\"!!\",\"attempt\":0,\"fault\":\"none\"}\n",
                2,
            ),
        ] {
            match read_recording(text.as_bytes(), &Limits::default()) {
                Err(RecordingError::Line { line: l, .. }) => assert_eq!(l, line, "{text}"),
                other => panic!("{text}: {:?}", other.map(|_| ())),
            }
        }
    }

    #[test]
    fn a_recording_written_with_the_token_holds_a_placeholder_and_judges_the_same() {
        use super::super::webhook::carries_token;
        let token = "s3cr/et t";
        let with_path = |path: &str, headers: &[(&str, &[u8])], body: &[u8]| {
            let mut d = delivery(body, headers);
            d.path = path.into();
            d
        };
        let rec = Recording {
            deliveries: vec![
                with_path("/", &[("authorization", b"Bearer s3cr/et t")], b"{}"),
                with_path("/?access_token=s3cr%2Fet+t&x=%41", &[], b"{}"),
                with_path("/?access_token=s3cr/et%20t", &[], b"{}"),
                with_path(
                    "/",
                    &[("authorization", b"Bearer other")],
                    b"{\"k\":\"s3cr/et t\"}",
                ),
                with_path("/", &[("authorization", b"Bearer s3cr/et tt")], b"{}"),
                with_path("/", &[], b"{}"),
            ],
            handshakes: vec![delivery(b"", &[("authorization", b"Bearer s3cr/et t")])],
            ..Recording::default()
        };
        let mut out = Vec::new();
        write_recording(&mut out, &rec, None, Some(token)).unwrap();
        let (back, _) = read_recording(&out[..], &Limits::default()).unwrap();
        assert!(back.token_redacted);
        // Nowhere in the file nor in what it reads back as, in any of the encodings sent.
        let text = String::from_utf8(out.clone()).unwrap();
        for form in ["s3cr/et", "s3cr%2Fet", "s3cr%2fet"] {
            assert!(!text.contains(form), "{form} in {text}");
        }
        for d in back.deliveries.iter().chain(&back.handshakes) {
            let all = [d.path.as_bytes(), &d.body]
                .into_iter()
                .chain(d.headers.iter().map(|(_, v)| &v[..]))
                .any(|b| memchr::memmem::find(b, b"s3cr").is_some());
            assert!(!all, "{d:?}");
        }
        // WH-013 judged on the placeholder gives what the token gave on the original.
        let original: Vec<bool> = rec
            .deliveries
            .iter()
            .map(|d| carries_token(d, token))
            .collect();
        let replayed: Vec<bool> = back
            .deliveries
            .iter()
            .map(|d| carries_token(d, REDACTED_TOKEN))
            .collect();
        assert_eq!(original, [true, true, true, false, false, false]);
        assert_eq!(replayed, original);
        // Without a token nothing is changed and the file says nothing of it.
        let mut plain = Vec::new();
        write_recording(&mut plain, &rec, None, None).unwrap();
        let (back, _) = read_recording(&plain[..], &Limits::default()).unwrap();
        assert!(!back.token_redacted);
        assert_eq!(back.deliveries[1].path, rec.deliveries[1].path);
        assert!(!String::from_utf8(plain).unwrap().contains("token_redacted"));
    }
}
