//! purge: canaries gone from the database, its WAL and the files on their removal date,
//! and a control that proves the scan sees them before (forget-order and rotate-key have
//! files of their own and share the helpers here).

use std::path::{Path, PathBuf};

use fulfil::store::orders;

use crate::common::{TestEnv, contains, files_under};
use crate::sync_orders::add_canary_order;

pub const ORDER: &str = "028-9999999-0000001";

/// Writes a decrypted copy of the database (sqlcipher_export) and returns its bytes.
pub fn decrypted_export(env: &TestEnv) -> Vec<u8> {
    let out = env.dir.path().join(format!("export-{}.db", rand_suffix()));
    // The store's connection may not create files: give ATTACH an empty one.
    std::fs::write(&out, b"").unwrap();
    let s = env.open_store();
    s.conn()
        .execute_batch(&format!(
            "ATTACH DATABASE '{}' AS plaintext KEY ''; SELECT sqlcipher_export('plaintext'); DETACH DATABASE plaintext;",
            out.display()
        ))
        .unwrap();
    let bytes = std::fs::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    assert!(
        bytes.starts_with(b"SQLite format 3"),
        "the export is plain SQLite"
    );
    bytes
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A pipeline up to shipped labels with a canary order; returns the env, the canaries
/// and the order's removal date.
pub fn shipped_with_canary() -> (TestEnv, Vec<String>, String) {
    let env = TestEnv::sandboxed(20);
    let canaries = add_canary_order(&env);
    env.run(&["sync-orders"]).assert_code(0);
    let r = env.run(&["make-labels"]);
    assert!(r.code == 0 || r.code == 3, "{}", r.stderr);
    let due = orders::existing(env.read_store().conn(), ORDER)
        .unwrap()
        .expect("the canary order is stored")
        .pii_due_at
        .expect("the canary order was shipped");
    (env, canaries, due)
}

pub fn shift(t: &str, secs: i64) -> String {
    let t = fulfil::clock::parse_rfc3339(t).unwrap() + time::Duration::seconds(secs);
    fulfil::clock::rfc3339(t)
}

fn scan_files(dirs: &[PathBuf], canaries: &[String]) -> Vec<String> {
    let mut hits = Vec::new();
    for d in dirs {
        for f in files_under(d) {
            let bytes = std::fs::read(&f).unwrap_or_default();
            for c in canaries {
                if contains(&bytes, c) {
                    hits.push(format!("{c} in {}", f.display()));
                }
            }
        }
    }
    hits
}

#[test]
fn canaries_stay_until_day_30_and_are_gone_everywhere_after() {
    let (mut env, canaries, due) = shipped_with_canary();
    let print_files: Vec<String> =
        env.query("SELECT path FROM tracked_files WHERE removed_at IS NULL");
    assert!(!print_files.is_empty());

    // Day 29: nothing goes, and the canaries are found in a decrypted export (the
    // control that proves the scan can see them).
    env.now = shift(&due, -86_400);
    let r = env.run(&["--json", "purge", "--dry-run"]);
    r.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert!(
        !v["orders"].as_array().unwrap().iter().any(|o| o == ORDER),
        "{v}"
    );
    env.run(&["purge"]).assert_code(0);
    let export = decrypted_export(&env);
    for c in &canaries {
        assert!(
            contains(&export, c),
            "control: {c} must be in the export before the removal date"
        );
    }

    // Removal date + 1 s, at trace level.
    env.now = shift(&due, 1);
    env.set_env("FULFIL_LOG", "trace");
    let r = env.run(&["--json", "purge"]);
    r.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert!(v["purged"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["files_removed"].as_u64().unwrap() >= 1, "{v}");
    for c in &canaries {
        assert!(
            !r.stdout.contains(c.as_str()) && !r.stderr.contains(c.as_str()),
            "{c} in output"
        );
    }
    // Not in a decrypted export...
    let export = decrypted_export(&env);
    for c in &canaries {
        assert!(!contains(&export, c), "{c} still in the decrypted database");
    }
    // ...nor in the raw database, WAL or any file under the data and label directories.
    let hits = scan_files(&[env.data()], &canaries);
    assert!(hits.is_empty(), "{hits:?}");
    let wal = fulfil::store::wal_path(&env.db());
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the WAL is truncated"
    );
    for p in print_files {
        assert!(!Path::new(&p).exists(), "print file {p} removed");
    }
    // The anonymous order stays.
    let order = orders::existing(env.read_store().conn(), ORDER)
        .unwrap()
        .unwrap();
    assert_eq!(
        (order.stage, order.pii_purged_at.is_some()),
        (orders::Stage::Shipped, true)
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM order_items WHERE order_id = '{ORDER}'"
        )),
        1
    );
    assert_eq!(
        fulfil::store::labels::label_pdf(env.read_store().conn(), ORDER).unwrap(),
        None
    );
    let s = fulfil::store::Store::open(&env.db(), &env.key(), fulfil::store::Mode::Read).unwrap();
    assert!(s.integrity_ok().unwrap());
}

#[test]
fn every_command_removes_overdue_data_first() {
    let (mut env, _canaries, due) = shipped_with_canary();
    env.now = shift(&due, 3600);
    // Another command, not purge, is the first run after the removal date. (It exits 3:
    // an order left in review for weeks is past its ship-by date, and says so.)
    let r = env.run(&["make-labels"]);
    r.assert_code(3);
    assert!(r.stderr.contains("LATE by"), "{}", r.stderr);
    assert!(
        orders::pii(env.read_store().conn(), ORDER)
            .unwrap()
            .is_none()
    );
}

#[test]
fn files_outside_the_data_directories_are_never_touched() {
    let env = TestEnv::sandboxed(0);
    add_canary_order(&env);
    env.run(&["sync-orders"]).assert_code(0);
    let elsewhere = tempfile::tempdir().unwrap();
    let out = elsewhere.path().join("my-labels.pdf");
    env.run(&["make-labels", "--out", out.to_str().unwrap()])
        .assert_code(0);
    let mut env = env;
    env.now = "2027-01-01T00:00:00Z".into();
    let r = env.run(&["purge"]);
    r.assert_code(0);
    assert!(
        out.exists(),
        "a file outside the configured directories is not touched"
    );
    assert!(r.stderr.contains("not removed"), "{}", r.stderr);
}
