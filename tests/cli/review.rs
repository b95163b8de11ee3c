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
    assert_split(&env, &id, (Some("Kerkweg"), Some("7"), Some("8")));
    assert!(reasons(&env).is_empty());
}

/// Issue #18: review counts the readings of an address, shows them numbered with
/// `--show-pii` on a terminal, and `review accept ORDER --candidate N` takes one.
#[test]
fn review_lists_candidates_and_accept_takes_one() {
    let env = TestEnv::sandboxed(0);
    let id = order(&env, 1, ["Zonegge 23 12", "", ""], "1011 AB", "NL", "MUG");
    env.run(&["sync-orders"]).assert_code(0);
    env.run(&["make-labels"]).assert_code(3);
    let r = env.run(&["review"]);
    r.assert_code(0);
    assert!(
        r.stdout.contains(&format!(
            "{id}  make-labels       address_check        no ship-by date  (2 candidates)"
        )),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("Zonegge"), "{}", r.stdout);
    let r = env.run(&["--json", "review"]);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["orders"][0]["candidates"], 2);

    // On a terminal (a pseudo-terminal from script(1)), --show-pii numbers them.
    let shown = on_terminal(&env, &["review", "--show-pii"]);
    assert!(
        shown.contains("candidate 1: street=Zonegge house_nr=23 ext=12"),
        "{shown}"
    );
    assert!(
        shown.contains("candidate 2: street=Zonegge 23 house_nr=12 ext="),
        "{shown}"
    );

    let bad = env.run(&["review", "accept", &id, "--candidate", "3"]);
    bad.assert_code(2);
    assert!(
        bad.stderr.contains("--candidate must be 1 to 2"),
        "{}",
        bad.stderr
    );
    assert!(!bad.stderr.contains("Zonegge"), "{}", bad.stderr);
    env.run(&["review", "accept", &id, "--candidate", "2"])
        .assert_code(0);
    env.run(&["make-labels"]).assert_code(0);
    assert_split(&env, &id, (Some("Zonegge 23"), Some("12"), None));
    assert!(reasons(&env).is_empty());
}

/// Runs fulfil with stdout on a pseudo-terminal and returns what it printed.
fn on_terminal(env: &TestEnv, args: &[&str]) -> String {
    let probe = env.command(args);
    let mut line = String::from(env!("CARGO_BIN_EXE_fulfil"));
    for a in args {
        line.push_str(" '");
        line.push_str(a);
        line.push('\'');
    }
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]).env_clear();
    for (k, v) in probe.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = cmd.output().expect("script(1) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

/// The receiver address PostNL got for an order has this (Street, HouseNr, HouseNrExt).
fn assert_split(env: &TestEnv, id: &str, want: (Option<&str>, Option<&str>, Option<&str>)) {
    let a = &received(env)[id]["Addresses"][0];
    assert_eq!(
        (
            a["Street"].as_str(),
            a["HouseNr"].as_str(),
            a["HouseNrExt"].as_str()
        ),
        want
    );
}
