//! One file per command, each with `run(ctx, args) -> Outcome`; `crate::run` dispatches.
//! `deadlines` is the ship-by check three commands end with, not a command of its own.

pub mod audit;
pub mod completions;
pub mod confirm_shipments;
pub mod deadlines;
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
