//! The sender suite against the reference sender, in process: conformant under every fault
//! plan, and each deliberate fault caught by the requirement it breaks (the table below).

use std::time::Duration;

use cdevents_reports::model::{CaseResult, Status};
use cdevents_schemas::Registry;
use cdevents_suites::drivers::sender::{judge, Claims, Guarantee, Ordering, Sink, SinkConfig};
use cdevents_suites::faults::FaultPlan;
use cdevents_suites::reference::sender::{run_reference_sender, SenderConfig, SenderFault};
use cdevents_suites::wire::Mode;

async fn run(fault: Option<SenderFault>, plan: &str, mode: Mode, seed: u64) -> Vec<CaseResult> {
    let plan = FaultPlan::parse(plan).unwrap();
    let sink = Sink::start(SinkConfig {
        plan: plan.clone(),
        seed,
        ..SinkConfig::default()
    })
    .await
    .unwrap();
    let cfg = SenderConfig {
        target: sink.url(),
        count: 12,
        mode,
        seed,
        fault,
        timeout: Duration::from_millis(250),
        base_backoff: Duration::from_millis(20),
        ..SenderConfig::default()
    };
    let outcome = run_reference_sender(&cfg).await.unwrap();
    // A delayed answer is recorded when it is given.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rec = sink.stop();
    let claims = Claims {
        guarantee: Guarantee::ExactlyOnce,
        ordering: Ordering::PerSubject,
        allow_batch: mode == Mode::Batch,
    };
    let registry = Registry::embedded().unwrap();
    judge(
        &rec,
        &claims,
        &plan,
        Some(&outcome.manifest),
        &registry,
        None,
    )
}

fn failed(cases: &[CaseResult]) -> Vec<String> {
    cases
        .iter()
        .filter(|c| c.status == Status::Failed)
        .map(|c| format!("{}: {}", c.case, c.message))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformant_under_every_plan() {
    for (plan, mode, seed) in [
        ("none", Mode::Binary, 1),
        ("none", Mode::Structured, 2),
        ("none", Mode::Batch, 3),
        ("transient,delay=400ms,retry-after=1", Mode::Binary, 4),
        ("hostile,delay=400ms", Mode::Structured, 5),
        ("redirect:0.3,max=1", Mode::Binary, 6),
        ("410:0.2,max=1", Mode::Binary, 7),
    ] {
        let cases = run(None, plan, mode, seed).await;
        assert!(!cases.is_empty());
        assert_eq!(failed(&cases), Vec::<String>::new(), "{plan} {mode}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_is_caught_by_the_requirement_it_breaks() {
    let mut missed = Vec::new();
    for fault in SenderFault::ALL {
        let cases = run(Some(fault), fault.exposed_by(), Mode::Binary, 7).await;
        let failed_ids: Vec<&str> = cases
            .iter()
            .filter(|c| c.status == Status::Failed)
            .map(|c| c.requirement.as_str())
            .collect();
        for id in fault.breaks() {
            if !failed_ids.contains(id) {
                missed.push(format!(
                    "{fault}: {id} did not fail; failed: {failed_ids:?}"
                ));
            }
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plan_exercises_the_retry_rules() {
    let cases = run(None, "hostile,delay=400ms,400:0.1", Mode::Binary, 11).await;
    let status = |id: &str| cases.iter().find(|c| c.case == id).map(|c| c.status);
    for id in [
        "SND-001", "SND-004", "SND-005", "SND-006", "SND-007", "SND-008", "SND-009",
    ] {
        assert_eq!(
            status(id),
            Some(Status::Passed),
            "{id}: {:#?}",
            cases.iter().find(|c| c.case == id)
        );
    }
}

fn status_of(cases: &[CaseResult], id: &str) -> Option<Status> {
    cases.iter().find(|c| c.case == id).map(|c| c.status)
}

/// The newer rules are judged (not skipped) on a conformant run, and pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoding_sequence_trace_chain_and_order_rules_pass_on_the_reference() {
    let cases = run(None, "503:0.3", Mode::Binary, 12).await;
    for id in [
        "CE-HTTP-004",
        "CE-HTTP-005",
        "SND-010",
        "SND-011",
        "CDE-LNK-007",
        "SND-014",
        "SND-015",
        "SND-016",
    ] {
        assert_eq!(
            status_of(&cases, id),
            Some(Status::Passed),
            "{id}: {:#?}",
            cases.iter().find(|c| c.case == id)
        );
    }
    for (plan, id) in [
        ("redirect:0.3,max=1", "WH-005"),
        ("410:0.2,max=1", "WH-008"),
    ] {
        let cases = run(None, plan, Mode::Binary, 13).await;
        assert_eq!(status_of(&cases, id), Some(Status::Passed), "{plan}");
    }
}

/// Every failed case names the request it judged, except losses of events that never arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_cases_carry_the_request() {
    for fault in [
        SenderFault::CeTypeMismatch,
        SenderFault::RawHeaderValues,
        SenderFault::UnpaddedSequence,
    ] {
        let cases = run(Some(fault), fault.exposed_by(), Mode::Binary, 3).await;
        let failed: Vec<&CaseResult> = cases
            .iter()
            .filter(|c| c.status == Status::Failed)
            .collect();
        assert!(!failed.is_empty(), "{fault}");
        // An event that never arrived (here: undecodable requests) has no request of its own.
        for c in failed
            .into_iter()
            .filter(|c| !c.message.contains("never arrived"))
        {
            let req = c.evidence.as_ref().and_then(|e| e.request.as_ref());
            assert!(
                req.is_some_and(|r| r.start_line.starts_with("POST ")),
                "{fault}: {} has no request: {c:#?}",
                c.case
            );
        }
    }
}
