//! The sandbox: a local, deterministic simulator of Amazon's SP-API (with LWA), PostNL and a
//! tiny ECB rate service, for the test suite, the demo and sellers' smoke scripts.
//!
//! This module owns the HTTP server (tiny_http, a few worker threads, loopback only), the request
//! pipeline (fault injection → routing → auth → rate limits → handler → recording), the shared
//! state behind one mutex, and the public [`Sandbox`] API with its test controls. The simulated
//! services live in the sibling files: `lwa`, `orders`, `feeds`, `ecb`, `vies` and `postnl`; the data
//! they serve comes from `data`.
//!
//! Product code never imports this module, and this module never imports product code: the
//! sandbox has its own request and response types so a mistake in the clients cannot be
//! mirrored here.

mod clock;
mod data;
mod ecb;
mod faults;
mod feeds;
mod finances;
mod label_pdf;
mod limits;
mod lwa;
mod orders;
mod postcode;
mod postnl;
mod record;
mod rng;
mod tedb;
#[cfg(test)]
mod tests;
mod vies;

pub use faults::{FaultSpec, FaultSpecError};
pub use feeds::UploadedFeed;

use anyhow::{Context, bail};
use faults::{Fault, FaultPlan};
use limits::Limits;
use record::Recorder;
use serde_json::{Value, json};
use std::fmt;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use time::OffsetDateTime;

/// Largest request body accepted; anything bigger gets 413.
pub(crate) const MAX_BODY: usize = 10 * 1024 * 1024;

/// Number of worker threads taking requests off the server queue.
const WORKERS: usize = 6;

/// Fixed credentials the sandbox accepts. They are sandbox-only values, not secrets.
pub mod creds {
    /// LWA client id of the sandbox test application.
    pub const LWA_CLIENT_ID: &str =
        "amzn1.application-oa2-client.sandbox0fulfil0000000000000000001";
    /// LWA client secret of the sandbox test application.
    pub const LWA_CLIENT_SECRET: &str =
        "amzn1.oa2-cs.v1.sandbox0fulfil0secret000000000000000000000000000000001";
    /// Refresh token the sandbox seller granted the test application.
    pub const REFRESH_TOKEN: &str = "Atzr|IwEBsandbox0fulfil0refresh0token0000000000000000000001";
    /// Selling partner id of the simulated seller.
    pub const SELLER_ID: &str = "A2SANDBOXFULFIL";
    /// The simulated seller's own (synthetic) Dutch VAT number.
    pub const SELLER_VAT: &str = "NL000012348B01";
    /// PostNL API key the sandbox accepts.
    pub const POSTNL_API_KEY: &str = super::postnl::API_KEY;
}

/// Which restricted roles the test application holds. The normal roles (e.g. Inventory and
/// Order Tracking) are always held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct Roles {
    /// Direct-to-Consumer Shipping (Restricted): delivery address PII, buyer e-mail.
    pub direct_to_consumer_shipping: bool,
    /// Tax Invoicing (Restricted): buyer name, tax registrations, VAT invoice upload.
    pub tax_invoicing: bool,
    /// Tax Remittance (Restricted): buyer name, tax registrations.
    pub tax_remittance: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        direct_to_consumer_shipping: true,
        tax_invoicing: true,
        tax_remittance: true,
    };
    pub const NONE: Roles = Roles {
        direct_to_consumer_shipping: false,
        tax_invoicing: false,
        tax_remittance: false,
    };
}

impl Default for Roles {
    fn default() -> Self {
        Self::ALL
    }
}

impl FromStr for Roles {
    type Err = anyhow::Error;

    /// `all`, `none`, or a comma list of `dtc-shipping`, `tax-invoicing`, `tax-remittance`.
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("all") {
            return Ok(Self::ALL);
        }
        let mut r = Self::NONE;
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            return Ok(r);
        }
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.to_ascii_lowercase().as_str() {
                "dtc-shipping" | "direct-to-consumer-shipping" | "shipping" => {
                    r.direct_to_consumer_shipping = true;
                }
                "tax-invoicing" => r.tax_invoicing = true,
                "tax-remittance" => r.tax_remittance = true,
                other => bail!(
                    "unknown role `{other}` (known: all, none, dtc-shipping, tax-invoicing, tax-remittance)"
                ),
            }
        }
        Ok(r)
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::ALL {
            return f.write_str("all");
        }
        let mut parts = Vec::new();
        if self.direct_to_consumer_shipping {
            parts.push("dtc-shipping");
        }
        if self.tax_invoicing {
            parts.push("tax-invoicing");
        }
        if self.tax_remittance {
            parts.push("tax-remittance");
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Loopback address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Seed for generated data, tokens and fault draws.
    pub seed: u64,
    /// Number of orders to generate (ignored when `orders_file` is set).
    pub generate: usize,
    /// Serve the orders of this JSON file (`{"orders":[...]}`) instead of generating.
    pub orders_file: Option<PathBuf>,
    /// Sandbox seconds per real second (> 0).
    pub time_scale: f64,
    /// Enforce the per-operation token buckets.
    pub rate_limits: bool,
    /// Faults to inject.
    pub faults: FaultSpec,
    /// Append one JSON line per request to this file.
    pub record: Option<PathBuf>,
    /// Sandbox clock origin ("now" when the sandbox starts).
    pub start: OffsetDateTime,
    /// Restricted roles the test application holds.
    pub roles: Roles,
}

/// The default start: a fixed instant, so two runs with the same seed serve the same world.
pub const DEFAULT_START: OffsetDateTime = time::macros::datetime!(2026-09-01 08:00 UTC);

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 1,
            generate: 100,
            orders_file: None,
            time_scale: 1.0,
            rate_limits: true,
            faults: FaultSpec::none(),
            record: None,
            start: DEFAULT_START,
            roles: Roles::ALL,
        }
    }
}

/// A request as the simulated services see it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    /// Percent-decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a list parameter: repeated keys and comma-separated values both count.
    pub fn query_list(&self, name: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let mut seen = false;
        for (k, v) in &self.query {
            if k == name || k.strip_suffix("[]") == Some(name) {
                seen = true;
                out.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
            }
        }
        seen.then_some(out)
    }

    /// Builds a request from a raw target such as `/path?a=1&b=2`.
    pub fn from_target(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Self {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, q),
            None => (target, ""),
        };
        Self {
            method: method.to_ascii_uppercase(),
            path: percent_decode(path, false),
            query: parse_pairs(query),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
                .collect(),
            body: body.to_vec(),
        }
    }
}

/// A response from a simulated service.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &Value) -> Response {
        Response {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: value.to_string().into_bytes(),
        }
    }

    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn text(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (tests).
    #[cfg(test)]
    pub fn json_body(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// An SP-API error list with one error.
pub(crate) fn sp_error(status: u16, code: &str, message: &str, details: Option<&str>) -> Response {
    let mut e = json!({ "code": code, "message": message });
    if let (Some(d), Some(obj)) = (details, e.as_object_mut()) {
        obj.insert("details".to_owned(), Value::String(d.to_owned()));
    }
    Response::json(status, &json!({ "errors": [e] }))
}

/// 400 InvalidInput with a message saying which rule was broken.
pub(crate) fn invalid_input(message: &str) -> Response {
    sp_error(400, "InvalidInput", message, None)
}

pub(crate) fn sp_throttled() -> Response {
    sp_error(
        429,
        "QuotaExceeded",
        "You exceeded your quota for the requested resource.",
        None,
    )
}

fn missing_authentication_token() -> Response {
    sp_error(
        403,
        "MissingAuthenticationToken",
        "Access to requested resource is denied.",
        None,
    )
    .with_header("x-amzn-ErrorType", "MissingAuthenticationTokenException")
}

pub(crate) fn unauthorized(details: &str) -> Response {
    sp_error(
        403,
        "Unauthorized",
        "Access to requested resource is denied.",
        Some(details),
    )
    .with_header("x-amzn-ErrorType", "AccessDeniedException")
}

/// An S3-style XML error, for the pre-signed upload and download URLs.
pub(crate) fn s3_error(status: u16, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    Response::text(status, "application/xml", body)
}

/// Decodes %XX escapes (and `+` as space when asked); bad escapes stay as they are.
pub(crate) fn percent_decode(s: &str, plus_as_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(if plus_as_space && b == b'+' { b' ' } else { b });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k, true), percent_decode(v, true)),
            None => (percent_decode(p, true), String::new()),
        })
        .collect()
}

/// Parses an `application/x-www-form-urlencoded` body.
pub(crate) fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    parse_pairs(&String::from_utf8_lossy(body))
}

/// What the sandbox knows about one time: the clock, the base URL.
pub(crate) struct Ctx<'a> {
    pub now: OffsetDateTime,
    pub base_url: &'a str,
    pub seed: u64,
    /// Sandbox seconds per real second.
    pub scale: f64,
}

/// Mutable world state, behind one mutex.
pub(crate) struct State {
    pub orders: orders::OrderBook,
    pub lwa: lwa::LwaState,
    pub feeds: feeds::FeedsState,
    pub roles: Roles,
    pub postnl: postnl::PostnlState,
    pub vies: vies::ViesState,
    pub finances: finances::FinancesState,
}

struct Shared {
    clock: clock::Clock,
    base_url: String,
    seed: u64,
    rate_limits: AtomicBool,
    stop: AtomicBool,
    seq: AtomicU64,
    state: Mutex<State>,
    limits: Mutex<Limits>,
    faults: Mutex<FaultPlan>,
    recorder: Mutex<Recorder>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the server does with one request.
enum Reply {
    Respond(Response, Option<std::time::Duration>),
    /// Close the exchange without an HTTP answer.
    Drop,
}

/// Which API and operation a request is for.
fn classify(req: &Request) -> (&'static str, &'static str) {
    let segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let m = req.method.as_str();
    match (m, segs.as_slice()) {
        ("POST", ["auth", "o2", "token"]) => ("lwa", "token"),
        ("GET", ["orders", "2026-01-01", "orders"]) => ("orders", "searchOrders"),
        ("GET", ["orders", "2026-01-01", "orders", id]) if !id.is_empty() => ("orders", "getOrder"),
        ("POST", ["orders", "v0", "orders", id, "shipmentConfirmation"]) if !id.is_empty() => {
            ("ordersV0", "confirmShipment")
        }
        ("POST", ["feeds", "2021-06-30", "documents"]) => ("feeds", "createFeedDocument"),
        ("GET", ["feeds", "2021-06-30", "documents", id]) if !id.is_empty() => {
            ("feeds", "getFeedDocument")
        }
        ("POST", ["feeds", "2021-06-30", "feeds"]) => ("feeds", "createFeed"),
        ("GET", ["feeds", "2021-06-30", "feeds", id]) if !id.is_empty() => ("feeds", "getFeed"),
        ("PUT", ["_upload", id]) if !id.is_empty() => ("upload", "putDocument"),
        ("GET", ["_download", id]) if !id.is_empty() => ("download", "getDocument"),
        ("GET", ["finances", "v0", "financialEvents"]) => ("finances", "listFinancialEvents"),
        ("GET", ["_ecb", "rates"]) => ("ecb", "rates"),
        ("POST", ["taxation_customs", "vies", "rest-api", "check-vat-number"]) => {
            ("vies", "checkVatNumber")
        }
        ("POST", ["_tedb", "ws", "VatRetrievalService"]) => ("tedb", "retrieveVatRates"),
        (_, ["_sandbox", ..]) => ("sandbox", "control"),
        _ => match postnl::operation(req) {
            Some(op) => ("postnl", op),
            None => ("unknown", "unknown"),
        },
    }
}

fn is_sp_api(api: &str) -> bool {
    matches!(
        api,
        "orders" | "ordersV0" | "feeds" | "finances" | "unknown"
    )
}

/// Path segment number `index_from_start` (0-based, after the leading slash), or "".
pub(crate) fn path_segment(req: &Request, index_from_start: usize) -> String {
    req.path
        .trim_start_matches('/')
        .split('/')
        .nth(index_from_start)
        .unwrap_or("")
        .to_owned()
}

impl Shared {
    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            now: self.now(),
            base_url: &self.base_url,
            seed: self.seed,
            scale: self.clock.scale(),
        }
    }

    fn take_token(&self, operation: &'static str, now: OffsetDateTime) -> bool {
        if !self.rate_limits.load(Ordering::SeqCst) {
            return true;
        }
        lock(&self.limits).take(operation, now)
    }

    /// Runs one request through the whole pipeline and records it. Every answer carries
    /// a `Date` from the sandbox clock, as Amazon's and PostNL's carry theirs (issue #15):
    /// a client compares its clock with it, and sync-orders ends its window by it.
    fn process(&self, req: &Request, seq: u64, fault: Fault) -> Reply {
        match self.process_undated(req, seq, fault) {
            Reply::Respond(resp, delay) => Reply::Respond(dated(resp, self.now()), delay),
            Reply::Drop => Reply::Drop,
        }
    }

    fn process_undated(&self, req: &Request, seq: u64, fault: Fault) -> Reply {
        let (api, op) = classify(req);
        if api == "sandbox" {
            return Reply::Respond(self.control(req), None);
        }
        let ctx = self.ctx();
        let mut resp = match fault {
            Fault::Soap if api == "tedb" => tedb::fault("TEDB-ERR-1", "Internal error"),
            Fault::Incomplete if api == "tedb" => tedb::retrieve(req, &ctx, true),
            Fault::Error500 | Fault::Soap => fault_status(api, 500),
            Fault::Error503 => fault_status(api, 503),
            Fault::Throttle => throttled(api),
            _ => {
                if fault == Fault::Expire
                    && is_sp_api(api)
                    && let Some(tok) = req.header("x-amz-access-token")
                {
                    lock(&self.state).lwa.expire(tok, ctx.now);
                }
                self.serve(api, op, req, &ctx)
            }
        };
        if is_sp_api(api) {
            let rid = rng::Rng::derived(self.seed, "request-id", seq).uuid();
            resp.headers.push(("x-amzn-RequestId".to_owned(), rid));
            if let Some(plan) = limits::plan(op) {
                // With the limits off the sandbox meters nothing; it says so with a
                // generous rate, so that a client pacing itself by the header is not
                // slowed down by limits that do not apply.
                let value = if self.rate_limits.load(Ordering::Relaxed) {
                    limits::header_value(plan, self.clock.scale())
                } else {
                    UNMETERED_RATE.to_owned()
                };
                resp.headers
                    .push(("x-amzn-RateLimit-Limit".to_owned(), value));
            }
        }
        self.record(req, seq, (api, op), resp.status, fault.label());
        match fault {
            Fault::Drop => Reply::Drop,
            Fault::Slow(d) => Reply::Respond(resp, Some(d)),
            Fault::Truncate => {
                let keep = resp.body.len() / 2;
                resp.body.truncate(keep);
                Reply::Respond(resp, None)
            }
            Fault::Malformed => {
                if !resp.body.is_empty() {
                    let mut body = b"{\"errors\":[{\"code\":".to_vec();
                    body.extend_from_slice(&resp.body);
                    body.extend_from_slice(b"<!-- upstream error -->");
                    resp.body = body;
                }
                Reply::Respond(resp, None)
            }
            _ => Reply::Respond(resp, None),
        }
    }

    fn record(
        &self,
        req: &Request,
        seq: u64,
        (api, operation): (&str, &str),
        status: u16,
        fault: Option<&'static str>,
    ) {
        let entry = record::Entry {
            seq,
            at: clock::fmt(self.now()),
            api,
            operation,
            req,
            status,
            fault,
        };
        lock(&self.recorder).push(record::build(&entry));
    }

    fn serve(&self, api: &'static str, op: &'static str, req: &Request, ctx: &Ctx<'_>) -> Response {
        match api {
            "orders" | "ordersV0" | "feeds" | "finances" => {
                let token = match req.header("x-amz-access-token") {
                    Some(t) if !t.trim().is_empty() => t.trim(),
                    _ => return missing_authentication_token(),
                };
                if let Err(resp) = lock(&self.state).lwa.check(token, ctx.now) {
                    return resp;
                }
                if req
                    .header("user-agent")
                    .is_none_or(|ua| ua.trim().is_empty())
                {
                    return sp_error(
                        400,
                        "InvalidInput",
                        "The user-agent header is required.",
                        Some("Send AppName/Version (Language=...; Platform=...)."),
                    );
                }
                if !self.take_token(op, ctx.now) {
                    return sp_throttled();
                }
                let mut st = lock(&self.state);
                match op {
                    "searchOrders" => orders::search(&mut st, req, ctx),
                    "getOrder" => orders::get(&st, req, ctx),
                    "confirmShipment" => orders::confirm(&mut st, req, ctx),
                    "createFeedDocument" => feeds::create_document(&mut st, req, ctx),
                    "createFeed" => feeds::create_feed(&mut st, req, ctx),
                    "getFeed" => feeds::get_feed(&mut st, req, ctx),
                    "getFeedDocument" => feeds::get_feed_document(&mut st, req, ctx),
                    "listFinancialEvents" => finances::list(&mut st, req, ctx),
                    _ => missing_authentication_token(),
                }
            }
            "lwa" => {
                if !self.take_token(op, ctx.now) {
                    return throttled(api);
                }
                lwa::token(&mut lock(&self.state).lwa, req, ctx)
            }
            "upload" => feeds::put_upload(&mut lock(&self.state), req, ctx),
            "download" => feeds::get_download(&lock(&self.state), req, ctx),
            "ecb" => ecb::rates(req, ctx),
            "vies" => vies::check(&mut lock(&self.state).vies, req, ctx),
            "tedb" => tedb::retrieve(req, ctx, false),
            "postnl" => {
                if !self.take_token(op, ctx.now) {
                    return postnl::throttled();
                }
                postnl::handle(&mut lock(&self.state).postnl, req, ctx.now)
            }
            _ => missing_authentication_token(),
        }
    }

    /// `/_sandbox/…`: a few controls for smoke scripts that run the sandbox as a process.
    fn control(&self, req: &Request) -> Response {
        let sub = path_segment(req, 1);
        match (req.method.as_str(), sub.as_str()) {
            ("GET", "now") => Response::json(200, &json!({ "now": clock::fmt(self.now()) })),
            ("POST", "advance") => {
                let secs = req
                    .query_param("seconds")
                    .and_then(|s| s.parse::<i64>().ok())
                    .filter(|s| *s >= 0);
                match secs {
                    Some(s) => {
                        self.clock.advance(time::Duration::seconds(s));
                        Response::json(200, &json!({ "now": clock::fmt(self.now()) }))
                    }
                    None => Response::json(
                        400,
                        &json!({ "error": "seconds must be a non-negative integer" }),
                    ),
                }
            }
            ("GET", "records") => Response::json(200, &Value::Array(lock(&self.recorder).all())),
            ("GET", "shipments") => Response::json(
                200,
                &Value::Array(lock(&self.state).orders.shipments.clone()),
            ),
            ("GET", "feeds") => {
                let feeds: Vec<Value> = lock(&self.state)
                    .feeds
                    .uploaded()
                    .iter()
                    .map(UploadedFeed::summary)
                    .collect();
                Response::json(200, &Value::Array(feeds))
            }
            _ => Response::json(404, &json!({ "error": "unknown sandbox control" })),
        }
    }
}

/// A 500/503 in the shape of the API that was called.
fn fault_status(api: &str, status: u16) -> Response {
    let (code, msg) = if status == 500 {
        (
            "InternalFailure",
            "We encountered an internal error. Please try again.",
        )
    } else {
        (
            "ServiceUnavailable",
            "Service is temporarily unavailable. Please try again.",
        )
    };
    match api {
        "lwa" => Response::json(
            status,
            &json!({ "error": "server_error", "error_description": msg }),
        ),
        "upload" | "download" => s3_error(
            status,
            if status == 500 {
                "InternalError"
            } else {
                "SlowDown"
            },
            msg,
        ),
        "postnl" | "ecb" => Response::json(
            status,
            &json!({ "message": msg, "http_status_code": status }),
        ),
        "vies" => Response::json(
            status,
            &json!({ "actionSucceed": false,
                     "errorWrappers": [{ "error": "SERVICE_UNAVAILABLE", "message": msg }] }),
        ),
        _ => sp_error(status, code, msg, None),
    }
}

/// A 429 in the shape of the API that was called.
fn throttled(api: &str) -> Response {
    match api {
        "lwa" => Response::json(
            429,
            &json!({ "error": "slow_down", "error_description": "Too many requests. Slow down." }),
        ),
        "upload" | "download" => s3_error(503, "SlowDown", "Please reduce your request rate."),
        "postnl" => postnl::throttled(),
        "ecb" => Response::json(
            429,
            &json!({ "message": "Too many requests", "http_status_code": 429 }),
        ),
        // VIES signals its limits in its error envelope, not with 429.
        "vies" => Response::json(
            500,
            &json!({ "actionSucceed": false,
                     "errorWrappers": [{ "error": "GLOBAL_MAX_CONCURRENT_REQ",
                                         "message": "The maximum number of concurrent requests has been reached." }] }),
        ),
        _ => sp_throttled(),
    }
}

fn too_large(api: &str) -> Response {
    match api {
        "upload" => s3_error(
            400,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
        ),
        "lwa" | "postnl" | "ecb" | "vies" => {
            Response::json(413, &json!({ "error": "request body too large" }))
        }
        _ => sp_error(
            413,
            "RequestEntityTooLarge",
            "The request body is too large.",
            None,
        ),
    }
}

/// A running sandbox. Dropping it stops the server.
/// The rate announced in `x-amzn-RateLimit-Limit` while rate limits are off.
const UNMETERED_RATE: &str = "1000";

pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    workers: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Binds the loopback address, builds the world and starts the worker threads.
    pub fn start(cfg: SandboxConfig) -> anyhow::Result<Sandbox> {
        if !cfg.listen.ip().is_loopback() {
            bail!(
                "the sandbox only listens on loopback addresses (127.0.0.0/8 or ::1), not {}",
                cfg.listen.ip()
            );
        }
        if !(cfg.time_scale.is_finite() && cfg.time_scale > 0.0) {
            bail!(
                "time scale must be a positive number, got {}",
                cfg.time_scale
            );
        }
        let book = match &cfg.orders_file {
            Some(path) => orders::OrderBook::from_records(data::load_records(path)?),
            None => orders::OrderBook::from_records(data::generate_records(
                cfg.generate,
                cfg.seed,
                cfg.start,
            )),
        };
        let recorder = Recorder::new(cfg.record.as_deref()).with_context(|| {
            format!(
                "cannot open the record file {}",
                cfg.record
                    .as_deref()
                    .map_or_else(String::new, |p| p.display().to_string())
            )
        })?;
        let server = tiny_http::Server::http(cfg.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
        let addr = server
            .server_addr()
            .to_ip()
            .context("the server did not report a TCP address")?;
        let base_url = format!("http://{addr}");
        let shared = Arc::new(Shared {
            clock: clock::Clock::new(cfg.start, cfg.time_scale),
            base_url,
            seed: cfg.seed,
            rate_limits: AtomicBool::new(cfg.rate_limits),
            stop: AtomicBool::new(false),
            seq: AtomicU64::new(0),
            state: Mutex::new(State {
                orders: book,
                lwa: lwa::LwaState::new(cfg.seed),
                feeds: feeds::FeedsState::new(cfg.seed),
                roles: cfg.roles,
                postnl: postnl::PostnlState::new(cfg.seed),
                vies: vies::ViesState::default(),
                finances: finances::FinancesState::default(),
            }),
            limits: Mutex::new(Limits::default()),
            faults: Mutex::new(FaultPlan::new(cfg.faults.clone(), cfg.seed)),
            recorder: Mutex::new(recorder),
        });
        let server = Arc::new(server);
        let recv_lock = Arc::new(Mutex::new(()));
        let mut workers = Vec::with_capacity(WORKERS);
        for i in 0..WORKERS {
            let shared = Arc::clone(&shared);
            let server = Arc::clone(&server);
            let recv_lock = Arc::clone(&recv_lock);
            let handle = std::thread::Builder::new()
                .name(format!("sandbox-{i}"))
                .spawn(move || worker(&shared, &server, &recv_lock))
                .context("cannot start a sandbox worker thread")?;
            workers.push(handle);
        }
        Ok(Sandbox {
            shared,
            addr,
            workers,
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:40123`; SP-API, LWA, PostNL and ECB all live under it.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// LWA token endpoint URL.
    pub fn lwa_token_url(&self) -> String {
        format!("{}/auth/o2/token", self.shared.base_url)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sandbox "now".
    pub fn now(&self) -> OffsetDateTime {
        self.shared.now()
    }

    /// Every request recorded so far (see `record.rs` for the shape).
    pub fn records(&self) -> Vec<Value> {
        lock(&self.shared.recorder).all()
    }

    pub fn clear_records(&self) {
        lock(&self.shared.recorder).clear();
    }

    /// Serves until the process is killed.
    pub fn wait(mut self) {
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }

    /// Moves the sandbox clock forward.
    pub fn advance(&self, by: time::Duration) {
        self.shared.clock.advance(by);
    }

    /// Adds an order given in the v2026 `Order` shape (all blocks that should ever be visible).
    /// Its status is `fulfillment.fulfillmentStatus` (default UNSHIPPED) as of `lastUpdatedTime`.
    pub fn add_order(&self, order: Value) -> anyhow::Result<()> {
        let rec = data::record_from_json(order)?;
        lock(&self.shared.state).orders.insert(rec);
        Ok(())
    }

    /// Adds a refund event in the Finances API's `ShipmentEvent` shape (`AmazonOrderId`,
    /// `PostedDate`, `ShipmentItemAdjustmentList`); listFinancialEvents serves it in
    /// `RefundEventList` once its `PostedDate` has passed (issue #17).
    pub fn add_refund(&self, event: Value) -> anyhow::Result<()> {
        lock(&self.shared.state).finances.add(event)
    }

    /// From sandbox time `at` on, the order shows `status` (e.g. "CANCELLED", "SHIPPED").
    pub fn set_order_status(
        &self,
        order_id: &str,
        status: &str,
        at: OffsetDateTime,
    ) -> anyhow::Result<()> {
        lock(&self.shared.state)
            .orders
            .set_status(order_id, status, at)
    }

    /// The order as of sandbox now with every dataset and all roles (None if unknown or not yet created).
    pub fn order(&self, order_id: &str) -> Option<Value> {
        let now = self.now();
        lock(&self.shared.state).orders.full(order_id, now)
    }

    /// Ids of all orders, created or not yet, in creation order.
    pub fn order_ids(&self) -> Vec<String> {
        lock(&self.shared.state).orders.ids()
    }

    pub fn set_roles(&self, roles: Roles) {
        lock(&self.shared.state).roles = roles;
    }

    pub fn roles(&self) -> Roles {
        lock(&self.shared.state).roles
    }

    /// Accepted shipment confirmations: `{orderId, marketplaceId, packageDetail, confirmedAt}`.
    pub fn shipments(&self) -> Vec<Value> {
        lock(&self.shared.state).orders.shipments.clone()
    }

    /// The last label the PostNL half made for a barcode (its decoded bytes, PDF or
    /// ZPL) and how many labels it made for it.
    pub fn postnl_label(&self, barcode: &str) -> Option<(Vec<u8>, u32)> {
        let state = lock(&self.shared.state);
        let bytes = state.postnl.last_label(barcode)?.to_vec();
        Some((bytes, state.postnl.labels_made(barcode)))
    }

    /// Feeds created so far, with their uploaded document and processing report.
    pub fn uploaded_feeds(&self) -> Vec<UploadedFeed> {
        lock(&self.shared.state).feeds.uploaded()
    }

    /// Turns rate limiting on or off; turning it on refills every bucket.
    pub fn set_rate_limits(&self, on: bool) {
        self.shared.rate_limits.store(on, Ordering::SeqCst);
        if on {
            lock(&self.shared.limits).reset();
        }
    }

    /// Replaces the fault spec from the next request on (the draw sequence keeps counting).
    pub fn set_faults(&self, spec: FaultSpec) {
        lock(&self.shared.faults).set_spec(spec);
    }

    /// Expires every access token issued so far, as if an hour had passed for them.
    pub fn expire_access_tokens(&self) {
        let now = self.now();
        lock(&self.shared.state).lwa.expire_all(now);
    }

    /// Runs one request through the pipeline without HTTP (tests).
    #[cfg(test)]
    fn call(&self, req: &Request) -> Response {
        let seq = self.shared.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = if classify(req).0 == "sandbox" {
            Fault::None
        } else {
            lock(&self.shared.faults).next().1
        };
        match self.shared.process(req, seq, fault) {
            Reply::Respond(r, _) => r,
            Reply::Drop => Response::empty(0),
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

fn worker(shared: &Shared, server: &tiny_http::Server, recv_lock: &Mutex<()>) {
    loop {
        // Arrival number and fault are assigned under one lock, in queue order, so a given
        // request sequence always meets the same faults.
        let (mut raw, seq, fault) = {
            let _guard = lock(recv_lock);
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            let Ok(Some(raw)) = server.recv_timeout(std::time::Duration::from_millis(50)) else {
                continue;
            };
            let seq = shared.seq.fetch_add(1, Ordering::SeqCst) + 1;
            let fault = if raw.url().starts_with("/_sandbox/") {
                Fault::None
            } else {
                lock(&shared.faults).next_for(raw.url()).1
            };
            (raw, seq, fault)
        };
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                match read_request(&mut raw) {
                    Ok(req) => shared.process(&req, seq, fault),
                    Err(req) => {
                        let route = classify(&req);
                        let resp = too_large(route.0);
                        shared.record(&req, seq, route, resp.status, None);
                        Reply::Respond(resp, None)
                    }
                }
            }));
        let reply = outcome.unwrap_or_else(|_| {
            Reply::Respond(
                sp_error(
                    500,
                    "InternalFailure",
                    "The sandbox hit an internal error.",
                    None,
                ),
                None,
            )
        });
        match reply {
            Reply::Respond(resp, delay) => {
                if let Some(d) = delay {
                    std::thread::sleep(d);
                }
                // The host's clock must never date an answer: tiny_http would add its own.
                let _ = raw.respond(to_tiny(dated(resp, shared.now())));
            }
            Reply::Drop => {
                // tiny_http offers no way to reset a connection, so the exchange is ended with
                // bytes that are not HTTP: every client treats that as a broken connection.
                let mut w = raw.into_writer();
                let _ = w.write_all(b"\0\0 connection dropped by sandbox fault\r\n\r\n");
                let _ = w.flush();
            }
        }
    }
}

/// Reads the request; `Err` carries a body-less copy when the body is too large.
fn read_request(raw: &mut tiny_http::Request) -> Result<Request, Request> {
    let mut req = Request::from_target(raw.method().as_str(), raw.url(), &[], &[]);
    req.headers = raw
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_owned(),
            )
        })
        .collect();
    if raw.body_length().is_some_and(|n| n > MAX_BODY) {
        return Err(req);
    }
    let mut body = Vec::new();
    let limit = u64::try_from(MAX_BODY).unwrap_or(u64::MAX) + 1;
    if raw.as_reader().take(limit).read_to_end(&mut body).is_err() {
        body.clear();
    }
    if body.len() > MAX_BODY {
        return Err(req);
    }
    req.body = body;
    Ok(req)
}

/// The answer with a `Date` header (RFC 7231) from the sandbox clock, unless it has one.
fn dated(mut resp: Response, now: OffsetDateTime) -> Response {
    if resp.header("date").is_none() {
        resp.headers
            .push(("Date".to_owned(), crate::clock::http_date(now)));
    }
    resp
}

fn to_tiny(resp: Response) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut r = tiny_http::Response::from_data(resp.body).with_status_code(resp.status);
    for (k, v) in &resp.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            r.add_header(h);
        }
    }
    r
}

/// Generates `n` orders for `seed` as they stand at `start`, with every dataset (for fixtures
/// and for writing an orders file to serve with `orders_file`).
pub fn generate(n: usize, seed: u64, start: OffsetDateTime) -> Vec<Value> {
    let book = orders::OrderBook::from_records(data::generate_records(n, seed, start));
    book.ids()
        .iter()
        .filter_map(|id| book.full(id, start))
        .collect()
}

/// Reads the orders of a JSON file in the searchOrders response shape (`{"orders":[...]}`).
pub fn load_orders(path: &Path) -> anyhow::Result<Vec<Value>> {
    let recs = data::load_records(path)?;
    Ok(recs.into_iter().map(|r| r.base).collect())
}
