//! Hermetic's own command line: options, policy errors, exit codes, the default policy,
//! `--print-policy`, `HERMETIC_POLICY`, `--trace` and `--trace-file`.

mod common;

use common::{hermetic, hermetic_bin, run_in, temp_dir, write};

#[test]
fn version_names_the_embedded_cpython() {
    let run = hermetic(&["--version"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.starts_with(&format!(
            "hermetic-python {} (CPython ",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        run.dump()
    );
    assert!(run.stdout.contains("prefix /"), "{}", run.dump());
}

#[test]
fn help_lists_the_seed_flags() {
    let run = hermetic(&["--help"]);
    assert_eq!(run.code, 0, "{}", run.dump());
    for flag in [
        "--no-network",
        "--allow-localhost",
        "--allow-domain",
        "--no-subprocess",
        "--fs-readonly",
        "--no-environment",
        "--no-env",
        "--no-code-exec",
        "--deny-import",
        "--no-interpreter-mutation",
        "--block-native",
        "--profile",
        "--seal",
        "--trace",
        "--trace-file",
        "--allow-net",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-run",
        "--allow-native",
        "--allow-all",
        "--policy",
        "--print-policy",
    ] {
        assert!(run.stdout.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn a_misspelt_option_is_one_line_and_exit_2() {
    let run = hermetic(&["--allow-nett=x", "-c", "pass"]);
    assert_eq!(run.code, 2, "{}", run.dump());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.dump());
    assert!(
        run.stderr
            .starts_with("hermetic: usage error: unexpected argument '--allow-nett'"),
        "{}",
        run.dump()
    );
    assert!(
        run.stderr.contains("--allow-net"),
        "suggests the right flag: {}",
        run.dump()
    );
}

#[test]
fn a_bad_flag_value_is_a_policy_error() {
    let run = hermetic(&["--allow-net=exa mple.com", "-c", "pass"]);
    assert_eq!(run.code, 2, "{}", run.dump());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.dump());
    assert!(
        run.stderr
            .starts_with("hermetic: policy error: --allow-net=exa mple.com: "),
        "{}",
        run.dump()
    );
    let run = hermetic(&["--profile", "nope", "-c", "pass"]);
    assert_eq!(run.code, 2, "{}", run.dump());
}

#[test]
fn policy_file_errors_carry_file_line_and_column() {
    let dir = temp_dir("policy-errors");
    let cases = [
        (
            "unknown.toml",
            "[network]\nallow = [\"localhost\"]\nalow = []\n",
            "unknown.toml:3:1: ",
        ),
        ("table.toml", "[netwrok]\nallow = []\n", "table.toml:1:2: "),
        ("type.toml", "[code]\nexec = \"no\"\n", "type.toml:2:8: "),
        (
            "host.toml",
            "[network]\nallow = [\"localhost:99999\"]\n",
            "host.toml:2:10: ",
        ),
        ("syntax.toml", "[network\n", "syntax.toml:1:9: "),
    ];
    for (name, body, prefix) in cases {
        let path = write(&dir, name, body);
        let run = run_in(
            &hermetic_bin(),
            &["--policy", path.to_str().unwrap(), "-c", "print('ran')"],
            None,
            None,
            &[],
        );
        assert_eq!(run.code, 2, "{name}: {}", run.dump());
        assert_eq!(run.stdout, "", "{name}: nothing ran");
        assert_eq!(run.stderr.lines().count(), 1, "{name}: {}", run.dump());
        let expected = format!("hermetic: policy error: {}", dir.join(prefix).display());
        assert!(
            run.stderr.starts_with(&expected),
            "{name}: expected {expected}\n{}",
            run.dump()
        );
    }
    let run = hermetic(&["--policy", "/nonexistent/p.toml", "-c", "pass"]);
    assert_eq!(run.code, 2, "{}", run.dump());
    assert!(
        run.stderr
            .starts_with("hermetic: policy error: /nonexistent/p.toml: cannot read: "),
        "{}",
        run.dump()
    );
}

#[test]
fn hermetic_policy_names_the_policy_and_is_hidden_from_the_script() {
    let dir = temp_dir("env-policy");
    let policy = write(&dir, "p.toml", "[imports]\ndeny = [\"json\"]\n");
    let code = "import os\nprint(os.environ.get('HERMETIC_POLICY'))\ntry:\n    import json\nexcept ImportError:\n    print('json denied')\n";
    let run = run_in(
        &hermetic_bin(),
        &["-c", code],
        None,
        None,
        &[("HERMETIC_POLICY", policy.to_str().unwrap())],
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "None\njson denied\n"),
        "{}",
        run.dump()
    );
    let run = run_in(
        &hermetic_bin(),
        &["--allow-env", "-c", code],
        None,
        None,
        &[("HERMETIC_POLICY", policy.to_str().unwrap())],
    );
    assert_eq!(
        run.stdout,
        "None\njson denied\n",
        "hidden even with every variable granted: {}",
        run.dump()
    );
}

#[test]
fn print_policy_shows_the_effective_policy_and_runs_nothing() {
    let run = hermetic(&[
        "--allow-localhost",
        "--no-network",
        "--deny-import",
        "pickle",
        "--print-policy",
        "-c",
        "print('ran')",
    ]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(
        !run.stdout.lines().any(|l| l == "ran"),
        "the target did not run"
    );
    assert!(
        run.stdout
            .contains("\"localhost\",  # flag --allow-localhost"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\"pickle\",  # flag --deny-import=pickle"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("[subprocess]\nallow = []"),
        "{}",
        run.stdout
    );
}

#[test]
fn seal_is_accepted_and_changes_nothing() {
    let with = hermetic(&["--seal", "--print-policy"]);
    let without = hermetic(&["--print-policy"]);
    assert_eq!(with, without);
    let run = hermetic(&["--seal", "-c", "print('sealed')"]);
    assert_eq!(run.stdout, "sealed\n");
}

/// The built-in default policy, as docs/policy.md describes it: each world-touching
/// action is attempted for real and its side effect checked.
#[test]
fn the_default_policy_denies_the_world_and_keeps_the_stdlib() {
    let dir = temp_dir("default");
    let marker = dir.join("marker");
    let outside = temp_dir("default-outside");
    let target = outside.join("written.txt");
    let code = format!(
        r#"
import os, subprocess, socket
def attempt(name, action):
    try:
        action()
        print(name, "ALLOWED")
    except (PermissionError, ImportError):
        print(name, "denied")
attempt("network", lambda: socket.create_connection(("127.0.0.1", 9)))
attempt("subprocess", lambda: subprocess.run(["/bin/sh", "-c", "touch {marker}"]))
attempt("os.system", lambda: os.system("touch {marker}"))
attempt("write", lambda: open("{target}", "w").write("x"))
attempt("native", lambda: __import__("ctypes"))
print("secret", os.environ.get("HERMETIC_TEST_SECRET"), os.getenv("HERMETIC_TEST_SECRET"))
print("path kept", "PATH" in os.environ)
import csv, decimal, hashlib, sqlite3, json, unicodedata, email, asyncio, argparse, logging
print("stdlib ok")
"#,
        marker = marker.display(),
        target = target.display()
    );
    let run = run_in(
        &hermetic_bin(),
        &["-c", &code],
        None,
        Some(&dir),
        &[("HERMETIC_TEST_SECRET", "s3cr3t")],
    );
    assert_eq!(
        run.stdout,
        "network denied\nsubprocess denied\nos.system denied\nwrite denied\nnative denied\nsecret None None\npath kept True\nstdlib ok\n",
        "{}",
        run.dump()
    );
    assert!(!marker.exists(), "a child process ran");
    assert!(!target.exists(), "a file was written");
    assert!(!run.stdout.contains("s3cr3t") && !run.stderr.contains("s3cr3t"));
}

#[test]
fn trace_logs_caught_blocks_and_never_argv_or_environment() {
    let dir = temp_dir("trace");
    let log = dir.join("trace.log");
    let code = "import subprocess, os\ntry:\n    subprocess.run(['/bin/echo', 'SECRET_ARG'], env={'TOKEN': 'SECRET_ENV'})\nexcept PermissionError:\n    pass\ntry:\n    os.environ['TOKEN'] = 'SECRET_VALUE'\nexcept PermissionError:\n    pass\nprint('done')\n";
    let run = run_in(
        &hermetic_bin(),
        &["--trace", "--trace-file", log.to_str().unwrap(), "-c", code],
        None,
        None,
        &[],
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "done\n"),
        "{}",
        run.dump()
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.dump());
    assert!(
        lines[0].starts_with("hermetic: blocked subprocess /"),
        "{}",
        run.dump()
    );
    assert!(
        lines[1].starts_with("hermetic: blocked env TOKEN "),
        "{}",
        run.dump()
    );
    let logged = common::read_trace(&log);
    assert_eq!(logged, run.stderr, "the file holds the same lines");
    for secret in ["SECRET_ARG", "SECRET_ENV", "SECRET_VALUE"] {
        assert!(!logged.contains(secret), "{secret} leaked into the trace");
    }
    // Appends, never truncates.
    run_in(
        &hermetic_bin(),
        &["--trace-file", log.to_str().unwrap(), "-c", code],
        None,
        None,
        &[],
    );
    assert_eq!(common::read_trace(&log).lines().count(), 4);
}

#[test]
fn without_trace_a_caught_block_is_silent() {
    let run = hermetic(&[
        "-c",
        "import os\ntry:\n    os.system('true')\nexcept PermissionError:\n    print('caught')\n",
    ]);
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str()),
        ("caught\n", ""),
        "{}",
        run.dump()
    );
}

/// A refusal names where the policy in force came from: with a grant flag and no policy
/// file, the command line, not the built-in default policy.
#[test]
fn a_refusal_under_flags_names_the_command_line() {
    let code = "open('/etc/hostname')";
    // The message shows the resolved path.
    let path = std::fs::canonicalize("/etc/hostname")
        .unwrap_or_else(|_| "/etc/hostname".into())
        .display()
        .to_string();
    let run = hermetic(&["--allow-read=/tmp", "-c", code]);
    assert_eq!(run.code, 77, "{}", run.dump());
    assert!(
        run.stderr.contains(&format!(
            "hermetic: blocked fs.read {path} (not granted by the policy from the command line)"
        )),
        "{}",
        run.dump()
    );
    assert!(!run.stderr.contains("built-in default"), "{}", run.dump());

    let run = hermetic(&["-c", code]);
    assert_eq!(run.code, 77, "{}", run.dump());
    assert!(
        run.stderr.contains(&format!(
            "hermetic: blocked fs.read {path} (not granted by the built-in default policy)"
        )),
        "without flags it is the built-in default: {}",
        run.dump()
    );
}
