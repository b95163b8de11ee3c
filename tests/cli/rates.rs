//! `fulfil rates update` and `fulfil rates show` against the sandbox's TEDB, and the
//! horizon of the VAT rates: how long the rates in use are verified, and how fulfil says
//! so before invoicing stops (status, writing commands; doctor in doctor.rs).

use serde_json::Value;

use crate::common::TestEnv;
use crate::make_invoices::summary;

/// The sandbox moves BE's standard rate from 21 to 22 % on this day.
const SEEDED: &str = "2028-02-15";

fn show(env: &TestEnv, country: &str, date: &str) -> Value {
    let r = env.run(&[
        "--json",
        "rates",
        "show",
        "--country",
        country,
        "--date",
        date,
    ]);
    r.assert_code(0);
    summary(&r.stdout)
}

fn standard(v: &Value) -> &Value {
    v["rates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["category"] == "standard")
        .unwrap()
}

#[test]
fn update_then_show_uses_the_seeded_change_from_its_first_day() {
    let env = TestEnv::sandboxed(0);
    // Before any update, 2028 is past the built-in table's horizon.
    let before = show(&env, "BE", SEEDED);
    assert_eq!(standard(&before)["rate"], Value::Null, "{before}");
    assert_eq!(before["tedb"], Value::Null);

    // 16 months ahead of 2026-11-20 reaches 2028-03-01.
    let r = env.run(&["rates", "update", "--months", "16"]);
    r.assert_code(0);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert!(
        r.stdout.contains("BE standard: TEDB 22 % from 2028-02-15"),
        "{}",
        r.stdout
    );
    assert_eq!(env.calls("retrieveVatRates").len(), 3 + 1 + 16 + 1);

    let on = show(&env, "BE", SEEDED);
    assert_eq!(standard(&on)["rate"], "22", "{on}");
    assert_eq!(standard(&on)["source"]["layer"], "tedb");
    assert_eq!(standard(&on)["source"]["retrieved_on"], "2026-11-20");
    assert_eq!(on["verified_until"], "2028-03-01");
    let day_before = show(&env, "BE", "2028-02-14");
    assert_eq!(standard(&day_before)["rate"], "21", "{day_before}");
    // Inside the built-in horizon TEDB answers too, and agrees.
    let now = show(&env, "NL", "2026-11-20");
    assert_eq!(standard(&now)["rate"], "21");
    assert_eq!(standard(&now)["source"]["layer"], "tedb");
    // Past the period asked, nothing is guessed.
    let after = show(&env, "BE", "2028-03-02");
    assert_eq!(standard(&after)["rate"], Value::Null, "{after}");

    // Idempotent: the same update again stores the same rows.
    let rates = || {
        fulfil::store::tedb::load(env.read_store().conn())
            .unwrap()
            .expect("a TEDB layer")
            .1
    };
    let rows = rates();
    env.run(&["rates", "update", "--months", "16"])
        .assert_code(0);
    assert_eq!(rates(), rows);

    // The text form names the source.
    let r = env.run(&["rates", "show", "--country", "BE", "--date", SEEDED]);
    r.assert_code(0);
    assert!(
        r.stdout.contains("TEDB, retrieved 2026-11-20"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_failed_partial_or_malformed_answer_changes_nothing() {
    let mut env = TestEnv::sandboxed(0);
    env.run(&["rates", "update", "--months", "16"])
        .assert_code(0);
    let kept = show(&env, "BE", SEEDED);
    let kept_all = env
        .run(&["--json", "rates", "show", "--date", SEEDED])
        .stdout;
    // A later day: a successful update would change the retrieval date.
    env.set_env("FULFIL_NOW", "2026-12-01T06:00:00Z");
    for (spec, code, says) in [
        ("incomplete=1,only=/_tedb", 1, "has no standard rate for"),
        ("malformed=1,only=/_tedb", 1, "could not be read"),
        ("truncate=1,only=/_tedb", 1, "could not be read"),
        ("soapfault=1,only=/_tedb", 1, "SOAP fault"),
        ("503=1,only=/_tedb", 4, "HTTP 503"),
    ] {
        env.sb().set_faults(spec.parse().unwrap());
        let r = env.run(&["rates", "update", "--months", "16"]);
        r.assert_code(code);
        let err = r.one_error();
        assert!(err.contains(says), "{spec}: {err}");
        assert!(
            r.stderr.contains("hint: nothing was changed"),
            "{spec}: {}",
            r.stderr
        );
        assert_eq!(show(&env, "BE", SEEDED), kept, "{spec}");
        assert_eq!(
            env.run(&["--json", "rates", "show", "--date", SEEDED])
                .stdout,
            kept_all,
            "{spec}"
        );
    }
    env.sb().set_faults("none".parse().unwrap());
    env.run(&["rates", "update", "--months", "16"])
        .assert_code(0);
    let fresh = show(&env, "BE", SEEDED);
    assert_eq!(standard(&fresh)["source"]["retrieved_on"], "2026-12-01");
}

#[test]
fn a_failed_first_update_leaves_no_tedb_layer() {
    let env = TestEnv::sandboxed(0);
    env.sb()
        .set_faults("incomplete=1,only=/_tedb".parse().unwrap());
    env.run(&["rates", "update"]).assert_code(1);
    assert_eq!(show(&env, "NL", "2026-11-20")["tedb"], Value::Null);
    assert_eq!(env.count("SELECT count(*) FROM tedb_rates"), 0);
}

/// The demo played at `now`: invoices issued on both days, day 0's make-invoices summary,
/// and what `review` lists afterwards. No order may wait for a rate on either day.
fn demo_invoices(now: &str) -> (u64, Value, String) {
    let mut env = TestEnv::new();
    env.set_env("FULFIL_NOW", now);
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
    let steps = s["steps"].as_array().unwrap();
    let day0 = steps
        .iter()
        .find(|st| st["day"] == "day 0" && st["step"] == "make-invoices")
        .unwrap()["summary"]
        .clone();
    let day31 = steps
        .iter()
        .find(|st| st["day"] == "day 31" && st["step"] == "make-invoices")
        .unwrap()["summary"]
        .clone();
    for d in [&day0, &day31] {
        assert_eq!(d["held"], 0, "{now}: {d}");
        let no_rate = d["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["reason"] == "vat_no_rate")
            .count();
        assert_eq!(no_rate, 0, "{now}: {d}");
    }
    let issued = day0["issued"].as_u64().unwrap() + day31["issued"].as_u64().unwrap();
    let config = dir.join("fulfil.toml");
    let review = env.run(&["--config", config.to_str().unwrap(), "review"]);
    review.assert_code(0);
    (issued, day0, review.stdout)
}

#[test]
fn a_demo_in_march_2028_invoices_like_one_in_december_2026() {
    let (dec_2026, _, _) = demo_invoices("2026-12-10T08:00:00Z");
    let (mar_2028, _, _) = demo_invoices("2028-03-15T08:00:00Z");
    assert!(dec_2026 > 0);
    // The sandbox generates the same orders relative to the day it starts, so after a
    // TEDB update the later year invoices exactly as many.
    assert_eq!(
        dec_2026, mar_2028,
        "December 2026: {dec_2026} invoices, March 2028: {mar_2028}"
    );
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

#[test]
fn the_demo_played_in_february_2027_invoices_like_the_december_one() {
    let (_, december, _) = demo_invoices("2026-12-07T08:00:00Z");
    let (_, february, review) = demo_invoices("2027-02-15T08:00:00Z");
    assert!(december["issued"].as_u64().unwrap() > 0, "{december}");
    assert_eq!(
        february["issued"], december["issued"],
        "{february}\n{december}"
    );
    assert_eq!(february["failed"], 0, "{february}");
    assert!(!february.to_string().contains("vat_no_rate"), "{february}");
    assert!(!review.contains("vat_no_rate"), "{review}");
}
