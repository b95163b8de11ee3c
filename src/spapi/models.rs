//! Orders API 2026-01-01 shapes, as far as fulfil reads them.
//!
//! Written from `orders_2026-01-01.json`. Everything Amazon may leave out is an
//! `Option`; enumerations are kept as strings, so that a value Amazon adds later is
//! stored rather than failing the order. Personal data is wrapped in [`Pii`].

use std::str::FromStr as _;

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::logging::Pii;

/// One page of searchOrders, with the orders still unparsed so that one bad order
/// does not lose the page.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    pub orders: Vec<serde_json::Value>,
    pub pagination: Option<Pagination>,
    pub last_updated_before: Option<String>,
    pub created_before: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    pub amount: String,
    pub currency_code: String,
}

impl Money {
    /// The amount as a decimal; Amazon sends it as a string (RFC 7159 number syntax).
    pub fn decimal(&self) -> Option<Decimal> {
        let s = self.amount.trim();
        if s.len() > 40 {
            return None;
        }
        Decimal::from_str(s)
            .or_else(|_| Decimal::from_scientific(s))
            .ok()
    }
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: String,
    pub created_time: String,
    pub last_updated_time: String,
    #[serde(default)]
    pub programs: Vec<String>,
    pub sales_channel: SalesChannel,
    pub buyer: Option<Buyer>,
    pub recipient: Option<Recipient>,
    pub proceeds: Option<OrderProceeds>,
    pub tax: Option<OrderTax>,
    pub fulfillment: Option<OrderFulfillment>,
    #[serde(default)]
    pub order_items: Vec<OrderItem>,
    pub packages: Option<Vec<OrderPackage>>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SalesChannel {
    pub channel_name: Option<String>,
    pub marketplace_id: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Buyer {
    pub buyer_name: Option<Pii<String>>,
    pub buyer_email: Option<Pii<String>>,
    pub buyer_company_name: Option<Pii<String>>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    pub delivery_address: Option<Address>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub name: Option<Pii<String>>,
    pub company_name: Option<Pii<String>>,
    pub address_line1: Option<Pii<String>>,
    pub address_line2: Option<Pii<String>>,
    pub address_line3: Option<Pii<String>>,
    pub city: Option<Pii<String>>,
    pub district_or_county: Option<Pii<String>>,
    pub state_or_region: Option<Pii<String>>,
    pub postal_code: Option<Pii<String>>,
    pub country_code: Option<String>,
    pub phone: Option<Pii<String>>,
    pub address_type: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct OrderProceeds {
    pub grand_total: Option<Money>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct OrderTax {
    #[serde(default)]
    pub tax_registrations: Vec<TaxRegistration>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct TaxRegistration {
    pub entity_type: Option<String>,
    pub legal_name: Option<Pii<String>>,
    pub tax_registration_type: Option<String>,
    pub tax_registration_number: Option<Pii<String>>,
    pub tax_registration_address: Option<TaxAddress>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct TaxAddress {
    pub country_code: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct OrderFulfillment {
    pub fulfillment_status: String,
    pub fulfilled_by: Option<String>,
    pub fulfillment_service_level: Option<String>,
    pub ship_by_window: Option<DateTimeRange>,
    pub deliver_by_window: Option<DateTimeRange>,
    /// The earliest time a label may be printed; absent means any time.
    pub label_printing_window: Option<DateTimeRange>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeRange {
    pub earliest_date_time: Option<String>,
    pub latest_date_time: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub order_item_id: String,
    pub quantity_ordered: i64,
    pub product: ItemProduct,
    pub proceeds: Option<ItemProceeds>,
    pub fulfillment: Option<ItemFulfillment>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ItemProduct {
    pub asin: Option<String>,
    pub title: Option<String>,
    pub seller_sku: Option<String>,
    pub price: Option<ItemPrice>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ItemPrice {
    pub unit_price: Option<Money>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ItemProceeds {
    pub proceeds_total: Option<Money>,
    #[serde(default)]
    pub breakdowns: Vec<ItemProceedsBreakdown>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ItemProceedsBreakdown {
    #[serde(rename = "type")]
    pub kind: String,
    pub subtotal: Money,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ItemFulfillment {
    pub quantity_fulfilled: Option<i64>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct OrderPackage {
    pub package_reference_id: String,
    pub package_status: Option<PackageStatus>,
    pub carrier: Option<String>,
    pub ship_time: Option<String>,
    pub tracking_number: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PackageStatus {
    pub status: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn money(a: &str) -> Money {
        Money {
            amount: a.into(),
            currency_code: "EUR".into(),
        }
    }

    #[test]
    fn money_parses_exactly() {
        assert_eq!(money("24.19").decimal(), Some(dec!(24.19)));
        assert_eq!(money("-0.10").decimal(), Some(dec!(-0.10)));
        assert_eq!(money("1E+2").decimal(), Some(dec!(100)));
        assert_eq!(money("abc").decimal(), None);
        assert_eq!(money(&"9".repeat(100)).decimal(), None);
    }

    #[test]
    fn order_debug_hides_personal_data() {
        let v = serde_json::json!({
            "orderId": "028-1234567-1234567",
            "createdTime": "2026-11-01T10:00:00Z",
            "lastUpdatedTime": "2026-11-01T10:00:00Z",
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": "A1805IZSGTT6HS"},
            "buyer": {"buyerName": "Canary Buyer"},
            "recipient": {"deliveryAddress": {"name": "Canary Name", "addressLine1": "Canarystraat 1", "countryCode": "NL"}},
            "fulfillment": {"fulfillmentStatus": "SOMETHING_NEW"},
            "orderItems": []
        });
        let o: Order = serde_json::from_value(v).unwrap();
        let dbg = format!("{o:?}");
        assert!(!dbg.contains("Canary"), "{dbg}");
        assert_eq!(o.fulfillment.unwrap().fulfillment_status, "SOMETHING_NEW");
    }
}
