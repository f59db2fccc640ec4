//! The command line: hermetic's own long options, then everything python takes.
//!
//! `hermetic-python [HERMETIC OPTIONS] [PYTHON OPTIONS] (script.py | -m mod | -c code | -) [ARGS]`
//!
//! Hermetic's options are all long options; CPython has almost none, so the split is
//! simple: leading arguments that start with `--` belong to hermetic (except python's own
//! `--check-hash-based-pycs` and `--help-*`), and everything from the first other argument
//! on is handed to CPython untouched. The doc comments below are the `--help` text.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, CommandFactory, Parser};

use crate::policy::{PolicyFlag, PolicyRequest, PROFILES};

/// Run Python code under a capability policy that the code cannot switch off.
///
/// Everything after hermetic's own options goes to CPython as `python` would take it:
/// a script and its arguments, `-m module`, `-c code`, `-` for stdin, and python's own
/// short options (-I -E -s -S -B -u -O -W -X -P ...). With no policy given, the built-in
/// default applies: no network, no subprocess, no writes, a small safe environment, no
/// native code beyond the standard library's.
#[derive(Debug, Parser)]
#[command(
    name = "hermetic-python",
    disable_version_flag = true,
    override_usage = "hermetic-python [OPTIONS] [PYTHON OPTIONS] (script.py | -m module | -c code | -) [ARGS]...",
    after_help = "Exit codes: the target's own code; 2 for an error in hermetic's options or policy; \
                  77 when an uncaught hermetic.PolicyViolation ended the run; 70 for an internal error. \
                  See docs/cli.md."
)]
pub struct Cli {
    /// Load the policy from this TOML file (default: $HERMETIC_POLICY, else the built-in default).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Apply a built-in profile (repeatable): block-all, net-hermetic, exec-deny, fs-readonly, block-native.
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(PROFILES))]
    pub profile: Vec<String>,

    /// Start from everything granted; --no-* options and deny lists narrow it.
    #[arg(long)]
    pub allow_all: bool,

    /// Grant network access to HOST[:PORT],... (no value: every host).
    #[arg(long, value_name = "HOSTS", num_args = 0..=1, require_equals = true, default_missing_value = "*", action = ArgAction::Append)]
    pub allow_net: Vec<String>,

    /// Grant reads under PATH,...
    #[arg(long, value_name = "PATHS", require_equals = true, action = ArgAction::Append)]
    pub allow_read: Vec<String>,

    /// Grant writes (and reads) under PATH,...
    #[arg(long, value_name = "PATHS", require_equals = true, action = ArgAction::Append)]
    pub allow_write: Vec<String>,

    /// Grant environment variables NAME or PREFIX*,... (no value: all).
    #[arg(long, value_name = "NAMES", num_args = 0..=1, require_equals = true, default_missing_value = "*", action = ArgAction::Append)]
    pub allow_env: Vec<String>,

    /// Grant starting PROGRAM,... (names resolved with PATH; no value: every program).
    #[arg(long, value_name = "PROGRAMS", num_args = 0..=1, require_equals = true, default_missing_value = "*", action = ArgAction::Append)]
    pub allow_run: Vec<String>,

    /// Grant native code: MODULE,... (no value: any, including ctypes).
    #[arg(long, value_name = "MODULES", num_args = 0..=1, require_equals = true, default_missing_value = "*", action = ArgAction::Append)]
    pub allow_native: Vec<String>,

    /// Seed flag: remove every network grant.
    #[arg(long)]
    pub no_network: bool,

    /// Seed flag: grant localhost (127.0.0.0/8, ::1).
    #[arg(long)]
    pub allow_localhost: bool,

    /// Seed flag: grant a domain and its subdomains (repeatable).
    #[arg(long, value_name = "DOMAIN", action = ArgAction::Append)]
    pub allow_domain: Vec<String>,

    /// Seed flag: remove every subprocess grant.
    #[arg(long)]
    pub no_subprocess: bool,

    /// Seed flag: no writes; reads everywhere, or only under ROOT.
    #[arg(long, value_name = "ROOT", num_args = 0..=1, require_equals = true, default_missing_value = "", action = ArgAction::Append)]
    pub fs_readonly: Vec<String>,

    /// Seed flag: remove every environment grant, the safe set included.
    #[arg(long, visible_alias = "no-env")]
    pub no_environment: bool,

    /// Seed flag: deny eval/exec/compile from user code.
    #[arg(long)]
    pub no_code_exec: bool,

    /// Seed flag: deny importing MODULE and its submodules (repeatable).
    #[arg(long, value_name = "MODULE", action = ArgAction::Append)]
    pub deny_import: Vec<String>,

    /// Seed flag: deny chdir and changes to sys.path and the import machinery.
    #[arg(long)]
    pub no_interpreter_mutation: bool,

    /// Seed flag: remove every native-code grant.
    #[arg(long)]
    pub block_native: bool,

    /// Seed flag, accepted for compatibility: the policy is always sealed.
    #[arg(long)]
    pub seal: bool,

    /// Print one line on stderr for every blocked action.
    #[arg(long)]
    pub trace: bool,

    /// Also append the trace lines to FILE.
    #[arg(long, value_name = "FILE")]
    pub trace_file: Option<PathBuf>,

    /// Print the effective policy as TOML and exit.
    #[arg(long)]
    pub print_policy: bool,

    /// Print hermetic's version and the CPython it embeds, and exit.
    #[arg(long)]
    pub version: bool,
}

/// Python's own long options: they end hermetic's part of the command line.
const PYTHON_LONG_OPTIONS: &[&str] = &[
    "check-hash-based-pycs",
    "help-env",
    "help-xoptions",
    "help-all",
];

/// The command line cut in two.
#[derive(Debug)]
pub struct Split {
    /// argv[0] followed by hermetic's own arguments.
    pub hermetic: Vec<OsString>,
    /// argv[0] followed by everything CPython gets.
    pub python: Vec<OsString>,
}

/// Cut `argv` (with argv[0]) into hermetic's part and python's part.
pub fn split(argv: Vec<OsString>) -> Split {
    let mut iter = argv.into_iter();
    let argv0 = iter
        .next()
        .unwrap_or_else(|| OsString::from("hermetic-python"));
    let rest: Vec<OsString> = iter.collect();
    let command = Cli::command();
    let mut hermetic = vec![argv0.clone()];
    let mut index = 0;
    while index < rest.len() {
        let Some(text) = rest[index].to_str() else {
            break;
        };
        if text == "--" || !text.starts_with("--") {
            break;
        }
        let (name, has_value) = match text[2..].split_once('=') {
            Some((name, _)) => (name, true),
            None => (&text[2..], false),
        };
        if PYTHON_LONG_OPTIONS.contains(&name) {
            break;
        }
        hermetic.push(rest[index].clone());
        index += 1;
        let takes_separate_value = command
            .get_arguments()
            .find(|a| {
                a.get_long() == Some(name)
                    || a.get_all_aliases().is_some_and(|al| al.contains(&name))
            })
            .is_some_and(|a| {
                a.get_action().takes_values()
                    && !a.is_require_equals_set()
                    && a.get_num_args().is_none_or(|n| n.min_values() > 0)
            });
        if takes_separate_value && !has_value && index < rest.len() {
            hermetic.push(rest[index].clone());
            index += 1;
        }
    }
    let mut python = vec![argv0];
    python.extend(rest[index..].iter().cloned());
    Split { hermetic, python }
}

impl Cli {
    /// The policy request these options make. `env_policy` is `$HERMETIC_POLICY`.
    pub fn request(&self, env_policy: Option<PathBuf>) -> PolicyRequest {
        let mut flags = Vec::new();
        let optional = |v: &String| if v == "*" { None } else { Some(v.clone()) };
        flags.extend(
            self.allow_net
                .iter()
                .map(|v| PolicyFlag::AllowNet(optional(v))),
        );
        flags.extend(self.allow_read.iter().cloned().map(PolicyFlag::AllowRead));
        flags.extend(self.allow_write.iter().cloned().map(PolicyFlag::AllowWrite));
        flags.extend(
            self.allow_env
                .iter()
                .map(|v| PolicyFlag::AllowEnv(optional(v))),
        );
        flags.extend(
            self.allow_run
                .iter()
                .map(|v| PolicyFlag::AllowRun(optional(v))),
        );
        flags.extend(
            self.allow_native
                .iter()
                .map(|v| PolicyFlag::AllowNative(optional(v))),
        );
        if self.no_network {
            flags.push(PolicyFlag::NoNetwork);
        }
        if self.allow_localhost {
            flags.push(PolicyFlag::AllowLocalhost);
        }
        flags.extend(
            self.allow_domain
                .iter()
                .cloned()
                .map(PolicyFlag::AllowDomain),
        );
        if self.no_subprocess {
            flags.push(PolicyFlag::NoSubprocess);
        }
        flags.extend(
            self.fs_readonly
                .iter()
                .map(|v| PolicyFlag::FsReadonly((!v.is_empty()).then(|| v.clone()))),
        );
        if self.no_environment {
            flags.push(PolicyFlag::NoEnvironment);
        }
        if self.no_code_exec {
            flags.push(PolicyFlag::NoCodeExec);
        }
        flags.extend(self.deny_import.iter().cloned().map(PolicyFlag::DenyImport));
        if self.no_interpreter_mutation {
            flags.push(PolicyFlag::NoInterpreterMutation);
        }
        if self.block_native {
            flags.push(PolicyFlag::BlockNative);
        }
        PolicyRequest {
            allow_all: self.allow_all,
            profiles: self.profile.clone(),
            file: self.policy.clone().or(env_policy),
            flags,
            trace: self.trace,
            trace_file: self.trace_file.clone(),
            sealed: None,
        }
    }
}

impl Cli {
    /// The first option that would grant something (rather than only take grants away),
    /// spelt as a user would write it. A process bounded by its parent's policy refuses
    /// those.
    pub fn first_widening(&self) -> Option<String> {
        let lists: [(&str, &Vec<String>); 8] = [
            ("--allow-net", &self.allow_net),
            ("--allow-read", &self.allow_read),
            ("--allow-write", &self.allow_write),
            ("--allow-env", &self.allow_env),
            ("--allow-run", &self.allow_run),
            ("--allow-native", &self.allow_native),
            ("--allow-domain", &self.allow_domain),
            ("--fs-readonly", &self.fs_readonly),
        ];
        if self.allow_all {
            return Some("--allow-all".into());
        }
        if self.allow_localhost {
            return Some("--allow-localhost".into());
        }
        if let Some(file) = &self.policy {
            return Some(format!("--policy {}", file.display()));
        }
        if let Some((flag, _)) = lists.iter().find(|(_, values)| !values.is_empty()) {
            return Some((*flag).to_string());
        }
        // Profiles that only take grants away may narrow a bounded process.
        self.profile
            .iter()
            .find(|p| !matches!(p.as_str(), "exec-deny" | "block-native"))
            .map(|p| format!("--profile {p}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[OsString]) -> Vec<String> {
        v.iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn splits_at_the_first_argument_hermetic_does_not_own() {
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (
                &["hp", "script.py", "--trace"],
                &["hp"],
                &["hp", "script.py", "--trace"],
            ),
            (
                &["hp", "--trace", "-c", "pass"],
                &["hp", "--trace"],
                &["hp", "-c", "pass"],
            ),
            (
                &["hp", "--policy", "p.toml", "x.py"],
                &["hp", "--policy", "p.toml"],
                &["hp", "x.py"],
            ),
            (
                &["hp", "--policy=p.toml", "x.py"],
                &["hp", "--policy=p.toml"],
                &["hp", "x.py"],
            ),
            (
                &["hp", "--allow-net", "x.py"],
                &["hp", "--allow-net"],
                &["hp", "x.py"],
            ),
            (
                &["hp", "--allow-domain", "a.com", "-m", "m"],
                &["hp", "--allow-domain", "a.com"],
                &["hp", "-m", "m"],
            ),
            (
                &["hp", "--fs-readonly", "x.py"],
                &["hp", "--fs-readonly"],
                &["hp", "x.py"],
            ),
            (
                &["hp", "--no-env", "--deny-import", "json", "-"],
                &["hp", "--no-env", "--deny-import", "json"],
                &["hp", "-"],
            ),
            (&["hp", "--", "x.py"], &["hp"], &["hp", "--", "x.py"]),
            (&["hp", "--help-env"], &["hp"], &["hp", "--help-env"]),
            (&["hp", "-I", "--trace"], &["hp"], &["hp", "-I", "--trace"]),
            (
                &["hp", "--allow-nett", "x.py"],
                &["hp", "--allow-nett"],
                &["hp", "x.py"],
            ),
        ];
        for (argv, ours, theirs) in cases {
            let split = split(argv.iter().map(OsString::from).collect());
            assert_eq!(strings(&split.hermetic), *ours, "{argv:?}");
            assert_eq!(strings(&split.python), *theirs, "{argv:?}");
        }
    }

    #[test]
    fn flags_become_a_request() {
        let cli = Cli::try_parse_from([
            "hp",
            "--allow-net",
            "--allow-net=example.com:443",
            "--fs-readonly",
            "--fs-readonly=/data",
            "--no-env",
            "--profile",
            "net-hermetic",
        ])
        .unwrap();
        let request = cli.request(Some(PathBuf::from("env.toml")));
        assert_eq!(request.file, Some(PathBuf::from("env.toml")));
        assert_eq!(request.profiles, vec!["net-hermetic".to_string()]);
        assert!(request.flags.contains(&PolicyFlag::AllowNet(None)));
        assert!(request
            .flags
            .contains(&PolicyFlag::AllowNet(Some("example.com:443".into()))));
        assert!(request.flags.contains(&PolicyFlag::FsReadonly(None)));
        assert!(request
            .flags
            .contains(&PolicyFlag::FsReadonly(Some("/data".into()))));
        assert!(request.flags.contains(&PolicyFlag::NoEnvironment));
    }

    #[test]
    fn the_command_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
