//! Finances API v0 `listFinancialEvents`, for the refunds Amazon paid out (issue #17).
//!
//! Only `RefundEventList` is read; every other event list of the answer is ignored.
//! Shapes from `specs/spapi/financesV0.json`: `payload.FinancialEvents.RefundEventList`
//! is a list of `ShipmentEvent` (`AmazonOrderId`, `PostedDate`, `MarketplaceName`,
//! `ShipmentItemAdjustmentList`), each item a `ShipmentItem` (`OrderItemId`,
//! `OrderAdjustmentItemId`, `SellerSKU`, `QuantityShipped`, `ItemChargeAdjustmentList`,
//! `PromotionAdjustmentList`), each amount a `Currency` whose `CurrencyAmount` is a JSON
//! number. Amounts are read from the number's text into a decimal, never through a float
//! sum: `-12.34` stays `-12.34`.

use rust_decimal::Decimal;
use serde::Deserialize;

use super::{Call, Client, Method, Operation, SpapiError};

pub const PATH: &str = "/finances/v0/financialEvents";

/// One page of `listFinancialEvents`: the refund events and the next page's token.
#[derive(Debug, Default, Deserialize)]
pub struct Page {
    #[serde(default)]
    pub payload: Option<Payload>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Payload {
    #[serde(rename = "NextToken", default)]
    pub next_token: Option<String>,
    #[serde(rename = "FinancialEvents", default)]
    pub events: Option<Events>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Events {
    #[serde(rename = "RefundEventList", default)]
    pub refunds: Vec<ShipmentEvent>,
}

/// A `ShipmentEvent` as the refund list carries it.
#[derive(Debug, Default, Deserialize)]
pub struct ShipmentEvent {
    #[serde(rename = "AmazonOrderId", default)]
    pub amazon_order_id: Option<String>,
    #[serde(rename = "MarketplaceName", default)]
    pub marketplace_name: Option<String>,
    #[serde(rename = "PostedDate", default)]
    pub posted_date: Option<String>,
    #[serde(rename = "ShipmentItemAdjustmentList", default)]
    pub item_adjustments: Vec<ShipmentItem>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ShipmentItem {
    #[serde(rename = "SellerSKU", default)]
    pub seller_sku: Option<String>,
    #[serde(rename = "OrderItemId", default)]
    pub order_item_id: Option<String>,
    #[serde(rename = "OrderAdjustmentItemId", default)]
    pub order_adjustment_item_id: Option<String>,
    #[serde(rename = "QuantityShipped", default)]
    pub quantity_shipped: Option<i64>,
    #[serde(rename = "ItemChargeAdjustmentList", default)]
    pub charge_adjustments: Vec<ChargeComponent>,
    #[serde(rename = "PromotionAdjustmentList", default)]
    pub promotion_adjustments: Vec<Promotion>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ChargeComponent {
    #[serde(rename = "ChargeType", default)]
    pub charge_type: Option<String>,
    #[serde(rename = "ChargeAmount", default)]
    pub charge_amount: Option<Money>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Promotion {
    #[serde(rename = "PromotionAmount", default)]
    pub promotion_amount: Option<Money>,
}

/// Amazon's `Currency`.
#[derive(Debug, Default, Deserialize)]
pub struct Money {
    #[serde(rename = "CurrencyCode", default)]
    pub currency_code: Option<String>,
    #[serde(rename = "CurrencyAmount", default, deserialize_with = "number")]
    pub currency_amount: Option<Decimal>,
}

/// A JSON number as a decimal, from its text (`1e-2` too).
fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let n: Option<serde_json::Number> = Option::deserialize(d)?;
    let Some(n) = n else { return Ok(None) };
    let text = n.to_string();
    text.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(&text))
        .map(Some)
        .map_err(|_| serde::de::Error::custom("an amount out of range"))
}

/// The window of one read. A `NextToken` is valid only with the same window, so the
/// window is kept and repeated for every page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// RFC 3339, UTC.
    pub posted_after: String,
    /// RFC 3339, UTC; at least two minutes before the request, as Amazon requires.
    pub posted_before: String,
}

/// Fetches one page of the window.
pub fn list_page(
    client: &Client<'_>,
    window: &Window,
    token: Option<&str>,
) -> Result<Page, SpapiError> {
    let mut query = vec![
        ("PostedAfter", window.posted_after.clone()),
        ("PostedBefore", window.posted_before.clone()),
        ("MaxResultsPerPage", "100".to_string()),
    ];
    if let Some(t) = token {
        query.push(("NextToken", t.to_string()));
    }
    let (page, _) = client.call_json(&Call {
        op: Operation::ListFinancialEvents,
        method: Method::Get,
        path: PATH.to_string(),
        query: &query,
        body: None,
    })?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn refund_events_are_read_with_exact_amounts() {
        let body = r#"{"payload":{"NextToken":"t2","FinancialEvents":{
            "ShipmentEventList":[{"AmazonOrderId":"x"}],
            "RefundEventList":[{"AmazonOrderId":"028-1","PostedDate":"2026-10-02T09:15:00Z",
              "MarketplaceName":"Amazon.de",
              "ShipmentItemAdjustmentList":[{"SellerSKU":"MUG","OrderItemId":"1",
                "OrderAdjustmentItemId":"A1","QuantityShipped":1,
                "ItemChargeAdjustmentList":[
                  {"ChargeType":"Principal","ChargeAmount":{"CurrencyCode":"EUR","CurrencyAmount":-24.1}},
                  {"ChargeType":"Tax","ChargeAmount":{"CurrencyCode":"EUR","CurrencyAmount":-3.85}}],
                "PromotionAdjustmentList":[{"PromotionType":"x","PromotionAmount":{"CurrencyCode":"EUR","CurrencyAmount":1e-1}}]}]}]}}}"#;
        let p: Page = serde_json::from_str(body).unwrap();
        let p = p.payload.unwrap();
        assert_eq!(p.next_token.as_deref(), Some("t2"));
        let e = &p.events.unwrap().refunds[0];
        let i = &e.item_adjustments[0];
        assert_eq!(
            i.charge_adjustments[0]
                .charge_amount
                .as_ref()
                .unwrap()
                .currency_amount,
            Some(dec!(-24.1))
        );
        assert_eq!(
            i.charge_adjustments[1]
                .charge_amount
                .as_ref()
                .unwrap()
                .currency_amount,
            Some(dec!(-3.85))
        );
        assert_eq!(
            i.promotion_adjustments[0]
                .promotion_amount
                .as_ref()
                .unwrap()
                .currency_amount,
            Some(dec!(0.1))
        );
    }
}
