//! Issue #23: ship-by deadlines in every view, most urgent first, and cron mail that
//! matters. `NOW` is Friday 2026-11-20 10:00 UTC, 11:00 in Amsterdam.

use serde_json::{Value, json};

use crate::common::{NOW, TestEnv};

const NL: &str = "A1805IZSGTT6HS";

/// An NL order with the given ship-by deadline (and optionally a label-printing window);
/// `line1` decides whether it can be labelled (`Postbus 12` goes to review).
fn order(
    env: &TestEnv,
    n: u32,
    ship_by: Option<&str>,
    label_from: Option<&str>,
    line1: &str,
) -> String {
    let id = format!("028-2300000-00000{n:02}");
    let mut fulfillment = json!({
        "fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT",
        "fulfillmentServiceLevel": "STANDARD",
    });
    if let Some(t) = ship_by {
        fulfillment["shipByWindow"] =
            json!({"earliestDateTime": "2026-11-19T08:00:00Z", "latestDateTime": t});
        fulfillment["deliverByWindow"] = json!({"earliestDateTime": "2026-11-23T00:00:00Z", "latestDateTime": "2026-11-25T22:59:59Z"});
    }
    if let Some(t) = label_from {
        fulfillment["labelPrintingWindow"] = json!({"earliestDateTime": t});
    }
    env.sb()
        .add_order(json!({
            "orderId": id,
            "createdTime": "2026-11-19T08:00:00Z",
            "lastUpdatedTime": "2026-11-19T09:00:00Z",
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": NL},
            "recipient": {"deliveryAddress": {
                "name": "Deadline Canary", "addressLine1": line1, "city": "Amsterdam",
                "postalCode": "1011 AB", "countryCode": "NL", "addressType": "RESIDENTIAL",
            }},
            "proceeds": {"grandTotal": {"amount": "24.19", "currencyCode": "EUR"}},
            "fulfillment": fulfillment,
            "orderItems": [{
                "orderItemId": format!("{n}01"), "quantityOrdered": 1,
                "product": {"sellerSku": "MUG", "title": "Mok"},
                "proceeds": {"proceedsTotal": {"amount": "24.19", "currencyCode": "EUR"}}
            }]
        }))
        .unwrap();
    id
}

/// One field of every shipment PostNL was asked to label, in the order asked.
fn shipments(env: &TestEnv, field: &str) -> Vec<String> {
    env.calls("postnl.label")
        .iter()
        .flat_map(|r| {
            r["body"]["Shipments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s[field].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn json_of(env: &TestEnv, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let r = env.run(&all);
    let v = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    (r.code, v)
}

fn no_pii(text: &str) {
    for needle in ["Deadline Canary", "Postbus", "Hoofdstraat", "1011 AB"] {
        assert!(!text.contains(needle), "{needle} leaked: {text}");
    }
}

#[test]
fn status_counts_late_due_today_and_tomorrow_in_the_sellers_days() {
    let env = TestEnv::sandboxed(0);
    let late = order(&env, 1, Some("2026-11-20T09:00:00Z"), None, "Hoofdstraat 1");
    // 23:59:59 in Amsterdam is still today; 00:00 is tomorrow (UTC would say otherwise).
    order(&env, 2, Some("2026-11-20T22:59:59Z"), None, "Hoofdstraat 2");
    order(&env, 3, Some("2026-11-20T23:00:00Z"), None, "Hoofdstraat 3");
    order(&env, 4, Some("2026-11-23T22:59:59Z"), None, "Hoofdstraat 4");
    order(&env, 5, None, None, "Hoofdstraat 5");

    // sync-orders names the late order (only that one: the rest is more than 4 h away).
    let r = env.run(&["-q", "sync-orders"]);
    r.assert_code(3);
    assert_eq!(r.stdout, "");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines,
        [format!(
            "warning: order {late} must ship by 2026-11-20 10:00 +01:00 (LATE by 1 h 00 min): waiting for a label"
        )],
        "{}",
        r.stderr
    );

    let (code, v) = json_of(&env, &["status"]);
    assert_eq!(code, 0);
    let s = &v["ship_by"];
    assert_eq!(
        (
            s["late"].as_u64(),
            s["due_today"].as_u64(),
            s["due_tomorrow"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{v}"
    );
    let text = env.run(&["status"]);
    assert!(
        text.stdout
            .contains("ship-by   1 late, 1 due today, 1 due tomorrow"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_run_where_every_order_is_on_time_prints_nothing() {
    let env = TestEnv::sandboxed(0);
    order(&env, 1, Some("2026-11-23T22:59:59Z"), None, "Hoofdstraat 1");
    order(&env, 2, Some("2026-11-20T14:00:01Z"), None, "Postbus 12");
    let r = env.run(&["sync-orders"]);
    r.assert_code(0);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
    // The order in review is 4 h 00 min 01 s away: one second outside the window.
    let r = env.run(&["make-labels"]);
    r.assert_code(3); // one order to review, as before this issue
    assert!(!r.stderr.contains("must ship by"), "{}", r.stderr);
    let r = env.run(&["confirm-shipments"]);
    r.assert_code(0);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
}

#[test]
fn an_order_stuck_in_review_near_its_deadline_is_named_under_quiet_and_json() {
    let mut env = TestEnv::sandboxed(0);
    let stuck = order(&env, 1, Some("2026-11-20T13:00:00Z"), None, "Postbus 12");
    order(&env, 2, Some("2026-11-24T22:59:59Z"), None, "Hoofdstraat 2");
    env.run(&["sync-orders"]).assert_code(3);
    let r = env.run(&["-q", "make-labels"]);
    r.assert_code(3);
    assert_eq!(r.stdout, "");
    let ours: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("must ship by"))
        .collect();
    assert_eq!(
        ours,
        [format!(
            "warning: order {stuck} must ship by 2026-11-20 14:00 +01:00 (in 3 h 00 min): in review (po_box)"
        )]
    );
    no_pii(&r.stderr);

    let (code, v) = json_of(&env, &["confirm-shipments"]);
    assert_eq!(code, 3);
    assert_eq!(
        v["ship_by_alerts"],
        json!([{
            "order_id": stuck, "ship_by": "2026-11-20T13:00:00Z", "late": false,
            "stuck": "review", "reason": "po_box", "label_from": null,
        }])
    );
    // Once the deadline has passed it says LATE.
    env.now = "2026-11-20T15:30:00Z".into();
    let r = env.run(&["-q", "sync-orders"]);
    r.assert_code(3);
    assert!(
        r.stderr
            .contains("(LATE by 2 h 30 min): in review (po_box)"),
        "{}",
        r.stderr
    );
    // The person fixes the address; the next run labels and confirms it and is quiet
    // about deadlines again (the late confirmation counts in the rate instead).
    env.run(&[
        "review",
        "set-address",
        &stuck,
        "--street",
        "Hoofdstraat",
        "--house-nr",
        "12",
    ])
    .assert_code(0);
    let r = env.run(&["make-labels"]);
    r.assert_code(0);
    assert_eq!(r.stderr, "");
    let (_, v) = json_of(&env, &["status"]);
    assert_eq!(v["ship_by"]["late"], 0);
    assert_eq!(v["ship_by"]["windows"][0]["shipped_late"], 1, "{v}");
}

#[test]
fn review_lists_the_most_urgent_first_with_its_deadline() {
    let env = TestEnv::sandboxed(0);
    let later = order(&env, 1, Some("2026-11-25T22:59:59Z"), None, "Postbus 1");
    let none = order(&env, 2, None, None, "Postbus 2");
    let first = order(&env, 3, Some("2026-11-20T09:00:00Z"), None, "Postbus 3");
    let second = order(&env, 4, Some("2026-11-23T22:59:59Z"), None, "Postbus 4");
    // An order sync-orders skips (a negative quantity) is listed, after every order
    // still to ship, without a deadline: it is not one fulfil will label.
    let skipped = order(&env, 5, Some("2026-11-19T09:00:00Z"), None, "Hoofdstraat 5");
    let mut o = env.sb().order(&skipped).unwrap();
    o["orderItems"][0]["quantityOrdered"] = json!(-1);
    env.sb().add_order(o).unwrap();
    env.run(&["sync-orders"]).assert_code(3);
    env.run(&["make-labels"]).assert_code(3);
    let r = env.run(&["review"]);
    r.assert_code(0);
    let ids: Vec<&str> = r
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        ids,
        [first.as_str(), &second, &later, &none, &skipped],
        "{}",
        r.stdout
    );
    let last = r.stdout.lines().last().unwrap();
    assert!(
        !last.contains("ship by") && !last.contains("no ship-by date"),
        "{last}"
    );
    assert!(
        r.stdout.contains("ship by 2026-11-20 10:00 +01:00 LATE"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("ship by 2026-11-23 23:59 +01:00"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("no ship-by date"), "{}", r.stdout);
    no_pii(&r.stdout);
    let (_, v) = json_of(&env, &["review"]);
    assert_eq!(v["orders"][0]["order_id"], first.as_str());
    assert_eq!(v["orders"][0]["ship_by"], "2026-11-20T09:00:00Z");
    assert_eq!(v["orders"][0]["late"], true);
    assert_eq!(v["orders"][3]["ship_by"], Value::Null);
    assert_eq!(v["orders"][4]["order_id"], skipped.as_str());
    assert_eq!(v["orders"][4]["late"], Value::Null);
}

#[test]
fn labels_are_asked_for_and_printed_most_urgent_first() {
    let env = TestEnv::sandboxed(0);
    // Order ids run opposite to the deadlines; six orders make two label calls.
    let ids: Vec<String> = (1..=6)
        .map(|n| {
            let day = 27 - n; // 1 → the 26th, 6 → the 21st
            order(
                &env,
                n,
                Some(&format!("2026-11-{day}T22:59:59Z")),
                None,
                &format!("Hoofdstraat {n}"),
            )
        })
        .collect();
    env.run(&["sync-orders"]).assert_code(0);
    let out = env.data().join("today.pdf");
    let r = env.run(&[
        "make-labels",
        "--out",
        out.to_str().unwrap(),
        "--pick-list",
        "-",
    ]);
    r.assert_code(0);
    // The pick list (issue #19) follows the print file: the most urgent order first.
    let picked: Vec<&str> = r
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("order\t"))
        .filter_map(|l| l.split('\t').next())
        .collect();
    let asked = shipments(&env, "Reference");
    let urgent_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(asked, urgent_first);
    assert_eq!(picked, urgent_first);
    // The print file has the labels in the same order: its pages carry the barcodes
    // PostNL gave, in the order they were reserved.
    let barcodes = shipments(&env, "Barcode");
    let text = std::process::Command::new("pdftotext")
        .args([out.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is needed");
    let text = String::from_utf8_lossy(&text.stdout);
    let at: Vec<usize> = barcodes
        .iter()
        .map(|b| {
            text.find(b.as_str())
                .unwrap_or_else(|| panic!("{b} not in print file"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
}

#[test]
fn an_order_waits_for_its_label_printing_window_without_going_to_review() {
    let mut env = TestEnv::sandboxed(0);
    let waiting = order(
        &env,
        1,
        Some("2026-11-22T22:59:59Z"),
        Some("2026-11-20T12:00:00Z"),
        "Hoofdstraat 1",
    );
    let open = order(
        &env,
        2,
        Some("2026-11-22T22:59:59Z"),
        Some("2026-11-20T09:00:00Z"),
        "Hoofdstraat 2",
    );
    env.run(&["sync-orders"]).assert_code(0);
    let (code, v) = json_of(&env, &["make-labels"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        (
            v["labelled"].as_u64(),
            v["waiting_for_label_window"].as_u64(),
            v["to_review"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
    let asked = shipments(&env, "Reference");
    assert_eq!(asked, [open]);
    let (_, r) = json_of(&env, &["review"]);
    assert_eq!(r["orders"], json!([]));
    // Close to its deadline, the alert says why it waits.
    env.add_config("alerts", "ship_by_hours", "72");
    let r = env.run(&["-q", "confirm-shipments"]);
    r.assert_code(3);
    assert!(
        r.stderr.contains(&format!(
            "order {waiting} must ship by 2026-11-22 23:59 +01:00 (in 2 d 13 h): waiting for Amazon's label-printing window (2026-11-20 13:00 +01:00)"
        )),
        "{}",
        r.stderr
    );
    env.now = "2026-11-20T12:00:00Z".into();
    let (_, v) = json_of(&env, &["make-labels"]);
    assert_eq!(
        (
            v["labelled"].as_u64(),
            v["waiting_for_label_window"].as_u64()
        ),
        (Some(1), Some(0))
    );
}

#[test]
fn late_shipment_and_tracking_rates_over_amazons_windows() {
    let mut env = TestEnv::sandboxed(0);
    // A shorter retention, so that purge runs while the 30-day window still holds them.
    env.set_config("fulfilled_days", "10");
    // Confirmed an hour after its deadline.
    order(&env, 1, Some("2026-11-20T09:00:00Z"), None, "Hoofdstraat 1");
    // Confirmed well before its deadline.
    order(&env, 2, Some("2026-11-21T22:59:59Z"), None, "Hoofdstraat 2");
    // Shipped by the seller in Seller Central, on time, without a tracking number.
    let elsewhere = order(&env, 3, Some("2026-11-20T22:59:59Z"), None, "Hoofdstraat 3");
    let mut o = env.sb().order(&elsewhere).unwrap();
    o["fulfillment"]["fulfillmentStatus"] = "SHIPPED".into();
    o["packages"] = json!([{
        "packageReferenceId": "1", "carrier": "Other", "shipTime": "2026-11-20T08:00:00Z",
        "packageStatus": {"status": "SHIPPED"}
    }]);
    env.sb().add_order(o).unwrap();
    env.run(&["sync-orders"]).assert_code(3); // order 1 is late
    env.run(&["make-labels"]).assert_code(0);

    env.now = "2026-11-22T10:00:00Z".into();
    let (_, v) = json_of(&env, &["status"]);
    let w = &v["ship_by"]["windows"];
    assert_eq!(w[0]["days"], 10);
    assert_eq!(
        (w[0]["orders_due"].as_u64(), w[0]["shipped_late"].as_u64()),
        (Some(3), Some(1)),
        "{v}"
    );
    assert_eq!(w[0]["late_shipment_rate_percent"], "33.3");
    assert_eq!(
        (w[0]["confirmed"].as_u64(), w[0]["with_tracking"].as_u64()),
        (Some(3), Some(2)),
        "{v}"
    );
    assert_eq!(w[0]["valid_tracking_rate_percent"], "66.7");
    assert_eq!(w[1]["days"], 30);
    assert_eq!(w[1]["late_shipment_rate_percent"], "33.3");
    let text = env.run(&["status"]);
    assert!(
        text.stdout
            .contains("10 days  late shipment 33.3 % (1 of 3), valid tracking 66.7 % (2 of 3)"),
        "{}",
        text.stdout
    );

    // Eleven days on, the 10-day window is empty and the 30-day one still counts them.
    env.now = "2026-12-02T10:00:00Z".into();
    let (_, v) = json_of(&env, &["status"]);
    let w = &v["ship_by"]["windows"];
    assert_eq!(w[0]["orders_due"], 0);
    assert_eq!(w[0]["late_shipment_rate_percent"], Value::Null);
    assert_eq!(w[1]["orders_due"], 3);

    // After purge the deadlines and the rates stay: they are not personal data.
    env.now = "2026-12-01T10:00:00Z".into();
    env.run(&["purge"]).assert_code(0);
    assert_eq!(
        env.count("SELECT count(*) FROM orders WHERE pii_purged_at IS NOT NULL"),
        3
    );
    let (_, v) = json_of(&env, &["status"]);
    assert_eq!(v["ship_by"]["windows"][1]["orders_due"], 3, "{v}");
    assert_eq!(v["ship_by"]["windows"][1]["shipped_late"], 1, "{v}");
    assert_eq!(
        env.count(
            "SELECT count(*) FROM orders WHERE ship_by_latest IS NOT NULL
             AND deliver_by_latest IS NOT NULL AND service_level = 'STANDARD'"
        ),
        3
    );
}

#[test]
fn generated_orders_are_not_late_on_a_normal_day() {
    // The sandbox's own orders, fetched and labelled on the day they come in: nothing
    // late, nothing to say.
    let env = TestEnv::sandboxed(40);
    let r = env.run(&["sync-orders"]);
    assert!(!r.stderr.contains("must ship by"), "{}", r.stderr);
    let (_, v) = json_of(&env, &["status"]);
    assert_eq!(v["ship_by"]["late"], 0, "{v}");
    // Every order Amazon released has its deadline, in the future, on a working day.
    let ready = v["stages"]["ready"].as_u64().unwrap();
    assert!(ready > 30, "{v}");
    let deadlines = env.query(&format!(
        "SELECT ship_by_latest FROM orders WHERE stage = 'ready' AND ship_by_latest > '{NOW}'"
    ));
    assert_eq!(deadlines.len() as u64, ready);
    for d in deadlines {
        let t = fulfil::clock::parse_rfc3339(&d).unwrap();
        let local = fulfil::zone::SellerZone::amsterdam().local(t);
        assert!(
            !matches!(
                local.weekday(),
                time::Weekday::Saturday | time::Weekday::Sunday
            ),
            "{d}"
        );
        assert_eq!((local.hour(), local.minute()), (23, 59), "{d}");
    }
}
