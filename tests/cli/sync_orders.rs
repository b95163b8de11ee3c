//! sync-orders against the sandbox: paging, call counts, roles, faults, canaries.

use std::collections::BTreeSet;

use fulfil::sandbox::{FaultSpec, Roles, SandboxConfig};
use fulfil::store::orders as db;
use serde_json::{Value, json};

use crate::common::{NOW, TestEnv, contains, files_under};

/// The order ids the first sync should see: merchant-fulfilled, last updated within
/// the first-sync window (14 days) and at least three minutes before now.
fn expected_ids(env: &TestEnv) -> BTreeSet<String> {
    let now = fulfil::clock::parse_rfc3339(NOW).unwrap();
    let from = now - time::Duration::days(14);
    let to = now - time::Duration::minutes(3);
    env.sb()
        .order_ids()
        .into_iter()
        .filter(|id| {
            let o = env.sb().order(id).unwrap();
            let upd = fulfil::clock::parse_rfc3339(o["lastUpdatedTime"].as_str().unwrap()).unwrap();
            let by = o["fulfillment"]["fulfilledBy"]
                .as_str()
                .unwrap_or("MERCHANT");
            by == "MERCHANT" && upd >= from && upd <= to
        })
        .collect()
}

fn stored_ids(env: &TestEnv) -> BTreeSet<String> {
    db::ids(env.read_store().conn())
        .unwrap()
        .into_iter()
        .collect()
}

/// Each order as `id|stage|amazon_updated_at`, in id order.
fn snapshot(env: &TestEnv) -> Vec<String> {
    let s = env.read_store();
    db::ids(s.conn())
        .unwrap()
        .into_iter()
        .map(|id| {
            let e = db::existing(s.conn(), &id).unwrap().unwrap();
            format!("{id}|{}|{}", e.stage.as_str(), e.amazon_updated_at)
        })
        .collect()
}

/// How many stored orders hold personal data with `field` set.
fn pii_with(env: &TestEnv, field: fn(&db::PiiRow) -> &Option<String>) -> usize {
    let s = env.read_store();
    db::ids(s.conn())
        .unwrap()
        .iter()
        .filter_map(|id| db::pii(s.conn(), id).unwrap())
        .filter(|p| field(p).is_some())
        .count()
}

fn pii_rows(env: &TestEnv) -> u64 {
    db::count_with_pii(env.read_store().conn()).unwrap()
}

fn summary(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn first_sync_pages_with_one_token_call_and_ceil_n_over_100_searches() {
    let env = TestEnv::sandboxed(250);
    let expected = expected_ids(&env);
    assert!(
        expected.len() > 150,
        "the generator should give most orders in the window"
    );
    let r = env.run(&["--json", "sync-orders"]);
    r.assert_code(0);
    assert!(
        r.stderr.is_empty(),
        "a good run is silent on stderr: {}",
        r.stderr
    );
    let s = summary(&r.stdout);
    assert_eq!(stored_ids(&env), expected);
    let n = expected.len() as u64;
    assert_eq!(s["fetched"], n);
    assert_eq!(s["new"], n);
    assert_eq!(env.calls("searchOrders").len() as u64, n.div_ceil(100));
    assert_eq!(
        env.calls("token").len() + env.calls("lwa.token").len(),
        1,
        "{:?}",
        env.sb()
            .records()
            .iter()
            .map(|r| r["operation"].clone())
            .collect::<Vec<_>>()
    );
    // Every page repeated the first page's parameters.
    let searches = env.calls("searchOrders");
    let first = &searches[0]["query"];
    for s in &searches[1..] {
        for k in [
            "lastUpdatedAfter",
            "lastUpdatedBefore",
            "marketplaceIds",
            "fulfilledBy",
        ] {
            assert_eq!(s["query"][k], first[k], "{k}");
        }
        assert!(s["query"]["paginationToken"].is_string());
    }
    // Items came inline: every stored order has its items.
    assert_eq!(
        env.count("SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.order_id)"),
        0
    );
}

#[test]
fn a_cron_run_without_a_terminal_prints_nothing() {
    let env = TestEnv::sandboxed(30);
    let r = env.run(&["sync-orders"]);
    r.assert_code(0);
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr, "");
}

#[test]
fn second_run_is_idempotent() {
    let env = TestEnv::sandboxed(120);
    env.run(&["sync-orders"]).assert_code(0);
    let before = snapshot(&env);
    let pii_before = pii_rows(&env);
    let r = env.run(&["--json", "sync-orders"]);
    r.assert_code(0);
    let s = summary(&r.stdout);
    assert_eq!(s["new"], 0);
    assert_eq!(s["updated"], 0);
    assert_eq!(snapshot(&env), before);
    assert_eq!(pii_rows(&env), pii_before);
}

#[test]
fn later_runs_pick_up_status_changes_from_the_checkpoint() {
    let mut env = TestEnv::sandboxed(60);
    env.run(&["sync-orders"]).assert_code(0);
    let ready: Vec<String> = snapshot(&env)
        .into_iter()
        .filter(|row| row.split('|').nth(1) == Some("ready"))
        .map(|row| row.split('|').next().unwrap().to_string())
        .collect();
    assert!(!ready.is_empty());
    let victim = &ready[0];
    let now = fulfil::clock::parse_rfc3339(NOW).unwrap();
    env.sb()
        .set_order_status(victim, "CANCELLED", now + time::Duration::minutes(1))
        .unwrap();
    // Ten minutes later, as cron would run.
    env.now = "2026-11-20T10:10:00Z".into();
    env.sb().advance(time::Duration::minutes(10));
    let r = env.run(&["--json", "sync-orders"]);
    r.assert_code(0);
    let s = summary(&r.stdout);
    assert!(s["cancelled"].as_u64().unwrap() >= 1, "{s}");
    let stage = db::existing(env.read_store().conn(), victim)
        .unwrap()
        .map(|e| e.stage);
    assert_eq!(stage, Some(db::Stage::Cancelled));
    let due = db::existing(env.read_store().conn(), victim)
        .unwrap()
        .and_then(|e| e.pii_due_at);
    assert_eq!(
        due.as_deref(),
        Some("2026-11-27T10:01:00Z"),
        "personal data of a cancelled order goes within 7 days"
    );
    // The second run asked only for the window since the first one (minus the overlap).
    let last = env.calls("searchOrders").pop().unwrap();
    assert_eq!(last["query"]["lastUpdatedAfter"], "2026-11-20T09:52:00Z");
}

fn included_data(env: &TestEnv) -> String {
    env.calls("searchOrders")[0]["query"]["includedData"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn included_data_follows_the_configured_roles() {
    let env = TestEnv::sandboxed(40);
    env.set_config("roles", "[]");
    env.run(&["sync-orders"]).assert_code(0);
    assert_eq!(included_data(&env), "FULFILLMENT,PROCEEDS,PACKAGES");
    assert_eq!(pii_rows(&env), 0);

    let env = TestEnv::sandboxed(40);
    env.set_config("roles", "[\"direct-to-consumer-shipping\"]");
    env.run(&["sync-orders"]).assert_code(0);
    assert_eq!(
        included_data(&env),
        "FULFILLMENT,PROCEEDS,PACKAGES,RECIPIENT"
    );
    assert!(pii_with(&env, |p| &p.address_line1) > 0);
    assert_eq!(pii_with(&env, |p| &p.buyer_name), 0);

    let env = TestEnv::sandboxed(40);
    env.set_config("roles", "[\"tax-invoicing\"]");
    env.run(&["sync-orders"]).assert_code(0);
    assert_eq!(
        included_data(&env),
        "FULFILLMENT,PROCEEDS,PACKAGES,BUYER,TAX"
    );
    assert_eq!(pii_with(&env, |p| &p.address_line1), 0);
}

#[test]
fn an_app_without_the_role_gets_no_address_even_if_it_asks() {
    let env = TestEnv::sandboxed(30);
    env.sb().set_roles(Roles::NONE);
    env.run(&["sync-orders"]).assert_code(0);
    assert_eq!(pii_with(&env, |p| &p.address_line1), 0);
    assert!(!stored_ids(&env).is_empty());
}

#[test]
fn throttling_server_errors_and_expired_tokens_are_survived() {
    let env = TestEnv::with_sandbox(SandboxConfig {
        generate: 250,
        rate_limits: false,
        seed: 11,
        faults: "500=0.15,503=0.1,429=0.15,expire=0.1"
            .parse::<FaultSpec>()
            .unwrap(),
        ..SandboxConfig::default()
    });
    let expected = expected_ids(&env);
    let mut last = None;
    for _ in 0..6 {
        let r = env.run(&["--json", "sync-orders"]);
        assert!(r.code == 0 || r.code == 4, "exit {}: {}", r.code, r.stderr);
        if r.code == 0 {
            last = Some(summary(&r.stdout));
            break;
        }
    }
    let s = last.expect("the sync completes within a few runs");
    assert_eq!(stored_ids(&env), expected);
    let faults: Vec<Value> = env
        .sb()
        .records()
        .into_iter()
        .filter(|r| !r["fault"].is_null())
        .collect();
    assert!(!faults.is_empty(), "the fault profile injected nothing");
    let _ = s;
}

#[test]
fn dropped_truncated_and_malformed_answers_lose_nothing() {
    let env = TestEnv::with_sandbox(SandboxConfig {
        generate: 300,
        rate_limits: false,
        seed: 5,
        faults: "drop=0.15,truncate=0.15,malformed=0.15,slow=0.05:200ms"
            .parse::<FaultSpec>()
            .unwrap(),
        ..SandboxConfig::default()
    });
    env.set_config("retry_base_ms", "10");
    env.add_config("amazon", "max_tries", "8");
    let expected = expected_ids(&env);
    let mut done = false;
    for _ in 0..8 {
        let r = env.run(&["sync-orders"]);
        assert!(r.code == 0 || r.code == 4, "exit {}: {}", r.code, r.stderr);
        if r.code == 0 {
            done = true;
            break;
        }
    }
    assert!(done);
    assert_eq!(stored_ids(&env), expected);
}

#[test]
fn a_run_that_gives_up_resumes_with_its_saved_page_token() {
    let env = TestEnv::with_sandbox(SandboxConfig {
        generate: 450,
        rate_limits: false,
        ..SandboxConfig::default()
    });
    env.add_config("amazon", "max_tries", "1");
    let expected = expected_ids(&env);
    assert!(expected.len() > 300);
    // Let the token call and two pages through, then fail everything: the run must
    // give up with exit 4.
    let sb = env.sb();
    sb.set_faults("503=1,after=3".parse().unwrap());
    let r = env.run(&["sync-orders"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let partial = stored_ids(&env).len();
    assert!(partial >= 100 && partial < expected.len(), "{partial}");
    sb.set_faults(FaultSpec::none());
    let calls_before = env.calls("searchOrders").len();
    env.run(&["sync-orders"]).assert_code(0);
    assert_eq!(stored_ids(&env), expected);
    let resumed = &env.calls("searchOrders")[calls_before];
    assert!(
        resumed["query"]["paginationToken"].is_string(),
        "the next run resumes with the saved token instead of starting over"
    );
}

#[test]
fn canary_personal_data_lives_only_in_the_personal_data_table() {
    let mut env = TestEnv::sandboxed(10);
    let canaries = add_canary_order(&env);
    env.set_env("FULFIL_LOG", "trace");
    let r = env.run(&["-vvv", "sync-orders"]);
    r.assert_code(0);
    for c in &canaries {
        assert!(!r.stdout.contains(c.as_str()), "{c} in stdout");
        assert!(!r.stderr.contains(c.as_str()), "{c} in stderr");
    }
    assert!(
        r.stderr.contains("sp-api answer"),
        "trace logging was on: {}",
        r.stderr
    );
    // In order_pii, and nowhere else in the database.
    let p = db::pii(env.read_store().conn(), "028-9999999-0000001")
        .unwrap()
        .expect("the canary order's personal data");
    let pii = [
        &p.recipient_name,
        &p.address_line1,
        &p.buyer_name,
        &p.phone,
        &p.city,
    ]
    .map(|f| f.as_deref().expect("every canary field stored"))
    .join("|");
    for c in &canaries {
        assert!(pii.contains(c.as_str()), "{c} not stored");
    }
    for table in [
        "orders",
        "order_items",
        "order_packages",
        "order_issues",
        "sync_state",
        "rate_buckets",
        "runs",
    ] {
        let dump = env.dump_table(table);
        if table == "orders" {
            assert!(
                dump.contains("028-9999999-0000001"),
                "the scan sees the rows"
            );
        }
        for c in &canaries {
            assert!(!dump.contains(c.as_str()), "{c} in table {table}");
        }
    }
    // And not in plain text anywhere in the data directory.
    for f in files_under(&env.data()) {
        let bytes = std::fs::read(&f).unwrap();
        for c in &canaries {
            assert!(!contains(&bytes, c), "{c} in {}", f.display());
        }
    }
}

/// Adds an order with distinct canary strings in every personal field; returns them.
pub fn add_canary_order(env: &TestEnv) -> Vec<String> {
    let canaries: Vec<String> = [
        "CanaryRecipientQx",
        "Canarystraat 17 QX",
        "CanaryBuyerQx",
        "+31 6 1111 9999",
        "CanaryCityQx",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    env.sb()
        .add_order(json!({
            "orderId": "028-9999999-0000001",
            "createdTime": "2026-11-19T08:00:00Z",
            "lastUpdatedTime": "2026-11-19T09:00:00Z",
            "programs": [],
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": "A1805IZSGTT6HS", "marketplaceName": "Amazon.nl"},
            "buyer": {"buyerName": canaries[2], "buyerEmail": "canaryqx@marketplace.amazon.nl"},
            "recipient": {"deliveryAddress": {
                "name": canaries[0], "addressLine1": canaries[1], "city": canaries[4],
                "postalCode": "1011AB", "countryCode": "NL", "phone": canaries[3],
                "addressType": "RESIDENTIAL"}},
            "proceeds": {"grandTotal": {"amount": "24.19", "currencyCode": "EUR"}},
            "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT", "fulfillmentServiceLevel": "STANDARD"},
            "orderItems": [{
                "orderItemId": "10000000000001", "quantityOrdered": 1,
                "product": {"asin": "B000CANARY", "title": "Mok", "sellerSku": "MUG-1",
                            "price": {"unitPrice": {"amount": "19.99", "currencyCode": "EUR"}}},
                "proceeds": {"proceedsTotal": {"amount": "24.19", "currencyCode": "EUR"},
                             "breakdowns": [{"type": "ITEM", "subtotal": {"amount": "24.19", "currencyCode": "EUR"}},
                                            {"type": "TAX", "subtotal": {"amount": "4.20", "currencyCode": "EUR"}}]}
            }]
        }))
        .unwrap();
    canaries
}

#[test]
fn bad_orders_are_skipped_and_reported_the_rest_are_kept() {
    let env = TestEnv::sandboxed(20);
    let good = expected_ids(&env).len() as u64;
    let base = |id: &str| {
        json!({
            "orderId": id,
            "createdTime": "2026-11-19T08:00:00Z",
            "lastUpdatedTime": "2026-11-19T09:00:00Z",
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": "A1805IZSGTT6HS"},
            "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
            "orderItems": [{"orderItemId": "1", "quantityOrdered": 1, "product": {"sellerSku": "X"}}]
        })
    };
    // A bad amount and an absurdly long string are refused; a non-Latin name is kept.
    let mut bad_amount = base("028-0000000-0000101");
    bad_amount["proceeds"] = json!({"grandTotal": {"amount": "twelve", "currencyCode": "EUR"}});
    let mut long = base("028-0000000-0000102");
    long["orderItems"][0]["product"]["title"] = json!("x".repeat(20_000));
    let mut cyrillic = base("028-0000000-0000104");
    cyrillic["buyer"] = json!({"buyerName": "Анна Петрова 王芳"});
    for o in [bad_amount, long, cyrillic] {
        env.sb().add_order(o).unwrap();
    }
    let r = env.run(&["--json", "sync-orders"]);
    r.assert_code(3);
    let s = summary(&r.stdout);
    assert_eq!(s["skipped"], 2);
    assert_eq!(s["fetched"].as_u64().unwrap(), good + 3);
    let reasons: Vec<String> = db::issues(env.read_store().conn(), "sync-orders")
        .unwrap()
        .into_iter()
        .map(|(id, reason)| format!("{id}:{reason}"))
        .collect();
    assert_eq!(
        reasons,
        vec![
            "028-0000000-0000101:bad_amount",
            "028-0000000-0000102:field_too_long"
        ]
    );
    assert!(
        r.stderr.contains("2 orders could not be stored"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("twelve"));
    assert_eq!(stored_ids(&env).len() as u64, good + 1);
    let name = db::pii(env.read_store().conn(), "028-0000000-0000104")
        .unwrap()
        .and_then(|p| p.buyer_name);
    assert_eq!(name.as_deref(), Some("Анна Петрова 王芳"));
    // Nothing half-written: the refused orders have no rows at all.
    assert_eq!(
        env.count("SELECT count(*) FROM order_items WHERE order_id IN ('028-0000000-0000101','028-0000000-0000102')"),
        0
    );
    // Once Amazon's data is fixed (which bumps lastUpdatedTime) the next run takes the
    // order and clears its issue; the other one stays reported.
    let mut fixed = base("028-0000000-0000101");
    fixed["lastUpdatedTime"] = json!("2026-11-20T09:55:00Z");
    env.sb().add_order(fixed).unwrap();
    env.run(&["sync-orders"]).assert_code(0);
    let reasons: Vec<String> = db::issues(env.read_store().conn(), "sync-orders")
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(reasons, vec!["028-0000000-0000102"]);
}

#[test]
fn wrong_credentials_exit_2_with_a_hint() {
    let env = TestEnv::sandboxed(5);
    env.set_config("refresh_token", "\"Atzr|revoked\"");
    let r = env.run(&["sync-orders"]);
    r.assert_code(2);
    assert!(r.stderr.contains("invalid_grant"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);

    let env = TestEnv::sandboxed(5);
    env.set_config("client_secret", "\"wrong\"");
    let r = env.run(&["sync-orders"]);
    r.assert_code(2);
    assert!(r.stderr.contains("invalid_client"), "{}", r.stderr);
    assert!(r.stderr.contains("180 days"), "{}", r.stderr);
}

#[test]
fn an_overlapping_run_exits_4_at_once() {
    let env = TestEnv::sandboxed(5);
    let _held = env.open_store();
    let r = env.run(&["sync-orders"]);
    r.assert_code(4);
    assert!(r.stderr.contains("holds the lock"), "{}", r.stderr);
    assert!(env.calls("searchOrders").is_empty());
}

#[test]
fn secret_age_warning_from_day_150() {
    let env = TestEnv::sandboxed(5);
    env.add_config("amazon", "client_secret_rotated", "2026-06-20");
    let r = env.run(&["sync-orders"]);
    r.assert_code(0);
    assert!(r.stderr.contains("expires in 27 days"), "{}", r.stderr);
}

/// Issue #15 item 9: every order sync-orders skips gets its own review line with its
/// reason, identified by its id (escaped and cut short when it is not a plausible one,
/// with a hash so that two bad ids never share a line); `status` counts them.
#[test]
fn each_skipped_order_has_its_own_review_line_and_status_counts_them() {
    let env = TestEnv::sandboxed(5);
    let base = |id: &str| {
        json!({
            "orderId": id,
            "createdTime": "2026-11-19T08:00:00Z",
            "lastUpdatedTime": "2026-11-19T09:00:00Z",
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": "A1805IZSGTT6HS"},
            "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
            "orderItems": [{"orderItemId": "1", "quantityOrdered": 1, "product": {"sellerSku": "X"}}]
        })
    };
    let long_a = format!("{}1", "A".repeat(50));
    let long_b = format!("{}2", "A".repeat(50));
    let bad_ids = [
        "028-0000000-0000201 ",
        "028-0000000-0000202;DROP TABLE orders",
        "Ωmega-00001",
        long_a.as_str(),
        long_b.as_str(),
    ];
    for id in bad_ids {
        env.sb().add_order(base(id)).unwrap();
    }
    let mut long = base("028-0000000-0000301");
    long["orderItems"][0]["product"]["title"] = json!("x".repeat(20_000));
    let mut quantity = base("028-0000000-0000302");
    quantity["orderItems"][0]["quantityOrdered"] = json!(-1);
    let mut amount = base("028-0000000-0000303");
    amount["proceeds"] = json!({"grandTotal": {"amount": "twelve", "currencyCode": "EUR"}});
    for o in [long, quantity, amount] {
        env.sb().add_order(o).unwrap();
    }
    let r = env.run(&["--json", "sync-orders"]);
    r.assert_code(3);
    assert_eq!(summary(&r.stdout)["skipped"], 8);

    let skipped = |env: &TestEnv| -> Vec<(String, String)> {
        let r = env.run(&["--json", "review"]);
        r.assert_code(0);
        summary(&r.stdout)["orders"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["command"] == "sync-orders")
            .map(|l| {
                (
                    l["order_id"].as_str().unwrap().to_string(),
                    l["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let lines = skipped(&env);
    let reasons: Vec<&str> = {
        let mut r: Vec<&str> = lines.iter().map(|(_, r)| r.as_str()).collect();
        r.sort_unstable();
        r
    };
    assert_eq!(
        reasons,
        [
            "bad_amount",
            "bad_order_id",
            "bad_order_id",
            "bad_order_id",
            "bad_order_id",
            "bad_order_id",
            "bad_quantity",
            "field_too_long"
        ],
        "{lines:?}"
    );
    let ids: BTreeSet<&str> = lines.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), 8, "two skipped orders share a line: {lines:?}");
    for (id, _) in &lines {
        assert_ne!(id, "unknown");
        assert!(id.len() <= 48, "{id}");
        assert!(
            !id.contains([' ', ';', 'Ω']) && !id.contains(&"A".repeat(30)),
            "a bad id shown raw or whole: {id}"
        );
    }
    for good in [
        "028-0000000-0000301",
        "028-0000000-0000302",
        "028-0000000-0000303",
    ] {
        assert!(ids.contains(good), "{good} not listed: {lines:?}");
    }
    let r = env.run(&["--json", "status"]);
    r.assert_code(0);
    assert_eq!(summary(&r.stdout)["skipped_by_sync"], 8, "{}", r.stdout);
    let r = env.run(&["status"]);
    assert!(
        r.stdout.contains("skipped   8 orders by sync-orders"),
        "{}",
        r.stdout
    );

    // Amazon sends one of them again in good shape: its line goes, the others stay.
    let mut fixed = base("028-0000000-0000302");
    fixed["lastUpdatedTime"] = json!("2026-11-20T09:55:00Z");
    env.sb().add_order(fixed).unwrap();
    env.run(&["sync-orders"]).assert_code(0);
    let lines = skipped(&env);
    assert_eq!(lines.len(), 7, "{lines:?}");
    assert!(!lines.iter().any(|(id, _)| id == "028-0000000-0000302"));
    let r = env.run(&["--json", "status"]);
    assert_eq!(summary(&r.stdout)["skipped_by_sync"], 7, "{}", r.stdout);
}
