//! `fulfil sync-orders`: fetch new and changed orders from the SP-API.
//!
//! One window per run: `lastUpdatedAfter` = the last checkpoint minus a small overlap,
//! `lastUpdatedBefore` = three minutes ago (Amazon wants it at least two minutes in the
//! past), by Amazon's clock when it is behind ours: the token is fetched first and the
//! `Date` of LWA's answer says Amazon's time, so a server clock minutes fast does not make
//! Amazon refuse every window (issue #15). Pages of 100 are fetched with the pagination token and the exact same
//! parameters. Each page is written in one transaction together with the resume point,
//! so a run killed at any moment loses and duplicates nothing: the next run resumes
//! the window with the saved token (while it is younger than a day) or restarts it.
//! When the last page is written, the checkpoint moves to the window's end.
//!
//! For N orders that is one token call and ceil(N/100) searchOrders calls; items,
//! buyer and address come inline (no per-order calls, no Restricted Data Token).

use std::collections::BTreeSet;

use anyhow::Context as _;
use clap::Args;
use serde_json::json;

use crate::clock::{parse_rfc3339, rfc3339};
use crate::commands::Outcome;
use crate::config::Config;
use crate::ctx::{Ctx, Overdue};
use crate::spapi::SpapiError;
use crate::spapi::models::{self, Order};
use crate::spapi::orders::{self as search, SearchParams};
use crate::store::orders::{
    self as db, Decided, Existing, ItemRow, OrderRow, PackageRow, PiiRow, Stage,
};
use crate::store::state;

pub const COMMAND: &str = "sync-orders";

/// Fetch new and changed orders, with items, buyer and delivery address, from Amazon
///
/// Incremental and idempotent: run it from cron every few minutes. It asks only for the
/// data blocks that the roles in `amazon.roles` cover, paces itself to Amazon's rate
/// limits across runs, and resumes where a killed run stopped.
#[derive(Debug, Args)]
pub struct SyncOrdersArgs {}

/// Amazon wants the window's end at least two minutes in the past; keep three.
const BEFORE_MARGIN: time::Duration = time::Duration::minutes(3);
/// A difference between our clock and Amazon's worth a line in the log.
const CLOCK_TOLERANCE: time::Duration = time::Duration::seconds(60);
/// A pagination token lives 24 h; do not resume with one older than this.
const TOKEN_MAX_AGE: time::Duration = time::Duration::hours(23);
/// Longer strings than this in an order are refused rather than stored.
const MAX_FIELD: usize = 1000;

#[derive(Debug, Default, serde::Serialize)]
struct Counts {
    fetched: u64,
    new: u64,
    updated: u64,
    unchanged: u64,
    cancelled: u64,
    skipped: u64,
    pages: u64,
}

/// The window in progress, saved with every page.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Window {
    params: SearchParams,
    token: Option<String>,
    token_at: Option<String>,
}

pub fn run(ctx: &Ctx, _args: &SyncOrdersArgs) -> anyhow::Result<Outcome> {
    let cfg = ctx.config()?;
    ctx.warn_secret_age()?;
    let now = ctx.clock.now();
    ctx.begin_writing(COMMAND, Overdue::RemoveFirst)?;
    let client = ctx.spapi(COMMAND)?;

    let included: Vec<String> = search::included_data(&cfg.amazon.roles)
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut marketplaces = cfg.amazon.marketplaces.clone();
    marketplaces.sort();
    marketplaces.dedup();
    let fulfilled_by = SearchParams::fulfilled_by_names(&cfg.amazon.fulfilled_by);
    let scope = format!(
        "{}|{}|{}",
        marketplaces.join(","),
        fulfilled_by.join(","),
        included.join(",")
    );
    let checkpoint_key = format!("orders.checkpoint:{scope}");
    let window_key = format!("orders.window:{scope}");

    let (mut window, checkpoint) = {
        let store = ctx.store(COMMAND)?;
        let checkpoint = state::get(store.conn(), &checkpoint_key)?;
        let saved: Option<Window> =
            state::get(store.conn(), &window_key)?.and_then(|s| serde_json::from_str(&s).ok());
        (saved, checkpoint)
    };
    // The window's end by the earlier of our clock and Amazon's (issue #15): a token
    // first, whose answer carries Amazon's `Date`.
    client.authorize()?;
    let local = ctx.clock.now();
    let amazon_now = client.amazon_now();
    if let Some(a) = amazon_now
        && (local - a).abs() > CLOCK_TOLERANCE
    {
        tracing::info!(
            offset_s = (local - a).whole_seconds(),
            "the local clock differs from Amazon's; the window ends by Amazon's time when ours is ahead"
        );
    }
    let window_end = amazon_now.map_or(local, |a| a.min(local)) - BEFORE_MARGIN;
    let fresh = |checkpoint: Option<&str>| -> anyhow::Result<Window> {
        let after = match checkpoint.and_then(|c| parse_rfc3339(c).ok()) {
            Some(c) => c - time::Duration::seconds(i64::from(cfg.amazon.sync_overlap_seconds)),
            None => now - time::Duration::days(i64::from(cfg.amazon.first_sync_days)),
        };
        Ok(Window {
            params: SearchParams {
                last_updated_after: rfc3339(after),
                last_updated_before: rfc3339(window_end),
                marketplace_ids: marketplaces.clone(),
                fulfilled_by: fulfilled_by.clone(),
                included_data: included.clone(),
            },
            token: None,
            token_at: None,
        })
    };
    // A saved window resumes only with a token young enough to still be valid.
    let resumable = window.as_ref().is_some_and(|w| {
        w.token.is_some()
            && w.token_at
                .as_deref()
                .and_then(|t| parse_rfc3339(t).ok())
                .is_some_and(|t| now - t < TOKEN_MAX_AGE)
    });
    if !resumable {
        window = Some(fresh(checkpoint.as_deref())?);
    }
    let mut window = window.context("no window")?;
    if window.token.is_none()
        && parse_rfc3339(&window.params.last_updated_after)?
            >= parse_rfc3339(&window.params.last_updated_before)?
    {
        return Ok(Outcome::ok(
            json!({"command": COMMAND, "fetched": 0, "note": "window empty"}),
        ));
    }

    let bar = ctx.ui.spinner("orders");
    let mut counts = Counts::default();
    let mut restarted = false;
    loop {
        let page = match search::search_page(&client, &window.params, window.token.as_deref()) {
            Ok((page, _rid)) => page,
            Err(SpapiError::BadRequest { .. }) if window.token.is_some() && !restarted => {
                // The token expired or no longer matches: restart from the checkpoint.
                tracing::info!("pagination token refused; restarting the window");
                restarted = true;
                let checkpoint = state::get(ctx.store(COMMAND)?.conn(), &checkpoint_key)?;
                window = fresh(checkpoint.as_deref())?;
                continue;
            }
            Err(e) => {
                bar.finish_and_clear();
                return Err(e.into());
            }
        };
        counts.pages += 1;
        let next = page
            .pagination
            .as_ref()
            .and_then(|p| p.next_token.clone())
            .filter(|t| !t.is_empty());
        let at = rfc3339(ctx.clock.now());
        {
            let mut store = ctx.store(COMMAND)?;
            store.tx(|tx| {
                for raw in &page.orders {
                    counts.fetched += 1;
                    match store_order(tx, cfg, raw, &at) {
                        Ok(Applied::New) => counts.new += 1,
                        Ok(Applied::Updated { cancelled }) => {
                            counts.updated += 1;
                            counts.cancelled += u64::from(cancelled);
                        }
                        Ok(Applied::Unchanged) => counts.unchanged += 1,
                        Err(reason) => {
                            counts.skipped += 1;
                            let id = raw
                                .get("orderId")
                                .and_then(|v| v.as_str())
                                .filter(|s| plausible_order_id(s))
                                .unwrap_or("unknown");
                            tracing::warn!(order_id = id, reason, "order skipped");
                            db::record_issue(tx, id, COMMAND, reason, None, &at)?;
                        }
                    }
                }
                if let Some(token) = &next {
                    window.token = Some(token.clone());
                    if window.token_at.is_none() {
                        window.token_at = Some(at.clone());
                    }
                    let text = serde_json::to_string(&window).unwrap_or_default();
                    state::set(tx, &window_key, &text)?;
                } else {
                    state::set(tx, &checkpoint_key, &window.params.last_updated_before)?;
                    state::delete(tx, &window_key)?;
                }
                Ok(())
            })?;
        }
        crate::failpoint::hit("sync-orders:page-stored");
        bar.set_message(format!("{} orders", counts.fetched));
        if next.is_none() {
            break;
        }
    }
    bar.finish_and_clear();

    let stats = client.stats();
    if !ctx.global.json && ctx.ui.interactive() {
        ctx.ui.status(&format!(
            "synced {} orders ({} new, {} updated, {} skipped) in {} calls",
            counts.fetched, counts.new, counts.updated, counts.skipped, stats.calls
        ));
    }
    let summary = json!({
        "command": COMMAND,
        "fetched": counts.fetched,
        "new": counts.new,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "cancelled": counts.cancelled,
        "skipped": counts.skipped,
        "pages": counts.pages,
        "calls": stats.calls,
        "token_calls": stats.token_calls,
        "throttled": stats.throttled,
        "retries": stats.retries,
        "waited_ms": stats.waited_ms,
    });
    if counts.skipped > 0 {
        ctx.ui.warn(&format!(
            "{} orders could not be stored; see `fulfil status` (the rest were synced)",
            counts.skipped
        ));
    }
    Ok(Outcome::from_failures(counts.skipped, summary))
}

enum Applied {
    New,
    Updated { cancelled: bool },
    Unchanged,
}

fn plausible_order_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Parses, checks and writes one order. The reason for a refusal is a fixed code.
fn store_order(
    tx: &rusqlite::Transaction<'_>,
    cfg: &Config,
    raw: &serde_json::Value,
    now: &str,
) -> Result<Applied, &'static str> {
    let (row, items, packages, pii) = parse_order(raw)?;
    let existing = db::existing(tx, &row.order_id).map_err(|_| "store_error")?;
    if let Some(e) = &existing {
        // The overlap brings orders we already have; an older snapshot never wins.
        let stored = parse_rfc3339(&e.amazon_updated_at).ok();
        let incoming = parse_rfc3339(&row.amazon_updated_at).ok();
        if let (Some(s), Some(i)) = (stored, incoming)
            && i <= s
        {
            return Ok(Applied::Unchanged);
        }
    }
    let decided = decide(cfg, &row, &packages, existing.as_ref(), pii);
    db::upsert(tx, &row, &items, &packages, &decided, now).map_err(|_| "store_error")?;
    db::clear_issue(tx, &row.order_id, COMMAND).map_err(|_| "store_error")?;
    Ok(match existing {
        None => Applied::New,
        Some(e) => Applied::Updated {
            cancelled: decided.stage == Stage::Cancelled && e.stage != Stage::Cancelled,
        },
    })
}

/// Reads one order of a search page into rows, without touching the store; the reason
/// for a refusal is a fixed code. Pure, so that any JSON can be thrown at it in tests.
pub(crate) fn parse_order(raw: &serde_json::Value) -> Result<Rows, &'static str> {
    if longest_string(raw) > MAX_FIELD {
        return Err("field_too_long");
    }
    let order: Order = serde_json::from_value(raw.clone()).map_err(|_| "unreadable_order")?;
    if !plausible_order_id(&order.order_id) {
        return Err("bad_order_id");
    }
    convert(&order)
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

fn amount(m: &models::Money) -> Result<String, &'static str> {
    m.decimal().map(|d| d.to_string()).ok_or("bad_amount")
}

/// An order as rows: the anonymous order, its items and packages, its personal data.
pub(crate) type Rows = (OrderRow, Vec<ItemRow>, Vec<PackageRow>, Option<PiiRow>);

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
        ship_by_earliest: opt_time(
            fulfillment
                .ship_by_window
                .as_ref()
                .and_then(|w| w.earliest_date_time.as_ref()),
        )?,
        ship_by_latest: opt_time(
            fulfillment
                .ship_by_window
                .as_ref()
                .and_then(|w| w.latest_date_time.as_ref()),
        )?,
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
fn decide(
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
        }
    }

    fn some_pii() -> PiiRow {
        PiiRow {
            recipient_name: Some("x".into()),
            ..PiiRow::default()
        }
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
