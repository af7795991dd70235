//! The HTTP side of the reference listener.
//!
//! What it answers (http-webhook 2.2, HTTP binding 3): 202 for a valid event (binary,
//! structured or batch mode), 400 for a request that is no valid CloudEvent or carries an
//! invalid CDEvent (MUST findings of the kit's checks), 413 for a body over its limit, 415 for
//! a format it does not understand, 408 when the body does not arrive in time, 405 for methods
//! other than POST and OPTIONS (the webhook validation handshake). It never panics on input.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use cdevents_reports::Level;
use cdevents_schemas::Registry;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{json, Value};

use super::faults::Fault;
use crate::checks::EventChecker;
use crate::input::{
    decode_batch, decode_binary, decode_structured, Envelope, InputError, Limits, Location,
};
use crate::reference::metrics::{self, Metrics};
use crate::reference::problem;
use crate::wire::percent_encode_header_value;

/// How the reference listener behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The rule to break, if any.
    pub fault: Option<Fault>,
    /// The largest body taken (default 1 MiB; at least the 64 KiB CloudEvents asks for).
    pub max_body: usize,
    /// How long a body may take to arrive.
    pub read_timeout: Duration,
    /// Where to forward every accepted request (as received), if anywhere.
    pub forward: Option<String>,
    /// The access token every delivery must carry, as `Authorization: Bearer` or as the
    /// `access_token` query parameter (http-webhook 3); 401 otherwise.
    pub token: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            fault: None,
            max_body: 1 << 20,
            read_timeout: Duration::from_secs(10),
            forward: None,
            token: None,
        }
    }
}

/// A running reference listener; dropping it stops accepting connections.
#[derive(Debug)]
pub struct ListenerHandle {
    task: tokio::task::JoinHandle<()>,
}

impl ListenerHandle {
    /// Serves until the server stops (never, unless it fails).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for ListenerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    cfg: Config,
    registry: Registry,
    seen: Mutex<HashSet<(String, String)>>,
    hung: AtomicBool,
    requests: AtomicU64,
    /// Events taken, for the drop-forwarded fault.
    taken: AtomicU64,
    forward: Option<reqwest::Client>,
    metrics: Metrics,
}

/// What one delivery did to the event counters.
#[derive(Default)]
struct Tally {
    /// The CDEvents taken (counted when the answer is 2xx).
    accepted: Vec<Value>,
    /// The type of the refused event and why it was refused, when an event was judged.
    rejected: Option<(String, String)>,
}

/// Binds `config.listen` and serves in a background task (inside a tokio runtime).
pub async fn spawn_reference_listener(
    config: Config,
) -> std::io::Result<(SocketAddr, ListenerHandle)> {
    let registry = Registry::embedded().map_err(std::io::Error::other)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let forward = config.forward.as_ref().map(|_| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default()
    });
    let shared = Arc::new(Shared {
        cfg: config,
        registry,
        seen: Mutex::new(HashSet::new()),
        hung: AtomicBool::new(false),
        requests: AtomicU64::new(0),
        taken: AtomicU64::new(0),
        forward,
        metrics: Metrics::new(),
    });
    let app = Router::new().fallback(handle).with_state(shared);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, ListenerHandle { task }))
}

/// `GET /metrics` answers the metrics (never counted, never judged as an event endpoint);
/// everything else is a delivery, timed and counted.
async fn handle(State(st): State<Arc<Shared>>, req: Request) -> Response {
    if req.method() == Method::GET && req.uri().path() == metrics::PATH {
        return st.metrics.respond();
    }
    let started = Instant::now();
    let counted = req.method() == Method::POST;
    let mode = metrics::mode_of(req.headers());
    let mut tally = Tally::default();
    let response = deliver(&st, req, &mut tally).await;
    if counted {
        let status = response.status();
        if status.is_success() {
            for ev in &tally.accepted {
                st.metrics.accepted(ev);
            }
        } else {
            let (ty, reason) = tally
                .rejected
                .unwrap_or_else(|| (String::new(), reason_of(status).to_owned()));
            st.metrics.rejected(&ty, &reason);
        }
        st.metrics.request(mode, status.as_u16(), started.elapsed());
    }
    response
}

/// Why a delivery was refused, from its status, when no event was judged.
fn reason_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "malformed",
        408 => "timeout",
        409 => "duplicate",
        413 => "too-large",
        415 => "unsupported-media-type",
        429 => "throttled",
        300..=399 => "redirected",
        500..=599 => "server-error",
        _ => "other",
    }
}

async fn deliver(st: &Shared, req: Request, tally: &mut Tally) -> Response {
    if st.hung.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let fault = st.cfg.fault;
    let (parts, body) = req.into_parts();
    match parts.method {
        Method::POST => {}
        Method::OPTIONS => return handshake(&parts.headers, fault),
        _ => return (StatusCode::METHOD_NOT_ALLOWED, [("allow", "POST, OPTIONS")]).into_response(),
    }
    if let Some(token) = st.cfg.token.as_deref().filter(|t| !t.is_empty()) {
        if !authorized(&parts.headers, parts.uri.query(), token, fault) {
            let mut r = problem(
                StatusCode::UNAUTHORIZED,
                "no valid access token: send Authorization: Bearer or access_token",
            );
            r.headers_mut()
                .insert("www-authenticate", "Bearer".parse().expect("static header"));
            return r;
        }
    }
    let n = st.requests.fetch_add(1, Ordering::SeqCst);
    if n % 5 == 4 && fault == Some(Fault::NoRetryAfter) {
        return StatusCode::TOO_MANY_REQUESTS.into_response();
    }
    let limit = match fault {
        Some(Fault::Reject64k) => 32 << 10,
        _ => st.cfg.max_body,
    };
    let read = tokio::time::timeout(st.cfg.read_timeout, Limited::new(body, limit).collect());
    let bytes = match read.await {
        Err(_) => {
            return problem(
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive in time",
            )
        }
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            let status = match fault {
                Some(Fault::BadRequestOnOversized) => StatusCode::BAD_REQUEST,
                _ => StatusCode::PAYLOAD_TOO_LARGE,
            };
            return problem(status, format!("the body is larger than {limit} bytes"));
        }
        Ok(Err(e)) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}"),
            )
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    let (headers, bent) = header_list(&parts.headers, fault);
    let answer = judge(st, &headers, &bytes, bent, tally);
    if answer.malformed && fault == Some(Fault::HangAfterMalformed) {
        st.hung.store(true, Ordering::SeqCst);
    }
    let forward = match fault {
        _ if answer.status.is_success() => {
            fault != Some(Fault::DropForwarded) || st.taken.fetch_add(1, Ordering::SeqCst) % 3 != 2
        }
        Some(Fault::ForwardRejected) => answer.status.is_client_error(),
        _ => false,
    };
    if forward {
        forward_as_received(st, &parts.headers, &bytes);
    }
    if answer.status.is_success() {
        return match fault {
            Some(Fault::Empty200) => StatusCode::OK.into_response(),
            // A bare `Body` gets no Content-Type from axum.
            Some(Fault::BodyWithoutContentType) => {
                let mut r = Response::new(Body::from("accepted"));
                *r.status_mut() = StatusCode::OK;
                r
            }
            _ => StatusCode::ACCEPTED.into_response(),
        };
    }
    if answer.status == StatusCode::TEMPORARY_REDIRECT {
        let to = parts.uri.path().to_owned();
        return (StatusCode::TEMPORARY_REDIRECT, [("location", to)]).into_response();
    }
    problem(answer.status, answer.detail)
}

/// Whether the request carries `token` as `Authorization: Bearer` or (unless the fault
/// `token-header-only`) as the `access_token` query parameter (http-webhook 3.1, 3.2).
fn authorized(h: &HeaderMap, query: Option<&str>, token: &str, fault: Option<Fault>) -> bool {
    let header = h
        .get_all("authorization")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            let v = v.trim();
            v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") && v[7..].trim() == token
        });
    if header || fault == Some(Fault::TokenHeaderOnly) {
        return header;
    }
    query.unwrap_or_default().split('&').any(|pair| {
        pair.split_once('=').is_some_and(|(k, v)| {
            k == "access_token"
                && percent_decode(v.replace('+', " ").as_bytes())
                    .is_some_and(|d| d == token.as_bytes())
        })
    })
}

/// Passes a request on to `--forward` as it came (bent by the forwarding faults), in the
/// background: the sender's answer does not wait for the next hop.
fn forward_as_received(st: &Shared, headers: &HeaderMap, body: &[u8]) {
    let (Some(client), Some(url)) = (&st.forward, &st.cfg.forward) else {
        return;
    };
    let fault = st.cfg.fault;
    let core = |n: &str| {
        matches!(
            n,
            "ce-specversion"
                | "ce-id"
                | "ce-source"
                | "ce-type"
                | "ce-subject"
                | "ce-time"
                | "ce-dataschema"
        )
    };
    let mut body = body.to_vec();
    let mut rb = client.post(url.as_str());
    for (n, v) in headers {
        let name = n.as_str();
        // The access token is this hop's, not the next one's.
        if name == "host" || name == "content-length" || name == "authorization" {
            continue;
        }
        if fault == Some(Fault::StripExtensions) && name.starts_with("ce-") && !core(name) {
            continue;
        }
        if fault == Some(Fault::AlterForwarded) && name == "ce-time" {
            rb = rb.header(n, "2001-01-01T00:00:00Z");
            continue;
        }
        rb = rb.header(n, v);
    }
    // Structured mode: the same edits on the envelope (a binary-mode body is the CDEvent itself,
    // which these faults leave alone).
    let structured = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/cloudevents")
        });
    if structured && matches!(fault, Some(Fault::StripExtensions | Fault::AlterForwarded)) {
        if let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(&body) {
            if fault == Some(Fault::AlterForwarded) && o.contains_key("time") {
                o.insert("time".into(), Value::from("2001-01-01T00:00:00Z"));
            }
            if fault == Some(Fault::StripExtensions) {
                o.retain(|k, _| {
                    matches!(
                        k.as_str(),
                        "specversion"
                            | "id"
                            | "source"
                            | "type"
                            | "subject"
                            | "time"
                            | "datacontenttype"
                            | "dataschema"
                            | "data"
                            | "data_base64"
                    )
                });
            }
            body = serde_json::to_vec(&Value::Object(o)).unwrap_or(body);
        }
    }
    let rb = rb.body(body);
    tokio::spawn(async move {
        let _ = rb.send().await;
    });
}

/// The webhook validation handshake (http-webhook 4): permission for any origin, at any rate.
fn handshake(h: &HeaderMap, fault: Option<Fault>) -> Response {
    if fault == Some(Fault::Handshake404) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut r = Response::new(Body::empty());
    let hs = r.headers_mut();
    hs.insert("allow", "POST, OPTIONS".parse().expect("static header"));
    if let Some(origin) = h.get("webhook-request-origin") {
        let granted = match fault {
            Some(Fault::HandshakeWrongOrigin) => "origin.invalid".parse().expect("static header"),
            _ => origin.clone(),
        };
        hs.insert("webhook-allowed-origin", granted);
        if fault != Some(Fault::HandshakeNoRate) {
            hs.insert("webhook-allowed-rate", "*".parse().expect("static header"));
        }
    }
    r
}

/// The headers as the decoders take them, bent by the header-level faults.
fn header_list(h: &HeaderMap, fault: Option<Fault>) -> (Vec<(String, Vec<u8>)>, bool) {
    let mut bent = false;
    let list = h
        .iter()
        .map(|(n, v)| {
            let name = n.as_str().to_owned();
            let mut value = v.as_bytes().to_vec();
            if fault == Some(Fault::AcceptBadUtf8) && name.starts_with("ce-") {
                if let Some(decoded) = percent_decode(&value) {
                    if std::str::from_utf8(&decoded).is_err() {
                        let lossy = String::from_utf8_lossy(&decoded).into_owned();
                        value = percent_encode_header_value(&lossy).into_bytes();
                        bent = true;
                    }
                }
            }
            (name, value)
        })
        .collect();
    (list, bent)
}

fn percent_decode(v: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(v.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

struct Answer {
    status: StatusCode,
    detail: String,
    /// Whether the request was no valid CloudEvent at all.
    malformed: bool,
}

impl Answer {
    fn ok() -> Self {
        Answer {
            status: StatusCode::ACCEPTED,
            detail: String::new(),
            malformed: false,
        }
    }
    fn refuse(status: StatusCode, detail: impl Into<String>) -> Self {
        Answer {
            status,
            detail: detail.into(),
            malformed: status == StatusCode::BAD_REQUEST,
        }
    }
}

fn header<'h>(headers: &'h [(String, Vec<u8>)], name: &str) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Whether a media type is JSON (`application/json` or a `+json` suffix).
fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

/// `bent`: a header was decoded lossily (fault `accept-bad-utf8`), so the event is taken unchecked.
fn judge(
    st: &Shared,
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    bent: bool,
    tally: &mut Tally,
) -> Answer {
    let fault = st.cfg.fault;
    let limits = Limits {
        max_event_bytes: st.cfg.max_body,
        max_document_bytes: st.cfg.max_body,
        ..Limits::default()
    };
    let ct_raw = header(headers, "content-type").map(|v| String::from_utf8_lossy(v).into_owned());
    let media_of = |ct: &str| {
        let m = ct.split(';').next().unwrap_or_default().trim().to_owned();
        if fault == Some(Fault::CaseSensitiveMediaType) {
            m
        } else {
            m.to_ascii_lowercase()
        }
    };
    let media = ct_raw.as_deref().map(media_of).unwrap_or_default();
    let has_ce = headers
        .iter()
        .any(|(n, _)| n.to_ascii_lowercase().starts_with("ce-"));
    let unsupported = |what: String| match fault {
        Some(Fault::BadRequestOnUnsupported) => Answer::refuse(StatusCode::BAD_REQUEST, what),
        _ => Answer::refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, what),
    };
    if fault == Some(Fault::StrictPercentDecoding) && has_lower_hex(headers) {
        return Answer::refuse(StatusCode::BAD_REQUEST, "lower-case percent-encoding");
    }
    if fault == Some(Fault::RejectNeedlessPercentEncoding) && has_needless_escape(headers) {
        return Answer::refuse(StatusCode::BAD_REQUEST, "percent-encoded letter or digit");
    }
    if fault == Some(Fault::RejectQuotedHeader)
        && headers
            .iter()
            .any(|(n, v)| n.starts_with("ce-") && v.first() == Some(&b'"'))
    {
        return Answer::refuse(StatusCode::BAD_REQUEST, "quoted header value");
    }
    let decoded: Vec<Result<Envelope, InputError>> = match media.as_str() {
        _ if fault == Some(Fault::IgnoreContentType) && has_ce => {
            vec![decode_binary(headers, body, &limits)]
        }
        crate::input::STRUCTURED_JSON => {
            if fault == Some(Fault::RejectStructured) {
                return unsupported("structured mode is not supported".into());
            }
            if fault == Some(Fault::RejectNullAttribute) && has_null_member(body) {
                return Answer::refuse(StatusCode::BAD_REQUEST, "an attribute is null");
            }
            vec![decode_structured(body, ct_raw.as_deref(), &limits)]
        }
        crate::input::BATCH_JSON => {
            decode_batch(body, ct_raw.as_deref(), Location::file("request"), &limits)
                .into_iter()
                .map(|i| i.result)
                .collect()
        }
        m if m.starts_with("application/cloudevents") => {
            return unsupported(format!(
                "the event format `{m}` is not supported; send application/cloudevents+json"
            ));
        }
        m if has_ce && is_json(m) => vec![decode_binary(headers, body, &limits)],
        "" if has_ce => {
            return Answer::refuse(
                StatusCode::BAD_REQUEST,
                "a binary-mode event needs Content-Type: application/json",
            )
        }
        m if is_json(m) || m.is_empty() => {
            return Answer::refuse(
                StatusCode::BAD_REQUEST,
                "not a CloudEvent: no ce- headers and not application/cloudevents+json",
            )
        }
        m => {
            return unsupported(format!(
                "the media type `{m}` is not supported; send CloudEvents with JSON data"
            ))
        }
    };
    let checker = EventChecker::new(&st.registry);
    for result in decoded {
        let env = match result {
            Ok(env) => env,
            Err(InputError::TooLarge { .. }) => {
                return Answer::refuse(StatusCode::PAYLOAD_TOO_LARGE, "the event is too large")
            }
            Err(InputError::NotJson { .. }) if fault == Some(Fault::AcceptInvalidJson) => {
                return Answer::ok()
            }
            Err(e) => return Answer::refuse(StatusCode::BAD_REQUEST, e.to_string()),
        };
        if bent {
            tally.accepted.push(env.cdevent);
            continue;
        }
        if let Some(a) = judge_event(st, &checker, &env, tally) {
            return a;
        }
        tally.accepted.push(env.cdevent);
    }
    Answer::ok()
}

/// The verdict on one decoded event, or `None` when it is taken.
fn judge_event(
    st: &Shared,
    checker: &EventChecker<'_>,
    env: &Envelope,
    tally: &mut Tally,
) -> Option<Answer> {
    let fault = st.cfg.fault;
    let ce = env.ce.clone().unwrap_or_default();
    let ty = env.cdevent["context"]["type"]
        .as_str()
        .or(ce.type_.as_deref())
        .unwrap_or("")
        .to_owned();
    // The faults' own refusals say which fault; the checks' say the first MUST broken.
    tally.rejected = Some((ty, format!("fault:{}", fault.map_or("", Fault::name))));
    if fault == Some(Fault::RejectCustom)
        && ce
            .type_
            .as_deref()
            .is_some_and(|t| t.starts_with("dev.cdeventsx."))
    {
        return Some(Answer::refuse(
            StatusCode::BAD_REQUEST,
            "custom events are not taken",
        ));
    }
    if fault == Some(Fault::RejectOptionalParts)
        && env.cdevent.get("customData").is_some_and(Value::is_string)
    {
        return Some(Answer::refuse(
            StatusCode::BAD_REQUEST,
            "unexpected optional parts",
        ));
    }
    let checked = checker.check_envelope(env);
    let must: Vec<Value> = checked
        .findings
        .iter()
        .filter(|f| f.level == Level::Must)
        .map(|f| json!({ "id": f.id, "pointer": f.pointer, "message": f.message }))
        .collect();
    if let Some(first) = must.first() {
        if let Some((_, reason)) = tally.rejected.as_mut() {
            *reason = first["id"].as_str().unwrap_or("invalid").to_owned();
        }
        let status = match fault {
            Some(Fault::ServerErrorOnInvalidEvent) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut a = Answer::refuse(status, Value::Array(must).to_string());
        a.malformed = false;
        return Some(a);
    }
    let key = (ce.source.unwrap_or_default(), ce.id.unwrap_or_default());
    let mut seen = st.seen.lock().unwrap_or_else(|p| p.into_inner());
    if seen.len() > 100_000 {
        seen.clear();
    }
    if !seen.insert(key) {
        st.metrics.redelivery();
        match fault {
            Some(Fault::RejectDuplicates) => {
                return Some(Answer::refuse(StatusCode::CONFLICT, "already delivered"))
            }
            Some(Fault::Redirect) => {
                return Some(Answer::refuse(StatusCode::TEMPORARY_REDIRECT, "redirected"))
            }
            _ => {}
        }
    }
    tally.rejected = None;
    None
}

/// Whether some ce- header value has a `%XX` escape whose two characters satisfy `pred`.
fn any_escape(headers: &[(String, Vec<u8>)], pred: impl Fn(&[u8]) -> bool) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n.starts_with("ce-"))
        .any(|(_, v)| v.windows(3).any(|w| w[0] == b'%' && pred(&w[1..])))
}

fn has_lower_hex(headers: &[(String, Vec<u8>)]) -> bool {
    any_escape(headers, |x| {
        x.iter().all(u8::is_ascii_hexdigit) && x.iter().any(u8::is_ascii_lowercase)
    })
}

/// Whether a ce- header value percent-encodes an ASCII letter or digit, which needs no encoding.
fn has_needless_escape(headers: &[(String, Vec<u8>)]) -> bool {
    any_escape(headers, |x| {
        std::str::from_utf8(x)
            .ok()
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .is_some_and(|b| b.is_ascii_alphanumeric())
    })
}

fn has_null_member(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.values().any(Value::is_null)))
        .unwrap_or(false)
}
