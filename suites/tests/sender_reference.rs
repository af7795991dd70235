//! The sender suite against the reference sender, through the self-test engine: conformant
//! under every fault plan its faults are exposed by, and each deliberate fault caught by
//! exactly the requirements it breaks (`SenderFault::breaks`).

use cdevents_reports::model::Status;
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
