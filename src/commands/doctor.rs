//! `fulfil doctor`: checks the setup and says what to fix (issue #9, part 1).
//!
//! Every check runs, also when an earlier one failed; a check that needs something
//! an earlier one could not provide (a config that does not parse, a key that does
//! not resolve, a database that does not open) is reported as `skip` with the reason.
//! Each check ends as `ok`, `warn` or `fail`, with a hint for the last two.
//!
//! doctor never writes: the config is parsed, secrets are resolved in memory and
//! dropped, the database is opened read-only without the writer lock, and neither the
//! automatic purge nor a key-rotation recovery runs. Its details are counts, paths,
//! modes, dates and config key names, never a secret or personal data.
//!
//! Exit status: 0 when nothing failed (warnings alone included), 1 on any failure.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use serde_json::json;

use crate::commands::Outcome;
use crate::config::{Config, SecretSpec};
use crate::ctx::Ctx;
use crate::error::Exit;
use crate::secrets::{self, SecretAge};
use crate::store::{self, DbKey, Mode, Store, StoreError};
use crate::trust::{self, Kind, Need};

/// Check the setup: config, secrets, file ownership and modes, the database and its
/// integrity, endpoints, the LWA secret's age, overdue personal data, disk space
///
/// One line per check: `ok`, `warn` or `fail` (with a `hint:` line), or `skip` when
/// an earlier check failed. Reads only: the database is opened read-only and nothing
/// is purged. Exits 0 when no check failed (warnings alone included), 1 otherwise.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also connect to each endpoint and report the TLS version (offline by default)
    #[arg(long)]
    pub online: bool,
}

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    /// Not run, because something it needs failed earlier.
    Skip,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub hint: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Ok,
            detail: detail.into(),
            hint: None,
        }
    }
    fn warn(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Warn,
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }
    fn fail(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Fail,
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }
    fn skip(name: &'static str, reason: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Skip,
            detail: reason.into(),
            hint: None,
        }
    }
}

pub fn run(ctx: &Ctx, args: &DoctorArgs) -> anyhow::Result<Outcome> {
    let checks = run_checks(ctx, args.online);
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    let exit = if count(Status::Fail) > 0 {
        Exit::Failed
    } else {
        Exit::Ok
    };
    if !ctx.global.json {
        let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &checks {
            // With -q (cron), only what needs attention.
            if ctx.global.quiet && c.status == Status::Ok {
                continue;
            }
            ctx.ui.out(&format!(
                "{:<5}{:<width$}  {}",
                c.status.word(),
                c.name,
                c.detail
            ));
            if let Some(h) = &c.hint {
                ctx.ui.out(&format!("  hint: {h}"));
            }
        }
    }
    Ok(Outcome {
        exit,
        summary: json!({
            "checks": checks,
            "summary": {
                "ok": count(Status::Ok),
                "warn": count(Status::Warn),
                "fail": count(Status::Fail),
                "skip": count(Status::Skip),
                "exit": exit.code(),
            },
        }),
    })
}

/// Runs every check in order.
pub fn run_checks(ctx: &Ctx, online: bool) -> Vec<Check> {
    let mut out = Vec::new();
    let cfg = match Config::load_without_endpoint_check(ctx.config_path()) {
        Ok(cfg) => {
            out.push(check_config_file(&cfg));
            Some(cfg)
        }
        Err(e) => {
            let hint = e
                .hint
                .clone()
                .unwrap_or_else(|| "fix the file or the FULFIL_* variable it names".into());
            out.push(Check::fail("config", e.to_string(), hint));
            None
        }
    };
    let no_config = "the config did not load";
    let me = rustix::process::geteuid().as_raw();

    let key = if let Some(cfg) = &cfg {
        let (check, key) = check_secrets(cfg, cfg.check_trusted().is_ok());
        out.push(check);
        key
    } else {
        out.push(Check::skip("secrets", no_config));
        None
    };
    out.push(check_not_root(me));
    if let Some(cfg) = &cfg {
        out.push(check_key_file(cfg, me));
        for (name, path, kind, lazy) in [
            ("data-dir", cfg.data_dir(), Kind::Dir, false),
            ("db-file", cfg.database_path(), Kind::File, false),
            ("labels-dir", cfg.labels_dir(), Kind::Dir, true),
            ("invoices-dir", cfg.invoices_dir(), Kind::Dir, true),
        ] {
            out.push(check_private(name, &path, kind, me, lazy));
        }
        out.push(check_cloud(cfg));
    } else {
        for name in [
            "key-file",
            "data-dir",
            "db-file",
            "labels-dir",
            "invoices-dir",
            "cloud-sync",
        ] {
            out.push(Check::skip(name, no_config));
        }
    }
    out.push(check_sqlcipher());
    let store = match (&cfg, &key) {
        (Some(cfg), Some(key)) => {
            let (check, store) = check_database(cfg, key, me);
            out.push(check);
            store
        }
        (None, _) => {
            out.push(Check::skip("database", no_config));
            None
        }
        (Some(_), None) => {
            out.push(Check::skip("database", "the database key did not resolve"));
            None
        }
    };
    out.push(match &store {
        Some(s) => check_integrity(s),
        None => Check::skip("integrity", "the database did not open"),
    });
    if let Some(cfg) = &cfg {
        out.push(check_endpoints(cfg, online));
        if online {
            out.push(check_clock(cfg, &ctx.clock));
        }
        out.push(check_secret_age(cfg, ctx.clock.now().date()));
    } else {
        out.push(Check::skip("endpoints", no_config));
        out.push(Check::skip("secret-age", no_config));
    }
    out.push(match (&cfg, &store) {
        (Some(cfg), Some(s)) => check_vat_rates(cfg, s, ctx.clock.now().date()),
        (None, _) => Check::skip("vat-rates", no_config),
        (_, None) => Check::skip("vat-rates", "the database did not open"),
    });
    out.push(match &store {
        Some(s) => check_overdue(s, ctx.clock.now()),
        None => Check::skip("overdue-pii", "the database did not open"),
    });
    out.push(match &cfg {
        Some(cfg) => check_disk_space(cfg),
        None => Check::skip("disk-space", no_config),
    });
    // The database opened, as its owner: this run goes into the audit log like every
    // other (the one write doctor makes, and only when it is safe to make it).
    if store.is_some()
        && let Some(key) = key
    {
        drop(store);
        ctx.audit_read_only_run(key);
    }
    out
}

/// The config parsed; if it holds a secret itself, it must be as private as a key file.
fn check_config_file(cfg: &Config) -> Check {
    const NAME: &str = "config";
    let path = &cfg.path;
    let inline = inline_secrets(path);
    let me = trust::me();
    if inline.is_empty() {
        // Nobody else may change it: it names the commands fulfil runs (issue #15).
        let c = check_path(NAME, path, Kind::File, Need::Unwritable, me, false);
        if c.status == Status::Ok {
            return Check::ok(NAME, format!("{} parses", path.display()));
        }
        return c;
    }
    let c = check_private(NAME, path, Kind::File, me, false);
    if c.status == Status::Ok {
        return Check::ok(
            NAME,
            format!(
                "{} parses; it holds {} itself and is private",
                path.display(),
                inline.join(", ")
            ),
        );
    }
    Check {
        detail: format!("{} (it holds {})", c.detail, inline.join(", ")),
        ..c
    }
}

/// The secrets written into the config file itself (not the `_file` or `_command`
/// forms, and not those from the environment).
fn inline_secrets(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(table) = toml::from_str::<toml::Table>(&text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (section, keys) in [
        (
            "amazon",
            &["client_id", "client_secret", "refresh_token"][..],
        ),
        ("postnl", &["api_key"][..]),
        ("store", &["key"][..]),
    ] {
        for key in keys {
            if table.get(section).and_then(|t| t.get(*key)).is_some() {
                out.push(format!("{section}.{key}"));
            }
        }
    }
    out
}

/// Resolves every secret (values are dropped at once) and returns the database key.
/// The `*_command` secrets of a config that others can change are not run (`trusted`
/// false): they fail here, and the `config` or `data-dir` line says why.
fn check_secrets(cfg: &Config, trusted: bool) -> (Check, Option<DbKey>) {
    const NAME: &str = "secrets";
    let a = &cfg.amazon;
    let specs: [SecretSpec; 4] = [
        a.client_id(),
        a.client_secret(),
        a.refresh_token(),
        cfg.postnl.api_key(),
    ];
    let mut failed = Vec::new();
    let mut unset = Vec::new();
    let mut hints = Vec::new();
    let mut resolved = 0;
    for spec in &specs {
        if spec.value.is_none() && spec.file.is_none() && spec.command.is_none() {
            unset.push(spec.name);
            continue;
        }
        if !trusted && spec.command.is_some() {
            failed.push(format!("{}_command: {UNTRUSTED}", spec.name));
            continue;
        }
        match cfg.resolve_secret(spec) {
            Ok(_) => resolved += 1,
            Err(e) => {
                failed.push(without_source(&e));
                hints.extend(e.hint.clone());
            }
        }
    }
    let db_key = cfg.db_key();
    let key = if !trusted && db_key.command.is_some() {
        failed.push(format!("store.key_command: {UNTRUSTED}"));
        None
    } else {
        match cfg.resolve_secret(&db_key) {
            Ok(text) => match DbKey::parse(&text) {
                Ok(k) => {
                    resolved += 1;
                    Some(k)
                }
                Err(e) => {
                    failed.push(format!("store.key: {e}"));
                    hints.push(
                        "the key file holds the 64 hex characters written by `fulfil init`".into(),
                    );
                    None
                }
            },
            Err(e) => {
                failed.push(without_source(&e));
                hints.extend(e.hint.clone());
                None
            }
        }
    };
    let check = if !failed.is_empty() {
        if hints.is_empty() {
            hints.push("fix the secret's file or command; doctor never shows its value".into());
        }
        Check::fail(NAME, failed.join("; "), hints.join("; "))
    } else if !unset.is_empty() {
        Check::warn(
            NAME,
            format!(
                "{resolved} resolved; not set: {} (the commands that need them stop)",
                unset.join(", ")
            ),
            "set each as `name`, `name_file` or `name_command` in the config",
        )
    } else {
        Check::ok(NAME, format!("all {resolved} resolved (values not shown)"))
    };
    (check, key)
}

/// Why doctor did not run a secret command.
const UNTRUSTED: &str = "not run: other users can change the config or the data directory";

/// A secret error without the config path in front (the config line already names it).
fn without_source(e: &crate::config::ConfigError) -> String {
    match &e.key {
        Some(k) => format!("{k}: {}", e.message),
        None => e.message.clone(),
    }
}

fn check_not_root(uid: u32) -> Check {
    const NAME: &str = "not-root";
    if uid == 0 {
        Check::fail(
            NAME,
            "running as root",
            "run fulfil (and its cron jobs) as the unprivileged user that owns the data directory",
        )
    } else {
        Check::ok(NAME, format!("running as uid {uid}"))
    }
}

/// The key file must be the user's and 0600; a key kept in the config makes the
/// config file the thing to protect.
fn check_key_file(cfg: &Config, me: u32) -> Check {
    let spec = cfg.db_key();
    if let Some(file) = &spec.file {
        return check_private("key-file", file, Kind::File, me, false);
    }
    if spec.value.is_some() {
        let mut c = check_private("key-file", &cfg.path, Kind::File, me, false);
        if c.status == Status::Ok {
            c.detail = format!(
                "store.key is in the config; {} is private",
                cfg.path.display()
            );
        }
        return c;
    }
    Check::ok(
        "key-file",
        "no key file: store.key comes from store.key_command",
    )
}

/// Owned by this user and closed to everyone else (0600 for files, 0700 for directories).
fn check_private(name: &'static str, path: &Path, kind: Kind, me: u32, lazy: bool) -> Check {
    check_path(name, path, kind, Need::Private, me, lazy)
}

/// A path judged against a need by [`crate::trust`], the judgement the commands
/// refuse by, so that doctor and the commands say the same.
fn check_path(
    name: &'static str,
    path: &Path,
    kind: Kind,
    need: Need,
    me: u32,
    lazy: bool,
) -> Check {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && lazy => {
            return Check::ok(
                name,
                format!(
                    "{} does not exist yet (fulfil makes it with mode 0700)",
                    path.display()
                ),
            );
        }
        Err(e) => {
            return Check::fail(
                name,
                format!("{}: {e}", path.display()),
                "run `fulfil init`, or correct the path in the config",
            );
        }
    };
    match trust::inspect(&meta, kind, need, me) {
        Some(problem) => Check::fail(name, problem.detail(path), problem.hint(path)),
        None if meta.uid() == me => Check::ok(
            name,
            format!("{} {:04o}, yours", path.display(), meta.mode() & 0o777),
        ),
        None => Check::ok(
            name,
            format!(
                "{} {:04o}, root's, and only root can change it",
                path.display(),
                meta.mode() & 0o777
            ),
        ),
    }
}

/// Folder names (lower case) of sync clients: the name itself, or a prefix that the
/// client adds a account or company name to.
const CLOUD_EXACT: &[(&str, &str)] = &[
    ("dropbox", "Dropbox"),
    ("onedrive", "OneDrive"),
    ("google drive", "Google Drive"),
    ("googledrive", "Google Drive"),
    ("my drive", "Google Drive"),
    ("icloud drive", "iCloud Drive"),
    ("icloud", "iCloud Drive"),
    ("mobile documents", "iCloud Drive"),
    ("com~apple~clouddocs", "iCloud Drive"),
    ("cloudstorage", "a macOS cloud provider"),
    ("pcloud", "pCloud"),
    ("pcloud drive", "pCloud"),
    ("pclouddrive", "pCloud"),
    ("mega", "MEGA"),
    ("megasync", "MEGA"),
    ("nextcloud", "Nextcloud"),
    ("owncloud", "ownCloud"),
    ("syncthing", "Syncthing"),
];
const CLOUD_PREFIX: &[(&str, &str)] = &[
    ("dropbox (", "Dropbox"),
    ("dropbox-", "Dropbox"),
    ("onedrive - ", "OneDrive"),
    ("onedrive-", "OneDrive"),
    ("googledrive-", "Google Drive"),
    ("google drive (", "Google Drive"),
    ("nextcloud-", "Nextcloud"),
];
/// Marker files that sync clients leave in the root of a synced folder.
const CLOUD_MARKERS: &[(&str, &str)] = &[(".stfolder", "Syncthing"), (".dropbox", "Dropbox")];

/// The sync client whose folder `path` (already canonical) lies in, if any.
pub fn cloud_folder(path: &Path) -> Option<&'static str> {
    for comp in path.components() {
        let std::path::Component::Normal(c) = comp else {
            continue;
        };
        let c = c.to_string_lossy().to_lowercase();
        if let Some((_, who)) = CLOUD_EXACT.iter().find(|(n, _)| c == *n) {
            return Some(who);
        }
        if let Some((_, who)) = CLOUD_PREFIX.iter().find(|(p, _)| c.starts_with(p)) {
            return Some(who);
        }
    }
    path.ancestors().find_map(|dir| {
        CLOUD_MARKERS
            .iter()
            .find(|(m, _)| dir.join(m).exists())
            .map(|(_, who)| *who)
    })
}

fn check_cloud(cfg: &Config) -> Check {
    const NAME: &str = "cloud-sync";
    let mut paths: Vec<PathBuf> = vec![
        cfg.data_dir(),
        cfg.database_path(),
        cfg.labels_dir(),
        cfg.invoices_dir(),
    ];
    paths.extend(cfg.db_key().file);
    let mut hits = Vec::new();
    let mut looked = 0;
    for p in &paths {
        // Canonical, so that a symlink into a synced folder counts; a path that does
        // not exist yet is judged by its nearest existing parent.
        let Some(real) = p.ancestors().find_map(|a| a.canonicalize().ok()) else {
            continue;
        };
        looked += 1;
        if let Some(who) = cloud_folder(&real) {
            hits.push(format!("{} ({who}: {})", p.display(), real.display()));
        }
    }
    if hits.is_empty() {
        Check::ok(
            NAME,
            format!("none of the {looked} data paths is in a cloud-synced folder"),
        )
    } else {
        Check::fail(
            NAME,
            format!("in a cloud-synced folder: {}", hits.join(", ")),
            "move the data directory and the key out of the synced folder and point the config at the new place: a synced copy of db.key and the database leaves this machine",
        )
    }
}

fn check_sqlcipher() -> Check {
    const NAME: &str = "sqlcipher";
    match store::linked_cipher_version() {
        Ok(Some(v)) => Check::ok(NAME, format!("SQLCipher {v} linked")),
        Ok(None) => Check::fail(
            NAME,
            "the SQLite linked is not SQLCipher: the database would not be encrypted",
            "build fulfil with rusqlite's bundled-sqlcipher feature (the default build)",
        ),
        Err(e) => Check::fail(
            NAME,
            format!("cannot ask SQLite for its version: {e}"),
            "rebuild fulfil",
        ),
    }
}

fn check_database(cfg: &Config, key: &DbKey, me: u32) -> (Check, Option<Store>) {
    const NAME: &str = "database";
    let path = cfg.database_path();
    // Even a read-only connection may leave a WAL index (`-shm`, `-wal`) beside the
    // database, owned by whoever opened it; one owned by root would lock the real
    // owner out. So doctor opens only a database that belongs to the user running it.
    if let Ok(meta) = std::fs::metadata(&path)
        && meta.uid() != me
    {
        return (
            Check::skip(
                NAME,
                format!(
                    "{} belongs to uid {}: not opened as uid {me}, so that no file of this user is left beside it; run doctor as its owner",
                    path.display(),
                    meta.uid()
                ),
            ),
            None,
        );
    }
    match Store::open(&path, key, Mode::Read) {
        Ok(s) => {
            let version = s
                .schema_version()
                .map_or_else(|_| "?".to_string(), |v| v.to_string());
            (
                Check::ok(
                    NAME,
                    format!(
                        "{} opens with the key (read-only), schema {version}",
                        path.display()
                    ),
                ),
                Some(s),
            )
        }
        Err(StoreError::KeyMismatch(p)) => (
            Check::fail(
                NAME,
                format!("the key does not open {}", p.display()),
                "check store.key_file: it must be the db.key made with this database (restore it from your backup); nothing was written",
            ),
            None,
        ),
        Err(e) => {
            let hint = crate::error::Classify::hints(&e)
                .into_iter()
                .next()
                .unwrap_or_else(|| "run `fulfil init`, or correct store.database".into());
            (Check::fail(NAME, e.to_string(), hint), None)
        }
    }
}

fn check_integrity(s: &Store) -> Check {
    const NAME: &str = "integrity";
    const HINT: &str = "restore the database from a backup (with its db.key) and run no writing command on this copy until then";
    let one_line = |v: &[String]| v.first().map(|m| m.replace('\n', " ")).unwrap_or_default();
    let mut problems = Vec::new();
    match s.cipher_integrity_problems() {
        Ok(v) if v.is_empty() => {}
        Ok(v) => problems.push(format!(
            "cipher_integrity_check: {} page(s) fail their HMAC (first: {})",
            v.len(),
            one_line(&v)
        )),
        Err(e) => problems.push(format!("cipher_integrity_check stopped: {e}")),
    }
    match s.integrity_problems(20) {
        Ok(v) if v.is_empty() => {}
        Ok(v) => problems.push(format!(
            "integrity_check: {} problem(s) (first: {})",
            v.len(),
            one_line(&v)
        )),
        Err(e) => problems.push(format!("integrity_check stopped: {e}")),
    }
    if problems.is_empty() {
        Check::ok(
            NAME,
            "integrity_check ok; cipher_integrity_check: every page's HMAC verifies",
        )
    } else {
        Check::fail(NAME, problems.join("; "), HINT)
    }
}

fn check_endpoints(cfg: &Config, online: bool) -> Check {
    const NAME: &str = "endpoints";
    let endpoints = cfg.endpoints();
    let mut bad = Vec::new();
    let mut seen = Vec::new();
    for (key, url) in &endpoints {
        match crate::transport::check_endpoint(url) {
            Err(e) => bad.push(format!("{key}: {e}")),
            Ok(()) if online => match crate::transport::probe(url, Duration::from_secs(10)) {
                Ok(crate::transport::Reached::Tls(v)) => seen.push(format!("{key} {v}")),
                Ok(crate::transport::Reached::PlainLoopback) => {
                    seen.push(format!("{key} http on loopback (sandbox)"));
                }
                Err(e) => bad.push(format!("{key}: {e}")),
            },
            Ok(()) => {
                let plain = url.starts_with("http:");
                seen.push(format!(
                    "{key} {}",
                    if plain {
                        "http on loopback (sandbox)"
                    } else {
                        "https"
                    }
                ));
            }
        }
    }
    if !bad.is_empty() {
        let hint = if online {
            "use https:// endpoints (http:// only for the sandbox on 127.0.0.1); check the network and that the server offers TLS 1.2 or 1.3 with a certificate from a public CA"
        } else {
            "use https:// endpoints; http:// is only for the sandbox on 127.0.0.1"
        };
        return Check::fail(NAME, bad.join("; "), hint);
    }
    let how = if online {
        "reached"
    } else {
        "not contacted; --online connects"
    };
    Check::ok(NAME, format!("{} ({how})", seen.join(", ")))
}

/// Beyond this difference from Amazon's or PostNL's clock, `doctor --online` warns: the
/// sync window's margin (three minutes against Amazon's two) starts to shrink, and
/// documents dated near midnight may take the wrong day.
const CLOCK_WARN: time::Duration = time::Duration::seconds(60);
/// Beyond this, it fails: documents, label time stamps and purge deadlines are off by
/// minutes, and a clock this far off is not drift but a setting to fix.
const CLOCK_FAIL: time::Duration = time::Duration::minutes(5);

/// `--online` only (issue #15): the local clock against the `Date` of Amazon's and
/// PostNL's answers to a request without credentials (a GET of the endpoint's root).
fn check_clock(cfg: &Config, clock: &crate::clock::Clock) -> Check {
    const NAME: &str = "clock";
    let http = match crate::transport::client(Duration::from_secs(10)) {
        Ok(h) => h,
        Err(e) => return Check::skip(NAME, format!("no HTTP client: {e}")),
    };
    let peers = [
        ("Amazon", cfg.amazon.sp_endpoint()),
        ("PostNL", cfg.postnl.base_url()),
    ];
    let mut parts = Vec::new();
    let mut silent = Vec::new();
    let mut worst = time::Duration::ZERO;
    for (who, url) in peers {
        let date = crate::transport::check_endpoint(&url)
            .ok()
            .and_then(|()| http.get(&url).send().ok())
            .and_then(|r| {
                r.headers()
                    .get(reqwest::header::DATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(crate::clock::parse_http_date)
            });
        let Some(theirs) = date else {
            silent.push(who);
            continue;
        };
        let ahead = clock.now() - theirs;
        worst = worst.max(ahead.abs());
        parts.push(clock_difference(who, ahead));
    }
    if parts.is_empty() {
        return Check::skip(
            NAME,
            "neither Amazon nor PostNL answered with a Date header (see endpoints)",
        );
    }
    let mut detail = format!("this computer's clock is {}", parts.join(", "));
    if !silent.is_empty() {
        detail = format!("{detail}; no Date from {}", silent.join(" or "));
    }
    let hint = "set the clock right, e.g. turn on NTP (`timedatectl set-ntp true`): invoices are dated, labels stamped and personal data purged by this clock";
    if worst > CLOCK_FAIL {
        Check::fail(NAME, detail, hint)
    } else if worst > CLOCK_WARN {
        Check::warn(NAME, detail, hint)
    } else {
        Check::ok(NAME, detail)
    }
}

/// `ahead of Amazon's by 3 min (181 s)`, `behind PostNL's by 4 s`, `in step with Amazon's`.
fn clock_difference(who: &str, ahead: time::Duration) -> String {
    let secs = ahead.whole_seconds();
    let size = secs.unsigned_abs();
    let by = if size >= 60 {
        format!("{} min ({size} s)", (size + 30) / 60)
    } else {
        format!("{size} s")
    };
    match secs {
        // A Date has whole seconds and is written before the answer travels.
        -1..=1 => format!("in step with {who}'s"),
        s if s > 0 => format!("ahead of {who}'s by {by}"),
        _ => format!("behind {who}'s by {by}"),
    }
}

fn check_secret_age(cfg: &Config, today: time::Date) -> Check {
    const NAME: &str = "secret-age";
    let rotated = cfg.amazon.client_secret_rotated_on();
    let age = SecretAge::of(rotated, today);
    let on = rotated.map(|d| d.to_string()).unwrap_or_default();
    let rotate = "rotate the LWA client secret in Seller Central, update the config and set amazon.client_secret_rotated to today's date";
    match age {
        SecretAge::NotRecorded => Check::warn(
            NAME,
            "the LWA client secret's rotation date is not recorded",
            "set amazon.client_secret_rotated = YYYY-MM-DD (the day of the last rotation): Amazon expires the secret after 180 days",
        ),
        SecretAge::Fresh { age } => Check::ok(
            NAME,
            format!(
                "LWA client secret rotated {on} ({age} days ago, expires in {} days)",
                secrets::LWA_SECRET_LIFETIME_DAYS - age
            ),
        ),
        SecretAge::Expiring { age, days_left } => Check::warn(
            NAME,
            format!("LWA client secret rotated {on} ({age} days ago): expires in {days_left} days"),
            rotate,
        ),
        SecretAge::Expired { age } => Check::fail(
            NAME,
            format!(
                "LWA client secret rotated {on} ({age} days ago): past Amazon's {}-day limit",
                secrets::LWA_SECRET_LIFETIME_DAYS
            ),
            rotate,
        ),
    }
}

/// How long the VAT rates in use (built-in table or the last TEDB update) are verified:
/// a warning from 60 days before that date, a failure from the date itself.
fn check_vat_rates(cfg: &Config, s: &Store, today: time::Date) -> Check {
    use crate::invoice::rates::Horizon;
    const NAME: &str = "vat-rates";
    let table = match cfg.invoices.rate_table() {
        Ok(t) => t,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("invoices.extra_rates: {e}"),
                "fix invoices.extra_rates in the config",
            );
        }
    };
    let table = match store::tedb::layer(s.conn()) {
        Ok(tedb) => table.with_tedb(tedb),
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot read the stored TEDB rates: {e}"),
                "see the integrity check",
            );
        }
    };
    let until = table.verified_until();
    let update = "run `fulfil rates update` (it asks the European Commission's TEDB for the coming months' rates), or update fulfil";
    match Horizon::of(until, today) {
        Horizon::Far { days_left } => Check::ok(
            NAME,
            format!("VAT rates verified up to {until} ({days_left} days)"),
        ),
        Horizon::Near { days_left } => Check::warn(
            NAME,
            format!("VAT rates are verified only up to {until} ({days_left} days)"),
            update,
        ),
        Horizon::Reached { .. } => Check::fail(
            NAME,
            format!("VAT rates are verified only up to {until}: invoices after it wait for a rate"),
            update,
        ),
    }
}

/// The same counts `fulfil status` shows: orders past their removal date that still
/// hold personal data, and old unfulfilled orders whose retention clock never started.
fn check_overdue(s: &Store, now: time::OffsetDateTime) -> Check {
    const NAME: &str = "overdue-pii";
    let at = crate::clock::rfc3339(now);
    let overdue = match store::purge::overdue_count(s.conn(), &at) {
        Ok(n) => n,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot count: {e}"),
                "see the integrity check",
            );
        }
    };
    if overdue > 0 {
        return Check::fail(
            NAME,
            format!("{overdue} order(s) past their removal date still hold personal data"),
            "run `fulfil purge`, and check that its cron job runs daily",
        );
    }
    // Files purge found changed, linked, foreign or unreadable: named until they go
    // (issue #20).
    match crate::retention::files_left_alone(s) {
        Ok(files) if !files.is_empty() => {
            let names: Vec<String> = files
                .iter()
                .map(|f| crate::retention::left_alone_line(&f.path, &f.reason))
                .collect();
            return Check::fail(
                NAME,
                format!(
                    "{} file(s) with personal data were left alone by purge: {}",
                    files.len(),
                    names.join("; ")
                ),
                crate::retention::FORGET_HINT,
            );
        }
        Ok(_) => {}
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot read the file records: {e}"),
                "see the integrity check",
            );
        }
    }
    let before = crate::clock::rfc3339(now - time::Duration::days(60));
    match store::purge::stale_unfulfilled(s.conn(), &before) {
        Ok(0) => Check::ok(NAME, "no order is past its removal date"),
        Ok(n) => Check::warn(
            NAME,
            format!(
                "none overdue, but {n} order(s) older than 60 days are neither shipped nor cancelled and keep personal data"
            ),
            "ship or cancel them, or remove their data with `fulfil forget-order ORDER`",
        ),
        Err(e) => Check::fail(
            NAME,
            format!("cannot count: {e}"),
            "see the integrity check",
        ),
    }
}

fn check_disk_space(cfg: &Config) -> Check {
    const NAME: &str = "disk-space";
    let db = cfg.database_path();
    let size: u64 = [db.clone(), store::wal_path(&db)]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let dir = cfg.data_dir();
    let free = match rustix::fs::statvfs(&dir) {
        Ok(st) => st.f_bavail.saturating_mul(st.f_frsize),
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot read the free space of {}: {e}", dir.display()),
                "check that the data directory exists",
            );
        }
    };
    let needed = size.saturating_mul(2);
    let detail = format!(
        "{} free; a VACUUM of the {} database needs about {}",
        human(free),
        human(size),
        human(needed)
    );
    if free < needed {
        Check::warn(
            NAME,
            detail,
            format!(
                "free space on the filesystem of {}: purge rebuilds the database (VACUUM) and needs about twice its size",
                dir.display()
            ),
        )
    } else {
        Check::ok(NAME, detail)
    }
}

/// Bytes in the largest binary unit that keeps the number at or above 1.
#[allow(clippy::cast_precision_loss)] // one decimal is all that is shown
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_differences_read_as_words() {
        let d = time::Duration::seconds;
        assert_eq!(clock_difference("Amazon", d(1)), "in step with Amazon's");
        assert_eq!(clock_difference("Amazon", d(-1)), "in step with Amazon's");
        assert_eq!(
            clock_difference("PostNL", d(42)),
            "ahead of PostNL's by 42 s"
        );
        assert_eq!(
            clock_difference("Amazon", d(179)),
            "ahead of Amazon's by 3 min (179 s)"
        );
        assert_eq!(
            clock_difference("Amazon", d(-601)),
            "behind Amazon's by 10 min (601 s)"
        );
    }

    #[test]
    fn cloud_folders_by_name_case_insensitive() {
        for p in [
            "/home/a/Dropbox/fulfil",
            "/home/a/Dropbox (Personal)/fulfil",
            "/home/a/OneDrive - Voorbeeld B.V./fulfil",
            "/home/a/onedrive/x",
            "/Users/a/Library/CloudStorage/GoogleDrive-a@example.com/My Drive/fulfil",
            "/home/a/Google Drive/fulfil",
            "/Users/a/Library/Mobile Documents/com~apple~CloudDocs/fulfil",
            "/home/a/NEXTCLOUD/fulfil",
            "/home/a/MEGA/fulfil",
            "/home/a/pCloud Drive/fulfil",
        ] {
            assert!(cloud_folder(Path::new(p)).is_some(), "{p}");
        }
        for p in [
            "/var/lib/fulfil",
            "/home/megan/fulfil",
            "/home/a/dropboxes-old/x",
            "/srv/drive/fulfil",
        ] {
            assert_eq!(cloud_folder(Path::new(p)), None, "{p}");
        }
        assert_eq!(
            cloud_folder(Path::new("/x/OneDrive - Company/y")),
            Some("OneDrive")
        );
    }

    #[test]
    fn cloud_folder_by_marker_file() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("shared/fulfil");
        std::fs::create_dir_all(&inner).unwrap();
        assert_eq!(cloud_folder(&inner), None);
        std::fs::write(dir.path().join("shared/.stfolder"), b"").unwrap();
        assert_eq!(cloud_folder(&inner), Some("Syncthing"));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
