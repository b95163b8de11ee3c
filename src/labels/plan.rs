//! Step 1 of make-labels: which ready orders get a label now. For each: the order's
//! figures checked, its personal data cleaned of unprintable characters, the address
//! split into PostNL's fields (or the person's correction from `fulfil review
//! set-address` taken), the product and weight chosen, the buyer's phone for PostNL's
//! notice. An order that needs a person goes to review with a reason code instead.

use crate::clock::rfc3339;
use crate::config::Config;
use crate::ctx::Ctx;
use crate::labels::parcels::{self, ParcelPlan};
use crate::labels::postcode::{Decision, Register};
use crate::labels::products::{self, Product};
use crate::labels::{COMMAND, Counts};
use crate::logging::Pii;
use crate::postnl::address::{self, AddressInput, Confidence};
use crate::postnl::models::{Address, AddressType, Contact, ContactType};
use crate::store::labels::{self as db, LabelOrder};
use crate::store::orders::{self as orders_db, PiiRow, Stage};

/// An order ready for its label call.
pub struct Planned {
    pub order: LabelOrder,
    pub product: Product,
    pub weight: u32,
    /// The parcels it ships as: one, or a multi-collo group of up to four (issue #19).
    pub parcels: Vec<ParcelPlan>,
    pub receiver: Address,
    pub contacts: Vec<Contact>,
}

/// Plans every ready order, the most urgent first (see [`db::ready_orders`]); the orders
/// that need a person go to review now (and are counted in `counts.to_review`), those
/// whose label-printing window is still closed wait (`counts.waiting`).
pub fn ready(
    ctx: &Ctx,
    cfg: &Config,
    register: &Register<'_>,
    counts: &mut Counts,
) -> anyhow::Result<Vec<Planned>> {
    let (ready, closed) = {
        let store = ctx.store(COMMAND)?;
        let now = rfc3339(ctx.clock.now());
        (
            db::ready_orders(store.conn())?,
            crate::store::deadlines::label_window_closed(store.conn(), &now)?,
        )
    };
    let mut planned = Vec::new();
    let now = rfc3339(ctx.clock.now());
    for order in ready {
        // Amazon's label-printing window has not opened: no label yet, and no review.
        if closed.contains(&order.order_id) {
            counts.waiting += 1;
            continue;
        }
        let plan = {
            let store = ctx.store(COMMAND)?;
            plan_with(store.conn(), cfg, register, &now, order)?
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
    Ok(planned)
}

/// Plans one order's label again, whatever its stage (a reprint in another format,
/// issue #19); `Ok(Err(reason))` when it cannot be planned now (an unknown order, its
/// personal data removed, …).
pub fn again(
    ctx: &Ctx,
    cfg: &Config,
    register: &Register<'_>,
    order_id: &str,
) -> anyhow::Result<Result<Planned, &'static str>> {
    let store = ctx.store(COMMAND)?;
    let Some(order) = db::label_order(store.conn(), order_id)? else {
        return Ok(Err("unknown_order"));
    };
    // The register decides again as it did the first time (from its cache, which lives
    // as long as the order's personal data).
    let now = rfc3339(ctx.clock.now());
    Ok(plan_with(store.conn(), cfg, register, &now, order)?.map_err(|(_, reason)| reason))
}

/// [`plan`] with the postcode register asked (through its cache) when it is switched on.
fn plan_with(
    conn: &rusqlite::Connection,
    cfg: &Config,
    register: &Register<'_>,
    now: &str,
    order: LabelOrder,
) -> anyhow::Result<Result<Planned, (String, &'static str)>> {
    let mut check = |conn: &rusqlite::Connection, id: &str, key: (&str, &str, &str)| {
        register.lookup(conn, id, now, key)
    };
    let lookup: Option<&mut Lookup<'_>> = if register.enabled() {
        Some(&mut check)
    } else {
        None
    };
    plan(conn, cfg, order, lookup)
}

/// Longest value PostNL takes for names, company and city.
const MAX_NAME: usize = 35;

fn too_long(v: Option<&String>) -> bool {
    v.is_some_and(|s| s.chars().count() > MAX_NAME)
}

/// Asks the postcode register (through its cache) for (postcode, number, addition) on
/// behalf of an order.
type Lookup<'a> = dyn FnMut(
        &rusqlite::Connection,
        &str,
        (&str, &str, &str),
    ) -> Option<Vec<crate::postnl::postcode::Registered>>
    + 'a;

/// Works out what an order's label needs; `Err` carries the review reason.
fn plan(
    conn: &rusqlite::Connection,
    cfg: &Config,
    order: LabelOrder,
    lookup: Option<&mut Lookup<'_>>,
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
    let mut product = match products::choose(&country, &skus, order.is_business, &cfg.labels) {
        Ok(p) => p,
        Err(e) => return Ok(Err((id, e.code()))),
    };
    let weights = shipped;
    let weight = products::weight(&weights, &cfg.labels);
    // Several parcels (issue #19): by the `[labels.parcels]` rules, or as many as a
    // person set with `fulfil review split`.
    let asked = db::split_of(conn, &id)?.map(|n| n as usize);
    let units: Vec<(String, String, i64)> = order
        .items
        .iter()
        .filter(|(_, _, q)| *q > 0)
        .cloned()
        .collect();
    let parcels = match parcels::split(&units, &cfg.labels, asked) {
        Ok(p) => p,
        Err(e) => return Ok(Err((id, e.code()))),
    };
    if parcels.len() > 1 {
        // PostNL takes multi-collo within the Netherlands and Belgium only.
        if !matches!(country.as_str(), "NL" | "BE") {
            return Ok(Err((id, "multi_collo_country")));
        }
        // A letterbox parcel is one parcel: a group goes as ordinary parcels.
        if product.letterbox {
            product = Product {
                code: cfg.labels.products.nl.clone(),
                options: Vec::new(),
                letterbox: false,
                zone: product.zone,
            };
        }
    }
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
        None => match split_receiver(&pii, &country, |split, cands| {
            // Dutch addresses only: the register is PostNL's Dutch one.
            let lookup = lookup.filter(|_| country == "NL")?;
            let zip = cands.first().map(|c| c.zipcode.clone()).unwrap_or_default();
            let mut ask = |pc: &str, nr: &str, add: &str| lookup(conn, &id, (pc, nr, add));
            Some(crate::labels::postcode::decide(
                &zip, split, cands, &mut ask,
            ))
        }) {
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
        parcels,
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
    // Then what belongs on no label (emoji, symbols) goes too: nothing of it may reach
    // PostNL in any field (issue #18).
    let clean = |v: &Option<String>| {
        v.as_deref()
            .and_then(sensible)
            .map(|s| address::label_text(&s))
            .filter(|s| crate::printable::has_text(s))
    };
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
/// `register` is asked, when it is on, with the splitter's reading and every candidate
/// reading (issue #18); `None` from it means "no register".
fn split_receiver(
    pii: &PiiRow,
    country: &str,
    register: impl FnOnce(Option<&address::Split>, &[address::Split]) -> Option<Decision>,
) -> Result<Address, &'static str> {
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
    let first = address::split(&input);
    let candidates = address::candidates(&input);
    let decided = if candidates.is_empty() {
        None
    } else {
        register(first.as_ref().ok(), &candidates)
    };
    let split = match decided {
        Some(Decision::Label(s)) => s,
        Some(Decision::Review(reason)) => return Err(reason),
        None => {
            let split = first.map_err(|r| r.reason.code())?;
            if split.confidence == Confidence::Check {
                return Err("address_check");
            }
            split
        }
    };
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

fn text(v: Option<&String>) -> &str {
    v.map_or("", String::as_str)
}
