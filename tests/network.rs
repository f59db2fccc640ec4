//! The network capability, end to end: a loopback listener started by the test, a script
//! that tries to reach it, and a check of what the listener actually saw.

mod common;

use std::io::{ErrorKind, Read};
use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use common::{hermetic, Run};

/// A loopback TCP listener that can tell whether anything connected.
struct Listener {
    inner: TcpListener,
}

impl Listener {
    fn new() -> Listener {
        let inner = TcpListener::bind("127.0.0.1:0").expect("bind");
        inner.set_nonblocking(true).expect("nonblocking");
        Listener { inner }
    }

    fn port(&self) -> u16 {
        self.inner.local_addr().expect("addr").port()
    }

    /// Everything that connected since, with what each sent.
    fn received(&self) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.inner.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).expect("blocking");
                    stream
                        .set_read_timeout(Some(Duration::from_secs(2)))
                        .expect("timeout");
                    let mut text = String::new();
                    let _ = stream.read_to_string(&mut text);
                    seen.push(text);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return seen,
                Err(e) => panic!("accept: {e}"),
            }
        }
    }
}

fn connect_script(port: u16) -> String {
    format!("import socket\ns = socket.create_connection(('127.0.0.1', {port}))\ns.sendall(b'hello')\ns.close()\nprint('sent')\n")
}

fn run_with(options: &[&str], code: &str) -> Run {
    let mut args = options.to_vec();
    args.extend_from_slice(&["-c", code]);
    hermetic(&args)
}

#[test]
fn default_policy_blocks_a_loopback_connect_and_nothing_arrives() {
    let listener = Listener::new();
    let port = listener.port();
    let run = run_with(&[], &connect_script(port));
    assert_eq!(run.code, 77, "{}", run.dump());
    assert!(
        run.stderr
            .contains("hermetic.PolicyViolation: blocked net.connect"),
        "{}",
        run.dump()
    );
    let summary = format!("hermetic: blocked net.connect 127.0.0.1:{port} (not granted by the built-in default policy)\n  hint: allow it with --allow-net=127.0.0.1:{port} or [network] allow = [\"127.0.0.1:{port}\"]\n");
    assert!(run.stderr.ends_with(&summary), "{}", run.dump());
    assert_eq!(run.stdout, "");
    assert!(listener.received().is_empty(), "a connection arrived");
}

#[test]
fn the_violation_is_a_permission_error_and_importable() {
    let code = "import socket, hermetic\ntry:\n    socket.create_connection(('127.0.0.1', 9))\nexcept PermissionError as e:\n    print(type(e).__name__, isinstance(e, hermetic.PolicyViolation), issubclass(hermetic.PolicyViolation, PermissionError))\n";
    let run = run_with(&[], code);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "PolicyViolation True True\n"),
        "{}",
        run.dump()
    );
    assert_eq!(run.stderr, "", "no trace without --trace");
}

#[test]
fn localhost_grants_connect() {
    for options in [
        &["--allow-net=localhost"][..],
        &["--allow-localhost"],
        &["--no-network", "--allow-localhost"],
        &["--allow-net"],
        &["--profile", "net-hermetic"],
    ] {
        let listener = Listener::new();
        let run = run_with(options, &connect_script(listener.port()));
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (0, "sent\n"),
            "{options:?}: {}",
            run.dump()
        );
        assert_eq!(
            listener.received(),
            vec!["hello".to_string()],
            "{options:?}"
        );
    }
}

#[test]
fn a_port_grant_opens_that_port_only() {
    let listener = Listener::new();
    let other = Listener::new();
    let grant = format!("--allow-net=127.0.0.1:{}", listener.port());
    let run = run_with(&[&grant], &connect_script(listener.port()));
    assert_eq!(run.code, 0, "{}", run.dump());
    let run = run_with(&[&grant], &connect_script(other.port()));
    assert_eq!(run.code, 77, "{}", run.dump());
    assert_eq!(listener.received().len(), 1);
    assert!(other.received().is_empty());
}

#[test]
fn allow_all_with_no_network_is_the_seeds_no_network() {
    let listener = Listener::new();
    let run = run_with(
        &["--allow-all", "--no-network"],
        &connect_script(listener.port()),
    );
    assert_eq!(run.code, 77, "{}", run.dump());
    assert!(listener.received().is_empty());
}

#[test]
fn captured_references_and_private_modules_cannot_connect() {
    let listener = Listener::new();
    let port = listener.port();
    let code = format!(
        r#"
import socket, _socket, gc
from socket import socket as Captured
keep = socket.socket()
attempts = {{
    "captured class": lambda: Captured().connect(("127.0.0.1", {port})),
    "_socket.socket": lambda: _socket.socket().connect(("127.0.0.1", {port})),
    "base class": lambda: socket.socket.__bases__[0]().connect(("127.0.0.1", {port})),
    "connect_ex": lambda: socket.socket().connect_ex(("127.0.0.1", {port})),
    "inet_aton form": lambda: socket.socket().connect(("2130706433", {port})),
    "ipv4-mapped v6": lambda: socket.socket(socket.AF_INET6).connect(("::ffff:127.0.0.1", {port})),
    "fromfd copy": lambda: socket.fromfd(keep.fileno(), socket.AF_INET, socket.SOCK_STREAM).connect(("127.0.0.1", {port})),
    "http.client": lambda: __import__("http.client").client.HTTPConnection("127.0.0.1", {port}).request("GET", "/"),
    "urllib": lambda: __import__("urllib.request").request.urlopen("http://127.0.0.1:{port}/"),
    "udp sendto": lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", {port})),
}}
for name, attempt in attempts.items():
    try:
        attempt()
        print(name, "CONNECTED")
    except PermissionError:
        print(name, "denied")
    except Exception as e:
        print(name, "denied" if "blocked" in str(e) else "other: %r" % e)
"#
    );
    let run = run_with(&["--trace"], &code);
    assert_eq!(run.code, 0, "{}", run.dump());
    for line in run.stdout.lines() {
        assert!(line.ends_with(" denied"), "{line}\n{}", run.dump());
    }
    assert_eq!(run.stdout.lines().count(), 10);
    assert!(listener.received().is_empty(), "a connection arrived");
    assert!(
        run.stderr
            .lines()
            .all(|l| l.starts_with("hermetic: blocked net.")),
        "{}",
        run.dump()
    );
}

#[test]
fn udp_datagrams_are_checked() {
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("udp");
    receiver.set_nonblocking(true).expect("nonblocking");
    let port = receiver.local_addr().expect("addr").port();
    let code = format!("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ntry:\n    s.sendto(b'leak', ('127.0.0.1', {port}))\nexcept PermissionError:\n    print('denied')\n");
    let run = run_with(&[], &code);
    assert_eq!(run.stdout, "denied\n", "{}", run.dump());
    let mut buf = [0u8; 16];
    assert!(receiver.recv_from(&mut buf).is_err(), "a datagram arrived");
    let run = run_with(
        &["--allow-localhost"],
        &code.replace("print('denied')", "pass"),
    );
    assert_eq!(run.code, 0, "{}", run.dump());
    std::thread::sleep(Duration::from_millis(100));
    let (n, _) = receiver.recv_from(&mut buf).expect("datagram");
    assert_eq!(&buf[..n], b"leak");
}

#[test]
fn asyncio_works_under_the_default_policy() {
    let code = "import asyncio\nasync def main():\n    await asyncio.sleep(0)\n    return 42\nprint(asyncio.run(main()))\n";
    let run = run_with(&[], code);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "42\n"),
        "{}",
        run.dump()
    );
}

#[test]
fn asyncio_connections_go_through_the_same_decision() {
    let listener = Listener::new();
    let code = format!(
        "import asyncio\nasync def main():\n    r, w = await asyncio.open_connection('localhost', {})\n    w.write(b'async')\n    await w.drain()\n    w.close()\n    await w.wait_closed()\n    print('sent')\nasyncio.run(main())\n",
        listener.port()
    );
    let run = run_with(&[], &code);
    assert_eq!(run.code, 77, "{}", run.dump());
    assert!(
        run.stderr.contains("blocked net.lookup localhost"),
        "{}",
        run.dump()
    );
    assert!(listener.received().is_empty());
    let run = run_with(&["--allow-net=localhost"], &code);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "sent\n"),
        "{}",
        run.dump()
    );
    assert_eq!(listener.received(), vec!["async".to_string()]);
}

#[test]
fn binds_beyond_loopback_need_a_grant() {
    let code = "import socket\nfor host in ('127.0.0.1', '0.0.0.0', ''):\n    s = socket.socket()\n    try:\n        s.bind((host, 0))\n        print(repr(host), 'bound')\n    except PermissionError:\n        print(repr(host), 'denied')\n";
    let run = run_with(&["--allow-localhost"], code);
    assert_eq!(
        run.stdout,
        "'127.0.0.1' bound\n'0.0.0.0' denied\n'' denied\n",
        "{}",
        run.dump()
    );
    let run = run_with(&[], code);
    assert_eq!(
        run.stdout,
        "'127.0.0.1' denied\n'0.0.0.0' denied\n'' denied\n",
        "{}",
        run.dump()
    );
    let run = run_with(&["--allow-net"], code);
    assert_eq!(
        run.stdout,
        "'127.0.0.1' bound\n'0.0.0.0' bound\n'' bound\n",
        "{}",
        run.dump()
    );
}

#[test]
fn domains_match_on_the_dot_boundary() {
    let code = "import socket\nfor host in ('example.com', 'api.example.com', 'badexample.com', 'example.com.evil.test'):\n    try:\n        socket.getaddrinfo(host, 443)\n        print(host, 'resolved')\n    except PermissionError:\n        print(host, 'denied')\n    except OSError:\n        print(host, 'allowed')\n";
    let run = run_with(&["--allow-domain", "example.com"], code);
    let verdicts: Vec<&str> = run
        .stdout
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(verdicts.len(), 4, "{}", run.dump());
    assert_ne!(verdicts[0], "denied", "{}", run.dump());
    assert_ne!(verdicts[1], "denied", "{}", run.dump());
    assert_eq!(&verdicts[2..], &["denied", "denied"], "{}", run.dump());
}

#[test]
fn metadata_endpoints_are_denied_even_with_every_host_granted() {
    // A name is resolved by the C layer before the connect event, so names are checked
    // at their look-up; the addresses at connect.
    let code = "import socket\ntry:\n    socket.getaddrinfo('metadata.google.internal', 80)\nexcept PermissionError as e:\n    print('lookup denied', 'metadata' in str(e))\nfor host in ('169.254.169.254', '2852039166', '::ffff:169.254.169.254', '100.100.100.200'):\n    s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)\n    s.settimeout(0.5)\n    try:\n        s.connect((host, 80))\n        print(host, 'connected')\n    except PermissionError as e:\n        print(host, 'denied', 'metadata' in str(e))\n    except OSError:\n        print(host, 'not denied')\n";
    let run = run_with(&["--allow-all"], code);
    assert_eq!(
        run.stdout,
        "lookup denied True\n169.254.169.254 denied True\n2852039166 denied True\n::ffff:169.254.169.254 denied True\n100.100.100.200 denied True\n",
        "{}",
        run.dump()
    );
}

#[test]
fn an_ip_literal_passes_only_after_a_granted_lookup_returned_it() {
    // The machine's own name resolves through /etc/hosts, without DNS.
    let name = common::hermetic(&[
        "--allow-all",
        "-c",
        "import socket; print(socket.gethostname())",
    ]);
    let host = name.stdout.trim().to_string();
    assert!(!host.is_empty(), "{}", name.dump());
    let listener = Listener::new();
    let port = listener.port();
    let grant = format!("--allow-net={host}:{port}");
    let code = format!(
        r#"
import socket
def attempt(address):
    try:
        s = socket.create_connection((address, {port}))
        s.sendall(b"via " + address.encode())
        s.close()
        return "connected"
    except PermissionError:
        return "denied"
ip = socket.getaddrinfo("{host}", {port}, socket.AF_INET)[0][4][0]
print(attempt(ip))
other = "127.0.0.2" if ip != "127.0.0.2" else "127.0.0.3"
print(attempt(other))
"#
    );
    let before = run_with(&[&grant], &format!("import socket\ns = socket.socket()\ntry:\n    s.connect(('127.0.0.1', {port}))\nexcept PermissionError:\n    print('denied')\n"));
    assert_eq!(before.stdout, "denied\n", "{}", before.dump());
    let run = run_with(&[&grant], &code);
    assert_eq!(run.stdout, "connected\ndenied\n", "{}", run.dump());
    assert_eq!(listener.received().len(), 1);
}
