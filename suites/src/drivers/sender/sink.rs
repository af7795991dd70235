//! The HTTP sink: hyper 1 directly, so that headers are kept as received and every hostile
//! input is bounded: a header read timeout (slow-loris), a body cap checked while streaming
//! (huge bodies are refused with 413, never buffered), a body read timeout, a connection limit
//! (connections past it are answered 503 and closed).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};

use crate::faults::{event_key, Fault, FaultKind, FaultPlan};
use crate::input::{decode_http_body, Envelope, Item, Limits, Location};

/// How the sink listens and answers.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Which deliveries to answer badly.
    pub plan: FaultPlan,
    /// The seed of the fault schedule.
    pub seed: u64,
    /// Largest body kept; a larger one is answered 413 and its connection closed.
    pub max_body: usize,
    /// Time allowed to send a request head (slow-loris defence); idle keep-alive connections
    /// are closed after it too.
    pub header_timeout: Duration,
    /// Time allowed to send a body.
    pub body_timeout: Duration,
    /// Most connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Decoder limits.
    pub limits: Limits,
    /// Whether every delivery is kept for [`Sink::recording`]. The relay suite turns it off and
    /// reads each delivery through `observer` instead, so that memory stays bounded over a
    /// million events.
    pub retain: bool,
    /// Called with each delivery once it is answered, before it is (or is not) kept.
    pub observer: Option<Observer>,
    /// Most body bytes the recording keeps over the run; past it, requests are answered 503
    /// and recorded without their body, so a sender posting without end cannot exhaust memory.
    pub max_recorded_bytes: usize,
    /// The webhook profile (`--profile webhook`): the sink grants the OPTIONS validation
    /// handshake only to a request naming its origin (`WebHook-Request-Origin`), records every
    /// handshake, and answers 403 to deliveries before one was granted.
    pub webhook: bool,
}

/// A callback that sees every delivery as it is recorded.
#[derive(Clone)]
pub struct Observer(pub Arc<dyn Fn(&Delivery) + Send + Sync>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            plan: FaultPlan::none(),
            seed: 0,
            max_body: 4 << 20,
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            max_connections: 256,
            limits: Limits::default(),
            retain: true,
            observer: None,
            max_recorded_bytes: 256 << 20,
            webhook: false,
        }
    }
}

/// One event of a delivery: its CloudEvents (or, lacking those, CDEvent) source and id, and
/// the decoded envelope.
#[derive(Debug, Clone)]
pub struct EventRef {
    /// `source`.
    pub source: String,
    /// `id`.
    pub id: String,
    /// The decoded event.
    pub envelope: Envelope,
}

/// One request as the sink received and answered it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Position among the run's requests, from 0.
    pub index: u64,
    /// The connection it came on.
    pub connection: u64,
    /// When its head had arrived, since the sink started.
    pub received: Duration,
    /// When the answer was ready (or the connection closed), since the sink started.
    pub answered: Duration,
    /// The method.
    pub method: String,
    /// The request target.
    pub path: String,
    /// Headers in the order received (names lower-cased by the HTTP parser), raw values.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, up to the cap.
    pub body: Vec<u8>,
    /// Why the sink refused the request itself, before any fault (too large, too slow,
    /// undecodable).
    pub refused: Option<String>,
    /// The decoded events (none when refused or undecodable).
    pub events: Vec<EventRef>,
    /// Decoder errors, one per item that failed.
    pub decode_errors: Vec<String>,
    /// How many deliveries of the same event (or batch) came before this one.
    pub attempt: u32,
    /// The fault applied.
    pub fault: Fault,
    /// The status answered; `None` for a reset.
    pub status: Option<u16>,
    /// The `Retry-After` answered, in seconds.
    pub retry_after: Option<u64>,
}

impl Delivery {
    /// Whether the sink acknowledged it (2xx).
    pub fn acknowledged(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }

    /// The first value of a header, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

/// Counters of what never became a delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections answered 503 because the limit was reached.
    pub over_capacity: u64,
    /// Connections that ended in an HTTP error (garbage, timeouts, resets).
    pub connection_errors: u64,
    /// Requests answered 503 because the recording was full (`max_recorded_bytes`).
    pub recording_full: u64,
}

/// One line of a sender's manifest (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// CloudEvents and CDEvents id.
    pub id: String,
    /// CloudEvents and CDEvents source.
    pub source: String,
    /// CDEvents type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// `subject.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl ManifestEntry {
    /// Reads one manifest line; `None` for lines that are not manifest entries.
    pub fn parse_line(line: &str) -> Option<Self> {
        let line = line.trim();
        if !line.starts_with('{') {
            return None;
        }
        serde_json::from_str(line).ok()
    }
}

/// Everything the sink saw.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// Every request, in arrival order.
    pub deliveries: Vec<Delivery>,
    /// What never became a delivery.
    pub stats: SinkStats,
    /// The OPTIONS validation requests of the webhook profile, in arrival order (status 200;
    /// `refused` says why one was not granted).
    pub handshakes: Vec<Delivery>,
    /// Read back from a recording written with the sender's access token: every occurrence of
    /// it in the request targets, header values and bodies is [`REDACTED_TOKEN`] instead.
    ///
    /// [`REDACTED_TOKEN`]: super::REDACTED_TOKEN
    pub token_redacted: bool,
}

#[derive(Default)]
struct State {
    deliveries: Vec<Delivery>,
    attempts: HashMap<u64, u32>,
    /// Event keys seen, for [`Sink::distinct_events`] without walking the deliveries.
    seen: std::collections::HashSet<u64>,
    /// Requests recorded (kept or not).
    requests: u64,
    stats: SinkStats,
    recorded_bytes: usize,
    handshakes: Vec<Delivery>,
    /// Whether a handshake was granted (webhook profile).
    granted: bool,
}

struct Shared {
    config: SinkConfig,
    started: Instant,
    state: Mutex<State>,
    notify: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere must not hide what was recorded.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running sink. Dropping it stops it.
pub struct Sink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by the fault plan")
    }
}

impl std::error::Error for ResetConnection {}

/// Where a `redirect` fault points (relative to the sink): no sender is ever given this path,
/// so a request for it followed a redirect (WH-005).
pub const REDIRECT_PATH: &str = "/cdevents-conformance/redirected";

/// How a delivery refused in the webhook profile, before any granted handshake, starts its
/// `refused` note (WH-016 judges it, not WH-003).
pub(crate) const NOT_VALIDATED: &str =
    "no validation handshake (OPTIONS with WebHook-Request-Origin) was granted before it";

/// The origin a validation request names, if any.
pub(crate) fn request_origin(d: &Delivery) -> Option<String> {
    d.header("webhook-request-origin")
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
}

/// The webhook profile's answer to an OPTIONS request: granted (echoing the origin) when it
/// names one, otherwise answered without consent. Every one is recorded.
fn handshake(sh: &Shared, mut d: Delivery) -> Response<Full<Bytes>> {
    let origin = request_origin(&d);
    d.status = Some(200);
    d.answered = sh.started.elapsed();
    let mut extra = vec![("allow", "POST, OPTIONS".to_owned())];
    match &origin {
        Some(o) => {
            extra.push(("webhook-allowed-origin", o.clone()));
            extra.push(("webhook-allowed-rate", "*".to_owned()));
        }
        None => d.refused = Some("no WebHook-Request-Origin: not granted".to_owned()),
    }
    let mut st = sh.lock();
    st.granted |= origin.is_some();
    // Bounded: a sender sending OPTIONS without end keeps only the first ones.
    if st.handshakes.len() < 1024 {
        st.handshakes.push(d);
    }
    drop(st);
    response(200, &extra)
}

/// How a request refused because the recording is full starts its `refused` note: the kit's
/// own limit, not the sender's fault (the judge skips such requests).
pub(crate) const RECORDING_FULL: &str = "the sink's recording is full";

const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

impl Sink {
    /// Binds and starts serving.
    pub async fn start(config: SinkConfig) -> std::io::Result<Sink> {
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let limit = Arc::new(Semaphore::new(config.max_connections.max(1)));
        let shared = Arc::new(Shared {
            config,
            started: Instant::now(),
            state: Mutex::new(State::default()),
            notify: Notify::new(),
        });
        let sh = shared.clone();
        let task = tokio::spawn(async move {
            let mut conn_no = 0u64;
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    // Out of descriptors, most likely: wait rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                conn_no += 1;
                sh.lock().stats.connections += 1;
                let Ok(permit) = limit.clone().try_acquire_owned() else {
                    sh.lock().stats.over_capacity += 1;
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(Duration::from_secs(1), async {
                            let _ = stream.write_all(OVER_CAPACITY).await;
                            let _ = stream.shutdown().await;
                        })
                        .await;
                    });
                    continue;
                };
                let sh2 = sh.clone();
                let conn = conn_no;
                tokio::spawn(async move {
                    let _permit = permit;
                    let svc = service_fn(|req| handle(sh2.clone(), conn, req));
                    let result = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(sh2.config.header_timeout)
                        .max_buf_size(64 * 1024)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                    if result.is_err() {
                        sh2.lock().stats.connection_errors += 1;
                    }
                });
            }
        });
        Ok(Sink { addr, shared, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL senders deliver to.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// How many distinct events (source and id) arrived so far.
    pub fn distinct_events(&self) -> usize {
        self.shared.lock().seen.len()
    }

    /// How many requests were recorded so far (kept or not).
    pub fn requests(&self) -> u64 {
        self.shared.lock().requests
    }

    /// Waits until `n` distinct events arrived or `timeout` passed; returns whether they did.
    pub async fn wait_for_events(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.notify.notified();
            if self.distinct_events() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.distinct_events() >= n;
            }
        }
    }

    /// What was recorded so far.
    pub fn recording(&self) -> Recording {
        let st = self.shared.lock();
        let mut deliveries = st.deliveries.clone();
        deliveries.sort_by_key(|d| d.index);
        Recording {
            deliveries,
            stats: st.stats.clone(),
            handshakes: st.handshakes.clone(),
            token_redacted: false,
        }
    }

    /// Stops serving and returns the recording.
    pub fn stop(self) -> Recording {
        self.task.abort();
        // Moved out, not copied as `recording` must: a copy of every decoded delivery was a
        // measurable part of the sender bench's time.
        let mut st = self.shared.lock();
        let mut deliveries = std::mem::take(&mut st.deliveries);
        deliveries.sort_by_key(|d| d.index);
        Recording {
            deliveries,
            stats: st.stats.clone(),
            handshakes: std::mem::take(&mut st.handshakes),
            token_redacted: false,
        }
    }
}

type Answer = Result<Response<Full<Bytes>>, ResetConnection>;

fn response(status: u16, extra: &[(&str, String)]) -> Response<Full<Bytes>> {
    let mut b = Response::builder().status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    for (k, v) in extra {
        b = b.header(*k, v.as_str());
    }
    b.body(Full::new(Bytes::new()))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

enum BodyError {
    TooLarge,
    Timeout,
    Broken(String),
}

async fn read_body(body: Incoming, cap: usize, timeout: Duration) -> Result<Vec<u8>, BodyError> {
    let mut body = body;
    let mut buf = Vec::new();
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Broken(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > cap {
                    return Err(BodyError::TooLarge);
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(())) => Ok(buf),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(BodyError::Timeout),
    }
}

fn event_ref(env: Envelope) -> EventRef {
    let pick = |ce: Option<&String>, ptr: &str| {
        ce.cloned()
            .or_else(|| {
                env.cdevent
                    .pointer(ptr)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default()
    };
    let source = pick(
        env.ce.as_ref().and_then(|c| c.source.as_ref()),
        "/context/source",
    );
    let id = pick(env.ce.as_ref().and_then(|c| c.id.as_ref()), "/context/id");
    EventRef {
        source,
        id,
        envelope: env,
    }
}

async fn handle(sh: Arc<Shared>, connection: u64, req: Request<Incoming>) -> Answer {
    let received = sh.started.elapsed();
    let (parts, body) = req.into_parts();
    let headers: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let mut d = Delivery {
        index: 0,
        connection,
        received,
        answered: received,
        method: parts.method.as_str().to_owned(),
        path: parts.uri.to_string(),
        headers,
        body: Vec::new(),
        refused: None,
        events: Vec::new(),
        decode_errors: Vec::new(),
        attempt: 0,
        fault: Fault::None,
        status: None,
        retry_after: None,
    };
    let cfg = &sh.config;
    if parts.method == http::Method::OPTIONS && cfg.webhook {
        return Ok(handshake(&sh, d));
    }
    // The WebHook validation handshake is not a delivery: grant it and record nothing.
    if parts.method == http::Method::OPTIONS {
        return Ok(response(
            200,
            &[
                ("allow", "POST, OPTIONS".to_owned()),
                ("webhook-allowed-origin", "*".to_owned()),
            ],
        ));
    }
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let full = {
        let mut st = sh.lock();
        let full = st.recorded_bytes >= cfg.max_recorded_bytes;
        st.stats.recording_full += u64::from(full);
        full
    };
    let (status, retry_after) = if full {
        d.refused = Some(format!(
            "{RECORDING_FULL} ({} body bytes kept); not read",
            cfg.max_recorded_bytes
        ));
        (503, Some(1))
    } else if cfg.webhook && !sh.lock().granted {
        d.refused = Some(format!("{NOT_VALIDATED}; not read"));
        (403, None)
    } else if declared.is_some_and(|n| n > cfg.max_body as u64) {
        d.refused = Some(format!(
            "Content-Length {} exceeds the sink's cap of {} bytes",
            declared.unwrap_or(0),
            cfg.max_body
        ));
        (413, None)
    } else {
        match read_body(body, cfg.max_body, cfg.body_timeout).await {
            Err(BodyError::TooLarge) => {
                d.refused = Some(format!(
                    "body exceeds the sink's cap of {} bytes",
                    cfg.max_body
                ));
                (413, None)
            }
            Err(BodyError::Timeout) => {
                d.refused = Some(format!(
                    "body not received within {}",
                    humantime::format_duration(cfg.body_timeout)
                ));
                (408, None)
            }
            Err(BodyError::Broken(e)) => {
                d.refused = Some(format!("body could not be read: {e}"));
                (400, None)
            }
            Ok(bytes) => {
                d.body = bytes;
                return apply(&sh, d).await;
            }
        }
    };
    d.status = Some(status);
    d.retry_after = retry_after;
    d.answered = sh.started.elapsed();
    record(&sh, d);
    let extra: Vec<(&str, String)> = retry_after
        .map(|s| ("retry-after", s.to_string()))
        .into_iter()
        .collect();
    let mut r = response(status, &extra);
    // Past the cap the rest of the body is not read: the connection cannot be reused.
    r.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    Ok(r)
}

/// Decodes the events of a recorded request (as the sink does when it arrives, and a replay
/// does from a recording file).
pub(super) fn decode_events(d: &mut Delivery, limits: &Limits) {
    let items: Vec<Item> = decode_http_body(&d.headers, &d.body, Location::file("request"), limits);
    for item in items {
        match item.result {
            Ok(env) => d.events.push(event_ref(env)),
            Err(e) => d.decode_errors.push(format!("{}: {e}", item.location)),
        }
    }
}

async fn apply(sh: &Arc<Shared>, mut d: Delivery) -> Answer {
    let cfg = &sh.config;
    decode_events(&mut d, &cfg.limits);
    if d.events.is_empty() {
        // Nothing to fault: the request itself is bad.
        d.status = Some(400);
        d.answered = sh.started.elapsed();
        record(sh, d);
        return Ok(response(400, &[]));
    }
    let key = d.events.iter().fold(0u64, |acc, e| {
        acc.rotate_left(5) ^ event_key(&e.source, &e.id)
    });
    {
        let mut st = sh.lock();
        let n = st.attempts.entry(key).or_insert(0);
        d.attempt = *n;
        *n += 1;
    }
    d.fault = cfg.plan.decide(cfg.seed, key, d.attempt);
    let answer = match d.fault {
        Fault::None => {
            d.status = Some(204);
            Ok(response(204, &[]))
        }
        Fault::Inject(FaultKind::Reset) => Err(ResetConnection),
        Fault::Inject(FaultKind::S429) => {
            d.status = Some(429);
            d.retry_after = Some(cfg.plan.retry_after_secs);
            Ok(response(
                429,
                &[("retry-after", cfg.plan.retry_after_secs.to_string())],
            ))
        }
        Fault::Inject(FaultKind::Redirect) => {
            d.status = Some(307);
            Ok(response(307, &[("location", REDIRECT_PATH.to_owned())]))
        }
        Fault::Inject(FaultKind::Delay) => {
            tokio::time::sleep(cfg.plan.delay).await;
            d.status = Some(503);
            Ok(response(503, &[]))
        }
        Fault::Inject(k) => {
            let s = k.status().unwrap_or(503);
            d.status = Some(s);
            Ok(response(s, &[]))
        }
    };
    d.answered = sh.started.elapsed();
    record(sh, d);
    answer
}

fn record(sh: &Shared, mut d: Delivery) {
    {
        let mut st = sh.lock();
        d.index = st.requests;
        st.requests += 1;
        for e in &d.events {
            st.seen.insert(event_key(&e.source, &e.id));
        }
    }
    // Outside the lock: the observer may be slow, and other connections must not wait on it.
    if let Some(Observer(observe)) = &sh.config.observer {
        observe(&d);
    }
    if sh.config.retain {
        let mut st = sh.lock();
        st.recorded_bytes = st.recorded_bytes.saturating_add(d.body.len());
        st.deliveries.push(d);
    }
    sh.notify.notify_waiters();
}
