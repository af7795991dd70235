//! `demo` end to end, through the built binary: exit 0, every report of every run written,
//! self-contained HTML, and a faulty run whose failures carry a reproduction command.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cdevents-conformance");

const RUNS: [&str; 4] = ["listener", "sender", "relay", "listener-empty-200"];
const FILES: [&str; 6] = [
    "results.jsonl",
    "report.json",
    "junit.xml",
    "report.md",
    "html/index.html",
    "badge.svg",
];

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn demo_passes_the_references_fails_the_faulty_one_and_writes_every_report() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out_dir = dir.path().join("report");
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["--color", "never", "demo", "--out"])
        .arg(&out_dir)
        .output()
        .expect("the binary runs");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        elapsed < Duration::from_secs(60),
        "the demo took {elapsed:?}"
    );

    // The summary: one line per run, the faulty one failing as expected, the HTML paths.
    for run in RUNS {
        assert!(
            stdout.contains(&format!("  {run} ")),
            "no line for {run}:\n{stdout}"
        );
        let html = out_dir.join(run).join("html").join("index.html");
        assert!(
            stdout.contains(&html.display().to_string()),
            "no path {}:\n{stdout}",
            html.display()
        );
    }
    assert!(stdout.contains("FAIL (expected)"), "{stdout}");
    assert!(stdout.contains("expected to fail"), "{stdout}");
    assert!(
        stdout.contains("reproduce: cdevents-conformance test listener"),
        "{stdout}"
    );

    // Every report of every run exists and is not empty.
    for run in RUNS {
        for file in FILES {
            let p = out_dir.join(run).join(file);
            let len = std::fs::metadata(&p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .len();
            assert!(len > 0, "{} is empty", p.display());
        }
        // Self-contained HTML: no script, style sheet or image loaded from anywhere.
        let html = read(&out_dir.join(run).join("html").join("index.html"));
        for bad in [
            "<script src=",
            "<link",
            "@import",
            "src=\"http",
            "href=\"http",
            "src=\"//",
            "href=\"//",
            "url(http",
            "url(//",
        ] {
            assert!(!html.contains(bad), "{run}: the HTML contains `{bad}`");
        }
    }

    // The conformant runs pass; the faulty run fails, each failure reproducible.
    let verdict = |run: &str| -> serde_json::Value {
        serde_json::from_str(&read(&out_dir.join(run).join("report.json")))
            .unwrap_or_else(|e| panic!("{run}/report.json: {e}"))
    };
    for run in ["listener", "sender", "relay"] {
        let v = verdict(run);
        assert_eq!(v["summary"]["verdict"], "pass", "{run}: {}", v["summary"]);
        assert_eq!(v["summary"]["failed"], 0, "{run}: {}", v["summary"]);
    }
    // The relay run carries its delivery statistics and says what it observed.
    let relay = verdict("relay");
    let d = &relay["observations"][0]["delivery"];
    assert_eq!(d["lost"], 0, "{d}");
    assert!(d["delivered"].as_u64().unwrap_or(0) > 0, "{d}");
    assert!(stdout.contains("observed exactly-once"), "{stdout}");
    let faulty = verdict("listener-empty-200");
    assert_eq!(
        faulty["summary"]["verdict"], "fail",
        "{}",
        faulty["summary"]
    );
    let failed: Vec<&serde_json::Value> = faulty["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|c| c["status"] == "failed")
        .collect();
    assert!(!failed.is_empty(), "no failed case in the faulty run");
    for c in failed {
        assert_eq!(c["requirement"], "WH-006", "{c}");
        let reproduce = c["reproduce"].as_str().unwrap_or_default();
        assert!(
            reproduce.starts_with("cdevents-conformance test listener --target http://127.0.0.1:")
                && reproduce.contains("--case "),
            "{c}"
        );
    }
}
