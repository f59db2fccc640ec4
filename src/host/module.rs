//! The built-in modules the host registers before the interpreter starts (so no file on
//! `sys.path` can shadow them):
//! - `hermetic`, public: `PolicyViolation`, `__version__`.
//! - `_hermetic`, private: what the bootstrap calls to install the native guards. Every
//!   function in it refuses to work once the policy is armed, and the bootstrap removes it
//!   from `sys.modules`.
//!
//! Originals that a guard replaces are kept in Rust statics, never in a Python object
//! that user code could reach through `__closure__` or `__globals__`.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::create_exception;
use pyo3::exceptions::{PyImportError, PyPermissionError, PyRuntimeError};
use pyo3::prelude::*;

use super::{audit, guards};
use crate::capability::Denial;

create_exception!(
    hermetic,
    PolicyViolation,
    PyPermissionError,
    "An action refused by the hermetic-python policy (a PermissionError)."
);

create_exception!(
    hermetic,
    ImportBlocked,
    PyImportError,
    "An import refused by the hermetic-python policy (an ImportError, so optional imports degrade)."
);

/// Set when an uncaught `PolicyViolation` ended the target; the host then exits with
/// [`crate::exit::BLOCKED`].
static UNCAUGHT: AtomicBool = AtomicBool::new(false);

pub fn uncaught_violation() -> bool {
    UNCAUGHT.load(Ordering::SeqCst)
}

/// The public module `hermetic`.
#[pymodule]
#[pyo3(name = "hermetic")]
pub fn hermetic_public(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("PolicyViolation", m.py().get_type::<PolicyViolation>())?;
    m.add("ImportBlocked", m.py().get_type::<ImportBlocked>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// The private module `_hermetic`, for the bootstrap only.
#[pymodule]
#[pyo3(name = "_hermetic")]
pub fn hermetic_private(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(install_excepthook, m)?)?;
    m.add_function(wrap_pyfunction!(guards::guard_socket_lookups, m)?)?;
    m.add_function(wrap_pyfunction!(guards::guard_fork_exec, m)?)?;
    m.add_function(wrap_pyfunction!(guards::guard_posix, m)?)?;
    m.add_function(wrap_pyfunction!(guards::guard_imp, m)?)?;
    Ok(())
}

pub(super) fn refuse_if_armed() -> PyResult<()> {
    if audit::is_armed() {
        return Err(PyRuntimeError::new_err(
            "_hermetic is for the start-up bootstrap only",
        ));
    }
    Ok(())
}

/// Set the pending Python exception for a denial: `hermetic.ImportBlocked` for a refused
/// import, `hermetic.PolicyViolation` for anything else.
///
/// # Safety
/// The GIL is held by this thread.
pub unsafe fn raise_violation(denial: &Denial, import: bool) {
    let message = denial.to_string();
    // SAFETY: the GIL is held (caller contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: both are plain reads of the runtime's interpreter pointers.
    let in_main =
        unsafe { pyo3::ffi::PyInterpreterState_Get() == pyo3::ffi::PyInterpreterState_Main() };
    // Exception types made by the main interpreter must not cross into another one.
    match (in_main, import) {
        (true, false) => PolicyViolation::new_err(message).restore(py),
        (true, true) => ImportBlocked::new_err(message).restore(py),
        (false, false) => PyPermissionError::new_err(message).restore(py),
        (false, true) => PyImportError::new_err(message).restore(py),
    }
}

/// `sys.excepthook` for the target: prints the traceback as python would, then, for an
/// uncaught `PolicyViolation` (or a `PermissionError` from an open refused at open time),
/// the one-line summary.
#[pyfunction]
fn excepthook(
    py: Python<'_>,
    kind: Bound<'_, PyAny>,
    value: Bound<'_, PyAny>,
    tb: Bound<'_, PyAny>,
) -> PyResult<()> {
    let sys = py.import("sys")?;
    sys.getattr("__excepthook__")?.call1((&kind, &value, &tb))?;
    let text: Option<String> =
        if value.is_instance_of::<PolicyViolation>() || value.is_instance_of::<ImportBlocked>() {
            Some(value.str()?.extract()?)
        } else {
            open_time_refusal(&value)
        };
    if let Some(text) = text {
        UNCAUGHT.store(true, Ordering::SeqCst);
        let (line, hint) = match text.split_once("; to allow it: ") {
            Some((line, hint)) => (line.to_string(), Some(hint.to_string())),
            None => (text, None),
        };
        let mut out = format!("hermetic: {line}\n");
        if let Some(hint) = hint {
            out.push_str(&format!("  hint: allow it with {hint}\n"));
        }
        let stderr = sys.getattr("stderr")?;
        if !stderr.is_none() {
            stderr.call_method1("write", (out,))?;
            stderr.call_method0("flush")?;
        }
    }
    Ok(())
}

/// The refusal behind a `PermissionError` (EACCES) from an open the host refused at open
/// time (see `host::opens`), if this is one.
fn open_time_refusal(value: &Bound<'_, PyAny>) -> Option<String> {
    if !value.is_instance_of::<pyo3::exceptions::PyPermissionError>() {
        return None;
    }
    let errno: i64 = value.getattr("errno").ok()?.extract().ok()?;
    if errno != 13 {
        return None;
    }
    let filename: std::path::PathBuf = value.getattr("filename").ok()?.extract().ok()?;
    super::opens::refusal_for(&filename)
}

/// Install [`excepthook`] as `sys.excepthook`.
#[pyfunction]
fn install_excepthook(py: Python<'_>) -> PyResult<()> {
    refuse_if_armed()?;
    let hook = wrap_pyfunction!(excepthook, py)?;
    py.import("sys")?.setattr("excepthook", hook)?;
    Ok(())
}
