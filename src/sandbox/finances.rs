//! Finances API v0 `GET /finances/v0/financialEvents` (listFinancialEvents): the refunds
//! of shipped orders (issue #17), in the shape of `specs/spapi/financesV0.json`.
//!
//! Refunds come from two places: the generated ones, drawn per shipped order from the
//! seed (about 5 % of orders: a full refund, one unit of one item back, shipping only, a
//! goodwill amount, a return less a restocking fee), posted 2 to 20 days after the order
//! shipped; and those a test adds ([`FinancesState::add`]). An event is served once
//! its `PostedDate` has passed on the sandbox clock and it lies in the window.
//!
//! Rules, as the model documents them: `MaxResultsPerPage` 1 to 100 (default 100);
//! `PostedAfter` and `PostedBefore` must be more than two minutes before the request,
//! `PostedBefore` later than `PostedAfter` and not without it (default: two minutes before
//! now); a window longer than 180 days answers nothing; a `NextToken` is good only with
//! the arguments it was made for. Breaking a rule answers 400 `InvalidInput`.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::clock::{fmt, parse};
use super::orders::{Change, OrderRec, Status};
use super::rng::{Rng, mix};
use super::{Ctx, Request, Response, State, data, invalid_input};

/// Share of shipped orders that get a refund, in per mille.
const REFUND_PER_MILLE: u64 = 50;

#[derive(Debug, Default)]
pub(crate) struct FinancesState {
    /// Refunds a test added: (posted, the `ShipmentEvent`).
    added: Vec<(OffsetDateTime, Value)>,
    /// NextToken → (the arguments it belongs to, offset of the next event).
    tokens: HashMap<String, (String, usize)>,
    issued: u64,
}

impl FinancesState {
    /// Adds a refund event (a `ShipmentEvent` with `PostedDate`).
    pub(crate) fn add(&mut self, event: Value) -> anyhow::Result<()> {
        let posted = event["PostedDate"]
            .as_str()
            .and_then(parse)
            .ok_or_else(|| anyhow::anyhow!("a refund event needs a PostedDate"))?;
        self.added.push((posted, event));
        Ok(())
    }
}

/// When the order shipped, if it has by `now`.
fn shipped_at(rec: &OrderRec, now: OffsetDateTime) -> Option<OffsetDateTime> {
    if let Some((Status::Shipped, at)) = rec.initial {
        return Some(at);
    }
    rec.changes
        .iter()
        .take_while(|c| c.at() <= now)
        .find(|c| {
            matches!(
                c,
                Change::Package { .. }
                    | Change::Status {
                        status: Status::Shipped,
                        ..
                    }
            )
        })
        .map(Change::at)
}

fn order_hash(id: &str) -> u64 {
    id.bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| mix(h ^ u64::from(b)))
}

fn amount(v: &Value) -> Decimal {
    v["amount"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

fn number(d: Decimal) -> Value {
    serde_json::from_str(&d.round_dp(2).normalize().to_string()).unwrap_or(json!(0))
}

fn money(d: Decimal, currency: &str) -> Value {
    json!({ "CurrencyCode": currency, "CurrencyAmount": number(d) })
}

fn charge(kind: &str, d: Decimal, currency: &str) -> Value {
    json!({ "ChargeType": kind, "ChargeAmount": money(d, currency) })
}

/// The breakdown amount of `kind` (and the `TAX` subtype `sub`) of an item.
fn breakdown(item: &Value, kind: &str, sub: Option<&str>) -> Decimal {
    let Some(list) = item["proceeds"]["breakdowns"].as_array() else {
        return Decimal::ZERO;
    };
    let Some(b) = list.iter().find(|b| b["type"] == kind) else {
        return Decimal::ZERO;
    };
    match sub {
        None => amount(&b["subtotal"]),
        Some(s) => b["detailedBreakdowns"]
            .as_array()
            .and_then(|d| d.iter().find(|x| x["subtype"] == s))
            .map_or(Decimal::ZERO, |x| amount(&x["value"])),
    }
}

/// The generated refund of an order, if the seed gives it one.
fn generated(rec: &OrderRec, seed: u64, now: OffsetDateTime) -> Option<(OffsetDateTime, Value)> {
    let shipped = shipped_at(rec, now)?;
    let mut rng = Rng::derived(seed, "refund", order_hash(&rec.id));
    if rng.below(1000) >= REFUND_PER_MILLE {
        return None;
    }
    let shape = rng.below(5);
    let posted =
        shipped + Duration::days(rng.range(2, 20)) + Duration::seconds(rng.range(0, 86_399));
    let items = rec.base["orderItems"].as_array()?;
    let first = items.first()?;
    let currency = first["proceeds"]["proceedsTotal"]["currencyCode"]
        .as_str()
        .unwrap_or("EUR")
        .to_owned();
    let adjustment = |i: usize| {
        let mut r = Rng::derived(seed, "refund-adjustment", order_hash(&rec.id) ^ i as u64);
        format!("{}", 10_000_000_000_000 + r.below(89_999_999_999_999))
    };
    let item_json = |idx: usize,
                     item: &Value,
                     qty: i64,
                     charges: Vec<Value>,
                     promos: Vec<Value>| {
        let principal: Decimal = charges
            .iter()
            .filter(|c| c["ChargeType"] == "Principal")
            .filter_map(|c| c["ChargeAmount"]["CurrencyAmount"].as_f64())
            .map(|f| Decimal::try_from(f).unwrap_or_default())
            .sum();
        let commission = (principal.abs() * Decimal::new(15, 2)).round_dp(2);
        let mut v = json!({
            "SellerSKU": item["product"]["sellerSku"],
            "OrderItemId": item["orderItemId"],
            "OrderAdjustmentItemId": adjustment(idx),
            "QuantityShipped": qty,
            "ItemChargeAdjustmentList": charges,
        });
        if !commission.is_zero() {
            v["ItemFeeAdjustmentList"] = json!([
                { "FeeType": "Commission", "FeeAmount": money(commission, &currency) },
                { "FeeType": "RefundCommission", "FeeAmount": money(-(commission * Decimal::new(2, 1)).round_dp(2), &currency) },
            ]);
        }
        if !promos.is_empty() {
            v["PromotionAdjustmentList"] = Value::Array(promos);
        }
        v
    };
    let mut adjusted = Vec::new();
    match shape {
        // The whole order back: goods, shipping and promotions, with the VAT contained.
        0 => {
            for (i, item) in items.iter().enumerate() {
                let mut charges = vec![
                    charge("Principal", -breakdown(item, "ITEM", None), &currency),
                    charge("Tax", -breakdown(item, "TAX", Some("ITEM")), &currency),
                ];
                let ship = breakdown(item, "SHIPPING", None);
                if !ship.is_zero() {
                    charges.push(charge("ShippingCharge", -ship, &currency));
                    charges.push(charge(
                        "ShippingTax",
                        -breakdown(item, "TAX", Some("SHIPPING")),
                        &currency,
                    ));
                }
                let disc = breakdown(item, "DISCOUNT", None);
                let promos = if disc.is_zero() {
                    Vec::new()
                } else {
                    vec![json!({ "PromotionType": "PromotionMetaDataDefinitionValue",
                                 "PromotionId": format!("PROMO-{}", rec.id),
                                 "PromotionAmount": money(-disc, &currency) })]
                };
                let qty = item["quantityOrdered"].as_i64().unwrap_or(1);
                adjusted.push(item_json(i, item, qty, charges, promos));
            }
        }
        // One unit of the first item returned (less a restocking fee of 10 % for shape 4).
        1 | 4 => {
            let qty = first["quantityOrdered"].as_i64().unwrap_or(1).max(1);
            let unit = (breakdown(first, "ITEM", None) / Decimal::from(qty)).round_dp(2);
            let mut charges = vec![charge("Principal", -unit, &currency)];
            if shape == 4 {
                charges.push(charge(
                    "RestockingFee",
                    (unit * Decimal::new(1, 1)).round_dp(2),
                    &currency,
                ));
            }
            adjusted.push(item_json(0, first, 1, charges, Vec::new()));
        }
        // Shipping only (a late parcel).
        2 => {
            let ship = breakdown(first, "SHIPPING", None);
            if ship.is_zero() {
                return None;
            }
            let charges = vec![
                charge("ShippingCharge", -ship, &currency),
                charge(
                    "ShippingTax",
                    -breakdown(first, "TAX", Some("SHIPPING")),
                    &currency,
                ),
            ];
            adjusted.push(item_json(0, first, 0, charges, Vec::new()));
        }
        // Goodwill: a fifth of the first item's price, no goods back.
        _ => {
            let gw = (breakdown(first, "ITEM", None) * Decimal::new(2, 1)).round_dp(2);
            if gw.is_zero() {
                return None;
            }
            adjusted.push(item_json(
                0,
                first,
                0,
                vec![charge("Goodwill", -gw, &currency)],
                Vec::new(),
            ));
        }
    }
    let market = data::MARKETS
        .iter()
        .find(|(_, m)| m.id == rec.marketplace_id)
        .map_or("Amazon.eu", |(_, m)| m.name);
    Some((
        posted,
        json!({
            "AmazonOrderId": rec.id,
            "MarketplaceName": market,
            "PostedDate": fmt(posted),
            "ShipmentItemAdjustmentList": adjusted,
        }),
    ))
}

/// Every refund event posted by `now`, oldest first.
fn all_events(st: &State, seed: u64, now: OffsetDateTime) -> Vec<(OffsetDateTime, Value)> {
    let mut out: Vec<(OffsetDateTime, Value)> = st
        .orders
        .ids()
        .iter()
        .filter_map(|id| st.orders.get(id))
        .filter_map(|rec| generated(rec, seed, now))
        .chain(st.finances.added.iter().cloned())
        .filter(|(posted, _)| *posted <= now)
        .collect();
    out.sort_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| {
            a.1["AmazonOrderId"]
                .as_str()
                .cmp(&b.1["AmazonOrderId"].as_str())
        })
    });
    out
}

fn time_param(req: &Request, name: &str) -> Result<Option<OffsetDateTime>, Response> {
    match req.query_param(name) {
        None => Ok(None),
        Some(s) => parse(s)
            .map(Some)
            .ok_or_else(|| invalid_input(&format!("{name} must be an ISO 8601 date-time."))),
    }
}

/// `GET /finances/v0/financialEvents`.
pub(crate) fn list(st: &mut State, req: &Request, ctx: &Ctx<'_>) -> Response {
    let now = ctx.now;
    let latest = now - Duration::minutes(2);
    let per_page = match req.query_param("MaxResultsPerPage") {
        None => 100,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => return invalid_input("MaxResultsPerPage must be between 1 and 100."),
        },
    };
    let after = match time_param(req, "PostedAfter") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let before = match time_param(req, "PostedBefore") {
        Ok(v) => v,
        Err(r) => return r,
    };
    if before.is_some() && after.is_none() {
        return invalid_input("PostedBefore requires PostedAfter.");
    }
    if after.is_some_and(|a| a > latest) {
        return invalid_input(
            "PostedAfter must be more than two minutes before the time of the request.",
        );
    }
    if before.is_some_and(|b| b > latest) {
        return invalid_input(
            "PostedBefore must be more than two minutes before the time of the request.",
        );
    }
    let before = before.unwrap_or(latest);
    let after = after.unwrap_or(before - Duration::days(180));
    if before <= after {
        return invalid_input("PostedBefore must be later than PostedAfter.");
    }
    let fingerprint = format!("{}|{}|{per_page}", fmt(after), fmt(before));
    let offset = match req.query_param("NextToken") {
        None => 0,
        Some(t) => match st.finances.tokens.get(t) {
            Some((f, o)) if *f == fingerprint => *o,
            _ => return invalid_input("NextToken is not valid for these arguments."),
        },
    };
    let events: Vec<Value> = if before - after > Duration::days(180) {
        Vec::new()
    } else {
        all_events(st, ctx.seed, now)
            .into_iter()
            .filter(|(p, _)| *p >= after && *p < before)
            .map(|(_, e)| e)
            .collect()
    };
    let page: Vec<Value> = events.iter().skip(offset).take(per_page).cloned().collect();
    let mut payload = json!({ "FinancialEvents": { "RefundEventList": page } });
    if offset + per_page < events.len() {
        st.finances.issued += 1;
        let mut r = Rng::derived(ctx.seed, "finances-token", st.finances.issued);
        let token = format!("{:016x}{:016x}", r.next_u64(), r.next_u64());
        st.finances
            .tokens
            .insert(token.clone(), (fingerprint, offset + per_page));
        payload["NextToken"] = json!(token);
    }
    Response::json(200, &json!({ "payload": payload }))
}
