//! The HTML report in a real headless Chromium (Debian's `chromium`): it renders, shows hostile
//! strings as text, runs no script but its own, logs nothing to the console, and a screenshot
//! is taken (`target/report-screenshot.png`).
//!
//! Without `/usr/bin/chromium` the test prints SKIPPED and passes, unless
//! `CDEVENTS_REQUIRE_CHROMIUM=1` (set by `.ci/run` when Chromium is installed).

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cdevents_reports::{writers, CaseResult, Finding, HttpMessage, Level, Run, Status, Summary};

const CHROMIUM: &str = "/usr/bin/chromium";
const SCRIPT_XSS: &str = "<script>alert(1)</script>";
const ATTR_XSS: &str = "\"><img src=x onerror=alert(1)>";
/// The longest one Chromium run may take.
const TIMEOUT: Duration = Duration::from_secs(90);

fn chromium() -> Option<&'static str> {
    if Path::new(CHROMIUM).exists() {
        return Some(CHROMIUM);
    }
    assert!(
        std::env::var("CDEVENTS_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
        "CDEVENTS_REQUIRE_CHROMIUM=1 but {CHROMIUM} does not exist (apt-get install chromium)"
    );
    // Past libtest's capture (it only takes the print macros): a skip must be seen.
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED html_chromium: chromium not found at {CHROMIUM}"
    );
    None
}

/// What one Chromium run printed.
struct Output {
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium with a fresh profile on one page, with a timeout.
fn run_chromium(bin: &str, extra: &[String], page: &Path) -> Output {
    let profile = tempfile::tempdir().expect("profile dir");
    let out_dir = tempfile::tempdir().expect("output dir");
    let (stdout_path, stderr_path) = (out_dir.path().join("out"), out_dir.path().join("err"));
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(file_url(page))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for chromium") {
            break s;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium took more than {TIMEOUT:?} on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = Output {
        stdout: String::from_utf8_lossy(&std::fs::read(&stdout_path).unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&std::fs::read(&stderr_path).unwrap()).into_owned(),
    };
    assert!(
        status.success(),
        "chromium failed ({status}):\n{}",
        out.stderr
    );
    out
}

fn file_url(p: &Path) -> String {
    let p = p.canonicalize().expect("page exists");
    let s = p.to_str().expect("UTF-8 temp path");
    // Temp paths are plain; encode the few characters that would break a URL anyway.
    let enc: String = s
        .chars()
        .map(|c| match c {
            ' ' => "%20".to_owned(),
            '#' => "%23".to_owned(),
            '?' => "%3F".to_owned(),
            '%' => "%25".to_owned(),
            c => c.to_string(),
        })
        .collect();
    format!("file://{enc}")
}

/// The representative run with hostile strings in the fields a target controls.
fn run_with_hostile_strings() -> Run {
    let mut run = common::representative_run();
    let x = common::hostile();
    assert!(x.contains(SCRIPT_XSS) && x.contains(ATTR_XSS));
    let failed = run
        .cases
        .iter_mut()
        .find(|c| c.status == Status::Failed && c.evidence.is_some())
        .expect("a failed case with evidence");
    failed.message = format!("the listener answered {x}");
    failed.actual = Some(x.clone());
    failed.findings.push(Finding {
        id: failed.requirement.clone(),
        level: Level::Must,
        pointer: format!("/subject/{x}"),
        message: x.clone(),
    });
    let ev = failed.evidence.as_mut().unwrap();
    let req = HttpMessage::capped(
        "POST /events HTTP/1.1",
        [
            ("content-type", "application/json".to_owned()),
            ("ce-subject", x.clone()),
            ("x-evil", SCRIPT_XSS.to_owned()),
        ],
        format!(r#"{{"subject":{{"id":{}}}}}"#, serde_json::json!(x)).as_bytes(),
    );
    ev.curl = req.to_curl("http://127.0.0.1:1/events");
    ev.request = Some(req);
    ev.response = Some(HttpMessage::capped(
        format!("HTTP/1.1 500 {ATTR_XSS}"),
        [("server", ATTR_XSS)],
        x.as_bytes(),
    ));

    let mut c = CaseResult::new(
        format!("LIS-099/{ATTR_XSS}"),
        "LIS-099",
        Level::Must,
        Status::Failed,
        x.clone(),
    );
    c.expected = Some(SCRIPT_XSS.into());
    c.waiver = Some(ATTR_XSS.into());
    c.reproduce = Some(format!(
        "cdevents-conformance test listener --case '{SCRIPT_XSS}'"
    ));
    run.cases.push(c);
    let finished = run.summary.finished_at.take();
    let duration = run.summary.duration_ms;
    run.summary = Summary::compute(&run.header, &run.cases, false);
    run.summary.finished_at = finished;
    run.summary.duration_ms = duration;
    run
}

/// One element start tag of a serialized DOM.
#[derive(Debug)]
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

/// Splits a DOM serialized by Chromium (`--dump-dom`) into start tags and decoded text.
///
/// A serialized DOM is regular: `<` in text and attribute values is escaped and values are
/// double-quoted, so a small tokenizer is exact. Raw text (script, style) is skipped, not text.
fn tokenize(dom: &str) -> (Vec<Tag>, String) {
    let mut tags = Vec::new();
    let mut text = String::new();
    let b = dom.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            let end = dom[i..].find('<').map_or(b.len(), |n| i + n);
            text.push_str(&decode(&dom[i..end]));
            i = end;
            continue;
        }
        if dom[i..].starts_with("<!--") {
            i = dom[i..].find("-->").map_or(b.len(), |n| i + n + 3);
            continue;
        }
        if dom[i..].starts_with("</") || dom[i..].starts_with("<!") {
            i = dom[i..].find('>').map_or(b.len(), |n| i + n + 1);
            continue;
        }
        // A start tag: name, then attributes with double-quoted values.
        i += 1;
        let name_end = dom[i..]
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .map_or(b.len(), |n| i + n);
        let name = dom[i..name_end].to_ascii_lowercase();
        i = name_end;
        let mut attrs = Vec::new();
        while i < b.len() && b[i] != b'>' {
            if b[i].is_ascii_whitespace() || b[i] == b'/' {
                i += 1;
                continue;
            }
            let a_end = dom[i..]
                .find(|c: char| c.is_whitespace() || c == '=' || c == '>')
                .map_or(b.len(), |n| i + n);
            let a = dom[i..a_end].to_ascii_lowercase();
            i = a_end;
            let mut value = String::new();
            if i < b.len() && b[i] == b'=' {
                assert_eq!(b[i + 1], b'"', "serialized values are double-quoted");
                let v_end = dom[i + 2..].find('"').expect("closing quote") + i + 2;
                value = decode(&dom[i + 2..v_end]);
                i = v_end + 1;
            }
            attrs.push((a, value));
        }
        i += 1;
        if name == "script" || name == "style" {
            let close = format!("</{name}");
            i = dom[i..].find(&close).map_or(b.len(), |n| i + n);
        }
        tags.push(Tag { name, attrs });
    }
    (tags, text)
}

fn decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// Console messages, uncaught exceptions and CSP refusals in Chromium's log.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Refused to")
                || l.contains("Content Security Policy")
        })
        .collect()
}

#[test]
fn the_html_report_renders_in_chromium() {
    let Some(bin) = chromium() else {
        return;
    };
    let run = run_with_hostile_strings();
    let dir = tempfile::tempdir().unwrap();
    writers::write_html_dir(&run, dir.path()).expect("writes the page");
    let page = dir.path().join("index.html");
    let title = format!("CDEvents conformance: {}", run.header.suite.as_str());
    let grade = format!("grade {}", run.summary.grade.as_str());

    // The log detector must see a page's console: a control page that logs and throws.
    let control = dir.path().join("control.html");
    std::fs::write(
        &control,
        "<!doctype html><title>c</title><script>console.error('probe-7f3a');missing()</script>",
    )
    .unwrap();
    let out = run_chromium(bin, &["--dump-dom".to_owned()], &control);
    let seen = page_errors(&out.stderr);
    assert!(
        seen.iter().any(|l| l.contains("probe-7f3a"))
            && seen.iter().any(|l| l.contains("Uncaught")),
        "this Chromium does not log the console to stderr, so (c) could not be checked:\n{}",
        out.stderr
    );

    // (a) A screenshot of the page.
    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("reports/ has a parent")
        .join("target/report-screenshot.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&shot);
    let out = run_chromium(
        bin,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".to_owned(),
            "--hide-scrollbars".to_owned(),
        ],
        &page,
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2000), "the window size");
    // A blank 1280x2000 page compresses to a few KB; text, tables and colours do not.
    assert!(
        png.len() > 40_000,
        "a near-empty screenshot: {} bytes",
        png.len()
    );
    let errors = page_errors(&out.stderr);
    assert!(
        errors.is_empty(),
        "console errors while rendering:\n{}",
        errors.join("\n")
    );
    eprintln!("screenshot: {} ({} bytes)", shot.display(), png.len());

    // (b) The DOM after load: rendered, hostile strings as text, only the report's script.
    let out = run_chromium(bin, &["--dump-dom".to_owned()], &page);
    let dom = &out.stdout;
    let (tags, text) = tokenize(dom);
    assert!(
        dom.contains("<title>") && text.contains(&title),
        "{title} in:\n{dom:.2000}"
    );
    assert!(text.contains(&grade), "{grade} rendered");
    assert!(text.contains("LIS-099"), "the hostile case is listed");
    assert!(
        tags.iter().filter(|t| t.name == "table").count() >= 2,
        "tables rendered"
    );

    assert!(text.contains(SCRIPT_XSS), "{SCRIPT_XSS} shown as text");
    assert!(text.contains(ATTR_XSS), "{ATTR_XSS} shown as text");
    let scripts: Vec<&Tag> = tags.iter().filter(|t| t.name == "script").collect();
    assert_eq!(
        scripts.len(),
        1,
        "only the report's own script: {scripts:?}"
    );
    assert!(scripts[0].attrs.is_empty(), "an inline script: {scripts:?}");
    for t in &tags {
        for (a, v) in &t.attrs {
            assert!(!a.starts_with("on"), "an event handler attribute: {t:?}");
            assert!(
                !v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("javascript:"),
                "a javascript: URL: {t:?}"
            );
        }
        assert!(
            !matches!(
                t.name.as_str(),
                "iframe" | "object" | "embed" | "base" | "form"
            ),
            "an element the report never makes: {t:?}"
        );
        if t.name == "img" {
            let src = t
                .attrs
                .iter()
                .find(|(a, _)| a == "src")
                .map(|(_, v)| v.as_str());
            assert!(
                src.is_some_and(|s| s.starts_with("data:")),
                "an image not from the page itself: {t:?}"
            );
        }
    }
    assert!(
        !dom.contains("alert(1)</script>"),
        "unescaped script end in the DOM"
    );
    assert!(
        !dom.contains("<img src=\"x\"") && !dom.contains("<img src=x"),
        "the img is markup"
    );

    // (c) Nothing logged to the console: no error, no uncaught exception, no CSP refusal.
    let errors = page_errors(&out.stderr);
    assert!(
        errors.is_empty(),
        "console errors in the page:\n{}",
        errors.join("\n")
    );
}
