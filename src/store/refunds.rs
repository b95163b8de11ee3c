//! Refunds read from the Finances API and what became of them (migration 0007, issue #17).
//!
//! A refund event is inserted once under its identity ([`RefundEvent::key`]); reading the
//! same event again (the 48-hour overlap of every run, a rerun after a kill) inserts
//! nothing. Its status moves from `pending` to `credited` in the transaction that issues
//! its credit note ([`mark_credited`], called by `invoices::issue_documents`), so a credit
//! note and its refund's status are committed together or not at all.

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};

use super::StoreError;
use super::orders as order_db;
use crate::invoice::refund::RefundEvent;

/// The `order_issues` command under which refunds needing a person are listed.
pub const ISSUES: &str = "refunds";

/// `sync_state` key: the `PostedBefore` of the last complete read.
const CHECKPOINT: &str = "finances_posted_before";

/// Inserts the events not seen before, in one transaction; returns how many were new.
pub fn insert_events(
    conn: &mut Connection,
    events: &[RefundEvent],
    at: &str,
) -> Result<u64, StoreError> {
    let tx = conn.transaction()?;
    let mut new = 0;
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO refunds(refund_key, order_id, posted_at, marketplace, transaction_id,
                items, status, first_seen_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)
             ON CONFLICT(refund_key) DO NOTHING",
        )?;
        for e in events {
            let json = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
            new += ins.execute(params![
                e.key(),
                e.order_id,
                e.posted_at,
                e.marketplace,
                e.transaction_id(),
                json,
                at
            ])? as u64;
        }
    }
    crate::failpoint::hit("refunds:before-page-commit");
    tx.commit()?;
    Ok(new)
}

/// The `PostedBefore` of the last complete read (RFC 3339), if any.
pub fn checkpoint(conn: &Connection) -> Result<Option<String>, StoreError> {
    super::state::get(conn, CHECKPOINT)
}

/// Records a complete read up to `posted_before`.
pub fn set_checkpoint(conn: &Connection, posted_before: &str) -> Result<(), StoreError> {
    super::state::set(conn, CHECKPOINT, posted_before)
}

/// A refund that has no credit note yet.
#[derive(Debug, Clone)]
pub struct Open {
    pub key: String,
    pub status: String,
    pub event: RefundEvent,
}

/// Refunds still pending or in review, oldest posting first.
pub fn open(conn: &Connection) -> Result<Vec<Open>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT refund_key, status, items FROM refunds WHERE status IN ('pending', 'review')
         ORDER BY posted_at, refund_key",
    )?;
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
        .filter_map(|(key, status, items)| {
            serde_json::from_str(&items)
                .ok()
                .map(|event| Open { key, status, event })
        })
        .collect())
}

/// Where a refund's order stands for invoicing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderState {
    /// The order's invoice (its id).
    Invoiced(i64),
    /// Shipped but not invoiced yet: make-invoices will invoice it.
    AwaitsInvoice,
    /// Known, but never to be invoiced (not shipped, cancelled, not fulfilled by a
    /// channel fulfil invoices).
    NoInvoice,
    /// Not in the store.
    Unknown,
}

/// Where `order_id` stands; `fulfilled_by` as for `invoices::invoice_candidates`.
pub fn order_state(
    conn: &Connection,
    order_id: &str,
    fulfilled_by: &[String],
) -> Result<OrderState, StoreError> {
    if let Some(id) = conn
        .prepare_cached(
            "SELECT id FROM invoices WHERE order_id = ?1 AND kind = 'invoice' ORDER BY id LIMIT 1",
        )?
        .query_row([order_id], |r| r.get(0))
        .optional()?
    {
        return Ok(OrderState::Invoiced(id));
    }
    let list = serde_json::to_string(fulfilled_by).unwrap_or_else(|_| "[]".into());
    let row: Option<bool> = conn
        .prepare_cached(
            "SELECT stage IN ('shipped', 'shipped_elsewhere', 'amazon_fulfilled')
                    AND fulfilled_by IN (SELECT value FROM json_each(?2))
             FROM orders WHERE order_id = ?1",
        )?
        .query_row(params![order_id, list], |r| r.get(0))
        .optional()?;
    Ok(match row {
        None => OrderState::Unknown,
        Some(true) => OrderState::AwaitsInvoice,
        Some(false) => OrderState::NoInvoice,
    })
}

/// The VAT computations (JSON) of the credit notes issued against invoice `invoice_id`.
pub fn credit_notes_of(conn: &Connection, invoice_id: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT computation FROM invoices WHERE corrects = ?1 AND kind = 'credit_note' ORDER BY id",
    )?;
    let rows = stmt
        .query_map([invoice_id], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The refund `key` got the credit note `document`: in the transaction that issued it.
pub fn mark_credited(
    tx: &Transaction<'_>,
    key: &str,
    document: i64,
    at: &str,
) -> Result<(), StoreError> {
    let n = tx
        .prepare_cached(
            "UPDATE refunds SET status = 'credited', credit_note = ?2, reason = NULL,
                updated_at = ?3
             WHERE refund_key = ?1 AND status <> 'credited'",
        )?
        .execute(params![key, document, at])?;
    if n != 1 {
        // A refund credited twice would be a bug: refuse the whole transaction.
        return Err(StoreError::Sqlite(rusqlite::Error::StatementChangedRows(n)));
    }
    let order: String = tx
        .prepare_cached("SELECT order_id FROM refunds WHERE refund_key = ?1")?
        .query_row([key], |r| r.get(0))?;
    order_db::clear_issue(tx, &order, ISSUES)?;
    Ok(())
}

/// The refund `key` waits (`pending`) or needs a person (`review`), for `reason`; a
/// review is listed in `order_issues` under [`ISSUES`].
pub fn mark_open(
    conn: &Connection,
    key: &str,
    review: bool,
    reason: &str,
    detail: Option<&str>,
    at: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE refunds SET status = ?2, reason = ?3, updated_at = ?4
         WHERE refund_key = ?1 AND status <> 'credited'",
    )?
    .execute(params![
        key,
        if review { "review" } else { "pending" },
        reason,
        at
    ])?;
    let order: Option<String> = conn
        .prepare_cached("SELECT order_id FROM refunds WHERE refund_key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?;
    if let Some(order) = order
        && review
    {
        order_db::record_issue(conn, &order, ISSUES, reason, detail, at)?;
    }
    Ok(())
}

/// The refunds of `order_id` in review were handled outside fulfil (a person said so):
/// they become `settled`, are never credited, and the order's review line for refunds
/// goes. Returns how many there were.
pub fn settle(tx: &Transaction<'_>, order_id: &str, at: &str) -> Result<u64, StoreError> {
    let n = tx.execute(
        "UPDATE refunds SET status = 'settled', updated_at = ?2
         WHERE order_id = ?1 AND status = 'review'",
        params![order_id, at],
    )?;
    if n > 0 {
        order_db::clear_issue(tx, order_id, ISSUES)?;
    }
    Ok(n as u64)
}

/// The refund's transaction id for the credit note `document`, if it credits a refund.
pub fn transaction_id(conn: &Connection, document: i64) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT transaction_id FROM refunds WHERE credit_note = ?1")?
        .query_row([document], |r| r.get(0))
        .optional()?)
}

/// Refunds per status: (status, count).
pub fn counts(conn: &Connection) -> Result<Vec<(String, u64)>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT status, count(*) FROM refunds GROUP BY status ORDER BY status")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.unsigned_abs())))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// One refund as [`all`] lists it: key, status, reason, credit note number.
pub type Listed = (String, String, Option<String>, Option<String>);

/// Every refund, oldest posting first.
pub fn all(conn: &Connection) -> Result<Vec<Listed>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT r.refund_key, r.status, r.reason, i.number FROM refunds r
         LEFT JOIN invoices i ON i.id = r.credit_note ORDER BY r.posted_at, r.refund_key",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
