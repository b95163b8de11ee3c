//! Whether an order's figures make sense, checked before anything is bought or numbered
//! for it (issue #15, item 5). Pure: rows in, a verdict out.
//!
//! An invoice number is used for good once assigned, and a PostNL label is paid for once
//! made, so an order whose figures are corrupt or crafted must stop before either. The
//! rules, on Amazon's own figures (VAT-inclusive `ITEM`, `SHIPPING`, `GIFT_WRAP`,
//! `DISCOUNT` per item; `TAX` is contained in them, never added):
//!
//! - `bad_quantity`: an item with a negative quantity, or with quantity 0 that still
//!   carries goods, shipping, gift wrap or proceeds (Amazon lists removed items with
//!   quantity 0 and no money; those are fine and left out);
//! - `bad_amount`: an amount that is not a number;
//! - `negative_total`: a negative grand total, item, shipping, gift wrap, tax or item
//!   total;
//! - `inconsistent_totals`: an item whose parts do not add up to its `proceedsTotal`
//!   (within a cent), or items that do not add up to the order's `grandTotal` (within a
//!   cent per item).
//!
//! Figures Amazon did not send are not checked (an order without proceeds passes): what
//! an invoice cannot do without is refused later, by the invoice's own preparation.

use std::str::FromStr as _;

use rust_decimal::Decimal;

use crate::store::orders::ItemRow;

/// Why an order's figures make no sense: a fixed reason code and a detail made of item
/// ids and amounts only (never personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nonsense {
    pub reason: &'static str,
    pub detail: String,
}

fn nonsense(reason: &'static str, detail: String) -> Nonsense {
    Nonsense { reason, detail }
}

fn amount(v: Option<&String>, item: &str) -> Result<Option<Decimal>, Nonsense> {
    v.map(|s| {
        Decimal::from_str(s.trim()).map_err(|_| {
            nonsense(
                "bad_amount",
                format!("item {item}: an amount is not a number"),
            )
        })
    })
    .transpose()
}

/// Checks an order's quantities and figures: `Ok` when they make sense.
///
/// # Errors
/// The first rule the order breaks (see the module documentation).
pub fn check(grand_total: Option<&str>, items: &[ItemRow]) -> Result<(), Nonsense> {
    let cent = Decimal::new(1, 2);
    let grand = grand_total
        .map(|g| {
            Decimal::from_str(g.trim())
                .map_err(|_| nonsense("bad_amount", "the grand total is not a number".into()))
        })
        .transpose()?;
    if let Some(g) = grand.filter(|g| g.is_sign_negative() && !g.is_zero()) {
        return Err(nonsense("negative_total", format!("grand total {g}")));
    }
    let mut sum = Decimal::ZERO;
    let mut counted = 0u32;
    let mut complete = true;
    for it in items {
        let id = it.order_item_id.as_str();
        if it.quantity < 0 {
            return Err(nonsense(
                "bad_quantity",
                format!("item {id} has quantity {}", it.quantity),
            ));
        }
        let goods = amount(it.item_amount.as_ref(), id)?;
        let shipping = amount(it.shipping_amount.as_ref(), id)?;
        let gift_wrap = amount(it.gift_wrap_amount.as_ref(), id)?;
        let discount = amount(it.discount_amount.as_ref(), id)?;
        let tax = amount(it.tax_amount.as_ref(), id)?;
        let total = amount(it.proceeds_total.as_ref(), id)?;
        let negative = |d: Option<Decimal>| d.is_some_and(|d| d < Decimal::ZERO);
        if [goods, shipping, gift_wrap, tax, total]
            .into_iter()
            .any(negative)
        {
            return Err(nonsense(
                "negative_total",
                format!("item {id} has a negative amount"),
            ));
        }
        let parts = [goods, shipping, gift_wrap, discount];
        let has_parts = parts.iter().any(Option::is_some);
        let parts_sum: Decimal = parts.into_iter().flatten().sum();
        if it.quantity == 0 {
            let billed = [goods, shipping, gift_wrap, total]
                .into_iter()
                .flatten()
                .any(|d| !d.is_zero());
            if billed {
                return Err(nonsense(
                    "bad_quantity",
                    format!("item {id} has quantity 0 but is charged"),
                ));
            }
            continue;
        }
        if has_parts && parts_sum < Decimal::ZERO {
            return Err(nonsense(
                "negative_total",
                format!("item {id} adds up to {parts_sum}"),
            ));
        }
        if let Some(t) = total
            && has_parts
            && (parts_sum - t).abs() > cent
        {
            return Err(nonsense(
                "inconsistent_totals",
                format!("item {id}: its parts add up to {parts_sum}, its total is {t}"),
            ));
        }
        match (has_parts, total) {
            (true, _) => sum += parts_sum,
            (false, Some(t)) => sum += t,
            (false, None) => complete = false,
        }
        counted += 1;
    }
    // Only when every item's figure is known: an order without proceeds passes.
    if let Some(g) = grand
        && complete
        && counted > 0
        && (sum - g).abs() > cent * Decimal::from(counted)
    {
        return Err(nonsense(
            "inconsistent_totals",
            format!("grand total {g}, the items add up to {sum}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, qty: i64, goods: Option<&str>, total: Option<&str>) -> ItemRow {
        ItemRow {
            order_item_id: id.into(),
            seller_sku: Some("MUG".into()),
            asin: None,
            title: None,
            quantity: qty,
            quantity_shipped: None,
            unit_price: None,
            currency: Some("EUR".into()),
            item_amount: goods.map(Into::into),
            shipping_amount: None,
            gift_wrap_amount: None,
            discount_amount: None,
            tax_amount: None,
            other_amount: None,
            proceeds_total: total.map(Into::into),
        }
    }

    fn reason(grand: Option<&str>, items: &[ItemRow]) -> &'static str {
        check(grand, items).map_or_else(|n| n.reason, |()| "ok")
    }

    #[test]
    fn sensible_orders_pass() {
        let a = item("1", 2, Some("24.20"), Some("24.20"));
        let mut b = item("2", 1, Some("10.00"), Some("11.50"));
        b.shipping_amount = Some("3.95".into());
        b.discount_amount = Some("-2.45".into());
        b.tax_amount = Some("1.99".into());
        assert_eq!(reason(Some("35.70"), &[a.clone(), b.clone()]), "ok");
        // A cent per item of rounding is tolerated.
        assert_eq!(reason(Some("35.72"), &[a.clone(), b]), "ok");
        // Nothing known, nothing to check; a removed item without money is fine.
        assert_eq!(reason(None, &[item("1", 1, None, None)]), "ok");
        assert_eq!(reason(Some("24.19"), &[item("1", 1, None, None)]), "ok");
        assert_eq!(reason(Some("24.20"), &[a, item("3", 0, None, None)]), "ok");
        assert_eq!(
            reason(Some("24.19"), &[item("1", 1, None, Some("24.19"))]),
            "ok"
        );
        assert_eq!(reason(Some("0.00"), &[]), "ok");
    }

    #[test]
    fn nonsense_is_named() {
        let a = item("1", 1, Some("24.20"), Some("24.20"));
        let n = check(Some("999.99"), std::slice::from_ref(&a)).unwrap_err();
        assert_eq!(n.reason, "inconsistent_totals");
        assert!(
            n.detail.contains("999.99") && n.detail.contains("24.20"),
            "{n:?}"
        );
        assert_eq!(
            reason(Some("24.22"), std::slice::from_ref(&a)),
            "inconsistent_totals"
        );
        assert_eq!(reason(Some("-24.20"), &[]), "negative_total");
        assert_eq!(
            reason(
                Some("-24.20"),
                &[item("1", 1, Some("-24.20"), Some("-24.20"))]
            ),
            "negative_total"
        );
        let mut d = a.clone();
        d.discount_amount = Some("-30.00".into());
        d.proceeds_total = Some("-5.80".into());
        assert_eq!(reason(None, &[d.clone()]), "negative_total");
        d.proceeds_total = None;
        assert_eq!(reason(None, &[d]), "negative_total");
        assert_eq!(
            reason(None, &[item("1", 1, Some("19.99"), Some("24.19"))]),
            "inconsistent_totals"
        );
        assert_eq!(reason(None, &[item("1", -1, None, None)]), "bad_quantity");
        assert_eq!(
            reason(Some("24.20"), &[item("1", 0, Some("24.20"), Some("24.20"))]),
            "bad_quantity"
        );
        assert_eq!(
            reason(None, &[item("1", 1, Some("twelve"), None)]),
            "bad_amount"
        );
        assert_eq!(reason(Some("x"), &[]), "bad_amount");
    }
}
