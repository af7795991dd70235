//! `promote` end to end: a shrunk property-test failure, stored as an event, and a failed
//! sender case, each become a regression fixture that fails with its requirement.

use std::path::Path;
use std::process::Command;

use cdevents_schemas::SpecVersion;
use cdevents_suites::checks::EventChecker;
use cdevents_suites::generators::sample;
use cdevents_suites::regressions::{record_shrunk_failure, shrunk_failure_case};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};

const BIN: &str = env!("CARGO_BIN_EXE_cdevents-conformance");

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .env_remove("CDEVENTS_CONFORMANCE_RESULTS")
        .env_remove("CDEVENTS_CONFORMANCE_FAIL_ON")
        .args(["--color", "never"])
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn only_file(dir: &Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn a_shrunk_property_failure_becomes_a_regression_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("proptest-failures.jsonl");
    let fixtures = dir.path().join("regressions");
    std::fs::create_dir(&fixtures).unwrap();

    // A property that is false on purpose ("any timestamp passes"), so that proptest finds and
    // shrinks a failing event, stored as an event, as the mutants test stores its failures.
    let v = SpecVersion::V0_5_1;
    let cat = cdevents_schemas::catalogue::for_version(v);
    let t = cat
        .event_by_name("pipelinerun", "queued")
        .unwrap()
        .type_name
        .clone();
    let base = sample(v, &t, 1).unwrap();
    let registry = cdevents_schemas::Registry::embedded().unwrap();
    let checker = EventChecker::new(&registry);
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&"[a-z0-9 :-]{0,12}", |ts| {
        let mut ev = base.clone();
        ev["context"]["timestamp"] = ts.clone().into();
        let bad = checker
            .check_event(&ev)
            .findings
            .iter()
            .any(|f| f.id == "CDE-CTX-008");
        prop_assert!(!bad, "timestamp {ts:?} rejected");
        Ok(())
    });
    let Err(TestError::Fail(why, ts)) = result else {
        panic!("the property should fail: {result:?}");
    };
    let mut ev = base.clone();
    ev["context"]["timestamp"] = ts.into();
    let case = shrunk_failure_case("timestamps", "CDE-CTX-008", false, &ev, &why.to_string());
    record_shrunk_failure(&results, &case).unwrap();

    let (code, out) = run(&[
        "promote",
        path(&results),
        &case.case,
        "--dir",
        path(&fixtures),
    ]);
    assert_eq!(code, 0, "{out}");
    let file = only_file(&fixtures);
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("CDE-CTX-008--timestamps-") && name.ends_with(".json"),
        "{name}"
    );
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(written, ev, "the exact shrunk event");
    // What the fixture harness requires of it: the requirement is reported.
    let (code, out) = run(&["validate", path(&file)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("CDE-CTX-008"), "{out}");
    // Never overwritten by accident.
    let (code, out) = run(&[
        "promote",
        path(&results),
        &case.case,
        "--dir",
        path(&fixtures),
    ]);
    assert_eq!(code, 2, "{out}");
}

#[test]
fn a_failed_sender_case_becomes_an_http_capture() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.jsonl");
    let fixtures = dir.path().join("regressions");
    std::fs::create_dir(&fixtures).unwrap();
    let trigger =
        format!("'{BIN}' reference sender --timeout 300ms --count 2 --fault ce-type-mismatch");
    let (code, out) = run(&[
        "test",
        "sender",
        "-q",
        "--trigger",
        &trigger,
        "--results",
        path(&results),
    ]);
    assert_eq!(code, 1, "{out}");
    let (code, out) = run(&[
        "promote",
        path(&results),
        "CDE-CE-005",
        "--dir",
        path(&fixtures),
    ]);
    assert_eq!(code, 0, "{out}");
    let file = only_file(&fixtures);
    assert!(file.to_string_lossy().ends_with(".http"), "{file:?}");
    let (code, out) = run(&["validate", path(&file)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("CDE-CE-005"), "{out}");
    // A passing case has nothing to keep.
    let (code, out) = run(&[
        "promote",
        path(&results),
        "WH-001",
        "--dir",
        path(&fixtures),
    ]);
    assert_eq!(code, 2, "{out}");
}
