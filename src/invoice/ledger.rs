//! The anonymised tax ledger and the quarterly tax report (issue #6). Pure: no I/O.
//!
//! Every issued invoice and credit note gets a [`LedgerEntry`]: the figures a VAT return
//! needs and nothing that identifies a person. The customer's VAT number is kept only for
//! an intra-Community supply, because the Dutch EC Sales List (opgaaf ICP) lists the
//! supplies per customer VAT number; every other entry has none. The ledger is what
//! survives the purge of personal data, and [`tax_report`] reads nothing else.
//!
//! # Periods and currencies
//!
//! An entry belongs to the quarter of its tax point: the date of supply for an invoice,
//! the date of issue for a credit note. EUR figures per document use the ECB rate printed
//! on the document (for a credit note, the rate of the invoice it corrects), which is what
//! the Dutch return and the EC Sales List use. The OSS return instead converts at the ECB
//! rate of the last day of the quarter (VAT_INVOICE.md §7, §9), so the report converts the
//! OSS sums per currency again, from the amounts in the document currency.
//!
//! A credit note that corrects an invoice of an earlier quarter is listed apart, per member
//! state and original quarter, because the OSS return takes corrections of earlier periods
//! in a section of their own (verify the treatment of returns with the tax adviser).

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use time::{Date, Month};

use super::issue::currency_code;
use super::render::{EurRate, InvoiceDocument};
use super::vat::{Computation, DocumentKind, Regime, VatCode};

/// One row of `tax_ledger` with its rows of `tax_ledger_rates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub number: String,
    pub kind: DocumentKind,
    pub issue_date: Date,
    pub supply_date: Date,
    pub tax_point: Date,
    pub order_id: String,
    pub marketplace_id: String,
    /// For a credit note: the corrected invoice's number and date of issue.
    pub corrects: Option<(String, Date)>,
    pub regime: Regime,
    pub vat_country: String,
    pub destination_country: String,
    pub currency: &'static str,
    pub total_net: Decimal,
    pub total_vat: Decimal,
    pub total_gross: Decimal,
    /// The rate the document shows; `None` for EUR documents.
    pub eur_rate: Option<EurRate>,
    pub total_net_eur: Decimal,
    pub total_vat_eur: Decimal,
    pub total_gross_eur: Decimal,
    pub is_b2b: bool,
    pub reverse_charge: bool,
    /// Only for an intra-Community supply (see the module documentation).
    pub buyer_vat_id: Option<String>,
    pub seller_vat_id: String,
    pub rates: Vec<LedgerRate>,
}

/// Taxable amount and VAT at one rate, in the document currency and in EUR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRate {
    pub rate: Decimal,
    pub code: VatCode,
    pub net: Decimal,
    pub vat: Decimal,
    pub gross: Decimal,
    pub net_eur: Decimal,
    pub vat_eur: Decimal,
}

/// `amount` in the document currency as EUR at `rate` (currency units per EUR), rounded
/// half away from zero to the cent: the rule the document uses for its VAT in EUR.
pub fn to_eur(amount: Decimal, rate: Option<&EurRate>) -> Decimal {
    match rate {
        None => amount,
        Some(r) => amount
            .checked_div(r.rate)
            .unwrap_or_default()
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
    }
}

/// The ledger entry of an issued document. Every figure is taken from the document (the
/// figures printed) and the computation it was built from (regime, countries, VAT codes).
pub fn entry(
    doc: &InvoiceDocument,
    computation: &Computation,
    marketplace_id: &str,
    is_b2b: bool,
) -> LedgerEntry {
    let rate = doc.eur_vat.as_ref().map(|e| &e.rate);
    let reverse_charge = computation.regime == Regime::IntraCommunityReverseCharge;
    let rates = doc
        .per_rate
        .iter()
        .map(|r| LedgerRate {
            rate: r.rate,
            code: computation
                .per_rate
                .iter()
                .find(|c| c.rate == r.rate)
                .map_or(VatCode::S, |c| c.code),
            net: r.net,
            vat: r.vat,
            gross: r.gross,
            net_eur: to_eur(r.net, rate),
            vat_eur: to_eur(r.vat, rate),
        })
        .collect();
    LedgerEntry {
        number: doc.number.clone(),
        kind: doc.kind,
        issue_date: doc.issue_date,
        supply_date: doc.supply_date,
        tax_point: match doc.kind {
            DocumentKind::Invoice => doc.supply_date,
            DocumentKind::CreditNote => doc.issue_date,
        },
        order_id: doc.order_id.clone(),
        marketplace_id: marketplace_id.to_string(),
        corrects: doc
            .corrects
            .as_ref()
            .map(|c| (c.number.clone(), c.issue_date)),
        regime: computation.regime,
        vat_country: computation.vat_country.clone(),
        destination_country: computation.destination.clone(),
        currency: currency_code(doc.currency),
        total_net: doc.total_net,
        total_vat: doc.total_vat,
        total_gross: doc.total_gross,
        eur_rate: rate.cloned(),
        total_net_eur: to_eur(doc.total_net, rate),
        total_vat_eur: doc.eur_vat.as_ref().map_or(doc.total_vat, |e| e.vat_eur),
        total_gross_eur: to_eur(doc.total_gross, rate),
        is_b2b,
        reverse_charge,
        buyer_vat_id: if reverse_charge {
            computation.buyer_vat_id.clone()
        } else {
            None
        },
        seller_vat_id: doc.seller.vat_id.clone(),
        rates,
    }
}

/// The name of a regime as stored.
pub fn regime_name(r: Regime) -> &'static str {
    match r {
        Regime::Domestic => "domestic",
        Regime::OssDestination => "oss_destination",
        Regime::NlVatCrossBorder => "nl_vat_cross_border",
        Regime::IntraCommunityReverseCharge => "intra_community_reverse_charge",
    }
}

/// The stored name of a document kind.
pub fn kind_name(k: DocumentKind) -> &'static str {
    match k {
        DocumentKind::Invoice => "invoice",
        DocumentKind::CreditNote => "credit_note",
    }
}

/// The stored name of a VAT category code.
pub fn code_name(c: VatCode) -> &'static str {
    match c {
        VatCode::S => "S",
        VatCode::Z => "Z",
        VatCode::K => "K",
    }
}

/// A calendar quarter, written `2026Q3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quarter {
    pub year: i32,
    pub q: u8,
}

impl Quarter {
    /// Reads `2026Q3` (also `2026-Q3`, any case).
    pub fn parse(s: &str) -> Option<Quarter> {
        let t = s.trim().to_ascii_uppercase();
        let (y, q) = t.split_once('Q')?;
        let y = y.strip_suffix('-').unwrap_or(y);
        if y.len() != 4 || q.len() != 1 {
            return None;
        }
        let year: i32 = y.parse().ok()?;
        let q: u8 = q.parse().ok()?;
        ((1..=4).contains(&q) && (2000..=9999).contains(&year)).then_some(Quarter { year, q })
    }

    pub fn of(d: Date) -> Quarter {
        Quarter {
            year: d.year(),
            q: (u8::from(d.month()) - 1) / 3 + 1,
        }
    }

    pub fn first_day(self) -> Date {
        let m = Month::try_from(self.q * 3 - 2).unwrap_or(Month::January);
        Date::from_calendar_date(self.year, m, 1).unwrap_or(Date::MIN)
    }

    pub fn last_day(self) -> Date {
        let m = Month::try_from(self.q * 3).unwrap_or(Month::December);
        Date::from_calendar_date(self.year, m, m.length(self.year)).unwrap_or(Date::MAX)
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Q{}", self.year, self.q)
    }
}

/// What the report needs of one ledger entry of the quarter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub number: String,
    pub regime: String,
    pub vat_country: String,
    pub currency: String,
    /// Tax point of the corrected invoice, for a credit note.
    pub corrects_tax_point: Option<Date>,
    pub buyer_vat_id: Option<String>,
    pub rates: Vec<LedgerRate>,
}

/// A quarter-end exchange rate the OSS figures were converted at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FxUsed {
    pub currency: String,
    #[serde(serialize_with = "ser_decimal_plain")]
    pub rate: Decimal,
    #[serde(serialize_with = "ser_date")]
    pub date: Date,
    pub source: String,
}

/// The figures of one quarter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaxReport {
    pub quarter: String,
    #[serde(serialize_with = "ser_date")]
    pub from: Date,
    #[serde(serialize_with = "ser_date")]
    pub to: Date,
    pub documents: u64,
    /// OSS return: taxable amount and VAT in EUR per member state and rate.
    pub oss: Vec<ReportLine>,
    /// Credit notes of this quarter that correct OSS invoices of earlier quarters.
    pub oss_corrections: Vec<ReportLine>,
    pub oss_exchange_rates: Vec<FxUsed>,
    /// Dutch VAT (domestic sales, and cross-border sales taxed in NL) per rate.
    pub domestic: Vec<ReportLine>,
    /// Intra-Community supplies per customer VAT number (EC Sales List).
    pub intra_community: Vec<ReportLine>,
}

/// One line of a section. Fields that do not apply to the section are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportLine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_rate"
    )]
    pub rate: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vat_id: Option<String>,
    /// For a correction: the quarter corrected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    #[serde(serialize_with = "ser_money")]
    pub net_eur: Decimal,
    #[serde(serialize_with = "ser_money")]
    pub vat_eur: Decimal,
    pub documents: u64,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde hands the field by reference
fn ser_date<S: serde::Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&iso(*d))
}

fn ser_money<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&money(*d))
}

fn ser_decimal_plain<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.normalize().to_string())
}

#[allow(clippy::ref_option)] // serde hands the field by reference
fn ser_opt_rate<S: serde::Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&d.normalize().to_string()),
        None => s.serialize_none(),
    }
}

/// `YYYY-MM-DD`.
pub fn iso(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Two decimals, always.
pub fn money(d: Decimal) -> String {
    format!(
        "{:.2}",
        d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    )
}

#[derive(Default)]
struct Acc {
    net: Decimal,
    vat: Decimal,
    docs: std::collections::BTreeSet<String>,
}

impl Acc {
    fn add(&mut self, number: &str, net: Decimal, vat: Decimal) {
        self.net += net;
        self.vat += vat;
        self.docs.insert(number.to_string());
    }
}

/// Quarter-end rates per currency (units per EUR) for the OSS conversion.
pub type QuarterRates = BTreeMap<String, FxUsed>;

/// The currencies other than EUR among the OSS entries: these need a quarter-end rate.
pub fn oss_currencies(rows: &[ReportRow]) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .filter(|r| r.regime == regime_name(Regime::OssDestination) && r.currency != "EUR")
        .map(|r| r.currency.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Builds the report of `quarter` from its ledger rows.
///
/// # Errors
/// The currency of an OSS entry for which `rates` has no quarter-end rate.
pub fn tax_report(
    quarter: Quarter,
    rows: &[ReportRow],
    rates: &QuarterRates,
) -> Result<TaxReport, String> {
    // OSS: sums per (country, rate, currency) in the document currency, converted once.
    let mut oss: BTreeMap<(String, Decimal, String), Acc> = BTreeMap::new();
    let mut corrections: BTreeMap<(String, Quarter, String), Acc> = BTreeMap::new();
    let mut domestic: BTreeMap<Decimal, Acc> = BTreeMap::new();
    let mut icl: BTreeMap<String, Acc> = BTreeMap::new();
    for row in rows {
        let earlier = row
            .corrects_tax_point
            .map(Quarter::of)
            .filter(|q| *q < quarter);
        for r in &row.rates {
            let (acc, net, vat) = match row.regime.as_str() {
                "oss_destination" => match earlier {
                    Some(q) => (
                        corrections
                            .entry((row.vat_country.clone(), q, row.currency.clone()))
                            .or_default(),
                        r.net,
                        r.vat,
                    ),
                    None => (
                        oss.entry((row.vat_country.clone(), r.rate, row.currency.clone()))
                            .or_default(),
                        r.net,
                        r.vat,
                    ),
                },
                "domestic" | "nl_vat_cross_border" => {
                    (domestic.entry(r.rate).or_default(), r.net_eur, r.vat_eur)
                }
                "intra_community_reverse_charge" => (
                    icl.entry(row.buyer_vat_id.clone().unwrap_or_default())
                        .or_default(),
                    r.net_eur,
                    r.vat_eur,
                ),
                _ => continue,
            };
            acc.add(&row.number, net, vat);
        }
    }
    let eur = |amount: Decimal, currency: &str| -> Result<Decimal, String> {
        if currency == "EUR" {
            return Ok(amount);
        }
        let fx = rates.get(currency).ok_or_else(|| currency.to_string())?;
        Ok(to_eur(
            amount,
            Some(&EurRate {
                rate: fx.rate,
                date: fx.date,
                source: fx.source.clone(),
            }),
        ))
    };
    // Merge the currencies of one (country, rate) after conversion.
    let mut oss_lines: BTreeMap<(String, Decimal), Acc> = BTreeMap::new();
    for ((country, rate, currency), acc) in &oss {
        let line = oss_lines.entry((country.clone(), *rate)).or_default();
        line.net += eur(acc.net, currency)?;
        line.vat += eur(acc.vat, currency)?;
        line.docs.extend(acc.docs.iter().cloned());
    }
    let mut corr_lines: BTreeMap<(String, Quarter), Acc> = BTreeMap::new();
    for ((country, q, currency), acc) in &corrections {
        let line = corr_lines.entry((country.clone(), *q)).or_default();
        line.net += eur(acc.net, currency)?;
        line.vat += eur(acc.vat, currency)?;
        line.docs.extend(acc.docs.iter().cloned());
    }
    let count = |a: &Acc| a.docs.len() as u64;
    let line = |a: &Acc| ReportLine {
        country: None,
        rate: None,
        vat_id: None,
        period: None,
        net_eur: a.net,
        vat_eur: a.vat,
        documents: count(a),
    };
    let used = oss_currencies(rows);
    Ok(TaxReport {
        quarter: quarter.to_string(),
        from: quarter.first_day(),
        to: quarter.last_day(),
        documents: rows.len() as u64,
        // Highest rate first within a country, as the documents print them.
        oss: {
            let mut v: Vec<ReportLine> = oss_lines
                .iter()
                .map(|((c, r), a)| ReportLine {
                    country: Some(c.clone()),
                    rate: Some(r.normalize()),
                    ..line(a)
                })
                .collect();
            v.sort_by(|a, b| a.country.cmp(&b.country).then(b.rate.cmp(&a.rate)));
            v
        },
        oss_corrections: corr_lines
            .iter()
            .map(|((c, q), a)| ReportLine {
                country: Some(c.clone()),
                period: Some(q.to_string()),
                ..line(a)
            })
            .collect(),
        oss_exchange_rates: used.iter().filter_map(|c| rates.get(c).cloned()).collect(),
        domestic: domestic
            .iter()
            .rev()
            .map(|(r, a)| ReportLine {
                rate: Some(r.normalize()),
                ..line(a)
            })
            .collect(),
        intra_community: icl
            .iter()
            .map(|(id, a)| ReportLine {
                country: Some(id.chars().take(2).collect()),
                vat_id: Some(id.clone()),
                ..line(a)
            })
            .collect(),
    })
}

/// The report as CSV: `section,country,rate,vat_id,period,net_eur,vat_eur,documents`.
pub fn to_csv(r: &TaxReport) -> String {
    let mut out = String::from("section,country,rate,vat_id,period,net_eur,vat_eur,documents\n");
    let sections: [(&str, &Vec<ReportLine>); 4] = [
        ("oss", &r.oss),
        ("oss_correction", &r.oss_corrections),
        ("domestic", &r.domestic),
        ("intra_community", &r.intra_community),
    ];
    for (name, lines) in sections {
        for l in lines {
            let cells = [
                name.to_string(),
                l.country.clone().unwrap_or_default(),
                l.rate
                    .map(|d| d.normalize().to_string())
                    .unwrap_or_default(),
                l.vat_id.clone().unwrap_or_default(),
                l.period.clone().unwrap_or_default(),
                money(l.net_eur),
                money(l.vat_eur),
                l.documents.to_string(),
            ];
            out.push_str(&cells.map(|c| csv_cell(&c)).join(","));
            out.push('\n');
        }
    }
    out
}

/// Quotes a cell when it holds a separator or a quote; neutralises a leading formula sign.
fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use time::macros::date;

    fn rate(rate: Decimal, net: Decimal, vat: Decimal) -> LedgerRate {
        LedgerRate {
            rate,
            code: VatCode::S,
            net,
            vat,
            gross: net + vat,
            net_eur: net,
            vat_eur: vat,
        }
    }

    fn row(number: &str, regime: Regime, country: &str, rates: Vec<LedgerRate>) -> ReportRow {
        ReportRow {
            number: number.into(),
            regime: regime_name(regime).into(),
            vat_country: country.into(),
            currency: "EUR".into(),
            corrects_tax_point: None,
            buyer_vat_id: None,
            rates,
        }
    }

    #[test]
    fn quarters() {
        let q = Quarter::parse("2026q3").unwrap();
        assert_eq!(q, Quarter { year: 2026, q: 3 });
        assert_eq!(
            Quarter::parse("2026-Q4"),
            Some(Quarter { year: 2026, q: 4 })
        );
        for bad in ["2026Q5", "2026Q0", "26Q1", "2026", "Q3", "2026Q33"] {
            assert_eq!(Quarter::parse(bad), None, "{bad}");
        }
        assert_eq!(q.first_day(), date!(2026 - 07 - 01));
        assert_eq!(q.last_day(), date!(2026 - 09 - 30));
        assert_eq!(
            Quarter::parse("2024Q1").unwrap().last_day(),
            date!(2024 - 03 - 31)
        );
        assert_eq!(Quarter::of(date!(2026 - 12 - 31)).to_string(), "2026Q4");
    }

    #[test]
    fn report_sections_worked_by_hand() {
        // OSS DE 19 %: 25.20/4.79 and 100.00/19.00 -> 125.20/23.79 (2 documents).
        // OSS SE 25 % in SEK: 999.20/249.80 at 11.25 SEK per EUR -> 88.82/22.20
        //   (999.20 / 11.25 = 88.8177.. -> 88.82; 249.80 / 11.25 = 22.2044.. -> 22.20).
        // Domestic: 21 % 19.99/4.20 minus a credit note -19.99/-4.20 plus 9 % 10.00/0.90.
        // ICL: DE123456789 119.00 and 50.00 -> 169.00 (2 documents).
        // Correction: a credit note of this quarter for an OSS invoice of 2026Q2, FR 20 %.
        let q = Quarter::parse("2026Q3").unwrap();
        let mut se = row(
            "INV-2026-000005",
            Regime::OssDestination,
            "SE",
            vec![rate(dec!(25), dec!(999.20), dec!(249.80))],
        );
        se.currency = "SEK".into();
        let mut icl1 = row(
            "INV-2026-000006",
            Regime::IntraCommunityReverseCharge,
            "NL",
            vec![rate(dec!(0), dec!(119.00), dec!(0))],
        );
        icl1.buyer_vat_id = Some("DE123456789".into());
        let mut icl2 = icl1.clone();
        icl2.number = "INV-2026-000007".into();
        icl2.rates = vec![rate(dec!(0), dec!(50.00), dec!(0))];
        let mut corr = row(
            "CN-2026-000002",
            Regime::OssDestination,
            "FR",
            vec![rate(dec!(20), dec!(-10.00), dec!(-2.00))],
        );
        corr.corrects_tax_point = Some(date!(2026 - 06 - 30));
        let rows = vec![
            row(
                "INV-2026-000001",
                Regime::Domestic,
                "NL",
                vec![rate(dec!(21), dec!(19.99), dec!(4.20))],
            ),
            row(
                "INV-2026-000002",
                Regime::Domestic,
                "NL",
                vec![rate(dec!(9), dec!(10.00), dec!(0.90))],
            ),
            row(
                "CN-2026-000001",
                Regime::Domestic,
                "NL",
                vec![rate(dec!(21), dec!(-19.99), dec!(-4.20))],
            ),
            row(
                "INV-2026-000003",
                Regime::OssDestination,
                "DE",
                vec![rate(dec!(19), dec!(25.20), dec!(4.79))],
            ),
            row(
                "INV-2026-000004",
                Regime::OssDestination,
                "DE",
                vec![rate(dec!(19), dec!(100.00), dec!(19.00))],
            ),
            se,
            icl1,
            icl2,
            corr,
        ];
        let rates = QuarterRates::from([(
            "SEK".to_string(),
            FxUsed {
                currency: "SEK".into(),
                rate: dec!(11.25),
                date: date!(2026 - 09 - 30),
                source: "test".into(),
            },
        )]);
        let r = tax_report(q, &rows, &rates).unwrap();
        let flat = |v: &[ReportLine]| {
            v.iter()
                .map(|l| {
                    format!(
                        "{}|{}|{}|{}|{}|{}|{}",
                        l.country.clone().unwrap_or_default(),
                        l.rate.map(|d| d.to_string()).unwrap_or_default(),
                        l.vat_id.clone().unwrap_or_default(),
                        l.period.clone().unwrap_or_default(),
                        money(l.net_eur),
                        money(l.vat_eur),
                        l.documents
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            flat(&r.oss),
            vec!["DE|19|||125.20|23.79|2", "SE|25|||88.82|22.20|1"]
        );
        assert_eq!(flat(&r.oss_corrections), vec!["FR|||2026Q2|-10.00|-2.00|1"]);
        assert_eq!(
            flat(&r.domestic),
            vec!["|21|||0.00|0.00|2", "|9|||10.00|0.90|1"]
        );
        assert_eq!(
            flat(&r.intra_community),
            vec!["DE||DE123456789||169.00|0.00|2"]
        );
        assert_eq!(r.documents, 9);
        assert_eq!(r.oss_exchange_rates.len(), 1);
        let csv = to_csv(&r);
        assert!(csv.contains("\noss,SE,25,,,88.82,22.20,1\n"), "{csv}");
        assert!(
            csv.contains("\nintra_community,DE,,DE123456789,,169.00,0.00,2\n"),
            "{csv}"
        );
        // Without the SEK rate the report refuses rather than guess.
        assert_eq!(
            tax_report(q, &rows, &QuarterRates::new()).unwrap_err(),
            "SEK"
        );
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("x\"y"), "\"x\"\"y\"");
    }
}

/// Properties of the EUR conversion (issue #8): cents, rounding, sign, order.
#[cfg(test)]
mod fx_props {
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    use super::to_eur;
    use crate::invoice::render::EurRate;

    fn at(rate: Decimal) -> EurRate {
        EurRate {
            rate,
            date: time::macros::date!(2026 - 11 - 20),
            source: "European Central Bank".into(),
        }
    }

    /// Amounts up to a hundred million in cents; rates from 0.0001 to 1000 per EUR.
    fn amount() -> impl Strategy<Value = Decimal> {
        (-10_000_000_000i64..10_000_000_000).prop_map(|c| Decimal::new(c, 2))
    }
    fn rate() -> impl Strategy<Value = Decimal> {
        (1i64..10_000_000).prop_map(|r| Decimal::new(r, 4))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn to_eur_is_the_nearest_cent_half_away_from_zero(a in amount(), r in rate()) {
            let eur = to_eur(a, Some(&at(r)));
            prop_assert_eq!(eur.round_dp(2), eur, "whole cents");
            let exact = a / r;
            prop_assert!((eur - exact).abs() <= dec!(0.005), "{} vs {}", eur, exact);
            // Exactly half a cent goes away from zero.
            if (exact.abs() * dec!(1000)) % dec!(10) == dec!(5) && exact.round_dp(3) == exact {
                prop_assert!(eur.abs() > exact.abs());
            }
            // A refund converts to the same EUR with the other sign.
            prop_assert_eq!(to_eur(-a, Some(&at(r))), -eur);
            // More in the document currency is never less in EUR.
            prop_assert!(to_eur(a + dec!(0.01), Some(&at(r))) >= eur);
            // EUR documents and a rate of one change nothing.
            prop_assert_eq!(to_eur(a, None), a);
            prop_assert_eq!(to_eur(a, Some(&at(Decimal::ONE))), a);
        }

        /// The ledger converts each rate's figures on their own (the document prints
        /// them so); their sum differs from the converted total by at most half a cent
        /// per part, plus the total's own half cent.
        #[test]
        fn parts_converted_apart_stay_near_the_converted_total(parts in prop::collection::vec(amount(), 1..8), r in rate()) {
            let total: Decimal = parts.iter().copied().sum();
            let apart: Decimal = parts.iter().map(|p| to_eur(*p, Some(&at(r)))).sum();
            let whole = to_eur(total, Some(&at(r)));
            let bound = Decimal::from(parts.len()) * dec!(0.005) + dec!(0.005);
            prop_assert!((apart - whole).abs() <= bound, "{} vs {}", apart, whole);
        }
    }
}
