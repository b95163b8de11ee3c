//! `fulfil doctor`: a healthy setup passes every check, and each check fails on a
//! setup made to break it.
//!
//! The tests run as root (CI and the project machine do), which is itself a failing
//! check. The all-pass cases therefore hand the whole test directory to `nobody`
//! (uid 65534) and run the binary through `setpriv`, as an unprivileged cron user
//! would; the root case runs the binary as root and expects `not-root` to fail.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use crate::common::{Run, TestEnv};
use crate::sync_orders::add_canary_order;

pub(crate) const NOBODY: u32 = 65534;

/// Every check, in the order doctor prints them.
const CHECKS: &[&str] = &[
    "config",
    "secrets",
    "not-root",
    "key-file",
    "data-dir",
    "db-file",
    "labels-dir",
    "invoices-dir",
    "cloud-sync",
    "sqlcipher",
    "database",
    "integrity",
    "endpoints",
    "secret-age",
    "vat-rates",
    "overdue-pii",
    "disk-space",
];

#[track_caller]
pub(crate) fn assert_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the doctor tests change file owners and drop privileges: run them as root (CI does)"
    );
}

pub(crate) fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for e in std::fs::read_dir(path).unwrap() {
            chown_tree(&e.unwrap().path(), uid);
        }
    }
}

/// Runs fulfil as `nobody`, after giving it the whole test directory.
fn run_unprivileged(env: &TestEnv, args: &[&str]) -> Run {
    assert_root();
    chown_tree(env.dir.path(), NOBODY);
    run_as_nobody(env, args)
}

/// True when every directory above `path` lets other users pass.
fn reachable_by_others(path: &Path) -> bool {
    path.ancestors()
        .skip(1)
        .all(|d| std::fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// The binary, where `nobody` may run it: in place when the path allows it, else a
/// copy made once per test process (a checkout under /root is closed to others).
fn binary_for_nobody() -> &'static Path {
    static BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let bin = Path::new(env!("CARGO_BIN_EXE_fulfil"));
        if reachable_by_others(bin) {
            return bin.to_path_buf();
        }
        let dir = tempfile::Builder::new()
            .prefix("fulfil-bin")
            .tempdir()
            .unwrap()
            .keep();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let copy = dir.join("fulfil");
        std::fs::copy(bin, &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        copy
    })
}

/// Runs fulfil as `nobody`, leaving the owners as they are.
pub(crate) fn run_as_nobody(env: &TestEnv, args: &[&str]) -> Run {
    assert!(
        reachable_by_others(env.dir.path()),
        "{} must be reachable by other users (set TMPDIR to a directory such as /tmp)",
        env.dir.path().display()
    );
    let inner = env.command(args);
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={NOBODY}"))
        .arg("--clear-groups")
        .arg(binary_for_nobody())
        .args(inner.get_args())
        .env_clear()
        .envs(inner.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
    cmd.output()
        .expect(
            "these tests run fulfil as `nobody` through setpriv: install util-linux (CI has it)",
        )
        .into()
}

fn run_root(env: &TestEnv, args: &[&str]) -> Run {
    assert_root();
    env.run(args)
}

/// The status word and the detail of one check's line.
#[track_caller]
fn line<'a>(r: &'a Run, name: &str) -> (&'a str, &'a str) {
    for l in r.stdout.lines() {
        let mut parts = l.splitn(2, ' ');
        let status = parts.next().unwrap_or("");
        let rest = parts.next().unwrap_or("").trim_start();
        if let Some(detail) = rest.strip_prefix(name)
            && detail.starts_with("  ")
        {
            return (status, detail.trim());
        }
    }
    panic!("no line for {name}\n--- stdout\n{}", r.stdout);
}

/// The hint printed under a check's line.
#[track_caller]
fn hint<'a>(r: &'a Run, name: &str) -> &'a str {
    let lines: Vec<&str> = r.stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no line for {name}\n{}", r.stdout));
    lines
        .get(i + 1)
        .and_then(|l| l.strip_prefix("  hint: "))
        .unwrap_or_else(|| panic!("no hint under {name}\n{}", r.stdout))
}

/// Asserts the statuses: the listed checks have theirs, every other one is `ok`.
#[track_caller]
fn assert_statuses(r: &Run, expected: &[(&str, &str)]) {
    for name in CHECKS {
        let want = expected
            .iter()
            .find(|(n, _)| n == name)
            .map_or("ok", |(_, s)| *s);
        let (got, detail) = line(r, name);
        assert_eq!(got, want, "{name}: {detail}\n--- stdout\n{}", r.stdout);
    }
}

fn days_before_now(env: &TestEnv, days: i64) -> String {
    let now = fulfil::clock::parse_rfc3339(&env.now).unwrap();
    (now - time::Duration::days(days)).date().to_string()
}

/// A sandbox setup with a recent secret rotation: nothing to warn about.
fn healthy(orders: usize) -> TestEnv {
    let env = TestEnv::sandboxed(orders);
    env.add_config(
        "amazon",
        "client_secret_rotated",
        &days_before_now(&env, 10),
    );
    env
}

fn secrets_of(env: &TestEnv) -> Vec<String> {
    use fulfil::sandbox::creds;
    vec![
        creds::LWA_CLIENT_ID.to_string(),
        creds::LWA_CLIENT_SECRET.to_string(),
        creds::REFRESH_TOKEN.to_string(),
        creds::POSTNL_API_KEY.to_string(),
        env.key().hex().to_string(),
    ]
}

#[test]
fn healthy_setup_passes_every_check_as_an_unprivileged_user() {
    let env = healthy(5);
    env.run(&["sync-orders"]).assert_code(0);
    let r = run_unprivileged(&env, &["doctor"]);
    r.assert_code(0);
    assert_statuses(&r, &[]);
    assert_eq!(r.stdout.lines().count(), CHECKS.len(), "{}", r.stdout);
    assert_eq!(r.stderr, "");
    assert!(line(&r, "not-root").1.contains("uid 65534"));
    assert!(line(&r, "key-file").1.ends_with("db.key 0600, yours"));
    assert!(line(&r, "data-dir").1.contains("0700, yours"));
    assert!(
        line(&r, "endpoints")
            .1
            .contains("amazon.endpoint http on loopback (sandbox)")
    );
    assert!(line(&r, "secret-age").1.contains("10 days ago"));
    for s in secrets_of(&env) {
        assert!(!r.stdout.contains(&s), "a secret in the output");
    }

    // --json: the same checks, with name, status, detail and hint each.
    let r = run_unprivileged(&env, &["--json", "doctor"]);
    r.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let checks = v["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, CHECKS);
    for c in checks {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["detail", "hint", "name", "status"], "{c}");
        assert_eq!(c["status"], "ok", "{c}");
        assert!(c["hint"].is_null());
    }
    assert_eq!(
        v["summary"],
        serde_json::json!({"ok": 17, "warn": 0, "fail": 0, "skip": 0, "exit": 0})
    );
    // Like every command that opens the database, doctor's runs are in the audit log,
    // with counts only; the run history of writing commands is not touched.
    let r = run_as_nobody(&env, &["--json", "audit"]);
    r.assert_code(0);
    let entries: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let doctors: Vec<&serde_json::Value> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["command"] == "doctor")
        .collect();
    assert_eq!(doctors.len(), 2, "{entries}");
    assert_eq!(doctors[0]["outcome"], "ok", "{entries}");
    assert!(!doctors[0].to_string().contains("db.key"), "{entries}");
    run_as_nobody(&env, &["audit", "verify"]).assert_code(0);
    assert_eq!(
        env.count("SELECT count(*) FROM runs WHERE command = 'doctor'"),
        0
    );
}

#[test]
fn running_as_root_fails() {
    let env = healthy(0);
    let r = run_root(&env, &["doctor"]);
    r.assert_code(1);
    assert_statuses(&r, &[("not-root", "fail")]);
    assert_eq!(line(&r, "not-root").1, "running as root");
    assert!(hint(&r, "not-root").contains("unprivileged user"));
    // -q shows only what needs attention.
    let r = run_root(&env, &["-q", "doctor"]);
    r.assert_code(1);
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);
    assert!(r.stdout.starts_with("fail not-root"));
}

#[test]
fn a_key_file_readable_by_others_fails() {
    let env = healthy(0);
    chown_tree(env.dir.path(), NOBODY);
    std::fs::set_permissions(env.key_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = run_unprivileged(&env, &["doctor"]);
    r.assert_code(1);
    assert_statuses(&r, &[("key-file", "fail")]);
    assert!(line(&r, "key-file").1.contains("mode 0644"));
    assert_eq!(
        hint(&r, "key-file"),
        format!("run: chmod 600 {}", env.key_file().display())
    );
}

#[test]
fn a_data_directory_owned_by_another_user_fails() {
    let env = healthy(0);
    // As root, with the directory handed to uid 65534.
    std::os::unix::fs::chown(env.data(), Some(NOBODY), Some(NOBODY)).unwrap();
    let r = run_root(&env, &["doctor"]);
    r.assert_code(1);
    assert_statuses(&r, &[("not-root", "fail"), ("data-dir", "fail")]);
    assert!(
        line(&r, "data-dir")
            .1
            .contains("is owned by uid 65534, not by this user (uid 0)"),
        "{}",
        r.stdout
    );

    // Unprivileged, with a labels directory that belongs to root.
    chown_tree(env.dir.path(), NOBODY);
    let labels = env.data().join("labels");
    std::fs::create_dir(&labels).unwrap();
    std::fs::set_permissions(&labels, std::fs::Permissions::from_mode(0o700)).unwrap();
    let r = run_as_nobody(&env, &["doctor"]);
    r.assert_code(1);
    assert_statuses(&r, &[("labels-dir", "fail")]);
    assert!(
        line(&r, "labels-dir")
            .1
            .contains("is owned by uid 0, not by this user (uid 65534)")
    );
    assert!(hint(&r, "labels-dir").starts_with("run fulfil as its owner"));
}

#[test]
fn as_root_on_a_users_data_it_leaves_no_file_of_roots_behind() {
    let env = healthy(3);
    env.run(&["sync-orders"]).assert_code(0);
    chown_tree(env.dir.path(), NOBODY);
    let r = run_root(&env, &["doctor"]);
    r.assert_code(1);
    assert_statuses(
        &r,
        &[
            ("not-root", "fail"),
            ("key-file", "fail"),
            ("data-dir", "fail"),
            ("db-file", "fail"),
            ("config", "fail"),
            ("database", "skip"),
            ("integrity", "skip"),
            ("vat-rates", "skip"),
            ("overdue-pii", "skip"),
        ],
    );
    assert!(
        line(&r, "database")
            .1
            .contains("belongs to uid 65534: not opened as uid 0")
    );
    for f in crate::common::files_under(&env.data()) {
        use std::os::unix::fs::MetadataExt as _;
        let uid = std::fs::metadata(&f).unwrap().uid();
        assert_eq!(uid, NOBODY, "{} belongs to uid {uid}", f.display());
    }
}

#[test]
fn a_config_holding_secrets_must_be_private() {
    let env = healthy(0);
    chown_tree(env.dir.path(), NOBODY);
    std::fs::set_permissions(env.config(), std::fs::Permissions::from_mode(0o640)).unwrap();
    let r = run_unprivileged(&env, &["doctor"]);
    r.assert_code(1);
    assert_statuses(&r, &[("config", "fail")]);
    let detail = line(&r, "config").1;
    assert!(detail.contains("mode 0640"), "{detail}");
    assert!(
        detail.contains(
            "it holds amazon.client_id, amazon.client_secret, amazon.refresh_token, postnl.api_key"
        ),
        "{detail}"
    );
    assert!(hint(&r, "config").starts_with("run: chmod 600"));
}

#[test]
fn a_data_directory_inside_dropbox_fails_also_through_a_symlink() {
    let env = TestEnv::new();
    let synced = env.dir.path().join("Dropbox (Personal)").join("fulfil");
    std::fs::create_dir_all(&synced).unwrap();
    std::os::unix::fs::symlink(&synced, env.data()).unwrap();
    env.run(&["init"]).assert_code(0);
    let r = run_root(&env, &["doctor"]);
    r.assert_code(1);
    let (status, detail) = line(&r, "cloud-sync");
    assert_eq!(status, "fail", "{}", r.stdout);
    assert!(detail.contains("Dropbox"), "{detail}");
    assert!(detail.contains(&synced.display().to_string()), "{detail}");
    assert!(hint(&r, "cloud-sync").contains("out of the synced folder"));
}

#[test]
fn a_plain_http_endpoint_off_this_machine_fails() {
    let env = healthy(0);
    env.set_config("endpoint", "\"http://sellingpartnerapi-eu.example.com\"");
    let r = run_unprivileged(&env, &["doctor"]);
    r.assert_code(1);
    // The config still parses: the endpoint is reported by its own check.
    assert_statuses(&r, &[("endpoints", "fail")]);
    let detail = line(&r, "endpoints").1;
    assert!(
        detail.contains("amazon.endpoint: plain http is only allowed for loopback addresses"),
        "{detail}"
    );
    assert!(hint(&r, "endpoints").contains("https://"));
    // The commands that connect still refuse the file as a whole.
    let r = env.run(&["sync-orders"]);
    r.assert_code(2);
    assert!(r.stderr.contains("amazon.endpoint"), "{}", r.stderr);
}

#[test]
fn online_reaches_the_sandbox_and_fails_on_a_dead_or_non_tls_endpoint() {
    let env = healthy(0);
    let r = run_root(&env, &["doctor", "--online"]);
    let detail = line(&r, "endpoints").1;
    assert_eq!(line(&r, "endpoints").0, "ok", "{detail}");
    assert!(detail.ends_with("(reached)"), "{detail}");
    // SP-API, LWA, PostNL, the ECB rates, VIES and TEDB (#14).
    assert_eq!(detail.matches("http on loopback (sandbox)").count(), 6);

    // An https endpoint whose server hangs up instead of a TLS handshake, and a
    // port where nothing listens.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        if let Ok((s, _)) = listener.accept() {
            drop(s);
        }
    });
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    let url = env.sb().url();
    let cfg = cfg
        .replace(
            &format!("endpoint = \"{url}\"\napi_key"),
            &format!("endpoint = \"https://127.0.0.1:{port}\"\napi_key"),
        )
        .replace(
            &format!("lwa_endpoint = \"{url}/auth/o2/token\""),
            &format!("lwa_endpoint = \"http://127.0.0.1:{dead_port}/auth/o2/token\""),
        );
    std::fs::write(env.config(), cfg).unwrap();
    let r = run_root(&env, &["doctor", "--online"]);
    server.join().unwrap();
    r.assert_code(1);
    let (status, detail) = line(&r, "endpoints");
    assert_eq!(status, "fail");
    assert!(
        detail.contains(&format!(
            "postnl.endpoint: TLS handshake with 127.0.0.1:{port} failed"
        )),
        "{detail}"
    );
    assert!(
        detail.contains(&format!(
            "amazon.lwa_endpoint: cannot connect to 127.0.0.1:{dead_port}"
        )),
        "{detail}"
    );
    // Offline, neither is contacted and both pass the transport rule.
    let r = run_root(&env, &["doctor"]);
    assert_eq!(line(&r, "endpoints").0, "ok", "{}", r.stdout);
}

#[test]
fn the_lwa_secret_age_warns_from_day_150_and_fails_from_day_180() {
    let env = TestEnv::sandboxed(0);
    let r = run_unprivileged(&env, &["doctor"]);
    r.assert_code(0);
    assert_statuses(&r, &[("secret-age", "warn")]);
    assert!(hint(&r, "secret-age").contains("amazon.client_secret_rotated"));

    env.add_config(
        "amazon",
        "client_secret_rotated",
        &days_before_now(&env, 160),
    );
    let r = run_unprivileged(&env, &["doctor"]);
    r.assert_code(0);
    assert_statuses(&r, &[("secret-age", "warn")]);
    assert!(line(&r, "secret-age").1.contains("expires in 20 days"));

    env.set_config("client_secret_rotated", &days_before_now(&env, 200));
    let r = run_unprivileged(&env, &["doctor"]);
    r.assert_code(1);
    assert_statuses(&r, &[("secret-age", "fail")]);
    let detail = line(&r, "secret-age").1;
    assert!(detail.contains("200 days ago"), "{detail}");
    assert!(detail.contains("180-day"), "{detail}");
}

#[test]
fn vat_rates_warn_from_60_days_before_their_horizon_and_fail_on_it() {
    // The built-in table is verified up to 2027-12-31.
    let mut env = TestEnv::sandboxed(0);
    env.add_config("amazon", "client_secret_rotated", "2027-10-01");
    for (now, status, says) in [
        (
            "2027-10-31T09:00:00Z",
            "ok",
            "verified up to 2027-12-31 (61 days)",
        ),
        (
            "2027-11-02T09:00:00Z",
            "warn",
            "only up to 2027-12-31 (59 days)",
        ),
        (
            "2027-12-31T09:00:00Z",
            "fail",
            "invoices after it wait for a rate",
        ),
    ] {
        env.now = now.to_string();
        let r = run_unprivileged(&env, &["doctor"]);
        r.assert_code(i32::from(status == "fail"));
        assert_statuses(&r, &[("vat-rates", status)]);
        let detail = line(&r, "vat-rates").1;
        assert!(detail.contains(says), "{now}: {detail}");
        if status != "ok" {
            assert!(hint(&r, "vat-rates").contains("fulfil rates update"));
        }
    }
}

#[test]
fn overdue_personal_data_fails_and_doctor_does_not_purge_it() {
    let mut env = healthy(20);
    let canaries = add_canary_order(&env);
    env.run(&["sync-orders"]).assert_code(0);
    let r = env.run(&["make-labels"]);
    assert!(r.code == 0 || r.code == 3, "{}", r.stderr);
    let shipped = {
        let s = env.read_store();
        fulfil::store::orders::ids(s.conn())
            .unwrap()
            .iter()
            .filter_map(|id| fulfil::store::orders::existing(s.conn(), id).unwrap())
            .filter(|e| e.pii_due_at.is_some())
            .count()
    };
    assert!(shipped > 0);
    let holding = env.count("SELECT count(*) FROM orders WHERE has_pii = 1");

    // Day 1: nothing overdue.
    let r = run_unprivileged(&env, &["doctor"]);
    r.assert_code(0);
    assert_statuses(&r, &[]);

    // 40 days later every shipped order is overdue.
    env.now = "2026-12-30T10:00:00Z".into();
    let r = run_unprivileged(&env, &["doctor"]);
    r.assert_code(1);
    assert_statuses(&r, &[("overdue-pii", "fail")]);
    assert_eq!(
        line(&r, "overdue-pii").1,
        format!("{shipped} order(s) past their removal date still hold personal data")
    );
    assert!(hint(&r, "overdue-pii").contains("fulfil purge"));
    for c in &canaries {
        assert!(!r.stdout.contains(c.as_str()) && !r.stderr.contains(c.as_str()));
    }
    // doctor removed nothing and recorded no run.
    assert_eq!(
        env.count("SELECT count(*) FROM orders WHERE has_pii = 1"),
        holding
    );
    assert_eq!(
        env.count("SELECT count(*) FROM runs WHERE command = 'doctor'"),
        0
    );

    run_unprivileged(&env, &["purge"]).assert_code(0);
    let r = run_unprivileged(&env, &["doctor"]);
    r.assert_code(0);
    assert_eq!(line(&r, "overdue-pii").0, "ok");
}

#[test]
fn a_corrupted_page_fails_the_integrity_check() {
    let env = healthy(20);
    env.run(&["sync-orders"]).assert_code(0);
    // Everything into the main file, so that the page read is the one on disk.
    env.open_store().checkpoint().unwrap();
    let mut bytes = std::fs::read(env.db()).unwrap();
    let page = 4096;
    let pages = bytes.len() / page;
    assert!(pages > 8, "{pages} pages");
    // The last page: data sync-orders wrote, never a table's root or the schema (those
    // come first, from the migrations), so the database still opens and only the
    // integrity check can tell.
    let victim = pages - 1;
    for b in &mut bytes[victim * page + 1000..victim * page + 1016] {
        *b ^= 0xA5;
    }
    std::fs::write(env.db(), &bytes).unwrap();
    // The control: SQLCipher itself sees the broken page.
    {
        let s =
            fulfil::store::Store::open(&env.db(), &env.key(), fulfil::store::Mode::Read).unwrap();
        let bad = s.cipher_integrity_problems().unwrap();
        assert_eq!(bad.len(), 1, "{bad:?}");
    }
    let r = run_unprivileged(&env, &["doctor"]);
    r.assert_code(1);
    // Which table the broken page belongs to depends on the schema: when it is one that
    // another check reads, that check fails too and points at the integrity check.
    let mut expected = vec![("integrity", "fail")];
    for name in ["vat-rates", "overdue-pii"] {
        let status = line(&r, name).0;
        if status == "fail" {
            assert_eq!(hint(&r, name), "see the integrity check");
        }
        expected.push((name, status));
    }
    assert_statuses(&r, &expected);
    let detail = line(&r, "integrity").1;
    assert!(
        detail.starts_with("cipher_integrity_check: 1 page(s) fail their HMAC"),
        "{detail}"
    );
    assert!(hint(&r, "integrity").contains("restore the database from a backup"));
}

#[test]
fn a_wrong_key_fails_and_changes_nothing() {
    let env = healthy(3);
    env.run(&["sync-orders"]).assert_code(0);
    env.open_store().checkpoint().unwrap();
    let other = fulfil::store::DbKey::generate().unwrap();
    std::fs::write(env.key_file(), format!("{}\n", other.hex())).unwrap();
    let before = std::fs::read(env.db()).unwrap();
    let r = run_unprivileged(&env, &["doctor"]);
    r.assert_code(1);
    assert_statuses(
        &r,
        &[
            ("database", "fail"),
            ("integrity", "skip"),
            ("vat-rates", "skip"),
            ("overdue-pii", "skip"),
        ],
    );
    assert!(line(&r, "database").1.starts_with("the key does not open"));
    assert!(hint(&r, "database").contains("nothing was written"));
    assert_eq!(line(&r, "integrity").1, "the database did not open");
    assert_eq!(before, std::fs::read(env.db()).unwrap(), "the file changed");
    assert!(!r.stdout.contains(other.hex()));
}

#[test]
fn a_failing_secret_command_fails_without_showing_its_output_or_text() {
    let env = healthy(0);
    env.replace_config_line(
        "client_secret = ",
        "client_secret_command = \"echo sekrit-on-stdout; echo sekrit-on-stderr >&2; exit 3\"",
    );
    let r = run_unprivileged(&env, &["doctor"]);
    r.assert_code(1);
    assert_statuses(&r, &[("secrets", "fail")]);
    let detail = line(&r, "secrets").1;
    assert!(
        detail.contains("client_secret_command: the command failed (exit status: 3)"),
        "{detail}"
    );
    assert!(!r.stdout.contains("sekrit") && !r.stderr.contains("sekrit"));
}

#[test]
fn a_missing_config_fails_and_skips_what_depends_on_it() {
    let env = TestEnv::new();
    let r = run_root(&env, &["--json", "doctor"]);
    r.assert_code(1);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let status = |name: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(status("config")["status"], "fail");
    assert!(
        status("config")["hint"]
            .as_str()
            .unwrap()
            .contains("fulfil init")
    );
    assert_eq!(status("sqlcipher")["status"], "ok");
    assert_eq!(status("not-root")["status"], "fail");
    for name in ["secrets", "key-file", "database", "integrity", "disk-space"] {
        assert_eq!(status(name)["status"], "skip", "{name}");
    }
    assert_eq!(v["summary"]["fail"], 2);
    assert_eq!(v["summary"]["skip"], 14);
}
