//! Tests of the input decoders: every shape, every error, and never a panic.

use std::io::{self, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

const CDEVENT: &str = r#"{"context":{"specversion":"0.5.1","id":"A234","source":"/staging/tekton/","type":"dev.cdevents.taskrun.started.0.1.1","timestamp":"2018-04-05T17:31:00Z"},"subject":{"id":"/namespace/taskrun-123","content":{"task":"my-task"}}}"#;

fn cdevent() -> Value {
    serde_json::from_str(CDEVENT).unwrap_or_default()
}

fn structured() -> Value {
    json!({
        "specversion": "1.0", "id": "A234", "source": "/staging/tekton/",
        "type": "dev.cdevents.taskrun.started.0.1.1", "subject": "/namespace/taskrun-123",
        "time": "2018-04-05T17:31:00Z", "datacontenttype": "application/json",
        "dataschema": "https://example.com/s.json", "traceparent": "00-abc", "unset": null,
        "data": cdevent(),
    })
}

fn doc(text: &str) -> Vec<Item> {
    decode_document(
        text.as_bytes(),
        Location::file("t.json"),
        &Limits::default(),
    )
}

fn one(items: Vec<Item>) -> Result<Envelope, InputError> {
    assert_eq!(items.len(), 1, "{items:?}");
    items
        .into_iter()
        .next()
        .map(|i| i.result)
        .expect("one item")
}

fn ok(items: Vec<Item>) -> Envelope {
    one(items).expect("an envelope")
}

fn err(items: Vec<Item>) -> InputError {
    one(items).expect_err("an error")
}

fn http(text: &str) -> Vec<Item> {
    decode_http_request(
        text.as_bytes(),
        Location::file("t.http"),
        &Limits::default(),
    )
}

fn binary_capture(headers: &str, body: &str) -> String {
    format!(
        "POST /sink HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn small(max_event_bytes: usize) -> Limits {
    Limits {
        max_event_bytes,
        max_document_bytes: max_event_bytes * 4,
        ..Limits::default()
    }
}

#[test]
fn location_display() {
    let loc = Location::file("a.ndjson");
    assert_eq!(loc.to_string(), "a.ndjson");
    assert_eq!(loc.at_line(12).to_string(), "a.ndjson:12");
    assert_eq!(loc.at_index(4).to_string(), "a.ndjson[4]");
    assert_eq!(loc.at_line(3).at_index(1).to_string(), "a.ndjson:3[1]");
}

#[test]
fn bare_cdevent() {
    let env = ok(doc(CDEVENT));
    assert_eq!(env.mode, ContentMode::Bare);
    assert!(env.ce.is_none());
    assert_eq!(env.cdevent, cdevent());
    // A CDEvent missing its subject is still a CDEvent: the checks say what is missing.
    let env = ok(doc(r#"{"context":{}}"#));
    assert_eq!(env.mode, ContentMode::Bare);
}

#[test]
fn structured_envelope() {
    let env = ok(doc(&structured().to_string()));
    assert_eq!(env.mode, ContentMode::Structured);
    assert!(!env.raw_data_was_base64);
    assert_eq!(env.cdevent, cdevent());
    let ce = env.ce.expect("attributes");
    assert_eq!(ce.specversion.as_deref(), Some("1.0"));
    assert_eq!(ce.id.as_deref(), Some("A234"));
    assert_eq!(ce.source.as_deref(), Some("/staging/tekton/"));
    assert_eq!(
        ce.type_.as_deref(),
        Some("dev.cdevents.taskrun.started.0.1.1")
    );
    assert_eq!(ce.subject.as_deref(), Some("/namespace/taskrun-123"));
    assert_eq!(ce.time.as_deref(), Some("2018-04-05T17:31:00Z"));
    assert_eq!(ce.datacontenttype.as_deref(), Some("application/json"));
    assert_eq!(ce.dataschema.as_deref(), Some("https://example.com/s.json"));
    assert_eq!(ce.extensions.len(), 1, "null attributes are absent");
    assert_eq!(ce.extensions["traceparent"], json!("00-abc"));
}

#[test]
fn structured_attribute_errors() {
    let mut v = structured();
    v["id"] = json!(5);
    assert!(matches!(err(doc(&v.to_string())), InputError::CloudEvents(m) if m.contains("`id`")));
    let mut v = structured();
    v["subject"] = Value::Null;
    assert_eq!(ok(doc(&v.to_string())).ce.and_then(|c| c.subject), None);
    let mut v = structured();
    v.as_object_mut().map(|m| m.remove("data"));
    assert!(
        matches!(err(doc(&v.to_string())), InputError::CloudEvents(m) if m.contains("no `data`"))
    );
    let v = json!({"specversion": "1.0", "context": {}, "subject": {}});
    assert!(
        matches!(err(doc(&v.to_string())), InputError::CloudEvents(m) if m.contains("bare CDEvent"))
    );
    let mut v = structured();
    v["data_base64"] = json!("e30=");
    assert!(matches!(err(doc(&v.to_string())), InputError::CloudEvents(m) if m.contains("both")));
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn data_base64() {
    let mut v = structured();
    v.as_object_mut().map(|m| m.remove("data"));
    v["data_base64"] = json!(base64(CDEVENT.as_bytes()));
    let env = ok(doc(&v.to_string()));
    assert!(env.raw_data_was_base64);
    assert_eq!(env.cdevent, cdevent());
    // Padding may be left out.
    v["data_base64"] = json!(base64(b"{\"a\":1}").trim_end_matches('='));
    assert_eq!(ok(doc(&v.to_string())).cdevent, json!({"a": 1}));
    v["data_base64"] = json!("not base64!");
    assert!(matches!(err(doc(&v.to_string())), InputError::CloudEvents(m) if m.contains("base64")));
    v["data_base64"] = json!(base64(b"hello"));
    assert!(matches!(err(doc(&v.to_string())), InputError::CloudEvents(m) if m.contains("JSON")));
    v["data_base64"] = json!(base64(b"\xff\xfe"));
    assert!(matches!(err(doc(&v.to_string())), InputError::CloudEvents(m) if m.contains("UTF-8")));
    v["data_base64"] = json!(42);
    assert!(matches!(
        err(doc(&v.to_string())),
        InputError::CloudEvents(_)
    ));
    for bad in ["A", "AB=C", "ABC==", "A==="] {
        assert!(cloudevents::decode_base64(bad).is_err(), "{bad}");
    }
    assert_eq!(cloudevents::decode_base64("").ok(), Some(vec![]));
    assert_eq!(
        cloudevents::decode_base64("aGk=").ok(),
        Some(b"hi".to_vec())
    );
}

#[test]
fn batch_document_keeps_good_elements() {
    let text = format!(
        "[{}, 7, {{\"x\":1}}, {CDEVENT}, [1], {{\"specversion\":\"1.0\"}}]",
        structured()
    );
    let items = doc(&text);
    assert_eq!(items.len(), 6);
    let idx: Vec<_> = items.iter().map(|i| i.location.index).collect();
    assert_eq!(idx, [Some(0), Some(1), Some(2), Some(3), Some(4), Some(5)]);
    assert_eq!(items[0].location.to_string(), "t.json[0]");
    assert!(matches!(&items[0].result, Ok(e) if e.mode == ContentMode::Structured));
    assert!(matches!(&items[1].result, Err(InputError::NotAnEvent(_))));
    assert!(matches!(&items[2].result, Err(InputError::NotAnEvent(m)) if m.contains("[x]")));
    assert!(matches!(&items[3].result, Ok(e) if e.mode == ContentMode::Bare));
    assert!(matches!(&items[4].result, Err(InputError::NotAnEvent(_))));
    assert!(matches!(&items[5].result, Err(InputError::CloudEvents(_))));
}

#[test]
fn batch_limits() {
    assert!(matches!(err(doc("[]")), InputError::Empty(_)));
    let limits = Limits {
        max_batch_items: 2,
        ..Limits::default()
    };
    let items = decode_document(b"[{},{},{}]", Location::file("b"), &limits);
    assert!(matches!(
        one(items),
        Err(InputError::TooManyItems { limit: 2 })
    ));
}

#[test]
fn not_events() {
    for text in ["3", "\"x\"", "null", "true"] {
        assert!(
            matches!(err(doc(text)), InputError::NotAnEvent(_)),
            "{text}"
        );
    }
    assert!(matches!(err(doc("")), InputError::Empty(_)));
    assert!(matches!(err(doc(" \n\t")), InputError::Empty(_)));
}

#[test]
fn not_json_has_position() {
    let e = err(doc("{\n  \"context\": {},\n  \"subject\": }\n"));
    match &e {
        InputError::NotJson { line, column, msg } => {
            assert_eq!((*line, *column), (3, 14));
            assert!(!msg.contains(" at line "), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("line 3, column 14"), "{e}");
    assert!(matches!(
        err(doc(&format!("{CDEVENT} x"))),
        InputError::NotJson { .. }
    ));
}

#[test]
fn garbage_and_invalid_utf8() {
    let bytes = b"{\"context\": \"caf\xe9\"}";
    let items = decode_document(bytes, Location::file("g"), &Limits::default());
    assert!(matches!(
        one(items),
        Err(InputError::NotUtf8 {
            line: 1,
            column: 17
        })
    ));
    let bytes = b"\n\x00\x01\x02\xff\xd8\xff\xe0 JFIF";
    let items = decode_document(bytes, Location::file("g"), &Limits::default());
    assert!(matches!(
        one(items),
        Err(InputError::NotUtf8 { line: 2, column: 4 })
    ));
    let items = decode_document(b"\x00\x01\x02", Location::file("g"), &Limits::default());
    assert!(matches!(one(items), Err(InputError::NotJson { .. })));
    // A byte order mark is allowed.
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(CDEVENT.as_bytes());
    assert!(one(decode_document(
        &bytes,
        Location::file("g"),
        &Limits::default()
    ))
    .is_ok());
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        let deep = format!("{}{}", open.repeat(100_000), close.repeat(100_000));
        assert!(matches!(err(doc(&deep)), InputError::TooDeep { limit: 64 }));
        let unclosed = open.repeat(100_000);
        assert!(matches!(err(doc(&unclosed)), InputError::TooDeep { .. }));
        let lines = format!("{unclosed}\n{CDEVENT}\n");
        let items: Vec<_> = ndjson(&lines, Limits::default());
        assert!(matches!(items[0].result, Err(InputError::TooDeep { .. })));
        assert!(items[1].result.is_ok());
    }
    // 100 levels: past our limit, within serde_json's.
    let hundred = format!("{{\"context\":{}{}}}", "[".repeat(100), "]".repeat(100));
    assert!(matches!(
        err(doc(&hundred)),
        InputError::TooDeep { limit: 64 }
    ));
    // With a higher limit serde_json's own limit of 128 still holds, as TooDeep.
    let lax = Limits {
        max_depth: 10_000,
        ..Limits::default()
    };
    let items = decode_document(hundred.as_bytes(), Location::file("d"), &lax);
    assert!(one(items).is_ok());
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let items = decode_document(deep.as_bytes(), Location::file("d"), &lax);
    assert!(matches!(
        one(items),
        Err(InputError::TooDeep { limit: 128 })
    ));
    // Brackets inside strings are not nesting.
    let text = format!(
        r#"{{"context":{{"x":"{}\"{}"}},"subject":{{}}}}"#,
        "[".repeat(500),
        "{".repeat(500)
    );
    assert!(one(doc(&text)).is_ok());
}

#[test]
fn too_large_is_refused_before_parsing() {
    let limits = small(1024);
    let big = format!("{{\"context\":\"{}\"}}", "x".repeat(2000));
    let items = decode_document(big.as_bytes(), Location::file("l"), &limits);
    assert!(matches!(
        one(items),
        Err(InputError::TooLarge {
            what: "event",
            limit: 1024
        })
    ));
    let huge = format!("[\"{}\"]", "x".repeat(5000));
    let items = decode_document(huge.as_bytes(), Location::file("l"), &limits);
    assert!(matches!(
        one(items),
        Err(InputError::TooLarge {
            what: "document",
            ..
        })
    ));
}

// ---- HTTP ----

#[test]
fn http_binary_mode() {
    let headers = "ce-specversion: 1.0\r\nCE-ID: A234\r\nCe-Source: /staging/tekton/\r\n\
        ce-type: dev.cdevents.taskrun.started.0.1.1\r\nce-time: 2018-04-05T17:31:00Z\r\n\
        ce-subject: /namespace/taskrun-123\r\nce-TraceParent: 00-abc\r\n\
        Content-Type: application/json; charset=utf-8\r\n";
    let env = ok(http(&binary_capture(headers, CDEVENT)));
    assert_eq!(env.mode, ContentMode::Binary);
    assert_eq!(env.cdevent, cdevent());
    assert_eq!(
        env.content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    let ce = env.ce.expect("attributes");
    assert_eq!(ce.id.as_deref(), Some("A234"));
    assert_eq!(ce.source.as_deref(), Some("/staging/tekton/"));
    assert_eq!(ce.subject.as_deref(), Some("/namespace/taskrun-123"));
    assert_eq!(
        ce.datacontenttype.as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(ce.extensions["traceparent"], json!("00-abc"));
}

#[test]
fn http_bare_lf_and_no_content_length() {
    let text =
        format!("POST /sink HTTP/1.1\nce-id: 1\nContent-Type: application/json\n\n{CDEVENT}\n");
    let env = ok(http(&text));
    assert_eq!(env.ce.and_then(|c| c.id).as_deref(), Some("1"));
    // Also found by content from decode_document, after blank lines.
    let env = ok(doc(&format!("\n\n{text}")));
    assert_eq!(env.mode, ContentMode::Binary);
}

fn header_value(raw: &[u8]) -> Result<String, InputError> {
    http::decode_header_value("ce-subject", raw)
}

#[test]
fn percent_decoding_of_ce_headers() {
    assert_eq!(header_value(b"caf%C3%A9").ok().as_deref(), Some("café"));
    assert_eq!(header_value(b"caf%c3%a9").ok().as_deref(), Some("café"));
    assert_eq!(
        header_value(b"Euro%20%E2%82%AC%20%F0%9F%98%80")
            .ok()
            .as_deref(),
        Some("Euro € 😀")
    );
    assert_eq!(
        header_value(b"%41bc").ok().as_deref(),
        Some("Abc"),
        "needless encoding is fine"
    );
    assert_eq!(header_value(b"  a%25b \t").ok().as_deref(), Some("a%b"));
    // Double-quoted values, from older producers, with backslash escapes.
    assert_eq!(
        header_value(br#""a b \"c\" %C3%A9""#).ok().as_deref(),
        Some("a b \"c\" é")
    );
    for bad in [
        &b"%G1"[..],
        b"abc%",
        b"%4",
        b"%%41",
        b"\"open",
        b"\"a\"b\"",
        b"\"a\\\"",
    ] {
        assert!(
            matches!(header_value(bad), Err(InputError::CloudEvents(_))),
            "{bad:?}"
        );
    }
    // Overlong and other byte sequences that are not UTF-8 are refused.
    for bad in [&b"%C0%A0"[..], b"%FF", b"%C3", b"%ED%A0%80"] {
        let e = header_value(bad).expect_err("not UTF-8");
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }
    // Raw non-ASCII must have been percent-encoded.
    let e = header_value("café".as_bytes()).expect_err("raw UTF-8");
    assert!(e.to_string().contains("percent-encoded"), "{e}");
}

#[test]
fn percent_decoding_in_a_capture() {
    let text = binary_capture(
        "ce-source: /caf%C3%A9\r\nContent-Type: application/json\r\n",
        CDEVENT,
    );
    let env = ok(http(&text));
    assert_eq!(env.ce.and_then(|c| c.source).as_deref(), Some("/café"));
    let text = binary_capture("ce-source: /x%C0%A0\r\n", CDEVENT);
    assert!(matches!(err(http(&text)), InputError::CloudEvents(m) if m.contains("ce-source")));
}

#[test]
fn http_binary_errors() {
    let dup = binary_capture("ce-id: 1\r\nCE-ID: 2\r\n", CDEVENT);
    assert!(matches!(err(http(&dup)), InputError::CloudEvents(m) if m.contains("more than once")));
    let empty = binary_capture("ce-id: 1\r\n", "");
    assert!(matches!(err(http(&empty)), InputError::Empty(_)));
    let bad = binary_capture("ce-id: 1\r\n", "{oops");
    assert!(matches!(
        err(http(&bad)),
        InputError::NotJson { line: 1, .. }
    ));
    let two_ct = binary_capture("Content-Type: a/b\r\ncontent-type: c/d\r\n", CDEVENT);
    assert!(matches!(err(http(&two_ct)), InputError::Http(_)));
    let stray = binary_capture("ce-datacontenttype: text/plain\r\n", CDEVENT);
    let ce = ok(http(&stray)).ce.expect("attributes");
    assert_eq!(ce.extensions["datacontenttype"], json!("text/plain"));
    assert_eq!(ce.datacontenttype, None);
}

#[test]
fn http_structured_mode() {
    let body = structured().to_string();
    let ct = "Content-Type: application/cloudevents+json; charset=UTF-8\r\n";
    let env = ok(http(&binary_capture(ct, &body)));
    assert_eq!(env.mode, ContentMode::Structured);
    assert_eq!(
        env.content_type.as_deref(),
        Some("application/cloudevents+json; charset=UTF-8")
    );
    assert_eq!(env.ce.and_then(|c| c.id).as_deref(), Some("A234"));
    assert_eq!(env.cdevent, cdevent());
    let e = err(http(&binary_capture(ct, "[]")));
    assert!(matches!(e, InputError::CloudEvents(m) if m.contains("object")));
    let e = err(http(&binary_capture(ct, CDEVENT)));
    assert!(matches!(e, InputError::CloudEvents(m) if m.contains("bare CDEvent")));
    let xml = "Content-Type: application/cloudevents+xml\r\n";
    assert!(matches!(
        err(http(&binary_capture(xml, "<x/>"))),
        InputError::Http(_)
    ));
}

#[test]
fn http_batch_mode() {
    let body = format!("[{}, {CDEVENT}, 3, {}]", structured(), structured());
    let ct = "Content-Type: Application/CloudEvents-Batch+JSON\r\n";
    let items = http(&binary_capture(ct, &body));
    assert_eq!(items.len(), 4);
    assert!(
        matches!(&items[0].result, Ok(e) if e.mode == ContentMode::Batch
        && e.content_type.as_deref() == Some("Application/CloudEvents-Batch+JSON"))
    );
    // In a batch every element is a CloudEvent: a bare CDEvent has no `data`.
    assert!(matches!(&items[1].result, Err(InputError::CloudEvents(_))));
    assert!(matches!(&items[2].result, Err(InputError::NotAnEvent(_))));
    assert!(items[3].result.is_ok());
    assert_eq!(items[3].location.to_string(), "t.http[3]");
    assert!(matches!(
        err(http(&binary_capture(ct, "[]"))),
        InputError::Empty(_)
    ));
    assert!(matches!(
        err(http(&binary_capture(ct, "{}"))),
        InputError::CloudEvents(_)
    ));
}

#[test]
fn content_length_must_be_honest() {
    let head = "POST / HTTP/1.1\r\nContent-Type: application/json\r\n";
    let short = format!("{head}Content-Length: 999\r\n\r\n{CDEVENT}");
    assert!(matches!(err(http(&short)), InputError::Http(m) if m.contains("999")));
    let long = format!("{head}Content-Length: 10\r\n\r\n{CDEVENT}");
    assert!(matches!(err(http(&long)), InputError::Http(m) if m.contains("Content-Length")));
    let nnnn = format!("{head}Content-Length: nnnn\r\n\r\n{CDEVENT}");
    assert!(matches!(err(http(&nnnn)), InputError::Http(m) if m.contains("nnnn")));
    let n = CDEVENT.len();
    let disagree = format!("{head}Content-Length: {n}\r\nContent-Length: 3\r\n\r\n{CDEVENT}");
    assert!(matches!(err(http(&disagree)), InputError::Http(_)));
    // One line ending after the body, as editors write, is allowed.
    for end in ["\n", "\r\n"] {
        let text = format!("{head}Content-Length: {n}\r\n\r\n{CDEVENT}{end}");
        assert!(one(http(&text)).is_ok());
    }
    let chunked = format!("{head}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert!(matches!(err(http(&chunked)), InputError::Http(m) if m.contains("chunked")));
}

#[test]
fn malformed_captures() {
    assert!(
        matches!(err(http("POST / HTTP/1.1\r\nce-id: 1\r\n")), InputError::Http(m) if m.contains("empty line"))
    );
    assert!(matches!(
        err(http("POST / HTTP/1.1\r\nbad header\r\n\r\n{}")),
        InputError::Http(_)
    ));
    assert!(matches!(err(http("")), InputError::Http(_)));
    let many: String = (0..200).map(|i| format!("x-{i}: y\r\n")).collect();
    let text = format!("POST / HTTP/1.1\r\n{many}\r\n{CDEVENT}");
    assert!(matches!(err(http(&text)), InputError::Http(m) if m.contains("128")));
    let limits = small(64);
    let big = binary_capture("", &"x".repeat(1000));
    let items = decode_http_request(big.as_bytes(), Location::file("b"), &limits);
    assert!(matches!(one(items), Err(InputError::TooLarge { .. })));
}

#[test]
fn decode_http_body_for_sinks() {
    let headers = vec![
        ("CE-SpecVersion".to_owned(), b"1.0".to_vec()),
        ("ce-id".to_owned(), b"%C3%A9".to_vec()),
        ("content-type".to_owned(), b"application/json".to_vec()),
    ];
    let items = decode_http_body(
        &headers,
        CDEVENT.as_bytes(),
        Location::file("sink"),
        &Limits::default(),
    );
    let env = ok(items);
    assert_eq!(env.mode, ContentMode::Binary);
    assert_eq!(env.ce.and_then(|c| c.id).as_deref(), Some("é"));
    let env = decode_binary(&headers, CDEVENT.as_bytes(), &Limits::default());
    assert!(env.is_ok());
    let body = structured().to_string();
    let env = decode_structured(body.as_bytes(), Some(STRUCTURED_JSON), &Limits::default());
    assert_eq!(env.ok().map(|e| e.mode), Some(ContentMode::Structured));
    let items = decode_batch(
        format!("[{body}]").as_bytes(),
        Some(BATCH_JSON),
        Location::file("s"),
        &Limits::default(),
    );
    assert_eq!(ok(items).mode, ContentMode::Batch);
}

// ---- NDJSON ----

fn ndjson(text: &str, limits: Limits) -> Vec<Item> {
    NdjsonReader::new(
        Cursor::new(text.as_bytes().to_vec()),
        Location::file("e.ndjson"),
        limits,
    )
    .collect()
}

#[test]
fn ndjson_bad_line_in_the_middle() {
    let text = format!(
        "{CDEVENT}\n\n  \r\n{{\"context\": oops}}\r\n{}\r\n{CDEVENT}",
        structured()
    );
    let items = ndjson(&text, Limits::default());
    let lines: Vec<_> = items.iter().map(|i| i.location.line).collect();
    assert_eq!(lines, [Some(1), Some(4), Some(5), Some(6)]);
    assert!(items[0].result.is_ok());
    assert!(matches!(
        &items[1].result,
        Err(InputError::NotJson {
            line: 1,
            column: 13,
            ..
        })
    ));
    assert_eq!(items[1].location.to_string(), "e.ndjson:4");
    assert!(matches!(&items[2].result, Ok(e) if e.mode == ContentMode::Structured));
    assert!(matches!(&items[3].result, Ok(e) if e.mode == ContentMode::Bare));
}

#[test]
fn ndjson_batch_line_and_garbage_line() {
    let mut bytes = format!("[{CDEVENT},{CDEVENT}]\n").into_bytes();
    bytes.extend_from_slice(b"\xff\xfe\x00garbage\n");
    bytes.extend_from_slice(CDEVENT.as_bytes());
    let items: Vec<_> =
        NdjsonReader::new(Cursor::new(bytes), Location::file("x"), Limits::default()).collect();
    let locs: Vec<_> = items.iter().map(|i| i.location.to_string()).collect();
    assert_eq!(locs, ["x:1[0]", "x:1[1]", "x:2", "x:3"]);
    assert!(matches!(&items[2].result, Err(InputError::NotUtf8 { .. })));
    assert!(items[3].result.is_ok());
}

#[test]
fn ndjson_oversized_line_is_skipped() {
    let text = format!(
        "{CDEVENT}\n{{\"context\":\"{}\"}}\n{CDEVENT}\n",
        "x".repeat(5000)
    );
    let items = ndjson(&text, small(1024));
    assert_eq!(items.len(), 3);
    assert!(matches!(
        &items[1].result,
        Err(InputError::TooLarge {
            what: "line",
            limit: 1024
        })
    ));
    assert_eq!(items[2].location.line, Some(3));
    assert!(items[2].result.is_ok());
}

#[test]
fn ndjson_streams_a_100_mb_line() {
    let huge = io::repeat(b'x').take(100 << 20);
    let rest = Cursor::new(format!("\n{CDEVENT}\n"));
    let reader = BufReader::with_capacity(1 << 16, huge.chain(rest));
    let items: Vec<_> =
        NdjsonReader::new(reader, Location::file("big"), Limits::default()).collect();
    assert_eq!(items.len(), 2);
    assert!(matches!(
        &items[0].result,
        Err(InputError::TooLarge { what: "line", .. })
    ));
    assert_eq!(items[1].location.line, Some(2));
    assert!(items[1].result.is_ok());
}

#[test]
fn ndjson_read_error_ends_the_stream() {
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let line = format!("{CDEVENT}\n");
            if self.0 > 0 {
                return Err(io::Error::other("disk on fire"));
            }
            self.0 += 1;
            let n = line.len().min(buf.len());
            buf[..n].copy_from_slice(&line.as_bytes()[..n]);
            Ok(n)
        }
    }
    let reader = BufReader::with_capacity(1 << 16, Failing(0));
    let items: Vec<_> = NdjsonReader::new(reader, Location::file("f"), Limits::default()).collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].result.is_ok());
    assert!(matches!(&items[1].result, Err(InputError::Io(_))));
}

// ---- Sources ----

fn from_reader(text: &str) -> Vec<Item> {
    decode_reader(
        Cursor::new(text.as_bytes().to_vec()),
        Location::file("<stdin>"),
        &Limits::default(),
    )
    .collect()
}

#[test]
fn stdin_sniffing() {
    // Several one-line events: NDJSON, with line numbers.
    let items = from_reader(&format!("\n{CDEVENT}\n{{bad\n{CDEVENT}\n"));
    let locs: Vec<_> = items.iter().map(|i| i.location.to_string()).collect();
    assert_eq!(locs, ["<stdin>:2", "<stdin>:3", "<stdin>:4"]);
    // A pretty-printed document.
    let pretty = serde_json::to_string_pretty(&structured()).unwrap_or_default();
    let items = from_reader(&pretty);
    assert_eq!(items[0].location.to_string(), "<stdin>");
    assert!(one(items).is_ok());
    // A pretty-printed batch.
    let items = from_reader(&format!("[\n{CDEVENT},\n{CDEVENT}\n]\n"));
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].location.to_string(), "<stdin>[1]");
    // An HTTP capture.
    let items = from_reader(&binary_capture("ce-id: 9\r\n", CDEVENT));
    assert_eq!(ok(items).mode, ContentMode::Binary);
    // Nothing at all.
    assert!(matches!(one(from_reader("")), Err(InputError::Empty(_))));
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("cdevents-input-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("dir");
        }
        std::fs::write(&path, text).expect("write");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn names(dir: &Path, walk: Walk) -> Vec<String> {
    walk.map(|r| match r {
        Ok(Source::File(p)) => p.strip_prefix(dir).unwrap_or(&p).display().to_string(),
        Ok(Source::Stdin) => "-".into(),
        Err(e) => format!("error: {e}"),
    })
    .collect()
}

#[test]
fn walk_is_sorted_recursive_and_loop_free() {
    let tmp = TempDir::new("walk");
    for rel in [
        "b.json",
        "a/z.ndjson",
        "a/y.http",
        "a/c/d.jsonl",
        "README.md",
        ".hidden/e.json",
        "a/.f.json",
        "C.JSON",
    ] {
        tmp.write(rel, "{}");
    }
    #[cfg(unix)]
    {
        let _ = std::os::unix::fs::symlink(&tmp.0, tmp.0.join("a/c/loop"));
        let _ = std::os::unix::fs::symlink(tmp.0.join("b.json"), tmp.0.join("a/link.json"));
    }
    let explicit = tmp.0.join("README.md");
    let paths = [
        tmp.0.clone(),
        PathBuf::from("-"),
        explicit,
        tmp.0.join("missing.json"),
    ];
    let got = names(&tmp.0, walk_paths(&paths, &Limits::default()));
    let mut want = vec!["C.JSON", "a/c/d.jsonl"];
    if cfg!(unix) {
        want.push("a/link.json");
    }
    want.extend(["a/y.http", "a/z.ndjson", "b.json", "-", "README.md"]);
    assert_eq!(got[..want.len()], want[..]);
    assert_eq!(got.len(), want.len() + 1);
    assert!(got[want.len()].starts_with("error: cannot read"), "{got:?}");
    // Deterministic.
    assert_eq!(got, names(&tmp.0, walk_paths(&paths, &Limits::default())));
}

#[test]
fn walk_stops_at_max_files() {
    let tmp = TempDir::new("max");
    for i in 0..5 {
        tmp.write(&format!("{i}.json"), "{}");
    }
    let limits = Limits {
        max_files: 3,
        ..Limits::default()
    };
    let got = names(&tmp.0, walk_paths(std::slice::from_ref(&tmp.0), &limits));
    assert_eq!(got.len(), 4);
    assert!(got[3].contains("more than 3 files"), "{got:?}");
}

#[test]
fn decode_files_by_kind() {
    let tmp = TempDir::new("kinds");
    let nd = tmp.write("e.ndjson", &format!("{CDEVENT}\nnope\n"));
    let items: Vec<_> = decode_file(&nd, &Limits::default()).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].location.to_string(), format!("{}:2", nd.display()));
    let cap = tmp.write("c.http", &binary_capture("ce-id: 1\r\n", CDEVENT));
    assert_eq!(
        ok(decode_file(&cap, &Limits::default()).collect()).mode,
        ContentMode::Binary
    );
    let js = tmp.write("d.json", &structured().to_string());
    assert!(one(decode_source(&Source::File(js), &Limits::default()).collect()).is_ok());
    let missing = tmp.0.join("missing.json");
    assert!(matches!(
        one(decode_file(&missing, &Limits::default()).collect()),
        Err(InputError::Io(_))
    ));
    // A 100 MB file is refused from its size, without reading it (the file is sparse).
    let big = tmp.0.join("big.json");
    let file = std::fs::File::create(&big).expect("create");
    file.set_len(100 << 20).expect("set_len");
    let e = one(decode_file(&big, &Limits::default()).collect());
    assert!(matches!(e, Err(InputError::TooLarge { what: "file", .. })));
    assert_eq!(InputKind::for_path(Path::new("x.JSONL")), InputKind::Ndjson);
    assert_eq!(InputKind::for_path(Path::new("x.txt")), InputKind::Document);
}

#[test]
fn many_files_are_iterated() {
    let tmp = TempDir::new("many");
    for i in 0..2_000 {
        tmp.write(&format!("e{i:05}.json"), CDEVENT);
    }
    let mut count = 0;
    for source in walk_paths(std::slice::from_ref(&tmp.0), &Limits::default()) {
        let source = source.expect("source");
        count += decode_source(&source, &Limits::default())
            .filter(|i| i.result.is_ok())
            .count();
    }
    assert_eq!(count, 2_000);
}

// ---- Never a panic ----

fn samples() -> Vec<Vec<u8>> {
    let body = structured().to_string();
    vec![
        CDEVENT.as_bytes().to_vec(),
        body.clone().into_bytes(),
        format!("[{body},{CDEVENT}]").into_bytes(),
        format!("{CDEVENT}\n{body}\n").into_bytes(),
        binary_capture(
            "ce-id: %C3%A9\r\nce-source: \"q\\\"\"\r\nContent-Type: application/json\r\n",
            CDEVENT,
        )
        .into_bytes(),
        binary_capture("Content-Type: application/cloudevents+json\r\n", &body).into_bytes(),
        binary_capture(
            "Content-Type: application/cloudevents-batch+json\r\n",
            &format!("[{body}]"),
        )
        .into_bytes(),
    ]
}

fn mutate(mut bytes: Vec<u8>, edits: Vec<(usize, u8, u8)>) -> Vec<u8> {
    for (pos, byte, op) in edits {
        let pos = if bytes.is_empty() {
            0
        } else {
            pos % (bytes.len() + 1)
        };
        match op % 4 {
            0 if pos < bytes.len() => bytes[pos] = byte,
            1 => bytes.insert(pos, byte),
            2 if pos < bytes.len() => {
                bytes.remove(pos);
            }
            _ => bytes.truncate(pos),
        }
    }
    bytes
}

fn exercise(bytes: &[u8]) {
    let limits = Limits::default();
    let loc = || Location::file("p");
    let _ = decode_document(bytes, loc(), &limits);
    let _ = decode_http_request(bytes, loc(), &limits);
    let _ = NdjsonReader::new(Cursor::new(bytes.to_vec()), loc(), small(64)).count();
    let _ = NdjsonReader::new(Cursor::new(bytes.to_vec()), loc(), limits.clone()).count();
    let _ = decode_reader(Cursor::new(bytes.to_vec()), loc(), &limits).count();
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_inputs_never_panic(
        which in 0usize..7,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8),
    ) {
        let bytes = samples().swap_remove(which);
        exercise(&mutate(bytes, edits));
    }

    #[test]
    fn arbitrary_header_values_never_panic(
        names in proptest::collection::vec("[cC][eE]-[a-zA-Z]{0,6}|content-(type|length)", 0..6),
        values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 6),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let headers: Vec<(String, Vec<u8>)> = names.into_iter().zip(values).collect();
        let _ = decode_http_body(&headers, &body, Location::file("h"), &Limits::default());
        let _ = decode_binary(&headers, CDEVENT.as_bytes(), &Limits::default());
    }

    #[test]
    fn percent_encoding_round_trips(s in "\\PC{0,20}") {
        let encoded: String = s.bytes().map(|b| {
            if (0x21..=0x7e).contains(&b) && b != b'"' && b != b'%' { (b as char).to_string() } else { format!("%{b:02X}") }
        }).collect();
        prop_assert_eq!(http::decode_header_value("ce-x", encoded.as_bytes()).ok(), Some(s));
    }
}

#[test]
fn unlimited_limits_do_not_overflow() {
    let limits = Limits {
        max_event_bytes: usize::MAX,
        max_document_bytes: usize::MAX,
        max_batch_items: usize::MAX,
        max_depth: usize::MAX,
        max_files: usize::MAX,
        max_headers: usize::MAX,
    };
    let text = format!("{CDEVENT}\n{CDEVENT}\n");
    let items: Vec<_> =
        decode_reader(Cursor::new(text.into_bytes()), Location::file("u"), &limits).collect();
    assert_eq!(items.len(), 2);
    let items = decode_http_request(
        binary_capture("", CDEVENT).as_bytes(),
        Location::file("u"),
        &limits,
    );
    assert!(one(items).is_ok());
    let e = err(doc(&format!("{CDEVENT}\n{CDEVENT}")));
    assert!(e.to_string().contains(".ndjson"), "{e}");
}
