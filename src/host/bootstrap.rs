//! The embedded bootstrap: `bootstrap/bootstrap.py`, compiled into the binary, run once
//! after the interpreter starts and before the policy is armed. It installs the native
//! guards for surfaces that raise no audit event; it holds no policy itself.

use anyhow::Result;
use pyo3::prelude::*;
use pyo3::types::PyDict;

const SOURCE: &str = include_str!("../../bootstrap/bootstrap.py");
const FILENAME: &str = "<hermetic-bootstrap>";

pub fn run(py: Python<'_>) -> Result<()> {
    let builtins = py.import("builtins")?;
    let code = builtins
        .getattr("compile")?
        .call1((SOURCE, FILENAME, "exec"))?;
    let globals = PyDict::new(py);
    globals.set_item("__name__", "__hermetic_bootstrap__")?;
    globals.set_item("__builtins__", &builtins)?;
    let needs_learning = super::audit::engine().is_some_and(|e| e.net_needs_learning());
    globals.set_item("GUARD_LOOKUPS", needs_learning)?;
    builtins.getattr("exec")?.call1((code, &globals))?;
    globals.clear();
    Ok(())
}
