//! The Commission's VIES service: is a buyer's VAT number valid (issue #14)?
//!
//! Before an invoice applies the intra-Community exemption (reverse charge) to a buyer's VAT
//! number, `make-invoices` asks VIES through its REST API, `POST <endpoint>/check-vat-number`
//! (`invoices.vies_endpoint`, default [`DEFAULT_ENDPOINT`]), with the seller's own VAT number
//! as requester, so that VIES answers with a consultation number (`requestIdentifier`): the
//! proof that the check was made. The shapes follow the Commission's Swagger description,
//! kept in `specs/vies/swagger_publicVAT.yaml`:
//!
//! ```text
//! request  {"countryCode": "DE", "vatNumber": "123456789",
//!           "requesterMemberStateCode": "NL", "requesterNumber": "000012348B01"}
//! 200      {"countryCode": "DE", "vatNumber": "123456789", "requestDate": "…T…Z",
//!           "valid": true, "requestIdentifier": "WAPI…", "name": "…", "address": "…", …}
//! error    {"actionSucceed": false, "errorWrappers": [{"error": "MS_UNAVAILABLE", "message": "…"}]}
//! ```
//!
//! The description gives the error envelope (`CommonResponse`, for 400 and 500) but not its
//! codes; they are the service's own, as its SOAP descriptions list them. They sort into:
//!
//! * busy: `MS_MAX_CONCURRENT_REQ`, `GLOBAL_MAX_CONCURRENT_REQ` and their `_TIME` variants,
//!   HTTP 429: retried with back-off within the run ([`check`]), then unavailable;
//! * unavailable: `MS_UNAVAILABLE`, `SERVICE_UNAVAILABLE`, `TIMEOUT`, any 5xx without a
//!   code, a network error, an unknown code, an unreadable answer: the invoice waits for a
//!   later run (and after 24 hours goes to review, see `crate::invoice_lookups`);
//! * refused: `INVALID_INPUT`, `VAT_BLOCKED`, `IP_BLOCKED`, other 4xx: a person must look;
//! * `INVALID_REQUESTER_INFO`: VIES does not accept `seller.vat_id` as requester: a
//!   configuration error (exit 2).
//!
//! Some clients report error codes inside a 200 answer too; any status with
//! `actionSucceed: false` or an `errorWrappers` entry is read as that error.
//!
//! Personal data: the buyer's number goes into the request body only. Nothing here logs a
//! body, and no error message carries the number, the name or the address VIES returns
//! (which fulfil never reads).

use std::time::Instant;

use serde_json::{Value, json};

use crate::clock::Clock;
use crate::error::{Classify, Exit};
use crate::transport::{Backoff, RetryPolicy};

/// The REST API of VIES on the Commission's site; the client appends [`OPERATION`].
pub const DEFAULT_ENDPOINT: &str = "https://ec.europa.eu/taxation_customs/vies/rest-api";
/// The path of the check under the endpoint.
pub const OPERATION: &str = "/check-vat-number";

/// VIES's answer about one number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The number is registered for intra-Community transactions.
    pub valid: bool,
    /// VIES's `requestDate` (as VIES gives it, control characters removed).
    pub request_date: Option<String>,
    /// The consultation number (`requestIdentifier`); only with a requester.
    pub request_identifier: Option<String>,
}

/// Why there is no answer. Messages carry codes and HTTP statuses, never the number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViesError {
    /// VIES or the member state limits concurrent requests (`*_MAX_CONCURRENT_REQ`, 429).
    #[error("VIES is busy ({0})")]
    Busy(String),
    /// VIES or the member state's register cannot answer now.
    #[error("VIES is unavailable ({0})")]
    Unavailable(String),
    /// VIES refused the request (`INVALID_INPUT`, `VAT_BLOCKED`, `IP_BLOCKED`, 4xx).
    #[error("VIES refused the check ({0})")]
    Refused(String),
    /// VIES does not accept the seller's VAT number as requester.
    #[error("VIES does not accept seller.vat_id as requester ({0})")]
    Requester(String),
    /// A certificate or protocol that TLS refused.
    #[error(transparent)]
    Tls(crate::transport::TlsError),
}

impl ViesError {
    /// The invoice can wait for a later run.
    pub fn is_temporary(&self) -> bool {
        matches!(self, ViesError::Busy(_) | ViesError::Unavailable(_))
    }
}

impl Classify for ViesError {
    fn exit(&self) -> Exit {
        match self {
            ViesError::Busy(_) | ViesError::Unavailable(_) => Exit::Temporary,
            ViesError::Refused(_) => Exit::Failed,
            ViesError::Requester(_) | ViesError::Tls(_) => Exit::Config,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            ViesError::Requester(_) => {
                vec!["check seller.vat_id: VIES must know it as a valid Dutch VAT number".into()]
            }
            ViesError::Tls(e) => e.hints(),
            ViesError::Busy(_) | ViesError::Unavailable(_) => {
                vec!["the next run asks VIES again".into()]
            }
            ViesError::Refused(_) => Vec::new(),
        }
    }
}

/// Splits a normalised VAT number (`DE123456789`) into VIES's country code and number.
fn split(vat_id: &str) -> Option<(&str, &str)> {
    let (cc, rest) = (vat_id.get(..2)?, vat_id.get(2..)?);
    (cc.bytes().all(|b| b.is_ascii_uppercase()) && !rest.is_empty()).then_some((cc, rest))
}

/// The request body for `vat_id`, asked by `requester` (both normalised, prefix included).
pub fn request_body(vat_id: &str, requester: &str) -> Option<Value> {
    let (cc, number) = split(vat_id)?;
    let (rcc, rnumber) = split(requester)?;
    Some(json!({
        "countryCode": cc,
        "vatNumber": number,
        "requesterMemberStateCode": rcc,
        "requesterNumber": rnumber,
    }))
}

/// A short printable copy of a value VIES sent: control characters removed, capped.
fn clean(s: &str, max: usize) -> Option<String> {
    let t: String = s
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect::<String>()
        .trim()
        .to_string();
    (!t.is_empty()).then_some(t)
}

/// Sorts an error code VIES sent.
fn code_error(code: &str) -> ViesError {
    let code = clean(code, 40).unwrap_or_else(|| "no error code".into());
    match code.as_str() {
        "MS_MAX_CONCURRENT_REQ"
        | "GLOBAL_MAX_CONCURRENT_REQ"
        | "MS_MAX_CONCURRENT_REQ_TIME"
        | "GLOBAL_MAX_CONCURRENT_REQ_TIME" => ViesError::Busy(code),
        "INVALID_INPUT" | "VAT_BLOCKED" | "IP_BLOCKED" => ViesError::Refused(code),
        "INVALID_REQUESTER_INFO" => ViesError::Requester(code),
        // MS_UNAVAILABLE, SERVICE_UNAVAILABLE, TIMEOUT and any code not documented: no
        // verdict, so the invoice waits rather than guessing.
        _ => ViesError::Unavailable(code),
    }
}

/// Reads one answer: HTTP `status` and `body`.
///
/// # Errors
/// [`ViesError`] for every answer that is not a verdict.
pub fn parse(status: u16, body: &[u8]) -> Result<Answer, ViesError> {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(v) = &v {
        let failed = v["actionSucceed"] == Value::Bool(false);
        let code = v["errorWrappers"]
            .as_array()
            .and_then(|a| a.first())
            .map(|w| w["error"].as_str().unwrap_or_default());
        if failed || code.is_some() {
            return Err(code_error(code.unwrap_or_default()));
        }
        if (200..300).contains(&status)
            && let Some(valid) = v["valid"].as_bool()
        {
            return Ok(Answer {
                valid,
                request_date: v["requestDate"].as_str().and_then(|d| clean(d, 40)),
                request_identifier: v["requestIdentifier"].as_str().and_then(|d| clean(d, 64)),
            });
        }
    }
    Err(match status {
        429 => ViesError::Busy("HTTP 429".into()),
        400..=499 => ViesError::Refused(format!("HTTP {status}")),
        200..=299 => ViesError::Unavailable(match v {
            Some(_) => "an answer without a verdict".into(),
            None => match serde_json::from_slice::<Value>(body) {
                Err(e) => crate::transport::json_detail(&e),
                Ok(_) => "an unreadable answer".into(),
            },
        }),
        _ => ViesError::Unavailable(format!("HTTP {status}")),
    })
}

/// One request to VIES.
///
/// # Errors
/// [`ViesError`]: transport problems are [`ViesError::Unavailable`].
pub fn check_once(
    http: &reqwest::blocking::Client,
    endpoint: &str,
    vat_id: &str,
    requester: &str,
) -> Result<Answer, ViesError> {
    let body = request_body(vat_id, requester)
        .ok_or_else(|| ViesError::Refused("not a VAT number with a country prefix".into()))?;
    let url = format!("{}{OPERATION}", endpoint.trim_end_matches('/'));
    let started = Instant::now();
    let resp = http
        .post(&url)
        .header("accept", "application/json")
        .json(&body)
        .send()
        .map_err(|e| match crate::transport::tls_refusal(&e) {
            Some(refusal) => ViesError::Tls(crate::transport::TlsError {
                op: "VIES check",
                refusal,
            }),
            None => ViesError::Unavailable(crate::transport::transport_detail(&e)),
        })?;
    let status = resp.status().as_u16();
    let bytes = resp
        .bytes()
        .map_err(|e| ViesError::Unavailable(crate::transport::transport_detail(&e)))?;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let out = parse(status, &bytes);
    tracing::debug!(
        status,
        elapsed_ms,
        country = split(vat_id).map_or("", |s| s.0),
        outcome = match &out {
            Ok(a) if a.valid => "valid",
            Ok(_) => "invalid",
            Err(_) => "error",
        },
        "VIES answer"
    );
    out
}

/// Asks VIES about `vat_id`, retrying a busy answer with back-off (`retry`); once the tries
/// are spent a busy VIES counts as unavailable. `sleep` waits (tests pass a recorder).
///
/// # Errors
/// [`ViesError`]; never [`ViesError::Busy`].
pub fn check(
    http: &reqwest::blocking::Client,
    endpoint: &str,
    vat_id: &str,
    requester: &str,
    retry: RetryPolicy,
    clock: &Clock,
) -> Result<Answer, ViesError> {
    let backoff = Backoff::new(retry, 0x9e37_79b9_7f4a_7c15);
    let mut tries = 0;
    loop {
        tries += 1;
        match check_once(http, endpoint, vat_id, requester) {
            Err(ViesError::Busy(code)) if tries < retry.max_tries.max(1) => {
                let wait = backoff.delay(tries);
                tracing::info!(code = %code, tries, wait_ms = wait.as_millis(), "VIES busy, retrying");
                clock.sleep(wait);
            }
            Err(ViesError::Busy(code)) => {
                return Err(ViesError::Unavailable(format!(
                    "{code}, still after {tries} tries"
                )));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn builds_the_request_with_the_requester() {
        assert_eq!(
            request_body("DE123456789", "NL000012348B01").unwrap(),
            json!({"countryCode": "DE", "vatNumber": "123456789",
                   "requesterMemberStateCode": "NL", "requesterNumber": "000012348B01"})
        );
        assert_eq!(
            request_body("EL123456789", "NL000012348B01").unwrap()["countryCode"],
            "EL"
        );
        assert!(request_body("DE", "NL000012348B01").is_none());
        assert!(request_body("de123456789", "NL000012348B01").is_none());
    }

    #[test]
    fn reads_valid_and_invalid_answers() {
        let a = parse(
            200,
            br#"{"countryCode":"DE","vatNumber":"123456789","requestDate":"2026-11-20T10:00:00.000Z",
                 "valid":true,"requestIdentifier":"WAPIAAAAZ1abc","name":"X GmbH","address":"Y"}"#,
        )
        .unwrap();
        assert_eq!(
            a,
            Answer {
                valid: true,
                request_date: Some("2026-11-20T10:00:00.000Z".into()),
                request_identifier: Some("WAPIAAAAZ1abc".into()),
            }
        );
        let a = parse(
            200,
            br#"{"valid":false,"requestDate":"2026-11-20T10:00:00Z","name":"---"}"#,
        )
        .unwrap();
        assert!(!a.valid);
        assert_eq!(a.request_identifier, None);
    }

    #[test]
    fn sorts_the_error_codes() {
        let err = |status: u16, code: &str| {
            parse(
                status,
                json!({"actionSucceed": false, "errorWrappers": [{"error": code, "message": "m"}]})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap_err()
        };
        assert_eq!(
            err(500, "MS_UNAVAILABLE"),
            ViesError::Unavailable("MS_UNAVAILABLE".into())
        );
        assert_eq!(
            err(200, "TIMEOUT"),
            ViesError::Unavailable("TIMEOUT".into())
        );
        assert_eq!(err(500, "SERVICE_UNAVAILABLE").exit(), Exit::Temporary);
        for busy in [
            "MS_MAX_CONCURRENT_REQ",
            "GLOBAL_MAX_CONCURRENT_REQ",
            "MS_MAX_CONCURRENT_REQ_TIME",
            "GLOBAL_MAX_CONCURRENT_REQ_TIME",
        ] {
            assert_eq!(err(500, busy), ViesError::Busy(busy.into()));
        }
        assert_eq!(
            err(400, "INVALID_INPUT"),
            ViesError::Refused("INVALID_INPUT".into())
        );
        assert_eq!(err(400, "INVALID_REQUESTER_INFO").exit(), Exit::Config);
        assert_eq!(
            err(500, "SOMETHING_NEW"),
            ViesError::Unavailable("SOMETHING_NEW".into())
        );
        // Not a verdict: the invoice waits.
        assert!(parse(503, b"<html>down</html>").unwrap_err().is_temporary());
        assert!(parse(200, b"{\"valid\":").unwrap_err().is_temporary());
        assert!(parse(200, b"{}").unwrap_err().is_temporary());
        assert_eq!(
            parse(429, b"").unwrap_err(),
            ViesError::Busy("HTTP 429".into())
        );
        assert_eq!(
            parse(404, b"").unwrap_err(),
            ViesError::Refused("HTTP 404".into())
        );
        // A verdict only from a 2xx.
        assert!(parse(500, br#"{"valid":true}"#).is_err());
    }

    #[test]
    fn errors_never_carry_what_vies_echoes() {
        let e = parse(
            200,
            br#"{"actionSucceed":false,"errorWrappers":[{"error":"MS_UNAVAILABLE","message":"DE987654321 Musterfirma"}]}"#,
        )
        .unwrap_err();
        assert!(!e.to_string().contains("987654321"), "{e}");
    }

    /// fulfil's request is a `CheckVatRequest` of the Commission's description, closed to
    /// fields it does not list.
    #[test]
    fn the_request_matches_the_commissions_description() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("specs/vies/swagger_publicVAT.yaml");
        let spec: Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut schema = spec["definitions"]["CheckVatRequest"].clone();
        schema["additionalProperties"] = Value::Bool(false);
        let validator = jsonschema::validator_for(&schema).unwrap();
        let body = request_body("DE123456789", "NL000012348B01").unwrap();
        assert!(validator.is_valid(&body), "{body}");
        assert!(
            spec["paths"][OPERATION]["post"].is_object(),
            "{OPERATION} is the described operation"
        );
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(status, &body);
        }

        #[test]
        fn random_json_never_panics(valid in any::<Option<bool>>(), code in "[A-Z_]{0,30}", date in "\\PC{0,50}", id in "\\PC{0,80}") {
            let mut v = json!({"requestDate": date, "requestIdentifier": id});
            if let Some(b) = valid { v["valid"] = json!(b); }
            if !code.is_empty() { v["errorWrappers"] = json!([{"error": code}]); }
            if let Ok(a) = parse(200, v.to_string().as_bytes()) {
                prop_assert!(a.request_identifier.is_none_or(|i| i.chars().count() <= 64));
            }
        }
    }
}
