//! Turning a [`PolicyRequest`] (base, profiles, file, flags) into a [`Policy`].
//! (Interface fixed; implementation in progress.)

use std::path::{Path, PathBuf};

use super::{Policy, PolicyError};

/// Names of the built-in profiles, for `--help` and error messages.
pub const PROFILES: &[&str] = &["block-all", "net-hermetic", "exec-deny", "fs-readonly", "block-native"];

/// One policy-bearing command-line flag, in the order the user gave it.
/// `spelling` fields hold the flag exactly as written, for [`super::Origin::Flag`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyFlag {
    /// `--allow-net[=HOST[:PORT],...]`; `None` = every host.
    AllowNet(Option<String>),
    /// `--allow-read=PATH[,PATH...]`
    AllowRead(String),
    /// `--allow-write=PATH[,PATH...]`
    AllowWrite(String),
    /// `--allow-env[=NAME|PREFIX*,...]`; `None` = every variable.
    AllowEnv(Option<String>),
    /// `--allow-run[=PROGRAM,...]`; `None` = every program.
    AllowRun(Option<String>),
    /// `--allow-native[=MODULE,...]`; `None` = any native code.
    AllowNative(Option<String>),
    /// Seed: `--no-network`
    NoNetwork,
    /// Seed: `--allow-localhost`
    AllowLocalhost,
    /// Seed: `--allow-domain D`
    AllowDomain(String),
    /// Seed: `--no-subprocess`
    NoSubprocess,
    /// Seed: `--fs-readonly[=ROOT]`
    FsReadonly(Option<String>),
    /// Seed: `--no-environment` / `--no-env`
    NoEnvironment,
    /// Seed: `--no-code-exec`
    NoCodeExec,
    /// Seed: `--deny-import M`
    DenyImport(String),
    /// Seed: `--no-interpreter-mutation`
    NoInterpreterMutation,
    /// Seed: `--block-native`
    BlockNative,
}

/// Everything the user asked for, before resolution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyRequest {
    /// `--allow-all` was given.
    pub allow_all: bool,
    /// `--profile NAME`, in order.
    pub profiles: Vec<String>,
    /// `--policy FILE` (or `HERMETIC_POLICY`), as given.
    pub file: Option<PathBuf>,
    /// Policy flags in command-line order.
    pub flags: Vec<PolicyFlag>,
    /// `--trace`
    pub trace: bool,
    /// `--trace-file PATH`
    pub trace_file: Option<PathBuf>,
}

/// Resolve a request into a policy. `cwd` anchors relative paths given on the command line;
/// paths in a policy file resolve against the file's folder.
pub fn resolve(_request: &PolicyRequest, _cwd: &Path) -> Result<Policy, PolicyError> {
    unimplemented!()
}
