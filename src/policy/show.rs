//! `--print-policy`. (In progress.)
use super::Policy;

/// Render the effective policy as TOML-like text, each rule with its origin.
pub fn render(_policy: &Policy) -> String {
    String::new()
}
