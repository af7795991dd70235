//! `test sender`: host a sink, let the sender under test deliver to it, judge every request.

use super::common_args::{parse_guarantee, parse_ordering, parse_plan, parse_version};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use cdevents_reports::model::{RunHeader, Suite};
use cdevents_schemas::{Registry, SpecVersion};
use cdevents_suites::drivers::listener::Secret;
use cdevents_suites::drivers::sender::{
    judge, read_recording, write_recording, Claims, Guarantee, ManifestEntry, Ordering, Sink,
    SinkConfig, REDACTED_TOKEN,
};
use cdevents_suites::faults::FaultPlan;
use tokio::io::AsyncBufReadExt;

use super::sender_repro;
use crate::cli::LevelArg;
use crate::exit;
use crate::reporting::{sanitize, ReportArgs, RunReporter};

const HELP: &str = "\
Examples:
  cdevents-conformance test sender --trigger 'my-sender --once'
  cdevents-conformance test sender --faults hostile --guarantee at-least-once \\
      --trigger 'cdevents-conformance reference sender --target $CDEVENTS_SINK_URL'
  cdevents-conformance test sender --listen 127.0.0.1:8080 --expect 20 --timeout 2m

The trigger runs under `sh -c` with CDEVENTS_SINK_URL and K_SINK set to the sink's URL. If it
prints a manifest (one JSON object per line with at least `id` and `source`), completeness is
judged too. Fault plans: none, transient, hostile, or e.g. 503:0.2,429:0.1,reset:0.05,max=3,delay=10s.";

/// `test sender` options.
#[derive(Debug, clap::Args)]
#[command(after_help = HELP)]
pub struct Args {
    /// Only cases whose id starts with one of these (e.g. `SND-006`, `CE-HTTP`).
    #[arg(value_name = "ID_PREFIX")]
    pub filters: Vec<String>,
    /// Print the requirements this suite judges (filtered), and exit.
    #[arg(long, help_heading = "Selection")]
    pub list: bool,
    #[command(flatten)]
    pub selection: crate::listing::Selection,
    /// Where the sink listens; port 0 picks a free one. The URL is printed.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:0",
        env = "CDEVENTS_CONFORMANCE_LISTEN",
        help_heading = "Sink"
    )]
    pub listen: SocketAddr,
    /// A shell command that runs the sender under test, with CDEVENTS_SINK_URL and K_SINK set.
    #[arg(
        long,
        value_name = "CMD",
        env = "CDEVENTS_CONFORMANCE_TRIGGER",
        help_heading = "Sink"
    )]
    pub trigger: Option<String>,
    /// Stop waiting once this many distinct events arrived.
    #[arg(long, value_name = "N", help_heading = "Sink")]
    pub expect: Option<usize>,
    /// The longest the run waits (for the trigger, then for --expect).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration, env = "CDEVENTS_CONFORMANCE_TIMEOUT", help_heading = "Sink")]
    pub timeout: Duration,
    /// Largest request body kept; larger ones are answered 413.
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 20, help_heading = "Sink")]
    pub max_body: usize,
    /// Accept batched-mode requests (otherwise a batch breaks CE-HTTP-015).
    #[arg(long, help_heading = "Sink")]
    pub allow_batch: bool,
    /// Which deliveries the sink answers badly.
    #[arg(long, value_name = "PLAN", default_value = "none", value_parser = parse_plan, env = "CDEVENTS_CONFORMANCE_FAULTS", help_heading = "Faults")]
    pub faults: Box<FaultPlan>,
    /// Seed of the fault schedule: the same seed replays the same faults.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 0,
        env = "CDEVENTS_CONFORMANCE_SEED",
        help_heading = "Faults"
    )]
    pub seed: u64,
    /// The delivery guarantee the sender claims.
    #[arg(long, value_name = "CLAIM", default_value = "at-most-once", value_parser = parse_guarantee, env = "CDEVENTS_CONFORMANCE_GUARANTEE", help_heading = "Claims")]
    pub guarantee: Guarantee,
    /// The order the sender claims to keep.
    #[arg(long, value_name = "CLAIM", default_value = "none", value_parser = parse_ordering, help_heading = "Claims")]
    pub ordering: Ordering,
    /// Judge every event against this spec version instead of the one it declares.
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub spec: Option<SpecVersion>,
    /// The weakest finding level that fails the run.
    #[arg(long, value_enum, default_value_t = LevelArg::Must, env = "CDEVENTS_CONFORMANCE_FAIL_ON", help_heading = "Output")]
    pub fail_on: LevelArg,
    /// Print only failures and the summary.
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,
    /// Print the request and answer of each case.
    #[arg(long, short, help_heading = "Output")]
    pub verbose: bool,
    /// Only report the case with this id, or ids starting with it (repeatable); every rule is
    /// still judged over the whole run.
    #[arg(long = "case", value_name = "ID", help_heading = "Selection")]
    pub case: Vec<String>,
    /// Write every request received (raw) and the manifest to FILE, for `--replay`. Without a
    /// trigger and with `--results`, they are written beside the results file. With `--token`,
    /// every occurrence of the token is written as REDACTED-ACCESS-TOKEN.
    #[arg(long, value_name = "FILE", help_heading = "Sink")]
    pub record: Option<PathBuf>,
    /// Judge the requests of a recording file (`--record`) instead of listening. WH-013 of a
    /// recording written with `--token` is judged on its placeholder; `--token` is not needed.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["trigger", "record"], help_heading = "Sink")]
    pub replay: Option<PathBuf>,
    #[command(flatten)]
    pub reports: Box<ReportArgs>,
    /// `webhook`: the sink grants the OPTIONS validation handshake only to a request naming its
    /// WebHook-Request-Origin, answers 403 to deliveries before one was granted, and judges
    /// WH-016 and WH-017.
    #[arg(
        long = "profile",
        value_enum,
        value_name = "NAME",
        help_heading = "Sink"
    )]
    pub profiles: Vec<SenderProfile>,
    /// The access token the sender under test was given: every delivery must carry it as
    /// `Authorization: Bearer` or `access_token` (WH-013). Never printed: evidence shows `***`.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CDEVENTS_CONFORMANCE_TOKEN",
        hide_env_values = true,
        help_heading = "Sink"
    )]
    pub token: Option<String>,
}

/// Optional sink behaviours of `test sender`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SenderProfile {
    /// The webhook abuse-protection handshake (OPTIONS, WebHook-Request-Origin).
    Webhook,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<u8> {
    if args.list {
        let prefixes: Vec<&String> = args.filters.iter().collect();
        let specs: Vec<SpecVersion> = args.spec.into_iter().collect();
        let entries = crate::listing::requirements_of(
            cdevents_reports::Role::Sender,
            &specs,
            &args.selection,
            &prefixes,
        );
        if entries.is_empty() {
            anyhow::bail!("no requirement matches {prefixes:?} and the --level/--role filters");
        }
        crate::listing::print(&entries);
        return Ok(exit::OK);
    }
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<u8> {
    let registry = Registry::embedded().context("the embedded registry does not load")?;
    let (guarantee, ordering) = (args.guarantee, args.ordering);
    let (rec, manifest, url) = match &args.replay {
        Some(file) => {
            let f = std::fs::File::open(file)
                .with_context(|| format!("cannot open the recording {}", file.display()))?;
            let (rec, manifest) =
                read_recording(std::io::BufReader::new(f), &SinkConfig::default().limits)
                    .with_context(|| format!("cannot replay {}", file.display()))?;
            (rec, manifest, format!("replay of {}", file.display()))
        }
        None => listen(&args).await?,
    };
    if let Some(path) = sender_repro::record_path(&args) {
        let write = || -> std::io::Result<()> {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
            write_recording(&mut f, &rec, Some(&manifest), args.token.as_deref())
        };
        write().with_context(|| format!("cannot write the recording {}", path.display()))?;
    }
    let claims = Claims {
        guarantee,
        ordering,
        allow_batch: args.allow_batch,
        webhook: args.profiles.contains(&SenderProfile::Webhook),
        // A recording written with the token holds a placeholder where the token was: WH-013
        // is judged on it, with or without --token on the replay.
        token: if rec.token_redacted {
            Some(REDACTED_TOKEN.to_owned())
        } else {
            args.token.clone().filter(|t| !t.is_empty())
        },
    };
    let manifest = (!manifest.is_empty()).then_some(manifest);
    let mut cases = judge(
        &rec,
        &claims,
        &args.faults,
        manifest.as_deref(),
        &registry,
        args.spec,
    );
    let prefix = sender_repro::reproduce_prefix(&args, sender_repro::record_path(&args).as_deref());
    sender_repro::attach(&mut cases, prefix.as_deref());
    // The reproduce line repeats the trigger, which may hold the token.
    if let Some(t) = args.token.as_deref().and_then(Secret::new) {
        for c in &mut cases {
            c.reproduce = c.reproduce.as_deref().map(|r| t.redact(r));
        }
    }
    cases.retain(|c| sender_repro::selected(c, &args.case));
    report(args, rec, cases, url)
}

/// Hosts the sink, runs the trigger or waits for the external sender, and returns what arrived.
async fn listen(
    args: &Args,
) -> anyhow::Result<(
    cdevents_suites::drivers::sender::Recording,
    Vec<ManifestEntry>,
    String,
)> {
    let sink = Sink::start(SinkConfig {
        listen: args.listen,
        plan: (*args.faults).clone(),
        seed: args.seed,
        max_body: args.max_body,
        webhook: args.profiles.contains(&SenderProfile::Webhook),
        ..SinkConfig::default()
    })
    .await
    .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = sink.url();
    if !args.quiet {
        anstream::println!(
            "sink listening on {url} (faults: {}, seed {})",
            args.faults,
            args.seed
        );
    }
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut manifest: Vec<ManifestEntry> = Vec::new();
    if let Some(cmd) = &args.trigger {
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .env("CDEVENTS_SINK_URL", &url)
            .env("K_SINK", &url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot run the trigger `{cmd}`"))?;
        let stdout = child.stdout.take().context("no trigger stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let read = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(entry) = ManifestEntry::parse_line(&line) {
                    manifest.push(entry);
                } else if args.verbose {
                    anstream::println!("trigger: {}", sanitize(&line));
                }
            }
            child.wait().await
        };
        match tokio::time::timeout_at(deadline, read).await {
            Ok(Ok(status)) if !status.success() => {
                anstream::eprintln!("warning: the trigger exited with {status}");
            }
            Ok(_) => {}
            Err(_) => anstream::eprintln!(
                "warning: the trigger was still running after {}; judging what arrived",
                humantime::format_duration(args.timeout)
            ),
        }
        if let Some(n) = args.expect {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            sink.wait_for_events(n, left).await;
        }
    } else {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        sink.wait_for_events(args.expect.unwrap_or(usize::MAX), left)
            .await;
    }
    // Let answers in flight (a delay fault) be recorded.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok((sink.stop(), manifest, url))
}

fn report(
    args: Args,
    rec: cdevents_suites::drivers::sender::Recording,
    cases: Vec<cdevents_reports::model::CaseResult>,
    url: String,
) -> anyhow::Result<u8> {
    let mut header = RunHeader::new(
        Suite::Sender,
        env!("CARGO_PKG_VERSION"),
        chrono::Utc::now().to_rfc3339(),
    );
    let secret = args.token.as_deref().and_then(Secret::new);
    let redact = |s: String| match &secret {
        Some(t) => t.redact(&s),
        None => s,
    };
    header.target = Some(redact(args.trigger.clone().unwrap_or_else(|| url.clone())));
    header.spec_versions = vec![args
        .spec
        .unwrap_or(SpecVersion::DEFAULT)
        .as_str()
        .to_owned()];
    header.seed = Some(args.seed);
    header.fail_on = args.fail_on.into();
    header.command_line = std::env::args().map(redact).collect();
    if args.profiles.contains(&SenderProfile::Webhook) {
        header.profile = Some("webhook".to_owned());
    }
    let mut reporter = RunReporter::start(header, *args.reports, args.quiet, args.verbose)?;
    if rec.deliveries.is_empty() {
        anstream::println!(
            "nothing was received at {url} within {}: no verdict",
            humantime::format_duration(args.timeout)
        );
        let mut c = cdevents_reports::model::CaseResult::new(
            "WH-001/nothing-received",
            "WH-001",
            cdevents_reports::Level::Must,
            cdevents_reports::model::Status::Errored,
            format!("no request reached the sink at {url}: nothing to judge"),
        );
        c.roles = vec![cdevents_reports::Role::Sender];
        reporter.case(c)?;
        reporter.finish(false)?;
        return Ok(exit::INCONCLUSIVE);
    }
    if !args.quiet {
        anstream::println!(
            "received {} requests on {} connections ({} over capacity, {} broken)",
            rec.deliveries.len(),
            rec.stats.connections,
            rec.stats.over_capacity,
            rec.stats.connection_errors
        );
    }
    let prefixes: Vec<&String> = args.filters.iter().collect();
    for c in cases {
        if args.selection.keeps(&c.case, &c.requirement, &prefixes) {
            reporter.case(c)?;
        }
    }
    reporter.finish(false)
}
