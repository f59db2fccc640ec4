//! Every name the host guards exists in the CPython it embeds.
//!
//! A guard on a name CPython does not have guards nothing, and nothing else would notice:
//! the hook would simply never see the event, and the bootstrap would replace an attribute
//! nobody calls. So this test checks two lists against the embedded CPython itself:
//!
//! - every audit event name in [`hermetic::host::audit::GUARDED_EVENTS`] must appear in
//!   the embedded CPython's libpython, its `lib-dynload` extension modules or its
//!   standard-library sources, as a C string (the name followed by a NUL byte) or as a
//!   Python string literal (`"name"` or `'name'`). The one exception is an event whose code
//!   CPython compiles only with an optional feature (SQLite extension loading): it may be
//!   missing when the function that would raise it is missing too, because then there is
//!   nothing to guard in this build;
//! - every module attribute the bootstrap replaces must exist in the running interpreter,
//!   checked by running the built binary. The list is kept here, and a scan of
//!   `src/host/*.rs` for `setattr("name"` fails the test when the host replaces an
//!   attribute the list does not name.
//!
//! The search looks for the name with a bound on its right (NUL or a closing quote), so a
//! prefix of a real name (`socket.connec`) or a real name with letters added
//! (`socket.connectx`) is not found; the first test shows that.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::hermetic;
use hermetic::host::audit::GUARDED_EVENTS;

/// The attributes the bootstrap replaces with native guards (through `_hermetic`, whose
/// functions live in `src/host/module.rs`): (module, attribute). `os` gets the same
/// `posix` functions, so checking `posix` covers it.
const REPLACED_ATTRIBUTES: &[(&str, &str)] = &[
    ("_posixsubprocess", "fork_exec"),
    ("_socket", "getaddrinfo"),
    ("_socket", "gethostbyname"),
    ("_socket", "gethostbyname_ex"),
    ("posix", "open"),
    ("posix", "mkfifo"),
    ("posix", "mknod"),
    ("posix", "chroot"),
    ("posix", "posix_spawn"),
    ("posix", "posix_spawnp"),
    ("posix", "execve"),
    ("_imp", "create_builtin"),
    ("sys", "excepthook"),
];

/// Events whose code CPython compiles only when the build has the feature: (event, module,
/// attribute path of the function that raises it). Such an event may be missing only when
/// the function is missing too, as CPython's own `test_audit` allows. CPython leaves SQLite
/// extension loading out unless it is configured with `--enable-loadable-sqlite-extensions`
/// (the pyenv 3.11.7 this project is tested with was not).
const BUILD_OPTIONAL_EVENTS: &[(&str, &str, &str)] = &[
    (
        "sqlite3.enable_load_extension",
        "sqlite3",
        "Connection.enable_load_extension",
    ),
    (
        "sqlite3.load_extension",
        "sqlite3",
        "Connection.load_extension",
    ),
];

/// Whether `needle` occurs anywhere in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut from = 0;
    // Jump between occurrences of the first byte; checking every window is too slow for
    // tens of megabytes in an unoptimised test build.
    while let Some(offset) = haystack[from..].iter().position(|&b| b == first) {
        let start = from + offset;
        let end = start + needle.len();
        if end > haystack.len() {
            return false;
        }
        if &haystack[start + 1..end] == rest {
            return true;
        }
        from = start + 1;
    }
    false
}

/// Whether `name` occurs in `binary` as a C string: its bytes followed by a NUL byte.
///
/// There is no bound on the left: linkers store a string that is the tail of another
/// string inside it (`"open"` may live at the end of `"fopen"`).
fn has_c_string(binary: &[u8], name: &str) -> bool {
    let mut needle = name.as_bytes().to_vec();
    needle.push(0);
    contains(binary, &needle)
}

/// Whether `name` occurs in Python source as a whole string literal, `"name"` or `'name'`.
fn has_python_literal(source: &[u8], name: &str) -> bool {
    ['"', '\''].iter().any(|quote| {
        let literal = format!("{quote}{name}{quote}");
        contains(source, literal.as_bytes())
    })
}

/// The embedded CPython's `major.minor`, from the build script's full version.
fn minor_version() -> String {
    let version = env!("HERMETIC_PYTHON_VERSION");
    let parts: Vec<&str> = version.split('.').take(2).collect();
    assert_eq!(parts.len(), 2, "unexpected CPython version `{version}`");
    parts.join(".")
}

fn prefix() -> PathBuf {
    let prefix = PathBuf::from(env!("HERMETIC_PYTHON_PREFIX"));
    assert!(
        prefix.is_dir(),
        "the embedded CPython's prefix `{}` is not a folder",
        prefix.display()
    );
    prefix
}

/// `libpython3.X.so*` in the folder the build linked against (`HERMETIC_PYTHON_LIBDIR`,
/// Debian's multiarch folder for its python) and in `<prefix>/lib`, each file once (the
/// `.so` name is usually a symlink to the versioned file).
fn libpython_files() -> Vec<PathBuf> {
    let stem = format!("libpython{}.so", minor_version());
    let mut folders = vec![prefix().join("lib")];
    if let Some(libdir) = option_env!("HERMETIC_PYTHON_LIBDIR") {
        folders.push(PathBuf::from(libdir));
    }
    let mut files: Vec<PathBuf> = folders
        .iter()
        .filter_map(|lib| fs::read_dir(lib).ok())
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&stem))
        })
        .filter_map(|path| fs::canonicalize(path).ok())
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Every `.so` in `<prefix>/lib/python3.X/lib-dynload/`.
fn extension_modules() -> Vec<PathBuf> {
    let dynload = prefix()
        .join("lib")
        .join(format!("python{}", minor_version()))
        .join("lib-dynload");
    let Ok(entries) = fs::read_dir(&dynload) else {
        // A CPython with every extension module built into libpython has no such folder.
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "so"))
        .collect();
    files.sort();
    files
}

/// Every `.py` under `<prefix>/lib/python3.X/`, without the test suites and installed
/// packages: only the standard library's own code counts.
fn standard_library_sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let name = entry.file_name();
                let skip = ["test", "tests", "idle_test", "site-packages"];
                if !skip.iter().any(|s| name == *s) {
                    walk(&path, found);
                }
            } else if kind.is_file() && path.extension().is_some_and(|ext| ext == "py") {
                found.push(path);
            }
        }
    }
    let stdlib = prefix()
        .join("lib")
        .join(format!("python{}", minor_version()));
    let mut found = Vec::new();
    walk(&stdlib, &mut found);
    found.sort();
    found
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_search_is_bounded_and_can_say_no() {
    let binary = b"\x7fELF\0fopen\0socket.connect\0os.exec\0\0";
    assert!(has_c_string(binary, "socket.connect"));
    assert!(has_c_string(binary, "open"), "a tail-merged string counts");
    assert!(!has_c_string(binary, "socket.connectx"), "made-up name");
    assert!(
        !has_c_string(binary, "socket.connec"),
        "prefix of a real name"
    );
    assert!(!has_c_string(binary, "os.execv"));

    let source = b"sys.audit(\"subprocess.Popen\", a)\nsys.audit('shutil.chown', p)\n";
    assert!(has_python_literal(source, "subprocess.Popen"));
    assert!(has_python_literal(source, "shutil.chown"));
    assert!(!has_python_literal(source, "subprocess.Pope"));
    assert!(!has_python_literal(source, "shutil.chownx"));
    assert!(!has_python_literal(source, "sys.audit"), "not a literal");

    assert!(contains(b"abc", b""));
    assert!(!contains(b"ab", b"abc"), "needle longer than the rest");
    assert!(contains(b"aab", b"ab"));
}

/// The names of `names` that the embedded CPython does not have: neither a C string in its
/// libpython or extension modules nor a string literal in its standard-library sources.
fn unknown_to_cpython<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let libraries = libpython_files();
    assert!(
        !libraries.is_empty(),
        "no libpython{}.so* under {}/lib or the linked folder: is the embedded CPython built with --enable-shared?",
        minor_version(),
        prefix().display()
    );
    let sources = standard_library_sources();
    assert!(
        sources.len() > 100,
        "only {} standard-library sources found under {}",
        sources.len(),
        prefix().display()
    );
    let mut unknown = names.to_vec();
    for binary in libraries.iter().chain(&extension_modules()) {
        let bytes = read(binary);
        unknown.retain(|name| !has_c_string(&bytes, name));
    }
    for source in &sources {
        let bytes = read(source);
        unknown.retain(|name| !has_python_literal(&bytes, name));
    }
    unknown
}

/// Ask the embedded interpreter (the built binary, everything granted) whether each
/// `(module, attribute.path)` exists.
fn python_has(probes: &[(&str, &str)]) -> Vec<bool> {
    let mut code = String::from(
        "import importlib\n\
         def has(module, path):\n    \
             obj = importlib.import_module(module)\n    \
             for part in path.split('.'):\n        \
                 if not hasattr(obj, part):\n            \
                     return False\n        \
                 obj = getattr(obj, part)\n    \
             return True\n",
    );
    for (module, path) in probes {
        code.push_str(&format!("print(has('{module}', '{path}'))\n"));
    }
    let run = hermetic(&["--allow-all", "-c", &code]);
    assert_eq!(run.code, 0, "{}", run.dump());
    let answers: Vec<bool> = run
        .stdout
        .lines()
        .map(|line| match line {
            "True" => true,
            "False" => false,
            other => panic!("unexpected answer `{other}`\n{}", run.dump()),
        })
        .collect();
    assert_eq!(answers.len(), probes.len(), "{}", run.dump());
    answers
}

#[test]
fn every_guarded_audit_event_exists_in_the_embedded_cpython() {
    assert!(!GUARDED_EVENTS.is_empty());
    // A made-up name goes through the same search, so the test shows it can fail.
    let made_up = "socket.connectx";
    let mut names = GUARDED_EVENTS.to_vec();
    names.push(made_up);
    let mut unknown = unknown_to_cpython(&names);
    assert_eq!(
        unknown.pop(),
        Some(made_up),
        "the made-up `{made_up}` was found in CPython: the search is not bounded"
    );

    // A build-optional event may be missing only if the function raising it is missing.
    let optional: Vec<(&str, &str, &str)> = BUILD_OPTIONAL_EVENTS
        .iter()
        .copied()
        .filter(|(event, _, _)| unknown.contains(event))
        .collect();
    if !optional.is_empty() {
        let probes: Vec<(&str, &str)> = optional.iter().map(|&(_, m, a)| (m, a)).collect();
        for (&(event, module, attribute), present) in optional.iter().zip(python_has(&probes)) {
            if !present {
                unknown.retain(|name| *name != event);
            } else {
                panic!("{module}.{attribute} exists but its event `{event}` was not found");
            }
        }
    }

    assert!(
        unknown.is_empty(),
        "the host guards audit events that CPython {} (at {}) does not have: {unknown:?}",
        env!("HERMETIC_PYTHON_VERSION"),
        prefix().display()
    );
}

#[test]
fn every_optional_event_is_a_guarded_event() {
    for (event, _, _) in BUILD_OPTIONAL_EVENTS {
        assert!(
            GUARDED_EVENTS.contains(event),
            "`{event}` is no longer guarded; remove it from BUILD_OPTIONAL_EVENTS"
        );
    }
}

/// Every attribute name the host's Rust code sets with `setattr("name", ...)`.
fn attributes_set_by_the_host() -> Vec<String> {
    let host = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/host");
    let mut names = Vec::new();
    let entries = fs::read_dir(&host).unwrap_or_else(|e| panic!("{}: {e}", host.display()));
    for path in entries.filter_map(|entry| entry.ok().map(|e| e.path())) {
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let text = String::from_utf8_lossy(&read(&path)).into_owned();
        for piece in text.split("setattr(\"").skip(1) {
            if let Some((name, _)) = piece.split_once('"') {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_attribute_list_covers_every_attribute_the_host_replaces() {
    let set = attributes_set_by_the_host();
    assert!(
        set.iter().any(|name| name == "fork_exec"),
        "the scan of src/host found no replaced attributes: {set:?}"
    );
    let unlisted: Vec<&String> = set
        .iter()
        .filter(|name| !REPLACED_ATTRIBUTES.iter().any(|(_, a)| a == name))
        .collect();
    assert!(
        unlisted.is_empty(),
        "src/host sets attributes missing from REPLACED_ATTRIBUTES in this test: {unlisted:?}"
    );
}

#[test]
fn every_attribute_the_bootstrap_replaces_exists_in_the_embedded_cpython() {
    // A made-up attribute next to the real ones shows the probe can answer False.
    let made_up = ("_socket", "getaddrinfox");
    let mut probes = REPLACED_ATTRIBUTES.to_vec();
    probes.push(made_up);
    let mut answers = python_has(&probes);
    assert_eq!(
        answers.pop(),
        Some(false),
        "`_socket.getaddrinfox` was found"
    );
    let missing: Vec<String> = REPLACED_ATTRIBUTES
        .iter()
        .zip(answers)
        .filter(|(_, present)| !present)
        .map(|((module, attribute), _)| format!("{module}.{attribute}"))
        .collect();
    assert!(
        missing.is_empty(),
        "the bootstrap replaces attributes CPython {} does not have: {missing:?}",
        env!("HERMETIC_PYTHON_VERSION")
    );
}
