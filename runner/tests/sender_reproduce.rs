//! `reproduce` of sender cases end to end: a run against a faulty reference sender, then one of
//! its failed cases reproduced (it fails the same requirement again) and reproduced against the
//! fixed sender (it passes); and a run against an externally started sender, whose failed
//! cases re-judge the recorded requests. Loopback only.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cdevents_reports::model::{CaseResult, Status};
use cdevents_reports::stream::read_jsonl;

const BIN: &str = env!("CARGO_BIN_EXE_cdevents-conformance");

/// Variables the binary reads that would change what these runs do.
const ENV: &[&str] = &[
    "CDEVENTS_CONFORMANCE_FAIL_ON",
    "CDEVENTS_CONFORMANCE_FAULTS",
    "CDEVENTS_CONFORMANCE_SEED",
    "CDEVENTS_CONFORMANCE_LISTEN",
    "CDEVENTS_CONFORMANCE_RESULTS",
    "CDEVENTS_SINK_URL",
    "K_SINK",
];

fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for k in ENV {
        cmd.env_remove(k);
    }
    cmd.args(["--color", "never"]);
    cmd
}

fn run(args: &[&str]) -> (i32, String) {
    let out = command().args(args).output().expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

fn case(results: &Path, id: &str) -> CaseResult {
    let run = read_jsonl(results).unwrap();
    run.cases
        .into_iter()
        .find(|c| c.case == id)
        .unwrap_or_else(|| panic!("no case {id} in {}", results.display()))
}

fn trigger(extra: &str) -> String {
    format!("'{BIN}' reference sender --target \"$CDEVENTS_SINK_URL\" --timeout 300ms --count 6 {extra}")
}

#[test]
fn a_triggered_sender_case_fails_again_then_passes_with_the_fixed_sender() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.jsonl");
    let (code, out) = run(&[
        "test",
        "sender",
        "-q",
        "--faults",
        "503:0.5",
        "--seed",
        "4",
        "--guarantee",
        "at-least-once",
        "--trigger",
        &trigger("--fault no-retry-on-503"),
        "--results",
        path(&results),
    ]);
    assert_eq!(code, 1, "{out}");
    let c = case(&results, "SND-006");
    assert_eq!(c.status, Status::Failed, "{c:?}");
    let line = c.reproduce.as_deref().expect("a reproduce command");
    assert!(
        line.starts_with("cdevents-conformance test sender --trigger ")
            && line.contains("503:0.5 --seed 4 --guarantee at-least-once")
            && line.ends_with("--case SND-006"),
        "{line}"
    );
    // The request the sink got for the lost event, as evidence.
    let req = c.evidence.as_ref().and_then(|e| e.request.as_ref());
    let req = req.expect("the request as evidence");
    assert!(req.start_line.starts_with("POST / "), "{req:?}");
    assert!(req.header("ce-id").is_some(), "{req:?}");
    assert!(req.body.contains("\"context\""), "{req:?}");

    // The same trigger, seed and plan: the same requirement fails again.
    let (code, out) = run(&["reproduce", path(&results), "SND-006"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("failed again") && out.contains("SND-006"),
        "{out}"
    );

    // The fixed sender, named by the caller: it passes.
    let fixed = trigger("");
    let (code, out) = run(&["reproduce", path(&results), "SND-006", "--trigger", &fixed]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("passes now"), "{out}");
}

#[test]
fn a_recorded_trigger_other_than_the_reference_sender_is_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.jsonl");
    let marker = dir.path().join("ran");
    // A trigger that sends nothing useful: one request with a broken event.
    let t = format!(
        "'{BIN}' reference sender --timeout 300ms --count 2 --fault ce-type-mismatch; touch '{}'",
        path(&marker)
    );
    let (code, out) = run(&[
        "test",
        "sender",
        "-q",
        "--trigger",
        &t,
        "--results",
        path(&results),
    ]);
    assert_eq!(code, 1, "{out}");
    std::fs::remove_file(&marker).expect("the trigger ran once");
    let (code, out) = run(&["reproduce", path(&results), "CDE-CE-005"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("refusing"), "{out}");
    assert!(!marker.exists(), "the recorded trigger was run");
}

/// `test sender` waiting for three events from an external sender on a free loopback port,
/// with `--results`; returns once it listens, with its URL.
fn external_sink(results: &Path, extra: &[&str]) -> (std::process::Child, String) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let sink = command()
        .args(["test", "sender", "-q", "--listen", &addr])
        .args(extra)
        .args(["--expect", "3", "--timeout", "20s", "--results"])
        .arg(results)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the sink listens, then send once: all three events must reach it.
    let up = (0..100).any(|_| {
        let up = std::net::TcpStream::connect(&addr).is_ok();
        if !up {
            std::thread::sleep(Duration::from_millis(50));
        }
        up
    });
    assert!(up, "the sink never listened");
    (sink, format!("http://{addr}/"))
}

/// Three events from the reference sender (one attempt each, with `sender`'s flags) into an
/// external sink (with `sink`'s); the sink's output once it is done.
fn external_run(results: &Path, sink: &[&str], sender: &[&str]) -> std::process::Output {
    let (sink, url) = external_sink(results, sink);
    let sent = command()
        .args(["reference", "sender", "--target", &url, "--count", "3"])
        .args(["--max-attempts", "1"])
        .args(sender)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(sent, "the reference sender never reached the sink");
    sink.wait_with_output().unwrap()
}

#[test]
fn an_external_sender_case_re_judges_the_recorded_requests() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("ext.jsonl");
    let out = external_run(&results, &[], &["--fault", "ce-type-mismatch"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let recording = dir.path().join("ext.requests.jsonl");
    assert!(recording.exists(), "no recording beside the results");

    let c = case(&results, "CDE-CE-005");
    assert_eq!(c.status, Status::Failed);
    let line = c.reproduce.as_deref().expect("a reproduce command");
    assert!(line.contains(" --replay "), "{line}");
    let ev = c.evidence.as_ref().expect("evidence");
    let req = ev.request.as_ref().expect("the request");
    assert!(
        req.header("ce-type")
            .is_some_and(|t| t.ends_with(".mismatch")),
        "{req:?}"
    );
    assert!(ev.event.is_some(), "the decoded event");

    let (code, out) = run(&["reproduce", path(&results), "CDE-CE-005"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("failed again"), "{out}");
    // Passing cases carry no command; a passing one re-judged from the recording passes too.
    let (code, out) = run(&[
        "test",
        "sender",
        "-q",
        "--replay",
        path(&recording),
        "--case",
        "WH-001",
    ]);
    assert_eq!(code, 0, "{out}");
}

/// A recording written beside published results never holds the access token: it holds a
/// placeholder, on which a replay judges WH-013 without being given the token.
#[test]
fn a_recording_never_holds_the_access_token_and_its_replay_judges_wh_013() {
    const TOKEN: &str = "tok-9f2c41e7";
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("tok.jsonl");
    let out = external_run(&results, &["--token", TOKEN], &["--token", TOKEN]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(case(&results, "WH-013").status, Status::Passed);
    let recording = dir.path().join("tok.requests.jsonl");
    let text = std::fs::read_to_string(&recording).expect("a recording beside the results");
    assert!(!text.contains(TOKEN), "the token is in the recording");
    // Header values and bodies are base64 in the file: read it back and look at the bytes.
    let (rec, _) = cdevents_suites::drivers::sender::read_recording(
        text.as_bytes(),
        &cdevents_suites::input::Limits::default(),
    )
    .expect("the recording reads back");
    assert_eq!(rec.deliveries.len(), 3);
    for d in &rec.deliveries {
        let bytes = d
            .headers
            .iter()
            .map(|(_, v)| &v[..])
            .chain([d.body.as_slice(), d.path.as_bytes()]);
        for b in bytes {
            assert!(
                !String::from_utf8_lossy(b).contains(TOKEN),
                "the token is in request #{}",
                d.index
            );
        }
    }
    assert!(text.contains("\"token_redacted\":true"), "{text}");
    let results_text = std::fs::read_to_string(&results).unwrap();
    assert!(!results_text.contains(TOKEN), "the token is in the results");

    // Replayed without the token: every recorded delivery carried it.
    let (code, out) = run(&[
        "test",
        "sender",
        "--replay",
        path(&recording),
        "--case",
        "WH-013",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("WH-013") && out.contains("ok"), "{out}");

    // A recording whose deliveries lost the placeholder (as a sender without the token would
    // have sent them) fails WH-013 on replay: the placeholder is judged, not waved through.
    let broken = dir.path().join("broken.requests.jsonl");
    std::fs::write(
        &broken,
        text.replace(
            &b64(&format!("Bearer {}", "REDACTED-ACCESS-TOKEN")),
            &b64("Bearer wrong"),
        ),
    )
    .unwrap();
    let (code, out) = run(&[
        "test",
        "sender",
        "--replay",
        path(&broken),
        "--case",
        "WH-013",
    ]);
    assert_eq!(code, 1, "{out}");
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}
