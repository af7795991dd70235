//! The sender suite's driver: the kit is the receiver. A [`Sink`] listens, records every
//! request raw (method, path, headers as received, body bytes up to a cap, arrival and answer
//! times, the fault applied) and answers as the [fault plan](crate::faults) says; [`judge`]
//! then turns the recording into one case per requirement.
//!
//! # Manifest
//!
//! A sender under test may print a manifest on its standard output: one JSON object per line
//! for each event it sent, with at least `id` and `source` (its CloudEvents id and source;
//! `type` and `subject` may follow). Other lines are ignored. The reference sender prints:
//!
//! ```text
//! {"id":"5f0c…","source":"https://cdevents-conformance.invalid/reference-sender","type":"dev.cdevents.pipelinerun.queued.0.2.0","subject":"pipelinerun-1-0"}
//! ```
//!
//! With a manifest the suite judges completeness: events listed but never received (lost),
//! received but not listed (unexpected), acknowledged more than once (duplicated).

mod judge;
mod lifecycle;
mod record;
mod shape;
mod sink;
mod webhook;

pub use judge::{judge, Claims, Guarantee, Ordering};
pub use lifecycle::{lifecycle_rank, LIFECYCLES};
pub use record::{
    read_recording, write_recording, RecordingError, RECORDING_VERSION, REDACTED_TOKEN,
};
pub use sink::{
    Delivery, EventRef, ManifestEntry, Observer, Recording, Sink, SinkConfig, SinkStats,
    REDIRECT_PATH,
};
