//! PostNL's postal-code check in make-labels (issue #18), against the sandbox's register
//! (`src/sandbox/postcode.rs`): the register picks the reading that exists, refuses
//! what it does not know, catches a street that does not belong to its postcode; an
//! unreachable or throttled register leaves the order to a person as before; answers are
//! cached per (postcode, number, addition) and go with the orders' personal data.

use serde_json::Value;

use crate::common::TestEnv;
use crate::make_labels::{order, reasons, received};

fn addr(s: &Value) -> (String, String, String) {
    let a = &s["Addresses"][0];
    let f = |k: &str| a[k].as_str().unwrap_or("").to_string();
    (f("Street"), f("HouseNr"), f("HouseNrExt"))
}

fn checks(env: &TestEnv) -> Vec<Value> {
    env.calls("postnl.postalcodecheck")
}

fn t(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

#[test]
fn the_register_decides_what_the_text_cannot() {
    let mut env = TestEnv::sandboxed(0);
    env.add_config("postnl", "postcode_check", "true");
    let zonegge = order(&env, 1, ["Zonegge 23 12", "", ""], "1011 AB", "NL", "MUG");
    let marker = order(
        &env,
        2,
        ["Markerkant 10 142", "", ""],
        "1011 AC",
        "NL",
        "MUG",
    );
    let both = order(&env, 3, ["Kerkweg 7 8", "", ""], "1011 AD", "NL", "MUG");
    let elsewhere = order(&env, 4, ["Dorpsstraat 5", "", ""], "1013 AA", "NL", "MUG");
    let unknown = order(&env, 5, ["Hoofdstraat 3", "", ""], "9999 ZZ", "NL", "MUG");
    let plain = order(&env, 6, ["Hoofdstraat 12", "", ""], "1011 AE", "NL", "MUG");
    let again = order(&env, 7, ["Hoofdstraat 12", "", ""], "1011 AE", "NL", "MUG");
    let belgian = order(&env, 8, ["Kerkstraat 12 3", "", ""], "2000", "BE", "MUG");
    env.run(&["sync-orders"]).assert_code(0);
    env.set_env("FULFIL_LOG", "trace");
    let r = env.run(&["--json", "make-labels"]);
    r.assert_code(3);
    for secret in [
        "Zonegge",
        "Markerkant",
        "Dorpsstraat",
        "1011AB",
        "1011 AB",
        "Registerweg",
    ] {
        assert!(!r.stderr.contains(secret), "{secret} in the log");
        assert!(!r.stdout.contains(secret), "{secret} on stdout");
    }
    let sent = received(&env);
    let why = reasons(&env);
    assert_eq!(addr(&sent[&zonegge]), t("Zonegge 23", "12", ""));
    assert_eq!(addr(&sent[&marker]), t("Markerkant", "10", "142"));
    assert_eq!(addr(&sent[&plain]), t("Hoofdstraat", "12", ""));
    assert_eq!(addr(&sent[&again]), t("Hoofdstraat", "12", ""));
    assert_eq!(addr(&sent[&belgian]), t("Kerkstraat", "12", "bus 3"));
    for (id, reason) in [
        (&both, "address_check"),
        (&elsewhere, "postcode_mismatch"),
        (&unknown, "postcode_not_found"),
    ] {
        assert!(!sent.contains_key(id), "{id} labelled");
        assert_eq!(why.get(id).map(String::as_str), Some(reason), "{id}");
    }
    // One call per (postcode, number, addition); the second order at the same address
    // was answered from the cache; no call for the Belgian order.
    let calls = checks(&env);
    let keys: Vec<String> = calls.iter().map(|c| format!("{}", c["query"])).collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(keys.len(), unique.len(), "{keys:#?}");
    assert!(calls.iter().all(|c| c["status"] == 200));
    assert!(!keys.iter().any(|k| k.contains("2000")));
    let summary: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(
        summary["postcode_checks"].as_u64(),
        Some(calls.len() as u64)
    );
    assert!(
        summary["postcode_cached"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    // A rerun (the orders in review stay there) asks nothing again.
    env.run(&["make-labels"]).assert_code(0);
    assert_eq!(checks(&env).len(), calls.len());
}

#[test]
fn answers_are_cached_and_go_with_the_orders_personal_data() {
    let env = TestEnv::sandboxed(0);
    env.add_config("postnl", "postcode_check", "true");
    let a = order(&env, 1, ["Hoofdstraat 12", "", ""], "1011 AE", "NL", "MUG");
    let b = order(&env, 2, ["Hoofdstraat 12", "", ""], "1011 AE", "NL", "MUG");
    env.run(&["sync-orders"]).assert_code(0);
    env.run(&["make-labels"]).assert_code(0);
    assert_eq!(
        checks(&env).len(),
        1,
        "the second order came from the cache"
    );
    assert_eq!(env.count("SELECT count(*) FROM postcode_checks"), 1);
    assert_eq!(env.count("SELECT count(*) FROM postcode_check_orders"), 2);
    env.run(&["forget-order", &a]).assert_code(0);
    assert_eq!(
        env.count("SELECT count(*) FROM postcode_checks"),
        1,
        "b still uses it"
    );
    env.run(&["forget-order", &b]).assert_code(0);
    assert_eq!(env.count("SELECT count(*) FROM postcode_checks"), 0);
    assert_eq!(env.count("SELECT count(*) FROM postcode_check_orders"), 0);
}

#[test]
fn an_unreachable_or_throttled_register_leaves_it_to_a_person() {
    for fault in ["503=1", "429=1"] {
        let env = TestEnv::sandboxed(0);
        env.add_config("postnl", "postcode_check", "true");
        env.add_config("postnl", "max_tries", "1");
        let two = order(&env, 1, ["Zonegge 23 12", "", ""], "1011 AB", "NL", "MUG");
        let one = order(&env, 2, ["Hoofdstraat 12", "", ""], "1011 AE", "NL", "MUG");
        env.run(&["sync-orders"]).assert_code(0);
        env.sb().set_faults(
            format!("{fault},only=/shipment/checkout/v1/postalcodecheck")
                .parse()
                .unwrap(),
        );
        env.run(&["make-labels"]).assert_code(3);
        let sent = received(&env);
        assert!(!sent.contains_key(&two), "{fault}: a guess was labelled");
        assert_eq!(
            reasons(&env).get(&two).map(String::as_str),
            Some("address_check"),
            "{fault}"
        );
        assert_eq!(addr(&sent[&one]), t("Hoofdstraat", "12", ""), "{fault}");
        assert!(checks(&env).iter().all(|c| c["status"] != 200), "{fault}");
        assert_eq!(
            env.count("SELECT count(*) FROM postcode_checks"),
            0,
            "{fault}"
        );
    }
}

#[test]
fn without_the_setting_no_check_is_made() {
    let env = TestEnv::sandboxed(0);
    let two = order(&env, 1, ["Zonegge 23 12", "", ""], "1011 AB", "NL", "MUG");
    let one = order(&env, 2, ["Hoofdstraat 12", "", ""], "1011 AE", "NL", "MUG");
    env.run(&["sync-orders"]).assert_code(0);
    env.run(&["make-labels"]).assert_code(3);
    assert!(checks(&env).is_empty());
    assert_eq!(
        reasons(&env).get(&two).map(String::as_str),
        Some("address_check")
    );
    assert!(received(&env).contains_key(&one));
}
