//! The listener suite against hostile listeners: one that never answers, answers byte by byte,
//! answers with gigabytes, closes mid-response, or answers with bytes that are not HTTP.
//!
//! Each fake answers the first `healthy` requests well (so that the preflight passes and the
//! run starts), then misbehaves on every connection. The run must end (bounded by each test's
//! own timeout, never by a timing assertion), report the misbehaviour as errored cases or as
//! failures of the right requirement, and never hold more of an answer than the client's cap.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cdevents_reports::model::{CaseResult, Status};
use cdevents_suites::drivers::listener::{cases, run, Case, Options, RunConfig, RunError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};

/// How a fake listener answers once its healthy requests are used up.
#[derive(Debug, Clone, Copy)]
enum Hostility {
    /// Reads the request, never answers, keeps the connection open.
    Silent,
    /// A correct `204` answer, one byte at a time with a pause between bytes.
    ByteByByte,
    /// A head that never ends: one header byte every 20 ms, forever.
    EndlessDrip,
    /// `200` with `Content-Length: 4 GiB`, streamed from one small buffer.
    Gigabytes,
    /// `200` chunked, chunks streamed forever.
    EndlessChunks,
    /// Half a head, then the connection is closed.
    CloseInHead,
    /// A full head promising 1,000 bytes, 10 of them, then the connection is closed.
    CloseInBody,
    /// Bytes that are not HTTP.
    NotHttp,
    /// A status line with a status code out of range.
    BadStatus,
}

const GOOD: &[u8] = b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n";

/// A fake listener on loopback; counts requests and the bytes of its biggest answer.
struct Fake {
    url: String,
    largest_answer: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn fake(hostility: Hostility, healthy: usize) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let largest_answer = Arc::new(AtomicU64::new(0));
    let largest = largest_answer.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let n = served.fetch_add(1, Ordering::SeqCst);
            let largest = largest.clone();
            tokio::spawn(serve(stream, (n >= healthy).then_some(hostility), largest));
        }
    });
    Fake {
        url,
        largest_answer,
        task,
    }
}

/// Reads one request head (and drains what follows in the background), then answers.
async fn serve(stream: TcpStream, hostility: Option<Hostility>, largest: Arc<AtomicU64>) {
    let (mut rd, mut wr) = stream.into_split();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 1 << 20 {
        match tokio::time::timeout(Duration::from_secs(2), rd.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    // Keep reading (and dropping) the body so the client's writes never block.
    let drain = tokio::spawn(async move {
        let mut buf = [0u8; 64 << 10];
        while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(30), rd.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
        }
    });
    let mut sent = Sent { bytes: 0, largest };
    let _ = answer(&mut wr, hostility, &mut sent).await;
    let _ = wr.shutdown().await;
    drain.abort();
}

/// Bytes of one answer written so far; the fake's largest answer is kept up to date.
struct Sent {
    bytes: u64,
    largest: Arc<AtomicU64>,
}

/// Writes `bytes`, counting them.
async fn put(wr: &mut OwnedWriteHalf, bytes: &[u8], sent: &mut Sent) -> std::io::Result<()> {
    wr.write_all(bytes).await?;
    wr.flush().await?;
    sent.bytes += bytes.len() as u64;
    sent.largest.fetch_max(sent.bytes, Ordering::SeqCst);
    Ok(())
}

async fn answer(
    wr: &mut OwnedWriteHalf,
    hostility: Option<Hostility>,
    sent: &mut Sent,
) -> std::io::Result<()> {
    {
        match hostility {
            None => put(wr, GOOD, sent).await,
            Some(Hostility::Silent) => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            }
            Some(Hostility::ByteByByte) => {
                for &b in GOOD {
                    put(wr, &[b], sent).await?;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Ok(())
            }
            Some(Hostility::EndlessDrip) => {
                put(wr, b"HTTP/1.1 200 OK\r\nx-drip: ", sent).await?;
                for _ in 0..1500 {
                    put(wr, b"a", sent).await?;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(())
            }
            Some(Hostility::Gigabytes) => {
                let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4294967296\r\n\r\n";
                put(wr, head, sent).await?;
                let chunk = vec![b' '; 64 << 10];
                for _ in 0..(4u64 << 30) / chunk.len() as u64 {
                    put(wr, &chunk, sent).await?;
                }
                Ok(())
            }
            Some(Hostility::EndlessChunks) => {
                let head =
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
                put(wr, head, sent).await?;
                let mut chunk = format!("{:x}\r\n", 64 << 10).into_bytes();
                chunk.extend(std::iter::repeat_n(b'x', 64 << 10));
                chunk.extend_from_slice(b"\r\n");
                for _ in 0..(4u64 << 30) / chunk.len() as u64 {
                    put(wr, &chunk, sent).await?;
                }
                Ok(())
            }
            Some(Hostility::CloseInHead) => put(wr, b"HTTP/1.1 20", sent).await,
            Some(Hostility::CloseInBody) => {
                let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"partial\"";
                put(wr, answer, sent).await
            }
            Some(Hostility::NotHttp) => put(wr, b"\x00\xffSSH-2.0-OpenSSH_9.6\r\n\r\n", sent).await,
            Some(Hostility::BadStatus) => {
                put(
                    wr,
                    b"HTTP/1.1 9999 Whatever\r\ncontent-length: 0\r\n\r\n",
                    sent,
                )
                .await
            }
        }
    }
}

/// A few well-formed cases and a few hostile ones (which run one at a time with probes).
const SOME: &[&str] = &[
    "LIS-001/binary/pipelinerun.finished",
    "LIS-001/structured/pipelinerun.finished",
    "WH-006/",
    "LIS-004/binary/missing-id",
    "LIS-006/garbage",
    "LIS-006/stalled-head",
];

fn selected() -> Vec<Case> {
    static CORPUS: std::sync::OnceLock<Vec<Case>> = std::sync::OnceLock::new();
    let picked: Vec<Case> = CORPUS
        .get_or_init(|| cases(&Options::default()))
        .iter()
        .filter(|c| SOME.iter().any(|p| c.id.starts_with(p)))
        .cloned()
        .collect();
    assert!(picked.len() >= SOME.len(), "{:?}", picked.len());
    picked
}

/// Runs the selection against `fake`; the whole run must end within 60 s (the test's own
/// bound: a hang fails here, a slow run does not fail anywhere else).
async fn run_on(fake: &Fake) -> Result<BTreeMap<String, CaseResult>, RunError> {
    let cfg = RunConfig {
        target: fake.url.clone(),
        timeout: Duration::from_millis(600),
        budget: Duration::from_secs(30),
        ..RunConfig::default()
    };
    let mut out = BTreeMap::new();
    let run = run(&cfg, selected(), |r| {
        out.insert(r.case.clone(), r);
    });
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the run ended")?;
    Ok(out)
}

/// The cases that expect an answer were not passed: errored (no verdict) or failed.
fn no_false_pass(results: &BTreeMap<String, CaseResult>) {
    for id in ["LIS-001/binary/", "LIS-001/structured/", "LIS-004/binary/"] {
        let (case, r) = results
            .iter()
            .find(|(k, _)| k.starts_with(id))
            .unwrap_or_else(|| panic!("no {id} case in {:?}", results.keys()));
        assert!(
            matches!(r.status, Status::Errored | Status::Failed),
            "{case}: {:?} {}",
            r.status,
            r.message
        );
    }
}

#[tokio::test]
async fn a_listener_that_never_answers_is_unreachable_within_the_timeout() {
    let fake = fake(Hostility::Silent, 0).await;
    let err = run_on(&fake).await.expect_err("nothing to judge");
    assert!(
        matches!(&err, RunError::Unreachable { why, .. } if why.contains("no HTTP answer")),
        "{err}"
    );
}

#[tokio::test]
async fn a_listener_that_goes_silent_errors_every_case_and_the_hostile_ones_fail_lis_006() {
    let fake = fake(Hostility::Silent, 1).await;
    let results = run_on(&fake).await.unwrap();
    no_false_pass(&results);
    for (id, r) in &results {
        if id.starts_with("LIS-001/") || id.starts_with("LIS-004/") {
            assert_eq!(r.status, Status::Errored, "{id}: {}", r.message);
            assert!(r.message.contains("no verdict"), "{id}: {}", r.message);
        }
    }
    // The first hostile case's probe gets no answer: LIS-006 fails, the rest is not run.
    let lis006: Vec<&CaseResult> = results
        .values()
        .filter(|r| r.case.starts_with("LIS-006/"))
        .collect();
    assert!(
        lis006.iter().any(|r| r.status == Status::Failed
            && r.requirement == "LIS-006"
            && r.message.contains("stopped answering")),
        "{lis006:#?}"
    );
    assert!(lis006
        .iter()
        .any(|r| r.status == Status::Errored && r.message.contains("not run")));
}

#[tokio::test]
async fn a_listener_answering_byte_by_byte_is_judged_on_its_answers() {
    let fake = fake(Hostility::ByteByByte, 1).await;
    let results = run_on(&fake).await.unwrap();
    // 204 to everything, slowly but within the timeout: valid events pass, the invalid one
    // (taken with 204) fails the requirement it breaks.
    let r = &results["LIS-001/binary/pipelinerun.finished"];
    assert_eq!(r.status, Status::Passed, "{}", r.message);
    let (id, r) = results
        .iter()
        .find(|(k, _)| k.starts_with("LIS-004/binary/missing-id"))
        .unwrap();
    assert_eq!(
        (r.status, r.requirement.as_str()),
        (Status::Failed, "LIS-004"),
        "{id}"
    );
}

#[tokio::test]
async fn a_head_that_never_ends_times_out() {
    let fake = fake(Hostility::EndlessDrip, 1).await;
    let results = run_on(&fake).await.unwrap();
    no_false_pass(&results);
    let r = &results["LIS-001/binary/pipelinerun.finished"];
    assert!(r.message.contains("no answer within"), "{}", r.message);
}

/// Regression: the client read well-formed answers whole (`reqwest::Response::bytes`) and cut
/// them to 1 MiB only afterwards: 497 MB were read from this fake in 600 ms. Raw answers were
/// kept up to one read past the cap.
#[tokio::test]
async fn gigabyte_answers_are_cut_at_the_cap_not_held() {
    for hostility in [Hostility::Gigabytes, Hostility::EndlessChunks] {
        let fake = fake(hostility, 1).await;
        let results = run_on(&fake).await.unwrap();
        assert!(!results.is_empty());
        for r in results.values() {
            if let Some(resp) = r.evidence.as_ref().and_then(|e| e.response.as_ref()) {
                assert!(
                    resp.body_len <= 1 << 20,
                    "{hostility:?} {}: {}",
                    r.case,
                    resp.body_len
                );
            }
        }
        // The client stopped reading at its 1 MiB cap: what the fake managed to write is
        // that plus the socket buffers, never the 4 GiB it meant to send.
        let largest = fake.largest_answer.load(Ordering::SeqCst);
        assert!(
            largest < 256 << 20,
            "{hostility:?}: {largest} bytes were read"
        );
    }
}

#[tokio::test]
async fn answers_cut_short_or_not_http_are_errors_not_verdicts() {
    for hostility in [
        Hostility::CloseInHead,
        Hostility::CloseInBody,
        Hostility::NotHttp,
        Hostility::BadStatus,
    ] {
        let fake = fake(hostility, 1).await;
        let results = run_on(&fake).await.unwrap();
        no_false_pass(&results);
        let r = &results["LIS-001/binary/pipelinerun.finished"];
        assert_eq!(r.status, Status::Errored, "{hostility:?}: {}", r.message);
        // The hostile cases' probes get no usable answer either: LIS-006 fails.
        assert!(
            results
                .values()
                .any(|r| r.requirement == "LIS-006" && r.status == Status::Failed),
            "{hostility:?}: {:#?}",
            results
                .values()
                .map(|r| (&r.case, r.status))
                .collect::<Vec<_>>()
        );
    }
}
