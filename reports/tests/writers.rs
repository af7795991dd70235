//! Snapshots of every writer on the representative run, with times, ports and the tool
//! version redacted. Review changes with `cargo insta review`; CI never writes snapshots.

mod common;

use cdevents_reports as reports;

#[test]
fn json_report() {
    let run = common::representative_run();
    common::settings().bind(|| {
        insta::assert_json_snapshot!("representative.json", reports::to_json_value(&run), {
            ".header.started_at" => "[time]",
            ".header.tool_version" => "[version]",
            ".header.target" => "[target]",
            ".header.command_line[3]" => "[target]",
            ".summary.finished_at" => "[time]",
            ".results[].reproduce" => "[reproduce]",
            ".results[].evidence.request.headers[0][1]" => "[host]",
            ".results[].evidence.curl" => "[curl]",
            ".observations[].delivery.timeline" => insta::dynamic_redaction(|v, _| {
                format!("[{} points]", v.as_slice().map_or(0, |s| s.len()))
            }),
        });
    });
}

#[test]
fn junit_xml() {
    let run = common::representative_run();
    common::settings().bind(|| {
        insta::assert_snapshot!("representative.junit.xml", reports::to_junit(&run).unwrap());
    });
}

#[test]
fn markdown() {
    let run = common::representative_run();
    common::settings().bind(|| {
        insta::assert_snapshot!("representative.md", reports::to_markdown(&run));
    });
}

#[test]
fn markdown_interrupted() {
    let run = common::interrupted_run();
    common::settings().bind(|| {
        insta::assert_snapshot!("interrupted.md", reports::to_markdown(&run));
    });
}

#[test]
fn html() {
    let run = common::representative_run();
    common::settings().bind(|| {
        insta::assert_snapshot!("representative.html", reports::to_html(&run));
    });
}

#[test]
fn badge() {
    let run = common::representative_run();
    common::settings().bind(|| {
        insta::assert_snapshot!("representative.badge.svg", reports::badge_svg(&run));
    });
}

#[test]
fn one_line_and_grades() {
    let run = common::representative_run();
    let grades: Vec<String> = run
        .summary
        .grades
        .iter()
        .map(|g| {
            format!(
                "{} {} {}: {}",
                g.spec,
                g.role,
                g.grade,
                g.reasons.join("; ")
            )
        })
        .collect();
    common::settings().bind(|| {
        insta::assert_snapshot!(
            "representative.summary.txt",
            format!("{}\n\n{}", run.summary.one_line(), grades.join("\n"))
        );
    });
}

#[test]
fn file_helpers_write_every_format() {
    let run = common::representative_run();
    let dir = std::env::temp_dir().join(format!("cdevents-reports-writers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    reports::write_json(&run, dir.join("report.json")).unwrap();
    reports::write_junit(&run, dir.join("junit/report.xml")).unwrap();
    reports::write_markdown(&run, dir.join("summary.md")).unwrap();
    reports::append_markdown(&run, dir.join("summary.md")).unwrap();
    reports::write_html_dir(&run, dir.join("html")).unwrap();
    reports::write_badge(&run, dir.join("badge.svg")).unwrap();
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
    assert_eq!(read("report.json"), reports::to_json(&run));
    assert_eq!(read("junit/report.xml"), reports::to_junit(&run).unwrap());
    assert_eq!(read("summary.md"), reports::to_markdown(&run).repeat(2));
    assert_eq!(read("html/index.html"), reports::to_html(&run));
    assert_eq!(read("badge.svg"), reports::badge_svg(&run));
    // The JSON report reads back into the same run.
    let back: reports::JsonReport = serde_json::from_str(&read("report.json")).unwrap();
    assert_eq!(reports::Run::from(back), run);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn markdown_stays_within_budget() {
    let mut run = common::representative_run();
    let template = run.cases[1].clone();
    for i in 0..1000 {
        let mut c = template.clone();
        c.case = format!("LIS-{i:03}/binary/x");
        c.requirement = format!("LIS-{i:03}");
        run.cases.push(c);
    }
    let run = reports::Run::new(run.header, run.cases, run.observations);
    let opts = reports::MarkdownOptions::default();
    let md = reports::to_markdown(&run);
    assert!(md.len() <= opts.max_bytes, "{} bytes", md.len());
    assert!(md.contains("more requirements, in the HTML or JSON report"));
    assert!(md.contains("more not shown here (size limit)"));
}

/// An expired waiver fails the run in every format, whatever the case's own level or status.
#[test]
fn expired_waiver_fails_in_every_writer() {
    use reports::model::{CaseResult, RunHeader, Status, Suite};
    use reports::{Level, Run, Waiver};
    let header = RunHeader::new(Suite::Listener, "0.1.0", "2026-01-01T00:00:00Z");
    let mut c = CaseResult::new(
        "LIS-015/x",
        "LIS-015",
        Level::May,
        Status::Failed,
        "dropped",
    );
    c.waiver = Some(Waiver {
        reason: "router drops it".into(),
        issue: Some("https://example.invalid/i/3".into()),
        expires: Some("2000-01-01".into()),
        expired: true,
    });
    let run = Run::new(header, vec![c], Vec::new());
    assert_eq!(run.summary.verdict, reports::Verdict::Fail);
    assert_eq!(run.summary.expired_waivers, 1);
    let junit = reports::writers::to_junit(&run).unwrap();
    assert!(junit.contains("type=\"expired-waiver\""), "{junit}");
    assert!(junit.contains("EXPIRED 2000-01-01"), "{junit}");
    let md = reports::writers::to_markdown(&run);
    assert!(md.contains("1 expired waivers"), "{md}");
    assert!(md.contains("EXPIRED 2000-01-01"), "{md}");
}
