//! Login with Amazon: the token endpoint (refresh-token grant) and the access tokens it issues.
//!
//! `POST /auth/o2/token` with a form body answers `{access_token, refresh_token, token_type,
//! expires_in}` or an OAuth error (`invalid_request`, `unsupported_grant_type` and
//! `invalid_grant` with 400, `invalid_client` with 401). Access tokens live 3600 s on the
//! sandbox clock; the SP-API handlers ask [`LwaState::check`] before serving anything.

use crate::sandbox::rng::Rng;
use crate::sandbox::{Ctx, Request, Response, creds, parse_form, unauthorized};
use serde_json::json;
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};

/// Lifetime of an access token.
pub(crate) const TOKEN_LIFETIME: Duration = Duration::seconds(3600);

#[derive(Debug)]
pub(crate) struct LwaState {
    rng: Rng,
    tokens: HashMap<String, OffsetDateTime>,
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    Response::json(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

impl LwaState {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: Rng::derived(seed, "lwa", 0),
            tokens: HashMap::new(),
        }
    }

    /// Ok when `token` is a live access token at `now`; otherwise the SP-API 403.
    pub(crate) fn check(&self, token: &str, now: OffsetDateTime) -> Result<(), Response> {
        match self.tokens.get(token) {
            Some(exp) if now < *exp => Ok(()),
            Some(_) => Err(unauthorized("The access token you provided has expired.")),
            None => Err(unauthorized(
                "The access token you provided is revoked, malformed or invalid.",
            )),
        }
    }

    /// Ends one token's life now (the `expire` fault).
    pub(crate) fn expire(&mut self, token: &str, now: OffsetDateTime) {
        if let Some(exp) = self.tokens.get_mut(token.trim()) {
            *exp = (*exp).min(now);
        }
    }

    pub(crate) fn expire_all(&mut self, now: OffsetDateTime) {
        for exp in self.tokens.values_mut() {
            *exp = (*exp).min(now);
        }
    }

    fn issue(&mut self, now: OffsetDateTime) -> String {
        let mut token = String::from("Atza|IwEB");
        token.push_str(&self.rng.alnum_upper(48));
        // Drop tokens dead for more than a day so the map stays small in long runs.
        self.tokens.retain(|_, exp| now - *exp < Duration::days(1));
        self.tokens.insert(token.clone(), now + TOKEN_LIFETIME);
        token
    }
}

/// `POST /auth/o2/token`.
/// The token lifetime in real seconds under a time scale (at least one second).
fn real_lifetime(scale: f64) -> i64 {
    let secs = TOKEN_LIFETIME.as_seconds_f64() / scale;
    if secs.is_finite() && secs >= 1.0 {
        // Whole seconds, rounded down, so the client never holds an expired token.
        format!("{:.0}", secs.floor()).parse().unwrap_or(1)
    } else {
        1
    }
}

pub(crate) fn token(st: &mut LwaState, req: &Request, ctx: &Ctx<'_>) -> Response {
    let ctype = req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if !ctype.starts_with("application/x-www-form-urlencoded") {
        return oauth_error(
            400,
            "invalid_request",
            "The request must be application/x-www-form-urlencoded.",
        );
    }
    let form = parse_form(&req.body);
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let Some(grant) = get("grant_type") else {
        return oauth_error(
            400,
            "invalid_request",
            "The request is missing a required parameter : grant_type",
        );
    };
    if grant != "refresh_token" {
        return oauth_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server",
        );
    }
    let (Some(client_id), Some(secret)) = (get("client_id"), get("client_secret")) else {
        return oauth_error(
            400,
            "invalid_request",
            "The request is missing a required parameter : client_id or client_secret",
        );
    };
    if client_id != creds::LWA_CLIENT_ID || secret != creds::LWA_CLIENT_SECRET {
        return oauth_error(401, "invalid_client", "Client authentication failed");
    }
    let Some(refresh) = get("refresh_token") else {
        return oauth_error(
            400,
            "invalid_request",
            "The request is missing a required parameter : refresh_token",
        );
    };
    if refresh != creds::REFRESH_TOKEN {
        return oauth_error(
            400,
            "invalid_grant",
            "The request has an invalid grant parameter : refresh_token",
        );
    }
    let access = st.issue(ctx.now);
    Response::json(
        200,
        &json!({
            "access_token": access,
            "refresh_token": creds::REFRESH_TOKEN,
            "token_type": "bearer",
            // In real seconds, like the rate-limit header: a sandbox clock that runs
            // faster expires the token sooner.
            "expires_in": real_lifetime(ctx.scale),
        }),
    )
    .with_header("cache-control", "no-store")
}
