//! Check coverage: for every requirement of the catalogue, what proves its check can fail —
//! a fault run that failed it as its table said (a live proof), or an invalid fixture whose
//! judgement carries it (an offline proof) — or why nothing does.

use std::collections::{BTreeMap, BTreeSet};

use cdevents_reports::{Level, Role};
use serde::Serialize;

use super::{Cell, RunOutcome};
use crate::requirements::Catalogue;

/// Requirements no fault can break, with why: the reason is shown instead of the generic one.
/// Keep each entry checkable by a reviewer.
pub const KNOWN_GAPS: &[(&str, &str)] = &[(
    "CE-HTTP-011",
    "hyper lower-cases header names before the reference listener sees them, so no fault of it \
     can match ce- header names case-sensitively; the listener suite judges it against any \
     other target",
)];

/// One proof that a requirement's check can fail.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Proof {
    /// A fault run failed it, as the fault table says.
    Fault {
        /// The role of the reference implementation.
        role: String,
        /// The `--fault` name.
        fault: String,
    },
    /// An invalid fixture's judgement carries it.
    Fixture {
        /// The fixture, relative to the fixtures folder.
        path: String,
    },
}

/// Where a requirement stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum CoverageState {
    /// A fault proves it can fail (maybe a fixture too).
    ProvedByFault,
    /// Only an invalid fixture proves it can fail.
    ProvedByFixture,
    /// The catalogue says it cannot be judged from outside.
    NotBlackbox {
        /// The catalogue's reason.
        why: String,
    },
    /// Nothing proves it can fail.
    Uncovered {
        /// Why not.
        why: String,
    },
}

/// One requirement's coverage.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageEntry {
    /// The requirement id.
    pub id: String,
    /// Its level.
    pub level: Level,
    /// Its roles.
    pub roles: Vec<Role>,
    /// Where it stands.
    #[serde(flatten)]
    pub state: CoverageState,
    /// Every proof found (faults first).
    pub proofs: Vec<Proof>,
}

/// Counts over one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Requirements of the level.
    pub total: usize,
    /// Not judgeable black-box (left out of the share).
    pub not_blackbox: usize,
    /// Proved by a fault.
    pub by_fault: usize,
    /// Proved by an invalid fixture only.
    pub by_fixture: usize,
    /// Proved by nothing.
    pub uncovered: usize,
}

impl Counts {
    /// Black-box-testable requirements.
    pub fn testable(&self) -> usize {
        self.total - self.not_blackbox
    }

    /// The share of black-box-testable requirements proved, in percent.
    pub fn percent(&self) -> f64 {
        if self.testable() == 0 {
            return 100.0;
        }
        100.0 * (self.by_fault + self.by_fixture) as f64 / self.testable() as f64
    }
}

/// The coverage of the whole catalogue.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    /// MUST requirements (the target: 100% of the black-box-testable ones).
    pub must: Counts,
    /// Every level together.
    pub all: Counts,
    /// Every requirement, in catalogue order.
    pub entries: Vec<CoverageEntry>,
}

impl Coverage {
    /// Computes it from the runs and the fixture proofs (`fixtures_given`: whether a fixtures
    /// folder was read at all, for the reason given when nothing proves an event rule).
    pub fn compute(
        runs: &[RunOutcome],
        fixtures: &BTreeMap<String, Vec<String>>,
        fixtures_given: bool,
    ) -> Coverage {
        let mut by_fault: BTreeMap<&str, BTreeSet<Proof>> = BTreeMap::new();
        let mut judged_by: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for run in runs {
            for id in &run.exercised {
                judged_by.entry(id).or_default().insert(run.role);
            }
            let Some(fault) = run.fault else { continue };
            for (id, cell) in run.cells() {
                if cell == Cell::ExpectedFailSeen {
                    if let Some(known) = run.expected.get(&id) {
                        by_fault.entry(known).or_default().insert(Proof::Fault {
                            role: run.role.to_owned(),
                            fault: fault.to_owned(),
                        });
                    }
                }
            }
        }
        let roles_run: BTreeSet<&str> = runs.iter().map(|r| r.role).collect();
        let mut entries = Vec::new();
        let (mut must, mut all) = (Counts::default(), Counts::default());
        for r in Catalogue::embedded().iter() {
            let mut proofs: Vec<Proof> = by_fault
                .get(r.id.as_str())
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default();
            let faulted = !proofs.is_empty();
            proofs.extend(
                fixtures
                    .get(&r.id)
                    .into_iter()
                    .flatten()
                    .map(|p| Proof::Fixture { path: p.clone() }),
            );
            let state = if !r.blackbox {
                CoverageState::NotBlackbox {
                    why: r.why.clone().unwrap_or_default(),
                }
            } else if faulted {
                CoverageState::ProvedByFault
            } else if !proofs.is_empty() {
                CoverageState::ProvedByFixture
            } else {
                CoverageState::Uncovered {
                    why: why_uncovered(
                        &r.id,
                        &r.roles,
                        judged_by.get(r.id.as_str()),
                        &roles_run,
                        fixtures_given,
                    ),
                }
            };
            for c in [&mut all]
                .into_iter()
                .chain((r.level == Level::Must).then_some(&mut must))
            {
                c.total += 1;
                match state {
                    CoverageState::ProvedByFault => c.by_fault += 1,
                    CoverageState::ProvedByFixture => c.by_fixture += 1,
                    CoverageState::NotBlackbox { .. } => c.not_blackbox += 1,
                    CoverageState::Uncovered { .. } => c.uncovered += 1,
                }
            }
            entries.push(CoverageEntry {
                id: r.id.clone(),
                level: r.level,
                roles: r.roles.clone(),
                state,
                proofs,
            });
        }
        Coverage { must, all, entries }
    }

    /// The black-box-testable MUST requirements nothing proves.
    pub fn uncovered_must(&self) -> impl Iterator<Item = &CoverageEntry> {
        self.entries.iter().filter(|e| {
            e.level == Level::Must && matches!(e.state, CoverageState::Uncovered { .. })
        })
    }
}

fn why_uncovered(
    id: &str,
    roles: &[Role],
    judged_by: Option<&BTreeSet<&str>>,
    roles_run: &BTreeSet<&str>,
    fixtures_given: bool,
) -> String {
    if let Some((_, why)) = KNOWN_GAPS.iter().find(|(k, _)| *k == id) {
        return (*why).to_owned();
    }
    if let Some(by) = judged_by {
        let by: Vec<&str> = by.iter().copied().collect();
        return format!(
            "judged by the {} suite, but no fault of the reference implementation breaks it",
            by.join(" and ")
        );
    }
    let mut parts = vec!["no suite of the self-test judges it".to_owned()];
    if roles.contains(&Role::Event) {
        parts.push(if fixtures_given {
            "and no invalid fixture triggers it".to_owned()
        } else {
            "and no fixtures folder was read".to_owned()
        });
    }
    let role_names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    if roles.iter().all(|r| *r == Role::Intermediary) && !roles_run.contains("relay") {
        parts.push("(an intermediary rule: the relay suite is not in the self-test)".into());
    } else {
        parts.push(format!("(roles: {})", role_names.join(", ")));
    }
    parts.join(" ")
}
