//! Property tests of the order mapping (issue #8): whatever JSON an orders search page
//! carries, [`parse_order`] gives rows or a fixed reason code, never a panic; a sweep
//! replaces each node of a valid order by hostile values and checks that each refusal
//! code is reached.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::orders::mapping::parse_order;
use crate::spapi::models::SearchPage;
use crate::spapi::props::{order, search_page};
use crate::transport::fuzz::{self, count_nodes, graft};

/// Feeds one body to the mapping, as a search page and as one order; only a panic fails.
fn feed(body: &[u8]) {
    if let Ok(page) = serde_json::from_slice::<SearchPage>(body) {
        for o in &page.orders {
            let _ = parse_order(o);
        }
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let _ = parse_order(&v);
    }
}

#[test]
fn the_valid_order_parses() {
    // The grafts below start from it; it must be a good answer to begin with.
    let page: SearchPage = serde_json::from_value(search_page()).unwrap();
    let rows = parse_order(&page.orders[0]).unwrap();
    assert_eq!(rows.0.order_id, "028-1234567-1234567");
    assert!(rows.3.is_some(), "personal data read");
}

#[test]
fn every_node_of_an_order_replaced_by_an_edge_value() {
    // A deterministic sweep: each node of a valid order, one at a time, becomes each of
    // a few hostile values. Refusals are fixed codes; some replacements are harmless.
    let base = order();
    let nodes = count_nodes(&base);
    assert!(nodes > 70, "{nodes}");
    let hostile = [
        Value::Null,
        json!(-1),
        json!(1e300),
        json!("1e400"),
        json!("-0.000000000000000000000000001"),
        json!("x".repeat(5000)),
        json!([]),
        json!({}),
        json!("2026-02-30T25:00:00Z"),
        json!(u64::MAX),
    ];
    let (mut ok, mut refused) = (0, std::collections::BTreeSet::new());
    for n in 1..nodes {
        for h in &hostile {
            let v = graft(&base, &[(n, h.clone())], None);
            match parse_order(&v) {
                Ok(_) => ok += 1,
                Err(code) => {
                    refused.insert(code);
                }
            }
            let page = json!({ "orders": [v] }).to_string();
            feed(page.as_bytes());
            crate::spapi::props::feed(page.as_bytes());
        }
    }
    assert!(ok > 0);
    for code in [
        "unreadable_order",
        "bad_order_id",
        "field_too_long",
        "bad_timestamp",
        "bad_amount",
    ] {
        assert!(refused.contains(code), "{code} never reached: {refused:?}");
    }
}

proptest! {
    #![proptest_config(fuzz::config())]

}

fuzz::never_panics!(feed, [search_page(), order()]);
