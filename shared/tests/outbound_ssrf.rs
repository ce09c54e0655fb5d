//! The SSRF guard without a network: static URL checks, injected DNS answers,
//! and the real system resolver on a loopback answer.

use std::io;
use std::net::{IpAddr, SocketAddr};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use url::Url;
use valdrix_shared::config::{Environment, VarSet, validate};
use valdrix_shared::outbound::ssrf::{
    Lookup, Policy, Refusal, SystemLookup, check_url, resolve_checked, resolve_checked_with,
};

const PROD: Policy = Policy {
    allow_http: false,
    allow_private: false,
};

#[test]
fn non_public_literals_in_every_notation_are_refused() {
    for url in [
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://0.0.0.0/",
        "https://10.1.2.3/",
        "https://172.16.0.1/",
        "https://172.31.255.255/",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/",
        "https://[::ffff:169.254.169.254]/",
        "https://[::ffff:7f00:1]/",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://[2002:a9fe:a9fe::]/",
        "https://100.64.0.1/",
        "https://100.100.100.200/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://0177.0.0.1/",
        "https://127.1/",
        "https://0x7f.1/",
        "https://127.0.0.1./",
        "https://198.18.0.1/",
        "https://240.0.0.1/",
    ] {
        let refusal = check_url(url, &PROD).expect_err(url);
        assert!(
            matches!(refusal, Refusal::NonPublicAddress(_)),
            "{url}: {refusal:?}"
        );
    }
}

#[test]
fn alternative_notations_normalise_to_the_address_they_mean() {
    for url in [
        "https://2130706433/",
        "https://0x7f000001/",
        "https://0177.0.0.1/",
        "https://127.1/",
    ] {
        let refusal = check_url(url, &PROD).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::NonPublicAddress("127.0.0.1".parse().unwrap()),
            "{url}"
        );
    }
}

#[test]
fn local_and_internal_names_are_refused_with_or_without_trailing_dot() {
    for url in [
        "https://localhost/",
        "https://localhost./",
        "https://LOCALHOST/",
        "https://api.localhost/",
        "https://printer.local/",
        "https://printer.local./",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://metadata.google.internal./",
        "https://db.internal/",
        "https://intranet/",
    ] {
        let refusal = check_url(url, &PROD).expect_err(url);
        assert!(
            matches!(refusal, Refusal::LocalName(_)),
            "{url}: {refusal:?}"
        );
    }
}

#[test]
fn public_targets_pass() {
    for url in [
        "https://172.32.0.1/",
        "https://172.15.255.255/",
        "https://8.8.8.8/",
        "https://[2606:4700:4700::1111]/",
        "https://hooks.example.com/valdrix?token=abc",
        "https://example.atlassian.net",
        "https://gitlab.example.org:8443/",
    ] {
        check_url(url, &PROD).unwrap_or_else(|r| panic!("{url}: {r}"));
    }
}

#[test]
fn scheme_and_credentials_rules() {
    assert_eq!(
        check_url("http://hooks.example.com/", &PROD),
        Err(Refusal::Scheme("http".into()))
    );
    assert!(
        check_url(
            "http://hooks.example.com/",
            &Policy {
                allow_http: true,
                allow_private: false
            }
        )
        .is_ok()
    );
    for url in [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
    ] {
        assert!(
            matches!(check_url(url, &PROD), Err(Refusal::Scheme(_))),
            "{url}"
        );
    }
    for url in [
        "https://user:pw@example.com/",
        "https://user@example.com/",
        "https://:pw@example.com/",
    ] {
        assert_eq!(check_url(url, &PROD), Err(Refusal::Credentials), "{url}");
    }
    assert_eq!(check_url("not-a-url", &PROD), Err(Refusal::Malformed));
    assert_eq!(
        check_url("HTTPS://example.com/", &PROD),
        Err(Refusal::Malformed)
    );
    assert_eq!(
        check_url("https:example.com/", &PROD),
        Err(Refusal::Malformed)
    );
    for invisible in [
        "not a url",
        "https://example.com/a\r\nX: 1",
        "https://example.com/\tx",
    ] {
        assert_eq!(
            check_url(invisible, &PROD),
            Err(Refusal::Invisible),
            "{invisible:?}"
        );
    }
}

#[test]
fn refusals_never_echo_path_query_or_credentials() {
    let cases = [
        "https://127.0.0.1/hook?token=s3cr3t-q",
        "https://user:s3cr3t-q@example.com/",
        "http://example.com/s3cr3t-q",
        "https://localhost/s3cr3t-q?s3cr3t-q",
    ];
    for url in cases {
        let text = check_url(url, &PROD).unwrap_err().to_string();
        assert!(!text.contains("s3cr3t"), "{url}: {text}");
    }
}

#[test]
fn the_local_allowance_lets_loopback_and_http_through() {
    let local = Policy {
        allow_http: true,
        allow_private: true,
    };
    for url in [
        "http://127.0.0.1:8080/",
        "http://localhost:9000/",
        "https://[::1]/",
    ] {
        assert!(check_url(url, &local).is_ok(), "{url}");
    }
    // Still no credentials and no odd schemes.
    assert_eq!(
        check_url("http://u:p@127.0.0.1/", &local),
        Err(Refusal::Credentials)
    );
    assert!(check_url("ftp://127.0.0.1/", &local).is_err());
}

fn config(environment: &str, allow: &str) -> valdrix_shared::config::RuntimeConfig {
    let vars = VarSet::from_pairs([
        ("ENVIRONMENT", environment),
        (
            "SUPABASE_JWT_SECRET",
            "jwt-7Hq2mXv9LpR4sT8wZ1cN5bF3kD6gJ0aY",
        ),
        ("ENCRYPTION_KEY", "enc-Q9wE2rT5yU8iO1pA4sD7fG0hJ3kL6zXc"),
        ("KDF_SALT", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        ("CSRF_SECRET_KEY", "csrf-M3nB6vC9xZ2lK5jH8gF1dS4aP7oI0uYt"),
        ("VALDRIX_ALLOW_PRIVATE_OUTBOUND", allow),
    ]);
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    validate(&vars, now).expect("valid development config")
}

#[test]
fn policy_from_config_allows_private_only_when_asked_and_not_strict() {
    let on = Policy {
        allow_http: true,
        allow_private: true,
    };
    assert_eq!(Policy::from_config(&config("development", "true")), on);
    assert_eq!(Policy::from_config(&config("local", "true")), on);
    assert_eq!(Policy::from_config(&config("development", "false")), PROD);
    // The contract refuses this combination; a hand-edited config still gets nothing.
    for env in [Environment::Staging, Environment::Production] {
        let mut cfg = config("development", "true");
        cfg.environment = env;
        assert_eq!(Policy::from_config(&cfg), PROD, "{env}");
    }
}

/// Answers from a fixed table, or delegates a name to the real resolver.
struct FakeDns {
    answers: Vec<(&'static str, Vec<IpAddr>)>,
    via_system: Option<(&'static str, &'static str)>,
}

#[async_trait]
impl Lookup for FakeDns {
    async fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        if let Some((_, real)) = self.via_system.filter(|(alias, _)| *alias == host) {
            return SystemLookup.lookup(real, port).await;
        }
        self.answers
            .iter()
            .find(|(name, _)| *name == host)
            .map(|(_, ips)| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"))
    }
}

fn dns(answers: Vec<(&'static str, Vec<&str>)>) -> FakeDns {
    FakeDns {
        answers: answers
            .into_iter()
            .map(|(n, ips)| (n, ips.into_iter().map(|ip| ip.parse().unwrap()).collect()))
            .collect(),
        via_system: None,
    }
}

#[tokio::test]
async fn a_name_is_refused_when_any_answer_is_non_public() {
    let fake = dns(vec![
        ("rebind.example.com", vec!["93.184.216.34", "10.0.0.7"]),
        ("meta.example.com", vec!["169.254.169.254"]),
        ("v6meta.example.com", vec!["2606:4700::1", "fd00:ec2::254"]),
        ("ok.example.com", vec!["93.184.216.34", "2606:4700::1"]),
    ]);
    for (host, bad) in [
        ("rebind.example.com", "10.0.0.7"),
        ("meta.example.com", "169.254.169.254"),
        ("v6meta.example.com", "fd00:ec2::254"),
    ] {
        let url = Url::parse(&format!("https://{host}/hook")).unwrap();
        let refusal = resolve_checked_with(&url, &PROD, &fake).await.unwrap_err();
        assert_eq!(
            refusal,
            Refusal::ResolvesNonPublic {
                host: host.into(),
                addr: bad.parse().unwrap()
            }
        );
    }
    let url = Url::parse("https://ok.example.com:8443/hook").unwrap();
    let addrs = resolve_checked_with(&url, &PROD, &fake).await.unwrap();
    assert_eq!(addrs.len(), 2);
    assert!(addrs.iter().all(|a| a.port() == 8443));
}

#[tokio::test]
async fn unresolvable_names_are_a_transient_refusal() {
    let url = Url::parse("https://nowhere.example.com/").unwrap();
    let refusal = resolve_checked_with(&url, &PROD, &dns(vec![]))
        .await
        .unwrap_err();
    assert_eq!(refusal, Refusal::Unresolvable("nowhere.example.com".into()));
    assert!(refusal.is_transient());
    assert!(!Refusal::NonPublicAddress("10.0.0.1".parse().unwrap()).is_transient());
}

#[tokio::test]
async fn the_system_resolver_path_refuses_a_loopback_answer() {
    // A public-looking name whose answer comes from the real OS resolver for
    // `localhost`, i.e. loopback: the check must happen on what DNS returned.
    let fake = FakeDns {
        answers: vec![],
        via_system: Some(("innocent.example.com", "localhost")),
    };
    let url = Url::parse("https://innocent.example.com/").unwrap();
    let refusal = resolve_checked_with(&url, &PROD, &fake).await.unwrap_err();
    match refusal {
        Refusal::ResolvesNonPublic { host, addr } => {
            assert_eq!(host, "innocent.example.com");
            assert!(addr.is_loopback(), "{addr}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // And resolve_checked itself refuses localhost before any lookup.
    let url = Url::parse("https://localhost/").unwrap();
    assert!(matches!(
        resolve_checked(&url, &PROD).await,
        Err(Refusal::LocalName(_))
    ));
}

#[tokio::test]
async fn literal_ips_resolve_to_themselves_after_the_static_check() {
    let url = Url::parse("https://8.8.8.8/").unwrap();
    let addrs = resolve_checked(&url, &PROD).await.unwrap();
    assert_eq!(addrs, vec!["8.8.8.8:443".parse::<SocketAddr>().unwrap()]);
    let url = Url::parse("https://10.0.0.1/").unwrap();
    assert!(resolve_checked(&url, &PROD).await.is_err());
}
