//! The JSON-lines results file: round trip, interrupted runs, truncated last lines.

mod common;

use std::io::Write;
use std::path::PathBuf;

use cdevents_reports::{self as reports, JsonlWriter, Run, Verdict};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let d =
            std::env::temp_dir().join(format!("cdevents-reports-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a run as the runner would: header, then cases with observations in between.
fn write(run: &Run, path: &std::path::Path, finish: bool) {
    let mut w = JsonlWriter::create(path, run.header.clone()).unwrap();
    for (i, c) in run.cases.iter().enumerate() {
        w.case(c).unwrap();
        if i == 2 {
            for o in &run.observations {
                w.observation(o).unwrap();
            }
        }
    }
    if finish {
        w.finish(&run.summary).unwrap();
    }
}

#[test]
fn round_trip_is_lossless() {
    let dir = TempDir::new("roundtrip");
    for run in [common::representative_run(), common::hostile_run()] {
        let path = dir.0.join("results.jsonl");
        write(&run, &path, true);
        let back = reports::read_jsonl(&path).unwrap();
        assert_eq!(back, run);
        assert!(!back.summary.interrupted);
    }
}

#[test]
fn every_record_is_on_disk_as_soon_as_written() {
    let dir = TempDir::new("flush");
    let run = common::representative_run();
    let path = dir.0.join("results.jsonl");
    let mut w = JsonlWriter::create(&path, run.header.clone()).unwrap();
    w.case(&run.cases[0]).unwrap();
    w.case(&run.cases[1]).unwrap();
    // The writer is still open, as in a run that is killed now.
    let seen = reports::read_jsonl(&path).unwrap();
    assert_eq!(seen.cases, run.cases[..2]);
    assert!(seen.summary.interrupted);
    assert_eq!(w.summary(false).total, 2);
}

#[test]
fn missing_summary_means_interrupted_and_keeps_everything() {
    let dir = TempDir::new("nosummary");
    let run = common::representative_run();
    let path = dir.0.join("results.jsonl");
    write(&run, &path, false);
    let back = reports::read_jsonl(&path).unwrap();
    assert!(back.summary.interrupted);
    assert_eq!(back.cases, run.cases);
    assert_eq!(back.observations, run.observations);
    assert_eq!(back.summary.total, run.cases.len());
    // Failures still fail an interrupted run; without them it could not pass.
    assert_eq!(back.summary.verdict, Verdict::Fail);
    assert!(back.summary.one_line().ends_with("(interrupted)"));
}

#[test]
fn truncated_last_line_is_dropped_and_reported_as_interrupted() {
    let dir = TempDir::new("truncated");
    let run = common::representative_run();
    let path = dir.0.join("results.jsonl");
    write(&run, &path, false);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let last = lines[lines.len() - 1];
    // Cut the last record in the middle, at every kind of place.
    for cut in [1, last.len() / 3, last.len() / 2, last.len() - 1] {
        let mut f = std::fs::File::create(&path).unwrap();
        for l in &lines[..lines.len() - 1] {
            writeln!(f, "{l}").unwrap();
        }
        f.write_all(&last.as_bytes()[..cut]).unwrap();
        drop(f);
        let back = reports::read_jsonl(&path).unwrap();
        assert!(back.summary.interrupted, "cut at {cut}");
        assert_eq!(back.cases, run.cases[..run.cases.len() - 1], "cut at {cut}");
        assert_eq!(back.observations, run.observations);
    }
}

#[test]
fn a_bad_line_in_the_middle_is_an_error_naming_it() {
    let dir = TempDir::new("badline");
    let run = common::representative_run();
    let path = dir.0.join("results.jsonl");
    write(&run, &path, true);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[2].truncate(10);
    std::fs::write(&path, lines.join("\n")).unwrap();
    let e = reports::read_jsonl(&path).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}:3: not a valid record", path.display())),
        "{e}"
    );
}

#[test]
fn missing_file_error_names_it() {
    let e = reports::read_jsonl("/nonexistent/results.jsonl")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("/nonexistent/results.jsonl: "), "{e}");
}
