//! Orders API 2026-01-01 searchOrders, and which data blocks to ask for.

use crate::config::{FulfilledBy, Role};

use super::models::SearchPage;
use super::{Call, Client, Method, Operation, SpapiError};

pub const SEARCH_PATH: &str = "/orders/2026-01-01/orders";

/// The `includedData` blocks to ask for, given the roles the seller granted.
///
/// Data minimisation: FULFILLMENT, PROCEEDS and PACKAGES need no restricted role and
/// every command needs them; RECIPIENT (the delivery address) only with
/// Direct-to-Consumer Shipping, which labels need; BUYER and TAX (buyer name, company,
/// VAT registration) only with Tax Invoicing or Tax Remittance, which invoices need.
/// Nothing else (payment, expenses, promotions, gift data) is asked for.
pub fn included_data(roles: &[Role]) -> Vec<&'static str> {
    let mut v = vec!["FULFILLMENT", "PROCEEDS", "PACKAGES"];
    if roles.contains(&Role::DirectToConsumerShipping) {
        v.push("RECIPIENT");
    }
    if roles.contains(&Role::TaxInvoicing) || roles.contains(&Role::TaxRemittance) {
        v.push("BUYER");
        v.push("TAX");
    }
    v
}

/// The parameters of one searchOrders window. A pagination token is only valid with
/// exactly these, so they are kept and repeated unchanged for every page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchParams {
    pub last_updated_after: String,
    pub last_updated_before: String,
    pub marketplace_ids: Vec<String>,
    pub fulfilled_by: Vec<String>,
    pub included_data: Vec<String>,
}

impl SearchParams {
    pub fn fulfilled_by_names(list: &[FulfilledBy]) -> Vec<String> {
        list.iter()
            .map(|f| match f {
                FulfilledBy::Merchant => "MERCHANT".to_string(),
                FulfilledBy::Amazon => "AMAZON".to_string(),
            })
            .collect()
    }

    fn query(&self, token: Option<&str>) -> Vec<(&'static str, String)> {
        let mut q = vec![
            ("lastUpdatedAfter", self.last_updated_after.clone()),
            ("lastUpdatedBefore", self.last_updated_before.clone()),
            ("marketplaceIds", self.marketplace_ids.join(",")),
            ("fulfilledBy", self.fulfilled_by.join(",")),
            ("maxResultsPerPage", "100".to_string()),
            ("includedData", self.included_data.join(",")),
        ];
        if let Some(t) = token {
            q.push(("paginationToken", t.to_string()));
        }
        q
    }
}

/// Fetches one page.
pub fn search_page(
    client: &Client<'_>,
    params: &SearchParams,
    token: Option<&str>,
) -> Result<(SearchPage, Option<String>), SpapiError> {
    let query = params.query(token);
    client.call_json(&Call {
        op: Operation::SearchOrders,
        method: Method::Get,
        path: SEARCH_PATH.to_string(),
        query: &query,
        body: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn included_data_follows_roles() {
        assert_eq!(
            included_data(&[]),
            vec!["FULFILLMENT", "PROCEEDS", "PACKAGES"]
        );
        assert_eq!(
            included_data(&[Role::DirectToConsumerShipping]),
            vec!["FULFILLMENT", "PROCEEDS", "PACKAGES", "RECIPIENT"]
        );
        assert_eq!(
            included_data(&[Role::TaxInvoicing]),
            vec!["FULFILLMENT", "PROCEEDS", "PACKAGES", "BUYER", "TAX"]
        );
        let all = included_data(&[Role::DirectToConsumerShipping, Role::TaxRemittance]);
        assert!(all.contains(&"RECIPIENT") && all.contains(&"TAX"));
    }
}
