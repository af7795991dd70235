//! A `reference listener` child process of the built binary, for end-to-end tests: started on a
//! free loopback port, its URL read from its first line of output, killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The running reference listener.
pub struct Reference {
    child: Child,
    /// Its URL, e.g. `http://127.0.0.1:40255/`.
    pub url: String,
}

impl Reference {
    /// Starts it, conformant or broken with `--fault`.
    pub fn start(fault: Option<&str>) -> Reference {
        Reference::start_with(fault, &[])
    }

    /// Starts it with more `reference listener` flags (`--forward URL`).
    #[allow(dead_code)] // Not every test binary that includes this module forwards.
    pub fn start_with(fault: Option<&str>, extra: &[&str]) -> Reference {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cdevents-conformance"));
        cmd.args([
            "--color",
            "never",
            "reference",
            "listener",
            "--listen",
            "127.0.0.1:0",
        ]);
        if let Some(f) = fault {
            cmd.args(["--fault", f]);
        }
        cmd.args(extra);
        let child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("reference listener starts");
        // Built before reading, so that a failed read still kills the child.
        let mut r = Reference {
            child,
            url: String::new(),
        };
        let mut line = String::new();
        BufReader::new(r.child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("prints its URL");
        r.url = line.trim().to_owned();
        assert!(
            r.url.starts_with("http://127.0.0.1:"),
            "a loopback URL: {:?}",
            r.url
        );
        r
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
