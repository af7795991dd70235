//! End-to-end tests of the command line: every exit code of `validate` and `requirements`,
//! the JSON output, stdin, colors, and hostile inputs (each must give a clear per-item
//! finding, the documented exit code, and no panic).

mod common;

use std::fs;
use std::io::{Seek, SeekFrom, Write};

use common::{command, run, run_with, workspace};
use serde_json::Value;

/// Exit codes, as documented in `runner/src/exit.rs` and the README.
const OK: i32 = 0;
const FAILED: i32 = 1;
const USAGE: i32 = 2;
const INCONCLUSIVE: i32 = 3;

const VALID_DIR: &str = "fixtures/0.5.1/valid";
const VALID_EVENT: &str = "fixtures/0.5.1/valid/pipelinerun.finished.json";
const INVALID_EVENT: &str = "fixtures/0.5.1/invalid/CDE-CTX-001--missing-id.json";
/// Breaks only a SHOULD requirement (CDE-CTX-003).
const SHOULD_ONLY: &str = "fixtures/0.5.1/invalid/CDE-CTX-003--relative-source.json";
/// Four events on lines 1, 2, 4 and 5 (line 3 is blank).
const STREAM: &str = "fixtures/0.5.1/valid/cloudevents/stream.ndjson";

fn read(path: &str) -> Vec<u8> {
    fs::read(workspace().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The ids of the findings of one JSON output line.
fn finding_ids(line: &Value) -> Vec<String> {
    line["findings"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .filter_map(|f| f["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn summary(lines: &[Value]) -> &Value {
    let last = lines.last().expect("at least the summary line");
    &last["summary"]
}

// --- exit codes ---------------------------------------------------------------------------

#[test]
fn validate_valid_fixtures_exits_0() {
    let r = run(&["validate", "--color", "never", VALID_DIR], None);
    r.expect_code(OK);
    assert!(r.stdout.contains("summary"), "{r}");
}

#[test]
fn validate_invalid_event_exits_1() {
    let r = run(&["validate", "--color", "never", INVALID_EVENT], None);
    r.expect_code(FAILED);
    assert!(r.stdout.contains("CDE-CTX-001"), "{r}");
}

#[test]
fn validate_unreadable_path_exits_2() {
    let r = run(
        &["validate", "fixtures/0.5.1/valid/no-such-event.json"],
        None,
    );
    r.expect_code(USAGE);
    assert!(r.stderr.contains("no-such-event.json"), "{r}");
}

#[test]
fn validate_unknown_spec_exits_2() {
    let r = run(&["validate", "--spec", "0.9.9", VALID_EVENT], None);
    r.expect_code(USAGE);
    assert!(r.stderr.contains("0.9.9"), "{r}");
}

#[test]
fn validate_bad_schemas_dir_exits_2() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().to_str().unwrap();
    let r = run(&["validate", "--schemas", dir, VALID_EVENT], None);
    r.expect_code(USAGE);
    assert!(r.stderr.contains(dir), "the error names the folder\n{r}");
}

#[test]
fn validate_empty_directory_exits_3() {
    let empty = tempfile::tempdir().unwrap();
    let r = run(&["validate", empty.path().to_str().unwrap()], None);
    r.expect_code(INCONCLUSIVE);
    assert!(r.stderr.contains("no events"), "{r}");
}

#[test]
fn validate_bad_flag_exits_2() {
    run(&["validate", "--no-such-flag", VALID_EVENT], None).expect_code(USAGE);
    run(&["validate"], None).expect_code(USAGE);
}

#[test]
fn requirements_exits_0_and_bad_flag_2() {
    let r = run(&["requirements"], None);
    r.expect_code(OK);
    assert!(r.stdout.contains("CDE-CTX-001"), "{r}");
    run(&["requirements", "--level", "sometimes"], None).expect_code(USAGE);
    run(&["requirements", "--spec", "0.9.9"], None).expect_code(USAGE);
}

// --- levels -------------------------------------------------------------------------------

#[test]
fn fail_on_should_fails_a_should_finding() {
    let lenient = run(&["validate", "--format", "json", SHOULD_ONLY], None);
    lenient.expect_code(OK);
    let lines = lenient.json_lines();
    assert_eq!(finding_ids(&lines[0]), ["CDE-CTX-003"], "{lenient}");
    assert_eq!(lines[0]["findings"][0]["level"], "SHOULD", "{lenient}");
    assert_eq!(lines[0]["valid"], true, "{lenient}");

    let strict = run(
        &[
            "validate",
            "--format",
            "json",
            "--fail-on",
            "should",
            SHOULD_ONLY,
        ],
        None,
    );
    strict.expect_code(FAILED);
    assert_eq!(strict.json_lines()[0]["valid"], false, "{strict}");
    let env = run_with(
        command()
            .env("CDEVENTS_CONFORMANCE_FAIL_ON", "should")
            .args(["validate", SHOULD_ONLY]),
        None,
    );
    env.expect_code(FAILED);
}

// --- JSON output --------------------------------------------------------------------------

#[test]
fn json_lines_have_the_documented_members_and_a_summary() {
    let r = run(
        &["validate", "--format", "json", VALID_DIR, INVALID_EVENT],
        None,
    );
    r.expect_code(FAILED);
    let lines = r.json_lines();
    let (events, summary_line) = lines.split_at(lines.len() - 1);
    assert!(events.len() > 40, "{r}");
    for line in events {
        for key in ["file", "line", "type", "spec", "valid", "findings"] {
            assert!(line.get(key).is_some(), "no `{key}` in {line}");
        }
        assert!(line["valid"].is_boolean(), "{line}");
        for f in line["findings"].as_array().expect("findings is an array") {
            for key in ["id", "level", "pointer", "message"] {
                assert!(f.get(key).is_some(), "no `{key}` in finding {f}");
            }
        }
    }
    let s = &summary_line[0]["summary"];
    let n = |k: &str| {
        s[k].as_u64()
            .unwrap_or_else(|| panic!("summary.{k} in {s}"))
    };
    assert_eq!(n("events"), events.len() as u64, "{s}");
    assert_eq!(n("valid") + n("invalid"), n("events"), "{s}");
    assert_eq!(n("invalid"), 1, "{s}");
    let invalid = events.last().unwrap();
    assert_eq!(invalid["file"], INVALID_EVENT);
    assert_eq!(invalid["valid"], false);
    assert!(finding_ids(invalid).contains(&"CDE-CTX-001".to_owned()));
}

#[test]
fn ndjson_line_numbers_are_reported() {
    let r = run(&["validate", "--format", "json", STREAM], None);
    r.expect_code(OK);
    let lines = r.json_lines();
    let numbers: Vec<u64> = lines[..lines.len() - 1]
        .iter()
        .map(|l| l["line"].as_u64().expect("a line number"))
        .collect();
    assert_eq!(numbers, [1, 2, 4, 5], "{r}");

    let human = run(&["validate", "--color", "never", STREAM], None);
    human.expect_code(OK);
    assert!(human.stdout.contains(&format!("{STREAM}:4")), "{human}");
}

#[test]
fn stdin_is_read_for_dash() {
    let event = read(VALID_EVENT);
    let r = run(&["validate", "--format", "json", "-"], Some(&event));
    r.expect_code(OK);
    let lines = r.json_lines();
    assert_eq!(lines[0]["file"], "<stdin>", "{r}");
    assert_eq!(summary(&lines)["events"], 1, "{r}");

    // Several lines on stdin are NDJSON, with line numbers.
    let stream = read(STREAM);
    let r = run(&["validate", "--format", "json", "-"], Some(&stream));
    r.expect_code(OK);
    let lines = r.json_lines();
    assert_eq!(summary(&lines)["events"], 4, "{r}");
    assert_eq!(lines[2]["line"], 4, "{r}");

    // An HTTP capture on stdin.
    let capture = read("fixtures/0.5.1/valid/cloudevents/binary.http");
    run(&["validate", "-"], Some(&capture)).expect_code(OK);

    let bad = read(INVALID_EVENT);
    run(&["validate", "-"], Some(&bad)).expect_code(FAILED);
    run(&["validate", "-"], Some(b"")).expect_code(FAILED);
}

// --- colors -------------------------------------------------------------------------------

fn has_escape(s: &str) -> bool {
    s.contains('\u{1b}')
}

#[test]
fn no_color_and_color_never_print_no_escape_codes() {
    let args = [
        "validate",
        INVALID_EVENT,
        "fixtures/0.5.1/no-such-file.json",
    ];
    let never = run(&[&["--color", "never"], &args[..]].concat(), None);
    never.expect_code(USAGE);
    assert!(
        !has_escape(&never.stdout) && !has_escape(&never.stderr),
        "{never:?}"
    );

    let no_color = run_with(command().env("NO_COLOR", "1").args(args), None);
    no_color.expect_code(USAGE);
    assert!(
        !has_escape(&no_color.stdout) && !has_escape(&no_color.stderr),
        "{no_color:?}"
    );

    // Not a terminal: auto prints none either; `always` does (so the checks above mean something).
    let auto = run(&args, None);
    assert!(!has_escape(&auto.stdout), "{auto:?}");
    let always = run(&[&["--color", "always"], &args[..]].concat(), None);
    assert!(has_escape(&always.stdout), "{always:?}");
}

// --- requirements -------------------------------------------------------------------------

#[test]
fn requirements_json_is_an_array_of_records() {
    let r = run(&["requirements", "--format", "json"], None);
    r.expect_code(OK);
    let all: Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    let records = all.as_array().expect("an array");
    assert!(records.len() > 50, "{}", records.len());
    for rec in records {
        for key in [
            "id", "level", "roles", "spec", "section", "versions", "summary",
        ] {
            assert!(rec.get(key).is_some(), "no `{key}` in {rec}");
        }
        assert!(
            matches!(rec["level"].as_str(), Some("MUST" | "SHOULD" | "MAY")),
            "{rec}"
        );
        assert!(
            rec["roles"].is_array() && rec["versions"].is_array(),
            "{rec}"
        );
    }
    assert!(records.iter().any(|r| r["id"] == "CDE-CE-004"));

    let filtered = run(
        &[
            "requirements",
            "--format",
            "json",
            "--id",
            "CDE-CTX",
            "--level",
            "must",
        ],
        None,
    );
    filtered.expect_code(OK);
    let some: Value = serde_json::from_str(&filtered.stdout).unwrap();
    let some = some.as_array().unwrap();
    assert!(!some.is_empty());
    assert!(some
        .iter()
        .all(|r| { r["id"].as_str().unwrap().starts_with("CDE-CTX") && r["level"] == "MUST" }));
}

// --- hostile inputs -----------------------------------------------------------------------

/// One event of the valid fixtures, on one line, with its own id.
fn one_line_event(id: &str) -> String {
    let mut ev: Value = serde_json::from_slice(&read(VALID_EVENT)).unwrap();
    ev["context"]["id"] = Value::from(id);
    serde_json::to_string(&ev).unwrap()
}

#[test]
fn a_100_mb_ndjson_line_is_one_clear_finding() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.ndjson");
    let mut f = fs::File::create(&path).unwrap();
    // A sparse 100 MB line (no disk is written for the hole), then a good event.
    f.write_all(b"{\"context\": \"").unwrap();
    f.set_len(100 << 20).unwrap();
    f.seek(SeekFrom::End(0)).unwrap();
    writeln!(f, "\"}}\n{}", one_line_event("after-the-huge-line")).unwrap();
    drop(f);

    let r = run(
        &["validate", "--format", "json", path.to_str().unwrap()],
        None,
    );
    r.expect_code(FAILED);
    let lines = r.json_lines();
    assert_eq!(lines.len(), 3, "{r}");
    assert_eq!(lines[0]["line"], 1);
    assert_eq!(finding_ids(&lines[0]), ["CDE-SCH-002"], "{r}");
    let msg = lines[0]["findings"][0]["message"].as_str().unwrap();
    assert!(msg.contains("larger than the limit"), "{msg}");
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(
        lines[1]["valid"], true,
        "the stream goes on after the bad line\n{r}"
    );
}

#[test]
fn nesting_100000_deep_is_one_clear_finding() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let obj = format!(
        "{{\"context\": {}{}}}",
        "{\"a\":".repeat(100_000),
        "}".repeat(100_000)
    );
    fs::write(dir.path().join("arrays.json"), &deep).unwrap();
    fs::write(dir.path().join("objects.json"), &obj).unwrap();
    fs::write(
        dir.path().join("line.ndjson"),
        format!("{deep}\n{}\n", one_line_event("after-the-deep-line")),
    )
    .unwrap();

    let r = run(
        &["validate", "--format", "json", dir.path().to_str().unwrap()],
        None,
    );
    r.expect_code(FAILED);
    let lines = r.json_lines();
    assert_eq!(summary(&lines)["events"], 4, "{r}");
    let deep_items: Vec<&Value> = lines.iter().filter(|l| l["valid"] == false).collect();
    assert_eq!(deep_items.len(), 3, "{r}");
    for l in deep_items {
        assert_eq!(finding_ids(l), ["CDE-SCH-002"], "{l}");
        let msg = l["findings"][0]["message"].as_str().unwrap();
        assert!(msg.contains("nested deeper"), "{msg}");
    }

    // Also on stdin.
    let r = run(&["validate", "-"], Some(deep.as_bytes()));
    r.expect_code(FAILED);
    assert!(r.stdout.contains("CDE-SCH-002"), "{r}");
}

#[test]
fn binary_garbage_is_one_clear_finding_per_file() {
    let dir = tempfile::tempdir().unwrap();
    // A fixed pseudo-random byte soup, with NULs and invalid UTF-8.
    let mut x: u32 = 0x2545_f491;
    let soup: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    for name in ["soup.json", "soup.ndjson", "soup.http"] {
        fs::write(dir.path().join(name), &soup).unwrap();
    }
    let mut capture =
        b"POST /cdevents HTTP/1.1\r\nContent-Type: application/json\r\nce-id: 1\r\n\r\n".to_vec();
    capture.extend(&soup);
    fs::write(dir.path().join("body.http"), capture).unwrap();

    let r = run(
        &["validate", "--format", "json", dir.path().to_str().unwrap()],
        None,
    );
    r.expect_code(FAILED);
    let lines = r.json_lines();
    let events = &lines[..lines.len() - 1];
    assert!(events.len() >= 4, "{r}");
    for l in events {
        assert_eq!(l["valid"], false, "{l}");
        assert!(
            finding_ids(l).iter().all(|id| id == "CDE-SCH-002"),
            "garbage is an input error, nothing else: {l}"
        );
    }
    for name in ["soup.json", "soup.http", "body.http"] {
        assert!(
            events
                .iter()
                .any(|l| l["file"].as_str().is_some_and(|f| f.ends_with(name))),
            "{name} reported\n{r}"
        );
    }

    let r = run(&["validate", "-"], Some(&soup));
    r.expect_code(FAILED);
}

#[test]
fn a_directory_of_10000_tiny_files() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..10_000 {
        let body = if i % 1000 == 999 {
            // One in a thousand is broken, and says where.
            "{\"context\": ".to_owned()
        } else {
            one_line_event(&format!("tiny-{i:05}"))
        };
        fs::write(dir.path().join(format!("e{i:05}.json")), body).unwrap();
    }
    let r = run(
        &["validate", "--format", "json", dir.path().to_str().unwrap()],
        None,
    );
    r.expect_code(FAILED);
    let lines = r.json_lines();
    let s = summary(&lines);
    assert_eq!(s["events"], 10_000, "{s}");
    assert_eq!(s["invalid"], 10, "{s}");
    let broken: Vec<&str> = lines
        .iter()
        .filter(|l| l["valid"] == false)
        .map(|l| l["file"].as_str().unwrap())
        .collect();
    assert!(broken[0].ends_with("e00999.json"), "{broken:?}");

    let quiet = run(
        &[
            "validate",
            "-q",
            "--color",
            "never",
            dir.path().to_str().unwrap(),
        ],
        None,
    );
    quiet.expect_code(FAILED);
    assert!(
        quiet.stdout.lines().count() < 100,
        "-q prints only failing events"
    );
}

// --- official schemas ---------------------------------------------------------------------

/// `--schemas` with the official spec tree judges the fixtures as the embedded registry does:
/// the valid 0.5.1 events pass, an invalid one fails, and over every version folder each event
/// gets the same verdict and the same requirement ids from both registries.
#[test]
fn official_schemas_judge_the_fixtures_like_the_embedded_ones() {
    let Some(tree) =
        cdevents_schemas::official::spec_tree_or_skip("official_schemas_judge_the_fixtures")
    else {
        return;
    };
    let tree = tree.to_str().unwrap();
    run(&["validate", "--schemas", tree, VALID_DIR], None).expect_code(OK);
    run(&["validate", "--schemas", tree, INVALID_EVENT], None).expect_code(FAILED);

    let verdicts = |r: &common::Run| -> Vec<(String, String)> {
        let lines = r.json_lines();
        lines[..lines.len() - 1]
            .iter()
            .map(|l| {
                let mut ids = finding_ids(l);
                ids.sort();
                (
                    format!("{}:{}[{}]", l["file"], l["line"], l["index"]),
                    format!("valid={} {}", l["valid"], ids.join(",")),
                )
            })
            .collect()
    };
    let mut differ = Vec::new();
    for v in cdevents_schemas::SpecVersion::ALL {
        let folder = format!("fixtures/{v}");
        let embedded = run(&["validate", "--format", "json", &folder], None);
        let official = run(
            &["validate", "--format", "json", "--schemas", tree, &folder],
            None,
        );
        embedded.expect_code(FAILED);
        official.expect_code(FAILED);
        let (e, o) = (verdicts(&embedded), verdicts(&official));
        assert_eq!(e.len(), o.len(), "{v}: as many events");
        differ.extend(
            e.iter()
                .zip(&o)
                .filter(|(a, b)| a != b)
                .map(|(a, b)| format!("{}: embedded {} / official {}", a.0, a.1, b.1)),
        );
    }
    assert!(differ.is_empty(), "verdicts differ:\n{}", differ.join("\n"));
}
