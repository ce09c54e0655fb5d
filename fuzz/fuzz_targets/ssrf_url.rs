//! The static SSRF check (`check_url` / `check_parsed` / `is_public_ip`).
//!
//! Input: a URL string. Its first 16 bytes are also read as an IPv4 and an
//! IPv6 address, written in every notation the `url` crate normalises.
//! Asserts: nothing panics; a URL that passes has an allowed scheme, no
//! credentials, and a host that is neither an IP the standard library's
//! `is_global` (nightly) calls non-global, a multicast address, nor (for a
//! name) an IP literal, a name ending in a number or `localhost`; a passing
//! URL passes again when re-parsed from its serialisation; and an address
//! passes in one notation exactly when it passes in every other.
#![no_main]
#![feature(ip)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use url::Host;
use valdrix_shared::outbound::ssrf::{Policy, check_url, is_public_ip};

const POLICIES: [Policy; 3] = [
    Policy {
        allow_http: false,
        allow_private: false,
    },
    Policy {
        allow_http: true,
        allow_private: false,
    },
    Policy {
        allow_http: true,
        allow_private: true,
    },
];

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for policy in &POLICIES {
            check_one(text, policy);
        }
    }
    let mut bytes = [0u8; 16];
    let n = data.len().min(16);
    bytes[..n].copy_from_slice(&data[..n]);
    let tail = String::from_utf8_lossy(&data[n..]);
    notations_agree(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]), &tail);
    let v6 = Ipv6Addr::from(bytes);
    let verdict = oracle_public(IpAddr::V6(v6));
    if is_public_ip(IpAddr::V6(v6)) {
        assert!(verdict, "{v6} is public for the guard only");
    }
    for url in [
        format!("https://[{v6}]/"),
        format!("https://[{v6}]:443/{tail}"),
    ] {
        check_one(&url, &POLICIES[0]);
        assert_eq!(
            check_url(&url, &POLICIES[0]).is_ok(),
            is_public_ip(IpAddr::V6(v6)),
            "{url}"
        );
    }
});

/// Every property of one URL under one policy.
fn check_one(text: &str, policy: &Policy) {
    let Ok(url) = check_url(text, policy) else {
        return;
    };
    let scheme_ok = url.scheme() == "https" || (policy.allow_http && url.scheme() == "http");
    assert!(scheme_ok, "scheme passed: {url}");
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "credentials passed: {url}"
    );
    let again = check_url(url.as_str(), policy);
    assert!(
        again.is_ok(),
        "{url} passes but its serialisation does not: {again:?}"
    );
    if policy.allow_private {
        return;
    }
    match url.host() {
        None => panic!("{url} passed without a host"),
        Some(Host::Ipv4(ip)) => assert!(oracle_public(ip.into()), "{url} passed: {ip}"),
        Some(Host::Ipv6(ip)) => assert!(oracle_public(ip.into()), "{url} passed: {ip}"),
        Some(Host::Domain(name)) => {
            let bare = name.trim_end_matches('.').to_ascii_lowercase();
            assert!(
                bare.parse::<IpAddr>().is_err(),
                "{url} passed an IP as a name"
            );
            let last = bare.rsplit('.').next().unwrap_or_default();
            assert!(
                !ends_in_number(last),
                "{url} passed a name ending in a number"
            );
            assert!(
                bare != "localhost" && !bare.ends_with(".localhost"),
                "{url} passed a loopback name"
            );
        }
    }
}

/// WHATWG "ends in a number": such a host is an IPv4 address or invalid.
fn ends_in_number(label: &str) -> bool {
    let hex = label
        .strip_prefix("0x")
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    hex || (!label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()))
}

/// The standard library's view (nightly `is_global`), with multicast refused
/// too and addresses that carry an IPv4 address judged by that address:
/// IPv4-mapped and -compatible (RFC 4291), NAT64 (RFC 6052), 6to4 (RFC 3056).
fn oracle_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_global() && !v4.is_multicast(),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let low = Ipv4Addr::from(bits as u32);
            if bits >> 32 == 0xffff || bits >> 32 == 0 || bits >> 32 == 0x0064_ff9b << 64 {
                return oracle_public(low.into());
            }
            if bits >> 112 == 0x2002 {
                return oracle_public(Ipv4Addr::from((bits >> 80) as u32).into());
            }
            v6.is_global() && !v6.is_multicast()
        }
    }
}

/// One IPv4 address in the notations WHATWG URL parsing accepts must get the
/// same verdict everywhere, and never pass when the oracle says non-public.
fn notations_agree(ip: Ipv4Addr, tail: &str) {
    let public = is_public_ip(ip.into());
    if public {
        assert!(
            oracle_public(ip.into()),
            "{ip} is public for the guard only"
        );
    }
    let [a, b, c, d] = ip.octets();
    let n = u32::from(ip);
    let hosts = [
        format!("{ip}"),
        format!("{n}"),
        format!("0x{n:x}"),
        format!("0X{n:08X}"),
        format!("0{n:o}"),
        format!("0{a:o}.0x{b:x}.{c}.0{d:o}"),
        format!("{a}.{}", n & 0x00ff_ffff),
        format!("{a}.{b}.{}", n & 0xffff),
        format!("{ip}."),
        format!("{a}%2e{b}%2E{c}.{d}"),
        fullwidth(&ip.to_string()),
        format!("[::ffff:{ip}]"),
        format!("[::ffff:{:x}:{:x}]", n >> 16, n & 0xffff),
        format!("[::{ip}]"),
        format!("[64:ff9b::{ip}]"),
        format!("[2002:{:x}:{:x}::1]", n >> 16, n & 0xffff),
    ];
    for host in hosts {
        for url in [
            format!("https://{host}/"),
            format!("https://{host}:8443/{tail}"),
        ] {
            check_one(&url, &POLICIES[0]);
            let passed = check_url(&url, &POLICIES[0]).is_ok();
            assert_eq!(passed, public, "{url} judged unlike {ip}");
        }
    }
}

/// Fullwidth digits and dots, which IDNA maps to ASCII before IPv4 parsing.
fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(0xff10 + (c as u32 - '0' as u32)).unwrap_or(c),
            '.' => '\u{ff0e}',
            other => other,
        })
        .collect()
}
