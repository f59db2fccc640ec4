//! Exit codes and the rendering of hermetic's own errors.
//!
//! The target's own exit code passes through unchanged. Hermetic's codes are documented in
//! `docs/cli.md`; every error is one line on stderr starting with `hermetic:`.

use std::fmt;

/// An error in hermetic's options or policy (python's own usage errors also exit 2).
pub const USAGE: i32 = 2;
/// An uncaught `hermetic.PolicyViolation` ended the run (sysexits' EX_NOPERM).
pub const BLOCKED: i32 = 77;
/// Hermetic itself failed (sysexits' EX_SOFTWARE).
pub const INTERNAL: i32 = 70;

/// How a run of hermetic ends when it does not hand back the target's own code.
#[derive(Debug)]
pub enum Failure {
    /// Bad options: `hermetic: usage error: ...`.
    Usage(String),
    /// Bad policy input: `hermetic: policy error: FILE:LINE:COL: ...`.
    Policy(String),
    /// Start-up failed: `hermetic: internal error: ...` with the cause chain.
    Internal(anyhow::Error),
}

impl Failure {
    pub fn code(&self) -> i32 {
        match self {
            Failure::Usage(_) | Failure::Policy(_) => USAGE,
            Failure::Internal(_) => INTERNAL,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(message) => write!(f, "hermetic: usage error: {message}"),
            Failure::Policy(message) => write!(f, "hermetic: policy error: {message}"),
            Failure::Internal(error) => {
                write!(f, "hermetic: internal error: {error}")?;
                for cause in error.chain().skip(1) {
                    write!(f, "\n  Caused by: {cause}")?;
                }
                Ok(())
            }
        }
    }
}
