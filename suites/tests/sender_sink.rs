//! The sink survives hostile clients: non-HTTP bytes, slow-loris, a 100 MB body, thousands of
//! connections. Each is answered with an error or closed, and a real delivery still gets in
//! and is judged.

use std::time::{Duration, Instant};

use cdevents_schemas::{Registry, SpecVersion};
use cdevents_suites::drivers::sender::{judge, Claims, Sink, SinkConfig};
use cdevents_suites::faults::FaultPlan;
use cdevents_suites::generators::sample;
use cdevents_suites::wire::{ce_attributes_for, encode, raw_request, Mode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn sink() -> Sink {
    Sink::start(SinkConfig {
        max_body: 1 << 20,
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(500),
        max_connections: 64,
        ..SinkConfig::default()
    })
    .await
    .unwrap()
}

async fn read_all(s: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(limit, s.read_to_end(&mut buf)).await;
    buf
}

/// One valid delivery; returns the status line.
async fn deliver(sink: &Sink) -> String {
    let cat = cdevents_schemas::catalogue::for_version(SpecVersion::DEFAULT);
    let t = &cat
        .event_by_name("pipelinerun", "queued")
        .unwrap()
        .type_name;
    let ev = sample(SpecVersion::DEFAULT, t, 1).unwrap();
    let req = encode(Mode::Binary, &[(ce_attributes_for(&ev), ev)]);
    let raw = raw_request(&req, &sink.addr().to_string(), "/");
    let mut s = TcpStream::connect(sink.addr()).await.unwrap();
    s.write_all(&raw).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

fn judged_ok(sink: Sink) {
    let rec = sink.stop();
    let registry = Registry::embedded().unwrap();
    let cases = judge(
        &rec,
        &Claims::default(),
        &FaultPlan::none(),
        None,
        &registry,
        None,
    );
    assert!(
        cases.iter().any(|c| c.case == "CDE-SCH-001"),
        "the real delivery was judged"
    );
}

#[tokio::test]
async fn garbage_and_slow_loris() {
    let sink = sink().await;
    let mut g = TcpStream::connect(sink.addr()).await.unwrap();
    g.write_all(b"\x16\x03\x01\x00\xa5garbage\r\n\r\n\0\0\0")
        .await
        .unwrap();
    let answer = read_all(&mut g, Duration::from_secs(3)).await;
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 4"),
        "{answer:?}"
    );

    let started = Instant::now();
    let mut slow = TcpStream::connect(sink.addr()).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let _ = read_all(&mut slow, Duration::from_secs(5)).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "slow-loris held for {:?}",
        started.elapsed()
    );

    assert_eq!(deliver(&sink).await, "HTTP/1.1 204 No Content");
    judged_ok(sink);
}

#[tokio::test]
async fn hundred_megabyte_bodies_are_refused_unread() {
    let sink = sink().await;
    // Declared: refused from the head alone.
    let mut s = TcpStream::connect(sink.addr()).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 104857600\r\n\r\n")
        .await
        .unwrap();
    let answer = read_all(&mut s, Duration::from_secs(3)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 413"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );

    // Chunked: cut off at the cap while streaming.
    let mut s = TcpStream::connect(sink.addr()).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let (mut r, mut w) = s.into_split();
    let writer = tokio::spawn(async move {
        let chunk = vec![b'x'; 1 << 20];
        let head = format!("{:x}\r\n", chunk.len());
        for _ in 0..100 {
            if w.write_all(head.as_bytes()).await.is_err()
                || w.write_all(&chunk).await.is_err()
                || w.write_all(b"\r\n").await.is_err()
            {
                return false;
            }
        }
        true
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), r.read_to_end(&mut answer)).await;
    let finished_all = writer.await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 413") || !finished_all,
        "the 100 MB body was neither refused nor cut off"
    );
    let rec = sink.recording();
    assert!(rec.deliveries.iter().all(|d| d.body.len() <= 1 << 20));
    assert_eq!(deliver(&sink).await, "HTTP/1.1 204 No Content");
    judged_ok(sink);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_connections_are_bounded() {
    let sink = sink().await;
    let started = Instant::now();
    let mut conns = Vec::new();
    for _ in 0..2000 {
        if let Ok(s) = TcpStream::connect(sink.addr()).await {
            conns.push(s);
        }
    }
    // Those past the limit are answered 503 and closed at once.
    let mut refused = 0;
    for s in conns.iter_mut().skip(64) {
        let mut buf = [0u8; 32];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await
        {
            if buf[..n].starts_with(b"HTTP/1.1 503") {
                refused += 1;
            }
        }
        if refused > 100 {
            break;
        }
    }
    assert!(refused > 100, "only {refused} connections were refused");
    drop(conns);
    // Idle connections time out; then a delivery gets in.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(deliver(&sink).await, "HTTP/1.1 204 No Content");
    assert!(started.elapsed() < Duration::from_secs(15));
    let rec = sink.recording();
    assert!(rec.stats.over_capacity >= 100, "{:?}", rec.stats);
    judged_ok(sink);
}

/// hyper hands the sink each header value's bytes as sent (obs-text included), so that
/// CE-HTTP-004/005 judge what the sender wrote; names arrive lower-cased (hyper keeps the
/// original case only in a private extension), which no rule depends on: header names are
/// case-insensitive (RFC 9110 §5.1).
#[tokio::test]
async fn raw_header_bytes_reach_the_judge() {
    let sink = sink().await;
    let cat = cdevents_schemas::catalogue::for_version(SpecVersion::DEFAULT);
    let t = &cat
        .event_by_name("pipelinerun", "queued")
        .unwrap()
        .type_name;
    let ev = sample(SpecVersion::DEFAULT, t, 2).unwrap();
    let mut req = encode(Mode::Binary, &[(ce_attributes_for(&ev), ev)]);
    req.headers
        .push(("CE-Comment".to_owned(), "x%c3%a9".to_owned()));
    let mut raw = raw_request(&req, &sink.addr().to_string(), "/");
    // A raw UTF-8 é in a second extension, spliced into the head as bytes.
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    raw.splice(at..at, b"\r\nce-note: caf\xc3\xa9".iter().copied());
    let mut s = TcpStream::connect(sink.addr()).await.unwrap();
    s.write_all(&raw).await.unwrap();
    let answer = read_all(&mut s, Duration::from_millis(500)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    let rec = sink.stop();
    let d = &rec.deliveries[0];
    assert_eq!(d.header("ce-comment").as_deref(), Some("x%c3%a9"));
    let note = d.headers.iter().find(|(n, _)| n == "ce-note").unwrap();
    assert_eq!(note.1, b"caf\xc3\xa9");
    let cases = judge(
        &rec,
        &Claims::default(),
        &FaultPlan::none(),
        None,
        &Registry::embedded().unwrap(),
        None,
    );
    let get = |id: &str| cases.iter().find(|c| c.case == id).unwrap();
    let c4 = get("CE-HTTP-004");
    assert_eq!(c4.status, cdevents_reports::model::Status::Failed);
    assert!(c4.message.contains("0xC3"), "{}", c4.message);
    assert_eq!(
        get("CE-HTTP-005").status,
        cdevents_reports::model::Status::Failed
    );
}

#[tokio::test]
async fn a_body_sent_byte_by_byte_past_the_body_timeout_is_refused_408() {
    let sink = sink().await;
    let mut s = TcpStream::connect(sink.addr()).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{")
        .await
        .unwrap();
    let (mut r, mut w) = s.into_split();
    // One byte every 50 ms for at most 10 s: the 500 ms body timeout must cut it.
    let drip = tokio::spawn(async move {
        for _ in 0..200 {
            if w.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), r.read_to_end(&mut answer)).await;
    drip.abort();
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    let rec = sink.recording();
    assert!(rec
        .deliveries
        .iter()
        .any(|d| d.status == Some(408) && d.refused.is_some()));
    assert_eq!(deliver(&sink).await, "HTTP/1.1 204 No Content");
    judged_ok(sink);
}

/// A sender posting without end: the recording keeps at most `max_recorded_bytes` of bodies,
/// then answers 503 without reading, and the judge does not blame the sender for the kit's
/// own limit.
#[tokio::test]
async fn the_recording_stops_at_its_byte_cap() {
    let sink = Sink::start(SinkConfig {
        max_recorded_bytes: 64 << 10,
        ..SinkConfig::default()
    })
    .await
    .unwrap();
    let body = vec![b' '; 16 << 10];
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let mut s = TcpStream::connect(sink.addr()).await.unwrap();
        let head = format!(
            "POST / HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let _ = s.write_all(&body).await;
        let answer = read_all(&mut s, Duration::from_secs(5)).await;
        statuses.push(String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned());
    }
    assert!(statuses.iter().any(|s| s == "HTTP/1.1 503"), "{statuses:?}");
    let rec = sink.recording();
    let kept: usize = rec.deliveries.iter().map(|d| d.body.len()).sum();
    assert!(kept <= (64 << 10) + (16 << 10), "{kept} bytes kept");
    assert!(rec.stats.recording_full > 0, "{:?}", rec.stats);
    let registry = Registry::embedded().unwrap();
    let cases = judge(
        &rec,
        &Claims::default(),
        &FaultPlan::none(),
        None,
        &registry,
        None,
    );
    for c in &cases {
        assert!(
            !c.message.contains("recording is full")
                && !c
                    .actual
                    .as_deref()
                    .unwrap_or("")
                    .contains("recording is full"),
            "{}: {}",
            c.case,
            c.message
        );
    }
}
