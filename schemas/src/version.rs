//! The CDEvents specification versions the kit knows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A CDEvents specification version supported by the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SpecVersion {
    /// CDEvents 0.3.0.
    #[serde(rename = "0.3.0")]
    V0_3_0,
    /// CDEvents 0.4.1.
    #[serde(rename = "0.4.1")]
    V0_4_1,
    /// CDEvents 0.5.1.
    #[serde(rename = "0.5.1")]
    V0_5_1,
    /// The 0.6.0 draft (the spec's main branch).
    #[serde(rename = "0.6.0-draft")]
    V0_6_0Draft,
}

impl SpecVersion {
    /// Every supported version, oldest first.
    pub const ALL: [SpecVersion; 4] = [
        SpecVersion::V0_3_0,
        SpecVersion::V0_4_1,
        SpecVersion::V0_5_1,
        SpecVersion::V0_6_0Draft,
    ];

    /// The version used when nothing else says which: the latest release.
    pub const DEFAULT: SpecVersion = SpecVersion::V0_5_1;

    /// The version as written in events (`0.6.0-draft` for the draft).
    pub fn as_str(self) -> &'static str {
        match self {
            SpecVersion::V0_3_0 => "0.3.0",
            SpecVersion::V0_4_1 => "0.4.1",
            SpecVersion::V0_5_1 => "0.5.1",
            SpecVersion::V0_6_0Draft => "0.6.0-draft",
        }
    }

    /// The folder of this version in an official spec checkout (`v0.5.1`, `main`).
    pub fn spec_dir_name(self) -> &'static str {
        match self {
            SpecVersion::V0_3_0 => "v0.3.0",
            SpecVersion::V0_4_1 => "v0.4.1",
            SpecVersion::V0_5_1 => "v0.5.1",
            SpecVersion::V0_6_0Draft => "main",
        }
    }

    /// The name of the context attribute that carries the spec version:
    /// `version` up to 0.4, `specversion` from 0.5 on.
    pub fn version_attribute(self) -> &'static str {
        if self >= SpecVersion::V0_5_1 {
            "specversion"
        } else {
            "version"
        }
    }

    /// Whether this version defines links, `chainId`, `schemaUri` and `dev.cdeventsx` events.
    pub fn has_links(self) -> bool {
        self >= SpecVersion::V0_4_1
    }

    /// Reads the version an event declares: `context.specversion` (0.5+) or `context.version`
    /// (0.3, 0.4). Returns the raw string so that callers can report unknown values.
    pub fn declared_by(event: &serde_json::Value) -> Option<&str> {
        let ctx = event.get("context")?;
        ctx.get("specversion")
            .or_else(|| ctx.get("version"))
            .and_then(|v| v.as_str())
    }
}

impl fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version string the kit does not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown CDEvents spec version `{0}` (supported: 0.3.0, 0.4.1, 0.5.1, 0.6.0-draft)")]
pub struct UnknownVersion(pub String);

impl FromStr for SpecVersion {
    type Err = UnknownVersion;

    /// Accepts the exact version, with or without a leading `v`; `main` names the draft.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.strip_prefix('v').unwrap_or(s);
        match t {
            "0.3.0" => Ok(SpecVersion::V0_3_0),
            "0.4.1" => Ok(SpecVersion::V0_4_1),
            "0.5.1" => Ok(SpecVersion::V0_5_1),
            "0.6.0-draft" | "main" => Ok(SpecVersion::V0_6_0Draft),
            _ => Err(UnknownVersion(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for v in SpecVersion::ALL {
            assert_eq!(v.as_str().parse::<SpecVersion>(), Ok(v));
            assert_eq!(v.spec_dir_name().parse::<SpecVersion>(), Ok(v));
        }
        assert!("0.4.0".parse::<SpecVersion>().is_err());
        assert!("".parse::<SpecVersion>().is_err());
    }

    #[test]
    fn attribute_names() {
        assert_eq!(SpecVersion::V0_4_1.version_attribute(), "version");
        assert_eq!(SpecVersion::V0_5_1.version_attribute(), "specversion");
    }
}
