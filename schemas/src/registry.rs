//! Compiled validators for every event type of every loaded spec version.
//!
//! Two sources: the embedded registry, generated from the catalogue at start-up (no files, no
//! network), and an official spec checkout given with `--schemas DIR` (the layout of
//! `cdevents-spec/<version>/`), whose schemas are registered by their `$id` so that every
//! `$ref` — including the 0.4.x relative `links/embeddedlinksarray` — resolves locally.
//!
//! Either way formats are asserted (`date-time`, `uri`, `uri-reference` are annotations by
//! default in 2020-12), an unknown format is a compile error rather than silently ignored, and a
//! reference that is not in the registry fails instead of being fetched.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use jsonschema::{Draft, Resource, Retrieve, Uri, Validator};
use serde_json::Value;

use crate::catalogue;
use crate::generate;
use crate::version::SpecVersion;

/// The most schema errors reported for one event; the rest are counted.
pub const MAX_ERRORS_PER_EVENT: usize = 32;

/// Largest official schema file read (they are a few KiB).
const MAX_SCHEMA_FILE: u64 = 1024 * 1024;

/// Where a registry's schemas came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Generated from the embedded catalogue.
    Embedded,
    /// Loaded from an official spec checkout.
    Official(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Embedded => f.write_str("embedded registry"),
            Origin::Official(p) => write!(f, "official schemas in {}", p.display()),
        }
    }
}

/// A registry that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A schema file is not JSON or not a schema we understand.
    #[error("{path}: {message}")]
    BadSchema {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No spec version was found under the folder.
    #[error("{0}: no CDEvents spec version found (expected <dir>/schemas/*.json, or <dir>/v0.5.1/schemas/..., <dir>/main/schemas/...)")]
    Empty(PathBuf),
    /// The registry of `$id`s could not be prepared.
    #[error("{origin}, CDEvents {version}: {message}")]
    Prepare {
        /// Where the schemas came from.
        origin: String,
        /// The version.
        version: SpecVersion,
        /// What failed.
        message: String,
    },
}

/// Why an event could not be checked against a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaLookup {
    /// The registry has no schemas for that version.
    #[error("no schemas loaded for CDEvents {0}")]
    VersionNotLoaded(SpecVersion),
    /// The type is not defined by that version.
    #[error("event type `{type_name}` is not defined by CDEvents {version}")]
    UnknownType {
        /// The version.
        version: SpecVersion,
        /// The type string.
        type_name: String,
    },
    /// The schema itself did not compile (a defect of the schema, reported with its `$id`).
    #[error("schema {id} does not compile: {message}")]
    Compile {
        /// The schema `$id`.
        id: String,
        /// The compiler's message.
        message: String,
    },
}

/// One way an event breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// JSON pointer into the event. For a missing required member it points at the member
    /// that should be there (`/context/id`), not at its parent.
    pub pointer: String,
    /// The keyword that failed (`required`, `format`, `additionalProperties`, `enum`, ...).
    pub keyword: String,
    /// JSON pointer into the schema (the keyword that failed).
    pub schema_path: String,
    /// What failed, in the validator's words.
    pub message: String,
}

/// The outcome of validating one event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaVerdict {
    /// The `$id` of the schema used (shared with the registry: no copy per event).
    pub schema_id: Arc<str>,
    /// The errors, at most [`MAX_ERRORS_PER_EVENT`].
    pub errors: Vec<SchemaError>,
    /// How many errors were left out.
    pub truncated: usize,
}

impl SchemaVerdict {
    /// Whether the event is valid.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

struct Entry {
    id: Arc<str>,
    schema: Value,
    compiled: OnceLock<Result<Validator, String>>,
}

struct VersionSchemas {
    by_type: HashMap<String, Arc<Entry>>,
    custom: Option<Arc<Entry>>,
    registry: jsonschema::Registry<'static>,
}

/// The schema of one event type in one version ([`Registry::schema_of`]).
#[derive(Clone, Copy)]
pub struct TypeSchema<'r> {
    entry: &'r Entry,
    registry: &'r jsonschema::Registry<'static>,
}

impl fmt::Debug for TypeSchema<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypeSchema")
            .field("id", &self.entry.id)
            .finish()
    }
}

impl TypeSchema<'_> {
    /// The `$id` of the schema.
    pub fn id(&self) -> &str {
        &self.entry.id
    }

    /// Validates `event` against this schema. The validator is compiled on first use and kept.
    pub fn validate(&self, event: &Value) -> Result<SchemaVerdict, SchemaLookup> {
        let entry = self.entry;
        let compiled = entry.compiled.get_or_init(|| {
            options()
                .with_registry(self.registry)
                .build(&entry.schema)
                .map_err(|e| e.to_string())
        });
        let validator = compiled.as_ref().map_err(|message| SchemaLookup::Compile {
            id: entry.id.to_string(),
            message: message.clone(),
        })?;
        let mut verdict = SchemaVerdict {
            schema_id: entry.id.clone(),
            ..SchemaVerdict::default()
        };
        // Most events are valid: `is_valid` stops at the first failure and builds no error
        // values; the errors are collected only for an event that fails (BENCHMARKS.md: -1.8%
        // of the in-process pipeline's instructions).
        if validator.is_valid(event) {
            return Ok(verdict);
        }
        for err in validator.iter_errors(event) {
            if verdict.errors.len() == MAX_ERRORS_PER_EVENT {
                verdict.truncated += 1;
                continue;
            }
            let mut pointer = err.instance_path().to_string();
            if let jsonschema::error::ValidationErrorKind::Required { property } = err.kind() {
                if let Some(name) = property.as_str() {
                    pointer = format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"));
                }
            }
            verdict.errors.push(SchemaError {
                pointer,
                keyword: err.kind().keyword().to_owned(),
                schema_path: err.schema_path().to_string(),
                message: truncate(&err.to_string(), 300),
            });
        }
        Ok(verdict)
    }
}

/// Compiled validators for every event type of every loaded spec version.
pub struct Registry {
    origin: Origin,
    versions: BTreeMap<SpecVersion, VersionSchemas>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("origin", &self.origin)
            .field("versions", &self.versions.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Refuses every retrieval: the registry never fetches a schema, whatever a `$ref` or a
/// `schemaUri` says.
struct NoNetwork;

impl Retrieve for NoNetwork {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!(
            "refusing to fetch `{uri}`: schemas are only resolved from the loaded registry"
        )
        .into())
    }
}

impl Registry {
    /// The registry generated from the embedded catalogue: every supported version.
    pub fn embedded() -> Result<Registry, RegistryError> {
        let mut versions = BTreeMap::new();
        for (v, cat) in catalogue::embedded() {
            let docs = generate::version_schemas(cat);
            let mut by_type = HashMap::new();
            let mut custom = None;
            let mut resources = Vec::new();
            for g in docs {
                let entry = Arc::new(Entry {
                    id: Arc::from(g.id.as_str()),
                    schema: g.schema.clone(),
                    compiled: OnceLock::new(),
                });
                if let Some(ev) = cat
                    .events
                    .iter()
                    .find(|e| format!("{}.json", e.schema_id) == g.path)
                {
                    by_type.insert(ev.type_name.clone(), entry);
                } else if cat
                    .custom
                    .as_ref()
                    .is_some_and(|c| format!("{}.json", c.schema_id) == g.path)
                {
                    custom = Some(entry);
                }
                resources.push((g.id, g.schema));
            }
            let registry = prepare(&Origin::Embedded, *v, resources)?;
            versions.insert(
                *v,
                VersionSchemas {
                    by_type,
                    custom,
                    registry,
                },
            );
        }
        Ok(Registry {
            origin: Origin::Embedded,
            versions,
        })
    }

    /// Loads an official spec checkout: either one version's folder (holding `schemas/`) or a
    /// folder of versions (`v0.3.0/`, `v0.4.1/`, `v0.5.1/`, `main/`).
    pub fn from_spec_dir(dir: &Path) -> Result<Registry, RegistryError> {
        let origin = Origin::Official(dir.to_path_buf());
        let mut versions = BTreeMap::new();
        let mut roots = Vec::new();
        if dir.join("schemas").is_dir() {
            roots.push(dir.to_path_buf());
        } else {
            let rd = std::fs::read_dir(dir).map_err(|source| RegistryError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            for entry in rd.flatten() {
                let p = entry.path();
                if p.join("schemas").is_dir() {
                    roots.push(p);
                }
            }
            roots.sort();
        }
        for root in roots {
            let (version, schemas) = load_official_version(&root)?;
            let registry = prepare(
                &origin,
                version,
                schemas
                    .iter()
                    .map(|(_, id, s)| (id.clone(), s.clone()))
                    .collect(),
            )?;
            let mut by_type = HashMap::new();
            let mut custom = None;
            for (kind, id, schema) in schemas {
                let entry = || {
                    Arc::new(Entry {
                        id: Arc::from(id.as_str()),
                        schema: schema.clone(),
                        compiled: OnceLock::new(),
                    })
                };
                match kind {
                    OfficialKind::Event(t) => {
                        by_type.insert(t, entry());
                    }
                    OfficialKind::Custom => custom = Some(entry()),
                    OfficialKind::Other => {}
                }
            }
            versions.insert(
                version,
                VersionSchemas {
                    by_type,
                    custom,
                    registry,
                },
            );
        }
        if versions.is_empty() {
            return Err(RegistryError::Empty(dir.to_path_buf()));
        }
        Ok(Registry { origin, versions })
    }

    /// Where the schemas came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The versions this registry has schemas for.
    pub fn versions(&self) -> impl Iterator<Item = SpecVersion> + '_ {
        self.versions.keys().copied()
    }

    /// The event types of a version, sorted.
    pub fn event_types(&self, version: SpecVersion) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .versions
            .get(&version)
            .map(|s| s.by_type.keys().map(String::as_str).collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    /// Whether the version defines this type (custom `dev.cdeventsx` types count when the
    /// version has the custom schema).
    pub fn knows_type(&self, version: SpecVersion, type_name: &str) -> bool {
        self.entry(version, type_name).is_ok()
    }

    /// The schema document used for a type.
    pub fn schema(&self, version: SpecVersion, type_name: &str) -> Result<&Value, SchemaLookup> {
        self.entry(version, type_name).map(|e| &e.schema)
    }

    fn entry(&self, version: SpecVersion, type_name: &str) -> Result<&Arc<Entry>, SchemaLookup> {
        let vs = self
            .versions
            .get(&version)
            .ok_or(SchemaLookup::VersionNotLoaded(version))?;
        let found = if type_name.starts_with("dev.cdeventsx.") {
            vs.custom.as_ref()
        } else {
            vs.by_type.get(type_name)
        };
        found.ok_or_else(|| SchemaLookup::UnknownType {
            version,
            type_name: type_name.to_owned(),
        })
    }

    /// The schema of `type_name` in `version`, looked up once: [`TypeSchema::validate`] then
    /// validates against it without looking the type up again.
    pub fn schema_of(
        &self,
        version: SpecVersion,
        type_name: &str,
    ) -> Result<TypeSchema<'_>, SchemaLookup> {
        let entry = self.entry(version, type_name)?;
        let vs = &self.versions[&version];
        Ok(TypeSchema {
            entry,
            registry: &vs.registry,
        })
    }

    /// Validates `event` against the schema of `type_name` in `version`.
    ///
    /// The validator is compiled on first use and kept.
    pub fn validate(
        &self,
        version: SpecVersion,
        type_name: &str,
        event: &Value,
    ) -> Result<SchemaVerdict, SchemaLookup> {
        self.schema_of(version, type_name)?.validate(event)
    }
    /// Compiles every schema now (used by tests and by `--schemas` to fail early).
    pub fn compile_all(&self) -> Vec<SchemaLookup> {
        let mut problems = Vec::new();
        for (v, vs) in &self.versions {
            let mut types: Vec<&String> = vs.by_type.keys().collect();
            types.sort();
            for t in types {
                if let Err(e) = self.validate(*v, t, &Value::Null) {
                    problems.push(e);
                }
            }
            if vs.custom.is_some() {
                if let Err(e) = self.validate(*v, "dev.cdeventsx.x-y.z.0.1.0", &Value::Null) {
                    problems.push(e);
                }
            }
        }
        problems
    }
}

/// Compiles a schema that came from outside (a custom event's `schemaUri`, fetched only on
/// request) with the registry's options: formats asserted, and no further fetching.
pub fn compile_untrusted(schema: &Value) -> Result<Validator, String> {
    options()
        .build(schema)
        .map_err(|e| truncate(&e.to_string(), 300))
}

/// The validator options used for every schema, embedded or official.
fn options() -> jsonschema::ValidationOptions<'static> {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .with_retriever(NoNetwork)
}

fn prepare(
    origin: &Origin,
    version: SpecVersion,
    resources: Vec<(String, Value)>,
) -> Result<jsonschema::Registry<'static>, RegistryError> {
    let err = |message: String| RegistryError::Prepare {
        origin: origin.to_string(),
        version,
        message,
    };
    let mut builder = jsonschema::Registry::new()
        .retriever(NoNetwork)
        .draft(Draft::Draft202012);
    for (id, schema) in resources {
        let resource = Resource::from_contents(schema);
        builder = builder
            .add(&id, resource)
            .map_err(|e| err(format!("{id}: {e}")))?;
    }
    builder.prepare().map_err(|e| err(e.to_string()))
}

enum OfficialKind {
    Event(String),
    Custom,
    Other,
}

/// The schemas of one official version folder: kind, `$id`, document.
type OfficialSchemas = Vec<(OfficialKind, String, Value)>;

/// Reads one version folder of an official checkout: every schema with a `$schema` and an
/// absolute `$id`, classified as an event schema (by its `context.type` enum), the custom
/// schema, or a helper (links, registries).
fn load_official_version(root: &Path) -> Result<(SpecVersion, OfficialSchemas), RegistryError> {
    let mut files = Vec::new();
    collect_json(&root.join("schemas"), &mut files)?;
    let custom = root.join("custom").join("schema.json");
    if custom.is_file() {
        files.push(custom.clone());
    }
    files.sort();
    let mut out = Vec::new();
    let mut version: Option<SpecVersion> = root
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok());
    for path in files {
        let bad = |message: String| RegistryError::BadSchema {
            path: path.clone(),
            message,
        };
        let meta = std::fs::metadata(&path).map_err(|source| RegistryError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.len() > MAX_SCHEMA_FILE {
            return Err(bad(format!(
                "{} bytes is larger than a schema can be",
                meta.len()
            )));
        }
        let text = std::fs::read(&path).map_err(|source| RegistryError::Io {
            path: path.clone(),
            source,
        })?;
        let schema: Value =
            serde_json::from_slice(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        if schema.get("$schema").is_none() {
            continue; // term definitions (`_defs/`) and other non-schema documents
        }
        let Some(id) = schema.get("$id").and_then(Value::as_str).map(str::to_owned) else {
            return Err(bad("schema without `$id`".into()));
        };
        if version.is_none() {
            // `https://cdevents.dev/<version>/schema/...`
            version = id.split('/').nth(3).and_then(|s| s.parse().ok());
        }
        let type_enum = schema
            .pointer("/properties/context/properties/type/enum/0")
            .and_then(Value::as_str);
        let kind = if path == custom {
            OfficialKind::Custom
        } else if let Some(t) = type_enum {
            OfficialKind::Event(t.to_owned())
        } else {
            OfficialKind::Other
        };
        out.push((kind, id, schema));
    }
    let version = version.ok_or_else(|| RegistryError::BadSchema {
        path: root.to_path_buf(),
        message: "cannot tell which CDEvents version this folder holds".into(),
    })?;
    Ok((version, out))
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RegistryError> {
    let rd = std::fs::read_dir(dir).map_err(|source| RegistryError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in rd.flatten() {
        let p = entry.path();
        let ft = entry.file_type().map_err(|source| RegistryError::Io {
            path: p.clone(),
            source,
        })?;
        if ft.is_dir() {
            collect_json(&p, out)?;
        } else if ft.is_file() && p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event_051() -> Value {
        json!({
            "context": {
                "specversion": "0.5.1",
                "id": "a",
                "source": "/ci",
                "type": "dev.cdevents.pipelinerun.queued.0.3.0",
                "timestamp": "2024-01-01T00:00:00Z"
            },
            "subject": { "id": "run-1", "content": {} }
        })
    }

    #[test]
    fn embedded_compiles_everything() {
        let r = Registry::embedded().unwrap();
        assert_eq!(r.compile_all(), vec![]);
        assert_eq!(r.versions().count(), 4);
    }

    #[test]
    fn valid_and_invalid() {
        let r = Registry::embedded().unwrap();
        let t = "dev.cdevents.pipelinerun.queued.0.3.0";
        let mut ev = event_051();
        assert!(r.validate(SpecVersion::V0_5_1, t, &ev).unwrap().is_valid());
        ev["context"]["timestamp"] = json!("yesterday");
        let v = r.validate(SpecVersion::V0_5_1, t, &ev).unwrap();
        assert_eq!(v.errors.len(), 1, "{v:?}");
        assert_eq!(v.errors[0].pointer, "/context/timestamp");
    }

    #[test]
    fn formats_are_asserted() {
        let r = Registry::embedded().unwrap();
        let t = "dev.cdevents.pipelinerun.queued.0.3.0";
        let mut ev = event_051();
        ev["context"]["schemaUri"] = json!("not a uri");
        assert!(!r.validate(SpecVersion::V0_5_1, t, &ev).unwrap().is_valid());
        let mut ev = event_051();
        ev["context"]["source"] = json!("has space and \\ backslash");
        assert!(!r.validate(SpecVersion::V0_5_1, t, &ev).unwrap().is_valid());
    }

    #[test]
    fn unknown_types_and_versions() {
        let r = Registry::embedded().unwrap();
        assert!(matches!(
            r.validate(
                SpecVersion::V0_3_0,
                "dev.cdevents.ticket.created.0.1.0",
                &Value::Null
            ),
            Err(SchemaLookup::UnknownType { .. })
        ));
        // 0.3.0 has no custom events.
        assert!(!r.knows_type(SpecVersion::V0_3_0, "dev.cdeventsx.tool-thing.done.0.1.0"));
        assert!(r.knows_type(SpecVersion::V0_4_1, "dev.cdeventsx.tool-thing.done.0.1.0"));
    }

    #[test]
    fn never_fetches() {
        let schema = json!({"$ref": "http://127.0.0.1:9/schema.json"});
        let err = options().build(&schema).unwrap_err().to_string();
        assert!(err.contains("refusing to fetch"), "{err}");
    }

    #[test]
    fn unknown_formats_are_errors() {
        let schema = json!({"type": "string", "format": "no-such-format"});
        assert!(options().build(&schema).is_err());
    }
}
