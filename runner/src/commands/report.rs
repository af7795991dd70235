//! `cdevents-conformance report`: re-render a results file, or compare two runs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use cdevents_reports::model::{CaseResult, Run, Status};
use cdevents_reports::stream::read_jsonl;
use clap::{Args, Subcommand};

use crate::exit;
use crate::output::{BOLD, FAIL, OK, WARN};
use crate::reporting::{write_reports, ReportArgs};

/// `report` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Render the reports of a results file (JSON lines) without re-running anything.
    #[command(after_help = "Examples:
  cdevents-conformance report render results.jsonl --report-html report/ --report-junit junit.xml
  cdevents-conformance report render results.jsonl --report-md \"$GITHUB_STEP_SUMMARY\"")]
    Render(RenderArgs),
    /// List regressions and fixes between two results files; exit 1 on a regression.
    #[command(after_help = "Examples:
  cdevents-conformance report diff main.jsonl pr.jsonl

Exit codes:
  0  no regression
  1  at least one case passed in OLD and does not pass in NEW
  2  a file cannot be read")]
    Diff(DiffArgs),
}

/// `report render` options.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The results file written with --results.
    #[arg(value_name = "RESULTS")]
    pub input: PathBuf,
    #[command(flatten)]
    pub reports: ReportArgs,
}

/// `report diff` options.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier results file.
    pub old: PathBuf,
    /// The later results file.
    pub new: PathBuf,
}

/// Runs a `report` subcommand.
pub fn run(cmd: ReportCommand) -> anyhow::Result<u8> {
    match cmd {
        ReportCommand::Render(args) => render(args),
        ReportCommand::Diff(args) => diff(args),
    }
}

fn load(path: &PathBuf) -> anyhow::Result<Run> {
    read_jsonl(path).with_context(|| format!("cannot read the results file {}", path.display()))
}

fn render(args: RenderArgs) -> anyhow::Result<u8> {
    let run = load(&args.input)?;
    let r = &args.reports;
    if r.report_json.is_none()
        && r.report_junit.is_none()
        && r.report_md.is_none()
        && r.report_html.is_none()
        && r.badge.is_none()
    {
        anyhow::bail!("nothing to render: give at least one of --report-json, --report-junit, --report-md, --report-html, --badge");
    }
    write_reports(&run, r)?;
    if run.summary.interrupted {
        anstream::eprintln!(
            "{WARN}note{WARN:#}: the run was interrupted; the reports show what it gathered"
        );
    }
    anstream::println!("{}", run.summary.one_line());
    Ok(exit::OK)
}

/// What became of one case between two runs.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    Regression,
    Fix,
    New,
    Gone,
}

fn passes(c: &CaseResult) -> bool {
    matches!(c.status, Status::Passed | Status::WaivedButPassed)
}

fn diff(args: DiffArgs) -> anyhow::Result<u8> {
    let old = load(&args.old)?;
    let new = load(&args.new)?;
    let index = |run: &Run| -> BTreeMap<String, CaseResult> {
        run.cases
            .iter()
            .map(|c| (c.case.clone(), c.clone()))
            .collect()
    };
    let (o, n) = (index(&old), index(&new));
    let mut changes: Vec<(Change, &str, String)> = Vec::new();
    for (id, c) in &n {
        match o.get(id) {
            Some(prev) if passes(prev) && !passes(c) => changes.push((
                Change::Regression,
                id,
                format!(
                    "{} → {} ({} {})",
                    prev.status.label(),
                    c.status.label(),
                    c.requirement,
                    c.level
                ),
            )),
            Some(prev) if !passes(prev) && passes(c) => changes.push((
                Change::Fix,
                id,
                format!("{} → {}", prev.status.label(), c.status.label()),
            )),
            Some(_) => {}
            None => changes.push((Change::New, id, c.status.label().to_owned())),
        }
    }
    for (id, c) in &o {
        if !n.contains_key(id) {
            changes.push((Change::Gone, id, format!("was {}", c.status.label())));
        }
    }
    changes.sort();
    let regressions = changes.iter().filter(|c| c.0 == Change::Regression).count();
    for (kind, id, what) in &changes {
        let (tag, style) = match kind {
            Change::Regression => ("regression", FAIL),
            Change::Fix => ("fixed", OK),
            Change::New => ("new", BOLD),
            Change::Gone => ("gone", WARN),
        };
        anstream::println!(
            "{style}{tag:<10}{style:#} {id}: {}",
            crate::reporting::sanitize(what)
        );
    }
    anstream::println!(
        "\n{} regressions, {} fixed, {} new, {} gone ({} → {} cases)",
        regressions,
        changes.iter().filter(|c| c.0 == Change::Fix).count(),
        changes.iter().filter(|c| c.0 == Change::New).count(),
        changes.iter().filter(|c| c.0 == Change::Gone).count(),
        o.len(),
        n.len()
    );
    Ok(if regressions > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}
