//! Subprocess: every spawn surface, including `_posixsubprocess.fork_exec` (no audit event),
//! tried for real; the check is that the child's marker file never appears.

mod common;

use common::{hermetic_bin, run_in, temp_dir};

#[test]
fn no_surface_starts_a_process_under_the_default_policy() {
    let dir = temp_dir("spawn");
    let marker = dir.join("marker");
    let m = marker.display();
    let code = format!(
        r#"
import os, subprocess, importlib.util, pty, asyncio
import _posixsubprocess
import multiprocessing, multiprocessing.util
touch = "touch {m}"
def mp_start(method):
    p = multiprocessing.get_context(method).Process(target=os.system, args=(touch,))
    p.start()
    p.join()
def fork_exec(fe):
    r, w = os.pipe()
    pid = fe([b"/bin/sh", b"-c", touch.encode()], [b"/bin/sh"], True, (), None, None,
             -1, -1, -1, -1, -1, -1, r, w, False, False, -1, None, None, None, -1, None)
    os.waitpid(pid, 0)
attempts = {{
    "subprocess.run": lambda: subprocess.run(["/bin/sh", "-c", touch]),
    "shell=True": lambda: subprocess.run(touch, shell=True),
    "os.system": lambda: os.system(touch),
    "os.popen": lambda: os.popen(touch).close(),
    "os.posix_spawn": lambda: os.waitpid(os.posix_spawn("/bin/sh", ["sh", "-c", touch], {{}}), 0),
    "os.posix_spawnp": lambda: os.waitpid(os.posix_spawnp("sh", ["sh", "-c", touch], {{}}), 0),
    "os.spawnv": lambda: os.spawnv(os.P_WAIT, "/bin/sh", ["sh", "-c", touch]),
    "os.fork": lambda: os.fork(),
    "pty.fork": lambda: pty.fork(),
    "asyncio": lambda: asyncio.run(asyncio.create_subprocess_exec("/bin/sh", "-c", touch)),
    "fork_exec": lambda: fork_exec(_posixsubprocess.fork_exec),
    "fresh fork_exec": lambda: fork_exec(importlib.util.module_from_spec(importlib.util.find_spec("_posixsubprocess")).fork_exec),
    "spawnv_passfds": lambda: multiprocessing.util.spawnv_passfds("/bin/sh", ["sh", "-c", touch], ()),
    "env PATH trick": lambda: subprocess.run(["sh", "-c", touch], env={{"PATH": "/usr/bin:/bin"}}),
    "multiprocessing fork": lambda: mp_start("fork"),
    "multiprocessing spawn": lambda: mp_start("spawn"),
    "multiprocessing forkserver": lambda: mp_start("forkserver"),
}}
for name, attempt in attempts.items():
    try:
        attempt()
        print(name, "RAN")
    except (PermissionError, ImportError):
        # ImportError: a fresh copy of _posixsubprocess is an import refused.
        print(name, "denied")
"#
    );
    let run = run_in(&hermetic_bin(), &["-c", &code], None, Some(&dir), &[]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.stdout.lines().count(), 17, "{}", run.dump());
    assert!(
        run.stdout.lines().all(|l| l.ends_with(" denied")),
        "{}",
        run.dump()
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!marker.exists(), "a child process ran");
}

#[test]
fn allow_run_lets_exactly_that_program_run() {
    let dir = temp_dir("allow-run");
    let code = "import subprocess\nfor argv in (['/bin/echo', 'one'], ['echo', 'two'], ['/bin/true'], ['/bin/sh', '-c', 'echo three']):\n    try:\n        subprocess.run(argv, check=True)\n    except PermissionError:\n        print(argv[0], 'denied', flush=True)\n";
    let run = run_in(
        &hermetic_bin(),
        &["--allow-run=/bin/echo", "-c", code],
        None,
        Some(&dir),
        &[],
    );
    assert_eq!(
        run.stdout,
        "one\ntwo\n/bin/true denied\n/bin/sh denied\n",
        "{}",
        run.dump()
    );
    let run = run_in(
        &hermetic_bin(),
        &["--allow-run", "-c", code],
        None,
        Some(&dir),
        &[],
    );
    assert_eq!(run.stdout, "one\ntwo\nthree\n", "{}", run.dump());

    // Path objects name the program as well as strings do, granted or not.
    let code = "import subprocess, pathlib\nfor argv in ([pathlib.Path('/bin/echo'), 'four'], [pathlib.Path('/bin/true')]):\n    try:\n        subprocess.run(argv, check=True)\n    except PermissionError:\n        print(argv[0], 'denied', flush=True)\nsubprocess.run(['echo', 'five'], executable=pathlib.Path('/bin/echo'), check=True)\n";
    let run = run_in(
        &hermetic_bin(),
        &["--allow-run=/bin/echo", "-c", code],
        None,
        Some(&dir),
        &[],
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "four\n/bin/true denied\nfive\n"),
        "{}",
        run.dump()
    );
}

#[test]
fn a_program_is_judged_by_the_file_it_runs_not_its_name() {
    let dir = temp_dir("symlink-program");
    std::os::unix::fs::symlink("/bin/sh", dir.join("echo")).expect("symlink");
    let marker = dir.join("marker");
    let code = format!(
        "import subprocess\nfor argv in (['./echo', '-c', 'touch {m}'], ['echo', '-c', 'touch {m}']):\n    try:\n        subprocess.run(argv)\n        print(argv[0], 'ran')\n    except PermissionError:\n        print(argv[0], 'denied')\n",
        m = marker.display()
    );
    let path = format!("{}:/usr/bin:/bin", dir.display());
    let run = run_in(
        &hermetic_bin(),
        &["--allow-run=/bin/echo", "-c", &code],
        None,
        Some(&dir),
        &[("PATH", path.as_str())],
    );
    assert_eq!(run.stdout, "./echo denied\necho denied\n", "{}", run.dump());
    assert!(!marker.exists());
}
