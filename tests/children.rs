//! Child processes started as hermetic-python (`sys.executable`, `multiprocessing`) run
//! under their parent's policy or a narrower one, however the parent tries to widen it.

mod common;

use std::io::ErrorKind;
use std::net::TcpListener;

use common::{hermetic_bin, run_in, temp_dir, write, Run};

fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    (listener, port)
}

fn connections(listener: &TcpListener) -> usize {
    let mut count = 0;
    loop {
        match listener.accept() {
            Ok(_) => count += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return count,
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Run `code` as a script in a fresh folder, with the binary itself granted as a program.
fn parent(extra: &[&str], code: &str) -> Run {
    let dir = temp_dir("children");
    let script = write(&dir, "parent.py", code);
    let run_self = format!("--allow-run={}", hermetic_bin().display());
    let mut args = vec![run_self.as_str()];
    args.extend_from_slice(extra);
    let script = script.to_str().expect("path").to_string();
    args.push(&script);
    run_in(&hermetic_bin(), &args, None, Some(&dir), &[])
}

fn child_connects(port: u16) -> String {
    format!("import socket\\ntry:\\n    socket.create_connection(('127.0.0.1', {port})).close()\\n    print('child connected')\\nexcept PermissionError:\\n    print('child denied')\\n")
}

#[test]
fn a_child_cannot_widen_its_parents_policy() {
    let (listener, port) = listener();
    let dir = temp_dir("children-policy");
    let permissive = write(&dir, "open.toml", "allow-all = true\n");
    let code = format!(
        r#"
import os, subprocess, sys
child = "{child}"
for label, argv, env in [
    ("--allow-all", [sys.executable, "--allow-all", "-c", child], None),
    ("--allow-net", [sys.executable, "--allow-net", "-c", child], None),
    ("--policy", [sys.executable, "--policy", "{permissive}", "-c", child], None),
    ("HERMETIC_POLICY", [sys.executable, "-c", child], {{"HERMETIC_POLICY": "{permissive}"}}),
    ("empty env", [sys.executable, "-c", child], {{}}),
    ("plain", [sys.executable, "-c", child], None),
]:
    r = subprocess.run(argv, env=env, capture_output=True, text=True)
    print(label, r.returncode, r.stdout.strip() or r.stderr.strip().splitlines()[-1][:60])
"#,
        child = child_connects(port),
        permissive = permissive.display()
    );
    let run = parent(&[], &code);
    assert_eq!(run.code, 0, "{}", run.dump());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", run.dump());
    for line in &lines[..4] {
        assert!(
            line.contains(" 2 hermetic: usage error: "),
            "{line}\n{}",
            run.dump()
        );
    }
    assert_eq!(lines[4], "empty env 0 child denied", "{}", run.dump());
    assert_eq!(lines[5], "plain 0 child denied", "{}", run.dump());
    assert_eq!(connections(&listener), 0, "a child connected");
}

#[test]
fn a_child_gets_the_parents_grants_and_may_narrow_them() {
    let (listener, port) = listener();
    let code = format!(
        "import subprocess, sys\nchild = \"{child}\"\nfor extra in ([], ['--no-network']):\n    r = subprocess.run([sys.executable, *extra, '-c', child], capture_output=True, text=True)\n    print(extra, r.stdout.strip() or r.stderr.strip())\n",
        child = child_connects(port)
    );
    let run = parent(&["--allow-localhost"], &code);
    assert_eq!(
        run.stdout,
        "[] child connected\n['--no-network'] child denied\n",
        "{}",
        run.dump()
    );
    assert_eq!(connections(&listener), 1);
}

#[test]
fn multiprocessing_spawn_children_are_bounded_too() {
    let (listener, port) = listener();
    let code = format!(
        r#"
import multiprocessing, socket

def child(q):
    try:
        socket.create_connection(("127.0.0.1", {port})).close()
        q.put("connected")
    except PermissionError:
        q.put("denied")

if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(q,))
    p.start()
    print("spawn child", q.get(timeout=30))
    p.join()
"#
    );
    let run = parent(&[], &code);
    assert_eq!(run.stdout, "spawn child denied\n", "{}", run.dump());
    assert_eq!(connections(&listener), 0);
}

#[test]
fn the_sealed_policy_cannot_be_changed_or_seen_from_python() {
    let code = "import os\ntry:\n    os.environ['HERMETIC_SEALED'] = 'allow-all = true'\nexcept PermissionError:\n    print('set denied')\ntry:\n    os.unsetenv('HERMETIC_SEALED')\nexcept PermissionError:\n    print('unset denied')\nprint('visible', 'HERMETIC_SEALED' in os.environ)\n";
    let run = parent(&["--allow-env"], code);
    assert_eq!(
        run.stdout,
        "set denied\nunset denied\nvisible False\n",
        "{}",
        run.dump()
    );
}

#[test]
fn execve_with_an_empty_environment_still_carries_the_bound() {
    let (listener, port) = listener();
    let code = format!(
        "import os, sys\nos.execve(sys.executable, [sys.executable, '-c', \"{child}\"], {{}})\n",
        child = child_connects(port)
    );
    let run = parent(&[], &code);
    assert_eq!(run.stdout, "child denied\n", "{}", run.dump());
    assert_eq!(connections(&listener), 0);
}
