//! Differential test, part 3: generated events and their mutations get the same verdict from
//! the embedded registry (generated from the catalogue) and from the official schemas.
//!
//! Valid events must be valid under both; every mutation must be invalid under both. A
//! disagreement means the catalogue and the official schemas differ on a rule, and the failure
//! lists the version, type, mutation and both verdicts with the event.
//!
//! Needs the official spec tree (`../shared/cdevents-spec`, or `CDEVENTS_SPEC_DIR`); skipped
//! with a message without it, unless `CDEVENTS_REQUIRE_SPEC` is set.

use std::fmt::Write as _;

use cdevents_schemas::catalogue;
use cdevents_schemas::official::spec_tree_or_skip;
use cdevents_schemas::registry::SchemaVerdict;
use cdevents_schemas::{Registry, SpecVersion};
use cdevents_suites::generators::{mutations_for_type, sample};
use serde_json::Value;

/// Events per type and version; each brings all of its mutations along.
const SEEDS: u64 = 8;

/// The custom type the custom schema is exercised with.
const CUSTOM_TYPE: &str = "dev.cdeventsx.tool-thing.done.0.1.0";

/// Disagreements listed in full before the rest are only counted.
const SHOWN: usize = 10;

fn verdict(r: &Registry, v: SpecVersion, t: &str, ev: &Value) -> Result<SchemaVerdict, String> {
    r.validate(v, t, ev).map_err(|e| e.to_string())
}

fn describe(v: &Result<SchemaVerdict, String>) -> String {
    match v {
        Ok(v) if v.is_valid() => "valid".to_owned(),
        Ok(v) => {
            let errors: Vec<String> = v
                .errors
                .iter()
                .map(|e| format!("{} ({})", e.pointer, e.message))
                .collect();
            format!("invalid: {}", errors.join("; "))
        }
        Err(e) => format!("not checked: {e}"),
    }
}

#[test]
fn generated_events_and_mutations_agree_with_official_schemas() {
    let Some(tree) =
        spec_tree_or_skip("generated_events_and_mutations_agree_with_official_schemas")
    else {
        return;
    };
    let embedded = Registry::embedded().expect("embedded registry");
    let official = Registry::from_spec_dir(&tree).expect("official registry");
    let mut disagreements = Vec::new();
    let (mut events, mut mutated) = (0usize, 0usize);
    for version in SpecVersion::ALL {
        let cat = catalogue::for_version(version);
        let mut types: Vec<&str> = cat.events.iter().map(|e| e.type_name.as_str()).collect();
        if cat.custom.is_some() {
            types.push(CUSTOM_TYPE);
        }
        for t in types {
            for seed in 0..SEEDS {
                let ev = sample(version, t, seed).expect("a catalogue type samples");
                events += 1;
                let (e, o) = (
                    verdict(&embedded, version, t, &ev),
                    verdict(&official, version, t, &ev),
                );
                let valid =
                    |v: &Result<SchemaVerdict, String>| v.as_ref().ok().map(|v| v.is_valid());
                if valid(&e) != Some(true) || valid(&o) != Some(true) {
                    disagreements.push(format!(
                        "{version} {t} seed {seed}, valid event:\n  embedded: {}\n  official: {}\n  {}",
                        describe(&e),
                        describe(&o),
                        ev
                    ));
                }
                for m in mutations_for_type(version, t, &ev).expect("a catalogue type") {
                    mutated += 1;
                    let (e, o) = (
                        verdict(&embedded, version, t, &m.event),
                        verdict(&official, version, t, &m.event),
                    );
                    if valid(&e) != Some(false) || valid(&o) != Some(false) {
                        disagreements.push(format!(
                            "{version} {t} seed {seed}, mutation {m}:\n  embedded: {}\n  official: {}\n  {}",
                            describe(&e),
                            describe(&o),
                            m.event
                        ));
                    }
                }
            }
        }
    }
    eprintln!(
        "{events} generated events and {mutated} mutations checked against {}",
        official.origin()
    );
    if !disagreements.is_empty() {
        let mut report = format!(
            "{} disagreement(s) between the embedded and the official schemas:\n",
            disagreements.len()
        );
        for d in disagreements.iter().take(SHOWN) {
            let _ = writeln!(report, "- {d}");
        }
        if disagreements.len() > SHOWN {
            let _ = writeln!(report, "... and {} more", disagreements.len() - SHOWN);
        }
        panic!("{report}");
    }
}
