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
        match self.dir.get() {
            Some(dir) => Path::new(filename).starts_with(dir),
            None => false,
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
        if FFI_MODULES.contains(&top_level(module)) {
            return self.native_check(module, None);
        }
        Ok(())
    }

    /// Native code: an extension module file being loaded (`filename`), or a
    /// foreign-function interface being used (`filename == None`).
    pub fn native_check(&self, module: &str, filename: Option<&Path>) -> Decision {
        let top = top_level(module);
        let ffi = FFI_MODULES.contains(&top);
        let stdlib = filename.is_some_and(|f| {
            self.stdlib
                .contains(&super::fs::resolve(f).to_string_lossy())
        });
        if stdlib && !ffi {
            return Ok(());
        }
        let granted = self.policy.native.allow.iter().any(|r| match &r.value {
            NativeSpec::Any => true,
            NativeSpec::Module(name) => {
                under_module(module, name)
                    || (ffi && top.trim_start_matches('_') == name.trim_start_matches('_'))
            }
        });
        if granted {
            return Ok(());
        }
        let name = if ffi {
            top.trim_start_matches('_').to_string()
        } else {
            top.to_string()
        };
        Err(Denial {
            capability: Capability::Native,
            detail: shorten(module),
            reason: self.not_granted(),
            hint: Some(format!(
                "--allow-native={name} or [native] allow = [\"{name}\"]"
            )),
        })
    }

    /// Dynamic code (`compile`, `exec`, `eval`, code objects) asked for by code in
    /// `caller_file` (`None`: no Python frame, the interpreter itself).
    pub fn code_exec_check(&self, what: &str, caller_file: Option<&str>) -> Decision {
        if self.policy.code_exec.allowed {
            return Ok(());
        }
        match caller_file {
            None => Ok(()),
            Some(file) if self.stdlib.contains(file) => Ok(()),
            Some(file) => Err(Denial {
                capability: Capability::CodeExec,
                detail: format!("{what} from {}", shorten(file)),
                reason: Reason::DeniedBy(self.policy.code_exec.origin.clone()),
                hint: None,
            }),
        }
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
        assert!(e
            .code_exec_check(
                "compile",
                Some("/opt/py/lib/python3.11/collections/__init__.py")
            )
            .is_ok());
        assert!(e
            .code_exec_check("exec", Some("<frozen importlib._bootstrap>"))
            .is_ok());
        assert!(e.code_exec_check("exec", None).is_ok());
        let denial = e
            .code_exec_check("compile", Some("/home/me/script.py"))
            .unwrap_err();
        assert_eq!(
            denial.line(),
            "blocked code-exec compile from /home/me/script.py (denied by flag --no-code-exec)"
        );
        assert!(e
            .code_exec_check("exec", Some("/opt/py/lib/python3.110/x.py"))
            .is_err());
    }
}
