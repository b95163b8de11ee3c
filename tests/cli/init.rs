//! `fulfil init`: private files, the next steps, and never overwriting what is there.

use crate::common::{TestEnv, mode};

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
