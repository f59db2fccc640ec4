//! The filesystem capability: read and write roots, every surface tried for real against a
//! file outside the workspace, and the check that nothing outside changed.

#![expect(
    clippy::unwrap_used,
    reason = "a failed set-up step should stop the test at once"
)]

mod common;

use std::path::Path;

use common::{hermetic_bin, run_in, temp_dir, write, Run};

/// A workspace W (granted) and a folder outside it, with a file whose content must not
/// change.
struct Setup {
    ws: std::path::PathBuf,
    outside: std::path::PathBuf,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let root = temp_dir(tag);
        let ws = root.join("ws");
        let outside = root.join("outside");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        write(&outside, "keep.txt", "original\n");
        Setup { ws, outside }
    }

    fn run(&self, extra: &[&str], code: &str) -> Run {
        let read = format!("--allow-read={}", self.ws.display());
        let write = format!("--allow-write={}", self.ws.display());
        let mut args = vec![read.as_str(), write.as_str()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-c", code]);
        run_in(&hermetic_bin(), &args, None, Some(&self.ws), &[])
    }

    /// Everything in the outside folder, with contents.
    fn outside_state(&self) -> Vec<(String, String)> {
        let mut entries: Vec<(String, String)> = std::fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let content =
                    std::fs::read_to_string(e.path()).unwrap_or_else(|_| "<not a file>".into());
                (e.file_name().to_string_lossy().into_owned(), content)
            })
            .collect();
        entries.sort();
        entries
    }
}

fn untouched() -> Vec<(String, String)> {
    vec![("keep.txt".to_string(), "original\n".to_string())]
}

#[test]
fn inside_the_workspace_everything_works() {
    let s = Setup::new("fs-inside");
    let code = r#"
import os, shutil, pathlib, tempfile, sqlite3
open("a.txt", "w").write("one")
assert open("a.txt").read() == "one"
os.rename("a.txt", "b.txt"); os.replace("b.txt", "c.txt")
os.makedirs("d/e"); shutil.copy("c.txt", "d/e/f.txt"); shutil.move("d/e/f.txt", "g.txt")
pathlib.Path("h.txt").write_text("h"); os.chmod("h.txt", 0o600); os.utime("h.txt")
os.symlink("c.txt", "link"); assert open("link").read() == "one"
os.link("c.txt", "hard")
sqlite3.connect("db.sqlite").execute("create table t (x)")
# Path objects, whose open is judged where it happens (the hook cannot read them).
import io
with io.FileIO(pathlib.Path("fio.txt"), "w") as f: f.write(b"fio")
assert io.FileIO(pathlib.Path("fio.txt")).read() == b"fio"
sqlite3.connect(pathlib.Path("db2.sqlite")).execute("create table t (x)")
os.remove("fio.txt"); os.remove("db2.sqlite")
with tempfile.TemporaryDirectory(dir=".") as t:
    open(os.path.join(t, "x"), "w").write("x")
shutil.rmtree("d"); os.remove("c.txt"); os.unlink("link"); os.remove("hard")
print(sorted(os.listdir(".")))
"#;
    let run = s.run(&[], code);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "['db.sqlite', 'g.txt', 'h.txt']\n"),
        "{}",
        run.dump()
    );
}

#[test]
fn every_surface_fails_outside_the_workspace() {
    let s = Setup::new("fs-outside");
    let o = s.outside.display().to_string();
    let code = format!(
        r#"
import os, io, _io, posix, shutil, pathlib, tempfile, sqlite3, mmap
O = "{o}"
K = O + "/keep.txt"
outside_fd = os.open(O, os.O_RDONLY) if False else None
attempts = {{
    "open w": lambda: open(O + "/new.txt", "w"),
    "open a": lambda: open(K, "a"),
    "open x": lambda: open(O + "/new.txt", "x"),
    "open r+": lambda: open(K, "r+"),
    "open r": lambda: open(K).read(),
    "os.open O_CREAT": lambda: os.open(O + "/new.txt", os.O_CREAT | os.O_WRONLY),
    "os.open O_TRUNC": lambda: os.open(K, os.O_TRUNC | os.O_RDONLY),
    "os.open O_APPEND": lambda: os.open(K, os.O_APPEND | os.O_WRONLY),
    "os.open O_RDWR": lambda: os.open(K, os.O_RDWR),
    "io.FileIO": lambda: io.FileIO(O + "/new.txt", "w"),
    "_io.open": lambda: _io.open(O + "/new.txt", "w"),
    "os.remove": lambda: os.remove(K),
    "os.unlink": lambda: os.unlink(K),
    "posix.unlink": lambda: posix.unlink(K),
    "os.rename out": lambda: os.rename(K, "stolen.txt"),
    "os.rename in": lambda: (open("mine.txt", "w").close(), os.rename("mine.txt", O + "/planted.txt")),
    "os.replace": lambda: (open("mine2.txt", "w").close(), os.replace("mine2.txt", K)),
    "os.mkdir": lambda: os.mkdir(O + "/d"),
    "os.makedirs": lambda: os.makedirs(O + "/d/e"),
    "os.rmdir": lambda: os.rmdir(O),
    "os.chmod": lambda: os.chmod(K, 0o777),
    "os.chown": lambda: os.chown(K, 0, 0),
    "os.utime": lambda: os.utime(K, (0, 0)),
    "os.truncate": lambda: os.truncate(K, 0),
    "os.link": lambda: os.link(K, "hard.txt"),
    "os.symlink outside": lambda: os.symlink("/etc/passwd", O + "/sym"),
    "shutil.copy": lambda: shutil.copy("/etc/hostname", O + "/copy.txt"),
    "shutil.move": lambda: shutil.move(K, "moved.txt"),
    "shutil.rmtree": lambda: shutil.rmtree(O),
    "pathlib.write_text": lambda: pathlib.Path(O, "p.txt").write_text("x"),
    "pathlib.touch": lambda: pathlib.Path(O, "t.txt").touch(),
    "pathlib.unlink": lambda: pathlib.Path(K).unlink(),
    "tempfile.mkstemp": lambda: tempfile.mkstemp(dir=O),
    "tempfile.TemporaryFile": lambda: tempfile.TemporaryFile(dir=O),
    "sqlite3.connect": lambda: sqlite3.connect(O + "/db.sqlite").execute("create table t (x)"),
    "os.listdir": lambda: os.listdir(O),
    "os.scandir": lambda: list(os.scandir(O)),
    "os.mkfifo": lambda: os.mkfifo(O + "/fifo"),
    "os.mknod": lambda: os.mknod(O + "/node"),
    "dir_fd open": lambda: os.open("dirfd.txt", os.O_CREAT | os.O_WRONLY, dir_fd=os.open(O, os.O_RDONLY)),
    "dir_fd remove": lambda: os.remove("keep.txt", dir_fd=os.open(O, os.O_RDONLY)),
    "dotdot": lambda: open("../outside/new.txt", "w"),
}}
os.symlink(O, "planted")
attempts["symlink planted in ws"] = lambda: open("planted/new.txt", "w")
attempts["symlink planted read"] = lambda: open("planted/keep.txt").read()
os.symlink(K, "planted_file")
attempts["symlink to file"] = lambda: open("planted_file", "a")
for name, attempt in attempts.items():
    try:
        attempt()
        print(name, "ALLOWED")
    except PermissionError:
        print(name, "denied")
"#
    );
    let run = s.run(&[], &code);
    assert_eq!(run.code, 0, "{}", run.dump());
    let allowed: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| !l.ends_with(" denied"))
        .collect();
    assert!(allowed.is_empty(), "allowed: {allowed:?}\n{}", run.dump());
    assert_eq!(run.stdout.lines().count(), 45, "{}", run.dump());
    assert_eq!(s.outside_state(), untouched());
}

#[test]
fn a_deny_entry_beats_a_grant() {
    let s = Setup::new("fs-deny");
    write(&s.ws, "secret.txt", "s3cr3t");
    let policy = write(
        &s.ws,
        "p.toml",
        "[filesystem]\nread = [\".\"]\nwrite = [\".\"]\ndeny = [\"secret.txt\"]\n",
    );
    let code = "try:\n    print(open('secret.txt').read())\nexcept PermissionError as e:\n    print('denied:', str(e).split(';')[0])\n";
    let run = run_in(
        &hermetic_bin(),
        &["--policy", policy.to_str().unwrap(), "-c", code],
        None,
        Some(&s.ws),
        &[],
    );
    let expected = format!(
        "denied: blocked fs.read {}/secret.txt (denied by p.toml:4 filesystem.deny)\n",
        s.ws.display()
    );
    assert_eq!(run.stdout, expected, "{}", run.dump());
}

#[test]
fn writes_are_denied_by_default_with_a_hint() {
    let dir = temp_dir("fs-default");
    let code = "open('x.txt', 'w')\n";
    let script = write(&dir, "s.py", code);
    let run = run_in(
        &hermetic_bin(),
        &[script.to_str().unwrap()],
        None,
        Some(&dir),
        &[],
    );
    assert_eq!(run.code, 77, "{}", run.dump());
    let path = dir.join("x.txt");
    assert!(
        run.stderr.contains(&format!(
            "hermetic: blocked fs.write {} (not granted by the built-in default policy)",
            path.display()
        )),
        "{}",
        run.dump()
    );
    assert!(
        run.stderr.contains(&format!(
            "hint: allow it with --allow-write={}",
            path.display()
        )),
        "{}",
        run.dump()
    );
    assert!(!path.exists());
}

#[test]
fn reads_outside_the_grants_are_denied_by_default() {
    let dir = temp_dir("fs-read-default");
    let other = temp_dir("fs-read-other");
    write(&other, "data.txt", "private");
    let code = format!("try:\n    print(open('{}/data.txt').read())\nexcept PermissionError:\n    print('denied')\n", other.display());
    let run = run_in(&hermetic_bin(), &["-c", &code], None, Some(&dir), &[]);
    assert_eq!(run.stdout, "denied\n", "{}", run.dump());
    let granted = format!("--allow-read={}", other.display());
    let run = run_in(
        &hermetic_bin(),
        &[&granted, "-c", &code],
        None,
        Some(&dir),
        &[],
    );
    assert_eq!(run.stdout, "private\n", "{}", run.dump());
}

#[test]
fn fs_readonly_reads_everywhere_and_writes_nowhere() {
    let s = Setup::new("fs-readonly");
    let code = format!(
        "print(open('{0}/keep.txt').read(), end='')\ntry:\n    open('{0}/new.txt', 'w')\nexcept PermissionError:\n    print('write denied')\ntry:\n    open('ws.txt', 'w')\nexcept PermissionError:\n    print('ws write denied')\n",
        s.outside.display()
    );
    let run = run_in(
        &hermetic_bin(),
        &["--fs-readonly", "-c", &code],
        None,
        Some(&s.ws),
        &[],
    );
    assert_eq!(
        run.stdout,
        "original\nwrite denied\nws write denied\n",
        "{}",
        run.dump()
    );
    assert_eq!(s.outside_state(), untouched());
    assert!(!s.ws.join("ws.txt").exists());
}

#[test]
fn a_granted_root_cannot_be_removed_or_moved() {
    let s = Setup::new("fs-root");
    let code = format!(
        "import os, shutil\nfor name, f in [('rmdir', lambda: os.rmdir('{0}')), ('rename', lambda: os.rename('{0}', '{0}.moved')), ('rmtree', lambda: shutil.rmtree('{0}'))]:\n    try:\n        f()\n        print(name, 'ALLOWED')\n    except PermissionError:\n        print(name, 'denied')\n",
        s.ws.display()
    );
    let run = s.run(&[], &code);
    assert_eq!(
        run.stdout,
        "rmdir denied\nrename denied\nrmtree denied\n",
        "{}",
        run.dump()
    );
    assert!(s.ws.is_dir());
}

#[test]
fn bytecode_cache_writes_fail_quietly_like_python_on_eacces() {
    let dir = temp_dir("pycache");
    write(&dir, "helper_mod.py", "VALUE = 42\n");
    let script = write(
        &dir,
        "main.py",
        "import helper_mod\nprint(helper_mod.VALUE)\n",
    );
    let run = run_in(
        &hermetic_bin(),
        &["--trace", script.to_str().unwrap()],
        None,
        Some(&dir),
        &[],
    );
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "42\n", ""),
        "{}",
        run.dump()
    );
    assert!(!dir.join("__pycache__").exists(), "the cache was written");
}

#[test]
fn the_standard_library_works_under_a_workspace_only_policy() {
    let s = Setup::new("fs-stdlib");
    let code = r#"
import csv, decimal, hashlib, sqlite3, tempfile, asyncio, argparse, logging, io, json, os
csv.writer(io.StringIO()).writerow([1, 2])
decimal.Decimal("1.1") + decimal.Decimal("2.2")
hashlib.sha256(b"x").hexdigest()
sqlite3.connect(":memory:").execute("select 1").fetchone()
with tempfile.NamedTemporaryFile("w") as f:
    f.write("x")
asyncio.run(asyncio.sleep(0))
argparse.ArgumentParser().parse_args([])
logging.getLogger("x").warning("logged")
print("ok", tempfile.gettempdir() == os.environ["TMPDIR"])
"#;
    let tmpdir = s.ws.display().to_string();
    let read = format!("--allow-read={}", s.ws.display());
    let write_flag = format!("--allow-write={}", s.ws.display());
    let run = run_in(
        &hermetic_bin(),
        &[&read, &write_flag, "-c", code],
        None,
        Some(Path::new(&tmpdir)),
        &[("TMPDIR", tmpdir.as_str())],
    );
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.stdout, "ok True\n", "{}", run.dump());
    assert_eq!(run.stderr, "logged\n", "{}", run.dump());
}

#[test]
fn fd_operations_are_judged_by_the_file_the_fd_names() {
    let s = Setup::new("fs-fd");
    let read_outside = format!("--allow-read={}", s.outside.display());
    let code = format!(
        r#"
import os, mmap
fd = os.open("{0}/keep.txt", os.O_RDONLY)
for name, attempt in [
    ("mmap write", lambda: mmap.mmap(fd, 0, access=mmap.ACCESS_WRITE)),
    ("fchmod", lambda: os.chmod(fd, 0o777)),
    ("ftruncate", lambda: os.truncate(fd, 0)),
    ("fchown", lambda: os.chown(fd, 0, 0)),
    ("scandir fd in ws", lambda: list(os.scandir(os.open(".", os.O_RDONLY)))),
]:
    try:
        attempt()
        print(name, "allowed")
    except PermissionError:
        print(name, "denied")
print(len(mmap.mmap(fd, 0, access=mmap.ACCESS_READ)))
"#,
        s.outside.display()
    );
    let run = s.run(&[&read_outside], &code);
    assert_eq!(
        run.stdout,
        "mmap write denied\nfchmod denied\nftruncate denied\nfchown denied\nscandir fd in ws allowed\n9\n",
        "{}",
        run.dump()
    );
    assert_eq!(s.outside_state(), untouched());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(s.outside.join("keep.txt"))
            .unwrap()
            .permissions(),
    );
    assert_ne!(mode & 0o777, 0o777);
}

/// An open in a granted root is made by the kernel on the path the hook judged, with no
/// symlink allowed on the way (`openat2` with `RESOLVE_NO_SYMLINKS`), and without a
/// component-by-component `lstat` walk before it. A symlink on the way is judged with the
/// full resolution, and a symlink leading outside is refused at open time.
#[test]
fn opens_in_a_root_are_anchored_by_the_kernel() {
    let strace = ["/usr/bin/strace", "/bin/strace"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("strace is needed for this test (apt-get install strace)");
    let s = Setup::new("fs-anchored");
    write(&s.ws, "data.txt", "data\n");
    std::os::unix::fs::symlink(s.outside.join("keep.txt"), s.ws.join("out-link")).unwrap();
    std::os::unix::fs::symlink(s.ws.join("data.txt"), s.ws.join("in-link")).unwrap();
    let log = s.ws.with_file_name("strace.log");
    let code = r#"
import os
ws = os.getcwd()
for _ in range(3):
    assert open(os.path.join(ws, "data.txt")).read() == "data\n"
assert open("data.txt").read() == "data\n"
assert open("in-link").read() == "data\n"
try:
    open("out-link").read()
    print("out-link: read")
except PermissionError as e:
    print("out-link:", type(e).__name__, e.errno)
"#;
    let read = format!("--allow-read={}", s.ws.display());
    let log_arg = log.to_string_lossy().into_owned();
    let binary = hermetic_bin();
    let args = [
        "-f",
        "-qq",
        "-e",
        "trace=openat,openat2,statx,newfstatat,lstat,readlink",
        "-o",
        log_arg.as_str(),
        binary.to_str().unwrap(),
        "--trace",
        read.as_str(),
        "-c",
        code,
    ];
    let run = run_in(Path::new(strace), &args, None, Some(&s.ws), &[]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "out-link: PermissionError 13\n"),
        "{}",
        run.dump()
    );
    assert!(
        run.stderr.contains(&format!(
            "hermetic: blocked fs.read {}/keep.txt",
            s.outside.display()
        )),
        "{}",
        run.dump()
    );
    let trace = std::fs::read_to_string(&log).unwrap();
    let data = format!("\"{}/data.txt\"", s.ws.display());
    let anchored = trace
        .lines()
        .filter(|l| {
            l.contains("openat2(") && l.contains(&data) && l.contains("RESOLVE_NO_SYMLINKS")
        })
        .count();
    // Three absolute opens, one relative, and the one through `in-link` (judged, then
    // opened on its real path).
    assert_eq!(anchored, 5, "{trace}");
    let walked: Vec<&str> = trace
        .lines()
        .filter(|l| (l.contains("statx(") || l.contains("lstat(")) && l.contains(&data))
        .collect();
    // Only `in-link`'s resolution looks at data.txt by name.
    assert!(walked.len() <= 1, "{walked:#?}");
    // The outside file was never opened.
    let outside = format!("\"{}/keep.txt\"", s.outside.display());
    assert!(
        !trace.lines().any(|l| l.contains(&outside)
            && (l.contains("openat(") || l.contains("openat2("))
            && !l.contains("= -1")),
        "{trace}"
    );
    assert_eq!(s.outside_state(), untouched());
}

#[test]
fn standard_streams_reopened_by_path_are_the_descriptors_or_the_files_behind_them() {
    let s = Setup::new("fs-stdin");
    // A pipe has no path: /dev/stdin, /dev/fd/0 and /proc/self/fd/0 reopen it, as in python,
    // whatever the grants (and with /dev and /proc granted too).
    let code = "print(repr(open('/dev/stdin').read()))";
    for extra in [&[][..], &["--allow-read=/dev,/proc"][..]] {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend(["-c", code]);
        let ours = run_in(&hermetic_bin(), &args, Some("piped\n"), Some(&s.ws), &[]);
        let theirs = run_in(
            &common::python_bin(),
            &["-c", code],
            Some("piped\n"),
            Some(&s.ws),
            &[],
        );
        assert_eq!(
            ours,
            theirs,
            "{extra:?}\n{}\n{}",
            ours.dump(),
            theirs.dump()
        );
        assert_eq!(ours.stdout, "'piped\\n'\n");
    }
    for name in ["/dev/fd/0", "/proc/self/fd/0"] {
        let code = format!("print(open({name:?}).read(), end='')");
        let run = run_in(
            &hermetic_bin(),
            &["-c", &code],
            Some("again\n"),
            Some(&s.ws),
            &[],
        );
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (0, "again\n"),
            "{}",
            run.dump()
        );
    }

    // A file behind the descriptor is judged as that file: stdin from a file outside the
    // grants cannot be read by path, and a file granted for reading, held open read-only,
    // cannot be reopened for writing through its descriptor.
    let keep = s.outside.join("keep.txt");
    let stdin_file = std::fs::File::open(&keep).unwrap();
    let out = common::command(&hermetic_bin())
        .args(["-c", "print(open('/dev/stdin').read())"])
        .current_dir(&s.ws)
        .stdin(stdin_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains(&format!("blocked fs.read {}", keep.display())));

    let ro = format!("--allow-read={}", s.outside.display());
    let code = format!(
        "import os\nfd = os.open({:?}, os.O_RDONLY)\nfor name in (f'/proc/self/fd/{{fd}}', f'/dev/fd/{{fd}}'):\n    try:\n        open(name, 'w').write('replaced')\n        print('written')\n    except PermissionError:\n        print('refused')\n",
        keep.to_str().unwrap()
    );
    let run = run_in(&hermetic_bin(), &[&ro, "-c", &code], None, Some(&s.ws), &[]);
    assert_eq!(run.stdout, "refused\nrefused\n", "{}", run.dump());
    assert_eq!(s.outside_state(), untouched());
}

#[test]
fn a_path_that_names_a_folder_by_its_form_fails_as_in_python() {
    let s = Setup::new("fs-slash");
    write(&s.ws, "file.txt", "keep me\n");
    // A trailing `/`, `/.` or `/..` asks the kernel for a folder: on a file, python's open
    // fails (EISDIR, ENOTDIR) and the file is left as it was; hermetic-python must not
    // open the file the path resolves to instead.
    let code = "import os\n\
                for name, flags in [('file.txt/', os.O_WRONLY | os.O_CREAT | os.O_TRUNC),\n\
                                    ('file.txt/.', os.O_RDONLY), ('file.txt/', os.O_RDONLY),\n\
                                    ('missing/', os.O_WRONLY | os.O_CREAT), ('./', os.O_RDONLY),\n\
                                    ('sub/..', os.O_RDONLY)]:\n\
                \x20   try:\n\
                \x20       os.close(os.open(os.path.join(os.getcwd(), name), flags, 0o644))\n\
                \x20       print(name, 'opened')\n\
                \x20   except OSError as e:\n\
                \x20       print(name, type(e).__name__)\n\
                try:\n\
                \x20   open('file.txt/', 'w')\n\
                except OSError as e:\n\
                \x20   print('open()', type(e).__name__)\n";
    std::fs::create_dir_all(s.ws.join("sub")).unwrap();
    let ours = s.run(&[], code);
    let theirs = run_in(&common::python_bin(), &["-c", code], None, Some(&s.ws), &[]);
    assert_eq!(ours, theirs, "{}\n{}", ours.dump(), theirs.dump());
    assert!(
        ours.stdout.contains("file.txt/ IsADirectoryError"),
        "{}",
        ours.dump()
    );
    assert_eq!(
        std::fs::read_to_string(s.ws.join("file.txt")).unwrap(),
        "keep me\n"
    );
    assert!(!s.ws.join("missing").exists());
}
