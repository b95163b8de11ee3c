//! What a refund Amazon paid out credits on its invoice (issue #17). Pure: an event and
//! the invoice's stored computation in, the credit note's lines (or a refusal) out.
//!
//! A refund event (Finances API v0, `RefundEventList`) lists per order item the charges
//! Amazon adjusted, with Amazon's sign: money back to the buyer is negative. On Amazon's
//! EU marketplaces the charges are VAT-inclusive, like the Orders API's proceeds, so the
//! credited amount of a line is the negated sum of the charges that fall on it; the
//! `Tax`, `ShippingTax`, `GiftwrapTax` and `TaxDiscount` components are the VAT contained
//! in them and are not added (fulfil computes the VAT itself, at the invoice's rates).
//!
//! | charge | credited on the invoice line |
//! |---|---|
//! | `Principal` | the item's goods line, with the units of `QuantityShipped` |
//! | `Goodwill`, `ReturnShipping` | the item's goods line, no units (a price reduction) |
//! | `RestockingFee` (positive: the seller keeps it) | lowers the goods line's credit |
//! | `ShippingCharge`, `Giftwrap` | the item's shipping or gift-wrap line |
//! | `Discount`, promotion adjustments (positive on a refund) | the item's discount line |
//!
//! Any other charge type, an item that matches no invoice line, a currency other than
//! the invoice's, or more than is left to credit on a line (after the credit notes
//! already issued) is a refusal: the refund goes to review, no number is used.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::issue::Refusal;
use super::vat::{Computation, LineKind, RefundLine};

/// One refund event as fulfil keeps it (no personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundEvent {
    pub order_id: String,
    /// When Amazon posted the refund (RFC 3339, UTC): the tax point of its credit note.
    pub posted_at: String,
    #[serde(default)]
    pub marketplace: Option<String>,
    pub items: Vec<RefundItem>,
}

/// One adjusted order item of a refund event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundItem {
    #[serde(default)]
    pub order_item_id: Option<String>,
    /// Amazon's `OrderAdjustmentItemId`.
    #[serde(default)]
    pub adjustment_id: Option<String>,
    #[serde(default)]
    pub sku: Option<String>,
    /// `QuantityShipped`: the units refunded.
    #[serde(default)]
    pub quantity: u32,
    /// The charges (`ChargeType` as Amazon names it; promotions as `Promotion`).
    pub charges: Vec<Charge>,
}

/// One charge adjustment, in Amazon's sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub kind: String,
    pub amount: Decimal,
    pub currency: String,
}

impl RefundEvent {
    /// The identity of the event across re-reads: order id, posted time (UTC, to the
    /// second) and the sorted adjustment item ids. Two reads of the same event give the
    /// same key; two refunds of one order differ in their adjustment ids or posted time.
    pub fn key(&self) -> String {
        let mut ids: Vec<&str> = self
            .items
            .iter()
            .filter_map(|i| i.adjustment_id.as_deref())
            .collect();
        ids.sort_unstable();
        let posted = crate::clock::parse_rfc3339(&self.posted_at)
            .map_or_else(|_| self.posted_at.clone(), crate::clock::rfc3339);
        format!("{}|{posted}|{}", self.order_id, ids.join(","))
    }

    /// Amazon's own identifier of the refund: its first adjustment item id (sorted), or
    /// the key when Amazon sent none.
    pub fn transaction_id(&self) -> String {
        self.items
            .iter()
            .filter_map(|i| i.adjustment_id.clone())
            .min()
            .unwrap_or_else(|| self.key())
    }
}

/// Tax components: the VAT contained in the other charges, never credited on top.
const CONTAINED_TAX: [&str; 4] = ["Tax", "ShippingTax", "GiftwrapTax", "TaxDiscount"];

/// What is already credited per invoice input line (`source`), as a positive amount in
/// the line's own sign (a discount line's credits are negative).
pub type Credited = BTreeMap<usize, Decimal>;

/// The credited amounts of a credit note, per invoice input line, in the line's sign.
pub fn credited_by(credit_note: &Computation) -> Credited {
    let mut out = Credited::new();
    for l in &credit_note.lines {
        *out.entry(l.source).or_default() -= l.gross;
    }
    out
}

/// The partial credit note's lines for `event` against the invoice `original`, given
/// what earlier credit notes already credited. `currency` is the invoice's ISO code.
///
/// # Errors
/// A [`Refusal`] (the refund goes to review): `refund_unknown_charge`,
/// `refund_unmatched_item`, `refund_currency`, `refund_exceeds_invoice`,
/// `refund_nothing_to_credit`.
pub fn refund_lines(
    original: &Computation,
    already: &Credited,
    event: &RefundEvent,
    currency: &str,
) -> Result<Vec<RefundLine>, Refusal> {
    // Each input line of the invoice: its kind and gross, and the goods line it belongs
    // to (charges follow their item's goods line, as `issue::prepare` builds them).
    let mut sources: BTreeMap<usize, (LineKind, Option<&str>, Decimal)> = BTreeMap::new();
    for l in &original.lines {
        let e = sources
            .entry(l.source)
            .or_insert((l.kind, l.sku.as_deref(), Decimal::ZERO));
        e.2 += l.gross;
    }
    let mut owner: BTreeMap<usize, usize> = BTreeMap::new();
    let mut current = None;
    for (&s, &(kind, _, _)) in &sources {
        if kind == LineKind::Goods {
            current = Some(s);
        }
        if let Some(g) = current {
            owner.insert(s, g);
        }
    }
    let goods: Vec<usize> = sources
        .iter()
        .filter(|(_, v)| v.0 == LineKind::Goods)
        .map(|(s, _)| *s)
        .collect();
    // (credited gross in the line's sign, units) per source.
    let mut credit: BTreeMap<usize, (Decimal, u32)> = BTreeMap::new();
    for item in &event.items {
        let goods_line = match item.sku.as_deref() {
            Some(sku) => goods
                .iter()
                .copied()
                .filter(|s| sources[s].1 == Some(sku))
                // Of two lines with one SKU, the first that still has something left.
                .find(|s| {
                    sources[s].2 - already.get(s).copied().unwrap_or_default() > Decimal::ZERO
                })
                .or_else(|| goods.iter().copied().find(|s| sources[s].1 == Some(sku))),
            None if goods.len() == 1 => Some(goods[0]),
            None => None,
        };
        let Some(goods_line) = goods_line else {
            return Err(Refusal::new("refund_unmatched_item").detail(format!(
                "item {} is not on the invoice",
                item.order_item_id.as_deref().unwrap_or("?")
            )));
        };
        let charge_line = |kind: LineKind| {
            sources
                .iter()
                .find(|(s, v)| v.0 == kind && owner.get(s) == Some(&goods_line))
                .map(|(s, _)| *s)
        };
        let mut units_taken = false;
        for c in &item.charges {
            if c.amount.is_zero() || CONTAINED_TAX.contains(&c.kind.as_str()) {
                continue;
            }
            if !c.currency.eq_ignore_ascii_case(currency) {
                return Err(Refusal::new("refund_currency")
                    .detail(format!("refund in {}, invoice in {currency}", c.currency)));
            }
            let target = match c.kind.as_str() {
                "Principal" | "Goodwill" | "ReturnShipping" | "RestockingFee" => Some(goods_line),
                "ShippingCharge" => charge_line(LineKind::Shipping),
                "Giftwrap" => charge_line(LineKind::GiftWrap),
                "Discount" | "Promotion" => charge_line(LineKind::Discount),
                other => {
                    return Err(Refusal::new("refund_unknown_charge")
                        .detail(format!("charge type {other}")));
                }
            };
            let Some(target) = target else {
                return Err(Refusal::new("refund_unmatched_item").detail(format!(
                    "{} refunded but the invoice has no such line for item {}",
                    c.kind,
                    item.order_item_id.as_deref().unwrap_or("?")
                )));
            };
            let e = credit.entry(target).or_default();
            e.0 -= c.amount;
            if c.kind == "Principal" && !units_taken {
                e.1 += item.quantity;
                units_taken = true;
            }
        }
    }
    let mut out = Vec::new();
    for (source, (gross, units)) in credit {
        if gross.is_zero() {
            continue;
        }
        let line_gross = sources[&source].2;
        let left = line_gross - already.get(&source).copied().unwrap_or_default();
        let same_sign = gross.is_sign_negative() == line_gross.is_sign_negative();
        if !same_sign || gross.abs() > left.abs() || left.is_zero() {
            return Err(Refusal::new("refund_exceeds_invoice").detail(format!(
                "line {source}: refund {gross} but {left} of {line_gross} left to credit"
            )));
        }
        out.push(RefundLine {
            source,
            quantity: units.min(
                original
                    .lines
                    .iter()
                    .find(|l| l.source == source)
                    .map_or(0, |l| l.quantity),
            ),
            gross,
        });
    }
    if out.is_empty() {
        return Err(Refusal::new("refund_nothing_to_credit"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::rates::{RateTable, TaxCategory};
    use crate::invoice::vat::{
        Buyer, Currency, Invoice, Line, Refund, Seller, compute, credit_note,
    };
    use rust_decimal_macros::dec;
    use time::macros::date;

    /// A German consumer (OSS, 19 % and 7 %): two mugs at 24.00 with shipping 4.99 and a
    /// promotion of -2.00, and a book at 15.00.
    fn invoice() -> Computation {
        let line = |kind, sku: Option<&str>, quantity, gross, category, belongs_to| Line {
            kind,
            description: "x".into(),
            sku: sku.map(Into::into),
            quantity,
            gross,
            category,
            belongs_to,
        };
        let inv = Invoice {
            seller: Seller {
                country: "NL".into(),
                vat_id: "NL000099998B57".into(),
                oss: true,
            },
            buyer: Buyer {
                country: "DE".into(),
                postal_code: None,
                vat_id: None,
                is_business: false,
                vat_id_confirmed: false,
            },
            supply_date: date!(2026 - 09 - 14),
            currency: Currency::Eur,
            lines: vec![
                line(
                    LineKind::Goods,
                    Some("MUG"),
                    2,
                    dec!(48.00),
                    TaxCategory::Standard,
                    None,
                ),
                line(
                    LineKind::Shipping,
                    None,
                    1,
                    dec!(4.99),
                    TaxCategory::Standard,
                    Some(0),
                ),
                line(
                    LineKind::Discount,
                    None,
                    1,
                    dec!(-2.00),
                    TaxCategory::Standard,
                    Some(0),
                ),
                line(
                    LineKind::Goods,
                    Some("BOOK"),
                    1,
                    dec!(15.00),
                    TaxCategory::Books,
                    None,
                ),
            ],
        };
        compute(&inv, &RateTable::builtin()).unwrap()
    }

    fn charge(kind: &str, amount: Decimal) -> Charge {
        Charge {
            kind: kind.into(),
            amount,
            currency: "EUR".into(),
        }
    }

    fn event(items: Vec<RefundItem>) -> RefundEvent {
        RefundEvent {
            order_id: "028-1234567-1234567".into(),
            posted_at: "2026-10-02T09:15:00Z".into(),
            marketplace: Some("Amazon.de".into()),
            items,
        }
    }

    fn item(sku: &str, adj: &str, quantity: u32, charges: Vec<Charge>) -> RefundItem {
        RefundItem {
            order_item_id: Some("1".into()),
            adjustment_id: Some(adj.into()),
            sku: Some(sku.into()),
            quantity,
            charges,
        }
    }

    fn credit(e: &RefundEvent, already: &Credited) -> Result<Computation, Refusal> {
        let c = invoice();
        let lines = refund_lines(&c, already, e, "EUR")?;
        Ok(credit_note(&c, &Refund::Lines(lines)).unwrap())
    }

    #[test]
    fn one_of_two_items_returned() {
        // One mug of two: 24.00 at 19 %: VAT 24.00 × 19/119 = 3.831… → 3.83, net 20.17.
        // Amazon's Tax component (-3.83) is the VAT contained, not added.
        let e = event(vec![item(
            "MUG",
            "A1",
            1,
            vec![
                charge("Principal", dec!(-24.00)),
                charge("Tax", dec!(-3.83)),
            ],
        )]);
        let c = credit(&e, &Credited::new()).unwrap();
        assert_eq!(c.total_gross, dec!(-24.00));
        assert_eq!(c.total_vat, dec!(-3.83));
        assert_eq!(c.total_net, dec!(-20.17));
        assert_eq!(c.lines.len(), 1);
        assert_eq!((c.lines[0].source, c.lines[0].quantity), (0, 1));
        assert_eq!(c.per_rate.len(), 1);
        assert_eq!(c.per_rate[0].rate, dec!(19));
    }

    #[test]
    fn full_refund_with_shipping_and_promotion_reversed() {
        // Both mugs 48.00, shipping 4.99, the promotion -2.00 given back: 50.99 at 19 %:
        // VAT 50.99 × 19/119 = 8.141… → 8.14; and the book 15.00 at 7 %: 0.981… → 0.98.
        let e = event(vec![
            item(
                "MUG",
                "A1",
                2,
                vec![
                    charge("Principal", dec!(-48.00)),
                    charge("ShippingCharge", dec!(-4.99)),
                    charge("Promotion", dec!(2.00)),
                ],
            ),
            item("BOOK", "A2", 1, vec![charge("Principal", dec!(-15.00))]),
        ]);
        let c = credit(&e, &Credited::new()).unwrap();
        assert_eq!(c.total_gross, dec!(-65.99));
        assert_eq!(c.total_vat, dec!(-9.12));
        let full = credit_note(&invoice(), &Refund::Full).unwrap();
        assert_eq!(c.total_gross, full.total_gross);
        assert_eq!(c.total_vat, full.total_vat);
        // Nothing is left: a second refund of anything goes to review.
        let again = event(vec![item(
            "BOOK",
            "A3",
            1,
            vec![charge("Principal", dec!(-1.00))],
        )]);
        assert_eq!(
            credit(&again, &credited_by(&c)).unwrap_err().reason,
            "refund_exceeds_invoice"
        );
    }

    #[test]
    fn shipping_only() {
        // 4.99 at 19 %: VAT 0.796… → 0.80.
        let e = event(vec![item(
            "MUG",
            "A1",
            0,
            vec![
                charge("ShippingCharge", dec!(-4.99)),
                charge("ShippingTax", dec!(-0.80)),
            ],
        )]);
        let c = credit(&e, &Credited::new()).unwrap();
        assert_eq!((c.total_gross, c.total_vat), (dec!(-4.99), dec!(-0.80)));
        assert_eq!(c.lines[0].kind, LineKind::Shipping);
    }

    #[test]
    fn goodwill_without_goods_lowers_the_price() {
        // 5.00 on the book at 7 %: VAT 0.327… → 0.33; no units go back.
        let e = event(vec![item(
            "BOOK",
            "A1",
            0,
            vec![charge("Goodwill", dec!(-5.00))],
        )]);
        let c = credit(&e, &Credited::new()).unwrap();
        assert_eq!((c.total_gross, c.total_vat), (dec!(-5.00), dec!(-0.33)));
        assert_eq!(c.lines[0].quantity, 0);
        assert_eq!(c.per_rate[0].rate, dec!(7));
    }

    #[test]
    fn a_restocking_fee_kept_lowers_the_credit() {
        // One mug back (24.00) less a 2.40 restocking fee: 21.60 at 19 % → VAT 3.45.
        let e = event(vec![item(
            "MUG",
            "A1",
            1,
            vec![
                charge("Principal", dec!(-24.00)),
                charge("RestockingFee", dec!(2.40)),
            ],
        )]);
        let c = credit(&e, &Credited::new()).unwrap();
        assert_eq!((c.total_gross, c.total_vat), (dec!(-21.60), dec!(-3.45)));
        assert_eq!(c.lines[0].quantity, 1);
    }

    #[test]
    fn what_was_credited_before_counts() {
        let one = event(vec![item(
            "MUG",
            "A1",
            1,
            vec![charge("Principal", dec!(-24.00))],
        )]);
        let first = credit(&one, &Credited::new()).unwrap();
        let done = credited_by(&first);
        assert_eq!(done[&0], dec!(24.00));
        // The second mug still fits; a third does not.
        let second = credit(&one, &done).unwrap();
        let mut both = done.clone();
        for (k, v) in credited_by(&second) {
            *both.entry(k).or_default() += v;
        }
        assert_eq!(both[&0], dec!(48.00));
        assert_eq!(
            credit(&one, &both).unwrap_err().reason,
            "refund_exceeds_invoice"
        );
    }

    #[test]
    fn refusals() {
        let odd = event(vec![item(
            "MUG",
            "A1",
            1,
            vec![charge("PointsFee", dec!(-1.00))],
        )]);
        assert_eq!(
            credit(&odd, &Credited::new()).unwrap_err().reason,
            "refund_unknown_charge"
        );
        let unknown = event(vec![item(
            "LAMP",
            "A1",
            1,
            vec![charge("Principal", dec!(-1.00))],
        )]);
        assert_eq!(
            credit(&unknown, &Credited::new()).unwrap_err().reason,
            "refund_unmatched_item"
        );
        let mut sek = event(vec![item(
            "MUG",
            "A1",
            1,
            vec![charge("Principal", dec!(-1.00))],
        )]);
        sek.items[0].charges[0].currency = "SEK".into();
        assert_eq!(
            credit(&sek, &Credited::new()).unwrap_err().reason,
            "refund_currency"
        );
        let gift = event(vec![item(
            "MUG",
            "A1",
            0,
            vec![charge("Giftwrap", dec!(-1.00))],
        )]);
        assert_eq!(
            credit(&gift, &Credited::new()).unwrap_err().reason,
            "refund_unmatched_item"
        );
        let empty = event(vec![item("MUG", "A1", 0, vec![charge("Tax", dec!(-1.00))])]);
        assert_eq!(
            credit(&empty, &Credited::new()).unwrap_err().reason,
            "refund_nothing_to_credit"
        );
        let fee_only = event(vec![item(
            "MUG",
            "A1",
            0,
            vec![charge("RestockingFee", dec!(1.00))],
        )]);
        assert_eq!(
            credit(&fee_only, &Credited::new()).unwrap_err().reason,
            "refund_exceeds_invoice"
        );
    }

    #[test]
    fn the_key_is_stable_across_reads() {
        let a = event(vec![
            item("MUG", "B2", 1, vec![]),
            item("BOOK", "A1", 1, vec![]),
        ]);
        let mut b = a.clone();
        b.posted_at = "2026-10-02T11:15:00+02:00".into();
        b.items.reverse();
        assert_eq!(a.key(), b.key());
        assert_eq!(a.key(), "028-1234567-1234567|2026-10-02T09:15:00Z|A1,B2");
        assert_eq!(a.transaction_id(), "A1");
        let mut later = a.clone();
        later.posted_at = "2026-10-03T09:15:00Z".into();
        assert_ne!(a.key(), later.key());
    }
}
