//! Judging a sink's recording: pure, so that every rule unit-tests without a network.
//!
//! Terms, in what the sink can observe:
//! - an **event** is a CloudEvents (source, id) pair; each request carrying it is an
//!   **attempt**, in arrival order;
//! - an attempt is **acknowledged** when the sink answered it 2xx; an event is **delivered**
//!   when one of its attempts was acknowledged;
//! - a **duplicate** is an attempt that arrives after an acknowledged one;
//! - a **lost** event is one the sender listed in its manifest, or the sink saw, that was never
//!   acknowledged although no permanent error was answered for it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use cdevents_reports::model::{CaseResult, Evidence, HttpMessage, Status};
use cdevents_reports::{Finding, Level};
use cdevents_schemas::{Registry, SpecVersion};
use serde_json::Value;

use super::lifecycle::{lifecycle_rank, subject_ids, Step};
use super::sink::{Delivery, ManifestEntry, Recording};
use crate::checks::stream::{content_hash, SeenIds};
use crate::checks::{ids, EventChecker};
use crate::faults::{event_key, Fault, FaultKind, FaultPlan};
use crate::input::{ContentMode, Envelope};
use crate::requirements::Catalogue;

/// The delivery guarantee a sender claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Guarantee {
    /// No claim: losses are reported, not failed.
    #[default]
    AtMostOnce,
    /// Every event is retried until acknowledged (SND-006).
    AtLeastOnce,
    /// At least once, and never again after an acknowledgement (SND-004 at MUST).
    ExactlyOnce,
}

impl FromStr for Guarantee {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "at-most-once" => Ok(Guarantee::AtMostOnce),
            "at-least-once" => Ok(Guarantee::AtLeastOnce),
            "exactly-once" => Ok(Guarantee::ExactlyOnce),
            _ => Err(format!(
                "unknown guarantee `{s}` (expected at-most-once, at-least-once or exactly-once)"
            )),
        }
    }
}

impl fmt::Display for Guarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Guarantee::AtMostOnce => "at-most-once",
            Guarantee::AtLeastOnce => "at-least-once",
            Guarantee::ExactlyOnce => "exactly-once",
        })
    }
}

/// The order a sender claims to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ordering {
    /// No claim.
    #[default]
    None,
    /// Events of one subject arrive in the order of their timestamps.
    PerSubject,
    /// All events arrive in the order of their timestamps.
    Total,
}

impl FromStr for Ordering {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Ordering::None),
            "per-subject" => Ok(Ordering::PerSubject),
            "total" => Ok(Ordering::Total),
            _ => Err(format!(
                "unknown ordering `{s}` (expected none, per-subject or total)"
            )),
        }
    }
}

impl fmt::Display for Ordering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ordering::None => "none",
            Ordering::PerSubject => "per-subject",
            Ordering::Total => "total",
        })
    }
}

/// What the sender claims, and what the sink allowed.
#[derive(Debug, Clone, Default)]
pub struct Claims {
    /// `--guarantee`.
    pub guarantee: Guarantee,
    /// `--ordering`.
    pub ordering: Ordering,
    /// Whether the sink asked for batches (`--allow-batch`); otherwise a batch breaks CE-HTTP-015.
    pub allow_batch: bool,
    /// The webhook profile (`--profile webhook`): the sink required the validation handshake.
    pub webhook: bool,
    /// The access token the sender was given (`--token`); redacted as `***` in every case.
    pub token: Option<String>,
}

/// Attempts closer than this after a retryable failure are hammering (SND-007).
const MIN_RETRY_GAP: Duration = Duration::from_millis(10);
/// How much a retry delay may shrink before it counts as speeding up: the gaps are measured
/// on a machine the sender shares, where one delayed wake-up can stretch a gap by tens of
/// milliseconds. A sender that truly hammers is caught by [`MIN_RETRY_GAP`].
const SHRINK_SLACK: Duration = Duration::from_millis(100);
/// Slack for `Retry-After` (the sink measures when it answered, not when the sender read it).
const RETRY_AFTER_SLACK: Duration = Duration::from_millis(50);
/// Most findings or examples kept in one case.
const MAX_EXAMPLES: usize = 20;

struct Attempt<'a> {
    d: &'a Delivery,
    content: u64,
    timestamp: Option<String>,
    ce: (Option<String>, Option<String>, Option<String>),
    /// The `sequence` extension (SND-010).
    sequence: Option<String>,
}

struct Event<'a> {
    source: String,
    id: String,
    cdevent: &'a Value,
    attempts: Vec<Attempt<'a>>,
}

impl Event<'_> {
    fn name(&self) -> String {
        format!("{} {}", self.source, self.id)
    }
    fn subject(&self) -> Option<&str> {
        at(self.cdevent, &["subject", "id"]).and_then(Value::as_str)
    }
    fn type_parts(&self) -> Option<(String, String)> {
        let t = at(self.cdevent, &["context", "type"])?.as_str()?;
        let mut it = t.split('.');
        Some((it.nth(2)?.to_owned(), it.next()?.to_owned()))
    }
    fn timestamp(&self) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        let t = at(self.cdevent, &["context", "timestamp"])?.as_str()?;
        chrono::DateTime::parse_from_rfc3339(t).ok()
    }
    fn acknowledged(&self) -> bool {
        self.attempts.iter().any(|a| a.d.acknowledged())
    }
    /// Whether the sink answered something after which a sender gives the event up.
    fn got_permanent(&self) -> bool {
        self.attempts
            .iter()
            .any(|a| a.d.fault.kind().is_some_and(FaultKind::ends_delivery))
    }
    fn chain_id(&self) -> Option<&str> {
        at(self.cdevent, &["context", "chainId"]).and_then(Value::as_str)
    }
}

/// `v.pointer("/a/b")` for plain member names, without `pointer`'s per-token allocations
/// (profiled: a fifth of the judge's time went to them).
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

/// A hash of the event without its `context.id` (equal for events that differ only there),
/// without copying the event as removing the id would (profiled: a seventh of the judge's
/// time). Members combine with a commutative sum, so their order does not count.
fn content_hash_sans_id(v: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let Some(o) = v.as_object() else {
        return content_hash(v);
    };
    let pair = |k: &str, x: u64| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (k, x).hash(&mut h);
        h.finish()
    };
    let mut acc = 0u64;
    for (k, x) in o {
        let member = match (k.as_str(), x.as_object()) {
            ("context", Some(ctx)) => {
                let mut c = 0u64;
                let mut n = 0u64;
                for (ck, cx) in ctx.iter().filter(|(ck, _)| *ck != "id") {
                    c = c.wrapping_add(pair(ck, content_hash(cx)));
                    n += 1;
                }
                pair("{context}", c ^ n.rotate_left(32))
            }
            _ => content_hash(x),
        };
        acc = acc.wrapping_add(pair(k, member));
    }
    acc ^ (o.len() as u64).rotate_left(48)
}

fn case(id: &str, suffix: &str, status: Status, message: impl Into<String>) -> CaseResult {
    let cat = Catalogue::embedded().get(id);
    let name = if suffix.is_empty() {
        id.to_owned()
    } else {
        format!("{id}/{suffix}")
    };
    let mut c = CaseResult::new(
        name,
        id,
        cat.map(|r| r.level).unwrap_or(Level::Must),
        status,
        message,
    );
    c.roles = cat.map(|r| r.roles.clone()).unwrap_or_default();
    c
}

fn evidence(d: &Delivery) -> Evidence {
    let start = format!("{} {} HTTP/1.1", d.method, d.path);
    let req = HttpMessage::capped(
        start,
        d.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())),
        &d.body,
    );
    let status = d
        .status
        .map(|s| format!("HTTP/1.1 {s}"))
        .unwrap_or_else(|| "(connection reset)".to_owned());
    let mut headers = Vec::new();
    if let Some(ra) = d.retry_after {
        headers.push(("retry-after".to_owned(), ra.to_string()));
    }
    Evidence {
        request: Some(req),
        response: Some(HttpMessage::capped(status, headers, b"")),
        ..Evidence::default()
    }
}

/// A verdict from a list of problems: passed when empty, failed with the first as evidence.
pub(super) fn verdict(
    id: &str,
    suffix: &str,
    checked: &str,
    problems: Vec<(String, Option<&Delivery>)>,
) -> CaseResult {
    if problems.is_empty() {
        return case(id, suffix, Status::Passed, checked.to_owned());
    }
    let n = problems.len();
    let mut c = case(
        id,
        suffix,
        Status::Failed,
        format!(
            "{}{}",
            problems[0].0,
            if n > 1 {
                format!(" (and {} more)", n - 1)
            } else {
                String::new()
            }
        ),
    );
    c.actual = Some(
        problems
            .iter()
            .take(MAX_EXAMPLES)
            .map(|p| p.0.clone())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    c.evidence = problems[0].1.map(evidence);
    c
}

pub(super) fn skipped(id: &str, suffix: &str, why: &str) -> CaseResult {
    case(id, suffix, Status::Skipped, why.to_owned())
}

/// Judges a recording. `manifest` is the sender's list of what it sent, when it printed one.
pub fn judge(
    rec: &Recording,
    claims: &Claims,
    plan: &FaultPlan,
    manifest: Option<&[ManifestEntry]>,
    registry: &Registry,
    spec: Option<SpecVersion>,
) -> Vec<CaseResult> {
    let mut out = judge_all(rec, claims, plan, manifest, registry, spec);
    if let Some(t) = &claims.token {
        super::webhook::redact(&mut out, t);
    }
    out
}

/// From this many distinct contents on, the per-event checks run on several threads.
const PARALLEL_CHECKS_FROM: usize = 256;

/// Per event in arrival order (requests sorted, then events within each): its content hash,
/// and whether it is the first arrival of that content for its (source, id). Those first
/// arrivals are the ones the per-event checks judge; a faithful retry adds nothing.
fn distinct_contents<'d>(deliveries: &[&'d Delivery]) -> (Vec<(u64, bool)>, Vec<&'d Envelope>) {
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut contents = Vec::new();
    let mut todo = Vec::new();
    for d in deliveries {
        for e in &d.events {
            let content = content_hash(&e.envelope.cdevent);
            let first = seen.insert((event_key(&e.source, &e.id), content));
            if first {
                todo.push(&e.envelope);
            }
            contents.push((content, first));
        }
    }
    (contents, todo)
}

/// The per-event checks of `todo`, in its order, on up to `threads` threads.
fn check_on(
    todo: &[&Envelope],
    registry: &Registry,
    spec: Option<SpecVersion>,
    threads: usize,
) -> Vec<Vec<Finding>> {
    let one = |part: &[&Envelope]| -> Vec<Vec<Finding>> {
        let checker = EventChecker::new(registry).force_version(spec);
        part.iter()
            .map(|e| checker.check_envelope(e).findings)
            .collect()
    };
    if threads <= 1 || todo.len() < 2 {
        return one(todo);
    }
    let per = todo.len().div_ceil(threads);
    std::thread::scope(|sc| {
        let parts: Vec<_> = todo.chunks(per).map(|c| sc.spawn(move || one(c))).collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// The threads the per-event checks may use: the machine's, at most 8.
fn check_threads(distinct: usize) -> usize {
    if distinct < PARALLEL_CHECKS_FROM {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

fn judge_all(
    rec: &Recording,
    claims: &Claims,
    plan: &FaultPlan,
    manifest: Option<&[ManifestEntry]>,
    registry: &Registry,
    spec: Option<SpecVersion>,
) -> Vec<CaseResult> {
    let mut deliveries: Vec<&Delivery> = rec.deliveries.iter().collect();
    deliveries.sort_by_key(|d| (d.received, d.index));
    if deliveries.is_empty() {
        return Vec::new();
    }
    // The per-event checks (schemas, the CloudEvents binding) are most of the judging's cost
    // and independent of one another: they run beside the request-level rules, on every core
    // when there are many, and are read back in arrival order so results do not depend on it.
    let (contents, todo) = distinct_contents(&deliveries);
    let threads = check_threads(todo.len());
    std::thread::scope(|sc| {
        let pending = if threads > 1 {
            let todo = &todo;
            PendingChecks::Running(sc.spawn(move || check_on(todo, registry, spec, threads)))
        } else {
            PendingChecks::Ready(check_on(&todo, registry, spec, 1))
        };
        judge_with(rec, claims, plan, manifest, &deliveries, &contents, pending)
    })
}

/// The per-event checks' results, computed or still being computed.
enum PendingChecks<'s> {
    Ready(Vec<Vec<Finding>>),
    Running(std::thread::ScopedJoinHandle<'s, Vec<Vec<Finding>>>),
}

impl PendingChecks<'_> {
    fn wait(self) -> Vec<Vec<Finding>> {
        match self {
            PendingChecks::Ready(v) => v,
            PendingChecks::Running(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
        }
    }
}

fn judge_with(
    rec: &Recording,
    claims: &Claims,
    plan: &FaultPlan,
    manifest: Option<&[ManifestEntry]>,
    deliveries: &[&Delivery],
    contents: &[(u64, bool)],
    pending: PendingChecks,
) -> Vec<CaseResult> {
    let mut out = Vec::new();
    out.extend(super::webhook::webhook_cases(
        rec,
        deliveries,
        claims.webhook,
        claims.token.as_deref(),
    ));

    // Requests as such.
    out.push(verdict(
        "WH-001",
        "",
        "every delivery used POST",
        deliveries
            .iter()
            .filter(|d| d.method != "POST")
            .map(|d| (format!("request #{} used {}", d.index, d.method), Some(*d)))
            .collect(),
    ));
    // CE-HTTP-002: Content-Type carries the data's type in binary mode, never a ce- header.
    out.push(verdict(
        "CE-HTTP-002",
        "",
        "no binary-mode delivery had a ce-datacontenttype header",
        deliveries
            .iter()
            .filter(|d| {
                let ct = d.header("content-type").unwrap_or_default();
                !ct.to_ascii_lowercase()
                    .starts_with("application/cloudevents")
                    && d.header("ce-datacontenttype").is_some()
            })
            .map(|d| {
                (
                    format!(
                        "request #{} is in binary mode and has a ce-datacontenttype header",
                        d.index
                    ),
                    Some(*d),
                )
            })
            .collect(),
    ));
    let (shape, explained) = super::shape::message_shape(deliveries);
    out.extend(shape);
    let mut wh003 = Vec::new();
    let mut too_large = Vec::new();
    for d in deliveries {
        // The message-shape rules judged it under their own ids; WH-016 one refused for
        // lack of a handshake.
        if explained.contains(&d.index)
            || d.refused
                .as_deref()
                .is_some_and(|r| r.starts_with(super::sink::NOT_VALIDATED))
        {
            continue;
        }
        if d.refused
            .as_deref()
            .is_some_and(|r| r.starts_with(super::sink::RECORDING_FULL))
        {
            continue;
        }
        if d.refused.as_deref().is_some_and(|r| r.contains("cap")) {
            too_large.push((
                format!(
                    "request #{}: {}",
                    d.index,
                    d.refused.as_deref().unwrap_or("")
                ),
                Some(*d),
            ));
        } else if let Some(r) = &d.refused {
            wh003.push((format!("request #{}: {r}", d.index), Some(*d)));
        } else if d.header("content-type").is_none() {
            wh003.push((
                format!("request #{} has no Content-Type", d.index),
                Some(*d),
            ));
        } else if d.body.is_empty() {
            wh003.push((format!("request #{} has an empty body", d.index), Some(*d)));
        } else if let Some(e) = d.decode_errors.first() {
            // A ce- header the decoder refused for its encoding is CE-HTTP-004's finding (judged
            // on the raw bytes), not a body of the wrong type.
            let bad_header = d.headers.iter().any(|(n, raw)| {
                n.to_ascii_lowercase().starts_with("ce-") && scan_header_value(raw).0.is_some()
            });
            if !bad_header {
                wh003.push((format!("request #{}: {e}", d.index), Some(*d)));
            }
        }
    }
    out.push(verdict(
        "WH-003",
        "",
        "every delivery had a Content-Type and a body of that type",
        wh003,
    ));
    out.push(verdict(
        "SND-012",
        "",
        "no delivery exceeded the sink's cap",
        too_large,
    ));
    out.extend(header_encoding(deliveries));
    out.push(redirects(deliveries));
    out.push(after_gone(deliveries));
    out.push(trace_context(deliveries));
    let batches: Vec<(String, Option<&Delivery>)> = deliveries
        .iter()
        .filter(|d| {
            d.events
                .iter()
                .any(|e| e.envelope.mode == ContentMode::Batch)
        })
        .map(|d| {
            (
                format!(
                    "request #{} is a batch, and the sink did not ask for batches",
                    d.index
                ),
                Some(*d),
            )
        })
        .collect();
    if claims.allow_batch {
        out.push(skipped(
            "CE-HTTP-015",
            "",
            "the sink accepts batches (--allow-batch)",
        ));
    } else {
        out.push(verdict("CE-HTTP-015", "", "no batch was sent", batches));
    }

    // Events: group attempts by (source, id), in order of first arrival.
    let mut order: Vec<u64> = Vec::new();
    let mut events: HashMap<u64, Event> = HashMap::new();
    let mut seen = SeenIds::default();
    let mut by_req: BTreeMap<String, Vec<(Finding, &Delivery)>> = BTreeMap::new();
    let mut counted = 0usize;
    let mut checked = pending.wait().into_iter();
    let mut contents = contents.iter();
    for d in deliveries {
        for e in &d.events {
            let key = event_key(&e.source, &e.id);
            let cdevent = &e.envelope.cdevent;
            let ce = e.envelope.ce.as_ref();
            let (content, first) = contents.next().copied().unwrap_or_default();
            let attempt = Attempt {
                d,
                content,
                timestamp: at(cdevent, &["context", "timestamp"])
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                ce: (
                    ce.and_then(|c| c.type_.clone()),
                    ce.and_then(|c| c.subject.clone()),
                    ce.and_then(|c| c.time.clone()),
                ),
                sequence: ce.and_then(|c| extension_text(c, "sequence")),
            };
            let mut findings = Vec::new();
            if let Some(f) = seen.observe(cdevent) {
                findings.push(f);
            }
            let ev = events.entry(key).or_insert_with(|| {
                order.push(key);
                Event {
                    source: e.source.clone(),
                    id: e.id.clone(),
                    cdevent,
                    attempts: Vec::new(),
                }
            });
            // Each distinct content is judged once; a faithful retry adds nothing.
            if first {
                findings.extend(checked.next().unwrap_or_default());
                counted += 1;
            }
            for f in findings {
                let mut f = f;
                f.message = format!("{} (request #{}): {}", ev.name(), d.index, f.message);
                by_req.entry(f.id.clone()).or_default().push((f, *d));
            }
            ev.attempts.push(attempt);
        }
    }
    for id in ids::ALL {
        let fs = by_req.remove(*id).unwrap_or_default();
        out.push(event_case(id, fs, counted));
    }
    for (id, fs) in by_req {
        out.push(event_case(&id, fs, counted));
    }
    let evs: Vec<&Event> = order.iter().filter_map(|k| events.get(k)).collect();
    if evs.is_empty() {
        return out;
    }

    // SND-001 / SND-003: a retry repeats the event.
    let retried = evs.iter().filter(|e| e.attempts.len() > 1).count();
    let mut p1 = Vec::new();
    let mut p3 = Vec::new();
    for e in &evs {
        let first = &e.attempts[0];
        for a in &e.attempts[1..] {
            if a.content != first.content || a.ce != first.ce {
                p1.push((
                    format!(
                        "{}: request #{} carries a different event than request #{}",
                        e.name(),
                        a.d.index,
                        first.d.index
                    ),
                    Some(a.d),
                ));
            }
            if a.timestamp != first.timestamp {
                p3.push((
                    format!(
                        "{}: request #{} has timestamp {:?}, the first attempt {:?}",
                        e.name(),
                        a.d.index,
                        a.timestamp,
                        first.timestamp
                    ),
                    Some(a.d),
                ));
            }
        }
    }
    if retried == 0 {
        out.push(skipped(
            "SND-001",
            "",
            "no event was delivered more than once",
        ));
        out.push(skipped(
            "SND-003",
            "",
            "no event was delivered more than once",
        ));
    } else {
        let msg = format!("{retried} events delivered more than once, each time the same");
        out.push(verdict("SND-001", "", &msg, p1));
        out.push(verdict("SND-003", "", &msg, p3));
    }

    // SND-002: a retry under a new id is the same content with another id.
    let mut sans_id: HashMap<u64, &Event> = HashMap::new();
    let mut p2 = Vec::new();
    for e in &evs {
        let h = content_hash_sans_id(e.cdevent);
        if let Some(prev) = sans_id.get(&h) {
            p2.push((
                format!("{} repeats {} under a new id", e.name(), prev.name()),
                Some(e.attempts[0].d),
            ));
        } else {
            sans_id.insert(h, e);
        }
    }
    out.push(verdict(
        "SND-002",
        "",
        "no event was repeated under a new id",
        p2,
    ));

    // SND-004: nothing after an acknowledgement.
    let mut p4 = Vec::new();
    for e in &evs {
        if let Some(ack) = e.attempts.iter().find(|a| a.d.acknowledged()) {
            for a in e.attempts.iter().filter(|a| a.d.received > ack.d.answered) {
                p4.push((
                    format!(
                        "{}: request #{} after request #{} was acknowledged {}",
                        e.name(),
                        a.d.index,
                        ack.d.index,
                        ack.d.status.unwrap_or(0)
                    ),
                    Some(a.d),
                ));
            }
        }
    }
    let msg4 = "no event was delivered again after an acknowledgement";
    if claims.guarantee == Guarantee::ExactlyOnce {
        out.push(verdict(
            "SND-016",
            "",
            &format!("{msg4} (the sender claims exactly-once)"),
            p4.clone(),
        ));
    } else {
        out.push(skipped(
            "SND-016",
            "",
            "no exactly-once claim (--guarantee)",
        ));
    }
    out.push(verdict("SND-004", "", msg4, p4));

    // SND-005: nothing after a permanent error.
    let permanents = evs.iter().filter(|e| e.got_permanent()).count();
    if permanents == 0 {
        let why = if plan.has_permanent() {
            "the plan could answer permanent errors, but this run drew none"
        } else {
            "no permanent error was injected (use --faults hostile)"
        };
        out.push(skipped("SND-005", "", why));
    } else {
        let mut p5 = Vec::new();
        for e in &evs {
            if let Some(bad) = e
                .attempts
                .iter()
                .find(|a| a.d.fault.kind().is_some_and(FaultKind::is_permanent))
            {
                for a in e
                    .attempts
                    .iter()
                    .filter(|a| a.d.received > bad.d.answered && a.content == bad.content)
                {
                    p5.push((
                        format!(
                            "{}: request #{} repeats request #{} refused {}",
                            e.name(),
                            a.d.index,
                            bad.d.index,
                            bad.d.status.unwrap_or(0)
                        ),
                        Some(a.d),
                    ));
                }
            }
        }
        out.push(verdict(
            "SND-005",
            "",
            &format!("{permanents} events refused permanently were not retried"),
            p5,
        ));
    }

    // SND-006: eventual delivery under transient faults, when claimed; and the manifest.
    let observed: HashSet<(String, String)> = evs
        .iter()
        .map(|e| (e.source.clone(), e.id.clone()))
        .collect();
    let mut lost = Vec::new();
    for e in &evs {
        if !e.acknowledged() && !e.got_permanent() {
            lost.push((
                format!(
                    "{} was never acknowledged ({} attempts, last answered {})",
                    e.name(),
                    e.attempts.len(),
                    last_answer(e)
                ),
                Some(e.attempts[e.attempts.len() - 1].d),
            ));
        }
    }
    let mut unexpected = 0;
    // After a 410 Gone a sender stops (WH-008): what it listed and never sent is not lost.
    let gone = deliveries.iter().any(|d| d.status == Some(410));
    if let Some(m) = manifest {
        let listed: HashSet<(String, String)> =
            m.iter().map(|x| (x.source.clone(), x.id.clone())).collect();
        let mut missing = Vec::new();
        for x in m {
            if !observed.contains(&(x.source.clone(), x.id.clone())) && !gone {
                missing.push((
                    format!("{} {} is in the manifest but never arrived", x.source, x.id),
                    None,
                ));
            }
        }
        let strays: Vec<(String, Option<&Delivery>)> = evs
            .iter()
            .filter(|e| !listed.contains(&(e.source.clone(), e.id.clone())))
            .map(|e| {
                (
                    format!("{} arrived but is not in the manifest", e.name()),
                    Some(e.attempts[0].d),
                )
            })
            .collect();
        unexpected = strays.len();
        out.push(manifest_case(
            &missing,
            strays,
            deliveries.iter().any(|d| d.fault != Fault::None),
        ));
        lost.extend(missing);
    } else {
        out.push(skipped("SND-015", "", "the sender printed no manifest"));
    }
    let faults = deliveries.iter().filter(|d| d.fault != Fault::None).count();
    let observed_msg = format!(
        "observed: {} events, {} delivered, {} lost, {} faults injected{}",
        evs.len(),
        evs.iter().filter(|e| e.acknowledged()).count(),
        lost.len(),
        faults,
        if manifest.is_some() {
            format!(", {unexpected} not in the manifest")
        } else {
            String::new()
        }
    );
    match claims.guarantee {
        Guarantee::AtMostOnce => out.push(skipped(
            "SND-006",
            "",
            &format!("no at-least-once claim; {observed_msg}"),
        )),
        _ => {
            let mut c = verdict("SND-006", "", &observed_msg, lost);
            if c.status == Status::Failed {
                c.message = format!("{}; {observed_msg}", c.message);
            }
            out.push(c);
        }
    }

    // SND-007: backoff.
    let mut gaps_seen = 0;
    let mut p7 = Vec::new();
    for e in &evs {
        let mut gaps = Vec::new();
        for w in e.attempts.windows(2) {
            let (prev, next) = (&w[0], &w[1]);
            let retryable = match prev.d.fault.kind() {
                Some(FaultKind::S503 | FaultKind::S500 | FaultKind::S408 | FaultKind::Reset) => {
                    true
                }
                Some(_) => false,
                None => false,
            };
            if retryable && next.d.received >= prev.d.answered {
                gaps.push((next.d.received - prev.d.answered, next.d));
            }
        }
        gaps_seen += gaps.len();
        let delays: Vec<Duration> = gaps.iter().map(|(g, _)| *g).collect();
        if let Some((i, why)) = backoff_problem(&delays) {
            let d = gaps[i].1;
            p7.push((
                format!("{}: {why} (request #{})", e.name(), d.index),
                Some(d),
            ));
        }
    }
    if gaps_seen == 0 {
        out.push(skipped(
            "SND-007",
            "",
            "no retry after a 5xx, 408 or reset was observed",
        ));
    } else {
        out.push(verdict(
            "SND-007",
            "",
            &format!(
                "{gaps_seen} retries waited at least {} ms and did not speed up",
                MIN_RETRY_GAP.as_millis()
            ),
            p7,
        ));
    }

    // WH-010: nothing before Retry-After has passed.
    let throttles: Vec<&&Delivery> = deliveries
        .iter()
        .filter(|d| d.status == Some(429) && d.retry_after.is_some())
        .collect();
    if throttles.is_empty() {
        out.push(skipped("WH-010", "", "no 429 was answered"));
    } else {
        let mut p10 = Vec::new();
        for t in &throttles {
            let until = t.answered + Duration::from_secs(t.retry_after.unwrap_or(0));
            if let Some(d) = deliveries
                .iter()
                .find(|d| d.received > t.answered && d.received + RETRY_AFTER_SLACK < until)
            {
                p10.push((
                    format!(
                        "request #{} came {} ms after a 429 with Retry-After: {} (request #{})",
                        d.index,
                        (d.received - t.answered).as_millis(),
                        t.retry_after.unwrap_or(0),
                        t.index
                    ),
                    Some(*d),
                ));
            }
        }
        out.push(verdict(
            "WH-010",
            "",
            &format!("{} Retry-After answers were honoured", throttles.len()),
            p10,
        ));
    }

    // SND-008: lifecycle order per subject, and timestamps that agree with it.
    let mut ranked = 0;
    let mut p8 = Vec::new();
    let mut last: HashMap<&str, (u8, &Event, Option<chrono::DateTime<chrono::FixedOffset>>)> =
        HashMap::new();
    for e in &evs {
        let (Some(subject), Some((sname, pred))) = (e.subject(), e.type_parts()) else {
            continue;
        };
        let Some(rank) = lifecycle_rank(&sname, &pred) else {
            continue;
        };
        ranked += 1;
        let ts = e.timestamp();
        if let Some((r0, prev, ts0)) = last.get(subject) {
            if rank < *r0 {
                p8.push((
                    format!(
                        "subject {subject}: {pred} ({}) arrived after a later lifecycle event ({})",
                        e.id, prev.id
                    ),
                    Some(e.attempts[0].d),
                ));
            } else if rank > *r0 && matches!((ts, ts0), (Some(a), Some(b)) if a < *b) {
                p8.push((format!("subject {subject}: {pred} ({}) is timestamped before the earlier lifecycle event {}", e.id, prev.id), Some(e.attempts[0].d)));
            }
        }
        let keep = last.get(subject).is_none_or(|(r0, _, _)| rank >= *r0);
        if keep {
            last.insert(subject, (rank, e, ts));
        }
    }
    if ranked == 0 {
        out.push(skipped(
            "SND-008",
            "",
            "no event of a subject with a lifecycle arrived",
        ));
    } else {
        out.push(verdict(
            "SND-008",
            "",
            &format!(
                "{ranked} lifecycle events of {} subjects came in lifecycle order",
                last.len()
            ),
            p8,
        ));
    }
    out.push(claimed_order(&evs, claims.ordering, manifest));
    out.extend(subject_ids(&lifecycle_steps(&evs)));

    // SND-009: links point back in time, to events that exist.
    let first_pos: HashMap<&str, usize> = evs
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let listed: Option<HashSet<&str>> = manifest.map(|m| m.iter().map(|x| x.id.as_str()).collect());
    let mut links = 0;
    let mut p9 = Vec::new();
    for (i, e) in evs.iter().enumerate() {
        let Some(arr) = at(e.cdevent, &["context", "links"]).and_then(Value::as_array) else {
            continue;
        };
        for l in arr {
            let Some(cid) = at(l, &["from", "contextId"])
                .or_else(|| at(l, &["target", "contextId"]))
                .and_then(Value::as_str)
            else {
                continue;
            };
            links += 1;
            if cid == e.id {
                p9.push((
                    format!("{} links to itself", e.name()),
                    Some(e.attempts[0].d),
                ));
            } else if let Some(&j) = first_pos.get(cid) {
                if j > i {
                    p9.push((
                        format!("{} links to {cid}, which arrived later", e.name()),
                        Some(e.attempts[0].d),
                    ));
                }
            } else if listed.as_ref().is_some_and(|l| !l.contains(cid)) {
                p9.push((
                    format!(
                        "{} links to {cid}, which the sender never sent (not in its manifest)",
                        e.name()
                    ),
                    Some(e.attempts[0].d),
                ));
            }
        }
    }
    if links == 0 {
        out.push(skipped("SND-009", "", "no embedded link was observed"));
    } else {
        out.push(verdict(
            "SND-009",
            "",
            &format!("{links} links pointed to earlier events"),
            p9,
        ));
    }
    out.push(chain_ids(&evs));
    out.push(sequences(&evs, manifest));
    out
}

/// The events as the subject-id rules read them (CDE-SUB-006/007).
fn lifecycle_steps<'a>(evs: &[&'a Event<'a>]) -> Vec<Step<'a>> {
    evs.iter()
        .filter_map(|e| {
            let (kind, predicate) = e.type_parts()?;
            Some(Step {
                source: &e.source,
                kind,
                subject: e.subject()?,
                predicate,
                timestamp: e.timestamp(),
                name: e.name(),
                delivery: e.attempts[0].d,
            })
        })
        .collect()
}

fn last_answer(e: &Event) -> String {
    match e.attempts.last().map(|a| (a.d.status, a.d.fault)) {
        Some((Some(s), _)) => s.to_string(),
        Some((None, f)) => format!("nothing ({f})"),
        None => "-".to_owned(),
    }
}

fn event_case(id: &str, findings: Vec<(Finding, &Delivery)>, counted: usize) -> CaseResult {
    if findings.is_empty() {
        return case(
            id,
            "",
            Status::Passed,
            format!("no finding in {counted} events"),
        );
    }
    let n = findings.len();
    let mut c = case(
        id,
        "",
        Status::Failed,
        format!(
            "{n} findings in {counted} events; first: {}",
            findings[0].0.message
        ),
    );
    // The request that carried the first finding, and its event as decoded.
    let first = findings[0].1;
    let mut ev = evidence(first);
    ev.event = first.events.first().map(|e| e.envelope.cdevent.clone());
    c.evidence = Some(ev);
    c.findings = findings
        .into_iter()
        .take(MAX_EXAMPLES)
        .map(|(f, _)| f)
        .collect();
    c
}

/// A CloudEvents extension attribute as text (binary mode gives strings; structured mode may
/// give numbers).
fn extension_text(ce: &crate::input::CeAttributes, name: &str) -> Option<String> {
    match ce.extensions.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// CE-HTTP-004 and CE-HTTP-005, judged on the raw bytes of every `ce-` header: what must be
/// percent-encoded is, and the hex digits are upper case. The decoder also refuses the worst
/// of these (raw non-ASCII, a bad `%`); WH-003 leaves those requests to these cases.
fn header_encoding(deliveries: &[&Delivery]) -> [CaseResult; 2] {
    let mut headers = 0usize;
    let mut p4 = Vec::new();
    let mut p5 = Vec::new();
    for d in deliveries {
        for (name, raw) in &d.headers {
            if !name.to_ascii_lowercase().starts_with("ce-") {
                continue;
            }
            headers += 1;
            let (bad, lower) = scan_header_value(raw);
            if let Some(why) = bad {
                p4.push((format!("request #{}: {name} {why}", d.index), Some(*d)));
            }
            if let Some(at) = lower {
                p5.push((
                    format!(
                        "request #{}: {name} percent-encodes with lower-case hex digits at byte {at}",
                        d.index
                    ),
                    Some(*d),
                ));
            }
        }
    }
    if headers == 0 {
        let why = "no binary-mode request: no ce- header to judge";
        return [
            skipped("CE-HTTP-004", "", why),
            skipped("CE-HTTP-005", "", why),
        ];
    }
    [
        verdict(
            "CE-HTTP-004",
            "",
            &format!("{headers} ce- header values were percent-encoded"),
            p4,
        ),
        verdict(
            "CE-HTTP-005",
            "",
            &format!("{headers} ce- header values used upper-case hex digits"),
            p5,
        ),
    ]
}

/// The first byte a sender must have percent-encoded (as a message), and the position of the
/// first percent-encoding with a lower-case hex digit. The value is as the HTTP parser kept it
/// (surrounding whitespace removed, bytes otherwise untouched).
pub(crate) fn scan_header_value(raw: &[u8]) -> (Option<String>, Option<usize>) {
    let mut bad = None;
    let mut lower = None;
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        let why = match b {
            b' ' => Some(format!("has a literal space at byte {i} (write %20)")),
            b'"' => Some(format!("has a literal double quote at byte {i} (write %22)")),
            b'%' => {
                let hex = |j: usize| raw.get(j).filter(|c| c.is_ascii_hexdigit());
                match (hex(i + 1), hex(i + 2)) {
                    (Some(h), Some(l)) => {
                        if lower.is_none() && (h.is_ascii_lowercase() || l.is_ascii_lowercase()) {
                            lower = Some(i);
                        }
                        i += 2;
                        None
                    }
                    _ => Some(format!(
                        "has a % at byte {i} not followed by two hex digits (a literal % is %25)"
                    )),
                }
            }
            0x21..=0x7E => None,
            _ => Some(format!(
                "has the raw byte 0x{b:02X} at byte {i}, outside printable ASCII (percent-encode its UTF-8 octets)"
            )),
        };
        if bad.is_none() {
            bad = why;
        }
        i += 1;
    }
    (bad, lower)
}

/// WH-005: a request for the path a redirect named followed it.
fn redirects(deliveries: &[&Delivery]) -> CaseResult {
    let answered = deliveries.iter().filter(|d| d.status == Some(307)).count();
    if answered == 0 {
        return skipped(
            "WH-005",
            "",
            "no delivery was answered with a redirect (use --faults redirect:RATE)",
        );
    }
    verdict(
        "WH-005",
        "",
        &format!("{answered} redirects were not followed"),
        deliveries
            .iter()
            .filter(|d| d.path.starts_with(super::sink::REDIRECT_PATH))
            .map(|d| {
                (
                    format!(
                        "request #{} followed a redirect to {}",
                        d.index,
                        super::sink::REDIRECT_PATH
                    ),
                    Some(*d),
                )
            })
            .collect(),
    )
}

/// WH-008: nothing arrives after the sink answered 410 Gone.
fn after_gone(deliveries: &[&Delivery]) -> CaseResult {
    let Some(gone) = deliveries.iter().find(|d| d.status == Some(410)) else {
        return skipped(
            "WH-008",
            "",
            "no delivery was answered 410 Gone (use --faults 410:RATE)",
        );
    };
    verdict(
        "WH-008",
        "",
        &format!(
            "nothing was delivered after request #{} was answered 410 Gone",
            gone.index
        ),
        deliveries
            .iter()
            .filter(|d| d.received > gone.answered)
            .map(|d| {
                (
                    format!(
                        "request #{} came {} ms after request #{} was answered 410 Gone",
                        d.index,
                        (d.received - gone.answered).as_millis(),
                        gone.index
                    ),
                    Some(*d),
                )
            })
            .collect(),
    )
}

/// The trace-id of a W3C `traceparent` (`version-traceid-parentid-flags`), lower-cased.
fn trace_id(tp: &str) -> Option<String> {
    let id = tp.trim().split('-').nth(1)?;
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

/// SND-011: the `traceparent` extension and the `traceparent` HTTP header of one delivery name
/// the same trace.
fn trace_context(deliveries: &[&Delivery]) -> CaseResult {
    let mut both = 0;
    let mut p = Vec::new();
    for d in deliveries {
        let Some(header) = d.header("traceparent") else {
            continue;
        };
        for e in &d.events {
            let Some(ext) = e
                .envelope
                .ce
                .as_ref()
                .and_then(|c| extension_text(c, "traceparent"))
            else {
                continue;
            };
            both += 1;
            if trace_id(&ext) != trace_id(&header) || trace_id(&ext).is_none() {
                p.push((
                    format!(
                        "request #{}: the traceparent extension {:?} and the traceparent header {:?} name different traces",
                        d.index, ext, header
                    ),
                    Some(*d),
                ));
            }
        }
    }
    if both == 0 {
        return skipped(
            "SND-011",
            "",
            "no delivery carried both the traceparent extension and a traceparent header",
        );
    }
    verdict(
        "SND-011",
        "",
        &format!("{both} events carried the trace of their request's traceparent header"),
        p,
    )
}

/// SND-014 (claim-conditional): events arrive in the order the sender claims. With a manifest,
/// the order the sender emitted its events is the manifest's, and the order that counts is
/// that of the acknowledged deliveries (what a consumer processes); without one, timestamps
/// stand in for the emission order.
fn claimed_order(
    evs: &[&Event],
    ordering: Ordering,
    manifest: Option<&[ManifestEntry]>,
) -> CaseResult {
    if ordering == Ordering::None {
        return skipped("SND-014", "", "no ordering claim (--ordering)");
    }
    let group = |e: &Event| -> Option<String> {
        match ordering {
            Ordering::Total => Some(String::new()),
            _ => e.subject().map(str::to_owned),
        }
    };
    let mut p = Vec::new();
    let basis;
    if let Some(m) = manifest {
        basis = "manifest";
        let pos: HashMap<(&str, &str), usize> = m
            .iter()
            .enumerate()
            .map(|(i, x)| ((x.source.as_str(), x.id.as_str()), i))
            .collect();
        let mut delivered: Vec<(Duration, usize, &Event)> = evs
            .iter()
            .filter_map(|e| {
                let ack = e.attempts.iter().find(|a| a.d.acknowledged())?;
                let at = *pos.get(&(e.source.as_str(), e.id.as_str()))?;
                Some((ack.d.received, at, *e))
            })
            .collect();
        delivered.sort_by_key(|(t, _, _)| *t);
        let mut last: HashMap<String, (usize, &Event)> = HashMap::new();
        for (_, at, e) in delivered {
            let Some(g) = group(e) else { continue };
            if let Some((pat, pe)) = last.get(&g) {
                if at < *pat {
                    p.push((
                        format!(
                            "{} was delivered after {} although the manifest lists it earlier",
                            e.name(),
                            pe.name()
                        ),
                        e.attempts.iter().find(|a| a.d.acknowledged()).map(|a| a.d),
                    ));
                    continue;
                }
            }
            last.insert(g, (at, e));
        }
    } else {
        basis = "timestamp";
        let mut prev: HashMap<String, (&Event, chrono::DateTime<chrono::FixedOffset>)> =
            HashMap::new();
        for e in evs {
            let (Some(ts), Some(g)) = (e.timestamp(), group(e)) else {
                continue;
            };
            if let Some((pe, pts)) = prev.get(&g) {
                if ts < *pts {
                    p.push((
                        format!(
                            "{} arrived after {} although it is timestamped earlier",
                            e.name(),
                            pe.name()
                        ),
                        Some(e.attempts[0].d),
                    ));
                    continue;
                }
            }
            prev.insert(g, (e, ts));
        }
    }
    verdict(
        "SND-014",
        "",
        &format!("events arrived in {basis} order, {ordering} as claimed"),
        p,
    )
}

/// SND-015: what arrived matches the manifest: nothing unlisted arrived and, when the sink
/// injected no fault, every listed event arrived.
fn manifest_case(
    missing: &[(String, Option<&Delivery>)],
    strays: Vec<(String, Option<&Delivery>)>,
    faulted: bool,
) -> CaseResult {
    let mut p = strays;
    if !faulted {
        p.extend(missing.iter().cloned());
    }
    verdict(
        "SND-015",
        "",
        if faulted {
            "every event that arrived is in the manifest (losses under faults are SND-006's)"
        } else {
            "every event in the manifest arrived, and nothing else"
        },
        p,
    )
}

/// CDE-LNK-007: an event whose embedded PATH link names an observed event carries that
/// event's chainId.
fn chain_ids(evs: &[&Event]) -> CaseResult {
    let by_id: HashMap<&str, &Event> = evs.iter().map(|e| (e.id.as_str(), *e)).collect();
    let mut judged = 0;
    let mut p = Vec::new();
    for e in evs {
        let Some(links) = at(e.cdevent, &["context", "links"]).and_then(Value::as_array) else {
            continue;
        };
        for l in links {
            if l.get("linkType").and_then(Value::as_str) != Some("PATH") {
                continue;
            }
            let Some(from) = at(l, &["from", "contextId"])
                .and_then(Value::as_str)
                .and_then(|id| by_id.get(id))
            else {
                continue;
            };
            let Some(chain) = from.chain_id() else {
                continue;
            };
            judged += 1;
            if e.chain_id() != Some(chain) {
                p.push((
                    format!(
                        "{} links from {} (chainId {chain}) but carries chainId {:?}",
                        e.name(),
                        from.id,
                        e.chain_id()
                    ),
                    Some(e.attempts[0].d),
                ));
            }
        }
    }
    if judged == 0 {
        return skipped(
            "CDE-LNK-007",
            "",
            "no PATH link named an observed event that has a chainId",
        );
    }
    verdict(
        "CDE-LNK-007",
        "",
        &format!("{judged} PATH links stayed in the chain of the event they name"),
        p,
    )
}

/// SND-010: per source, `sequence` values grow by string comparison in the order the events
/// were emitted: the manifest's when there is one, else the order they first arrived.
fn sequences(evs: &[&Event], manifest: Option<&[ManifestEntry]>) -> CaseResult {
    let mut seq: Vec<(usize, &Event, &str)> = evs
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((i, *e, e.attempts[0].sequence.as_deref()?)))
        .collect();
    if seq.is_empty() {
        return skipped("SND-010", "", "no event carried the sequence extension");
    }
    let basis = if let Some(m) = manifest {
        let pos: HashMap<(&str, &str), usize> = m
            .iter()
            .enumerate()
            .map(|(i, x)| ((x.source.as_str(), x.id.as_str()), i))
            .collect();
        for s in &mut seq {
            s.0 = pos
                .get(&(s.1.source.as_str(), s.1.id.as_str()))
                .copied()
                .unwrap_or(usize::MAX);
        }
        seq.sort_by_key(|s| s.0);
        "manifest"
    } else {
        "arrival"
    };
    let mut last: HashMap<&str, (&Event, &str)> = HashMap::new();
    let mut p = Vec::new();
    for (_, e, v) in &seq {
        if let Some((pe, pv)) = last.get(e.source.as_str()) {
            if *v <= *pv {
                p.push((
                    format!(
                        "{} has sequence {v:?}, not greater (as a string) than {pv:?} of {}, emitted before it",
                        e.name(),
                        pe.name()
                    ),
                    Some(e.attempts[0].d),
                ));
            }
        }
        last.insert(e.source.as_str(), (*e, *v));
    }
    verdict(
        "SND-010",
        "",
        &format!("{} sequence values grew in {basis} order", seq.len()),
        p,
    )
}

/// SND-007 on the delays between one event's attempts after retryable failures: the first
/// that came too soon (hammering), or the last when the delay shrank to less than half of the
/// first by more than the measurement slack. The index is the offending delay's.
fn backoff_problem(delays: &[Duration]) -> Option<(usize, String)> {
    if let Some(i) = delays.iter().position(|g| *g < MIN_RETRY_GAP) {
        return Some((
            i,
            format!("retried {} ms after a failure", delays[i].as_millis()),
        ));
    }
    let (first, last) = (*delays.first()?, *delays.last()?);
    (delays.len() >= 2 && last * 2 < first && first - last > SHRINK_SLACK).then(|| {
        (
            delays.len() - 1,
            format!(
                "the retry delay shrank from {} ms to {} ms",
                first.as_millis(),
                last.as_millis()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_scanned_as_bytes() {
        let bad = |v: &[u8]| scan_header_value(v).0;
        assert_eq!(scan_header_value(b"a%20b%22c%C3%A9/~"), (None, None));
        assert!(bad(b"a b").unwrap().contains("space at byte 1"));
        assert!(bad(b"\"quoted\"")
            .unwrap()
            .contains("double quote at byte 0"));
        assert!(bad(b"caf\xc3\xa9").unwrap().contains("0xC3 at byte 3"));
        assert!(bad(b"tab\there").unwrap().contains("0x09"));
        assert!(bad(b"100%").unwrap().contains("% at byte 3"));
        assert!(bad(b"%zz").is_some());
        assert_eq!(scan_header_value(b"x%c3%A9"), (None, Some(1)));
        assert_eq!(scan_header_value(b"x%C3%a9"), (None, Some(4)));
    }

    #[test]
    fn backoff_is_judged_on_the_delays_between_attempts() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        // Growing, or steady: backing off.
        assert_eq!(backoff_problem(&ms(&[20, 40, 80])), None);
        assert_eq!(backoff_problem(&ms(&[50, 50, 50])), None);
        assert_eq!(backoff_problem(&[]), None);
        // Hammering: an attempt at once after a failure.
        let (i, why) = backoff_problem(&ms(&[30, 2, 60])).expect("too soon");
        assert_eq!(i, 1);
        assert!(why.contains("retried 2 ms"), "{why}");
        // Speeding up: from a second to a tenth of it.
        let (i, why) = backoff_problem(&ms(&[1000, 500, 100])).expect("shrank");
        assert_eq!(i, 2);
        assert!(why.contains("from 1000 ms to 100 ms"), "{why}");
        // A first delay stretched by a late wake-up is noise, not speeding up.
        assert_eq!(backoff_problem(&ms(&[90, 40])), None);
    }

    #[test]
    fn the_hash_without_the_id_ignores_the_id_and_member_order_only() {
        let a = serde_json::json!({"context": {"id": "1", "type": "t", "source": "/s"}, "subject": {"id": "x"}});
        let b = serde_json::json!({"subject": {"id": "x"}, "context": {"source": "/s", "type": "t", "id": "2"}});
        let no_id =
            serde_json::json!({"context": {"type": "t", "source": "/s"}, "subject": {"id": "x"}});
        let other = serde_json::json!({"context": {"id": "1", "type": "t", "source": "/s"}, "subject": {"id": "y"}});
        let moved = serde_json::json!({"context": {"id": "1", "type": "t"}, "subject": {"id": "x", "source": "/s"}});
        let h = content_hash_sans_id;
        assert_eq!(h(&a), h(&b));
        assert_eq!(h(&a), h(&no_id));
        assert_ne!(h(&a), h(&other));
        assert_ne!(h(&a), h(&moved));
        assert_eq!(at(&a, &["context", "type"]), a.pointer("/context/type"));
        assert_eq!(at(&a, &["context", "nope"]), None);
    }

    #[test]
    fn trace_ids_compare_without_case_and_need_the_w3c_shape() {
        let a = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let b = "00-4BF92F3577B34DA6A3CE929D0E0E4736-b7ad6b7169203331-00";
        assert_eq!(trace_id(a), trace_id(b));
        assert!(trace_id(a).is_some());
        assert_eq!(trace_id("00-xyz-00f067aa0ba902b7-01"), None);
        assert_eq!(trace_id(""), None);
    }
}

#[cfg(test)]
mod parallel_tests {
    use super::*;
    use crate::generators::{arb_event, arb_invalid_event};
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    /// 120 envelopes: two valid events for each one with a rule broken.
    fn envelopes() -> Vec<Envelope> {
        let mut runner = TestRunner::deterministic();
        let valid = arb_event(SpecVersion::V0_4_1);
        let invalid = arb_invalid_event(SpecVersion::V0_4_1);
        (0..120)
            .map(|i| {
                let cdevent = if i % 3 == 2 {
                    invalid.new_tree(&mut runner).unwrap().current().1.event
                } else {
                    valid.new_tree(&mut runner).unwrap().current().1
                };
                Envelope {
                    mode: ContentMode::Binary,
                    ce: None,
                    content_type: Some("application/json".into()),
                    cdevent,
                    raw_data_was_base64: false,
                }
            })
            .collect()
    }

    #[test]
    fn checks_on_many_threads_match_one_thread() {
        let registry = Registry::embedded().unwrap();
        let owned = envelopes();
        let todo: Vec<&Envelope> = owned.iter().collect();
        let render = |fs: Vec<Vec<Finding>>| -> Vec<Vec<(String, String)>> {
            fs.into_iter()
                .map(|f| f.into_iter().map(|f| (f.id, f.message)).collect())
                .collect()
        };
        let one = render(check_on(&todo, &registry, None, 1));
        assert_eq!(one.len(), todo.len());
        let with_findings = one.iter().filter(|f| !f.is_empty()).count();
        assert!(with_findings >= 40, "{with_findings} events with findings");
        for threads in [2, 3, 7] {
            assert_eq!(
                render(check_on(&todo, &registry, None, threads)),
                one,
                "{threads} threads"
            );
        }
        assert_eq!(check_threads(PARALLEL_CHECKS_FROM - 1), 1);
    }
}
