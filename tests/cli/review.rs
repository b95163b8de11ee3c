//! review against the sandbox: `review set-address` corrects an address make-labels
//! could not split, and the next make-labels run sends it.

use crate::common::TestEnv;
use crate::make_labels::{order, reasons, received};

#[test]
fn set_address_fixes_a_review_order() {
    let env = TestEnv::sandboxed(0);
    let id = order(&env, 1, ["Kerkweg 7 8", "", ""], "1011 AB", "NL", "MUG");
    env.run(&["sync-orders"]).assert_code(0);
    env.run(&["make-labels"]).assert_code(3);
    assert_eq!(
        reasons(&env).get(&id).map(String::as_str),
        Some("address_check")
    );
    env.run(&[
        "review",
        "set-address",
        &id,
        "--street",
        "Kerkweg",
        "--house-nr",
        "7",
        "--ext",
        "8",
    ])
    .assert_code(0);
    env.run(&[
        "review",
        "set-address",
        &id,
        "--street",
        "Kerkweg",
        "--house-nr",
        "7b",
    ])
    .assert_code(2);
    env.run(&["make-labels"]).assert_code(0);
    let a = &received(&env)[&id]["Addresses"][0];
    assert_eq!(
        (
            a["Street"].as_str(),
            a["HouseNr"].as_str(),
            a["HouseNrExt"].as_str()
        ),
        (Some("Kerkweg"), Some("7"), Some("8"))
    );
    assert!(reasons(&env).is_empty());
}
