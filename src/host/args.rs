//! Reading audit-event arguments without running Python code.
//!
//! The argument tuple holds live objects (the socket, the caller's path, `sys.path`...).
//! These readers only look at the data of `str`, `bytes` and `int` objects (subclasses
//! included: the C functions that raised the event read the same data) and never call a
//! method, `repr()` or `__fspath__` on them.

use std::ffi::{c_char, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::ffi;

/// Is the filesystem encoding UTF-8 (as nearly always)? Then a `str` path's UTF-8 form is
/// the bytes CPython hands to the kernel. Set once at start-up.
static FILESYSTEM_UTF8: AtomicBool = AtomicBool::new(true);

pub fn set_filesystem_utf8(utf8: bool) {
    FILESYSTEM_UTF8.store(utf8, Ordering::SeqCst);
}

/// Item `index` of the event's argument tuple (borrowed), if present.
///
/// # Safety
/// The GIL is held and `args` is the tuple CPython passed to the hook (or null).
pub unsafe fn item(args: *mut ffi::PyObject, index: isize) -> Option<*mut ffi::PyObject> {
    if args.is_null() {
        return None;
    }
    // SAFETY: `args` is a live object; the tuple checks guard the unchecked access.
    unsafe {
        if ffi::PyTuple_Check(args) == 0 || index >= ffi::PyTuple_Size(args) {
            return None;
        }
        let obj = ffi::PyTuple_GetItem(args, index);
        (!obj.is_null()).then_some(obj)
    }
}

/// The bytes of a `str` (in the filesystem encoding, surrogates escaped as it does) or a
/// `bytes`/`bytearray` object.
///
/// # Safety
/// The GIL is held and `obj` is a live object.
pub unsafe fn bytes_of(obj: *mut ffi::PyObject) -> Option<Vec<u8>> {
    // SAFETY: type checks first; every C call reads the object's own buffer.
    unsafe {
        if ffi::PyUnicode_Check(obj) != 0 {
            // Most strings have a cached UTF-8 form: read it without allocating. Strings
            // with lone surrogates (undecodable file names) take the filesystem encoding.
            if FILESYSTEM_UTF8.load(Ordering::Relaxed) {
                let mut size: ffi::Py_ssize_t = 0;
                let utf8 = ffi::PyUnicode_AsUTF8AndSize(obj, &mut size);
                if !utf8.is_null() && size >= 0 {
                    return Some(
                        std::slice::from_raw_parts(utf8 as *const u8, size as usize).to_vec(),
                    );
                }
                ffi::PyErr_Clear();
            }
            let encoded = ffi::PyUnicode_EncodeFSDefault(obj);
            if encoded.is_null() {
                ffi::PyErr_Clear();
                return None;
            }
            let out = raw_bytes(encoded);
            ffi::Py_DecRef(encoded);
            return out;
        }
        if ffi::PyBytes_Check(obj) != 0 {
            return raw_bytes(obj);
        }
        if ffi::PyByteArray_Check(obj) != 0 {
            let data = ffi::PyByteArray_AsString(obj);
            let size = ffi::PyByteArray_Size(obj);
            if data.is_null() || size < 0 {
                return Some(Vec::new());
            }
            return Some(std::slice::from_raw_parts(data as *const u8, size as usize).to_vec());
        }
        None
    }
}

/// # Safety
/// `obj` is a live `bytes` object and the GIL is held.
unsafe fn raw_bytes(obj: *mut ffi::PyObject) -> Option<Vec<u8>> {
    // SAFETY: caller guarantees a bytes object; size and pointer come from it.
    unsafe {
        let data = ffi::PyBytes_AsString(obj);
        let size = ffi::PyBytes_Size(obj);
        if data.is_null() || size < 0 {
            ffi::PyErr_Clear();
            return None;
        }
        Some(std::slice::from_raw_parts(data as *const u8, size as usize).to_vec())
    }
}

/// A `str` or `bytes` argument as text (lossy for invalid UTF-8).
///
/// # Safety
/// As [`bytes_of`].
pub unsafe fn text(obj: *mut ffi::PyObject) -> Option<String> {
    // SAFETY: forwarded.
    unsafe { bytes_of(obj) }.map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// A path argument (`str` or `bytes`).
///
/// # Safety
/// As [`bytes_of`].
pub unsafe fn path(obj: *mut ffi::PyObject) -> Option<PathBuf> {
    // SAFETY: forwarded.
    unsafe { bytes_of(obj) }.map(|b| PathBuf::from(OsStr::from_bytes(&b)))
}

/// An `int` argument (`bool` included, as CPython's converters accept it).
///
/// # Safety
/// The GIL is held and `obj` is a live object.
pub unsafe fn int(obj: *mut ffi::PyObject) -> Option<i64> {
    // SAFETY: type check first; PyLong_AsLongLong reads the value only.
    unsafe {
        if ffi::PyLong_Check(obj) == 0 {
            return None;
        }
        let value = ffi::PyLong_AsLongLong(obj);
        if value == -1 && !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        Some(value)
    }
}

/// Is `obj` `None`?
///
/// # Safety
/// `obj` is a live object.
pub unsafe fn is_none(obj: *mut ffi::PyObject) -> bool {
    // SAFETY: pointer comparison with the None singleton.
    obj == unsafe { ffi::Py_None() }
}

/// Is `obj` a tuple, and how long?
///
/// # Safety
/// The GIL is held and `obj` is a live object.
pub unsafe fn tuple_len(obj: *mut ffi::PyObject) -> Option<isize> {
    // SAFETY: type check first.
    unsafe { (ffi::PyTuple_Check(obj) != 0).then(|| ffi::PyTuple_Size(obj)) }
}

/// Look up `key` (a `str`) in an exact `dict` of `str` values, as the child's environment.
///
/// # Safety
/// The GIL is held and `obj` is a live object.
pub unsafe fn dict_str(obj: *mut ffi::PyObject, key: &CStr) -> Option<String> {
    // SAFETY: only exact dicts are read; PyDict_GetItemString does not call Python code
    // for str keys of exact dicts.
    unsafe {
        if ffi::PyDict_CheckExact(obj) == 0 {
            return None;
        }
        let value = ffi::PyDict_GetItemString(obj, key.as_ptr() as *const c_char);
        if value.is_null() {
            return None;
        }
        text(value)
    }
}
