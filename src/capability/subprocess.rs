//! Subprocess decisions: which programs may be started.
//!
//! A program is judged by the absolute, symlink-resolved path of the file that would be
//! executed: a bare name is looked up in the child's `PATH`, as `execvp` would.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{fs, shorten, Capability, Decision, Denial, Engine};
use crate::policy::ProgramSpec;

/// Find what `execvp` would run for `program` with `path_var` as `PATH`, in a child whose
/// working directory is `cwd` (default: ours): a relative program, and relative `PATH`
/// entries, are taken from there.
pub fn locate(program: &str, path_var: Option<&str>, cwd: Option<&Path>) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    let own_cwd;
    let base = match cwd {
        Some(cwd) => fs::resolve(cwd),
        None => {
            own_cwd = std::env::current_dir().ok()?;
            own_cwd
        }
    };
    if program.contains('/') {
        return Some(fs::resolve(&base.join(program)));
    }
    let search = path_var.unwrap_or("/usr/local/bin:/usr/bin:/bin");
    search
        .split(':')
        .map(|dir| base.join(dir).join(program))
        .find(|candidate| is_executable(candidate))
        .map(|found| fs::resolve(&found))
}

/// Is `path` a file the kernel could execute (a regular file with an execute bit)?
pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl Engine {
    /// Is every program granted?
    pub fn subprocess_any(&self) -> bool {
        self.policy
            .subprocess
            .allow
            .iter()
            .any(|r| r.value == ProgramSpec::Any)
    }

    /// May `program` be started? `path_var` is the `PATH` searched for a bare name, `cwd`
    /// the child's working directory (for relative names).
    pub fn subprocess_check(
        &self,
        program: &str,
        path_var: Option<&str>,
        cwd: Option<&Path>,
    ) -> Decision {
        if self.subprocess_any() {
            return Ok(());
        }
        let located = locate(program, path_var, cwd);
        if let Some(path) = &located {
            let granted = self
                .policy
                .subprocess
                .allow
                .iter()
                .any(|r| matches!(&r.value, ProgramSpec::Path(p) if p == path));
            if granted {
                return Ok(());
            }
        }
        let shown = located
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| program.to_string());
        let shown = shorten(&shown);
        Err(Denial {
            capability: Capability::Subprocess,
            detail: shown.clone(),
            reason: self.not_granted(),
            hint: Some(format!(
                "--allow-run={shown} or [subprocess] allow = [\"{shown}\"]"
            )),
        })
    }

    /// Loading a fresh copy of `_posixsubprocess` after start-up would hand back an
    /// unguarded `fork_exec`; it is refused unless every program is granted.
    pub fn fresh_spawn_module(&self, module: &str) -> Decision {
        if module != "_posixsubprocess" || self.subprocess_any() {
            return Ok(());
        }
        Err(Denial {
            capability: Capability::Subprocess,
            detail: format!("fresh copy of {module}"),
            reason: super::Reason::Never("would bypass the subprocess guard"),
            hint: None,
        })
    }

    /// A new process that runs no new program (`os.fork`, `pty.fork`): it carries this
    /// same hook, but it is still a process, so it needs every program granted.
    pub fn subprocess_fork(&self, what: &str) -> Decision {
        if self.subprocess_any() {
            return Ok(());
        }
        Err(Denial {
            capability: Capability::Subprocess,
            detail: what.to_string(),
            reason: self.not_granted(),
            hint: Some("--allow-run or [subprocess] allow = [\"*\"]".to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Origin, Policy, Rule};

    fn engine(programs: Vec<ProgramSpec>) -> Engine {
        let mut policy = Policy::default();
        policy.subprocess.allow = programs
            .into_iter()
            .map(|p| Rule::new(p, Origin::Flag("--allow-run".into())))
            .collect();
        Engine::new(policy)
    }

    #[test]
    fn programs_match_by_resolved_path() {
        let echo = fs::resolve(Path::new("/bin/echo"));
        let e = engine(vec![ProgramSpec::Path(echo.clone())]);
        assert!(e.subprocess_check("/bin/echo", None, None).is_ok());
        assert!(e
            .subprocess_check(&echo.to_string_lossy(), None, None)
            .is_ok());
        assert!(e
            .subprocess_check("echo", Some("/usr/bin:/bin"), None)
            .is_ok());
        assert!(e
            .subprocess_check("true", Some("/usr/bin:/bin"), None)
            .is_err());
        assert!(e.subprocess_check("/bin/sh", None, None).is_err());
        assert!(e
            .subprocess_check("echo", Some("/nonexistent"), None)
            .is_err());
        assert!(e.subprocess_fork("os.fork").is_err());
    }

    #[test]
    fn nothing_runs_by_default_and_star_runs_all() {
        assert!(engine(vec![])
            .subprocess_check("/bin/true", None, None)
            .is_err());
        let all = engine(vec![ProgramSpec::Any]);
        assert!(all.subprocess_check("/bin/true", None, None).is_ok());
        assert!(all.subprocess_fork("os.fork").is_ok());
    }
}
