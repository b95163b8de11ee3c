//! A small blocking SP-API client: LWA tokens, per-operation rate limits, retries.
//!
//! Every call goes through [`Client::call`]: wait for a token of the operation's bucket,
//! attach the access token, send, then sort the answer. 2xx is returned; 429 empties
//! the bucket and waits for it; 5xx, truncated answers and network errors are retried
//! with exponential back-off and jitter a bounded number of times and then reported as
//! temporary (exit 4); 401/403 drop the access token and try once more (and again, as
//! failed tries, while Amazon says the token expired), then report a permission problem
//! (exit 2); 400 is a bug report with Amazon's request id.
//!
//! Only the operations the commands need are here (Orders 2026-01-01 searchOrders,
//! Orders v0 confirmShipment, Feeds, Finances v0 listFinancialEvents). The request and response types are our own,
//! written from the official models kept in `specs/spapi` (see specs/SOURCE.md).

pub mod auth;
pub mod error;
pub mod feeds;
pub mod finances;
pub mod limits;
pub mod models;
pub mod orders;
#[cfg(test)]
pub(crate) mod props;
pub mod shipments;

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};

use crate::clock::Clock;
use crate::store::state::BucketRow;
use crate::transport::{Backoff, RetryPolicy, transport_detail};

pub use auth::{Lwa, LwaCredentials};
pub use error::SpapiError;
pub use limits::{Bucket, Operation};

/// Where bucket state is kept between runs.
pub trait BucketStore {
    fn load(&self, operation: &str) -> Option<BucketRow>;
    fn save(&self, operation: &str, row: &BucketRow);
}

/// Counts for the run summary.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    pub calls: u32,
    pub throttled: u32,
    pub retries: u32,
    pub token_calls: u32,
    pub waited_ms: u64,
}

/// An answer that passed the status checks.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub request_id: Option<String>,
}

pub struct Client<'a> {
    http: &'a reqwest::blocking::Client,
    base: String,
    lwa: Lwa,
    clock: &'a Clock,
    buckets: RefCell<HashMap<Operation, Bucket>>,
    store: Option<&'a dyn BucketStore>,
    retry: Backoff,
    stats: RefCell<Stats>,
    /// Amazon's clock, from the `Date` of its answers (LWA and SP-API; issue #15).
    amazon: crate::clock::PeerClock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One request to make.
pub struct Call<'q> {
    pub op: Operation,
    pub method: Method,
    pub path: String,
    pub query: &'q [(&'q str, String)],
    pub body: Option<&'q serde_json::Value>,
}

impl<'a> Client<'a> {
    pub fn new(
        http: &'a reqwest::blocking::Client,
        base: &str,
        lwa: Lwa,
        clock: &'a Clock,
        store: Option<&'a dyn BucketStore>,
        retry: RetryPolicy,
    ) -> Self {
        let nanos = clock.now().unix_timestamp_nanos().unsigned_abs();
        let seed = u64::try_from(nanos % u128::from(u64::MAX)).unwrap_or(1) | 1;
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            lwa,
            clock,
            buckets: RefCell::new(HashMap::new()),
            store,
            retry: Backoff::new(retry, seed),
            stats: RefCell::new(Stats::default()),
            amazon: crate::clock::PeerClock::default(),
        }
    }

    pub fn stats(&self) -> Stats {
        let mut s = self.stats.borrow().clone();
        s.token_calls = self.lwa.calls();
        s
    }

    /// How long the operation's bucket needs before it has a token (zero if it has one
    /// now). Takes nothing; lets a command stop instead of sleeping for minutes.
    pub fn wait_for(&self, op: Operation) -> Duration {
        let now = self.clock.now();
        let mut buckets = self.buckets.borrow_mut();
        let b = buckets.entry(op).or_insert_with(|| {
            self.store.and_then(|s| s.load(op.name())).map_or_else(
                || Bucket::new(op, now),
                |row| Bucket::from_row(op, &row, now),
            )
        });
        b.wait(now)
    }

    /// Waits until the operation's bucket has a token, takes it and saves the bucket.
    fn acquire(&self, op: Operation) {
        let wait = self.wait_for(op);
        if !wait.is_zero() {
            tracing::debug!(
                operation = op.name(),
                wait_ms = wait.as_millis(),
                "waiting for rate limit"
            );
            self.stats.borrow_mut().waited_ms +=
                u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            self.clock.sleep(wait);
        }
        let now = self.clock.now();
        let mut buckets = self.buckets.borrow_mut();
        if let Some(b) = buckets.get_mut(&op) {
            b.take(now);
            if let Some(s) = self.store {
                s.save(op.name(), &b.to_row());
            }
        }
    }

    fn adjust(&self, op: Operation, f: impl FnOnce(&mut Bucket)) {
        let mut buckets = self.buckets.borrow_mut();
        if let Some(b) = buckets.get_mut(&op) {
            f(b);
            if let Some(s) = self.store {
                s.save(op.name(), &b.to_row());
            }
        }
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

    /// An access token from the cache or LWA; `None` when a temporary failure was waited
    /// out and the caller should try again (counted in `tries`).
    fn token(&self, tries: u32) -> Result<Option<SecretString>, SpapiError> {
        let result = self.lwa.token(self.http, self.clock.now());
        self.amazon
            .observe(self.lwa.take_date().as_deref(), self.clock.now());
        match result {
            Ok(t) => Ok(Some(t)),
            Err(
                SpapiError::Server { .. }
                | SpapiError::Network { .. }
                | SpapiError::Malformed { .. },
            ) if tries < self.retry.policy.max_tries => {
                self.pause(self.backoff(tries));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Gets an access token now, with the usual retries, instead of with the first call:
    /// LWA's answer tells Amazon's time before a call needs it (sync-orders ends its
    /// window by that time; issue #15).
    pub fn authorize(&self) -> Result<(), SpapiError> {
        let mut tries = 0u32;
        loop {
            tries += 1;
            if self.token(tries)?.is_some() {
                return Ok(());
            }
        }
    }

    /// Amazon's time now, by the `Date` of its last answer and our clock since; `None`
    /// before any answer carried one.
    pub fn amazon_now(&self) -> Option<time::OffsetDateTime> {
        self.amazon.now(self.clock.now())
    }

    /// Makes one call with rate limiting, token handling and retries.
    pub fn call(&self, call: &Call<'_>) -> Result<Reply, SpapiError> {
        let op = call.op.name();
        let url = format!("{}{}", self.base, call.path);
        let mut tries = 0u32;
        let mut reauthorized = false;
        let mut throttles = 0u32;
        loop {
            tries += 1;
            let Some(token) = self.token(tries)? else {
                continue;
            };
            self.acquire(call.op);
            self.stats.borrow_mut().calls += 1;
            let mut req = match call.method {
                Method::Get => self.http.get(&url),
                Method::Post => self.http.post(&url),
            };
            if !call.query.is_empty() {
                req = req.query(call.query);
            }
            req = req
                .header("x-amz-access-token", token.expose_secret())
                .header("x-amz-date", amz_date(self.clock.now()))
                .header("accept", "application/json");
            if let Some(body) = call.body {
                req = req.json(body);
            }
            let resp = match req.send() {
                Ok(r) => r,
                Err(e) => {
                    let err = network_error(op, tries, &e);
                    if tries < self.retry.policy.max_tries && !matches!(err, SpapiError::Tls(_)) {
                        tracing::debug!(operation = op, error = %transport_detail(&e), "network error, retrying");
                        self.pause(self.backoff(tries));
                        continue;
                    }
                    return Err(err);
                }
            };
            let status = resp.status().as_u16();
            self.amazon
                .observe(header(&resp, "date").as_deref(), self.clock.now());
            let request_id = header(&resp, "x-amzn-requestid");
            let limit = header(&resp, "x-amzn-ratelimit-limit")
                .and_then(|v| limits::parse_limit_header(&v));
            let body = match resp.bytes() {
                Ok(b) => b.to_vec(),
                Err(e) => {
                    if tries < self.retry.policy.max_tries {
                        self.pause(self.backoff(tries));
                        continue;
                    }
                    return Err(SpapiError::Network {
                        op,
                        tries,
                        detail: transport_detail(&e),
                    });
                }
            };
            tracing::debug!(
                operation = op,
                status,
                request_id = request_id.as_deref().unwrap_or("-"),
                "sp-api answer"
            );
            if let Some(rate) = limit {
                self.adjust(call.op, |b| b.set_rate(rate));
            }
            match status {
                200..=299 => {
                    return Ok(Reply {
                        status,
                        body,
                        request_id,
                    });
                }
                429 => {
                    throttles += 1;
                    self.stats.borrow_mut().throttled += 1;
                    self.adjust(call.op, |b| b.throttled(self.clock.now()));
                    if throttles >= self.retry.policy.max_tries {
                        return Err(SpapiError::Throttled { op, tries });
                    }
                    tries -= 1; // waiting for the bucket is not a failed try
                }
                500 | 502 | 503 | 504 => {
                    if tries >= self.retry.policy.max_tries {
                        return Err(SpapiError::Server {
                            op,
                            status,
                            tries,
                            request_id,
                        });
                    }
                    self.pause(self.backoff(tries));
                }
                401 | 403 => {
                    let (code, message) = first_error(&body);
                    if !reauthorized {
                        // An expired or revoked access token: fetch a new one, once.
                        reauthorized = true;
                        self.lwa.invalidate();
                        tries -= 1;
                        continue;
                    }
                    if token_expired(&body) && tries < self.retry.policy.max_tries {
                        // Amazon says the token expired again (a clock far off, or a
                        // token revoked early): a new token, counted as a failed try,
                        // rather than a permission error that needs a person (issue #8).
                        self.lwa.invalidate();
                        self.pause(self.backoff(tries));
                        continue;
                    }
                    return Err(SpapiError::Denied {
                        op,
                        status,
                        code,
                        message,
                        request_id,
                    });
                }
                400 | 413 | 415 => {
                    let (code, message) = first_error(&body);
                    return Err(SpapiError::BadRequest {
                        op,
                        code,
                        message,
                        request_id,
                    });
                }
                404 => return Err(SpapiError::NotFound { op, request_id }),
                _ => {
                    return Err(SpapiError::Unexpected {
                        op,
                        status,
                        request_id,
                    });
                }
            }
        }
    }

    /// Calls and parses a JSON answer; an answer that does not parse is retried like a 5xx.
    pub fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        call: &Call<'_>,
    ) -> Result<(T, Option<String>), SpapiError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let reply = self.call(call)?;
            match serde_json::from_slice::<T>(&reply.body) {
                Ok(v) => return Ok((v, reply.request_id)),
                Err(e) => {
                    tracing::debug!(operation = call.op.name(), detail = %crate::transport::json_detail(&e), "unreadable answer");
                    if tries >= self.retry.policy.max_tries {
                        return Err(SpapiError::Malformed {
                            op: call.op.name(),
                            detail: crate::transport::json_detail(&e),
                            request_id: reply.request_id,
                        });
                    }
                    self.pause(self.backoff(tries));
                }
            }
        }
    }
}

fn header(resp: &reqwest::blocking::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(128).collect())
}

fn amz_date(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    t.format(&f).unwrap_or_default()
}

/// The first `{code, message}` of an SP-API error body, shortened; the body itself is
/// not kept.
/// Whether an SP-API refusal says the access token expired (`details` of the first
/// error, as Amazon words it: "The access token you provided has expired.").
fn token_expired(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct E {
        details: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct L {
        errors: Option<Vec<E>>,
    }
    serde_json::from_slice::<L>(body)
        .ok()
        .and_then(|l| l.errors)
        .and_then(|v| v.into_iter().next())
        .and_then(|e| e.details)
        .is_some_and(|d| {
            d.to_ascii_lowercase().contains("token") && d.to_ascii_lowercase().contains("expired")
        })
}

pub(crate) fn first_error(body: &[u8]) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct E {
        code: Option<String>,
        message: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct L {
        errors: Option<Vec<E>>,
    }
    let short = |s: String| s.chars().take(200).collect::<String>();
    match serde_json::from_slice::<L>(body)
        .ok()
        .and_then(|l| l.errors)
        .and_then(|mut v| {
            if v.is_empty() {
                None
            } else {
                Some(v.swap_remove(0))
            }
        }) {
        Some(e) => (
            short(e.code.unwrap_or_else(|| "Unknown".into())),
            short(e.message.unwrap_or_default()),
        ),
        None => ("Unknown".into(), String::new()),
    }
}

/// A failed send as an [`SpapiError`]: a TLS refusal (not retried) or a network error.
pub(crate) fn network_error(op: &'static str, tries: u32, e: &reqwest::Error) -> SpapiError {
    match crate::transport::tls_refusal(e) {
        Some(refusal) => SpapiError::Tls(crate::transport::TlsError { op, refusal }),
        None => SpapiError::Network {
            op,
            tries,
            detail: transport_detail(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expired_token_is_told_apart_from_a_missing_role() {
        let expired = br#"{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":"The access token you provided has expired."}]}"#;
        let role = br#"{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":""}]}"#;
        assert!(token_expired(expired));
        assert!(!token_expired(role));
        assert!(!token_expired(b"{\"errors\":[]}"));
        assert!(!token_expired(b"not json"));
    }
}
