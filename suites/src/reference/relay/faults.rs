//! The broken variants of the reference relay, each breaking one promise.

use std::fmt;
use std::str::FromStr;

use super::RelayOrdering;
use crate::wire::Mode;

/// One promise the reference relay breaks on purpose (`--fault NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelayFault {
    /// Acknowledges every event, forwards all but every 10th.
    DropEvery10th,
    /// Forwards every 10th event twice.
    Duplicate,
    /// Holds back some events until the next event of their subject has gone out.
    Reorder,
    /// Changes `context.timestamp` of every 10th event.
    MutateField,
    /// Forwards events without their extension attributes.
    StripExtensions,
    /// Gives up on an event after a 5xx from downstream.
    NoRetryOn5xx,
    /// Acknowledges before the event is safely stored: one the sink refuses is dropped,
    /// neither delivered nor dead-lettered; in durable mode it journals nothing, so a restart
    /// loses what was queued.
    AckBeforeDurableForward,
    /// Claims total order (it implies `--ordering total`) and lets some events overtake the
    /// one before them when that one is of another subject, so each subject's order holds and
    /// the total order does not.
    InterleaveSubjects,
    /// Refuses (413) any event over 32 KiB instead of taking it.
    RefuseLarge,
    /// Forwards in another mode without `datacontenttype` (nor `Content-Type`).
    DropDataContentType,
    /// Forwards in another mode without setting the implied `application/json` on events
    /// that came without a `datacontenttype`.
    NoImpliedDataContentType,
    /// Percent-decodes `ce-` header values twice.
    DoubleDecode,
}

/// A `--fault` name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault `{0}`; `--fault list` prints them")]
pub struct UnknownRelayFault(pub String);

impl RelayFault {
    /// Every fault.
    pub const ALL: [RelayFault; 12] = [
        RelayFault::DropEvery10th,
        RelayFault::Duplicate,
        RelayFault::Reorder,
        RelayFault::MutateField,
        RelayFault::StripExtensions,
        RelayFault::NoRetryOn5xx,
        RelayFault::AckBeforeDurableForward,
        RelayFault::InterleaveSubjects,
        RelayFault::RefuseLarge,
        RelayFault::DropDataContentType,
        RelayFault::NoImpliedDataContentType,
        RelayFault::DoubleDecode,
    ];

    /// The `--fault` name.
    pub fn name(self) -> &'static str {
        match self {
            RelayFault::DropEvery10th => "drop-every-10th",
            RelayFault::Duplicate => "duplicate",
            RelayFault::Reorder => "reorder",
            RelayFault::MutateField => "mutate-field",
            RelayFault::StripExtensions => "strip-extensions",
            RelayFault::NoRetryOn5xx => "no-retry-on-5xx",
            RelayFault::AckBeforeDurableForward => "ack-before-durable-forward",
            RelayFault::InterleaveSubjects => "interleave-subjects",
            RelayFault::RefuseLarge => "refuse-large",
            RelayFault::DropDataContentType => "drop-datacontenttype",
            RelayFault::NoImpliedDataContentType => "no-implied-datacontenttype",
            RelayFault::DoubleDecode => "double-decode",
        }
    }

    /// The requirements the relay suite must fail for it, under the reference relay's own
    /// claims (exactly-once, and the order of [`RelayFault::ordering`]), the sink plan of
    /// [`RelayFault::exposed_by`] and the kit sending in binary mode.
    pub fn breaks(self) -> &'static [&'static str] {
        match self {
            RelayFault::DropEvery10th => &["REL-001"],
            RelayFault::Duplicate => &["REL-002"],
            RelayFault::Reorder => &["REL-003"],
            RelayFault::MutateField => &["REL-005"],
            RelayFault::StripExtensions => &["REL-006", "REL-011"],
            RelayFault::NoRetryOn5xx => &["REL-001", "REL-008"],
            RelayFault::AckBeforeDurableForward => &["REL-009"],
            RelayFault::InterleaveSubjects => &["REL-004"],
            RelayFault::RefuseLarge => &["REL-007"],
            RelayFault::DropDataContentType => &["CE-HTTP-003", "REL-010"],
            RelayFault::NoImpliedDataContentType => &["REL-010"],
            // The extension's value changed, too: REL-006 (optional attributes kept).
            RelayFault::DoubleDecode => &["CE-HTTP-010", "REL-006"],
        }
    }

    /// The sink fault plan that exposes it (`none`: visible in any run).
    pub fn exposed_by(self) -> &'static str {
        match self {
            RelayFault::NoRetryOn5xx => "503:0.3,500:0.1",
            RelayFault::AckBeforeDurableForward => "hostile,delay=200ms",
            _ => "none",
        }
    }

    /// The ordering the relay runs with (`--ordering`), and claims, to show the fault.
    pub fn ordering(self) -> RelayOrdering {
        match self {
            RelayFault::InterleaveSubjects => RelayOrdering::Total,
            _ => RelayOrdering::PerSubject,
        }
    }

    /// The mode the relay forwards in (`--forward-mode`; `None`: as received) to show the
    /// fault: the data's type only moves when the mode changes.
    pub fn forward_mode(self) -> Option<Mode> {
        match self {
            RelayFault::DropDataContentType | RelayFault::NoImpliedDataContentType => {
                Some(Mode::Structured)
            }
            _ => None,
        }
    }

    /// The relay's options beyond `--fault` that show it, as a command line would say them
    /// (empty when none).
    pub fn options(self) -> String {
        super::options(self.ordering(), self.forward_mode())
    }

    /// The guarantee observed under it, as the checker words it.
    pub fn observed(self) -> &'static str {
        match self {
            RelayFault::DropEvery10th | RelayFault::NoRetryOn5xx => "at-most-once",
            RelayFault::Duplicate => "at-least-once",
            _ => "exactly-once",
        }
    }

    /// One line: what it does.
    pub fn describe(self) -> &'static str {
        match self {
            RelayFault::DropEvery10th => "acknowledges every event, forwards all but every 10th",
            RelayFault::Duplicate => "forwards every 10th event twice",
            RelayFault::Reorder => {
                "holds back some events until the next of their subject has gone out"
            }
            RelayFault::MutateField => "changes context.timestamp of every 10th event",
            RelayFault::StripExtensions => "forwards events without their extension attributes",
            RelayFault::NoRetryOn5xx => "gives up on an event after a 5xx from downstream",
            RelayFault::AckBeforeDurableForward => {
                "acknowledges before storing safely: an event the sink refuses is dropped, not dead-lettered; with --state-dir, nothing is journaled (a restart loses the queue)"
            }
            RelayFault::InterleaveSubjects => {
                "claims total order, lets some events overtake the one before of another subject"
            }
            RelayFault::RefuseLarge => "refuses (413) events over 32 KiB",
            RelayFault::DropDataContentType => {
                "changes the mode and drops datacontenttype (and Content-Type)"
            }
            RelayFault::NoImpliedDataContentType => {
                "changes the mode without setting the implied application/json"
            }
            RelayFault::DoubleDecode => "percent-decodes ce- header values twice",
        }
    }
}

impl fmt::Display for RelayFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RelayFault {
    type Err = UnknownRelayFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RelayFault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownRelayFault(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_requirements_exist() {
        for f in RelayFault::ALL {
            assert_eq!(f.name().parse::<RelayFault>(), Ok(f));
            assert!(crate::faults::FaultPlan::parse(f.exposed_by()).is_ok());
            for id in f.breaks() {
                assert!(
                    crate::requirements::Catalogue::embedded().get(id).is_some(),
                    "{id}"
                );
            }
        }
        assert!("nope".parse::<RelayFault>().is_err());
    }
}
