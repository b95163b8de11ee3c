//! Login with Amazon: exchanging the refresh token for an access token.
//!
//! The access token lives an hour; we keep it in memory and reuse it until a minute
//! before it expires, so a run makes one token call. An access token that Amazon
//! rejects as expired is dropped and fetched again once.

use std::cell::RefCell;

use secrecy::{ExposeSecret as _, SecretString};
use time::OffsetDateTime;

use super::error::SpapiError;

/// What is needed to ask LWA for a token.
pub struct LwaCredentials {
    pub url: String,
    pub client_id: SecretString,
    pub client_secret: SecretString,
    pub refresh_token: SecretString,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[derive(serde::Deserialize)]
struct LwaErrorBody {
    error: Option<String>,
}

struct Cached {
    token: SecretString,
    /// When to fetch a new one: shortly before it expires.
    refresh_at: OffsetDateTime,
}

pub struct Lwa {
    creds: LwaCredentials,
    cached: RefCell<Option<Cached>>,
    calls: std::cell::Cell<u32>,
    /// The `Date` of LWA's last answer (Amazon's time), until the client takes it.
    date: RefCell<Option<String>>,
}

/// Refresh a token this long before it expires (or a tenth of its life, if shorter).
const EARLY: time::Duration = time::Duration::seconds(60);

impl Lwa {
    pub fn new(creds: LwaCredentials) -> Self {
        Self {
            creds,
            cached: RefCell::new(None),
            calls: std::cell::Cell::new(0),
            date: RefCell::new(None),
        }
    }

    /// Token calls made so far.
    pub fn calls(&self) -> u32 {
        self.calls.get()
    }

    /// The `Date` header of the last token answer, once (issue #15: Amazon's own time).
    pub fn take_date(&self) -> Option<String> {
        self.date.borrow_mut().take()
    }

    /// Forgets the cached token (Amazon said it expired).
    pub fn invalidate(&self) {
        *self.cached.borrow_mut() = None;
    }

    /// A valid access token, from the cache or from LWA.
    pub fn token(
        &self,
        http: &reqwest::blocking::Client,
        now: OffsetDateTime,
    ) -> Result<SecretString, SpapiError> {
        if let Some(c) = self.cached.borrow().as_ref()
            && now < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        self.calls.set(self.calls.get() + 1);
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.creds.refresh_token.expose_secret()),
            ("client_id", self.creds.client_id.expose_secret()),
            ("client_secret", self.creds.client_secret.expose_secret()),
        ];
        let resp = http
            .post(&self.creds.url)
            .form(&form)
            .send()
            .map_err(|e| super::network_error("LWA token", 1, &e))?;
        let status = resp.status().as_u16();
        *self.date.borrow_mut() = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .map(|d| d.chars().take(64).collect());
        let bytes = resp
            .bytes()
            .map_err(|e| super::network_error("LWA token", 1, &e))?;
        let (token, lifetime) = read_token_reply(status, &bytes)?;
        *self.cached.borrow_mut() = Some(Cached {
            token: token.clone(),
            refresh_at: now + lifetime - EARLY.min(lifetime / 10),
        });
        Ok(token)
    }
}

/// Reads LWA's answer: the access token and its lifetime (clamped to a day), or the
/// error it stands for. Pure, so that any body can be thrown at it in tests.
pub(crate) fn read_token_reply(
    status: u16,
    bytes: &[u8],
) -> Result<(SecretString, time::Duration), SpapiError> {
    if status == 200 {
        let answer: TokenAnswer =
            serde_json::from_slice(bytes).map_err(|e| SpapiError::Malformed {
                op: "LWA token",
                detail: crate::transport::json_detail(&e),
                request_id: None,
            })?;
        let lifetime = time::Duration::seconds(answer.expires_in.unwrap_or(3600).clamp(1, 86_400));
        return Ok((SecretString::from(answer.access_token), lifetime));
    }
    if status >= 500 || status == 429 {
        return Err(SpapiError::Server {
            op: "LWA token",
            status,
            tries: 1,
            request_id: None,
        });
    }
    let code = serde_json::from_slice::<LwaErrorBody>(bytes)
        .ok()
        .and_then(|b| b.error)
        .filter(|c| c.len() < 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or_else(|| format!("HTTP {status}"));
    Err(SpapiError::Lwa { code, status })
}
