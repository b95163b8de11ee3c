//! Parcels, labels, address corrections and the files written to disk.

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};

use super::StoreError;
use super::orders::Stage;

/// What make-labels needs of an order, besides its personal data.
#[derive(Debug, Clone)]
pub struct LabelOrder {
    pub order_id: String,
    pub marketplace_id: String,
    pub destination_country: Option<String>,
    pub is_business: bool,
    /// (order item id, SKU, quantity)
    pub items: Vec<(String, String, i64)>,
}

/// A reserved parcel: one of an order's `parcel_count` parcels (multi-collo, issue
/// #19), or its only one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parcel {
    pub order_id: String,
    /// 1 to `parcel_count`; parcel 1 is the group's main parcel.
    pub parcel_no: u32,
    pub parcel_count: u32,
    /// The order items in this parcel, (order item id, quantity); `None` for an order's
    /// only parcel, which carries all its items.
    pub items: Option<Vec<(String, i64)>>,
    pub barcode: String,
    pub product_code: String,
    /// JSON list of [characteristic, option] pairs.
    pub product_options: String,
    pub weight_g: u32,
    pub package_reference_id: String,
    pub labelled_at: Option<String>,
    pub confirmed_at: Option<String>,
}

/// Orders waiting for a label, the most urgent first: by ship-by deadline (issue #23),
/// then the oldest.
pub fn ready_orders(conn: &Connection) -> Result<Vec<LabelOrder>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT order_id, marketplace_id, destination_country, is_business FROM orders
         WHERE stage = ?1 AND fulfilled_by = 'MERCHANT'
         ORDER BY ship_by_latest IS NULL, ship_by_latest, created_at, order_id",
    )?;
    let mut orders = stmt
        .query_map([Stage::Ready.as_str()], label_order_from)?
        .collect::<Result<Vec<_>, _>>()?;
    for o in &mut orders {
        o.items = label_items(conn, &o.order_id)?;
    }
    Ok(orders)
}

/// One order as make-labels sees it, whatever its stage (a reprint in another format
/// plans its label again, issue #19).
pub fn label_order(conn: &Connection, order_id: &str) -> Result<Option<LabelOrder>, StoreError> {
    let order = conn
        .query_row(
            "SELECT order_id, marketplace_id, destination_country, is_business FROM orders
             WHERE order_id = ?1",
            [order_id],
            label_order_from,
        )
        .optional()?;
    let Some(mut order) = order else {
        return Ok(None);
    };
    order.items = label_items(conn, order_id)?;
    Ok(Some(order))
}

fn label_order_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<LabelOrder> {
    Ok(LabelOrder {
        order_id: r.get(0)?,
        marketplace_id: r.get(1)?,
        destination_country: r.get(2)?,
        is_business: r.get(3)?,
        items: Vec::new(),
    })
}

fn label_items(
    conn: &Connection,
    order_id: &str,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    let mut items = conn.prepare_cached(
        "SELECT order_item_id, coalesce(seller_sku, ''), quantity FROM order_items
         WHERE order_id = ?1 ORDER BY order_item_id",
    )?;
    Ok(items
        .query_map([order_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?)
}

fn parcel_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Parcel> {
    let items: Option<String> = r.get(2)?;
    Ok(Parcel {
        order_id: r.get(0)?,
        parcel_no: r.get(1)?,
        parcel_count: r.get(10)?,
        items: items.and_then(|j| serde_json::from_str(&j).ok()),
        barcode: r.get(3)?,
        product_code: r.get(4)?,
        product_options: r.get(5)?,
        weight_g: r.get(6)?,
        package_reference_id: r.get(7)?,
        labelled_at: r.get(8)?,
        confirmed_at: r.get(9)?,
    })
}

const PARCEL_COLS: &str = "order_id, parcel_no, items, barcode, product_code, product_options,
    weight_g, package_reference_id, labelled_at, confirmed_at, parcel_count";

/// An order's reserved parcels, parcel 1 first (none before its barcodes are reserved;
/// they are reserved together, so never only some).
pub fn parcels(conn: &Connection, order_id: &str) -> Result<Vec<Parcel>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PARCEL_COLS} FROM parcels WHERE order_id = ?1 ORDER BY parcel_no"
    ))?;
    Ok(stmt
        .query_map([order_id], parcel_from)?
        .collect::<Result<Vec<_>, _>>()?)
}

/// An order's first (or only) parcel.
pub fn parcel(conn: &Connection, order_id: &str) -> Result<Option<Parcel>, StoreError> {
    Ok(parcels(conn, order_id)?.into_iter().next())
}

/// Commits a reserved barcode for one parcel of an order, before any label is asked
/// for; the parcels of one order are reserved in the same transaction.
pub fn reserve(tx: &Transaction<'_>, p: &Parcel, now: &str) -> Result<(), StoreError> {
    let items = p
        .items
        .as_ref()
        .map(|i| serde_json::to_string(i).unwrap_or_else(|_| "[]".into()));
    tx.execute(
        "INSERT INTO parcels(order_id, parcel_no, parcel_count, items, barcode, product_code,
            product_options, weight_g, package_reference_id, reserved_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            p.order_id,
            p.parcel_no,
            p.parcel_count,
            items,
            p.barcode,
            p.product_code,
            p.product_options,
            p.weight_g,
            p.package_reference_id,
            now
        ],
    )?;
    Ok(())
}

/// The number of parcels a person set for an order (`fulfil review split`).
pub fn split_of(conn: &Connection, order_id: &str) -> Result<Option<u32>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT parcels FROM parcel_splits WHERE order_id = ?1",
            [order_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Sets the number of parcels an order ships as, whatever the rules say (1: one
/// parcel).
pub fn set_split(
    conn: &Connection,
    order_id: &str,
    parcels: u32,
    now: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO parcel_splits(order_id, parcels, set_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(order_id) DO UPDATE SET parcels = excluded.parcels, set_at = excluded.set_at",
        params![order_id, parcels, now],
    )?;
    Ok(())
}

/// A label as stored: its bytes and their format (`pdf`, `zpl-203`, `zpl-300`).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredLabel {
    pub order_id: String,
    pub bytes: Vec<u8>,
    pub format: String,
    /// Which of the order's parcels it is for (1 for an order's only parcel).
    pub parcel_no: u32,
}

impl std::fmt::Debug for StoredLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The label shows the address: its size only.
        f.debug_struct("StoredLabel")
            .field("order_id", &self.order_id)
            .field("bytes", &self.bytes.len())
            .field("format", &self.format)
            .field("parcel_no", &self.parcel_no)
            .finish()
    }
}

/// Stores the label of one parcel (`format` names what its bytes are, see
/// [`StoredLabel`]) and moves the order to `labelled`. The labels of an order's parcels
/// are stored in one transaction.
pub fn save_label(
    tx: &Transaction<'_>,
    (order_id, parcel_no): (&str, u32),
    barcode: &str,
    label_type: &str,
    (bytes, format): (&[u8], &str),
    now: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO label_files(order_id, parcel_no, barcode, label_type, pdf, created_at, format)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(order_id, parcel_no) DO UPDATE SET barcode = excluded.barcode,
            label_type = excluded.label_type, pdf = excluded.pdf, created_at = excluded.created_at,
            format = excluded.format",
        params![order_id, parcel_no, barcode, label_type, bytes, now, format],
    )?;
    tx.execute(
        "UPDATE parcels SET labelled_at = coalesce(labelled_at, ?3)
         WHERE order_id = ?1 AND parcel_no = ?2",
        params![order_id, parcel_no, now],
    )?;
    set_stage(tx, order_id, Stage::Labelled)?;
    Ok(())
}

/// Replaces an order's stored label by one made again in another format (a reprint,
/// issue #19); the order's stage and times stay as they are.
pub fn replace_label(
    tx: &Transaction<'_>,
    (order_id, parcel_no): (&str, u32),
    label_type: &str,
    (bytes, format): (&[u8], &str),
    now: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE label_files SET label_type = ?3, pdf = ?4, format = ?5, created_at = ?6
         WHERE order_id = ?1 AND parcel_no = ?2",
        params![order_id, parcel_no, label_type, bytes, format, now],
    )?;
    Ok(())
}

pub fn set_stage(conn: &Connection, order_id: &str, stage: Stage) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE orders SET stage = ?2 WHERE order_id = ?1",
        params![order_id, stage.as_str()],
    )?;
    Ok(())
}

/// Marks the time the labels went into a print file.
pub fn mark_printed(conn: &Connection, order_ids: &[String], now: &str) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached("UPDATE parcels SET printed_at = ?2 WHERE order_id = ?1")?;
    for id in order_ids {
        stmt.execute(params![id, now])?;
    }
    Ok(())
}

/// A labelled parcel not yet confirmed to Amazon.
#[derive(Debug, Clone)]
pub struct ToConfirm {
    pub parcel: Parcel,
    pub marketplace_id: String,
    /// (order item id, quantity)
    pub items: Vec<(String, i64)>,
}

/// The labelled parcels not confirmed yet, each with the items it carries; a further
/// box of a SKU that comes in several (no items) is not confirmed to Amazon, which takes
/// no package without items.
pub fn unconfirmed(conn: &Connection) -> Result<Vec<ToConfirm>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {cols}, o.marketplace_id FROM parcels p JOIN orders o USING (order_id)
         WHERE p.labelled_at IS NOT NULL AND p.confirmed_at IS NULL AND o.stage = ?1
         ORDER BY o.ship_by_latest IS NULL, o.ship_by_latest, p.labelled_at, p.order_id, p.parcel_no",
        cols = PARCEL_COLS
            .split(',')
            .map(|c| format!("p.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    let mut out = stmt
        .query_map([Stage::Labelled.as_str()], |r| {
            Ok(ToConfirm {
                parcel: parcel_from(r)?,
                marketplace_id: r.get(11)?,
                items: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut items = conn.prepare_cached(
        "SELECT order_item_id, quantity FROM order_items WHERE order_id = ?1 AND quantity > 0
         ORDER BY order_item_id",
    )?;
    for c in &mut out {
        c.items = match &c.parcel.items {
            Some(list) => list.clone(),
            None => items
                .query_map([&c.parcel.order_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?,
        };
    }
    out.retain(|c| !c.items.is_empty());
    Ok(out)
}

/// Amazon accepted one parcel's shipment. When every parcel of the order that carries
/// items is confirmed, the order is fulfilled and its retention clock starts.
pub fn mark_confirmed(
    tx: &Transaction<'_>,
    (order_id, parcel_no): (&str, u32),
    now: &str,
    pii_due_at: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE parcels SET confirmed_at = ?3, confirm_error = NULL
         WHERE order_id = ?1 AND parcel_no = ?2",
        params![order_id, parcel_no, now],
    )?;
    // Parcels still to confirm: unconfirmed ones with items (NULL: all the order's).
    let left: i64 = tx.query_row(
        "SELECT count(*) FROM parcels WHERE order_id = ?1 AND confirmed_at IS NULL
            AND (items IS NULL OR items <> '[]')",
        [order_id],
        |r| r.get(0),
    )?;
    if left > 0 {
        return Ok(());
    }
    tx.execute(
        "UPDATE orders SET stage = ?2, fulfilled_at = coalesce(fulfilled_at, ?3),
            pii_due_at = CASE WHEN pii_due_at IS NULL OR pii_due_at > ?4 THEN ?4 ELSE pii_due_at END
         WHERE order_id = ?1",
        params![order_id, Stage::Shipped.as_str(), now, pii_due_at],
    )?;
    Ok(())
}

pub fn confirm_failed(
    conn: &Connection,
    (order_id, parcel_no): (&str, u32),
    code: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE parcels SET confirm_error = ?3 WHERE order_id = ?1 AND parcel_no = ?2",
        params![order_id, parcel_no, code],
    )?;
    Ok(())
}

/// The stored labels not yet in a print file, the most urgent first (by ship-by
/// deadline, then in the order they were made): a packer who works down the pile packs
/// the orders that must leave first.
pub fn unprinted_labels(conn: &Connection) -> Result<Vec<StoredLabel>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT p.order_id, l.pdf, l.format, p.parcel_no FROM parcels p
         JOIN label_files l ON l.order_id = p.order_id AND l.parcel_no = p.parcel_no
         JOIN orders o ON o.order_id = p.order_id
         WHERE p.printed_at IS NULL
         ORDER BY o.ship_by_latest IS NULL, o.ship_by_latest, p.labelled_at, p.order_id,
            p.parcel_no",
    )?;
    Ok(stmt
        .query_map([], stored_label)?
        .collect::<Result<Vec<_>, _>>()?)
}

fn stored_label(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredLabel> {
    Ok(StoredLabel {
        order_id: r.get(0)?,
        bytes: r.get(1)?,
        format: r.get(2)?,
        parcel_no: r.get(3)?,
    })
}

/// An order's stored labels, parcel 1 first (for reprints).
pub fn label_files(conn: &Connection, order_id: &str) -> Result<Vec<StoredLabel>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT order_id, pdf, format, parcel_no FROM label_files WHERE order_id = ?1
         ORDER BY parcel_no",
    )?;
    Ok(stmt
        .query_map([order_id], stored_label)?
        .collect::<Result<Vec<_>, _>>()?)
}

/// An order's first (or only) stored label.
pub fn label_file(conn: &Connection, order_id: &str) -> Result<Option<StoredLabel>, StoreError> {
    Ok(label_files(conn, order_id)?.into_iter().next())
}

/// The stored label's bytes, whatever their format (for tests and reprints).
pub fn label_pdf(conn: &Connection, order_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(label_file(conn, order_id)?.map(|l| l.bytes))
}

/// A corrected address, from `fulfil review set-address`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AddressOverride {
    pub street: String,
    pub house_nr: String,
    pub house_nr_ext: Option<String>,
    pub zipcode: Option<String>,
    pub city: Option<String>,
}

impl std::fmt::Debug for AddressOverride {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AddressOverride([pii])")
    }
}

pub fn address_override(
    conn: &Connection,
    order_id: &str,
) -> Result<Option<AddressOverride>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT street, house_nr, house_nr_ext, zipcode, city FROM address_overrides
             WHERE order_id = ?1",
            [order_id],
            |r| {
                Ok(AddressOverride {
                    street: r.get(0)?,
                    house_nr: r.get(1)?,
                    house_nr_ext: r.get(2)?,
                    zipcode: r.get(3)?,
                    city: r.get(4)?,
                })
            },
        )
        .optional()?)
}

pub fn set_address_override(
    conn: &Connection,
    order_id: &str,
    a: &AddressOverride,
    now: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO address_overrides(order_id, street, house_nr, house_nr_ext, zipcode, city, set_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(order_id) DO UPDATE SET street = excluded.street, house_nr = excluded.house_nr,
            house_nr_ext = excluded.house_nr_ext, zipcode = excluded.zipcode, city = excluded.city,
            set_at = excluded.set_at",
        params![order_id, a.street, a.house_nr, a.house_nr_ext, a.zipcode, a.city, now],
    )?;
    Ok(())
}

/// Every file recorded for purge (also those already removed), by path: (path, kind,
/// order ids as recorded, a JSON list).
pub fn tracked_files(conn: &Connection) -> Result<Vec<(String, String, String)>, StoreError> {
    let mut stmt = conn.prepare("SELECT path, kind, order_ids FROM tracked_files ORDER BY path")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Orders in review with their reasons (from any command).
pub fn review_list(conn: &Connection) -> Result<Vec<(String, String, String)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT o.order_id, coalesce(i.command, ''), coalesce(i.reason, 'review')
         FROM orders o LEFT JOIN order_issues i ON i.order_id = o.order_id
         WHERE o.stage = ?1
         UNION
         SELECT i.order_id, i.command, i.reason FROM order_issues i
         ORDER BY 1, 2",
    )?;
    let rows = stmt
        .query_map([Stage::Review.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// What is packed for an order: (SKU, title, quantity) of each item with a quantity, for
/// the pick list (issue #19). Titles are the products', never the buyer's data.
pub fn pick_items(
    conn: &Connection,
    order_id: &str,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT coalesce(seller_sku, ''), coalesce(title, ''), quantity FROM order_items
         WHERE order_id = ?1 AND quantity > 0 ORDER BY order_item_id",
    )?;
    Ok(stmt
        .query_map([order_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?)
}
