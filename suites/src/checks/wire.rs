//! Checks of one HTTP request's raw form, before (or instead of) decoding it: what a decoder
//! forgives or loses (a repeated JSON member, which serde_json keeps the last of silently) and
//! what makes it refuse the request (both `data` and `data_base64`). Pure functions of the
//! headers and body bytes; each returns what it found, as a sentence naming where.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::input::CeAttributes;

/// Header prefixes other CloudEvents bindings use for attributes (Kafka `ce_`, AMQP
/// `cloudEvents:` / `cloudEvents_`): on HTTP an attribute under one of them is not in its
/// `ce-` header (CE-HTTP-001).
pub const FOREIGN_PREFIXES: &[&str] = &["ce_", "cloudevents:", "cloudevents_"];

/// CDE-CE-016 in binary mode: the first `ce-` header name that appears more than once,
/// compared case-insensitively.
pub fn repeated_ce_header<'a>(
    headers: impl IntoIterator<Item = &'a (String, Vec<u8>)>,
) -> Option<String> {
    let mut seen = HashSet::new();
    headers
        .into_iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .filter(|n| n.starts_with("ce-"))
        .find(|n| !seen.insert(n.clone()))
}

/// CE-HTTP-001: headers named with another binding's attribute prefix, with the attribute
/// each names.
pub fn foreign_attribute_headers<'a>(
    headers: impl IntoIterator<Item = &'a (String, Vec<u8>)>,
) -> Vec<(String, String)> {
    headers
        .into_iter()
        .filter_map(|(n, _)| {
            let lower = n.to_ascii_lowercase();
            let attr = FOREIGN_PREFIXES
                .iter()
                .find_map(|p| lower.strip_prefix(p).filter(|a| !a.is_empty()))?
                .to_owned();
            Some((lower, attr))
        })
        .collect()
}

/// CE-HTTP-013: the `ce-` headers of a structured-mode request whose attribute the body's
/// event does not carry.
pub fn attributes_only_in_headers<'a>(
    headers: impl IntoIterator<Item = &'a (String, Vec<u8>)>,
    body: &CeAttributes,
) -> Vec<String> {
    let mut body = body.clone();
    headers
        .into_iter()
        .filter_map(|(n, _)| {
            let lower = n.to_ascii_lowercase();
            let attr = lower.strip_prefix("ce-")?.to_owned();
            let present = match body.known_mut(&attr) {
                Some(v) => v.is_some(),
                None => body.extensions.contains_key(&attr),
            };
            (!present && !attr.is_empty()).then_some(lower)
        })
        .collect()
}

/// CE-HTTP-019: where a JSON-format event (the body itself, or an element of a batch) has
/// both `data` and `data_base64` (a `null` counts as absent, as the decoder reads it).
pub fn data_and_data_base64(body: &Value) -> Vec<String> {
    let both = |v: &Value| {
        let has = |k: &str| v.get(k).is_some_and(|x| !x.is_null());
        has("data") && has("data_base64")
    };
    match body {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter(|(_, v)| both(v))
            .map(|(i, _)| format!("$[{i}]"))
            .collect(),
        v if both(v) => vec!["$".to_owned()],
        _ => Vec::new(),
    }
}

/// CDE-CE-016 in the JSON format: the path of the first member repeated within one object
/// (`$.specversion`, `$[2].data.context.id`), anywhere in the document. `None` also when the
/// bytes are not JSON: the decoder reports that. Nesting is bounded by serde_json's recursion
/// limit, so no body can exhaust the stack.
pub fn duplicate_member(body: &[u8]) -> Option<String> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let _ = Scan {
        path: "$".to_owned(),
        found: &found,
    }
    .deserialize(&mut de);
    found.into_inner()
}

/// Walks a JSON document without building it, noting the first repeated member.
struct Scan<'a> {
    path: String,
    found: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Scan<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while seq
            .next_element_seed(Scan {
                path: format!("{}[{i}]", self.path),
                found: self.found,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = format!("{}.{key}", self.path);
            if !keys.insert(key) {
                let mut f = self.found.borrow_mut();
                if f.is_none() {
                    *f = Some(path.clone());
                }
            }
            map.next_value_seed(Scan {
                path,
                found: self.found,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn repeated_members_are_found_anywhere_and_only_then() {
        assert_eq!(duplicate_member(br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#), None);
        assert_eq!(
            duplicate_member(br#"{"specversion":"1.0","id":"x","specversion":"1.0"}"#),
            Some("$.specversion".into())
        );
        assert_eq!(
            duplicate_member(br#"[{"a":1},{"data":{"context":{"id":"1","id":"2"}}}]"#),
            Some("$[1].data.context.id".into())
        );
        // The same name in sibling objects is no repetition.
        assert_eq!(duplicate_member(br#"[{"id":1},{"id":2}]"#), None);
        // Not JSON, or nested past serde_json's limit: nothing to say, and no panic.
        assert_eq!(duplicate_member(b"{\"a\":"), None);
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(duplicate_member(deep.as_bytes()), None);
    }

    #[test]
    fn repeated_ce_headers_compare_names_without_case() {
        assert_eq!(
            repeated_ce_header(&h(&[("ce-id", "1"), ("CE-Id", "1")])),
            Some("ce-id".into())
        );
        assert_eq!(
            repeated_ce_header(&h(&[("ce-id", "1"), ("accept", "a"), ("accept", "b")])),
            None
        );
    }

    #[test]
    fn foreign_prefixes_and_attributes_only_in_headers() {
        let hs = h(&[("ce_sequence", "1"), ("ce-id", "1"), ("ce_", "")]);
        assert_eq!(
            foreign_attribute_headers(&hs),
            vec![("ce_sequence".to_owned(), "sequence".to_owned())]
        );
        let mut body = CeAttributes {
            id: Some("1".into()),
            ..CeAttributes::default()
        };
        let hs = h(&[("ce-id", "1"), ("ce-sequence", "1"), ("content-type", "x")]);
        assert_eq!(attributes_only_in_headers(&hs, &body), vec!["ce-sequence"]);
        body.extensions.insert("sequence".into(), json!("1"));
        assert!(attributes_only_in_headers(&hs, &body).is_empty());
    }

    #[test]
    fn data_and_base64_together_are_found_per_event() {
        assert_eq!(
            data_and_data_base64(&json!({"data": {}, "data_base64": "e30="})),
            vec!["$"]
        );
        assert!(data_and_data_base64(&json!({"data": {}, "data_base64": null})).is_empty());
        assert_eq!(
            data_and_data_base64(&json!([{"data": 1}, {"data": 1, "data_base64": "MQ=="}])),
            vec!["$[1]"]
        );
    }
}
