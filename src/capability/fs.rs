//! Filesystem decisions: reads and writes against the policy's roots.
//!
//! Every path is made absolute and resolved component by component, following symlinks,
//! before it is compared with the roots (which were resolved the same way when the policy
//! was built): a symlink inside a root that points outside is outside, and `..` cannot
//! climb out. What happens between this check and the kernel's use of the path (a symlink
//! swapped in between) is outside what an in-process check can hold; the threat model says
//! so.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use super::{shorten, Capability, Decision, Denial, Engine, Reason};
use crate::policy::EnvSpec;

/// Read roots the host adds at start-up: the interpreter's installation, `sys.path` as it
/// stands when the target starts (site-packages, the script's folder). Set once.
#[derive(Debug, Default)]
pub struct Implicit {
    reads: OnceLock<Vec<PathBuf>>,
}

impl Implicit {
    /// Set the implicit read roots; the first call wins, later calls are refused.
    pub fn set(&self, roots: Vec<PathBuf>) -> bool {
        let roots = roots.iter().map(|r| resolve(r)).collect();
        self.reads.set(roots).is_ok()
    }

    pub fn reads(&self) -> &[PathBuf] {
        self.reads.get().map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Device files every program may use.
const DEVICES_READ: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/random",
    "/dev/urandom",
    "/dev/full",
];
const DEVICES_WRITE: &[&str] = &["/dev/null", "/dev/full"];

/// Make `path` absolute (against the current directory) and resolve it: `.` and `..`
/// are applied to the real path built so far, symlinks are followed (40 at most, as the
/// kernel does), and components that do not exist yet are appended as written.
pub fn resolve(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        match std::env::current_dir() {
            Ok(cwd) => cwd.join(path),
            Err(_) => Path::new("/").join(path),
        }
    };
    let mut budget = 40;
    resolve_absolute(&absolute, &mut budget)
}

fn resolve_absolute(path: &Path, budget: &mut u32) -> PathBuf {
    let mut out = PathBuf::from("/");
    let mut missing = false;
    for component in path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => out = PathBuf::from("/"),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if missing {
                    continue;
                }
                match std::fs::symlink_metadata(&out) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        if *budget == 0 {
                            continue;
                        }
                        *budget -= 1;
                        if let Ok(target) = std::fs::read_link(&out) {
                            out.pop();
                            let joined = out.join(target);
                            out = resolve_absolute(&joined, budget);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => missing = true,
                }
            }
        }
    }
    out
}

/// Resolve what an open file descriptor points to (`/proc/self/fd/N`).
pub fn fd_path(fd: i64) -> Option<PathBuf> {
    if fd < 0 {
        return None;
    }
    let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    target.is_absolute().then_some(target)
}

fn under(path: &Path, root: &Path) -> bool {
    path.starts_with(root)
}

/// `/proc/<pid>/environ`, `/proc/<pid>/task/<tid>/environ` and the `mem` files hold the
/// environment the process was started with, before the host scrubbed it.
fn is_process_secret(path: &Path) -> bool {
    let mut parts = path.components().skip(1);
    if parts.next() != Some(Component::Normal(OsStr::new("proc"))) {
        return false;
    }
    let rest: Vec<_> = parts.collect();
    let last = rest.last().and_then(|c| match c {
        Component::Normal(name) => name.to_str(),
        _ => None,
    });
    matches!(last, Some("environ" | "mem")) && (rest.len() == 2 || rest.len() == 4)
}

impl Engine {
    /// May `path` be read (`write == false`) or written?
    pub fn fs_check(&self, path: &Path, write: bool) -> Decision {
        let resolved = resolve(path);
        self.fs_check_resolved(&resolved, write)
    }

    pub fn fs_check_resolved(&self, path: &Path, write: bool) -> Decision {
        let capability = if write {
            Capability::FsWrite
        } else {
            Capability::FsRead
        };
        let detail = shorten(&path.to_string_lossy());
        let fs = &self.policy.filesystem;
        if let Some(rule) = fs.deny.iter().find(|r| under(path, &r.value)) {
            return Err(Denial {
                capability,
                detail,
                reason: Reason::DeniedBy(rule.origin.clone()),
                hint: None,
            });
        }
        if is_process_secret(path)
            && !self
                .policy
                .environment
                .allow
                .iter()
                .any(|r| r.value == EnvSpec::Any)
        {
            return Err(Denial {
                capability,
                detail,
                reason: Reason::Never("holds the unscrubbed environment; needs --allow-env"),
                hint: None,
            });
        }
        let path_str = path.to_str().unwrap_or("");
        let allowed = if write {
            DEVICES_WRITE.contains(&path_str) || fs.write.iter().any(|r| under(path, &r.value))
        } else {
            DEVICES_READ.contains(&path_str)
                || fs.read.iter().any(|r| under(path, &r.value))
                || fs.write.iter().any(|r| under(path, &r.value))
                || self.fs.reads().iter().any(|root| under(path, root))
        };
        if allowed {
            return Ok(());
        }
        let (flag, key) = if write {
            ("--allow-write", "write")
        } else {
            ("--allow-read", "read")
        };
        Err(Denial {
            capability,
            detail: detail.clone(),
            reason: self.not_granted(),
            hint: Some(format!(
                "{flag}={detail} or [filesystem] {key} = [\"{detail}\"]"
            )),
        })
    }

    /// Bytecode-cache writes (`__pycache__`) are refused without a trace line: python
    /// itself skips them silently on EACCES, and so does importlib here.
    pub fn fs_is_quiet(path: &Path) -> bool {
        path.components()
            .any(|c| c == Component::Normal(OsStr::new("__pycache__")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Origin, Policy, Rule};

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hermetic-fs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::canonicalize(&dir).unwrap()
    }

    fn engine_with(read: Vec<PathBuf>, write: Vec<PathBuf>) -> Engine {
        let mut policy = Policy::default();
        let o = || Origin::Flag("test".into());
        policy.filesystem.read = read.into_iter().map(|p| Rule::new(p, o())).collect();
        policy.filesystem.write = write.into_iter().map(|p| Rule::new(p, o())).collect();
        Engine::new(policy)
    }

    #[test]
    fn resolves_dots_and_symlinks() {
        let dir = temp_dir("resolve");
        let ws = dir.join("ws");
        std::fs::create_dir(&ws).unwrap();
        std::os::unix::fs::symlink("/etc", ws.join("link")).unwrap();
        assert_eq!(resolve(&ws.join("a/../b")), ws.join("b"));
        assert_eq!(resolve(&ws.join("../ws/./c")), ws.join("c"));
        assert_eq!(
            resolve(&ws.join("link/passwd")),
            PathBuf::from("/etc/passwd")
        );
        assert_eq!(resolve(&ws.join("missing/../../x")), dir.join("x"));
        assert_eq!(resolve(Path::new("/../../etc")), PathBuf::from("/etc"));
    }

    #[test]
    fn roots_hold_against_symlinks_and_dotdot() {
        let dir = temp_dir("roots");
        let ws = dir.join("ws");
        std::fs::create_dir(&ws).unwrap();
        std::os::unix::fs::symlink(&dir, ws.join("up")).unwrap();
        let e = engine_with(vec![], vec![ws.clone()]);
        let cases = [
            (ws.join("new.txt"), true),
            (ws.join("sub/deeper/new.txt"), true),
            (ws.join("../outside.txt"), false),
            (ws.join("up/outside.txt"), false),
            (ws.join("up/ws/inside.txt"), true),
            (dir.join("wsx/file"), false),
        ];
        for (path, ok) in cases {
            assert_eq!(
                e.fs_check(&path, true).is_ok(),
                ok,
                "write {}",
                path.display()
            );
            assert_eq!(
                e.fs_check(&path, false).is_ok(),
                ok,
                "read {}",
                path.display()
            );
        }
    }

    #[test]
    fn reads_do_not_imply_writes() {
        let dir = temp_dir("ro");
        let e = engine_with(vec![dir.clone()], vec![]);
        assert!(e.fs_check(&dir.join("f"), false).is_ok());
        let denial = e.fs_check(&dir.join("f"), true).unwrap_err();
        assert_eq!(denial.capability, Capability::FsWrite);
        assert!(denial.hint.unwrap().starts_with("--allow-write="));
    }

    #[test]
    fn process_environment_files_are_refused() {
        let e = engine_with(vec![PathBuf::from("/")], vec![]);
        for path in [
            "/proc/self/environ",
            "/proc/1/environ",
            "/proc/self/task/1/environ",
            "/proc/self/mem",
        ] {
            assert!(
                e.fs_check_resolved(Path::new(path), false).is_err(),
                "{path}"
            );
        }
        assert!(e
            .fs_check_resolved(Path::new("/proc/self/status"), false)
            .is_ok());
    }

    #[test]
    fn devices_and_nothing_else_by_default() {
        let e = engine_with(vec![], vec![]);
        assert!(e.fs_check(Path::new("/dev/null"), true).is_ok());
        assert!(e.fs_check(Path::new("/dev/urandom"), false).is_ok());
        assert!(e.fs_check(Path::new("/etc/hostname"), false).is_err());
        assert!(e.fs_check(Path::new("/dev/sda"), false).is_err());
    }
}
