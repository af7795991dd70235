//! Schema-level mutators: each takes a valid event and breaks exactly one rule of its schema.
//!
//! [`mutations`] walks the event beside its catalogue fields and lists every applicable single
//! mutation, deterministically; [`arb_mutation`] and [`arb_invalid_event`] pick one. Only
//! fields that are present are mutated, so generating many events reaches the optional ones.

use std::fmt;

use cdevents_schemas::catalogue::{self, CustomDef, EventDef, Field, Format};
use cdevents_schemas::formats;
use cdevents_schemas::SpecVersion;
use proptest::prelude::*;
use proptest::sample::select;
use regex::Regex;
use serde_json::{json, Map, Value};

use super::shape::{escape, fits, Resolver, Role, Shape, Target};
use super::valid::{arb_event, arb_valid_event};

/// Which rule a mutation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MutationKind {
    /// A required property is removed (also the last member of an `@any-required` group).
    RemoveRequired,
    /// A value of the wrong JSON type (a number for a string, a string for an object...).
    WrongType,
    /// A string outside a closed enum (or other than the one allowed `subject.type`).
    EnumValue,
    /// An empty string where at least one character is required.
    EmptyString,
    /// A string that does not have its asserted format.
    BadFormat(Format),
    /// A string that does not match its pattern.
    BadPattern,
    /// An unknown property in an object that allows no others.
    ExtraProperty,
    /// A `context.type` the schema does not accept (another type, or not a `dev.cdeventsx` type
    /// for the custom schema).
    WrongEventType,
    /// The version attribute under the other version's name (`version` vs `specversion`).
    VersionAttributeName,
    /// `customData` neither an object nor a string.
    CustomDataType,
}

impl MutationKind {
    /// Every kind.
    pub const ALL: [MutationKind; 12] = [
        MutationKind::RemoveRequired,
        MutationKind::WrongType,
        MutationKind::EnumValue,
        MutationKind::EmptyString,
        MutationKind::BadFormat(Format::DateTime),
        MutationKind::BadFormat(Format::Uri),
        MutationKind::BadFormat(Format::UriReference),
        MutationKind::BadPattern,
        MutationKind::ExtraProperty,
        MutationKind::WrongEventType,
        MutationKind::VersionAttributeName,
        MutationKind::CustomDataType,
    ];

    /// Whether a schema validator must reject the mutated event (true of every kind so far; a
    /// semantic mutation would pass the schemas and be caught by a check).
    pub fn schema_level(&self) -> bool {
        match self {
            MutationKind::RemoveRequired
            | MutationKind::WrongType
            | MutationKind::EnumValue
            | MutationKind::EmptyString
            | MutationKind::BadFormat(_)
            | MutationKind::BadPattern
            | MutationKind::ExtraProperty
            | MutationKind::WrongEventType
            | MutationKind::VersionAttributeName
            | MutationKind::CustomDataType => true,
        }
    }

    /// A stable kebab-case name (`bad-format-date-time`).
    pub fn name(&self) -> &'static str {
        match self {
            MutationKind::RemoveRequired => "remove-required",
            MutationKind::WrongType => "wrong-type",
            MutationKind::EnumValue => "enum-value",
            MutationKind::EmptyString => "empty-string",
            MutationKind::BadFormat(Format::DateTime) => "bad-format-date-time",
            MutationKind::BadFormat(Format::Uri) => "bad-format-uri",
            MutationKind::BadFormat(Format::UriReference) => "bad-format-uri-reference",
            MutationKind::BadPattern => "bad-pattern",
            MutationKind::ExtraProperty => "extra-property",
            MutationKind::WrongEventType => "wrong-event-type",
            MutationKind::VersionAttributeName => "version-attribute-name",
            MutationKind::CustomDataType => "custom-data-type",
        }
    }
}

impl fmt::Display for MutationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A valid event with exactly one rule broken.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// The rule broken.
    pub kind: MutationKind,
    /// JSON pointer of the broken spot: the changed value, the removed or added property.
    pub pointer: String,
    /// Where a validator reports it: `pointer` itself, its parent object for a missing or
    /// extra property, or the enclosing embedded link (an `anyOf` of link schemas).
    pub reported_at: String,
    /// The mutated event.
    pub event: Value,
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.kind, self.pointer)
    }
}

/// Every single mutation applicable to `event`, a valid event of `def`, in a fixed order.
pub fn mutations(version: SpecVersion, def: &EventDef, event: &Value) -> Vec<Mutation> {
    walk(version, Target::Event(def), event)
}

/// Every single mutation applicable to a valid `dev.cdeventsx` event (empty before 0.4).
pub fn custom_mutations(version: SpecVersion, event: &Value) -> Vec<Mutation> {
    match &catalogue::for_version(version).custom {
        Some(custom) => walk(version, Target::Custom(custom), event),
        None => Vec::new(),
    }
}

/// The mutations of an event of the embedded catalogue by its type string (custom types
/// included); `None` when the version does not define the type.
pub fn mutations_for_type(
    version: SpecVersion,
    type_name: &str,
    event: &Value,
) -> Option<Vec<Mutation>> {
    let cat = catalogue::for_version(version);
    if let Some(def) = cat.event(type_name) {
        return Some(mutations(version, def, event));
    }
    let custom: &CustomDef = cat.custom.as_ref()?;
    type_name
        .starts_with("dev.cdeventsx.")
        .then(|| walk(version, Target::Custom(custom), event))
}

/// A valid event of `def` with one of its mutations applied.
pub fn arb_mutation(version: SpecVersion, def: &EventDef) -> BoxedStrategy<Mutation> {
    let owned = def.clone();
    arb_valid_event(version, def)
        .prop_flat_map(move |ev| select(non_empty(mutations(version, &owned, &ev))))
        .boxed()
}

/// An event of any type of `version` with one mutation applied, as `(type, mutation)`.
pub fn arb_invalid_event(version: SpecVersion) -> impl Strategy<Value = (String, Mutation)> {
    arb_event(version).prop_flat_map(move |(t, ev)| {
        let all = mutations_for_type(version, &t, &ev).unwrap_or_default();
        (Just(t), select(non_empty(all)))
    })
}

/// Every event has a closed top-level object, so there is always an extra-property mutation;
/// an empty list would be a bug of the walker, and `select` would panic less clearly.
fn non_empty(all: Vec<Mutation>) -> Vec<Mutation> {
    assert!(
        !all.is_empty(),
        "no mutation applies: the walker missed the document"
    );
    all
}

fn walk(version: SpecVersion, target: Target<'_>, event: &Value) -> Vec<Mutation> {
    let r = Resolver::new(version, catalogue::for_version(version), target);
    let mut w = Walker {
        r,
        root: event,
        out: Vec::new(),
    };
    if let (Some(obj), Shape::Object { fields, .. }) = (event.as_object(), r.document()) {
        w.object(&Place::root(), obj, fields, true, &[], Role::Document);
    }
    w.out
}

/// Where the walker is: the pointer, and where an error there is reported when that is not
/// the pointer itself (inside an `anyOf` branch).
#[derive(Debug, Clone)]
struct Place {
    pointer: String,
    any_of: Option<String>,
}

impl Place {
    fn root() -> Place {
        Place {
            pointer: String::new(),
            any_of: None,
        }
    }

    fn child(&self, token: &str) -> Place {
        Place {
            pointer: format!("{}/{}", self.pointer, escape(token)),
            any_of: self.any_of.clone(),
        }
    }

    /// The pointer of the object holding this place.
    fn parent(&self) -> &str {
        self.pointer.rfind('/').map_or("", |i| &self.pointer[..i])
    }
}

enum Edit {
    Set(Value),
    Remove,
    Rename(String),
}

struct Walker<'a> {
    r: Resolver<'a>,
    root: &'a Value,
    out: Vec<Mutation>,
}

impl<'a> Walker<'a> {
    fn push(&mut self, kind: MutationKind, at: &Place, edit: Edit) {
        let mut event = self.root.clone();
        let parent_pointer = at.parent().to_owned();
        let last = at.pointer[parent_pointer.len()..]
            .trim_start_matches('/')
            .replace("~1", "/")
            .replace("~0", "~");
        let reported_here = match (&edit, kind) {
            (Edit::Set(_), MutationKind::ExtraProperty) | (Edit::Remove | Edit::Rename(_), _) => {
                parent_pointer.clone()
            }
            _ => at.pointer.clone(),
        };
        let applied = match edit {
            Edit::Set(v) => match event.pointer_mut(&parent_pointer) {
                Some(Value::Object(map)) => {
                    map.insert(last, v);
                    true
                }
                Some(Value::Array(items)) => match last.parse::<usize>() {
                    Ok(i) if i < items.len() => {
                        items[i] = v;
                        true
                    }
                    _ => false,
                },
                _ => false,
            },
            Edit::Remove => match event.pointer_mut(&parent_pointer) {
                Some(Value::Object(map)) => {
                    map.retain(|k, _| *k != last);
                    true
                }
                _ => false,
            },
            Edit::Rename(to) => match event.pointer_mut(&parent_pointer) {
                Some(Value::Object(map)) => {
                    let renamed: Map<String, Value> = std::mem::take(map)
                        .into_iter()
                        .map(|(k, v)| if k == last { (to.clone(), v) } else { (k, v) })
                        .collect();
                    *map = renamed;
                    true
                }
                _ => false,
            },
        };
        if applied {
            self.out.push(Mutation {
                kind,
                pointer: at.pointer.clone(),
                reported_at: at.any_of.clone().unwrap_or(reported_here),
                event,
            });
        }
    }

    fn object(
        &mut self,
        at: &Place,
        obj: &'a Map<String, Value>,
        fields: &'a [Field],
        closed: bool,
        any_required: &'a [String],
        role: Role,
    ) {
        if closed {
            let key = (0..)
                .map(|i| {
                    if i == 0 {
                        "x-unexpected".to_owned()
                    } else {
                        format!("x-unexpected-{i}")
                    }
                })
                .find(|k| !obj.contains_key(k) && !fields.iter().any(|f| &f.name == k))
                .unwrap_or_default();
            self.push(
                MutationKind::ExtraProperty,
                &at.child(&key),
                Edit::Set(Value::from("not in the schema")),
            );
        }
        if role == Role::Context {
            let attr = self.r.spec.version_attribute();
            let other = if attr == "version" {
                "specversion"
            } else {
                "version"
            };
            if obj.contains_key(attr) && !obj.contains_key(other) {
                self.push(
                    MutationKind::VersionAttributeName,
                    &at.child(attr),
                    Edit::Rename(other.to_owned()),
                );
            }
        }
        for f in fields {
            let Some(value) = obj.get(&f.name) else {
                continue;
            };
            let here = at.child(&f.name);
            let last_of_group = any_required.contains(&f.name)
                && !any_required
                    .iter()
                    .any(|o| *o != f.name && obj.contains_key(o));
            if f.required || last_of_group {
                self.push(MutationKind::RemoveRequired, &here, Edit::Remove);
            }
            let shape = self.r.resolve(&f.ty);
            let is_type = role == Role::Context && f.name == "type";
            if is_type {
                self.wrong_event_type(&here, &shape);
            }
            self.value(&here, value, shape, is_type);
        }
    }

    fn wrong_event_type(&mut self, at: &Place, shape: &Shape<'a>) {
        let events = &self.r.cat.events;
        let replacement = match shape {
            Shape::Const(own) => Some(
                events
                    .iter()
                    .map(|e| e.type_name.as_str())
                    .find(|t| t != own)
                    .unwrap_or("dev.cdevents.unknown.unknown.0.0.0")
                    .to_owned(),
            ),
            Shape::Str {
                pattern: Some(p), ..
            } => {
                let re = compile(p);
                events
                    .iter()
                    .map(|e| e.type_name.as_str())
                    .chain(["dev.cdevents.custom-thing.done.0.1.0"])
                    .find(|t| !re.is_match(t))
                    .map(str::to_owned)
            }
            _ => None,
        };
        if let Some(t) = replacement {
            self.push(MutationKind::WrongEventType, at, Edit::Set(Value::from(t)));
        }
    }

    fn value(&mut self, at: &Place, value: &'a Value, shape: Shape<'a>, is_type: bool) {
        match shape {
            Shape::Str {
                non_empty,
                format,
                pattern,
            } => {
                self.push(MutationKind::WrongType, at, Edit::Set(json!(42)));
                self.strings(
                    at,
                    value.as_str().unwrap_or(""),
                    non_empty,
                    format,
                    pattern,
                    is_type,
                );
            }
            Shape::Enum(values) => {
                self.push(MutationKind::WrongType, at, Edit::Set(json!(42)));
                self.push(
                    MutationKind::EnumValue,
                    at,
                    Edit::Set(Value::from(outside(values))),
                );
            }
            Shape::OpenEnum { non_empty, .. } => {
                self.push(MutationKind::WrongType, at, Edit::Set(json!(42)));
                if non_empty {
                    self.push(MutationKind::EmptyString, at, Edit::Set(json!("")));
                }
            }
            Shape::Const(s) => {
                self.push(MutationKind::WrongType, at, Edit::Set(json!(42)));
                if !is_type {
                    let outside = outside(&[s.to_owned()]);
                    self.push(MutationKind::EnumValue, at, Edit::Set(Value::from(outside)));
                }
            }
            Shape::Array(inner) => {
                self.push(
                    MutationKind::WrongType,
                    at,
                    Edit::Set(json!("not an array")),
                );
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    let shape = self.r.resolve(inner);
                    self.value(&at.child(&i.to_string()), item, shape, false);
                }
            }
            Shape::AnyOfArray(branches) => {
                self.push(
                    MutationKind::WrongType,
                    at,
                    Edit::Set(json!("not an array")),
                );
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    let mut here = at.child(&i.to_string());
                    self.push(MutationKind::WrongType, &here, Edit::Set(json!(42)));
                    let (Some(obj), Some(fields)) = (
                        item.as_object(),
                        branches.iter().find(|fields| fits(fields, item)),
                    ) else {
                        continue;
                    };
                    here.any_of = Some(here.pointer.clone());
                    self.object(&here, obj, fields, true, &[], Role::Other);
                }
            }
            Shape::Object {
                fields,
                closed,
                any_required,
                role,
            } => {
                self.push(
                    MutationKind::WrongType,
                    at,
                    Edit::Set(json!(["not", "an", "object"])),
                );
                if let Some(obj) = value.as_object() {
                    self.object(at, obj, fields, closed, any_required, role);
                }
            }
            Shape::AnyObject => {
                self.push(
                    MutationKind::WrongType,
                    at,
                    Edit::Set(json!("not an object")),
                );
            }
            Shape::CustomData => {
                self.push(MutationKind::CustomDataType, at, Edit::Set(json!(42)));
            }
            Shape::Unfilled => {}
        }
    }

    fn strings(
        &mut self,
        at: &Place,
        current: &str,
        non_empty: bool,
        format: Option<Format>,
        pattern: Option<&str>,
        is_type: bool,
    ) {
        let re = pattern.map(compile);
        let has_format = |s: &str| format.is_none_or(|f| formats::is_valid(f, s));
        let matches = |s: &str| re.as_ref().is_none_or(|r| r.is_match(s));
        // Only when "" breaks nothing else: `string+(uri)` would break the format too.
        if non_empty && has_format("") && matches("") {
            self.push(MutationKind::EmptyString, at, Edit::Set(json!("")));
        }
        if let Some(f) = format {
            let found = bad_format_candidates(f, current)
                .into_iter()
                .find(|c| !formats::is_valid(f, c) && (!non_empty || !c.is_empty()) && matches(c));
            if let Some(c) = found {
                self.push(MutationKind::BadFormat(f), at, Edit::Set(Value::from(c)));
            }
        }
        if let (Some(re), false) = (&re, is_type) {
            let found = ["does-not-match", "x", "0", "-", "no match/0"]
                .into_iter()
                .find(|c| !re.is_match(c) && has_format(c));
            if let Some(c) = found {
                self.push(MutationKind::BadPattern, at, Edit::Set(Value::from(c)));
            }
        }
    }
}

/// Values without the format, most specific first (derived from the valid value, so that only
/// the format is off).
fn bad_format_candidates(format: Format, current: &str) -> Vec<String> {
    match format {
        Format::DateTime => vec![
            current.replacen('T', " ", 1),
            "2024-02-30T10:00:00Z".to_owned(),
            "yesterday".to_owned(),
        ],
        Format::Uri => vec!["/relative/reference".to_owned(), "not a uri".to_owned()],
        Format::UriReference => vec![
            format!("{current} with spaces"),
            "has spaces\\and backslash".to_owned(),
        ],
    }
}

/// A string that is none of `values`.
fn outside(values: &[String]) -> String {
    let mut s = "not-a-known-value".to_owned();
    while values.contains(&s) {
        s.push('x');
    }
    s
}

/// Compiles a catalogue pattern (checked by the catalogue tests and the generators).
fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("catalogue pattern `{pattern}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators::valid::{sample, seeded_runner};
    use cdevents_schemas::Registry;
    use proptest::strategy::ValueTree;
    use std::collections::BTreeMap;
    use std::sync::OnceLock;

    fn registry() -> &'static Registry {
        static R: OnceLock<Registry> = OnceLock::new();
        R.get_or_init(|| Registry::embedded().expect("embedded registry"))
    }

    /// The mutated event is invalid, and every error is at or under `reported_at`.
    fn check_rejected(version: SpecVersion, t: &str, m: &Mutation) -> Result<(), String> {
        let verdict = registry()
            .validate(version, t, &m.event)
            .map_err(|e| e.to_string())?;
        let event = || serde_json::to_string_pretty(&m.event).unwrap_or_default();
        if verdict.is_valid() {
            return Err(format!("{version} {t}: {m} accepted\n{}", event()));
        }
        let under = |p: &str| p == m.reported_at || p.starts_with(&format!("{}/", m.reported_at));
        if let Some(e) = verdict.errors.iter().find(|e| !under(&e.pointer)) {
            return Err(format!(
                "{version} {t}: {m}: error at `{}` ({}) not under `{}`\n{}",
                e.pointer,
                e.message,
                m.reported_at,
                event()
            ));
        }
        let keywords = reasons(m.kind);
        if let Some(e) = verdict.errors.iter().find(|e| {
            let keyword = e.schema_path.rsplit('/').next().unwrap_or("");
            !keywords.contains(&keyword)
        }) {
            return Err(format!(
                "{version} {t}: {m}: rejected by `{}` ({}), expected one of {keywords:?}\n{}",
                e.schema_path,
                e.message,
                event()
            ));
        }
        Ok(())
    }

    /// The schema keywords that may reject each kind: the rule itself, or the `anyOf` /
    /// `oneOf` that holds it (embedded links, open enums, `@any-required`, `customData`). A
    /// number where an enum is expected breaks `type` and `enum` at once.
    fn reasons(kind: MutationKind) -> &'static [&'static str] {
        match kind {
            MutationKind::RemoveRequired => &["required", "anyOf"],
            MutationKind::WrongType => &["type", "enum", "anyOf", "oneOf"],
            MutationKind::EnumValue => &["enum", "anyOf"],
            MutationKind::EmptyString => &["minLength", "anyOf"],
            MutationKind::BadFormat(_) => &["format", "anyOf"],
            MutationKind::BadPattern => &["pattern", "anyOf"],
            MutationKind::ExtraProperty => &["additionalProperties", "anyOf"],
            MutationKind::WrongEventType => &["enum", "pattern"],
            MutationKind::VersionAttributeName => &["required", "additionalProperties"],
            MutationKind::CustomDataType => &["oneOf"],
        }
    }

    /// Every mutation of a few samples of every type of every version.
    #[test]
    fn every_mutation_is_rejected_where_it_claims() {
        let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
        for version in SpecVersion::ALL {
            let cat = catalogue::for_version(version);
            let mut types: Vec<String> = cat.events.iter().map(|e| e.type_name.clone()).collect();
            if cat.custom.is_some() {
                types.push("dev.cdeventsx.tool-thing.done.0.1.0".into());
            }
            for t in &types {
                for seed in 0..2 {
                    let ev = sample(version, t, seed).unwrap();
                    let all = mutations_for_type(version, t, &ev).unwrap();
                    for m in &all {
                        assert!(m.kind.schema_level());
                        check_rejected(version, t, m).unwrap_or_else(|e| panic!("{e}"));
                        *seen.entry(m.kind.name()).or_default() += 1;
                    }
                }
            }
        }
        for kind in MutationKind::ALL {
            assert!(
                seen.contains_key(kind.name()),
                "never produced: {kind} ({seen:?})"
            );
        }
    }

    #[test]
    fn picked_mutations_are_rejected() {
        for version in SpecVersion::ALL {
            let mut runner =
                proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
                    cases: 100,
                    failure_persistence: None,
                    ..Default::default()
                });
            runner
                .run(&arb_invalid_event(version), |(t, m)| {
                    check_rejected(version, &t, &m).map_err(TestCaseError::fail)
                })
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn mutations_are_deterministic_and_single() {
        let cat = catalogue::for_version(SpecVersion::V0_5_1);
        let def = cat.event_by_name("pipelinerun", "finished").unwrap();
        let ev = sample(SpecVersion::V0_5_1, &def.type_name, 5).unwrap();
        let a = mutations(SpecVersion::V0_5_1, def, &ev);
        assert_eq!(a, mutations(SpecVersion::V0_5_1, def, &ev));
        for m in &a {
            assert_ne!(m.event, ev, "{m} changed nothing");
        }
        let mut runner = seeded_runner(9);
        let m = arb_mutation(SpecVersion::V0_5_1, def)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        check_rejected(SpecVersion::V0_5_1, &def.type_name, &m).unwrap();
    }

    #[test]
    fn named_mutations() {
        let v = SpecVersion::V0_4_1;
        let cat = catalogue::for_version(v);
        let def = cat.event_by_name("pipelinerun", "queued").unwrap();
        let ev = sample(v, &def.type_name, 1).unwrap();
        let all = mutations(v, def, &ev);
        let find = |kind, pointer: &str| {
            all.iter()
                .find(|m| m.kind == kind && m.pointer == pointer)
                .unwrap_or_else(|| panic!("no {kind} at {pointer}"))
        };
        let m = find(MutationKind::VersionAttributeName, "/context/version");
        assert_eq!(m.event["context"]["specversion"], "0.4.1");
        assert_eq!(m.reported_at, "/context");
        let m = find(MutationKind::RemoveRequired, "/context/timestamp");
        assert!(m.event["context"].get("timestamp").is_none());
        let m = find(
            MutationKind::BadFormat(Format::DateTime),
            "/context/timestamp",
        );
        assert!(m.event["context"]["timestamp"]
            .as_str()
            .unwrap()
            .contains(' '));
        let m = find(MutationKind::WrongEventType, "/context/type");
        assert_ne!(m.event["context"]["type"], def.type_name.as_str());
        let m = find(MutationKind::EnumValue, "/subject/type");
        assert_eq!(m.event["subject"]["type"], "not-a-known-value");
        find(MutationKind::ExtraProperty, "/x-unexpected");
        find(MutationKind::ExtraProperty, "/subject/content/x-unexpected");
    }
}
