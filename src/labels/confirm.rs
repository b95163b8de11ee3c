//! Step 5 of make-labels, and all of `fulfil confirm-shipments`: each labelled parcel
//! confirmed to Amazon (confirmShipment, with carrier and tracking number); an order of
//! several parcels gets one confirmation per parcel, with its own packageReferenceId,
//! tracking number and the items in it (issue #19), and is shipped when the last is
//! accepted. A refusal of
//! one order is recorded and the others go on; a permission or temporary problem stops
//! the run, and the parcel is tried again by the next.

use crate::clock::rfc3339;
use crate::config::Config;
use crate::ctx::Ctx;
use crate::labels::{COMMAND, Counts};
use crate::spapi::{self, SpapiError};
use crate::store::labels as db;
use crate::store::orders as orders_db;

/// Confirms every labelled parcel to Amazon. Order-level refusals are recorded and the
/// others go on; a permission or temporary problem stops here, to be retried.
pub fn all(ctx: &Ctx, cfg: &Config, counts: &mut Counts) -> anyhow::Result<()> {
    if db::unconfirmed(ctx.store(COMMAND)?.conn())?.is_empty() {
        return Ok(());
    }
    let client = ctx.spapi(COMMAND)?;
    orders(ctx, cfg, &client, None, counts)
}

/// Confirms the labelled, unconfirmed parcels (all, or only the given orders).
pub fn orders(
    ctx: &Ctx,
    cfg: &Config,
    client: &spapi::Client<'_>,
    only: Option<&[String]>,
    counts: &mut Counts,
) -> anyhow::Result<()> {
    let pending = db::unconfirmed(ctx.store(COMMAND)?.conn())?;
    for c in pending {
        if only.is_some_and(|ids| !ids.contains(&c.parcel.order_id)) {
            continue;
        }
        let now = ctx.clock.now();
        // The ship date is the label's time, not this run's: a confirmation whose answer
        // was lost (a kill, a dropped connection) is sent again byte for byte, which
        // Amazon accepts as the same package, where a new date would be refused as a
        // different confirmation of the same package (issue #8).
        let ship_date = c.parcel.labelled_at.clone().unwrap_or_else(|| rfc3339(now));
        let body = spapi::shipments::ConfirmShipment::postnl(
            &c.marketplace_id,
            &c.parcel.package_reference_id,
            &cfg.labels.carrier_code,
            &c.parcel.barcode,
            &ship_date,
            &c.items,
        );
        match spapi::shipments::confirm(client, &c.parcel.order_id, &body) {
            Ok(()) => {
                crate::failpoint::hit("make-labels:confirm-sent");
                let due =
                    rfc3339(now + time::Duration::days(i64::from(cfg.retention.fulfilled_days)));
                let at = rfc3339(now);
                let mut store = ctx.store(COMMAND)?;
                store.tx(|tx| {
                    db::mark_confirmed(tx, (&c.parcel.order_id, c.parcel.parcel_no), &at, &due)?;
                    orders_db::clear_issue(tx, &c.parcel.order_id, "confirm-shipment")
                })?;
                counts.confirmed += 1;
            }
            Err(e @ (SpapiError::BadRequest { .. } | SpapiError::NotFound { .. })) => {
                counts.confirm_failed += 1;
                let code = match &e {
                    SpapiError::BadRequest { code, .. } => code.clone(),
                    _ => "NotFound".into(),
                };
                let store = ctx.store(COMMAND)?;
                db::confirm_failed(
                    store.conn(),
                    (&c.parcel.order_id, c.parcel.parcel_no),
                    &code,
                )?;
                orders_db::record_issue(
                    store.conn(),
                    &c.parcel.order_id,
                    "confirm-shipment",
                    &format!(
                        "amazon_{}",
                        code.chars()
                            .filter(char::is_ascii_alphanumeric)
                            .take(40)
                            .collect::<String>()
                    ),
                    None,
                    &rfc3339(now),
                )?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
