//! Embeds the project's golden valid events (`fixtures/<version>/valid/*.json` and
//! `valid/custom/*.json`) so the listener suite sends them from an installed binary too, without
//! the source tree: a table of `include_str!` in `$OUT_DIR/golden.rs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let fixtures = manifest.join("..").join("fixtures");
    let mut table = String::from("&[\n");
    let mut versions: Vec<PathBuf> = read_dir(&fixtures)
        .into_iter()
        .filter(|p| p.join("valid").is_dir())
        .collect();
    versions.sort();
    for dir in versions {
        let version = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        for (sub, custom) in [("valid", false), ("valid/custom", true)] {
            let folder = dir.join(sub);
            println!("cargo:rerun-if-changed={}", folder.display());
            let mut files: Vec<PathBuf> = read_dir(&folder)
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            files.sort();
            for f in files {
                let name = f.file_stem().and_then(|n| n.to_str()).unwrap_or_default();
                let path = f.canonicalize().unwrap_or(f.clone());
                let _ = writeln!(
                    table,
                    "    Golden {{ version: {version:?}, name: {name:?}, custom: {custom}, json: include_str!({:?}) }},",
                    path.display().to_string()
                );
            }
        }
    }
    table.push_str("]\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("golden.rs");
    std::fs::write(&out, table).expect("write golden.rs");
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}
