//! Small key-value state, the run history and the persisted rate-limit buckets.

use rusqlite::{Connection, OptionalExtension as _, params};

use super::StoreError;

/// Reads a value from `sync_state`.
pub fn get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Writes (or replaces) a value in `sync_state`.
pub fn set(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sync_state(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Removes a value from `sync_state`.
pub fn delete(conn: &Connection, key: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM sync_state WHERE key = ?1", [key])?;
    Ok(())
}

/// Records the start of a command run; returns its id.
pub fn run_started(conn: &Connection, command: &str, at: &str) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO runs(command, started_at) VALUES (?1, ?2)",
        params![command, at],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Records how a run ended, with its counts (no personal data).
pub fn run_finished(
    conn: &Connection,
    id: i64,
    at: &str,
    outcome: &str,
    counts: &serde_json::Value,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE runs SET finished_at = ?2, outcome = ?3, counts = ?4 WHERE id = ?1",
        params![id, at, outcome, counts.to_string()],
    )?;
    Ok(())
}

/// The last successful (or partial) run of each command: (command, finished_at, outcome).
pub fn last_runs(conn: &Connection) -> Result<Vec<(String, String, String)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT command, max(finished_at), outcome FROM runs
         WHERE outcome IN ('ok', 'partial') GROUP BY command ORDER BY command",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// A persisted token bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketRow {
    pub rate: String,
    pub burst: u32,
    pub tokens: String,
    pub updated_at: String,
}

pub fn load_bucket(conn: &Connection, operation: &str) -> Result<Option<BucketRow>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT rate, burst, tokens, updated_at FROM rate_buckets WHERE operation = ?1",
            [operation],
            |r| {
                Ok(BucketRow {
                    rate: r.get(0)?,
                    burst: r.get(1)?,
                    tokens: r.get(2)?,
                    updated_at: r.get(3)?,
                })
            },
        )
        .optional()?)
}

pub fn save_bucket(conn: &Connection, operation: &str, row: &BucketRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO rate_buckets(operation, rate, burst, tokens, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(operation) DO UPDATE SET rate = excluded.rate, burst = excluded.burst,
             tokens = excluded.tokens, updated_at = excluded.updated_at",
        params![operation, row.rate, row.burst, row.tokens, row.updated_at],
    )?;
    Ok(())
}
