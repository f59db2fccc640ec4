//! docs/agents.md and examples/agent.toml: the policy file loads to the grants the page
//! describes, the command line on the page gives the same policy, and an agent run under
//! it is refused (and traced) exactly where the page says, with the side effects checked:
//! nothing reaches the listener, no child runs, no file appears outside the workspace.
//!
//! Each run copies `examples/agent.toml` into a fresh folder laid out as the page says, so
//! the workspace and the trace log are the test's own.

mod common;

use std::fs;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::{hermetic_bin, run_in, temp_dir, write, Run};
use hermetic::policy::{resolve, EnvSpec, HostGrant, HostSpec, Origin, PolicyRequest, Rule};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn agents_doc() -> String {
    fs::read_to_string(repo().join("docs/agents.md")).expect("read docs/agents.md")
}

fn values<T: Clone>(rules: &[Rule<T>]) -> Vec<T> {
    rules.iter().map(|rule| rule.value.clone()).collect()
}

/// The fenced code blocks of a Markdown text: (language, body).
fn fenced_blocks(text: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in text.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(language)) => open = Some((language.trim().to_string(), String::new())),
            (Some(_), Some(_)) => blocks.extend(open.take()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

/// The one block of the page in `language` whose body starts with `start`.
fn doc_block(language: &str, start: &str) -> String {
    let found: Vec<String> = fenced_blocks(&agents_doc())
        .into_iter()
        .filter(|(lang, body)| lang == language && body.starts_with(start))
        .map(|(_, body)| body)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "docs/agents.md: expected one ```{language} block starting with `{start}`"
    );
    found.into_iter().next().unwrap_or_default()
}

/// A folder laid out as docs/agents.md says: `agent.toml` copied from the examples and an
/// empty `agent-workspace/`.
fn agent_dir(tag: &str) -> PathBuf {
    let dir = temp_dir(&format!("agents-{tag}"));
    fs::copy(repo().join("examples/agent.toml"), dir.join("agent.toml")).expect("copy policy");
    fs::create_dir(dir.join("agent-workspace")).expect("create workspace");
    dir
}

/// hermetic-python run from `dir`.
fn run_from(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_in(&hermetic_bin(), args, None, Some(dir), env)
}

/// `--print-policy` output without comments and origins: what is granted, nothing else.
fn grants(dir: &Path, args: &[&str]) -> Vec<String> {
    let mut args = args.to_vec();
    args.push("--print-policy");
    let run = run_from(dir, &args, &[]);
    assert_eq!(run.code, 0, "{}", run.dump());
    run.stdout
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| line.split("  #").next().unwrap_or_default().to_string())
        .collect()
}

/// The lines of one table (`[network]` ...) in [`grants`] output.
fn table(grants: &[String], name: &str) -> Vec<String> {
    grants
        .iter()
        .skip_while(|line| line.as_str() != name)
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter(|line| !line.is_empty())
        .cloned()
        .collect()
}

/// A loopback listener that can tell whether anything connected to it.
struct Listener(TcpListener);

impl Listener {
    fn new() -> Listener {
        let inner = TcpListener::bind("127.0.0.1:0").expect("bind");
        inner.set_nonblocking(true).expect("nonblocking");
        Listener(inner)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().expect("address").port()
    }

    fn was_reached(&self) -> bool {
        match self.0.accept() {
            Ok(_) => true,
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// The capability of each trace line, checking the line's shape on the way.
fn capabilities(trace: &str) -> Vec<String> {
    trace
        .lines()
        .map(|line| {
            assert!(
                line.starts_with("hermetic: blocked ") && line.ends_with(')'),
                "not a trace line: {line}"
            );
            line.split(' ').nth(2).unwrap_or_default().to_string()
        })
        .collect()
}

#[test]
fn the_agent_policy_loads_to_one_grant_per_capability() {
    let file = repo().join("examples/agent.toml");
    let request = PolicyRequest {
        file: Some(file.clone()),
        ..PolicyRequest::default()
    };
    let policy = resolve(&request, &repo()).unwrap_or_else(|e| panic!("{e}"));
    let examples = fs::canonicalize(repo().join("examples")).expect("examples folder");

    let api = |name: &str| HostGrant {
        host: HostSpec::Domain(name.to_string()),
        port: Some(443),
    };
    assert_eq!(
        values(&policy.network.allow),
        [api("api.openai.com"), api("api.anthropic.com")]
    );
    assert!(policy.network.deny.is_empty());
    assert!(policy.filesystem.read.is_empty());
    assert_eq!(
        values(&policy.filesystem.write),
        [examples.join("agent-workspace")]
    );
    assert!(policy.filesystem.deny.is_empty());
    assert!(policy.subprocess.allow.is_empty());
    assert!(policy.native.allow.is_empty());
    assert!(policy.imports.deny.is_empty());
    // The file adds the two keys and nothing else to the safe set.
    let from_file: Vec<EnvSpec> = policy
        .environment
        .allow
        .iter()
        .filter(|rule| matches!(rule.origin, Origin::File { .. }))
        .map(|rule| rule.value.clone())
        .collect();
    assert_eq!(
        from_file,
        [
            EnvSpec::Name("OPENAI_API_KEY".into()),
            EnvSpec::Name("ANTHROPIC_API_KEY".into())
        ]
    );
    assert!(policy.code_exec.allowed);
    assert!(policy.interpreter_mutation.allowed);
    assert!(policy.trace.enabled);
    assert_eq!(policy.trace.file, Some(examples.join("agent-trace.log")));
    assert_eq!(policy.allow_all, None);
}

#[test]
fn the_doc_shows_the_policy_file_as_it_is() {
    let file = fs::read_to_string(repo().join("examples/agent.toml")).expect("read example");
    let without_comments: String = file
        .lines()
        .map(|line| line.split(" #").next().unwrap_or_default().trim_end())
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| format!("{line}\n"))
        .collect();
    let shown: String = doc_block("toml", "allow-all")
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(shown, without_comments);
}

#[test]
fn print_policy_shows_the_agent_grants() {
    let dir = agent_dir("print");
    let run = run_from(&dir, &["--print-policy", "--policy", "agent.toml"], &[]);
    assert_eq!(run.code, 0, "{}", run.dump());
    let d = dir.display();
    for expected in [
        "\"api.openai.com:443\",  # agent.toml:".to_string(),
        "\"api.anthropic.com:443\",  # agent.toml:".to_string(),
        format!("\"{d}/agent-workspace\",  # agent.toml:"),
        "\"OPENAI_API_KEY\",  # agent.toml:".to_string(),
        "\"ANTHROPIC_API_KEY\",  # agent.toml:".to_string(),
        "[subprocess]\nallow = []\n".to_string(),
        "[native]\nallow = []\n".to_string(),
        "[filesystem]\nread = []\n".to_string(),
        "enabled = true\n".to_string(),
        format!("file = \"{d}/agent-trace.log\"\n"),
    ] {
        assert!(
            run.stdout.contains(&expected),
            "no `{expected}` in\n{}",
            run.stdout
        );
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_command_line_in_the_doc_gives_the_same_policy() {
    let command = doc_block("", "hermetic-python \\").replace("\\\n", " ");
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"hermetic-python"));
    assert_eq!(words.last(), Some(&"agent.py"), "{command}");
    let flags = &words[1..words.len() - 1];
    assert!(flags.iter().any(|f| f.starts_with("--allow-net=")));

    let dir = agent_dir("flags");
    let from_flags = grants(&dir, flags);
    let from_file = grants(&dir, &["--policy", "agent.toml"]);
    for name in ["[network]", "[filesystem]", "[subprocess]", "[environment]"] {
        assert!(!table(&from_file, name).is_empty(), "{name} missing");
        assert_eq!(table(&from_flags, name), table(&from_file, name), "{name}");
    }
    // Everything else too: native, imports, code, interpreter, trace.
    assert_eq!(from_flags, from_file);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn narrowing_flags_remove_the_file_grants_and_seal_changes_nothing() {
    let dir = agent_dir("narrow");
    let file = grants(&dir, &["--policy", "agent.toml"]);
    let narrowed = grants(
        &dir,
        &["--policy", "agent.toml", "--no-network", "--no-environment"],
    );
    assert_eq!(table(&narrowed, "[network]"), ["allow = []", "deny = []"]);
    assert_eq!(
        table(&narrowed, "[environment]"),
        ["allow = []", "safe-set = false"]
    );
    assert_eq!(
        table(&narrowed, "[filesystem]"),
        table(&file, "[filesystem]"),
        "the workspace stays"
    );

    let sealed = grants(&dir, &["--seal", "--policy", "agent.toml"]);
    assert_eq!(sealed, file);
    let _ = fs::remove_dir_all(&dir);
}

/// The page's claims about a run under agent.toml, each tried for real.
const AGENT_SCRIPT: &str = r#"
import importlib.machinery, importlib.util, os, socket, subprocess, sys
import hermetic

port, outside = int(sys.argv[1]), sys.argv[2]

def attempt(label, action):
    try:
        action()
    except (hermetic.PolicyViolation, hermetic.ImportBlocked):
        print(f"{label}: refused")
    except OSError as error:
        print(f"{label}: {type(error).__name__}")
    else:
        print(f"{label}: done")

def write(path, mode="w"):
    with open(path, mode) as f:
        f.write("x")

def read(path):
    with open(path) as f:
        f.read()

def load_copied_extension():
    import _json
    copy = "agent-workspace/_json" + importlib.machinery.EXTENSION_SUFFIXES[0]
    with open(_json.__file__, "rb") as src, open(copy, "wb") as dst:
        dst.write(src.read())
    spec = importlib.util.spec_from_file_location("_json", copy)
    importlib.util.module_from_spec(spec)

def set_env():
    os.environ["OTHER_SECRET"] = "planted-VALUE"

attempt("connect 127.0.0.1", lambda: socket.create_connection(("127.0.0.1", port), timeout=5))
attempt("metadata endpoint", lambda: socket.create_connection(("169.254.169.254", 80), timeout=5))
attempt("look-up of a look-alike", lambda: socket.getaddrinfo("api.openai.com.example.net", 443))
attempt("run echo", lambda: subprocess.run(["/bin/echo", "child-ran-MARKER"]))
attempt("os.system", lambda: os.system("touch agent-workspace/child-marker"))
attempt("write in workspace", lambda: write("agent-workspace/x.txt"))
attempt("write outside", lambda: write("outside.txt"))
attempt("write through symlink", lambda: write("agent-workspace/link/planted.txt"))
attempt("read outside", lambda: read(os.path.join(outside, "secret.txt")))
attempt("read own folder", lambda: read("agent.toml"))
attempt("read trace log", lambda: read("agent-trace.log"))
attempt("append to trace log", lambda: write("agent-trace.log", "a"))
attempt("remove trace log", lambda: os.remove("agent-trace.log"))
attempt("import ctypes", lambda: __import__("ctypes"))
attempt("load extension from workspace", load_copied_extension)
attempt("set a variable", set_env)
attempt("standard library", lambda: __import__("ssl").create_default_context() and __import__("json"))
for name in ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OTHER_SECRET", "HOME", "PATH"]:
    value = os.environ.get(name)
    print(f"{name}: {value if name.endswith('_KEY') else value is not None}")
"#;

#[test]
fn an_agent_under_the_policy_is_refused_where_the_doc_says() {
    let dir = agent_dir("run");
    let outside = temp_dir("agents-outside");
    write(&outside, "secret.txt", "outside secret");
    std::os::unix::fs::symlink(&outside, dir.join("agent-workspace/link")).expect("symlink");
    write(&dir, "agent.py", AGENT_SCRIPT);
    let listener = Listener::new();
    let port = listener.port().to_string();

    let run = run_from(
        &dir,
        &[
            "--policy",
            "agent.toml",
            "agent.py",
            &port,
            outside.to_str().expect("path"),
        ],
        &[
            ("OPENAI_API_KEY", "sk-test-VISIBLE"),
            ("ANTHROPIC_API_KEY", "sk-ant-VISIBLE"),
            ("OTHER_SECRET", "other-secret-VALUE"),
            ("HOME", outside.to_str().expect("path")),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.dump());
    let expected = "\
connect 127.0.0.1: refused
metadata endpoint: refused
look-up of a look-alike: refused
run echo: refused
os.system: refused
write in workspace: done
write outside: refused
write through symlink: PermissionError
read outside: refused
read own folder: done
read trace log: done
append to trace log: refused
remove trace log: refused
import ctypes: refused
load extension from workspace: refused
set a variable: refused
standard library: done
OPENAI_API_KEY: sk-test-VISIBLE
ANTHROPIC_API_KEY: sk-ant-VISIBLE
OTHER_SECRET: False
HOME: False
PATH: True
";
    assert_eq!(run.stdout, expected, "{}", run.dump());

    // The side effects: nothing connected, no child ran, nothing written outside.
    assert!(
        !listener.was_reached(),
        "something connected to the listener"
    );
    assert!(!dir.join("agent-workspace/child-marker").exists());
    assert!(!dir.join("outside.txt").exists());
    assert!(!outside.join("planted.txt").exists());
    assert_eq!(
        fs::read_to_string(dir.join("agent-workspace/x.txt")).expect("workspace file"),
        "x"
    );

    // One trace line per refusal, in order, the same on stderr and in the log file.
    let log = common::read_trace(&dir.join("agent-trace.log"));
    assert_eq!(log, run.stderr, "{}", run.dump());
    assert_eq!(
        capabilities(&log),
        [
            "net.connect",
            "net.lookup",
            "net.lookup",
            "subprocess",
            "subprocess",
            "fs.write",
            "fs.write",
            "fs.read",
            "fs.write",
            "fs.write",
            "native",
            "native",
            "env",
        ],
        "{log}"
    );
    let lines: Vec<&str> = log.lines().collect();
    let policy = "(not granted by agent.toml)";
    assert_eq!(
        lines[0],
        format!("hermetic: blocked net.connect 127.0.0.1:{port} {policy}")
    );
    assert_eq!(
        lines[1],
        "hermetic: blocked net.lookup 169.254.169.254 (cloud metadata endpoint, never granted)"
    );
    assert_eq!(
        lines[2],
        format!("hermetic: blocked net.lookup api.openai.com.example.net {policy}")
    );
    assert_eq!(
        lines[6],
        format!(
            "hermetic: blocked fs.write {}/planted.txt {policy}",
            outside.display()
        )
    );
    assert_eq!(
        lines[10],
        format!("hermetic: blocked native ctypes {policy}")
    );
    assert_eq!(
        lines[12],
        format!("hermetic: blocked env OTHER_SECRET {policy}")
    );
    // Never an argv or environment value.
    for value in [
        "sk-test-VISIBLE",
        "sk-ant-VISIBLE",
        "other-secret-VALUE",
        "planted-VALUE",
        "child-ran-MARKER",
        "touch",
    ] {
        assert!(!log.contains(value), "`{value}` is in the trace:\n{log}");
    }
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&outside);
}

#[test]
fn the_policy_cannot_be_switched_off_and_an_uncaught_refusal_exits_77() {
    let dir = agent_dir("sealed");
    let listener = Listener::new();
    let code = format!(
        r#"
import sys
import hermetic
print([name for name in dir(hermetic) if not name.startswith("_")])
print("_hermetic" in sys.modules)
seen = []
sys.addaudithook(lambda event, args: seen.append(event))
open("agent.toml").close()
print(seen)
import socket
socket.create_connection(("127.0.0.1", {}), timeout=5)
print("connected")
"#,
        listener.port()
    );
    let run = run_from(
        &dir,
        &["--seal", "--policy", "agent.toml", "-c", &code],
        &[],
    );
    assert_eq!(run.code, 77, "{}", run.dump());
    assert_eq!(
        run.stdout,
        "['ImportBlocked', 'PolicyViolation']\nFalse\n[]\n",
        "{}",
        run.dump()
    );
    assert!(
        !listener.was_reached(),
        "something connected to the listener"
    );

    let blocked = format!(
        "hermetic: blocked net.connect 127.0.0.1:{} (not granted by agent.toml)",
        listener.port()
    );
    // The traceback, then the line again and a hint.
    let hint = format!(
        "{blocked}\n  hint: allow it with --allow-net=127.0.0.1:{port} or [network] allow = [\"127.0.0.1:{port}\"]\n",
        port = listener.port()
    );
    assert!(run.stderr.ends_with(&hint), "{}", run.dump());
    assert!(run.stderr.contains("Traceback (most recent call last):"));
    // The trace file has each refusal once: the refused hook, then the connect.
    let log = common::read_trace(&dir.join("agent-trace.log"));
    assert_eq!(capabilities(&log), ["interpreter", "net.connect"], "{log}");
    assert_eq!(log.lines().last(), Some(blocked.as_str()));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_script_that_replaces_the_excepthook_exits_1_and_is_still_traced() {
    let dir = agent_dir("excepthook");
    let code = "import sys\nsys.excepthook = lambda *a: None\nopen('/etc/hostname').read()\n";
    let run = run_from(&dir, &["--policy", "agent.toml", "-c", code], &[]);
    assert_eq!(run.code, 1, "{}", run.dump());
    let log = common::read_trace(&dir.join("agent-trace.log"));
    assert_eq!(capabilities(&log), ["fs.read"], "{log}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_tool_loop_in_the_doc_hands_refusals_back() {
    let dir = agent_dir("tool-loop");
    let outside = temp_dir("agents-tool-outside");
    let secret = write(&outside, "secret.txt", "outside secret");
    let mut code = doc_block("python", "import hermetic");
    code.push_str(&format!(
        "print(issubclass(hermetic.PolicyViolation, PermissionError))\n\
         print(run_tool(lambda p: open(p).read(), {:?}))\n\
         print(run_tool(lambda p: open(p).read(), 'agent.toml')[:1])\n",
        secret.to_str().expect("path")
    ));
    let run = run_from(&dir, &["--policy", "agent.toml", "-c", &code], &[]);
    assert_eq!(run.code, 0, "{}", run.dump());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "True");
    let refused = format!(
        "refused by policy: blocked fs.read {} (not granted by agent.toml); to allow it: ",
        secret.display()
    );
    assert!(lines[1].starts_with(&refused), "{}", run.dump());
    assert_eq!(lines[2], "#", "agent.toml is readable: {}", run.dump());
    assert_eq!(lines.len(), 3, "{}", run.dump());
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&outside);
}

/// What the page says about `[code] exec` and `[interpreter] mutation`.
const SWITCHES_SCRIPT: &str = r#"
import os, sys

def attempt(label, action):
    try:
        action()
        print(label, "done")
    except (PermissionError, ImportError):
        print(label, "refused")

def write_and_import():
    with open("agent-workspace/written_tool.py", "w") as f:
        f.write("print('written code ran')\n")
    sys.path.insert(0, "agent-workspace")
    import written_tool

attempt("eval", lambda: eval("1"))
attempt("write and import", write_and_import)
attempt("chdir", lambda: os.chdir("agent-workspace"))
"#;

#[test]
fn the_switches_left_on_can_be_turned_off() {
    let text = fs::read_to_string(repo().join("examples/agent.toml")).expect("read policy");
    let exec_off = text.replace("exec = true", "exec = false");
    let both_off = exec_off.replace("mutation = true", "mutation = false");
    assert!(exec_off != text && both_off != exec_off);
    let cases = [
        (
            text.as_str(),
            "eval done\nwritten code ran\nwrite and import done\nchdir done\n",
            &[][..],
        ),
        // A guard rail, not a boundary: code written to a file and imported still runs.
        (
            exec_off.as_str(),
            "eval refused\nwritten code ran\nwrite and import done\nchdir done\n",
            &["code-exec"][..],
        ),
        // The sys.path change succeeds; the next import is refused.
        (
            both_off.as_str(),
            "eval refused\nwrite and import refused\nchdir refused\n",
            &["code-exec", "interpreter", "interpreter"][..],
        ),
    ];
    for (policy, stdout, traced) in cases {
        let dir = agent_dir("switches");
        write(&dir, "agent.toml", policy);
        write(&dir, "agent.py", SWITCHES_SCRIPT);
        let run = run_from(&dir, &["--policy", "agent.toml", "agent.py"], &[]);
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (0, stdout),
            "{}",
            run.dump()
        );
        let log = common::read_trace(&dir.join("agent-trace.log"));
        assert_eq!(capabilities(&log), traced, "{log}");
        let _ = fs::remove_dir_all(&dir);
    }
}

/// A script whose refusals it catches itself: three trace lines.
const CAUGHT: &str = "import os, socket\n\
    for action in [lambda: socket.create_connection(('127.0.0.1', 9)), lambda: os.system('true'), lambda: open('/etc/hostname')]:\n\
    \x20   try:\n\
    \x20       action()\n\
    \x20   except PermissionError:\n\
    \x20       pass\n\
    print('done')\n";

#[test]
fn trace_file_writes_the_same_lines_as_trace() {
    let dir = agent_dir("trace-file");
    let traced = run_from(&dir, &["--trace", "-c", CAUGHT], &[]);
    assert_eq!(traced.stdout, "done\n", "{}", traced.dump());
    assert_eq!(
        capabilities(&traced.stderr),
        ["net.connect", "subprocess", "fs.read"]
    );

    // Without --trace the lines go to the file only.
    let logged = run_from(&dir, &["--trace-file", "flag.log", "-c", CAUGHT], &[]);
    assert_eq!(
        (logged.stdout.as_str(), logged.stderr.as_str()),
        ("done\n", ""),
        "{}",
        logged.dump()
    );
    let log = common::read_trace(&dir.join("flag.log"));
    assert_eq!(log, traced.stderr);

    // On the command line it replaces the policy file's [trace] file for that run.
    let run = run_from(
        &dir,
        &[
            "--policy",
            "agent.toml",
            "--trace-file",
            "other.log",
            "-c",
            CAUGHT,
        ],
        &[],
    );
    assert_eq!(run.stdout, "done\n", "{}", run.dump());
    let other = common::read_trace(&dir.join("other.log"));
    assert_eq!(other, run.stderr, "{}", run.dump());
    assert_eq!(capabilities(&other).len(), 3);
    assert!(!dir.join("agent-trace.log").exists());

    // Appended, never truncated.
    run_from(&dir, &["--trace-file", "flag.log", "-c", CAUGHT], &[]);
    let log = common::read_trace(&dir.join("flag.log"));
    assert_eq!(log, traced.stderr.repeat(2));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_trace_file_in_a_missing_folder_is_a_policy_error() {
    let dir = agent_dir("trace-missing");
    let text = fs::read_to_string(dir.join("agent.toml")).expect("read policy");
    let moved = text.replace(
        "file = \"agent-trace.log\"",
        "file = \"logs/agent-trace.log\"",
    );
    assert_ne!(moved, text);
    write(&dir, "agent.toml", &moved);
    let run = run_from(&dir, &["--policy", "agent.toml", "-c", "print('ran')"], &[]);
    assert_eq!(run.code, 2, "{}", run.dump());
    assert_eq!(run.stdout, "", "nothing ran");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.dump());
    assert!(
        run.stderr.starts_with("hermetic: policy error: ")
            && run
                .stderr
                .contains("logs/agent-trace.log: cannot open the trace file: "),
        "{}",
        run.dump()
    );
    let _ = fs::remove_dir_all(&dir);
}
