//! `selftest`: the kit judging itself. Every suite against its reference implementation (must
//! pass everything) and against every `--fault` variant (must fail exactly the requirements its
//! fault table names), in-process on loopback, then the check coverage of the catalogue. The
//! engine is `cdevents_suites::selftest`; this module parses options and renders.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cdevents_reports::Level;
use cdevents_suites::selftest::{self, roles, Cell, CoverageState, Filter, Report, RunOutcome};

use crate::exit;
use crate::output::{BOLD, DIM, FAIL, OK, WARN};
use crate::reporting::sanitize;

const HELP: &str = "\
Examples:
  cdevents-conformance selftest
  cdevents-conformance selftest --role listener
  cdevents-conformance selftest --fault redirect --fault reuse-id
  cdevents-conformance selftest --format json

Matrix cells: ✓ the fault table names the requirement and the suite failed it; ✗ it names it
but the suite did not fail it (a check that cannot fail); ! the suite failed a requirement the
table does not name. Coverage: the MUST requirements some fault (live) or some invalid fixture
under fixtures/<version>/invalid/ (offline, as `validate` judges it) proves can fail.

Exit codes:
  0  every reference passed and every fault failed exactly its requirements
  1  some run did not
  2  unknown --role or --fault";

/// Output format of `selftest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Runs, matrix and coverage, for people.
    Human,
    /// One JSON document: `ok`, every run, the coverage.
    Json,
}

/// `selftest` options.
#[derive(Debug, clap::Args)]
#[command(after_help = HELP)]
pub struct Args {
    /// Only this role (`listener`, `sender`); repeatable.
    #[arg(long, value_name = "ROLE")]
    pub role: Vec<String>,
    /// Only this fault (and the references of its role); repeatable.
    #[arg(long, value_name = "NAME")]
    pub fault: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// The fixtures folder whose invalid fixtures count as offline proofs (default: ./fixtures,
    /// else the checkout this binary was built from).
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    /// Runs in flight at once.
    #[arg(long, value_name = "N", default_value_t = selftest::DEFAULT_PARALLEL)]
    pub parallel: usize,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let table = roles::all();
    let known_roles: Vec<&str> = table.iter().map(|r| r.role).collect();
    for r in &args.role {
        if !known_roles.contains(&r.as_str()) {
            anstream::eprintln!(
                "{FAIL}error{FAIL:#}: unknown role `{}` (expected one of: {})",
                sanitize(r),
                known_roles.join(", ")
            );
            return Ok(exit::USAGE);
        }
    }
    let known_faults: BTreeSet<&str> = table
        .iter()
        .flat_map(|r| (r.plan)())
        .filter_map(|p| p.fault)
        .collect();
    for f in &args.fault {
        if !known_faults.contains(f.as_str()) {
            anstream::eprintln!(
                "{FAIL}error{FAIL:#}: unknown fault `{}` (`cdevents-conformance reference listener --fault list` and `reference sender --fault list` print them)",
                sanitize(f)
            );
            return Ok(exit::USAGE);
        }
    }
    let filter = Filter {
        roles: args.role,
        faults: args.fault,
        parallel: args.parallel,
    };
    let fixtures = args.fixtures.or_else(default_fixtures);
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let report = rt.block_on(selftest::run(&table, &filter, fixtures.as_deref()));
    drop(rt);
    match args.format {
        Format::Json => {
            let mut v = serde_json::to_value(&report).context("the report serializes")?;
            if let Some(o) = v.as_object_mut() {
                o.insert("ok".into(), report.ok().into());
                o.insert(
                    "fixtures".into(),
                    fixtures.map(|p| p.display().to_string()).into(),
                );
            }
            anstream::println!("{v}");
        }
        Format::Human => anstream::print!("{}", render(&report, fixtures.as_deref())),
    }
    Ok(if report.ok() { exit::OK } else { exit::FAILED })
}

/// `./fixtures` when it looks like the kit's, else the checkout the binary was built from.
fn default_fixtures() -> Option<PathBuf> {
    let here = PathBuf::from("fixtures");
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    [here, built]
        .into_iter()
        .find(|p| p.join("0.5.1").join("invalid").is_dir())
}

fn run_name(r: &RunOutcome) -> &str {
    r.fault.unwrap_or("reference")
}

/// The whole human rendering.
fn render(rep: &Report, fixtures: Option<&Path>) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "{BOLD}cdevents-conformance selftest{BOLD:#}: every suite against its reference implementation and every fault\n"
    );
    let roles: Vec<&str> = rep.runs.iter().fold(Vec::new(), |mut v, r| {
        if !v.contains(&r.role) {
            v.push(r.role);
        }
        v
    });
    for role in &roles {
        let runs: Vec<&RunOutcome> = rep.runs.iter().filter(|r| r.role == *role).collect();
        let _ = writeln!(w, "{BOLD}{role}{BOLD:#} ({} runs)", runs.len());
        for r in &runs {
            run_line(w, r);
        }
        matrix(w, &runs);
        let _ = writeln!(w);
    }
    coverage(w, rep, fixtures);
    let bad = rep.runs.iter().filter(|r| !r.as_expected()).count();
    let secs = rep.elapsed.as_secs_f64();
    if rep.ok() {
        let _ = writeln!(
            w,
            "\n{BOLD}selftest{BOLD:#}: {OK}ok{OK:#}. {} runs: every reference passed and every fault failed exactly its requirements ({secs:.2}s).",
            rep.runs.len()
        );
    } else {
        let _ = writeln!(
            w,
            "\n{BOLD}selftest{BOLD:#}: {FAIL}FAILED{FAIL:#}. {bad} of {} runs did not do what they must ({secs:.2}s).",
            rep.runs.len()
        );
    }
    out
}

fn run_line(w: &mut String, r: &RunOutcome) {
    let verdict = if r.as_expected() {
        format!("{OK}ok{OK:#}")
    } else {
        format!("{FAIL}FAILED{FAIL:#}")
    };
    let _ = writeln!(
        w,
        "  {:<34} {verdict}  {}  {DIM}{} cases, requirements failed: {}, {:.2}s{DIM:#}",
        run_name(r),
        sanitize(&r.about),
        r.cases,
        r.failed.len(),
        r.elapsed.as_secs_f64()
    );
    if r.as_expected() {
        return;
    }
    if let Some(e) = &r.error {
        let _ = writeln!(
            w,
            "      {FAIL}the run could not judge{FAIL:#}: {}",
            sanitize(e)
        );
    }
    let missed: Vec<&String> = r.expected.difference(&r.failed).collect();
    let extra: Vec<&String> = r.failed.difference(&r.expected).collect();
    if !missed.is_empty() {
        let _ = writeln!(
            w,
            "      ✗ not failed, though the fault table names them: {missed:?}"
        );
    }
    if !extra.is_empty() {
        let _ = writeln!(
            w,
            "      ! failed, though the fault table does not name them: {extra:?}"
        );
    }
    if r.fault.is_none() {
        for e in r.errored.iter().take(5) {
            let _ = writeln!(w, "      {WARN}errored{WARN:#} {}", sanitize(e));
        }
    }
}

/// Requirements down, faults across (numbered, with a legend): the faults' cells.
fn matrix(w: &mut String, runs: &[&RunOutcome]) {
    let faults: Vec<&&RunOutcome> = runs.iter().filter(|r| r.fault.is_some()).collect();
    if faults.is_empty() {
        return;
    }
    let rows: Vec<Vec<(String, Cell)>> = faults.iter().map(|r| r.cells()).collect();
    let ids: BTreeSet<&String> = rows.iter().flatten().map(|(id, _)| id).collect();
    let width = ids.iter().map(|i| i.len()).max().unwrap_or(0).max(11);
    let _ = writeln!(w, "\n  {DIM}matrix: requirement × fault (✓ failed as the table says, ✗ missed, ! unexpected){DIM:#}");
    let mut head = format!("  {:width$}", "");
    for n in 1..=faults.len() {
        let _ = write!(head, "{n:>3}");
    }
    let _ = writeln!(w, "{head}");
    for id in ids {
        let mut line = format!("  {id:width$}");
        for row in &rows {
            let cell = row.iter().find(|(i, _)| i == id).map(|(_, c)| *c);
            let sym = match cell {
                Some(Cell::ExpectedFailSeen) => format!("{OK}  ✓{OK:#}"),
                Some(Cell::Missed) => format!("{FAIL}  ✗{FAIL:#}"),
                Some(Cell::Unexpected) => format!("{FAIL}  !{FAIL:#}"),
                None => format!("{DIM}  ·{DIM:#}"),
            };
            line.push_str(&sym);
        }
        let _ = writeln!(w, "{line}");
    }
    let legend: Vec<String> = faults
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{} {}", i + 1, run_name(r)))
        .collect();
    for chunk in legend.chunks(4) {
        let _ = writeln!(w, "  {DIM}{}{DIM:#}", chunk.join(" · "));
    }
}

fn coverage(w: &mut String, rep: &Report, fixtures: Option<&Path>) {
    let c = &rep.coverage;
    let _ = writeln!(w, "{BOLD}check coverage{BOLD:#}");
    if rep.filtered {
        let _ = writeln!(
            w,
            "  {WARN}partial{WARN:#}: --role/--fault left runs out, so fewer faults prove anything"
        );
    }
    match fixtures {
        Some(p) => {
            let _ = writeln!(
                w,
                "  {DIM}invalid fixtures read from {}{DIM:#}",
                p.display()
            );
        }
        None => {
            let _ = writeln!(
                w,
                "  {WARN}no fixtures folder found{WARN:#} (--fixtures DIR): no offline proofs"
            );
        }
    }
    let m = &c.must;
    let _ = writeln!(
        w,
        "  MUST: {BOLD}{:.1}%{BOLD:#} of {} black-box-testable requirements proved able to fail: {} by a fault, {} by an invalid fixture only; {} uncovered; {} not black-box",
        m.percent(),
        m.testable(),
        m.by_fault,
        m.by_fixture,
        m.uncovered,
        m.not_blackbox
    );
    let a = &c.all;
    let _ = writeln!(
        w,
        "  all levels: {:.1}% of {} ({} by a fault, {} by a fixture only, {} uncovered, {} not black-box)",
        a.percent(),
        a.testable(),
        a.by_fault,
        a.by_fixture,
        a.uncovered,
        a.not_blackbox
    );
    let uncovered: Vec<_> = c.uncovered_must().collect();
    if !uncovered.is_empty() {
        let _ = writeln!(w, "  uncovered MUST requirements:");
        for e in uncovered {
            if let CoverageState::Uncovered { why } = &e.state {
                let _ = writeln!(w, "    {:<12} {why}", e.id);
            }
        }
    }
    let nbb: Vec<_> = c
        .entries
        .iter()
        .filter(|e| matches!(e.state, CoverageState::NotBlackbox { .. }))
        .collect();
    if !nbb.is_empty() {
        let _ = writeln!(w, "  not black-box (left out of the share):");
        for e in nbb {
            if let CoverageState::NotBlackbox { why } = &e.state {
                let lvl = if e.level == Level::Must {
                    "MUST"
                } else {
                    e.level.as_str()
                };
                let _ = writeln!(w, "    {:<12} {lvl:<6} {why}", e.id);
            }
        }
    }
}
