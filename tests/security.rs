//! The escape-attempt suite. Every file in `tests/fixtures/bypass/` is a real attack script:
//! it tries something its policy denies and prints one `VERDICT ...` line. Each case runs it
//! with the built binary in a fresh process, under the policy stated in the table, and then
//! checks two things:
//!
//! - the verdict (`blocked` also needs hermetic's own `hermetic: blocked` trace line, so an
//!   attack that failed for an unrelated reason does not pass as blocked);
//! - that the side effect did not happen, observed from outside the process: no marker file
//!   written by a child process, nothing created or changed outside the workspace, nothing
//!   arriving at the loopback/UNIX listeners this test opened, nothing listening on the port
//!   a bind attack asked for, and the secret environment value nowhere in the output.
//!
//! Every case gets its own sandbox (a fresh folder with the workspace `w/`, an outside folder
//! `out/`, the marker path, listeners, a secret), passed to the script on its command line.
//! One `#[test]` per class; a failing class lists every failing case with its command line,
//! what was observed and the script's output. `HERMETIC_SECURITY_VERBOSE=1` prints every
//! case's verdict line (run with `--nocapture`); `HERMETIC_SECURITY_KEEP=1` keeps the
//! sandbox of a failing case for inspection.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{hermetic_bin, temp_dir};

/// The environment variable that holds the secret, in the launching environment only.
const SECRET_NAME: &str = "HERMETIC_TEST_SECRET";
/// How long one case may run before it is killed (and reported).
const CASE_TIMEOUT: Duration = Duration::from_secs(30);

// Policies, as flags. `{W}`, `{OUT}`, `{T}` are replaced per case (see `Sandbox::expand`).

/// The built-in default: nothing world-touching is granted.
const DEFAULT: &[&str] = &[];
/// A workspace: reads and writes under W only.
const FS: &[&str] = &["--allow-read={W}", "--allow-write={W}"];
/// A workspace, plus reads (not writes) of the outside folder: only the write check stands.
const FS_READ_OUT: &[&str] = &["--allow-read={W},{OUT}", "--allow-write={W}"];
/// Every host granted, loopback denied (`deny = ["localhost"]` covers 127.0.0.0/8 and ::1).
const DENY_LOOPBACK: &[&str] = &["--policy", "{T}/deny-loopback.toml"];
/// Every file readable, no environment grant: only the environment rules stand.
const ENV: &[&str] = &["--fs-readonly"];
/// As ENV, plus one granted program that prints its environment.
const ENV_RUN: &[&str] = &["--fs-readonly", "--allow-run=/usr/bin/env"];
/// One granted program.
const RUN_ECHO: &[&str] = &["--allow-run=/bin/echo"];

const PORT: &[&str] = &["{PORT}"];
const PORTS: &[&str] = &["{PORT}", "{PORT6}"];
const UDP: &[&str] = &["{UDP}"];
const MARKER: &[&str] = &["{MARKER}"];
const W_OUT: &[&str] = &["{W}", "{OUT}"];
const SECRET: &[&str] = &["{SECRET_NAME}"];

/// The verdict a case must end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// `VERDICT blocked`, and hermetic traced a block (`hermetic: blocked` on stderr).
    Blocked,
    /// `VERDICT absent`: there was nothing to see (a scrubbed environment variable).
    Absent,
    /// `VERDICT refused`: the host refused without a policy decision (e.g. `_hermetic`).
    Refused,
    /// `VERDICT error`: the attack failed with an ordinary error because the guard handed
    /// the original call only what it checked (e.g. only the checked exec candidate).
    Error,
}

impl Expect {
    fn word(self) -> &'static str {
        match self {
            Expect::Blocked => "blocked",
            Expect::Absent => "absent",
            Expect::Refused => "refused",
            Expect::Error => "error",
        }
    }
}

/// One attack: a script, the policy it runs under, its arguments, and what must hold.
struct Case {
    script: &'static str,
    flags: Vec<&'static str>,
    args: Vec<&'static str>,
    /// The verdicts that pass (usually just `Blocked`).
    accept: Vec<Expect>,
    setup: Option<fn(&Sandbox)>,
    /// The script tries to listen on `{FREEPORT}`: connect to it while the script runs.
    watch_bind: bool,
    /// Text that must not appear on stdout (besides the secret, which is always checked).
    forbid: Vec<&'static str>,
    /// Text that must appear on stdout (a state line the script prints).
    require: Vec<&'static str>,
}

fn case(script: &'static str, flags: &[&'static str], args: &[&'static str]) -> Case {
    Case {
        script,
        flags: flags.to_vec(),
        args: args.to_vec(),
        accept: vec![Expect::Blocked],
        setup: None,
        watch_bind: false,
        forbid: Vec::new(),
        require: Vec::new(),
    }
}

impl Case {
    fn expect(mut self, expect: Expect) -> Case {
        self.accept = vec![expect];
        self
    }

    /// Also accept `expect` (an outcome that depends on how CPython was built, or on a
    /// guard that refuses earlier than the attack's own step).
    fn or(mut self, expect: Expect) -> Case {
        self.accept.push(expect);
        self
    }

    fn setup(mut self, setup: fn(&Sandbox)) -> Case {
        self.setup = Some(setup);
        self
    }

    fn flag(mut self, flag: &'static str) -> Case {
        self.flags.push(flag);
        self
    }

    fn watch_bind(mut self) -> Case {
        self.watch_bind = true;
        self
    }

    fn forbid(mut self, text: &'static str) -> Case {
        self.forbid.push(text);
        self
    }

    fn require(mut self, text: &'static str) -> Case {
        self.require.push(text);
        self
    }
}

/// Everything one case gets: folders, listeners, a secret. Dropped (and removed) after the
/// case unless it failed.
struct Sandbox {
    root: PathBuf,
    w: PathBuf,
    out: PathBuf,
    marker: PathBuf,
    tcp: TcpListener,
    tcp6: Option<TcpListener>,
    udp: UdpSocket,
    unix: UnixListener,
    dgram: UnixDatagram,
    abstract_name: String,
    abstract_listener: UnixListener,
    free_port: u16,
    secret: String,
}

impl Sandbox {
    fn new() -> Sandbox {
        let root = temp_dir("bx");
        let w = root.join("w");
        let out = root.join("out");
        std::fs::create_dir_all(w.join("dir")).expect("workspace");
        std::fs::create_dir_all(out.join("sub")).expect("outside folder");
        std::fs::write(w.join("file.txt"), "workspace file\n").expect("workspace file");
        std::fs::write(out.join("target.txt"), "original outside content\n").expect("target");
        std::fs::write(out.join("sub/inner.txt"), "inner outside file\n").expect("inner");
        std::fs::write(
            root.join("deny-loopback.toml"),
            "[network]\nallow = [\"*\"]\ndeny = [\"localhost\"]\n",
        )
        .expect("policy file");

        let tcp = TcpListener::bind("127.0.0.1:0").expect("tcp listener");
        tcp.set_nonblocking(true).expect("nonblocking");
        let tcp6 = TcpListener::bind("[::1]:0").ok();
        if let Some(l) = &tcp6 {
            l.set_nonblocking(true).expect("nonblocking");
        }
        let udp = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        udp.set_nonblocking(true).expect("nonblocking");
        let unix = UnixListener::bind(out.join("listen.sock")).expect("unix listener");
        unix.set_nonblocking(true).expect("nonblocking");
        let dgram = UnixDatagram::bind(out.join("dgram.sock")).expect("unix datagram");
        dgram.set_nonblocking(true).expect("nonblocking");
        let abstract_name = format!(
            "hermetic-test-{}",
            root.file_name().expect("name").to_string_lossy()
        );
        let address = UnixAddr::from_abstract_name(abstract_name.as_bytes()).expect("abstract");
        let abstract_listener = UnixListener::bind_addr(&address).expect("abstract listener");
        abstract_listener
            .set_nonblocking(true)
            .expect("nonblocking");
        let free_port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        Sandbox {
            marker: root.join("marker"),
            root,
            w,
            out,
            tcp,
            tcp6,
            udp,
            unix,
            dgram,
            abstract_name,
            abstract_listener,
            free_port,
            secret: format!("s3cret-value-{}-{nanos}", std::process::id()),
        }
    }

    fn port(listener: &TcpListener) -> u16 {
        listener.local_addr().expect("addr").port()
    }

    /// Replace the placeholders of a flag or argument.
    fn expand(&self, text: &str) -> String {
        let port6 = self.tcp6.as_ref().map(Sandbox::port).unwrap_or(1);
        text.replace("{T}", &self.root.to_string_lossy())
            .replace("{W}", &self.w.to_string_lossy())
            .replace("{OUT}", &self.out.to_string_lossy())
            .replace("{MARKER}", &self.marker.to_string_lossy())
            .replace("{PORT}", &Sandbox::port(&self.tcp).to_string())
            .replace("{PORT6}", &port6.to_string())
            .replace(
                "{UDP}",
                &self.udp.local_addr().expect("udp").port().to_string(),
            )
            .replace("{SOCK}", &self.out.join("listen.sock").to_string_lossy())
            .replace("{DGRAM}", &self.out.join("dgram.sock").to_string_lossy())
            .replace("{ABSTRACT}", &self.abstract_name)
            .replace("{FREEPORT}", &self.free_port.to_string())
            .replace("{SECRET_NAME}", SECRET_NAME)
            .replace("{FAKEBIN}", &self.root.join("fakebin").to_string_lossy())
            .replace("{FAKEPY}", &self.root.join("fakepy").to_string_lossy())
    }

    /// Everything under the sandbox except the workspace, with what can change.
    fn snapshot(&self) -> BTreeMap<PathBuf, String> {
        let mut map = BTreeMap::new();
        walk(&self.root, &self.root, &self.w, &mut map);
        map
    }

    /// What reached the listeners, one line each.
    fn arrivals(&self) -> Vec<String> {
        let mut seen = Vec::new();
        let mut drain_tcp = |listener: &TcpListener, what: &str| loop {
            match listener.accept() {
                Ok((mut stream, from)) => {
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
                    let mut data = Vec::new();
                    let _ = stream.read_to_end(&mut data);
                    seen.push(format!(
                        "{what}: a connection from {from} sent {:?}",
                        String::from_utf8_lossy(&data)
                    ));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    seen.push(format!("{what}: accept failed: {e}"));
                    break;
                }
            }
        };
        drain_tcp(&self.tcp, "TCP listener 127.0.0.1");
        if let Some(l) = &self.tcp6 {
            drain_tcp(l, "TCP listener [::1]");
        }
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.udp.recv_from(&mut buf) {
            seen.push(format!(
                "UDP socket: a datagram from {from}: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ));
        }
        for (listener, what) in [
            (&self.unix, "UNIX listener out/listen.sock"),
            (&self.abstract_listener, "abstract UNIX listener"),
        ] {
            while let Ok((mut stream, _)) = listener.accept() {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
                let mut data = Vec::new();
                let _ = stream.read_to_end(&mut data);
                seen.push(format!(
                    "{what}: a connection sent {:?}",
                    String::from_utf8_lossy(&data)
                ));
            }
        }
        while let Ok(n) = self.dgram.recv(&mut buf) {
            seen.push(format!(
                "UNIX datagram socket out/dgram.sock: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ));
        }
        seen
    }
}

fn walk(root: &Path, dir: &Path, skip: &Path, map: &mut BTreeMap<PathBuf, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == skip {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let kind = meta.file_type();
        // ctime moves on every metadata change (chmod, chown, xattrs, links).
        let mut text = format!(
            "mode {:o} uid {} gid {} nlink {} size {} mtime {}.{} ctime {}.{}",
            meta.mode(),
            meta.uid(),
            meta.gid(),
            meta.nlink(),
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec(),
            meta.ctime(),
            meta.ctime_nsec()
        );
        if kind.is_symlink() {
            let target = std::fs::read_link(&path).unwrap_or_default();
            let _ = write!(text, " -> {}", target.display());
        } else if kind.is_file() {
            let content = std::fs::read(&path).unwrap_or_default();
            let _ = write!(text, " content {:?}", String::from_utf8_lossy(&content));
        }
        let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        map.insert(relative, text);
        if kind.is_dir() {
            walk(root, &path, skip, map);
        }
    }
}

fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:{}".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

fn fixture(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bypass")
        .join(script)
}

/// Which interpreter runs a case.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Runner {
    /// hermetic-python with the case's flags and `--trace`.
    Hermetic,
    /// The plain CPython hermetic-python embeds, no policy: the controls.
    Plain,
}

/// Run one case in a fresh sandbox. `Ok` when everything held, else the report.
fn run_case(case: &Case, grace: Duration) -> Result<(), String> {
    run_case_with(case, grace, Runner::Hermetic).map_err(|(report, _)| report)
}

/// As [`run_case`]; the error also carries the list of problems seen.
fn run_case_with(
    case: &Case,
    grace: Duration,
    runner: Runner,
) -> Result<(), (String, Vec<String>)> {
    let sb = Sandbox::new();
    if let Some(setup) = case.setup {
        setup(&sb);
    }
    let script = fixture(case.script);
    assert!(script.is_file(), "missing fixture {}", script.display());
    let program = match runner {
        Runner::Hermetic => hermetic_bin(),
        Runner::Plain => common::python_bin(),
    };
    let mut hermetic_args: Vec<String> = Vec::new();
    if runner == Runner::Hermetic {
        hermetic_args.push("--trace".to_string());
        hermetic_args.extend(case.flags.iter().map(|f| sb.expand(f)));
    }
    hermetic_args.push(script.to_string_lossy().into_owned());
    hermetic_args.extend(case.args.iter().map(|a| sb.expand(a)));
    let shown = format!(
        "cd {} && {SECRET_NAME}=<secret> {} {}",
        shell_quote(&sb.w.to_string_lossy()),
        program.display(),
        hermetic_args
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    );

    let before = sb.snapshot();
    let logs = sb.root.with_extension("logs");
    std::fs::create_dir_all(&logs).expect("logs folder");
    let stdout_path = logs.join("stdout");
    let stderr_path = logs.join("stderr");
    // Through a shell that stays the parent (no exec), so the script's parent process also
    // holds the secret in its environment (/proc/<ppid>/environ).
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg("\"$@\"; exit $?")
        .arg("sh")
        .arg(&program)
        .args(&hermetic_args)
        .current_dir(&sb.w)
        .env(SECRET_NAME, &sb.secret)
        .env_remove("HERMETIC_POLICY")
        .env_remove("PYTHONSTARTUP")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
    let started = Instant::now();
    let mut child = command.spawn().expect("spawn hermetic-python");
    let mut bound = Vec::new();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if case.watch_bind {
            let address = SocketAddr::from(([127, 0, 0, 1], sb.free_port));
            if TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_ok() {
                bound.push(format!("something accepted a connection on {address}"));
            }
        }
        if started.elapsed() > CASE_TIMEOUT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait after kill");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(grace);
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();

    let mut problems = Vec::new();
    if timed_out {
        problems.push(format!("killed after {CASE_TIMEOUT:?}"));
    }
    let verdict = stdout
        .lines()
        .rfind(|l| l.starts_with("VERDICT "))
        .unwrap_or("");
    let matched = case
        .accept
        .iter()
        .find(|e| verdict.starts_with(&format!("VERDICT {}", e.word())));
    match matched {
        None if verdict.is_empty() => problems.push(format!(
            "no verdict line (wanted {:?}), exit status {status}",
            case.accept
        )),
        None => problems.push(format!("verdict: {verdict}")),
        Some(Expect::Blocked) if !stderr.contains("hermetic: blocked") => {
            problems.push("verdict says blocked but hermetic traced no block".to_string())
        }
        Some(_) => {}
    }
    if sb.marker.exists() {
        problems.push(format!(
            "side effect: the marker {} exists (a child process ran)",
            sb.marker.display()
        ));
    }
    let after = sb.snapshot();
    for (path, meta) in &after {
        match before.get(path) {
            None => problems.push(format!(
                "side effect: created outside the workspace: {} ({meta})",
                path.display()
            )),
            Some(old) if old != meta => problems.push(format!(
                "side effect: changed outside the workspace: {}\n      before: {old}\n      after:  {meta}",
                path.display()
            )),
            Some(_) => {}
        }
    }
    for path in before.keys().filter(|p| !after.contains_key(*p)) {
        problems.push(format!(
            "side effect: removed outside the workspace: {}",
            path.display()
        ));
    }
    if !sb.w.is_dir() {
        problems.push("side effect: the workspace itself is gone".to_string());
    }
    problems.extend(
        sb.arrivals()
            .into_iter()
            .map(|a| format!("side effect: {a}")),
    );
    problems.extend(
        bound
            .into_iter()
            .take(1)
            .map(|b| format!("side effect: {b}")),
    );
    if stdout.contains(&sb.secret) || stderr.contains(&sb.secret) {
        problems.push("side effect: the secret value was printed".to_string());
    }
    for text in &case.forbid {
        if stdout.contains(text) {
            problems.push(format!("side effect: stdout contains {text:?}"));
        }
    }
    for text in &case.require {
        if !stdout.contains(text) {
            problems.push(format!("stdout lacks {text:?}"));
        }
    }

    let elapsed = started.elapsed();
    if std::env::var_os("HERMETIC_SECURITY_VERBOSE").is_some() {
        eprintln!(
            "{} {:?} ({elapsed:.1?}): {verdict}",
            case.script, case.flags
        );
    }
    if problems.is_empty() {
        let _ = std::fs::remove_dir_all(&sb.root);
        let _ = std::fs::remove_dir_all(&logs);
        return Ok(());
    }
    let policy = if case.flags.is_empty() {
        "the default policy".to_string()
    } else {
        case.flags.join(" ")
    };
    let mut report = format!(
        "{} under {policy} ({elapsed:.1?})\n  command: {shown}\n",
        case.script
    );
    for problem in &problems {
        let _ = writeln!(report, "  - {problem}");
    }
    let _ = writeln!(report, "  --- stdout\n{}", tail(&stdout, 25));
    let _ = writeln!(report, "  --- stderr\n{}", tail(&stderr, 12));
    if runner == Runner::Hermetic && std::env::var_os("HERMETIC_SECURITY_KEEP").is_some() {
        let _ = writeln!(report, "  (sandbox kept at {})", sb.root.display());
    } else {
        let _ = std::fs::remove_dir_all(&sb.root);
        let _ = std::fs::remove_dir_all(&logs);
    }
    Err((report, problems))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Run every case of a class; fail once, listing every case that failed.
fn run_class(class: &str, cases: Vec<Case>, grace: Duration) {
    let started = Instant::now();
    let mut keys: Vec<(&str, &[&str])> = cases.iter().map(|c| (c.script, &c.flags[..])).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), cases.len(), "{class}: a case is listed twice");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| run_case(c, grace).err())
        .collect();
    eprintln!(
        "{class}: {} cases, {} failed, {:.1?}",
        cases.len(),
        failures.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {} {class} escape attempts were not contained:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The controls: a few attacks run under the plain CPython (no policy), where each of the
/// side-effect detectors above must see what the attack did. A detector that sees nothing
/// here would let every case pass.
#[test]
fn the_side_effect_detectors_see_real_escapes() {
    let controls: Vec<(Case, &str)> = vec![
        (case("subprocess_run.py", DEFAULT, MARKER), "the marker"),
        (
            case("subprocess_pathlike_program.py", DEFAULT, MARKER),
            "the marker",
        ),
        (case("filesystem_fileio.py", FS, W_OUT), "created outside"),
        (
            case("filesystem_fileio_pathlike.py", FS, W_OUT),
            "created outside",
        ),
        (
            case("filesystem_sqlite_pathlike.py", FS, W_OUT),
            "created outside",
        ),
        (
            case("filesystem_symlink_swap_race.py", FS, W_OUT),
            "changed outside",
        ),
        (case("filesystem_chmod.py", FS, W_OUT), "changed outside"),
        (case("filesystem_setxattr.py", FS, W_OUT), "changed outside"),
        (
            case("filesystem_remove_outside.py", FS, W_OUT),
            "removed outside",
        ),
        (
            case("filesystem_rename_workspace.py", FS, W_OUT),
            "workspace itself",
        ),
        (
            case("network_captured_class.py", DEFAULT, PORT),
            "TCP listener 127.0.0.1",
        ),
        (
            case("network_ipv6_loopback.py", DENY_LOOPBACK, PORTS),
            "TCP listener [::1]",
        ),
        (case("network_udp_sendto.py", DEFAULT, UDP), "UDP socket"),
        (
            case("network_unix_connect.py", DEFAULT, &["{SOCK}"]),
            "UNIX listener",
        ),
        (
            case("network_unix_dgram.py", DEFAULT, &["{DGRAM}"]),
            "UNIX datagram",
        ),
        (
            case("network_unix_abstract.py", DEFAULT, &["{ABSTRACT}"]),
            "abstract UNIX",
        ),
        (
            case("network_bind_any.py", DEFAULT, &["{FREEPORT}"]).watch_bind(),
            "accepted a connection",
        ),
        (
            case("environment_proc_self.py", ENV, SECRET),
            "secret value",
        ),
        (
            case("environment_putenv.py", ENV_RUN, SECRET).forbid("HERMETIC_INJECTED_VARIABLE=1"),
            "HERMETIC_INJECTED_VARIABLE=1",
        ),
    ];
    let mut missed = Vec::new();
    for (control, wanted) in &controls {
        match run_case_with(control, SPAWN_GRACE, Runner::Plain) {
            Ok(()) => missed.push(format!("{}: nothing was detected", control.script)),
            Err((report, problems)) => {
                if !problems.iter().any(|p| p.contains(wanted)) {
                    missed.push(format!(
                        "{}: no problem mentions {wanted:?}\n{report}",
                        control.script
                    ));
                }
            }
        }
    }
    assert!(
        missed.is_empty(),
        "detectors that missed a real escape:\n{}",
        missed.join("\n")
    );
}

/// Every fixture file belongs to exactly one case.
#[test]
fn every_fixture_is_a_case() {
    let mut listed: Vec<&str> = [
        network_cases(),
        subprocess_cases(),
        filesystem_cases(),
        environment_cases(),
        native_cases(),
        tamper_cases(),
    ]
    .into_iter()
    .flatten()
    .map(|c| c.script)
    .collect();
    listed.sort_unstable();
    listed.dedup();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bypass");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        // `_name.py` files are helpers the cases import, not cases.
        .filter(|n| n.ends_with(".py") && !n.starts_with('_'))
        .collect();
    files.sort_unstable();
    assert_eq!(listed, files, "fixtures and cases differ");
    assert!(listed.len() >= 70);
}

// ---------------------------------------------------------------------------------------
// Setups: files some cases need before the script starts.

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, body).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn touch_script(sb: &Sandbox) -> String {
    format!("#!/bin/sh\n/usr/bin/touch '{}'\n", sb.marker.display())
}

/// `{FAKEBIN}/echo` is a symlink to the shell.
fn fake_bin_symlink(sb: &Sandbox) {
    let bin = sb.root.join("fakebin");
    std::fs::create_dir_all(&bin).expect("fakebin");
    std::os::unix::fs::symlink("/bin/sh", bin.join("echo")).expect("symlink");
}

/// `{FAKEBIN}/{echo,gcc,cc,ld,objdump}` are scripts that create the marker.
fn fake_bin_scripts(sb: &Sandbox) {
    let bin = sb.root.join("fakebin");
    std::fs::create_dir_all(&bin).expect("fakebin");
    for name in ["echo", "gcc", "cc", "ld", "objdump"] {
        write_script(&bin.join(name), &touch_script(sb));
    }
}

/// `{FAKEPY}`: a stand-in interpreter that creates the marker.
fn fake_python(sb: &Sandbox) {
    write_script(&sb.root.join("fakepy"), &touch_script(sb));
}

/// `W/bin/run` -> /bin/echo (granted); `W/evil/bin/run` creates the marker.
fn relative_programs(sb: &Sandbox) {
    std::fs::create_dir_all(sb.w.join("bin")).expect("bin");
    std::fs::create_dir_all(sb.w.join("evil/bin")).expect("evil/bin");
    std::os::unix::fs::symlink("/bin/echo", sb.w.join("bin/run")).expect("symlink");
    write_script(&sb.w.join("evil/bin/run"), &touch_script(sb));
}

/// `W/sh`: executable, but neither ELF nor `#!` (execve fails with ENOEXEC).
fn garbage_sh(sb: &Sandbox) {
    write_script(&sb.w.join("sh"), "\u{1}\u{2} not a program\n");
}

/// `W/sh`: a copy of /bin/true.
fn true_sh(sb: &Sandbox) {
    std::fs::copy("/bin/true", sb.w.join("sh")).expect("copy /bin/true");
    std::fs::set_permissions(sb.w.join("sh"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
}

/// `W/link` -> the outside folder.
fn planted_link(sb: &Sandbox) {
    std::os::unix::fs::symlink(&sb.out, sb.w.join("link")).expect("symlink");
}

/// The standard library's `_json` extension copied into the workspace.
fn copied_json_so(sb: &Sandbox) {
    let dynload = Path::new(env!("HERMETIC_PYTHON_PREFIX")).join(format!(
        "lib/python{}/lib-dynload",
        env!("HERMETIC_PYTHON_VERSION")
            .split('.')
            .take(2)
            .collect::<Vec<_>>()
            .join(".")
    ));
    let source = std::fs::read_dir(&dynload)
        .expect("lib-dynload")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| n.starts_with("_json.") && n.ends_with(".so"))
        })
        .expect("_json extension");
    std::fs::copy(&source, sb.w.join(source.file_name().expect("name"))).expect("copy .so");
}

// ---------------------------------------------------------------------------------------
// The cases.

fn network_cases() -> Vec<Case> {
    vec![
        case("network_captured_class.py", DEFAULT, PORT),
        case("network_raw_socket_module.py", DEFAULT, PORT),
        case("network_fresh_socket_module.py", DEFAULT, PORT),
        case("network_fromfd.py", DEFAULT, PORT),
        case("network_udp_sendto.py", DEFAULT, UDP),
        case("network_udp_sendmsg.py", DEFAULT, UDP),
        case("network_udp_connect_send.py", DEFAULT, UDP),
        case("network_asyncio.py", DEFAULT, PORT),
        case("network_http_client.py", DEFAULT, PORT),
        case("network_urllib.py", DEFAULT, PORT),
        case("network_bind_any.py", DEFAULT, &["{FREEPORT}"]).watch_bind(),
        case("network_bind_empty_host.py", DEFAULT, &["{FREEPORT}"]).watch_bind(),
        case("network_unix_connect.py", DEFAULT, &["{SOCK}"]),
        case("network_unix_symlink.py", FS, &["{W}", "{SOCK}"]),
        case("network_unix_abstract.py", DEFAULT, &["{ABSTRACT}"]),
        case("network_unix_dgram.py", DEFAULT, &["{DGRAM}"]),
        case("network_ipv6_loopback.py", DENY_LOOPBACK, PORTS),
        case("network_ipv4_mapped.py", DENY_LOOPBACK, PORTS),
        case("network_inet_aton_decimal.py", DENY_LOOPBACK, PORTS),
        case("network_inet_aton_short.py", DENY_LOOPBACK, PORTS),
        case("network_inet_aton_spellings.py", DENY_LOOPBACK, PORTS),
        case("network_unspecified_address.py", DENY_LOOPBACK, PORTS),
        case("network_empty_host.py", DENY_LOOPBACK, PORTS),
        case("network_hostname_alias.py", DENY_LOOPBACK, PORT).flag("--allow-read=/etc/hosts"),
    ]
}

fn subprocess_cases() -> Vec<Case> {
    vec![
        case("subprocess_run.py", DEFAULT, MARKER),
        case("subprocess_pathlike_program.py", DEFAULT, MARKER),
        case("subprocess_shell_true.py", DEFAULT, MARKER),
        case("subprocess_os_system.py", DEFAULT, MARKER),
        case("subprocess_os_popen.py", DEFAULT, MARKER),
        case("subprocess_posix_spawn.py", DEFAULT, MARKER),
        case("subprocess_posix_spawnp.py", DEFAULT, MARKER),
        case("subprocess_os_spawnv.py", DEFAULT, MARKER),
        case("subprocess_os_spawnlp.py", DEFAULT, MARKER),
        case("subprocess_os_execv.py", DEFAULT, MARKER),
        case("subprocess_os_fork_execv.py", DEFAULT, MARKER),
        case("subprocess_pty_fork.py", DEFAULT, MARKER),
        case("subprocess_pty_spawn.py", DEFAULT, MARKER),
        case("subprocess_asyncio.py", DEFAULT, MARKER),
        case("subprocess_fork_exec.py", DEFAULT, MARKER),
        case("subprocess_fresh_fork_exec.py", DEFAULT, MARKER),
        case("subprocess_spawnv_passfds.py", DEFAULT, MARKER),
        case("subprocess_env_path_trick.py", DEFAULT, MARKER),
        case("subprocess_mp_fork.py", DEFAULT, MARKER),
        case("subprocess_mp_spawn.py", DEFAULT, &["{MARKER}", "{FAKEPY}"]).setup(fake_python),
        case(
            "subprocess_mp_forkserver.py",
            DEFAULT,
            &["{MARKER}", "{FAKEPY}"],
        )
        .setup(fake_python),
        case("subprocess_webbrowser.py", DEFAULT, MARKER),
        case(
            "subprocess_find_library.py",
            &[
                "--allow-native=ctypes",
                "--allow-read={W}",
                "--allow-write={W}",
            ],
            &["{MARKER}", "{FAKEBIN}"],
        )
        .setup(fake_bin_scripts),
        case("subprocess_popen_executable.py", RUN_ECHO, MARKER),
        case(
            "subprocess_symlink_granted_name.py",
            RUN_ECHO,
            &["{MARKER}", "{FAKEBIN}"],
        )
        .setup(fake_bin_symlink),
        case("subprocess_relative_program_cwd.py", RUN_ECHO, MARKER).setup(relative_programs),
        case("subprocess_relative_path_entry.py", RUN_ECHO, MARKER).setup(relative_programs),
        case(
            "subprocess_enoexec_fallthrough.py",
            &["--allow-run={W}/sh"],
            &["{MARKER}", "{W}"],
        )
        .setup(garbage_sh)
        .or(Expect::Error),
        case(
            "subprocess_etxtbsy_fallthrough.py",
            &[
                "--allow-run={W}/sh",
                "--allow-read={W}",
                "--allow-write={W}",
            ],
            &["{MARKER}", "{W}"],
        )
        .setup(true_sh)
        .or(Expect::Error),
        case(
            "subprocess_posix_spawnp_path.py",
            RUN_ECHO,
            &["{MARKER}", "{FAKEBIN}"],
        )
        .setup(fake_bin_scripts),
    ]
}

fn filesystem_cases() -> Vec<Case> {
    vec![
        case("filesystem_symlink_planted.py", FS, W_OUT).setup(planted_link),
        case("filesystem_dotdot.py", FS, W_OUT),
        case("filesystem_dir_fd_open.py", FS_READ_OUT, W_OUT),
        case("filesystem_dir_fd_ops.py", FS_READ_OUT, W_OUT),
        case("filesystem_fileio.py", FS, W_OUT),
        case("filesystem_io_open.py", FS, W_OUT),
        case("filesystem_append_existing.py", FS, W_OUT),
        case("filesystem_rename_out.py", FS, W_OUT),
        case("filesystem_rename_in.py", FS, W_OUT),
        case("filesystem_rename_via_symlinked_dir.py", FS, W_OUT).setup(planted_link),
        case("filesystem_hardlink_in.py", FS, W_OUT),
        case("filesystem_hardlink_out.py", FS, W_OUT),
        case("filesystem_symlink_write_through.py", FS, W_OUT),
        case("filesystem_symlink_dangling_create.py", FS, W_OUT),
        case("filesystem_symlink_outside.py", FS, W_OUT),
        case("filesystem_shutil_copy.py", FS, W_OUT),
        case("filesystem_shutil_move.py", FS, W_OUT),
        case("filesystem_shutil_rmtree.py", FS_READ_OUT, W_OUT),
        case("filesystem_pathlib.py", FS, W_OUT),
        case("filesystem_tempfile.py", FS, W_OUT),
        case("filesystem_sqlite_connect.py", FS, W_OUT),
        case("filesystem_sqlite_pathlike.py", FS, W_OUT),
        case("filesystem_fileio_pathlike.py", FS, W_OUT),
        case("filesystem_symlink_swap_race.py", FS, W_OUT),
        case("filesystem_sqlite_uri_encoded.py", FS, W_OUT),
        case("filesystem_sqlite_attach.py", FS, W_OUT),
        case("filesystem_mmap_write.py", FS_READ_OUT, W_OUT),
        case("filesystem_truncate.py", FS, W_OUT),
        case("filesystem_chmod.py", FS, W_OUT),
        case("filesystem_utime.py", FS, W_OUT),
        case("filesystem_chown.py", FS, W_OUT),
        case("filesystem_setxattr.py", FS, W_OUT),
        case("filesystem_remove_outside.py", FS, W_OUT),
        case("filesystem_mkdir_outside.py", FS, W_OUT),
        case("filesystem_mkfifo.py", FS, W_OUT),
        case("filesystem_mknod.py", FS, W_OUT),
        case("filesystem_remove_workspace.py", FS, W_OUT),
        case("filesystem_rename_workspace.py", FS, W_OUT),
        case("filesystem_proc_cwd.py", FS, W_OUT),
        case("filesystem_proc_fd_reopen.py", FS_READ_OUT, W_OUT),
        case("filesystem_unix_bind.py", FS, W_OUT),
        case("filesystem_o_tmpfile.py", FS, W_OUT),
        case("filesystem_chdir_relative.py", FS, W_OUT),
        case("filesystem_posix_spawn_file_actions.py", FS, W_OUT).flag("--allow-run=/bin/true"),
        case("filesystem_readline_history.py", FS, W_OUT),
        case("filesystem_tarfile_symlink.py", FS, W_OUT),
        case("filesystem_mkfifo_dir_fd.py", FS_READ_OUT, W_OUT),
        case("filesystem_fd_metadata.py", FS_READ_OUT, W_OUT),
        case("filesystem_read_outside.py", FS, W_OUT)
            .forbid("original outside content")
            .forbid("inner.txt"),
    ]
}

fn environment_cases() -> Vec<Case> {
    vec![
        case("environment_os_environ.py", ENV, SECRET).expect(Expect::Absent),
        case("environment_getenv.py", ENV, SECRET).expect(Expect::Absent),
        case("environment_posix_environ.py", ENV, SECRET).expect(Expect::Absent),
        case("environment_environb.py", ENV, SECRET).expect(Expect::Absent),
        case("environment_reload_os.py", ENV, SECRET).expect(Expect::Absent),
        case("environment_fresh_posix.py", ENV, SECRET)
            .expect(Expect::Absent)
            .or(Expect::Blocked),
        case("environment_proc_self.py", ENV, SECRET),
        case("environment_proc_pid.py", ENV, SECRET),
        case("environment_proc_ppid.py", ENV, SECRET),
        case("environment_proc_task.py", ENV, SECRET),
        case("environment_proc_thread_self.py", ENV, SECRET),
        case("environment_proc_spellings.py", ENV, SECRET),
        case("environment_proc_dir_fd.py", ENV, SECRET),
        case("environment_proc_mem.py", ENV, SECRET),
        case("environment_child.py", ENV_RUN, SECRET).expect(Expect::Absent),
        case("environment_putenv.py", ENV_RUN, SECRET).forbid("HERMETIC_INJECTED_VARIABLE=1"),
    ]
}

fn native_cases() -> Vec<Case> {
    let clean = "state: native modules in sys.modules: none";
    vec![
        case("native_import_ctypes.py", DEFAULT, MARKER).require(clean),
        case("native_import__ctypes.py", DEFAULT, MARKER).require(clean),
        case("native_import_module_ctypes.py", DEFAULT, MARKER).require(clean),
        case("native_dunder_import.py", DEFAULT, MARKER).require(clean),
        case("native_spec_from_file.py", DEFAULT, MARKER).require(clean),
        case("native_extension_loader.py", DEFAULT, MARKER).require(clean),
        case("native_imp_create_dynamic.py", DEFAULT, MARKER).require(clean),
        case("native_renamed_ctypes.py", DEFAULT, MARKER).require(clean),
        case("native_sqlite_load_extension.py", DEFAULT, MARKER)
            .or(Expect::Absent)
            .require(clean),
        case("native_copied_so.py", FS, &["{MARKER}", "{W}"])
            .setup(copied_json_so)
            .require(clean),
        case("native_site_packages.py", DEFAULT, MARKER)
            .or(Expect::Absent)
            .require(clean),
        case("native_cffi.py", DEFAULT, MARKER)
            .or(Expect::Absent)
            .require(clean),
    ]
}

fn tamper_cases() -> Vec<Case> {
    let no_smtplib: &[&str] = &["--deny-import=smtplib"];
    vec![
        case("tamper_addaudithook.py", DEFAULT, PORT),
        case("tamper_gc_fork_exec.py", DEFAULT, MARKER),
        case("tamper_gc_referrers.py", DEFAULT, MARKER),
        case("tamper_gc_getaddrinfo.py", DEFAULT, PORT),
        case("tamper_gc_posix_originals.py", FS, W_OUT),
        case("tamper_hermetic_private.py", DEFAULT, MARKER).expect(Expect::Refused),
        case("tamper_hermetic_public.py", DEFAULT, PORT),
        case("tamper_reimport_posixsubprocess.py", DEFAULT, MARKER),
        case("tamper_reimport_socket.py", DEFAULT, PORT),
        case("tamper_reimport_os_posix.py", FS, W_OUT),
        case("tamper_reload_socket.py", DEFAULT, PORT),
        case("tamper_reload_os.py", FS, W_OUT),
        case("tamper_fresh_posix.py", FS_READ_OUT, W_OUT),
        case("tamper_create_builtin_spec.py", FS, W_OUT).or(Expect::Error),
        case("tamper_fresh_imp.py", FS, W_OUT),
        case("tamper_finalization_del.py", DEFAULT, MARKER),
        case("tamper_builtins_swap.py", FS, W_OUT),
        case("tamper_settrace.py", RUN_ECHO, MARKER),
        // Absent before 3.12, where sys.monitoring does not exist.
        case("tamper_sys_monitoring.py", DEFAULT, MARKER).or(Expect::Absent),
        case("tamper_setprofile.py", DEFAULT, MARKER),
        case("tamper_getframe_bootstrap.py", DEFAULT, MARKER),
        case("tamper_subclasses.py", DEFAULT, MARKER),
        case("tamper_closure_excepthook.py", DEFAULT, MARKER),
        case("tamper_closure_wrappers.py", DEFAULT, MARKER),
        case("tamper_subinterp_spawn.py", DEFAULT, MARKER),
        case("tamper_subinterp_connect.py", DEFAULT, PORT),
        case("tamper_subinterp_files.py", FS, W_OUT),
        // The same attacks with subinterpreters granted: they run inside one.
        // Some builds refuse subprocesses in subinterpreters themselves (Debian's 3.11:
        // "subprocess not supported for isolated subinterpreters"): an error, contained.
        case("tamper_subinterp_spawn.py", &["--allow-native"], MARKER).or(Expect::Error),
        case("tamper_subinterp_connect.py", &["--allow-native"], PORT),
        case("tamper_subinterp_files.py", FS, W_OUT).flag("--allow-native"),
        case("tamper_deny_import_import_module.py", no_smtplib, &[]),
        case("tamper_deny_import_loaders.py", no_smtplib, &[]),
    ]
}

// ---------------------------------------------------------------------------------------
// One test per class.

const SPAWN_GRACE: Duration = Duration::from_millis(150);

#[test]
fn network_escapes_are_contained() {
    run_class("network", network_cases(), Duration::ZERO);
}

#[test]
fn subprocess_escapes_are_contained() {
    run_class("subprocess", subprocess_cases(), SPAWN_GRACE);
}

#[test]
fn filesystem_escapes_are_contained() {
    run_class("filesystem", filesystem_cases(), Duration::ZERO);
}

#[test]
fn environment_escapes_are_contained() {
    run_class("environment", environment_cases(), Duration::ZERO);
}

#[test]
fn native_escapes_are_contained() {
    run_class("native", native_cases(), SPAWN_GRACE);
}

#[test]
fn tamper_escapes_are_contained() {
    run_class("tamper", tamper_cases(), SPAWN_GRACE);
}

/// Escapes the in-process layers cannot close, each named in docs/threat-model.md. The
/// scripts in tests/fixtures/gaps/ must still escape (run under the policy they state):
/// when one stops escaping, move it to the contained cases and update the threat model.
#[test]
fn documented_gaps_are_real_and_documented() {
    let threat_model =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/threat-model.md"))
            .expect("threat model");
    let gaps: &[(&str, &str)] = &[("openssl_cafile.py", "tests/fixtures/gaps/openssl_cafile.py")];
    for (script, phrase) in gaps {
        assert!(
            threat_model.contains(phrase),
            "docs/threat-model.md does not name the gap {script} ({phrase})"
        );
        let sb = Sandbox::new();
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/gaps")
            .join(script);
        let w = sb.w.to_str().expect("path").to_string();
        let out = sb.out.to_str().expect("path").to_string();
        let run = Command::new(env!("CARGO_BIN_EXE_hermetic-python"))
            .args([&format!("--allow-read={w}"), &format!("--allow-write={w}")])
            .arg(&path)
            .args([&w, &out])
            .current_dir(&sb.w)
            .output()
            .expect("run");
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            stdout.contains("VERDICT ESCAPED"),
            "{script} no longer escapes: {stdout}"
        );
    }
}
