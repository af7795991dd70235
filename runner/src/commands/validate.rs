//! `cdevents-conformance validate`: offline validation of CDEvents.
//!
//! Streams every input item through the checks and prints one result per event as it goes;
//! nothing is held but the counters, so memory stays flat on long NDJSON streams.

use std::io::Write;

use anyhow::Context;
use cdevents_reports::{Finding, Level};
use cdevents_schemas::Registry;
use cdevents_suites::checks::stream::SeenIds;
use cdevents_suites::checks::{CheckedEvent, EventChecker, SchemaUriResolver};
use cdevents_suites::input::{self, Item, Limits, Location};
use serde_json::{json, Value};

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
    let fetcher = args.fetch_schema_uri.then(crate::fetch::SchemaFetcher::new);
    let mut checker = EventChecker::new(&registry).force_version(args.spec);
    if let Some(f) = &fetcher {
        checker = checker.with_schema_uri_resolver(f as &dyn SchemaUriResolver);
    }
    let fail_on: Level = args.fail_on.into();
    let limits = Limits::default();
    let mut totals = Totals::default();
    let stdout = anstream::stdout();
    let mut out = stdout.lock();
    let mut usage_error = false;
    // CDE-CTX-012 across the whole run: distinct events never share source and id.
    let mut seen = SeenIds::default();

    for source in input::walk_paths(&args.paths, &limits) {
        let source = match source {
            Ok(s) => s,
            Err(e) => {
                usage_error = true;
                crate::output::error(&anyhow::anyhow!("{e}"));
                continue;
            }
        };
        for item in input::decode_source(&source, &limits) {
            let line = judge(&checker, &mut seen, item, fail_on, &mut totals);
            let printed = match args.format {
                ValidateFormat::Json => writeln!(out, "{}", line.to_json()),
                ValidateFormat::Human
                    if args.quiet && line.findings.is_empty() && line.error.is_none() =>
                {
                    Ok(())
                }
                ValidateFormat::Human => write!(out, "{}", line.to_human(fail_on)),
            };
            // A closed pipe (`| head`) ends the run quietly.
            if printed.is_err() {
                return Ok(exit::OK);
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
    let _ = out.write_all(summary.as_bytes());
    let _ = out.flush();
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

/// The result of one input item, ready to print.
struct Line {
    location: Location,
    checked: Option<CheckedEvent>,
    findings: Vec<Finding>,
    error: Option<String>,
    valid: bool,
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
            let f = c.findings.clone();
            (Some(c), f, None)
        }
        Err(e) => {
            totals.input_errors += 1;
            let f = cdevents_suites::checks::finding(INPUT_REQUIREMENT, "", e.to_string());
            (None, vec![f], Some(e.to_string()))
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
    fn to_json(&self) -> Value {
        let checked = self.checked.as_ref();
        json!({
            "file": self.location.file,
            "line": self.location.line,
            "index": self.location.index,
            "type": checked.and_then(|c| c.type_name.clone()),
            "spec": checked.and_then(|c| c.spec.map(|s| s.as_str())),
            "valid": self.valid,
            "findings": self.findings.iter().map(|f| json!({
                "id": f.id,
                "level": f.level,
                "pointer": f.pointer,
                "message": f.message,
            })).collect::<Vec<_>>(),
        })
    }

    fn to_human(&self, fail_on: Level) -> String {
        let checked = self.checked.as_ref();
        let what = match checked {
            Some(c) => format!(
                "{} ({})",
                c.type_name.as_deref().unwrap_or("<no type>"),
                c.spec.map(|s| s.as_str()).unwrap_or("unknown version"),
            ),
            None => "not an event".to_owned(),
        };
        let (tag, style) = if self.valid {
            ("ok", OK)
        } else {
            ("FAILED", FAIL)
        };
        let mut s = format!(
            "{} {DIM}{what}{DIM:#} ... {style}{tag}{style:#}\n",
            self.location
        );
        for f in &self.findings {
            let st = if f.level.fails_at(fail_on) {
                FAIL
            } else {
                WARN
            };
            let pointer = if f.pointer.is_empty() { "" } else { " " };
            s.push_str(&format!(
                "    {st}{:<6}{st:#} {BOLD}{}{BOLD:#}{pointer}{} {}\n",
                f.level.as_str(),
                f.id,
                f.pointer,
                sanitize(&f.message)
            ));
        }
        s
    }
}

/// Control characters from an event must not drive the terminal.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}
