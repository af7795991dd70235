//! `test listener` and `reference listener` end to end: exit codes 0, 1 and 3.

mod reference_child;
use reference_child::Reference;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cdevents-conformance");

fn test_listener(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args([
            "--color",
            "never",
            "test",
            "listener",
            "--oversize",
            "2000000",
        ])
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn reference_listener_exits_0_with_a_report() {
    let r = Reference::start(None);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let (code, out, err) = test_listener(&[
        "--target",
        &r.url,
        "-q",
        "--report-json",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["summary"]["failed"], 0);
    assert!(json["summary"]["passed"].as_u64().unwrap() > 100);
    let results = json["results"].as_array().unwrap();
    assert!(results.iter().all(|c| c["case"]
        .as_str()
        .unwrap()
        .starts_with(c["requirement"].as_str().unwrap())));
}

#[test]
fn a_fault_exits_1_naming_the_requirement_with_a_reproduction() {
    let r = Reference::start(Some("empty-200"));
    let (code, out, err) = test_listener(&["--target", &r.url, "-q"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("WH-006/binary ... FAILED"), "{out}");
    assert!(out.contains("requirement: WH-006 (MUST)"), "{out}");
    assert!(
        out.contains("reproduce: cdevents-conformance test listener --target"),
        "{out}"
    );
    // The reproduction reruns exactly that case, and it fails again.
    let (code, out, _) = test_listener(&["--target", &r.url, "--case", "WH-006/binary"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("WH-006/binary ... FAILED"));
}

#[test]
fn unreachable_target_exits_3_quickly() {
    // Bind and drop a listener: its port is closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t0 = Instant::now();
    let (code, out, err) = test_listener(&[
        "--target",
        &format!("http://127.0.0.1:{port}/"),
        "--timeout",
        "2s",
    ]);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(err.contains("unreachable"), "{err}");
    assert!(!out.contains("FAILED"), "{out}");
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[test]
fn list_and_fault_list() {
    let (code, out, _) = test_listener(&["--list", "LIS-004"]);
    assert_eq!(code, 0);
    assert!(out.lines().all(|l| l.starts_with("LIS-004/")), "{out}");
    let out = Command::new(BIN)
        .args(["reference", "listener", "--fault", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("empty-200") && text.contains("WH-006"),
        "{text}"
    );
    let (code, _, _) = test_listener(&["--list", "NOPE-"]);
    assert_eq!(code, 2);
}

#[test]
fn observe_judges_what_the_listener_forwards() {
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    for (fault, want) in [(None, 0), (Some("drop-forwarded"), 1)] {
        let sink = format!("127.0.0.1:{}", free_port());
        let forward = format!("http://{sink}/");
        let r = Reference::start_with(fault, &["--forward", &forward]);
        let (code, out, err) = test_listener(&[
            "--target",
            &r.url,
            "--observe",
            &sink,
            "--settle",
            "1s",
            "--profile",
            "webhook",
        ]);
        assert_eq!(code, want, "{fault:?}\n{out}\n{err}");
        let line = if fault.is_some() {
            "LIS-010/observed ... FAILED"
        } else {
            "LIS-010/observed ... ok"
        };
        assert!(out.contains(line), "{fault:?}: {out}");
        assert!(out.contains("WH-015/options ... ok"), "{out}");
        if fault.is_some() {
            let reproduce = out
                .lines()
                .find(|l| l.contains(&format!("--observe {sink}")))
                .unwrap_or_else(|| panic!("no reproduce line with --observe: {out}"));
            assert!(reproduce.contains(" --case LIS-"), "{reproduce}");
        }
    }
}

/// A listener that accepts connections and never answers: exit 3 ("errored", not a failure)
/// once the per-request timeout runs out, instead of hanging. The hostile listeners of
/// `suites/tests/hostile_listener.rs` cover the other misbehaviours at the engine level.
#[test]
fn a_silent_listener_exits_3_within_the_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts (bounded: the run makes a few connections) and holds every connection open.
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(4).flatten() {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    let (code, out, err) = test_listener(&[
        "--target",
        &format!("http://127.0.0.1:{port}/"),
        "--timeout",
        "500ms",
    ]);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(err.contains("no HTTP answer"), "{err}");
    assert!(!out.contains("FAILED"), "{out}");
    drop(holder);
}
