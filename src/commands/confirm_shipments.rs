//! `fulfil confirm-shipments`: tells Amazon about labelled parcels, for sellers who set
//! `labels.confirm_shipment = "manual"` (confirm when the parcels are handed over).

use clap::Args;
use serde_json::json;

use crate::commands::Outcome;
use crate::ctx::{Ctx, Overdue};
use crate::labels::{self, Counts};

/// Confirm labelled parcels to Amazon, with carrier and tracking number
///
/// make-labels does this itself unless `labels.confirm_shipment = "manual"`. A parcel
/// Amazon refuses stays labelled and is reported; the next run tries again.
#[derive(Debug, Args)]
pub struct ConfirmShipmentsArgs {}

pub fn run(ctx: &Ctx, _args: &ConfirmShipmentsArgs) -> anyhow::Result<Outcome> {
    let cfg = ctx.config()?;
    let mut counts = Counts::default();
    ctx.begin_writing("confirm-shipments", Overdue::RemoveFirst)?;
    labels::confirm::all(ctx, cfg, &mut counts)?;
    Ok(Outcome::from_failures(
        counts.confirm_failed,
        json!({
            "command": "confirm-shipments",
            "confirmed": counts.confirmed,
            "confirm_failed": counts.confirm_failed,
        }),
    ))
}
