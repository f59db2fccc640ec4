//! `--print-policy`: the effective policy as a policy file.
//!
//! [`render`] writes TOML that the same loader reads back to the same values, with every
//! table and key present (empty lists included) and the origin of each entry as a trailing
//! comment. It only formats: it must not decide anything or touch the filesystem.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{
    env_spec_text, host_grant_text, native_spec_text, program_spec_text, Origin, Policy, Rule,
    Switch,
};

/// Render the effective policy as TOML, each rule with its origin as a comment.
pub fn render(policy: &Policy) -> String {
    let mut out = String::new();
    out.push_str("# The effective hermetic-python policy: the built-in base, the policy file,\n");
    out.push_str("# profiles and flags, merged. Saved to a file and passed with --policy, it\n");
    out.push_str("# gives the same grants.\n");
    out.push_str("# Not listed: reads of the interpreter's own installation, its site-packages\n");
    out.push_str("# and the target script's folder, which are added at start-up.\n");
    match &policy.file {
        Some(path) => line(&mut out, &format!("# Policy file: {}", path.display())),
        None => out.push_str("# Policy file: none\n"),
    }
    out.push('\n');

    // The grants below are already expanded, so `allow-all` is written as false: writing
    // true would grant again what a restriction removed.
    match &policy.allow_all {
        Some(origin) => line(
            &mut out,
            &format!(
                "allow-all = false  # the base was allow-all ({}); what it granted is listed below",
                comment(origin)
            ),
        ),
        None => {
            out.push_str("allow-all = false  # built-in default: deny everything world-touching\n")
        }
    }

    table(&mut out, "network");
    list(&mut out, "allow", &policy.network.allow, host_grant_text);
    list(&mut out, "deny", &policy.network.deny, host_grant_text);

    table(&mut out, "filesystem");
    let path = |p: &PathBuf| p.display().to_string();
    list(&mut out, "read", &policy.filesystem.read, path);
    list(&mut out, "write", &policy.filesystem.write, path);
    list(&mut out, "deny", &policy.filesystem.deny, path);

    table(&mut out, "subprocess");
    list(
        &mut out,
        "allow",
        &policy.subprocess.allow,
        program_spec_text,
    );

    table(&mut out, "environment");
    list(&mut out, "allow", &policy.environment.allow, env_spec_text);
    out.push_str("safe-set = false  # the safe set's names, where granted, are listed above\n");

    table(&mut out, "native");
    list(&mut out, "allow", &policy.native.allow, native_spec_text);

    table(&mut out, "imports");
    list(&mut out, "deny", &policy.imports.deny, String::clone);

    table(&mut out, "code");
    switch(&mut out, "exec", &policy.code_exec);

    table(&mut out, "interpreter");
    switch(&mut out, "mutation", &policy.interpreter_mutation);

    table(&mut out, "trace");
    let _ = writeln!(out, "enabled = {}", policy.trace.enabled);
    match &policy.trace.file {
        Some(file) => {
            let _ = writeln!(out, "file = {}", quote(&file.display().to_string()));
        }
        None => out.push_str("# file: not set, trace lines go to stderr only\n"),
    }
    out
}

fn table(out: &mut String, name: &str) {
    let _ = write!(out, "\n[{name}]\n");
}

fn list<T>(out: &mut String, key: &str, rules: &[Rule<T>], text: impl Fn(&T) -> String) {
    if rules.is_empty() {
        let _ = writeln!(out, "{key} = []");
        return;
    }
    let _ = writeln!(out, "{key} = [");
    for rule in rules {
        let _ = writeln!(
            out,
            "    {},  # {}",
            quote(&text(&rule.value)),
            comment(&rule.origin)
        );
    }
    out.push_str("]\n");
}

fn switch(out: &mut String, key: &str, switch: &Switch) {
    let _ = writeln!(
        out,
        "{key} = {}  # {}",
        switch.allowed,
        comment(&switch.origin)
    );
}

/// Append one line, with control characters made harmless.
fn line(out: &mut String, text: &str) {
    out.extend(text.chars().map(|c| if c.is_control() { '?' } else { c }));
    out.push('\n');
}

/// An origin as comment text: a newline in a flag value must not end the comment early.
fn comment(origin: &Origin) -> String {
    origin
        .to_string()
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::merge::{resolve_with, PolicyFlag, PolicyRequest};
    use crate::policy::testutil::TempDir;
    use crate::policy::values::Lookup;
    use indoc::indoc;

    /// Values only: origins and `allow_all` change on a round trip by design.
    fn values(policy: &Policy) -> String {
        let strip = |text: String| {
            text.lines()
                .map(|l| l.split("  #").next().unwrap_or("").trim_end().to_string())
                .filter(|l| !l.starts_with('#') && !l.starts_with("allow-all"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        strip(render(policy))
    }

    fn tool_world(label: &str) -> (TempDir, Lookup) {
        let dir = TempDir::new(label);
        let tool = dir.write("bin/tool", "#!/bin/sh\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let lookup = Lookup {
            home: None,
            path: Some(dir.path().join("bin").into_os_string()),
        };
        (dir, lookup)
    }

    #[test]
    fn render_round_trips() {
        let (dir, lookup) = tool_world("render");
        let file = dir.write(
            "conf/p.toml",
            indoc! {r#"
                [network]
                allow = ["Example.com:443", "10.1.2.3/8", "[::1]:8080", "fd00::/8", "*:22"]
                deny = ["169.254.169.254"]
                [filesystem]
                read = ["data", "we \"quote\" \\ back"]
                write = ["out"]
                deny = ["data/secret"]
                [subprocess]
                allow = ["tool"]
                [environment]
                allow = ["HOME", "AWS_*"]
                [native]
                allow = ["numpy"]
                [imports]
                deny = ["pickle"]
                [code]
                exec = false
                [interpreter]
                mutation = false
                [trace]
                enabled = true
                file = "trace.log"
            "#},
        );
        let requests = [
            PolicyRequest {
                file: Some(file.clone()),
                // A newline in a flag value must not break the comment or the string.
                flags: vec![
                    PolicyFlag::AllowLocalhost,
                    PolicyFlag::AllowRead("odd\nname".into()),
                ],
                ..PolicyRequest::default()
            },
            PolicyRequest {
                allow_all: true,
                flags: vec![PolicyFlag::NoNetwork, PolicyFlag::FsReadonly(None)],
                ..PolicyRequest::default()
            },
            PolicyRequest {
                profiles: vec!["block-all".into()],
                ..PolicyRequest::default()
            },
            PolicyRequest::default(),
        ];
        for (i, request) in requests.iter().enumerate() {
            let policy = resolve_with(request, dir.path(), &lookup).expect("valid");
            let text = render(&policy);
            let again_file = dir.write(&format!("rendered-{i}.toml"), &text);
            let again = resolve_with(
                &PolicyRequest {
                    file: Some(again_file),
                    ..PolicyRequest::default()
                },
                dir.path(),
                &lookup,
            )
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
            // `safe-set = false` makes the printed environment exact, the safe set's
            // removal included.
            assert_eq!(values(&again), values(&policy), "request {i}:\n{text}");
            assert_eq!(again.trace, policy.trace);
        }
    }

    #[test]
    fn render_shows_every_key_and_origin() {
        let (dir, lookup) = tool_world("render-show");
        let request = PolicyRequest {
            flags: vec![PolicyFlag::NoNetwork, PolicyFlag::AllowLocalhost],
            ..PolicyRequest::default()
        };
        let policy = resolve_with(&request, dir.path(), &lookup).expect("valid");
        let text = render(&policy);
        let expected = indoc! {r#"
            allow-all = false  # built-in default: deny everything world-touching

            [network]
            allow = [
                "localhost",  # flag --allow-localhost
            ]
            deny = []

            [filesystem]
            read = []
            write = []
            deny = []

            [subprocess]
            allow = []

            [environment]
            allow = [
                "PATH",  # built-in default
                "LANG",  # built-in default
                "LANGUAGE",  # built-in default
                "LC_*",  # built-in default
                "TERM",  # built-in default
                "TZ",  # built-in default
                "TMPDIR",  # built-in default
            ]
            safe-set = false  # the safe set's names, where granted, are listed above

            [native]
            allow = []

            [imports]
            deny = []

            [code]
            exec = true  # built-in default

            [interpreter]
            mutation = true  # built-in default

            [trace]
            enabled = false
            # file: not set, trace lines go to stderr only
        "#};
        let body = text
            .split_once("\n\n")
            .map(|(_, body)| body)
            .unwrap_or_default();
        assert_eq!(body, expected);
        assert!(text.starts_with("# The effective hermetic-python policy"));
        assert!(text.contains("# Policy file: none\n"));
        assert!(text.contains("site-packages"));
    }

    #[test]
    fn quoting() {
        let table: &[(&str, &str)] = &[
            ("plain", "\"plain\""),
            ("a\"b", "\"a\\\"b\""),
            ("a\\b", "\"a\\\\b\""),
            ("a\nb", "\"a\\nb\""),
            ("\u{1}", "\"\\u0001\""),
            ("é", "\"é\""),
        ];
        for (input, expected) in table {
            assert_eq!(quote(input), *expected);
            let parsed: toml::Value = toml::from_str(&format!("k = {expected}")).expect("toml");
            assert_eq!(parsed.get("k").and_then(|v| v.as_str()), Some(*input));
        }
    }
}
