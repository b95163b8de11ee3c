//! Property tests of PostNL's answer parsers (issue #8): barcode, labels, error bodies,
//! the label PDF, and the postcode normaliser. Whatever bytes or JSON arrive, a parser
//! gives a value or an error, never a panic.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::postnl::models::{decode_pdf, parse_barcode, parse_error_body, parse_label_response};
use crate::transport::fuzz::{self, BARCODE, PDF_B64, arb_string};

fn label_answer() -> Value {
    json!({
        "MergedLabels": [],
        "ResponseShipments": [{
            "Barcode": BARCODE, "ProductCodeDelivery": "3085", "CodingText": "#KIX",
            "Errors": [], "Warnings": [{ "Code": "6", "Description": "w" }],
            "Labels": [{ "Content": PDF_B64, "Labeltype": "Label", "OutputType": "PDF" }]
        }]
    })
}

fn postnl_errors() -> Value {
    json!({
        "Errors": [{ "Code": "13801", "Description": "x" }],
        "fault": { "faultstring": "f", "detail": { "errorcode": "steps.oauth.v2.InvalidApiKey" } },
        "Array": [{ "ErrorMsg": "m", "ErrorNumber": 1 }]
    })
}

/// Feeds one body to every PostNL parser; only a panic fails.
fn feed(body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    if let Ok(b) = parse_barcode(body) {
        assert!(!b.is_empty());
    }
    if let Ok(r) = parse_label_response(body, &[BARCODE, "3SDEVC987000002"]) {
        assert_eq!(r.shipments.len(), 2, "one result per barcode asked for");
    }
    let _ = parse_error_body(body);
    let _ = decode_pdf(&text);
}

#[test]
fn the_valid_answers_parse() {
    // The grafts below start from these; they must be good answers to begin with.
    let r = parse_label_response(label_answer().to_string().as_bytes(), &[BARCODE]).unwrap();
    assert!(r.shipments[0].outcome.is_ok());
    assert_eq!(
        parse_barcode(br#"{"Barcode":"3SDEVC987123456"}"#).unwrap(),
        BARCODE
    );
    let e = parse_error_body(postnl_errors().to_string().as_bytes());
    assert!(!e.issues.is_empty() && e.fault_code.is_some());
}

proptest! {
    #![proptest_config(fuzz::config())]


    #[test]
    fn postcodes_normalise_once_and_for_good(
        country in prop_oneof![prop::sample::select(vec!["NL", "BE", "LU", "DE", "FR", "XX", ""]).prop_map(String::from), "\\PC{0,3}"],
        raw in prop_oneof![arb_string(), "[0-9 ]{0,3}[0-9]{4} ?[a-zA-Z]{0,3}", "[A-Z]{0,2}-?[0-9]{4,5}"],
    ) {
        use crate::postnl::address::normalise_postcode;
        if let Ok(zip) = normalise_postcode(&country, &raw) {
            // Normalising is idempotent: a stored postcode does not change on re-use.
            prop_assert_eq!(normalise_postcode(&country, &zip), Ok(zip.clone()));
            if country == "NL" {
                let b = zip.as_bytes();
                prop_assert_eq!(b.len(), 6);
                prop_assert!(b[0] != b'0' && b[..4].iter().all(u8::is_ascii_digit));
                prop_assert!(b[4..].iter().all(u8::is_ascii_uppercase));
                prop_assert!(!matches!(&zip[4..], "SA" | "SD" | "SS"));
            }
        }
    }
}

fuzz::never_panics!(feed, [label_answer(), postnl_errors()]);
