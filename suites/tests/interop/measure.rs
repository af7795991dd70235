//! Runs the suites against the SDK targets and the pairs of the sender × listener matrix.
//!
//! A sender's run is recorded once by the sender suite's [`Sink`] (which acknowledges
//! everything it can decode: fault plan `none`) and judged by the sender suite; the matrix then
//! replays each recorded request, headers and body as received, to each listener, and keeps
//! what the listener answered. Replaying the recording rather than re-running the sender makes
//! every listener see the same bytes, and keeps the listener's answer (its status and its
//! reason) as the evidence of the cell.

use std::collections::BTreeMap;
use std::time::Duration;

use cdevents_reports::model::{CaseResult, Status};
use cdevents_schemas::{Registry, SpecVersion};
use cdevents_suites::drivers::listener::{self, Options, RunConfig};
use cdevents_suites::drivers::sender::{judge, Claims, Delivery, ManifestEntry, Sink, SinkConfig};
use cdevents_suites::faults::FaultPlan;
use cdevents_suites::reference::listener::{spawn_reference_listener, Config, Fault};
use cdevents_suites::reference::sender::{run_reference_sender, SenderConfig};
use cdevents_suites::wire::Mode;
use serde_json::Value;

use super::sdk_listener;
use super::sdk_sender::SdkMode;

/// The longest any one request, child or answer may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The most bytes of a listener's answer kept as its reason.
const MAX_REASON: usize = 4096;

/// Which sender made a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderKind {
    /// `cdevents-suites`' reference sender, in process.
    Reference(Mode),
    /// The SDK sender, as a child process started with `CDEVENTS_SINK_URL`.
    Sdk(SdkMode),
}

impl SenderKind {
    /// Every sender of the matrix, in its row order.
    pub const ALL: [SenderKind; 6] = [
        SenderKind::Reference(Mode::Binary),
        SenderKind::Reference(Mode::Structured),
        SenderKind::Reference(Mode::Batch),
        SenderKind::Sdk(SdkMode::Binary),
        SenderKind::Sdk(SdkMode::Structured),
        SenderKind::Sdk(SdkMode::Batch),
    ];

    /// The row name.
    pub fn name(self) -> String {
        match self {
            SenderKind::Reference(m) => format!("reference sender ({})", m.as_str()),
            SenderKind::Sdk(m) => format!("SDK sender ({})", m.as_str()),
        }
    }

    fn batch(self) -> bool {
        matches!(
            self,
            SenderKind::Reference(Mode::Batch) | SenderKind::Sdk(SdkMode::Batch)
        )
    }
}

/// Which listener a pair ends at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// The reference listener, conformant or broken on purpose.
    Reference(Option<Fault>),
    /// The SDK listener.
    Sdk,
}

impl ListenerKind {
    /// The column name.
    pub fn name(self) -> String {
        match self {
            ListenerKind::Reference(None) => "reference listener".into(),
            ListenerKind::Reference(Some(f)) => format!("reference listener --fault {f}"),
            ListenerKind::Sdk => "SDK listener".into(),
        }
    }
}

/// A running listener of either kind; dropping it stops it.
pub enum Running {
    /// The reference listener.
    Reference {
        /// Where it listens.
        addr: std::net::SocketAddr,
        /// Keeps it running.
        _handle: cdevents_suites::reference::listener::ListenerHandle,
    },
    /// The SDK listener.
    Sdk(sdk_listener::SdkListener),
}

impl Running {
    /// Starts `kind` on a free loopback port; the SDK listener forwards to `forward`.
    pub async fn start(kind: ListenerKind, forward: Option<String>) -> Running {
        match kind {
            ListenerKind::Reference(fault) => {
                let (addr, handle) = spawn_reference_listener(Config {
                    fault,
                    forward,
                    ..Config::default()
                })
                .await
                .expect("the reference listener starts");
                Running::Reference {
                    addr,
                    _handle: handle,
                }
            }
            ListenerKind::Sdk => Running::Sdk(
                sdk_listener::spawn(forward)
                    .await
                    .expect("the SDK listener starts"),
            ),
        }
    }

    /// Where to send.
    pub fn url(&self) -> String {
        match self {
            Running::Reference { addr, .. } => format!("http://{addr}/events"),
            Running::Sdk(l) => l.url(),
        }
    }
}

/// What one sender sent, and the sender suite's verdict on it.
pub struct SenderRun {
    /// Who sent.
    pub kind: SenderKind,
    /// Every request, as the sink received it.
    pub deliveries: Vec<Delivery>,
    /// The sender's manifest.
    pub manifest: Vec<ManifestEntry>,
    /// The sender suite's cases.
    pub cases: Vec<CaseResult>,
}

/// Records `kind` once against a fresh sink and judges the recording.
pub async fn record(kind: SenderKind, registry: &Registry) -> SenderRun {
    let sink = Sink::start(SinkConfig::default())
        .await
        .expect("the sink starts");
    let manifest = match kind {
        SenderKind::Reference(mode) => {
            let cfg = SenderConfig {
                target: sink.url(),
                count: 9,
                mode,
                seed: 6,
                timeout: TIMEOUT,
                ..SenderConfig::default()
            };
            run_reference_sender(&cfg)
                .await
                .expect("the reference sender runs")
                .manifest
        }
        SenderKind::Sdk(mode) => sdk_child(&sink.url(), mode).await,
    };
    // Let an answer in flight be recorded.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rec = sink.stop();
    let claims = Claims {
        allow_batch: kind.batch(),
        ..Claims::default()
    };
    let cases = judge(
        &rec,
        &claims,
        &FaultPlan::none(),
        Some(&manifest),
        registry,
        None,
    );
    SenderRun {
        kind,
        deliveries: rec.deliveries,
        manifest,
        cases,
    }
}

/// Runs this test binary as the SDK sender, the way `test sender --trigger` runs a sender:
/// the sink's URL in `CDEVENTS_SINK_URL`, the manifest read from its standard output.
async fn sdk_child(url: &str, mode: SdkMode) -> Vec<ManifestEntry> {
    let exe = std::env::current_exe().expect("the test binary's path");
    let child = tokio::process::Command::new(exe)
        .args(["--sdk-sender", mode.as_str()])
        .env("CDEVENTS_SINK_URL", url)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(TIMEOUT * 2, child)
        .await
        .expect("the SDK sender ends in time")
        .expect("the SDK sender starts");
    // Exit 1 only says that some request was not acknowledged: the suite judges why.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "the SDK sender failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(ManifestEntry::parse_line)
        .collect()
}

/// One pair of the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Requests the sender made.
    pub requests: usize,
    /// Events in them.
    pub events: usize,
    /// Events in requests the listener took (2xx).
    pub taken: usize,
    /// Why the others were not taken: `"<status>: <reason>"` → events.
    pub refusals: BTreeMap<String, usize>,
}

impl Cell {
    /// Whether every event was taken.
    pub fn interoperates(&self) -> bool {
        self.events > 0 && self.taken == self.events
    }
}

/// Replays every request of `run` to a fresh `listener`.
pub async fn pair(run: &SenderRun, listener: ListenerKind) -> Cell {
    let target = Running::start(listener, None).await;
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .expect("an HTTP client");
    let mut cell = Cell {
        requests: run.deliveries.len(),
        events: 0,
        taken: 0,
        refusals: BTreeMap::new(),
    };
    for d in &run.deliveries {
        // An undecodable request still carries (at least) one event for the sender.
        let events = d.events.len().max(1);
        cell.events += events;
        match replay(&client, &target.url(), d).await {
            Ok((status, _)) if (200..300).contains(&status) => cell.taken += events,
            Ok((status, body)) => {
                *cell
                    .refusals
                    .entry(format!("{status}: {}", reason(&body)))
                    .or_default() += events;
            }
            Err(e) => *cell.refusals.entry(format!("no answer: {e}")).or_default() += events,
        }
    }
    cell
}

/// Sends one recorded request again, byte for byte, to `url`; returns the status and up to
/// [`MAX_REASON`] bytes of the answer.
pub async fn replay(
    client: &reqwest::Client,
    url: &str,
    d: &Delivery,
) -> Result<(u16, String), String> {
    let method = reqwest::Method::from_bytes(d.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = client.request(method, url).body(d.body.clone());
    for (name, value) in &d.headers {
        if matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            continue;
        }
        let value = reqwest::header::HeaderValue::from_bytes(value).map_err(|e| e.to_string())?;
        req = req.header(name.as_str(), value);
    }
    let mut resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_REASON {
            body.truncate(MAX_REASON);
            break;
        }
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// A listener's answer in a few words: the requirement ids and pointers of the reference
/// listener's problem details, or the text of any other answer.
fn reason(body: &str) -> String {
    let detail = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned));
    let Some(detail) = detail else {
        return cdevents_reports::escape::one_line(body.trim(), 160);
    };
    match serde_json::from_str::<Vec<Value>>(&detail) {
        Ok(findings) => {
            let mut ids: Vec<String> = findings
                .iter()
                .map(|f| {
                    let id = f.get("id").and_then(Value::as_str).unwrap_or("?");
                    let at = f.get("pointer").and_then(Value::as_str).unwrap_or("");
                    format!("{id} at {at}")
                })
                .collect();
            ids.dedup();
            ids.join(", ")
        }
        Err(_) => cdevents_reports::escape::one_line(&detail, 160),
    }
}

/// The CDEvents releases the SDK claims (its README's feature list).
pub const SDK_SPECS: [SpecVersion; 3] = [
    SpecVersion::V0_3_0,
    SpecVersion::V0_4_1,
    SpecVersion::V0_5_1,
];

/// The listener suite's corpus of `specs` (one valid event per type and mode, edge cases,
/// invalid and hostile requests) against `listener`.
pub async fn listener_suite(listener: ListenerKind, specs: &[SpecVersion]) -> Vec<CaseResult> {
    let target = Running::start(listener, None).await;
    let cfg = RunConfig {
        target: target.url(),
        timeout: Duration::from_millis(800),
        ..RunConfig::default()
    };
    let cases = listener::cases(&Options {
        specs: specs.to_vec(),
        oversize_bytes: 2 << 20,
        ..Options::default()
    });
    let mut out = Vec::new();
    listener::run(&cfg, cases, |r| out.push(r))
        .await
        .expect("the listener suite judges");
    out.sort_by(|a, b| a.case.cmp(&b.case));
    out
}

/// The SDK's round trip: the reference sender's recording replayed to the SDK listener, which
/// parses each event and sends it on (`Event::try_from(cdevent)`, binary mode) to a sink; the
/// sender suite judges what arrives there.
pub async fn sdk_round_trip(from: &SenderRun, registry: &Registry) -> Vec<CaseResult> {
    let sink = Sink::start(SinkConfig::default())
        .await
        .expect("the sink starts");
    let relay = Running::start(ListenerKind::Sdk, Some(sink.url())).await;
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .expect("an HTTP client");
    for d in &from.deliveries {
        let _ = replay(&client, &relay.url(), d).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rec = sink.stop();
    judge(
        &rec,
        &Claims::default(),
        &FaultPlan::none(),
        Some(&from.manifest),
        registry,
        None,
    )
}

/// The cases of `cases` that are not passed or skipped, as `(case, requirement, status)`.
pub fn not_passed(cases: &[CaseResult]) -> Vec<&CaseResult> {
    cases
        .iter()
        .filter(|c| !matches!(c.status, Status::Passed | Status::Skipped))
        .collect()
}
