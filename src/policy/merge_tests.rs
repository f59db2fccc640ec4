//! Tables for the merge order written down in `merge.rs`.

use std::fs;
use std::path::Path;

use indoc::indoc;

use super::*;
use crate::policy::testutil::TempDir;
use crate::policy::values::{env_spec_text, host_grant_text, native_spec_text, program_spec_text};
use crate::policy::Trace;

/// A folder with a `bin/tool` program on its own PATH, so tests do not depend on the host.
struct World {
    dir: TempDir,
    lookup: Lookup,
}

impl World {
    fn new(label: &str) -> Self {
        let dir = TempDir::new(label);
        let tool = dir.write("bin/tool", "#!/bin/sh\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let lookup = Lookup {
            home: Some(dir.path().join("home").into_os_string()),
            path: Some(dir.path().join("bin").into_os_string()),
        };
        World { dir, lookup }
    }

    fn resolve(
        &self,
        file: Option<&str>,
        profiles: &[&str],
        flags: &[PolicyFlag],
    ) -> Result<Policy, PolicyError> {
        let request = PolicyRequest {
            file: file.map(|text| self.dir.write("conf/policy.toml", text)),
            profiles: profiles.iter().map(|p| p.to_string()).collect(),
            flags: flags.to_vec(),
            ..PolicyRequest::default()
        };
        resolve_with(&request, self.dir.path(), &self.lookup)
    }

    /// `{dir}` in expected values stands for the temporary folder.
    fn expand(&self, expected: &[&str]) -> Vec<String> {
        let dir = self.dir.path().display().to_string();
        expected.iter().map(|e| e.replace("{dir}", &dir)).collect()
    }
}

/// The values of a policy as canonical strings, list by list.
#[derive(Debug, PartialEq)]
struct Summary {
    net: Vec<String>,
    read: Vec<String>,
    write: Vec<String>,
    run: Vec<String>,
    env: Vec<String>,
    native: Vec<String>,
    deny_imports: Vec<String>,
    code_exec: bool,
    mutation: bool,
}

fn texts<T>(rules: &[Rule<T>], show: impl Fn(&T) -> String) -> Vec<String> {
    rules.iter().map(|r| show(&r.value)).collect()
}

fn summary(policy: &Policy) -> Summary {
    let path = |p: &PathBuf| p.display().to_string();
    Summary {
        net: texts(&policy.network.allow, host_grant_text),
        read: texts(&policy.filesystem.read, path),
        write: texts(&policy.filesystem.write, path),
        run: texts(&policy.subprocess.allow, program_spec_text),
        env: texts(&policy.environment.allow, env_spec_text),
        native: texts(&policy.native.allow, native_spec_text),
        deny_imports: texts(&policy.imports.deny, String::clone),
        code_exec: policy.code_exec.allowed,
        mutation: policy.interpreter_mutation.allowed,
    }
}

const SAFE: &[&str] = &["PATH", "LANG", "LANGUAGE", "LC_*", "TERM", "TZ", "TMPDIR"];
const WRAPPERS: &[&str] = &["sh", "pexpect", "plumbum", "sarge", "delegator"];

/// The expected policy of one case; unspecified lists are those of the plain base.
#[derive(Clone, Copy)]
struct Expect {
    net: &'static [&'static str],
    read: &'static [&'static str],
    write: &'static [&'static str],
    run: &'static [&'static str],
    env: &'static [&'static str],
    native: &'static [&'static str],
    deny_imports: &'static [&'static str],
    code_exec: bool,
    mutation: bool,
}

const BASE: Expect = Expect {
    net: &[],
    read: &[],
    write: &[],
    run: &[],
    env: SAFE,
    native: &[],
    deny_imports: &[],
    code_exec: true,
    mutation: true,
};

const ALL_ENV: &[&str] = &[
    "PATH", "LANG", "LANGUAGE", "LC_*", "TERM", "TZ", "TMPDIR", "*",
];

const ALLOW_ALL: Expect = Expect {
    net: &["*"],
    read: &["/"],
    write: &["/"],
    run: &["*"],
    env: ALL_ENV,
    native: &["*"],
    ..BASE
};

fn flag(text: &str) -> PolicyFlag {
    use PolicyFlag::*;
    let (name, value) = match text.split_once('=') {
        Some((name, value)) => (name, Some(value.to_string())),
        None => (text, None),
    };
    let needs = |v: Option<String>| v.unwrap_or_else(|| panic!("{text} needs a value"));
    match name {
        "--allow-net" => AllowNet(value),
        "--allow-read" => AllowRead(needs(value)),
        "--allow-write" => AllowWrite(needs(value)),
        "--allow-env" => AllowEnv(value),
        "--allow-run" => AllowRun(value),
        "--allow-native" => AllowNative(value),
        "--no-network" => NoNetwork,
        "--allow-localhost" => AllowLocalhost,
        "--allow-domain" => AllowDomain(needs(value)),
        "--no-subprocess" => NoSubprocess,
        "--fs-readonly" => FsReadonly(value),
        "--no-environment" => NoEnvironment,
        "--no-code-exec" => NoCodeExec,
        "--deny-import" => DenyImport(needs(value)),
        "--no-interpreter-mutation" => NoInterpreterMutation,
        "--block-native" => BlockNative,
        _ => panic!("unknown test flag {text}"),
    }
}

const FILE_FS: &str = indoc! {r#"
    [filesystem]
    read = ["data"]
    write = ["out"]
"#};

const FILE_EXEC_OFF: &str = indoc! {r#"
    [code]
    exec = false
    [imports]
    deny = ["pickle", "marshal"]
"#};

const FILE_NET_ENV: &str = indoc! {r#"
    [network]
    allow = ["example.com"]
    [environment]
    allow = ["HOME", "PATH"]
    [subprocess]
    allow = ["tool"]
"#};

const FILE_ALLOW_ALL: &str = "allow-all = true\n";

/// (policy file text, profiles, flags, `--allow-all`, expected policy)
type MergeCase = (
    Option<&'static str>,
    &'static [&'static str],
    &'static [&'static str],
    bool,
    Expect,
);

/// (policy file text, profiles, flags, expected start of the error message)
type ErrorCase = (
    Option<&'static str>,
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
);

#[test]
fn merge_order_table() {
    let world = World::new("merge");
    let table: &[MergeCase] = &[
        (None, &[], &[], false, BASE),
        (
            None,
            &[],
            &["--no-network", "--allow-localhost"],
            false,
            Expect {
                net: &["localhost"],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--allow-localhost", "--no-network"],
            false,
            Expect {
                net: &["localhost"],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--no-network"],
            true,
            Expect {
                net: &[],
                ..ALLOW_ALL
            },
        ),
        (None, &[], &[], true, ALLOW_ALL),
        (
            Some(FILE_ALLOW_ALL),
            &[],
            &["--no-subprocess"],
            false,
            Expect {
                run: &[],
                ..ALLOW_ALL
            },
        ),
        (
            Some(FILE_FS),
            &[],
            &[],
            false,
            Expect {
                read: &["{dir}/conf/data"],
                write: &["{dir}/conf/out"],
                ..BASE
            },
        ),
        (
            Some(FILE_FS),
            &[],
            &["--fs-readonly={dir}/root"],
            false,
            Expect {
                read: &["{dir}/root"],
                ..BASE
            },
        ),
        (
            Some(FILE_FS),
            &[],
            &["--fs-readonly=a,b"],
            false,
            Expect {
                read: &["{dir}/a", "{dir}/b"],
                ..BASE
            },
        ),
        (
            Some(FILE_FS),
            &[],
            &["--fs-readonly"],
            false,
            Expect {
                read: &["{dir}/conf/data", "/"],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--fs-readonly", "--fs-readonly=root"],
            false,
            Expect {
                read: &["{dir}/root"],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--allow-write=out", "--fs-readonly"],
            false,
            Expect {
                read: &["/"],
                write: &["{dir}/out"],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--fs-readonly"],
            true,
            Expect {
                write: &[],
                ..ALLOW_ALL
            },
        ),
        (
            None,
            &["block-all"],
            &[],
            false,
            Expect {
                env: &[],
                read: &["/"],
                deny_imports: WRAPPERS,
                code_exec: false,
                mutation: false,
                ..BASE
            },
        ),
        (
            None,
            &["block-all"],
            &["--allow-localhost", "--allow-env=HOME"],
            true,
            Expect {
                net: &["localhost"],
                read: &["/"],
                write: &[],
                run: &[],
                env: &["HOME"],
                native: &[],
                deny_imports: WRAPPERS,
                code_exec: false,
                mutation: false,
            },
        ),
        (
            None,
            &[],
            &["--block-native", "--no-subprocess"],
            false,
            Expect {
                deny_imports: WRAPPERS,
                ..BASE
            },
        ),
        (
            None,
            &["exec-deny"],
            &["--block-native"],
            false,
            Expect {
                deny_imports: WRAPPERS,
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--block-native"],
            true,
            Expect {
                native: &[],
                ..ALLOW_ALL
            },
        ),
        (
            None,
            &[],
            &["--no-subprocess"],
            true,
            Expect {
                run: &[],
                ..ALLOW_ALL
            },
        ),
        (
            Some(FILE_NET_ENV),
            &["net-hermetic"],
            &[],
            false,
            Expect {
                net: &["localhost"],
                env: &[
                    "PATH", "LANG", "LANGUAGE", "LC_*", "TERM", "TZ", "TMPDIR", "HOME",
                ],
                run: &["{dir}/bin/tool"],
                ..BASE
            },
        ),
        (
            Some(FILE_NET_ENV),
            &["exec-deny"],
            &["--allow-run=tool"],
            false,
            Expect {
                net: &["example.com"],
                env: &[
                    "PATH", "LANG", "LANGUAGE", "LC_*", "TERM", "TZ", "TMPDIR", "HOME",
                ],
                run: &["{dir}/bin/tool"],
                ..BASE
            },
        ),
        (
            Some(FILE_NET_ENV),
            &[],
            &["--no-environment"],
            false,
            Expect {
                net: &["example.com"],
                env: &[],
                run: &["{dir}/bin/tool"],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--no-environment", "--allow-env=HOME,AWS_*"],
            false,
            Expect {
                env: &["HOME", "AWS_*"],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--allow-env"],
            false,
            Expect {
                env: ALL_ENV,
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--allow-env=PATH,X"],
            false,
            Expect {
                env: &[
                    "PATH", "LANG", "LANGUAGE", "LC_*", "TERM", "TZ", "TMPDIR", "X",
                ],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--allow-net"],
            false,
            Expect {
                net: &["*"],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &[
                "--allow-net=Example.com:443,10.1.0.0/16,[::1]:8080",
                "--allow-domain=api.example.org",
            ],
            false,
            Expect {
                net: &[
                    "example.com:443",
                    "10.1.0.0/16",
                    "[::1]:8080",
                    "api.example.org",
                ],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--allow-net=localhost", "--allow-localhost"],
            false,
            Expect {
                net: &["localhost"],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--allow-run", "--allow-run=tool"],
            false,
            Expect {
                run: &["*", "{dir}/bin/tool"],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--allow-native", "--allow-native=numpy"],
            false,
            Expect {
                native: &["*", "numpy"],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--allow-read=~/notes,./x/../y", "--allow-write=/"],
            false,
            Expect {
                read: &["{dir}/home/notes", "{dir}/y"],
                write: &["/"],
                ..BASE
            },
        ),
        (
            Some(FILE_EXEC_OFF),
            &[],
            &["--no-code-exec"],
            false,
            Expect {
                code_exec: false,
                deny_imports: &["pickle", "marshal"],
                ..BASE
            },
        ),
        (
            Some(FILE_EXEC_OFF),
            &[],
            &["--deny-import=pickle,xml.etree"],
            false,
            Expect {
                code_exec: false,
                deny_imports: &["pickle", "marshal", "xml.etree"],
                ..BASE
            },
        ),
        (
            None,
            &[],
            &["--no-interpreter-mutation"],
            false,
            Expect {
                mutation: false,
                ..BASE
            },
        ),
    ];
    for (file, profiles, flags, allow_all, expected) in table {
        let request = PolicyRequest {
            allow_all: *allow_all,
            file: file.map(|text| world.dir.write("conf/policy.toml", text)),
            profiles: profiles.iter().map(|p| p.to_string()).collect(),
            flags: world.expand(flags).iter().map(|f| flag(f)).collect(),
            ..PolicyRequest::default()
        };
        let policy = resolve_with(&request, world.dir.path(), &world.lookup)
            .unwrap_or_else(|e| panic!("{request:?}: {e}"));
        let want = Summary {
            net: world.expand(expected.net),
            read: world.expand(expected.read),
            write: world.expand(expected.write),
            run: world.expand(expected.run),
            env: world.expand(expected.env),
            native: world.expand(expected.native),
            deny_imports: world.expand(expected.deny_imports),
            code_exec: expected.code_exec,
            mutation: expected.mutation,
        };
        assert_eq!(
            summary(&policy),
            want,
            "file {file:?}, profiles {profiles:?}, flags {flags:?}, allow-all {allow_all}"
        );
    }
}

#[test]
fn origins_follow_the_source() {
    let world = World::new("origins");
    let flags = [
        flag("--no-network"),
        flag("--allow-net=localhost"),
        flag("--block-native"),
        flag("--allow-env=PATH"),
    ];
    let policy = world.resolve(None, &["exec-deny"], &flags).expect("valid");
    assert_eq!(policy.allow_all, None);
    assert_eq!(
        policy.network.allow[0].origin,
        Origin::Flag("--allow-net=localhost".into())
    );
    // PATH is in the safe set already: the duplicate keeps the first origin.
    assert_eq!(
        policy.environment.allow[0].value,
        EnvSpec::Name("PATH".into())
    );
    assert_eq!(policy.environment.allow[0].origin, Origin::Default);
    assert_eq!(policy.environment.allow.len(), SAFE_ENV.len());
    // The wrapper denies cite --block-native, the flag that completed the pair.
    assert!(policy
        .imports
        .deny
        .iter()
        .all(|rule| rule.origin == Origin::Flag("--block-native".into())));

    let policy = world
        .resolve(None, &["block-all"], &[flag("--no-code-exec")])
        .expect("valid");
    let profile = Origin::Profile("block-all".into());
    assert_eq!(policy.code_exec.origin, profile);
    assert_eq!(policy.interpreter_mutation.origin, profile);
    assert_eq!(policy.filesystem.read[0].origin, profile);
    assert!(policy
        .imports
        .deny
        .iter()
        .all(|rule| rule.origin == profile));

    let policy = world
        .resolve(Some(FILE_EXEC_OFF), &[], &[flag("--no-code-exec")])
        .expect("valid");
    let file = world.dir.path().join("conf/policy.toml");
    assert_eq!(
        policy.code_exec,
        Switch {
            allowed: false,
            origin: Origin::File {
                path: file.clone(),
                key: "code.exec".into(),
                line: 2
            },
        }
    );
    assert_eq!(policy.file, Some(file));

    let request = PolicyRequest {
        allow_all: true,
        ..PolicyRequest::default()
    };
    let policy = resolve_with(&request, world.dir.path(), &world.lookup).expect("valid");
    let flag_origin = Origin::Flag("--allow-all".into());
    assert_eq!(policy.allow_all, Some(flag_origin.clone()));
    assert_eq!(policy.native.allow[0].origin, flag_origin);

    let policy = world
        .resolve(Some(FILE_ALLOW_ALL), &[], &[])
        .expect("valid");
    let file_origin = Origin::File {
        path: world.dir.path().join("conf/policy.toml"),
        key: "allow-all".into(),
        line: 1,
    };
    assert_eq!(policy.allow_all, Some(file_origin.clone()));
    assert_eq!(policy.network.allow[0].origin, file_origin);
    // Deny lists survive every restriction and grant.
    let policy = world
        .resolve(
            Some("[network]\ndeny = [\"169.254.169.254\"]\n"),
            &[],
            &[flag("--allow-net")],
        )
        .expect("valid");
    assert_eq!(
        texts(&policy.network.deny, host_grant_text),
        ["169.254.169.254"]
    );
}

#[test]
fn trace_settings() {
    let world = World::new("trace");
    let file = "[trace]\nenabled = true\nfile = \"trace.log\"\n";
    let policy = world.resolve(Some(file), &[], &[]).expect("valid");
    assert!(policy.trace.enabled);
    assert_eq!(
        policy.trace.file,
        Some(world.dir.path().join("conf/trace.log"))
    );

    let request = PolicyRequest {
        trace: true,
        trace_file: Some(PathBuf::from("logs/t.log")),
        file: Some(
            world
                .dir
                .write("conf/policy.toml", "[trace]\nfile = \"trace.log\"\n"),
        ),
        ..PolicyRequest::default()
    };
    let policy = resolve_with(&request, world.dir.path(), &world.lookup).expect("valid");
    assert!(policy.trace.enabled);
    assert_eq!(policy.trace.file, Some(world.dir.path().join("logs/t.log")));

    let policy = world.resolve(None, &[], &[]).expect("valid");
    assert_eq!(policy.trace, Trace::default());
}

/// What a refusal's message names as the source of the policy: the file, and whether the
/// command line (`--allow-all`, profiles, policy flags; not `--trace`) shaped the grants.
#[test]
fn the_policy_knows_its_sources() {
    let world = World::new("sources");
    let file = world.dir.write("conf/policy.toml", FILE_FS);
    let sealed = || Some("[network]\nallow = []\n".to_string());
    let table: Vec<(&str, PolicyRequest, Option<PathBuf>, bool)> = vec![
        ("nothing", PolicyRequest::default(), None, false),
        (
            "--trace and --trace-file grant nothing",
            PolicyRequest {
                trace: true,
                trace_file: Some(PathBuf::from("t.log")),
                ..PolicyRequest::default()
            },
            None,
            false,
        ),
        (
            "a grant flag",
            PolicyRequest {
                flags: vec![flag("--allow-read=/tmp")],
                ..PolicyRequest::default()
            },
            None,
            true,
        ),
        (
            "a seed flag",
            PolicyRequest {
                flags: vec![flag("--no-network")],
                ..PolicyRequest::default()
            },
            None,
            true,
        ),
        (
            "a profile",
            PolicyRequest {
                profiles: vec!["net-hermetic".into()],
                ..PolicyRequest::default()
            },
            None,
            true,
        ),
        (
            "--allow-all",
            PolicyRequest {
                allow_all: true,
                ..PolicyRequest::default()
            },
            None,
            true,
        ),
        (
            "a file",
            PolicyRequest {
                file: Some(file.clone()),
                ..PolicyRequest::default()
            },
            Some(file.clone()),
            false,
        ),
        (
            "a file and a flag",
            PolicyRequest {
                file: Some(file.clone()),
                flags: vec![flag("--allow-localhost")],
                ..PolicyRequest::default()
            },
            Some(file.clone()),
            true,
        ),
        (
            "a sealed parent policy",
            PolicyRequest {
                sealed: sealed(),
                ..PolicyRequest::default()
            },
            Some(PathBuf::from(SEALED_NAME)),
            false,
        ),
        (
            "a sealed parent policy, narrowed by a flag",
            PolicyRequest {
                sealed: sealed(),
                flags: vec![flag("--no-subprocess")],
                ..PolicyRequest::default()
            },
            Some(PathBuf::from(SEALED_NAME)),
            true,
        ),
    ];
    for (label, request, file, command_line) in table {
        let policy = resolve_with(&request, world.dir.path(), &world.lookup).expect(label);
        assert_eq!(
            (policy.file, policy.command_line),
            (file, command_line),
            "{label}"
        );
    }
}

#[test]
fn errors_are_one_line_and_name_the_source() {
    let world = World::new("errors");
    let table: &[ErrorCase] = &[
        (
            None,
            &["foo"],
            &[],
            "--profile foo: unknown profile (known: block-all, net-hermetic, exec-deny, fs-readonly, block-native)",
        ),
        (
            None,
            &[],
            &["--allow-net=exa mple.com"],
            "--allow-net=exa mple.com: `exa mple.com`: ` ` is not allowed in a host name; use letters, digits, `-`, `_` and `.`",
        ),
        (None, &[], &["--allow-net="], "--allow-net=: empty host"),
        (None, &[], &["--allow-net=a.com,,b.com"], "--allow-net=a.com,,b.com: empty entry in the comma-separated list"),
        (None, &[], &["--allow-net=a.com:0"], "--allow-net=a.com:0: `a.com:0`: invalid port `0`, expected a number from 1 to 65535"),
        (
            None,
            &[],
            &["--allow-domain=10.0.0.1"],
            "--allow-domain=10.0.0.1: `10.0.0.1` is not a domain name; use --allow-net for `*` and IP addresses",
        ),
        (None, &[], &["--allow-run=nosuch"], "--allow-run=nosuch: program `nosuch` not found in PATH"),
        (None, &[], &["--allow-env=A-B"], "--allow-env=A-B: invalid environment variable `A-B`: expected"),
        (None, &[], &["--allow-native=a-b"], "--allow-native=a-b: invalid module name `a-b`"),
        (None, &[], &["--deny-import=a.*"], "--deny-import=a.*: invalid module name `a.*`"),
        (None, &[], &["--allow-read=~x"], "--allow-read=~x: `~x`: only `~/` is expanded"),
        (None, &[], &["--fs-readonly="], "--fs-readonly=: empty path"),
        (
            Some("[network]\nallow = [\n  \"a.com:99999\",\n]\n"),
            &[],
            &[],
            "conf/policy.toml:3:3: network.allow: `a.com:99999`: invalid port `99999`",
        ),
        (Some("[network]\nallw = []\n"), &[], &[], "conf/policy.toml:2:1: unknown field `allw`, expected `allow` or `deny`"),
        (Some("[trace]\nenabled = 1\n"), &[], &[], "conf/policy.toml:2:11: invalid type: integer `1`, expected a boolean"),
    ];
    for (file, profiles, flags, expected) in table {
        let request = PolicyRequest {
            file: file.map(|text| {
                world.dir.write("conf/policy.toml", text);
                PathBuf::from("conf/policy.toml")
            }),
            profiles: profiles.iter().map(|p| p.to_string()).collect(),
            flags: flags.iter().map(|f| flag(f)).collect(),
            ..PolicyRequest::default()
        };
        let error = resolve_with(&request, world.dir.path(), &world.lookup).expect_err(expected);
        assert!(
            error.message.starts_with(expected),
            "\n got: {}\nwant: {expected}",
            error.message
        );
        assert!(!error.message.contains('\n'));
    }

    let request = PolicyRequest {
        file: Some(PathBuf::from("missing.toml")),
        ..PolicyRequest::default()
    };
    let error = resolve_with(&request, world.dir.path(), &world.lookup).expect_err("missing");
    assert!(
        error.message.starts_with("missing.toml: cannot read: "),
        "{}",
        error.message
    );
}

#[test]
fn resolve_reads_the_process_environment() {
    // `resolve` itself: no file, no flags, so HOME and PATH do not matter.
    let policy = resolve(&PolicyRequest::default(), Path::new("/")).expect("valid");
    assert_eq!(texts(&policy.environment.allow, env_spec_text), SAFE);
}
