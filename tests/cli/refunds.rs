//! Refunds (issue #17): make-invoices reads the refunds Amazon paid out (Finances API
//! listFinancialEvents on the sandbox) and issues one credit note per refund, for exactly
//! what was refunded; the figures below are worked out by hand.

use std::path::Path;

use serde_json::{Value, json};

use crate::common::TestEnv;
use crate::make_invoices::{
    NL, Order, assert_documents_consistent, item, make_invoices, pdf_text, settle_uploads,
};

const ORDER: &str = "028-0000017-0000001";

/// An Amazon.nl order: two mugs at 24.20 (48.40, VAT 8.40) with shipping 4.95 (VAT
/// 0.86), and a lamp at 30.25 (VAT 5.25): 83.60 with 14.51 VAT at 21 %.
fn nl_order(id: &str) -> Order {
    let mut mug = item("FLX-MUG-350", "48.40", "9.26");
    mug.qty = 2;
    mug.shipping = Some("4.95");
    let mut lamp = item("FLX-LAMP-1", "30.25", "5.25");
    lamp.title = "Desk lamp, brass";
    Order::new(id, NL, "NL", vec![mug, lamp])
}

/// One adjusted item: SKU, order item id, adjustment id, units, (charge type, amount).
type Adjusted<'a> = (&'a str, &'a str, &'a str, i64, &'a [(&'a str, f64)]);

/// A refund event as the Finances API posts it.
fn refund(order: &str, posted: &str, items: &[Adjusted<'_>]) -> Value {
    json!({
        "AmazonOrderId": order,
        "MarketplaceName": "Amazon.nl",
        "PostedDate": posted,
        "ShipmentItemAdjustmentList": items.iter().map(|(sku, item_id, adj, qty, charges)| json!({
            "SellerSKU": sku,
            "OrderItemId": item_id,
            "OrderAdjustmentItemId": adj,
            "QuantityShipped": qty,
            "ItemChargeAdjustmentList": charges.iter().map(|(kind, amount)| json!({
                "ChargeType": kind,
                "ChargeAmount": {"CurrencyCode": "EUR", "CurrencyAmount": amount}
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()
    })
}

const MUG: &str = "90000000000000";
const LAMP: &str = "90000000000001";

/// Moves the sandbox and fulfil's clock on together.
fn later(env: &mut TestEnv, by: time::Duration) {
    env.sb().advance(by);
    env.now = fulfil::clock::rfc3339(env.sb().now());
}

/// An environment whose order is synced and invoiced.
fn invoiced() -> TestEnv {
    let env = TestEnv::sandboxed(0);
    nl_order(ORDER).add_to(&env);
    env.run(&["sync-orders"]).assert_code(0);
    let s = make_invoices(&env, 0);
    assert_eq!(s["issued"], 1, "{s}");
    env
}

/// (credit note number, gross, VAT, net, tax point) of the ledger's credit notes.
fn credit_notes(env: &TestEnv) -> Vec<String> {
    env.query(
        "SELECT number || '|' || total_gross || '|' || total_vat || '|' || total_net || '|' || tax_point || '|' || corrects_number
         FROM tax_ledger WHERE kind = 'credit_note' ORDER BY number",
    )
}

fn refunds(env: &TestEnv) -> Vec<(String, String, Option<String>, Option<String>)> {
    fulfil::store::refunds::all(env.read_store().conn()).unwrap()
}

#[test]
fn each_refund_shape_gets_its_credit_note_once() {
    let mut env = invoiced();
    let sb = env.sb();
    // Posted 23:30 UTC on 21 November: the seller's day (Amsterdam) is 22 November.
    sb.add_refund(refund(
        ORDER,
        "2026-11-21T23:30:00Z",
        &[(
            "FLX-MUG-350",
            MUG,
            "50001",
            1,
            &[("Principal", -24.20), ("Tax", -4.20)],
        )],
    ))
    .unwrap();
    sb.add_refund(refund(
        ORDER,
        "2026-11-22T08:00:00Z",
        &[(
            "FLX-MUG-350",
            MUG,
            "50002",
            0,
            &[("ShippingCharge", -4.95), ("ShippingTax", -0.86)],
        )],
    ))
    .unwrap();
    sb.add_refund(refund(
        ORDER,
        "2026-11-22T09:00:00Z",
        &[("FLX-LAMP-1", LAMP, "50003", 0, &[("Goodwill", -5.00)])],
    ))
    .unwrap();
    sb.add_refund(refund(
        ORDER,
        "2026-11-22T10:00:00Z",
        &[(
            "FLX-MUG-350",
            MUG,
            "50004",
            1,
            &[("Principal", -24.20), ("RestockingFee", 2.42)],
        )],
    ))
    .unwrap();
    // The lamp back in full: 30.25, but 5.00 of it was credited as goodwill already.
    sb.add_refund(refund(
        ORDER,
        "2026-11-22T11:00:00Z",
        &[("FLX-LAMP-1", LAMP, "50005", 1, &[("Principal", -30.25)])],
    ))
    .unwrap();
    // A refund of an order fulfil never saw.
    sb.add_refund(refund(
        "028-0000017-9999999",
        "2026-11-22T11:00:00Z",
        &[("X", "1", "50006", 1, &[("Principal", -10.00)])],
    ))
    .unwrap();
    later(&mut env, time::Duration::days(3));
    let r = env.run(&["--json", "make-invoices"]);
    r.assert_code(3);
    let s: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(s["refund_credit_notes"], 4, "{s}");
    assert_eq!(s["refunds_new"], 6, "{s}");
    assert_eq!(s["refunds_review"], 2, "{s}");
    assert!(r.stderr.contains("refund_exceeds_invoice"), "{}", r.stderr);
    assert!(r.stderr.contains("refund_unknown_order"), "{}", r.stderr);
    // One mug: 24.20, VAT 24.20 × 21/121 = 4.20. Shipping 4.95: VAT 0.859… → 0.86.
    // Goodwill 5.00 on the lamp: 0.867… → 0.87. The second mug less the 2.42 fee kept:
    // 21.78, VAT 3.78. Each names the invoice; the tax point is the day it was paid.
    assert_eq!(
        credit_notes(&env),
        vec![
            "CN-2026-000001|-24.20|-4.20|-20.00|2026-11-22|INV-2026-000001",
            "CN-2026-000002|-4.95|-0.86|-4.09|2026-11-22|INV-2026-000001",
            "CN-2026-000003|-5.00|-0.87|-4.13|2026-11-22|INV-2026-000001",
            "CN-2026-000004|-21.78|-3.78|-18.00|2026-11-22|INV-2026-000001",
        ]
    );
    let per_rate = env.query(
        "SELECT number || '|' || rate || '|' || net || '|' || vat FROM tax_ledger_rates WHERE number LIKE 'CN-%' ORDER BY number",
    );
    assert_eq!(
        per_rate,
        vec![
            "CN-2026-000001|21|-20.00|-4.20",
            "CN-2026-000002|21|-4.09|-0.86",
            "CN-2026-000003|21|-4.13|-0.87",
            "CN-2026-000004|21|-18.00|-3.78",
        ]
    );
    assert_documents_consistent(&env);
    let text = pdf_text(&env.data().join("invoices").join("CN-2026-000004.pdf"));
    // In the marketplace's language: Amazon.nl, Dutch.
    for needle in [
        "Creditnota",
        "CN-2026-000004",
        "INV-2026-000001",
        "Terugbetaling",
        "-21,78",
        "-3,78",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
    let states: Vec<String> = refunds(&env)
        .into_iter()
        .map(|(_, status, reason, number)| {
            format!(
                "{status}:{}:{}",
                reason.unwrap_or_default(),
                number.unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            "credited::CN-2026-000001",
            "credited::CN-2026-000002",
            "credited::CN-2026-000003",
            "credited::CN-2026-000004",
            "review:refund_exceeds_invoice:",
            "review:refund_unknown_order:",
        ]
    );
    // Later runs read the last 48 hours again and credit nothing twice; the reviews are
    // reported once.
    for _ in 0..3 {
        later(&mut env, time::Duration::hours(7));
        let s = make_invoices(&env, 0);
        assert_eq!(s["refund_credit_notes"], 0, "{s}");
        assert_eq!(s["refunds_new"], 0, "{s}");
        assert!(
            s["refunds_read"].as_u64().unwrap() >= 1,
            "the overlap was read again: {s}"
        );
    }
    assert_eq!(credit_notes(&env).len(), 4);
    // status counts the refunds that need a person.
    let st = env.run(&["--json", "status"]);
    st.assert_code(0);
    let st: Value = serde_json::from_str(st.stdout.trim()).unwrap();
    assert_eq!(st["refunds"]["review"], 2, "{st}");
    assert_eq!(st["refunds"]["credited"], 4, "{st}");
    // A later run that finds them still in review says nothing (cron mails any output).
    later(&mut env, time::Duration::hours(7));
    let r = env.run(&["make-invoices"]);
    r.assert_code(0);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
    // The seller handled the unknown order's refund by hand: it leaves review for good.
    let r = env.run(&["review", "settle-refunds", "028-0000017-9999999"]);
    r.assert_code(0);
    let listed = env.run(&["review"]);
    assert!(
        !listed.stdout.contains("028-0000017-9999999"),
        "{}",
        listed.stdout
    );
    assert!(listed.stdout.contains(ORDER), "{}", listed.stdout);
    later(&mut env, time::Duration::hours(7));
    let s = make_invoices(&env, 0);
    assert_eq!(s["refund_credit_notes"], 0, "{s}");
    let st = env.run(&["--json", "status"]);
    let st: Value = serde_json::from_str(st.stdout.trim()).unwrap();
    assert_eq!(st["refunds"]["review"], 1, "{st}");
    assert_eq!(st["refunds"]["settled"], 1, "{st}");
    // Nothing left to settle there: a clear error.
    let r = env.run(&["review", "settle-refunds", "028-0000017-9999999"]);
    r.assert_code(1);
    assert!(r.stderr.contains("has no refund in review"), "{}", r.stderr);
}

/// Amazon refunds the lamp in full (adjustment item 61234567890123).
fn lamp_refunded(env: &TestEnv) {
    env.sb()
        .add_refund(refund(
            ORDER,
            "2026-11-21T12:00:00Z",
            &[(
                "FLX-LAMP-1",
                LAMP,
                "61234567890123",
                1,
                &[("Principal", -30.25)],
            )],
        ))
        .unwrap();
}

#[test]
fn a_credit_note_is_uploaded_with_the_refunds_transaction_id() {
    let mut env = invoiced();
    lamp_refunded(&env);
    later(&mut env, time::Duration::days(2));
    let s = settle_uploads(&env, 4);
    assert_eq!(s["upload_pending"], 0, "{s}");
    let feeds = env.sb().uploaded_feeds();
    let f = feeds
        .iter()
        .find(|f| f.feed_options["metadata:documenttype"] == "CreditNote")
        .expect("the credit note was uploaded");
    assert_eq!(f.feed_options["metadata:orderid"], ORDER);
    assert_eq!(f.feed_options["metadata:invoicenumber"], "CN-2026-000001");
    assert_eq!(f.feed_options["metadata:transactionid"], "61234567890123");
    assert_eq!(f.feed_options["metadata:totalamount"], "-30.25");
    assert_eq!(f.feed_options["metadata:totalvatamount"], "-5.25");
    assert!(f.accepted, "{}", f.report);

    // The setting `number` sends the credit note's own number instead.
    let mut env = invoiced();
    env.add_config("invoices", "credit_note_transaction_id", "\"number\"");
    lamp_refunded(&env);
    later(&mut env, time::Duration::days(2));
    settle_uploads(&env, 4);
    let feeds = env.sb().uploaded_feeds();
    let f = feeds
        .iter()
        .find(|f| f.feed_options["metadata:documenttype"] == "CreditNote")
        .unwrap();
    assert_eq!(f.feed_options["metadata:transactionid"], "CN-2026-000001");
}

#[test]
fn a_refund_before_the_invoice_waits_for_it_then_the_tax_report_is_net() {
    let mut env = TestEnv::sandboxed(0);
    // The order ships and is refunded in full (with its shipping) before fulfil's first
    // make-invoices run: the invoice comes first, for the supply as it was, then the
    // credit note, in the same run.
    nl_order(ORDER).add_to(&env);
    env.sb()
        .add_refund(refund(
            ORDER,
            "2026-11-20T09:00:00Z",
            &[
                (
                    "FLX-MUG-350",
                    MUG,
                    "70001",
                    2,
                    &[("Principal", -48.40), ("ShippingCharge", -4.95)],
                ),
                ("FLX-LAMP-1", LAMP, "70002", 1, &[("Principal", -30.25)]),
            ],
        ))
        .unwrap();
    env.run(&["sync-orders"]).assert_code(0);
    later(&mut env, time::Duration::hours(1));
    let s = make_invoices(&env, 0);
    assert_eq!(
        (s["issued"].as_u64(), s["refund_credit_notes"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    assert_eq!(
        credit_notes(&env),
        vec!["CN-2026-000001|-83.60|-14.51|-69.09|2026-11-20|INV-2026-000001"]
    );
    // A second order, refunded in part: the quarter's Dutch VAT is what is left.
    let mut second = nl_order("028-0000017-0000002");
    second.shipped = fulfil::clock::rfc3339(env.sb().now() - time::Duration::minutes(5));
    second.add_to(&env);
    env.sb()
        .add_refund(refund(
            "028-0000017-0000002",
            &fulfil::clock::rfc3339(env.sb().now() + time::Duration::hours(2)),
            &[("FLX-MUG-350", MUG, "70003", 1, &[("Principal", -24.20)])],
        ))
        .unwrap();
    env.run(&["sync-orders"]).assert_code(0);
    later(&mut env, time::Duration::hours(3));
    let s = make_invoices(&env, 0);
    assert_eq!(
        (s["issued"].as_u64(), s["refund_credit_notes"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    // Two invoices of 83.60 (net 69.09, VAT 14.51) less 83.60 and 24.20 (net 20.00,
    // VAT 4.20): net 49.09, VAT 10.31, four documents.
    let r = env.run(&["--json", "tax-report", "--quarter", "2026Q4"]);
    r.assert_code(0);
    let t: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(
        t["domestic"],
        json!([{"rate": "21", "net_eur": "49.09", "vat_eur": "10.31", "documents": 4}])
    );
    assert_documents_consistent(&env);
}

/// The crash points of the refunds phase: storing a page, after a page, the credit notes'
/// transaction, their files.
const KILL_POINTS: [&str; 5] = [
    "refunds:before-page-commit",
    "refunds:after-page",
    "make-invoices:before-commit",
    "make-invoices:after-commit",
    "make-invoices:after-file",
];

#[test]
fn a_kill_at_every_refund_step_then_a_rerun_credits_each_refund_once() {
    for point in KILL_POINTS {
        let mut env = invoiced();
        env.sb()
            .add_refund(refund(
                ORDER,
                "2026-11-21T12:00:00Z",
                &[("FLX-LAMP-1", LAMP, "80001", 1, &[("Principal", -30.25)])],
            ))
            .unwrap();
        env.sb()
            .add_refund(refund(
                ORDER,
                "2026-11-21T13:00:00Z",
                &[("FLX-MUG-350", MUG, "80002", 1, &[("Principal", -24.20)])],
            ))
            .unwrap();
        later(&mut env, time::Duration::days(2));
        env.set_env("FULFIL_FAILPOINT", point);
        let r = env.run(&["make-invoices", "--no-upload"]);
        assert_ne!(r.code, 0, "{point}: the run was not killed: {}", r.stderr);
        assert!(r.stderr.contains("failpoint"), "{point}: {}", r.stderr);
        env.extra_env.retain(|(k, _)| k != "FULFIL_FAILPOINT");
        make_invoices(&env, 0);
        later(&mut env, time::Duration::hours(1));
        make_invoices(&env, 0);
        assert_eq!(
            credit_notes(&env),
            vec![
                "CN-2026-000001|-30.25|-5.25|-25.00|2026-11-21|INV-2026-000001",
                "CN-2026-000002|-24.20|-4.20|-20.00|2026-11-21|INV-2026-000001",
            ],
            "{point}"
        );
        assert_eq!(refunds(&env).len(), 2, "{point}");
        assert_documents_consistent(&env);
    }
}

#[test]
fn refunds_leak_no_personal_data_at_trace_level() {
    let mut env = invoiced();
    env.sb()
        .add_refund(refund(
            ORDER,
            "2026-11-21T12:00:00Z",
            &[("FLX-LAMP-1", LAMP, "90001", 1, &[("Principal", -30.25)])],
        ))
        .unwrap();
    later(&mut env, time::Duration::days(2));
    env.set_env("FULFIL_LOG", "trace");
    let r = env.run(&["-vvv", "--json", "make-invoices"]);
    r.assert_code(0);
    assert!(
        r.stderr.contains("refunds read"),
        "traced: {}",
        r.stderr.len()
    );
    for canary in ["Sanne Jansen", "Hoofdstraat"] {
        assert!(!r.stderr.contains(canary), "{canary} in stderr");
        assert!(!r.stdout.contains(canary), "{canary} in stdout");
    }
    // The refund rows hold no personal data either.
    let dump = env.dump_table("refunds");
    assert!(
        !dump.contains("Sanne") && !dump.contains("Hoofdstraat"),
        "{dump}"
    );
    assert!(Path::new(&env.data().join("invoices").join("CN-2026-000001.pdf")).exists());
}

#[test]
fn a_refund_after_the_customers_data_went_is_credited_without_it() {
    let mut env = invoiced();
    // Confirmed and purged: 31 days later the customer block is gone.
    later(&mut env, time::Duration::days(31));
    env.run(&["purge"]).assert_code(0);
    let posted = fulfil::clock::rfc3339(env.sb().now() - time::Duration::hours(1));
    env.sb()
        .add_refund(refund(
            ORDER,
            &posted,
            &[("FLX-LAMP-1", LAMP, "91001", 1, &[("Principal", -30.25)])],
        ))
        .unwrap();
    later(&mut env, time::Duration::hours(1));
    let s = make_invoices(&env, 0);
    assert_eq!(s["refund_credit_notes"], 1, "{s}");
    let cn = credit_notes(&env);
    assert_eq!(cn.len(), 1);
    assert!(
        cn[0].starts_with("CN-2026-000001|-30.25|-5.25|-25.00|"),
        "{cn:?}"
    );
    let text = pdf_text(&env.data().join("invoices").join("CN-2026-000001.pdf"));
    assert!(
        text.contains("verwijderd volgens het bewaarbeleid"),
        "{text}"
    );
    assert!(!text.contains("Sanne Jansen"), "{text}");
    assert_eq!(env.count("SELECT count(*) FROM invoice_pii"), 0);
    // A second run neither repairs nor re-issues anything.
    let s = make_invoices(&env, 0);
    assert_eq!(
        (
            s["refund_credit_notes"].as_u64(),
            s["files_repaired"].as_u64()
        ),
        (Some(0), Some(0)),
        "{s}"
    );
}

#[test]
fn refund_reads_and_credit_note_uploads_resume_after_temporary_errors_and_are_rejected_like_invoices()
 {
    let mut env = invoiced();
    settle_uploads(&env, 4);
    env.sb()
        .add_refund(refund(
            ORDER,
            "2026-11-21T12:00:00Z",
            &[("FLX-LAMP-1", LAMP, "92001", 1, &[("Principal", -30.25)])],
        ))
        .unwrap();
    later(&mut env, time::Duration::days(2));
    // Amazon's Finances API answers 503: nothing is credited, the run says "temporary".
    env.sb().set_faults("503=1,only=/finances".parse().unwrap());
    let s = make_invoices(&env, 4);
    assert_eq!(s["refund_credit_notes"], 0, "{s}");
    assert!(s["refunds_paused"].is_string(), "{s}");
    // Then createFeed answers 503: the credit note is issued, its upload waits.
    env.sb()
        .set_faults("503=1,only=/feeds/2021-06-30/feeds".parse().unwrap());
    let s = make_invoices(&env, 4);
    assert_eq!(s["refund_credit_notes"], 1, "{s}");
    assert!(s["upload_paused"].is_string(), "{s}");
    env.sb().set_faults(fulfil::sandbox::FaultSpec::none());
    let s = settle_uploads(&env, 4);
    assert_eq!(s["upload_pending"], 0, "{s}");
    let feeds = env.sb().uploaded_feeds();
    let accepted: Vec<&str> = feeds
        .iter()
        .filter(|f| f.accepted)
        .map(|f| f.feed_options["metadata:invoicenumber"].as_str())
        .collect();
    assert_eq!(accepted, vec!["INV-2026-000001", "CN-2026-000001"]);

    // An invoice issued against Amazon's VAT (after review) is credited the same way;
    // Amazon refuses the credit note as it refused the invoice (VAT above the order's).
    let mut env = TestEnv::sandboxed(0);
    let order = Order::new(
        "028-0000017-0000003",
        NL,
        "NL",
        vec![item("FLX-MUG-350", "24.19", "1.00")],
    );
    order.add_to(&env);
    env.run(&["sync-orders"]).assert_code(0);
    make_invoices(&env, 3);
    env.run(&["make-invoices", "--accept-difference", &order.id])
        .assert_code(0);
    env.sb()
        .add_refund(refund(
            &order.id,
            "2026-11-21T12:00:00Z",
            &[("FLX-MUG-350", MUG, "92002", 1, &[("Principal", -24.19)])],
        ))
        .unwrap();
    later(&mut env, time::Duration::days(2));
    let s = settle_uploads(&env, 4);
    assert_eq!(s["upload_pending"], 0, "{s}");
    let codes = env.query(
        "SELECT i.number || ':' || u.status || ':' || coalesce(u.error_code, '') FROM invoice_uploads u
         JOIN invoices i ON i.id = u.invoice_id ORDER BY i.number",
    );
    assert_eq!(
        codes,
        vec![
            "CN-2026-000001:rejected:79513",
            "INV-2026-000001:rejected:79513"
        ]
    );
}
