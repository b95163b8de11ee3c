//! Removal of personal data: which orders are due, and the deletes themselves.
//!
//! An order's personal data lives in `order_pii`, `label_files`, `address_overrides`,
//! `vies_cache_orders` with `vies_cache` (the buyer's VAT number as checked with VIES),
//! `postcode_check_orders` with `postcode_checks` (what PostNL's register said of the
//! address) and `invoice_pii` (the customer block of its invoices and credit notes, whose
//! documents stay and render without it). Removing it is one transaction per order that deletes those rows and
//! stamps `orders.pii_purged_at`; the anonymous order, items and tax records stay.

use rusqlite::{Connection, Transaction};

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
    forget_many(tx, &[order_id.to_string()], now)
}

/// The most orders [`forget_many`] takes at once (SQLite binds at most 32,766 values).
pub const MAX_ORDERS: usize = 10_000;

/// Deletes the personal data of every order in `order_ids` and stamps them as purged,
/// in the caller's transaction (so each order goes whole or not at all). Idempotent.
///
/// One statement per table for the whole list instead of one per order and table (issue
/// #20: a purge of 100,000 orders spent much of its time preparing and running half a
/// million small statements). Each statement takes the ids as one `IN` list of bound
/// values (at most [`MAX_ORDERS`]).
pub fn forget_many(
    tx: &Transaction<'_>,
    order_ids: &[String],
    now: &str,
) -> Result<Removed, StoreError> {
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    if order_ids.is_empty() {
        return Ok(Removed::default());
    }
    let list = in_list(order_ids.len());
    let ids = || rusqlite::params_from_iter(order_ids.iter());
    let delete = |table: &str| -> Result<u64, StoreError> {
        Ok(count(tx.execute(
            &format!("DELETE FROM {table} WHERE order_id IN ({list})"),
            ids(),
        )?))
    };
    let removed = Removed {
        // The orders' personal data, and the customer blocks of their invoices and credit
        // notes (the documents themselves and the tax ledger stay, anonymous).
        pii_rows: delete("order_pii")? + delete("invoice_pii")?,
        labels: delete("label_files")?,
        overrides: delete("address_overrides")?,
    };
    // The VIES cache is personal data too (keyed by the buyer's VAT number): the orders'
    // links go, and with the last link the cached answer (issue #14). The ledger's record
    // of the check (tax_ledger_vies) holds no number and stays.
    super::vies::forget_listed(tx, &list, order_ids)?;
    // The postal-code check answers asked for these orders go with them (issue #18).
    super::postcode::forget_listed(tx, &list, order_ids)?;
    let stamp = format!("?{}", order_ids.len() + 1);
    tx.execute(
        &format!(
            "UPDATE orders SET pii_purged_at = coalesce(pii_purged_at, {stamp}), has_pii = 0
             WHERE order_id IN ({list})"
        ),
        rusqlite::params_from_iter(order_ids.iter().map(String::as_str).chain([now])),
    )?;
    Ok(removed)
}

/// `?1, ?2, …, ?n`: the placeholders of an `IN` list of `n` values.
fn in_list(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
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
