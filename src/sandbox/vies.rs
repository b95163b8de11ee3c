//! A stand-in for the Commission's VIES REST API (issue #14):
//! `POST /taxation_customs/vies/rest-api/check-vat-number`, in the request and answer shapes
//! of the Commission's Swagger description (`specs/vies/swagger_publicVAT.yaml`).
//!
//! THE REGISTER IS SYNTHETIC. Every well-formed number is registered, except those whose last
//! three characters pick a behaviour. The codes are those of the Commission's own test
//! service (`check-vat-test-service`: 100 valid, 200 invalid, 301 `MS_UNAVAILABLE`, 302
//! `TIMEOUT`, 500 `GLOBAL_MAX_CONCURRENT_REQ`, 600 `MS_MAX_CONCURRENT_REQ`), used here as
//! suffixes of realistic numbers so that fulfil's structural check lets them through:
//!
//! | ends in | answer |
//! |---|---|
//! | `200` | `valid: false` |
//! | `301` | 500, `MS_UNAVAILABLE` |
//! | `302` | 500, `TIMEOUT` |
//! | `500` | 500, `GLOBAL_MAX_CONCURRENT_REQ` on the first request for the number, then valid |
//! | `600` | 500, `MS_MAX_CONCURRENT_REQ` on the first two requests for the number, then valid |
//! | `601` | 500, `MS_MAX_CONCURRENT_REQ` always |
//! | anything else | `valid: true` |
//!
//! A request with a requester (`requesterMemberStateCode` and `requesterNumber`) gets a
//! deterministic consultation number, `requestIdentifier`; without one, none, as VIES does.
//! Errors use the description's `CommonResponse` (`actionSucceed: false`, `errorWrappers`).
//! The generated orders' business buyers have numbers that VIES confirms, a few of them
//! ending in `200` (see `data::vies_number`), so the demo shows the consumer fallback.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::sandbox::rng::Rng;
use crate::sandbox::{Ctx, Request, Response};

/// The path the real service answers on, below `https://ec.europa.eu` (routed in `mod.rs`).
#[cfg(test)]
pub(crate) const PATH: &str = "/taxation_customs/vies/rest-api/check-vat-number";

/// The suffixes that pick a behaviour other than "registered".
pub(crate) const RESERVED: &[&str] = &["200", "301", "302", "500", "600", "601"];

/// Requests seen per number (for the "busy, then valid" rules).
#[derive(Debug, Default)]
pub(crate) struct ViesState {
    seen: HashMap<String, u32>,
    issued: u64,
}

fn error(status: u16, code: &str, message: &str) -> Response {
    Response::json(
        status,
        &json!({
            "actionSucceed": false,
            "errorWrappers": [{ "error": code, "message": message }],
        }),
    )
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v[key].as_str().map(str::trim).filter(|s| !s.is_empty())
}

pub(crate) fn check(state: &mut ViesState, req: &Request, ctx: &Ctx<'_>) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return error(400, "INVALID_INPUT", "The request body is not JSON.");
    };
    let (Some(country), Some(number)) = (text(&body, "countryCode"), text(&body, "vatNumber"))
    else {
        return error(
            400,
            "INVALID_INPUT",
            "countryCode and vatNumber are required.",
        );
    };
    if country.len() != 2
        || !country.bytes().all(|b| b.is_ascii_uppercase())
        || !number
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'*')
    {
        return error(
            400,
            "INVALID_INPUT",
            "The provided CountryCode is invalid or the VAT number is empty.",
        );
    }
    let requester = match (
        text(&body, "requesterMemberStateCode"),
        text(&body, "requesterNumber"),
    ) {
        (None, None) => None,
        (Some(cc), Some(n)) if cc.len() == 2 && n.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Some(())
        }
        _ => {
            return error(
                400,
                "INVALID_REQUESTER_INFO",
                "The requester member state code or number is invalid.",
            );
        }
    };
    let key = format!("{country}{number}");
    let seen = {
        let n = state.seen.entry(key).or_default();
        *n += 1;
        *n
    };
    let suffix = number.get(number.len().saturating_sub(3)..).unwrap_or("");
    let busy = |code: &str| {
        error(
            500,
            code,
            "Your Request for VAT validation has not been processed; the maximum number of concurrent requests has been reached.",
        )
    };
    let valid = match suffix {
        "200" => false,
        "301" => {
            return error(
                500,
                "MS_UNAVAILABLE",
                "The application at the Member State is not replying or not available.",
            );
        }
        "302" => {
            return error(
                500,
                "TIMEOUT",
                "The application did not receive a reply within the allocated time period.",
            );
        }
        "500" if seen <= 1 => return busy("GLOBAL_MAX_CONCURRENT_REQ"),
        "600" if seen <= 2 => return busy("MS_MAX_CONCURRENT_REQ"),
        "601" => return busy("MS_MAX_CONCURRENT_REQ"),
        _ => true,
    };
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    let mut answer = json!({
        "countryCode": country,
        "vatNumber": number,
        "requestDate": ctx.now.format(&fmt).unwrap_or_default(),
        "valid": valid,
        "name": if valid { "SANDBOX TRADER (synthetic)" } else { "---" },
        "address": if valid { "SANDBOXSTRAAT 1, 0000 SANDBOX" } else { "---" },
    });
    if requester.is_some() {
        state.issued += 1;
        let mut rng = Rng::derived(ctx.seed, "vies-request-identifier", state.issued);
        answer["requestIdentifier"] = Value::String(format!("WAPI{}", rng.alnum_upper(12)));
    }
    Response::json(200, &answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const NOW: time::OffsetDateTime = time::macros::datetime!(2026-11-20 10:00 UTC);

    fn ctx() -> Ctx<'static> {
        Ctx {
            now: NOW,
            base_url: "http://127.0.0.1:1",
            seed: 7,
            scale: 1.0,
        }
    }

    fn ask(state: &mut ViesState, body: &Value) -> Response {
        let req = Request::from_target(
            "POST",
            PATH,
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        );
        check(state, &req, &ctx())
    }

    fn body(number: &str) -> Value {
        json!({"countryCode": "DE", "vatNumber": number,
               "requesterMemberStateCode": "NL", "requesterNumber": "000012348B01"})
    }

    /// The Swagger 2.0 description as JSON.
    fn spec() -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/vies/swagger_publicVAT.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        serde_norway::from_str(&text).expect("the description is YAML")
    }

    /// Validates `instance` against `definitions/<name>`, with every object closed
    /// (`additionalProperties: false`) so an invented field fails.
    fn assert_schema(name: &str, instance: &Value) {
        fn strict(v: &mut Value) {
            match v {
                Value::Object(m) => {
                    if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                        m.insert("additionalProperties".into(), Value::Bool(false));
                    }
                    m.values_mut().for_each(strict);
                }
                Value::Array(a) => a.iter_mut().for_each(strict),
                _ => {}
            }
        }
        let mut definitions = spec()["definitions"].clone();
        strict(&mut definitions);
        let wrapper = json!({"$ref": format!("#/definitions/{name}"), "definitions": definitions});
        let validator = jsonschema::validator_for(&wrapper).expect("schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?} in {instance}");
    }

    #[test]
    fn the_description_has_the_operation_and_the_shapes() {
        let s = spec();
        assert_eq!(s["swagger"], "2.0");
        let op = &s["paths"]["/check-vat-number"]["post"];
        assert_eq!(op["operationId"], "checkVatNumber");
        assert_eq!(
            op["responses"]["500"]["schema"]["$ref"],
            "#/definitions/CommonResponse"
        );
        assert!(PATH.ends_with("/check-vat-number"));
        assert_schema("CheckVatRequest", &body("123456789"));
    }

    #[test]
    fn every_answer_is_in_the_described_shape() {
        let mut st = ViesState::default();
        let cases = [
            ("123456789", 200, Some(true)),
            ("123456200", 200, Some(false)),
            ("123456301", 500, None),
            ("123456302", 500, None),
            ("123456601", 500, None),
        ];
        for (number, status, valid) in cases {
            let resp = ask(&mut st, &body(number));
            assert_eq!(resp.status, status, "{number}");
            let v = resp.json_body();
            if let Some(valid) = valid {
                assert_schema("CheckVatResponse", &v);
                assert_eq!(v["valid"], valid);
                assert!(v["requestIdentifier"].as_str().unwrap().starts_with("WAPI"));
                assert_eq!(v["requestDate"], "2026-11-20T10:00:00.000Z");
            } else {
                assert_schema("CommonResponse", &v);
                assert_eq!(v["actionSucceed"], false);
            }
        }
        // Without a requester there is no consultation number.
        let v = ask(
            &mut st,
            &json!({"countryCode": "DE", "vatNumber": "123456789"}),
        )
        .json_body();
        assert_schema("CheckVatResponse", &v);
        assert!(v.get("requestIdentifier").is_none());
        for bad in [
            json!({"vatNumber": "1"}),
            json!({"countryCode": "de", "vatNumber": "1"}),
            json!({"countryCode": "DE", "vatNumber": "123456789", "requesterMemberStateCode": "NL"}),
        ] {
            let resp = ask(&mut st, &bad);
            assert_eq!(resp.status, 400, "{bad}");
            assert_schema("CommonResponse", &resp.json_body());
        }
    }

    #[test]
    fn busy_numbers_answer_after_their_turns() {
        let mut st = ViesState::default();
        let code = |r: &Response| r.json_body()["errorWrappers"][0]["error"].clone();
        let r = ask(&mut st, &body("123456600"));
        assert_eq!(code(&r), "MS_MAX_CONCURRENT_REQ");
        let r = ask(&mut st, &body("123456600"));
        assert_eq!(code(&r), "MS_MAX_CONCURRENT_REQ");
        assert_eq!(ask(&mut st, &body("123456600")).json_body()["valid"], true);
        let r = ask(&mut st, &body("123456500"));
        assert_eq!(code(&r), "GLOBAL_MAX_CONCURRENT_REQ");
        assert_eq!(ask(&mut st, &body("123456500")).json_body()["valid"], true);
    }
}
