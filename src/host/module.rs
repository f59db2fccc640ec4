//! The built-in modules the host registers before the interpreter starts (so no file on
//! `sys.path` can shadow them):
//! - `hermetic`, public: `PolicyViolation`, `__version__`.
//! - `_hermetic`, private: what the bootstrap calls to install the native guards. Every
//!   function in it refuses to work once the policy is armed, and the bootstrap removes it
//!   from `sys.modules`.
//!
//! Originals that a guard replaces are kept in Rust statics, never in a Python object
//! that user code could reach through `__closure__` or `__globals__`.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use pyo3::create_exception;
use pyo3::exceptions::{PyPermissionError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use super::audit;
use crate::capability::Denial;

create_exception!(
    hermetic,
    PolicyViolation,
    PyPermissionError,
    "An action refused by the hermetic-python policy (a PermissionError)."
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
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// The private module `_hermetic`, for the bootstrap only.
#[pymodule]
#[pyo3(name = "_hermetic")]
pub fn hermetic_private(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(install_excepthook, m)?)?;
    m.add_function(wrap_pyfunction!(guard_socket_lookups, m)?)?;
    m.add_function(wrap_pyfunction!(guard_fork_exec, m)?)?;
    m.add_function(wrap_pyfunction!(guard_posix, m)?)?;
    m.add_function(wrap_pyfunction!(guard_imp, m)?)?;
    Ok(())
}

fn refuse_if_armed() -> PyResult<()> {
    if audit::is_armed() {
        return Err(PyRuntimeError::new_err(
            "_hermetic is for the start-up bootstrap only",
        ));
    }
    Ok(())
}

/// Set the pending Python exception for a denial.
///
/// # Safety
/// The GIL is held by this thread.
pub unsafe fn raise_violation(denial: &Denial) {
    let message = denial.to_string();
    // SAFETY: the GIL is held (caller contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: both are plain reads of the runtime's interpreter pointers.
    let in_main =
        unsafe { pyo3::ffi::PyInterpreterState_Get() == pyo3::ffi::PyInterpreterState_Main() };
    if in_main {
        PolicyViolation::new_err(message).restore(py);
    } else {
        // Exception types made by the main interpreter must not cross into another one.
        PyPermissionError::new_err(message).restore(py);
    }
}

/// `sys.excepthook` for the target: prints the traceback as python would, then, for an
/// uncaught `PolicyViolation`, the one-line summary.
#[pyfunction]
fn excepthook(
    py: Python<'_>,
    kind: Bound<'_, PyAny>,
    value: Bound<'_, PyAny>,
    tb: Bound<'_, PyAny>,
) -> PyResult<()> {
    let sys = py.import("sys")?;
    sys.getattr("__excepthook__")?.call1((&kind, &value, &tb))?;
    if value.is_instance_of::<PolicyViolation>() {
        UNCAUGHT.store(true, Ordering::SeqCst);
        let text: String = value.str()?.extract()?;
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

/// Install [`excepthook`] as `sys.excepthook`.
#[pyfunction]
fn install_excepthook(py: Python<'_>) -> PyResult<()> {
    refuse_if_armed()?;
    let hook = wrap_pyfunction!(excepthook, py)?;
    py.import("sys")?.setattr("excepthook", hook)?;
    Ok(())
}

static ORIGINAL_GETADDRINFO: OnceLock<Py<PyAny>> = OnceLock::new();
static ORIGINAL_GETHOSTBYNAME: OnceLock<Py<PyAny>> = OnceLock::new();
static ORIGINAL_GETHOSTBYNAME_EX: OnceLock<Py<PyAny>> = OnceLock::new();

/// Replace `_socket.getaddrinfo`, `gethostbyname` and `gethostbyname_ex` with native
/// wrappers that record the addresses a granted look-up returned. The look-up itself is
/// still decided by the hook (its audit event fires inside the original). A fresh copy of
/// `_socket` made later skips the recording, which only means its addresses stay
/// ungranted: the wrappers can only widen what a connect to a literal IP may reach.
#[pyfunction]
fn guard_socket_lookups(py: Python<'_>, module: Bound<'_, PyModule>) -> PyResult<()> {
    refuse_if_armed()?;
    let _ = ORIGINAL_GETADDRINFO.set(module.getattr("getaddrinfo")?.unbind());
    let _ = ORIGINAL_GETHOSTBYNAME.set(module.getattr("gethostbyname")?.unbind());
    let _ = ORIGINAL_GETHOSTBYNAME_EX.set(module.getattr("gethostbyname_ex")?.unbind());
    module.setattr("getaddrinfo", wrap_pyfunction!(getaddrinfo, py)?)?;
    module.setattr("gethostbyname", wrap_pyfunction!(gethostbyname, py)?)?;
    module.setattr("gethostbyname_ex", wrap_pyfunction!(gethostbyname_ex, py)?)?;
    Ok(())
}

fn original<'py>(py: Python<'py>, cell: &OnceLock<Py<PyAny>>) -> PyResult<Bound<'py, PyAny>> {
    cell.get()
        .map(|f| f.bind(py).clone())
        .ok_or_else(|| PyRuntimeError::new_err("hermetic: socket guard not installed"))
}

fn host_argument(
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    key: &str,
) -> Option<String> {
    let value = match args.get_item(0) {
        Ok(v) => Some(v),
        Err(_) => kwargs.and_then(|k| k.get_item(key).ok().flatten()),
    }?;
    if let Ok(text) = value.extract::<String>() {
        return Some(text);
    }
    value
        .extract::<Vec<u8>>()
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn parse_ip(value: &Bound<'_, PyAny>) -> Option<IpAddr> {
    let text: String = value.extract().ok()?;
    let text = text.split('%').next().unwrap_or(&text).to_string();
    text.parse().ok()
}

/// `getaddrinfo(host, port, family=0, type=0, proto=0, flags=0)`, recording results.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn getaddrinfo<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let result = original(py, &ORIGINAL_GETADDRINFO)?.call(args, kwargs)?;
    if let Some(host) = host_argument(args, kwargs, "host") {
        let mut ips = Vec::new();
        if let Ok(list) = result.cast::<PyList>() {
            for entry in list.iter() {
                if let Ok(address) = entry.get_item(4).and_then(|sockaddr| sockaddr.get_item(0)) {
                    ips.extend(parse_ip(&address));
                }
            }
        }
        audit::record_lookup(&host, &ips);
    }
    Ok(result)
}

/// `gethostbyname(name)`, recording the result.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn gethostbyname<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let result = original(py, &ORIGINAL_GETHOSTBYNAME)?.call(args, kwargs)?;
    if let Some(host) = host_argument(args, kwargs, "hostname") {
        audit::record_lookup(&host, &parse_ip(&result).into_iter().collect::<Vec<_>>());
    }
    Ok(result)
}

/// `gethostbyname_ex(name)`, recording the results.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn gethostbyname_ex<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let result = original(py, &ORIGINAL_GETHOSTBYNAME_EX)?.call(args, kwargs)?;
    if let Some(host) = host_argument(args, kwargs, "hostname") {
        let mut ips = Vec::new();
        if let Ok(list) = result.get_item(2) {
            if let Ok(iter) = list.try_iter() {
                for address in iter.flatten() {
                    ips.extend(parse_ip(&address));
                }
            }
        }
        audit::record_lookup(&host, &ips);
    }
    Ok(result)
}

static ORIGINAL_FORK_EXEC: OnceLock<Py<PyAny>> = OnceLock::new();

/// Replace `_posixsubprocess.fork_exec` (the real fork+exec behind `subprocess` and
/// `multiprocessing`, which raises no audit event) with a native wrapper that asks the
/// engine about the program before the original runs. The original stays in a Rust static.
/// `subprocess` and `multiprocessing` look the function up on the module, or import it
/// after this runs, so they get the wrapper.
#[pyfunction]
fn guard_fork_exec(py: Python<'_>, module: Bound<'_, PyModule>) -> PyResult<()> {
    refuse_if_armed()?;
    let _ = ORIGINAL_FORK_EXEC.set(module.getattr("fork_exec")?.unbind());
    module.setattr("fork_exec", wrap_pyfunction!(fork_exec, py)?)?;
    Ok(())
}

/// The program `fork_exec` would run: the first of its candidate paths that is an
/// executable file (the child tries them in order), else the first candidate.
fn fork_exec_program(candidates: &Bound<'_, PyAny>) -> Option<String> {
    let mut names = Vec::new();
    for item in candidates.try_iter().ok()? {
        let item = item.ok()?;
        let name = match item.extract::<String>() {
            Ok(text) => text,
            Err(_) => String::from_utf8_lossy(&item.extract::<Vec<u8>>().ok()?).into_owned(),
        };
        names.push(name);
    }
    let runnable = names.iter().find(|n| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(n).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    });
    runnable.or(names.first()).cloned()
}

/// `_posixsubprocess.fork_exec(args, executable_list, ...)`, checked.
#[pyfunction]
#[pyo3(signature = (*args))]
fn fork_exec<'py>(py: Python<'py>, args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
    let engine = audit::engine().ok_or_else(|| PyRuntimeError::new_err("hermetic: no policy"))?;
    let program = args.get_item(1).ok().and_then(|c| fork_exec_program(&c));
    let decision = match program {
        Some(program) => engine.subprocess_check(&program, None),
        None => engine.subprocess_check("", None),
    };
    if let Err(denial) = decision {
        super::report::blocked(&denial);
        return Err(PolicyViolation::new_err(denial.to_string()));
    }
    original(py, &ORIGINAL_FORK_EXEC)?.call1(args)
}

static ORIGINAL_OPEN: OnceLock<Py<PyAny>> = OnceLock::new();
static ORIGINAL_MKFIFO: OnceLock<Py<PyAny>> = OnceLock::new();
static ORIGINAL_MKNOD: OnceLock<Py<PyAny>> = OnceLock::new();

/// Replace `posix.open`, `mkfifo`, `mknod` and `chroot` (and their `os` names when `os` is
/// already imported; a later `import os` copies them from `posix`):
/// - `open(path, flags, dir_fd=fd)`: its audit event names only the relative path; the
///   wrapper tells the hook which folder `fd` is, so the event is judged against it.
/// - `mkfifo`, `mknod`: no audit event at all; checked here as writes.
/// - `chroot`: would make every path the policy names mean another file; refused unless
///   the whole filesystem is granted.
#[pyfunction]
fn guard_posix(py: Python<'_>, posix: Bound<'_, PyModule>) -> PyResult<()> {
    refuse_if_armed()?;
    let _ = ORIGINAL_OPEN.set(posix.getattr("open")?.unbind());
    let _ = ORIGINAL_MKFIFO.set(posix.getattr("mkfifo")?.unbind());
    let _ = ORIGINAL_MKNOD.set(posix.getattr("mknod")?.unbind());
    let modules = py.import("sys")?.getattr("modules")?;
    let mut targets = vec![posix.into_any()];
    if let Ok(os) = modules.get_item("os") {
        targets.push(os);
    }
    for target in targets {
        target.setattr("open", wrap_pyfunction!(open, py)?)?;
        target.setattr("mkfifo", wrap_pyfunction!(mkfifo, py)?)?;
        target.setattr("mknod", wrap_pyfunction!(mknod, py)?)?;
        target.setattr("chroot", wrap_pyfunction!(chroot, py)?)?;
    }
    Ok(())
}

/// The folder an `fd` names, for a `dir_fd` argument.
fn dir_fd_base(kwargs: Option<&Bound<'_, PyDict>>) -> Option<Option<std::path::PathBuf>> {
    let value = kwargs?.get_item("dir_fd").ok().flatten()?;
    if value.is_none() {
        return None;
    }
    let fd: i64 = value.extract().ok()?;
    Some(crate::capability::fs::fd_path(fd))
}

fn deny(denial: Denial) -> PyErr {
    super::report::blocked(&denial);
    PolicyViolation::new_err(denial.to_string())
}

/// `os.open(path, flags, mode=0o777, *, dir_fd=None)`.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn open<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let original = original(py, &ORIGINAL_OPEN)?;
    match dir_fd_base(kwargs) {
        None => original.call(args, kwargs),
        Some(base) => {
            // An fd that is not a folder we can name: judge the name against a folder
            // nothing grants, so only a policy granting everything lets it through.
            let base = base.unwrap_or_else(|| std::path::PathBuf::from("/<unresolvable dir_fd>"));
            let _context = audit::OpenBase::set(base);
            original.call(args, kwargs)
        }
    }
}

/// The path a `mkfifo`/`mknod` call creates, made absolute against `dir_fd`.
fn created_path(
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<std::path::PathBuf> {
    let path = match args.get_item(0) {
        Ok(p) => p,
        Err(_) => kwargs
            .and_then(|k| k.get_item("path").ok().flatten())
            .ok_or_else(|| pyo3::exceptions::PyTypeError::new_err("missing path"))?,
    };
    let path: std::path::PathBuf = path.extract()?;
    match dir_fd_base(kwargs) {
        Some(base) if path.is_relative() => Ok(base
            .unwrap_or_else(|| std::path::PathBuf::from("/<unresolvable dir_fd>"))
            .join(path)),
        _ => Ok(path),
    }
}

fn checked_create<'py>(
    py: Python<'py>,
    cell: &OnceLock<Py<PyAny>>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let engine = audit::engine().ok_or_else(|| PyRuntimeError::new_err("hermetic: no policy"))?;
    let path = created_path(args, kwargs)?;
    let parent = path.parent().map(|p| engine.resolve(p)).unwrap_or_default();
    let resolved = match path.file_name() {
        Some(name) => parent.join(name),
        None => engine.resolve(&path),
    };
    engine.fs_check_resolved(&resolved, true).map_err(deny)?;
    original(py, cell)?.call(args, kwargs)
}

/// `os.mkfifo(path, mode=0o666, *, dir_fd=None)`, checked as a write.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn mkfifo<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    checked_create(py, &ORIGINAL_MKFIFO, args, kwargs)
}

/// `os.mknod(path, mode=0o600, device=0, *, dir_fd=None)`, checked as a write.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn mknod<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    checked_create(py, &ORIGINAL_MKNOD, args, kwargs)
}

/// `os.chroot(path)`: refused unless reads and writes of `/` are granted.
#[pyfunction]
#[pyo3(signature = (*_args, **_kwargs))]
fn chroot(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
    let engine = audit::engine().ok_or_else(|| PyRuntimeError::new_err("hermetic: no policy"))?;
    let root = std::path::Path::new("/");
    engine
        .fs_check_resolved(root, true)
        .and_then(|()| engine.fs_check_resolved(root, false))
        .map_err(|denial| {
            deny(Denial {
                detail: "chroot".to_string(),
                ..denial
            })
        })?;
    Err(pyo3::exceptions::PyPermissionError::new_err(
        "hermetic: chroot would change what every path in the policy means; run without hermetic-python to use it",
    ))
}

static ORIGINAL_CREATE_BUILTIN: OnceLock<Py<PyAny>> = OnceLock::new();

/// Built-in modules whose functions the bootstrap replaces. For modules compiled into
/// libpython, `_imp.create_builtin` builds a fresh module object from the functions as they
/// were at start-up, and raises no audit event.
const GUARDED_BUILTINS: &[&str] = &["posix", "_posixsubprocess", "_socket", "_imp"];

/// Replace `_imp.create_builtin` (what importlib calls for built-in modules) with a
/// wrapper that refuses a second copy of a guarded module.
#[pyfunction]
fn guard_imp(py: Python<'_>, imp: Bound<'_, PyModule>) -> PyResult<()> {
    refuse_if_armed()?;
    let _ = ORIGINAL_CREATE_BUILTIN.set(imp.getattr("create_builtin")?.unbind());
    imp.setattr("create_builtin", wrap_pyfunction!(create_builtin, py)?)?;
    Ok(())
}

/// `_imp.create_builtin(spec)`, refusing fresh copies of guarded modules once armed.
#[pyfunction]
fn create_builtin<'py>(py: Python<'py>, spec: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if audit::is_armed() {
        let name: String = spec.getattr("name")?.extract()?;
        let loaded = py.import("sys")?.getattr("modules")?.contains(&name)?;
        let native_any = audit::engine().is_some_and(|e| {
            e.policy
                .native
                .allow
                .iter()
                .any(|r| r.value == crate::policy::NativeSpec::Any)
        });
        if loaded && GUARDED_BUILTINS.contains(&name.as_str()) && !native_any {
            return Err(deny(Denial {
                capability: crate::capability::Capability::Interpreter,
                detail: format!("fresh copy of {name}"),
                reason: crate::capability::Reason::Never(
                    "would bypass the guards installed at start-up",
                ),
                hint: None,
            }));
        }
    }
    original(py, &ORIGINAL_CREATE_BUILTIN)?.call1((spec,))
}
