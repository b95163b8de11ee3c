//! PostNL's Checkout Postalcode Check (issue #18):
//! `GET /shipment/checkout/v1/postalcodecheck?postalcode=&housenumber=&housenumberaddition=`,
//! described in `specs/postnl/PostalcodeCheck.json`.
//!
//! The register answers with every address it has at a Dutch postcode and house number
//! (narrowed to the addition when one matches), or `[]` when it has none. fulfil asks it
//! which of an address's possible readings exists, and whether the street belongs to the
//! postcode at all. The call goes through the same `Client::exchange` as the label calls:
//! the same pacing (it counts against PostNL's calls per minute), retries, back-off and
//! error mapping.
//!
//! What the register answers is the public description of a place (street, number,
//! addition, city): no more than a label for that address carries. It is still kept
//! with the order it was asked for and removed with the order's personal data.

use serde::{Deserialize, Serialize};

use super::models::BodyError;
use super::{Call, Client, PostnlError};

/// The path, as PostNL serves it.
pub const POSTCODE_CHECK_PATH: &str = "/shipment/checkout/v1/postalcodecheck";

/// One address the register knows.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub street: String,
    pub house_nr: String,
    /// The addition, empty when the address has none.
    pub addition: String,
    pub city: String,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Registered { .. [pii] }")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    street_name: Option<String>,
    #[serde(default)]
    house_number: Option<serde_json::Value>,
    #[serde(default)]
    house_number_addition: Option<String>,
}

/// Reads a 2xx answer: an array of addresses (possibly empty).
pub(crate) fn parse(body: &[u8]) -> Result<Vec<Registered>, BodyError> {
    let wire: Vec<Wire> = serde_json::from_slice(body)
        .map_err(|_| BodyError::Malformed("not an array of addresses".into()))?;
    Ok(wire
        .into_iter()
        .filter_map(|w| {
            let house_nr = match w.house_number? {
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::String(s) => s,
                _ => return None,
            };
            Some(Registered {
                street: w.street_name?,
                house_nr,
                addition: w.house_number_addition.unwrap_or_default(),
                city: w.city.unwrap_or_default(),
            })
        })
        .collect())
}

impl Client<'_> {
    /// Asks the register for the addresses at `postcode` (`1234AB`) and `house_nr`
    /// (1–5 digits), narrowed to `addition` (at most 6 characters) when given.
    ///
    /// # Errors
    ///
    /// [`PostnlError::Refused`] without a call for arguments the service cannot take;
    /// otherwise the errors of every PostNL call (network, throttled, server, key).
    pub fn postalcode_check(
        &self,
        postcode: &str,
        house_nr: &str,
        addition: &str,
    ) -> Result<Vec<Registered>, PostnlError> {
        let pc = postcode.as_bytes();
        let pc_ok = pc.len() == 6
            && pc.iter().take(4).all(u8::is_ascii_digit)
            && pc.iter().skip(4).all(u8::is_ascii_uppercase);
        let nr_ok =
            (1..=5).contains(&house_nr.len()) && house_nr.bytes().all(|b| b.is_ascii_digit());
        if !pc_ok || !nr_ok || addition.chars().count() > 6 {
            return Err(PostnlError::Refused(
                "the postcode check takes a 1234AB postcode, 1 to 5 digits and an addition of at most 6 characters",
            ));
        }
        let mut query = vec![
            ("postalcode", postcode.to_string()),
            ("housenumber", house_nr.to_string()),
        ];
        if !addition.is_empty() {
            query.push(("housenumberaddition", addition.to_string()));
        }
        let call = Call {
            op: "postalcodecheck",
            path: POSTCODE_CHECK_PATH,
            query: &query,
            body: None,
        };
        self.exchange(&call, parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_answers() {
        let one = br#"[{"city":"UTRECHT","postalCode":"3571ZZ","streetName":"Molengraaffplantsoen",
            "houseNumber":74,"houseNumberAddition":"bis","formattedAddress":["Molengraaffplantsoen 74 bis","3571ZZ UTRECHT"]}]"#;
        let got = parse(one).ok().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].street, "Molengraaffplantsoen");
        assert_eq!(got[0].house_nr, "74");
        assert_eq!(got[0].addition, "bis");
        assert_eq!(format!("{:?}", got[0]), "Registered { .. [pii] }");
        assert!(parse(b"[]").ok().unwrap().is_empty());
        assert!(matches!(
            parse(b"{\"errors\":[]}"),
            Err(BodyError::Malformed(_))
        ));
        assert!(matches!(parse(b"[{\"cit"), Err(BodyError::Malformed(_))));
    }
}
