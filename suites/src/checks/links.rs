//! Embedded links (0.4.1+) and, in the 0.6 draft, domain ids.
//!
//! The link schemas are an `anyOf`, so a schema error says only "not any of PATH, END,
//! RELATION". These rules name what is wrong and which link type's rule it breaks, and they
//! also hold where the schemas are looser than the prose (a 0.4.1/0.5.1 RELATION `target`
//! without `contextId` passes the schema).

use std::collections::BTreeSet;

use cdevents_schemas::SpecVersion;
use serde_json::{Map, Value};

use super::ids;
use super::{finding, quote, CheckedEvent};

/// The governed resource types of a domain id (links.md, 0.6 draft).
pub const DOMAIN_TYPES: [&str; 10] = [
    "pr",
    "commit",
    "issue",
    "branch",
    "tag",
    "definition.workflow",
    "execution",
    "artifact",
    "environment",
    "alert",
];

/// Checks `context.links`; returns the indexes of the links it found a MUST-level fault with.
pub(super) fn check(
    spec: SpecVersion,
    links: Option<&Value>,
    out: &mut CheckedEvent,
) -> BTreeSet<usize> {
    let mut flagged = BTreeSet::new();
    if !spec.has_links() {
        return flagged;
    }
    let Some(links) = links.and_then(Value::as_array) else {
        return flagged;
    };
    for (i, link) in links.iter().enumerate() {
        let before = out.findings.len();
        one(spec, i, link, out);
        // Only a MUST finding stands in for the schema's errors on this link.
        if out.findings[before..]
            .iter()
            .any(|f| f.level == cdevents_reports::Level::Must)
        {
            flagged.insert(i);
        }
    }
    flagged
}

fn one(spec: SpecVersion, i: usize, link: &Value, out: &mut CheckedEvent) {
    // A pointer is built only for a finding (most links have none), and the members are picked
    // out in one pass instead of one SipHash lookup each (BENCHMARKS.md).
    let at = |rest: &str| format!("/context/links/{i}{rest}");
    let Some(obj) = link.as_object() else {
        out.findings.push(finding(
            ids::LINKS,
            at(""),
            "an embedded link is a JSON object",
        ));
        return;
    };
    let m = LinkMembers::of(obj);
    let link_type = m.link_type.and_then(Value::as_str);
    let (id, allowed): (&str, &[&str]) = match link_type {
        Some("PATH") => (ids::LINK_PATH, &["linkType", "from", "tags"]),
        Some("END") => (ids::LINK_END, &["linkType", "from", "tags"]),
        Some("RELATION") => (
            ids::LINK_RELATION,
            &["linkType", "linkKind", "target", "tags"],
        ),
        other => {
            out.findings.push(finding(
                ids::LINKS,
                at("/linkType"),
                format!(
                    "linkType {} is not one of PATH, RELATION, END (START links are sent on their own, never embedded)",
                    other.map(quote).unwrap_or_else(|| "is missing".into())
                ),
            ));
            return;
        }
    };
    for (key, present) in [
        ("chainId", m.chain_id.is_some()),
        ("timestamp", m.timestamp.is_some()),
    ] {
        if present {
            out.findings.push(finding(
                ids::LINK_EMBEDDED_FIELDS,
                at(&format!("/{key}")),
                format!(
                    "an embedded link carries no `{key}`: it belongs to links sent on their own"
                ),
            ));
        }
    }
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) && key != "chainId" && key != "timestamp" {
            out.findings.push(finding(
                id,
                at(&format!("/{}", escape_pointer(key))),
                format!(
                    "a {} link has no member {}",
                    link_type.unwrap_or(""),
                    quote(key)
                ),
            ));
        }
    }
    match link_type {
        Some("PATH") => end_point(spec, m.from, (i, "from"), id, true, out),
        Some("END") => end_point(spec, m.from, (i, "from"), id, false, out),
        _ => {
            match m.link_kind.and_then(Value::as_str) {
                Some(k) if !k.is_empty() => {}
                _ => out.findings.push(finding(
                    id,
                    at("/linkKind"),
                    "a RELATION link needs a non-empty linkKind",
                )),
            }
            end_point(spec, m.target, (i, "target"), id, true, out);
        }
    }
    if let Some(tags) = m.tags {
        let ok = tags
            .as_object()
            .is_some_and(|t| t.values().all(Value::is_string));
        if !ok {
            out.findings.push(finding(
                ids::LINK_TAGS,
                at("/tags"),
                "tags map names to string values",
            ));
        }
    }
}

/// The members of an embedded link the rules read.
#[derive(Default)]
struct LinkMembers<'v> {
    link_type: Option<&'v Value>,
    link_kind: Option<&'v Value>,
    from: Option<&'v Value>,
    target: Option<&'v Value>,
    tags: Option<&'v Value>,
    chain_id: Option<&'v Value>,
    timestamp: Option<&'v Value>,
}

impl<'v> LinkMembers<'v> {
    fn of(obj: &'v Map<String, Value>) -> Self {
        let mut m = LinkMembers::default();
        for (k, v) in obj {
            let slot = match k.as_str() {
                "linkType" => &mut m.link_type,
                "linkKind" => &mut m.link_kind,
                "from" => &mut m.from,
                "target" => &mut m.target,
                "tags" => &mut m.tags,
                "chainId" => &mut m.chain_id,
                "timestamp" => &mut m.timestamp,
                _ => continue,
            };
            *slot = Some(v);
        }
        m
    }
}

/// A `from`/`target` object (`name`, of link `i`): a non-empty `contextId`, or (0.6 draft) a
/// `domainId`.
fn end_point(
    spec: SpecVersion,
    v: Option<&Value>,
    (i, name): (usize, &str),
    id: &str,
    required: bool,
    out: &mut CheckedEvent,
) {
    let p = || format!("/context/links/{i}/{name}");
    let Some(v) = v else {
        if required {
            out.findings
                .push(finding(id, p(), format!("`{name}` is missing")));
        }
        return;
    };
    let Some(obj) = v.as_object() else {
        out.findings
            .push(finding(id, p(), format!("`{name}` is an object")));
        return;
    };
    let draft = spec >= SpecVersion::V0_6_0Draft;
    let ctx = super::member(obj, "contextId")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    let domain = super::member(obj, "domainId").and_then(Value::as_str);
    if let Some(d) = domain.filter(|_| draft) {
        domain_id(d, &format!("{}/domainId", p()), out);
    }
    let named_by_domain = draft && domain.is_some_and(|d| !d.is_empty());
    if !(ctx || named_by_domain) {
        let what = if draft {
            "a non-empty contextId or a domainId"
        } else {
            "a non-empty contextId"
        };
        out.findings
            .push(finding(id, p(), format!("`{name}` needs {what}")));
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// `cdevents:v0:<provider>:<provider-id>:<namespace>:<groups>:<type>:<resource-id>`.
pub fn domain_id(d: &str, p: &str, out: &mut CheckedEvent) {
    let Some(rest) = d.strip_prefix("cdevents:v0:") else {
        out.findings.push(finding(
            ids::DOMAIN_ID,
            p,
            format!("domainId {} does not start with cdevents:v0:", quote(d)),
        ));
        return;
    };
    let parts: Vec<&str> = rest.splitn(6, ':').collect();
    let [_provider, _provider_id, _namespace, groups, kind, resource] = parts[..] else {
        out.findings.push(finding(
            ids::DOMAIN_ID,
            p,
            format!(
                "domainId {} lacks segments: provider, provider-id, namespace, groups, type and resource id must all be present",
                quote(d)
            ),
        ));
        return;
    };
    if kind.is_empty() || resource.is_empty() || groups.starts_with('/') || groups.ends_with('/') {
        out.findings.push(finding(
            ids::DOMAIN_ID,
            p,
            format!(
                "domainId {}: type and resource id must be non-empty and groups must not start or end with /",
                quote(d)
            ),
        ));
    } else if !DOMAIN_TYPES.contains(&kind) {
        out.findings.push(finding(
            ids::DOMAIN_ID_TYPE,
            p,
            format!(
                "domainId type {} is not a governed resource type ({})",
                quote(kind),
                DOMAIN_TYPES.join(", ")
            ),
        ));
    }
    let bytes = d.as_bytes();
    let lower_hex = bytes.windows(3).any(|w| {
        w[0] == b'%'
            && w[1].is_ascii_hexdigit()
            && w[2].is_ascii_hexdigit()
            && (w[1].is_ascii_lowercase() || w[2].is_ascii_lowercase())
    });
    if lower_hex {
        out.findings.push(finding(
            ids::DOMAIN_ID_ENCODING,
            p,
            format!(
                "domainId {} percent-encodes with lower-case hex digits",
                quote(d)
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids_of(spec: SpecVersion, links: Value) -> Vec<String> {
        let ev = json!({ "context": { "links": links } });
        let mut out = CheckedEvent::default();
        check(spec, ev["context"].get("links"), &mut out);
        out.findings.into_iter().map(|f| f.id).collect()
    }

    #[test]
    fn each_rule_can_fail() {
        let v = SpecVersion::V0_5_1;
        assert!(ids_of(v, json!([{"linkType": "PATH", "from": {"contextId": "a"}}])).is_empty());
        assert_eq!(ids_of(v, json!([{"linkType": "START"}])), [ids::LINKS]);
        assert_eq!(
            ids_of(v, json!([{"linkType": "END", "chainId": "c"}])),
            [ids::LINK_EMBEDDED_FIELDS]
        );
        assert_eq!(ids_of(v, json!([{"linkType": "PATH"}])), [ids::LINK_PATH]);
        assert_eq!(
            ids_of(v, json!([{"linkType": "END", "from": {}}])),
            [ids::LINK_END]
        );
        assert_eq!(
            ids_of(
                v,
                json!([{"linkType": "RELATION", "linkKind": "TRIGGER", "target": {}}])
            ),
            [ids::LINK_RELATION]
        );
        assert_eq!(
            ids_of(v, json!([{"linkType": "END", "tags": {"a": 1}}])),
            [ids::LINK_TAGS]
        );
        // 0.3.0 has no links: nothing to judge here (the schema rejects the member).
        assert!(ids_of(SpecVersion::V0_3_0, json!([1])).is_empty());
    }

    #[test]
    fn domain_ids() {
        let d = SpecVersion::V0_6_0Draft;
        let rel = |id: &str| json!([{"linkType": "RELATION", "linkKind": "K", "target": {"domainId": id}}]);
        assert!(ids_of(d, rel("cdevents:v0:github::xibz:cdevents-spec:pr:42")).is_empty());
        assert!(ids_of(
            d,
            rel("cdevents:v0:gitlab::my-company:platform/backend:commit:99")
        )
        .is_empty());
        assert_eq!(
            ids_of(d, rel("cdevents:v0:github::xibz:pr:42")),
            [ids::DOMAIN_ID]
        );
        assert_eq!(
            ids_of(d, rel("cdevents:v0:github::x:/g:pr:42")),
            [ids::DOMAIN_ID]
        );
        assert_eq!(
            ids_of(d, rel("cdevents:v0:gitlab::co:proj:mr:99")),
            [ids::DOMAIN_ID_TYPE]
        );
        assert_eq!(
            ids_of(d, rel("cdevents:v0:github::x:a%2fb:pr:42")),
            [ids::DOMAIN_ID_ENCODING]
        );
        // Before the draft a domainId is not a way to name a target.
        assert_eq!(
            ids_of(SpecVersion::V0_5_1, rel("cdevents:v0:github::x:y:pr:1")),
            [ids::LINK_RELATION]
        );
    }
}
