//! The environment capability: what is not granted is gone from every place a script
//! could read it, and writes follow the same grants.

mod common;

use common::{hermetic_bin, run_in, temp_dir};

const SECRET: &str = "s3cr3t-value-4711";

/// Every way to read a variable, printed as `where value`.
fn readers(name: &str) -> String {
    format!(
        r#"
import os, posix, sys
name = "{name}"
def show(where, read):
    try:
        value = read()
    except PermissionError:
        value = "denied"
    except Exception as e:
        value = type(e).__name__
    print(where, value)
show("os.environ", lambda: os.environ.get(name))
show("os.getenv", lambda: os.getenv(name))
show("posix.environ", lambda: posix.environ.get(name.encode()))
show("os.environb", lambda: os.environb.get(name.encode()))
show("dict", lambda: dict(os.environ).get(name))
show("/proc/self/environ", lambda: name in open("/proc/self/environ").read())
show("/proc/ppid/environ", lambda: name in open(f"/proc/{{os.getppid()}}/environ").read())
"#
    )
}

fn run_with(args: &[&str], code: &str) -> common::Run {
    let dir = temp_dir("env");
    let mut all = args.to_vec();
    all.extend_from_slice(&["-c", code]);
    run_in(
        &hermetic_bin(),
        &all,
        None,
        Some(&dir),
        &[("SECRET_TOKEN", SECRET), ("APP_MODE", "blue")],
    )
}

#[test]
fn a_secret_is_unreadable_by_default() {
    let run = run_with(&[], &readers("SECRET_TOKEN"));
    assert_eq!(
        run.stdout,
        "os.environ None\nos.getenv None\nposix.environ None\nos.environb None\ndict None\n\
         /proc/self/environ denied\n/proc/ppid/environ denied\n",
        "{}",
        run.dump()
    );
    assert!(!run.stdout.contains(SECRET) && !run.stderr.contains(SECRET));
}

#[test]
fn a_granted_variable_is_readable_everywhere_python_looks() {
    let run = run_with(&["--allow-env=SECRET_TOKEN"], &readers("SECRET_TOKEN"));
    let expected = format!(
        "os.environ {SECRET}\nos.getenv {SECRET}\nposix.environ b'{SECRET}'\nos.environb b'{SECRET}'\ndict {SECRET}\n\
         /proc/self/environ denied\n/proc/ppid/environ denied\n"
    );
    assert_eq!(run.stdout, expected, "{}", run.dump());
}

#[test]
fn prefix_grants_and_the_safe_set() {
    let code = "import os\nprint(os.environ.get('APP_MODE'), 'PATH' in os.environ, os.environ.get('SECRET_TOKEN'))\n";
    assert_eq!(
        run_with(&["--allow-env=APP_*"], code).stdout,
        "blue True None\n"
    );
    assert_eq!(run_with(&[], code).stdout, "None True None\n");
    assert_eq!(run_with(&["--no-env"], code).stdout, "None False None\n");
}

#[test]
fn a_child_process_sees_only_the_granted_environment() {
    let code = "import subprocess\nprint(subprocess.run(['/usr/bin/env'], capture_output=True, text=True).stdout, end='')\n";
    let run = run_with(&["--allow-run=/usr/bin/env"], code);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(!run.stdout.contains(SECRET), "{}", run.dump());
    assert!(!run.stdout.contains("APP_MODE"), "{}", run.dump());
    assert!(run.stdout.contains("PATH="), "{}", run.dump());
    let run = run_with(
        &["--allow-run=/usr/bin/env", "--allow-env=SECRET_TOKEN"],
        code,
    );
    assert!(
        run.stdout.contains(&format!("SECRET_TOKEN={SECRET}")),
        "{}",
        run.dump()
    );
}

#[test]
fn writes_follow_the_grants() {
    let code = r#"
import os
for name in ("APP_NEW", "OTHER"):
    try:
        os.environ[name] = "x"
        print(name, "set", os.environ[name])
    except PermissionError:
        print(name, "denied", name in os.environ)
try:
    os.unsetenv("PATH")
    print("unset PATH ok")
except PermissionError:
    print("unset PATH denied")
"#;
    let run = run_with(&["--allow-env=APP_*"], code);
    assert_eq!(
        run.stdout,
        "APP_NEW set x\nOTHER denied False\nunset PATH ok\n",
        "{}",
        run.dump()
    );
    assert!(run.stderr.is_empty(), "{}", run.dump());
}
