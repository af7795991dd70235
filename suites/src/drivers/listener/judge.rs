//! Verdicts: pure functions from what the listener answered to a status, with *Expected* and
//! *Actual* in words. No network, no printing.

use cdevents_reports::model::Status;

use super::client::{Response, SendError};
use super::corpus::{Expect, Handshake, WEBHOOK_ORIGIN};

/// The verdict of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// Passed, failed or errored.
    pub status: Status,
    /// One sentence.
    pub message: String,
    /// What the spec allows.
    pub expected: String,
    /// What the listener did.
    pub actual: String,
}

/// The answer in a few words: `HTTP 400 (application/json, 57 bytes)`.
pub fn describe(r: &Response) -> String {
    let ct = r.header("content-type").unwrap_or("no Content-Type");
    if r.body.is_empty() {
        format!("HTTP {} with an empty body", r.status)
    } else {
        let text = String::from_utf8_lossy(&r.body[..r.body.len().min(120)]).replace('\n', " ");
        format!("HTTP {} ({ct}, {} bytes): {text}", r.status, r.body.len())
    }
}

/// Whether `status` is one of the success statuses http-webhook 2.2 defines.
fn webhook_success(r: &Response) -> Result<(), String> {
    match r.status {
        200 if r.body.is_empty() => Err(
            "200 with an empty body: http-webhook 2.2 wants 201 or 204 when the answer carries no payload"
                .into(),
        ),
        200 | 201 | 202 | 204 => Ok(()),
        s => Err(format!("{s} is not a success status of http-webhook 2.2 (200, 201, 202, 204)")),
    }
}

/// Judges one answer against what the spec allows.
pub fn judge(expect: Expect, outcome: &Result<Response, SendError>) -> Judgement {
    let expected = expect.describe();
    let r = match outcome {
        Ok(r) => r,
        Err(e) => {
            return Judgement {
                status: if expect == Expect::Anything {
                    Status::Passed
                } else {
                    Status::Errored
                },
                message: format!("no verdict: {e}"),
                expected,
                actual: e.to_string(),
            }
        }
    };
    let s = r.status;
    let ok = |m: &str| (Status::Passed, m.to_owned());
    let (status, message) = match expect {
        _ if (300..400).contains(&s) && expect != Expect::Anything => (
            Status::Failed,
            "answered with a redirect, which http-webhook 2.2 forbids".to_owned(),
        ),
        Expect::Anything => ok("answered"),
        Expect::Accepted if (200..300).contains(&s) => ok("the event was taken"),
        Expect::Accepted => (Status::Failed, "a valid event was not taken".into()),
        Expect::AcceptedStrict => match webhook_success(r) {
            Ok(()) => ok("taken with a success status of http-webhook 2.2"),
            Err(why) => (Status::Failed, why),
        },
        Expect::Refused if (400..500).contains(&s) => ok("refused as the sender's fault"),
        Expect::Refused if (200..300).contains(&s) => (
            Status::Failed,
            "a request that is no valid CloudEvent was taken as if it were one".into(),
        ),
        Expect::Refused => (
            Status::Failed,
            "refused with a status that blames the server, not the sender".into(),
        ),
        Expect::NotServerError if (200..300).contains(&s) => ok("taken (allowed)"),
        Expect::NotServerError if (400..500).contains(&s) => ok("refused with a 4xx"),
        Expect::NotServerError => (
            Status::Failed,
            "answered with a server error: the sender will retry an event that can never pass"
                .into(),
        ),
        Expect::Status(want) if s == want => ok("answered with the required status"),
        Expect::Status(want) => (Status::Failed, format!("did not answer {want}")),
        Expect::AcceptedOr(_) if (200..300).contains(&s) => ok("taken (allowed)"),
        Expect::AcceptedOr(want) if s == want => ok("refused with the status the spec names"),
        Expect::AcceptedOr(want) => (Status::Failed, format!("neither taken nor answered {want}")),
        Expect::Handshake(rule) => handshake(rule, r),
    };
    Judgement {
        status,
        message,
        expected,
        actual: describe(r),
    }
}

/// One rule of the answer to the validation handshake (http-webhook 4.2).
fn handshake(rule: Handshake, r: &Response) -> (Status, String) {
    let origin = r.header("webhook-allowed-origin").map(str::trim);
    let verdict = |ok: bool, pass: &str, fail: String| {
        if ok {
            (Status::Passed, pass.to_owned())
        } else {
            (Status::Failed, fail)
        }
    };
    let not_granted = || {
        (
            Status::Skipped,
            "the handshake was not granted (WH-015 judges that)".to_owned(),
        )
    };
    match rule {
        Handshake::Granted => verdict(
            origin.is_some(),
            "permission granted",
            format!(
                "no WebHook-Allowed-Origin in the answer (HTTP {}): the target does not take part in the abuse protection handshake",
                r.status
            ),
        ),
        Handshake::Origin => match origin {
            None => not_granted(),
            Some(o) => verdict(
                o == "*" || o == WEBHOOK_ORIGIN,
                "the origin asked for, or *",
                format!("WebHook-Allowed-Origin is `{o}`, neither `{WEBHOOK_ORIGIN}` nor `*`"),
            ),
        },
        Handshake::Rate => match (origin, r.header("webhook-allowed-rate").map(str::trim)) {
            (None, _) => not_granted(),
            (Some(_), None) => (
                Status::Failed,
                "granted without WebHook-Allowed-Rate, though the request asked for a rate"
                    .into(),
            ),
            (Some(_), Some(rate)) => verdict(
                rate == "*" || rate.parse::<u64>().is_ok_and(|n| n > 0),
                "an allowed rate of * or a positive integer",
                format!("WebHook-Allowed-Rate is `{rate}`, neither * nor a positive integer"),
            ),
        },
        Handshake::Allow => {
            let allow = r.header("allow").unwrap_or_default();
            verdict(
                allow
                    .split(',')
                    .any(|m| m.trim().eq_ignore_ascii_case("POST")),
                "Allow lists POST",
                format!("Allow is `{allow}`, without POST"),
            )
        }
        Handshake::NotHandled if origin.is_some() => (
            Status::Skipped,
            "the handshake was granted, so the rule for targets that do not handle OPTIONS does not apply"
                .to_owned(),
        ),
        Handshake::NotHandled => verdict(
            (200..300).contains(&r.status) || r.status == 405,
            "no grant, answered 2xx or 405",
            format!("no grant and HTTP {}: a target that does not handle OPTIONS answers 405", r.status),
        ),
    }
}

/// One answer, as the run-wide checks need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen<'a> {
    /// The case that got it.
    pub case: &'a str,
    /// Its status.
    pub status: u16,
    /// Whether it had a body.
    pub has_body: bool,
    /// Whether it had a Content-Type.
    pub has_content_type: bool,
    /// Whether it had a Retry-After.
    pub has_retry_after: bool,
}

impl<'a> Seen<'a> {
    /// Notes an answer of `case`.
    pub fn of(case: &'a str, r: &Response) -> Seen<'a> {
        Seen {
            case,
            status: r.status,
            has_body: !r.body.is_empty(),
            has_content_type: r.header("content-type").is_some(),
            has_retry_after: r.header("retry-after").is_some(),
        }
    }
}

/// What one run-wide rule has seen so far: how many answers concerned it, how many broke it,
/// and the first that did, in the order the answers were noted. All a verdict needs, so the
/// run keeps no list of its answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    concerned: usize,
    bad: usize,
    /// The case and status of the first answer that broke the rule.
    first: Option<(String, u16)>,
}

impl Tally {
    /// Counts one answer.
    pub fn note(
        &mut self,
        s: &Seen<'_>,
        concerned: impl Fn(&Seen<'_>) -> bool,
        breaks: impl Fn(&Seen<'_>) -> bool,
    ) {
        if !concerned(s) {
            return;
        }
        self.concerned += 1;
        if breaks(s) {
            self.bad += 1;
            if self.first.is_none() {
                self.first = Some((s.case.to_owned(), s.status));
            }
        }
    }

    /// Adds the answers of `later`, noted after these.
    pub fn extend(&mut self, later: Tally) {
        self.concerned += later.concerned;
        self.bad += later.bad;
        if self.first.is_none() {
            self.first = later.first;
        }
    }

    /// The verdict of the rule; `None` when no answer was concerned.
    pub fn judgement(&self, rule: &str) -> Option<Judgement> {
        if self.concerned == 0 {
            return None;
        }
        let expected = format!("every answer: {rule}");
        Some(match &self.first {
            None => Judgement {
                status: Status::Passed,
                message: format!("{} answers checked", self.concerned),
                expected,
                actual: format!("all {} answers keep the rule", self.concerned),
            },
            Some((case, status)) => Judgement {
                status: Status::Failed,
                message: format!("{} of {} answers break the rule", self.bad, self.concerned),
                expected,
                actual: format!("HTTP {status} to {case} (and {} more)", self.bad - 1),
            },
        })
    }
}

/// A rule every answer of the run must keep; `None` when no answer was concerned.
pub fn every_answer(
    seen: &[Seen<'_>],
    concerned: impl Fn(&Seen<'_>) -> bool,
    breaks: impl Fn(&Seen<'_>) -> bool,
    rule: &str,
) -> Option<Judgement> {
    let mut t = Tally::default();
    for s in seen {
        t.note(s, &concerned, &breaks);
    }
    t.judgement(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(status: u16, body: &str) -> Result<Response, SendError> {
        Ok(Response {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn verdicts() {
        use Status::*;
        let table = [
            (Expect::Accepted, r(202, ""), Passed),
            (Expect::Accepted, r(204, ""), Passed),
            (Expect::Accepted, r(400, ""), Failed),
            (Expect::Accepted, r(307, ""), Failed),
            (Expect::AcceptedStrict, r(200, ""), Failed),
            (Expect::AcceptedStrict, r(200, "{}"), Passed),
            (Expect::AcceptedStrict, r(201, ""), Passed),
            (Expect::AcceptedStrict, r(203, ""), Failed),
            (Expect::Refused, r(400, ""), Passed),
            (Expect::Refused, r(422, ""), Passed),
            (Expect::Refused, r(200, ""), Failed),
            (Expect::Refused, r(500, ""), Failed),
            (Expect::NotServerError, r(202, ""), Passed),
            (Expect::NotServerError, r(400, ""), Passed),
            (Expect::NotServerError, r(500, ""), Failed),
            (Expect::Status(415), r(415, ""), Passed),
            (Expect::Status(415), r(400, ""), Failed),
            (Expect::AcceptedOr(413), r(413, ""), Passed),
            (Expect::AcceptedOr(413), r(202, ""), Passed),
            (Expect::AcceptedOr(413), r(500, ""), Failed),
            (Expect::Accepted, Err(SendError::Closed), Errored),
            (Expect::Anything, Err(SendError::Closed), Passed),
        ];
        for (expect, outcome, want) in table {
            assert_eq!(
                judge(expect, &outcome).status,
                want,
                "{expect:?} {outcome:?}"
            );
        }
    }

    #[test]
    fn handshake_rules() {
        use Handshake::*;
        use Status::*;
        let answer = |status, headers: &[(&str, &str)]| Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: vec![],
        };
        let origin = ("webhook-allowed-origin", WEBHOOK_ORIGIN);
        let table = [
            (Granted, answer(200, &[origin]), Passed),
            (Granted, answer(200, &[]), Failed),
            (Granted, answer(405, &[]), Failed),
            (
                Origin,
                answer(200, &[("webhook-allowed-origin", "*")]),
                Passed,
            ),
            (
                Origin,
                answer(200, &[("webhook-allowed-origin", "other.example")]),
                Failed,
            ),
            (Origin, answer(405, &[]), Skipped),
            (
                Rate,
                answer(200, &[origin, ("webhook-allowed-rate", "100")]),
                Passed,
            ),
            (
                Rate,
                answer(200, &[origin, ("webhook-allowed-rate", "*")]),
                Passed,
            ),
            (
                Rate,
                answer(200, &[origin, ("webhook-allowed-rate", "0")]),
                Failed,
            ),
            (Rate, answer(200, &[origin]), Failed),
            (Rate, answer(404, &[]), Skipped),
            (Allow, answer(200, &[("allow", "OPTIONS, post")]), Passed),
            (Allow, answer(200, &[("allow", "OPTIONS")]), Failed),
            (Allow, answer(405, &[]), Failed),
            (NotHandled, answer(405, &[]), Passed),
            (NotHandled, answer(200, &[]), Passed),
            (NotHandled, answer(404, &[]), Failed),
            (NotHandled, answer(501, &[]), Failed),
            (NotHandled, answer(200, &[origin]), Skipped),
        ];
        for (rule, r, want) in table {
            let got = judge(Expect::Handshake(rule), &Ok(r.clone())).status;
            assert_eq!(got, want, "{rule:?} {r:?}");
        }
    }

    #[test]
    fn run_wide_rules() {
        let seen = |status, retry| Seen {
            case: "c",
            status,
            has_body: false,
            has_content_type: false,
            has_retry_after: retry,
        };
        let rule = |s: &[Seen<'_>]| {
            every_answer(
                s,
                |x| x.status == 429,
                |x| !x.has_retry_after,
                "429 has Retry-After",
            )
            .map(|j| j.status)
        };
        assert_eq!(rule(&[seen(202, false)]), None);
        assert_eq!(rule(&[seen(429, true)]), Some(Status::Passed));
        assert_eq!(
            rule(&[seen(429, true), seen(429, false)]),
            Some(Status::Failed)
        );
    }

    #[test]
    fn tallies_add_up_and_keep_the_first_breaker() {
        let seen = |case, status| Seen {
            case,
            status,
            has_body: false,
            has_content_type: false,
            has_retry_after: false,
        };
        let note =
            |t: &mut Tally, s: Seen<'_>| t.note(&s, |x| x.status >= 300, |x| x.status == 302);
        let (mut a, mut b) = (Tally::default(), Tally::default());
        note(&mut a, seen("a1", 202));
        note(&mut a, seen("a2", 404));
        note(&mut b, seen("b1", 302));
        note(&mut b, seen("b2", 302));
        let mut first = a.clone();
        first.extend(b.clone());
        let j = first.judgement("no redirect").unwrap();
        assert_eq!(j.status, Status::Failed);
        assert_eq!(j.message, "2 of 3 answers break the rule");
        assert_eq!(j.actual, "HTTP 302 to b1 (and 1 more)");
        // The earlier breaker stays first.
        let mut c = Tally::default();
        note(&mut c, seen("c1", 302));
        c.extend(b);
        assert!(c
            .judgement("r")
            .unwrap()
            .actual
            .contains("to c1 (and 2 more)"));
        assert_eq!(Tally::default().judgement("r"), None);
        assert_eq!(a.judgement("r").unwrap().status, Status::Passed);
    }
}
