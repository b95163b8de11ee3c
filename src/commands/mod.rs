//! Dispatch only: one file per command, each with `run(ctx, args) -> Outcome`.

pub mod audit;
pub mod completions;
pub mod confirm_shipments;
pub mod demo;
pub mod doctor;
pub mod forget_order;
pub mod init;
pub mod make_invoices;
pub mod make_labels;
pub mod purge;
pub mod rates;
pub mod review;
pub mod rotate_key;
pub mod sandbox;
pub mod status;
pub mod sync_orders;
pub mod tax_report;

use crate::cli::Command;
use crate::ctx::Ctx;
use crate::error::Exit;

/// What a command reports when it did not fail.
#[derive(Debug)]
pub struct Outcome {
    /// `Exit::Ok` or `Exit::Partial`.
    pub exit: Exit,
    /// The `--json` output; the run history and the audit log keep its counts
    /// (`crate::audit::counts`).
    pub summary: serde_json::Value,
}

impl Outcome {
    pub fn ok(summary: serde_json::Value) -> Self {
        Self {
            exit: Exit::Ok,
            summary,
        }
    }

    /// Ok, or Partial when `failed` is non-zero.
    pub fn from_failures(failed: u64, summary: serde_json::Value) -> Self {
        Self {
            exit: if failed > 0 { Exit::Partial } else { Exit::Ok },
            summary,
        }
    }
}

pub fn dispatch(ctx: &Ctx, command: &Command) -> anyhow::Result<Outcome> {
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
