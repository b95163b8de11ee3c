//! tax-report: a quarter with figures worked out by hand, corrections of an earlier
//! quarter, the three output forms, and the same figures after the personal data is gone.

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};

use crate::common::TestEnv;
use crate::make_invoices::{DE, FR, NL, Order, item, sek_order, summary};

/// Nine orders: eight supplied in September 2026, one on 1 October; invoiced on 1 October,
/// inside the 30 days before their personal data goes. Amazon's TAX equals ours for each.
fn quarter_env() -> TestEnv {
    let mut env = TestEnv::sandboxed(0);
    env.now = "2026-10-01T10:00:00Z".into();
    env.add_config("amazon", "first_sync_days", "200");
    let at = |o: &mut Order, t: &str| o.shipped = t.to_string();
    let mut orders = Vec::new();
    // NL consumer, 21 %: 24.19 * 21/121 = 4.198 -> 4.20, net 19.99.
    let mut o = Order::new(
        "028-0000010-0000001",
        NL,
        "NL",
        vec![item("FLX-MUG-350", "24.19", "4.20")],
    );
    at(&mut o, "2026-09-02T10:00:00Z");
    orders.push(o);
    // NL consumer, book 9 %: 10.90 * 9/109 = 0.90, net 10.00.
    let mut o = Order::new(
        "028-0000010-0000002",
        NL,
        "NL",
        vec![item("FLX-BOOK-NL-01", "10.90", "0.90")],
    );
    at(&mut o, "2026-09-05T09:00:00Z");
    orders.push(o);
    // DE consumer, OSS 19 %: 29.99 * 19/119 = 4.788 -> 4.79, net 25.20.
    let mut o = Order::new(
        "028-0000010-0000003",
        DE,
        "DE",
        vec![item("FLX-MUG-350", "29.99", "4.79")],
    );
    at(&mut o, "2026-09-15T12:00:00Z");
    orders.push(o);
    // DE consumer, OSS 19 %: 119.00 * 19/119 = 19.00, net 100.00 (last day of the quarter).
    let mut o = Order::new(
        "028-0000010-0000004",
        DE,
        "DE",
        vec![item("FLX-MUG-350", "119.00", "19.00")],
    );
    at(&mut o, "2026-09-30T20:00:00Z");
    orders.push(o);
    // FR consumer, book 5.5 %: 21.10 * 5.5/105.5 = 1.10, net 20.00.
    let mut o = Order::new(
        "028-0000010-0000005",
        FR,
        "FR",
        vec![item("FLX-BOOK-EN-02", "21.10", "1.10")],
    );
    at(&mut o, "2026-09-04T08:00:00Z");
    orders.push(o);
    // DE business with a German VAT number: intra-Community supply, 119.00 at 0 %.
    let mut o = Order::new(
        "028-0000010-0000006",
        DE,
        "DE",
        vec![item("FLX-MUG-350", "119.00", "0.00")],
    );
    o.business = Some(("Beispiel GmbH", "DE123456789"));
    at(&mut o, "2026-09-10T08:00:00Z");
    orders.push(o);
    // SE consumer in SEK, OSS 25 %: 1249.00 * 25/125 = 249.80, net 999.20.
    let mut o = sek_order("028-0000010-0000007");
    at(&mut o, "2026-09-20T08:00:00Z");
    orders.push(o);
    // Q4 (1 October): NL consumer 24.19 -> 19.99 / 4.20.
    let mut o = Order::new(
        "028-0000010-0000008",
        NL,
        "NL",
        vec![item("FLX-MUG-350", "24.19", "4.20")],
    );
    at(&mut o, "2026-10-01T08:00:00Z");
    orders.push(o);
    // NL business with a Dutch VAT number: Dutch VAT, 121.00 * 21/121 = 21.00, net 100.00.
    let mut o = Order::new(
        "028-0000010-0000009",
        NL,
        "NL",
        vec![item("FLX-MUG-350", "121.00", "21.00")],
    );
    o.business = Some(("Voorbeeld B.V.", "NL123456789B01"));
    at(&mut o, "2026-09-03T00:30:00Z");
    orders.push(o);
    for o in &orders {
        o.add_to(&env);
    }
    env.run(&["sync-orders"]).assert_code(0);
    let r = env.run(&["--json", "make-invoices", "--no-upload"]);
    r.assert_code(0);
    assert_eq!(summary(&r.stdout)["issued"], 9, "{}", r.stdout);
    env
}

/// The sandbox's SEK rate for the quarter's last day (a Wednesday), as the report must use.
fn sek_on_quarter_end(env: &TestEnv) -> Decimal {
    fulfil::transport::install_crypto_provider();
    let client = fulfil::transport::client(std::time::Duration::from_secs(10)).unwrap();
    let v: Value = client
        .get(format!("{}/_ecb/rates?date=2026-09-30", env.sb().url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["date"], "2026-09-30");
    v["rates"]["SEK"].as_str().unwrap().parse().unwrap()
}

fn eur(amount: &str, rate: Decimal) -> String {
    let d: Decimal = amount.parse().unwrap();
    format!(
        "{:.2}",
        (d / rate).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    )
}

#[test]
fn a_quarter_with_known_figures() {
    let env = quarter_env();
    let sek = sek_on_quarter_end(&env);
    let r = env.run(&["--json", "tax-report", "--quarter", "2026Q3"]);
    r.assert_code(0);
    let s = summary(&r.stdout);
    assert_eq!(s["quarter"], "2026Q3");
    assert_eq!(s["documents"], 8);
    assert_eq!(
        s["oss"],
        json!([
            {"country": "DE", "rate": "19", "net_eur": "125.20", "vat_eur": "23.79", "documents": 2},
            {"country": "FR", "rate": "5.5", "net_eur": "20.00", "vat_eur": "1.10", "documents": 1},
            {"country": "SE", "rate": "25", "net_eur": eur("999.20", sek), "vat_eur": eur("249.80", sek), "documents": 1},
        ])
    );
    assert_eq!(s["oss_exchange_rates"][0]["currency"], "SEK");
    assert_eq!(s["oss_exchange_rates"][0]["date"], "2026-09-30");
    assert_eq!(
        s["domestic"],
        json!([
            {"rate": "21", "net_eur": "119.99", "vat_eur": "25.20", "documents": 2},
            {"rate": "9", "net_eur": "10.00", "vat_eur": "0.90", "documents": 1},
        ])
    );
    assert_eq!(
        s["intra_community"],
        json!([{"country": "DE", "vat_id": "DE123456789", "net_eur": "119.00", "vat_eur": "0.00", "documents": 1}])
    );
    assert_eq!(s["oss_corrections"], json!([]));
    // The ledger keeps a buyer VAT number for the intra-Community supply only.
    assert_eq!(
        env.query(
            "SELECT order_id || ':' || buyer_vat_id FROM tax_ledger WHERE buyer_vat_id IS NOT NULL"
        ),
        vec!["028-0000010-0000006:DE123456789"]
    );

    let r = env.run(&["tax-report", "--quarter", "2026Q3", "--csv"]);
    r.assert_code(0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "section,country,rate,vat_id,period,net_eur,vat_eur,documents"
    );
    assert!(
        lines.contains(&"oss,DE,19,,,125.20,23.79,2"),
        "{}",
        r.stdout
    );
    assert!(
        lines.contains(&"domestic,,21,,,119.99,25.20,2"),
        "{}",
        r.stdout
    );
    assert!(
        lines.contains(&"intra_community,DE,,DE123456789,,119.00,0.00,1"),
        "{}",
        r.stdout
    );

    let r = env.run(&["tax-report", "--quarter", "2026q3"]);
    r.assert_code(0);
    assert!(r.stdout.contains("OSS (Union scheme)"), "{}", r.stdout);
    assert!(r.stdout.contains("DE 19%"), "{}", r.stdout);
    assert!(r.stdout.contains("DE123456789"), "{}", r.stdout);

    env.run(&["tax-report", "--quarter", "2026Q5"])
        .assert_code(2);
    env.run(&["--json", "tax-report", "--quarter", "2026Q3", "--csv"])
        .assert_code(2);
}

#[test]
fn a_later_credit_note_corrects_its_quarter_and_the_ledger_outlives_the_purge() {
    let mut env = quarter_env();
    // The DE order of September is cancelled on 2 October: its credit note lands in Q4,
    // as a correction of 2026Q3.
    let at = fulfil::clock::parse_rfc3339("2026-10-02T09:00:00Z").unwrap();
    env.sb()
        .set_order_status("028-0000010-0000003", "CANCELLED", at)
        .unwrap();
    env.now = "2026-10-02T10:00:00Z".into();
    env.run(&["sync-orders"]).assert_code(0);
    let r = env.run(&["--json", "make-invoices", "--no-upload"]);
    r.assert_code(0);
    assert_eq!(summary(&r.stdout)["credit_notes"], 1);

    let q4 = summary(
        &env.run(&["--json", "tax-report", "--quarter", "2026Q4"])
            .stdout,
    );
    assert_eq!(q4["documents"], 2);
    assert_eq!(
        q4["oss_corrections"],
        json!([{"country": "DE", "period": "2026Q3", "net_eur": "-25.20", "vat_eur": "-4.79", "documents": 1}])
    );
    assert_eq!(q4["oss"], json!([]));
    assert_eq!(
        q4["domestic"],
        json!([{"rate": "21", "net_eur": "19.99", "vat_eur": "4.20", "documents": 1}])
    );
    let q3_before = env
        .run(&["--json", "tax-report", "--quarter", "2026Q3"])
        .stdout;

    // Remove everything but the ledger and the rate cache, as purge (and more) would.
    {
        let s = env.open_store();
        s.conn()
            .execute_batch(
                "DELETE FROM invoice_pii; DELETE FROM invoice_uploads; DELETE FROM invoices;
                 DELETE FROM order_pii; DELETE FROM order_items; DELETE FROM order_packages;
                 DELETE FROM orders;",
            )
            .unwrap();
    }
    let q3_after = env.run(&["--json", "tax-report", "--quarter", "2026Q3"]);
    q3_after.assert_code(0);
    assert_eq!(q3_after.stdout, q3_before);
    let q4_after = summary(
        &env.run(&["--json", "tax-report", "--quarter", "2026Q4"])
            .stdout,
    );
    assert_eq!(q4_after, q4);
}

#[test]
fn an_empty_quarter_is_zero_not_an_error() {
    let env = TestEnv::sandboxed(0);
    let r = env.run(&["--json", "tax-report", "--quarter", "2025Q1"]);
    r.assert_code(0);
    let s = summary(&r.stdout);
    assert_eq!(s["documents"], 0);
    assert_eq!(s["oss"], json!([]));
}
