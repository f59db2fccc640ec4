//! The installation's start-up code (`.pth` files, `sitecustomize`, `usercustomize`) runs
//! under the policy: `site` is imported once the hook is armed. Each test plants start-up
//! code in a virtual environment or a user site folder of its own, attempts for real what
//! the policy refuses, checks that nothing happened, and runs the same under the plain
//! python as a control that the attempt would have worked.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::{
    hermetic_bin, python_bin, run_in, run_raw, site_packages_below, temp_dir, write, SITE_MARK,
};

/// A virtual environment (no pip) with hermetic-python linked into its `bin/`.
struct Venv {
    root: PathBuf,
    site_packages: PathBuf,
}

impl Venv {
    fn new(tag: &str) -> Venv {
        let root = temp_dir(tag);
        let site_packages = common::venv_with_hermetic(&root.join("venv"));
        Venv {
            root,
            site_packages,
        }
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.root.join("venv/bin").join(name)
    }

    /// The venv's `program` (`hermetic-python` or `python`) with `args` and extra
    /// environment, from the venv's parent folder; stderr without site-marked lines.
    fn run(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> common::Run {
        run_in(&self.bin(program), args, None, Some(&self.root), env)
    }

    /// The same arguments under hermetic-python and under the venv's plain python.
    fn both(&self, args: &[&str]) -> (common::Run, common::Run) {
        (
            self.run("hermetic-python", args, &[]),
            self.run("python", args, &[]),
        )
    }
}

fn listener() -> TcpListener {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    listener
}

fn was_reached(listener: &TcpListener) -> bool {
    match listener.accept() {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(e) => panic!("accept: {e}"),
    }
}

/// A module that tries, when imported, to write `target`, connect to `port` and read the
/// variable `HERMETIC_TEST_SECRET`; it keeps what happened in `report`.
fn probe_module(target: &Path, port: u16) -> String {
    format!(
        r#"import os, socket
report = []
try:
    with open({target:?}, "w") as f:
        f.write("planted")
    report.append("write: done")
except PermissionError:
    report.append("write: refused")
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
    report.append("connect: done")
except PermissionError:
    report.append("connect: refused")
report.append("secret: " + str(os.environ.get("HERMETIC_TEST_SECRET")))
"#,
        target = target.to_str().expect("utf-8 path"),
    )
}

const SHOW_REPORT: &str = "import startup_probe; print('\\n'.join(startup_probe.report))";

#[test]
fn a_pth_file_runs_under_the_policy() {
    let venv = Venv::new("site-pth");
    let outside = venv.root.join("outside");
    std::fs::create_dir_all(&outside).expect("outside");
    let planted = outside.join("planted.txt");
    let listener = listener();
    let port = listener.local_addr().expect("address").port();
    write(
        &venv.site_packages,
        "startup_probe.py",
        &probe_module(&planted, port),
    );
    write(&venv.site_packages, "probe.pth", "import startup_probe\n");
    let secret = [("HERMETIC_TEST_SECRET", "s3cret")];

    let run = run_raw(
        &venv.bin("hermetic-python"),
        &["--trace", "-c", SHOW_REPORT],
        None,
        Some(&venv.root),
        &secret,
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "write: refused\nconnect: refused\nsecret: None\n"),
        "{}",
        run.dump()
    );
    assert!(!planted.exists(), "the .pth file wrote outside the policy");
    assert!(!was_reached(&listener), "the .pth file connected");
    let lines: Vec<&str> = run.stderr.lines().collect();
    let wanted = [
        format!("hermetic: blocked fs.write {}", planted.display()),
        format!("hermetic: blocked net.connect 127.0.0.1:{port}"),
    ];
    for start in &wanted {
        let line = lines.iter().find(|l| l.starts_with(start.as_str()));
        assert!(
            line.is_some_and(|l| l.ends_with(SITE_MARK)),
            "no marked line for {start}:\n{}",
            run.dump()
        );
    }
    // Without the mark, the tests' usual view of stderr has no line of it.
    let filtered = venv.run("hermetic-python", &["--trace", "-c", SHOW_REPORT], &secret);
    assert!(
        !filtered.stderr.contains("planted.txt"),
        "{}",
        filtered.dump()
    );

    // Control: the same start-up code under the venv's plain python does all three.
    let control = venv.run("python", &["-c", SHOW_REPORT], &secret);
    assert_eq!(
        control.stdout,
        "write: done\nconnect: done\nsecret: s3cret\n",
        "{}",
        control.dump()
    );
    assert!(planted.exists());
    assert!(was_reached(&listener));
}

#[test]
fn start_up_code_runs_and_the_flags_are_python_s() {
    let venv = Venv::new("site-custom");
    // A .pth line rather than sitecustomize.py: Debian's python has a sitecustomize of its
    // own, earlier on sys.path, which would shadow the venv's.
    write(
        &venv.site_packages,
        "customize.pth",
        "import sys; sys.hermetic_test_customized = True\n",
    );
    write(&venv.site_packages, "sitecustomize.py", "");
    let show = "import subprocess, sys\n\
                print(sys.flags.no_site, getattr(sys, 'hermetic_test_customized', False))\n\
                print(subprocess._args_from_interpreter_flags())\n\
                print(sys.prefix == sys.base_prefix, sys.path[-1].endswith('site-packages'))\n\
                print('site' in sys.modules, 'sitecustomize' in sys.modules)\n";
    for extra in [&[][..], &["-S"][..], &["-I"][..], &["-s"][..]] {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend(["-c", show]);
        let (ours, theirs) = venv.both(&args);
        assert_eq!(
            ours,
            theirs,
            "{extra:?}\n{}\n{}",
            ours.dump(),
            theirs.dump()
        );
        assert_eq!(ours.code, 0, "{}", ours.dump());
    }
    // And without -S the venv's site ran in both: no_site is 0, the customisation is there.
    let ours = venv.run("hermetic-python", &["-c", show], &[]);
    let lines: Vec<&str> = ours.stdout.lines().collect();
    assert_eq!(
        (lines[0], lines[2], lines[3]),
        ("0 True", "False True", "True True"),
        "{}",
        ours.dump()
    );
}

#[test]
fn a_folder_a_pth_file_names_is_importable() {
    let venv = Venv::new("site-path");
    let extra = venv.root.join("extra-lib");
    std::fs::create_dir_all(&extra).expect("extra");
    write(
        &extra,
        "extra_module.py",
        "VALUE = 'from the .pth folder'\n",
    );
    write(
        &venv.site_packages,
        "extra.pth",
        &format!("{}\n", extra.display()),
    );
    let code = "import extra_module; print(extra_module.VALUE)";
    let (ours, theirs) = venv.both(&["-c", code]);
    assert_eq!(ours, theirs, "{}\n{}", ours.dump(), theirs.dump());
    assert_eq!(ours.stdout, "from the .pth folder\n");
}

#[test]
fn usercustomize_runs_under_the_policy_and_pythonuserbase_is_honoured() {
    let root = temp_dir("site-user");
    let base = root.join("userbase");
    let user_site = site_packages_below(&base);
    std::fs::create_dir_all(&user_site).expect("user site");
    let planted = root.join("planted.txt");
    let listener = listener();
    let port = listener.local_addr().expect("address").port();
    write(
        &user_site,
        "startup_probe.py",
        &probe_module(&planted, port),
    );
    write(&user_site, "usercustomize.py", "import startup_probe\n");
    let base_text = base.to_str().expect("utf-8 path");
    let env = [
        ("PYTHONUSERBASE", base_text),
        ("HERMETIC_TEST_SECRET", "s3cret"),
    ];
    let code = format!(
        "import site, sys\nprint(site.USER_SITE, site.USER_SITE in sys.path)\n{SHOW_REPORT}"
    );

    let run = run_in(&hermetic_bin(), &["-c", &code], None, Some(&root), &env);
    let expected = format!(
        "{} True\nwrite: refused\nconnect: refused\nsecret: None\n",
        user_site.display()
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, expected.as_str()),
        "{}",
        run.dump()
    );
    assert!(!planted.exists(), "usercustomize wrote outside the policy");
    assert!(!was_reached(&listener), "usercustomize connected");

    let control = run_in(&python_bin(), &["-c", &code], None, Some(&root), &env);
    let expected = format!(
        "{} True\nwrite: done\nconnect: done\nsecret: s3cret\n",
        user_site.display()
    );
    assert_eq!(control.stdout, expected, "{}", control.dump());
    assert!(planted.exists());
    assert!(was_reached(&listener));
}

#[test]
fn a_pth_file_beside_the_executable_decides_as_under_python() {
    let version = env!("HERMETIC_PYTHON_VERSION");
    let minor: u32 = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .expect("minor version");
    // CPython reads `<executable>._pth` on POSIX from 3.11 on.
    if minor < 11 {
        return;
    }
    let show = "import sys; print(sys.flags.no_site, sys.flags.isolated, 'site' in sys.modules)";
    let dir = temp_dir("site-underpth");
    let probe = std::process::Command::new(python_bin())
        .args([
            "-c",
            "import sys; print('\\n'.join(p for p in sys.path if p))",
        ])
        .output()
        .expect("python");
    let paths = String::from_utf8_lossy(&probe.stdout).into_owned();
    for (with_site, expected) in [(false, "1 1 False\n"), (true, "0 1 True\n")] {
        let ours = dir.join(format!("ours-{with_site}"));
        let theirs = dir.join(format!("theirs-{with_site}"));
        std::os::unix::fs::symlink(hermetic_bin(), &ours).expect("symlink");
        std::os::unix::fs::symlink(python_bin(), &theirs).expect("symlink");
        let body = if with_site {
            format!("{paths}import site\n")
        } else {
            paths.clone()
        };
        for exe in [&ours, &theirs] {
            let mut name = exe.clone().into_os_string();
            name.push("._pth");
            std::fs::write(&name, &body).expect("write ._pth");
        }
        let a = run_in(&ours, &["-c", show], None, Some(&dir), &[]);
        let b = run_in(&theirs, &["-c", show], None, Some(&dir), &[]);
        assert_eq!(a, b, "{}\n{}", a.dump(), b.dump());
        assert_eq!(a.stdout, expected, "{}", a.dump());
    }
}

#[test]
fn start_up_code_that_exits_ends_start_up_as_in_python() {
    let venv = Venv::new("site-exit");
    // `site` lets a SystemExit from a .pth line through, as from sitecustomize (a .pth
    // line, since Debian's own sitecustomize would shadow the venv's).
    write(&venv.site_packages, "exit.pth", "import sys; sys.exit(3)\n");
    let code = "print('the target ran')";
    let (ours, theirs) = venv.both(&["-c", code]);
    assert_eq!(
        (ours.code, ours.stdout.as_str()),
        (theirs.code, ""),
        "{}",
        ours.dump()
    );
    assert_eq!(ours.code, 1);
    let fatal = "Fatal Python error: init_import_site: Failed to import the site module\n";
    assert!(ours.stderr.starts_with(fatal), "{}", ours.dump());
    assert!(theirs.stderr.starts_with(fatal), "{}", theirs.dump());
    assert!(ours.stderr.ends_with("SystemExit: 3\n"), "{}", ours.dump());
}
