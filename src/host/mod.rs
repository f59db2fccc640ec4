//! The start-up sequence, in order, in one function ([`run`]).
//!
//! 1. Check that the loaded libpython is the one this binary was built for.
//! 2. Open the trace sink; store the decision engine.
//! 3. Pre-initialise from the command line (allocators, UTF-8 mode), then register the
//!    audit hook (before the interpreter exists) and the built-in modules.
//! 4. Start CPython from our own `PyConfig`, argv parsed as `python` parses it.
//! 5. Self-test: raise `hermetic.selftest` and refuse to go on unless the hook saw it.
//! 6. Let `site` find the user site folder; scrub the environment; record the implicit
//!    read roots; run the bootstrap.
//! 7. Arm the policy; import `site` under it (CPython was started without it, so that
//!    `.pth` files and `sitecustomize` are judged); then `Py_RunMain` runs the target
//!    exactly as `python` would.
//!
//! A kernel backstop (Landlock, seccomp) slots in before step 3, and an audit log beside
//! the trace sink in step 2.

pub mod args;
pub mod audit;
mod bootstrap;
mod ffi;
mod guards;
mod interpret;
mod interpreter;
pub mod module;
pub mod opens;
pub mod report;
mod site;
mod snapshot;

use std::ffi::OsString;
use std::fs::File;

use anyhow::{bail, Context, Result};
use pyo3::prelude::*;

use crate::capability::Engine;
use crate::policy::{Origin, Policy, Rule, SEALED_NAME};

/// The variable that carries a hermetic-python's effective policy to the processes it
/// starts. Kept in the process environment (so children inherit it), hidden from
/// `os.environ`, never settable from Python, and put back into any environment the script
/// passes to a child.
pub const SEALED_VARIABLE: &str = "HERMETIC_SEALED";

/// Run the target under `policy`. `python_argv` is argv[0] followed by the arguments for
/// CPython; `trace_file` is the opened `--trace-file`/`[trace] file`. Returns the exit code.
pub fn run(policy: Policy, python_argv: &[OsString], trace_file: Option<File>) -> Result<i32> {
    interpreter::check_loaded_version()?;

    report::configure(policy.trace.enabled, trace_file);
    if !audit::set_engine(Engine::new(policy)) {
        bail!("the policy engine was already set");
    }

    let argv = interpreter::Argv::new(python_argv)?;
    if let Some(code) = interpreter::preinitialize(&argv)? {
        return Ok(code);
    }

    // SAFETY: called once, after pre-initialisation (so the hook entry is allocated with
    // the allocator the runtime will free it with) and before the interpreter exists.
    let added = unsafe { ffi::PySys_AddAuditHook(audit::audit_hook, std::ptr::null_mut()) };
    if added != 0 {
        bail!("registering the audit hook failed");
    }
    pyo3::append_to_inittab!(hermetic_public);
    pyo3::append_to_inittab!(hermetic_private);

    let site_asked = match interpreter::start(&argv)? {
        interpreter::Started::Running { site } => site,
        interpreter::Started::Exited(code) => return Ok(code),
    };

    // SAFETY: the interpreter is initialised and this thread holds the GIL; a null format
    // means the event has no arguments.
    unsafe {
        ffi::PySys_Audit(audit::SELFTEST_EVENT.as_ptr(), std::ptr::null());
    }
    if !audit::selftest_seen() {
        bail!("the audit hook did not see the self-test event; refusing to run unguarded");
    }

    let wants_site = Python::attach(|py| -> Result<bool> {
        let encoding: String = py
            .import("sys")?
            .call_method0("getfilesystemencoding")?
            .extract()?;
        args::set_filesystem_utf8(matches!(encoding.as_str(), "utf-8" | "utf8"));
        let wants_site = site::wanted(py, site_asked).context("while looking for site")?;
        let site_folders = match wants_site {
            true => site::prepare(py).context("while finding the site folders")?,
            false => Vec::new(),
        };
        scrub_environment(py).context("during the environment scrub")?;
        implicit_reads(py, site_folders).context("while finding the interpreter's own folders")?;
        seal_for_children();
        bootstrap::run(py).context("during the bootstrap")?;
        Ok(wants_site)
    })?;

    opens::enable();
    audit::arm();
    opens::judge_unannounced();
    if wants_site {
        let ran = Python::attach(|py| -> Result<bool> {
            let Some(added) = site::run(py).context("while importing site")? else {
                return Ok(false);
            };
            if site_reads(added).context("while recording the site folders")? {
                seal_for_children();
            }
            Ok(true)
        })?;
        if !ran {
            return Ok(1);
        }
    }
    let code = interpreter::run_main();
    if code == 1 && module::uncaught_violation() {
        return Ok(crate::exit::BLOCKED);
    }
    Ok(code)
}

use module::{hermetic_private, hermetic_public};

/// Remove every variable that is not granted from the process environment and from the
/// copies CPython made at start-up (`posix.environ`, `os.environ`). Environment reads raise
/// no audit event, so this is the only way to hold them. `HERMETIC_POLICY` always goes.
fn scrub_environment(py: Python<'_>) -> Result<()> {
    let Some(engine) = audit::engine() else {
        bail!("no engine")
    };
    let hidden: Vec<OsString> = std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            let text = name.to_string_lossy();
            text.starts_with("HERMETIC_") || !engine.env_granted(&text)
        })
        .collect();
    for name in &hidden {
        // SAFETY (not `unsafe` in edition 2021, but the same contract): no other thread
        // exists yet that could read the environment concurrently.
        std::env::remove_var(name);
    }
    let posix = py.import("posix")?;
    let mut dicts = vec![posix.getattr("environ")?];
    if let Ok(os) = py.import("sys")?.getattr("modules")?.get_item("os") {
        dicts.push(os.getattr("environ")?.getattr("_data")?);
    }
    for dict in dicts {
        for name in &hidden {
            let key = pyo3::types::PyBytes::new(py, name.as_encoded_bytes());
            if dict.contains(&key)? {
                dict.del_item(&key)?;
            }
        }
    }
    Ok(())
}

/// The read roots every run needs: the interpreter's prefixes, `sys.path` as CPython set it
/// up, and the target script with its folder (which `Py_RunMain` puts on `sys.path` later,
/// unless `-P`/`-I`).
fn implicit_reads(py: Python<'_>, site_folders: Vec<std::path::PathBuf>) -> Result<()> {
    let Some(engine) = audit::engine() else {
        bail!("no engine")
    };
    let sys = py.import("sys")?;
    let mut roots: Vec<std::path::PathBuf> = site_folders;
    for name in ["prefix", "exec_prefix", "base_prefix", "base_exec_prefix"] {
        // Paths as the filesystem encoding gives them (undecodable names included).
        roots.push(sys.getattr(name)?.extract::<std::path::PathBuf>()?);
    }
    let cwd = std::env::current_dir().context("reading the current directory")?;
    for entry in sys.getattr("path")?.try_iter()? {
        let entry: std::path::PathBuf = entry?.extract()?;
        roots.push(if entry.as_os_str().is_empty() {
            cwd.clone()
        } else {
            entry
        });
    }
    // A new interpreter (a granted subinterpreter) looks for `pyvenv.cfg` beside the
    // executable while it starts, as the main one did before the policy was armed.
    // getpath reads these files, when present, in the executable's folder.
    if let Ok(exe) = std::env::current_exe() {
        if let (Some(bin), Some(name)) = (exe.parent(), exe.file_name()) {
            let mut pth = name.to_os_string();
            pth.push("._pth");
            roots.push(bin.join(pth));
            roots.push(bin.join("pybuilddir.txt"));
            roots.push(bin.join("pyvenv.cfg"));
            if let Some(above) = bin.parent() {
                roots.push(above.join("pyvenv.cfg"));
            }
        }
    }
    // Only argv[0] matters here; later arguments may not be valid UTF-8.
    let first: Option<std::path::PathBuf> = match sys.getattr("argv")?.get_item(0) {
        Ok(item) => Some(item.extract()?),
        Err(_) => None,
    };
    let safe_path: bool = sys
        .getattr("flags")?
        .getattr("safe_path")
        .and_then(|v| v.extract())
        .unwrap_or(false);
    if let Some(first) = first {
        match first.to_str().unwrap_or("<script>") {
            "-c" | "-m" | "-" | "" => {
                if !safe_path {
                    roots.push(cwd.clone());
                }
            }
            _ => {
                let script = cwd.join(&first);
                let resolved = crate::capability::fs::resolve(&script);
                roots.push(resolved.clone());
                if !safe_path && !resolved.is_dir() {
                    if let Some(folder) = resolved.parent() {
                        roots.push(folder.to_path_buf());
                    }
                }
            }
        }
    }
    let version = sys.getattr("version_info")?;
    let (major, minor): (u32, u32) = (
        version.get_item(0)?.extract()?,
        version.get_item(1)?.extract()?,
    );
    let base: String = sys.getattr("base_prefix")?.extract()?;
    let stdlib = std::path::Path::new(&base).join(format!("lib/python{major}.{minor}"));
    if !engine.stdlib.set(stdlib) {
        bail!("the standard library folder was already set");
    }
    bounded_by_parent(engine, &mut roots);
    if !engine.set_roots(roots) {
        bail!("implicit read roots were already set");
    }
    Ok(())
}

/// Add what `site` put on `sys.path` (and a virtual environment's prefix) to the implicit
/// read roots, as they were when CPython imported `site` before the target. Returns
/// whether that gave any new root.
fn site_reads(mut added: Vec<std::path::PathBuf>) -> Result<bool> {
    let Some(engine) = audit::engine() else {
        bail!("no engine")
    };
    bounded_by_parent(engine, &mut added);
    match engine.add_site_roots(added) {
        Some(new) => Ok(new > 0),
        None => bail!("the site folders were already recorded"),
    }
}

/// A process bounded by its parent's policy gets no implicit read the parent's policy
/// (which lists the parent's own implicit reads) does not already give.
fn bounded_by_parent(engine: &Engine, roots: &mut Vec<std::path::PathBuf>) {
    if engine.policy.file.as_deref() == Some(std::path::Path::new(SEALED_NAME)) {
        roots.retain(|root| engine.fs_check(root, false).is_ok());
    }
}

/// `hermetic-python --version`: hermetic's version, the CPython it was built for, and the
/// one actually loaded with its prefix.
pub fn version_text() -> String {
    let built = env!("HERMETIC_PYTHON_VERSION");
    let prefix = env!("HERMETIC_PYTHON_PREFIX");
    // SAFETY: Py_GetVersion returns a static string and may be called before init.
    let loaded = unsafe { std::ffi::CStr::from_ptr(ffi::Py_GetVersion()) }
        .to_string_lossy()
        .into_owned();
    let loaded = loaded.split_whitespace().next().unwrap_or("").to_string();
    format!(
        "hermetic-python {} (CPython {built}, prefix {prefix}; loaded libpython {loaded})",
        env!("CARGO_PKG_VERSION")
    )
}

/// Put this process's effective policy, with its implicit reads written out, into
/// [`SEALED_VARIABLE`] for the processes it starts (the guards put it back into any
/// environment the script hands a child).
fn seal_for_children() {
    let Some(engine) = audit::engine() else {
        return;
    };
    let mut policy = engine.policy.clone();
    let implicit = Origin::Flag("implicit read of the parent".to_string());
    policy.filesystem.read.extend(
        engine
            .fs
            .reads()
            .map(|root| Rule::new(root.clone(), implicit.clone())),
    );
    let text = crate::policy::render(&policy);
    // Not `unsafe` in edition 2021; the same contract as the scrub: no other thread yet.
    std::env::set_var(SEALED_VARIABLE, &text);
    guards::set_sealed_text(text);
}
