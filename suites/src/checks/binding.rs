//! The CDEvents CloudEvents binding and the CloudEvents attribute rules it relies on.
//!
//! Judged only for events that arrived as CloudEvents (structured, binary or batch mode).

use cdevents_schemas::catalogue::Format;
use cdevents_schemas::formats;
use serde_json::Value;

use super::ids;
use super::{finding, quote, CheckedEvent};
use crate::input::{ContentMode, Envelope};

pub(super) fn check(env: &Envelope, out: &mut CheckedEvent) {
    let Some(ce) = &env.ce else {
        return;
    };
    let ev = &env.cdevent;
    let header = |attr: &str| match env.mode {
        ContentMode::Binary => format!("ce-{attr}"),
        _ => attr.to_owned(),
    };

    // Required CloudEvents attributes.
    for (attr, value) in [
        ("id", &ce.id),
        ("source", &ce.source),
        ("specversion", &ce.specversion),
        ("type", &ce.type_),
    ] {
        match value {
            None => out.findings.push(finding(
                ids::CE_REQUIRED,
                "",
                format!("the CloudEvents attribute `{}` is missing", header(attr)),
            )),
            Some(v) if v.is_empty() => out.findings.push(finding(
                ids::CE_REQUIRED,
                "",
                format!("the CloudEvents attribute `{}` is empty", header(attr)),
            )),
            Some(_) => {}
        }
    }
    if let Some(v) = &ce.specversion {
        if v != "1.0" {
            out.findings.push(finding(
                ids::CE_SPECVERSION,
                "",
                format!(
                    "`{}` is {}, it must be \"1.0\"",
                    header("specversion"),
                    quote(v)
                ),
            ));
        }
    }

    // The attributes that must repeat the CDEvent.
    let same =
        |attr: &str, ce_value: &Option<String>, pointer: &str, id: &str, out: &mut CheckedEvent| {
            let cde = super::at(ev, pointer).and_then(Value::as_str);
            match (ce_value, cde) {
                (Some(c), Some(d)) if c == d => {}
                // An empty attribute was reported as missing (CDE-CE-001).
                (Some(c), _) if c.is_empty() => {}
                (Some(c), Some(d)) => out.findings.push(finding(
                    id,
                    pointer,
                    format!(
                        "`{}` is {} but the CDEvent's {pointer} is {}",
                        header(attr),
                        quote(c),
                        quote(d)
                    ),
                )),
                (None, Some(d)) if attr == "subject" => out.findings.push(finding(
                    id,
                    pointer,
                    format!(
                        "`{}` is missing; it must be the CDEvent's subject id {}",
                        header(attr),
                        quote(d)
                    ),
                )),
                // A missing required attribute was reported above; a missing CDEvent field by the schema.
                _ => {}
            }
        };
    same("id", &ce.id, "/context/id", ids::CE_ID, out);
    same("source", &ce.source, "/context/source", ids::CE_SOURCE, out);
    same("type", &ce.type_, "/context/type", ids::CE_TYPE, out);
    same("subject", &ce.subject, "/subject/id", ids::CE_SUBJECT, out);
    time(ce.time.as_deref(), ev, &header("time"), out);

    // The content type of the data.
    match env.mode {
        ContentMode::Binary => {
            let ct = env
                .content_type
                .as_deref()
                .or(ce.datacontenttype.as_deref());
            if !ct.is_some_and(is_application_json) {
                out.findings.push(finding(
                    ids::CE_CONTENT_TYPE,
                    "",
                    format!(
                        "in binary mode the Content-Type must be application/json, it is {}",
                        ct.map(quote).unwrap_or_else(|| "missing".into())
                    ),
                ));
            }
        }
        ContentMode::Structured | ContentMode::Batch => {
            // Absent `datacontenttype` means JSON in the JSON event format: both are accepted.
            if let Some(ct) = &ce.datacontenttype {
                if !is_application_json(ct) {
                    out.findings.push(finding(
                        ids::CE_CONTENT_TYPE,
                        "",
                        format!(
                            "`datacontenttype` must be application/json, it is {}",
                            quote(ct)
                        ),
                    ));
                }
            }
        }
        ContentMode::Bare => {}
    }

    // The data must be the CDEvent itself, as JSON.
    if env.raw_data_was_base64 {
        out.findings.push(finding(
            ids::CE_DATA,
            "",
            "the CDEvent is carried base64-encoded in `data_base64`; it must be the JSON value of `data`",
        ));
    } else if env.cdevent.is_string() {
        out.findings.push(finding(
            ids::CE_DATA,
            "",
            "the data is a JSON string; the CDEvent must be carried as a JSON object, not as text",
        ));
    }
    if let Some(ds) = &ce.dataschema {
        if ds.is_empty() || !formats::is_valid(Format::Uri, ds) {
            out.findings.push(finding(
                ids::CE_DATASCHEMA,
                "",
                format!(
                    "`{}` {} is not an absolute URI",
                    header("dataschema"),
                    quote(ds)
                ),
            ));
        }
    }
    extensions(env, out);

    // Attribute naming and formats of the CloudEvents core.
    for name in ce.extensions.keys() {
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !ok {
            out.findings.push(finding(
                ids::CE_ATTRIBUTE_NAME,
                "",
                format!(
                    "CloudEvents attribute name {} must be lower-case letters and digits only",
                    quote(name)
                ),
            ));
        }
    }
    if let Some(src) = &ce.source {
        if !src.is_empty() && !formats::is_valid(Format::UriReference, src) {
            out.findings.push(finding(
                ids::CE_SOURCE_FORMAT,
                "",
                format!(
                    "`{}` {} is not a URI-reference",
                    header("source"),
                    quote(src)
                ),
            ));
        }
    }
}

/// Extension names and values (CloudEvents type system; `sequence`).
fn extensions(env: &Envelope, out: &mut CheckedEvent) {
    let Some(ce) = &env.ce else {
        return;
    };
    for (name, value) in &ce.extensions {
        if name == "data" {
            out.findings.push(finding(
                ids::CE_NO_DATA_ATTRIBUTE,
                "",
                "no CloudEvents attribute may be named `data`",
            ));
            continue;
        }
        let shape_ok = name.len() <= 20 && name.starts_with(|c: char| c.is_ascii_lowercase());
        if !shape_ok {
            out.findings.push(finding(
                ids::CE_ATTRIBUTE_NAME_SHAPE,
                "",
                format!(
                    "attribute name {} should start with a letter and be at most 20 characters",
                    quote(name)
                ),
            ));
        }
        let value_ok = match value {
            Value::String(s) => !s.chars().any(|c| {
                c.is_control()
                    || matches!(c as u32, 0xFDD0..=0xFDEF)
                    || (c as u32 & 0xFFFE) == 0xFFFE
            }),
            Value::Bool(_) => true,
            Value::Number(n) => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
            Value::Null => true,
            Value::Array(_) | Value::Object(_) => false,
        };
        if !value_ok {
            out.findings.push(finding(
                ids::CE_ATTRIBUTE_VALUE,
                "",
                format!(
                    "attribute {} has a value that is not a CloudEvents type (string without control characters, 32-bit integer, boolean)",
                    quote(name)
                ),
            ));
        }
        if name == "sequence" && value.as_str().is_none_or(str::is_empty) {
            out.findings.push(finding(
                ids::CE_SEQUENCE,
                "",
                "the `sequence` extension must be a non-empty string",
            ));
        }
    }
}

/// `time` must be the CDEvent's `timestamp`. The same instant written differently (`Z` or
/// `+00:00`, more or fewer fraction digits) is accepted: SDKs re-render timestamps.
fn time(ce_time: Option<&str>, ev: &Value, attr: &str, out: &mut CheckedEvent) {
    let pointer = "/context/timestamp";
    let ts = super::at(ev, pointer).and_then(Value::as_str);
    let Some(t) = ce_time else {
        if let Some(ts) = ts {
            out.findings.push(finding(
                ids::CE_TIME,
                pointer,
                format!(
                    "`{attr}` is missing; it must be the CDEvent's timestamp {}",
                    quote(ts)
                ),
            ));
        }
        return;
    };
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    let Some(parsed) = parse(t).filter(|_| formats::is_valid(Format::DateTime, t)) else {
        out.findings.push(finding(
            ids::CE_TIME_FORMAT,
            "",
            format!("`{attr}` {} is not an RFC 3339 timestamp", quote(t)),
        ));
        return;
    };
    if let Some(ts) = ts {
        let same = t == ts || parse(ts).is_some_and(|p| p == parsed);
        if !same {
            out.findings.push(finding(
                ids::CE_TIME,
                pointer,
                format!(
                    "`{attr}` is {} but the CDEvent's timestamp is {}",
                    quote(t),
                    quote(ts)
                ),
            ));
        }
    }
}

/// `application/json`, parameters (e.g. `charset=utf-8`) and case aside.
pub fn is_application_json(ct: &str) -> bool {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/json")
}
