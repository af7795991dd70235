//! Levels, roles and findings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How strongly the specification asks for something (RFC 2119 keywords).
///
/// Ordered from the strongest to the weakest so that `level <= threshold` reads as
/// "at least as strong as the threshold".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// MUST, MUST NOT, REQUIRED, SHALL.
    Must,
    /// SHOULD, SHOULD NOT, RECOMMENDED.
    Should,
    /// MAY, OPTIONAL.
    May,
}

impl Level {
    /// All levels, strongest first.
    pub const ALL: [Level; 3] = [Level::Must, Level::Should, Level::May];

    /// The keyword as written in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }

    /// Whether a finding at this level fails a run whose threshold is `fail_on`.
    ///
    /// `--fail-on should` fails on MUST and SHOULD findings, and so on.
    pub fn fails_at(self, fail_on: Level) -> bool {
        self <= fail_on
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown level name.
#[derive(Debug, thiserror::Error)]
#[error("unknown level `{0}` (expected must, should or may)")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "must" => Ok(Level::Must),
            "should" => Ok(Level::Should),
            "may" => Ok(Level::May),
            _ => Err(UnknownLevel(s.to_owned())),
        }
    }
}

/// Who a requirement is asked of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The event itself, whoever produced it: checked offline by `validate`.
    Event,
    /// A producer that sends events.
    Sender,
    /// A consumer that receives events.
    Listener,
    /// A broker, router or bridge that passes events on.
    Intermediary,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 4] = [Role::Event, Role::Sender, Role::Listener, Role::Intermediary];

    /// The lowercase name used in ids, flags and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Event => "event",
            Role::Sender => "sender",
            Role::Listener => "listener",
            Role::Intermediary => "intermediary",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown role name.
#[derive(Debug, thiserror::Error)]
#[error("unknown role `{0}` (expected event, sender, listener or intermediary)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// One observation that breaks (or, at SHOULD/MAY level, falls short of) a requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The requirement id, e.g. `CDE-CTX-003`.
    pub id: String,
    /// The level of that requirement.
    pub level: Level,
    /// JSON pointer into the event (RFC 6901); empty for the whole event.
    pub pointer: String,
    /// What was wrong, in one sentence.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert!(Level::Must.fails_at(Level::Must));
        assert!(!Level::Should.fails_at(Level::Must));
        assert!(Level::Should.fails_at(Level::Should));
        assert!(Level::Must.fails_at(Level::May));
        assert!(!Level::May.fails_at(Level::Should));
    }

    #[test]
    fn parse_names() {
        assert_eq!("SHOULD".parse::<Level>().unwrap(), Level::Should);
        assert!("often".parse::<Level>().is_err());
        assert_eq!("Listener".parse::<Role>().unwrap(), Role::Listener);
        assert!("broker".parse::<Role>().is_err());
    }
}
