//! Throughput of the role drivers against raw HTTP baselines measured in the same run, and the
//! wall time of the default listener suite against the reference listener (BENCHMARKS.md).
//!
//! ```sh
//! cargo bench -p cdevents-suites --bench drivers                        # all stages
//! cargo bench -p cdevents-suites --bench drivers -- --events 2000 --rounds 3 --concurrency 8
//! ```
//!
//! | stage | what is timed |
//! |---|---|
//! | `listener_raw` | reqwest posting the driver's requests (same bytes, same concurrency) to a trivial in-process listener that reads each body and answers 204; no checks |
//! | `listener_driver` | `drivers::listener::run` sending and judging the same cases against the same listener (preflight and run-wide checks included) |
//! | `sink_raw` | the same load generator posting binary-mode events to a raw hyper server that only reads bodies |
//! | `sink_judged` (table row `sink`) | the same load into the sender suite's `Sink`, then `judge` over its recording |
//! | `suite_wall` | the default listener suite (`cases(&Options::default())`, default `RunConfig`) against `reference listener`, preflight to last result |
//!
//! Everything runs in one process on a 2-worker tokio runtime: the load generator shares the
//! cores with the server it loads, in the baseline and the measured stage alike. Figures are
//! medians of the rounds; ratios are against the baseline of the same run.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use cdevents_schemas::{catalogue, Registry, SpecVersion};
use cdevents_suites::drivers::listener::{cases, run, Case, Options, Payload, RunConfig};
use cdevents_suites::drivers::sender::{judge, Claims, Sink, SinkConfig};
use cdevents_suites::faults::FaultPlan;
use cdevents_suites::generators::sample;
use cdevents_suites::reference::listener::{spawn_reference_listener, Config};
use cdevents_suites::requirements::Catalogue;
use cdevents_suites::wire::{ce_attributes_for, encode, Mode, WireRequest};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

struct Args {
    events: usize,
    rounds: usize,
    concurrency: usize,
    /// `--only listener` (both listener stages), `listener_raw`, `listener_driver`, `sink`
    /// (both sink stages), `sink_raw`, `sink_judged`, `suite_wall` or `none`: those stages
    /// alone, for profiling them (`none` measures the set-up).
    only: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        events: 3000,
        rounds: 5,
        concurrency: 8,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{arg} needs a number"))
        };
        match arg.as_str() {
            "--events" => a.events = value(),
            "--rounds" => a.rounds = value(),
            "--concurrency" => a.concurrency = value(),
            "--only" => a.only = it.next(),
            // cargo bench passes `--bench`; other flags are libtest's, not ours.
            _ => {}
        }
    }
    a
}

/// A listener that reads each body and answers 204: the cheapest correct listener.
async fn trivial_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(|req: Request<Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    Ok::<_, Infallible>(
                        Response::builder()
                            .status(204)
                            .body(Empty::<Bytes>::new())
                            .unwrap(),
                    )
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// Posts every request with `concurrency` in flight; no checks.
async fn load(url: &str, requests: Arc<Vec<WireRequest>>, concurrency: usize) -> usize {
    let client = reqwest::Client::new();
    let mut set = JoinSet::new();
    let mut next = 0;
    let mut ok = 0;
    loop {
        while set.len() < concurrency && next < requests.len() {
            let (client, url, reqs) = (client.clone(), url.to_owned(), requests.clone());
            let i = next;
            next += 1;
            set.spawn(async move {
                let r = &reqs[i];
                let mut b = client.post(&url);
                for (n, v) in &r.headers {
                    b = b.header(n.as_str(), v.as_str());
                }
                match b.body(r.body.clone()).send().await {
                    Ok(res) => res.bytes().await.is_ok(),
                    Err(_) => false,
                }
            });
        }
        match set.join_next().await {
            Some(Ok(true)) => ok += 1,
            Some(_) => {}
            None => break,
        }
    }
    ok
}

/// The median; NaN for a stage that did not run (`--only`).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The well-formed (concurrent) cases of the listener suite, enough for `events` requests.
fn listener_cases(events: usize) -> Vec<Case> {
    let per_type = cases(&Options::default())
        .iter()
        .filter(|c| !c.sequential())
        .count()
        .max(1);
    let all = cases(&Options {
        cases_per_type: events.div_ceil(per_type).max(1),
        ..Options::default()
    });
    all.into_iter()
        .filter(|c| !c.sequential() && matches!(c.payload, Payload::Http(_)))
        .take(events)
        .collect()
}

/// Binary-mode deliveries of distinct valid events, as a sender would post them.
fn sender_requests(events: usize) -> Vec<WireRequest> {
    let cat = catalogue::for_version(SpecVersion::DEFAULT);
    let types: Vec<String> = cat.events.iter().map(|e| e.type_name.clone()).collect();
    (0..events)
        .map(|i| {
            let t = &types[i % types.len()];
            let ev = sample(SpecVersion::DEFAULT, t, i as u64).expect("a sample event");
            encode(Mode::Binary, &[(ce_attributes_for(&ev), ev)])
        })
        .collect()
}

fn main() {
    let a = args();
    let stage = |name: &str| match a.only.as_deref() {
        None => true,
        Some(group @ ("listener" | "sink")) => name.starts_with(group),
        Some(o) => o == name,
    };
    let any_sink = stage("sink_raw") || stage("sink_judged");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let registry = Registry::embedded().unwrap();
    // Loaded once per process (the runner has it before any case runs): not a cost per round.
    let _ = Catalogue::embedded();

    let cases = listener_cases(a.events);
    let listener_requests: Arc<Vec<WireRequest>> = Arc::new(
        cases
            .iter()
            .filter_map(|c| c.payload.request().cloned())
            .collect(),
    );
    let sends = cases.len() + 1; // the preflight
    let sender = Arc::new(if any_sink {
        sender_requests(a.events)
    } else {
        Vec::new()
    });
    println!(
        "listener: {} cases ({} requests), sender: {} events, concurrency {}, {} rounds",
        cases.len(),
        sends,
        sender.len(),
        a.concurrency,
        a.rounds
    );

    let mut t = [vec![], vec![], vec![], vec![], vec![]];
    let mut suite_cases = 0;
    rt.block_on(async {
        let trivial = format!("http://{}/events", trivial_server().await);
        let raw_sink = format!("http://{}/", trivial_server().await);
        let (reference, _handle) = spawn_reference_listener(Config::default()).await.unwrap();
        let default_cases = cases_default();
        suite_cases = default_cases.len();
        for round in 0..a.rounds {
            // listener_raw
            if stage("listener_raw") {
                let t0 = Instant::now();
                let n = load(&trivial, listener_requests.clone(), a.concurrency).await;
                assert_eq!(n, listener_requests.len(), "every raw request answered");
                t[0].push(n as f64 / t0.elapsed().as_secs_f64());
            }

            // listener_driver
            if stage("listener_driver") {
                let cfg = RunConfig {
                    target: trivial.clone(),
                    concurrency: a.concurrency,
                    ..RunConfig::default()
                };
                let mut results = 0usize;
                // The copy of the cases is the bench's, not the driver's: made before the clock.
                let round_cases = cases.clone();
                let t0 = Instant::now();
                run(&cfg, round_cases, |_| results += 1).await.unwrap();
                t[1].push(sends as f64 / t0.elapsed().as_secs_f64());
                assert!(results >= cases.len());
            }
            // sink_raw
            if stage("sink_raw") {
                let t0 = Instant::now();
                let n = load(&raw_sink, sender.clone(), a.concurrency).await;
                assert_eq!(n, sender.len());
                t[2].push(sender.len() as f64 / t0.elapsed().as_secs_f64());
            }

            // sink_judged: received, recorded, decoded, then judged
            if stage("sink_judged") {
                let sink = Sink::start(SinkConfig::default()).await.unwrap();
                let t0 = Instant::now();
                let n = load(&sink.url(), sender.clone(), a.concurrency).await;
                let rec = sink.stop();
                let judged = judge(
                    &rec,
                    &Claims::default(),
                    &FaultPlan::none(),
                    None,
                    &registry,
                    None,
                );
                t[3].push(sender.len() as f64 / t0.elapsed().as_secs_f64());
                assert_eq!(n, sender.len());
                assert!(!judged.is_empty());
            }

            // suite_wall
            if stage("suite_wall") {
                let cfg = RunConfig {
                    target: format!("http://{reference}/events"),
                    ..RunConfig::default()
                };
                let t0 = Instant::now();
                run(&cfg, default_cases.clone(), |_| ()).await.unwrap();
                t[4].push(t0.elapsed().as_secs_f64());
            }
            eprintln!("round {round} done");
        }
    });

    let [lraw, ldrv, sraw, sink, wall] = t.map(median);
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    println!();
    println!("| stage | events/s | vs baseline | target |");
    println!("|---|---:|---:|---|");
    println!("| listener_raw (reqwest, no checks) | {lraw:.0} | 100% | |");
    println!(
        "| listener_driver (sent and judged) | {ldrv:.0} | {} | >= 80% |",
        pct(ldrv / lraw)
    );
    println!("| sink_raw (hyper, bodies read) | {sraw:.0} | 100% | |");
    println!(
        "| sink (received, decoded, judged) | {sink:.0} | {} | >= 70% |",
        pct(sink / sraw)
    );
    println!(
        "| suite_wall: default listener suite vs reference listener ({suite_cases} cases) | {wall:.2} s | | < 10 s |"
    );
    println!(
        "RESULT listener_raw_eps={lraw:.0} listener_driver_eps={ldrv:.0} listener_ratio={:.4} \
         sink_raw_eps={sraw:.0} sink_eps={sink:.0} sink_ratio={:.4} suite_wall_s={wall:.3} \
         suite_cases={suite_cases}",
        ldrv / lraw,
        sink / sraw
    );
}

fn cases_default() -> Vec<Case> {
    cases(&Options::default())
}
