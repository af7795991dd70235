//! Finding the official CDEvents spec tree for the differential tests.
//!
//! The tree is reference data beside the checkout (`../shared/cdevents-spec`), never part of
//! it. Tests that need it call [`spec_tree_or_skip`]: on a fresh clone without the tree they say
//! clearly that they are skipped; CI sets `CDEVENTS_REQUIRE_SPEC=1`, which turns a missing tree
//! into a failure.

use std::path::{Path, PathBuf};

use crate::version::SpecVersion;

/// Environment variable naming the official spec tree (folders `v0.3.0`, `v0.4.1`, `v0.5.1`,
/// `main`). A relative value is taken from the workspace root.
pub const SPEC_DIR_ENV: &str = "CDEVENTS_SPEC_DIR";

/// Environment variable that makes a missing spec tree a test failure instead of a skip.
pub const REQUIRE_SPEC_ENV: &str = "CDEVENTS_REQUIRE_SPEC";

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Where the official spec tree is expected.
pub fn spec_tree() -> PathBuf {
    let configured = std::env::var_os(SPEC_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/cdevents-spec"));
    if configured.is_absolute() {
        configured
    } else {
        workspace_root().join(configured)
    }
}

/// The spec tree, or `None` after printing why the calling test is skipped.
///
/// # Panics
///
/// When the tree is missing and `CDEVENTS_REQUIRE_SPEC` is set: CI must not skip these tests.
pub fn spec_tree_or_skip(test: &str) -> Option<PathBuf> {
    let dir = spec_tree();
    if dir.join("v0.5.1").is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "official spec tree not found at {} (set {SPEC_DIR_ENV} to a cdevents/spec checkout tree)",
        dir.display()
    );
    if std::env::var_os(REQUIRE_SPEC_ENV).is_some() {
        panic!("{test}: {msg}; {REQUIRE_SPEC_ENV} is set, so this test may not be skipped");
    }
    say_skipped(&format!("SKIPPED {test}: {msg}"));
    None
}

/// Writes `line` to the process's standard error, past libtest's output capture (which only
/// takes `print!`/`eprint!`): a test that skips itself passes, so without this a user of a
/// fresh clone would see it `ok` and never learn it checked nothing.
pub fn say_skipped(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The folder of one version in the tree.
pub fn version_dir(tree: &Path, v: SpecVersion) -> PathBuf {
    tree.join(v.spec_dir_name())
}

/// The official example events of a version (`conformance/*.json`, `examples/*.json` in
/// 0.3.0) and the custom-event example, sorted.
pub fn example_files(tree: &Path, v: SpecVersion) -> Vec<PathBuf> {
    let root = version_dir(tree, v);
    let mut out = Vec::new();
    for sub in ["conformance", "examples"] {
        if let Ok(rd) = std::fs::read_dir(root.join(sub)) {
            out.extend(
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json")),
            );
        }
    }
    let custom = root.join("custom").join("conformance.json");
    if custom.is_file() {
        out.push(custom);
    }
    out.sort();
    out
}
