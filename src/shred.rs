//! Removing a file fulfil wrote, and nothing else (issue #20).
//!
//! Purge removes a recorded file only if it is still the file fulfil wrote: a regular
//! file (not a symbolic link that replaced it, not a directory or device), owned by the
//! user who runs fulfil, at the recorded path whose directory still resolves to itself,
//! with the recorded size and SHA-256. Then it is overwritten with zeros, synced,
//! unlinked, and its directory synced. Anything else is left alone with a [`Reason`],
//! and a file that is no longer there is [`Verdict::Gone`].
//!
//! The checks are made on what is opened, not on the name looked up before: the
//! directory is opened once and everything after goes through that handle; the file is
//! opened with `O_NOFOLLOW` and its opened handle is checked (`fstat`: type, owner,
//! device and inode equal to the entry looked at first), read and hashed, and
//! overwritten through the same handle. Before the unlink the name is looked up again
//! and must still be that inode, so a file put in its place meanwhile is not removed.

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

/// Why purge left a recorded file alone. The codes are stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Another size or another SHA-256 than fulfil wrote.
    Changed,
    /// A symbolic link stands where the file was.
    Symlink,
    /// A directory, device or other thing that is not a regular file.
    NotRegular,
    /// Owned by another user than the one who runs fulfil.
    OtherOwner,
    /// It, or its directory, cannot be read or written by this user.
    Unreadable,
    /// Its directory no longer resolves to the recorded one (moved, or replaced by a link).
    Moved,
    /// Recorded by an older version as typed, relative to a directory no one knows.
    NotAbsolute,
    /// Recorded by an older version without size or hash, outside the data directories.
    Unverified,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Symlink => "symlink",
            Self::NotRegular => "not_regular",
            Self::OtherOwner => "other_owner",
            Self::Unreadable => "unreadable",
            Self::Moved => "moved",
            Self::NotAbsolute => "not_absolute",
            Self::Unverified => "unverified",
        }
    }

    /// Words for a stored code (an unknown code is shown as it is).
    pub fn describe(code: &str) -> &str {
        match code {
            "changed" => "changed since fulfil wrote it",
            "symlink" => "replaced by a symbolic link",
            "not_regular" => "not a regular file",
            "other_owner" => "owned by another user",
            "unreadable" => "cannot be read or written",
            "moved" => "its directory moved or was replaced",
            "not_absolute" => "recorded as a relative path by an older version",
            "unverified" => "recorded without size or hash by an older version",
            other => other,
        }
    }
}

/// What became of a recorded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Overwritten, synced and unlinked; the bytes it held.
    Removed(u64),
    /// Nothing at the recorded path (the seller removed it, or an earlier run did).
    Gone,
    /// Left in place, for this reason.
    LeftAlone(Reason),
}

/// What the file must be to be removed.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub size: u64,
    pub sha256: &'a str,
    /// An earlier purge began overwriting it: zeros of the recorded size are accepted too
    /// (it was killed between the overwrite and the unlink).
    pub overwrite_started: bool,
}

/// Removes the file at `path` if it is still the one described by `expect`; see the
/// module documentation. `before_overwrite` runs once every check has passed, before the
/// first byte is overwritten (purge records there that the overwrite began).
pub fn remove_if_unchanged(
    path: &Path,
    expect: &Expected<'_>,
    before_overwrite: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<Verdict> {
    let (dir, name) = match open_dir(path) {
        Ok(found) => found,
        Err(v) => return Ok(v),
    };
    let entry = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(e) => return Ok(verdict_of(e)),
    };
    if let Err(reason) = ours(&entry) {
        return Ok(Verdict::LeftAlone(reason));
    }
    let fd = match rustix::fs::openat(
        &dir,
        name,
        OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => return Ok(verdict_of(e)),
    };
    let opened = rustix::fs::fstat(&fd)?;
    if let Err(reason) = ours(&opened) {
        return Ok(Verdict::LeftAlone(reason));
    }
    if !same_inode(&entry, &opened) {
        // Replaced between the look and the open.
        return Ok(Verdict::LeftAlone(Reason::Changed));
    }
    let mut file = std::fs::File::from(fd);
    let len = u64::try_from(opened.st_size).unwrap_or(0);
    // A file left empty by a kill between taking its name and writing it holds nothing.
    if len != 0 && !holds_what_was_written(&mut file, len, expect)? {
        return Ok(Verdict::LeftAlone(Reason::Changed));
    }
    before_overwrite()?;
    overwrite(&mut file, len)?;
    crate::failpoint::hit("purge:file-overwritten");
    // Unlink the name only while it still names this file.
    match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(now) if same_inode(&now, &opened) => {
            rustix::fs::unlinkat(&dir, name, AtFlags::empty())?;
            std::fs::File::from(dir).sync_all()?;
        }
        // The name went or names another file now; ours is overwritten all the same.
        Ok(_) | Err(_) => {}
    }
    Ok(Verdict::Removed(len))
}

/// Opens the recorded file's directory, which must still resolve to itself.
fn open_dir(path: &Path) -> Result<(OwnedFd, &std::ffi::OsStr), Verdict> {
    if !path.is_absolute() {
        return Err(Verdict::LeftAlone(Reason::NotAbsolute));
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(Verdict::LeftAlone(Reason::NotRegular));
    };
    match std::fs::canonicalize(parent) {
        Ok(resolved) if resolved == parent => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Verdict::Gone),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(Verdict::LeftAlone(Reason::Unreadable));
        }
        Ok(_) | Err(_) => return Err(Verdict::LeftAlone(Reason::Moved)),
    }
    match rustix::fs::open(
        parent,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Ok((fd, name)),
        Err(e) => Err(verdict_of(e)),
    }
}

fn verdict_of(e: Errno) -> Verdict {
    match e {
        Errno::NOENT => Verdict::Gone,
        Errno::LOOP => Verdict::LeftAlone(Reason::Symlink),
        Errno::NOTDIR => Verdict::LeftAlone(Reason::Moved),
        Errno::ACCESS | Errno::PERM | Errno::ROFS | Errno::TXTBSY => {
            Verdict::LeftAlone(Reason::Unreadable)
        }
        Errno::ISDIR => Verdict::LeftAlone(Reason::NotRegular),
        _ => Verdict::LeftAlone(Reason::Unreadable),
    }
}

/// A regular file of the user who runs fulfil.
fn ours(st: &Stat) -> Result<(), Reason> {
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => {}
        FileType::Symlink => return Err(Reason::Symlink),
        _ => return Err(Reason::NotRegular),
    }
    if st.st_uid != rustix::process::geteuid().as_raw() {
        return Err(Reason::OtherOwner);
    }
    Ok(())
}

fn same_inode(a: &Stat, b: &Stat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

/// True when the file has the recorded size and SHA-256 (or, after an interrupted
/// overwrite, is all zeros of that size).
fn holds_what_was_written(
    file: &mut std::fs::File,
    len: u64,
    expect: &Expected<'_>,
) -> anyhow::Result<bool> {
    if len != expect.size {
        return Ok(false);
    }
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut zeros = true;
    let mut buf = vec![0u8; 64 * 1024];
    file.seek(SeekFrom::Start(0))?;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
        zeros = zeros && buf[..n].iter().all(|b| *b == 0);
    }
    let hex = crate::files::hex(digest.finish().as_ref());
    Ok(hex == expect.sha256 || (expect.overwrite_started && zeros))
}

/// Overwrites `len` bytes with zeros from the start and syncs them to the disk.
fn overwrite(file: &mut std::fs::File, len: u64) -> anyhow::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    let zeros = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(zeros.len());
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(dir: &Path, name: &str, bytes: &[u8]) -> (std::path::PathBuf, String) {
        let p = dir.canonicalize().unwrap().join(name);
        std::fs::write(&p, bytes).unwrap();
        (p, crate::files::sha256_hex(bytes))
    }

    fn expect(sha: &str, size: u64) -> Expected<'_> {
        Expected {
            size,
            sha256: sha,
            overwrite_started: false,
        }
    }

    #[test]
    fn the_file_fulfil_wrote_is_overwritten_and_unlinked() {
        let dir = tempfile::tempdir().unwrap();
        let (p, sha) = written(dir.path(), "x.pdf", b"CANARY-secret");
        let mut called = false;
        let v = remove_if_unchanged(&p, &expect(&sha, 13), || {
            called = true;
            Ok(())
        })
        .unwrap();
        assert_eq!(v, Verdict::Removed(13));
        assert!(called);
        assert!(!p.exists());
        let v = remove_if_unchanged(&p, &expect(&sha, 13), || unreachable!()).unwrap();
        assert_eq!(v, Verdict::Gone);
    }

    #[test]
    fn a_changed_file_or_a_symlink_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (p, sha) = written(dir.path(), "x.pdf", b"CANARY-secret");
        std::fs::write(&p, b"CANARY-other!").unwrap();
        let v = remove_if_unchanged(&p, &expect(&sha, 13), || unreachable!()).unwrap();
        assert_eq!(v, Verdict::LeftAlone(Reason::Changed));
        assert_eq!(std::fs::read(&p).unwrap(), b"CANARY-other!");

        let (target, _) = written(dir.path(), "target.pdf", b"CANARY-secret");
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(&target, &p).unwrap();
        let v = remove_if_unchanged(&p, &expect(&sha, 13), || unreachable!()).unwrap();
        assert_eq!(v, Verdict::LeftAlone(Reason::Symlink));
        assert_eq!(std::fs::read(&target).unwrap(), b"CANARY-secret");

        std::fs::remove_file(&p).unwrap();
        std::fs::create_dir(&p).unwrap();
        let v = remove_if_unchanged(&p, &expect(&sha, 13), || unreachable!()).unwrap();
        assert_eq!(v, Verdict::LeftAlone(Reason::NotRegular));
        assert!(p.is_dir());
    }

    #[test]
    fn a_directory_replaced_by_a_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::fs::create_dir(real.join("labels")).unwrap();
        let (p, sha) = written(&real.join("labels"), "x.pdf", b"CANARY-secret");
        std::fs::rename(real.join("labels"), real.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(real.join("elsewhere"), real.join("labels")).unwrap();
        let v = remove_if_unchanged(&p, &expect(&sha, 13), || unreachable!()).unwrap();
        assert_eq!(v, Verdict::LeftAlone(Reason::Moved));
        assert!(real.join("elsewhere/x.pdf").exists());
    }

    #[test]
    fn an_interrupted_overwrite_is_finished_and_relative_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (p, sha) = written(dir.path(), "x.pdf", b"CANARY-secret");
        std::fs::write(&p, [0u8; 13]).unwrap();
        let v = remove_if_unchanged(&p, &expect(&sha, 13), || unreachable!()).unwrap();
        assert_eq!(v, Verdict::LeftAlone(Reason::Changed));
        let resumed = Expected {
            overwrite_started: true,
            ..expect(&sha, 13)
        };
        let v = remove_if_unchanged(&p, &resumed, || Ok(())).unwrap();
        assert_eq!(v, Verdict::Removed(13));
        let v =
            remove_if_unchanged(Path::new("labels/x.pdf"), &resumed, || unreachable!()).unwrap();
        assert_eq!(v, Verdict::LeftAlone(Reason::NotAbsolute));
    }

    #[test]
    fn an_empty_file_left_by_a_kill_before_the_write_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (p, _) = written(dir.path(), "x.pdf", b"");
        let v = remove_if_unchanged(&p, &expect("abc", 13), || Ok(())).unwrap();
        assert_eq!(v, Verdict::Removed(0));
        assert!(!p.exists());
    }
}
