//! The CLI end to end, as folders of golden files: `runner/tests/cli/<feature>/<name>.args`
//! (one argument per line), with the expected `<name>.exit` (required), `<name>.stdout` and
//! `<name>.stderr` (each checked when present). Each pair runs as a libtest-mimic trial named
//! `<feature>/<name>`, from the workspace root, with a clean environment and `--color never`
//! semantics (NO_COLOR=1). Volatile values are redacted: loopback ports (`127.0.0.1:PORT`),
//! durations (`0.00s` → `Ns`), the version line and the workspace path (`$WORKSPACE`).
//!
//! Re-bless every file after a deliberate change, in one command:
//!
//! ```sh
//! CLI_BLESS=1 cargo test -p cdevents-conformance --test golden
//! ```
//!
//! (A new case needs only its `.args`; blessing writes the rest. Review the diff before
//! committing: blessing accepts whatever the binary prints.)

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Replaces what changes from run to run or machine to machine.
fn redact(s: &str) -> String {
    let ws = workspace().display().to_string();
    let s = s.replace(&ws, "$WORKSPACE");
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // 127.0.0.1:<digits>
        if s[i..].starts_with("127.0.0.1:") {
            out.push_str("127.0.0.1:");
            i += "127.0.0.1:".len();
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i > start {
                out.push_str("PORT");
            }
            continue;
        }
        // <digits>.<digits>s (durations), when not part of a version or an id.
        if b[i].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'))
        {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j < b.len() && b[j] == b'.' {
                let mut k = j + 1;
                while k < b.len() && b[k].is_ascii_digit() {
                    k += 1;
                }
                if k > j + 1
                    && k < b.len()
                    && b[k] == b's'
                    && (k + 1 == b.len() || !b[k + 1].is_ascii_alphanumeric())
                {
                    out.push_str("Ns");
                    i = k + 1;
                    continue;
                }
            }
            out.push_str(&s[i..j]);
            i = j;
            continue;
        }
        let ch = s[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out.replace(
        &format!("cdevents-conformance {}", env!("CARGO_PKG_VERSION")),
        "cdevents-conformance VERSION",
    )
}

fn run_case(args_file: &Path, bless: bool) -> Result<(), Failed> {
    let args: Vec<String> = fs::read_to_string(args_file)
        .map_err(|e| format!("{}: {e}", args_file.display()))?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cdevents-conformance"));
    cmd.args(&args)
        .current_dir(workspace())
        .env("NO_COLOR", "1");
    // `--trigger 'cdevents-conformance …'` finds the binary under test first.
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_cdevents-conformance"))
        .parent()
        .unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin_dir.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    cmd.env(
        "PATH",
        std::env::join_paths(dirs).map_err(|e| e.to_string())?,
    );
    for (k, _) in std::env::vars() {
        if k.starts_with("CDEVENTS_CONFORMANCE_") || k == "CLICOLOR_FORCE" {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run the binary: {e}"))?;
    let got = [
        ("exit", format!("{}\n", out.status.code().unwrap_or(-1))),
        ("stdout", redact(&String::from_utf8_lossy(&out.stdout))),
        ("stderr", redact(&String::from_utf8_lossy(&out.stderr))),
    ];
    let mut problems = Vec::new();
    for (ext, text) in &got {
        let path = args_file.with_extension(ext);
        if bless {
            if *ext == "exit" || path.exists() || !text.is_empty() {
                fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            continue;
        }
        match fs::read_to_string(&path) {
            Ok(want) if want == *text => {}
            Ok(want) => problems.push(format!(
                "{ext} differs ({})\n--- expected\n{want}\n--- actual\n{text}",
                path.display()
            )),
            Err(_) if *ext == "exit" => problems.push(format!("{} is missing", path.display())),
            Err(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        problems.push(
            "re-bless with: CLI_BLESS=1 cargo test -p cdevents-conformance --test golden".into(),
        );
        Err(problems.join("\n").into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let bless = std::env::var_os("CLI_BLESS").is_some_and(|v| v == "1");
    let root = workspace().join("runner/tests/cli");
    let mut trials = Vec::new();
    let mut features: Vec<PathBuf> = fs::read_dir(&root)
        .expect("runner/tests/cli exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    features.sort();
    for f in features {
        let mut files: Vec<PathBuf> = fs::read_dir(&f)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "args"))
            .collect();
        files.sort();
        for a in files {
            let name = format!(
                "{}/{}",
                f.file_name().unwrap().to_string_lossy(),
                a.file_stem().unwrap().to_string_lossy()
            );
            trials.push(Trial::test(name, move || run_case(&a, bless)));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
