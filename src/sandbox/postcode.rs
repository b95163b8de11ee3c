//! PostNL's Checkout Postalcode Check, the sandbox half (issue #18):
//! `GET /shipment/checkout/v1/postalcodecheck?postalcode=&housenumber=&housenumberaddition=`.
//!
//! The sandbox core has already routed the request, checked the key and the method, and
//! applied the rate limit and injected faults (the call counts against PostNL's calls per
//! minute like the label calls). This module answers from its own small address book
//! ([`BOOK`]), the way `specs/postnl/PostalcodeCheck.json` describes the service:
//!
//! - 200 with an array of addresses: every address at that postcode and number whose
//!   addition equals the one asked for (case and blanks ignored); when none does, or no
//!   addition was asked for, every address at that postcode and number ("if no exact
//!   match is available, multiple addresses will be returned");
//! - 200 with `[]` when the postcode and number are not in the book;
//! - 400 `{"errors":[{"status","title","detail"}]}` for a postcode that is not `1234AB`
//!   (6 characters), a house number that is not 1–5 digits, or an addition longer than 6.
//!
//! The book is synthetic: invented streets at invented postcodes, chosen to exercise
//! the cases the client must handle (one reading confirmed, the other one, a street that
//! does not belong to its postcode). [`MISMATCH_POSTCODE`] holds a street no test order
//! uses; [`super::postnl::UNKNOWN_ZIPCODE`] is in no entry.

use serde_json::{Value, json};

use super::{Request, Response};

/// The path, as PostNL serves it.
pub(crate) const PATH: &str = "/shipment/checkout/v1/postalcodecheck";

/// A postcode whose only street is `Registerweg`: any other street there is a mismatch.
pub(crate) const MISMATCH_POSTCODE: &str = "1013AA";

/// (postcode, street, number, addition, city): the sandbox's postcode register.
pub(crate) const BOOK: &[(&str, &str, u32, &str, &str)] = &[
    // `Zonegge 23 12`: the street is `Zonegge 23`, number 12.
    ("1011AB", "Zonegge 23", 12, "", "TESTSTAD"),
    ("1011AB", "Zonegge 23", 14, "", "TESTSTAD"),
    // `Markerkant 10 142`: the street is `Markerkant`, number 10, addition 142.
    ("1011AC", "Markerkant", 10, "142", "TESTSTAD"),
    ("1011AC", "Markerkant", 10, "144", "TESTSTAD"),
    // `Kerkweg 7 8`: both readings exist at this postcode, so the register cannot tell.
    ("1011AD", "Kerkweg", 7, "8", "TESTSTAD"),
    ("1011AD", "Kerkweg 7", 8, "", "TESTSTAD"),
    // Plain addresses that the register confirms.
    ("1011AE", "Hoofdstraat", 12, "", "TESTSTAD"),
    ("1011AE", "Hoofdstraat", 12, "A", "TESTSTAD"),
    ("1011AE", "Hoofdstraat", 14, "", "TESTSTAD"),
    ("3511AB", "Hoofdstraat", 12, "", "UTRECHT"),
    (MISMATCH_POSTCODE, "Registerweg", 5, "", "TESTSTAD"),
];

fn bad_request(detail: &str) -> Response {
    Response::json(
        400,
        &json!({"errors": [{"status": "400", "title": "Bad Request", "detail": detail}]}),
    )
}

fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

fn entry(e: &(&str, &str, u32, &str, &str)) -> Value {
    let (postcode, street, number, addition, city) = *e;
    let line = if addition.is_empty() {
        format!("{street} {number}")
    } else {
        format!("{street} {number} {addition}")
    };
    let mut v = json!({
        "city": city,
        "postalCode": postcode,
        "streetName": street,
        "houseNumber": number,
        "formattedAddress": [line, format!("{postcode} {city}")],
    });
    if !addition.is_empty() {
        v["houseNumberAddition"] = json!(addition);
    }
    v
}

/// Answers one postal-code check.
pub(crate) fn answer(req: &Request) -> Response {
    let postcode = req.query_param("postalcode").unwrap_or("");
    let number = req.query_param("housenumber").unwrap_or("");
    let addition = req.query_param("housenumberaddition").unwrap_or("");
    let pc = postcode.as_bytes();
    let pc_ok = pc.len() == 6
        && pc.iter().take(4).all(u8::is_ascii_digit)
        && pc.iter().skip(4).all(u8::is_ascii_uppercase);
    if !pc_ok {
        return bad_request("PostalCode has the wrong format. It should be: 1234AB");
    }
    let Some(number) = (1..=5)
        .contains(&number.len())
        .then(|| number.parse::<u32>().ok())
        .flatten()
        .filter(|_| number.bytes().all(|b| b.is_ascii_digit()))
    else {
        return bad_request("Input field 'housenumber' must be a number");
    };
    if addition.chars().count() > 6 {
        return bad_request("Input field 'housenumberaddition' is too long");
    }
    let at: Vec<&(&str, &str, u32, &str, &str)> = BOOK
        .iter()
        .filter(|e| e.0 == postcode && e.2 == number)
        .collect();
    let exact: Vec<&&(&str, &str, u32, &str, &str)> = at
        .iter()
        .filter(|e| !addition.is_empty() && fold(e.3) == fold(addition))
        .collect();
    let list: Vec<Value> = if exact.is_empty() {
        at.iter().map(|e| entry(e)).collect()
    } else {
        exact.iter().map(|e| entry(e)).collect()
    };
    Response::json(200, &Value::Array(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".to_owned(),
            path: PATH.to_owned(),
            query: query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn assert_schema(schema: &str, instance: &Value) {
        crate::sandbox::postnl::tests::assert_schema("PostalcodeCheck.json", schema, instance);
    }

    fn body(r: &Response) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn found_not_found_and_bad_requests_follow_the_description() {
        let r = answer(&request(&[("postalcode", "1011AB"), ("housenumber", "12")]));
        assert_eq!(r.status, 200);
        let b = body(&r);
        assert_schema("cpcResponse", &b);
        assert_eq!(b[0]["streetName"], "Zonegge 23");
        assert_eq!(b[0]["houseNumber"], 12);
        assert_eq!(b[0]["formattedAddress"][1], "1011AB TESTSTAD");
        assert!(b[0].get("houseNumberAddition").is_none());

        // Not in the book: an empty array.
        let r = answer(&request(&[("postalcode", "9999ZZ"), ("housenumber", "1")]));
        assert_eq!((r.status, body(&r)), (200, json!([])));

        // An addition that matches narrows the answer; one that does not gives all.
        let q = |a: &str| {
            body(&answer(&request(&[
                ("postalcode", "1011AC"),
                ("housenumber", "10"),
                ("housenumberaddition", a),
            ])))
        };
        assert_eq!(q("142").as_array().map(Vec::len), Some(1));
        assert_eq!(q("142")[0]["houseNumberAddition"], "142");
        assert_eq!(q("9").as_array().map(Vec::len), Some(2));
        assert_schema("cpcResponse", &q("9"));

        for bad in [
            vec![("postalcode", "1011 AB"), ("housenumber", "12")],
            vec![("postalcode", "1011AB"), ("housenumber", "12a")],
            vec![("postalcode", "1011AB"), ("housenumber", "123456")],
            vec![
                ("postalcode", "1011AB"),
                ("housenumber", "1"),
                ("housenumberaddition", "ABCDEFG"),
            ],
        ] {
            let r = answer(&request(&bad));
            assert_eq!(r.status, 400, "{bad:?}");
            assert_schema("cpcResponseInvalid", &body(&r));
        }
    }
}
