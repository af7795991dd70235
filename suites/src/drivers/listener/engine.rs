//! Runs the cases against one target and emits one [`CaseResult`] per case, in the order they
//! finish. Well-formed cases run concurrently; hostile input and redelivery run one at a time,
//! each hostile input followed by a liveness probe. A target that stops answering ends the run
//! early: the cases left are errored ("not run"), never a wall of failures.

use std::time::Duration;

use cdevents_reports::model::{shell_quote, CaseResult, Evidence, HttpMessage, Status};
use cdevents_reports::{Level, Role};
use cdevents_schemas::SpecVersion;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::client::{Client, Exchange, Response, Secret, SendError, Target};
use super::corpus::{probe_request, Auth, Case, Expect, Payload};
use super::judge::{judge, Judgement, Seen, Tally};
use super::observe::{Observer, Sent, Verdict};
use crate::requirements::Catalogue;
use crate::wire::WireRequest;

/// How a run goes.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The listener's URL.
    pub target: String,
    /// The longest wait for any one answer.
    pub timeout: Duration,
    /// The longest the whole run may take; cases left then are errored.
    pub budget: Duration,
    /// Well-formed cases in flight at once.
    pub concurrency: usize,
    /// The seed of the run (probes are generated from it too).
    pub seed: u64,
    /// The spec version of probe events and run-wide cases.
    pub probe_spec: SpecVersion,
    /// The command line that reruns the run; `--case ID` is appended per failed case.
    pub reproduce: Option<String>,
    /// The target's access token (`--token`): sent with every request, and needed by WH-014.
    pub token: Option<Secret>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            target: String::new(),
            timeout: Duration::from_secs(5),
            budget: Duration::from_secs(300),
            concurrency: 8,
            seed: 0,
            probe_spec: SpecVersion::DEFAULT,
            reproduce: None,
            token: None,
        }
    }
}

/// Why a run could not judge anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The target URL is unusable.
    #[error("{0}")]
    BadTarget(String),
    /// Nothing answers there.
    #[error("the target {url} is unreachable: {why}")]
    Unreachable {
        /// The target.
        url: String,
        /// What happened.
        why: String,
    },
}

/// Sends one valid event and requires an HTTP answer (any status) within the timeout.
pub async fn preflight(client: &Client, cfg: &RunConfig) -> Result<(), RunError> {
    preflight_logged(client, cfg, &mut Log::default()).await
}

async fn preflight_logged(client: &Client, cfg: &RunConfig, log: &mut Log) -> Result<(), RunError> {
    let unreachable = |why: String| RunError::Unreachable {
        url: cfg.target.clone(),
        why,
    };
    let (req, _) = probe_request(cfg.probe_spec, cfg.seed, "preflight")
        .ok_or_else(|| RunError::BadTarget("cannot generate a probe event".into()))?;
    let payload = Payload::Http(req);
    match client.send(&payload).await.outcome {
        Ok(r) => {
            log.sent(payload.request(), "preflight", &r);
            Ok(())
        }
        Err(SendError::Timeout(t)) => Err(unreachable(format!(
            "a valid event got no HTTP answer within {}",
            humantime::format_duration(t)
        ))),
        Err(e) => Err(unreachable(e.to_string())),
    }
}

/// Parses the target and checks that it answers, before anything is reported.
pub async fn check_target(cfg: &RunConfig) -> Result<(), RunError> {
    let target = Target::parse(&cfg.target).map_err(RunError::BadTarget)?;
    let client = Client::new(target, cfg.timeout)
        .map_err(RunError::BadTarget)?
        .with_token(cfg.token.clone());
    preflight(&client, cfg).await
}

/// Runs `cases` against `cfg.target`, calling `emit` once per result as results come.
pub async fn run(
    cfg: &RunConfig,
    cases: Vec<Case>,
    emit: impl FnMut(CaseResult),
) -> Result<(), RunError> {
    run_observed(cfg, cases, None, emit).await
}

/// A rule every answer of the run keeps: requirement, what, which answers it concerns, which
/// break it, and the rule in words.
type RunWide = (
    &'static str,
    &'static str,
    fn(&Seen<'_>) -> bool,
    fn(&Seen<'_>) -> bool,
    &'static str,
);

/// No redirect (WH-004), a Content-Type on 200/201 bodies (WH-007), a Retry-After on 429
/// (WH-009).
const RUN_WIDE: [RunWide; 3] = [
    (
        "WH-004",
        "no 3xx redirect",
        |_| true,
        |s| (300..400).contains(&s.status),
        "no 3xx redirect",
    ),
    (
        "WH-007",
        "a Content-Type on every 200 or 201 with a body",
        |s| matches!(s.status, 200 | 201) && s.has_body,
        |s| !s.has_content_type,
        "a 200 or 201 with a body carries a Content-Type",
    ),
    (
        "WH-009",
        "a Retry-After on every 429",
        |s| s.status == 429,
        |s| !s.has_retry_after,
        "a 429 carries Retry-After",
    ),
];

/// What the run sent and heard, for the run-wide checks.
#[derive(Debug, Default)]
struct Log {
    /// The [`RUN_WIDE`] rules' tallies of the answers.
    answers: [Tally; 3],
    /// Every request with a CloudEvent and its status, kept only under observation.
    sent: Option<Vec<Sent>>,
}

impl Log {
    fn observing() -> Self {
        Log {
            sent: Some(Vec::new()),
            ..Log::default()
        }
    }

    /// Notes an answer for the run-wide rules.
    fn answer(&mut self, case: &str, r: &Response) {
        let s = Seen::of(case, r);
        for (t, (_, _, concerned, breaks, _)) in self.answers.iter_mut().zip(&RUN_WIDE) {
            t.note(&s, concerned, breaks);
        }
    }

    fn sent(&mut self, req: Option<&WireRequest>, case: &str, r: &Response) {
        if let (Some(sent), Some(req)) = (self.sent.as_mut(), req) {
            sent.push(Sent {
                case: case.to_owned(),
                request: req.clone(),
                status: r.status,
            });
        }
    }

    fn extend(&mut self, other: Log) {
        for (t, later) in self.answers.iter_mut().zip(other.answers) {
            t.extend(later);
        }
        if let (Some(a), Some(b)) = (self.sent.as_mut(), other.sent) {
            a.extend(b);
        }
    }
}

/// [`run`], and with an [`Observer`] the forwarded-event checks (LIS-010 to LIS-013) after
/// the cases: the listener under test forwards what it accepts to the observer's sink.
pub async fn run_observed(
    cfg: &RunConfig,
    cases: Vec<Case>,
    observer: Option<&Observer>,
    mut emit: impl FnMut(CaseResult),
) -> Result<(), RunError> {
    let target = Target::parse(&cfg.target).map_err(RunError::BadTarget)?;
    let client = Client::new(target, cfg.timeout)
        .map_err(RunError::BadTarget)?
        .with_token(cfg.token.clone());
    let mut log = if observer.is_some() {
        Log::observing()
    } else {
        Log::default()
    };
    let observing = observer.is_some();
    preflight_logged(&client, cfg, &mut log).await?;
    let started = Instant::now();
    let over_budget = || started.elapsed() > cfg.budget;
    let budget_note = format!(
        "not run: the time budget of {} ran out",
        humantime::format_duration(cfg.budget)
    );
    let (sequential, parallel): (Vec<Case>, Vec<Case>) =
        cases.into_iter().partition(Case::sequential);

    // One copy of each for all the tasks, not one per case.
    let shared = std::sync::Arc::new((client.clone(), cfg.clone()));
    let mut set = JoinSet::new();
    let mut pending = parallel.into_iter();
    loop {
        while set.len() < cfg.concurrency.max(1) {
            let Some(case) = pending.next() else { break };
            if over_budget() {
                emit(not_run(cfg, &case, &budget_note));
                continue;
            }
            let shared = shared.clone();
            // Spawned as it is: the rare paths' states are boxed inside `exec`, so the task
            // (future and output) is one allocation, not a box of the case inside another.
            set.spawn(async move {
                let (client, cfg) = &*shared;
                exec(client, cfg, case, observing).await
            });
        }
        match set.join_next().await {
            Some(Ok(mut done)) => {
                log.extend(std::mem::take(&mut done.log));
                done.emit(&mut emit);
            }
            Some(Err(e)) => return Err(RunError::BadTarget(format!("a case task failed: {e}"))),
            None => break,
        }
    }

    let mut dead: Option<String> = None;
    for case in sequential {
        if let Some(after) = &dead {
            let why = format!("not run: the target stopped answering after {after}");
            emit(not_run(cfg, &case, &why));
            continue;
        }
        if over_budget() {
            emit(not_run(cfg, &case, &budget_note));
            continue;
        }
        let id = case.id.clone();
        let mut done = exec(&client, cfg, case, observing).await;
        log.extend(std::mem::take(&mut done.log));
        let silent = done.probe_silent;
        done.emit(&mut emit);
        if silent {
            dead = Some(id);
        }
    }

    for r in run_wide(cfg, &log.answers) {
        emit(r);
    }
    if let (Some(obs), Some(sent)) = (observer, &log.sent) {
        for v in obs.judge(sent).await {
            emit(observed(cfg, &client, v));
        }
    }
    Ok(())
}

/// The result of one observation verdict, with the first bad event as evidence.
fn observed(cfg: &RunConfig, client: &Client, v: Verdict) -> CaseResult {
    let id = format!("{}/observed", v.requirement);
    let mut r = result(
        cfg,
        &id,
        v.requirement,
        cfg.probe_spec,
        v.what,
        v.judgement,
        None,
    );
    if r.status.is_pass() {
        return r;
    }
    let forwarded = v.forwarded.as_ref().map(|d| {
        let headers: Vec<(&str, &[u8])> = d
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        HttpMessage::capped(
            format!("{} {} HTTP/1.1 (as forwarded)", d.method, d.path),
            headers,
            &d.body,
        )
    });
    r.evidence = Some(Evidence {
        request: v
            .sent
            .as_ref()
            .map(|s| client.message_of(&s.request))
            .or_else(|| forwarded.clone()),
        event: v
            .forwarded
            .as_ref()
            .and_then(|d| d.events.first())
            .map(|e| e.envelope.cdevent.clone()),
        diff: v.diff.clone(),
        ..Evidence::default()
    });
    // Rerunning the case of the first bad event shows it again; an unknown event needs the
    // whole run.
    r.reproduce = cfg.reproduce.as_ref().map(|p| {
        let case = v.sent.as_ref().map(|s| {
            let c = s.case.strip_prefix("LIS-006/after/").unwrap_or(&s.case);
            c.strip_suffix("/again").unwrap_or(c).to_owned()
        });
        match case {
            Some(c) if c != "preflight" => format!("{p} --case {}", shell_quote(&c)),
            _ => p.clone(),
        }
    });
    r
}

/// What one case produced.
struct Done {
    result: CaseResult,
    /// The verdict of the liveness probe after it (LIS-006), when it has its own.
    /// Boxed: only hostile input has one, and every task's output slot is this size.
    probe: Option<Box<CaseResult>>,
    log: Log,
    /// The liveness probe after it got no answer, twice.
    probe_silent: bool,
}

impl Done {
    /// Emits the case's result, then its probe's.
    fn emit(self, emit: &mut impl FnMut(CaseResult)) {
        emit(self.result);
        if let Some(p) = self.probe {
            emit(*p);
        }
    }
}

/// Runs one case: the request (twice for redelivery), its verdict, and its probe.
async fn exec(client: &Client, cfg: &RunConfig, mut case: Case, observing: bool) -> Done {
    let t0 = Instant::now();
    let mut seen = if observing {
        Log::observing()
    } else {
        Log::default()
    };
    if case.needs_token() && !client.has_token() {
        let why = "not judged: the run has no access token (give the target's with --token)";
        let j = Judgement {
            status: Status::Skipped,
            message: why.into(),
            expected: case.expect.describe(),
            actual: why.into(),
        };
        return Done {
            result: result(
                cfg,
                &case.id,
                case.requirement,
                case.spec,
                &case.what,
                j,
                None,
            ),
            probe: None,
            log: seen,
            probe_silent: false,
        };
    }
    let auth = case.auth;
    let owned = match &mut case.payload {
        // Sent once: the request moves into the evidence, its body shared with the client.
        Payload::Http(req) if !case.repeat && auth == Auth::Default => {
            let none = WireRequest {
                method: String::new(),
                headers: Vec::new(),
                body: Vec::new(),
            };
            Some(std::mem::replace(req, none))
        }
        _ => None,
    };
    let mut ex = match owned {
        Some(req) => send_owned_retrying(client, req, &case.id, &mut seen).await,
        // Boxed, as the probe below: the states of these rarer paths stay out of every case's
        // future (which tokio allocates and moves per case).
        None => {
            Box::pin(send_retrying(
                client,
                &case.payload,
                auth,
                &case.id,
                &mut seen,
            ))
            .await
        }
    };
    let mut j = judge(case.expect, &ex.outcome);
    if case.repeat && j.status == Status::Passed {
        ex = Box::pin(send_retrying(
            client,
            &case.payload,
            auth,
            &case.id,
            &mut seen,
        ))
        .await;
        j = judge(case.expect, &ex.outcome);
        j.message = format!("the second delivery: {}", j.message);
    } else if case.repeat {
        j.status = Status::Errored;
        j.message = format!(
            "no verdict: the first delivery was not taken ({}), so a redelivery means nothing",
            j.actual
        );
    }
    let mut probe_result = None;
    let mut probe_silent = false;
    if case.probe_after {
        let (probe, silent) = Box::pin(liveness(client, cfg, &case, &mut seen)).await;
        probe_silent = silent;
        if case.expect == Expect::Anything {
            // A hostile-only case: the probe is its verdict.
            j = Judgement {
                status: probe.status,
                message: format!("{}; then a valid event: {}", j.actual, probe.message),
                expected: "a valid event sent next is still taken (2xx)".into(),
                actual: probe.actual,
            };
        } else {
            let id = format!("LIS-006/after/{}", case.id);
            let mut p = result(cfg, &id, "LIS-006", case.spec, &case.what, probe, None);
            p.duration_ms = Some(t0.elapsed().as_millis() as u64);
            probe_result = Some(Box::new(p));
        }
    }
    let mut r = result(
        cfg,
        std::mem::take(&mut case.id),
        case.requirement,
        case.spec,
        &case.what,
        j,
        Some(ex),
    );
    // The case is this task's own: its event moves into the evidence, uncopied.
    if let (Some(ev), Some(e)) = (case.event.take(), r.evidence.as_mut()) {
        e.event = Some(ev);
    }
    r.duration_ms = Some(t0.elapsed().as_millis() as u64);
    Done {
        result: r,
        probe: probe_result,
        log: seen,
        probe_silent,
    }
}

/// Sends a valid event after hostile input; a silent target is probed once more.
async fn liveness(
    client: &Client,
    cfg: &RunConfig,
    case: &Case,
    seen: &mut Log,
) -> (Judgement, bool) {
    let mut last = None;
    for attempt in ["", "/again"] {
        let label = format!("{}{attempt}", case.id);
        let Some((req, _)) = probe_request(cfg.probe_spec, cfg.seed, &label) else {
            break;
        };
        let payload = Payload::Http(req);
        let name = format!("LIS-006/after/{label}");
        let ex = send_retrying(client, &payload, Auth::Default, &name, seen).await;
        let j = judge(Expect::Accepted, &ex.outcome);
        match &ex.outcome {
            Ok(_) => {
                let mut j = j;
                if j.status == Status::Failed {
                    j.message = "a valid event sent after the hostile input was not taken".into();
                }
                return (j, false);
            }
            Err(e) => last = Some(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let why = last.unwrap_or_else(|| "no probe event".into());
    let j = Judgement {
        status: Status::Failed,
        message: "the listener stopped answering after the hostile input".into(),
        expected: "a valid event sent next is still taken (2xx)".into(),
        actual: format!("two valid events got no answer: {why}"),
    };
    (j, true)
}

/// Sends, and on 429 waits as Retry-After says (at most 2 s, 200 ms without it) and tries
/// again, three times at most.
async fn send_retrying(
    client: &Client,
    payload: &Payload,
    auth: Auth,
    case: &str,
    log: &mut Log,
) -> Exchange {
    let mut attempt = 0;
    loop {
        let ex = client.send_as(payload, auth).await;
        match noted(log, payload.request(), case, &ex.outcome, attempt) {
            Some(d) => {
                attempt += 1;
                tokio::time::sleep(d).await;
            }
            None => return ex,
        }
    }
}

/// [`send_retrying`] of a well-formed request with the default auth, which it owns: the
/// same exchange, its evidence built by moving the request in.
async fn send_owned_retrying(
    client: &Client,
    mut req: WireRequest,
    case: &str,
    log: &mut Log,
) -> Exchange {
    let mut attempt = 0;
    loop {
        let (back, outcome) = client.send_owned(req).await;
        req = back;
        match noted(log, Some(&req), case, &outcome, attempt) {
            Some(d) => {
                attempt += 1;
                tokio::time::sleep(d).await;
            }
            None => return client.exchange_of(req, outcome),
        }
    }
}

/// Notes an answer in the log; how long to wait before trying again after a 429.
fn noted(
    log: &mut Log,
    req: Option<&WireRequest>,
    case: &str,
    outcome: &Result<Response, SendError>,
    attempt: u32,
) -> Option<Duration> {
    let r = outcome.as_ref().ok()?;
    log.answer(case, r);
    log.sent(req, case, r);
    (r.status == 429 && attempt < 3).then(|| retry_after(r))
}

fn retry_after(r: &Response) -> Duration {
    match r.header("retry-after").map(str::trim) {
        Some(v) => v
            .parse::<u64>()
            .map(|s| Duration::from_secs(s.min(2)))
            .unwrap_or(Duration::from_secs(1)),
        None => Duration::from_millis(200),
    }
}

fn level_of(requirement: &str) -> Level {
    Catalogue::embedded()
        .get(requirement)
        .map(|r| r.level)
        .unwrap_or(Level::Must)
}

fn result(
    cfg: &RunConfig,
    id: impl Into<String>,
    requirement: &str,
    spec: SpecVersion,
    what: &str,
    j: Judgement,
    ex: Option<Exchange>,
) -> CaseResult {
    let mut c = CaseResult::new(
        id,
        requirement,
        level_of(requirement),
        j.status,
        format!("{what}: {}", j.message),
    );
    c.roles = vec![Role::Listener];
    c.spec = Some(spec.as_str().to_owned());
    c.expected = Some(j.expected);
    c.actual = Some(j.actual);
    if let Some(ex) = ex {
        c.evidence = Some(Evidence {
            response: ex.outcome.ok().map(Response::into_message),
            request: Some(ex.request),
            curl: ex.curl,
            curl_to: ex.curl_to,
            ..Evidence::default()
        });
    }
    if !c.status.is_pass() {
        c.reproduce = cfg
            .reproduce
            .as_ref()
            .map(|p| format!("{p} --case {}", shell_quote(&c.case)));
    }
    c
}

fn not_run(cfg: &RunConfig, case: &Case, why: &str) -> CaseResult {
    let j = Judgement {
        status: Status::Errored,
        message: why.to_owned(),
        expected: case.expect.describe(),
        actual: why.to_owned(),
    };
    result(
        cfg,
        &case.id,
        case.requirement,
        case.spec,
        &case.what,
        j,
        None,
    )
}

/// The verdicts of the [`RUN_WIDE`] rules over every answer of the run.
fn run_wide(cfg: &RunConfig, answers: &[Tally; 3]) -> Vec<CaseResult> {
    answers
        .iter()
        .zip(&RUN_WIDE)
        .map(|(t, &(req, what, _, _, rule))| {
            let j = t.judgement(rule);
            let id = format!("{req}/every-answer");
            let j = j.unwrap_or_else(|| Judgement {
                status: Status::Skipped,
                message: "no answer of the run was concerned".into(),
                expected: what.to_owned(),
                actual: "none seen".into(),
            });
            result(cfg, &id, req, cfg.probe_spec, what, j, None)
        })
        .collect()
}
