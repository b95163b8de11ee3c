//! The transport rules, against real servers: plain http only to loopback, no TLS
//! below 1.2, no certificate from an unknown authority (issue #8).
//!
//! The TLS servers are OpenSSL's own `openssl s_server`, with certificates made by
//! `openssl req`/`openssl ca` in a temporary directory. `s_server` (without `-www`)
//! writes every byte it receives after a handshake to its stdout, so the tests can
//! show that fulfil sent nothing; each test first proves that channel works by
//! sending a marker through `openssl s_client`.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::TestEnv;

/// A marker sent by the control client; it must show up in the server's output.
const MARKER: &str = "transport-test-marker-6b1f";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the `openssl` binary is needed (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A P-256 key and a certificate signing request for 127.0.0.1.
fn key_and_csr(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// A self-signed certificate for 127.0.0.1, valid now.
fn self_signed(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
    );
}

/// A private CA (`ca.pem`) and a leaf for 127.0.0.1 signed by it (`leaf.pem`): a
/// correct certificate in every way but its issuer, which no public root vouches for.
fn private_ca_and_leaf(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=fulfil transport test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    key_and_csr(dir, "leaf");
    write(
        dir,
        "leaf.ext",
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ],
    );
}

/// A self-signed certificate for 127.0.0.1 that was valid for one day in 2020.
fn expired(dir: &Path) {
    key_and_csr(dir, "leaf");
    write(dir, "index.txt", "");
    write(dir, "serial", "01\n");
    write(
        dir,
        "ca.cnf",
        "[ca]\ndefault_ca = c\n[c]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
         default_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n",
    );
    write(dir, "leaf.ext", "subjectAltName=IP:127.0.0.1\n");
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            "leaf.key",
            "-in",
            "leaf.csr",
            "-out",
            "leaf.pem",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200102000000Z",
            "-extfile",
            "leaf.ext",
        ],
    );
}

/// `openssl s_server` on 127.0.0.1 with a free port; killed on drop.
struct TlsServer {
    child: Child,
    port: u16,
    out: PathBuf,
    dir: PathBuf,
}

impl TlsServer {
    fn start(dir: &Path, protocol_args: &[&str]) -> Self {
        let out = dir.join("s_server.out");
        let mut child = Command::new("openssl")
            .arg("s_server")
            .args([
                "-accept",
                "127.0.0.1:0",
                "-cert",
                "leaf.pem",
                "-key",
                "leaf.key",
            ])
            .args(protocol_args)
            .current_dir(dir)
            // s_server stops at the end of its stdin: keep it open.
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("the `openssl` binary is needed (apt-get install openssl)");
        let deadline = Instant::now() + Duration::from_secs(10);
        let port = loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if let Some(p) = text
                .lines()
                .find_map(|l| l.strip_prefix("ACCEPT 127.0.0.1:"))
                .and_then(|p| p.trim().parse().ok())
            {
                break p;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("s_server exited ({status}): {text}");
            }
            assert!(Instant::now() < deadline, "s_server did not start: {text}");
            std::thread::sleep(Duration::from_millis(20));
        };
        TlsServer {
            child,
            port,
            out,
            dir: dir.to_path_buf(),
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Everything the server printed, including what clients sent it.
    fn seen(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Connects with `openssl s_client` and sends [`MARKER`]; returns s_client's output.
    fn control_client(&self, args: &[&str]) -> String {
        let mut child = Command::new("openssl")
            .arg("s_client")
            .args(["-connect", &format!("127.0.0.1:{}", self.port)])
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{MARKER}\n").as_bytes()).unwrap();
        // Wait until the server has the marker, then close, which ends s_client.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.seen().contains(MARKER) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(stdin);
        let mut text = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let _ = child.wait();
        text
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A data directory whose Amazon (LWA and SP-API) endpoints point at `url`; its
/// sandbox stays up so that any request that went there would be recorded.
fn amazon_at(url: &str) -> TestEnv {
    let env = TestEnv::sandboxed(1);
    env.set_config("endpoint", &format!("\"{url}\""));
    env.set_config("lwa_endpoint", &format!("\"{url}/auth/o2/token\""));
    env
}

/// What must hold whenever TLS refused the server: one error line, hints, exit 2,
/// nothing sent (no HTTP request line, no credential) and no panic.
#[track_caller]
fn assert_refused(r: &crate::common::Run, server: &TlsServer, says: &str) {
    r.assert_code(2);
    let error = r.one_error();
    assert!(error.contains(says), "{}", r.stderr);
    assert!(error.contains("nothing was sent"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: "), "{}", r.stderr);
    let seen = server.seen();
    for leak in [
        "POST",
        "GET",
        "HTTP/1.1",
        "grant_type",
        fulfil::sandbox::creds::LWA_CLIENT_SECRET,
        fulfil::sandbox::creds::REFRESH_TOKEN,
    ] {
        assert!(
            !seen.contains(leak),
            "the server received {leak:?}:\n{seen}"
        );
    }
}

#[test]
fn plain_http_to_a_non_loopback_host_is_refused_before_any_connection() {
    let env = TestEnv::sandboxed(1);
    // 192.0.2.1 is TEST-NET-1: a connection attempt would hang until the timeout.
    env.set_config("endpoint", "\"http://192.0.2.1\"");
    let started = Instant::now();
    let r = env.run(&["sync-orders"]);
    r.assert_code(2);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it tried to connect"
    );
    let error = r.one_error();
    assert!(error.contains("192.0.2.1"), "{}", r.stderr);
    assert!(error.contains("plain http"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: use https"), "{}", r.stderr);
    // Not even the token call (which goes to the loopback sandbox) was made.
    assert!(env.sb().records().is_empty(), "{:?}", env.sb().records());
    assert_eq!(env.count("SELECT count(*) FROM orders"), 0);
}

#[test]
fn a_server_that_speaks_only_tls_1_0_or_1_1_is_refused() {
    for version in ["-tls1", "-tls1_1"] {
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path());
        // OpenSSL 3 allows TLS 1.0/1.1 only at security level 0.
        let server = TlsServer::start(dir.path(), &[version, "-cipher", "DEFAULT@SECLEVEL=0"]);
        // Control: the server really speaks this old version, and its output shows
        // what a client sends.
        let control = server.control_client(&[version, "-cipher", "DEFAULT@SECLEVEL=0"]);
        let expect = if version == "-tls1" {
            "Protocol  : TLSv1\n"
        } else {
            "Protocol  : TLSv1.1\n"
        };
        assert!(control.contains(expect), "{version}: {control}");
        assert!(server.seen().contains(MARKER), "{}", server.seen());
        let marker_count = server.seen().matches(MARKER).count();

        let env = amazon_at(&server.url());
        let r = env.run(&["sync-orders"]);
        assert_refused(&r, &server, "protocol version that is not acceptable");
        assert!(
            r.stderr.contains("TLS 1.2 or 1.3 is required"),
            "{}",
            r.stderr
        );
        assert_eq!(server.seen().matches(MARKER).count(), marker_count);
        assert!(env.sb().records().is_empty());
    }
}

#[test]
fn a_certificate_from_an_unknown_authority_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    private_ca_and_leaf(dir.path());
    let server = TlsServer::start(dir.path(), &[]);
    // Control: a client that trusts the private CA gets through with TLS 1.2+.
    let control = server.control_client(&["-CAfile", "ca.pem", "-verify_return_error"]);
    assert!(control.contains("Verify return code: 0 (ok)"), "{control}");
    assert!(server.seen().contains(MARKER), "{}", server.seen());

    let env = amazon_at(&server.url());
    let r = env.run(&["sync-orders"]);
    assert_refused(&r, &server, "unknown certificate authority");
    assert!(r.stderr.contains("LWA token"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: no credentials"), "{}", r.stderr);

    // The same for PostNL: the orders come from the sandbox, the labels would go to
    // the server with the untrusted certificate. The API key never leaves.
    let env = TestEnv::sandboxed(3);
    env.run(&["sync-orders"]).assert_code(0);
    let postnl_calls = || {
        env.sb()
            .records()
            .iter()
            .filter(|r| {
                r["operation"]
                    .as_str()
                    .is_some_and(|o| o.starts_with("postnl."))
            })
            .count()
    };
    assert_eq!(postnl_calls(), 0);
    std::fs::write(
        env.config(),
        std::fs::read_to_string(env.config()).unwrap().replacen(
            &format!("[postnl]\nendpoint = \"{}\"", env.sb().url()),
            &format!("[postnl]\nendpoint = \"{}\"", server.url()),
            1,
        ),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(env.config())
            .unwrap()
            .contains(&server.url()),
        "the PostNL endpoint was not replaced"
    );
    let r = env.run(&["make-labels"]);
    assert_refused(&r, &server, "unknown certificate authority");
    assert!(
        !server
            .seen()
            .contains(fulfil::sandbox::creds::POSTNL_API_KEY),
        "{}",
        server.seen()
    );
    assert_eq!(postnl_calls(), 0);
    assert_eq!(
        env.count("SELECT count(*) FROM parcels WHERE labelled_at IS NOT NULL"),
        0
    );
}

#[test]
fn an_expired_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    expired(dir.path());
    let server = TlsServer::start(dir.path(), &[]);
    let control = server.control_client(&[]);
    assert!(control.contains("certificate has expired"), "{control}");
    assert!(server.seen().contains(MARKER), "{}", server.seen());

    let env = amazon_at(&server.url());
    let r = env.run(&["sync-orders"]);
    assert_refused(&r, &server, "has expired or is not valid yet");
}

#[test]
fn an_exchange_rate_server_with_an_unknown_certificate_stops_make_invoices() {
    use crate::make_invoices::sek_order;
    let dir = tempfile::tempdir().unwrap();
    private_ca_and_leaf(dir.path());
    let server = TlsServer::start(dir.path(), &[]);
    let control = server.control_client(&["-CAfile", "ca.pem", "-verify_return_error"]);
    assert!(control.contains("Verify return code: 0 (ok)"), "{control}");

    // A Swedish order in SEK needs the ECB rate of its day.
    let env = TestEnv::sandboxed(0);
    sek_order("028-0000006-0000010").add_to(&env);
    env.run(&["sync-orders"]).assert_code(0);
    let good = std::fs::read_to_string(env.config()).unwrap();
    let bad: String = good
        .lines()
        .map(|l| {
            if l.starts_with("ecb_endpoint") {
                format!("ecb_endpoint = \"{}/rates\"\n", server.url())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert_ne!(bad, good, "no ecb_endpoint line to replace");
    std::fs::write(env.config(), bad).unwrap();

    let r = env.run(&["make-invoices", "--no-upload"]);
    assert_refused(&r, &server, "unknown certificate authority");
    assert!(r.stderr.contains("exchange rate"), "{}", r.stderr);
    // Not the order's fault: nothing issued, nothing sent to review, and with the
    // endpoint mended the next run invoices it.
    assert_eq!(env.count("SELECT count(*) FROM invoices"), 0);
    assert_eq!(env.count("SELECT count(*) FROM order_issues"), 0);
    std::fs::write(env.config(), good).unwrap();
    env.run(&["make-invoices", "--no-upload"]).assert_code(0);
    assert_eq!(env.count("SELECT count(*) FROM invoices"), 1);
}
