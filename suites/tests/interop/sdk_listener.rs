//! A CDEvents listener written the way the SDKs document it: axum, cloudevents-sdk's `Event`
//! extractor (binary and structured mode), then `CDEvent::try_from(event)` from
//! `cdevents-sdk`. It answers 202 when the SDK parses a CDEvent, the extractor's own rejection
//! when cloudevents-sdk refuses the request, and 400 with the SDK's error when the CloudEvent
//! carries no CDEvent the SDK can read. Methods other than POST get axum's 405.
//!
//! With `forward`, every event taken is turned back into a CloudEvent by the SDK
//! (`Event::try_from(cdevent)`) and sent on in binary mode: the SDK's round trip, which the
//! sender suite then judges.
//!
//! The HTTP choices (202, 400) are this wrapper's; every decision about what is a CDEvent is
//! the SDK's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use cdevents_sdk::CDEvent;
use cloudevents::binding::reqwest::RequestBuilderExt;
use cloudevents::Event;

/// The path the listener serves.
pub const PATH: &str = "/events";

struct Shared {
    forward: Option<(reqwest::Client, String)>,
}

/// A running SDK listener; dropping it stops it.
pub struct SdkListener {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SdkListener {
    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }
}

impl Drop for SdkListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the listener on a free loopback port.
pub async fn spawn(forward: Option<String>) -> std::io::Result<SdkListener> {
    let forward = match forward {
        Some(url) => Some((
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .map_err(std::io::Error::other)?,
            url,
        )),
        None => None,
    };
    let app = Router::new()
        .route(PATH, post(receive))
        .with_state(Arc::new(Shared { forward }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(SdkListener { addr, task })
}

async fn receive(State(st): State<Arc<Shared>>, event: Event) -> Response {
    let cdevent = match CDEvent::try_from(event) {
        Ok(c) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("cdevents-sdk: {e}")).into_response(),
    };
    if let Some((client, url)) = &st.forward {
        let again = match Event::try_from(cdevent) {
            Ok(e) => e,
            Err(e) => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cdevents-sdk cannot turn the CDEvent back into a CloudEvent: {e}"),
                )
                    .into_response()
            }
        };
        // Forwarded before answering, so that a test sees it when the answer arrives.
        if let Ok(req) = client.post(url.as_str()).event(again) {
            let _ = req.send().await;
        }
    }
    StatusCode::ACCEPTED.into_response()
}
