//! `fulfil status`: counts in text and `--json` (the skipped orders' count is tested in
//! sync_orders.rs, the VAT-rate horizon in rates.rs, the documents in demo.rs).

use crate::common::TestEnv;

#[test]
fn status_counts_and_json() {
    let env = TestEnv::initialised();
    let r = env.run(&["status"]);
    r.assert_code(0);
    assert!(r.stdout.contains("orders    0"), "{}", r.stdout);
    let r = env.run(&["--json", "status"]);
    r.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["orders"], 0);
    assert!(v["database_bytes"].as_u64().unwrap() > 0);
}
