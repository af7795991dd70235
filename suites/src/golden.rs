//! The project's golden valid events (`fixtures/<version>/valid/`), embedded at build time by
//! `suites/build.rs`, so that an installed binary sends them without the source tree.

use cdevents_schemas::SpecVersion;

/// One golden valid event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Golden {
    /// The spec version folder it comes from (`0.5.1`).
    pub version: &'static str,
    /// The file name without `.json` (`pipelinerun.finished`).
    pub name: &'static str,
    /// Whether it is a `dev.cdeventsx` custom event (`valid/custom/`).
    pub custom: bool,
    /// The file's text.
    pub json: &'static str,
}

/// Every golden valid event, by version then file name.
pub static ALL: &[Golden] = include!(concat!(env!("OUT_DIR"), "/golden.rs"));

/// The golden valid events of one spec version.
pub fn valid(spec: SpecVersion) -> impl Iterator<Item = &'static Golden> {
    ALL.iter().filter(move |g| g.version == spec.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_has_golden_events_that_parse() {
        for spec in SpecVersion::ALL {
            let n = valid(spec).count();
            assert!(n >= 30, "{spec}: {n} golden events");
            for g in valid(spec) {
                let v: serde_json::Value = serde_json::from_str(g.json)
                    .unwrap_or_else(|e| panic!("{spec}/{}: {e}", g.name));
                assert!(v.pointer("/context/id").is_some(), "{spec}/{}", g.name);
            }
        }
        assert!(ALL.iter().any(|g| g.custom));
    }
}
