//! The test environment: a temporary data directory, a pinned clock, a clean
//! environment, and helpers to run the real `fulfil` binary.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const NOW: &str = "2026-11-20T10:00:00Z";

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub now: String,
    pub extra_env: Vec<(String, String)>,
    pub sandbox: Option<fulfil::sandbox::Sandbox>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Run {
    /// The one `error:` line on stderr, after checking there is exactly one and no panic.
    #[track_caller]
    pub fn one_error(&self) -> String {
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "{}", self.stderr);
        errors[0].to_string()
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl TestEnv {
    pub fn new() -> Self {
        TestEnv {
            dir: tempfile::tempdir().expect("tempdir"),
            now: NOW.to_string(),
            extra_env: Vec::new(),
            sandbox: None,
        }
    }

    /// A sandbox with the given settings (its clock starts at `NOW`) and a data directory
    /// initialised against it.
    pub fn with_sandbox(cfg: fulfil::sandbox::SandboxConfig) -> Self {
        let mut env = Self::new();
        let cfg = fulfil::sandbox::SandboxConfig {
            start: fulfil::clock::parse_rfc3339(NOW).unwrap(),
            ..cfg
        };
        let sandbox = fulfil::sandbox::Sandbox::start(cfg).expect("sandbox");
        let url = sandbox.url();
        env.sandbox = Some(sandbox);
        env.run(&["init", "--sandbox", &url]).assert_code(0);
        env
    }

    /// A sandbox without rate limits or faults, with `n` generated orders.
    pub fn sandboxed(n: usize) -> Self {
        Self::with_sandbox(fulfil::sandbox::SandboxConfig {
            generate: n,
            rate_limits: false,
            ..fulfil::sandbox::SandboxConfig::default()
        })
    }

    pub fn sb(&self) -> &fulfil::sandbox::Sandbox {
        self.sandbox.as_ref().expect("this TestEnv has no sandbox")
    }

    /// Requests the sandbox received for one operation.
    pub fn calls(&self, operation: &str) -> Vec<serde_json::Value> {
        self.sb()
            .records()
            .into_iter()
            .filter(|r| r["operation"] == operation)
            .collect()
    }

    /// Replaces one `key = value` line of the config (the first one with that key).
    pub fn set_config(&self, key: &str, value: &str) {
        let text = std::fs::read_to_string(self.config()).unwrap();
        let mut done = false;
        let out: Vec<String> = text
            .lines()
            .map(|l| {
                if !done && l.split('=').next().map(str::trim) == Some(key) {
                    done = true;
                    format!("{key} = {value}")
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert!(done, "no key {key} in the config");
        std::fs::write(self.config(), out.join("\n") + "\n").unwrap();
    }

    /// Adds `key = value` at the top of `[section]`.
    pub fn add_config(&self, section: &str, key: &str, value: &str) {
        let text = std::fs::read_to_string(self.config()).unwrap();
        let header = format!("[{section}]\n");
        let text = if text.contains(&header) {
            text.replacen(&header, &format!("{header}{key} = {value}\n"), 1)
        } else {
            format!("{text}\n{header}{key} = {value}\n")
        };
        std::fs::write(self.config(), text).unwrap();
    }

    /// A query on the store (for assertions); one column of text per row.
    pub fn query(&self, sql: &str) -> Vec<String> {
        let s =
            fulfil::store::Store::open(&self.db(), &self.key(), fulfil::store::Mode::Read).unwrap();
        let mut stmt = s.conn().prepare(sql).unwrap();
        stmt.query_map([], |r| {
            let v: rusqlite::types::Value = r.get(0)?;
            Ok(match v {
                rusqlite::types::Value::Null => "NULL".to_string(),
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Real(f) => f.to_string(),
                rusqlite::types::Value::Text(t) => t,
                rusqlite::types::Value::Blob(b) => format!("<{} bytes>", b.len()),
            })
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
    }

    /// Every value of every row of a table, as text, for scanning.
    pub fn dump_table(&self, table: &str) -> String {
        let s =
            fulfil::store::Store::open(&self.db(), &self.key(), fulfil::store::Mode::Read).unwrap();
        let mut stmt = s.conn().prepare(&format!("SELECT * FROM {table}")).unwrap();
        let n = stmt.column_count();
        let mut out = String::new();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            for i in 0..n {
                let v: rusqlite::types::Value = r.get(i).unwrap();
                let _ = write!(out, "{v:?}|");
            }
            out.push('\n');
        }
        out
    }

    pub fn count(&self, sql: &str) -> u64 {
        self.query(sql)[0].parse().unwrap()
    }

    /// A new environment after `fulfil init`.
    pub fn initialised() -> Self {
        let env = Self::new();
        env.run(&["init"]).assert_code(0);
        env
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config(&self) -> PathBuf {
        self.data().join("fulfil.toml")
    }

    pub fn db(&self) -> PathBuf {
        self.data().join("fulfil.db")
    }

    pub fn key_file(&self) -> PathBuf {
        self.data().join("db.key")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fulfil"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("FULFIL_CONFIG", self.config())
            .env("FULFIL_NOW", &self.now)
            .env("LANG", "C.UTF-8")
            .args(args);
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("run fulfil").into()
    }

    pub fn set_env(&mut self, k: &str, v: &str) {
        self.extra_env.retain(|(n, _)| n != k);
        self.extra_env.push((k.to_string(), v.to_string()));
    }

    /// Replaces the first config line that starts with `prefix` by `line`, e.g. a secret's
    /// value by its command (`set_config` keeps the key; this can change it).
    pub fn replace_config_line(&self, prefix: &str, line: &str) {
        let text = std::fs::read_to_string(self.config()).unwrap();
        let old = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no config line starts with {prefix:?}"))
            .to_string();
        std::fs::write(self.config(), text.replacen(&old, line, 1)).unwrap();
    }

    /// Replaces or appends text in the config file.
    pub fn append_config(&self, text: &str) {
        let mut c = std::fs::read_to_string(self.config()).unwrap();
        c.push('\n');
        c.push_str(text);
        std::fs::write(self.config(), c).unwrap();
    }

    pub fn key(&self) -> fulfil::store::DbKey {
        let text = std::fs::read_to_string(self.key_file()).unwrap();
        fulfil::store::DbKey::parse(&secrecy::SecretString::from(text)).unwrap()
    }

    pub fn open_store(&self) -> fulfil::store::Store {
        fulfil::store::Store::open(&self.db(), &self.key(), fulfil::store::Mode::Write).unwrap()
    }

    /// The store opened for reading (no writer lock), to read state through the store's
    /// own functions instead of SQL.
    pub fn read_store(&self) -> fulfil::store::Store {
        fulfil::store::Store::open(&self.db(), &self.key(), fulfil::store::Mode::Read).unwrap()
    }
}

pub fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// True when `needle` occurs in the bytes of `hay`.
pub fn contains(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    !n.is_empty() && hay.windows(n.len()).any(|w| w == n)
}

/// Every file under a directory, recursively.
/// The files under a labels directory but its pick lists (`picklist-*`, issue #19: they
/// hold no personal data, and purge leaves them).
pub fn print_files_under(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("picklist-"))
        })
        .collect()
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
