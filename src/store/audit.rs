//! The audit log's tables (migration 0004): appending an entry, reading the log,
//! retiring a key epoch and pruning. What an entry means and how the chain is checked
//! is in `crate::audit`.

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};

use super::StoreError;
use crate::audit::{self, AuditKey, Entry, PruneCounts};

/// What the caller says about a run; the rest of the entry is filled in here.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub at: &'a str,
    pub command: &'a str,
    pub outcome: &'a str,
    /// The command's summary; reduced by [`audit::counts`] before it is stored.
    pub summary: &'a serde_json::Value,
}

/// Appends one entry in its own immediate transaction, so that the seq and the link
/// to the head are read and written under SQLite's write lock, and a kill at any
/// moment leaves either the whole entry or none.
pub fn append(
    conn: &mut Connection,
    key: &AuditKey,
    new: &NewEntry<'_>,
) -> Result<Entry, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let head = head(&tx)?;
    let counts = audit::counts(new.summary).to_string();
    let e = insert_after(&tx, key, head, new, &counts)?;
    crate::failpoint::hit("audit:before-commit");
    tx.commit()?;
    Ok(e)
}

/// Inserts an entry after `head` (seq and MAC); `None` starts a new log at seq 1.
/// The seq is chosen here, head + 1, never by SQLite, so that a log whose oldest
/// entries were pruned keeps counting on.
fn insert_after(
    conn: &Connection,
    key: &AuditKey,
    head: Option<(i64, String)>,
    new: &NewEntry<'_>,
    counts: &str,
) -> Result<Entry, StoreError> {
    let (seq, prev_mac) = head.map_or((1, audit::GENESIS.to_string()), |(s, m)| (s + 1, m));
    let (uid, os_user) = audit::os_user();
    let mut e = Entry {
        seq,
        at: new.at.to_string(),
        command: new.command.to_string(),
        uid,
        os_user,
        outcome: new.outcome.to_string(),
        counts: counts.to_string(),
        key_epoch: current_epoch(conn)?,
        prev_mac,
        mac: String::new(),
    };
    e.mac = key.mac(&e);
    conn.execute(
        "INSERT INTO audit_log(seq, at, command, uid, os_user, outcome, counts, key_epoch, prev_mac, mac)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            e.seq, e.at, e.command, e.uid, e.os_user, e.outcome, e.counts, e.key_epoch,
            e.prev_mac, e.mac
        ],
    )?;
    Ok(e)
}

/// The newest entry's seq and MAC.
pub fn head(conn: &Connection) -> Result<Option<(i64, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// The log in seq order, optionally only entries at or after `since` (RFC 3339, UTC).
pub fn entries(conn: &Connection, since: Option<&str>) -> Result<Vec<Entry>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, command, uid, os_user, outcome, counts, key_epoch, prev_mac, mac
         FROM audit_log WHERE ?1 IS NULL OR at >= ?1 ORDER BY seq",
    )?;
    let rows = stmt
        .query_map([since], |r| {
            Ok(Entry {
                seq: r.get(0)?,
                at: r.get(1)?,
                command: r.get(2)?,
                uid: r.get(3)?,
                os_user: r.get(4)?,
                outcome: r.get(5)?,
                counts: r.get(6)?,
                key_epoch: r.get(7)?,
                prev_mac: r.get(8)?,
                mac: r.get(9)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The key epoch new entries are made under: one past the last retired epoch.
pub fn current_epoch(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT coalesce(max(epoch) + 1, 0) FROM audit_keys",
        [],
        |r| r.get(0),
    )?)
}

/// Keeps the outgoing audit key under the current epoch, just before the database is
/// re-keyed; entries made afterwards carry the next epoch.
pub fn retire_key(conn: &Connection, key: &AuditKey) -> Result<i64, StoreError> {
    let epoch = current_epoch(conn)?;
    conn.execute(
        "INSERT INTO audit_keys(epoch, key) VALUES (?1, ?2)",
        params![epoch, key.hex().as_str()],
    )?;
    Ok(epoch)
}

/// The retired keys by epoch.
pub fn retired_keys(conn: &Connection) -> Result<Vec<(i64, AuditKey)>, StoreError> {
    let mut stmt = conn.prepare("SELECT epoch, key FROM audit_keys ORDER BY epoch")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(epoch, hex)| AuditKey::from_hex(&hex).map(|k| (epoch, k)))
        .collect())
}

/// Removes the oldest entries made before `cutoff` (RFC 3339), as one prefix of the
/// chain: it stops at the first entry that is not older, so the chain stays whole even
/// if the clock once went back. In the same transaction it appends an
/// [`audit::PRUNE_COMMAND`] entry naming the last removed entry. Returns what was
/// removed, or `None` when nothing was due.
pub fn prune(
    conn: &mut Connection,
    key: &AuditKey,
    cutoff: &str,
    at: &str,
    months: u32,
) -> Result<Option<PruneCounts>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(head) = head(&tx)? else {
        return Ok(None);
    };
    let first_kept: Option<i64> = tx.query_row(
        "SELECT min(seq) FROM audit_log WHERE at >= ?1",
        [cutoff],
        |r| r.get(0),
    )?;
    let anchor: Option<(i64, String, String)> = tx
        .query_row(
            "SELECT seq, mac, at FROM audit_log WHERE seq < ?1 ORDER BY seq DESC LIMIT 1",
            [first_kept.unwrap_or(head.0 + 1)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((anchor_seq, anchor_mac, anchor_at)) = anchor else {
        return Ok(None);
    };
    let removed = tx.execute("DELETE FROM audit_log WHERE seq <= ?1", [anchor_seq])?;
    let counts = PruneCounts {
        removed: removed as u64,
        anchor_seq,
        anchor_mac,
        anchor_at,
        months,
    };
    // Written as is: the prune's own figures, no summary to reduce.
    let text = serde_json::to_string(&counts)
        .map_err(|e| StoreError::Io(std::io::Error::other(format!("prune counts: {e}"))))?;
    insert_after(
        &tx,
        key,
        Some(head),
        &NewEntry {
            at,
            command: audit::PRUNE_COMMAND,
            outcome: "ok",
            summary: &serde_json::Value::Null,
        },
        &text,
    )?;
    crate::failpoint::hit("audit:prune-before-commit");
    tx.commit()?;
    Ok(Some(counts))
}
