//! Orders v0 confirmShipment: telling Amazon a parcel left, with its tracking number.
//!
//! v0 reads are deprecated, but shipment confirmation lives only in v0. Amazon is
//! strict about the body: `packageReferenceId` is a string holding a positive integer,
//! `carrierCode` is required and must be on Amazon's carrier list (else `Other` with a
//! `carrierName`), `shipDate` is an ISO 8601 date-time, and the items are the order's
//! own order item ids.

use serde::Serialize;

use super::{Call, Client, Method, Operation, SpapiError};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmShipment {
    pub marketplace_id: String,
    pub package_detail: PackageDetail,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageDetail {
    pub package_reference_id: String,
    pub carrier_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    pub ship_date: String,
    pub order_items: Vec<ConfirmItem>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmItem {
    pub order_item_id: String,
    pub quantity: i64,
}

impl ConfirmShipment {
    /// The body for a PostNL parcel. `carrier_code` "Other" adds carrierName "PostNL".
    pub fn postnl(
        marketplace_id: &str,
        package_reference_id: &str,
        carrier_code: &str,
        tracking_number: &str,
        ship_date: &str,
        items: &[(String, i64)],
    ) -> Self {
        Self {
            marketplace_id: marketplace_id.to_string(),
            package_detail: PackageDetail {
                package_reference_id: package_reference_id.to_string(),
                carrier_code: carrier_code.to_string(),
                carrier_name: carrier_code
                    .eq_ignore_ascii_case("other")
                    .then(|| "PostNL".to_string()),
                shipping_method: None,
                tracking_number: tracking_number.to_string(),
                ship_date: ship_date.to_string(),
                order_items: items
                    .iter()
                    .map(|(id, q)| ConfirmItem {
                        order_item_id: id.clone(),
                        quantity: *q,
                    })
                    .collect(),
            },
        }
    }
}

/// POST /orders/v0/orders/{orderId}/shipmentConfirmation (204 on success).
pub fn confirm(
    client: &Client<'_>,
    order_id: &str,
    body: &ConfirmShipment,
) -> Result<(), SpapiError> {
    let value = serde_json::to_value(body).map_err(|_| SpapiError::Malformed {
        op: "confirmShipment",
        detail: "the request could not be encoded".into(),
        request_id: None,
    })?;
    client.call(&Call {
        op: Operation::ConfirmShipment,
        method: Method::Post,
        path: format!("/orders/v0/orders/{order_id}/shipmentConfirmation"),
        query: &[],
        body: Some(&value),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_shape_amazon_wants() {
        let b = ConfirmShipment::postnl(
            "A1805IZSGTT6HS",
            "1",
            "PostNL",
            "3SDEVC987000001",
            "2026-11-20T10:00:00Z",
            &[("1234".into(), 2)],
        );
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["packageDetail"]["packageReferenceId"], "1");
        assert!(v["packageDetail"]["packageReferenceId"].is_string());
        assert_eq!(v["packageDetail"]["carrierCode"], "PostNL");
        assert!(v["packageDetail"].get("carrierName").is_none());
        assert_eq!(v["packageDetail"]["orderItems"][0]["quantity"], 2);
        let other = ConfirmShipment::postnl("A", "1", "Other", "X", "2026-11-20T10:00:00Z", &[]);
        assert_eq!(other.package_detail.carrier_name.as_deref(), Some("PostNL"));
    }
}
