//! The sender suite against the reference sender, through the self-test engine: conformant
//! under every fault plan its faults are exposed by, and each deliberate fault caught by
//! exactly the requirements it breaks (`SenderFault::breaks`).

use cdevents_reports::model::{CaseResult, Status};
use cdevents_suites::reference::sender::SenderFault;
use cdevents_suites::selftest::roles::{self, run_sender_suite};
use cdevents_suites::selftest::{self, Filter};
use cdevents_suites::wire::Mode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_passes_and_every_fault_fails_exactly_its_requirements() {
    let filter = Filter {
        roles: vec!["sender".into()],
        ..Filter::default()
    };
    let runs = selftest::run(&[roles::SENDER], &filter, None).await.runs;
    assert_eq!(
        runs.iter().filter(|r| r.fault.is_some()).count(),
        SenderFault::ALL.len()
    );
    let problems: Vec<String> = runs
        .iter()
        .filter(|r| !r.as_expected())
        .map(|r| {
            format!(
                "{} ({}): expected to fail {:?}, failed {:?}; error {:?}",
                r.fault.unwrap_or("reference"),
                r.about,
                r.expected,
                r.failed,
                r.error
            )
        })
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plan_exercises_the_retry_rules() {
    let cases = run_sender_suite(None, "hostile,delay=1200ms,400:0.1", Mode::Binary, 11)
        .await
        .expect("the run judges");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformant_under_a_hostile_plan_in_structured_mode() {
    let cases = run_sender_suite(None, "hostile,delay=1200ms", Mode::Structured, 5)
        .await
        .expect("the run judges");
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.status == Status::Failed)
        .map(|c| c.case.as_str())
        .collect();
    assert!(!cases.is_empty());
    assert!(failed.is_empty(), "{failed:?}");
}

async fn run(fault: Option<SenderFault>, plan: &str, mode: Mode, seed: u64) -> Vec<CaseResult> {
    run_sender_suite(fault, plan, mode, seed)
        .await
        .expect("the run judges")
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

/// The message-shape and subject-id rules: judged and passed on the conformant reference in
/// the mode each concerns, and each fault's finding names the request and what is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shape_and_subject_rules_name_the_request_and_the_mistake() {
    for (mode, ids) in [
        (
            Mode::Binary,
            &["CE-HTTP-001", "CDE-CE-016", "CDE-SUB-006", "CDE-SUB-007"][..],
        ),
        (
            Mode::Structured,
            &["CE-HTTP-012", "CE-HTTP-019", "CDE-CE-016"][..],
        ),
        (Mode::Batch, &["CE-HTTP-014", "CE-HTTP-019"][..]),
    ] {
        let cases = run(None, "none", mode, 5).await;
        for id in ids {
            assert_eq!(status_of(&cases, id), Some(Status::Passed), "{mode} {id}");
        }
    }
    for (fault, id, says) in [
        (
            SenderFault::KafkaStyleHeaders,
            "CE-HTTP-001",
            "header ce_sequence carries the attribute sequence",
        ),
        (
            SenderFault::StructuredBareCdevent,
            "CE-HTTP-012",
            "is not one JSON-format event",
        ),
        (
            SenderFault::HeaderOnlyAttribute,
            "CE-HTTP-013",
            "has the header ce-sequence, but its body has no sequence",
        ),
        (
            SenderFault::BatchOfBareCdevents,
            "CE-HTTP-014",
            "is not a JSON array of JSON-format events",
        ),
        (
            SenderFault::DataAndDataBase64,
            "CE-HTTP-019",
            "the event at $ has both data and data_base64",
        ),
        (
            SenderFault::DuplicateMember,
            "CDE-CE-016",
            "the JSON member $.specversion appears more than once",
        ),
        (
            SenderFault::RepeatedCeHeader,
            "CDE-CE-016",
            "the header ce-id appears more than once",
        ),
        (
            SenderFault::NewSubjectIdPerEvent,
            "CDE-SUB-006",
            "one lifecycle under two subject ids",
        ),
        (
            SenderFault::ReuseSubjectId,
            "CDE-SUB-007",
            "is a pipelinerun",
        ),
    ] {
        let mode = if fault.batch_asked() {
            Mode::Batch
        } else {
            Mode::Binary
        };
        let cases = run(Some(fault), fault.exposed_by(), mode, 3).await;
        let c = cases
            .iter()
            .find(|c| c.case == id)
            .unwrap_or_else(|| panic!("{fault}: no {id} case"));
        assert_eq!(c.status, Status::Failed, "{fault}: {c:#?}");
        assert!(c.message.contains(says), "{fault}: {}", c.message);
        assert!(
            c.message.contains("request #") || c.message.contains("reference-sender"),
            "{}",
            c.message
        );
        let req = c.evidence.as_ref().and_then(|e| e.request.as_ref());
        assert!(
            req.is_some_and(|r| r.start_line.starts_with("POST ")),
            "{fault}: {c:#?}"
        );
    }
}

/// The webhook profile: the conformant reference passes WH-013/016/017 (judged, not skipped),
/// each webhook fault's finding names the request, and the token shows nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_profile_judges_handshake_origin_and_token_and_never_shows_the_token() {
    use cdevents_suites::selftest::roles::{run_sender_suite_in, SENDER_TOKEN};
    let cases = run_sender_suite_in(None, "none", Mode::Binary, 3, true)
        .await
        .expect("the run judges");
    for id in ["WH-013", "WH-016", "WH-017"] {
        assert_eq!(status_of(&cases, id), Some(Status::Passed), "{id}");
    }
    let plain = run(None, "none", Mode::Binary, 3).await;
    for id in ["WH-013", "WH-016", "WH-017"] {
        assert_eq!(status_of(&plain, id), Some(Status::Skipped), "{id}");
    }
    for (fault, id, says) in [
        (
            SenderFault::NoHandshake,
            "WH-016",
            "no OPTIONS request came before request #0",
        ),
        (
            SenderFault::NoOrigin,
            "WH-016",
            "has no WebHook-Request-Origin",
        ),
        (
            SenderFault::OriginChanges,
            "WH-017",
            "request #1 carries WebHook-Request-Origin \"other.",
        ),
        (
            SenderFault::TokenMissingAfterFirst,
            "WH-013",
            "request #1 carries the access token neither",
        ),
    ] {
        let cases = run_sender_suite_in(Some(fault), "none", Mode::Binary, 3, true)
            .await
            .expect("the run judges");
        let c = cases.iter().find(|c| c.case == id).expect("judged");
        assert_eq!(c.status, Status::Failed, "{fault}: {c:#?}");
        assert!(c.message.contains(says), "{fault}: {}", c.message);
        assert!(
            c.evidence
                .as_ref()
                .and_then(|e| e.request.as_ref())
                .is_some(),
            "{fault}"
        );
        let all = serde_json::to_string(&cases).expect("serializes");
        assert!(
            !all.contains(SENDER_TOKEN) && !all.contains("snd-s3cret"),
            "{fault}: the token leaked"
        );
        if fault == SenderFault::OriginChanges {
            assert!(
                all.contains("Bearer ***"),
                "the evidence shows the redacted token"
            );
        }
    }
}
