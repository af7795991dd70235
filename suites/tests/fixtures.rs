//! The golden events under `fixtures/`, one libtest-mimic trial each, named after what they
//! prove so that the requirement ids select them:
//!
//! ```text
//! cargo test -p cdevents-suites --test fixtures CDE-CTX      # every context fixture
//! cargo test CDE-CE-004                                      # one requirement, every version
//! cargo test -p cdevents-suites --test fixtures valid/0.5.1  # the valid 0.5.1 events
//! ```
//!
//! # What is run
//!
//! - `fixtures/regressions/*`, first: events that once fooled the checks (shrunk property-test
//!   failures). A file named `valid--<slug>.<ext>` must pass, `<REQ-ID>--<slug>.<ext>` must
//!   fail as an invalid fixture does. The version is the one each event declares.
//! - `fixtures/<version>/valid/**`: one trial per event (per line of an NDJSON stream, per
//!   element of a batch), named `valid/<version>/<path>` (`…/stream.ndjson:3`,
//!   `…/batch.json[1]`). The event must have no MUST finding, and must be judged as the
//!   version of its folder: the version is read from the event, never forced, so version
//!   detection is exercised too.
//! - `fixtures/<version>/invalid/<REQ-ID>--<slug>.<ext>`: one trial per file, named
//!   `<REQ-ID>/<version>/<file>`. Some event of the file must have a finding of `<REQ-ID>`, and
//!   no event may have a MUST finding of any other requirement: a fixture breaks exactly one
//!   rule. Where breaking one rule unavoidably breaks another (a CloudEvents `source` that is
//!   not a URI-reference cannot equal a valid `context.source`), a sidecar
//!   `<REQ-ID>--<slug>.expect` lists the other ids, one per line, `#` starting a comment that
//!   says why; each listed id must then appear too, so the sidecar cannot go stale.
//!   An event judged as another version than its folder's fails the trial too.
//!
//! The items of one file are judged as `validate` judges them: decoded by
//! `input::decode_file`, checked by `EventChecker::check_envelope`, the file's events fed to one
//! `SeenIds` (CDE-CTX-012), and an item that cannot be decoded (bad JSON, garbage, a broken
//! HTTP capture) is a finding of CDE-SCH-002, as `validate` reports it. Fixtures of CDE-CX-002
//! are judged with a schema resolver that refuses every URI (no test fetches anything); all
//! others without one, as `validate` runs by default.
//!
//! Fixtures of CDE-CTX-006 (unknown or missing spec version) are also judged with the folder's
//! version forced (`--spec`), which must leave no MUST finding beyond the expected ones: the
//! rest of the event is well-formed for that version.
//!
//! Four more trials keep the tree honest: every id of `checks::ids::ALL` has an invalid fixture
//! in every version its requirement applies to (but for the few listed, with a reason, in
//! `UNREACHABLE`); every id a file name or sidecar names is in the
//! requirement catalogue and applies to the folder's version; every event type of every
//! version has its `valid/<subject>.<predicate>.json`; and no two fixture events share
//! `context.source` and `context.id`, so that `validate fixtures/` reports no false CDE-CTX-012.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use cdevents_reports::{Finding, Level};
use cdevents_schemas::{catalogue, Registry, SpecVersion};
use cdevents_suites::checks::stream::SeenIds;
use cdevents_suites::checks::{ids, SchemaUriResolver};
use cdevents_suites::input::{decode_file, Item, Limits};
use cdevents_suites::requirements::Catalogue;
use cdevents_suites::selftest::fixtures::{self as judging, event_files, Judged, Offline};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

/// Requirements that no single event breaks alone in one version, each with why. A new entry
/// needs a reason a reviewer can check; an entry whose fixture appears is stale and fails.
const UNREACHABLE: &[(&str, SpecVersion, &str)] = &[(
    "CDE-SCH-001",
    SpecVersion::V0_3_0,
    "every schema error has a more specific id; CDE-SCH-001 counts the errors past the first 32, \
     and no 0.3.0 schema has an array or enough members for an event to reach 33",
)];

/// Requirements whose fixtures are judged with the offline schema resolver.
const SCHEMA_URI_REQUIREMENT: &str = "CDE-CX-002";
/// Requirements whose fixtures are also judged with the folder's version forced.
const VERSION_REQUIREMENT: &str = "CDE-CTX-006";

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = fixtures_root();
    let mut trials = Vec::new();
    trials.extend(regression_trials(&root));
    for v in SpecVersion::ALL {
        let dir = root.join(v.as_str());
        trials.extend(valid_trials(&dir.join("valid"), v));
        trials.extend(invalid_trials(&dir.join("invalid"), v));
    }
    trials.push(Trial::test(
        "fixtures/every-check-id-has-an-invalid-fixture",
        move || coverage(&fixtures_root()),
    ));
    trials.push(Trial::test(
        "fixtures/every-event-type-has-a-valid-fixture",
        move || valid_coverage(&fixtures_root()),
    ));
    trials.push(Trial::test("fixtures/names-are-catalogue-ids", move || {
        names(&fixtures_root())
    }));
    trials.push(Trial::test(
        "fixtures/no-two-events-share-source-and-id",
        move || unique_ids(&fixtures_root()),
    ));
    libtest_mimic::run(&args, trials).exit_code()
}

fn fixtures_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    // Shorter paths in messages: `/…/fixtures/0.5.1/…`, not `/…/suites/../fixtures/…`.
    root.canonicalize().unwrap_or(root)
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::embedded().expect("the embedded registry loads"))
}

/// How to judge a file (the library's judging, `selftest::fixtures`, which `validate` shares).
#[derive(Clone, Copy, Default)]
struct Mode {
    forced: Option<SpecVersion>,
    offline_resolver: bool,
}

impl Mode {
    fn lib(self) -> judging::Mode<'static> {
        judging::Mode {
            forced: self.forced,
            resolver: self
                .offline_resolver
                .then_some(&Offline as &'static dyn SchemaUriResolver),
        }
    }
}

/// Judges one decoded item, with `seen` carrying CDE-CTX-012 across the file.
fn judge(item: Item, mode: Mode, seen: &mut SeenIds) -> Judged {
    judging::judge(registry(), item, mode.lib(), seen)
}

fn judge_file(path: &Path, mode: Mode) -> Vec<Judged> {
    judging::judge_file(registry(), path, mode.lib())
}

fn rel(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// The requirement id a fixture file name starts with: `CDE-CTX-001--missing-id.json`.
fn named_id(file_name: &str) -> Option<&str> {
    let (id, _) = file_name.split_once("--")?;
    is_id_shape(id).then_some(id)
}

/// `PREFIX-AREA-NNN`, e.g. `CDE-CTX-001`.
fn is_id_shape(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3
        && parts[..2]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_uppercase()))
        && parts[2].len() == 3
        && parts[2].chars().all(|c| c.is_ascii_digit())
}

/// The sidecar of a fixture: same stem, `.expect`.
fn sidecar(path: &Path) -> PathBuf {
    path.with_extension("expect")
}

/// The ids a sidecar lists (empty without one).
fn expected_extra(path: &Path) -> Result<BTreeSet<String>, String> {
    let side = sidecar(path);
    let Ok(text) = fs::read_to_string(&side) else {
        return Ok(BTreeSet::new());
    };
    let mut out = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let id = line.split('#').next().unwrap_or("").trim();
        if id.is_empty() {
            continue;
        }
        if !is_id_shape(id) {
            return Err(format!(
                "{}:{}: {id:?} is not a requirement id",
                side.display(),
                n + 1
            ));
        }
        out.insert(id.to_owned());
    }
    Ok(out)
}

fn render(judged: &[Judged]) -> String {
    let mut s = String::new();
    for j in judged {
        let spec = j.spec.map(|v| v.as_str()).unwrap_or("no version");
        if j.findings.is_empty() {
            let _ = writeln!(s, "  {} ({spec}): no finding", j.location);
        }
        for f in &j.findings {
            let _ = writeln!(
                s,
                "  {} ({spec}): {:<6} {} {} {}",
                j.location,
                f.level.as_str(),
                f.id,
                f.pointer,
                f.message
            );
        }
    }
    s
}

fn requirement_line(id: &str) -> String {
    match Catalogue::embedded().get(id) {
        Some(r) => format!(
            "{id} ({} {}, {}): {}",
            r.level.as_str(),
            r.spec,
            r.section,
            r.summary
        ),
        None => format!("{id}: not in the requirement catalogue"),
    }
}

/// The rule of a valid fixture item.
fn check_valid(j: &Judged, folder: Option<SpecVersion>) -> Result<(), Failed> {
    let must: Vec<&Finding> = j
        .findings
        .iter()
        .filter(|f| f.level == Level::Must)
        .collect();
    let mut problems = Vec::new();
    if !must.is_empty() {
        let ids: BTreeSet<&str> = must.iter().map(|f| f.id.as_str()).collect();
        problems.push(format!(
            "a valid fixture has MUST findings: {}",
            ids.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(v) = folder {
        if j.spec != Some(v) {
            problems.push(format!(
                "the event lies under fixtures/{v}/ but was judged as {}",
                j.spec.map(|s| s.as_str()).unwrap_or("no version")
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}\nExpected: no MUST finding{}\nActual:\n{}",
        problems.join("\n"),
        folder
            .map(|v| format!(", judged as {v}"))
            .unwrap_or_default(),
        render(std::slice::from_ref(j))
    )
    .into())
}

/// The rule of an invalid fixture file.
fn check_invalid(path: &Path, id: &str, folder: Option<SpecVersion>) -> Result<(), Failed> {
    let extra = expected_extra(path)?;
    let mut allowed = extra.clone();
    allowed.insert(id.to_owned());
    let mode = Mode {
        forced: None,
        offline_resolver: id == SCHEMA_URI_REQUIREMENT,
    };
    let judged = judge_file(path, mode);
    let found: BTreeSet<&str> = judged
        .iter()
        .flat_map(|j| j.findings.iter().map(|f| f.id.as_str()))
        .collect();
    let mut problems = Vec::new();
    if !found.contains(id) {
        problems.push(format!("no finding of {id}"));
    }
    for e in &extra {
        if !found.contains(e.as_str()) {
            problems.push(format!(
                "{e} is listed in {} but not found: remove it from the sidecar",
                sidecar(path).display()
            ));
        }
    }
    let unexpected: BTreeSet<&str> = judged
        .iter()
        .flat_map(|j| &j.findings)
        .filter(|f| f.level == Level::Must && !allowed.contains(&f.id))
        .map(|f| f.id.as_str())
        .collect();
    if !unexpected.is_empty() {
        problems.push(format!(
            "MUST findings of other requirements: {} (a fixture breaks one rule; list an unavoidable one in {})",
            unexpected.into_iter().collect::<Vec<_>>().join(", "),
            sidecar(path).display()
        ));
    }
    if let Some(v) = folder {
        for j in &judged {
            if j.spec.is_some_and(|s| s != v) {
                problems.push(format!(
                    "{} lies under fixtures/{v}/ but was judged as {}",
                    j.location,
                    j.spec.map(|s| s.as_str()).unwrap_or("")
                ));
            }
        }
        if id == VERSION_REQUIREMENT {
            let forced = judge_file(
                path,
                Mode {
                    forced: Some(v),
                    ..mode
                },
            );
            let left: BTreeSet<&str> = forced
                .iter()
                .flat_map(|j| &j.findings)
                .filter(|f| f.level == Level::Must && !allowed.contains(&f.id))
                .map(|f| f.id.as_str())
                .collect();
            if !left.is_empty() {
                problems.push(format!(
                    "judged as {v} (--spec {v}) the event breaks more than its version: {}\n{}",
                    left.into_iter().collect::<Vec<_>>().join(", "),
                    render(&forced)
                ));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let expected = if extra.is_empty() {
        format!("a finding of {id} and no MUST finding of another requirement")
    } else {
        format!(
            "findings of {id} and {}, and no MUST finding of another requirement",
            extra.iter().cloned().collect::<Vec<_>>().join(", ")
        )
    };
    Err(format!(
        "{}\n{}\nExpected: {expected}\nActual:\n{}",
        requirement_line(id),
        problems.join("\n"),
        render(&judged)
    )
    .into())
}

/// Trials of the valid events of one folder: one per item.
fn valid_trials(dir: &Path, v: SpecVersion) -> Vec<Trial> {
    let mut trials = Vec::new();
    for path in event_files(dir) {
        let file = rel(&path, dir);
        let suffixes: Vec<String> = decode_file(&path, &Limits::default())
            .map(|item| match (item.location.line, item.location.index) {
                (Some(l), Some(i)) => format!(":{l}[{i}]"),
                (Some(l), None) => format!(":{l}"),
                (None, Some(i)) => format!("[{i}]"),
                (None, None) => String::new(),
            })
            .collect();
        for (k, suffix) in suffixes.into_iter().enumerate() {
            let path = path.clone();
            trials.push(Trial::test(
                format!("valid/{v}/{file}{suffix}"),
                move || {
                    // The whole file is judged, so that CDE-CTX-012 sees its events in order.
                    let judged = judge_file(&path, Mode::default());
                    let j = judged
                        .get(k)
                        .ok_or("the file decodes to fewer items than listed")?;
                    check_valid(j, Some(v))
                },
            ));
        }
    }
    trials
}

/// Trials of the invalid fixtures of one folder: one per file.
fn invalid_trials(dir: &Path, v: SpecVersion) -> Vec<Trial> {
    event_files(dir)
        .into_iter()
        .map(|path| {
            let file = rel(&path, dir);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match named_id(&name).map(str::to_owned) {
                Some(id) => Trial::test(format!("{id}/{v}/{file}"), move || {
                    check_invalid(&path, &id, Some(v))
                }),
                None => Trial::test(format!("unnamed/{v}/{file}"), move || {
                    Err(format!(
                        "{}: an invalid fixture is named <REQ-ID>--<slug>.<ext>",
                        path.display()
                    )
                    .into())
                }),
            }
        })
        .collect()
}

/// Trials of `fixtures/regressions/`: `valid--*` must pass, `<REQ-ID>--*` must fail as named.
fn regression_trials(root: &Path) -> Vec<Trial> {
    let dir = root.join("regressions");
    event_files(&dir)
        .into_iter()
        .filter(|path| !path.starts_with(dir.join("fuzz")))
        .map(|path| {
            let file = rel(&path, &dir);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with("valid--") {
                Trial::test(format!("valid/regressions/{file}"), move || {
                    let mut seen = SeenIds::default();
                    let items: Vec<Item> = decode_file(&path, &Limits::default()).collect();
                    for item in items {
                        check_valid(&judge(item, Mode::default(), &mut seen), None)?;
                    }
                    Ok(())
                })
            } else if let Some(id) = named_id(&name).map(str::to_owned) {
                Trial::test(format!("{id}/regressions/{file}"), move || {
                    check_invalid(&path, &id, None)
                })
            } else {
                Trial::test(format!("unnamed/regressions/{file}"), move || {
                    Err(format!(
                        "{}: a regression is named valid--<slug>.<ext> or <REQ-ID>--<slug>.<ext>",
                        path.display()
                    )
                    .into())
                })
            }
        })
        .collect()
}

/// The requirement ids that have an invalid fixture, per version folder.
fn fixture_ids(root: &Path) -> BTreeMap<SpecVersion, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for v in SpecVersion::ALL {
        let dir = root.join(v.as_str()).join("invalid");
        let set: BTreeSet<String> = event_files(&dir)
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .filter_map(|n| named_id(&n).map(str::to_owned))
            .collect();
        out.insert(v, set);
    }
    out
}

/// Every id the event checks report has an invalid fixture in each version it applies to.
fn coverage(root: &Path) -> Result<(), Failed> {
    let have = fixture_ids(root);
    let mut missing = Vec::new();
    for id in ids::ALL {
        let Some(r) = Catalogue::embedded().get(id) else {
            missing.push(format!("{id}: not in the requirement catalogue"));
            continue;
        };
        for v in SpecVersion::ALL {
            let exempt = UNREACHABLE.iter().any(|(u, uv, _)| u == id && *uv == v);
            let has = have[&v].contains(*id);
            if exempt && (has || !r.applies_to(v)) {
                missing.push(format!(
                    "UNREACHABLE lists {id} for {v}, which is stale: remove it"
                ));
            } else if r.applies_to(v) && !has && !exempt {
                missing.push(format!("fixtures/{v}/invalid/{id}--<slug>.<ext>"));
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} invalid fixtures are missing (each id of checks::ids::ALL needs one in every version its requirement applies to):\n  {}",
        missing.len(),
        missing.join("\n  ")
    )
    .into())
}

/// Every event type of every version has `valid/<subject>.<predicate>.json` of that type.
fn valid_coverage(root: &Path) -> Result<(), Failed> {
    let mut problems = Vec::new();
    for v in SpecVersion::ALL {
        for def in &catalogue::for_version(v).events {
            let path = root
                .join(v.as_str())
                .join("valid")
                .join(format!("{}.json", def.short_name()));
            let declared = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|ev| {
                    ev.pointer("/context/type")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
            match declared {
                Some(t) if t == def.type_name => {}
                Some(t) => problems.push(format!(
                    "{} declares {t}, expected {}",
                    path.display(),
                    def.type_name
                )),
                None => problems.push(format!(
                    "{} is missing or has no context.type ({})",
                    path.display(),
                    def.type_name
                )),
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

/// Every file under `dir`, recursively, sorted.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Names: ids are catalogue ids that apply to the folder's version; sidecars belong to a
/// fixture; no file in an `invalid/` folder is left unrun.
fn names(root: &Path) -> Result<(), Failed> {
    let cat = Catalogue::embedded();
    let mut problems = Vec::new();
    for path in all_files(root) {
        let r = rel(&path, root);
        let parts: Vec<&str> = r.split('/').collect();
        let name = parts.last().copied().unwrap_or_default();
        // Fuzz regressions are raw inputs of `suites/tests/fuzz.rs`, replayed there.
        if name == "README.md" || r.starts_with("regressions/fuzz/") {
            continue;
        }
        let version = parts.first().and_then(|p| p.parse::<SpecVersion>().ok());
        let kind = parts.get(1).copied();
        let under_invalid = version.is_some() && kind == Some("invalid");
        let under_regressions = parts.first() == Some(&"regressions");
        let runnable = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("json" | "ndjson" | "jsonl" | "http")
        );
        let is_sidecar = path.extension().is_some_and(|e| e == "expect");
        if version.is_none() && !under_regressions {
            problems.push(format!(
                "{r}: fixtures live under <version>/valid, <version>/invalid or regressions/"
            ));
            continue;
        }
        if version.is_some() && !matches!(kind, Some("valid" | "invalid")) {
            problems.push(format!(
                "{r}: a version folder holds only valid/ and invalid/"
            ));
            continue;
        }
        if !(runnable || (is_sidecar && (under_invalid || under_regressions))) {
            problems.push(format!(
                "{r}: not an event file (.json, .ndjson, .jsonl, .http) nor a sidecar (.expect): it would never run"
            ));
            continue;
        }
        let mut ids = Vec::new();
        if under_invalid || (under_regressions && !name.starts_with("valid--")) {
            match named_id(name) {
                Some(id) => ids.push(id.to_owned()),
                None => problems.push(format!("{r}: not named <REQ-ID>--<slug>.<ext>")),
            }
        }
        if is_sidecar {
            let has_fixture = ["json", "ndjson", "jsonl", "http"]
                .iter()
                .any(|ext| path.with_extension(ext).is_file());
            if !has_fixture {
                problems.push(format!("{r}: a sidecar without its fixture"));
            }
            match expected_extra(&path) {
                Ok(extra) => ids.extend(extra),
                Err(e) => problems.push(e),
            }
        }
        for id in ids {
            match cat.get(&id) {
                None => problems.push(format!("{r}: {id} is not in the requirement catalogue")),
                Some(req) => {
                    if let Some(v) = version {
                        if !req.applies_to(v) {
                            problems.push(format!(
                                "{r}: {id} does not apply to {v} (it applies to {})",
                                req.versions.join(", ")
                            ));
                        }
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

/// No two events anywhere under `fixtures/` share source and id, as `validate fixtures/`
/// would see them, except inside the fixtures of CDE-CTX-012 that do so on purpose.
fn unique_ids(root: &Path) -> Result<(), Failed> {
    let mut seen = SeenIds::default();
    let mut problems = Vec::new();
    for path in event_files(root) {
        let on_purpose = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(ids::UNIQUE_ID));
        for item in decode_file(&path, &Limits::default()) {
            let Ok(env) = item.result else { continue };
            if let Some(f) = seen.observe(&env.cdevent) {
                if !on_purpose {
                    problems.push(format!("{}: {}", item.location, f.message));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fixture events share context.source and context.id; give each its own id:\n  {}",
            problems.join("\n  ")
        )
        .into())
    }
}
