//! Rules of the CDEvent itself: version, type, schema, and what the schemas cannot say.

use cdevents_schemas::catalogue::Format;
use cdevents_schemas::registry::SchemaLookup;
use cdevents_schemas::{catalogue, formats, SpecVersion, TypeSchema};
use serde_json::Value;

use super::ids;
use super::{finding, quote, CheckedEvent, EventChecker};

pub(super) fn check(checker: &EventChecker<'_>, ev: &Value, out: &mut CheckedEvent) {
    let Some(obj) = ev.as_object() else {
        out.findings.push(finding(
            ids::SCHEMA_SHAPE,
            "",
            format!("a CDEvent is a JSON object, this is {}", kind(ev)),
        ));
        return;
    };
    // The members the rules read are picked out in one pass over each object and handed to
    // every rule: a map lookup hashes its key (SipHash), a pass compares a few short keys
    // (BENCHMARKS.md, "context looked up once").
    let top = Members::of(obj);
    let ctx = top.context.and_then(Value::as_object);
    let subject = top.subject.and_then(Value::as_object);
    let c = ctx.map(ContextMembers::of).unwrap_or_default();
    let type_name = c.type_name.and_then(Value::as_str);
    out.type_name = type_name.map(str::to_owned);
    out.spec = version(checker, top.context.map(|_| &c), out);
    let type_schema = check_type(checker, type_name, out);
    // The link rules name what the schema's `anyOf` error cannot; where they judged a link,
    // its schema errors are left out.
    let flagged_links = match out.spec {
        Some(spec) => super::links::check(spec, c.links, out),
        None => Default::default(),
    };
    for (member, found) in [("context", ctx), ("subject", subject)] {
        if found.is_none() {
            out.findings.push(finding(
                ids::SCHEMA_SHAPE,
                format!("/{member}"),
                format!("the required `{member}` object is missing or not an object"),
            ));
        }
    }
    if let (Some(spec), Some(t), Some(ts)) = (out.spec, type_name, type_schema) {
        schema(ts, spec, t, ev, &flagged_links, out);
    }
    let ctx_source = c.source.and_then(Value::as_str);
    let subject_source = subject
        .and_then(|s| super::member(s, "source"))
        .and_then(Value::as_str);
    sources(ctx_source, subject_source, out);
    recommendations(
        ctx_source,
        subject_source,
        c.chain_id.and_then(Value::as_str),
        out,
    );
    custom_data(&top, out);
    if let (Some(resolver), Some(uri)) = (checker.schema_uri, c.schema_uri.and_then(Value::as_str))
    {
        schema_uri(resolver, uri, ev, out);
    }
    dedupe(&mut out.findings);
}

/// The top-level members of a CDEvent the rules read.
#[derive(Default)]
struct Members<'v> {
    context: Option<&'v Value>,
    subject: Option<&'v Value>,
    custom_data: Option<&'v Value>,
    custom_data_content_type: Option<&'v Value>,
}

impl<'v> Members<'v> {
    fn of(obj: &'v serde_json::Map<String, Value>) -> Self {
        let mut m = Members::default();
        for (k, v) in obj {
            let slot = match k.as_str() {
                "context" => &mut m.context,
                "subject" => &mut m.subject,
                "customData" => &mut m.custom_data,
                "customDataContentType" => &mut m.custom_data_content_type,
                _ => continue,
            };
            *slot = Some(v);
        }
        m
    }
}

/// The members of `context` the rules read.
#[derive(Default)]
struct ContextMembers<'v> {
    type_name: Option<&'v Value>,
    specversion: Option<&'v Value>,
    version: Option<&'v Value>,
    links: Option<&'v Value>,
    source: Option<&'v Value>,
    chain_id: Option<&'v Value>,
    schema_uri: Option<&'v Value>,
}

impl<'v> ContextMembers<'v> {
    fn of(ctx: &'v serde_json::Map<String, Value>) -> Self {
        let mut m = ContextMembers::default();
        for (k, v) in ctx {
            let slot = match k.as_str() {
                "type" => &mut m.type_name,
                "specversion" => &mut m.specversion,
                "version" => &mut m.version,
                "links" => &mut m.links,
                "source" => &mut m.source,
                "chainId" => &mut m.chain_id,
                "schemaUri" => &mut m.schema_uri,
                _ => continue,
            };
            *slot = Some(v);
        }
        m
    }
}

/// The same requirement at the same place is one finding, whichever rule saw it first.
/// Most events have zero or one finding: no set is built for them, and none owns a copy.
fn dedupe(findings: &mut Vec<super::Finding>) {
    if findings.len() < 2 {
        return;
    }
    let keep: Vec<bool> = {
        let mut seen = std::collections::HashSet::with_capacity(findings.len());
        findings
            .iter()
            .map(|f| seen.insert((f.id.as_str(), f.pointer.as_str())))
            .collect()
    };
    let mut keep = keep.into_iter();
    findings.retain(|_| keep.next().unwrap_or(true));
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Which version to judge against: forced, or declared by the event in the attribute its
/// version names (`version` up to 0.4, `specversion` from 0.5).
/// `ctx` is `None` when the event has no `context` member at all.
fn version(
    checker: &EventChecker<'_>,
    ctx: Option<&ContextMembers<'_>>,
    out: &mut CheckedEvent,
) -> Option<SpecVersion> {
    let ctx = ctx?;
    let declared_new = ctx.specversion;
    let declared_old = ctx.version;
    let (attr, declared) = match (declared_new, declared_old) {
        (Some(v), _) => ("specversion", v),
        (None, Some(v)) => ("version", v),
        (None, None) => {
            if checker.forced.is_none() {
                out.findings.push(finding(
                    ids::VERSION_KNOWN,
                    "/context",
                    "the context declares no spec version (`specversion` from 0.5, `version` in 0.3 and 0.4); use --spec to say which version to check against",
                ));
            }
            return checker.forced;
        }
    };
    let pointer = format!("/context/{attr}");
    let parsed = declared
        .as_str()
        .and_then(|s| s.parse::<SpecVersion>().ok());
    let spec = match (checker.forced, parsed) {
        (Some(f), _) => f,
        (None, Some(p)) => p,
        (None, None) => {
            out.findings.push(finding(
                ids::VERSION_KNOWN,
                pointer,
                format!(
                    "spec version {} is not one this kit knows (0.3.0, 0.4.1, 0.5.1, 0.6.0-draft); use --spec to check it against one of them",
                    declared.as_str().map(quote).unwrap_or_else(|| declared.to_string())
                ),
            ));
            return None;
        }
    };
    if attr != spec.version_attribute() {
        out.findings.push(finding(
            ids::VERSION_ATTRIBUTE,
            pointer,
            format!(
                "CDEvents {spec} carries the spec version in `context.{}`, not `context.{attr}`",
                spec.version_attribute()
            ),
        ));
    }
    Some(spec)
}

/// Well-formed and known type. Returns its schema, if one exists for it.
fn check_type<'r>(
    checker: &EventChecker<'r>,
    t: Option<&str>,
    out: &mut CheckedEvent,
) -> Option<TypeSchema<'r>> {
    let Some(t) = t else {
        // Without a type there is no schema to pick: say so here.
        if out.findings.iter().all(|f| f.pointer != "/context") {
            out.findings.push(finding(
                ids::TYPE_FORMAT,
                "/context/type",
                "`context.type` is missing or not a string",
            ));
        }
        return None;
    };
    let pointer = "/context/type";
    if let Some(rest) = t.strip_prefix("dev.cdeventsx.") {
        if !custom_type_ok(rest) {
            out.findings.push(finding(
                ids::CUSTOM_TYPE,
                pointer,
                format!(
                    "custom type {} is not of the form dev.cdeventsx.<tool>-<subject>.<predicate>.<major>.<minor>.<patch>",
                    quote(t)
                ),
            ));
        }
    } else if !standard_type_ok(t) {
        out.findings.push(finding(
            ids::TYPE_FORMAT,
            pointer,
            format!(
                "type {} is not of the form dev.cdevents.<subject>.<predicate>.<major>.<minor>.<patch>",
                quote(t)
            ),
        ));
        return None;
    }
    let spec = out.spec?;
    if let Ok(ts) = checker.registry.schema_of(spec, t) {
        return Some(ts);
    }
    let hint = t
        .strip_prefix("dev.cdevents.")
        .and_then(|rest| {
            let mut parts = rest.split('.');
            let (s, p) = (parts.next()?, parts.next()?);
            catalogue::for_version(spec).event_by_name(s, p)
        })
        .map(|e| format!("; CDEvents {spec} defines {}", e.type_name))
        .unwrap_or_default();
    out.findings.push(finding(
        ids::TYPE_KNOWN,
        pointer,
        format!("type {} is not defined by CDEvents {spec}{hint}", quote(t)),
    ));
    None
}

/// The `N` parts of `s` split at `sep`, or `None` when there are more or fewer (no `Vec`).
fn split_exact<const N: usize>(s: &str, sep: char) -> Option<[&str; N]> {
    let mut parts = [""; N];
    let mut it = s.split(sep);
    for p in &mut parts {
        *p = it.next()?;
    }
    it.next().is_none().then_some(parts)
}

fn standard_type_ok(t: &str) -> bool {
    let Some(parts) = split_exact::<7>(t, '.') else {
        return false;
    };
    parts[0] == "dev"
        && parts[1] == "cdevents"
        && parts[2..4]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
        && semver_core(&parts[4..])
}

/// `<tool>-<subject>.<predicate>.<major>.<minor>.<patch>` after `dev.cdeventsx.`.
fn custom_type_ok(rest: &str) -> bool {
    let Some(parts) = split_exact::<5>(rest, '.') else {
        return false;
    };
    let Some((tool, subject)) = parts[0].split_once('-') else {
        return false;
    };
    !tool.is_empty()
        && tool.chars().all(|c| c.is_ascii_alphanumeric())
        && !subject.is_empty()
        && subject.chars().all(|c| c.is_ascii_alphabetic())
        && !parts[1].is_empty()
        && parts[1].chars().all(|c| c.is_ascii_alphabetic())
        && semver_core(&parts[2..])
}

fn semver_core(parts: &[&str]) -> bool {
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Schema errors, each tied to the most specific requirement its location names.
fn schema(
    ts: TypeSchema<'_>,
    spec: SpecVersion,
    t: &str,
    ev: &Value,
    flagged_links: &std::collections::BTreeSet<usize>,
    out: &mut CheckedEvent,
) {
    let judged_link = |pointer: &str| {
        pointer
            .strip_prefix("/context/links/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|i| i.parse::<usize>().ok())
            .is_some_and(|i| flagged_links.contains(&i))
    };
    match ts.validate(ev) {
        Ok(verdict) => {
            // A version in the wrong attribute was reported as such (CDE-CTX-007): the
            // schema's "required" and "unexpected" errors about it say the same thing again.
            let wrong_attr = out
                .findings
                .iter()
                .any(|f| f.id == ids::VERSION_ATTRIBUTE)
                .then(|| {
                    let right = spec.version_attribute();
                    let wrong = if right == "version" {
                        "specversion"
                    } else {
                        "version"
                    };
                    (
                        format!("/context/{right}"),
                        format!("('{wrong}' was unexpected)"),
                    )
                });
            let restated = |e: &cdevents_schemas::SchemaError| {
                wrong_attr.as_ref().is_some_and(|(missing, unexpected)| {
                    (e.keyword == "required" && &e.pointer == missing)
                        || (e.keyword == "additionalProperties"
                            && e.message.contains(unexpected.as_str()))
                })
            };
            let custom = t.starts_with("dev.cdeventsx.");
            for e in verdict
                .errors
                .iter()
                .filter(|e| !judged_link(&e.pointer) && !restated(e))
            {
                let id = if custom && e.pointer == "/context/type" {
                    ids::CUSTOM_TYPE
                } else {
                    ids::for_schema_error(&e.pointer, &e.keyword)
                };
                out.findings.push(finding(
                    id,
                    e.pointer.clone(),
                    format!("{} (schema {})", e.message, verdict.schema_id),
                ));
            }
            if verdict.truncated > 0 {
                out.findings.push(finding(
                    ids::SCHEMA,
                    "",
                    format!("{} more schema errors not listed", verdict.truncated),
                ));
            }
        }
        Err(SchemaLookup::Compile { id, message }) => out.findings.push(finding(
            ids::SCHEMA,
            "",
            format!("cannot check: the schema {id} does not compile: {message}"),
        )),
        // Unknown types and versions were reported above.
        Err(_) => {}
    }
}

/// `context.source` and `subject.source` are URI-references by the spec text, also where an
/// official schema forgot the format (the test events). Reported only where the schema did not
/// already report that location.
fn sources(ctx_source: Option<&str>, subject_source: Option<&str>, out: &mut CheckedEvent) {
    for (pointer, id, found) in [
        ("/context/source", ids::SOURCE, ctx_source),
        ("/subject/source", ids::SUBJECT_SOURCE, subject_source),
    ] {
        let Some(s) = found else {
            continue;
        };
        if out.findings.iter().any(|f| f.pointer == pointer) {
            continue;
        }
        if s.is_empty() || !formats::is_valid(Format::UriReference, s) {
            out.findings.push(finding(
                id,
                pointer,
                format!("{} is not a non-empty URI-reference (RFC 3986)", quote(s)),
            ));
        }
    }
}

/// SHOULD-level advice on the context and subject.
fn recommendations(
    source: Option<&str>,
    subject_source: Option<&str>,
    chain_id: Option<&str>,
    out: &mut CheckedEvent,
) {
    if let Some(s) = source {
        let already = out.findings.iter().any(|f| f.pointer == "/context/source");
        if !already && !formats::is_valid(Format::Uri, s) {
            out.findings.push(finding(
                ids::SOURCE_ABSOLUTE,
                "/context/source",
                format!(
                    "{} is a relative reference; an absolute URI is recommended",
                    quote(s)
                ),
            ));
        }
    }
    if let (Some(s), Some(sub)) = (source, subject_source) {
        if s == sub {
            out.findings.push(finding(
                ids::SUBJECT_SOURCE_REPEATED,
                "/subject/source",
                "subject.source repeats context.source; leave it out",
            ));
        }
    }
    if let Some(c) = chain_id {
        if !c.is_empty() && !is_uuid(c) {
            out.findings.push(finding(
                ids::CHAIN_ID_UUID,
                "/context/chainId",
                format!("chainId {} is not a UUID", quote(c)),
            ));
        }
    }
}

/// `8-4-4-4-12` hexadecimal digits (RFC 4122 syntax; any version).
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_json_media_type(ct: &str) -> bool {
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// RFC 2046 `type/subtype[; parameters]`, with RFC 2045 token characters.
pub fn is_media_type(ct: &str) -> bool {
    let essence = ct.split(';').next().unwrap_or("").trim();
    // RFC 2045 tspecials; bytes, not chars: a non-ASCII byte is not graphic either way.
    let tok = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|b| {
                b.is_ascii_graphic()
                    && !matches!(
                        b,
                        b'(' | b')'
                            | b'<'
                            | b'>'
                            | b'@'
                            | b','
                            | b';'
                            | b':'
                            | b'\\'
                            | b'"'
                            | b'/'
                            | b'['
                            | b']'
                            | b'?'
                            | b'='
                    )
            })
    };
    match essence.split_once('/') {
        Some((t, s)) => tok(t) && tok(s),
        None => false,
    }
}

fn custom_data(ev: &Members<'_>, out: &mut CheckedEvent) {
    let ct_value = ev.custom_data_content_type;
    let ct = ct_value.and_then(Value::as_str);
    if let Some(ct) = ct {
        if !is_media_type(ct) {
            out.findings.push(finding(
                ids::CUSTOM_DATA_CONTENT_TYPE,
                "/customDataContentType",
                format!("{} is not an RFC 2046 media type (type/subtype)", quote(ct)),
            ));
        }
    }
    let Some(data) = ev.custom_data else {
        return;
    };
    // An unreadable content type was reported above; there is nothing to hold the data to.
    if ct.is_some_and(|c| !is_media_type(c)) {
        return;
    }
    let json = ct.is_none_or(is_json_media_type);
    match data {
        Value::String(s) => {
            if json {
                out.findings.push(finding(
                    ids::CUSTOM_DATA_ENCODING,
                    "/customData",
                    format!(
                        "customData of type {} must be embedded as JSON, not as a string",
                        ct.unwrap_or("application/json (the default)")
                    ),
                ));
            } else if !is_base64(s) {
                out.findings.push(finding(
                    ids::CUSTOM_DATA,
                    "/customData",
                    "customData given as a string must be base64 (RFC 4648, padded)",
                ));
            }
        }
        Value::Object(_) if !json => out.findings.push(finding(
            ids::CUSTOM_DATA_ENCODING,
            "/customData",
            format!(
                "customData of type {} must be base64 encoded into a string",
                ct.unwrap_or("")
            ),
        )),
        _ => {}
    }
}

/// Standard base64 with padding (RFC 4648); no whitespace, no non-zero trailing bits.
pub fn is_base64(s: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).is_ok()
}

fn schema_uri(
    resolver: &dyn super::SchemaUriResolver,
    uri: &str,
    ev: &Value,
    out: &mut CheckedEvent,
) {
    let pointer = "/context/schemaUri";
    let schema = match resolver.resolve(uri) {
        Ok(s) => s,
        Err(e) => {
            out.findings.push(finding(
                ids::SCHEMA_URI,
                pointer,
                format!(
                    "could not get the schema at {}: {e}; a consumer should then fail the event",
                    quote(uri)
                ),
            ));
            return;
        }
    };
    match cdevents_schemas::registry::compile_untrusted(&schema) {
        Ok(v) => {
            for e in v
                .iter_errors(ev)
                .take(cdevents_schemas::registry::MAX_ERRORS_PER_EVENT)
            {
                out.findings.push(finding(
                    ids::SCHEMA_URI,
                    e.instance_path().to_string(),
                    format!("{e} (schema at {})", quote(uri)),
                ));
            }
        }
        Err(e) => out.findings.push(finding(
            ids::SCHEMA_URI,
            pointer,
            format!("the schema at {} does not compile: {e}", quote(uri)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_shapes() {
        assert!(standard_type_ok("dev.cdevents.pipelinerun.finished.0.3.0"));
        assert!(!standard_type_ok("dev.cdevents.pipelinerun.finished.0.3"));
        assert!(!standard_type_ok(
            "dev.cdevents.pipeline run.finished.0.3.0"
        ));
        assert!(!standard_type_ok("com.example.pipelinerun.finished.0.3.0"));
        assert!(custom_type_ok("mytool-resource.created.0.1.0"));
        assert!(!custom_type_ok("mytool.resource.created.0.1.0"));
        assert!(!custom_type_ok("mytool-resource.created.0.1"));
    }

    #[test]
    fn uuids() {
        assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(is_uuid("ABCDEF01-2345-6789-abcd-ef0123456789"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-42661417400"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-4266141740000"));
        assert!(!is_uuid("123e4567e-89b-12d3-a456-426614174000"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-42661417400\u{e9}"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-426614174000-"));
        assert!(!is_uuid(""));
        assert_eq!(split_exact::<3>("a.b.c", '.'), Some(["a", "b", "c"]));
        assert_eq!(split_exact::<3>("a.b", '.'), None);
        assert_eq!(split_exact::<3>("a.b.c.d", '.'), None);
    }

    #[test]
    fn base64_and_media_types() {
        assert!(is_base64("PGRhdGE+Cg=="));
        assert!(is_base64(""));
        assert!(!is_base64("PGRhdGE+Cg="));
        assert!(!is_base64("not base64!"));
        assert!(is_media_type("application/xml"));
        assert!(is_media_type("application/json; charset=utf-8"));
        assert!(!is_media_type("xml"));
        assert!(!is_media_type("application/"));
        assert!(is_json_media_type("application/vnd.x+json"));
    }
}
