//! Rules over a stream of events rather than one: no two distinct events share source and id.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use cdevents_reports::Finding;
use serde_json::Value;

use super::{finding, ids, quote};

/// Remembers which `(source, id)` pairs were seen, compactly (two hashes and an ordinal per
/// event), so that a stream of a million events stays within a few tens of MiB.
pub struct SeenIds {
    seen: HashMap<u64, (u64, u64)>,
    count: u64,
    cap: usize,
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
            seen: HashMap::new(),
            count: 0,
            cap,
        }
    }

    /// Records the event; returns a finding when an earlier, different event had the same
    /// `context.source` and `context.id`. The same event again is a redelivery, not a finding.
    pub fn observe(&mut self, ev: &Value) -> Option<Finding> {
        self.count += 1;
        let source = ev.pointer("/context/source")?.as_str()?;
        let id = ev.pointer("/context/id")?.as_str()?;
        if source.is_empty() || id.is_empty() {
            // Empty ids are their own finding (CDE-CTX-001); they identify nothing.
            return None;
        }
        let mut h = DefaultHasher::new();
        (source, id).hash(&mut h);
        let key = h.finish();
        let content = content_hash(ev);
        match self.seen.get(&key) {
            Some(&(c, _)) if c == content => None,
            Some(&(_, n)) => Some(finding(
                ids::UNIQUE_ID,
                "/context/id",
                format!(
                    "source {} and id {} were already used by a different event (event #{n} of this run)",
                    quote(source),
                    quote(id)
                ),
            )),
            None => {
                if self.seen.len() < self.cap {
                    self.seen.insert(key, (content, self.count));
                }
                None
            }
        }
    }
}

/// A hash of a JSON value that ignores the order of object members.
pub fn content_hash(v: &Value) -> u64 {
    let mut h = DefaultHasher::new();
    hash_value(v, &mut h);
    h.finish()
}

fn hash_value(v: &Value, h: &mut DefaultHasher) {
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => (2u8, n.to_string()).hash(h),
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(a) => {
            (4u8, a.len()).hash(h);
            for x in a {
                hash_value(x, h);
            }
        }
        Value::Object(o) => {
            // Members are combined with a commutative sum so that order does not matter.
            let mut acc: u64 = 0;
            for (k, x) in o {
                let mut m = DefaultHasher::new();
                k.hash(&mut m);
                hash_value(x, &mut m);
                acc = acc.wrapping_add(m.finish());
            }
            (5u8, o.len(), acc).hash(h);
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
