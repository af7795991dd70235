//! `test relay`: stand at both ends of an intermediary, stream events through it while the
//! sink injects faults, and judge the history (see docs/relay.md).

use super::common_args::{parse_guarantee, parse_mode, parse_ordering, parse_plan, parse_version};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use cdevents_reports::model::{shell_quote, RunHeader, Suite};
use cdevents_schemas::SpecVersion;
use cdevents_suites::drivers::relay::{
    check, fetch_dead_letters, thousands, Claims, Harness, RelayConfig, CASES, MAX_BATCH,
};
use cdevents_suites::drivers::sender::{Guarantee, Ordering};
use cdevents_suites::faults::FaultPlan;
use cdevents_suites::wire::Mode;

use crate::cli::LevelArg;
use crate::exit;
use crate::output::FAIL;
use crate::reporting::{sanitize, ReportArgs, RunReporter};

const HELP: &str = "\
Examples:
  cdevents-conformance test relay --target http://127.0.0.1:8080/ --listen 127.0.0.1:9000 \\
      --count 10000 --faults transient --guarantee at-least-once --ordering per-subject
  cdevents-conformance test relay --listen 127.0.0.1:0 --target http://127.0.0.1:7000/ \\
      --trigger 'cdevents-conformance reference relay --listen 127.0.0.1:7000 --forward $CDEVENTS_SINK_URL' \\
      --dead-letters http://127.0.0.1:7000/dead-letters --guarantee exactly-once --ordering per-subject
  cdevents-conformance test relay --list

The intermediary must forward to the sink (--listen; its URL is printed, and given to --trigger
as CDEVENTS_SINK_URL and K_SINK). Fault plans: none, transient, hostile, or e.g.
503:0.2,429:0.1,reset:0.05,max=3,delay=2s. What lost, duplicated, reordered and mutated mean,
and when a run is inconclusive: docs/relay.md.

--restart-after N (needs --trigger) checks durability (REL-001 across a restart): once N events
were acknowledged the kit holds its sending, kills the trigger's process group (SIGKILL), runs
the trigger again, waits for the target to accept connections, and goes on. Every event
acknowledged before the kill must still arrive; one in flight at the kill and not acknowledged
is re-sent, and owed only once acknowledged.

Exit codes:
  0  the claims hold at the --fail-on level
  1  a claim is broken
  2  usage error (bad flag, no case matches the filter)
  3  inconclusive: too few events, nothing acknowledged or nothing delivered";

/// Most events one run streams: the history takes ~60 bytes an event, held in memory.
const MAX_COUNT: u64 = 50_000_000;

/// Events per request under `--mode batch` unless `--batch-size` says.
const DEFAULT_BATCH: usize = 10;

/// `test relay` options.
#[derive(Debug, clap::Args)]
#[command(
    after_help = HELP,
    mut_arg("target", |a| a.help("The intermediary's URL, where the kit sends"))
)]
pub struct Args {
    #[command(flatten)]
    pub t: super::common_args::TargetArgs,
    /// Where the kit's sink listens (the intermediary forwards there); port 0 picks one.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:0",
        env = "CDEVENTS_CONFORMANCE_LISTEN",
        help_heading = "Target"
    )]
    pub listen: SocketAddr,
    /// A shell command that starts the intermediary, with CDEVENTS_SINK_URL and K_SINK set.
    #[arg(long, value_name = "CMD", help_heading = "Target")]
    pub trigger: Option<String>,
    /// The intermediary's dead-letter report: a URL answering a JSON array of
    /// {id, source, status, reason}, read once the run ends (REL-009).
    #[arg(long, value_name = "URL", help_heading = "Target")]
    pub dead_letters: Option<String>,
    /// Time allowed for one request to the intermediary.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration, help_heading = "Target")]
    pub timeout: Duration,
    /// The longest the sending may take; events left are not sent (the run says so).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration, help_heading = "Target")]
    pub budget: Duration,
    /// The longest wait, once everything is sent, for acknowledged events to arrive.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration, help_heading = "Target")]
    pub drain: Duration,
    /// Once N events were acknowledged, kill the intermediary the trigger started (SIGKILL to
    /// its process group), start it again and go on (needs --trigger; see docs/relay.md).
    #[arg(long, value_name = "N", help_heading = "Target")]
    pub restart_after: Option<u64>,
    /// Events to stream.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        help_heading = "Stream"
    )]
    pub count: u64,
    /// Events per second at most (0: as fast as the intermediary acknowledges).
    #[arg(long, value_name = "R", default_value_t = 0.0, help_heading = "Stream")]
    pub rate: f64,
    /// Requests in flight at once (1 under --ordering total).
    #[arg(long, value_name = "C", default_value_t = 8, help_heading = "Stream")]
    pub concurrency: usize,
    /// The CDEvents version of the events.
    #[arg(long, value_name = "VERSION", value_parser = parse_version, help_heading = "Stream")]
    pub spec: Option<SpecVersion>,
    /// The content mode the kit sends in: binary, structured or batch.
    #[arg(long, value_name = "MODE", default_value = "binary", value_parser = parse_mode, help_heading = "Stream")]
    pub mode: Mode,
    /// Events per request under --mode batch (default 10; at most one of each subject, so the
    /// kit still never has two events of one subject in flight).
    #[arg(long, value_name = "N", help_heading = "Stream")]
    pub batch_size: Option<usize>,
    /// Seed of the events and of the fault schedule.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 0,
        env = "CDEVENTS_CONFORMANCE_SEED",
        help_heading = "Stream"
    )]
    pub seed: u64,
    /// Which deliveries the sink answers badly.
    #[arg(long, value_name = "PLAN", default_value = "none", value_parser = parse_plan, env = "CDEVENTS_CONFORMANCE_FAULTS", help_heading = "Faults")]
    pub faults: Box<FaultPlan>,
    /// The delivery guarantee the intermediary claims.
    #[arg(long, value_name = "CLAIM", default_value = "at-most-once", value_parser = parse_guarantee, help_heading = "Claims")]
    pub guarantee: Guarantee,
    /// The order the intermediary claims to keep.
    #[arg(long, value_name = "CLAIM", default_value = "none", value_parser = parse_ordering, help_heading = "Claims")]
    pub ordering: Ordering,
    /// Only the case with this id, or ids starting with it (repeatable).
    #[arg(long = "case", value_name = "ID", help_heading = "Selection")]
    pub case: Vec<String>,
    /// Print the cases a run reports, and exit.
    #[arg(long, help_heading = "Selection")]
    pub list: bool,
    /// The weakest finding level that fails the run.
    #[arg(long, value_enum, default_value_t = LevelArg::Must, env = "CDEVENTS_CONFORMANCE_FAIL_ON", help_heading = "Output")]
    pub fail_on: LevelArg,
    /// Print only failures and the summary.
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,
    /// Print each case's evidence.
    #[arg(long, short, help_heading = "Output")]
    pub verbose: bool,
    #[command(flatten)]
    pub reports: Box<ReportArgs>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let filters: Vec<String> = args.t.filters.iter().chain(&args.case).cloned().collect();
    let selected = |id: &str| filters.is_empty() || filters.iter().any(|f| id.starts_with(f));
    let listed: Vec<String> = CASES
        .iter()
        .map(|(r, s)| format!("{r}/{s}"))
        .filter(|c| selected(c))
        .collect();
    if args.list {
        for c in &listed {
            println!("{c}");
        }
        return Ok(exit::OK);
    }
    if args.count > MAX_COUNT {
        anstream::eprintln!(
            "{FAIL}error{FAIL:#}: --count {} is over the {} events one run records",
            args.count,
            thousands(MAX_COUNT)
        );
        return Ok(exit::USAGE);
    }
    if listed.is_empty() {
        anstream::eprintln!(
            "{FAIL}error{FAIL:#}: no case matches {}; `--list` prints them",
            filters.join(", ")
        );
        return Ok(exit::USAGE);
    }
    match args.batch_size {
        Some(n) if args.mode != Mode::Batch => {
            anstream::eprintln!("{FAIL}error{FAIL:#}: --batch-size {n} needs --mode batch");
            return Ok(exit::USAGE);
        }
        Some(n) if n == 0 || n > MAX_BATCH => {
            anstream::eprintln!(
                "{FAIL}error{FAIL:#}: --batch-size {n} must be between 1 and {MAX_BATCH}"
            );
            return Ok(exit::USAGE);
        }
        _ => {}
    }
    if let Some(n) = args.restart_after {
        let why = if args.trigger.is_none() {
            Some("--restart-after needs --trigger: the kit can only restart what it started".into())
        } else if n == 0 || n >= args.count {
            Some(format!(
                "--restart-after {n} must be between 1 and --count ({}) less one",
                args.count
            ))
        } else {
            None
        };
        if let Some(why) = why {
            anstream::eprintln!("{FAIL}error{FAIL:#}: {why}");
            return Ok(exit::USAGE);
        }
    }
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(run_async(args, filters))
}

/// Runs the trigger in its own process group (so that what it starts can be killed with it),
/// with the sink's URL in its environment.
fn spawn_trigger(cmd: &str, sink: &str) -> anyhow::Result<tokio::process::Child> {
    tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .process_group(0)
        .env("CDEVENTS_SINK_URL", sink)
        .env("K_SINK", sink)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run the trigger `{cmd}`"))
}

/// Sends `signal` to the child's process group.
fn signal_group(child: &tokio::process::Child, signal: &str) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg("--")
            .arg(format!("-{pid}"))
            .stderr(Stdio::null())
            .status();
    }
}

/// Starts the trigger and waits (at most `timeout`) for `target` to accept connections.
async fn start_trigger(
    cmd: &str,
    sink: &str,
    target: &str,
    timeout: Duration,
) -> anyhow::Result<tokio::process::Child> {
    let child = spawn_trigger(cmd, sink)?;
    if !wait_reachable(target, timeout).await {
        anstream::eprintln!(
            "warning: {} does not accept connections {} after the trigger started",
            sanitize(target),
            humantime::format_duration(timeout)
        );
    }
    Ok(child)
}

/// The command that runs the same stream again (`reproduce` runs it with `--case ID`): every
/// parameter that shapes the stream, the faults and the verdict, and no flag that writes files.
fn reproduce_prefix(args: &Args, target: &str, spec: SpecVersion) -> String {
    let mut s = format!(
        "cdevents-conformance test relay --target {} --count {} --seed {} --concurrency {} \
         --spec {spec} --mode {} --faults {} --guarantee {} --ordering {}",
        shell_quote(target),
        args.count,
        args.seed,
        args.concurrency,
        args.mode,
        shell_quote(&args.faults.to_string()),
        args.guarantee,
        args.ordering
    );
    let d = |d: Duration| humantime::format_duration(d).to_string();
    if args.rate > 0.0 {
        s.push_str(&format!(" --rate {}", args.rate));
    }
    if let Some(n) = args.batch_size {
        s.push_str(&format!(" --batch-size {n}"));
    }
    for (flag, v, default) in [
        ("--timeout", args.timeout, Duration::from_secs(5)),
        ("--budget", args.budget, Duration::from_secs(300)),
        ("--drain", args.drain, Duration::from_secs(30)),
    ] {
        if v != default {
            s.push_str(&format!(" {flag} {}", d(v)));
        }
    }
    if let Some(t) = &args.trigger {
        s.push_str(&format!(" --trigger {}", shell_quote(t)));
    }
    if let Some(n) = args.restart_after {
        s.push_str(&format!(" --restart-after {n}"));
    }
    if let Some(u) = &args.dead_letters {
        s.push_str(&format!(" --dead-letters {}", shell_quote(u)));
    }
    s
}

/// What became of `--restart-after`.
enum Restart {
    /// Sending ended before that many events were acknowledged.
    NotReached(u64),
    /// Killed after `acked` events were acknowledged, and accepting connections again after
    /// `back` (or not, within the timeout).
    Done { acked: u64, back: Option<Duration> },
}

async fn wait_reachable(url: &str, timeout: Duration) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    let (Some(host), Some(port)) = (u.host_str(), u.port_or_known_default()) else {
        return false;
    };
    let host = host.trim_matches(|c| c == '[' || c == ']').to_owned();
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        let c = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await;
        if matches!(c, Ok(Ok(_))) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn run_async(args: Args, filters: Vec<String>) -> anyhow::Result<u8> {
    let target = args.t.target.clone().context("--target is required")?;
    let claims = Claims {
        guarantee: args.guarantee,
        ordering: args.ordering,
    };
    let spec = args.spec.unwrap_or(SpecVersion::DEFAULT);
    let run_started = std::time::Instant::now();
    let harness = Harness::start(RelayConfig {
        target: target.clone(),
        listen: args.listen,
        count: args.count,
        rate: (args.rate > 0.0).then_some(args.rate),
        concurrency: args.concurrency.max(1),
        plan: (*args.faults).clone(),
        seed: args.seed,
        spec,
        mode: args.mode,
        timeout: args.timeout,
        max_attempts: 5,
        ordering: args.ordering,
        batch_size: args.batch_size.unwrap_or(DEFAULT_BATCH),
    })
    .await?;
    let url = harness.sink_url();
    if !args.quiet {
        anstream::println!(
            "sink listening on {url} (faults: {}, seed {}); sending {} events to {} with concurrency {}{}",
            args.faults,
            args.seed,
            thousands(args.count),
            sanitize(&target),
            harness.concurrency(),
            if args.mode == Mode::Batch {
                format!(
                    ", in batches of up to {}",
                    args.batch_size.unwrap_or(DEFAULT_BATCH)
                )
            } else {
                String::new()
            }
        );
    }
    let mut child = match &args.trigger {
        Some(cmd) => Some(start_trigger(cmd, &url, &target, args.timeout).await?),
        None => None,
    };
    let sending_done = std::sync::atomic::AtomicBool::new(false);
    let send = async {
        let s = harness.send_all(args.budget).await;
        sending_done.store(true, std::sync::atomic::Ordering::Relaxed);
        s
    };
    let restart = async {
        let (Some(n), Some(cmd)) = (args.restart_after, args.trigger.as_deref()) else {
            return Ok(None);
        };
        while harness.acked() < n {
            if sending_done.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(Some(Restart::NotReached(n)));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        harness.hold(true);
        let acked = harness.acked();
        if let Some(mut c) = child.take() {
            signal_group(&c, "KILL");
            let _ = tokio::time::timeout(Duration::from_secs(5), c.wait()).await;
        }
        let killed = std::time::Instant::now();
        let c = spawn_trigger(cmd, &url)?;
        let back = wait_reachable(&target, args.timeout)
            .await
            .then(|| killed.elapsed());
        child = Some(c);
        harness.hold(false);
        anyhow::Ok(Some(Restart::Done { acked, back }))
    };
    let (sent, restarted) = tokio::join!(send, restart);
    let restarted = restarted?;
    match &restarted {
        Some(Restart::NotReached(n)) => anstream::eprintln!(
            "warning: no restart: the stream ended before {} events were acknowledged",
            thousands(*n)
        ),
        Some(Restart::Done { acked, back }) if !args.quiet => anstream::println!(
            "killed the intermediary (SIGKILL) after {} acknowledged events; {}",
            thousands(*acked),
            match back {
                Some(d) => format!("it accepted connections again after {} ms", d.as_millis()),
                None => format!(
                    "it did not accept connections again within {}",
                    humantime::format_duration(args.timeout)
                ),
            }
        ),
        _ => {}
    }
    if let Some(why) = &sent.stopped {
        anstream::eprintln!("warning: {}", sanitize(why));
    }
    let quiet = harness.quiet_period(Duration::from_secs(2));
    let settled = harness
        .drain(args.drain, quiet, Duration::from_millis(200))
        .await;
    if !settled && !args.quiet {
        anstream::println!(
            "stopped waiting: not every acknowledged event arrived within {} (or the sink was quiet for {})",
            humantime::format_duration(args.drain),
            humantime::format_duration(quiet)
        );
    }
    let dead_letters = match &args.dead_letters {
        Some(u) => match fetch_dead_letters(u, args.timeout).await {
            Ok(d) => Some(d),
            Err(e) => {
                anstream::eprintln!("warning: {}", sanitize(&e));
                None
            }
        },
        None => None,
    };
    if let Some(c) = &child {
        signal_group(c, "TERM");
    }
    drop(child);
    let (history, stream) = harness.finish();
    let judgement = check(&history, &stream, &claims, dead_letters.as_deref());

    let mut header = RunHeader::new(
        Suite::Relay,
        env!("CARGO_PKG_VERSION"),
        chrono::Utc::now().to_rfc3339(),
    );
    header.target = Some(target.clone());
    header.spec_versions = vec![spec.as_str().to_owned()];
    header.seed = Some(args.seed);
    header.fail_on = args.fail_on.into();
    header.command_line = std::env::args().collect();
    let base = reproduce_prefix(&args, &target, spec);
    let mut reporter = RunReporter::start(header, *args.reports, args.quiet, args.verbose)?;
    reporter.started_at(run_started);
    for mut c in judgement.cases {
        let keep = filters.is_empty()
            || filters.iter().any(|f| c.case.starts_with(f.as_str()))
            || c.case.ends_with("/evidence");
        if !keep {
            continue;
        }
        if let (Some(Restart::Done { acked, .. }), "REL-001") = (&restarted, c.requirement.as_str())
        {
            c.message.push_str(&format!(
                " (across a restart: the intermediary was killed after {} acknowledged events)",
                thousands(*acked)
            ));
        }
        if c.status.is_judged() && !c.status.is_pass() {
            c.reproduce = Some(format!("{base} --case {}", shell_quote(&c.case)));
        }
        reporter.case(c)?;
    }
    let o = &judgement.observed;
    anstream::println!("\n{}", o.sentence());
    anstream::println!(
        "sent {} requests; {} events acknowledged, {} not; sink got {} requests ({} undecodable, {} unknown events); latency ms p50 {:.1} p95 {:.1} p99 {:.1} max {:.1}; {:.0} events/s",
        thousands(sent.requests),
        thousands(o.acked),
        thousands(sent.not_acked_count),
        thousands(history.requests),
        thousands(history.undecodable),
        thousands(history.unknown),
        o.latency.p50,
        o.latency.p95,
        o.latency.p99,
        o.latency.max,
        o.throughput
    );
    for (seq, why) in sent.not_acked.iter().take(5) {
        anstream::println!(
            "  not acknowledged: {} (#{seq}): {}",
            stream.id(*seq),
            sanitize(why)
        );
    }
    reporter.observation(judgement.observation)?;
    let code = reporter.finish(false)?;
    if let (Some(Restart::NotReached(n)), exit::OK) = (&restarted, code) {
        // Asked to judge durability across a restart, and no restart happened: not a pass.
        anstream::eprintln!(
            "inconclusive: --restart-after {} was never reached, so durability across a restart was not judged",
            thousands(*n)
        );
        return Ok(exit::INCONCLUSIVE);
    }
    Ok(code)
}
