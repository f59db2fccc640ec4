//! Every allow/deny decision, in one place.
//!
//! The audit hook (`host/audit.rs`) and the built-in `_hermetic` module parse what CPython
//! hands them into plain Rust values and ask the [`Engine`]; nothing else decides. The
//! engine reads the immutable [`Policy`] plus the little run-time state a decision needs
//! (addresses returned by granted DNS look-ups, the implicit read roots found at start-up).
//! This module must not touch Python objects: it is unit-tested without an interpreter.

pub mod code;
pub mod env;
pub mod fs;
pub mod net;
pub mod subprocess;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::policy::{Origin, Policy};

/// A capability, spelt the same in messages, traces, docs and fixture folders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capability {
    NetConnect,
    NetLookup,
    NetBind,
    FsRead,
    FsWrite,
    Subprocess,
    Env,
    Import,
    Native,
    CodeExec,
    Interpreter,
}

impl Capability {
    pub fn name(self) -> &'static str {
        match self {
            Capability::NetConnect => "net.connect",
            Capability::NetLookup => "net.lookup",
            Capability::NetBind => "net.bind",
            Capability::FsRead => "fs.read",
            Capability::FsWrite => "fs.write",
            Capability::Subprocess => "subprocess",
            Capability::Env => "env",
            Capability::Import => "import",
            Capability::Native => "native",
            Capability::CodeExec => "code-exec",
            Capability::Interpreter => "interpreter",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an action was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// No grant covers it. The message names where the policy in force came from: `file`
    /// is the policy file, if any, and `command_line` says whether profiles or policy
    /// flags shaped it; with neither, it is the built-in default policy.
    NotGranted {
        file: Option<PathBuf>,
        command_line: bool,
    },
    /// A deny entry or restriction matched.
    DeniedBy(Origin),
    /// A fixed rule that no grant can lift (cloud metadata endpoints, ...).
    Never(&'static str),
    /// A bytecode-cache write (`__pycache__`) outside the write roots: refused like any
    /// write, but not traced, as python skips such writes silently on EACCES.
    BytecodeCache,
}

/// A refused action: the one line the user sees, in the exception and in the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub capability: Capability,
    /// What was attempted, short, never argv or environment values.
    pub detail: String,
    pub reason: Reason,
    /// How to grant it (`--allow-net=example.com:443 or [network] allow`), when a grant can.
    pub hint: Option<String>,
}

impl Denial {
    /// `blocked net.connect example.com:443 (not granted by the built-in default policy)`:
    /// the stable, greppable part (the trace line is this behind `hermetic: `).
    pub fn line(&self) -> String {
        let reason = match &self.reason {
            Reason::NotGranted { file, command_line } => {
                not_granted_text(file.as_deref(), *command_line)
            }
            Reason::DeniedBy(origin) => format!("denied by {origin}"),
            Reason::Never(why) => (*why).to_string(),
            Reason::BytecodeCache => "bytecode cache outside the write roots".to_string(),
        };
        format!("blocked {} {} ({reason})", self.capability, self.detail)
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())?;
        if let Some(hint) = &self.hint {
            write!(f, "; to allow it: {hint}")?;
        }
        Ok(())
    }
}

/// `not granted by ...`, naming the sources of the policy in force: the policy file (by its
/// name, as origins name it: `denied by agent.toml:12 ...`), the command line, both, or
/// the built-in default policy when there was neither.
fn not_granted_text(file: Option<&Path>, command_line: bool) -> String {
    let file = file.map(|path| {
        path.file_name()
            .unwrap_or(path.as_os_str())
            .to_string_lossy()
    });
    match (file, command_line) {
        (None, false) => "not granted by the built-in default policy".to_string(),
        (None, true) => "not granted by the policy from the command line".to_string(),
        (Some(name), false) => format!("not granted by {name}"),
        (Some(name), true) => format!("not granted by {name} and the command line"),
    }
}

/// The outcome of a check.
pub type Decision = Result<(), Denial>;

/// Cut a detail string to a readable length (paths and host names can be long).
pub fn shorten(text: &str) -> String {
    const MAX: usize = 200;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}...")
}

/// The decision engine: the policy plus the run-time state decisions need.
#[derive(Debug)]
pub struct Engine {
    pub policy: Policy,
    pub net: net::Learned,
    pub fs: fs::Implicit,
    pub stdlib: code::Stdlib,
}

impl Engine {
    pub fn new(policy: Policy) -> Self {
        Engine {
            policy,
            net: net::Learned::default(),
            fs: fs::Implicit::default(),
            stdlib: code::Stdlib::default(),
        }
    }

    fn not_granted(&self) -> Reason {
        Reason::NotGranted {
            file: self.policy.file.clone(),
            command_line: self.policy.command_line,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reason names where the policy in force came from, and nothing else changes.
    #[test]
    fn not_granted_names_the_sources_of_the_policy() {
        let table: &[(Option<&str>, bool, &str)] = &[
            (None, false, "not granted by the built-in default policy"),
            (
                None,
                true,
                "not granted by the policy from the command line",
            ),
            (
                Some("/home/me/agent.toml"),
                false,
                "not granted by agent.toml",
            ),
            (
                Some("/home/me/agent.toml"),
                true,
                "not granted by agent.toml and the command line",
            ),
            (
                Some("HERMETIC_SEALED"),
                false,
                "not granted by HERMETIC_SEALED",
            ),
            (
                Some("HERMETIC_SEALED"),
                true,
                "not granted by HERMETIC_SEALED and the command line",
            ),
        ];
        for &(file, command_line, reason) in table {
            let engine = Engine::new(Policy {
                file: file.map(PathBuf::from),
                command_line,
                ..Policy::default()
            });
            let denial = Denial {
                capability: Capability::FsRead,
                detail: "/etc/hostname".to_string(),
                reason: engine.not_granted(),
                hint: Some("--allow-read=/etc/hostname".to_string()),
            };
            let line = format!("blocked fs.read /etc/hostname ({reason})");
            assert_eq!(denial.line(), line, "{file:?}, command line {command_line}");
            assert_eq!(
                denial.to_string(),
                format!("{line}; to allow it: --allow-read=/etc/hostname"),
                "{file:?}, command line {command_line}"
            );
        }
    }
}
