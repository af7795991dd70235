//! Checks of single events: pure functions from what was received to findings.
//!
//! [`EventChecker::check_envelope`] judges one decoded event: the CDEvent itself
//! ([`event`]: schema, type, version, source, custom data, links, custom events) and, when it
//! came as a CloudEvent, the CDEvents CloudEvents binding ([`binding`]). Checks never print;
//! every finding names its requirement, and its level comes from the catalogue.

pub mod binding;
pub mod event;
pub mod ids;
pub mod links;
pub mod stream;
pub mod wire;

use cdevents_reports::{Finding, Level};
use cdevents_schemas::{Registry, SpecVersion};
use serde_json::Value;

use crate::input::Envelope;
use crate::requirements::Catalogue;

/// Fetches the schema named by a custom event's `schemaUri`. Only used when the user asked for
/// it (`--fetch-schema-uri`): a `schemaUri` in an event is not an invitation to fetch it.
pub trait SchemaUriResolver: Send + Sync {
    /// The schema document, or why it could not be had.
    fn resolve(&self, uri: &str) -> Result<Value, String>;
}

/// What the checks found about one event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckedEvent {
    /// The spec version the event was judged against, if one could be told.
    pub spec: Option<SpecVersion>,
    /// `context.type`, if it is a string.
    pub type_name: Option<String>,
    /// Every finding, in check order.
    pub findings: Vec<Finding>,
}

impl CheckedEvent {
    /// Whether any finding fails a run with this `--fail-on` threshold.
    pub fn fails(&self, fail_on: Level) -> bool {
        self.findings.iter().any(|f| f.level.fails_at(fail_on))
    }
}

/// Checks events against one registry.
pub struct EventChecker<'r> {
    registry: &'r Registry,
    forced: Option<SpecVersion>,
    schema_uri: Option<&'r dyn SchemaUriResolver>,
}

impl<'r> EventChecker<'r> {
    /// A checker that reads each event's declared version.
    pub fn new(registry: &'r Registry) -> Self {
        EventChecker {
            registry,
            forced: None,
            schema_uri: None,
        }
    }

    /// Judge every event against this version, whatever it declares (`--spec`).
    pub fn force_version(mut self, v: Option<SpecVersion>) -> Self {
        self.forced = v;
        self
    }

    /// Fetch and apply `schemaUri` schemas (`--fetch-schema-uri`).
    pub fn with_schema_uri_resolver(mut self, r: &'r dyn SchemaUriResolver) -> Self {
        self.schema_uri = Some(r);
        self
    }

    /// Judges a bare CDEvent.
    pub fn check_event(&self, event: &Value) -> CheckedEvent {
        let mut out = CheckedEvent::default();
        event::check(self, event, &mut out);
        out
    }

    /// Judges a decoded event: the CDEvent, then the CloudEvents binding when there is one.
    pub fn check_envelope(&self, env: &Envelope) -> CheckedEvent {
        let mut out = self.check_event(&env.cdevent);
        binding::check(env, &mut out);
        out
    }
}

/// `v.pointer(p)` for the constant, unescaped pointers the checks use, without allocating:
/// `Value::pointer` builds two `String`s per segment (it unescapes `~0`/`~1`).
pub(crate) fn at<'v>(v: &'v Value, pointer: &str) -> Option<&'v Value> {
    pointer.split('/').skip(1).try_fold(v, |v, key| v.get(key))
}

/// `m.get(key)` by comparing keys in order: for the few members of a CDEvent object that is
/// cheaper than hashing `key` (serde_json's maps use SipHash); larger maps are looked up.
pub(crate) fn member<'v>(m: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    if m.len() > 8 {
        return m.get(key);
    }
    m.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
}

/// A finding for requirement `id`, at the level the catalogue gives it.
pub fn finding(id: &str, pointer: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        id: id.to_owned(),
        // Every id used by a check is in the catalogue (tested in `ids`); MUST is the safe
        // reading should one ever be missing.
        level: level_of(id).unwrap_or(Level::Must),
        pointer: pointer.into(),
        message: message.into(),
    }
}

/// The catalogue level of `id`. Ids are short: each is packed into one integer and found by a
/// binary search of a table built once, instead of a SipHash lookup in the catalogue (and its
/// string comparisons) per finding (BENCHMARKS.md).
fn level_of(id: &str) -> Option<Level> {
    static LEVELS: std::sync::OnceLock<Vec<(u128, Level)>> = std::sync::OnceLock::new();
    let Some(key) = packed(id) else {
        return Catalogue::embedded().get(id).map(|r| r.level);
    };
    let levels = LEVELS.get_or_init(|| {
        let mut v: Vec<_> = Catalogue::embedded()
            .iter()
            .filter_map(|r| Some((packed(&r.id)?, r.level)))
            .collect();
        v.sort_unstable_by_key(|&(k, _)| k);
        v
    });
    levels
        .binary_search_by_key(&key, |&(k, _)| k)
        .ok()
        .map(|i| levels[i].1)
}

/// The bytes of an id of at most 15 bytes and its length in one integer (one-to-one);
/// `None` for a longer id.
fn packed(id: &str) -> Option<u128> {
    let b = id.as_bytes();
    if b.len() > 15 {
        return None;
    }
    let mut bytes = [0u8; 16];
    bytes[..b.len()].copy_from_slice(b);
    bytes[15] = b.len() as u8;
    Some(u128::from_be_bytes(bytes))
}

/// Shortens untrusted text quoted in a message.
pub fn quote(s: &str) -> String {
    const MAX: usize = 80;
    // Printable ASCII other than `"` and `\` is what `{:?}` leaves as it is: most quoted
    // text is, and is then copied between quotes instead of escaped char by char.
    if s.len() <= MAX
        && s.bytes()
            .all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\')
    {
        let mut q = String::with_capacity(s.len() + 2);
        q.push('"');
        q.push_str(s);
        q.push('"');
        return q;
    }
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_the_catalogue_s() {
        let catalogue = Catalogue::embedded();
        for r in catalogue.iter() {
            assert_eq!(level_of(&r.id), Some(r.level), "{}", r.id);
            assert_eq!(finding(&r.id, "", "").level, r.level, "{}", r.id);
        }
        assert_eq!(level_of("CDE-NOPE-999"), None);
        assert_eq!(
            level_of("CDE-CTX-003-AND-MORE"),
            None,
            "longer than a packed id"
        );
        assert_ne!(packed("CDE-CTX-00"), packed("CDE-CTX-00\0"));
        assert_eq!(finding("CDE-NOPE-999", "", "").level, Level::Must);
        let should = catalogue.iter().find(|r| r.level == Level::Should);
        assert!(should.is_some(), "the catalogue has SHOULD records");
    }

    #[test]
    fn quote_is_debug_formatting_shortened() {
        let long = "x".repeat(81);
        let cases = [
            "",
            "plain /path?q=1&r=~",
            "with \"quotes\"",
            "back\\slash",
            "tab\t",
            "new\nline",
            "é accent",
            "\u{7f}del",
            "it's",
            "\u{1b}[31m",
            &long[..80],
        ];
        for s in cases {
            assert_eq!(quote(s), format!("{s:?}"), "{s}");
        }
        assert_eq!(quote(&long), format!("{:?}…", &long[..80]));
        assert_eq!(quote(&"é".repeat(81)), format!("{:?}…", "é".repeat(80)));
    }
}
