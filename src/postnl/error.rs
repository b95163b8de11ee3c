//! PostNL errors, typed, with exit codes and hints.
//!
//! This file owns [`PostnlError`] and its [`Classify`] implementation, plus the fixed
//! English texts for the PostNL error codes that matter to this tool.
//!
//! What an error may print: the operation, the HTTP status, PostNL's error *codes*, a
//! barcode, and fixed texts written here. What it never prints: any field of the
//! request, and PostNL's own description texts, because those can quote the input
//! ("Zipcode 1234XY is invalid"). The descriptions are kept in [`Notice::description`]
//! (a [`crate::logging::Pii`]) for a caller that was asked to show personal data.
//!
//! Exit codes: a wrong or missing API key is a configuration problem (2); a validation
//! error or a shipment PostNL refused fails that order (1 when it is the only one, the
//! caller turns several into a partial run); rate limits, 5xx, network errors and
//! unreadable answers are temporary (4) after the client's bounded retries.

use std::fmt::Write as _;

use super::models::{MAX_REQUEST_BYTES, MAX_SHIPMENTS, Notice};
use crate::error::{Classify, Exit};
use crate::transport::TransportError;

#[derive(Debug, thiserror::Error)]
pub enum PostnlError {
    /// The configured endpoint breaks the transport rule.
    #[error(transparent)]
    Endpoint(#[from] TransportError),
    /// TLS refused the server (old protocol, untrusted certificate); not retried.
    #[error(transparent)]
    Tls(#[from] crate::transport::TlsError),
    /// A setting (customer code, customer number, API key) cannot work.
    #[error("PostNL settings: {0}")]
    Config(&'static str),
    /// The request breaks a rule PostNL would reject; nothing was sent.
    #[error("the PostNL request was not sent: {0}")]
    Refused(&'static str),
    #[error(
        "the PostNL request was not sent: {count} shipments in one call, PostNL takes at most {MAX_SHIPMENTS}"
    )]
    TooManyShipments { count: usize },
    #[error(
        "the PostNL request was not sent: it is {bytes} bytes, PostNL takes at most {MAX_REQUEST_BYTES}"
    )]
    TooLarge { bytes: usize },
    /// 401/403: the API key is wrong, missing, for the other environment, or not
    /// enabled for this service.
    #[error("PostNL refused the API key for {op} (HTTP {status}{})", code_suffix(.code.as_deref()))]
    Unauthorized {
        op: &'static str,
        status: u16,
        code: Option<String>,
    },
    /// 400 (or a 200 holding only errors): the request as a whole was invalid.
    #[error("PostNL rejected {op} as invalid (HTTP {status}): {}", summary(.issues))]
    Invalid {
        op: &'static str,
        status: u16,
        issues: Vec<Notice>,
    },
    /// `ResponseShipments[i].Errors` in a 200 answer: this shipment got no label.
    #[error("PostNL made no label for shipment {barcode}: {}", summary(.issues))]
    Rejected {
        barcode: String,
        issues: Vec<Notice>,
    },
    /// PostNL listed no label documents for a shipment and gave no reason.
    #[error("PostNL returned no label for shipment {barcode}")]
    NoLabel { barcode: String },
    /// A label document that is not usable.
    #[error("PostNL returned an unusable {label_type} for shipment {barcode}: {reason}")]
    BadLabel {
        barcode: String,
        label_type: String,
        reason: &'static str,
    },
    /// The barcode service returned something we will not print on a parcel.
    #[error(
        "PostNL returned an unusable barcode ({reason}; expected {expected_len} characters, got {got_len})"
    )]
    BadBarcode {
        reason: &'static str,
        expected_len: usize,
        got_len: usize,
    },
    /// 404: PostNL's answer for a request over 200 KB (which we refuse before sending,
    /// so more likely a wrong endpoint). Not an order failure: every order would get it.
    #[error("PostNL answered {op} with HTTP 404")]
    NotFound { op: &'static str },
    #[error("{op} is still rate-limited by PostNL after {tries} tries")]
    Throttled { op: &'static str, tries: u32 },
    #[error("{op} failed with HTTP {status} after {tries} tries")]
    Server {
        op: &'static str,
        status: u16,
        tries: u32,
    },
    #[error("{op}: network error after {tries} tries: {detail}")]
    Network {
        op: &'static str,
        tries: u32,
        detail: String,
    },
    #[error("{op}: PostNL's answer could not be read after {tries} tries ({detail})")]
    Malformed {
        op: &'static str,
        tries: u32,
        detail: String,
    },
    #[error("{op}: PostNL answered HTTP {status}")]
    Unexpected { op: &'static str, status: u16 },
}

impl PostnlError {
    /// PostNL's errors behind this one, with their descriptions (personal data: show
    /// them only when asked to).
    pub fn issues(&self) -> &[Notice] {
        match self {
            Self::Invalid { issues, .. } | Self::Rejected { issues, .. } => issues,
            _ => &[],
        }
    }

    /// True when the problem belongs to the order(s) in the request, so the caller
    /// should fail those orders and go on with the others; false when the whole run
    /// should stop (settings, key, network, rate limit).
    pub fn is_order_failure(&self) -> bool {
        matches!(
            self,
            Self::Refused(_)
                | Self::TooManyShipments { .. }
                | Self::TooLarge { .. }
                | Self::Invalid { .. }
                | Self::Rejected { .. }
                | Self::NoLabel { .. }
                | Self::BadLabel { .. }
        )
    }
}

impl Classify for PostnlError {
    fn exit(&self) -> Exit {
        match self {
            Self::Tls(e) => e.exit(),
            Self::Endpoint(_) | Self::Config(_) | Self::Unauthorized { .. } => Exit::Config,
            Self::Throttled { .. }
            | Self::Server { .. }
            | Self::Network { .. }
            | Self::Malformed { .. } => Exit::Temporary,
            Self::Refused(_)
            | Self::TooManyShipments { .. }
            | Self::TooLarge { .. }
            | Self::Invalid { .. }
            | Self::Rejected { .. }
            | Self::NoLabel { .. }
            | Self::BadLabel { .. }
            | Self::BadBarcode { .. }
            | Self::NotFound { .. }
            | Self::Unexpected { .. } => Exit::Failed,
        }
    }

    fn hints(&self) -> Vec<String> {
        let pii_hint = || {
            "PostNL's own text for each code can quote the address, so it is only shown when personal data is asked for (--show-pii)".to_string()
        };
        match self {
            Self::Endpoint(e) => e.hints(),
            Self::Tls(e) => e.hints(),
            Self::Config(_) => {
                vec!["check postnl.customer_code, postnl.customer_number and postnl.api_key".into()]
            }
            Self::Unauthorized { status: 403, .. } => vec![
                "the key is known but not allowed to use this service: ask PostNL to enable it for the key (Mijn PostNL, \"API beheren\")".into(),
            ],
            Self::Unauthorized { .. } => vec![
                "the PostNL API key is wrong or missing: sandbox (api-sandbox.postnl.nl) and production (api.postnl.nl) keys are different keys, so check that postnl.api_key belongs to postnl.endpoint".into(),
                "keys are managed in Mijn PostNL under \"API beheren\"".into(),
            ],
            Self::Invalid { .. } | Self::Rejected { .. } => {
                vec!["fix the order's address, weight or product and run again".into(), pii_hint()]
            }
            Self::NoLabel { .. } | Self::BadLabel { .. } => vec![
                "try the order again with the same barcode, so that no second parcel is announced".into(),
            ],
            Self::BadBarcode { .. } => vec![
                "the barcode serie may not match the contract: check postnl.customer_code or ask PostNL which serie to use".into(),
            ],
            Self::NotFound { .. } => vec![
                "PostNL answers 404 for requests over 200 KB and for a wrong path: check postnl.endpoint".into(),
            ],
            Self::TooManyShipments { .. } | Self::TooLarge { .. } | Self::Refused(_) => {
                vec!["this is a bug in fulfil: please report it".into()]
            }
            Self::Throttled { .. } => vec![
                "PostNL's rate limit was hit (the sandbox allows 15 calls a minute): the next run continues".into(),
            ],
            Self::Server { .. } | Self::Network { .. } | Self::Malformed { .. } => {
                vec!["temporary: the next run picks up where this one stopped".into()]
            }
            Self::Unexpected { .. } => Vec::new(),
        }
    }
}

fn code_suffix(code: Option<&str>) -> String {
    code.map(|c| format!(" {c}")).unwrap_or_default()
}

/// Codes with a fixed text, at most five, then a count; never PostNL's description.
fn summary(issues: &[Notice]) -> String {
    if issues.is_empty() {
        return "no error code given".to_string();
    }
    let mut out = String::new();
    for (i, n) in issues.iter().take(5).enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        let code = if n.code.is_empty() { "?" } else { &n.code };
        match code_text(code) {
            Some(text) => {
                let _ = write!(out, "{code} {text}");
            }
            None => out.push_str(code),
        }
    }
    if issues.len() > 5 {
        let _ = write!(out, "; and {} more", issues.len() - 5);
    }
    out
}

/// A fixed English text for the PostNL codes NOTES §8 lists, or `None`.
///
/// Several codes embed an address type: `127{AT}02` AddressType required,
/// `128{AT}02` incorrect address, `128{AT}03` address unknown, `176{AT}0n`
/// postcode/house-number checks.
pub fn code_text(code: &str) -> Option<String> {
    let fixed = match code {
        "4" => Some("a required field is missing"),
        "5" => Some("a field has the wrong format"),
        "9" => Some("too many requests"),
        "111" => Some("no label available (direct infeed)"),
        "10302" => Some("a 3S barcode must be 13 to 15 characters"),
        "10601" => Some("the receiver address is a postbox"),
        "10801" => Some("no delivery to the Wadden Islands"),
        "12213" => Some("the receiver's house number is missing"),
        "12214" => Some("the receiver's postcode is missing"),
        "13801" => Some("insurance is not allowed for this product"),
        "14002" => Some("the barcode must be 13 characters for this product"),
        "14003" => Some("not a valid 3S barcode"),
        "16301" => Some("customs data is required"),
        "16304" => Some("the weight is over the product's maximum"),
        "25001" => Some("a product option needs both Characteristic and Option"),
        _ => None,
    };
    if let Some(t) = fixed {
        return Some(t.to_string());
    }
    if code.len() != 7 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (family, at, tail) = (&code[..3], &code[3..5], &code[5..]);
    let who = match at {
        "01" => "receiver".to_string(),
        "02" => "sender".to_string(),
        other => format!("address type {other}"),
    };
    let text = match (family, tail) {
        ("127", "02") => format!("the {who} address type is required"),
        ("128", "02") => format!("incorrect {who} address"),
        ("128", "03") => format!("{who} address unknown"),
        ("176", "01" | "02" | "03") => format!("{who} postcode/house number check"),
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::Pii;

    fn notice(code: &str, description: &str) -> Notice {
        Notice {
            code: code.into(),
            description: Pii::new(description.into()),
        }
    }

    #[test]
    fn display_has_codes_but_never_descriptions() {
        let canary = "Zipcode 1234XY is invalid";
        let e = PostnlError::Invalid {
            op: "label",
            status: 400,
            issues: vec![notice("1280202", canary), notice("4711", canary)],
        };
        let text = format!("{e} {e:?}");
        assert!(!text.contains("1234XY"), "{text}");
        assert!(text.contains("1280202 incorrect sender address"), "{text}");
        assert!(text.contains("4711"));
        assert_eq!(e.issues()[0].description.expose(), canary);

        let r = PostnlError::Rejected {
            barcode: "3SDEVC987000001".into(),
            issues: vec![notice("1280103", canary)],
        };
        let text = format!("{r} {r:?}");
        assert!(!text.contains("1234XY"));
        assert!(text.contains("3SDEVC987000001") && text.contains("receiver address unknown"));
    }

    #[test]
    fn long_issue_lists_are_shortened() {
        let issues: Vec<_> = (0..8).map(|i| notice(&format!("{i}"), "x")).collect();
        let s = summary(&issues);
        assert!(s.ends_with("and 3 more"), "{s}");
        assert_eq!(summary(&[]), "no error code given");
    }

    #[test]
    fn exit_codes() {
        let key = PostnlError::Unauthorized {
            op: "label",
            status: 401,
            code: Some("oauth.v2.InvalidApiKey".into()),
        };
        assert_eq!(key.exit(), Exit::Config);
        assert!(key.hints().iter().any(|h| h.contains("sandbox")));
        assert!(key.to_string().contains("oauth.v2.InvalidApiKey"));

        let invalid = PostnlError::Invalid {
            op: "label",
            status: 400,
            issues: vec![],
        };
        assert_eq!(invalid.exit(), Exit::Failed);
        assert!(invalid.is_order_failure());

        for temporary in [
            PostnlError::Throttled {
                op: "label",
                tries: 5,
            },
            PostnlError::Server {
                op: "label",
                status: 503,
                tries: 5,
            },
            PostnlError::Network {
                op: "barcode",
                tries: 5,
                detail: "timed out".into(),
            },
            PostnlError::Malformed {
                op: "label",
                tries: 5,
                detail: "truncated JSON".into(),
            },
        ] {
            assert_eq!(temporary.exit(), Exit::Temporary, "{temporary}");
            assert!(!temporary.is_order_failure());
        }
        assert_eq!(
            PostnlError::TooManyShipments { count: 5 }.exit(),
            Exit::Failed
        );
        assert_eq!(PostnlError::Config("x").exit(), Exit::Config);
    }

    #[test]
    fn code_texts() {
        assert_eq!(
            code_text("1270102").as_deref(),
            Some("the receiver address type is required")
        );
        assert_eq!(
            code_text("1280903").as_deref(),
            Some("address type 09 address unknown")
        );
        assert_eq!(
            code_text("12213").as_deref(),
            Some("the receiver's house number is missing")
        );
        assert_eq!(code_text("9999999"), None);
        assert_eq!(code_text("abc"), None);
    }
}
