//! Exit codes and error kinds: a leaf that imports nothing of the project.
//!
//! Modules raise their own typed errors (`StoreError`, `ConfigError`, `SpapiError`, …).
//! Each implements [`Classify`], which says which exit code it stands for and which
//! `hint:` lines help. The one place that turns an error chain into what the operator
//! reads is `crate::report`, at the top next to `crate::run`; this module only defines
//! the vocabulary, so that every module can use it without a circle. No personal data
//! reaches an error: the typed errors carry ids and counts, never names or addresses.

use std::fmt;
use std::process::ExitCode;

/// The exit codes, documented in README and `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// Done, including "nothing to do".
    Ok = 0,
    /// The run failed; see the message.
    Failed = 1,
    /// Usage, configuration or key error: a person has to fix something.
    Config = 2,
    /// The run finished but some orders failed; the rest were done.
    Partial = 3,
    /// A temporary condition (rate limit, network, lock held): retry on the next run.
    Temporary = 4,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// How a run that ended with this code is recorded in the run history and the
    /// audit log.
    pub fn outcome(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::Failed => "failed",
            Exit::Config => "config",
            Exit::Partial => "partial",
            Exit::Temporary => "temporary",
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e.code())
    }
}

/// Implemented by every typed error that knows its exit code and a fix.
pub trait Classify {
    fn exit(&self) -> Exit;
    fn hints(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A generic error raised by commands when no module error fits.
#[derive(Debug)]
pub struct AppError {
    pub exit: Exit,
    pub message: String,
    pub hints: Vec<String>,
}

impl AppError {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Exit::Config, message)
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

impl Classify for AppError {
    fn exit(&self) -> Exit {
        self.exit
    }
    fn hints(&self) -> Vec<String> {
        self.hints.clone()
    }
}

/// A storage problem under the data directory, wherever in a chain it was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// SQLITE_FULL, ENOSPC, or EFBIG (a file size limit): nothing more can be written.
    Full,
    /// SQLITE_READONLY, SQLITE_CANTOPEN, EROFS or EACCES: this user may not write here.
    ReadOnly,
}
