//! Observation (`test listener --observe ADDR`): the listener under test forwards what it
//! accepted to the kit's sink (the sender suite's [`Sink`]), and the kit checks that every
//! accepted event arrived unchanged (LIS-010, LIS-011, LIS-012) and nothing else did (LIS-013).
//!
//! [`judge_forwarded`] is pure: what was sent (with the listener's answer) against what the
//! sink received. [`Observer`] owns the sink and bounds the wait for forwarded events.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use cdevents_reports::model::Status;
use serde_json::Value;

use super::judge::Judgement;
use crate::drivers::sender::{Delivery, Recording, Sink, SinkConfig};
use crate::input::{decode_http_body, CeAttributes, Envelope, Limits, Location};
use crate::wire::WireRequest;

/// One request the kit sent to the listener, and the status it got.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The case (or probe) that sent it.
    pub case: String,
    /// The request.
    pub request: WireRequest,
    /// The listener's status.
    pub status: u16,
}

/// The sink the listener forwards to, and how long to wait for stragglers.
pub struct Observer {
    sink: Sink,
    settle: Duration,
}

impl Observer {
    /// Starts a sink on `listen` (it answers 2xx to every well-formed delivery).
    pub async fn start(listen: SocketAddr, settle: Duration) -> std::io::Result<Observer> {
        let sink = Sink::start(SinkConfig {
            listen,
            ..SinkConfig::default()
        })
        .await?;
        Ok(Observer { sink, settle })
    }

    /// The address the sink listens on.
    pub fn addr(&self) -> SocketAddr {
        self.sink.addr()
    }

    /// The URL the listener under test is to forward to.
    pub fn url(&self) -> String {
        self.sink.url()
    }

    /// The settle time.
    pub fn settle(&self) -> Duration {
        self.settle
    }

    /// Waits (at most the settle time) until as many distinct events arrived as `sent` has
    /// accepted ones, then a short grace for late extras, and judges.
    pub async fn judge(&self, sent: &[Sent]) -> Vec<Verdict> {
        let accepted = accepted_keys(&sent_events(sent));
        self.sink.wait_for_events(accepted, self.settle).await;
        tokio::time::sleep(self.settle.min(Duration::from_millis(200))).await;
        judge_forwarded(sent, &self.sink.recording(), self.settle)
    }
}

/// One observation verdict.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// `LIS-010` … `LIS-013`.
    pub requirement: &'static str,
    /// What the rule is, in words.
    pub what: &'static str,
    /// The verdict.
    pub judgement: Judgement,
    /// The request sent of the first bad event, when the kit sent it.
    pub sent: Option<Sent>,
    /// The forwarded delivery of the first bad event, when there is one.
    pub forwarded: Option<Delivery>,
    /// What differs, field by field, for an altered event.
    pub diff: Option<String>,
}

/// One event the kit sent.
struct SentEvent<'s> {
    sent: &'s Sent,
    key: (String, String),
    env: Envelope,
}

fn key_of(ce: Option<&CeAttributes>) -> Option<(String, String)> {
    let ce = ce?;
    Some((ce.source.clone()?, ce.id.clone()?))
}

fn sent_events(sent: &[Sent]) -> Vec<SentEvent<'_>> {
    let limits = Limits::default();
    sent.iter()
        .flat_map(|s| {
            let headers: Vec<(String, Vec<u8>)> = s
                .request
                .headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone().into_bytes()))
                .collect();
            decode_http_body(&headers, &s.request.body, Location::file("sent"), &limits)
                .into_iter()
                .filter_map(move |item| {
                    let env = item.result.ok()?;
                    let key = key_of(env.ce.as_ref())?;
                    Some(SentEvent { sent: s, key, env })
                })
        })
        .collect()
}

fn accepted(s: &SentEvent<'_>) -> bool {
    (200..300).contains(&s.sent.status)
}

fn accepted_keys(events: &[SentEvent<'_>]) -> usize {
    events
        .iter()
        .filter(|e| accepted(e))
        .map(|e| &e.key)
        .collect::<HashSet<_>>()
        .len()
}

/// The fields of LIS-011 that differ between what was accepted and what was forwarded.
fn core_diff(sent: &Envelope, fwd: &Envelope) -> Vec<String> {
    let (a, b) = (
        sent.ce.clone().unwrap_or_default(),
        fwd.ce.clone().unwrap_or_default(),
    );
    let mut out = Vec::new();
    let mut field = |name: &str, x: &Option<String>, y: &Option<String>| {
        let same = match name {
            "time" => same_instant(x.as_deref(), y.as_deref()),
            _ => x == y,
        };
        if !same {
            out.push(format!("{name}: accepted {x:?}, forwarded {y:?}"));
        }
    };
    field("specversion", &a.specversion, &b.specversion);
    field("id", &a.id, &b.id);
    field("source", &a.source, &b.source);
    field("type", &a.type_, &b.type_);
    field("subject", &a.subject, &b.subject);
    field("time", &a.time, &b.time);
    if sent.cdevent != fwd.cdevent {
        out.push(format!(
            "data: accepted {}, forwarded {}",
            short(&sent.cdevent),
            short(&fwd.cdevent)
        ));
    }
    out
}

fn same_instant(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => match (
            chrono::DateTime::parse_from_rfc3339(x),
            chrono::DateTime::parse_from_rfc3339(y),
        ) {
            (Ok(p), Ok(q)) => p == q,
            _ => x == y,
        },
        (x, y) => x == y,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

fn ext_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The extension attributes accepted that the forwarded copy lacks or changed.
fn extension_diff(sent: &Envelope, fwd: &Envelope) -> Vec<String> {
    let empty = BTreeMap::new();
    let a = sent.ce.as_ref().map_or(&empty, |c| &c.extensions);
    let b = fwd.ce.as_ref().map_or(&empty, |c| &c.extensions);
    a.iter()
        .filter_map(|(k, v)| match b.get(k) {
            None => Some(format!("{k}: accepted {:?}, not forwarded", ext_text(v))),
            Some(w) if ext_text(v) != ext_text(w) => Some(format!(
                "{k}: accepted {:?}, forwarded {:?}",
                ext_text(v),
                ext_text(w)
            )),
            Some(_) => None,
        })
        .collect()
}

/// Tallies one rule: how many events it concerned, and the bad ones.
struct Tally<'a> {
    concerned: usize,
    bad: Vec<Bad<'a>>,
}

struct Bad<'a> {
    what: String,
    sent: Option<&'a Sent>,
    forwarded: Option<&'a Delivery>,
    diff: Option<String>,
}

impl<'a> Tally<'a> {
    fn new() -> Self {
        Tally {
            concerned: 0,
            bad: Vec::new(),
        }
    }

    fn verdict(
        self,
        requirement: &'static str,
        what: &'static str,
        expected: &str,
        none: &str,
    ) -> Verdict {
        let expected = expected.to_owned();
        let judgement = if self.concerned == 0 {
            Judgement {
                status: Status::Skipped,
                message: none.to_owned(),
                expected,
                actual: "nothing concerned".into(),
            }
        } else if self.bad.is_empty() {
            Judgement {
                status: Status::Passed,
                message: format!("{} events checked", self.concerned),
                expected,
                actual: format!("all {} keep the rule", self.concerned),
            }
        } else {
            let list: Vec<&str> = self.bad.iter().take(5).map(|b| b.what.as_str()).collect();
            Judgement {
                status: Status::Failed,
                message: format!(
                    "{} of {} events break the rule",
                    self.bad.len(),
                    self.concerned
                ),
                expected,
                actual: format!(
                    "{}{}",
                    list.join("; "),
                    if self.bad.len() > 5 { "; …" } else { "" }
                ),
            }
        };
        let first = self.bad.into_iter().next();
        Verdict {
            requirement,
            what,
            judgement,
            sent: first.as_ref().and_then(|b| b.sent.cloned()),
            forwarded: first.as_ref().and_then(|b| b.forwarded.cloned()),
            diff: first.and_then(|b| b.diff),
        }
    }
}

/// Judges what the sink received against what the listener was sent and answered.
pub fn judge_forwarded(sent: &[Sent], rec: &Recording, settle: Duration) -> Vec<Verdict> {
    let events = sent_events(sent);
    let mut by_key: BTreeMap<&(String, String), Vec<&SentEvent<'_>>> = BTreeMap::new();
    for e in &events {
        by_key.entry(&e.key).or_default().push(e);
    }
    let is_accepted =
        |k: &(String, String)| by_key.get(k).is_some_and(|v| v.iter().any(|e| accepted(e)));
    let forwarded: Vec<(&Delivery, &Envelope, (String, String))> = rec
        .deliveries
        .iter()
        .flat_map(|d| {
            d.events
                .iter()
                .map(move |e| (d, &e.envelope, (e.source.clone(), e.id.clone())))
        })
        .collect();
    let arrived: HashSet<&(String, String)> = forwarded.iter().map(|(_, _, k)| k).collect();

    let mut missing = Tally::new();
    for (k, list) in &by_key {
        let Some(first) = list.iter().find(|e| accepted(e)) else {
            continue;
        };
        missing.concerned += 1;
        if !arrived.contains(*k) {
            missing.bad.push(Bad {
                what: format!("{} (id {}) did not arrive", first.sent.case, k.1),
                sent: Some(first.sent),
                forwarded: None,
                diff: None,
            });
        }
    }

    let (mut altered, mut extensions, mut extra) = (Tally::new(), Tally::new(), Tally::new());
    let refused = by_key.keys().filter(|k| !is_accepted(k)).count();
    extra.concerned = refused;
    for (d, env, k) in &forwarded {
        let Some(list) = by_key.get(k) else {
            extra.concerned += 1;
            extra.bad.push(Bad {
                what: format!(
                    "an event the kit never sent arrived (source {}, id {})",
                    k.0, k.1
                ),
                sent: None,
                forwarded: Some(d),
                diff: None,
            });
            continue;
        };
        let took: Vec<&&SentEvent<'_>> = list.iter().filter(|e| accepted(e)).collect();
        if took.is_empty() {
            extra.bad.push(Bad {
                what: format!(
                    "{} was refused (HTTP {}) but forwarded",
                    list[0].sent.case, list[0].sent.status
                ),
                sent: Some(list[0].sent),
                forwarded: Some(d),
                diff: None,
            });
            continue;
        }
        altered.concerned += 1;
        let diffs: Vec<Vec<String>> = took.iter().map(|e| core_diff(&e.env, env)).collect();
        let Some(same) = diffs.iter().position(Vec::is_empty) else {
            altered.bad.push(Bad {
                what: format!(
                    "{} arrived changed ({})",
                    took[0].sent.case,
                    diffs[0].join(", ")
                ),
                sent: Some(took[0].sent),
                forwarded: Some(d),
                diff: Some(diffs[0].join("\n")),
            });
            continue;
        };
        let origin = took[same];
        if origin
            .env
            .ce
            .as_ref()
            .is_some_and(|c| !c.extensions.is_empty())
        {
            extensions.concerned += 1;
            let lost = extension_diff(&origin.env, env);
            if !lost.is_empty() {
                extensions.bad.push(Bad {
                    what: format!("{}: {}", origin.sent.case, lost.join(", ")),
                    sent: Some(origin.sent),
                    forwarded: Some(d),
                    diff: Some(lost.join("\n")),
                });
            }
        }
    }
    let wait = humantime::format_duration(settle).to_string();
    vec![
        missing.verdict(
            "LIS-010",
            "every accepted event is forwarded",
            &format!("every event answered 2xx reaches the forward target within {wait}"),
            "the listener accepted no event the kit could follow",
        ),
        altered.verdict(
            "LIS-011",
            "forwarded events are unchanged",
            "specversion, id, source, type, subject, time and data as accepted",
            "no accepted event was forwarded",
        ),
        extensions.verdict(
            "LIS-012",
            "forwarded events keep their extensions",
            "every extension attribute accepted arrives with its value",
            "no accepted event with extension attributes was forwarded",
        ),
        extra.verdict(
            "LIS-013",
            "nothing is forwarded that was not accepted",
            "no refused event and no unknown event reaches the forward target",
            "no event was refused and nothing unknown was forwarded",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::listener::corpus::probe_request;
    use crate::faults::Fault;
    use crate::wire::{ce_attributes_for, encode, Mode};
    use cdevents_schemas::SpecVersion;

    fn event(label: &str) -> Value {
        probe_request(SpecVersion::DEFAULT, 3, label)
            .expect("a probe event")
            .1
    }

    fn request(mode: Mode, ev: &Value, edit: impl FnOnce(&mut CeAttributes)) -> WireRequest {
        let mut ce = ce_attributes_for(ev);
        edit(&mut ce);
        encode(mode, &[(ce, ev.clone())])
    }

    fn sent(case: &str, request: WireRequest, status: u16) -> Sent {
        Sent {
            case: case.into(),
            request,
            status,
        }
    }

    /// What the sink would record for `req`.
    fn delivery(index: u64, req: &WireRequest) -> Delivery {
        let headers: Vec<(String, Vec<u8>)> = req
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone().into_bytes()))
            .collect();
        let events = decode_http_body(&headers, &req.body, Location::file("f"), &Limits::default())
            .into_iter()
            .filter_map(|i| i.result.ok())
            .map(|envelope| {
                let ce = envelope.ce.clone().unwrap_or_default();
                crate::drivers::sender::EventRef {
                    source: ce.source.unwrap_or_default(),
                    id: ce.id.unwrap_or_default(),
                    envelope,
                }
            })
            .collect();
        Delivery {
            index,
            connection: index,
            received: Duration::ZERO,
            answered: Duration::ZERO,
            method: "POST".into(),
            path: "/".into(),
            headers,
            body: req.body.clone(),
            refused: None,
            events,
            decode_errors: Vec::new(),
            attempt: 0,
            fault: Fault::None,
            status: Some(202),
            retry_after: None,
        }
    }

    fn statuses(sent: &[Sent], fwd: &[WireRequest]) -> Vec<(&'static str, Status)> {
        let rec = Recording {
            deliveries: fwd
                .iter()
                .enumerate()
                .map(|(i, r)| delivery(i as u64, r))
                .collect(),
            ..Recording::default()
        };
        judge_forwarded(sent, &rec, Duration::from_secs(1))
            .into_iter()
            .map(|v| (v.requirement, v.judgement.status))
            .collect()
    }

    use Status::{Failed, Passed, Skipped};

    #[test]
    fn unchanged_in_another_mode_passes() {
        let ev = event("a");
        let bin = request(Mode::Binary, &ev, |_| {});
        let structured = request(Mode::Structured, &ev, |_| {});
        assert_eq!(
            statuses(&[sent("c", bin, 202)], &[structured]),
            [
                ("LIS-010", Passed),
                ("LIS-011", Passed),
                ("LIS-012", Skipped),
                ("LIS-013", Skipped)
            ]
        );
    }

    #[test]
    fn missing_altered_and_extra_fail_their_requirement() {
        let (a, b) = (event("a"), event("b"));
        let req_a = request(Mode::Binary, &a, |_| {});
        let req_b = request(Mode::Binary, &b, |_| {});
        // a is taken but never arrives.
        let s = statuses(&[sent("a", req_a.clone(), 202)], &[]);
        assert_eq!(s[0], ("LIS-010", Failed));
        // a arrives with another subject, or another time instant.
        let other_subject = request(Mode::Binary, &a, |ce| ce.subject = Some("x".into()));
        let s = statuses(&[sent("a", req_a.clone(), 202)], &[other_subject]);
        assert_eq!(s[1], ("LIS-011", Failed));
        let other_time = request(Mode::Binary, &a, |ce| {
            ce.time = Some("2001-01-01T00:00:00Z".into())
        });
        let s = statuses(&[sent("a", req_a.clone(), 202)], &[other_time]);
        assert_eq!(s[1], ("LIS-011", Failed));
        // The same instant written otherwise is the same time.
        let t = ce_attributes_for(&a).time.unwrap_or_default();
        let same = chrono::DateTime::parse_from_rfc3339(&t)
            .map(|d| {
                d.with_timezone(&chrono::FixedOffset::east_opt(3600).expect("offset"))
                    .to_rfc3339()
            })
            .unwrap_or_default();
        let same_time = request(Mode::Binary, &a, |ce| ce.time = Some(same));
        let s = statuses(&[sent("a", req_a.clone(), 202)], &[same_time]);
        assert_eq!(s[1], ("LIS-011", Passed));
        // b was refused and still forwarded; an event never sent arrives.
        let s = statuses(
            &[sent("a", req_a.clone(), 202), sent("b", req_b.clone(), 400)],
            &[req_a.clone(), req_b],
        );
        assert_eq!(s[3], ("LIS-013", Failed));
        let s = statuses(&[], &[req_a]);
        assert_eq!(s[3], ("LIS-013", Failed));
    }

    #[test]
    fn extensions_are_compared_as_strings() {
        let ev = event("a");
        let with = |v: Value| {
            request(Mode::Structured, &ev, |ce| {
                ce.extensions.insert("kitext".into(), v);
            })
        };
        let sent_one = [sent("a", with(Value::from("7")), 202)];
        assert_eq!(
            statuses(&sent_one, &[with(Value::from(7))])[2],
            ("LIS-012", Passed)
        );
        assert_eq!(
            statuses(&sent_one, &[with(Value::from("8"))])[2],
            ("LIS-012", Failed)
        );
        let stripped = request(Mode::Structured, &ev, |_| {});
        assert_eq!(statuses(&sent_one, &[stripped])[2], ("LIS-012", Failed));
    }
}
