//! The command line, declared with clap derive. Every subcommand carries examples in its help.

use std::path::PathBuf;

use cdevents_reports::{Level, Role};
use cdevents_schemas::SpecVersion;
use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  no failing finding (conformant at the --fail-on level)
  1  failing findings
  2  usage or input error (bad flag, unreadable path, unknown spec version)
  3  the run could not judge (target unreachable, nothing arrived)";

/// Conformance and interoperability test kit for CDEvents.
#[derive(Debug, Parser)]
#[command(
    name = "cdevents-conformance",
    version,
    long_version = concat!(env!("CARGO_PKG_VERSION"), "\nCDEvents spec versions: 0.3.0, 0.4.1, 0.5.1, 0.6.0-draft\nCloudEvents 1.0.2 (HTTP binding, JSON format, HTTP webhook)"),
    about,
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    /// When to color the output. `auto` colors a terminal unless NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true, env = "CDEVENTS_CONFORMANCE_COLOR")]
    pub color: ColorWhen,

    /// Read settings from this file instead of ./cdevents-conformance.toml (see `config --help`).
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        env = "CDEVENTS_CONFORMANCE_CONFIG"
    )]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// When to use colors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate CDEvents offline: files, folders, NDJSON streams, HTTP captures or stdin.
    #[command(after_help = VALIDATE_HELP)]
    Validate(ValidateArgs),
    /// Print the requirement catalogue: every check the kit makes, with its level and section.
    #[command(after_help = REQUIREMENTS_HELP)]
    Requirements(RequirementsArgs),
    /// Run a conformance suite against a live implementation.
    #[command(subcommand, after_help = TEST_HELP)]
    Test(TestCommand),
    /// Run a reference implementation (conformant, or broken on purpose with --fault).
    #[command(subcommand, after_help = REFERENCE_HELP)]
    Reference(ReferenceCommand),
    /// Show the whole kit working, with no setup: reference implementations on loopback, every
    /// suite against them, one faulty target, and every report format.
    Demo(crate::commands::demo::Args),
    /// Re-run exactly one case of a results file (same seed, same event, same faults).
    Reproduce(crate::commands::reproduce::Args),
    /// Re-render a results file into reports, or compare two runs for CI gating.
    #[command(subcommand, after_help = REPORT_HELP)]
    Report(crate::commands::report::ReportCommand),
    /// Check the config file (cdevents-conformance.toml) and print the flags it sets per suite.
    Config(crate::config::Args),
    /// Print a shell completion script, generated from this command line's definition.
    Completions(crate::commands::completions::CompletionsArgs),
    /// Print the man page (roff), generated from this command line's definition.
    Man(crate::commands::completions::ManArgs),
    /// Make a failed case of a results file (e.g. a shrunk property-test failure) a regression
    /// fixture under fixtures/regressions/, which the fixture tests run first.
    Promote(crate::commands::promote::Args),
    /// Judge the kit itself: every suite against its reference and every fault, the fault ×
    /// requirement matrix, and the check coverage of the catalogue.
    Selftest(crate::commands::selftest::Args),
}

/// The live suites, one per role of the implementation under test.
#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Drive a CDEvents listener: the kit sends, the target receives.
    Listener(crate::commands::test_listener::Args),
    /// Judge a CDEvents sender: the kit hosts a sink, the target sends to it.
    Sender(crate::commands::test_sender::Args),
    /// Judge an intermediary: the kit sends into it and receives what comes out, with faults.
    Relay(crate::commands::test_relay::Args),
}

/// The reference implementations.
#[derive(Debug, Subcommand)]
pub enum ReferenceCommand {
    /// A conformant CDEvents listener (or a broken one, with --fault).
    Listener(crate::commands::reference_listener::Args),
    /// A conformant CDEvents sender (or a broken one, with --fault).
    Sender(crate::commands::reference_sender::Args),
    /// A conformant store-and-forward relay (or a broken one, with --fault).
    Relay(crate::commands::reference_relay::Args),
}

const VALIDATE_HELP: &str = "\
Inputs: a bare CDEvent, a CloudEvents structured-mode envelope (`data` holds the CDEvent), a JSON
batch, NDJSON (.ndjson, .jsonl, or several lines on stdin), or an HTTP request capture (.http:
request line, headers, blank line, body; binary or structured mode). Folders are read recursively.
The spec version is read from each event (context.version in 0.3/0.4, context.specversion from
0.5); --spec forces one.

Examples:
  cdevents-conformance validate event.json
  cdevents-conformance validate --format json events.ndjson > findings.ndjson
  cat capture.http | cdevents-conformance validate -
  cdevents-conformance validate --spec 0.4.1 --fail-on should fixtures/
  cdevents-conformance validate --schemas ../spec event.json   # official schemas, offline

Exit codes:
  0  every event passes at the --fail-on level
  1  at least one failing finding
  2  usage or input error (unreadable path, unknown --spec, bad --schemas folder)";

const TEST_HELP: &str = "\
Examples:
  cdevents-conformance test listener --target http://127.0.0.1:8080/events
  cdevents-conformance test sender --trigger './my-sender --to \"$CDEVENTS_SINK_URL\"'
  cdevents-conformance test listener --list --level must LIS-";

const REFERENCE_HELP: &str = "\
Examples:
  cdevents-conformance reference listener --listen 127.0.0.1:8080
  cdevents-conformance reference sender --target http://127.0.0.1:8080/
  cdevents-conformance reference listener --fault list";

const REPORT_HELP: &str = "\
Examples:
  cdevents-conformance report render results.jsonl --report-html report/ --report-junit junit.xml
  cdevents-conformance report diff main.jsonl pr.jsonl";

const REQUIREMENTS_HELP: &str = "\
Examples:
  cdevents-conformance requirements
  cdevents-conformance requirements --format json --role listener
  cdevents-conformance requirements --id CDE-CE --level must --spec 0.4.1";

/// Output format of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    /// Grouped per event, colored, with a summary line.
    Human,
    /// One JSON object per event, then a `{"summary": ...}` line.
    Json,
}

/// A finding level on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    /// MUST.
    Must,
    /// SHOULD.
    Should,
    /// MAY.
    May,
}

impl From<LevelArg> for Level {
    fn from(l: LevelArg) -> Level {
        match l {
            LevelArg::Must => Level::Must,
            LevelArg::Should => Level::Should,
            LevelArg::May => Level::May,
        }
    }
}

/// A role on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// The event itself.
    Event,
    /// Producers.
    Sender,
    /// Consumers.
    Listener,
    /// Brokers, routers, bridges.
    Intermediary,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Event => Role::Event,
            RoleArg::Sender => Role::Sender,
            RoleArg::Listener => Role::Listener,
            RoleArg::Intermediary => Role::Intermediary,
        }
    }
}

fn parse_version(s: &str) -> Result<SpecVersion, String> {
    s.parse::<SpecVersion>().map_err(|e| e.to_string())
}

/// `validate` options.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Files, folders (recursive), NDJSON streams or `-` for stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Check every event against this spec version instead of the one it declares.
    #[arg(long, value_name = "VERSION", value_parser = parse_version, help_heading = "Schemas")]
    pub spec: Option<SpecVersion>,

    /// Use the official schemas of a spec checkout (a folder holding `schemas/`, or a folder of
    /// versions `v0.5.1/`, `main/`, ...) instead of the embedded registry. Nothing is fetched.
    #[arg(
        long,
        value_name = "DIR",
        env = "CDEVENTS_CONFORMANCE_SCHEMAS",
        help_heading = "Schemas"
    )]
    pub schemas: Option<PathBuf>,

    /// Fetch `schemaUri` of custom events and validate `subject.content` against it. Off by
    /// default: a `schemaUri` in an event is not an invitation to fetch it.
    #[arg(long, help_heading = "Schemas")]
    pub fetch_schema_uri: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ValidateFormat::Human, env = "CDEVENTS_CONFORMANCE_FORMAT", help_heading = "Output")]
    pub format: ValidateFormat,

    /// The weakest finding level that fails the run.
    #[arg(long, value_enum, default_value_t = LevelArg::Must, env = "CDEVENTS_CONFORMANCE_FAIL_ON", help_heading = "Output")]
    pub fail_on: LevelArg,

    /// Print only events with findings, and the summary.
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,
}

/// Output format of `requirements`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RequirementsFormat {
    /// Markdown tables.
    Md,
    /// A JSON array of records.
    Json,
}

/// `requirements` options.
#[derive(Debug, Args)]
pub struct RequirementsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = RequirementsFormat::Md)]
    pub format: RequirementsFormat,

    /// Only ids starting with this prefix (repeatable), e.g. `CDE-CTX` or `LIS-`.
    #[arg(long = "id", value_name = "PREFIX")]
    pub ids: Vec<String>,

    /// Only this level.
    #[arg(long, value_enum)]
    pub level: Option<LevelArg>,

    /// Only requirements of this role.
    #[arg(long, value_enum)]
    pub role: Option<RoleArg>,

    /// Only requirements that apply to this spec version.
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub spec: Option<SpecVersion>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Issue 7: `--help` on every subcommand shows examples.
    #[test]
    fn every_subcommand_help_has_examples() {
        fn walk(cmd: &mut clap::Command, path: String, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands_mut() {
                let p = format!("{path} {}", sub.get_name());
                if sub.get_name() != "help" {
                    let help = sub.render_long_help().to_string();
                    if !help.contains("Examples:") {
                        missing.push(p.clone());
                    }
                }
                walk(sub, p, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&mut Cli::command(), String::new(), &mut missing);
        assert!(
            missing.is_empty(),
            "no `Examples:` in the help of:{missing:?}"
        );
    }
}
