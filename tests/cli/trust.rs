//! Issue #15, item 2: a config file or data directory that other users can write, or
//! that another user owns, is refused before any of its `*_command` secrets runs,
//! as the key file is refused: exit 2, one `error:` line, a hint that names the fix.
//!
//! The tests run as root (CI does); "another user" is `nobody` (uid 65534).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::common::{Run, TestEnv};

const NOBODY: u32 = 65534;

/// A sandbox setup whose LWA client secret comes from a command that leaves a marker.
fn with_secret_command() -> (TestEnv, PathBuf) {
    let env = TestEnv::sandboxed(2);
    let marker = env.dir.path().join("marker");
    env.replace_config_line(
        "client_secret =",
        &format!(
            "client_secret_command = \"touch {}; printf %s '{}'\"",
            marker.display(),
            fulfil::sandbox::creds::LWA_CLIENT_SECRET
        ),
    );
    (env, marker)
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[track_caller]
fn assert_refused(r: &Run, marker: &Path, what: &str, hint: &str) {
    r.assert_code(2);
    let e = r.one_error();
    assert!(e.contains(what), "{e}\n{}", r.stderr);
    let hints: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("hint:"))
        .collect();
    assert!(
        hints.iter().any(|h| h.contains(hint)),
        "no hint with {hint:?}\n{}",
        r.stderr
    );
    assert!(!marker.exists(), "the secret command ran:\n{}", r.stderr);
}

#[test]
fn issue_15_a_config_that_others_can_write_is_refused_before_its_commands_run() {
    let (env, marker) = with_secret_command();
    // As it should be: the command runs and the sync works.
    env.run(&["sync-orders"]).assert_code(0);
    assert!(marker.exists());
    std::fs::remove_file(&marker).unwrap();

    let config = env.config().display().to_string();
    for mode in [0o666, 0o620, 0o602] {
        chmod(&env.config(), mode);
        let r = env.run(&["sync-orders"]);
        assert_refused(
            &r,
            &marker,
            &format!("{config} has mode {mode:04o}: other users can write it"),
            &format!("chmod go-w {config}"),
        );
    }
    // Readable is not writable: a config without secrets of its own may be 0644.
    chmod(&env.config(), 0o644);
    env.run(&["sync-orders"]).assert_code(0);
    assert!(marker.exists());
}

#[test]
fn issue_15_a_config_owned_by_another_user_is_refused() {
    let (env, marker) = with_secret_command();
    std::os::unix::fs::chown(env.config(), Some(NOBODY), Some(NOBODY)).unwrap();
    chmod(&env.config(), 0o644);
    let r = env.run(&["sync-orders"]);
    let config = env.config().display().to_string();
    assert_refused(
        &r,
        &marker,
        &format!("{config} is owned by uid {NOBODY}, not by this user (uid 0)"),
        &format!("chown 0 {config}"),
    );
    // Also for commands that only read.
    let r = env.run(&["status"]);
    assert_refused(&r, &marker, "is owned by uid 65534", "chown");
}

#[test]
fn issue_15_a_data_directory_that_others_can_write_is_refused() {
    let (env, marker) = with_secret_command();
    let data = env.data().display().to_string();
    chmod(&env.data(), 0o777);
    let r = env.run(&["sync-orders"]);
    assert_refused(
        &r,
        &marker,
        &format!("{data} has mode 0777: other users can write it"),
        &format!("chmod go-w {data}"),
    );
    chmod(&env.data(), 0o700);
    std::os::unix::fs::chown(env.data(), Some(NOBODY), Some(NOBODY)).unwrap();
    let r = env.run(&["sync-orders"]);
    assert_refused(
        &r,
        &marker,
        &format!("{data} is owned by uid {NOBODY}"),
        &format!("chown 0 {data}"),
    );
    std::os::unix::fs::chown(env.data(), Some(0), Some(0)).unwrap();
    env.run(&["sync-orders"]).assert_code(0);
    assert!(marker.exists());
}

#[test]
fn issue_15_a_key_file_owned_by_another_user_gets_a_chown_hint() {
    let env = TestEnv::sandboxed(0);
    let key = env.key_file().display().to_string();
    std::os::unix::fs::chown(env.key_file(), Some(NOBODY), Some(NOBODY)).unwrap();
    let r = env.run(&["sync-orders"]);
    r.assert_code(2);
    let e = r.one_error();
    assert!(
        e.contains(&format!(
            "{key} is owned by uid {NOBODY}, not by this user (uid 0)"
        )),
        "{e}"
    );
    assert!(r.stderr.contains(&format!("chown 0 {key}")), "{}", r.stderr);
    assert!(!r.stderr.contains("chmod 600"), "{}", r.stderr);
    // Readable by others: chmod 600 is the fix, as before.
    std::os::unix::fs::chown(env.key_file(), Some(0), Some(0)).unwrap();
    chmod(&env.key_file(), 0o640);
    let r = env.run(&["sync-orders"]);
    r.assert_code(2);
    assert!(r.one_error().contains("mode 0640"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("hint: run: chmod 600 {key}")),
        "{}",
        r.stderr
    );
}

#[test]
fn issue_15_doctor_flags_a_writable_config_and_does_not_run_its_commands() {
    let (env, marker) = with_secret_command();
    chmod(&env.config(), 0o666);
    let r = env.run(&["doctor"]);
    r.assert_code(1);
    let config = env.config().display().to_string();
    let line = |name: &str| {
        r.stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no {name} line\n{}", r.stdout))
            .to_string()
    };
    assert!(line("config").starts_with("fail"), "{}", r.stdout);
    assert!(
        line("config").contains(&format!("{config} has mode 0666")),
        "{}",
        r.stdout
    );
    // It holds secrets of its own as well, so 0600 is what it needs.
    assert!(
        r.stdout.contains(&format!("hint: run: chmod 600 {config}")),
        "{}",
        r.stdout
    );
    assert!(line("secrets").starts_with("fail"), "{}", r.stdout);
    assert!(
        line("secrets").contains("amazon.client_secret_command: not run"),
        "{}",
        r.stdout
    );
    assert!(
        !marker.exists(),
        "doctor ran the command of a config others can write"
    );
}
