//! A small blocking PostNL client: reserve a barcode, make a label.
//!
//! This module owns the two calls the label flow needs (NOTES §2, option 2): the
//! Barcode service (`GET /shipment/v1_1/barcode`) and Labelling v2_2
//! (`POST /shipment/v2_2/label?confirm=…`). The caller reserves a barcode, stores it
//! with the order, then asks for the label; a retry after a crash sends the same
//! barcode again instead of announcing a second parcel. Confirm-later, Shipping v1
//! and the other services are deliberately not here.
//!
//! Every call goes through `Client::exchange`: attach the `apikey` header (marked
//! sensitive) and `Accept: application/json`, send, then sort the answer. 2xx is
//! parsed; an answer that does not parse (cut off, not JSON) is retried. 429 waits
//! for `Retry-After` or backs off; 5xx and network errors are retried with exponential
//! back-off and jitter a bounded number of times and then reported as temporary
//! (exit 4). 401/403 are a key problem (exit 2) and 400 a validation error for the
//! order(s) in the request (exit 1); neither is retried. Errors inside a 200 answer
//! are reported per shipment in [`LabelResponse`], so one refused order does not
//! sink the others.
//!
//! Request and response types live in [`models`], errors in [`error`]. Personal data
//! in requests is [`crate::logging::Pii`]; no body, request or answer, is logged.

pub mod address;
#[cfg(test)]
mod address_corpus;
pub mod error;
pub mod models;
pub mod postcode;
#[cfg(test)]
mod props;

use std::cell::RefCell;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret as _, SecretString};

use crate::clock::Clock;
use crate::transport::{Backoff, RetryPolicy};
pub use error::PostnlError;
pub use models::{
    Address, AddressType, BarcodeKind, BarcodeSpec, Contact, ContactType, Customer, Dimension,
    Label, LabelRequest, LabelResponse, Message, Notice, ProductOption, Shipment, ShipmentResult,
    Stamp,
};

use models::BodyError;

/// PostNL production.
pub const PRODUCTION_URL: &str = "https://api.postnl.nl";
/// PostNL's own sandbox (its keys differ from production keys).
pub const SANDBOX_URL: &str = "https://api-sandbox.postnl.nl";

/// Calls per minute and key PostNL allows in production and on its sandbox.
pub const PRODUCTION_CALLS_PER_MINUTE: u32 = 1000;
pub const SANDBOX_CALLS_PER_MINUTE: u32 = 15;

const BARCODE_PATH: &str = "/shipment/v1_1/barcode";
const LABEL_PATH: &str = "/shipment/v2_2/label";

/// Counts for the run summary.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    pub calls: u32,
    pub throttled: u32,
    pub retries: u32,
    pub waited_ms: u64,
}

pub struct Client<'a> {
    http: &'a reqwest::blocking::Client,
    clock: &'a Clock,
    base: String,
    api_key: SecretString,
    retry: Backoff,
    stats: RefCell<Stats>,
    pacer: RefCell<Pacer>,
}

/// PostNL allows a number of calls per minute and key (1,000 in production, 15 on its
/// own sandbox). The pacer keeps the start times of the calls of the last minute and
/// holds a call back until it would be within the limit, instead of running into 429s.
#[derive(Debug)]
struct Pacer {
    per_minute: usize,
    sent: std::collections::VecDeque<std::time::Instant>,
}

impl Pacer {
    const WINDOW: Duration = Duration::from_secs(60);

    fn new(per_minute: u32) -> Self {
        Self {
            per_minute: usize::try_from(per_minute.max(1)).unwrap_or(usize::MAX),
            sent: std::collections::VecDeque::new(),
        }
    }

    /// How long a call at `now` has to wait.
    fn wait(&mut self, now: std::time::Instant) -> Duration {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Self::WINDOW)
        {
            self.sent.pop_front();
        }
        if self.sent.len() < self.per_minute {
            return Duration::ZERO;
        }
        // `record` keeps at most `per_minute` calls: the window is full, and it has room
        // again when its oldest call leaves it.
        self.sent.front().map_or(Duration::ZERO, |oldest| {
            (*oldest + Self::WINDOW).saturating_duration_since(now)
        })
    }

    fn record(&mut self, at: std::time::Instant) {
        self.sent.push_back(at);
        if self.sent.len() > self.per_minute {
            self.sent.pop_front();
        }
    }
}

/// One request to make.
struct Call<'q> {
    op: &'static str,
    path: &'static str,
    query: &'q [(&'static str, String)],
    /// JSON body; `Some` makes it a POST.
    body: Option<&'q [u8]>,
}

impl<'a> Client<'a> {
    /// A client for `base_url` (e.g. [`PRODUCTION_URL`], [`SANDBOX_URL`] or the
    /// project's loopback sandbox). Refuses an endpoint that breaks the transport rule
    /// and a key that cannot be sent as a header.
    pub fn new(
        http: &'a reqwest::blocking::Client,
        base_url: &str,
        api_key: SecretString,
        retry: RetryPolicy,
        clock: &'a Clock,
    ) -> Result<Self, PostnlError> {
        crate::transport::check_endpoint(base_url)?;
        let key = api_key.expose_secret();
        if key.trim().is_empty() || HeaderValue::from_str(key).is_err() {
            return Err(PostnlError::Config(
                "the PostNL API key is empty or holds characters an HTTP header cannot carry",
            ));
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos());
        let seed = u64::try_from(nanos % u128::from(u64::MAX)).unwrap_or(1) | 1;
        Ok(Self {
            http,
            clock,
            base: base_url.trim_end_matches('/').to_string(),
            api_key,
            retry: Backoff::new(retry, seed),
            stats: RefCell::new(Stats::default()),
            pacer: RefCell::new(Pacer::new(if base_url.starts_with(SANDBOX_URL) {
                SANDBOX_CALLS_PER_MINUTE
            } else {
                PRODUCTION_CALLS_PER_MINUTE
            })),
        })
    }

    /// Paces calls to `per_minute` instead of the limit the endpoint implies.
    #[must_use]
    pub fn with_pacing(self, per_minute: u32) -> Self {
        *self.pacer.borrow_mut() = Pacer::new(per_minute);
        self
    }

    /// Waits, if need be, so that this call stays within PostNL's calls per minute.
    fn pace(&self) {
        let wait = self.pacer.borrow_mut().wait(std::time::Instant::now());
        if !wait.is_zero() {
            tracing::debug!(wait_ms = wait.as_millis(), "pacing PostNL calls");
            self.stats.borrow_mut().waited_ms +=
                u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            self.clock.sleep(wait);
        }
        self.pacer.borrow_mut().record(std::time::Instant::now());
    }

    pub fn stats(&self) -> Stats {
        self.stats.borrow().clone()
    }

    /// Reserves one 3S barcode for a shipment of `kind`, and checks its shape before
    /// handing it out: a barcode of the wrong length would be refused on the label
    /// call, or worse, printed.
    pub fn barcode(
        &self,
        customer_code: &str,
        customer_number: &str,
        kind: BarcodeKind,
    ) -> Result<String, PostnlError> {
        let spec = kind.spec(customer_code)?;
        let number = customer_number.trim();
        if number.is_empty() || number.len() > 8 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PostnlError::Config(
                "the customer number must be 1 to 8 digits",
            ));
        }
        let query = [
            ("CustomerCode", spec.range.clone()),
            ("CustomerNumber", number.to_string()),
            ("Type", spec.barcode_type.to_string()),
            ("Serie", spec.serie.to_string()),
            ("Range", spec.range.clone()),
        ];
        let call = Call {
            op: "barcode",
            path: BARCODE_PATH,
            query: &query,
            body: None,
        };
        let barcode = self.exchange(&call, models::parse_barcode)?;
        spec.check(&barcode)
            .map_err(|reason| PostnlError::BadBarcode {
                reason,
                expected_len: spec.len,
                got_len: barcode.chars().count(),
            })?;
        Ok(barcode)
    }

    /// Asks for the labels of up to four shipments; with `confirm` PostNL also
    /// pre-announces them. The request is checked first ([`LabelRequest::check`]) and
    /// refused without a call if it breaks a rule or exceeds 200 KB.
    ///
    /// `Ok` means PostNL answered; each [`ShipmentResult`] still says whether that
    /// shipment got a label. `Err` means no shipment did.
    pub fn label(&self, req: &LabelRequest, confirm: bool) -> Result<LabelResponse, PostnlError> {
        req.check()?;
        let body = serde_json::to_vec(req)
            .map_err(|_| PostnlError::Refused("the request could not be encoded"))?;
        if body.len() > models::MAX_REQUEST_BYTES {
            return Err(PostnlError::TooLarge { bytes: body.len() });
        }
        let barcodes: Vec<&str> = req.shipments.iter().map(|s| s.barcode.as_str()).collect();
        let query = [("confirm", confirm.to_string())];
        let call = Call {
            op: "label",
            path: LABEL_PATH,
            query: &query,
            body: Some(&body),
        };
        let printer = req.message.printer();
        self.exchange(&call, |b| {
            models::parse_label_response_as(b, &barcodes, printer)
        })
    }

    fn backoff(&self, tries: u32) -> Duration {
        self.retry.delay(tries)
    }

    fn pause(&self, d: Duration) {
        let mut s = self.stats.borrow_mut();
        s.retries += 1;
        s.waited_ms += u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        drop(s);
        self.clock.sleep(d);
    }

    /// Makes one call with retries and hands a 2xx body to `parse`.
    fn exchange<T>(
        &self,
        call: &Call<'_>,
        parse: impl Fn(&[u8]) -> Result<T, BodyError>,
    ) -> Result<T, PostnlError> {
        let op = call.op;
        let url = format!("{}{}", self.base, call.path);
        let max = self.retry.policy.max_tries.max(1);
        let mut tries = 0u32;
        let mut throttles = 0u32;
        loop {
            tries += 1;
            self.pace();
            self.stats.borrow_mut().calls += 1;
            let mut key = HeaderValue::from_str(self.api_key.expose_secret())
                .map_err(|_| PostnlError::Config("the PostNL API key is not a valid header"))?;
            key.set_sensitive(true);
            let mut req = match call.body {
                Some(body) => self
                    .http
                    .post(&url)
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_vec()),
                None => self.http.get(&url),
            };
            req = req
                .query(call.query)
                .header("apikey", key)
                .header(ACCEPT, "application/json");
            let resp = match req.send() {
                Ok(r) => r,
                Err(e) => {
                    if let Some(refusal) = crate::transport::tls_refusal(&e) {
                        return Err(crate::transport::TlsError { op, refusal }.into());
                    }
                    let detail = crate::transport::transport_detail(&e);
                    if tries < max {
                        tracing::debug!(
                            operation = op, error = %detail,
                            "network error, retrying"
                        );
                        self.pause(self.backoff(tries));
                        continue;
                    }
                    return Err(PostnlError::Network { op, tries, detail });
                }
            };
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = match resp.bytes() {
                Ok(b) => b.to_vec(),
                Err(e) => {
                    let detail = crate::transport::transport_detail(&e);
                    if tries < max {
                        tracing::debug!(
                            operation = op, status, error = %detail,
                            "answer cut off, retrying"
                        );
                        self.pause(self.backoff(tries));
                        continue;
                    }
                    return Err(PostnlError::Network { op, tries, detail });
                }
            };
            tracing::debug!(
                operation = op,
                status,
                tries,
                bytes = body.len(),
                "postnl answer"
            );
            match status {
                200..=299 => match parse(&body) {
                    Ok(v) => return Ok(v),
                    Err(BodyError::Rejected(issues)) => {
                        return Err(PostnlError::Invalid { op, status, issues });
                    }
                    Err(BodyError::Malformed(detail)) => {
                        if tries < max {
                            tracing::debug!(
                                operation = op, detail = %detail,
                                "unreadable answer, retrying"
                            );
                            self.pause(self.backoff(tries));
                            continue;
                        }
                        return Err(PostnlError::Malformed { op, tries, detail });
                    }
                },
                429 => {
                    throttles += 1;
                    self.stats.borrow_mut().throttled += 1;
                    if throttles >= max {
                        return Err(PostnlError::Throttled {
                            op,
                            tries: throttles,
                        });
                    }
                    let wait = retry_after
                        .unwrap_or_else(|| self.backoff(throttles))
                        .min(self.retry.policy.cap);
                    tracing::debug!(
                        operation = op,
                        wait_ms = wait.as_millis(),
                        "throttled by PostNL"
                    );
                    self.pause(wait);
                    tries -= 1; // a throttled call is counted by `throttles`, not as a failure
                }
                500 | 502 | 503 | 504 => {
                    if tries >= max {
                        return Err(PostnlError::Server { op, status, tries });
                    }
                    self.pause(self.backoff(tries));
                }
                401 | 403 => {
                    let code = models::parse_error_body(&body).fault_code;
                    return Err(PostnlError::Unauthorized { op, status, code });
                }
                400 => {
                    let issues = models::parse_error_body(&body).issues;
                    return Err(PostnlError::Invalid { op, status, issues });
                }
                404 => return Err(PostnlError::NotFound { op }),
                _ => return Err(PostnlError::Unexpected { op, status }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pacer_lets_the_limit_through_per_minute_and_no_more() {
        use std::time::Instant;
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut p = super::Pacer::new(3);
        for i in 0..3 {
            assert_eq!(p.wait(t0 + s(i)), Duration::ZERO);
            p.record(t0 + s(i));
        }
        // A fourth call at 10 s waits until the first leaves the window at 60 s.
        assert_eq!(p.wait(t0 + s(10)), s(50));
        p.record(t0 + s(60));
        // Then each next call waits for the next oldest.
        assert_eq!(p.wait(t0 + s(60)), s(1));
        assert_eq!(p.wait(t0 + s(61)), Duration::ZERO);
        // After a quiet minute the whole allowance is back.
        let mut p = super::Pacer::new(2);
        p.record(t0);
        p.record(t0);
        assert_eq!(p.wait(t0 + s(59)), s(1));
        assert_eq!(p.wait(t0 + s(120)), Duration::ZERO);
        assert!(p.sent.is_empty());
    }

    use std::fmt::Write as _;
    use std::io::{Read as _, Write as _};
    use std::net::{TcpListener, TcpStream};
    use std::thread::JoinHandle;
    use std::time::Instant;

    use time::macros::datetime;

    use super::*;
    use crate::error::{Classify as _, Exit};
    use crate::logging::Pii;

    const PDF_B64: &str = "JVBERi0xLjMKJeLjz9MK";
    const KEY: &str = "test-key-123";

    /// A canned answer; `claim` announces more bytes than are sent (a cut-off body).
    struct Reply {
        status: u16,
        body: String,
        headers: Vec<(&'static str, String)>,
        claim: Option<usize>,
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.to_string(),
            headers: Vec::new(),
            claim: None,
        }
    }

    fn cut(body: &str) -> Reply {
        Reply {
            claim: Some(body.len() + 400),
            ..reply(200, body)
        }
    }

    #[derive(Debug)]
    struct Seen {
        line: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// A one-thread HTTP/1.1 server on 127.0.0.1 that answers one connection per
    /// canned reply and returns what it saw. It gives up after a few seconds
    /// without a connection, so a test that sends fewer requests does not hang.
    fn serve(replies: Vec<Reply>) -> (String, JoinHandle<Vec<Seen>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for r in replies {
                let deadline = Instant::now() + Duration::from_secs(5);
                let mut stream = loop {
                    match listener.accept() {
                        Ok((s, _)) => break s,
                        Err(_) if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => return seen,
                    }
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                seen.push(read_request(&mut stream));
                let mut head = format!(
                    "HTTP/1.1 {} Canned\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                    r.status,
                    r.claim.unwrap_or(r.body.len())
                );
                for (k, v) in &r.headers {
                    let _ = write!(head, "{k}: {v}\r\n");
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(r.body.as_bytes());
                let _ = stream.flush();
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
            seen
        });
        (base, handle)
    }

    fn read_request(stream: &mut TcpStream) -> Seen {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            let n = stream.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                break buf.len();
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let len = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = buf.get(head_end + 4..).unwrap_or(&[]).to_vec();
        while body.len() < len {
            let n = stream.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Seen {
            line,
            headers,
            body,
        }
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            max_tries: 3,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(20),
        }
    }

    fn clock() -> &'static Clock {
        static CLOCK: std::sync::OnceLock<Clock> = std::sync::OnceLock::new();
        CLOCK.get_or_init(Clock::system)
    }

    fn http() -> reqwest::blocking::Client {
        crate::transport::client(Duration::from_secs(5)).unwrap()
    }

    fn client<'a>(http: &'a reqwest::blocking::Client, base: &str) -> Client<'a> {
        Client::new(http, base, SecretString::from(KEY), quick(), clock()).unwrap()
    }

    fn request(barcodes: &[&str]) -> LabelRequest {
        let p = |s: &str| Some(Pii::new(s.to_string()));
        LabelRequest {
            customer: Customer {
                customer_code: "DEVC".into(),
                customer_number: "11223344".into(),
                collection_location: Some("123456".into()),
                contact_person: None,
                email: None,
                name: p("Example Shop"),
                address: Address {
                    address_type: AddressType::Sender,
                    company_name: p("Example Shop B.V."),
                    street: p("Voorbeeldweg"),
                    house_nr: p("10"),
                    zipcode: p("3511AB"),
                    city: p("Utrecht"),
                    countrycode: "NL".into(),
                    ..Address::default()
                },
            },
            message: Message::new("T1", datetime!(2025-02-03 08:15:00 UTC)).unwrap(),
            shipments: barcodes
                .iter()
                .map(|b| Shipment {
                    addresses: vec![Address {
                        name: p("Jansen"),
                        street: p("Dorpsstraat"),
                        house_nr: p("1"),
                        zipcode: p("1234AB"),
                        city: p("Ergens"),
                        countrycode: "NL".into(),
                        ..Address::default()
                    }],
                    barcode: (*b).to_string(),
                    contacts: Vec::new(),
                    dimension: Dimension { weight: 500 },
                    product_code_delivery: "3085".into(),
                    product_options: Vec::new(),
                    reference: Some("402-0000000-0000000".into()),
                    delivery_date: None,
                    groups: Vec::new(),
                })
                .collect(),
        }
    }

    fn label_ok(barcode: &str) -> String {
        format!(
            r#"{{"MergedLabels":[],"ResponseShipments":[{{"Barcode":"{barcode}","ProductCodeDelivery":"3085",
              "Labels":[{{"Content":"{PDF_B64}","Labeltype":"Label","OutputType":"PDF"}}],"Errors":[],"Warnings":[]}}]}}"#
        )
    }

    #[test]
    fn new_checks_endpoint_and_key() {
        let http = http();
        assert!(
            Client::new(
                &http,
                PRODUCTION_URL,
                SecretString::from(KEY),
                quick(),
                clock()
            )
            .is_ok()
        );
        assert!(
            Client::new(
                &http,
                SANDBOX_URL,
                SecretString::from(KEY),
                quick(),
                clock()
            )
            .is_ok()
        );
        assert!(matches!(
            Client::new(
                &http,
                "http://api.postnl.nl",
                SecretString::from(KEY),
                quick(),
                clock()
            ),
            Err(PostnlError::Endpoint(_))
        ));
        assert!(matches!(
            Client::new(
                &http,
                SANDBOX_URL,
                SecretString::from(" "),
                quick(),
                clock()
            ),
            Err(PostnlError::Config(_))
        ));
        assert!(matches!(
            Client::new(
                &http,
                SANDBOX_URL,
                SecretString::from("a\nb"),
                quick(),
                clock()
            ),
            Err(PostnlError::Config(_))
        ));
    }

    #[test]
    fn barcode_sends_key_headers_and_query() {
        let (base, server) = serve(vec![reply(200, r#"{"Barcode":"3SDEVC987001234"}"#)]);
        let http = http();
        let c = client(&http, &format!("{base}/"));
        let got = c
            .barcode("DEVC", "11223344", BarcodeKind::Domestic)
            .unwrap();
        assert_eq!(got, "3SDEVC987001234");
        let seen = server.join().unwrap();
        assert_eq!(seen.len(), 1);
        let s = &seen[0];
        assert!(
            s.line.starts_with("GET /shipment/v1_1/barcode?"),
            "{}",
            s.line
        );
        for part in [
            "CustomerCode=DEVC",
            "CustomerNumber=11223344",
            "Type=3S",
            "Serie=987000000-987600000",
            "Range=DEVC",
        ] {
            assert!(s.line.contains(part), "{part} missing in {}", s.line);
        }
        assert_eq!(s.header("apikey"), Some(KEY));
        assert_eq!(s.header("accept"), Some("application/json"));
        assert_eq!(c.stats().calls, 1);
    }

    /// Issue #18: the postal-code check is a GET with the documented query, and it goes
    /// through the same pacer as the barcode and label calls, so it counts against
    /// PostNL's calls per minute; a throttled check is retried like any call.
    #[test]
    fn postcode_check_shares_the_pacing_and_retries_of_the_label_calls() {
        let found = r#"[{"city":"TESTSTAD","postalCode":"1011AB","streetName":"Zonegge 23","houseNumber":12,"formattedAddress":["Zonegge 23 12","1011AB TESTSTAD"]}]"#;
        let (base, server) = serve(vec![
            reply(
                429,
                r#"{"message":"Too many requests. Rate limit exceeded!","http_status_code":429}"#,
            ),
            reply(200, found),
            reply(200, r#"{"Barcode":"3SDEVC987001234"}"#),
        ]);
        let http = http();
        let c = client(&http, &base).with_pacing(10);
        let got = c.postalcode_check("1011AB", "12", "").unwrap();
        assert_eq!(
            (got[0].street.as_str(), got[0].house_nr.as_str()),
            ("Zonegge 23", "12")
        );
        c.barcode("DEVC", "11223344", BarcodeKind::Domestic)
            .unwrap();
        let seen = server.join().unwrap();
        assert_eq!(seen.len(), 3);
        assert!(
            seen[1].line.starts_with(
                "GET /shipment/checkout/v1/postalcodecheck?postalcode=1011AB&housenumber=12 "
            ),
            "{}",
            seen[1].line
        );
        assert_eq!(seen[1].header("apikey"), Some(KEY));
        let stats = c.stats();
        assert_eq!((stats.calls, stats.throttled), (3, 1));
        // Every call, checks and barcode alike, took its place in the one window.
        assert_eq!(c.pacer.borrow().sent.len(), 3);
        // Arguments the service cannot take are refused without a call.
        assert!(matches!(
            c.postalcode_check("1011 AB", "12", ""),
            Err(PostnlError::Refused(_))
        ));
        assert_eq!(c.stats().calls, 3);
    }

    #[test]
    fn barcode_of_the_wrong_length_is_not_used() {
        // A 13-character answer to a domestic (15-character) request.
        let (base, server) = serve(vec![reply(200, r#"{"Barcode":"3SDEVC1234567"}"#)]);
        let http = http();
        let err = client(&http, &base)
            .barcode("DEVC", "11223344", BarcodeKind::Domestic)
            .unwrap_err();
        assert!(
            matches!(
                err,
                PostnlError::BadBarcode {
                    expected_len: 15,
                    got_len: 13,
                    ..
                }
            ),
            "{err:?}"
        );
        server.join().unwrap();
    }

    #[test]
    fn barcode_400_is_a_validation_error() {
        let (base, server) = serve(vec![reply(
            400,
            r#"{"errors":[{"ErrorMsg":"Too many numbers in series","ErrorNumber":"8"}]}"#,
        )]);
        let http = http();
        let err = client(&http, &base)
            .barcode("DEVC", "11223344", BarcodeKind::Eu)
            .unwrap_err();
        match &err {
            PostnlError::Invalid {
                status: 400,
                issues,
                ..
            } => assert_eq!(issues[0].code, "8"),
            other => panic!("{other:?}"),
        }
        assert!(!err.to_string().contains("Too many numbers"));
        assert_eq!(server.join().unwrap().len(), 1, "a 400 is not retried");
    }

    #[test]
    fn label_posts_json_and_decodes_pdf() {
        let bc = "3SDEVC987000001";
        let (base, server) = serve(vec![reply(200, &label_ok(bc))]);
        let http = http();
        let req = request(&[bc]);
        let resp = client(&http, &base).label(&req, false).unwrap();
        let labels = resp.shipments[0].outcome.as_ref().unwrap();
        assert!(labels[0].content.starts_with(b"%PDF"));
        let seen = server.join().unwrap();
        let s = &seen[0];
        assert!(
            s.line
                .starts_with("POST /shipment/v2_2/label?confirm=false "),
            "{}",
            s.line
        );
        assert_eq!(s.header("content-type"), Some("application/json"));
        assert_eq!(s.header("apikey"), Some(KEY));
        let sent: serde_json::Value = serde_json::from_slice(&s.body).unwrap();
        assert_eq!(sent, serde_json::to_value(&req).unwrap());
    }

    #[test]
    fn label_500_then_200_is_retried_with_the_same_body() {
        let bc = "3SDEVC987000001";
        let (base, server) = serve(vec![
            reply(
                500,
                r#"{"fault":{"faultstring":"oops","detail":{"errorcode":"x"}}}"#,
            ),
            reply(200, &label_ok(bc)),
        ]);
        let http = http();
        let c = client(&http, &base);
        let resp = c.label(&request(&[bc]), true).unwrap();
        assert!(resp.shipments[0].outcome.is_ok());
        let seen = server.join().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            seen[0].body, seen[1].body,
            "a retry resends the same barcode"
        );
        assert!(seen[1].line.contains("confirm=true"));
        assert_eq!(c.stats().retries, 1);
    }

    #[test]
    fn cut_off_answer_is_retried() {
        let bc = "3SDEVC987000001";
        let (base, server) = serve(vec![
            cut(r#"{"ResponseShipments":[{"Barc"#),
            reply(200, &label_ok(bc)),
        ]);
        let http = http();
        let resp = client(&http, &base).label(&request(&[bc]), true).unwrap();
        assert!(resp.shipments[0].outcome.is_ok());
        assert_eq!(server.join().unwrap().len(), 2);
    }

    #[test]
    fn always_cut_off_or_garbled_ends_as_temporary() {
        let bc = "3SDEVC987000001";
        let (base, server) = serve(vec![
            cut(r#"{"Respon"#),
            reply(200, r#"{"ResponseShipments":[{"Barcode""#),
            reply(200, "<html>Bad gateway</html>"),
        ]);
        let http = http();
        let err = client(&http, &base)
            .label(&request(&[bc]), true)
            .unwrap_err();
        assert!(
            matches!(err, PostnlError::Malformed { tries: 3, .. }),
            "{err:?}"
        );
        assert_eq!(err.exit(), Exit::Temporary);
        assert_eq!(server.join().unwrap().len(), 3, "bounded by max_tries");
    }

    #[test]
    fn server_errors_end_as_temporary() {
        let (base, server) = serve(vec![reply(503, ""), reply(502, "bad"), reply(500, "{}")]);
        let http = http();
        let err = client(&http, &base)
            .barcode("DEVC", "11223344", BarcodeKind::Domestic)
            .unwrap_err();
        assert!(
            matches!(
                err,
                PostnlError::Server {
                    status: 500,
                    tries: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.exit(), Exit::Temporary);
        assert_eq!(server.join().unwrap().len(), 3);
    }

    #[test]
    fn network_error_ends_as_temporary() {
        // Bind, learn the port, close: nothing listens there any more.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = http();
        let c = client(&http, &format!("http://127.0.0.1:{port}"));
        let err = c
            .barcode("DEVC", "11223344", BarcodeKind::Domestic)
            .unwrap_err();
        assert!(
            matches!(err, PostnlError::Network { tries: 3, .. }),
            "{err:?}"
        );
        assert_eq!(err.exit(), Exit::Temporary);
        assert!(!err.to_string().contains(KEY));
    }

    #[test]
    fn wrong_key_401_is_a_config_error_and_not_retried() {
        let (base, server) = serve(vec![reply(
            401,
            r#"{"fault":{"faultstring":"Invalid ApiKey","detail":{"errorcode":"oauth.v2.InvalidApiKey"}}}"#,
        )]);
        let http = http();
        let err = client(&http, &base)
            .label(&request(&["3SDEVC987000001"]), true)
            .unwrap_err();
        assert!(
            matches!(&err, PostnlError::Unauthorized { status: 401, code: Some(c), .. } if c == "oauth.v2.InvalidApiKey"),
            "{err:?}"
        );
        assert_eq!(err.exit(), Exit::Config);
        assert!(err.hints().iter().any(|h| h.contains("sandbox")));
        assert_eq!(server.join().unwrap().len(), 1);
    }

    #[test]
    fn throttling_waits_then_gives_up() {
        let throttled =
            r#"{"message":"Too many requests. Rate limit exceeded!","http_status_code":429}"#;
        let mut first = reply(429, throttled);
        first.headers.push(("Retry-After", "0".into()));
        let (base, server) = serve(vec![first, reply(200, r#"{"Barcode":"3SDEVC1234567"}"#)]);
        let http = http();
        let c = client(&http, &base);
        assert_eq!(
            c.barcode("DEVC", "11223344", BarcodeKind::Eu).unwrap(),
            "3SDEVC1234567"
        );
        assert_eq!(c.stats().throttled, 1);
        server.join().unwrap();

        let (base, server) = serve(vec![
            reply(429, throttled),
            reply(429, throttled),
            reply(429, throttled),
        ]);
        let err = client(&http, &base)
            .barcode("DEVC", "11223344", BarcodeKind::Eu)
            .unwrap_err();
        assert!(
            matches!(err, PostnlError::Throttled { tries: 3, .. }),
            "{err:?}"
        );
        assert_eq!(err.exit(), Exit::Temporary);
        assert_eq!(server.join().unwrap().len(), 3);
    }

    #[test]
    fn label_400_keeps_descriptions_out_of_the_message() {
        let (base, server) = serve(vec![reply(
            400,
            r#"{"Errors":[{"Error":"Validation failed for shipment: 3SDEVC987000001","Code":"1280202","Description":"Zipcode 1234XY is invalid"}]}"#,
        )]);
        let http = http();
        let err = client(&http, &base)
            .label(&request(&["3SDEVC987000001"]), true)
            .unwrap_err();
        assert_eq!(err.exit(), Exit::Failed);
        assert!(err.is_order_failure());
        let shown = format!("{err} {err:?} {:?}", err.hints());
        assert!(!shown.contains("1234XY"), "{shown}");
        assert!(shown.contains("1280202"));
        assert_eq!(
            err.issues()[0].description.expose(),
            "Zipcode 1234XY is invalid"
        );
        server.join().unwrap();
    }

    #[test]
    fn errors_in_a_200_fail_one_shipment_and_keep_the_other() {
        let body = format!(
            r#"{{"ResponseShipments":[
                {{"Barcode":"3SDEVC987000001","Labels":[],"Errors":[{{"Code":"111","Description":"No label available, Direct Infeed"}}]}},
                {{"Barcode":"3SDEVC987000002","Labels":[{{"Content":"{PDF_B64}","Labeltype":"Label"}}],
                  "Warnings":{{"Code":"1280103","Description":"Address is unknown"}}}}]}}"#
        );
        let (base, server) = serve(vec![reply(200, &body)]);
        let http = http();
        let resp = client(&http, &base)
            .label(&request(&["3SDEVC987000001", "3SDEVC987000002"]), true)
            .unwrap();
        let first = resp.shipments[0].outcome.as_ref().unwrap_err();
        assert_eq!(first.exit(), Exit::Failed);
        assert!(resp.shipments[1].outcome.is_ok());
        assert_eq!(resp.shipments[1].warnings[0].code, "1280103");
        assert_eq!(
            server.join().unwrap().len(),
            1,
            "errors in a 200 are not retried"
        );
    }

    #[test]
    fn five_shipments_are_refused_before_sending() {
        // No server: a request that went out would end as a network error instead.
        let http = http();
        let c = client(&http, "http://127.0.0.1:9");
        let req = request(&[
            "3SDEVC987000001",
            "3SDEVC987000002",
            "3SDEVC987000003",
            "3SDEVC987000004",
            "3SDEVC987000005",
        ]);
        let err = c.label(&req, true).unwrap_err();
        assert!(
            matches!(err, PostnlError::TooManyShipments { count: 5 }),
            "{err:?}"
        );
        assert_eq!(c.stats().calls, 0);
    }

    #[test]
    fn oversized_request_is_refused_before_sending() {
        let http = http();
        let c = client(&http, "http://127.0.0.1:9");
        let mut req = request(&["3SDEVC987000001"]);
        req.shipments[0].reference = Some("x".repeat(models::MAX_REQUEST_BYTES));
        let err = c.label(&req, true).unwrap_err();
        assert!(matches!(err, PostnlError::TooLarge { .. }), "{err:?}");
        assert_eq!(c.stats().calls, 0);
    }

    #[test]
    fn not_found_is_reported() {
        let (base, server) = serve(vec![reply(404, "")]);
        let http = http();
        let err = client(&http, &base)
            .label(&request(&["3SDEVC987000001"]), true)
            .unwrap_err();
        assert!(
            matches!(err, PostnlError::NotFound { op: "label" }),
            "{err:?}"
        );
        assert!(!err.is_order_failure());
        server.join().unwrap();
    }
}
