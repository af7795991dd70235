//! The roles of the self-test, one [`RoleEntry`] each: how to run its suite against its
//! reference implementation, conformant or broken by one fault, in-process on loopback.

use std::sync::OnceLock;
use std::time::Duration;

use cdevents_reports::model::CaseResult;
use cdevents_schemas::Registry;

use super::{PlannedRun, RoleEntry, RunFuture};
use crate::drivers::listener::{self, Case, Observer, Options, RunConfig, Secret};
use crate::drivers::relay::{self, check, fetch_dead_letters, Harness, Judgement, RelayConfig};
use crate::drivers::sender::{judge, Claims, Guarantee, Ordering, Sink, SinkConfig};
use crate::faults::FaultPlan;
use crate::reference::listener::{spawn_reference_listener, Config, Fault};
use crate::reference::relay::{
    self as reference_relay, spawn_reference_relay, RelayFault, RelayOrdering,
};
use crate::reference::sender::{run_reference_sender, SenderConfig, SenderFault};
use crate::wire::Mode;

/// Every role, in the order the self-test reports them.
pub fn all() -> Vec<RoleEntry> {
    vec![LISTENER, SENDER, RELAY]
}

/// The listener suite against the reference listener.
pub const LISTENER: RoleEntry = RoleEntry {
    role: "listener",
    plan: listener_plan,
};

/// The sender suite's sink and judge against the reference sender.
pub const SENDER: RoleEntry = RoleEntry {
    role: "sender",
    plan: sender_plan,
};

/// The relay suite at both ends of the reference relay.
pub const RELAY: RoleEntry = RoleEntry {
    role: "relay",
    plan: relay_plan,
};

/// What the relay runs claim: the reference relay's promise (with per-subject lanes).
pub const RELAY_CLAIMS: relay::Claims = relay::Claims {
    guarantee: Guarantee::ExactlyOnce,
    ordering: Ordering::PerSubject,
};

/// Events per relay run: enough for every fault to show (drop-every-10th loses 12) and to
/// carry two events near 64 KiB and six of each other special kind.
const RELAY_EVENTS: u64 = 120;

/// One relay run: how the reference relay is started (its fault and options), the sink's
/// fault plan, and the claims judged. A reference with other options makes other claims:
/// with `--ordering total` the relay claims total order, and is judged on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelaySetup {
    /// The promise broken, if any.
    pub fault: Option<RelayFault>,
    /// The relay's `--ordering`.
    pub ordering: RelayOrdering,
    /// The relay's `--forward-mode` (`None`: as received).
    pub forward_mode: Option<Mode>,
    /// The sink's fault plan.
    pub plan: &'static str,
    /// What the run claims.
    pub claims: relay::Claims,
    /// The mode the kit sends in.
    pub send_mode: Mode,
}

impl RelaySetup {
    /// The conformant relay with per-subject lanes, forwarding in structured mode what the
    /// kit sends in binary (so that the data's type must cross), sink faults `transient`.
    pub const REFERENCE: RelaySetup = RelaySetup {
        fault: None,
        ordering: RelayOrdering::PerSubject,
        forward_mode: Some(Mode::Structured),
        plan: "transient,delay=100ms,retry-after=0",
        claims: RELAY_CLAIMS,
        send_mode: Mode::Binary,
    };

    /// The conformant relay with one lane (`--ordering total`), claiming total order.
    pub const TOTAL: RelaySetup = RelaySetup {
        fault: None,
        ordering: RelayOrdering::Total,
        forward_mode: None,
        plan: "transient,delay=100ms,retry-after=0",
        claims: relay::Claims {
            guarantee: Guarantee::ExactlyOnce,
            ordering: Ordering::Total,
        },
        send_mode: Mode::Binary,
    };

    /// The relay broken by `f`, with the options and sink plan that show it.
    pub fn fault(f: RelayFault) -> RelaySetup {
        let ordering = f.ordering();
        RelaySetup {
            fault: Some(f),
            ordering,
            forward_mode: f.forward_mode(),
            plan: f.exposed_by(),
            claims: relay::Claims {
                guarantee: Guarantee::ExactlyOnce,
                ordering: match ordering {
                    RelayOrdering::PerSubject => Ordering::PerSubject,
                    RelayOrdering::Total => Ordering::Total,
                },
            },
            send_mode: Mode::Binary,
        }
    }

    /// The same with another sink plan.
    pub fn with_plan(self, plan: &'static str) -> RelaySetup {
        RelaySetup { plan, ..self }
    }

    /// The same with the relay forwarding in `forward_mode` what the kit sends in `send_mode`.
    pub fn with_modes(self, send_mode: Mode, forward_mode: Option<Mode>) -> RelaySetup {
        RelaySetup {
            send_mode,
            forward_mode,
            ..self
        }
    }

    /// What the self-test says the run is.
    fn about(&self) -> String {
        let options = reference_relay::options(self.ordering, self.forward_mode);
        let what = match self.fault {
            Some(f) => f.describe().to_owned(),
            None => format!(
                "the conformant reference relay, claiming {} and {} order",
                self.claims.guarantee, self.claims.ordering
            ),
        };
        let options = if options.is_empty() {
            String::new()
        } else {
            format!("{options}, ")
        };
        format!("{what} ({options}sink faults `{}`)", self.plan)
    }
}

fn relay_plan() -> Vec<PlannedRun> {
    let run = |setup: RelaySetup| PlannedRun {
        role: "relay",
        fault: setup.fault.map(RelayFault::name),
        about: setup.about(),
        breaks: setup.fault.map(RelayFault::breaks).unwrap_or(&[]),
        start: Box::new(move || {
            Box::pin(async move { run_relay_suite(&setup, RELAY_EVENTS).await.map(|j| j.cases) })
                as RunFuture
        }),
    };
    [RelaySetup::REFERENCE, RelaySetup::TOTAL]
        .into_iter()
        .chain(RelayFault::ALL.into_iter().map(RelaySetup::fault))
        .map(run)
        .collect()
}

/// The relay suite streaming `count` events (in the setup's mode) through a reference relay set
/// up as `setup` says into its sink, judged against the setup's claims with the relay's
/// dead letters.
pub async fn run_relay_suite(setup: &RelaySetup, count: u64) -> Result<Judgement, String> {
    let mut h = Harness::start(RelayConfig {
        count,
        concurrency: 8,
        plan: FaultPlan::parse(setup.plan).map_err(|e| e.to_string())?,
        seed: 11,
        timeout: Duration::from_secs(5),
        ordering: setup.claims.ordering,
        mode: setup.send_mode,
        ..RelayConfig::default()
    })
    .await
    .map_err(|e| format!("cannot start the relay suite's sink: {e}"))?;
    let (addr, _relay) = spawn_reference_relay(reference_relay::Config {
        forward: h.sink_url(),
        fault: setup.fault,
        ordering: setup.ordering,
        forward_mode: setup.forward_mode,
        // Generous: a forward the sink acknowledged but the relay gave up waiting for is
        // forwarded again, a duplicate the exactly-once claim would be failed for on a loaded
        // machine. The sink's `delay` fault answers 503 after its delay, so no fault needs
        // the relay to time out.
        timeout: Duration::from_secs(3),
        ..reference_relay::Config::default()
    })
    .await
    .map_err(|e| format!("cannot start the reference relay: {e}"))?;
    h.set_target(&format!("http://{addr}/"))
        .map_err(|e| e.to_string())?;
    let sent = h.send_all(Duration::from_secs(30)).await;
    if let Some(why) = sent.stopped {
        return Err(format!("the stream stopped early: {why}"));
    }
    let quiet = h.quiet_period(Duration::from_millis(500));
    h.drain(Duration::from_secs(15), quiet, Duration::from_millis(200))
        .await;
    let dead = fetch_dead_letters(
        &format!("http://{addr}/dead-letters"),
        Duration::from_secs(2),
    )
    .await
    .map_err(|e| format!("cannot read the dead letters: {e}"))?;
    let (history, stream) = h.finish();
    Ok(check(&history, &stream, &setup.claims, Some(&dead)))
}

fn listener_plan() -> Vec<PlannedRun> {
    let reference = PlannedRun {
        role: "listener",
        fault: None,
        about: "the conformant reference listener".into(),
        breaks: &[],
        start: Box::new(|| Box::pin(run_listener_suite(None)) as RunFuture),
    };
    std::iter::once(reference)
        .chain(Fault::ALL.into_iter().map(|f| PlannedRun {
            role: "listener",
            fault: Some(f.name()),
            about: f.describe().to_owned(),
            breaks: f.breaks(),
            start: Box::new(move || Box::pin(run_listener_suite(Some(f))) as RunFuture),
        }))
        .collect()
}

/// The access token the kit and the reference listener share in every listener run (WH-014):
/// characters the query parameter must percent-encode, so that both the encoding and the
/// redaction of its encoded form are exercised.
pub const LISTENER_TOKEN: &str = "kit-s3cret+/token";

/// The default corpus with a 2 MiB oversized body, built once (it is pure).
fn listener_corpus() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        listener::cases(&Options {
            oversize_bytes: 2 << 20,
            webhook: true,
            ..Options::default()
        })
    })
}

/// The listener suite's default corpus (with the webhook handshake profile) against a reference
/// listener on a free loopback port, conformant or broken by `fault`; observed: the listener
/// forwards what it takes to the kit's sink, so the forwarding faults are judged too.
pub async fn run_listener_suite(fault: Option<Fault>) -> Result<Vec<CaseResult>, String> {
    let observer = Observer::start(
        "127.0.0.1:0".parse().expect("a socket address"),
        Duration::from_secs(1),
    )
    .await
    .map_err(|e| format!("cannot start the observation sink: {e}"))?;
    let (addr, handle) = spawn_reference_listener(Config {
        fault,
        max_body: 1 << 20,
        forward: Some(observer.url()),
        token: Some(LISTENER_TOKEN.to_owned()),
        ..Config::default()
    })
    .await
    .map_err(|e| format!("cannot start the reference listener: {e}"))?;
    let reproduce = format!("cdevents-conformance test listener --target http://{addr}/events");
    let cfg = RunConfig {
        target: format!("http://{addr}/events"),
        // Generous: the fault runs share two cores with the rest of the test suite, and the
        // first answer of each reference listener compiles its schemas.
        timeout: Duration::from_secs(2),
        budget: Duration::from_secs(60),
        concurrency: 8,
        reproduce: Some(reproduce),
        token: Secret::new(LISTENER_TOKEN),
        ..RunConfig::default()
    };
    let mut out = Vec::new();
    let result = listener::run_observed(&cfg, listener_corpus().to_vec(), Some(&observer), |r| {
        out.push(r)
    })
    .await;
    drop(handle);
    result.map_err(|e| e.to_string())?;
    Ok(out)
}

/// Sink fault plans the reference sender is judged under when conformant (each seeded): the
/// plain run, and every plan that exposes one of its faults, so that a fault run failing
/// something is the fault's doing, not the plan's.
const SENDER_REFERENCE_PLANS: &[(&str, Mode, u64)] = &[
    ("none", Mode::Binary, 7),
    ("none", Mode::Structured, 2),
    ("none", Mode::Batch, 3),
    ("503:0.5", Mode::Binary, 7),
    ("503:1,max=4", Mode::Binary, 7),
    ("400:0.3", Mode::Binary, 7),
    ("429:0.3,max=1", Mode::Binary, 7),
    ("redirect:0.3,max=1", Mode::Binary, 7),
    ("410:0.2,max=1", Mode::Binary, 7),
    ("transient,delay=1200ms,retry-after=1", Mode::Binary, 4),
];

/// The seed and mode of every fault run.
const SENDER_FAULT_SEED: u64 = 7;

fn sender_plan() -> Vec<PlannedRun> {
    let references = SENDER_REFERENCE_PLANS
        .iter()
        .map(|&(plan, mode, seed)| PlannedRun {
            role: "sender",
            fault: None,
            about: format!("the conformant reference sender, sink faults `{plan}`, {mode} mode"),
            breaks: &[],
            start: Box::new(move || {
                Box::pin(run_sender_suite(None, plan, mode, seed)) as RunFuture
            }),
        });
    let webhook = PlannedRun {
        role: "sender",
        fault: None,
        about: "the conformant reference sender, webhook profile with an access token".into(),
        breaks: &[],
        start: Box::new(|| {
            Box::pin(run_sender_suite_in(
                None,
                "none",
                Mode::Binary,
                SENDER_FAULT_SEED,
                true,
            )) as RunFuture
        }),
    };
    references
        .chain(std::iter::once(webhook))
        .chain(SenderFault::ALL.into_iter().map(|f| PlannedRun {
            role: "sender",
            fault: Some(f.name()),
            about: format!("{} (sink faults `{}`)", f.describe(), f.exposed_by()),
            breaks: f.breaks(),
            start: Box::new(move || {
                // A batch fault the sink asked for is judged with batches allowed.
                let mode = if f.batch_asked() {
                    Mode::Batch
                } else {
                    Mode::Binary
                };
                Box::pin(run_sender_suite_in(
                    Some(f),
                    f.exposed_by(),
                    mode,
                    SENDER_FAULT_SEED,
                    f.webhook_profile(),
                )) as RunFuture
            }),
        }))
        .collect()
}

/// The reference sender (conformant or broken by `fault`) delivering 12 events to the sender
/// suite's sink under the fault plan `plan`, judged against exactly-once, per-subject claims.
pub async fn run_sender_suite(
    fault: Option<SenderFault>,
    plan: &str,
    mode: Mode,
    seed: u64,
) -> Result<Vec<CaseResult>, String> {
    run_sender_suite_in(fault, plan, mode, seed, false).await
}

/// The origin the reference sender names in the self-test's webhook runs.
pub const SENDER_ORIGIN: &str = "reference-sender.cdevents-conformance.invalid";
/// The access token of the self-test's webhook runs: characters a query must percent-encode.
pub const SENDER_TOKEN: &str = "snd-s3cret+/token";

/// [`run_sender_suite`], in the webhook profile (handshake required, with [`SENDER_TOKEN`])
/// when `webhook` is set.
pub async fn run_sender_suite_in(
    fault: Option<SenderFault>,
    plan: &str,
    mode: Mode,
    seed: u64,
    webhook: bool,
) -> Result<Vec<CaseResult>, String> {
    let plan = FaultPlan::parse(plan).map_err(|e| e.to_string())?;
    let sink = Sink::start(SinkConfig {
        plan: plan.clone(),
        seed,
        webhook,
        ..SinkConfig::default()
    })
    .await
    .map_err(|e| format!("cannot start the sink: {e}"))?;
    let cfg = SenderConfig {
        target: sink.url(),
        count: 12,
        mode,
        seed,
        fault,
        // Long enough that a loaded machine does not time out an answered request (which
        // would redeliver an acknowledged event); the delayed plans hold answers past it.
        timeout: Duration::from_millis(1000),
        base_backoff: Duration::from_millis(20),
        webhook_origin: webhook.then(|| SENDER_ORIGIN.to_owned()),
        token: webhook.then(|| SENDER_TOKEN.to_owned()),
        ..SenderConfig::default()
    };
    let outcome = run_reference_sender(&cfg)
        .await
        .map_err(|e| e.to_string())?;
    // A delayed answer is recorded when it is given.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rec = sink.stop();
    let claims = Claims {
        guarantee: Guarantee::ExactlyOnce,
        ordering: Ordering::PerSubject,
        allow_batch: mode == Mode::Batch,
        webhook,
        token: webhook.then(|| SENDER_TOKEN.to_owned()),
    };
    let registry = Registry::embedded().map_err(|e| e.to_string())?;
    Ok(judge(
        &rec,
        &claims,
        &plan,
        Some(&outcome.manifest),
        &registry,
        None,
    ))
}
