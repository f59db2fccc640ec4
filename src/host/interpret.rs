//! Reading what an audit event's arguments mean: the Python stack, module names, paths
//! (fds, `dir_fd`, names not followed), programs, socket addresses, SQLite URIs. The hook
//! (`audit.rs`) turns each event into these questions; the answers come from the engine.

use std::ffi::CStr;
use std::path::{Path, PathBuf};

use pyo3::ffi;

use super::args::{self, item};
use crate::capability::code::Frame;
use crate::capability::net::Host;
use crate::capability::{fs, Capability, Decision, Denial, Engine, Reason};

/// The Python stack at this event, innermost first (at most 256 frames): each frame's
/// file and function name. Empty when no Python code is running.
pub(super) fn python_stack() -> Vec<Frame> {
    let mut frames = Vec::new();
    // SAFETY: GIL held inside the hook. PyEval_GetFrame returns a borrowed frame (or
    // null); PyFrame_GetBack and PyFrame_GetCode return new references, released here.
    // co_filename and co_name are plain members: reading them runs no Python code and
    // raises no audit event.
    unsafe {
        let mut frame = ffi::PyEval_GetFrame();
        if frame.is_null() {
            return frames;
        }
        ffi::Py_IncRef(frame.cast());
        while !frame.is_null() && frames.len() < 256 {
            let code = ffi::PyFrame_GetCode(frame);
            if !code.is_null() {
                let file = code_text(code.cast(), c"co_filename");
                let name = code_text(code.cast(), c"co_name");
                ffi::Py_DecRef(code.cast());
                frames.push(Frame { file, name });
            }
            let back = ffi::PyFrame_GetBack(frame);
            ffi::Py_DecRef(frame.cast());
            frame = back;
        }
        if !frame.is_null() {
            ffi::Py_DecRef(frame.cast());
        }
        ffi::PyErr_Clear();
    }
    frames
}

/// The module a module-body code object (`co_name == "<module>"`) belongs to, from its
/// file and the `sys.path` entry it lies under (`.../json/decoder.py` → `json.decoder`),
/// or from a frozen module's name.
///
/// # Safety
/// GIL held; `code` is a live object.
pub(super) unsafe fn module_of_code(code: *mut ffi::PyObject) -> Option<String> {
    // SAFETY: only code objects are read; sys.path items are read as text only.
    unsafe {
        if ffi::PyCode_Check(code) == 0 || code_text(code, c"co_name") != "<module>" {
            return None;
        }
        let file = code_text(code, c"co_filename");
        if let Some(frozen) = file
            .strip_prefix("<frozen ")
            .and_then(|f| f.strip_suffix('>'))
        {
            return Some(frozen.to_string());
        }
        let path = ffi::PySys_GetObject(c"path".as_ptr());
        if path.is_null() || ffi::PyList_Check(path) == 0 {
            return None;
        }
        let cwd = std::env::current_dir().ok();
        let mut best: Option<String> = None;
        let mut best_len = 0;
        for i in 0..ffi::PyList_Size(path) {
            let entry = ffi::PyList_GetItem(path, i);
            let Some(entry) = (!entry.is_null()).then(|| args::text(entry)).flatten() else {
                continue;
            };
            let entry = match (entry.is_empty(), &cwd) {
                (true, Some(cwd)) => cwd.to_string_lossy().into_owned(),
                _ => entry,
            };
            let Some(rest) = file
                .strip_prefix(entry.trim_end_matches('/'))
                .and_then(|r| r.strip_prefix('/'))
            else {
                continue;
            };
            if entry.len() < best_len {
                continue;
            }
            let stem = rest
                .strip_suffix(".py")
                .or_else(|| rest.strip_suffix(".pyc"))
                .unwrap_or(rest);
            let stem = stem.strip_suffix("/__init__").unwrap_or(stem);
            best = Some(stem.replace('/', "."));
            best_len = entry.len();
        }
        best
    }
}

/// A `str` member of a code object, or an empty string.
///
/// # Safety
/// GIL held; `code` is a live code object.
pub(super) unsafe fn code_text(code: *mut ffi::PyObject, member: &CStr) -> String {
    // SAFETY: forwarded contract; the new reference is released.
    unsafe {
        let value = ffi::PyObject_GetAttrString(code, member.as_ptr());
        if value.is_null() {
            ffi::PyErr_Clear();
            return String::new();
        }
        let text = args::text(value).unwrap_or_default();
        ffi::Py_DecRef(value);
        text
    }
}

pub(super) fn unreadable(capability: Capability) -> Denial {
    Denial {
        capability,
        detail: "<unreadable argument>".to_string(),
        reason: Reason::Never("argument of an unexpected type"),
        hint: None,
    }
}

/// A path argument, or an fd (resolved through `/proc/self/fd`), made absolute against
/// `dir_fd` when given.
///
/// # Safety
/// GIL held; `obj` is a live object.
pub(super) unsafe fn path_or_fd(obj: *mut ffi::PyObject, dir_fd: Option<i64>) -> Option<PathBuf> {
    // SAFETY: forwarded to type-checked readers.
    unsafe {
        if let Some(fd) = args::int(obj) {
            return fs::fd_path(fd);
        }
        let path = args::path(obj)?;
        match dir_fd {
            // A dir_fd we cannot name is judged as a folder nothing grants.
            Some(fd) if fd >= 0 && path.is_relative() => Some(
                fs::fd_path(fd)
                    .unwrap_or_else(|| PathBuf::from("/<unresolvable dir_fd>"))
                    .join(&path),
            ),
            _ => Some(path),
        }
    }
}

pub(super) fn check_path(engine: &Engine, path: &Path, write: bool) -> Decision {
    check_resolved(engine, &engine.resolve(path), write)
}

pub(super) fn check_resolved(engine: &Engine, resolved: &Path, write: bool) -> Decision {
    match engine.fs_check_resolved(resolved, write) {
        Err(denial) if Engine::fs_is_quiet(resolved) && write => Err(Denial {
            reason: Reason::BytecodeCache,
            ..denial
        }),
        other => other,
    }
}

/// Where a name itself lives: its folder resolved, the last component not followed (a
/// symlink is removed, moved or created, never its target).
pub(super) fn location(engine: &Engine, path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => engine.resolve(parent).join(name),
        _ => engine.resolve(path),
    }
}

/// Removing or moving a name: a write where the name lives, and never a root.
pub(super) fn remove_or_move(engine: &Engine, path: &Path) -> Decision {
    let resolved = location(engine, path);
    engine.fs_remove_check(&resolved)?;
    check_resolved(engine, &resolved, true)
}

/// A symlink is a write in the folder that holds it; its target is not followed.
pub(super) fn check_link_location(engine: &Engine, link: &Path) -> Decision {
    check_resolved(engine, &location(engine, link), true)
}

/// The file a SQLite `file:` URI names: the path part, without query or fragment, with
/// `%XX` escapes decoded (SQLite decodes them too). `None` when `db` is not a URI.
pub(super) fn sqlite_uri_path(db: &str) -> Option<String> {
    let rest = db.strip_prefix("file:")?;
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let path = match rest.strip_prefix("//") {
        // `file://authority/path`: SQLite accepts an empty authority or `localhost`.
        Some(after) => after.find('/').map(|i| &after[i..]).unwrap_or(""),
        None => rest,
    };
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Does an `open` with these flags or mode write?
pub(super) fn open_writes(flags: i64, mode: Option<&str>) -> bool {
    const O_WRONLY: i64 = 0o1;
    const O_RDWR: i64 = 0o2;
    const O_CREAT: i64 = 0o100;
    const O_TRUNC: i64 = 0o1000;
    const O_APPEND: i64 = 0o2000;
    const O_TMPFILE: i64 = 0o20000000;
    let by_flags = flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_TMPFILE) != 0;
    let by_mode = mode.is_some_and(|m| m.contains(['w', 'a', 'x', '+']));
    by_flags || by_mode
}

/// The program of a `subprocess.Popen` args value: the string itself, or its first item.
///
/// # Safety
/// GIL held; `obj` is a live object.
pub(super) unsafe fn first_program(obj: *mut ffi::PyObject) -> Option<String> {
    // SAFETY: only exact lists and tuples are indexed.
    unsafe {
        if let Some(text) = args::text(obj) {
            return Some(text);
        }
        let first = if ffi::PyList_CheckExact(obj) != 0 && ffi::PyList_Size(obj) > 0 {
            ffi::PyList_GetItem(obj, 0)
        } else if ffi::PyTuple_CheckExact(obj) != 0 && ffi::PyTuple_Size(obj) > 0 {
            ffi::PyTuple_GetItem(obj, 0)
        } else {
            return None;
        };
        if first.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        args::text(first).or_else(|| args::path(first).map(|p| p.to_string_lossy().into_owned()))
    }
}

/// Check a program `subprocess` is about to start; a bare name is searched in the child's
/// `PATH` (from `env` when given, else `os.defpath` as CPython does, else ours), relative
/// names from the child's `cwd`.
///
/// # Safety
/// GIL held; `env` is a live object.
pub(super) unsafe fn subprocess(
    engine: &Engine,
    program: Option<String>,
    env: Option<*mut ffi::PyObject>,
    cwd: Option<&Path>,
) -> Decision {
    let Some(program) = program else {
        return engine.subprocess_check("", None, cwd);
    };
    let own_path = std::env::var("PATH").ok();
    let path_var = match env {
        // SAFETY: forwarded; only exact dicts are read.
        Some(env) => match unsafe { args::dict_str(env, c"PATH") } {
            Some(path) => Some(path),
            None if unsafe { ffi::PyDict_CheckExact(env) } != 0 => {
                Some("/bin:/usr/bin".to_string())
            }
            // A mapping we cannot read without running its code: search nothing.
            None => Some(String::new()),
        },
        None => own_path,
    };
    engine.subprocess_check(&program, path_var.as_deref(), cwd)
}

/// `connect`, `sendto`, `sendmsg`, `bind` addresses: `(host, port[, flow, scope])` for
/// IP sockets, a path for AF_UNIX (judged as a write to that path), anything else needs
/// every host granted.
///
/// # Safety
/// GIL held; `address` is a live object.
pub(super) unsafe fn socket_address(
    engine: &Engine,
    bind: bool,
    address: *mut ffi::PyObject,
) -> Decision {
    let capability = if bind {
        Capability::NetBind
    } else {
        Capability::NetConnect
    };
    // SAFETY: type-checked readers.
    unsafe {
        if let Some(len) = args::tuple_len(address) {
            if len == 2 || len == 4 {
                let host = item(address, 0).and_then(|h| args::text(h));
                let port = item(address, 1).and_then(|p| args::int(p));
                if let (Some(host), Some(port)) = (host, port) {
                    let port = u16::try_from(port).unwrap_or(0);
                    let host = Host::parse(&host);
                    return if bind {
                        engine.net_bind(&host, port)
                    } else {
                        engine.net_connect(&host, port)
                    };
                }
            }
        } else if let Some(bytes) = args::bytes_of(address) {
            if bytes.first() == Some(&0) || bytes.is_empty() {
                return engine.net_other_address(capability);
            }
            let path = PathBuf::from(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&bytes),
            );
            return check_path(engine, &path, true);
        }
    }
    engine.net_other_address(capability)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_uris_name_the_file_sqlite_opens() {
        let cases = [
            ("db.sqlite", None),
            ("file:db.sqlite", Some("db.sqlite")),
            ("file:/tmp/x.db?mode=rwc", Some("/tmp/x.db")),
            ("file:%2Ftmp%2Fout%2Fx.db", Some("/tmp/out/x.db")),
            ("file:///tmp/x.db", Some("/tmp/x.db")),
            ("file://localhost/tmp/x.db#f", Some("/tmp/x.db")),
            ("file::memory:?cache=shared", Some(":memory:")),
            ("file:%zz", Some("%zz")),
        ];
        for (db, expected) in cases {
            assert_eq!(sqlite_uri_path(db).as_deref(), expected, "{db}");
        }
    }
}
