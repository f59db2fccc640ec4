//! Reading and parsing a policy file. (In progress.)

use std::fmt;

/// An error in hermetic's own input: one line, `FILE:LINE:COL: message` where known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}
