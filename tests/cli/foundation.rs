//! The foundation every command stands on: the encrypted store, its key, config and
//! usage errors, `FULFIL_NOW`, `--help` (init, status, completions and man have files
//! of their own).

use std::os::unix::fs::PermissionsExt as _;

use crate::common::{TestEnv, contains};

#[test]
fn database_is_encrypted_and_canary_is_not_on_disk() {
    let env = TestEnv::initialised();
    let canary = "CANARY-Zwanenburgwal-77";
    {
        let s = env.open_store();
        s.conn()
            .execute(
                "INSERT INTO orders(order_id, marketplace_id, fulfilled_by, amazon_status, stage,
                 created_at, amazon_updated_at, first_seen_at, synced_at)
                 VALUES ('028-0000000-0000001','A1805IZSGTT6HS','MERCHANT','UNSHIPPED','ready',
                 '2026-11-20T00:00:00Z','2026-11-20T00:00:00Z','2026-11-20T00:00:00Z','2026-11-20T00:00:00Z')",
                [],
            )
            .unwrap();
        s.conn()
            .execute(
                "INSERT INTO order_pii(order_id, address_line1) VALUES ('028-0000000-0000001', ?1)",
                [canary],
            )
            .unwrap();
        // While the connection is open the row sits in the WAL: check it there too.
        let wal = fulfil::store::wal_path(&env.db());
        if wal.exists() {
            assert!(!contains(&std::fs::read(&wal).unwrap(), canary));
        }
    }
    let db = std::fs::read(env.db()).unwrap();
    assert!(!db.starts_with(b"SQLite format 3"));
    assert!(!contains(&db, canary));
    // Control: the canary is really stored, and readable with the key.
    let s = env.open_store();
    let back = fulfil::store::orders::pii(s.conn(), "028-0000000-0000001")
        .unwrap()
        .and_then(|p| p.address_line1);
    assert_eq!(back.as_deref(), Some(canary));
}

#[test]
fn wrong_key_exits_2_and_leaves_the_file_alone() {
    let env = TestEnv::initialised();
    let before = std::fs::read(env.db()).unwrap();
    std::fs::write(env.key_file(), format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(env.key_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = env.run(&["status"]);
    r.assert_code(2);
    assert!(
        r.stderr.contains("the key does not match the database"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("file is not a database"), "{}", r.stderr);
    assert_eq!(std::fs::read(env.db()).unwrap(), before);
    assert!(!fulfil::store::wal_path(&env.db()).exists());
}

#[test]
fn a_file_that_is_not_a_database_is_reported_as_key_mismatch() {
    let env = TestEnv::initialised();
    std::fs::write(env.db(), b"just some text, not a database at all.....").unwrap();
    let r = env.run(&["status"]);
    r.assert_code(2);
    assert!(r.stderr.contains("key does not match"), "{}", r.stderr);
}

#[test]
fn group_readable_key_exits_2_with_chmod_hint() {
    let env = TestEnv::initialised();
    std::fs::set_permissions(env.key_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = env.run(&["status"]);
    r.assert_code(2);
    assert!(r.stderr.contains("chmod 600"), "{}", r.stderr);
}

#[test]
fn bad_config_names_file_and_key() {
    let env = TestEnv::initialised();
    let text = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(
        env.config(),
        text.replace("[postnl]", "[postnl]\ncustomer_kode = \"X\""),
    )
    .unwrap();
    let r = env.run(&["status"]);
    r.assert_code(2);
    assert!(r.stderr.contains("fulfil.toml"), "{}", r.stderr);
    assert!(r.stderr.contains("customer_kode"), "{}", r.stderr);
    assert_eq!(
        r.stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1
    );
}

#[test]
fn unknown_env_override_is_a_config_error() {
    let mut env = TestEnv::initialised();
    env.set_env("FULFIL_AMAZON_REFRESH_TOKN", "x");
    let r = env.run(&["status"]);
    r.assert_code(2);
    assert!(
        r.stderr.contains("FULFIL_AMAZON_REFRESH_TOKN"),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_config_hints_at_init() {
    let env = TestEnv::new();
    let r = env.run(&["status"]);
    r.assert_code(2);
    assert!(r.stderr.contains("fulfil init"), "{}", r.stderr);
}

#[test]
fn bad_fulfil_now_is_a_usage_error() {
    let mut env = TestEnv::initialised();
    env.now = "yesterday".into();
    let r = env.run(&["status"]);
    r.assert_code(2);
    assert!(r.stderr.contains("FULFIL_NOW"), "{}", r.stderr);
}

#[test]
fn usage_error_exits_2_and_help_lists_exit_codes() {
    let env = TestEnv::new();
    env.run(&["no-such-command"]).assert_code(2);
    let r = env.run(&["--help"]);
    r.assert_code(0);
    assert!(r.stdout.contains("Exit codes"), "{}", r.stdout);
    assert!(r.stdout.contains("4  temporary"), "{}", r.stdout);
}
