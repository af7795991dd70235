//! The string formats of the schemas as plain predicates, for the semantic checks that the
//! schemas leave out (e.g. `source` of the test events). They use the very validators the
//! schemas use, so a schema verdict and a semantic verdict can never disagree on a format.

use std::cell::RefCell;
use std::sync::OnceLock;

use jsonschema::{Draft, Validator};
use serde_json::{json, Value};

use crate::catalogue::Format;

fn validator(format: Format) -> &'static Validator {
    static URI: OnceLock<Validator> = OnceLock::new();
    static URI_REF: OnceLock<Validator> = OnceLock::new();
    static DATE_TIME: OnceLock<Validator> = OnceLock::new();
    let cell = match format {
        Format::Uri => &URI,
        Format::UriReference => &URI_REF,
        Format::DateTime => &DATE_TIME,
    };
    cell.get_or_init(|| {
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .build(&json!({ "type": "string", "format": format.as_str() }))
            // A two-keyword literal schema: it compiles or the jsonschema crate is broken.
            .unwrap_or_else(|e| panic!("format validator for {}: {e}", format.as_str()))
    })
}

/// Whether `s` has the format.
///
/// The validators take a `Value`: the string is copied into one kept per thread instead of a
/// new `Value::String` per call (a `malloc`/`free` pair saved on every check).
pub fn is_valid(format: Format, s: &str) -> bool {
    // Longer strings than this get their own `Value`, so the kept one stays small.
    const KEEP: usize = 4096;
    thread_local! {
        static SCRATCH: RefCell<Value> = const { RefCell::new(Value::String(String::new())) };
    }
    if s.len() > KEEP {
        return validator(format).is_valid(&Value::from(s));
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => {
            if let Value::String(buf) = &mut *v {
                buf.clear();
                buf.push_str(s);
            } else {
                *v = Value::from(s);
            }
            validator(format).is_valid(&v)
        }
        Err(_) => validator(format).is_valid(&Value::from(s)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_valid(Format::UriReference, "/event/source/123"));
        assert!(is_valid(Format::UriReference, "https://ci.example/x?y=1"));
        assert!(!is_valid(Format::UriReference, "has space"));
        assert!(is_valid(Format::Uri, "https://example.com/x"));
        assert!(!is_valid(Format::Uri, "/relative"));
        assert!(is_valid(Format::DateTime, "2023-03-20T14:27:05.315384Z"));
        assert!(is_valid(Format::DateTime, "2023-03-20T14:27:05+01:00"));
        assert!(!is_valid(Format::DateTime, "2023-03-20 14:27"));
        assert!(!is_valid(Format::DateTime, "2023-03-20T14:27:05"));
        // The kept string is overwritten each call, and long strings bypass it.
        let long = format!("https://example.com/{}", "a".repeat(5000));
        assert!(is_valid(Format::Uri, &long));
        assert!(!is_valid(Format::Uri, &format!("{long} x")));
        assert!(!is_valid(Format::Uri, "/relative"));
        assert!(is_valid(Format::UriReference, "/relative"));
    }
}
