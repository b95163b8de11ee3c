//! `fulfil forget-order`: removes one order's personal data now.

use clap::Args;
use serde_json::json;

use crate::commands::Outcome;
use crate::ctx::{Ctx, Overdue};
use crate::error::{AppError, Exit};
use crate::retention;

/// Remove one order's personal data now (a buyer's or Amazon's request)
///
/// The same removal as purge, for one order, whatever its retention date. The
/// anonymous order and tax records stay.
#[derive(Debug, Args)]
pub struct ForgetOrderArgs {
    /// The Amazon order id
    pub order: String,
}

pub fn run(ctx: &Ctx, args: &ForgetOrderArgs) -> anyhow::Result<Outcome> {
    let cfg = ctx.config()?;
    ctx.begin_writing("forget-order", Overdue::LeftToCommand)?;
    let mut store = ctx.store("forget-order")?;
    if crate::store::orders::existing(store.conn(), &args.order)?.is_none() {
        return Err(
            AppError::new(Exit::Failed, format!("no order {}", args.order))
                .hint("the order id as Amazon shows it, e.g. 028-1234567-1234567")
                .into(),
        );
    }
    let report = retention::forget(&mut store, cfg, &args.order, ctx.clock.now())?;
    Ok(Outcome::ok(json!({
        "command": "forget-order",
        "order_id": args.order,
        "pii_rows": report.pii_rows,
        "labels": report.labels,
        "files_removed": report.files_removed,
        "bytes_freed": report.bytes_freed(),
    })))
}
