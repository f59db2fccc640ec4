//! The policy files shipped with the project: `policy.example.toml` and `examples/*.toml`
//! must load, `docs/policy.md` must document every key, and `--print-policy` output of the
//! example must load back to the same values. No Python is started here.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use hermetic::policy::{
    render, resolve, HostGrant, HostSpec, Policy, PolicyRequest, Rule, SCHEMA_KEYS,
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(file: &Path) -> Policy {
    let request = PolicyRequest {
        file: Some(file.to_path_buf()),
        ..PolicyRequest::default()
    };
    resolve(&request, &repo()).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn values<T: Clone>(rules: &[Rule<T>]) -> Vec<T> {
    rules.iter().map(|rule| rule.value.clone()).collect()
}

/// A fresh folder under the system temporary folder; removed by the caller.
fn temp_dir(label: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "hermetic-policy-files-{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&path);
    fs::create_dir_all(&path).expect("create temporary folder");
    path
}

#[test]
fn example_policy_loads_and_says_what_its_header_says() {
    let policy = load(Path::new("policy.example.toml"));
    let root = fs::canonicalize(repo()).expect("repository root");
    let workspace = root.join("agent-workspace");
    assert_eq!(
        values(&policy.network.allow),
        [HostGrant {
            host: HostSpec::Localhost,
            port: None
        }]
    );
    assert_eq!(
        values(&policy.filesystem.write),
        std::slice::from_ref(&workspace)
    );
    assert!(values(&policy.filesystem.read).contains(&workspace));
    assert!(policy.subprocess.allow.is_empty());
    assert!(policy.native.allow.is_empty());
    assert!(policy.trace.enabled);
    assert_eq!(policy.allow_all, None);
    assert_eq!(policy.file, Some(root.join("policy.example.toml")));
}

#[test]
fn example_policy_shows_every_key() {
    let text = fs::read_to_string(repo().join("policy.example.toml")).expect("read example");
    for key in SCHEMA_KEYS {
        let (table, key) = key.split_once('.').unwrap_or(("", key));
        if !table.is_empty() {
            assert!(text.contains(&format!("[{table}]")), "[{table}] missing");
        }
        assert!(text.contains(&format!("{key} =")), "{table}.{key} missing");
    }
}

#[test]
fn every_example_policy_loads() {
    let dir = repo().join("examples");
    let Ok(entries) = fs::read_dir(&dir) else {
        return; // no examples yet
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    for file in files {
        let text = fs::read_to_string(&file).expect("read example");
        assert!(
            text.starts_with('#'),
            "{}: start with a comment saying what it is for and how to run it",
            file.display()
        );
        load(&file);
    }
}

#[test]
fn every_schema_key_is_documented() {
    let docs = fs::read_to_string(repo().join("docs/policy.md")).expect("read docs/policy.md");
    let missing: Vec<&str> = SCHEMA_KEYS
        .iter()
        .copied()
        .filter(|key| !docs.contains(&format!("`{key}`")))
        .collect();
    assert!(missing.is_empty(), "not in docs/policy.md: {missing:?}");
}

#[test]
fn printed_example_loads_back_to_the_same_policy() {
    let policy = load(Path::new("policy.example.toml"));
    let text = render(&policy);
    assert!(
        text.starts_with("# The effective hermetic-python policy"),
        "{text}"
    );
    assert!(text.contains("site-packages"), "{text}");
    assert!(
        text.contains("\"localhost\",  # policy.example.toml:"),
        "{text}"
    );

    let dir = temp_dir("render");
    let printed = dir.join("printed.toml");
    fs::write(&printed, &text).expect("write printed policy");
    let again = load(&printed);
    let _ = fs::remove_dir_all(&dir);

    assert_eq!(values(&again.network.allow), values(&policy.network.allow));
    assert_eq!(values(&again.network.deny), values(&policy.network.deny));
    assert_eq!(
        values(&again.filesystem.read),
        values(&policy.filesystem.read)
    );
    assert_eq!(
        values(&again.filesystem.write),
        values(&policy.filesystem.write)
    );
    assert_eq!(
        values(&again.filesystem.deny),
        values(&policy.filesystem.deny)
    );
    assert_eq!(
        values(&again.subprocess.allow),
        values(&policy.subprocess.allow)
    );
    assert_eq!(
        values(&again.environment.allow),
        values(&policy.environment.allow)
    );
    assert_eq!(values(&again.native.allow), values(&policy.native.allow));
    assert_eq!(values(&again.imports.deny), values(&policy.imports.deny));
    assert_eq!(again.code_exec.allowed, policy.code_exec.allowed);
    assert_eq!(
        again.interpreter_mutation.allowed,
        policy.interpreter_mutation.allowed
    );
    assert_eq!(again.trace, policy.trace);
    // Printing is stable: the reloaded policy prints the same, apart from origins.
    let strip = |text: &str| {
        text.lines()
            .map(|line| line.split("  #").next().unwrap_or_default().to_string())
            .filter(|line| !line.starts_with('#'))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&render(&again)), strip(&text));
}
