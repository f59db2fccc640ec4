//! Network decisions: look-ups, connects (TCP and UDP), binds.
//!
//! Host names match grants on the dot boundary; IP literals match IP grants, or grants
//! whose granted look-ups returned that address earlier in this process ([`Learned`]).
//! Cloud metadata endpoints are refused whatever the grants say.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::sync::Mutex;

use super::{Capability, Decision, Denial, Engine, Reason};
use crate::policy::{HostGrant, HostSpec, Rule};

/// Why metadata endpoints are refused, as the message says it.
const METADATA: &str = "cloud metadata endpoint, never granted";

/// A host as a socket call names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// A DNS name, lower-cased, without a trailing dot.
    Name(String),
    /// An IP address (IPv4-mapped IPv6 addresses are folded to IPv4).
    Ip(IpAddr),
    /// `''` or `<any>`: every local interface (bind only).
    Wildcard,
}

impl Host {
    /// Parse a host the way the C socket layer will read it: dotted or `inet_aton` forms
    /// (`127.1`, `0x7f000001`, `2130706433`) are IPv4 addresses, an IPv6 zone is ignored.
    pub fn parse(text: &str) -> Host {
        let text = text.trim_end_matches('.');
        if text.is_empty() || text == "<any>" {
            return Host::Wildcard;
        }
        if text == "<broadcast>" {
            return Host::Ip(IpAddr::V4(Ipv4Addr::BROADCAST));
        }
        let unbracketed = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        let without_zone = unbracketed.split('%').next().unwrap_or(unbracketed);
        if let Ok(v6) = without_zone.parse::<Ipv6Addr>() {
            return Host::Ip(canonical(IpAddr::V6(v6)));
        }
        if let Some(v4) = parse_inet_aton(text) {
            return Host::Ip(IpAddr::V4(v4));
        }
        Host::Name(text.to_ascii_lowercase())
    }

    fn display_with_port(&self, port: u16) -> String {
        match self {
            Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
            other => format!("{}:{port}", other.display()),
        }
    }

    fn display(&self) -> String {
        match self {
            Host::Name(name) => super::shorten(name),
            Host::Ip(ip) => ip.to_string(),
            Host::Wildcard => "0.0.0.0".to_string(),
        }
    }
}

/// Fold IPv4-mapped IPv6 (`::ffff:a.b.c.d`) to IPv4, so one address has one spelling.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// `inet_aton`: one to four parts, each decimal, octal (`0` prefix) or hex (`0x`); the
/// last part fills the remaining bytes. glibc accepts these as numeric hosts.
fn parse_inet_aton(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        let (digits, radix) =
            if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                (hex, 16)
            } else if part.len() > 1 && part.starts_with('0') {
                (&part[1..], 8)
            } else {
                (*part, 10)
            };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        let value = if digits.is_empty() {
            0
        } else {
            u32::from_str_radix(digits, radix).ok()?
        };
        values.push(value);
    }
    let last_bits = 8 * (5 - values.len()) as u32;
    let (last, head) = values.split_last()?;
    if head.iter().any(|v| *v > 255) || (last_bits < 32 && *last >= (1u32 << last_bits)) {
        return None;
    }
    let mut addr: u32 = 0;
    for (i, v) in head.iter().enumerate() {
        addr |= v << (24 - 8 * i as u32);
    }
    addr |= last;
    Some(Ipv4Addr::from(addr))
}

/// The IPv4 address an IPv6 address carries in its low 32 bits where a translator or an
/// old-style stack may deliver it to that IPv4 host: the NAT64 well-known prefix
/// `64:ff9b::/96` and the deprecated IPv4-compatible form `::a.b.c.d`. Mapped addresses
/// (`::ffff:a.b.c.d`) are handled by [`canonical`].
fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    let compatible = s[..6] == [0; 6] && (s[6] != 0 || s[7] > 1);
    (nat64 || compatible).then(|| Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32))
}

/// Addresses that no grant can open: cloud instance metadata services, also when written
/// as a NAT64 or IPv4-compatible IPv6 address.
pub fn is_metadata_ip(ip: IpAddr) -> bool {
    if let IpAddr::V6(v6) = ip {
        if let Some(v4) = embedded_ipv4(v6) {
            if is_metadata_ip(IpAddr::V4(v4)) {
                return true;
            }
        }
    }
    match canonical(ip) {
        IpAddr::V4(v4) => {
            v4 == Ipv4Addr::new(169, 254, 169, 254)
                || v4 == Ipv4Addr::new(169, 254, 170, 2)
                || v4 == Ipv4Addr::new(100, 100, 100, 200)
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
                || (segments[0] == 0xfe80 && segments[6] == 0xa9fe && segments[7] == 0xa9fe)
        }
    }
}

/// Host names of metadata services.
pub fn is_metadata_name(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "metadata.google.internal",
        "metadata.goog",
        "instance-data.ec2.internal",
    ];
    NAMES
        .iter()
        .any(|m| name == *m || name.strip_suffix(m).is_some_and(|rest| rest.ends_with('.')))
}

fn is_metadata(host: &Host) -> bool {
    match host {
        Host::Name(name) => is_metadata_name(name),
        Host::Ip(ip) => is_metadata_ip(*ip),
        Host::Wildcard => false,
    }
}

/// Does `spec` cover `host`? Names match on the dot boundary; IPs by network.
fn host_matches(spec: &HostSpec, host: &Host) -> bool {
    match (spec, host) {
        (HostSpec::Any, _) => true,
        (_, Host::Wildcard) => false,
        (HostSpec::Localhost, Host::Name(name)) => {
            name == "localhost" || name.ends_with(".localhost")
        }
        (HostSpec::Localhost, Host::Ip(ip)) => canonical(*ip).is_loopback(),
        (HostSpec::Domain(domain), Host::Name(name)) => {
            name == domain
                || name
                    .strip_suffix(domain.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        }
        (HostSpec::Domain(_), Host::Ip(_)) => false,
        (HostSpec::Net { addr, prefix }, Host::Ip(ip)) => {
            in_network(canonical(*ip), canonical(*addr), *prefix)
        }
        (HostSpec::Net { .. }, Host::Name(_)) => false,
    }
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let prefix = u32::from(prefix.min(32));
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let prefix = u32::from(prefix.min(128));
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

fn port_matches(grant: Option<u16>, port: Option<u16>) -> bool {
    match (grant, port) {
        (None, _) => true,
        (Some(g), Some(p)) => g == p,
        (Some(_), None) => false,
    }
}

fn grant_matches(grant: &HostGrant, host: &Host, port: Option<u16>) -> bool {
    host_matches(&grant.host, host) && port_matches(grant.port, port)
}

/// Addresses returned by granted look-ups in this process, each with the grants that
/// allowed the look-up (so `example.com:443` does not open port 80 of its addresses).
#[derive(Debug, Default)]
pub struct Learned {
    by_ip: Mutex<HashMap<IpAddr, Vec<usize>>>,
}

impl Learned {
    fn grants_for(&self, ip: IpAddr) -> Vec<usize> {
        match self.by_ip.lock() {
            Ok(map) => map.get(&canonical(ip)).cloned().unwrap_or_default(),
            Err(poisoned) => poisoned
                .into_inner()
                .get(&canonical(ip))
                .cloned()
                .unwrap_or_default(),
        }
    }
}

impl Engine {
    fn first_deny<'a>(&'a self, host: &Host, port: Option<u16>) -> Option<&'a Rule<HostGrant>> {
        self.policy
            .network
            .deny
            .iter()
            .find(|rule| grant_matches(&rule.value, host, port))
    }

    fn granted(&self, host: &Host, port: Option<u16>) -> bool {
        self.policy
            .network
            .allow
            .iter()
            .any(|rule| grant_matches(&rule.value, host, port))
    }

    fn learned_allows(&self, host: &Host, port: Option<u16>) -> bool {
        let Host::Ip(ip) = host else { return false };
        self.net.grants_for(*ip).into_iter().any(|index| {
            self.policy
                .network
                .allow
                .get(index)
                .is_some_and(|rule| port_matches(rule.value.port, port))
        })
    }

    fn net_denial(
        &self,
        capability: Capability,
        detail: String,
        reason: Reason,
        grant: Option<String>,
    ) -> Denial {
        Denial {
            capability,
            detail,
            reason,
            hint: grant.map(|g| format!("--allow-net={g} or [network] allow = [\"{g}\"]")),
        }
    }

    /// A DNS look-up of `name` (`getaddrinfo`, `gethostbyname*`). Ports are checked at
    /// connect time, so any grant for the host allows its look-up.
    pub fn net_lookup(&self, name: &str) -> Decision {
        let host = Host::parse(name);
        let detail = host.display();
        if is_metadata(&host) {
            return Err(self.net_denial(
                Capability::NetLookup,
                detail,
                Reason::Never(METADATA),
                None,
            ));
        }
        // A numeric host or the wildcard sends no query: the connect that follows decides.
        if matches!(host, Host::Wildcard | Host::Ip(_)) {
            return Ok(());
        }
        if let Some(rule) = self
            .first_deny(&host, None)
            .filter(|r| r.value.port.is_none())
        {
            return Err(self.net_denial(
                Capability::NetLookup,
                detail,
                Reason::DeniedBy(rule.origin.clone()),
                None,
            ));
        }
        // Any grant for the host allows its look-up, whatever port it names.
        if self
            .policy
            .network
            .allow
            .iter()
            .any(|r| host_matches(&r.value.host, &host))
        {
            return Ok(());
        }
        let hint = host.display();
        Err(self.net_denial(
            Capability::NetLookup,
            detail,
            self.not_granted(),
            Some(hint),
        ))
    }

    /// A reverse look-up of an address (`gethostbyaddr`, `getnameinfo`).
    pub fn net_reverse(&self, address: &str) -> Decision {
        let host = Host::parse(address);
        let Host::Ip(_) = host else {
            return self.net_lookup(address);
        };
        let detail = host.display();
        if is_metadata(&host) {
            return Err(self.net_denial(
                Capability::NetLookup,
                detail,
                Reason::Never(METADATA),
                None,
            ));
        }
        if let Some(rule) = self.first_deny(&host, None) {
            let reason = Reason::DeniedBy(rule.origin.clone());
            return Err(self.net_denial(Capability::NetLookup, detail, reason, None));
        }
        let granted = self
            .policy
            .network
            .allow
            .iter()
            .any(|r| host_matches(&r.value.host, &host));
        // A reverse look-up names no port: any grant that taught us the address will do.
        let learned = matches!(host, Host::Ip(ip) if !self.net.grants_for(ip).is_empty());
        if granted || learned {
            return Ok(());
        }
        Err(self.net_denial(
            Capability::NetLookup,
            detail.clone(),
            self.not_granted(),
            Some(detail),
        ))
    }

    /// A connection or datagram to `host:port` (`connect`, `connect_ex`, `sendto`,
    /// `sendmsg`).
    pub fn net_connect(&self, host: &Host, port: u16) -> Decision {
        let detail = host.display_with_port(port);
        // A connect to the unspecified address (`''`, `0.0.0.0`, `::`) reaches this host:
        // Linux delivers it to loopback. Judge it as loopback.
        let host = &match host {
            Host::Wildcard => Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            Host::Ip(ip) if canonical(*ip).is_unspecified() => Host::Ip(match canonical(*ip) {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            }),
            other => other.clone(),
        };
        if is_metadata(host) {
            return Err(self.net_denial(
                Capability::NetConnect,
                detail,
                Reason::Never(METADATA),
                None,
            ));
        }
        if let Some(rule) = self.first_deny(host, Some(port)) {
            let reason = Reason::DeniedBy(rule.origin.clone());
            return Err(self.net_denial(Capability::NetConnect, detail, reason, None));
        }
        let allowed = match host {
            Host::Wildcard => false,
            Host::Ip(_) => self.granted(host, Some(port)) || self.learned_allows(host, Some(port)),
            Host::Name(name) => {
                if !self.granted(host, Some(port)) {
                    false
                } else {
                    // Granted by name: the C layer resolves it after this check.
                    return self.resolved_check(name, port, detail);
                }
            }
        };
        if allowed {
            return Ok(());
        }
        Err(self.net_denial(
            Capability::NetConnect,
            detail.clone(),
            self.not_granted(),
            Some(detail),
        ))
    }

    /// A connect by name is resolved inside C, after the audit event and without one of its
    /// own. Resolve the name here too, so a granted name whose addresses are a metadata
    /// endpoint or match a deny entry is still refused. Names under `localhost` come from
    /// the hosts file and need the look-up only when deny entries exist.
    fn resolved_check(&self, name: &str, port: u16, detail: String) -> Decision {
        let local = name == "localhost" || name.ends_with(".localhost");
        if local && self.policy.network.deny.is_empty() {
            return Ok(());
        }
        let Ok(addresses) = (name, port).to_socket_addrs() else {
            // The C layer will fail the same way.
            return Ok(());
        };
        for address in addresses {
            let ip = Host::Ip(canonical(address.ip()));
            if is_metadata(&ip) {
                return Err(self.net_denial(
                    Capability::NetConnect,
                    detail,
                    Reason::Never(METADATA),
                    None,
                ));
            }
            if let Some(rule) = self.first_deny(&ip, Some(port)) {
                let reason = Reason::DeniedBy(rule.origin.clone());
                return Err(self.net_denial(Capability::NetConnect, detail, reason, None));
            }
        }
        Ok(())
    }

    /// A bind to `host:port`. Loopback and specific addresses need a grant covering them;
    /// the wildcard address (every interface) needs a grant for every host.
    pub fn net_bind(&self, host: &Host, port: u16) -> Decision {
        let detail = host.display_with_port(port);
        let port_query = if port == 0 { None } else { Some(port) };
        // The wildcard address exposes every interface: only a grant for every host covers it.
        let wildcard =
            matches!(host, Host::Wildcard) || matches!(host, Host::Ip(ip) if ip.is_unspecified());
        let allowed =
            if wildcard {
                self.policy.network.allow.iter().any(|r| {
                    r.value.host == HostSpec::Any && port_matches(r.value.port, port_query)
                })
            } else {
                self.first_deny(host, port_query).is_none()
                    && !is_metadata(host)
                    && self.granted(host, port_query)
            };
        if allowed {
            return Ok(());
        }
        let hint = match host {
            _ if wildcard => "*".to_string(),
            other if port == 0 => other.display(),
            other => other.display_with_port(port),
        };
        Err(self.net_denial(Capability::NetBind, detail, self.not_granted(), Some(hint)))
    }

    /// Is every host granted (`*`, whatever port)?
    fn network_any(&self) -> bool {
        self.policy
            .network
            .allow
            .iter()
            .any(|r| r.value.host == HostSpec::Any)
    }

    /// An abstract UNIX socket or another address family (netlink, packet...): there is no
    /// host to match, so only a grant for every host covers it.
    pub fn net_other_address(&self, capability: Capability) -> Decision {
        if self.network_any() {
            return Ok(());
        }
        Err(Denial {
            capability,
            detail: "non-IP socket address".to_string(),
            reason: self.not_granted(),
            hint: Some("--allow-net or [network] allow = [\"*\"]".to_string()),
        })
    }

    /// `socket.sethostname`: renames the host for every process on it; only a grant for
    /// every host (`--allow-net`, `--allow-all`) covers it.
    pub fn net_sethostname(&self) -> Decision {
        if self.network_any() {
            return Ok(());
        }
        Err(Denial {
            capability: Capability::NetBind,
            detail: "sethostname".to_string(),
            reason: self.not_granted(),
            hint: Some("--allow-net or [network] allow = [\"*\"]".to_string()),
        })
    }

    /// Record what a granted look-up of `name` returned, so connects to those addresses
    /// pass under the grants that allowed the name.
    pub fn net_record(&self, name: &str, ips: &[IpAddr]) {
        let host = Host::parse(name);
        if !matches!(host, Host::Name(_)) {
            return;
        }
        let grants: Vec<usize> = self
            .policy
            .network
            .allow
            .iter()
            .enumerate()
            .filter(|(_, rule)| {
                matches!(rule.value.host, HostSpec::Domain(_))
                    && host_matches(&rule.value.host, &host)
            })
            .map(|(index, _)| index)
            .collect();
        if grants.is_empty() {
            return;
        }
        let mut map = match self.net.by_ip.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        for ip in ips {
            let entry = map.entry(canonical(*ip)).or_default();
            for g in &grants {
                if !entry.contains(g) {
                    entry.push(*g);
                }
            }
        }
    }

    /// Does the policy need look-up results recorded? Only when some grant names a domain.
    pub fn net_needs_learning(&self) -> bool {
        self.policy
            .network
            .allow
            .iter()
            .any(|r| matches!(r.value.host, HostSpec::Domain(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Origin, Policy};

    fn grant(host: HostSpec, port: Option<u16>) -> Rule<HostGrant> {
        Rule::new(HostGrant { host, port }, Origin::Flag("--allow-net".into()))
    }

    fn engine(allow: Vec<Rule<HostGrant>>, deny: Vec<Rule<HostGrant>>) -> Engine {
        let mut policy = Policy::default();
        policy.network.allow = allow;
        policy.network.deny = deny;
        Engine::new(policy)
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn parses_hosts_as_the_c_layer_reads_them() {
        let cases: &[(&str, Host)] = &[
            ("127.0.0.1", Host::Ip(v4(127, 0, 0, 1))),
            ("127.1", Host::Ip(v4(127, 0, 0, 1))),
            ("2130706433", Host::Ip(v4(127, 0, 0, 1))),
            ("0x7f000001", Host::Ip(v4(127, 0, 0, 1))),
            ("0177.0.0.1", Host::Ip(v4(127, 0, 0, 1))),
            ("2852039166", Host::Ip(v4(169, 254, 169, 254))),
            ("::1", Host::Ip("::1".parse().unwrap())),
            ("[::1]", Host::Ip("::1".parse().unwrap())),
            ("fe80::1%eth0", Host::Ip("fe80::1".parse().unwrap())),
            ("::ffff:127.0.0.1", Host::Ip(v4(127, 0, 0, 1))),
            ("Example.COM.", Host::Name("example.com".into())),
            ("", Host::Wildcard),
            ("1.2.3.4.5", Host::Name("1.2.3.4.5".into())),
            ("256.1.1.1", Host::Name("256.1.1.1".into())),
            ("1e100.net", Host::Name("1e100.net".into())),
        ];
        for (text, expected) in cases {
            assert_eq!(&Host::parse(text), expected, "{text}");
        }
    }

    #[test]
    fn domains_match_on_the_dot_boundary() {
        let e = engine(
            vec![grant(HostSpec::Domain("example.com".into()), None)],
            vec![],
        );
        let cases = [
            ("example.com", true),
            ("api.example.com", true),
            ("a.b.example.com", true),
            ("EXAMPLE.com.", true),
            ("badexample.com", false),
            ("example.com.evil.test", false),
            ("example.co", false),
            ("com", false),
        ];
        for (name, ok) in cases {
            assert_eq!(e.net_lookup(name).is_ok(), ok, "lookup {name}");
            assert_eq!(
                e.net_connect(
                    &Host::Name(name.to_ascii_lowercase().trim_end_matches('.').into()),
                    443
                )
                .is_ok(),
                ok,
                "connect {name}"
            );
        }
    }

    #[test]
    fn localhost_grant_covers_loopback_only() {
        let e = engine(vec![grant(HostSpec::Localhost, None)], vec![]);
        let cases = [
            ("127.0.0.1", true),
            ("127.9.9.9", true),
            ("::1", true),
            ("::ffff:127.0.0.1", true),
            ("localhost", true),
            ("api.localhost", true),
            ("128.0.0.1", false),
            ("10.0.0.1", false),
            ("::2", false),
            ("localhost.evil.test", false),
        ];
        for (text, ok) in cases {
            assert_eq!(e.net_connect(&Host::parse(text), 80).is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn ports_are_checked_when_granted() {
        let e = engine(
            vec![
                grant(HostSpec::Domain("api.example.com".into()), Some(443)),
                grant(
                    HostSpec::Net {
                        addr: v4(10, 0, 0, 0),
                        prefix: 8,
                    },
                    Some(5432),
                ),
            ],
            vec![],
        );
        assert!(e.net_connect(&Host::parse("api.example.com"), 443).is_ok());
        assert!(e.net_connect(&Host::parse("api.example.com"), 80).is_err());
        assert!(e.net_lookup("api.example.com").is_ok());
        assert!(e.net_connect(&Host::parse("10.1.2.3"), 5432).is_ok());
        assert!(e.net_connect(&Host::parse("10.1.2.3"), 22).is_err());
        assert!(e.net_connect(&Host::parse("11.1.2.3"), 5432).is_err());
    }

    #[test]
    fn ip_literals_need_a_grant_or_a_granted_lookup() {
        let e = engine(
            vec![grant(HostSpec::Domain("example.com".into()), Some(443))],
            vec![],
        );
        let ip = v4(93, 184, 216, 34);
        assert!(e.net_connect(&Host::Ip(ip), 443).is_err());
        e.net_record("evil.test", &[ip]);
        assert!(
            e.net_connect(&Host::Ip(ip), 443).is_err(),
            "an ungranted look-up teaches nothing"
        );
        e.net_record("www.example.com", &[ip]);
        assert!(e.net_connect(&Host::Ip(ip), 443).is_ok());
        assert!(
            e.net_connect(&Host::Ip(ip), 80).is_err(),
            "the grant's port still holds"
        );
        assert!(e.net_reverse("93.184.216.34").is_ok());
    }

    #[test]
    fn metadata_endpoints_are_never_granted() {
        let e = engine(vec![grant(HostSpec::Any, None)], vec![]);
        for text in [
            "169.254.169.254",
            "2852039166",
            "::ffff:169.254.169.254",
            "169.254.170.2",
            "100.100.100.200",
            "fd00:ec2::254",
            "fe80::a9fe:a9fe",
            "fe80::a9fe:a9fe%eth0",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::100.100.100.200",
            "metadata.google.internal",
            "METADATA.google.internal.",
        ] {
            let host = Host::parse(text);
            let denial = e.net_connect(&host, 80).expect_err(text);
            assert_eq!(denial.reason, Reason::Never(METADATA));
            assert!(e.net_lookup(text).is_err(), "lookup {text}");
        }
        assert!(e.net_connect(&Host::parse("169.254.169.253"), 80).is_ok());
        assert!(e
            .net_connect(&Host::parse("64:ff9b::a9fe:a9fd"), 80)
            .is_ok());
        assert!(e.net_connect(&Host::parse("::1"), 80).is_ok());
        e.net_record("example.com", &[v4(169, 254, 169, 254)]);
        assert!(e.net_connect(&Host::parse("169.254.169.254"), 80).is_err());
    }

    #[test]
    fn deny_beats_allow() {
        let deny_origin = Origin::Flag("deny".into());
        let e = engine(
            vec![grant(HostSpec::Any, None)],
            vec![Rule::new(
                HostGrant {
                    host: HostSpec::Domain("evil.test".into()),
                    port: None,
                },
                deny_origin.clone(),
            )],
        );
        let denial = e.net_connect(&Host::parse("x.evil.test"), 443).unwrap_err();
        assert_eq!(denial.reason, Reason::DeniedBy(deny_origin));
        assert!(e.net_lookup("evil.test").is_err());
        assert!(e.net_connect(&Host::parse("good.test"), 443).is_ok());
    }

    #[test]
    fn binds_need_a_grant_and_the_wildcard_needs_every_host() {
        let local = engine(vec![grant(HostSpec::Localhost, None)], vec![]);
        assert!(local.net_bind(&Host::parse("127.0.0.1"), 0).is_ok());
        assert!(local.net_bind(&Host::parse("::1"), 8080).is_ok());
        assert!(local.net_bind(&Host::Wildcard, 8080).is_err());
        assert!(local.net_bind(&Host::parse("0.0.0.0"), 8080).is_err());
        assert!(local.net_bind(&Host::parse("::"), 8080).is_err());
        assert!(local.net_bind(&Host::parse("192.168.1.5"), 8080).is_err());
        let all = engine(vec![grant(HostSpec::Any, None)], vec![]);
        assert!(all.net_bind(&Host::Wildcard, 8080).is_ok());
        let none = engine(vec![], vec![]);
        let denial = none.net_bind(&Host::parse("127.0.0.1"), 0).unwrap_err();
        assert_eq!(
            denial.line(),
            "blocked net.bind 127.0.0.1:0 (not granted by the built-in default policy)"
        );
    }

    #[test]
    fn denial_messages_name_the_grant() {
        let e = engine(vec![], vec![]);
        let denial = e.net_connect(&Host::parse("127.0.0.1"), 8080).unwrap_err();
        assert_eq!(
            denial.to_string(),
            "blocked net.connect 127.0.0.1:8080 (not granted by the built-in default policy); \
             to allow it: --allow-net=127.0.0.1:8080 or [network] allow = [\"127.0.0.1:8080\"]"
        );
        let denial = e.net_connect(&Host::parse("::1"), 80).unwrap_err();
        assert!(denial.line().contains("[::1]:80"));
    }

    #[test]
    fn nothing_is_granted_by_default() {
        let e = engine(vec![], vec![]);
        assert!(e.net_lookup("localhost").is_err());
        assert!(e.net_connect(&Host::parse("127.0.0.1"), 1).is_err());
        assert!(e.net_lookup("").is_ok(), "a passive look-up sends nothing");
        assert!(
            e.net_lookup("127.0.0.1").is_ok(),
            "a numeric look-up sends nothing"
        );
        assert!(
            e.net_reverse("127.0.0.1").is_err(),
            "a reverse look-up asks DNS"
        );
    }
}
