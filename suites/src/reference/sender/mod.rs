//! The reference sender: a conformant CDEvents sender over HTTP, and its broken variants.
//!
//! It emits lifecycle sequences per subject (queued → started → finished, created → modified →
//! deleted...), each event after the first of its subject linking to the one before (0.4.1+),
//! one request at a time. A failed delivery is retried with the very same event, after an
//! exponential backoff with jitter (or the `Retry-After` the target named, if longer); a
//! permanent client error (any 4xx but 408 and 429), a redirect or 410 Gone ends the attempts
//! (and 410 ends the run). Each event carries a zero-padded `sequence` extension, a
//! `traceparent` extension equal to its request's `traceparent` header, and (0.4.1+) the
//! chainId of its subject's chain; every other subject id needs percent-encoding in binary
//! mode.
//! It returns (and the CLI prints) the manifest of what it sent, one
//! [`ManifestEntry`](crate::drivers::sender::ManifestEntry) per event.
//!
//! Each [`SenderFault`] breaks one rule, so that the sender suite can prove it catches it.

mod faults;

pub use faults::SenderFault;

use std::time::{Duration, Instant};

use cdevents_schemas::catalogue::for_version;
use cdevents_schemas::SpecVersion;
use chrono::{SecondsFormat, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::drivers::sender::{ManifestEntry, LIFECYCLES};
use crate::generators::sample;
use crate::input::CeAttributes;
use crate::wire::{ce_attributes_for, encode, Mode};

/// The source every reference event carries.
pub const SOURCE: &str = "https://cdevents-conformance.invalid/reference-sender";

/// How to run the reference sender.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Where to deliver.
    pub target: String,
    /// How many events.
    pub count: usize,
    /// The CDEvents version of the events.
    pub spec: SpecVersion,
    /// The content mode.
    pub mode: Mode,
    /// Seeds the events, ids and jitter.
    pub seed: u64,
    /// The rule to break, if any.
    pub fault: Option<SenderFault>,
    /// Time allowed for one request.
    pub timeout: Duration,
    /// Most attempts per event.
    pub max_attempts: u32,
    /// The first backoff; each retry doubles it (up to `max_backoff`), half of it jittered.
    pub base_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// Events per request in batch mode.
    pub batch_size: usize,
    /// The webhook profile: the origin named in an OPTIONS validation request before the
    /// first delivery and in every delivery (`--webhook`).
    pub webhook_origin: Option<String>,
    /// The access token sent with every delivery as `Authorization: Bearer` (`--token`).
    pub token: Option<String>,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            target: String::new(),
            count: 12,
            spec: SpecVersion::DEFAULT,
            mode: Mode::Binary,
            seed: 0,
            fault: None,
            timeout: Duration::from_secs(5),
            max_attempts: 8,
            base_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            batch_size: 3,
            webhook_origin: None,
            token: None,
        }
    }
}

/// Why the reference sender could not run.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// No event of a lifecycle exists in that version.
    #[error("CDEvents {0} defines none of the lifecycle events the reference sender emits")]
    NoEvents(SpecVersion),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// An event could not be generated.
    #[error("cannot generate an event: {0}")]
    Generate(String),
}

/// What happened to the events.
#[derive(Debug, Clone, Default)]
pub struct SendOutcome {
    /// One entry per event, in the order sent.
    pub manifest: Vec<ManifestEntry>,
    /// Events acknowledged by the target.
    pub delivered: usize,
    /// Events given up, with why.
    pub gave_up: Vec<(String, String)>,
    /// Requests made.
    pub requests: usize,
}

struct Planned {
    event: Value,
    subject: String,
    /// The `sequence` extension: its position among the events sent, zero-padded so that
    /// string order is emission order (SND-010).
    sequence: String,
    /// The `traceparent` of the request that carries it (SND-011).
    trace: String,
}

fn traceparent(rng: &mut ChaCha8Rng) -> String {
    let t: [u8; 16] = rng.random();
    let s: [u8; 8] = rng.random();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!("00-{}-{}-01", hex(&t), hex(&s))
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let b: [u8; 16] = rng.random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        ["8", "9", "a", "b"][(b[8] & 3) as usize],
        &h[17..20],
        &h[20..32]
    )
}

fn plan_events(cfg: &SenderConfig, rng: &mut ChaCha8Rng) -> Result<Vec<Planned>, SenderError> {
    let cat = for_version(cfg.spec);
    let lifecycles: Vec<Vec<String>> = LIFECYCLES
        .iter()
        .filter_map(|(subject, preds)| {
            let types: Option<Vec<String>> = preds
                .iter()
                .map(|p| cat.event_by_name(subject, p).map(|d| d.type_name.clone()))
                .collect();
            types
        })
        .collect();
    if lifecycles.is_empty() {
        return Err(SenderError::NoEvents(cfg.spec));
    }
    let mut out: Vec<Planned> = Vec::new();
    let mut ts = Utc::now() - chrono::Duration::seconds(1);
    let mut n = 0usize;
    let mut subject_no = 0usize;
    while out.len() < cfg.count {
        let seq = &lifecycles[subject_no % lifecycles.len()];
        let subject_name = seq[0].split('.').nth(2).unwrap_or("subject").to_owned();
        // Every other subject id holds what a ce- header must percent-encode (space, quote,
        // percent, non-ASCII), so that every run exercises CE-HTTP-004.
        let subject_id = if subject_no % 2 == 1 {
            format!("{subject_name}-{}-{subject_no} \"100% café\"", cfg.seed)
        } else {
            format!("{subject_name}-{}-{subject_no}", cfg.seed)
        };
        let chain = uuid(rng);
        subject_no += 1;
        let mut prev: Option<String> = None;
        let mut group: Vec<Planned> = Vec::new();
        for t in seq {
            if out.len() + group.len() >= cfg.count {
                break;
            }
            let mut ev = sample(cfg.spec, t, cfg.seed.wrapping_add(n as u64))
                .map_err(|e| SenderError::Generate(e.to_string()))?;
            n += 1;
            ts += chrono::Duration::milliseconds(1);
            let id = uuid(rng);
            let ctx = &mut ev["context"];
            ctx["id"] = json!(id);
            ctx["source"] = json!(SOURCE);
            ctx["timestamp"] = json!(ts.to_rfc3339_opts(SecondsFormat::Millis, true));
            if let Some(o) = ctx.as_object_mut() {
                o.remove("links");
            }
            if cfg.spec.has_links() {
                ctx["chainId"] = json!(chain);
                if let Some(p) = &prev {
                    ctx["links"] = json!([{"linkType": "PATH", "from": {"contextId": p}}]);
                }
            }
            ev["subject"]["id"] = json!(subject_id);
            prev = Some(id);
            group.push(Planned {
                event: ev,
                subject: subject_id.clone(),
                sequence: String::new(),
                trace: traceparent(rng),
            });
        }
        out.extend(group);
    }
    Ok(out)
}

/// Runs the reference sender to completion.
pub async fn run_reference_sender(cfg: &SenderConfig) -> Result<SendOutcome, SenderError> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut planned = plan_events(cfg, &mut rng)?;
    if let Some(f) = cfg.fault {
        f.apply_to_plan(&mut planned, &mut rng);
    }
    if cfg.fault != Some(SenderFault::UnpaddedSequence) {
        for (i, p) in planned.iter_mut().enumerate() {
            p.sequence = format!("{:08}", i + 1);
        }
    }
    let redirects = if cfg.fault == Some(SenderFault::FollowRedirect) {
        reqwest::redirect::Policy::limited(3)
    } else {
        // A redirect answered to a delivery must not be followed (WH-005).
        reqwest::redirect::Policy::none()
    };
    let client = reqwest::Client::builder()
        .timeout(cfg.timeout)
        .redirect(redirects)
        .build()
        .map_err(|e| SenderError::Client(e.to_string()))?;
    let mut outcome = SendOutcome::default();
    for p in &planned {
        outcome.manifest.push(ManifestEntry {
            id: p.event["context"]["id"].as_str().unwrap_or("").to_owned(),
            source: SOURCE.to_owned(),
            type_: p.event["context"]["type"].as_str().map(str::to_owned),
            subject: Some(p.subject.clone()),
        });
    }
    let mode = cfg
        .fault
        .and_then(SenderFault::forced_mode)
        .unwrap_or(cfg.mode);
    let per_request = if mode == Mode::Batch {
        cfg.batch_size.max(1)
    } else {
        1
    };
    if let Some(origin) = &cfg.webhook_origin {
        if cfg.fault != Some(SenderFault::NoHandshake) {
            let mut req = client.request(reqwest::Method::OPTIONS, &cfg.target);
            if cfg.fault != Some(SenderFault::NoOrigin) {
                req = req.header("webhook-request-origin", origin.as_str());
            }
            // Refused or not, the run goes on: the target's answers to deliveries tell.
            let _ = req.send().await;
        }
    }
    let mut gone = false;
    // A chunk sent to the back of the queue (`retry-out-of-order`) carries when it failed and
    // how many attempts it had: its retry still waits out its backoff, and no later delay is
    // shorter than the one the deferral made, so that the fault reorders (SND-014) and nothing
    // else, however long the other events took.
    let mut queue: std::collections::VecDeque<(&[Planned], Deferred)> =
        planned.chunks(per_request).map(|c| (c, None)).collect();
    while let Some((chunk, deferred)) = queue.pop_front() {
        let mut events: Vec<Value> = chunk.iter().map(|p| p.event.clone()).collect();
        // One trace per request: its header and every event's extension name it.
        let trace = chunk[0].trace.clone();
        if gone {
            for e in &events {
                outcome
                    .gave_up
                    .push((id_of(e), "the target answered 410 Gone".into()));
            }
            continue;
        }
        let mut attempt = 0u32;
        let mut floor = Duration::ZERO;
        if let Some((failed_at, attempts)) = deferred {
            attempt = attempts;
            tokio::time::sleep_until((failed_at + backoff(cfg, attempt, &mut rng)).into()).await;
            floor = failed_at.elapsed();
        }
        loop {
            let pairs: Vec<(CeAttributes, Value)> = events
                .iter()
                .zip(chunk)
                .map(|(e, p)| {
                    let mut ce = ce_attributes_for(e);
                    ce.extensions.insert("sequence".into(), json!(p.sequence));
                    ce.extensions.insert("traceparent".into(), json!(trace));
                    if let Some(f) = cfg.fault {
                        f.apply_to_ce(&mut ce);
                    }
                    (ce, e.clone())
                })
                .collect();
            let mut wire = encode(mode, &pairs);
            if let (Some(f), Mode::Binary) = (cfg.fault, mode) {
                f.apply_to_headers(&mut wire.headers, &pairs[0].0);
            }
            if let Some(f) = cfg.fault {
                f.apply_to_wire(&mut wire, &pairs);
            }
            let header_trace = if cfg.fault == Some(SenderFault::TraceparentMismatch) {
                traceparent(&mut rng)
            } else {
                trace.clone()
            };
            let method = match cfg.fault {
                Some(SenderFault::PutMethod) => reqwest::Method::PUT,
                _ => reqwest::Method::POST,
            };
            let mut req = client
                .request(method, &cfg.target)
                .body(wire.body.clone())
                .header("traceparent", header_trace);
            for (k, v) in &wire.headers {
                if cfg.fault == Some(SenderFault::OmitContentType)
                    && k.eq_ignore_ascii_case("content-type")
                {
                    continue;
                }
                req = req.header(k.as_str(), v.as_str());
            }
            if let Some(origin) = &cfg.webhook_origin {
                let changed = cfg.fault == Some(SenderFault::OriginChanges) && outcome.requests > 0;
                if cfg.fault != Some(SenderFault::NoOrigin) {
                    req = req.header(
                        "webhook-request-origin",
                        if changed {
                            format!("other.{origin}")
                        } else {
                            origin.clone()
                        },
                    );
                }
            }
            if let Some(t) = &cfg.token {
                if cfg.fault != Some(SenderFault::TokenMissingAfterFirst) || outcome.requests == 0 {
                    req = req.bearer_auth(t);
                }
            }
            if cfg.fault == Some(SenderFault::CeDatacontenttypeHeader) && mode == Mode::Binary {
                req = req.header("ce-datacontenttype", "application/json");
            }
            outcome.requests += 1;
            let result = req.send().await;
            attempt += 1;
            let (retry, retry_after, why) = match &result {
                Ok(r) if r.status().is_success() => {
                    outcome.delivered += events.len();
                    break;
                }
                Ok(r) => {
                    let s = r.status().as_u16();
                    let ra = r
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    if s == 410 && cfg.fault != Some(SenderFault::IgnoreGone) {
                        gone = true;
                    }
                    let transient = matches!(s, 408 | 429 | 500..=599);
                    let retry = match cfg.fault {
                        Some(SenderFault::NoRetryOn503) if s == 503 => false,
                        Some(SenderFault::RetryOn400) if matches!(s, 400 | 413 | 415) => true,
                        _ => transient,
                    };
                    (retry, ra, format!("answered {s}"))
                }
                Err(e) => (true, None, format!("request failed: {e}")),
            };
            if !retry || attempt >= cfg.max_attempts {
                for e in &events {
                    outcome.gave_up.push((id_of(e), why.clone()));
                }
                break;
            }
            if cfg.fault == Some(SenderFault::RetryOutOfOrder) && deferred.is_none() {
                queue.push_back((chunk, Some((Instant::now(), attempt))));
                break;
            }
            let mut wait = backoff(cfg, attempt, &mut rng).max(floor);
            if let Some(ra) = retry_after {
                if cfg.fault != Some(SenderFault::IgnoreRetryAfter) {
                    wait = wait.max(ra);
                }
            }
            if cfg.fault == Some(SenderFault::NoBackoff) {
                wait = Duration::ZERO;
            }
            if cfg.fault == Some(SenderFault::RetryNewId) {
                for e in &mut events {
                    e["context"]["id"] = json!(uuid(&mut rng));
                }
            }
            tokio::time::sleep(wait).await;
        }
    }
    Ok(outcome)
}

/// When a chunk sent to the back of the queue failed, and how many attempts it had had.
type Deferred = Option<(Instant, u32)>;

fn id_of(e: &Value) -> String {
    e.pointer("/context/id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// Exponential backoff with "equal jitter": half the step fixed, half random, so that the
/// delay never shrinks from one attempt to the next.
fn backoff(cfg: &SenderConfig, attempt: u32, rng: &mut ChaCha8Rng) -> Duration {
    let step = cfg
        .base_backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(cfg.max_backoff);
    let half = step / 2;
    half + half.mul_f64(rng.random::<f64>())
}
