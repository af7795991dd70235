//! The metric families the reference implementations expose on `GET /metrics`, in the
//! OpenMetrics text exposition format (which Prometheus scrapes), through `prometheus-client`.
//!
//! What is counted: requests (deliveries) by content mode and status, a request-latency
//! histogram, events by type and outcome (accepted, or rejected with a reason: the first MUST
//! requirement the event broke, or what was wrong with the request), redeliveries (a source and
//! id seen before), and CI/CD counters derived from accepted events — the questions of the
//! CDEvents SIG: services deployed, changes by predicate, pipeline and task runs by outcome,
//! artifacts published, incidents by predicate, every event by subject and predicate.
//!
//! Label values from the wire (event types, environments, outcomes) are untrusted: each is cut
//! to [`MAX_LABEL_LEN`] bytes and each label keeps at most [`MAX_LABEL_VALUES`] distinct
//! values, later ones counting under `other`, so a sender cannot grow the registry unboundedly.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde_json::Value;

/// The Content-Type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The path the reference implementations serve the metrics on.
pub const PATH: &str = "/metrics";
/// Longest label value kept (longer ones are cut at a character boundary).
pub const MAX_LABEL_LEN: usize = 128;
/// Distinct values kept per label name; later ones count under `other`.
pub const MAX_LABEL_VALUES: usize = 200;

type Labels = Vec<(String, String)>;

/// The metric families of one reference implementation.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Histogram,
    events: Family<Labels, Counter>,
    redeliveries: Counter,
    subject_events: Family<Labels, Counter>,
    services_deployed: Family<Labels, Counter>,
    changes: Family<Labels, Counter>,
    pipeline_runs: Family<Labels, Counter>,
    task_runs: Family<Labels, Counter>,
    artifacts_published: Counter,
    incidents: Family<Labels, Counter>,
    forwards: Family<Labels, Counter>,
    seen_values: Mutex<HashMap<&'static str, HashSet<String>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every family, registered under the `cdevents` prefix.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("cdevents");
        let m = Metrics {
            requests: Family::default(),
            // 0.5 ms to ~4 s.
            latency: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            events: Family::default(),
            redeliveries: Counter::default(),
            subject_events: Family::default(),
            services_deployed: Family::default(),
            changes: Family::default(),
            pipeline_runs: Family::default(),
            task_runs: Family::default(),
            artifacts_published: Counter::default(),
            incidents: Family::default(),
            forwards: Family::default(),
            seen_values: Mutex::new(HashMap::new()),
            registry: Registry::default(),
        };
        registry.register(
            "forwards",
            "Forwarding attempts to the next hop (relays), by outcome: delivered, retried, \
             dead-lettered",
            m.forwards.clone(),
        );
        registry.register(
            "requests",
            "Deliveries (HTTP requests) received, by content mode and answered status",
            m.requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from receiving a delivery to answering it",
            m.latency.clone(),
        );
        registry.register(
            "events",
            "Events received, by CDEvents type and outcome (accepted, or rejected with a reason)",
            m.events.clone(),
        );
        registry.register(
            "redeliveries",
            "Deliveries of a source and id seen before (sender retries)",
            m.redeliveries.clone(),
        );
        registry.register(
            "subject_events",
            "Accepted events by subject and predicate",
            m.subject_events.clone(),
        );
        registry.register(
            "services_deployed",
            "Accepted service.deployed events, by environment id",
            m.services_deployed.clone(),
        );
        registry.register(
            "changes",
            "Accepted change events (created, merged, reviewed, abandoned, updated), by predicate",
            m.changes.clone(),
        );
        registry.register(
            "pipeline_runs_finished",
            "Accepted pipelineRun.finished events, by outcome",
            m.pipeline_runs.clone(),
        );
        registry.register(
            "task_runs_finished",
            "Accepted taskRun.finished events, by outcome",
            m.task_runs.clone(),
        );
        registry.register(
            "artifacts_published",
            "Accepted artifact.published events",
            m.artifacts_published.clone(),
        );
        registry.register(
            "incidents",
            "Accepted incident events (detected, reported, resolved), by predicate",
            m.incidents.clone(),
        );
        Metrics { registry, ..m }
    }

    /// A label value: cut to [`MAX_LABEL_LEN`], `"`, `\\` and control characters replaced by
    /// `_` (prometheus-client writes label values as given), and `other` once the label has
    /// [`MAX_LABEL_VALUES`] distinct values.
    fn label(&self, name: &'static str, value: &str) -> (String, String) {
        let mut end = value.len().min(MAX_LABEL_LEN);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        let clean: String = value[..end]
            .chars()
            .map(|c| match c {
                '"' | '\\' => '_',
                c if c.is_control() => '_',
                c => c,
            })
            .collect();
        let v = clean.as_str();
        let mut seen = self.seen_values.lock().unwrap_or_else(|p| p.into_inner());
        let set = seen.entry(name).or_default();
        let kept = if set.contains(v) {
            v.to_owned()
        } else if set.len() < MAX_LABEL_VALUES {
            set.insert(v.to_owned());
            v.to_owned()
        } else {
            "other".to_owned()
        };
        (name.to_owned(), kept)
    }

    /// One delivery answered: its content mode (`binary`, `structured`, `batch`, `unknown`),
    /// the status answered and how long answering took.
    pub fn request(&self, mode: &str, status: u16, took: Duration) {
        let labels = vec![
            self.label("mode", mode),
            ("status".to_owned(), status.to_string()),
        ];
        self.requests.get_or_create(&labels).inc();
        self.latency.observe(took.as_secs_f64());
    }

    /// One forwarding attempt to the next hop (a relay's): `delivered` (a 2xx), `retried` (a
    /// transient failure, tried again) or `dead-lettered` (given up on).
    pub fn forward(&self, outcome: &'static str) {
        self.forwards
            .get_or_create(&vec![("outcome".to_owned(), outcome.to_owned())])
            .inc();
    }

    /// A delivery of a source and id seen before.
    pub fn redelivery(&self) {
        self.redeliveries.inc();
    }

    /// An event refused: its type (empty when none could be read) and why (a requirement id,
    /// or a short word for what was wrong with the request).
    pub fn rejected(&self, event_type: &str, reason: &str) {
        let labels = vec![
            self.label(
                "type",
                if event_type.is_empty() {
                    "unknown"
                } else {
                    event_type
                },
            ),
            ("outcome".to_owned(), "rejected".to_owned()),
            self.label("reason", reason),
        ];
        self.events.get_or_create(&labels).inc();
    }

    /// An event taken (the CDEvent itself): counted by type, and into the CI/CD counters.
    pub fn accepted(&self, cdevent: &Value) {
        let ty = cdevent["context"]["type"].as_str().unwrap_or("");
        let labels = vec![
            self.label("type", if ty.is_empty() { "unknown" } else { ty }),
            ("outcome".to_owned(), "accepted".to_owned()),
            ("reason".to_owned(), String::new()),
        ];
        self.events.get_or_create(&labels).inc();
        // dev.cdevents.<subject>.<predicate>.<version>; custom events count by type only.
        let mut parts = ty.split('.');
        let (Some("dev"), Some("cdevents"), Some(subject), Some(predicate)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        let subject_labels = vec![
            self.label("subject", subject),
            self.label("predicate", predicate),
        ];
        self.subject_events.get_or_create(&subject_labels).inc();
        let content = &cdevent["subject"]["content"];
        let text = |v: &Value| v.as_str().unwrap_or("unknown").to_owned();
        match (subject, predicate) {
            ("service", "deployed") => {
                let env = text(&content["environment"]["id"]);
                let labels = vec![self.label("environment", &env)];
                self.services_deployed.get_or_create(&labels).inc();
            }
            ("change", p) => {
                let labels = vec![self.label("predicate", p)];
                self.changes.get_or_create(&labels).inc();
            }
            ("pipelinerun", "finished") => {
                let labels = vec![self.label("outcome", &text(&content["outcome"]))];
                self.pipeline_runs.get_or_create(&labels).inc();
            }
            ("taskrun", "finished") => {
                let labels = vec![self.label("outcome", &text(&content["outcome"]))];
                self.task_runs.get_or_create(&labels).inc();
            }
            ("artifact", "published") => {
                self.artifacts_published.inc();
            }
            ("incident", p) => {
                let labels = vec![self.label("predicate", p)];
                self.incidents.get_or_create(&labels).inc();
            }
            _ => {}
        }
    }

    /// The `GET /metrics` answer: the exposition, with its content type.
    pub fn respond(&self) -> axum::response::Response {
        use axum::response::IntoResponse;
        (
            axum::http::StatusCode::OK,
            [("content-type", CONTENT_TYPE)],
            self.encode(),
        )
            .into_response()
    }

    /// The exposition text (`# EOF` terminated).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an encoding error leaves what was written.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// The content mode a delivery claims, from its headers.
pub fn mode_of(h: &axum::http::HeaderMap) -> &'static str {
    let ct = h
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with(crate::input::BATCH_JSON) {
        "batch"
    } else if ct.starts_with(crate::input::STRUCTURED_JSON) {
        "structured"
    } else if h.keys().any(|k| k.as_str().starts_with("ce-")) {
        "binary"
    } else {
        "unknown"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_bounded() {
        let m = Metrics::new();
        for i in 0..(MAX_LABEL_VALUES + 50) {
            m.rejected(&format!("dev.cdeventsx.t{i}"), "CDE-CTX-004");
        }
        let long = "x".repeat(10 * MAX_LABEL_LEN);
        m.rejected(&long, "CDE-CTX-004");
        let text = m.encode();
        assert!(text.contains("type=\"other\""), "{text}");
        assert!(!text.contains(&long));
        let lines = text
            .lines()
            .filter(|l| l.starts_with("cdevents_events_total"))
            .count();
        assert_eq!(lines, MAX_LABEL_VALUES + 1, "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.rejected("a\"b\\c\nd", "x");
        let text = m.encode();
        assert!(!text.contains("a\"b"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
