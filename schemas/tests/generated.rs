//! The checked-in JSON Schemas under `schemas/generated/` are exactly what the catalogue
//! generates. Rewrite them with `UPDATE_SCHEMAS=1 cargo test -p cdevents-schemas --test generated`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cdevents_schemas::catalogue;
use cdevents_schemas::generate::{to_file_text, version_schemas};

fn generated_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("generated")
}

fn files_under(dir: &Path, out: &mut BTreeSet<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.insert(p);
        }
    }
}

#[test]
fn generated_schemas_are_current() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut expected = BTreeSet::new();
    let mut stale = Vec::new();
    for (version, cat) in catalogue::embedded() {
        for g in version_schemas(cat) {
            let path = generated_dir().join(version.as_str()).join(&g.path);
            let text = to_file_text(&g.schema);
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            if current != text {
                if update {
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(&path, &text).unwrap();
                } else {
                    stale.push(path.display().to_string());
                }
            }
            expected.insert(path);
        }
    }
    let mut present = BTreeSet::new();
    files_under(&generated_dir(), &mut present);
    for extra in present.difference(&expected) {
        if update {
            std::fs::remove_file(extra).unwrap();
        } else {
            stale.push(format!("{} (no longer generated)", extra.display()));
        }
    }
    assert!(
        stale.is_empty(),
        "generated schemas are stale; run `UPDATE_SCHEMAS=1 cargo test -p cdevents-schemas --test generated`:\n{}",
        stale.join("\n")
    );
}
