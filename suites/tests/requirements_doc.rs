//! `docs/requirements.md` is the Markdown rendering of the embedded requirement catalogue.
//!
//! Fails when the checked-in file differs from the rendering; `UPDATE_DOCS=1` rewrites it.

use std::path::PathBuf;

use cdevents_suites::requirements::Catalogue;

const REGENERATE: &str = "UPDATE_DOCS=1 cargo test -p cdevents-suites --test requirements_doc";

fn doc_path() -> PathBuf {
    let suites = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    suites
        .parent()
        .unwrap_or(&suites)
        .join("docs")
        .join("requirements.md")
}

#[test]
fn requirements_md_is_current() {
    let path = doc_path();
    let rendered = Catalogue::embedded().to_markdown();
    if std::env::var("UPDATE_DOCS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &rendered)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("rewrote {}", path.display());
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    // A checkout with CRLF line ends holds the same document.
    if current.replace("\r\n", "\n") != rendered {
        let first = current
            .replace("\r\n", "\n")
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "the files differ in length".to_owned(),
                |n| format!("first difference at line {}", n + 1),
            );
        panic!(
            "{} is not the rendering of suites/requirements/*.toml ({first}); run `{REGENERATE}` and commit the result",
            path.display()
        );
    }
}
