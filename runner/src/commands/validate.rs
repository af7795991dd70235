//! `cdevents-conformance validate`: offline validation of CDEvents.
//!
//! Streams every input item through the checks and prints one result per event as it goes;
//! nothing is held but the counters and the run-wide id check's table of hashes (CDE-CTX-012),
//! so memory grows only with that table on long NDJSON streams.
//!
//! Output goes through a 64 KiB buffer (std's stdout is line-buffered: one `write` per event
//! otherwise). It is still flushed after every event when someone may be watching it: when
//! stdout is a terminal, and while reading a standard input that is not a regular file (a live
//! pipe); and before any error is printed to stderr, so the two stay in order.
//! `runner/benches/validate` measures the throughput (see BENCHMARKS.md).

use std::io::{self, BufWriter, IsTerminal, Write};

use anyhow::Context;
use cdevents_reports::{Finding, Level};
use cdevents_schemas::Registry;
use cdevents_suites::checks::stream::SeenIds;
use cdevents_suites::checks::{CheckedEvent, EventChecker, SchemaUriResolver};
use cdevents_suites::input::{self, Item, Limits, Location, Source};
use serde::Serialize;
use serde_json::json;

use crate::cli::{ValidateArgs, ValidateFormat};
use crate::exit;
use crate::output::{BOLD, DIM, FAIL, OK, WARN};

/// The requirement an undecodable input breaks: a CloudEvent in the JSON event format, or a
/// CDEvent, is a well-formed JSON document.
const INPUT_REQUIREMENT: &str = "CDE-SCH-002";

#[derive(Default)]
struct Totals {
    events: u64,
    valid: u64,
    invalid: u64,
    by_level: [u64; 3],
    input_errors: u64,
}

/// Runs `validate`.
pub fn run(args: ValidateArgs) -> anyhow::Result<u8> {
    let registry = match &args.schemas {
        Some(dir) => {
            let r = Registry::from_spec_dir(dir)
                .with_context(|| format!("cannot load the schemas in {}", dir.display()))?;
            let broken = r.compile_all();
            if let Some(first) = broken.first() {
                anyhow::bail!(
                    "{} schemas in {} do not compile; first: {first}",
                    broken.len(),
                    dir.display()
                );
            }
            r
        }
        None => Registry::embedded().context("the embedded registry does not load")?,
    };
    // Kept until the process exits: tearing down the compiled validators took up to ~10 ms at
    // the end of every run, for memory the exit hands back anyway.
    let registry: &'static Registry = Box::leak(Box::new(registry));
    let fetcher = args.fetch_schema_uri.then(crate::fetch::SchemaFetcher::new);
    let mut checker = EventChecker::new(registry).force_version(args.spec);
    if let Some(f) = &fetcher {
        checker = checker.with_schema_uri_resolver(f as &dyn SchemaUriResolver);
    }
    let fail_on: Level = args.fail_on.into();
    let watched = io::stdout().is_terminal();
    // JSON is plain text whatever `--color` says (serde_json escapes control characters), so it
    // skips anstream's escape-sequence filter, which cost ~6% of the run on its own.
    let outcome = match args.format {
        ValidateFormat::Json => {
            let raw = io::stdout();
            stream(&args, &checker, fail_on, watched, raw.lock())
        }
        ValidateFormat::Human => {
            let styled = anstream::stdout();
            stream(&args, &checker, fail_on, watched, styled.lock())
        }
    };
    let Some((totals, usage_error)) = outcome else {
        // A closed pipe (`| head`) ends the run quietly.
        return Ok(exit::OK);
    };
    if usage_error {
        Ok(exit::USAGE)
    } else if totals.events == 0 {
        crate::output::error(&anyhow::anyhow!(
            "no events found in the given paths; nothing was judged"
        ));
        Ok(exit::INCONCLUSIVE)
    } else if totals.invalid > 0 {
        Ok(exit::FAILED)
    } else {
        Ok(exit::OK)
    }
}

/// Judges every input and prints the lines and the summary to `stdout`. `None` when the
/// output was closed; otherwise the totals and whether a path could not be read.
fn stream(
    args: &ValidateArgs,
    checker: &EventChecker<'_>,
    fail_on: Level,
    watched: bool,
    stdout: impl Write,
) -> Option<(Totals, bool)> {
    let limits = Limits::default();
    let mut totals = Totals::default();
    let mut out = BufWriter::with_capacity(64 << 10, stdout);
    let mut usage_error = false;
    // CDE-CTX-012 across the whole run: distinct events never share source and id.
    let mut seen = SeenIds::default();

    for source in input::walk_paths(&args.paths, &limits) {
        let source = match source {
            Ok(s) => s,
            Err(e) => {
                usage_error = true;
                out.flush().ok()?;
                crate::output::error(&anyhow::anyhow!("{e}"));
                continue;
            }
        };
        let live = watched || (source == Source::Stdin && !stdin_is_a_file());
        for item in input::decode_source(&source, &limits) {
            let line = judge(checker, &mut seen, item, fail_on, &mut totals);
            match args.format {
                ValidateFormat::Json => line.write_json(&mut out).ok()?,
                ValidateFormat::Human
                    if args.quiet && line.findings.is_empty() && line.error.is_none() => {}
                ValidateFormat::Human => line.write_human(&mut out, fail_on).ok()?,
            }
            if live {
                out.flush().ok()?;
            }
        }
    }
    let summary = match args.format {
        ValidateFormat::Json => format!(
            "{}\n",
            json!({ "summary": {
                "events": totals.events,
                "valid": totals.valid,
                "invalid": totals.invalid,
                "findings": { "MUST": totals.by_level[0], "SHOULD": totals.by_level[1], "MAY": totals.by_level[2] },
                "input_errors": totals.input_errors,
                "fail_on": fail_on.as_str(),
            }})
        ),
        ValidateFormat::Human => {
            let style = if totals.invalid > 0 { FAIL } else { OK };
            format!(
                "\n{BOLD}summary{BOLD:#}: {} events, {OK}{} valid{OK:#}, {style}{} invalid{style:#} (findings: {} MUST, {} SHOULD, {} MAY; failing at {})\n",
                totals.events,
                totals.valid,
                totals.invalid,
                totals.by_level[0],
                totals.by_level[1],
                totals.by_level[2],
                fail_on,
            )
        }
    };
    // Flushed here, before the exit code is decided and before any message on stderr.
    let _ = out.write_all(summary.as_bytes());
    let _ = out.flush();
    Some((totals, usage_error))
}

/// Whether standard input is a regular file (`< events.ndjson`): then it is read as fast as
/// a named file, and the output need not be flushed event by event.
fn stdin_is_a_file() -> bool {
    std::fs::metadata("/dev/stdin").is_ok_and(|m| m.is_file())
}

/// The result of one input item, ready to print.
struct Line {
    location: Location,
    checked: Option<CheckedEvent>,
    findings: Vec<Finding>,
    error: Option<String>,
    valid: bool,
}

/// One line of `--format json`, serialized straight from the judged event.
#[derive(Serialize)]
struct JsonLine<'a> {
    file: &'a str,
    line: Option<u64>,
    index: Option<usize>,
    #[serde(rename = "type")]
    type_name: Option<&'a str>,
    spec: Option<&'a str>,
    valid: bool,
    findings: JsonFindings<'a>,
}

/// The findings of a line: `id`, `level`, `pointer`, `message`, in that order.
struct JsonFindings<'a>(&'a [Finding]);

#[derive(Serialize)]
struct JsonFinding<'a> {
    id: &'a str,
    level: Level,
    pointer: &'a str,
    message: &'a str,
}

impl Serialize for JsonFindings<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|f| JsonFinding {
            id: &f.id,
            level: f.level,
            pointer: &f.pointer,
            message: &f.message,
        }))
    }
}

fn judge(
    checker: &EventChecker<'_>,
    seen: &mut SeenIds,
    item: Item,
    fail_on: Level,
    totals: &mut Totals,
) -> Line {
    totals.events += 1;
    let (checked, findings, error) = match &item.result {
        Ok(env) => {
            let mut c = checker.check_envelope(env);
            c.findings.extend(seen.observe(&env.cdevent));
            let f = std::mem::take(&mut c.findings);
            (Some(c), f, None)
        }
        Err(e) => {
            totals.input_errors += 1;
            let message = e.to_string();
            let f = cdevents_suites::checks::finding(INPUT_REQUIREMENT, "", message.clone());
            (None, vec![f], Some(message))
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
    Line {
        location: item.location,
        checked,
        findings,
        error,
        valid,
    }
}

impl Line {
    fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        let checked = self.checked.as_ref();
        let line = JsonLine {
            file: &self.location.file,
            line: self.location.line,
            index: self.location.index,
            type_name: checked.and_then(|c| c.type_name.as_deref()),
            spec: checked.and_then(|c| c.spec.map(|s| s.as_str())),
            valid: self.valid,
            findings: JsonFindings(&self.findings),
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")
    }

    fn write_human(&self, out: &mut impl Write, fail_on: Level) -> io::Result<()> {
        let (tag, style) = if self.valid {
            ("ok", OK)
        } else {
            ("FAILED", FAIL)
        };
        write!(out, "{} {DIM}", self.location)?;
        match self.checked.as_ref() {
            Some(c) => write!(
                out,
                "{} ({})",
                c.type_name.as_deref().unwrap_or("<no type>"),
                c.spec.map(|s| s.as_str()).unwrap_or("unknown version"),
            )?,
            None => out.write_all(b"not an event")?,
        }
        writeln!(out, "{DIM:#} ... {style}{tag}{style:#}")?;
        for f in &self.findings {
            let st = if f.level.fails_at(fail_on) {
                FAIL
            } else {
                WARN
            };
            let pointer = if f.pointer.is_empty() { "" } else { " " };
            write!(
                out,
                "    {st}{:<6}{st:#} {BOLD}{}{BOLD:#}{pointer}{} ",
                f.level.as_str(),
                f.id,
                f.pointer,
            )?;
            write_sanitized(out, &f.message)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// Control characters from an event must not drive the terminal: each is written as U+FFFD.
fn write_sanitized(out: &mut impl Write, s: &str) -> io::Result<()> {
    let mut rest = s;
    while let Some((i, c)) = rest.char_indices().find(|(_, c)| c.is_control()) {
        out.write_all(&rest.as_bytes()[..i])?;
        out.write_all("\u{FFFD}".as_bytes())?;
        rest = &rest[i + c.len_utf8()..];
    }
    out.write_all(rest.as_bytes())
}
