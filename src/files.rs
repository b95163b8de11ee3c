//! Private files: the one way fulfil writes a file that holds personal data (label print
//! files, invoice PDFs) or secrets (key files are written by `rotate-key` itself).
//!
//! A file is written to a temporary file in the same directory (mode 0600, named with
//! [`TEMP_PREFIX`]) and renamed into place, so its path never holds half a document.
//! Directories are made with mode 0700. A killed run can leave a temporary file behind:
//! [`sweep_temp_files`] removes them, and callers run it under the writer lock, so no
//! running command owns them. Whether the bytes are flushed to the disk before the
//! rename is the caller's choice ([`Durability`]): a print file is, an invoice PDF that
//! the next run's repair phase rewrites from the store need not be.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Prefix of the temporary files a file is written to before the rename.
pub const TEMP_PREFIX: &str = ".fulfil-tmp-";

/// Whether a file must reach the disk before it takes its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the file before the rename and its directory after it.
    Synced,
    /// No fsync: a file lost or cut short by a power failure is written again from the
    /// store by the next run (invoice PDFs, checked by their SHA-256).
    Rebuildable,
}

/// The directory a file goes in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Makes `dir` (and its parents) with mode 0700 if need be.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Makes `dir` (mode 0700), returns its canonical path and removes the temporary files a
/// killed run left in it. The caller holds the writer lock.
pub fn prepare_private_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    create_private_dir(dir)?;
    let dir = std::fs::canonicalize(dir)?;
    sweep_temp_files(&dir);
    Ok(dir)
}

/// Removes the temporary files a killed run left in `dir`: they can hold labels or
/// invoices, and no record names them. A missing directory has none.
pub fn sweep_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to `path` with mode 0600, through a temporary file in the same
/// directory and a rename (which replaces `path` if it exists: callers that must not
/// replace a file take its name first). `failpoint` names the crash point between the
/// write and the rename, for the reliability suite.
pub fn write_private(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
    failpoint: Option<&str>,
) -> anyhow::Result<()> {
    let dir = parent_dir(path);
    create_private_dir(&dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(&dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| match durability {
            Durability::Synced => tmp.as_file().sync_all(),
            Durability::Rebuildable => Ok(()),
        })
        .with_context(|| format!("cannot write {}", path.display()))?;
    if let Some(name) = failpoint {
        crate::failpoint::hit(name);
    }
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    if durability == Durability::Synced {
        sync_parent(path);
    }
    Ok(())
}

/// Syncs the directory holding `path`, so that a rename or unlink reaches the disk.
pub fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
}

/// Lower-case hex SHA-256 of `bytes` (files are recorded with it, for purge and repair).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_runs_temporary_print_files_are_swept_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let print = dir.path().join("labels-20261120-100000.pdf");
        write_private(&print, b"%PDF-1.7 labels", Durability::Synced, None).unwrap();
        let leftover = dir.path().join(format!("{TEMP_PREFIX}abc123"));
        std::fs::write(&leftover, b"%PDF-1.7 half").unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names.len(),
            2,
            "write_private leaves only its file: {names:?}"
        );
        sweep_temp_files(dir.path());
        assert!(!leftover.exists());
        assert_eq!(std::fs::read(&print).unwrap(), b"%PDF-1.7 labels");
        sweep_temp_files(&dir.path().join("missing"));
    }

    #[test]
    fn a_killed_runs_temporary_files_are_swept() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".fulfil-tmp-abc"), b"half").unwrap();
        std::fs::write(dir.path().join("INV-2026-000001.pdf"), b"%PDF").unwrap();
        let d = prepare_private_dir(dir.path()).unwrap();
        let names: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["INV-2026-000001.pdf"]);
        let p = d.join("x.pdf");
        write_private(&p, b"%PDF-1.7", Durability::Rebuildable, None).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn sha256_of_nothing() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
