//! The result model of cdevents-conformance runs, the JSON-lines results file, grades, and
//! the writers that render a run as JSON, JUnit XML, Markdown, HTML and an SVG badge.
//!
//! # The shape of a run
//!
//! Every suite (`validate`, `listener`, `sender`, `relay`, `selftest`) produces the same
//! records:
//!
//! * one [`RunHeader`]: format version, tool version, start time, suite, target, spec versions,
//!   profile, seed, `--fail-on` threshold, command line;
//! * one [`CaseResult`] per case: case id (`LIS-003/binary/pipelinerun.finished`), requirement
//!   id, [`Level`], [`Role`]s, [`Status`], message, expected/actual, [`Evidence`] (request,
//!   response, event, diff, curl), findings, a one-line reproduce command, duration, waiver;
//! * any number of [`Observation`]s: run-wide data such as relay [`DeliveryStats`] and the
//!   [`LinkGraph`] of events;
//! * one [`Summary`]: counts, [`Verdict`] under `--fail-on`, and a [`Grade`] per spec version
//!   and role with its reasons (see [`grade`] for the rules).
//!
//! *Failed*, *errored* and *skipped* are different statuses: a failure is a verdict against the
//! target, an error means no verdict could be reached, a skip means the case does not apply.
//!
//! # Writing the results file
//!
//! Raw results go to a JSON-lines file first, one [`Record`] per line, flushed as produced, so
//! an interrupted run keeps everything it finished:
//!
//! ```
//! use cdevents_reports::{CaseResult, JsonlWriter, Level, RunHeader, Status, Suite};
//!
//! let dir = std::env::temp_dir().join(format!("cdevents-reports-doc-{}", std::process::id()));
//! let path = dir.join("results.jsonl");
//! let header = RunHeader::new(Suite::Validate, "0.1.0", "2025-01-01T00:00:00Z");
//! let mut w = JsonlWriter::create(&path, header)?;
//! w.case(&CaseResult::new("CDE-CTX-001/a", "CDE-CTX-001", Level::Must, Status::Passed, "id set"))?;
//! let summary = w.summary(false);
//! w.finish(&summary)?;
//!
//! let run = cdevents_reports::read_jsonl(&path)?;
//! assert_eq!(run.summary.passed, 1);
//! assert!(!run.summary.interrupted);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), cdevents_reports::ReportError>(())
//! ```
//!
//! A file whose summary line is missing, or whose last line was cut short, reads back as an
//! interrupted run (`summary.interrupted == true`) with every complete record kept. A header of
//! another [`FORMAT_VERSION`] is refused with an error that says so.
//!
//! # Rendering
//!
//! Every writer is a pure function of a [`Run`], with a helper that writes the file:
//!
//! | format | function | file helper |
//! | --- | --- | --- |
//! | JSON document | [`to_json`] | [`write_json`] |
//! | JUnit XML | [`to_junit`] | [`write_junit`] |
//! | Markdown (`$GITHUB_STEP_SUMMARY`, PR comments) | [`to_markdown`] | [`write_markdown`], [`append_markdown`] |
//! | self-contained HTML | [`to_html`] | [`write_html_dir`] (`DIR/index.html`) |
//! | SVG badge | [`badge_svg`] | [`write_badge`] |
//!
//! The console line is [`Summary::one_line`]. Text from the target is untrusted: the writers
//! escape it with the functions of [`escape`] and cap its size.
//!
//! # Schema
//!
//! [`REPORT_SCHEMA`] (`report.schema.json`, JSON Schema 2020-12) describes both a line of the
//! JSON-lines file and the JSON document; the crate's tests validate generated output against it.

pub mod error;
pub mod escape;
pub mod grade;
pub mod model;
pub mod stream;
pub mod writers;

pub use error::ReportError;
pub use grade::{Grade, RoleGrade};
pub use model::{
    CaseResult, DeliveryStats, Evidence, Finding, HttpMessage, LatencyStats, Level, LevelCounts,
    LinkEdge, LinkGraph, LinkNode, Observation, Record, Role, Run, RunHeader, Status, Suite,
    Summary, Verdict, Waiver, FORMAT_VERSION,
};
pub use stream::{parse_jsonl, read_jsonl, read_jsonl_from, JsonlWriter};
pub use writers::{
    append_markdown, badge_svg, requirement_rows, to_html, to_json, to_json_value, to_junit,
    to_junit_report, to_markdown, to_markdown_with, write_badge, write_html_dir, write_json,
    write_junit, write_markdown, JsonReport, MarkdownOptions,
};

/// The JSON Schema (2020-12) of a results line and of the JSON report.
pub const REPORT_SCHEMA: &str = include_str!("../report.schema.json");
