//! Opens the host performs on CPython's behalf.
//!
//! The executable defines libc's open functions (`open`, `open64`, `openat`, `openat64` and
//! the fortified `__open_2` family; see `src/main.rs`). The dynamic linker looks in the
//! main executable first, so libpython's calls, and those of extension modules and the
//! libraries they load, arrive in [`open_at`]. Until the policy is armed every call goes
//! straight to the kernel (CPython's own start-up). Then:
//!
//! - **Announced.** An `open` event the hook allowed, for a call that sets `O_CLOEXEC`
//!   (`io.FileIO`, `os.open`, CPython's `_Py_open`; `_Py_fopen_obj` goes through `fopen`
//!   and passes flags 0, so the hook judges it alone). The hook records the path as given
//!   and the real path it judged. The matching open is made on that real path with
//!   `openat2(RESOLVE_NO_SYMLINKS)`: the kernel opens exactly the file that was judged, or
//!   refuses because a symlink is now on the way (swapped in since, or never looked at:
//!   for a plain path allowed as written the hook does not resolve anything). Then the
//!   path is judged again with the full resolution of [`crate::capability::fs`] and the new
//!   real path opened the same way, three times at most.
//! - **Judged here.** Every other open: after an `open` event whose path the hook cannot
//!   read without running Python code (an `os.PathLike` given to `io.FileIO` or
//!   `sqlite3.connect`), an open that is not the announced one, and every open no audit
//!   event announced at all (a C library's own: SQLite's databases, journals, `ATTACH`
//!   and `VACUUM INTO`; gdbm; readline). Each is judged on the bytes the kernel gets, then
//!   opened as above. (`fopen` and the dynamic loader open files inside libc, not through
//!   these functions: OpenSSL's CA files are not seen.)
//!
//! A refusal here cannot raise `hermetic.PolicyViolation` (the thread has released the
//! GIL): the call fails with `EACCES`, so CPython raises `PermissionError`, the trace line
//! is written as for any refusal, and an uncaught one ends the run as a refusal does.
//!
//! Anchoring is used only when start-up verified that the dynamic linker binds `open64`
//! and its siblings to the executable's definitions and that the kernel has `openat2`;
//! otherwise the hook resolves every path itself and the open follows as CPython makes it
//! (a path object is then refused: there is no way to judge it).

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_long, c_uint, c_void, CStr, CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::interpret::{check_resolved, location, open_writes};
use super::{audit, report};
use crate::capability::{Denial, Engine, Reason};

/// `AT_FDCWD` from `<fcntl.h>`.
pub const AT_FDCWD: c_int = -100;
const O_CREAT: c_int = 0o100;
const O_TMPFILE: c_int = 0o20200000;
const O_EXCL: c_int = 0o200;
const O_TRUNC: c_int = 0o1000;
const O_NOFOLLOW: c_int = 0o400000;
const O_PATH: c_int = 0o10000000;
/// `O_CLOEXEC`: every CPython open that raises the `open` event and calls `open`/`openat`
/// sets it (io.FileIO, os.open, `_Py_open`); `_Py_fopen_obj`, which goes through `fopen`,
/// passes flags 0. Only the former are anchored.
pub const O_CLOEXEC: i64 = 0o2000000;
const EACCES: c_int = 13;
const ENOSYS: c_int = 38;
const ELOOP: c_int = 40;
const EXDEV: c_int = 18;
const EINVAL: c_int = 22;
const EPERM: c_int = 1;
const E2BIG: c_int = 7;

/// `RESOLVE_NO_SYMLINKS` from `<linux/openat2.h>`: fail with `ELOOP` at any symlink.
const RESOLVE_NO_SYMLINKS: u64 = 0x04;

#[cfg(target_arch = "x86_64")]
mod sys {
    pub const OPENAT: std::ffi::c_long = 257;
    pub const OPENAT2: std::ffi::c_long = 437;
}
#[cfg(target_arch = "aarch64")]
mod sys {
    pub const OPENAT: std::ffi::c_long = 56;
    pub const OPENAT2: std::ffi::c_long = 437;
}
/// Elsewhere nothing is interposed (`src/main.rs`) and [`enable`] stays off.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod sys {
    pub const OPENAT: std::ffi::c_long = -1;
    pub const OPENAT2: std::ffi::c_long = -1;
}

/// `struct open_how` from `<linux/openat2.h>`.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

extern "C" {
    fn syscall(number: c_long, ...) -> c_long;
    fn dlsym(handle: *mut c_void, name: *const c_char) -> *mut c_void;
    fn __errno_location() -> *mut c_int;
    fn close(fd: c_int) -> c_int;
}

/// Set when start-up verified the interposition and `openat2`; read by the hook.
static ENABLED: AtomicBool = AtomicBool::new(false);
/// Set once the policy is armed (and anchoring is on): opens no audit event announced are
/// judged too.
static UNANNOUNCED_JUDGED: AtomicBool = AtomicBool::new(false);
/// The executable's definitions, by name, as `src/main.rs` registers them.
static DEFINED: Mutex<Vec<(&'static CStr, usize)>> = Mutex::new(Vec::new());

/// What the hook announced for this thread's next opens.
#[derive(Default)]
struct Pending {
    /// The path as the event named it (what CPython hands to `open`); empty for "check
    /// every open".
    given: Vec<u8>,
    /// `given` made absolute, as the hook judged it.
    absolute: Vec<u8>,
    /// The real path the hook allowed, NUL-terminated: the file the kernel must open.
    resolved: Vec<u8>,
    flags: c_int,
    /// The event's path was relative to a `dir_fd` (the hook judged it against the
    /// folder that fd names), so the open comes through `openat` with that fd.
    dir_fd: bool,
}

thread_local! {
    /// Cheap test on every open: is anything pending on this thread?
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
}

/// The most recent refusal made here, for the uncaught-exception summary.
static LAST_REFUSAL: Mutex<Option<(PathBuf, String)>> = Mutex::new(None);

/// Record the executable's definition of the open function `name` (called from `main`
/// before anything else runs).
pub fn register(name: &'static CStr, address: usize) {
    let mut defined = DEFINED.lock().unwrap_or_else(|p| p.into_inner());
    defined.push((name, address));
}

/// Turn anchoring on if every registered function is the one the dynamic linker hands out
/// and the kernel has `openat2`. Returns whether it is on.
pub fn enable() -> bool {
    let defined = DEFINED.lock().unwrap_or_else(|p| p.into_inner());
    if defined.is_empty() || !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        return false;
    }
    for (name, address) in defined.iter() {
        // SAFETY: RTLD_DEFAULT (null) searches the global scope, as libpython's lookups do.
        let bound = unsafe { dlsym(std::ptr::null_mut(), name.as_ptr()) } as usize;
        if bound != *address {
            return false;
        }
    }
    // A probe: open "/" as a path-only descriptor through openat2.
    let how = OpenHow {
        flags: (O_PATH as u64) | O_CLOEXEC as u64,
        mode: 0,
        resolve: RESOLVE_NO_SYMLINKS,
    };
    // SAFETY: a valid path and a valid `open_how` of the size passed.
    let fd = unsafe { openat2(AT_FDCWD, c"/".as_ptr(), &how) };
    if fd < 0 {
        return false;
    }
    // SAFETY: closing the descriptor just opened.
    unsafe { close(fd) };
    ENABLED.store(true, Ordering::SeqCst);
    true
}

/// The policy is armed: from now on every open is judged, announced or not (when
/// anchoring is on; otherwise only the hook's events are).
pub fn judge_unannounced() {
    if enabled() {
        UNANNOUNCED_JUDGED.store(true, Ordering::SeqCst);
    }
}

/// Is anchoring on?
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// A path the kernel resolves exactly as written: absolute, no empty, `.` or `..`
/// component, no trailing `/`. (Symlinks are the kernel's part, `RESOLVE_NO_SYMLINKS`.)
pub fn is_plain(path: &[u8]) -> bool {
    path.len() > 1
        && path[0] == b'/'
        && !path.ends_with(b"/")
        && path[1..]
            .split(|b| *b == b'/')
            .all(|part| !part.is_empty() && part != b"." && part != b"..")
}

/// Does an open with these flags follow a symlink in the last component?
fn follows_last(flags: c_int) -> bool {
    flags & O_NOFOLLOW == 0 && flags & (O_CREAT | O_EXCL) != (O_CREAT | O_EXCL)
}

/// Judge an open of `absolute` with `flags` by the full resolution: the real path the
/// kernel must open, or the refusal. With `O_NOFOLLOW` (or `O_CREAT|O_EXCL`) the last
/// component is the name itself, not what a symlink there points to. A path that names a
/// folder by its form (a trailing `/`, a last `.` or `..`) keeps a trailing `/` in the
/// real path, so the kernel still answers `EISDIR`/`ENOTDIR` where python gets them
/// (`open("file/", "w")` must not truncate `file`).
pub fn judge(engine: &Engine, absolute: &Path, flags: c_int) -> Result<PathBuf, Denial> {
    let write = open_writes(i64::from(flags), None);
    let resolved = if follows_last(flags) {
        engine.resolve(absolute)
    } else {
        location(engine, absolute)
    };
    check_resolved(engine, &resolved, write)?;
    if names_a_folder(absolute.as_os_str().as_bytes()) && resolved.as_os_str().as_bytes() != b"/" {
        let mut folder = resolved.into_os_string();
        folder.push("/");
        return Ok(PathBuf::from(folder));
    }
    Ok(resolved)
}

/// Does the path's form say it names a folder: a trailing `/`, or a last component that
/// is `.` or `..`?
fn names_a_folder(path: &[u8]) -> bool {
    path.ends_with(b"/")
        || path == b"."
        || path == b".."
        || path.ends_with(b"/.")
        || path.ends_with(b"/..")
}

/// The hook allowed the open of `given` (`absolute`, really `resolved`) with `flags`: that
/// open, when it comes, opens `resolved` with no symlink allowed on the way. Other opens on
/// this thread are checked until [`clear`]. Returns false if nothing could be recorded
/// (the thread is exiting): the caller must then judge the path fully itself.
#[must_use]
pub fn expect(given: &[u8], absolute: &[u8], resolved: &[u8], flags: c_int, dir_fd: bool) -> bool {
    let stored = PENDING.try_with(|p| {
        let Ok(mut guard) = p.try_borrow_mut() else {
            return false;
        };
        let p = &mut *guard;
        for (field, value) in [
            (&mut p.given, given),
            (&mut p.absolute, absolute),
            (&mut p.resolved, resolved),
        ] {
            field.clear();
            field.extend_from_slice(value);
        }
        // Kept as a C string, so the open needs no copy.
        p.resolved.push(0);
        p.flags = flags;
        p.dir_fd = dir_fd;
        true
    });
    stored == Ok(true) && ACTIVE.try_with(|a| a.set(true)).is_ok()
}

/// The hook could not read the path: check every open on this thread until [`clear`].
/// Returns false if that cannot be arranged (the caller then refuses).
pub fn expect_checked() -> bool {
    if !enabled() {
        return false;
    }
    let stored = PENDING.try_with(|p| {
        let Ok(mut p) = p.try_borrow_mut() else {
            return false;
        };
        p.given.clear();
        true
    });
    if stored == Ok(true) {
        ACTIVE.with(|a| a.set(true));
        return true;
    }
    false
}

/// The hook runs again on this thread: what it announced before no longer applies.
#[inline]
pub fn clear() {
    let _ = ACTIVE.try_with(|a| a.set(false));
}

/// The shared body of the executable's open functions.
///
/// # Safety
/// `path` is a NUL-terminated string (or null, which the kernel refuses with `EFAULT`).
pub unsafe fn open_at(dirfd: c_int, path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    if path.is_null() {
        // SAFETY: forwarded as given (the kernel answers EFAULT).
        return unsafe { raw_openat(dirfd, path, flags, mode) };
    }
    if !ACTIVE.try_with(|a| a.get()).unwrap_or(false) {
        if !UNANNOUNCED_JUDGED.load(Ordering::Relaxed) {
            // SAFETY: forwarded as given.
            return unsafe { raw_openat(dirfd, path, flags, mode) };
        }
        // No audit event announced this open: a C library's own (SQLite's databases,
        // journals and ATTACH, gdbm, readline's history). Judged on what the kernel gets.
        // SAFETY: non-null, NUL-terminated (caller contract).
        let given = unsafe { CStr::from_ptr(path) }.to_bytes();
        return judge_here(dirfd, given, flags, mode);
    }
    // SAFETY: non-null, NUL-terminated (caller contract).
    let given = unsafe { CStr::from_ptr(path) }.to_bytes();
    // The announced open: the first attempt straight from the thread's record, with no
    // copy; a failure takes the copies it needs to go on.
    let announced = PENDING.try_with(|p| {
        let p = p.try_borrow().ok()?;
        let same_base = p.dir_fd || dirfd == AT_FDCWD || given.first() == Some(&b'/');
        if p.given.is_empty() || p.given != given || p.flags != flags || !same_base {
            return None;
        }
        let resolved = CStr::from_bytes_with_nul(&p.resolved).ok()?;
        Some(match try_anchored(resolved, flags, mode) {
            Ok(fd) => Ok(fd),
            Err(error) => Err((p.absolute.clone(), resolved.to_owned(), error)),
        })
    });
    if let Ok(Some(outcome)) = announced {
        clear();
        return match outcome {
            Ok(fd) => fd,
            Err((absolute, resolved, error)) => {
                let absolute = PathBuf::from(OsString::from_vec(absolute));
                after_failure(&absolute, resolved, error, flags, mode)
            }
        };
    }
    // Not the open the hook announced: judge it here, on what the kernel would get.
    judge_here(dirfd, given, flags, mode)
}

/// Judge an open of `given` (relative to `dirfd`) on the bytes the kernel gets, and make
/// it on the judged real path, or refuse it with `EACCES`.
fn judge_here(dirfd: c_int, given: &[u8], flags: c_int, mode: c_uint) -> c_int {
    let Some(engine) = audit::engine() else {
        set_errno(EACCES);
        return -1;
    };
    let as_path = Path::new(OsStr::from_bytes(given));
    let absolute: PathBuf = if as_path.is_absolute() {
        as_path.to_path_buf()
    } else if dirfd == AT_FDCWD {
        match std::env::current_dir() {
            Ok(cwd) => cwd.join(as_path),
            Err(_) => PathBuf::from("/<unknown current directory>").join(as_path),
        }
    } else {
        crate::capability::fs::fd_path(i64::from(dirfd))
            .unwrap_or_else(|| PathBuf::from("/<unresolvable dir_fd>"))
            .join(as_path)
    };
    match judge(engine, &absolute, flags) {
        Ok(resolved) => open_judged(&absolute, resolved, flags, mode),
        Err(denial) => refuse(&denial, as_path),
    }
}

/// Open `resolved`, judged allowed as the real path of `absolute`, with no symlink allowed
/// on the way. A symlink found there now (swapped in since, or never seen by a lexical
/// judgement) means the path is judged again and the new real path opened, three times at
/// most; then the open fails with `ELOOP`, as a symlink loop does.
fn open_judged(absolute: &Path, resolved: PathBuf, flags: c_int, mode: c_uint) -> c_int {
    let Ok(c_path) = std::ffi::CString::new(resolved.into_os_string().into_vec()) else {
        set_errno(EINVAL);
        return -1;
    };
    match try_anchored(&c_path, flags, mode) {
        Ok(fd) => fd,
        Err(error) => after_failure(absolute, c_path, error, flags, mode),
    }
}

/// One `openat2(RESOLVE_NO_SYMLINKS)` of `path`: the descriptor, or errno.
fn try_anchored(path: &CStr, flags: c_int, mode: c_uint) -> Result<c_int, c_int> {
    if crate::capability::fs::is_own_descriptor(path.to_bytes()) {
        return reopen_descriptor(path, flags);
    }
    let how = OpenHow {
        flags: u64::from(flags as c_uint),
        mode: if flags & O_CREAT != 0 || flags & O_TMPFILE == O_TMPFILE {
            u64::from(mode & 0o7777)
        } else {
            0
        },
        resolve: RESOLVE_NO_SYMLINKS,
    };
    // SAFETY: valid path and `open_how`.
    let fd = unsafe { openat2(AT_FDCWD, path.as_ptr(), &how) };
    if fd >= 0 {
        Ok(fd)
    } else {
        Err(errno())
    }
}

/// Reopen a pipe or socket this process holds through its `/proc` link, which the kernel
/// follows as a link (`openat2(RESOLVE_NO_SYMLINKS)` refuses it). `O_CREAT`, `O_EXCL` and
/// `O_TRUNC` mean nothing for a pipe and are left out, so that if the descriptor number
/// names a file or a named FIFO by now (swapped in since the check) opening it changes no
/// content; the new descriptor is then closed and the open fails with `ELOOP`, which has
/// the path judged again, now as that file.
fn reopen_descriptor(path: &CStr, flags: c_int) -> Result<c_int, c_int> {
    use std::os::fd::{FromRawFd, IntoRawFd};
    // SAFETY: a valid NUL-terminated path; no mode is needed without O_CREAT.
    let fd = unsafe {
        raw_openat(
            AT_FDCWD,
            path.as_ptr(),
            flags & !(O_CREAT | O_EXCL | O_TRUNC),
            0,
        )
    };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: `fd` was just opened and is owned here.
    let file = unsafe { std::fs::File::from_raw_fd(fd) };
    // Still an object with no path: an anonymous pipe or a socket (a named FIFO has a
    // path, and a file of its own in the policy).
    let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap_or_default();
    let bytes = target.as_os_str().as_bytes();
    if bytes.starts_with(b"pipe:[") || bytes.starts_with(b"socket:[") {
        return Ok(file.into_raw_fd());
    }
    // Dropping `file` closes the descriptor.
    Err(ELOOP)
}

/// The anchored open of `resolved` failed with `error`: judge again and retry on a
/// symlink, open as `open` would where `openat2` is stricter, or fail as the kernel said.
fn after_failure(
    absolute: &Path,
    mut resolved: CString,
    mut error: c_int,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    for _ in 0..3 {
        match error {
            // O_NOFOLLOW on a symlink: the answer open itself gives.
            ELOOP if flags & O_NOFOLLOW != 0 => break,
            ELOOP | EXDEV => {
                let Some(engine) = audit::engine() else {
                    error = EACCES;
                    break;
                };
                match judge(engine, absolute, flags) {
                    Ok(again) if again.as_os_str().as_bytes() != resolved.as_bytes() => {
                        let Ok(again) = CString::new(again.into_os_string().into_vec()) else {
                            error = EINVAL;
                            break;
                        };
                        resolved = again;
                    }
                    Ok(_) => {
                        error = ELOOP;
                        break;
                    }
                    Err(denial) => return refuse(&denial, absolute),
                }
            }
            // Flags openat2 is stricter about than open, or a kernel or filter without
            // it: the path was judged; open it as open would.
            EINVAL | E2BIG | ENOSYS | EPERM => {
                // SAFETY: valid NUL-terminated path.
                return unsafe { raw_openat(AT_FDCWD, resolved.as_ptr(), flags, mode) };
            }
            // Anything else (ENOENT, EACCES, EISDIR...) is what open itself would say.
            _ => break,
        }
        match try_anchored(&resolved, flags, mode) {
            Ok(fd) => return fd,
            Err(again) => error = again,
        }
    }
    set_errno(error);
    -1
}

/// Fail the open with `EACCES` after reporting the refusal.
fn refuse(denial: &Denial, path: &Path) -> c_int {
    if denial.reason != Reason::BytecodeCache {
        report::blocked(denial);
        let mut last = LAST_REFUSAL.lock().unwrap_or_else(|p| p.into_inner());
        *last = Some((path.to_path_buf(), denial.to_string()));
    }
    set_errno(EACCES);
    -1
}

/// The message of the refusal made here for `filename`, if the last one was for it.
pub fn refusal_for(filename: &Path) -> Option<String> {
    let last = LAST_REFUSAL.lock().unwrap_or_else(|p| p.into_inner());
    match &*last {
        Some((path, message)) if path == filename => Some(message.clone()),
        _ => None,
    }
}

/// # Safety
/// `path` is NUL-terminated or null.
unsafe fn raw_openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    // SAFETY: the kernel validates every argument; glibc's `syscall` sets errno.
    unsafe {
        syscall(
            sys::OPENAT,
            dirfd as c_long,
            path,
            flags as c_long,
            mode as c_long,
        ) as c_int
    }
}

/// # Safety
/// `path` is NUL-terminated and `how` a valid `open_how`.
unsafe fn openat2(dirfd: c_int, path: *const c_char, how: &OpenHow) -> c_int {
    // SAFETY: as above; the size is the struct's.
    unsafe {
        syscall(
            sys::OPENAT2,
            dirfd as c_long,
            path,
            how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        ) as c_int
    }
}

fn errno() -> c_int {
    // SAFETY: glibc's per-thread errno.
    unsafe { *__errno_location() }
}

fn set_errno(value: c_int) {
    // SAFETY: glibc's per-thread errno.
    unsafe { *__errno_location() = value };
}

#[cfg(test)]
mod tests {
    use super::{is_plain, names_a_folder};

    #[test]
    fn folder_forms_are_recognised() {
        for (path, expected) in [
            (&b"/tmp/x/"[..], true),
            (b"/tmp/x/.", true),
            (b"/tmp/x/..", true),
            (b".", true),
            (b"..", true),
            (b"x/", true),
            (b"/tmp/x", false),
            (b"/tmp/.x", false),
            (b"/tmp/x..", false),
            (b"x", false),
        ] {
            assert_eq!(
                names_a_folder(path),
                expected,
                "{:?}",
                String::from_utf8_lossy(path)
            );
        }
    }

    #[test]
    fn plain_paths_are_absolute_and_literal() {
        let cases: &[(&[u8], bool)] = &[
            (b"/tmp/ws/data.txt", true),
            (b"/a", true),
            (b"/", false),
            (b"", false),
            (b"relative/x", false),
            (b"/tmp//x", false),
            (b"/tmp/./x", false),
            (b"/tmp/../etc/passwd", false),
            (b"/tmp/x/", false),
            (b"/tmp/x/.", false),
            (b"/tmp/x/..", false),
            (b"/tmp/.hidden/..x", true),
            (b"/tmp/\xff\xfe", true),
        ];
        for (path, expected) in cases {
            assert_eq!(
                is_plain(path),
                *expected,
                "{:?}",
                String::from_utf8_lossy(path)
            );
        }
    }
}
