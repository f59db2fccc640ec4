//! The embedded bootstrap: `bootstrap/bootstrap.py`, compiled into the binary, run once
//! after the interpreter starts and before the policy is armed. It installs the native
//! guards for surfaces that raise no audit event; it holds no policy itself.
//!
//! It is compiled through the C API (`Py_CompileStringExFlags`), not `builtins.compile`:
//! the builtin first asks whether its argument is an `ast` node, which builds CPython's
//! hundred-odd AST classes, about 2 ms of start-up that plain `python -c pass` never pays.

use std::ffi::CStr;

use anyhow::Result;
use pyo3::prelude::*;
use pyo3::types::code::PyCodeInput;
use pyo3::types::{PyCode, PyCodeMethods, PyDict};

const SOURCE: &CStr = match CStr::from_bytes_with_nul(
    concat!(include_str!("../../bootstrap/bootstrap.py"), "\0").as_bytes(),
) {
    Ok(source) => source,
    Err(_) => panic!("bootstrap/bootstrap.py must not contain a NUL byte"),
};
const FILENAME: &CStr = c"<hermetic-bootstrap>";

pub fn run(py: Python<'_>) -> Result<()> {
    let code = PyCode::compile(py, SOURCE, FILENAME, PyCodeInput::File)?;
    let globals = PyDict::new(py);
    globals.set_item("__name__", "__hermetic_bootstrap__")?;
    globals.set_item("__builtins__", py.import("builtins")?)?;
    let needs_learning = super::audit::engine().is_some_and(|e| e.net_needs_learning());
    globals.set_item("GUARD_LOOKUPS", needs_learning)?;
    code.run(Some(&globals), None)?;
    globals.clear();
    Ok(())
}
