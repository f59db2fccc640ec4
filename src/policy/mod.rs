//! The resolved, immutable policy that every decision reads.
//!
//! A [`Policy`] is built once, before the interpreter starts, from a [`PolicyRequest`]
//! (base, profiles, policy file, flags) by [`resolve`]. After that it never changes: the
//! audit hook and the built-in `_hermetic` module only read it. Each rule keeps its
//! [`Origin`] so that a denial can say which file key or flag decided it.
//!
//! This module must not touch Python: it is pure data and pure functions, unit-tested
//! without an interpreter.

mod load;
mod merge;
mod profiles;
mod schema;
mod show;
#[cfg(test)]
mod testutil;
mod validate;
mod values;

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

pub use load::PolicyError;
pub use merge::{resolve, PolicyFlag, PolicyRequest, PROFILES, SEALED_NAME};
pub use schema::SCHEMA_KEYS;
pub use show::render;
pub(crate) use values::{env_spec_text, host_grant_text, native_spec_text, program_spec_text};

/// The environment variables every policy grants unless `--no-environment` (or a profile
/// that implies it) removes them: the built-in base, with [`Origin::Default`].
///
/// None of them usually carries a secret, and without them ordinary programs misbehave.
/// `docs/policy.md` gives the reason for each name.
pub const SAFE_ENV: &[&str] = &["PATH", "LANG", "LANGUAGE", "LC_*", "TERM", "TZ", "TMPDIR"];

/// Where a rule came from, so that a message can cite it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default policy (no input at all, or nothing said about this capability).
    Default,
    /// A key in a policy file, e.g. `agent.toml:12 [network] allow`.
    File {
        path: PathBuf,
        /// `table.key`, e.g. `network.allow`.
        key: String,
        line: usize,
    },
    /// A command-line flag, spelt as the user wrote it (`--allow-net=localhost`).
    Flag(String),
    /// A built-in profile (`--profile net-hermetic`).
    Profile(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => write!(f, "built-in default"),
            Origin::File { path, key, line } => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| path.display().to_string());
                write!(f, "{name}:{line} {key}")
            }
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::Profile(name) => write!(f, "profile {name}"),
        }
    }
}

/// One grant or restriction together with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Rule<T> {
    pub fn new(value: T, origin: Origin) -> Self {
        Rule { value, origin }
    }
}

/// The host part of a network grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostSpec {
    /// `*`: every host.
    Any,
    /// `localhost`: the name `localhost` (and `*.localhost`), 127.0.0.0/8 and ::1.
    Localhost,
    /// A DNS name, lower-case, without a trailing dot. Matches itself and its subdomains on
    /// the dot boundary: `example.com` matches `api.example.com`, not `badexample.com`.
    Domain(String),
    /// An IP network (`10.0.0.0/8`); a bare IP is a /32 or /128.
    Net { addr: IpAddr, prefix: u8 },
}

/// A network grant or deny entry: `HOST[:PORT]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostGrant {
    pub host: HostSpec,
    /// `None` means every port.
    pub port: Option<u16>,
}

/// A program that may be started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgramSpec {
    /// `*`: every program.
    Any,
    /// An absolute, canonical path (bare names are resolved with `PATH` when the policy is
    /// resolved).
    Path(PathBuf),
}

/// An environment variable grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvSpec {
    /// `*`: every variable.
    Any,
    /// One variable, by exact name.
    Name(String),
    /// `PREFIX*`: every variable whose name starts with the prefix.
    Prefix(String),
}

/// A native-code grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NativeSpec {
    /// `*`: any native code, including ctypes and cffi.
    Any,
    /// A top-level module or package name (`numpy`, `ctypes`) and its submodules.
    Module(String),
}

/// `[network]`: deny by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    pub allow: Vec<Rule<HostGrant>>,
    pub deny: Vec<Rule<HostGrant>>,
}

/// `[filesystem]`: deny by default (the host adds implicit reads of the interpreter's own
/// installation and of the target's folder at start-up).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filesystem {
    /// Absolute, lexically normalised roots that may be read.
    pub read: Vec<Rule<PathBuf>>,
    /// Absolute, lexically normalised roots that may be written (a write root is readable).
    pub write: Vec<Rule<PathBuf>>,
    /// Roots that may be neither read nor written, whatever the grants say.
    pub deny: Vec<Rule<PathBuf>>,
}

/// `[subprocess]`: deny by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subprocess {
    pub allow: Vec<Rule<ProgramSpec>>,
}

/// `[environment]`: only the safe set by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    pub allow: Vec<Rule<EnvSpec>>,
}

/// `[native]`: only the standard library's own extension modules by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Native {
    pub allow: Vec<Rule<NativeSpec>>,
}

/// `[imports]`: everything importable by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imports {
    /// Module names denied with their submodules, on the dot boundary.
    pub deny: Vec<Rule<String>>,
}

/// An in-process switch (`[code] exec`, `[interpreter] mutation`): allowed by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    pub allowed: bool,
    pub origin: Origin,
}

impl Default for Switch {
    fn default() -> Self {
        Switch {
            allowed: true,
            origin: Origin::Default,
        }
    }
}

/// `[trace]`: what is reported about blocked actions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// One line on stderr per blocked action.
    pub enabled: bool,
    /// Also append the same lines to this file.
    pub file: Option<PathBuf>,
}

/// The resolved policy. Built once by [`resolve`], read-only afterwards.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Set when the base is allow-all (`--allow-all`, `allow-all = true`): every
    /// world-touching capability starts granted, and restrictions narrow it.
    pub allow_all: Option<Origin>,
    pub network: Network,
    pub filesystem: Filesystem,
    pub subprocess: Subprocess,
    pub environment: Environment,
    pub native: Native,
    pub imports: Imports,
    /// `[code] exec`: dynamic code (eval/exec/compile) from user code.
    pub code_exec: Switch,
    /// `[interpreter] mutation`: chdir, sys.path and import-machinery changes.
    pub interpreter_mutation: Switch,
    pub trace: Trace,
    /// The policy file that was loaded, if any (for messages and `--print-policy`).
    pub file: Option<PathBuf>,
    /// Whether the command line shaped the grants: `--allow-all`, a `--profile` or a
    /// policy flag was given (`--trace` and `--trace-file` grant nothing and do not count).
    /// Only messages read it, to say where a refusal's policy came from; `--print-policy`
    /// does not print it, as each entry already carries its origin.
    pub command_line: bool,
}
