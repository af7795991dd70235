//! What `reproduce` re-runs for a `test relay` case: the recorded stream (target, seed, count,
//! rate, concurrency, faults, claims, spec, mode, restart), and the recorded `--trigger` only
//! if it starts this kit's reference relay, with options that run no other program and write
//! nowhere the results file names (a durable relay's `--state-dir` becomes a fresh temporary
//! directory). The results file is untrusted: nothing of it reaches a shell unquoted.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use cdevents_reports::model::shell_quote;

use super::reproduce::split_words;
use crate::reporting::sanitize;

/// The reference relay's options a recorded trigger may carry, with a value each.
const RELAY_FLAGS: &[&str] = &["--listen", "--fault", "--timeout", "--max-attempts"];

/// How a trigger names the sink.
const SINK: &[&str] = &[
    "\"$CDEVENTS_SINK_URL\"",
    "\"${CDEVENTS_SINK_URL}\"",
    "$CDEVENTS_SINK_URL",
    "\"$K_SINK\"",
    "$K_SINK",
];

/// A temporary state directory, removed when dropped.
pub struct StateDir(PathBuf);

impl StateDir {
    fn new() -> std::io::Result<StateDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        for n in 0..100u32 {
            let p = std::env::temp_dir().join(format!(
                "cdevents-reproduce-relay-{}-{nanos}-{n}",
                std::process::id()
            ));
            match std::fs::create_dir(&p) {
                Ok(()) => return Ok(StateDir(p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("no free temporary directory name"))
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Checks the trigger of a recorded `test relay` command: it may only run this kit's
/// reference relay (by any path: this very binary runs instead), forwarding to the re-run's
/// sink. Gives the trigger to run (quoted for `sh -c`) and the state directory it uses.
pub fn vet_relay_trigger(trigger: &str, exe: &Path) -> anyhow::Result<(String, Option<StateDir>)> {
    let mut t = trigger.to_owned();
    for v in SINK {
        t = t.replace(v, "@SINK@");
    }
    let words = split_words(&t).context("in its --trigger")?;
    let words = match words.split_first() {
        Some((w, rest)) if w == "exec" => rest,
        _ => &words[..],
    };
    let (program, rest) = words.split_first().context("its --trigger is empty")?;
    let name = Path::new(program).file_name().and_then(|n| n.to_str());
    if name != Some("cdevents-conformance")
        || rest.len() < 2
        || rest[0] != "reference"
        || rest[1] != "relay"
    {
        bail!(
            "its --trigger does not run `cdevents-conformance reference relay`; pass --trigger \
             CMD to run your own intermediary"
        );
    }
    let mut out = vec![
        "exec".to_owned(),
        shell_quote(&exe.to_string_lossy()),
        "reference".to_owned(),
        "relay".to_owned(),
    ];
    let mut state = None;
    let mut it = rest[2..].iter();
    while let Some(w) = it.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (w.as_str(), None),
        };
        let mut value = || -> anyhow::Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => Ok(it.next().context("a trigger flag has no value")?.clone()),
            }
        };
        match flag {
            "--forward" => {
                if value()? != "@SINK@" {
                    bail!("its --trigger forwards somewhere else than the kit's sink");
                }
            }
            "--state-dir" => {
                value()?;
                let dir = StateDir::new().context("cannot create a state directory")?;
                out.push("--state-dir".into());
                out.push(shell_quote(&dir.0.to_string_lossy()));
                state = Some(dir);
            }
            f if RELAY_FLAGS.contains(&f) => {
                let v = value()?;
                if v.contains("@SINK@") {
                    bail!("its --trigger passes the sink URL to {f}");
                }
                out.push(f.to_owned());
                out.push(shell_quote(&v));
            }
            _ => bail!(
                "its --trigger carries `{}`, which is not a reference-relay option a reproduction may use",
                sanitize(w)
            ),
        }
    }
    out.push("--forward \"$CDEVENTS_SINK_URL\"".into());
    Ok((out.join(" "), state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_reference_relay_forwarding_to_the_sink() {
        let exe = Path::new("/bin/kit");
        let (t, dir) = vet_relay_trigger(
            "exec '/x/cdevents-conformance' reference relay --listen 127.0.0.1:7 --fault reorder \
             --state-dir /etc --forward \"$CDEVENTS_SINK_URL\"",
            exe,
        )
        .unwrap();
        let dir = dir.expect("a fresh state directory");
        assert!(dir.0.is_dir());
        assert!(
            t.starts_with(
                "exec /bin/kit reference relay --listen 127.0.0.1:7 --fault reorder --state-dir "
            ),
            "{t}"
        );
        assert!(!t.contains("/etc"), "{t}");
        assert!(t.ends_with("--forward \"$CDEVENTS_SINK_URL\""), "{t}");
        let p = dir.0.clone();
        drop(dir);
        assert!(!p.exists());
        for bad in [
            "sh -c 'rm -rf /'",
            "cdevents-conformance reference sender",
            "cdevents-conformance reference relay --forward http://example.com/",
            "cdevents-conformance reference relay --fault \"$(id)\"",
            "cdevents-conformance reference relay; id",
            "cdevents-conformance reference relay --config /etc/x",
        ] {
            assert!(vet_relay_trigger(bad, exe).is_err(), "{bad}");
        }
    }
}
