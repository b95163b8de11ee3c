//! Who may read or change fulfil's files: one judgement, used by the commands (which
//! refuse) and by `fulfil doctor` (which reports), so that both say the same (issue #15).
//!
//! Two needs:
//! - [`Need::Private`]: owned by this user and closed to everyone else (0600 files, 0700
//!   directories). The key file must be so; doctor also asks it of the database and the
//!   data directories.
//! - [`Need::Unwritable`]: nobody but this user (or root, who can do anything anyway)
//!   can change it: owned by this user or root, not writable by group or others. The
//!   config file and the data directory must be so, because whoever can change them
//!   chooses the `*_command` secrets fulfil runs as this user and where the key is read
//!   from. When running as root, a file of another user is refused too: that user could
//!   make root run commands.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use crate::error::{Classify, Exit};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Owned by this user; no access for group or others.
    Private,
    /// Owned by this user or root; no write access for group or others.
    Unwritable,
}

/// What is wrong with a file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Owned by another user.
    Owner { uid: u32, me: u32 },
    /// Open to others beyond what the need allows.
    Mode { mode: u32, need: Need, kind: Kind },
    /// A file where a directory should be, or the other way round.
    NotKind { kind: Kind },
}

/// The effective uid of this process.
pub fn me() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Judges a file's metadata against a need; `None` when it meets it.
pub fn inspect(meta: &Metadata, kind: Kind, need: Need, me: u32) -> Option<Problem> {
    if (kind == Kind::Dir) != meta.is_dir() {
        return Some(Problem::NotKind { kind });
    }
    let uid = meta.uid();
    let owner_ok = match need {
        Need::Private => uid == me,
        Need::Unwritable => uid == me || uid == 0,
    };
    if !owner_ok {
        return Some(Problem::Owner { uid, me });
    }
    let mode = meta.mode() & 0o777;
    let open = match need {
        Need::Private => mode & 0o077,
        Need::Unwritable => mode & 0o022,
    };
    if open != 0 {
        return Some(Problem::Mode { mode, need, kind });
    }
    None
}

impl Problem {
    /// What is wrong, starting with the path.
    pub fn detail(&self, path: &Path) -> String {
        let p = path.display();
        match self {
            Problem::Owner { uid, me } => {
                format!("{p} is owned by uid {uid}, not by this user (uid {me})")
            }
            Problem::Mode {
                mode,
                need: Need::Private,
                ..
            } => format!("{p} has mode {mode:04o}: other users can reach it"),
            Problem::Mode {
                mode,
                need: Need::Unwritable,
                ..
            } => format!("{p} has mode {mode:04o}: other users can write it"),
            Problem::NotKind { kind: Kind::Dir } => format!("{p} is not a directory"),
            Problem::NotKind { kind: Kind::File } => format!("{p} is not a file"),
        }
    }

    /// The command that fixes it.
    pub fn hint(&self, path: &Path) -> String {
        let p = path.display();
        match self {
            Problem::Owner { me, .. } => {
                format!("run fulfil as its owner, or: chown {me} {p}")
            }
            Problem::Mode {
                need: Need::Private,
                kind,
                ..
            } => {
                let want = if *kind == Kind::Dir { 700 } else { 600 };
                format!("run: chmod {want} {p}")
            }
            Problem::Mode {
                need: Need::Unwritable,
                ..
            } => format!("run: chmod go-w {p}"),
            Problem::NotKind { .. } => "correct the path in the config".into(),
        }
    }
}

/// A config file or data directory that others could change: refused (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{what} {}; not used, as whoever can change it chooses the commands fulfil runs as you", .problem.detail(.path))]
pub struct Untrusted {
    pub what: &'static str,
    pub path: PathBuf,
    pub problem: Problem,
}

impl Classify for Untrusted {
    fn exit(&self) -> Exit {
        Exit::Config
    }
    fn hints(&self) -> Vec<String> {
        vec![self.problem.hint(&self.path)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn meta_with(mode: u32, dir: bool) -> (tempfile::TempDir, Metadata) {
        let t = tempfile::tempdir().unwrap();
        let p = if dir {
            t.path().join("d")
        } else {
            t.path().join("f")
        };
        if dir {
            std::fs::create_dir(&p).unwrap();
        } else {
            std::fs::write(&p, b"x").unwrap();
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        (t, m)
    }

    #[test]
    fn private_and_unwritable() {
        let me = me();
        let (_t, m) = meta_with(0o600, false);
        assert_eq!(inspect(&m, Kind::File, Need::Private, me), None);
        let (_t, m) = meta_with(0o644, false);
        assert!(matches!(
            inspect(&m, Kind::File, Need::Private, me),
            Some(Problem::Mode { mode: 0o644, .. })
        ));
        assert_eq!(inspect(&m, Kind::File, Need::Unwritable, me), None);
        for bad in [0o664, 0o646, 0o666] {
            let (_t, m) = meta_with(bad, false);
            assert!(inspect(&m, Kind::File, Need::Unwritable, me).is_some());
        }
        let (_t, m) = meta_with(0o777, true);
        let p = inspect(&m, Kind::Dir, Need::Unwritable, me).unwrap();
        assert_eq!(p.hint(Path::new("/d")), "run: chmod go-w /d");
        assert_eq!(
            p.detail(Path::new("/d")),
            "/d has mode 0777: other users can write it"
        );
        let p = inspect(&m, Kind::Dir, Need::Private, me).unwrap();
        assert_eq!(p.hint(Path::new("/d")), "run: chmod 700 /d");
        assert_eq!(
            inspect(&m, Kind::File, Need::Private, me),
            Some(Problem::NotKind { kind: Kind::File })
        );
    }

    #[test]
    fn the_owner_must_be_this_user_or_for_unwritable_root() {
        let (_t, m) = meta_with(0o600, false);
        let owner = m.uid();
        let other = owner.wrapping_add(4242);
        let p = inspect(&m, Kind::File, Need::Private, other).unwrap();
        assert_eq!(
            p,
            Problem::Owner {
                uid: owner,
                me: other
            }
        );
        assert_eq!(
            p.hint(Path::new("/k")),
            format!("run fulfil as its owner, or: chown {other} /k")
        );
        // A root-owned file nobody else can write is trusted by every user.
        if owner == 0 {
            assert_eq!(inspect(&m, Kind::File, Need::Unwritable, other), None);
        }
    }
}
