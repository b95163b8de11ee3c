//! Step 4 of make-labels (and `--reprint`): the print file. Every label not printed yet
//! is merged (see [`crate::labels::print`]) into one file (a PDF, or for ZPL labels the
//! labels' `^XA … ^XZ` blocks one after another, issue #19), whose name is taken
//! exclusively before it is recorded for purge and written through [`crate::files`]
//! (mode 0600, never replacing a file unless `--overwrite`), or piped to the seller's
//! print command under a time limit.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::clock::rfc3339;
use crate::config::{Config, LabelFormat, PrintLayout};
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::files::{self, Durability};
use crate::labels::print::{self, Layout};
use crate::labels::{COMMAND, pick_list};
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

/// What went into a print file.
#[derive(Debug, Clone)]
pub struct Printed {
    /// The file's path, or `| CMD` for a print command.
    pub path: String,
    /// Pages (PDF) or labels (ZPL blocks).
    pub pages: usize,
    /// The order of each label it holds, in print order (an order of several parcels
    /// once per label).
    pub order_ids: Vec<String>,
}

/// Merges every label not yet printed, made in `format`, into the print file (or pipes
/// it to a printer). Unprinted labels made in another format (an earlier run with
/// another `--format`) stay unprinted, with a warning naming the format that prints
/// them: a PDF is never sent to a ZPL printer, nor ZPL to a PDF one.
pub fn write_pending(
    ctx: &Ctx,
    cfg: &Config,
    to: &Target<'_>,
    format: LabelFormat,
) -> anyhow::Result<Option<Printed>> {
    let all = {
        let store = ctx.store(COMMAND)?;
        db::unprinted_labels(store.conn())?
    };
    let (pending, other): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|l| LabelFormat::parse(&l.format) == Some(format));
    if !other.is_empty() {
        let mut formats: Vec<&str> = other.iter().map(|l| l.format.as_str()).collect();
        formats.sort_unstable();
        formats.dedup();
        ctx.ui.warn(&format!(
            "{} labels made as {} are not printed in this {} run: `fulfil make-labels --format {}` prints them",
            other.len(),
            formats.join(", "),
            format.as_str(),
            formats[0]
        ));
    }
    if pending.is_empty() {
        return Ok(None);
    }
    let ids: Vec<String> = pending.iter().map(|l| l.order_id.clone()).collect();
    let labels: Vec<Vec<u8>> = pending.into_iter().map(|l| l.bytes).collect();
    let (path, pages) = deliver(ctx, cfg, to, &labels, &ids, format)?;
    let store = ctx.store(COMMAND)?;
    db::mark_printed(store.conn(), &ids, &rfc3339(ctx.clock.now()))?;
    Ok(Some(Printed {
        path,
        pages,
        order_ids: ids,
    }))
}

/// Writes (or pipes) a print file of the given labels, all made in `format`; returns
/// where it went and its pages (PDF) or labels (ZPL).
pub fn deliver(
    ctx: &Ctx,
    cfg: &Config,
    to: &Target<'_>,
    labels: &[Vec<u8>],
    ids: &[String],
    format: LabelFormat,
) -> anyhow::Result<(String, usize)> {
    let (bytes, pages) = if format.is_zpl() {
        let bytes = print::concat_zpl(labels.iter().map(Vec::as_slice));
        let blocks = print::zpl_blocks(&bytes);
        (bytes, blocks)
    } else {
        let layout = match cfg.labels.layout {
            PrintLayout::A6 => Layout::A6,
            PrintLayout::A4 => Layout::A4 {
                start: cfg.labels.a4_start,
            },
        };
        print::merge(labels, layout)?
    };
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
    // An order of several parcels has several labels, one record entry.
    let mut ids: Vec<String> = ids.to_vec();
    ids.dedup();
    let ids = ids.as_slice();
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
            unique_name(&dir, &format!("labels-{stamp}"), format.extension(), claim)?
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

/// Where a pick list goes (issue #19).
#[derive(Debug, Clone, Copy)]
pub enum PickTo<'a> {
    /// `labels/picklist-TIME.pdf` in the labels directory, beside the print files.
    Default,
    /// This PDF file (`--pick-list FILE`), replaced if it exists: it holds no personal
    /// data.
    File(&'a Path),
    /// Plain text on stdout (`--pick-list -`).
    Stdout,
}

/// Writes the pick list of a print file's orders; returns where it went.
pub fn write_pick_list(
    ctx: &Ctx,
    cfg: &Config,
    order_ids: &[String],
    to: PickTo<'_>,
) -> anyhow::Result<String> {
    let orders = {
        let store = ctx.store(COMMAND)?;
        let mut out: Vec<(String, pick_list::OrderItems)> = Vec::new();
        for id in order_ids {
            let items = match out.last() {
                // The next label of the same order (a multi-collo group).
                Some((last, items)) if last == id => items.clone(),
                _ => db::pick_items(store.conn(), id)?,
            };
            out.push((id.clone(), items));
        }
        out
    };
    let list = pick_list::build(&orders);
    let now = ctx.clock.now();
    let path = match to {
        PickTo::Stdout => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            out.write_all(pick_list::text(&list).as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| anyhow::Error::new(e).context("cannot write the pick list"))?;
            return Ok("-".into());
        }
        PickTo::File(p) => {
            create_dir_private(p)?;
            p.to_path_buf()
        }
        PickTo::Default => {
            let stamp =
                time::macros::format_description!("[year][month][day]-[hour][minute][second]");
            let stamp = now.format(&stamp).unwrap_or_default();
            reserve_unique(&cfg.labels_dir(), &format!("picklist-{stamp}"), "pdf")?
        }
    };
    let bytes = pick_list::pdf(&list, now.date())?;
    files::write_private(&path, &bytes, Durability::Synced, None)?;
    Ok(path.display().to_string())
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

/// Takes the first free name of `STEM.EXT`, `STEM_2.EXT`, … in `dir` (created 0700 if
/// need be) for a file that holds no personal data and is not recorded (a pick list).
pub(crate) fn reserve_unique(dir: &Path, stem: &str, ext: &str) -> anyhow::Result<PathBuf> {
    create_dir_private(&dir.join(stem))?;
    unique_name(dir, stem, ext, |path| match reserve(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot write in {}", dir.display()))),
    })
}

/// Claims the first free name of `STEM.EXT`, `STEM_2.EXT`, `STEM_3.EXT`, … in `dir`
/// (`claim` answers false for a name that is taken). `_` sorts after `.`, so the names
/// sort by time, and the second print file of a second after the first.
fn unique_name(
    dir: &Path,
    stem: &str,
    ext: &str,
    mut claim: impl FnMut(&Path) -> anyhow::Result<bool>,
) -> anyhow::Result<PathBuf> {
    for n in 1..=MAX_SUFFIX {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}_{n}.{ext}")
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
