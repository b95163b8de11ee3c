//! `fulfil`: Amazon merchant-fulfilled orders to PostNL labels and EU VAT invoices,
//! with the buyers' personal data encrypted at rest and removed on schedule.
//!
//! The binary is a thin wrapper around [`run`], so tests can call commands in-process.

pub mod audit;
pub mod child;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod ctx;
pub mod error;
pub mod failpoint;
pub mod files;
pub mod fx;
pub mod invoice;
pub mod invoice_lookups;
pub mod invoice_upload;
pub mod labels;
pub mod logging;
pub mod order_check;
pub mod orders;
pub mod pdf;
pub mod postnl;
pub mod printable;
pub mod refunds;
pub mod report;
pub mod retention;
pub mod sandbox;
pub mod secrets;
pub mod ship_by;
pub mod shred;
pub mod spapi;
pub mod store;
pub mod tedb;
pub mod transport;
pub mod trust;
pub mod ui;
pub mod vies;
pub mod zone;

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
    transport::install_crypto_provider();
    let ctx = match ctx::Ctx::new(&cli.global.settings()) {
        Ok(ctx) => ctx,
        Err(e) => return report::report(&e),
    };
    ctx.set_command(cli.command.name());
    let mut result = dispatch(&ctx, &cli.command);
    commands::deadlines::check(&ctx, cli.command.name(), &mut result);
    match result {
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
            let e = match (report::storage_problem(&e), ctx.config()) {
                (Some(problem), Ok(cfg)) => {
                    anyhow::Error::new(report::storage_error(problem, &cfg.data_dir(), &e))
                }
                _ => e,
            };
            let exit = report::report(&e);
            ctx.finish(exit.outcome(), &serde_json::json!({ "exit": exit.code() }));
            exit
        }
    }
}

/// Hands the parsed command to its module.
fn dispatch(ctx: &ctx::Ctx, command: &cli::Command) -> anyhow::Result<commands::Outcome> {
    use cli::Command;
    use commands::{
        audit, completions, confirm_shipments, demo, doctor, forget_order, init, make_invoices,
        make_labels, purge, rates, review, rotate_key, sandbox, status, sync_orders, tax_report,
    };
    match command {
        Command::Init(args) => init::run(ctx, args),
        Command::Status(args) => status::run(ctx, args),
        Command::Doctor(args) => doctor::run(ctx, args),
        Command::SyncOrders(args) => sync_orders::run(ctx, args),
        Command::MakeInvoices(args) => make_invoices::run(ctx, args),
        Command::TaxReport(args) => tax_report::run(ctx, args),
        Command::Rates(args) => rates::run(ctx, args),
        Command::MakeLabels(args) => make_labels::run(ctx, args),
        Command::ConfirmShipments(args) => confirm_shipments::run(ctx, args),
        Command::Review(args) => review::run(ctx, args),
        Command::Purge(args) => purge::run(ctx, args),
        Command::ForgetOrder(args) => forget_order::run(ctx, args),
        Command::RotateKey(args) => rotate_key::run(ctx, args),
        Command::Audit(args) => audit::run(ctx, args),
        Command::Sandbox(args) => sandbox::run(ctx, args),
        Command::Demo(args) => demo::run(ctx, args),
        Command::Completions(args) => completions::completions(ctx, args),
        Command::Man(args) => completions::man(ctx, args),
    }
}
