//! The result model: levels, roles and findings; the run header, case results, observations and
//! summary; and the [`Record`] enum that is one line of the JSON-lines results file.
//!
//! Every type here is serialized as documented in `report.schema.json`. Optional fields are left
//! out when empty; readers ignore fields they do not know, so later minor additions stay
//! readable by older tools. A change that removes or reinterprets a field bumps
//! [`FORMAT_VERSION`].

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::grade::{self, Grade, RoleGrade};

/// The version of the results format written by this crate and the only one it reads.
pub const FORMAT_VERSION: u32 = 1;

/// How many bytes of an HTTP body evidence keeps (64 KiB).
pub const BODY_CAP: usize = 64 * 1024;
/// How many headers of an HTTP message evidence keeps.
pub const MAX_HEADERS: usize = 128;
/// How many bytes of one header name or value evidence keeps.
pub const HEADER_CAP: usize = 8 * 1024;

/// How strongly the specification asks for something (RFC 2119 keywords).
///
/// Ordered from the strongest to the weakest so that `level <= threshold` reads as
/// "at least as strong as the threshold".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// MUST, MUST NOT, REQUIRED, SHALL.
    Must,
    /// SHOULD, SHOULD NOT, RECOMMENDED.
    Should,
    /// MAY, OPTIONAL.
    May,
}

impl Level {
    /// All levels, strongest first.
    pub const ALL: [Level; 3] = [Level::Must, Level::Should, Level::May];

    /// The keyword as written in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }

    /// Whether a finding at this level fails a run whose threshold is `fail_on`.
    ///
    /// `--fail-on should` fails on MUST and SHOULD findings, and so on.
    pub fn fails_at(self, fail_on: Level) -> bool {
        self <= fail_on
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown level name.
#[derive(Debug, thiserror::Error)]
#[error("unknown level `{0}` (expected must, should or may)")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "must" => Ok(Level::Must),
            "should" => Ok(Level::Should),
            "may" => Ok(Level::May),
            _ => Err(UnknownLevel(s.to_owned())),
        }
    }
}

/// Who a requirement is asked of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The event itself, whoever produced it: checked offline by `validate`.
    Event,
    /// A producer that sends events.
    Sender,
    /// A consumer that receives events.
    Listener,
    /// A broker, router or bridge that passes events on.
    Intermediary,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 4] = [
        Role::Event,
        Role::Sender,
        Role::Listener,
        Role::Intermediary,
    ];

    /// The lowercase name used in ids, flags and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Event => "event",
            Role::Sender => "sender",
            Role::Listener => "listener",
            Role::Intermediary => "intermediary",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown role name.
#[derive(Debug, thiserror::Error)]
#[error("unknown role `{0}` (expected event, sender, listener or intermediary)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// One observation that breaks (or, at SHOULD/MAY level, falls short of) a requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The requirement id, e.g. `CDE-CTX-003`.
    pub id: String,
    /// The level of that requirement.
    pub level: Level,
    /// JSON pointer into the event (RFC 6901); empty for the whole event.
    pub pointer: String,
    /// What was wrong, in one sentence.
    pub message: String,
}

/// Which suite produced a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    /// Offline validation of events.
    Validate,
    /// The kit sends events to a listener under test.
    Listener,
    /// A sender under test sends events to the kit.
    Sender,
    /// An intermediary under test relays events between the kit's sender and listener.
    Relay,
    /// The kit against its own fakes.
    Selftest,
}

impl Suite {
    /// All suites.
    pub const ALL: [Suite; 5] = [
        Suite::Validate,
        Suite::Listener,
        Suite::Sender,
        Suite::Relay,
        Suite::Selftest,
    ];

    /// The lowercase name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Suite::Validate => "validate",
            Suite::Listener => "listener",
            Suite::Sender => "sender",
            Suite::Relay => "relay",
            Suite::Selftest => "selftest",
        }
    }

    /// The role a case of this suite is graded under when it names none.
    pub fn default_role(self) -> Role {
        match self {
            Suite::Validate | Suite::Selftest => Role::Event,
            Suite::Listener => Role::Listener,
            Suite::Sender => Role::Sender,
            Suite::Relay => Role::Intermediary,
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown suite name.
#[derive(Debug, thiserror::Error)]
#[error("unknown suite `{0}` (expected validate, listener, sender, relay or selftest)")]
pub struct UnknownSuite(pub String);

impl FromStr for Suite {
    type Err = UnknownSuite;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Suite::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSuite(s.to_owned()))
    }
}

/// The first line of a results file: what ran, against what, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunHeader {
    /// Always [`FORMAT_VERSION`] when written by this crate.
    pub format_version: u32,
    /// The version of cdevents-conformance that ran.
    pub tool_version: String,
    /// When the run started, RFC 3339.
    pub started_at: String,
    /// Which suite ran.
    pub suite: Suite,
    /// The target under test (URL, command or file), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The CDEvents spec versions the run checked against.
    #[serde(default)]
    pub spec_versions: Vec<String>,
    /// The conformance profile, if one was selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The seed of generated events, so a run can be reproduced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The `--fail-on` threshold of the run.
    pub fail_on: Level,
    /// The command line, program name first.
    #[serde(default)]
    pub command_line: Vec<String>,
}

impl RunHeader {
    /// A header of the current format for `suite`, failing on MUST, with the other fields
    /// empty.
    pub fn new(
        suite: Suite,
        tool_version: impl Into<String>,
        started_at: impl Into<String>,
    ) -> Self {
        RunHeader {
            format_version: FORMAT_VERSION,
            tool_version: tool_version.into(),
            started_at: started_at.into(),
            suite,
            target: None,
            spec_versions: Vec::new(),
            profile: None,
            seed: None,
            fail_on: Level::Must,
            command_line: Vec::new(),
        }
    }
}

/// The outcome of one case.
///
/// *Failed*, *errored* and *skipped* are different things: a failure is a verdict against the
/// target; an error means no verdict could be reached (dead target, timeout, bad setup); a skip
/// means the case does not apply (profile, spec version, option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The target met the requirement.
    Passed,
    /// The target did not meet the requirement.
    Failed,
    /// No verdict could be reached.
    Errored,
    /// The case does not apply to this run.
    Skipped,
    /// The target did not meet the requirement, and a waiver accepts that.
    Waived,
    /// A waiver was given but the target met the requirement: the waiver can go.
    WaivedButPassed,
}

impl Status {
    /// All statuses, in the order reports list them.
    pub const ALL: [Status; 6] = [
        Status::Failed,
        Status::Errored,
        Status::Waived,
        Status::WaivedButPassed,
        Status::Passed,
        Status::Skipped,
    ];

    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Errored => "errored",
            Status::Skipped => "skipped",
            Status::Waived => "waived",
            Status::WaivedButPassed => "waived_but_passed",
        }
    }

    /// A short uppercase label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "PASS",
            Status::Failed => "FAIL",
            Status::Errored => "ERROR",
            Status::Skipped => "SKIP",
            Status::Waived => "WAIVED",
            Status::WaivedButPassed => "WAIVED-PASS",
        }
    }

    /// How much attention the status asks for, 0 the most; used to aggregate many cases into
    /// one cell and to sort.
    pub fn severity(self) -> u8 {
        match self {
            Status::Failed => 0,
            Status::Errored => 1,
            Status::Waived => 2,
            Status::WaivedButPassed => 3,
            Status::Passed => 4,
            Status::Skipped => 5,
        }
    }

    /// Whether the target met the requirement in this case.
    pub fn is_pass(self) -> bool {
        matches!(self, Status::Passed | Status::WaivedButPassed)
    }

    /// Whether the case reached a verdict (passed, failed or waived).
    pub fn is_judged(self) -> bool {
        !matches!(self, Status::Errored | Status::Skipped)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one case: one requirement checked in one situation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// The case id, e.g. `LIS-003/binary/pipelinerun.finished`; starts with the requirement id.
    pub case: String,
    /// The requirement id, e.g. `LIS-003`.
    pub requirement: String,
    /// The level of the requirement.
    pub level: Level,
    /// Who the requirement is asked of.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// The spec version the case checked against; `None` when it applies to all of the run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// The outcome.
    pub status: Status,
    /// One sentence: what was checked, or what went wrong.
    pub message: String,
    /// What the requirement expects, when it is a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What the target did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// What was sent and seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// Findings about the event, if the case validated one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// One command line that runs this case again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduce: Option<String>,
    /// How long the case took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The waiver that matched the case, when one did: why the failure is accepted, the issue
    /// tracking it, and until when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<Waiver>,
}

/// A known failure accepted for now: the reason, the issue that tracks it, an optional expiry.
///
/// A failed case with a waiver in force is *waived*; a case that passed although a waiver
/// names it is *waived but passed* (the waiver can go); a waiver past its expiry date is not
/// applied and fails the run ([`Summary::expired_waivers`]) until it is renewed or removed.
///
/// Results files of the first format wrote the reason as a bare string; that still reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WaiverRepr")]
pub struct Waiver {
    /// Why the failure is accepted.
    pub reason: String,
    /// A link to the issue that tracks the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    /// The last day (`YYYY-MM-DD`, UTC) the waiver holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Whether the run started after `expires`: the waiver was not applied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WaiverRepr {
    Reason(String),
    Full {
        reason: String,
        #[serde(default)]
        issue: Option<String>,
        #[serde(default)]
        expires: Option<String>,
        #[serde(default)]
        expired: bool,
    },
}

impl From<WaiverRepr> for Waiver {
    fn from(r: WaiverRepr) -> Waiver {
        match r {
            WaiverRepr::Reason(reason) => Waiver::from(reason.as_str()),
            WaiverRepr::Full {
                reason,
                issue,
                expires,
                expired,
            } => Waiver {
                reason,
                issue,
                expires,
                expired,
            },
        }
    }
}

impl From<&str> for Waiver {
    /// A waiver with only a reason.
    fn from(reason: &str) -> Waiver {
        Waiver {
            reason: reason.to_owned(),
            issue: None,
            expires: None,
            expired: false,
        }
    }
}

impl fmt::Display for Waiver {
    /// `EXPIRED 2026-01-31: reason (issue)` or `reason (issue, until 2026-01-31)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.expired {
            write!(
                f,
                "EXPIRED {}: ",
                self.expires.as_deref().unwrap_or("(no date)")
            )?;
        }
        f.write_str(&self.reason)?;
        match (&self.issue, &self.expires) {
            (Some(i), Some(e)) if !self.expired => write!(f, " ({i}, until {e})"),
            (Some(i), _) => write!(f, " ({i})"),
            (None, Some(e)) if !self.expired => write!(f, " (until {e})"),
            _ => Ok(()),
        }
    }
}

impl CaseResult {
    /// A case with the given id, requirement, level and status; everything else empty.
    pub fn new(
        case: impl Into<String>,
        requirement: impl Into<String>,
        level: Level,
        status: Status,
        message: impl Into<String>,
    ) -> Self {
        CaseResult {
            case: case.into(),
            requirement: requirement.into(),
            level,
            roles: Vec::new(),
            spec: None,
            status,
            message: message.into(),
            expected: None,
            actual: None,
            evidence: None,
            findings: Vec::new(),
            reproduce: None,
            duration_ms: None,
            waiver: None,
        }
    }

    /// Whether this case fails a run whose threshold is `fail_on`.
    pub fn fails_run(&self, fail_on: Level) -> bool {
        self.status == Status::Failed && self.level.fails_at(fail_on)
    }
}

/// What was sent and seen in a case, kept so a failure can be understood without rerunning.
///
/// Serialized as its fields, with [`curl`](Self::curl) rendered in place of
/// [`curl_to`](Self::curl_to).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Evidence {
    /// The HTTP request (sent by the kit, or received from a sender).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpMessage>,
    /// The HTTP response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpMessage>,
    /// The event as JSON, when one was decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<serde_json::Value>,
    /// A unified diff between what was sent and what arrived (relay), or expected and actual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// A curl command that sends the request again. Read it with [`curl`](Self::curl),
    /// which also renders a command left to [`curl_to`](Self::curl_to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curl: Option<String>,
    /// The URL a curl command of `request` goes to, when the command is rendered only when
    /// read or written ([`Evidence::curl`]) rather than for every case, passed or not. Not a
    /// field of the results file: `curl` is written in its place.
    #[serde(skip)]
    pub curl_to: Option<Arc<str>>,
}

impl Evidence {
    /// The curl command that sends the request again: `curl`, or the command of `request` to
    /// `curl_to` rendered now.
    pub fn curl(&self) -> Option<Cow<'_, str>> {
        match (&self.curl, &self.curl_to, &self.request) {
            (Some(c), _, _) => Some(Cow::Borrowed(c.as_str())),
            (None, Some(url), Some(req)) => req.to_curl(url).map(Cow::Owned),
            _ => None,
        }
    }
}

impl Serialize for Evidence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let curl = self.curl();
        let len = [
            self.request.is_some(),
            self.response.is_some(),
            self.event.is_some(),
            self.diff.is_some(),
            curl.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        let mut st = s.serialize_struct("Evidence", len)?;
        fn field<T: Serialize, M: SerializeStruct>(
            st: &mut M,
            name: &'static str,
            v: &Option<T>,
        ) -> Result<(), M::Error> {
            match v {
                Some(v) => st.serialize_field(name, v),
                None => st.skip_field(name),
            }
        }
        field(&mut st, "request", &self.request)?;
        field(&mut st, "response", &self.response)?;
        field(&mut st, "event", &self.event)?;
        field(&mut st, "diff", &self.diff)?;
        field(&mut st, "curl", &curl)?;
        st.end()
    }
}

/// One HTTP request or response, capped in size.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HttpMessage {
    /// `POST /events HTTP/1.1` or `HTTP/1.1 202 Accepted`.
    pub start_line: String,
    /// Header names and values in the order seen (lossy UTF-8, capped).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body as UTF-8 (lossy), at most [`BODY_CAP`] bytes of it.
    #[serde(default)]
    pub body: String,
    /// The size of the whole body in bytes, before capping.
    #[serde(default)]
    pub body_len: usize,
    /// Whether the body was cut at [`BODY_CAP`] bytes.
    #[serde(default)]
    pub body_truncated: bool,
    /// The kept bytes in base64, only when they are not valid UTF-8 (so `body` lost some).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

impl HttpMessage {
    /// Builds evidence of one message, keeping at most [`BODY_CAP`] bytes of the body,
    /// [`MAX_HEADERS`] headers and [`HEADER_CAP`] bytes of each header name and value.
    ///
    /// Bytes that are not UTF-8 are replaced in `body`, and the kept bytes are also stored in
    /// `body_base64` so nothing is lost. A UTF-8 sequence cut by the cap is not counted as
    /// invalid.
    pub fn capped<I, N, V>(start_line: impl AsRef<[u8]>, headers: I, body: &[u8]) -> Self
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let headers = headers
            .into_iter()
            .take(MAX_HEADERS)
            .map(|(n, v)| (lossy_capped(n.as_ref()), lossy_capped(v.as_ref())))
            .collect();
        let truncated = body.len() > BODY_CAP;
        let kept = &body[..body.len().min(BODY_CAP)];
        let (text, base64) = match std::str::from_utf8(kept) {
            Ok(s) => (s.to_owned(), None),
            // Only an incomplete sequence at the cut: drop it, the rest is valid.
            Err(e) if truncated && e.error_len().is_none() => {
                let valid = &kept[..e.valid_up_to()];
                (String::from_utf8_lossy(valid).into_owned(), None)
            }
            Err(_) => (
                String::from_utf8_lossy(kept).into_owned(),
                Some(base64_encode(kept)),
            ),
        };
        HttpMessage {
            start_line: lossy_capped(start_line.as_ref()),
            headers,
            body: text,
            body_len: body.len(),
            body_truncated: truncated,
            body_base64: base64,
        }
    }

    /// [`capped`](Self::capped) of owned parts: the same message, with the start line,
    /// header strings and body moved in rather than copied wherever they are within the caps
    /// and (for the body) valid UTF-8. The listener driver builds one per case, passed or not.
    pub fn from_parts(start_line: String, headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        let owned = |s: String| {
            if s.len() <= HEADER_CAP {
                s
            } else {
                lossy_capped(s.as_bytes())
            }
        };
        let mut headers = headers;
        headers.truncate(MAX_HEADERS);
        let headers = headers
            .into_iter()
            .map(|(n, v)| (owned(n), owned(v)))
            .collect();
        let start_line = owned(start_line);
        let body = if body.len() <= BODY_CAP {
            match String::from_utf8(body) {
                Ok(text) => {
                    return HttpMessage {
                        start_line,
                        headers,
                        body_len: text.len(),
                        body: text,
                        body_truncated: false,
                        body_base64: None,
                    }
                }
                Err(e) => e.into_bytes(),
            }
        } else {
            body
        };
        // Cut or not UTF-8: the body as `capped` keeps it.
        let m = HttpMessage::capped("", std::iter::empty::<(&str, &str)>(), &body);
        HttpMessage {
            start_line,
            headers,
            ..m
        }
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The message as text: start line, headers, a blank line and the body.
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(self.body.len() + 256);
        s.push_str(&self.start_line);
        s.push('\n');
        for (n, v) in &self.headers {
            s.push_str(n);
            s.push_str(": ");
            s.push_str(v);
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.body);
        if self.body_truncated {
            s.push_str(&format!(
                "\n[body truncated: {} of {} bytes shown]",
                BODY_CAP, self.body_len
            ));
        }
        s
    }

    /// A curl command that sends this request to `url` again, or `None` when the body was
    /// truncated (the command would not send the same bytes) or this is not a request.
    ///
    /// Arguments are quoted for POSIX shells. A body that is not UTF-8 is sent from its base64
    /// form, which needs `bash` for the process substitution.
    pub fn to_curl(&self, url: &str) -> Option<String> {
        if self.body_truncated || self.start_line.starts_with("HTTP/") {
            return None;
        }
        let method = self.start_line.split_whitespace().next()?;
        // Written into one buffer: the listener driver makes one per case, passed or not.
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 8)
            .sum();
        let body = self
            .body_base64
            .as_ref()
            .map_or(self.body.len(), String::len);
        let mut cmd = String::with_capacity(64 + url.len() + headers + body + body / 16);
        cmd.push_str("curl -sS -i -X ");
        push_shell_quoted(&mut cmd, method);
        cmd.push(' ');
        push_shell_quoted(&mut cmd, url);
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("host") {
                continue;
            }
            // `name: value` holds a space, so it is always quoted.
            cmd.push_str(" -H '");
            push_single_quoted_inner(&mut cmd, n);
            cmd.push_str(": ");
            push_single_quoted_inner(&mut cmd, v);
            cmd.push('\'');
        }
        if let Some(b64) = &self.body_base64 {
            cmd.push_str(" --data-binary @<(printf %s ");
            push_shell_quoted(&mut cmd, b64);
            cmd.push_str(" | base64 -d)");
        } else if !self.body.is_empty() {
            cmd.push_str(" --data-binary ");
            push_shell_quoted(&mut cmd, &self.body);
        }
        Some(cmd)
    }
}

fn lossy_capped(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(HEADER_CAP)]);
    s.into_owned()
}

/// Quotes `s` as one POSIX shell word.
pub fn shell_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_shell_quoted(&mut out, s);
    out
}

/// Appends `s` to `out` as one POSIX shell word (what [`shell_quote`] returns).
fn push_shell_quoted(out: &mut String, s: &str) {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b))
    {
        out.push_str(s);
        return;
    }
    out.push('\'');
    push_single_quoted_inner(out, s);
    out.push('\'');
}

/// Appends `s` as it reads inside single quotes: each `'` as `'\''`.
fn push_single_quoted_inner(out: &mut String, s: &str) {
    let mut parts = s.split('\'');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for part in parts {
        out.push_str("'\\''");
        out.push_str(part);
    }
}

/// Standard base64 with padding (RFC 4648).
pub(crate) fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Data a suite observed over a whole run rather than per case, e.g. relay delivery
/// statistics or the graph of event links. Carried by a [`Record::Observation`] line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// A stable id, e.g. `REL-DELIVERY/binary`.
    pub id: String,
    /// A human title.
    pub title: String,
    /// The spec version observed, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// Delivery statistics of a relay run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryStats>,
    /// The graph of links between events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<LinkGraph>,
}

impl Observation {
    /// An observation with an id and a title and no data yet.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        Observation {
            id: id.into(),
            title: title.into(),
            spec: None,
            delivery: None,
            links: None,
        }
    }

    /// The observation with its data brought within bounds and non-finite numbers replaced by
    /// zero (JSON has no NaN). Writers apply this before writing.
    pub fn normalized(&self) -> Observation {
        let mut o = self.clone();
        if let Some(d) = &mut o.delivery {
            d.normalize();
        }
        if let Some(g) = &mut o.links {
            g.bound();
        }
        o
    }
}

/// What a relay did to the events passed through it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeliveryStats {
    /// Events the kit sent to the intermediary.
    pub sent: u64,
    /// Sends the intermediary acknowledged (2xx).
    pub acknowledged: u64,
    /// Distinct events that arrived at the kit's listener.
    pub delivered: u64,
    /// Acknowledged events that never arrived.
    pub lost: u64,
    /// Extra copies that arrived.
    pub duplicated: u64,
    /// Pairs of events that arrived in the opposite order to the one they were sent in.
    pub reordered_inversions: u64,
    /// Events that arrived changed.
    pub mutated: u64,
    /// Delivery latency percentiles.
    pub latency_ms: LatencyStats,
    /// Delivered events per second over the run.
    pub throughput_per_s: f64,
    /// `(milliseconds since start, latency in ms)` per delivered event, downsampled to at most
    /// [`DeliveryStats::MAX_TIMELINE`] points.
    #[serde(default)]
    pub timeline: Vec<(u64, f64)>,
}

impl DeliveryStats {
    /// The most timeline points kept.
    pub const MAX_TIMELINE: usize = 1000;

    /// Replaces non-finite numbers with zero and downsamples the timeline.
    pub fn normalize(&mut self) {
        let fix = |x: &mut f64| {
            if !x.is_finite() {
                *x = 0.0;
            }
        };
        fix(&mut self.throughput_per_s);
        fix(&mut self.latency_ms.p50);
        fix(&mut self.latency_ms.p95);
        fix(&mut self.latency_ms.p99);
        fix(&mut self.latency_ms.max);
        for (_, l) in &mut self.timeline {
            fix(l);
        }
        self.timeline = downsample(&self.timeline, Self::MAX_TIMELINE);
    }
}

/// Downsamples `(time, value)` points (sorted by time) to at most `max` points, keeping the
/// highest value of each bucket so latency spikes stay visible.
pub fn downsample(points: &[(u64, f64)], max: usize) -> Vec<(u64, f64)> {
    if max == 0 {
        return Vec::new();
    }
    if points.len() <= max {
        return points.to_vec();
    }
    let per = points.len().div_ceil(max);
    points
        .chunks(per)
        .map(|c| {
            c.iter()
                .copied()
                .fold(c[0], |best, p| if p.1 > best.1 { p } else { best })
        })
        .collect()
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LatencyStats {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

impl LatencyStats {
    /// Percentiles of `samples` (nearest rank); all zero when there are none. Non-finite
    /// samples are ignored.
    pub fn from_samples(samples: &[f64]) -> Self {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return LatencyStats::default();
        }
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p / 100.0) * v.len() as f64).ceil() as usize;
            v[i.clamp(1, v.len()) - 1]
        };
        LatencyStats {
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: v[v.len() - 1],
        }
    }
}

/// Events and the links between them (CDEvents `links`, `chainId`), bounded in size.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LinkGraph {
    /// The events.
    pub nodes: Vec<LinkNode>,
    /// The links.
    pub edges: Vec<LinkEdge>,
    /// Whether nodes or edges were dropped to stay within bounds.
    #[serde(default)]
    pub truncated: bool,
}

impl LinkGraph {
    /// The most nodes kept.
    pub const MAX_NODES: usize = 500;
    /// The most edges kept.
    pub const MAX_EDGES: usize = 2000;

    /// Drops nodes and edges past the bounds (and edges whose ends were dropped).
    pub fn bound(&mut self) {
        if self.nodes.len() > Self::MAX_NODES {
            self.nodes.truncate(Self::MAX_NODES);
            self.truncated = true;
            let ids: BTreeSet<&str> = self.nodes.iter().map(|n| n.id.as_str()).collect();
            let before = self.edges.len();
            self.edges
                .retain(|e| ids.contains(e.from.as_str()) && ids.contains(e.to.as_str()));
            self.truncated |= before != self.edges.len();
        }
        if self.edges.len() > Self::MAX_EDGES {
            self.edges.truncate(Self::MAX_EDGES);
            self.truncated = true;
        }
    }
}

/// One event of a [`LinkGraph`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkNode {
    /// The event id.
    pub id: String,
    /// The event type, e.g. `dev.cdevents.pipelinerun.finished.0.2.0`.
    #[serde(rename = "type")]
    pub node_type: String,
}

/// One link of a [`LinkGraph`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkEdge {
    /// The id of the linking event.
    pub from: String,
    /// The id of the linked event.
    pub to: String,
    /// The link kind, e.g. `PATH`, `END`, `RELATION`.
    pub kind: String,
}

/// Counts per level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LevelCounts {
    /// MUST.
    #[serde(rename = "MUST")]
    pub must: usize,
    /// SHOULD.
    #[serde(rename = "SHOULD")]
    pub should: usize,
    /// MAY.
    #[serde(rename = "MAY")]
    pub may: usize,
}

impl LevelCounts {
    /// Adds one at `level`.
    pub fn add(&mut self, level: Level) {
        match level {
            Level::Must => self.must += 1,
            Level::Should => self.should += 1,
            Level::May => self.may += 1,
        }
    }

    /// The count at `level`.
    pub fn get(&self, level: Level) -> usize {
        match level {
            Level::Must => self.must,
            Level::Should => self.should,
            Level::May => self.may,
        }
    }
}

/// What a run amounts to under its `--fail-on` threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No failure at or above the threshold, nothing errored, the run completed.
    Pass,
    /// At least one failure at or above the threshold.
    Fail,
    /// No such failure, but some cases errored or the run was interrupted: it cannot pass.
    Error,
}

impl Verdict {
    /// The uppercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The last line of a results file: counts, verdict and grades.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// All cases.
    pub total: usize,
    /// Cases with status passed.
    pub passed: usize,
    /// Cases with status failed, whatever their level.
    pub failed: usize,
    /// Cases with status errored.
    pub errored: usize,
    /// Cases with status skipped.
    pub skipped: usize,
    /// Cases with status waived.
    pub waived: usize,
    /// Cases with status waived_but_passed.
    pub waived_but_passed: usize,
    /// Cases whose waiver had expired: each fails the run, whatever the case's status.
    #[serde(default)]
    pub expired_waivers: usize,
    /// Failed cases by level.
    pub failed_by_level: LevelCounts,
    /// Pass, fail or error under the header's `fail_on`.
    pub verdict: Verdict,
    /// The lowest of `grades` (ungraded buckets aside).
    pub grade: Grade,
    /// A grade per spec version and role, with reasons.
    #[serde(default)]
    pub grades: Vec<RoleGrade>,
    /// Whether the run stopped before its end; set by readers when the summary line is
    /// missing.
    #[serde(default)]
    pub interrupted: bool,
    /// When the run finished, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// How long the run took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

impl Summary {
    /// Counts, verdict and grades of `cases` under `header`.
    pub fn compute(header: &RunHeader, cases: &[CaseResult], interrupted: bool) -> Summary {
        let mut s = Summary {
            total: cases.len(),
            passed: 0,
            failed: 0,
            errored: 0,
            skipped: 0,
            waived: 0,
            waived_but_passed: 0,
            expired_waivers: 0,
            failed_by_level: LevelCounts::default(),
            verdict: Verdict::Pass,
            grade: Grade::NotGraded,
            grades: Vec::new(),
            interrupted,
            finished_at: None,
            duration_ms: None,
        };
        let mut fails_run = false;
        for c in cases {
            match c.status {
                Status::Passed => s.passed += 1,
                Status::Failed => {
                    s.failed += 1;
                    s.failed_by_level.add(c.level);
                    fails_run |= c.level.fails_at(header.fail_on);
                }
                Status::Errored => s.errored += 1,
                Status::Skipped => s.skipped += 1,
                Status::Waived => s.waived += 1,
                Status::WaivedButPassed => s.waived_but_passed += 1,
            }
            if c.waiver.as_ref().is_some_and(|w| w.expired) {
                s.expired_waivers += 1;
                fails_run = true;
            }
        }
        s.verdict = if fails_run {
            Verdict::Fail
        } else if s.errored > 0 || interrupted {
            Verdict::Error
        } else {
            Verdict::Pass
        };
        s.grades = grade::grade_run(header, cases, interrupted);
        s.grade = grade::overall(&s.grades);
        s
    }

    /// Cases that apply (all but skipped).
    pub fn applicable(&self) -> usize {
        self.total - self.skipped
    }

    /// Cases where the target met the requirement (passed, or waived but passed).
    pub fn met(&self) -> usize {
        self.passed + self.waived_but_passed
    }

    /// One plain line for the console, e.g.
    /// `FAIL grade F: 12 passed, 3 failed (2 MUST, 1 SHOULD), 1 errored, 2 skipped, 1 waived`.
    pub fn one_line(&self) -> String {
        let mut parts = vec![format!("{} passed", self.passed)];
        if self.failed > 0 {
            let by: Vec<String> = Level::ALL
                .iter()
                .filter(|l| self.failed_by_level.get(**l) > 0)
                .map(|l| format!("{} {}", self.failed_by_level.get(*l), l))
                .collect();
            parts.push(format!("{} failed ({})", self.failed, by.join(", ")));
        } else {
            parts.push("0 failed".to_owned());
        }
        if self.errored > 0 {
            parts.push(format!("{} errored", self.errored));
        }
        if self.skipped > 0 {
            parts.push(format!("{} skipped", self.skipped));
        }
        if self.waived > 0 {
            parts.push(format!("{} waived", self.waived));
        }
        if self.waived_but_passed > 0 {
            parts.push(format!("{} waived but passed", self.waived_but_passed));
        }
        if self.expired_waivers > 0 {
            parts.push(format!("{} expired waivers", self.expired_waivers));
        }
        let mut line = format!(
            "{} grade {}: {}",
            self.verdict,
            self.grade,
            parts.join(", ")
        );
        if self.interrupted {
            line.push_str(" (interrupted)");
        }
        line
    }
}

/// One line of a JSON-lines results file, tagged by its `record` field.
///
/// A file is one [`Record::Header`], then any number of [`Record::Case`] and
/// [`Record::Observation`] lines in the order they were produced, then one
/// [`Record::Summary`]. A file without the summary is an interrupted run.
// Records are made and read one at a time, never held in bulk: their size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    /// The first line.
    Header(RunHeader),
    /// One case result.
    Case(CaseResult),
    /// Run-wide data (relay statistics, link graph).
    Observation(Observation),
    /// The last line.
    Summary(Summary),
}

/// A whole run, as rebuilt from a results file or assembled in memory; what writers render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// What ran.
    pub header: RunHeader,
    /// The case results in the order produced.
    pub cases: Vec<CaseResult>,
    /// Run-wide observations.
    pub observations: Vec<Observation>,
    /// The summary, read or computed.
    pub summary: Summary,
}

impl Run {
    /// A completed run; the summary is computed from the cases.
    pub fn new(header: RunHeader, cases: Vec<CaseResult>, observations: Vec<Observation>) -> Run {
        let summary = Summary::compute(&header, &cases, false);
        Run {
            header,
            cases,
            observations,
            summary,
        }
    }

    /// Cases that need a look: failed, errored, waived and waived-but-passed, most severe
    /// first, stable within a status.
    pub fn attention(&self) -> Vec<&CaseResult> {
        let mut v: Vec<&CaseResult> = self
            .cases
            .iter()
            .filter(|c| c.status.severity() < Status::Passed.severity())
            .collect();
        v.sort_by_key(|c| (c.status.severity(), c.level));
        v
    }

    /// The spec versions a case applies to: its own, or all of the run's.
    pub fn specs_of<'a>(&'a self, case: &'a CaseResult) -> Vec<&'a str> {
        specs_of(&self.header, case)
    }

    /// The roles a case is graded under: its own, or the suite's default.
    pub fn roles_of(&self, case: &CaseResult) -> Vec<Role> {
        roles_of(&self.header, case)
    }
}

pub(crate) fn specs_of<'a>(header: &'a RunHeader, case: &'a CaseResult) -> Vec<&'a str> {
    match &case.spec {
        Some(s) => vec![s.as_str()],
        None if header.spec_versions.is_empty() => vec!["any"],
        None => header.spec_versions.iter().map(String::as_str).collect(),
    }
}

pub(crate) fn roles_of(header: &RunHeader, case: &CaseResult) -> Vec<Role> {
    if case.roles.is_empty() {
        vec![header.suite.default_role()]
    } else {
        let set: BTreeSet<Role> = case.roles.iter().copied().collect();
        set.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert!(Level::Must.fails_at(Level::Must));
        assert!(!Level::Should.fails_at(Level::Must));
        assert!(Level::Should.fails_at(Level::Should));
        assert!(Level::Must.fails_at(Level::May));
        assert!(!Level::May.fails_at(Level::Should));
    }

    #[test]
    fn parse_names() {
        assert_eq!("SHOULD".parse::<Level>().unwrap(), Level::Should);
        assert!("often".parse::<Level>().is_err());
        assert_eq!("Listener".parse::<Role>().unwrap(), Role::Listener);
        assert!("broker".parse::<Role>().is_err());
        assert_eq!("relay".parse::<Suite>().unwrap(), Suite::Relay);
        assert!("fuzz".parse::<Suite>().is_err());
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, out) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(input.as_bytes()), out);
        }
    }

    #[test]
    fn capped_keeps_utf8_and_flags_binary() {
        let m = HttpMessage::capped("POST / HTTP/1.1", [("a", "b")], b"{\"x\":1}");
        assert_eq!(m.body, "{\"x\":1}");
        assert!(!m.body_truncated && m.body_base64.is_none());
        assert_eq!(m.header("A"), Some("b"));

        let m = HttpMessage::capped("POST / HTTP/1.1", [("a", b"\xff")], b"a\xffb");
        assert_eq!(m.body, "a\u{fffd}b");
        assert_eq!(m.headers[0].1, "\u{fffd}");
        assert_eq!(m.body_base64.as_deref(), Some("Yf9i"));
    }

    #[test]
    fn capped_cuts_at_cap_without_inventing_invalid_utf8() {
        // 'é' is two bytes; put its first byte exactly at the cap.
        let mut body = vec![b'a'; BODY_CAP - 1];
        body.extend("é and more".as_bytes());
        let m = HttpMessage::capped("HTTP/1.1 200 OK", Vec::<(&str, &str)>::new(), &body);
        assert!(m.body_truncated);
        assert_eq!(m.body_len, body.len());
        assert_eq!(m.body.len(), BODY_CAP - 1);
        assert!(m.body_base64.is_none());
    }

    #[test]
    fn capped_bounds_headers() {
        let long = "v".repeat(HEADER_CAP + 10);
        let headers: Vec<(String, String)> = (0..MAX_HEADERS + 5)
            .map(|i| (format!("h{i}"), long.clone()))
            .collect();
        let m = HttpMessage::capped("GET / HTTP/1.1", headers, b"");
        assert_eq!(m.headers.len(), MAX_HEADERS);
        assert_eq!(m.headers[0].1.len(), HEADER_CAP);
    }

    #[test]
    fn from_parts_is_capped_of_the_same_parts() {
        let long_utf8 = format!("{}é", "v".repeat(HEADER_CAP - 1)); // 'é' cut by the cap
        let mut over = vec![b'a'; BODY_CAP - 1];
        over.extend("é and more".as_bytes());
        let bodies: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"{\"x\":1}".to_vec(),
            b"a\xffb".to_vec(),
            vec![b'z'; BODY_CAP],
            vec![b'z'; BODY_CAP + 1],
            over,
            [vec![b'a'; BODY_CAP + 3], b"\xff".to_vec()].concat(),
        ];
        let header_sets: Vec<Vec<(String, String)>> = vec![
            vec![],
            vec![("content-type".into(), "application/json".into())],
            vec![
                ("x-long".into(), long_utf8.clone()),
                (long_utf8, "v".into()),
            ],
            (0..MAX_HEADERS + 3)
                .map(|i| (format!("h{i}"), i.to_string()))
                .collect(),
        ];
        for body in &bodies {
            for headers in &header_sets {
                for start in ["POST /events HTTP/1.1".to_owned(), "é".repeat(HEADER_CAP)] {
                    let want = HttpMessage::capped(&start, headers.clone(), body);
                    let got = HttpMessage::from_parts(start, headers.clone(), body.clone());
                    assert_eq!(got, want, "body of {} bytes", body.len());
                }
            }
        }
    }

    #[test]
    fn a_curl_left_to_curl_to_is_written_as_if_rendered() {
        let req = HttpMessage::capped(
            "POST /events HTTP/1.1",
            [("content-type", "application/json"), ("ce-id", "it's")],
            b"{\"a\":1}",
        );
        let url = "http://127.0.0.1:8080/events";
        let eager = Evidence {
            curl: req.to_curl(url),
            request: Some(req.clone()),
            ..Evidence::default()
        };
        let lazy = Evidence {
            request: Some(req),
            curl_to: Some(url.into()),
            ..Evidence::default()
        };
        assert!(eager.curl.is_some() && lazy.curl.is_none());
        assert_eq!(lazy.curl(), eager.curl());
        let json = serde_json::to_string(&lazy).unwrap();
        assert_eq!(json, serde_json::to_string(&eager).unwrap());
        let back: Evidence = serde_json::from_str(&json).unwrap();
        assert_eq!(back, eager);
        // No request, or a response: nothing to render.
        let none = Evidence {
            curl_to: Some(url.into()),
            ..Evidence::default()
        };
        assert_eq!(
            (none.curl(), serde_json::to_string(&none).unwrap().as_str()),
            (None, "{}")
        );
    }

    #[test]
    fn curl_quotes_everything() {
        let m = HttpMessage::capped(
            "POST /events HTTP/1.1",
            [("content-type", "application/json"), ("ce-id", "it's")],
            b"{\"a\":\"$(rm -rf /)\"}",
        );
        let c = m.to_curl("http://127.0.0.1:8080/events").unwrap();
        assert_eq!(
            c,
            "curl -sS -i -X POST http://127.0.0.1:8080/events -H 'content-type: application/json' \
             -H 'ce-id: it'\\''s' --data-binary '{\"a\":\"$(rm -rf /)\"}'"
        );
        let resp = HttpMessage::capped("HTTP/1.1 200 OK", [("a", "b")], b"");
        assert!(resp.to_curl("http://x").is_none());
    }

    #[test]
    fn percentiles_and_downsampling() {
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        let l = LatencyStats::from_samples(&s);
        assert_eq!((l.p50, l.p95, l.p99, l.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(LatencyStats::from_samples(&[]), LatencyStats::default());

        let pts: Vec<(u64, f64)> = (0..10_000)
            .map(|i| (i, if i == 5_555 { 900.0 } else { 1.0 }))
            .collect();
        let d = downsample(&pts, 100);
        assert!(d.len() <= 100);
        assert!(d.iter().any(|p| p.1 == 900.0), "the spike survives");
        assert_eq!(downsample(&pts[..5], 100).len(), 5);
    }

    #[test]
    fn normalize_replaces_nan() {
        let mut d = DeliveryStats {
            throughput_per_s: f64::NAN,
            timeline: vec![(1, f64::INFINITY)],
            ..DeliveryStats::default()
        };
        d.normalize();
        assert_eq!(d.throughput_per_s, 0.0);
        assert_eq!(d.timeline, vec![(1, 0.0)]);
    }

    #[test]
    fn graph_bounds_drop_dangling_edges() {
        let mut g = LinkGraph::default();
        for i in 0..LinkGraph::MAX_NODES + 1 {
            g.nodes.push(LinkNode {
                id: format!("n{i}"),
                node_type: "t".into(),
            });
        }
        g.edges.push(LinkEdge {
            from: "n0".into(),
            to: format!("n{}", LinkGraph::MAX_NODES),
            kind: "PATH".into(),
        });
        g.bound();
        assert!(g.truncated);
        assert_eq!(g.nodes.len(), LinkGraph::MAX_NODES);
        assert!(g.edges.is_empty());
    }

    #[test]
    fn waiver_reads_old_string_form_and_expired_fails_the_run() {
        let old: CaseResult = serde_json::from_str(
            r#"{"case":"X-1/a","requirement":"X-1","level":"SHOULD","status":"waived","message":"m","waiver":"known"}"#,
        )
        .unwrap();
        assert_eq!(old.waiver, Some(Waiver::from("known")));
        let w = Waiver {
            reason: "router strips headers".into(),
            issue: Some("https://example.invalid/i/1".into()),
            expires: Some("2026-01-31".into()),
            expired: false,
        };
        assert_eq!(
            w.to_string(),
            "router strips headers (https://example.invalid/i/1, until 2026-01-31)"
        );
        let back: Waiver = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(back, w);

        let header = RunHeader::new(Suite::Listener, "0", "t");
        let mut c = CaseResult::new("X-1/a", "X-1", Level::May, Status::Passed, "ok");
        assert_eq!(
            Summary::compute(&header, &[c.clone()], false).verdict,
            Verdict::Pass
        );
        c.waiver = Some(Waiver { expired: true, ..w });
        let s = Summary::compute(&header, &[c.clone()], false);
        assert_eq!((s.verdict, s.expired_waivers), (Verdict::Fail, 1));
        assert!(c
            .waiver
            .unwrap()
            .to_string()
            .starts_with("EXPIRED 2026-01-31: "));
    }

    #[test]
    fn record_is_tagged() {
        let c = CaseResult::new("X-1/a", "X-1", Level::Must, Status::WaivedButPassed, "ok");
        let line = serde_json::to_string(&Record::Case(c)).unwrap();
        assert!(
            line.starts_with(r#"{"record":"case","case":"X-1/a""#),
            "{line}"
        );
        assert!(line.contains(r#""status":"waived_but_passed""#));
    }
}
