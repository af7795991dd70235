//! The event catalogue: every event type of every supported version and the shape of its
//! fields, parsed from `schemas/catalogue/<version>.toml`.
//!
//! The catalogue is the registry's one source of truth. The JSON Schemas are generated from it
//! ([`crate::generate`]), and the event generators and coverage tables read it too.
//!
//! # Field grammar
//!
//! Each field is one string, `name[!]: type`, where `!` marks a required field and `type` is:
//!
//! | type | meaning |
//! |---|---|
//! | `string`, `string+` | a string; `+` requires at least one character |
//! | `string(uri)` | a string that must have the format (`uri`, `uri-reference`, `date-time`) |
//! | `... pattern("re")` | a string that must match the regular expression (JSON string syntax) |
//! | `enum(a\|b)`, `enum+(a)` | a string from the list |
//! | `open-enum(a\|b)` | a string from the list or any other string (`open-enum+`: non-empty) |
//! | `[T]` | an array of `T` |
//! | `{f, g}` | an object with exactly these fields (no others) |
//! | `open{f, g}` | an object with these fields; others allowed |
//! | `object` | any object |
//! | `@any-required(a, b)` | inside an object: at least one of `a`, `b` is present |
//! | `@name` | the named link schema of the same version (e.g. `@domainid`) |
//! | `$type`, `$subject-type`, `$content`, `$context`, `$subject`, `$links`, `$custom-data` | placeholders filled per event type |

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::version::SpecVersion;

/// A string format asserted by the schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// RFC 3986 absolute URI.
    Uri,
    /// RFC 3986 URI or relative reference.
    UriReference,
    /// RFC 3339 date-time.
    DateTime,
}

impl Format {
    /// The JSON Schema name of the format.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Uri => "uri",
            Format::UriReference => "uri-reference",
            Format::DateTime => "date-time",
        }
    }

    fn parse(s: &str) -> Option<Format> {
        match s {
            "uri" => Some(Format::Uri),
            "uri-reference" => Some(Format::UriReference),
            "date-time" => Some(Format::DateTime),
            _ => None,
        }
    }
}

/// Placeholders that the generator fills in per event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `context.type`: exactly the event's type string.
    Type,
    /// `subject.type` of 0.3/0.4: exactly the event's subject type.
    SubjectType,
    /// `subject.content`: the event's content fields.
    Content,
    /// The whole context object.
    Context,
    /// The whole subject object.
    Subject,
    /// `context.links`: the embedded links array.
    Links,
    /// `customData`: an object or a base64 string.
    CustomData,
}

/// The type of one field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    /// A string.
    String {
        /// At least one character.
        non_empty: bool,
        /// Asserted format.
        format: Option<Format>,
        /// Regular expression it must match.
        pattern: Option<String>,
    },
    /// A string from a closed list.
    Enum {
        /// The allowed values.
        values: Vec<String>,
        /// At least one character (redundant with the values, kept as published).
        non_empty: bool,
    },
    /// A string from a list of well-known values, or any other string.
    OpenEnum {
        /// The well-known values.
        values: Vec<String>,
        /// The free-form alternative must be non-empty.
        non_empty: bool,
    },
    /// An array.
    Array(Box<FieldType>),
    /// An object with known fields.
    Object {
        /// Its fields.
        fields: Vec<Field>,
        /// Whether other properties are forbidden.
        closed: bool,
        /// At least one of these must be present (empty: no such rule).
        any_required: Vec<String>,
    },
    /// Any JSON object.
    AnyObject,
    /// A named schema of the same version (link schemas).
    Named(String),
    /// A placeholder filled in per event type.
    Slot(Slot),
}

/// One named field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The property name.
    pub name: String,
    /// Whether the property is required.
    pub required: bool,
    /// Its type.
    pub ty: FieldType,
}

/// One event type of one version.
#[derive(Debug, Clone)]
pub struct EventDef {
    /// The full type string, e.g. `dev.cdevents.pipelinerun.finished.0.3.0`.
    pub type_name: String,
    /// The last segment of the official `$id` (e.g. `pipelinerun-finished-event`).
    pub schema_id: String,
    /// `subject.type` in 0.3/0.4.
    pub subject_type: Option<String>,
    /// The context fields, overrides applied.
    pub context: Vec<Field>,
    /// The subject fields, overrides applied.
    pub subject: Vec<Field>,
    /// The content fields.
    pub content: Vec<Field>,
}

impl EventDef {
    /// The subject part of the type (`pipelinerun`).
    pub fn subject_name(&self) -> &str {
        self.type_name.split('.').nth(2).unwrap_or("")
    }

    /// The predicate part of the type (`finished`).
    pub fn predicate(&self) -> &str {
        self.type_name.split('.').nth(3).unwrap_or("")
    }

    /// The event type's own version (`0.3.0`).
    pub fn type_version(&self) -> &str {
        let mut parts = self.type_name.splitn(5, '.');
        parts.nth(4).unwrap_or("")
    }

    /// `subject.predicate`, the short name used in fixtures and case ids.
    pub fn short_name(&self) -> String {
        format!("{}.{}", self.subject_name(), self.predicate())
    }
}

/// The `dev.cdeventsx` custom event schema (0.4+).
#[derive(Debug, Clone)]
pub struct CustomDef {
    /// The last segment of the official `$id`.
    pub schema_id: String,
    /// Context fields.
    pub context: Vec<Field>,
    /// Subject fields.
    pub subject: Vec<Field>,
}

/// A link schema (0.4+).
#[derive(Debug, Clone)]
pub struct LinkDef {
    /// The official `$id` tail, e.g. `links/embeddedlinkend`.
    pub schema_id: String,
    /// What the schema is.
    pub body: LinkBody,
}

/// The body of a link schema.
#[derive(Debug, Clone)]
pub enum LinkBody {
    /// An object with these fields (closed).
    Object(Vec<Field>),
    /// An array whose items are any of these link schemas (by their last segment).
    ArrayOf(Vec<String>),
    /// A single value.
    Value(FieldType),
}

impl LinkDef {
    /// The last segment (`embeddedlinkend`).
    pub fn name(&self) -> &str {
        self.schema_id.rsplit('/').next().unwrap_or(&self.schema_id)
    }
}

/// Everything one spec version defines.
#[derive(Debug, Clone)]
pub struct VersionCatalogue {
    /// The version.
    pub spec: SpecVersion,
    /// The top-level fields of every event.
    pub document: Vec<Field>,
    /// Every event type, in catalogue order.
    pub events: Vec<EventDef>,
    /// The custom event schema, where the version has one.
    pub custom: Option<CustomDef>,
    /// Link schemas.
    pub links: Vec<LinkDef>,
}

impl VersionCatalogue {
    /// The event of that exact type string.
    pub fn event(&self, type_name: &str) -> Option<&EventDef> {
        self.events.iter().find(|e| e.type_name == type_name)
    }

    /// The event with that subject and predicate, whatever its type version.
    pub fn event_by_name(&self, subject: &str, predicate: &str) -> Option<&EventDef> {
        self.events
            .iter()
            .find(|e| e.subject_name() == subject && e.predicate() == predicate)
    }
}

/// A catalogue file that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The TOML is malformed.
    #[error("catalogue {file}: {source}")]
    Toml {
        /// The file.
        file: String,
        /// The TOML error, with line and column.
        source: toml::de::Error,
    },
    /// A field string does not follow the grammar.
    #[error("catalogue {file}: field `{field}`: {message}")]
    Field {
        /// The file.
        file: String,
        /// The offending field string.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Something else is inconsistent.
    #[error("catalogue {file}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawVersion {
    spec: String,
    version_attribute: String,
    context: Vec<String>,
    document: Vec<String>,
    subject: Vec<String>,
    #[serde(default)]
    event: Vec<RawEvent>,
    custom: Option<RawCustom>,
    #[serde(default)]
    link: Vec<RawLink>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawEvent {
    #[serde(rename = "type")]
    type_name: String,
    schema_id: String,
    subject_type: Option<String>,
    #[serde(default)]
    context_overrides: Vec<String>,
    #[serde(default)]
    subject_overrides: Vec<String>,
    content: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawCustom {
    schema_id: String,
    context: Vec<String>,
    subject: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawLink {
    schema_id: String,
    fields: Option<Vec<String>>,
    array_of: Option<Vec<String>>,
    value: Option<String>,
}

/// Parses one catalogue file. `file` names it in errors.
pub fn parse_version(file: &str, text: &str) -> Result<VersionCatalogue, CatalogueError> {
    let raw: RawVersion = toml::from_str(text).map_err(|source| CatalogueError::Toml {
        file: file.to_owned(),
        source,
    })?;
    let invalid = |message: String| CatalogueError::Invalid {
        file: file.to_owned(),
        message,
    };
    let spec: SpecVersion = raw.spec.parse().map_err(|e| invalid(format!("{e}")))?;
    if raw.version_attribute != spec.version_attribute() {
        return Err(invalid(format!(
            "version-attribute `{}` but {} names it `{}`",
            raw.version_attribute,
            spec,
            spec.version_attribute()
        )));
    }
    let fields = |list: &[String]| -> Result<Vec<Field>, CatalogueError> {
        list.iter()
            .map(|s| {
                parse_field(s).map_err(|message| CatalogueError::Field {
                    file: file.to_owned(),
                    field: s.clone(),
                    message,
                })
            })
            .collect()
    };
    let document = fields(&raw.document)?;
    let context = fields(&raw.context)?;
    let subject = fields(&raw.subject)?;
    let mut events = Vec::with_capacity(raw.event.len());
    for e in &raw.event {
        if events.iter().any(|d: &EventDef| d.type_name == e.type_name) {
            return Err(invalid(format!("event type {} listed twice", e.type_name)));
        }
        check_type_name(&e.type_name).map_err(|m| invalid(format!("{}: {m}", e.type_name)))?;
        let uses_subject_type = subject
            .iter()
            .any(|f| f.ty == FieldType::Slot(Slot::SubjectType));
        if uses_subject_type != e.subject_type.is_some() {
            return Err(invalid(format!(
                "{}: subject-type must be given exactly when the subject has a $subject-type field",
                e.type_name
            )));
        }
        events.push(EventDef {
            type_name: e.type_name.clone(),
            schema_id: e.schema_id.clone(),
            subject_type: e.subject_type.clone(),
            context: apply_overrides(context.clone(), fields(&e.context_overrides)?),
            subject: apply_overrides(subject.clone(), fields(&e.subject_overrides)?),
            content: fields(&e.content)?,
        });
    }
    let custom = match &raw.custom {
        Some(c) => Some(CustomDef {
            schema_id: c.schema_id.clone(),
            context: fields(&c.context)?,
            subject: fields(&c.subject)?,
        }),
        None => None,
    };
    let mut links = Vec::new();
    for l in &raw.link {
        let body = match (&l.fields, &l.array_of, &l.value) {
            (Some(f), None, None) => LinkBody::Object(fields(f)?),
            (None, Some(a), None) => LinkBody::ArrayOf(a.clone()),
            (None, None, Some(v)) => {
                LinkBody::Value(parse_type(v).map_err(|message| CatalogueError::Field {
                    file: file.to_owned(),
                    field: v.clone(),
                    message,
                })?)
            }
            _ => {
                return Err(invalid(format!(
                    "link {} needs exactly one of fields, array-of, value",
                    l.schema_id
                )))
            }
        };
        links.push(LinkDef {
            schema_id: l.schema_id.clone(),
            body,
        });
    }
    Ok(VersionCatalogue {
        spec,
        document,
        events,
        custom,
        links,
    })
}

/// Replaces fields of the same name, appends new ones.
fn apply_overrides(mut base: Vec<Field>, overrides: Vec<Field>) -> Vec<Field> {
    for o in overrides {
        match base.iter_mut().find(|f| f.name == o.name) {
            Some(f) => *f = o,
            None => base.push(o),
        }
    }
    base
}

/// Checks the shape `dev.cdevents.<subject>.<predicate>.<major>.<minor>.<patch>`.
fn check_type_name(t: &str) -> Result<(), String> {
    let parts: Vec<&str> = t.split('.').collect();
    let ok = parts.len() == 7
        && parts[0] == "dev"
        && parts[1] == "cdevents"
        && parts[2..4]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
        && parts[4..]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err("not of the form dev.cdevents.<subject>.<predicate>.<major>.<minor>.<patch>".into())
    }
}

/// Parses `name[!]: type`.
pub fn parse_field(s: &str) -> Result<Field, String> {
    let (name, ty) = s
        .split_once(':')
        .ok_or_else(|| "expected `name: type`".to_owned())?;
    let name = name.trim();
    let (name, required) = match name.strip_suffix('!') {
        Some(n) => (n, true),
        None => (name, false),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("bad field name `{name}`"));
    }
    Ok(Field {
        name: name.to_owned(),
        required,
        ty: parse_type(ty.trim())?,
    })
}

/// Parses a type expression.
pub fn parse_type(s: &str) -> Result<FieldType, String> {
    let mut p = Parser { s, pos: 0 };
    let t = p.ty()?;
    p.ws();
    if p.pos != s.len() {
        return Err(format!("unexpected `{}`", &s[p.pos..]));
    }
    Ok(t)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.s.len() - trimmed.len();
    }

    fn eat(&mut self, tok: &str) -> bool {
        self.ws();
        if self.rest().starts_with(tok) {
            self.pos += tok.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &str) -> Result<(), String> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(format!("expected `{tok}` at `{}`", self.rest()))
        }
    }

    fn word(&mut self) -> String {
        self.ws();
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '$'))
            .unwrap_or(self.rest().len());
        let w = self.rest()[..len].to_owned();
        self.pos += len;
        w
    }

    /// Values of `enum(a|b)` up to the closing parenthesis.
    fn values(&mut self) -> Result<Vec<String>, String> {
        self.expect("(")?;
        let end = self
            .rest()
            .find(')')
            .ok_or_else(|| "unclosed `(`".to_owned())?;
        let values: Vec<String> = self.rest()[..end]
            .split('|')
            .map(|v| v.trim().to_owned())
            .collect();
        self.pos += end + 1;
        if values.iter().any(|v| v.is_empty()) {
            return Err("empty enum value".into());
        }
        Ok(values)
    }

    fn ty(&mut self) -> Result<FieldType, String> {
        self.ws();
        if self.eat("[") {
            let inner = self.ty()?;
            self.expect("]")?;
            return Ok(FieldType::Array(Box::new(inner)));
        }
        if self.eat("{") {
            return self.object(true);
        }
        if self.eat("open{") {
            return self.object(false);
        }
        if self.eat("@") {
            let name = self.word();
            return Ok(FieldType::Named(name));
        }
        let word = self.word();
        let non_empty = self.eat("+");
        match word.as_str() {
            "string" => {
                let format = if self.eat("(") {
                    let f = self.word();
                    self.expect(")")?;
                    Some(Format::parse(&f).ok_or_else(|| format!("unknown format `{f}`"))?)
                } else {
                    None
                };
                let pattern = if self.eat("pattern(") {
                    let (pattern, used) = json_string_prefix(self.rest())?;
                    self.pos += used;
                    self.expect(")")?;
                    Some(pattern)
                } else {
                    None
                };
                Ok(FieldType::String {
                    non_empty,
                    format,
                    pattern,
                })
            }
            "enum" => Ok(FieldType::Enum {
                values: self.values()?,
                non_empty,
            }),
            "open-enum" => Ok(FieldType::OpenEnum {
                values: self.values()?,
                non_empty,
            }),
            "object" if !non_empty => Ok(FieldType::AnyObject),
            "$type" => Ok(FieldType::Slot(Slot::Type)),
            "$subject-type" => Ok(FieldType::Slot(Slot::SubjectType)),
            "$content" => Ok(FieldType::Slot(Slot::Content)),
            "$context" => Ok(FieldType::Slot(Slot::Context)),
            "$subject" => Ok(FieldType::Slot(Slot::Subject)),
            "$links" => Ok(FieldType::Slot(Slot::Links)),
            "$custom-data" => Ok(FieldType::Slot(Slot::CustomData)),
            other => Err(format!("unknown type `{other}`")),
        }
    }

    fn object(&mut self, closed: bool) -> Result<FieldType, String> {
        let mut fields = Vec::new();
        let mut any_required = Vec::new();
        if self.eat("}") {
            return Ok(FieldType::Object {
                fields,
                closed,
                any_required,
            });
        }
        loop {
            self.ws();
            if self.eat("@any-required(") {
                let end = self
                    .rest()
                    .find(')')
                    .ok_or_else(|| "unclosed @any-required(".to_owned())?;
                any_required = self.rest()[..end]
                    .split(',')
                    .map(|v| v.trim().to_owned())
                    .collect();
                self.pos += end + 1;
            } else {
                let name = self.word();
                let required = self.eat("!");
                self.expect(":")?;
                let ty = self.ty()?;
                fields.push(Field { name, required, ty });
            }
            if self.eat("}") {
                break;
            }
            self.expect(",")?;
        }
        for r in &any_required {
            if !fields.iter().any(|f| &f.name == r) {
                return Err(format!("@any-required names unknown field `{r}`"));
            }
        }
        Ok(FieldType::Object {
            fields,
            closed,
            any_required,
        })
    }
}

/// Reads a JSON string literal at the start of `s`; returns it and the bytes used.
fn json_string_prefix(s: &str) -> Result<(String, usize), String> {
    let mut de = serde_json::Deserializer::from_str(s).into_iter::<String>();
    match de.next() {
        Some(Ok(v)) => Ok((v, de.byte_offset())),
        _ => Err("pattern(...) takes a JSON string".into()),
    }
}

/// The catalogue files built into the binary, by version.
pub const EMBEDDED_FILES: [(SpecVersion, &str, &str); 4] = [
    (
        SpecVersion::V0_3_0,
        "schemas/catalogue/0.3.0.toml",
        include_str!("../catalogue/0.3.0.toml"),
    ),
    (
        SpecVersion::V0_4_1,
        "schemas/catalogue/0.4.1.toml",
        include_str!("../catalogue/0.4.1.toml"),
    ),
    (
        SpecVersion::V0_5_1,
        "schemas/catalogue/0.5.1.toml",
        include_str!("../catalogue/0.5.1.toml"),
    ),
    (
        SpecVersion::V0_6_0Draft,
        "schemas/catalogue/0.6.0-draft.toml",
        include_str!("../catalogue/0.6.0-draft.toml"),
    ),
];

/// The whole embedded catalogue, parsed once.
pub fn embedded() -> &'static BTreeMap<SpecVersion, VersionCatalogue> {
    static CATALOGUE: std::sync::OnceLock<BTreeMap<SpecVersion, VersionCatalogue>> =
        std::sync::OnceLock::new();
    CATALOGUE.get_or_init(|| {
        EMBEDDED_FILES
            .iter()
            .map(|(v, file, text)| {
                // The embedded files are checked by the crate's tests; a failure here is a
                // build defect, not bad user input.
                let cat = parse_version(file, text)
                    .unwrap_or_else(|e| panic!("embedded catalogue is invalid: {e}"));
                assert_eq!(cat.spec, *v, "{file} declares another version");
                (*v, cat)
            })
            .collect()
    })
}

/// The embedded catalogue of one version.
pub fn for_version(v: SpecVersion) -> &'static VersionCatalogue {
    &embedded()[&v]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grammar() {
        let f =
            parse_field("environment!: {id!: string+, source: string+(uri-reference)}").unwrap();
        assert!(f.required);
        let FieldType::Object { fields, closed, .. } = f.ty else {
            panic!("object expected")
        };
        assert!(closed);
        assert_eq!(fields.len(), 2);
        assert_eq!(
            fields[1].ty,
            FieldType::String {
                non_empty: true,
                format: Some(Format::UriReference),
                pattern: None
            }
        );
        let f = parse_field(r#"type!: string pattern("^a\\.b$")"#).unwrap();
        assert!(matches!(f.ty, FieldType::String { pattern: Some(ref p), .. } if p == r"^a\.b$"));
        let f = parse_field("from: open{contextId: string+, domainId: @domainid, @any-required(contextId, domainId)}").unwrap();
        assert!(
            matches!(f.ty, FieldType::Object { closed: false, ref any_required, .. } if any_required.len() == 2)
        );
        assert_eq!(
            parse_field("ticketType: open-enum+(bug|task)").unwrap().ty,
            FieldType::OpenEnum {
                values: vec!["bug".into(), "task".into()],
                non_empty: true
            }
        );
    }

    #[test]
    fn rejects_bad_fields() {
        for bad in [
            "x",
            "x: strin",
            "x: string(email)",
            "x: enum()",
            "x: {a: string",
            "x: string trailing",
            "x: open{a: string, @any-required(b)}",
            ": string",
        ] {
            assert!(parse_field(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn embedded_catalogue_is_complete() {
        let cat = embedded();
        assert_eq!(cat.len(), 4);
        let counts: Vec<usize> = SpecVersion::ALL
            .iter()
            .map(|v| cat[v].events.len())
            .collect();
        assert_eq!(counts, [39, 45, 45, 48]);
        for v in SpecVersion::ALL {
            let c = &cat[&v];
            assert_eq!(c.custom.is_some(), v.has_links(), "{v}");
            assert_eq!(!c.links.is_empty(), v.has_links(), "{v}");
            let ev = c
                .event_by_name("pipelinerun", "finished")
                .expect("pipelinerun.finished");
            assert_eq!(ev.short_name(), "pipelinerun.finished");
        }
    }
}
