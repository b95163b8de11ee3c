//! The audit log (issue #9): one entry per run, a chain that shows edits, deletions and
//! reordering, key rotation, the 13-month prune, and no personal data in any entry.

use std::os::unix::fs::PermissionsExt as _;

use serde_json::Value;

use crate::common::{TestEnv, contains};
use crate::sync_orders::add_canary_order;

fn entries(env: &TestEnv) -> Vec<Value> {
    let r = env.run(&["--json", "audit"]);
    r.assert_code(0);
    let v: Value = serde_json::from_str(r.stdout.trim()).expect("one JSON array");
    v.as_array().expect("an array").clone()
}

fn commands(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["command"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

/// Runs SQL on the store with the key, as someone tampering with the log would.
fn tamper(env: &TestEnv, sql: &str) {
    env.open_store().conn().execute_batch(sql).unwrap();
}

#[track_caller]
fn assert_broken(env: &TestEnv, wanted: &[&str]) {
    let r = env.run(&["audit", "verify"]);
    r.assert_code(1);
    let error = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("");
    for w in wanted {
        assert!(error.contains(w), "wanted {w:?} in {error:?}\n{}", r.stderr);
    }
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

/// The log as the store reads it, without running a command (which would add an entry).
fn stored(env: &TestEnv) -> Vec<fulfil::audit::Entry> {
    fulfil::store::audit::entries(env.read_store().conn(), None).unwrap()
}

/// How many stored entries a command made.
fn stored_of(env: &TestEnv, command: &str) -> usize {
    stored(env).iter().filter(|e| e.command == command).count()
}

fn mac_of(env: &TestEnv, seq: i64) -> String {
    stored(env).into_iter().find(|e| e.seq == seq).unwrap().mac
}

#[test]
fn every_run_appends_one_entry_and_the_chain_verifies() {
    let env = TestEnv::sandboxed(3);
    env.run(&["sync-orders"]).assert_code(0);
    let labels = env.run(&["make-labels"]);
    let labels_outcome = match labels.code {
        0 => "ok",
        3 => "partial",
        c => panic!("make-labels exited {c}: {}", labels.stderr),
    };
    env.run(&["status"]).assert_code(0);
    env.run(&["review"]).assert_code(0);
    env.run(&["tax-report", "--quarter", "2026Q4"])
        .assert_code(0);
    env.run(&["purge", "--dry-run"]).assert_code(0);
    env.run(&["purge"]).assert_code(0);
    env.run(&["review", "accept", "028-0000000-0000000"])
        .assert_code(1);
    env.run(&["audit"]).assert_code(0);

    let list = entries(&env);
    assert_eq!(
        commands(&list),
        [
            "init:ok".to_string(),
            "sync-orders:ok".into(),
            format!("make-labels:{labels_outcome}"),
            "status:ok".into(),
            "review:ok".into(),
            "tax-report:ok".into(),
            "purge:ok".into(),
            "purge:ok".into(),
            "review:failed".into(),
            "audit:ok".into(),
        ]
    );
    let seqs: Vec<i64> = list.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    let uid = i64::from(rustix::process::getuid().as_raw());
    for e in &list {
        assert_eq!(e["uid"], uid, "{e}");
        assert_eq!(e["at"].as_str().unwrap().len(), 20, "{e}");
        assert_eq!(e["mac"].as_str().unwrap().len(), 64, "{e}");
    }
    if uid == 0 {
        assert_eq!(list[0]["os_user"], "root");
    }
    assert_eq!(list[1]["counts"]["fetched"], 3, "{}", list[1]);
    assert_eq!(list[6]["counts"]["dry_run"], true, "{}", list[6]);
    // The text list shows the same entries.
    let r = env.run(&["audit", "--since", "2026-11-20"]);
    assert!(r.stdout.contains("sync-orders"), "{}", r.stdout);
    assert!(
        env.run(&["audit", "--since", "2026-11-21"])
            .stdout
            .contains("no audit entries")
    );

    let r = env.run(&["audit", "verify"]);
    r.assert_code(0);
    assert!(
        r.stdout.contains("audit log intact: 13 entries"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("head 13:{}", mac_of(&env, 13))),
        "{}",
        r.stdout
    );
    let r = env.run(&["-q", "audit", "verify"]);
    r.assert_code(0);
    assert_eq!(r.stdout, "");
    let r = env.run(&["--json", "audit", "verify"]);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["entries"], 15);
    assert_eq!(v["intact"], true);
    // The verify runs are entries too.
    assert_eq!(stored_of(&env, "audit verify"), 3);
    // A run that cannot open the store has nothing to write to.
    std::fs::write(env.key_file(), format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(env.key_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
    env.run(&["status"]).assert_code(2);
}

/// init, then `n` status runs: entries 1..=n+1.
fn log_of(n: usize) -> TestEnv {
    let env = TestEnv::initialised();
    for _ in 0..n {
        env.run(&["status"]).assert_code(0);
    }
    env.run(&["-q", "audit", "verify"]).assert_code(0);
    env
}

#[test]
fn an_edited_entry_is_detected() {
    let env = log_of(4);
    tamper(
        &env,
        "UPDATE audit_log SET counts = '{\"orders\":999}' WHERE seq = 3",
    );
    assert_broken(&env, &["entry 3", "status", "changed"]);
    // Editing the outcome is just as visible.
    let env = log_of(4);
    tamper(
        &env,
        "UPDATE audit_log SET outcome = 'failed' WHERE seq = 2",
    );
    assert_broken(&env, &["entry 2", "changed"]);
}

#[test]
fn a_deleted_entry_is_detected() {
    let env = log_of(4);
    tamper(&env, "DELETE FROM audit_log WHERE seq = 3");
    assert_broken(&env, &["entry 3 is missing", "entry 4"]);
    // So is removing the oldest ones without a prune.
    let env = log_of(4);
    tamper(&env, "DELETE FROM audit_log WHERE seq <= 2");
    assert_broken(&env, &["entries 1 to 2 are missing"]);
}

#[test]
fn swapped_entries_are_detected() {
    let env = log_of(4);
    tamper(
        &env,
        "UPDATE audit_log SET seq = -1 WHERE seq = 2;
         UPDATE audit_log SET seq = 2 WHERE seq = 3;
         UPDATE audit_log SET seq = 3 WHERE seq = -1;",
    );
    assert_broken(&env, &["entry 2", "out of order"]);
}

#[test]
fn a_noted_head_shows_truncation_and_rewrites() {
    let env = log_of(3);
    let head = format!("4:{}", &mac_of(&env, 4)[..16]);
    env.run(&["audit", "verify", "--expect-head", &head])
        .assert_code(0);
    // Cutting off the newest entries leaves a chain that verifies on its own…
    tamper(&env, "DELETE FROM audit_log WHERE seq >= 4");
    env.run(&["-q", "audit", "verify"]).assert_code(0);
    // …but not against the head noted elsewhere.
    let r = env.run(&["audit", "verify", "--expect-head", &head]);
    r.assert_code(1);
    assert!(r.stderr.contains("entry 4"), "{}", r.stderr);
    assert!(r.stderr.contains("not the head you noted"), "{}", r.stderr);
    tamper(&env, "DELETE FROM audit_log WHERE seq >= 4");
    let r = env.run(&["audit", "verify", "--expect-head", &head]);
    r.assert_code(1);
    assert!(r.stderr.contains("no longer holds entry 4"), "{}", r.stderr);
    env.run(&["audit", "verify", "--expect-head", "4:xyz"])
        .assert_code(2);
}

#[test]
fn no_personal_data_in_any_entry() {
    let env = TestEnv::sandboxed(2);
    let canaries = add_canary_order(&env);
    env.run(&["sync-orders"]).assert_code(0);
    let _ = env.run(&["make-labels"]);
    env.run(&["review"]).assert_code(0);
    env.run(&["status"]).assert_code(0);
    env.run(&["forget-order", "028-9999999-0000001"])
        .assert_code(0);
    env.run(&["purge"]).assert_code(0);
    let json = env.run(&["--json", "audit"]).stdout;
    let text = env.run(&["audit"]).stdout;
    let table = env.dump_table("audit_log");
    assert!(
        table.contains("sync-orders") && table.contains("forget-order"),
        "{table}"
    );
    for c in &canaries {
        for (what, hay) in [
            ("audit --json", &json),
            ("audit", &text),
            ("audit_log", &table),
        ] {
            assert!(!contains(hay.as_bytes(), c), "canary {c} in {what}");
        }
    }
    // The buyer's e-mail and the postcode are not there either.
    assert!(
        !table.contains("canaryqx") && !table.contains("1011AB"),
        "{table}"
    );
    env.run(&["-q", "audit", "verify"]).assert_code(0);
}

#[test]
fn rotate_key_keeps_the_chain_verifiable() {
    let env = log_of(2);
    env.run(&["rotate-key"]).assert_code(0);
    env.run(&["status"]).assert_code(0);
    env.run(&["--json", "purge", "--rotate-key"]).assert_code(0);
    env.run(&["status"]).assert_code(0);
    let r = env.run(&["audit", "verify"]);
    r.assert_code(0);
    assert!(r.stdout.contains("intact: 8 entries"), "{}", r.stdout);
    assert_eq!(
        stored(&env).iter().map(|e| e.key_epoch).collect::<Vec<_>>(),
        [0, 0, 0, 0, 1, 1, 2, 2, 2]
    );
    // The retired audit keys are kept, never the database key itself.
    let key = std::fs::read_to_string(env.key_file()).unwrap();
    let table = env.dump_table("audit_keys");
    assert_eq!(
        fulfil::store::audit::retired_keys(env.read_store().conn())
            .unwrap()
            .iter()
            .map(|(epoch, _)| *epoch)
            .collect::<Vec<_>>(),
        [0, 1]
    );
    assert!(!table.contains(key.trim()), "{table}");
    // Tampering before the rotations is still found.
    tamper(&env, "UPDATE audit_log SET counts = '{}' WHERE seq = 2");
    assert_broken(&env, &["entry 2", "changed"]);
}

#[test]
fn an_interrupted_rotation_keeps_the_chain() {
    let env = log_of(2);
    let new = fulfil::store::DbKey::generate().unwrap();
    {
        let mut s = env.open_store();
        s.rekey(&new).unwrap();
    }
    let next = env.data().join("db.key.next");
    std::fs::write(&next, format!("{}\n", new.hex())).unwrap();
    std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o600)).unwrap();
    env.run(&["status"]).assert_code(0);
    let r = env.run(&["audit", "verify"]);
    r.assert_code(0);
    assert!(r.stdout.contains("intact: 5 entries"), "{}", r.stdout);
}

/// A log whose first five entries (all at NOW) were pruned 14 months later:
/// 6-7 status (+6 months), 8 purge (+12 months, nothing due), 9 audit-prune, 10 purge.
fn pruned_log() -> TestEnv {
    let mut env = log_of(3); // 1 init, 2-4 status, 5 verify
    env.now = "2027-05-20T10:00:00Z".into();
    env.run(&["status"]).assert_code(0);
    env.run(&["status"]).assert_code(0);
    // Twelve months on nothing is old enough.
    env.now = "2027-11-20T10:00:00Z".into();
    let r = env.run(&["--json", "purge"]);
    assert_eq!(
        serde_json::from_str::<Value>(r.stdout.trim()).unwrap()["audit_entries_pruned"],
        0
    );
    // Fourteen months on, the entries of the first day go.
    env.now = "2028-01-20T10:00:00Z".into();
    let r = env.run(&["--json", "purge"]);
    r.assert_code(0);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["audit_entries_pruned"], 5);
    env
}

#[test]
fn entries_older_than_13_months_are_pruned_with_an_anchor() {
    let env = pruned_log();
    let list = entries(&env); // 11
    assert_eq!(list[0]["seq"], 6);
    let prune = list.iter().find(|e| e["command"] == "audit-prune").unwrap();
    assert_eq!(prune["seq"], 9);
    assert_eq!(prune["counts"]["removed"], 5);
    assert_eq!(prune["counts"]["anchor_seq"], 5);
    assert!(
        prune["counts"]["anchor_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-20T10:00:0")
    );
    assert_eq!(list[4]["command"], "purge");
    env.run(&["-q", "audit", "verify"]).assert_code(0);
    // Other writing commands prune too; nothing more is due, so no new prune entry.
    env.run(&["review", "accept", "028-0000000-0000000"])
        .assert_code(1);
    assert_eq!(stored_of(&env, "audit-prune"), 1);
    env.run(&["-q", "audit", "verify"]).assert_code(0);
}

#[test]
fn writing_commands_prune_on_the_13_month_boundary() {
    let mut env = log_of(2); // 1-4, at NOW (2026-11-20T10:00:0x)
    // A minute short of 13 calendar months: kept.
    env.now = "2027-12-20T09:59:00Z".into();
    env.run(&["review", "accept", "028-0000000-0000000"])
        .assert_code(1); // 5
    assert_eq!(stored_of(&env, "audit-prune"), 0);
    // A minute past: the writing command's automatic purge prunes before it runs.
    env.now = "2027-12-20T10:01:00Z".into();
    env.run(&["review", "accept", "028-0000000-0000000"])
        .assert_code(1); // 6 prune, 7
    assert_eq!(
        stored(&env)
            .iter()
            .map(|e| format!("{}:{}", e.seq, e.command))
            .collect::<Vec<_>>(),
        ["5:review", "6:audit-prune", "7:review"]
    );
    env.run(&["-q", "audit", "verify"]).assert_code(0);
}

#[test]
fn removing_young_entries_behind_a_prune_is_detected() {
    // One more entry removed from the front is a gap the prune does not explain.
    let env = pruned_log();
    tamper(&env, "DELETE FROM audit_log WHERE seq = 6");
    assert_broken(&env, &["entries 1 to 6 are missing", "entry 7"]);
    // And a prune entry edited to cover for it no longer matches its MAC.
    let env = pruned_log();
    let mac6 = mac_of(&env, 6);
    tamper(
        &env,
        &format!(
            "DELETE FROM audit_log WHERE seq = 6;
             UPDATE audit_log SET counts = json_set(counts, '$.anchor_seq', 6, '$.anchor_mac', '{mac6}') WHERE seq = 9;"
        ),
    );
    assert_broken(&env, &["prune", "entry 9", "changed"]);
}

#[test]
fn a_kill_at_any_moment_leaves_a_valid_chain() {
    // Killed while appending: the entry is not there, the chain is whole.
    let mut env = log_of(2); // 1-4
    env.set_env("FULFIL_FAILPOINT", "audit:before-commit");
    let r = env.run(&["status"]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert_eq!(stored(&env).len(), 4);
    // Killed in the middle of a writing command: no entry, only the run's start in `runs`.
    env.set_env("FULFIL_FAILPOINT", "audit:before-commit");
    assert_ne!(env.run(&["purge"]).code, 0);
    assert_eq!(stored(&env).len(), 4);
    assert_eq!(
        env.count("SELECT count(*) FROM runs WHERE command = 'purge' AND finished_at IS NULL"),
        1
    );
    env.extra_env.clear();
    env.run(&["-q", "audit", "verify"]).assert_code(0);
    // Killed while pruning: nothing removed, and the next run prunes.
    env.now = "2028-01-20T10:00:00Z".into();
    env.set_env("FULFIL_FAILPOINT", "audit:prune-before-commit");
    assert_ne!(env.run(&["purge"]).code, 0);
    assert_eq!(stored(&env)[0].seq, 1);
    env.extra_env.clear();
    env.run(&["purge"]).assert_code(0);
    assert_eq!(stored(&env)[0].seq, 6);
    env.run(&["-q", "audit", "verify"]).assert_code(0);
}

#[test]
fn audit_retention_below_13_months_is_a_config_error() {
    let env = TestEnv::initialised();
    env.add_config("retention", "audit_months", "12");
    let r = env.run(&["audit"]);
    r.assert_code(2);
    assert!(r.stderr.contains("retention.audit_months"), "{}", r.stderr);
    assert!(r.stderr.contains("13"), "{}", r.stderr);
}
