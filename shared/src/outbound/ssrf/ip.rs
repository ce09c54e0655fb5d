//! Which IP addresses count as public.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges that are never a legitimate third-party endpoint.
const V4_NON_PUBLIC: [([u8; 4], u32); 15] = [
    ([0, 0, 0, 0], 8),       // "this network", incl. 0.0.0.0
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // CGNAT, incl. Alibaba metadata 100.100.100.200
    ([127, 0, 0, 0], 8),     // loopback (Lambda Runtime API, extensions)
    ([169, 254, 0, 0], 16),  // link-local: EC2/ECS metadata
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // TEST-NET-1
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // TEST-NET-2
    ([203, 0, 113, 0], 24),  // TEST-NET-3
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, incl. broadcast
];

/// Inside global unicast 2000::/3, the blocks that are still not public.
const V6_NON_PUBLIC: [(u128, u32); 3] = [
    (0x2001_0000 << 96, 23), // IETF protocol assignments: Teredo, benchmarking, ORCHID
    (0x2001_0db8 << 96, 32), // documentation
    (0x3fff << 112, 20),     // documentation (RFC 9637)
];

/// True when `ip` may be contacted on a tenant's behalf.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    !V4_NON_PUBLIC
        .iter()
        .any(|(net, len)| same_prefix(bits, u32::from_be_bytes(*net), *len))
}

/// Addresses that carry an IPv4 address are judged by it, so `::ffff:169.254.169.254`
/// is as blocked as 169.254.169.254. Outside those, only global unicast 2000::/3 is
/// public (this excludes ::1, ::, fc00::/7 incl. fd00:ec2::254, fe80::/10, ff00::/8).
fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let bits = u128::from(ip);
    same_prefix128(bits, 0x2000 << 112, 3)
        && !V6_NON_PUBLIC
            .iter()
            .any(|(net, len)| same_prefix128(bits, *net, *len))
}

/// The IPv4 address inside IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96,
/// which also covers :: and ::1), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) forms.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from(bits as u32);
    if same_prefix128(bits, 0xffff << 32, 96)
        || same_prefix128(bits, 0, 96)
        || same_prefix128(bits, 0x0064_ff9b << 96, 96)
    {
        return Some(low32);
    }
    if same_prefix128(bits, 0x2002 << 112, 16) {
        return Some(Ipv4Addr::from((bits >> 80) as u32));
    }
    None
}

fn same_prefix(a: u32, b: u32, len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    a & mask == b & mask
}

fn same_prefix128(a: u128, b: u128, len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    a & mask == b & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public_ip(s.parse().unwrap())
    }

    #[test]
    fn non_public_v4_ranges_are_refused_at_both_edges() {
        for s in [
            "0.0.0.0",
            "10.0.0.0",
            "10.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.169.254",
            "169.254.170.2",
            "172.16.0.0",
            "172.31.255.255",
            "192.0.0.170",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!public(s), "{s} must not be public");
        }
    }

    #[test]
    fn neighbours_of_blocked_v4_ranges_stay_public() {
        for s in [
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.1",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(public(s), "{s} must be public");
        }
    }

    #[test]
    fn v6_forms_are_judged_and_embedded_v4_is_unwrapped() {
        for s in [
            "::",
            "::1",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:169.254.169.254",
            "::ffff:7f00:1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:a9fe:a9fe::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "100::1",
        ] {
            assert!(!public(s), "{s} must not be public");
        }
        for s in [
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
        ] {
            assert!(public(s), "{s} must be public");
        }
    }
}
