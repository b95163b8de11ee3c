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
/// Names, addresses, phone numbers, VAT ids, stored labels and every file fulfil wrote
/// with them (print files wherever --out put them, invoice PDFs) go; the anonymous
/// order, item and tax records stay. A file is removed only if it is still the file
/// fulfil wrote (same size and SHA-256, a regular file of yours, no symbolic link): one
/// that changed is left alone and named on every run until you delete it or run
/// `fulfil purge --forget-file PATH` (exit status 3 meanwhile). The database is then scrubbed (secure delete, WAL truncated, VACUUM when the
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
    /// Stop tracking a file purge left alone (you removed or kept it yourself); PATH as
    /// purge named it. Removes nothing else
    #[arg(long, value_name = "PATH", conflicts_with_all = ["dry_run", "rotate_key", "vacuum"])]
    pub forget_file: Vec<std::path::PathBuf>,
}

pub fn run(ctx: &Ctx, args: &PurgeArgs) -> anyhow::Result<Outcome> {
    let cfg = ctx.config()?;
    let now = ctx.clock.now();
    ctx.begin_writing(COMMAND, Overdue::LeftToCommand)?;
    if !args.forget_file.is_empty() {
        return forget_files(ctx, &args.forget_file);
    }
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
    // Under --quiet too: until the seller acts, personal data stays on the disk.
    for f in &report.files_left_alone {
        ctx.ui
            .alert(&retention::left_alone_line(&f.path, &f.reason));
    }
    if !report.files_left_alone.is_empty() {
        ctx.ui.alert(retention::FORGET_HINT);
    }
    if stale > 0 {
        ctx.ui.warn(&format!(
            "{stale} orders older than 60 days are neither fulfilled nor cancelled and still hold personal data"
        ));
    }
    Ok(Outcome::from_failures(
        report.files_left_alone.len() as u64,
        json!({
            "command": COMMAND,
            "dry_run": args.dry_run,
            "due": report.due,
            "purged": report.purged,
            "pii_rows": report.pii_rows,
            "labels": report.labels,
            "files_removed": report.files_removed,
            "files_gone": report.files_gone,
            "files_left_alone": report.files_left_alone,
            "bytes_freed": report.bytes_freed(),
            "db_bytes_before": report.db_bytes_before,
            "db_bytes_after": report.db_bytes_after,
            "key_rotated": rotated,
            "vacuumed": report.vacuumed,
            "phase_ms": report.phase_ms,
            "orders": report.orders,
            "stale_unfulfilled": stale,
            "audit_entries_pruned": audit_pruned,
        }),
    ))
}

fn forget_files(ctx: &Ctx, paths: &[std::path::PathBuf]) -> anyhow::Result<Outcome> {
    let now = crate::clock::rfc3339(ctx.clock.now());
    let store = ctx.store(COMMAND)?;
    let mut forgotten = Vec::new();
    let mut unknown = Vec::new();
    for p in paths {
        // As purge named it; a relative PATH is taken from here.
        let as_named = p.to_string_lossy().into_owned();
        let absolute = std::path::absolute(p)
            .map_or_else(|_| as_named.clone(), |a| a.to_string_lossy().into_owned());
        let hit = crate::store::written_files::forget(store.conn(), &as_named, &now)?
            || crate::store::written_files::forget(store.conn(), &absolute, &now)?;
        if hit {
            forgotten.push(as_named);
        } else {
            unknown.push(as_named);
        }
    }
    if !unknown.is_empty() {
        return Err(crate::error::AppError::config(format!(
            "no file purge waits on is recorded as {}",
            unknown.join(", ")
        ))
        .hint("`fulfil status` lists the files purge left alone, by the path to give")
        .into());
    }
    Ok(Outcome::ok(
        json!({"command": COMMAND, "forgotten_files": forgotten}),
    ))
}
