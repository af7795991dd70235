//! Reproduction of `test sender` cases: the one-line command each failed case carries, and the
//! recording file a run against an externally started sender leaves for it.
//!
//! Two ways, chosen by how the sender was run:
//! - **with `--trigger`**: the command runs the same trigger again against a fresh sink with
//!   the same fault plan and seed. The fault schedule depends only on the seed, the event
//!   (source, id) and the attempt number, so a sender that emits the same events (the reference
//!   sender does, for a given `--seed`) meets the same faults;
//! - **without a trigger** (a sender started by someone else): the kit cannot start that
//!   sender again, so the command re-judges the requests it recorded (`--replay FILE`), with
//!   the same claims. That proves the verdict and lets a fixed judge be checked; to check a
//!   fixed sender, run `test sender` again while it sends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cdevents_reports::model::{shell_quote, CaseResult};

use super::test_sender::Args;

/// The default of `--timeout`, left out of reproduce commands.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a run records its requests: `--record`, else (for an external sender, when a results
/// file is written) beside the results file, so that its reproduce commands can replay them.
pub fn record_path(args: &Args) -> Option<PathBuf> {
    if args.replay.is_some() {
        return None;
    }
    if let Some(p) = &args.record {
        return Some(p.clone());
    }
    if args.trigger.is_some() {
        return None;
    }
    let results = args.reports.results.as_ref()?;
    let mut name = results.file_stem()?.to_os_string();
    name.push(".requests.jsonl");
    Some(results.with_file_name(name))
}

/// The command that judges this run again, without `--case`; `None` when nothing can re-run it
/// (an external sender whose requests were not recorded).
pub fn reproduce_prefix(args: &Args, recorded: Option<&Path>) -> Option<String> {
    let mut s = String::from("cdevents-conformance test sender");
    if let Some(t) = &args.trigger {
        s.push_str(&format!(" --trigger {}", shell_quote(t)));
        if args.timeout != DEFAULT_TIMEOUT {
            s.push_str(&format!(
                " --timeout {}",
                humantime::format_duration(args.timeout)
            ));
        }
        if let Some(n) = args.expect {
            s.push_str(&format!(" --expect {n}"));
        }
        if args.max_body != 4 << 20 {
            s.push_str(&format!(" --max-body {}", args.max_body));
        }
    } else {
        let file = args.replay.as_deref().or(recorded)?;
        let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        s.push_str(&format!(
            " --replay {}",
            shell_quote(&file.to_string_lossy())
        ));
    }
    if !args.profiles.is_empty() {
        s.push_str(" --profile webhook");
    }
    if args.token.is_some() {
        // The token itself is never printed: the rerun takes it from the environment.
        s.push_str(" --token \"$CDEVENTS_CONFORMANCE_TOKEN\"");
    }
    s.push_str(&format!(
        " --faults {} --seed {} --guarantee {} --ordering {}",
        shell_quote(&args.faults.to_string()),
        args.seed,
        args.guarantee,
        args.ordering
    ));
    if let Some(v) = args.spec {
        s.push_str(&format!(" --spec {v}"));
    }
    if args.allow_batch {
        s.push_str(" --allow-batch");
    }
    Some(s)
}

/// Gives every case that did not pass its reproduce command.
pub fn attach(cases: &mut [CaseResult], prefix: Option<&str>) {
    let Some(p) = prefix else { return };
    for c in cases.iter_mut().filter(|c| !c.status.is_pass()) {
        c.reproduce = Some(format!("{p} --case {}", shell_quote(&c.case)));
    }
}

/// Whether a case is selected by `--case` (exact id or prefix; all when none is given).
pub fn selected(case: &CaseResult, filters: &[String]) -> bool {
    filters.is_empty() || filters.iter().any(|f| case.case.starts_with(f.as_str()))
}
