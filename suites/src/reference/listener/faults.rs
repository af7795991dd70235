//! The broken variants of the reference listener, each breaking one rule.

use std::fmt;
use std::str::FromStr;

/// One rule the reference listener breaks on purpose (`--fault NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Answers 202 to a body that is not JSON.
    AcceptInvalidJson,
    /// Answers 500 to a well-formed CloudEvent whose CDEvent is invalid.
    ServerErrorOnInvalidEvent,
    /// Reads every body as a binary-mode CDEvent whatever its Content-Type.
    IgnoreContentType,
    /// Refuses structured mode with 415.
    RejectStructured,
    /// After the first malformed request, never answers again.
    HangAfterMalformed,
    /// Answers 200 with an empty body to what it takes.
    Empty200,
    /// Refuses a second delivery of the same source and id with 409.
    RejectDuplicates,
    /// Refuses ce- header values percent-encoded with lower-case hex digits.
    StrictPercentDecoding,
    /// Takes ce- header values that percent-decode to invalid UTF-8 (decodes lossily).
    AcceptBadUtf8,
    /// Answers every fifth request 429 without Retry-After.
    NoRetryAfter,
    /// Answers a redelivery (a source and id seen before) with a 307 redirect.
    Redirect,
    /// Refuses bodies over 32 KiB with 413.
    Reject64k,
    /// Refuses dev.cdeventsx custom events.
    RejectCustom,
    /// Refuses events whose customData is a (base64) string rather than JSON.
    RejectOptionalParts,
    /// Answers 400 (not 413) to a body over its limit.
    BadRequestOnOversized,
    /// Answers 400 (not 415) to an unsupported media type.
    BadRequestOnUnsupported,
    /// Refuses a structured event with a JSON null attribute.
    RejectNullAttribute,
    /// Compares media types case-sensitively.
    CaseSensitiveMediaType,
    /// Refuses quoted-string ce- header values.
    RejectQuotedHeader,
    /// Does not forward every third event it takes (`--forward`).
    DropForwarded,
    /// Forwards events with another time (`--forward`).
    AlterForwarded,
    /// Forwards events without their extension attributes (`--forward`).
    StripExtensions,
    /// Forwards events it refused, too (`--forward`).
    ForwardRejected,
    /// Answers the webhook validation handshake with an origin other than the one asked for.
    HandshakeWrongOrigin,
    /// Grants the webhook validation handshake without WebHook-Allowed-Rate.
    HandshakeNoRate,
    /// Answers OPTIONS 404: no handshake, and not the 405 the spec names.
    Handshake404,
    /// Refuses ce- header values that percent-encode a letter or digit (`%41` for `A`).
    RejectNeedlessPercentEncoding,
    /// Answers 200 with a body but no Content-Type to what it takes.
    BodyWithoutContentType,
    /// With `--token`, takes the token only in the Authorization header, not as access_token.
    TokenHeaderOnly,
}

/// A `--fault` name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault `{0}`; `--fault list` prints them")]
pub struct UnknownFault(pub String);

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 29] = [
        Fault::AcceptInvalidJson,
        Fault::ServerErrorOnInvalidEvent,
        Fault::IgnoreContentType,
        Fault::RejectStructured,
        Fault::HangAfterMalformed,
        Fault::Empty200,
        Fault::RejectDuplicates,
        Fault::StrictPercentDecoding,
        Fault::AcceptBadUtf8,
        Fault::NoRetryAfter,
        Fault::Redirect,
        Fault::Reject64k,
        Fault::RejectCustom,
        Fault::RejectOptionalParts,
        Fault::BadRequestOnOversized,
        Fault::BadRequestOnUnsupported,
        Fault::RejectNullAttribute,
        Fault::CaseSensitiveMediaType,
        Fault::RejectQuotedHeader,
        Fault::DropForwarded,
        Fault::AlterForwarded,
        Fault::StripExtensions,
        Fault::ForwardRejected,
        Fault::HandshakeWrongOrigin,
        Fault::HandshakeNoRate,
        Fault::Handshake404,
        Fault::RejectNeedlessPercentEncoding,
        Fault::BodyWithoutContentType,
        Fault::TokenHeaderOnly,
    ];

    /// The `--fault` name.
    pub fn name(self) -> &'static str {
        match self {
            Fault::AcceptInvalidJson => "accept-invalid-json",
            Fault::ServerErrorOnInvalidEvent => "500-on-schema-invalid",
            Fault::IgnoreContentType => "ignore-content-type",
            Fault::RejectStructured => "reject-structured",
            Fault::HangAfterMalformed => "hang-after-malformed",
            Fault::Empty200 => "empty-200",
            Fault::RejectDuplicates => "reject-duplicates",
            Fault::StrictPercentDecoding => "strict-percent-decoding",
            Fault::AcceptBadUtf8 => "accept-bad-utf8",
            Fault::NoRetryAfter => "429-without-retry-after",
            Fault::Redirect => "redirect",
            Fault::Reject64k => "reject-64k",
            Fault::RejectCustom => "reject-custom",
            Fault::RejectOptionalParts => "reject-optional-parts",
            Fault::BadRequestOnOversized => "400-on-oversized",
            Fault::BadRequestOnUnsupported => "400-on-unsupported-media-type",
            Fault::RejectNullAttribute => "reject-null-attribute",
            Fault::CaseSensitiveMediaType => "case-sensitive-media-type",
            Fault::RejectQuotedHeader => "reject-quoted-header",
            Fault::DropForwarded => "drop-forwarded",
            Fault::AlterForwarded => "alter-forwarded",
            Fault::StripExtensions => "strip-extensions",
            Fault::ForwardRejected => "forward-rejected",
            Fault::HandshakeWrongOrigin => "handshake-wrong-origin",
            Fault::HandshakeNoRate => "handshake-no-rate",
            Fault::Handshake404 => "handshake-404",
            Fault::RejectNeedlessPercentEncoding => "reject-needless-percent-encoding",
            Fault::BodyWithoutContentType => "200-body-without-content-type",
            Fault::TokenHeaderOnly => "token-header-only",
        }
    }

    /// The requirements the fault breaks: the listener suite must fail each of them.
    pub fn breaks(self) -> &'static [&'static str] {
        match self {
            Fault::AcceptInvalidJson => &["LIS-004"],
            // An event that is JSON but no CDEvent (LIS-004's cases) gets the 500 too.
            Fault::ServerErrorOnInvalidEvent => &["LIS-005", "LIS-009", "LIS-004"],
            Fault::IgnoreContentType => &["WH-011"],
            // The structured variant of every case that must be taken fails too.
            Fault::RejectStructured => &[
                "LIS-001",
                "CE-HTTP-016",
                "CE-HTTP-017",
                "CE-HTTP-018",
                "LIS-002",
                "LIS-003",
                "LIS-008",
                "WH-006",
            ],
            Fault::HangAfterMalformed => &["LIS-006"],
            Fault::Empty200 => &["WH-006"],
            Fault::RejectDuplicates => &["LIS-007"],
            Fault::StrictPercentDecoding => &["CE-HTTP-006"],
            Fault::AcceptBadUtf8 => &["CE-HTTP-008"],
            Fault::NoRetryAfter => &["WH-009"],
            // The redelivery cases see the 307 instead of the 2xx they expect.
            Fault::Redirect => &["WH-004", "LIS-007"],
            Fault::Reject64k => &["LIS-008"],
            Fault::RejectCustom => &["LIS-002"],
            // Some generated events of the every-type cases carry base64 customData too.
            Fault::RejectOptionalParts => &["LIS-003", "LIS-001"],
            Fault::BadRequestOnOversized => &["WH-012"],
            Fault::BadRequestOnUnsupported => &["WH-011"],
            Fault::RejectNullAttribute => &["CE-HTTP-018"],
            Fault::CaseSensitiveMediaType => &["CDE-CE-018"],
            Fault::RejectQuotedHeader => &["CE-HTTP-009"],
            Fault::DropForwarded => &["LIS-010"],
            Fault::AlterForwarded => &["LIS-011"],
            Fault::StripExtensions => &["LIS-012"],
            Fault::ForwardRejected => &["LIS-013"],
            Fault::HandshakeWrongOrigin => &["WH-018"],
            Fault::HandshakeNoRate => &["WH-019"],
            // A 404 carries no Allow header either (WH-020, SHOULD).
            Fault::Handshake404 => &["WH-015", "WH-021", "WH-020"],
            Fault::RejectNeedlessPercentEncoding => &["CE-HTTP-007"],
            Fault::BodyWithoutContentType => &["WH-007"],
            Fault::TokenHeaderOnly => &["WH-014"],
        }
    }

    /// What the fault does, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Fault::AcceptInvalidJson => "answers 202 to a body that is not JSON",
            Fault::ServerErrorOnInvalidEvent => {
                "answers 500 to a well-formed CloudEvent whose CDEvent is invalid"
            }
            Fault::IgnoreContentType => "reads every body as JSON whatever its Content-Type",
            Fault::RejectStructured => "refuses structured mode with 415",
            Fault::HangAfterMalformed => "never answers again after the first malformed request",
            Fault::Empty200 => "answers 200 with an empty body to what it takes",
            Fault::RejectDuplicates => "refuses a repeated source and id with 409",
            Fault::StrictPercentDecoding => "refuses lower-case hex in ce- header percent-encoding",
            Fault::AcceptBadUtf8 => "decodes ce- headers lossily instead of refusing invalid UTF-8",
            Fault::NoRetryAfter => "answers every fifth request 429 without Retry-After",
            Fault::Redirect => "answers a redelivery with a 307 redirect",
            Fault::Reject64k => "refuses bodies over 32 KiB with 413",
            Fault::RejectCustom => "refuses dev.cdeventsx custom events with 400",
            Fault::RejectOptionalParts => "refuses events whose customData is a base64 string",
            Fault::BadRequestOnOversized => "answers 400, not 413, to a body over its limit",
            Fault::BadRequestOnUnsupported => "answers 400, not 415, to an unsupported media type",
            Fault::RejectNullAttribute => "refuses a structured event with a JSON null attribute",
            Fault::CaseSensitiveMediaType => "compares media types case-sensitively",
            Fault::RejectQuotedHeader => "refuses quoted-string ce- header values",
            Fault::DropForwarded => "does not forward every third event it takes (--forward)",
            Fault::AlterForwarded => "forwards events with another time attribute (--forward)",
            Fault::StripExtensions => {
                "forwards events without their extension attributes (--forward)"
            }
            Fault::ForwardRejected => "forwards the events it refused, too (--forward)",
            Fault::HandshakeWrongOrigin => {
                "grants the OPTIONS handshake to an origin other than the one asked for"
            }
            Fault::HandshakeNoRate => {
                "grants the OPTIONS handshake without WebHook-Allowed-Rate when a rate was asked"
            }
            Fault::Handshake404 => "answers the OPTIONS handshake 404",
            Fault::RejectNeedlessPercentEncoding => {
                "refuses ce- header values that percent-encode a letter or digit (%41)"
            }
            Fault::BodyWithoutContentType => {
                "answers 200 with a body but no Content-Type to what it takes"
            }
            Fault::TokenHeaderOnly => {
                "with --token, ignores the access_token query parameter (401 without the header)"
            }
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = UnknownFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFault(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_requirements_exist() {
        for f in Fault::ALL {
            assert_eq!(f.name().parse::<Fault>(), Ok(f));
            for id in f.breaks() {
                assert!(
                    crate::requirements::Catalogue::embedded().get(id).is_some(),
                    "{id}"
                );
            }
        }
        assert!("nope".parse::<Fault>().is_err());
    }
}
