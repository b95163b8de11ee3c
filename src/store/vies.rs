//! VIES checks (issue #14): the cache of recent answers (personal data: keyed by the buyer's
//! VAT number, linked to the orders that used it), the orders waiting for VIES, and the
//! ledger record of the check behind each invoice (anonymous, kept after purge).
//! The tables are described in `migrations/0006_vies.sql`.

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};

use super::StoreError;

/// One VIES answer as kept: in the cache, and (without the number) in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub valid: bool,
    /// VIES's `requestDate` (or the time of the check when VIES gave none).
    pub request_date: String,
    /// The consultation number.
    pub request_identifier: Option<String>,
    /// The seller's VAT number the check was made with.
    pub requester: String,
    /// When fulfil made the check (RFC 3339).
    pub checked_at: String,
}

/// The cached answer for `vat_id` made at or after `since` (RFC 3339), if any.
pub fn cached(conn: &Connection, vat_id: &str, since: &str) -> Result<Option<Check>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT valid, request_date, request_identifier, requester, checked_at
             FROM vies_cache WHERE vat_id = ?1 AND checked_at >= ?2",
        )?
        .query_row(params![vat_id, since], |r| {
            Ok(Check {
                valid: r.get::<_, i64>(0)? == 1,
                request_date: r.get(1)?,
                request_identifier: r.get(2)?,
                requester: r.get(3)?,
                checked_at: r.get(4)?,
            })
        })
        .optional()?)
}

/// Keeps a fresh answer for `vat_id` (replacing an older one).
pub fn remember(conn: &Connection, vat_id: &str, check: &Check) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO vies_cache(vat_id, valid, request_date, request_identifier, requester, checked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(vat_id) DO UPDATE SET valid = excluded.valid,
            request_date = excluded.request_date, request_identifier = excluded.request_identifier,
            requester = excluded.requester, checked_at = excluded.checked_at",
    )?
    .execute(params![
        vat_id,
        i64::from(check.valid),
        check.request_date,
        check.request_identifier,
        check.requester,
        check.checked_at
    ])?;
    Ok(())
}

/// Notes that `order_id` used the cached answer for `vat_id`, so the row lives as long as
/// an order with personal data refers to it.
pub fn link(conn: &Connection, vat_id: &str, order_id: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO vies_cache_orders(vat_id, order_id)
         SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM vies_cache WHERE vat_id = ?1)",
    )?
    .execute(params![vat_id, order_id])?;
    Ok(())
}

/// Removes an order's links (purge, forget-order) and then every cache row no order refers
/// to any more. Returns the cache rows deleted.
pub fn forget_order(tx: &Transaction<'_>, order_id: &str) -> Result<u64, StoreError> {
    tx.execute(
        "DELETE FROM vies_cache_orders WHERE order_id = ?1",
        [order_id],
    )?;
    tx.execute("DELETE FROM vies_waiting WHERE order_id = ?1", [order_id])?;
    unreferenced(tx)
}

/// [`forget_order`] for every order of `order_ids` (`list` holds their placeholders, see
/// [`super::purge::forget_many`]), with one sweep of the unreferenced cache rows.
pub(super) fn forget_listed(
    tx: &Transaction<'_>,
    list: &str,
    order_ids: &[String],
) -> Result<u64, StoreError> {
    for table in ["vies_cache_orders", "vies_waiting"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE order_id IN ({list})"),
            rusqlite::params_from_iter(order_ids.iter()),
        )?;
    }
    unreferenced(tx)
}

fn unreferenced(conn: &Connection) -> Result<u64, StoreError> {
    let n = conn.execute(
        "DELETE FROM vies_cache WHERE vat_id NOT IN (SELECT vat_id FROM vies_cache_orders)",
        [],
    )?;
    Ok(n as u64)
}

/// Deletes cache rows checked before `before` (RFC 3339), links of orders whose personal data
/// is gone, and rows no order refers to. Returns the cache rows deleted.
pub fn prune(conn: &Connection, before: &str) -> Result<u64, StoreError> {
    let expired = conn.execute("DELETE FROM vies_cache WHERE checked_at < ?1", [before])?;
    conn.execute(
        "DELETE FROM vies_cache_orders WHERE order_id IN
            (SELECT order_id FROM orders WHERE pii_purged_at IS NOT NULL)",
        [],
    )?;
    Ok(expired as u64 + unreferenced(conn)?)
}

/// Records a failed attempt for `order_id`; returns when the first one was.
pub fn note_waiting(
    conn: &Connection,
    order_id: &str,
    at: &str,
    error: &str,
) -> Result<String, StoreError> {
    conn.prepare_cached(
        "INSERT INTO vies_waiting(order_id, first_failed_at, last_failed_at, last_error)
         VALUES (?1, ?2, ?2, ?3)
         ON CONFLICT(order_id) DO UPDATE SET last_failed_at = excluded.last_failed_at,
            last_error = excluded.last_error",
    )?
    .execute(params![order_id, at, error])?;
    Ok(conn
        .prepare_cached("SELECT first_failed_at FROM vies_waiting WHERE order_id = ?1")?
        .query_row([order_id], |r| r.get(0))?)
}

/// The order no longer waits (its check went through, or it was invoiced).
pub fn stop_waiting(conn: &Connection, order_id: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM vies_waiting WHERE order_id = ?1")?
        .execute([order_id])?;
    Ok(())
}

/// Orders waiting for VIES now.
pub fn waiting_count(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row("SELECT count(*) FROM vies_waiting", [], |r| r.get(0))?;
    Ok(n.unsigned_abs())
}

/// The ledger record of the check behind document `number` (inside the transaction that
/// inserts the document and its `tax_ledger` row).
pub fn record_for_document(
    tx: &Transaction<'_>,
    number: &str,
    country_code: &str,
    check: &Check,
    reused: bool,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO tax_ledger_vies(number, country_code, valid, request_date,
            request_identifier, requester, checked_at, reused)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        number,
        country_code,
        i64::from(check.valid),
        check.request_date,
        check.request_identifier,
        check.requester,
        check.checked_at,
        i64::from(reused)
    ])?;
    Ok(())
}

/// The VIES record of a document in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LedgerCheck {
    pub number: String,
    pub order_id: String,
    pub country_code: String,
    pub valid: bool,
    pub request_date: String,
    pub request_identifier: Option<String>,
    pub requester: String,
    pub checked_at: String,
    pub reused: bool,
}

/// The VIES records in the ledger, by document number.
pub fn ledger_checks(conn: &Connection) -> Result<Vec<LedgerCheck>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT v.number, l.order_id, v.country_code, v.valid, v.request_date,
                v.request_identifier, v.requester, v.checked_at, v.reused
         FROM tax_ledger_vies v JOIN tax_ledger l ON l.number = v.number
         ORDER BY v.number",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(LedgerCheck {
                number: r.get(0)?,
                order_id: r.get(1)?,
                country_code: r.get(2)?,
                valid: r.get::<_, i64>(3)? == 1,
                request_date: r.get(4)?,
                request_identifier: r.get(5)?,
                requester: r.get(6)?,
                checked_at: r.get(7)?,
                reused: r.get::<_, i64>(8)? == 1,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Rows in the cache (for `status`).
pub fn cache_count(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row("SELECT count(*) FROM vies_cache", [], |r| r.get(0))?;
    Ok(n.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE orders (order_id TEXT PRIMARY KEY, pii_purged_at TEXT);
             CREATE TABLE tax_ledger (number TEXT PRIMARY KEY, order_id TEXT);",
        )
        .unwrap();
        c.execute_batch(include_str!("migrations/0006_vies.sql"))
            .unwrap();
        c
    }

    fn check(at: &str) -> Check {
        Check {
            valid: true,
            request_date: at.into(),
            request_identifier: Some("WAPIAAAA1".into()),
            requester: "NL000012348B01".into(),
            checked_at: at.into(),
        }
    }

    #[test]
    fn the_cache_lives_only_while_an_order_with_personal_data_refers_to_it() {
        let mut c = conn();
        remember(&c, "DE123456789", &check("2026-11-01T00:00:00Z")).unwrap();
        link(&c, "DE123456789", "A").unwrap();
        link(&c, "DE123456789", "B").unwrap();
        assert!(
            cached(&c, "DE123456789", "2026-10-15T00:00:00Z")
                .unwrap()
                .is_some()
        );
        // Too old for the reuse window.
        assert!(
            cached(&c, "DE123456789", "2026-11-02T00:00:00Z")
                .unwrap()
                .is_none()
        );
        let tx = c.transaction().unwrap();
        assert_eq!(forget_order(&tx, "A").unwrap(), 0, "B still refers to it");
        assert_eq!(forget_order(&tx, "B").unwrap(), 1);
        tx.commit().unwrap();
        assert_eq!(cache_count(&c).unwrap(), 0);
        // Expired rows go too, and an unlinked row never stays.
        remember(&c, "FR12123456789", &check("2026-11-01T00:00:00Z")).unwrap();
        link(&c, "FR12123456789", "C").unwrap();
        assert_eq!(prune(&c, "2026-10-01T00:00:00Z").unwrap(), 0);
        assert_eq!(prune(&c, "2026-12-01T00:00:00Z").unwrap(), 1);
        assert_eq!(
            c.query_row("SELECT count(*) FROM vies_cache_orders", [], |r| r
                .get::<_, i64>(0))
                .unwrap(),
            0
        );
    }

    #[test]
    fn waiting_keeps_the_first_failure() {
        let c = conn();
        assert_eq!(
            note_waiting(&c, "A", "2026-11-01T00:00:00Z", "MS_UNAVAILABLE").unwrap(),
            "2026-11-01T00:00:00Z"
        );
        assert_eq!(
            note_waiting(&c, "A", "2026-11-01T05:00:00Z", "TIMEOUT").unwrap(),
            "2026-11-01T00:00:00Z"
        );
        assert_eq!(waiting_count(&c).unwrap(), 1);
        stop_waiting(&c, "A").unwrap();
        assert_eq!(waiting_count(&c).unwrap(), 0);
    }
}
