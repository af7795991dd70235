//! A deterministic NDJSON corpus of CDEvents for the throughput bench.
//!
//! Event `i` is of the `i mod K`-th kind, where the kinds are every event type of every
//! supported spec version plus the custom (`dev.cdeventsx`) events of the versions that have
//! them, so every type appears once every K lines. Event content comes from the catalogue's
//! generators (`cdevents_suites::generators`), driven by one proptest runner seeded with `seed`;
//! the mix below is decided by a SplitMix64 of `seed` and `i`. Same `(n, seed)`, same bytes.
//!
//! Mix (per mille of the lines):
//! - 900: a bare, valid CDEvent;
//! - 50: a valid CDEvent in a CloudEvents structured-mode envelope (`data` holds it);
//! - 45: an invalid CDEvent: a valid one with exactly one schema rule broken
//!   (`generators::mutations_for_type`), the mutation picked by the seed;
//! - 5: not JSON at all (a valid line cut in half).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use cdevents_schemas::{catalogue, SpecVersion};
use cdevents_suites::generators;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use serde_json::{json, Map, Value};

/// Bumped whenever the corpus for a given `(n, seed)` changes, so cached files are rebuilt.
pub const GENERATOR_VERSION: u32 = 1;

/// What a generated corpus holds.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Lines (= events) written.
    pub events: u64,
    /// Bare, valid CDEvents.
    pub bare: u64,
    /// Valid CDEvents in CloudEvents structured envelopes.
    pub structured: u64,
    /// CDEvents with one schema rule broken.
    pub mutated: u64,
    /// Lines that are not JSON.
    pub broken: u64,
    /// Distinct event kinds cycled through (types of all versions, custom included).
    pub kinds: u64,
    /// Bytes written.
    pub bytes: u64,
}

struct Kind {
    version: SpecVersion,
    strategy: BoxedStrategy<Value>,
}

fn kinds() -> Vec<Kind> {
    let mut out = Vec::new();
    for version in SpecVersion::ALL {
        for def in &catalogue::for_version(version).events {
            out.push(Kind {
                version,
                strategy: generators::arb_valid_event(version, def),
            });
        }
        if let Some(strategy) = generators::arb_custom_event(version) {
            out.push(Kind { version, strategy });
        }
    }
    out
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Writes `n` events, one per line, to `path` (through a temporary file, so an interrupted run
/// never leaves a truncated corpus behind).
pub fn write(path: &Path, n: u64, seed: u64) -> io::Result<Stats> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("ndjson.partial");
    let stats = write_to(BufWriter::new(File::create(&tmp)?), n, seed)?;
    fs::rename(&tmp, path)?;
    Ok(stats)
}

/// Writes `n` events, one per line, to `out`.
pub fn write_to(mut out: impl Write, n: u64, seed: u64) -> io::Result<Stats> {
    let kinds = kinds();
    let mut runner = generators::seeded_runner(seed);
    let mut stats = Stats {
        kinds: kinds.len() as u64,
        ..Stats::default()
    };
    let mut line = Vec::with_capacity(4096);
    for i in 0..n {
        let kind = &kinds[(i % kinds.len() as u64) as usize];
        let event = kind
            .strategy
            .new_tree(&mut runner)
            .map_err(|e| io::Error::other(format!("generator gave up: {e}")))?
            .current();
        let roll = splitmix64(seed ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let per_mille = roll % 1000;
        line.clear();
        match per_mille {
            0..5 => {
                serde_json::to_writer(&mut line, &event)?;
                let mut cut = line.len() / 2;
                while cut > 0 && (line[cut] & 0xC0) == 0x80 {
                    cut -= 1; // keep it UTF-8: the line is broken JSON, not broken text
                }
                line.truncate(cut);
                stats.broken += 1;
            }
            5..50 => {
                let t = event
                    .pointer("/context/type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let all =
                    generators::mutations_for_type(kind.version, &t, &event).unwrap_or_default();
                if all.is_empty() {
                    serde_json::to_writer(&mut line, &event)?;
                    stats.bare += 1;
                } else {
                    let pick = ((roll >> 20) % all.len() as u64) as usize;
                    serde_json::to_writer(&mut line, &all[pick].event)?;
                    stats.mutated += 1;
                }
            }
            50..100 => {
                serde_json::to_writer(&mut line, &structured(event))?;
                stats.structured += 1;
            }
            _ => {
                serde_json::to_writer(&mut line, &event)?;
                stats.bare += 1;
            }
        }
        line.push(b'\n');
        out.write_all(&line)?;
        stats.events += 1;
        stats.bytes += line.len() as u64;
    }
    out.flush()?;
    Ok(stats)
}

/// A valid CDEvent in a CloudEvents structured-mode envelope, per the CDEvents binding.
fn structured(event: Value) -> Value {
    let get = |p: &str| event.pointer(p).cloned().unwrap_or(Value::Null);
    let mut ce = Map::new();
    ce.insert("specversion".into(), json!("1.0"));
    ce.insert("id".into(), get("/context/id"));
    ce.insert("source".into(), get("/context/source"));
    ce.insert("type".into(), get("/context/type"));
    ce.insert("subject".into(), get("/subject/id"));
    ce.insert("time".into(), get("/context/timestamp"));
    ce.insert("datacontenttype".into(), json!("application/json"));
    ce.insert("data".into(), event);
    Value::Object(ce)
}
