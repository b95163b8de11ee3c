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
            // A PDF's streams are compressed: its text too.
            let text = if bytes.starts_with(b"%PDF") {
                pdf_text(&f)
            } else {
                String::new()
            };
            for c in canaries {
                if contains(&bytes, c) || text.contains(c.as_str()) {
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
    assert!(
        !scan_files(&[env.data()], &canaries).is_empty(),
        "control: the scan finds the canaries in the print file before the removal date"
    );

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

/// A shipped canary order whose print file went to `out` (through `make-labels --out`,
/// run in `cwd`); returns the env, the canaries and the order's removal date.
fn shipped_with_canary_out(out: &str, cwd: &Path) -> (TestEnv, Vec<String>, String) {
    let env = TestEnv::sandboxed(0);
    let canaries = add_canary_order(&env);
    env.run(&["sync-orders"]).assert_code(0);
    let r: crate::common::Run = env
        .command(&["make-labels", "--out", out])
        .current_dir(cwd)
        .output()
        .unwrap()
        .into();
    r.assert_code(0);
    let due = orders::existing(env.read_store().conn(), ORDER)
        .unwrap()
        .unwrap()
        .pii_due_at
        .expect("the canary order was shipped");
    (env, canaries, due)
}

/// `fulfil purge` run from `cwd`.
fn purge_in(env: &TestEnv, cwd: &Path, args: &[&str]) -> crate::common::Run {
    let mut all = vec!["purge"];
    all.extend_from_slice(args);
    env.command(&all).current_dir(cwd).output().unwrap().into()
}

/// The canaries a print file shows, as text (the label PDFs compress their streams).
fn pdf_text(path: &Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Issue #20: a print file written with `--out` outside the data directory is fulfil's
/// to remove: present at day 29, gone at day 30 + 1 s, no canary left anywhere fulfil
/// wrote (the file's directory, the data directory, the database and its WAL).
#[test]
fn an_out_file_outside_the_data_directory_goes_on_its_removal_date() {
    let elsewhere = tempfile::tempdir().unwrap();
    let out = elsewhere.path().join("labels/today.pdf");
    let (mut env, canaries, due) = shipped_with_canary_out(out.to_str().unwrap(), elsewhere.path());
    let recorded = fulfil::store::written_files::record_of(
        env.read_store().conn(),
        out.canonicalize().unwrap().to_str().unwrap(),
    )
    .unwrap()
    .expect("the --out file is recorded by its resolved path");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(recorded.0, Some(bytes.len() as u64));
    assert_eq!(
        recorded.1.as_deref(),
        Some(fulfil::files::sha256_hex(&bytes).as_str())
    );
    let hits = scan_files(&[elsewhere.path().to_path_buf()], &canaries);
    assert!(
        !hits.is_empty(),
        "control: the scan finds the buyer in the label"
    );

    // Day 29: the file stays.
    env.now = shift(&due, -86_400);
    env.run(&["purge"]).assert_code(0);
    assert!(out.exists(), "the file stays before its removal date");

    env.now = shift(&due, 1);
    let r = env.run(&["--json", "purge"]);
    r.assert_code(0);
    assert_eq!(r.stderr, "", "no warning about the file");
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["files_removed"], 1, "{v}");
    assert!(!out.exists(), "the --out file is removed");
    let hits = scan_files(&[elsewhere.path().to_path_buf(), env.data()], &canaries);
    assert!(hits.is_empty(), "{hits:?}");
    let export = decrypted_export(&env);
    for c in &canaries {
        assert!(!contains(&export, c), "{c} still in the decrypted database");
    }
    let record = fulfil::store::written_files::record_of(
        env.read_store().conn(),
        out.parent()
            .unwrap()
            .canonicalize()
            .unwrap()
            .join("today.pdf")
            .to_str()
            .unwrap(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(record.2.as_deref(), Some("removed"));
}

/// Issue #20: `cd data && fulfil make-labels --out labels/today.pdf`, then purge from
/// another directory removes data/labels/today.pdf.
#[test]
fn a_relative_out_is_recorded_resolved_and_removed_from_anywhere() {
    let env = TestEnv::sandboxed(0);
    add_canary_order(&env);
    env.run(&["sync-orders"]).assert_code(0);
    let r: crate::common::Run = env
        .command(&["make-labels", "--out", "labels/today.pdf"])
        .current_dir(env.data())
        .output()
        .unwrap()
        .into();
    r.assert_code(0);
    let file = env.data().join("labels/today.pdf");
    assert!(file.exists());
    let paths: Vec<String> = fulfil::store::labels::tracked_files(env.read_store().conn())
        .unwrap()
        .into_iter()
        .map(|(p, _, _)| p)
        .collect();
    assert_eq!(
        paths,
        vec![file.canonicalize().unwrap().display().to_string()]
    );
    let mut env = env;
    env.now = "2027-01-01T00:00:00Z".into();
    let other = tempfile::tempdir().unwrap();
    purge_in(&env, other.path(), &[]).assert_code(0);
    assert!(!file.exists(), "data/labels/today.pdf is removed");
    assert!(
        !other.path().join("labels/today.pdf").exists(),
        "nothing is looked for relative to where purge runs"
    );
}

/// A recorded file for the left-alone cases: shipped, the print file at `out`, the
/// clock moved past the removal date.
fn due_with_out_file() -> (TestEnv, tempfile::TempDir, PathBuf) {
    let elsewhere = tempfile::Builder::new()
        .prefix("fulfil-out")
        .tempdir()
        .unwrap();
    let out = elsewhere.path().canonicalize().unwrap().join("today.pdf");
    let (mut env, _canaries, due) =
        shipped_with_canary_out(out.to_str().unwrap(), elsewhere.path());
    env.now = shift(&due, 1);
    (env, elsewhere, out)
}

/// Purge, status and doctor name the file (path only) with the hint.
#[track_caller]
fn assert_named_everywhere(env: &TestEnv, path: &Path, says: &str) {
    let p = path.display().to_string();
    let r = env.run(&["purge"]);
    r.assert_code(3);
    assert!(
        r.stderr.contains(&p) && r.stderr.contains(says),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("fulfil purge --forget-file PATH"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Canary"), "{}", r.stderr);
    let r = env.run(&["status"]);
    r.assert_code(0);
    assert!(
        r.stdout.contains(&p) && r.stdout.contains(says),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("--forget-file"), "{}", r.stdout);
    let r = env.run(&["doctor"]);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("overdue-pii"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(line.starts_with("fail") && line.contains(&p), "{line}");
}

#[test]
fn a_changed_file_is_left_alone_and_named_until_it_is_forgotten() {
    let (env, _dir, out) = due_with_out_file();
    std::fs::write(&out, b"%PDF-1.7 the seller's own file").unwrap();
    assert_named_everywhere(&env, &out, "changed since fulfil wrote it");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"%PDF-1.7 the seller's own file",
        "not touched"
    );
    // --forget-file takes it off the list; the file stays.
    let r = env.run(&["purge", "--forget-file", "/nowhere/x.pdf"]);
    r.assert_code(2);
    env.run(&["purge", "--forget-file", out.to_str().unwrap()])
        .assert_code(0);
    env.run(&["purge"]).assert_code(0);
    assert!(out.exists());
    let r = env.run(&["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["files_left_alone"], serde_json::json!([]), "{v}");
}

#[test]
fn a_file_replaced_by_a_symlink_is_left_alone_and_its_target_kept() {
    let (env, dir, out) = due_with_out_file();
    let target = dir.path().join("precious.pdf");
    std::fs::copy(&out, &target).unwrap();
    let before = std::fs::read(&target).unwrap();
    std::fs::remove_file(&out).unwrap();
    std::os::unix::fs::symlink(&target, &out).unwrap();
    assert_named_everywhere(&env, &out, "replaced by a symbolic link");
    assert_eq!(
        std::fs::read(&target).unwrap(),
        before,
        "the target is untouched"
    );
    assert!(out.is_symlink());
    // The seller removes the link: the next purge drops the record, quietly.
    std::fs::remove_file(&out).unwrap();
    let r = env.run(&["--json", "purge"]);
    r.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["files_gone"], 1, "{v}");
    let r = env.run(&["status"]);
    assert!(!r.stdout.contains("left alone"), "{}", r.stdout);
}

/// Run as `nobody` (through setpriv, as the doctor tests do): a print file that belongs
/// to another user (root here) is neither overwritten nor unlinked, though `nobody` may
/// unlink in its directory.
#[test]
fn a_file_owned_by_another_user_is_left_alone() {
    crate::doctor::assert_root();
    let (env, dir, out) = due_with_out_file();
    crate::doctor::chown_tree(env.dir.path(), crate::doctor::NOBODY);
    crate::doctor::chown_tree(dir.path(), crate::doctor::NOBODY);
    std::os::unix::fs::lchown(&out, Some(0), Some(0)).unwrap();
    let before = std::fs::read(&out).unwrap();
    let r = crate::doctor::run_as_nobody(&env, &["purge"]);
    r.assert_code(3);
    assert!(
        r.stderr.contains(out.to_str().unwrap()) && r.stderr.contains("owned by another user"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(&out).unwrap(), before, "not overwritten");
    let r = crate::doctor::run_as_nobody(&env, &["status"]);
    assert!(r.stdout.contains("owned by another user"), "{}", r.stdout);
}

/// kill -9 after the overwrite and before the unlink: the rerun finishes the removal
/// (the zeros it finds are accepted because the overwrite was recorded as begun).
#[test]
fn a_purge_killed_between_overwrite_and_unlink_finishes_on_rerun() {
    let (mut env, _dir, out) = due_with_out_file();
    let size = std::fs::metadata(&out).unwrap().len();
    env.set_env("FULFIL_FAILPOINT", "purge:file-overwritten");
    let r = env.run(&["purge"]);
    assert_ne!(r.code, 0, "killed: {}", r.stderr);
    assert!(
        r.stderr.contains("failpoint purge:file-overwritten"),
        "{}",
        r.stderr
    );
    let left = std::fs::read(&out).unwrap();
    assert_eq!(left.len() as u64, size);
    assert!(left.iter().all(|b| *b == 0), "overwritten before the kill");
    env.set_env("FULFIL_FAILPOINT", "");
    let r = env.run(&["--json", "purge"]);
    r.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["files_removed"], 1, "{v}");
    assert!(!out.exists());
}
