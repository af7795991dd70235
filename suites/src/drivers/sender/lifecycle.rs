//! The lifecycle of each subject, from the spec's event semantics: runs are queued, then
//! started, then finished; long-lived subjects are created, then changed, then deleted.
//!
//! [`subject_ids`] judges CDE-SUB-006 and CDE-SUB-007 from the events one run delivered, for
//! the subject types of [`LIFECYCLES`] only (their first phase is known).

use std::collections::HashMap;

use cdevents_reports::model::CaseResult;
use chrono::{DateTime, FixedOffset};

use super::judge::{skipped, verdict};
use super::sink::Delivery;

/// Subjects whose events follow a lifecycle, with their predicates in lifecycle order. The
/// reference sender emits these sequences; [`lifecycle_rank`] judges them.
pub const LIFECYCLES: &[(&str, &[&str])] = &[
    ("pipelinerun", &["queued", "started", "finished"]),
    ("taskrun", &["started", "finished"]),
    ("build", &["queued", "started", "finished"]),
    ("environment", &["created", "modified", "deleted"]),
    ("testsuiterun", &["queued", "started", "finished"]),
    ("change", &["created", "reviewed", "merged"]),
    ("repository", &["created", "modified", "deleted"]),
    ("ticket", &["created", "updated", "closed"]),
];

/// The phase of a predicate within its subject's lifecycle: 0 for a beginning (queued,
/// created, detected...), 1 for a middle (started, modified...), 2 for an end (finished,
/// deleted...). `None` when the predicate has no place in a lifecycle (e.g. an artifact being
/// downloaded) and is not judged. Events of one subject must never go back to an earlier phase.
pub fn lifecycle_rank(subject: &str, predicate: &str) -> Option<u8> {
    // Artifacts and services have no single order among their predicates beyond these.
    match (subject, predicate) {
        (_, "queued" | "created" | "detected" | "packaged" | "deployed") => Some(0),
        ("incident", "reported") => Some(1),
        (
            _,
            "started" | "modified" | "updated" | "reviewed" | "upgraded" | "rolledback" | "signed",
        ) => Some(1),
        (
            _,
            "finished" | "deleted" | "removed" | "merged" | "abandoned" | "closed" | "resolved"
            | "skipped",
        ) => Some(2),
        _ => None,
    }
}

/// One distinct event, in the order it first arrived, as [`subject_ids`] reads it.
pub(super) struct Step<'a> {
    /// CloudEvents source.
    pub source: &'a str,
    /// Subject type (`pipelinerun`), from `context.type`.
    pub kind: String,
    /// `subject.id`.
    pub subject: &'a str,
    /// Predicate (`queued`), from `context.type`.
    pub predicate: String,
    /// `context.timestamp`.
    pub timestamp: Option<DateTime<FixedOffset>>,
    /// How reports name the event (source and id).
    pub name: String,
    /// The request that first carried it.
    pub delivery: &'a Delivery,
}

/// The first predicate of a subject type with a known lifecycle.
fn first_predicate(kind: &str) -> Option<&'static str> {
    LIFECYCLES
        .iter()
        .find(|(k, _)| *k == kind)
        .and_then(|(_, p)| p.first().copied())
}

/// A lifecycle's key: source, subject type, subject id.
type Life3<'a> = (&'a str, &'a str, &'a str);

/// CDE-SUB-006 and CDE-SUB-007 over one run's events (arrival order).
///
/// Observable, and judged:
/// - CDE-SUB-006: a subject id whose lifecycle has no beginning in the run (its first event is
///   a `started` or `finished`, say) while an earlier subject of the same type and source began
///   and never ended: the lifecycle went on under a new id.
/// - CDE-SUB-007: one subject id (per source) carried by subjects of two types, or a lifecycle
///   that restarts under one id: its first predicate again (another event, another timestamp:
///   a retry under a new id keeps its timestamp and is SND-002's), or after an end phase.
///
/// Not observable: a lifecycle begun before the run (without an open one to blame), ids reused
/// across runs, or a new id given to a subject whose earlier lifecycle already ended.
pub(super) fn subject_ids(steps: &[Step]) -> [CaseResult; 2] {
    struct Life<'s, 'a> {
        ended: bool,
        first: &'s Step<'a>,
        beginnings: Vec<&'s Step<'a>>,
        end: Option<&'s Step<'a>>,
    }
    let mut judged = 0;
    let mut lives: HashMap<Life3, Life> = HashMap::new();
    // Per (source, type), the subjects whose first event in the run was their beginning, in
    // that order: the latest one still open is the one a new id's lifecycle is blamed on. Ended
    // ones are dropped from the top as they are met (an end is never undone), so each lookup is
    // amortised O(1) instead of a scan of every earlier subject.
    let mut began: HashMap<(&str, &str), Vec<Life3>> = HashMap::new();
    let mut kinds: HashMap<(&str, &str), &Step> = HashMap::new();
    let (mut p6, mut p7) = (Vec::new(), Vec::new());
    for s in steps {
        let Some(first) = first_predicate(&s.kind) else {
            continue;
        };
        let Some(rank) = lifecycle_rank(&s.kind, &s.predicate) else {
            continue;
        };
        judged += 1;
        let first_rank = lifecycle_rank(&s.kind, first).unwrap_or(0);
        if let Some(other) = kinds.get(&(s.source, s.subject)) {
            if other.kind != s.kind {
                p7.push((
                    format!(
                        "subject id {:?} is a {} ({}) and a {} ({})",
                        s.subject, other.kind, other.name, s.kind, s.name
                    ),
                    Some(s.delivery),
                ));
            }
        } else {
            kinds.insert((s.source, s.subject), s);
        }
        let key = (s.source, s.kind.as_str(), s.subject);
        let beginning = s.predicate == first;
        match lives.get_mut(&key) {
            None => {
                if beginning {
                    began.entry((key.0, key.1)).or_default().push(key);
                }
                lives.insert(
                    key,
                    Life {
                        ended: rank == 2,
                        first: s,
                        beginnings: if beginning { vec![s] } else { Vec::new() },
                        end: (rank == 2).then_some(s),
                    },
                );
                if rank > first_rank && !beginning {
                    // Who began and was left open before it?
                    let open = began.get_mut(&(key.0, key.1)).and_then(|stack| {
                        while let Some(top) = stack.last() {
                            match lives.get(top) {
                                Some(l) if !l.ended => return Some(l),
                                _ => {
                                    stack.pop();
                                }
                            }
                        }
                        None
                    });
                    if let Some(open) = open {
                        p6.push((
                            format!(
                                "{} {:?}: {} ({}) has no {first} in this run, while {} {:?} began ({}) and never ended: one lifecycle under two subject ids",
                                s.kind, s.subject, s.predicate, s.name, s.kind, open.first.subject, open.first.name
                            ),
                            Some(s.delivery),
                        ));
                    }
                }
            }
            Some(life) => {
                if beginning {
                    let again = life.beginnings.iter().find(|b| b.timestamp != s.timestamp);
                    let after_end = life.end.filter(|e| match (e.timestamp, s.timestamp) {
                        (Some(a), Some(b)) => b > a,
                        _ => true,
                    });
                    if let Some(prev) = after_end {
                        p7.push((
                            format!(
                                "{} {:?} restarts: {} ({}) after its {} ({})",
                                s.kind, s.subject, s.predicate, s.name, prev.predicate, prev.name
                            ),
                            Some(s.delivery),
                        ));
                    } else if let Some(prev) = again {
                        p7.push((
                            format!(
                                "{} {:?} restarts: a second {} ({}) after {}",
                                s.kind, s.subject, s.predicate, s.name, prev.name
                            ),
                            Some(s.delivery),
                        ));
                    }
                    life.beginnings.push(s);
                }
                if rank == 2 {
                    life.ended = true;
                    life.end = Some(s);
                }
            }
        }
    }
    if judged == 0 {
        let why = "no event of a subject type with a known lifecycle arrived";
        return [
            skipped("CDE-SUB-006", "", why),
            skipped("CDE-SUB-007", "", why),
        ];
    }
    [
        verdict(
            "CDE-SUB-006",
            "",
            &format!(
                "no lifecycle of {} subjects went on under a new subject id",
                lives.len()
            ),
            p6,
        ),
        verdict(
            "CDE-SUB-007",
            "",
            &format!(
                "{} subject ids each named one subject, with one lifecycle",
                lives.len()
            ),
            p7,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdevents_reports::model::Status;
    use std::time::Duration;

    fn delivery() -> Delivery {
        Delivery {
            index: 0,
            connection: 0,
            received: Duration::ZERO,
            answered: Duration::ZERO,
            method: "POST".into(),
            path: "/".into(),
            headers: Vec::new(),
            body: Vec::new(),
            refused: None,
            events: Vec::new(),
            decode_errors: Vec::new(),
            attempt: 0,
            fault: crate::faults::Fault::None,
            status: Some(204),
            retry_after: None,
        }
    }

    /// Judges `(kind, subject, predicate, second)` events from one source, in that order.
    fn judge(events: &[(&str, &str, &str, u32)]) -> [Status; 2] {
        let d = delivery();
        let steps: Vec<Step> = events
            .iter()
            .enumerate()
            .map(|(i, (kind, subject, predicate, sec))| Step {
                source: "/s",
                kind: kind.to_string(),
                subject,
                predicate: predicate.to_string(),
                timestamp: DateTime::parse_from_rfc3339(&format!("2024-01-01T00:00:{sec:02}Z"))
                    .ok(),
                name: format!("/s {i}"),
                delivery: &d,
            })
            .collect();
        subject_ids(&steps).map(|c| c.status)
    }

    #[test]
    fn subject_ids_follow_one_lifecycle_each() {
        use Status::{Failed, Passed, Skipped};
        let ok = [Passed, Passed];
        // Two runs side by side, one cut short by the end of the run.
        let run = [
            ("pipelinerun", "a", "queued", 1),
            ("pipelinerun", "b", "queued", 2),
            ("pipelinerun", "a", "started", 3),
            ("pipelinerun", "a", "finished", 4),
            ("pipelinerun", "b", "started", 5),
        ];
        assert_eq!(judge(&run), ok);
        // A lifecycle begun before the run, with nothing open to blame: not judged.
        assert_eq!(judge(&[("build", "x", "finished", 1)]), ok);
        // Out of order (SND-008's), not a restart: started is timestamped before finished.
        assert_eq!(
            judge(&[
                ("taskrun", "t", "finished", 2),
                ("taskrun", "t", "started", 1)
            ]),
            ok
        );
        // A retry under a new id keeps its timestamp: SND-002's, not a second run.
        assert_eq!(
            judge(&[("build", "x", "queued", 1), ("build", "x", "queued", 1)]),
            ok
        );
        // Repeated middles are no restart.
        assert_eq!(
            judge(&[
                ("environment", "e", "created", 1),
                ("environment", "e", "modified", 2),
                ("environment", "e", "modified", 3)
            ]),
            ok
        );
        // CDE-SUB-006: the run went on under a new id.
        assert_eq!(
            judge(&[
                ("pipelinerun", "a", "queued", 1),
                ("pipelinerun", "a2", "started", 2)
            ]),
            [Failed, Passed]
        );
        // CDE-SUB-007: two types, one id; a second queued; started again after finished.
        assert_eq!(
            judge(&[
                ("pipelinerun", "a", "queued", 1),
                ("build", "a", "queued", 2)
            ]),
            [Passed, Failed]
        );
        assert_eq!(
            judge(&[("build", "x", "queued", 1), ("build", "x", "queued", 5)]),
            [Passed, Failed]
        );
        assert_eq!(
            judge(&[
                ("taskrun", "t", "started", 1),
                ("taskrun", "t", "finished", 2),
                ("taskrun", "t", "started", 3)
            ]),
            [Passed, Failed]
        );
        // Nothing with a known lifecycle.
        assert_eq!(
            judge(&[("artifact", "a", "published", 1)]),
            [Skipped, Skipped]
        );
    }

    /// The CDE-SUB-006 message for `(subject, predicate)` pipelinerun events from one source.
    fn blame(events: &[(&str, &str)]) -> String {
        let d = delivery();
        let steps: Vec<Step> = events
            .iter()
            .enumerate()
            .map(|(i, (subject, predicate))| Step {
                source: "/s",
                kind: "pipelinerun".into(),
                subject,
                predicate: predicate.to_string(),
                timestamp: None,
                name: format!("/s {i}"),
                delivery: &d,
            })
            .collect();
        let [sub6, _] = subject_ids(&steps);
        sub6.message
    }

    #[test]
    fn a_new_id_is_blamed_on_the_latest_open_lifecycle() {
        // b is the latest begun and still open.
        let m = blame(&[("a", "queued"), ("b", "queued"), ("c", "started")]);
        assert!(m.contains("while pipelinerun \"b\" began"), "{m}");
        // b ended, so a is the latest open one.
        let m = blame(&[
            ("a", "queued"),
            ("b", "queued"),
            ("b", "finished"),
            ("c", "started"),
        ]);
        assert!(m.contains("while pipelinerun \"a\" began"), "{m}");
        // Both ended: nothing to blame.
        let m = blame(&[
            ("a", "queued"),
            ("b", "queued"),
            ("a", "finished"),
            ("b", "finished"),
            ("c", "started"),
        ]);
        assert!(!m.contains("two subject ids"), "{m}");
        // A subject whose first event was not its beginning is never blamed.
        let m = blame(&[("a", "started"), ("c", "started")]);
        assert!(!m.contains("two subject ids"), "{m}");
    }

    #[test]
    fn every_sequence_is_ranked_in_order() {
        for (subject, preds) in LIFECYCLES {
            let ranks: Vec<u8> = preds
                .iter()
                .map(|p| lifecycle_rank(subject, p).expect(p))
                .collect();
            assert!(
                ranks.windows(2).all(|w| w[0] < w[1]),
                "{subject}: {ranks:?}"
            );
        }
    }
}
