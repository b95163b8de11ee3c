//! Orders: the anonymous order, item and package rows, and the personal data apart.

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};

use super::StoreError;

/// Where an order is in fulfil's pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Amazon has not released it for shipping yet (PENDING): no address, no label.
    Pending,
    /// Merchant-fulfilled and ready for a label.
    Ready,
    /// Needs a person (address, product, amounts); see `fulfil review`.
    Review,
    /// Label made; shipment not yet confirmed to Amazon.
    Labelled,
    /// Shipped with our label and confirmed to Amazon.
    Shipped,
    /// Amazon reports it shipped without a label of ours.
    ShippedElsewhere,
    Cancelled,
    Unfulfillable,
    /// Fulfilled by Amazon (FBA): synced for invoicing only.
    AmazonFulfilled,
}

impl Stage {
    pub const ALL: [Stage; 9] = [
        Stage::Pending,
        Stage::Ready,
        Stage::Review,
        Stage::Labelled,
        Stage::Shipped,
        Stage::ShippedElsewhere,
        Stage::Cancelled,
        Stage::Unfulfillable,
        Stage::AmazonFulfilled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Pending => "pending",
            Stage::Ready => "ready",
            Stage::Review => "review",
            Stage::Labelled => "labelled",
            Stage::Shipped => "shipped",
            Stage::ShippedElsewhere => "shipped_elsewhere",
            Stage::Cancelled => "cancelled",
            Stage::Unfulfillable => "unfulfillable",
            Stage::AmazonFulfilled => "amazon_fulfilled",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The anonymous part of an order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRow {
    pub order_id: String,
    pub marketplace_id: String,
    pub fulfilled_by: String,
    pub amazon_status: String,
    pub service_level: Option<String>,
    pub programs: Vec<String>,
    pub is_business: bool,
    pub created_at: String,
    pub amazon_updated_at: String,
    pub ship_by_earliest: Option<String>,
    pub ship_by_latest: Option<String>,
    /// The delivery promise (issue #23).
    pub deliver_by_earliest: Option<String>,
    pub deliver_by_latest: Option<String>,
    /// The earliest time a label may be printed (`labelPrintingWindow`); none: any time.
    pub label_from: Option<String>,
    pub currency: Option<String>,
    pub grand_total: Option<String>,
    pub destination_country: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemRow {
    pub order_item_id: String,
    pub seller_sku: Option<String>,
    pub asin: Option<String>,
    pub title: Option<String>,
    pub quantity: i64,
    pub quantity_shipped: Option<i64>,
    pub unit_price: Option<String>,
    pub currency: Option<String>,
    pub item_amount: Option<String>,
    pub shipping_amount: Option<String>,
    pub gift_wrap_amount: Option<String>,
    pub discount_amount: Option<String>,
    pub tax_amount: Option<String>,
    pub other_amount: Option<String>,
    pub proceeds_total: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PackageRow {
    pub package_reference_id: String,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub ship_time: Option<String>,
    pub status: Option<String>,
}

/// Personal data of an order. Built and read only where it is needed; its `Debug`
/// prints nothing of the values.
#[derive(Clone, Default, PartialEq)]
pub struct PiiRow {
    pub buyer_name: Option<String>,
    pub buyer_company: Option<String>,
    pub buyer_vat_id: Option<String>,
    pub buyer_vat_country: Option<String>,
    pub recipient_name: Option<String>,
    pub recipient_company: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub address_line3: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub state_region: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
    pub phone: Option<String>,
    pub address_type: Option<String>,
}

impl std::fmt::Debug for PiiRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PiiRow([pii])")
    }
}

impl PiiRow {
    pub fn is_empty(&self) -> bool {
        *self == PiiRow::default()
    }
}

/// What the store already knows of an order.
#[derive(Debug, Clone)]
pub struct Existing {
    pub stage: Stage,
    pub amazon_updated_at: String,
    pub fulfilled_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub pii_purged_at: Option<String>,
    /// When the order's personal data is due for removal, once it is known.
    pub pii_due_at: Option<String>,
}

pub fn existing(conn: &Connection, order_id: &str) -> Result<Option<Existing>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT stage, amazon_updated_at, fulfilled_at, cancelled_at, pii_purged_at,
                pii_due_at
             FROM orders WHERE order_id = ?1",
        )?
        .query_row([order_id], |r| {
            let stage: String = r.get(0)?;
            Ok(Existing {
                stage: Stage::parse(&stage).unwrap_or(Stage::Review),
                amazon_updated_at: r.get(1)?,
                fulfilled_at: r.get(2)?,
                cancelled_at: r.get(3)?,
                pii_purged_at: r.get(4)?,
                pii_due_at: r.get(5)?,
            })
        })
        .optional()?)
}

/// The decided state of an order, written by [`upsert`].
#[derive(Debug, Clone)]
pub struct Decided {
    pub stage: Stage,
    pub fulfilled_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub pii_due_at: Option<String>,
    /// Personal data to store, or `None` to leave the stored personal data as it is.
    pub pii: Option<PiiRow>,
}

/// Writes an order with its items and packages, and its personal data apart.
pub fn upsert(
    tx: &Transaction<'_>,
    order: &OrderRow,
    items: &[ItemRow],
    packages: &[PackageRow],
    decided: &Decided,
    now: &str,
) -> Result<(), StoreError> {
    let programs = serde_json::to_string(&order.programs).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached(
        "INSERT INTO orders(order_id, marketplace_id, fulfilled_by, amazon_status, stage,
            service_level, programs, is_business, created_at, amazon_updated_at,
            ship_by_earliest, ship_by_latest, currency, grand_total, destination_country,
            fulfilled_at, cancelled_at, pii_due_at, first_seen_at, synced_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19)
         ON CONFLICT(order_id) DO UPDATE SET
            marketplace_id = excluded.marketplace_id, fulfilled_by = excluded.fulfilled_by,
            amazon_status = excluded.amazon_status, stage = excluded.stage,
            service_level = excluded.service_level, programs = excluded.programs,
            is_business = excluded.is_business, created_at = excluded.created_at,
            amazon_updated_at = excluded.amazon_updated_at,
            ship_by_earliest = excluded.ship_by_earliest, ship_by_latest = excluded.ship_by_latest,
            currency = excluded.currency, grand_total = excluded.grand_total,
            destination_country = excluded.destination_country,
            fulfilled_at = excluded.fulfilled_at, cancelled_at = excluded.cancelled_at,
            pii_due_at = excluded.pii_due_at, synced_at = excluded.synced_at",
    )?
    .execute(params![
            order.order_id,
            order.marketplace_id,
            order.fulfilled_by,
            order.amazon_status,
            decided.stage.as_str(),
            order.service_level,
            programs,
            order.is_business,
            order.created_at,
            order.amazon_updated_at,
            order.ship_by_earliest,
            order.ship_by_latest,
            order.currency,
            order.grand_total,
            order.destination_country,
            decided.fulfilled_at,
            decided.cancelled_at,
            decided.pii_due_at,
            now,
        ])?;
    tx.prepare_cached(
        "UPDATE orders SET deliver_by_earliest = ?2, deliver_by_latest = ?3, label_from = ?4
         WHERE order_id = ?1",
    )?
    .execute(params![
        order.order_id,
        order.deliver_by_earliest,
        order.deliver_by_latest,
        order.label_from,
    ])?;
    tx.prepare_cached("DELETE FROM order_items WHERE order_id = ?1")?
        .execute([&order.order_id])?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO order_items(order_id, order_item_id, seller_sku, asin, title, quantity,
            quantity_shipped, unit_price, currency, item_amount, shipping_amount, gift_wrap_amount,
            discount_amount, tax_amount, other_amount, proceeds_total)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    for i in items {
        ins.execute(params![
            order.order_id,
            i.order_item_id,
            i.seller_sku,
            i.asin,
            i.title,
            i.quantity,
            i.quantity_shipped,
            i.unit_price,
            i.currency,
            i.item_amount,
            i.shipping_amount,
            i.gift_wrap_amount,
            i.discount_amount,
            i.tax_amount,
            i.other_amount,
            i.proceeds_total,
        ])?;
    }
    let mut pk = tx.prepare_cached(
        "INSERT INTO order_packages(order_id, package_reference_id, carrier, tracking_number,
            ship_time, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(order_id, package_reference_id) DO UPDATE SET carrier = excluded.carrier,
            tracking_number = excluded.tracking_number, ship_time = excluded.ship_time,
            status = excluded.status",
    )?;
    for p in packages {
        pk.execute(params![
            order.order_id,
            p.package_reference_id,
            p.carrier,
            p.tracking_number,
            p.ship_time,
            p.status
        ])?;
    }
    if let Some(pii) = &decided.pii {
        put_pii(tx, &order.order_id, pii)?;
    }
    tx.prepare_cached(
        "UPDATE orders SET has_pii = EXISTS(SELECT 1 FROM order_pii WHERE order_id = ?1)
         WHERE order_id = ?1",
    )?
    .execute([&order.order_id])?;
    Ok(())
}

fn put_pii(tx: &Transaction<'_>, order_id: &str, p: &PiiRow) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO order_pii(order_id, buyer_name, buyer_company, buyer_vat_id, buyer_vat_country,
            recipient_name, recipient_company, address_line1, address_line2, address_line3, city,
            district, state_region, postal_code, country_code, phone, address_type)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT(order_id) DO UPDATE SET buyer_name = excluded.buyer_name,
            buyer_company = excluded.buyer_company, buyer_vat_id = excluded.buyer_vat_id,
            buyer_vat_country = excluded.buyer_vat_country, recipient_name = excluded.recipient_name,
            recipient_company = excluded.recipient_company, address_line1 = excluded.address_line1,
            address_line2 = excluded.address_line2, address_line3 = excluded.address_line3,
            city = excluded.city, district = excluded.district, state_region = excluded.state_region,
            postal_code = excluded.postal_code, country_code = excluded.country_code,
            phone = excluded.phone, address_type = excluded.address_type",
    )?
    .execute(params![
            order_id,
            p.buyer_name,
            p.buyer_company,
            p.buyer_vat_id,
            p.buyer_vat_country,
            p.recipient_name,
            p.recipient_company,
            p.address_line1,
            p.address_line2,
            p.address_line3,
            p.city,
            p.district,
            p.state_region,
            p.postal_code,
            p.country_code,
            p.phone,
            p.address_type,
        ])?;
    Ok(())
}

/// Reads an order's personal data.
pub fn pii(conn: &Connection, order_id: &str) -> Result<Option<PiiRow>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT buyer_name, buyer_company, buyer_vat_id, buyer_vat_country, recipient_name,
                recipient_company, address_line1, address_line2, address_line3, city, district,
                state_region, postal_code, country_code, phone, address_type
             FROM order_pii WHERE order_id = ?1",
        )?
        .query_row([order_id], |r| {
            Ok(PiiRow {
                buyer_name: r.get(0)?,
                buyer_company: r.get(1)?,
                buyer_vat_id: r.get(2)?,
                buyer_vat_country: r.get(3)?,
                recipient_name: r.get(4)?,
                recipient_company: r.get(5)?,
                address_line1: r.get(6)?,
                address_line2: r.get(7)?,
                address_line3: r.get(8)?,
                city: r.get(9)?,
                district: r.get(10)?,
                state_region: r.get(11)?,
                postal_code: r.get(12)?,
                country_code: r.get(13)?,
                phone: r.get(14)?,
                address_type: r.get(15)?,
            })
        })
        .optional()?)
}

/// Records why a command could not process an order (no personal data in `reason`).
pub fn record_issue(
    conn: &Connection,
    order_id: &str,
    command: &str,
    reason: &str,
    detail: Option<&str>,
    at: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO order_issues(order_id, command, reason, detail, at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(order_id, command) DO UPDATE SET reason = excluded.reason,
            detail = excluded.detail, at = excluded.at",
    )?
    .execute(params![order_id, command, reason, detail, at])?;
    Ok(())
}

/// Clears a recorded issue once the order went through.
pub fn clear_issue(conn: &Connection, order_id: &str, command: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM order_issues WHERE order_id = ?1 AND command = ?2")?
        .execute(params![order_id, command])?;
    Ok(())
}

/// Every order id in the store, in order.
pub fn ids(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare("SELECT order_id FROM orders ORDER BY order_id")?;
    let rows = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(rows)
}

/// Counts of orders per pipeline stage.
pub fn count_by_stage(conn: &Connection) -> Result<Vec<(String, u64)>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT stage, count(*) FROM orders GROUP BY stage ORDER BY stage")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.unsigned_abs())))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// How many orders still hold personal data.
pub fn count_with_pii(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row("SELECT count(*) FROM order_pii", [], |r| r.get(0))?;
    Ok(n.unsigned_abs())
}

/// Orders with an open issue for a command: (order id, reason).
pub fn issues(conn: &Connection, command: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT order_id, reason FROM order_issues WHERE command = ?1 ORDER BY order_id",
    )?;
    let rows = stmt
        .query_map([command], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
