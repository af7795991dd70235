//! `/metrics` on the reference listener, tested by scraping: a known set of deliveries, then
//! the exposition text parsed and every counter compared with what was sent.

use std::collections::BTreeMap;
use std::time::Duration;

use cdevents_schemas::catalogue::for_version;
use cdevents_schemas::SpecVersion;
use cdevents_suites::drivers::listener::corpus::event_for;
use cdevents_suites::reference::listener::{spawn_reference_listener, Config};
use cdevents_suites::wire::{ce_attributes_for, encode, Mode};
use serde_json::{json, Value};

const SPEC: SpecVersion = SpecVersion::V0_4_1;

fn event(subject_predicate: &str, label: &str) -> Value {
    let prefix = format!("dev.cdevents.{subject_predicate}.");
    let def = for_version(SPEC)
        .events
        .iter()
        .find(|d| d.type_name.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {SPEC}"));
    event_for(SPEC, &def.type_name, 42, label).expect("a generated event")
}

async fn post(client: &reqwest::Client, url: &str, mode: Mode, ev: &Value) -> u16 {
    let wire = encode(mode, &[(ce_attributes_for(ev), ev.clone())]);
    let mut rb = client.post(url).body(wire.body);
    for (k, v) in &wire.headers {
        rb = rb.header(k.as_str(), v.as_str());
    }
    rb.send().await.expect("an answer").status().as_u16()
}

/// `name{labels}` → value, for every sample line of an exposition.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').expect("`name value`");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        assert!(
            out.insert(key.to_owned(), value).is_none(),
            "a sample twice: {line}"
        );
    }
    out
}

#[tokio::test]
async fn counters_match_the_deliveries_sent() {
    let (addr, _handle) = spawn_reference_listener(Config::default())
        .await
        .expect("the reference listener starts");
    let url = format!("http://{addr}/events");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");

    let mut finished_ok = event("pipelinerun.finished", "run-1");
    finished_ok["subject"]["content"]["outcome"] = json!("success");
    let mut finished_bad = event("pipelinerun.finished", "run-2");
    finished_bad["subject"]["content"]["outcome"] = json!("failure");
    let mut deployed = event("service.deployed", "deploy-1");
    deployed["subject"]["content"]["environment"] = json!({"id": "production"});
    let created = event("change.created", "change-1");
    let merged = event("change.merged", "change-2");
    let published = event("artifact.published", "artifact-1");
    let incident = event("incident.detected", "incident-1");
    for (ev, mode) in [
        (&finished_ok, Mode::Binary),
        (&finished_bad, Mode::Structured),
        (&deployed, Mode::Binary),
        (&created, Mode::Binary),
        (&merged, Mode::Structured),
        (&published, Mode::Binary),
        (&incident, Mode::Binary),
    ] {
        assert_eq!(post(&client, &url, mode, ev).await, 202, "{ev}");
    }
    // A redelivery of the deployment: taken again, and counted as a redelivery.
    assert_eq!(post(&client, &url, Mode::Binary, &deployed).await, 202);
    // An event breaking CDE-CTX-008 (timestamp not RFC 3339).
    let mut bad = event("change.created", "bad-1");
    bad["context"]["timestamp"] = json!("yesterday");
    assert_eq!(post(&client, &url, Mode::Structured, &bad).await, 400);
    // A format the listener does not understand.
    let status = client
        .post(&url)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("an answer")
        .status();
    assert_eq!(status.as_u16(), 415);

    let scrape = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("a scrape");
    assert_eq!(scrape.status().as_u16(), 200);
    let ct = scrape
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let text = scrape.text().await.expect("a body");
    assert!(text.ends_with("# EOF\n"), "{text}");
    let m = parse(&text);
    let get = |k: &str| {
        m.get(k)
            .copied()
            .unwrap_or_else(|| panic!("no `{k}` in\n{text}"))
    };

    let ty = |ev: &Value| ev["context"]["type"].as_str().unwrap_or("").to_owned();
    let accepted = |ev: &Value| {
        format!(
            "cdevents_events_total{{type=\"{}\",outcome=\"accepted\",reason=\"\"}}",
            ty(ev)
        )
    };
    assert_eq!(get(&accepted(&finished_ok)), 2.0);
    assert_eq!(get(&accepted(&deployed)), 2.0);
    assert_eq!(get(&accepted(&created)), 1.0);
    assert_eq!(get(&accepted(&merged)), 1.0);
    assert_eq!(get(&accepted(&published)), 1.0);
    assert_eq!(get(&accepted(&incident)), 1.0);
    assert_eq!(
        get(&format!(
            "cdevents_events_total{{type=\"{}\",outcome=\"rejected\",reason=\"CDE-CTX-008\"}}",
            ty(&bad)
        )),
        1.0
    );
    assert_eq!(
        get("cdevents_events_total{type=\"unknown\",outcome=\"rejected\",reason=\"unsupported-media-type\"}"),
        1.0
    );
    assert_eq!(get("cdevents_redeliveries_total"), 1.0);

    assert_eq!(
        get("cdevents_requests_total{mode=\"binary\",status=\"202\"}"),
        6.0
    );
    assert_eq!(
        get("cdevents_requests_total{mode=\"structured\",status=\"202\"}"),
        2.0
    );
    assert_eq!(
        get("cdevents_requests_total{mode=\"structured\",status=\"400\"}"),
        1.0
    );
    assert_eq!(
        get("cdevents_requests_total{mode=\"unknown\",status=\"415\"}"),
        1.0
    );
    assert_eq!(get("cdevents_request_duration_seconds_count"), 10.0);
    assert_eq!(
        get("cdevents_request_duration_seconds_bucket{le=\"+Inf\"}"),
        10.0
    );

    assert_eq!(
        get("cdevents_pipeline_runs_finished_total{outcome=\"success\"}"),
        1.0
    );
    assert_eq!(
        get("cdevents_pipeline_runs_finished_total{outcome=\"failure\"}"),
        1.0
    );
    assert_eq!(
        get("cdevents_services_deployed_total{environment=\"production\"}"),
        2.0
    );
    assert_eq!(get("cdevents_changes_total{predicate=\"created\"}"), 1.0);
    assert_eq!(get("cdevents_changes_total{predicate=\"merged\"}"), 1.0);
    assert_eq!(get("cdevents_artifacts_published_total"), 1.0);
    assert_eq!(get("cdevents_incidents_total{predicate=\"detected\"}"), 1.0);
    assert_eq!(
        get("cdevents_subject_events_total{subject=\"change\",predicate=\"created\"}"),
        1.0
    );
    // The rejected change is in no CI/CD counter; the scrape itself is in no counter.
    assert!(!m
        .keys()
        .any(|k| k.contains("reason=\"CDE-CTX-008\"") && k.contains("accepted")));
    let requests: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("cdevents_requests_total"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(requests, 10.0);
}

#[tokio::test]
async fn metrics_is_only_get_and_other_gets_are_refused() {
    let (addr, _handle) = spawn_reference_listener(Config::default())
        .await
        .expect("the reference listener starts");
    let client = reqwest::Client::new();
    let post = client
        .post(format!("http://{addr}/metrics"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        post.status().as_u16(),
        415,
        "a POST to /metrics is a delivery"
    );
    let get = client
        .get(format!("http://{addr}/events"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(get.status().as_u16(), 405);
    let text = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("a scrape")
        .text()
        .await
        .expect("a body");
    let m = parse(&text);
    // Only the POST counts as a delivery; neither GET does.
    assert_eq!(
        m.get("cdevents_requests_total{mode=\"unknown\",status=\"415\"}"),
        Some(&1.0),
        "{text}"
    );
    assert_eq!(m.get("cdevents_request_duration_seconds_count"), Some(&1.0));
}

/// The reference relay serves the same families, plus its forwarding attempts: every event of a
/// sink that fails each first attempt once is retried once and delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_relay_counts_what_it_takes_and_forwards() {
    use cdevents_suites::drivers::sender::{Sink, SinkConfig};
    use cdevents_suites::faults::FaultPlan;
    use cdevents_suites::reference::relay::{spawn_reference_relay, Config as RelayConfig};

    let sink = Sink::start(SinkConfig {
        plan: FaultPlan::parse("503:1,max=1").expect("a plan"),
        seed: 3,
        ..SinkConfig::default()
    })
    .await
    .expect("the sink starts");
    let (addr, _relay) = spawn_reference_relay(RelayConfig {
        forward: sink.url(),
        timeout: Duration::from_secs(2),
        base_backoff: Duration::from_millis(5),
        ..RelayConfig::default()
    })
    .await
    .expect("the relay starts");
    let url = format!("http://{addr}/");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a client");
    let deployed = event("service.deployed", "relay-a");
    let created = event("change.created", "relay-b");
    for (ev, mode) in [
        (&deployed, Mode::Binary),
        (&created, Mode::Structured),
        (&event("pipelinerun.finished", "relay-c"), Mode::Binary),
    ] {
        assert_eq!(post(&client, &url, mode, ev).await, 202, "{ev}");
    }
    let garbage = client
        .post(&url)
        .header("content-type", "application/cloudevents+json")
        .body("{not json")
        .send()
        .await
        .expect("an answer");
    assert_eq!(garbage.status().as_u16(), 400);
    assert!(
        sink.wait_for_events(3, Duration::from_secs(10)).await,
        "the relay forwarded all three"
    );
    // The relay counts a forward once the sink's answer is in: poll briefly for the last one.
    let mut text = String::new();
    for _ in 0..50 {
        text = client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .expect("a scrape")
            .text()
            .await
            .expect("a body");
        if parse(&text).get("cdevents_forwards_total{outcome=\"delivered\"}") == Some(&3.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let m = parse(&text);
    let get = |k: &str| {
        m.get(k)
            .copied()
            .unwrap_or_else(|| panic!("no `{k}` in\n{text}"))
    };
    assert_eq!(get("cdevents_forwards_total{outcome=\"delivered\"}"), 3.0);
    assert_eq!(get("cdevents_forwards_total{outcome=\"retried\"}"), 3.0);
    assert_eq!(
        get("cdevents_requests_total{mode=\"binary\",status=\"202\"}"),
        2.0
    );
    assert_eq!(
        get("cdevents_requests_total{mode=\"structured\",status=\"202\"}"),
        1.0
    );
    assert_eq!(
        get("cdevents_requests_total{mode=\"structured\",status=\"400\"}"),
        1.0
    );
    assert_eq!(
        get("cdevents_events_total{type=\"unknown\",outcome=\"rejected\",reason=\"undecodable\"}"),
        1.0
    );
    assert!(
        !m.contains_key("cdevents_forwards_total{outcome=\"dead-lettered\"}"),
        "{text}"
    );
    let accepted = |ev: &Value| {
        format!(
            "cdevents_events_total{{type=\"{}\",outcome=\"accepted\",reason=\"\"}}",
            ev["context"]["type"].as_str().unwrap_or("")
        )
    };
    assert_eq!(get(&accepted(&deployed)), 1.0);
    assert_eq!(get(&accepted(&created)), 1.0);
}
