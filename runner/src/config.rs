//! The config file, `cdevents-conformance.toml`: found in the current folder or given with
//! `--config FILE` (env `CDEVENTS_CONFORMANCE_CONFIG`).
//!
//! ```toml
//! suites = ["listener", "sender"]     # what `ci/conformance.sh` runs when given no suite
//! spec = ["0.4.1", "0.5.1"]           # top-level keys apply to every suite that has the flag
//! fail_on = "must"
//! seed = 7
//!
//! [reports]                           # report paths, relative to this file
//! results = "conformance-report/results.jsonl"
//! junit = "conformance-report/junit.xml"
//! md = "conformance-report/report.md"
//!
//! [listener]                          # `test listener`; also [sender], [relay], [validate]
//! target = "http://127.0.0.1:8080/events"
//! profile = ["batch"]
//!
//! [sender]
//! faults = "transient"
//! guarantee = "at-least-once"
//! trigger = "./my-sender --to $CDEVENTS_SINK_URL"
//!
//! [[waiver]]                          # see `waivers.rs`
//! case = "LIS-004/binary"
//! reason = "gateway strips ce-* headers"
//! issue = "https://example.invalid/issues/12"
//! ```
//!
//! A key is the long flag it sets (`fail_on` or `fail-on` for `--fail-on`); a section table
//! overrides the top level for its suite. Precedence: flags, then environment variables, then
//! the section, then the top level, then the built-in defaults. The file is turned into flags
//! before clap parses, so every value goes through the same parser as on the command line, and
//! a bad value is reported with the file and line it came from.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;
use clap::error::{ContextKind, ContextValue};
use clap::{CommandFactory, FromArgMatches};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::cli::Cli;
use crate::waivers::line_of;

/// The file looked for in the current folder.
pub const FILE_NAME: &str = "cdevents-conformance.toml";

/// Sections and the subcommand each configures.
const SECTIONS: &[(&str, &[&str])] = &[
    ("listener", &["test", "listener"]),
    ("sender", &["test", "sender"]),
    ("relay", &["test", "relay"]),
    ("validate", &["validate"]),
];

/// `[reports]` keys and the flags they set.
const REPORT_KEYS: &[(&str, &str)] = &[
    ("results", "results"),
    ("json", "report-json"),
    ("junit", "report-junit"),
    ("md", "report-md"),
    ("markdown", "report-md"),
    ("html", "report-html"),
    ("badge", "badge"),
];

static ACTIVE: OnceLock<Option<PathBuf>> = OnceLock::new();

/// The config file of this run, if one was read.
pub fn active_path() -> Option<PathBuf> {
    ACTIVE.get().cloned().flatten()
}

/// One flag the file sets.
#[derive(Debug, Clone)]
struct Setting {
    /// The key as written, e.g. `fail_on` or `reports.junit`.
    key: String,
    /// The long flag, without dashes.
    flag: String,
    /// Values: one for a scalar, several for an array, none for `false`.
    values: Vec<String>,
    /// Whether the value is a bare switch (`true`).
    switch: bool,
    line: usize,
}

/// A parsed config file.
#[derive(Debug)]
pub struct Config {
    path: PathBuf,
    top: Vec<Setting>,
    sections: Vec<(String, Vec<Setting>)>,
    /// `suites = [...]`.
    pub suites: Vec<String>,
    /// Whether the file holds `[[waiver]]` entries.
    pub has_waivers: bool,
}

impl Config {
    /// Parses the file; errors name `file:line`.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Config> {
        let doc = DeTable::parse(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            anyhow::anyhow!("{}:{line}: {}", path.display(), e.message().trim_end())
        })?;
        let at = |s: &Spanned<DeValue>| line_of(text, s.span().start);
        let known = known_flags();
        let mut cfg = Config {
            path: path.to_owned(),
            top: Vec::new(),
            sections: Vec::new(),
            suites: Vec::new(),
            has_waivers: false,
        };
        for (k, v) in doc.get_ref().iter() {
            let key = k.get_ref().as_ref();
            let line = line_of(text, k.span().start);
            match (key, v.get_ref()) {
                ("waiver", DeValue::Array(_)) => cfg.has_waivers = true,
                ("reports", DeValue::Table(t)) => {
                    for (rk, rv) in t.iter() {
                        let name = rk.get_ref().as_ref();
                        let Some((_, flag)) = REPORT_KEYS.iter().find(|(n, _)| *n == name) else {
                            anyhow::bail!(
                                "{}:{}: unknown key `reports.{name}` (known: {})",
                                path.display(),
                                line_of(text, rk.span().start),
                                REPORT_KEYS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
                            );
                        };
                        cfg.top.push(setting(
                            path,
                            &format!("reports.{name}"),
                            flag,
                            rv.get_ref(),
                            at(rv),
                        )?);
                    }
                }
                (name, DeValue::Table(t)) if SECTIONS.iter().any(|s| s.0 == name) => {
                    let mut list = Vec::new();
                    for (sk, sv) in t.iter() {
                        let skey = sk.get_ref().as_ref();
                        let flag = flag_of(skey);
                        if !known.contains(&flag) {
                            anyhow::bail!(unknown(path, line_of(text, sk.span().start), skey));
                        }
                        list.push(setting(
                            path,
                            &format!("{name}.{skey}"),
                            &flag,
                            sv.get_ref(),
                            at(sv),
                        )?);
                    }
                    cfg.sections.push((name.to_owned(), list));
                }
                (_, DeValue::Table(_)) => anyhow::bail!(
                    "{}:{line}: unknown table `[{key}]` (known: reports, {}, and [[waiver]] entries)",
                    path.display(),
                    SECTIONS.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")
                ),
                ("suites", v) => {
                    let s = setting(path, key, "suites", v, line)?;
                    for suite in &s.values {
                        if !SECTIONS.iter().any(|x| x.0 == suite) {
                            anyhow::bail!(
                                "{}:{line}: unknown suite `{suite}` in `suites` (known: listener, sender, relay, validate)",
                                path.display()
                            );
                        }
                    }
                    cfg.suites = s.values;
                }
                (_, v) => {
                    let flag = flag_of(key);
                    if !known.contains(&flag) {
                        anyhow::bail!(unknown(path, line, key));
                    }
                    cfg.top.push(setting(path, key, &flag, v, line)?);
                }
            }
        }
        Ok(cfg)
    }

    /// The settings for the subcommand at `path` (section over top level).
    fn settings_for(&self, sub: &[String]) -> Vec<Setting> {
        let Some((section, _)) = SECTIONS
            .iter()
            .find(|(_, p)| p.iter().copied().eq(sub.iter().map(String::as_str)))
        else {
            return Vec::new();
        };
        let own: Vec<Setting> = self
            .sections
            .iter()
            .filter(|(n, _)| n == section)
            .flat_map(|(_, s)| s.clone())
            .collect();
        let mut out: Vec<Setting> = self
            .top
            .iter()
            .filter(|t| !own.iter().any(|o| o.flag == t.flag))
            .cloned()
            .collect();
        out.extend(own);
        out
    }
}

fn unknown(path: &Path, line: usize, key: &str) -> String {
    format!(
        "{}:{line}: unknown key `{key}`: it is no flag of listener, sender, relay or validate \
         (`cdevents-conformance test listener --help` lists them; keys are flag names, e.g. fail_on)",
        path.display()
    )
}

fn flag_of(key: &str) -> String {
    match key {
        "specs" => "spec".to_owned(),
        k => k.replace('_', "-"),
    }
}

fn setting(
    path: &Path,
    key: &str,
    flag: &str,
    v: &DeValue,
    line: usize,
) -> anyhow::Result<Setting> {
    let scalar = |v: &DeValue| -> Option<String> {
        match v {
            DeValue::String(s) => Some(s.to_string()),
            DeValue::Integer(i) => Some(i.as_str().to_owned()),
            DeValue::Float(f) => Some(f.as_str().to_owned()),
            _ => None,
        }
    };
    let (values, switch) = match v {
        DeValue::Boolean(true) => (Vec::new(), true),
        DeValue::Boolean(false) => (Vec::new(), false),
        DeValue::Array(a) => {
            let mut out = Vec::new();
            for item in a.iter() {
                out.push(scalar(item.get_ref()).with_context(|| {
                    format!(
                        "{}:{line}: `{key}` holds a {}; expected strings or numbers",
                        path.display(),
                        item.get_ref().type_str()
                    )
                })?);
            }
            (out, false)
        }
        other => (
            vec![scalar(other).with_context(|| {
                format!(
                    "{}:{line}: `{key}` is a {}; expected a string, number, boolean or array",
                    path.display(),
                    other.type_str()
                )
            })?],
            false,
        ),
    };
    Ok(Setting {
        key: key.to_owned(),
        flag: flag.to_owned(),
        values,
        switch,
        line,
    })
}

/// The subcommand a section configures.
fn subcommand<'a>(root: &'a clap::Command, path: &[&str]) -> Option<&'a clap::Command> {
    path.iter()
        .try_fold(root, |cmd, name| cmd.find_subcommand(name))
}

/// Every long flag of the configurable subcommands.
fn known_flags() -> Vec<String> {
    let root = Cli::command();
    let mut v = Vec::new();
    for (_, path) in SECTIONS {
        if let Some(cmd) = subcommand(&root, path) {
            v.extend(
                cmd.get_arguments()
                    .filter_map(|a| a.get_long().map(str::to_owned)),
            );
        }
    }
    v
}

/// Finds the file: `--config FILE` (before any `--`), the env var, or `./cdevents-conformance.toml`.
fn find(argv: &[OsString]) -> anyhow::Result<Option<PathBuf>> {
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--" {
            break;
        }
        if s == "--config" {
            return Ok(it.next().map(PathBuf::from));
        }
        if let Some(p) = s.strip_prefix("--config=") {
            return Ok(Some(PathBuf::from(p)));
        }
    }
    if let Some(p) = std::env::var_os("CDEVENTS_CONFORMANCE_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(Some(PathBuf::from(p)));
    }
    let here = PathBuf::from(FILE_NAME);
    Ok(here.is_file().then_some(here))
}

/// Loads the config of this command line, if any.
pub fn load(argv: &[OsString]) -> anyhow::Result<Option<Config>> {
    let Some(path) = find(argv)? else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    Config::parse(&text, &path).map(Some)
}

/// Whether the command line gives `arg` itself.
fn given(argv: &[OsString], arg: &clap::Arg) -> bool {
    let long = arg.get_long().map(|l| format!("--{l}"));
    let short = arg.get_short();
    for a in argv.iter().skip(1) {
        let s = a.to_string_lossy();
        if s == "--" {
            break;
        }
        if let Some(l) = &long {
            if s == l.as_str() || s.starts_with(&format!("{l}=")) {
                return true;
            }
        }
        if let (Some(c), Some(rest)) = (short, s.strip_prefix('-')) {
            if !rest.starts_with('-') && rest.contains(c) {
                return true;
            }
        }
    }
    false
}

/// A flag taken from the file, for error messages.
struct Injected {
    flag: String,
    key: String,
    line: usize,
}

/// The command line with the file's settings added as flags, and what was added.
fn inject(argv: &[OsString], cfg: &Config) -> (Vec<OsString>, Vec<Injected>) {
    let root = Cli::command();
    let mut sub_path = Vec::new();
    let mut cmd = &root;
    for a in argv.iter().skip(1) {
        let s = a.to_string_lossy();
        if s == "--" {
            break;
        }
        if let Some(next) = cmd.find_subcommand(s.as_ref()) {
            sub_path.push(s.into_owned());
            cmd = next;
        }
    }
    let base = cfg.path.parent().unwrap_or(Path::new(""));
    let mut extra: Vec<OsString> = Vec::new();
    let mut injected = Vec::new();
    for s in cfg.settings_for(&sub_path) {
        let Some(arg) = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(s.flag.as_str()))
        else {
            continue;
        };
        let from_env = arg
            .get_env()
            .is_some_and(|e| std::env::var_os(e).is_some_and(|v| !v.is_empty()));
        if given(argv, arg) || from_env {
            continue;
        }
        let is_path = arg
            .get_value_names()
            .is_some_and(|n| n.iter().any(|n| n == "FILE" || n == "DIR"));
        if s.switch {
            extra.push(format!("--{}", s.flag).into());
        }
        for v in &s.values {
            extra.push(format!("--{}", s.flag).into());
            if is_path && Path::new(v).is_relative() {
                extra.push(base.join(v).into_os_string());
            } else {
                extra.push(v.into());
            }
        }
        injected.push(Injected {
            flag: s.flag.clone(),
            key: s.key.clone(),
            line: s.line,
        });
    }
    let mut out = argv.to_vec();
    let at = out.iter().position(|a| a == "--").unwrap_or(out.len());
    out.splice(at..at, extra);
    (out, injected)
}

/// Parses the command line with the config file applied; exits with the usual clap error (or
/// a config error with file:line, exit 2) when it does not parse.
pub fn parse_cli() -> Cli {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let cfg = match load(&argv) {
        Ok(c) => c,
        Err(e) => {
            // `--help` and `--version` must work even beside a broken file.
            if argv
                .iter()
                .any(|a| a == "--help" || a == "-h" || a == "--version" || a == "-V")
            {
                None
            } else {
                crate::output::error(&e);
                std::process::exit(crate::exit::USAGE.into());
            }
        }
    };
    let (argv, injected) = match &cfg {
        Some(c) => inject(&argv, c),
        None => (argv, Vec::new()),
    };
    let _ = ACTIVE.set(
        cfg.as_ref()
            .filter(|c| c.has_waivers)
            .map(|c| c.path.clone()),
    );
    let mut cmd = Cli::command();
    let parsed = cmd
        .try_get_matches_from_mut(argv)
        .and_then(|mut m| Cli::from_arg_matches_mut(&mut m));
    match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let arg = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => Some(s.clone()),
                _ => None,
            };
            let from_file = arg.and_then(|a| {
                let flag = a
                    .split_whitespace()
                    .next()?
                    .trim_start_matches('-')
                    .to_owned();
                injected.iter().find(|i| i.flag == flag)
            });
            match (from_file, &cfg) {
                (Some(i), Some(c)) => {
                    let text = e.render().to_string();
                    let detail = text
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .trim_start_matches("error: ");
                    anstream::eprintln!(
                        "error: {}:{}: `{}`: {detail}",
                        c.path.display(),
                        i.line,
                        i.key
                    );
                    std::process::exit(crate::exit::USAGE.into());
                }
                _ => e.exit(),
            }
        }
    }
}

/// `config` options.
#[derive(Debug, clap::Args)]
#[command(after_help = CONFIG_HELP)]
pub struct Args {
    /// Print only the `suites` list, one per line (what ci/conformance.sh runs).
    #[arg(long)]
    pub suites: bool,
}

const CONFIG_HELP: &str = "\
Reads cdevents-conformance.toml (or --config FILE), checks it, and prints the flags it adds to
each suite. Keys are flag names (fail_on, spec, target, faults, ...); [listener], [sender],
[relay] and [validate] override the top level for one suite; [reports] holds report paths;
[[waiver]] entries waive known failures. Flags and environment variables win over the file.

Examples:
  cdevents-conformance config
  cdevents-conformance --config ci/conformance.toml config
  cdevents-conformance config --suites

Exit codes:
  0  the file is valid (or there is none)
  2  the file is invalid: the message names file:line";

/// Runs `config`.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let Some(cfg) = load(&argv)? else {
        if !args.suites {
            anstream::println!(
                "no config file ({FILE_NAME} in the current folder, or --config FILE)"
            );
        }
        return Ok(crate::exit::OK);
    };
    if cfg.has_waivers {
        crate::waivers::Waivers::load(&cfg.path, false, chrono::Utc::now().date_naive())?;
    }
    if args.suites {
        for s in &cfg.suites {
            anstream::println!("{s}");
        }
        return Ok(crate::exit::OK);
    }
    anstream::println!("{}: valid", cfg.path.display());
    if !cfg.suites.is_empty() {
        anstream::println!("suites: {}", cfg.suites.join(" "));
    }
    for (section, path) in SECTIONS {
        let probe: Vec<OsString> = std::iter::once(OsString::from("cdevents-conformance"))
            .chain(path.iter().map(OsString::from))
            .collect();
        let (full, added) = inject(&probe, &cfg);
        if added.is_empty() {
            continue;
        }
        let flags: Vec<String> = full[probe.len()..]
            .iter()
            .map(|a| cdevents_reports::model::shell_quote(&a.to_string_lossy()))
            .collect();
        anstream::println!("{section}: {}", flags.join(" "));
    }
    if cfg.has_waivers {
        anstream::println!("waivers: [[waiver]] entries of {}", cfg.path.display());
    }
    Ok(crate::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Config> {
        Config::parse(text, Path::new("c.toml"))
    }

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn section_overrides_top_level_and_flags_win() {
        let c = parse("fail_on = \"may\"\nseed = 3\n[listener]\nfail_on = \"must\"\n").unwrap();
        let (out, added) = inject(&argv(&["x", "test", "listener", "--seed", "9"]), &c);
        let out: Vec<String> = out
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            out,
            ["x", "test", "listener", "--seed", "9", "--fail-on", "must"]
        );
        assert_eq!(added.len(), 1);
        // Settings go before `--`, so trailing arguments stay trailing.
        let (out, _) = inject(&argv(&["x", "validate", "--", "-"]), &c);
        assert_eq!(out.last().unwrap(), "-");
    }

    #[test]
    fn report_paths_are_relative_to_the_file() {
        let c =
            Config::parse("[reports]\njunit = \"out/j.xml\"\n", Path::new("ci/c.toml")).unwrap();
        let (out, _) = inject(&argv(&["x", "test", "sender"]), &c);
        assert_eq!(out[3], "--report-junit");
        assert_eq!(PathBuf::from(&out[4]), Path::new("ci").join("out/j.xml"));
    }

    #[test]
    fn errors_name_file_and_line() {
        for (text, line) in [
            ("seed = 1\n[nope]\nx = 1\n", 2),
            ("\n\nfailon = \"must\"\n", 3),
            ("[reports]\npdf = \"x\"\n", 2),
            ("suites = [\"fuzz\"]\n", 1),
            ("spec = [{ a = 1 }]\n", 1),
            ("seed = = 1\n", 1),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("c.toml:{line}: ")),
                "{text:?} -> {e}"
            );
        }
    }
}
