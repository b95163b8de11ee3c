//! The cache of PostNL postal-code check answers (issue #18), keyed by (postcode, house
//! number, addition), with the orders each answer was asked for. An answer goes with the
//! personal data of the last order that refers to it (purge, forget-order).

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};

use super::StoreError;

/// The cached answer (JSON) for a key, if any.
pub fn cached(
    conn: &Connection,
    postcode: &str,
    house_nr: &str,
    addition: &str,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT answer FROM postcode_checks
             WHERE postcode = ?1 AND house_nr = ?2 AND addition = ?3",
            params![postcode, house_nr, addition],
            |r| r.get(0),
        )
        .optional()?)
}

/// Stores an answer (replacing an older one) and links it to `order_id`.
pub fn store(
    conn: &Connection,
    key: (&str, &str, &str),
    answer: &str,
    order_id: &str,
    now: &str,
) -> Result<(), StoreError> {
    let (postcode, house_nr, addition) = key;
    conn.execute(
        "INSERT INTO postcode_checks (postcode, house_nr, addition, answer, checked_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (postcode, house_nr, addition)
         DO UPDATE SET answer = excluded.answer, checked_at = excluded.checked_at",
        params![postcode, house_nr, addition, answer, now],
    )?;
    link(conn, key, order_id)
}

/// Records that `order_id` used the cached answer for `key`.
pub fn link(conn: &Connection, key: (&str, &str, &str), order_id: &str) -> Result<(), StoreError> {
    let (postcode, house_nr, addition) = key;
    conn.execute(
        "INSERT OR IGNORE INTO postcode_check_orders (postcode, house_nr, addition, order_id)
         VALUES (?1, ?2, ?3, ?4)",
        params![postcode, house_nr, addition, order_id],
    )?;
    Ok(())
}

/// Removes the order's links and every answer no order refers to any more; returns the
/// answers removed.
pub fn forget_order(tx: &Transaction<'_>, order_id: &str) -> Result<u64, StoreError> {
    forget_listed(tx, "?1", &[order_id.to_string()])
}

/// [`forget_order`] for many orders at once (purge, issue #20): `list` is the
/// placeholders of an `IN` list for `order_ids`. The answers no order links to any more
/// are deleted once, after all the links.
pub fn forget_listed(
    tx: &Transaction<'_>,
    list: &str,
    order_ids: &[String],
) -> Result<u64, StoreError> {
    tx.execute(
        &format!("DELETE FROM postcode_check_orders WHERE order_id IN ({list})"),
        rusqlite::params_from_iter(order_ids.iter()),
    )?;
    let n = tx.execute(
        "DELETE FROM postcode_checks WHERE NOT EXISTS (
             SELECT 1 FROM postcode_check_orders o
             WHERE o.postcode = postcode_checks.postcode
               AND o.house_nr = postcode_checks.house_nr
               AND o.addition = postcode_checks.addition)",
        [],
    )?;
    Ok(n as u64)
}

/// How many answers are cached (for tests and `status`).
pub fn count(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row("SELECT count(*) FROM postcode_checks", [], |r| r.get(0))?;
    Ok(n.unsigned_abs())
}
