//! CPython's own regression tests as the compatibility contract: the `# quick` modules of
//! tests/cpython_tests.txt, run as `hermetic-python --allow-all -m test MODULE` and as
//! `python3.X -m test MODULE` of the embedded CPython, end with the same `Result:` line,
//! the same run/failures/errors/skipped counts and the same exit status, and run tests at
//! all. `scripts/cpython-tests` runs the whole list; docs/compatibility.md has the contract,
//! the last full run and the known differences.

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
        // `# quick`, `# quick: why`, not `# quickly`.
        let quick = comment
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
    /// From `MODULE failed (N errors, M failures)`: regrtest's totals leave errors out.
    errors: u64,
    skipped: u64,
    code: i32,
}

fn count(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&format!("{name}=")))
        .map(|n| n.replace(',', "").parse().expect("a count"))
        .unwrap_or(0)
}

/// The errors of a `MODULE failed (N errors[, M failures])` line, if any.
fn errors(output: &str) -> u64 {
    output
        .lines()
        .filter_map(|l| l.split_once(" failed ("))
        .filter(|(name, _)| {
            name.rsplit(' ')
                .next()
                .is_some_and(|n| n.starts_with("test_"))
        })
        .find_map(|(_, rest)| {
            let (n, kind) = rest.split_once(' ')?;
            if kind.starts_with("error") {
                n.parse().ok()
            } else {
                None
            }
        })
        .unwrap_or(0)
}

/// The final `Result:` line and the `Total tests:` counts, or None if regrtest printed none.
/// CPython 3.10's regrtest prints `Tests result:` and no totals: there the count is the
/// number of test modules it reports OK (`1 test OK.`).
fn parse_outcome(output: &str, code: i32) -> Option<Outcome> {
    let result = output
        .lines()
        .rev()
        .find_map(|l| {
            l.strip_prefix("Result: ")
                .or_else(|| l.strip_prefix("Tests result: "))
        })?
        .trim()
        .to_string();
    let totals = output
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("Total tests: "));
    let modules_ok = || {
        output
            .lines()
            .find_map(|l| {
                let l = l.trim().trim_start_matches("All ");
                l.split_once(" test")
                    .filter(|(_, rest)| rest.trim_start_matches('s').starts_with(" OK"))
                    .and_then(|(n, _)| n.parse().ok())
            })
            .unwrap_or(0)
    };
    Some(Outcome {
        result,
        run: totals.map(|t| count(t, "run")).unwrap_or_else(modules_ok),
        failures: totals.map(|t| count(t, "failures")).unwrap_or(0),
        errors: errors(output),
        skipped: totals.map(|t| count(t, "skipped")).unwrap_or(0),
        code,
    })
}

/// `program [prefix] -m test MODULE [options]` in a fresh folder with its own TMPDIR, no
/// HERMETIC_* and no PYTHON* variables.
fn regrtest(program: &Path, prefix: &[&str], entry: &Entry) -> (Option<Outcome>, String) {
    let dir = temp_dir("cpython-regrtest");
    let (cwd, tmp): (PathBuf, PathBuf) = (dir.join("cwd"), dir.join("tmp"));
    std::fs::create_dir_all(&cwd).expect("create cwd");
    std::fs::create_dir_all(&tmp).expect("create tmp");
    let mut command = common::command(program);
    // PYTHONUNBUFFERED, PYTHONDONTWRITEBYTECODE and the like fail some of CPython's own
    // tests under both programs; the comparison starts from neither.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PYTHON") {
            command.env_remove(key);
        }
    }
    let out = command
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
        "test_x failed (3 errors, 2 failures)\nTotal tests: run=1,706 failures=2 skipped=48\n\
         Total test files: run=1/1 failed=1\nResult: FAILURE\n",
        2,
    )
    .expect("parsed");
    assert_eq!(
        outcome,
        Outcome {
            result: "FAILURE".into(),
            run: 1706,
            failures: 2,
            errors: 3,
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
            // Equal outcomes count; a SUCCESS must have run something. (A module this
            // CPython cannot run fails the same way under both, e.g. 3.10's test_sqlite3.)
            (Some(t), Some(o)) if t == o && (t.run > 0 || t.result != "SUCCESS") => {
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
