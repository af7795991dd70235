//! The offline half of the coverage: the invalid fixtures (`fixtures/<version>/invalid/
//! <REQ-ID>--<slug>.<ext>`), each judged as `validate` judges it. A fixture whose judgement
//! carries a finding of the id its name gives proves that check can fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cdevents_reports::Finding;
use cdevents_schemas::{Registry, SpecVersion};
use serde_json::Value;

use crate::checks::stream::SeenIds;
use crate::checks::{self, EventChecker, SchemaUriResolver};
use crate::input::{decode_file, walk_paths, Item, Limits, Source};

/// What `validate` reports an undecodable item as.
pub const INPUT_REQUIREMENT: &str = "CDE-SCH-002";

/// A schema resolver that refuses every URI: fixture judging fetches nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

impl SchemaUriResolver for Offline {
    fn resolve(&self, _uri: &str) -> Result<Value, String> {
        Err("fixtures are judged offline: no schema is fetched".into())
    }
}

/// One judged item of a fixture file.
#[derive(Debug, Clone)]
pub struct Judged {
    /// Where the item is (file, NDJSON line, batch element).
    pub location: String,
    /// The version it was judged as.
    pub spec: Option<SpecVersion>,
    /// What the checks found.
    pub findings: Vec<Finding>,
}

/// How to judge a file.
#[derive(Clone, Copy, Default)]
pub struct Mode<'a> {
    /// The version forced on every event (`--spec`), if any.
    pub forced: Option<SpecVersion>,
    /// The resolver for `schemaUri` (CDE-CX-002), if any.
    pub resolver: Option<&'a dyn SchemaUriResolver>,
}

/// Judges one decoded item, with `seen` carrying CDE-CTX-012 across the file.
pub fn judge(registry: &Registry, item: Item, mode: Mode<'_>, seen: &mut SeenIds) -> Judged {
    let location = item.location.to_string();
    match item.result {
        Ok(env) => {
            let mut checker = EventChecker::new(registry).force_version(mode.forced);
            if let Some(r) = mode.resolver {
                checker = checker.with_schema_uri_resolver(r);
            }
            let mut checked = checker.check_envelope(&env);
            checked.findings.extend(seen.observe(&env.cdevent));
            Judged {
                location,
                spec: checked.spec,
                findings: checked.findings,
            }
        }
        Err(e) => Judged {
            location,
            spec: None,
            findings: vec![checks::finding(INPUT_REQUIREMENT, "", e.to_string())],
        },
    }
}

/// Judges every item of one file as `validate` does (one `SeenIds` per file).
pub fn judge_file(registry: &Registry, path: &Path, mode: Mode<'_>) -> Vec<Judged> {
    let mut seen = SeenIds::default();
    decode_file(path, &Limits::default())
        .map(|item| judge(registry, item, mode, &mut seen))
        .collect()
}

/// Every event file under `dir`, as `validate` walks it (sorted, recursive).
pub fn event_files(dir: &Path) -> Vec<PathBuf> {
    if !dir.is_dir() {
        return Vec::new();
    }
    walk_paths(&[dir.to_path_buf()], &Limits::default())
        .filter_map(|s| match s {
            Ok(Source::File(p)) => Some(p),
            _ => None,
        })
        .collect()
}

/// The requirement id an invalid fixture's file name gives (`CDE-CE-004--slug.json`).
pub fn named_id(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    let (id, _) = name.split_once("--")?;
    Some(id)
}

/// For every requirement id some invalid fixture under `root/<version>/invalid/` proves can
/// fail: the fixtures (relative to `root`) whose judgement carries that id. Fixtures whose
/// judgement does not carry their id prove nothing (and fail `suites/tests/fixtures.rs`).
pub fn proofs(root: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Ok(registry) = Registry::embedded() else {
        return out;
    };
    for v in SpecVersion::ALL {
        let dir = root.join(v.as_str()).join("invalid");
        for path in event_files(&dir) {
            let Some(id) = named_id(&path) else { continue };
            if path.extension().is_some_and(|e| e == "expect") {
                continue;
            }
            let mode = Mode {
                forced: None,
                resolver: Some(&Offline),
            };
            let judged = judge_file(&registry, &path, mode);
            if judged.iter().flat_map(|j| &j.findings).any(|f| f.id == id) {
                let shown = path.strip_prefix(root).unwrap_or(&path);
                out.entry(id.to_owned())
                    .or_default()
                    .push(shown.display().to_string());
            }
        }
    }
    out
}
