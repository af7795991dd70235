//! Snapshots of `validate` over the fixtures of each spec version, in the human format
//! (`--color never`) and in JSON lines: a change in a check, a message or the output format
//! shows up as a reviewable diff of `runner/tests/snapshots/*.snap`.
//!
//! Review changes with `cargo insta review` (or `INSTA_UPDATE=always cargo test -p
//! cdevents-conformance --test validate_snapshots` and read the diff). As insta does by default,
//! nothing is written when `CI` is set: a missing or different snapshot fails there.

mod common;

use cdevents_schemas::SpecVersion;
use common::run;

/// The run as one text: exit code, stdout, stderr, with paths in `/` form.
fn transcript(args: &[&str]) -> String {
    let r = run(args, None);
    assert!(!r.stderr.contains("panicked"), "{r}");
    let normalize = |s: &str| s.replace('\\', "/");
    format!(
        "$ cdevents-conformance {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        r.code,
        normalize(&r.stdout),
        normalize(&r.stderr)
    )
}

fn snapshot_name(format: &str, v: SpecVersion) -> String {
    format!("{format}-{}", v.as_str().replace('.', "_"))
}

#[test]
fn human_output_over_the_fixtures() {
    for v in SpecVersion::ALL {
        let dir = format!("fixtures/{v}");
        let text = transcript(&["validate", "--color", "never", &dir]);
        insta::assert_snapshot!(snapshot_name("human", v), text);
    }
}

#[test]
fn json_output_over_the_fixtures() {
    for v in SpecVersion::ALL {
        let dir = format!("fixtures/{v}");
        let text = transcript(&["validate", "--format", "json", &dir]);
        insta::assert_snapshot!(snapshot_name("json", v), text);
    }
}
