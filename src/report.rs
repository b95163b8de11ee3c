//! The one place that turns an error chain into what the operator reads: one `error:`
//! line, `hint:` lines, and the exit code.
//!
//! It sits at the top, beside [`crate::run`], and is the only module that knows every
//! typed error: `as_classify` downcasts to each of them, and a test checks that every
//! type implementing [`Classify`] anywhere in `src/` is on that list, so a new error type
//! cannot silently exit 1. Modules themselves depend only on the leaf `crate::error`.

use crate::error::{AppError, Classify, Exit, Storage};

/// Finds the exit code and hints for an error by walking its chain.
pub fn classify(err: &anyhow::Error) -> (Exit, Vec<String>) {
    for cause in err.chain() {
        if let Some(c) = as_classify(cause) {
            return (c.exit(), c.hints());
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return classify_io(io);
        }
    }
    (Exit::Failed, Vec::new())
}

pub(crate) fn as_classify<'a>(
    cause: &'a (dyn std::error::Error + 'static),
) -> Option<&'a dyn Classify> {
    macro_rules! try_types {
        ($($t:ty),* $(,)?) => {
            $(if let Some(e) = cause.downcast_ref::<$t>() { return Some(e); })*
        };
    }
    try_types!(
        AppError,
        crate::config::ConfigError,
        crate::store::StoreError,
        crate::transport::TransportError,
        crate::transport::TlsError,
        crate::spapi::SpapiError,
        crate::postnl::PostnlError,
        crate::vies::ViesError,
        crate::trust::Untrusted,
        crate::tedb::TedbError,
    );
    None
}

fn classify_io(io: &std::io::Error) -> (Exit, Vec<String>) {
    use std::io::ErrorKind as K;
    match io.kind() {
        K::StorageFull | K::FileTooLarge | K::QuotaExceeded => (
            Exit::Failed,
            vec!["the disk is full: free space and run again; nothing was lost".into()],
        ),
        K::ReadOnlyFilesystem | K::PermissionDenied => (
            Exit::Config,
            vec!["check that the data directory is writable by this user".into()],
        ),
        K::TimedOut | K::ConnectionRefused | K::ConnectionReset | K::ConnectionAborted => (
            Exit::Temporary,
            vec!["a network problem; the next run retries".into()],
        ),
        _ => (Exit::Failed, Vec::new()),
    }
}

/// Finds a storage problem behind an error raised by the store or by file I/O. Errors
/// that a module already classified (a print command that could not start, a network
/// error) are left alone, even if an `io::Error` sits behind them.
pub fn storage_problem(err: &anyhow::Error) -> Option<Storage> {
    use crate::store::StoreError;
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<StoreError>() {
            return match e {
                StoreError::Sqlite(e) => sqlite_storage(e),
                StoreError::Io(e) => io_storage(e),
                _ => None,
            };
        }
        if as_classify(cause).is_some() {
            return None;
        }
        if let Some(e) = cause.downcast_ref::<rusqlite::Error>() {
            return sqlite_storage(e);
        }
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            return io_storage(e);
        }
    }
    None
}

fn sqlite_storage(e: &rusqlite::Error) -> Option<Storage> {
    use rusqlite::ErrorCode as C;
    match e {
        // SQLITE_IOERR_SHMSIZE: the WAL index (`-shm`) could not grow, which is how a
        // full disk shows when a connection opens with almost no space left.
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE =>
        {
            Some(Storage::Full)
        }
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            C::DiskFull => Some(Storage::Full),
            C::ReadOnly | C::CannotOpen => Some(Storage::ReadOnly),
            _ => None,
        },
        _ => None,
    }
}

fn io_storage(e: &std::io::Error) -> Option<Storage> {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::StorageFull | K::FileTooLarge | K::QuotaExceeded => Some(Storage::Full),
        K::ReadOnlyFilesystem | K::PermissionDenied => Some(Storage::ReadOnly),
        _ => None,
    }
}

/// The error the operator reads for a storage problem, naming the data directory.
///
/// Exit codes: a full disk is 1 (failed), not 4: it does not clear by itself before
/// the next cron tick, and a person has to free space; the work is transactional, so
/// nothing half-written stays behind and the rerun continues where this run stopped.
/// A read-only database is 2, like a configuration error: ownership, modes or a
/// read-only mount are a setup problem a person must fix.
pub fn storage_error(problem: Storage, dir: &std::path::Path, err: &anyhow::Error) -> AppError {
    let d = dir.display();
    match problem {
        Storage::Full => AppError::new(
            Exit::Failed,
            format!("the disk is full ({err})"),
        )
        .hint(format!(
            "free space on the filesystem that holds {d} (see `df -h {d}`) and run the command again"
        ))
        .hint("what was committed before is intact and nothing is done twice: the rerun continues where this run stopped"),
        Storage::ReadOnly => AppError::new(
            Exit::Config,
            format!("the database or a file under {d} is read-only for this user ({err})"),
        )
        .hint(format!(
            "run fulfil as the user that owns {d}, or give that user write access to the directory and the files in it (chown/chmod), and check that the filesystem is not mounted read-only"
        )),
    }
}

/// Prints the error as one `error:` line plus `hint:` lines on stderr and returns its exit code.
pub fn report(err: &anyhow::Error) -> Exit {
    let (exit, hints) = classify(err);
    // `{:#}` joins the chain with ": " on one line, as ripgrep does.
    let line = format!("{err:#}").replace('\n', " ");
    eprintln!("error: {line}");
    for h in hints {
        eprintln!("hint: {h}");
    }
    exit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    /// Every `impl Classify for T` in src/ names a type that [`as_classify`] tries.
    #[test]
    fn every_classified_error_type_is_on_the_list() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let this = std::fs::read_to_string(src.join("report.rs")).unwrap();
        let list_start = this.find("try_types!(").expect("the list") + "try_types!(".len();
        let list: Vec<&str> = this[list_start..][..this[list_start..].find(");").unwrap()]
            .split(',')
            .map(|t| t.trim().rsplit("::").next().unwrap_or(""))
            .filter(|t| !t.is_empty())
            .collect();
        let mut found = Vec::new();
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for line in text.lines() {
                    let line = line.trim();
                    let Some(rest) = line.strip_prefix("impl ") else {
                        continue;
                    };
                    let Some((_, ty)) = rest.split_once("Classify for ") else {
                        continue;
                    };
                    let ty = ty.trim_end_matches('{').trim();
                    found.push((
                        path.display().to_string(),
                        ty.rsplit("::").next().unwrap().to_owned(),
                    ));
                }
            }
        }
        assert!(found.len() >= 7, "{found:?}");
        for (file, ty) in &found {
            assert!(
                list.contains(&ty.as_str()),
                "{file}: {ty} implements Classify but report.rs does not try it"
            );
        }
    }

    fn sqlite(code: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn storage_problems_are_found_in_the_chain() {
        use rusqlite::ffi;
        let full = anyhow::Error::new(StoreError::Sqlite(sqlite(ffi::SQLITE_FULL)));
        assert_eq!(storage_problem(&full), Some(Storage::Full));
        let shm = anyhow::Error::new(StoreError::Sqlite(sqlite(ffi::SQLITE_IOERR_SHMSIZE)));
        assert_eq!(storage_problem(&shm), Some(Storage::Full));
        let ro = anyhow::Error::new(StoreError::Sqlite(sqlite(ffi::SQLITE_READONLY_DIRECTORY)));
        assert_eq!(storage_problem(&ro), Some(Storage::ReadOnly));
        let cant = anyhow::Error::new(sqlite(ffi::SQLITE_CANTOPEN)).context("opening");
        assert_eq!(storage_problem(&cant), Some(Storage::ReadOnly));
        let enospc =
            anyhow::Error::new(std::io::Error::from_raw_os_error(28)).context("cannot write x.pdf");
        assert_eq!(storage_problem(&enospc), Some(Storage::Full));
        let efbig = anyhow::Error::new(std::io::Error::from_raw_os_error(27));
        assert_eq!(storage_problem(&efbig), Some(Storage::Full));
        let erofs = anyhow::Error::new(StoreError::Io(std::io::Error::from_raw_os_error(30)));
        assert_eq!(storage_problem(&erofs), Some(Storage::ReadOnly));
        // Not storage: a busy database, a key problem, an already classified error.
        let busy = anyhow::Error::new(StoreError::Sqlite(sqlite(ffi::SQLITE_BUSY)));
        assert_eq!(storage_problem(&busy), None);
        assert_eq!(
            storage_problem(&anyhow::Error::new(StoreError::KeyFormat)),
            None
        );
        let app = anyhow::Error::new(AppError::new(Exit::Failed, "print command"));
        assert_eq!(storage_problem(&app), None);
    }

    #[test]
    fn storage_errors_name_the_directory_and_pick_their_exit_codes() {
        let dir = std::path::Path::new("/var/lib/fulfil");
        let err = anyhow::anyhow!("database error: database or disk is full");
        let full = storage_error(Storage::Full, dir, &err);
        assert_eq!(full.exit, Exit::Failed);
        assert!(full.message.starts_with("the disk is full"));
        assert!(full.hints[0].contains("/var/lib/fulfil"));
        let ro = storage_error(Storage::ReadOnly, dir, &err);
        assert_eq!(ro.exit, Exit::Config);
        assert!(ro.message.contains("/var/lib/fulfil is read-only"));
    }
}
