//! The serde structs that mirror a policy file, exactly as written.
//!
//! These are the raw, `Option`-heavy shapes: strings are not parsed yet and every value
//! keeps its byte span ([`toml::Spanned`]) so that a later error, or a rule's origin, can
//! name the line. Every struct denies unknown fields: a misspelt key in a security policy
//! is an error, not a warning. `validate.rs` turns a [`PolicyFile`] into rules; nothing past
//! it sees these types.

use serde::Deserialize;
use toml::Spanned;

/// Every key a policy file accepts, as `table.key` (or `key` at the top level). The docs
/// test checks that each one is documented in `docs/policy.md`, and a unit test below checks
/// that this list and the structs agree.
pub const SCHEMA_KEYS: &[&str] = &[
    "allow-all",
    "network.allow",
    "network.deny",
    "filesystem.read",
    "filesystem.write",
    "filesystem.deny",
    "subprocess.allow",
    "environment.allow",
    "environment.safe-set",
    "native.allow",
    "imports.deny",
    "code.exec",
    "interpreter.mutation",
    "trace.enabled",
    "trace.file",
];

/// A list of entries, each with its span.
pub(crate) type Entries = Vec<Spanned<String>>;

/// A whole policy file. Every table is optional; an absent table grants nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct PolicyFile {
    /// Default `false`. `true` makes the base allow-all.
    pub allow_all: Option<Spanned<bool>>,
    pub network: NetworkTable,
    pub filesystem: FilesystemTable,
    pub subprocess: SubprocessTable,
    pub environment: EnvironmentTable,
    pub native: NativeTable,
    pub imports: ImportsTable,
    pub code: CodeTable,
    pub interpreter: InterpreterTable,
    pub trace: TraceTable,
}

/// `[network]`. Default: both lists empty.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct NetworkTable {
    pub allow: Entries,
    pub deny: Entries,
}

/// `[filesystem]`. Default: all lists empty.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct FilesystemTable {
    pub read: Entries,
    pub write: Entries,
    pub deny: Entries,
}

/// `[subprocess]`. Default: no program.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct SubprocessTable {
    pub allow: Entries,
}

/// `[environment]`. Default: nothing beyond the safe set.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct EnvironmentTable {
    pub allow: Entries,
    /// `false` leaves out the built-in safe set (`--print-policy` writes it this way, with
    /// the set's names listed, so the printed policy means exactly what it lists).
    pub safe_set: Option<bool>,
}

/// `[native]`. Default: nothing beyond the standard library's own extension modules.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct NativeTable {
    pub allow: Entries,
}

/// `[imports]`. Default: nothing denied.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ImportsTable {
    pub deny: Entries,
}

/// `[code]`. Default: `exec = true`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct CodeTable {
    pub exec: Option<Spanned<bool>>,
}

/// `[interpreter]`. Default: `mutation = true`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct InterpreterTable {
    pub mutation: Option<Spanned<bool>>,
}

/// `[trace]`. Default: `enabled = false`, no file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct TraceTable {
    pub enabled: Option<Spanned<bool>>,
    pub file: Option<Spanned<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::{self, Visitor};
    use serde::Deserializer;

    /// A deserializer that only records the field names serde_derive asks for, so the test
    /// can compare the structs with [`SCHEMA_KEYS`] without a reflection crate.
    struct FieldNames<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for FieldNames<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("fields recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    fn fields_of<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
        let mut fields: &'static [&'static str] = &[];
        let _ = T::deserialize(FieldNames(&mut fields));
        fields
    }

    #[test]
    fn schema_keys_match_the_structs() {
        let tables: &[(&str, &[&str])] = &[
            ("network", fields_of::<NetworkTable>()),
            ("filesystem", fields_of::<FilesystemTable>()),
            ("subprocess", fields_of::<SubprocessTable>()),
            ("environment", fields_of::<EnvironmentTable>()),
            ("native", fields_of::<NativeTable>()),
            ("imports", fields_of::<ImportsTable>()),
            ("code", fields_of::<CodeTable>()),
            ("interpreter", fields_of::<InterpreterTable>()),
            ("trace", fields_of::<TraceTable>()),
        ];
        let top = fields_of::<PolicyFile>();
        let mut from_structs = Vec::new();
        for field in top {
            match tables.iter().find(|(table, _)| table == field) {
                Some((table, keys)) => {
                    from_structs.extend(keys.iter().map(|key| format!("{table}.{key}")));
                }
                None => from_structs.push(field.to_string()),
            }
        }
        assert_eq!(
            top.len(),
            tables.len() + 1,
            "a table is missing from this test"
        );
        assert_eq!(from_structs, SCHEMA_KEYS);
    }
}
