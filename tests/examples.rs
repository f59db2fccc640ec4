//! The shipped examples run as the README says, and do what their comments claim.

mod common;

use std::path::Path;

use common::{hermetic_bin, run_in, temp_dir};

/// `hermetic-python --policy policy.example.toml examples/agent.py`, from a copy of the
/// policy in a fresh folder so the workspace it creates is the test's own.
#[test]
fn the_agent_example_does_its_work_and_is_refused_the_key() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = temp_dir("agent");
    std::fs::copy(
        repo.join("policy.example.toml"),
        dir.join("policy.example.toml"),
    )
    .expect("copy policy");
    let script = repo.join("examples/agent.py");
    let run = run_in(
        &hermetic_bin(),
        &[
            "--policy",
            "policy.example.toml",
            script.to_str().expect("path"),
        ],
        None,
        Some(&dir),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.dump());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "agent: task: summarise the quarterly report",
        "{}",
        run.dump()
    );
    assert_eq!(
        lines[1],
        "agent: wrote agent-workspace/result.txt: SUMMARISE THE QUARTERLY REPORT"
    );
    assert!(
        lines[2].starts_with("agent: refused: blocked fs.read "),
        "{}",
        run.dump()
    );
    assert!(lines[2].ends_with(".ssh/id_rsa\"]"), "{}", run.dump());
    assert_eq!(
        std::fs::read_to_string(dir.join("agent-workspace/result.txt")).expect("result written"),
        "SUMMARISE THE QUARTERLY REPORT\n"
    );
    // The policy's trace is on: the refusal is also one line on stderr.
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.dump());
    assert!(
        run.stderr.starts_with("hermetic: blocked fs.read "),
        "{}",
        run.dump()
    );
}
