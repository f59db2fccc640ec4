//! Reading and parsing a policy file, and locating errors in it.
//!
//! [`load`] reads the file and deserialises it into the raw [`PolicyFile`]; it does not
//! interpret any value (that is `validate.rs`). Every error is one line: `FILE:LINE:COL:
//! what is wrong`, with FILE spelt as the user gave it and LINE:COL counted from 1 (columns
//! in characters, not bytes).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::schema::{PolicyFile, SCHEMA_KEYS};
use super::Origin;

/// An error in hermetic's own input: one line, `FILE:LINE:COL: message` where known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub message: String,
}

impl PolicyError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        PolicyError {
            message: message.into(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

/// A policy file, read and deserialised but not yet interpreted.
#[derive(Debug)]
pub(crate) struct LoadedFile {
    /// The path as the user gave it, for messages.
    pub shown: String,
    /// The canonical path (symlinks resolved), for origins and [`super::Policy::file`].
    pub path: PathBuf,
    /// The folder holding the canonical file: relative paths in the file start here.
    pub folder: PathBuf,
    text: String,
    pub raw: PolicyFile,
}

/// Read and parse the policy file `given` (relative to `cwd` unless absolute).
pub(crate) fn load(given: &Path, cwd: &Path) -> Result<LoadedFile, PolicyError> {
    let shown = given.display().to_string();
    let full = cwd.join(given);
    let cannot_read = |e: std::io::Error| PolicyError::new(format!("{shown}: cannot read: {e}"));
    let text = fs::read_to_string(&full).map_err(cannot_read)?;
    let path = fs::canonicalize(&full).map_err(cannot_read)?;
    let folder = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    parse(shown, path, folder, text)
}

/// Parse policy `text`, known to messages as `shown`; relative paths resolve against
/// `folder`.
pub(crate) fn parse(
    shown: String,
    path: PathBuf,
    folder: PathBuf,
    text: String,
) -> Result<LoadedFile, PolicyError> {
    let parse_error = |error: toml::de::Error| {
        // toml's messages can span lines ("invalid table header\nexpected `.`, `]`").
        let message = error.message().trim().replace('\n', ": ");
        match error.span() {
            Some(span) => PolicyError::new(format!(
                "{}: {message}",
                location(&shown, &text, span.start)
            )),
            None => PolicyError::new(format!("{shown}: {message}")),
        }
    };
    check_tables(&shown, &text, toml::from_str(&text).map_err(parse_error)?)?;
    let raw: PolicyFile = toml::from_str(&text).map_err(parse_error)?;
    Ok(LoadedFile {
        shown,
        path,
        folder,
        text,
        raw,
    })
}

/// serde lets a struct be written as an array of its fields in order, so without this check
/// `network = []` would pass for an empty `[network]` table. Each table must be a table.
fn check_tables(
    shown: &str,
    text: &str,
    top: BTreeMap<String, Spanned<toml::Value>>,
) -> Result<(), PolicyError> {
    for (key, value) in &top {
        let expects_table = SCHEMA_KEYS
            .iter()
            .any(|known| known.split_once('.').is_some_and(|(table, _)| table == key));
        if expects_table && !value.get_ref().is_table() {
            return Err(PolicyError::new(format!(
                "{}: `{key}` must be a table (`[{key}]`), not {}",
                location(shown, text, value.span().start),
                kind(value.get_ref())
            )));
        }
    }
    Ok(())
}

fn kind(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

impl LoadedFile {
    /// An error about the value at `span`: `FILE:LINE:COL: message`.
    pub fn error_at(&self, span: &Range<usize>, message: &str) -> PolicyError {
        PolicyError::new(format!(
            "{}: {message}",
            location(&self.shown, &self.text, span.start)
        ))
    }

    /// The origin of a rule written at `span` under `key` (`network.allow`).
    pub fn origin(&self, key: &str, span: &Range<usize>) -> Origin {
        Origin::File {
            path: self.path.clone(),
            key: key.to_string(),
            line: line_col(&self.text, span.start).0,
        }
    }
}

/// `FILE:LINE:COL` for a byte offset.
fn location(shown: &str, text: &str, offset: usize) -> String {
    let (line, col) = line_col(text, offset);
    format!("{shown}:{line}:{col}")
}

/// 1-based line and column (in characters) of a byte offset; offsets past the end or inside
/// a character are clamped back to the previous character boundary.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::testutil::TempDir;

    #[test]
    fn line_and_column_from_offsets() {
        let text = "ab\ncé\n\nx";
        let table: &[(usize, (usize, usize))] = &[
            (0, (1, 1)),
            (1, (1, 2)),
            (2, (1, 3)),
            (3, (2, 1)),
            (4, (2, 2)),
            (5, (2, 2)), // inside `é`: clamped to its start
            (6, (2, 3)),
            (7, (3, 1)),
            (8, (4, 1)),
            (100, (4, 2)),
        ];
        for (offset, expected) in table {
            assert_eq!(line_col(text, *offset), *expected, "offset {offset}");
        }
    }

    #[test]
    fn syntax_and_schema_errors_name_file_line_and_column() {
        let dir = TempDir::new("load");
        let table: &[(&str, &str)] = &[
            (
                "netwrok = 1\n",
                "p.toml:1:1: unknown field `netwrok`, expected one of `allow-all`, `network`,",
            ),
            (
                "[network]\nallw = []\n",
                "p.toml:2:1: unknown field `allw`, expected `allow` or `deny`",
            ),
            (
                "\n[network]\nallow = \"x\"\n",
                "p.toml:3:9: invalid type: string \"x\", expected a sequence",
            ),
            (
                "[network]\nallow = [1]\n",
                "p.toml:2:10: invalid type: integer `1`, expected a string",
            ),
            (
                "[code]\nexec = \"no\"\n",
                "p.toml:2:8: invalid type: string \"no\", expected a boolean",
            ),
            (
                "[code]\nexecute = false\n",
                "p.toml:2:1: unknown field `execute`, expected `exec`",
            ),
            ("[bogus]\n", "p.toml:1:2: unknown field `bogus`"),
            ("allow-all = yes\n", "p.toml:1:13: invalid string"),
            (
                "[network\n",
                "p.toml:1:9: invalid table header: expected `.`, `]`",
            ),
            (
                "[network]\n[network]\n",
                "p.toml:2:1: invalid table header: duplicate key `network`",
            ),
            (
                "network = []\n",
                "p.toml:1:11: `network` must be a table (`[network]`), not an array",
            ),
            (
                "code = true\n",
                "p.toml:1:8: `code` must be a table (`[code]`), not a boolean",
            ),
            (
                "[[trace]]\n",
                "p.toml:1:1: `trace` must be a table (`[trace]`), not an array",
            ),
            (
                "allow-all = []\n",
                "p.toml:1:13: invalid type: sequence, expected a boolean",
            ),
        ];
        for (text, expected) in table {
            dir.write("p.toml", text);
            let error = load(Path::new("p.toml"), dir.path()).expect_err(text);
            assert!(
                error.message.starts_with(expected),
                "{text:?}\n got: {}\nwant: {expected}",
                error.message
            );
            assert!(!error.message.contains('\n'), "{}", error.message);
        }
    }

    #[test]
    fn unreadable_file_names_the_path_as_given() {
        let dir = TempDir::new("unreadable");
        let error = load(Path::new("nope/p.toml"), dir.path()).expect_err("missing file");
        assert!(
            error.message.starts_with("nope/p.toml: cannot read: "),
            "{}",
            error.message
        );
        let error = load(Path::new("."), dir.path()).expect_err("a folder");
        assert!(
            error.message.starts_with(".: cannot read: "),
            "{}",
            error.message
        );
    }

    #[test]
    fn loaded_file_is_canonical_and_knows_its_folder() {
        let dir = TempDir::new("canonical");
        dir.write("sub/p.toml", "[network]\nallow = [\"localhost\"]\n");
        let loaded = load(Path::new("sub/../sub/p.toml"), dir.path()).expect("loads");
        assert_eq!(loaded.path, dir.path().join("sub/p.toml"));
        assert_eq!(loaded.folder, dir.path().join("sub"));
        assert_eq!(loaded.shown, "sub/../sub/p.toml");
        assert_eq!(loaded.raw.network.allow.len(), 1);
    }
}
