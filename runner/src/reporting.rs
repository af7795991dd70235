//! The console and file reporters of the live suites (`test listener|sender|relay`).
//!
//! The suites produce [`CaseResult`]s; this module prints each one libtest-style as it comes
//! (`<case> ... ok|FAILED|ERROR|skipped`), streams it to the versioned JSON-lines results file,
//! and at the end renders every report format the user asked for from the same model.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use cdevents_reports::model::{CaseResult, Observation, Run, RunHeader, Status, Verdict};
use cdevents_reports::stream::JsonlWriter;
use cdevents_reports::writers;
use clap::Args;

use crate::exit;
use crate::output::{BOLD, DIM, FAIL, OK, WARN};

/// Where to write results and reports. Every format is rendered from the same results.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Reports")]
pub struct ReportArgs {
    /// Stream raw results to this versioned JSON-lines file as the run goes (an interrupted run
    /// keeps everything gathered so far). Re-render it with `report render`.
    #[arg(long, value_name = "FILE", env = "CDEVENTS_CONFORMANCE_RESULTS")]
    pub results: Option<PathBuf>,
    /// Write the JSON report.
    #[arg(long, value_name = "FILE", env = "CDEVENTS_CONFORMANCE_REPORT_JSON")]
    pub report_json: Option<PathBuf>,
    /// Write a JUnit XML report (Jenkins, GitLab).
    #[arg(long, value_name = "FILE", env = "CDEVENTS_CONFORMANCE_REPORT_JUNIT")]
    pub report_junit: Option<PathBuf>,
    /// Write a Markdown report (fits $GITHUB_STEP_SUMMARY and PR comments).
    #[arg(long, value_name = "FILE", env = "CDEVENTS_CONFORMANCE_REPORT_MD")]
    pub report_md: Option<PathBuf>,
    /// Write a self-contained HTML report into this folder (index.html).
    #[arg(long, value_name = "DIR", env = "CDEVENTS_CONFORMANCE_REPORT_HTML")]
    pub report_html: Option<PathBuf>,
    /// Write an SVG badge (spec version, profile, pass ratio, grade).
    #[arg(long, value_name = "FILE", env = "CDEVENTS_CONFORMANCE_BADGE")]
    pub badge: Option<PathBuf>,
    /// Known failures to report as waived (`[[waiver]]` entries with case, reason, issue and
    /// an optional expires date). Default: the `[[waiver]]` entries of the config file.
    #[arg(long, value_name = "FILE", env = "CDEVENTS_CONFORMANCE_WAIVERS")]
    pub waivers: Option<PathBuf>,
}

/// Prints and records the cases of one run.
pub struct RunReporter {
    header: RunHeader,
    jsonl: Option<JsonlWriter<std::io::BufWriter<std::fs::File>>>,
    cases: Vec<CaseResult>,
    observations: Vec<Observation>,
    reports: ReportArgs,
    quiet: bool,
    verbose: bool,
    started: Instant,
    waivers: crate::waivers::Waivers,
    /// A spinner with the running counts, on a terminal only (indicatif draws nothing when
    /// stderr is not one); case lines are printed around it.
    progress: Option<indicatif::ProgressBar>,
}

impl RunReporter {
    /// Starts a run: opens the results file and prints the banner.
    pub fn start(
        header: RunHeader,
        reports: ReportArgs,
        quiet: bool,
        verbose: bool,
    ) -> anyhow::Result<Self> {
        let waivers = match crate::waivers::source(reports.waivers.as_ref()) {
            Some((path, strict)) => {
                crate::waivers::Waivers::load(&path, strict, chrono::Utc::now().date_naive())?
            }
            None => crate::waivers::Waivers::default(),
        };
        for e in waivers.expired() {
            anstream::eprintln!(
                "{FAIL}error{FAIL:#}: waiver expired, it fails the run until renewed or removed: {e}"
            );
        }
        let jsonl = match &reports.results {
            Some(path) => Some(
                JsonlWriter::create(path, header.clone())
                    .with_context(|| format!("cannot write the results file {}", path.display()))?,
            ),
            None => None,
        };
        if !quiet {
            anstream::println!(
                "{BOLD}running{BOLD:#} the {} suite against {} (CDEvents {})",
                header.suite.as_str(),
                header.target.as_deref().unwrap_or("-"),
                header.spec_versions.join(", ")
            );
        }
        Ok(RunReporter {
            header,
            jsonl,
            cases: Vec::new(),
            observations: Vec::new(),
            reports,
            quiet,
            verbose,
            started: Instant::now(),
            waivers,
            progress: (!quiet && std::io::stderr().is_terminal()).then(|| {
                let pb = indicatif::ProgressBar::new_spinner();
                pb.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} {pos} cases {msg} [{elapsed}]",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                );
                pb.enable_steady_tick(std::time::Duration::from_millis(120));
                pb
            }),
        })
    }

    /// Records and prints one case.
    pub fn case(&mut self, mut case: CaseResult) -> anyhow::Result<()> {
        self.waivers.apply(&mut case);
        if let Some(w) = &mut self.jsonl {
            w.case(&case).context("cannot append to the results file")?;
        }
        let fail_on = self.header.fail_on;
        let expired = case.waiver.as_ref().is_some_and(|w| w.expired);
        let (tag, style) = match case.status {
            _ if expired => ("FAILED (waiver expired)", FAIL),
            Status::Passed => ("ok", OK),
            Status::Failed if case.level.fails_at(fail_on) => ("FAILED", FAIL),
            Status::Failed => ("warning", WARN),
            Status::Errored => ("ERROR", FAIL),
            Status::Skipped => ("skipped", DIM),
            Status::Waived => ("waived", DIM),
            Status::WaivedButPassed => ("waived but PASSED", WARN),
        };
        let show = !self.quiet || !matches!(case.status, Status::Passed | Status::Skipped);
        if let Some(pb) = &self.progress {
            pb.inc(1);
            let failed = self
                .cases
                .iter()
                .filter(|c| c.status == Status::Failed)
                .count()
                + usize::from(case.status == Status::Failed);
            pb.set_message(format!("· {failed} failed"));
        }
        let progress = self.progress.clone();
        let print = || self.print_case(&case, tag, style, show);
        match &progress {
            Some(pb) => pb.suspend(print),
            None => print(),
        }
        self.cases.push(case);
        Ok(())
    }

    fn print_case(&self, case: &CaseResult, tag: &str, style: anstyle::Style, show: bool) {
        if show {
            anstream::println!("{} ... {style}{tag}{style:#}", case.case);
            if self.verbose {
                if let Some(ev) = &case.evidence {
                    if let Some(r) = &ev.request {
                        anstream::println!("{DIM}{}{DIM:#}", indent(&sanitize(&r.to_text())));
                    }
                    if let Some(r) = &ev.response {
                        anstream::println!("{DIM}{}{DIM:#}", indent(&sanitize(&r.to_text())));
                    }
                }
            }
        }
    }

    /// Counts the run's time from `at` (a suite that judges after the run, like the relay's,
    /// starts its reporter at the end).
    pub fn started_at(&mut self, at: Instant) {
        self.started = at;
    }

    /// Records a run-wide observation (e.g. relay delivery statistics) for every report.
    pub fn observation(&mut self, observation: Observation) -> anyhow::Result<()> {
        if let Some(w) = &mut self.jsonl {
            w.observation(&observation)
                .context("cannot append to the results file")?;
        }
        self.observations.push(observation);
        Ok(())
    }

    /// Ends the run: prints failures and the summary, writes every report, returns the exit
    /// code (3 when nothing could be judged).
    pub fn finish(self, interrupted: bool) -> anyhow::Result<u8> {
        if let Some(pb) = &self.progress {
            pb.finish_and_clear();
        }
        let fail_on = self.header.fail_on;
        let summary =
            cdevents_reports::model::Summary::compute(&self.header, &self.cases, interrupted);
        if let Some(w) = self.jsonl {
            w.finish(&summary)
                .context("cannot finish the results file")?;
        }
        let failures: Vec<&CaseResult> = self
            .cases
            .iter()
            .filter(|c| {
                (c.status == Status::Failed && c.level.fails_at(fail_on))
                    || c.status == Status::Errored
                    || c.waiver.as_ref().is_some_and(|w| w.expired)
            })
            .collect();
        if !failures.is_empty() {
            anstream::println!("\n{BOLD}failures:{BOLD:#}");
            for c in &failures {
                anstream::println!("\n---- {} ----", c.case);
                anstream::println!("{}", sanitize(&describe(c)));
            }
        }
        let stale: Vec<&str> = self
            .cases
            .iter()
            .filter(|c| c.status == Status::WaivedButPassed)
            .map(|c| c.case.as_str())
            .collect();
        if !stale.is_empty() {
            anstream::println!(
                "\n{WARN}warning{WARN:#}: {} waived cases passed; remove their waivers: {}",
                stale.len(),
                stale.join(", ")
            );
        }
        for u in self.waivers.unused() {
            anstream::println!("{WARN}warning{WARN:#}: waiver names no case of this run: {u}");
        }
        let run = Run::new(self.header.clone(), self.cases.clone(), self.observations);
        write_reports(&run, &self.reports)?;
        let judged = self.cases.iter().filter(|c| c.status.is_judged()).count();
        let (word, style) = match summary.verdict {
            _ if judged == 0 => ("NOTHING JUDGED", FAIL),
            Verdict::Pass => ("ok", OK),
            Verdict::Fail => ("FAILED", FAIL),
            Verdict::Error => ("ERROR", FAIL),
        };
        anstream::println!(
            "\n{BOLD}result{BOLD:#}: {style}{word}{style:#}. {} passed; {} failed; {} errored; {} skipped; {} waived; grade {}; finished in {:.2}s{}",
            summary.passed,
            summary.failed,
            summary.errored,
            summary.skipped,
            summary.waived,
            summary.grade,
            self.started.elapsed().as_secs_f64(),
            if interrupted { " (interrupted)" } else { "" }
        );
        Ok(if judged == 0 {
            exit::INCONCLUSIVE
        } else {
            match summary.verdict {
                Verdict::Pass => exit::OK,
                Verdict::Fail => exit::FAILED,
                Verdict::Error => exit::INCONCLUSIVE,
            }
        })
    }
}

/// Renders every requested report format from one run.
pub fn write_reports(run: &Run, reports: &ReportArgs) -> anyhow::Result<()> {
    if let Some(p) = &reports.report_json {
        writers::write_json(run, p).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &reports.report_junit {
        writers::write_junit(run, p).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &reports.report_md {
        writers::write_markdown(run, p).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &reports.report_html {
        writers::write_html_dir(run, p).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &reports.badge {
        writers::write_badge(run, p).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// The h2spec-style account of a failed case: requirement, expected, actual, evidence,
/// reproduction.
fn describe(c: &CaseResult) -> String {
    let mut s = format!(
        "requirement: {} ({})\n{}\n",
        c.requirement, c.level, c.message
    );
    if let Some(w) = &c.waiver {
        s.push_str(&format!("waiver:   {w}\n"));
    }
    if let Some(e) = &c.expected {
        s.push_str(&format!("expected: {e}\n"));
    }
    if let Some(a) = &c.actual {
        s.push_str(&format!("actual:   {a}\n"));
    }
    for f in &c.findings {
        s.push_str(&format!(
            "finding:  {} {} {} {}\n",
            f.level, f.id, f.pointer, f.message
        ));
    }
    if let Some(ev) = &c.evidence {
        if let Some(r) = &ev.request {
            s.push_str(&format!("request:\n{}\n", indent(&r.to_text())));
        }
        if let Some(r) = &ev.response {
            s.push_str(&format!("response:\n{}\n", indent(&r.to_text())));
        }
    }
    if let Some(r) = &c.reproduce {
        s.push_str(&format!("reproduce: {r}\n"));
    }
    s
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Control characters from a target must not drive the terminal.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}
