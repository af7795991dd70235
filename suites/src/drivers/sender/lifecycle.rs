//! The lifecycle of each subject, from the spec's event semantics: runs are queued, then
//! started, then finished; long-lived subjects are created, then changed, then deleted.

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

#[cfg(test)]
mod tests {
    use super::*;

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
