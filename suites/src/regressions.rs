//! Regression fixtures from failures: shrunk property-test failures are stored as **events**
//! (not only as proptest seeds) in a results file, and any failed case that carries its event
//! or request becomes a file of `fixtures/regressions/` with one command
//! (`cdevents-conformance promote RESULTS CASE_ID`), which the fixture harness runs first.
//!
//! - [`record_shrunk_failure`] appends a case to a JSON-lines results file (the report model
//!   every suite writes): the requirement, the shrunk event as `evidence.event`, and whether
//!   the event must pass (`valid/…` case ids: the checks rejected a valid event) or must be
//!   rejected with that requirement (the checks let it through).
//! - [`fixture_for`] turns a case into a fixture file: the exact request as an `.http` capture
//!   when the case carries a complete one (binding rules need the headers), else the event as
//!   `.json`; named `<REQ-ID>--<slug>.<ext>` or `valid--<slug>.<ext>` as the harness reads them
//!   (see `fixtures/regressions/README.md`).

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use cdevents_reports::model::{CaseResult, Evidence, HttpMessage, RunHeader, Status, Suite};
use cdevents_reports::stream::{read_jsonl, JsonlWriter};
use serde_json::Value;

use crate::requirements::Catalogue;

/// The case id prefix of an event that must pass (the checks rejected it wrongly).
pub const VALID_PREFIX: &str = "valid/";

/// Why a case cannot become a fixture.
#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    /// The requirement is not in the catalogue (so no harness trial could name it).
    #[error("the case's requirement `{0}` is not in the requirement catalogue")]
    UnknownRequirement(String),
    /// Nothing to write.
    #[error("the case carries neither its event nor a complete request")]
    NoEvent,
}

/// A fixture file: its name (no directory) and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    /// `<REQ-ID>--<slug>.<ext>` or `valid--<slug>.<ext>`.
    pub file_name: String,
    /// The bytes to write.
    pub contents: Vec<u8>,
    /// What the harness will require of it.
    pub must: String,
}

/// The case of a shrunk property-test failure: `test` names the property, `requirement` the
/// id the event proves, `must_pass` whether the event is valid (the checks wrongly reported
/// `requirement`) or not (the checks missed it).
pub fn shrunk_failure_case(
    test: &str,
    requirement: &str,
    must_pass: bool,
    event: &Value,
    message: &str,
) -> CaseResult {
    let level = Catalogue::embedded()
        .get(requirement)
        .map(|r| r.level)
        .unwrap_or(cdevents_reports::Level::Must);
    let hash = short_hash(event.to_string().as_bytes());
    let case = if must_pass {
        format!("{VALID_PREFIX}{requirement}/{test}/{hash}")
    } else {
        format!("{requirement}/{test}/{hash}")
    };
    let mut c = CaseResult::new(case, requirement, level, Status::Failed, message);
    c.evidence = Some(Evidence {
        event: Some(event.clone()),
        ..Evidence::default()
    });
    c
}

/// Appends the case of a shrunk failure to the results file `path` (created with a header if
/// absent), so that `cdevents-conformance promote PATH CASE_ID` can make it a fixture.
pub fn record_shrunk_failure(path: &Path, case: &CaseResult) -> std::io::Result<()> {
    let mut cases = read_jsonl(path).map(|r| r.cases).unwrap_or_default();
    cases.retain(|c| c.case != case.case);
    cases.push(case.clone());
    let header = RunHeader::new(
        Suite::Selftest,
        env!("CARGO_PKG_VERSION"),
        chrono::Utc::now().to_rfc3339(),
    );
    let io = |e: cdevents_reports::ReportError| std::io::Error::other(e.to_string());
    let mut w = JsonlWriter::create(path, header).map_err(io)?;
    for c in &cases {
        w.case(c).map_err(io)?;
    }
    let summary = w.summary(false);
    w.finish(&summary).map_err(io)?.flush()
}

/// The fixture a failed case becomes.
pub fn fixture_for(case: &CaseResult) -> Result<Fixture, PromoteError> {
    if Catalogue::embedded().get(&case.requirement).is_none() {
        return Err(PromoteError::UnknownRequirement(case.requirement.clone()));
    }
    let ev = case.evidence.as_ref();
    let request = ev
        .and_then(|e| e.request.as_ref())
        .filter(|r| !r.body_truncated);
    let (ext, contents) = match (request, ev.and_then(|e| e.event.as_ref())) {
        (Some(r), _) => ("http", capture(r)),
        (None, Some(e)) => {
            let mut v = serde_json::to_vec_pretty(e).unwrap_or_default();
            v.push(b'\n');
            ("json", v)
        }
        (None, None) => return Err(PromoteError::NoEvent),
    };
    let valid = case.case.starts_with(VALID_PREFIX);
    let slug = slug(&case.case, &case.requirement, &contents);
    let (file_name, must) = if valid {
        (
            format!("valid--{slug}.{ext}"),
            "pass with no MUST finding".to_owned(),
        )
    } else {
        (
            format!("{}--{slug}.{ext}", case.requirement),
            format!("fail with a finding of {}", case.requirement),
        )
    };
    Ok(Fixture {
        file_name,
        contents,
        must,
    })
}

/// A request as an `.http` capture, body bytes exact (header values as the report kept them).
fn capture(r: &HttpMessage) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(r.start_line.as_bytes());
    out.extend_from_slice(b"\n");
    for (n, v) in &r.headers {
        if n.eq_ignore_ascii_case("content-length") {
            continue;
        }
        out.extend_from_slice(format!("{n}: {v}\n").as_bytes());
    }
    let body = r
        .body_base64
        .as_deref()
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.as_bytes())
                .ok()
        })
        .unwrap_or_else(|| r.body.as_bytes().to_vec());
    out.extend_from_slice(format!("Content-Length: {}\n\n", body.len()).as_bytes());
    out.extend_from_slice(&body);
    out
}

/// A file-name-safe slug: the case id without its requirement, and a hash of the contents.
fn slug(case: &str, requirement: &str, contents: &[u8]) -> String {
    let rest = case
        .strip_prefix(VALID_PREFIX)
        .unwrap_or(case)
        .strip_prefix(requirement)
        .unwrap_or(case);
    let mut s: String = rest
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s: String = s.trim_matches('-').chars().take(48).collect();
    let h = short_hash(contents);
    if s.is_empty() {
        h
    } else {
        format!("{}-{h}", s.trim_end_matches('-'))
    }
}

fn short_hash(b: &[u8]) -> String {
    // FNV-1a: stable across builds and platforms, unlike the std hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in b {
        h ^= u64::from(*x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", h >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_say_what_the_harness_requires() {
        let ev = json!({"context": {"id": "1"}});
        let c = shrunk_failure_case("random_mutants", "CDE-CTX-008", false, &ev, "m");
        let f = fixture_for(&c).unwrap();
        assert!(
            f.file_name.starts_with("CDE-CTX-008--random-mutants-")
                && f.file_name.ends_with(".json"),
            "{}",
            f.file_name
        );
        assert_eq!(serde_json::from_slice::<Value>(&f.contents).unwrap(), ev);
        let c = shrunk_failure_case("valid_events", "CDE-CTX-008", true, &ev, "m");
        assert!(fixture_for(&c).unwrap().file_name.starts_with("valid--"));
        let mut c = shrunk_failure_case("t", "../../etc/passwd", false, &ev, "m");
        assert!(fixture_for(&c).is_err());
        c.requirement = "CDE-CTX-008".into();
        c.case = "CDE-CTX-008/../../x y\u{1b}".into();
        let name = fixture_for(&c).unwrap().file_name;
        assert!(
            name.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-.".contains(ch)),
            "{name}"
        );
    }

    #[test]
    fn a_complete_request_becomes_a_capture() {
        let mut c = CaseResult::new(
            "CDE-CE-005",
            "CDE-CE-005",
            cdevents_reports::Level::Must,
            Status::Failed,
            "m",
        );
        c.evidence = Some(Evidence {
            request: Some(HttpMessage::capped(
                "POST / HTTP/1.1",
                [("content-type", "application/json"), ("ce-type", "x")],
                b"{\"a\":1}",
            )),
            event: Some(json!({"a": 1})),
            ..Evidence::default()
        });
        let f = fixture_for(&c).unwrap();
        assert!(f.file_name.ends_with(".http"), "{}", f.file_name);
        let text = String::from_utf8(f.contents).unwrap();
        assert!(
            text.starts_with("POST / HTTP/1.1\nce-type")
                || text.starts_with("POST / HTTP/1.1\ncontent-type"),
            "{text}"
        );
        assert!(text.ends_with("Content-Length: 7\n\n{\"a\":1}"), "{text}");
    }
}
