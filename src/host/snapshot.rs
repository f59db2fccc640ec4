//! The import machinery as the target found it: `sys.path`, `sys.meta_path` and
//! `sys.path_hooks` when `Py_RunMain` starts the target (after it put the script's folder
//! first). Changes to them raise no audit event, so with `[interpreter] mutation = false`
//! every later `import` event (which carries the three live lists) is compared with this
//! snapshot, and an import after a change is refused.

use std::ffi::CStr;
use std::sync::OnceLock;

use pyo3::ffi;

use super::args;

/// Strong references keep the snapshot's objects alive, so an identity never gets reused.
struct Snapshot {
    path: (usize, Vec<Vec<u8>>),
    meta: (usize, Vec<usize>),
    hooks: (usize, Vec<usize>),
}

/// Pointers are only compared as integers; `take` keeps the objects alive for good.
static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();

/// Record the current lists. The first call wins.
pub fn take() {
    // SAFETY: called from the audit hook with the GIL held; PySys_GetObject returns
    // borrowed references, which are made strong (and never released) before storing.
    unsafe {
        let path = ffi::PySys_GetObject(c"path".as_ptr());
        let meta = ffi::PySys_GetObject(c"meta_path".as_ptr());
        let hooks = ffi::PySys_GetObject(c"path_hooks".as_ptr());
        if path.is_null() || meta.is_null() || hooks.is_null() {
            return;
        }
        let snapshot = Snapshot {
            path: (keep(path), list_text(path)),
            meta: (keep(meta), list_items(meta)),
            hooks: (keep(hooks), list_items(hooks)),
        };
        let _ = SNAPSHOT.set(snapshot);
    }
}

/// # Safety
/// GIL held, `obj` live.
unsafe fn keep(obj: *mut ffi::PyObject) -> usize {
    // SAFETY: forwarded; the extra reference pins the object for the process's life.
    unsafe { ffi::Py_IncRef(obj) };
    obj as usize
}

/// # Safety
/// GIL held, `list` live.
unsafe fn list_items(list: *mut ffi::PyObject) -> Vec<usize> {
    // SAFETY: only lists are indexed, within their size.
    unsafe {
        if ffi::PyList_Check(list) == 0 {
            return Vec::new();
        }
        (0..ffi::PyList_Size(list))
            .map(|i| {
                let item = ffi::PyList_GetItem(list, i);
                if !item.is_null() {
                    ffi::Py_IncRef(item);
                }
                item as usize
            })
            .collect()
    }
}

/// # Safety
/// GIL held, `list` live.
unsafe fn list_text(list: *mut ffi::PyObject) -> Vec<Vec<u8>> {
    // SAFETY: only lists are indexed, within their size; items are read as text only.
    unsafe {
        if ffi::PyList_Check(list) == 0 {
            return Vec::new();
        }
        (0..ffi::PyList_Size(list))
            .map(|i| {
                let item = ffi::PyList_GetItem(list, i);
                if item.is_null() {
                    Vec::new()
                } else {
                    args::bytes_of(item).unwrap_or_default()
                }
            })
            .collect()
    }
}

/// Which list differs from the snapshot, if any. No snapshot yet: nothing to compare.
///
/// # Safety
/// GIL held; the three objects are the live lists from an `import` event.
pub unsafe fn changed(
    path: *mut ffi::PyObject,
    meta: *mut ffi::PyObject,
    hooks: *mut ffi::PyObject,
) -> Option<&'static str> {
    let snapshot = SNAPSHOT.get()?;
    // SAFETY: forwarded contract.
    unsafe {
        if path as usize != snapshot.path.0 || list_text_cmp(path) != snapshot.path.1 {
            return Some(name(c"sys.path"));
        }
        if meta as usize != snapshot.meta.0 || peek_items(meta) != snapshot.meta.1 {
            return Some(name(c"sys.meta_path"));
        }
        if hooks as usize != snapshot.hooks.0 || peek_items(hooks) != snapshot.hooks.1 {
            return Some(name(c"sys.path_hooks"));
        }
    }
    None
}

fn name(text: &'static CStr) -> &'static str {
    text.to_str().unwrap_or("sys")
}

/// # Safety
/// GIL held, `list` live.
unsafe fn list_text_cmp(list: *mut ffi::PyObject) -> Vec<Vec<u8>> {
    // SAFETY: forwarded.
    unsafe { list_text(list) }
}

/// The identities of a list's items, without taking references.
///
/// # Safety
/// GIL held, `list` live.
unsafe fn peek_items(list: *mut ffi::PyObject) -> Vec<usize> {
    // SAFETY: only lists are indexed, within their size.
    unsafe {
        if ffi::PyList_Check(list) == 0 {
            return vec![usize::MAX];
        }
        (0..ffi::PyList_Size(list))
            .map(|i| ffi::PyList_GetItem(list, i) as usize)
            .collect()
    }
}
