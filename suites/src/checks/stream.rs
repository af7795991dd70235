//! Rules over a stream of events rather than one: no two distinct events share source and id.

use std::hash::{DefaultHasher, Hash, Hasher};

use cdevents_reports::Finding;
use serde_json::Value;

use super::{finding, ids, quote};

/// Remembers which `(source, id)` pairs were seen in 12 bytes a pair: a 64-bit hash of the pair
/// and 32 bits of the event's content hash, in 64 open-addressing shards that each grow on their
/// own (so growing never holds two copies of the whole table), at most 3/4 full.
pub struct SeenIds {
    shards: Vec<Shard>,
    len: usize,
    cap: usize,
}

#[derive(Default)]
struct Shard {
    /// Hash of `(source, id)`, never 0 (0 marks an empty slot).
    keys: Vec<u64>,
    contents: Vec<u32>,
    len: usize,
}

const SHARD_BITS: u32 = 6;

impl Shard {
    /// The slot holding `key`, or the empty slot where it goes.
    fn find(&self, key: u64) -> usize {
        let mask = self.keys.len() - 1;
        let mut i = (key >> SHARD_BITS) as usize & mask;
        while self.keys[i] != 0 && self.keys[i] != key {
            i = (i + 1) & mask;
        }
        i
    }

    fn grow(&mut self) {
        let size = (self.keys.len() * 2).max(64);
        let keys = std::mem::replace(&mut self.keys, vec![0; size]);
        let contents = std::mem::replace(&mut self.contents, vec![0; size]);
        for (k, c) in keys.into_iter().zip(contents) {
            if k != 0 {
                let i = self.find(k);
                self.keys[i] = k;
                self.contents[i] = c;
            }
        }
    }
}

impl Default for SeenIds {
    fn default() -> Self {
        SeenIds::with_capacity_limit(4_000_000)
    }
}

impl SeenIds {
    /// Tracks at most `cap` distinct pairs; past that, new pairs are not remembered.
    pub fn with_capacity_limit(cap: usize) -> Self {
        SeenIds {
            shards: (0..1 << SHARD_BITS).map(|_| Shard::default()).collect(),
            len: 0,
            cap,
        }
    }

    /// Records the event; returns a finding when an earlier, different event had the same
    /// `context.source` and `context.id`. The same event again is a redelivery, not a finding.
    pub fn observe(&mut self, ev: &Value) -> Option<Finding> {
        let ctx = super::member(ev.as_object()?, "context")?.as_object()?;
        let source = super::member(ctx, "source")?.as_str()?;
        let id = super::member(ctx, "id")?.as_str()?;
        if source.is_empty() || id.is_empty() {
            // Empty ids are their own finding (CDE-CTX-001); they identify nothing.
            return None;
        }
        let mut h = DefaultHasher::new();
        (source, id).hash(&mut h);
        let key = h.finish().max(1);
        let content = content_hash(ev) as u32;
        let shard = &mut self.shards[(key & ((1 << SHARD_BITS) - 1)) as usize];
        if !shard.keys.is_empty() {
            let i = shard.find(key);
            if shard.keys[i] == key {
                return (shard.contents[i] != content).then(|| {
                    finding(
                        ids::UNIQUE_ID,
                        "/context/id",
                        format!(
                            "source {} and id {} were already used by a different, earlier event of this run",
                            quote(source),
                            quote(id)
                        ),
                    )
                });
            }
        }
        if self.len < self.cap {
            if (shard.len + 1) * 4 > shard.keys.len() * 3 {
                shard.grow();
            }
            let i = shard.find(key);
            shard.keys[i] = key;
            shard.contents[i] = content;
            shard.len += 1;
            self.len += 1;
        }
        None
    }
}

/// A hash of a JSON value that ignores the order of object members.
///
/// Not SipHash: the content hash only tells a redelivery from a different event once the
/// `(source, id)` key already matched, and it runs over every member of every event, so it uses
/// a multiply-rotate hash (FxHash's) with no per-member hasher set-up and no number formatting.
pub fn content_hash(v: &Value) -> u64 {
    let mut h = Fx(0);
    hash_value(v, &mut h);
    h.0
}

struct Fx(u64);

impl Fx {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn bytes(&mut self, b: &[u8]) {
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let mut last = [0u8; 8];
        last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.add(u64::from_le_bytes(last));
        self.add(b.len() as u64);
    }
}

fn hash_value(v: &Value, h: &mut Fx) {
    match v {
        Value::Null => h.add(0),
        Value::Bool(b) => h.add(1 + *b as u64),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                h.add(3);
                h.add(u);
            } else if let Some(i) = n.as_i64() {
                h.add(4);
                h.add(i as u64);
            } else {
                h.add(5);
                h.add(n.as_f64().unwrap_or_default().to_bits());
            }
        }
        Value::String(s) => {
            h.add(6);
            h.bytes(s.as_bytes());
        }
        Value::Array(a) => {
            h.add(7);
            h.add(a.len() as u64);
            for x in a {
                hash_value(x, h);
            }
        }
        Value::Object(o) => {
            // Members are combined with a commutative sum so that order does not matter.
            let mut acc: u64 = 0;
            for (k, x) in o {
                let mut m = Fx(0);
                m.bytes(k.as_bytes());
                hash_value(x, &mut m);
                acc = acc.wrapping_add(m.0);
            }
            h.add(8);
            h.add(o.len() as u64);
            h.add(acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn duplicates() {
        let mut seen = SeenIds::default();
        let a = json!({"context": {"source": "/s", "id": "1", "x": 1}});
        let a_again = json!({"context": {"x": 1, "id": "1", "source": "/s"}});
        let b = json!({"context": {"source": "/s", "id": "1", "x": 2}});
        let c = json!({"context": {"source": "/t", "id": "1"}});
        assert!(seen.observe(&a).is_none());
        assert!(
            seen.observe(&a_again).is_none(),
            "a redelivery is not a finding"
        );
        assert_eq!(
            seen.observe(&b).map(|f| f.id),
            Some(ids::UNIQUE_ID.to_owned())
        );
        assert!(seen.observe(&c).is_none());
    }
}
