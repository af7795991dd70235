//! Fetching a custom event's `schemaUri`, only when `--fetch-schema-uri` asks for it.

use std::io::Read;
use std::time::Duration;

use cdevents_suites::checks::SchemaUriResolver;
use serde_json::Value;

/// Largest schema document accepted.
const MAX_SCHEMA_BYTES: u64 = 1024 * 1024;

/// Fetches `http(s)` schema URIs with a timeout and a size cap.
pub struct SchemaFetcher {
    client: Option<reqwest::blocking::Client>,
}

impl SchemaFetcher {
    /// A fetcher with a 10 s timeout and no redirects to other schemes.
    pub fn new() -> Self {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .ok();
        SchemaFetcher { client }
    }
}

impl SchemaUriResolver for SchemaFetcher {
    fn resolve(&self, uri: &str) -> Result<Value, String> {
        if !(uri.starts_with("http://") || uri.starts_with("https://")) {
            return Err("only http and https schema URIs are fetched".into());
        }
        let client = self.client.as_ref().ok_or("no HTTP client")?;
        let resp = client.get(uri).send().map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        let mut body = Vec::new();
        resp.take(MAX_SCHEMA_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| e.to_string())?;
        if body.len() as u64 > MAX_SCHEMA_BYTES {
            return Err(format!("larger than {MAX_SCHEMA_BYTES} bytes"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))
    }
}
