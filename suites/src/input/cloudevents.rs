//! CloudEvents in the JSON event format: attributes, `data` and `data_base64`.

use serde_json::{Map, Value};

use super::json::{kind, parse_json};
use super::model::{CeAttributes, ContentMode, Envelope, InputError, Limits};

/// The envelope of one CloudEvent in the JSON event format. `data` is the CDEvent;
/// `data_base64` is decoded and parsed as JSON. A `null` attribute (or `data_base64`) counts
/// as absent; a `null` `data` is a `null` CDEvent, for the checks to judge.
pub(crate) fn from_json_event(
    mut object: Map<String, Value>,
    mode: ContentMode,
    content_type: Option<String>,
    limits: &Limits,
) -> Result<Envelope, InputError> {
    let data = object.remove("data");
    let data_base64 = object.remove("data_base64").filter(|v| !v.is_null());
    if data.is_none() && data_base64.is_none() {
        let hint = if object.contains_key("context") {
            " (it has `context`: is it a bare CDEvent sent as a CloudEvent?)"
        } else {
            ""
        };
        return Err(InputError::CloudEvents(format!(
            "the event has no `data`{hint}; the CDEvent must be the CloudEvent's `data`"
        )));
    }
    let mut ce = CeAttributes::default();
    for (name, value) in object {
        let Some(slot) = ce.known_mut(&name) else {
            if !value.is_null() {
                ce.extensions.insert(name, value);
            }
            continue;
        };
        *slot = match value {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => {
                return Err(InputError::CloudEvents(format!(
                    "the attribute `{name}` is {}; CloudEvents attributes of the JSON format \
                     are JSON strings",
                    kind(&other)
                )))
            }
        };
    }
    let (cdevent, base64) = match (data, data_base64) {
        (Some(_), Some(_)) => {
            return Err(InputError::CloudEvents(
                "the event has both `data` and `data_base64`; carry the CDEvent in one of them"
                    .into(),
            ))
        }
        (None, Some(Value::String(text))) => (decode_data_base64(&text, limits)?, true),
        (None, Some(other)) => {
            return Err(InputError::CloudEvents(format!(
                "`data_base64` is {}; it must be a base64 string",
                kind(&other)
            )))
        }
        (data, _) => (data.unwrap_or_default(), false),
    };
    Ok(Envelope {
        mode,
        ce: Some(ce),
        content_type,
        cdevent,
        raw_data_was_base64: base64,
    })
}

fn decode_data_base64(text: &str, limits: &Limits) -> Result<Value, InputError> {
    if text.len() / 4 * 3 > limits.max_event_bytes {
        return Err(InputError::TooLarge {
            what: "`data_base64`",
            limit: limits.max_event_bytes,
        });
    }
    let bytes = decode_base64(text)
        .map_err(|e| InputError::CloudEvents(format!("`data_base64` is not valid base64: {e}")))?;
    parse_json(&bytes, limits).map_err(|e| match e {
        InputError::NotJson { .. } | InputError::NotUtf8 { .. } | InputError::Empty(_) => {
            InputError::CloudEvents(format!(
                "`data_base64` does not decode to a JSON CDEvent: {e}"
            ))
        }
        other => other,
    })
}

/// Decodes standard base64 (RFC 4648 §4); the `=` padding may be left out.
pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    // A receiver is liberal about the `=` padding, strict about everything else.
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(text).map_err(|e| format!("not base64: {e}"))
}
