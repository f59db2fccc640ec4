//! The audit hook: CPython calls [`audit_hook`] for every audited action, in every
//! interpreter, before the action happens.
//!
//! The hook is registered before the interpreter starts and cannot be removed from
//! Python. While the host is starting (not armed) it only notes the self-test event. Once
//! armed it matches the event name against a fixed table (unknown events return at once,
//! without touching Python objects), reads the arguments with [`super::args`], asks the
//! [`Engine`], and on a denial reports it and raises `hermetic.PolicyViolation`.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr, OsStr};
use std::net::IpAddr;
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use pyo3::ffi;

use super::args::{self, item};
use super::interpret::*;
use super::opens;
use super::report;
use crate::capability::{fs, Capability, Decision, Denial, Engine, Reason};

/// The engine every decision goes through. Set once, before the hook is armed.
static ENGINE: OnceLock<Engine> = OnceLock::new();
/// Set when the bootstrap has run; from then on every guarded event is decided.
static ARMED: AtomicBool = AtomicBool::new(false);
/// Set when the hook saw the start-up self-test event.
static SELFTEST_SEEN: AtomicBool = AtomicBool::new(false);

/// The name of the self-test event raised after initialisation.
pub const SELFTEST_EVENT: &CStr = c"hermetic.selftest";

thread_local! {
    /// Set while this thread is inside the hook, so events raised by the hook's own work
    /// are not judged again.
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
    /// The folder of a `dir_fd` passed to `os.open`, whose `open` event names only the
    /// relative path. Set by the native `os.open` wrapper for the duration of the call.
    static OPEN_BASE: std::cell::RefCell<Option<PathBuf>> = const { std::cell::RefCell::new(None) };
}

/// Guard for [`OPEN_BASE`]: set on creation, cleared on drop.
pub struct OpenBase(());

impl OpenBase {
    pub fn set(base: PathBuf) -> OpenBase {
        OPEN_BASE.with(|b| *b.borrow_mut() = Some(base));
        OpenBase(())
    }
}

impl Drop for OpenBase {
    fn drop(&mut self) {
        OPEN_BASE.with(|b| *b.borrow_mut() = None);
    }
}

/// Store the engine; fails if one is already set.
pub fn set_engine(engine: Engine) -> bool {
    ENGINE.set(engine).is_ok()
}

pub fn engine() -> Option<&'static Engine> {
    ENGINE.get()
}

pub fn arm() {
    ARMED.store(true, Ordering::SeqCst);
}

/// The target starts: from now on dynamic code is judged when the policy restricts it.
/// (`site`'s start-up code, `.pth` lines and `sitecustomize`, is the installation's, run
/// before; everything else it does is judged.)
fn guard_code() {
    // `exec` also tells which module body runs, for --deny-import's imports that raise no
    // `import` event (importlib.import_module, exec_module, runpy, reload).
    let restricts_code = ENGINE
        .get()
        .is_some_and(|e| !e.policy.code_exec.allowed || !e.policy.imports.deny.is_empty());
    CODE_GUARDED.store(restricts_code, Ordering::SeqCst);
}

pub fn is_armed() -> bool {
    ARMED.load(Ordering::SeqCst)
}

pub fn selftest_seen() -> bool {
    SELFTEST_SEEN.load(Ordering::SeqCst)
}

/// The hook CPython calls. Never unwinds, never exits the process.
///
/// # Safety
/// Called by CPython with the GIL held, a NUL-terminated event name and the argument tuple.
pub unsafe extern "C" fn audit_hook(
    event: *const c_char,
    args: *mut ffi::PyObject,
    _data: *mut c_void,
) -> c_int {
    if event.is_null() {
        return 0;
    }
    // SAFETY: CPython passes a valid NUL-terminated string.
    let name = unsafe { CStr::from_ptr(event) }.to_bytes();
    if !ARMED.load(Ordering::Relaxed) {
        if name == SELFTEST_EVENT.to_bytes() {
            SELFTEST_SEEN.store(true, Ordering::SeqCst);
        }
        return 0;
    }
    // Whatever the hook announced for this thread's next open applies until it runs again.
    super::opens::clear();
    let Some(kind) = classify(name) else { return 0 };
    if matches!(kind, Event::Code(_)) && !CODE_GUARDED.load(Ordering::Relaxed) {
        return 0;
    }
    if IN_HOOK.with(|flag| flag.replace(true)) {
        return 0;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let Some(engine) = ENGINE.get() else {
            return Err(internal("no policy loaded"));
        };
        // SAFETY: GIL held (we are inside an audit hook), `args` is CPython's tuple.
        unsafe { decide(engine, kind, args) }
    }));
    IN_HOOK.with(|flag| flag.set(false));
    let denial = match outcome {
        Ok(Ok(())) => return 0,
        Ok(Err(denial)) => denial,
        Err(_) => internal("the policy check failed unexpectedly; denied"),
    };
    report::blocked(&denial);
    // A refused import fails as an import does (ImportError), so code that treats a
    // module as optional carries on; every other refusal is a PermissionError.
    let import = matches!(kind, Event::Import)
        || (matches!(kind, Event::Code("exec")) && denial.capability == Capability::Import);
    // SAFETY: GIL held; sets the pending exception that CPython raises from the action.
    unsafe { super::module::raise_violation(&denial, import) };
    -1
}

fn internal(why: &'static str) -> Denial {
    Denial {
        capability: Capability::Interpreter,
        detail: "audit hook".to_string(),
        reason: Reason::Never(why),
        hint: None,
    }
}

/// The events the hook decides. Anything else returns at once.
#[derive(Clone, Copy, Debug)]
enum Event {
    GetAddrInfo,
    GetHostByName,
    GetHostByAddr,
    GetNameInfo,
    Connect,
    SendTo,
    Bind,
    SetHostName,
    Open,
    /// A path-taking write: `(path, ..., dir_fd)` with the dir_fd at this index, if any.
    PathWrite(Option<isize>),
    /// `(path, dir_fd)` removed: remove, unlink, rmdir.
    PathRemove,
    /// `(src, dst, src_dir_fd, dst_dir_fd)`: both names change.
    Rename,
    /// `(src, dst, src_dir_fd, dst_dir_fd)`: a new name for `src`'s file.
    Link,
    Symlink,
    PathRead,
    Truncate,
    Sqlite,
    Mmap,
    Popen,
    System,
    Exec,
    PosixSpawn,
    Fork(&'static str),
    PutEnv,
    AddAuditHook,
    Import,
    Native(&'static str),
    /// Dynamic code; only decided when the policy restricts it or denies imports
    /// ([`CODE_GUARDED`]).
    Code(&'static str),
    Chdir,
    /// `gc.get_objects`/`get_referrers`/`get_referents`: could reach what the guards keep.
    Introspect,
    /// A subinterpreter: it would start without the bootstrap's guards.
    NewInterpreter,
    /// `Py_RunMain` is about to run the target: `sys.path` is final, take its snapshot.
    RunTarget,
}

/// Set when the target starts if the policy restricts dynamic code, so the hot
/// `exec`/`compile` events cost one load otherwise.
static CODE_GUARDED: AtomicBool = AtomicBool::new(false);

/// The event table: one list is both the dispatch and [`GUARDED_EVENTS`], so the names a
/// test checks against the embedded CPython are exactly the names the hook decides.
macro_rules! events {
    ($($($name:literal)|+ => $event:expr,)+) => {
        /// Every audit event the hook decides.
        pub const GUARDED_EVENTS: &[&str] = &[$($($name),+),+];

        /// Hot events (`builtins.id`, `object.__getattr__`, ...) fall through the match and
        /// return at once.
        fn classify(name: &[u8]) -> Option<Event> {
            let name = std::str::from_utf8(name).ok()?;
            Some(match name {
                $($($name)|+ => $event,)+
                _ => return None,
            })
        }
    };
}

events! {
        "open" => Event::Open,
        "socket.getaddrinfo" => Event::GetAddrInfo,
        "socket.gethostbyname" => Event::GetHostByName,
        "socket.gethostbyaddr" => Event::GetHostByAddr,
        "socket.getnameinfo" => Event::GetNameInfo,
        "socket.connect" => Event::Connect,
        "socket.sendto" | "socket.sendmsg" => Event::SendTo,
        "socket.bind" => Event::Bind,
        "socket.sethostname" => Event::SetHostName,
        "os.remove" | "os.rmdir" => Event::PathRemove,
        "os.mkdir" | "os.chmod" => Event::PathWrite(Some(2)),
        "os.chown" | "os.utime" => Event::PathWrite(Some(3)),
        "os.setxattr" | "os.removexattr" | "shutil.chown" => Event::PathWrite(None),
        "os.rename" => Event::Rename,
        "os.link" => Event::Link,
        "os.symlink" => Event::Symlink,
        "os.truncate" => Event::Truncate,
        "os.listdir" | "os.scandir" | "os.getxattr" | "os.listxattr" => Event::PathRead,
        "sqlite3.connect" => Event::Sqlite,
        "mmap.__new__" => Event::Mmap,
        "subprocess.Popen" => Event::Popen,
        "os.system" => Event::System,
        "os.exec" => Event::Exec,
        "os.posix_spawn" => Event::PosixSpawn,
        "os.fork" => Event::Fork("os.fork"),
        "os.forkpty" => Event::Fork("os.forkpty"),
        "os.putenv" | "os.unsetenv" => Event::PutEnv,
        "sys.addaudithook" => Event::AddAuditHook,
        "import" => Event::Import,
        "ctypes.dlopen" | "ctypes.dlsym" | "ctypes.dlsym/handle" | "ctypes.call_function"
            | "ctypes.cdata" | "ctypes.cdata/buffer" | "ctypes.string_at" | "ctypes.wstring_at"
            | "ctypes.addressof" | "ctypes.PyObj_FromPtr" => Event::Native("ctypes"),
        "sqlite3.enable_load_extension" | "sqlite3.load_extension" => Event::Native("sqlite3.load_extension"),
        "compile" => Event::Code("compile"),
        "exec" => Event::Code("exec"),
        "code.__new__" => Event::Code("code.__new__"),
        "function.__new__" => Event::Code("function.__new__"),
        "os.chdir" => Event::Chdir,
        "gc.get_objects" | "gc.get_referrers" | "gc.get_referents" => Event::Introspect,
        "cpython.PyInterpreterState_New" => Event::NewInterpreter,
        "cpython.run_command" | "cpython.run_module" | "cpython.run_file" | "cpython.run_stdin" => Event::RunTarget,
}

/// Decide one event.
///
/// # Safety
/// GIL held; `args` is the event's argument tuple.
unsafe fn decide(engine: &Engine, event: Event, argv: *mut ffi::PyObject) -> Decision {
    // SAFETY: every reader below checks types before reading; GIL held by the caller.
    unsafe {
        let arg = |i| item(argv, i);
        match event {
            Event::GetAddrInfo | Event::GetHostByName => match arg(0) {
                Some(host) if args::is_none(host) => Ok(()),
                Some(host) => match args::text(host) {
                    Some(name) => engine.net_lookup(&name),
                    None => Err(unreadable(Capability::NetLookup)),
                },
                None => Ok(()),
            },
            Event::GetHostByAddr => match arg(0).and_then(|a| args::text(a)) {
                Some(addr) => engine.net_reverse(&addr),
                None => Err(unreadable(Capability::NetLookup)),
            },
            Event::GetNameInfo => {
                let host = arg(0)
                    .filter(|a| args::tuple_len(*a).unwrap_or(0) >= 1)
                    .and_then(|a| item(a, 0))
                    .and_then(|h| args::text(h));
                match host {
                    Some(addr) => engine.net_reverse(&addr),
                    None => Err(unreadable(Capability::NetLookup)),
                }
            }
            Event::Connect | Event::SendTo | Event::Bind => {
                let Some(address) = arg(1) else { return Ok(()) };
                if args::is_none(address) {
                    // sendmsg() on a connected socket: the connect was checked.
                    return Ok(());
                }
                socket_address(engine, matches!(event, Event::Bind), address)
            }
            Event::SetHostName => engine.net_sethostname(),
            Event::Open => {
                let Some(target) = arg(0) else { return Ok(()) };
                // `open(fd)` wraps a descriptor that is already open: its access was
                // decided when it was opened, and the kernel holds the fd to that mode.
                if args::int(target).is_some() {
                    return Ok(());
                }
                let flags = arg(2).and_then(|f| args::int(f)).unwrap_or(0);
                let write = open_writes(flags, arg(1).and_then(|m| args::text(m)).as_deref());
                let Some(given) = args::bytes_of(target) else {
                    // An os.PathLike given to io.FileIO: its path comes from __fspath__,
                    // which the hook must not run. The open itself is checked instead.
                    return unreadable_path(write);
                };
                let base = OPEN_BASE.with(|b| b.borrow().clone());
                let relative = given.first() != Some(&b'/');
                let joined = |folder: &Path| {
                    let mut out = folder.as_os_str().as_bytes().to_vec();
                    out.push(b'/');
                    out.extend_from_slice(&given);
                    out
                };
                let absolute: std::borrow::Cow<'_, [u8]> = match (&base, relative) {
                    (Some(base), true) => joined(base).into(),
                    (None, true) => match std::env::current_dir() {
                        Ok(cwd) => joined(&cwd).into(),
                        Err(_) => joined(Path::new("/<unknown current directory>")).into(),
                    },
                    (_, false) => given.as_slice().into(),
                };
                let absolute_path = Path::new(OsStr::from_bytes(&absolute));
                // io.FileIO, os.open and CPython's own `_Py_open` set O_CLOEXEC and open
                // through the executable's `open`: that open is made on the real path
                // judged here, with no symlink allowed on the way (see `opens`).
                if flags & opens::O_CLOEXEC != 0 && opens::enabled() {
                    // A plain path allowed as written needs no resolution here: the kernel
                    // refuses the open if a symlink is on the way, and it is judged again.
                    let dir_fd = base.is_some();
                    if opens::is_plain(&absolute)
                        && check_resolved(engine, absolute_path, write).is_ok()
                        && opens::expect(&given, &absolute, &absolute, flags as c_int, dir_fd)
                    {
                        return Ok(());
                    }
                    let resolved = opens::judge(engine, absolute_path, flags as c_int)?;
                    let resolved = resolved.as_os_str().as_bytes();
                    // If nothing could be recorded, the judgement above stands alone.
                    let _ = opens::expect(&given, &absolute, resolved, flags as c_int, dir_fd);
                    return Ok(());
                }
                check_path(engine, absolute_path, write)
            }
            Event::PathWrite(dir_fd_index) => {
                let dir_fd = dir_fd_index.and_then(&arg).and_then(|d| args::int(d));
                match arg(0).and_then(|p| path_or_fd(p, dir_fd)) {
                    Some(path) => check_path(engine, &path, true),
                    None => Ok(()),
                }
            }
            Event::PathRemove => {
                let dir_fd = arg(1).and_then(|d| args::int(d));
                match arg(0).and_then(|p| path_or_fd(p, dir_fd)) {
                    Some(path) => remove_or_move(engine, &path),
                    None => Ok(()),
                }
            }
            Event::Rename => {
                let src_dir = arg(2).and_then(|d| args::int(d));
                let dst_dir = arg(3).and_then(|d| args::int(d));
                if let Some(src) = arg(0).and_then(|p| path_or_fd(p, src_dir)) {
                    remove_or_move(engine, &src)?;
                }
                match arg(1).and_then(|p| path_or_fd(p, dst_dir)) {
                    Some(dst) => remove_or_move(engine, &dst),
                    None => Ok(()),
                }
            }
            Event::Link => {
                let src_dir = arg(2).and_then(|d| args::int(d));
                let dst_dir = arg(3).and_then(|d| args::int(d));
                // A hard link makes the file writable under the new name: the file itself
                // must be writable.
                if let Some(src) = arg(0).and_then(|p| path_or_fd(p, src_dir)) {
                    check_path(engine, &src, true)?;
                }
                match arg(1).and_then(|p| path_or_fd(p, dst_dir)) {
                    Some(dst) => check_resolved(engine, &location(engine, &dst), true),
                    None => Ok(()),
                }
            }
            Event::Symlink => {
                let dir_fd = arg(2).and_then(|d| args::int(d));
                match arg(1).and_then(|p| path_or_fd(p, dir_fd)) {
                    // The link itself, not what it points to: later opens through it are
                    // resolved and checked.
                    Some(dst) => check_link_location(engine, &dst),
                    None => Ok(()),
                }
            }
            Event::Truncate => match arg(0).and_then(|p| path_or_fd(p, None)) {
                Some(path) => check_path(engine, &path, true),
                None => Ok(()),
            },
            Event::PathRead => match arg(0) {
                Some(p) if args::is_none(p) => check_path(engine, Path::new("."), false),
                Some(p) => match path_or_fd(p, None) {
                    Some(path) => check_path(engine, &path, false),
                    None => Ok(()),
                },
                None => check_path(engine, Path::new("."), false),
            },
            Event::Sqlite if arg(0).is_some_and(|p| args::bytes_of(p).is_none()) => {
                // An os.PathLike database: checked where SQLite opens it.
                unreadable_path(true)
            }
            Event::Sqlite => match arg(0).and_then(|p| args::text(p)) {
                // The event does not say whether `uri=True` was passed: the name must pass
                // both as a file name and, when it is a `file:` URI, as the URI's path.
                Some(db) => {
                    if !db.is_empty() && db != ":memory:" {
                        check_path(engine, Path::new(&db), true)?;
                    }
                    match sqlite_uri_path(&db) {
                        Some(path) if !path.is_empty() && path != ":memory:" => {
                            check_path(engine, Path::new(&path), true)
                        }
                        _ => Ok(()),
                    }
                }
                None => Ok(()),
            },
            Event::Mmap => {
                let fd = arg(0).and_then(|f| args::int(f)).unwrap_or(-1);
                let access = arg(2).and_then(|a| args::int(a)).unwrap_or(0);
                // ACCESS_READ = 1 maps read-only; anything else can write through a
                // shared mapping.
                match (fd >= 0, fs::fd_path(fd)) {
                    (true, Some(path)) => check_path(engine, &path, access != 1),
                    _ => Ok(()),
                }
            }
            Event::Popen => {
                let env = arg(3).filter(|e| !args::is_none(*e));
                let program = match arg(0).filter(|e| !args::is_none(*e)) {
                    Some(executable) => args::text(executable),
                    None => arg(1).and_then(|a| first_program(a)),
                };
                if program.is_none() {
                    // A program given as a path object (`Path("/bin/true")`): subprocess
                    // turns it into bytes later, and what really runs is judged then, by
                    // the `fork_exec` guard or the `os.posix_spawn` event.
                    return Ok(());
                }
                // The child's working directory; one we cannot read is a folder that
                // holds nothing, so relative names find nothing granted.
                let cwd = arg(2)
                    .filter(|c| !args::is_none(*c))
                    .map(|c| args::path(c).unwrap_or_else(|| PathBuf::from("/<unreadable cwd>")));
                subprocess(engine, program, env, cwd.as_deref())
            }
            Event::System => engine.subprocess_check("/bin/sh", None, None),
            // execve does not search PATH (os.execvp* raise one event per candidate path).
            Event::Exec => engine.subprocess_check(
                &arg(0).and_then(|p| args::text(p)).unwrap_or_default(),
                Some(""),
                None,
            ),
            // posix_spawnp searches the caller's PATH, not the one in the child's env.
            Event::PosixSpawn => {
                let path = std::env::var("PATH").ok();
                engine.subprocess_check(
                    &arg(0).and_then(|p| args::text(p)).unwrap_or_default(),
                    path.as_deref(),
                    None,
                )
            }
            Event::Fork(what) => engine.subprocess_fork(what),
            Event::PutEnv => match arg(0).and_then(|k| args::text(k)) {
                Some(name) => engine.env_write(&name),
                None => Err(unreadable(Capability::Env)),
            },
            Event::Import => {
                let Some(module) = arg(0).and_then(|m| args::text(m)) else {
                    return Err(unreadable(Capability::Import));
                };
                engine.import_check(&module)?;
                // Only the first form (no file name yet) carries the live lists.
                let first_form = arg(1).is_some_and(|f| args::is_none(f));
                if first_form && !engine.policy.interpreter_mutation.allowed {
                    if let (Some(path), Some(meta), Some(hooks)) = (arg(2), arg(3), arg(4)) {
                        if let Some(changed) = super::snapshot::changed(path, meta, hooks) {
                            return engine.mutation_check(changed);
                        }
                    }
                }
                match arg(1)
                    .filter(|f| !args::is_none(*f))
                    .and_then(|f| args::path(f))
                {
                    // The second form: an extension module file is being loaded.
                    Some(filename) => {
                        engine.fresh_spawn_module(&module)?;
                        engine.native_check(&module, Some(&filename))
                    }
                    None => Ok(()),
                }
            }
            Event::Native(what) => engine.native_check(what, None),
            Event::Code(what) => {
                if what == "exec" && !engine.policy.imports.deny.is_empty() {
                    if let Some(module) = arg(0).and_then(|c| module_of_code(c)) {
                        engine.import_check(&module)?;
                    }
                }
                engine.code_exec_check(what, &python_stack())
            }
            Event::Chdir => engine.mutation_check("os.chdir"),
            Event::Introspect => engine.introspection_check("gc", &python_stack()),
            Event::NewInterpreter => engine.native_check("subinterpreter", None),
            Event::RunTarget => {
                guard_code();
                if !engine.policy.interpreter_mutation.allowed {
                    super::snapshot::take();
                }
                Ok(())
            }
            Event::AddAuditHook => engine.audit_hook_check(),
        }
    }
}

/// Record the addresses a granted look-up returned (called by the native wrappers of
/// `getaddrinfo`/`gethostbyname*`).
pub fn record_lookup(name: &str, ips: &[IpAddr]) {
    if let Some(engine) = ENGINE.get() {
        engine.net_record(name, ips);
    }
}

/// A path the hook cannot read without running Python code: have the open checked where it
/// happens, or refuse when that is not available.
fn unreadable_path(write: bool) -> Decision {
    if super::opens::expect_checked() {
        return Ok(());
    }
    Err(Denial {
        capability: if write { Capability::FsWrite } else { Capability::FsRead },
        detail: "<path object>".to_string(),
        reason: Reason::Never(
            "a path given as an object other than str or bytes cannot be checked without running its code; pass os.fspath(path)",
        ),
        hint: None,
    })
}
