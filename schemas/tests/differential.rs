//! Differential tests of the embedded registry against the official CDEvents schemas
//! (`../shared/cdevents-spec`, or `CDEVENTS_SPEC_DIR`). Skipped, with a message, when the tree
//! is absent; CI sets `CDEVENTS_REQUIRE_SPEC=1` so that they cannot be skipped there.
//!
//! 1. every official example event validates under both registries;
//! 2. per event type the embedded and the official schema say the same thing: after `$ref`s
//!    are inlined and annotations dropped, they are equal (property names, required sets,
//!    types, enums, formats, patterns, `additionalProperties`, `anyOf`/`oneOf`).
//!
//! Part 3 (generated and mutated events get the same verdict) lives beside the generators in
//! `suites/tests/differential_generated.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use cdevents_schemas::generate::version_schemas;
use cdevents_schemas::official::{example_files, spec_tree_or_skip, version_dir};
use cdevents_schemas::{catalogue, Registry, SpecVersion};
use serde_json::{Map, Value};

const ANNOTATIONS: [&str; 9] = [
    "$id",
    "$schema",
    "title",
    "description",
    "default",
    "examples",
    "example",
    "$comment",
    "x-cdevents-semantics",
];

/// Inlines `$ref`s (by their last path segment, within one version), drops annotations and
/// sorts `required`, so that two schemas that mean the same compare equal.
fn normalize(schema: &Value, refs: &BTreeMap<String, Value>, depth: usize) -> Value {
    assert!(depth < 32, "reference cycle");
    match schema {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                if ANNOTATIONS.contains(&k.as_str()) || k == "$ref" {
                    continue;
                }
                let mut v = normalize(v, refs, depth + 1);
                if k == "required" {
                    if let Value::Array(a) = &mut v {
                        // `required: []` says nothing (the official testcaserun.skipped has it).
                        if a.is_empty() {
                            continue;
                        }
                        a.sort_by_key(|x| x.to_string());
                    }
                }
                out.insert(k.clone(), v);
            }
            if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                let name = r.rsplit('/').next().unwrap_or(r);
                let target = refs
                    .get(name)
                    .unwrap_or_else(|| panic!("unresolved $ref {r}"));
                if let Value::Object(t) = normalize(target, refs, depth + 1) {
                    for (k, v) in t {
                        if let Some(existing) = out.get(&k) {
                            assert_eq!(existing, &v, "$ref sibling {k} disagrees with target");
                        }
                        out.insert(k, v);
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| normalize(v, refs, depth + 1)).collect()),
        other => other.clone(),
    }
}

/// The first place where two values differ, as a JSON pointer with both sides.
fn first_diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let p = format!("{path}/{k}");
                match (x.get(k), y.get(k)) {
                    (Some(l), Some(r)) => first_diff(l, r, &p),
                    (l, r) => Some(format!("{p}: embedded {l:?} vs official {r:?}")),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (l, r))| first_diff(l, r, &format!("{path}/{i}"))),
        _ if a == b => None,
        _ => Some(format!("{path}: embedded {a} vs official {b}")),
    }
}

fn official_link_schemas(tree: &Path, v: SpecVersion) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(version_dir(tree, v).join("schemas").join("links")) {
        for e in rd.flatten() {
            let p = e.path();
            let text = std::fs::read_to_string(&p).unwrap();
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            out.insert(stem, serde_json::from_str(&text).unwrap());
        }
    }
    out
}

fn embedded_link_schemas(v: SpecVersion) -> BTreeMap<String, Value> {
    version_schemas(catalogue::for_version(v))
        .into_iter()
        .filter_map(|g| {
            let name = g
                .path
                .strip_prefix("links/")?
                .strip_suffix(".json")?
                .to_owned();
            Some((name, g.schema))
        })
        .collect()
}

const CUSTOM_PROBE: &str = "dev.cdeventsx.tool-thing.done.0.1.0";

#[test]
fn schemas_agree_with_official() {
    let Some(tree) = spec_tree_or_skip("schemas_agree_with_official") else {
        return;
    };
    let official = Registry::from_spec_dir(&tree).expect("official schemas load");
    let embedded = Registry::embedded().unwrap();
    assert_eq!(
        official.compile_all(),
        vec![],
        "official schemas compile offline"
    );
    let mut disagreements = Vec::new();
    let mut compared = 0;
    for v in SpecVersion::ALL {
        assert_eq!(
            embedded.event_types(v),
            official.event_types(v),
            "CDEvents {v}: the embedded registry and the official schemas define different event types"
        );
        let ours_refs = embedded_link_schemas(v);
        let theirs_refs = official_link_schemas(&tree, v);
        let mut types: Vec<String> = embedded
            .event_types(v)
            .into_iter()
            .map(String::from)
            .collect();
        if v.has_links() {
            types.push(CUSTOM_PROBE.to_owned());
        }
        for t in types {
            let ours = normalize(embedded.schema(v, &t).unwrap(), &ours_refs, 0);
            let theirs = normalize(official.schema(v, &t).unwrap(), &theirs_refs, 0);
            compared += 1;
            if let Some(d) = first_diff(&ours, &theirs, "") {
                disagreements.push(format!("{v} {t}: {d}"));
            }
        }
        // The link schemas themselves (0.4+), including the standalone link events.
        assert_eq!(
            ours_refs.keys().collect::<Vec<_>>(),
            theirs_refs.keys().collect::<Vec<_>>(),
            "{v}: link schemas"
        );
        for (name, ours) in &ours_refs {
            let ours = normalize(ours, &ours_refs, 0);
            let theirs = normalize(&theirs_refs[name], &theirs_refs, 0);
            if let Some(d) = first_diff(&ours, &theirs, "") {
                disagreements.push(format!("{v} links/{name}: {d}"));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {compared} schemas disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert_eq!(compared, 39 + 46 + 46 + 49);
}

#[test]
fn official_examples_validate_under_both_registries() {
    let Some(tree) = spec_tree_or_skip("official_examples_validate_under_both_registries") else {
        return;
    };
    let official = Registry::from_spec_dir(&tree).unwrap();
    let embedded = Registry::embedded().unwrap();
    let mut failures = Vec::new();
    let mut seen = 0;
    for v in SpecVersion::ALL {
        let files = example_files(&tree, v);
        assert!(
            files.len() >= 39,
            "{v}: only {} examples found",
            files.len()
        );
        for (i, f) in files.iter().enumerate() {
            let mut ev: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
            // The examples share one context.id; make each unique before using it as an event.
            ev["context"]["id"] = Value::from(format!("example-{v}-{i}"));
            let t = ev["context"]["type"].as_str().unwrap().to_owned();
            for (name, reg) in [("embedded", &embedded), ("official", &official)] {
                let verdict = reg.validate(v, &t, &ev).unwrap();
                if !verdict.is_valid() {
                    failures.push(format!("{name} {v} {}: {:?}", f.display(), verdict.errors));
                }
            }
            seen += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(seen > 170, "only {seen} examples");
}

/// The 0.4.x (and later) event schemas reference the links as `links/embeddedlinksarray`, a
/// reference relative to the schema's own `$id`. It only resolves when the link schemas are
/// registered under their `$id`s; compiled alone (as a naive consumer would, from the file),
/// the schema cannot be built without fetching `https://cdevents.dev/...`, which we refuse.
#[test]
fn official_link_refs_need_the_links_registered() {
    let Some(tree) = spec_tree_or_skip("official_link_refs_need_the_links_registered") else {
        return;
    };
    let path = version_dir(&tree, SpecVersion::V0_4_1).join("schemas/pipelinerunfinished.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(
        schema.pointer("/properties/context/properties/links/$ref"),
        Some(&Value::from("links/embeddedlinksarray"))
    );
    let alone = jsonschema::options().with_retriever(Refuse).build(&schema);
    assert!(
        alone.is_err(),
        "the relative link $ref resolved without the link schemas"
    );
    // Loaded as a checkout, with every $id registered, it resolves and validates links.
    let reg = Registry::from_spec_dir(&version_dir(&tree, SpecVersion::V0_4_1)).unwrap();
    let t = "dev.cdevents.pipelinerun.finished.0.2.0";
    let mut ev: Value = serde_json::from_str(
        &std::fs::read_to_string(
            version_dir(&tree, SpecVersion::V0_4_1).join("conformance/pipelinerun_finished.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(reg
        .validate(SpecVersion::V0_4_1, t, &ev)
        .unwrap()
        .is_valid());
    ev["context"]["links"][0]["linkType"] = Value::from("SIDEWAYS");
    assert!(!reg
        .validate(SpecVersion::V0_4_1, t, &ev)
        .unwrap()
        .is_valid());
}

struct Refuse;
impl jsonschema::Retrieve for Refuse {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("not fetching {uri}").into())
    }
}
