//! The foundation: init, the encrypted store, keys, locks, config errors, status.

use std::os::unix::fs::PermissionsExt as _;

use crate::common::{TestEnv, contains, mode};

#[test]
fn init_makes_private_files_and_says_what_next() {
    let env = TestEnv::new();
    let r = env.run(&["init"]);
    r.assert_code(0);
    assert!(r.stdout.contains("created"), "{}", r.stdout);
    assert!(r.stdout.contains("next:"), "{}", r.stdout);
    assert!(r.stderr.is_empty(), "stderr: {}", r.stderr);
    assert_eq!(mode(&env.data()), 0o700);
    assert_eq!(mode(&env.key_file()), 0o600);
    assert_eq!(mode(&env.db()), 0o600);
    assert_eq!(mode(&env.config()), 0o600);
    let key = std::fs::read_to_string(env.key_file()).unwrap();
    assert_eq!(key.trim().len(), 64);
    assert!(key.trim().bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn init_never_overwrites() {
    let env = TestEnv::initialised();
    let key = std::fs::read(env.key_file()).unwrap();
    let db = std::fs::read(env.db()).unwrap();
    std::fs::write(env.config(), "# mine\n").unwrap();
    let r = env.run(&["init"]);
    r.assert_code(0);
    assert!(r.stdout.contains("kept"), "{}", r.stdout);
    assert_eq!(std::fs::read(env.key_file()).unwrap(), key);
    assert_eq!(std::fs::read(env.db()).unwrap(), db);
    assert_eq!(std::fs::read_to_string(env.config()).unwrap(), "# mine\n");
}

#[test]
fn init_refuses_a_database_without_its_key() {
    let env = TestEnv::initialised();
    std::fs::remove_file(env.key_file()).unwrap();
    let r = env.run(&["init"]);
    r.assert_code(2);
    assert!(!env.key_file().exists());
}

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
    let back: String = s
        .conn()
        .query_row("SELECT address_line1 FROM order_pii", [], |r| r.get(0))
        .unwrap();
    assert_eq!(back, canary);
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
fn status_counts_and_json() {
    let env = TestEnv::initialised();
    let r = env.run(&["status"]);
    r.assert_code(0);
    assert!(r.stdout.contains("orders    0"), "{}", r.stdout);
    let r = env.run(&["--json", "status"]);
    r.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["orders"], 0);
    assert!(v["database_bytes"].as_u64().unwrap() > 0);
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

/// The subcommands a user can type; completions and man pages must know all of them.
const SUBCOMMANDS: &[&str] = &[
    "init",
    "status",
    "sync-orders",
    "make-labels",
    "make-invoices",
    "tax-report",
    "rates",
    "confirm-shipments",
    "review",
    "purge",
    "forget-order",
    "rotate-key",
    "sandbox",
    "demo",
    "completions",
    "man",
    "doctor",
    "audit",
];

#[test]
fn completions_cover_every_command_and_are_valid_bash() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = env.run(&["--json", "completions", shell]);
        r.assert_code(0);
        for sub in SUBCOMMANDS {
            assert!(r.stdout.contains(sub), "{shell} completions lack {sub}");
        }
        // --json must not append a summary to the script.
        assert!(
            !r.stdout.contains("\"shell\""),
            "{shell}: JSON in the script"
        );
    }
    let r = env.run(&["completions", "bash"]);
    let script = env.dir.path().join("fulfil.bash");
    std::fs::write(&script, &r.stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let r = env.run(&["completions", "tcsh"]);
    r.assert_code(2);
    assert!(r.stderr.contains("possible values"), "{}", r.stderr);
}

#[test]
fn man_page_to_stdout_and_one_page_per_command() {
    let env = TestEnv::new();
    let r = env.run(&["man"]);
    r.assert_code(0);
    assert!(r.stdout.contains(".TH fulfil 1"), "{}", &r.stdout[..200]);
    assert!(r.stdout.contains("Exit codes"), "exit codes missing");
    for sub in SUBCOMMANDS {
        assert!(
            r.stdout.contains(&sub.replace('-', "\\-")),
            "man lacks {sub}"
        );
    }

    let dir = env.dir.path().join("man1");
    let r = env.run(&["--json", "man", "--dir", dir.to_str().unwrap()]);
    r.assert_code(0);
    let summary: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(summary["pages"], pages.len());
    for sub in SUBCOMMANDS {
        assert!(
            pages.contains(&format!("fulfil-{sub}.1")),
            "no page for {sub}: {pages:?}"
        );
    }
    assert!(pages.contains(&"fulfil.1".to_string()));
    assert!(pages.contains(&"fulfil-review-set-address.1".to_string()));
    // A subcommand's page shows how it is typed and the global flags.
    let page = std::fs::read_to_string(dir.join("fulfil-review-accept.1")).unwrap();
    assert!(page.contains("fulfil review accept"), "{page}");
    assert!(page.contains("\\-\\-config"), "{page}");
}
