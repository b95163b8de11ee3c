//! `fulfil make-labels`: the order of its steps, its counts and its outcome. The steps
//! themselves live in [`crate::labels`]:
//!
//! 1. [`labels::plan`]: address, product and weight of each ready order; the orders
//!    that need a person (an address that cannot be split with certainty, a PO box, a
//!    destination outside the EU, no address because the role is missing) go to review
//!    with a reason code (`fulfil review` lists them).
//! 2. and 3. [`labels::batch`], four parcels at a time: barcodes committed with their
//!    orders before the label call (a rerun after a crash reuses them instead of making a
//!    second parcel), then the labels, stored encrypted for reprints. Each batch is
//!    confirmed to Amazon as soon as its labels exist ([`labels::confirm`]), unless
//!    `labels.confirm_shipment = "manual"` or `--no-confirm`.
//! 4. [`labels::print_file`]: one print file with every label not printed yet, also those
//!    of an earlier run that died before writing it.
//! 5. The parcels earlier runs failed to confirm are confirmed; a failure leaves them for
//!    the next run.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::commands::Outcome;
use crate::config::ConfirmMode;
use crate::ctx::{Ctx, Overdue};
use crate::error::AppError;
use crate::files;
use crate::labels::batch::{Chunk, Labeller, Sender};
use crate::labels::print_file::{self, Target};
use crate::labels::{self, Counts, confirm};
use crate::postnl as pn;
use crate::spapi;
use crate::store::labels as db;

pub const COMMAND: &str = labels::COMMAND;

/// Make PostNL labels for ready orders, write one print file, confirm shipments to Amazon
///
/// Safe to rerun and to kill: a parcel's barcode is stored before its label is made,
/// so no order ever gets a second parcel. Orders that need a person go to review
/// (see `fulfil review`).
#[derive(Debug, Args)]
pub struct MakeLabelsArgs {
    /// Write the print file here (mode 0600); an existing file is never replaced unless
    /// --overwrite is given. Wherever it goes, purge removes it when its first order is
    /// due [default: labels/labels-TIME.pdf in the data directory, with a suffix when
    /// that name is taken]
    #[arg(long, value_name = "FILE", conflicts_with = "print_command")]
    pub out: Option<PathBuf>,
    /// Let --out replace an existing file
    #[arg(long, requires = "out")]
    pub overwrite: bool,
    /// Pipe the print file to this command, e.g. `lp -d labels`, and write nothing to disk
    #[arg(long, value_name = "CMD")]
    pub print_command: Option<String>,
    /// Print the stored label of one order again (makes nothing new)
    #[arg(long, value_name = "ORDER")]
    pub reprint: Option<String>,
    /// Do not confirm shipments to Amazon in this run
    #[arg(long)]
    pub no_confirm: bool,
}

pub fn run(ctx: &Ctx, args: &MakeLabelsArgs) -> anyhow::Result<Outcome> {
    let cfg = ctx.config()?;
    // Before any label is made: --out onto an existing file would fail at the end
    // (issue #15). The file is created exclusively when written, so this is only the
    // early answer, not the guarantee.
    if let Some(out) = &args.out
        && !args.overwrite
        && std::fs::symlink_metadata(out).is_ok()
    {
        return Err(print_file::out_exists(out).into());
    }
    ctx.begin_writing(COMMAND, Overdue::RemoveFirst)?;
    let target = Target {
        out: args.out.as_deref(),
        overwrite: args.overwrite,
        print_command: args.print_command.as_deref(),
    };
    if let Some(order_id) = &args.reprint {
        return reprint(ctx, &target, order_id);
    }
    let sender = Sender::from_config(cfg)?;
    let now = ctx.clock.now();
    let mut counts = Counts::default();
    // Under the writer lock (taken above): a run that is still writing owns its
    // temporary files.
    files::sweep_temp_files(&cfg.labels_dir());

    // 1. Plan: address, product, weight. Orders that need a person go to review now.
    let planned = labels::plan::ready(ctx, cfg, &mut counts)?;

    let mut stop: Option<anyhow::Error> = None;
    let confirm_now = !args.no_confirm && cfg.labels.confirm_shipment == ConfirmMode::OnLabel;
    let mut amazon: Option<spapi::Client<'_>> = None;
    if !planned.is_empty() {
        let labeller = Labeller::new(ctx, cfg, sender, now)?;
        let bar = ctx.ui.progress(planned.len() as u64, "labels");
        // 2 and 3, four parcels at a time: barcodes, committed together before the
        // label call, then one label call for the four.
        for chunk in planned.chunks(pn::models::MAX_SHIPMENTS) {
            let ids = match labeller.batch(chunk, &mut counts)? {
                Chunk::Labelled(ids) => ids,
                Chunk::Nothing => continue,
                Chunk::Stopped(e) => {
                    stop = Some(e);
                    break;
                }
            };
            bar.inc(chunk.len() as u64);
            // Confirm as soon as the labels exist, so that Amazon's pacing of
            // confirmShipment overlaps with the label calls instead of following them.
            if confirm_now {
                if amazon.is_none() {
                    match ctx.spapi(COMMAND) {
                        Ok(c) => amazon = Some(c),
                        Err(e) => {
                            stop = Some(e);
                            break;
                        }
                    }
                }
                if let Some(client) = &amazon
                    && let Err(e) = confirm::orders(ctx, cfg, client, Some(&ids), &mut counts)
                {
                    stop = Some(e);
                    break;
                }
            }
        }
        bar.finish_and_clear();
    }

    // 4. One print file with every label not printed yet.
    let print_file = print_file::write_pending(ctx, cfg, &target)?;

    // 5. Confirm what is still unconfirmed (from earlier runs that failed to).
    if stop.is_none() && confirm_now {
        let pending = !db::unconfirmed(ctx.store(COMMAND)?.conn())?.is_empty();
        if pending {
            let result = match amazon.take() {
                Some(client) => confirm::orders(ctx, cfg, &client, None, &mut counts),
                None => confirm::all(ctx, cfg, &mut counts),
            };
            if let Err(e) = result {
                stop = Some(e);
            }
        }
    }
    if let Some(e) = stop {
        return Err(e);
    }
    if let Some((path, pages)) = &print_file
        && !ctx.global.json
        && ctx.ui.stdout_is_terminal()
    {
        ctx.ui.out(&format!("{path} ({pages} pages)"));
    }
    if counts.to_review > 0 {
        ctx.ui.warn(&format!(
            "{} orders need a person: see `fulfil review`",
            counts.to_review
        ));
    }
    let failed = counts.failed + counts.confirm_failed + counts.to_review;
    Ok(Outcome::from_failures(
        failed,
        json!({
            "command": COMMAND,
            "labelled": counts.labelled,
            "to_review": counts.to_review,
            "failed": counts.failed,
            "confirmed": counts.confirmed,
            "confirm_failed": counts.confirm_failed,
            "print_file": print_file.as_ref().map(|(p, _)| p.clone()),
            "pages": print_file.as_ref().map_or(0, |(_, n)| *n),
        }),
    ))
}

fn reprint(ctx: &Ctx, target: &Target<'_>, order_id: &str) -> anyhow::Result<Outcome> {
    let cfg = ctx.config()?;
    let pdf = {
        let store = ctx.store(COMMAND)?;
        db::label_pdf(store.conn(), order_id)?
    };
    let Some(pdf) = pdf else {
        return Err(AppError::new(
            crate::error::Exit::Failed,
            format!("no stored label for order {order_id}"),
        )
        .hint("labels are kept until the order's personal data is removed")
        .into());
    };
    let (path, pages) = print_file::deliver(ctx, cfg, target, &[pdf], &[order_id.to_string()])?;
    if !ctx.global.json && ctx.ui.stdout_is_terminal() {
        ctx.ui.out(&path);
    }
    Ok(Outcome::ok(
        json!({"command": COMMAND, "reprint": order_id, "print_file": path, "pages": pages}),
    ))
}
