//! `test sender` and `reference sender` end to end, through the built binary.

use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_cdevents-conformance");

fn test_sender(extra: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["--color", "never", "test", "sender", "-q"])
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn trigger(args: &str) -> String {
    format!("'{BIN}' reference sender --target \"$CDEVENTS_SINK_URL\" --timeout 300ms {args}")
}

#[test]
fn reference_sender_passes_without_faults() {
    let (code, out) = test_sender(&[
        "--ordering",
        "per-subject",
        "--trigger",
        &trigger("--count 9"),
    ]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn reference_sender_passes_a_hostile_plan() {
    let (code, out) = test_sender(&[
        "--faults",
        "hostile,delay=600ms",
        "--seed",
        "5",
        "--guarantee",
        "exactly-once",
        "--trigger",
        &trigger("--count 12 --seed 5 --mode structured"),
    ]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_faulty_reference_sender_fails_its_requirement() {
    let (code, out) = test_sender(&[
        "--faults",
        "503:0.5",
        "--guarantee",
        "at-least-once",
        "--trigger",
        &trigger("--count 6 --fault no-retry-on-503"),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("SND-006"), "{out}");
}

#[test]
fn batches_need_allow_batch() {
    let t = trigger("--count 6 --mode batch");
    let (code, out) = test_sender(&["--allow-batch", "--trigger", &t]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = test_sender(&["--trigger", &t]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("CE-HTTP-015"), "{out}");
}

#[test]
fn external_sender_with_expect() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let sink = Command::new(BIN)
        .args([
            "--color", "never", "test", "sender", "-q", "--listen", &addr,
        ])
        .args(["--expect", "5", "--timeout", "20s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the sink listens, so that one run of the sender delivers all five events
    // (a run that starts mid-way leaves the sink waiting for --expect until its timeout).
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("http://{addr}/");
    let mut ok = false;
    for _ in 0..50 {
        let st = Command::new(BIN)
            .args([
                "reference",
                "sender",
                "--target",
                &url,
                "--count",
                "5",
                "--max-attempts",
                "1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        if st.code() == Some(0) {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ok, "the reference sender never reached the sink");
    let out = sink.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn nothing_received_is_inconclusive() {
    let (code, out) = test_sender(&["--timeout", "300ms"]);
    assert_eq!(code, 3, "{out}");
    let (code, out) = test_sender(&["--timeout", "5s", "--trigger", "true"]);
    assert_eq!(code, 3, "{out}");
}

#[test]
fn fault_list_and_bad_flags() {
    let out = Command::new(BIN)
        .args(["reference", "sender", "--fault", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("retry-new-id") && text.contains("SND-002"),
        "{text}"
    );
    let (code, _) = test_sender(&["--faults", "503:7"]);
    assert_eq!(code, 2);
}

/// `--profile webhook --token`: the reference sender given the handshake and the token passes
/// WH-013/016/017; one that drops the token after the first delivery fails WH-013; the token
/// shows nowhere in the output, the JSON results included.
#[test]
fn webhook_profile_with_a_token_end_to_end() {
    let token = "cli-s3cret+/tok";
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.jsonl");
    let results = results.to_str().unwrap();
    let passing = dir.path().join("passing.jsonl");
    let (code, out) = test_sender(&[
        "--profile",
        "webhook",
        "--token",
        token,
        "--results",
        passing.to_str().unwrap(),
        "--trigger",
        &trigger(&format!("--count 4 --webhook --token '{token}'")),
    ]);
    assert_eq!(code, 0, "{out}");
    let written = std::fs::read_to_string(&passing).unwrap();
    for id in ["WH-013", "WH-016", "WH-017"] {
        let line = written
            .lines()
            .find(|l| l.contains(&format!("\"case\":\"{id}\"")))
            .unwrap_or_else(|| panic!("no {id} in {written}"));
        assert!(line.contains("\"status\":\"passed\""), "{line}");
    }
    assert!(!written.contains("s3cret"), "the token leaked: {written}");
    let (code, out) = test_sender(&[
        "--profile",
        "webhook",
        "--token",
        token,
        "--verbose",
        "--results",
        results,
        "--trigger",
        &trigger(&format!(
            "--count 4 --webhook --token '{token}' --fault token-missing-after-first"
        )),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("WH-013"), "{out}");
    let written = std::fs::read_to_string(results).unwrap();
    assert!(written.contains("WH-013"));
    for text in [&out, &written] {
        assert!(!text.contains("s3cret"), "the token leaked: {text}");
    }
}
