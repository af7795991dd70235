//! The listener suite against the reference listener, through the self-test engine: the
//! conformant listener passes everything; every fault fails exactly the requirements its table
//! entry names (`Fault::breaks`), and each failure carries its evidence.

use std::collections::BTreeSet;

use cdevents_reports::model::Status;
use cdevents_suites::selftest::{self, roles, Filter, RunOutcome};

async fn listener_runs() -> Vec<RunOutcome> {
    let filter = Filter {
        roles: vec!["listener".into()],
        ..Filter::default()
    };
    selftest::run(&[roles::LISTENER], &filter, None).await.runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reference_passes_and_every_fault_fails_exactly_its_requirements() {
    let runs = listener_runs().await;
    assert_eq!(
        runs.len(),
        1 + cdevents_suites::reference::listener::Fault::ALL.len()
    );
    let mut problems = Vec::new();
    for run in &runs {
        let name = run.fault.unwrap_or("reference");
        if !run.as_expected() {
            problems.push(format!(
                "{name}: expected to fail {:?}, failed {:?}; errored {:?}; error {:?}",
                run.expected, run.failed, run.errored, run.error
            ));
        }
        for r in run.results.iter().filter(|r| r.status == Status::Failed) {
            let ev = r.evidence.as_ref();
            let has_evidence = r.case.ends_with("/every-answer")
                || ev.is_some_and(|e| e.request.is_some())
                || r.case.starts_with("LIS-006/after/");
            if !has_evidence || r.reproduce.is_none() || r.expected.is_none() || r.actual.is_none()
            {
                problems.push(format!("{name}: {} lacks evidence or reproduce", r.case));
            }
        }
    }
    let reference = &runs[0];
    assert!(reference.fault.is_none());
    let exercised: BTreeSet<&str> = reference.exercised.iter().map(String::as_str).collect();
    for id in [
        "LIS-001",
        "LIS-002",
        "LIS-003",
        "LIS-004",
        "LIS-005",
        "LIS-006",
        "LIS-007",
        "LIS-008",
        "WH-004",
        "WH-006",
        "WH-011",
        "WH-012",
        "CE-HTTP-006",
        "CE-HTTP-008",
        "CE-HTTP-011",
    ] {
        if !exercised.contains(id) {
            problems.push(format!("reference: {id} not exercised"));
        }
    }
    // Observation and the handshake are judged, not skipped, against the reference.
    for id in [
        "LIS-010/observed",
        "LIS-011/observed",
        "LIS-012/observed",
        "LIS-013/observed",
        "WH-015/options",
        "WH-018/options",
        "WH-019/options-rate",
        "WH-020/options",
    ] {
        let r = reference.results.iter().find(|r| r.case == id);
        if r.map(|r| r.status) != Some(Status::Passed) {
            problems.push(format!("reference: {id} not passed: {r:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
