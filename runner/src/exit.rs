//! Exit codes, in one place. Each is tested end-to-end (`runner/tests/cli`).

/// No failing finding: conformant at the `--fail-on` level.
pub const OK: u8 = 0;
/// At least one failing finding (or, for `report diff`, a regression).
pub const FAILED: u8 = 1;
/// Usage or input error: bad flags, unreadable path, unknown spec version, bad schema folder.
pub const USAGE: u8 = 2;
/// The run could not judge: the target was unreachable or nothing arrived. Never a pass.
pub const INCONCLUSIVE: u8 = 3;
