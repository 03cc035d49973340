//! Which addresses a delivery may connect to.
//!
//! A subscriber URL is user input: without a guard, `http://169.254.169.254/`
//! would read the Lambda's own credentials and `http://10.0.0.5/` would reach
//! into the VPC. Addresses are checked after DNS resolution (in the
//! resolver the HTTP client uses, so a name cannot resolve to something else
//! between the check and the connection) and for IP literals before the
//! request. Only public unicast addresses pass, unless the deployment lists
//! networks in `HOOKRELAY_ALLOW_NETWORKS` (local development and tests).
//!
//! Hand-written because `IpAddr::is_global` is still unstable in std and the
//! crates that offer it are not widely used; the ranges are the IANA special-
//! purpose registries' non-global entries.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    allowed: Vec<IpNet>,
}

impl NetworkPolicy {
    /// Only public addresses.
    pub fn public_only() -> Self {
        Self::default()
    }

    /// Public addresses plus the listed networks, e.g. `127.0.0.0/8,::1/128`.
    pub fn allowing(list: &str) -> Result<Self, String> {
        let allowed = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{s:?} is not a network (CIDR) or address"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { allowed })
    }

    /// From `HOOKRELAY_ALLOW_NETWORKS` (unset: public only).
    pub fn from_env(env: &crate::env::Env) -> Result<Self, crate::env::EnvError> {
        match env.get("HOOKRELAY_ALLOW_NETWORKS") {
            Some(v) => Self::allowing(&v).map_err(|e| env.invalid("HOOKRELAY_ALLOW_NETWORKS", e)),
            None => Ok(Self::public_only()),
        }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allowed.iter().any(|n| n.contains(&ip))
    }
}

pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()          // 0.0.0.0
        || a == 0                  // 0.0.0.0/8 "this network"
        || ip.is_loopback()        // 127.0.0.0/8
        || ip.is_private()         // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local()      // 169.254/16, includes the metadata service
        || (a == 100 && (64..128).contains(&b)) // 100.64/10 carrier-grade NAT
        || (a == 192 && b == 0 && c == 0)       // 192.0.0/24 IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)       // TEST-NET-1
        || (a == 198 && b == 51 && c == 100)    // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)     // TEST-NET-3
        || (a == 198 && (b & 0xfe) == 18)       // 198.18/15 benchmarking
        || (a == 192 && b == 88 && c == 99)     // 6to4 relay anycast (deprecated)
        || a >= 224) // multicast 224/4, reserved 240/4, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // Addresses that embed an IPv4 address are judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let seg = ip.segments();
    if seg[0] == 0x64 && seg[1] == 0xff9b {
        // NAT64 well-known prefix 64:ff9b::/96
        let v4 = Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        );
        return is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00         // fc00::/7 unique local
        || (seg[0] & 0xffc0) == 0xfe80         // fe80::/10 link local
        || (seg[0] & 0xffc0) == 0xfec0         // fec0::/10 site local (deprecated)
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || (seg[0] == 0x2001 && seg[1] < 0x0200)  // 2001::/23 IETF protocol assignments (Teredo, ORCHID, ...)
        || seg[0] == 0x2002                       // 6to4: embeds any IPv4
        || (seg[0] == 0x0100 && seg[1] == 0 && seg[2] == 0 && seg[3] == 0) // 100::/64 discard
        || (seg[0..6] == [0, 0, 0, 0, 0, 0])) // ::/96 IPv4-compatible (deprecated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "::127.0.0.1",
            "fd00:ec2::254",
        ] {
            assert!(!is_public(ip(a)), "{a} must not be public");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(ip(a)), "{a} is public");
        }
    }

    #[test]
    fn allow_lists_open_exactly_their_networks() {
        let p = NetworkPolicy::allowing("127.0.0.0/8, ::1").unwrap();
        assert!(p.permits(ip("127.0.0.1")));
        assert!(p.permits(ip("::1")));
        assert!(!p.permits(ip("10.0.0.1")));
        assert!(!p.permits(ip("169.254.169.254")));
        assert!(NetworkPolicy::allowing("nonsense").is_err());
        assert!(!NetworkPolicy::public_only().permits(ip("127.0.0.1")));
    }
}
