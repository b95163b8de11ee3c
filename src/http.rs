//! HTTP transport shared by the SP-API, LWA and PostNL clients.
//!
//! One blocking reqwest client, built once, over rustls with ring as the only crypto
//! provider, TLS 1.2 or 1.3, certificates checked against the bundled Mozilla roots
//! (webpki-root-certs), no redirects (credentials never follow a redirect), a timeout,
//! and the user-agent Amazon asks for. Plain http is accepted only for loopback
//! endpoints, which is where the project's sandbox runs.

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
