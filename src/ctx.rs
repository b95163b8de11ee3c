//! The context every command receives: the config, the clock, the terminal, and the
//! store and HTTP client, each opened lazily and at most once. `--help` never opens
//! the database and commands that need no network never build a client.

use std::cell::{Cell, OnceCell, RefCell, RefMut};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use crate::clock::{Clock, rfc3339};
use crate::config::Config;
use crate::invoice::rates::RateTable;
use crate::store::{self, DbKey, Mode, Store};
use crate::ui::Ui;
use crate::{secrets, spapi};

/// The global settings of a run (from the command line, or set by the demo).
#[derive(Debug, Clone, Default)]
pub struct Global {
    /// The config file; `None` for the default path.
    pub config: Option<PathBuf>,
    /// Log verbosity (0 to 3).
    pub verbose: u8,
    /// Errors only on stderr.
    pub quiet: bool,
    /// A one-line JSON summary on stdout.
    pub json: bool,
}

/// What [`Ctx::begin_writing`] does about personal data past its removal date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overdue {
    /// Remove it first (every writing command but the three below).
    RemoveFirst,
    /// The command removes personal data itself (`purge`, `forget-order`, `rotate-key`).
    LeftToCommand,
}

pub struct Ctx {
    pub global: Global,
    pub clock: Clock,
    pub ui: Ui,
    config_path: PathBuf,
    config: OnceCell<Config>,
    store: OnceCell<RefCell<Store>>,
    http: OnceCell<reqwest::blocking::Client>,
    run: RefCell<Option<(i64, String)>>,
    /// The command's name for the run history and the audit log.
    command: RefCell<String>,
    /// How the store was opened, if it was.
    opened: Cell<Option<Mode>>,
    /// The key a read-only store was opened with, to append its audit entry.
    read_key: RefCell<Option<DbKey>>,
    /// Whether the command took its first writing step ([`Ctx::begin_writing`]).
    began_writing: Cell<bool>,
}

impl Ctx {
    pub fn new(global: &Global) -> anyhow::Result<Ctx> {
        Ok(Ctx {
            config_path: global
                .config
                .clone()
                .unwrap_or_else(crate::config::default_path),
            ui: Ui::new(global.json, global.quiet),
            clock: Clock::from_env()?,
            global: global.clone(),
            config: OnceCell::new(),
            store: OnceCell::new(),
            http: OnceCell::new(),
            run: RefCell::new(None),
            command: RefCell::new(String::new()),
            opened: Cell::new(None),
            read_key: RefCell::new(None),
            began_writing: Cell::new(false),
        })
    }

    /// A context with an explicit clock, for in-process callers such as the demo.
    pub fn with_clock(global: &Global, clock: Clock) -> Ctx {
        Ctx {
            config_path: global
                .config
                .clone()
                .unwrap_or_else(crate::config::default_path),
            ui: Ui::new(global.json, global.quiet),
            clock,
            global: global.clone(),
            config: OnceCell::new(),
            store: OnceCell::new(),
            http: OnceCell::new(),
            run: RefCell::new(None),
            command: RefCell::new(String::new()),
            opened: Cell::new(None),
            read_key: RefCell::new(None),
            began_writing: Cell::new(false),
        }
    }

    /// Names the command being run, for the run history and the audit log.
    pub fn set_command(&self, name: &str) {
        *self.command.borrow_mut() = name.to_string();
    }

    pub fn config_path(&self) -> &PathBuf {
        &self.config_path
    }

    /// The configuration, loaded on first use.
    pub fn config(&self) -> anyhow::Result<&Config> {
        if let Some(c) = self.config.get() {
            return Ok(c);
        }
        let c = Config::load(&self.config_path)?;
        // A config or data directory others can change is not used at all: its
        // `*_command` secrets would run as this user (issue #15).
        c.check_trusted()?;
        Ok(self.config.get_or_init(|| c))
    }

    /// The database key, checked for ownership and mode when it comes from a file.
    pub fn db_key(&self) -> anyhow::Result<DbKey> {
        let cfg = self.config()?;
        let spec = cfg.db_key();
        if let Some(file) = &spec.file
            && file.exists()
        {
            store::check_key_file(file)?;
        }
        let secret = cfg.resolve_secret(&spec)?;
        Ok(DbKey::parse(&secret)?)
    }

    /// The store, opened for writing (with the lock) on first use.
    pub fn store(&self, command: &str) -> anyhow::Result<RefMut<'_, Store>> {
        self.store_in(Mode::Write, command)
    }

    /// For a command that opened the database read-only by itself (doctor): its run
    /// gets an audit entry under this key when it ends, like any other read-only run.
    pub fn audit_read_only_run(&self, key: store::DbKey) {
        if self.opened.get().is_none() {
            self.opened.set(Some(Mode::Read));
            *self.read_key.borrow_mut() = Some(key);
        }
    }

    /// Whether this run has opened the store (in any mode).
    pub fn store_is_open(&self) -> bool {
        self.store.get().is_some()
    }

    /// The store opened read-only, without the writer lock.
    pub fn store_read(&self) -> anyhow::Result<RefMut<'_, Store>> {
        self.store_in(Mode::Read, "")
    }

    fn store_in(&self, mode: Mode, command: &str) -> anyhow::Result<RefMut<'_, Store>> {
        if self.store.get().is_none() {
            let cfg = self.config()?;
            let path = cfg.database_path();
            // The writer lock before the key: a `store.key_command` can wait, and a second
            // run must get exit 4 at once instead of waiting with the first (issue #15).
            let lock = match mode {
                Mode::Write => Some(store::WriterLock::take(&path)?),
                _ => None,
            };
            let key = self.db_key()?;
            let opened = match &lock {
                Some(lock) => Store::open_locked(&path, &key, lock),
                None => Store::open(&path, &key, mode),
            };
            let (s, key) = match opened {
                Err(store::StoreError::KeyMismatch(_)) => {
                    self.recover_rotation(&path, mode, lock.as_ref())?
                }
                other => (other?, key),
            };
            self.opened.set(Some(mode));
            if mode == Mode::Read {
                *self.read_key.borrow_mut() = Some(key);
            }
            if self.command.borrow().is_empty() {
                self.set_command(command);
            }
            if mode == Mode::Write {
                let id = store::state::run_started(s.conn(), command, &rfc3339(self.clock.now()))?;
                *self.run.borrow_mut() = Some((id, command.to_string()));
            }
            let _ = self.store.set(RefCell::new(s));
        }
        let cell = self.store.get().context("store not open")?;
        cell.try_borrow_mut().context("the store is already in use")
    }

    /// A rotate-key run that died after re-keying the database but before replacing
    /// `db.key` left the new key in `db.key.next`: open with it and finish the swap.
    fn recover_rotation(
        &self,
        path: &std::path::Path,
        mode: Mode,
        lock: Option<&store::WriterLock>,
    ) -> anyhow::Result<(Store, DbKey)> {
        let cfg = self.config()?;
        let spec = cfg.db_key();
        let Some(key_file) = spec
            .file
            .as_ref()
            .filter(|_| spec.value.is_none() && spec.command.is_none())
        else {
            return Err(store::StoreError::KeyMismatch(path.to_path_buf()).into());
        };
        let next = store::next_key_path(key_file);
        if !next.exists() {
            return Err(store::StoreError::KeyMismatch(path.to_path_buf()).into());
        }
        store::check_key_file(&next)?;
        let text = std::fs::read_to_string(&next)?;
        let key = DbKey::parse(&secrecy::SecretString::from(text))?;
        let s = match lock {
            Some(lock) => Store::open_locked(path, &key, lock)?,
            None => Store::open(path, &key, mode)?,
        };
        std::fs::rename(&next, key_file)?;
        tracing::warn!("finished an interrupted key rotation");
        Ok((s, key))
    }

    /// The shared HTTP client.
    pub fn http(&self) -> anyhow::Result<&reqwest::blocking::Client> {
        if let Some(c) = self.http.get() {
            return Ok(c);
        }
        let c = crate::transport::client(self.config()?.network.timeout())?;
        Ok(self.http.get_or_init(|| c))
    }

    /// The SP-API client, with credentials resolved and bucket state in the store.
    pub fn spapi(&self, command: &str) -> anyhow::Result<spapi::Client<'_>> {
        let cfg = self.config()?;
        let a = &cfg.amazon;
        crate::transport::check_endpoint(&a.sp_endpoint())?;
        crate::transport::check_endpoint(&a.lwa_url())?;
        // Open the store first: its writer lock comes before the secrets, whose commands
        // can wait (issue #15), and the bucket state is there.
        drop(self.store(command)?);
        let lwa = spapi::Lwa::new(spapi::LwaCredentials {
            url: a.lwa_url(),
            client_id: cfg.resolve_secret(&a.client_id())?,
            client_secret: cfg.resolve_secret(&a.client_secret())?,
            refresh_token: cfg.resolve_secret(&a.refresh_token())?,
        });
        let cell: &RefCell<Store> = self.store.get().context("store not open")?;
        Ok(spapi::Client::new(
            self.http()?,
            &a.sp_endpoint(),
            lwa,
            &self.clock,
            Some(cell as &dyn spapi::BucketStore),
            crate::transport::RetryPolicy {
                max_tries: a.max_tries,
                base: Duration::from_millis(a.retry_base_ms),
                cap: Duration::from_secs(120),
            },
        ))
    }

    /// The first step of every writing command: the writer lock and the store; then,
    /// unless the command removes personal data itself ([`Overdue::LeftToCommand`]), the
    /// personal data past its removal date goes and the audit log is pruned, before
    /// anything else happens, so that a missed cron day never stretches the retention
    /// promise; and in the last 14 days before the VAT rates' horizon, one warning line.
    pub fn begin_writing(&self, command: &str, overdue: Overdue) -> anyhow::Result<()> {
        if self.began_writing.replace(true) {
            return Ok(());
        }
        let mut s = self.store(command)?;
        if overdue == Overdue::RemoveFirst {
            let cfg = self.config()?;
            let report = crate::retention::purge_due(&mut s, cfg, self.clock.now(), false, false)?;
            if report.purged > 0 {
                tracing::info!(
                    orders = report.purged,
                    files = report.files_removed,
                    "overdue personal data removed"
                );
            }
            crate::retention::prune_audit(&mut s, cfg, self.clock.now())?;
        }
        self.warn_rates_horizon(&s)?;
        Ok(())
    }

    /// One line on stderr, also under `-q`, when the VAT rates in use are verified for 14
    /// days or less (see [`crate::invoice::rates::RUN_WARN_DAYS`]).
    fn warn_rates_horizon(&self, store: &Store) -> anyhow::Result<()> {
        let table = rates_in_use(self.config()?, store)?;
        let until = table.verified_until();
        let horizon = crate::invoice::rates::Horizon::of(until, self.clock.now().date());
        if let Some(line) = horizon.run_warning(until) {
            self.ui.alert(&line);
        }
        Ok(())
    }

    /// Warns from day 150 after the LWA client secret was rotated (it expires at 180).
    pub fn warn_secret_age(&self) -> anyhow::Result<()> {
        let cfg = self.config()?;
        let age = secrets::SecretAge::of(
            cfg.amazon.client_secret_rotated_on(),
            self.clock.now().date(),
        );
        if let Some(msg) = age.warning() {
            self.ui.warn(&msg);
        }
        Ok(())
    }

    /// Records how the run ended: in the run history if it opened the store for
    /// writing, and in the audit log if it opened the store at all. A read-only run
    /// appends through a second, short-lived connection (SQLite's write lock orders it
    /// against a writer running at the same time). An entry that cannot be written is a
    /// warning, not a failure of the run.
    pub fn finish(&self, outcome: &str, counts: &serde_json::Value) {
        let Some(mode) = self.opened.get() else {
            return;
        };
        debug_assert!(
            mode != Mode::Write || self.began_writing.get(),
            "a command opened the store for writing without Ctx::begin_writing"
        );
        let at = rfc3339(self.clock.now());
        let command = match self.command.borrow().as_str() {
            "" => "unknown".to_string(),
            c => c.to_string(),
        };
        let new = store::audit::NewEntry {
            at: &at,
            command: &command,
            outcome,
            summary: counts,
        };
        let appended = if mode == Mode::Read {
            self.append_read_only(&new)
        } else if let Some(cell) = self.store.get()
            && let Ok(mut s) = cell.try_borrow_mut()
        {
            // The audit entry first: a run killed before it is a run that did not
            // finish, in both places.
            let appended = s
                .append_audit(&new)
                .map(|_| ())
                .map_err(anyhow::Error::from);
            if let Some((id, _)) = self.run.borrow_mut().take()
                && let Err(e) = store::state::run_finished(s.conn(), id, &at, outcome, counts)
            {
                tracing::warn!(error = %e, "could not record the run");
            }
            appended
        } else {
            Err(anyhow::anyhow!("the store is busy"))
        };
        if let Err(e) = appended {
            self.ui.warn(&format!(
                "could not write the audit-log entry of this run: {e:#}"
            ));
        }
    }

    fn append_read_only(&self, new: &store::audit::NewEntry<'_>) -> anyhow::Result<()> {
        let key = self.read_key.borrow_mut().take().context("no key")?;
        let path = self.config()?.database_path();
        let mut s = Store::open(&path, &key, Mode::Append)?;
        if s.schema_version()? < 4 {
            // Not migrated yet: the next writing command creates the log.
            return Ok(());
        }
        s.append_audit(new)?;
        Ok(())
    }
}

impl spapi::BucketStore for RefCell<Store> {
    fn load(&self, operation: &str) -> Option<store::state::BucketRow> {
        let s = self.try_borrow().ok()?;
        store::state::load_bucket(s.conn(), operation)
            .ok()
            .flatten()
    }

    fn save(&self, operation: &str, row: &store::state::BucketRow) {
        if let Ok(s) = self.try_borrow()
            && let Err(e) = store::state::save_bucket(s.conn(), operation, row)
        {
            tracing::warn!(error = %e, "could not save the rate-limit state");
        }
    }
}

/// The VAT rate table fulfil uses: the configuration's rows, the last complete TEDB update
/// kept in the store, and the built-in table.
pub fn rates_in_use(cfg: &Config, store: &Store) -> anyhow::Result<RateTable> {
    let table = cfg
        .invoices
        .rate_table()
        .map_err(|e| anyhow::anyhow!("invoices.extra_rates: {e}"))?;
    Ok(table.with_tedb(store::tedb::layer(store.conn())?))
}
