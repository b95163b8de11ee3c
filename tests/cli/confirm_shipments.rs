//! confirm-shipments against the sandbox: with `labels.confirm_shipment = "manual"`,
//! make-labels leaves the parcels labelled and confirm-shipments tells Amazon.

use crate::common::TestEnv;
use crate::make_labels::{order, stages};

#[test]
fn manual_confirmation_waits_for_confirm_shipments() {
    let env = TestEnv::sandboxed(0);
    env.add_config("labels", "confirm_shipment", "\"manual\"");
    order(&env, 1, ["Hoofdstraat 1", "", ""], "1011 AB", "NL", "MUG");
    env.run(&["sync-orders"]).assert_code(0);
    env.run(&["make-labels"]).assert_code(0);
    assert!(env.calls("confirmShipment").is_empty());
    assert_eq!(stages(&env), vec![("labelled".to_string(), 1)]);
    env.run(&["confirm-shipments"]).assert_code(0);
    assert_eq!(env.calls("confirmShipment").len(), 1);
    assert_eq!(stages(&env), vec![("shipped".to_string(), 1)]);
}
