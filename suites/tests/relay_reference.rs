//! The relay suite against the reference relay: conformant under `transient` and `hostile`
//! sink faults, and each deliberate fault caught by the requirements it breaks, with the
//! observed classification it causes and evidence naming the event ids.

use std::time::Duration;

use cdevents_reports::model::Status;
use cdevents_suites::drivers::relay::{check, Claims, Harness, Judgement, RelayConfig};
use cdevents_suites::drivers::sender::{Guarantee, Ordering};
use cdevents_suites::reference::relay::{spawn_reference_relay, Config, RelayFault};
use cdevents_suites::selftest::roles::{run_relay_suite, RelaySetup};
use cdevents_suites::wire::Mode;

const CLAIMS: Claims = Claims {
    guarantee: Guarantee::ExactlyOnce,
    ordering: Ordering::PerSubject,
};

async fn run(setup: RelaySetup, count: u64) -> Judgement {
    run_relay_suite(&setup, count)
        .await
        .expect("the relay run judges")
}

fn passed(j: &Judgement) -> Vec<&str> {
    j.cases
        .iter()
        .filter(|c| c.status == Status::Passed)
        .map(|c| c.requirement.as_str())
        .collect()
}

fn failed(j: &Judgement) -> Vec<String> {
    let mut v: Vec<String> = j
        .cases
        .iter()
        .filter(|c| c.status == Status::Failed)
        .map(|c| c.requirement.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

fn errored(j: &Judgement) -> Vec<String> {
    j.cases
        .iter()
        .filter(|c| c.status == Status::Errored)
        .map(|c| format!("{}: {}", c.case, c.message))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_relay_keeps_its_claims_under_transient_faults() {
    let j = run(RelaySetup::REFERENCE, 200).await;
    assert_eq!(failed(&j), Vec::<String>::new(), "{:#?}", j.cases);
    assert!(errored(&j).is_empty(), "{:?}", errored(&j));
    let o = &j.observed;
    assert_eq!(o.guarantee(), "exactly-once", "{}", o.sentence());
    assert_eq!(o.subject_inversions, 0);
    assert!(
        o.transient_faults > 0,
        "the plan must have faulted something"
    );
    let passed = passed(&j);
    // Forwarded in structured mode what the kit sent in binary: the data's type and the
    // percent-escaped extension crossed, and the large events went through.
    for id in [
        "REL-001",
        "REL-002",
        "REL-003",
        "REL-005",
        "REL-006",
        "REL-007",
        "REL-008",
        "REL-010",
        "REL-011",
        "CE-HTTP-003",
        "CE-HTTP-010",
    ] {
        assert!(passed.contains(&id), "{id} not passed: {passed:?}");
    }
    let d = j.observation.delivery.as_ref().unwrap();
    assert_eq!(
        (d.sent, d.acknowledged, d.delivered, d.lost),
        (200, 200, 200, 0)
    );
    assert!(d.latency_ms.max >= d.latency_ms.p50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_in_binary_out_keeps_the_data_type_and_sets_the_implied_one() {
    let setup = RelaySetup::REFERENCE
        .with_plan("none")
        .with_modes(Mode::Structured, Some(Mode::Binary));
    let j = run(setup, 120).await;
    assert_eq!(failed(&j), Vec::<String>::new(), "{:#?}", j.cases);
    let passed = passed(&j);
    for id in [
        "REL-010",
        "CE-HTTP-003",
        "CE-HTTP-010",
        "REL-006",
        "REL-007",
    ] {
        assert!(passed.contains(&id), "{id} not passed: {passed:?}");
    }
    // The same relay broken: the type dropped on the way to binary mode.
    let broken = RelaySetup::fault(RelayFault::DropDataContentType)
        .with_modes(Mode::Structured, Some(Mode::Binary));
    let j = run(broken, 120).await;
    assert_eq!(failed(&j), vec!["CE-HTTP-003", "REL-010"], "{:#?}", j.cases);
    let c = j
        .cases
        .iter()
        .find(|c| c.requirement == "CE-HTTP-003")
        .unwrap();
    assert!(
        c.message
            .contains("sent in the JSON format with datacontenttype `application/json`, arrived in binary mode without Content-Type"),
        "{}",
        c.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_relay_with_one_lane_keeps_total_order() {
    let j = run(RelaySetup::TOTAL, 120).await;
    assert_eq!(failed(&j), Vec::<String>::new(), "{:#?}", j.cases);
    assert!(errored(&j).is_empty(), "{:?}", errored(&j));
    assert_eq!(j.observed.total_inversions, 0, "{}", j.observed.sentence());
    assert_eq!(j.observed.ordering(), "total");
    let passed = passed(&j);
    for id in ["REL-001", "REL-002", "REL-003", "REL-004"] {
        assert!(passed.contains(&id), "{id} not passed: {passed:?}");
    }
    // Same mode in and out: the data's type is not judged, the header values are.
    let skipped = |id: &str| {
        j.cases
            .iter()
            .any(|c| c.requirement == id && c.status == Status::Skipped)
    };
    assert!(skipped("CE-HTTP-003") && skipped("REL-010"));
    assert!(passed.contains(&"CE-HTTP-010"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_relay_under_hostile_faults_dead_letters_and_says_so() {
    let j = run(
        RelaySetup::REFERENCE.with_plan("hostile,delay=100ms,retry-after=0"),
        200,
    )
    .await;
    assert_eq!(failed(&j), Vec::<String>::new(), "{:#?}", j.cases);
    let o = &j.observed;
    assert!(
        !o.refused.is_empty(),
        "hostile refuses some events for good"
    );
    assert_eq!(o.dead_lettered, Some(o.refused.len() as u64));
    assert!(o.lost.is_empty());
    assert!(
        o.sentence().contains("refused for good by the sink")
            && o.sentence().contains("dead-lettered"),
        "{}",
        o.sentence()
    );
    let rel9 = j.cases.iter().find(|c| c.requirement == "REL-009").unwrap();
    assert_eq!(rel9.status, Status::Passed, "{}", rel9.message);
}

/// The table: fault → requirements that must fail, the observed guarantee, and the evidence
/// naming event ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_fails_what_it_breaks() {
    for fault in RelayFault::ALL {
        let j = run(RelaySetup::fault(fault), 120).await;
        let got = failed(&j);
        let want: Vec<String> = fault.breaks().iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "{fault}: {:#?}", j.cases);
        assert_eq!(
            j.observed.guarantee(),
            fault.observed(),
            "{fault}: {}",
            j.observed.sentence()
        );
        for c in j.cases.iter().filter(|c| c.status == Status::Failed) {
            // Every failure names at least one event by its id (UUID-shaped, with its number).
            assert!(
                c.message.contains("(#"),
                "{fault}: {} names no event: {}",
                c.case,
                c.message
            );
        }
        if fault == RelayFault::MutateField {
            let c = j.cases.iter().find(|c| c.requirement == "REL-005").unwrap();
            let diff = c.evidence.as_ref().and_then(|e| e.diff.as_deref()).unwrap();
            assert!(
                diff.contains("data.context") && diff.contains("2000-01-01"),
                "{diff}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_too_short_or_into_the_void_is_inconclusive() {
    // Too few events to judge.
    let j = run(RelaySetup::REFERENCE.with_plan("none"), 5).await;
    assert_eq!(errored(&j).len(), 1, "{:#?}", j.cases);
    assert!(j.cases.iter().all(|c| c.status != Status::Passed));
    // An intermediary that acknowledges and forwards nowhere: nothing delivered.
    let mut h = Harness::start(RelayConfig {
        count: 20,
        ..RelayConfig::default()
    })
    .await
    .unwrap();
    let (addr, _relay) = spawn_reference_relay(Config {
        forward: "http://127.0.0.1:9/".into(),
        timeout: Duration::from_millis(100),
        max_attempts: 1,
        ..Config::default()
    })
    .await
    .unwrap();
    h.set_target(&format!("http://{addr}/")).unwrap();
    h.send_all(Duration::from_secs(10)).await;
    h.drain(
        Duration::from_millis(300),
        Duration::from_millis(300),
        Duration::ZERO,
    )
    .await;
    let (history, stream) = h.finish();
    let j = check(&history, &stream, &CLAIMS, None);
    assert_eq!(errored(&j).len(), 1, "{:#?}", j.cases);
    assert!(
        errored(&j)[0].contains("reached the sink"),
        "{:?}",
        errored(&j)
    );
    // Nobody listening at the target at all: the sender stops early, nothing acknowledged.
    let mut h = Harness::start(RelayConfig {
        count: 50,
        concurrency: 2,
        timeout: Duration::from_millis(200),
        ..RelayConfig::default()
    })
    .await
    .unwrap();
    h.set_target("http://127.0.0.1:9/").unwrap();
    let sent = h.send_all(Duration::from_secs(10)).await;
    assert!(sent.stopped.unwrap().contains("unreachable"));
    let (history, stream) = h.finish();
    let j = check(&history, &stream, &CLAIMS, None);
    assert!(
        errored(&j)[0].contains("acknowledged no event"),
        "{:?}",
        errored(&j)
    );
}
