//! The built-in profiles, and how a policy flag is spelt in messages.
//!
//! A profile is nothing but a bundle of the seed tool's flags: `merge.rs` applies its flags
//! exactly as if they had been typed, with [`super::Origin::Profile`] as their origin.

use super::merge::PolicyFlag;

/// Names of the built-in profiles, for `--help` and error messages.
pub const PROFILES: &[&str] = &[
    "block-all",
    "net-hermetic",
    "exec-deny",
    "fs-readonly",
    "block-native",
];

/// The flags a profile stands for, or `None` for an unknown name.
pub(crate) fn profile_flags(name: &str) -> Option<Vec<PolicyFlag>> {
    use PolicyFlag::*;
    let flags = match name {
        "block-all" => vec![
            NoNetwork,
            NoSubprocess,
            FsReadonly(None),
            NoEnvironment,
            BlockNative,
            NoCodeExec,
            NoInterpreterMutation,
        ],
        "net-hermetic" => vec![NoNetwork, AllowLocalhost],
        "exec-deny" => vec![NoSubprocess],
        "fs-readonly" => vec![FsReadonly(None)],
        "block-native" => vec![BlockNative],
        _ => return None,
    };
    Some(flags)
}

/// The flag as the user would have typed it, for origins and error messages. Values are
/// always joined with `=`, the form that cannot be misread when the value has a space.
pub(crate) fn flag_spelling(flag: &PolicyFlag) -> String {
    use PolicyFlag::*;
    let with = |name: &str, value: &Option<String>| match value {
        Some(value) => format!("{name}={value}"),
        None => name.to_string(),
    };
    match flag {
        AllowNet(value) => with("--allow-net", value),
        AllowRead(value) => format!("--allow-read={value}"),
        AllowWrite(value) => format!("--allow-write={value}"),
        AllowEnv(value) => with("--allow-env", value),
        AllowRun(value) => with("--allow-run", value),
        AllowNative(value) => with("--allow-native", value),
        NoNetwork => "--no-network".to_string(),
        AllowLocalhost => "--allow-localhost".to_string(),
        AllowDomain(value) => format!("--allow-domain={value}"),
        NoSubprocess => "--no-subprocess".to_string(),
        FsReadonly(value) => with("--fs-readonly", value),
        NoEnvironment => "--no-environment".to_string(),
        NoCodeExec => "--no-code-exec".to_string(),
        DenyImport(value) => format!("--deny-import={value}"),
        NoInterpreterMutation => "--no-interpreter-mutation".to_string(),
        BlockNative => "--block-native".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_profile_is_defined() {
        for name in PROFILES {
            assert!(profile_flags(name).is_some(), "{name}");
        }
        assert!(profile_flags("nope").is_none());
    }

    #[test]
    fn spellings() {
        use PolicyFlag::*;
        let table: &[(PolicyFlag, &str)] = &[
            (AllowNet(None), "--allow-net"),
            (
                AllowNet(Some("localhost,example.com".into())),
                "--allow-net=localhost,example.com",
            ),
            (AllowRead("/data".into()), "--allow-read=/data"),
            (AllowWrite("out".into()), "--allow-write=out"),
            (AllowEnv(None), "--allow-env"),
            (AllowEnv(Some("HOME".into())), "--allow-env=HOME"),
            (AllowRun(Some("git".into())), "--allow-run=git"),
            (AllowNative(None), "--allow-native"),
            (NoNetwork, "--no-network"),
            (AllowLocalhost, "--allow-localhost"),
            (
                AllowDomain("example.com".into()),
                "--allow-domain=example.com",
            ),
            (NoSubprocess, "--no-subprocess"),
            (FsReadonly(None), "--fs-readonly"),
            (FsReadonly(Some("/srv".into())), "--fs-readonly=/srv"),
            (NoEnvironment, "--no-environment"),
            (NoCodeExec, "--no-code-exec"),
            (DenyImport("pickle".into()), "--deny-import=pickle"),
            (NoInterpreterMutation, "--no-interpreter-mutation"),
            (BlockNative, "--block-native"),
        ];
        for (flag, expected) in table {
            assert_eq!(flag_spelling(flag), *expected);
        }
    }
}
