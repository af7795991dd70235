//! `selftest` end to end, through the built binary: every reference passes, every fault fails
//! exactly its requirements (exit 0), the coverage is what the fault tables and the invalid
//! fixtures prove, and the options select and refuse as documented.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cdevents-conformance");

/// One self-test at a time: each runs many servers and suites, and timing-based checks
/// (backoff, Retry-After) should not see the machine shared with another one.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn selftest(args: &[&str]) -> (Option<i32>, String, String) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let out = Command::new(BIN)
        .args(["--color", "never", "selftest"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_reference_passes_every_fault_fails_exactly_and_coverage_is_reported() {
    let (code, stdout, stderr) = selftest(&["--format", "json"]);
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let runs = v["runs"].as_array().expect("runs");
    let wrong: Vec<String> = runs
        .iter()
        .filter(|r| r["expected"] != r["failed"] || !r["error"].is_null())
        .map(|r| {
            format!(
                "{} {}: expected {} failed {} error {}",
                r["role"], r["fault"], r["expected"], r["failed"], r["error"]
            )
        })
        .collect();
    assert_eq!(code, Some(0), "{wrong:#?}\n{stderr}");
    assert_eq!(v["ok"], true);
    for role in ["listener", "sender"] {
        assert!(
            runs.iter()
                .any(|r| r["role"] == role && r["fault"].is_null()),
            "no {role} reference run"
        );
    }
    for r in runs {
        assert_eq!(r["expected"], r["failed"], "{r}");
        if r["fault"].is_null() {
            assert_eq!(r["failed"], Value::Array(vec![]), "{r}");
            assert_eq!(r["errored"], Value::Array(vec![]), "{r}");
        } else {
            assert!(!r["expected"].as_array().expect("ids").is_empty(), "{r}");
        }
    }

    let must = &v["coverage"]["must"];
    let n = |k: &str| must[k].as_u64().expect("a count");
    assert_eq!(
        n("total"),
        n("not_blackbox") + n("by_fault") + n("by_fixture") + n("uncovered")
    );
    // What the fault tables and the invalid fixtures prove today; raise these as faults land.
    assert!(n("by_fault") >= 54, "{must}");
    assert!(n("by_fault") + n("by_fixture") >= 66, "{must}");
    let entries = v["coverage"]["entries"].as_array().expect("entries");
    let state = |id: &str| {
        entries
            .iter()
            .find(|e| e["id"] == id)
            .map(|e| e["state"].as_str().unwrap_or("").to_owned())
    };
    // A live proof, an offline-only proof, a record that is not black-box.
    assert_eq!(state("WH-001").as_deref(), Some("proved-by-fault"));
    assert_eq!(state("CDE-CTX-001").as_deref(), Some("proved-by-fixture"));
    assert_eq!(state("WH-002").as_deref(), Some("not-blackbox"));
    // The relay rules the relay faults prove; REL-010 is a SHOULD, proved all the same.
    for id in [
        "REL-004",
        "REL-007",
        "REL-010",
        "CE-HTTP-003",
        "CE-HTTP-010",
    ] {
        assert_eq!(state(id).as_deref(), Some("proved-by-fault"), "{id}");
    }
    // The relay role has a reference per claim it makes: per-subject and total order.
    let relay_refs: Vec<&str> = runs
        .iter()
        .filter(|r| r["role"] == "relay" && r["fault"].is_null())
        .filter_map(|r| r["about"].as_str())
        .collect();
    assert_eq!(relay_refs.len(), 2, "{relay_refs:?}");
    assert!(
        relay_refs.iter().any(|a| a.contains("total order")),
        "{relay_refs:?}"
    );
    // The sender-side rules the reference sender's faults prove.
    for id in [
        "CE-HTTP-001",
        "CE-HTTP-012",
        "CE-HTTP-013",
        "CE-HTTP-014",
        "CE-HTTP-019",
        "CDE-CE-016",
        "CDE-SUB-006",
        "CDE-SUB-007",
        "WH-013",
        "WH-016",
        "WH-017",
    ] {
        assert_eq!(state(id).as_deref(), Some("proved-by-fault"), "{id}");
    }
    let mut uncovered = BTreeSet::new();
    for e in entries {
        match e["state"].as_str() {
            Some("uncovered") | Some("not-blackbox") => {
                let why = e["why"].as_str().unwrap_or("");
                assert!(!why.is_empty(), "{e}: says nothing about why");
                if e["state"] == "uncovered" && e["level"] == "MUST" {
                    uncovered.insert(e["id"].as_str().unwrap_or("").to_owned());
                }
            }
            Some("proved-by-fault") | Some("proved-by-fixture") => {
                assert!(!e["proofs"].as_array().expect("proofs").is_empty(), "{e}");
            }
            other => panic!("unknown state {other:?}"),
        }
    }
    assert_eq!(uncovered.len() as u64, n("uncovered"));
}

#[test]
fn a_fault_filter_runs_that_fault_and_its_roles_reference_only() {
    let (code, stdout, stderr) = selftest(&["--fault", "put-method", "--format", "json"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let v: Value = serde_json::from_str(&stdout).expect("one JSON document");
    let runs = v["runs"].as_array().expect("runs");
    assert!(runs.iter().all(|r| r["role"] == "sender"), "{v}");
    assert_eq!(runs.iter().filter(|r| !r["fault"].is_null()).count(), 1);
    assert_eq!(v["filtered"], true);
}

#[test]
fn the_human_output_has_the_matrix_and_the_coverage() {
    let (code, stdout, stderr) = selftest(&["--fault", "redirect"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("matrix: requirement × fault"), "{stdout}");
    assert!(stdout.contains("WH-004"), "{stdout}");
    assert!(stdout.contains("✓"), "{stdout}");
    assert!(stdout.contains("check coverage"), "{stdout}");
    assert!(stdout.contains("partial"), "{stdout}");
    assert!(stdout.contains("selftest: ok"), "{stdout}");
}

#[test]
fn unknown_roles_and_faults_are_usage_errors() {
    let (code, _, stderr) = selftest(&["--fault", "no-such-fault"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no-such-fault"), "{stderr}");
    let (code, _, stderr) = selftest(&["--role", "nobody"]);
    assert_eq!(code, Some(2), "{stderr}");
}
