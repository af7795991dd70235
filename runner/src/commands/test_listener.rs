//! `test listener`: send the corpus to a listener under test and judge every answer.

use super::common_args::parse_version;
use std::time::Duration;

use anyhow::Context;
use cdevents_reports::model::{shell_quote, RunHeader, Suite};
use cdevents_schemas::SpecVersion;
use cdevents_suites::drivers::listener::{
    cases, check_target, run_observed, Case, Observer, Options, RunConfig, Secret,
};

use crate::cli::LevelArg;
use crate::exit;
use crate::output::FAIL;
use crate::reporting::{ReportArgs, RunReporter};

const HELP: &str = "\
Examples:
  cdevents-conformance test listener --target http://127.0.0.1:8080/events
  cdevents-conformance test listener --target $URL --cases 5 --seed 42 --profile batch
  cdevents-conformance test listener --target $URL LIS-004        # cases whose id starts so
  cdevents-conformance test listener --list
  cdevents-conformance test listener --target $URL --report-json report.json --fail-on must
  cdevents-conformance test listener --target $URL --observe 127.0.0.1:9000 --profile webhook
      # the listener forwards what it takes to http://127.0.0.1:9000/ (LIS-010..LIS-013)

Most listener requirements are SHOULD (http-webhook 2.2 defers to RFC 7231), so --fail-on
defaults to should here. A target that does not answer is an error of the run (exit 3).

Exit codes:
  0  no failing case at the --fail-on level
  1  failing cases
  2  usage error (bad flag, no case matches the filter)
  3  the run could not judge (target unreachable or silent)";

/// Optional groups of cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// Batched mode (application/cloudevents-batch+json).
    Batch,
    /// The webhook abuse-protection handshake (OPTIONS, WebHook-Request-Origin).
    Webhook,
}

/// `test listener` options.
#[derive(Debug, clap::Args)]
#[command(
    after_help = HELP,
    mut_arg("target", |a| a.help("The listener's URL (http:// or https://)"))
)]
pub struct Args {
    #[command(flatten)]
    pub t: super::common_args::TargetArgs,
    /// The target's access token: sent with every request as `Authorization: Bearer`, and
    /// needed by the WH-014 cases (token in the header only, in access_token only). Never
    /// printed: evidence shows `***`.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CDEVENTS_CONFORMANCE_TOKEN",
        hide_env_values = true,
        help_heading = "Target"
    )]
    pub token: Option<String>,
    /// The longest wait for any one answer.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration, env = "CDEVENTS_CONFORMANCE_TIMEOUT", help_heading = "Target")]
    pub timeout: Duration,
    /// The longest the whole run may take; cases left are errored.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration, help_heading = "Target")]
    pub budget: Duration,
    /// Well-formed requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8, help_heading = "Target")]
    pub concurrency: usize,
    /// Spec versions whose event types are sent (repeatable).
    #[arg(long = "spec", value_name = "VERSION", value_parser = parse_version, default_value = "0.5.1", env = "CDEVENTS_CONFORMANCE_SPEC", value_delimiter = ',', help_heading = "Corpus")]
    pub specs: Vec<SpecVersion>,
    /// Generated valid events per type and mode.
    #[arg(
        long = "cases",
        value_name = "N",
        default_value_t = 1,
        help_heading = "Corpus"
    )]
    pub cases_per_type: usize,
    /// Seed of the generated events: the same seed sends the same bytes.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 0,
        env = "CDEVENTS_CONFORMANCE_SEED",
        help_heading = "Corpus"
    )]
    pub seed: u64,
    /// Optional groups of cases (repeatable).
    #[arg(
        long = "profile",
        value_enum,
        value_name = "NAME",
        help_heading = "Corpus"
    )]
    pub profiles: Vec<Profile>,
    /// Size in bytes of the oversized body (WH-012).
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20, help_heading = "Corpus")]
    pub oversize: usize,
    /// Start a sink here to which the listener forwards what it accepts, and check that every
    /// accepted event arrives unchanged and nothing else does.
    #[arg(long, value_name = "ADDR", help_heading = "Observation")]
    pub observe: Option<std::net::SocketAddr>,
    /// The longest wait, after the cases, for forwarded events to arrive.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration, help_heading = "Observation")]
    pub settle: Duration,
    /// Only the case with this id, or ids starting with it (repeatable).
    #[arg(long = "case", value_name = "ID", help_heading = "Selection")]
    pub case: Vec<String>,
    /// Print the cases that would run, and exit.
    #[arg(long, help_heading = "Selection")]
    pub list: bool,
    /// The weakest level whose failures fail the run.
    #[arg(long, value_enum, default_value_t = LevelArg::Should, env = "CDEVENTS_CONFORMANCE_FAIL_ON", help_heading = "Output")]
    pub fail_on: LevelArg,
    /// Print only failures and the summary.
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,
    /// Print the request and answer of each case.
    #[arg(long, short, help_heading = "Output")]
    pub verbose: bool,
    #[command(flatten)]
    pub selection: crate::listing::Selection,
    /// Boxed: it is large, and `Args` is one variant of the command enum.
    #[command(flatten)]
    pub reports: Box<ReportArgs>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let opts = Options {
        specs: dedup(&args.specs),
        cases_per_type: args.cases_per_type.max(1),
        seed: args.seed,
        batch: args.profiles.contains(&Profile::Batch),
        oversize_bytes: args.oversize,
        webhook: args.profiles.contains(&Profile::Webhook),
    };
    let prefixes: Vec<&String> = args.t.filters.iter().chain(&args.case).collect();
    let selected: Vec<Case> = cases(&opts)
        .into_iter()
        .filter(|c| args.selection.keeps(&c.id, c.requirement, &prefixes))
        .collect();
    if selected.is_empty() {
        anyhow::bail!(
            "no case matches {:?} and the --level/--role filters; --list shows them",
            prefixes
        );
    }
    if args.list {
        let entries: Vec<crate::listing::Entry> = selected
            .iter()
            .map(|c| crate::listing::Entry {
                id: c.id.clone(),
                requirement: c.requirement.to_owned(),
                spec: Some(c.spec),
                what: c.what.clone(),
            })
            .collect();
        crate::listing::print(&entries);
        return Ok(exit::OK);
    }
    let target = args.t.target.clone().context("--target is required")?;
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;

    let mut header = RunHeader::new(
        Suite::Listener,
        env!("CARGO_PKG_VERSION"),
        chrono::Utc::now().to_rfc3339(),
    );
    header.target = Some(target.clone());
    header.spec_versions = opts.specs.iter().map(|v| v.as_str().to_owned()).collect();
    let profiles: Vec<&str> = [(opts.batch, "batch"), (opts.webhook, "webhook")]
        .iter()
        .filter_map(|&(on, name)| on.then_some(name))
        .collect();
    header.profile = (!profiles.is_empty()).then(|| profiles.join(","));
    header.seed = Some(args.seed);
    header.fail_on = args.fail_on.into();
    let secret = args.token.as_deref().and_then(Secret::new);
    header.command_line = std::env::args()
        .map(|a| match &secret {
            Some(t) => t.redact(&a),
            None => a,
        })
        .collect();

    let cfg = RunConfig {
        target: target.clone(),
        timeout: args.timeout,
        budget: args.budget,
        concurrency: args.concurrency,
        seed: args.seed,
        probe_spec: opts.specs.first().copied().unwrap_or(SpecVersion::DEFAULT),
        reproduce: Some(reproduce_prefix(&args, &opts, &target)),
        token: secret,
    };
    let observer = match args.observe {
        Some(addr) => Some(
            rt.block_on(Observer::start(addr, args.settle))
                .with_context(|| format!("--observe {addr}: cannot listen there"))?,
        ),
        None => None,
    };
    if let (Some(o), false) = (&observer, args.quiet) {
        anstream::eprintln!(
            "observing: the listener is to forward what it accepts to {}",
            o.url()
        );
    }
    if let Err(e) = rt.block_on(check_target(&cfg)) {
        anstream::eprintln!("{FAIL}error{FAIL:#}: {e}; nothing was judged");
        return Ok(exit::INCONCLUSIVE);
    }
    let mut reporter =
        RunReporter::start(header, (*args.reports).clone(), args.quiet, args.verbose)?;
    let mut write_error = None;
    let outcome = rt.block_on(run_observed(&cfg, selected, observer.as_ref(), |r| {
        if let Err(e) = reporter.case(r) {
            write_error.get_or_insert(e);
        }
    }));
    if let Some(e) = write_error {
        return Err(e);
    }
    if let Err(e) = outcome {
        anstream::eprintln!("{FAIL}error{FAIL:#}: {e}; nothing was judged");
        let _ = reporter.finish(false)?;
        return Ok(exit::INCONCLUSIVE);
    }
    reporter.finish(false)
}

fn dedup(specs: &[SpecVersion]) -> Vec<SpecVersion> {
    let mut v = specs.to_vec();
    v.sort();
    v.dedup();
    v
}

/// The command line that reruns one case: the same corpus options and target.
fn reproduce_prefix(args: &Args, opts: &Options, target: &str) -> String {
    let mut s = format!(
        "cdevents-conformance test listener --target {} --seed {}",
        shell_quote(target),
        opts.seed
    );
    for v in &opts.specs {
        s.push_str(&format!(" --spec {v}"));
    }
    if opts.cases_per_type != 1 {
        s.push_str(&format!(" --cases {}", opts.cases_per_type));
    }
    if opts.batch {
        s.push_str(" --profile batch");
    }
    if opts.webhook {
        s.push_str(" --profile webhook");
    }
    if args.token.is_some() {
        // The token itself is never printed: the rerun takes it from the environment.
        s.push_str(" --token \"$CDEVENTS_CONFORMANCE_TOKEN\"");
    }
    if let Some(addr) = args.observe {
        s.push_str(&format!(" --observe {addr}"));
        if args.settle != Duration::from_secs(2) {
            s.push_str(&format!(
                " --settle {}",
                humantime::format_duration(args.settle)
            ));
        }
    }
    if opts.oversize_bytes != 8 << 20 {
        s.push_str(&format!(" --oversize {}", opts.oversize_bytes));
    }
    if args.timeout != Duration::from_secs(5) {
        s.push_str(&format!(
            " --timeout {}",
            humantime::format_duration(args.timeout)
        ));
    }
    s
}
