//! The relay suite's own ceiling: events per second through a do-nothing in-process relay,
//! driven by the relay suite (generation, send, sink, history, judgement) against a raw HTTP
//! client pushing the same pre-encoded requests through the same relay to a do-nothing sink,
//! in the same run; and the peak RSS of a large suite run (in a child process, so that the
//! figure is the suite's alone).
//!
//! ```text
//! cargo bench -p cdevents-conformance --bench relay                       # 20,000 events, RSS at 1,000,000
//! cargo bench -p cdevents-conformance --bench relay -- --events 5000 --rss-events 200000
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cdevents_suites::drivers::relay::{check, Claims, Harness, RelayConfig, Stream};
use cdevents_suites::wire::{Mode, WireRequest};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

const CONCURRENCY: usize = 8;

/// A relay that does nothing but pass each request on and answer what downstream answered.
async fn null_relay(forward: String) -> SocketAddr {
    let client = reqwest::Client::new();
    serve(move |req: hyper::Request<hyper::body::Incoming>| {
        let (client, forward) = (client.clone(), forward.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let mut rb = client.post(&forward);
            for (n, v) in &parts.headers {
                if n != "host" && n != "content-length" {
                    rb = rb.header(n, v);
                }
            }
            let status = match rb.body(body).send().await {
                Ok(r) if r.status().is_success() => 202,
                _ => 502,
            };
            Ok::<_, Infallible>(
                hyper::Response::builder()
                    .status(status)
                    .body(Full::new(Bytes::new()))
                    .unwrap(),
            )
        }
    })
    .await
}

/// A sink that answers 204 to everything.
async fn null_sink() -> SocketAddr {
    serve(|req: hyper::Request<hyper::body::Incoming>| async move {
        let _ = req.into_body().collect().await;
        Ok::<_, Infallible>(
            hyper::Response::builder()
                .status(204)
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
    })
    .await
}

async fn serve<F, Fut>(f: F) -> SocketAddr
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<hyper::Response<Full<Bytes>>, Infallible>>
        + Send
        + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                continue;
            };
            let f = f.clone();
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(s), service_fn(f))
                    .await;
            });
        }
    });
    addr
}

async fn raw(n: u64) -> f64 {
    let sink = null_sink().await;
    let relay = null_relay(format!("http://{sink}/")).await;
    let stream = Stream::new(
        cdevents_schemas::SpecVersion::DEFAULT,
        1,
        n,
        chrono::Utc::now(),
    )
    .unwrap();
    let reqs: Arc<Vec<WireRequest>> = Arc::new(
        (0..n)
            // The same bytes the suite sends (no Content-Type for events without a
            // datacontenttype: `Stream::request`).
            .map(|s| Stream::request(stream.event(s), Mode::Binary))
            .collect(),
    );
    let client = reqwest::Client::new();
    let url = format!("http://{relay}/");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY {
        let (client, url, reqs) = (client.clone(), url.clone(), reqs.clone());
        tasks.push(tokio::spawn(async move {
            for r in reqs.iter().skip(w).step_by(CONCURRENCY) {
                let mut b = client.post(&url);
                for (k, v) in &r.headers {
                    b = b.header(k.as_str(), v.as_str());
                }
                let _ = b.body(r.body.clone()).send().await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// One suite run through the null relay: events/s from the first send to the judgement done.
async fn suite(n: u64) -> (f64, String) {
    let mut h = Harness::start(RelayConfig {
        count: n,
        concurrency: CONCURRENCY,
        ..RelayConfig::default()
    })
    .await
    .unwrap();
    let relay = null_relay(h.sink_url()).await;
    h.set_target(&format!("http://{relay}/")).unwrap();
    let started = Instant::now();
    h.send_all(Duration::from_secs(3600)).await;
    h.drain(
        Duration::from_secs(60),
        Duration::from_secs(5),
        Duration::ZERO,
    )
    .await;
    let (history, stream) = h.finish();
    let j = check(&history, &stream, &Claims::default(), None);
    let rate = n as f64 / started.elapsed().as_secs_f64();
    (rate, j.observed.sentence())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|x| x.parse().ok()))
        })
        .unwrap_or(0)
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    if std::env::args().any(|a| a == "--rss-child") {
        let n = arg("--rss-child", 1_000_000);
        let started = Instant::now();
        let (rate, sentence) = rt.block_on(suite(n));
        println!(
            "suite run of {n} events: {rate:.0} events/s, {:.1}s, peak RSS {:.1} MiB; {sentence}",
            started.elapsed().as_secs_f64(),
            peak_rss_kib() as f64 / 1024.0
        );
        return;
    }
    let n = arg("--events", 20_000);
    let rounds = arg("--rounds", 3);
    // `--stage raw|suite` runs one side only (for instruction counts: `perf stat -e
    // instructions:u`, callgrind); the ratio needs both.
    let stage = std::env::args()
        .skip_while(|a| a != "--stage")
        .nth(1)
        .unwrap_or_default();
    if !stage.is_empty() {
        for r in 0..rounds {
            if stage == "raw" {
                println!("round {r}: raw client {:.0} events/s", rt.block_on(raw(n)));
            } else {
                let (b, sentence) = rt.block_on(suite(n));
                println!("round {r}: relay suite {b:.0} events/s ({sentence})");
            }
        }
        return;
    }
    let mut raws = Vec::new();
    let mut suites = Vec::new();
    for r in 0..rounds {
        let a = rt.block_on(raw(n));
        let (b, sentence) = rt.block_on(suite(n));
        println!("round {r}: raw client {a:.0} events/s, relay suite {b:.0} events/s ({sentence})");
        raws.push(a);
        suites.push(b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (median(&mut raws), median(&mut suites));
    println!(
        "median over {rounds} rounds of {n} events, concurrency {CONCURRENCY}: raw client {a:.0} events/s, relay suite {b:.0} events/s = {:.1}% of raw",
        100.0 * b / a
    );
    let big = arg("--rss-events", 1_000_000);
    if big > 0 {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args(["--rss-child", &big.to_string()])
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
}
