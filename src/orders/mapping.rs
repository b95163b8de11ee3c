//! From an order as Amazon's Orders API sends it to what the store keeps: the anonymous
//! order row, its items and packages, its personal data, and the stage fulfil gives it.
//!
//! Pure: JSON or the spapi model in, rows and decisions out; no store, no HTTP, no clock
//! (times come in as arguments). `sync-orders` calls it once per order of a search page
//! and writes what it returns; the property tests throw arbitrary JSON at [`parse_order`].
//! A refusal is a fixed reason code (`bad_order_id`, `field_too_long`, `bad_amount`, …),
//! never a value from the order, so that it can be logged and listed for review.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::clock::{parse_rfc3339, rfc3339};
use crate::config::Config;
use crate::spapi::models::{self, Order};
use crate::store::orders::{Decided, Existing, ItemRow, OrderRow, PackageRow, PiiRow, Stage};

/// Longer strings than this in an order are refused rather than stored.
const MAX_FIELD: usize = 1000;

/// Whether a string can be an Amazon order id: short, ASCII letters, digits and dashes.
/// Only such ids are stored, logged or shown as they are.
pub fn plausible_order_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Reads one order of a search page into rows, without touching the store; the reason
/// for a refusal is a fixed code. Pure, so that any JSON can be thrown at it in tests.
pub fn parse_order(raw: &serde_json::Value) -> Result<Rows, &'static str> {
    if longest_string(raw) > MAX_FIELD {
        return Err("field_too_long");
    }
    let order: Order = serde_json::from_value(raw.clone()).map_err(|_| "unreadable_order")?;
    if !plausible_order_id(&order.order_id) {
        return Err("bad_order_id");
    }
    convert(&order)
}

/// How much of an implausible order id a review line shows, after escaping.
const SHOWN_ID: usize = 24;

/// The key under which a skipped order is listed for review (issue #15 item 9): the
/// order id itself when it is a plausible one, so that the line clears when Amazon later
/// sends the order in good shape; otherwise the first characters of the id with
/// anything outside `[A-Za-z0-9-]` escaped as `%XX`, then `#` and a short SHA-256 of
/// the raw id, or `unknown#` and a SHA-256 of the raw order when it has no string id.
/// The hash keeps two bad ids on two lines; the `#` keeps them apart from real ids.
pub fn skipped_key(raw: &serde_json::Value) -> String {
    match raw.get("orderId").and_then(serde_json::Value::as_str) {
        Some(id) if plausible_order_id(id) => id.to_string(),
        Some(id) => {
            let mut shown = String::new();
            for c in id.chars() {
                let mut piece = String::new();
                if c.is_ascii_alphanumeric() || c == '-' {
                    piece.push(c);
                } else {
                    let mut buf = [0; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(piece, "%{b:02X}");
                    }
                }
                if shown.len() + piece.len() > SHOWN_ID {
                    break;
                }
                shown.push_str(&piece);
            }
            format!("{shown}#{}", short_hash(id.as_bytes()))
        }
        None => format!("unknown#{}", short_hash(raw.to_string().as_bytes())),
    }
}

/// The first 12 hex digits of a SHA-256.
fn short_hash(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut hex = String::with_capacity(12);
    for b in digest.as_ref().iter().take(6) {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Whether an incoming snapshot of an order is newer than the stored one. The sync
/// window's overlap brings orders we already have; an older snapshot never wins.
pub fn is_newer(row: &OrderRow, stored: &Existing) -> bool {
    let stored = parse_rfc3339(&stored.amazon_updated_at).ok();
    let incoming = parse_rfc3339(&row.amazon_updated_at).ok();
    !matches!((stored, incoming), (Some(s), Some(i)) if i <= s)
}

fn longest_string(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(s) => s.chars().count(),
        serde_json::Value::Array(a) => a.iter().map(longest_string).max().unwrap_or(0),
        serde_json::Value::Object(o) => o
            .iter()
            .map(|(k, v)| k.chars().count().max(longest_string(v)))
            .max()
            .unwrap_or(0),
        _ => 0,
    }
}

fn time_ok(s: &str) -> Result<String, &'static str> {
    parse_rfc3339(s).map(rfc3339).map_err(|_| "bad_timestamp")
}

fn opt_time(s: Option<&String>) -> Result<Option<String>, &'static str> {
    s.map(|t| time_ok(t)).transpose()
}

/// Which end of one of Amazon's date-time windows.
enum Edge {
    Earliest,
    Latest,
}

/// One end of a window (ship-by, deliver-by, label printing), normalised to UTC.
fn window(w: Option<&models::DateTimeRange>, edge: Edge) -> Result<Option<String>, &'static str> {
    opt_time(w.and_then(|w| match edge {
        Edge::Earliest => w.earliest_date_time.as_ref(),
        Edge::Latest => w.latest_date_time.as_ref(),
    }))
}

fn amount(m: &models::Money) -> Result<String, &'static str> {
    m.decimal().map(|d| d.to_string()).ok_or("bad_amount")
}

/// An order as rows: the anonymous order, its items and packages, its personal data.
pub type Rows = (OrderRow, Vec<ItemRow>, Vec<PackageRow>, Option<PiiRow>);

/// Turns the API's order into rows; refuses orders whose values make no sense.
fn convert(o: &Order) -> Result<Rows, &'static str> {
    let fulfillment = o.fulfillment.as_ref().ok_or("missing_fulfillment")?;
    let marketplace_id = o
        .sales_channel
        .marketplace_id
        .clone()
        .ok_or("missing_marketplace")?;
    let address = o
        .recipient
        .as_ref()
        .and_then(|r| r.delivery_address.as_ref());
    let grand_total = o.proceeds.as_ref().and_then(|p| p.grand_total.as_ref());
    let row = OrderRow {
        order_id: o.order_id.clone(),
        marketplace_id,
        fulfilled_by: fulfillment
            .fulfilled_by
            .clone()
            .unwrap_or_else(|| "MERCHANT".into()),
        amazon_status: fulfillment.fulfillment_status.clone(),
        service_level: fulfillment.fulfillment_service_level.clone(),
        programs: o.programs.clone(),
        is_business: o.programs.iter().any(|p| p == "AMAZON_BUSINESS"),
        created_at: time_ok(&o.created_time)?,
        amazon_updated_at: time_ok(&o.last_updated_time)?,
        ship_by_earliest: window(fulfillment.ship_by_window.as_ref(), Edge::Earliest)?,
        ship_by_latest: window(fulfillment.ship_by_window.as_ref(), Edge::Latest)?,
        deliver_by_earliest: window(fulfillment.deliver_by_window.as_ref(), Edge::Earliest)?,
        deliver_by_latest: window(fulfillment.deliver_by_window.as_ref(), Edge::Latest)?,
        label_from: window(fulfillment.label_printing_window.as_ref(), Edge::Earliest)?,
        currency: grand_total.map(|m| m.currency_code.clone()),
        grand_total: grand_total.map(amount).transpose()?,
        destination_country: address
            .and_then(|a| a.country_code.clone())
            .map(|c| c.to_ascii_uppercase())
            .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic())),
    };
    let mut items = Vec::with_capacity(o.order_items.len());
    let mut seen = BTreeSet::new();
    for it in &o.order_items {
        if !(0..=100_000).contains(&it.quantity_ordered) {
            return Err("bad_quantity");
        }
        if !seen.insert(it.order_item_id.clone()) {
            return Err("duplicate_item");
        }
        let mut sums: [Option<rust_decimal::Decimal>; 6] = [None; 6];
        let mut currency = None;
        if let Some(p) = &it.proceeds {
            for b in &p.breakdowns {
                let slot = match b.kind.as_str() {
                    "ITEM" => 0,
                    "SHIPPING" => 1,
                    "GIFT_WRAP" => 2,
                    "DISCOUNT" => 3,
                    "TAX" => 4,
                    _ => 5,
                };
                let v = b.subtotal.decimal().ok_or("bad_amount")?;
                sums[slot] = Some(sums[slot].unwrap_or_default() + v);
                currency = Some(b.subtotal.currency_code.clone());
            }
        }
        let unit = it
            .product
            .price
            .as_ref()
            .and_then(|p| p.unit_price.as_ref());
        let total = it.proceeds.as_ref().and_then(|p| p.proceeds_total.as_ref());
        items.push(ItemRow {
            order_item_id: it.order_item_id.clone(),
            seller_sku: it.product.seller_sku.clone(),
            asin: it.product.asin.clone(),
            title: it.product.title.clone(),
            quantity: it.quantity_ordered,
            quantity_shipped: it.fulfillment.as_ref().and_then(|f| f.quantity_fulfilled),
            unit_price: unit.map(amount).transpose()?,
            currency: currency
                .or_else(|| unit.map(|u| u.currency_code.clone()))
                .or_else(|| total.map(|t| t.currency_code.clone())),
            item_amount: sums[0].map(|d| d.to_string()),
            shipping_amount: sums[1].map(|d| d.to_string()),
            gift_wrap_amount: sums[2].map(|d| d.to_string()),
            discount_amount: sums[3].map(|d| d.to_string()),
            tax_amount: sums[4].map(|d| d.to_string()),
            other_amount: sums[5].map(|d| d.to_string()),
            proceeds_total: total.map(amount).transpose()?,
        });
    }
    let packages = o
        .packages
        .iter()
        .flatten()
        .map(|p| {
            Ok(PackageRow {
                package_reference_id: p.package_reference_id.clone(),
                carrier: p.carrier.clone(),
                tracking_number: p.tracking_number.clone(),
                ship_time: opt_time(p.ship_time.as_ref())?,
                status: p.package_status.as_ref().and_then(|s| s.status.clone()),
            })
        })
        .collect::<Result<Vec<_>, &'static str>>()?;
    Ok((row, items, packages, personal_data(o)))
}

fn pii_text(v: Option<&crate::logging::Pii<String>>) -> Option<String> {
    v.map(|p| p.expose().trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Collects the order's personal data, if Amazon sent any.
fn personal_data(o: &Order) -> Option<PiiRow> {
    let a = o
        .recipient
        .as_ref()
        .and_then(|r| r.delivery_address.as_ref());
    let buyer_reg = o.tax.as_ref().and_then(|t| {
        t.tax_registrations
            .iter()
            .find(|r| r.entity_type.as_deref() == Some("BUYER"))
    });
    let row = PiiRow {
        buyer_name: pii_text(o.buyer.as_ref().and_then(|b| b.buyer_name.as_ref())),
        buyer_company: pii_text(o.buyer.as_ref().and_then(|b| b.buyer_company_name.as_ref()))
            .or_else(|| pii_text(buyer_reg.and_then(|r| r.legal_name.as_ref()))),
        buyer_vat_id: pii_text(buyer_reg.and_then(|r| r.tax_registration_number.as_ref())),
        buyer_vat_country: buyer_reg
            .and_then(|r| r.tax_registration_address.as_ref())
            .and_then(|a| a.country_code.clone()),
        recipient_name: pii_text(a.and_then(|a| a.name.as_ref())),
        recipient_company: pii_text(a.and_then(|a| a.company_name.as_ref())),
        address_line1: pii_text(a.and_then(|a| a.address_line1.as_ref())),
        address_line2: pii_text(a.and_then(|a| a.address_line2.as_ref())),
        address_line3: pii_text(a.and_then(|a| a.address_line3.as_ref())),
        city: pii_text(a.and_then(|a| a.city.as_ref())),
        district: pii_text(a.and_then(|a| a.district_or_county.as_ref())),
        state_region: pii_text(a.and_then(|a| a.state_or_region.as_ref())),
        postal_code: pii_text(a.and_then(|a| a.postal_code.as_ref())),
        country_code: a.and_then(|a| a.country_code.clone()),
        phone: pii_text(a.and_then(|a| a.phone.as_ref())),
        address_type: a.and_then(|a| a.address_type.clone()),
    };
    if row.is_empty() { None } else { Some(row) }
}

/// Decides the stage, the fulfilment and cancellation times, when the personal data
/// must go, and whether to store the personal data that came with this snapshot.
pub fn decide(
    cfg: &Config,
    row: &OrderRow,
    packages: &[PackageRow],
    existing: Option<&Existing>,
    pii: Option<PiiRow>,
) -> Decided {
    let prev = existing.map(|e| e.stage);
    let ours = matches!(prev, Some(Stage::Labelled | Stage::Shipped));
    let stage = if row.fulfilled_by == "AMAZON" {
        Stage::AmazonFulfilled
    } else {
        match row.amazon_status.as_str() {
            "PENDING" | "PENDING_AVAILABILITY" => prev.unwrap_or(Stage::Pending),
            "UNSHIPPED" | "PARTIALLY_SHIPPED" => match prev {
                Some(s @ (Stage::Review | Stage::Labelled | Stage::Shipped)) => s,
                _ => Stage::Ready,
            },
            "SHIPPED" if ours => Stage::Shipped,
            "SHIPPED" => Stage::ShippedElsewhere,
            "CANCELLED" => Stage::Cancelled,
            "UNFULFILLABLE" => Stage::Unfulfillable,
            // A status Amazon added later: keep what we had, or ask a person.
            _ => prev.unwrap_or(Stage::Review),
        }
    };
    let shipped = row.amazon_status == "SHIPPED";
    let fulfilled_at = existing.and_then(|e| e.fulfilled_at.clone()).or_else(|| {
        shipped.then(|| {
            packages
                .iter()
                .filter_map(|p| p.ship_time.clone())
                .min()
                .unwrap_or_else(|| row.amazon_updated_at.clone())
        })
    });
    let cancelled_at = existing
        .and_then(|e| e.cancelled_at.clone())
        .or_else(|| (row.amazon_status == "CANCELLED").then(|| row.amazon_updated_at.clone()));
    let due = |from: &Option<String>, days: u32| {
        from.as_deref()
            .and_then(|t| parse_rfc3339(t).ok())
            .map(|t| t + time::Duration::days(i64::from(days)))
    };
    let pii_due_at = [
        due(&fulfilled_at, cfg.retention.fulfilled_days),
        due(&cancelled_at, cfg.retention.cancelled_days),
    ]
    .into_iter()
    .flatten()
    .min()
    .map(rfc3339);
    // Personal data is never stored again once purged, and not stored at all for an
    // order that arrives already cancelled.
    let purged = existing.is_some_and(|e| e.pii_purged_at.is_some());
    let first_seen_cancelled = existing.is_none() && stage == Stage::Cancelled;
    let pii = if purged || first_seen_cancelled {
        None
    } else {
        pii
    };
    Decided {
        stage,
        fulfilled_at,
        cancelled_at,
        pii_due_at,
        pii,
    }
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: &str) -> OrderRow {
        OrderRow {
            order_id: "028-1111111-2222222".into(),
            marketplace_id: "A1805IZSGTT6HS".into(),
            fulfilled_by: "MERCHANT".into(),
            amazon_status: status.into(),
            service_level: None,
            programs: vec![],
            is_business: false,
            created_at: "2026-11-01T10:00:00Z".into(),
            amazon_updated_at: "2026-11-02T10:00:00Z".into(),
            ship_by_earliest: None,
            ship_by_latest: None,
            deliver_by_earliest: None,
            deliver_by_latest: None,
            label_from: None,
            currency: None,
            grand_total: None,
            destination_country: Some("NL".into()),
        }
    }

    fn existing(stage: Stage) -> Existing {
        Existing {
            stage,
            amazon_updated_at: "2026-11-01T10:00:00Z".into(),
            fulfilled_at: None,
            cancelled_at: None,
            pii_purged_at: None,
            pii_due_at: None,
        }
    }

    fn some_pii() -> PiiRow {
        PiiRow {
            recipient_name: Some("x".into()),
            ..PiiRow::default()
        }
    }

    #[test]
    fn deadlines_are_kept_in_utc_and_absent_windows_stay_absent() {
        let mut raw = crate::spapi::props::order();
        raw["fulfillment"]["fulfillmentServiceLevel"] = "NEXT_DAY".into();
        raw["fulfillment"]["shipByWindow"]["latestDateTime"] = "2026-11-20T18:00:00+01:00".into();
        raw["fulfillment"]["deliverByWindow"] = serde_json::json!({
            "earliestDateTime": "2026-11-21T00:00:00Z", "latestDateTime": "2026-11-21T23:59:59Z"
        });
        raw["fulfillment"]["labelPrintingWindow"] =
            serde_json::json!({ "earliestDateTime": "2026-11-20T06:00:00Z" });
        let (row, ..) = parse_order(&raw).unwrap();
        assert_eq!(row.service_level.as_deref(), Some("NEXT_DAY"));
        assert_eq!(row.ship_by_latest.as_deref(), Some("2026-11-20T17:00:00Z"));
        assert_eq!(
            row.deliver_by_earliest.as_deref(),
            Some("2026-11-21T00:00:00Z")
        );
        assert_eq!(
            row.deliver_by_latest.as_deref(),
            Some("2026-11-21T23:59:59Z")
        );
        assert_eq!(row.label_from.as_deref(), Some("2026-11-20T06:00:00Z"));

        let (row, ..) = parse_order(&crate::spapi::props::order()).unwrap();
        assert_eq!(row.deliver_by_latest, None);
        assert_eq!(row.label_from, None);

        let mut raw = crate::spapi::props::order();
        raw["fulfillment"]["labelPrintingWindow"] =
            serde_json::json!({ "earliestDateTime": "tomorrow" });
        assert_eq!(parse_order(&raw).unwrap_err(), "bad_timestamp");
    }

    #[test]
    fn skipped_orders_get_safe_distinct_keys() {
        use serde_json::json;
        assert_eq!(
            skipped_key(&json!({"orderId": "028-1111111-2222222"})),
            "028-1111111-2222222"
        );
        let a = skipped_key(&json!({"orderId": format!("{}1", "A".repeat(50))}));
        let b = skipped_key(&json!({"orderId": format!("{}2", "A".repeat(50))}));
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("{}#", "A".repeat(24))), "{a}");
        assert_eq!(a.len(), 24 + 1 + 12);
        let k = skipped_key(&json!({"orderId": "028 1;Ω"}));
        assert!(k.starts_with("028%201%3B%CE%A9#"), "{k}");
        let k = skipped_key(&json!({"orderId": ""}));
        assert_eq!(k.len(), 13, "{k}");
        let n1 = skipped_key(&json!({"orderId": 12, "x": 1}));
        let n2 = skipped_key(&json!({"x": 2}));
        assert!(n1.starts_with("unknown#") && n2.starts_with("unknown#"));
        assert_ne!(n1, n2);
        // A long run of multi-byte characters never splits an escape.
        let k = skipped_key(&json!({"orderId": "ΩΩΩΩΩΩΩΩΩΩ"}));
        assert_eq!(k.split('#').next().unwrap(), "%CE%A9".repeat(4));
    }

    #[test]
    fn stages_follow_amazon_but_keep_our_progress() {
        let cfg = Config::default();
        assert_eq!(
            decide(&cfg, &row("PENDING"), &[], None, None).stage,
            Stage::Pending
        );
        assert_eq!(
            decide(&cfg, &row("UNSHIPPED"), &[], None, None).stage,
            Stage::Ready
        );
        let e = existing(Stage::Labelled);
        assert_eq!(
            decide(&cfg, &row("UNSHIPPED"), &[], Some(&e), None).stage,
            Stage::Labelled
        );
        assert_eq!(
            decide(&cfg, &row("SHIPPED"), &[], Some(&e), None).stage,
            Stage::Shipped
        );
        assert_eq!(
            decide(&cfg, &row("SHIPPED"), &[], None, None).stage,
            Stage::ShippedElsewhere
        );
        assert_eq!(
            decide(&cfg, &row("NEW_THING"), &[], None, None).stage,
            Stage::Review
        );
    }

    #[test]
    fn retention_dates() {
        let cfg = Config::default();
        let d = decide(&cfg, &row("SHIPPED"), &[], None, Some(some_pii()));
        assert_eq!(d.fulfilled_at.as_deref(), Some("2026-11-02T10:00:00Z"));
        assert_eq!(d.pii_due_at.as_deref(), Some("2026-12-02T10:00:00Z"));
        let e = existing(Stage::Ready);
        let d = decide(&cfg, &row("CANCELLED"), &[], Some(&e), Some(some_pii()));
        assert_eq!(d.stage, Stage::Cancelled);
        assert_eq!(d.pii_due_at.as_deref(), Some("2026-11-09T10:00:00Z"));
        assert!(d.pii.is_some());
    }

    #[test]
    fn purged_or_born_cancelled_orders_store_no_personal_data() {
        let cfg = Config::default();
        assert!(
            decide(&cfg, &row("CANCELLED"), &[], None, Some(some_pii()))
                .pii
                .is_none()
        );
        let mut e = existing(Stage::Shipped);
        e.pii_purged_at = Some("2026-11-05T00:00:00Z".into());
        assert!(
            decide(&cfg, &row("SHIPPED"), &[], Some(&e), Some(some_pii()))
                .pii
                .is_none()
        );
    }
}
