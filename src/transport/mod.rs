//! The transport every client shares: the HTTP client and its TLS policy (here), the
//! retry policy and its back-off through the injectable clock (`retry`), and safe
//! descriptions of transport and parse errors (`detail`). The SP-API, PostNL, exchange-
//! rate and EU-service clients use it; none of them imports another.
//!
//! One blocking reqwest client, built once, over rustls with ring as the only crypto
//! provider, TLS 1.2 or 1.3, certificates checked against the bundled Mozilla roots
//! (webpki-root-certs), no redirects (credentials never follow a redirect), a timeout,
//! and the user-agent Amazon asks for. Plain http is accepted only for loopback
//! endpoints, which is where the project's sandbox runs.
//!
//! For tests only, `fuzz` holds the proptest strategies for hostile answers (random and
//! grafted JSON) that the property tests beside each parser share.

pub mod detail;
#[cfg(test)]
pub(crate) mod fuzz;
pub mod retry;

pub use detail::{json_detail, transport_detail};
pub use retry::{Backoff, RetryPolicy};

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Classify, Exit};

/// An endpoint that breaks the transport rule.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("`{0}` is not an http(s) URL")]
    BadUrl(String),
    #[error("plain http is only allowed for loopback addresses, not `{0}`")]
    PlainHttp(String),
}

impl Classify for TransportError {
    fn exit(&self) -> Exit {
        Exit::Config
    }
    fn hints(&self) -> Vec<String> {
        vec!["use an https:// endpoint; http:// is only for the sandbox on 127.0.0.1".into()]
    }
}

/// Why the TLS layer refused a server, read from the rustls error behind a transport
/// error. Nothing was sent over such a connection: rustls gives the HTTP layer no
/// stream until the handshake has finished and the certificate has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsRefusal {
    /// The server speaks only TLS 1.0/1.1 (or SSL), which fulfil does not accept.
    OldProtocol,
    /// The certificate does not chain to one of the bundled Mozilla roots.
    UnknownIssuer,
    /// The certificate has expired or is not valid yet.
    Expired,
    /// The certificate is not for the host name in the endpoint.
    WrongHost,
    /// The server and fulfil found no common protocol or cipher suite.
    Handshake,
    /// Any other certificate problem (bad signature, revoked, malformed, …).
    BadCertificate,
}

impl fmt::Display for TlsRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsRefusal::OldProtocol => {
                "the server offers only TLS 1.0/1.1, a protocol version that is not acceptable (TLS 1.2 or 1.3 is required)"
            }
            TlsRefusal::UnknownIssuer => {
                "the server's certificate is not trusted: it was issued by an unknown certificate authority"
            }
            TlsRefusal::Expired => {
                "the server's certificate is not trusted: it has expired or is not valid yet"
            }
            TlsRefusal::WrongHost => {
                "the server's certificate is not trusted: it is not valid for this host name"
            }
            TlsRefusal::Handshake => {
                "the TLS handshake failed: the server accepts no TLS 1.2/1.3 cipher suite that fulfil offers"
            }
            TlsRefusal::BadCertificate => "the server's certificate is not trusted: it is invalid",
        })
    }
}

/// A connection that TLS refused, for one operation. Raised by the SP-API, LWA and
/// PostNL clients, which do not retry it: the same server gives the same answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{op}: {refusal}; nothing was sent")]
pub struct TlsError {
    pub op: &'static str,
    pub refusal: TlsRefusal,
}

impl Classify for TlsError {
    /// Exit 2, not 4: a refused certificate or protocol version does not go away by
    /// itself on the next cron tick, and retrying it blindly would hide what may be an
    /// interception (a proxy or a middlebox with its own certificate). A person must
    /// look at the endpoint or the network, which is what exit 2 asks for.
    fn exit(&self) -> Exit {
        Exit::Config
    }
    fn hints(&self) -> Vec<String> {
        let mut h = vec![match self.refusal {
            TlsRefusal::OldProtocol | TlsRefusal::Handshake => {
                "check the endpoint in the config: Amazon and PostNL speak TLS 1.2+, so this server is not theirs or sits behind an outdated proxy".to_string()
            }
            TlsRefusal::UnknownIssuer | TlsRefusal::WrongHost | TlsRefusal::BadCertificate => {
                "check the endpoint in the config and whether a proxy or firewall intercepts TLS on this network; fulfil trusts only the bundled Mozilla roots".to_string()
            }
            TlsRefusal::Expired => {
                "check the system clock (FULFIL_NOW does not affect certificates) and the endpoint in the config".to_string()
            }
        }];
        h.push("no credentials or data were sent to this server".into());
        h
    }
}

/// Finds a TLS refusal behind a transport error, if that is what it is.
pub fn tls_refusal(err: &(dyn std::error::Error + 'static)) -> Option<TlsRefusal> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return refusal_of(r);
        }
        // An io::Error hides its inner error from `source()` (and the connector nests
        // one io::Error in another); step into it directly.
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// Only errors that can happen during the handshake count: before it finishes no byte
/// of the request leaves. Other TLS errors (a broken record later on) stay network
/// errors, which are retried.
fn refusal_of(e: &rustls::Error) -> Option<TlsRefusal> {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E, PeerIncompatible as P};
    Some(match e {
        E::PeerIncompatible(
            P::ServerDoesNotSupportTls12Or13 | P::ServerTlsVersionIsDisabledByOurConfig,
        )
        | E::AlertReceived(A::ProtocolVersion) => TlsRefusal::OldProtocol,
        E::PeerIncompatible(_)
        | E::AlertReceived(A::HandshakeFailure | A::InsufficientSecurity) => TlsRefusal::Handshake,
        E::InvalidCertificate(c) => match c {
            C::UnknownIssuer => TlsRefusal::UnknownIssuer,
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => TlsRefusal::Expired,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsRefusal::WrongHost,
            _ => TlsRefusal::BadCertificate,
        },
        E::NoCertificatesPresented => TlsRefusal::BadCertificate,
        _ => return None,
    })
}

/// Checks the transport rule for a configured endpoint.
pub fn check_endpoint(url: &str) -> Result<(), TransportError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| TransportError::BadUrl(url.into()))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = parsed.host_str().unwrap_or("");
            if is_loopback(host) {
                Ok(())
            } else {
                Err(TransportError::PlainHttp(host.into()))
            }
        }
        _ => Err(TransportError::BadUrl(url.into())),
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The user-agent Amazon asks for: `fulfil/VERSION (Language=Rust/…; Platform=…)`.
pub fn user_agent() -> String {
    format!(
        "fulfil/{} (Language=Rust; Platform={})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS
    )
}

/// Installs ring as the process-wide rustls provider (once; later calls are no-ops).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The rustls configuration: ring, TLS 1.2+, bundled roots.
pub fn tls_config() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Builds the shared blocking client.
pub fn client(timeout: Duration) -> anyhow::Result<reqwest::blocking::Client> {
    install_crypto_provider();
    let client = reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls_config())
        .user_agent(user_agent())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(15))
        .build()?;
    Ok(client)
}

/// What [`probe`] found at an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reached {
    /// An https endpoint that completed a handshake with the client's TLS settings.
    Tls(&'static str),
    /// A plain-http loopback endpoint (the sandbox) that accepted a connection.
    PlainLoopback,
}

/// Connects to an endpoint without sending a request: a TCP connection, then for
/// https a full TLS handshake with [`tls_config`] (TLS 1.2+, bundled roots, the
/// certificate checked for the host name). Returns the negotiated protocol, or a
/// one-line reason. The transport rule ([`check_endpoint`]) is checked first.
pub fn probe(url: &str, timeout: Duration) -> Result<Reached, String> {
    use std::io::Write as _;
    use std::net::{TcpStream, ToSocketAddrs as _};

    check_endpoint(url).map_err(|e| e.to_string())?;
    let parsed = reqwest::Url::parse(url).map_err(|_| format!("`{url}` is not a URL"))?;
    // An IPv6 host comes in brackets, which neither the resolver nor rustls takes.
    let host = parsed
        .host_str()
        .ok_or_else(|| format!("`{url}` has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| format!("`{url}` has no port"))?;
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let mut sock = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    sock.set_read_timeout(Some(timeout))
        .and_then(|()| sock.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    if parsed.scheme() == "http" {
        return Ok(Reached::PlainLoopback);
    }
    let name = rustls::pki_types::ServerName::try_from(host.clone())
        .map_err(|_| format!("`{host}` is not a valid TLS server name"))?;
    let mut tls = rustls::ClientConnection::new(Arc::new(tls_config()), name)
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    while tls.is_handshaking() {
        tls.complete_io(&mut sock)
            .map_err(|e| format!("TLS handshake with {host}:{port} failed: {e}"))?;
    }
    let version = match tls.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        // The config offers nothing else; a handshake could not end on another version.
        _ => return Err(format!("{host}:{port} negotiated no supported TLS version")),
    };
    tls.send_close_notify();
    let _ = tls.write_tls(&mut sock);
    let _ = sock.flush();
    Ok(Reached::Tls(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_rule() {
        assert!(check_endpoint("https://sellingpartnerapi-eu.amazon.com").is_ok());
        assert!(check_endpoint("http://127.0.0.1:9999").is_ok());
        assert!(check_endpoint("http://[::1]:9999").is_ok());
        assert!(check_endpoint("http://localhost:1").is_ok());
        assert!(matches!(
            check_endpoint("http://10.0.0.1"),
            Err(TransportError::PlainHttp(_))
        ));
        assert!(matches!(
            check_endpoint("http://api.postnl.nl"),
            Err(TransportError::PlainHttp(_))
        ));
        assert!(check_endpoint("ftp://x").is_err());
        assert!(check_endpoint("not a url").is_err());
    }

    #[test]
    fn tls_refusals_are_found_behind_nested_io_errors() {
        use rustls::{AlertDescription, CertificateError, Error};
        let wrap = |e: Error| {
            let inner = std::io::Error::new(std::io::ErrorKind::InvalidData, e);
            std::io::Error::other(inner)
        };
        let cases = [
            (
                Error::AlertReceived(AlertDescription::ProtocolVersion),
                Some(TlsRefusal::OldProtocol),
            ),
            (
                Error::PeerIncompatible(rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13),
                Some(TlsRefusal::OldProtocol),
            ),
            (
                Error::InvalidCertificate(CertificateError::UnknownIssuer),
                Some(TlsRefusal::UnknownIssuer),
            ),
            (
                Error::InvalidCertificate(CertificateError::Expired),
                Some(TlsRefusal::Expired),
            ),
            (
                Error::InvalidCertificate(CertificateError::NotValidForName),
                Some(TlsRefusal::WrongHost),
            ),
            (
                Error::InvalidCertificate(CertificateError::BadSignature),
                Some(TlsRefusal::BadCertificate),
            ),
            (
                Error::AlertReceived(AlertDescription::HandshakeFailure),
                Some(TlsRefusal::Handshake),
            ),
            // After the handshake: a network error, not a refusal.
            (Error::DecryptError, None),
        ];
        for (err, want) in cases {
            let shown = format!("{err:?}");
            assert_eq!(tls_refusal(&wrap(err)), want, "{shown}");
        }
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(tls_refusal(&plain), None);
    }

    #[test]
    fn a_tls_refusal_is_exit_2_with_hints() {
        let e = TlsError {
            op: "LWA token",
            refusal: TlsRefusal::UnknownIssuer,
        };
        assert_eq!(e.exit(), Exit::Config);
        assert!(e.to_string().contains("unknown certificate authority"));
        assert!(e.to_string().contains("nothing was sent"));
        assert_eq!(e.hints().len(), 2);
    }

    #[test]
    fn user_agent_has_app_and_language() {
        let ua = user_agent();
        assert!(ua.starts_with("fulfil/"));
        assert!(ua.contains("Language=Rust"));
    }

    #[test]
    fn client_builds() {
        client(Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn probe_reports_plain_loopback_refused_ports_and_failed_handshakes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            probe(&format!("http://127.0.0.1:{port}"), Duration::from_secs(5)),
            Ok(Reached::PlainLoopback)
        );
        // A server that closes the connection at once: no TLS handshake.
        let closer = std::thread::spawn(move || {
            for _ in 0..2 {
                if let Ok((s, _)) = listener.accept() {
                    drop(s);
                }
            }
        });
        let e = probe(&format!("https://127.0.0.1:{port}"), Duration::from_secs(5)).unwrap_err();
        assert!(e.contains("TLS handshake"), "{e}");
        closer.join().unwrap();
        assert!(probe("http://example.com", Duration::from_secs(1)).is_err());
    }
}
