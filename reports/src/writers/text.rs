//! Plain-text pieces shared by the writers: requirement rows and evidence as text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::error::ReportError;
use crate::escape::cap;
use crate::model::{CaseResult, Level, Role, Run, Status};

/// One requirement of a run, its cases folded together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementRow {
    /// The requirement id.
    pub requirement: String,
    /// Its level.
    pub level: Level,
    /// The most severe status of its cases (see [`Status::severity`]).
    pub status: Status,
    /// Cases that met it.
    pub met: usize,
    /// Its cases.
    pub total: usize,
    /// The same, per role the cases are graded under.
    pub by_role: BTreeMap<Role, RoleCell>,
}

/// The cases of one requirement under one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleCell {
    /// The most severe status.
    pub status: Status,
    /// Cases that met the requirement.
    pub met: usize,
    /// Cases.
    pub total: usize,
}

impl RoleCell {
    fn add(&mut self, status: Status) {
        if status.severity() < self.status.severity() {
            self.status = status;
        }
        self.met += usize::from(status.is_pass());
        self.total += 1;
    }
}

/// The requirements of a run, MUST first, then by id.
pub fn requirement_rows(run: &Run) -> Vec<RequirementRow> {
    let mut rows: BTreeMap<(Level, &str), RequirementRow> = BTreeMap::new();
    for c in &run.cases {
        let row = rows
            .entry((c.level, c.requirement.as_str()))
            .or_insert_with(|| RequirementRow {
                requirement: c.requirement.clone(),
                level: c.level,
                status: Status::Skipped,
                met: 0,
                total: 0,
                by_role: BTreeMap::new(),
            });
        let mut all = RoleCell {
            status: row.status,
            met: row.met,
            total: row.total,
        };
        all.add(c.status);
        (row.status, row.met, row.total) = (all.status, all.met, all.total);
        for role in run.roles_of(c) {
            row.by_role
                .entry(role)
                .or_insert(RoleCell {
                    status: Status::Skipped,
                    met: 0,
                    total: 0,
                })
                .add(c.status);
        }
    }
    rows.into_values().collect()
}

/// Per-field size caps for evidence rendered as text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caps {
    pub field: usize,
    pub body: usize,
}

/// The evidence of a case as plain text, each part capped: requirement, expected, actual,
/// findings, request, response, event, diff, curl, reproduce command.
pub(crate) fn evidence_text(run: &Run, c: &CaseResult, caps: Caps) -> String {
    let mut s = String::new();
    let roles: Vec<&str> = run.roles_of(c).iter().map(|r| r.as_str()).collect();
    let _ = writeln!(
        s,
        "requirement: {} ({}) [{}]{}",
        cap(&c.requirement, caps.field),
        c.level,
        roles.join(", "),
        c.spec
            .as_deref()
            .map(|v| format!(" spec {}", cap(v, caps.field)))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "status: {}", c.status);
    let _ = writeln!(s, "message: {}", cap(&c.message, caps.field));
    if let Some(w) = &c.waiver {
        let _ = writeln!(s, "waiver: {}", cap(&w.to_string(), caps.field));
    }
    if let Some(e) = &c.expected {
        let _ = writeln!(s, "expected: {}", cap(e, caps.field));
    }
    if let Some(a) = &c.actual {
        let _ = writeln!(s, "actual: {}", cap(a, caps.field));
    }
    if !c.findings.is_empty() {
        s.push_str("findings:\n");
        for f in c.findings.iter().take(50) {
            let _ = writeln!(
                s,
                "  - {} {} {}: {}",
                cap(&f.id, caps.field),
                f.level,
                if f.pointer.is_empty() {
                    "(event)"
                } else {
                    &f.pointer
                },
                cap(&f.message, caps.field)
            );
        }
        if c.findings.len() > 50 {
            let _ = writeln!(s, "  … and {} more", c.findings.len() - 50);
        }
    }
    if let Some(ev) = &c.evidence {
        if let Some(r) = &ev.request {
            let _ = writeln!(s, "request:\n{}", indent(&cap(&r.to_text(), caps.body)));
        }
        if let Some(r) = &ev.response {
            let _ = writeln!(s, "response:\n{}", indent(&cap(&r.to_text(), caps.body)));
        }
        if let Some(e) = &ev.event {
            let pretty = serde_json::to_string_pretty(e).unwrap_or_default();
            let _ = writeln!(s, "event:\n{}", indent(&cap(&pretty, caps.body)));
        }
        if let Some(d) = &ev.diff {
            let _ = writeln!(s, "diff:\n{}", indent(&cap(d, caps.body)));
        }
        if let Some(curl) = ev.curl() {
            let _ = writeln!(s, "curl: {}", cap(&curl, caps.body));
        }
    }
    if let Some(r) = &c.reproduce {
        let _ = writeln!(s, "reproduce: {}", cap(r, caps.field));
    }
    s
}

fn indent(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 64);
    for line in s.lines() {
        out.push_str("    ");
        out.push_str(line);
        out.push('\n');
    }
    out.pop();
    out
}

/// The spec versions of a run for titles: `0.4.1, 0.3.0` or `any`.
pub(crate) fn specs_label(run: &Run) -> String {
    if run.header.spec_versions.is_empty() {
        "any".to_owned()
    } else {
        run.header.spec_versions.join(", ")
    }
}

/// Writes `bytes` to `path`, creating parent directories, through a temporary file renamed
/// into place so readers never see half a report.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| ReportError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ReportError::io(path, e))
}
