//! `fulfil make-labels`: PostNL labels for ready orders, one print file, and the
//! shipment confirmation to Amazon.
//!
//! For each ready order: split the address (or take the person's correction), choose
//! the product, then reserve a barcode and COMMIT it with the order before asking for
//! the label, so a rerun after a crash reuses the barcode instead of making a second
//! parcel. Labels are asked for four at a time and stored encrypted (for reprints).
//! The print file gathers every label not yet printed, also those of an earlier run
//! that died before writing it. Then each labelled parcel is confirmed to Amazon
//! (unless `labels.confirm_shipment = "manual"`); a failure leaves it for the next run.
//!
//! Orders that need a person (an address that cannot be split with certainty, a PO
//! box, a destination outside the EU, no address because the role is missing) go to
//! review with a reason code: `fulfil review` lists them.

use std::path::{Path, PathBuf};

use clap::Args;
use secrecy::SecretString;
use serde_json::json;
use time::{Date, OffsetDateTime, Weekday};

use crate::clock::rfc3339;
use crate::commands::Outcome;
use crate::config::{Config, ConfirmMode, PrintLayout};
use crate::ctx::{Ctx, Overdue};
use crate::error::AppError;
use crate::files::{self, Durability};
use crate::labels::print::{self, Layout};
use crate::labels::products::{self, Product};
use crate::logging::Pii;
use crate::postnl::address::{self, AddressInput, Confidence};
use crate::postnl::models::{
    Address, AddressType, BarcodeKind, Contact, ContactType, Customer, Dimension, LabelRequest,
    Message, ProductOption, Shipment, Stamp,
};
use crate::postnl::{self as pn, PostnlError};
use crate::spapi::{self, SpapiError};
use crate::store::labels::{self as db, LabelOrder, Parcel};
use crate::store::orders::{self as orders_db, PiiRow, Stage};

pub const COMMAND: &str = "make-labels";

/// Make PostNL labels for ready orders, write one print file, confirm shipments to Amazon
///
/// Safe to rerun and to kill: a parcel's barcode is stored before its label is made,
/// so no order ever gets a second parcel. Orders that need a person go to review
/// (see `fulfil review`).
#[derive(Debug, Args)]
pub struct MakeLabelsArgs {
    /// Write the print file here (mode 0600); an existing file is never replaced unless
    /// --overwrite is given [default: labels/labels-TIME.pdf in the data directory, with
    /// a suffix when that name is taken]
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

#[derive(Debug, Default)]
pub struct Counts {
    pub labelled: u64,
    pub to_review: u64,
    pub failed: u64,
    pub confirmed: u64,
    pub confirm_failed: u64,
}

/// An order ready for its label call.
struct Planned {
    order: LabelOrder,
    product: Product,
    weight: u32,
    receiver: Address,
    contacts: Vec<Contact>,
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
        return Err(out_exists(out).into());
    }
    ctx.begin_writing(COMMAND, Overdue::RemoveFirst)?;
    if let Some(order_id) = &args.reprint {
        return reprint(ctx, cfg, args, order_id);
    }
    let sender = sender(cfg)?;
    let (customer_code, customer_number) = account(cfg)?;
    let now = ctx.clock.now();
    let mut counts = Counts::default();
    // Under the writer lock (taken above): a run that is still writing owns its
    // temporary files.
    files::sweep_temp_files(&cfg.labels_dir());

    // 1. Plan: address, product, weight. Orders that need a person go to review now.
    let ready = db::ready_orders(ctx.store(COMMAND)?.conn())?;
    let mut planned = Vec::new();
    for order in ready {
        let plan = {
            let store = ctx.store(COMMAND)?;
            plan(store.conn(), cfg, order)?
        };
        match plan {
            Ok(p) => planned.push(p),
            Err((order_id, reason)) => {
                counts.to_review += 1;
                tracing::info!(order_id = %order_id, reason, "order sent to review");
                let store = ctx.store(COMMAND)?;
                let at = rfc3339(ctx.clock.now());
                orders_db::record_issue(store.conn(), &order_id, COMMAND, reason, None, &at)?;
                db::set_stage(store.conn(), &order_id, Stage::Review)?;
            }
        }
    }

    let mut stop: Option<anyhow::Error> = None;
    let confirm_now = !args.no_confirm && cfg.labels.confirm_shipment == ConfirmMode::OnLabel;
    let mut amazon: Option<spapi::Client<'_>> = None;
    if !planned.is_empty() {
        let client = postnl_client(ctx, cfg)?;
        let bar = ctx.ui.progress(planned.len() as u64, "labels");
        // 2 and 3, four parcels at a time: barcodes, committed together before the
        // label call, then one label call for the four.
        'batches: for chunk in planned.chunks(pn::models::MAX_SHIPMENTS) {
            let mut ready = Vec::new();
            let mut fresh = Vec::new();
            for p in chunk {
                match parcel_for(ctx, &client, &customer_code, &customer_number, p) {
                    Ok((parcel, new)) => {
                        if new {
                            fresh.push(parcel.clone());
                        }
                        ready.push((p, parcel));
                    }
                    Err(e) if e.is_order_failure() => {
                        counts.failed += 1;
                        fail(
                            ctx,
                            &p.order.order_id,
                            &format!("postnl_barcode_{}", error_code(&e)),
                        )?;
                    }
                    Err(e) => {
                        stop = Some(e.into());
                        break 'batches;
                    }
                }
            }
            if !fresh.is_empty() {
                let at = rfc3339(ctx.clock.now());
                let mut store = ctx.store(COMMAND)?;
                store.tx(|tx| {
                    for parcel in &fresh {
                        db::reserve(tx, parcel, &at)?;
                    }
                    Ok(())
                })?;
                crate::failpoint::hit("make-labels:barcodes-reserved");
            }
            if ready.is_empty() {
                continue;
            }
            if let Err(e) = label_batch(ctx, &client, cfg, &sender, &ready, now, &mut counts) {
                stop = Some(e);
                break;
            }
            bar.inc(chunk.len() as u64);
            // Confirm as soon as the labels exist, so that Amazon's pacing of
            // confirmShipment overlaps with the label calls instead of following them.
            if confirm_now {
                let ids: Vec<String> = ready
                    .iter()
                    .map(|(p, _)| p.order.order_id.clone())
                    .collect();
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
                    && let Err(e) = confirm_orders(ctx, cfg, client, Some(&ids), &mut counts)
                {
                    stop = Some(e);
                    break;
                }
            }
        }
        bar.finish_and_clear();
    }

    // 4. One print file with every label not printed yet.
    let print_file = write_print_file(ctx, cfg, args)?;

    // 5. Confirm what is still unconfirmed (from earlier runs that failed to).
    if stop.is_none() && confirm_now {
        let pending = !db::unconfirmed(ctx.store(COMMAND)?.conn())?.is_empty();
        if pending {
            let result = match amazon.take() {
                Some(client) => confirm_orders(ctx, cfg, &client, None, &mut counts),
                None => confirm_all(ctx, cfg, &mut counts),
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

fn error_code(e: &PostnlError) -> String {
    e.issues().first().map_or_else(
        || "error".to_string(),
        |n| {
            n.code
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(12)
                .collect()
        },
    )
}

/// Records an order-level failure; the order stays where it is and is tried again.
fn fail(ctx: &Ctx, order_id: &str, reason: &str) -> anyhow::Result<()> {
    let store = ctx.store(COMMAND)?;
    orders_db::record_issue(
        store.conn(),
        order_id,
        COMMAND,
        reason,
        None,
        &rfc3339(ctx.clock.now()),
    )?;
    Ok(())
}

/// Sends an order to review with a reason.
fn to_review(ctx: &Ctx, order_id: &str, reason: &str) -> anyhow::Result<()> {
    fail(ctx, order_id, reason)?;
    db::set_stage(ctx.store(COMMAND)?.conn(), order_id, Stage::Review)?;
    Ok(())
}

fn account(cfg: &Config) -> anyhow::Result<(String, String)> {
    let p = &cfg.postnl;
    match (&p.customer_code, &p.customer_number) {
        (Some(c), Some(n)) => Ok((c.clone(), n.clone())),
        _ => Err(AppError::config(format!(
            "{}: postnl.customer_code and postnl.customer_number are needed for labels",
            cfg.source()
        ))
        .hint("PostNL gives both with your contract (Mijn PostNL, API beheren)")
        .into()),
    }
}

/// The sender address, from `[seller]`.
fn sender(cfg: &Config) -> anyhow::Result<Address> {
    let s = &cfg.seller;
    let missing = [
        ("seller.street", s.street.is_none()),
        ("seller.house_nr", s.house_nr.is_none()),
        ("seller.zipcode", s.zipcode.is_none()),
        ("seller.city", s.city.is_none()),
        ("seller.company", s.company.is_none() && s.name.is_none()),
    ]
    .into_iter()
    .filter(|(_, m)| *m)
    .map(|(k, _)| k)
    .collect::<Vec<_>>();
    if !missing.is_empty() {
        return Err(AppError::config(format!(
            "{}: the sender address is incomplete: {}",
            cfg.source(),
            missing.join(", ")
        ))
        .hint("fill in [seller] in the config: it is the sender on every label")
        .into());
    }
    let p = |v: &Option<String>| v.clone().map(Pii::new);
    Ok(Address {
        address_type: AddressType::Sender,
        company_name: p(&s.company),
        name: p(&s.name),
        street: p(&s.street),
        house_nr: p(&s.house_nr),
        house_nr_ext: p(&s.house_nr_ext),
        zipcode: p(&s.zipcode),
        city: p(&s.city),
        countrycode: s.country.clone().unwrap_or_else(|| "NL".into()),
        ..Address::default()
    })
}

fn postnl_client<'a>(ctx: &'a Ctx, cfg: &Config) -> anyhow::Result<pn::Client<'a>> {
    let key: SecretString = cfg.resolve_secret(&cfg.postnl.api_key())?;
    let client = pn::Client::new(
        ctx.http()?,
        &cfg.postnl.base_url(),
        key,
        crate::transport::RetryPolicy {
            max_tries: cfg.postnl.max_tries,
            base: std::time::Duration::from_millis(cfg.postnl.retry_base_ms),
            cap: std::time::Duration::from_secs(120),
        },
        &ctx.clock,
    )?;
    Ok(match cfg.postnl.calls_per_minute {
        Some(n) => client.with_pacing(n),
        None => client,
    })
}

/// Longest value PostNL takes for names, company and city.
const MAX_NAME: usize = 35;

fn too_long(v: Option<&String>) -> bool {
    v.is_some_and(|s| s.chars().count() > MAX_NAME)
}

/// Works out what an order's label needs; `Err` carries the review reason.
fn plan(
    conn: &rusqlite::Connection,
    cfg: &Config,
    order: LabelOrder,
) -> anyhow::Result<Result<Planned, (String, &'static str)>> {
    let id = order.order_id.clone();
    // An order whose figures make no sense (negative, not adding up, charged without a
    // quantity) is corrupt or crafted: a person looks at it in Seller Central before a
    // label is paid for and the shipment confirmed (issue #15, item 5).
    if let Some(facts) = crate::store::invoices::order_facts(conn, &id)?
        && let Err(n) = crate::order_check::check(facts.grand_total.as_deref(), &facts.items)
    {
        return Ok(Err((id, n.reason)));
    }
    // No address at all: the Direct-to-Consumer Shipping role is missing, or Amazon
    // has not released it yet.
    let Some(pii) = orders_db::pii(conn, &id)?.filter(|p| {
        p.address_line1.is_some()
            || p.address_line2.is_some()
            || p.address_line3.is_some()
            || p.postal_code.is_some()
            || p.city.is_some()
    }) else {
        return Ok(Err((id, "no_address")));
    };
    let pii = match printable_pii(pii) {
        Ok(p) => p,
        Err(reason) => return Ok(Err((id, reason))),
    };
    let country = pii
        .country_code
        .clone()
        .or_else(|| order.destination_country.clone())
        .unwrap_or_default()
        .to_ascii_uppercase();
    // Only items with a quantity go in the parcel: Amazon lists removed items with
    // quantity 0, and an order with nothing else has nothing to ship, so it goes to
    // review (`no_items`) before PostNL is asked for a barcode or a paid label
    // (issue #15, item 4). The confirmation leaves them out too (`unconfirmed`).
    let shipped: Vec<(&str, i64)> = order
        .items
        .iter()
        .filter(|(_, _, q)| *q > 0)
        .map(|(_, s, q)| (s.as_str(), *q))
        .collect();
    let skus: Vec<&str> = shipped.iter().map(|(s, _)| *s).collect();
    let product = match products::choose(&country, &skus, order.is_business, &cfg.labels) {
        Ok(p) => p,
        Err(e) => return Ok(Err((id, e.code()))),
    };
    let weights = shipped;
    let weight = products::weight(&weights, &cfg.labels);
    if too_long(pii.recipient_name.as_ref()) || too_long(pii.city.as_ref()) {
        return Ok(Err((id, "field_too_long")));
    }
    let receiver = match db::address_override(conn, &id)? {
        Some(o) => {
            let raw_zip = o
                .zipcode
                .clone()
                .or_else(|| pii.postal_code.clone())
                .unwrap_or_default();
            let Ok(zip) = address::normalise_postcode(&country, &raw_zip) else {
                return Ok(Err((id, "bad_zipcode")));
            };
            Address {
                address_type: AddressType::Receiver,
                name: pii.recipient_name.clone().map(Pii::new),
                company_name: pii
                    .recipient_company
                    .clone()
                    .filter(|c| c.chars().count() <= MAX_NAME)
                    .map(Pii::new),
                street: Some(Pii::new(o.street)),
                house_nr: Some(Pii::new(o.house_nr)),
                house_nr_ext: o.house_nr_ext.map(Pii::new),
                zipcode: Some(Pii::new(zip)),
                city: o.city.or_else(|| pii.city.clone()).map(Pii::new),
                countrycode: country.clone(),
                ..Address::default()
            }
        }
        None => match split_receiver(&pii, &country) {
            Ok(a) => a,
            Err(reason) => return Ok(Err((id, reason))),
        },
    };
    let contacts = if cfg.labels.notify_buyer {
        // Only the phone is in the data fulfil keeps; the buyer's e-mail is not asked for.
        pii.phone
            .clone()
            .filter(|p| (10..=17).contains(&p.chars().count()))
            .map(|p| {
                vec![Contact {
                    contact_type: ContactType::Receiver,
                    sms_nr: Some(Pii::new(p)),
                    ..Contact::default()
                }]
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok(Ok(Planned {
        order,
        product,
        weight,
        receiver,
        contacts,
    }))
}

/// The personal data with every text cleaned of control, format and private-use
/// characters before anything is split or sent (issue #15, item 6); `Err` is
/// `unprintable_text` when the name (or company), the city or the address lines were
/// given but nothing printable is left of them.
fn printable_pii(p: PiiRow) -> Result<PiiRow, &'static str> {
    use crate::printable::{UNPRINTABLE, sensible};
    let given = |v: &Option<String>| v.as_ref().is_some_and(|s| !s.trim().is_empty());
    let clean = |v: &Option<String>| v.as_deref().and_then(sensible);
    let out = PiiRow {
        recipient_name: clean(&p.recipient_name),
        recipient_company: clean(&p.recipient_company),
        address_line1: clean(&p.address_line1),
        address_line2: clean(&p.address_line2),
        address_line3: clean(&p.address_line3),
        city: clean(&p.city),
        district: clean(&p.district),
        state_region: clean(&p.state_region),
        postal_code: clean(&p.postal_code),
        phone: clean(&p.phone),
        ..p.clone()
    };
    let lost = |before: &[&Option<String>], after: &[&Option<String>]| {
        before.iter().any(|v| given(v)) && after.iter().all(|v| v.is_none())
    };
    if lost(
        &[&p.recipient_name, &p.recipient_company],
        &[&out.recipient_name, &out.recipient_company],
    ) || lost(&[&p.city], &[&out.city])
        || lost(
            &[&p.address_line1, &p.address_line2, &p.address_line3],
            &[&out.address_line1, &out.address_line2, &out.address_line3],
        )
    {
        return Err(UNPRINTABLE);
    }
    Ok(out)
}

/// Splits Amazon's address lines into PostNL's fields; `Err` is a review reason.
fn split_receiver(pii: &PiiRow, country: &str) -> Result<Address, &'static str> {
    let input = AddressInput {
        lines: [
            text(pii.address_line1.as_ref()),
            text(pii.address_line2.as_ref()),
            text(pii.address_line3.as_ref()),
        ],
        company: pii.recipient_company.as_deref(),
        postal_code: pii.postal_code.as_deref().unwrap_or(""),
        country,
    };
    let split = address::split(&input).map_err(|r| r.reason.code())?;
    if split.confidence == Confidence::Check {
        return Err("address_check");
    }
    let opt = |s: String| {
        if s.is_empty() {
            None
        } else {
            Some(Pii::new(s))
        }
    };
    Ok(Address {
        address_type: AddressType::Receiver,
        name: pii.recipient_name.clone().map(Pii::new),
        company_name: split.company.map(Pii::new),
        street: opt(split.street),
        house_nr: opt(split.house_nr),
        house_nr_ext: opt(split.house_nr_ext),
        zipcode: opt(split.zipcode),
        city: pii.city.clone().map(Pii::new),
        countrycode: country.to_string(),
        buildingname: split.building.map(Pii::new),
        department: split.department.map(Pii::new),
        ..Address::default()
    })
}

/// The order's parcel: the one already reserved (`false`), or a new barcode (`true`)
/// that the caller must commit before asking for the label.
fn parcel_for(
    ctx: &Ctx,
    client: &pn::Client<'_>,
    customer_code: &str,
    customer_number: &str,
    p: &Planned,
) -> Result<(Parcel, bool), PostnlError> {
    let existing = ctx
        .store(COMMAND)
        .ok()
        .and_then(|s| db::parcel(s.conn(), &p.order.order_id).ok().flatten());
    if let Some(parcel) = existing {
        return Ok((parcel, false));
    }
    let kind = BarcodeKind::for_country(&p.receiver.countrycode).unwrap_or(BarcodeKind::Eu);
    let barcode = client.barcode(customer_code, customer_number, kind)?;
    Ok((
        Parcel {
            order_id: p.order.order_id.clone(),
            barcode,
            product_code: p.product.code.clone(),
            product_options: serde_json::to_string(&p.product.options)
                .unwrap_or_else(|_| "[]".into()),
            weight_g: p.weight,
            package_reference_id: "1".into(),
            labelled_at: None,
            confirmed_at: None,
        },
        true,
    ))
}

/// The first weekday after `today` that letterbox parcels are delivered (not Sunday or
/// Monday).
fn letterbox_delivery(today: Date) -> Date {
    let mut d = today.next_day().unwrap_or(today);
    while matches!(d.weekday(), Weekday::Sunday | Weekday::Monday) {
        d = d.next_day().unwrap_or(d);
    }
    d
}

fn shipment(p: &Planned, parcel: &Parcel, now: OffsetDateTime) -> Shipment {
    let options: Vec<(String, String)> =
        serde_json::from_str(&parcel.product_options).unwrap_or_default();
    Shipment {
        addresses: vec![p.receiver.clone()],
        barcode: parcel.barcode.clone(),
        contacts: p.contacts.clone(),
        dimension: Dimension {
            weight: parcel.weight_g,
        },
        product_code_delivery: parcel.product_code.clone(),
        product_options: options
            .into_iter()
            .map(|(c, o)| ProductOption {
                characteristic: c,
                option: o,
            })
            .collect(),
        reference: Some(p.order.order_id.clone()),
        delivery_date: p.product.letterbox.then(|| {
            let local = pn::models::amsterdam_time(now).date();
            Stamp::date(letterbox_delivery(local))
        }),
    }
}

/// One label call for up to four parcels; a batch refused as a whole is retried one by
/// one so that one bad address does not hold up the others.
fn label_batch(
    ctx: &Ctx,
    client: &pn::Client<'_>,
    cfg: &Config,
    sender: &Address,
    batch: &[(&Planned, Parcel)],
    now: OffsetDateTime,
    counts: &mut Counts,
) -> anyhow::Result<()> {
    let customer = Customer {
        customer_code: cfg.postnl.customer_code.clone().unwrap_or_default(),
        customer_number: cfg.postnl.customer_number.clone().unwrap_or_default(),
        collection_location: cfg.postnl.collection_location.clone(),
        contact_person: None,
        email: None,
        name: None,
        address: sender.clone(),
    };
    let id = format!(
        "F{:09}{:02}",
        now.unix_timestamp().rem_euclid(1_000_000_000),
        batch.len()
    );
    let request = LabelRequest {
        customer,
        message: Message::new(id, now)?,
        shipments: batch
            .iter()
            .map(|(p, parcel)| shipment(p, parcel, now))
            .collect(),
    };
    let response = match client.label(&request, true) {
        Ok(r) => r,
        Err(e) if e.is_order_failure() && batch.len() > 1 => {
            for one in batch {
                label_batch(
                    ctx,
                    client,
                    cfg,
                    sender,
                    std::slice::from_ref(one),
                    now,
                    counts,
                )?;
            }
            return Ok(());
        }
        Err(e) if e.is_order_failure() => {
            counts.failed += 1;
            to_review(
                ctx,
                &batch[0].0.order.order_id,
                &format!("postnl_rejected_{}", error_code(&e)),
            )?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    // A kill here loses PostNL's answer: the next run asks again for the same barcodes.
    crate::failpoint::hit("make-labels:label-answered");
    let at = rfc3339(ctx.clock.now());
    let mut made = Vec::new();
    let mut refused = Vec::new();
    for ((p, parcel), result) in batch.iter().zip(response.shipments) {
        let order_id = &p.order.order_id;
        match result.outcome {
            Ok(labels) => {
                let pdfs: Vec<Vec<u8>> = labels.iter().map(|l| l.content.clone()).collect();
                let label_type = labels.first().map_or("Label", |l| l.label_type.as_str());
                // Several documents (e.g. customs forms) are kept as one PDF.
                let pdf = if pdfs.len() == 1 {
                    pdfs.into_iter().next().unwrap_or_default()
                } else {
                    print::merge(&pdfs, Layout::A6).map(|(b, _)| b)?
                };
                if !result.warnings.is_empty() {
                    let codes: Vec<&str> =
                        result.warnings.iter().map(|w| w.code.as_str()).collect();
                    tracing::info!(order_id = %order_id, warnings = ?codes, "label made with warnings");
                }
                made.push((
                    order_id,
                    parcel.barcode.as_str(),
                    label_type.to_string(),
                    pdf,
                ));
            }
            Err(e) => refused.push((order_id, error_code(&e))),
        }
    }
    // The batch's labels in one transaction, right after the answer.
    let mut store = ctx.store(COMMAND)?;
    store.tx(|tx| {
        for (order_id, barcode, label_type, pdf) in &made {
            db::save_label(tx, order_id, barcode, label_type, pdf, &at)?;
            orders_db::clear_issue(tx, order_id, COMMAND)?;
        }
        Ok(())
    })?;
    drop(store);
    counts.labelled += made.len() as u64;
    for (order_id, code) in refused {
        counts.failed += 1;
        to_review(ctx, order_id, &format!("postnl_rejected_{code}"))?;
    }
    Ok(())
}

/// Merges every label not yet printed into the print file (or pipes it to a printer).
fn write_print_file(
    ctx: &Ctx,
    cfg: &Config,
    args: &MakeLabelsArgs,
) -> anyhow::Result<Option<(String, usize)>> {
    let pending: Vec<(String, Vec<u8>)> = {
        let store = ctx.store(COMMAND)?;
        let mut stmt = store.conn().prepare(
            "SELECT p.order_id, l.pdf FROM parcels p JOIN label_files l USING (order_id)
             WHERE p.printed_at IS NULL ORDER BY p.labelled_at, p.order_id",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?
    };
    if pending.is_empty() {
        return Ok(None);
    }
    let ids: Vec<String> = pending.iter().map(|(id, _)| id.clone()).collect();
    let pdfs: Vec<Vec<u8>> = pending.into_iter().map(|(_, pdf)| pdf).collect();
    let out = deliver(ctx, cfg, args, &pdfs, &ids)?;
    let store = ctx.store(COMMAND)?;
    db::mark_printed(store.conn(), &ids, &rfc3339(ctx.clock.now()))?;
    Ok(Some(out))
}

/// Writes (or pipes) a print file of the given labels; returns where it went and its pages.
fn deliver(
    ctx: &Ctx,
    cfg: &Config,
    args: &MakeLabelsArgs,
    pdfs: &[Vec<u8>],
    ids: &[String],
) -> anyhow::Result<(String, usize)> {
    let layout = match cfg.labels.layout {
        PrintLayout::A6 => Layout::A6,
        PrintLayout::A4 => Layout::A4 {
            start: cfg.labels.a4_start,
        },
    };
    let (bytes, pages) = print::merge(pdfs, layout)?;
    if let Some(cmd) = &args.print_command {
        pipe(cmd, &bytes, cfg.print_timeout())?;
        return Ok((format!("| {cmd}"), pages));
    }
    // The print file's name is taken (created empty, exclusively) before it is recorded
    // and written, so that no other file is ever replaced: a reprint in the same second
    // as its batch gets a name of its own instead of the batch's (issue #15).
    let path = match &args.out {
        Some(p) if args.overwrite => p.clone(),
        Some(p) => {
            create_dir_private(p)?;
            reserve(p).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    anyhow::Error::new(out_exists(p))
                } else {
                    anyhow::Error::new(e).context(format!("cannot write {}", p.display()))
                }
            })?;
            p.clone()
        }
        None => {
            let stamp =
                time::macros::format_description!("[year][month][day]-[hour][minute][second]");
            let stamp = ctx.clock.now().format(&stamp).unwrap_or_default();
            reserve_unique(&cfg.labels_dir(), &format!("labels-{stamp}"))?
        }
    };
    // Recorded for purge before it has content: a run killed between writing the file
    // and recording it would leave labels with names and addresses that purge never
    // hears of (issue #8). A record whose file stayed empty is harmless to purge.
    let track = || -> anyhow::Result<()> {
        let store = ctx.store(COMMAND)?;
        db::track_file(
            store.conn(),
            &path.display().to_string(),
            "labels",
            ids,
            &rfc3339(ctx.clock.now()),
        )?;
        Ok(())
    };
    if let Err(e) =
        track().and_then(|()| files::write_private(&path, &bytes, Durability::Synced, None))
    {
        // The name taken for it goes again, unless the seller's own file was replaced.
        if !args.overwrite {
            let _ = std::fs::remove_file(&path);
        }
        return Err(e);
    }
    crate::failpoint::hit("make-labels:print-file-written");
    Ok((path.display().to_string(), pages))
}

/// The error for `--out` onto a file that exists.
fn out_exists(path: &Path) -> AppError {
    AppError::config(format!(
        "{} already exists; a print file never replaces a file",
        path.display()
    ))
    .hint("choose another --out FILE, or add --overwrite to replace it")
}

/// Creates the directory a file goes in (mode 0700), if need be.
fn create_dir_private(path: &Path) -> anyhow::Result<()> {
    files::create_private_dir(&files::parent_dir(path))
}

/// Takes a file name by creating the file empty (mode 0600), exclusively: fails with
/// `AlreadyExists` when any file (or link) has that name.
fn reserve(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

/// Most names tried for one second's print file before giving up.
const MAX_SUFFIX: u32 = 999;

/// Takes the first free name of `STEM.pdf`, `STEM_2.pdf`, `STEM_3.pdf`, … in `dir`
/// (created 0700 if need be). `_` sorts after `.`, so the names sort by time, and the
/// second print file of a second after the first.
fn reserve_unique(dir: &Path, stem: &str) -> anyhow::Result<PathBuf> {
    create_dir_private(&dir.join(stem))?;
    for n in 1..=MAX_SUFFIX {
        let name = if n == 1 {
            format!("{stem}.pdf")
        } else {
            format!("{stem}_{n}.pdf")
        };
        let path = dir.join(name);
        match reserve(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("cannot write in {}", dir.display()))
                );
            }
        }
    }
    Err(AppError::new(
        crate::error::Exit::Failed,
        format!(
            "{MAX_SUFFIX} print files named {stem} already exist in {}",
            dir.display()
        ),
    )
    .hint("move the old print files out of the labels directory")
    .into())
}

/// Pipes the print file to the seller's command (see [`crate::child`]: its own process
/// group, a time limit). A failure leaves the labels unprinted: the next run prints them.
fn pipe(cmd: &str, bytes: &[u8], limit: std::time::Duration) -> anyhow::Result<()> {
    let status = match crate::child::run(cmd, Some(bytes), false, limit) {
        Ok(f) => f.status,
        Err(crate::child::ChildError::TimedOut(_)) => {
            return Err(AppError::new(
                crate::error::Exit::Failed,
                format!(
                    "--print-command did not finish within {} s; it was stopped and the labels stay unprinted",
                    limit.as_secs()
                ),
            )
            .hint("the next run prints them again (or: make-labels --reprint ORDER)")
            .hint(format!(
                "if the printer needs longer, raise labels.print_timeout_secs (now {})",
                limit.as_secs()
            ))
            .into());
        }
        Err(e) => {
            return Err(anyhow::Error::new(e).context("cannot run the print command"));
        }
    };
    if !status.success() {
        return Err(AppError::new(
            crate::error::Exit::Failed,
            format!("the print command failed ({status}); the labels stay unprinted"),
        )
        .hint("the next run tries again, or use --out FILE")
        .into());
    }
    Ok(())
}

/// Confirms every labelled parcel to Amazon. Order-level refusals are recorded and the
/// others go on; a permission or temporary problem stops here, to be retried.
pub fn confirm_all(ctx: &Ctx, cfg: &Config, counts: &mut Counts) -> anyhow::Result<()> {
    if db::unconfirmed(ctx.store(COMMAND)?.conn())?.is_empty() {
        return Ok(());
    }
    let client = ctx.spapi(COMMAND)?;
    confirm_orders(ctx, cfg, &client, None, counts)
}

/// Confirms the labelled, unconfirmed parcels (all, or only the given orders).
fn confirm_orders(
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
                    db::mark_confirmed(tx, &c.parcel.order_id, &at, &due)?;
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
                db::confirm_failed(store.conn(), &c.parcel.order_id, &code)?;
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

fn reprint(
    ctx: &Ctx,
    cfg: &Config,
    args: &MakeLabelsArgs,
    order_id: &str,
) -> anyhow::Result<Outcome> {
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
    let (path, pages) = deliver(ctx, cfg, args, &[pdf], &[order_id.to_string()])?;
    if !ctx.global.json && ctx.ui.stdout_is_terminal() {
        ctx.ui.out(&path);
    }
    Ok(Outcome::ok(
        json!({"command": COMMAND, "reprint": order_id, "print_file": path, "pages": pages}),
    ))
}

fn text(v: Option<&String>) -> &str {
    v.map_or("", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn letterbox_parcels_are_not_delivered_on_sunday_or_monday() {
        // 2026-11-20 is a Friday.
        assert_eq!(
            letterbox_delivery(date!(2026 - 11 - 20)),
            date!(2026 - 11 - 21)
        );
        assert_eq!(
            letterbox_delivery(date!(2026 - 11 - 21)),
            date!(2026 - 11 - 24)
        );
        assert_eq!(
            letterbox_delivery(date!(2026 - 11 - 22)),
            date!(2026 - 11 - 24)
        );
        assert_eq!(
            letterbox_delivery(date!(2026 - 11 - 23)),
            date!(2026 - 11 - 24)
        );
    }
}
