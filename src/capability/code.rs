//! In-process restrictions: imports, native code, dynamic code, interpreter mutation.
//!
//! These change only the interpreter, so they are allowed unless the policy restricts
//! them; when restricted, the standard library's own uses keep working (namedtuple and
//! dataclasses compile code, importlib executes module bodies). "Who is calling" is the
//! innermost Python frame: code whose file lies in the standard library (or is frozen
//! into the interpreter) is the standard library working; anything else is the target.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{shorten, Capability, Decision, Denial, Engine, Reason};
use crate::policy::NativeSpec;

/// Modules that are foreign-function interfaces: native code even when they come from the
/// standard library.
const FFI_MODULES: &[&str] = &["ctypes", "_ctypes", "cffi", "_cffi_backend"];

/// Standard-library extension modules that are not loaded by default, whatever name they
/// are loaded under (the file's stem decides, so a copy or a package-relative name does
/// not pass): foreign-function interfaces, CPython's test and internals modules, and
/// readline, whose history functions read and write files with no audit event.
const RESTRICTED_EXTENSIONS: &[&str] = &[
    "_ctypes",
    "_ctypes_test",
    "_cffi_backend",
    "_testcapi",
    "_testinternalcapi",
    "_testmultiphase",
    "_testsinglephase",
    "_testimportmultiple",
    "_testbuffer",
    "_testclinic",
    "_xxtestfuzz",
    "_xxsubinterpreters",
    "_xxinterpchannels",
    "_interpreters",
    "_interpchannels",
    "_interpqueues",
    "xxlimited",
    "xxlimited_35",
    "xxsubtype",
    "readline",
];

/// The stem of an extension file name: `_ctypes` for `_ctypes.cpython-311-x86_64-linux-gnu.so`.
fn extension_stem(filename: &Path) -> Option<&str> {
    filename.file_name()?.to_str()?.split('.').next()
}

/// Modules that create subinterpreters: a new interpreter starts without the bootstrap's
/// guards (the C hook still sees its events), so they count as native code.
const SUBINTERPRETER_MODULES: &[&str] = &[
    "_xxsubinterpreters",
    "_interpreters",
    "_xxinterpchannels",
    "_interpchannels",
    "_interpqueues",
    "interpreters",
    "concurrent.interpreters",
];

/// Standard-library functions that compile or execute code they generate themselves, or
/// the code of a module being imported: `(file suffix or frozen name, function names)`.
/// Measured on 3.10-3.13 (dataclasses' generator moved in 3.13).
pub const TRUSTED_GENERATORS: &[(&str, &[&str])] = &[
    ("/collections/__init__.py", &["namedtuple"]),
    ("/dataclasses.py", &["_create_fn", "add_fns_to_class"]),
    (
        "<frozen importlib._bootstrap",
        &["exec_module", "_load_unlocked"],
    ),
];

/// One frame of the Python stack: its code's file and function name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub file: String,
    pub name: String,
}

impl Frame {
    pub fn new(file: &str, name: &str) -> Frame {
        Frame {
            file: file.to_string(),
            name: name.to_string(),
        }
    }
}

/// The standard library's folder (`<base_prefix>/lib/pythonX.Y`), found at start-up.
#[derive(Debug, Default)]
pub struct Stdlib {
    dir: OnceLock<PathBuf>,
}

impl Stdlib {
    pub fn set(&self, dir: PathBuf) -> bool {
        self.dir.set(super::fs::resolve(&dir)).is_ok()
    }

    /// Is `filename` (a code object's `co_filename`, or an extension's path) part of the
    /// standard library or frozen into the interpreter?
    pub fn contains(&self, filename: &str) -> bool {
        if filename.starts_with("<frozen ") {
            return true;
        }
        let Some(dir) = self.dir.get() else {
            return false;
        };
        // Third-party packages live inside the standard library's folder but are not part
        // of it.
        match Path::new(filename).strip_prefix(dir) {
            Ok(rest) => !matches!(
                rest.components()
                    .next()
                    .and_then(|c| c.as_os_str().to_str()),
                Some("site-packages" | "dist-packages")
            ),
            Err(_) => false,
        }
    }
}

fn top_level(module: &str) -> &str {
    module.split('.').next().unwrap_or(module)
}

fn under_module(module: &str, root: &str) -> bool {
    module == root
        || module
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('.'))
}

impl Engine {
    /// An import of `module` by name (the `import` event fires before the module is found).
    pub fn import_check(&self, module: &str) -> Decision {
        if let Some(rule) = self
            .policy
            .imports
            .deny
            .iter()
            .find(|r| under_module(module, &r.value))
        {
            return Err(Denial {
                capability: Capability::Import,
                detail: shorten(module),
                reason: Reason::DeniedBy(rule.origin.clone()),
                hint: None,
            });
        }
        if FFI_MODULES.contains(&top_level(module))
            || SUBINTERPRETER_MODULES
                .iter()
                .any(|m| under_module(module, m))
        {
            return self.native_check(module, None);
        }
        Ok(())
    }

    /// Native code: an extension module file being loaded (`filename`), or a
    /// foreign-function interface being used (`filename == None`).
    pub fn native_check(&self, module: &str, filename: Option<&Path>) -> Decision {
        let top = top_level(module);
        // What the grant must name: `ctypes` for the FFI, the file's stem for a restricted
        // extension, else the module's top-level package.
        let restricted = filename
            .and_then(extension_stem)
            .filter(|stem| RESTRICTED_EXTENSIONS.contains(stem))
            .or_else(|| FFI_MODULES.contains(&top).then_some(top));
        let stdlib =
            filename.is_some_and(|f| self.stdlib.contains(&self.resolve(f).to_string_lossy()));
        if stdlib && restricted.is_none() {
            return Ok(());
        }
        let grant_name = match restricted {
            Some("_ctypes" | "ctypes") => "ctypes".to_string(),
            Some("_cffi_backend" | "cffi") => "cffi".to_string(),
            Some(stem) => stem.to_string(),
            None => top.to_string(),
        };
        let granted = self.policy.native.allow.iter().any(|r| match &r.value {
            NativeSpec::Any => true,
            NativeSpec::Module(name) => match restricted {
                Some(_) => *name == grant_name,
                None => under_module(module, name),
            },
        });
        if granted {
            return Ok(());
        }
        let name = grant_name;
        Err(Denial {
            capability: Capability::Native,
            detail: shorten(module),
            reason: self.not_granted(),
            hint: Some(format!(
                "--allow-native={name} or [native] allow = [\"{name}\"]"
            )),
        })
    }

    /// Dynamic code (`compile`, `exec`, `eval`, code objects). `frames` is the Python
    /// stack at the event, innermost first (empty: no Python code is running, the
    /// interpreter itself is at work, e.g. running the main script).
    ///
    /// Who is calling: the first frame outside the standard library is responsible. If
    /// there is none, it is the standard library at work on its own (start-up, `-m`). If
    /// it is the innermost frame, the target asked directly. Otherwise the target reached
    /// the event through standard-library frames, which is allowed only when one of them
    /// is a known code generator ([`TRUSTED_GENERATORS`]): the target cannot launder a
    /// string through `timeit`, `runpy` or importlib's internal helpers.
    pub fn code_exec_check(&self, what: &str, frames: &[Frame]) -> Decision {
        if self.policy.code_exec.allowed {
            return Ok(());
        }
        let Some(responsible) = frames.iter().position(|f| !self.stdlib.contains(&f.file)) else {
            return Ok(());
        };
        let through = &frames[..responsible];
        if through.iter().any(|f| self.is_trusted_generator(f)) {
            return Ok(());
        }
        let user = &frames[responsible];
        let detail = match through.first() {
            Some(via) => format!("{what} via {} from {}", via.name, shorten(&user.file)),
            None => format!("{what} from {}", shorten(&user.file)),
        };
        Err(Denial {
            capability: Capability::CodeExec,
            detail,
            reason: Reason::DeniedBy(self.policy.code_exec.origin.clone()),
            hint: None,
        })
    }

    fn is_trusted_generator(&self, frame: &Frame) -> bool {
        TRUSTED_GENERATORS.iter().any(|(file, names)| {
            let file_matches = if file.starts_with('<') {
                frame.file.starts_with(file)
            } else {
                frame.file.ends_with(file) && self.stdlib.contains(&frame.file)
            };
            file_matches && names.contains(&frame.name.as_str())
        })
    }

    /// Is any native code granted? Then native code could reach whatever the in-process
    /// guards protect, so refusing Python routes to it would only get in the way.
    fn native_any(&self) -> bool {
        self.policy
            .native
            .allow
            .iter()
            .any(|r| r.value == NativeSpec::Any)
    }

    /// Heap introspection (`gc.get_objects`, `get_referrers`, `get_referents`) could reach
    /// the originals the guards keep; refused when the target is on the stack, unless
    /// any native code is granted (which could reach them anyway).
    pub fn introspection_check(&self, what: &str, frames: &[Frame]) -> Decision {
        let Some(user) = frames.iter().find(|f| !self.stdlib.contains(&f.file)) else {
            return Ok(());
        };
        if self.native_any() {
            return Ok(());
        }
        Err(Denial {
            capability: Capability::Interpreter,
            detail: format!("{what} from {}", shorten(&user.file)),
            reason: Reason::Never(
                "heap introspection could reach the guards' originals; needs --allow-native",
            ),
            hint: None,
        })
    }

    /// A second copy of a module whose functions a guard replaced would hand back the
    /// originals: refused unless any native code is granted (which could reach them anyway).
    pub fn fresh_copy_check(&self, module: &str) -> Decision {
        if self.native_any() {
            return Ok(());
        }
        Err(Denial {
            capability: Capability::Interpreter,
            detail: format!("fresh copy of {}", shorten(module)),
            reason: Reason::Never("would bypass the guards installed at start-up"),
            hint: None,
        })
    }

    /// `sys.addaudithook`: a hook added from Python could watch every action and the
    /// policy's answers; refused (silently, CPython's rule for hooks that raise) unless any
    /// native code is granted, which could watch as much anyway.
    pub fn audit_hook_check(&self) -> Decision {
        if self.native_any() {
            return Ok(());
        }
        Err(Denial {
            capability: Capability::Interpreter,
            detail: "sys.addaudithook".to_string(),
            reason: Reason::Never(
                "hooks added from Python could watch the policy; needs --allow-native",
            ),
            hint: None,
        })
    }

    /// A change to the interpreter's own state (`os.chdir`, `sys.path`, the finders).
    pub fn mutation_check(&self, what: &str) -> Decision {
        if self.policy.interpreter_mutation.allowed {
            return Ok(());
        }
        Err(Denial {
            capability: Capability::Interpreter,
            detail: shorten(what),
            reason: Reason::DeniedBy(self.policy.interpreter_mutation.origin.clone()),
            hint: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Origin, Policy, Rule, Switch};

    fn engine(native: Vec<NativeSpec>, deny: Vec<&str>) -> Engine {
        let mut policy = Policy::default();
        policy.native.allow = native
            .into_iter()
            .map(|n| Rule::new(n, Origin::Default))
            .collect();
        policy.imports.deny = deny
            .into_iter()
            .map(|d| Rule::new(d.to_string(), Origin::Flag("--deny-import".into())))
            .collect();
        policy.code_exec = Switch {
            allowed: false,
            origin: Origin::Flag("--no-code-exec".into()),
        };
        let engine = Engine::new(policy);
        engine.stdlib.set(PathBuf::from("/opt/py/lib/python3.11"));
        engine
    }

    #[test]
    fn import_denies_match_on_the_dot_boundary() {
        let e = engine(vec![], vec!["json", "xml.dom"]);
        let cases = [
            ("json", false),
            ("json.decoder", false),
            ("jsonschema", true),
            ("xml", true),
            ("xml.dom.minidom", false),
            ("xml.sax", true),
        ];
        for (module, ok) in cases {
            assert_eq!(e.import_check(module).is_ok(), ok, "{module}");
        }
    }

    #[test]
    fn native_code_is_the_stdlib_only_by_default() {
        let e = engine(vec![], vec![]);
        let stdlib_so = Path::new("/opt/py/lib/python3.11/lib-dynload/_csv.so");
        assert!(e.native_check("_csv", Some(stdlib_so)).is_ok());
        assert!(e
            .native_check(
                "_ctypes",
                Some(Path::new("/opt/py/lib/python3.11/lib-dynload/_ctypes.so"))
            )
            .is_err());
        assert!(e
            .native_check("fast", Some(Path::new("/site/fast.so")))
            .is_err());
        assert!(e.import_check("ctypes").is_err());
        assert!(e.import_check("ctypes.util").is_err());
        assert!(e.import_check("cffi").is_err());
        assert!(e.import_check("csv").is_ok());
        let renamed =
            Path::new("/opt/py/lib/python3.11/lib-dynload/_ctypes.cpython-311-x86_64-linux-gnu.so");
        assert!(
            e.native_check("evilpkg._ctypes", Some(renamed)).is_err(),
            "a stdlib FFI under another name"
        );
        let testcapi = Path::new(
            "/opt/py/lib/python3.11/lib-dynload/_testcapi.cpython-311-x86_64-linux-gnu.so",
        );
        assert!(e.native_check("_testcapi", Some(testcapi)).is_err());
        let third_party = Path::new("/opt/py/lib/python3.11/site-packages/orjson/orjson.so");
        assert!(
            e.native_check("orjson.orjson", Some(third_party)).is_err(),
            "site-packages is not the stdlib"
        );
        let granted = engine(vec![NativeSpec::Module("ctypes".into())], vec![]);
        assert!(granted.import_check("ctypes").is_ok());
        assert!(granted
            .native_check(
                "_ctypes",
                Some(Path::new("/opt/py/lib/python3.11/lib-dynload/_ctypes.so"))
            )
            .is_ok());
        assert!(granted
            .native_check("fast", Some(Path::new("/site/fast.so")))
            .is_err());
    }

    #[test]
    fn dynamic_code_from_the_target_is_denied_and_the_stdlib_keeps_working() {
        let e = engine(vec![], vec![]);
        let lib = |f: &str, n: &str| Frame::new(&format!("/opt/py/lib/python3.11/{f}"), n);
        let frozen = |f: &str, n: &str| Frame::new(&format!("<frozen importlib.{f}>"), n);
        let user = Frame::new("/home/me/script.py", "<module>");
        let allowed: Vec<Vec<Frame>> = vec![
            vec![],
            vec![lib("collections/__init__.py", "namedtuple"), user.clone()],
            vec![
                lib("dataclasses.py", "_create_fn"),
                lib("dataclasses.py", "_init_fn"),
                lib("dataclasses.py", "dataclass"),
                user.clone(),
            ],
            vec![
                frozen("_bootstrap", "_call_with_frames_removed"),
                frozen("_bootstrap_external", "exec_module"),
                frozen("_bootstrap", "_load_unlocked"),
                frozen("_bootstrap", "_find_and_load"),
                user.clone(),
            ],
            vec![
                lib("runpy.py", "_run_code"),
                lib("runpy.py", "_run_module_as_main"),
            ],
        ];
        for frames in allowed {
            assert!(e.code_exec_check("exec", &frames).is_ok(), "{frames:?}");
        }
        let denied: Vec<Vec<Frame>> = vec![
            vec![user.clone()],
            vec![
                lib("timeit.py", "__init__"),
                lib("timeit.py", "timeit"),
                user.clone(),
            ],
            vec![
                frozen("_bootstrap", "_call_with_frames_removed"),
                user.clone(),
            ],
            vec![
                frozen("_bootstrap", "_call_with_frames_removed"),
                frozen("_bootstrap_external", "source_to_code"),
                user.clone(),
            ],
            vec![
                lib("runpy.py", "_run_code"),
                lib("runpy.py", "run_path"),
                user.clone(),
            ],
            vec![
                Frame::new(
                    "/opt/py/lib/python3.110/collections/__init__.py",
                    "namedtuple",
                ),
                user.clone(),
            ],
        ];
        for frames in denied {
            assert!(e.code_exec_check("exec", &frames).is_err(), "{frames:?}");
        }
        let denial = e
            .code_exec_check("compile", std::slice::from_ref(&user))
            .unwrap_err();
        assert_eq!(
            denial.line(),
            "blocked code-exec compile from /home/me/script.py (denied by flag --no-code-exec)"
        );
        let denial = e
            .code_exec_check("compile", &[lib("timeit.py", "__init__"), user])
            .unwrap_err();
        assert_eq!(
            denial.detail,
            "compile via __init__ from /home/me/script.py"
        );
    }
}
