//! `fulfil make-labels`: the order of its steps, its counts and its outcome. The steps
//! themselves live in [`crate::labels`]:
//!
//! 1. [`labels::plan`]: address, product and weight of each ready order; the orders
//!    that need a person (an address that cannot be split with certainty, a PO box, a
//!    destination outside the EU, no address because the role is missing) go to review
//!    with a reason code (`fulfil review` lists them).
//! 2. and 3. [`labels::batch`], four parcels at a time: barcodes committed with their
//!    orders before the label call (a rerun after a crash reuses them instead of making a
//!    second parcel; an order of several parcels, see [`labels::parcels`], gets all its
//!    barcodes in one transaction and its parcels in one call as a PostNL multi-collo
//!    group), then the labels, stored encrypted for reprints. Each batch is
//!    confirmed to Amazon as soon as its labels exist ([`labels::confirm`]), unless
//!    `labels.confirm_shipment = "manual"` or `--no-confirm`.
//! 4. [`labels::print_file`]: one print file with every label not printed yet, also those
//!    of an earlier run that died before writing it (a PDF, or ZPL for a thermal
//!    printer), and its pick list ([`labels::pick_list`]).
//! 5. The parcels earlier runs failed to confirm are confirmed; a failure leaves them for
//!    the next run.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::commands::Outcome;
use crate::config::{ConfirmMode, LabelFormat, PrintLayout};
use crate::ctx::{Ctx, Overdue};
use crate::error::AppError;
use crate::files;
use crate::labels::batch::{Chunk, Labeller, Sender};
use crate::labels::print_file::{self, PickTo, Target};
use crate::labels::{self, Counts, confirm};
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
    /// Make this run's labels as PDF or as ZPL II for a 203 or 300 dpi thermal printer
    /// (Zebra and compatibles); with --reprint, the format to print in (PostNL is asked
    /// again for the same barcode when the stored label is in another format)
    /// [default: labels.format, "pdf"]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<LabelFormat>,
    /// Write the batch's pick list (SKUs, quantities, each order's items and label
    /// number; no personal data) to this PDF file, or as text to stdout with `-`
    /// [default: labels/picklist-TIME.pdf; none with labels.pick_list = false]
    #[arg(long, value_name = "FILE")]
    pub pick_list: Option<PathBuf>,
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
    let format = args.format.unwrap_or(cfg.labels.format);
    if format.is_zpl() && cfg.labels.layout == PrintLayout::A4 {
        return Err(AppError::config(format!(
            "--format {} cannot be used with labels.layout = \"a4\": ZPL labels are printed one by one on a label printer",
            format.as_str()
        ))
        .hint("use --format pdf for A4 sheets, or set labels.layout = \"a6\" for a thermal printer")
        .into());
    }
    ctx.begin_writing(COMMAND, Overdue::RemoveFirst)?;
    let target = Target {
        out: args.out.as_deref(),
        overwrite: args.overwrite,
        print_command: args.print_command.as_deref(),
    };
    if let Some(order_id) = &args.reprint {
        return reprint(ctx, &target, order_id, args.format);
    }
    let sender = Sender::from_config(cfg)?;
    let now = ctx.clock.now();
    let mut counts = Counts::default();
    // Under the writer lock (taken above): a run that is still writing owns its
    // temporary files.
    files::sweep_temp_files(&cfg.labels_dir());

    // 1. Plan: address, product, weight. Orders that need a person go to review now.
    // One PostNL client for the run, made on first use: the postal-code checks of the
    // plan and the label calls share PostNL's calls per minute (issue #18).
    let postnl_client = std::cell::OnceCell::new();
    let register = labels::postcode::Register::new(ctx, cfg, &postnl_client);
    let planned = labels::plan::ready(ctx, cfg, &register, &mut counts)?;

    let mut stop: Option<anyhow::Error> = None;
    let confirm_now = !args.no_confirm && cfg.labels.confirm_shipment == ConfirmMode::OnLabel;
    let mut amazon: Option<spapi::Client<'_>> = None;
    if !planned.is_empty() {
        let labeller = Labeller::new(ctx, cfg, register.client()?, sender, now).with_format(format);
        let bar = ctx.ui.progress(planned.len() as u64, "labels");
        // 2 and 3, four parcels at a time: barcodes, committed together before the
        // label call, then one label call for the four.
        for chunk in labels::batch::chunks(&planned) {
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
    let print_file = print_file::write_pending(ctx, cfg, &target, format)?;
    // With it, what to pick for it (issue #19). A pick list that cannot be written fails
    // the run, but only after the confirmations: the labels are printed already.
    let mut pick_failed = None;
    let pick_list = match &print_file {
        Some(printed) if cfg.labels.pick_list || args.pick_list.is_some() => {
            let to = match args.pick_list.as_deref() {
                Some(p) if p.as_os_str() == "-" => PickTo::Stdout,
                Some(p) => PickTo::File(p),
                None => PickTo::Default,
            };
            match print_file::write_pick_list(ctx, cfg, &printed.order_ids, to) {
                Ok(path) => Some(path),
                Err(e) => {
                    pick_failed = Some(e);
                    None
                }
            }
        }
        _ => None,
    };

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
    if let Some(e) = stop.or(pick_failed) {
        return Err(e);
    }
    if let Some(printed) = &print_file
        && !ctx.global.json
        && ctx.ui.stdout_is_terminal()
    {
        let unit = if format.is_zpl() { "labels" } else { "pages" };
        ctx.ui
            .out(&format!("{} ({} {unit})", printed.path, printed.pages));
        if let Some(p) = pick_list.as_deref().filter(|p| *p != "-") {
            ctx.ui.out(&format!("{p} (pick list)"));
        }
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
            "parcels": counts.parcels,
            "multi_collo": counts.multi_collo,
            "to_review": counts.to_review,
            "failed": counts.failed,
            "confirmed": counts.confirmed,
            "confirm_failed": counts.confirm_failed,
            "waiting_for_label_window": counts.waiting,
            "postcode_checks": register.calls.get(),
            "postcode_cached": register.cached.get(),
            "print_file": print_file.as_ref().map(|p| p.path.clone()),
            "pages": print_file.as_ref().map_or(0, |p| p.pages),
            "format": format.as_str(),
            "pick_list": pick_list,
        }),
    ))
}

/// Prints one order's stored label again: in the format it was made in, or in the one
/// `--format` asks for; when those differ PostNL is asked again for the same barcode
/// (a ZPL label cannot be turned into a PDF or another resolution, issue #19).
fn reprint(
    ctx: &Ctx,
    target: &Target<'_>,
    order_id: &str,
    asked: Option<LabelFormat>,
) -> anyhow::Result<Outcome> {
    let cfg = ctx.config()?;
    let stored = {
        let store = ctx.store(COMMAND)?;
        db::label_files(store.conn(), order_id)?
    };
    let Some(first) = stored.first() else {
        return Err(AppError::new(
            crate::error::Exit::Failed,
            format!("no stored label for order {order_id}"),
        )
        .hint("labels are kept until the order's personal data is removed")
        .into());
    };
    let made_as = LabelFormat::parse(&first.format).unwrap_or_default();
    let format = asked.unwrap_or(made_as);
    // Every parcel of the order (a multi-collo group has several labels).
    let labels: Vec<Vec<u8>> = if format == made_as {
        stored.into_iter().map(|l| l.bytes).collect()
    } else {
        relabel(ctx, order_id, format)?
    };
    let ids = vec![order_id.to_string(); labels.len()];
    let (path, pages) = print_file::deliver(ctx, cfg, target, &labels, &ids, format)?;
    if !ctx.global.json && ctx.ui.stdout_is_terminal() {
        ctx.ui.out(&path);
    }
    Ok(Outcome::ok(json!({
        "command": COMMAND, "reprint": order_id, "print_file": path, "pages": pages,
        "format": format.as_str(), "made_again": format != made_as,
    })))
}

/// Asks PostNL for an order's labels again, for its barcodes, in another format; stores
/// and returns them.
fn relabel(ctx: &Ctx, order_id: &str, format: LabelFormat) -> anyhow::Result<Vec<Vec<u8>>> {
    let cfg = ctx.config()?;
    let not_again = |why: &str| {
        anyhow::Error::new(
            AppError::new(
                crate::error::Exit::Failed,
                format!(
                    "the label of order {order_id} cannot be made again as {} ({why})",
                    format.as_str()
                ),
            )
            .hint("reprint it in the format it was made in: leave out --format"),
        )
    };
    let parcels = {
        let store = ctx.store(COMMAND)?;
        db::parcels(store.conn(), order_id)?
    };
    if parcels.is_empty() {
        return Err(not_again("no parcel"));
    }
    let postnl_client = std::cell::OnceCell::new();
    let register = labels::postcode::Register::new(ctx, cfg, &postnl_client);
    let planned = match labels::plan::again(ctx, cfg, &register, order_id)? {
        Ok(p) => p,
        Err(reason) => return Err(not_again(reason)),
    };
    let labeller = Labeller::new(
        ctx,
        cfg,
        register.client()?,
        Sender::from_config(cfg)?,
        ctx.clock.now(),
    )
    .with_format(format);
    labeller.relabel(&planned, &parcels)?;
    let store = ctx.store(COMMAND)?;
    Ok(db::label_files(store.conn(), order_id)?
        .into_iter()
        .map(|l| l.bytes)
        .collect())
}
