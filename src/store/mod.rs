//! The encrypted store: one SQLCipher database per seller.
//!
//! Opened in one place ([`Store::open`]): the key is applied as a raw 256-bit key
//! (`PRAGMA key = "x'…'"`, SQLCipher 4 defaults, so that the standard `sqlcipher` tool
//! opens the file with the same key), SQLCipher is checked to be really linked, the key
//! is checked against the file before anything is written, then WAL, `secure_delete`,
//! in-memory temp storage and a busy timeout are set and the numbered migrations run.
//!
//! One writer at a time: a lock file beside the database, held with `File::try_lock`
//! for the life of the [`Store`]; a second writer gets [`StoreError::Locked`] (exit 4).
//!
//! All SQL lives in this module and its children.

pub mod audit;
pub mod deadlines;
pub mod invoices;
pub mod labels;
pub mod orders;
pub mod postcode;
pub mod purge;
pub mod refunds;
pub mod state;
pub mod tedb;
pub mod vies;
pub mod written_files;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension as _};
use secrecy::{ExposeSecret as _, SecretString};
use zeroize::Zeroizing;

use crate::error::{Classify, Exit};

/// Numbered migrations; the database's `user_version` is the number applied last.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_labels.sql")),
    (3, include_str!("migrations/0003_invoices.sql")),
    (4, include_str!("migrations/0004_audit.sql")),
    (5, include_str!("migrations/0005_tedb.sql")),
    (6, include_str!("migrations/0006_vies.sql")),
    (7, include_str!("migrations/0007_refunds.sql")),
    (8, include_str!("migrations/0008_postcode_check.sql")),
    (9, include_str!("migrations/0009_parcels.sql")),
    (10, include_str!("migrations/0010_written_files.sql")),
    (11, include_str!("migrations/0011_deadlines.sql")),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no database at {0}")]
    Missing(PathBuf),
    #[error("the key does not match the database {0} (or it is not a fulfil database)")]
    KeyMismatch(PathBuf),
    #[error("the key file {}", .1.detail(.0))]
    KeyPermissions(PathBuf, crate::trust::Problem),
    #[error("the database key is not 64 hexadecimal characters")]
    KeyFormat,
    #[error("SQLCipher is not linked: the database would not be encrypted")]
    NotSqlcipher,
    #[error("another fulfil run holds the lock {0}")]
    Locked(PathBuf),
    #[error("the database {0} was made by a newer fulfil (schema {1})")]
    TooNew(PathBuf, u32),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Classify for StoreError {
    fn exit(&self) -> Exit {
        match self {
            StoreError::Locked(_) => Exit::Temporary,
            StoreError::Sqlite(e) if is_busy(e) => Exit::Temporary,
            StoreError::Sqlite(e) if is_full(e) => Exit::Failed,
            StoreError::Sqlite(_) | StoreError::Io(_) => Exit::Failed,
            _ => Exit::Config,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            StoreError::Missing(_) => {
                vec!["run `fulfil init`, or point --config at the right file".into()]
            }
            StoreError::KeyMismatch(_) => vec![
                "check store.key_file in the config: it must be the db.key made with this database"
                    .into(),
                "the database file was not changed".into(),
            ],
            StoreError::KeyPermissions(p, problem) => vec![problem.hint(p)],
            StoreError::KeyFormat => {
                vec!["the key file holds the 64 hex characters written by `fulfil init`".into()]
            }
            StoreError::Locked(_) => vec![
                "another run is still busy; this one will be retried by the next cron tick".into(),
            ],
            StoreError::Sqlite(e) if is_full(e) => {
                vec!["the disk is full: free space and run again; the last commit is intact".into()]
            }
            StoreError::Sqlite(e) if is_readonly(e) => {
                vec!["the database or its directory is read-only for this user".into()]
            }
            _ => Vec::new(),
        }
    }
}

fn code_of(e: &rusqlite::Error) -> Option<rusqlite::ErrorCode> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    }
}
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        code_of(e),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}
fn is_full(e: &rusqlite::Error) -> bool {
    matches!(code_of(e), Some(rusqlite::ErrorCode::DiskFull))
}
fn is_readonly(e: &rusqlite::Error) -> bool {
    matches!(
        code_of(e),
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
    )
}

/// A 256-bit database key, as the 64 hex characters that `PRAGMA key` takes.
pub struct DbKey(Zeroizing<String>);

impl DbKey {
    /// Makes a new random key from the system's CSPRNG.
    pub fn generate() -> anyhow::Result<Self> {
        use ring::rand::SecureRandom as _;
        let mut bytes = Zeroizing::new([0u8; 32]);
        ring::rand::SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
        Ok(Self(Zeroizing::new(hex(bytes.as_ref()))))
    }

    /// Parses the 64 hex characters.
    pub fn parse(s: &SecretString) -> Result<Self, StoreError> {
        let t = s.expose_secret().trim();
        if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::KeyFormat);
        }
        Ok(Self(Zeroizing::new(t.to_ascii_lowercase())))
    }

    pub fn hex(&self) -> &str {
        &self.0
    }

    /// The raw 32 bytes (for key derivation, e.g. the audit-log HMAC key).
    pub fn bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        for (i, pair) in self.0.as_bytes().chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).unwrap_or("00");
            out[i] = u8::from_str_radix(s, 16).unwrap_or(0);
        }
        out
    }
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The file beside the key file that holds a key being rotated in (`db.key.next`): a
/// rotation that died between re-keying the database and replacing the key file is
/// finished from it on the next open.
pub fn next_key_path(key_file: &Path) -> PathBuf {
    let mut s = key_file.as_os_str().to_owned();
    s.push(".next");
    PathBuf::from(s)
}

/// Checks that a key file belongs to this user and is not readable by others.
pub fn check_key_file(path: &Path) -> Result<(), StoreError> {
    use crate::trust::{Kind, Need};
    let meta = std::fs::metadata(path)?;
    match crate::trust::inspect(&meta, Kind::File, Need::Private, crate::trust::me()) {
        Some(problem) => Err(StoreError::KeyPermissions(path.to_path_buf(), problem)),
        None => Ok(()),
    }
}

/// Writes a new key file with mode 0600; never overwrites.
pub fn write_key_file(path: &Path, key: &DbKey) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(key.hex().as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

/// How the store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Create a new database (init); the file must not exist.
    Create,
    /// Read and write, holding the writer lock.
    Write,
    /// Read only, no lock (status, review listings).
    Read,
    /// Read and write without the writer lock and without migrating: only to append
    /// the audit entry of a read-only command (SQLite's own write lock serialises it).
    Append,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    audit: crate::audit::AuditKey,
    _lock: Option<File>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or, in `Mode::Create`, creates) the database with the key.
    pub fn open(path: &Path, key: &DbKey, mode: Mode) -> Result<Store, StoreError> {
        Self::open_with(path, key, mode, None)
    }

    /// Opens the database for writing under a writer lock taken beforehand, so that
    /// nothing that can wait (a `key_command`) comes before the lock (issue #15).
    pub fn open_locked(path: &Path, key: &DbKey, lock: &WriterLock) -> Result<Store, StoreError> {
        Self::open_with(path, key, Mode::Write, Some(lock.0.try_clone()?))
    }

    fn open_with(
        path: &Path,
        key: &DbKey,
        mode: Mode,
        held: Option<File>,
    ) -> Result<Store, StoreError> {
        let exists = path.exists();
        match mode {
            Mode::Create if exists => {
                return Err(StoreError::Io(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!("{} already exists", path.display()),
                )));
            }
            Mode::Write | Mode::Read | Mode::Append if !exists => {
                return Err(StoreError::Missing(path.into()));
            }
            _ => {}
        }
        let lock = if matches!(mode, Mode::Read | Mode::Append) {
            None
        } else if let Some(held) = held {
            Some(held)
        } else {
            Some(take_lock(path)?)
        };
        let flags = match mode {
            Mode::Create => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            Mode::Write | Mode::Append => OpenFlags::SQLITE_OPEN_READ_WRITE,
            Mode::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if mode == Mode::Create {
            // Create the file ourselves so that it is 0600 from its first byte.
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)?;
        }
        let conn = Connection::open_with_flags(path, flags)?;
        // SQLCipher logs a failed key check to stderr itself; the error we return says it.
        let _ = conn.execute_batch("PRAGMA cipher_log_level = NONE;");
        apply_key(&conn, key)?;
        check_cipher(&conn)?;
        // Reading the schema is the first touch of the file: with a wrong key it fails
        // here, before any pragma below could write anything.
        if let Err(e) = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        }) {
            if matches!(code_of(&e), Some(rusqlite::ErrorCode::NotADatabase)) {
                return Err(StoreError::KeyMismatch(path.into()));
            }
            return Err(e.into());
        }
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(
            "PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = ON;
             PRAGMA cipher_memory_security = ON;",
        )?;
        if mode != Mode::Read {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
        }
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            audit: crate::audit::AuditKey::derive(key),
            _lock: lock,
        };
        store.migrate(mode)?;
        if mode == Mode::Create {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(store)
    }

    fn migrate(&mut self, mode: Mode) -> Result<(), StoreError> {
        let current: u32 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let latest = MIGRATIONS.last().map_or(0, |m| m.0);
        if current > latest {
            return Err(StoreError::TooNew(self.path.clone(), current));
        }
        if current == latest || matches!(mode, Mode::Read | Mode::Append) {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for (n, sql) in MIGRATIONS.iter().filter(|(n, _)| *n > current) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", n)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The audit-log key derived from the key this store was opened with.
    pub fn audit_key(&self) -> &crate::audit::AuditKey {
        &self.audit
    }

    /// Prunes the audit log before `cutoff` (see [`audit::prune`]).
    pub fn prune_audit(
        &mut self,
        cutoff: &str,
        at: &str,
        months: u32,
    ) -> Result<Option<crate::audit::PruneCounts>, StoreError> {
        let Store { conn, audit, .. } = self;
        audit::prune(conn, audit, cutoff, at, months)
    }

    /// Appends one audit-log entry (its own transaction).
    pub fn append_audit(
        &mut self,
        new: &audit::NewEntry<'_>,
    ) -> Result<crate::audit::Entry, StoreError> {
        let Store { conn, audit, .. } = self;
        audit::append(conn, audit, new)
    }

    /// The schema version applied.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// SQLCipher's version string.
    pub fn cipher_version(&self) -> Result<String, StoreError> {
        cipher_version(&self.conn)?.ok_or(StoreError::NotSqlcipher)
    }

    /// Bytes on disk: the database plus its WAL.
    pub fn size_on_disk(&self) -> u64 {
        let wal = wal_path(&self.path);
        [self.path.as_path(), wal.as_path()]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Removes deleted content from the files: checkpoint the WAL into the database and
    /// truncate it, rebuild the database without free pages (VACUUM), and truncate the
    /// WAL again. With `secure_delete` on, deleted cells were already zeroed; this takes
    /// away the WAL's old page images and the free pages as well.
    pub fn scrub(&mut self) -> Result<(), StoreError> {
        self.checkpoint()?;
        self.conn.execute_batch("VACUUM;")?;
        self.checkpoint()?;
        Ok(())
    }

    /// Like [`Store::scrub`], but VACUUM only where it is cheap or worth it: a database
    /// under 256 MiB, or one whose free pages exceed a tenth of it. Otherwise the freed
    /// pages stay in the file, already zeroed by `secure_delete`, and the WAL is
    /// truncated; rebuilding a multi-gigabyte file every day would cost minutes and
    /// twice its size on disk for no gain in what can be recovered. Returns whether
    /// it vacuumed.
    pub fn scrub_adaptive(&mut self, force: bool) -> Result<bool, StoreError> {
        self.checkpoint()?;
        let pages = self.pragma_int("page_count")?;
        let free = self.pragma_int("freelist_count")?;
        // SQLCipher answers page_size as text (it reports cipher_page_size).
        let size = self.pragma_int("page_size")?;
        let vacuum = force || pages.saturating_mul(size) < 256 << 20 || free * 10 > pages;
        if vacuum {
            self.conn.execute_batch("VACUUM;")?;
            self.checkpoint()?;
        }
        Ok(vacuum)
    }

    /// `wal_checkpoint(TRUNCATE)`; fails if a reader kept it from finishing.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let (busy, _log, _done): (i64, i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        if busy != 0 {
            return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                Some("the WAL checkpoint was blocked by a reader".into()),
            )));
        }
        Ok(())
    }

    /// Re-encrypts the whole database under a new key (`PRAGMA rekey`). The WAL is
    /// checkpointed and truncated first and after, so no page stays under the old key.
    ///
    /// The outgoing audit key is kept first under its epoch (see `crate::audit`), so
    /// that the entries made under it can still be checked; a failure after that only
    /// leaves two epochs with the same key, which verifies just as well.
    pub fn rekey(&mut self, new: &DbKey) -> Result<(), StoreError> {
        audit::retire_key(&self.conn, &self.audit)?;
        self.checkpoint()?;
        // SQLCipher rekeys in rollback-journal mode; switch back to WAL afterwards.
        self.conn.pragma_update(None, "journal_mode", "DELETE")?;
        let stmt = Zeroizing::new(format!("PRAGMA rekey = \"x'{}'\";", new.hex()));
        self.conn.execute_batch(&stmt)?;
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.audit = crate::audit::AuditKey::derive(new);
        self.checkpoint()?;
        Ok(())
    }

    /// A pragma's value as a number, whether SQLite answers it as an integer or as text.
    fn pragma_int(&self, name: &str) -> Result<i64, StoreError> {
        let v: rusqlite::types::Value = self.conn.pragma_query_value(None, name, |r| r.get(0))?;
        Ok(match v {
            rusqlite::types::Value::Integer(i) => i,
            rusqlite::types::Value::Text(t) => t.trim().parse().unwrap_or(0),
            _ => 0,
        })
    }

    /// `PRAGMA integrity_check` answers "ok".
    pub fn integrity_ok(&self) -> Result<bool, StoreError> {
        let v: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(v == "ok")
    }

    /// The problems `PRAGMA integrity_check` finds (at most `max`); empty when sound.
    /// The messages name pages, tables and indexes, never row contents.
    pub fn integrity_problems(&self, max: u32) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("PRAGMA integrity_check({max})"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows.into_iter().filter(|r| r != "ok").collect())
    }

    /// The pages whose HMAC does not verify (`PRAGMA cipher_integrity_check`, which
    /// reads every page of the file); empty when every page is intact.
    pub fn cipher_integrity_problems(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA cipher_integrity_check")?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Runs a closure in one transaction.
    pub fn tx<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = self.conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// The WAL file beside a database.
pub fn wal_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

fn lock_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// The writer lock on its own, taken before the store is opened (see
/// [`Store::open_locked`]); held until it and every store opened under it are dropped.
#[derive(Debug)]
pub struct WriterLock(File);

impl WriterLock {
    /// Takes the lock of an existing database; [`StoreError::Locked`] (exit 4) when
    /// another run holds it, [`StoreError::Missing`] when there is no database.
    pub fn take(db: &Path) -> Result<Self, StoreError> {
        if !db.exists() {
            return Err(StoreError::Missing(db.into()));
        }
        Ok(Self(take_lock(db)?))
    }
}

fn take_lock(db: &Path) -> Result<File, StoreError> {
    let path = lock_path(db);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(path)),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Io(e)),
    }
}

fn apply_key(conn: &Connection, key: &DbKey) -> Result<(), StoreError> {
    let stmt = Zeroizing::new(format!("PRAGMA key = \"x'{}'\";", key.hex()));
    conn.execute_batch(&stmt)?;
    Ok(())
}

fn cipher_version(conn: &Connection) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("PRAGMA cipher_version", [], |r| r.get::<_, String>(0))
        .optional()?)
}

/// SQLCipher's version as linked into this binary (an empty in-memory database);
/// `None` when the SQLite linked is a plain one.
pub fn linked_cipher_version() -> Result<Option<String>, StoreError> {
    let conn = Connection::open_in_memory()?;
    Ok(cipher_version(&conn)?.filter(|v| !v.is_empty()))
}

fn check_cipher(conn: &Connection) -> Result<(), StoreError> {
    match cipher_version(conn)? {
        Some(v) if !v.is_empty() => Ok(()),
        _ => Err(StoreError::NotSqlcipher),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DbKey {
        DbKey::generate().unwrap()
    }

    #[test]
    fn create_then_reopen_and_wrong_key() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let k = key();
        {
            let s = Store::open(&db, &k, Mode::Create).unwrap();
            assert!(s.cipher_version().unwrap().starts_with('4'));
            assert_eq!(s.schema_version().unwrap(), MIGRATIONS.last().unwrap().0);
        }
        let head = std::fs::read(&db).unwrap();
        assert!(!head.starts_with(b"SQLite format 3"));
        Store::open(&db, &k, Mode::Write).unwrap();
        let before = std::fs::read(&db).unwrap();
        let err = Store::open(&db, &key(), Mode::Write).unwrap_err();
        assert!(matches!(err, StoreError::KeyMismatch(_)), "{err}");
        assert_eq!(before, std::fs::read(&db).unwrap());
    }

    #[test]
    fn second_writer_is_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let k = key();
        let first = Store::open(&db, &k, Mode::Create).unwrap();
        let err = Store::open(&db, &k, Mode::Write).unwrap_err();
        assert!(matches!(err, StoreError::Locked(_)));
        assert_eq!(err.exit(), Exit::Temporary);
        // A reader is not blocked by the writer.
        Store::open(&db, &k, Mode::Read).unwrap();
        drop(first);
        // A lock taken first is held by the store opened under it, and then by neither.
        let lock = WriterLock::take(&db).unwrap();
        assert!(matches!(WriterLock::take(&db), Err(StoreError::Locked(_))));
        let store = Store::open_locked(&db, &k, &lock).unwrap();
        drop(lock);
        assert!(matches!(WriterLock::take(&db), Err(StoreError::Locked(_))));
        drop(store);
        WriterLock::take(&db).unwrap();
        assert!(matches!(
            WriterLock::take(&dir.path().join("none.db")),
            Err(StoreError::Missing(_))
        ));
    }

    /// Issue #19: migration 9 keeps every parcel and label of an older database, as
    /// parcel 1 of 1 with a PDF label, and keys them by order and parcel number.
    #[test]
    fn migration_9_keeps_parcels_and_labels() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
        for (n, sql) in MIGRATIONS.iter().filter(|(n, _)| *n < 9) {
            conn.execute_batch(sql)
                .unwrap_or_else(|e| panic!("{n}: {e}"));
        }
        conn.execute_batch(
            "INSERT INTO orders(order_id, marketplace_id, fulfilled_by, amazon_status, stage,
                created_at, amazon_updated_at, first_seen_at, synced_at)
             VALUES ('028-1', 'M', 'MERCHANT', 'SHIPPED', 'shipped', 't', 't', 't', 't');
             INSERT INTO parcels(order_id, barcode, product_code, weight_g, reserved_at,
                labelled_at, confirmed_at) VALUES ('028-1', '3SDEVC1', '3085', 900, 'r', 'l', 'c');
             INSERT INTO label_files(order_id, barcode, label_type, pdf, created_at)
                VALUES ('028-1', '3SDEVC1', 'Label', x'25504446', 'l');",
        )
        .unwrap();
        let nine = MIGRATIONS.iter().find(|(n, _)| *n == 9).unwrap().1;
        conn.execute_batch(nine).unwrap();
        let p = labels::parcels(&conn, "028-1").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].parcel_no, p[0].parcel_count), (1, 1));
        assert_eq!(p[0].items, None);
        assert_eq!(p[0].barcode, "3SDEVC1");
        assert_eq!(p[0].weight_g, 900);
        assert_eq!(p[0].confirmed_at.as_deref(), Some("c"));
        let l = labels::label_files(&conn, "028-1").unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].parcel_no, l[0].format.as_str()), (1, "pdf"));
        assert_eq!(l[0].bytes, b"%PDF");
        let leftovers: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name LIKE '%_v8'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(leftovers, 0);
        // A second parcel of the same order is a row of its own now.
        conn.execute_batch(
            "INSERT INTO parcels(order_id, parcel_no, parcel_count, items, barcode,
                product_code, weight_g, package_reference_id, reserved_at)
             VALUES ('028-1', 2, 2, '[[\"1\",1]]', '3SDEVC2', '3085', 500, '2', 'r');",
        )
        .unwrap();
        assert_eq!(labels::parcels(&conn, "028-1").unwrap().len(), 2);
    }

    #[test]
    fn rekey_scrub_and_the_old_key_no_longer_opens() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let old = key();
        let new = key();
        {
            let mut s = Store::open(&db, &old, Mode::Create).unwrap();
            s.conn()
                .execute("INSERT INTO sync_state(key, value) VALUES ('a', 'b')", [])
                .unwrap();
            s.scrub().unwrap();
            s.rekey(&new).unwrap();
            assert!(s.integrity_ok().unwrap());
        }
        assert!(matches!(
            Store::open(&db, &old, Mode::Write),
            Err(StoreError::KeyMismatch(_))
        ));
        let s = Store::open(&db, &new, Mode::Write).unwrap();
        let v: String = s
            .conn()
            .query_row("SELECT value FROM sync_state WHERE key = 'a'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(v, "b");
        let mode: String = s
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn key_parsing() {
        assert!(DbKey::parse(&SecretString::from("ab".repeat(32))).is_ok());
        assert!(matches!(
            DbKey::parse(&SecretString::from("zz".repeat(32))),
            Err(StoreError::KeyFormat)
        ));
        assert!(DbKey::parse(&SecretString::from("ab")).is_err());
        let k = DbKey::parse(&SecretString::from("0f".repeat(32))).unwrap();
        assert_eq!(k.bytes()[0], 0x0f);
    }
}
