//! The webhook profile for senders (`test sender --profile webhook [--token T]`): WH-016 (the
//! validation request names its origin), WH-017 (every delivery after a granted handshake
//! names the same origin) and WH-013 (a sender given a token sends it with every delivery).

use cdevents_reports::model::CaseResult;

use super::judge::{skipped, verdict};
use super::sink::{request_origin, Delivery, Recording};
use crate::drivers::listener::Secret;

/// Whether a delivery carries `token` as `Authorization: Bearer` or the `access_token` query
/// parameter (percent-decoded).
pub(super) fn carries_token(d: &Delivery, token: &str) -> bool {
    let bearer = d.headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("authorization")
            && std::str::from_utf8(v).is_ok_and(|v| {
                let v = v.trim();
                v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") && v[7..].trim() == token
            })
    });
    let query = reqwest::Url::parse(&format!("http://sink{}", d.path)).is_ok_and(|u| {
        u.query_pairs()
            .any(|(k, v)| k == "access_token" && v == token)
    });
    bearer || query
}

/// WH-016, WH-017 (judged in the webhook profile) and WH-013 (judged with a token).
pub(super) fn webhook_cases(
    rec: &Recording,
    deliveries: &[&Delivery],
    webhook: bool,
    token: Option<&str>,
) -> Vec<CaseResult> {
    let mut out = Vec::new();
    if !webhook {
        let why = "not the webhook profile (--profile webhook)";
        out.push(skipped("WH-016", "", why));
        out.push(skipped("WH-017", "", why));
    } else {
        let mut p16: Vec<(String, Option<&Delivery>)> = rec
            .handshakes
            .iter()
            .filter(|h| request_origin(h).is_none())
            .map(|h| {
                (
                    "the OPTIONS validation request has no WebHook-Request-Origin header".into(),
                    Some(h),
                )
            })
            .collect();
        if rec.handshakes.is_empty() {
            if let Some(d) = deliveries.first() {
                p16.push((
                    format!(
                        "the sink requires the validation handshake and no OPTIONS request came before request #{} (answered 403)",
                        d.index
                    ),
                    Some(*d),
                ));
            }
        }
        out.push(verdict(
            "WH-016",
            "",
            &format!(
                "{} validation requests named their origin",
                rec.handshakes.len()
            ),
            p16,
        ));
        match rec
            .handshakes
            .iter()
            .find_map(|h| request_origin(h).map(|o| (h, o)))
        {
            None => out.push(skipped(
                "WH-017",
                "",
                "no validation handshake was granted (see WH-016)",
            )),
            Some((h, origin)) => {
                let after: Vec<&&Delivery> = deliveries
                    .iter()
                    .filter(|d| d.received >= h.answered)
                    .collect();
                let p = after
                    .iter()
                    .filter_map(|d| {
                        let got = request_origin(d);
                        (got.as_deref() != Some(origin.as_str())).then(|| {
                            (
                                format!(
                                    "request #{} carries WebHook-Request-Origin {}, the granted handshake named {origin:?}",
                                    d.index,
                                    got.map_or_else(|| "(none)".to_owned(), |g| format!("{g:?}"))
                                ),
                                Some(**d),
                            )
                        })
                    })
                    .collect();
                out.push(verdict(
                    "WH-017",
                    "",
                    &format!(
                        "{} deliveries after the granted handshake named its origin {origin:?}",
                        after.len()
                    ),
                    p,
                ));
            }
        }
    }
    match token {
        None => out.push(skipped(
            "WH-013",
            "",
            "no access token was given (--token)",
        )),
        Some(t) => out.push(verdict(
            "WH-013",
            "",
            &format!(
                "{} deliveries carried the access token (Authorization: Bearer or access_token)",
                deliveries.len()
            ),
            deliveries
                .iter()
                .filter(|d| !carries_token(d, t))
                .map(|d| {
                    (
                        format!(
                            "request #{} carries the access token neither as Authorization: Bearer nor as access_token",
                            d.index
                        ),
                        Some(*d),
                    )
                })
                .collect(),
        )),
    }
    out
}

/// Every occurrence of the token in a case (message, actual, evidence) as `***`.
pub(super) fn redact(cases: &mut [CaseResult], token: &str) {
    let Some(s) = Secret::new(token) else {
        return;
    };
    for c in cases {
        c.message = s.redact(&c.message);
        c.actual = c.actual.as_deref().map(|a| s.redact(a));
        c.expected = c.expected.as_deref().map(|a| s.redact(a));
        if let Some(e) = &mut c.evidence {
            for m in [e.request.as_mut(), e.response.as_mut()]
                .into_iter()
                .flatten()
            {
                m.start_line = s.redact(&m.start_line);
                for (_, v) in &mut m.headers {
                    *v = s.redact(v);
                }
                m.body = s.redact(&m.body);
                m.body_base64 = None;
            }
        }
    }
}
