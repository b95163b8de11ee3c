//! A full disk and a read-only database (issue #8): one clear error with the data
//! directory in it, a sensible exit code, no panic, nothing corrupted, and a rerun
//! that finishes the job once the problem is gone.
//!
//! The disk is a real tmpfs of a few hundred kilobytes mounted on the data directory
//! (so SQLite sees ENOSPC and answers SQLITE_FULL), grown again with a remount. The
//! tests run as root with CAP_SYS_ADMIN, as here and in CI; if the mount is not
//! permitted they fail, they do not skip. The read-only database is a data directory
//! owned by `nobody` with its write bits removed, with fulfil run as `nobody` through
//! `setpriv` (root would ignore the modes).

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Run, TestEnv, files_under};

/// Runs a system command, failing the test loudly if it does not succeed.
#[track_caller]
fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed (these tests need root with CAP_SYS_ADMIN): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tmpfs mounted on a directory for the life of the value.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, bytes: u64) -> Self {
        std::fs::create_dir_all(path).unwrap();
        let p = path.to_str().unwrap();
        sh(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes},mode=0700"),
                "tmpfs",
                p,
            ],
        );
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    fn resize(&self, bytes: u64) {
        let p = self.path.to_str().unwrap();
        sh("mount", &["-o", &format!("remount,size={bytes}"), p]);
    }

    fn used(&self) -> u64 {
        let p = self.path.to_str().unwrap();
        let out = sh("df", &["--output=used", "-B1", p]);
        out.lines().nth(1).unwrap().trim().parse().unwrap()
    }

    /// Leaves about `free` bytes free (tmpfs sizes are whole pages).
    fn leave_free(&self, free: u64) {
        self.resize(self.used() + free);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy, so that an open file in a failed test cannot keep the mount around.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A sandbox with `n` orders and a data directory on its own 64 MiB tmpfs, initialised.
/// The tmpfs is declared after the environment, so it is unmounted before the
/// temporary directory is removed.
fn on_tmpfs(n: usize) -> (TestEnv, Tmpfs) {
    let mut env = TestEnv::new();
    let fs = Tmpfs::mount(&env.data(), 64 << 20);
    let sandbox = fulfil::sandbox::Sandbox::start(fulfil::sandbox::SandboxConfig {
        start: fulfil::clock::parse_rfc3339(crate::common::NOW).unwrap(),
        generate: n,
        rate_limits: false,
        ..fulfil::sandbox::SandboxConfig::default()
    })
    .unwrap();
    let url = sandbox.url();
    env.sandbox = Some(sandbox);
    env.run(&["init", "--sandbox", &url]).assert_code(0);
    (env, fs)
}

#[track_caller]
fn assert_disk_full(r: &Run, env: &TestEnv) {
    r.assert_code(1);
    let line = r.one_error();
    let dir = env.data().display().to_string();
    assert!(line.contains("the disk is full"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "hint: free space on the filesystem that holds {dir}"
        )),
        "{}",
        r.stderr
    );
}

/// `PRAGMA integrity_check` says ok and `PRAGMA cipher_integrity_check` reports no
/// page with a bad HMAC.
#[track_caller]
fn assert_intact(env: &TestEnv) {
    let s = fulfil::store::Store::open(&env.db(), &env.key(), fulfil::store::Mode::Read).unwrap();
    assert!(s.integrity_ok().unwrap(), "integrity_check");
    let mut stmt = s.conn().prepare("PRAGMA cipher_integrity_check").unwrap();
    let problems: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(problems.is_empty(), "cipher_integrity_check: {problems:?}");
}

/// Orders and their items as they stand, with each row counted once per key.
fn counts(env: &TestEnv) -> (u64, u64, u64) {
    (
        env.count("SELECT count(*) FROM orders"),
        env.count("SELECT count(*) FROM order_items"),
        env.count("SELECT count(DISTINCT order_id || '/' || order_item_id) FROM order_items"),
    )
}

#[test]
fn sync_orders_on_a_full_disk_fails_cleanly_and_the_rerun_completes() {
    const N: usize = 400;
    // What a sync of the same sandbox stores when the disk has room.
    let control = TestEnv::sandboxed(N);
    control.run(&["sync-orders"]).assert_code(0);
    let want = counts(&control);
    assert!(want.0 > 300, "{want:?}");

    let (env, fs) = on_tmpfs(N);
    fs.leave_free(64 << 10);
    let r = env.run(&["sync-orders"]);
    assert_disk_full(&r, &env);
    // What was committed is whole; the rest is simply not there yet.
    assert_intact(&env);
    let partial = counts(&env);
    assert!(partial.0 < want.0, "{partial:?}");
    assert_eq!(partial.1, partial.2);

    fs.resize(64 << 20);
    env.run(&["sync-orders"]).assert_code(0);
    assert_intact(&env);
    assert_eq!(counts(&env), want, "no order lost or doubled");
}

#[test]
fn make_labels_and_make_invoices_on_a_full_disk_fail_cleanly_and_reruns_complete() {
    const N: usize = 40;
    let (env, fs) = on_tmpfs(N);
    env.run(&["sync-orders"]).assert_code(0);
    let labelled = || env.count("SELECT count(*) FROM parcels WHERE labelled_at IS NOT NULL");
    let one_parcel_per_order = || {
        assert_eq!(
            env.count("SELECT count(*) FROM parcels"),
            env.count("SELECT count(DISTINCT order_id) FROM parcels")
        );
    };

    // 1. The database fills up while the labels are stored.
    fs.leave_free(128 << 10);
    let r = env.run(&["make-labels"]);
    assert_disk_full(&r, &env);
    assert!(r.stderr.contains("database error"), "{}", r.stderr);
    assert_intact(&env);
    one_parcel_per_order();
    let first = labelled();

    // 2. With room again the labels are made, but printing fails: they stay unprinted.
    fs.resize(64 << 20);
    let r = env.run(&["make-labels", "--print-command", "cat >/dev/null; exit 7"]);
    assert!(
        r.stderr.contains("the print command failed"),
        "{}",
        r.stderr
    );
    let made = labelled();
    assert!(made > first, "{first} -> {made}");
    let unprinted = || {
        env.count(
            "SELECT count(*) FROM parcels WHERE labelled_at IS NOT NULL AND printed_at IS NULL",
        )
    };
    assert_eq!(unprinted(), made);

    // 3. The filesystem fills up while the print file is written.
    fs.leave_free(48 << 10);
    let r = env.run(&["make-labels"]);
    assert_disk_full(&r, &env);
    let labels_dir = env.data().join("labels");
    assert!(
        r.stderr
            .contains(&format!("cannot write {}", labels_dir.display())),
        "{}",
        r.stderr
    );
    assert_intact(&env);
    assert_eq!(unprinted(), made, "nothing was marked printed");
    let pdfs = |dir: &Path| {
        crate::common::print_files_under(dir)
            .into_iter()
            .filter(|p| p.extension() == Some(OsStr::new("pdf")))
            .count() as u64
    };
    assert_eq!(pdfs(&labels_dir), 0);
    assert_eq!(
        files_under(&labels_dir),
        Vec::<PathBuf>::new(),
        "a temporary file was left"
    );

    fs.resize(64 << 20);
    let r = env.run(&["make-labels"]);
    assert!(r.code == 0 || r.code == 3, "{}", r.stderr);
    assert_intact(&env);
    one_parcel_per_order();
    assert_eq!(unprinted(), 0);
    assert_eq!(pdfs(&labels_dir), 1, "one print file");

    // 4. Invoices: PDFs under invoices/ and rows in the gapless series.
    fs.leave_free(8 << 10);
    let r = env.run(&["make-invoices", "--no-upload"]);
    assert_disk_full(&r, &env);
    assert_intact(&env);
    fs.resize(64 << 20);
    let r = env.run(&["make-invoices", "--no-upload"]);
    assert!(r.code == 0 || r.code == 3, "{}", r.stderr);
    assert_intact(&env);
    let issued = env.count("SELECT count(*) FROM invoices");
    assert!(issued > 0);
    assert_eq!(
        issued,
        env.count("SELECT count(DISTINCT number) FROM invoices")
    );
    assert_eq!(
        pdfs(&env.data().join("invoices")),
        issued,
        "one PDF per invoice"
    );
    for f in files_under(&env.data()) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.starts_with(".fulfil-tmp-"),
            "left behind: {}",
            f.display()
        );
    }
}

/// Hands the whole test directory to `nobody` and takes away every write bit.
fn make_read_only_for_nobody(env: &TestEnv) {
    sh(
        "chown",
        &["-R", "65534:65534", env.dir.path().to_str().unwrap()],
    );
    for f in files_under(&env.data()) {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o400)).unwrap();
    }
    let mut dirs = vec![env.data()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                dirs.push(e.path());
            }
        }
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o500)).unwrap();
    }
}

/// Runs fulfil as `nobody` with the environment `env.command` would give it.
fn run_as_nobody(env: &TestEnv, args: &[&str]) -> Run {
    let inner = env.command(args);
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(inner.get_program())
        .args(inner.get_args())
        .env_clear();
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.output().expect("setpriv (util-linux)").into()
}

/// Every file under the data directory with its bytes.
fn snapshot(env: &TestEnv) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = files_under(&env.data())
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_read_only_database_is_refused_with_a_clear_error_and_left_unchanged() {
    let env = TestEnv::sandboxed(5);
    env.run(&["sync-orders"]).assert_code(0);
    make_read_only_for_nobody(&env);
    let before = snapshot(&env);
    assert!(before.iter().any(|(p, _)| p == &env.db()));

    // Control: nobody can read the config and the key, so what stops the writing
    // commands is the write access alone.
    for args in [
        &["sync-orders"][..],
        &["make-labels"][..],
        &["make-invoices", "--no-upload"][..],
        &["purge"][..],
    ] {
        let r = run_as_nobody(&env, args);
        r.assert_code(2);
        let line = r.one_error();
        assert!(
            line.contains("is read-only for this user"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            line.contains(&env.data().display().to_string()),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("hint: run fulfil as the user that owns"),
            "{}",
            r.stderr
        );
        assert_eq!(
            snapshot(&env),
            before,
            "{args:?} changed the data directory"
        );
    }

    // status, which only reads, is refused the same way, by decision: reading a WAL
    // database safely needs its shared-memory file beside it (SQLITE_READONLY_DIRECTORY
    // without it), and opening it `immutable` instead could show a half-written state
    // while the owner's cron run writes. So it fails with the same clear error.
    let r = run_as_nobody(&env, &["status"]);
    r.assert_code(2);
    assert!(
        r.one_error().contains("is read-only for this user"),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(&env), before, "status changed the data directory");

    // Control: given back its write access, the same user gets through.
    sh("chmod", &["-R", "u+w", env.data().to_str().unwrap()]);
    run_as_nobody(&env, &["sync-orders"]).assert_code(0);
    run_as_nobody(&env, &["status"]).assert_code(0);
}

#[test]
fn a_database_on_a_read_only_mount_is_refused_even_for_root() {
    let (env, fs) = on_tmpfs(5);
    env.run(&["sync-orders"]).assert_code(0);
    let before = snapshot(&env);
    let p = fs.path.to_str().unwrap();
    sh("mount", &["-o", "remount,ro", p]);
    let r = env.run(&["sync-orders"]);
    r.assert_code(2);
    let line = r.one_error();
    assert!(line.contains("is read-only for this user"), "{}", r.stderr);
    assert!(r.stderr.contains("not mounted read-only"), "{}", r.stderr);
    assert_eq!(snapshot(&env), before);
    sh("mount", &["-o", "remount,rw", p]);
    env.run(&["sync-orders"]).assert_code(0);
    assert_intact(&env);
}
