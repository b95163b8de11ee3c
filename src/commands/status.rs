//! `fulfil status`: orders per stage, the ship-by deadlines (late, due today, due
//! tomorrow, and the late-shipment and tracking rates Amazon judges the seller by), the
//! last good run of each command, the database size, the head of the audit log. Counts
//! only: this command never shows personal data.

use clap::Args;
use serde_json::json;

use crate::commands::Outcome;
use crate::ctx::Ctx;
use crate::store;

/// Show orders per stage, the last successful run of each command and the database size
#[derive(Debug, Args)]
pub struct StatusArgs {}

pub fn run(ctx: &Ctx, _args: &StatusArgs) -> anyhow::Result<Outcome> {
    let store = ctx.store_read()?;
    let conn = store.conn();
    let stages = store::orders::count_by_stage(conn)?;
    let with_pii = store::orders::count_with_pii(conn)?;
    let runs = store::state::last_runs(conn)?;
    let size = store.size_on_disk();
    let now = ctx.clock.now();
    let overdue = store::purge::overdue_count(conn, &crate::clock::rfc3339(now))?;
    let stale = store::purge::stale_unfulfilled(
        conn,
        &crate::clock::rfc3339(now - time::Duration::days(60)),
    )?;
    let left_alone = crate::retention::files_left_alone(&store)?;
    let issues = store::labels::review_list(conn)?.len();
    let skipped_by_sync = store::orders::issues(conn, crate::commands::sync_orders::COMMAND)?.len();
    let audit_head = if store.schema_version()? >= 4 {
        store::audit::head(conn)?
    } else {
        None
    };
    let total: u64 = stages.iter().map(|(_, n)| n).sum();
    let documents = store::invoices::document_counts(conn)?;
    let uploads = store::invoices::upload_counts(conn)?;
    // Refunds read from Amazon and what became of them (issue #17; schema 7).
    let refunds = if store.schema_version()? >= 7 {
        store::refunds::counts(conn)?
    } else {
        Vec::new()
    };
    let rates_until = crate::ctx::rates_in_use(ctx.config()?, &store)?.verified_until();
    let rates_days = crate::invoice::rates::Horizon::of(rates_until, now.date()).days_left();
    let zone = ctx.config()?.seller.zone()?;
    let ship_by = crate::commands::deadlines::overview(&store, now, &zone)?;

    if !ctx.global.json {
        let ui = &ctx.ui;
        ui.out(&format!(
            "database  {} ({} bytes)",
            store.path().display(),
            size
        ));
        ui.out(&format!(
            "orders    {total} ({with_pii} holding personal data)"
        ));
        for (stage, n) in &stages {
            ui.out(&format!("  {stage:<18} {n}"));
        }
        for line in ship_by.lines() {
            ui.out(&line);
        }
        if skipped_by_sync > 0 {
            ui.out(&format!(
                "skipped   {skipped_by_sync} orders by sync-orders (see `fulfil review`)"
            ));
        }
        let docs = |kind: &str| {
            documents
                .iter()
                .find(|(k, _)| k == kind)
                .map_or(0, |(_, n)| *n)
        };
        ui.out(&format!(
            "invoices  {} ({} credit notes)",
            docs("invoice"),
            docs("credit_note")
        ));
        for (status, n) in &uploads {
            ui.out(&format!("  upload {status:<11} {n}"));
        }
        for (status, n) in &refunds {
            ui.out(&format!("  refunds {status:<10} {n}"));
        }
        ui.out(&format!(
            "vat rates verified up to {rates_until} ({rates_days} days from today)"
        ));
        if runs.is_empty() {
            ui.out("last runs none yet");
        } else {
            ui.out("last runs");
            for (cmd, at, outcome) in &runs {
                ui.out(&format!("  {cmd:<18} {at} {outcome}"));
            }
        }
        if let Some((seq, mac)) = &audit_head {
            ui.out(&format!("audit log head {seq}:{mac}"));
        }
        if !left_alone.is_empty() {
            ui.out(&format!(
                "files     {} with personal data left alone by purge",
                left_alone.len()
            ));
            for f in &left_alone {
                ui.out(&format!(
                    "  {}",
                    crate::retention::left_alone_line(&f.path, &f.reason)
                ));
            }
            ui.out(&format!("  hint: {}", crate::retention::FORGET_HINT));
        }
    }
    Ok(Outcome::ok(json!({
        "database": store.path().display().to_string(),
        "database_bytes": size,
        "orders": total,
        "orders_with_personal_data": with_pii,
        "needs_review": issues,
        "skipped_by_sync": skipped_by_sync,
        "overdue_personal_data": overdue,
        "files_left_alone": left_alone,
        "unfulfilled_over_60_days": stale,
        "ship_by": ship_by.to_json(),
        "stages": stages.iter().map(|(s, n)| (s.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "documents": documents.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "uploads": uploads.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "refunds": refunds.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "vat_rates_verified_until": rates_until.to_string(),
        "audit_head": audit_head.as_ref().map(|(seq, mac)| json!({"seq": seq, "mac": mac})),
        "last_runs": runs.iter().map(|(c, at, o)| json!({"command": c, "finished_at": at, "outcome": o})).collect::<Vec<_>>(),
    })))
}
