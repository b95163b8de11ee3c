//! Property tests of the SP-API answer parsers (issue #8): orders search pages, the
//! LWA token, error bodies such as confirmShipment's, feed documents, feed status,
//! processing reports, gzip and the rate-limit header. Whatever bytes or JSON arrive, a
//! parser gives a value or an error, never a panic. The sample answers here are also
//! the bases that the order mapping's property tests graft into.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::spapi::auth::read_token_reply;
use crate::spapi::feeds::{Feed, FeedDocument, gunzip, parse_report};
use crate::spapi::limits::parse_limit_header;
use crate::spapi::models::SearchPage;
use crate::transport::fuzz::{self, BARCODE, money};

/// One order as the Orders API 2026-01-01 sends it, with every dataset.
pub(crate) fn order() -> Value {
    json!({
        "orderId": "028-1234567-1234567",
        "createdTime": "2026-11-18T09:12:00Z",
        "lastUpdatedTime": "2026-11-19T10:00:00Z",
        "programs": ["PRIME"],
        "salesChannel": { "channelName": "Amazon.nl", "marketplaceId": "A1805IZSGTT6HS" },
        "buyer": { "buyerName": "Jan Jansen", "buyerEmail": "x@marketplace.amazon.nl", "buyerCompanyName": "Jansen B.V." },
        "recipient": { "deliveryAddress": {
            "name": "Jan Jansen", "addressLine1": "Laan van Meerdervoort 1021 bis",
            "city": "Den Haag", "postalCode": "2564 AZ", "countryCode": "NL",
            "phone": "+31612345678", "addressType": "RESIDENTIAL"
        }},
        "proceeds": { "grandTotal": money("24.20", "EUR") },
        "tax": { "taxRegistrations": [{
            "entityType": "BUSINESS", "legalName": "Jansen B.V.",
            "taxRegistrationType": "VAT", "taxRegistrationNumber": "NL123456789B01",
            "taxRegistrationAddress": { "countryCode": "NL" }
        }]},
        "fulfillment": {
            "fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT",
            "fulfillmentServiceLevel": "STANDARD",
            "shipByWindow": { "earliestDateTime": "2026-11-19T00:00:00Z", "latestDateTime": "2026-11-21T23:59:59Z" }
        },
        "orderItems": [{
            "orderItemId": "12345678901234",
            "quantityOrdered": 2,
            "product": { "asin": "B0000TEST1", "title": "Thee", "sellerSku": "FLX-TEA-20",
                         "price": { "unitPrice": money("12.10", "EUR") } },
            "proceeds": { "proceedsTotal": money("24.20", "EUR"), "breakdowns": [
                { "type": "ITEM", "subtotal": money("24.20", "EUR") },
                { "type": "SHIPPING", "subtotal": money("0.00", "EUR") }
            ]},
            "fulfillment": { "quantityFulfilled": 0 }
        }],
        "packages": [{
            "packageReferenceId": "1", "packageStatus": { "status": "IN_TRANSIT" },
            "carrier": "PostNL", "shipTime": "2026-11-19T15:00:00Z", "trackingNumber": BARCODE
        }]
    })
}

pub(crate) fn search_page() -> Value {
    json!({
        "orders": [order()],
        "pagination": { "nextToken": "abc" },
        "lastUpdatedBefore": "2026-11-20T09:58:00Z",
        "createdBefore": "2026-11-20T09:58:00Z"
    })
}

/// Feeds one body to every SP-API parser; only a panic fails.
pub(crate) fn feed(body: &[u8]) {
    let _ = serde_json::from_slice::<SearchPage>(body);
    for status in [200, 400, 401, 429, 503] {
        let r = read_token_reply(status, body);
        if status != 200 {
            assert!(r.is_err());
        }
    }
    let (code, message) = crate::spapi::first_error(body);
    assert!(code.chars().count() <= 200 && message.chars().count() <= 200);
    let _ = serde_json::from_slice::<FeedDocument>(body);
    let _ = serde_json::from_slice::<Feed>(body).map(|f| f.is_final());
    let text = String::from_utf8_lossy(body);
    let _ = parse_report(&text).accepted();
    let _ = gunzip(body);
    if let Some(r) = parse_limit_header(&text) {
        assert!(r.is_finite() && r > 0.0);
    }
}

#[test]
fn the_valid_answers_parse() {
    // The grafts below start from these; they must be good answers to begin with.
    let page: SearchPage = serde_json::from_value(search_page()).unwrap();
    assert_eq!(page.orders.len(), 1);
    let (_, life) =
        read_token_reply(200, br#"{"access_token":"Atza|x","expires_in":3600}"#).unwrap();
    assert_eq!(life, time::Duration::hours(1));
    let (code, _) =
        crate::spapi::first_error(br#"{"errors":[{"code":"InvalidInput","message":"m"}]}"#);
    assert_eq!(code, "InvalidInput");
}

proptest! {
    #![proptest_config(fuzz::config())]


    #[test]
    fn damaged_gzip_never_panics(flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..6), cut in any::<usize>(), flags in any::<u8>()) {
        let text = b"Number of records processed\t\t1\nNumber of records successful\t\t1\n";
        let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
        gz.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(text, 6));
        gz.extend_from_slice(&[0; 8]);
        prop_assert_eq!(gunzip(&gz), Some(text.to_vec()));
        gz[3] = flags;
        for (at, b) in flips {
            let i = 4 + at % (gz.len() - 4);
            gz[i] = b;
        }
        gz.truncate(cut % (gz.len() + 1));
        if let Some(out) = gunzip(&gz) {
            let _ = parse_report(&String::from_utf8_lossy(&out));
        }
    }
}

fuzz::never_panics!(
    feed,
    [
        search_page(),
        order(),
        json!({ "access_token": "Atza|x", "expires_in": 3600, "token_type": "bearer" }),
        json!({ "errors": [{ "code": "InvalidInput", "message": "m", "details": "d" }] }),
        json!({ "feedDocumentId": "amzn1.tortuga.x", "url": "https://127.0.0.1:1/doc", "compressionAlgorithm": "GZIP",
                    "processingStatus": "DONE", "resultFeedDocumentId": "r" })
    ]
);
