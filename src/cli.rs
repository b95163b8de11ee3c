//! The command line, clap only. Each command's arguments live beside it in
//! `commands/`; this file holds the global flags and the list of commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  done (also when there was nothing to do)
  1  failed
  2  usage, configuration or key error: a person has to fix something
  3  partial: some orders failed (reported), the others were done
  4  temporary: rate limit, network or another run holding the lock; retry next run

Environment:
  FULFIL_CONFIG   the config file (same as --config)
  FULFIL_LOG      log filter, e.g. `fulfil=debug` (logs go to stderr)
  FULFIL_NOW      pin the clock (RFC 3339), for rehearsals and tests
  FULFIL_<SECTION>_<KEY>  override any config key, e.g. FULFIL_AMAZON_REFRESH_TOKEN_FILE";

/// Amazon merchant-fulfilled orders to PostNL labels and EU VAT invoices, with the
/// buyers' personal data kept encrypted and removed on schedule.
///
/// Runs from cron: a run that succeeds prints nothing.
#[derive(Debug, Parser)]
#[command(name = "fulfil", version, after_help = EXIT_CODES, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// The config file [default: ~/.local/share/fulfil/fulfil.toml]
    #[arg(long, global = true, env = "FULFIL_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug, -vvv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print a machine-readable summary on stdout
    #[arg(long, global = true)]
    pub json: bool,
}

impl GlobalArgs {
    /// The settings the context of a run needs.
    pub fn settings(&self) -> crate::ctx::Global {
        crate::ctx::Global {
            config: self.config.clone(),
            verbose: self.verbose,
            quiet: self.quiet,
            json: self.json,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(crate::commands::init::InitArgs),
    Status(crate::commands::status::StatusArgs),
    Doctor(crate::commands::doctor::DoctorArgs),
    SyncOrders(crate::commands::sync_orders::SyncOrdersArgs),
    MakeInvoices(crate::commands::make_invoices::MakeInvoicesArgs),
    TaxReport(crate::commands::tax_report::TaxReportArgs),
    Rates(crate::commands::rates::RatesArgs),
    MakeLabels(crate::commands::make_labels::MakeLabelsArgs),
    ConfirmShipments(crate::commands::confirm_shipments::ConfirmShipmentsArgs),
    Review(crate::commands::review::ReviewArgs),
    Purge(crate::commands::purge::PurgeArgs),
    ForgetOrder(crate::commands::forget_order::ForgetOrderArgs),
    RotateKey(crate::commands::rotate_key::RotateKeyArgs),
    Audit(crate::commands::audit::AuditArgs),
    Sandbox(crate::commands::sandbox::SandboxArgs),
    Demo(crate::commands::demo::DemoArgs),
    Completions(crate::commands::completions::CompletionsArgs),
    Man(crate::commands::completions::ManArgs),
}

impl Command {
    /// Commands whose stdout is a document (a completion script, a manual page), so
    /// `--json` must not append a summary to it.
    pub fn writes_document(&self) -> bool {
        match self {
            Command::Completions(_) => true,
            Command::Man(args) => args.dir.is_none(),
            _ => false,
        }
    }

    /// The command's name as recorded in the run history and the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Init(_) => "init",
            Command::Status(_) => "status",
            Command::Doctor(_) => "doctor",
            Command::SyncOrders(_) => crate::commands::sync_orders::COMMAND,
            Command::MakeInvoices(_) => crate::commands::make_invoices::COMMAND,
            Command::TaxReport(_) => "tax-report",
            Command::Rates(a) => match a.command {
                crate::commands::rates::RatesCommand::Update(_) => crate::commands::rates::UPDATE,
                crate::commands::rates::RatesCommand::Show(_) => crate::commands::rates::SHOW,
            },
            Command::MakeLabels(_) => crate::commands::make_labels::COMMAND,
            Command::ConfirmShipments(_) => "confirm-shipments",
            Command::Review(_) => "review",
            Command::Purge(_) => crate::commands::purge::COMMAND,
            Command::ForgetOrder(_) => "forget-order",
            Command::RotateKey(_) => "rotate-key",
            Command::Audit(a) if a.command.is_some() => "audit verify",
            Command::Audit(_) => "audit",
            Command::Sandbox(_) => "sandbox",
            Command::Demo(_) => "demo",
            Command::Completions(_) => "completions",
            Command::Man(_) => "man",
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
