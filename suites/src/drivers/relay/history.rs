//! The history of a relay run: one compact record per event (no bodies: a digest of what was
//! sent, times, counters and a bit mask of the fields found changed), so that a run of
//! 1,000,000 events stays within a few tens of MiB.
//!
//! Everything is written here by the two ends of the run (the kit's sender and its sink) and
//! read by the [checker](super::checker) afterwards.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use serde_json::Value;

use crate::input::CeAttributes;

/// "Never" for the time fields of an [`EventRecord`].
pub const NEVER: u64 = u64::MAX;

/// The fields compared between what was sent and what arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// CloudEvents `specversion`.
    SpecVersion,
    /// CloudEvents `source`.
    Source,
    /// CloudEvents `type`.
    Type,
    /// CloudEvents `subject`.
    Subject,
    /// CloudEvents `time` (compared as an instant).
    Time,
    /// CloudEvents `datacontenttype` (compared as a media type, without parameters).
    DataContentType,
    /// CloudEvents `dataschema`.
    DataSchema,
    /// The `traceparent` extension.
    TraceParent,
    /// Any other extension attribute.
    Extensions,
    /// The CDEvent's `context`.
    Context,
    /// The CDEvent's `subject`.
    CdSubject,
    /// The CDEvent's `customData` (and its content type).
    CustomData,
    /// Any other member of the CDEvent.
    Data,
}

impl Field {
    /// Every field, in bit order.
    pub const ALL: [Field; 13] = [
        Field::SpecVersion,
        Field::Source,
        Field::Type,
        Field::Subject,
        Field::Time,
        Field::DataContentType,
        Field::DataSchema,
        Field::TraceParent,
        Field::Extensions,
        Field::Context,
        Field::CdSubject,
        Field::CustomData,
        Field::Data,
    ];

    /// Its bit in [`EventRecord::mutated`].
    pub fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// How reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Field::SpecVersion => "specversion",
            Field::Source => "source",
            Field::Type => "type",
            Field::Subject => "subject",
            Field::Time => "time",
            Field::DataContentType => "datacontenttype",
            Field::DataSchema => "dataschema",
            Field::TraceParent => "traceparent",
            Field::Extensions => "extensions",
            Field::Context => "data.context",
            Field::CdSubject => "data.subject",
            Field::CustomData => "data.customData",
            Field::Data => "data",
        }
    }

    /// The requirement a change of this field breaks.
    pub fn requirement(self) -> &'static str {
        match self {
            Field::Subject
            | Field::Time
            | Field::DataContentType
            | Field::DataSchema
            | Field::Extensions => "REL-006",
            Field::TraceParent => "REL-011",
            _ => "REL-005",
        }
    }

    /// The fields of a mask.
    pub fn of_mask(mask: u16) -> Vec<Field> {
        Field::ALL
            .into_iter()
            .filter(|f| mask & f.bit() != 0)
            .collect()
    }
}

/// What an event looks like, one value per [`Field`] in a comparable form.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Per field, its normalised value (`Null` when absent).
    pub values: [Value; 13],
}

fn media_type(s: &str) -> String {
    s.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `datacontenttype`, or the `application/json` an absent one implies (the data is JSON): an
/// intermediary setting the implied type explicitly (REL-010) changes nothing.
fn implied(ce: &CeAttributes) -> &str {
    ce.datacontenttype.as_deref().unwrap_or("application/json")
}

fn instant(s: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        })
        .unwrap_or_else(|_| s.to_owned())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Shape {
    /// The shape of an event carried with `ce` (`None`: a bare CDEvent) and data `cdevent`.
    pub fn of(ce: Option<&CeAttributes>, cdevent: &Value) -> Shape {
        let opt = |v: Option<&Option<String>>| match v.and_then(Option::as_ref) {
            Some(s) => Value::String(s.clone()),
            None => Value::Null,
        };
        let mut extensions: BTreeMap<String, Value> = BTreeMap::new();
        let mut traceparent = Value::Null;
        if let Some(ce) = ce {
            for (k, v) in &ce.extensions {
                if k == "traceparent" {
                    traceparent = Value::String(text(v));
                } else if k != "tracestate" {
                    extensions.insert(k.clone(), Value::String(text(v)));
                }
            }
        }
        let member = |k: &str| cdevent.get(k).cloned().unwrap_or(Value::Null);
        let mut custom = serde_json::Map::new();
        custom.insert("customData".into(), member("customData"));
        custom.insert(
            "customDataContentType".into(),
            member("customDataContentType"),
        );
        let mut rest = cdevent.clone();
        if let Some(o) = rest.as_object_mut() {
            for k in ["context", "subject", "customData", "customDataContentType"] {
                o.remove(k);
            }
        }
        Shape {
            values: [
                opt(ce.map(|c| &c.specversion)),
                opt(ce.map(|c| &c.source)),
                opt(ce.map(|c| &c.type_)),
                opt(ce.map(|c| &c.subject)),
                ce.and_then(|c| c.time.as_deref())
                    .map(|t| Value::String(instant(t)))
                    .unwrap_or(Value::Null),
                ce.map(|c| Value::String(media_type(implied(c))))
                    .unwrap_or(Value::Null),
                opt(ce.map(|c| &c.dataschema)),
                traceparent,
                Value::Object(extensions.into_iter().collect()),
                member("context"),
                member("subject"),
                Value::Object(custom),
                rest,
            ],
        }
    }

    /// The same as `Shape::of(ce, cdevent).digest()`, without building the shape (no copy of
    /// the event): the relay suite computes it twice per event.
    pub fn digest_of(ce: Option<&CeAttributes>, cdevent: &Value) -> u64 {
        let mut h = Canonical::new();
        let string = |v: Option<&str>, h: &mut Canonical| match v {
            Some(s) => (3u8, s).hash(h),
            None => 0u8.hash(h),
        };
        string(ce.and_then(|c| c.specversion.as_deref()), &mut h);
        string(ce.and_then(|c| c.source.as_deref()), &mut h);
        string(ce.and_then(|c| c.type_.as_deref()), &mut h);
        string(ce.and_then(|c| c.subject.as_deref()), &mut h);
        string(
            ce.and_then(|c| c.time.as_deref()).map(instant).as_deref(),
            &mut h,
        );
        string(ce.map(|c| media_type(implied(c))).as_deref(), &mut h);
        string(ce.and_then(|c| c.dataschema.as_deref()), &mut h);
        let ext = ce.map(|c| &c.extensions);
        string(
            ext.and_then(|e| e.get("traceparent")).map(text).as_deref(),
            &mut h,
        );
        let others: Vec<(&String, &Value)> = ext
            .into_iter()
            .flatten()
            .filter(|(k, _)| *k != "traceparent" && *k != "tracestate")
            .collect();
        (5u8, others.len()).hash(&mut h);
        for (k, v) in others {
            k.hash(&mut h);
            (3u8, text(v)).hash(&mut h);
        }
        let null = Value::Null;
        let member = |k: &str| cdevent.get(k).unwrap_or(&null);
        hash_value(member("context"), &mut h);
        hash_value(member("subject"), &mut h);
        (5u8, 2usize).hash(&mut h);
        "customData".hash(&mut h);
        hash_value(member("customData"), &mut h);
        "customDataContentType".hash(&mut h);
        hash_value(member("customDataContentType"), &mut h);
        match cdevent.as_object() {
            Some(o) => {
                const SKIP: [&str; 4] =
                    ["context", "subject", "customData", "customDataContentType"];
                let mut keys: Vec<&String> = Vec::with_capacity(o.len());
                keys.extend(o.keys().filter(|k| !SKIP.contains(&k.as_str())));
                keys.sort_unstable();
                (5u8, keys.len()).hash(&mut h);
                for k in keys {
                    k.hash(&mut h);
                    hash_value(&o[k], &mut h);
                }
            }
            None => hash_value(cdevent, &mut h),
        }
        h.finish()
    }

    /// One digest of every field.
    pub fn digest(&self) -> u64 {
        let mut h = Canonical::new();
        for v in &self.values {
            hash_value(v, &mut h);
        }
        h.finish()
    }

    /// The fields that differ from `other`, as a mask.
    pub fn diff_mask(&self, other: &Shape) -> u16 {
        Field::ALL
            .into_iter()
            .filter(|f| !same(&self.values[*f as usize], &other.values[*f as usize]))
            .fold(0, |m, f| m | f.bit())
    }

    /// A short account of the differences from `sent` (this being what arrived): one line per
    /// field, each value capped.
    pub fn describe_diff(&self, sent: &Shape) -> String {
        let cap = |v: &Value| {
            let s = v.to_string();
            if s.chars().count() > 400 {
                format!("{}…", s.chars().take(400).collect::<String>())
            } else {
                s
            }
        };
        let mut out = String::new();
        for f in Field::of_mask(self.diff_mask(sent)) {
            out.push_str(&format!(
                "--- sent {}\n{}\n+++ arrived {}\n{}\n",
                f.name(),
                cap(&sent.values[f as usize]),
                f.name(),
                cap(&self.values[f as usize])
            ));
        }
        out
    }
}

/// JSON equality regardless of member order.
fn same(a: &Value, b: &Value) -> bool {
    let (mut ha, mut hb) = (Canonical::default(), Canonical::default());
    hash_value(a, &mut ha);
    hash_value(b, &mut hb);
    ha.finish() == hb.finish()
}

/// The digests' hasher: every write appends to one buffer, hashed with SipHash once at
/// `finish` (the same SipHash as before, so the same collision resistance), because one
/// pass over a buffer costs far fewer instructions than SipHash's per-call overhead on the
/// many small writes of a JSON tree (profiled: the digests were 8% of the relay suite's
/// instructions). Digests live only within a run; none is stored or printed.
#[derive(Default)]
struct Canonical(Vec<u8>);

impl Canonical {
    /// Room for an event's canonical bytes at once (a few KiB), so that the buffer does not
    /// grow write by write.
    fn new() -> Canonical {
        Canonical(Vec::with_capacity(8 << 10))
    }
}

impl Hasher for Canonical {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn finish(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        h.write(&self.0);
        h.finish()
    }
}

/// Hashes a JSON value with object members in name order (member order carries no meaning).
pub fn hash_value(v: &Value, h: &mut impl Hasher) {
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        // Without formatting the number: its kind and value tell numbers apart exactly as
        // their text did (serde_json reads non-negative integers as u64, negative ones as
        // i64, the rest as f64; `1` and `1.0` differ in both).
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => (2u8, 0u8, u).hash(h),
            (None, Some(i), _) => (2u8, 1u8, i).hash(h),
            (None, None, Some(f)) => (2u8, 2u8, f.to_bits()).hash(h),
            (None, None, None) => (2u8, 3u8, n.to_string()).hash(h),
        },
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(a) => {
            (4u8, a.len()).hash(h);
            for x in a {
                hash_value(x, h);
            }
        }
        Value::Object(o) => {
            (5u8, o.len()).hash(h);
            let mut keys: Vec<&String> = Vec::with_capacity(o.len());
            keys.extend(o.keys());
            keys.sort_unstable();
            for k in keys {
                k.hash(h);
                hash_value(&o[k], h);
            }
        }
    }
}

/// One event of the run. Times are microseconds since the run started; [`NEVER`] when it did
/// not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRecord {
    /// Digest of the event as sent ([`Shape::digest`]).
    pub digest: u64,
    /// When the kit first started sending it to the intermediary.
    pub sent_us: u64,
    /// When the intermediary acknowledged it (2xx) to the kit.
    pub acked_us: u64,
    /// When it was first delivered to the sink (the sink acknowledged it).
    pub first_us: u64,
    /// Its rank among first deliveries (0 for the first event delivered).
    pub first_pos: u64,
    /// Deliveries the sink acknowledged.
    pub deliveries: u32,
    /// Requests carrying it that reached the sink (faulted ones included).
    pub attempts: u32,
    /// How many times the kit sent it to the intermediary.
    pub sends: u16,
    /// Fields found changed in any delivery ([`Field::bit`]).
    pub mutated: u16,
    /// The sink answered it with a transient fault (5xx, 408, 429, delay, reset) at least once.
    pub transient_fault: bool,
    /// The sink refused it for good (400, 413, 415).
    pub refused: bool,
    /// Requests carrying it that reached the sink after it was refused for good.
    pub after_refusal: u32,
}

impl Default for EventRecord {
    fn default() -> Self {
        EventRecord {
            digest: 0,
            sent_us: NEVER,
            acked_us: NEVER,
            first_us: NEVER,
            first_pos: NEVER,
            deliveries: 0,
            attempts: 0,
            sends: 0,
            mutated: 0,
            transient_fault: false,
            refused: false,
            after_refusal: 0,
        }
    }
}

impl EventRecord {
    /// The intermediary acknowledged it.
    pub fn acked(&self) -> bool {
        self.acked_us != NEVER
    }

    /// The sink acknowledged a delivery of it.
    pub fn delivered(&self) -> bool {
        self.deliveries > 0
    }

    /// Nothing more is expected of it: acknowledged, and delivered or refused by the sink.
    pub fn settled(&self) -> bool {
        self.acked() && (self.delivered() || self.refused)
    }
}

/// Most examples kept per kind.
pub const MAX_EXAMPLES: usize = 20;

/// The whole history of a run.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// One record per event of the stream, by sequence number.
    pub records: Vec<EventRecord>,
    /// Requests the sink received in all.
    pub requests: u64,
    /// Events that arrived and are none of the stream's (unknown id or source).
    pub unknown: u64,
    /// Their ids, at most [`MAX_EXAMPLES`].
    pub unknown_examples: Vec<String>,
    /// Requests the sink could not decode.
    pub undecodable: u64,
    /// A field-level diff of the first mutated deliveries: (seq, diff), at most
    /// [`MAX_EXAMPLES`].
    pub mutation_examples: Vec<(u64, String)>,
    /// Events settled so far (see [`EventRecord::settled`]).
    pub settled: u64,
    /// Events acknowledged by the intermediary so far.
    pub acked: u64,
    /// How long the run took, in microseconds (set when it ends).
    pub elapsed_us: u64,
    /// How deliveries carried `datacontenttype` and `ce-` header values.
    pub carried: super::carried::Carried,
    next_pos: u64,
}

impl History {
    /// A history for `count` events, none sent yet.
    pub fn new(count: usize) -> History {
        History {
            records: vec![EventRecord::default(); count],
            ..History::default()
        }
    }

    fn update(&mut self, seq: u64, f: impl FnOnce(&mut EventRecord)) {
        let Some(r) = self.records.get_mut(seq as usize) else {
            return;
        };
        let (was_settled, was_acked) = (r.settled(), r.acked());
        f(r);
        self.settled += u64::from(r.settled() && !was_settled);
        self.acked += u64::from(r.acked() && !was_acked);
    }

    /// The kit starts sending event `seq` (again).
    pub fn sending(&mut self, seq: u64, digest: u64, at_us: u64) {
        self.update(seq, |r| {
            r.digest = digest;
            r.sent_us = r.sent_us.min(at_us);
            r.sends = r.sends.saturating_add(1);
        });
    }

    /// The intermediary acknowledged event `seq`.
    pub fn acked(&mut self, seq: u64, at_us: u64) {
        self.update(seq, |r| r.acked_us = r.acked_us.min(at_us));
    }

    /// A request carrying event `seq` reached the sink, which answered `status` (`None`: reset)
    /// after a fault `kind` (`None`: none). `mutated` is the mask of changed fields.
    pub fn arrived(
        &mut self,
        seq: u64,
        at_us: u64,
        status: Option<u16>,
        fault: Option<crate::faults::FaultKind>,
        mutated: u16,
    ) {
        let pos = self.next_pos;
        let mut took = false;
        self.update(seq, |r| {
            r.attempts = r.attempts.saturating_add(1);
            r.mutated |= mutated;
            if r.refused {
                r.after_refusal = r.after_refusal.saturating_add(1);
            }
            match fault {
                Some(k) if k.is_permanent() => r.refused = true,
                Some(_) => r.transient_fault = true,
                None => {}
            }
            if matches!(status, Some(200..=299)) {
                if r.deliveries == 0 {
                    r.first_us = at_us;
                    r.first_pos = pos;
                    took = true;
                }
                r.deliveries = r.deliveries.saturating_add(1);
            }
        });
        self.next_pos += u64::from(took);
    }

    /// An event that is not the stream's arrived.
    pub fn unknown(&mut self, id: &str) {
        self.unknown += 1;
        if self.unknown_examples.len() < MAX_EXAMPLES {
            self.unknown_examples.push(id.chars().take(200).collect());
        }
    }

    /// Keeps a mutation example, if there is room.
    pub fn wants_mutation_example(&self) -> bool {
        self.mutation_examples.len() < MAX_EXAMPLES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn member_order_and_time_notation_do_not_count_as_changes() {
        let ev = json!({"context": {"id": "1", "a": 1, "b": 2}, "subject": {"id": "s"}});
        let reordered = json!({"subject": {"id": "s"}, "context": {"b": 2, "a": 1, "id": "1"}});
        let mut ce = crate::wire::ce_attributes_for(&ev);
        ce.time = Some("2024-01-01T00:00:00Z".into());
        let mut ce2 = ce.clone();
        ce2.time = Some("2024-01-01T00:00:00.000+00:00".into());
        ce2.datacontenttype = Some("application/json; charset=utf-8".into());
        let (a, b) = (Shape::of(Some(&ce), &ev), Shape::of(Some(&ce2), &reordered));
        assert_eq!(a.diff_mask(&b), 0);
        let mut absent = ce.clone();
        absent.datacontenttype = None;
        assert_eq!(
            Shape::of(Some(&absent), &ev).diff_mask(&a),
            0,
            "an absent datacontenttype is the implied application/json"
        );
        assert_eq!(Shape::digest_of(Some(&absent), &ev), a.digest());
        assert_eq!(a.digest(), b.digest());
        assert_eq!(Shape::digest_of(Some(&ce2), &reordered), a.digest());
    }

    #[test]
    fn each_field_is_told_apart() {
        let ev = json!({"context": {"id": "1"}, "subject": {"id": "s"}, "customData": {"k": 1}});
        let mut ce = crate::wire::ce_attributes_for(&ev);
        ce.extensions
            .insert("traceparent".into(), json!("00-a-b-01"));
        ce.extensions.insert("x".into(), json!("1"));
        let base = Shape::of(Some(&ce), &ev);
        let mut no_ext = ce.clone();
        no_ext.extensions.clear();
        assert_eq!(
            Field::of_mask(Shape::of(Some(&no_ext), &ev).diff_mask(&base)),
            vec![Field::TraceParent, Field::Extensions]
        );
        let mut changed = ev.clone();
        changed["customData"]["k"] = json!(2);
        let s = Shape::of(Some(&ce), &changed);
        assert_eq!(Field::of_mask(s.diff_mask(&base)), vec![Field::CustomData]);
        assert!(s.describe_diff(&base).contains("data.customData"));
        assert_ne!(s.digest(), base.digest());
        // The fast digest is the shape's digest, whatever the event.
        for (c, e) in [(&ce, &ev), (&no_ext, &ev), (&ce, &changed)] {
            assert_eq!(Shape::digest_of(Some(c), e), Shape::of(Some(c), e).digest());
        }
        let bare = json!({"context": {}, "extra": [1, {"b": 2, "a": null}]});
        assert_eq!(
            Shape::digest_of(None, &bare),
            Shape::of(None, &bare).digest()
        );
    }

    #[test]
    fn settled_counts_acknowledged_events_delivered_or_refused() {
        let mut h = History::new(3);
        h.sending(0, 1, 0);
        h.arrived(0, 5, Some(204), None, 0);
        assert_eq!(h.settled, 0, "delivered before the ack: not settled yet");
        h.acked(0, 6);
        assert_eq!((h.settled, h.acked), (1, 1));
        h.acked(1, 7);
        h.arrived(1, 8, Some(400), Some(crate::faults::FaultKind::S400), 0);
        assert_eq!(h.settled, 2);
        h.arrived(1, 9, Some(204), None, 0);
        assert_eq!(h.records[1].after_refusal, 1);
        assert_eq!(h.settled, 2, "settled once");
        assert_eq!(h.records[0].first_pos, 0);
        assert_eq!(h.records[1].first_pos, 1);
    }
}
