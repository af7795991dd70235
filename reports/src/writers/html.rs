//! One self-contained HTML page: inline CSS, a few lines of inline JavaScript, inline SVG, no
//! network loads (a `Content-Security-Policy` meta forbids them).
//!
//! Every string from the run goes through [`escape::html`], which is safe in text and in quoted
//! attributes; ids and classes in the markup come from the model's enums and counters, never
//! from the target. Fields are capped, and at most [`MAX_DETAILS`] failures get a full section.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::ReportError;
use crate::escape::{self, cap, one_line};
use crate::grade::Grade;
use crate::model::{shell_quote, CaseResult, HttpMessage, Level, Role, Run, Status};
use crate::writers::svg;
use crate::writers::text::{requirement_rows, specs_label, write_file};

/// The most failures rendered with full evidence.
pub const MAX_DETAILS: usize = 200;
/// The most rows of the all-cases table.
pub const MAX_ROWS: usize = 5000;
const FIELD: usize = 4 * 1024;
const BLOCK: usize = 16 * 1024;

/// The Content-Security-Policy of the page: nothing from the network.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
                       img-src data:; base-uri 'none'; form-action 'none'";

const STYLE: &str = r#"
:root{--fg:#1f2328;--bg:#fff;--muted:#656d76;--line:#d0d7de;--soft:#f6f8fa;
--pass:#1a7f37;--fail:#cf222e;--err:#bc4c00;--skip:#6e7781;--waive:#8250df;--stale:#0969da}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#8d96a0;--line:#30363d;--soft:#161b22;
--pass:#3fb950;--fail:#f85149;--err:#db6d28;--skip:#8d96a0;--waive:#a371f7;--stale:#4493f8}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:24px;font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}h4{font-size:13px;margin:12px 0 4px;color:var(--muted)}
.muted{color:var(--muted);fill:var(--muted)}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:12px 0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;word-break:break-all}
.verdict{display:flex;gap:16px;align-items:center;flex-wrap:wrap;padding:12px 16px;border:1px solid var(--line);border-radius:8px;background:var(--soft)}
.letter{display:inline-block;min-width:56px;text-align:center;font-size:30px;font-weight:700;color:#fff;border-radius:8px;padding:4px 10px}
.letter.small{font-size:20px;min-width:44px}
.banner{padding:10px 14px;border-radius:6px;border:1px solid var(--err);color:var(--err);margin:12px 0;font-weight:600}
.grades{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.card header{display:flex;gap:12px;align-items:center}.card ul{margin:8px 0 0;padding-left:18px}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--soft)}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;font-size:11px;font-weight:700;padding:1px 6px;border-radius:10px;color:#fff;white-space:nowrap}
.st-passed{background:var(--pass)}.st-failed{background:var(--fail)}.st-errored{background:var(--err)}
.st-skipped{background:var(--skip)}.st-waived{background:var(--waive)}.st-waived_but_passed{background:var(--stale)}
td.cell-failed{background:color-mix(in srgb,var(--fail) 14%,transparent)}
td.cell-errored{background:color-mix(in srgb,var(--err) 14%,transparent)}
td.cell-passed{background:color-mix(in srgb,var(--pass) 10%,transparent)}
details.case{border:1px solid var(--line);border-radius:8px;margin:8px 0;padding:6px 12px}
details.case>summary{cursor:pointer;font-weight:600}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:8px;overflow:auto;max-height:480px;white-space:pre-wrap;word-break:break-all;margin:4px 0}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}pre{font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace}
.diff .add{color:var(--pass)}.diff .del{color:var(--fail)}.diff .hunk{color:var(--stale)}
button{font:inherit;font-size:12px;border:1px solid var(--line);background:var(--soft);color:var(--fg);border-radius:6px;padding:2px 10px;cursor:pointer}
.filters{display:flex;gap:6px;flex-wrap:wrap;margin:6px 0}
.scroll{overflow:auto;border:1px solid var(--line);border-radius:6px}
svg text{font:11px system-ui,sans-serif;fill:var(--fg)}
svg .axis line,svg .grid{stroke:var(--line)}svg .pts circle{fill:var(--stale);opacity:.7}
svg .pct line{stroke:var(--err);stroke-dasharray:4 3}svg .pct text{fill:var(--err);paint-order:stroke;stroke:var(--bg);stroke-width:3px}
svg .bar{fill:var(--stale)}
svg.graph rect{fill:var(--soft);stroke:var(--muted)}svg.graph path{fill:none;stroke:var(--muted);stroke-width:1.3}
svg.graph path.path{stroke:var(--stale)}svg.graph path.end{stroke:var(--pass)}svg.graph path.relation{stroke:var(--waive);stroke-dasharray:4 3}
svg.graph marker path{fill:var(--muted);stroke:none}
footer{margin-top:40px;color:var(--muted);font-size:12px}
"#;

const SCRIPT: &str = r#"
document.querySelectorAll('[data-filter]').forEach(function(b){b.addEventListener('click',function(){
var f=b.getAttribute('data-filter');document.querySelectorAll('#all-cases tbody tr').forEach(function(r){
r.hidden=f!=='all'&&r.getAttribute('data-status')!==f;});});});
document.querySelectorAll('button.copy').forEach(function(b){b.addEventListener('click',function(){
var p=b.previousElementSibling;if(p&&navigator.clipboard){navigator.clipboard.writeText(p.textContent).then(function(){b.textContent='Copied';});}});});
"#;

fn e(s: &str) -> String {
    escape::html(s)
}

fn line(s: &str) -> String {
    escape::html(&one_line(s, FIELD))
}

fn block(s: &str) -> String {
    escape::html(&cap(s, BLOCK))
}

fn pill(s: Status) -> String {
    format!(
        r#"<span class="pill st-{}">{}</span>"#,
        s.as_str(),
        s.label()
    )
}

fn letter(g: Grade, small: bool) -> String {
    format!(
        r#"<span class="letter{}" style="background:{}">{}</span>"#,
        if small { " small" } else { "" },
        g.color(),
        e(g.as_str())
    )
}

/// The run as one HTML page.
pub fn to_html(run: &Run) -> String {
    let h = &run.header;
    let s = &run.summary;
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CDEvents conformance: {suite} — {verdict}, grade {grade}</title>
<style>{STYLE}</style>
</head>
<body>
"#,
        csp = e(CSP),
        suite = h.suite,
        verdict = s.verdict,
        grade = e(s.grade.as_str()),
    );

    // Header.
    let _ = writeln!(
        o,
        "<header><h1>CDEvents conformance report</h1><div class=\"muted\">{} suite · spec {}</div>",
        h.suite,
        line(&specs_label(run))
    );
    o.push_str("<dl class=\"meta\">");
    let mut meta = |k: &str, v: String| {
        let _ = write!(o, "<dt>{k}</dt><dd>{v}</dd>");
    };
    if let Some(t) = &h.target {
        meta("Target", format!("<code>{}</code>", line(t)));
    }
    if let Some(p) = &h.profile {
        meta("Profile", line(p));
    }
    if let Some(seed) = h.seed {
        meta("Seed", seed.to_string());
    }
    meta("Fail on", h.fail_on.to_string());
    meta("Started", line(&h.started_at));
    if let Some(f) = &s.finished_at {
        meta("Finished", line(f));
    }
    if let Some(d) = s.duration_ms {
        meta("Duration", format!("{:.1} s", d as f64 / 1000.0));
    }
    meta(
        "Tool",
        format!("cdevents-conformance {}", line(&h.tool_version)),
    );
    if !h.command_line.is_empty() {
        let cmd: Vec<String> = h.command_line.iter().map(|a| shell_quote(a)).collect();
        meta("Command", format!("<code>{}</code>", line(&cmd.join(" "))));
    }
    o.push_str("</dl></header>\n");

    // Verdict.
    if s.interrupted {
        o.push_str(
            "<div class=\"banner\">The run was interrupted: these results are partial.</div>\n",
        );
    }
    let by: Vec<String> = Level::ALL
        .iter()
        .filter(|l| s.failed_by_level.get(**l) > 0)
        .map(|l| format!("{} {}", s.failed_by_level.get(*l), l))
        .collect();
    let _ = writeln!(
        o,
        "<section class=\"verdict\" id=\"verdict\">{}<div><div style=\"font-size:20px;font-weight:700\">{}</div>\
         <div>{} passed · {} failed{} · {} errored · {} skipped · {} waived · {} waived but passed — {} cases</div></div></section>",
        letter(s.grade, false),
        s.verdict,
        s.passed,
        s.failed,
        if by.is_empty() { String::new() } else { format!(" ({})", by.join(", ")) },
        s.errored,
        s.skipped,
        s.waived,
        s.waived_but_passed,
        s.total
    );

    // Grades.
    if !s.grades.is_empty() {
        o.push_str("<h2>Grades</h2>\n<div class=\"grades\">\n");
        for g in &s.grades {
            let _ = write!(
                o,
                "<div class=\"card\"><header>{}<div><b>{}</b> · spec {}<div class=\"muted\">{}/{} judged cases met · {} cases</div></div></header><ul>",
                letter(g.grade, true),
                g.role,
                line(&g.spec),
                g.passed,
                g.judged,
                g.total
            );
            for r in &g.reasons {
                let _ = write!(o, "<li>{}</li>", line(r));
            }
            o.push_str("</ul></div>\n");
        }
        o.push_str("</div>\n");
    }

    matrix(run, &mut o);
    attention(run, &mut o);
    observations(run, &mut o);
    all_cases(run, &mut o);

    let _ = write!(
        o,
        "<footer>Rendered by cdevents-conformance {} from results format version {}. \
         This page loads nothing from the network.</footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        line(&h.tool_version),
        h.format_version
    );
    o
}

fn matrix(run: &Run, o: &mut String) {
    let rows = requirement_rows(run);
    if rows.is_empty() {
        return;
    }
    let roles: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| rows.iter().any(|row| row.by_role.contains_key(r)))
        .collect();
    o.push_str("<h2>Requirements</h2>\n");
    for level in Level::ALL {
        let at: Vec<_> = rows.iter().filter(|r| r.level == level).collect();
        if at.is_empty() {
            continue;
        }
        let _ = write!(
            o,
            "<h3>{level} <span class=\"muted\">({} requirements)</span></h3>\n<table class=\"matrix\"><thead><tr><th>Requirement</th>",
            at.len()
        );
        for r in &roles {
            let _ = write!(o, "<th>{r}</th>");
        }
        o.push_str("<th>All cases</th></tr></thead><tbody>\n");
        for row in at {
            let _ = write!(o, "<tr><td><code>{}</code></td>", line(&row.requirement));
            for r in &roles {
                match row.by_role.get(r) {
                    Some(c) => {
                        let _ = write!(
                            o,
                            "<td class=\"cell-{}\">{} {}/{}</td>",
                            c.status.as_str(),
                            pill(c.status),
                            c.met,
                            c.total
                        );
                    }
                    None => o.push_str("<td class=\"muted\">—</td>"),
                }
            }
            let _ = writeln!(
                o,
                "<td class=\"cell-{}\">{} {}/{}</td></tr>",
                row.status.as_str(),
                pill(row.status),
                row.met,
                row.total
            );
        }
        o.push_str("</tbody></table>\n");
    }
}

fn http(o: &mut String, title: &str, m: &HttpMessage) {
    let _ = write!(o, "<h4>{title}</h4><pre>{}</pre>", block(&m.to_text()));
    if let Some(b64) = &m.body_base64 {
        let _ = write!(
            o,
            "<details><summary class=\"muted\">body is not UTF-8: base64 of the kept bytes</summary><pre>{}</pre></details>",
            block(b64)
        );
    }
}

fn diff(o: &mut String, d: &str) {
    o.push_str("<h4>Diff</h4><pre class=\"diff\">");
    for l in cap(d, BLOCK).lines() {
        let class = if l.starts_with("@@") {
            "hunk"
        } else if l.starts_with('+') {
            "add"
        } else if l.starts_with('-') {
            "del"
        } else {
            ""
        };
        if class.is_empty() {
            o.push_str(&e(l));
        } else {
            let _ = write!(o, "<span class=\"{class}\">{}</span>", e(l));
        }
        o.push('\n');
    }
    o.push_str("</pre>");
}

fn case_details(run: &Run, i: usize, c: &CaseResult, o: &mut String) {
    let _ = write!(
        o,
        "<details class=\"case\" id=\"case-{i}\"{}><summary>{} <code>{}</code> <span class=\"muted\">{}</span> — {}</summary>\n<dl class=\"meta\">",
        if i < 20 { " open" } else { "" },
        pill(c.status),
        line(&c.case),
        c.level,
        line(&c.message)
    );
    let roles: Vec<&str> = run.roles_of(c).iter().map(|r| r.as_str()).collect();
    let _ = write!(
        o,
        "<dt>Requirement</dt><dd><code>{}</code> ({}) · {}</dd>",
        line(&c.requirement),
        c.level,
        roles.join(", ")
    );
    if let Some(v) = &c.spec {
        let _ = write!(o, "<dt>Spec</dt><dd>{}</dd>", line(v));
    }
    if let Some(w) = &c.waiver {
        let _ = write!(o, "<dt>Waiver</dt><dd>{}</dd>", line(&w.to_string()));
    }
    if let Some(d) = c.duration_ms {
        let _ = write!(o, "<dt>Duration</dt><dd>{d} ms</dd>");
    }
    o.push_str("</dl>");
    if let Some(x) = &c.expected {
        let _ = write!(o, "<h4>Expected</h4><pre>{}</pre>", block(x));
    }
    if let Some(x) = &c.actual {
        let _ = write!(o, "<h4>Actual</h4><pre>{}</pre>", block(x));
    }
    if !c.findings.is_empty() {
        o.push_str("<h4>Findings</h4><table><thead><tr><th>Id</th><th>Level</th><th>Where</th><th>What</th></tr></thead><tbody>");
        for f in c.findings.iter().take(100) {
            let _ =
                write!(
                o,
                "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                line(&f.id),
                f.level,
                line(if f.pointer.is_empty() { "(event)" } else { &f.pointer }),
                line(&f.message)
            );
        }
        o.push_str("</tbody></table>");
        if c.findings.len() > 100 {
            let _ = write!(
                o,
                "<p class=\"muted\">… and {} more findings</p>",
                c.findings.len() - 100
            );
        }
    }
    if let Some(ev) = &c.evidence {
        if let Some(r) = &ev.request {
            http(o, "Request", r);
        }
        if let Some(r) = &ev.response {
            http(o, "Response", r);
        }
        if let Some(j) = &ev.event {
            let pretty = serde_json::to_string_pretty(j).unwrap_or_default();
            let _ = write!(o, "<h4>Event</h4><pre>{}</pre>", block(&pretty));
        }
        if let Some(d) = &ev.diff {
            diff(o, d);
        }
        if let Some(curl) = ev.curl() {
            let _ = write!(
                o,
                "<h4>curl</h4><pre>{}</pre><button class=\"copy\" type=\"button\">Copy</button>",
                block(&curl)
            );
        }
    }
    if let Some(r) = &c.reproduce {
        let _ = write!(
            o,
            "<h4>Reproduce</h4><pre>{}</pre><button class=\"copy\" type=\"button\">Copy</button>",
            block(r)
        );
    }
    o.push_str("</details>\n");
}

fn attention(run: &Run, o: &mut String) {
    let list = run.attention();
    if list.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<h2 id=\"attention\">Needs attention ({})</h2>",
        list.len()
    );
    for (i, c) in list.iter().take(MAX_DETAILS).enumerate() {
        case_details(run, i, c, o);
    }
    if list.len() > MAX_DETAILS {
        let _ = writeln!(
            o,
            "<p class=\"muted\">… {} more without details here; the JSON report has them all.</p>",
            list.len() - MAX_DETAILS
        );
    }
}

fn observations(run: &Run, o: &mut String) {
    if run.observations.is_empty() {
        return;
    }
    o.push_str("<h2>Observations</h2>\n");
    for (n, obs) in run.observations.iter().enumerate() {
        let obs = obs.normalized();
        let _ = writeln!(
            o,
            "<h3>{} <span class=\"muted\"><code>{}</code>{}</span></h3>",
            line(&obs.title),
            line(&obs.id),
            obs.spec
                .as_deref()
                .map(|s| format!(" · spec {}", line(s)))
                .unwrap_or_default()
        );
        if let Some(d) = &obs.delivery {
            o.push_str("<table class=\"stats\"><thead><tr><th>sent</th><th>acknowledged</th><th>delivered</th><th>lost</th><th>duplicated</th><th>reordered (inversions)</th><th>mutated</th><th>throughput</th></tr></thead><tbody>");
            let _ = writeln!(
                o,
                "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}/s</td></tr></tbody></table>",
                d.sent, d.acknowledged, d.delivered, d.lost, d.duplicated, d.reordered_inversions, d.mutated, d.throughput_per_s
            );
            o.push_str("<h4>Delivery timeline</h4><div class=\"scroll\">");
            o.push_str(&svg::timeline(d));
            o.push_str("</div>\n<h4>Latency</h4>");
            o.push_str(&svg::latency_bars(&d.latency_ms));
            o.push('\n');
        }
        if let Some(g) = &obs.links {
            let _ = write!(
                o,
                "<h4>Links between events <span class=\"muted\">({} events, {} links{})</span></h4>",
                g.nodes.len(),
                g.edges.len(),
                if g.truncated { ", truncated when recorded" } else { "" }
            );
            if g.nodes.len() > svg::MAX_GRAPH_NODES {
                let _ = write!(
                    o,
                    "<p class=\"muted\">Drawing the first {} events.</p>",
                    svg::MAX_GRAPH_NODES
                );
            }
            o.push_str("<div class=\"scroll\">");
            o.push_str(&svg::link_graph(g, n));
            o.push_str("</div>\n");
        }
    }
}

fn all_cases(run: &Run, o: &mut String) {
    if run.cases.is_empty() {
        return;
    }
    let attention = run.attention();
    let _ = writeln!(o, "<h2>All cases ({})</h2>", run.cases.len());
    o.push_str("<div class=\"filters\"><button type=\"button\" data-filter=\"all\">all</button>");
    for st in Status::ALL {
        if run.cases.iter().any(|c| c.status == st) {
            let _ = write!(
                o,
                "<button type=\"button\" data-filter=\"{}\">{}</button>",
                st.as_str(),
                st.label()
            );
        }
    }
    o.push_str("</div>\n<table id=\"all-cases\"><thead><tr><th>Case</th><th>Requirement</th><th>Level</th><th>Roles</th><th>Status</th><th>Message</th><th>ms</th></tr></thead><tbody>\n");
    for c in run.cases.iter().take(MAX_ROWS) {
        let anchor = attention
            .iter()
            .take(MAX_DETAILS)
            .position(|a| std::ptr::eq(*a, c));
        let case = match anchor {
            Some(i) => format!("<a href=\"#case-{i}\"><code>{}</code></a>", line(&c.case)),
            None => format!("<code>{}</code>", line(&c.case)),
        };
        let roles: Vec<&str> = run.roles_of(c).iter().map(|r| r.as_str()).collect();
        let _ = writeln!(
            o,
            "<tr data-status=\"{}\"><td>{case}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            c.status.as_str(),
            line(&c.requirement),
            c.level,
            roles.join(", "),
            pill(c.status),
            e(&one_line(&c.message, 300)),
            c.duration_ms.map(|d| d.to_string()).unwrap_or_default()
        );
    }
    o.push_str("</tbody></table>\n");
    if run.cases.len() > MAX_ROWS {
        let _ = writeln!(
            o,
            "<p class=\"muted\">… {} more cases in the JSON report.</p>",
            run.cases.len() - MAX_ROWS
        );
    }
}

/// Writes the page to `dir/index.html`, creating `dir`.
pub fn write_html_dir(run: &Run, dir: impl AsRef<Path>) -> Result<(), ReportError> {
    write_file(&dir.as_ref().join("index.html"), to_html(run).as_bytes())
}
