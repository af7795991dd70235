//! The reference relay: a store-and-forward CDEvents intermediary over HTTP, and its broken
//! variants ([`RelayFault`], one promise broken each).
//!
//! It acknowledges an event (202) once it is queued, and forwards it downstream from a queue
//! per subject (source and subject), one event of a subject at a time, so that each subject's
//! order is kept. A failed forward (5xx, 408, 429, a timeout, a broken connection) is retried
//! after an exponential backoff, or the `Retry-After` downstream named (capped); a permanent
//! refusal (any other 4xx) is **dead-lettered** at once, as is an event still failing after
//! the last attempt. `GET /dead-letters` lists them as JSON, one
//! [`DeadLetter`](crate::drivers::relay::DeadLetter) each. When its queue is full it answers
//! 503 with `Retry-After` and acknowledges nothing. Its queue is in memory: it claims
//! exactly-once and per-subject order for its own lifetime, not durability across restarts,
//! unless it runs with a state directory ([`Config::state_dir`], see [`journal`]): then each
//! event is on disk before it is acknowledged, and what was owed is forwarded after a restart
//! (at-least-once across restarts: an event delivered just before the kill, not yet marked
//! done, goes out again).
//!
//! With [`RelayOrdering::Total`] it has one queue for all events, forwarded one at a time in
//! the order it acknowledged them: it then claims total order. With a forward mode
//! ([`Config::forward_mode`]) it re-encodes every event in that mode, carrying the data's type
//! across (`Content-Type` ↔ `datacontenttype`) and setting the implied `application/json`
//! explicitly on an event that came without one in the other mode.

mod faults;
mod journal;

pub use faults::{RelayFault, UnknownRelayFault};

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::drivers::relay::carried::percent_decode_lenient;
use crate::drivers::relay::stream::encode_event;
use crate::drivers::relay::DeadLetter;
use crate::input::{decode_http_body, ContentMode, Envelope, Limits, Location};
use crate::reference::metrics::{self, Metrics};
use crate::reference::problem;
use crate::wire::Mode;

/// The order the reference relay forwards in, and claims.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RelayOrdering {
    /// One queue per subject (source and subject): a subject's events in order, subjects
    /// forwarded side by side.
    #[default]
    PerSubject,
    /// One queue: every event in the order acknowledged, one forward at a time.
    Total,
}

impl fmt::Display for RelayOrdering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RelayOrdering::PerSubject => "per-subject",
            RelayOrdering::Total => "total",
        })
    }
}

impl FromStr for RelayOrdering {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "per-subject" => Ok(RelayOrdering::PerSubject),
            "total" => Ok(RelayOrdering::Total),
            _ => Err(format!(
                "unknown ordering `{s}` (expected per-subject or total)"
            )),
        }
    }
}

/// The command-line options that set `ordering` and `forward_mode` (empty for the defaults).
pub fn options(ordering: RelayOrdering, forward_mode: Option<Mode>) -> String {
    let mut v = Vec::new();
    if ordering != RelayOrdering::PerSubject {
        v.push(format!("--ordering {ordering}"));
    }
    if let Some(m) = forward_mode {
        v.push(format!("--forward-mode {m}"));
    }
    v.join(" ")
}

/// Bodies over this are refused by [`RelayFault::RefuseLarge`].
const REFUSE_LARGE_OVER: usize = 32 * 1024;

/// How the reference relay runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where to forward.
    pub forward: String,
    /// The promise to break, if any.
    pub fault: Option<RelayFault>,
    /// Largest body taken.
    pub max_body: usize,
    /// Time allowed for one forward.
    pub timeout: Duration,
    /// Most forwards of one event.
    pub max_attempts: u32,
    /// The first backoff; it doubles with each attempt up to `max_backoff`.
    pub base_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
    /// Most events queued; past it the relay answers 503.
    pub queue_limit: usize,
    /// Most forwards in flight at once.
    pub max_in_flight: usize,
    /// One queue per subject, or one for all.
    pub ordering: RelayOrdering,
    /// The mode every event is forwarded in; `None`: as received (a batch's events go on
    /// one by one in binary mode).
    pub forward_mode: Option<Mode>,
    /// Where the durable mode keeps its journal; `None`: in memory only.
    pub state_dir: Option<PathBuf>,
    /// Most bytes the journal holds; past it the relay answers 503.
    pub journal_limit: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            forward: String::new(),
            fault: None,
            max_body: 1 << 20,
            timeout: Duration::from_secs(1),
            max_attempts: 10,
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(5),
            queue_limit: 100_000,
            max_in_flight: 64,
            ordering: RelayOrdering::PerSubject,
            forward_mode: None,
            state_dir: None,
            journal_limit: 256 << 20,
        }
    }
}

/// Most dead letters kept.
const MAX_DEAD_LETTERS: usize = 100_000;

struct Job {
    n: u64,
    /// Its subject (source and subject), whatever queue it is in.
    subject: String,
    id: String,
    source: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

#[derive(Default)]
struct Queues {
    by_subject: HashMap<String, VecDeque<Job>>,
    queued: usize,
    accepted: u64,
    dead: Vec<DeadLetter>,
}

struct Shared {
    cfg: Config,
    client: reqwest::Client,
    queues: Mutex<Queues>,
    in_flight: Semaphore,
    metrics: Metrics,
    journal: Option<Mutex<journal::Journal>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The journal, locked (always before the queues, never after).
    fn journal(&self) -> Option<std::sync::MutexGuard<'_, journal::Journal>> {
        self.journal
            .as_ref()
            .map(|j| j.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The relay is done with `job` (delivered, dead-lettered or dropped): journal it, take it
    /// off its subject's queue; whether the queue is now empty.
    fn finished(&self, key: &str, n: u64) -> bool {
        let mut journal = self.journal();
        if let Some(j) = journal.as_mut() {
            j.finished(n);
        }
        let mut q = self.lock();
        q.queued = q.queued.saturating_sub(1);
        let empty = match q.by_subject.get_mut(key) {
            Some(queue) => {
                queue.pop_front();
                queue.is_empty()
            }
            None => true,
        };
        if empty {
            q.by_subject.remove(key);
        }
        if let Some(j) = journal.as_mut() {
            j.compact_if_idle(q.queued);
        }
        empty
    }
}

/// A running reference relay; dropping it stops it.
pub struct RelayHandle {
    task: tokio::task::JoinHandle<()>,
}

impl RelayHandle {
    /// Serves until the server stops (never, unless it fails).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `config.listen` and serves in a background task (inside a tokio runtime).
pub async fn spawn_reference_relay(config: Config) -> std::io::Result<(SocketAddr, RelayHandle)> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(std::io::Error::other)?;
    let mut queues = Queues::default();
    let journal = match &config.state_dir {
        Some(dir) => {
            let (j, owed, dead) = journal::Journal::open(dir, config.journal_limit)?;
            queues.dead = dead;
            queues.dead.truncate(MAX_DEAD_LETTERS);
            for (key, job) in owed {
                queues.accepted = queues.accepted.max(job.n + 1);
                queues.queued += 1;
                queues.by_subject.entry(key).or_default().push_back(job);
            }
            Some(Mutex::new(j))
        }
        None => None,
    };
    let owed: Vec<String> = queues.by_subject.keys().cloned().collect();
    let shared = Arc::new(Shared {
        in_flight: Semaphore::new(config.max_in_flight.max(1)),
        cfg: config,
        client,
        queues: Mutex::new(queues),
        metrics: Metrics::new(),
        journal,
    });
    for key in owed {
        tokio::spawn(drain_subject(shared.clone(), key));
    }
    let app = Router::new().fallback(handle).with_state(shared);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, RelayHandle { task }))
}

async fn handle(State(st): State<Arc<Shared>>, req: Request) -> Response {
    let started = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    match (&parts.method, parts.uri.path()) {
        (&Method::GET, metrics::PATH) => {
            return st.metrics.respond();
        }
        (&Method::GET, "/dead-letters") => {
            let dead = serde_json::to_string(&st.lock().dead).unwrap_or_else(|_| "[]".into());
            return (StatusCode::OK, [("content-type", "application/json")], dead).into_response();
        }
        (&Method::OPTIONS, _) => {
            return (
                StatusCode::OK,
                [("allow", "POST, OPTIONS"), ("webhook-allowed-origin", "*")],
            )
                .into_response()
        }
        (&Method::POST, _) => {}
        _ => return (StatusCode::METHOD_NOT_ALLOWED, [("allow", "POST, OPTIONS")]).into_response(),
    }
    let mode = metrics::mode_of(&parts.headers);
    let answer = take(&st, parts, body).await;
    st.metrics
        .request(mode, answer.status().as_u16(), started.elapsed());
    answer
}

/// Takes one POSTed delivery: decodes it, queues its events per subject, answers.
async fn take(st: &Arc<Shared>, parts: http::request::Parts, body: Body) -> Response {
    let bytes = match tokio::time::timeout(
        Duration::from_secs(10),
        Limited::new(body, st.cfg.max_body).collect(),
    )
    .await
    {
        Err(_) => {
            return problem(
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive in time",
            )
        }
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return problem(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large")
        }
        Ok(Err(e)) => return problem(StatusCode::BAD_REQUEST, format!("cannot read: {e}")),
        Ok(Ok(c)) => c.to_bytes(),
    };
    if st.cfg.fault == Some(RelayFault::RefuseLarge) && bytes.len() > REFUSE_LARGE_OVER {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the fault refuse-large takes no body over {REFUSE_LARGE_OVER} bytes"),
        );
    }
    let headers: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let items = decode_http_body(
        &headers,
        &bytes,
        Location::file("request"),
        &Limits::default(),
    );
    let mut envelopes = Vec::new();
    for it in items {
        match it.result {
            Ok(e) => envelopes.push(e),
            Err(e) => {
                st.metrics.rejected("", "undecodable");
                return problem(StatusCode::BAD_REQUEST, e.to_string());
            }
        }
    }
    if envelopes.is_empty() {
        return problem(StatusCode::BAD_REQUEST, "no event in the request");
    }
    let single = envelopes.len() == 1;
    let fault = st.cfg.fault;
    let mut jobs = Vec::new();
    let mut taken = Vec::with_capacity(envelopes.len());
    for env in envelopes {
        taken.push(env.cdevent.clone());
        let (id, source, subject) = identity(&env);
        // interleave-subjects breaks a total-order promise, so it always makes one.
        let total = st.cfg.ordering == RelayOrdering::Total
            || fault == Some(RelayFault::InterleaveSubjects);
        let key = if total {
            String::new()
        } else {
            subject.clone()
        };
        // Forwarded as received, unless a fault changes it, it came in a batch (then each
        // event goes on alone, in binary mode) or it goes on in another mode.
        let target = match (st.cfg.forward_mode, env.mode) {
            (Some(m), _) => m,
            (None, ContentMode::Structured) => Mode::Structured,
            (None, _) => Mode::Binary,
        };
        let received = match env.mode {
            ContentMode::Structured => Some(Mode::Structured),
            ContentMode::Binary => Some(Mode::Binary),
            _ => None,
        };
        let rewrite = !single
            || received != Some(target)
            || matches!(
                fault,
                Some(
                    RelayFault::MutateField
                        | RelayFault::StripExtensions
                        | RelayFault::DoubleDecode
                        | RelayFault::DropDataContentType
                        | RelayFault::NoImpliedDataContentType
                )
            );
        let (hdrs, body) = if rewrite {
            let req = rewritten(env, fault, target);
            (req.headers, Bytes::from(req.body))
        } else {
            let hdrs = parts
                .headers
                .iter()
                .filter(|(n, _)| !matches!(n.as_str(), "host" | "content-length" | "connection"))
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            (hdrs, bytes.clone())
        };
        jobs.push((
            key,
            Job {
                n: 0,
                subject,
                id,
                source,
                headers: hdrs,
                body,
            },
        ));
    }
    let mut spawn = Vec::new();
    {
        let busy = || (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")]).into_response();
        // The journal's lock first, held until the events are queued, so that it is not
        // emptied between the two.
        let mut journal = st.journal();
        if journal.as_ref().is_some_and(|j| j.full()) {
            return busy();
        }
        let mut q = st.lock();
        if q.queued + jobs.len() > st.cfg.queue_limit {
            return busy();
        }
        let mut kept = Vec::with_capacity(jobs.len());
        for (key, mut job) in jobs {
            job.n = q.accepted;
            q.accepted += 1;
            if fault == Some(RelayFault::DropEvery10th) && job.n % 10 == 9 {
                continue;
            }
            kept.push((key, job));
        }
        // The fault acknowledges from memory: what was queued dies with the process.
        if let Some(j) = journal
            .as_mut()
            .filter(|_| fault != Some(RelayFault::AckBeforeDurableForward))
        {
            drop(q);
            if let Err(e) = j.append(&kept) {
                return problem(
                    StatusCode::INSUFFICIENT_STORAGE,
                    format!("cannot journal the events: {e}"),
                );
            }
            q = st.lock();
        }
        for (key, job) in kept {
            q.queued += 1;
            let queue = q.by_subject.entry(key.clone()).or_default();
            queue.push_back(job);
            if queue.len() == 1 {
                spawn.push(key);
            }
        }
    }
    for key in spawn {
        tokio::spawn(drain_subject(st.clone(), key));
    }
    for cdevent in &taken {
        st.metrics.accepted(cdevent);
    }
    StatusCode::ACCEPTED.into_response()
}

/// `(id, source, subject key)`: the key is source and subject, so one subject's events go out
/// in the order they came in.
fn identity(env: &Envelope) -> (String, String, String) {
    let s = |ce: Option<&String>, ptr: &str| {
        ce.cloned()
            .or_else(|| {
                env.cdevent
                    .pointer(ptr)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default()
    };
    let ce = env.ce.as_ref();
    let id = s(ce.and_then(|c| c.id.as_ref()), "/context/id");
    let source = s(ce.and_then(|c| c.source.as_ref()), "/context/source");
    let subject = s(ce.and_then(|c| c.subject.as_ref()), "/subject/id");
    let key = format!("{source}\u{0}{subject}");
    (id, source, key)
}

/// The event re-encoded in `target`, broken by `fault` if it is one that changes the event.
fn rewritten(env: Envelope, fault: Option<RelayFault>, target: Mode) -> crate::wire::WireRequest {
    let mut data = env.cdevent;
    let came_binary = env.mode == ContentMode::Binary;
    let mut ce = env
        .ce
        .unwrap_or_else(|| crate::wire::ce_attributes_for(&data));
    // Binary mode carries the data's type in Content-Type, the JSON format in the attribute:
    // moving between them, an absent type becomes the implied one, explicitly (REL-010).
    if came_binary != (target == Mode::Binary)
        && ce.datacontenttype.is_none()
        && fault != Some(RelayFault::NoImpliedDataContentType)
    {
        ce.datacontenttype = Some("application/json".to_owned());
    }
    match fault {
        Some(RelayFault::StripExtensions) => ce.extensions.clear(),
        Some(RelayFault::DropDataContentType) => ce.datacontenttype = None,
        Some(RelayFault::DoubleDecode) if came_binary => {
            for v in ce.extensions.values_mut() {
                if let Some(s) = v.as_str() {
                    *v = Value::String(percent_decode_lenient(s));
                }
            }
        }
        Some(RelayFault::MutateField) => {
            let n = crate::faults::event_key(
                ce.source.as_deref().unwrap_or(""),
                ce.id.as_deref().unwrap_or(""),
            );
            if n % 10 == 0 {
                data["context"]["timestamp"] = json!("2000-01-01T00:00:00Z");
            }
        }
        _ => {}
    }
    encode_event(target, ce, data)
}

async fn drain_subject(st: Arc<Shared>, key: String) {
    loop {
        // The job stays at the head of its queue while it is forwarded, so that the next
        // event of the subject waits for it.
        let (job, held) = {
            let q = st.lock();
            let Some(queue) = q.by_subject.get(&key) else {
                return;
            };
            let Some(job) = queue.front() else {
                return;
            };
            let held = match st.cfg.fault {
                Some(RelayFault::Reorder) => job.n % 7 == 0,
                Some(RelayFault::InterleaveSubjects) => job.n % 7 == 3,
                _ => false,
            };
            (
                Job {
                    n: job.n,
                    subject: job.subject.clone(),
                    id: job.id.clone(),
                    source: job.source.clone(),
                    headers: job.headers.clone(),
                    body: job.body.clone(),
                },
                held,
            )
        };
        if held {
            // The fault: wait for the next event of the queue and send it first (reorder:
            // the queue is the subject's; interleave-subjects: only past another subject's).
            let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
            let mut next = None;
            while tokio::time::Instant::now() < deadline {
                {
                    let mut q = st.lock();
                    let mut same_subject = false;
                    if let Some(queue) = q.by_subject.get_mut(&key) {
                        if queue.len() > 1 {
                            if queue[1].subject == job.subject
                                && st.cfg.fault == Some(RelayFault::InterleaveSubjects)
                            {
                                same_subject = true;
                            } else {
                                next = queue.remove(1);
                            }
                        }
                    }
                    if next.is_some() {
                        q.queued -= 1;
                        break;
                    }
                    if same_subject {
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if let Some(n) = next {
                forward(&st, &n).await;
                if let Some(mut j) = st.journal() {
                    j.finished(n.n);
                }
            }
        }
        forward(&st, &job).await;
        if st.cfg.fault == Some(RelayFault::Duplicate) && job.n % 10 == 9 {
            let _ = send_once(&st, &job).await;
        }
        if st.finished(&key, job.n) {
            return;
        }
    }
}

/// One forward: the status, or `None` when no answer came; and the `Retry-After`.
async fn send_once(st: &Shared, job: &Job) -> (Option<u16>, Option<Duration>, String) {
    let _permit = st.in_flight.acquire().await;
    let mut rb = st.client.post(&st.cfg.forward);
    for (n, v) in &job.headers {
        rb = rb.header(n.as_str(), v.as_str());
    }
    match rb.body(job.body.clone()).send().await {
        Ok(r) => {
            let ra = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let s = r.status().as_u16();
            (Some(s), ra, format!("answered {s}"))
        }
        Err(e) => (None, None, format!("no answer: {e}")),
    }
}

async fn forward(st: &Shared, job: &Job) {
    let fault = st.cfg.fault;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let (status, retry_after, why) = send_once(st, job).await;
        let transient = match status {
            Some(200..=299) => {
                st.metrics.forward("delivered");
                return;
            }
            Some(408 | 429 | 500..=599) | None => true,
            Some(_) => false,
        };
        let gave_up_on_5xx =
            fault == Some(RelayFault::NoRetryOn5xx) && matches!(status, Some(500..=599));
        if !transient || attempt >= st.cfg.max_attempts || gave_up_on_5xx {
            if !transient && fault == Some(RelayFault::AckBeforeDurableForward) {
                return;
            }
            let reason = if transient {
                format!("gave up after {attempt} attempts: {why}")
            } else {
                format!("refused downstream: {why}")
            };
            st.metrics.forward("dead-lettered");
            let dead = DeadLetter {
                id: job.id.clone(),
                source: job.source.clone(),
                status,
                reason,
            };
            let mut journal = st.journal();
            let mut q = st.lock();
            if q.dead.len() < MAX_DEAD_LETTERS {
                if let Some(j) = journal.as_mut() {
                    j.dead_letter(&dead);
                }
                q.dead.push(dead);
            }
            return;
        }
        st.metrics.forward("retried");
        let step = st
            .cfg
            .base_backoff
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(st.cfg.max_backoff);
        let wait = retry_after
            .map(|ra| ra.min(st.cfg.max_retry_after).max(step))
            .unwrap_or(step);
        tokio::time::sleep(wait).await;
    }
}
