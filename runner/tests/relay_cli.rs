//! `test relay` and `reference relay` end to end, through the built binary.

use std::process::Command;
mod ports;
use ports::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_cdevents-conformance");

fn test_relay(extra: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["--color", "never", "test", "relay", "--timeout", "2s"])
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

/// Arguments that start the reference relay (with `fault`) through --trigger.
fn through_reference(port: u16, fault: &str) -> Vec<String> {
    let fault = if fault.is_empty() {
        String::new()
    } else {
        format!(" --fault {fault}")
    };
    vec![
        "--target".into(),
        format!("http://127.0.0.1:{port}/"),
        "--trigger".into(),
        format!(
            "exec '{BIN}' reference relay --listen 127.0.0.1:{port} --timeout 3s --forward \"$CDEVENTS_SINK_URL\"{fault}"
        ),
        "--dead-letters".into(),
        format!("http://127.0.0.1:{port}/dead-letters"),
        "--guarantee".into(),
        "exactly-once".into(),
        "--ordering".into(),
        "per-subject".into(),
    ]
}

#[test]
fn reference_relay_passes_its_claims_under_transient_faults_with_reports() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let results = dir.path().join("results.jsonl");
    let mut args = through_reference(free_port(), "");
    args.extend(
        [
            "--count",
            "120",
            "--faults",
            "transient,delay=100ms,retry-after=0",
            "--seed",
            "3",
        ]
        .map(String::from),
    );
    args.extend([
        "--report-json".into(),
        json.display().to_string(),
        "--results".into(),
        results.display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out) = test_relay(&args);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("REL-001/no-loss ... ok"), "{out}");
    assert!(
        out.contains("observed exactly-once: 0 lost, 0 duplicated of 120"),
        "{out}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let d = &report["observations"][0]["delivery"];
    assert_eq!(d["delivered"], 120, "{report}");
    assert_eq!(d["lost"], 0);
    assert!(std::fs::read_to_string(&results)
        .unwrap()
        .contains("REL-DELIVERY"));
}

#[test]
fn a_duplicating_relay_fails_with_the_event_ids_and_a_reproduce_line() {
    let mut args = through_reference(free_port(), "duplicate");
    args.extend(["--count", "60"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out) = test_relay(&args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("REL-002/no-duplicate ... FAILED"), "{out}");
    assert!(out.contains("observed at-least-once"), "{out}");
    assert!(out.contains(") ×2"), "names the duplicated events: {out}");
    assert!(
        out.contains("reproduce: ") && out.contains("--case REL-002/no-duplicate"),
        "{out}"
    );
}

#[test]
fn nothing_to_judge_is_inconclusive() {
    let port = free_port();
    let (code, out) = test_relay(&[
        "--target",
        &format!("http://127.0.0.1:{port}/"),
        "--count",
        "20",
        "--guarantee",
        "at-least-once",
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("REL-001/evidence ... ERROR"), "{out}");
    let mut args = through_reference(free_port(), "");
    args.extend(["--count", "5"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out) = test_relay(&args);
    assert_eq!(code, 3, "too few events: {out}");
    assert!(out.contains("too short"), "{out}");
}

#[test]
fn listing_and_filters() {
    let (code, out) = test_relay(&["--list"]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l == "REL-009/dead-letter"), "{out}");
    let (code, out) = test_relay(&["--list", "REL-00"]);
    assert_eq!(code, 0);
    assert!(!out.contains("REL-011"), "{out}");
    let (code, out) = test_relay(&["--target", "http://127.0.0.1:9/", "NOPE"]);
    assert_eq!(code, 2, "{out}");
    let (code, out) = test_relay(&["--target", "http://127.0.0.1:9/", "--count", "99999999999"]);
    assert_eq!(code, 2, "{out}");
    let out = Command::new(BIN)
        .args(["reference", "relay", "--fault", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ack-before-durable-forward") && text.contains("REL-009"));
    let out = Command::new(BIN)
        .args([
            "reference",
            "relay",
            "--forward",
            "http://127.0.0.1:9/",
            "--fault",
            "nope",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Arguments that start the durable reference relay (with `fault`), kill it once 80 events were
/// acknowledged and start it again, claiming at-least-once.
fn restarted_reference(port: u16, state: &std::path::Path, fault: &str) -> Vec<String> {
    let mut args = through_reference(port, fault);
    args[3] = format!("{} --state-dir '{}'", args[3], state.display());
    args[7] = "at-least-once".into();
    args.extend(
        [
            "--count",
            "240",
            "--restart-after",
            "80",
            "--faults",
            "503:0.5,delay:0.2,delay=150ms,retry-after=0",
            "--seed",
            "5",
        ]
        .map(String::from),
    );
    args
}

#[test]
fn a_durable_relay_keeps_what_it_acknowledged_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let args = restarted_reference(free_port(), dir.path(), "");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out) = test_relay(&args);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("killed the intermediary (SIGKILL) after")
            && out.contains("it accepted connections again"),
        "{out}"
    );
    assert!(out.contains("REL-001/no-loss ... ok"), "{out}");
    assert!(out.contains("0 lost"), "{out}");
}

#[test]
fn a_relay_acknowledging_before_its_journal_loses_events_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let args = restarted_reference(free_port(), dir.path(), "ack-before-durable-forward");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out) = test_relay(&args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("killed the intermediary (SIGKILL)"), "{out}");
    assert!(out.contains("REL-001/no-loss ... FAILED"), "{out}");
    assert!(
        out.contains("(across a restart: the intermediary was killed after"),
        "the finding says it was a restart: {out}"
    );
}

#[test]
fn a_restart_needs_a_trigger_and_a_point_inside_the_stream() {
    let (code, out) = test_relay(&["--target", "http://127.0.0.1:9/", "--restart-after", "5"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--restart-after needs --trigger"), "{out}");
    let (code, out) = test_relay(&[
        "--target",
        "http://127.0.0.1:9/",
        "--trigger",
        "true",
        "--count",
        "10",
        "--restart-after",
        "10",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("must be between 1 and --count"), "{out}");
}

/// The kit's request count, from the summary line `sent N requests; M events acknowledged`.
fn requests_and_acked(out: &str) -> (u64, u64) {
    let line = out.lines().find(|l| l.starts_with("sent ")).unwrap_or("");
    let num = |s: &str| s.replace(',', "").parse::<u64>().unwrap_or(0);
    let w: Vec<&str> = line.split_whitespace().collect();
    (
        w.get(1).map(|s| num(s)).unwrap_or(0),
        w.get(3).map(|s| num(s)).unwrap_or(0),
    )
}

#[test]
fn batch_mode_sends_several_events_a_request_and_keeps_the_claims() {
    let mut args = through_reference(free_port(), "");
    args.extend(
        [
            "--count",
            "200",
            "--mode",
            "batch",
            "--concurrency",
            "2",
            "--faults",
            "transient,delay=100ms,retry-after=0",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out) = test_relay(&args);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("in batches of up to 10"), "{out}");
    assert!(out.contains("REL-003/per-subject-order ... ok"), "{out}");
    let (requests, acked) = requests_and_acked(&out);
    assert_eq!(acked, 200, "{out}");
    assert!(
        requests * 3 <= acked,
        "{requests} requests for {acked} events is no batching: {out}"
    );
}

#[test]
fn batch_mode_still_catches_a_reordering_relay() {
    let mut args = through_reference(free_port(), "reorder");
    args.extend(["--count", "200", "--mode", "batch", "--batch-size", "5"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out) = test_relay(&args);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("REL-003/per-subject-order ... FAILED"),
        "{out}"
    );
}

#[test]
fn batch_size_needs_batch_mode() {
    let (code, out) = test_relay(&["--target", "http://127.0.0.1:9/", "--batch-size", "5"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--batch-size 5 needs --mode batch"), "{out}");
    let (code, out) = test_relay(&[
        "--target",
        "http://127.0.0.1:9/",
        "--mode",
        "batch",
        "--batch-size",
        "0",
    ]);
    assert_eq!(code, 2, "{out}");
}

#[test]
fn a_restart_that_never_came_is_inconclusive() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = through_reference(free_port(), "");
    args[3] = format!("{} --state-dir '{}'", args[3], dir.path().display());
    // Sending stops (budget) long before 900 events are acknowledged: no restart happens.
    args.extend(
        [
            "--count",
            "1000",
            "--restart-after",
            "900",
            "--rate",
            "100",
            "--budget",
            "400ms",
            "--faults",
            "none",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out) = test_relay(&args);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("no restart: the stream ended before 900"),
        "{out}"
    );
    assert!(
        out.contains("durability across a restart was not judged"),
        "{out}"
    );
}

#[test]
fn a_relay_claiming_total_order_is_judged_on_it_and_a_mode_change_on_the_data_type() {
    for (fault, code) in [("", 0), (" --fault interleave-subjects", 1)] {
        let port = free_port();
        let trigger = format!(
            "exec '{BIN}' reference relay --listen 127.0.0.1:{port} --timeout 3s \
             --ordering total --forward-mode structured --forward \"$CDEVENTS_SINK_URL\"{fault}"
        );
        let target = format!("http://127.0.0.1:{port}/");
        let (got, out) = test_relay(&[
            "--target",
            &target,
            "--trigger",
            &trigger,
            "--guarantee",
            "exactly-once",
            "--ordering",
            "total",
            "--count",
            "60",
        ]);
        assert_eq!(got, code, "{fault}: {out}");
        assert!(
            out.contains("CE-HTTP-003/content-type-kept ... ok"),
            "{out}"
        );
        assert!(
            out.contains("REL-010/implied-datacontenttype ... ok"),
            "{out}"
        );
        assert!(out.contains("REL-007/large-events ... ok"), "{out}");
        if code == 0 {
            assert!(out.contains("REL-004/total-order ... ok"), "{out}");
        } else {
            assert!(out.contains("REL-004/total-order ... FAILED"), "{out}");
            assert!(out.contains("REL-003/per-subject-order ... ok"), "{out}");
            assert!(out.contains(") arrived before "), "names the events: {out}");
        }
    }
}
