//! The reference sender's deliberate faults, one broken rule each.

use std::fmt;
use std::str::FromStr;

use chrono::{SecondsFormat, Utc};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::{uuid, Planned};
use crate::input::CeAttributes;
use crate::wire::{percent_encode_header_value, Mode, WireRequest};

/// One rule the reference sender breaks on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SenderFault {
    /// The second event reuses the first one's id.
    ReuseId,
    /// `ce-type` differs from `context.type`.
    CeTypeMismatch,
    /// `context.timestamp` (and the CloudEvents time) is not RFC 3339.
    BadTimestamp,
    /// No CloudEvents `source`.
    OmitCeSource,
    /// The CloudEvents `time` is the send time, not the CDEvent's timestamp.
    CeTimeIsSendTime,
    /// Gives up after a 503.
    NoRetryOn503,
    /// Retries after 400, 413 and 415.
    RetryOn400,
    /// Retries under a new id.
    RetryNewId,
    /// Sends `finished` before `started`.
    FinishedBeforeStarted,
    /// Links to an event it never sends.
    DanglingLink,
    /// Retries at once, without backing off.
    NoBackoff,
    /// Retries before the `Retry-After` of a 429 has passed.
    IgnoreRetryAfter,
    /// Writes `ce-` header values unencoded, as cloudevents-sdk's binary-mode serializer does.
    RawHeaderValues,
    /// Percent-encodes `ce-` header values with lower-case hex digits.
    LowercasePercent,
    /// `sequence` values are plain decimals, so `10` sorts before `9`.
    UnpaddedSequence,
    /// The `traceparent` HTTP header names another trace than the extension.
    TraceparentMismatch,
    /// An event linking from another carries a new chainId.
    BrokenChain,
    /// Follows a redirect answered to a delivery.
    FollowRedirect,
    /// Keeps delivering after 410 Gone.
    IgnoreGone,
    /// Puts a failed event at the back of the queue, delivering later ones first.
    RetryOutOfOrder,
    /// Delivers with PUT instead of POST.
    PutMethod,
    /// Sends batches to a target that did not ask for them.
    UnaskedBatch,
    /// Sends binary-mode deliveries without a Content-Type header.
    OmitContentType,
    /// Adds a ce-datacontenttype header to binary-mode deliveries.
    CeDatacontenttypeHeader,
    /// Writes the extensions' headers with the Kafka binding's `ce_` prefix.
    KafkaStyleHeaders,
    /// Structured mode with a bare CDEvent as the body.
    StructuredBareCdevent,
    /// Structured mode with the `sequence` extension only in a `ce-` header.
    HeaderOnlyAttribute,
    /// Batch mode with a JSON array of bare CDEvents as the body.
    BatchOfBareCdevents,
    /// Structured mode with both `data` and `data_base64`.
    DataAndDataBase64,
    /// Structured mode with the `specversion` member written twice.
    DuplicateMember,
    /// Binary mode with the `ce-id` header written twice.
    RepeatedCeHeader,
    /// Every event gets a new subject id, so no lifecycle is followed under one id.
    NewSubjectIdPerEvent,
    /// A second subject takes the id of the first.
    ReuseSubjectId,
    /// Delivers without the validation handshake.
    NoHandshake,
    /// Sends the validation request without WebHook-Request-Origin.
    NoOrigin,
    /// Names another origin in deliveries after the first than in the handshake.
    OriginChanges,
    /// Sends the access token with the first delivery only.
    TokenMissingAfterFirst,
}

impl SenderFault {
    /// Every fault.
    pub const ALL: [SenderFault; 37] = [
        SenderFault::ReuseId,
        SenderFault::CeTypeMismatch,
        SenderFault::BadTimestamp,
        SenderFault::OmitCeSource,
        SenderFault::CeTimeIsSendTime,
        SenderFault::NoRetryOn503,
        SenderFault::RetryOn400,
        SenderFault::RetryNewId,
        SenderFault::FinishedBeforeStarted,
        SenderFault::DanglingLink,
        SenderFault::NoBackoff,
        SenderFault::IgnoreRetryAfter,
        SenderFault::RawHeaderValues,
        SenderFault::LowercasePercent,
        SenderFault::UnpaddedSequence,
        SenderFault::TraceparentMismatch,
        SenderFault::BrokenChain,
        SenderFault::FollowRedirect,
        SenderFault::IgnoreGone,
        SenderFault::RetryOutOfOrder,
        SenderFault::PutMethod,
        SenderFault::UnaskedBatch,
        SenderFault::OmitContentType,
        SenderFault::CeDatacontenttypeHeader,
        SenderFault::KafkaStyleHeaders,
        SenderFault::StructuredBareCdevent,
        SenderFault::HeaderOnlyAttribute,
        SenderFault::BatchOfBareCdevents,
        SenderFault::DataAndDataBase64,
        SenderFault::DuplicateMember,
        SenderFault::RepeatedCeHeader,
        SenderFault::NewSubjectIdPerEvent,
        SenderFault::ReuseSubjectId,
        SenderFault::NoHandshake,
        SenderFault::NoOrigin,
        SenderFault::OriginChanges,
        SenderFault::TokenMissingAfterFirst,
    ];

    /// The `--fault` name.
    pub fn name(self) -> &'static str {
        match self {
            SenderFault::ReuseId => "reuse-id",
            SenderFault::CeTypeMismatch => "ce-type-mismatch",
            SenderFault::BadTimestamp => "bad-timestamp",
            SenderFault::OmitCeSource => "omit-ce-source",
            SenderFault::CeTimeIsSendTime => "ce-time-is-send-time",
            SenderFault::NoRetryOn503 => "no-retry-on-503",
            SenderFault::RetryOn400 => "retry-on-400",
            SenderFault::RetryNewId => "retry-new-id",
            SenderFault::FinishedBeforeStarted => "finished-before-started",
            SenderFault::DanglingLink => "dangling-link",
            SenderFault::NoBackoff => "no-backoff",
            SenderFault::IgnoreRetryAfter => "ignore-retry-after",
            SenderFault::RawHeaderValues => "raw-header-values",
            SenderFault::LowercasePercent => "lowercase-percent",
            SenderFault::UnpaddedSequence => "unpadded-sequence",
            SenderFault::TraceparentMismatch => "traceparent-mismatch",
            SenderFault::BrokenChain => "broken-chain",
            SenderFault::FollowRedirect => "follow-redirect",
            SenderFault::IgnoreGone => "ignore-gone",
            SenderFault::RetryOutOfOrder => "retry-out-of-order",
            SenderFault::PutMethod => "put-method",
            SenderFault::UnaskedBatch => "unasked-batch",
            SenderFault::OmitContentType => "omit-content-type",
            SenderFault::CeDatacontenttypeHeader => "ce-datacontenttype-header",
            SenderFault::KafkaStyleHeaders => "kafka-style-headers",
            SenderFault::StructuredBareCdevent => "structured-bare-cdevent",
            SenderFault::HeaderOnlyAttribute => "header-only-attribute",
            SenderFault::BatchOfBareCdevents => "batch-of-bare-cdevents",
            SenderFault::DataAndDataBase64 => "data-and-data-base64",
            SenderFault::DuplicateMember => "duplicate-member",
            SenderFault::RepeatedCeHeader => "repeated-ce-header",
            SenderFault::NewSubjectIdPerEvent => "new-subject-id-per-event",
            SenderFault::ReuseSubjectId => "reuse-subject-id",
            SenderFault::NoHandshake => "no-handshake",
            SenderFault::NoOrigin => "no-origin",
            SenderFault::OriginChanges => "origin-changes",
            SenderFault::TokenMissingAfterFirst => "token-missing-after-first",
        }
    }

    /// The requirements the sender suite must fail for it (and the sink's fault plan and
    /// claim that expose it: see [`SenderFault::exposed_by`]).
    pub fn breaks(self) -> &'static [&'static str] {
        match self {
            // The second event then looks like a redelivery of the first, acknowledged, event
            // with another timestamp, linking to an event that came before it under its id.
            // The second event looks like a redelivery of the acknowledged first (SND-016).
            SenderFault::ReuseId => &[
                "CDE-CTX-012",
                "SND-001",
                "SND-003",
                "SND-004",
                "SND-009",
                "SND-016",
            ],
            SenderFault::CeTypeMismatch => &["CDE-CE-005"],
            SenderFault::BadTimestamp => &["CDE-CTX-008", "CDE-CE-011"],
            SenderFault::OmitCeSource => &["CDE-CE-001"],
            SenderFault::CeTimeIsSendTime => &["CDE-CE-007"],
            SenderFault::NoRetryOn503 => &["SND-006"],
            SenderFault::RetryOn400 => &["SND-005"],
            // The event under its first id is then never acknowledged (at-least-once broken).
            // The new id is in no manifest (SND-015) and repeats the sequence value (SND-010).
            SenderFault::RetryNewId => &["SND-002", "SND-006", "SND-010", "SND-015"],
            // `finished` links to `started`, which now comes after it.
            SenderFault::FinishedBeforeStarted => &["SND-008", "SND-009"],
            SenderFault::DanglingLink => &["SND-009"],
            SenderFault::NoBackoff => &["SND-007"],
            SenderFault::IgnoreRetryAfter => &["WH-010"],
            // The sink cannot decode raw non-ASCII headers and refuses them: those events are
            // never acknowledged (SND-006) and never arrive (SND-015).
            SenderFault::RawHeaderValues => &["CE-HTTP-004", "SND-006", "SND-015"],
            SenderFault::LowercasePercent => &["CE-HTTP-005"],
            SenderFault::UnpaddedSequence => &["SND-010"],
            SenderFault::TraceparentMismatch => &["SND-011"],
            SenderFault::BrokenChain => &["CDE-LNK-007"],
            SenderFault::FollowRedirect => &["WH-005"],
            SenderFault::IgnoreGone => &["WH-008"],
            // Re-queued events are retried as soon as their turn comes, without backing off.
            SenderFault::RetryOutOfOrder => &["SND-014"],
            SenderFault::PutMethod => &["WH-001"],
            SenderFault::UnaskedBatch => &["CE-HTTP-015"],
            // Without Content-Type the data is not declared application/json either.
            SenderFault::OmitContentType => &["WH-003", "CDE-CE-008"],
            SenderFault::CeDatacontenttypeHeader => &["CE-HTTP-002"],
            // Without their ce- headers the events carry no sequence or traceparent extension,
            // so SND-010 and SND-011 have nothing to judge.
            SenderFault::KafkaStyleHeaders => &["CE-HTTP-001"],
            // The sink refuses every request (nothing decodes), so no event rule has an event.
            SenderFault::StructuredBareCdevent => &["CE-HTTP-012"],
            SenderFault::HeaderOnlyAttribute => &["CE-HTTP-013"],
            SenderFault::BatchOfBareCdevents => &["CE-HTTP-014"],
            SenderFault::DataAndDataBase64 => &["CE-HTTP-019"],
            // serde_json keeps the last of two equal members: only the raw body shows it.
            SenderFault::DuplicateMember => &["CDE-CE-016"],
            SenderFault::RepeatedCeHeader => &["CDE-CE-016"],
            SenderFault::NewSubjectIdPerEvent => &["CDE-SUB-006"],
            // The build's queued then follows the pipelinerun's finished under one subject id.
            SenderFault::ReuseSubjectId => &["CDE-SUB-007", "SND-008"],
            // Judged in the webhook profile (`SenderFault::webhook_profile`), where the sink
            // answers 403 to every delivery without a granted handshake: no event arrives.
            SenderFault::NoHandshake | SenderFault::NoOrigin => &["WH-016"],
            SenderFault::OriginChanges => &["WH-017"],
            SenderFault::TokenMissingAfterFirst => &["WH-013"],
        }
    }

    /// The sink fault plan that exposes it (`none` for faults visible in any event).
    pub fn exposed_by(self) -> &'static str {
        match self {
            SenderFault::NoRetryOn503 | SenderFault::RetryNewId | SenderFault::RetryOutOfOrder => {
                "503:0.5"
            }
            // Four failures per event: dozens of retry gaps, so that one sent at once is seen
            // even when a loaded machine delays some of them past the judge's 10 ms.
            SenderFault::NoBackoff => "503:1,max=4",
            SenderFault::FollowRedirect => "redirect:0.3,max=1",
            SenderFault::IgnoreGone => "410:0.2,max=1",
            SenderFault::RetryOn400 => "400:0.3",
            SenderFault::IgnoreRetryAfter => "429:0.3,max=1",
            _ => "none",
        }
    }

    /// One line: what it does.
    pub fn describe(self) -> &'static str {
        match self {
            SenderFault::ReuseId => "the second event reuses the id of the first",
            SenderFault::CeTypeMismatch => "ce type differs from context.type",
            SenderFault::BadTimestamp => "context.timestamp and ce time are not RFC 3339",
            SenderFault::OmitCeSource => "no CloudEvents source attribute",
            SenderFault::CeTimeIsSendTime => "ce time is the send time, not context.timestamp",
            SenderFault::NoRetryOn503 => "gives up after a 503",
            SenderFault::RetryOn400 => "retries after 400, 413 and 415",
            SenderFault::RetryNewId => "retries a failed delivery under a new id",
            SenderFault::FinishedBeforeStarted => "sends finished before started",
            SenderFault::DanglingLink => "links to an event it never sends",
            SenderFault::NoBackoff => "retries at once, without backing off",
            SenderFault::IgnoreRetryAfter => "retries before a 429's Retry-After has passed",
            SenderFault::PutMethod => "delivers with PUT instead of POST",
            SenderFault::UnaskedBatch => "sends batches to a target that did not ask for them",
            SenderFault::OmitContentType => "sends binary-mode deliveries without Content-Type",
            SenderFault::CeDatacontenttypeHeader => {
                "adds a ce-datacontenttype header to binary-mode deliveries"
            }
            SenderFault::KafkaStyleHeaders => {
                "writes extension headers with the Kafka prefix (ce_sequence, ce_traceparent)"
            }
            SenderFault::StructuredBareCdevent => {
                "structured mode, the bare CDEvent as the body (no JSON-format envelope)"
            }
            SenderFault::HeaderOnlyAttribute => {
                "structured mode, the sequence extension only in a ce- header, not in the body"
            }
            SenderFault::BatchOfBareCdevents => "batch mode, a JSON array of bare CDEvents",
            SenderFault::DataAndDataBase64 => "structured mode, both data and data_base64",
            SenderFault::DuplicateMember => "structured mode, the specversion member twice",
            SenderFault::RepeatedCeHeader => "binary mode, the ce-id header twice",
            SenderFault::NewSubjectIdPerEvent => "every event of a lifecycle gets a new subject id",
            SenderFault::ReuseSubjectId => "a second subject (a build) reuses the first's id",
            SenderFault::NoHandshake => {
                "--webhook: delivers without the OPTIONS validation handshake"
            }
            SenderFault::NoOrigin => {
                "--webhook: the validation request has no WebHook-Request-Origin"
            }
            SenderFault::OriginChanges => {
                "--webhook: deliveries after the first name another origin"
            }
            SenderFault::TokenMissingAfterFirst => {
                "--token: sends the access token with the first delivery only"
            }
            SenderFault::RawHeaderValues => {
                "writes ce- header values unencoded (as cloudevents-sdk's binary serializer does)"
            }
            SenderFault::LowercasePercent => "percent-encodes ce- headers in lower-case hex",
            SenderFault::UnpaddedSequence => "sequence values 1, 2, ... 10 do not sort as strings",
            SenderFault::TraceparentMismatch => {
                "the traceparent header names another trace than the extension"
            }
            SenderFault::BrokenChain => "an event linking from another starts a new chainId",
            SenderFault::FollowRedirect => "follows a redirect answered to a delivery",
            SenderFault::IgnoreGone => "keeps delivering after 410 Gone",
            SenderFault::RetryOutOfOrder => {
                "a failed event goes to the back of the queue, later ones are delivered first"
            }
        }
    }

    pub(super) fn apply_to_plan(self, planned: &mut [Planned], rng: &mut ChaCha8Rng) {
        match self {
            SenderFault::ReuseId if planned.len() > 1 => {
                let id = planned[0].event["context"]["id"].clone();
                planned[1].event["context"]["id"] = id;
            }
            SenderFault::BadTimestamp => {
                for p in planned.iter_mut() {
                    p.event["context"]["timestamp"] = json!("2024-01-01 10:00:00");
                }
            }
            SenderFault::FinishedBeforeStarted => {
                let pred = |p: &Planned| {
                    p.event["context"]["type"]
                        .as_str()
                        .and_then(|t| t.split('.').nth(3))
                        .unwrap_or("")
                        .to_owned()
                };
                for i in 0..planned.len().saturating_sub(1) {
                    if pred(&planned[i]) == "started"
                        && pred(&planned[i + 1]) == "finished"
                        && planned[i].subject == planned[i + 1].subject
                    {
                        planned.swap(i, i + 1);
                        break;
                    }
                }
            }
            SenderFault::UnpaddedSequence => {
                // The run assigns no padded values after this fault.
                for (i, p) in planned.iter_mut().enumerate() {
                    p.sequence = (i + 1).to_string();
                }
            }
            SenderFault::BrokenChain => {
                if let Some(p) = planned
                    .iter_mut()
                    .find(|p| p.event.pointer("/context/links").is_some())
                {
                    p.event["context"]["chainId"] = json!(uuid(rng));
                }
            }
            SenderFault::NewSubjectIdPerEvent => {
                for (i, p) in planned.iter_mut().enumerate() {
                    let id = format!("{}-event-{i}", p.subject);
                    p.event["subject"]["id"] = json!(id);
                    p.subject = id;
                }
            }
            SenderFault::ReuseSubjectId => {
                let mut subjects: Vec<String> = Vec::new();
                for p in planned.iter() {
                    if !subjects.contains(&p.subject) {
                        subjects.push(p.subject.clone());
                    }
                }
                if let (Some(first), Some(third)) = (subjects.first(), subjects.get(2)) {
                    for p in planned.iter_mut().filter(|p| &p.subject == third) {
                        p.event["subject"]["id"] = json!(first);
                        p.subject = first.clone();
                    }
                }
            }
            SenderFault::DanglingLink => {
                if let Some(p) = planned.last_mut() {
                    p.event["context"]["links"] =
                        json!([{"linkType": "PATH", "from": {"contextId": uuid(rng)}}]);
                }
            }
            _ => {}
        }
    }

    /// The content mode the fault sends in, whatever the configured one.
    pub fn forced_mode(self) -> Option<Mode> {
        match self {
            SenderFault::UnaskedBatch | SenderFault::BatchOfBareCdevents => Some(Mode::Batch),
            SenderFault::StructuredBareCdevent
            | SenderFault::HeaderOnlyAttribute
            | SenderFault::DataAndDataBase64
            | SenderFault::DuplicateMember => Some(Mode::Structured),
            SenderFault::KafkaStyleHeaders | SenderFault::RepeatedCeHeader => Some(Mode::Binary),
            _ => None,
        }
    }

    /// Whether the self-test judges it in the webhook profile, with an access token.
    pub fn webhook_profile(self) -> bool {
        matches!(
            self,
            SenderFault::NoHandshake
                | SenderFault::NoOrigin
                | SenderFault::OriginChanges
                | SenderFault::TokenMissingAfterFirst
        )
    }

    /// Whether the self-test's sink asks for batches when judging it (a batch it sends is
    /// then no CE-HTTP-015 finding).
    pub fn batch_asked(self) -> bool {
        self == SenderFault::BatchOfBareCdevents
    }

    /// Rewrites an encoded request (after [`SenderFault::apply_to_headers`]).
    pub(super) fn apply_to_wire(self, wire: &mut WireRequest, events: &[(CeAttributes, Value)]) {
        let envelope = |w: &WireRequest| serde_json::from_slice::<Value>(&w.body).ok();
        match self {
            SenderFault::KafkaStyleHeaders => {
                for (name, _) in wire.headers.iter_mut() {
                    if let Some(ext) = name
                        .strip_prefix("ce-")
                        .filter(|a| *a == "sequence" || *a == "traceparent")
                    {
                        *name = format!("ce_{ext}");
                    }
                }
            }
            SenderFault::RepeatedCeHeader => {
                if let Some(id) = wire.header("ce-id").map(str::to_owned) {
                    wire.headers.push(("ce-id".to_owned(), id));
                }
            }
            SenderFault::StructuredBareCdevent => {
                if let Some((_, data)) = events.first() {
                    wire.body = serde_json::to_vec(data).unwrap_or_default();
                }
            }
            SenderFault::BatchOfBareCdevents => {
                let all: Vec<&Value> = events.iter().map(|(_, d)| d).collect();
                wire.body = serde_json::to_vec(&all).unwrap_or_default();
            }
            SenderFault::HeaderOnlyAttribute => {
                if let Some(mut v) = envelope(wire) {
                    if let Some(seq) = v.as_object_mut().and_then(|o| o.remove("sequence")) {
                        let text = seq.as_str().unwrap_or_default().to_owned();
                        wire.headers
                            .push(("ce-sequence".to_owned(), percent_encode_header_value(&text)));
                        wire.body = serde_json::to_vec(&v).unwrap_or_default();
                    }
                }
            }
            SenderFault::DataAndDataBase64 => {
                if let Some(mut v) = envelope(wire) {
                    use base64::Engine as _;
                    let data = serde_json::to_vec(&v["data"]).unwrap_or_default();
                    v["data_base64"] =
                        json!(base64::engine::general_purpose::STANDARD.encode(data));
                    wire.body = serde_json::to_vec(&v).unwrap_or_default();
                }
            }
            SenderFault::DuplicateMember if wire.body.first() == Some(&b'{') => {
                wire.body
                    .splice(1..1, br#""specversion":"1.0","#.iter().copied());
            }
            _ => {}
        }
    }

    /// Rewrites the encoded `ce-` headers of a binary-mode request.
    pub(super) fn apply_to_headers(self, headers: &mut [(String, String)], ce: &CeAttributes) {
        for (name, value) in headers.iter_mut() {
            let Some(attr) = name.strip_prefix("ce-") else {
                continue;
            };
            match self {
                SenderFault::RawHeaderValues => {
                    if let Some(raw) = raw_value(ce, attr) {
                        *value = raw;
                    }
                }
                SenderFault::LowercasePercent => *value = lower_hex(value),
                _ => {}
            }
        }
    }

    pub(super) fn apply_to_ce(self, ce: &mut CeAttributes) {
        match self {
            SenderFault::CeTypeMismatch => {
                ce.type_ = ce.type_.as_ref().map(|t| format!("{t}.mismatch"));
            }
            SenderFault::OmitCeSource => ce.source = None,
            SenderFault::CeTimeIsSendTime => {
                ce.time = Some(Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true));
            }
            _ => {}
        }
    }
}

impl fmt::Display for SenderFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SenderFault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SenderFault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = SenderFault::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown fault `{s}` (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// The attribute's value before percent-encoding.
fn raw_value(ce: &CeAttributes, attr: &str) -> Option<String> {
    let mut ce = ce.clone();
    if let Some(v) = ce.known_mut(attr) {
        return v.clone();
    }
    ce.extensions.get(attr).map(|v| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// `%C3%A9` as `%c3%a9`.
fn lower_hex(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut left = 0;
    for c in v.chars() {
        if c == '%' {
            left = 2;
            out.push(c);
        } else if left > 0 {
            left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
