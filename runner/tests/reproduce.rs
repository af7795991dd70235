//! `reproduce` end to end: a failed case of a run against a faulty reference listener fails the
//! same requirement again, and passes against a conformant one. Loopback only.

mod ports;
mod reference_child;
use ports::free_port;
use reference_child::Reference;
use std::path::Path;
use std::process::Command;

use cdevents_reports::model::Status;
use cdevents_reports::stream::read_jsonl;

const BIN: &str = env!("CARGO_BIN_EXE_cdevents-conformance");

/// Variables the binary reads that would change what these runs do.
const ENV: &[&str] = &[
    "CDEVENTS_CONFORMANCE_COLOR",
    "CDEVENTS_CONFORMANCE_FAIL_ON",
    "CDEVENTS_CONFORMANCE_TARGET",
    "CDEVENTS_CONFORMANCE_SEED",
    "CDEVENTS_CONFORMANCE_RESULTS",
    "CDEVENTS_CONFORMANCE_REPORT_JSON",
    "CDEVENTS_CONFORMANCE_REPORT_JUNIT",
    "CDEVENTS_CONFORMANCE_REPORT_MD",
    "CDEVENTS_CONFORMANCE_REPORT_HTML",
    "CDEVENTS_CONFORMANCE_BADGE",
];

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Out {
    let mut cmd = Command::new(BIN);
    for k in ENV {
        cmd.env_remove(k);
    }
    let out = cmd
        .args(["--color", "never"])
        .args(args)
        .output()
        .expect("runs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

#[test]
fn a_failed_case_fails_again_then_passes_on_a_fixed_target() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.jsonl");

    let faulty = Reference::start(Some("empty-200"));
    let r = run(&[
        "test",
        "listener",
        "--target",
        &faulty.url,
        "--oversize",
        "2000000",
        "-q",
        "--results",
        path(&results),
    ]);
    assert_eq!(
        r.code, 1,
        "the faulty listener fails:\n{}{}",
        r.stdout, r.stderr
    );

    let recorded = read_jsonl(&results).expect("results file reads");
    let failed = recorded
        .cases
        .iter()
        .find(|c| c.status == Status::Failed && c.reproduce.is_some())
        .expect("a failed case with a reproduce command");
    let id = failed.case.clone();
    let requirement = failed.requirement.clone();

    // Against the same faulty target: the same requirement fails again.
    let again = run(&["reproduce", path(&results), &id]);
    assert_eq!(
        again.code, 1,
        "fails again:\n{}{}",
        again.stdout, again.stderr
    );
    assert!(
        again.stdout.contains(&format!("{id} ... FAILED")),
        "{}",
        again.stdout
    );
    assert!(
        again
            .stdout
            .contains(&format!("requirement: {requirement} (")),
        "{}",
        again.stdout
    );
    assert!(
        again
            .stderr
            .contains(&format!("failed again: {id} ({requirement} ")),
        "{}",
        again.stderr
    );
    // Exactly that case was re-run with a new request, not the whole suite.
    assert!(
        again.stdout.contains("1 failed"),
        "one case failed:\n{}",
        again.stdout
    );

    // Against a conformant target: fixed.
    let fixed = Reference::start(None);
    let pass = run(&["reproduce", path(&results), &id, "--target", &fixed.url]);
    assert_eq!(pass.code, 0, "passes:\n{}{}", pass.stdout, pass.stderr);
    assert!(
        pass.stdout.contains(&format!("{id} ... ok")),
        "{}",
        pass.stdout
    );
    assert!(
        pass.stdout.contains(&format!("against {}", fixed.url)),
        "ran against the new target:\n{}",
        pass.stdout
    );
    assert!(pass.stderr.contains("passes now: "), "{}", pass.stderr);

    // The results file was read, never rewritten.
    assert_eq!(read_jsonl(&results).unwrap().cases, recorded.cases);

    // --print: the command with the new target, the request as sent, and curl; nothing runs.
    let print = run(&[
        "reproduce",
        path(&results),
        &id,
        "--target",
        "http://127.0.0.1:9/events",
        "--print",
    ]);
    assert_eq!(print.code, 0, "{}{}", print.stdout, print.stderr);
    assert!(
        print
            .stdout
            .contains("cdevents-conformance test listener --target http://127.0.0.1:9/events "),
        "{}",
        print.stdout
    );
    let request = failed
        .evidence
        .as_ref()
        .and_then(|e| e.request.as_ref())
        .expect("request evidence");
    assert!(
        print.stdout.contains(&request.start_line),
        "{}",
        print.stdout
    );
    assert!(
        print
            .stdout
            .contains("curl -sS -i -X POST http://127.0.0.1:9/events"),
        "{}",
        print.stdout
    );
    assert!(
        !print.stdout.contains(" ... "),
        "ran nothing: {}",
        print.stdout
    );
}

#[test]
fn unknown_cases_and_cases_without_a_command_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.jsonl");
    let fixed = Reference::start(None);
    let r = run(&[
        "test",
        "listener",
        "--target",
        &fixed.url,
        "--oversize",
        "2000000",
        "-q",
        "--results",
        path(&results),
        "WH-006",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    let absent = run(&["reproduce", path(&results), "WH-006/binar"]);
    assert_eq!(absent.code, 2, "{}", absent.stderr);
    assert!(
        absent.stderr.contains("no case with id `WH-006/binar`")
            && absent.stderr.contains("did you mean:")
            && absent.stderr.contains("  WH-006/binary  (passed)"),
        "{}",
        absent.stderr
    );

    let passed = run(&["reproduce", path(&results), "WH-006/binary"]);
    assert_eq!(passed.code, 2, "{}", passed.stderr);
    assert!(
        passed.stderr.contains("has no reproduce command"),
        "{}",
        passed.stderr
    );
}

#[test]
fn a_hostile_reproduce_command_is_refused_and_never_run() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let results = dir.path().join("results.jsonl");
    let cmd = format!(
        "cdevents-conformance test listener --target http://127.0.0.1:9/ --case X; touch {}",
        path(&marker)
    );
    let lines = [
        serde_json::json!({"record": "header", "format_version": 1, "suite": "listener",
            "tool_version": "0", "started_at": "2025-01-01T00:00:00Z", "fail_on": "MUST"}),
        serde_json::json!({"record": "case", "case": "X", "requirement": "X", "level": "MUST",
            "status": "failed", "message": "m", "reproduce": cmd}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&results, text).unwrap();
    // The file must read; if the record layout differs, this test says so rather than passing.
    let run_back = read_jsonl(&results).expect("hand-written results file reads");
    assert_eq!(run_back.cases.len(), 1);

    let r = run(&["reproduce", path(&results), "X"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("refusing the reproduce command"),
        "{}",
        r.stderr
    );
    assert!(!marker.exists(), "no shell ran the command");
}

/// A trigger that starts the reference relay on `port`, with `extra` options.
fn relay_trigger(port: u16, extra: &str) -> String {
    format!(
        "exec '{BIN}' reference relay --listen 127.0.0.1:{port} --timeout 300ms --forward \"$CDEVENTS_SINK_URL\"{extra}"
    )
}

#[test]
fn a_relay_case_fails_again_then_passes_on_a_fixed_relay() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.jsonl");
    let state = dir.path().join("state");
    let port = free_port();
    let target = format!("http://127.0.0.1:{port}/");
    let trigger = relay_trigger(
        port,
        &format!(" --fault duplicate --state-dir '{}'", state.display()),
    );
    let first = run(&[
        "test",
        "relay",
        "--target",
        &target,
        "--trigger",
        &trigger,
        "--count",
        "60",
        "--seed",
        "4",
        "--mode",
        "batch",
        "--batch-size",
        "4",
        "--restart-after",
        "20",
        "--guarantee",
        "exactly-once",
        "--ordering",
        "per-subject",
        "--timeout",
        "2s",
        "--results",
        path(&results),
    ]);
    assert_eq!(first.code, 1, "{}{}", first.stdout, first.stderr);
    let run1 = read_jsonl(&results).unwrap();
    let case = run1
        .cases
        .iter()
        .find(|c| c.case == "REL-002/no-duplicate")
        .expect("the duplicate case");
    assert_eq!(case.status, Status::Failed);
    let recorded = case.reproduce.clone().expect("a reproduce command");
    for want in [
        "--count 60",
        "--seed 4",
        "--mode batch",
        "--batch-size 4",
        "--restart-after 20",
        "--guarantee exactly-once",
        "--ordering per-subject",
        "--case REL-002/no-duplicate",
    ] {
        assert!(recorded.contains(want), "{want} in {recorded}");
    }
    assert!(!recorded.contains("--results"), "{recorded}");

    let print = run(&[
        "reproduce",
        path(&results),
        "REL-002/no-duplicate",
        "--print",
    ]);
    assert_eq!(print.code, 0, "{}", print.stderr);
    assert!(
        print.stdout.contains("test relay") && print.stdout.contains("reference relay"),
        "{}",
        print.stdout
    );
    assert!(
        !print.stdout.contains(&state.display().to_string()),
        "the recorded state directory is replaced: {}",
        print.stdout
    );

    let again = run(&["reproduce", path(&results), "REL-002/no-duplicate"]);
    assert_eq!(again.code, 1, "{}{}", again.stdout, again.stderr);
    assert!(again.stderr.contains("failed again"), "{}", again.stderr);

    let fixed = run(&[
        "reproduce",
        path(&results),
        "REL-002/no-duplicate",
        "--trigger",
        &relay_trigger(port, ""),
    ]);
    // Without durability the fixed relay may lose what it held at the kill, but it duplicates
    // nothing: the case judged passes.
    assert!(
        fixed.stderr.contains("passes now"),
        "{}{}",
        fixed.stdout,
        fixed.stderr
    );
}

#[test]
fn a_relay_trigger_that_runs_something_else_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let results = dir.path().join("results.jsonl");
    let trigger = format!("touch {}", path(&marker));
    let cmd = format!(
        "cdevents-conformance test relay --target http://127.0.0.1:9/ --trigger '{trigger}' --case REL-002/no-duplicate"
    );
    let lines = [
        serde_json::json!({"record": "header", "format_version": 1, "suite": "relay",
            "tool_version": "0", "started_at": "2025-01-01T00:00:00Z", "fail_on": "MUST"}),
        serde_json::json!({"record": "case", "case": "REL-002/no-duplicate",
            "requirement": "REL-002", "level": "MUST", "status": "failed", "message": "m",
            "reproduce": cmd}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&results, text).unwrap();
    assert_eq!(read_jsonl(&results).expect("reads").cases.len(), 1);
    let r = run(&["reproduce", path(&results), "REL-002/no-duplicate"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("does not run `cdevents-conformance reference relay`"),
        "{}",
        r.stderr
    );
    assert!(!marker.exists(), "the recorded trigger never ran");
}
