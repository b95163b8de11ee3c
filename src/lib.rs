//! `fulfil`: Amazon merchant-fulfilled orders to PostNL labels and EU VAT invoices,
//! with the buyers' personal data encrypted at rest and removed on schedule.
//!
//! The binary is a thin wrapper around [`run`], so tests can call commands in-process.

pub mod audit;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod ctx;
pub mod error;
pub mod failpoint;
pub mod http;
pub mod invoice;
pub mod labels;
pub mod logging;
#[cfg(test)]
mod parse_props;
pub mod pdf;
pub mod postnl;
pub mod retention;
pub mod sandbox;
pub mod secrets;
pub mod spapi;
pub mod store;
pub mod tedb;
pub mod ui;

use std::process::ExitCode;

use clap::Parser as _;

use crate::error::Exit;

/// The binary's entry point: parse, set up logging, run, map to an exit code.
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        // clap prints help and version with exit 0 and usage errors with exit 2.
        Err(e) => e.exit(),
    };
    logging::init(cli.global.verbose, cli.global.quiet);
    run(&cli).into()
}

/// Runs one parsed command line and returns its exit code.
pub fn run(cli: &cli::Cli) -> Exit {
    // Files we create are private to the user, whatever the shell's umask was.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    http::install_crypto_provider();
    let ctx = match ctx::Ctx::new(&cli.global) {
        Ok(ctx) => ctx,
        Err(e) => return error::report(&e),
    };
    ctx.set_command(cli.command.name());
    match commands::dispatch(&ctx, &cli.command) {
        Ok(outcome) => {
            if ctx.global.json && !cli.command.writes_document() {
                ctx.ui.json_out(&outcome.summary);
            }
            ctx.finish(outcome.exit.outcome(), &outcome.summary);
            outcome.exit
        }
        Err(e) => {
            // A full disk or a read-only database is reported with the data directory
            // it concerns, which the store's own errors do not know.
            let e = match (error::storage_problem(&e), ctx.config()) {
                (Some(problem), Ok(cfg)) => {
                    anyhow::Error::new(error::storage_error(problem, &cfg.data_dir(), &e))
                }
                _ => e,
            };
            let exit = error::report(&e);
            ctx.finish(exit.outcome(), &serde_json::json!({ "exit": exit.code() }));
            exit
        }
    }
}
