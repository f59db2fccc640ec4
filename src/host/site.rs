//! The `site` module, imported under the policy.
//!
//! `python` imports `site` while it initialises, and `site` runs the installation's own
//! start-up code: every `.pth` file in the site-packages folders (a line that starts with
//! `import` is executed), `sitecustomize` and `usercustomize`. Run there, that code would
//! run before the policy is armed, with the unscrubbed environment, so a file planted in
//! site-packages or the user site by an earlier run with write access would hold nothing
//! back on the next start. The host therefore starts CPython without `site`
//! ([`super::interpreter::start`]) and imports it here, once the hook is armed, before the
//! target runs: the same module, the same `main()`, the same order as python, only judged.
//!
//! Two things are read before the policy is armed and the environment is scrubbed
//! ([`prepare`]): the user site folder (`site` finds it from `PYTHONUSERBASE` or `HOME`,
//! and caches it), and the folders `site` is about to read, which become implicit read
//! roots. After `site` ran ([`run`]), what it added to `sys.path` (site-packages, paths
//! from `.pth` files) and a virtual environment's prefix become implicit roots too, as
//! they were when CPython imported `site` itself.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// Does the host import `site`? `asked` says whether python's options ask for it (no `-S`);
/// CPython was started without it, but a `._pth` file beside the executable (read by
/// CPython 3.11 and later while it starts) overrides both: without an `import site` line
/// it means no `site`; with one, CPython has imported `site` itself during start-up
/// (`sys.flags.no_site` is then clear), before the policy could be armed.
pub fn wanted(py: Python<'_>, asked: bool) -> Result<bool> {
    let sys = py.import("sys")?;
    let no_site: bool = sys.getattr("flags")?.getattr("no_site")?.is_truthy()?;
    if !no_site || !asked {
        return Ok(false);
    }
    let version = sys.getattr("version_info")?;
    let (major, minor): (u32, u32) = (
        version.get_item(0)?.extract()?,
        version.get_item(1)?.extract()?,
    );
    if (major, minor) < (3, 11) {
        return Ok(true);
    }
    let mut executables: Vec<PathBuf> = Vec::new();
    if let Ok(executable) = sys.getattr("executable")?.extract::<PathBuf>() {
        executables.push(executable);
    }
    if let Ok(real) = std::env::current_exe() {
        executables.push(real);
    }
    let pth = executables.iter().any(|e| {
        let mut name = e.clone().into_os_string();
        name.push("._pth");
        e.is_absolute() && std::path::Path::new(&name).is_file()
    });
    Ok(!pth)
}

/// The folders `site` reads while it runs: the user site folder (when `site` would use
/// it), a virtual environment's folder (when a `pyvenv.cfg` sits beside the executable
/// or one folder up, as `site.venv` looks for it), and the real file of a
/// `sitecustomize.py` or `usercustomize.py` that is a symlink (Debian's
/// `/usr/lib/python3.X/sitecustomize.py` leads to `/etc/python3.X/`). Imports `site`
/// without running it (`sys.flags.no_site` is still set) and lets it cache the user site
/// folder from the environment as the process received it.
pub fn prepare(py: Python<'_>) -> Result<Vec<PathBuf>> {
    let site = py.import("site").context("importing the site module")?;
    let mut folders = Vec::new();
    let user_site: PathBuf = site.call_method0("getusersitepackages")?.extract()?;
    let mut searched: Vec<PathBuf> = Vec::new();
    for entry in py.import("sys")?.getattr("path")?.try_iter()? {
        searched.push(entry?.extract()?);
    }
    for entry in site.call_method0("getsitepackages")?.try_iter()? {
        searched.push(entry?.extract()?);
    }
    if site.call_method0("check_enableusersite")?.is_truthy()? {
        searched.push(user_site.clone());
        folders.push(user_site);
    }
    for folder in searched.iter().filter(|f| f.is_absolute()) {
        for name in ["sitecustomize.py", "usercustomize.py"] {
            let file = folder.join(name);
            if std::fs::symlink_metadata(&file).is_ok_and(|m| m.file_type().is_symlink()) {
                folders.push(crate::capability::fs::resolve(&file));
            }
        }
    }
    let executable: Option<PathBuf> = py.import("sys")?.getattr("executable")?.extract().ok();
    // `site.venv` takes the executable's folder as written (a venv's `bin/` may hold a
    // symlink to hermetic-python), made absolute.
    if let Some(folder) = executable
        .filter(|e| e.is_absolute())
        .and_then(|e| e.parent().map(PathBuf::from))
    {
        if let Some(prefix) = folder.parent() {
            let candidates = [folder.join("pyvenv.cfg"), prefix.join("pyvenv.cfg")];
            if candidates.iter().any(|c| c.is_file()) {
                folders.push(prefix.to_path_buf());
            }
        }
    }
    Ok(folders)
}

/// Run `site` as python's initialisation would have: clear `sys.flags.no_site` (the
/// target must see the flags python would give it; `subprocess` and `multiprocessing`
/// pass them on to children) and call `site.main()`. Returns the folders the target's
/// implicit reads gain: `sys.path` and the prefixes as `site` left them; or `None` when
/// `site` raised (a `SystemExit` or `KeyboardInterrupt` from `sitecustomize`, say), which
/// python reports as a fatal start-up error and ends with exit code 1: so does this.
pub fn run(py: Python<'_>) -> Result<Option<Vec<PathBuf>>> {
    set_no_site_flag(py, false).context("restoring sys.flags.no_site")?;
    let site = py.import("site")?;
    super::report::set_in_site(true);
    let ran = site.call_method0("main");
    super::report::set_in_site(false);
    if let Err(error) = ran {
        eprintln!("Fatal Python error: init_import_site: Failed to import the site module");
        eprintln!("Python runtime state: initialized");
        error.display(py);
        return Ok(None);
    }
    let sys = py.import("sys")?;
    let mut folders = Vec::new();
    for name in ["prefix", "exec_prefix"] {
        folders.push(sys.getattr(name)?.extract::<PathBuf>()?);
    }
    for entry in sys.getattr("path")?.try_iter()? {
        let entry: PathBuf = entry?.extract()?;
        if !entry.as_os_str().is_empty() {
            folders.push(entry);
        }
    }
    Ok(Some(folders))
}

/// Set the `no_site` field of `sys.flags` in place (its type cannot be instantiated from
/// Python, and CPython itself updates the object in place when it reconfigures).
fn set_no_site_flag(py: Python<'_>, value: bool) -> Result<()> {
    let flags = py.import("sys")?.getattr("flags")?;
    let names = flags.get_type().getattr("__match_args__")?;
    let names = names.cast::<PyTuple>().map_err(PyErr::from)?;
    let Some(index) = names
        .iter()
        .position(|name| name.extract::<String>().is_ok_and(|n| n == "no_site"))
    else {
        bail!("sys.flags has no no_site field");
    };
    if index >= flags.len()? {
        bail!("sys.flags is shorter than its field names");
    }
    // SAFETY: the GIL is held; `flags` is a struct sequence with more than `index` items
    // (checked above). SetItem steals the new reference and does not release the old item,
    // which is released here after the swap, as CPython does when it updates the flags.
    unsafe {
        let object = flags.as_ptr();
        let old = ffi::PyStructSequence_GetItem(object, index as ffi::Py_ssize_t);
        let new = ffi::PyLong_FromLong(i64::from(value) as std::ffi::c_long);
        if new.is_null() {
            return Err(PyErr::fetch(py).into());
        }
        ffi::PyStructSequence_SetItem(object, index as ffi::Py_ssize_t, new);
        if !old.is_null() {
            ffi::Py_DecRef(old);
        }
    }
    Ok(())
}
