//! What the operator sees on the terminal.
//!
//! stdout carries the product (paths, tables, `--json` summaries); stderr carries
//! status lines and progress bars, and only on a terminal, so that a cron run that
//! succeeds prints nothing. Errors are printed by `report::report`, never here.

use std::io::{IsTerminal as _, Write as _};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)] // four independent switches
pub struct Ui {
    pub json: bool,
    pub quiet: bool,
    stderr_tty: bool,
    stdout_tty: bool,
}

impl Ui {
    pub fn new(json: bool, quiet: bool) -> Self {
        Self {
            json,
            quiet,
            stderr_tty: std::io::stderr().is_terminal(),
            stdout_tty: std::io::stdout().is_terminal(),
        }
    }

    /// True when a person is watching (stderr is a terminal and --quiet is off).
    pub fn interactive(&self) -> bool {
        self.stderr_tty && !self.quiet
    }

    pub fn stdout_is_terminal(&self) -> bool {
        self.stdout_tty
    }

    /// A status line on stderr, shown only to a person at a terminal.
    pub fn status(&self, msg: &str) {
        if self.interactive() {
            eprintln!("{msg}");
        }
    }

    /// A warning: shown unless --quiet, terminal or not, since it asks for action.
    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            eprintln!("warning: {msg}");
        }
    }

    /// A warning that must reach cron's mail: shown under --quiet too.
    pub fn alert(&self, msg: &str) {
        eprintln!("warning: {msg}");
    }

    /// Product output on stdout.
    pub fn out(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }

    /// A JSON summary on stdout, one line.
    pub fn json_out(&self, value: &serde_json::Value) {
        self.out(&value.to_string());
    }

    /// A progress bar that draws only on a terminal.
    pub fn progress(&self, len: u64, what: &str) -> ProgressBar {
        if !self.interactive() || self.json {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_string());
        bar
    }

    /// A spinner for work of unknown length, shown only on a terminal.
    pub fn spinner(&self, what: &str) -> ProgressBar {
        if !self.interactive() || self.json {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        bar.set_message(what.to_string());
        bar
    }
}
