//! Markdown for `$GITHUB_STEP_SUMMARY` and pull-request comments.
//!
//! GitHub renders HTML inside Markdown, so every string from the run goes through
//! [`escape::markdown`](crate::escape::markdown) (inline text) or
//! [`escape::html`](crate::escape::html) inside `<pre>` blocks; no fenced code block carries
//! target data, so nothing can close one early. The whole document is kept under
//! [`MarkdownOptions::max_bytes`] (PR comments stop at 65 536 characters): the requirement
//! table takes at most 40 % of it and the failure details what is left, with a note of what
//! was left out.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::ReportError;
use crate::escape::{self, cap, one_line};
use crate::model::{Level, Run, Status, Verdict};
use crate::writers::text::{requirement_rows, specs_label, write_file};

/// Options of the Markdown writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// The most bytes of the whole document.
    pub max_bytes: usize,
    /// The most bytes of one rendered field (message, expected, actual, command).
    pub max_field: usize,
    /// The most bytes of one request, response, event or diff.
    pub max_block: usize,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            max_bytes: 60_000,
            max_field: 600,
            max_block: 2_000,
        }
    }
}

/// The run as Markdown, with the default options.
pub fn to_markdown(run: &Run) -> String {
    to_markdown_with(run, &MarkdownOptions::default())
}

/// The run as Markdown.
pub fn to_markdown_with(run: &Run, opts: &MarkdownOptions) -> String {
    let md = escape::markdown;
    let h = &run.header;
    let s = &run.summary;
    let field = |t: &str| md(&one_line(t, opts.max_field));
    let mut out = String::new();

    let icon = match s.verdict {
        Verdict::Pass => "✅",
        Verdict::Fail => "❌",
        Verdict::Error => "⚠️",
    };
    let _ = writeln!(
        out,
        "## {icon} CDEvents conformance: {} suite, {} — grade {}\n",
        h.suite, s.verdict, s.grade
    );
    let mut counts = vec![format!("**{} passed**", s.passed)];
    let by: Vec<String> = Level::ALL
        .iter()
        .filter(|l| s.failed_by_level.get(**l) > 0)
        .map(|l| format!("{} {}", s.failed_by_level.get(*l), l))
        .collect();
    if by.is_empty() {
        counts.push("**0 failed**".into());
    } else {
        counts.push(format!("**{} failed** ({})", s.failed, by.join(", ")));
    }
    counts.push(format!("{} errored", s.errored));
    counts.push(format!("{} skipped", s.skipped));
    if s.waived > 0 {
        counts.push(format!("{} waived", s.waived));
    }
    if s.waived_but_passed > 0 {
        counts.push(format!("{} waived but passed", s.waived_but_passed));
    }
    if s.expired_waivers > 0 {
        counts.push(format!("**{} expired waivers**", s.expired_waivers));
    }
    let _ = writeln!(out, "{} cases: {}\n", s.total, counts.join(" · "));
    if s.interrupted {
        out.push_str("> [!WARNING]\n> The run was **interrupted**: these results are partial.\n\n");
    }

    let mut meta = vec![format!("spec {}", field(&specs_label(run)))];
    if let Some(t) = &h.target {
        meta.push(format!("target {}", field(t)));
    }
    if let Some(p) = &h.profile {
        meta.push(format!("profile {}", field(p)));
    }
    if let Some(seed) = h.seed {
        meta.push(format!("seed {seed}"));
    }
    meta.push(format!("fail on {}", h.fail_on));
    meta.push(format!("cdevents-conformance {}", field(&h.tool_version)));
    meta.push(format!("started {}", field(&h.started_at)));
    let _ = writeln!(out, "{}\n", meta.join(" · "));

    if !s.grades.is_empty() {
        out.push_str("| Spec | Role | Grade | Met | Why |\n| --- | --- | :-: | --: | --- |\n");
        for g in &s.grades {
            let reasons: Vec<String> = g.reasons.iter().map(|r| field(r)).collect();
            let _ = writeln!(
                out,
                "| {} | {} | **{}** | {}/{} | {} |",
                field(&g.spec),
                g.role,
                g.grade,
                g.passed,
                g.judged,
                reasons.join("<br>")
            );
        }
        out.push('\n');
    }

    // Requirement table, within 40 % of the budget.
    let rows = requirement_rows(run);
    if !rows.is_empty() {
        let table_budget = out.len() + opts.max_bytes * 2 / 5;
        out.push_str("| Requirement | Level | Status | Met |\n| --- | --- | --- | --: |\n");
        let mut shown = 0;
        for r in &rows {
            let line = format!(
                "| {} | {} | {} {} | {}/{} |\n",
                field(&r.requirement),
                r.level,
                status_icon(r.status),
                r.status.label(),
                r.met,
                r.total
            );
            if out.len() + line.len() > table_budget {
                break;
            }
            out.push_str(&line);
            shown += 1;
        }
        if shown < rows.len() {
            let _ = writeln!(
                out,
                "\n_… and {} more requirements, in the HTML or JSON report._",
                rows.len() - shown
            );
        }
        out.push('\n');
    }

    // Failure details, within what is left.
    let attention = run.attention();
    if !attention.is_empty() {
        let _ = writeln!(out, "### Needs attention ({})\n", attention.len());
        let reserve = 200;
        let mut shown = 0;
        for c in &attention {
            let block = details(run, c, opts);
            if out.len() + block.len() + reserve > opts.max_bytes {
                break;
            }
            out.push_str(&block);
            shown += 1;
        }
        if shown < attention.len() {
            let _ = writeln!(
                out,
                "_… {} more not shown here (size limit); see the HTML or JSON report._\n",
                attention.len() - shown
            );
        }
    }
    out
}

fn details(run: &Run, c: &crate::model::CaseResult, opts: &MarkdownOptions) -> String {
    let md = escape::markdown;
    let field = |t: &str| md(&one_line(t, opts.max_field));
    let block = |t: &str| {
        // An HTML block of type 1: blank lines inside do not end it, only `</pre>` does,
        // which escaped text cannot contain.
        // Backticks too, for renderers that look for code spans even there.
        let text = escape::html(&cap(t, opts.max_block)).replace('`', "&#96;");
        format!("<pre>{text}</pre>\n\n")
    };
    let mut d = String::new();
    let _ = writeln!(
        d,
        "<details><summary>{} {} <b>{}</b> ({}) — {}</summary>\n",
        status_icon(c.status),
        c.status.label(),
        field(&c.case),
        c.level,
        field(&c.message)
    );
    let roles: Vec<&str> = run.roles_of(c).iter().map(|r| r.as_str()).collect();
    let mut lines = vec![format!(
        "**Requirement** {} ({}, {})",
        field(&c.requirement),
        c.level,
        roles.join(", ")
    )];
    if let Some(spec) = &c.spec {
        lines.push(format!("**Spec** {}", field(spec)));
    }
    if let Some(w) = &c.waiver {
        lines.push(format!("**Waiver** {}", field(&w.to_string())));
    }
    if let Some(e) = &c.expected {
        lines.push(format!("**Expected** {}", field(e)));
    }
    if let Some(a) = &c.actual {
        lines.push(format!("**Actual** {}", field(a)));
    }
    for f in c.findings.iter().take(10) {
        lines.push(format!(
            "**Finding** {} {} {}: {}",
            field(&f.id),
            f.level,
            field(if f.pointer.is_empty() {
                "(event)"
            } else {
                &f.pointer
            }),
            field(&f.message)
        ));
    }
    if c.findings.len() > 10 {
        lines.push(format!("… and {} more findings", c.findings.len() - 10));
    }
    d.push_str(&lines.join("<br>\n"));
    d.push_str("\n\n");
    if let Some(r) = &c.reproduce {
        d.push_str("**Reproduce**\n\n");
        d.push_str(&block(r));
    }
    if let Some(ev) = &c.evidence {
        if let Some(r) = &ev.request {
            d.push_str("**Request**\n\n");
            d.push_str(&block(&r.to_text()));
        }
        if let Some(r) = &ev.response {
            d.push_str("**Response**\n\n");
            d.push_str(&block(&r.to_text()));
        }
        if let Some(diff) = &ev.diff {
            d.push_str("**Diff**\n\n");
            d.push_str(&block(diff));
        }
        if let Some(curl) = ev.curl() {
            d.push_str("**curl**\n\n");
            d.push_str(&block(&curl));
        }
    }
    d.push_str("</details>\n\n");
    d
}

fn status_icon(s: Status) -> &'static str {
    match s {
        Status::Passed => "✅",
        Status::Failed => "❌",
        Status::Errored => "⚠️",
        Status::Skipped => "⏭️",
        Status::Waived => "🙈",
        Status::WaivedButPassed => "🔁",
    }
}

/// Writes the Markdown report to `path`.
pub fn write_markdown(run: &Run, path: impl AsRef<Path>) -> Result<(), ReportError> {
    write_file(path.as_ref(), to_markdown(run).as_bytes())
}

/// Appends the Markdown report to `path` (as `$GITHUB_STEP_SUMMARY` wants), creating it if
/// needed.
pub fn append_markdown(run: &Run, path: impl AsRef<Path>) -> Result<(), ReportError> {
    use std::io::Write;
    let path = path.as_ref();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| ReportError::io(path, e))?;
    f.write_all(to_markdown(run).as_bytes())
        .map_err(|e| ReportError::io(path, e))
}
