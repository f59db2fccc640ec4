//! Filesystem decisions: reads and writes against the policy's roots.
//!
//! Every path is made absolute and resolved component by component, following symlinks,
//! before it is compared with the roots (which were resolved the same way when the policy
//! was built): a symlink inside a root that points outside is outside, and `..` cannot
//! climb out. What happens between this check and the kernel's use of the path (a symlink
//! swapped in between) is outside what an in-process check can hold; the threat model says
//! so.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use super::{shorten, Capability, Decision, Denial, Engine, Reason};
use crate::policy::EnvSpec;

/// Read roots the host adds at start-up (the interpreter's installation, `sys.path` as it
/// stands when the target starts, the script's folder), and the anchors. Set once.
#[derive(Debug, Default)]
pub struct Implicit {
    reads: OnceLock<Vec<PathBuf>>,
    /// What the `site` module added once it ran under the policy (site-packages, paths
    /// from `.pth` files, a virtual environment's prefix). Set once, after `reads`.
    site: OnceLock<Vec<PathBuf>>,
    /// Every root (policy and implicit) that is a real directory, deepest first. A path
    /// below one is resolved from there on, without re-checking the root's own components:
    /// roots cannot be removed or moved while the policy is in force
    /// ([`Engine::fs_remove_check`]), so what was a real directory at start-up still is.
    anchors: OnceLock<Vec<PathBuf>>,
}

impl Implicit {
    /// Every implicit read root: those of start-up, then those `site` added.
    pub fn reads(&self) -> impl Iterator<Item = &PathBuf> {
        let early = self.reads.get().map(Vec::as_slice).unwrap_or(&[]);
        let site = self.site.get().map(Vec::as_slice).unwrap_or(&[]);
        early.iter().chain(site)
    }

    pub fn anchors(&self) -> &[PathBuf] {
        self.anchors.get().map(Vec::as_slice).unwrap_or(&[])
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
    resolve_below(path, &[])
}

/// [`resolve`], starting from the deepest of `anchors` (real, canonical directories) that
/// prefixes the path, so only the components below it cost a system call.
pub fn resolve_below(path: &Path, anchors: &[PathBuf]) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        match std::env::current_dir() {
            Ok(cwd) => cwd.join(path),
            Err(_) => Path::new("/").join(path),
        }
    };
    let mut budget = 40;
    let bytes = absolute.as_os_str().as_bytes();
    for anchor in anchors {
        let prefix = anchor.as_os_str().as_bytes();
        // A lexical prefix on the `/` boundary; `..` in the rest is applied to the real
        // anchor, so it climbs out correctly. A path spelt with `//` or `/./` inside the
        // anchor part simply misses here and takes the full walk.
        if bytes.starts_with(prefix) && matches!(bytes.get(prefix.len()), None | Some(b'/')) {
            let rest = &bytes[prefix.len()..];
            let rest = Path::new(OsStr::from_bytes(rest.strip_prefix(b"/").unwrap_or(rest)));
            return walk(anchor.clone(), rest, &mut budget);
        }
    }
    resolve_absolute(&absolute, &mut budget)
}

fn resolve_absolute(path: &Path, budget: &mut u32) -> PathBuf {
    walk(PathBuf::from("/"), path, budget)
}

/// Apply `rest`'s components to the real path `out`, following symlinks.
fn walk(mut out: PathBuf, rest: &Path, budget: &mut u32) -> PathBuf {
    let mut missing = false;
    for component in rest.components() {
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
                            // A descriptor of this process whose object has no path
                            // (`pipe:[N]`, `socket:[N]`): the link names it.
                            if target.is_relative() && is_own_descriptor(out.as_os_str().as_bytes())
                            {
                                continue;
                            }
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

/// `/proc/<this process>/fd/N` or `/proc/<this process>/task/<tid>/fd/N`, which is what
/// [`resolve`] gives for a descriptor whose object has no path (a pipe, a socket):
/// `/dev/stdin`, `/dev/fd/N` and `/proc/self/fd/N` then reopen what the process already
/// holds, which is allowed as using the descriptor is. (A descriptor of a file resolves
/// to that file's path, and is judged as that file.)
pub fn is_own_descriptor(path: &[u8]) -> bool {
    let Some(rest) = path.strip_prefix(b"/proc/") else {
        return false;
    };
    let number = |part: Option<&[u8]>| {
        part.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
    };
    let mut parts = rest.split(|b| *b == b'/');
    let pid = parts.next();
    if !number(pid) || pid != Some(std::process::id().to_string().as_bytes()) {
        return false;
    }
    let parts: Vec<&[u8]> = parts.collect();
    match parts.as_slice() {
        [b"fd", fd] => number(Some(fd)),
        [b"task", tid, b"fd", fd] => number(Some(tid)) && number(Some(fd)),
        _ => false,
    }
}

/// Is `path` `root` or below it? Both are resolved (no `.`, `..` or `//`), so comparing
/// bytes on the `/` boundary is exact, and cheaper than walking components.
fn under(path: &Path, root: &Path) -> bool {
    let (path, root) = (path.as_os_str().as_bytes(), root.as_os_str().as_bytes());
    if root == b"/" {
        return path.first() == Some(&b'/');
    }
    path.starts_with(root) && matches!(path.get(root.len()), None | Some(b'/'))
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
    /// Record the implicit read roots and compute the anchors. The first call wins.
    pub fn set_roots(&self, mut implicit: Vec<PathBuf>) -> bool {
        // Shortest first, each resolved below the real folders found before it: the
        // interpreter's prefixes, `sys.path` and getpath's files share most of their
        // components, which then cost one `lstat` walk instead of one each.
        implicit.sort();
        implicit.dedup();
        implicit.sort_by_key(|p| p.components().count());
        let mut reads: Vec<PathBuf> = Vec::with_capacity(implicit.len());
        let mut folders: Vec<PathBuf> = Vec::new();
        for root in &implicit {
            let real = resolve_below(root, &folders);
            if reads.contains(&real) {
                continue;
            }
            if std::fs::symlink_metadata(&real).is_ok_and(|m| m.is_dir()) {
                folders.push(real.clone());
                folders.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
            }
            reads.push(real);
        }
        // The policy's own roots were made canonical when it was loaded; one that is not
        // a real folder now (a symlink put there since) is no anchor.
        let fs = &self.policy.filesystem;
        let mut anchors: Vec<PathBuf> = fs
            .read
            .iter()
            .chain(&fs.write)
            .chain(&fs.deny)
            .map(|r| r.value.clone())
            .filter(|p| {
                std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
                    && resolve_below(p, &folders) == *p
            })
            .collect();
        anchors.extend(folders);
        anchors.sort();
        anchors.dedup();
        anchors.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        self.fs.reads.set(reads).is_ok() && self.fs.anchors.set(anchors).is_ok()
    }

    /// Record the read roots the `site` module added (after [`Engine::set_roots`]); those
    /// already below a start-up root are left out. They are not anchors: a path below one
    /// is resolved from `/`. Returns how many were new, or `None` if they were already
    /// recorded (the first call wins).
    pub fn add_site_roots(&self, added: Vec<PathBuf>) -> Option<usize> {
        let mut roots: Vec<PathBuf> = Vec::new();
        for root in added.iter().map(|r| self.resolve(r)) {
            let known = self.fs.reads().any(|r| under(&root, r)) || roots.contains(&root);
            if !known {
                roots.push(root);
            }
        }
        let new = roots.len();
        self.fs.site.set(roots).ok().map(|()| new)
    }

    /// Resolve `path` as the checks see it.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        resolve_below(path, self.fs.anchors())
    }

    /// May `path` be read (`write == false`) or written?
    pub fn fs_check(&self, path: &Path, write: bool) -> Decision {
        let resolved = self.resolve(path);
        self.fs_check_resolved(&resolved, write)
    }

    /// Removing or moving `path` (already resolved): refused when it is a root, or holds
    /// one, whatever the grants say. This keeps the anchors real directories.
    pub fn fs_remove_check(&self, path: &Path) -> Decision {
        if self
            .fs
            .anchors()
            .iter()
            .any(|anchor| anchor.starts_with(path))
        {
            return Err(Denial {
                capability: Capability::FsWrite,
                detail: shorten(&path.to_string_lossy()),
                reason: Reason::Never(
                    "a granted root cannot be removed or moved while the policy is in force",
                ),
                hint: None,
            });
        }
        Ok(())
    }

    pub fn fs_check_resolved(&self, path: &Path, write: bool) -> Decision {
        let capability = if write {
            Capability::FsWrite
        } else {
            Capability::FsRead
        };
        let detail = || shorten(&path.to_string_lossy());
        let fs = &self.policy.filesystem;
        if let Some(rule) = fs.deny.iter().find(|r| under(path, &r.value)) {
            let reason = Reason::DeniedBy(rule.origin.clone());
            return Err(Denial {
                capability,
                detail: detail(),
                reason,
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
            let reason = Reason::Never("holds the unscrubbed environment; needs --allow-env");
            return Err(Denial {
                capability,
                detail: detail(),
                reason,
                hint: None,
            });
        }
        let bytes = path.as_os_str().as_bytes();
        let allowed = if write {
            DEVICES_WRITE.iter().any(|d| d.as_bytes() == bytes)
                || fs.write.iter().any(|r| under(path, &r.value))
        } else {
            DEVICES_READ.iter().any(|d| d.as_bytes() == bytes)
                || fs.read.iter().any(|r| under(path, &r.value))
                || fs.write.iter().any(|r| under(path, &r.value))
                || self.fs.reads().any(|root| under(path, root))
        } || is_own_descriptor(bytes);
        if allowed {
            return Ok(());
        }
        let (flag, key) = if write {
            ("--allow-write", "write")
        } else {
            ("--allow-read", "read")
        };
        let detail = detail();
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
    fn anchored_resolution_agrees_with_the_full_walk() {
        let dir = temp_dir("anchors");
        let ws = dir.join("ws");
        std::fs::create_dir_all(ws.join("sub")).unwrap();
        std::os::unix::fs::symlink("/etc", ws.join("link")).unwrap();
        std::os::unix::fs::symlink(&dir, ws.join("up")).unwrap();
        let e = engine_with(vec![], vec![ws.clone()]);
        assert!(e.set_roots(vec![]));
        assert_eq!(e.fs.anchors(), std::slice::from_ref(&ws));
        for rel in [
            "f",
            "sub/f",
            "link/passwd",
            "up/x",
            "../x",
            "sub/../../x",
            "missing/../link/x",
            ".",
        ] {
            let path = ws.join(rel);
            assert_eq!(e.resolve(&path), resolve(&path), "{rel}");
        }
    }

    #[test]
    fn own_descriptors_are_this_process_s_fd_links_only() {
        let pid = std::process::id();
        let cases: Vec<(String, bool)> = vec![
            (format!("/proc/{pid}/fd/0"), true),
            (format!("/proc/{pid}/fd/17"), true),
            (format!("/proc/{pid}/task/{pid}/fd/3"), true),
            (format!("/proc/{pid}/fd"), false),
            (format!("/proc/{pid}/fd/"), false),
            (format!("/proc/{pid}/fd/0/x"), false),
            (format!("/proc/{pid}/fd/pipe:[12]"), false),
            (format!("/proc/{pid}/environ"), false),
            (format!("/proc/{}/fd/0", pid + 1), false),
            ("/proc/self/fd/0".to_string(), false),
            (format!("/proc/{pid}0/fd/0"), false),
            (format!("/tmp/{pid}/fd/0"), false),
        ];
        for (path, expected) in cases {
            assert_eq!(is_own_descriptor(path.as_bytes()), expected, "{path}");
        }
    }

    #[test]
    fn under_is_exact_on_the_slash_boundary() {
        let cases = [
            ("/ws", "/ws", true),
            ("/ws/a", "/ws", true),
            ("/wsx", "/ws", false),
            ("/w", "/ws", false),
            ("/a", "/", true),
        ];
        for (path, root, expected) in cases {
            assert_eq!(
                under(Path::new(path), Path::new(root)),
                expected,
                "{path} under {root}"
            );
        }
    }

    #[test]
    fn roots_cannot_be_removed_or_moved() {
        let dir = temp_dir("protect");
        let ws = dir.join("ws");
        std::fs::create_dir_all(ws.join("sub")).unwrap();
        let e = engine_with(vec![], vec![ws.clone()]);
        assert!(e.set_roots(vec![]));
        assert!(e.fs_remove_check(&ws).is_err());
        assert!(e.fs_remove_check(&dir).is_err(), "a folder holding a root");
        assert!(e.fs_remove_check(&ws.join("sub")).is_ok());
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
