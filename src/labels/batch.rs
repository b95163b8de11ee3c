//! Steps 2 and 3 of make-labels, four parcels at a time: a barcode per parcel (or the
//! one an earlier run reserved), the new ones committed together before the label call
//! so that a rerun after a crash reuses them instead of making a second parcel, then one
//! PostNL label call for the four, whose labels are stored in one transaction. A batch
//! refused as a whole is asked again one parcel at a time; a parcel PostNL refuses goes
//! to review. Also the sender and the PostNL account from the config.

use time::{Date, OffsetDateTime, Weekday};

use crate::clock::rfc3339;
use crate::config::Config;
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::labels::plan::Planned;
use crate::labels::print::{self, Layout};
use crate::labels::{COMMAND, Counts};
use crate::logging::Pii;
use crate::postnl::models::{
    Address, AddressType, BarcodeKind, Customer, Dimension, LabelRequest, Message, ProductOption,
    Shipment, Stamp,
};
use crate::postnl::{self as pn, PostnlError};
use crate::store::labels::{self as db, Parcel};
use crate::store::orders::{self as orders_db, Stage};

/// Who sends the parcels: the sender address and the PostNL account (customer code and
/// number), read from the config before anything is asked of PostNL.
pub struct Sender {
    address: Address,
    customer_code: String,
    customer_number: String,
}

impl Sender {
    /// Checks `[seller]`, then `postnl.customer_code` and `postnl.customer_number`.
    pub fn from_config(cfg: &Config) -> anyhow::Result<Self> {
        let address = sender(cfg)?;
        let (customer_code, customer_number) = account(cfg)?;
        Ok(Self {
            address,
            customer_code,
            customer_number,
        })
    }
}

/// What became of one batch of (up to four) planned orders.
pub enum Chunk {
    /// These orders have their labels now (the batch's others failed or went to review).
    Labelled(Vec<String>),
    /// No order of the batch got as far as the label call.
    Nothing,
    /// A problem that is not one order's (permission, temporary, the store): the run
    /// makes no more labels, writes the print file of what it has and then fails.
    Stopped(anyhow::Error),
}

/// The PostNL client and what every label call of a run shares.
pub struct Labeller<'a> {
    ctx: &'a Ctx,
    cfg: &'a Config,
    client: &'a pn::Client<'a>,
    sender: Sender,
    now: OffsetDateTime,
}

impl<'a> Labeller<'a> {
    /// `now` is the run's time: the label calls' message time and the letterbox
    /// delivery date come from it.
    pub fn new(
        ctx: &'a Ctx,
        cfg: &'a Config,
        client: &'a pn::Client<'a>,
        sender: Sender,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            ctx,
            cfg,
            client,
            sender,
            now,
        }
    }

    /// Barcodes for a batch, committed together before the label call, then one label
    /// call for the batch. An `Err` is a store failure that ends the run at once.
    pub fn batch(&self, chunk: &[Planned], counts: &mut Counts) -> anyhow::Result<Chunk> {
        let ctx = self.ctx;
        let mut ready = Vec::new();
        let mut fresh = Vec::new();
        for p in chunk {
            match parcel_for(
                ctx,
                self.client,
                &self.sender.customer_code,
                &self.sender.customer_number,
                p,
            ) {
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
                Err(e) => return Ok(Chunk::Stopped(e.into())),
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
            return Ok(Chunk::Nothing);
        }
        if let Err(e) = label_batch(
            ctx,
            self.client,
            self.cfg,
            &self.sender.address,
            &ready,
            self.now,
            counts,
        ) {
            return Ok(Chunk::Stopped(e));
        }
        Ok(Chunk::Labelled(
            ready
                .iter()
                .map(|(p, _)| p.order.order_id.clone())
                .collect(),
        ))
    }
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
