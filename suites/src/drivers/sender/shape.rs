//! The message-shape rules of the HTTP binding and the JSON format, judged per request on
//! what the sink kept raw: CE-HTTP-001 (binary attributes in `ce-` headers), CE-HTTP-012
//! (structured body), CE-HTTP-013 (structured attributes in the body), CE-HTTP-014 (batch
//! body), CE-HTTP-019 (`data` or `data_base64`), CDE-CE-016 (each attribute once).
//!
//! A request one of these rules explains (the decoder refused it for that reason) is left out
//! of WH-003, so that one mistake is reported once, under its own requirement.

use std::collections::HashSet;

use cdevents_reports::model::CaseResult;
use serde_json::Value;

use super::judge::{skipped, verdict};
use super::sink::{Delivery, NOT_VALIDATED, RECORDING_FULL};
use crate::checks::wire;
use crate::input::{BATCH_JSON, STRUCTURED_JSON};

type Problems<'a> = Vec<(String, Option<&'a Delivery>)>;

fn media(d: &Delivery) -> String {
    d.header("content-type")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The six cases, and the indices of the requests they explain.
pub(super) fn message_shape(deliveries: &[&Delivery]) -> (Vec<CaseResult>, HashSet<u64>) {
    let mut explained = HashSet::new();
    let (mut binary, mut structured, mut with_headers, mut batch) = (0, 0, 0, 0);
    let (mut p1, mut p12, mut p13, mut p14, mut p16, mut p19): (
        Problems,
        Problems,
        Problems,
        Problems,
        Problems,
        Problems,
    ) = Default::default();
    for d in deliveries {
        if d.refused.as_deref().is_some_and(|r| {
            r.starts_with(RECORDING_FULL) || r.starts_with(NOT_VALIDATED) || r.contains("cap")
        }) {
            continue;
        }
        let n = d.index;
        let m = media(d);
        let json_format = m == STRUCTURED_JSON || m == BATCH_JSON;
        if !m.starts_with("application/cloudevents") {
            binary += 1;
            for (h, attr) in wire::foreign_attribute_headers(&d.headers) {
                p1.push((
                    format!(
                        "request #{n}: the header {h} carries the attribute {attr} under another binding's prefix; on HTTP it is ce-{attr}"
                    ),
                    Some(*d),
                ));
            }
            if let Some(h) = wire::repeated_ce_header(&d.headers) {
                explained.insert(n);
                p16.push((
                    format!("request #{n}: the header {h} appears more than once"),
                    Some(*d),
                ));
            }
        }
        if json_format {
            if let Some(path) = wire::duplicate_member(&d.body) {
                p16.push((
                    format!("request #{n}: the JSON member {path} appears more than once"),
                    Some(*d),
                ));
            }
            if let Ok(v) = serde_json::from_slice::<Value>(&d.body) {
                for at in wire::data_and_data_base64(&v) {
                    explained.insert(n);
                    p19.push((
                        format!("request #{n}: the event at {at} has both data and data_base64"),
                        Some(*d),
                    ));
                }
            }
        }
        let undecoded = d.decode_errors.first().filter(|_| !explained.contains(&n));
        if m == STRUCTURED_JSON {
            structured += 1;
            if let Some(e) = undecoded.filter(|_| d.events.is_empty()) {
                explained.insert(n);
                p12.push((
                    format!("request #{n} has Content-Type {STRUCTURED_JSON} but its body is not one JSON-format event: {e}"),
                    Some(*d),
                ));
            }
            if d.headers
                .iter()
                .any(|(h, _)| h.to_ascii_lowercase().starts_with("ce-"))
            {
                with_headers += 1;
            }
            for e in &d.events {
                let Some(ce) = &e.envelope.ce else { continue };
                for h in wire::attributes_only_in_headers(&d.headers, ce) {
                    p13.push((
                        format!(
                            "request #{n} is in structured mode and has the header {h}, but its body has no {} attribute",
                            &h[3..]
                        ),
                        Some(*d),
                    ));
                }
            }
        } else if m == BATCH_JSON {
            batch += 1;
            if let Some(e) = undecoded {
                explained.insert(n);
                p14.push((
                    format!("request #{n} has Content-Type {BATCH_JSON} but its body is not a JSON array of JSON-format events: {e}"),
                    Some(*d),
                ));
            }
        }
    }
    let judged = |id: &str, count: usize, why: &str, pass: String, p: Problems| {
        if count == 0 {
            skipped(id, "", why)
        } else {
            verdict(id, "", &pass, p)
        }
    };
    let cases = vec![
        judged(
            "CE-HTTP-001",
            binary,
            "no binary-mode request",
            format!("{binary} binary-mode requests carried their attributes in ce- headers"),
            p1,
        ),
        judged(
            "CE-HTTP-012",
            structured,
            "no structured-mode request",
            format!("{structured} structured-mode requests carried one JSON-format event"),
            p12,
        ),
        judged(
            "CE-HTTP-013",
            with_headers,
            "no structured-mode request repeated attributes in ce- headers",
            format!(
                "{with_headers} structured-mode requests with ce- headers had every attribute in the body"
            ),
            p13,
        ),
        judged(
            "CE-HTTP-014",
            batch,
            "no batch-mode request",
            format!("{batch} batch-mode requests carried a JSON array of JSON-format events"),
            p14,
        ),
        judged(
            "CE-HTTP-019",
            structured + batch,
            "no JSON-format (structured or batch) request",
            format!(
                "no event of {} JSON-format requests had both data and data_base64",
                structured + batch
            ),
            p19,
        ),
        verdict(
            "CDE-CE-016",
            "",
            &format!(
                "no attribute of {} requests appeared twice (ce- headers, JSON members)",
                deliveries.len()
            ),
            p16,
        ),
    ];
    (cases, explained)
}
