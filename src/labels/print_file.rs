//! Step 4 of make-labels (and `--reprint`): the print file. Every label not printed yet
//! is merged (see [`crate::labels::print`]) into one file, whose name is taken
//! exclusively before it is recorded for purge and written through [`crate::files`]
//! (mode 0600, never replacing a file unless `--overwrite`), or piped to the seller's
//! print command under a time limit.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::clock::rfc3339;
use crate::config::{Config, PrintLayout};
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::files::{self, Durability};
use crate::labels::COMMAND;
use crate::labels::print::{self, Layout};
use crate::store::labels as db;
use crate::store::written_files;

/// Where a print file goes: `--out`, `--overwrite` and `--print-command`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    /// This file instead of a new one in the labels directory.
    pub out: Option<&'a Path>,
    /// `out` may replace an existing file.
    pub overwrite: bool,
    /// Pipe the file to this command instead of writing it.
    pub print_command: Option<&'a str>,
}

/// Merges every label not yet printed into the print file (or pipes it to a printer).
pub fn write_pending(
    ctx: &Ctx,
    cfg: &Config,
    to: &Target<'_>,
) -> anyhow::Result<Option<(String, usize)>> {
    let pending: Vec<(String, Vec<u8>)> = {
        let store = ctx.store(COMMAND)?;
        db::unprinted_labels(store.conn())?
    };
    if pending.is_empty() {
        return Ok(None);
    }
    let ids: Vec<String> = pending.iter().map(|(id, _)| id.clone()).collect();
    let pdfs: Vec<Vec<u8>> = pending.into_iter().map(|(_, pdf)| pdf).collect();
    let out = deliver(ctx, cfg, to, &pdfs, &ids)?;
    let store = ctx.store(COMMAND)?;
    db::mark_printed(store.conn(), &ids, &rfc3339(ctx.clock.now()))?;
    Ok(Some(out))
}

/// Writes (or pipes) a print file of the given labels; returns where it went and its pages.
pub fn deliver(
    ctx: &Ctx,
    cfg: &Config,
    to: &Target<'_>,
    pdfs: &[Vec<u8>],
    ids: &[String],
) -> anyhow::Result<(String, usize)> {
    let layout = match cfg.labels.layout {
        PrintLayout::A6 => Layout::A6,
        PrintLayout::A4 => Layout::A4 {
            start: cfg.labels.a4_start,
        },
    };
    let (bytes, pages) = print::merge(pdfs, layout)?;
    if let Some(cmd) = to.print_command {
        pipe(cmd, &bytes, cfg.print_timeout())?;
        return Ok((format!("| {cmd}"), pages));
    }
    // Recorded for purge before the file exists, wherever it goes (issue #20), with the
    // size and SHA-256 it is about to have, then its name is taken (created empty,
    // exclusively) and it is written: a run killed at any point leaves either a record
    // whose file is missing (purge drops it), an empty file (purge removes it) or the
    // file, recorded (issue #8). No other file is ever replaced: a reprint in the same
    // second as its batch gets a name of its own instead of the batch's (issue #15).
    let sha256 = files::sha256_hex(&bytes);
    let record = |path: &Path| -> anyhow::Result<()> {
        let mut store = ctx.store(COMMAND)?;
        let path = path.to_str().ok_or_else(|| {
            AppError::config(format!("{} is not a UTF-8 path", path.display()))
                .hint("choose a --out FILE whose name is plain text")
        })?;
        store.tx(|tx| {
            written_files::record(
                tx,
                &written_files::NewFile {
                    path,
                    kind: "labels",
                    order_ids: ids,
                    size: bytes.len() as u64,
                    sha256: &sha256,
                    now: &rfc3339(ctx.clock.now()),
                },
            )
        })?;
        Ok(())
    };
    // Records `path` and takes its name; false when a file (or link) has it already.
    let claim = |path: &Path| -> anyhow::Result<bool> {
        if std::fs::symlink_metadata(path).is_ok() {
            return Ok(false);
        }
        record(path)?;
        match reserve(path) {
            Ok(()) => Ok(true),
            Err(e) => {
                let store = ctx.store(COMMAND)?;
                written_files::withdraw(store.conn(), &path.to_string_lossy())?;
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Ok(false)
                } else {
                    Err(anyhow::Error::new(e).context(format!("cannot write {}", path.display())))
                }
            }
        }
    };
    let path = match to.out {
        Some(p) if to.overwrite => {
            let p = absolute(p)?;
            record(&p)?;
            p
        }
        Some(p) => {
            let p = absolute(p)?;
            if !claim(&p)? {
                return Err(out_exists(&p).into());
            }
            p
        }
        None => {
            let stamp =
                time::macros::format_description!("[year][month][day]-[hour][minute][second]");
            let stamp = ctx.clock.now().format(&stamp).unwrap_or_default();
            let dir = cfg.labels_dir();
            files::create_private_dir(&dir)?;
            let dir = std::fs::canonicalize(&dir)
                .with_context(|| format!("cannot resolve {}", dir.display()))?;
            unique_name(&dir, &format!("labels-{stamp}"), claim)?
        }
    };
    if let Err(e) = files::write_private(&path, &bytes, Durability::Synced, None) {
        // The name taken for it goes again, unless the seller's own file was replaced.
        if !to.overwrite {
            let _ = std::fs::remove_file(&path);
        }
        return Err(e);
    }
    crate::failpoint::hit("make-labels:print-file-written");
    Ok((path.display().to_string(), pages))
}

/// The error for `--out` onto a file that exists.
pub fn out_exists(path: &Path) -> AppError {
    AppError::config(format!(
        "{} already exists; a print file never replaces a file",
        path.display()
    ))
    .hint("choose another --out FILE, or add --overwrite to replace it")
}

/// Creates the directory a file goes in (mode 0700), if need be.
fn create_dir_private(path: &Path) -> anyhow::Result<()> {
    files::create_private_dir(&files::parent_dir(path))
}

/// `--out` made absolute with its directory resolved (and created 0700 if need be), so
/// that the record names the file wherever purge runs from (issue #20: a relative
/// `--out` was recorded as typed and purge, run from elsewhere, missed it).
fn absolute(out: &Path) -> anyhow::Result<PathBuf> {
    let Some(name) = out.file_name() else {
        return Err(
            AppError::config(format!("--out {} names no file", out.display()))
                .hint("give a file name, e.g. --out labels/today.pdf")
                .into(),
        );
    };
    create_dir_private(out)?;
    let dir = files::parent_dir(out);
    let dir =
        std::fs::canonicalize(&dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    Ok(dir.join(name))
}

/// Takes a file name by creating the file empty (mode 0600), exclusively: fails with
/// `AlreadyExists` when any file (or link) has that name.
fn reserve(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

/// Most names tried for one second's print file before giving up.
const MAX_SUFFIX: u32 = 999;

/// Claims the first free name of `STEM.pdf`, `STEM_2.pdf`, `STEM_3.pdf`, … in `dir`
/// (`claim` answers false for a name that is taken). `_` sorts after `.`, so the names
/// sort by time, and the second print file of a second after the first.
fn unique_name(
    dir: &Path,
    stem: &str,
    mut claim: impl FnMut(&Path) -> anyhow::Result<bool>,
) -> anyhow::Result<PathBuf> {
    for n in 1..=MAX_SUFFIX {
        let name = if n == 1 {
            format!("{stem}.pdf")
        } else {
            format!("{stem}_{n}.pdf")
        };
        let path = dir.join(name);
        if claim(&path)? {
            return Ok(path);
        }
    }
    Err(AppError::new(
        crate::error::Exit::Failed,
        format!(
            "{MAX_SUFFIX} print files named {stem} already exist in {}",
            dir.display()
        ),
    )
    .hint("move the old print files out of the labels directory")
    .into())
}

/// Pipes the print file to the seller's command (see [`crate::child`]: its own process
/// group, a time limit). A failure leaves the labels unprinted: the next run prints them.
fn pipe(cmd: &str, bytes: &[u8], limit: std::time::Duration) -> anyhow::Result<()> {
    let status = match crate::child::run(cmd, Some(bytes), false, limit) {
        Ok(f) => f.status,
        Err(crate::child::ChildError::TimedOut(_)) => {
            return Err(AppError::new(
                crate::error::Exit::Failed,
                format!(
                    "--print-command did not finish within {} s; it was stopped and the labels stay unprinted",
                    limit.as_secs()
                ),
            )
            .hint("the next run prints them again (or: make-labels --reprint ORDER)")
            .hint(format!(
                "if the printer needs longer, raise labels.print_timeout_secs (now {})",
                limit.as_secs()
            ))
            .into());
        }
        Err(e) => {
            return Err(anyhow::Error::new(e).context("cannot run the print command"));
        }
    };
    if !status.success() {
        return Err(AppError::new(
            crate::error::Exit::Failed,
            format!("the print command failed ({status}); the labels stay unprinted"),
        )
        .hint("the next run tries again, or use --out FILE")
        .into());
    }
    Ok(())
}
