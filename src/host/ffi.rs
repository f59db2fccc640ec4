//! The few C declarations that pyo3-ffi 0.30 does not provide.
//!
//! Every `unsafe` call into them lives in `host/`, each with a `SAFETY:` note at the call
//! site. These are stable C-API functions present in CPython 3.8 and later.

use std::ffi::{c_char, c_int, c_void};

use pyo3::ffi::PyObject;

/// The signature CPython expects for an audit hook (PEP 578).
pub type AuditHookFn = unsafe extern "C" fn(
    event: *const c_char,
    args: *mut PyObject,
    user_data: *mut c_void,
) -> c_int;

extern "C" {
    /// Add a runtime-wide audit hook. May be called before `Py_Initialize*`; such hooks
    /// cannot be removed from Python and see every interpreter's events.
    pub fn PySys_AddAuditHook(hook: AuditHookFn, user_data: *mut c_void) -> c_int;

    /// Raise an audit event. `format` is a `Py_BuildValue` format, or null for no arguments.
    pub fn PySys_Audit(event: *const c_char, format: *const c_char, ...) -> c_int;

    /// The version string of the libpython actually loaded (`"3.11.7 (main, ...)"`).
    pub fn Py_GetVersion() -> *const c_char;
}
