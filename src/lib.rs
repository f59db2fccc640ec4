//! hermetic-python: a drop-in `python` whose process carries a capability policy that the
//! Python code it runs cannot switch off.
//!
//! `main.rs` only hands the command line to [`main_with_args`]; everything else lives here
//! so tests and future front ends can call it.

pub mod capability;
pub mod cli;
pub mod exit;
pub mod host;
pub mod policy;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::Parser;

use exit::Failure;

/// Run hermetic-python with this command line (argv[0] first); returns the exit code.
pub fn main_with_args(argv: Vec<OsString>) -> i32 {
    match run(argv) {
        Ok(code) => code,
        Err(failure) => {
            let _ = writeln!(std::io::stderr(), "{failure}");
            failure.code()
        }
    }
}

fn run(argv: Vec<OsString>) -> Result<i32, Failure> {
    let split = cli::split(argv);
    let options = match cli::Cli::try_parse_from(&split.hermetic) {
        Ok(options) => options,
        Err(error) => return usage(error),
    };
    if options.version {
        let _ = writeln!(std::io::stdout(), "{}", host::version_text());
        return Ok(0);
    }
    let env_policy = std::env::var_os("HERMETIC_POLICY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    // Started by a hermetic-python: its policy bounds this one, and only narrowing options
    // may apply on top of it.
    let sealed = std::env::var(host::SEALED_VARIABLE)
        .ok()
        .filter(|v| !v.is_empty());
    let mut request = options.request(env_policy.clone());
    if let Some(bound) = sealed {
        let widening = options
            .first_widening()
            .or_else(|| env_policy.map(|p| format!("HERMETIC_POLICY={}", p.display())));
        if let Some(option) = widening {
            return Err(Failure::Usage(format!(
                "{option} would widen the policy of the hermetic-python that started this one; \
                 a child can only narrow it"
            )));
        }
        request.file = None;
        request.sealed = Some(bound);
    }
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::Internal(anyhow::anyhow!("reading the current directory: {e}")))?;
    let policy = policy::resolve(&request, &cwd).map_err(|e| Failure::Policy(e.to_string()))?;
    if options.print_policy {
        let _ = write!(std::io::stdout(), "{}", policy::render(&policy));
        return Ok(0);
    }
    let trace_file = match &policy.trace.file {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    Failure::Policy(format!(
                        "{}: cannot open the trace file: {e}",
                        path.display()
                    ))
                })?,
        ),
        None => None,
    };
    host::run(policy, &split.python, trace_file).map_err(Failure::Internal)
}

/// Clap's errors are several lines; hermetic's are one (plus clap's tip, if any).
fn usage(error: clap::Error) -> Result<i32, Failure> {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return Ok(0);
    }
    let rendered = error.render().to_string();
    let mut lines = rendered.lines().filter(|l| !l.trim().is_empty());
    let first = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_string();
    let tip = lines
        .find(|l| l.trim_start().starts_with("tip:"))
        .map(|t| format!(" ({})", t.trim()))
        .unwrap_or_default();
    Err(Failure::Usage(format!(
        "{first}{tip}; see hermetic-python --help"
    )))
}
