//! Stored results files of format version 1 (`tests/data/runs/*.jsonl`): each must keep
//! reading, and renders to one snapshot per file. A new file here is a new fixture.

use cdevents_reports as reports;

#[test]
fn stored_results_files_render() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::glob!("data/runs/*.jsonl", |path| {
            let run = reports::read_jsonl(path).unwrap();
            // The reader's view, then what a PR comment would show.
            let text = format!(
                "{}\ncases: {}, observations: {}\n\n{}",
                run.summary.one_line(),
                run.cases.len(),
                run.observations.len(),
                reports::to_markdown(&run)
            );
            insta::assert_snapshot!("fixture", text);
        });
    });
}
