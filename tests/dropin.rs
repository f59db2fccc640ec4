//! hermetic-python behaves as the python it embeds: same output, same exit codes, same
//! tracebacks, for scripts, `-m`, `-c`, stdin and python's own options.

mod common;

use std::path::Path;
use std::process::Command;

use common::{hermetic_bin, python_bin, run_in, temp_dir, write, Run};

/// Run the same command under hermetic-python (with `extra` hermetic options first) and
/// under python, in `dir`, and return both results.
fn both(extra: &[&str], args: &[&str], stdin: Option<&str>, dir: &std::path::Path) -> (Run, Run) {
    let mut hermetic_args: Vec<&str> = extra.to_vec();
    hermetic_args.extend_from_slice(args);
    let ours = run_in(&hermetic_bin(), &hermetic_args, stdin, Some(dir), &[]);
    let theirs = run_in(&python_bin(), args, stdin, Some(dir), &[]);
    (ours, theirs)
}

fn assert_same(extra: &[&str], args: &[&str], stdin: Option<&str>) {
    let dir = temp_dir("dropin");
    write(&dir, "script.py", "import sys\nprint(sys.argv, __name__)\nprint(sys.path[0] == __import__('os').path.dirname(__file__))\n");
    write(&dir, "exits.py", "import sys\nsys.exit(int(sys.argv[1]))\n");
    write(
        &dir,
        "raises.py",
        "def f():\n    raise ValueError('boom')\nf()\n",
    );
    let (ours, theirs) = both(extra, args, stdin, &dir);
    assert_eq!(
        ours,
        theirs,
        "\nhermetic:\n{}\npython:\n{}",
        ours.dump(),
        theirs.dump()
    );
}

#[test]
fn argv_of_c() {
    assert_same(&[], &["-c", "import sys; print(sys.argv)", "a", "b"], None);
}

#[test]
fn a_script_with_arguments() {
    assert_same(&[], &["script.py", "x", "--trace", "-c"], None);
}

#[test]
fn sys_exit_codes_pass_through() {
    for code in ["0", "7", "255"] {
        assert_same(&[], &["exits.py", code], None);
    }
    assert_same(&[], &["-c", "raise SystemExit('message')"], None);
}

#[test]
fn uncaught_exceptions_print_the_same_traceback_and_exit_1() {
    assert_same(&[], &["raises.py"], None);
}

#[test]
fn json_tool_on_stdin() {
    assert_same(
        &[],
        &["-m", "json.tool"],
        Some("{\"b\": [1, 2], \"a\": null}"),
    );
}

#[test]
fn a_program_on_stdin() {
    assert_same(
        &[],
        &["-", "arg"],
        Some("import sys\nprint(sys.argv, __name__)\n"),
    );
}

#[test]
fn python_options_mean_what_they_mean_to_python() {
    let probe = "import sys; print(sys.flags.isolated, sys.flags.ignore_environment, sys.flags.no_user_site, \
                 sys.flags.no_site, sys.flags.dont_write_bytecode, sys.flags.optimize, sys.warnoptions, \
                 sys._xoptions, sys.stdout.line_buffering, sys.flags.warn_default_encoding, \
                 getattr(sys.flags, 'int_max_str_digits', None))";
    for options in [
        &["-I"][..],
        &["-E"],
        &["-s"],
        &["-S"],
        &["-B"],
        &["-u"],
        &["-O"],
        &["-OO"],
        &["-W", "error"],
        &["-X", "dev"],
        &["-X", "utf8"],
        &["-X", "warn_default_encoding"],
        &["-X", "int_max_str_digits=640"],
    ] {
        let mut args: Vec<&str> = options.to_vec();
        args.extend_from_slice(&["-c", probe]);
        assert_same(&[], &args, None);
    }
}

#[test]
fn python_version_and_usage_errors_are_pythons() {
    assert_same(&[], &["-V"], None);
    let dir = temp_dir("usage");
    let (ours, theirs) = both(&[], &["-Z"], None, &dir);
    assert_eq!(ours.code, theirs.code);
    assert_eq!(ours.code, 2);
}

#[test]
fn hermetic_options_do_not_change_the_target() {
    assert_same(
        &["--trace", "--allow-net=localhost"],
        &["-c", "import sys; print(sys.argv)", "--trace"],
        None,
    );
}

#[test]
fn ctrl_c_raises_keyboard_interrupt() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    for program in [hermetic_bin(), python_bin()] {
        // A shell's background job inherits SIGINT ignored, and python keeps it ignored:
        // start from the default disposition, as a terminal's foreground job has it.
        let mut child = common::command(Path::new("/usr/bin/env"))
            .arg("--default-signal=INT")
            .arg(&program)
            .args([
                "-c",
                "import time; print('ready', flush=True); time.sleep(30)",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "ready");
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("KeyboardInterrupt"),
            "{program:?}: {stderr}"
        );
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(2),
            "{program:?} ends by SIGINT like python"
        );
    }
}

#[test]
fn loads_the_libpython_it_was_built_for() {
    let run = common::hermetic(&["--version"]);
    assert_eq!(run.code, 0);
    let version = env!("HERMETIC_PYTHON_VERSION");
    let prefix = env!("HERMETIC_PYTHON_PREFIX");
    assert!(
        run.stdout.contains(&format!("CPython {version}")),
        "{}",
        run.dump()
    );
    assert!(
        run.stdout.contains(&format!("loaded libpython {version}")),
        "{}",
        run.dump()
    );
    let inside = common::hermetic(&[
        "-c",
        "import sys; print(sys.version.split()[0]); print(sys.base_prefix)",
    ]);
    assert_eq!(
        inside.stdout,
        format!("{version}\n{prefix}\n"),
        "{}",
        inside.dump()
    );
}

#[test]
fn replaced_functions_keep_their_identity_in_os_capability_sets() {
    // shutil.rmtree picks its symlink-safe version from os.supports_dir_fd and friends.
    assert_same(
        &[],
        &[
            "-c",
            "import os, posix, shutil\nprint(os.open is posix.open, os.open in os.supports_dir_fd, \
             os.mkfifo in os.supports_dir_fd, shutil._use_fd_functions, shutil.rmtree.avoids_symlink_attacks)",
        ],
        None,
    );
}

#[test]
fn a_closed_stdin_stays_closed() {
    // Rust's usual start-up would open /dev/null on it; python leaves it closed.
    for program in [hermetic_bin(), python_bin()] {
        let closed = Command::new("/bin/sh")
            .arg("-c")
            .arg("exec \"$0\" -c 'import os\ntry:\n    os.fstat(0)\n    print(\"open\")\nexcept OSError as e:\n    print(\"closed\", e.errno)\n' 0<&-")
            .arg(&program)
            .output()
            .expect("run");
        assert_eq!(
            String::from_utf8_lossy(&closed.stdout),
            "closed 9\n",
            "{program:?}"
        );
    }
}
