//! The interop matrix with an independent implementation: the CDEvents project's Rust SDK
//! (`cdevents-sdk`, with its `cloudevents` feature).
//!
//! - [`sdk_sender`] and [`sdk_listener`] are small targets built on the SDK;
//! - [`measure`] runs the sender suite against the SDK sender, the listener suite against the
//!   SDK listener, and every pair of the sender × listener matrix (reference and SDK, each way);
//! - [`findings`] explains each finding against the SDK; the trials below assert that each is
//!   still observed and that nothing failed unexplained;
//! - [`render`] writes `docs/interop.md`, checked current like `docs/requirements.md`
//!   (`UPDATE_INTEROP=1` rewrites it).
//!
//! No libtest harness: run as `<this binary> --sdk-sender MODE` with `CDEVENTS_SINK_URL` set,
//! the binary is the SDK sender (the matrix starts it that way, as `test sender --trigger` would).

mod findings;
mod measure;
mod render;
mod sdk_listener;
mod sdk_sender;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use cdevents_reports::model::{CaseResult, Status};
use cdevents_schemas::Registry;
use cdevents_suites::reference::listener::Fault;
use cdevents_suites::wire::Mode;
use libtest_mimic::{Arguments, Failed, Trial};

use findings::{Seen, FINDINGS};
use measure::{not_passed, ListenerKind, SenderKind};
use render::{Measured, REGENERATE};
use sdk_sender::SdkMode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--sdk-sender") {
        return ExitCode::from(sdk_sender::child_main(argv.get(2).map(String::as_str)) as u8);
    }
    let args = Arguments::from_args();
    let trials = vec![
        Trial::test("interop/matrix", matrix),
        Trial::test("interop/sdk-sender/findings", sdk_sender_findings),
        Trial::test("interop/sdk-listener/findings", sdk_listener_findings),
        Trial::test("interop/round-trip", round_trip),
        Trial::test("interop/matrix-shows-a-broken-pair", broken_pair),
        Trial::test("interop/doc-is-current", doc_is_current),
        Trial::test("interop/one-cloudevents-sdk", one_cloudevents_sdk),
        Trial::test("interop/explanations-can-fail", explanations_can_fail),
    ];
    libtest_mimic::run(&args, trials).exit_code()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Everything, measured once for all trials.
fn measured() -> &'static Measured {
    static M: OnceLock<Measured> = OnceLock::new();
    M.get_or_init(|| runtime().block_on(measure_all()))
}

async fn measure_all() -> Measured {
    let registry = Registry::embedded().expect("the embedded registry");
    let mut senders = Vec::new();
    for kind in SenderKind::ALL {
        senders.push(measure::record(kind, &registry).await);
    }
    let listeners = vec![ListenerKind::Reference(None), ListenerKind::Sdk];
    let mut cells = Vec::new();
    for s in &senders {
        let mut row = Vec::new();
        for l in &listeners {
            row.push(measure::pair(s, *l).await);
        }
        cells.push(row);
    }
    let sdk_listener = measure::listener_suite(ListenerKind::Sdk, &measure::SDK_SPECS).await;
    let reference_binary = senders
        .iter()
        .find(|s| s.kind == SenderKind::Reference(Mode::Binary))
        .expect("the reference sender's binary run");
    let round_trip = measure::sdk_round_trip(reference_binary, &registry).await;
    Measured {
        sdk_version: locked_version("cdevents-sdk"),
        cloudevents_version: locked_version("cloudevents-sdk"),
        senders,
        listeners,
        cells,
        sdk_listener,
        round_trip,
    }
}

fn workspace() -> PathBuf {
    let suites = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    suites.parent().unwrap_or(&suites).to_path_buf()
}

/// The version of `name` in the workspace's Cargo.lock: the one this test was built with.
fn locked_version(name: &str) -> String {
    let lock = std::fs::read_to_string(workspace().join("Cargo.lock")).unwrap_or_default();
    let needle = format!("name = \"{name}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|at| {
            let rest = &lock[at + needle.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .unwrap_or_else(|| "(not in Cargo.lock)".into())
}

/// The not-passed cases no finding of `seen` explains, and the findings of `seen` that none of
/// `cases` shows.
fn explain(cases: &[&CaseResult], seen: Seen, expect: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    for c in cases {
        if !FINDINGS.iter().any(|f| f.seen_in(seen) && f.matches(c)) {
            problems.push(format!(
                "unexplained: {} {:?}: {} | {:?}",
                c.case, c.status, c.message, c.actual
            ));
        }
    }
    for key in expect {
        let f = FINDINGS
            .iter()
            .find(|f| f.key == *key)
            .expect("a known finding key");
        if !cases.iter().any(|c| f.matches(c)) {
            problems.push(format!(
                "finding `{key}` ({}) is no longer observed: if the SDK fixed it, retire it in \
                 suites/tests/interop/findings.rs and run `{REGENERATE}`",
                f.title
            ));
        }
    }
    problems
}

fn verdict(problems: Vec<String>) -> Result<(), Failed> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

/// The sender suite against the SDK sender, per mode: exactly the findings explained.
fn sdk_sender_findings() -> Result<(), Failed> {
    let m = measured();
    let mut problems = Vec::new();
    for s in &m.senders {
        let SenderKind::Sdk(mode) = s.kind else {
            continue;
        };
        if s.cases.is_empty() || s.manifest.len() != 10 {
            problems.push(format!(
                "{}: {} cases, {} manifest entries",
                s.kind.name(),
                s.cases.len(),
                s.manifest.len()
            ));
        }
        let expect: &[&str] = match mode {
            SdkMode::Binary => &["specversion-0.5.0", "header-not-percent-encoded"],
            SdkMode::Structured | SdkMode::Batch => &["specversion-0.5.0"],
        };
        for p in explain(&not_passed(&s.cases), Seen::SdkSender, expect) {
            problems.push(format!("{}: {p}", s.kind.name()));
        }
    }
    verdict(problems)
}

/// The listener suite against the SDK listener: exactly the findings explained.
fn sdk_listener_findings() -> Result<(), Failed> {
    let m = measured();
    let passed = m
        .sdk_listener
        .iter()
        .filter(|c| c.status == Status::Passed)
        .count();
    if passed < 150 {
        return Err(format!(
            "only {passed} of {} cases passed: the SDK listener did not run",
            m.sdk_listener.len()
        )
        .into());
    }
    verdict(explain(
        &not_passed(&m.sdk_listener),
        Seen::SdkListener,
        &[
            "deny-unknown-fields",
            "no-percent-decoding",
            "text-plain-taken",
            "400-not-415",
            "repository-url-uri",
        ],
    ))
}

/// The explanation check fails on a listener that is not the SDK: the reference listener
/// broken with `empty-200` shows none of the SDK's findings and fails WH-006, which no
/// finding explains.
fn explanations_can_fail() -> Result<(), Failed> {
    let broken = ListenerKind::Reference(Some(Fault::Empty200));
    let results = runtime().block_on(measure::listener_suite(
        broken,
        &[cdevents_schemas::SpecVersion::V0_5_1],
    ));
    let problems = explain(
        &not_passed(&results),
        Seen::SdkListener,
        &["deny-unknown-fields", "no-percent-decoding"],
    );
    let unexplained = problems
        .iter()
        .any(|p| p.starts_with("unexplained: WH-006"));
    let missing = problems
        .iter()
        .filter(|p| p.contains("is no longer observed"))
        .count();
    if unexplained && missing == 2 {
        Ok(())
    } else {
        Err(format!("the check did not fail as it should: {problems:#?}").into())
    }
}

/// What the SDK listener forwards passes the sender suite.
fn round_trip() -> Result<(), Failed> {
    let m = measured();
    let judged = m
        .round_trip
        .iter()
        .filter(|c| c.status == Status::Passed)
        .count();
    if judged == 0 {
        return Err("nothing was forwarded".into());
    }
    verdict(explain(&not_passed(&m.round_trip), Seen::RoundTrip, &[]))
}

/// Which pairs interoperate, and how many events each listener takes of each sender.
const EXPECTED: &[(&str, [(bool, usize); 2])] = &[
    ("reference sender (binary)", [(true, 9), (true, 9)]),
    ("reference sender (structured)", [(true, 9), (true, 9)]),
    ("reference sender (batch)", [(true, 9), (false, 0)]),
    ("SDK sender (binary)", [(false, 2), (true, 10)]),
    ("SDK sender (structured)", [(false, 2), (true, 10)]),
    ("SDK sender (batch)", [(false, 1), (false, 0)]),
];

fn matrix() -> Result<(), Failed> {
    let m = measured();
    let mut problems = Vec::new();
    for (s, row) in m.senders.iter().zip(&m.cells) {
        for (cell, l) in row.iter().zip(&m.listeners) {
            for why in cell.refusals.keys() {
                if findings::explaining_refusal(why).is_none() {
                    problems.push(format!(
                        "{} → {}: unexplained refusal: {why}",
                        s.kind.name(),
                        l.name()
                    ));
                }
            }
        }
    }
    for ((s, row), (name, expected)) in m.senders.iter().zip(&m.cells).zip(EXPECTED) {
        if s.kind.name() != *name {
            problems.push(format!("row {} is not {name}", s.kind.name()));
        }
        for ((cell, l), (ok, taken)) in row.iter().zip(&m.listeners).zip(expected) {
            if cell.interoperates() != *ok || cell.taken != *taken {
                problems.push(format!(
                    "{name} → {}: expected {taken} taken (interoperates: {ok}), got {cell:?}",
                    l.name()
                ));
            }
        }
    }
    verdict(problems)
}

/// The matrix can show a pair that does not interoperate: a reference listener that refuses
/// structured mode refuses the structured rows, with its 415, and still takes binary mode.
fn broken_pair() -> Result<(), Failed> {
    let m = measured();
    let broken = ListenerKind::Reference(Some(Fault::RejectStructured));
    runtime().block_on(async {
        let mut problems = Vec::new();
        for s in &m.senders {
            let cell = measure::pair(s, broken).await;
            let structured = matches!(
                s.kind,
                SenderKind::Reference(Mode::Structured) | SenderKind::Sdk(SdkMode::Structured)
            );
            let refused_415 = cell.refusals.keys().any(|k| k.starts_with("415"));
            if structured && (cell.taken != 0 || !refused_415) {
                problems.push(format!("{}: not refused with 415: {cell:?}", s.kind.name()));
            }
            if s.kind == SenderKind::Reference(Mode::Binary) && !cell.interoperates() {
                problems.push(format!("{}: binary mode refused: {cell:?}", s.kind.name()));
            }
        }
        verdict(problems)
    })
}

fn doc_is_current() -> Result<(), Failed> {
    let path = workspace().join("docs").join("interop.md");
    let rendered = render::render(measured());
    if std::env::var("UPDATE_INTEROP").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &rendered)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("rewrote {}", path.display());
        return Ok(());
    }
    let current = std::fs::read_to_string(&path)
        .unwrap_or_default()
        .replace("\r\n", "\n");
    if current != rendered {
        let first = current
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "the files differ in length".to_owned(),
                |n| format!("first difference at line {}", n + 1),
            );
        return Err(format!(
            "{} is not the rendering of this test's measurements ({first}); run `{REGENERATE}` \
             and commit the result",
            path.display()
        )
        .into());
    }
    Ok(())
}

/// cdevents-sdk's cloudevents-sdk is the kit's: one copy in the lock file, so an `Event` of
/// one is an `Event` of the other.
fn one_cloudevents_sdk() -> Result<(), Failed> {
    let lock = std::fs::read_to_string(workspace().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let copies = lock.matches("name = \"cloudevents-sdk\"\n").count();
    if copies != 1 {
        return Err(format!("{copies} copies of cloudevents-sdk in Cargo.lock").into());
    }
    if locked_version("cdevents-sdk").starts_with('(') {
        return Err("cdevents-sdk is not in Cargo.lock".into());
    }
    Ok(())
}
