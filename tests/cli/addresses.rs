//! Issue #18 through the real path: addresses as buyers type them go from the SP-API
//! sandbox through sync-orders and make-labels, and the PostNL sandbox's recording shows
//! what PostNL received: cleaned, split by each country's conventions, or not sent at
//! all (review). Nothing that belongs on no label reaches PostNL in any field.

use serde_json::{Value, json};

use crate::common::TestEnv;
use crate::make_labels::{order, reasons, received};

/// (lines, zip, country, Some((Street, HouseNr, HouseNrExt)) to be labelled, or None for
/// review).
type Row = (
    [&'static str; 3],
    &'static str,
    &'static str,
    Option<(&'static str, &'static str, &'static str)>,
);

#[rustfmt::skip]
fn rows() -> Vec<Row> {
    vec![
        // Cleaning: trailing punctuation, house-number words, glued numbers, symbols.
        (["R4, 7", "", ""], "68161", "DE", Some(("R4", "7", ""))),
        (["42nd street, 1337a", "", ""], "1011 AB", "NL", Some(("42nd street", "1337", "a"))),
        (["Dorpsstraat No. 8", "", ""], "1011 AB", "NL", Some(("Dorpsstraat", "8", ""))),
        (["Kerkstraat huisnummer 5", "", ""], "1011 AB", "NL", Some(("Kerkstraat", "5", ""))),
        (["Rue Haute nº 12", "", ""], "1000", "BE", Some(("Rue Haute", "12", ""))),
        (["Beispielstraße, Nr 12", "", ""], "10115", "DE", Some(("Beispielstraße", "12", ""))),
        (["Lindenweg Hausnummer 4", "", ""], "10115", "DE", Some(("Lindenweg", "4", ""))),
        (["Heinestr.13", "", ""], "10115", "DE", Some(("Heinestr.", "13", ""))),
        (["Am Aubach11", "", ""], "10115", "DE", Some(("Am Aubach", "11", ""))),
        (["Hollandweg1A", "", ""], "1011 AB", "NL", Some(("Hollandweg", "1", "A"))),
        (["Hoofdstraat 12 \u{1f3e0}", "", ""], "1011 AB", "NL", Some(("Hoofdstraat", "12", ""))),
        (["Hoofd\u{200b}straat 12\u{e000}b", "", ""], "1011 AB", "NL", Some(("Hoofdstraat", "12", "b"))),
        (["\u{1f3e0}\u{1f4e6}", "", ""], "1011 AB", "NL", None),
        // Belgian boxes in every spelling.
        (["Kerkstraat 12 bte 3", "", ""], "2000", "BE", Some(("Kerkstraat", "12", "bus 3"))),
        (["Kerkstraat 12 boîte 3", "", ""], "2000", "BE", Some(("Kerkstraat", "12", "bus 3"))),
        (["Kerkstraat 12 box 3", "", ""], "2000", "BE", Some(("Kerkstraat", "12", "bus 3"))),
        (["Kerkstraat 12/3", "", ""], "2000", "BE", Some(("Kerkstraat", "12", "bus 3"))),
        (["Straat 23-C11", "", ""], "2000", "BE", Some(("Straat", "23", "bus C11"))),
        (["Oud-Dorpsstraat 136 3", "", ""], "2000", "BE", Some(("Oud-Dorpsstraat", "136", "bus 3"))),
        // Dutch additions stay whole.
        (["Kerkweg 14 3hoog", "", ""], "1011 AB", "NL", Some(("Kerkweg", "14", "3hoog"))),
        (["Charles Petitweg 7 A-2", "", ""], "1011 AB", "NL", Some(("Charles Petitweg", "7", "A-2"))),
        (["Hoofdstraat 23 B 03", "", ""], "1011 AB", "NL", Some(("Hoofdstraat", "23", "B 03"))),
        (["Nicolaas Ruyschstraat 8 02L", "", ""], "1011 AB", "NL", Some(("Nicolaas Ruyschstraat", "8", "02L"))),
        (["Sir Winston Churchilllaan 283 F008", "", ""], "1011 AB", "NL", Some(("Sir Winston Churchilllaan", "283", "F008"))),
        (["Nieuwe gracht 20 zw/4", "", ""], "1011 AB", "NL", Some(("Nieuwe gracht", "20", "zw/4"))),
        (["Hoofdstraat 12 (2)", "", ""], "1011 AB", "NL", Some(("Hoofdstraat", "12", "(2)"))),
        (["Westerkade 5 Ark3", "", ""], "1011 AB", "NL", Some(("Westerkade", "5", "Ark3"))),
        // German floor, flat and room notes, on line 1 or line 2.
        (["Musterstr. 30, 1. OG links", "", ""], "10115", "DE", Some(("Musterstr.", "30", "1. OG links"))),
        (["Hauptstr. 5 2 OG", "", ""], "10115", "DE", Some(("Hauptstr.", "5", "2 OG"))),
        (["Hauptstr. 5", "Whg. 3", ""], "10115", "DE", Some(("Hauptstr.", "5", "Whg. 3"))),
        (["Pallaswiesenstr. 57 App. 235", "", ""], "10115", "DE", Some(("Pallaswiesenstr.", "57", "App. 235"))),
        (["Hauptstr. 5", "Zimmer 321", ""], "10115", "DE", Some(("Hauptstr.", "5", "Zimmer 321"))),
        (["Hauptstraße 27 Haus 1", "", ""], "10115", "DE", Some(("Hauptstraße", "27", "Haus 1"))),
        (["Poststr. 15-WG2", "", ""], "10115", "DE", Some(("Poststr.", "15", "WG2"))),
        // Street names with numbers and dates keep them.
        (["16 April 1944 Pad 1", "", ""], "1011 AB", "NL", Some(("16 April 1944 Pad", "1", ""))),
        (["7 Januaristraat 12", "", ""], "1011 AB", "NL", Some(("7 Januaristraat", "12", ""))),
        (["Laan 1940-1945 37", "", ""], "1011 AB", "NL", Some(("Laan 1940-1945", "37", ""))),
        // More than one reading: only the register or a person can tell.
        (["Zonegge 23 12", "", ""], "1011 AB", "NL", None),
        (["Markerkant 10 142", "", ""], "1011 AB", "NL", None),
    ]
}

#[test]
fn issue_18_address_classes_through_make_labels() {
    let env = TestEnv::sandboxed(0);
    let mut ids = Vec::new();
    for (n, (lines, zip, country, want)) in rows().into_iter().enumerate() {
        let n = u32::try_from(n).unwrap() + 1;
        ids.push((order(&env, n, lines, zip, country, "MUG"), lines, want));
    }
    env.run(&["sync-orders"]).assert_code(0);
    env.run(&["make-labels"]).assert_code(3);
    let sent = received(&env);
    let reasons = reasons(&env);
    let mut failures = Vec::new();
    for (id, lines, want) in &ids {
        match (want, sent.get(id)) {
            (Some(want), Some(s)) => {
                let a = &s["Addresses"][0];
                let got = (
                    a["Street"].as_str().unwrap_or(""),
                    a["HouseNr"].as_str().unwrap_or(""),
                    a["HouseNrExt"].as_str().unwrap_or(""),
                );
                if got != *want {
                    failures.push(format!("{lines:?}: PostNL got {got:?}"));
                }
            }
            (Some(_), None) => {
                failures.push(format!("{lines:?}: not labelled ({:?})", reasons.get(id)));
            }
            (None, Some(_)) => failures.push(format!("{lines:?}: labelled, wanted review")),
            (None, None) => {
                if !reasons.contains_key(id) {
                    failures.push(format!("{lines:?}: no review reason"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for call in env.calls("postnl.label") {
        assert_label_text(&call["body"]);
    }
}

/// Every string PostNL received holds only characters a label may carry.
fn assert_label_text(v: &Value) {
    match v {
        Value::String(s) => {
            for c in s.chars() {
                let bad = c.is_control()
                    || ('\u{e000}'..='\u{f8ff}').contains(&c)
                    || ('\u{1f000}'..='\u{1faff}').contains(&c)
                    || ('\u{200b}'..='\u{200f}').contains(&c)
                    || ('\u{2600}'..='\u{27bf}').contains(&c)
                    || c == '\u{feff}';
                assert!(!bad, "PostNL received {:?} (U+{:04X})", c, u32::from(c));
            }
        }
        Value::Array(a) => a.iter().for_each(assert_label_text),
        Value::Object(o) => o.values().for_each(assert_label_text),
        _ => {}
    }
}

#[test]
fn symbols_in_name_company_and_city_never_reach_postnl() {
    let env = TestEnv::sandboxed(0);
    let id = "028-7999001-0000001";
    env.sb()
        .add_order(json!({
            "orderId": id,
            "createdTime": "2026-11-19T08:00:00Z",
            "lastUpdatedTime": "2026-11-19T09:00:00Z",
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": "A1805IZSGTT6HS"},
            "recipient": {"deliveryAddress": {
                "name": "Jan \u{1f600} de Vries\u{200d}", "companyName": "Bloemen \u{2728} BV",
                "addressLine1": "Hoofdstraat 12 \u{1f3e0}", "city": "Utrecht \u{1f1f3}\u{1f1f1}",
                "postalCode": "3511 AB", "countryCode": "NL", "addressType": "RESIDENTIAL",
            }},
            "proceeds": {"grandTotal": {"amount": "24.19", "currencyCode": "EUR"}},
            "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
            "orderItems": [{
                "orderItemId": "99901", "quantityOrdered": 1,
                "product": {"sellerSku": "MUG", "title": "Artikel"},
                "proceeds": {"proceedsTotal": {"amount": "24.19", "currencyCode": "EUR"}}
            }]
        }))
        .unwrap();
    env.run(&["sync-orders"]).assert_code(0);
    env.run(&["make-labels"]).assert_code(0);
    let sent = received(&env);
    let a = &sent[id]["Addresses"][0];
    assert_eq!(a["Name"], "Jan de Vries");
    assert_eq!(a["CompanyName"], "Bloemen BV");
    assert_eq!(a["City"], "Utrecht");
    assert_eq!(a["Street"], "Hoofdstraat");
    assert_eq!(a["HouseNr"], "12");
    for call in env.calls("postnl.label") {
        assert_label_text(&call["body"]);
    }
}
