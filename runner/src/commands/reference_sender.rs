//! `reference sender`: a conformant CDEvents sender, or a broken one with `--fault`.

use std::time::Duration;

use anyhow::Context;
use cdevents_schemas::SpecVersion;
use cdevents_suites::reference::sender::{run_reference_sender, SenderConfig, SenderFault};
use cdevents_suites::wire::Mode;

use crate::exit;

const HELP: &str = "\
Examples:
  cdevents-conformance reference sender --target http://127.0.0.1:8080/ --count 20
  cdevents-conformance reference sender --target $CDEVENTS_SINK_URL --fault retry-new-id
  cdevents-conformance reference sender --fault list

Prints the manifest on stdout: one JSON line per event (id, source, type, subject).";

/// `reference sender` options.
#[derive(Debug, clap::Args)]
#[command(after_help = HELP)]
pub struct Args {
    /// Where to deliver (defaults to $CDEVENTS_SINK_URL, then $K_SINK).
    #[arg(long, value_name = "URL", env = "CDEVENTS_SINK_URL")]
    pub target: Option<String>,
    /// How many events.
    #[arg(long, value_name = "N", default_value_t = 12)]
    pub count: usize,
    /// The CDEvents version of the events.
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub spec: Option<SpecVersion>,
    /// The content mode: binary, structured or batch.
    #[arg(long, value_name = "MODE", default_value = "binary", value_parser = parse_mode)]
    pub mode: Mode,
    /// Seeds the events, ids and jitter.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Break one rule on purpose; `list` prints them.
    #[arg(long, value_name = "NAME")]
    pub fault: Option<String>,
    /// Time allowed for one request.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Most attempts per event.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_attempts: u32,
    /// The webhook profile: an OPTIONS validation request naming ORIGIN before the first
    /// delivery, and ORIGIN in every delivery's WebHook-Request-Origin.
    #[arg(long, value_name = "ORIGIN", num_args = 0..=1, default_missing_value = "reference-sender.cdevents-conformance.invalid")]
    pub webhook: Option<String>,
    /// An access token sent with every delivery as `Authorization: Bearer`.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

fn parse_version(s: &str) -> Result<SpecVersion, String> {
    s.parse::<SpecVersion>().map_err(|e| e.to_string())
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let fault = match args.fault.as_deref() {
        Some("list") => {
            for f in SenderFault::ALL {
                println!(
                    "{:<24} breaks {:<24} (exposed by --faults {}) {}",
                    f.name(),
                    f.breaks().join(", "),
                    f.exposed_by(),
                    f.describe()
                );
            }
            return Ok(exit::OK);
        }
        Some(name) => Some(name.parse::<SenderFault>().map_err(anyhow::Error::msg)?),
        None => None,
    };
    let target = args
        .target
        .or_else(|| std::env::var("K_SINK").ok())
        .context("no --target (nor CDEVENTS_SINK_URL or K_SINK) to deliver to")?;
    let cfg = SenderConfig {
        target,
        count: args.count,
        spec: args.spec.unwrap_or(SpecVersion::DEFAULT),
        mode: args.mode,
        seed: args.seed,
        fault,
        timeout: args.timeout,
        max_attempts: args.max_attempts.max(1),
        webhook_origin: args.webhook,
        token: args.token.filter(|t| !t.is_empty()),
        ..SenderConfig::default()
    };
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let outcome = rt.block_on(run_reference_sender(&cfg))?;
    for entry in &outcome.manifest {
        println!("{}", serde_json::to_string(entry)?);
    }
    for (id, why) in &outcome.gave_up {
        eprintln!("gave up on {id}: {why}");
    }
    eprintln!(
        "{} of {} events delivered in {} requests",
        outcome.delivered,
        outcome.manifest.len(),
        outcome.requests
    );
    Ok(if outcome.delivered == 0 && !outcome.manifest.is_empty() {
        exit::INCONCLUSIVE
    } else {
        exit::OK
    })
}
