//! JUnit XML (the Jenkins/Ant dialect read by Jenkins, GitLab, GitHub test reporters), written
//! with `quick-junit`.
//!
//! One `<testsuite>` per spec version the cases apply to, named `<suite> <spec>`; one
//! `<testcase>` per case, named by the case id, with the requirement id as `classname`.
//!
//! | status | JUnit |
//! | --- | --- |
//! | passed | success |
//! | failed at or above `--fail-on` | `<failure message type="LEVEL">` with the evidence as text |
//! | failed below `--fail-on` | success, with the shortfall in `<system-out>` (so JUnit agrees with the exit code) |
//! | errored | `<error>` with the evidence |
//! | skipped | `<skipped>` |
//! | waived | `<skipped message="waived: …">` |
//! | waived but passed | success, with "waiver no longer needed" in `<system-out>` |

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::error::ReportError;
use crate::escape::{cap, xml_chars};
use crate::model::{CaseResult, Run, Status};
use crate::writers::text::{evidence_text, write_file, Caps};

const CAPS: Caps = Caps {
    field: 4 * 1024,
    body: 16 * 1024,
};
const MESSAGE_CAP: usize = 1024;

/// The run as a `quick-junit` report, for callers that want to add to it.
pub fn to_junit_report(run: &Run) -> Report {
    let h = &run.header;
    let mut report = Report::new(x(&format!("cdevents-conformance {}", h.suite)));
    let timestamp = chrono::DateTime::parse_from_rfc3339(&h.started_at).ok();
    if let Some(t) = timestamp {
        report.set_timestamp(t);
    }
    if let Some(ms) = run.summary.duration_ms {
        report.set_time(Duration::from_millis(ms));
    }

    // Suites in the order of the header's spec versions, then others.
    let mut groups: BTreeMap<(usize, String), Vec<&CaseResult>> = BTreeMap::new();
    for c in &run.cases {
        let spec = c
            .spec
            .clone()
            .unwrap_or_else(|| crate::writers::text::specs_label(run));
        let pos = h
            .spec_versions
            .iter()
            .position(|s| *s == spec)
            .unwrap_or(usize::MAX);
        groups.entry((pos, spec)).or_default().push(c);
    }
    for ((_, spec), cases) in groups {
        let mut suite = TestSuite::new(x(&format!("{} {}", h.suite, spec)));
        if let Some(t) = timestamp {
            suite.set_timestamp(t);
        }
        let mut props: Vec<Property> = vec![
            Property::new("tool_version", x(&h.tool_version)),
            Property::new("spec", x(&spec)),
            Property::new("fail_on", h.fail_on.as_str()),
            Property::new("verdict", run.summary.verdict.as_str()),
            Property::new("grade", run.summary.grade.as_str()),
        ];
        if let Some(t) = &h.target {
            props.push(Property::new("target", x(t)));
        }
        if let Some(p) = &h.profile {
            props.push(Property::new("profile", x(p)));
        }
        if let Some(seed) = h.seed {
            props.push(Property::new("seed", seed.to_string()));
        }
        if run.summary.interrupted {
            props.push(Property::new("interrupted", "true"));
        }
        suite.add_properties(props);
        let total_ms: u64 = cases.iter().filter_map(|c| c.duration_ms).sum();
        if cases.iter().any(|c| c.duration_ms.is_some()) {
            suite.set_time(Duration::from_millis(total_ms));
        }
        suite.add_test_cases(cases.iter().map(|c| test_case(run, c)));
        report.add_test_suite(suite);
    }
    report
}

fn test_case(run: &Run, c: &CaseResult) -> TestCase {
    let fail_on = run.header.fail_on;
    let message = || x(&cap(&format!("[{}] {}", c.level, c.message), MESSAGE_CAP));
    let evidence = || x(&evidence_text(run, c, CAPS));
    let mut out = None;
    let expired = c.waiver.as_ref().is_some_and(|w| w.expired);
    let status = match c.status {
        Status::Passed => TestCaseStatus::success(),
        // An expired waiver fails the run whatever the case did.
        Status::Failed | Status::WaivedButPassed if expired => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(x(&cap(
                &format!("[{}] waiver expired: {}", c.level, c.message),
                MESSAGE_CAP,
            )))
            .set_type("expired-waiver")
            .set_description(evidence());
            s
        }
        Status::Failed if c.level.fails_at(fail_on) => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(message())
                .set_type(c.level.as_str())
                .set_description(evidence());
            s
        }
        Status::Failed => {
            out = Some(format!(
                "NOT MET ({} is below --fail-on {}): {}",
                c.level,
                fail_on,
                evidence()
            ));
            TestCaseStatus::success()
        }
        Status::Errored => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(message())
                .set_type("errored")
                .set_description(evidence());
            s
        }
        Status::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(message());
            s
        }
        Status::Waived => {
            let mut s = TestCaseStatus::skipped();
            let why = c
                .waiver
                .as_ref()
                .map_or_else(|| "no reason given".to_owned(), ToString::to_string);
            s.set_message(x(&cap(&format!("waived: {why}"), MESSAGE_CAP)))
                .set_type("waived")
                .set_description(evidence());
            s
        }
        Status::WaivedButPassed => {
            out = Some(format!(
                "waiver no longer needed: the case passed ({})",
                c.waiver
                    .as_ref()
                    .map_or_else(|| "no reason given".to_owned(), ToString::to_string)
            ));
            TestCaseStatus::success()
        }
    };
    let mut tc = TestCase::new(x(&c.case), status);
    tc.set_classname(x(&c.requirement));
    if let Some(ms) = c.duration_ms {
        tc.set_time(Duration::from_millis(ms));
    }
    if let Some(o) = out {
        tc.set_system_out(x(&o));
    }
    tc
}

/// Text made valid as XML character data; quick-junit escapes markup and strips ANSI escapes.
fn x(s: &str) -> String {
    xml_chars(s)
}

/// The run as JUnit XML.
pub fn to_junit(run: &Run) -> Result<String, ReportError> {
    Ok(to_junit_report(run).to_string()?)
}

/// Writes the JUnit XML report to `path`.
pub fn write_junit(run: &Run, path: impl AsRef<Path>) -> Result<(), ReportError> {
    write_file(path.as_ref(), to_junit(run)?.as_bytes())
}
