//! Retention: removing personal data when it is due, and with it the files on disk.
//!
//! The rule: an order's personal data goes `retention.fulfilled_days` (at most 30)
//! after its shipment was confirmed, or `retention.cancelled_days` (at most 7) after
//! a cancellation. `orders.pii_due_at` holds that moment. Every command that writes
//! runs the overdue removal first, so a missed cron day never stretches the promise;
//! `fulfil purge` runs it on its own and reports.
//!
//! Per order, one transaction deletes the personal-data rows and stamps the order as
//! purged: a kill between orders leaves every order either whole or anonymised, never
//! half. Files written to disk (print files, invoice PDFs) are overwritten, synced and
//! unlinked, but only inside the configured directories. Then the database is
//! scrubbed: WAL checkpoint and truncate, VACUUM (when the file is small or a tenth of
//! it is free pages, or on request; see `Store::scrub_adaptive`), truncate again.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::clock::rfc3339;
use crate::config::Config;
use crate::store::purge::{self as db, Removed};
use crate::store::{Store, StoreError};

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub due: u64,
    pub purged: u64,
    pub pii_rows: u64,
    pub labels: u64,
    pub overrides: u64,
    pub files_removed: u64,
    pub files_outside: u64,
    pub file_bytes: u64,
    pub db_bytes_before: u64,
    pub db_bytes_after: u64,
    pub vacuumed: bool,
    /// Order ids, for `--dry-run` (ids are not personal data).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<String>,
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
    let due = db::due(store.conn(), &at)?;
    remove(store, cfg, &due, &at, dry_run, force_vacuum)
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
    let files = db::files_for(store.conn(), orders)?;
    if dry_run {
        report.orders = orders.to_vec();
        report.files_removed = files.len() as u64;
        report.db_bytes_after = report.db_bytes_before;
        return Ok(report);
    }
    // A few hundred orders per transaction: each order is removed whole or not at all,
    // and a purge of many orders does not pay one disk sync per order.
    for chunk in orders.chunks(500) {
        let removed: Vec<Removed> =
            store.tx(|tx| chunk.iter().map(|id| db::forget(tx, id, at)).collect())?;
        crate::failpoint::hit("purge:rows-removed");
        for r in removed {
            report.purged += 1;
            report.pii_rows += r.pii_rows;
            report.labels += r.labels;
            report.overrides += r.overrides;
        }
    }
    let dirs = file_dirs(cfg);
    for f in files {
        let path = Path::new(&f.path);
        if !inside(path, &dirs) {
            // Never touch a file outside the directories fulfil owns.
            tracing::warn!(kind = %f.kind, "a tracked file lies outside the data directories; not removed");
            report.files_outside += 1;
            continue;
        }
        report.file_bytes += shred(path)?;
        crate::failpoint::hit("purge:file-shredded");
        report.files_removed += 1;
        db::file_removed(store.conn(), &f.path, at)?;
    }
    if report.purged > 0 || report.files_removed > 0 || force_vacuum {
        crate::failpoint::hit("purge:before-scrub");
        report.vacuumed = store.scrub_adaptive(force_vacuum)?;
    }
    report.db_bytes_after = store.size_on_disk();
    Ok(report)
}

/// True when `path` lies inside one of `dirs` (after resolving links of the parent).
fn inside(path: &Path, dirs: &[PathBuf]) -> bool {
    let parent = path.parent().unwrap_or(Path::new("."));
    let Ok(parent) = parent.canonicalize() else {
        // The directory is gone: the file is gone with it.
        return false;
    };
    dirs.iter()
        .filter_map(|d| d.canonicalize().ok())
        .any(|d| parent.starts_with(d))
}

/// Overwrites a file with zeros, syncs it and unlinks it; a missing file is fine.
/// Returns the bytes it held.
fn shred(path: &Path) -> Result<u64, StoreError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    if !meta.is_file() {
        return Ok(0);
    }
    let len = meta.len();
    {
        let mut f = OpenOptions::new().write(true).open(path)?;
        let zeros = vec![0u8; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(zeros.len());
            f.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        f.sync_all()?;
    }
    std::fs::remove_file(path)?;
    crate::files::sync_parent(path);
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shred_overwrites_and_removes_and_tolerates_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.pdf");
        std::fs::write(&f, b"CANARY-secret").unwrap();
        assert_eq!(shred(&f).unwrap(), 13);
        assert!(!f.exists());
        assert_eq!(shred(&f).unwrap(), 0);
    }

    #[test]
    fn only_files_inside_the_directories() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let dirs = vec![a.path().to_path_buf()];
        std::fs::create_dir(a.path().join("labels")).unwrap();
        assert!(inside(&a.path().join("labels/x.pdf"), &dirs));
        assert!(!inside(&b.path().join("x.pdf"), &dirs));
        assert!(!inside(&a.path().join("../x.pdf"), &dirs));
    }
}
