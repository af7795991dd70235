//! `--list` and case selection, shared by every live suite (`test listener|sender|relay`).
//!
//! A suite turns what it would run into [`Entry`]s; [`Selection`] (flattened into the suite's
//! arguments) filters them by id prefix, level, role and spec version, the same way whether
//! the cases are then listed or run. Case ids start with their requirement id, so a prefix
//! such as `LIS-004` or `CDE-CTX-001` selects here as it does as a libtest filter in
//! `cargo test` (the fixture trials of `suites/tests/fixtures.rs` are named `<id>/<version>/…`).

use cdevents_reports::{Level, Role};
use cdevents_schemas::SpecVersion;
use cdevents_suites::requirements::Catalogue;

use crate::cli::{LevelArg, RoleArg};

/// One case a suite would run.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The case id, `<requirement id>/<variant>` (or the requirement id alone).
    pub id: String,
    /// The requirement id.
    pub requirement: String,
    /// The spec version the case is about, when it is one.
    pub spec: Option<SpecVersion>,
    /// What the case does, in words.
    pub what: String,
}

/// Filters on what runs (and what `--list` prints), besides the id prefixes.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Selection")]
pub struct Selection {
    /// Only cases of requirements at this level (repeatable).
    #[arg(long = "level", value_enum, value_name = "LEVEL")]
    pub levels: Vec<LevelArg>,
    /// Only cases of requirements asked of this role (repeatable).
    #[arg(long = "role", value_enum, value_name = "ROLE")]
    pub roles: Vec<RoleArg>,
}

impl Selection {
    /// Whether a case of `requirement` passes the level and role filters, and the id prefixes
    /// (none given: every id).
    pub fn keeps(&self, case_id: &str, requirement: &str, prefixes: &[&String]) -> bool {
        let by_id = prefixes.is_empty() || prefixes.iter().any(|p| case_id.starts_with(p.as_str()));
        if !by_id {
            return false;
        }
        if self.levels.is_empty() && self.roles.is_empty() {
            return true;
        }
        let Some(r) = Catalogue::embedded().get(requirement) else {
            return false;
        };
        (self.levels.is_empty() || self.levels.iter().any(|l| Level::from(*l) == r.level))
            && (self.roles.is_empty() || self.roles.iter().any(|x| r.has_role(Role::from(*x))))
    }
}

/// Prints entries, one per line: `<case id>  <LEVEL>  <spec>  <what>`; returns how many.
pub fn print(entries: &[Entry]) -> usize {
    let width = entries.iter().map(|e| e.id.len()).max().unwrap_or(0);
    for e in entries {
        let level = Catalogue::embedded()
            .get(&e.requirement)
            .map(|r| r.level.as_str())
            .unwrap_or("?");
        let spec = e.spec.map(|v| v.as_str()).unwrap_or("any");
        anstream::println!("{:width$}  {level:<6}  {spec:<11}  {}", e.id, e.what);
    }
    entries.len()
}

/// The requirements a suite judges after the fact (sender, relay): one entry per catalogue
/// record of `role` that applies to one of `specs` and passes the filters. Their cases are
/// named `<requirement id>` or `<requirement id>/<variant>`, so the same prefixes select them.
pub fn requirements_of(
    role: Role,
    specs: &[SpecVersion],
    sel: &Selection,
    prefixes: &[&String],
) -> Vec<Entry> {
    Catalogue::embedded()
        .iter()
        .filter(|r| r.blackbox && r.has_role(role))
        .filter(|r| specs.is_empty() || specs.iter().any(|v| r.applies_to(*v)))
        .filter(|r| {
            // A prefix longer than the id (`SND-006/lost`) still selects its requirement.
            sel.keeps(&r.id, &r.id, &[])
                && (prefixes.is_empty()
                    || prefixes
                        .iter()
                        .any(|p| r.id.starts_with(p.as_str()) || p.starts_with(&r.id)))
        })
        .map(|r| Entry {
            id: r.id.clone(),
            requirement: r.id.clone(),
            spec: None,
            what: r.summary.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_level_role_and_prefix() {
        let must = Selection {
            levels: vec![LevelArg::Must],
            roles: vec![],
        };
        let p = "SND-".to_owned();
        let all = requirements_of(Role::Sender, &[], &Selection::default(), &[&p]);
        let musts = requirements_of(Role::Sender, &[], &must, &[&p]);
        assert!(!musts.is_empty() && musts.len() < all.len());
        for e in &musts {
            assert_eq!(
                Catalogue::embedded().get(&e.requirement).unwrap().level,
                Level::Must
            );
        }
        let listener = Selection {
            levels: vec![],
            roles: vec![RoleArg::Listener],
        };
        assert!(!listener.keeps("SND-001", "SND-001", &[]));
        assert!(!Selection::default().keeps("LIS-004/x", "LIS-004", &[&p]));
        let q = "SND-006/lost".to_owned();
        let one = requirements_of(Role::Sender, &[], &Selection::default(), &[&q]);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].id, "SND-006");
    }
}
