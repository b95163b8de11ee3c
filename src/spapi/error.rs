//! SP-API and LWA errors, typed, with exit codes and hints.
//!
//! Messages carry the operation, the HTTP status, Amazon's error code and message and
//! the `x-amzn-RequestId`; never a response body, which may hold personal data.

use crate::error::{Classify, Exit};

#[derive(Debug, thiserror::Error)]
pub enum SpapiError {
    /// TLS refused the server (old protocol, untrusted certificate); not retried.
    #[error(transparent)]
    Tls(#[from] crate::transport::TlsError),
    #[error("Amazon login (LWA) refused the credentials: {code}")]
    Lwa { code: String, status: u16 },
    #[error("Amazon denied {op} ({status} {code}: {message}){}", rid(.request_id.as_ref()))]
    Denied {
        op: &'static str,
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("Amazon rejected {op} as invalid ({code}: {message}){}", rid(.request_id.as_ref()))]
    BadRequest {
        op: &'static str,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("{op}: not found{}", rid(.request_id.as_ref()))]
    NotFound {
        op: &'static str,
        request_id: Option<String>,
    },
    #[error("{op} is still throttled by Amazon after {tries} tries")]
    Throttled { op: &'static str, tries: u32 },
    #[error("{op} failed with HTTP {status} after {tries} tries{}", rid(.request_id.as_ref()))]
    Server {
        op: &'static str,
        status: u16,
        tries: u32,
        request_id: Option<String>,
    },
    #[error("{op}: network error after {tries} tries: {detail}")]
    Network {
        op: &'static str,
        tries: u32,
        detail: String,
    },
    #[error("{op}: the answer could not be read ({detail}){}", rid(.request_id.as_ref()))]
    Malformed {
        op: &'static str,
        detail: String,
        request_id: Option<String>,
    },
    #[error("{op} answered HTTP {status}{}", rid(.request_id.as_ref()))]
    Unexpected {
        op: &'static str,
        status: u16,
        request_id: Option<String>,
    },
}

fn rid(r: Option<&String>) -> String {
    r.map(|r| format!(" [request id {r}]")).unwrap_or_default()
}

impl Classify for SpapiError {
    fn exit(&self) -> Exit {
        match self {
            SpapiError::Tls(e) => e.exit(),
            SpapiError::Lwa { .. } | SpapiError::Denied { .. } => Exit::Config,
            SpapiError::Throttled { .. }
            | SpapiError::Server { .. }
            | SpapiError::Network { .. }
            | SpapiError::Malformed { .. } => Exit::Temporary,
            SpapiError::BadRequest { .. }
            | SpapiError::NotFound { .. }
            | SpapiError::Unexpected { .. } => Exit::Failed,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            SpapiError::Tls(e) => e.hints(),
            SpapiError::Lwa { code, .. } if code == "invalid_grant" => vec![
                "the refresh token was revoked or is wrong: authorize the app again in Seller Central and store the new refresh token".into(),
            ],
            SpapiError::Lwa { code, .. } if code == "invalid_client" => vec![
                "the LWA client id or secret is wrong, or the secret expired (Amazon rotates it every 180 days): put the current secret in the config".into(),
            ],
            SpapiError::Lwa { .. } => vec!["check the LWA client id, secret and refresh token".into()],
            SpapiError::Denied { .. } => vec![
                "the app may lack a role for this call (Direct-to-Consumer Shipping, Tax Invoicing): add it in Seller Central, authorize again, and list it under amazon.roles".into(),
                "or the refresh token was revoked, or the LWA client secret is older than 180 days".into(),
            ],
            // Amazon measures "two minutes before the time of the request" by its own
            // clock: a refusal of that rule means ours is ahead (issue #15).
            SpapiError::BadRequest { message, .. } if refuses_future_times(message) => vec![
                "this computer's clock is probably ahead of Amazon's: set it right (e.g. `timedatectl set-ntp true`); `fulfil doctor --online` compares the clocks".into(),
            ],
            SpapiError::BadRequest { .. } => vec![
                "this is a bug in fulfil: please report it with the request id".into(),
            ],
            SpapiError::Throttled { .. }
            | SpapiError::Server { .. }
            | SpapiError::Network { .. }
            | SpapiError::Malformed { .. } => {
                vec!["temporary: the next run picks up where this one stopped".into()]
            }
            _ => Vec::new(),
        }
    }
}

/// True for Amazon's refusal of a time too close to (or past) its own now, such as
/// `lastUpdatedBefore must be at least two minutes before the time of the request.`
fn refuses_future_times(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("before the time of the request") || m.contains("in the future")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad_request(message: &str) -> SpapiError {
        SpapiError::BadRequest {
            op: "searchOrders",
            code: "InvalidInput".into(),
            message: message.into(),
            request_id: None,
        }
    }

    #[test]
    fn a_refused_time_names_the_clock_not_a_bug() {
        let e = bad_request(
            "lastUpdatedBefore must be at least two minutes before the time of the request.",
        );
        let hints = e.hints();
        assert_eq!(hints.len(), 1);
        assert!(
            hints[0].contains("clock is probably ahead of Amazon's"),
            "{hints:?}"
        );
        assert!(!hints[0].contains("bug"), "{hints:?}");
        let other = bad_request("marketplaceIds is required.");
        assert!(other.hints()[0].contains("bug in fulfil"));
    }
}
