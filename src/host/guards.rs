//! The native guards the bootstrap installs where CPython raises no audit event, or where
//! the event does not show what will really happen: DNS answers recorded for granted
//! look-ups, `_posixsubprocess.fork_exec`, `posix.open` (`dir_fd`), `mkfifo`, `mknod`,
//! `chroot`, `posix_spawn` (file actions), `execve`, `_imp.create_builtin`, and the
//! sealed environment every child receives. Each wrapper asks the engine, then calls the
//! original, which is kept in a Rust static and never in a Python object.

use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyDict, PyList, PyTuple};

use super::audit;
use super::module::{refuse_if_armed, PolicyViolation};
use crate::capability::Denial;

/// This process's effective policy as children receive it (`HERMETIC_SEALED`). Written
/// before the bootstrap, and again if `site` adds implicit read roots.
static SEALED_TEXT: Mutex<Option<String>> = Mutex::new(None);

pub fn set_sealed_text(text: String) {
    *SEALED_TEXT.lock().unwrap_or_else(|p| p.into_inner()) = Some(text);
}

fn sealed_text() -> Option<String> {
    SEALED_TEXT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

/// `environment` with `HERMETIC_SEALED` set to this process's policy: a child started with
/// an explicit environment is bounded like one that inherits ours.
fn sealed_env_list<'py>(py: Python<'py>, env: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let Some(text) = sealed_text() else {
        return Ok(env.clone());
    };
    let prefix = format!("{}=", super::SEALED_VARIABLE);
    let mut entries: Vec<Bound<'py, PyAny>> = Vec::new();
    for item in env.try_iter()? {
        let item = item?;
        let bytes: Vec<u8> = item.extract().unwrap_or_default();
        if !bytes.starts_with(prefix.as_bytes()) {
            entries.push(item);
        }
    }
    let ours = pyo3::types::PyBytes::new(py, format!("{prefix}{text}").as_bytes()).into_any();
    entries.push(ours);
    Ok(PyList::new(py, entries)?.into_any())
}

/// A copy of the mapping `env` with `HERMETIC_SEALED` set to this process's policy.
fn sealed_env_mapping<'py>(
    py: Python<'py>,
    env: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(text) = sealed_text() else {
        return Ok(env.clone());
    };
    let copy = PyDict::new(py);
    copy.call_method1("update", (env,))?;
    for key in [
        super::SEALED_VARIABLE.into_pyobject(py)?.into_any(),
        pyo3::types::PyBytes::new(py, super::SEALED_VARIABLE.as_bytes()).into_any(),
    ] {
        if copy.contains(&key)? {
            copy.del_item(&key)?;
        }
    }
    copy.set_item(super::SEALED_VARIABLE, text)?;
    Ok(copy.into_any())
}

/// `args`/`kwargs` with the environment argument (positional `index`, or `env=`) sealed.
fn with_sealed_env<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
    index: usize,
) -> PyResult<(Bound<'py, PyTuple>, Option<Bound<'py, PyDict>>)> {
    let mut positional: Vec<Bound<'py, PyAny>> = args.iter().collect();
    if let Some(env) = positional.get_mut(index) {
        if !env.is_none() {
            *env = sealed_env_mapping(py, env)?;
        }
    }
    let kwargs = match kwargs {
        Some(k) => {
            let copy = k.copy()?;
            if let Some(env) = copy.get_item("env")? {
                if !env.is_none() {
                    copy.set_item("env", sealed_env_mapping(py, &env)?)?;
                }
            }
            Some(copy)
        }
        None => None,
    };
    Ok((PyTuple::new(py, positional)?, kwargs))
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
pub(super) fn guard_socket_lookups(py: Python<'_>, module: Bound<'_, PyModule>) -> PyResult<()> {
    refuse_if_armed()?;
    keep(&ORIGINAL_GETADDRINFO, &module, "getaddrinfo")?;
    mark_patched(&module)?;
    keep(&ORIGINAL_GETHOSTBYNAME, &module, "gethostbyname")?;
    keep(&ORIGINAL_GETHOSTBYNAME_EX, &module, "gethostbyname_ex")?;
    module.setattr("getaddrinfo", wrap_pyfunction!(getaddrinfo, py)?)?;
    module.setattr("gethostbyname", wrap_pyfunction!(gethostbyname, py)?)?;
    module.setattr("gethostbyname_ex", wrap_pyfunction!(gethostbyname_ex, py)?)?;
    Ok(())
}

/// Keep `module.name` (the original a guard replaces) in `cell`, for the guard to call.
fn keep(cell: &OnceLock<Py<PyAny>>, module: &Bound<'_, PyModule>, name: &str) -> PyResult<()> {
    let _ = cell.set(module.getattr(name)?.unbind());
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
pub(super) fn guard_fork_exec(py: Python<'_>, module: Bound<'_, PyModule>) -> PyResult<()> {
    refuse_if_armed()?;
    keep(&ORIGINAL_FORK_EXEC, &module, "fork_exec")?;
    mark_patched(&module)?;
    module.setattr("fork_exec", wrap_pyfunction!(fork_exec, py)?)?;
    Ok(())
}

/// `_posixsubprocess.fork_exec(args, executable_list, close_fds, pass_fds, cwd, env, ...)`
/// (the same first six parameters in 3.10-3.13), checked. The child would try every
/// candidate in `executable_list` in turn, carrying on after any error (ENOEXEC, ETXTBSY,
/// EACCES...), so the wrapper checks the first candidate that is an executable file and
/// hands the original only that one: what was checked is what runs.
#[pyfunction]
#[pyo3(signature = (*args))]
fn fork_exec<'py>(py: Python<'py>, args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
    use std::os::unix::ffi::OsStrExt;
    let engine = audit::engine().ok_or_else(|| PyRuntimeError::new_err("hermetic: no policy"))?;
    let cwd: Option<std::path::PathBuf> = match args.get_item(4) {
        Ok(cwd) if !cwd.is_none() => {
            Some(cwd.extract().unwrap_or_else(|_| "/<unreadable cwd>".into()))
        }
        _ => None,
    };
    let base = match &cwd {
        Some(cwd) => cwd.clone(),
        None => std::env::current_dir().map_err(|e| PyRuntimeError::new_err(e.to_string()))?,
    };
    let mut candidates: Vec<Bound<'py, PyAny>> = Vec::new();
    if let Ok(list) = args.get_item(1) {
        for item in list.try_iter()? {
            candidates.push(item?);
        }
    }
    let as_path = |item: &Bound<'py, PyAny>| -> Option<std::path::PathBuf> {
        match item.extract::<Vec<u8>>() {
            Ok(bytes) => Some(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(
                &bytes,
            ))),
            Err(_) => item.extract::<std::path::PathBuf>().ok(),
        }
    };
    let chosen = candidates
        .iter()
        .find(|c| {
            as_path(c).is_some_and(|p| crate::capability::subprocess::is_executable(&base.join(p)))
        })
        .or(candidates.first());
    let decision = match chosen.and_then(as_path) {
        Some(path) => engine.subprocess_check(&base.join(path).to_string_lossy(), None, None),
        None => engine.subprocess_check("", None, None),
    };
    decision.map_err(deny)?;
    let mut forwarded: Vec<Bound<'py, PyAny>> = args.iter().collect();
    if let (Some(chosen), Some(slot)) = (chosen, forwarded.get_mut(1)) {
        *slot = PyTuple::new(py, [chosen.clone()])?.into_any();
    }
    if let Some(env) = forwarded.get_mut(5) {
        if !env.is_none() {
            *env = sealed_env_list(py, env)?;
        }
    }
    original(py, &ORIGINAL_FORK_EXEC)?.call1(PyTuple::new(py, forwarded)?)
}

static ORIGINAL_OPEN: OnceLock<Py<PyAny>> = OnceLock::new();
static ORIGINAL_MKFIFO: OnceLock<Py<PyAny>> = OnceLock::new();
static ORIGINAL_MKNOD: OnceLock<Py<PyAny>> = OnceLock::new();
static ORIGINAL_POSIX_SPAWN: OnceLock<Py<PyAny>> = OnceLock::new();
static ORIGINAL_POSIX_SPAWNP: OnceLock<Py<PyAny>> = OnceLock::new();

/// Replace `posix.open`, `mkfifo`, `mknod` and `chroot` (and their `os` names when `os` is
/// already imported; a later `import os` copies them from `posix`):
/// - `open(path, flags, dir_fd=fd)`: its audit event names only the relative path; the
///   wrapper tells the hook which folder `fd` is, so the event is judged against it.
/// - `mkfifo`, `mknod`: no audit event at all; checked here as writes.
/// - `chroot`: would make every path the policy names mean another file; refused unless
///   the whole filesystem is granted.
/// - `posix_spawn`, `posix_spawnp`: their `file_actions` open files in the child, which
///   the `os.posix_spawn` event does not show; each `POSIX_SPAWN_OPEN` is checked here.
#[pyfunction]
pub(super) fn guard_posix(py: Python<'_>, posix: Bound<'_, PyModule>) -> PyResult<()> {
    refuse_if_armed()?;
    keep(&ORIGINAL_OPEN, &posix, "open")?;
    mark_patched(&posix)?;
    keep(&ORIGINAL_MKFIFO, &posix, "mkfifo")?;
    keep(&ORIGINAL_MKNOD, &posix, "mknod")?;
    keep(&ORIGINAL_POSIX_SPAWN, &posix, "posix_spawn")?;
    keep(&ORIGINAL_POSIX_SPAWNP, &posix, "posix_spawnp")?;
    keep(&ORIGINAL_EXECVE, &posix, "execve")?;
    keep(&ORIGINAL_CHROOT, &posix, "chroot")?;
    let originals: Vec<(&str, Bound<'_, PyAny>)> = [
        "open",
        "mkfifo",
        "mknod",
        "chroot",
        "posix_spawn",
        "posix_spawnp",
        "execve",
    ]
    .into_iter()
    .map(|name| posix.getattr(name).map(|f| (name, f)))
    .collect::<PyResult<_>>()?;
    // One wrapper object per function, set on both modules, so `os.open is posix.open`
    // still holds.
    let wrappers: Vec<(&str, Bound<'_, PyAny>)> = vec![
        ("open", wrap_pyfunction!(open, py)?.into_any()),
        ("mkfifo", wrap_pyfunction!(mkfifo, py)?.into_any()),
        ("mknod", wrap_pyfunction!(mknod, py)?.into_any()),
        ("chroot", wrap_pyfunction!(chroot, py)?.into_any()),
        ("posix_spawn", wrap_pyfunction!(posix_spawn, py)?.into_any()),
        (
            "posix_spawnp",
            wrap_pyfunction!(posix_spawnp, py)?.into_any(),
        ),
        ("execve", wrap_pyfunction!(execve, py)?.into_any()),
    ];
    let os = py.import("sys")?.getattr("modules")?.get_item("os").ok();
    let mut targets = vec![posix.into_any()];
    targets.extend(os.clone());
    for target in &targets {
        for (name, wrapper) in &wrappers {
            target.setattr(*name, wrapper)?;
        }
    }
    // `os` lists functions by identity in `supports_dir_fd` and friends (shutil.rmtree
    // picks its symlink-safe version from them): put the wrappers where the originals were.
    if let Some(os) = os {
        for set_name in [
            "supports_dir_fd",
            "supports_fd",
            "supports_follow_symlinks",
            "supports_effective_ids",
        ] {
            let Ok(set) = os.getattr(set_name) else {
                continue;
            };
            for ((_, original), (_, wrapper)) in originals.iter().zip(&wrappers) {
                if set.contains(original)? {
                    set.call_method1("discard", (original,))?;
                    set.call_method1("add", (wrapper,))?;
                }
            }
        }
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

static ORIGINAL_CHROOT: OnceLock<Py<PyAny>> = OnceLock::new();

/// `os.chroot(path)`: after it every path the policy names would mean another file, so it
/// is refused unless reads and writes of `/` are granted (then it runs as usual).
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn chroot<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
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
    original(py, &ORIGINAL_CHROOT)?.call(args, kwargs)
}

static ORIGINAL_CREATE_BUILTIN: OnceLock<Py<PyAny>> = OnceLock::new();

/// The built-in modules whose functions a guard replaced: a second copy of any of them
/// would hand back the originals.
static PATCHED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn mark_patched(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let name: String = module.name()?.extract()?;
    let mut patched = PATCHED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !patched.contains(&name) {
        patched.push(name);
    }
    Ok(())
}

/// Replace `_imp.create_builtin` (what importlib calls for built-in modules) with a
/// wrapper that refuses a second copy of a guarded module.
#[pyfunction]
pub(super) fn guard_imp(py: Python<'_>, imp: Bound<'_, PyModule>) -> PyResult<()> {
    refuse_if_armed()?;
    keep(&ORIGINAL_CREATE_BUILTIN, &imp, "create_builtin")?;
    mark_patched(&imp)?;
    imp.setattr("create_builtin", wrap_pyfunction!(create_builtin, py)?)?;
    Ok(())
}

/// `_imp.create_builtin(spec)`, refusing once armed a second copy of a module a guard
/// patched (for modules compiled into libpython, `create_builtin` builds a fresh module from
/// the functions as they were at start-up, and raises no audit event). The name is read
/// once and the original gets a spec that cannot change it between reads.
#[pyfunction]
fn create_builtin<'py>(py: Python<'py>, spec: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let name: String = spec.getattr("name")?.extract()?;
    if audit::is_armed() {
        let patched = PATCHED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(&name);
        if patched {
            let engine =
                audit::engine().ok_or_else(|| PyRuntimeError::new_err("hermetic: no policy"))?;
            engine.fresh_copy_check(&name).map_err(deny)?;
        }
    }
    let fixed = py.import("types")?.getattr("SimpleNamespace")?.call(
        (),
        Some(
            &[
                ("name", name.into_pyobject(py)?.into_any()),
                (
                    "origin",
                    spec.getattr("origin")
                        .unwrap_or_else(|_| py.None().into_bound(py)),
                ),
            ]
            .into_py_dict(py)?,
        ),
    )?;
    original(py, &ORIGINAL_CREATE_BUILTIN)?.call1((fixed,))
}

/// Check the `POSIX_SPAWN_OPEN` actions of a `posix_spawn` call: `(0, fd, path, flags, mode)`.
fn check_file_actions(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
    let Some(actions) = kwargs.and_then(|k| k.get_item("file_actions").ok().flatten()) else {
        return Ok(());
    };
    if actions.is_none() {
        return Ok(());
    }
    let engine = audit::engine().ok_or_else(|| PyRuntimeError::new_err("hermetic: no policy"))?;
    for action in actions.try_iter()? {
        let action: Vec<Bound<'_, PyAny>> = action?.try_iter()?.collect::<PyResult<_>>()?;
        let tag: i64 = match action.first() {
            Some(tag) => tag.extract()?,
            None => continue,
        };
        if tag != 0 {
            continue;
        }
        let (Some(path), Some(flags)) = (action.get(2), action.get(3)) else {
            continue;
        };
        let path: std::path::PathBuf = path.extract()?;
        let flags: i64 = flags.extract()?;
        let write = flags & (0o1 | 0o2 | 0o100 | 0o1000 | 0o2000 | 0o20000000) != 0;
        engine
            .fs_check_resolved(&engine.resolve(&path), write)
            .map_err(deny)?;
    }
    Ok(())
}

/// `os.posix_spawn(path, argv, env, *, file_actions=None, ...)`, file actions checked.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn posix_spawn<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    check_file_actions(kwargs)?;
    let (args, kwargs) = with_sealed_env(py, args, kwargs, 2)?;
    original(py, &ORIGINAL_POSIX_SPAWN)?.call(args, kwargs.as_ref())
}

/// `os.posix_spawnp(...)`, file actions checked.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn posix_spawnp<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    check_file_actions(kwargs)?;
    let (args, kwargs) = with_sealed_env(py, args, kwargs, 2)?;
    original(py, &ORIGINAL_POSIX_SPAWNP)?.call(args, kwargs.as_ref())
}

static ORIGINAL_EXECVE: OnceLock<Py<PyAny>> = OnceLock::new();

/// `os.execve(path, argv, env)`: the new program image gets `HERMETIC_SEALED` too.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn execve<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (args, kwargs) = with_sealed_env(py, args, kwargs, 2)?;
    original(py, &ORIGINAL_EXECVE)?.call(args, kwargs.as_ref())
}
