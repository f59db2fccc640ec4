//! Interpreting a loaded policy file: raw strings become typed rules with origins.
//!
//! This is the only place that reads the raw [`super::schema`] types. Each entry goes
//! through the same value parser as the matching flag (`values.rs`); relative paths resolve
//! against the policy file's folder. The first bad entry stops the load with
//! `FILE:LINE:COL: table.key: what is wrong`. Merging with the base, profiles and flags is
//! `merge.rs`'s job, not this one.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::load::LoadedFile;
use super::values::{
    parse_env, parse_host_grant, parse_import, parse_native, resolve_path, resolve_program, Lookup,
};
use super::{EnvSpec, HostGrant, NativeSpec, Origin, PolicyError, ProgramSpec, Rule, Switch};

/// What one policy file says, as rules. Lists are in file order.
#[derive(Debug, Default)]
pub(crate) struct FileRules {
    /// `allow-all = true`, with where it was said.
    pub allow_all: Option<Origin>,
    pub network_allow: Vec<Rule<HostGrant>>,
    pub network_deny: Vec<Rule<HostGrant>>,
    pub read: Vec<Rule<PathBuf>>,
    pub write: Vec<Rule<PathBuf>>,
    pub fs_deny: Vec<Rule<PathBuf>>,
    pub subprocess: Vec<Rule<ProgramSpec>>,
    pub environment: Vec<Rule<EnvSpec>>,
    /// `[environment] safe-set`, when the file sets it.
    pub env_safe_set: Option<bool>,
    pub native: Vec<Rule<NativeSpec>>,
    pub imports_deny: Vec<Rule<String>>,
    /// `[code] exec`, when the file sets it.
    pub code_exec: Option<Switch>,
    /// `[interpreter] mutation`, when the file sets it.
    pub interpreter_mutation: Option<Switch>,
    pub trace_enabled: bool,
    pub trace_file: Option<PathBuf>,
}

/// Turn a loaded file into rules, or the first error in it.
pub(crate) fn file_rules(file: &LoadedFile, lookup: &Lookup) -> Result<FileRules, PolicyError> {
    let raw = &file.raw;
    let folder = file.folder.as_path();
    let path = |text: &str| resolve_path(Path::new(text), folder, lookup);
    let program = |text: &str| resolve_program(text, folder, lookup);
    let switch = |key: &str, value: &Option<Spanned<bool>>| {
        value.as_ref().map(|value| Switch {
            allowed: *value.get_ref(),
            origin: file.origin(key, &value.span()),
        })
    };
    let trace_file = match &raw.trace.file {
        Some(value) => Some(
            path(value.get_ref())
                .map_err(|m| file.error_at(&value.span(), &format!("trace.file: {m}")))?,
        ),
        None => None,
    };
    Ok(FileRules {
        allow_all: raw
            .allow_all
            .as_ref()
            .filter(|value| *value.get_ref())
            .map(|value| file.origin("allow-all", &value.span())),
        network_allow: entries(file, "network.allow", &raw.network.allow, parse_host_grant)?,
        network_deny: entries(file, "network.deny", &raw.network.deny, parse_host_grant)?,
        read: entries(file, "filesystem.read", &raw.filesystem.read, path)?,
        write: entries(file, "filesystem.write", &raw.filesystem.write, path)?,
        fs_deny: entries(file, "filesystem.deny", &raw.filesystem.deny, path)?,
        subprocess: entries(file, "subprocess.allow", &raw.subprocess.allow, program)?,
        environment: entries(file, "environment.allow", &raw.environment.allow, parse_env)?,
        env_safe_set: raw.environment.safe_set,
        native: entries(file, "native.allow", &raw.native.allow, parse_native)?,
        imports_deny: entries(file, "imports.deny", &raw.imports.deny, parse_import)?,
        code_exec: switch("code.exec", &raw.code.exec),
        interpreter_mutation: switch("interpreter.mutation", &raw.interpreter.mutation),
        trace_enabled: raw.trace.enabled.as_ref().is_some_and(|v| *v.get_ref()),
        trace_file,
    })
}

/// Parse every entry of one list, each with its origin.
fn entries<T>(
    file: &LoadedFile,
    key: &str,
    list: &[Spanned<String>],
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<Rule<T>>, PolicyError> {
    list.iter()
        .map(|entry| {
            let span = entry.span();
            let value = parse(entry.get_ref())
                .map_err(|message| file.error_at(&span, &format!("{key}: {message}")))?;
            Ok(Rule::new(value, file.origin(key, &span)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::load::load;
    use crate::policy::testutil::TempDir;
    use crate::policy::HostSpec;
    use indoc::indoc;

    fn rules_of(dir: &TempDir, name: &str, text: &str) -> Result<FileRules, PolicyError> {
        dir.write(name, text);
        let file = load(Path::new(name), dir.path())?;
        file_rules(&file, &Lookup::default())
    }

    #[test]
    fn bad_values_name_file_line_column_and_key() {
        let dir = TempDir::new("validate");
        let table: &[(&str, &str)] = &[
            (
                indoc! {r#"
                    [network]
                    allow = ["localhost", "exa mple.com"]
                "#},
                "p.toml:2:23: network.allow: `exa mple.com`: ` ` is not allowed in a host name",
            ),
            (
                indoc! {r#"
                    [network]
                    deny = [
                        "10.0.0.0/40",
                    ]
                "#},
                "p.toml:3:5: network.deny: `10.0.0.0/40`: invalid prefix length `40`",
            ),
            (
                "[environment]\nallow = [\"A-B\"]\n",
                "p.toml:2:10: environment.allow: invalid environment variable `A-B`",
            ),
            (
                "[native]\nallow = [\"num-py\"]\n",
                "p.toml:2:10: native.allow: invalid module name `num-py`",
            ),
            (
                "[imports]\ndeny = [\"*\"]\n",
                "p.toml:2:9: imports.deny: invalid module name `*`",
            ),
            (
                "[subprocess]\nallow = [\"no-such-program-hermetic\"]\n",
                "p.toml:2:10: subprocess.allow: program `no-such-program-hermetic` not found in PATH",
            ),
            (
                "[filesystem]\nread = [\"\"]\n",
                "p.toml:2:9: filesystem.read: empty path",
            ),
            (
                "[trace]\nfile = \"~bob/log\"\n",
                "p.toml:2:8: trace.file: `~bob/log`: only `~/` is expanded",
            ),
        ];
        for (text, expected) in table {
            let error = rules_of(&dir, "p.toml", text).expect_err(text);
            assert!(
                error.message.starts_with(expected),
                "{text}\n got: {}\nwant: {expected}",
                error.message
            );
        }
    }

    #[test]
    fn relative_paths_resolve_against_the_file_folder() {
        let dir = TempDir::new("relative");
        let text = indoc! {r#"
            [filesystem]
            read = ["data", "../shared", "/abs/../etc"]
            write = ["./out/"]
            deny = ["data/secret"]
            [trace]
            file = "logs/trace.log"
        "#};
        let rules = rules_of(&dir, "conf/p.toml", text).expect("valid");
        let conf = dir.path().join("conf");
        let values =
            |rules: &[Rule<PathBuf>]| rules.iter().map(|r| r.value.clone()).collect::<Vec<_>>();
        assert_eq!(
            values(&rules.read),
            [
                conf.join("data"),
                dir.path().join("shared"),
                PathBuf::from("/etc")
            ]
        );
        assert_eq!(values(&rules.write), [conf.join("out")]);
        assert_eq!(values(&rules.fs_deny), [conf.join("data/secret")]);
        assert_eq!(rules.trace_file, Some(conf.join("logs/trace.log")));
    }

    #[test]
    fn origins_carry_the_key_and_line() {
        let dir = TempDir::new("origins");
        let text = indoc! {r#"
            allow-all = true
            [network]
            allow = [
                "localhost",
                "example.com:443",
            ]
            [code]
            exec = false
            [trace]
            enabled = true
        "#};
        let rules = rules_of(&dir, "p.toml", text).expect("valid");
        let file = dir.path().join("p.toml");
        let origin = |key: &str, line| Origin::File {
            path: file.clone(),
            key: key.to_string(),
            line,
        };
        assert_eq!(rules.allow_all, Some(origin("allow-all", 1)));
        let allow: Vec<_> = rules
            .network_allow
            .iter()
            .map(|r| (r.value.host.clone(), r.origin.clone()))
            .collect();
        assert_eq!(
            allow,
            [
                (HostSpec::Localhost, origin("network.allow", 4)),
                (
                    HostSpec::Domain("example.com".into()),
                    origin("network.allow", 5)
                ),
            ]
        );
        assert_eq!(
            rules.code_exec,
            Some(Switch {
                allowed: false,
                origin: origin("code.exec", 8)
            })
        );
        assert_eq!(rules.interpreter_mutation, None);
        assert!(rules.trace_enabled);
    }

    #[test]
    fn allow_all_false_is_no_base() {
        let dir = TempDir::new("allow-all-false");
        let rules = rules_of(&dir, "p.toml", "allow-all = false\n").expect("valid");
        assert_eq!(rules.allow_all, None);
    }
}
