//! The events the relay suite sends: lifecycle sequences per subject (queued → started →
//! finished, created → modified → deleted... from [`LIFECYCLES`]), each event after the first
//! of its subject linking to the one before (0.4.1+), with CloudEvents extensions and
//! `customData` that an intermediary must carry through.
//!
//! The stream is random-access and pure: event `seq` of a seed is always the same bytes, so the
//! history keeps only a digest per event and the checker regenerates an event when it needs
//! the field-level diff. Event ids encode their sequence number (the last 12 hex digits of a
//! UUID-shaped id), so a delivery maps back to its event without a lookup table.
//!
//! Layout: subjects come in blocks of one subject per lifecycle; within a block the events go
//! out phase by phase (every subject's first event, then every second...), so that events of
//! one subject are interleaved with those of others, as they are in a real CI system.

use cdevents_schemas::catalogue::for_version;
use cdevents_schemas::SpecVersion;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::drivers::sender::LIFECYCLES;
use crate::generators::sample;
use crate::input::CeAttributes;
use crate::wire::{encode, Mode, WireRequest};

/// The source every relay-suite event carries.
pub const SOURCE: &str = "https://cdevents-conformance.invalid/relay-suite";
/// The extension attribute carrying the sequence number (a string, so that it reads the same
/// in binary and structured mode).
pub const SEQ_EXTENSION: &str = "conformanceseq";

/// The extension attribute whose value must survive percent-encoding (CE-HTTP-010): it holds
/// an escape-like `%41` and a literal `%`, so decoding once too often turns it into `A`.
pub const PERCENT_EXTENSION: &str = "conformancepct";
/// The value of [`PERCENT_EXTENSION`] as sent (in a `ce-` header it goes percent-encoded once:
/// `%2541%20is%20A...`).
pub const PERCENT_VALUE: &str = "%41 is A; 50% is half";
/// The `datacontenttype` of [`Kind::Charset`] events: not the default, with a parameter.
pub const CHARSET_CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// The largest wire size (request line, headers and body) of a [`Kind::Large`] event, in
/// either mode: under the 64 KiB an intermediary must forward (REL-007).
pub const LARGE_WIRE_MAX: usize = 64 * 1024;
/// How far under [`LARGE_WIRE_MAX`] a large event's body is cut: room for the request line,
/// the headers and an intermediary's own headers.
const LARGE_HEADROOM: usize = 1536;
/// Large events per 1,000 of the stream: few, so that they do not slow a run down.
const LARGE_PER_THOUSAND: [u64; 2] = [0, 61];

/// What is special about an event of the stream: most are [`Kind::Plain`]; a few per twenty
/// test how an intermediary carries `datacontenttype` and `ce-` header values, and two per
/// thousand its size limit. Pure in `(seed, seq)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `datacontenttype` `application/json`, nothing else special.
    Plain,
    /// `customData` padded so that the event is just under 64 KiB on the wire (REL-007).
    Large,
    /// No `datacontenttype` (structured mode: no attribute; binary mode: no `Content-Type`):
    /// an intermediary changing the mode sets the implied `application/json` (REL-010).
    NoDataContentType,
    /// `datacontenttype` [`CHARSET_CONTENT_TYPE`]: kept whatever the mode (CE-HTTP-003).
    Charset,
    /// Carries [`PERCENT_EXTENSION`] (CE-HTTP-010).
    Percent,
}

/// Why the stream cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// No lifecycle exists in that version.
    #[error("CDEvents {0} defines none of the lifecycle events the relay suite sends")]
    NoEvents(SpecVersion),
    /// A template could not be generated.
    #[error("cannot generate an event: {0}")]
    Generate(String),
}

/// One event of the stream.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Its position in the stream.
    pub seq: u64,
    /// The subject's number in the stream.
    pub subject: u64,
    /// The CloudEvents attributes it is sent with.
    pub ce: CeAttributes,
    /// The CDEvent.
    pub event: Value,
}

struct Template {
    event: Value,
    /// Its lifecycle's subject name, e.g. `pipelinerun`.
    name: String,
    /// Its `context.type`.
    type_: Option<String>,
}

/// The stream of one run.
pub struct Stream {
    spec: SpecVersion,
    seed: u64,
    count: u64,
    base: DateTime<Utc>,
    prefix: String,
    /// The second half of the trace id (from the seed).
    trace: u64,
    /// Per lifecycle, its templates in order.
    lifecycles: Vec<Vec<Template>>,
    /// Within one block: (lifecycle index, phase) of each offset.
    layout: Vec<(usize, usize)>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("spec", &self.spec)
            .field("seed", &self.seed)
            .field("count", &self.count)
            .finish()
    }
}

impl Stream {
    /// The stream of `count` events of `spec`, seeded by `seed`, timestamps from `base`.
    pub fn new(
        spec: SpecVersion,
        seed: u64,
        count: u64,
        base: DateTime<Utc>,
    ) -> Result<Stream, StreamError> {
        let cat = for_version(spec);
        let mut lifecycles = Vec::new();
        for (i, (subject, preds)) in LIFECYCLES.iter().enumerate() {
            let mut seq = Vec::new();
            for (j, p) in preds.iter().enumerate() {
                let Some(def) = cat.event_by_name(subject, p) else {
                    seq.clear();
                    break;
                };
                let mut ev = sample(spec, &def.type_name, seed.wrapping_add((i * 8 + j) as u64))
                    .map_err(|e| StreamError::Generate(e.to_string()))?;
                if let Some(o) = ev["context"].as_object_mut() {
                    o.remove("links");
                    o.remove("chainId");
                }
                ev["context"]["source"] = json!(SOURCE);
                let type_ = ev["context"]["type"].as_str().map(str::to_owned);
                seq.push(Template {
                    event: ev,
                    name: (*subject).to_owned(),
                    type_,
                });
            }
            if !seq.is_empty() {
                lifecycles.push(seq);
            }
        }
        if lifecycles.is_empty() {
            return Err(StreamError::NoEvents(spec));
        }
        let longest = lifecycles.iter().map(Vec::len).max().unwrap_or(0);
        let mut layout = Vec::new();
        for phase in 0..longest {
            for (l, seq) in lifecycles.iter().enumerate() {
                if phase < seq.len() {
                    layout.push((l, phase));
                }
            }
        }
        let h = crate::faults::event_key("relay-suite", &seed.to_string());
        let prefix = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-",
            h >> 32,
            (h >> 16) & 0xffff,
            (h >> 4) & 0xfff,
            h & 0xfff
        );
        Ok(Stream {
            spec,
            seed,
            count,
            base,
            prefix,
            trace: crate::faults::event_key("trace", &seed.to_string()),
            lifecycles,
            layout,
        })
    }

    /// How many events.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether it has no event.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The spec version of its events.
    pub fn spec(&self) -> SpecVersion {
        self.spec
    }

    /// Events per block of the layout: every subject's events lie within one block.
    pub fn block_len(&self) -> u64 {
        self.layout.len() as u64
    }

    /// How many lifecycles (subjects per block).
    pub fn lifecycles_len(&self) -> usize {
        self.lifecycles.len()
    }

    /// The id of event `seq`.
    pub fn id(&self, seq: u64) -> String {
        format!("{}{:012x}", self.prefix, seq & 0xffff_ffff_ffff)
    }

    /// What is special about event `seq`.
    pub fn kind(&self, seq: u64) -> Kind {
        let offset = self.seed % 29 + 3;
        if LARGE_PER_THOUSAND.contains(&((seq % 1000).wrapping_sub(offset))) {
            return Kind::Large;
        }
        match (seq + self.seed) % 20 {
            4 => Kind::NoDataContentType,
            9 => Kind::Charset,
            14 => Kind::Percent,
            _ => Kind::Plain,
        }
    }

    /// The large events of the stream, in order.
    pub fn large(&self) -> impl Iterator<Item = u64> + '_ {
        let offset = self.seed % 29 + 3;
        (0..self.count.div_ceil(1000))
            .flat_map(move |k| LARGE_PER_THOUSAND.map(|d| k * 1000 + offset + d))
            .filter(move |&s| s < self.count)
    }

    /// The request that sends event `p` in `mode`: as [`encode`] writes it, except that an
    /// event without `datacontenttype` goes in binary mode without `Content-Type`, as the
    /// binding maps an absent attribute.
    pub fn request(p: Planned, mode: Mode) -> WireRequest {
        encode_event(mode, p.ce, p.event)
    }

    /// The event an id names, if it is one of this stream's.
    pub fn seq_of(&self, id: &str) -> Option<u64> {
        let tail = id.strip_prefix(&self.prefix)?;
        if tail.len() != 12 {
            return None;
        }
        let seq = u64::from_str_radix(tail, 16).ok()?;
        (seq < self.count).then_some(seq)
    }

    /// Block, offset within it, and the (lifecycle, phase) there.
    fn place(&self, seq: u64) -> (u64, usize, usize) {
        let per = self.layout.len() as u64;
        let (block, offset) = (seq / per, (seq % per) as usize);
        let (l, phase) = self.layout[offset];
        (block, l, phase)
    }

    /// The subject number of event `seq`.
    pub fn subject_of(&self, seq: u64) -> u64 {
        let (block, l, _) = self.place(seq);
        block * self.lifecycles.len() as u64 + l as u64
    }

    fn seq_at(&self, block: u64, l: usize, phase: usize) -> Option<u64> {
        let offset = self.layout.iter().position(|&x| x == (l, phase))?;
        let seq = block * self.layout.len() as u64 + offset as u64;
        (seq < self.count).then_some(seq)
    }

    /// Event `seq` (`seq < len()`), as sent.
    pub fn event(&self, seq: u64) -> Planned {
        let (block, l, phase) = self.place(seq);
        let subject = block * self.lifecycles.len() as u64 + l as u64;
        let t = &self.lifecycles[l][phase];
        let mut ev = t.event.clone();
        let id = self.id(seq);
        let ts = (self.base + chrono::Duration::milliseconds(seq as i64))
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let subject_id = format!("{}-{}-{subject}", t.name, self.seed);
        // The CloudEvents attributes `ce_attributes_for(&ev)` reads back from the event, built
        // from the values put into it (no JSON-pointer walks: profiled at a third of this
        // function's instructions).
        let mut ce = CeAttributes {
            specversion: Some("1.0".to_owned()),
            id: Some(id.clone()),
            source: Some(SOURCE.to_owned()),
            type_: t.type_.clone(),
            subject: Some(subject_id.clone()),
            time: Some(ts.clone()),
            datacontenttype: Some("application/json".to_owned()),
            dataschema: None,
            extensions: Default::default(),
        };
        if let Some(ctx) = ev["context"].as_object_mut() {
            ctx.insert("id".to_owned(), Value::String(id));
            ctx.insert("timestamp".to_owned(), Value::String(ts));
        }
        ev["subject"]["id"] = Value::String(subject_id);
        if self.spec.has_links() && phase > 0 {
            if let Some(prev) = self.seq_at(block, l, phase - 1) {
                ev["context"]["links"] =
                    json!([{"linkType": "PATH", "from": {"contextId": self.id(prev)}}]);
            }
        }
        ev["customData"] = json!({"relaySuite": {"seq": seq, "subject": subject, "phase": phase}});
        ev["customDataContentType"] = json!("application/json");
        ce.extensions
            .insert(SEQ_EXTENSION.to_owned(), json!(seq.to_string()));
        // W3C trace context of the first hop (REL-011): trace id from the seed, span from seq.
        ce.extensions.insert(
            "traceparent".to_owned(),
            json!(format!(
                "00-{:016x}{:016x}-{:016x}-01",
                self.seed,
                self.trace,
                seq + 1
            )),
        );
        match self.kind(seq) {
            Kind::Plain => {}
            Kind::Large => pad(&mut ev, &ce),
            Kind::NoDataContentType => ce.datacontenttype = None,
            Kind::Charset => ce.datacontenttype = Some(CHARSET_CONTENT_TYPE.to_owned()),
            Kind::Percent => {
                ce.extensions
                    .insert(PERCENT_EXTENSION.to_owned(), json!(PERCENT_VALUE));
            }
        }
        Planned {
            seq,
            subject,
            ce,
            event: ev,
        }
    }
}

/// One event as [`encode`] writes it, except that an event without `datacontenttype` goes in
/// binary mode without `Content-Type` (the binding maps the attribute to the header, so an
/// absent one to none).
pub fn encode_event(mode: Mode, ce: CeAttributes, data: Value) -> WireRequest {
    let none = ce.datacontenttype.is_none();
    let mut req = encode(mode, &[(ce, data)]);
    if none && mode == Mode::Binary {
        req.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
    }
    req
}

/// Pads `customData.relaySuite.pad` so that the event, in either mode, is just under
/// [`LARGE_WIRE_MAX`] on the wire. The pad is ASCII, so its length is its size in both.
fn pad(ev: &mut Value, ce: &CeAttributes) {
    let without = encode(Mode::Structured, &[(ce.clone(), ev.clone())]);
    let head: usize = without
        .headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 4)
        .sum();
    // `"pad":""` and its comma; the binary mode's ce- headers are no longer than the
    // structured envelope's attributes plus the headroom.
    let used = without.body.len() + head + 9;
    let room = LARGE_WIRE_MAX.saturating_sub(LARGE_HEADROOM + used);
    let unit = "0123456789abcdef";
    let text: String = unit.chars().cycle().take(room).collect();
    ev["customData"]["relaySuite"]["pad"] = json!(text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::sender::lifecycle_rank;

    fn stream(n: u64) -> Stream {
        Stream::new(SpecVersion::DEFAULT, 7, n, Utc::now()).unwrap()
    }

    #[test]
    fn ids_map_back_to_their_event() {
        let s = stream(100);
        for seq in [0, 1, 22, 23, 99] {
            assert_eq!(s.seq_of(&s.id(seq)), Some(seq));
            assert_eq!(s.event(seq).event["context"]["id"], json!(s.id(seq)));
        }
        assert_eq!(s.seq_of(&s.id(100)), None, "past the end");
        assert_eq!(s.seq_of("not-ours"), None);
        let other = Stream::new(SpecVersion::DEFAULT, 8, 100, Utc::now()).unwrap();
        assert_eq!(
            s.seq_of(&other.id(3)),
            None,
            "another seed's ids are not ours"
        );
    }

    #[test]
    fn subjects_follow_their_lifecycle_and_link_back() {
        let s = stream(200);
        let mut last: std::collections::HashMap<u64, (u8, String)> = Default::default();
        for seq in 0..s.len() {
            let p = s.event(seq);
            let t = p.event["context"]["type"].as_str().unwrap().to_owned();
            let mut parts = t.split('.').skip(2);
            let (name, pred) = (parts.next().unwrap(), parts.next().unwrap());
            let rank = lifecycle_rank(name, pred).unwrap();
            if let Some((r, id)) = last.get(&p.subject) {
                assert!(rank > *r, "{seq}: {t} after rank {r}");
                assert_eq!(
                    p.event["context"]["links"][0]["from"]["contextId"],
                    json!(id)
                );
            }
            last.insert(p.subject, (rank, s.id(seq)));
        }
        assert!(last.len() > 8, "several subjects");
    }

    #[test]
    fn events_are_valid_and_reproducible() {
        let registry = cdevents_schemas::Registry::embedded().unwrap();
        let s = stream(30);
        for seq in 0..s.len() {
            let a = s.event(seq);
            let b = s.event(seq);
            assert_eq!(a.event, b.event);
            let mut ce = a.ce.clone();
            ce.extensions.clear();
            // The data's type is the stream's choice per kind (REL-010, CE-HTTP-003), not the
            // event's: everything else is read back from the event.
            let want_type = match s.kind(seq) {
                Kind::NoDataContentType => None,
                Kind::Charset => Some(CHARSET_CONTENT_TYPE.to_owned()),
                _ => Some("application/json".to_owned()),
            };
            assert_eq!(ce.datacontenttype, want_type, "{seq}: {:?}", s.kind(seq));
            let mut want = crate::wire::ce_attributes_for(&a.event);
            want.datacontenttype = want_type;
            assert_eq!(ce, want, "{seq}: the attributes are the event's");
            let t = a.event["context"]["type"].as_str().unwrap();
            let verdict = registry
                .validate(SpecVersion::DEFAULT, t, &a.event)
                .unwrap();
            assert!(
                verdict.is_valid(),
                "{seq}: {:?} {}",
                verdict.errors,
                a.event
            );
        }
    }

    #[test]
    fn a_few_events_of_each_kind_and_large_ones_just_under_64_kib() {
        use crate::wire::raw_request;
        let s = stream(1200);
        let kinds: Vec<Kind> = (0..s.len()).map(|q| s.kind(q)).collect();
        let large: Vec<u64> = s.large().collect();
        assert_eq!(large.len(), 4, "two per thousand: {large:?}");
        for (q, k) in kinds.iter().enumerate() {
            assert_eq!(*k == Kind::Large, large.contains(&(q as u64)), "#{q}");
        }
        for k in [Kind::NoDataContentType, Kind::Charset, Kind::Percent] {
            let n = kinds.iter().filter(|x| **x == k).count();
            assert!((55..=65).contains(&n), "{k:?}: {n}");
        }
        let registry = cdevents_schemas::Registry::embedded().unwrap();
        for &q in &large {
            let p = s.event(q);
            let t = p.event["context"]["type"].as_str().unwrap().to_owned();
            assert!(registry
                .validate(SpecVersion::DEFAULT, &t, &p.event)
                .unwrap()
                .is_valid());
            for mode in [Mode::Binary, Mode::Structured] {
                let wire = raw_request(&Stream::request(p.clone(), mode), "127.0.0.1:65535", "/");
                assert!(
                    (LARGE_WIRE_MAX - 4096..=LARGE_WIRE_MAX).contains(&wire.len()),
                    "#{q} {mode}: {} bytes",
                    wire.len()
                );
            }
        }
        // Binary mode maps an absent datacontenttype to no Content-Type; the others keep it.
        let q = (0..s.len())
            .find(|&q| s.kind(q) == Kind::NoDataContentType)
            .unwrap();
        let req = Stream::request(s.event(q), Mode::Binary);
        assert_eq!(req.header("content-type"), None);
        assert!(Stream::request(s.event(q), Mode::Structured)
            .header("content-type")
            .is_some());
        let q = (0..s.len()).find(|&q| s.kind(q) == Kind::Charset).unwrap();
        assert_eq!(
            Stream::request(s.event(q), Mode::Binary).header("content-type"),
            Some(CHARSET_CONTENT_TYPE)
        );
        let q = (0..s.len()).find(|&q| s.kind(q) == Kind::Percent).unwrap();
        let req = Stream::request(s.event(q), Mode::Binary);
        assert_eq!(
            req.header("ce-conformancepct"),
            Some("%2541%20is%20A;%2050%25%20is%20half"),
            "percent-encoded once"
        );
    }
}
