//! `promote`: a failed case of a results file becomes a file of `fixtures/regressions/`.
//!
//! The results file is untrusted: the file name is built from the case's requirement (which
//! must be a catalogue id) and a sanitized slug, written only into `--dir`, and an existing
//! file is never overwritten without `--force`.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context};
use cdevents_reports::stream::read_jsonl;
use cdevents_suites::regressions::fixture_for;

use crate::exit;
use crate::reporting::sanitize;

const HELP: &str = "\
Examples:
  cdevents-conformance promote target/tmp/proptest-failures.jsonl CDE-CTX-008/random_mutants/1a2b3c4d
  cdevents-conformance promote results.jsonl CDE-CE-005 --dir fixtures/regressions

Property tests store each shrunk failure as an event in a results file and print this command.
Any failed case that carries its event or its complete request can be promoted: the request
becomes an .http capture, else the event a .json file, named <REQ-ID>--<slug> (must fail with
that requirement) or valid--<slug> (must pass). Run them with:
  cargo test -p cdevents-suites --test fixtures regressions";

/// `promote` options.
#[derive(Debug, clap::Args)]
#[command(after_help = HELP)]
pub struct Args {
    /// The JSON-lines results file.
    #[arg(value_name = "RESULTS.jsonl")]
    pub results: PathBuf,
    /// The exact id of the case.
    #[arg(value_name = "CASE_ID")]
    pub case: String,
    /// The regression folder.
    #[arg(long, value_name = "DIR", default_value = "fixtures/regressions")]
    pub dir: PathBuf,
    /// Overwrite a fixture of the same name.
    #[arg(long)]
    pub force: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let run = read_jsonl(&args.results)
        .with_context(|| format!("cannot read the results file {}", args.results.display()))?;
    let Some(case) = run.cases.iter().find(|c| c.case == args.case) else {
        bail!(
            "no case with id `{}` in {}",
            sanitize(&args.case),
            args.results.display()
        );
    };
    if case.status.is_pass() {
        bail!("case {} passed: nothing to keep", sanitize(&case.case));
    }
    let fixture = fixture_for(case)
        .with_context(|| format!("case {} cannot be promoted", sanitize(&case.case)))?;
    if !args.dir.is_dir() {
        bail!(
            "{} is not a folder (run from the project root, or pass --dir)",
            args.dir.display()
        );
    }
    let path = args.dir.join(&fixture.file_name);
    let mut open = std::fs::OpenOptions::new();
    open.write(true);
    if args.force {
        open.create(true).truncate(true);
    } else {
        open.create_new(true);
    }
    let mut f = open
        .open(&path)
        .with_context(|| format!("cannot write {} (--force overwrites)", path.display()))?;
    f.write_all(&fixture.contents)?;
    println!("wrote {}: it must {}", path.display(), fixture.must);
    println!("run it: cargo test -p cdevents-suites --test fixtures regressions");
    Ok(exit::OK)
}
