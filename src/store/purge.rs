//! Removal of personal data: which orders are due, and the deletes themselves.
//!
//! An order's personal data lives in `order_pii`, `label_files`, `address_overrides`,
//! `vies_cache_orders` with `vies_cache` (the buyer's VAT number as checked with VIES),
//! `postcode_check_orders` with `postcode_checks` (PostNL's postal-code check answers)
//! and `invoice_pii` (the customer block of its invoices and credit notes, whose
//! documents stay and render without it). Removing it is one transaction per order that deletes those rows and
//! stamps `orders.pii_purged_at`; the anonymous order, items and tax records stay.

use rusqlite::{Connection, Transaction, params};

use super::StoreError;

/// Orders whose personal data is due for removal at `now` (RFC 3339, UTC).
pub fn due(conn: &Connection, now: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT order_id FROM orders
         WHERE pii_purged_at IS NULL AND pii_due_at IS NOT NULL AND pii_due_at <= ?1
         ORDER BY pii_due_at, order_id",
    )?;
    let rows = stmt
        .query_map([now], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(rows)
}

/// What removing one order's personal data deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    pub pii_rows: u64,
    pub labels: u64,
    pub overrides: u64,
}

/// Deletes one order's personal data and stamps it as purged. Idempotent.
pub fn forget(tx: &Transaction<'_>, order_id: &str, now: &str) -> Result<Removed, StoreError> {
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let removed = Removed {
        // The order's personal data, and the customer blocks of its invoices and credit
        // notes (the documents themselves and the tax ledger stay, anonymous).
        pii_rows: count(tx.execute("DELETE FROM order_pii WHERE order_id = ?1", [order_id])?)
            + count(tx.execute("DELETE FROM invoice_pii WHERE order_id = ?1", [order_id])?),
        labels: count(tx.execute("DELETE FROM label_files WHERE order_id = ?1", [order_id])?),
        overrides: count(tx.execute(
            "DELETE FROM address_overrides WHERE order_id = ?1",
            [order_id],
        )?),
    };
    // The VIES cache is personal data too (keyed by the buyer's VAT number): the order's
    // links go, and with the last link the cached answer (issue #14). The ledger's record
    // of the check (tax_ledger_vies) holds no number and stays.
    super::vies::forget_order(tx, order_id)?;
    // The postal-code check answers asked for this order go with it (issue #18).
    super::postcode::forget_order(tx, order_id)?;
    tx.execute(
        "UPDATE orders SET pii_purged_at = coalesce(pii_purged_at, ?2), has_pii = 0
         WHERE order_id = ?1",
        params![order_id, now],
    )?;
    Ok(removed)
}

/// A file on disk that holds personal data of an order whose data is (now) due.
#[derive(Debug, Clone)]
pub struct TrackedFile {
    pub path: String,
    pub kind: String,
}

/// Tracked files not yet removed that hold data of an order already purged or listed
/// in `orders` (a print file goes when the first of its orders is due).
pub fn files_for(conn: &Connection, orders: &[String]) -> Result<Vec<TrackedFile>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT path, kind, order_ids FROM tracked_files WHERE removed_at IS NULL ORDER BY path",
    )?;
    let purged: std::collections::BTreeSet<String> = {
        let mut s = conn.prepare("SELECT order_id FROM orders WHERE pii_purged_at IS NOT NULL")?;
        s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    let wanted: std::collections::BTreeSet<&String> = orders.iter().collect();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, ids)| {
            serde_json::from_str::<Vec<String>>(ids)
                .unwrap_or_default()
                .iter()
                .any(|id| wanted.contains(id) || purged.contains(id))
        })
        .map(|(path, kind, _)| TrackedFile { path, kind })
        .collect())
}

pub fn file_removed(conn: &Connection, path: &str, now: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE tracked_files SET removed_at = ?2 WHERE path = ?1",
        params![path, now],
    )?;
    Ok(())
}

/// Orders neither fulfilled nor cancelled that are older than `before`: they hold
/// personal data with no retention clock running yet.
pub fn stale_unfulfilled(conn: &Connection, before: &str) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM orders WHERE fulfilled_at IS NULL AND cancelled_at IS NULL
         AND pii_purged_at IS NULL AND created_at < ?1",
        [before],
        |r| r.get(0),
    )?;
    Ok(n.unsigned_abs())
}

/// Orders past their removal date that still hold personal data (a missed purge).
pub fn overdue_count(conn: &Connection, now: &str) -> Result<u64, StoreError> {
    Ok(due(conn, now)?.len() as u64)
}
