//! Ship-by deadlines (issue #23): the open orders with their deadlines, and the counts
//! behind the late-shipment and tracking rates. No personal data is read here: the
//! deadlines live on the anonymous `orders` row (migration 0011) and survive purge.

use rusqlite::{Connection, OptionalExtension as _, params};

use super::StoreError;
use super::orders::Stage;

/// The schema version that added the deadline columns; an older database opened to
/// read (which is never migrated) has none to show.
pub const SINCE_SCHEMA: u32 = 11;

/// An order not yet confirmed to Amazon: ready, in review or labelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOrder {
    pub order_id: String,
    pub stage: Stage,
    pub service_level: Option<String>,
    /// RFC 3339, UTC.
    pub ship_by_latest: Option<String>,
    pub label_from: Option<String>,
    /// The latest review reason recorded for the order, if any.
    pub reason: Option<String>,
}

/// Every open order, the most urgent first (no deadline last).
pub fn open(conn: &Connection) -> Result<Vec<OpenOrder>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT o.order_id, o.stage, o.service_level, o.ship_by_latest, o.label_from,
            (SELECT i.reason FROM order_issues i WHERE i.order_id = o.order_id
             ORDER BY i.at DESC, i.command LIMIT 1)
         FROM orders o
         WHERE o.stage IN (?1, ?2, ?3) AND o.fulfilled_by = 'MERCHANT'
         ORDER BY o.ship_by_latest IS NULL, o.ship_by_latest, o.order_id",
    )?;
    let rows = stmt
        .query_map(
            params![
                Stage::Ready.as_str(),
                Stage::Review.as_str(),
                Stage::Labelled.as_str()
            ],
            |r| {
                let stage: String = r.get(1)?;
                Ok(OpenOrder {
                    order_id: r.get(0)?,
                    stage: Stage::parse(&stage).unwrap_or(Stage::Review),
                    service_level: r.get(2)?,
                    ship_by_latest: r.get(3)?,
                    label_from: r.get(4)?,
                    reason: r.get(5)?,
                })
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The ship-by deadline (if Amazon gave one) of each of `orders` that is still to be
/// confirmed to Amazon (ready, in review or labelled), for `fulfil review`; orders
/// already shipped, cancelled or unknown are not in the map: their deadline no longer
/// matters.
pub fn ship_by(
    conn: &Connection,
    orders: &[String],
) -> Result<std::collections::BTreeMap<String, Option<String>>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT ship_by_latest FROM orders WHERE order_id = ?1 AND stage IN (?2, ?3, ?4)",
    )?;
    let mut found = std::collections::BTreeMap::new();
    for id in orders {
        let open: Option<Option<String>> = stmt
            .query_row(
                params![
                    id,
                    Stage::Ready.as_str(),
                    Stage::Review.as_str(),
                    Stage::Labelled.as_str()
                ],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(deadline) = open {
            found.insert(id.clone(), deadline);
        }
    }
    Ok(found)
}

/// Ready orders whose label-printing window opens after `now`: they wait.
pub fn label_window_closed(
    conn: &Connection,
    now: &str,
) -> Result<std::collections::BTreeSet<String>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT order_id FROM orders WHERE stage = ?1 AND label_from IS NOT NULL
         AND label_from > ?2",
    )?;
    let rows = stmt
        .query_map(params![Stage::Ready.as_str(), now], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The time an order's shipment was confirmed: our confirmation of its last parcel, or
/// for an order shipped without our label, the time Amazon gives.
const CONFIRMED: &str = "coalesce(
        (SELECT max(p.confirmed_at) FROM parcels p WHERE p.order_id = o.order_id),
        CASE WHEN o.stage IN ('shipped', 'shipped_elsewhere') THEN o.fulfilled_at END)";

/// How far before a window's start a confirmed order's deadline may lie and still be
/// counted for tracking: confirmations more than this late are rare, and the bound
/// keeps the query on the deadline index in a store of millions of orders.
const TRACKING_LOOKBACK_DAYS: i64 = 60;

/// The counts behind Amazon's two rates for the window `[since, now)` (RFC 3339, UTC):
/// orders whose deadline fell in it and how many of them were (or are) late; orders
/// confirmed in it and how many of those carry a tracking number Amazon knows (one we
/// confirmed with, or one in Amazon's own package list).
pub fn window(
    conn: &Connection,
    since: time::OffsetDateTime,
    now: time::OffsetDateTime,
) -> Result<crate::ship_by::WindowCounts, StoreError> {
    let (s, n) = (crate::clock::rfc3339(since), crate::clock::rfc3339(now));
    let look = crate::clock::rfc3339(since - time::Duration::days(TRACKING_LOOKBACK_DAYS));
    let (due, late): (i64, i64) = conn.query_row(
        &format!(
            "SELECT count(*), coalesce(sum(c IS NULL OR c > d), 0) FROM (
                SELECT o.ship_by_latest AS d, {CONFIRMED} AS c FROM orders o
                WHERE o.fulfilled_by = 'MERCHANT' AND o.ship_by_latest >= ?1
                  AND o.ship_by_latest < ?2
                  AND o.stage IN ('ready', 'review', 'labelled', 'shipped', 'shipped_elsewhere'))"
        ),
        params![s, n],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (confirmed, tracked): (i64, i64) = conn.query_row(
        &format!(
            "SELECT count(*), coalesce(sum(t), 0) FROM (
                SELECT {CONFIRMED} AS c,
                  (EXISTS (SELECT 1 FROM parcels p WHERE p.order_id = o.order_id
                           AND p.confirmed_at IS NOT NULL AND p.barcode <> '')
                   OR EXISTS (SELECT 1 FROM order_packages k WHERE k.order_id = o.order_id
                           AND coalesce(k.tracking_number, '') <> '')) AS t
                FROM orders o
                WHERE o.fulfilled_by = 'MERCHANT' AND o.ship_by_latest >= ?3
                  AND o.stage IN ('shipped', 'shipped_elsewhere', 'labelled'))
             WHERE c >= ?1 AND c < ?2"
        ),
        params![s, n, look],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(crate::ship_by::WindowCounts {
        due: due.unsigned_abs(),
        late: late.unsigned_abs(),
        confirmed: confirmed.unsigned_abs(),
        tracked: tracked.unsigned_abs(),
    })
}
