//! What the commands' option structs share: the value parsers of the live suites' flags, and
//! the listen address of the reference servers. Each flag keeps its name, default, help text and
//! environment variable; only the code is written once.

use std::net::SocketAddr;

use cdevents_schemas::SpecVersion;
use cdevents_suites::drivers::sender::{Guarantee, Ordering};
use cdevents_suites::faults::FaultPlan;
use cdevents_suites::wire::Mode;

/// `--faults PLAN`.
pub fn parse_plan(s: &str) -> Result<Box<FaultPlan>, String> {
    FaultPlan::parse(s).map(Box::new).map_err(|e| e.to_string())
}

/// `--guarantee CLAIM`.
pub fn parse_guarantee(s: &str) -> Result<Guarantee, String> {
    s.parse()
}

/// `--ordering CLAIM`.
pub fn parse_ordering(s: &str) -> Result<Ordering, String> {
    s.parse()
}

/// `--spec VERSION`.
pub fn parse_version(s: &str) -> Result<SpecVersion, String> {
    s.parse::<SpecVersion>().map_err(|e| e.to_string())
}

/// `--mode MODE`.
pub fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

/// Where a reference server listens (`reference listener`, `reference relay`).
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Where to listen; port 0 picks a free one. The URL is printed.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:0",
        env = "CDEVENTS_CONFORMANCE_LISTEN"
    )]
    pub listen: SocketAddr,
}

/// The case filters and `--target` of `test listener` and `test relay`. Each command names its
/// target in its own words, with `mut_arg("target", ..)` on its own options.
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// Only cases whose id starts with one of these (same as --case).
    #[arg(value_name = "ID_PREFIX")]
    pub filters: Vec<String>,
    /// The target's URL.
    #[arg(
        long,
        value_name = "URL",
        env = "CDEVENTS_CONFORMANCE_TARGET",
        required_unless_present = "list",
        help_heading = "Target"
    )]
    pub target: Option<String>,
}
