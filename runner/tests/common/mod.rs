//! Running the built `cdevents-conformance` binary, hermetically, from the workspace root.
#![allow(dead_code)] // Each test file uses its own part of it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Environment variables the binary reads; unset for every run so that the caller's shell
/// cannot change what a test sees.
const ENV: &[&str] = &[
    "CDEVENTS_CONFORMANCE_COLOR",
    "CDEVENTS_CONFORMANCE_FORMAT",
    "CDEVENTS_CONFORMANCE_FAIL_ON",
    "CDEVENTS_CONFORMANCE_SCHEMAS",
    "NO_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
];

/// The workspace root: fixture paths are given relative to it, so outputs name them the same
/// way on every machine.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runner/ has a parent")
        .to_path_buf()
}

/// What one run did.
#[derive(Debug)]
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Run {
    /// Panics with the whole run when the exit code is not `code`, or when the binary panicked.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert!(
            !self.stderr.contains("panicked"),
            "the binary panicked:\n{self}"
        );
        assert_eq!(self.code, code, "exit code\n{self}");
        self
    }

    /// The stdout lines parsed as JSON (for `--format json`).
    #[track_caller]
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{self}"))
            })
            .collect()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cut = |s: &str| s.chars().take(4000).collect::<String>();
        write!(
            f,
            "exit: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            cut(&self.stdout),
            cut(&self.stderr)
        )
    }
}

/// The binary, run from the workspace root with a clean environment.
pub fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cdevents-conformance"));
    c.current_dir(workspace());
    for var in ENV {
        c.env_remove(var);
    }
    c
}

/// Runs the binary with `args`, feeding `stdin` (or nothing).
pub fn run(args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_with(command().args(args), stdin)
}

/// Runs a prepared command, feeding `stdin` (or nothing).
pub fn run_with(cmd: &mut Command, stdin: Option<&[u8]>) -> Run {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the binary starts");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let bytes = bytes.to_vec();
        // Written from a thread, so that a large input cannot deadlock against a full stdout.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let out = child.wait_with_output().expect("the binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
