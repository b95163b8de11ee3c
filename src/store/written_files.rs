//! The record of the files fulfil writes that hold personal data (`tracked_files` and
//! its order links, issue #20): print files wherever `--out` put them, invoice PDFs.
//!
//! A file is recorded before a byte of it is written, with its absolute path, size,
//! SHA-256 and the orders it holds; purge removes it when the first of those orders is
//! due, if it is still that file, and otherwise leaves it alone with a reason code that
//! `purge`, `status` and `doctor` show until the file goes or the seller forgets it.

use rusqlite::{Connection, OptionalExtension as _, params};

use super::StoreError;

/// A file about to be written.
#[derive(Debug, Clone, Copy)]
pub struct NewFile<'a> {
    /// Absolute, with its directory resolved.
    pub path: &'a str,
    /// `labels` or `invoice`.
    pub kind: &'a str,
    pub order_ids: &'a [String],
    pub size: u64,
    pub sha256: &'a str,
    pub now: &'a str,
}

/// Records a file (again: a file written anew under a recorded name replaces the record
/// and its order links), in the caller's transaction or on its own.
pub fn record(conn: &Connection, f: &NewFile<'_>) -> Result<(), StoreError> {
    let ids = serde_json::to_string(f.order_ids).unwrap_or_else(|_| "[]".into());
    conn.prepare_cached(
        "INSERT INTO tracked_files(path, kind, order_ids, created_at, size, sha256)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(path) DO UPDATE SET kind = excluded.kind, order_ids = excluded.order_ids,
            created_at = excluded.created_at, size = excluded.size, sha256 = excluded.sha256,
            removed_at = NULL, removing_at = NULL, left_alone = NULL, outcome = NULL",
    )?
    .execute(params![
        f.path,
        f.kind,
        ids,
        f.now,
        i64::try_from(f.size).unwrap_or(i64::MAX),
        f.sha256
    ])?;
    conn.prepare_cached("DELETE FROM tracked_file_orders WHERE path = ?1")?
        .execute([f.path])?;
    let mut link = conn.prepare_cached(
        "INSERT OR IGNORE INTO tracked_file_orders(order_id, path) VALUES (?1, ?2)",
    )?;
    for id in f.order_ids {
        link.execute(params![id, f.path])?;
    }
    Ok(())
}

/// A recorded file that purge has not finished with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub path: String,
    pub kind: String,
    /// None for records made before sizes and hashes were kept.
    pub size: Option<u64>,
    pub sha256: Option<String>,
    /// Purge began overwriting it (and may have been killed before the unlink).
    pub removing: bool,
    pub left_alone: Option<String>,
}

fn pending_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Pending> {
    Ok(Pending {
        path: r.get(0)?,
        kind: r.get(1)?,
        size: r.get::<_, Option<i64>>(2)?.map(i64::unsigned_abs),
        sha256: r.get(3)?,
        removing: r.get::<_, Option<String>>(4)?.is_some(),
        left_alone: r.get(5)?,
    })
}

const PENDING_COLS: &str = "f.path, f.kind, f.size, f.sha256, f.removing_at, f.left_alone";

/// Pending files that hold data of an order whose personal data is already removed
/// (purge calls this after removing the rows, so the due orders count too).
pub fn due(conn: &Connection) -> Result<Vec<Pending>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {PENDING_COLS} FROM tracked_files f
         WHERE f.removed_at IS NULL AND EXISTS (
            SELECT 1 FROM tracked_file_orders l JOIN orders o ON o.order_id = l.order_id
            WHERE l.path = f.path AND o.pii_purged_at IS NOT NULL)
         ORDER BY f.path"
    ))?;
    Ok(stmt
        .query_map([], pending_from)?
        .collect::<Result<Vec<_>, _>>()?)
}

/// Pending files that hold data of one of `orders` or of an order already purged (what
/// a purge of `orders` would handle; for `--dry-run`).
pub fn due_with(conn: &Connection, orders: &[String]) -> Result<Vec<Pending>, StoreError> {
    let mut files = due(conn)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PENDING_COLS} FROM tracked_file_orders l JOIN tracked_files f ON f.path = l.path
         WHERE l.order_id = ?1 AND f.removed_at IS NULL"
    ))?;
    for id in orders {
        for p in stmt.query_map([id], pending_from)? {
            files.push(p?);
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    Ok(files)
}

/// Purge is about to overwrite the file: a rerun after a kill accepts its zeros.
pub fn removing(conn: &Connection, path: &str, now: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE tracked_files SET removing_at = coalesce(removing_at, ?2) WHERE path = ?1",
        params![path, now],
    )?;
    Ok(())
}

/// The record ends: `outcome` is `removed`, `gone` or `forgotten`. The order links go;
/// the record stays as history (path, kind, times), holding no personal data.
pub fn finished(conn: &Connection, path: &str, outcome: &str, now: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE tracked_files SET removed_at = ?2, outcome = ?3, left_alone = NULL
         WHERE path = ?1",
    )?
    .execute(params![path, now, outcome])?;
    conn.prepare_cached("DELETE FROM tracked_file_orders WHERE path = ?1")?
        .execute([path])?;
    Ok(())
}

/// The name could not be taken after all (a file appeared there): the record made for
/// it ends without a file.
pub fn withdraw(conn: &Connection, path: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE tracked_files SET removed_at = created_at, outcome = 'not_written' WHERE path = ?1",
    )?
    .execute([path])?;
    conn.prepare_cached("DELETE FROM tracked_file_orders WHERE path = ?1")?
        .execute([path])?;
    Ok(())
}

/// Purge left the file alone, for `reason` (a code).
pub fn left_alone(conn: &Connection, path: &str, reason: &str) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE tracked_files SET left_alone = ?2 WHERE path = ?1")?
        .execute(params![path, reason])?;
    Ok(())
}

/// Files purge left alone and still waits on, by path: (path, reason code).
pub fn left_alone_files(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT path, left_alone FROM tracked_files
         WHERE removed_at IS NULL AND left_alone IS NOT NULL ORDER BY path",
    )?;
    Ok(stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?)
}

/// The seller takes a pending file off fulfil's hands (`purge --forget-file`). Returns
/// false when no pending record has that path.
pub fn forget(conn: &Connection, path: &str, now: &str) -> Result<bool, StoreError> {
    let pending: Option<String> = conn
        .query_row(
            "SELECT path FROM tracked_files WHERE path = ?1 AND removed_at IS NULL",
            [path],
            |r| r.get(0),
        )
        .optional()?;
    if pending.is_none() {
        return Ok(false);
    }
    finished(conn, path, "forgotten", now)?;
    Ok(true)
}

/// One file's record as purge keeps it: size, SHA-256 (both none for records of older
/// versions) and how it ended (none while pending).
pub type Record = (Option<u64>, Option<String>, Option<String>);

/// One file's record, by path (for tests).
pub fn record_of(conn: &Connection, path: &str) -> Result<Option<Record>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT size, sha256, outcome FROM tracked_files WHERE path = ?1",
            [path],
            |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?.map(i64::unsigned_abs),
                    r.get(1)?,
                    r.get(2)?,
                ))
            },
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE orders (order_id TEXT PRIMARY KEY, pii_purged_at TEXT);",
        )
        .unwrap();
        c.execute_batch(include_str!("migrations/0002_labels.sql"))
            .unwrap();
        c.execute_batch(include_str!("migrations/0010_written_files.sql"))
            .unwrap();
        c
    }

    #[test]
    fn records_of_older_versions_are_linked_and_relative_paths_named() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE orders (order_id TEXT PRIMARY KEY, pii_purged_at TEXT);")
            .unwrap();
        c.execute_batch(include_str!("migrations/0002_labels.sql"))
            .unwrap();
        c.execute_batch(
            r#"INSERT INTO orders VALUES ('A', 't');
               INSERT INTO tracked_files(path, kind, order_ids, created_at)
                 VALUES ('labels/today.pdf', 'labels', '["A"]', 't'),
                        ('/abs/x.pdf', 'labels', '["A","B"]', 't');"#,
        )
        .unwrap();
        c.execute_batch(include_str!("migrations/0010_written_files.sql"))
            .unwrap();
        let d = due(&c).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].path, "/abs/x.pdf");
        assert_eq!((d[0].size, d[0].left_alone.as_deref()), (None, None));
        assert_eq!(d[1].left_alone.as_deref(), Some("not_absolute"));
    }

    #[test]
    fn a_file_is_due_when_one_of_its_orders_is_purged_and_leaves_the_index_when_done() {
        let c = &conn();
        for id in ["A", "B"] {
            c.execute("INSERT INTO orders(order_id) VALUES (?1)", [id])
                .unwrap();
        }
        let ids = vec!["A".to_string(), "B".to_string()];
        let f = NewFile {
            path: "/x/labels.pdf",
            kind: "labels",
            order_ids: &ids,
            size: 3,
            sha256: "abc",
            now: "t",
        };
        record(c, &f).unwrap();
        assert!(due(c).unwrap().is_empty());
        assert_eq!(due_with(c, &["B".into()]).unwrap().len(), 1);
        c.execute(
            "UPDATE orders SET pii_purged_at = 't' WHERE order_id = 'A'",
            [],
        )
        .unwrap();
        let d = due(c).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].size, d[0].sha256.as_deref()), (Some(3), Some("abc")));
        left_alone(c, "/x/labels.pdf", "changed").unwrap();
        assert_eq!(
            left_alone_files(c).unwrap(),
            vec![("/x/labels.pdf".to_string(), "changed".to_string())]
        );
        assert!(forget(c, "/x/labels.pdf", "t2").unwrap());
        assert!(!forget(c, "/x/labels.pdf", "t2").unwrap());
        assert!(due(c).unwrap().is_empty());
        assert!(left_alone_files(c).unwrap().is_empty());
        let links: i64 = c
            .query_row("SELECT count(*) FROM tracked_file_orders", [], |r| r.get(0))
            .unwrap();
        assert_eq!(links, 0);
        // Written again under the same name: pending again, with new links.
        record(c, &f).unwrap();
        assert_eq!(due(c).unwrap().len(), 1);
    }
}
