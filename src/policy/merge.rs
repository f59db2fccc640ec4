//! Turning a [`PolicyRequest`] (base, policy file, profiles, flags) into a [`Policy`].
//!
//! # Merge order
//!
//! There is one base and no modes. [`resolve`] builds the policy in these steps, and this
//! comment is the reference (`docs/policy.md` says the same for users):
//!
//! 1. **Base.** Deny everything world-touching, except the environment safe set
//!    ([`SAFE_ENV`]: `PATH`, `LANG`, `LANGUAGE`, `LC_*`, `TERM`, `TZ`, `TMPDIR`), granted with
//!    [`Origin::Default`]. If `--allow-all` or the file's `allow-all = true` is given, the
//!    base is allow-all instead: [`Policy::allow_all`] records where that came from (the flag
//!    wins over the file), and it is expanded into concrete grants with that origin —
//!    network `*`, filesystem read `/` and write `/`, subprocess `*`, environment `*`,
//!    native `*`. Decisions only look at the grants; `allow_all` is for display.
//! 2. **Policy file.** Its grants, its deny lists and its switches are added, each with
//!    [`Origin::File`].
//! 3. **Restrictions**, from profiles and the seed tool's flags. They do not depend on their
//!    order on the command line:
//!    - `--no-network` removes every network grant;
//!    - `--no-subprocess` removes every subprocess grant;
//!    - `--no-environment` removes every environment grant, the safe set included;
//!    - `--block-native` removes every native grant;
//!    - `--fs-readonly` removes every write grant and grants reads of `/`;
//!    - `--fs-readonly=ROOT` removes every write grant and every read grant, then grants
//!      reads of ROOT. It is the stricter of the two forms, so when both are in force the
//!      ROOT form decides and `/` is not added; several ROOTs are all granted;
//!    - `--no-code-exec` (or `[code] exec = false`) and `--no-interpreter-mutation` (or
//!      `[interpreter] mutation = false`) turn the switch off. A `false` from any source
//!      wins; the first `false` (file before profiles before flags) is its origin;
//!    - `--deny-import=M` appends `M` to the import deny list;
//!    - when `--block-native` and `--no-subprocess` are both in force, the modules that
//!      wrap subprocesses (`sh`, `pexpect`, `plumbum`, `sarge`, `delegator`) are also
//!      denied as imports, with the origin of the `--block-native`, as the seed tool did.
//! 4. **Grant flags** then add, wherever they stand on the command line:
//!    `--allow-net[=…]` (bare: `*`), `--allow-localhost`, `--allow-domain=D`,
//!    `--allow-read=…`, `--allow-write=…`, `--allow-env[=…]`, `--allow-run[=…]`,
//!    `--allow-native[=…]` (bare: `*`). A grant flag therefore survives any restriction:
//!    `--no-network --allow-localhost` is localhost only, and `--allow-all --no-network` is
//!    the seed tool's `hermetic --no-network`.
//! 5. **Deny lists** (`network.deny`, `filesystem.deny`, `imports.deny`) are kept apart and
//!    beat grants when a decision is made; nothing here removes a deny entry.
//!
//! Profiles are bundles of seed flags and are applied exactly as those flags, with
//! [`Origin::Profile`]; profiles come before flags in each list. Finally exact duplicates
//! (the same value twice in one list) are removed, keeping the first origin. Trace output
//! is on when `--trace` or the file's `[trace] enabled` is; the trace file is `--trace-file`
//! (relative to the working directory) if given, else the file's `[trace] file`.
//!
//! Why restrictions come before grant flags rather than "stricter always wins": the seed
//! tool's users write `--no-network --allow-localhost` and mean "only localhost". A file,
//! by contrast, cannot widen what a restriction removed, because it is applied before the
//! restrictions.

use std::path::{Path, PathBuf};

use super::load::load;
pub use super::profiles::PROFILES;
use super::profiles::{flag_spelling, profile_flags};
use super::validate::{file_rules, FileRules};
use super::values::{
    parse_env, parse_host_grant, parse_import, parse_native, resolve_path, resolve_program, Lookup,
};
use super::{
    EnvSpec, HostGrant, HostSpec, NativeSpec, Origin, Policy, PolicyError, ProgramSpec, Rule,
    Switch, SAFE_ENV,
};

/// Modules that exist to run other programs. Denied as imports when both native code and
/// subprocesses are blocked, as the seed tool did.
const SUBPROCESS_WRAPPERS: &[&str] = &["sh", "pexpect", "plumbum", "sarge", "delegator"];

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
    /// The policy of the hermetic-python that started this one (`HERMETIC_SEALED`, as
    /// `--print-policy` writes it): it takes the place of a policy file, and the caller
    /// has checked that the request only narrows it.
    pub sealed: Option<String>,
}

/// How the parent's sealed policy is named in messages and origins.
pub const SEALED_NAME: &str = "HERMETIC_SEALED";

/// Resolve a request into a policy. `cwd` anchors relative paths given on the command line;
/// paths in a policy file resolve against the file's folder. `HOME` and `PATH` are read
/// from this process's environment.
pub fn resolve(request: &PolicyRequest, cwd: &Path) -> Result<Policy, PolicyError> {
    resolve_with(request, cwd, &Lookup::from_process())
}

/// [`resolve`] with `HOME` and `PATH` supplied by the caller (tests).
pub(crate) fn resolve_with(
    request: &PolicyRequest,
    cwd: &Path,
    lookup: &Lookup,
) -> Result<Policy, PolicyError> {
    let file = match (&request.sealed, &request.file) {
        (Some(text), _) => Some(super::load::parse(
            SEALED_NAME.to_string(),
            PathBuf::from(SEALED_NAME),
            PathBuf::from("/"),
            text.clone(),
        )?),
        (None, Some(path)) => Some(load(path, cwd)?),
        (None, None) => None,
    };
    let rules = match &file {
        Some(file) => file_rules(file, lookup)?,
        None => FileRules::default(),
    };
    let steps = expand_profiles(request)?;
    let restrictions = Restrictions::collect(&steps, cwd, lookup)?;

    let mut policy = Policy::default();
    // 1. Base.
    if rules.env_safe_set != Some(false) {
        policy.environment.allow = SAFE_ENV
            .iter()
            .filter_map(|name| parse_env(name).ok())
            .map(|spec| Rule::new(spec, Origin::Default))
            .collect();
    }
    let allow_all = request
        .allow_all
        .then(|| Origin::Flag("--allow-all".to_string()))
        .or_else(|| rules.allow_all.clone());
    if let Some(origin) = allow_all {
        grant_everything(&mut policy, &origin);
        policy.allow_all = Some(origin);
    }
    // 2. The policy file.
    let trace_enabled = rules.trace_enabled;
    let file_trace = rules.trace_file.clone();
    apply_file(&mut policy, rules);
    // 3. Restrictions.
    restrictions.apply(&mut policy);
    // 4. Grant flags.
    for (flag, origin) in &steps {
        apply_grant(&mut policy, flag, origin, cwd, lookup)?;
    }

    policy.trace.enabled = request.trace || trace_enabled;
    policy.trace.file = match &request.trace_file {
        Some(path) => Some(
            resolve_path(path, cwd, lookup)
                .map_err(|m| PolicyError::new(format!("--trace-file={}: {m}", path.display())))?,
        ),
        None => file_trace,
    };
    policy.file = file.map(|file| file.path);
    policy.command_line =
        request.allow_all || !request.profiles.is_empty() || !request.flags.is_empty();
    remove_duplicates(&mut policy);
    Ok(policy)
}

/// Profiles (in order), then flags (in order), each with its origin.
fn expand_profiles(request: &PolicyRequest) -> Result<Vec<(PolicyFlag, Origin)>, PolicyError> {
    let mut steps = Vec::new();
    for name in &request.profiles {
        let flags = profile_flags(name).ok_or_else(|| {
            PolicyError::new(format!(
                "--profile {name}: unknown profile (known: {})",
                PROFILES.join(", ")
            ))
        })?;
        steps.extend(
            flags
                .into_iter()
                .map(|flag| (flag, Origin::Profile(name.clone()))),
        );
    }
    for flag in &request.flags {
        steps.push((flag.clone(), Origin::Flag(flag_spelling(flag))));
    }
    Ok(steps)
}

/// Step 1 with an allow-all base: every world-touching capability, granted.
fn grant_everything(policy: &mut Policy, origin: &Origin) {
    let rule = |value| Rule::new(value, origin.clone());
    policy.network.allow.push(rule(HostGrant {
        host: HostSpec::Any,
        port: None,
    }));
    policy
        .filesystem
        .read
        .push(Rule::new(PathBuf::from("/"), origin.clone()));
    policy
        .filesystem
        .write
        .push(Rule::new(PathBuf::from("/"), origin.clone()));
    policy
        .subprocess
        .allow
        .push(Rule::new(ProgramSpec::Any, origin.clone()));
    policy
        .environment
        .allow
        .push(Rule::new(EnvSpec::Any, origin.clone()));
    policy
        .native
        .allow
        .push(Rule::new(NativeSpec::Any, origin.clone()));
}

/// Step 2: the file's grants, deny lists and switches.
fn apply_file(policy: &mut Policy, rules: FileRules) {
    policy.network.allow.extend(rules.network_allow);
    policy.network.deny.extend(rules.network_deny);
    policy.filesystem.read.extend(rules.read);
    policy.filesystem.write.extend(rules.write);
    policy.filesystem.deny.extend(rules.fs_deny);
    policy.subprocess.allow.extend(rules.subprocess);
    policy.environment.allow.extend(rules.environment);
    policy.native.allow.extend(rules.native);
    policy.imports.deny.extend(rules.imports_deny);
    if let Some(switch) = rules.code_exec {
        policy.code_exec = switch;
    }
    if let Some(switch) = rules.interpreter_mutation {
        policy.interpreter_mutation = switch;
    }
}

/// Step 3, gathered from every source first so that the order of flags does not matter.
/// Each field holds the origin of the first source that asked for it.
#[derive(Debug, Default)]
struct Restrictions {
    no_network: Option<Origin>,
    no_subprocess: Option<Origin>,
    no_environment: Option<Origin>,
    block_native: Option<Origin>,
    /// `--fs-readonly` without a root.
    read_only_everywhere: Option<Origin>,
    /// `--fs-readonly=ROOT`, resolved.
    read_only_roots: Vec<Rule<PathBuf>>,
    no_code_exec: Option<Origin>,
    no_interpreter_mutation: Option<Origin>,
    deny_imports: Vec<Rule<String>>,
}

impl Restrictions {
    fn collect(
        steps: &[(PolicyFlag, Origin)],
        cwd: &Path,
        lookup: &Lookup,
    ) -> Result<Self, PolicyError> {
        let mut r = Restrictions::default();
        for (flag, origin) in steps {
            let first = |slot: &mut Option<Origin>| {
                slot.get_or_insert_with(|| origin.clone());
            };
            match flag {
                PolicyFlag::NoNetwork => first(&mut r.no_network),
                PolicyFlag::NoSubprocess => first(&mut r.no_subprocess),
                PolicyFlag::NoEnvironment => first(&mut r.no_environment),
                PolicyFlag::BlockNative => first(&mut r.block_native),
                PolicyFlag::NoCodeExec => first(&mut r.no_code_exec),
                PolicyFlag::NoInterpreterMutation => first(&mut r.no_interpreter_mutation),
                PolicyFlag::FsReadonly(None) => first(&mut r.read_only_everywhere),
                PolicyFlag::FsReadonly(Some(roots)) => {
                    let path = |text: &str| resolve_path(Path::new(text), cwd, lookup);
                    r.read_only_roots
                        .extend(rules(flag, origin, list(flag, roots)?, path)?);
                }
                PolicyFlag::DenyImport(names) => {
                    r.deny_imports
                        .extend(rules(flag, origin, list(flag, names)?, parse_import)?);
                }
                _ => {}
            }
        }
        Ok(r)
    }

    fn apply(self, policy: &mut Policy) {
        if self.no_network.is_some() {
            policy.network.allow.clear();
        }
        if self.no_subprocess.is_some() {
            policy.subprocess.allow.clear();
        }
        if self.no_environment.is_some() {
            policy.environment.allow.clear();
        }
        if self.block_native.is_some() {
            policy.native.allow.clear();
        }
        if self.read_only_everywhere.is_some() || !self.read_only_roots.is_empty() {
            policy.filesystem.write.clear();
        }
        if !self.read_only_roots.is_empty() {
            policy.filesystem.read.clear();
            policy.filesystem.read.extend(self.read_only_roots);
        } else if let Some(origin) = self.read_only_everywhere {
            policy
                .filesystem
                .read
                .push(Rule::new(PathBuf::from("/"), origin));
        }
        switch_off(&mut policy.code_exec, self.no_code_exec);
        switch_off(
            &mut policy.interpreter_mutation,
            self.no_interpreter_mutation,
        );
        policy.imports.deny.extend(self.deny_imports);
        if let (Some(origin), Some(_)) = (self.block_native, self.no_subprocess) {
            policy.imports.deny.extend(
                SUBPROCESS_WRAPPERS
                    .iter()
                    .map(|name| Rule::new(name.to_string(), origin.clone())),
            );
        }
    }
}

/// Turn a switch off unless an earlier source already did (the first `false` is cited).
fn switch_off(switch: &mut Switch, by: Option<Origin>) {
    if let Some(origin) = by {
        if switch.allowed {
            *switch = Switch {
                allowed: false,
                origin,
            };
        }
    }
}

/// Step 4: one grant flag (restriction flags are ignored here).
fn apply_grant(
    policy: &mut Policy,
    flag: &PolicyFlag,
    origin: &Origin,
    cwd: &Path,
    lookup: &Lookup,
) -> Result<(), PolicyError> {
    let entries = |value| list_or_any(flag, value);
    let path = |text: &str| resolve_path(Path::new(text), cwd, lookup);
    let program = |text: &str| resolve_program(text, cwd, lookup);
    match flag {
        PolicyFlag::AllowNet(value) => {
            let grants = rules(flag, origin, entries(value)?, parse_host_grant)?;
            policy.network.allow.extend(grants);
        }
        PolicyFlag::AllowLocalhost => policy.network.allow.push(Rule::new(
            HostGrant {
                host: HostSpec::Localhost,
                port: None,
            },
            origin.clone(),
        )),
        PolicyFlag::AllowDomain(value) => {
            let grants = rules(flag, origin, list(flag, value)?, parse_domain_grant)?;
            policy.network.allow.extend(grants);
        }
        PolicyFlag::AllowRead(value) => {
            let grants = rules(flag, origin, list(flag, value)?, path)?;
            policy.filesystem.read.extend(grants);
        }
        PolicyFlag::AllowWrite(value) => {
            let grants = rules(flag, origin, list(flag, value)?, path)?;
            policy.filesystem.write.extend(grants);
        }
        PolicyFlag::AllowEnv(value) => {
            let grants = rules(flag, origin, entries(value)?, parse_env)?;
            policy.environment.allow.extend(grants);
        }
        PolicyFlag::AllowRun(value) => {
            let grants = rules(flag, origin, entries(value)?, program)?;
            policy.subprocess.allow.extend(grants);
        }
        PolicyFlag::AllowNative(value) => {
            let grants = rules(flag, origin, entries(value)?, parse_native)?;
            policy.native.allow.extend(grants);
        }
        PolicyFlag::NoNetwork
        | PolicyFlag::NoSubprocess
        | PolicyFlag::FsReadonly(_)
        | PolicyFlag::NoEnvironment
        | PolicyFlag::NoCodeExec
        | PolicyFlag::DenyImport(_)
        | PolicyFlag::NoInterpreterMutation
        | PolicyFlag::BlockNative => {}
    }
    Ok(())
}

/// Parse each entry of a flag value into a rule with the flag's origin.
fn rules<T>(
    flag: &PolicyFlag,
    origin: &Origin,
    entries: Vec<&str>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<Rule<T>>, PolicyError> {
    entries
        .into_iter()
        .map(|entry| {
            parse(entry)
                .map(|value| Rule::new(value, origin.clone()))
                .map_err(|m| flag_error(flag, &m))
        })
        .collect()
}

/// `--allow-domain` takes a DNS name (or `localhost`), optionally with a port.
fn parse_domain_grant(text: &str) -> Result<HostGrant, String> {
    let grant = parse_host_grant(text)?;
    match grant.host {
        HostSpec::Domain(_) | HostSpec::Localhost => Ok(grant),
        HostSpec::Any | HostSpec::Net { .. } => Err(format!(
            "`{text}` is not a domain name; use --allow-net for `*` and IP addresses"
        )),
    }
}

/// Split a flag value on commas; an empty entry is an error.
fn list<'a>(flag: &PolicyFlag, value: &'a str) -> Result<Vec<&'a str>, PolicyError> {
    let entries: Vec<&str> = value.split(',').collect();
    if entries.len() > 1 && entries.iter().any(|entry| entry.is_empty()) {
        return Err(flag_error(flag, "empty entry in the comma-separated list"));
    }
    Ok(entries)
}

/// Like [`list`], but a bare grant flag (`--allow-net`) means `*`.
fn list_or_any<'a>(
    flag: &PolicyFlag,
    value: &'a Option<String>,
) -> Result<Vec<&'a str>, PolicyError> {
    match value {
        Some(value) => list(flag, value),
        None => Ok(vec!["*"]),
    }
}

fn flag_error(flag: &PolicyFlag, message: &str) -> PolicyError {
    PolicyError::new(format!("{}: {message}", flag_spelling(flag)))
}

/// Drop later copies of the same value in each list, keeping the first origin.
fn remove_duplicates(policy: &mut Policy) {
    dedup(&mut policy.network.allow);
    dedup(&mut policy.network.deny);
    dedup(&mut policy.filesystem.read);
    dedup(&mut policy.filesystem.write);
    dedup(&mut policy.filesystem.deny);
    dedup(&mut policy.subprocess.allow);
    dedup(&mut policy.environment.allow);
    dedup(&mut policy.native.allow);
    dedup(&mut policy.imports.deny);
}

fn dedup<T: PartialEq>(rules: &mut Vec<Rule<T>>) {
    let mut kept: Vec<Rule<T>> = Vec::with_capacity(rules.len());
    for rule in rules.drain(..) {
        if !kept.iter().any(|k| k.value == rule.value) {
            kept.push(rule);
        }
    }
    *rules = kept;
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
