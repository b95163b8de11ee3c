//! `fulfil completions SHELL` and `fulfil man`: generated from the clap definition,
//! so they never drift from the real flags.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, CommandFactory as _};
use serde_json::json;

use crate::cli::Cli;
use crate::commands::Outcome;
use crate::ctx::Ctx;

/// Print a shell completion script on stdout
///
/// Install, e.g. for bash: `fulfil completions bash > ~/.local/share/bash-completion/completions/fulfil`;
/// zsh: `fulfil completions zsh > "${fpath[1]}/_fulfil"`; fish:
/// `fulfil completions fish > ~/.config/fish/completions/fulfil.fish`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Print the manual page (roff) on stdout, or write one page per command into a directory
///
/// View it with `fulfil man | man -l -`; install with
/// `fulfil man --dir /usr/local/share/man/man1`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write fulfil.1 and one fulfil-COMMAND.1 page per command into this directory
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn completions(_ctx: &Ctx, args: &CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "fulfil", &mut out);
    write_stdout(&out)?;
    Ok(Outcome::ok(json!({ "shell": args.shell.to_string() })))
}

pub fn man(_ctx: &Ctx, args: &ManArgs) -> anyhow::Result<Outcome> {
    let cmd = Cli::command();
    match &args.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            write_stdout(&out)?;
            Ok(Outcome::ok(json!({ "pages": 1 })))
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
            let mut pages = 0u64;
            // Building propagates the global flags (--config, -v, --json…) into each
            // command, so every page lists them.
            let mut cmd = cmd;
            cmd.build();
            write_pages(&cmd, "fulfil", dir, &mut pages)?;
            Ok(Outcome::ok(json!({ "pages": pages, "dir": dir })))
        }
    }
}

/// Writes the page of `cmd` and of each of its subcommands: `fulfil-review-accept.1`
/// documents `fulfil review accept`.
fn write_pages(
    cmd: &clap::Command,
    invocation: &str,
    dir: &std::path::Path,
    pages: &mut u64,
) -> anyhow::Result<()> {
    let page = invocation.replace(' ', "-");
    let man_cmd = cmd
        .clone()
        .name(page.clone())
        .bin_name(invocation.to_string());
    let mut buf = Vec::new();
    clap_mangen::Man::new(man_cmd).render(&mut buf)?;
    let path = dir.join(format!("{page}.1"));
    std::fs::write(&path, &buf).with_context(|| format!("could not write {}", path.display()))?;
    *pages += 1;
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, &format!("{invocation} {}", sub.get_name()), dir, pages)?;
    }
    Ok(())
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .context("could not write to stdout")?;
    stdout.flush().context("could not write to stdout")
}
