//! What the suites find in the SDK, each explained once, with the evidence that detects it.
//!
//! The test asserts that every finding below is still observed (a fixed SDK release shows up
//! as a failing test that names the finding to retire) and that every case the suites failed
//! is explained by one of them (a new failure is never silently accepted).

use cdevents_reports::model::CaseResult;

/// Which run a finding is seen in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The sender suite against an SDK sender (any mode).
    SdkSender,
    /// The listener suite against the SDK listener.
    SdkListener,
    /// The sender suite judging what the SDK listener forwards.
    RoundTrip,
}

/// Whose the fault is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The SDK breaks a rule of the spec.
    Nonconformance,
    /// The spec's prose and its schemas disagree, and the SDK and the kit follow different ones.
    Disagreement,
}

impl Kind {
    /// In words, for the doc.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Nonconformance => "nonconformance of the SDK",
            Kind::Disagreement => {
                "the spec disagrees with itself (prose against schema); not counted against the SDK"
            }
        }
    }
}

/// One finding against the SDK.
pub struct Finding {
    /// Short key, used in the doc's anchors and the test's messages.
    pub key: &'static str,
    /// The kit's requirement ids that report it (today's and the one it belongs under).
    pub requirements: &'static [&'static str],
    /// Where it is seen.
    pub seen: Seen,
    /// What kind of finding it is.
    pub kind: Kind,
    /// Fragments of the case ids that show it (a case id contains one of them).
    pub cases: &'static [&'static str],
    /// Words the failing case's message or answer contains.
    pub evidence: &'static str,
    /// Words of a listener's refusal in the sender × listener matrix that this finding
    /// explains (empty: not seen there).
    pub in_matrix: &'static [&'static str],
    /// Which crate is responsible, and where in its source.
    pub culprit: &'static str,
    /// A one-line title.
    pub title: &'static str,
    /// The explanation, with the spec reference (Markdown).
    pub explanation: &'static str,
}

impl Finding {
    /// Whether `c` (a not-passed case of a run where this finding is seen) shows it.
    pub fn matches(&self, c: &CaseResult) -> bool {
        let id_ok = self.requirements.contains(&c.requirement.as_str());
        let case_ok = self.cases.iter().any(|p| c.case.contains(p));
        let text = format!("{} {}", c.message, c.actual.as_deref().unwrap_or(""));
        // `evidence` lists alternatives separated by `|`.
        id_ok && case_ok && self.evidence.split('|').any(|e| text.contains(e))
    }

    /// Whether the finding can show where `seen` looks. The SDK listener forwards with the same
    /// cloudevents-sdk binding the SDK sender sends with, so the binding's findings show in the
    /// round trip too.
    pub fn seen_in(&self, seen: Seen) -> bool {
        self.seen == seen || (seen == Seen::RoundTrip && self.key == "header-not-percent-encoded")
    }
}

/// The finding that explains a refusal of the matrix, if any.
pub fn explaining_refusal(reason: &str) -> Option<&'static Finding> {
    FINDINGS
        .iter()
        .find(|f| f.in_matrix.iter().any(|w| reason.contains(w)))
}

/// Every finding, in the order the doc lists them.
pub const FINDINGS: &[Finding] = &[
    Finding {
        key: "specversion-0.5.0",
        requirements: &["CDE-CTX-006"],
        seen: Seen::SdkSender,
        kind: Kind::Nonconformance,
        cases: &["CDE-CTX-006"],
        evidence: "spec version \"0.5.0\"",
        in_matrix: &["CDE-CTX-006 at /context/specversion"],
        culprit:
            "cdevents-sdk: `src/context.rs` (`Context_0_5::new` writes `specversion: \"0.5.0\"`)",
        title: "Events of the 0.5.1 types carry `specversion` \"0.5.0\"",
        explanation: "The SDK builds the `spec_0_5_1` types (`pipelinerun.queued.0.3.0`, \
`service.deployed.0.3.0`…) but stamps their context with `\"specversion\": \"0.5.0\"`. The \
spec's context attribute is \"the version of the CDEvents specification which the event uses\" \
(spec.md, *specversion*), and every conformance example of release 0.5.1 carries `\"0.5.1\"`. A \
consumer that picks its schemas by `specversion`, as the kit and its reference listener do, \
cannot place the event: the kit reports CDE-CTX-006 (MUST) and the reference listener refuses the \
event with 400. No release 0.5.0 appears in the 0.5.1 release's text, schemas or examples. The 0.4.1 and 0.3.0 events the SDK builds carry their own release number and pass.",
    },
    Finding {
        key: "header-not-percent-encoded",
        requirements: &["WH-003", "CE-HTTP-004", "SND-015"],
        seen: Seen::SdkSender,
        kind: Kind::Nonconformance,
        cases: &["WH-003", "CE-HTTP-004", "SND-015"],
        evidence: "percent-encod|(write %|never arrived",
        in_matrix: &["invalid percent-encoding"],
        culprit: "cloudevents-sdk 0.9 (the binding behind cdevents-sdk's `cloudevents` feature): \
`src/binding/reqwest/client_request.rs` writes attribute values into `ce-` headers as they are",
        title: "Binary mode: `ce-` header values are not percent-encoded",
        explanation:
            "The CloudEvents HTTP binding (3.1.3.2, *HTTP Header Values*) says string values \
represented as HTTP header values MUST be percent-encoded: space, `\"`, `%` and every character \
outside printable ASCII. The SDK sender's event with subject id `build 8 (50%)` arrives as \
`ce-subject: build 8 (50%)`; a receiver that decodes as the binding says finds `%)`, which is no \
percent-encoding, and must refuse the request (the sink answers 400, the reference listener too). \
The kit reports it under CE-HTTP-004, judged on the raw header bytes, and the events of the \
refused requests as never arrived (SND-015). Structured and batch mode carry the same event in the JSON body and pass.",
    },
    Finding {
        key: "deny-unknown-fields",
        requirements: &["LIS-001"],
        seen: Seen::SdkListener,
        kind: Kind::Nonconformance,
        cases: &["/testcaserun.", "/testsuiterun."],
        evidence: "unknown field",
        in_matrix: &[],
        culprit: "cdevents-sdk: every generated type is `#[serde(deny_unknown_fields)]` \
(e.g. `src/generated/testcaserun_queued_0_3_0.rs`, `ContentTrigger`)",
        title: "Schema-valid events with extra members in open objects are refused",
        explanation: "Where the official schema leaves an object open (no `additionalProperties: \
false`), e.g. `subject.content.trigger` of `testcaserun.queued.0.3.0` in \
`schemas/testcaserunqueued.json` of 0.5.1, an event with an extra member (`x-note`) is valid. The \
SDK's types deny unknown fields, so `CDEvent::try_from` fails and the listener refuses a valid \
event (LIS-001: a listener takes every valid event of the versions it claims). Events whose schema \
objects are closed are not affected.",
    },
    Finding {
        key: "no-percent-decoding",
        requirements: &["CE-HTTP-008"],
        seen: Seen::SdkListener,
        kind: Kind::Nonconformance,
        cases: &["CE-HTTP-008/"],
        evidence: "was taken",
        in_matrix: &[],
        culprit: "cloudevents-sdk 0.9: `src/binding/http/deserializer.rs` reads `ce-` header \
values as they are, with no percent-decoding",
        title: "Binary mode: `ce-` header values are not percent-decoded",
        explanation:
            "The HTTP binding (3.1.3.2) says a receiver percent-decodes header values and \
that \"encoded byte sequences which are invalid in UTF-8 MUST be rejected\". The SDK listener \
takes `ce-subject: %C0%A0` (an overlong, invalid UTF-8 sequence) with 202, because the binding \
never decodes: a correctly encoded `ce-subject: caf%C3%A9` is also read as the literal \
`caf%C3%A9`, which no status code shows but every CloudEvents attribute with a space, a quote, \
a `%` or a non-ASCII character suffers. (The CDEvent itself is read from the body and is not \
affected.)",
    },
    Finding {
        key: "text-plain-taken",
        requirements: &["WH-011"],
        seen: Seen::SdkListener,
        kind: Kind::Nonconformance,
        cases: &["/binary/text-plain"],
        evidence: "HTTP 202",
        in_matrix: &[],
        culprit: "cdevents-sdk: `src/cloudevents.rs`, `TryFrom<Data> for CDEvent` reads the data \
as JSON whatever its `datacontenttype`",
        title: "Binary mode: a `text/plain` body is parsed as a CDEvent",
        explanation: "http-webhook 2.2: a delivery in a format the service does not understand \
MUST be answered 415 Unsupported Media Type. A binary-mode request with `ce-` headers and \
`Content-Type: text/plain` is taken (202): cloudevents-sdk hands over the body as \
`Data::Binary`, and the SDK parses it with `serde_json::from_slice` without looking at the \
declared content type, while the CDEvents binding carries a CDEvent as `application/json` data.",
    },
    Finding {
        key: "400-not-415",
        requirements: &["WH-011"],
        seen: Seen::SdkListener,
        kind: Kind::Nonconformance,
        cases: &["/structured/avro", "/text-plain"],
        evidence: "Wrong encoding",
        in_matrix: &["400: Wrong encoding"],
        culprit: "cloudevents-sdk 0.9: `src/binding/axum/extract.rs` answers every rejection \
with 400",
        title: "Unsupported formats are answered 400, not 415",
        explanation: "http-webhook 2.2 asks for 415 Unsupported Media Type when the format is not \
understood (`application/cloudevents+avro`, a `text/plain` body without `ce-` headers). The \
axum extractor of the CloudEvents SDK maps every error (`Wrong encoding`) to 400 Bad Request, \
which tells the sender the request itself is wrong rather than its format unsupported. The \
same 400 answers every batch in the matrix: batched mode is optional for a receiver (HTTP \
binding 3.3), but one that does not support it should say so with 415.",
    },
    Finding {
        key: "repository-url-uri",
        requirements: &["LIS-001"],
        seen: Seen::SdkListener,
        kind: Kind::Disagreement,
        cases: &["/0.4.1/binary/repository.created", "/0.4.1/structured/repository.created"],
        evidence: "as URI reference",
        in_matrix: &[],
        culprit: "cdevents-sdk: `src/generated/repository_created_0_2_0.rs` types `url` as \
`crate::Uri`; the 0.4.1 schema `schemas/repositorycreated.json` types it as a plain string",
        title: "0.4.1 `repository.created`: `url` is a URI in the prose, any string in the schema",
        explanation: "The 0.4.1 schema gives `subject.content.url` of `repository.created.0.2.0` \
as `{\"type\": \"string\", \"minLength\": 1}`, with no format; the prose \
(source-code-version-control.md, *repository created*) types it `URI`. The kit's catalogue \
follows the schema (its differential test holds it to the official schemas), so its generator \
may send a `url` that is no URI, which the schema accepts and the SDK, following the prose, \
refuses (LIS-001). A sender that follows the prose interoperates with the SDK; one that follows \
only the schema may not. The SDK is not consistent either: `viewUrl`, also `URI` in the prose, \
is a plain `String` in the same type. Release 0.5.1 settles it (`uri`, `format: uri`).",
    },
];
