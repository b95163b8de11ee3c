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
//!
//! This file holds the order of steps, the counts and the outcome; what an order becomes
//! in the store (rows, stage, retention dates) is decided in [`crate::orders::mapping`].

use anyhow::Context as _;
use clap::Args;
use serde_json::json;

use crate::clock::{parse_rfc3339, rfc3339};
use crate::commands::Outcome;
use crate::config::Config;
use crate::ctx::{Ctx, Overdue};
use crate::orders::mapping;
use crate::spapi::SpapiError;
use crate::spapi::orders::{self as search, SearchParams};
use crate::store::orders::{self as db, Stage};
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
                            // Its own review line, under a key that is safe to show.
                            let id = mapping::skipped_key(raw);
                            tracing::warn!(order_id = %id, reason, "order skipped");
                            db::record_issue(tx, &id, COMMAND, reason, None, &at)?;
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

/// Parses, checks and writes one order. The reason for a refusal is a fixed code.
fn store_order(
    tx: &rusqlite::Transaction<'_>,
    cfg: &Config,
    raw: &serde_json::Value,
    now: &str,
) -> Result<Applied, &'static str> {
    let (row, items, packages, pii) = mapping::parse_order(raw)?;
    let existing = db::existing(tx, &row.order_id).map_err(|_| "store_error")?;
    if existing
        .as_ref()
        .is_some_and(|e| !mapping::is_newer(&row, e))
    {
        return Ok(Applied::Unchanged);
    }
    let decided = mapping::decide(cfg, &row, &packages, existing.as_ref(), pii);
    db::upsert(tx, &row, &items, &packages, &decided, now).map_err(|_| "store_error")?;
    db::clear_issue(tx, &row.order_id, COMMAND).map_err(|_| "store_error")?;
    Ok(match existing {
        None => Applied::New,
        Some(e) => Applied::Updated {
            cancelled: decided.stage == Stage::Cancelled && e.stage != Stage::Cancelled,
        },
    })
}
