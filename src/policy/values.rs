//! The value syntax shared by policy files and flags: hosts, paths, programs and names.
//!
//! Each parser takes one entry as written and returns the normalised value, or a message
//! that names the entry but not where it came from: the caller adds `FILE:LINE:COL` or the
//! flag. The same parser serves a file entry and a flag value, so the two cannot drift.
//! Nothing here reads the process environment: `HOME` and `PATH` come in through [`Lookup`]
//! so that tests can fix them. The `*_text` functions give the canonical spelling back, which
//! the same parsers accept (`--print-policy` relies on that).

use std::env;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Component, Path, PathBuf};

use super::{EnvSpec, HostGrant, HostSpec, NativeSpec, ProgramSpec};

/// What the parsers need from the process environment, read once by `resolve`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lookup {
    /// `HOME`, for a leading `~/`.
    pub home: Option<OsString>,
    /// `PATH`, to find programs given by name.
    pub path: Option<OsString>,
}

impl Lookup {
    /// `HOME` and `PATH` of this (the hermetic) process.
    pub fn from_process() -> Self {
        Lookup {
            home: env::var_os("HOME"),
            path: env::var_os("PATH"),
        }
    }
}

/// Longest DNS name, in characters, without the trailing dot.
const MAX_DOMAIN: usize = 253;
/// Longest DNS label.
const MAX_LABEL: usize = 63;

// ---------------------------------------------------------------------------------------
// Network: HOST[:PORT]
// ---------------------------------------------------------------------------------------

/// Parse a network entry, `HOST[:PORT]`. See `docs/policy.md` for the accepted forms.
pub(crate) fn parse_host_grant(text: &str) -> Result<HostGrant, String> {
    if text.is_empty() {
        return Err("empty host".to_string());
    }
    if let Some(rest) = text.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(format!("`{text}`: missing `]` after the IPv6 address"));
        };
        let port = if after.is_empty() {
            None
        } else if let Some(port) = after.strip_prefix(':') {
            Some(parse_port(port, text)?)
        } else {
            return Err(format!("`{text}`: expected `:PORT` after `]`"));
        };
        let host = parse_ipv6_net(inside, text)?;
        return Ok(HostGrant { host, port });
    }
    if text.matches(':').count() >= 2 {
        // Two colons or more: a bare IPv6 address, which cannot carry a port.
        let host = parse_ipv6_net(text, text)?;
        return Ok(HostGrant { host, port: None });
    }
    let (host, port) = match text.split_once(':') {
        Some((host, port)) => (host, Some(parse_port(port, text)?)),
        None => (text, None),
    };
    Ok(HostGrant {
        host: parse_host(host, text)?,
        port,
    })
}

fn parse_port(port: &str, whole: &str) -> Result<u16, String> {
    if port.is_empty() {
        return Err(format!("`{whole}`: empty port after `:`"));
    }
    let valid = port.bytes().all(|b| b.is_ascii_digit());
    match port.parse::<u32>() {
        Ok(n @ 1..=65535) if valid => u16::try_from(n).map_err(|_| bad_port(port, whole)),
        _ => Err(bad_port(port, whole)),
    }
}

fn bad_port(port: &str, whole: &str) -> String {
    format!("`{whole}`: invalid port `{port}`, expected a number from 1 to 65535")
}

/// The host part without a port: `*`, `localhost`, an IPv4 address or network, a DNS name.
fn parse_host(host: &str, whole: &str) -> Result<HostSpec, String> {
    if host.is_empty() {
        return Err(format!("`{whole}`: empty host before `:`"));
    }
    if host == "*" {
        return Ok(HostSpec::Any);
    }
    if let Some((addr, prefix)) = host.split_once('/') {
        let addr: Ipv4Addr = addr.parse().map_err(|_| {
            format!("`{whole}`: `{addr}` is not an IPv4 address (a network is ADDRESS/PREFIX)")
        })?;
        let prefix = parse_prefix(prefix, 32, whole)?;
        return Ok(network(IpAddr::V4(addr), prefix));
    }
    if let Ok(addr) = host.parse::<Ipv4Addr>() {
        return Ok(network(IpAddr::V4(addr), 32));
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        // A name made only of digits and dots is an address to every resolver; refuse it
        // here rather than grant it as a DNS name that never matches.
        return Err(format!("`{whole}`: `{host}` is not a valid IPv4 address"));
    }
    parse_domain(host, whole)
}

/// A DNS name: lower-cased, one trailing dot and a leading `*.` removed.
fn parse_domain(host: &str, whole: &str) -> Result<HostSpec, String> {
    if !host.is_ascii() {
        return Err(format!(
            "`{whole}`: host names must be ASCII; write an internationalised name in its `xn--` form"
        ));
    }
    let lower = host.to_ascii_lowercase();
    // Matching is by suffix on the dot boundary, so `*.example.com` and `example.com` grant
    // the same hosts.
    let name = lower.strip_prefix("*.").unwrap_or(&lower);
    let name = name.strip_suffix('.').unwrap_or(name);
    if name == "localhost" {
        return Ok(HostSpec::Localhost);
    }
    if name.is_empty() {
        return Err(format!("`{whole}`: empty host name"));
    }
    if name.len() > MAX_DOMAIN {
        return Err(format!(
            "`{whole}`: host name longer than {MAX_DOMAIN} characters"
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!(
                "`{whole}`: empty label in host name (two dots in a row?)"
            ));
        }
        if label.len() > MAX_LABEL {
            return Err(format!(
                "`{whole}`: label `{label}` is longer than {MAX_LABEL} characters"
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            let hint = if bad == '*' {
                " (`*` is allowed alone or as a leading `*.`)"
            } else {
                ""
            };
            return Err(format!(
                "`{whole}`: `{bad}` is not allowed in a host name; use letters, digits, `-`, `_` and `.`{hint}"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "`{whole}`: label `{label}` starts or ends with `-`"
            ));
        }
    }
    Ok(HostSpec::Domain(name.to_string()))
}

/// `ADDR` or `ADDR/PREFIX` for IPv6 (brackets already removed).
fn parse_ipv6_net(text: &str, whole: &str) -> Result<HostSpec, String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let Ok(addr) = addr.parse::<Ipv6Addr>() else {
        let hint = if whole.starts_with('[') {
            ""
        } else {
            " (a port after an IPv6 address needs brackets: `[::1]:8080`)"
        };
        return Err(format!(
            "`{whole}`: `{addr}` is not a valid IPv6 address{hint}"
        ));
    };
    let prefix = match prefix {
        Some(prefix) => parse_prefix(prefix, 128, whole)?,
        None => 128,
    };
    Ok(network(IpAddr::V6(addr), prefix))
}

fn parse_prefix(prefix: &str, max: u8, whole: &str) -> Result<u8, String> {
    let valid = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit());
    match prefix.parse::<u8>() {
        Ok(n) if valid && n <= max => Ok(n),
        _ => Err(format!(
            "`{whole}`: invalid prefix length `{prefix}`, expected a number from 0 to {max}"
        )),
    }
}

/// A network with the host bits cleared, so `10.1.2.3/8` is stored as `10.0.0.0/8`.
fn network(addr: IpAddr, prefix: u8) -> HostSpec {
    let addr = match addr {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    };
    HostSpec::Net { addr, prefix }
}

/// The canonical spelling of a network entry: `*`, `*:443`, `localhost`, `example.com:443`,
/// `10.0.0.0/8`, `1.2.3.4`, `::1`, `[::1]:8080`.
pub(crate) fn host_grant_text(grant: &HostGrant) -> String {
    let (host, bracket) = match &grant.host {
        HostSpec::Any => ("*".to_string(), false),
        HostSpec::Localhost => ("localhost".to_string(), false),
        HostSpec::Domain(name) => (name.clone(), false),
        HostSpec::Net { addr, prefix } => {
            let full = if addr.is_ipv4() { 32 } else { 128 };
            let text = if *prefix == full {
                addr.to_string()
            } else {
                format!("{addr}/{prefix}")
            };
            (text, addr.is_ipv6())
        }
    };
    match grant.port {
        Some(port) if bracket => format!("[{host}]:{port}"),
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

// ---------------------------------------------------------------------------------------
// Names: environment variables, native modules, imports
// ---------------------------------------------------------------------------------------

/// `*`, `NAME` or `PREFIX*`, where a name is `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn parse_env(text: &str) -> Result<EnvSpec, String> {
    if text == "*" {
        return Ok(EnvSpec::Any);
    }
    if let Some(prefix) = text.strip_suffix('*') {
        if is_identifier(prefix) {
            return Ok(EnvSpec::Prefix(prefix.to_string()));
        }
    } else if is_identifier(text) {
        return Ok(EnvSpec::Name(text.to_string()));
    }
    Err(format!(
        "invalid environment variable `{text}`: expected `NAME` (letters, digits and `_`, not starting with a digit), `PREFIX*` or `*`"
    ))
}

/// The canonical spelling of an environment grant.
pub(crate) fn env_spec_text(spec: &EnvSpec) -> String {
    match spec {
        EnvSpec::Any => "*".to_string(),
        EnvSpec::Name(name) => name.clone(),
        EnvSpec::Prefix(prefix) => format!("{prefix}*"),
    }
}

/// `*` or a dotted module name (`numpy`, `google.protobuf`).
pub(crate) fn parse_native(text: &str) -> Result<NativeSpec, String> {
    if text == "*" {
        return Ok(NativeSpec::Any);
    }
    if is_module_name(text) {
        return Ok(NativeSpec::Module(text.to_string()));
    }
    Err(format!(
        "invalid module name `{text}`: expected `*` or a dotted Python name such as `numpy` or `google.protobuf`"
    ))
}

/// The canonical spelling of a native-code grant.
pub(crate) fn native_spec_text(spec: &NativeSpec) -> String {
    match spec {
        NativeSpec::Any => "*".to_string(),
        NativeSpec::Module(name) => name.clone(),
    }
}

/// A dotted module name for `[imports] deny`.
pub(crate) fn parse_import(text: &str) -> Result<String, String> {
    if is_module_name(text) {
        return Ok(text.to_string());
    }
    Err(format!(
        "invalid module name `{text}`: expected a dotted Python name such as `pickle` or `xml.etree`"
    ))
}

/// `[A-Za-z_][A-Za-z0-9_]*`. Python also accepts non-ASCII identifiers; the policy does not,
/// to keep look-alike names out.
fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphabetic() || first == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    }
}

fn is_module_name(text: &str) -> bool {
    text.split('.').all(is_identifier)
}

// ---------------------------------------------------------------------------------------
// Paths and programs
// ---------------------------------------------------------------------------------------

/// Resolve a filesystem root: expand a leading `~/`, make it absolute against `base`,
/// normalise `.` and `..` lexically, then resolve symlinks. The path need not exist: the
/// longest existing ancestor is canonicalised and the rest appended.
pub(crate) fn resolve_path(text: &Path, base: &Path, lookup: &Lookup) -> Result<PathBuf, String> {
    if text.as_os_str().is_empty() {
        return Err("empty path".to_string());
    }
    let expanded = expand_home(text, lookup)?;
    let absolute = normalise(&base.join(expanded));
    Ok(canonicalise(&absolute))
}

fn expand_home(text: &Path, lookup: &Lookup) -> Result<PathBuf, String> {
    let mut components = text.components();
    let first = components.next();
    let Some(Component::Normal(first)) = first else {
        return Ok(text.to_path_buf());
    };
    if first == OsStr::new("~") {
        let home = lookup
            .home
            .as_ref()
            .filter(|home| !home.is_empty())
            .ok_or_else(|| format!("`{}`: cannot expand `~`, HOME is not set", text.display()))?;
        return Ok(Path::new(home).join(components.as_path()));
    }
    if first.to_string_lossy().starts_with('~') {
        return Err(format!(
            "`{}`: only `~/` is expanded; write the full path",
            text.display()
        ));
    }
    Ok(text.to_path_buf())
}

/// Remove `.` and resolve `..` without touching the filesystem (`/..` stays `/`).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                // `pop` refuses to go above the root, which is what we want.
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Resolve symlinks in the longest existing ancestor of an absolute, normalised path.
fn canonicalise(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest: Vec<&OsStr> = Vec::new();
    loop {
        if let Ok(canonical) = fs::canonicalize(existing) {
            let mut out = canonical;
            out.extend(rest.iter().rev());
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            // Not even the root could be read: keep the lexical form.
            _ => return path.to_path_buf(),
        }
    }
}

/// Resolve a program grant: `*`, a name looked up in `PATH`, or a path.
pub(crate) fn resolve_program(
    text: &str,
    base: &Path,
    lookup: &Lookup,
) -> Result<ProgramSpec, String> {
    if text == "*" {
        return Ok(ProgramSpec::Any);
    }
    if text.is_empty() {
        return Err("empty program".to_string());
    }
    let found = if text.contains('/') {
        let path = resolve_path(Path::new(text), base, lookup)?;
        let metadata = fs::metadata(&path)
            .map_err(|e| format!("program `{text}`: {}: {e}", path.display()))?;
        if !metadata.is_file() {
            return Err(format!(
                "program `{text}`: {} is not a regular file",
                path.display()
            ));
        }
        if !is_executable(&metadata) {
            return Err(format!(
                "program `{text}`: {} is not executable",
                path.display()
            ));
        }
        path
    } else {
        search_path(text, lookup).ok_or_else(|| format!("program `{text}` not found in PATH"))?
    };
    fs::canonicalize(&found)
        .map(ProgramSpec::Path)
        .map_err(|e| format!("program `{text}`: {}: {e}", found.display()))
}

/// The first executable regular file called `name` in an absolute `PATH` entry. Relative
/// entries (`.`, the empty entry) are skipped: what they find depends on the working
/// directory, which the script can change.
fn search_path(name: &str, lookup: &Lookup) -> Option<PathBuf> {
    let path = lookup.path.as_ref()?;
    env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate)
                .map(|m| m.is_file() && is_executable(&m))
                .unwrap_or(false)
        })
}

#[cfg(unix)]
fn is_executable(metadata: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_metadata: &fs::Metadata) -> bool {
    true
}

/// The canonical spelling of a program grant.
pub(crate) fn program_spec_text(spec: &ProgramSpec) -> String {
    match spec {
        ProgramSpec::Any => "*".to_string(),
        ProgramSpec::Path(path) => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::testutil::TempDir;

    fn domain(name: &str) -> HostSpec {
        HostSpec::Domain(name.to_string())
    }

    fn net(addr: &str, prefix: u8) -> HostSpec {
        HostSpec::Net {
            addr: addr.parse().expect("test address"),
            prefix,
        }
    }

    #[test]
    fn host_grants_parse_to_normal_form() {
        let table: &[(&str, HostSpec, Option<u16>, &str)] = &[
            ("*", HostSpec::Any, None, "*"),
            ("*:443", HostSpec::Any, Some(443), "*:443"),
            ("localhost", HostSpec::Localhost, None, "localhost"),
            ("LocalHost", HostSpec::Localhost, None, "localhost"),
            ("localhost.", HostSpec::Localhost, None, "localhost"),
            (
                "localhost:8080",
                HostSpec::Localhost,
                Some(8080),
                "localhost:8080",
            ),
            ("example.com", domain("example.com"), None, "example.com"),
            ("Example.COM.", domain("example.com"), None, "example.com"),
            ("*.example.com", domain("example.com"), None, "example.com"),
            (
                "*.Example.com.:80",
                domain("example.com"),
                Some(80),
                "example.com:80",
            ),
            (
                "example.com:443",
                domain("example.com"),
                Some(443),
                "example.com:443",
            ),
            (
                "a_b.example-1.org",
                domain("a_b.example-1.org"),
                None,
                "a_b.example-1.org",
            ),
            (
                "xn--bcher-kva.example",
                domain("xn--bcher-kva.example"),
                None,
                "xn--bcher-kva.example",
            ),
            ("1.2.3.4", net("1.2.3.4", 32), None, "1.2.3.4"),
            (
                "1.2.3.4:65535",
                net("1.2.3.4", 32),
                Some(65535),
                "1.2.3.4:65535",
            ),
            ("10.0.0.0/8", net("10.0.0.0", 8), None, "10.0.0.0/8"),
            ("10.1.2.3/8", net("10.0.0.0", 8), None, "10.0.0.0/8"),
            (
                "10.0.0.0/8:22",
                net("10.0.0.0", 8),
                Some(22),
                "10.0.0.0/8:22",
            ),
            ("0.0.0.0/0", net("0.0.0.0", 0), None, "0.0.0.0/0"),
            ("::1", net("::1", 128), None, "::1"),
            ("fd00::/8", net("fd00::", 8), None, "fd00::/8"),
            ("fd12:3456::1/16", net("fd12::", 16), None, "fd12::/16"),
            ("[::1]", net("::1", 128), None, "::1"),
            ("[::1]:8080", net("::1", 128), Some(8080), "[::1]:8080"),
            (
                "[fd00::/8]:443",
                net("fd00::", 8),
                Some(443),
                "[fd00::/8]:443",
            ),
            ("::/0", net("::", 0), None, "::/0"),
        ];
        for (input, host, port, canonical) in table {
            let parsed = parse_host_grant(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed.host, *host, "{input}");
            assert_eq!(parsed.port, *port, "{input}");
            assert_eq!(host_grant_text(&parsed), *canonical, "{input}");
            // The canonical spelling parses back to the same value.
            assert_eq!(parse_host_grant(canonical), Ok(parsed), "{canonical}");
        }
    }

    #[test]
    fn bad_host_grants_are_refused_with_a_reason() {
        let table: &[(&str, &str)] = &[
            ("", "empty host"),
            (
                "exa mple.com",
                "`exa mple.com`: ` ` is not allowed in a host name",
            ),
            ("example.com:0", "`example.com:0`: invalid port `0`"),
            ("example.com:65536", "invalid port `65536`"),
            ("example.com:http", "invalid port `http`"),
            ("example.com:+80", "invalid port `+80`"),
            ("example.com:", "empty port"),
            (":443", "empty host before `:`"),
            ("a..b", "empty label"),
            (".example.com", "empty label"),
            ("*.", "empty host name"),
            ("-a.com", "label `-a` starts or ends with `-`"),
            ("a-.com", "label `a-` starts or ends with `-`"),
            ("foo.*.com", "(`*` is allowed alone or as a leading `*.`)"),
            ("**", "`*` is not allowed"),
            ("bücher.example", "must be ASCII"),
            ("1.2.3", "`1.2.3` is not a valid IPv4 address"),
            ("256.1.1.1", "is not a valid IPv4 address"),
            ("10.0.0.0/33", "invalid prefix length `33`"),
            ("10.0.0.0/", "invalid prefix length ``"),
            ("example.com/8", "`example.com` is not an IPv4 address"),
            (
                "fd00::/129",
                "invalid prefix length `129`, expected a number from 0 to 128",
            ),
            (
                "::1:8080:zz",
                "is not a valid IPv6 address (a port after an IPv6 address needs brackets",
            ),
            ("[::1", "missing `]`"),
            ("[::1]8080", "expected `:PORT` after `]`"),
            (
                "[example.com]:80",
                "`example.com` is not a valid IPv6 address",
            ),
            ("[::1]:0", "invalid port `0`"),
        ];
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        let mut owned: Vec<(String, &str)> =
            table.iter().map(|(i, m)| (i.to_string(), *m)).collect();
        owned.push((long_label, "is longer than 63 characters"));
        owned.push((long_name, "host name longer than 253 characters"));
        for (input, expected) in &owned {
            match parse_host_grant(input) {
                Ok(value) => panic!("{input:?} parsed as {value:?}"),
                Err(message) => assert!(message.contains(expected), "{input:?}: {message}"),
            }
        }
    }

    #[test]
    fn environment_names() {
        let good: &[(&str, EnvSpec)] = &[
            ("*", EnvSpec::Any),
            ("PATH", EnvSpec::Name("PATH".into())),
            ("_x1", EnvSpec::Name("_x1".into())),
            ("LC_*", EnvSpec::Prefix("LC_".into())),
            ("AWS*", EnvSpec::Prefix("AWS".into())),
        ];
        for (input, expected) in good {
            assert_eq!(parse_env(input).as_ref(), Ok(expected), "{input}");
            assert_eq!(env_spec_text(expected), *input);
        }
        for bad in ["", "1A", "A-B", "A B", "*A", "A*B", "**", "A**", "Ä"] {
            let message = parse_env(bad).expect_err(bad);
            assert!(
                message.contains("invalid environment variable"),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn native_and_import_names() {
        let good: &[(&str, NativeSpec)] = &[
            ("*", NativeSpec::Any),
            ("numpy", NativeSpec::Module("numpy".into())),
            ("_ctypes", NativeSpec::Module("_ctypes".into())),
            (
                "google.protobuf",
                NativeSpec::Module("google.protobuf".into()),
            ),
        ];
        for (input, expected) in good {
            assert_eq!(parse_native(input).as_ref(), Ok(expected), "{input}");
            assert_eq!(native_spec_text(expected), *input);
        }
        for bad in ["", "num-py", "a..b", ".a", "a.", "1abc", "a.*", "a b"] {
            assert!(parse_native(bad).is_err(), "{bad}");
            assert!(parse_import(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_import("xml.etree"), Ok("xml.etree".to_string()));
        assert!(parse_import("*").is_err());
    }

    #[test]
    fn paths_are_absolute_normal_and_canonical() {
        let dir = TempDir::new("paths");
        let root = dir.path();
        fs::create_dir_all(root.join("real/sub")).expect("mkdir");
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("real"), root.join("link")).expect("symlink");
        let lookup = Lookup {
            home: Some(root.join("home").into_os_string()),
            path: None,
        };
        let table: &[(&str, PathBuf)] = &[
            ("real", root.join("real")),
            ("./real/./sub/", root.join("real/sub")),
            ("real/sub/..", root.join("real")),
            ("missing/deeper", root.join("missing/deeper")),
            ("real/missing", root.join("real/missing")),
            #[cfg(unix)]
            ("link/sub", root.join("real/sub")),
            #[cfg(unix)]
            ("link/not-yet", root.join("real/not-yet")),
            ("~/x", root.join("home/x")),
            ("~", root.join("home")),
            ("/", PathBuf::from("/")),
            ("/../..", PathBuf::from("/")),
        ];
        for (input, expected) in table {
            let resolved = resolve_path(Path::new(input), root, &lookup)
                .unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(&resolved, expected, "{input}");
        }
        let no_home = Lookup::default();
        for (bad, expected) in [("", "empty path"), ("~user/x", "only `~/` is expanded")] {
            let message = resolve_path(Path::new(bad), root, &lookup).expect_err(bad);
            assert!(message.contains(expected), "{bad}: {message}");
        }
        let message = resolve_path(Path::new("~/x"), root, &no_home).expect_err("no HOME");
        assert!(message.contains("HOME is not set"), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn programs_by_name_and_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("programs");
        let root = dir.path();
        let bin = root.join("bin");
        let other = root.join("other");
        fs::create_dir_all(&bin).expect("mkdir");
        fs::create_dir_all(&other).expect("mkdir");
        let make = |path: &Path, mode: u32| {
            fs::write(path, "#!/bin/sh\n").expect("write");
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
        };
        make(&bin.join("tool"), 0o755);
        make(&other.join("tool"), 0o755);
        make(&other.join("data"), 0o644);
        // A non-executable file earlier in PATH is skipped.
        make(&root.join("skipme"), 0o644);
        let path = env::join_paths([Path::new("relative"), &bin, &other]).expect("join");
        let lookup = Lookup {
            home: None,
            path: Some(path),
        };
        let table: &[(&str, ProgramSpec)] = &[
            ("*", ProgramSpec::Any),
            ("tool", ProgramSpec::Path(bin.join("tool"))),
            ("other/tool", ProgramSpec::Path(other.join("tool"))),
            ("./bin/../other/tool", ProgramSpec::Path(other.join("tool"))),
        ];
        for (input, expected) in table {
            assert_eq!(
                resolve_program(input, root, &lookup).as_ref(),
                Ok(expected),
                "{input}"
            );
        }
        let bad: &[(&str, &str)] = &[
            ("", "empty program"),
            ("nosuch", "program `nosuch` not found in PATH"),
            ("data", "program `data` not found in PATH"),
            ("other/data", "is not executable"),
            ("other", "program `other` not found in PATH"),
            ("./other", "is not a regular file"),
            ("other/nosuch", "program `other/nosuch`"),
        ];
        for (input, expected) in bad {
            let message = resolve_program(input, root, &lookup).expect_err(input);
            assert!(message.contains(expected), "{input}: {message}");
        }
    }
}
