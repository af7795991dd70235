//! A CDEvents sender written the way the `cdevents-sdk` README shows: CDEvents built from the
//! SDK's generated types, turned into CloudEvents by the SDK's `TryFrom<CDEvent> for Event`,
//! and sent with cloudevents-sdk's reqwest binding, to `CDEVENTS_SINK_URL` (the trigger
//! contract of `test sender`). It prints the manifest the sender suite reads, one
//! [`ManifestEntry`] per line.
//!
//! Nothing here is the kit's: no generator, no encoder. The SDK offers no delivery layer
//! (no retry, no backoff), so neither does this sender: one attempt per event.

use std::io::Write;
use std::time::Duration;

use cdevents_sdk::{spec_0_3_0, spec_0_4_1, spec_0_5_1, CDEvent, Subject};
use cdevents_suites::drivers::sender::ManifestEntry;
use cloudevents::binding::reqwest::RequestBuilderExt;
use cloudevents::{AttributesReader, Event};

/// The `source` of every event.
pub const SOURCE: &str = "https://cdevents-sdk.invalid/interop-sender";

/// How the events travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdkMode {
    /// cloudevents-sdk `RequestBuilderExt::event` (binary content mode).
    Binary,
    /// The `Event` serialised with serde (the CloudEvents JSON format), as
    /// `application/cloudevents+json`.
    Structured,
    /// cloudevents-sdk `RequestBuilderExt::events` (`application/cloudevents-batch+json`).
    Batch,
}

impl SdkMode {
    /// The name on the child's command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SdkMode::Binary => "binary",
            SdkMode::Structured => "structured",
            SdkMode::Batch => "batch",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Self> {
        [SdkMode::Binary, SdkMode::Structured, SdkMode::Batch]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The events, built with the SDK's types only: lifecycles of CDEvents 0.5.1 (the SDK's
/// newest release), and one event of 0.4.1 and of 0.3.0.
pub fn events() -> Result<Vec<CDEvent>, BoxError> {
    let pipeline_uri = || "https://ci.example.invalid/pipelines/build-1".try_into();
    let subject_source = "https://ci.example.invalid";
    let mut subjects: Vec<Subject> = vec![
        Subject::from(spec_0_5_1::pipelinerun_queued::Content {
            pipeline_name: Some("build".into()),
            uri: Some(pipeline_uri()?),
        })
        .with_id("pipelinerun-1".try_into()?),
        Subject::from(spec_0_5_1::pipelinerun_started::Content {
            pipeline_name: "build".into(),
            uri: pipeline_uri()?,
        })
        .with_id("pipelinerun-1".try_into()?),
        Subject::from(spec_0_5_1::pipelinerun_finished::Content {
            errors: None,
            outcome: Some(spec_0_5_1::pipelinerun_finished::ContentOutcome::Success),
            pipeline_name: Some("build".into()),
            uri: Some(pipeline_uri()?),
        })
        .with_id("pipelinerun-1".try_into()?),
        Subject::from(spec_0_5_1::build_queued::Content {}).with_id("build-7".try_into()?),
        Subject::from(spec_0_5_1::build_started::Content {}).with_id("build-7".try_into()?),
        Subject::from(spec_0_5_1::build_finished::Content {
            artifact_id: Some("pkg:oci/app@sha256%3A0123456789abcdef".into()),
        })
        .with_id("build-7".try_into()?),
        Subject::from(spec_0_5_1::service_deployed::Content {
            artifact_id: "pkg:oci/app@sha256%3A0123456789abcdef".try_into()?,
            environment: spec_0_5_1::service_deployed::ContentEnvironment {
                id: "production".try_into()?,
                source: None,
            },
        })
        .with_id("service/app".try_into()?),
        // A subject id with a space and a `%`, both of which the HTTP binding says a sender
        // percent-encodes in a `ce-` header (binary mode).
        Subject::from(spec_0_5_1::build_queued::Content {}).with_id("build 8 (50%)".try_into()?),
        Subject::from(spec_0_4_1::pipelinerun_queued::Content {
            pipeline_name: Some("build".into()),
            url: Some("https://ci.example.invalid/pipelines/build-2".into()),
        })
        .with_id("pipelinerun-2".try_into()?),
        Subject::from(spec_0_3_0::pipelinerun_queued::Content {
            pipeline_name: Some("build".into()),
            url: Some("https://ci.example.invalid/pipelines/build-3".into()),
        })
        .with_id("pipelinerun-3".try_into()?),
    ];
    let mut out = Vec::new();
    for (n, subject) in subjects.drain(..).enumerate() {
        let subject = subject.with_source(subject_source.try_into()?);
        out.push(
            CDEvent::from(subject)
                .with_id(format!("3f1c9d2e-0000-4000-8000-{n:012}").try_into()?)
                .with_source(SOURCE.try_into()?),
        );
    }
    Ok(out)
}

fn manifest_line(e: &Event) -> Result<String, BoxError> {
    let entry = ManifestEntry {
        id: e.id().to_owned(),
        source: e.source().to_string(),
        type_: Some(e.ty().to_owned()),
        subject: e.subject().map(str::to_owned),
    };
    Ok(serde_json::to_string(&entry)?)
}

/// Sends every event to `url` in `mode`, one attempt each, printing a manifest line per event
/// to `out` before it is sent. Returns how many requests were not acknowledged with a 2xx.
pub async fn send(url: &str, mode: SdkMode, out: &mut impl Write) -> Result<usize, BoxError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let events: Vec<Event> = events()?
        .into_iter()
        .map(Event::try_from)
        .collect::<Result<_, _>>()?;
    for e in &events {
        writeln!(out, "{}", manifest_line(e)?)?;
    }
    out.flush()?;
    let requests = match mode {
        SdkMode::Binary => events
            .into_iter()
            .map(|e| client.post(url).event(e))
            .collect::<Result<Vec<_>, _>>()?,
        SdkMode::Structured => events
            .iter()
            .map(|e| {
                Ok(client
                    .post(url)
                    .header("content-type", "application/cloudevents+json")
                    .body(serde_json::to_vec(e)?))
            })
            .collect::<Result<Vec<_>, BoxError>>()?,
        SdkMode::Batch => events
            .chunks(3)
            .map(|chunk| client.post(url).events(chunk.to_vec()))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let mut refused = 0;
    for req in requests {
        match req.send().await {
            Ok(r) if r.status().is_success() => {}
            _ => refused += 1,
        }
    }
    Ok(refused)
}

/// The child process: `<test binary> --sdk-sender MODE`, with `CDEVENTS_SINK_URL` set.
/// Exit 0 when every request was acknowledged, 1 otherwise, 2 on a usage error.
pub fn child_main(mode: Option<&str>) -> i32 {
    let Some(mode) = mode.and_then(SdkMode::parse) else {
        eprintln!("usage: --sdk-sender binary|structured|batch");
        return 2;
    };
    let Ok(url) = std::env::var("CDEVENTS_SINK_URL") else {
        eprintln!("CDEVENTS_SINK_URL is not set");
        return 2;
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return 2;
        }
    };
    let mut stdout = std::io::stdout().lock();
    match rt.block_on(send(&url, mode, &mut stdout)) {
        Ok(0) => 0,
        Ok(n) => {
            eprintln!("{n} request(s) not acknowledged");
            1
        }
        Err(e) => {
            eprintln!("the SDK sender failed: {e}");
            2
        }
    }
}
