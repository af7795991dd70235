//! `reference relay`: run the reference store-and-forward relay, or a broken one.

use std::time::Duration;

use anyhow::Context;
use cdevents_suites::reference::relay::{spawn_reference_relay, Config, RelayFault, RelayOrdering};
use cdevents_suites::wire::Mode;
use clap::builder::{PossibleValuesParser, TypedValueParser};

use crate::exit;

const HELP: &str = "\
Examples:
  cdevents-conformance reference relay --forward http://127.0.0.1:9000/
  cdevents-conformance reference relay --listen 127.0.0.1:7000 --forward $CDEVENTS_SINK_URL --fault duplicate
  cdevents-conformance reference relay --forward $CDEVENTS_SINK_URL --ordering total
  cdevents-conformance reference relay --forward $CDEVENTS_SINK_URL --forward-mode structured
  cdevents-conformance reference relay --fault list

It prints its URL, then serves until interrupted. It answers 202 once an event is queued, and
forwards each subject's events in order, retrying transient failures (5xx, 408, 429, timeouts)
with backoff and Retry-After; permanent refusals are dead-lettered: GET /dead-letters lists them.
With --ordering total it forwards one event at a time, in the order it acknowledged them, and
claims total order. With --forward-mode it re-encodes every event in that mode, keeping the
data's type (Content-Type <-> datacontenttype) and setting an absent one to application/json.
With --state-dir it is durable: each event is journaled and synced to disk before it is
acknowledged, and after a restart (even a SIGKILL) it forwards what it still owed: at-least-once
across restarts.";

/// `reference relay` options.
#[derive(Debug, clap::Args)]
#[command(after_help = HELP)]
pub struct Args {
    #[command(flatten)]
    pub serve: super::common_args::ServeArgs,
    /// Where to forward (defaults to $CDEVENTS_SINK_URL, then $K_SINK).
    #[arg(long, value_name = "URL", env = "CDEVENTS_SINK_URL")]
    pub forward: Option<String>,
    /// Break one promise on purpose; `list` prints the faults and what each breaks.
    #[arg(long, value_name = "NAME")]
    pub fault: Option<String>,
    /// Time allowed for one forward.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Most forwards of one event before it is dead-lettered.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_attempts: u32,
    /// Durable mode: journal each event in DIR before acknowledging it, and forward what the
    /// journal still owes on start (at most 256 MiB of journal; past it, 503).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<std::path::PathBuf>,
    /// `per-subject`: one queue per subject, side by side; `total`: one queue, one event at a
    /// time, in acknowledgement order.
    #[arg(long, value_name = "ORDER", default_value = "per-subject", value_parser = PossibleValuesParser::new(["per-subject", "total"]).map(|s| ordering(&s)))]
    pub ordering: RelayOrdering,
    /// The mode events go on in: `same` (as received), `binary` or `structured`.
    #[arg(long, value_name = "MODE", default_value = "same", value_parser = PossibleValuesParser::new(["same", "binary", "structured"]).map(|s| forward_mode(&s)))]
    pub forward_mode: ForwardMode,
}

fn ordering(s: &str) -> RelayOrdering {
    match s {
        "total" => RelayOrdering::Total,
        _ => RelayOrdering::PerSubject,
    }
}

/// `--forward-mode`: `None` is `same`.
#[derive(Debug, Clone, Copy)]
pub struct ForwardMode(Option<Mode>);

fn forward_mode(s: &str) -> ForwardMode {
    ForwardMode(match s {
        "binary" => Some(Mode::Binary),
        "structured" => Some(Mode::Structured),
        _ => None,
    })
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let fault = match args.fault.as_deref() {
        Some("list") => {
            for f in RelayFault::ALL {
                let options = f.options();
                let with = if options.is_empty() {
                    String::new()
                } else {
                    format!(" with {options}")
                };
                anstream::println!(
                    "{:<28} breaks {:<25} (exposed by --faults {}{with}; observed {}) {}",
                    f.name(),
                    f.breaks().join(", "),
                    f.exposed_by(),
                    f.observed(),
                    f.describe()
                );
            }
            return Ok(exit::OK);
        }
        Some(name) => Some(name.parse::<RelayFault>()?),
        None => None,
    };
    let forward = args
        .forward
        .or_else(|| std::env::var("K_SINK").ok())
        .context("no --forward (nor CDEVENTS_SINK_URL or K_SINK) to forward to")?;
    reqwest::Url::parse(&forward).with_context(|| format!("`{forward}` is not a URL"))?;
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async move {
        let (addr, handle) = spawn_reference_relay(Config {
            listen: args.serve.listen,
            forward,
            fault,
            timeout: args.timeout,
            max_attempts: args.max_attempts.max(1),
            ordering: args.ordering,
            forward_mode: args.forward_mode.0,
            state_dir: args.state_dir.clone(),
            ..Config::default()
        })
        .await
        .with_context(|| match &args.state_dir {
            Some(d) => format!(
                "cannot listen on {} or open the state in {}",
                args.serve.listen,
                d.display()
            ),
            None => format!("cannot listen on {}", args.serve.listen),
        })?;
        anstream::println!("http://{addr}/");
        anstream::println!("dead letters: http://{addr}/dead-letters");
        tokio::select! {
            _ = handle.wait() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(exit::OK)
    })
}
