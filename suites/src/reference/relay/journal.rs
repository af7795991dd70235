//! The reference relay's durable mode (`--state-dir DIR`): every event it accepts is appended
//! to `DIR/journal` and the file is synced before the relay acknowledges; every event it is
//! done with (delivered or dead-lettered) is appended to `DIR/done`. On start it queues again
//! what the journal holds that `done` does not. Dead letters are appended to
//! `DIR/dead-letters.jsonl` (one JSON object a line) and listed again after a restart. The
//! journal and `done` are emptied whenever the relay's
//! queue is empty, and the relay refuses new events (503) while the journal is over its limit,
//! so the state stays bounded.
//!
//! A journal record is `u32` (little-endian) length, a JSON header `{n, key, id, source,
//! headers}`, `u32` length, the body as forwarded. A record cut short (the relay was killed
//! while writing it) ends the journal: that event was never acknowledged.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde_json::{json, Value};

use super::Job;
use crate::drivers::relay::DeadLetter;

/// The journal is emptied once the queue is empty and it is over this many bytes.
const COMPACT_AT: u64 = 1 << 20;

/// Events still owed after a restart, each with its queue key, in the order they came.
pub(super) type Owed = Vec<(String, Job)>;

/// A relay's on-disk state.
pub(super) struct Journal {
    log: File,
    done: File,
    dead: File,
    bytes: u64,
    limit: u64,
}

/// Most bytes of the dead-letter file read at start.
const DEAD_CAP: u64 = 64 << 20;

/// Most bytes of the `done` file read at start (8 bytes an event).
const DONE_CAP: u64 = 1 << 30;

impl Journal {
    /// Opens (creating) the state in `dir`; returns it with the jobs still owed, each with
    /// its queue key, in the order they were accepted.
    pub(super) fn open(dir: &Path, limit: u64) -> io::Result<(Journal, Owed, Vec<DeadLetter>)> {
        std::fs::create_dir_all(dir)?;
        let log_path: PathBuf = dir.join("journal");
        let done_path = dir.join("done");
        let open = |p: &Path| {
            OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(p)
        };
        let mut done = open(&done_path)?;
        let mut finished = HashSet::new();
        let mut buf = Vec::new();
        (&mut done).take(DONE_CAP).read_to_end(&mut buf)?;
        for c in buf.chunks_exact(8) {
            finished.insert(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        let mut log = open(&log_path)?;
        let mut raw = Vec::new();
        (&mut log)
            .take(limit.saturating_add(COMPACT_AT))
            .read_to_end(&mut raw)?;
        let mut owed = Vec::new();
        let mut at = 0usize;
        while let Some((key, job, next)) = record(&raw, at) {
            at = next;
            if !finished.contains(&job.n) {
                owed.push((key, job));
            }
        }
        let bytes = raw.len() as u64;
        let mut dead = open(&dir.join("dead-letters.jsonl"))?;
        let mut text = Vec::new();
        (&mut dead).take(DEAD_CAP).read_to_end(&mut text)?;
        let letters = text
            .split(|&b| b == b'\n')
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect();
        Ok((
            Journal {
                log,
                done,
                dead,
                bytes,
                limit,
            },
            owed,
            letters,
        ))
    }

    /// Whether the journal is over its limit (new events are then refused).
    pub(super) fn full(&self) -> bool {
        self.bytes >= self.limit
    }

    /// Appends the jobs and syncs the file: only then may they be acknowledged.
    pub(super) fn append(&mut self, jobs: &[(String, Job)]) -> io::Result<()> {
        let mut out = Vec::new();
        for (key, job) in jobs {
            let header = json!({
                "n": job.n, "key": key, "subject": job.subject, "id": job.id, "source": job.source,
                "headers": job.headers,
            })
            .to_string();
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(&(job.body.len() as u32).to_le_bytes());
            out.extend_from_slice(&job.body);
        }
        self.log.write_all(&out)?;
        self.log.sync_data()?;
        self.bytes += out.len() as u64;
        Ok(())
    }

    /// Keeps a dead letter across restarts.
    pub(super) fn dead_letter(&mut self, d: &DeadLetter) {
        if let Ok(mut line) = serde_json::to_vec(d) {
            line.push(b'\n');
            let _ = self.dead.write_all(&line);
        }
    }

    /// Records that the relay is done with event `n`.
    pub(super) fn finished(&mut self, n: u64) {
        let _ = self.done.write_all(&n.to_le_bytes());
    }

    /// Empties both files when nothing is queued (the caller holds the queue's lock and knows).
    pub(super) fn compact_if_idle(&mut self, queued: usize) {
        if queued == 0 && self.bytes >= COMPACT_AT {
            // The journal first: a `done` entry without its record is harmless.
            if self
                .log
                .set_len(0)
                .and_then(|_| self.log.sync_data())
                .is_ok()
            {
                self.bytes = 0;
                let _ = self.done.set_len(0);
            }
        }
    }
}

/// The record at `at`: its key, job and where the next starts; `None` at the end or at a
/// record cut short or unreadable.
fn record(raw: &[u8], at: usize) -> Option<(String, Job, usize)> {
    let len = |i: usize| -> Option<usize> {
        Some(u32::from_le_bytes(raw.get(i..i + 4)?.try_into().ok()?) as usize)
    };
    let hl = len(at)?;
    let header: Value = serde_json::from_slice(raw.get(at + 4..at + 4 + hl)?).ok()?;
    let bl = len(at + 4 + hl)?;
    let start = at + 8 + hl;
    let body = raw.get(start..start + bl)?;
    let s = |k: &str| header[k].as_str().map(str::to_owned);
    let headers = header["headers"]
        .as_array()?
        .iter()
        .filter_map(|h| Some((h[0].as_str()?.to_owned(), h[1].as_str()?.to_owned())))
        .collect();
    let job = Job {
        n: header["n"].as_u64()?,
        // Journals written before subjects were kept apart from queue keys: the key was it.
        subject: s("subject").or_else(|| s("key"))?,
        id: s("id")?,
        source: s("source")?,
        headers,
        body: Bytes::copy_from_slice(body),
    };
    Some((s("key")?, job, start + bl))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(n: u64) -> (String, Job) {
        (
            format!("k{}", n % 2),
            Job {
                n,
                subject: format!("k{}", n % 2),
                id: format!("id-{n}"),
                source: "s".into(),
                headers: vec![("ce-id".into(), format!("id-{n}"))],
                body: Bytes::from(vec![n as u8, 0xff, 0]),
            },
        )
    }

    #[test]
    fn what_is_not_done_is_owed_again_and_a_cut_record_ends_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut j, owed, dead) = Journal::open(dir.path(), 1 << 20).unwrap();
            assert!(owed.is_empty() && dead.is_empty());
            j.append(&[job(0), job(1)]).unwrap();
            j.append(&[job(2)]).unwrap();
            j.finished(1);
            j.dead_letter(&DeadLetter {
                id: "id-1".into(),
                source: "s".into(),
                status: Some(400),
                reason: "refused".into(),
            });
        }
        // A record cut short by a kill.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("journal"))
            .unwrap();
        f.write_all(&[200, 0, 0, 0, b'{']).unwrap();
        let (_, owed, dead) = Journal::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!((dead[0].id.as_str(), dead[0].status), ("id-1", Some(400)));
        let ns: Vec<u64> = owed.iter().map(|(_, j)| j.n).collect();
        assert_eq!(ns, vec![0, 2]);
        assert_eq!(owed[1].0, "k0");
        assert_eq!(owed[1].1.body.as_ref(), &[2, 0xff, 0]);
        assert_eq!(owed[1].1.headers, vec![("ce-id".into(), "id-2".into())]);
    }

    #[test]
    fn bounded_full_and_emptied_when_idle() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _, _) = Journal::open(dir.path(), 64).unwrap();
        assert!(!j.full());
        j.append(&[job(0), job(1)]).unwrap();
        assert!(j.full());
        j.bytes = COMPACT_AT;
        j.compact_if_idle(1);
        assert_eq!(j.bytes, COMPACT_AT, "not while something is queued");
        j.compact_if_idle(0);
        assert_eq!(j.bytes, 0);
        let (_, owed, _) = Journal::open(dir.path(), 64).unwrap();
        assert!(owed.is_empty());
    }
}
