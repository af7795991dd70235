//! The listener suite: the kit is the sender, the target is an HTTP endpoint that receives
//! CDEvents as CloudEvents.
//!
//! - [`corpus`]: the cases, as data ([`cases`] is pure: same options, same cases, same bytes);
//! - [`client`]: sends one case, with reqwest for well-formed requests and a raw TCP client for
//!   what a well-behaved library refuses to send;
//! - [`judge`]: pure verdicts from what was sent and what came back;
//! - [`observe`]: with `--observe`, the events the listener forwards, judged against what it
//!   accepted;
//! - [`engine`]: runs the cases (concurrency, liveness probes, redelivery, time budget) and
//!   emits one [`CaseResult`](cdevents_reports::model::CaseResult) per case. It never prints.

pub mod client;
pub mod corpus;
pub mod engine;
pub mod judge;
pub mod observe;

pub use client::{Client, Exchange, Response, Secret, SendError, Target};
pub use corpus::{cases, Auth, Case, Expect, Hostile, Options, Payload};
pub use engine::{check_target, preflight, run, run_observed, RunConfig, RunError};
pub use judge::{judge, Judgement};
pub use observe::{judge_forwarded, Observer, Sent, Verdict};
