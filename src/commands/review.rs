//! `fulfil review`: the orders that need a person, and the fixes a person can make.
//!
//! The list shows order ids, reason codes, ship-by deadlines (the most urgent first,
//! issue #23) and how many readings (candidate splits) of the address there are.
//! `--show-pii` adds the address as Amazon sent it and the numbered candidates, so that
//! a person can decide and take one with `review accept ORDER --candidate N` (issue
//! #18); it works only on a terminal, so that personal data never ends up in a cron
//! mail or a log file by accident.

use clap::{Args, Subcommand};
use serde_json::json;

use crate::clock::rfc3339;
use crate::commands::Outcome;
use crate::ctx::{Ctx, Overdue};
use crate::error::AppError;
use crate::postnl::address::{self, AddressInput};
use crate::store::labels::{self as db, AddressOverride};
use crate::store::orders::{self as orders_db, Stage};

/// List the orders that need a person, or fix one
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Also show the addresses (personal data); only on a terminal
    #[arg(long)]
    pub show_pii: bool,
    #[command(subcommand)]
    pub command: Option<ReviewCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Set the street, house number and extension PostNL gets for an order
    SetAddress(SetAddressArgs),
    /// Accept the address splitter's guess, or one of the candidate splits `fulfil
    /// review --show-pii` lists, for an order sent to review
    Accept(AcceptArgs),
    /// Ship an order as N parcels (PostNL multi-collo: NL and BE, 2 to 4 parcels, each
    /// with some of the order's items), whatever the `[labels.parcels]` rules say; N = 1
    /// ships it as one parcel
    Split(SplitArgs),
    /// Say that an order's refunds in review were handled outside fulfil (for example a
    /// credit note made by hand): fulfil stops listing them and never credits them
    SettleRefunds(SettleRefundsArgs),
}

#[derive(Debug, Args)]
pub struct SettleRefundsArgs {
    /// The Amazon order id
    pub order: String,
}

#[derive(Debug, Args)]
pub struct SplitArgs {
    /// The Amazon order id
    pub order: String,
    /// How many parcels (1 to 4)
    #[arg(long, value_name = "N")]
    pub parcels: u32,
}

#[derive(Debug, Args)]
pub struct SetAddressArgs {
    /// The Amazon order id
    pub order: String,
    #[arg(long)]
    pub street: String,
    #[arg(long)]
    pub house_nr: String,
    #[arg(long)]
    pub ext: Option<String>,
    /// Replaces the postcode Amazon gave
    #[arg(long)]
    pub zipcode: Option<String>,
    /// Replaces the city Amazon gave
    #[arg(long)]
    pub city: Option<String>,
}

#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// The Amazon order id
    pub order: String,
    /// Take candidate N (1, 2, …) as `fulfil review --show-pii` numbers them, instead of
    /// the splitter's own guess
    #[arg(long, value_name = "N")]
    pub candidate: Option<usize>,
}

pub fn run(ctx: &Ctx, args: &ReviewArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        None => list(ctx, args.show_pii),
        Some(ReviewCommand::SetAddress(a)) => set_address(ctx, a),
        Some(ReviewCommand::Accept(a)) => accept(ctx, a),
        Some(ReviewCommand::Split(a)) => split(ctx, a),
        Some(ReviewCommand::SettleRefunds(a)) => settle_refunds(ctx, a),
    }
}

fn list(ctx: &Ctx, show_pii: bool) -> anyhow::Result<Outcome> {
    if show_pii && (ctx.global.json || !ctx.ui.stdout_is_terminal()) {
        return Err(
            AppError::config("--show-pii works only on a terminal, without --json")
                .hint("personal data must not go into files, pipes or cron mail")
                .into(),
        );
    }
    let store = ctx.store_read()?;
    let mut rows = db::review_list(store.conn())?;
    // The most urgent first (issue #23): the orders still to ship by deadline, then
    // those without one, then the rest (shipped orders with an invoice problem, skipped
    // orders), whose deadline no longer matters.
    let deadlines = if store.schema_version()? >= crate::store::deadlines::SINCE_SCHEMA {
        let ids: Vec<String> = rows.iter().map(|(o, _, _)| o.clone()).collect();
        crate::store::deadlines::ship_by(store.conn(), &ids)?
    } else {
        std::collections::BTreeMap::default()
    };
    let rank = |order_id: &String| match deadlines.get(order_id) {
        Some(Some(t)) => (0, Some(t)),
        Some(None) => (1, None),
        None => (2, None),
    };
    rows.sort_by(|a, b| (rank(&a.0), &a.0, &a.1).cmp(&(rank(&b.0), &b.0, &b.1)));
    let zone = ctx.config()?.seller.zone()?;
    let now = ctx.clock.now();
    let deadline = |order_id: &String| {
        deadlines
            .get(order_id)
            .and_then(|t| t.as_deref())
            .and_then(|t| crate::clock::parse_rfc3339(t).ok())
    };
    let shown = |order_id: &String| match (deadlines.contains_key(order_id), deadline(order_id)) {
        (_, Some(t)) => {
            let late = if t < now { " LATE" } else { "" };
            format!("ship by {}{late}", crate::ship_by::local(t, &zone))
        }
        (true, None) => "no ship-by date".to_string(),
        (false, None) => String::new(),
    };
    if !ctx.global.json {
        if rows.is_empty() {
            ctx.ui.out("nothing to review");
        }
        for (order_id, command, reason) in &rows {
            let pii = orders_db::pii(store.conn(), order_id)?;
            let cands = pii.as_ref().map(candidates).unwrap_or_default();
            let count = match cands.len() {
                0 => String::new(),
                1 => "  (1 candidate)".to_string(),
                n => format!("  ({n} candidates)"),
            };
            let line = format!(
                "{order_id}  {command:<17} {reason:<20} {}{count}",
                shown(order_id)
            );
            ctx.ui.out(line.trim_end());
            if show_pii && let Some(p) = &pii {
                for l in [
                    &p.recipient_name,
                    &p.recipient_company,
                    &p.address_line1,
                    &p.address_line2,
                    &p.address_line3,
                ]
                .into_iter()
                .flatten()
                {
                    ctx.ui.out(&format!("      | {l}"));
                }
                let place = [
                    p.postal_code.as_deref(),
                    p.city.as_deref(),
                    p.country_code.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
                ctx.ui.out(&format!("      | {place}"));
                if let Some(s) = guess(p) {
                    ctx.ui.out(&format!(
                        "      guess: street={} house_nr={} ext={}",
                        s.street, s.house_nr, s.house_nr_ext
                    ));
                }
                for (i, s) in cands.iter().enumerate() {
                    ctx.ui.out(&format!(
                        "      candidate {}: street={} house_nr={} ext={}",
                        i + 1,
                        s.street,
                        s.house_nr,
                        s.house_nr_ext
                    ));
                }
            }
        }
    }
    let mut listed = Vec::new();
    for (o, c, r) in &rows {
        let n = orders_db::pii(store.conn(), o)?
            .as_ref()
            .map_or(0, |p| candidates(p).len());
        listed.push(json!({
            "order_id": o, "command": c, "reason": r, "candidates": n,
            "ship_by": deadlines.get(o).and_then(Option::as_deref),
            "late": deadline(o).map(|t| t < now),
        }));
    }
    Ok(Outcome::ok(json!({ "orders": listed })))
}

fn input(p: &orders_db::PiiRow) -> AddressInput<'_> {
    AddressInput {
        lines: [
            text(p.address_line1.as_ref()),
            text(p.address_line2.as_ref()),
            text(p.address_line3.as_ref()),
        ],
        company: p.recipient_company.as_deref(),
        postal_code: p.postal_code.as_deref().unwrap_or(""),
        country: p.country_code.as_deref().unwrap_or(""),
    }
}

/// The readings of the order's address, numbered from 1 in the list (issue #18).
fn candidates(p: &orders_db::PiiRow) -> Vec<address::Split> {
    address::candidates(&input(p))
}

fn guess(p: &orders_db::PiiRow) -> Option<address::Split> {
    address::split(&input(p)).ok()
}

fn check_order(ctx: &Ctx, order: &str) -> anyhow::Result<()> {
    ctx.begin_writing("review", Overdue::RemoveFirst)?;
    let store = ctx.store("review")?;
    let existing = orders_db::existing(store.conn(), order)?;
    match existing {
        None => Err(AppError::new(crate::error::Exit::Failed, format!("no order {order}")).into()),
        Some(e) if !matches!(e.stage, Stage::Review | Stage::Ready) => Err(AppError::new(
            crate::error::Exit::Failed,
            format!(
                "order {order} is {}, not waiting for a label",
                e.stage.as_str()
            ),
        )
        .into()),
        Some(_) => Ok(()),
    }
}

fn apply(ctx: &Ctx, order: &str, a: &AddressOverride) -> anyhow::Result<Outcome> {
    let now = rfc3339(ctx.clock.now());
    let mut store = ctx.store("review")?;
    store.tx(|tx| {
        db::set_address_override(tx, order, a, &now)?;
        db::set_stage(tx, order, Stage::Ready)?;
        orders_db::clear_issue(tx, order, crate::commands::make_labels::COMMAND)
    })?;
    Ok(Outcome::ok(json!({"order_id": order, "stage": "ready"})))
}

fn set_address(ctx: &Ctx, a: &SetAddressArgs) -> anyhow::Result<Outcome> {
    check_order(ctx, &a.order)?;
    let nr = a.house_nr.trim();
    if nr.is_empty() || nr.chars().count() > 5 || !nr.chars().all(|c| c.is_ascii_digit()) {
        return Err(
            AppError::config("--house-nr must be 1 to 5 digits; put letters in --ext").into(),
        );
    }
    if a.street.trim().is_empty() || a.street.chars().count() > 95 {
        return Err(AppError::config("--street must be 1 to 95 characters").into());
    }
    if a.ext.as_ref().is_some_and(|e| e.chars().count() > 35) {
        return Err(AppError::config("--ext must be at most 35 characters").into());
    }
    apply(
        ctx,
        &a.order,
        &AddressOverride {
            street: a.street.trim().to_string(),
            house_nr: nr.to_string(),
            house_nr_ext: a.ext.clone().filter(|e| !e.trim().is_empty()),
            zipcode: a.zipcode.clone(),
            city: a.city.clone(),
        },
    )
}

fn accept(ctx: &Ctx, a: &AcceptArgs) -> anyhow::Result<Outcome> {
    check_order(ctx, &a.order)?;
    let pii = {
        let store = ctx.store("review")?;
        orders_db::pii(store.conn(), &a.order)?
    };
    let split = if let Some(n) = a.candidate {
        let cands = pii.as_ref().map(candidates).unwrap_or_default();
        let Some(s) = n.checked_sub(1).and_then(|i| cands.get(i)).cloned() else {
            return Err(AppError::config(format!(
                "order {} has {} candidate split(s); --candidate must be 1 to {}",
                a.order,
                cands.len(),
                cands.len()
            ))
            .hint("`fulfil review --show-pii` lists them, numbered")
            .into());
        };
        s
    } else {
        let Some(s) = pii.as_ref().and_then(guess) else {
            return Err(AppError::new(
                crate::error::Exit::Failed,
                format!("order {} has no guess to accept", a.order),
            )
            .hint("use `fulfil review set-address` instead")
            .into());
        };
        s
    };
    apply(
        ctx,
        &a.order,
        &AddressOverride {
            street: split.street,
            house_nr: split.house_nr,
            house_nr_ext: Some(split.house_nr_ext).filter(|e| !e.is_empty()),
            zipcode: Some(split.zipcode).filter(|z| !z.is_empty()),
            city: None,
        },
    )
}
/// `review split ORDER --parcels N` (issue #19): the order ships as N parcels the next
/// time make-labels runs. Only before its barcodes are reserved: a reserved set is what
/// a rerun must reuse.
fn split(ctx: &Ctx, a: &SplitArgs) -> anyhow::Result<Outcome> {
    let max = crate::labels::parcels::MAX_PARCELS;
    if a.parcels == 0 || a.parcels as usize > max {
        return Err(AppError::config(format!(
            "--parcels must be 1 to {max}: PostNL labels a group of at most {max} parcels in one call"
        ))
        .into());
    }
    check_order(ctx, &a.order)?;
    let store = ctx.store("review")?;
    if !db::parcels(store.conn(), &a.order)?.is_empty() {
        return Err(AppError::new(
            crate::error::Exit::Failed,
            format!(
                "order {} has its barcodes reserved already; it ships as reserved",
                a.order
            ),
        )
        .hint("make-labels finishes it; a reserved parcel is never made twice")
        .into());
    }
    let Some(order) = db::label_order(store.conn(), &a.order)? else {
        return Err(
            AppError::new(crate::error::Exit::Failed, format!("no order {}", a.order)).into(),
        );
    };
    let units: i64 = order.items.iter().map(|(_, _, q)| (*q).max(0)).sum();
    if i64::from(a.parcels) > units {
        return Err(AppError::new(
            crate::error::Exit::Failed,
            format!(
                "order {} has {units} units: it cannot ship as {} parcels (each parcel needs an item for Amazon)",
                a.order, a.parcels
            ),
        )
        .into());
    }
    let country = orders_db::pii(store.conn(), &a.order)?
        .and_then(|p| p.country_code)
        .or(order.destination_country)
        .unwrap_or_default()
        .to_ascii_uppercase();
    if a.parcels > 1 && !matches!(country.as_str(), "NL" | "BE") {
        return Err(AppError::new(
            crate::error::Exit::Failed,
            format!(
                "order {} goes to {country}: PostNL ships several parcels as one group (multi-collo) only within NL and BE",
                a.order
            ),
        )
        .hint("send it as one parcel, or as separate orders in Seller Central")
        .into());
    }
    drop(store);
    let now = rfc3339(ctx.clock.now());
    let mut store = ctx.store("review")?;
    store.tx(|tx| {
        db::set_split(tx, &a.order, a.parcels, &now)?;
        db::set_stage(tx, &a.order, Stage::Ready)?;
        orders_db::clear_issue(tx, &a.order, crate::commands::make_labels::COMMAND)
    })?;
    Ok(Outcome::ok(
        json!({"order_id": a.order, "stage": "ready", "parcels": a.parcels}),
    ))
}

fn text(v: Option<&String>) -> &str {
    v.map_or("", String::as_str)
}

/// `review settle-refunds ORDER`: the order's refunds in review were handled by hand.
fn settle_refunds(ctx: &Ctx, a: &SettleRefundsArgs) -> anyhow::Result<Outcome> {
    ctx.begin_writing("review", Overdue::RemoveFirst)?;
    let now = rfc3339(ctx.clock.now());
    let mut store = ctx.store("review")?;
    let n = store.tx(|tx| crate::store::refunds::settle(tx, &a.order, &now))?;
    if n == 0 {
        return Err(AppError::new(
            crate::error::Exit::Failed,
            format!("order {} has no refund in review", a.order),
        )
        .hint("`fulfil review` lists the refunds that need a person (command `refunds`)")
        .into());
    }
    Ok(Outcome::ok(
        json!({"order_id": a.order, "refunds_settled": n}),
    ))
}
