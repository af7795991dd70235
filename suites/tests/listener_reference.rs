//! The listener suite against the reference listener, through the self-test engine: the
//! conformant listener passes everything; every fault fails exactly the requirements its table
//! entry names (`Fault::breaks`), and each failure carries its evidence.

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

use cdevents_reports::model::{CaseResult, Status};
use cdevents_suites::drivers::listener::{
    cases, run_observed, Case, Observer, Options, RunConfig, Secret,
};
use cdevents_suites::reference::listener::{spawn_reference_listener, Config, Fault};
use cdevents_suites::selftest::roles::LISTENER_TOKEN as TOKEN;
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
        // The token never shows in a result, evidence and reproduce included.
        for r in &run.results {
            let text = serde_json::to_string(r).expect("a result serializes");
            if text.contains(TOKEN) || text.contains("kit-s3cret%2B%2Ftoken") {
                problems.push(format!("{name}: {}: the token shows: {text}", r.case));
            }
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
        "LIS-009",
        "LIS-010",
        "LIS-011",
        "LIS-012",
        "LIS-013",
        "WH-014",
        "WH-015",
        "WH-018",
        "WH-019",
        "WH-020",
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
        "WH-014/query-only",
        "WH-014/header-only",
    ] {
        let r = reference.results.iter().find(|r| r.case == id);
        if r.map(|r| r.status) != Some(Status::Passed) {
            problems.push(format!("reference: {id} not passed: {r:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

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
