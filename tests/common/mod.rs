//! Running the built binary (each case a fresh process: the interpreter is process-global)
//! and the plain python it embeds, for side-by-side comparisons.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Print everything, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The hermetic-python binary under test.
pub fn hermetic_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hermetic-python"))
}

/// The plain CPython this build embeds.
pub fn python_bin() -> PathBuf {
    let version = env!("HERMETIC_PYTHON_VERSION");
    let minor: Vec<&str> = version.split('.').take(2).collect();
    Path::new(env!("HERMETIC_PYTHON_PREFIX")).join(format!("bin/python{}", minor.join(".")))
}

/// A command with a predictable environment: no HERMETIC_POLICY from the caller.
pub fn command(program: &Path) -> Command {
    let mut command = Command::new(program);
    command.env_remove("HERMETIC_POLICY");
    command.env_remove("PYTHONSTARTUP");
    command
}

/// What hermetic adds to a trace line for a refusal made by the installation's own
/// start-up code (`.pth` files, `sitecustomize`), which `site` runs under the policy.
pub const SITE_MARK: &str = " [site start-up]";

/// `text` without the trace lines of refusals made by `site`'s start-up code: what the
/// machine's site-packages does at start-up (this workplace has a `.pth` file that reads
/// a CA file) is not what the tests that read traces are about. `tests/site.rs` tests
/// those lines themselves, with [`run_raw`].
pub fn without_site_lines(text: &str) -> String {
    text.split_inclusive('\n')
        .filter(|line| !line.trim_end_matches('\n').ends_with(SITE_MARK))
        .collect()
}

/// A trace file's lines, without [`SITE_MARK`]ed ones.
pub fn read_trace(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    without_site_lines(&text)
}

/// Run `program args` with `stdin`, in `dir` if given, with extra environment; stderr
/// without [`SITE_MARK`]ed trace lines.
pub fn run_in(
    program: &Path,
    args: &[&str],
    stdin: Option<&str>,
    dir: Option<&Path>,
    env: &[(&str, &str)],
) -> Run {
    let mut run = run_raw(program, args, stdin, dir, env);
    run.stderr = without_site_lines(&run.stderr);
    run
}

/// [`run_in`], with stderr as the program wrote it.
pub fn run_raw(
    program: &Path,
    args: &[&str],
    stdin: Option<&str>,
    dir: Option<&Path>,
    env: &[(&str, &str)],
) -> Run {
    let mut command = command(program);
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// hermetic-python with these arguments.
pub fn hermetic(args: &[&str]) -> Run {
    run_in(&hermetic_bin(), args, None, None, &[])
}

/// A fresh temporary folder (canonical path), removed by the caller if it cares.
pub fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("hermetic-test-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    std::fs::canonicalize(&dir).expect("canonical temp dir")
}

/// Write `body` to `dir/name` and return the path.
pub fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write file");
    path
}

/// `lib/pythonX.Y/site-packages` below `prefix`, for the embedded CPython.
pub fn site_packages_below(prefix: &Path) -> PathBuf {
    let version = env!("HERMETIC_PYTHON_VERSION");
    let minor: Vec<&str> = version.split('.').take(2).collect();
    prefix.join(format!("lib/python{}/site-packages", minor.join(".")))
}

/// A virtual environment at `venv` (no pip) made by the embedded CPython, with
/// hermetic-python linked into its `bin/`; returns its site-packages folder.
pub fn venv_with_hermetic(venv: &Path) -> PathBuf {
    let made = Command::new(python_bin())
        .args(["-m", "venv", "--without-pip"])
        .arg(venv)
        .status()
        .expect("venv");
    assert!(made.success(), "creating the venv failed");
    std::os::unix::fs::symlink(hermetic_bin(), venv.join("bin/hermetic-python")).expect("symlink");
    let site_packages = site_packages_below(venv);
    assert!(site_packages.is_dir(), "{}", site_packages.display());
    site_packages
}
