//! `fulfil purge`: removes personal data that is due, unrecoverably, and reports.

use clap::Args;
use serde_json::json;

use crate::commands::Outcome;
use crate::commands::rotate_key;
use crate::ctx::{Ctx, Overdue};
use crate::retention;

pub const COMMAND: &str = "purge";

/// Remove the personal data of orders past their retention date
///
/// Names, addresses, phone numbers, VAT ids, stored labels and the print files and
/// invoice PDFs written for those orders go; the anonymous order, item and tax records
/// stay. The database is then scrubbed (secure delete, WAL truncated, VACUUM when the
/// file is under 256 MiB or a tenth of it is free pages, or with --vacuum).
/// Every command does this first on its own; run `purge` from cron to be sure and to
/// get a report. Audit-log entries older than `retention.audit_months` (13) go too.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Say what would go (order ids and counts) and change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Also re-encrypt the database under a new key and destroy the old one, so that
    /// stale copies of old pages on the disk can no longer be decrypted
    #[arg(long, conflicts_with = "dry_run")]
    pub rotate_key: bool,
    /// Rebuild the database file (VACUUM) even when it is large and has few free pages
    #[arg(long, conflicts_with = "dry_run")]
    pub vacuum: bool,
}

pub fn run(ctx: &Ctx, args: &PurgeArgs) -> anyhow::Result<Outcome> {
    let cfg = ctx.config()?;
    let now = ctx.clock.now();
    ctx.begin_writing(COMMAND, Overdue::LeftToCommand)?;
    let (report, audit_pruned) = {
        let mut store = ctx.store(COMMAND)?;
        let report = retention::purge_due(&mut store, cfg, now, args.dry_run, args.vacuum)?;
        let pruned = if args.dry_run {
            0
        } else {
            retention::prune_audit(&mut store, cfg, now)?
        };
        (report, pruned)
    };
    let rotated = if args.rotate_key {
        rotate_key::rotate(ctx)?;
        true
    } else {
        false
    };
    let stale = {
        let store = ctx.store(COMMAND)?;
        let before = crate::clock::rfc3339(now - time::Duration::days(60));
        crate::store::purge::stale_unfulfilled(store.conn(), &before)?
    };
    if !ctx.global.json {
        if args.dry_run {
            for id in &report.orders {
                ctx.ui.out(id);
            }
            ctx.ui.out(&format!(
                "would remove the personal data of {} orders and {} files",
                report.due, report.files_removed
            ));
        } else if ctx.ui.interactive() {
            ctx.ui.status(&format!(
                "removed the personal data of {} orders and {} files ({} bytes freed)",
                report.purged,
                report.files_removed,
                report.bytes_freed()
            ));
        }
    }
    if report.files_outside > 0 {
        ctx.ui.warn(&format!(
            "{} files written outside the data directories were not removed: delete them yourself",
            report.files_outside
        ));
    }
    if stale > 0 {
        ctx.ui.warn(&format!(
            "{stale} orders older than 60 days are neither fulfilled nor cancelled and still hold personal data"
        ));
    }
    Ok(Outcome::ok(json!({
        "command": COMMAND,
        "dry_run": args.dry_run,
        "due": report.due,
        "purged": report.purged,
        "pii_rows": report.pii_rows,
        "labels": report.labels,
        "files_removed": report.files_removed,
        "files_outside": report.files_outside,
        "bytes_freed": report.bytes_freed(),
        "db_bytes_before": report.db_bytes_before,
        "db_bytes_after": report.db_bytes_after,
        "key_rotated": rotated,
        "vacuumed": report.vacuumed,
        "orders": report.orders,
        "stale_unfulfilled": stale,
        "audit_entries_pruned": audit_pruned,
    })))
}
