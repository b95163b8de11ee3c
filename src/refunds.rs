//! Reading the refunds Amazon paid out (issue #17): Finances API v0
//! `listFinancialEvents`, step 1 of the refunds phase of `make-invoices`.
//!
//! Every run reads the window from the last checkpoint minus 48 hours (Amazon says events
//! of the last 48 hours may still be missing) to three minutes before Amazon's time now
//! (Amazon wants `PostedBefore` more than two minutes in the past). The first run reads
//! the last [`FIRST_READ_DAYS`] days. Each page's refund events are stored in one
//! transaction under their identity ([`RefundEvent::key`]); an event read again inserts
//! nothing. The checkpoint moves only after the last page, so a kill, a temporary error
//! or a token too far away leaves it where it was and the next run reads the window again.
//!
//! Pacing: the client's token bucket for listFinancialEvents (0.5 per second, burst 30,
//! shared across runs through the store); a run waits at most
//! [`crate::invoice_upload::MAX_TOKEN_WAIT`] for a token and otherwise leaves the window
//! to the next run. One page holds up to 100 events, so a day's refunds take one call.

use time::Duration;

use crate::clock::{parse_rfc3339, rfc3339};
use crate::ctx::Ctx;
use crate::error::{Classify as _, Exit};
use crate::invoice::refund::{Charge, RefundEvent, RefundItem};
use crate::invoice_upload::MAX_TOKEN_WAIT;
use crate::spapi::Operation;
use crate::spapi::finances::{self, ShipmentEvent, Window};
use crate::store::refunds as db;

/// Days read back on the first run, when there is no checkpoint yet.
pub const FIRST_READ_DAYS: i64 = 30;
/// Amazon: events of the last 48 hours may be missing; every run reads them again.
pub const OVERLAP: Duration = Duration::hours(48);
/// `PostedBefore` must be more than two minutes before the request.
const BEFORE_MARGIN: Duration = Duration::minutes(3);
/// Amazon answers nothing for a window longer than 180 days.
const MAX_WINDOW: Duration = Duration::days(179);

/// What the read did.
#[derive(Debug, Default)]
pub struct Read {
    pub calls: u64,
    /// Refund events in the answers (a re-read counts again).
    pub events: u64,
    /// Events not seen before.
    pub new: u64,
    /// Events without an order id or posting time, skipped.
    pub unreadable: u64,
    /// Why the read stopped early (temporary error, token too far), if it did.
    pub paused: Option<String>,
    /// Amazon refused the read (e.g. no Finance and Accounting role).
    pub denied: Option<String>,
}

/// Reads the refunds of the window and stores the new ones.
pub fn read(ctx: &Ctx, command: &'static str) -> anyhow::Result<Read> {
    let mut done = Read::default();
    let client = ctx.spapi(command)?;
    let local = ctx.clock.now();
    if let Err(e) = client.authorize() {
        return stop(done, e);
    }
    let now = client.amazon_now().map_or(local, |a| a.min(local));
    let end = now - BEFORE_MARGIN;
    let checkpoint =
        db::checkpoint(ctx.store(command)?.conn())?.and_then(|c| parse_rfc3339(&c).ok());
    let start = checkpoint.map_or(end - Duration::days(FIRST_READ_DAYS), |c| c - OVERLAP);
    let start = start.max(end - MAX_WINDOW);
    if start >= end {
        return Ok(done);
    }
    let window = Window {
        posted_after: rfc3339(start),
        posted_before: rfc3339(end),
    };
    let mut token: Option<String> = None;
    loop {
        if client.wait_for(Operation::ListFinancialEvents) > MAX_TOKEN_WAIT {
            done.paused = Some("waiting for a listFinancialEvents token".into());
            return Ok(done);
        }
        done.calls += 1;
        let page = match finances::list_page(&client, &window, token.as_deref()) {
            Ok(p) => p,
            Err(e) => return stop(done, e),
        };
        let payload = page.payload.unwrap_or_default();
        let raw = payload.events.map(|e| e.refunds).unwrap_or_default();
        done.events += raw.len() as u64;
        let mut events = Vec::with_capacity(raw.len());
        for e in raw {
            match event(e) {
                Some(ev) => events.push(ev),
                None => done.unreadable += 1,
            }
        }
        let at = rfc3339(ctx.clock.now());
        {
            let mut store = ctx.store(command)?;
            done.new += db::insert_events(store.conn_mut(), &events, &at)?;
        }
        crate::failpoint::hit("refunds:after-page");
        token = payload.next_token.filter(|t| !t.trim().is_empty());
        if token.is_none() {
            break;
        }
    }
    db::set_checkpoint(ctx.store(command)?.conn(), &window.posted_before)?;
    tracing::info!(
        calls = done.calls,
        events = done.events,
        new = done.new,
        "refunds read"
    );
    Ok(done)
}

/// Sorts an error of the read: temporary ones pause it, a refusal is reported.
fn stop(mut done: Read, e: crate::spapi::SpapiError) -> anyhow::Result<Read> {
    match e.exit() {
        Exit::Temporary => done.paused = Some(e.to_string()),
        Exit::Config | Exit::Failed => done.denied = Some(e.to_string()),
        _ => return Err(e.into()),
    }
    Ok(done)
}

/// One refund event as fulfil keeps it; `None` without an order id or posting time.
fn event(e: ShipmentEvent) -> Option<RefundEvent> {
    let order_id = e.amazon_order_id.filter(|s| !s.trim().is_empty())?;
    let posted = parse_rfc3339(e.posted_date.as_deref()?).ok()?;
    let items = e
        .item_adjustments
        .into_iter()
        .map(|i| {
            let mut charges: Vec<Charge> = i
                .charge_adjustments
                .into_iter()
                .filter_map(|c| {
                    let m = c.charge_amount?;
                    Some(Charge {
                        kind: c.charge_type.unwrap_or_default(),
                        amount: m.currency_amount?,
                        currency: m.currency_code.unwrap_or_default(),
                    })
                })
                .collect();
            charges.extend(i.promotion_adjustments.into_iter().filter_map(|p| {
                let m = p.promotion_amount?;
                Some(Charge {
                    kind: "Promotion".into(),
                    amount: m.currency_amount?,
                    currency: m.currency_code.unwrap_or_default(),
                })
            }));
            RefundItem {
                order_item_id: i.order_item_id,
                adjustment_id: i.order_adjustment_item_id,
                sku: i.seller_sku,
                quantity: i
                    .quantity_shipped
                    .and_then(|q| u32::try_from(q.unsigned_abs()).ok())
                    .unwrap_or(0),
                charges,
            }
        })
        .collect();
    Some(RefundEvent {
        order_id,
        posted_at: rfc3339(posted),
        marketplace: e.marketplace_name,
        items,
    })
}
