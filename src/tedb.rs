//! The European Commission's TEDB (Taxes in Europe Database) VAT retrieval web service:
//! `retrieveVatRates` over SOAP 1.1, as described by `specs/tedb/` (WSDL and XSDs).
//!
//! `fulfil rates update` asks it for the rates in force on a set of days (the 1st of each
//! month from three months back to N months ahead, plus today), picks out the rates fulfil's
//! categories need, and merges the samples into dated rows. This module is the client and
//! the conversion; the command (`commands/rates.rs`) stores the rows, and the rate table
//! (`invoice/rates.rs`, which stays free of I/O) uses them as its TEDB layer.
//!
//! How TEDB's answer maps onto fulfil's categories (see docs/vat-rates.md):
//!
//! | fulfil | TEDB `vatRateResults` |
//! |---|---|
//! | standard | `type` STANDARD, `rate/type` DEFAULT; the highest value when there are several (the others are regional rates such as the Canary Islands, Madeira or the Azores, all lower) |
//! | reduced (ordinary food) | `category/identifier` FOODSTUFFS, `rate/type` REDUCED_RATE; SUPER_REDUCED_RATE only when no REDUCED_RATE row exists (Luxembourg) |
//! | books (printed books) | `category/identifier` BOOKS, `rate/type` REDUCED_RATE or SUPER_REDUCED_RATE |
//! | super_reduced | any row with `rate/type` SUPER_REDUCED_RATE |
//!
//! For the three non-standard categories TEDB often lists several values (one per group of
//! goods). A rate is taken when TEDB lists exactly one value, or when it lists several and
//! one of them is the rate the built-in table's open-ended row expects to go on (France's
//! 5.5 % food beside its 10 %). Otherwise the rate depends on the item (Austria's 10 % food
//! and 4.9 % staples from July 2026, where the built-in row ends) and the configuration
//! must say it: fulfil does not guess.
//!
//! TEDB lists every item-specific reduced rate, so a category fulfil treats as one rate per
//! country is filled only for the countries where the built-in table has that category at
//! all (where it is not item-specific); elsewhere the configuration must say it, as before.
//! Rows without a value, PARKING_RATE, NOT_APPLICABLE, OUT_OF_SCOPE and EXEMPTED rows are
//! never used.

use std::collections::BTreeMap;
use std::str::FromStr as _;
use std::time::Duration;

use rust_decimal::Decimal;
use time::{Date, Month};

use crate::error::{Classify, Exit};
use crate::invoice::rates::{EU_MEMBER_STATES, RateEntry, TaxCategory, eu_member};

/// The Commission's endpoint (the WSDL's `soap:address`, over https).
pub const DEFAULT_ENDPOINT: &str =
    "https://ec.europa.eu/taxation_customs/tedb/ws/VatRetrievalService";
/// The `soapAction` of `retrieveVatRates` in the WSDL's binding.
pub const SOAP_ACTION: &str =
    "urn:ec.europa.eu:taxud:tedb:services:v1:VatRetrievalService/RetrieveVatRates";
/// Namespace of the request and answer elements (`VatRetrievalServiceMessage.xsd`).
pub const NS_MSG: &str = "urn:ec.europa.eu:taxud:tedb:services:v1:IVatRetrievalService";
/// Namespace of their content (`VatRetrievalServiceType.xsd`).
pub const NS_TYPES: &str = "urn:ec.europa.eu:taxud:tedb:services:v1:IVatRetrievalService:types";
/// SOAP 1.1 envelope namespace.
pub const NS_SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// Answers larger than this are refused (a real all-states answer is a few MB).
const MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TedbError {
    #[error("TEDB could not be reached: {0}")]
    Network(String),
    #[error(transparent)]
    Tls(crate::transport::TlsError),
    #[error("TEDB answered HTTP {0}")]
    Status(u16),
    #[error("TEDB refused the request with a SOAP fault ({0})")]
    Fault(String),
    #[error("TEDB's answer could not be read: {0}")]
    Malformed(String),
    #[error("TEDB's answer for {on} has no standard rate for {}", .missing.join(", "))]
    Incomplete { on: Date, missing: Vec<String> },
}

impl Classify for TedbError {
    fn exit(&self) -> Exit {
        match self {
            Self::Network(_) => Exit::Temporary,
            Self::Status(s) if *s >= 500 || *s == 429 => Exit::Temporary,
            Self::Tls(t) => t.exit(),
            _ => Exit::Failed,
        }
    }

    fn hints(&self) -> Vec<String> {
        let kept = "nothing was changed: the rates of the last complete update (or the built-in table) stay in use".to_owned();
        match self {
            Self::Network(_) | Self::Status(_) if self.exit() == Exit::Temporary => vec![
                kept,
                "the Commission's service is busy or unreachable; the next run retries".into(),
            ],
            Self::Tls(t) => t.hints(),
            _ => vec![
                kept,
                "run `fulfil rates update` again later; if it keeps failing, check `rates.tedb_endpoint`".into(),
            ],
        }
    }
}

/// How the service names a rate's kind (`rateTypeEnum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Standard,
    Reduced,
}

/// One `vatRateResults` entry, reduced to what fulfil reads. Country codes are canonical
/// (`EL` becomes `GR`); comments and CN codes are not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateResult {
    pub country: String,
    pub kind: Kind,
    /// `rateValueTypeEnum`: DEFAULT, REDUCED_RATE, SUPER_REDUCED_RATE, …
    pub value_type: String,
    pub value: Option<Decimal>,
    /// The day from which this rate applies, as TEDB gives it.
    pub situation_on: Option<Date>,
    pub category: Option<String>,
}

/// The code TEDB uses for a member state (Greece is `EL` there).
fn tedb_code(country: &str) -> &str {
    if country == "GR" { "EL" } else { country }
}

/// The SOAP request for the rates in force in `states` on `on`.
#[must_use]
pub fn request_body(states: &[&str], on: Date) -> String {
    let mut codes = String::new();
    for s in states {
        codes.push_str("<t:isoCode>");
        codes.push_str(tedb_code(s));
        codes.push_str("</t:isoCode>");
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="{NS_SOAP}" xmlns:m="{NS_MSG}" xmlns:t="{NS_TYPES}"><soapenv:Header/><soapenv:Body><m:retrieveVatRatesReqMsg><t:memberStates>{codes}</t:memberStates><t:situationOn>{on}</t:situationOn></m:retrieveVatRatesReqMsg></soapenv:Body></soapenv:Envelope>"#
    )
}

fn malformed(msg: impl Into<String>) -> TedbError {
    TedbError::Malformed(msg.into())
}

/// Text from the service, made safe to print in one line.
fn clean(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| {
        c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(ns)
    })
}

fn text_of(node: roxmltree::Node<'_, '_>, ns: &str, name: &str) -> Option<String> {
    child(node, ns, name).map(|n| n.text().unwrap_or("").trim().to_owned())
}

/// An `xs:date`, with or without a time zone (`2024-01-01+01:00`).
fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    let day = s.get(..10)?;
    let rest = &s[10..];
    if !(rest.is_empty() || rest == "Z" || rest.starts_with('+') || rest.starts_with('-')) {
        return None;
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(day, &fmt).ok()
}

/// An `xs:double` percentage as a decimal, or `None` when it is no usable rate.
fn parse_percent(s: &str) -> Option<Decimal> {
    let s = s.trim();
    let d = Decimal::from_str(s)
        .ok()
        .or_else(|| Decimal::from_scientific(s).ok())?;
    (d >= Decimal::ZERO && d < Decimal::ONE_HUNDRED).then(|| d.normalize())
}

/// Reads one answer: the rate results, or the SOAP fault it carries.
///
/// # Errors
/// [`TedbError::Fault`] for a SOAP fault, [`TedbError::Malformed`] for anything that is not
/// a `retrieveVatRatesRespMsg` in a SOAP envelope.
pub fn parse(body: &[u8]) -> Result<Vec<RateResult>, TedbError> {
    if body.len() > MAX_BODY {
        return Err(malformed("the answer is too large"));
    }
    let text = std::str::from_utf8(body).map_err(|_| malformed("the answer is not UTF-8"))?;
    let doc = roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .map_err(|e| malformed(format!("not XML ({e})")))?;
    let root = doc.root_element();
    if root.tag_name().name() != "Envelope" || root.tag_name().namespace() != Some(NS_SOAP) {
        return Err(malformed("not a SOAP envelope"));
    }
    let body = child(root, NS_SOAP, "Body").ok_or_else(|| malformed("no SOAP body"))?;
    let msg = body
        .children()
        .find(roxmltree::Node::is_element)
        .ok_or_else(|| malformed("an empty SOAP body"))?;
    if msg.tag_name().name() == "Fault" && msg.tag_name().namespace() == Some(NS_SOAP) {
        return Err(TedbError::Fault(fault_text(msg)));
    }
    if msg.tag_name().name() != "retrieveVatRatesRespMsg"
        || msg.tag_name().namespace() != Some(NS_MSG)
    {
        return Err(malformed(format!(
            "unexpected element {} in the SOAP body",
            clean(msg.tag_name().name(), 60)
        )));
    }
    let mut out = Vec::new();
    for (i, r) in msg
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "vatRateResults")
        .enumerate()
    {
        let at = |what: &str| malformed(format!("vatRateResults #{}: {what}", i + 1));
        let code = text_of(r, NS_TYPES, "memberState").ok_or_else(|| at("no memberState"))?;
        let Some(country) = eu_member(&code) else {
            // Not a member state fulfil knows (TEDB also lists XI and others): skipped.
            continue;
        };
        let kind = match text_of(r, NS_TYPES, "type").as_deref() {
            Some("STANDARD") => Kind::Standard,
            Some("REDUCED") => Kind::Reduced,
            _ => return Err(at("type is not STANDARD or REDUCED")),
        };
        let rate = child(r, NS_TYPES, "rate").ok_or_else(|| at("no rate"))?;
        let value_type = text_of(rate, NS_TYPES, "type").ok_or_else(|| at("no rate type"))?;
        let value = match text_of(rate, NS_TYPES, "value") {
            None => None,
            Some(v) => Some(parse_percent(&v).ok_or_else(|| at("rate value is not a percentage"))?),
        };
        let situation_on = match text_of(r, NS_TYPES, "situationOn") {
            Some(s) => Some(parse_date(&s).ok_or_else(|| at("situationOn is not a date"))?),
            None => return Err(at("no situationOn")),
        };
        let category = child(r, NS_TYPES, "category")
            .and_then(|c| text_of(c, NS_TYPES, "identifier"))
            .map(|s| clean(&s, 80));
        out.push(RateResult {
            country: country.to_owned(),
            kind,
            value_type: clean(&value_type, 40),
            value,
            situation_on,
            category,
        });
    }
    Ok(out)
}

fn fault_text(fault: roxmltree::Node<'_, '_>) -> String {
    // SOAP 1.1 puts faultcode and faultstring in no namespace; TEDB's own error, if any,
    // sits in detail/retrieveVatRatesFaultMsg/error/{code,description}.
    let plain = |name: &str| {
        fault
            .children()
            .find(|c| c.is_element() && c.tag_name().name() == name)
            .and_then(|n| n.text())
            .map(|t| clean(t, 200))
    };
    let detail = fault
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "error")
        .map(|e| {
            let code = text_of(e, NS_TYPES, "code").unwrap_or_default();
            let desc = text_of(e, NS_TYPES, "description").unwrap_or_default();
            clean(&format!("{code} {desc}"), 200)
        });
    [detail, plain("faultstring"), plain("faultcode")]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "no reason given".to_owned())
}

/// The rate fulfil reads for one (country, category) on one day, with the day TEDB says it
/// applies from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Picked {
    pub rate: Decimal,
    pub since: Option<Date>,
}

/// The rates in force on one asked day, per (country, category).
pub type Sample = BTreeMap<(String, TaxCategory), Picked>;

/// Whether the built-in table has any row for `category` in `country` (see the module
/// comment: only there is the category one rate per country).
fn category_exists(country: &str, category: TaxCategory) -> bool {
    crate::invoice::rates::builtin()
        .rows
        .iter()
        .any(|(e, _)| e.country == country && e.category == category)
}

/// The rate of the built-in table's open-ended row for `category` in `country`: the rate
/// it expects to go on.
fn builtin_ongoing(country: &str, category: TaxCategory) -> Option<Decimal> {
    crate::invoice::rates::builtin()
        .rows
        .iter()
        .find(|(e, _)| e.country == country && e.category == category && e.valid_to.is_none())
        .map(|(e, _)| e.rate)
}

/// Picks fulfil's categories out of one answer (see the mapping in the module comment).
#[must_use]
pub fn pick(results: &[RateResult]) -> Sample {
    /// The rate of a category: the one value TEDB lists, or, when it lists several, the
    /// value the built-in table expects to go on if TEDB still lists it; else `None` (the
    /// rate depends on the item, and fulfil does not guess which).
    fn single(found: &[(Decimal, Option<Date>)], expected: Option<Decimal>) -> Option<Picked> {
        let (first, _) = found.first()?;
        let rate = if found.iter().all(|(v, _)| v == first) {
            *first
        } else {
            expected.filter(|e| found.iter().any(|(v, _)| v == e))?
        };
        Some(Picked {
            rate,
            since: found
                .iter()
                .filter(|(v, _)| *v == rate)
                .filter_map(|(_, d)| *d)
                .max(),
        })
    }
    let mut out = Sample::new();
    for country in EU_MEMBER_STATES {
        let mut standard: Option<Picked> = None;
        let mut food = Vec::new();
        let mut food_super = Vec::new();
        let mut books = Vec::new();
        let mut super_reduced = Vec::new();
        for r in results.iter().filter(|r| r.country == country) {
            let Some(v) = r.value else { continue };
            let cat = r.category.as_deref();
            let found = (v, r.situation_on);
            match (r.kind, r.value_type.as_str()) {
                // Regional standard rates (Canaries, Madeira, Azores) are all lower.
                (Kind::Standard, "DEFAULT")
                    if r.category.is_none() && standard.is_none_or(|p| v > p.rate) =>
                {
                    standard = Some(Picked {
                        rate: v,
                        since: r.situation_on,
                    });
                }
                (Kind::Reduced, "REDUCED_RATE") => match cat {
                    Some("FOODSTUFFS") => food.push(found),
                    Some("BOOKS") => books.push(found),
                    _ => {}
                },
                (Kind::Reduced, "SUPER_REDUCED_RATE") => {
                    match cat {
                        Some("FOODSTUFFS") => food_super.push(found),
                        Some("BOOKS") => books.push(found),
                        _ => {}
                    }
                    super_reduced.push(found);
                }
                _ => {}
            }
        }
        let food = if food.is_empty() { food_super } else { food };
        for (category, picked) in [
            (TaxCategory::Standard, standard),
            (
                TaxCategory::Reduced,
                single(&food, builtin_ongoing(country, TaxCategory::Reduced)),
            ),
            (
                TaxCategory::Books,
                single(&books, builtin_ongoing(country, TaxCategory::Books)),
            ),
            (
                TaxCategory::SuperReduced,
                single(
                    &super_reduced,
                    builtin_ongoing(country, TaxCategory::SuperReduced),
                ),
            ),
        ] {
            let Some(p) = picked else { continue };
            if category != TaxCategory::Standard && !category_exists(country, category) {
                continue;
            }
            out.insert((country.to_owned(), category), p);
        }
    }
    out
}

/// Member states without a standard rate in a sample (an incomplete answer).
#[must_use]
pub fn missing_standard(sample: &Sample) -> Vec<String> {
    EU_MEMBER_STATES
        .iter()
        .filter(|c| !sample.contains_key(&((**c).to_owned(), TaxCategory::Standard)))
        .map(|c| (*c).to_owned())
        .collect()
}

fn first_of_month(year: i32, month0: i32) -> Option<Date> {
    let y = year + month0.div_euclid(12);
    let m = u8::try_from(month0.rem_euclid(12) + 1).ok()?;
    Date::from_calendar_date(y, Month::try_from(m).ok()?, 1).ok()
}

/// The days an update asks about: the 1st of each month from three months before
/// `today`'s month up to `months` months after it, and `today`; sorted, no repeats.
#[must_use]
pub fn sample_dates(today: Date, months: u32) -> Vec<Date> {
    let base = i32::from(u8::from(today.month())) - 1;
    let ahead = i32::try_from(months).unwrap_or(i32::MAX / 2);
    let mut out: Vec<Date> = (-3..=ahead)
        .filter_map(|k| first_of_month(today.year(), base + k))
        .collect();
    out.push(today);
    out.sort_unstable();
    out.dedup();
    out
}

/// Merges samples (sorted by day) into dated rows: consecutive samples with one rate give
/// one row. A change between two samples starts on the day TEDB names (`situationOn`) when
/// that lies between them, else on the later sample's day. The last row of each
/// (country, category) is open-ended; the caller bounds it by the period covered.
#[must_use]
pub fn merge(samples: &[(Date, Sample)]) -> Vec<RateEntry> {
    let mut keys: Vec<(String, TaxCategory)> = samples
        .iter()
        .flat_map(|(_, s)| s.keys().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        // (rate, from) of the run being built.
        let mut open: Option<(Decimal, Date)> = None;
        let mut prev_day: Option<Date> = None;
        for (day, sample) in samples {
            let now = sample.get(&key);
            let start_of_change = || {
                let floor = prev_day.and_then(Date::next_day).unwrap_or(*day);
                now.and_then(|p| p.since)
                    .filter(|s| *s >= floor && s <= day)
                    .unwrap_or(*day)
            };
            match (open, now) {
                (Some((rate, _)), Some(p)) if p.rate == rate => {}
                (Some((rate, from)), _) => {
                    let start = start_of_change();
                    out.push(RateEntry {
                        country: key.0.clone(),
                        category: key.1,
                        rate,
                        valid_from: from,
                        valid_to: start.previous_day(),
                    });
                    open = now.map(|p| (p.rate, start));
                }
                (None, Some(p)) => {
                    let start = if prev_day.is_some() {
                        start_of_change()
                    } else {
                        *day
                    };
                    open = Some((p.rate, start));
                }
                (None, None) => {}
            }
            prev_day = Some(*day);
        }
        if let Some((rate, from)) = open {
            out.push(RateEntry {
                country: key.0.clone(),
                category: key.1,
                rate,
                valid_from: from,
                valid_to: None,
            });
        }
    }
    out
}

/// Asks TEDB for the rates of every member state on `on`, retrying temporary failures
/// (network errors, 5xx without a SOAP fault, 429) as the other clients do.
///
/// # Errors
/// [`TedbError`]: the last temporary failure once the tries are used up, or at once a
/// SOAP fault, a refused TLS handshake or an unreadable answer.
pub fn fetch(
    http: &reqwest::blocking::Client,
    endpoint: &str,
    on: Date,
    retry: crate::transport::RetryPolicy,
    clock: &crate::clock::Clock,
) -> Result<Vec<RateResult>, TedbError> {
    let body = request_body(&EU_MEMBER_STATES, on);
    let backoff =
        crate::transport::Backoff::new(retry, 0x9e37_79b9_7f4a_7c15_u64 ^ u64::from(on.ordinal()));
    let mut tries = 0;
    loop {
        tries += 1;
        let err = match once(http, endpoint, &body) {
            Ok(results) => return Ok(results),
            Err(e) if e.exit() == Exit::Temporary && tries < backoff.policy.max_tries => e,
            Err(e) => return Err(e),
        };
        let wait = backoff.delay(tries).min(Duration::from_secs(120));
        tracing::debug!(error = %err, tries, "TEDB call failed, retrying");
        clock.sleep(wait);
    }
}

fn once(
    http: &reqwest::blocking::Client,
    endpoint: &str,
    body: &str,
) -> Result<Vec<RateResult>, TedbError> {
    let transport = |e: reqwest::Error| match crate::transport::tls_refusal(&e) {
        Some(refusal) => TedbError::Tls(crate::transport::TlsError {
            op: "TEDB",
            refusal,
        }),
        None => TedbError::Network(crate::transport::transport_detail(&e)),
    };
    let resp = http
        .post(endpoint)
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", format!("\"{SOAP_ACTION}\""))
        .body(body.to_owned())
        .send()
        .map_err(transport)?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().map_err(transport)?;
    tracing::debug!(status, bytes = bytes.len(), "TEDB answer");
    if (200..300).contains(&status) {
        return parse(&bytes);
    }
    // SOAP 1.1 sends a fault with HTTP 500; a fault is an answer, not a hiccup.
    match parse(&bytes) {
        Err(TedbError::Fault(f)) => Err(TedbError::Fault(f)),
        _ => Err(TedbError::Status(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use time::macros::date;

    fn result(
        country: &str,
        kind: Kind,
        vt: &str,
        v: &str,
        since: Date,
        cat: Option<&str>,
    ) -> String {
        let kind = if kind == Kind::Standard {
            "STANDARD"
        } else {
            "REDUCED"
        };
        let cat = cat.map_or(String::new(), |c| {
            format!("<category><identifier>{c}</identifier><description>d</description></category>")
        });
        format!(
            "<vatRateResults><memberState>{country}</memberState><type>{kind}</type><rate><type>{vt}</type><value>{v}</value></rate><situationOn>{since}+01:00</situationOn>{cat}<comment>c</comment></vatRateResults>"
        )
    }

    fn answer(results: &str) -> Vec<u8> {
        format!(
            r#"<env:Envelope xmlns:env="{NS_SOAP}"><env:Header/><env:Body><ns0:retrieveVatRatesRespMsg xmlns="{NS_TYPES}" xmlns:ns0="{NS_MSG}"><additionalInformation/>{results}</ns0:retrieveVatRatesRespMsg></env:Body></env:Envelope>"#
        )
        .into_bytes()
    }

    #[test]
    fn reads_an_answer_in_the_real_shape_and_maps_the_categories() {
        let d = date!(2025 - 07 - 01);
        let xml = [
            result("ES", Kind::Standard, "DEFAULT", "21.0", d, None),
            result("ES", Kind::Standard, "DEFAULT", "7.0", d, None),
            result("FR", Kind::Standard, "DEFAULT", "20.0", d, None),
            result(
                "FR",
                Kind::Reduced,
                "REDUCED_RATE",
                "5.5",
                d,
                Some("FOODSTUFFS"),
            ),
            result(
                "FR",
                Kind::Reduced,
                "REDUCED_RATE",
                "10.0",
                d,
                Some("FOODSTUFFS"),
            ),
            result(
                "FR",
                Kind::Reduced,
                "SUPER_REDUCED_RATE",
                "2.1",
                d,
                Some("NEWSPAPERS"),
            ),
            result("FR", Kind::Reduced, "REDUCED_RATE", "5.5", d, Some("BOOKS")),
            result("FR", Kind::Reduced, "PARKING_RATE", "1.0", d, Some("BOOKS")),
            result("LU", Kind::Standard, "DEFAULT", "17.0", d, None),
            result(
                "LU",
                Kind::Reduced,
                "SUPER_REDUCED_RATE",
                "3.0",
                d,
                Some("FOODSTUFFS"),
            ),
            result("EL", Kind::Standard, "DEFAULT", "24.0", d, None),
            result(
                "DK",
                Kind::Reduced,
                "EXEMPTED",
                "0.0",
                d,
                Some("FOODSTUFFS"),
            ),
            result("XI", Kind::Standard, "DEFAULT", "20.0", d, None),
        ]
        .concat();
        let results = parse(&answer(&xml)).unwrap();
        assert_eq!(results.len(), 12, "XI is skipped");
        assert_eq!(results[0].situation_on, Some(d));
        let s = pick(&results);
        let get = |c: &str, k| s.get(&(c.to_owned(), k)).map(|p| p.rate);
        assert_eq!(
            get("ES", TaxCategory::Standard),
            Some(dec!(21)),
            "mainland, not the Canaries"
        );
        assert_eq!(get("FR", TaxCategory::Reduced), Some(dec!(5.5)));
        assert_eq!(get("FR", TaxCategory::Books), Some(dec!(5.5)));
        assert_eq!(get("FR", TaxCategory::SuperReduced), Some(dec!(2.1)));
        assert_eq!(get("LU", TaxCategory::Reduced), Some(dec!(3)));
        assert_eq!(get("GR", TaxCategory::Standard), Some(dec!(24)));
        assert_eq!(
            get("DK", TaxCategory::Reduced),
            None,
            "exempt is not a rate"
        );
        assert_eq!(missing_standard(&s).len(), 27 - 4);
    }

    #[test]
    fn several_food_rates_without_the_expected_one_give_no_food_rate() {
        let d = date!(2026 - 07 - 01);
        let food = |v| {
            result(
                "AT",
                Kind::Reduced,
                "REDUCED_RATE",
                v,
                d,
                Some("FOODSTUFFS"),
            )
        };
        let xml = [
            result("AT", Kind::Standard, "DEFAULT", "20.0", d, None),
            food("10.0"),
            food("4.9"),
            result("NL", Kind::Standard, "DEFAULT", "21.0", d, None),
            result(
                "NL",
                Kind::Reduced,
                "REDUCED_RATE",
                "9.0",
                d,
                Some("FOODSTUFFS"),
            ),
            result(
                "NL",
                Kind::Reduced,
                "REDUCED_RATE",
                "9.0",
                d,
                Some("FOODSTUFFS"),
            ),
        ]
        .concat();
        let s = pick(&parse(&answer(&xml)).unwrap());
        // The built-in AT food row ends on 2026-06-30: which of the two applies depends
        // on the item.
        assert!(!s.contains_key(&("AT".to_owned(), TaxCategory::Reduced)));
        assert_eq!(s[&("NL".to_owned(), TaxCategory::Reduced)].rate, dec!(9));
        assert_eq!(s[&("AT".to_owned(), TaxCategory::Standard)].rate, dec!(20));
    }

    #[test]
    fn faults_and_garbage_are_errors() {
        let fault = format!(
            r#"<env:Envelope xmlns:env="{NS_SOAP}"><env:Body><env:Fault><faultcode>env:Client</faultcode><faultstring>TEDB-ERR-2 The XSD validation failed</faultstring></env:Fault></env:Body></env:Envelope>"#
        );
        assert_eq!(
            parse(fault.as_bytes()),
            Err(TedbError::Fault(
                "TEDB-ERR-2 The XSD validation failed".into()
            ))
        );
        for bad in [
            &b"<html>Bad gateway"[..],
            b"",
            b"{\"errors\":[]}",
            b"<a/>",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(parse(bad), Err(TedbError::Malformed(_))),
                "{bad:?}"
            );
        }
        let full = answer(&result(
            "NL",
            Kind::Standard,
            "DEFAULT",
            "21.0",
            date!(2025 - 01 - 01),
            None,
        ));
        assert!(matches!(
            parse(&full[..full.len() / 2]),
            Err(TedbError::Malformed(_))
        ));
        let bad_value = answer(&result(
            "NL",
            Kind::Standard,
            "DEFAULT",
            "abc",
            date!(2025 - 01 - 01),
            None,
        ));
        assert!(matches!(parse(&bad_value), Err(TedbError::Malformed(_))));
        let dtd = b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>";
        assert!(matches!(parse(dtd), Err(TedbError::Malformed(_))));
    }

    #[test]
    fn request_matches_the_wsdl_shape() {
        let body = request_body(&["GR", "NL"], date!(2028 - 03 - 01));
        assert!(body.contains("<t:isoCode>EL</t:isoCode><t:isoCode>NL</t:isoCode>"));
        assert!(body.contains("<t:situationOn>2028-03-01</t:situationOn>"));
        assert!(body.contains(NS_MSG) && body.contains(NS_TYPES));
    }

    #[test]
    fn sample_days_run_from_three_months_back_and_include_today() {
        let days = sample_dates(date!(2026 - 02 - 10), 12);
        assert_eq!(days.first(), Some(&date!(2025 - 11 - 01)));
        assert_eq!(days.last(), Some(&date!(2027 - 02 - 01)));
        assert!(days.contains(&date!(2026 - 02 - 10)));
        assert_eq!(days.len(), 3 + 1 + 12 + 1);
        // On the 1st, today is one of the month starts.
        assert_eq!(sample_dates(date!(2026 - 03 - 01), 0).len(), 4);
    }

    fn sample(rate: Decimal, since: Date) -> Sample {
        let mut s = Sample::new();
        s.insert(
            ("BE".into(), TaxCategory::Standard),
            Picked {
                rate,
                since: Some(since),
            },
        );
        s
    }

    #[test]
    fn samples_merge_into_rows_and_a_change_starts_on_its_day() {
        let start = date!(2021 - 07 - 01);
        let change = date!(2028 - 02 - 15);
        let samples = vec![
            (date!(2028 - 01 - 01), sample(dec!(21), start)),
            (date!(2028 - 02 - 01), sample(dec!(21), start)),
            (date!(2028 - 03 - 01), sample(dec!(22), change)),
            (date!(2028 - 03 - 10), sample(dec!(22), change)),
        ];
        let rows = merge(&samples);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].valid_from, date!(2028 - 01 - 01));
        assert_eq!(rows[0].valid_to, Some(date!(2028 - 02 - 14)));
        assert_eq!(rows[1].rate, dec!(22));
        assert_eq!(rows[1].valid_from, change);
        assert_eq!(rows[1].valid_to, None);
        // A situationOn outside the gap between two samples is not believed.
        let odd = vec![
            (date!(2028 - 01 - 01), sample(dec!(21), start)),
            (
                date!(2028 - 02 - 01),
                sample(dec!(22), date!(2030 - 01 - 01)),
            ),
        ];
        let rows = merge(&odd);
        assert_eq!(rows[1].valid_from, date!(2028 - 02 - 01));
        assert_eq!(rows[0].valid_to, Some(date!(2028 - 01 - 31)));
    }
}

/// Property tests of the TEDB answer parser (issue #8): whatever bytes arrive, it gives
/// results or an error, never a panic.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use crate::transport::fuzz::{self, arb_json};

    /// Feeds one body to the TEDB parser; only a panic fails.
    fn feed(body: &[u8]) {
        if let Ok(results) = crate::tedb::parse(body) {
            let _ = crate::tedb::pick(&results);
        }
    }

    proptest! {
        #![proptest_config(fuzz::config())]

        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..600)) {
            feed(&body);
        }

        #[test]
        fn arbitrary_json_never_panics(v in arb_json()) {
            feed(v.to_string().as_bytes());
        }

        /// Random bytes, and a real-shaped TEDB answer cut or flipped anywhere, never panic the
        /// TEDB answer parser; whatever it accepts holds rates in 0..100.
        #[test]
        fn tedb_answers_never_panic(
            noise in prop::collection::vec(any::<u8>(), 0..600),
            flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
            cut in any::<usize>(),
        ) {
            let _ = crate::tedb::parse(&noise);
            let mut body = format!(
                r#"<env:Envelope xmlns:env="{}"><env:Body><ns0:retrieveVatRatesRespMsg xmlns="{}" xmlns:ns0="{}"><additionalInformation/><vatRateResults><memberState>NL</memberState><type>STANDARD</type><rate><type>DEFAULT</type><value>21.0</value></rate><situationOn>2024-01-01+01:00</situationOn></vatRateResults></ns0:retrieveVatRatesRespMsg></env:Body></env:Envelope>"#,
                crate::tedb::NS_SOAP, crate::tedb::NS_TYPES, crate::tedb::NS_MSG
            ).into_bytes();
            for (at, b) in flips {
                let i = at % body.len();
                body[i] = b;
            }
            body.truncate(cut % (body.len() + 1));
            if let Ok(results) = crate::tedb::parse(&body) {
                for r in &results {
                    if let Some(v) = r.value {
                        prop_assert!(v >= rust_decimal::Decimal::ZERO && v < rust_decimal::Decimal::ONE_HUNDRED);
                    }
                }
                let _ = crate::tedb::pick(&results);
            }
        }
    }
}
