//! Proptest strategies for answers that come over the network, shared by the
//! property tests that sit next to each parser (spapi/, postnl/, orders::mapping,
//! fx, tedb; issue #8). Test-only, and it imports nothing of the project: it knows the
//! field names and edge values the parsers meet, not the parsers.
//!
//! Random JSON alone rarely gets past the first field a parser wants, so the main
//! strategy grafts random JSON into valid answers: it picks nodes of a real answer
//! (found by walking it) and replaces them, which reaches the checks deep inside.

use proptest::prelude::*;
use serde_json::{Value, json};

/// A PostNL barcode of the sandbox's shape.
pub(crate) const BARCODE: &str = "3SDEVC987123456";
/// "%PDF-1.3\n" and a little more, base64.
pub(crate) const PDF_B64: &str = "JVBERi0xLjMKJeLjz9MK";

/// The case count of every property over network answers.
pub(crate) const CASES: u32 = 512;

/// Field names the parsers look for, so that random objects hit them often.
const KEYS: &[&str] = &[
    "orders",
    "pagination",
    "nextToken",
    "orderId",
    "createdTime",
    "lastUpdatedTime",
    "programs",
    "salesChannel",
    "marketplaceId",
    "channelName",
    "buyer",
    "buyerName",
    "buyerCompanyName",
    "recipient",
    "deliveryAddress",
    "name",
    "addressLine1",
    "addressLine2",
    "city",
    "postalCode",
    "countryCode",
    "phone",
    "addressType",
    "proceeds",
    "grandTotal",
    "amount",
    "currencyCode",
    "tax",
    "taxRegistrations",
    "taxRegistrationNumber",
    "taxRegistrationType",
    "fulfillment",
    "fulfillmentStatus",
    "fulfilledBy",
    "fulfillmentServiceLevel",
    "shipByWindow",
    "earliestDateTime",
    "latestDateTime",
    "orderItems",
    "orderItemId",
    "quantityOrdered",
    "product",
    "asin",
    "title",
    "sellerSku",
    "price",
    "unitPrice",
    "proceedsTotal",
    "breakdowns",
    "type",
    "subtotal",
    "quantityFulfilled",
    "packages",
    "packageReferenceId",
    "packageStatus",
    "status",
    "carrier",
    "shipTime",
    "trackingNumber",
    "access_token",
    "expires_in",
    "error",
    "errors",
    "code",
    "message",
    "details",
    "feedDocumentId",
    "url",
    "compressionAlgorithm",
    "processingStatus",
    "resultFeedDocumentId",
    "date",
    "rates",
    "SEK",
    "Barcode",
    "ResponseShipments",
    "Labels",
    "Content",
    "Labeltype",
    "OutputType",
    "Errors",
    "Warnings",
    "ProductCodeDelivery",
    "CodingText",
    "fault",
    "detail",
    "errorcode",
    "Error",
    "ErrorMsg",
    "ErrorNumber",
    "Description",
    "Code",
    "Message",
    "Array",
];

/// Strings that sit on the edges of what the parsers accept.
const EDGES: &[&str] = &[
    "",
    " ",
    "0",
    "-0",
    "-1",
    "1e400",
    "1E-400",
    "NaN",
    "inf",
    "0.005",
    "12.345",
    "79228162514264337593543950335",
    "79228162514264337593543950336",
    "-1e28",
    "2026-11-20T10:00:00Z",
    "2026-11-20T10:00:00.123456789+01:00",
    "2026-13-45T99:99:99Z",
    "9999-12-31T23:59:59Z",
    "2026-11-20",
    "NL",
    "BE",
    "XX",
    "EUR",
    "SEK",
    "MERCHANT",
    "AMAZON",
    "UNSHIPPED",
    "SHIPPED",
    "CANCELLED",
    "DONE",
    "FATAL",
    "GZIP",
    "%PDF-",
    PDF_B64,
    "====",
    "3SDEVC",
    BARCODE,
    "028-1234567-1234567",
    "A1805IZSGTT6HS",
    "http://192.0.2.1/x",
    "https://127.0.0.1:1/doc",
    "\u{0}",
    "\u{202e}",
    "ß",
    "𝒳",
];

pub(crate) fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(EDGES).prop_map(String::from),
        2 => "\\PC{0,24}",
        1 => "[0-9]{1,40}(\\.[0-9]{0,30})?",
        1 => ".{200,300}",
    ]
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(String::from),
        1 => "[a-zA-Z_]{0,12}",
    ]
}

/// Any JSON value, nested up to six levels.
pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(arb_key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

pub(crate) fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Replaces the `n`-th node (pre-order) of `v` with `new`; returns whether it did.
fn replace_nth(v: &mut Value, n: &mut usize, new: &mut Option<Value>) -> bool {
    if *n == 0 {
        if let Some(x) = new.take() {
            *v = x;
        }
        return true;
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|c| replace_nth(c, n, new)),
        Value::Object(o) => o.values_mut().any(|c| replace_nth(c, n, new)),
        _ => false,
    }
}

/// A valid answer with some of its nodes replaced, and sometimes a key removed.
pub(crate) fn graft(base: &Value, picks: &[(usize, Value)], drop_key: Option<usize>) -> Value {
    let mut v = base.clone();
    for (at, new) in picks {
        let mut n = at % count_nodes(&v);
        replace_nth(&mut v, &mut n, &mut Some(new.clone()));
    }
    if let Some(k) = drop_key {
        let mut n = k % count_nodes(&v);
        drop_nth_key(&mut v, &mut n);
    }
    v
}

fn drop_nth_key(v: &mut Value, n: &mut usize) -> bool {
    match v {
        Value::Object(o) => {
            if *n < o.len() {
                let key = o.keys().nth(*n).cloned();
                if let Some(k) = key {
                    o.remove(&k);
                }
                return true;
            }
            *n -= o.len();
            o.values_mut().any(|c| drop_nth_key(c, n))
        }
        Value::Array(a) => a.iter_mut().any(|c| drop_nth_key(c, n)),
        _ => false,
    }
}

pub(crate) fn money(amount: &str, currency: &str) -> Value {
    json!({ "amount": amount, "currencyCode": currency })
}

/// The proptest settings of every property over network answers: [`CASES`] cases, no
/// failure files written into the source tree.
pub(crate) fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The three properties every parser of network answers has: random bytes, random JSON,
/// and real answers (`bases`) with random parts grafted in, fed to `feed`, never panic.
/// Expands to the tests `arbitrary_bytes_never_panic`, `arbitrary_json_never_panics` and
/// `grafted_answers_never_panic` in the module that invokes it.
macro_rules! never_panics {
    ($feed:path, [$($base:expr),+ $(,)?]) => {
        proptest::proptest! {
            #![proptest_config($crate::transport::fuzz::config())]

            #[test]
            fn arbitrary_bytes_never_panic(
                body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            ) {
                $feed(&body);
            }

            #[test]
            fn arbitrary_json_never_panics(v in $crate::transport::fuzz::arb_json()) {
                $feed(v.to_string().as_bytes());
            }

            #[test]
            fn grafted_answers_never_panic(
                base in proptest::sample::select(vec![$($base),+]),
                picks in proptest::collection::vec(
                    (proptest::prelude::any::<usize>(), $crate::transport::fuzz::arb_json()),
                    1..4,
                ),
                drop_key in proptest::option::of(proptest::prelude::any::<usize>()),
            ) {
                let v = $crate::transport::fuzz::graft(&base, &picks, drop_key);
                $feed(v.to_string().as_bytes());
            }
        }
    };
}
pub(crate) use never_panics;
