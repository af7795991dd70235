//! Sending one case: reqwest for well-formed requests, a raw TCP client for the rest.
//!
//! The raw client writes exactly the bytes it is given (upper-case header names, lying
//! `Content-Length`, invalid UTF-8, garbage) and reads the answer while it writes, so that a
//! listener answering early (413, 431) is heard even when it stops reading.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use cdevents_reports::model::HttpMessage;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use super::corpus::{Auth, Hostile, Payload};
use crate::wire::{raw_request, WireRequest};

/// Most response bytes kept.
const RESPONSE_CAP: usize = 1 << 20;
/// How long hostile requests that stall hold the connection.
const STALL: Duration = Duration::from_millis(300);

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers in order (names lower-case when read by reqwest).
    pub headers: Vec<(String, String)>,
    /// The body (at most 1 MiB of it).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The answer as report evidence.
    pub fn to_message(&self) -> HttpMessage {
        HttpMessage::capped(
            format!("HTTP/1.1 {}", self.status),
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            &self.body,
        )
    }

    /// [`to_message`](Self::to_message), moving the headers and body in instead of copying.
    pub fn into_message(self) -> HttpMessage {
        HttpMessage::from_parts(format!("HTTP/1.1 {}", self.status), self.headers, self.body)
    }
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The connection could not be made.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// No complete answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection closed before a complete answer.
    #[error("the connection closed without an HTTP answer")]
    Closed,
    /// Anything else on the way.
    #[error("{0}")]
    Other(String),
}

/// One request and what came of it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request as sent, for the report.
    pub request: HttpMessage,
    /// A curl command that sends it again, when curl can.
    pub curl: Option<String>,
    /// Or the URL of that command, rendered from `request` only when a report reads it
    /// ([`Evidence::curl_to`](cdevents_reports::model::Evidence::curl_to)).
    pub curl_to: Option<Arc<str>>,
    /// The answer, or why there was none.
    pub outcome: Result<Response, SendError>,
}

/// The target of a run, parsed once.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given.
    pub url: String,
    host: String,
    port: u16,
    authority: String,
    path: String,
    https: bool,
}

impl Target {
    /// Parses an `http://` or `https://` URL.
    pub fn parse(url: &str) -> Result<Target, String> {
        let u = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let https = match u.scheme() {
            "http" => false,
            "https" => true,
            s => {
                return Err(format!(
                    "`{url}`: the scheme must be http or https, not {s}"
                ))
            }
        };
        let host = u
            .host_str()
            .ok_or_else(|| format!("`{url}` names no host"))?
            .trim_matches(|c| c == '[' || c == ']')
            .to_owned();
        let port = u.port_or_known_default().unwrap_or(80);
        let authority = match u.port() {
            Some(p) if host.contains(':') => format!("[{host}]:{p}"),
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let mut path = u.path().to_owned();
        if let Some(q) = u.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(Target {
            url: url.to_owned(),
            host,
            port,
            authority,
            path,
            https,
        })
    }

    /// `host:port` for the `Host` header.
    pub fn authority(&self) -> &str {
        &self.authority
    }
}

/// The access token of a run (`--token`): never printed, not even by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    token: String,
    /// The token as the `access_token` query parameter writes it.
    encoded: String,
}

impl Secret {
    /// A token; `None` when it is empty.
    pub fn new(token: &str) -> Option<Secret> {
        if token.is_empty() {
            return None;
        }
        let mut u = reqwest::Url::parse("http://x/").ok()?;
        u.query_pairs_mut().append_pair("t", token);
        let encoded = u.query()?.strip_prefix("t=")?.to_owned();
        Some(Secret {
            token: token.to_owned(),
            encoded,
        })
    }

    /// `text` with every occurrence of the token replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.token, "***")
            .replace(&self.encoded, "***")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Sends cases to one target.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    target: Target,
    timeout: Duration,
    token: Option<Secret>,
    /// The target URL as evidence shows it (the token redacted), shared by every case.
    shown_url: Arc<str>,
}

impl Client {
    /// A client for `target` whose every request gives up after `timeout`.
    pub fn new(target: Target, timeout: Duration) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Client {
            http,
            shown_url: target.url.as_str().into(),
            target,
            timeout,
            token: None,
        })
    }

    /// The same client, sending `token` with every request (http-webhook 3).
    pub fn with_token(mut self, token: Option<Secret>) -> Client {
        self.shown_url = match &token {
            Some(t) => t.redact(&self.target.url).into(),
            None => self.target.url.as_str().into(),
        };
        self.token = token;
        self
    }

    /// Whether the run has an access token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// `msg` with the token replaced by `***` wherever it shows.
    fn redacted(&self, mut msg: HttpMessage) -> HttpMessage {
        if let Some(t) = &self.token {
            msg.start_line = t.redact(&msg.start_line);
            for (_, v) in msg.headers.iter_mut() {
                *v = t.redact(v);
            }
            msg.body = t.redact(&msg.body);
        }
        msg
    }

    /// The `Authorization` header the token makes, when there is one.
    fn bearer(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {}", t.token))
    }

    /// The URL and request target of a case: with `access_token` for [`Auth::Query`].
    fn url_for(&self, auth: Auth) -> (Cow<'_, str>, Cow<'_, str>) {
        let plain = || {
            (
                Cow::Borrowed(self.target.url.as_str()),
                Cow::Borrowed(self.target.path.as_str()),
            )
        };
        match (&self.token, auth) {
            (Some(t), Auth::Query) => match reqwest::Url::parse(&self.target.url) {
                Ok(mut u) => {
                    u.query_pairs_mut().append_pair("access_token", &t.token);
                    let path = match u.query() {
                        Some(q) => format!("{}?{q}", u.path()),
                        None => u.path().to_owned(),
                    };
                    (Cow::Owned(u.to_string()), Cow::Owned(path))
                }
                Err(_) => plain(),
            },
            _ => plain(),
        }
    }

    /// The request as sent for `auth`: with `Authorization: Bearer` unless the token goes in
    /// the query.
    /// Borrowed as it is when there is no header to add: no copy of the body per request.
    fn authorized<'r>(&self, req: &'r WireRequest, auth: Auth) -> Cow<'r, WireRequest> {
        match (self.bearer(), auth == Auth::Query) {
            (Some(b), false) => {
                let mut r = req.clone();
                r.headers
                    .retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
                r.headers.push(("authorization".into(), b));
                Cow::Owned(r)
            }
            _ => Cow::Borrowed(req),
        }
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The request as report evidence.
    pub fn message_of(&self, req: &WireRequest) -> HttpMessage {
        HttpMessage::capped(
            format!("{} {} HTTP/1.1", req.method, self.target.path),
            req.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            &req.body,
        )
    }

    /// Sends one payload, the token (if any) in the `Authorization` header.
    pub async fn send(&self, payload: &Payload) -> Exchange {
        self.send_as(payload, Auth::Default).await
    }

    /// Sends one payload, the token (if any) as `auth` says. Evidence never shows the token.
    pub async fn send_as(&self, payload: &Payload, auth: Auth) -> Exchange {
        match payload {
            Payload::Http(req) => {
                let req = self.authorized(req, auth);
                let (url, path) = self.url_for(auth);
                let request = self.redacted(HttpMessage::capped(
                    format!("{} {path} HTTP/1.1", req.method),
                    req.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                    &req.body,
                ));
                let shown_url = match &self.token {
                    Some(t) => Cow::Owned(t.redact(&url)),
                    None => Cow::Borrowed(&*url),
                };
                Exchange {
                    curl: request.to_curl(&shown_url),
                    curl_to: None,
                    request,
                    outcome: self.send_http(&req, &url).await,
                }
            }
            Payload::Raw(h) => {
                let (bytes, stall) = self.hostile_bytes(h);
                let request = self.redacted(match payload.request() {
                    Some(r) => self.message_of(&self.authorized(r, Auth::Default)),
                    None => raw_message(&bytes),
                });
                let outcome = if self.target.https {
                    Err(SendError::Other(
                        "the raw client speaks plain HTTP only; give an http:// target".into(),
                    ))
                } else {
                    self.send_raw(bytes, stall).await
                };
                Exchange {
                    request,
                    curl: None,
                    curl_to: None,
                    outcome,
                }
            }
        }
    }

    /// Sends a well-formed request it is given, the token (if any) in the `Authorization`
    /// header, and gives the request back with the answer: the body is shared with reqwest,
    /// not copied, and [`exchange_of`](Self::exchange_of) then moves it into the evidence.
    pub async fn send_owned(&self, req: WireRequest) -> (WireRequest, Result<Response, SendError>) {
        if let Cow::Owned(r) = self.authorized(&req, Auth::Default) {
            let outcome = self.send_http(&r, &self.target.url).await;
            return (req, outcome);
        }
        let WireRequest {
            method,
            headers,
            body,
        } = req;
        let body = bytes::Bytes::from(body);
        let outcome = self
            .send_body(&method, &headers, body.clone(), &self.target.url)
            .await;
        // reqwest has let go of its handle once the request is written: no copy then.
        let body = Vec::from(body);
        (
            WireRequest {
                method,
                headers,
                body,
            },
            outcome,
        )
    }

    /// The exchange [`send_as`](Self::send_as) with [`Auth::Default`] reports for `req` and
    /// `outcome`, built by moving `req` in (no copy of its headers or body without a token);
    /// its curl command is left to be rendered when a report reads it.
    pub fn exchange_of(&self, req: WireRequest, outcome: Result<Response, SendError>) -> Exchange {
        let request = match &self.token {
            None => HttpMessage::from_parts(
                format!("{} {} HTTP/1.1", req.method, self.target.path),
                req.headers,
                req.body,
            ),
            Some(_) => self.redacted(self.message_of(&self.authorized(&req, Auth::Default))),
        };
        Exchange {
            request,
            curl: None,
            curl_to: Some(self.shown_url.clone()),
            outcome,
        }
    }

    /// Sends one well-formed request with reqwest to `url` (the relay suite's sender uses it
    /// directly: no evidence is built per request).
    pub async fn send_http(&self, req: &WireRequest, url: &str) -> Result<Response, SendError> {
        self.send_body(&req.method, &req.headers, req.body.clone().into(), url)
            .await
    }

    async fn send_body(
        &self,
        method: &str,
        headers: &[(String, String)],
        body: bytes::Bytes,
        url: &str,
    ) -> Result<Response, SendError> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| SendError::Other(format!("bad method: {e}")))?;
        let mut b = self.http.request(method, url);
        for (n, v) in headers {
            b = b.header(n.as_str(), v.as_str());
        }
        let mut res = b.body(body).send().await.map_err(|e| self.error(e))?;
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    // `as_str`, not `to_string`: no formatting machinery per header.
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        // Streamed and cut at the cap: a target answering with gigabytes is never held
        // (dropping the rest closes the connection).
        let mut body = Vec::new();
        while body.len() < RESPONSE_CAP {
            let Some(chunk) = res.chunk().await.map_err(|e| self.error(e))? else {
                break;
            };
            let room = RESPONSE_CAP - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    fn error(&self, e: reqwest::Error) -> SendError {
        if e.is_timeout() {
            SendError::Timeout(self.timeout)
        } else if e.is_connect() {
            SendError::Connect(error_chain(&e))
        } else {
            let text = error_chain(&e);
            if text.contains("closed") || text.contains("reset") || text.contains("incomplete") {
                SendError::Closed
            } else {
                SendError::Other(text)
            }
        }
    }

    /// The bytes of a hostile request, and how long to stall after them.
    fn hostile_bytes(&self, h: &Hostile) -> (Vec<u8>, Option<Duration>) {
        let (path, authority) = (&self.target.path, &self.target.authority);
        let auth = match self.bearer() {
            Some(b) => format!("authorization: {b}\r\n"),
            None => String::new(),
        };
        let head = |extra: &str| {
            format!(
                "POST {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n{auth}{extra}"
            )
            .into_bytes()
        };
        match h {
            Hostile::Exact(req) => {
                let mut r = self.authorized(req, Auth::Default).into_owned();
                r.headers.push(("connection".into(), "close".into()));
                (raw_request(&r, authority, path), None)
            }
            Hostile::TruncatedBody(req) => {
                let mut r = self.authorized(req, Auth::Default).into_owned();
                let promised = r.body.len() + 4096;
                r.headers
                    .push(("content-length".into(), promised.to_string()));
                (raw_request(&r, authority, path), Some(STALL))
            }
            Hostile::StalledHead => (
                format!(
                    "POST {path} HTTP/1.1\r\nhost: {authority}\r\n{auth}ce-specversion: 1.0\r\nce-sou"
                )
                .into_bytes(),
                Some(STALL),
            ),
            Hostile::HugeHeader(n) => {
                let mut b = head("x-kit-huge: ");
                b.extend(std::iter::repeat_n(b'a', *n));
                b.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
                (b, None)
            }
            Hostile::ManyHeaders(n) => {
                let mut b = head("");
                for i in 0..*n {
                    b.extend_from_slice(format!("x-kit-{i}: {i}\r\n").as_bytes());
                }
                b.extend_from_slice(b"content-length: 0\r\n\r\n");
                (b, None)
            }
            Hostile::Garbage(g) => (g.clone(), Some(STALL)),
        }
    }

    /// Writes `bytes` on a new connection while reading the answer.
    async fn send_raw(
        &self,
        bytes: Vec<u8>,
        stall: Option<Duration>,
    ) -> Result<Response, SendError> {
        let deadline = Instant::now() + stall.unwrap_or(self.timeout);
        let addr = (self.target.host.as_str(), self.target.port);
        let stream = match timeout(self.timeout, TcpStream::connect(addr)).await {
            Err(_) => return Err(SendError::Timeout(self.timeout)),
            Ok(Err(e)) => return Err(SendError::Connect(e.to_string())),
            Ok(Ok(s)) => s,
        };
        let (mut rd, mut wr) = stream.into_split();
        // The write half is kept open until the answer is read: some servers drop a request
        // whose sender half-closes.
        let writer = tokio::spawn(async move {
            let _ = wr.write_all(&bytes).await;
            let _ = wr.flush().await;
            wr
        });
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 << 10];
        let result = loop {
            if let Some(r) = parse_response(&buf, false) {
                break Ok(r);
            }
            match tokio::time::timeout_at(deadline, rd.read(&mut chunk)).await {
                Err(_) => {
                    break parse_response(&buf, true)
                        .ok_or(SendError::Timeout(stall.unwrap_or(self.timeout)))
                }
                Ok(Ok(0)) | Ok(Err(_)) => {
                    break parse_response(&buf, true).ok_or(SendError::Closed)
                }
                Ok(Ok(n)) => {
                    let room = RESPONSE_CAP.saturating_sub(buf.len());
                    buf.extend_from_slice(&chunk[..n.min(room)]);
                    if buf.len() >= RESPONSE_CAP {
                        // Enough: whatever follows (gigabytes?) is not read.
                        break parse_response(&buf, true).ok_or_else(|| {
                            SendError::Other(format!(
                                "no complete HTTP answer head in the first {RESPONSE_CAP} bytes"
                            ))
                        });
                    }
                }
            }
        };
        writer.abort();
        result
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A complete answer in `buf`, or (when `eof`) whatever answer head is there.
fn parse_response(buf: &[u8], eof: bool) -> Option<Response> {
    let mut slots = [httparse::EMPTY_HEADER; 128];
    let mut r = httparse::Response::new(&mut slots);
    let head = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return None,
    };
    let status = r.code?;
    let headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let find = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.trim().to_owned())
    };
    let rest = &buf[head..];
    let body = if let Some(cl) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() < cl && !eof {
            return None;
        }
        rest[..rest.len().min(cl)].to_vec()
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        match dechunk(rest) {
            Some(b) => b,
            None if eof => rest.to_vec(),
            None => return None,
        }
    } else if (100..200).contains(&status) || status == 204 || status == 304 {
        Vec::new()
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(Response {
        status,
        headers,
        body,
    })
}

/// The body of a complete chunked encoding, or `None` if it is not complete yet.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if b.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// Report evidence of raw bytes: the request line and headers when they parse, else all of
/// it as the body.
fn raw_message(bytes: &[u8]) -> HttpMessage {
    let line_end = bytes.windows(2).position(|w| w == b"\r\n");
    let mut slots = vec![httparse::EMPTY_HEADER; 256];
    let mut r = httparse::Request::new(&mut slots);
    match (r.parse(bytes), line_end) {
        (Ok(httparse::Status::Complete(n)), Some(end)) => HttpMessage::capped(
            &bytes[..end],
            r.headers.iter().map(|h| (h.name.as_bytes(), h.value)),
            &bytes[n..],
        ),
        (_, Some(end)) => HttpMessage::capped(
            &bytes[..end],
            std::iter::empty::<(&[u8], &[u8])>(),
            &bytes[end + 2..],
        ),
        _ => HttpMessage::capped(
            "(bytes that are not an HTTP request)",
            std::iter::empty::<(&[u8], &[u8])>(),
            bytes,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_answers() {
        let r = parse_response(
            b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\nok",
            false,
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (202, b"ok".as_slice()));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nok", false).is_none());
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(r.body, b"ok");
        let r = parse_response(b"HTTP/1.1 400 Bad\r\n\r\nwhy", true).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (400, b"why".as_slice()));
    }

    #[test]
    fn targets() {
        let t = Target::parse("http://127.0.0.1:8080/events?x=1").unwrap();
        assert_eq!(
            (t.authority(), t.path.as_str()),
            ("127.0.0.1:8080", "/events?x=1")
        );
        let t = Target::parse("http://[::1]:9/").unwrap();
        assert_eq!((t.host.as_str(), t.authority()), ("::1", "[::1]:9"));
        assert!(Target::parse("ftp://x/").is_err());
    }
}
