//! The self-test: every suite against its reference implementation (which must pass
//! everything) and against every deliberately broken variant of it (which must fail exactly
//! the requirements its fault table names, and nothing else), plus the **check coverage** of
//! the catalogue: which MUST requirements some fault or invalid fixture proves can fail.
//!
//! The engine knows roles only through a table ([`RoleEntry`]): a role names itself and plans
//! its runs ([`PlannedRun`]: the reference, or one fault, each with the ids it must fail and a
//! future that runs the suite in-process on loopback). Adding a role (the relay) is one entry
//! in [`roles::all`]. The engine runs every planned run at once, compares, and returns a
//! [`Report`]; it never prints (the runner renders the report).

pub mod coverage;
pub mod fixtures;
pub mod roles;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use cdevents_reports::model::{CaseResult, Status};
use serde::Serialize;

pub use coverage::{Coverage, CoverageEntry, CoverageState, Proof};

/// The suite's verdict on one run, as the engine needs it.
pub type RunFuture = Pin<Box<dyn Future<Output = Result<Vec<CaseResult>, String>> + Send>>;

/// One run a role plans: its reference (`fault: None`) or one of its faults.
pub struct PlannedRun {
    /// The role, e.g. `listener`.
    pub role: &'static str,
    /// The `--fault` name; `None` for the conformant reference.
    pub fault: Option<&'static str>,
    /// What the run is, in a few words (the fault's description, or the reference's setup).
    pub about: String,
    /// The requirements the suite must fail, exactly (empty for a reference).
    pub breaks: &'static [&'static str],
    /// Runs the suite against the implementation.
    pub start: Box<dyn FnOnce() -> RunFuture + Send>,
}

/// A role of the self-test: a suite, its reference implementation and its fault table.
#[derive(Clone, Copy)]
pub struct RoleEntry {
    /// The role's name (`listener`, `sender`, `relay`), as `--role` selects it.
    pub role: &'static str,
    /// Every run of the role: the reference run(s) first, then one per fault.
    pub plan: fn() -> Vec<PlannedRun>,
}

/// Which runs to make. Empty fields keep everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only these roles.
    pub roles: Vec<String>,
    /// Only these faults (and the references of their roles).
    pub faults: Vec<String>,
    /// Runs in flight at once (0: [`DEFAULT_PARALLEL`]). Every run is a server and a suite
    /// in-process; more at once than the machine has cores starves the timeouts.
    pub parallel: usize,
}

/// Runs in flight at once by default.
pub const DEFAULT_PARALLEL: usize = 4;

impl Filter {
    fn keeps(&self, run: &PlannedRun) -> bool {
        let role_ok = self.roles.is_empty() || self.roles.iter().any(|r| r == run.role);
        let fault_ok = match run.fault {
            None => true,
            Some(f) => self.faults.is_empty() || self.faults.iter().any(|x| x == f),
        };
        role_ok && fault_ok
    }

    /// Whether nothing is left out (coverage is only complete then).
    pub fn is_complete(&self) -> bool {
        self.roles.is_empty() && self.faults.is_empty()
    }
}

/// A cell of the matrix: a requirement, in a fault run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cell {
    /// The fault table names it and the suite failed it (✓).
    ExpectedFailSeen,
    /// The fault table names it but the suite did not fail it (✗): a check that did not fail.
    Missed,
    /// The suite failed it though the fault table does not name it (!).
    Unexpected,
}

impl Cell {
    /// The matrix symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Cell::ExpectedFailSeen => "✓",
            Cell::Missed => "✗",
            Cell::Unexpected => "!",
        }
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// The role.
    pub role: &'static str,
    /// The fault, or `None` for a reference run.
    pub fault: Option<&'static str>,
    /// What the run is.
    pub about: String,
    /// The ids the fault table names.
    pub expected: BTreeSet<String>,
    /// The ids of the failed cases.
    pub failed: BTreeSet<String>,
    /// Cases that reached no verdict (timeouts, a dead target), `case: message`.
    pub errored: Vec<String>,
    /// Why the run could not judge at all, if it could not.
    pub error: Option<String>,
    /// Cases judged (passed or failed).
    pub judged: usize,
    /// Cases in the run.
    pub cases: usize,
    /// Every requirement id the run judged (passed or failed), for coverage.
    pub exercised: BTreeSet<String>,
    /// Wall time of the run.
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
    /// The suite's results, for callers that look closer (not serialized).
    #[serde(skip)]
    pub results: Vec<CaseResult>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl RunOutcome {
    /// Whether the run did what it must: a reference fails nothing and errs nowhere; a fault
    /// fails exactly its ids. (Cases of a fault run may reach no verdict — nothing answers
    /// after `hang-after-malformed` — which is no failure; a missed id still shows as ✗.)
    pub fn as_expected(&self) -> bool {
        self.error.is_none()
            && (self.fault.is_some() || self.errored.is_empty())
            && self.judged > 0
            && self.failed == self.expected
    }

    /// The matrix row: each requirement the run expected or failed, and its cell.
    pub fn cells(&self) -> Vec<(String, Cell)> {
        let mut ids: BTreeSet<&String> = self.expected.iter().collect();
        ids.extend(self.failed.iter());
        ids.into_iter()
            .map(|id| {
                let cell = match (self.expected.contains(id), self.failed.contains(id)) {
                    (true, true) => Cell::ExpectedFailSeen,
                    (true, false) => Cell::Missed,
                    _ => Cell::Unexpected,
                };
                (id.clone(), cell)
            })
            .collect()
    }
}

/// Everything the self-test found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every run, references first, in plan order.
    pub runs: Vec<RunOutcome>,
    /// The check coverage of the catalogue.
    pub coverage: Coverage,
    /// Whether the filter left runs out (the coverage is then partial).
    pub filtered: bool,
    /// Wall time of the whole self-test.
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
}

impl Report {
    /// Whether every run did what it must (the exit status of `selftest`).
    pub fn ok(&self) -> bool {
        !self.runs.is_empty() && self.runs.iter().all(RunOutcome::as_expected)
    }
}

/// The requirement id of a case result: the catalogue id, without a `/case` suffix.
pub fn requirement_id(r: &CaseResult) -> &str {
    r.requirement.split('/').next().unwrap_or(&r.requirement)
}

/// Runs every planned run of `roles` the filter keeps, all at once, and judges them; then
/// computes the coverage, with the invalid fixtures under `fixtures` (if given) as the
/// offline proofs.
pub async fn run(
    roles: &[RoleEntry],
    filter: &Filter,
    fixtures: Option<&std::path::Path>,
) -> Report {
    let started = Instant::now();
    let all: Vec<PlannedRun> = roles.iter().flat_map(|r| (r.plan)()).collect();
    // With --fault, only the roles of the chosen faults keep their references.
    let chosen_roles: BTreeSet<&'static str> = all
        .iter()
        .filter(|p| p.fault.is_some() && filter.keeps(p))
        .map(|p| p.role)
        .collect();
    let planned: Vec<PlannedRun> = all
        .into_iter()
        .filter(|p| {
            filter.keeps(p)
                && (p.fault.is_some() || filter.faults.is_empty() || chosen_roles.contains(p.role))
        })
        .collect();
    let slots = match filter.parallel {
        0 => DEFAULT_PARALLEL,
        n => n,
    };
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(slots));
    let mut set = tokio::task::JoinSet::new();
    for (i, p) in planned.into_iter().enumerate() {
        let PlannedRun {
            role,
            fault,
            about,
            breaks,
            start,
        } = p;
        let gate = gate.clone();
        set.spawn(async move {
            // The semaphore is never closed, so the permit always comes.
            let _permit = gate.acquire_owned().await.ok();
            let t = Instant::now();
            let result = start().await;
            (i, outcome(role, fault, about, breaks, result, t.elapsed()))
        });
    }
    let mut runs = Vec::new();
    while let Some(done) = set.join_next().await {
        match done {
            Ok(r) => runs.push(r),
            Err(e) => runs.push((
                usize::MAX,
                RunOutcome {
                    role: "?",
                    fault: None,
                    about: "a run that panicked".into(),
                    expected: BTreeSet::new(),
                    failed: BTreeSet::new(),
                    errored: Vec::new(),
                    error: Some(format!("the run panicked: {e}")),
                    judged: 0,
                    cases: 0,
                    exercised: BTreeSet::new(),
                    elapsed: Duration::ZERO,
                    results: Vec::new(),
                },
            )),
        }
    }
    runs.sort_by_key(|(i, _)| *i);
    let runs: Vec<RunOutcome> = runs.into_iter().map(|(_, r)| r).collect();
    let offline = fixtures.map(fixtures::proofs).unwrap_or_default();
    let coverage = Coverage::compute(&runs, &offline, fixtures.is_some());
    Report {
        runs,
        coverage,
        filtered: !filter.is_complete(),
        elapsed: started.elapsed(),
    }
}

fn outcome(
    role: &'static str,
    fault: Option<&'static str>,
    about: String,
    breaks: &'static [&'static str],
    result: Result<Vec<CaseResult>, String>,
    elapsed: Duration,
) -> RunOutcome {
    let expected = breaks.iter().map(|s| (*s).to_owned()).collect();
    let mut out = RunOutcome {
        role,
        fault,
        about,
        expected,
        failed: BTreeSet::new(),
        errored: Vec::new(),
        error: None,
        judged: 0,
        cases: 0,
        exercised: BTreeSet::new(),
        elapsed,
        results: Vec::new(),
    };
    match result {
        Err(e) => out.error = Some(e),
        Ok(cases) => {
            out.cases = cases.len();
            for c in &cases {
                let id = requirement_id(c).to_owned();
                match c.status {
                    Status::Failed => {
                        out.judged += 1;
                        out.failed.insert(id.clone());
                        out.exercised.insert(id);
                    }
                    Status::Passed => {
                        out.judged += 1;
                        out.exercised.insert(id);
                    }
                    Status::Errored => out.errored.push(format!("{}: {}", c.case, c.message)),
                    _ => {}
                }
            }
            out.results = cases;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! The engine's own verdicts must be able to fail: a fake role whose runs are wrong in
    //! known ways (a reference that fails, a fault that misses its id and fails another).
    use super::*;
    use cdevents_reports::Level;

    fn case(id: &str, status: Status) -> CaseResult {
        CaseResult::new(format!("{id}/x"), id, Level::Must, status, "")
    }

    fn planned(
        fault: Option<&'static str>,
        breaks: &'static [&'static str],
        cases: Vec<CaseResult>,
    ) -> PlannedRun {
        PlannedRun {
            role: "fake",
            fault,
            about: String::new(),
            breaks,
            start: Box::new(move || Box::pin(async move { Ok(cases) }) as RunFuture),
        }
    }

    fn fake_plan() -> Vec<PlannedRun> {
        vec![
            planned(None, &[], vec![case("WH-001", Status::Failed)]),
            planned(
                Some("good"),
                &["WH-001"],
                vec![
                    case("WH-001", Status::Failed),
                    case("WH-003", Status::Passed),
                ],
            ),
            planned(
                Some("bad"),
                &["WH-001"],
                vec![
                    case("WH-001", Status::Passed),
                    case("WH-003", Status::Failed),
                ],
            ),
        ]
    }

    const FAKE: RoleEntry = RoleEntry {
        role: "fake",
        plan: fake_plan,
    };

    #[tokio::test]
    async fn wrong_runs_fail_the_selftest_with_the_right_cells() {
        let rep = run(&[FAKE], &Filter::default(), None).await;
        assert!(!rep.ok());
        let by = |f: Option<&str>| rep.runs.iter().find(|r| r.fault == f).expect("a run");
        assert!(!by(None).as_expected(), "a failing reference");
        assert!(by(Some("good")).as_expected());
        let bad = by(Some("bad"));
        assert!(!bad.as_expected());
        assert_eq!(
            bad.cells(),
            vec![
                ("WH-001".to_owned(), Cell::Missed),
                ("WH-003".to_owned(), Cell::Unexpected)
            ]
        );
        // Only the run that failed WH-001 as its table says proves it.
        let wh001 = rep.coverage.entries.iter().find(|e| e.id == "WH-001");
        assert_eq!(
            wh001.map(|e| e.proofs.clone()),
            Some(vec![Proof::Fault {
                role: "fake".into(),
                fault: "good".into()
            }])
        );
        let wh003 = rep.coverage.entries.iter().find(|e| e.id == "WH-003");
        assert!(matches!(
            wh003.map(|e| &e.state),
            Some(CoverageState::Uncovered { .. })
        ));
    }

    #[tokio::test]
    async fn filters_keep_the_chosen_faults_and_their_roles_references() {
        let filter = Filter {
            faults: vec!["good".into()],
            ..Filter::default()
        };
        let rep = run(&[FAKE], &filter, None).await;
        let names: Vec<Option<&str>> = rep.runs.iter().map(|r| r.fault).collect();
        assert_eq!(names, vec![None, Some("good")]);
        assert!(rep.filtered);
        let none = Filter {
            roles: vec!["other".into()],
            ..Filter::default()
        };
        let rep = run(&[FAKE], &none, None).await;
        assert!(rep.runs.is_empty() && !rep.ok(), "nothing run is no pass");
    }
}
