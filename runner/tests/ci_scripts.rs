//! The scripts under `ci/` that the GitHub Action and the GitLab template run, run here the
//! same way against the reference listener on loopback, with a fake `$GITHUB_STEP_SUMMARY`
//! and report folder: what they wrote and the exit codes they passed on. Also config files,
//! waivers (waived, waived-but-passed, expired) and the Dockerfile's paths.

mod common;
mod reference_child;

use std::fs;
use std::path::Path;
use std::process::Command;

use reference_child::Reference;

const BIN: &str = env!("CARGO_BIN_EXE_cdevents-conformance");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn script(dir: &Path, args: &[&str]) -> Out {
    let mut cmd = Command::new("bash");
    cmd.arg(common::workspace().join("ci/conformance.sh"))
        .args(args)
        .current_dir(dir)
        .env("CDEVENTS_CONFORMANCE_BIN", BIN)
        .env("CDEVENTS_CONFORMANCE_OUT", dir.join("out"))
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env("NO_COLOR", "1")
        .env_remove("CDEVENTS_CONFORMANCE_TARGET")
        .env_remove("CDEVENTS_CONFORMANCE_CONFIG")
        .env_remove("CDEVENTS_CONFORMANCE_FAIL_ON");
    let o = cmd.output().expect("bash runs");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cut = |s: &str| s.chars().take(3000).collect::<String>();
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            cut(&self.stdout),
            cut(&self.stderr)
        )
    }
}

fn report(dir: &Path, suite: &str) -> serde_json::Value {
    let p = dir.join("out").join(suite).join("report.json");
    serde_json::from_str(&fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

#[test]
fn listener_pass_writes_every_report_and_the_step_summary() {
    let r = Reference::start(None);
    let tmp = tempfile::tempdir().unwrap();
    let o = script(tmp.path(), &["listener", "--target", &r.url, "LIS-00"]);
    assert_eq!(o.code, 0, "{o}");
    for f in [
        "results.jsonl",
        "report.json",
        "junit.xml",
        "report.md",
        "html/index.html",
        "badge.svg",
    ] {
        assert!(
            tmp.path().join("out/listener").join(f).is_file(),
            "{f} missing\n{o}"
        );
    }
    let summary = fs::read_to_string(tmp.path().join("summary.md")).unwrap();
    assert!(
        summary.contains("CDEvents conformance: listener suite, PASS"),
        "{summary}"
    );
    assert_eq!(report(tmp.path(), "listener")["summary"]["verdict"], "pass");
}

#[test]
fn faulty_listener_exit_1_passes_through_and_summary_says_fail() {
    let r = Reference::start(Some("empty-200"));
    let tmp = tempfile::tempdir().unwrap();
    let o = script(tmp.path(), &["listener", "--target", &r.url]);
    assert_eq!(o.code, 1, "{o}");
    let summary = fs::read_to_string(tmp.path().join("summary.md")).unwrap();
    assert!(summary.contains("listener suite, FAIL"), "{summary}");
    let junit = fs::read_to_string(tmp.path().join("out/listener/junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
}

#[test]
fn unreachable_target_exit_3_and_unknown_suite_exit_2() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let o = script(
        tmp.path(),
        &["listener", "--target", &url, "--timeout", "1s"],
    );
    assert_eq!(o.code, 3, "{o}");
    let o = script(tmp.path(), &["fuzz"]);
    assert_eq!(o.code, 2, "{o}");
    assert!(o.stderr.contains("unknown suite"), "{o}");
}

#[test]
fn config_file_drives_the_suites_and_waivers_change_the_verdict() {
    let r = Reference::start(Some("empty-200"));
    let tmp = tempfile::tempdir().unwrap();
    // First learn which cases the faulty listener fails.
    let o = script(tmp.path(), &["listener", "--target", &r.url]);
    assert_eq!(o.code, 1, "{o}");
    let failed: Vec<String> = report(tmp.path(), "listener")["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["requirement"].as_str().unwrap().to_owned())
        .collect();
    assert!(!failed.is_empty());
    let mut reqs = failed.clone();
    reqs.sort();
    reqs.dedup();
    let mut toml = format!(
        "suites = [\"listener\"]\nfail_on = \"must\"\n[listener]\ntarget = \"{}\"\n",
        r.url
    );
    for id in &reqs {
        toml.push_str(&format!(
            "[[waiver]]\ncase = \"{id}\"\nreason = \"known\"\nissue = \"https://example.invalid/1\"\nexpires = \"2999-01-01\"\n"
        ));
    }
    // A waiver of a requirement the target meets: waived but passed, flagged.
    toml.push_str("[[waiver]]\ncase = \"LIS-006\"\nreason = \"stale\"\nissue = \"https://example.invalid/2\"\n");
    fs::write(tmp.path().join("cdevents-conformance.toml"), &toml).unwrap();
    let o = script(tmp.path(), &[]);
    assert_eq!(o.code, 0, "every failure is waived\n{o}");
    let rep = report(tmp.path(), "listener");
    assert!(
        rep["summary"]["waived"].as_u64().unwrap() >= failed.len() as u64,
        "{rep}"
    );
    assert!(
        rep["summary"]["waived_but_passed"].as_u64().unwrap() > 0,
        "{rep}"
    );
    assert!(o.stdout.contains("remove their waivers"), "{o}");

    // The same waivers, expired: the run fails again.
    fs::write(
        tmp.path().join("cdevents-conformance.toml"),
        toml.replace("2999-01-01", "2000-01-01"),
    )
    .unwrap();
    let o = script(tmp.path(), &[]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("waiver expired"), "{o}");
    assert!(
        report(tmp.path(), "listener")["summary"]["expired_waivers"]
            .as_u64()
            .unwrap()
            > 0
    );

    // A bad value names file and line, exit 2.
    fs::write(
        tmp.path().join("cdevents-conformance.toml"),
        "suites = [\"listener\"]\n[listener]\nfail_on = \"sometimes\"\n",
    )
    .unwrap();
    let o = script(tmp.path(), &["listener", "--list"]);
    assert_eq!(o.code, 2, "{o}");
    assert!(o.stderr.contains("cdevents-conformance.toml:3"), "{o}");
}

#[test]
fn flags_and_env_win_over_the_config_file() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("cdevents-conformance.toml"),
        "[listener]\ntarget = \"http://127.0.0.1:1/\"\nspec = [\"0.3.0\"]\n",
    )
    .unwrap();
    let list = |extra: &[&str]| {
        let o = Command::new(BIN)
            .args(["test", "listener", "--list"])
            .args(extra)
            .current_dir(tmp.path())
            .env_remove("CDEVENTS_CONFORMANCE_CONFIG")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // The spec column of each line.
        let mut specs: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
            .collect();
        specs.sort();
        specs.dedup();
        specs
    };
    assert_eq!(list(&[]), ["0.3.0"]);
    assert_eq!(list(&["--spec", "0.5.1"]), ["0.5.1"]);
}

#[test]
fn dockerfile_copies_only_paths_that_exist() {
    // No Docker engine runs here: check what the build stage needs, and that the build stage's
    // command (ci/install.sh) is the script tested by .ci/run.
    let root = common::workspace();
    let text = fs::read_to_string(root.join("Dockerfile")).unwrap();
    let mut copies = 0;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"COPY") && !line.contains("--from=") {
            for src in &words[1..words.len() - 1] {
                assert!(
                    root.join(src).exists(),
                    "Dockerfile copies {src}, which does not exist"
                );
                copies += 1;
            }
        }
    }
    assert!(copies >= 6);
    assert!(text.contains("RUN bash ci/install.sh /out"));
    assert!(text.contains("COPY --from=build /out/bin/cdevents-conformance"));
    // Every crate of the workspace is copied.
    for member in ["schemas", "suites", "reports", "runner"] {
        assert!(
            text.contains(&format!("COPY {member} {member}")),
            "{member}"
        );
    }
}

#[test]
fn action_runs_the_scripts_it_ships() {
    let root = common::workspace();
    let action = fs::read_to_string(root.join("action.yml")).unwrap();
    for s in [
        "ci/install.sh",
        "ci/conformance.sh",
        "$GITHUB_STEP_SUMMARY",
        "upload-artifact",
    ] {
        if s.starts_with("ci/") {
            assert!(root.join(s).is_file(), "{s}");
        }
        assert!(action.contains(s) || s == "$GITHUB_STEP_SUMMARY", "{s}");
    }
    assert!(action.contains("exit-code"));
    for ex in ["listener", "sender", "relay", "validate"] {
        let p = root.join(format!("ci/examples/{ex}.yml"));
        let t = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(t.contains(&format!("suite: {ex}")), "{ex}");
    }
    let gitlab =
        fs::read_to_string(root.join("ci/gitlab/cdevents-conformance.gitlab-ci.yml")).unwrap();
    assert!(gitlab.contains("junit:"));
}
