//! The listener suite against the reference listener: conformant passes everything; every
//! fault fails at least the requirements it breaks (the fault table), with evidence.
//!
//! Every run is observed (`--observe`): the reference listener forwards what it takes to the
//! kit's sink, and the webhook handshake profile is on, so the forwarding and handshake faults
//! are in the same table.

use std::collections::BTreeSet;
use std::time::Duration;

use cdevents_reports::model::{CaseResult, Status};
use std::sync::OnceLock;

use cdevents_suites::drivers::listener::{
    cases, run_observed, Case, Observer, Options, RunConfig, Secret,
};
use cdevents_suites::reference::listener::{spawn_reference_listener, Config, Fault};

/// The access token of every run: characters the query parameter must percent-encode, so that
/// both the encoding and the redaction of its encoded form are exercised.
const TOKEN: &str = "kit-s3cret+/token";

/// The run, the kit and the reference listener sharing [`TOKEN`].
async fn run_against(fault: Option<Fault>) -> Vec<CaseResult> {
    run_with(fault, Some(TOKEN), corpus().to_vec()).await
}

async fn run_with(
    fault: Option<Fault>,
    kit_token: Option<&str>,
    cases: Vec<Case>,
) -> Vec<CaseResult> {
    let observer = Observer::start("127.0.0.1:0".parse().expect("addr"), Duration::from_secs(1))
        .await
        .expect("the sink starts");
    let (addr, _handle) = spawn_reference_listener(Config {
        fault,
        max_body: 1 << 20,
        forward: Some(observer.url()),
        token: Some(TOKEN.to_owned()),
        ..Config::default()
    })
    .await
    .expect("reference listener starts");
    let cfg = RunConfig {
        target: format!("http://{addr}/events"),
        // Generous: the fault runs share two cores with the rest of the test suite, and the
        // first answer of each reference listener compiles its schemas.
        timeout: Duration::from_secs(2),
        concurrency: 8,
        reproduce: Some(format!(
            "cdevents-conformance test listener --target http://{addr}/events"
        )),
        token: kit_token.and_then(Secret::new),
        ..RunConfig::default()
    };
    let mut out = Vec::new();
    run_observed(&cfg, cases, Some(&observer), |r| out.push(r))
        .await
        .expect("the run judges");
    // The token never shows in a result, evidence and reproduce included.
    for r in &out {
        let text = serde_json::to_string(r).expect("a result serializes");
        let encoded = "kit-s3cret%2B%2Ftoken";
        assert!(
            !text.contains(TOKEN) && !text.contains(encoded),
            "{}: the token shows: {text}",
            r.case
        );
    }
    out
}

/// The default corpus, built once (it is pure), with a smaller oversized body.
fn corpus() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        cases(&Options {
            oversize_bytes: 2 << 20,
            webhook: true,
            ..Options::default()
        })
    })
}

fn failed(results: &[CaseResult]) -> BTreeSet<String> {
    results
        .iter()
        .filter(|r| r.status == Status::Failed)
        .map(|r| r.requirement.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reference_listener_passes_everything() {
    let results = run_against(None).await;
    let bad: Vec<String> = results
        .iter()
        .filter(|r| !matches!(r.status, Status::Passed | Status::Skipped))
        .map(|r| format!("{} {:?}: {} | {:?}", r.case, r.status, r.message, r.actual))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let exercised: BTreeSet<&str> = results.iter().map(|r| r.requirement.as_str()).collect();
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
        "WH-014/query-only",
        "WH-014/header-only",
    ] {
        let r = results.iter().find(|r| r.case == id);
        assert_eq!(r.map(|r| r.status), Some(Status::Passed), "{id}: {r:?}");
    }
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
        "LIS-009",
        "LIS-010",
        "LIS-011",
        "LIS-012",
        "LIS-013",
        "WH-015",
        "WH-018",
        "WH-019",
        "WH-020",
        "WH-014",
    ] {
        assert!(exercised.contains(id), "{id} not exercised");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_wh_014_is_skipped_with_a_reason() {
    let wh014: Vec<Case> = corpus()
        .iter()
        .filter(|c| c.requirement == "WH-014")
        .cloned()
        .collect();
    assert_eq!(wh014.len(), 2);
    let results = run_with(None, None, wh014).await;
    let judged: Vec<&CaseResult> = results
        .iter()
        .filter(|r| r.requirement == "WH-014")
        .collect();
    assert_eq!(judged.len(), 2, "{results:?}");
    for r in judged {
        assert_eq!(r.status, Status::Skipped, "{r:?}");
        assert!(r.message.contains("--token"), "{}", r.message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_header_only_fails_wh_014_with_redacted_evidence() {
    let results = run_against(Some(Fault::TokenHeaderOnly)).await;
    let q = results
        .iter()
        .find(|r| r.case == "WH-014/query-only")
        .expect("the query-only case ran");
    assert_eq!(q.status, Status::Failed, "{q:?}");
    let req = q
        .evidence
        .as_ref()
        .and_then(|e| e.request.as_ref())
        .expect("the request as evidence");
    assert!(
        req.start_line.contains("access_token=***"),
        "{}",
        req.start_line
    );
    assert!(req.header("authorization").is_none(), "{req:?}");
    assert_eq!(
        q.evidence
            .as_ref()
            .and_then(|e| e.response.as_ref())
            .map(|r| r.start_line.as_str()),
        Some("HTTP/1.1 401")
    );
    let h = results
        .iter()
        .find(|r| r.case == "WH-014/header-only")
        .expect("the header-only case ran");
    assert_eq!(h.status, Status::Passed, "{h:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_fails_the_requirements_it_breaks() {
    corpus();
    let mut runs = tokio::task::JoinSet::new();
    // A few runs at a time: all 27 at once starve each other's first answers on 2 cores.
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(6));
    for fault in Fault::ALL {
        let slots = slots.clone();
        runs.spawn(async move {
            let _slot = slots.acquire_owned().await.expect("semaphore open");
            (fault, run_against(Some(fault)).await)
        });
    }
    let mut problems = Vec::new();
    while let Some(done) = runs.join_next().await {
        let (fault, results) = done.expect("a fault run");
        let failed = failed(&results);
        for id in fault.breaks() {
            if !failed.contains(*id) {
                problems.push(format!("{fault}: {id} did not fail (failed: {failed:?})"));
            }
        }
        for r in results.iter().filter(|r| r.status == Status::Failed) {
            let ev = r.evidence.as_ref();
            let has_evidence = r.requirement.ends_with("/every-answer")
                || r.case.ends_with("/every-answer")
                || ev.is_some_and(|e| e.request.is_some())
                || r.case.starts_with("LIS-006/after/");
            if !has_evidence || r.reproduce.is_none() || r.expected.is_none() || r.actual.is_none()
            {
                problems.push(format!("{fault}: {} lacks evidence or reproduce", r.case));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
