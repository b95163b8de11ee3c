//! Rotating the database key (`fulfil rotate-key`, `purge --rotate-key`): the old key
//! stops working, and a rotation killed half-way is finished on the next open. The
//! audit chain across a rotation is tested in audit.rs.

use std::os::unix::fs::PermissionsExt as _;

use crate::common::TestEnv;
use crate::purge::{shift, shipped_with_canary};

#[test]
fn purge_rotate_key_makes_the_old_key_useless() {
    let (mut env, _canaries, due) = shipped_with_canary();
    let old_key = std::fs::read_to_string(env.key_file()).unwrap();
    env.now = shift(&due, 1);
    let r = env.run(&["--json", "purge", "--rotate-key"]);
    r.assert_code(0);
    let new_key = std::fs::read_to_string(env.key_file()).unwrap();
    assert_ne!(old_key, new_key);
    assert_eq!(crate::common::mode(&env.key_file()), 0o600);
    let old = fulfil::store::DbKey::parse(&secrecy::SecretString::from(old_key)).unwrap();
    assert!(matches!(
        fulfil::store::Store::open(&env.db(), &old, fulfil::store::Mode::Read),
        Err(fulfil::store::StoreError::KeyMismatch(_))
    ));
    env.run(&["status"]).assert_code(0);
    assert!(!env.data().join("db.key.next").exists());
}

#[test]
fn an_interrupted_rotation_is_finished_on_the_next_open() {
    let env = TestEnv::sandboxed(3);
    env.run(&["sync-orders"]).assert_code(0);
    // Simulate a run killed after the re-key but before db.key was replaced.
    let new = fulfil::store::DbKey::generate().unwrap();
    {
        let mut s = env.open_store();
        s.rekey(&new).unwrap();
    }
    let next = env.data().join("db.key.next");
    std::fs::write(&next, format!("{}\n", new.hex())).unwrap();
    std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o600)).unwrap();
    env.run(&["sync-orders"]).assert_code(0);
    assert!(!next.exists());
    assert_eq!(
        std::fs::read_to_string(env.key_file()).unwrap().trim(),
        new.hex()
    );
}
