//! make-invoices and VIES (issue #14): reverse charge only for VAT numbers VIES confirms.
//! The sandbox's VIES answers by the number's last three digits (src/sandbox/vies.rs):
//! 200 invalid, 301 MS_UNAVAILABLE, 600 busy twice then valid, 601 always busy, others
//! valid.

use fulfil::store::{Mode, Store};
use serde_json::Value;

use crate::common::TestEnv;
use crate::make_invoices::{DE, Order, item, make_invoices, summary};

/// An Amazon Business order from Germany, zero-rated by Amazon (no TAX), with `vat`.
fn b2b(id: &str, vat: &'static str) -> Order {
    let mut o = Order::new(id, DE, "DE", vec![item("FLX-MUG-350", "20.00", "0.00")]);
    o.business = Some(("Kanarien Handel GmbH", vat));
    o.buyer = "Karla Kanarienvogel";
    o
}

fn env_with(orders: &[Order]) -> TestEnv {
    let env = TestEnv::sandboxed(0);
    for o in orders {
        o.add_to(&env);
    }
    env.run(&["sync-orders"]).assert_code(0);
    env
}

fn ledger_checks(env: &TestEnv) -> Vec<fulfil::store::vies::LedgerCheck> {
    let s = Store::open(&env.db(), &env.key(), Mode::Read).unwrap();
    fulfil::store::vies::ledger_checks(s.conn()).unwrap()
}

fn regime(env: &TestEnv, order_id: &str) -> Vec<String> {
    env.query(&format!(
        "SELECT regime || ' ' || total_vat FROM tax_ledger WHERE order_id = '{order_id}'"
    ))
}

/// Invoices and credit notes issued, as the store counts them for `status`.
fn documents(env: &TestEnv) -> u64 {
    fulfil::store::invoices::document_counts(env.read_store().conn())
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum()
}

fn vies_calls(env: &TestEnv) -> usize {
    env.calls("checkVatNumber").len()
}

/// Every table that holds a text value equal to or containing `needle`.
fn tables_holding(env: &TestEnv, needle: &str) -> Vec<String> {
    env.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        .into_iter()
        .filter(|t| env.dump_table(t).contains(needle))
        .collect()
}

#[test]
fn vies_valid_gives_reverse_charge_and_the_consultation_number_outlives_purge() {
    let mut env = env_with(&[b2b("028-0000014-0000001", "DE811234567")]);
    let s = make_invoices(&env, 0);
    assert_eq!(
        (
            &s["vies_checked"],
            &s["vies_valid"],
            &s["vies_invalid"],
            &s["vies_waiting"]
        ),
        (
            &Value::from(1),
            &Value::from(1),
            &Value::from(0),
            &Value::from(0)
        ),
        "{s}"
    );
    assert_eq!(
        regime(&env, "028-0000014-0000001"),
        vec!["intra_community_reverse_charge 0.00"]
    );
    // What VIES received: the number split as VIES wants it, the seller as requester.
    let call = &env.calls("checkVatNumber")[0];
    let body: Value = match &call["body"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        other => other.clone(),
    };
    assert_eq!(body["countryCode"], "DE", "{call}");
    assert_eq!(body["vatNumber"], "811234567", "{call}");
    assert_eq!(body["requesterMemberStateCode"], "NL", "{call}");
    assert_eq!(body["requesterNumber"], "000012348B01", "{call}");

    let check = |env: &TestEnv| {
        let checks = ledger_checks(env);
        assert_eq!(checks.len(), 1, "{checks:?}");
        let c = checks[0].clone();
        assert_eq!(c.order_id, "028-0000014-0000001");
        assert_eq!(
            (
                c.country_code.as_str(),
                c.valid,
                c.requester.as_str(),
                c.reused
            ),
            ("DE", true, "NL000012348B01", false)
        );
        assert!(
            c.request_identifier
                .as_deref()
                .is_some_and(|i| i.starts_with("WAPI")),
            "{c:?}"
        );
        assert!(c.request_date.starts_with("2026-11-20T10:0"), "{c:?}");
        c
    };
    let before = check(&env);
    assert!(!tables_holding(&env, "811234567").is_empty());

    // 31 days after fulfilment the order's personal data goes; the ledger's record of the
    // check stays, the number is gone from every VIES table and from the order's data.
    env.now = "2026-12-21T10:00:00Z".into();
    env.sb().advance(time::Duration::days(31));
    env.run(&["--json", "purge"]).assert_code(0);
    assert_eq!(check(&env), before);
    assert_eq!(
        fulfil::store::vies::cache_count(env.read_store().conn()).unwrap(),
        0
    );
    assert_eq!(env.count("SELECT count(*) FROM vies_cache_orders"), 0);
    // What is left predates issue #14 and belongs to the issued supply, not to VIES: the
    // number the EC Sales List needs (tax_ledger.buyer_vat_id, intra-Community supplies
    // only) and the stored VAT computation of the invoice (`invoices.computation`, kept to
    // reverse it exactly; see docs/invoices.md).
    assert_eq!(
        tables_holding(&env, "811234567"),
        vec!["invoices", "tax_ledger"]
    );
    assert_eq!(
        env.count("SELECT count(*) FROM invoices WHERE document LIKE '%811234567%'"),
        0
    );
    let ledger = fulfil::store::invoices::report_rows(
        env.read_store().conn(),
        time::macros::date!(2000 - 01 - 01),
        time::macros::date!(2100 - 12 - 31),
    )
    .unwrap();
    assert_eq!(
        ledger
            .iter()
            .map(|r| r.buyer_vat_id.as_deref())
            .collect::<Vec<_>>(),
        vec![Some("DE811234567")]
    );
}

#[test]
fn vies_invalid_is_invoiced_with_vat_and_named_per_order() {
    let env = env_with(&[
        b2b("028-0000014-0000002", "DE811234200"),
        b2b("028-0000014-0000003", "DE811234568"),
    ]);
    let r = env.run(&["--json", "make-invoices"]);
    r.assert_code(0);
    let s = summary(&r.stdout);
    assert_eq!(
        (&s["vies_valid"], &s["vies_invalid"]),
        (&Value::from(1), &Value::from(1)),
        "{s}"
    );
    assert_eq!(s["issued"], 2, "{s}");
    // Consumer treatment: OSS, German VAT out of the 20.00 Amazon charged.
    assert_eq!(
        regime(&env, "028-0000014-0000002"),
        vec!["oss_destination 3.19"]
    );
    assert_eq!(
        regime(&env, "028-0000014-0000003"),
        vec!["intra_community_reverse_charge 0.00"]
    );
    assert!(
        r.stderr
            .contains("028-0000014-0000002: VAT number not valid in VIES, invoiced with VAT"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("0000014-0000003: VAT"), "{}", r.stderr);
    assert!(!r.stderr.contains("811234"), "{}", r.stderr);
    let checks = ledger_checks(&env);
    assert_eq!(
        checks
            .iter()
            .map(|c| (c.order_id.as_str(), c.valid))
            .collect::<Vec<_>>(),
        vec![
            ("028-0000014-0000002", false),
            ("028-0000014-0000003", true)
        ]
    );
    // The ledger keeps no customer number on the consumer-treated sale.
    assert_eq!(
        env.query("SELECT coalesce(buyer_vat_id, 'none') FROM tax_ledger ORDER BY order_id"),
        vec!["none", "DE811234568"]
    );
}

#[test]
fn vies_unavailable_waits_then_goes_to_review_after_24_hours() {
    let mut env = env_with(&[b2b("028-0000014-0000004", "DE811234301")]);
    let r = env.run(&["--json", "make-invoices"]);
    r.assert_code(4);
    let s = summary(&r.stdout);
    assert_eq!(
        (&s["vies_waiting"], &s["issued"], &s["failed"]),
        (&Value::from(1), &Value::from(0), &Value::from(0)),
        "{s}"
    );
    assert!(
        r.stderr
            .contains("wait for VIES (VIES is unavailable (MS_UNAVAILABLE))"),
        "{}",
        r.stderr
    );
    assert_eq!(documents(&env), 0);
    assert_eq!(
        fulfil::store::labels::review_list(env.read_store().conn()).unwrap(),
        vec![]
    );

    // 23 hours on it still waits.
    env.now = "2026-11-21T09:00:00Z".into();
    make_invoices(&env, 4);
    // After 24 hours it goes to review.
    env.now = "2026-11-21T10:30:00Z".into();
    let r = env.run(&["--json", "make-invoices"]);
    r.assert_code(3);
    let s = summary(&r.stdout);
    assert_eq!(
        (&s["failed"], &s["vies_waiting"]),
        (&Value::from(1), &Value::from(0)),
        "{s}"
    );
    assert!(
        r.stderr.contains("028-0000014-0000004: vies_unavailable"),
        "{}",
        r.stderr
    );
    let issues = fulfil::store::orders::issues(env.read_store().conn(), "make-invoices").unwrap();
    assert_eq!(
        issues
            .iter()
            .filter(|(id, _)| id == "028-0000014-0000004")
            .map(|(_, reason)| reason.as_str())
            .collect::<Vec<_>>(),
        vec!["vies_unavailable"]
    );
    let review = env.run(&["review"]);
    assert!(
        review.stdout.contains("vies_unavailable"),
        "{}",
        review.stdout
    );
    assert_eq!(documents(&env), 0);
}

#[test]
fn vies_rate_limited_is_retried_then_counts_as_unavailable() {
    let env = env_with(&[
        b2b("028-0000014-0000005", "DE811234600"),
        b2b("028-0000014-0000006", "FR12811234601"),
    ]);
    let r = env.run(&["--json", "make-invoices"]);
    // One issued after two busy answers; the other still busy after every try: it waits.
    r.assert_code(4);
    let s = summary(&r.stdout);
    assert_eq!(
        (&s["issued"], &s["vies_valid"], &s["vies_waiting"]),
        (&Value::from(1), &Value::from(1), &Value::from(1)),
        "{s}"
    );
    let calls = env.calls("checkVatNumber");
    let for_number = |n: &str| {
        calls
            .iter()
            .filter(|c| c["body"].to_string().contains(n))
            .count()
    };
    assert_eq!(for_number("811234600"), 3);
    assert!(for_number("811234601") >= 2, "{calls:?}");
    assert_eq!(
        regime(&env, "028-0000014-0000005"),
        vec!["intra_community_reverse_charge 0.00"]
    );
    assert!(r.stderr.contains("MS_MAX_CONCURRENT_REQ"), "{}", r.stderr);
}

#[test]
fn vies_answers_are_reused_for_the_same_number_within_the_window() {
    let mut env = env_with(&[
        b2b("028-0000014-0000007", "DE811234569"),
        b2b("028-0000014-0000008", "DE 811 234 569"),
    ]);
    let s = make_invoices(&env, 0);
    assert_eq!(
        (&s["vies_checked"], &s["vies_reused"]),
        (&Value::from(1), &Value::from(1)),
        "{s}"
    );
    assert_eq!(vies_calls(&env), 1);
    let checks = ledger_checks(&env);
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0].request_identifier, checks[1].request_identifier);
    assert_eq!((checks[0].reused, checks[1].reused), (false, true));

    // A day later, another order with the number: still no call.
    let mut later = b2b("028-0000014-0000009", "DE811234569");
    later.shipped = "2026-11-21T08:00:00Z".into();
    later.add_to(&env);
    env.sb().advance(time::Duration::days(1));
    env.now = "2026-11-21T10:00:00Z".into();
    env.run(&["sync-orders"]).assert_code(0);
    make_invoices(&env, 0);
    assert_eq!(vies_calls(&env), 1);

    // With a reuse window of one day, the next order asks VIES again.
    env.add_config("invoices", "vies_reuse_days", "1");
    let mut last = b2b("028-0000014-0000010", "DE811234569");
    last.shipped = "2026-11-22T12:00:00Z".into();
    last.add_to(&env);
    env.sb().advance(time::Duration::days(2));
    env.now = "2026-11-23T10:00:00Z".into();
    env.run(&["sync-orders"]).assert_code(0);
    let s = make_invoices(&env, 0);
    assert_eq!(s["vies_checked"], 1, "{s}");
    assert_eq!(vies_calls(&env), 2);
}

#[test]
fn no_vat_number_in_output_at_trace_level() {
    let mut env = env_with(&[
        b2b("028-0000014-0000011", "DE811234570"),
        b2b("028-0000014-0000012", "DE811234200"),
        b2b("028-0000014-0000013", "DE811234301"),
        b2b("028-0000014-0000014", "DE811234600"),
    ]);
    env.set_env("FULFIL_LOG", "trace");
    let mut out = String::new();
    for args in [
        &["-vvv", "make-invoices"][..],
        &["-vvv", "--json", "make-invoices"][..],
        &["-vvv", "status"][..],
        &["-vvv", "review"][..],
    ] {
        let r = env.run(args);
        out.push_str(&r.stdout);
        out.push_str(&r.stderr);
    }
    assert!(out.contains("VIES answer"), "trace logging was on: {out}");
    assert!(out.contains("not valid in VIES"), "{out}");
    for needle in ["811234", "Kanarien", "Karla"] {
        assert!(!out.contains(needle), "{needle} in {out}");
    }
}
