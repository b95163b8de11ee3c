//! Retention: removing personal data when it is due, and with it the files on disk.
//!
//! The rule: an order's personal data goes `retention.fulfilled_days` (at most 30)
//! after its shipment was confirmed, or `retention.cancelled_days` (at most 7) after
//! a cancellation. `orders.pii_due_at` holds that moment. Every command that writes
//! runs the overdue removal first, so a missed cron day never stretches the promise;
//! `fulfil purge` runs it on its own and reports.
//!
//! Orders go some thousands per transaction, each order whole or not at all: a kill
//! leaves every order either whole or anonymised, never half. Every file fulfil wrote
//! with their data (print files wherever `--out` put them, invoice PDFs; recorded before
//! they were written, issue #20) is then removed if it is still the file fulfil wrote,
//! and otherwise left alone and named (see [`crate::shred`]). Then the database is
//! scrubbed: WAL checkpoint and truncate, VACUUM (when the file is small or a tenth of
//! it is free pages, or on request; see `Store::scrub_adaptive`), truncate again.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::clock::rfc3339;
use crate::config::Config;
use crate::shred::{self, Expected, Reason, Verdict};
use crate::store::purge::{self as db, Removed};
use crate::store::written_files;
use crate::store::{Store, StoreError};

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub due: u64,
    pub purged: u64,
    pub pii_rows: u64,
    pub labels: u64,
    pub overrides: u64,
    pub files_removed: u64,
    /// Recorded files no longer there: dropped from the record.
    pub files_gone: u64,
    /// Recorded files purge did not remove, with the reason (paths only).
    pub files_left_alone: Vec<LeftAlone>,
    pub file_bytes: u64,
    pub db_bytes_before: u64,
    pub db_bytes_after: u64,
    pub vacuumed: bool,
    /// Where the time went (milliseconds per phase), for the benchmark.
    pub phase_ms: Phases,
    /// Order ids, for `--dry-run` (ids are not personal data).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<String>,
}

/// Orders removed per transaction (at most what one statement can list).
const ORDERS_PER_TRANSACTION: usize = if db::MAX_ORDERS < 5_000 {
    db::MAX_ORDERS
} else {
    5_000
};

/// Milliseconds spent finding the due orders, deleting their rows, removing their
/// files, and scrubbing the database.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Phases {
    pub due: u64,
    pub rows: u64,
    pub files: u64,
    pub scrub: u64,
}

/// A recorded file purge left in place.
#[derive(Debug, Clone, Serialize)]
pub struct LeftAlone {
    pub path: String,
    /// A code of [`Reason`].
    pub reason: String,
}

impl Report {
    pub fn bytes_freed(&self) -> u64 {
        self.db_bytes_before.saturating_sub(self.db_bytes_after) + self.file_bytes
    }
}

/// The directories purge may remove files from.
pub fn file_dirs(cfg: &Config) -> Vec<PathBuf> {
    vec![cfg.data_dir(), cfg.labels_dir(), cfg.invoices_dir()]
}

/// Removes the personal data of every order due at `now`.
pub fn purge_due(
    store: &mut Store,
    cfg: &Config,
    now: time::OffsetDateTime,
    dry_run: bool,
    force_vacuum: bool,
) -> Result<Report, StoreError> {
    let at = rfc3339(now);
    let started = Instant::now();
    let due = db::due(store.conn(), &at)?;
    let found = started.elapsed();
    let mut report = remove(store, cfg, &due, &at, dry_run, force_vacuum)?;
    report.phase_ms.due = millis(found);
    Ok(report)
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Prunes audit-log entries older than `retention.audit_months` (at least 13)
/// calendar months; the prune appends its own entry (see `crate::audit`). Returns the
/// number of entries removed.
pub fn prune_audit(
    store: &mut Store,
    cfg: &Config,
    now: time::OffsetDateTime,
) -> Result<u64, StoreError> {
    let months = cfg.retention.audit_months;
    let cutoff = rfc3339(crate::audit::months_before(now, months));
    let pruned = store.prune_audit(&cutoff, &rfc3339(now), months)?;
    if let Some(p) = &pruned {
        tracing::info!(entries = p.removed, "old audit-log entries pruned");
    }
    Ok(pruned.map_or(0, |p| p.removed))
}

/// Removes one order's personal data now (a data subject's or Amazon's request).
pub fn forget(
    store: &mut Store,
    cfg: &Config,
    order_id: &str,
    now: time::OffsetDateTime,
) -> Result<Report, StoreError> {
    remove(
        store,
        cfg,
        &[order_id.to_string()],
        &rfc3339(now),
        false,
        false,
    )
}

fn remove(
    store: &mut Store,
    cfg: &Config,
    orders: &[String],
    at: &str,
    dry_run: bool,
    force_vacuum: bool,
) -> Result<Report, StoreError> {
    let mut report = Report {
        due: orders.len() as u64,
        db_bytes_before: store.size_on_disk(),
        ..Report::default()
    };
    if dry_run {
        let files = written_files::due_with(store.conn(), orders)?;
        report.orders = orders.to_vec();
        report.files_removed = files.len() as u64;
        report.db_bytes_after = report.db_bytes_before;
        return Ok(report);
    }
    remove_rows_files_and_scrub(store, cfg, orders, at, force_vacuum, &mut report)?;
    report.db_bytes_after = store.size_on_disk();
    Ok(report)
}

fn remove_rows_files_and_scrub(
    store: &mut Store,
    cfg: &Config,
    orders: &[String],
    at: &str,
    force_vacuum: bool,
    report: &mut Report,
) -> Result<(), StoreError> {
    // Some thousands of orders per transaction, one statement per table for all of them:
    // each order is removed whole or not at all, and a purge of many orders pays neither
    // a disk sync per order nor a statement per order and table.
    let started = Instant::now();
    for chunk in orders.chunks(ORDERS_PER_TRANSACTION) {
        let removed: Removed = store.tx(|tx| db::forget_many(tx, chunk, at))?;
        crate::failpoint::hit("purge:rows-removed");
        report.purged += chunk.len() as u64;
        report.pii_rows += removed.pii_rows;
        report.labels += removed.labels;
        report.overrides += removed.overrides;
    }
    report.phase_ms.rows = millis(started.elapsed());
    let started = Instant::now();
    remove_files(store, cfg, at, report)?;
    report.phase_ms.files = millis(started.elapsed());
    let started = Instant::now();
    if report.purged > 0 || report.files_removed > 0 || force_vacuum {
        crate::failpoint::hit("purge:before-scrub");
        report.vacuumed = store.scrub_adaptive(force_vacuum)?;
    }
    report.phase_ms.scrub = millis(started.elapsed());
    Ok(())
}

/// What to do about the files purge left alone (also shown by status and doctor).
pub const FORGET_HINT: &str = "delete each file named yourself (the next purge drops it from the record), or run `fulfil purge --forget-file PATH` to stop tracking it";

/// One file purge left alone: its path and why (never its content).
pub fn left_alone_line(path: &str, reason: &str) -> String {
    format!(
        "{path} holds personal data and was left alone: {}",
        Reason::describe(reason)
    )
}

/// The files an earlier purge left alone that are still at their path (a file the
/// seller removed since is dropped by the next purge and no longer named): (path,
/// reason code). For `status` and `doctor`; nothing before schema 10 records them.
pub fn files_left_alone(store: &Store) -> Result<Vec<LeftAlone>, StoreError> {
    if store.schema_version()? < 10 {
        return Ok(Vec::new());
    }
    Ok(written_files::left_alone_files(store.conn())?
        .into_iter()
        .filter(|(path, _)| std::fs::symlink_metadata(path).is_ok())
        .map(|(path, reason)| LeftAlone { path, reason })
        .collect())
}

/// Every recorded file that holds data of an order now purged (the due ones included):
/// removed if it is still the file fulfil wrote, dropped from the record if it is already
/// gone, and otherwise left alone, recorded with its reason and named in the report
/// (see [`crate::shred`]).
fn remove_files(
    store: &mut Store,
    cfg: &Config,
    at: &str,
    report: &mut Report,
) -> Result<(), StoreError> {
    let dirs = file_dirs(cfg);
    for f in written_files::due(store.conn())? {
        let path = Path::new(&f.path);
        let verdict = match (&f.sha256, f.size) {
            (Some(sha), Some(size)) if f.left_alone.as_deref() != Some("not_absolute") => {
                let expect = Expected {
                    size,
                    sha256: sha,
                    overwrite_started: f.removing,
                };
                let conn = store.conn();
                shred::remove_if_unchanged(path, &expect, || {
                    Ok(written_files::removing(conn, &f.path, at)?)
                })
            }
            // Recorded by an older version: no hash to compare, so only inside the
            // directories fulfil owns, as before.
            _ if !path.is_absolute() => Ok(Verdict::LeftAlone(Reason::NotAbsolute)),
            _ if inside(path, &dirs) => legacy_shred(path),
            _ => Ok(Verdict::LeftAlone(Reason::Unverified)),
        }
        .map_err(|e| StoreError::Io(std::io::Error::other(format!("{e:#}"))))?;
        match verdict {
            Verdict::Removed(bytes) => {
                crate::failpoint::hit("purge:file-shredded");
                written_files::finished(store.conn(), &f.path, "removed", at)?;
                report.file_bytes += bytes;
                report.files_removed += 1;
            }
            Verdict::Gone => {
                written_files::finished(store.conn(), &f.path, "gone", at)?;
                report.files_gone += 1;
            }
            Verdict::LeftAlone(reason) => {
                tracing::warn!(kind = %f.kind, reason = reason.code(), "a recorded file was left alone");
                written_files::left_alone(store.conn(), &f.path, reason.code())?;
                report.files_left_alone.push(LeftAlone {
                    path: f.path.clone(),
                    reason: reason.code().to_string(),
                });
            }
        }
    }
    Ok(())
}

/// True when `path` lies inside one of `dirs` (after resolving links of the parent).
fn inside(path: &Path, dirs: &[PathBuf]) -> bool {
    let parent = path.parent().unwrap_or(Path::new("."));
    let Ok(parent) = parent.canonicalize() else {
        return false;
    };
    dirs.iter()
        .filter_map(|d| d.canonicalize().ok())
        .any(|d| parent.starts_with(d))
}

/// A file recorded by an older version (no size, no hash) inside the data directories:
/// removed as then, through the same opened-handle checks but without the hash.
fn legacy_shred(path: &Path) -> anyhow::Result<Verdict> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(Verdict::Gone);
    };
    if !meta.is_file() {
        return Ok(Verdict::LeftAlone(Reason::NotRegular));
    }
    // Its own bytes are what fulfil wrote, as far as anyone can tell.
    let sha = crate::files::sha256_hex(&std::fs::read(path)?);
    shred::remove_if_unchanged(
        path,
        &Expected {
            size: meta.len(),
            sha256: &sha,
            overwrite_started: false,
        },
        || Ok(()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_inside_the_directories_for_records_without_a_hash() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let dirs = vec![a.path().to_path_buf()];
        std::fs::create_dir(a.path().join("labels")).unwrap();
        assert!(inside(&a.path().join("labels/x.pdf"), &dirs));
        assert!(!inside(&b.path().join("x.pdf"), &dirs));
        assert!(!inside(&a.path().join("../x.pdf"), &dirs));
        let f = a.path().canonicalize().unwrap().join("labels/x.pdf");
        std::fs::write(&f, b"CANARY-secret").unwrap();
        assert_eq!(legacy_shred(&f).unwrap(), Verdict::Removed(13));
        assert!(!f.exists());
        assert_eq!(legacy_shred(&f).unwrap(), Verdict::Gone);
    }
}
