//! JSON Schemas (draft 2020-12) generated from the catalogue.
//!
//! The output is checked in under `schemas/generated/<version>/` so that reviewers can read
//! exactly what the binary embeds; a test fails when it is stale and rewrites it with
//! `UPDATE_SCHEMAS=1 cargo test -p cdevents-schemas --test generated`.
//!
//! The generated `$id`s live under [`ID_BASE`], a reserved `.invalid` host: they name the
//! schemas, they are never fetched.

use serde_json::{json, Map, Value};

use crate::catalogue::{
    CustomDef, EventDef, Field, FieldType, LinkBody, LinkDef, Slot, VersionCatalogue,
};
use crate::version::SpecVersion;

/// Where the generated `$id`s live. `.invalid` never resolves (RFC 2606).
pub const ID_BASE: &str = "https://cdevents-conformance.invalid/schemas/";

/// The draft every generated schema declares.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The `$id` of a schema of a version, from its path below the version (`links/embeddedlinkend`).
pub fn schema_id(spec: SpecVersion, path: &str) -> String {
    format!("{ID_BASE}{spec}/{path}")
}

/// One generated schema document.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Path below `schemas/generated/<version>/`, e.g. `pipelinerun-finished-event.json`.
    pub path: String,
    /// Its `$id`.
    pub id: String,
    /// The schema.
    pub schema: Value,
}

/// Every schema of one version: the event types, the custom event and the links.
pub fn version_schemas(cat: &VersionCatalogue) -> Vec<Generated> {
    let mut out = Vec::new();
    for ev in &cat.events {
        out.push(document(cat, &ev.schema_id, &ev.type_name, Some(ev), None));
    }
    if let Some(custom) = &cat.custom {
        out.push(document(
            cat,
            &custom.schema_id,
            "dev.cdeventsx custom event",
            None,
            Some(custom),
        ));
    }
    for link in &cat.links {
        out.push(link_schema(cat.spec, link));
    }
    out
}

fn document(
    cat: &VersionCatalogue,
    schema_path: &str,
    title: &str,
    event: Option<&EventDef>,
    custom: Option<&CustomDef>,
) -> Generated {
    let ctx = Ctx {
        spec: cat.spec,
        event,
        custom,
    };
    let id = schema_id(cat.spec, schema_path);
    let mut schema = Map::new();
    schema.insert("$schema".into(), DIALECT.into());
    schema.insert("$id".into(), id.clone().into());
    schema.insert("title".into(), title.into());
    if let Value::Object(body) = ctx.object(&cat.document, true, &[]) {
        schema.extend(body);
    }
    Generated {
        path: format!("{schema_path}.json"),
        id,
        schema: Value::Object(schema),
    }
}

fn link_schema(spec: SpecVersion, link: &LinkDef) -> Generated {
    let ctx = Ctx {
        spec,
        event: None,
        custom: None,
    };
    let id = schema_id(spec, &link.schema_id);
    let body = match &link.body {
        LinkBody::Object(fields) => ctx.object(fields, true, &[]),
        LinkBody::ArrayOf(names) => json!({
            "type": "array",
            "items": {
                "anyOf": names
                    .iter()
                    .map(|n| json!({ "$ref": schema_id(spec, &format!("links/{n}")) }))
                    .collect::<Vec<_>>()
            }
        }),
        LinkBody::Value(ty) => ctx.ty(ty),
    };
    let mut schema = Map::new();
    schema.insert("$schema".into(), DIALECT.into());
    schema.insert("$id".into(), id.clone().into());
    schema.insert(
        "title".into(),
        format!("CDEvents {spec} {}", link.name()).into(),
    );
    if let Value::Object(body) = body {
        schema.extend(body);
    }
    Generated {
        path: format!("{}.json", link.schema_id),
        id,
        schema: Value::Object(schema),
    }
}

/// What the placeholders are filled with.
struct Ctx<'a> {
    spec: SpecVersion,
    event: Option<&'a EventDef>,
    custom: Option<&'a CustomDef>,
}

impl Ctx<'_> {
    fn object(&self, fields: &[Field], closed: bool, any_required: &[String]) -> Value {
        let mut o = Map::new();
        o.insert("type".into(), "object".into());
        let props: Map<String, Value> = fields
            .iter()
            .map(|f| (f.name.clone(), self.ty(&f.ty)))
            .collect();
        o.insert("properties".into(), Value::Object(props));
        let required: Vec<Value> = fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name.clone().into())
            .collect();
        if !required.is_empty() {
            o.insert("required".into(), Value::Array(required));
        }
        if !any_required.is_empty() {
            let alts: Vec<Value> = any_required
                .iter()
                .map(|r| json!({ "required": [r] }))
                .collect();
            o.insert("anyOf".into(), Value::Array(alts));
        }
        if closed {
            o.insert("additionalProperties".into(), false.into());
        }
        Value::Object(o)
    }

    fn ty(&self, ty: &FieldType) -> Value {
        match ty {
            FieldType::String {
                non_empty,
                format,
                pattern,
            } => {
                let mut o = string(*non_empty);
                if let Some(f) = format {
                    o.insert("format".into(), f.as_str().into());
                }
                if let Some(p) = pattern {
                    o.insert("pattern".into(), p.clone().into());
                }
                Value::Object(o)
            }
            FieldType::Enum { values, non_empty } => {
                let mut o = string(*non_empty);
                o.insert("enum".into(), values.clone().into());
                Value::Object(o)
            }
            FieldType::OpenEnum { values, non_empty } => json!({
                "anyOf": [
                    { "type": "string", "enum": values },
                    Value::Object(string(*non_empty)),
                ]
            }),
            FieldType::Array(inner) => json!({ "type": "array", "items": self.ty(inner) }),
            FieldType::Object {
                fields,
                closed,
                any_required,
            } => self.object(fields, *closed, any_required),
            FieldType::AnyObject => json!({ "type": "object", "additionalProperties": true }),
            FieldType::Named(name) => {
                json!({ "$ref": schema_id(self.spec, &format!("links/{name}")) })
            }
            FieldType::Slot(slot) => self.slot(*slot),
        }
    }

    fn slot(&self, slot: Slot) -> Value {
        match (slot, self.event, self.custom) {
            (Slot::Type, Some(ev), _) => json!({
                "type": "string",
                "enum": [ev.type_name],
                "default": ev.type_name,
            }),
            (Slot::SubjectType, Some(ev), _) => {
                let st = ev.subject_type.clone().unwrap_or_default();
                json!({ "type": "string", "minLength": 1, "enum": [st], "default": st })
            }
            (Slot::Content, Some(ev), _) => self.object(&ev.content, true, &[]),
            (Slot::Context, Some(ev), _) => self.object(&ev.context, true, &[]),
            (Slot::Subject, Some(ev), _) => self.object(&ev.subject, true, &[]),
            (Slot::Context, None, Some(c)) => self.object(&c.context, true, &[]),
            (Slot::Subject, None, Some(c)) => self.object(&c.subject, true, &[]),
            (Slot::Links, ..) => {
                json!({ "$ref": schema_id(self.spec, "links/embeddedlinksarray") })
            }
            (Slot::CustomData, ..) => json!({
                "oneOf": [
                    { "type": "object" },
                    { "type": "string", "contentEncoding": "base64" },
                ]
            }),
            // A placeholder used where nothing fills it is a catalogue error, caught by the
            // tests that compile every generated schema.
            (slot, ..) => json!({ "not": {}, "$comment": format!("unfilled {slot:?}") }),
        }
    }
}

fn string(non_empty: bool) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("type".into(), "string".into());
    if non_empty {
        o.insert("minLength".into(), 1.into());
    }
    o
}

/// Pretty JSON with a trailing newline, as checked in.
pub fn to_file_text(schema: &Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}
