//! How deliveries carried what a content mode touches, judged as each delivery arrives: the
//! data's type across a change of mode (CE-HTTP-003, REL-010) and the values of `ce-` headers
//! (CE-HTTP-010). Only counters and a few examples are kept, so this costs nothing per event
//! but a comparison.
//!
//! A *change of mode* is one between binary mode (the type in `Content-Type`) and the JSON
//! event format (structured or batch: the type in the `datacontenttype` attribute): the only
//! change that moves `datacontenttype` from one place to the other.

use super::history::MAX_EXAMPLES;
use super::stream::{Kind, Stream, CHARSET_CONTENT_TYPE, PERCENT_EXTENSION, PERCENT_VALUE};
use crate::input::{ContentMode, Envelope};
use crate::wire::Mode;

/// Deliveries that broke one rule, and examples `(seq, what arrived)` of distinct events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Breaches {
    /// Deliveries that broke it.
    pub deliveries: u64,
    /// Up to [`MAX_EXAMPLES`] events, each once.
    pub examples: Vec<(u64, String)>,
}

impl Breaches {
    fn add(&mut self, seq: u64, what: impl FnOnce() -> String) {
        self.deliveries += 1;
        if self.examples.len() < MAX_EXAMPLES && !self.examples.iter().any(|(s, _)| *s == seq) {
            self.examples.push((seq, what()));
        }
    }

    /// Whether none.
    pub fn is_empty(&self) -> bool {
        self.deliveries == 0
    }
}

/// What the run's deliveries showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carried {
    /// Deliveries that arrived in the other mode than the kit sent (CE-HTTP-003 judged).
    pub mode_changes: u64,
    /// Of them, those whose data type did not survive (CE-HTTP-003).
    pub type_changed: Breaches,
    /// Deliveries in the other mode of events sent without `datacontenttype` (REL-010 judged).
    pub implied_judged: u64,
    /// Of them, those that arrived without one (REL-010).
    pub implied_missing: Breaches,
    /// Deliveries of events with [`PERCENT_EXTENSION`] that went through a `ce-` header on
    /// one hop at least, and still had the extension (CE-HTTP-010 judged).
    pub percent_judged: u64,
    /// Of them, those whose value was percent-decoded too often or too rarely (CE-HTTP-010).
    pub percent_wrong: Breaches,
}

/// `type/subtype; p=v` in a comparable form: lower case, no blanks.
fn normal(ct: &str) -> String {
    ct.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

fn where_(binary: bool, ct: Option<&str>) -> String {
    match (binary, ct) {
        (true, Some(t)) => format!("in binary mode with Content-Type `{}`", cap(t)),
        (true, None) => "in binary mode without Content-Type".to_owned(),
        (false, Some(t)) => format!("in the JSON format with datacontenttype `{}`", cap(t)),
        (false, None) => "in the JSON format without datacontenttype".to_owned(),
    }
}

/// A value from the target, shortened and with control characters escaped.
fn cap(s: &str) -> String {
    let short: String = s.chars().take(120).collect();
    let quoted = format!("{short:?}");
    let inner = &quoted[1..quoted.len() - 1];
    if s.chars().count() > 120 {
        format!("{inner}…")
    } else {
        inner.to_owned()
    }
}

/// One round of lenient percent-decoding: `%` not followed by two hex digits stays as it
/// is, and bytes that are not UTF-8 are replaced. What an intermediary that decodes once too
/// often does to a value.
pub fn percent_decode_lenient(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let hex = |c: u8| (c as char).to_digit(16);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Carried {
    /// Judges one delivery (the sink acknowledged it) of event `seq`, sent by the kit in
    /// `sent`, that arrived as `env`.
    pub fn observe(&mut self, stream: &Stream, seq: u64, sent: Mode, env: &Envelope) {
        let kind = stream.kind(seq);
        let sent_binary = sent == Mode::Binary;
        let arrived_binary = env.mode == ContentMode::Binary;
        let ce = env.ce.as_ref();
        if sent_binary != arrived_binary {
            self.mode_changes += 1;
            let sent_ct = match kind {
                Kind::NoDataContentType => None,
                Kind::Charset => Some(CHARSET_CONTENT_TYPE),
                _ => Some("application/json"),
            };
            let got = ce.and_then(|c| c.datacontenttype.as_deref());
            let kept = match (sent_ct, got) {
                (Some(a), Some(b)) => normal(a) == normal(b),
                (None, None) => true,
                // The implied type set explicitly: the same type (REL-010 asks for it).
                (None, Some(b)) => normal(b) == "application/json",
                // In the JSON format an absent type is application/json ("exactly
                // equivalent", spec.md); binary mode implies none.
                (Some(a), None) => !arrived_binary && normal(a) == "application/json",
            };
            let account = || {
                format!(
                    "sent {}, arrived {}",
                    where_(sent_binary, sent_ct),
                    where_(arrived_binary, got)
                )
            };
            if !kept {
                self.type_changed.add(seq, account);
            }
            if kind == Kind::NoDataContentType {
                self.implied_judged += 1;
                if got.is_none() {
                    self.implied_missing.add(seq, account);
                }
            }
        }
        if kind == Kind::Percent && (sent_binary || arrived_binary) {
            let got = ce
                .and_then(|c| c.extensions.get(PERCENT_EXTENSION))
                .and_then(|v| v.as_str());
            // An absent or otherwise changed extension is REL-006's business.
            if let Some(v) = got {
                self.percent_judged += 1;
                let how = if v == PERCENT_VALUE {
                    None
                } else if percent_decode_lenient(PERCENT_VALUE) == v {
                    Some("percent-decoded twice")
                } else if percent_decode_lenient(v) == PERCENT_VALUE {
                    Some("not percent-decoded")
                } else {
                    None
                };
                if let Some(how) = how {
                    self.percent_wrong.add(seq, || {
                        format!(
                            "{PERCENT_EXTENSION} arrived as `{}` ({how}), sent as `{PERCENT_VALUE}`",
                            cap(v)
                        )
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::CeAttributes;
    use serde_json::json;

    fn stream() -> Stream {
        Stream::new(
            cdevents_schemas::SpecVersion::DEFAULT,
            7,
            200,
            chrono::Utc::now(),
        )
        .unwrap()
    }

    fn first(s: &Stream, k: Kind) -> u64 {
        (0..s.len()).find(|&q| s.kind(q) == k).unwrap()
    }

    fn arrived(mode: ContentMode, ct: Option<&str>, ext: Option<&str>) -> Envelope {
        let mut ce = CeAttributes {
            datacontenttype: ct.map(str::to_owned),
            ..CeAttributes::default()
        };
        if let Some(v) = ext {
            ce.extensions.insert(PERCENT_EXTENSION.into(), json!(v));
        }
        Envelope {
            mode,
            ce: Some(ce),
            content_type: None,
            cdevent: json!({}),
            raw_data_was_base64: false,
        }
    }

    #[test]
    fn the_data_type_across_a_change_of_mode() {
        let s = stream();
        let (none, charset, plain) = (
            first(&s, Kind::NoDataContentType),
            first(&s, Kind::Charset),
            first(&s, Kind::Plain),
        );
        let mut c = Carried::default();
        // Same mode: nothing judged.
        c.observe(
            &s,
            charset,
            Mode::Binary,
            &arrived(ContentMode::Binary, None, None),
        );
        assert_eq!(c, Carried::default());
        // Kept, or the implied type set: fine.
        let st = ContentMode::Structured;
        c.observe(
            &s,
            charset,
            Mode::Binary,
            &arrived(st, Some("application/json;charset=UTF-8"), None),
        );
        c.observe(
            &s,
            none,
            Mode::Binary,
            &arrived(st, Some("application/json"), None),
        );
        c.observe(
            &s,
            plain,
            Mode::Structured,
            &arrived(ContentMode::Binary, Some("application/json"), None),
        );
        // application/json left implicit in the JSON format: "exactly equivalent".
        c.observe(&s, plain, Mode::Binary, &arrived(st, None, None));
        assert_eq!((c.mode_changes, c.implied_judged), (4, 1));
        assert!(c.type_changed.is_empty() && c.implied_missing.is_empty());
        // Binary mode implies no type: application/json lost on the way there.
        let mut lost = Carried::default();
        let bin = ContentMode::Binary;
        lost.observe(&s, plain, Mode::Structured, &arrived(bin, None, None));
        assert_eq!(lost.type_changed.deliveries, 1);
        // Lost on the way: CE-HTTP-003 for a type that was there, REL-010 for the implied one.
        c.observe(&s, charset, Mode::Binary, &arrived(st, None, None));
        c.observe(
            &s,
            charset,
            Mode::Binary,
            &arrived(st, Some("application/json"), None),
        );
        c.observe(&s, none, Mode::Binary, &arrived(st, None, None));
        assert_eq!(c.type_changed.deliveries, 2);
        assert_eq!(c.type_changed.examples.len(), 1, "one example per event");
        assert!(c.type_changed.examples[0].1.contains(
            "sent in binary mode with Content-Type `application/json; charset=utf-8`, arrived in the JSON format without datacontenttype"
        ), "{:?}", c.type_changed);
        assert_eq!(c.implied_missing.examples, vec![(none, "sent in binary mode without Content-Type, arrived in the JSON format without datacontenttype".to_owned())]);
    }

    #[test]
    fn header_values_decoded_exactly_once() {
        let s = stream();
        let q = first(&s, Kind::Percent);
        let mut c = Carried::default();
        let bin = ContentMode::Binary;
        c.observe(
            &s,
            q,
            Mode::Binary,
            &arrived(bin, None, Some(PERCENT_VALUE)),
        );
        c.observe(
            &s,
            q,
            Mode::Structured,
            &arrived(ContentMode::Structured, None, Some("A is A")),
        );
        c.observe(&s, q, Mode::Binary, &arrived(bin, None, None));
        c.observe(
            &s,
            q,
            Mode::Binary,
            &arrived(bin, None, Some("something else")),
        );
        assert_eq!(
            c.percent_judged, 2,
            "no header on the way, or no value: not judged"
        );
        assert!(c.percent_wrong.is_empty());
        c.observe(
            &s,
            q,
            Mode::Binary,
            &arrived(bin, None, Some("A is A; 50% is half")),
        );
        assert!(c.percent_wrong.examples[0]
            .1
            .contains("percent-decoded twice"));
        let mut c = Carried::default();
        c.observe(
            &s,
            q,
            Mode::Binary,
            &arrived(bin, None, Some("%2541%20is%20A;%2050%25%20is%20half")),
        );
        assert!(c.percent_wrong.examples[0]
            .1
            .contains("not percent-decoded"));
        assert_eq!(percent_decode_lenient("%41%zz%4"), "A%zz%4");
        assert_eq!(cap("a\nb"), "a\\nb");
    }
}
