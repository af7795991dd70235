//! Waivers: known failures accepted for now, each with a reason, an issue link and an optional
//! expiry date.
//!
//! ```toml
//! [[waiver]]
//! case = "LIS-004/binary"          # a case id, an id prefix ending at `/`, or a requirement id
//! reason = "the gateway strips ce-* headers on 415"
//! issue = "https://github.com/acme/listener/issues/12"
//! expires = "2026-12-31"           # optional, YYYY-MM-DD (UTC), the last day it holds
//! ```
//!
//! The entries live in a waivers file (`--waivers FILE`) or in the `[[waiver]]` tables of
//! `cdevents-conformance.toml`. A failed case a waiver names is reported *waived*; a case that
//! passes although a waiver names it is *waived but passed* (the waiver can go); a waiver past
//! its date is not applied and fails the run; a waiver that names no case of the run is
//! printed as unused. Errored and skipped cases are never waived: they have no verdict.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cdevents_reports::model::{CaseResult, Status, Waiver};
use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

/// One `[[waiver]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    case: Spanned<String>,
    reason: Spanned<String>,
    issue: Spanned<String>,
    #[serde(default)]
    expires: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictFile {
    #[serde(default)]
    waiver: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct LenientFile {
    #[serde(default)]
    waiver: Vec<Entry>,
}

/// A checked waiver.
#[derive(Debug, Clone)]
struct Rule {
    case: String,
    waiver: Waiver,
    /// `file:line` of the entry, for messages.
    at: String,
    used: bool,
}

/// The waivers of one run.
#[derive(Debug, Clone, Default)]
pub struct Waivers {
    rules: Vec<Rule>,
}

/// The 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Waivers {
    /// Reads a waivers file. With `strict`, keys other than `waiver` are errors (a dedicated
    /// waivers file); without, they are left to the caller (the config file).
    pub fn load(path: &Path, strict: bool, today: NaiveDate) -> anyhow::Result<Waivers> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the waivers file {}", path.display()))?;
        Self::parse(&text, path, strict, today)
    }

    /// Parses waivers from TOML text; errors name `path:line`.
    pub fn parse(
        text: &str,
        path: &Path,
        strict: bool,
        today: NaiveDate,
    ) -> anyhow::Result<Waivers> {
        let entries = if strict {
            toml::from_str::<StrictFile>(text).map(|f| f.waiver)
        } else {
            toml::from_str::<LenientFile>(text).map(|f| f.waiver)
        }
        .map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            anyhow::anyhow!("{}:{line}: {}", path.display(), e.message().trim_end())
        })?;
        let at = |offset: usize| format!("{}:{}", path.display(), line_of(text, offset));
        let mut rules = Vec::new();
        for e in entries {
            let here = at(e.case.span().start);
            let case = e.case.get_ref().trim().to_owned();
            if case.is_empty() {
                anyhow::bail!("{here}: a waiver needs a `case` (a case id or requirement id)");
            }
            if e.reason.get_ref().trim().is_empty() {
                anyhow::bail!(
                    "{}: the waiver of {case} needs a `reason`",
                    at(e.reason.span().start)
                );
            }
            let issue = e.issue.get_ref().trim();
            if !(issue.starts_with("https://") || issue.starts_with("http://")) {
                anyhow::bail!(
                    "{}: the waiver of {case} needs an `issue` link (http:// or https://), got {issue:?}",
                    at(e.issue.span().start)
                );
            }
            let mut expired = false;
            if let Some(exp) = &e.expires {
                let date = NaiveDate::parse_from_str(exp.get_ref(), "%Y-%m-%d").map_err(|_| {
                    anyhow::anyhow!(
                        "{}: `expires` of the waiver of {case} must be a date YYYY-MM-DD, got {:?}",
                        at(exp.span().start),
                        exp.get_ref()
                    )
                })?;
                expired = date < today;
            }
            rules.push(Rule {
                case,
                waiver: Waiver {
                    reason: e.reason.get_ref().trim().to_owned(),
                    issue: Some(issue.to_owned()),
                    expires: e.expires.as_ref().map(|s| s.get_ref().clone()),
                    expired,
                },
                at: here,
                used: false,
            });
        }
        Ok(Waivers { rules })
    }

    /// Applies the first waiver that names `case`, changing its status as documented above.
    pub fn apply(&mut self, case: &mut CaseResult) {
        if !matches!(case.status, Status::Failed | Status::Passed) {
            return;
        }
        let Some(rule) = self.rules.iter_mut().find(|r| names(&r.case, case)) else {
            return;
        };
        rule.used = true;
        let waiver = rule.waiver.clone();
        case.status = match (case.status, waiver.expired) {
            (Status::Failed, false) => Status::Waived,
            (Status::Failed, true) => Status::Failed,
            _ => Status::WaivedButPassed,
        };
        case.waiver = Some(waiver);
    }

    /// Waivers that named no case of the run, as `file:line: case`.
    pub fn unused(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| !r.used)
            .map(|r| format!("{}: {}", r.at, r.case))
            .collect()
    }

    /// Expired waivers, as `file:line: case (expired DATE)`, whether they matched or not.
    pub fn expired(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| r.waiver.expired)
            .map(|r| {
                format!(
                    "{}: {} (expired {}; {})",
                    r.at,
                    r.case,
                    r.waiver.expires.as_deref().unwrap_or("?"),
                    r.waiver.issue.as_deref().unwrap_or("")
                )
            })
            .collect()
    }
}

/// Whether waiver id `w` names the case: its id, an id prefix ending at `/`, or its
/// requirement.
fn names(w: &str, case: &CaseResult) -> bool {
    case.case == w
        || case.requirement == w
        || (case.case.starts_with(w) && (w.ends_with('/') || case.case[w.len()..].starts_with('/')))
}

/// Where the waivers of a run come from: `--waivers FILE`, else the config file's entries.
pub fn source(flag: Option<&PathBuf>) -> Option<(PathBuf, bool)> {
    match flag {
        Some(p) => Some((p.clone(), true)),
        None => crate::config::active_path().map(|p| (p, false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdevents_reports::Level;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
    }

    fn parse(text: &str) -> anyhow::Result<Waivers> {
        Waivers::parse(text, Path::new("w.toml"), true, today())
    }

    fn case(id: &str, status: Status) -> CaseResult {
        let req = id.split('/').next().unwrap();
        CaseResult::new(id, req, Level::Should, status, "m")
    }

    const ONE: &str = r#"
[[waiver]]
case = "LIS-004/binary"
reason = "gateway strips headers"
issue = "https://example.invalid/i/1"
expires = "2026-12-31"
"#;

    #[test]
    fn failed_becomes_waived_passed_becomes_stale() {
        let mut w = parse(ONE).unwrap();
        let mut c = case("LIS-004/binary/x", Status::Failed);
        w.apply(&mut c);
        assert_eq!(c.status, Status::Waived);
        assert_eq!(c.waiver.as_ref().unwrap().reason, "gateway strips headers");
        let mut p = case("LIS-004/binary", Status::Passed);
        w.apply(&mut p);
        assert_eq!(p.status, Status::WaivedButPassed);
        // A sibling id that only shares characters is not named.
        let mut o = case("LIS-004/binaryx", Status::Failed);
        w.apply(&mut o);
        assert_eq!(o.status, Status::Failed);
        assert!(w.unused().is_empty());
    }

    #[test]
    fn errored_is_never_waived_and_unused_is_reported() {
        let mut w = parse(ONE).unwrap();
        let mut c = case("LIS-004/binary", Status::Errored);
        w.apply(&mut c);
        assert_eq!(c.status, Status::Errored);
        assert_eq!(w.unused(), vec!["w.toml:3: LIS-004/binary".to_owned()]);
    }

    #[test]
    fn expired_waiver_is_not_applied() {
        let mut w = parse(&ONE.replace("2026-12-31", "2026-05-31")).unwrap();
        let mut c = case("LIS-004/binary", Status::Failed);
        w.apply(&mut c);
        assert_eq!(c.status, Status::Failed);
        assert!(c.waiver.unwrap().expired);
        assert_eq!(w.expired().len(), 1);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse(&ONE.replace("https://example.invalid/i/1", "#12")).unwrap_err();
        assert!(e.to_string().starts_with("w.toml:5: "), "{e}");
        let e = parse(&ONE.replace("2026-12-31", "next year")).unwrap_err();
        assert!(e.to_string().starts_with("w.toml:6: "), "{e}");
        let e = parse(&ONE.replace("reason", "why")).unwrap_err();
        assert!(e.to_string().starts_with("w.toml:"), "{e}");
        let e = parse("[[waivers]]\ncase = \"X\"\n").unwrap_err();
        assert!(e.to_string().contains("w.toml:1"), "{e}");
    }
}
