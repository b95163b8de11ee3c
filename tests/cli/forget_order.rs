//! `fulfil forget-order`: one order's personal data gone now, and never brought back.

use fulfil::store::orders;

use crate::common::{TestEnv, contains};
use crate::purge::{ORDER, decrypted_export};
use crate::sync_orders::add_canary_order;

#[test]
fn forget_order_removes_one_order_now() {
    let env = TestEnv::sandboxed(5);
    let canaries = add_canary_order(&env);
    env.run(&["sync-orders"]).assert_code(0);
    let pii_rows = || orders::count_with_pii(env.read_store().conn()).unwrap();
    let others = pii_rows() - 1;
    env.run(&["forget-order", ORDER]).assert_code(0);
    env.run(&["forget-order", "028-0000000-0000000"])
        .assert_code(1);
    assert_eq!(pii_rows(), others);
    let export = decrypted_export(&env);
    for c in &canaries {
        assert!(!contains(&export, c), "{c}");
    }
    // A later sync does not bring it back.
    env.sb()
        .set_order_status(ORDER, "SHIPPED", env.sb().now())
        .unwrap();
    let mut env = env;
    env.now = "2026-11-20T10:30:00Z".into();
    env.sb().advance(time::Duration::minutes(30));
    env.run(&["sync-orders"]).assert_code(0);
    assert!(
        orders::pii(env.read_store().conn(), ORDER)
            .unwrap()
            .is_none()
    );
}
