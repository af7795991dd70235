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

/// A finding for requirement `id`, at the level the catalogue gives it.
pub fn finding(id: &str, pointer: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        id: id.to_owned(),
        // Every id used by a check is in the catalogue (tested in `ids`); MUST is the safe
        // reading should one ever be missing.
        level: Catalogue::embedded()
            .get(id)
            .map(|r| r.level)
            .unwrap_or(Level::Must),
        pointer: pointer.into(),
        message: message.into(),
    }
}

/// Shortens untrusted text quoted in a message.
pub fn quote(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut:?}…")
    }
}
