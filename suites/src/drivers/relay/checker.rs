//! The history checker: a pure function from a run's [`History`] (and the claims) to one case
//! per requirement, the delivery [`Observation`] and the *observed* classification.
//!
//! The definitions it applies are those of `docs/relay.md`:
//! - a **delivery** is a request the sink acknowledged (2xx); one the sink answered with a
//!   fault (5xx, 408, 429, a delay past the relay's timeout, a reset, a permanent refusal) is
//!   not a delivery, and the redelivery after it is not a duplicate;
//! - **lost**: acknowledged by the intermediary, never delivered, and not refused for good by
//!   the sink (an event the sink refused is the dead-letter rule's business, REL-009);
//! - **duplicated**: each delivery of an event past its first;
//! - **inversion**: a pair of events whose first deliveries came in the opposite order to the
//!   one the intermediary acknowledged them in (per subject: pairs of one subject);
//! - **mutated**: an event one of whose deliveries differs in a compared field.

use cdevents_reports::model::{
    CaseResult, DeliveryStats, Evidence, LatencyStats, Observation, Status,
};
use cdevents_reports::Level;

use super::history::{EventRecord, Field, History, MAX_EXAMPLES, NEVER};
use super::stream::Stream;
use crate::drivers::sender::{Guarantee, Ordering};
use crate::requirements::Catalogue;

/// Fewer events than this cannot support a verdict: the run is inconclusive.
pub const MIN_EVENTS: u64 = 10;

/// The cases a run reports, as `(requirement, case suffix)`, in report order (`--list`).
/// A run without enough evidence reports `REL-001/evidence` alone.
pub const CASES: &[(&str, &str)] = &[
    ("REL-001", "no-loss"),
    ("REL-002", "no-duplicate"),
    ("REL-003", "per-subject-order"),
    ("REL-004", "total-order"),
    ("REL-005", "unchanged"),
    ("REL-006", "optional-attributes"),
    ("REL-011", "traceparent"),
    ("REL-008", "redelivery"),
    ("REL-009", "dead-letter"),
    ("REL-007", "large-events"),
    ("REL-010", "implied-datacontenttype"),
    ("CE-HTTP-003", "content-type-kept"),
    ("CE-HTTP-010", "header-percent-decoding"),
];

/// What the intermediary claims.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Claims {
    /// `--guarantee`.
    pub guarantee: Guarantee,
    /// `--ordering`.
    pub ordering: Ordering,
}

/// One entry of the intermediary's dead-letter report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeadLetter {
    /// CloudEvents id.
    pub id: String,
    /// CloudEvents source.
    #[serde(default)]
    pub source: String,
    /// The last downstream status, if there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it was dead-lettered.
    #[serde(default)]
    pub reason: String,
}

/// What the history shows, whatever was claimed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Events the kit sent (at least once).
    pub sent: u64,
    /// Events the intermediary acknowledged.
    pub acked: u64,
    /// Acknowledged events delivered at least once.
    pub delivered: u64,
    /// Lost events (acknowledged, never delivered, not refused by the sink).
    pub lost: Vec<u64>,
    /// Events delivered more than once, with their delivery counts.
    pub duplicated: Vec<(u64, u32)>,
    /// Extra deliveries in all.
    pub extra_deliveries: u64,
    /// Events whose first delivery was not acknowledged by the intermediary (e.g. sent twice by
    /// the kit after a timeout): their duplicates are not the intermediary's alone.
    pub resent: u64,
    /// Inversions between events of one subject, and examples `(earlier seq, later seq)`.
    pub subject_inversions: u64,
    /// Examples of per-subject inversions.
    pub subject_examples: Vec<(u64, u64)>,
    /// Inversions over all events (by acknowledgement order).
    pub total_inversions: u64,
    /// Examples of inversions over all events.
    pub total_examples: Vec<(u64, u64)>,
    /// Mutated events with their masks.
    pub mutated: Vec<(u64, u16)>,
    /// Events the sink refused for good.
    pub refused: Vec<u64>,
    /// Refused events listed in the dead-letter report (`None`: no report read).
    pub dead_lettered: Option<u64>,
    /// Refused events redelivered after the refusal.
    pub retried_after_refusal: Vec<u64>,
    /// Events the sink failed transiently that never got delivered, though acknowledged.
    pub not_redelivered: Vec<u64>,
    /// Events the sink failed transiently at least once.
    pub transient_faults: u64,
    /// Latency (first send to first delivery) percentiles in ms.
    pub latency: LatencyStats,
    /// Delivered events per second.
    pub throughput: f64,
}

impl Observed {
    /// The guarantee the history is consistent with.
    pub fn guarantee(&self) -> &'static str {
        match (self.lost.is_empty(), self.extra_deliveries == 0) {
            (true, true) => "exactly-once",
            (true, false) => "at-least-once",
            (false, true) => "at-most-once",
            (false, false) => "no guarantee (lost and duplicated)",
        }
    }

    /// The order the history is consistent with.
    pub fn ordering(&self) -> &'static str {
        if self.total_inversions == 0 {
            "total"
        } else if self.subject_inversions == 0 {
            "per-subject"
        } else {
            "none"
        }
    }

    /// One sentence, e.g. "observed at-least-once: 0 lost, 12 duplicated of 10,000".
    pub fn sentence(&self) -> String {
        if self.acked == 0 {
            // No acknowledged event: no guarantee or order can be observed at all.
            return "observed nothing: the intermediary acknowledged no event".to_owned();
        }
        let mut s = format!(
            "observed {}: {} lost, {} duplicated of {}; order {} ({} per-subject inversions, {} overall)",
            self.guarantee(),
            thousands(self.lost.len() as u64),
            thousands(self.duplicated.len() as u64),
            thousands(self.acked),
            self.ordering(),
            thousands(self.subject_inversions),
            thousands(self.total_inversions),
        );
        if !self.mutated.is_empty() {
            s.push_str(&format!(
                "; {} mutated",
                thousands(self.mutated.len() as u64)
            ));
        }
        if !self.refused.is_empty() {
            s.push_str(&format!(
                "; {} refused for good by the sink",
                thousands(self.refused.len() as u64)
            ));
            if let Some(d) = self.dead_lettered {
                s.push_str(&format!(", {} of them dead-lettered", thousands(d)));
            }
        }
        s
    }
}

/// `12345` → `12,345`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The checker's result.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// One case per requirement judged (skipped when not claimed).
    pub cases: Vec<CaseResult>,
    /// The run-wide statistics.
    pub observation: Observation,
    /// What was observed.
    pub observed: Observed,
}

fn case(id: &str, suffix: &str, status: Status, message: impl Into<String>) -> CaseResult {
    let cat = Catalogue::embedded().get(id);
    let mut c = CaseResult::new(
        format!("{id}/{suffix}"),
        id,
        cat.map(|r| r.level).unwrap_or(Level::Must),
        status,
        message,
    );
    c.roles = cat.map(|r| r.roles.clone()).unwrap_or_default();
    c
}

/// Counts inversions of `v` (pairs i < j with v[i] > v[j]) by merge sort, keeping up to
/// [`MAX_EXAMPLES`] example pairs of indices into the original order.
fn inversions(v: &[(u64, u64)]) -> (u64, Vec<(u64, u64)>) {
    // (key, tag): tag is what examples report (a seq).
    let mut a: Vec<(u64, u64)> = v.to_vec();
    let mut buf = a.clone();
    let mut examples = Vec::new();
    let n = sort_count(&mut a, &mut buf, &mut examples);
    (n, examples)
}

fn sort_count(a: &mut [(u64, u64)], buf: &mut [(u64, u64)], ex: &mut Vec<(u64, u64)>) -> u64 {
    let n = a.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let mut count = {
        let (l, r) = a.split_at_mut(mid);
        let (bl, br) = buf.split_at_mut(mid);
        sort_count(l, bl, ex) + sort_count(r, br, ex)
    };
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < mid && j < n {
        if a[i].0 <= a[j].0 {
            buf[k] = a[i];
            i += 1;
        } else {
            // a[i..mid] all come after a[j] though sent before it.
            count += (mid - i) as u64;
            if ex.len() < MAX_EXAMPLES {
                ex.push((a[i].1, a[j].1));
            }
            buf[k] = a[j];
            j += 1;
        }
        k += 1;
    }
    buf[k..k + (mid - i)].copy_from_slice(&a[i..mid]);
    k += mid - i;
    buf[k..k + (n - j)].copy_from_slice(&a[j..n]);
    a.copy_from_slice(&buf[..n]);
    count
}

/// Observes a history: counts and examples, no verdict.
pub fn observe(h: &History, stream: &Stream, dead_letters: Option<&[DeadLetter]>) -> Observed {
    let mut o = Observed::default();
    let mut latencies = Vec::new();
    let (mut first, mut last) = (NEVER, 0u64);
    let recs: &[EventRecord] = &h.records;
    for (seq, r) in recs.iter().enumerate() {
        let seq = seq as u64;
        if r.sends > 0 {
            o.sent += 1;
        }
        if !r.acked() {
            continue;
        }
        o.acked += 1;
        if r.delivered() {
            o.delivered += 1;
            latencies.push(r.first_us.saturating_sub(r.sent_us) as f64 / 1000.0);
            first = first.min(r.sent_us);
            last = last.max(r.first_us);
        } else if !r.refused {
            o.lost.push(seq);
        }
        if r.deliveries > 1 {
            o.duplicated.push((seq, r.deliveries));
            o.extra_deliveries += u64::from(r.deliveries - 1);
        }
        if r.sends > 1 {
            o.resent += 1;
        }
        if r.mutated != 0 {
            o.mutated.push((seq, r.mutated));
        }
        if r.refused {
            o.refused.push(seq);
        }
        if r.after_refusal > 0 {
            o.retried_after_refusal.push(seq);
        }
        if r.transient_fault {
            o.transient_faults += 1;
            if !r.delivered() && !r.refused {
                o.not_redelivered.push(seq);
            }
        }
    }
    // Per subject: the events of one subject are sent one after the other, each once the one
    // before was acknowledged, so sequence order is acknowledgement order. Subjects live
    // within one block of the stream's layout.
    let block = stream.block_len().max(1);
    let mut start = 0u64;
    while start < recs.len() as u64 {
        let end = (start + block).min(recs.len() as u64);
        let mut group: Vec<(u64, u64, u64)> = (start..end)
            .filter(|&s| recs[s as usize].acked() && recs[s as usize].delivered())
            .map(|s| (stream.subject_of(s), recs[s as usize].first_pos, s))
            .collect();
        group.sort_by_key(|&(subject, _, seq)| (subject, seq));
        for chunk in group.chunk_by(|a, b| a.0 == b.0) {
            let v: Vec<(u64, u64)> = chunk.iter().map(|&(_, p, s)| (p, s)).collect();
            let (n, ex) = inversions(&v);
            o.subject_inversions += n;
            for e in ex {
                if o.subject_examples.len() < MAX_EXAMPLES {
                    o.subject_examples.push(e);
                }
            }
        }
        start = end;
    }
    // Overall: by acknowledgement time. Events acknowledged at once (one batch) carry no order
    // among themselves (REL-004's note): arrival order breaks ties.
    let mut all: Vec<(u64, u64, u64)> = recs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.acked() && r.delivered())
        .map(|(s, r)| (r.acked_us, r.first_pos, s as u64))
        .collect();
    all.sort_by_key(|&(t, p, s)| (t, p, s));
    let v: Vec<(u64, u64)> = all.iter().map(|&(_, p, s)| (p, s)).collect();
    drop(all);
    let (n, ex) = inversions(&v);
    o.total_inversions = n;
    o.total_examples = ex;
    o.latency = LatencyStats::from_samples(&latencies);
    if first != NEVER && last > first {
        o.throughput = o.delivered as f64 / ((last - first) as f64 / 1e6);
    }
    if let Some(dl) = dead_letters {
        let listed: std::collections::HashSet<&str> = dl.iter().map(|d| d.id.as_str()).collect();
        o.dead_lettered = Some(
            o.refused
                .iter()
                .filter(|&&s| listed.contains(stream.id(s).as_str()))
                .count() as u64,
        );
    }
    o
}

fn ids(stream: &Stream, seqs: impl Iterator<Item = u64>) -> String {
    let v: Vec<String> = seqs
        .take(MAX_EXAMPLES)
        .map(|s| format!("{} (#{s})", stream.id(s)))
        .collect();
    v.join(", ")
}

fn pairs(stream: &Stream, pairs: &[(u64, u64)]) -> String {
    let v: Vec<String> = pairs
        .iter()
        .take(MAX_EXAMPLES)
        .map(|&(a, b)| {
            format!(
                "{} (#{b}) arrived before {} (#{a})",
                stream.id(b),
                stream.id(a)
            )
        })
        .collect();
    v.join("; ")
}

fn more(shown: usize, total: usize) -> String {
    if total > shown {
        format!(" and {} more", thousands((total - shown) as u64))
    } else {
        String::new()
    }
}

/// Judges a history against the claims. `dead_letters`: the intermediary's dead-letter report,
/// when one was read.
pub fn check(
    h: &History,
    stream: &Stream,
    claims: &Claims,
    dead_letters: Option<&[DeadLetter]>,
) -> Judgement {
    let o = observe(h, stream, dead_letters);
    let mut cases = Vec::new();
    let sentence = o.sentence();
    let n = |x: usize| thousands(x as u64);
    let at_least = claims.guarantee != Guarantee::AtMostOnce;

    if (stream.len()) < MIN_EVENTS || o.acked < MIN_EVENTS.min(stream.len()) || o.delivered == 0 {
        let why = if stream.len() < MIN_EVENTS {
            format!(
                "a run of {} events is too short to judge a claim (at least {MIN_EVENTS})",
                stream.len()
            )
        } else if o.acked == 0 {
            "the intermediary acknowledged no event".to_owned()
        } else if o.delivered == 0 {
            "nothing the intermediary acknowledged reached the sink".to_owned()
        } else {
            format!(
                "the intermediary acknowledged {} events, fewer than the {MIN_EVENTS} a verdict needs",
                o.acked
            )
        };
        let mut c = case(
            "REL-001",
            "evidence",
            Status::Errored,
            format!("inconclusive: {why}; {sentence}"),
        );
        c.expected = Some(format!(
            "at least {MIN_EVENTS} events acknowledged by the intermediary and some delivered"
        ));
        c.actual = Some(format!(
            "{} sent, {} acknowledged, {} delivered",
            o.sent, o.acked, o.delivered
        ));
        cases.push(c);
        return Judgement {
            cases,
            observation: observation(h, &o, stream),
            observed: o,
        };
    }

    // REL-001: no loss.
    let mut c = if !at_least {
        case(
            "REL-001",
            "no-loss",
            Status::Skipped,
            format!("not claimed (at-most-once); {sentence}"),
        )
    } else if o.lost.is_empty() {
        case(
            "REL-001",
            "no-loss",
            Status::Passed,
            format!(
                "all {} acknowledged events reached the sink; {sentence}",
                n(o.acked as usize)
            ),
        )
    } else {
        let mut c = case(
            "REL-001",
            "no-loss",
            Status::Failed,
            format!(
                "{} acknowledged events never reached the sink: {}{}; {sentence}",
                n(o.lost.len()),
                ids(stream, o.lost.iter().copied()),
                more(MAX_EXAMPLES, o.lost.len())
            ),
        );
        c.actual = Some(format!(
            "{} lost of {}",
            n(o.lost.len()),
            n(o.acked as usize)
        ));
        c
    };
    if c.expected.is_none() && at_least {
        c.expected = Some("0 lost".into());
    }
    cases.push(c);

    // REL-002: no duplicate.
    cases.push(if claims.guarantee != Guarantee::ExactlyOnce {
        case(
            "REL-002",
            "no-duplicate",
            Status::Skipped,
            format!("not claimed ({}); {sentence}", claims.guarantee),
        )
    } else if o.duplicated.is_empty() {
        case(
            "REL-002",
            "no-duplicate",
            Status::Passed,
            format!("no event was delivered twice; {sentence}"),
        )
    } else {
        let mut c = case(
            "REL-002",
            "no-duplicate",
            Status::Failed,
            format!(
                "{} events were delivered more than once ({} extra deliveries): {}{}; {sentence}",
                n(o.duplicated.len()),
                thousands(o.extra_deliveries),
                o.duplicated
                    .iter()
                    .take(MAX_EXAMPLES)
                    .map(|&(s, k)| format!("{} (#{s}) ×{k}", stream.id(s)))
                    .collect::<Vec<_>>()
                    .join(", "),
                more(MAX_EXAMPLES, o.duplicated.len())
            ),
        );
        c.expected = Some("every event delivered once".into());
        c.actual = Some(format!("{} duplicated", n(o.duplicated.len())));
        if o.resent > 0 {
            c.message.push_str(&format!(
                " ({} events were sent more than once by the kit after a timeout)",
                thousands(o.resent)
            ));
        }
        c
    });

    // REL-003 / REL-004: order.
    let per_subject_claimed = claims.ordering != Ordering::None;
    let subjects_judged = stream.len() > stream.lifecycles_len() as u64;
    cases.push(if !per_subject_claimed {
        case(
            "REL-003",
            "per-subject-order",
            Status::Skipped,
            format!("not claimed; {sentence}"),
        )
    } else if !subjects_judged {
        case(
            "REL-003",
            "per-subject-order",
            Status::Errored,
            "inconclusive: no subject had two events in this run",
        )
    } else if o.subject_inversions == 0 {
        case(
            "REL-003",
            "per-subject-order",
            Status::Passed,
            format!("every subject's events arrived in order; {sentence}"),
        )
    } else {
        let mut c = case(
            "REL-003",
            "per-subject-order",
            Status::Failed,
            format!(
                "{} inversions within subjects: {}; {sentence}",
                thousands(o.subject_inversions),
                pairs(stream, &o.subject_examples)
            ),
        );
        c.expected = Some("0 inversions per subject".into());
        c.actual = Some(format!("{} inversions", thousands(o.subject_inversions)));
        c
    });
    cases.push(if claims.ordering != Ordering::Total {
        case(
            "REL-004",
            "total-order",
            Status::Skipped,
            format!("not claimed; {sentence}"),
        )
    } else if o.total_inversions == 0 {
        case(
            "REL-004",
            "total-order",
            Status::Passed,
            format!("all events arrived in the order acknowledged; {sentence}"),
        )
    } else {
        let mut c = case(
            "REL-004",
            "total-order",
            Status::Failed,
            format!(
                "{} inversions overall: {}; {sentence}",
                thousands(o.total_inversions),
                pairs(stream, &o.total_examples)
            ),
        );
        c.expected = Some("0 inversions".into());
        c.actual = Some(format!("{} inversions", thousands(o.total_inversions)));
        c
    });

    // REL-005 / REL-006 / REL-011: unchanged fields, and unknown events.
    for (id, suffix, what) in [
        (
            "REL-005",
            "unchanged",
            "identity (specversion, source, type) and data",
        ),
        (
            "REL-006",
            "optional-attributes",
            "optional and extension attributes",
        ),
        ("REL-011", "traceparent", "the first hop's traceparent"),
    ] {
        let hit: Vec<(u64, u16)> = o
            .mutated
            .iter()
            .map(|&(s, m)| {
                let mine = Field::of_mask(m)
                    .into_iter()
                    .filter(|f| f.requirement() == id)
                    .fold(0u16, |a, f| a | f.bit());
                (s, mine)
            })
            .filter(|&(_, m)| m != 0)
            .collect();
        let unknown = if id == "REL-005" { h.unknown } else { 0 };
        if hit.is_empty() && unknown == 0 {
            cases.push(case(
                id,
                suffix,
                Status::Passed,
                format!(
                    "every delivered event kept {what} ({} events compared)",
                    n(o.delivered as usize)
                ),
            ));
            continue;
        }
        let mut msg = String::new();
        if !hit.is_empty() {
            msg.push_str(&format!(
                "{} events arrived changed: {}{}",
                n(hit.len()),
                hit.iter()
                    .take(MAX_EXAMPLES)
                    .map(|&(s, m)| {
                        let names: Vec<&str> =
                            Field::of_mask(m).into_iter().map(Field::name).collect();
                        format!("{} (#{s}): {}", stream.id(s), names.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                more(MAX_EXAMPLES, hit.len())
            ));
        }
        if unknown > 0 {
            if !msg.is_empty() {
                msg.push_str("; ");
            }
            msg.push_str(&format!(
                "{} events arrived that the kit never sent (id or source changed?): {}",
                thousands(unknown),
                h.unknown_examples.join(", ")
            ));
        }
        let mut c = case(id, suffix, Status::Failed, msg);
        c.expected = Some(format!("{what} as sent"));
        c.actual = Some(format!("{} events changed", n(hit.len())));
        let diff: String = hit
            .iter()
            .filter_map(|(s, _)| h.mutation_examples.iter().find(|(e, _)| e == s))
            .take(3)
            .map(|(s, d)| format!("event {} (#{s})\n{d}", stream.id(*s)))
            .collect();
        if !diff.is_empty() {
            c.evidence = Some(Evidence {
                diff: Some(diff),
                ..Evidence::default()
            });
        }
        cases.push(c);
    }

    // REL-008: redelivery after transient faults.
    cases.push(if !at_least {
        case(
            "REL-008",
            "redelivery",
            Status::Skipped,
            format!("not claimed (at-most-once); {sentence}"),
        )
    } else if o.transient_faults == 0 {
        case(
            "REL-008",
            "redelivery",
            Status::Skipped,
            "the sink failed no delivery transiently (use --faults transient)",
        )
    } else if o.not_redelivered.is_empty() {
        case(
            "REL-008",
            "redelivery",
            Status::Passed,
            format!(
                "all {} events the sink failed transiently were delivered again until acknowledged",
                thousands(o.transient_faults)
            ),
        )
    } else {
        let mut c = case(
            "REL-008",
            "redelivery",
            Status::Failed,
            format!(
                "{} of {} events the sink failed transiently were never delivered again: {}{}",
                n(o.not_redelivered.len()),
                thousands(o.transient_faults),
                ids(stream, o.not_redelivered.iter().copied()),
                more(MAX_EXAMPLES, o.not_redelivered.len())
            ),
        );
        c.expected = Some("redelivered until acknowledged".into());
        c.actual = Some(format!("{} given up", n(o.not_redelivered.len())));
        c
    });

    // REL-009: permanent refusals go to the dead letters, not round again.
    cases.push(if o.refused.is_empty() {
        case(
            "REL-009",
            "dead-letter",
            Status::Skipped,
            "the sink refused no event for good (use --faults hostile)",
        )
    } else {
        let mut problems = Vec::new();
        if !o.retried_after_refusal.is_empty() {
            problems.push(format!(
                "{} events were delivered again after a permanent refusal: {}",
                n(o.retried_after_refusal.len()),
                ids(stream, o.retried_after_refusal.iter().copied())
            ));
        }
        match (dead_letters, o.dead_lettered) {
            (Some(dl), Some(k)) if (k as usize) < o.refused.len() => {
                let listed: std::collections::HashSet<&str> =
                    dl.iter().map(|d| d.id.as_str()).collect();
                let missing: Vec<u64> = o
                    .refused
                    .iter()
                    .copied()
                    .filter(|&s| !listed.contains(stream.id(s).as_str()))
                    .collect();
                problems.push(format!(
                    "{} of {} refused events are missing from the dead-letter report: {}{}",
                    n(missing.len()),
                    n(o.refused.len()),
                    ids(stream, missing.iter().copied()),
                    more(MAX_EXAMPLES, missing.len())
                ));
            }
            _ => {}
        }
        if problems.is_empty() {
            let how = if dead_letters.is_some() {
                "and every one is in the dead-letter report"
            } else {
                "(no --dead-letters report to check them against)"
            };
            case(
                "REL-009",
                "dead-letter",
                Status::Passed,
                format!(
                    "{} events refused for good by the sink were not delivered again, {how}",
                    n(o.refused.len())
                ),
            )
        } else {
            let mut c = case(
                "REL-009",
                "dead-letter",
                Status::Failed,
                problems.join("; "),
            );
            c.expected = Some("refused events dead-lettered, not retried".into());
            c
        }
    });

    cases.push(large_events(h, stream));
    cases.extend(carried_cases(h, stream));

    Judgement {
        cases,
        observation: observation(h, &o, stream),
        observed: o,
    }
}

/// The fields a large event must arrive with unchanged: its data.
const DATA_FIELDS: u16 = 1 << (Field::Context as u16)
    | 1 << (Field::CdSubject as u16)
    | 1 << (Field::CustomData as u16)
    | 1 << (Field::Data as u16);

/// REL-007: the large events fared as well as the others. A large event counts against it
/// when it met a fate no other event met: never acknowledged while all others were, lost
/// while no other was, or its data changed while no other's was. (A relay that loses or
/// changes events whatever their size breaks REL-001 or REL-005, not this.)
fn large_events(h: &History, stream: &Stream) -> CaseResult {
    const ID: &str = "REL-007";
    const SUFFIX: &str = "large-events";
    let recs = &h.records;
    let large: Vec<u64> = stream
        .large()
        .filter(|&s| recs.get(s as usize).is_some_and(|r| r.sends > 0))
        .collect();
    if large.is_empty() {
        return case(
            ID,
            SUFFIX,
            Status::Skipped,
            "no event near 64 KiB was sent (the stream has two per 1,000 events)",
        );
    }
    let fate = |r: &EventRecord| {
        (
            !r.acked(),
            r.acked() && !r.delivered() && !r.refused,
            r.mutated & DATA_FIELDS != 0,
        )
    };
    let mut others = (false, false, false);
    for (s, r) in recs.iter().enumerate() {
        if r.sends > 0 && stream.kind(s as u64) != super::Kind::Large {
            let f = fate(r);
            others = (others.0 || f.0, others.1 || f.1, others.2 || f.2);
        }
    }
    let pick = |which: fn(&(bool, bool, bool)) -> bool| -> Vec<u64> {
        large
            .iter()
            .copied()
            .filter(|&s| which(&fate(&recs[s as usize])))
            .collect()
    };
    let total = large.len();
    let mut problems = Vec::new();
    let mut actual = Vec::new();
    for (others_too, which, what, short) in [
        (
            others.0,
            (|f: &(bool, bool, bool)| f.0) as fn(&(bool, bool, bool)) -> bool,
            "were never acknowledged (the intermediary refused them), though every smaller event was",
            "refused",
        ),
        (
            others.1,
            |f| f.1,
            "were acknowledged and never delivered, though no smaller event was lost",
            "lost",
        ),
        (
            others.2,
            |f| f.2,
            "arrived with their data changed (cut?), though no smaller event's was",
            "changed",
        ),
    ] {
        if others_too {
            continue;
        }
        let v = pick(which);
        if !v.is_empty() {
            problems.push(format!(
                "{} of {total} events just under 64 KiB on the wire {what}: {}",
                v.len(),
                ids(stream, v.iter().copied())
            ));
            actual.push(format!("{} {short}", v.len()));
        }
    }
    if problems.is_empty() {
        return case(
            ID,
            SUFFIX,
            Status::Passed,
            format!(
                "{} events just under 64 KiB on the wire fared as well as the others: {}",
                large.len(),
                ids(stream, large.iter().copied())
            ),
        );
    }
    let mut c = case(ID, SUFFIX, Status::Failed, problems.join("; "));
    c.expected = Some("events up to 64 KiB acknowledged and delivered whole".into());
    c.actual = Some(format!("of {total} large events: {}", actual.join(", ")));
    c
}

/// REL-010, CE-HTTP-003 and CE-HTTP-010, from what the deliveries carried.
fn carried_cases(h: &History, stream: &Stream) -> Vec<CaseResult> {
    let c = &h.carried;
    let n = thousands;
    let one = |id: &str,
               suffix: &str,
               judged: u64,
               breaches: &super::carried::Breaches,
               skip: &str,
               pass: String,
               fail: &str,
               expected: &str| {
        if judged == 0 {
            return case(id, suffix, Status::Skipped, skip.to_owned());
        }
        if breaches.is_empty() {
            return case(id, suffix, Status::Passed, pass);
        }
        let examples: Vec<String> = breaches
            .examples
            .iter()
            .map(|(s, what)| format!("{} (#{s}): {what}", stream.id(*s)))
            .collect();
        let mut r = case(
            id,
            suffix,
            Status::Failed,
            format!(
                "{} of {judged} deliveries {fail}: {}",
                n(breaches.deliveries),
                examples.join("; ")
            ),
        );
        r.expected = Some(expected.to_owned());
        r.actual = Some(format!("{} deliveries", n(breaches.deliveries)));
        r
    };
    vec![
        one(
            "REL-010",
            "implied-datacontenttype",
            c.implied_judged,
            &c.implied_missing,
            "no event sent without datacontenttype arrived in the other mode (binary vs JSON format); run the intermediary so that it changes the mode, or send with --mode structured",
            format!(
                "all {} deliveries in the other mode of events sent without datacontenttype carried application/json explicitly",
                n(c.implied_judged)
            ),
            "of events sent without datacontenttype arrived in the other mode without one",
            "the implied application/json set explicitly",
        ),
        one(
            "CE-HTTP-003",
            "content-type-kept",
            c.mode_changes,
            &c.type_changed,
            "no delivery arrived in the other mode (binary vs JSON format) than it was sent in",
            format!(
                "all {} deliveries in the other mode kept the data's type (Content-Type ↔ datacontenttype)",
                n(c.mode_changes)
            ),
            "in the other mode lost or changed the data's type",
            "binary Content-Type written to datacontenttype, and back",
        ),
        one(
            "CE-HTTP-010",
            "header-percent-decoding",
            c.percent_judged,
            &c.percent_wrong,
            "no delivery carried the percent-escaped extension through a ce- header (send in binary mode)",
            format!(
                "all {} deliveries carried {} exactly as sent, decoded once",
                n(c.percent_judged),
                super::PERCENT_EXTENSION
            ),
            "carried a value percent-decoded more or less than once",
            "a single round of percent-decoding",
        ),
    ]
}

fn observation(h: &History, o: &Observed, stream: &Stream) -> Observation {
    let mut obs = Observation::new("REL-DELIVERY", o.sentence());
    obs.spec = Some(stream.spec().as_str().to_owned());
    let mut timeline: Vec<(u64, f64)> = h
        .records
        .iter()
        .filter(|r| r.delivered() && r.sent_us != NEVER)
        .map(|r| {
            (
                r.first_us / 1000,
                r.first_us.saturating_sub(r.sent_us) as f64 / 1000.0,
            )
        })
        .collect();
    timeline.sort_by_key(|p| p.0);
    obs.delivery = Some(DeliveryStats {
        sent: o.sent,
        acknowledged: o.acked,
        delivered: o.delivered,
        lost: o.lost.len() as u64,
        duplicated: o.extra_deliveries,
        reordered_inversions: o.subject_inversions.max(o.total_inversions),
        mutated: o.mutated.len() as u64,
        latency_ms: o.latency,
        throughput_per_s: o.throughput,
        timeline: cdevents_reports::model::downsample(&timeline, DeliveryStats::MAX_TIMELINE),
    });
    obs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FaultKind;

    const N: u64 = 30;

    fn stream(n: u64) -> Stream {
        Stream::new(
            cdevents_schemas::SpecVersion::DEFAULT,
            1,
            n,
            chrono::Utc::now(),
        )
        .unwrap()
    }

    /// Every event sent, acknowledged and delivered once, in `order`.
    fn history(n: u64, order: &[u64]) -> History {
        let mut h = History::new(n as usize);
        for s in 0..n {
            h.sending(s, 1, s * 10);
            h.acked(s, s * 10 + 1);
        }
        for (i, &s) in order.iter().enumerate() {
            h.arrived(s, 1000 + i as u64, Some(204), None, 0);
        }
        h
    }

    fn in_order(n: u64) -> Vec<u64> {
        (0..n).collect()
    }

    const STRICT: Claims = Claims {
        guarantee: Guarantee::ExactlyOnce,
        ordering: Ordering::Total,
    };

    fn status(j: &Judgement, id: &str) -> Status {
        j.cases
            .iter()
            .find(|c| c.requirement == id)
            .map(|c| c.status)
            .unwrap_or_else(|| panic!("no {id}"))
    }

    fn message<'a>(j: &'a Judgement, id: &str) -> &'a str {
        &j.cases
            .iter()
            .find(|c| c.requirement == id)
            .unwrap()
            .message
    }

    #[test]
    fn a_clean_history_passes_every_claim() {
        let s = stream(N);
        let j = check(&history(N, &in_order(N)), &s, &STRICT, None);
        for id in [
            "REL-001", "REL-002", "REL-003", "REL-004", "REL-005", "REL-006", "REL-011",
        ] {
            assert_eq!(status(&j, id), Status::Passed, "{id}: {}", message(&j, id));
        }
        assert_eq!(status(&j, "REL-008"), Status::Skipped, "no transient fault");
        assert_eq!(status(&j, "REL-009"), Status::Skipped, "no refusal");
        assert_eq!(j.observed.guarantee(), "exactly-once");
        assert_eq!(j.observed.ordering(), "total");
        assert!(j
            .observed
            .sentence()
            .starts_with("observed exactly-once: 0 lost, 0 duplicated of 30"));
    }

    #[test]
    fn a_loss_fails_at_least_once_and_names_the_event() {
        let s = stream(N);
        let order: Vec<u64> = (0..N).filter(|&x| x != 3).collect();
        let h = history(N, &order);
        let j = check(&h, &s, &STRICT, None);
        assert_eq!(status(&j, "REL-001"), Status::Failed);
        assert!(message(&j, "REL-001").contains(&s.id(3)));
        assert_eq!(j.observed.guarantee(), "at-most-once");
        let lax = Claims {
            guarantee: Guarantee::AtMostOnce,
            ordering: Ordering::None,
        };
        let j = check(&h, &s, &lax, None);
        assert_eq!(status(&j, "REL-001"), Status::Skipped, "not claimed");
        assert!(message(&j, "REL-001").contains("observed at-most-once: 1 lost"));
    }

    #[test]
    fn a_duplicate_fails_exactly_once_only() {
        let s = stream(N);
        let mut h = history(N, &in_order(N));
        h.arrived(4, 5000, Some(204), None, 0);
        let j = check(&h, &s, &STRICT, None);
        assert_eq!(status(&j, "REL-002"), Status::Failed);
        assert!(message(&j, "REL-002").contains(&format!("{} (#4) ×2", s.id(4))));
        assert_eq!(status(&j, "REL-001"), Status::Passed);
        assert_eq!(j.observed.guarantee(), "at-least-once");
        let at_least = Claims {
            guarantee: Guarantee::AtLeastOnce,
            ..STRICT
        };
        assert_eq!(
            status(&check(&h, &s, &at_least, None), "REL-002"),
            Status::Skipped
        );
        // A redelivery after a faulted attempt is no duplicate.
        let mut h = history(N, &[]);
        for x in 0..N {
            h.arrived(x, 10, Some(503), Some(FaultKind::S503), 0);
            h.arrived(x, 20, Some(204), None, 0);
        }
        let j = check(&h, &s, &STRICT, None);
        assert_eq!(status(&j, "REL-002"), Status::Passed);
        assert_eq!(status(&j, "REL-008"), Status::Passed);
    }

    #[test]
    fn inversions_per_subject_and_overall() {
        let s = stream(N);
        // Two events of one subject swapped.
        let a = 0;
        let b = (1..N)
            .find(|&x| s.subject_of(x) == s.subject_of(a))
            .unwrap();
        let mut order = in_order(N);
        order.swap(a as usize, b as usize);
        let j = check(&history(N, &order), &s, &STRICT, None);
        assert_eq!(status(&j, "REL-003"), Status::Failed);
        assert!(message(&j, "REL-003").contains(&format!(
            "{} (#{b}) arrived before {} (#{a})",
            s.id(b),
            s.id(a)
        )));
        assert_eq!(status(&j, "REL-004"), Status::Failed);
        assert_eq!(j.observed.ordering(), "none");
        // Two events of different subjects swapped: only the total order is broken.
        assert_ne!(s.subject_of(0), s.subject_of(1));
        let mut order = in_order(N);
        order.swap(0, 1);
        let j = check(&history(N, &order), &s, &STRICT, None);
        assert_eq!(status(&j, "REL-003"), Status::Passed);
        assert_eq!(status(&j, "REL-004"), Status::Failed);
        assert_eq!(j.observed.total_inversions, 1);
        assert_eq!(j.observed.ordering(), "per-subject");
    }

    #[test]
    fn events_acknowledged_together_carry_no_order_among_themselves() {
        let s = stream(N);
        assert_ne!(s.subject_of(0), s.subject_of(1));
        // One batch: 0 and 1 acknowledged at the same instant, delivered 1 then 0.
        let mut h = History::new(N as usize);
        for x in 0..N {
            h.sending(x, 1, x * 10);
            h.acked(x, if x < 2 { 5 } else { x * 10 + 1 });
        }
        let mut order = in_order(N);
        order.swap(0, 1);
        for (i, &x) in order.iter().enumerate() {
            h.arrived(x, 1000 + i as u64, Some(204), None, 0);
        }
        let j = check(&h, &s, &STRICT, None);
        assert_eq!(j.observed.total_inversions, 0);
        assert_eq!(status(&j, "REL-004"), Status::Passed);
        // Acknowledged one after the other, the same arrival is an inversion.
        let j = check(&history(N, &order), &s, &STRICT, None);
        assert_eq!(j.observed.total_inversions, 1);
    }

    #[test]
    fn inversion_count_is_exact() {
        let v: Vec<(u64, u64)> = [3u64, 1, 2, 0]
            .iter()
            .enumerate()
            .map(|(i, &p)| (p, i as u64))
            .collect();
        assert_eq!(inversions(&v).0, 5);
        let sorted: Vec<(u64, u64)> = (0..100).map(|i| (i, i)).collect();
        assert_eq!(inversions(&sorted).0, 0);
        let rev: Vec<(u64, u64)> = (0..100).rev().map(|i| (i, i)).collect();
        assert_eq!(inversions(&rev).0, 4950);
    }

    #[test]
    fn each_changed_field_fails_its_requirement() {
        let s = stream(N);
        for (field, id) in [
            (Field::Context, "REL-005"),
            (Field::CustomData, "REL-005"),
            (Field::Type, "REL-005"),
            (Field::Extensions, "REL-006"),
            (Field::Time, "REL-006"),
            (Field::TraceParent, "REL-011"),
        ] {
            let mut h = history(N, &in_order(N));
            h.arrived(7, 9000, Some(204), None, field.bit());
            h.mutation_examples
                .push((7, "--- sent x\n+++ arrived y\n".into()));
            let j = check(&h, &s, &Claims::default(), None);
            let failed: Vec<&str> = j
                .cases
                .iter()
                .filter(|c| c.status == Status::Failed)
                .map(|c| c.requirement.as_str())
                .collect();
            assert_eq!(failed, vec![id], "{field:?}");
            let c = j.cases.iter().find(|c| c.requirement == id).unwrap();
            assert!(c.message.contains(field.name()) && c.message.contains(&s.id(7)));
            assert!(c
                .evidence
                .as_ref()
                .unwrap()
                .diff
                .as_ref()
                .unwrap()
                .contains("arrived"));
        }
        let mut h = history(N, &in_order(N));
        h.unknown("someone-elses-id");
        let j = check(&h, &s, &Claims::default(), None);
        assert_eq!(status(&j, "REL-005"), Status::Failed);
        assert!(message(&j, "REL-005").contains("someone-elses-id"));
    }

    #[test]
    fn transient_faults_must_be_redelivered() {
        let s = stream(N);
        let order: Vec<u64> = (0..N).filter(|&x| x != 9).collect();
        let mut h = history(N, &order);
        h.arrived(9, 10, None, Some(FaultKind::Reset), 0);
        let j = check(&h, &s, &STRICT, None);
        assert_eq!(status(&j, "REL-008"), Status::Failed);
        assert!(message(&j, "REL-008").contains(&s.id(9)));
        assert_eq!(status(&j, "REL-001"), Status::Failed);
    }

    #[test]
    fn permanent_refusals_must_be_dead_lettered_and_not_retried() {
        let s = stream(N);
        let order: Vec<u64> = (0..N).filter(|&x| x != 2).collect();
        let mut h = history(N, &order);
        h.arrived(2, 10, Some(400), Some(FaultKind::S400), 0);
        let listed = vec![DeadLetter {
            id: s.id(2),
            source: super::super::SOURCE.into(),
            status: Some(400),
            reason: "refused".into(),
        }];
        let j = check(&h, &s, &STRICT, Some(&listed));
        assert_eq!(
            status(&j, "REL-009"),
            Status::Passed,
            "{}",
            message(&j, "REL-009")
        );
        assert_eq!(
            status(&j, "REL-001"),
            Status::Passed,
            "a refusal is no loss"
        );
        assert!(j
            .observed
            .sentence()
            .contains("1 refused for good by the sink, 1 of them dead-lettered"));
        let j = check(&h, &s, &STRICT, Some(&[]));
        assert_eq!(status(&j, "REL-009"), Status::Failed);
        assert!(message(&j, "REL-009").contains(&s.id(2)));
        let j = check(&h, &s, &STRICT, None);
        assert_eq!(
            status(&j, "REL-009"),
            Status::Passed,
            "no report: only the retry part"
        );
        h.arrived(2, 20, Some(204), None, 0);
        let j = check(&h, &s, &STRICT, Some(&listed));
        assert_eq!(status(&j, "REL-009"), Status::Failed);
        assert!(message(&j, "REL-009").contains("delivered again after a permanent refusal"));
    }

    #[test]
    fn too_little_evidence_is_inconclusive_never_a_pass() {
        let s = stream(5);
        let j = check(&history(5, &in_order(5)), &s, &STRICT, None);
        assert_eq!(j.cases.len(), 1);
        assert_eq!(j.cases[0].status, Status::Errored);
        let s = stream(N);
        let j = check(&history(N, &[]), &s, &STRICT, None);
        assert_eq!(j.cases[0].status, Status::Errored);
        assert!(j.cases[0].message.contains("reached the sink"));
        let j = check(&History::new(N as usize), &s, &STRICT, None);
        assert!(j.cases[0].message.contains("acknowledged no event"));
    }

    #[test]
    fn large_events_must_fare_as_well_as_the_others() {
        let s = stream(N);
        let big = s.large().next().unwrap();
        let j = check(&history(N, &in_order(N)), &s, &STRICT, None);
        assert_eq!(
            status(&j, "REL-007"),
            Status::Passed,
            "{}",
            message(&j, "REL-007")
        );
        // Refused at the door (never acknowledged) while every other event was taken.
        let mut h = History::new(N as usize);
        for x in 0..N {
            h.sending(x, 1, x * 10);
            if x != big {
                h.acked(x, x * 10 + 1);
                h.arrived(x, 1000 + x, Some(204), None, 0);
            }
        }
        let j = check(&h, &s, &STRICT, None);
        assert_eq!(status(&j, "REL-007"), Status::Failed);
        assert!(message(&j, "REL-007").contains(&format!("{} (#{big})", s.id(big))));
        assert_eq!(
            status(&j, "REL-001"),
            Status::Passed,
            "not acknowledged: no loss"
        );
        // Lost, or cut, while nothing else was: REL-007; lost like others: REL-001 alone.
        let order: Vec<u64> = (0..N).filter(|&x| x != big).collect();
        let j = check(&history(N, &order), &s, &STRICT, None);
        assert_eq!(status(&j, "REL-007"), Status::Failed);
        let order: Vec<u64> = (0..N).filter(|&x| x != big && x != big + 1).collect();
        let j = check(&history(N, &order), &s, &STRICT, None);
        assert_eq!(
            status(&j, "REL-007"),
            Status::Passed,
            "{}",
            message(&j, "REL-007")
        );
        assert_eq!(status(&j, "REL-001"), Status::Failed);
        let mut h = history(N, &in_order(N));
        h.arrived(big, 9000, Some(204), None, Field::CustomData.bit());
        let j = check(&h, &s, &STRICT, None);
        assert_eq!(status(&j, "REL-007"), Status::Failed);
        assert!(message(&j, "REL-007").contains("data changed"));
        // No large event in a short stream: skipped.
        let s = stream(4);
        let j = check(&history(4, &in_order(4)), &s, &STRICT, None);
        assert!(j
            .cases
            .iter()
            .all(|c| c.requirement != "REL-007" || c.status != Status::Passed));
    }

    #[test]
    fn what_the_deliveries_carried_is_judged() {
        let s = stream(N);
        let mut h = history(N, &in_order(N));
        let j = check(&h, &s, &STRICT, None);
        for id in ["REL-010", "CE-HTTP-003", "CE-HTTP-010"] {
            assert_eq!(status(&j, id), Status::Skipped, "{id}: nothing judged");
        }
        h.carried.mode_changes = 5;
        h.carried.implied_judged = 2;
        h.carried.percent_judged = 3;
        let j = check(&h, &s, &STRICT, None);
        for id in ["REL-010", "CE-HTTP-003", "CE-HTTP-010"] {
            assert_eq!(status(&j, id), Status::Passed, "{id}");
        }
        let q = (0..N)
            .find(|&q| s.kind(q) == super::super::Kind::Percent)
            .unwrap();
        let p = s.event(q);
        let mut env = crate::input::Envelope {
            mode: crate::input::ContentMode::Binary,
            ce: Some(p.ce),
            content_type: None,
            cdevent: p.event,
            raw_data_was_base64: false,
        };
        if let Some(ce) = env.ce.as_mut() {
            ce.extensions.insert(
                super::super::PERCENT_EXTENSION.into(),
                serde_json::json!("A is A; 50% is half"),
            );
        }
        h.carried.observe(&s, q, crate::wire::Mode::Binary, &env);
        let j = check(&h, &s, &STRICT, None);
        assert_eq!(status(&j, "CE-HTTP-010"), Status::Failed);
        assert!(message(&j, "CE-HTTP-010").contains(&format!("{} (#{q})", s.id(q))));
        assert!(message(&j, "CE-HTTP-010").contains("percent-decoded twice"));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}

#[cfg(test)]
mod listing {
    #[test]
    fn the_listing_is_what_a_run_reports() {
        let s = super::Stream::new(
            cdevents_schemas::SpecVersion::DEFAULT,
            1,
            30,
            chrono::Utc::now(),
        )
        .unwrap();
        let mut h = super::History::new(30);
        for x in 0..30 {
            h.sending(x, 1, x);
            h.acked(x, x);
            h.arrived(x, x, Some(204), None, 0);
        }
        let j = super::check(&h, &s, &super::Claims::default(), None);
        let got: Vec<String> = j.cases.iter().map(|c| c.case.clone()).collect();
        let want: Vec<String> = super::CASES
            .iter()
            .map(|(i, s)| format!("{i}/{s}"))
            .collect();
        assert_eq!(got, want);
    }
}
