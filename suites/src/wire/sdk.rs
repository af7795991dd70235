//! Well-formed events encoded by the CloudEvents Rust SDK (`cloudevents-sdk`), as the SIG asks
//! of reference tooling: the SDK builds the event and writes the binary-mode headers (through
//! its reqwest binding) or the structured-mode JSON; the bytes it produced are kept as a
//! [`WireRequest`], so reports show and curl replays exactly what was sent.
//!
//! The SDK cannot express everything the kit sends: it does not percent-encode header values
//! (HTTP binding 3.1.3), it rewrites `time` in its own RFC 3339 form, and it has no batch
//! writer for requests built offline. [`sdk_encode`] therefore decodes what the SDK wrote with
//! the kit's own decoder and gives it up (`None`) unless it is the same event; the caller then
//! uses the kit's encoder.

use std::sync::OnceLock;

use cloudevents::binding::reqwest::RequestBuilderExt;
use cloudevents::{EventBuilder, EventBuilderV10};
use serde_json::Value;

use super::encode::{ce_attributes_for, Mode, WireRequest, STRUCTURED_CONTENT_TYPE};
use crate::input::{decode_http_body, CeAttributes, Limits, Location};

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

/// The event encoded by the SDK in `mode` (binary or structured), when the SDK writes the same
/// CloudEvent the kit means: same attributes (time as the same text), same data.
pub fn sdk_encode(mode: Mode, cdevent: &Value) -> Option<WireRequest> {
    let ce = ce_attributes_for(cdevent);
    let mut b = EventBuilderV10::new()
        .id(ce.id.clone()?)
        .source(ce.source.clone()?)
        .ty(ce.type_.clone()?)
        .data("application/json", cdevent.clone());
    if let Some(s) = &ce.subject {
        b = b.subject(s.clone());
    }
    if let Some(t) = &ce.time {
        b = b.time(t.clone());
    }
    if ce.dataschema.is_some() || !ce.extensions.is_empty() {
        return None;
    }
    let event = b.build().ok()?;
    let req = match mode {
        Mode::Binary => {
            let built = client()
                .post("http://127.0.0.1/")
                .event(event)
                .ok()?
                .build()
                .ok()?;
            let headers = built
                .headers()
                .iter()
                .map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect::<Option<Vec<_>>>()?;
            let body = built.body()?.as_bytes()?.to_vec();
            WireRequest {
                method: "POST".into(),
                headers,
                body,
            }
        }
        Mode::Structured => WireRequest {
            method: "POST".into(),
            headers: vec![("content-type".into(), STRUCTURED_CONTENT_TYPE.into())],
            body: serde_json::to_vec(&event).ok()?,
        },
        Mode::Batch => return None,
    };
    faithful(&req, &ce, cdevent).then_some(req)
}

/// Whether `req` decodes to exactly the CloudEvent `ce` carrying `cdevent`.
fn faithful(req: &WireRequest, ce: &CeAttributes, cdevent: &Value) -> bool {
    let headers: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
        .collect();
    let items = decode_http_body(
        &headers,
        &req.body,
        Location::file("sdk"),
        &Limits::default(),
    );
    let [item] = items.as_slice() else {
        return false;
    };
    let Ok(env) = &item.result else { return false };
    let Some(got) = &env.ce else { return false };
    got.specversion.as_deref() == Some("1.0")
        && got.id == ce.id
        && got.source == ce.source
        && got.type_ == ce.type_
        && got.subject == ce.subject
        && got.time == ce.time
        && got.extensions.is_empty()
        && env.cdevent == *cdevent
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators::sample;
    use cdevents_schemas::{catalogue, SpecVersion};

    #[test]
    fn the_sdk_encodes_most_generated_events_faithfully() {
        let cat = catalogue::for_version(SpecVersion::DEFAULT);
        let mut taken = 0;
        for def in &cat.events {
            let Ok(ev) = sample(SpecVersion::DEFAULT, &def.type_name, 0) else {
                continue;
            };
            for mode in [Mode::Binary, Mode::Structured] {
                if let Some(req) = sdk_encode(mode, &ev) {
                    taken += 1;
                    assert!(req.header("content-type").is_some());
                }
            }
        }
        assert!(taken > 0, "the SDK encoded no event faithfully");
        // Batch mode is not the SDK's here; a time in another form is refused by the check.
        let ev = sample(SpecVersion::DEFAULT, &cat.events[0].type_name, 0).expect("event");
        assert!(sdk_encode(Mode::Batch, &ev).is_none());
    }
}
