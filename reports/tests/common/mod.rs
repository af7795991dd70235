//! Runs shared by the integration tests: a representative one and a hostile one.
#![allow(dead_code)]

use cdevents_reports::{
    CaseResult, DeliveryStats, Evidence, Finding, HttpMessage, LatencyStats, Level, LinkEdge,
    LinkGraph, LinkNode, Observation, Role, Run, RunHeader, Status, Suite, Summary,
};
use serde_json::json;

/// A port that changes between runs, like a real ephemeral port would.
pub fn volatile_port() -> u16 {
    40_000 + (std::process::id() % 20_000) as u16
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// Volatile values in rendered text: times, ports, the tool version.
pub fn text_filters() -> Vec<(String, String)> {
    vec![
        (
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)".to_owned(),
            "[time]".to_owned(),
        ),
        (
            r"127\.0\.0\.1:\d+".to_owned(),
            "127.0.0.1:[port]".to_owned(),
        ),
        (
            regex_escape(env!("CARGO_PKG_VERSION")),
            "[version]".to_owned(),
        ),
    ]
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

/// insta settings with the text filters, snapshots in `reports/snapshots`.
pub fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    for (re, with) in text_filters() {
        s.add_filter(&re, with);
    }
    s
}

fn header(port: u16) -> RunHeader {
    let mut h = RunHeader::new(Suite::Relay, env!("CARGO_PKG_VERSION"), now());
    h.target = Some(format!("http://127.0.0.1:{port}/events"));
    h.spec_versions = vec!["0.4.1".into(), "0.3.0".into()];
    h.profile = Some("core".into());
    h.seed = Some(42);
    h.fail_on = Level::Must;
    h.command_line = [
        "cdevents-conformance",
        "relay",
        "--target",
        &format!("http://127.0.0.1:{port}/events"),
        "--profile",
        "core",
        "--seed",
        "42",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    h
}

fn case(
    id: &str,
    req: &str,
    level: Level,
    status: Status,
    roles: &[Role],
    spec: &str,
    msg: &str,
) -> CaseResult {
    let mut c = CaseResult::new(id, req, level, status, msg);
    c.roles = roles.to_vec();
    c.spec = Some(spec.to_owned());
    c.duration_ms = Some(12);
    c
}

fn reproduce(port: u16, id: &str) -> String {
    format!(
        "cdevents-conformance relay --target http://127.0.0.1:{port}/events --seed 42 --only {id}"
    )
}

/// A relay run with every status, evidence, relay statistics and a link graph.
pub fn representative_run() -> Run {
    let port = volatile_port();
    let mut cases = Vec::new();
    cases.push(case(
        "LIS-001/structured/pipelinerun.started",
        "LIS-001",
        Level::Must,
        Status::Passed,
        &[Role::Listener],
        "0.4.1",
        "accepted a structured-mode event with 202",
    ));

    let mut c = case(
        "LIS-003/binary/pipelinerun.finished",
        "LIS-003",
        Level::Must,
        Status::Failed,
        &[Role::Listener, Role::Intermediary],
        "0.4.1",
        "a valid binary-mode event was rejected",
    );
    c.expected = Some("a 2xx status".into());
    c.actual = Some("500 Internal Server Error".into());
    let request = HttpMessage::capped(
        "POST /events HTTP/1.1",
        [
            ("host", format!("127.0.0.1:{port}")),
            ("content-type", "application/json".to_owned()),
            ("ce-specversion", "1.0".to_owned()),
            ("ce-id", "271069a8-fc18-44f1-b38f-9e1e5d3d0e1c".to_owned()),
            ("ce-source", "/conformance/kit".to_owned()),
            (
                "ce-type",
                "dev.cdevents.pipelinerun.finished.0.2.0".to_owned(),
            ),
        ],
        br#"{"context":{"version":"0.4.1"},"subject":{"id":"pipe-1","content":{"outcome":"success"}}}"#,
    );
    let curl = request.to_curl(&format!("http://127.0.0.1:{port}/events"));
    c.evidence = Some(Evidence {
        response: Some(HttpMessage::capped(
            "HTTP/1.1 500 Internal Server Error",
            [("content-type", "text/plain")],
            b"unsupported content mode\n",
        )),
        request: Some(request),
        event: None,
        diff: None,
        curl,
        curl_to: None,
    });
    c.reproduce = Some(reproduce(port, "LIS-003/binary/pipelinerun.finished"));
    c.duration_ms = Some(48);
    cases.push(c);

    let mut c = case(
        "CDE-CTX-003/taskrun.started",
        "CDE-CTX-003",
        Level::Should,
        Status::Failed,
        &[Role::Event, Role::Sender],
        "0.4.1",
        "context.source should be a URI reference",
    );
    c.findings = vec![
        Finding {
            id: "CDE-CTX-003".into(),
            level: Level::Should,
            pointer: "/context/source".into(),
            message: "`not a uri` is not a URI reference".into(),
        },
        Finding {
            id: "CDE-CTX-005".into(),
            level: Level::May,
            pointer: String::new(),
            message: "no customData".into(),
        },
    ];
    c.evidence = Some(Evidence {
        event: Some(json!({
            "context": {"version": "0.4.1", "id": "e-1", "source": "not a uri",
                        "type": "dev.cdevents.taskrun.started.0.2.0",
                        "timestamp": "2025-01-01T00:00:00Z"},
            "subject": {"id": "task-1", "content": {"taskName": "build"}}
        })),
        ..Evidence::default()
    });
    cases.push(c);

    let mut c = case(
        "REL-004/mutation/pipelinerun.finished",
        "REL-004",
        Level::Must,
        Status::Failed,
        &[Role::Intermediary],
        "0.4.1",
        "the relay changed the event",
    );
    c.evidence = Some(Evidence {
        diff: Some(
            "--- sent\n+++ delivered\n@@ -3,3 +3,3 @@\n   \"subject\": {\n-    \"id\": \"pipe-1\",\n+    \"id\": \"PIPE-1\",\n   }\n"
                .into(),
        ),
        ..Evidence::default()
    });
    c.reproduce = Some(reproduce(port, "REL-004/mutation/pipelinerun.finished"));
    cases.push(c);

    let mut c = case(
        "REL-010/batch",
        "REL-010",
        Level::Must,
        Status::Errored,
        &[Role::Intermediary],
        "0.4.1",
        "connection refused after 3 attempts; no verdict",
    );
    c.reproduce = Some(reproduce(port, "REL-010/batch"));
    cases.push(c);

    cases.push(case(
        "LIS-012/http2",
        "LIS-012",
        Level::May,
        Status::Skipped,
        &[Role::Listener],
        "0.4.1",
        "profile core does not include HTTP/2",
    ));

    let mut c = case(
        "LIS-015/traceparent",
        "LIS-015",
        Level::Should,
        Status::Waived,
        &[Role::Listener],
        "0.4.1",
        "ce-traceparent was dropped",
    );
    c.waiver = Some(cdevents_reports::Waiver {
        reason: "the router drops tracing headers".into(),
        issue: Some("https://example.invalid/issues/12".into()),
        expires: Some("2099-12-31".into()),
        expired: false,
    });
    cases.push(c);

    let mut c = case(
        "LIS-016/ack-latency",
        "LIS-016",
        Level::Must,
        Status::WaivedButPassed,
        &[Role::Listener],
        "0.4.1",
        "acknowledged within 5 s",
    );
    c.waiver = Some("JIRA-42".into());
    cases.push(c);

    cases.push(case(
        "CDE-CTX-001/pipelinerun.finished",
        "CDE-CTX-001",
        Level::Must,
        Status::Passed,
        &[Role::Event],
        "0.3.0",
        "context.id is set",
    ));
    let mut c = CaseResult::new(
        "REL-001/order",
        "REL-001",
        Level::Should,
        Status::Passed,
        "order kept for one source",
    );
    c.duration_ms = Some(7);
    cases.push(c); // no spec, no role: every spec, the suite's role

    let observations = vec![delivery_observation(), links_observation()];
    let mut run = Run::new(header(port), cases, observations);
    run.summary.finished_at = Some(now());
    run.summary.duration_ms = Some(4321);
    run
}

pub fn delivery_observation() -> Observation {
    // Deterministic pseudo-random latencies, values exact in binary so JSON round-trips.
    let mut x: u32 = 7;
    let mut timeline = Vec::new();
    let mut samples = Vec::new();
    for i in 0..200u64 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let mut l = f64::from((x >> 16) % 40) * 0.5 + 2.0;
        if i == 150 {
            l = 180.0;
        }
        timeline.push((i * 25, l));
        samples.push(l);
    }
    let mut o = Observation::new("REL-DELIVERY/binary", "Delivery through the relay");
    o.spec = Some("0.4.1".into());
    o.delivery = Some(DeliveryStats {
        sent: 200,
        acknowledged: 200,
        delivered: 197,
        lost: 3,
        duplicated: 2,
        reordered_inversions: 5,
        mutated: 1,
        latency_ms: LatencyStats::from_samples(&samples),
        throughput_per_s: 40.0,
        timeline,
    });
    o
}

pub fn links_observation() -> Observation {
    let nodes = [
        ("e1", "dev.cdevents.change.merged.0.2.0"),
        ("e2", "dev.cdevents.pipelinerun.queued.0.2.0"),
        ("e3", "dev.cdevents.pipelinerun.started.0.2.0"),
        ("e4", "dev.cdevents.taskrun.started.0.2.0"),
        ("e5", "dev.cdevents.taskrun.finished.0.2.0"),
        ("e6", "dev.cdevents.pipelinerun.finished.0.2.0"),
        ("e7", "dev.cdevents.artifact.published.0.2.0"),
    ];
    let edges = [
        ("e1", "e2", "PATH"),
        ("e2", "e3", "PATH"),
        ("e3", "e4", "PATH"),
        ("e4", "e5", "PATH"),
        ("e5", "e6", "END"),
        ("e3", "e6", "END"),
        ("e6", "e7", "RELATION"),
    ];
    let mut o = Observation::new("REL-LINKS", "Links between delivered events");
    o.links = Some(LinkGraph {
        nodes: nodes
            .iter()
            .map(|(id, t)| LinkNode {
                id: (*id).into(),
                node_type: (*t).into(),
            })
            .collect(),
        edges: edges
            .iter()
            .map(|(a, b, k)| LinkEdge {
                from: (*a).into(),
                to: (*b).into(),
                kind: (*k).into(),
            })
            .collect(),
        truncated: false,
    });
    o
}

/// Markup, CDATA ends, pipes, backticks, control characters and invalid UTF-8 (made lossy).
pub fn hostile() -> String {
    let invalid = String::from_utf8_lossy(b"\xff\xfe\xc3(");
    format!(
        "<script>alert(1)</script>\"><img src=x onerror=alert(1)>]]>|a|b|```js\n`x`\u{0}\u{1b}[31m\u{7}\u{7f}\u{fffe}{invalid}@here #1 $x$ *b* _i_ [l](javascript:alert(1)) &amp;"
    )
}

/// A run whose every string, header included, is hostile.
pub fn hostile_run() -> Run {
    let x = hostile();
    let xs = |suffix: &str| format!("{x}{suffix}");
    let mut h = RunHeader::new(Suite::Listener, xs("v"), xs("t"));
    h.target = Some(xs("target"));
    h.spec_versions = vec![xs("spec"), "0.4.1".into()];
    h.profile = Some(xs("profile"));
    h.seed = Some(u64::MAX);
    h.command_line = vec![xs("arg0"), xs("arg1")];

    let raw_body = [x.as_bytes(), b"\xff\x00 tail"].concat();
    let mut cases = Vec::new();
    for (i, status) in [
        Status::Failed,
        Status::Errored,
        Status::Skipped,
        Status::Waived,
        Status::WaivedButPassed,
        Status::Passed,
    ]
    .into_iter()
    .enumerate()
    {
        for level in Level::ALL {
            let mut c = CaseResult::new(
                xs(&format!("case{i}{level}")),
                xs(&format!("req{i}")),
                level,
                status,
                xs("message"),
            );
            c.roles = vec![Role::Listener, Role::Sender];
            c.spec = Some(if i % 2 == 0 {
                xs("spec")
            } else {
                "0.4.1".into()
            });
            c.expected = Some(xs("expected"));
            c.actual = Some(xs("actual"));
            c.waiver = Some(cdevents_reports::Waiver {
                reason: xs("waiver"),
                issue: Some(xs("waiver-issue")),
                expires: None,
                expired: false,
            });
            c.reproduce = Some(xs("reproduce"));
            c.findings = vec![Finding {
                id: xs("finding"),
                level,
                pointer: xs("/pointer"),
                message: xs("finding message"),
            }];
            let req = HttpMessage::capped(
                x.as_bytes(),
                [(raw_body.as_slice(), raw_body.as_slice())],
                &raw_body,
            );
            c.evidence = Some(Evidence {
                curl: req.to_curl(&x),
                request: Some(req),
                response: Some(HttpMessage::capped(
                    format!("HTTP/1.1 500 {x}"),
                    [(x.as_str(), x.as_str())],
                    x.as_bytes(),
                )),
                event: Some(json!({ x.clone(): [x.clone(), {"k": x.clone()}] })),
                diff: Some(format!("+{x}\n-{x}\n@@{x}")),
                curl_to: None,
            });
            cases.push(c);
        }
    }
    let mut o = Observation::new(xs("obs"), xs("title"));
    o.spec = Some(xs("spec"));
    o.delivery = delivery_observation().delivery;
    o.links = Some(LinkGraph {
        nodes: vec![
            LinkNode {
                id: xs("n1"),
                node_type: xs("type"),
            },
            LinkNode {
                id: xs("n2"),
                node_type: format!("dev.cdevents.{x}"),
            },
        ],
        edges: vec![LinkEdge {
            from: xs("n1"),
            to: xs("n2"),
            kind: x.clone(),
        }],
        truncated: false,
    });
    let mut run = Run::new(h, cases, vec![o]);
    run.summary.finished_at = Some(xs("finished"));
    run
}

/// The representative run cut after its fifth case, as a killed process leaves it.
pub fn interrupted_run() -> Run {
    let full = representative_run();
    let cases: Vec<CaseResult> = full.cases[..5].to_vec();
    let summary = Summary::compute(&full.header, &cases, true);
    Run {
        header: full.header,
        cases,
        observations: Vec::new(),
        summary,
    }
}
