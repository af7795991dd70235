//! `reference listener`: run the conformant reference listener, or a broken one.

use anyhow::Context;
use cdevents_suites::reference::listener::{spawn_reference_listener, Config, Fault};

use crate::exit;

const HELP: &str = "\
Examples:
  cdevents-conformance reference listener
  cdevents-conformance reference listener --listen 127.0.0.1:8080 --forward http://127.0.0.1:9000/
  cdevents-conformance reference listener --fault empty-200
  cdevents-conformance reference listener --fault list

It prints its URL, then serves until interrupted. It answers 202 to a valid event, 400 to a
request that is no valid CloudEvent or carries an invalid CDEvent, 413 to a body over
--max-body, 415 to a format it does not understand. GET /metrics answers its counters in the
OpenMetrics text format (Prometheus scrapes it): deliveries by mode and status, latency,
events by type and outcome (rejected by reason), redeliveries, and CI/CD counters derived from
the events (services deployed, changes, pipeline and task runs by outcome, artifacts
published, incidents).";

/// `reference listener` options.
#[derive(Debug, clap::Args)]
#[command(after_help = HELP)]
pub struct Args {
    #[command(flatten)]
    pub serve: super::common_args::ServeArgs,
    /// Forward every accepted request, as received, to this URL.
    #[arg(long, value_name = "URL")]
    pub forward: Option<String>,
    /// Break one rule on purpose; `list` prints the faults and what each breaks.
    #[arg(long, value_name = "NAME")]
    pub fault: Option<String>,
    /// Require this access token on every delivery, as `Authorization: Bearer` or as the
    /// access_token query parameter (http-webhook 3); 401 otherwise.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CDEVENTS_CONFORMANCE_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Largest body taken; larger ones are answered 413.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub max_body: usize,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let fault = match args.fault.as_deref() {
        Some("list") => {
            for f in Fault::ALL {
                anstream::println!(
                    "{:<32} breaks {:<36} {}",
                    f.name(),
                    f.breaks().join(", "),
                    f.describe()
                );
            }
            return Ok(exit::OK);
        }
        Some(name) => Some(name.parse::<Fault>()?),
        None => None,
    };
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async move {
        let config = Config {
            listen: args.serve.listen,
            fault,
            max_body: args.max_body.max(64 << 10),
            forward: args.forward,
            token: args.token.filter(|t| !t.is_empty()),
            ..Config::default()
        };
        let (addr, handle) = spawn_reference_listener(config)
            .await
            .with_context(|| format!("cannot listen on {}", args.serve.listen))?;
        anstream::println!("http://{addr}/");
        tokio::select! {
            _ = handle.wait() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(exit::OK)
    })
}
