//! Exit codes and the one place that turns an error into what the operator reads.
//!
//! Modules raise their own typed errors (`StoreError`, `ConfigError`, `SpapiError`, …).
//! Each implements [`Classify`], which says which exit code it stands for and which
//! `hint:` lines help. [`report`] walks the anyhow chain, finds the first classified
//! error and prints one `error:` line plus its hints. No personal data reaches this
//! module: the typed errors carry ids and counts, never names or addresses.

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

fn as_classify<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a dyn Classify> {
    macro_rules! try_types {
        ($($t:ty),* $(,)?) => {
            $(if let Some(e) = cause.downcast_ref::<$t>() { return Some(e); })*
        };
    }
    try_types!(
        AppError,
        crate::config::ConfigError,
        crate::store::StoreError,
        crate::http::TransportError,
        crate::spapi::SpapiError,
        crate::postnl::PostnlError,
    );
    None
}

fn classify_io(io: &std::io::Error) -> (Exit, Vec<String>) {
    use std::io::ErrorKind as K;
    match io.kind() {
        K::StorageFull => (
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
