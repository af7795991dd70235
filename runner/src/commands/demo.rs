//! `demo`: the whole kit working, with no setup.
//!
//! Starts the reference implementations on free loopback ports (in-process), runs the listener
//! suite against the reference listener and the sender suite against the reference sender
//! (under a `transient` fault plan), then the listener suite against one reference listener
//! broken on purpose (`--fault empty-200`), so that the user sees what a failure, its evidence
//! and its reproduction command look like. Every report format of every run is written under
//! `--out`. Exit 0 when the conformant runs pass and the faulty run fails, 1 otherwise.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use cdevents_reports::model::{
    shell_quote, CaseResult, Run, RunHeader, Status, Suite, Summary, Verdict,
};
use cdevents_reports::stream::JsonlWriter;
use cdevents_reports::Level;
use cdevents_schemas::{Registry, SpecVersion};
use cdevents_suites::drivers::listener::{self, Options, RunConfig};
use cdevents_suites::drivers::sender::{judge, Claims, Guarantee, Ordering, Sink, SinkConfig};
use cdevents_suites::faults::FaultPlan;
use cdevents_suites::reference::listener::{spawn_reference_listener, Config, Fault};
use cdevents_suites::reference::sender::{run_reference_sender, SenderConfig};

use crate::exit;
use crate::output::{BOLD, DIM, FAIL, OK, WARN};
use crate::reporting::{sanitize, write_reports, ReportArgs};

const HELP: &str = "\
Examples:
  cdevents-conformance demo
  cdevents-conformance demo --out /tmp/report --quiet

Runs four suites on loopback, in-process, in a few seconds:
  listener               the listener suite against the reference listener (must pass)
  sender                 the sender suite against the reference sender, under transient faults
                         (must pass)
  relay                  the relay suite through the reference relay, under transient faults,
                         claiming exactly-once and per-subject order (must pass)
  listener-empty-200     the listener suite against a reference listener broken on purpose
                         (--fault empty-200: must fail, to show a failure and how to reproduce it)
Every run writes results.jsonl, report.json, junit.xml, report.md, html/index.html and badge.svg
into OUT/<run>/.

Exit codes:
  0  the conformant runs passed and the faulty run failed, as expected
  1  the demo did not demonstrate that (a conformant run failed, or the faulty run passed)";

/// The fault of the run that is expected to fail.
const DEMO_FAULT: Fault = Fault::Empty200;
/// Events the reference sender sends.
const SENDER_EVENTS: usize = 12;

/// `demo` options.
#[derive(Debug, clap::Args)]
#[command(after_help = HELP)]
pub struct Args {
    /// Where to write the reports (one folder per run).
    #[arg(long, value_name = "DIR", default_value = "conformance-report")]
    pub out: PathBuf,
    /// Print only the summary lines and the report paths.
    #[arg(long, short)]
    pub quiet: bool,
}

/// One finished run of the demo.
struct DemoRun {
    /// The folder name under `--out`.
    name: String,
    /// What was judged, for the summary line.
    target: String,
    /// Whether the run is expected to pass.
    expect_pass: bool,
    run: Run,
    elapsed: Duration,
}

impl DemoRun {
    fn passed(&self) -> bool {
        let judged = self.run.cases.iter().any(|c| c.status.is_judged());
        judged && self.run.summary.verdict == Verdict::Pass
    }

    fn as_expected(&self) -> bool {
        if self.expect_pass {
            self.passed()
        } else {
            self.run.summary.verdict == Verdict::Fail && self.run.summary.failed > 0
        }
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    if !args.quiet {
        anstream::println!(
            "{BOLD}cdevents-conformance demo{BOLD:#}: the reference implementations on loopback, judged by the kit's own suites\n"
        );
    }
    let runs = rt.block_on(async {
        let conformant = listener_run(None, args.quiet).await?;
        let sender = sender_run(args.quiet).await?;
        let relay = relay_run(args.quiet).await?;
        let faulty = listener_run(Some(DEMO_FAULT), args.quiet).await?;
        anyhow::Ok(vec![conformant, sender, relay, faulty])
    })?;
    drop(rt);

    for r in &runs {
        write_run(&args.out.join(&r.name), &r.run)?;
    }

    if !args.quiet {
        anstream::println!();
    }
    anstream::println!("{BOLD}summary{BOLD:#}");
    for r in &runs {
        summary_line(r);
    }

    let faulty = runs.iter().find(|r| !r.expect_pass);
    if let (false, Some(f)) = (args.quiet, faulty) {
        explain_failure(f);
    }

    anstream::println!("\n{BOLD}reports{BOLD:#} (JSON lines, JSON, JUnit, Markdown, HTML, badge):");
    for r in &runs {
        let html = args.out.join(&r.name).join("html").join("index.html");
        anstream::println!("  {:<22} {}", r.name, html.display());
    }

    let ok = runs.iter().all(DemoRun::as_expected);
    let secs = started.elapsed().as_secs_f64();
    if ok {
        anstream::println!(
            "\n{BOLD}demo{BOLD:#}: {OK}ok{OK:#}. The conformant runs passed and the faulty run failed, as expected ({secs:.2}s)."
        );
        Ok(exit::OK)
    } else {
        for r in runs.iter().filter(|r| !r.as_expected()) {
            let what = if r.expect_pass {
                "was expected to pass but did not"
            } else {
                "was expected to fail but did not: a check that cannot fail"
            };
            anstream::eprintln!("{FAIL}error{FAIL:#}: the run `{}` {what}", r.name);
        }
        anstream::println!(
            "\n{BOLD}demo{BOLD:#}: {FAIL}FAILED{FAIL:#}. The demo did not show what it should ({secs:.2}s)."
        );
        Ok(exit::FAILED)
    }
}

/// The listener suite against a reference listener (conformant, or broken by `fault`).
async fn listener_run(fault: Option<Fault>, quiet: bool) -> anyhow::Result<DemoRun> {
    let started = Instant::now();
    let (addr, handle) = spawn_reference_listener(Config {
        fault,
        ..Config::default()
    })
    .await
    .context("cannot start the reference listener on 127.0.0.1")?;
    let target = format!("http://{addr}/");
    let opts = Options::default();
    let spec = opts.specs.first().copied().unwrap_or(SpecVersion::DEFAULT);
    let mut reproduce = format!(
        "cdevents-conformance test listener --target {} --seed {}",
        shell_quote(&target),
        opts.seed
    );
    for v in &opts.specs {
        reproduce.push_str(&format!(" --spec {v}"));
    }
    let cfg = RunConfig {
        target: target.clone(),
        timeout: Duration::from_secs(5),
        budget: Duration::from_secs(60),
        reproduce: Some(reproduce.clone()),
        seed: opts.seed,
        probe_spec: spec,
        ..RunConfig::default()
    };
    if !quiet {
        match fault {
            None => anstream::println!("{DIM}listener suite -> reference listener at {target}{DIM:#}"),
            Some(f) => anstream::println!(
                "{DIM}listener suite -> reference listener at {target}, broken on purpose (--fault {}){DIM:#}",
                f.name()
            ),
        }
    }
    let mut cases: Vec<CaseResult> = Vec::new();
    let outcome = listener::run(&cfg, listener::cases(&opts), |c| cases.push(c)).await;
    drop(handle);
    if let Err(e) = outcome {
        anyhow::bail!("the listener suite could not judge the reference listener: {e}");
    }

    let mut header = RunHeader::new(
        Suite::Listener,
        env!("CARGO_PKG_VERSION"),
        chrono::Utc::now().to_rfc3339(),
    );
    header.target = Some(target.clone());
    header.spec_versions = opts.specs.iter().map(|v| v.as_str().to_owned()).collect();
    header.seed = Some(opts.seed);
    header.fail_on = Level::Should;
    header.command_line = shell_words(&reproduce);
    let (name, label) = match fault {
        None => (
            "listener".to_owned(),
            format!("reference listener {target}"),
        ),
        Some(f) => (
            format!("listener-{}", f.name()),
            format!("reference listener --fault {} {target}", f.name()),
        ),
    };
    Ok(DemoRun {
        name,
        target: label,
        expect_pass: fault.is_none(),
        run: Run::new(header, cases, Vec::new()),
        elapsed: started.elapsed(),
    })
}

/// The sender suite: a sink under the `transient` fault plan, the reference sender delivering
/// to it (in-process), the recording judged against an exactly-once claim.
async fn sender_run(quiet: bool) -> anyhow::Result<DemoRun> {
    let started = Instant::now();
    let registry = Registry::embedded().context("the embedded registry does not load")?;
    let plan = FaultPlan::transient();
    let seed = 0;
    let sink = Sink::start(SinkConfig {
        plan: plan.clone(),
        seed,
        ..SinkConfig::default()
    })
    .await
    .context("cannot start the sink on 127.0.0.1")?;
    let url = sink.url();
    if !quiet {
        anstream::println!(
            "{DIM}reference sender -> sender suite's sink at {url} (faults: {plan}, seed {seed}){DIM:#}"
        );
    }
    let cfg = SenderConfig {
        target: url.clone(),
        count: SENDER_EVENTS,
        seed,
        ..SenderConfig::default()
    };
    let outcome = run_reference_sender(&cfg)
        .await
        .context("the reference sender could not run")?;
    // Let answers in flight be recorded.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rec = sink.stop();
    let claims = Claims {
        guarantee: Guarantee::ExactlyOnce,
        ordering: Ordering::None,
        allow_batch: false,
        ..Claims::default()
    };
    let cases = judge(
        &rec,
        &claims,
        &plan,
        Some(&outcome.manifest),
        &registry,
        None,
    );
    let mut header = RunHeader::new(
        Suite::Sender,
        env!("CARGO_PKG_VERSION"),
        chrono::Utc::now().to_rfc3339(),
    );
    let trigger = format!(
        "cdevents-conformance reference sender --target \"$CDEVENTS_SINK_URL\" --count {SENDER_EVENTS} --seed {seed}"
    );
    header.target = Some(trigger.clone());
    header.spec_versions = vec![SpecVersion::DEFAULT.as_str().to_owned()];
    header.seed = Some(seed);
    header.fail_on = Level::Must;
    header.command_line = vec![
        "cdevents-conformance".into(),
        "test".into(),
        "sender".into(),
        "--faults".into(),
        plan.to_string(),
        "--seed".into(),
        seed.to_string(),
        "--guarantee".into(),
        "exactly-once".into(),
        "--trigger".into(),
        trigger,
    ];
    Ok(DemoRun {
        name: "sender".to_owned(),
        target: format!(
            "reference sender, {} events, {} requests, faults {plan}",
            outcome.manifest.len(),
            rec.deliveries.len()
        ),
        expect_pass: true,
        run: Run::new(header, cases, Vec::new()),
        elapsed: started.elapsed(),
    })
}

/// Events streamed through the reference relay.
const RELAY_EVENTS: u64 = 200;

async fn relay_run(quiet: bool) -> anyhow::Result<DemoRun> {
    use cdevents_suites::drivers::relay::{self, Harness, RelayConfig};
    use cdevents_suites::reference::relay::{spawn_reference_relay, Config as RelayRefConfig};
    let started = Instant::now();
    // No Retry-After wait and short delays: the demo is about seconds, not minutes.
    let plan = FaultPlan::parse("transient,delay=100ms,retry-after=0")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let seed = 0;
    let claims = relay::Claims {
        guarantee: Guarantee::ExactlyOnce,
        ordering: Ordering::PerSubject,
    };
    let mut h = Harness::start(RelayConfig {
        count: RELAY_EVENTS,
        plan: plan.clone(),
        seed,
        ordering: claims.ordering,
        ..RelayConfig::default()
    })
    .await
    .context("cannot start the relay suite's sink on 127.0.0.1")?;
    let (addr, _relay) = spawn_reference_relay(RelayRefConfig {
        forward: h.sink_url(),
        timeout: Duration::from_millis(300),
        ..RelayRefConfig::default()
    })
    .await
    .context("cannot start the reference relay on 127.0.0.1")?;
    let target = format!("http://{addr}/");
    h.set_target(&target)?;
    if !quiet {
        anstream::println!(
            "{DIM}relay suite -> reference relay at {target} -> sink at {} (faults: {plan}, seed {seed}){DIM:#}",
            h.sink_url()
        );
    }
    h.send_all(Duration::from_secs(60)).await;
    let quiet_period = h.quiet_period(Duration::from_millis(500));
    h.drain(
        Duration::from_secs(20),
        quiet_period,
        Duration::from_millis(100),
    )
    .await;
    let dead = relay::fetch_dead_letters(&format!("{target}dead-letters"), Duration::from_secs(2))
        .await
        .ok();
    let (history, stream) = h.finish();
    let j = relay::check(&history, &stream, &claims, dead.as_deref());
    let mut header = RunHeader::new(
        Suite::Relay,
        env!("CARGO_PKG_VERSION"),
        chrono::Utc::now().to_rfc3339(),
    );
    header.target = Some(target.clone());
    header.spec_versions = vec![SpecVersion::DEFAULT.as_str().to_owned()];
    header.seed = Some(seed);
    header.fail_on = Level::Must;
    header.command_line = shell_words(&format!(
        "cdevents-conformance test relay --target {target} --count {RELAY_EVENTS} --faults {plan} --seed {seed} --guarantee exactly-once --ordering per-subject --dead-letters {target}dead-letters"
    ));
    Ok(DemoRun {
        name: "relay".to_owned(),
        target: format!("reference relay, {}", j.observed.sentence()),
        expect_pass: true,
        run: Run::new(header, j.cases, vec![j.observation]),
        elapsed: started.elapsed(),
    })
}

/// Splits a command line built here (only `'…'` quoting) into words, for the report header.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in s.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Writes every report format of one run into `dir`.
fn write_run(dir: &Path, run: &Run) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let results = dir.join("results.jsonl");
    let mut w = JsonlWriter::create(&results, run.header.clone())
        .with_context(|| format!("cannot write {}", results.display()))?;
    for c in &run.cases {
        w.case(c)
            .with_context(|| format!("cannot write {}", results.display()))?;
    }
    for o in &run.observations {
        w.observation(o)
            .with_context(|| format!("cannot write {}", results.display()))?;
    }
    let summary: Summary = run.summary.clone();
    w.finish(&summary)
        .with_context(|| format!("cannot write {}", results.display()))?;
    write_reports(
        run,
        &ReportArgs {
            results: None,
            report_json: Some(dir.join("report.json")),
            report_junit: Some(dir.join("junit.xml")),
            report_md: Some(dir.join("report.md")),
            report_html: Some(dir.join("html")),
            badge: Some(dir.join("badge.svg")),
            waivers: None,
        },
    )
}

/// One line per run: name, verdict, grade, counts, target.
fn summary_line(r: &DemoRun) {
    let s = &r.run.summary;
    let (word, style) = match (r.passed(), r.expect_pass) {
        (true, true) => ("pass", OK),
        (false, false) if r.as_expected() => ("FAIL (expected)", WARN),
        (true, false) => ("PASS (unexpected)", FAIL),
        _ => ("FAIL", FAIL),
    };
    anstream::println!(
        "  {:<22} {style}{word:<16}{style:#} grade {:<3} {:>3} passed {:>3} failed {:>3} errored {:>3} skipped  {:>5.2}s  {}",
        r.name,
        s.grade.to_string(),
        s.passed,
        s.failed,
        s.errored,
        s.skipped,
        r.elapsed.as_secs_f64(),
        sanitize(&r.target)
    );
}

/// Shows one failure of the faulty run: what it breaks, expected, actual, evidence, how to
/// reproduce it.
fn explain_failure(r: &DemoRun) {
    let failed: Vec<&CaseResult> = r
        .run
        .cases
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    let port = r
        .run
        .header
        .target
        .as_deref()
        .and_then(|t| t.trim_end_matches('/').rsplit(':').next())
        .unwrap_or("8080")
        .to_owned();
    anstream::println!(
        "\n{BOLD}the faulty run{BOLD:#} is expected to fail: its reference listener is broken on purpose \
         (--fault {}: {}; it breaks {}).",
        DEMO_FAULT.name(),
        DEMO_FAULT.describe(),
        DEMO_FAULT.breaks().join(", ")
    );
    let Some(c) = failed.first() else {
        return;
    };
    anstream::println!(
        "It has {} failed case(s); this is what one looks like (all are in its reports):",
        failed.len()
    );
    anstream::println!("\n---- {} ----", c.case);
    anstream::println!("requirement: {} ({})", c.requirement, c.level);
    anstream::println!("{}", sanitize(&c.message));
    if let Some(e) = &c.expected {
        anstream::println!("expected: {}", sanitize(e));
    }
    if let Some(a) = &c.actual {
        anstream::println!("actual:   {}", sanitize(a));
    }
    if let Some(ev) = &c.evidence {
        if let Some(req) = &ev.request {
            anstream::println!("request:\n{}", excerpt(&req.to_text(), 14));
        }
        if let Some(resp) = &ev.response {
            anstream::println!("response:\n{}", excerpt(&resp.to_text(), 14));
        }
    }
    if let Some(rep) = &c.reproduce {
        anstream::println!("reproduce: {}", sanitize(rep));
        anstream::println!(
            "{DIM}(the faulty listener stopped with the demo; to rerun this case, first start it again:\n \
             cdevents-conformance reference listener --fault {} --listen 127.0.0.1:{port}){DIM:#}",
            DEMO_FAULT.name()
        );
    }
}

/// The first `max` lines of `s`, indented, with a note of what was left out.
fn excerpt(s: &str, max: usize) -> String {
    let s = sanitize(s);
    let lines: Vec<&str> = s.lines().collect();
    let mut out: Vec<String> = lines.iter().take(max).map(|l| format!("    {l}")).collect();
    if lines.len() > max {
        out.push(format!(
            "    {DIM}… {} more lines{DIM:#}",
            lines.len() - max
        ));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::shell_words;

    #[test]
    fn shell_words_splits_and_unquotes() {
        assert_eq!(
            shell_words("a --target 'http://x/' --spec 0.5.1"),
            vec!["a", "--target", "http://x/", "--spec", "0.5.1"]
        );
        assert_eq!(shell_words("a ''"), vec!["a", ""]);
    }
}
