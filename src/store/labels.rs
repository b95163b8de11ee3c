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

/// A reserved parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parcel {
    pub order_id: String,
    pub barcode: String,
    pub product_code: String,
    /// JSON list of [characteristic, option] pairs.
    pub product_options: String,
    pub weight_g: u32,
    pub package_reference_id: String,
    pub labelled_at: Option<String>,
    pub confirmed_at: Option<String>,
}

/// Orders waiting for a label, oldest first.
pub fn ready_orders(conn: &Connection) -> Result<Vec<LabelOrder>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT order_id, marketplace_id, destination_country, is_business FROM orders
         WHERE stage = ?1 AND fulfilled_by = 'MERCHANT' ORDER BY created_at, order_id",
    )?;
    let mut orders = stmt
        .query_map([Stage::Ready.as_str()], |r| {
            Ok(LabelOrder {
                order_id: r.get(0)?,
                marketplace_id: r.get(1)?,
                destination_country: r.get(2)?,
                is_business: r.get(3)?,
                items: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut items = conn.prepare_cached(
        "SELECT order_item_id, coalesce(seller_sku, ''), quantity FROM order_items
         WHERE order_id = ?1 ORDER BY order_item_id",
    )?;
    for o in &mut orders {
        o.items = items
            .query_map([&o.order_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
    }
    Ok(orders)
}

fn parcel_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Parcel> {
    Ok(Parcel {
        order_id: r.get(0)?,
        barcode: r.get(1)?,
        product_code: r.get(2)?,
        product_options: r.get(3)?,
        weight_g: r.get(4)?,
        package_reference_id: r.get(5)?,
        labelled_at: r.get(6)?,
        confirmed_at: r.get(7)?,
    })
}

const PARCEL_COLS: &str = "order_id, barcode, product_code, product_options, weight_g,
    package_reference_id, labelled_at, confirmed_at";

pub fn parcel(conn: &Connection, order_id: &str) -> Result<Option<Parcel>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {PARCEL_COLS} FROM parcels WHERE order_id = ?1"),
            [order_id],
            parcel_from,
        )
        .optional()?)
}

/// Commits a reserved barcode for an order, before any label is asked for.
pub fn reserve(tx: &Transaction<'_>, p: &Parcel, now: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO parcels(order_id, barcode, product_code, product_options, weight_g,
            package_reference_id, reserved_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            p.order_id,
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

/// Stores a label and moves the order to `labelled`.
pub fn save_label(
    tx: &Transaction<'_>,
    order_id: &str,
    barcode: &str,
    label_type: &str,
    pdf: &[u8],
    now: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO label_files(order_id, barcode, label_type, pdf, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(order_id) DO UPDATE SET barcode = excluded.barcode,
            label_type = excluded.label_type, pdf = excluded.pdf, created_at = excluded.created_at",
        params![order_id, barcode, label_type, pdf, now],
    )?;
    tx.execute(
        "UPDATE parcels SET labelled_at = coalesce(labelled_at, ?2) WHERE order_id = ?1",
        params![order_id, now],
    )?;
    set_stage(tx, order_id, Stage::Labelled)?;
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

pub fn unconfirmed(conn: &Connection) -> Result<Vec<ToConfirm>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {cols}, o.marketplace_id FROM parcels p JOIN orders o USING (order_id)
         WHERE p.labelled_at IS NOT NULL AND p.confirmed_at IS NULL AND o.stage = ?1
         ORDER BY p.labelled_at, p.order_id",
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
                marketplace_id: r.get(8)?,
                items: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut items = conn.prepare_cached(
        "SELECT order_item_id, quantity FROM order_items WHERE order_id = ?1 AND quantity > 0
         ORDER BY order_item_id",
    )?;
    for c in &mut out {
        c.items = items
            .query_map([&c.parcel.order_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
    }
    Ok(out)
}

/// Amazon accepted the shipment: the order is fulfilled and its retention clock starts.
pub fn mark_confirmed(
    tx: &Transaction<'_>,
    order_id: &str,
    now: &str,
    pii_due_at: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE parcels SET confirmed_at = ?2, confirm_error = NULL WHERE order_id = ?1",
        params![order_id, now],
    )?;
    tx.execute(
        "UPDATE orders SET stage = ?2, fulfilled_at = coalesce(fulfilled_at, ?3),
            pii_due_at = CASE WHEN pii_due_at IS NULL OR pii_due_at > ?4 THEN ?4 ELSE pii_due_at END
         WHERE order_id = ?1",
        params![order_id, Stage::Shipped.as_str(), now, pii_due_at],
    )?;
    Ok(())
}

pub fn confirm_failed(conn: &Connection, order_id: &str, code: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE parcels SET confirm_error = ?2 WHERE order_id = ?1",
        params![order_id, code],
    )?;
    Ok(())
}

/// The stored labels not yet in a print file, (order id, PDF), in the order they were
/// made.
pub fn unprinted_labels(conn: &Connection) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT p.order_id, l.pdf FROM parcels p JOIN label_files l USING (order_id)
         WHERE p.printed_at IS NULL ORDER BY p.labelled_at, p.order_id",
    )?;
    Ok(stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?)
}

/// A stored label (for reprints).
pub fn label_pdf(conn: &Connection, order_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT pdf FROM label_files WHERE order_id = ?1",
            [order_id],
            |r| r.get(0),
        )
        .optional()?)
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
