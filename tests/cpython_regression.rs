//! CPython's own regression tests as the compatibility contract: the `# quick` modules of
//! tests/cpython_tests.txt, run as `hermetic-python --allow-all -m test MODULE` and as
//! `python3.X -m test MODULE` of the embedded CPython, end with the same `Result:` line
//! and the same run/failures/skipped counts. `scripts/cpython-tests` runs the whole list;
//! docs/compatibility.md has the contract and the last full run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{hermetic_bin, python_bin, temp_dir};

/// One line of the list: the module, regrtest options after it, and whether it is quick.
#[derive(Debug)]
struct Entry {
    module: String,
    options: Vec<String>,
    quick: bool,
}

fn parse_list(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    for line in text.lines() {
        let (code, comment) = match line.split_once('#') {
            Some((code, comment)) => (code, comment.trim()),
            None => (line, ""),
        };
        let mut words = code.split_whitespace();
        let Some(module) = words.next() else {
            continue;
        };
        let quick = comment == "quick"
            || comment
                .strip_prefix("quick")
                .is_some_and(|rest| !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_'));
        entries.push(Entry {
            module: module.to_string(),
            options: words.map(str::to_string).collect(),
            quick,
        });
    }
    entries
}

/// What regrtest reported.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    result: String,
    run: u64,
    failures: u64,
    skipped: u64,
    code: i32,
}

fn count(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&format!("{name}=")))
        .map(|n| n.replace(',', "").parse().expect("a count"))
        .unwrap_or(0)
}

/// The final `Result:` line and the `Total tests:` counts, or None if regrtest printed none.
fn parse_outcome(output: &str, code: i32) -> Option<Outcome> {
    let result = output
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("Result: "))?
        .trim()
        .to_string();
    let totals = output
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("Total tests: "))?;
    Some(Outcome {
        result,
        run: count(totals, "run"),
        failures: count(totals, "failures"),
        skipped: count(totals, "skipped"),
        code,
    })
}

/// `program [prefix] -m test MODULE [options]` in a fresh folder with its own TMPDIR.
fn regrtest(program: &Path, prefix: &[&str], entry: &Entry) -> (Option<Outcome>, String) {
    let dir = temp_dir("cpython-regrtest");
    let (cwd, tmp): (PathBuf, PathBuf) = (dir.join("cwd"), dir.join("tmp"));
    std::fs::create_dir_all(&cwd).expect("create cwd");
    std::fs::create_dir_all(&tmp).expect("create tmp");
    let out = common::command(program)
        .args(prefix)
        .args(["-m", "test", &entry.module])
        .args(&entry.options)
        .env_remove("HERMETIC_SEALED")
        .env("TMPDIR", &tmp)
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run regrtest");
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let code = out.status.code().unwrap_or(-1);
    (parse_outcome(&text, code), text)
}

/// The last lines of a run's output, for failure messages.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[test]
fn the_list_parses_and_has_a_quick_subset() {
    let list = parse_list(
        "# comment\n\ntest_a  # quick\ntest_b -i *X*  # quick: reason\ntest_c # quickly not\ntest_d\n",
    );
    let names: Vec<(&str, bool)> = list.iter().map(|e| (e.module.as_str(), e.quick)).collect();
    assert_eq!(
        names,
        [
            ("test_a", true),
            ("test_b", true),
            ("test_c", false),
            ("test_d", false)
        ]
    );
    assert_eq!(list[1].options, ["-i", "*X*"]);
    let outcome = parse_outcome(
        "Total tests: run=1,706 failures=2 skipped=48\nTotal test files: run=1/1 failed=1\nResult: FAILURE\n",
        2,
    )
    .expect("parsed");
    assert_eq!(
        outcome,
        Outcome {
            result: "FAILURE".into(),
            run: 1706,
            failures: 2,
            skipped: 48,
            code: 2
        }
    );
    assert_eq!(parse_outcome("Traceback ...\n", 1), None);
}

#[test]
fn quick_cpython_regression_tests_have_the_same_outcome() {
    let list_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cpython_tests.txt");
    let text = std::fs::read_to_string(&list_path).expect("read tests/cpython_tests.txt");
    let all = parse_list(&text);
    assert!(all.len() >= 30, "the list has {} modules", all.len());
    let quick: Vec<&Entry> = all.iter().filter(|e| e.quick).collect();
    assert!(
        (5..=8).contains(&quick.len()),
        "5 to 8 modules are marked # quick, not {}",
        quick.len()
    );

    let mut problems = Vec::new();
    for entry in quick {
        let (theirs, theirs_text) = regrtest(&python_bin(), &[], entry);
        let (ours, ours_text) = regrtest(&hermetic_bin(), &["--allow-all"], entry);
        let module = &entry.module;
        match (&theirs, &ours) {
            (Some(t), Some(o)) if t == o && t.run > 0 => {
                eprintln!("{module}: same: {t:?}");
            }
            (Some(t), Some(_)) if t.run == 0 => {
                problems.push(format!(
                    "{module}: python ran no tests:\n{}",
                    tail(&theirs_text)
                ));
            }
            _ => problems.push(format!(
                "{module}: python3 {theirs:?}, hermetic-python --allow-all {ours:?}\n\
                 --- python3 output (tail)\n{}\n--- hermetic-python output (tail)\n{}",
                tail(&theirs_text),
                tail(&ours_text)
            )),
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n\n"));
}
