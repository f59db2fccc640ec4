//! Owning the only interpreter: build a `PyConfig` from the Python part of the command
//! line, start CPython with it, and hand over to `Py_RunMain`.
//!
//! The configuration is CPython's normal one (not isolated), parsed from argv by CPython
//! itself, so `-I -E -s -S -B -u -O -W -X -P` and `PYTHON*` variables mean what they mean
//! to `python`, with one change: CPython is told not to import `site` during
//! initialisation. `site` runs the installation's start-up code (`.pth` files,
//! `sitecustomize`, `usercustomize`), and that code must run under the policy like any
//! other; the host imports it once the hook is armed (`src/host/site.rs`).

use std::ffi::{c_char, CString};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;

use anyhow::{bail, Context, Result};
use pyo3::ffi;

/// What initialisation ended with.
pub enum Started {
    /// The interpreter is running; the GIL is held by this thread. `site` says whether the
    /// command line asks for the `site` module (no `-S`), which the host must then import.
    Running { site: bool },
    /// CPython finished during initialisation (`-h`, `-V`, a bad python option): exit with
    /// this code; CPython has already printed what it had to say.
    Exited(i32),
}

/// The command line as C strings, kept alive for both start-up steps.
pub struct Argv {
    owned: Vec<CString>,
}

impl Argv {
    pub fn new(argv: &[std::ffi::OsString]) -> Result<Argv> {
        let owned = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<std::result::Result<_, _>>()
            .context("an argument contains a NUL byte")?;
        Ok(Argv { owned })
    }

    fn pointers(&self) -> Vec<*const c_char> {
        self.owned.iter().map(|c| c.as_ptr()).collect()
    }
}

/// Pre-initialise the runtime from the command line, as `python` does first: this fixes
/// the memory allocators (`-X dev`, `PYTHONMALLOC`), UTF-8 mode and isolation before
/// anything (the audit hook included) allocates.
pub fn preinitialize(argv: &Argv) -> Result<Option<i32>> {
    let mut pointers = argv.pointers();
    let mut preconfig = MaybeUninit::<ffi::PyPreConfig>::uninit();
    // SAFETY: PyPreConfig_InitPythonConfig fills the struct; the pointers outlive the call.
    unsafe {
        ffi::PyPreConfig_InitPythonConfig(preconfig.as_mut_ptr());
        let status = ffi::Py_PreInitializeFromBytesArgs(
            preconfig.as_ptr(),
            pointers.len() as isize,
            pointers.as_mut_ptr() as *mut *mut c_char,
        );
        if let Some(result) = check(status, "pre-initializing Python") {
            return result.map(|started| match started {
                Started::Exited(code) => Some(code),
                Started::Running { .. } => None,
            });
        }
    }
    Ok(None)
}

/// Start CPython with `argv` (argv[0] first) parsed as `python` would parse it, but
/// without importing `site` (see the module comment).
pub fn start(argv: &Argv) -> Result<Started> {
    let site = match asks_for_site(argv)? {
        Ok(site) => site,
        Err(exited) => return Ok(exited),
    };
    let mut config = MaybeUninit::<ffi::PyConfig>::uninit();
    // SAFETY: `python_config` initialises the struct (or clears it and returns the
    // outcome); it is cleared after initialisation on every path.
    unsafe {
        let config_ptr = config.as_mut_ptr();
        if let Some(result) = python_config(config_ptr, argv) {
            return result;
        }
        // `-S` sets this to 0 as well; only a `._pth` file's `import site` line sets it back
        // while CPython starts (see `site::wanted`).
        (*config_ptr).site_import = 0;
        let status = ffi::Py_InitializeFromConfig(config_ptr);
        ffi::PyConfig_Clear(config_ptr);
        if let Some(result) = check(status, "initializing Python") {
            return result;
        }
        Ok(Started::Running { site })
    }
}

/// Does the command line ask for `site` (no `-S`)? Learnt from a configuration of its own,
/// read and thrown away: reading the configuration that starts CPython before
/// `Py_InitializeFromConfig` changes what it starts with (`-X warn_default_encoding` is
/// lost on 3.11). A command line CPython rejects, or `-h`/`-V`, ends here: CPython has
/// printed what it had to say, once, and the exit code is returned as `Err`.
fn asks_for_site(argv: &Argv) -> Result<std::result::Result<bool, Started>> {
    let mut probe = MaybeUninit::<ffi::PyConfig>::uninit();
    // SAFETY: as in `start`; the probe is cleared on every path and never used to start.
    unsafe {
        let probe_ptr = probe.as_mut_ptr();
        if let Some(result) = python_config(probe_ptr, argv) {
            return result.map(Err);
        }
        let status = ffi::PyConfig_Read(probe_ptr);
        let outcome = match check(status, "reading the python command line") {
            None => Ok(Ok((*probe_ptr).site_import != 0)),
            Some(result) => result.map(Err),
        };
        ffi::PyConfig_Clear(probe_ptr);
        outcome
    }
}

/// Fill `config` with CPython's normal configuration and the command line `argv`. On a
/// failure the config is cleared and the outcome returned.
///
/// # Safety
/// `config` points to writable memory for a `PyConfig`; the runtime is pre-initialised.
unsafe fn python_config(config: *mut ffi::PyConfig, argv: &Argv) -> Option<Result<Started>> {
    let mut pointers = argv.pointers();
    // SAFETY: PyConfig_InitPythonConfig fills the whole struct; `pointers` outlives the
    // SetBytesArgv call, which copies the strings.
    unsafe {
        ffi::PyConfig_InitPythonConfig(config);
        let status =
            ffi::PyConfig_SetBytesArgv(config, pointers.len() as isize, pointers.as_mut_ptr());
        let failed = check(status, "reading the python command line");
        if failed.is_some() {
            ffi::PyConfig_Clear(config);
        }
        failed
    }
}

/// Turn a failed or exiting `PyStatus` into a result; `None` when it is fine.
///
/// # Safety
/// `status` comes from a CPython configuration call.
unsafe fn check(status: ffi::PyStatus, step: &str) -> Option<Result<Started>> {
    // SAFETY: plain reads of the status the caller received.
    unsafe {
        if ffi::PyStatus_Exception(status) == 0 {
            return None;
        }
        if ffi::PyStatus_IsExit(status) != 0 {
            return Some(Ok(Started::Exited(status.exitcode)));
        }
        let message = if status.err_msg.is_null() {
            "unknown error".to_string()
        } else {
            std::ffi::CStr::from_ptr(status.err_msg)
                .to_string_lossy()
                .into_owned()
        };
        let message = if status.func.is_null() {
            message
        } else {
            let func = std::ffi::CStr::from_ptr(status.func).to_string_lossy();
            format!("{func}: {message}")
        };
        Some(Err(anyhow::anyhow!("{step}: {message}")))
    }
}

/// Run the target exactly as `python` would (script, `-m`, `-c`, stdin, REPL), finalize
/// the interpreter, and return the exit code python would have returned.
pub fn run_main() -> i32 {
    // SAFETY: the interpreter was initialised from our config and the GIL is held.
    unsafe { ffi::Py_RunMain() }
}

/// The version of the libpython actually loaded; refuses to go on if it is not the one
/// this binary was built for (same soname, another build: Debian's and pyenv's 3.11).
pub fn check_loaded_version() -> Result<()> {
    // SAFETY: Py_GetVersion returns a static NUL-terminated string, callable before init.
    let loaded = unsafe { std::ffi::CStr::from_ptr(super::ffi::Py_GetVersion()) }
        .to_string_lossy()
        .into_owned();
    let built = env!("HERMETIC_PYTHON_VERSION");
    let loaded_version = loaded.split_whitespace().next().unwrap_or("");
    if loaded_version != built {
        bail!(
            "this build embeds CPython {built} but loaded libpython {loaded_version}; \
             check LD_LIBRARY_PATH or rebuild with PYO3_PYTHON pointing at the python to embed"
        );
    }
    Ok(())
}
