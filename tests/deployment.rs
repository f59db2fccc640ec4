//! Where users put hermetic-python in place of python: a shebang line, and a venv's `bin/`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{hermetic_bin, python_bin, run_in, temp_dir, write};

/// A folder holding `hermetic-python` (a symlink to the binary under test), for `PATH`.
fn bin_dir(tag: &str) -> std::path::PathBuf {
    let dir = temp_dir(tag).join("bin");
    std::fs::create_dir_all(&dir).expect("bin dir");
    std::os::unix::fs::symlink(hermetic_bin(), dir.join("hermetic-python")).expect("symlink");
    dir
}

#[test]
fn a_shebang_script_runs_under_hermetic_policy() {
    let bin = bin_dir("shebang");
    let dir = temp_dir("shebang-work");
    let script = write(
        &dir,
        "tool.py",
        "#!/usr/bin/env hermetic-python\nimport sys, socket\nprint('args', sys.argv[1:])\ntry:\n    import json\n    print('json imported')\nexcept ImportError:\n    print('json denied')\ntry:\n    socket.create_connection(('127.0.0.1', 9))\nexcept PermissionError:\n    print('network denied')\n",
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let policy = write(&dir, "p.toml", "[imports]\ndeny = [\"json\"]\n");
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let with_policy = Command::new(&script)
        .arg("x")
        .env("PATH", &path)
        .env("HERMETIC_POLICY", &policy)
        .output()
        .expect("run the script");
    assert_eq!(
        String::from_utf8_lossy(&with_policy.stdout),
        "args ['x']\njson denied\nnetwork denied\n",
        "{}",
        String::from_utf8_lossy(&with_policy.stderr)
    );
    // Without HERMETIC_POLICY: the built-in default (json allowed, network still denied).
    let default = Command::new(&script)
        .env("PATH", &path)
        .env_remove("HERMETIC_POLICY")
        .output()
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&default.stdout),
        "args []\njson imported\nnetwork denied\n"
    );
}

#[test]
fn in_a_venv_bin_folder_it_uses_the_venvs_site_packages() {
    let root = temp_dir("venv");
    let venv = root.join("venv");
    // A pure-Python package in the venv's site-packages, as an installer would place it.
    let site = common::venv_with_hermetic(&venv);
    std::fs::create_dir_all(site.join("tinypkg")).expect("package dir");
    write(
        &site.join("tinypkg"),
        "__init__.py",
        "GREETING = 'hello from the venv'\n",
    );
    let code = "import sys, tinypkg\nprint(sys.prefix == sys.argv[1], tinypkg.GREETING)\nprint(tinypkg.__file__.startswith(sys.argv[1]))\n";
    let venv_str = venv.to_str().expect("path");
    let run = run_in(
        &venv.join("bin/hermetic-python"),
        &["-c", code, venv_str],
        None,
        Some(Path::new(&root)),
        &[],
    );
    assert_eq!(
        run.stdout,
        "True hello from the venv\nTrue\n",
        "{}",
        run.dump()
    );
    // The venv's packages are readable, not writable.
    let code = "import tinypkg\ntry:\n    open(tinypkg.__file__, 'a')\nexcept PermissionError:\n    print('write denied')\n";
    let run = run_in(
        &venv.join("bin/hermetic-python"),
        &["-c", code],
        None,
        Some(Path::new(&root)),
        &[],
    );
    assert_eq!(run.stdout, "write denied\n", "{}", run.dump());
}

/// pytest's wheels, downloaded once into `target/test-wheels/<version>` (the package registry is
/// reachable wherever this project builds).
fn pytest_wheels() -> std::path::PathBuf {
    // Per CPython version: pytest's dependencies differ (3.10 needs tomli, exceptiongroup).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-wheels")
        .join(env!("HERMETIC_PYTHON_VERSION"));
    let have = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("pytest-"))
        })
        .unwrap_or(false);
    if !have {
        let status = Command::new(python_bin())
            .args(["-m", "pip", "download", "--quiet", "--dest"])
            .arg(&dir)
            .arg("pytest")
            .status()
            .expect("pip download");
        assert!(status.success(), "downloading pytest's wheels failed");
    }
    dir
}

#[test]
fn pytest_installed_in_a_venv_runs_with_dash_m() {
    let root = temp_dir("pytest");
    let venv = root.join("venv");
    let made = Command::new(python_bin())
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("venv");
    assert!(made.success());
    let installed = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
        ])
        .arg(pytest_wheels())
        .arg("pytest")
        .status()
        .expect("pip install");
    assert!(installed.success());
    std::os::unix::fs::symlink(hermetic_bin(), venv.join("bin/hermetic-python")).expect("symlink");
    let ws = root.join("ws");
    std::fs::create_dir_all(&ws).expect("workspace");
    write(
        &ws,
        "test_sample.py",
        "import socket\nimport pytest\n\ndef test_adds():\n    assert 1 + 1 == 2\n\ndef test_network_is_refused():\n    with pytest.raises(PermissionError):\n        socket.create_connection(('127.0.0.1', 9))\n",
    );
    // pytest captures output through temporary files: a writable TMPDIR.
    let tmp = ws.join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp");
    let read = format!("--allow-read={}", ws.display());
    let write_tmp = format!("--allow-write={}", tmp.display());
    let tmp_text = tmp.to_str().expect("path");
    // pytest sets PYTEST_VERSION and PYTEST_CURRENT_TEST: writes follow the grants.
    let args = [
        &read,
        &write_tmp,
        "--allow-env=PYTEST_*",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "test_sample.py",
    ];
    let run = run_in(
        &venv.join("bin/hermetic-python"),
        &args,
        None,
        Some(&ws),
        &[("TMPDIR", tmp_text)],
    );
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(run.stdout.contains("2 passed"), "{}", run.dump());
}
