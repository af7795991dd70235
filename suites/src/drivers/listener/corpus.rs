//! The cases of the listener suite, as data: what to send, which requirement it probes and
//! what the spec lets the listener answer.
//!
//! [`cases`] is pure: the same [`Options`] give the same cases with the same bytes, so a case
//! id plus the seed reproduces a failure exactly. Every case id starts with its requirement id
//! (`LIS-001/binary/pipelinerun.finished`), so ids select by prefix.

use cdevents_schemas::{catalogue, SpecVersion};
use serde_json::{json, Value};

use crate::generators::{mutations, sample};
use crate::input::CeAttributes;
use crate::wire::{
    ce_attributes_for, encode, percent_encode_header_value, sdk_encode, Mode, WireRequest,
};

/// What the corpus is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The spec versions whose event types are sent.
    pub specs: Vec<SpecVersion>,
    /// Generated valid events per type and mode (`--cases N`).
    pub cases_per_type: usize,
    /// The seed of every generated event (`--seed S`).
    pub seed: u64,
    /// Also send batches (`--profile batch`).
    pub batch: bool,
    /// Size of the oversized body (WH-012).
    pub oversize_bytes: usize,
    /// Also try the webhook validation handshake (`--profile webhook`).
    pub webhook: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            specs: vec![SpecVersion::DEFAULT],
            cases_per_type: 1,
            seed: 0,
            batch: false,
            oversize_bytes: 8 << 20,
            webhook: false,
        }
    }
}

/// How a case carries the access token the run was given (`--token`, http-webhook 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Auth {
    /// As every request of the run: `Authorization: Bearer`, when a token is given.
    #[default]
    Default,
    /// Only in the `Authorization: Bearer` header; the case needs a token (WH-014).
    Header,
    /// Only in the `access_token` query parameter, no header; the case needs a token (WH-014).
    Query,
}

/// What the spec lets the listener answer to one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Taken: any 2xx.
    Accepted,
    /// Taken, with a status of http-webhook 2.2: 200, 201, 202 or 204, and not 200 with an
    /// empty body (WH-006).
    AcceptedStrict,
    /// Refused as the sender's fault: any 4xx.
    Refused,
    /// Taken or refused, but never a 5xx (nor a 3xx): a 2xx or a 4xx.
    NotServerError,
    /// Exactly this status (415 for an unsupported media type).
    Status(u16),
    /// Taken (2xx), or refused with exactly this status (413 for a body too large).
    AcceptedOr(u16),
    /// Anything, even no answer: the verdict is the liveness probe that follows.
    Anything,
    /// An answer to the webhook validation handshake, judged by one rule of http-webhook 4.2.
    Handshake(Handshake),
}

/// The rules of the answer to the validation handshake (http-webhook 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// Permission is granted: `WebHook-Allowed-Origin` is there (WH-015).
    Granted,
    /// A grant names the origin asked for, or `*` (WH-018).
    Origin,
    /// A grant to a request that asked for a rate carries `WebHook-Allowed-Rate`, `*` or a
    /// positive integer (WH-019).
    Rate,
    /// The answer lists POST in `Allow` (WH-020).
    Allow,
    /// No grant and an error status: 405 (WH-021).
    NotHandled,
}

/// The `WebHook-Request-Origin` the kit sends in the handshake.
pub const WEBHOOK_ORIGIN: &str = "conformance.cdevents.example";

impl Expect {
    /// What the spec allows, in words, for reports.
    pub fn describe(&self) -> String {
        match self {
            Expect::Accepted => "a 2xx status (the event is taken)".into(),
            Expect::AcceptedStrict => {
                "200 or 201 with a body, 202, or 204 (http-webhook 2.2); never 200 with an empty body"
                    .into()
            }
            Expect::Refused => "a 4xx status (the request is refused as the sender's fault)".into(),
            Expect::NotServerError => "a 2xx or 4xx status, never 5xx".into(),
            Expect::Status(s) => format!("status {s}"),
            Expect::AcceptedOr(s) => format!("a 2xx status, or {s}"),
            Expect::Anything => "any answer, then a valid event still taken".into(),
            Expect::Handshake(h) => match h {
                Handshake::Granted => "an answer carrying WebHook-Allowed-Origin".into(),
                Handshake::Origin => {
                    format!("WebHook-Allowed-Origin: {WEBHOOK_ORIGIN} or *, when granted")
                }
                Handshake::Rate => {
                    "WebHook-Allowed-Rate: * or a positive integer, when granted".into()
                }
                Handshake::Allow => "an Allow header listing POST".into(),
                Handshake::NotHandled => "a grant, or else 405 Method Not Allowed".into(),
            },
        }
    }
}

/// Requests a well-behaved HTTP library will not send, written byte by byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hostile {
    /// A request whose `Content-Length` promises more than is sent; the client then stalls and
    /// closes.
    TruncatedBody(WireRequest),
    /// A request head that stops in the middle of the headers, then stalls.
    StalledHead,
    /// A header value of this many bytes.
    HugeHeader(usize),
    /// This many headers.
    ManyHeaders(usize),
    /// Bytes that are not HTTP at all.
    Garbage(Vec<u8>),
    /// A full, well-framed request sent byte for byte (bodies and headers a library would
    /// refuse or rewrite: invalid UTF-8, upper-case header names).
    Exact(WireRequest),
}

/// How a case's request travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A well-formed request, sent with reqwest (and replayable with curl).
    Http(WireRequest),
    /// Sent by the raw TCP client.
    Raw(Hostile),
}

impl Payload {
    /// The request as the report shows it, when it is one.
    pub fn request(&self) -> Option<&WireRequest> {
        match self {
            Payload::Http(r) => Some(r),
            Payload::Raw(Hostile::TruncatedBody(r) | Hostile::Exact(r)) => Some(r),
            Payload::Raw(_) => None,
        }
    }
}

/// One case: one request (or a redelivered pair), one requirement, one expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// `<requirement id>/<variant>`.
    pub id: String,
    /// The requirement it probes.
    pub requirement: &'static str,
    /// The spec version of the event sent.
    pub spec: SpecVersion,
    /// What is sent, in words.
    pub what: String,
    /// The request.
    pub payload: Payload,
    /// What the spec lets the listener answer.
    pub expect: Expect,
    /// Follow with a liveness probe (`LIS-006/after/<id>`); hostile input.
    pub probe_after: bool,
    /// Send the same request twice and judge the second answer (redelivery).
    pub repeat: bool,
    /// The CDEvent carried, when there is one.
    pub event: Option<Value>,
    /// How the access token travels.
    pub auth: Auth,
}

impl Case {
    fn new(
        id: String,
        requirement: &'static str,
        spec: SpecVersion,
        what: impl Into<String>,
        payload: Payload,
        expect: Expect,
    ) -> Self {
        Case {
            id,
            requirement,
            spec,
            what: what.into(),
            payload,
            expect,
            probe_after: !matches!(
                expect,
                Expect::Accepted | Expect::AcceptedStrict | Expect::Handshake(_)
            ),
            repeat: false,
            event: None,
            auth: Auth::Default,
        }
    }

    fn with_event(mut self, ev: &Value) -> Self {
        self.event = Some(ev.clone());
        self
    }

    /// Whether the case is judged only when the run has an access token (`--token`).
    pub fn needs_token(&self) -> bool {
        self.auth != Auth::Default
    }

    /// Whether this case must run alone, in corpus order: hostile input and its probe, and
    /// redeliveries, whose meaning depends on what came just before.
    pub fn sequential(&self) -> bool {
        self.probe_after || self.repeat || matches!(self.payload, Payload::Raw(_))
    }
}

/// A uuid-shaped id that depends only on `seed` and `label`: every case sends its own event
/// id, so that only redelivery cases repeat one.
pub fn uuid_for(seed: u64, label: &str) -> String {
    let h = |salt: u64| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt ^ seed.rotate_left(17);
        for b in label.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    };
    let s = format!("{:016x}{:016x}", h(1), h(0x9e37_79b9_7f4a_7c15));
    format!(
        "{}-{}-4{}-a{}-{}",
        &s[..8],
        &s[8..12],
        &s[13..16],
        &s[17..20],
        &s[20..32]
    )
}

/// A valid event of `type_name` for the case `label`, with its own id.
pub fn event_for(spec: SpecVersion, type_name: &str, seed: u64, label: &str) -> Option<Value> {
    let mut ev = sample(spec, type_name, seed).ok()?;
    ev["context"]["id"] = Value::from(uuid_for(seed, label));
    Some(ev)
}

/// The event a liveness probe sends: valid, binary mode, an id of its own per `label`.
pub fn probe_request(spec: SpecVersion, seed: u64, label: &str) -> Option<(WireRequest, Value)> {
    let mut ev = probe_base(spec, seed)?;
    ev["context"]["id"] = Value::from(uuid_for(seed, &format!("probe/{label}")));
    Some((single(Mode::Binary, &ev), ev))
}

/// The probe event of `(spec, seed)` before its id is set: generated once per process (a
/// generated event costs milliseconds, and every run sends a preflight and hostile cases a
/// probe each). `sample` is a pure function of its arguments, so the cache changes no byte.
fn probe_base(spec: SpecVersion, seed: u64) -> Option<Value> {
    type Probes = std::sync::Mutex<Vec<((SpecVersion, u64), Value)>>;
    static PROBES: std::sync::OnceLock<Probes> = std::sync::OnceLock::new();
    let probes = PROBES.get_or_init(Default::default);
    let known = |p: &Probes| {
        let p = p.lock().unwrap_or_else(|e| e.into_inner());
        p.iter()
            .find(|(k, _)| *k == (spec, seed))
            .map(|(_, v)| v.clone())
    };
    if let Some(ev) = known(probes) {
        return Some(ev);
    }
    let ev = sample(spec, &base_type(spec)?, seed).ok()?;
    let mut p = probes.lock().unwrap_or_else(|e| e.into_inner());
    // Bounded: a process runs with one seed or a few; many seeds just regenerate.
    if p.len() >= 16 {
        p.clear();
    }
    p.push(((spec, seed), ev.clone()));
    Some(ev)
}

fn base_type(spec: SpecVersion) -> Option<String> {
    let cat = catalogue::for_version(spec);
    cat.event_by_name("pipelinerun", "finished")
        .or_else(|| cat.events.first())
        .map(|d| d.type_name.clone())
}

/// A well-formed event as the CloudEvents SDK writes it, or (where the SDK cannot write this
/// event faithfully: see [`sdk_encode`]) as the kit's encoder does; the flag says which.
fn well_formed(mode: Mode, ev: &Value) -> (WireRequest, bool) {
    match sdk_encode(mode, ev) {
        Some(req) => (req, true),
        None => (single(mode, ev), false),
    }
}

fn by_sdk(what: String, sdk: bool) -> String {
    if sdk {
        format!("{what} (encoded by cloudevents-sdk)")
    } else {
        what
    }
}

fn single(mode: Mode, ev: &Value) -> WireRequest {
    encode(mode, &[(ce_attributes_for(ev), ev.clone())])
}

fn with_attrs(mode: Mode, ce: CeAttributes, ev: &Value) -> WireRequest {
    encode(mode, &[(ce, ev.clone())])
}

fn set_header(req: &mut WireRequest, name: &str, value: &str) {
    req.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    req.headers.push((name.to_owned(), value.to_owned()));
}

fn remove_header(req: &mut WireRequest, name: &str) {
    req.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
}

/// Edits the JSON envelope of a structured-mode request.
fn edit_envelope(req: &mut WireRequest, f: impl FnOnce(&mut serde_json::Map<String, Value>)) {
    if let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(&req.body) {
        f(&mut o);
        req.body = serde_json::to_vec(&Value::Object(o)).unwrap_or_default();
    }
}

/// Lower-case hex percent-encoding of every byte outside unreserved ASCII.
fn percent_encode_lower(s: &str) -> String {
    percent_encode_header_value(s)
        .split('%')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 || part.len() < 2 {
                part.to_owned()
            } else {
                format!("{}{}", part[..2].to_ascii_lowercase(), &part[2..])
            }
        })
        .collect::<Vec<_>>()
        .join("%")
}

/// Every case for `opts`, in run order: valid corpus, edge cases, invalid corpus, hostile input.
pub fn cases(opts: &Options) -> Vec<Case> {
    let mut out = Vec::new();
    let several = opts.specs.len() > 1;
    for &spec in &opts.specs {
        let v = if several {
            format!("{spec}/")
        } else {
            String::new()
        };
        valid_corpus(spec, &v, opts, &mut out);
        edge_cases(spec, &v, opts, &mut out);
        invalid_corpus(spec, &v, opts, &mut out);
        hostile(spec, &v, opts, &mut out);
    }
    token_cases(
        opts.specs.first().copied().unwrap_or(SpecVersion::DEFAULT),
        opts.seed,
        &mut out,
    );
    if opts.webhook {
        handshake(
            opts.specs.first().copied().unwrap_or(SpecVersion::DEFAULT),
            &mut out,
        );
    }
    out
}

/// WH-014 (http-webhook 3): a valid event with the token only in the `access_token` query
/// parameter, and one with it only in the `Authorization` header. The client adds the token
/// it was given; without one the engine skips these cases.
fn token_cases(spec: SpecVersion, seed: u64, out: &mut Vec<Case>) {
    let Some(t) = base_type(spec) else { return };
    for (variant, auth, what) in [
        (
            "query-only",
            Auth::Query,
            "a valid event with the token only in the access_token query parameter",
        ),
        (
            "header-only",
            Auth::Header,
            "a valid event with the token only in Authorization: Bearer",
        ),
    ] {
        let id = format!("WH-014/{variant}");
        let Some(ev) = event_for(spec, &t, seed, &id) else {
            continue;
        };
        let mut c = accept(id, "WH-014", spec, what, single(Mode::Binary, &ev), &ev);
        c.auth = auth;
        out.push(c);
    }
}

/// The webhook validation handshake (http-webhook 4): one OPTIONS request per rule.
fn handshake(spec: SpecVersion, out: &mut Vec<Case>) {
    let options = |rate: bool| {
        let mut headers = vec![(
            "webhook-request-origin".to_owned(),
            WEBHOOK_ORIGIN.to_owned(),
        )];
        if rate {
            headers.push(("webhook-request-rate".into(), "120".into()));
        }
        Payload::Http(WireRequest {
            method: "OPTIONS".into(),
            headers,
            body: Vec::new(),
        })
    };
    for (id, req, what, rate, rule) in [
        (
            "WH-015/options",
            "WH-015",
            "the OPTIONS validation handshake",
            false,
            Handshake::Granted,
        ),
        (
            "WH-018/options",
            "WH-018",
            "the origin granted in the handshake",
            false,
            Handshake::Origin,
        ),
        (
            "WH-019/options-rate",
            "WH-019",
            "a handshake asking for 120 requests a minute",
            true,
            Handshake::Rate,
        ),
        (
            "WH-020/options",
            "WH-020",
            "the Allow header of the handshake answer",
            false,
            Handshake::Allow,
        ),
        (
            "WH-021/options",
            "WH-021",
            "the status of a handshake not granted",
            false,
            Handshake::NotHandled,
        ),
    ] {
        out.push(Case::new(
            id.into(),
            req,
            spec,
            what,
            options(rate),
            Expect::Handshake(rule),
        ));
    }
}

fn modes(opts: &Options) -> Vec<Mode> {
    let mut m = vec![Mode::Binary, Mode::Structured];
    if opts.batch {
        m.push(Mode::Batch);
    }
    m
}

fn valid_corpus(spec: SpecVersion, v: &str, opts: &Options, out: &mut Vec<Case>) {
    let cat = catalogue::for_version(spec);
    for def in &cat.events {
        for n in 0..opts.cases_per_type.max(1) {
            let short = def.short_name();
            let suffix = if n == 0 {
                String::new()
            } else {
                format!("#{n}")
            };
            let seed = opts.seed.wrapping_add(n as u64);
            for mode in modes(opts) {
                let id = format!("LIS-001/{v}{mode}/{short}{suffix}");
                let Some(ev) = event_for(spec, &def.type_name, seed, &id) else {
                    continue;
                };
                let (req, sdk) = well_formed(mode, &ev);
                let what = by_sdk(
                    format!("a valid {} event in {mode} mode", def.type_name),
                    sdk,
                );
                out.push(
                    Case::new(
                        id,
                        "LIS-001",
                        spec,
                        what,
                        Payload::Http(req),
                        Expect::Accepted,
                    )
                    .with_event(&ev),
                );
            }
        }
    }
    golden_corpus(spec, v, opts, out);
    if spec.has_links() {
        for mode in [Mode::Binary, Mode::Structured] {
            let id = format!("LIS-002/{v}{mode}/custom");
            if let Some(ev) = event_for(spec, "dev.cdeventsx.tool-thing.done.0.1.0", opts.seed, &id)
            {
                out.push(
                    Case::new(
                        id,
                        "LIS-002",
                        spec,
                        format!("a valid dev.cdeventsx custom event in {mode} mode"),
                        Payload::Http(single(mode, &ev)),
                        Expect::Accepted,
                    )
                    .with_event(&ev),
                );
            }
        }
    }
}

/// The project's golden valid events (fixtures/<version>/valid/, embedded at build time), in
/// binary and structured mode. Each case gets its own `context.id`, so that only redelivery
/// cases repeat an id; the rest of the fixture is sent as written.
fn golden_corpus(spec: SpecVersion, v: &str, opts: &Options, out: &mut Vec<Case>) {
    for g in crate::golden::valid(spec) {
        let Ok(mut ev) = serde_json::from_str::<Value>(g.json) else {
            continue;
        };
        let (req, kind) = if g.custom {
            ("LIS-002", "custom dev.cdeventsx")
        } else {
            ("LIS-001", "valid")
        };
        for mode in [Mode::Binary, Mode::Structured] {
            let id = format!("{req}/{v}{mode}/golden/{}", g.name);
            ev["context"]["id"] = Value::from(uuid_for(opts.seed, &id));
            let what = format!(
                "the golden {kind} event {}/valid/{} in {mode} mode",
                g.version, g.name
            );
            let (wire, sdk) = well_formed(mode, &ev);
            out.push(accept(id, req, spec, by_sdk(what, sdk), wire, &ev));
        }
    }
}

fn edge_cases(spec: SpecVersion, v: &str, opts: &Options, out: &mut Vec<Case>) {
    let Some(t) = base_type(spec) else { return };
    let seed = opts.seed;
    let d = Derive { spec, t: &t, seed };
    let ok = Expect::Accepted;

    // LIS-003: optional parts the listener may not use.
    for mode in [Mode::Binary, Mode::Structured] {
        out.extend(d.event(
            format!("LIS-003/{v}{mode}/custom-data-json"),
            "LIS-003",
            "customData as a JSON object",
            ok,
            mode,
            |ev| {
                ev["customData"] =
                    json!({"build": {"tool": "kit", "steps": [1, 2, 3]}, "note": "ünïcode ✓"});
                ev["customDataContentType"] = Value::from("application/json");
            },
        ));
        out.extend(d.event(
            format!("LIS-003/{v}{mode}/custom-data-base64"),
            "LIS-003",
            "customData as base64 (application/xml)",
            ok,
            mode,
            |ev| {
                // "<build ok=\"yes\"/>" in base64.
                ev["customData"] = Value::from("PGJ1aWxkIG9rPSJ5ZXMiLz4=");
                ev["customDataContentType"] = Value::from("application/xml");
            },
        ));
        out.extend(d.attrs(
            format!("LIS-003/{v}{mode}/unknown-extension"),
            "LIS-003",
            "an unknown CloudEvents extension attribute",
            ok,
            mode,
            |ce| {
                ce.extensions
                    .insert("kitextension".into(), Value::from("some value"));
            },
        ));
        if spec.has_links() {
            out.extend(d.event(
                format!("LIS-003/{v}{mode}/chain-id"),
                "LIS-003",
                "context.chainId",
                ok,
                mode,
                |ev| ev["context"]["chainId"] = Value::from(uuid_for(seed, "chain")),
            ));
            let id = format!("LIS-003/{v}{mode}/links");
            if let Some(mut ev) = with_links(spec, &t, seed) {
                ev["context"]["id"] = Value::from(uuid_for(seed, &id));
                let req = single(mode, &ev);
                out.push(accept(id, "LIS-003", spec, "embedded links", req, &ev));
            }
        }
        out.extend(d.event(
            format!("LIS-001/{v}{mode}/minimal"),
            "LIS-001",
            "an event without its optional fields",
            ok,
            mode,
            |ev| {
                for k in ["customData", "customDataContentType", "links"] {
                    ev.as_object_mut().map(|o| o.remove(k));
                }
                for k in ["chainId", "schemaUri"] {
                    ev["context"].as_object_mut().map(|o| o.remove(k));
                }
            },
        ));
        out.extend(d.event(
            format!("LIS-008/{v}{mode}/64KiB"),
            "LIS-008",
            "an event of almost 64 KiB",
            ok,
            mode,
            |ev| {
                let base = serde_json::to_vec(&*ev).map(|b| b.len()).unwrap_or(0);
                let pad = (62 * 1024usize).saturating_sub(base + 200);
                ev["customData"] = json!({ "padding": "x".repeat(pad) });
                ev["customDataContentType"] = Value::from("application/json");
            },
        ));
        out.extend(d.event(
            format!("WH-006/{v}{mode}"),
            "WH-006",
            "a valid event; the success status is judged",
            Expect::AcceptedStrict,
            mode,
            |_| {},
        ));
        out.extend(
            d.event(
                format!("LIS-007/{v}{mode}"),
                "LIS-007",
                "the same event (same source and id) twice",
                ok,
                mode,
                |_| {},
            )
            .map(|mut c| {
                c.repeat = true;
                c
            }),
        );
        out.extend(d.event(
            format!("CE-HTTP-016/{v}{mode}"),
            "CE-HTTP-016",
            &format!("a valid event in {mode} mode"),
            ok,
            mode,
            |_| {},
        ));
    }
    out.extend(d.event(
        format!("CE-HTTP-017/{v}structured"),
        "CE-HTTP-017",
        "a structured-mode event in the JSON format",
        ok,
        Mode::Structured,
        |_| {},
    ));

    // Header value decoding (HTTP binding 3.1.3).
    let unicode = "build ünïcödé ✓ \"quoted\" 100%";
    out.extend(d.event(
        format!("LIS-001/{v}binary/percent-encoded-unicode"),
        "LIS-001",
        "ce-subject percent-encoding unicode, space, quote and percent",
        ok,
        Mode::Binary,
        |ev| ev["subject"]["id"] = Value::from(unicode),
    ));
    out.extend(d.case(
        format!("CE-HTTP-006/{v}binary"),
        "CE-HTTP-006",
        "ce-subject percent-encoded with lower-case hex digits",
        ok,
        |mut ev| {
            ev["subject"]["id"] = Value::from(unicode);
            let mut req = single(Mode::Binary, &ev);
            set_header(&mut req, "ce-subject", &percent_encode_lower(unicode));
            (ev, req)
        },
    ));
    out.extend(d.case(
        format!("CE-HTTP-007/{v}binary"),
        "CE-HTTP-007",
        "ce-type with needlessly percent-encoded letters (%64%65%76 for dev)",
        ok,
        |ev| {
            let mut req = single(Mode::Binary, &ev);
            let t = ce_attributes_for(&ev).type_.unwrap_or_default();
            let needless = format!("%64%65%76{}", t.get(3..).unwrap_or_default());
            set_header(&mut req, "ce-type", &needless);
            (ev, req)
        },
    ));
    out.extend(d.edited(
        format!("CE-HTTP-009/{v}binary"),
        "CE-HTTP-009",
        "ce-id and ce-source written as quoted strings",
        ok,
        Mode::Binary,
        |req| {
            let src = req.header("ce-source").unwrap_or_default().to_owned();
            let idv = req.header("ce-id").unwrap_or_default().to_owned();
            set_header(req, "ce-source", &format!("\"{src}\""));
            set_header(req, "ce-id", &format!("\"{idv}\""));
        },
    ));
    out.extend(
        d.edited(
            format!("CE-HTTP-011/{v}binary"),
            "CE-HTTP-011",
            "ce- header names in mixed case (CE-ID, Ce-Source)",
            ok,
            Mode::Binary,
            |req| {
                for (n, _) in &mut req.headers {
                    if let Some(rest) = n.strip_prefix("ce-") {
                        *n = if rest == "id" {
                            "CE-ID".into()
                        } else {
                            format!("Ce-{}", capitalize(rest))
                        };
                    }
                }
            },
        )
        .map(|mut c| {
            // reqwest lower-cases header names: the raw client sends them as written.
            c.payload = match c.payload {
                Payload::Http(r) => Payload::Raw(Hostile::Exact(r)),
                p => p,
            };
            c
        }),
    );
    out.extend(d.edited(
        format!("CE-HTTP-018/{v}structured"),
        "CE-HTTP-018",
        "optional attributes given as JSON null",
        ok,
        Mode::Structured,
        |req| {
            edit_envelope(req, |o| {
                o.insert("dataschema".into(), Value::Null);
                o.insert("kitextension".into(), Value::Null);
            })
        },
    ));
    out.extend(d.edited(
        format!("CDE-CE-018/{v}binary"),
        "CDE-CE-018",
        "Content-Type APPLICATION/JSON; Charset=utf-8",
        ok,
        Mode::Binary,
        |req| set_header(req, "content-type", "APPLICATION/JSON; Charset=utf-8"),
    ));
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// The first generated event of `type_name` that has embedded links.
fn with_links(spec: SpecVersion, type_name: &str, seed: u64) -> Option<Value> {
    (0..200u64)
        .filter_map(|i| sample(spec, type_name, seed.wrapping_add(i)).ok())
        .find(|ev| {
            ev.get("links")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        })
}

fn accept(
    id: String,
    requirement: &'static str,
    spec: SpecVersion,
    what: impl Into<String>,
    req: WireRequest,
    ev: &Value,
) -> Case {
    Case::new(
        id,
        requirement,
        spec,
        what,
        Payload::Http(req),
        Expect::Accepted,
    )
    .with_event(ev)
}

/// Cases derived from the base event of each case id: the shape of most invalid cases.
struct Derive<'a> {
    spec: SpecVersion,
    t: &'a str,
    seed: u64,
}

impl Derive<'_> {
    /// The case `id`: `make` turns its base event into the event carried and the request.
    fn case(
        &self,
        id: String,
        requirement: &'static str,
        what: &str,
        expect: Expect,
        make: impl FnOnce(Value) -> (Value, WireRequest),
    ) -> Option<Case> {
        let ev = event_for(self.spec, self.t, self.seed, &id)?;
        let (ev, req) = make(ev);
        Some(
            Case::new(id, requirement, self.spec, what, Payload::Http(req), expect).with_event(&ev),
        )
    }

    /// The case `id`: the base event in `mode`, then `edit` applied to the request.
    fn edited(
        &self,
        id: String,
        requirement: &'static str,
        what: &str,
        expect: Expect,
        mode: Mode,
        edit: impl FnOnce(&mut WireRequest),
    ) -> Option<Case> {
        self.case(id, requirement, what, expect, |ev| {
            let mut req = single(mode, &ev);
            edit(&mut req);
            (ev, req)
        })
    }

    /// The case `id`: the base event with other CloudEvents attributes (`edit`), in `mode`.
    fn attrs(
        &self,
        id: String,
        requirement: &'static str,
        what: &str,
        expect: Expect,
        mode: Mode,
        edit: impl FnOnce(&mut CeAttributes),
    ) -> Option<Case> {
        self.case(id, requirement, what, expect, |ev| {
            let mut ce = ce_attributes_for(&ev);
            edit(&mut ce);
            let req = with_attrs(mode, ce, &ev);
            (ev, req)
        })
    }

    /// The case `id`: the base event changed by `edit`, in `mode`.
    fn event(
        &self,
        id: String,
        requirement: &'static str,
        what: &str,
        expect: Expect,
        mode: Mode,
        edit: impl FnOnce(&mut Value),
    ) -> Option<Case> {
        self.case(id, requirement, what, expect, |mut ev| {
            edit(&mut ev);
            let req = single(mode, &ev);
            (ev, req)
        })
    }
}

fn invalid_corpus(spec: SpecVersion, v: &str, opts: &Options, out: &mut Vec<Case>) {
    let Some(t) = base_type(spec) else { return };
    let d = Derive {
        spec,
        t: &t,
        seed: opts.seed,
    };
    let (refused, not_5xx) = (Expect::Refused, Expect::NotServerError);

    for mode in [Mode::Binary, Mode::Structured] {
        // LIS-004: not a valid CloudEvent.
        for attr in ["id", "source", "specversion", "type"] {
            let id = format!("LIS-004/{v}{mode}/missing-{attr}");
            let what = format!("no `{attr}` attribute");
            out.extend(
                d.edited(id, "LIS-004", &what, refused, mode, |req| match mode {
                    Mode::Binary => remove_header(req, &format!("ce-{attr}")),
                    _ => edit_envelope(req, |o| {
                        o.remove(attr);
                    }),
                }),
            );
        }
        out.extend(d.attrs(
            format!("LIS-004/{v}{mode}/specversion-2.0"),
            "LIS-004",
            "CloudEvents specversion 2.0",
            refused,
            mode,
            |ce| ce.specversion = Some("2.0".into()),
        ));
        out.extend(d.edited(
            format!("LIS-004/{v}{mode}/malformed-json"),
            "LIS-004",
            "a body that is JSON cut in half",
            refused,
            mode,
            |req| {
                let cut = req.body.len() / 2;
                req.body.truncate(cut);
            },
        ));
        out.extend(d.edited(
            format!("LIS-004/{v}{mode}/empty-body"),
            "LIS-004",
            "an empty body",
            refused,
            mode,
            |req| req.body.clear(),
        ));

        // LIS-005: a well-formed CloudEvent whose CDEvent is wrong: refused with 4xx, or taken.
        out.extend(d.event(
            format!("LIS-005/{v}{mode}/unknown-type"),
            "LIS-005",
            "an unknown event type",
            not_5xx,
            mode,
            |ev| ev["context"]["type"] = Value::from("dev.cdevents.kitthing.happened.0.1.0"),
        ));
        out.extend(d.event(
            format!("LIS-005/{v}{mode}/unknown-spec-version"),
            "LIS-005",
            "an unknown CDEvents spec version",
            not_5xx,
            mode,
            |ev| ev["context"][spec.version_attribute()] = Value::from("9.9.9"),
        ));
        out.extend(d.attrs(
            format!("LIS-009/{v}{mode}/ce-source-contradicts"),
            "LIS-009",
            "a CloudEvents source other than context.source",
            not_5xx,
            mode,
            |ce| ce.source = Some("/kit/another-source".into()),
        ));
        if let (Some(def), Some(valid)) = (
            catalogue::for_version(spec).event(&t),
            event_for(spec, &t, opts.seed, &format!("LIS-005/{v}{mode}/schema")),
        ) {
            let mut kinds = std::collections::BTreeSet::new();
            for m in mutations(spec, def, &valid) {
                if m.pointer.starts_with("/context/id")
                    || !kinds.insert(m.kind.name())
                    || kinds.len() > 4
                {
                    continue;
                }
                let id = format!("LIS-005/{v}{mode}/schema-{}", m.kind.name());
                // The attributes come from the valid event: only the CDEvent is broken.
                let req = with_attrs(mode, ce_attributes_for(&valid), &m.event);
                let what = format!("a schema-invalid CDEvent ({m})");
                out.push(
                    Case::new(id, "LIS-005", spec, what, Payload::Http(req), not_5xx)
                        .with_event(&m.event),
                );
            }
        }
    }
    for (attr, value) in [
        ("id", "kit-other-id"),
        ("type", "dev.cdevents.kitthing.happened.0.1.0"),
        ("subject", "kit-other-subject"),
        ("time", "2001-01-01T00:00:00Z"),
    ] {
        let id = format!("LIS-009/{v}binary/ce-{attr}-contradicts");
        let what = format!("a ce-{attr} other than the CDEvent's");
        out.extend(
            d.edited(id, "LIS-009", &what, not_5xx, Mode::Binary, |req| {
                set_header(req, &format!("ce-{attr}"), value)
            }),
        );
    }
    out.extend(d.edited(
        format!("LIS-005/{v}binary/missing-content-type"),
        "LIS-005",
        "a binary-mode event without Content-Type",
        not_5xx,
        Mode::Binary,
        |req| remove_header(req, "content-type"),
    ));
    out.extend(d.edited(
        format!("LIS-004/{v}structured/not-an-object"),
        "LIS-004",
        "a structured-mode body that is a JSON array",
        refused,
        Mode::Structured,
        |req| req.body = b"[\"not\", \"an\", \"event\"]".to_vec(),
    ));
    if opts.batch {
        out.extend(d.edited(
            format!("LIS-004/{v}batch/not-an-array"),
            "LIS-004",
            "a batch body that is a JSON object",
            refused,
            Mode::Batch,
            |req| req.body = serde_json::to_vec(&json!({"not": "an array"})).unwrap_or_default(),
        ));
    }
    out.extend(d.edited(
        format!("CE-HTTP-008/{v}binary/overlong-utf8"),
        "CE-HTTP-008",
        "ce-subject percent-decoding to invalid UTF-8 (%C0%A0)",
        refused,
        Mode::Binary,
        |req| set_header(req, "ce-subject", "overlong%C0%A0space"),
    ));

    // WH-011: formats the listener does not understand.
    out.extend(d.edited(
        format!("WH-011/{v}structured/avro"),
        "WH-011",
        "application/cloudevents+avro",
        Expect::Status(415),
        Mode::Structured,
        |req| {
            set_header(req, "content-type", "application/cloudevents+avro");
            req.body = b"Obj\x01\x04\x14avro.codec\x08null".to_vec();
        },
    ));
    out.extend(d.edited(
        format!("WH-011/{v}binary/text-plain"),
        "WH-011",
        "ce- headers with Content-Type text/plain",
        Expect::Status(415),
        Mode::Binary,
        |req| set_header(req, "content-type", "text/plain"),
    ));
    let id = format!("WH-011/{v}text-plain");
    let req = WireRequest {
        method: "POST".into(),
        headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
        body: b"build 42 finished".to_vec(),
    };
    out.push(Case::new(
        id,
        "WH-011",
        spec,
        "a plain-text body, no CloudEvent",
        Payload::Http(req),
        Expect::Status(415),
    ));

    // WH-012: a body larger than most listeners take.
    let id = format!("WH-012/{v}binary/oversized");
    if let Some(mut ev) = event_for(spec, &t, opts.seed, &id) {
        ev["customData"] = json!({ "padding": "x".repeat(opts.oversize_bytes) });
        ev["customDataContentType"] = Value::from("application/json");
        let req = single(Mode::Binary, &ev);
        // The raw client reads while it writes: a listener may answer 413 and close before
        // the body is through, which reqwest reports as a broken pipe.
        let what = format!("a valid event of {} bytes", req.body.len());
        out.push(Case::new(
            id,
            "WH-012",
            spec,
            what,
            Payload::Raw(Hostile::Exact(req)),
            Expect::AcceptedOr(413),
        ));
    }
}

fn hostile(spec: SpecVersion, v: &str, opts: &Options, out: &mut Vec<Case>) {
    let Some(t) = base_type(spec) else { return };
    let mut push = |name: &str, what: &str, h: Hostile| {
        out.push(Case::new(
            format!("LIS-006/{v}{name}"),
            "LIS-006",
            spec,
            what,
            Payload::Raw(h),
            Expect::Anything,
        ));
    };
    if let Some(ev) = event_for(spec, &t, opts.seed, "LIS-006/truncated-body") {
        push(
            "truncated-body",
            "a Content-Length larger than the body, then a stall",
            Hostile::TruncatedBody(single(Mode::Binary, &ev)),
        );
    }
    push(
        "stalled-head",
        "a request head cut in the middle, then a stall",
        Hostile::StalledHead,
    );
    push(
        "huge-header",
        "a 256 KiB header value",
        Hostile::HugeHeader(256 << 10),
    );
    push(
        "many-headers",
        "10,000 headers",
        Hostile::ManyHeaders(10_000),
    );
    push(
        "garbage",
        "bytes that are not HTTP",
        Hostile::Garbage(
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03GARBAGE\r\n\r\n\x00\xff".to_vec(),
        ),
    );
    if let Some(ev) = event_for(spec, &t, opts.seed, "LIS-006/deep-json") {
        let mut req = single(Mode::Binary, &ev);
        req.body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
        push(
            "deep-json",
            "JSON nested 100,000 levels deep",
            Hostile::Exact(req),
        );
    }
    if let Some(ev) = event_for(spec, &t, opts.seed, "LIS-006/invalid-utf8") {
        let mut req = single(Mode::Binary, &ev);
        req.body = b"{\"context\": {\"id\": \"\xff\xfe\xc0\xaf\"}}".to_vec();
        push(
            "invalid-utf8",
            "a JSON body with invalid UTF-8",
            Hostile::Exact(req),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_probes_are_the_events_generated_afresh() {
        for (seed, label) in [(0, "preflight"), (7, "LIS-006/x"), (0, "again")] {
            for _ in 0..2 {
                let (req, ev) = probe_request(SpecVersion::DEFAULT, seed, label).unwrap();
                let def = base_type(SpecVersion::DEFAULT).unwrap();
                let fresh =
                    event_for(SpecVersion::DEFAULT, &def, seed, &format!("probe/{label}")).unwrap();
                assert_eq!(ev, fresh);
                assert_eq!(req, single(Mode::Binary, &fresh));
            }
        }
        let a = probe_request(SpecVersion::DEFAULT, 0, "a").unwrap().1;
        let b = probe_request(SpecVersion::DEFAULT, 0, "b").unwrap().1;
        assert_ne!(a["context"]["id"], b["context"]["id"]);
    }

    #[test]
    fn ids_are_unique_and_start_with_their_requirement() {
        let cs = cases(&Options {
            batch: true,
            ..Options::default()
        });
        let mut seen = std::collections::HashSet::new();
        for c in &cs {
            assert!(c.id.starts_with(&format!("{}/", c.requirement)), "{}", c.id);
            assert!(seen.insert(c.id.clone()), "duplicate {}", c.id);
            assert!(
                crate::requirements::Catalogue::embedded()
                    .get(c.requirement)
                    .is_some(),
                "{} has no catalogue record",
                c.requirement
            );
        }
    }

    #[test]
    fn same_options_same_bytes() {
        let a = cases(&Options::default());
        let b = cases(&Options::default());
        assert_eq!(a, b);
        let c = cases(&Options {
            seed: 7,
            ..Options::default()
        });
        assert_ne!(a, c);
    }

    #[test]
    fn lower_case_percent_encoding() {
        assert_eq!(percent_encode_lower("é a"), "%c3%a9%20a");
    }

    #[test]
    fn event_ids_differ_between_cases() {
        let cs = cases(&Options::default());
        let ids: Vec<_> = cs
            .iter()
            .filter(|c| c.expect == Expect::Accepted)
            .filter_map(|c| c.event.as_ref()?.pointer("/context/id").cloned())
            .collect();
        let unique: std::collections::HashSet<_> = ids.iter().map(|v| v.to_string()).collect();
        assert_eq!(ids.len(), unique.len());
    }
}
