//! Every mutant is rejected by the checks with the requirement id it claims.
//!
//! The generators break one schema rule at a time; here each broken event goes through the
//! full `EventChecker` (schema plus semantic rules) and must get a failing finding naming the
//! requirement that rule belongs to. The claim is derived from where and how the event was
//! broken, independently of what the checks report.

use cdevents_reports::Level;
use cdevents_schemas::{catalogue, Registry, SpecVersion};
use cdevents_suites::checks::{ids, EventChecker};
use cdevents_suites::generators::{
    arb_invalid_event, mutations_for_type, sample, Mutation, MutationKind,
};
use std::path::Path;

use cdevents_suites::regressions::{record_shrunk_failure, shrunk_failure_case};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestError, TestRunner};

/// The requirement a mutation claims to break.
fn claim(m: &Mutation) -> Option<String> {
    if m.pointer.starts_with("/context/links") {
        // Embedded links: one of the link rules, by link type.
        return Some("CDE-LNK-".to_owned());
    }
    let keyword = match m.kind {
        MutationKind::RemoveRequired => "required",
        MutationKind::WrongType => "type",
        MutationKind::EnumValue => "enum",
        MutationKind::EmptyString => "minLength",
        MutationKind::BadFormat(_) => "format",
        MutationKind::BadPattern => "pattern",
        MutationKind::ExtraProperty => "additionalProperties",
        MutationKind::CustomDataType => "oneOf",
        MutationKind::VersionAttributeName => return Some(ids::VERSION_ATTRIBUTE.to_owned()),
        // Another known type of the same version: the original type's schema rejects it (the
        // generators' own tests), but the event alone cannot say which type was meant, and
        // under its new type it may well be valid. Not a claim the checks can be held to.
        MutationKind::WrongEventType => return None,
    };
    Some(ids::for_schema_error(&m.pointer, keyword).to_owned())
}

fn assert_rejected(checker: &EventChecker<'_>, t: &str, m: &Mutation) -> Result<(), String> {
    let Some(claimed) = claim(m) else {
        return Ok(());
    };
    let verdict = checker.check_event(&m.event);
    let hit = verdict
        .findings
        .iter()
        .any(|f| f.id.starts_with(&claimed) && f.level == Level::Must);
    if hit {
        Ok(())
    } else {
        Err(format!(
            "{t}: mutation {} at {} claims {claimed} but the findings were {:#?}\nevent: {}",
            m.kind, m.pointer, verdict.findings, m.event
        ))
    }
}

#[test]
fn every_mutation_of_every_type_is_rejected_with_its_claim() {
    let registry = Registry::embedded().unwrap();
    let checker = EventChecker::new(&registry);
    let mut failures = Vec::new();
    let mut checked = 0;
    for v in SpecVersion::ALL {
        let cat = catalogue::for_version(v);
        let mut types: Vec<String> = cat.events.iter().map(|e| e.type_name.clone()).collect();
        if cat.custom.is_some() {
            types.push("dev.cdeventsx.mytool-widget.built.0.1.0".to_owned());
        }
        for t in &types {
            let ev = sample(v, t, 7).unwrap();
            assert!(
                !checker.check_event(&ev).fails(Level::Must),
                "{t}: the unmutated sample must pass: {:?}",
                checker.check_event(&ev).findings
            );
            for m in mutations_for_type(v, t, &ev).unwrap_or_default() {
                checked += 1;
                if let Err(e) = assert_rejected(&checker, t, &m) {
                    failures.push(e);
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} mutations");
    assert!(
        failures.is_empty(),
        "{} of {checked} mutations not rejected as claimed; first:\n{}",
        failures.len(),
        failures[0]
    );
}

/// Where shrunk failures are stored as events, for `cdevents-conformance promote`.
fn failures_file() -> std::path::PathBuf {
    std::env::var_os("CDEVENTS_PROPTEST_FAILURES")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("proptest-failures.jsonl"))
}

/// A property-test runner that stores the shrunk failing event, not only the seed: the
/// `proptest!` macro would only print it.
#[test]
fn random_mutants_are_rejected() {
    let strategy = prop_oneof![
        arb_invalid_event(SpecVersion::V0_3_0),
        arb_invalid_event(SpecVersion::V0_4_1),
        arb_invalid_event(SpecVersion::V0_5_1),
        arb_invalid_event(SpecVersion::V0_6_0Draft),
    ];
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        source_file: Some(file!()),
        ..ProptestConfig::default()
    };
    let registry = Registry::embedded().unwrap();
    let checker = EventChecker::new(&registry);
    // As the macro does: seeds of earlier failures (mutants.proptest-regressions) run first.
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |(t, m)| {
        assert_rejected(&checker, &t, &m).map_err(TestCaseError::fail)
    });
    if let Err(TestError::Fail(why, (t, m))) = result {
        let claimed = claim(&m).unwrap_or_default();
        // A prefix claim (any link rule) is stored under the general link rule.
        let id = if claimed.ends_with('-') {
            ids::LINKS.to_owned()
        } else {
            claimed
        };
        let case = shrunk_failure_case("random_mutants", &id, false, &m.event, &why.to_string());
        let file = failures_file();
        let stored = record_shrunk_failure(&file, &case);
        panic!(
            "{t}: {why}\nshrunk event stored ({stored:?}); make it a regression fixture with:\n  \
             cdevents-conformance promote {} {}",
            file.display(),
            case.case
        );
    } else if let Err(e) = result {
        panic!("{e}");
    }
}
