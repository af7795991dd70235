//! Grades per spec version and role, with stated reasons, in the manner of TLS scanners.
//!
//! Cases are put in buckets by (spec version, role): a case counts in the bucket of its own
//! `spec` (or of every spec version of the run when it names none) and of each of its roles
//! (or of the suite's default role when it names none). Each bucket is graded on its own:
//!
//! | rule | cap | reason names |
//! | --- | --- | --- |
//! | nothing judged (every case errored or skipped) | `n/a` | the counts |
//! | any MUST failed | **F** | up to 5 requirement ids |
//! | any case errored | **C** | "could not judge N cases", up to 5 case ids |
//! | the run was interrupted | **C** | — |
//! | k SHOULD requirements failed | one step down from **A** per requirement, floor **D** (1 → B, 2 → C, 3+ → D) | up to 5 requirement ids |
//! | a MUST waived | **B** | up to 5 requirement ids |
//! | a SHOULD or MAY waived | **A** | up to 5 requirement ids |
//! | any MAY failed | **A** | up to 5 requirement ids |
//! | a waiver no longer needed (waived but passed) | **A** | up to 5 case ids |
//! | cases skipped | none (noted) | the count |
//!
//! A bucket starts at **A+** and gets the lowest cap of the rules that apply; **A+** is a clean
//! sheet. SHOULD failures count distinct requirements, not cases, so one requirement checked
//! over twenty events lowers the grade once. The grade ignores `--fail-on`: the threshold
//! decides the exit code, the grade describes the target. The run's overall grade is the
//! lowest graded bucket.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{roles_of, specs_of, CaseResult, Level, Role, RunHeader, Status};

/// How many ids a reason names before it says "and N more".
pub const MAX_IDS_IN_REASON: usize = 5;

/// A letter grade, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Grade {
    /// Every judged case passed and nothing needed waiving.
    #[serde(rename = "A+")]
    APlus,
    /// Every MUST and SHOULD met; something minor to note.
    A,
    /// One SHOULD not met, or a MUST waived.
    B,
    /// Two SHOULDs not met, or some cases could not be judged.
    C,
    /// Three or more SHOULDs not met.
    D,
    /// A MUST not met.
    F,
    /// Nothing could be judged.
    #[serde(rename = "n/a")]
    NotGraded,
}

impl Grade {
    /// Graded letters, best first.
    pub const LETTERS: [Grade; 6] = [
        Grade::APlus,
        Grade::A,
        Grade::B,
        Grade::C,
        Grade::D,
        Grade::F,
    ];

    /// `A+`, `A`, …, `F`, or `n/a`.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::APlus => "A+",
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
            Grade::F => "F",
            Grade::NotGraded => "n/a",
        }
    }

    /// 0 for A+ up to 5 for F; `None` when not graded.
    pub fn rank(self) -> Option<usize> {
        Self::LETTERS.iter().position(|g| *g == self)
    }

    /// The worse of two grades; a graded letter wins over `n/a`.
    pub fn worst(self, other: Grade) -> Grade {
        match (self.rank(), other.rank()) {
            (Some(a), Some(b)) => Self::LETTERS[a.max(b)],
            (Some(_), None) => self,
            (None, _) => other,
        }
    }

    /// This grade lowered `steps` letters, but not below `floor`.
    pub fn lowered(self, steps: usize, floor: Grade) -> Grade {
        match (self.rank(), floor.rank()) {
            (Some(a), Some(f)) => Self::LETTERS[(a + steps).min(f.max(a))],
            _ => self,
        }
    }

    /// A CSS-friendly color per grade (shields palette).
    pub fn color(self) -> &'static str {
        match self {
            Grade::APlus => "#44cc11",
            Grade::A => "#97ca00",
            Grade::B => "#a4a61d",
            Grade::C => "#dfb317",
            Grade::D => "#fe7d37",
            Grade::F => "#e05d44",
            Grade::NotGraded => "#9f9f9f",
        }
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The grade of one (spec version, role) bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGrade {
    /// The spec version, or `any` when neither the cases nor the run name one.
    pub spec: String,
    /// The role.
    pub role: Role,
    /// The grade.
    pub grade: Grade,
    /// Cases that met their requirement (passed or waived but passed).
    pub passed: usize,
    /// Cases that reached a verdict (all but errored and skipped).
    pub judged: usize,
    /// All cases in the bucket.
    pub total: usize,
    /// Why the grade is what it is, most severe first.
    pub reasons: Vec<String>,
}

/// Grades every (spec version, role) bucket of a run. Buckets follow the order of the
/// header's spec versions (others after, sorted), then the order of [`Role::ALL`].
pub fn grade_run(header: &RunHeader, cases: &[CaseResult], interrupted: bool) -> Vec<RoleGrade> {
    let mut buckets: BTreeMap<(usize, String, Role), Vec<&CaseResult>> = BTreeMap::new();
    for c in cases {
        for spec in specs_of(header, c) {
            let pos = header
                .spec_versions
                .iter()
                .position(|s| s == spec)
                .unwrap_or(usize::MAX);
            for role in roles_of(header, c) {
                buckets
                    .entry((pos, spec.to_owned(), role))
                    .or_default()
                    .push(c);
            }
        }
    }
    buckets
        .into_iter()
        .map(|((_, spec, role), cases)| grade_bucket(spec, role, &cases, interrupted))
        .collect()
}

/// The lowest graded bucket, or `n/a` when none is graded.
pub fn overall(grades: &[RoleGrade]) -> Grade {
    grades
        .iter()
        .fold(Grade::NotGraded, |acc, g| acc.worst(g.grade))
}

/// Grades one bucket of cases by the rules in the module documentation.
pub fn grade_bucket(
    spec: String,
    role: Role,
    cases: &[&CaseResult],
    interrupted: bool,
) -> RoleGrade {
    let mut failed: BTreeMap<Level, Vec<&str>> = BTreeMap::new();
    let mut waived: BTreeMap<Level, Vec<&str>> = BTreeMap::new();
    let mut errored = Vec::new();
    let mut stale = Vec::new();
    let (mut passed, mut judged, mut skipped) = (0, 0, 0);
    for c in cases {
        if c.status.is_judged() {
            judged += 1;
        }
        match c.status {
            Status::Passed => passed += 1,
            Status::WaivedButPassed => {
                passed += 1;
                stale.push(c.case.as_str());
            }
            Status::Failed => push_unique(failed.entry(c.level).or_default(), &c.requirement),
            Status::Waived => push_unique(waived.entry(c.level).or_default(), &c.requirement),
            Status::Errored => errored.push(c.case.as_str()),
            Status::Skipped => skipped += 1,
        }
    }

    let mut grade = Grade::APlus;
    let mut reasons = Vec::new();
    let mut cap = |g: Grade, reason: String, grade: &mut Grade| {
        *grade = grade.worst(g);
        reasons.push(reason);
    };
    let none = Vec::new();
    let failed_at = |l: Level| failed.get(&l).unwrap_or(&none);
    let waived_at = |l: Level| waived.get(&l).unwrap_or(&none);

    if judged == 0 {
        let mut r = format!(
            "no case could be judged ({} errored, {} skipped)",
            errored.len(),
            skipped
        );
        if interrupted {
            r.push_str("; the run was interrupted");
        }
        return RoleGrade {
            spec,
            role,
            grade: Grade::NotGraded,
            passed,
            judged,
            total: cases.len(),
            reasons: vec![r],
        };
    }
    let must = failed_at(Level::Must);
    if !must.is_empty() {
        cap(
            Grade::F,
            format!("MUST not met: {}", list(must)),
            &mut grade,
        );
    }
    if !errored.is_empty() {
        cap(
            Grade::C,
            format!(
                "could not judge {} (errored): {}",
                plural(errored.len(), "case"),
                list(&errored)
            ),
            &mut grade,
        );
    }
    if interrupted {
        cap(
            Grade::C,
            "the run was interrupted: not every case ran".to_owned(),
            &mut grade,
        );
    }
    let should = failed_at(Level::Should);
    if !should.is_empty() {
        cap(
            Grade::A.lowered(should.len(), Grade::D),
            format!(
                "SHOULD not met ({}, one step each): {}",
                plural(should.len(), "requirement"),
                list(should)
            ),
            &mut grade,
        );
    }
    let waived_must = waived_at(Level::Must);
    if !waived_must.is_empty() {
        cap(
            Grade::B,
            format!("MUST waived: {}", list(waived_must)),
            &mut grade,
        );
    }
    let mut waived_other: Vec<&str> = waived_at(Level::Should).clone();
    waived_other.extend(waived_at(Level::May));
    if !waived_other.is_empty() {
        cap(
            Grade::A,
            format!("SHOULD/MAY waived: {}", list(&waived_other)),
            &mut grade,
        );
    }
    let may = failed_at(Level::May);
    if !may.is_empty() {
        cap(Grade::A, format!("MAY not met: {}", list(may)), &mut grade);
    }
    if !stale.is_empty() {
        cap(
            Grade::A,
            format!("waiver no longer needed (case passed): {}", list(&stale)),
            &mut grade,
        );
    }
    if skipped > 0 {
        reasons.push(format!(
            "{} skipped (not applicable)",
            plural(skipped, "case")
        ));
    }
    if grade == Grade::APlus {
        let noun = if judged == 1 { "case" } else { "cases" };
        reasons.insert(0, format!("all {judged} judged {noun} passed"));
    }
    RoleGrade {
        spec,
        role,
        grade,
        passed,
        judged,
        total: cases.len(),
        reasons,
    }
}

fn push_unique<'a>(v: &mut Vec<&'a str>, id: &'a str) {
    if !v.contains(&id) {
        v.push(id);
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `a, b, c` or `a, b, c, d, e and 3 more`.
fn list(ids: &[&str]) -> String {
    let shown = ids
        .iter()
        .take(MAX_IDS_IN_REASON)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > MAX_IDS_IN_REASON {
        format!("{shown} and {} more", ids.len() - MAX_IDS_IN_REASON)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Suite;

    fn case(req: &str, level: Level, status: Status) -> CaseResult {
        CaseResult::new(format!("{req}/x"), req, level, status, "m")
    }

    fn grade_of(cases: &[CaseResult]) -> RoleGrade {
        let refs: Vec<&CaseResult> = cases.iter().collect();
        grade_bucket("0.4.1".into(), Role::Listener, &refs, false)
    }

    #[test]
    fn clean_sheet_is_a_plus() {
        let g = grade_of(&[
            case("L-1", Level::Must, Status::Passed),
            case("L-2", Level::Should, Status::Passed),
            case("L-3", Level::May, Status::Skipped),
        ]);
        assert_eq!(g.grade, Grade::APlus);
        assert_eq!(
            g.reasons,
            [
                "all 2 judged cases passed",
                "1 case skipped (not applicable)"
            ]
        );
        assert_eq!((g.passed, g.judged, g.total), (2, 2, 3));
    }

    #[test]
    fn must_failure_is_f_and_names_up_to_five_ids() {
        let mut cases: Vec<CaseResult> = (1..=7)
            .map(|i| case(&format!("L-{i}"), Level::Must, Status::Failed))
            .collect();
        cases.push(case("L-1", Level::Must, Status::Failed));
        let g = grade_of(&cases);
        assert_eq!(g.grade, Grade::F);
        assert_eq!(
            g.reasons[0],
            "MUST not met: L-1, L-2, L-3, L-4, L-5 and 2 more"
        );
    }

    #[test]
    fn errored_caps_at_c() {
        let g = grade_of(&[
            case("L-1", Level::Must, Status::Passed),
            case("L-2", Level::Must, Status::Errored),
        ]);
        assert_eq!(g.grade, Grade::C);
        assert_eq!(g.reasons, ["could not judge 1 case (errored): L-2/x"]);
        // An error does not hide a failure.
        let g = grade_of(&[
            case("L-1", Level::Must, Status::Failed),
            case("L-2", Level::Must, Status::Errored),
        ]);
        assert_eq!(g.grade, Grade::F);
    }

    #[test]
    fn should_failures_step_down_per_requirement_to_d() {
        let shoulds = |n: usize| -> Vec<CaseResult> {
            let mut v = vec![case("L-0", Level::Must, Status::Passed)];
            for i in 0..n {
                v.push(case(&format!("S-{i}"), Level::Should, Status::Failed));
                v.push(case(&format!("S-{i}"), Level::Should, Status::Failed));
            }
            v
        };
        assert_eq!(grade_of(&shoulds(1)).grade, Grade::B);
        assert_eq!(grade_of(&shoulds(2)).grade, Grade::C);
        assert_eq!(grade_of(&shoulds(3)).grade, Grade::D);
        assert_eq!(grade_of(&shoulds(6)).grade, Grade::D);
        assert_eq!(
            grade_of(&shoulds(2)).reasons,
            ["SHOULD not met (2 requirements, one step each): S-0, S-1"]
        );
    }

    #[test]
    fn may_failures_and_waivers() {
        let g = grade_of(&[
            case("L-1", Level::Must, Status::Passed),
            case("M-1", Level::May, Status::Failed),
        ]);
        assert_eq!(
            (g.grade, g.reasons[0].as_str()),
            (Grade::A, "MAY not met: M-1")
        );

        let g = grade_of(&[case("L-1", Level::Must, Status::Waived)]);
        assert_eq!(
            (g.grade, g.reasons[0].as_str()),
            (Grade::B, "MUST waived: L-1")
        );

        let g = grade_of(&[case("S-1", Level::Should, Status::Waived)]);
        assert_eq!(g.grade, Grade::A);

        let g = grade_of(&[case("L-1", Level::Must, Status::WaivedButPassed)]);
        assert_eq!(g.grade, Grade::A);
        assert_eq!(g.reasons, ["waiver no longer needed (case passed): L-1/x"]);
    }

    #[test]
    fn nothing_judged_is_not_graded() {
        let g = grade_of(&[
            case("L-1", Level::Must, Status::Errored),
            case("L-2", Level::Must, Status::Skipped),
        ]);
        assert_eq!(g.grade, Grade::NotGraded);
        assert_eq!(
            g.reasons,
            ["no case could be judged (1 errored, 1 skipped)"]
        );
    }

    #[test]
    fn interrupted_caps_at_c() {
        let c = [case("L-1", Level::Must, Status::Passed)];
        let refs: Vec<&CaseResult> = c.iter().collect();
        let g = grade_bucket("0.4.1".into(), Role::Sender, &refs, true);
        assert_eq!(g.grade, Grade::C);
    }

    #[test]
    fn buckets_by_spec_and_role() {
        let mut header = RunHeader::new(Suite::Listener, "0", "t");
        header.spec_versions = vec!["0.4.1".into(), "0.3.0".into()];
        let mut a = case("L-1", Level::Must, Status::Failed);
        a.spec = Some("0.3.0".into());
        let b = case("L-2", Level::Must, Status::Passed); // both specs, default role
        let mut c = case("I-1", Level::Should, Status::Passed);
        c.spec = Some("0.4.1".into());
        c.roles = vec![Role::Intermediary, Role::Listener, Role::Intermediary];
        let grades = grade_run(&header, &[a, b, c], false);
        let keys: Vec<(String, Role, Grade)> = grades
            .iter()
            .map(|g| (g.spec.clone(), g.role, g.grade))
            .collect();
        assert_eq!(
            keys,
            [
                ("0.4.1".to_owned(), Role::Listener, Grade::APlus),
                ("0.4.1".to_owned(), Role::Intermediary, Grade::APlus),
                ("0.3.0".to_owned(), Role::Listener, Grade::F),
            ]
        );
        assert_eq!(overall(&grades), Grade::F);
        assert_eq!(overall(&[]), Grade::NotGraded);
    }

    #[test]
    fn letter_arithmetic() {
        assert_eq!(Grade::A.lowered(1, Grade::D), Grade::B);
        assert_eq!(Grade::A.lowered(9, Grade::D), Grade::D);
        assert_eq!(Grade::F.lowered(1, Grade::D), Grade::F);
        assert_eq!(Grade::B.worst(Grade::NotGraded), Grade::B);
        assert_eq!(Grade::NotGraded.worst(Grade::C), Grade::C);
        assert_eq!(serde_json::to_string(&Grade::APlus).unwrap(), "\"A+\"");
        assert_eq!(serde_json::to_string(&Grade::NotGraded).unwrap(), "\"n/a\"");
    }
}
