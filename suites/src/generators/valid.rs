//! Strategies producing valid CDEvents for any event type of any supported version, read from
//! the catalogue field by field: there is no code per event type.
//!
//! What a generated event looks like:
//! - required fields always, optional ones about half of the time (absent optional fields are
//!   part of what a consumer must accept);
//! - strings per format: `uri` absolute `https` URLs on reserved hosts, `uri-reference` paths,
//!   URLs and fragments, `date-time` RFC 3339 with `Z` or offsets and fractions; free strings
//!   are identifiers, prose or arbitrary printable unicode;
//! - closed enums from their values, open enums from their values or any other string;
//! - `@any-required` groups always have at least one member;
//! - open objects sometimes carry an extra `x-…` property, closed ones never;
//! - `context.type` is the type, the version attribute (`version` up to 0.4, `specversion`
//!   from 0.5) carries the version string, `context.id`, `chainId` and `contextId` are uuids;
//! - `links` (0.4+) hold embedded links of every `linkType`; a `domainId` (0.6) is
//!   `cdevents:v0:<provider>:<provider-id>:<namespace>:<groups>:<type>:<id>` with provider and
//!   type from the spec text's governed lists, held to the catalogue's `domainid` pattern;
//! - `customData` is a JSON object (content type absent or JSON) or a base64 string with a
//!   non-JSON `customDataContentType` such as `application/xml`.

use cdevents_schemas::catalogue::{self, EventDef, Field};
use cdevents_schemas::SpecVersion;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::{Union, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value};

use super::shape::{Resolver, Role, Shape, Target};
use super::strings;

/// Properties added to open objects: never a catalogue field name.
const EXTRA_KEYS: [&str; 3] = ["x-vendor", "x-trace", "x-note"];

/// Content types under which `customData` is a JSON object.
const JSON_CONTENT_TYPES: [&str; 3] = [
    "application/json",
    "application/json; charset=utf-8",
    "application/vnd.example.build+json",
];

/// Content types under which `customData` is a base64 string.
const OPAQUE_CONTENT_TYPES: [&str; 4] = [
    "application/xml",
    "text/plain; charset=utf-8",
    "application/octet-stream",
    "text/csv",
];

/// Valid events of one `dev.cdevents` type of `version`.
///
/// `def` need not come from the embedded catalogue; link schemas and the document fields do.
///
/// # Panics
///
/// When a catalogue `pattern(...)` cannot be generated from (a defect caught by the tests).
pub fn arb_valid_event(version: SpecVersion, def: &EventDef) -> BoxedStrategy<Value> {
    let cat = catalogue::for_version(version);
    Builder {
        r: Resolver::new(version, cat, Target::Event(def)),
    }
    .document()
}

/// Valid `dev.cdeventsx` custom events of `version` (0.4+; `None` before), with types generated
/// from the custom schema's type pattern.
pub fn arb_custom_event(version: SpecVersion) -> Option<BoxedStrategy<Value>> {
    let cat = catalogue::for_version(version);
    let custom = cat.custom.as_ref()?;
    Some(
        Builder {
            r: Resolver::new(version, cat, Target::Custom(custom)),
        }
        .document(),
    )
}

/// Valid events of every type of `version`, custom events included (0.4+), as
/// `(type, event)`. Types are picked uniformly.
pub fn arb_event(version: SpecVersion) -> impl Strategy<Value = (String, Value)> {
    let cat = catalogue::for_version(version);
    let mut options: Vec<BoxedStrategy<(String, Value)>> = cat
        .events
        .iter()
        .map(|def| {
            let t = def.type_name.clone();
            arb_valid_event(version, def)
                .prop_map(move |ev| (t.clone(), ev))
                .boxed()
        })
        .collect();
    if let Some(custom) = arb_custom_event(version) {
        options.push(custom.prop_map(|ev| (type_of(&ev), ev)).boxed());
    }
    Union::new(options)
}

/// `context.type` of an event ("" when absent).
pub(crate) fn type_of(event: &Value) -> String {
    event
        .pointer("/context/type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Why [`sample`] produced no event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleError {
    /// The version defines no such type (and no custom events when it starts `dev.cdeventsx.`).
    #[error("event type `{type_name}` is not defined by CDEvents {version}")]
    UnknownType {
        /// The version.
        version: SpecVersion,
        /// The type asked for.
        type_name: String,
    },
    /// The strategy gave up (too many rejected candidates).
    #[error("cannot generate a {type_name} event: {message}")]
    Generate {
        /// The type asked for.
        type_name: String,
        /// proptest's reason.
        message: String,
    },
}

/// The strategy for one type string of a version; custom types get the custom schema with
/// `context.type` set to the type asked for.
pub fn arb_event_of_type(
    version: SpecVersion,
    type_name: &str,
) -> Result<BoxedStrategy<Value>, SampleError> {
    let cat = catalogue::for_version(version);
    if let Some(def) = cat.event(type_name) {
        return Ok(arb_valid_event(version, def));
    }
    if type_name.starts_with("dev.cdeventsx.") {
        if let Some(custom) = arb_custom_event(version) {
            let t = type_name.to_owned();
            return Ok(custom
                .prop_map(move |mut ev| {
                    ev["context"]["type"] = Value::from(t.clone());
                    ev
                })
                .boxed());
        }
    }
    Err(SampleError::UnknownType {
        version,
        type_name: type_name.to_owned(),
    })
}

/// One valid event of `type_name`, the same for the same seed: `--seed S` reproduces it.
pub fn sample(version: SpecVersion, type_name: &str, seed: u64) -> Result<Value, SampleError> {
    let strategy = arb_event_of_type(version, type_name)?;
    let mut runner = seeded_runner(seed);
    strategy
        .new_tree(&mut runner)
        .map(|tree| tree.current())
        .map_err(|message| SampleError::Generate {
            type_name: type_name.to_owned(),
            message: message.to_string(),
        })
}

/// A test runner whose random numbers depend on `seed` only.
pub fn seeded_runner(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

/// One generated member of an object, present or not.
#[derive(Debug, Clone)]
struct Member {
    name: String,
    value: Value,
    present: bool,
}

struct Builder<'a> {
    r: Resolver<'a>,
}

impl<'a> Builder<'a> {
    fn document(&self) -> BoxedStrategy<Value> {
        self.shape(self.r.document())
    }

    /// A field's value, with the conventions that depend on where the field is.
    fn field(&self, f: &'a Field, role: Role) -> BoxedStrategy<Value> {
        let shape = self.r.resolve(&f.ty);
        let plain_string = matches!(
            shape,
            Shape::Str {
                format: None,
                pattern: None,
                ..
            }
        );
        if role == Role::Context && f.name == self.r.spec.version_attribute() && plain_string {
            return Just(Value::from(self.r.spec.as_str())).boxed();
        }
        if plain_string
            && ((role == Role::Context && f.name == "id")
                || f.name == "chainId"
                || f.name == "contextId")
        {
            return strings::uuid().prop_map(Value::from).boxed();
        }
        if plain_string && f.name == "source" && matches!(role, Role::Context | Role::Subject) {
            // The test events' schemas drop the format of `source`, but the spec text still
            // makes it a non-empty URI-reference (CDE-CTX-002, CDE-SUB-002): generate that.
            return strings::uri_reference(true).prop_map(Value::from).boxed();
        }
        if f.name == "domainId" {
            // `@domainid` in relation links but only `uri-reference` in `from`, `to` and `end`:
            // all are meant to be domain ids, held to the `domainid` pattern where it applies.
            if let (
                Shape::Str {
                    format,
                    pattern: own,
                    ..
                },
                Shape::Str {
                    pattern: governed, ..
                },
            ) = (&shape, self.r.named("domainid"))
            {
                if own.is_none() || *own == governed {
                    return strings::domain_id(governed, *format)
                        .prop_map(Value::from)
                        .boxed();
                }
            }
        }
        self.shape(shape)
    }

    fn shape(&self, shape: Shape<'a>) -> BoxedStrategy<Value> {
        match shape {
            Shape::Str {
                non_empty,
                format,
                pattern,
            } => {
                let s = match (pattern, format) {
                    (Some(p), _) => strings::matching(p, format, non_empty),
                    (None, Some(f)) => strings::formatted(f, non_empty),
                    (None, None) => strings::free(non_empty),
                };
                s.prop_map(Value::from).boxed()
            }
            Shape::Enum(values) => select(values.to_vec()).prop_map(Value::from).boxed(),
            Shape::OpenEnum { values, non_empty } => prop_oneof![
                3 => select(values.to_vec()),
                1 => strings::free(non_empty),
            ]
            .prop_map(Value::from)
            .boxed(),
            Shape::Const(s) => Just(Value::from(s)).boxed(),
            Shape::Array(inner) => {
                let item = self.shape(self.r.resolve(inner));
                prop::collection::vec(item, 0..4)
                    .prop_map(Value::Array)
                    .boxed()
            }
            Shape::AnyOfArray(branches) => {
                let items: Vec<BoxedStrategy<Value>> = branches
                    .into_iter()
                    .map(|fields| self.object(fields, true, &[], Role::Other))
                    .collect();
                if items.is_empty() {
                    return Just(Value::Array(Vec::new())).boxed();
                }
                prop::collection::vec(Union::new(items), 0..4)
                    .prop_map(Value::Array)
                    .boxed()
            }
            Shape::Object {
                fields,
                closed,
                any_required,
                role,
            } => self.object(fields, closed, any_required, role),
            Shape::AnyObject => json_object().boxed(),
            Shape::CustomData => custom_data(None)
                .prop_map(|mut members| members.remove(0).value)
                .boxed(),
            // Nothing is valid there; generate something so the defect shows in validation.
            Shape::Unfilled => Just(Value::Null).boxed(),
        }
    }

    fn object(
        &self,
        fields: &'a [Field],
        closed: bool,
        any_required: &'a [String],
        role: Role,
    ) -> BoxedStrategy<Value> {
        // `customData` and its content type are generated together so that they agree.
        let data_field = fields
            .iter()
            .find(|f| matches!(self.r.resolve(&f.ty), Shape::CustomData));
        let type_field = fields
            .iter()
            .find(|f| f.name == "customDataContentType")
            .filter(|_| data_field.is_some());
        let mut parts: Vec<BoxedStrategy<Vec<Member>>> = Vec::with_capacity(fields.len());
        for f in fields {
            if type_field.is_some_and(|t| t.name == f.name) {
                continue;
            }
            if data_field.is_some_and(|d| d.name == f.name) {
                let pair = custom_data(type_field.map(|t| t.name.clone()));
                let name = f.name.clone();
                let required = f.required;
                parts.push(
                    (any::<bool>(), pair)
                        .prop_map(move |(present, mut members)| {
                            members[0].name.clone_from(&name);
                            if !(present || required) {
                                members.clear();
                            }
                            members
                        })
                        .boxed(),
                );
                continue;
            }
            let name = f.name.clone();
            // A link end names its event: the 0.4/0.5 schemas leave `contextId` optional in a
            // RELATION `target`, but the prose (CDE-LNK-005) requires it. Where `@any-required`
            // offers `domainId` instead (0.6), that group decides.
            let prose_required = f.name == "contextId" && any_required.is_empty();
            let presence = if f.required || prose_required {
                Just(true).boxed()
            } else {
                any::<bool>().boxed()
            };
            parts.push(
                (self.field(f, role), presence)
                    .prop_map(move |(value, present)| {
                        vec![Member {
                            name: name.clone(),
                            value,
                            present,
                        }]
                    })
                    .boxed(),
            );
        }
        let group = any_required.to_vec();
        let extra = if closed {
            Just(None).boxed()
        } else {
            prop::option::weighted(0.3, (select(EXTRA_KEYS.to_vec()), json_leaf())).boxed()
        };
        (parts, any::<Index>(), extra)
            .prop_map(move |(parts, pick, extra)| {
                let mut members: Vec<Member> = parts.into_iter().flatten().collect();
                let in_group = |m: &Member| group.contains(&m.name);
                if !group.is_empty() && !members.iter().any(|m| m.present && in_group(m)) {
                    let candidates: Vec<usize> = (0..members.len())
                        .filter(|&i| in_group(&members[i]))
                        .collect();
                    if !candidates.is_empty() {
                        members[candidates[pick.index(candidates.len())]].present = true;
                    }
                }
                let mut map: Map<String, Value> = members
                    .into_iter()
                    .filter(|m| m.present)
                    .map(|m| (m.name, m.value))
                    .collect();
                if let Some((key, value)) = extra {
                    map.entry(key).or_insert(value);
                }
                Value::Object(map)
            })
            .boxed()
    }
}

/// `customData` (first member, always present) and, when the document has the field, its
/// content type (second member, when set).
fn custom_data(type_field: Option<String>) -> BoxedStrategy<Vec<Member>> {
    let member = |name: &str, value: Value| Member {
        name: name.to_owned(),
        value,
        present: true,
    };
    let as_object = (
        json_object(),
        prop::option::of(select(JSON_CONTENT_TYPES.to_vec())),
    );
    let as_base64 = (
        prop::collection::vec(any::<u8>(), 0..48),
        select(OPAQUE_CONTENT_TYPES.to_vec()),
    )
        .prop_map(|(bytes, ct)| (Value::from(strings::base64(&bytes)), Some(ct)));
    prop_oneof![3 => as_object, 2 => as_base64]
        .prop_map(move |(data, ct)| {
            let mut members = vec![member("customData", data)];
            match (&type_field, ct) {
                (Some(name), Some(ct)) => members.push(member(name, Value::from(ct))),
                // Without a content-type field only the JSON reading is unambiguous.
                (None, Some(ct)) if !ct.contains("json") => {
                    members[0].value = Value::Object(Map::new());
                }
                _ => {}
            }
            members
        })
        .boxed()
}

/// A JSON scalar, strings included.
fn json_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1.0e9f64..1.0e9).prop_map(Value::from),
        strings::free(false).prop_map(Value::from),
    ]
    .boxed()
}

/// Any JSON object, nested a little.
fn json_object() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        4 => proptest::string::string_regex("[a-zA-Z][a-zA-Z0-9_]{0,10}").expect("key regex"),
        1 => proptest::string::string_regex("\\PC{1,8}").expect("key regex"),
    ];
    let value = json_leaf().prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    proptest::string::string_regex("[a-z]{1,6}").expect("key regex"),
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    });
    prop::collection::vec((key, value), 0..5)
        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdevents_schemas::Registry;
    use proptest::test_runner::TestCaseError;
    use std::sync::OnceLock;

    fn registry() -> &'static Registry {
        static R: OnceLock<Registry> = OnceLock::new();
        R.get_or_init(|| Registry::embedded().expect("embedded registry"))
    }

    fn check_valid(version: SpecVersion, t: &str, ev: &Value) -> Result<(), TestCaseError> {
        let verdict = registry()
            .validate(version, t, ev)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(
            verdict.is_valid(),
            "{version} {t}: {:?}\n{}",
            verdict.errors,
            serde_json::to_string_pretty(ev).unwrap_or_default()
        );
        Ok(())
    }

    fn valid_events_of(version: SpecVersion) {
        let mut runner = TestRunner::new(Config {
            cases: 250,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&arb_event(version), |(t, ev)| check_valid(version, &t, &ev))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn generated_events_are_valid_0_3_0() {
        valid_events_of(SpecVersion::V0_3_0);
    }

    #[test]
    fn generated_events_are_valid_0_4_1() {
        valid_events_of(SpecVersion::V0_4_1);
    }

    #[test]
    fn generated_events_are_valid_0_5_1() {
        valid_events_of(SpecVersion::V0_5_1);
    }

    #[test]
    fn generated_events_are_valid_0_6_0_draft() {
        valid_events_of(SpecVersion::V0_6_0Draft);
    }

    /// A few samples of every single type, so that no type is left to chance.
    #[test]
    fn every_type_samples_valid() {
        for version in SpecVersion::ALL {
            for def in &catalogue::for_version(version).events {
                for seed in 0..3 {
                    let ev = sample(version, &def.type_name, seed).unwrap();
                    check_valid(version, &def.type_name, &ev).unwrap_or_else(|e| panic!("{e}"));
                }
            }
        }
    }

    #[test]
    fn sample_is_deterministic() {
        for version in SpecVersion::ALL {
            let t = &catalogue::for_version(version).events[0].type_name;
            for seed in [0, 1, 42, u64::MAX] {
                assert_eq!(
                    sample(version, t, seed).unwrap(),
                    sample(version, t, seed).unwrap()
                );
            }
            let distinct: std::collections::BTreeSet<String> = (0..20)
                .map(|s| sample(version, t, s).unwrap().to_string())
                .collect();
            assert!(distinct.len() > 15, "seeds should give different events");
        }
    }

    #[test]
    fn sample_custom_and_unknown_types() {
        let t = "dev.cdeventsx.tool-thing.done.0.1.0";
        let ev = sample(SpecVersion::V0_5_1, t, 7).unwrap();
        assert_eq!(ev["context"]["type"], t);
        check_valid(SpecVersion::V0_5_1, t, &ev).unwrap();
        assert!(matches!(
            sample(SpecVersion::V0_3_0, t, 7),
            Err(SampleError::UnknownType { .. })
        ));
        assert!(matches!(
            sample(SpecVersion::V0_5_1, "dev.cdevents.nope.done.0.1.0", 7),
            Err(SampleError::UnknownType { .. })
        ));
    }

    /// The conventions hold: version attribute, type, ids, and what the links and custom data
    /// look like over many events.
    #[test]
    fn conventions_and_coverage() {
        for version in SpecVersion::ALL {
            let mut runner = seeded_runner(3);
            let strategy = arb_event(version);
            let mut link_types = std::collections::BTreeSet::new();
            let mut ids = std::collections::BTreeSet::new();
            let (mut object_data, mut base64_data, mut no_data) = (0, 0, 0);
            for _ in 0..300 {
                let (t, ev) = strategy.new_tree(&mut runner).unwrap().current();
                let ctx = &ev["context"];
                assert_eq!(ctx[version.version_attribute()], version.as_str());
                assert_eq!(ctx["type"], t.as_str());
                ids.insert(ctx["id"].as_str().unwrap().to_owned());
                for link in ctx["links"].as_array().into_iter().flatten() {
                    link_types.insert(link["linkType"].as_str().unwrap().to_owned());
                    for end in ["from", "target"] {
                        if let Some(d) = link[end].get("domainId") {
                            assert!(d.as_str().unwrap().starts_with("cdevents:v0:"), "{d}");
                        }
                    }
                }
                match (&ev.get("customData"), ev.get("customDataContentType")) {
                    (None, _) => no_data += 1,
                    (Some(Value::Object(_)), ct) => {
                        assert!(ct.is_none_or(|c| c.as_str().unwrap().contains("json")));
                        object_data += 1;
                    }
                    (Some(Value::String(_)), Some(ct)) => {
                        assert!(!ct.as_str().unwrap().contains("json"));
                        base64_data += 1;
                    }
                    (data, ct) => panic!("customData {data:?} with content type {ct:?}"),
                }
            }
            assert!(ids.len() > 290, "ids should be unique-ish");
            assert!(object_data > 0 && base64_data > 0 && no_data > 0);
            if version.has_links() {
                assert_eq!(link_types.len(), 3, "{version}: {link_types:?}");
            }
        }
    }
}
