//! Resolves catalogue field types into concrete shapes: placeholders filled for one event type,
//! link schemas looked up by name. Shared by the valid-event strategies and the mutators so
//! that both read the catalogue exactly the way the schema generator does.

use cdevents_schemas::catalogue::{
    CustomDef, EventDef, Field, FieldType, Format, LinkBody, Slot, VersionCatalogue,
};
use cdevents_schemas::SpecVersion;

/// The schema an event is generated or mutated against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// A `dev.cdevents` event type.
    Event(&'a EventDef),
    /// The `dev.cdeventsx` custom event schema.
    Custom(&'a CustomDef),
}

/// Which part of the event an object is; a few conventions depend on it (`context.id` is a
/// uuid, the version attribute carries the version, `context.type` names the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Document,
    Context,
    Subject,
    Content,
    Other,
}

/// One resolved level of a field type.
#[derive(Debug, Clone)]
pub(crate) enum Shape<'a> {
    Str {
        non_empty: bool,
        format: Option<Format>,
        pattern: Option<&'a str>,
    },
    Enum(&'a [String]),
    OpenEnum {
        values: &'a [String],
        non_empty: bool,
    },
    /// Exactly this string (`$type`, `$subject-type`).
    Const(&'a str),
    Array(&'a FieldType),
    /// An array whose items are any of these closed objects (the embedded links).
    AnyOfArray(Vec<&'a [Field]>),
    Object {
        fields: &'a [Field],
        closed: bool,
        any_required: &'a [String],
        role: Role,
    },
    AnyObject,
    /// `customData`: an object or a base64 string.
    CustomData,
    /// A placeholder nothing fills (a catalogue defect; the schema accepts nothing).
    Unfilled,
}

/// Resolves field types of one version for one target.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolver<'a> {
    pub spec: SpecVersion,
    pub cat: &'a VersionCatalogue,
    pub target: Target<'a>,
}

impl<'a> Resolver<'a> {
    pub fn new(spec: SpecVersion, cat: &'a VersionCatalogue, target: Target<'a>) -> Self {
        Resolver { spec, cat, target }
    }

    /// The whole event document.
    pub fn document(&self) -> Shape<'a> {
        Shape::Object {
            fields: &self.cat.document,
            closed: true,
            any_required: &[],
            role: Role::Document,
        }
    }

    pub fn resolve(&self, ty: &'a FieldType) -> Shape<'a> {
        match ty {
            FieldType::String {
                non_empty,
                format,
                pattern,
            } => Shape::Str {
                non_empty: *non_empty,
                format: *format,
                pattern: pattern.as_deref(),
            },
            FieldType::Enum { values, .. } => Shape::Enum(values),
            FieldType::OpenEnum { values, non_empty } => Shape::OpenEnum {
                values,
                non_empty: *non_empty,
            },
            FieldType::Array(inner) => Shape::Array(inner),
            FieldType::Object {
                fields,
                closed,
                any_required,
            } => Shape::Object {
                fields,
                closed: *closed,
                any_required,
                role: Role::Other,
            },
            FieldType::AnyObject => Shape::AnyObject,
            FieldType::Named(name) => self.named(name),
            FieldType::Slot(slot) => self.slot(*slot),
        }
    }

    /// A link schema by its last segment (`domainid`, `embeddedlinksarray`).
    pub fn named(&self, name: &str) -> Shape<'a> {
        let cat: &'a VersionCatalogue = self.cat;
        let Some(link) = cat.links.iter().find(|l| l.name() == name) else {
            return Shape::Unfilled;
        };
        match &link.body {
            LinkBody::Object(fields) => Shape::Object {
                fields,
                closed: true,
                any_required: &[],
                role: Role::Other,
            },
            LinkBody::ArrayOf(names) => Shape::AnyOfArray(
                names
                    .iter()
                    .filter_map(|n| {
                        cat.links
                            .iter()
                            .find(|l| l.name() == n)
                            .and_then(|l| match &l.body {
                                LinkBody::Object(fields) => Some(fields.as_slice()),
                                _ => None,
                            })
                    })
                    .collect(),
            ),
            LinkBody::Value(ty) => self.resolve(ty),
        }
    }

    fn slot(&self, slot: Slot) -> Shape<'a> {
        let object = |fields: &'a [Field], role| Shape::Object {
            fields,
            closed: true,
            any_required: &[],
            role,
        };
        match (slot, self.target) {
            (Slot::Type, Target::Event(ev)) => Shape::Const(&ev.type_name),
            (Slot::SubjectType, Target::Event(ev)) => match &ev.subject_type {
                Some(st) => Shape::Const(st),
                None => Shape::Unfilled,
            },
            (Slot::Content, Target::Event(ev)) => object(&ev.content, Role::Content),
            (Slot::Context, Target::Event(ev)) => object(&ev.context, Role::Context),
            (Slot::Subject, Target::Event(ev)) => object(&ev.subject, Role::Subject),
            (Slot::Context, Target::Custom(c)) => object(&c.context, Role::Context),
            (Slot::Subject, Target::Custom(c)) => object(&c.subject, Role::Subject),
            (Slot::Links, _) => self.named("embeddedlinksarray"),
            (Slot::CustomData, _) => Shape::CustomData,
            _ => Shape::Unfilled,
        }
    }
}

/// Whether an object value fits a closed object's fields closely enough to say which `anyOf`
/// branch it was generated from: no unknown keys, every required key present, every present
/// enum field inside its enum.
pub(crate) fn fits(fields: &[Field], value: &serde_json::Value) -> bool {
    let Some(obj) = value.as_object() else {
        return false;
    };
    obj.keys().all(|k| fields.iter().any(|f| &f.name == k))
        && fields.iter().all(|f| {
            let v = obj.get(&f.name);
            if f.required && v.is_none() {
                return false;
            }
            match (&f.ty, v.and_then(|v| v.as_str())) {
                (FieldType::Enum { values, .. }, Some(s)) => values.iter().any(|x| x == s),
                _ => true,
            }
        })
}

/// JSON-pointer escaping of one reference token (RFC 6901).
pub(crate) fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
