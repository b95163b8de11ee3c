//! The test environment: a temporary data directory, a pinned clock, a clean
//! environment, and helpers to run the real `fulfil` binary.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const NOW: &str = "2026-11-20T10:00:00Z";

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub now: String,
    pub extra_env: Vec<(String, String)>,
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
        }
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
