//! The horizon of the VAT rates: how long the rates in use are verified, and how fulfil
//! says so before invoicing stops (status, writing commands; doctor in doctor.rs).

use crate::common::TestEnv;

fn summary(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn writing_commands_warn_in_the_last_14_days_also_under_quiet() {
    let mut env = TestEnv::sandboxed(0);
    // 15 days before the built-in horizon (2027-12-31): a quiet run stays quiet.
    env.now = "2027-12-16T03:15:00Z".into();
    let r = env.run(&["-q", "purge"]);
    r.assert_code(0);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
    // 14 days before: one line, also under -q, naming the date and the remedy.
    env.now = "2027-12-17T03:15:00Z".into();
    let r = env.run(&["-q", "purge"]);
    r.assert_code(0);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr.lines().collect::<Vec<_>>(),
        [
            "warning: VAT rates are verified only up to 2027-12-31 (14 days); run `fulfil rates update` (or update fulfil)"
        ]
    );
    // Past it: still one line, saying what waits.
    env.now = "2028-01-02T03:15:00Z".into();
    let r = env.run(&["-q", "purge"]);
    r.assert_code(0);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("since 2027-12-31: invoices after that date wait for a rate")
    );
    // A read-only command shows the date instead of warning.
    let r = env.run(&["--json", "status"]);
    r.assert_code(0);
    assert_eq!(r.stderr, "");
    assert_eq!(summary(&r.stdout)["vat_rates_verified_until"], "2027-12-31");
    let r = env.run(&["status"]);
    assert!(
        r.stdout
            .contains("vat rates verified up to 2027-12-31 (-2 days from today)"),
        "{}",
        r.stdout
    );
}

/// The demo's day-0 make-invoices summary and review reasons, played at `now`.
fn demo_invoices(now: &str) -> (serde_json::Value, String) {
    let mut env = TestEnv::new();
    env.now = now.into();
    let dir = env.dir.path().join("demo");
    let r = env.run(&[
        "--json",
        "demo",
        "--orders",
        "60",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    r.assert_code(0);
    let s = summary(&r.stdout);
    let day0 = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["day"] == "day 0" && st["step"] == "make-invoices")
        .expect("day 0 make-invoices")["summary"]
        .clone();
    let config = dir.join("fulfil.toml");
    let review = env.run(&["--config", config.to_str().unwrap(), "review"]);
    review.assert_code(0);
    (day0, review.stdout)
}

#[test]
fn the_demo_played_in_february_2027_invoices_like_the_december_one() {
    let (december, _) = demo_invoices("2026-12-07T08:00:00Z");
    let (february, review) = demo_invoices("2027-02-15T08:00:00Z");
    assert!(december["issued"].as_u64().unwrap() > 0, "{december}");
    assert_eq!(
        february["issued"], december["issued"],
        "{february}\n{december}"
    );
    assert_eq!(february["failed"], 0, "{february}");
    assert!(!february.to_string().contains("vat_no_rate"), "{february}");
    assert!(!review.contains("vat_no_rate"), "{review}");
}
