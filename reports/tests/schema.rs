//! `report.schema.json` against real output: every JSON-lines record and the JSON report of
//! the representative, hostile and interrupted runs.

mod common;

use cdevents_reports::{self as reports, JsonlWriter, Run};
use serde_json::{json, Value};

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(reports::REPORT_SCHEMA).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .expect("report.schema.json compiles")
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn jsonl(run: &Run, finish: bool) -> Vec<Value> {
    let mut w = JsonlWriter::new(Vec::new(), run.header.clone()).unwrap();
    for c in &run.cases {
        w.case(c).unwrap();
    }
    for o in &run.observations {
        w.observation(o).unwrap();
    }
    let bytes = if finish {
        w.finish(&run.summary).unwrap()
    } else {
        // An interrupted file: take what was written so far.
        let s = w.summary(true);
        let mut out = w.finish(&s).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        let keep = text.trim_end().rfind('\n').unwrap() + 1;
        out.truncate(keep);
        out
    };
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn runs() -> Vec<(&'static str, Run)> {
    vec![
        ("representative", common::representative_run()),
        ("hostile", common::hostile_run()),
        ("interrupted", common::interrupted_run()),
    ]
}

#[test]
fn every_jsonl_record_validates() {
    let v = validator();
    for (name, run) in runs() {
        for finish in [true, false] {
            let records = jsonl(&run, finish);
            assert!(records.len() >= 2);
            for (i, r) in records.iter().enumerate() {
                let errs = errors(&v, r);
                assert!(errs.is_empty(), "{name} line {}: {errs:#?}\n{r}", i + 1);
            }
        }
    }
}

#[test]
fn the_json_report_validates() {
    let v = validator();
    for (name, run) in runs() {
        let report: Value = serde_json::from_str(&reports::to_json(&run)).unwrap();
        let errs = errors(&v, &report);
        assert!(errs.is_empty(), "{name}: {errs:#?}");
    }
}

#[test]
fn the_schema_rejects_drift() {
    let v = validator();
    let run = common::representative_run();
    let report = reports::to_json_value(&run);
    let case = serde_json::to_value(reports::Record::Case(run.cases[1].clone())).unwrap();

    let mut bad = case.clone();
    bad["status"] = json!("failing");
    assert!(!v.is_valid(&bad), "unknown status");

    let mut bad = case.clone();
    bad["surprise"] = json!(1);
    assert!(!v.is_valid(&bad), "unknown field in a record");

    let mut bad = case.clone();
    bad["record"] = json!("verdict");
    assert!(!v.is_valid(&bad), "unknown record kind");

    let mut bad = report.clone();
    bad["header"]["record"] = json!("header");
    assert!(!v.is_valid(&bad), "a record tag inside the report");

    let mut bad = report.clone();
    bad["format_version"] = json!(2);
    assert!(!v.is_valid(&bad), "another format version");

    let mut bad = report.clone();
    bad["results"][1]["evidence"]["request"]["headers"][0] = json!(["only-a-name"]);
    assert!(!v.is_valid(&bad), "a header without a value");

    let mut bad = report;
    bad["summary"]["grade"] = json!("A-");
    assert!(!v.is_valid(&bad), "unknown grade");
}
