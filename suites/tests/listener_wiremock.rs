//! Each check of the listener suite against wiremock listeners with scripted misbehaviour.

use std::collections::BTreeMap;
use std::time::Duration;

use cdevents_reports::model::{CaseResult, Status};
use cdevents_suites::drivers::listener::{cases, run, Case, Options, RunConfig};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Runs the cases whose id starts with one of `prefixes`; status per case id.
async fn run_on(server: &MockServer, prefixes: &[&str]) -> BTreeMap<String, CaseResult> {
    static CORPUS: std::sync::OnceLock<Vec<Case>> = std::sync::OnceLock::new();
    let selected = CORPUS
        .get_or_init(|| cases(&Options::default()))
        .iter()
        .filter(|c| prefixes.iter().any(|p| c.id.starts_with(p)))
        .cloned()
        .collect();
    let cfg = RunConfig {
        target: format!("{}/events", server.uri()),
        timeout: Duration::from_secs(2),
        ..RunConfig::default()
    };
    let mut out = BTreeMap::new();
    run(&cfg, selected, |r| {
        out.insert(r.case.clone(), r);
    })
    .await
    .expect("the run judges");
    out
}

fn status(results: &BTreeMap<String, CaseResult>, id: &str) -> Status {
    results
        .get(id)
        .map(|r| r.status)
        .unwrap_or_else(|| panic!("no case {id}: {:?}", results.keys()))
}

const SOME: &[&str] = &[
    "LIS-001/binary/pipelinerun.finished",
    "WH-006/",
    "LIS-004/binary/missing-id",
    "LIS-005/binary/unknown-type",
    "WH-011/text-plain",
];

#[tokio::test]
async fn always_500_fails_acceptance_and_refusal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let r = run_on(&server, SOME).await;
    assert_eq!(
        status(&r, "LIS-001/binary/pipelinerun.finished"),
        Status::Failed
    );
    assert_eq!(status(&r, "LIS-004/binary/missing-id"), Status::Failed);
    assert_eq!(status(&r, "LIS-005/binary/unknown-type"), Status::Failed);
    assert_eq!(status(&r, "WH-011/text-plain"), Status::Failed);
    // The probe after hostile input is refused too.
    assert_eq!(
        status(&r, "LIS-006/after/LIS-004/binary/missing-id"),
        Status::Failed
    );
    let failed = &r["LIS-004/binary/missing-id"];
    let ev = failed.evidence.as_ref().expect("evidence");
    assert!(ev
        .request
        .as_ref()
        .is_some_and(|m| m.start_line.starts_with("POST /events")));
    assert!(ev
        .response
        .as_ref()
        .is_some_and(|m| m.start_line.contains("500")));
    assert!(ev.curl().is_some_and(|c| c.starts_with("curl ")));
}

#[tokio::test]
async fn empty_200_fails_only_the_webhook_status_rule() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let r = run_on(&server, &["LIS-001/binary/pipelinerun.finished", "WH-006/"]).await;
    assert_eq!(
        status(&r, "LIS-001/binary/pipelinerun.finished"),
        Status::Passed
    );
    assert_eq!(status(&r, "WH-006/binary"), Status::Failed);
    assert_eq!(status(&r, "WH-006/structured"), Status::Failed);
}

#[tokio::test]
async fn body_without_content_type_fails_wh_007() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"ok".to_vec()))
        .mount(&server)
        .await;
    let r = run_on(&server, &["WH-006/"]).await;
    assert_eq!(status(&r, "WH-006/binary"), Status::Passed);
    assert_eq!(status(&r, "WH-007/every-answer"), Status::Failed);
}

#[tokio::test]
async fn redirects_fail_wh_004() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/elsewhere"))
        .mount(&server)
        .await;
    let r = run_on(&server, &["LIS-001/binary/pipelinerun.finished"]).await;
    assert_eq!(
        status(&r, "LIS-001/binary/pipelinerun.finished"),
        Status::Failed
    );
    assert_eq!(status(&r, "WH-004/every-answer"), Status::Failed);
}

#[tokio::test]
async fn rate_limiting_is_retried_and_retry_after_is_required() {
    for (retry_after, want) in [(None, Status::Failed), (Some("0"), Status::Passed)] {
        let server = MockServer::start().await;
        let mut limited = ResponseTemplate::new(429);
        if let Some(v) = retry_after {
            limited = limited.insert_header("retry-after", v);
        }
        Mock::given(method("POST"))
            .respond_with(limited)
            .up_to_n_times(2)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(202))
            .mount(&server)
            .await;
        let r = run_on(&server, &["LIS-001/binary/pipelinerun.finished"]).await;
        // The preflight takes one 429 unretried; the case is retried until it is taken.
        assert_eq!(
            status(&r, "LIS-001/binary/pipelinerun.finished"),
            Status::Passed
        );
        assert_eq!(status(&r, "WH-009/every-answer"), want, "{retry_after:?}");
    }
}

#[tokio::test]
async fn duplicates_refused_fail_redelivery() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(409))
        .mount(&server)
        .await;
    // The preflight takes the first 202, the first delivery the second, the redelivery 409.
    let r = run_on(&server, &["LIS-007/binary"]).await;
    assert_eq!(status(&r, "LIS-007/binary"), Status::Failed);
}

/// The evidence the driver builds by moving a sent request in (`send_owned`, `exchange_of`) is
/// the evidence `send_as` builds by copying: same request, same curl command, with and without
/// a token (which both redact).
#[tokio::test]
async fn evidence_moved_in_is_the_evidence_copied() {
    use cdevents_suites::drivers::listener::{Auth, Client, Payload, Secret, Target};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).insert_header("x-kit", "ok"))
        .mount(&server)
        .await;
    let corpus = cases(&Options::default());
    let req = corpus
        .iter()
        .find_map(|c| match &c.payload {
            Payload::Http(r) if c.id.starts_with("LIS-001/structured/") => Some(r.clone()),
            _ => None,
        })
        .expect("a structured case");
    let target = Target::parse(&format!("{}/events?x=1", server.uri())).unwrap();
    for token in [None, Secret::new("s3cret-t0ken")] {
        let client = Client::new(target.clone(), Duration::from_secs(2))
            .unwrap()
            .with_token(token.clone());
        let copied = client
            .send_as(&Payload::Http(req.clone()), Auth::Default)
            .await;
        let (back, outcome) = client.send_owned(req.clone()).await;
        assert_eq!(back, req, "the request comes back whole");
        let moved = client.exchange_of(back, outcome);
        assert_eq!(moved.request, copied.request, "token {token:?}");
        let curl = |ex: &cdevents_suites::drivers::listener::Exchange| {
            cdevents_reports::model::Evidence {
                request: Some(ex.request.clone()),
                curl: ex.curl.clone(),
                curl_to: ex.curl_to.clone(),
                ..Default::default()
            }
            .curl()
            .map(|c| c.into_owned())
        };
        let c = curl(&moved).expect("a curl command");
        assert_eq!(Some(&c), curl(&copied).as_ref());
        assert!(!c.contains("s3cret"), "{c}");
        let status = |ex: &cdevents_suites::drivers::listener::Exchange| {
            ex.outcome.as_ref().map(|r| r.status).ok()
        };
        assert_eq!((status(&moved), status(&copied)), (Some(202), Some(202)));
    }
}
