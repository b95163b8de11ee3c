//! Steps 2 and 3 of make-labels, four parcels at a time: a barcode per parcel (or the
//! ones an earlier run reserved), the new ones committed together before the label call
//! so that a rerun after a crash reuses them instead of making a second parcel, then one
//! PostNL label call for the four, whose labels are stored in one transaction. An order
//! of several parcels (issue #19) has them all in the same call, as a multi-collo group
//! (`GroupType` 03, parcel 1's barcode the main one), labelled whole or not at all. A batch
//! refused as a whole is asked again one order (with its group) at a time; an order PostNL refuses goes
//! to review. Also the sender and the PostNL account from the config.

use time::{Date, OffsetDateTime, Weekday};

use crate::clock::rfc3339;
use crate::config::{Config, LabelFormat};
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::labels::plan::Planned;
use crate::labels::print::{self, Layout};
use crate::labels::{COMMAND, Counts};
use crate::logging::Pii;
use crate::postnl::models::{
    Address, AddressType, BarcodeKind, Customer, Dimension, Group, LabelRequest, Message, Printer,
    ProductOption, Shipment, Stamp,
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
    format: LabelFormat,
}

/// The PostNL printer type of a label format.
#[must_use]
pub fn printer(format: LabelFormat) -> Printer {
    match format {
        LabelFormat::Pdf => Printer::Pdf,
        LabelFormat::Zpl203 => Printer::Zpl200,
        LabelFormat::Zpl300 => Printer::Zpl300,
    }
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
            format: cfg.labels.format,
        }
    }

    /// The labels of this run are made as `format` (`--format`) instead of the
    /// configured one.
    #[must_use]
    pub fn with_format(mut self, format: LabelFormat) -> Self {
        self.format = format;
        self
    }

    /// Asks PostNL again for an order's labels, for its reserved barcodes, as `format`
    /// (a reprint in another format than the stored one, issue #19), without announcing
    /// the parcels again (`confirm=false`: they were announced with their first labels).
    /// The new labels replace the stored ones. `Err` when PostNL refuses or cannot be
    /// reached.
    pub fn relabel(&self, p: &Planned, parcels: &[Parcel]) -> anyhow::Result<()> {
        let request = self.request(&[(p, parcels.to_vec())])?;
        let response = self.client.label(&request, false)?;
        let mut made = Vec::new();
        for (parcel, result) in parcels.iter().zip(response.shipments) {
            let labels = result.outcome?;
            made.push((parcel.parcel_no, self.combine(&labels)?));
        }
        if made.len() != parcels.len() {
            anyhow::bail!("PostNL answered without every label");
        }
        let at = rfc3339(self.ctx.clock.now());
        let mut store = self.ctx.store(COMMAND)?;
        let format = self.format.as_str();
        let order_id = p.order.order_id.as_str();
        store.tx(|tx| {
            for (parcel_no, (label_type, bytes)) in &made {
                db::replace_label(tx, (order_id, *parcel_no), label_type, (bytes, format), &at)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// The label request for up to four parcels (an order's multi-collo group always
    /// in the same request).
    fn request(&self, batch: &[(&Planned, Vec<Parcel>)]) -> anyhow::Result<LabelRequest> {
        let cfg = self.cfg;
        let customer = Customer {
            customer_code: cfg.postnl.customer_code.clone().unwrap_or_default(),
            customer_number: cfg.postnl.customer_number.clone().unwrap_or_default(),
            collection_location: cfg.postnl.collection_location.clone(),
            contact_person: None,
            email: None,
            name: None,
            address: self.sender.address.clone(),
        };
        let now = self.now;
        let shipments: Vec<Shipment> = batch
            .iter()
            .flat_map(|(p, parcels)| parcels.iter().map(move |parcel| (p, parcels, parcel)))
            .map(|(p, parcels, parcel)| {
                let mut s = shipment(p, parcel, now);
                if parcels.len() > 1 {
                    let count = u32::try_from(parcels.len()).unwrap_or(u32::MAX);
                    s.groups = vec![Group::multi_collo(
                        parcel.parcel_no,
                        count,
                        &parcels[0].barcode,
                    )];
                }
                s
            })
            .collect();
        let id = format!(
            "F{:09}{:02}",
            now.unix_timestamp().rem_euclid(1_000_000_000),
            shipments.len()
        );
        Ok(LabelRequest {
            customer,
            message: Message::new(id, now)?.with_printer(printer(self.format)),
            shipments,
        })
    }

    /// One parcel's documents as one stored label: a PDF (several documents, e.g.
    /// customs forms, merged) or ZPL (the documents' blocks one after another).
    fn combine(&self, labels: &[pn::models::Label]) -> anyhow::Result<(String, Vec<u8>)> {
        let label_type = labels
            .first()
            .map_or("Label", |l| l.label_type.as_str())
            .to_string();
        let bytes = if labels.len() == 1 {
            labels[0].content.clone()
        } else if self.format.is_zpl() {
            print::concat_zpl(labels.iter().map(|l| l.content.as_slice()))
        } else {
            let pdfs: Vec<Vec<u8>> = labels.iter().map(|l| l.content.clone()).collect();
            print::merge(&pdfs, Layout::A6).map(|(b, _)| b)?
        };
        Ok((label_type, bytes))
    }

    /// Barcodes for a batch, committed together before the label call (an order's
    /// parcels all in the same transaction), then one label call for the batch. An
    /// `Err` is a store failure that ends the run at once.
    pub fn batch(&self, chunk: &[Planned], counts: &mut Counts) -> anyhow::Result<Chunk> {
        let ctx = self.ctx;
        let mut ready = Vec::new();
        let mut fresh = Vec::new();
        for p in chunk {
            match parcels_for(
                ctx,
                self.client,
                &self.sender.customer_code,
                &self.sender.customer_number,
                p,
            ) {
                Ok((parcels, new)) => {
                    if new {
                        fresh.extend(parcels.iter().cloned());
                    }
                    ready.push((p, parcels));
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
        if let Err(e) = label_batch(self, &ready, counts) {
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

/// Cuts the planned orders into label calls of at most four parcels, keeping each
/// order's parcels (a multi-collo group) in one call.
#[must_use]
pub fn chunks(planned: &[Planned]) -> Vec<&[Planned]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut parcels = 0;
    for (i, p) in planned.iter().enumerate() {
        let n = p.parcels.len().max(1);
        if i > start && parcels + n > pn::models::MAX_SHIPMENTS {
            out.push(&planned[start..i]);
            start = i;
            parcels = 0;
        }
        parcels += n;
    }
    if start < planned.len() {
        out.push(&planned[start..]);
    }
    out
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

/// The order's parcels: those already reserved (`false`), or new barcodes (`true`),
/// one per planned parcel, that the caller must commit together before asking for the
/// labels. A rerun never reserves a second set: the set is committed in one
/// transaction, so an order has all its parcels or none.
fn parcels_for(
    ctx: &Ctx,
    client: &pn::Client<'_>,
    customer_code: &str,
    customer_number: &str,
    p: &Planned,
) -> Result<(Vec<Parcel>, bool), PostnlError> {
    let existing = ctx
        .store(COMMAND)
        .ok()
        .and_then(|s| db::parcels(s.conn(), &p.order.order_id).ok())
        .unwrap_or_default();
    if !existing.is_empty() {
        return Ok((existing, false));
    }
    let kind = BarcodeKind::for_country(&p.receiver.countrycode).unwrap_or(BarcodeKind::Eu);
    let count = u32::try_from(p.parcels.len().max(1)).unwrap_or(1);
    let mut out = Vec::new();
    for (i, plan) in p.parcels.iter().enumerate() {
        let barcode = client.barcode(customer_code, customer_number, kind)?;
        let no = u32::try_from(i + 1).unwrap_or(1);
        out.push(Parcel {
            order_id: p.order.order_id.clone(),
            parcel_no: no,
            parcel_count: count,
            items: (count > 1).then(|| plan.items.clone()),
            barcode,
            product_code: p.product.code.clone(),
            product_options: serde_json::to_string(&p.product.options)
                .unwrap_or_else(|_| "[]".into()),
            weight_g: if count > 1 { plan.weight_g } else { p.weight },
            package_reference_id: no.to_string(),
            labelled_at: None,
            confirmed_at: None,
        });
    }
    Ok((out, true))
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
        groups: Vec::new(),
    }
}

/// Why PostNL refused an order: `postnl_rejected_CODE`, or for a multi-collo group
/// `postnl_group_CODE` (e.g. a child parcel with an insurance amount), so that
/// `fulfil review` says the group was the problem.
fn refusal(e: &PostnlError, group: bool) -> String {
    if group {
        format!("postnl_group_{}", error_code(e))
    } else {
        format!("postnl_rejected_{}", error_code(e))
    }
}

/// One label call for up to four parcels; a batch refused as a whole is retried one
/// order (with its whole group) at a time, so that one bad address does not hold up the
/// others. An order's labels are stored together or not at all.
fn label_batch(
    l: &Labeller<'_>,
    batch: &[(&Planned, Vec<Parcel>)],
    counts: &mut Counts,
) -> anyhow::Result<()> {
    let ctx = l.ctx;
    let request = l.request(batch)?;
    let response = match l.client.label(&request, true) {
        Ok(r) => r,
        Err(e) if e.is_order_failure() && batch.len() > 1 => {
            for one in batch {
                label_batch(l, std::slice::from_ref(one), counts)?;
            }
            return Ok(());
        }
        Err(e) if e.is_order_failure() => {
            counts.failed += 1;
            to_review(
                ctx,
                &batch[0].0.order.order_id,
                &refusal(&e, batch[0].1.len() > 1),
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
    let mut results = response.shipments.into_iter();
    for (p, parcels) in batch {
        let order_id = &p.order.order_id;
        let mut labels_of_order = Vec::new();
        let mut refusal_of_order = None;
        for parcel in parcels {
            let Some(result) = results.next() else {
                refusal_of_order.get_or_insert_with(|| "postnl_rejected_nolabel".to_string());
                continue;
            };
            match result.outcome {
                Ok(labels) => {
                    let (label_type, bytes) = l.combine(&labels)?;
                    if !result.warnings.is_empty() {
                        let codes: Vec<&str> =
                            result.warnings.iter().map(|w| w.code.as_str()).collect();
                        tracing::info!(order_id = %order_id, warnings = ?codes, "label made with warnings");
                    }
                    labels_of_order.push((
                        parcel.parcel_no,
                        parcel.barcode.as_str(),
                        label_type,
                        bytes,
                    ));
                }
                Err(e) => {
                    refusal_of_order.get_or_insert_with(|| refusal(&e, parcels.len() > 1));
                }
            }
        }
        match refusal_of_order {
            // A group is labelled whole or not at all.
            Some(reason) => refused.push((order_id, reason)),
            None => made.push((order_id, labels_of_order)),
        }
    }
    // The batch's labels in one transaction, right after the answer.
    let format = l.format.as_str();
    let mut store = ctx.store(COMMAND)?;
    store.tx(|tx| {
        for (order_id, labels) in &made {
            for (parcel_no, barcode, label_type, bytes) in labels {
                db::save_label(
                    tx,
                    (order_id, *parcel_no),
                    barcode,
                    label_type,
                    (bytes, format),
                    &at,
                )?;
            }
            orders_db::clear_issue(tx, order_id, COMMAND)?;
        }
        Ok(())
    })?;
    drop(store);
    counts.labelled += made.len() as u64;
    counts.parcels += made.iter().map(|(_, l)| l.len() as u64).sum::<u64>();
    counts.multi_collo += made.iter().filter(|(_, l)| l.len() > 1).count() as u64;
    for (order_id, reason) in refused {
        counts.failed += 1;
        to_review(ctx, order_id, &reason)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postnl::models::Notice;
    use time::macros::date;

    /// Issue #19: PostNL's refusal of a multi-collo group (here the one for a child
    /// parcel with an insurance amount, as the sandbox gives it) sends the order to
    /// review saying that the group was refused, with PostNL's code.
    #[test]
    fn a_refused_group_goes_to_review_with_a_group_reason() {
        let e = PostnlError::Rejected {
            barcode: "3SDEVC987000002".into(),
            issues: vec![Notice {
                code: "21005".into(),
                description: Pii::new("Child shipment cannot contain an insurance amount.".into()),
            }],
        };
        assert_eq!(refusal(&e, true), "postnl_group_21005");
        assert_eq!(refusal(&e, false), "postnl_rejected_21005");
    }

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
