//! `reproduce`: re-run exactly one case of a results file.
//!
//! Every failed case of a live suite records a one-line command that runs it again (same seed,
//! same generated event, same options). This command finds the case in a JSON-lines results
//! file and runs that command with this very binary.
//!
//! Results files are untrusted input (anyone can hand you one), so the recorded command is never
//! given to a shell: it is split into words here, shell syntax other than quoting is refused, it
//! must be a `cdevents-conformance test listener|sender` command that selects the case, and
//! flags that write files or run other programs are refused; a sender command's `--trigger`
//! runs only this kit's reference sender unless the caller names another with `--trigger`
//! (see [`super::sender_repro`] for what a sender reproduction re-runs). Report files the caller's environment asks
//! for (`CDEVENTS_CONFORMANCE_RESULTS` and friends) are not written by the re-run either.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use cdevents_reports::model::{shell_quote, CaseResult, Status};
use cdevents_reports::stream::read_jsonl;

use crate::exit;
use crate::output::{BOLD, DIM, FAIL, OK, WARN};
use crate::reporting::sanitize;

const HELP: &str = "\
Examples:
  cdevents-conformance reproduce results.jsonl WH-006/binary
  cdevents-conformance reproduce results.jsonl WH-006/binary --target http://127.0.0.1:8080/events
  cdevents-conformance reproduce results.jsonl WH-006/binary --print   # command, request, curl

The results file comes from `test listener|sender --results FILE`. Only cases that did not pass
carry a reproduce command. The command is run without a shell, by this binary; it must be a
`cdevents-conformance test listener|sender|relay ... --case ID` command.

Sender cases: a run with --trigger is re-run with the same fault plan and seed; the recorded
trigger is run only if it is this kit's reference sender (else pass --trigger CMD, e.g. the
fixed sender). A run against an externally started sender re-judges its recorded requests
(`test sender --replay FILE`): the kit cannot start that sender again.
  cdevents-conformance reproduce results.jsonl SND-006
  cdevents-conformance reproduce results.jsonl SND-006 --trigger './my-sender --once'

Relay cases: the stream is sent again with the recorded target, seed, count, rate, concurrency,
faults, claims, spec, mode, batch size and restart; the recorded trigger is run only if it is
this kit's reference relay forwarding to the sink (a --state-dir becomes a fresh temporary
directory), else pass --trigger CMD (and --target URL) for your intermediary.
  cdevents-conformance reproduce results.jsonl REL-002/no-duplicate

Exit codes:
  0  the case passes now (or --print)
  1  the case fails again
  2  usage or input error (unreadable file, unknown case, no or refused reproduce command)
  3  the re-run could not judge (target unreachable)";

/// The program name every reproduce command starts with.
const PROGRAM: &str = "cdevents-conformance";

/// Flags a recorded command may not carry: they write files or run programs.
const REFUSED_FLAGS: &[&str] = &[
    "--results",
    "--report-json",
    "--report-junit",
    "--report-md",
    "--report-html",
    "--badge",
    "--trigger",
    "--record",
    "--listen",
];

/// The reference sender's flags a recorded trigger may carry (none writes files or runs
/// programs; `--target` is dropped: the re-run's sink is named by the environment).
const TRIGGER_FLAGS: &[&str] = &[
    "--count",
    "--spec",
    "--mode",
    "--seed",
    "--fault",
    "--timeout",
    "--max-attempts",
];

/// How a trigger names the sink; replaced by a placeholder before its words are read.
const SINK_VARIABLES: &[&str] = &[
    "\"$CDEVENTS_SINK_URL\"",
    "\"${CDEVENTS_SINK_URL}\"",
    "$CDEVENTS_SINK_URL",
    "\"$K_SINK\"",
    "$K_SINK",
];

/// Environment variables that would make the re-run write report files, or change which
/// failures count; unset for the re-run.
const CLEARED_ENV: &[&str] = &[
    "CDEVENTS_CONFORMANCE_RESULTS",
    "CDEVENTS_CONFORMANCE_REPORT_JSON",
    "CDEVENTS_CONFORMANCE_REPORT_JUNIT",
    "CDEVENTS_CONFORMANCE_REPORT_MD",
    "CDEVENTS_CONFORMANCE_REPORT_HTML",
    "CDEVENTS_CONFORMANCE_BADGE",
    "CDEVENTS_CONFORMANCE_FAIL_ON",
];

/// `reproduce` options.
#[derive(Debug, clap::Args)]
#[command(after_help = HELP)]
pub struct Args {
    /// The JSON-lines results file (`--results FILE` of a live suite).
    #[arg(value_name = "RESULTS.jsonl")]
    pub results: PathBuf,
    /// The exact id of the case to run again, e.g. `WH-006/binary`.
    #[arg(value_name = "CASE_ID")]
    pub case: String,
    /// Run against this URL instead of the recorded target (e.g. the fixed build).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// For a `test sender` case: run this sender instead of the recorded trigger (e.g. the
    /// fixed build). A recorded trigger is run only if it is this kit's reference sender.
    #[arg(long, value_name = "CMD")]
    pub trigger: Option<String>,
    /// Only print the command, the request that was sent and a curl command; run nothing.
    #[arg(long)]
    pub print: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let run = read_jsonl(&args.results)
        .with_context(|| format!("cannot read the results file {}", args.results.display()))?;
    let Some(case) = run.cases.iter().find(|c| c.case == args.case) else {
        bail!("{}", not_found(&args.case, &run.cases, &args.results));
    };
    let Some(recorded) = case.reproduce.as_deref() else {
        bail!(
            "case {} ({}) has no reproduce command in {}: only cases that did not pass carry one, \
             and only suites that can re-run one case record it",
            sanitize(&case.case),
            status_name(case.status),
            args.results.display()
        );
    };
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let refusal = || {
        format!(
            "refusing the reproduce command of case {}: `{}`",
            sanitize(&case.case),
            sanitize(recorded)
        )
    };
    let (mut argv, trigger) = parse_command(recorded, &case.case).with_context(refusal)?;
    let sender = argv[1] == "sender";
    let relay = argv[1] == "relay";
    if let Some(t) = &args.target {
        if sender {
            bail!("--target is for listener and relay cases; a sender case takes --trigger CMD");
        }
        set_flag(&mut argv, "--target", t);
    }
    // A relay re-run with a durable reference relay gets a fresh state directory.
    let mut state = None;
    match (&args.trigger, trigger) {
        (Some(_), _) if !sender && !relay => bail!("--trigger is for sender and relay cases"),
        (Some(t), _) => set_flag(&mut argv, "--trigger", t),
        (None, Some(t)) if relay => {
            let (t, dir) = super::relay_repro::vet_relay_trigger(&t, &exe).with_context(refusal)?;
            set_flag(&mut argv, "--trigger", &t);
            state = dir;
        }
        (None, Some(t)) => {
            let t = vet_trigger(&t, &exe).with_context(refusal)?;
            set_flag(&mut argv, "--trigger", &t);
        }
        (None, None) => {}
    }
    let _state = state;
    if !has_flag(&argv, "--fail-on") {
        // One case runs: any failure of it, whatever its level, is a failure again.
        argv.extend(["--fail-on".to_owned(), "may".to_owned()]);
    }
    let line = command_line(&argv);

    if args.print {
        print_case(case, &line, args.target.as_deref());
        return Ok(exit::OK);
    }

    let verdict_file = TempFile::new().context("cannot create a temporary results file")?;
    anstream::eprintln!(
        "{BOLD}reproducing{BOLD:#} {} ({} {}, was {}):\n  {line}",
        sanitize(&case.case),
        sanitize(&case.requirement),
        case.level,
        status_name(case.status)
    );
    let mut cmd = Command::new(&exe);
    cmd.args(&argv).arg("--results").arg(verdict_file.path());
    for k in CLEARED_ENV {
        cmd.env_remove(k);
    }
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    let code = match status.code() {
        Some(c) => u8::try_from(c).unwrap_or(exit::INCONCLUSIVE),
        None => {
            anstream::eprintln!("{FAIL}error{FAIL:#}: the re-run was killed ({status})");
            return Ok(exit::INCONCLUSIVE);
        }
    };
    report_verdict(case, verdict_file.path());
    Ok(code)
}

/// Says how the case did this time, from the re-run's own results file.
fn report_verdict(was: &CaseResult, results: &Path) {
    let now = read_jsonl(results)
        .ok()
        .and_then(|r| r.cases.into_iter().find(|c| c.case == was.case));
    let Some(now) = now else {
        anstream::eprintln!(
            "{WARN}warning{WARN:#}: the re-run did not record case {}",
            sanitize(&was.case)
        );
        return;
    };
    let what = format!(
        "{} ({} {}): {}",
        sanitize(&now.case),
        sanitize(&now.requirement),
        now.level,
        sanitize(&now.message)
    );
    if now.status.is_pass() {
        anstream::eprintln!("{OK}passes now{OK:#}: {what}");
    } else if now.requirement == was.requirement && now.status == was.status {
        anstream::eprintln!("{FAIL}{} again{FAIL:#}: {what}", status_name(now.status));
    } else {
        anstream::eprintln!(
            "{FAIL}{}{FAIL:#} (was {} of {}): {what}",
            status_name(now.status),
            status_name(was.status),
            sanitize(&was.requirement)
        );
    }
}

fn print_case(case: &CaseResult, line: &str, target: Option<&str>) {
    anstream::println!(
        "{BOLD}case{BOLD:#} {} ({} {}, {})",
        sanitize(&case.case),
        sanitize(&case.requirement),
        case.level,
        status_name(case.status)
    );
    anstream::println!("{BOLD}command:{BOLD:#}\n  {line}");
    let ev = case.evidence.as_ref();
    match ev.and_then(|e| e.request.as_ref()) {
        Some(req) => {
            anstream::println!("{BOLD}request{BOLD:#} (as sent):");
            anstream::println!("{}", indent(&sanitize(&req.to_text())));
            if req.body_base64.is_some() {
                anstream::println!(
                    "  {DIM}(the body is not UTF-8; the curl command sends the exact bytes){DIM:#}"
                );
            }
        }
        None => anstream::println!("{DIM}no request recorded{DIM:#}"),
    }
    // With --target, the curl command goes there too; else the recorded one is kept as is.
    let curl = match (target, ev.and_then(|e| e.request.as_ref())) {
        (Some(t), Some(req)) => req.to_curl(t),
        _ => ev.and_then(|e| e.curl().map(|c| c.into_owned())),
    };
    if let Some(c) = curl {
        anstream::println!("{BOLD}curl:{BOLD:#}\n  {}", sanitize(&c));
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Errored => "errored",
        Status::Skipped => "skipped",
        Status::Waived => "waived",
        Status::WaivedButPassed => "waived but passed",
    }
}

/// The error for an absent case: the ids closest to the one asked for.
fn not_found(wanted: &str, cases: &[CaseResult], path: &Path) -> String {
    let mut msg = format!(
        "no case with id `{}` in {} ({} cases)",
        sanitize(wanted),
        path.display(),
        cases.len()
    );
    let w = wanted.to_ascii_lowercase();
    let req = w.split('/').next().unwrap_or_default();
    let mut near: Vec<(usize, &CaseResult)> = cases
        .iter()
        .filter_map(|c| {
            let id = c.case.to_ascii_lowercase();
            let d = edit_distance(&w, &id);
            let related = id.contains(&w)
                || (!id.is_empty() && w.contains(&id))
                || id.split('/').next() == Some(req);
            (related || d <= 3.max(w.len() / 4)).then_some((d, c))
        })
        .collect();
    near.sort_by_key(|(d, c)| (*d, c.case.clone()));
    if near.is_empty() {
        let failed: Vec<&CaseResult> = cases.iter().filter(|c| c.reproduce.is_some()).collect();
        if !failed.is_empty() {
            msg.push_str("; cases with a reproduce command:");
            for c in failed.iter().take(10) {
                msg.push_str(&format!("\n  {}", sanitize(&c.case)));
            }
            if failed.len() > 10 {
                msg.push_str(&format!("\n  ... and {} more", failed.len() - 10));
            }
        }
    } else {
        msg.push_str("; did you mean:");
        for (_, c) in near.iter().take(10) {
            msg.push_str(&format!(
                "\n  {}  ({})",
                sanitize(&c.case),
                status_name(c.status)
            ));
        }
        if near.len() > 10 {
            msg.push_str(&format!("\n  ... and {} more", near.len() - 10));
        }
    }
    msg
}

/// Levenshtein distance, in chars (ids are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Checks a recorded command and gives the arguments to pass to this binary, without the
/// `--trigger` of a `test sender` command, which is returned apart, unchecked (see
/// [`vet_trigger`]).
fn parse_command(recorded: &str, case_id: &str) -> anyhow::Result<(Vec<String>, Option<String>)> {
    if !recorded.starts_with(&format!("{PROGRAM} ")) {
        bail!("it does not start with `{PROGRAM} `");
    }
    let words = split_words(recorded)?;
    let (program, argv) = words.split_first().context("the command is empty")?;
    if program != PROGRAM {
        bail!("it does not run `{PROGRAM}`");
    }
    if argv.len() < 2
        || argv[0] != "test"
        || !matches!(argv[1].as_str(), "listener" | "sender" | "relay")
    {
        bail!("only `{PROGRAM} test listener`, `{PROGRAM} test sender` and `{PROGRAM} test relay` commands are run");
    }
    let (argv, trigger) = if matches!(argv[1].as_str(), "sender" | "relay") {
        take_flag(argv, "--trigger")?
    } else {
        (argv.to_vec(), None)
    };
    for w in &argv {
        if let Some(f) = REFUSED_FLAGS
            .iter()
            .find(|f| w == *f || w.starts_with(&format!("{f}=")))
        {
            bail!("it carries {f}, which writes files or runs programs");
        }
        if w == "--list" {
            bail!("it carries --list: it would run no case");
        }
    }
    let selected = flag_values(&argv, "--case");
    if !selected.iter().any(|v| v == case_id) {
        bail!(
            "it does not select the case with `--case {}`",
            shell_quote(case_id)
        );
    }
    Ok((argv, trigger))
}

/// Removes the one `flag VALUE` (or `flag=VALUE`) of `argv`, returning its value.
fn take_flag(argv: &[String], flag: &str) -> anyhow::Result<(Vec<String>, Option<String>)> {
    let eq = format!("{flag}=");
    let mut out = Vec::with_capacity(argv.len());
    let mut value = None;
    let mut it = argv.iter();
    while let Some(w) = it.next() {
        let v = if w == flag {
            Some(it.next().context("a flag has no value")?.clone())
        } else {
            w.strip_prefix(&eq).map(str::to_owned)
        };
        match v {
            Some(_) if value.is_some() => bail!("it carries {flag} twice"),
            Some(v) => value = Some(v),
            None => out.push(w.clone()),
        }
    }
    Ok((out, value))
}

/// Checks the trigger of a recorded `test sender` command: it may only run this kit's
/// reference sender (by any path: this very binary runs instead), with flags that write no
/// file and run no program, and without `--target`, so that it delivers to the re-run's own
/// sink. Gives the trigger to run, quoted for the `sh -c` of `test sender`.
fn vet_trigger(trigger: &str, exe: &Path) -> anyhow::Result<String> {
    let mut t = trigger.to_owned();
    for v in SINK_VARIABLES {
        t = t.replace(v, "@SINK@");
    }
    let words = split_words(&t).context("in its --trigger")?;
    let (program, rest) = words.split_first().context("its --trigger is empty")?;
    let name = Path::new(program).file_name().and_then(|n| n.to_str());
    if name != Some(PROGRAM) || rest.len() < 2 || rest[0] != "reference" || rest[1] != "sender" {
        bail!(
            "its --trigger does not run `{PROGRAM} reference sender`; pass --trigger CMD to \
             run your own sender"
        );
    }
    let mut out = vec![
        shell_quote(&exe.to_string_lossy()),
        "reference".to_owned(),
        "sender".to_owned(),
    ];
    let mut it = rest[2..].iter();
    while let Some(w) = it.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (w.as_str(), None),
        };
        if flag == "--target" {
            if inline.is_none() {
                it.next();
            }
            continue;
        }
        if !TRIGGER_FLAGS.contains(&flag) {
            bail!("its --trigger carries `{}`, which is not a reference-sender option a reproduction may use", sanitize(w));
        }
        let value = match inline {
            Some(v) => v,
            None => it.next().context("a trigger flag has no value")?.clone(),
        };
        if value.contains("@SINK@") {
            bail!("its --trigger passes the sink URL to {flag}");
        }
        out.push(flag.to_owned());
        out.push(shell_quote(&value));
    }
    Ok(out.join(" "))
}

/// Values of `--flag V` and `--flag=V`.
fn flag_values(argv: &[String], flag: &str) -> Vec<String> {
    let eq = format!("{flag}=");
    let mut out = Vec::new();
    let mut it = argv.iter();
    while let Some(w) = it.next() {
        if w == "--" {
            break;
        } else if w == flag {
            if let Some(v) = it.next() {
                out.push(v.clone());
            }
        } else if let Some(v) = w.strip_prefix(&eq) {
            out.push(v.to_owned());
        }
    }
    out
}

fn has_flag(argv: &[String], flag: &str) -> bool {
    let eq = format!("{flag}=");
    argv.iter()
        .take_while(|w| *w != "--")
        .any(|w| w == flag || w.starts_with(&eq))
}

/// Replaces every value of `flag` with `value`, or adds the flag when absent.
fn set_flag(argv: &mut Vec<String>, flag: &str, value: &str) {
    let eq = format!("{flag}=");
    let mut found = false;
    let mut i = 0;
    while i < argv.len() && argv[i] != "--" {
        if argv[i] == flag && i + 1 < argv.len() {
            argv[i + 1] = value.to_owned();
            found = true;
            i += 2;
            continue;
        }
        if argv[i].starts_with(&eq) {
            argv[i] = format!("{eq}{value}");
            found = true;
        }
        i += 1;
    }
    if !found {
        argv.insert(2.min(argv.len()), value.to_owned());
        argv.insert(2.min(argv.len() - 1), flag.to_owned());
    }
}

/// The command as one line a POSIX shell reads back to the same words.
fn command_line(argv: &[String]) -> String {
    std::iter::once(PROGRAM.to_owned())
        .chain(argv.iter().map(|w| shell_quote(w)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits a command line into words the way a POSIX shell would, for the quoting that
/// [`shell_quote`] produces and a little more: single quotes, double quotes, backslashes.
///
/// Everything else a shell would interpret (expansions, globs, operators, redirections,
/// comments) is refused rather than taken literally, and so are control characters: a
/// command that means something else to a shell than to this function is not run.
pub fn split_words(s: &str) -> anyhow::Result<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c.is_control() && c != '\t' {
            bail!("control character U+{:04X} at byte {i}", u32::from(c));
        }
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((j, c)) if c.is_control() => {
                            bail!("control character U+{:04X} at byte {j}", u32::from(c))
                        }
                        Some((_, c)) => cur.push(c),
                        None => bail!("unterminated single quote at byte {i}"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, c @ ('"' | '\\' | '$' | '`'))) => cur.push(c),
                            Some((j, c)) if c.is_control() => {
                                bail!("control character U+{:04X} at byte {j}", u32::from(c))
                            }
                            Some((_, c)) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => bail!("unterminated double quote at byte {i}"),
                        },
                        Some((j, c @ ('$' | '`'))) => {
                            bail!("`{c}` in double quotes at byte {j} (shell expansion)")
                        }
                        Some((j, c)) if c.is_control() => {
                            bail!("control character U+{:04X} at byte {j}", u32::from(c))
                        }
                        Some((_, c)) => cur.push(c),
                        None => bail!("unterminated double quote at byte {i}"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some((j, c)) if c.is_control() => {
                        bail!("control character U+{:04X} at byte {j}", u32::from(c))
                    }
                    Some((_, c)) => cur.push(c),
                    None => bail!("a backslash ends the command"),
                }
            }
            ';' | '&' | '|' | '<' | '>' | '(' | ')' | '$' | '`' | '*' | '?' | '[' | ']' | '{'
            | '}' | '~' | '#' | '!' => {
                bail!("unquoted `{c}` at byte {i}: no shell runs this command, quote it")
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// A file in the temporary folder, made new (never an existing path), removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new() -> std::io::Result<TempFile> {
        let dir = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        for n in 0..100u32 {
            let p = dir.join(format!(
                "cdevents-reproduce-{}-{nanos}-{n}.jsonl",
                std::process::id()
            ));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p)
            {
                Ok(_) => return Ok(TempFile(p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("no free temporary file name"))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        split_words(s).unwrap()
    }

    #[test]
    fn splits_the_quoting_shell_quote_writes() {
        assert_eq!(w("a  b\tc"), ["a", "b", "c"]);
        assert_eq!(w("a 'b c' ''"), ["a", "b c", ""]);
        assert_eq!(w(r"a 'it'\''s'"), ["a", "it's"]);
        assert_eq!(w(r#"a "b \"c\" \x""#), ["a", r#"b "c" \x"#]);
        assert_eq!(w(r"a\ b"), ["a b"]);
        let hostile = "x'; rm -rf / #$(id)`id`\"";
        assert_eq!(w(&format!("p {}", shell_quote(hostile))), ["p", hostile]);
    }

    #[test]
    fn refuses_shell_syntax() {
        for s in [
            "a; b",
            "a && b",
            "a | b",
            "a > f",
            "a $(id)",
            "a `id`",
            "a \"$HOME\"",
            "a *",
            "a ~/x",
            "a # c",
            "a 'b",
            "a \"b",
            "a \\",
            "a\nb",
            "a '\u{1b}[31m'",
        ] {
            assert!(split_words(s).is_err(), "{s:?} should be refused");
        }
    }

    #[test]
    fn accepts_only_listener_commands_that_select_the_case() {
        let ok = "cdevents-conformance test listener --target http://127.0.0.1:1/ --seed 0 --spec 0.5.1 --case WH-006/binary";
        assert_eq!(
            parse_command(ok, "WH-006/binary").unwrap().0[..2],
            ["test", "listener"]
        );
        assert!(parse_command(ok, "WH-006").is_err());
        for bad in [
            "sh -c 'cdevents-conformance test listener --case X'",
            "cdevents-conformance-evil test listener --case X",
            "cdevents-conformance reference listener --case X",
            "cdevents-conformance test sender --record /tmp/x --case X",
            "cdevents-conformance test sender --listen 0.0.0.0:80 --case X",
            "cdevents-conformance test sender --trigger a --trigger b --case X",
            "cdevents-conformance test listener --case X --report-html /tmp/x",
            "cdevents-conformance test listener --case X --results=/tmp/x",
            "cdevents-conformance test listener --case X; id",
            " cdevents-conformance test listener --case X",
        ] {
            assert!(
                parse_command(bad, "X").is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn only_the_reference_sender_is_a_trusted_trigger() {
        let exe = Path::new("/opt/kit/cdevents-conformance");
        let t = vet_trigger(
            "'/tmp/build/cdevents-conformance' reference sender --target \"$CDEVENTS_SINK_URL\" --timeout 300ms --count=6 --fault no-retry-on-503",
            exe,
        )
        .unwrap();
        assert_eq!(
            t,
            "/opt/kit/cdevents-conformance reference sender --timeout 300ms --count 6 --fault no-retry-on-503"
        );
        let t = vet_trigger(
            "cdevents-conformance reference sender --target http://10.0.0.1/",
            exe,
        )
        .unwrap();
        assert!(!t.contains("10.0.0.1"), "{t}");
        for bad in [
            "my-sender --once",
            "/tmp/evil reference sender",
            "cdevents-conformance test sender --trigger x",
            "cdevents-conformance reference sender; id",
            "cdevents-conformance reference sender --count $(id)",
            "cdevents-conformance reference sender --results /tmp/x",
            "cdevents-conformance reference sender --fault \"$CDEVENTS_SINK_URL\"",
            "cdevents-conformance reference listener --listen 0.0.0.0:80",
        ] {
            assert!(vet_trigger(bad, exe).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn sender_commands_give_their_trigger_apart() {
        let (argv, t) = parse_command(
            "cdevents-conformance test sender --trigger 'x y' --faults 503:0.5 --seed 3 --case SND-006",
            "SND-006",
        )
        .unwrap();
        assert_eq!(t.as_deref(), Some("x y"));
        assert!(!argv.iter().any(|w| w == "--trigger"), "{argv:?}");
        let (_, t) = parse_command(
            "cdevents-conformance test sender --replay /tmp/r.jsonl --case SND-006",
            "SND-006",
        )
        .unwrap();
        assert_eq!(t, None);
    }

    #[test]
    fn target_is_replaced_or_added() {
        let mut a: Vec<String> = ["test", "listener", "--target", "http://a/", "--case", "X"]
            .map(String::from)
            .to_vec();
        set_flag(&mut a, "--target", "http://b/");
        assert_eq!(a[3], "http://b/");
        let mut a: Vec<String> = ["test", "listener", "--target=http://a/"]
            .map(String::from)
            .to_vec();
        set_flag(&mut a, "--target", "http://b/");
        assert_eq!(a[2], "--target=http://b/");
        let mut a: Vec<String> = ["test", "listener", "--case", "X"]
            .map(String::from)
            .to_vec();
        set_flag(&mut a, "--target", "http://b/");
        assert_eq!(
            a,
            ["test", "listener", "--target", "http://b/", "--case", "X"]
        );
    }

    #[test]
    fn near_matches_are_listed() {
        let cases = vec![
            CaseResult::new(
                "WH-006/binary",
                "WH-006",
                cdevents_reports::Level::Must,
                Status::Failed,
                "m",
            ),
            CaseResult::new(
                "WH-006/structured",
                "WH-006",
                cdevents_reports::Level::Must,
                Status::Passed,
                "m",
            ),
            CaseResult::new(
                "LIS-001/x",
                "LIS-001",
                cdevents_reports::Level::Must,
                Status::Passed,
                "m",
            ),
        ];
        let msg = not_found("WH-006/binar", &cases, Path::new("r.jsonl"));
        assert!(
            msg.contains("did you mean:\n  WH-006/binary  (failed)"),
            "{msg}"
        );
        assert!(!msg.contains("LIS-001"), "{msg}");
    }
}
