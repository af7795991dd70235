//! The intermediary (relay) suite's driver: the kit stands at both ends. Its sender streams
//! lifecycle sequences ([`stream`]) into the intermediary under test; its [`Sink`] (the sender
//! suite's, with the same seeded [fault plans](crate::faults)) receives what comes out and
//! answers some deliveries badly so that the intermediary must redeliver. Both ends write one
//! compact record per event into the [`History`]; the [`checker`] judges it afterwards, like a
//! history checker: lost, duplicated, reordered, mutated, latency and throughput, against the
//! claimed guarantee and ordering. `docs/relay.md` defines every term in observable terms.
//!
//! The kit never has two events of one subject in flight at once (each is sent once the one
//! before was acknowledged), so the order in which the intermediary acknowledged a subject's
//! events is the order they were generated in. With a `total` ordering claim the kit sends one
//! event at a time, for the same reason over all events.

pub mod checker;
pub mod history;
pub mod stream;

pub use checker::{
    check, observe, thousands, Claims, DeadLetter, Judgement, Observed, CASES, MIN_EVENTS,
};
pub use history::{EventRecord, Field, History, Shape};
pub use stream::{Planned, Stream, StreamError, SEQ_EXTENSION, SOURCE};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cdevents_schemas::SpecVersion;

use crate::drivers::listener::{Client, SendError, Target};
use crate::drivers::sender::{Delivery, Observer, Ordering, Sink, SinkConfig};
use crate::faults::FaultPlan;
use crate::wire::{encode, Mode};

/// How to run the relay suite.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The intermediary's URL, where the kit sends.
    pub target: String,
    /// Where the kit's sink listens.
    pub listen: SocketAddr,
    /// Events to send.
    pub count: u64,
    /// Events per second at most; `None`: as fast as the intermediary acknowledges.
    pub rate: Option<f64>,
    /// Requests in flight at once (1 with a `total` ordering claim).
    pub concurrency: usize,
    /// Which deliveries the sink answers badly.
    pub plan: FaultPlan,
    /// Seeds the events and the fault schedule.
    pub seed: u64,
    /// The CDEvents version of the events.
    pub spec: SpecVersion,
    /// The content mode the kit sends in.
    pub mode: Mode,
    /// Time allowed for one request to the intermediary.
    pub timeout: Duration,
    /// Most sends of one event to the intermediary.
    pub max_attempts: u32,
    /// The ordering claim (a `total` claim sends one event at a time).
    pub ordering: Ordering,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            target: String::new(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            count: 100,
            rate: None,
            concurrency: 8,
            plan: FaultPlan::none(),
            seed: 0,
            spec: SpecVersion::DEFAULT,
            mode: Mode::Binary,
            timeout: Duration::from_secs(5),
            max_attempts: 5,
            ordering: Ordering::None,
        }
    }
}

/// Why the suite could not run.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The target is no URL.
    #[error("{0}")]
    Target(String),
    /// The sink could not listen.
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    /// The events could not be generated.
    #[error(transparent)]
    Stream(#[from] StreamError),
}

/// What the kit's sender saw.
#[derive(Debug, Clone, Default)]
pub struct SendStats {
    /// Requests made to the intermediary.
    pub requests: u64,
    /// Events acknowledged.
    pub acked: u64,
    /// Events the intermediary never acknowledged, with the last reason (at most 20).
    pub not_acked: Vec<(u64, String)>,
    /// Events never acknowledged, in all.
    pub not_acked_count: u64,
    /// The run stopped early (budget, or the intermediary unreachable).
    pub stopped: Option<String>,
}

/// A relay run in progress: the sink is up, the history is filling.
pub struct Harness {
    cfg: RelayConfig,
    stream: Arc<Stream>,
    history: Arc<Mutex<History>>,
    sink: Sink,
    started: Instant,
    client: Option<Client>,
}

fn lock(h: &Mutex<History>) -> std::sync::MutexGuard<'_, History> {
    h.lock().unwrap_or_else(|e| e.into_inner())
}

fn micros(since: Instant) -> u64 {
    since.elapsed().as_micros() as u64
}

fn observe_delivery(stream: &Stream, history: &Mutex<History>, started: Instant, d: &Delivery) {
    let at = micros(started);
    if d.events.is_empty() {
        lock(history).undecodable += 1;
        return;
    }
    for e in &d.events {
        let seq = (e.source == SOURCE).then(|| stream.seq_of(&e.id)).flatten();
        let Some(seq) = seq else {
            lock(history).unknown(&e.id);
            continue;
        };
        let digest = Shape::digest_of(e.envelope.ce.as_ref(), &e.envelope.cdevent);
        let (sent_digest, want_example) = {
            let h = lock(history);
            (
                h.records.get(seq as usize).map(|r| r.digest).unwrap_or(0),
                h.wants_mutation_example(),
            )
        };
        let mut mask = 0;
        let mut example = None;
        if digest != sent_digest {
            let shape = Shape::of(e.envelope.ce.as_ref(), &e.envelope.cdevent);
            let p = stream.event(seq);
            let sent = Shape::of(Some(&p.ce), &p.event);
            mask = shape.diff_mask(&sent);
            if mask != 0 && want_example {
                example = Some(shape.describe_diff(&sent));
            }
        }
        let mut h = lock(history);
        h.arrived(seq, at, d.status, d.fault.kind(), mask);
        if let Some(x) = example {
            if h.wants_mutation_example() {
                h.mutation_examples.push((seq, x));
            }
        }
    }
}

impl Harness {
    /// Starts the sink and prepares the stream.
    pub async fn start(cfg: RelayConfig) -> Result<Harness, RelayError> {
        let client = if cfg.target.is_empty() {
            None
        } else {
            Some(client_for(&cfg.target, cfg.timeout)?)
        };
        let stream = Arc::new(Stream::new(
            cfg.spec,
            cfg.seed,
            cfg.count,
            chrono::Utc::now(),
        )?);
        let history = Arc::new(Mutex::new(History::new(cfg.count as usize)));
        let started = Instant::now();
        let (s, h) = (stream.clone(), history.clone());
        let sink = Sink::start(SinkConfig {
            listen: cfg.listen,
            plan: cfg.plan.clone(),
            seed: cfg.seed,
            max_body: 1 << 20,
            retain: false,
            observer: Some(Observer(Arc::new(move |d: &Delivery| {
                observe_delivery(&s, &h, started, d)
            }))),
            ..SinkConfig::default()
        })
        .await
        .map_err(|e| RelayError::Listen(cfg.listen, e))?;
        Ok(Harness {
            cfg,
            stream,
            history,
            sink,
            started,
            client,
        })
    }

    /// Sets the intermediary's URL (when it could only be started once the sink's URL was
    /// known).
    pub fn set_target(&mut self, url: &str) -> Result<(), RelayError> {
        self.client = Some(client_for(url, self.cfg.timeout)?);
        self.cfg.target = url.to_owned();
        Ok(())
    }

    /// The sink's URL: where the intermediary must forward.
    pub fn sink_url(&self) -> String {
        self.sink.url()
    }

    /// The stream being sent.
    pub fn stream(&self) -> Arc<Stream> {
        self.stream.clone()
    }

    /// The concurrency actually used (1 under a total-order claim).
    pub fn concurrency(&self) -> usize {
        if self.cfg.ordering == Ordering::Total {
            1
        } else {
            self.cfg.concurrency.max(1)
        }
    }

    /// Sends the whole stream, or what `budget` allows.
    pub async fn send_all(&self, budget: Duration) -> SendStats {
        let Some(client) = self.client.clone() else {
            return SendStats {
                stopped: Some("no target to send to".into()),
                ..SendStats::default()
            };
        };
        let workers = self.concurrency() as u64;
        let deadline = tokio::time::Instant::now() + budget;
        let start = tokio::time::Instant::now();
        let stats = Arc::new(Mutex::new(SendStats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let connect_failures = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for w in 0..workers {
            let (stream, history, client) =
                (self.stream.clone(), self.history.clone(), client.clone());
            let (stats, stop, connect_failures) =
                (stats.clone(), stop.clone(), connect_failures.clone());
            let cfg = self.cfg.clone();
            let started = self.started;
            tasks.push(tokio::spawn(async move {
                // The next event is generated, digested and encoded while the current one is
                // in flight (joined with its first send), not between two sends: that work
                // was on every request's critical path.
                let prepare = |seq: u64| {
                    let p = stream.event(seq);
                    let digest = Shape::digest_of(Some(&p.ce), &p.event);
                    (seq, digest, encode(cfg.mode, &[(p.ce, p.event)]))
                };
                let mut mine = (0..stream.len()).filter(|s| stream.subject_of(*s) % workers == w);
                let mut next = mine.next().map(prepare);
                while let Some((seq, digest, req)) = next.take() {
                    if stop.load(AtomicOrdering::Relaxed) {
                        return;
                    }
                    if tokio::time::Instant::now() >= deadline {
                        stop.store(true, AtomicOrdering::Relaxed);
                        lock_stats(&stats).stopped =
                            Some("the --budget ran out before every event was sent".into());
                        return;
                    }
                    if let Some(rate) = cfg.rate.filter(|r| *r > 0.0) {
                        let slot = start + Duration::from_secs_f64(seq as f64 / rate);
                        tokio::time::sleep_until(slot.min(deadline)).await;
                    }
                    let mut last = String::new();
                    let mut acked = false;
                    for attempt in 0..cfg.max_attempts.max(1) {
                        lock(&history).sending(seq, digest, micros(started));
                        lock_stats(&stats).requests += 1;
                        let send = client.send_http(&req, &client.target().url);
                        let sent = if attempt == 0 {
                            let (sent, upcoming) =
                                tokio::join!(send, async { mine.next().map(prepare) });
                            next = upcoming;
                            sent
                        } else {
                            send.await
                        };
                        let (retry, after) = match sent {
                            Ok(r) if (200..300).contains(&r.status) => {
                                lock(&history).acked(seq, micros(started));
                                connect_failures.store(0, AtomicOrdering::Relaxed);
                                acked = true;
                                break;
                            }
                            Ok(r) => {
                                last = format!("answered {}", r.status);
                                let ra = r
                                    .header("retry-after")
                                    .and_then(|v| v.trim().parse::<u64>().ok())
                                    .map(|s| Duration::from_secs(s.min(5)));
                                (matches!(r.status, 408 | 429 | 500..=599), ra)
                            }
                            Err(e) => {
                                if matches!(e, SendError::Connect(_))
                                    && connect_failures.fetch_add(1, AtomicOrdering::Relaxed) + 1
                                        >= 3 * workers
                                    && lock(&history).acked == 0
                                {
                                    stop.store(true, AtomicOrdering::Relaxed);
                                    lock_stats(&stats).stopped =
                                        Some(format!("the intermediary is unreachable: {e}"));
                                }
                                last = e.to_string();
                                (!stop.load(AtomicOrdering::Relaxed), None)
                            }
                        };
                        if !retry || attempt + 1 >= cfg.max_attempts {
                            break;
                        }
                        let step = Duration::from_millis(10 << attempt.min(6));
                        tokio::time::sleep(after.unwrap_or_default().max(step)).await;
                    }
                    let mut st = lock_stats(&stats);
                    if acked {
                        st.acked += 1;
                    } else {
                        st.not_acked_count += 1;
                        if st.not_acked.len() < history::MAX_EXAMPLES {
                            st.not_acked.push((seq, last));
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        let st = lock_stats(&stats).clone();
        st
    }

    /// How long the sink must stay quiet before the run stops waiting: at least `floor`, and
    /// longer than the plan's `Retry-After` and delay, which hold an intermediary back.
    pub fn quiet_period(&self, floor: Duration) -> Duration {
        use crate::faults::FaultKind;
        let margin = Duration::from_millis(500);
        let has = |k: FaultKind| self.cfg.plan.rates.iter().any(|(x, r)| *x == k && *r > 0.0);
        let mut quiet = floor;
        if has(FaultKind::S429) {
            quiet = quiet.max(Duration::from_secs(self.cfg.plan.retry_after_secs.min(60)) + margin);
        }
        if has(FaultKind::Delay) {
            quiet = quiet.max(self.cfg.plan.delay.min(Duration::from_secs(60)) + margin);
        }
        quiet
    }

    /// Waits until every acknowledged event is delivered or refused by the sink, or `timeout`
    /// passed, or nothing reached the sink for `idle`; then `grace` more, for late duplicates.
    /// Returns whether every acknowledged event settled.
    pub async fn drain(&self, timeout: Duration, idle: Duration, grace: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = (self.sink.requests(), tokio::time::Instant::now());
        let settled = loop {
            let done = {
                let h = lock(&self.history);
                h.settled >= h.acked
            };
            if done {
                break true;
            }
            let now = tokio::time::Instant::now();
            let requests = self.sink.requests();
            if requests != last.0 {
                last = (requests, now);
            }
            if now >= deadline || now.duration_since(last.1) >= idle {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        tokio::time::sleep(grace).await;
        settled
    }

    /// Stops the sink and returns the history.
    pub fn finish(self) -> (History, Arc<Stream>) {
        let requests = self.sink.requests();
        drop(self.sink);
        let mut h = std::mem::take(&mut *lock(&self.history));
        h.requests = requests;
        h.elapsed_us = micros(self.started);
        (h, self.stream)
    }
}

fn client_for(url: &str, timeout: Duration) -> Result<Client, RelayError> {
    let target = Target::parse(url).map_err(RelayError::Target)?;
    Client::new(target, timeout).map_err(RelayError::Target)
}

/// Most bytes of a dead-letter report read.
const DEAD_LETTERS_CAP: usize = 8 << 20;

/// Reads an intermediary's dead-letter report: a JSON array of [`DeadLetter`] at `url` (the
/// reference relay serves one at `/dead-letters`). Bounded in time and size.
pub async fn fetch_dead_letters(url: &str, timeout: Duration) -> Result<Vec<DeadLetter>, String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let mut res = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("cannot read the dead letters at {url}: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("{url} answered {}", res.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| format!("cannot read the dead letters at {url}: {e}"))?
    {
        if body.len() + chunk.len() > DEAD_LETTERS_CAP {
            return Err(format!(
                "the dead-letter report at {url} is over {DEAD_LETTERS_CAP} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("the dead-letter report at {url} is not a JSON array of {{id, source, status, reason}}: {e}"))
}

fn lock_stats(s: &Mutex<SendStats>) -> std::sync::MutexGuard<'_, SendStats> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}
