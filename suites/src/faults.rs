//! Fault plans: which deliveries a sink answers badly, chosen reproducibly from a seed.
//!
//! The sender suite's sink (and the relay suite's) answers a share of deliveries with an
//! error so that the implementation under test must retry. A plan is written as a
//! comma-separated list, as `--faults PLAN` takes it:
//!
//! - a named plan first, optionally: `none`, `transient` (only retryable failures: 503, 500,
//!   429 with `Retry-After`, 408, a delay past the sender's timeout, a reset connection) or
//!   `hostile` (those and the permanent client errors 400, 413 and 415);
//! - `KIND:RATE` items, each the share of deliveries (0 to 1) answered that way, where `KIND`
//!   is `503`, `500`, `429`, `408`, `400`, `413`, `415`, `delay`, `reset`, `410` (Gone: the
//!   sender should stop delivering) or `redirect` (307 to a path of the sink that is never
//!   given out; no named plan includes these two). They add to or override the named plan's
//!   rates; the rates may sum to at most 1;
//! - settings `max=N` (at most N faults per event: attempt N and later always succeed, so
//!   that every event *can* be delivered; default 3), `delay=DURATION` (how long a `delay`
//!   fault holds the answer before answering 503; default 10s; pick more than the sender's
//!   timeout) and `retry-after=SECONDS` (the `Retry-After` of a 429; default 1).
//!
//! Examples: `transient`, `hostile,delay=1s`, `503:0.2,429:0.1,reset:0.05,max=2`.
//!
//! A decision depends only on the seed, the event (its CloudEvents source and id) and the
//! attempt number (how many deliveries of that event the sink saw before), never on timing
//! or on the order in which concurrent deliveries arrive: the same seed replays the same
//! fault schedule.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One way of answering a delivery badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// 503 Service Unavailable.
    S503,
    /// 500 Internal Server Error.
    S500,
    /// 429 Too Many Requests, with `Retry-After`.
    S429,
    /// 408 Request Timeout.
    S408,
    /// 400 Bad Request (permanent).
    S400,
    /// 413 Payload Too Large (permanent).
    S413,
    /// 415 Unsupported Media Type (permanent).
    S415,
    /// Hold the answer past the sender's timeout, then answer 503.
    Delay,
    /// Close the connection without answering.
    Reset,
    /// 410 Gone: the sender should stop delivering to this target (WH-008).
    S410,
    /// 307 Temporary Redirect to a path of the sink that is never given out: a sender must not
    /// follow it (WH-005).
    Redirect,
}

impl FaultKind {
    /// Every kind, in the order plans are written.
    pub const ALL: [FaultKind; 11] = [
        FaultKind::S503,
        FaultKind::S500,
        FaultKind::S429,
        FaultKind::S408,
        FaultKind::S400,
        FaultKind::S413,
        FaultKind::S415,
        FaultKind::Delay,
        FaultKind::Reset,
        FaultKind::S410,
        FaultKind::Redirect,
    ];

    /// The name used in plans.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::S503 => "503",
            FaultKind::S500 => "500",
            FaultKind::S429 => "429",
            FaultKind::S408 => "408",
            FaultKind::S400 => "400",
            FaultKind::S413 => "413",
            FaultKind::S415 => "415",
            FaultKind::Delay => "delay",
            FaultKind::Reset => "reset",
            FaultKind::S410 => "410",
            FaultKind::Redirect => "redirect",
        }
    }

    /// The status answered, if the fault answers at all (a delay answers 503 in the end).
    pub fn status(self) -> Option<u16> {
        match self {
            FaultKind::S503 | FaultKind::Delay => Some(503),
            FaultKind::S500 => Some(500),
            FaultKind::S429 => Some(429),
            FaultKind::S408 => Some(408),
            FaultKind::S400 => Some(400),
            FaultKind::S413 => Some(413),
            FaultKind::S415 => Some(415),
            FaultKind::Reset => None,
            FaultKind::S410 => Some(410),
            FaultKind::Redirect => Some(307),
        }
    }

    /// Whether a sender must not repeat the same request after it (a permanent client error).
    pub fn is_permanent(self) -> bool {
        matches!(self, FaultKind::S400 | FaultKind::S413 | FaultKind::S415)
    }

    /// Whether a conformant sender gives the event up after it: a permanent client error, 410
    /// Gone, or a redirect it must not follow.
    pub fn ends_delivery(self) -> bool {
        self.is_permanent() || matches!(self, FaultKind::S410 | FaultKind::Redirect)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FaultKind {
    type Err = FaultPlanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| FaultPlanError::UnknownKind(s.to_owned()))
    }
}

/// What the sink does with one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Accept it (the sink's own judgement still applies).
    None,
    /// Answer badly this way.
    Inject(FaultKind),
}

impl Fault {
    /// The kind, when it is a fault.
    pub fn kind(self) -> Option<FaultKind> {
        match self {
            Fault::None => None,
            Fault::Inject(k) => Some(k),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::None => f.write_str("none"),
            Fault::Inject(k) => k.fmt(f),
        }
    }
}

/// Why a plan could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultPlanError {
    /// Not a fault kind.
    #[error("unknown fault `{0}` (expected 503, 500, 429, 408, 400, 413, 415, delay, reset, 410 or redirect)")]
    UnknownKind(String),
    /// Not a named plan, `KIND:RATE` nor a setting.
    #[error("cannot read `{0}` in a fault plan: expected none, transient, hostile, KIND:RATE, max=N, delay=DURATION or retry-after=SECONDS")]
    Item(String),
    /// A rate outside 0..=1.
    #[error("the rate of `{0}` must be a number from 0 to 1")]
    Rate(String),
    /// The rates add to more than 1.
    #[error("the fault rates add up to {0}, more than 1")]
    Sum(f64),
    /// A named plan after the first item.
    #[error("the named plan `{0}` must come first")]
    NameNotFirst(String),
}

/// A seeded, reproducible schedule of faults. See the module doc for the language.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// The named plan it started from (`none` when written without one).
    pub base: &'static str,
    /// The share of deliveries answered with each kind, in [`FaultKind::ALL`] order; kinds
    /// with rate 0 are absent.
    pub rates: Vec<(FaultKind, f64)>,
    /// At most this many faults per event.
    pub max_per_event: u32,
    /// How long a `delay` fault holds the answer.
    pub delay: Duration,
    /// The `Retry-After` (seconds) of a 429.
    pub retry_after_secs: u64,
}

const DEFAULT_MAX: u32 = 3;
const DEFAULT_DELAY: Duration = Duration::from_secs(10);
const DEFAULT_RETRY_AFTER: u64 = 1;

const TRANSIENT: [(FaultKind, f64); 6] = [
    (FaultKind::S503, 0.15),
    (FaultKind::S500, 0.1),
    (FaultKind::S429, 0.05),
    (FaultKind::S408, 0.05),
    (FaultKind::Delay, 0.03),
    (FaultKind::Reset, 0.05),
];
const PERMANENT: [(FaultKind, f64); 3] = [
    (FaultKind::S400, 0.03),
    (FaultKind::S413, 0.02),
    (FaultKind::S415, 0.02),
];

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan::none()
    }
}

impl FaultPlan {
    /// No faults: every delivery is accepted.
    pub fn none() -> Self {
        FaultPlan {
            base: "none",
            rates: Vec::new(),
            max_per_event: DEFAULT_MAX,
            delay: DEFAULT_DELAY,
            retry_after_secs: DEFAULT_RETRY_AFTER,
        }
    }

    /// Only retryable failures, at most `max=3` per event.
    pub fn transient() -> Self {
        FaultPlan {
            base: "transient",
            rates: TRANSIENT.to_vec(),
            ..FaultPlan::none()
        }
    }

    /// Retryable failures and permanent client errors.
    pub fn hostile() -> Self {
        let mut p = FaultPlan {
            base: "hostile",
            ..FaultPlan::transient()
        };
        for (k, r) in PERMANENT {
            p.set_rate(k, r);
        }
        p
    }

    fn named(name: &str) -> Option<Self> {
        match name {
            "none" => Some(FaultPlan::none()),
            "transient" => Some(FaultPlan::transient()),
            "hostile" => Some(FaultPlan::hostile()),
            _ => None,
        }
    }

    /// Reads a plan (see the module doc).
    pub fn parse(s: &str) -> Result<Self, FaultPlanError> {
        let mut plan = FaultPlan::none();
        for (i, item) in s.split(',').map(str::trim).enumerate() {
            if item.is_empty() {
                continue;
            }
            if let Some(p) = FaultPlan::named(item) {
                if i != 0 {
                    return Err(FaultPlanError::NameNotFirst(item.to_owned()));
                }
                plan = p;
            } else if let Some((k, v)) = item.split_once('=') {
                let bad = || FaultPlanError::Item(item.to_owned());
                match k.trim() {
                    "max" => plan.max_per_event = v.trim().parse().map_err(|_| bad())?,
                    "delay" => {
                        plan.delay = humantime::parse_duration(v.trim()).map_err(|_| bad())?
                    }
                    "retry-after" => plan.retry_after_secs = v.trim().parse().map_err(|_| bad())?,
                    _ => return Err(bad()),
                }
            } else if let Some((k, v)) = item.split_once(':') {
                let kind: FaultKind = k.trim().parse()?;
                let rate: f64 = v
                    .trim()
                    .parse()
                    .map_err(|_| FaultPlanError::Rate(item.to_owned()))?;
                if !(0.0..=1.0).contains(&rate) {
                    return Err(FaultPlanError::Rate(item.to_owned()));
                }
                plan.set_rate(kind, rate);
            } else {
                return Err(FaultPlanError::Item(item.to_owned()));
            }
        }
        let sum = plan.total_rate();
        if sum > 1.0 + 1e-9 {
            return Err(FaultPlanError::Sum(sum));
        }
        Ok(plan)
    }

    fn set_rate(&mut self, kind: FaultKind, rate: f64) {
        self.rates.retain(|(k, _)| *k != kind);
        if rate > 0.0 {
            self.rates.push((kind, rate));
            self.rates.sort_by_key(|(k, _)| *k);
        }
    }

    /// The share of deliveries answered with a fault (before the per-event bound).
    pub fn total_rate(&self) -> f64 {
        self.rates.iter().map(|(_, r)| r).sum()
    }

    /// Whether the plan can answer with a permanent client error.
    pub fn has_permanent(&self) -> bool {
        self.rates.iter().any(|(k, _)| k.is_permanent())
    }

    /// Whether the plan injects nothing.
    pub fn is_none(&self) -> bool {
        self.rates.is_empty()
    }

    /// The fault for attempt `attempt` (0 for the first delivery) of the event `key`
    /// (see [`event_key`]), under `seed`. Pure: the same arguments give the same answer.
    pub fn decide(&self, seed: u64, key: u64, attempt: u32) -> Fault {
        if attempt >= self.max_per_event || self.rates.is_empty() {
            return Fault::None;
        }
        let x = unit(splitmix(
            seed ^ splitmix(key ^ splitmix(u64::from(attempt) + 1)),
        ));
        let mut acc = 0.0;
        for &(kind, rate) in &self.rates {
            acc += rate;
            if x < acc {
                return Fault::Inject(kind);
            }
        }
        Fault::None
    }
}

impl FromStr for FaultPlan {
    type Err = FaultPlanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultPlan::parse(s)
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = FaultPlan::named(self.base).unwrap_or_default();
        let mut items: Vec<String> = vec![self.base.to_owned()];
        for kind in FaultKind::ALL {
            let get = |p: &FaultPlan| p.rates.iter().find(|(k, _)| *k == kind).map(|x| x.1);
            let (mine, theirs) = (get(self), get(&base));
            if mine != theirs {
                items.push(format!("{kind}:{}", mine.unwrap_or(0.0)));
            }
        }
        if self.max_per_event != base.max_per_event {
            items.push(format!("max={}", self.max_per_event));
        }
        if self.delay != base.delay {
            items.push(format!("delay={}", humantime::format_duration(self.delay)));
        }
        if self.retry_after_secs != base.retry_after_secs {
            items.push(format!("retry-after={}", self.retry_after_secs));
        }
        f.write_str(&items.join(","))
    }
}

/// A stable 64-bit key for an event: FNV-1a over its CloudEvents source and id (stable across
/// platforms and releases, unlike `DefaultHasher`).
pub fn event_key(source: &str, id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in source.bytes().chain([0xff]).chain(id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn named_plans() {
        assert!(FaultPlan::parse("none").unwrap().is_none());
        let t = FaultPlan::parse("transient").unwrap();
        assert!(!t.has_permanent() && t.total_rate() > 0.0);
        let h = FaultPlan::parse("hostile").unwrap();
        assert!(h.has_permanent());
        assert_eq!(h.to_string(), "hostile");
        assert_eq!(t.to_string(), "transient");
        assert_eq!(FaultPlan::none().to_string(), "none");
    }

    #[test]
    fn explicit_plan() {
        let p = FaultPlan::parse("503:0.2,429:0.1,reset:0.05,delay:0.1,500:0.1,408:0.05").unwrap();
        assert_eq!(p.rates.len(), 6);
        assert!((p.total_rate() - 0.6).abs() < 1e-9);
        assert_eq!(
            p.to_string(),
            "none,503:0.2,500:0.1,429:0.1,408:0.05,delay:0.1,reset:0.05"
        );
        let q = FaultPlan::parse("transient,503:0,max=1,delay=1s,retry-after=2").unwrap();
        assert!(q.rates.iter().all(|(k, _)| *k != FaultKind::S503));
        assert_eq!(q.max_per_event, 1);
        assert_eq!(q.delay, Duration::from_secs(1));
        assert_eq!(q.retry_after_secs, 2);
        assert_eq!(FaultPlan::parse(&q.to_string()).unwrap(), q);
    }

    #[test]
    fn bad_plans() {
        for bad in [
            "nope",
            "503:2",
            "503:x",
            "999:0.1",
            "503:0.6,500:0.6",
            "503:0.1,hostile",
            "max=x",
        ] {
            assert!(FaultPlan::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bounded_per_event() {
        let p = FaultPlan::parse("503:1,max=2").unwrap();
        assert_eq!(p.decide(1, 7, 0), Fault::Inject(FaultKind::S503));
        assert_eq!(p.decide(1, 7, 1), Fault::Inject(FaultKind::S503));
        assert_eq!(p.decide(1, 7, 2), Fault::None);
    }

    #[test]
    fn rates_are_roughly_kept() {
        let p = FaultPlan::parse("503:0.2,reset:0.1").unwrap();
        let n = 20_000u64;
        let mut c503 = 0;
        let mut creset = 0;
        for k in 0..n {
            match p.decide(42, event_key("/s", &k.to_string()), 0) {
                Fault::Inject(FaultKind::S503) => c503 += 1,
                Fault::Inject(FaultKind::Reset) => creset += 1,
                _ => {}
            }
        }
        let r503 = c503 as f64 / n as f64;
        let rreset = creset as f64 / n as f64;
        assert!((r503 - 0.2).abs() < 0.02, "{r503}");
        assert!((rreset - 0.1).abs() < 0.02, "{rreset}");
    }

    fn arb_plan() -> impl Strategy<Value = FaultPlan> {
        (
            prop::sample::select(vec!["none", "transient", "hostile"]),
            prop::collection::vec(
                (prop::sample::select(FaultKind::ALL.to_vec()), 0u32..=10),
                0..4,
            ),
            0u32..6,
            0u64..5,
        )
            .prop_map(|(name, rates, max, ra)| {
                let mut p = FaultPlan::named(name).unwrap();
                for (k, r) in rates {
                    p.set_rate(k, f64::from(r) / 100.0);
                }
                p.max_per_event = max;
                p.retry_after_secs = ra;
                p
            })
    }

    proptest! {
        #[test]
        fn display_round_trips(p in arb_plan()) {
            prop_assert_eq!(FaultPlan::parse(&p.to_string()).unwrap(), p);
        }

        #[test]
        fn decide_is_deterministic_and_in_plan(p in arb_plan(), seed: u64, key: u64, attempt in 0u32..8) {
            let a = p.decide(seed, key, attempt);
            prop_assert_eq!(a, p.decide(seed, key, attempt));
            if let Fault::Inject(k) = a {
                prop_assert!(p.rates.iter().any(|(x, _)| *x == k));
                prop_assert!(attempt < p.max_per_event);
            }
        }
    }
}
