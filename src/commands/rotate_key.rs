//! `fulfil rotate-key`: re-encrypts the database under a new key and destroys the old
//! one (cryptographic erase of stale copies).
//!
//! Crash-safe order: the new key is written to `db.key.next` first, then the database
//! is re-keyed, then `db.key` is overwritten in place with the new key and
//! `db.key.next` removed. At any moment one of the two files opens the database, and
//! the store's opening code tries `db.key.next` when `db.key` does not fit.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use crate::commands::Outcome;
use crate::ctx::{Ctx, Overdue};
use crate::error::AppError;
use crate::store::{self, DbKey};

/// Re-encrypt the database under a new random key and destroy the old key
///
/// Copies of old database pages that may linger on the disk (SSD spare blocks, old WAL
/// frames, backups) were encrypted with the old key; once it is gone they cannot be
/// read. Back up the new db.key: without it the database cannot be opened.
#[derive(Debug, Args)]
pub struct RotateKeyArgs {}

pub fn run(ctx: &Ctx, _args: &RotateKeyArgs) -> anyhow::Result<Outcome> {
    let path = rotate(ctx)?;
    Ok(Outcome::ok(
        json!({"command": "rotate-key", "key_file": path.display().to_string()}),
    ))
}

/// Rotates the key; returns the key file.
pub fn rotate(ctx: &Ctx) -> anyhow::Result<PathBuf> {
    let cfg = ctx.config()?;
    let spec = cfg.db_key();
    let (Some(key_file), None, None) = (&spec.file, &spec.value, &spec.command) else {
        return Err(AppError::config(
            "rotate-key needs the key in a file (store.key_file); this config takes it from a value or a command",
        )
        .hint("rotate it where it lives: generate 64 hex characters and run PRAGMA rekey with the sqlcipher tool")
        .into());
    };
    ctx.begin_writing("rotate-key", Overdue::LeftToCommand)?;
    let mut store = ctx.store("rotate-key")?;
    let new = DbKey::generate()?;
    let next = store::next_key_path(key_file);
    let _ = std::fs::remove_file(&next);
    write_synced(&next, new.hex(), true)?;
    store.rekey(&new)?;
    // Overwrite the old key in place, so its bytes do not stay behind in a freed block.
    write_synced(key_file, new.hex(), false)?;
    std::fs::remove_file(&next)?;
    crate::files::sync_parent(key_file);
    Ok(key_file.clone())
}

fn write_synced(path: &Path, hex: &str, create_new: bool) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).mode(0o600);
    if create_new {
        opts.create_new(true);
    } else {
        opts.truncate(true);
    }
    let mut f = opts.open(path)?;
    f.write_all(hex.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    crate::files::sync_parent(path);
    Ok(())
}
