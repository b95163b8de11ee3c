//! A stand-in for the European Commission's TEDB VAT retrieval service:
//! `POST /_tedb/ws/VatRetrievalService`, SOAP 1.1, `retrieveVatRates` in the shape of
//! `specs/tedb/` (the fidelity test validates requests and answers against those schemas).
//!
//! THE RATES ARE THE BUILT-IN TABLE'S, not fetched from the Commission. For a day past the
//! built-in table's horizon the last known rates continue, so that the sandbox can play
//! 2028; and one change is seeded for tests to find: Belgium's standard rate becomes 22 %
//! on [`SEEDED_CHANGE`]. Like the real service it lists regional and item-specific rows
//! beside the ones fulfil uses (a Canary Islands standard rate, a second Austrian food
//! rate, an out-of-scope row), so the client has to pick.
//!
//! Fault hooks (see `faults.rs`): `soapfault` answers with a SOAP fault, `incomplete` leaves
//! out one asked member state; `truncate` and `malformed` work as for every service.

use rust_decimal::Decimal;
use time::Date;
use time::macros::date;

use crate::invoice::rates::{TaxCategory, builtin, eu_member};
use crate::sandbox::{Ctx, Request, Response};
use crate::tedb::{NS_MSG, NS_SOAP, NS_TYPES};

/// The seeded change: BE standard 21 % → 22 % from this day.
pub const SEEDED_CHANGE: Date = date!(2028 - 02 - 15);
const SEEDED_RATE: Decimal = Decimal::from_parts(22, 0, 0, false, 0);

/// A SOAP fault in the service's shape (HTTP 500).
pub(crate) fn fault(code: &str, description: &str) -> Response {
    let body = format!(
        r#"<env:Envelope xmlns:env="{NS_SOAP}"><env:Header/><env:Body><env:Fault><faultcode>env:Client</faultcode><faultstring>{code} {description}</faultstring><detail><ns0:retrieveVatRatesFaultMsg xmlns="{NS_TYPES}" xmlns:ns0="{NS_MSG}"><error><code>{code}</code><description>{description}</description></error></ns0:retrieveVatRatesFaultMsg></detail></env:Fault></env:Body></env:Envelope>"#
    );
    Response::text(500, "text/xml; charset=UTF-8", body)
}

/// The asked member states (TEDB codes) and day, or why the request is refused.
fn read_request(body: &[u8]) -> Result<(Vec<String>, Date), &'static str> {
    let text = std::str::from_utf8(body).map_err(|_| "not UTF-8")?;
    let doc = roxmltree::Document::parse(text).map_err(|_| "not XML")?;
    let msg = doc
        .descendants()
        .find(|n| {
            n.is_element()
                && n.tag_name().name() == "retrieveVatRatesReqMsg"
                && n.tag_name().namespace() == Some(NS_MSG)
        })
        .ok_or("no retrieveVatRatesReqMsg")?;
    let typed = |n: &roxmltree::Node<'_, '_>, name: &str| {
        n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(NS_TYPES)
    };
    let states: Vec<String> = msg
        .children()
        .find(|n| typed(n, "memberStates"))
        .ok_or("no memberStates")?
        .children()
        .filter(|n| typed(n, "isoCode"))
        .map(|n| n.text().unwrap_or("").trim().to_owned())
        .collect();
    if states.is_empty() {
        return Err("no isoCode");
    }
    let day = msg
        .children()
        .find(|n| typed(n, "situationOn") || typed(n, "to"))
        .and_then(|n| n.text())
        .ok_or("no situationOn")?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let day = Date::parse(day.trim(), &fmt).map_err(|_| "situationOn is not a date")?;
    Ok((states, day))
}

/// One `vatRateResults` element.
fn result(
    code: &str,
    kind: &str,
    value_type: &str,
    value: Decimal,
    since: Date,
    category: Option<(&str, &str)>,
    comment: &str,
) -> String {
    // xs:double as TEDB writes it: one decimal at least (`21.0`, `5.5`).
    let value = if value.fract().is_zero() {
        format!("{}.0", value.trunc())
    } else {
        value.normalize().to_string()
    };
    let category = category.map_or(String::new(), |(id, desc)| {
        format!(
            "<category><identifier>{id}</identifier><description>{desc}</description></category>"
        )
    });
    let comment = if comment.is_empty() {
        String::new()
    } else {
        format!("<comment>{comment}</comment>")
    };
    format!(
        "<vatRateResults><memberState>{code}</memberState><type>{kind}</type><rate><type>{value_type}</type><value>{value}</value></rate><situationOn>{since}+01:00</situationOn>{category}{comment}</vatRateResults>"
    )
}

/// The built-in rate of `country`/`category` on `day` (continued past the horizon), with
/// the day it started.
fn rate_on(country: &str, category: TaxCategory, day: Date) -> Option<(Decimal, Date)> {
    let b = builtin();
    let asked = day.min(b.verified_until);
    if country == "BE" && category == TaxCategory::Standard && day >= SEEDED_CHANGE {
        return Some((SEEDED_RATE, SEEDED_CHANGE));
    }
    b.rows
        .iter()
        .map(|(e, _)| e)
        .find(|e| {
            e.country == country
                && e.category == category
                && e.valid_from <= asked
                && e.valid_to.is_none_or(|to| asked <= to)
        })
        .map(|e| (e.rate, e.valid_from))
}

/// `retrieveVatRates`; with `drop_one`, the answer leaves out the last asked member state.
pub(crate) fn retrieve(req: &Request, _ctx: &Ctx<'_>, drop_one: bool) -> Response {
    let (mut states, day) = match read_request(&req.body) {
        Ok(r) => r,
        Err(why) => return fault("TEDB-ERR-2", &format!("The XSD validation failed: {why}")),
    };
    if drop_one {
        states.pop();
    }
    let reduced_type = |v: Decimal| {
        if v > Decimal::ZERO && v < Decimal::from(5) {
            "SUPER_REDUCED_RATE"
        } else {
            "REDUCED_RATE"
        }
    };
    let mut out = String::new();
    for code in &states {
        let Some(country) = eu_member(code) else {
            continue;
        };
        if let Some((v, since)) = rate_on(country, TaxCategory::Standard, day) {
            out.push_str(&result(code, "STANDARD", "DEFAULT", v, since, None, ""));
        }
        if country == "ES" {
            let canaries = Decimal::from(7);
            out.push_str(&result(
                code,
                "STANDARD",
                "DEFAULT",
                canaries,
                date!(2021 - 07 - 01),
                None,
                "VAT - Canary Islands - ",
            ));
        }
        if let Some((v, since)) = rate_on(country, TaxCategory::Reduced, day) {
            out.push_str(&result(
                code,
                "REDUCED",
                reduced_type(v),
                v,
                since,
                Some(("FOODSTUFFS", "Foodstuffs (including beverages but excluding alcoholic beverages) for human and animal consumption")),
                "",
            ));
        }
        // Austria: from 2026-07-01 listed staples are 4.9 % beside the general 10 %, which
        // the built-in table no longer holds as one food rate (it ends there).
        if country == "AT" && day >= date!(2026 - 07 - 01) {
            for (rate, since, comment) in [
                (
                    Decimal::from(10),
                    date!(2021 - 07 - 01),
                    "Annex 1 to Sec. 10 UStG 1994",
                ),
                (
                    Decimal::new(49, 1),
                    date!(2026 - 07 - 01),
                    "Annex 3 to Sec. 10 UStG 1994 (basic foods)",
                ),
            ] {
                out.push_str(&result(
                    code,
                    "REDUCED",
                    "REDUCED_RATE",
                    rate,
                    since,
                    Some(("FOODSTUFFS", "Foodstuffs")),
                    comment,
                ));
            }
        }
        if let Some((v, since)) = rate_on(country, TaxCategory::Books, day) {
            out.push_str(&result(
                code,
                "REDUCED",
                reduced_type(v),
                v,
                since,
                Some(("BOOKS", "Books on all physical means of support")),
                "",
            ));
        }
        if let Some((v, since)) = rate_on(country, TaxCategory::SuperReduced, day) {
            out.push_str(&result(
                code,
                "REDUCED",
                "SUPER_REDUCED_RATE",
                v,
                since,
                Some((
                    "EXEMPTION_SUPERREDUCED",
                    "Exemptions and super-reduced rates (Article 105a(1) of the VAT Directive)",
                )),
                "",
            ));
        }
        if country == "DE" {
            out.push_str(&result(
                code,
                "REDUCED",
                "OUT_OF_SCOPE",
                Decimal::ZERO,
                date!(2021 - 07 - 01),
                Some((
                    "BROADCASTING_SERVICES",
                    "Reception of radio and television broadcasting services",
                )),
                "",
            ));
        }
    }
    let body = format!(
        r#"<env:Envelope xmlns:env="{NS_SOAP}"><env:Header/><env:Body><ns0:retrieveVatRatesRespMsg xmlns="{NS_TYPES}" xmlns:ns0="{NS_MSG}"><additionalInformation/>{out}</ns0:retrieveVatRatesRespMsg></env:Body></env:Envelope>"#
    );
    Response::text(200, "text/xml; charset=UTF-8", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(states: &[&str], day: Date) -> Vec<u8> {
        let req = Request {
            method: "POST".into(),
            path: "/_tedb/ws/VatRetrievalService".into(),
            body: crate::tedb::request_body(states, day).into_bytes(),
            ..Request::default()
        };
        let ctx = Ctx {
            now: time::OffsetDateTime::UNIX_EPOCH,
            base_url: "http://127.0.0.1:1",
            seed: 1,
            scale: 1.0,
        };
        retrieve(&req, &ctx, false).body
    }

    #[test]
    fn answers_parse_and_carry_the_seeded_change_from_its_first_day() {
        let all = crate::invoice::rates::EU_MEMBER_STATES;
        let before = crate::tedb::pick(
            &crate::tedb::parse(&ask(&all, SEEDED_CHANGE.previous_day().unwrap())).unwrap(),
        );
        let after = crate::tedb::pick(&crate::tedb::parse(&ask(&all, SEEDED_CHANGE)).unwrap());
        assert!(crate::tedb::missing_standard(&after).is_empty());
        let be = |s: &crate::tedb::Sample| s[&("BE".to_owned(), TaxCategory::Standard)];
        assert_eq!(be(&before).rate, Decimal::from(21));
        assert_eq!(be(&after).rate, SEEDED_RATE);
        assert_eq!(be(&after).since, Some(SEEDED_CHANGE));
        let es = after[&("ES".to_owned(), TaxCategory::Standard)].rate;
        assert_eq!(
            es,
            Decimal::from(21),
            "the Canaries' 7 % is not Spain's rate"
        );
        // Austria's food has two rates in TEDB from July 2026 and the built-in row ended:
        // no food rate is taken, while before that day the one rate is.
        assert!(!after.contains_key(&("AT".to_owned(), TaxCategory::Reduced)));
        let june =
            crate::tedb::pick(&crate::tedb::parse(&ask(&all, date!(2026 - 06 - 15))).unwrap());
        assert_eq!(
            june[&("AT".to_owned(), TaxCategory::Reduced)].rate,
            Decimal::from(10)
        );
        let gr = after[&("GR".to_owned(), TaxCategory::Standard)].rate;
        assert_eq!(gr, Decimal::from(24), "Greece is asked and answered as EL");
    }

    #[test]
    fn a_bad_request_gets_a_soap_fault() {
        let req = Request {
            method: "POST".into(),
            body: b"<x/>".to_vec(),
            ..Request::default()
        };
        let ctx = Ctx {
            now: time::OffsetDateTime::UNIX_EPOCH,
            base_url: "http://127.0.0.1:1",
            seed: 1,
            scale: 1.0,
        };
        let resp = retrieve(&req, &ctx, false);
        assert_eq!(resp.status, 500);
        assert!(matches!(
            crate::tedb::parse(&resp.body),
            Err(crate::tedb::TedbError::Fault(_))
        ));
    }
}
