//! Throughput of `validate` against serde_json parse-only, on the same corpus in the same run.
//!
//! ```text
//! cargo bench -p cdevents-conformance --bench validate                  # 100,000 events, 5 rounds
//! cargo bench -p cdevents-conformance --bench validate -- --events 20000 --rounds 3
//! cargo bench -p cdevents-conformance --bench validate -- --generate 1000000 target/bench/c.ndjson
//! ```
//!
//! Run it pinned to one core (`taskset -c 0`, as `ci/bench.sh` does): everything below is
//! single-threaded, and pinning keeps the child `validate` process on the same core.
//!
//! What is measured, each round in turn on the same NDJSON corpus (see `corpus.rs`):
//! - **parse-only** (the baseline): read the file line by line through a `BufReader` and
//!   `serde_json::from_slice::<Value>` each line;
//! - **pipeline**, in-process: `input::decode_file` (the `NdjsonReader` that `validate` uses) →
//!   `EventChecker::check_envelope` plus the run-wide id uniqueness check → the JSON output
//!   line, rendered into a buffered sink. Its output is compared byte for byte with the
//!   binary's (`--format json`) before anything is timed, so the rendering cannot drift from
//!   what `validate` prints;
//! - the stages of the pipeline (decode only; decode + checks), to tell where time goes;
//! - **binary**, end-to-end: `cdevents-conformance validate --format json CORPUS > /dev/null`,
//!   process start and schema compilation included.
//!
//! Figures are medians over the rounds; ratios are against the parse-only median of the same
//! run, which is what `BENCHMARKS.md` records.

mod corpus;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use cdevents_reports::{Finding, Level};
use cdevents_schemas::Registry;
use cdevents_suites::checks::{self, EventChecker};
use cdevents_suites::input::{self, Item, Limits};
use serde::Serialize;
use serde_json::Value;

const USAGE: &str = "\
usage: validate [--events N] [--rounds K] [--seed S] [--corpus PATH] [--bin PATH] [--no-binary]
       validate --generate N PATH [--seed S]
       validate --profile STAGE [--rounds K] [--corpus PATH]   (STAGE: parse, decode, checks, pipeline;
                                                                 runs only that, for perf/callgrind)";

struct Options {
    events: u64,
    rounds: usize,
    seed: u64,
    corpus: Option<PathBuf>,
    bin: PathBuf,
    binary: bool,
    generate: Option<(u64, PathBuf)>,
    profile: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        events: 100_000,
        rounds: 5,
        seed: 20_240_601,
        corpus: None,
        bin: PathBuf::from(env!("CARGO_BIN_EXE_cdevents-conformance")),
        binary: true,
        generate: None,
        profile: None,
    };
    let mut args = std::env::args().skip(1);
    let num = |v: Option<String>, what: &str| -> Result<u64, String> {
        v.as_deref()
            .map(|s| s.replace('_', ""))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{what} needs a number\n{USAGE}"))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bench" => {} // passed by `cargo bench`
            "--events" => o.events = num(args.next(), "--events")?,
            "--rounds" => o.rounds = num(args.next(), "--rounds")?.max(1) as usize,
            "--seed" => o.seed = num(args.next(), "--seed")?,
            "--corpus" => o.corpus = args.next().map(PathBuf::from),
            "--bin" => o.bin = args.next().map(PathBuf::from).ok_or(USAGE)?,
            "--no-binary" => o.binary = false,
            "--generate" => {
                let n = num(args.next(), "--generate")?;
                let path = args.next().map(PathBuf::from).ok_or(USAGE)?;
                o.generate = Some((n, path));
            }
            "--profile" => o.profile = Some(args.next().ok_or(USAGE)?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(o)
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(o) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(o: Options) -> io::Result<()> {
    if let Some((n, path)) = &o.generate {
        let t = Instant::now();
        let s = corpus::write(path, *n, o.seed)?;
        eprintln!(
            "wrote {} events ({} kinds; {} bare, {} structured, {} mutated, {} not JSON), {:.1} MiB, to {} in {:.1?}",
            s.events, s.kinds, s.bare, s.structured, s.mutated, s.broken,
            s.bytes as f64 / 1048576.0,
            path.display(),
            t.elapsed()
        );
        return Ok(());
    }
    let path = match &o.corpus {
        Some(p) => p.clone(),
        None => {
            let p = bench_dir().join(format!(
                "corpus-{}-s{}-g{}.ndjson",
                o.events,
                o.seed,
                corpus::GENERATOR_VERSION
            ));
            if !p.is_file() {
                let t = Instant::now();
                let s = corpus::write(&p, o.events, o.seed)?;
                eprintln!(
                    "generated {} ({} events of {} kinds: {} bare, {} structured, {} mutated, {} not JSON) in {:.1?}",
                    p.display(), s.events, s.kinds, s.bare, s.structured, s.mutated, s.broken, t.elapsed()
                );
            }
            p
        }
    };
    let bytes = std::fs::metadata(&path)?.len();
    let cpus = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Cpus_allowed_list:")
                    .map(|v| v.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "?".into());
    println!(
        "corpus   {} ({:.1} MiB)",
        path.display(),
        bytes as f64 / 1048576.0
    );
    println!("cpus     allowed: {cpus} (pin with `taskset -c 0` for one core)");
    if o.binary {
        println!("binary   {}", o.bin.display());
    }

    let t = Instant::now();
    let registry = Registry::embedded().map_err(io::Error::other)?;
    let broken = registry.compile_all();
    assert!(broken.is_empty(), "{broken:?}");
    println!(
        "startup  registry + compile_all: {:.1?} (not in the figures below)",
        t.elapsed()
    );
    let checker = EventChecker::new(&registry);
    let file_name = path.display().to_string();
    if let Some(stage) = &o.profile {
        for _ in 0..o.rounds {
            let t = Instant::now();
            let n = match stage.as_str() {
                "parse" => baseline(&path)?,
                "decode" => decode_only(&path),
                "checks" => checks_only(&checker, &path) as u64,
                "pipeline" => {
                    let sink = BufWriter::with_capacity(64 << 10, io::sink());
                    pipeline(&checker, &path, sink)?.events
                }
                other => {
                    return Err(io::Error::other(format!(
                        "unknown stage `{other}`\n{USAGE}"
                    )))
                }
            };
            std::hint::black_box(n);
            println!("{stage}: {:.3?}", t.elapsed());
        }
        return Ok(());
    }

    // Warm-up (page cache, lazily built tables) and the output check against the binary.
    let events = baseline(&path)?;
    let mut ours = Vec::new();
    let totals = pipeline(&checker, &path, &mut ours)?;
    assert_eq!(events, totals.events, "both read every line");
    println!(
        "events   {} per round: {} valid, {} invalid ({} input errors; findings {} MUST, {} SHOULD, {} MAY)",
        totals.events, totals.valid, totals.invalid, totals.input_errors,
        totals.by_level[0], totals.by_level[1], totals.by_level[2]
    );
    if o.binary {
        let theirs = Command::new(&o.bin)
            .args([
                "--color", "never", "validate", "--format", "json", &file_name,
            ])
            .stderr(Stdio::inherit())
            .output()?
            .stdout;
        match first_difference(&ours, &theirs) {
            None => println!(
                "output   identical to `validate --format json` ({} bytes)",
                ours.len()
            ),
            Some(line) => {
                return Err(io::Error::other(format!(
                    "the in-process rendering differs from the binary's output at line {line}; \
                     update `render` in runner/benches/validate/main.rs"
                )))
            }
        }
    }
    drop(ours);

    // Each stage is timed twice: wall clock, and CPU time (this thread's, or the child's
    // user+sys). On a machine shared with other work the wall clock also counts the time the
    // core spent on someone else; CPU time does not, so its ratios are the steadier ones.
    let mut rows: HashMap<&str, Vec<Times>> = HashMap::new();
    let mut ratios = Vec::new();
    for round in 0..o.rounds {
        let (base, _) = Times::of(|| baseline(&path))?;
        rows.entry("parse-only").or_default().push(base);
        let (t, _) = Times::of(|| io::Result::Ok(decode_only(&path)))?;
        rows.entry("decode").or_default().push(t);
        let (t, _) = Times::of(|| io::Result::Ok(checks_only(&checker, &path)))?;
        rows.entry("decode+checks").or_default().push(t);
        let (full, _) = Times::of(|| {
            let sink = BufWriter::with_capacity(64 << 10, io::sink());
            pipeline(&checker, &path, sink)
        })?;
        rows.entry("pipeline").or_default().push(full);
        ratios.push((base.wall / full.wall, base.cpu / full.cpu));

        if o.binary {
            let children = children_cpu();
            let wall = Instant::now();
            let status = Command::new(&o.bin)
                .args([
                    "--color", "never", "validate", "--format", "json", &file_name,
                ])
                .stdout(File::create("/dev/null")?)
                .status()?;
            rows.entry("binary").or_default().push(Times {
                wall: wall.elapsed().as_secs_f64(),
                cpu: children_cpu() - children,
            });
            assert!(
                status.code().is_some_and(|c| c <= 1),
                "validate failed: {status}"
            );
        }
        eprintln!("round {}/{} done", round + 1, o.rounds);
    }

    let base = Times::median(&rows["parse-only"]);
    let eps = |secs: f64| events as f64 / secs;
    println!();
    println!(
        "{:<36} {:>9} {:>10} {:>9} | {:>9} {:>10} {:>9}",
        "stage (median of rounds)", "wall", "events/s", "vs parse", "cpu", "events/s", "vs parse"
    );
    let order: [(&str, &str); 5] = [
        ("parse-only", "parse-only (serde_json::from_slice)"),
        ("decode", "decode (NdjsonReader → Envelope)"),
        ("decode+checks", "decode + checks"),
        ("pipeline", "pipeline (decode+checks+render)"),
        ("binary", "binary end-to-end (--format json)"),
    ];
    let mut result = format!("RESULT events={events} rounds={}", o.rounds);
    for (key, label) in order {
        let Some(times) = rows.get(key) else { continue };
        let m = Times::median(times);
        println!(
            "{:<36} {:>8.3}s {:>10.0} {:>8.1}% | {:>8.3}s {:>10.0} {:>8.1}%",
            label,
            m.wall,
            eps(m.wall),
            100.0 * base.wall / m.wall,
            m.cpu,
            eps(m.cpu),
            100.0 * base.cpu / m.cpu,
        );
        let k = key.replace(['-', '+'], "_");
        result.push_str(&format!(
            " {k}_eps={:.0} {k}_ratio={:.4} {k}_cpu_eps={:.0} {k}_cpu_ratio={:.4}",
            eps(m.wall),
            base.wall / m.wall,
            eps(m.cpu),
            base.cpu / m.cpu,
        ));
    }
    let spread = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        format!(
            "min {:.1}%, median {:.1}%, max {:.1}%",
            100.0 * v[0],
            100.0 * v[v.len() / 2],
            100.0 * v[v.len() - 1]
        )
    };
    println!(
        "pipeline / parse-only per round, wall: {}; cpu: {} (target ≥ 50%)",
        spread(ratios.iter().map(|r| r.0).collect()),
        spread(ratios.iter().map(|r| r.1).collect()),
    );
    println!("{result}");
    Ok(())
}

/// Seconds of one run of a stage.
#[derive(Clone, Copy)]
struct Times {
    wall: f64,
    cpu: f64,
}

impl Times {
    fn of<T>(f: impl FnOnce() -> io::Result<T>) -> io::Result<(Times, T)> {
        let (wall, cpu) = (Instant::now(), thread_cpu());
        let out = std::hint::black_box(f()?);
        let times = Times {
            wall: wall.elapsed().as_secs_f64(),
            cpu: thread_cpu() - cpu,
        };
        Ok((times, out))
    }

    /// Medians of each column.
    fn median(v: &[Times]) -> Times {
        let med = |mut x: Vec<f64>| {
            x.sort_by(f64::total_cmp);
            x[x.len() / 2]
        };
        Times {
            wall: med(v.iter().map(|t| t.wall).collect()),
            cpu: med(v.iter().map(|t| t.cpu).collect()),
        }
    }
}

/// CPU time of this thread, in seconds.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the OS knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// User + system CPU time of the children waited for so far, in seconds.
fn children_cpu() -> f64 {
    // SAFETY: `getrusage` fills the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_CHILDREN)");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

/// `target/bench`, next to the profile folder this bench runs from.
fn bench_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .filter(|t| t.join("CACHEDIR.TAG").is_file())
        .unwrap_or_else(std::env::temp_dir)
        .join("bench")
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    let mut la = a.split(|&c| c == b'\n');
    let mut lb = b.split(|&c| c == b'\n');
    for n in 1.. {
        match (la.next(), lb.next()) {
            (None, None) => return None,
            (x, y) if x == y => {}
            _ => return Some(n),
        }
    }
    unreachable!()
}

/// The baseline: every line through `serde_json::from_slice::<Value>`. Returns the line count.
fn baseline(path: &Path) -> io::Result<u64> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut line = Vec::new();
    let (mut n, mut ok) = (0u64, 0u64);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        n += 1;
        if let Ok(v) = serde_json::from_slice::<Value>(line.trim_ascii_end()) {
            ok += v.is_object() as u64;
        }
    }
    std::hint::black_box(ok);
    Ok(n)
}

fn decode_only(path: &Path) -> u64 {
    let mut ok = 0;
    for item in input::decode_file(path, &Limits::default()) {
        ok += item.result.is_ok() as u64;
        std::hint::black_box(&item);
    }
    ok
}

fn checks_only(checker: &EventChecker<'_>, path: &Path) -> usize {
    let mut seen = checks::stream::SeenIds::default();
    let mut findings = 0;
    for item in input::decode_file(path, &Limits::default()) {
        if let Ok(env) = &item.result {
            let c = checker.check_envelope(env);
            findings += c.findings.len() + seen.observe(&env.cdevent).is_some() as usize;
        }
    }
    std::hint::black_box(findings)
}

// ---- The pipeline of `validate --format json`, in-process. -----------------------------------
//
// This mirrors `judge` and the JSON rendering of runner/src/commands/validate.rs (the runner is
// a binary crate, so its modules cannot be linked here); the byte comparison in `run` keeps the
// two in step.

/// Same requirement as `validate` reports for an undecodable input.
const INPUT_REQUIREMENT: &str = "CDE-SCH-002";

#[derive(Default)]
struct Totals {
    events: u64,
    valid: u64,
    invalid: u64,
    by_level: [u64; 3],
    input_errors: u64,
}

#[derive(Serialize)]
struct JsonLine<'a> {
    file: &'a str,
    line: Option<u64>,
    index: Option<usize>,
    #[serde(rename = "type")]
    type_: Option<&'a str>,
    spec: Option<&'a str>,
    valid: bool,
    findings: Findings<'a>,
}

/// The findings as `validate` prints them: `id`, `level`, `pointer`, `message`.
struct Findings<'a>(&'a [Finding]);

impl Serialize for Findings<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|f| JsonFinding {
            id: &f.id,
            level: f.level,
            pointer: &f.pointer,
            message: &f.message,
        }))
    }
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    id: &'a str,
    level: Level,
    pointer: &'a str,
    message: &'a str,
}

fn pipeline(checker: &EventChecker<'_>, path: &Path, mut out: impl Write) -> io::Result<Totals> {
    let fail_on = Level::Must;
    let mut totals = Totals::default();
    let mut seen = checks::stream::SeenIds::default();
    for item in input::decode_file(path, &Limits::default()) {
        render(checker, &mut seen, item, fail_on, &mut totals, &mut out)?;
    }
    let summary = serde_json::json!({ "summary": {
        "events": totals.events,
        "valid": totals.valid,
        "invalid": totals.invalid,
        "findings": { "MUST": totals.by_level[0], "SHOULD": totals.by_level[1], "MAY": totals.by_level[2] },
        "input_errors": totals.input_errors,
        "fail_on": fail_on.as_str(),
    }});
    writeln!(out, "{summary}")?;
    out.flush()?;
    Ok(totals)
}

fn render(
    checker: &EventChecker<'_>,
    seen: &mut checks::stream::SeenIds,
    item: Item,
    fail_on: Level,
    totals: &mut Totals,
    out: &mut impl Write,
) -> io::Result<()> {
    totals.events += 1;
    let (checked, findings) = match &item.result {
        Ok(env) => {
            let mut c = checker.check_envelope(env);
            c.findings.extend(seen.observe(&env.cdevent));
            let f = std::mem::take(&mut c.findings);
            (Some(c), f)
        }
        Err(e) => {
            totals.input_errors += 1;
            (
                None,
                vec![checks::finding(INPUT_REQUIREMENT, "", e.to_string())],
            )
        }
    };
    for f in &findings {
        totals.by_level[f.level as usize] += 1;
    }
    let valid = !findings.iter().any(|f| f.level.fails_at(fail_on));
    if valid {
        totals.valid += 1;
    } else {
        totals.invalid += 1;
    }
    let checked = checked.as_ref();
    let line = JsonLine {
        file: &item.location.file,
        line: item.location.line,
        index: item.location.index,
        type_: checked.and_then(|c| c.type_name.as_deref()),
        spec: checked.and_then(|c| c.spec.map(|s| s.as_str())),
        valid,
        findings: Findings(&findings),
    };
    let mut w = &mut *out;
    serde_json::to_writer(&mut w, &line)?;
    w.write_all(b"\n")
}
