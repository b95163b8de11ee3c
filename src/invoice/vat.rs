//! VAT engine: from an order's VAT-inclusive lines to the figures an EU invoice or credit
//! note must show, as pure functions with no I/O.
//!
//! This module owns: the choice of VAT regime (Dutch VAT, OSS destination VAT, or an exempt
//! intra-Community supply), the structural check of a buyer's VAT number, the allocation of
//! shipping, gift wrap and promotion discounts to the rates of the goods they belong to, the
//! split of each gross amount into net and VAT, the mandatory invoice wordings, the
//! cross-check against Amazon's totals, and credit notes. Rates come from `super::rates`.
//!
//! # Rounding rule
//!
//! Source: CJEU C-19/12 (Wetherspoon:
//! EU law imposes no per-line rounding; rounding the VAT on the invoice total per rate is
//! allowed) and EN 16931 rule BR-CO-17 (VAT computed per VAT category on document level).
//! Amazon's EU prices include VAT, so for every rate group of one document:
//!
//! ```text
//! VAT = round_half_away_from_zero(gross_sum * rate / (100 + rate), 2)
//! net = gross_sum - VAT
//! ```
//!
//! All supported currencies (EUR, PLN, SEK, GBP) have two minor digits. Per-line net and
//! VAT are then shares of the group's figures (largest-remainder apportionment of the
//! group VAT), so lines, rate groups and document totals always add up to the cent:
//! for each rate `net + vat == gross`, and totals are the sums of the rate groups.
//!
//! # Allocation of shipping, gift wrap and discounts
//!
//! A non-goods line follows the goods it belongs to. With `belongs_to` it takes that goods
//! line's rate. Otherwise it is split across the rates of the document's goods in
//! proportion to the goods' gross per rate (before discounts); each share is floored to the
//! cent and the cents left over go to the largest remainders, so the shares add up exactly
//! to the line's amount. Only if the goods gross is zero (no goods, or only free goods) is
//! the line's own `category` used.

use std::collections::BTreeMap;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use time::Date;

use super::rates::{RateTable, TaxCategory, eu_member, iso_date};

/// Largest absolute amount accepted on one input line (10^12 in the document currency).
/// Together with [`MAX_LINES`] it keeps every intermediate value far inside `Decimal`'s
/// range, so no input can overflow.
pub const MAX_LINE_AMOUNT: i64 = 1_000_000_000_000;

/// Largest number of input lines in one document.
pub const MAX_LINES: usize = 10_000;

/// Why a computation was refused. Every variant names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VatError {
    /// A country code that is not one of the 27 member states.
    #[error("{0:?} is not an EU member state")]
    NotEuMember(String),
    /// The rate table has no row for this country, category and date.
    #[error("no VAT rate for {} in {country} on {date}: {reason}", category.as_str())]
    NoRate {
        /// Member state.
        country: String,
        /// Category asked for.
        category: TaxCategory,
        /// Date asked for.
        date: Date,
        /// Why the table cannot answer.
        reason: String,
    },
    /// A configuration rate row is unusable.
    #[error("invalid rate entry: {0}")]
    InvalidRateEntry(String),
    /// A case this engine deliberately does not handle (exports, non-NL sellers, territories
    /// outside the EU VAT area).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An amount that is not a whole number of cents or is out of range.
    #[error("line {line}: {reason}")]
    InvalidAmount {
        /// Index of the offending input line.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// Structurally invalid input (no lines, bad references).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Shipping/discounts cannot be spread over goods whose amounts have opposite signs.
    #[error("cannot allocate line {line}: {reason}")]
    Allocation {
        /// Index of the line that could not be allocated.
        line: usize,
        /// Why.
        reason: String,
    },
}

/// The selling business. The engine handles sellers established in the Netherlands only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seller {
    /// Country of establishment; must be `NL`.
    pub country: String,
    /// Seller's Dutch VAT number (`NL` + 9 digits + `B` + 2 digits); checked for structure.
    pub vat_id: String,
    /// `true` when destination taxation applies through the Union OSS (registered and above
    /// the EUR 10,000 threshold, or opted in). `false` means Dutch VAT on B2C sales to other
    /// member states, which is only lawful below the threshold.
    pub oss: bool,
}

/// The customer and where the goods go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    /// Country where the goods are delivered (ISO 3166-1 alpha-2; `EL` is read as `GR`).
    pub country: String,
    /// Delivery postcode; used only to refuse EU territories outside the VAT area (Canary
    /// Islands, Ceuta, Melilla, French overseas departments, Heligoland, Büsingen, Livigno,
    /// Campione d'Italia, Mount Athos, Åland).
    #[serde(default)]
    pub postal_code: Option<String>,
    /// Business buyer's VAT number, prefix included (e.g. `DE123456789`).
    #[serde(default)]
    pub vat_id: Option<String>,
    /// The order is a business purchase (Amazon Business).
    pub is_business: bool,
    /// The Commission's VIES service confirmed `vat_id` as valid (issue #14). The engine
    /// does no I/O: the command asks VIES first (see [`vies_candidate`]) and says here what
    /// it answered. Only a confirmed number of another member state makes the sale an
    /// exempt intra-Community supply; an unconfirmed one (invalid in VIES, or never
    /// checked) is treated as a consumer's purchase.
    #[serde(default)]
    pub vat_id_confirmed: bool,
}

/// What an input line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// Goods sold (Amazon `ITEM` proceeds).
    Goods,
    /// Shipping charge (`SHIPPING`).
    Shipping,
    /// Gift wrap charge (`GIFT_WRAP`).
    GiftWrap,
    /// Promotion discount (`DISCOUNT`), normally negative.
    Discount,
}

/// One input line, as Amazon reports it: VAT-inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// What the line is.
    pub kind: LineKind,
    /// Text for the document (product title, "Shipping", ...).
    pub description: String,
    /// Seller SKU, if any.
    #[serde(default)]
    pub sku: Option<String>,
    /// Units; 0 is allowed (no unit price is then given).
    pub quantity: u32,
    /// VAT-inclusive amount for the whole line in whole cents, as charged to the buyer;
    /// discounts are negative. For an exempt intra-Community supply Amazon charges no VAT,
    /// so this is then the taxable amount itself.
    pub gross: Decimal,
    /// Rate category of goods. For other kinds it is used only when there are no goods to
    /// follow.
    pub category: TaxCategory,
    /// For shipping/gift wrap/discount: index of the goods line it belongs to (Amazon gives
    /// these per order item). `None` spreads it over all goods by rate.
    #[serde(default)]
    pub belongs_to: Option<usize>,
}

/// Document currency. All have two minor digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    /// Euro.
    Eur,
    /// Polish złoty.
    Pln,
    /// Swedish krona.
    Sek,
    /// Pound sterling.
    Gbp,
}

impl Currency {
    /// Number of decimal places amounts are rounded to. The engine's rounding assumes 2;
    /// a currency with other minor units would need the rounding parameterised.
    #[must_use]
    pub fn minor_units(self) -> u32 {
        match self {
            Currency::Eur | Currency::Pln | Currency::Sek | Currency::Gbp => 2,
        }
    }
}

/// Everything the engine needs for one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// The seller.
    pub seller: Seller,
    /// The buyer and destination.
    pub buyer: Buyer,
    /// Chargeable date that fixes the rate: the date of supply (dispatch) of the goods.
    #[serde(with = "iso_date")]
    pub supply_date: Date,
    /// Currency of every amount.
    pub currency: Currency,
    /// The lines, VAT-inclusive.
    pub lines: Vec<Line>,
}

/// Which VAT applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// Goods delivered in the Netherlands: Dutch VAT.
    Domestic,
    /// B2C distance sale to another member state under the Union OSS: that state's VAT.
    OssDestination,
    /// Goods leave the Netherlands but Dutch VAT applies (OSS off, or a business buyer
    /// without a VAT number of another member state).
    NlVatCrossBorder,
    /// Exempt intra-Community supply to a business with a VAT number of another member
    /// state (Art. 138): 0 %, the customer accounts for the VAT.
    IntraCommunityReverseCharge,
}

/// Whether the result is an invoice or a credit note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// An invoice.
    Invoice,
    /// A credit note correcting an invoice.
    CreditNote,
}

/// EN 16931 VAT category code (UNCL 5305) of a rate group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VatCode {
    /// Standard or reduced rate above zero.
    S,
    /// Zero-rated goods.
    Z,
    /// Exempt intra-Community supply.
    K,
}

/// One output line: an input line, or the share of a shipping/gift wrap/discount line that
/// falls on one rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputedLine {
    /// Index of the input line this comes from.
    pub source: usize,
    /// Kind of the input line.
    pub kind: LineKind,
    /// Description of the input line.
    pub description: String,
    /// SKU of the input line.
    pub sku: Option<String>,
    /// Quantity of the input line.
    pub quantity: u32,
    /// VAT rate in percent.
    pub rate: Decimal,
    /// Taxable amount.
    pub net: Decimal,
    /// VAT amount.
    pub vat: Decimal,
    /// VAT-inclusive amount (`net + vat`).
    pub gross: Decimal,
    /// Net per unit to four decimals, for display only; `None` when the quantity is 0.
    pub unit_net: Option<Decimal>,
}

/// Totals for one rate (the figures Art. 226(8)-(10) asks for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateTotal {
    /// VAT rate in percent.
    pub rate: Decimal,
    /// EN 16931 category code.
    pub code: VatCode,
    /// Taxable amount.
    pub net: Decimal,
    /// VAT amount.
    pub vat: Decimal,
    /// VAT-inclusive amount.
    pub gross: Decimal,
}

/// A wording the document must (or, for OSS, should) carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalNote {
    /// Exemption reference for an intra-Community supply (Art. 226(11)).
    IntraCommunitySupply,
    /// "Reverse charge" (Art. 226(11a)); printed next to the exemption reference as Amazon
    /// Business documents do.
    ReverseCharge,
    /// Destination VAT of `country` declared through the Union OSS.
    OssUnionScheme {
        /// Member state whose VAT is charged.
        country: String,
    },
}

/// Language of a [`LegalNote`] text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// English.
    En,
    /// Dutch.
    Nl,
    /// German.
    De,
    /// French.
    Fr,
    /// Italian.
    It,
    /// Spanish.
    Es,
    /// Swedish.
    Sv,
    /// Polish.
    Pl,
}

impl Lang {
    /// Every language a document can be in (issue #17, item 5).
    pub const ALL: [Lang; 8] = [
        Lang::En,
        Lang::Nl,
        Lang::De,
        Lang::Fr,
        Lang::It,
        Lang::Es,
        Lang::Sv,
        Lang::Pl,
    ];

    /// The position in [`Lang::ALL`] (the column of the translation tables).
    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }
}

impl LegalNote {
    /// The wording in `lang`.
    #[must_use]
    pub fn text(&self, lang: Lang) -> String {
        match self {
            LegalNote::IntraCommunitySupply => match lang {
                Lang::En => "Intra-Community supply, VAT exempt - Art. 138 Directive 2006/112/EC",
                Lang::Nl => "Intracommunautaire levering, 0% - art. 138 Richtlijn 2006/112/EG",
                Lang::De => "Steuerfreie innergemeinschaftliche Lieferung - Art. 138 Richtlinie 2006/112/EG",
                Lang::Fr => "Livraison intracommunautaire exonérée de TVA - art. 138 directive 2006/112/CE",
                Lang::It => "Cessione intracomunitaria non imponibile - art. 138 direttiva 2006/112/CE",
                Lang::Es => "Entrega intracomunitaria exenta de IVA - art. 138 Directiva 2006/112/CE",
                Lang::Sv => "Gemenskapsintern leverans, undantagen från moms - art. 138 direktiv 2006/112/EG",
                Lang::Pl => "Wewnątrzwspólnotowa dostawa towarów, zwolniona z VAT - art. 138 dyrektywy 2006/112/WE",
            }
            .into(),
            LegalNote::ReverseCharge => match lang {
                Lang::En => "Reverse charge",
                Lang::Nl => "Btw verlegd",
                Lang::De => "Steuerschuldnerschaft des Leistungsempfängers",
                Lang::Fr => "Autoliquidation",
                Lang::It => "Inversione contabile",
                Lang::Es => "Inversión del sujeto pasivo",
                Lang::Sv => "Omvänd betalningsskyldighet",
                Lang::Pl => "Odwrotne obciążenie",
            }
            .into(),
            LegalNote::OssUnionScheme { country } => match lang {
                Lang::En => format!(
                    "Distance sale: VAT of {country} charged, declared in the Netherlands under the Union OSS scheme"
                ),
                Lang::Nl => format!(
                    "Afstandsverkoop: btw van {country} berekend, aangegeven in Nederland via het éénloketsysteem (OSS, Unieregeling)"
                ),
                Lang::De => format!(
                    "Fernverkauf: Umsatzsteuer von {country} berechnet, in den Niederlanden über den One-Stop-Shop (OSS, EU-Regelung) erklärt"
                ),
                Lang::Fr => format!(
                    "Vente à distance : TVA de {country} facturée, déclarée aux Pays-Bas via le guichet unique (OSS, régime de l'Union)"
                ),
                Lang::It => format!(
                    "Vendita a distanza: IVA di {country} addebitata, dichiarata nei Paesi Bassi tramite lo sportello unico (OSS, regime UE)"
                ),
                Lang::Es => format!(
                    "Venta a distancia: IVA de {country} repercutido, declarado en los Países Bajos mediante la ventanilla única (OSS, régimen de la Unión)"
                ),
                Lang::Sv => format!(
                    "Distansförsäljning: moms för {country} debiterad, redovisad i Nederländerna genom en lokal kontaktpunkt (OSS, unionsordningen)"
                ),
                Lang::Pl => format!(
                    "Sprzedaż na odległość: naliczono VAT kraju {country}, rozliczony w Holandii w procedurze OSS (procedura unijna)"
                ),
            },
        }
    }
}

/// The engine's result for one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Computation {
    /// Invoice or credit note.
    pub document: DocumentKind,
    /// The VAT regime.
    pub regime: Regime,
    /// Member state whose VAT (or, for an intra-Community supply, whose 0 %) applies.
    pub vat_country: String,
    /// Member state where the goods are delivered.
    pub destination: String,
    /// Buyer's VAT number, normalised, when it passed the structural check for a business
    /// buyer (mandatory on an intra-Community supply invoice).
    pub buyer_vat_id: Option<String>,
    /// Chargeable date used for the rates.
    #[serde(with = "iso_date")]
    pub supply_date: Date,
    /// Currency of all amounts.
    pub currency: Currency,
    /// Output lines, in input order; split charges follow in falling rate order.
    pub lines: Vec<ComputedLine>,
    /// One entry per rate, highest rate first.
    pub per_rate: Vec<RateTotal>,
    /// Sum of the rate groups' net amounts.
    pub total_net: Decimal,
    /// Sum of the rate groups' VAT.
    pub total_vat: Decimal,
    /// Sum of the rate groups' gross amounts.
    pub total_gross: Decimal,
    /// Wordings to print.
    pub legal_notes: Vec<LegalNote>,
}

/// Our totals differ from Amazon's by more than one cent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "totals differ from Amazon's: VAT ours {ours_vat} vs Amazon {amazon_vat}, gross ours {ours_gross} vs Amazon {amazon_gross}"
)]
pub struct Mismatch {
    /// Our total VAT.
    pub ours_vat: Decimal,
    /// Amazon's total VAT.
    pub amazon_vat: Decimal,
    /// Our total gross.
    pub ours_gross: Decimal,
    /// Amazon's total gross.
    pub amazon_gross: Decimal,
}

/// What a credit note reverses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refund {
    /// The whole original document: every line negated exactly.
    Full,
    /// Part of it.
    Lines(Vec<RefundLine>),
}

/// Part of an original input line being credited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundLine {
    /// Index of the original *input* line (`ComputedLine::source`).
    pub source: usize,
    /// Units credited (shown on the document).
    pub quantity: u32,
    /// VAT-inclusive amount credited, with the sign of the original line (so a discount
    /// line is reversed with a negative amount); at most the original amount.
    pub gross: Decimal,
}

/// VAT contained in a VAT-inclusive `gross` at `rate` percent, rounded half away from zero
/// to the cent: the rule of `VAT_INVOICE.md` §10. The net is `gross - vat_from_gross(..)`.
#[must_use]
pub fn vat_from_gross(gross: Decimal, rate: Decimal) -> Decimal {
    (gross * rate / (Decimal::ONE_HUNDRED + rate))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// The buyer's VAT number normalised (upper case; spaces, dots and dashes removed) if it
/// has the structure used by its member state (prefix + body, as VIES describes it);
/// `None` otherwise. This is not a VIES check: a number can look right and still be invalid.
#[must_use]
pub fn valid_eu_vat_id(raw: &str) -> Option<String> {
    let id: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '\u{a0}'))
        .collect::<String>()
        .to_ascii_uppercase();
    if !id.is_ascii() || id.len() < 4 {
        return None;
    }
    let (prefix, body) = id.split_at(2);
    let b = body.as_bytes();
    let n = b.len();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let upper = |c: u8| c.is_ascii_uppercase();
    let ok = match prefix {
        "AT" => n == 9 && b[0] == b'U' && digits(&b[1..]),
        "BE" => n == 10 && digits(b) && matches!(b[0], b'0' | b'1'),
        "BG" => (n == 9 || n == 10) && digits(b),
        "CY" => n == 9 && digits(&b[..8]) && upper(b[8]),
        "CZ" => (8..=10).contains(&n) && digits(b),
        "DE" | "EE" | "EL" | "PT" => n == 9 && digits(b),
        "DK" | "FI" | "HU" | "LU" | "MT" => n == 8 && digits(b),
        "ES" => {
            n == 9
                && b[0].is_ascii_alphanumeric()
                && digits(&b[1..8])
                && b[8].is_ascii_alphanumeric()
                && !digits(b)
        }
        "FR" => {
            let key = |c: u8| c.is_ascii_digit() || (upper(c) && c != b'I' && c != b'O');
            n == 11 && key(b[0]) && key(b[1]) && digits(&b[2..])
        }
        "HR" | "IT" | "LV" => n == 11 && digits(b),
        "IE" => {
            // 1234567X or 1234567XY (new), 1X23456X (old; X may be + or *).
            let new = (n == 8 || n == 9)
                && digits(&b[..7])
                && (b'A'..=b'W').contains(&b[7])
                && (n == 8 || (b'A'..=b'I').contains(&b[8]));
            let old = n == 8
                && b[0].is_ascii_digit()
                && (upper(b[1]) || b[1] == b'+' || b[1] == b'*')
                && digits(&b[2..7])
                && (b'A'..=b'W').contains(&b[7]);
            new || old
        }
        "LT" => (n == 9 || n == 12) && digits(b),
        "NL" => n == 12 && digits(&b[..9]) && b[9] == b'B' && digits(&b[10..]),
        "PL" | "SK" => n == 10 && digits(b),
        "RO" => (2..=10).contains(&n) && digits(b) && b[0] != b'0',
        "SE" => n == 12 && digits(b),
        "SI" => n == 8 && digits(b) && b[0] != b'0',
        _ => false,
    };
    ok.then_some(id)
}

/// The buyer's VAT number, normalised, when it alone decides between an exempt
/// intra-Community supply and a consumer sale: a business buyer with a structurally valid
/// number of another member state, goods leaving the Netherlands. The command checks
/// exactly these numbers with VIES before it computes the invoice (issue #14); for every
/// other sale (consumers, Dutch numbers, deliveries in NL, refusals) it is `None` and no
/// check is needed.
pub fn vies_candidate(seller: &Seller, buyer: &Buyer) -> Option<String> {
    let confirmed = Buyer {
        vat_id_confirmed: true,
        ..buyer.clone()
    };
    determine(seller, &confirmed)
        .ok()
        .filter(|d| d.regime == Regime::IntraCommunityReverseCharge)
        .and_then(|d| d.buyer_vat_id)
}

/// The regime that applies to a sale by `seller` to `buyer`.
///
/// # Errors
/// [`VatError::Unsupported`] for a seller not established in NL, a destination outside the
/// EU (export) or an EU territory outside the VAT area; [`VatError::InvalidInput`] when the
/// seller's VAT number is not structurally a Dutch one.
pub fn regime(seller: &Seller, buyer: &Buyer) -> Result<Regime, VatError> {
    determine(seller, buyer).map(|d| d.regime)
}

struct Determination {
    regime: Regime,
    vat_country: &'static str,
    destination: &'static str,
    buyer_vat_id: Option<String>,
}

fn determine(seller: &Seller, buyer: &Buyer) -> Result<Determination, VatError> {
    if eu_member(&seller.country) != Some("NL") {
        return Err(VatError::Unsupported(format!(
            "seller established in {:?}; only NL-established sellers are handled",
            seller.country
        )));
    }
    if !valid_eu_vat_id(&seller.vat_id).is_some_and(|id| id.starts_with("NL")) {
        return Err(VatError::InvalidInput(format!(
            "seller VAT number {:?} is not a Dutch VAT number",
            seller.vat_id
        )));
    }
    let destination = eu_member(&buyer.country).ok_or_else(|| {
        VatError::Unsupported(format!(
            "destination {:?} is outside the EU; exports are out of scope",
            buyer.country
        ))
    })?;
    if let Some(territory) = outside_vat_area(destination, buyer.postal_code.as_deref()) {
        return Err(VatError::Unsupported(format!(
            "{territory} is outside the EU VAT area; treat as export (out of scope)"
        )));
    }
    let buyer_vat_id = if buyer.is_business {
        buyer.vat_id.as_deref().and_then(valid_eu_vat_id)
    } else {
        None
    };
    let foreign_vat_id = buyer_vat_id
        .as_deref()
        .is_some_and(|id| !id.starts_with("NL"));
    // Issue #14: a number of another member state counts only once VIES confirmed it;
    // unconfirmed, the buyer is treated exactly as a consumer (and the number is not
    // printed as the customer's VAT identification).
    let buyer_vat_id = if foreign_vat_id && !buyer.vat_id_confirmed {
        None
    } else {
        buyer_vat_id
    };
    let exempt = foreign_vat_id && buyer.vat_id_confirmed;
    let (regime, vat_country) = if destination == "NL" {
        (Regime::Domestic, "NL")
    } else if exempt {
        // Art. 138(1): goods leave NL for a customer identified for VAT in another state.
        (Regime::IntraCommunityReverseCharge, "NL")
    } else if buyer_vat_id.is_some() {
        // A business that gave only a Dutch number: no exemption, Dutch VAT (Art. 32).
        (Regime::NlVatCrossBorder, "NL")
    } else if seller.oss {
        (Regime::OssDestination, destination)
    } else {
        (Regime::NlVatCrossBorder, "NL")
    };
    Ok(Determination {
        regime,
        vat_country,
        destination,
        buyer_vat_id,
    })
}

/// Names the territory when `postal_code` in member state `country` lies outside the EU
/// VAT area (VAT Directive Art. 6). Postcode ranges are the author's knowledge (verify).
fn outside_vat_area(country: &str, postal_code: Option<&str>) -> Option<&'static str> {
    let pc: String = postal_code?
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_uppercase();
    let pc = pc.as_str();
    match country {
        "ES" if pc.starts_with("35") || pc.starts_with("38") => Some("Canary Islands"),
        "ES" if pc.starts_with("51") => Some("Ceuta"),
        "ES" if pc.starts_with("52") => Some("Melilla"),
        "FR" if ["971", "972", "973", "974", "976"]
            .iter()
            .any(|p| pc.starts_with(p)) =>
        {
            Some("a French overseas department")
        }
        "DE" if pc == "27498" => Some("Heligoland"),
        "DE" if pc == "78266" => Some("Büsingen am Hochrhein"),
        "IT" if pc == "23041" => Some("Livigno"),
        "IT" if pc == "22061" => Some("Campione d'Italia"),
        "GR" if pc == "63086" || pc == "63087" => Some("Mount Athos"),
        "FI" if pc.starts_with("22") => Some("Åland"),
        _ => None,
    }
}

/// A share of an input line at one rate, before the net/VAT split.
struct Portion {
    source: usize,
    rate: Decimal,
    gross: Decimal,
}

fn cents_ok(amount: Decimal) -> bool {
    amount.round_dp(2) == amount && amount.abs() <= Decimal::from(MAX_LINE_AMOUNT)
}

/// Computes the VAT figures of `invoice` with rates from `table`.
///
/// # Errors
/// [`VatError`] for unsupported cases, missing rates, malformed amounts or references, or
/// charges that cannot be allocated. Never panics.
pub fn compute(invoice: &Invoice, table: &RateTable) -> Result<Computation, VatError> {
    let lines = &invoice.lines;
    if lines.is_empty() {
        return Err(VatError::InvalidInput(
            "a document needs at least one line".into(),
        ));
    }
    if lines.len() > MAX_LINES {
        return Err(VatError::InvalidInput(format!(
            "{} lines; at most {MAX_LINES} are accepted",
            lines.len()
        )));
    }
    check_lines(lines)?;

    let det = determine(&invoice.seller, &invoice.buyer)?;
    let lookup = |category: TaxCategory| -> Result<Decimal, VatError> {
        if det.regime == Regime::IntraCommunityReverseCharge {
            Ok(Decimal::ZERO)
        } else {
            table
                .rate(det.vat_country, category, invoice.supply_date)
                .map(|r| r.normalize())
        }
    };

    // Rates of the goods lines, and the goods gross per rate (the allocation key).
    let mut goods_rate: Vec<Option<Decimal>> = vec![None; lines.len()];
    let mut goods_by_rate: BTreeMap<Decimal, Decimal> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        if line.kind == LineKind::Goods {
            let rate = lookup(line.category)?;
            goods_rate[i] = Some(rate);
            *goods_by_rate.entry(rate).or_default() += line.gross;
        }
    }

    let mut portions = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if let Some(rate) = goods_rate[i] {
            portions.push(Portion {
                source: i,
                rate,
                gross: line.gross,
            });
        } else if let Some(rate) = line.belongs_to.and_then(|j| goods_rate[j]) {
            portions.push(Portion {
                source: i,
                rate,
                gross: line.gross,
            });
        } else {
            allocate(i, line, &goods_by_rate, &lookup, &mut portions)?;
        }
    }

    let notes = match det.regime {
        Regime::IntraCommunityReverseCharge => {
            vec![LegalNote::IntraCommunitySupply, LegalNote::ReverseCharge]
        }
        Regime::OssDestination => vec![LegalNote::OssUnionScheme {
            country: det.destination.to_owned(),
        }],
        Regime::Domestic | Regime::NlVatCrossBorder => Vec::new(),
    };
    let mut out = Computation {
        document: DocumentKind::Invoice,
        regime: det.regime,
        vat_country: det.vat_country.to_owned(),
        destination: det.destination.to_owned(),
        buyer_vat_id: det.buyer_vat_id,
        supply_date: invoice.supply_date,
        currency: invoice.currency,
        lines: Vec::new(),
        per_rate: Vec::new(),
        total_net: Decimal::ZERO,
        total_vat: Decimal::ZERO,
        total_gross: Decimal::ZERO,
        legal_notes: notes,
    };
    let meta: Vec<LineMeta> = lines
        .iter()
        .map(|l| LineMeta {
            kind: l.kind,
            description: l.description.clone(),
            sku: l.sku.clone(),
            quantity: l.quantity,
        })
        .collect();
    settle(&mut out, &portions, &meta);
    Ok(out)
}

/// Amounts in whole cents and in range; `belongs_to` only on charges, pointing at goods.
fn check_lines(lines: &[Line]) -> Result<(), VatError> {
    for (i, line) in lines.iter().enumerate() {
        if !cents_ok(line.gross) {
            return Err(VatError::InvalidAmount {
                line: i,
                reason: format!(
                    "{} is not a whole number of cents within +/-{MAX_LINE_AMOUNT}",
                    line.gross
                ),
            });
        }
        match (line.kind, line.belongs_to) {
            (LineKind::Goods, Some(_)) => {
                return Err(VatError::InvalidInput(format!(
                    "line {i}: goods lines cannot belong to another line"
                )));
            }
            (_, Some(j)) if lines.get(j).is_none_or(|l| l.kind != LineKind::Goods) => {
                return Err(VatError::InvalidInput(format!(
                    "line {i}: belongs_to {j} is not a goods line"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Splits a shipping/gift wrap/discount line across the goods rates (see module docs).
fn allocate(
    index: usize,
    line: &Line,
    goods_by_rate: &BTreeMap<Decimal, Decimal>,
    lookup: &dyn Fn(TaxCategory) -> Result<Decimal, VatError>,
    portions: &mut Vec<Portion>,
) -> Result<(), VatError> {
    let total: Decimal = goods_by_rate.values().copied().sum();
    if total.is_zero() {
        portions.push(Portion {
            source: index,
            rate: lookup(line.category)?,
            gross: line.gross,
        });
        return Ok(());
    }
    if goods_by_rate
        .values()
        .any(|w| w.is_sign_negative() != total.is_sign_negative() && !w.is_zero())
    {
        return Err(VatError::Allocation {
            line: index,
            reason: "goods amounts per rate have opposite signs; give belongs_to explicitly".into(),
        });
    }
    // Highest rate first, so split lines read in the same order as the rate totals.
    let weights: Vec<(Decimal, Decimal)> =
        goods_by_rate.iter().rev().map(|(r, w)| (*r, *w)).collect();
    let exacts: Vec<Decimal> = weights
        .iter()
        .map(|(_, w)| line.gross * (*w / total))
        .collect();
    let shares = apportion(line.gross, &exacts);
    let before = portions.len();
    for ((rate, _), share) in weights.iter().zip(shares) {
        if !share.is_zero() {
            portions.push(Portion {
                source: index,
                rate: *rate,
                gross: share,
            });
        }
    }
    if portions.len() == before {
        // A zero amount: keep the line visible at the main goods rate.
        portions.push(Portion {
            source: index,
            rate: weights[0].0,
            gross: Decimal::ZERO,
        });
    }
    Ok(())
}

/// Splits `target` (whole cents) into cent amounts close to `exacts`, summing exactly to
/// `target`: floor each to the cent, then hand out the difference one cent at a time in
/// order of the largest remainder (ties: earlier first).
fn apportion(target: Decimal, exacts: &[Decimal]) -> Vec<Decimal> {
    let cent = Decimal::new(1, 2);
    let mut parts: Vec<Decimal> = exacts
        .iter()
        .map(|e| e.round_dp_with_strategy(2, RoundingStrategy::ToNegativeInfinity))
        .collect();
    let Ok(n) = i128::try_from(parts.len()) else {
        return parts;
    };
    if n == 0 {
        return parts;
    }
    let left: Decimal = target - parts.iter().copied().sum::<Decimal>();
    let cents = (left * Decimal::ONE_HUNDRED).to_i128().unwrap_or(0);
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| {
        (exacts[b] - parts[b])
            .cmp(&(exacts[a] - parts[a]))
            .then(a.cmp(&b))
    });
    let each = cents.div_euclid(n);
    let extra = cents.rem_euclid(n);
    for (rank, &i) in order.iter().enumerate() {
        let mut add = each;
        if i128::try_from(rank).is_ok_and(|r| r < extra) {
            add += 1;
        }
        parts[i] += cent * Decimal::from_i128_with_scale(add, 0);
    }
    parts
}

struct LineMeta {
    kind: LineKind,
    description: String,
    sku: Option<String>,
    quantity: u32,
}

/// Groups portions by rate, applies the rounding rule per group, apportions each group's
/// VAT over its portions and fills lines, rate totals and document totals of `out`.
fn settle(out: &mut Computation, portions: &[Portion], meta: &[LineMeta]) {
    let zero_code = if out.regime == Regime::IntraCommunityReverseCharge {
        VatCode::K
    } else {
        VatCode::Z
    };
    let mut groups: BTreeMap<Decimal, Vec<usize>> = BTreeMap::new();
    for (i, p) in portions.iter().enumerate() {
        groups.entry(p.rate).or_default().push(i);
    }
    let mut vat_of = vec![Decimal::ZERO; portions.len()];
    let mut per_rate = Vec::with_capacity(groups.len());
    for (rate, members) in groups.iter().rev() {
        let gross: Decimal = members.iter().map(|&i| portions[i].gross).sum();
        let vat = vat_from_gross(gross, *rate);
        let exacts: Vec<Decimal> = members
            .iter()
            .map(|&i| portions[i].gross * *rate / (Decimal::ONE_HUNDRED + *rate))
            .collect();
        for (&i, v) in members.iter().zip(apportion(vat, &exacts)) {
            vat_of[i] = v;
        }
        per_rate.push(RateTotal {
            rate: *rate,
            code: if rate.is_zero() {
                zero_code
            } else {
                VatCode::S
            },
            net: gross - vat,
            vat,
            gross,
        });
    }
    out.lines = portions
        .iter()
        .zip(vat_of)
        .map(|(p, vat)| {
            let m = &meta[p.source];
            let net = p.gross - vat;
            ComputedLine {
                source: p.source,
                kind: m.kind,
                description: m.description.clone(),
                sku: m.sku.clone(),
                quantity: m.quantity,
                rate: p.rate,
                net,
                vat,
                gross: p.gross,
                unit_net: (m.quantity > 0).then(|| {
                    (net / Decimal::from(m.quantity))
                        .round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
                }),
            }
        })
        .collect();
    out.total_net = per_rate.iter().map(|r| r.net).sum();
    out.total_vat = per_rate.iter().map(|r| r.vat).sum();
    out.total_gross = per_rate.iter().map(|r| r.gross).sum();
    out.per_rate = per_rate;
}

/// Checks our totals against the `TotalVATAmount` / `TotalAmount` Amazon expects for the
/// upload; a difference of up to one cent on each passes.
///
/// # Errors
/// [`Mismatch`] with both sets of figures when either total differs by more than a cent.
pub fn compare_with_amazon(
    computation: &Computation,
    amazon_total_vat: Decimal,
    amazon_total_gross: Decimal,
) -> Result<(), Mismatch> {
    let cent = Decimal::new(1, 2);
    let off = |a: Decimal, b: Decimal| a.checked_sub(b).is_none_or(|d| d.abs() > cent);
    if off(computation.total_vat, amazon_total_vat)
        || off(computation.total_gross, amazon_total_gross)
    {
        return Err(Mismatch {
            ours_vat: computation.total_vat,
            amazon_vat: amazon_total_vat,
            ours_gross: computation.total_gross,
            amazon_gross: amazon_total_gross,
        });
    }
    Ok(())
}

/// A credit note for `original`: same regime, rates, country and legal notes, negative
/// amounts. [`Refund::Full`] negates every line exactly; [`Refund::Lines`] credits part of
/// given input lines, spreading each over that line's rate shares, and applies the rounding
/// rule afresh to the credited rate groups.
///
/// # Errors
/// [`VatError::InvalidInput`] when `original` is itself a credit note, a refund references
/// no line of the original, or nothing is credited; [`VatError::InvalidAmount`] when a
/// credited amount is not whole cents, has the wrong sign, or exceeds the original line.
pub fn credit_note(original: &Computation, refund: &Refund) -> Result<Computation, VatError> {
    if original.document == DocumentKind::CreditNote {
        return Err(VatError::InvalidInput(
            "cannot credit a credit note; issue a new invoice instead".into(),
        ));
    }
    let mut out = Computation {
        document: DocumentKind::CreditNote,
        ..original.clone()
    };
    let refunds = match refund {
        Refund::Full => {
            for line in &mut out.lines {
                line.net = -line.net;
                line.vat = -line.vat;
                line.gross = -line.gross;
                line.unit_net = line.unit_net.map(|u| -u);
            }
            for total in &mut out.per_rate {
                total.net = -total.net;
                total.vat = -total.vat;
                total.gross = -total.gross;
            }
            out.total_net = -out.total_net;
            out.total_vat = -out.total_vat;
            out.total_gross = -out.total_gross;
            return Ok(out);
        }
        Refund::Lines(refunds) => refunds,
    };
    if refunds.is_empty() || refunds.len() > MAX_LINES {
        return Err(VatError::InvalidInput(
            "a partial credit note needs between 1 and 10000 refund lines".into(),
        ));
    }
    let mut portions = Vec::new();
    let mut meta = Vec::with_capacity(refunds.len());
    for (k, refund) in refunds.iter().enumerate() {
        let shares: Vec<&ComputedLine> = original
            .lines
            .iter()
            .filter(|l| l.source == refund.source)
            .collect();
        let Some(first) = shares.first() else {
            return Err(VatError::InvalidInput(format!(
                "refund {k}: the original has no line {}",
                refund.source
            )));
        };
        let line_gross: Decimal = shares.iter().map(|l| l.gross).sum();
        let same_sign = refund.gross.is_zero()
            || (line_gross.is_sign_negative() == refund.gross.is_sign_negative()
                && !line_gross.is_zero());
        if !cents_ok(refund.gross) || !same_sign || refund.gross.abs() > line_gross.abs() {
            return Err(VatError::InvalidAmount {
                line: k,
                reason: format!(
                    "credited {} must be whole cents with the sign of, and at most, the original {line_gross}",
                    refund.gross
                ),
            });
        }
        let exacts: Vec<Decimal> = shares
            .iter()
            .map(|l| {
                if line_gross.is_zero() {
                    Decimal::ZERO
                } else {
                    refund.gross * (l.gross / line_gross)
                }
            })
            .collect();
        for (share, amount) in shares.iter().zip(apportion(refund.gross, &exacts)) {
            if !amount.is_zero() || shares.len() == 1 {
                portions.push(Portion {
                    source: k,
                    rate: share.rate,
                    gross: -amount,
                });
            }
        }
        meta.push(LineMeta {
            kind: first.kind,
            description: first.description.clone(),
            sku: first.sku.clone(),
            quantity: refund.quantity,
        });
    }
    settle(&mut out, &portions, &meta);
    // `source` of a credit-note line points at the original input line it reverses.
    for line in &mut out.lines {
        line.source = refunds[line.source].source;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::rates::TaxCategory::{Books, Reduced, Standard};
    use proptest::prelude::*;
    use rust_decimal_macros::dec;
    use time::macros::date;

    fn seller(oss: bool) -> Seller {
        Seller {
            country: "NL".into(),
            vat_id: "NL000099998B57".into(),
            oss,
        }
    }

    /// Issue #14: only a number VIES confirmed makes a sale exempt; an unconfirmed one is a
    /// consumer sale (OSS destination VAT, or Dutch VAT without OSS), and the number is
    /// then not the customer's VAT identification on the document.
    #[test]
    fn vies_unconfirmed_numbers_get_the_consumer_treatment() {
        let unconfirmed = Buyer {
            vat_id_confirmed: false,
            ..business("DE", "DE 123 456 789")
        };
        assert_eq!(
            regime(&seller(true), &business("DE", "DE123456789")),
            Ok(Regime::IntraCommunityReverseCharge)
        );
        assert_eq!(
            regime(&seller(true), &unconfirmed),
            Ok(Regime::OssDestination)
        );
        assert_eq!(
            regime(&seller(false), &unconfirmed),
            Ok(Regime::NlVatCrossBorder)
        );
        let line = line(LineKind::Goods, dec!(119.00), TaxCategory::Standard);
        let c = compute(
            &invoice(
                seller(true),
                unconfirmed.clone(),
                date!(2026 - 02 - 10),
                vec![line],
            ),
            &RateTable::builtin(),
        )
        .unwrap();
        assert_eq!((c.total_vat, c.buyer_vat_id), (dec!(19.00), None));
        // What the command asks VIES about: exactly the numbers that decide the regime.
        assert_eq!(
            vies_candidate(&seller(true), &unconfirmed).as_deref(),
            Some("DE123456789")
        );
        assert_eq!(
            vies_candidate(&seller(false), &unconfirmed).as_deref(),
            Some("DE123456789")
        );
        for not_asked in [
            consumer("DE"),
            Buyer {
                vat_id_confirmed: false,
                ..business("NL", "DE123456789")
            },
            Buyer {
                vat_id_confirmed: false,
                ..business("DE", "NL123456789B01")
            },
            Buyer {
                vat_id_confirmed: false,
                ..business("DE", "DE12345678")
            },
            Buyer {
                is_business: false,
                ..unconfirmed.clone()
            },
            Buyer {
                vat_id_confirmed: false,
                ..business("US", "DE123456789")
            },
        ] {
            assert_eq!(
                vies_candidate(&seller(true), &not_asked),
                None,
                "{not_asked:?}"
            );
        }
    }

    fn consumer(country: &str) -> Buyer {
        Buyer {
            country: country.into(),
            postal_code: None,
            vat_id: None,
            is_business: false,
            vat_id_confirmed: false,
        }
    }

    /// A business buyer whose number VIES confirmed.
    fn business(country: &str, vat_id: &str) -> Buyer {
        Buyer {
            country: country.into(),
            postal_code: None,
            vat_id: Some(vat_id.into()),
            is_business: true,
            vat_id_confirmed: true,
        }
    }

    fn line(kind: LineKind, gross: Decimal, category: TaxCategory) -> Line {
        Line {
            kind,
            description: format!("{kind:?}"),
            sku: None,
            quantity: 1,
            gross,
            category,
            belongs_to: None,
        }
    }

    fn goods(gross: Decimal, category: TaxCategory) -> Line {
        line(LineKind::Goods, gross, category)
    }

    fn invoice(seller: Seller, buyer: Buyer, day: Date, lines: Vec<Line>) -> Invoice {
        Invoice {
            seller,
            buyer,
            supply_date: day,
            currency: Currency::Eur,
            lines,
        }
    }

    fn run(inv: &Invoice) -> Computation {
        let c = compute(inv, &RateTable::builtin()).expect("computes");
        assert_invariants(&c);
        c
    }

    /// The invariants every computation must satisfy.
    fn assert_invariants(c: &Computation) {
        for l in &c.lines {
            assert_eq!(l.net + l.vat, l.gross, "line {l:?}");
        }
        for t in &c.per_rate {
            assert_eq!(t.net + t.vat, t.gross, "rate {t:?}");
            assert_eq!(
                t.vat,
                vat_from_gross(t.gross, t.rate),
                "rounding rule at {t:?}"
            );
            let of_rate = c.lines.iter().filter(|l| l.rate == t.rate);
            let (n, v, g) = of_rate.fold((Decimal::ZERO, Decimal::ZERO, Decimal::ZERO), |a, l| {
                (a.0 + l.net, a.1 + l.vat, a.2 + l.gross)
            });
            assert_eq!(
                (n, v, g),
                (t.net, t.vat, t.gross),
                "lines vs rate {}",
                t.rate
            );
        }
        let sum = |f: fn(&RateTotal) -> Decimal| c.per_rate.iter().map(f).sum::<Decimal>();
        assert_eq!(c.total_net, sum(|t| t.net));
        assert_eq!(c.total_vat, sum(|t| t.vat));
        assert_eq!(c.total_gross, sum(|t| t.gross));
        assert_eq!(c.total_net + c.total_vat, c.total_gross);
    }

    /// (regime, rate, net, vat, gross) of a one-rate computation.
    fn single(c: &Computation) -> (Regime, Decimal, Decimal, Decimal, Decimal) {
        assert_eq!(c.per_rate.len(), 1, "{:?}", c.per_rate);
        let t = &c.per_rate[0];
        (c.regime, t.rate, t.net, t.vat, t.gross)
    }

    #[test]
    fn rounding_rule_hand_worked() {
        // 24.19 * 21/121 = 4.198264.. -> 4.20; net 19.99.
        assert_eq!(vat_from_gross(dec!(24.19), dec!(21)), dec!(4.20));
        // 29.99 * 19/119 = 4.788319.. -> 4.79; net 25.20.
        assert_eq!(vat_from_gross(dec!(29.99), dec!(19)), dec!(4.79));
        // Midpoint: 6.03 * 20/120 = 1.005 exactly -> 1.01 (half away from zero).
        assert_eq!(vat_from_gross(dec!(6.03), dec!(20)), dec!(1.01));
        assert_eq!(vat_from_gross(dec!(-6.03), dec!(20)), dec!(-1.01));
        // 0.03 * 20/120 = 0.005 -> 0.01.
        assert_eq!(vat_from_gross(dec!(0.03), dec!(20)), dec!(0.01));
        // 100.00 * 25.5/125.5 = 20.318725.. -> 20.32.
        assert_eq!(vat_from_gross(dec!(100.00), dec!(25.5)), dec!(20.32));
        assert_eq!(vat_from_gross(dec!(55.00), dec!(0)), dec!(0));
    }

    /// (OSS on, buyer, date, category, gross, regime, rate, net, vat)
    type Case = (
        bool,
        Buyer,
        Date,
        TaxCategory,
        Decimal,
        Regime,
        Decimal,
        Decimal,
        Decimal,
    );

    /// Single-line sales per country, rate, date and buyer type. Every figure is worked
    /// out by hand in the comment above its case.
    #[test]
    fn single_line_table() {
        use Regime::{Domestic as Dom, IntraCommunityReverseCharge as Icl};
        use Regime::{NlVatCrossBorder as NlX, OssDestination as Oss};
        let d26 = date!(2026 - 02 - 10);
        let b2c = consumer;
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            // NL consumer, 21 %: 24.19*21/121 = 4.1983 -> 4.20, net 19.99.
            (true, b2c("NL"), d26, Standard, dec!(24.19), Dom, dec!(21), dec!(19.99), dec!(4.20)),
            // NL consumer, book 9 %: 10.90*9/109 = 0.90 exactly, net 10.00.
            (true, b2c("NL"), d26, Books, dec!(10.90), Dom, dec!(9), dec!(10.00), dec!(0.90)),
            // DE consumer, OSS, 19 %: 29.99*19/119 = 4.7883 -> 4.79, net 25.20.
            (true, b2c("DE"), d26, Standard, dec!(29.99), Oss, dec!(19), dec!(25.20), dec!(4.79)),
            // DE consumer, OSS off -> NL 21 %: 24.19 -> 4.20 / 19.99.
            (false, b2c("DE"), d26, Standard, dec!(24.19), NlX, dec!(21), dec!(19.99), dec!(4.20)),
            // FR consumer, book 5.5 %: 21.10*5.5/105.5 = 1.10 exactly, net 20.00.
            (true, b2c("FR"), d26, Books, dec!(21.10), Oss, dec!(5.5), dec!(20.00), dec!(1.10)),
            // FR consumer, 20 % midpoint: 6.03*20/120 = 1.005 -> 1.01, net 5.02.
            (true, b2c("FR"), d26, Standard, dec!(6.03), Oss, dec!(20), dec!(5.02), dec!(1.01)),
            // EE before 2025-07-01 (22 %): 12.20*22/122 = 2.20, net 10.00.
            (true, b2c("EE"), date!(2025 - 06 - 30), Standard, dec!(12.20), Oss, dec!(22), dec!(10.00), dec!(2.20)),
            // EE from 2025-07-01 (24 %): 12.20*24/124 = 2.3613 -> 2.36, net 9.84.
            (true, b2c("EE"), date!(2025 - 07 - 01), Standard, dec!(12.20), Oss, dec!(24), dec!(9.84), dec!(2.36)),
            // FI before 2024-09-01 (24 %): 100.00*24/124 = 19.3548 -> 19.35, net 80.65.
            (true, b2c("FI"), date!(2024 - 08 - 31), Standard, dec!(100.00), Oss, dec!(24), dec!(80.65), dec!(19.35)),
            // FI from 2024-09-01 (25.5 %): 100.00*25.5/125.5 = 20.3187 -> 20.32, net 79.68.
            (true, b2c("FI"), date!(2024 - 09 - 01), Standard, dec!(100.00), Oss, dec!(25.5), dec!(79.68), dec!(20.32)),
            // SK 2024 (20 %): 50.00*20/120 = 8.3333 -> 8.33, net 41.67.
            (true, b2c("SK"), date!(2024 - 12 - 31), Standard, dec!(50.00), Oss, dec!(20), dec!(41.67), dec!(8.33)),
            // SK 2025 (23 %): 50.00*23/123 = 9.3496 -> 9.35, net 40.65.
            (true, b2c("SK"), date!(2025 - 01 - 01), Standard, dec!(50.00), Oss, dec!(23), dec!(40.65), dec!(9.35)),
            // RO before 2025-08-01 (19 %): 119.00*19/119 = 19.00, net 100.00.
            (true, b2c("RO"), date!(2025 - 07 - 31), Standard, dec!(119.00), Oss, dec!(19), dec!(100.00), dec!(19.00)),
            // RO from 2025-08-01 (21 %): 119.00*21/121 = 20.6529 -> 20.65, net 98.35.
            (true, b2c("RO"), date!(2025 - 08 - 01), Standard, dec!(119.00), Oss, dec!(21), dec!(98.35), dec!(20.65)),
            // CZ food 2023 (15 %): 115.00*15/115 = 15.00, net 100.00.
            (true, b2c("CZ"), date!(2023 - 12 - 31), Reduced, dec!(115.00), Oss, dec!(15), dec!(100.00), dec!(15.00)),
            // CZ food 2024 (12 %): 115.00*12/112 = 12.3214 -> 12.32, net 102.68.
            (true, b2c("CZ"), date!(2024 - 01 - 01), Reduced, dec!(115.00), Oss, dec!(12), dec!(102.68), dec!(12.32)),
            // LU 2023 (16 %): 11.60*16/116 = 1.60, net 10.00.
            (true, b2c("LU"), date!(2023 - 06 - 01), Standard, dec!(11.60), Oss, dec!(16), dec!(10.00), dec!(1.60)),
            // LU 2024 (17 %): 11.60*17/117 = 1.6855 -> 1.69, net 9.91.
            (true, b2c("LU"), date!(2024 - 06 - 01), Standard, dec!(11.60), Oss, dec!(17), dec!(9.91), dec!(1.69)),
            // Greece given as EL, OSS, 24 %: 12.40*24/124 = 2.40, net 10.00.
            (true, b2c("EL"), d26, Standard, dec!(12.40), Oss, dec!(24), dec!(10.00), dec!(2.40)),
            // DE business, valid DE VAT id -> intra-Community supply at 0 %: net = gross.
            (true, business("DE", "DE123456789"), d26, Standard, dec!(119.00), Icl, dec!(0), dec!(119.00), dec!(0)),
            // DE business, malformed id (8 digits) -> B2C, OSS DE 19 %: 119*19/119 = 19.00.
            (true, business("DE", "DE12345678"), d26, Standard, dec!(119.00), Oss, dec!(19), dec!(100.00), dec!(19.00)),
            // NL business with NL VAT id -> Dutch VAT 21 %: 121.00*21/121 = 21.00.
            (true, business("NL", "NL123456789B01"), d26, Standard, dec!(121.00), Dom, dec!(21), dec!(100.00), dec!(21.00)),
            // BE business with a DE VAT id, goods to BE -> still exempt (Art. 138(1)(b)).
            (true, business("BE", "DE 123 456 789"), d26, Standard, dec!(50.00), Icl, dec!(0), dec!(50.00), dec!(0)),
            // DE business with valid DE id, goods stay in NL -> Dutch VAT 21 %: 4.20 / 19.99.
            (true, business("NL", "DE123456789"), d26, Standard, dec!(24.19), Dom, dec!(21), dec!(19.99), dec!(4.20)),
            // Business with only an NL VAT id, goods to DE -> Dutch VAT 21 %: 4.20 / 19.99.
            (true, business("DE", "NL123456789B01"), d26, Standard, dec!(24.19), NlX, dec!(21), dec!(19.99), dec!(4.20)),
            // Valid id but not flagged as business -> consumer rules, DE 19 %: 4.79 / 25.20.
            (true, Buyer { is_business: false, ..business("DE", "DE123456789") }, d26, Standard, dec!(29.99), Oss, dec!(19), dec!(25.20), dec!(4.79)),
        ];
        for (i, (oss, buyer, day, category, gross, regime, rate, net, vat)) in
            cases.into_iter().enumerate()
        {
            let c = run(&invoice(
                seller(oss),
                buyer,
                day,
                vec![goods(gross, category)],
            ));
            assert_eq!(single(&c), (regime, rate, net, vat, gross), "case {i}");
        }
    }

    #[test]
    fn mixed_rate_order_allocates_shipping_by_goods_gross() {
        // DE consumer, OSS: book 21.40 (7 %), gadget 35.70 (19 %), shipping 4.99.
        // Shipping key: 21.40 / 57.10 and 35.70 / 57.10.
        //   7 %: 4.99*21.40/57.10 = 1.870157 -> floor 1.87 (remainder 0.000157)
        //  19 %: 4.99*35.70/57.10 = 3.119842 -> floor 3.11 (remainder 0.009842) + 1 cent = 3.12
        // 7 % group: 21.40 + 1.87 = 23.27; VAT 23.27*7/107 = 1.522336 -> 1.52; net 21.75.
        // 19 % group: 35.70 + 3.12 = 38.82; VAT 38.82*19/119 = 6.198151 -> 6.20; net 32.62.
        // Totals: gross 62.09, VAT 7.72, net 54.37.
        // Lines, 7 %: book 21.40*7/107 = 1.40; shipping 1.87*7/107 = 0.122 -> 0.12.
        // Lines, 19 %: gadget 35.70*19/119 = 5.70; shipping 3.12*19/119 = 0.498 -> floor 0.49,
        //   the group's 6.20 leaves one cent, which goes to the larger remainder: 0.50.
        let c = run(&invoice(
            seller(true),
            consumer("DE"),
            date!(2026 - 01 - 20),
            vec![
                goods(dec!(21.40), Books),
                goods(dec!(35.70), Standard),
                line(LineKind::Shipping, dec!(4.99), Standard),
            ],
        ));
        let rates: Vec<_> = c
            .per_rate
            .iter()
            .map(|t| (t.rate, t.net, t.vat, t.gross))
            .collect();
        assert_eq!(
            rates,
            vec![
                (dec!(19), dec!(32.62), dec!(6.20), dec!(38.82)),
                (dec!(7), dec!(21.75), dec!(1.52), dec!(23.27)),
            ]
        );
        assert_eq!(
            (c.total_net, c.total_vat, c.total_gross),
            (dec!(54.37), dec!(7.72), dec!(62.09))
        );
        let lines: Vec<_> = c
            .lines
            .iter()
            .map(|l| (l.source, l.rate, l.net, l.vat, l.gross))
            .collect();
        assert_eq!(
            lines,
            vec![
                (0, dec!(7), dec!(20.00), dec!(1.40), dec!(21.40)),
                (1, dec!(19), dec!(30.00), dec!(5.70), dec!(35.70)),
                (2, dec!(19), dec!(2.62), dec!(0.50), dec!(3.12)),
                (2, dec!(7), dec!(1.75), dec!(0.12), dec!(1.87)),
            ]
        );
        assert_eq!(
            c.legal_notes,
            vec![LegalNote::OssUnionScheme {
                country: "DE".into()
            }]
        );
    }

    #[test]
    fn promotion_discount_follows_goods_rates() {
        // NL consumer: goods 50.00 at 21 %, food 20.00 at 9 %, promotion -5.00.
        //  21 %: -5*50/70 = -3.571428 -> floor -3.58 (remainder 0.008571) + 1 cent = -3.57
        //   9 %: -5*20/70 = -1.428571 -> floor -1.43 (remainder 0.001429)
        // 21 % group: 50.00 - 3.57 = 46.43; VAT 46.43*21/121 = 8.058099 -> 8.06; net 38.37.
        //  9 % group: 20.00 - 1.43 = 18.57; VAT 18.57*9/109 = 1.533303 -> 1.53; net 17.04.
        // Totals: gross 65.00, VAT 9.59, net 55.41.
        let c = run(&invoice(
            seller(true),
            consumer("NL"),
            date!(2026 - 01 - 20),
            vec![
                goods(dec!(50.00), Standard),
                goods(dec!(20.00), Reduced),
                line(LineKind::Discount, dec!(-5.00), Standard),
            ],
        ));
        let rates: Vec<_> = c
            .per_rate
            .iter()
            .map(|t| (t.rate, t.net, t.vat, t.gross))
            .collect();
        assert_eq!(
            rates,
            vec![
                (dec!(21), dec!(38.37), dec!(8.06), dec!(46.43)),
                (dec!(9), dec!(17.04), dec!(1.53), dec!(18.57)),
            ]
        );
        assert_eq!(
            (c.total_net, c.total_vat, c.total_gross),
            (dec!(55.41), dec!(9.59), dec!(65.00))
        );
        let discount: Vec<_> = c
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Discount)
            .map(|l| (l.rate, l.gross))
            .collect();
        assert_eq!(
            discount,
            vec![(dec!(21), dec!(-3.57)), (dec!(9), dec!(-1.43))]
        );
    }

    #[test]
    fn per_item_charges_follow_their_own_goods_line() {
        // Shipping 3.00 and a -1.00 discount belong to the book (NL 9 %), not split.
        // 9 % group: 10.90 + 3.00 - 1.00 = 12.90; VAT 12.90*9/109 = 1.065138 -> 1.07; net 11.83.
        // 21 % group: 24.19 -> 4.20 / 19.99.
        let mut ship = line(LineKind::Shipping, dec!(3.00), Standard);
        ship.belongs_to = Some(1);
        let mut promo = line(LineKind::Discount, dec!(-1.00), Standard);
        promo.belongs_to = Some(1);
        let c = run(&invoice(
            seller(true),
            consumer("NL"),
            date!(2026 - 01 - 20),
            vec![
                goods(dec!(24.19), Standard),
                goods(dec!(10.90), Books),
                ship,
                promo,
            ],
        ));
        let rates: Vec<_> = c
            .per_rate
            .iter()
            .map(|t| (t.rate, t.net, t.vat, t.gross))
            .collect();
        assert_eq!(
            rates,
            vec![
                (dec!(21), dec!(19.99), dec!(4.20), dec!(24.19)),
                (dec!(9), dec!(11.83), dec!(1.07), dec!(12.90)),
            ]
        );
        assert_eq!(c.lines.len(), 4);
    }

    #[test]
    fn shipping_without_goods_uses_its_own_category() {
        // Shipping-only document (e.g. a re-shipment charge) in NL: 6.05*21/121 = 1.05.
        let c = run(&invoice(
            seller(true),
            consumer("NL"),
            date!(2026 - 01 - 20),
            vec![line(LineKind::Shipping, dec!(6.05), Standard)],
        ));
        assert_eq!(
            single(&c),
            (
                Regime::Domestic,
                dec!(21),
                dec!(5.00),
                dec!(1.05),
                dec!(6.05)
            )
        );
    }

    #[test]
    fn intra_community_supply_carries_ids_notes_and_code_k() {
        let c = run(&invoice(
            seller(true),
            business("DE", "de 123.456.789"),
            date!(2026 - 01 - 20),
            vec![
                goods(dec!(100.00), Standard),
                line(LineKind::Shipping, dec!(5.00), Standard),
            ],
        ));
        assert_eq!(c.regime, Regime::IntraCommunityReverseCharge);
        assert_eq!(c.buyer_vat_id.as_deref(), Some("DE123456789"));
        assert_eq!(c.vat_country, "NL");
        assert_eq!(c.per_rate[0].code, VatCode::K);
        assert_eq!(
            (c.total_net, c.total_vat, c.total_gross),
            (dec!(105.00), dec!(0), dec!(105.00))
        );
        assert_eq!(
            c.legal_notes,
            vec![LegalNote::IntraCommunitySupply, LegalNote::ReverseCharge]
        );
        assert_eq!(
            c.legal_notes[0].text(Lang::En),
            "Intra-Community supply, VAT exempt - Art. 138 Directive 2006/112/EC"
        );
        assert_eq!(c.legal_notes[1].text(Lang::Nl), "Btw verlegd");
        assert_eq!(
            c.legal_notes[1].text(Lang::De),
            "Steuerschuldnerschaft des Leistungsempfängers"
        );
    }

    #[test]
    fn legal_note_texts_in_three_languages() {
        let oss = LegalNote::OssUnionScheme {
            country: "FR".into(),
        };
        assert!(oss.text(Lang::En).contains("VAT of FR"));
        assert!(oss.text(Lang::Nl).contains("btw van FR"));
        assert!(oss.text(Lang::De).contains("Umsatzsteuer von FR"));
        assert!(
            LegalNote::IntraCommunitySupply
                .text(Lang::Nl)
                .starts_with("Intracommunautaire levering, 0%")
        );
        assert!(
            LegalNote::IntraCommunitySupply
                .text(Lang::De)
                .contains("innergemeinschaftliche Lieferung")
        );
        assert_eq!(LegalNote::ReverseCharge.text(Lang::En), "Reverse charge");
    }

    #[test]
    fn zero_rated_goods_get_code_z() {
        let c = run(&invoice(
            seller(true),
            consumer("IE"),
            date!(2026 - 01 - 20),
            vec![goods(dec!(15.00), Books)],
        ));
        assert_eq!(c.per_rate[0].code, VatCode::Z);
        assert_eq!(
            single(&c),
            (
                Regime::OssDestination,
                dec!(0),
                dec!(15.00),
                dec!(0),
                dec!(15.00)
            )
        );
    }

    #[test]
    fn unsupported_and_invalid_inputs_are_errors() {
        let day = date!(2026 - 01 - 20);
        let table = RateTable::builtin();
        let one = || vec![goods(dec!(10.00), Standard)];
        let err = |inv: Invoice| compute(&inv, &table).expect_err("must fail");
        for country in ["CH", "GB", "US", "NO", "XI", ""] {
            assert!(matches!(
                err(invoice(seller(true), consumer(country), day, one())),
                VatError::Unsupported(_)
            ));
        }
        let canary = Buyer {
            postal_code: Some("35001".into()),
            ..consumer("ES")
        };
        assert!(matches!(
            err(invoice(seller(true), canary, day, one())),
            VatError::Unsupported(_)
        ));
        let madrid = Buyer {
            postal_code: Some("28001".into()),
            ..consumer("ES")
        };
        assert!(compute(&invoice(seller(true), madrid, day, one()), &table).is_ok());
        let de_seller = Seller {
            country: "DE".into(),
            ..seller(true)
        };
        assert!(matches!(
            err(invoice(de_seller, consumer("NL"), day, one())),
            VatError::Unsupported(_)
        ));
        assert!(matches!(
            err(invoice(seller(true), consumer("NL"), day, vec![])),
            VatError::InvalidInput(_)
        ));
        assert!(matches!(
            err(invoice(
                seller(true),
                consumer("NL"),
                day,
                vec![goods(dec!(1.005), Standard)]
            )),
            VatError::InvalidAmount { line: 0, .. }
        ));
        assert!(matches!(
            err(invoice(
                seller(true),
                consumer("NL"),
                day,
                vec![goods(dec!(1e13), Standard)]
            )),
            VatError::InvalidAmount { .. }
        ));
        let mut bad_ref = line(LineKind::Shipping, dec!(1.00), Standard);
        bad_ref.belongs_to = Some(7);
        assert!(matches!(
            err(invoice(
                seller(true),
                consumer("NL"),
                day,
                vec![goods(dec!(1.00), Standard), bad_ref]
            )),
            VatError::InvalidInput(_)
        ));
        // No rate in the table: DK has no food rate, and dates past the horizon.
        assert!(matches!(
            err(invoice(
                seller(true),
                consumer("DK"),
                day,
                vec![goods(dec!(1.00), Reduced)]
            )),
            VatError::NoRate { .. }
        ));
        assert!(matches!(
            err(invoice(
                seller(true),
                consumer("NL"),
                date!(2028 - 02 - 01),
                one()
            )),
            VatError::NoRate { .. }
        ));
        // Goods of opposite sign per rate cannot carry a shared shipping charge.
        assert!(matches!(
            err(invoice(
                seller(true),
                consumer("NL"),
                day,
                vec![
                    goods(dec!(10.00), Standard),
                    goods(dec!(-4.00), Reduced),
                    line(LineKind::Shipping, dec!(2.00), Standard)
                ]
            )),
            VatError::Allocation { line: 2, .. }
        ));
    }

    #[test]
    fn vat_id_structure_per_country() {
        let valid = [
            "ATU12345678",
            "BE0123456789",
            "BE1234567890",
            "BG123456789",
            "BG1234567890",
            "CY12345678L",
            "CZ12345678",
            "CZ1234567890",
            "DE123456789",
            "DK12345678",
            "EE123456789",
            "EL123456789",
            "ESA1234567B",
            "ES12345678Z",
            "ESX12345678",
            "FI12345678",
            "FRXX123456789",
            "FR12123456789",
            "HR12345678901",
            "HU12345678",
            "IE1234567T",
            "IE1234567WA",
            "IE1A23456B",
            "IT12345678901",
            "LT123456789",
            "LT123456789012",
            "LU12345678",
            "LV12345678901",
            "MT12345678",
            "NL123456789B01",
            "PL1234567890",
            "PT123456789",
            "RO12",
            "RO1234567890",
            "SE123456789001",
            "SI12345678",
            "SK1234567890",
            "nl 1234.56789-b01",
        ];
        for id in valid {
            assert!(valid_eu_vat_id(id).is_some(), "{id} should look valid");
        }
        let invalid = [
            "",
            "DE",
            "DE12345678",
            "DE1234567890",
            "DEABCDEFGHI",
            "123456789",
            "AT12345678",
            "BE2123456789",
            "BE012345678",
            "NL123456789",
            "NL123456789X01",
            "FRIO123456789",
            "ES123456789",
            "GR123456789",
            "XI123456789",
            "GB123456789",
            "CHE123456789",
            "RO0123",
            "SI01234567",
            "IE1234567Z",
            "DE12345678٩",
            "ÄT12345678",
        ];
        for id in invalid {
            assert!(valid_eu_vat_id(id).is_none(), "{id} should be rejected");
        }
        assert_eq!(
            valid_eu_vat_id(" nl 1234.56789-b01 ").as_deref(),
            Some("NL123456789B01")
        );
    }

    #[test]
    fn compare_with_amazon_tolerates_one_cent() {
        let c = run(&invoice(
            seller(true),
            consumer("NL"),
            date!(2026 - 01 - 20),
            vec![goods(dec!(24.19), Standard)],
        ));
        assert!(compare_with_amazon(&c, dec!(4.20), dec!(24.19)).is_ok());
        assert!(compare_with_amazon(&c, dec!(4.19), dec!(24.20)).is_ok());
        let m = compare_with_amazon(&c, dec!(4.18), dec!(24.19)).expect_err("two cents");
        assert_eq!(
            m,
            Mismatch {
                ours_vat: dec!(4.20),
                amazon_vat: dec!(4.18),
                ours_gross: dec!(24.19),
                amazon_gross: dec!(24.19)
            }
        );
        assert!(m.to_string().contains("4.18"));
        assert!(compare_with_amazon(&c, dec!(4.20), dec!(24.21)).is_err());
        assert!(compare_with_amazon(&c, Decimal::MIN, Decimal::MAX).is_err());
    }

    fn mixed_order() -> Computation {
        run(&invoice(
            seller(true),
            consumer("DE"),
            date!(2026 - 01 - 20),
            vec![
                goods(dec!(21.40), Books),
                goods(dec!(35.70), Standard),
                line(LineKind::Shipping, dec!(4.99), Standard),
            ],
        ))
    }

    #[test]
    fn full_credit_note_negates_everything() {
        let original = mixed_order();
        let cn = credit_note(&original, &Refund::Full).expect("credit note");
        assert_invariants(&cn);
        assert_eq!(cn.document, DocumentKind::CreditNote);
        assert_eq!(cn.regime, original.regime);
        assert_eq!(cn.legal_notes, original.legal_notes);
        assert_eq!(
            (cn.total_net, cn.total_vat, cn.total_gross),
            (dec!(-54.37), dec!(-7.72), dec!(-62.09))
        );
        assert_eq!(cn.lines.len(), original.lines.len());
        for (a, b) in cn.lines.iter().zip(&original.lines) {
            assert_eq!(
                (a.source, a.rate, a.net, a.vat, a.gross),
                (b.source, b.rate, -b.net, -b.vat, -b.gross)
            );
        }
        for (a, b) in cn.per_rate.iter().zip(&original.per_rate) {
            assert_eq!(
                (a.rate, a.net, a.vat, a.gross),
                (b.rate, -b.net, -b.vat, -b.gross)
            );
        }
        assert!(matches!(
            credit_note(&cn, &Refund::Full),
            Err(VatError::InvalidInput(_))
        ));
    }

    #[test]
    fn partial_credit_note_keeps_rates() {
        // Refund the gadget (35.70 at 19 %) and the whole shipping (4.99 split 3.12 / 1.87).
        // 19 %: -(35.70 + 3.12) = -38.82; VAT -6.20; net -32.62.
        //  7 %: -1.87; VAT -1.87*7/107 = -0.1223 -> -0.12; net -1.75.
        let original = mixed_order();
        let cn = credit_note(
            &original,
            &Refund::Lines(vec![
                RefundLine {
                    source: 1,
                    quantity: 1,
                    gross: dec!(35.70),
                },
                RefundLine {
                    source: 2,
                    quantity: 1,
                    gross: dec!(4.99),
                },
            ]),
        )
        .expect("credit note");
        assert_invariants(&cn);
        let rates: Vec<_> = cn
            .per_rate
            .iter()
            .map(|t| (t.rate, t.net, t.vat, t.gross))
            .collect();
        assert_eq!(
            rates,
            vec![
                (dec!(19), dec!(-32.62), dec!(-6.20), dec!(-38.82)),
                (dec!(7), dec!(-1.75), dec!(-0.12), dec!(-1.87)),
            ]
        );
        assert!(cn.lines.iter().all(|l| l.source == 1 || l.source == 2));
        // Over-refund, wrong sign, unknown line.
        for bad in [
            RefundLine {
                source: 1,
                quantity: 1,
                gross: dec!(35.71),
            },
            RefundLine {
                source: 1,
                quantity: 1,
                gross: dec!(-1.00),
            },
            RefundLine {
                source: 1,
                quantity: 1,
                gross: dec!(0.001),
            },
        ] {
            assert!(matches!(
                credit_note(&original, &Refund::Lines(vec![bad])),
                Err(VatError::InvalidAmount { .. })
            ));
        }
        assert!(matches!(
            credit_note(
                &original,
                &Refund::Lines(vec![RefundLine {
                    source: 9,
                    quantity: 1,
                    gross: dec!(1)
                }])
            ),
            Err(VatError::InvalidInput(_))
        ));
        assert!(matches!(
            credit_note(&original, &Refund::Lines(vec![])),
            Err(VatError::InvalidInput(_))
        ));
    }

    #[test]
    fn computation_round_trips_through_json() {
        let c = mixed_order();
        let json = serde_json::to_string(&c).expect("serialises");
        assert!(json.contains(r#""supply_date":"2026-01-20""#), "{json}");
        assert!(json.contains(r#""total_vat":"7.72""#), "{json}");
        let back: Computation = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, c);
    }

    #[test]
    fn currencies_round_to_cents_and_seller_id_is_checked() {
        for c in [Currency::Eur, Currency::Pln, Currency::Sek, Currency::Gbp] {
            assert_eq!(c.minor_units(), 2, "the engine rounds to 2 places");
        }
        let bad = Seller {
            vat_id: "DE123456789".into(),
            ..seller(true)
        };
        assert!(matches!(
            regime(&bad, &consumer("NL")),
            Err(VatError::InvalidInput(_))
        ));
        assert_eq!(regime(&seller(true), &consumer("NL")), Ok(Regime::Domestic));
    }

    #[test]
    fn zero_quantity_has_no_unit_price() {
        let mut l = goods(dec!(24.19), Standard);
        l.quantity = 0;
        let c = run(&invoice(
            seller(true),
            consumer("NL"),
            date!(2026 - 01 - 20),
            vec![l],
        ));
        assert_eq!(c.lines[0].unit_net, None);
        let mut l = goods(dec!(24.19), Standard);
        l.quantity = 3;
        let c = run(&invoice(
            seller(true),
            consumer("NL"),
            date!(2026 - 01 - 20),
            vec![l],
        ));
        // 19.99 / 3 = 6.66333.. -> 6.6633
        assert_eq!(c.lines[0].unit_net, Some(dec!(6.6633)));
    }

    // ---------- property tests ----------

    fn cents(max: i64) -> impl Strategy<Value = Decimal> {
        (-max..=max).prop_map(|c| Decimal::new(c, 2))
    }

    /// Mostly plausible cent amounts (including zero, negative and near-cap ones), sometimes
    /// any decimal at all.
    fn arb_amount() -> impl Strategy<Value = Decimal> {
        prop_oneof![
            16 => cents(100_000),
            4 => cents(MAX_LINE_AMOUNT * 100),
            2 => Just(Decimal::ZERO),
            1 => (any::<i64>(), 0u32..12).prop_map(|(m, s)| Decimal::new(m, s)),
            1 => Just(Decimal::MAX),
        ]
    }

    fn table_rates() -> Vec<Decimal> {
        let mut rates: Vec<Decimal> = super::super::rates::builtin_entries()
            .iter()
            .map(|e| e.rate)
            .collect();
        rates.sort();
        rates.dedup();
        rates
    }

    fn arb_kind() -> impl Strategy<Value = LineKind> {
        prop_oneof![
            3 => Just(LineKind::Goods),
            1 => Just(LineKind::Shipping),
            1 => Just(LineKind::GiftWrap),
            1 => Just(LineKind::Discount),
        ]
    }

    fn arb_category() -> impl Strategy<Value = TaxCategory> {
        prop_oneof![
            Just(Standard),
            Just(Reduced),
            Just(Books),
            Just(TaxCategory::SuperReduced),
            Just(TaxCategory::Zero),
        ]
    }

    fn arb_lines() -> impl Strategy<Value = Vec<Line>> {
        prop::collection::vec(
            (
                arb_kind(),
                prop_oneof![4 => cents(10_000_000), 1 => cents(MAX_LINE_AMOUNT * 100)],
                arb_category(),
                0u32..5,
            ),
            1..8,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(kind, gross, category, quantity)| Line {
                    quantity,
                    ..line(kind, gross, category)
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn net_plus_vat_is_gross_for_every_table_rate(c in 1i64..=10_000_000, idx in 0usize..64) {
            let rates = table_rates();
            let rate = rates[idx % rates.len()];
            let gross = Decimal::new(c, 2);
            let vat = vat_from_gross(gross, rate);
            let net = gross - vat;
            prop_assert_eq!(net + vat, gross);
            prop_assert_eq!(vat.round_dp(2), vat);
            // Within half a cent of the exact VAT, and never more than the gross.
            let exact = gross * rate / (Decimal::ONE_HUNDRED + rate);
            prop_assert!((vat - exact).abs() <= dec!(0.005));
            prop_assert!(vat >= Decimal::ZERO && vat <= gross);
            // Symmetric for refunds.
            prop_assert_eq!(vat_from_gross(-gross, rate), -vat);
        }

        #[test]
        fn apportion_assigns_every_cent(target in cents(10_000_000), ws in prop::collection::vec(0i64..1_000_000, 1..10)) {
            let total: i64 = ws.iter().sum();
            prop_assume!(total > 0);
            let total = Decimal::from(total);
            let exacts: Vec<Decimal> = ws.iter().map(|w| target * (Decimal::from(*w) / total)).collect();
            let parts = apportion(target, &exacts);
            prop_assert_eq!(parts.iter().copied().sum::<Decimal>(), target);
            for (p, e) in parts.iter().zip(&exacts) {
                prop_assert_eq!(p.round_dp(2), *p);
                prop_assert!((*p - *e).abs() < dec!(0.01));
            }
        }

        #[test]
        fn computed_documents_hold_the_invariants(
            lines in arb_lines(),
            oss in any::<bool>(),
            country in prop::sample::select(vec!["NL", "DE", "FR", "BE", "IT", "ES", "SE", "PL", "IE", "LU"]),
            business_id in prop::option::of(prop::sample::select(vec!["DE123456789", "NL123456789B01", "FR12123456789", "bogus"])),
            confirmed in any::<bool>(),
            day in 0i64..1900,
        ) {
            let day = super::super::rates::COVERAGE_START + time::Duration::days(day);
            let buyer = Buyer { country: country.into(), postal_code: None, is_business: business_id.is_some(), vat_id: business_id.map(Into::into), vat_id_confirmed: confirmed };
            let inv = invoice(seller(oss), buyer, day, lines.clone());
            if let Ok(c) = compute(&inv, &RateTable::builtin()) {
                assert_invariants(&c);
                // Every input line is fully accounted for across its rate shares.
                for (i, l) in lines.iter().enumerate() {
                    let sum: Decimal = c.lines.iter().filter(|x| x.source == i).map(|x| x.gross).sum();
                    prop_assert_eq!(sum, l.gross, "line {}", i);
                }
                let input_total: Decimal = lines.iter().map(|l| l.gross).sum();
                prop_assert_eq!(c.total_gross, input_total);
                let full = credit_note(&c, &Refund::Full).expect("full credit");
                assert_invariants(&full);
                prop_assert_eq!(full.total_gross, -c.total_gross);
                prop_assert_eq!(full.total_vat, -c.total_vat);
                // A partial credit of each line's full amount gives the same rate totals.
                let refunds: Vec<RefundLine> = lines.iter().enumerate()
                    .map(|(i, l)| RefundLine { source: i, quantity: l.quantity, gross: l.gross })
                    .collect();
                let partial = credit_note(&c, &Refund::Lines(refunds)).expect("partial credit");
                assert_invariants(&partial);
                prop_assert_eq!(partial.total_gross, -c.total_gross);
                prop_assert_eq!(partial.total_vat, -c.total_vat);
            }
        }

        #[test]
        fn no_panic_on_any_input(
            raw in prop::collection::vec((arb_kind(), arb_amount(), arb_category(), any::<u32>(), prop_oneof![30 => Just(None), 1 => (0usize..12).prop_map(Some)]), 0..12),
            country in prop_oneof![4 => prop::sample::select(vec!["NL", "DE", "FR", "IE", "DK", "ES", "SE"]).prop_map(String::from), 1 => "[A-Za-z]{0,3}"],
            postal in prop::option::of("[0-9A-Z ]{0,6}"),
            vat_id in prop::option::of(prop_oneof![Just("DE123456789".to_string()), "[A-Z0-9 .-]{0,16}"]),
            is_business in any::<bool>(),
            vat_id_confirmed in any::<bool>(),
            oss in any::<bool>(),
            day in prop_oneof![3 => 0i64..2100, 1 => -100_000i64..100_000],
            refund in prop::collection::vec((0usize..12, arb_amount()), 0..4),
        ) {
            let lines: Vec<Line> = raw.into_iter().map(|(kind, gross, category, quantity, belongs_to)| Line {
                kind,
                description: String::new(),
                sku: None,
                quantity,
                gross,
                category,
                belongs_to,
            }).collect();
            let day = super::super::rates::COVERAGE_START.checked_add(time::Duration::days(day)).unwrap_or(Date::MIN);
            let buyer = Buyer { country, postal_code: postal, vat_id, is_business, vat_id_confirmed };
            let inv = invoice(seller(oss), buyer, day, lines);
            if let Ok(c) = compute(&inv, &RateTable::builtin()) {
                assert_invariants(&c);
                let full = credit_note(&c, &Refund::Full).expect("full credit of an invoice");
                assert_invariants(&full);
                let refunds = refund.into_iter().map(|(source, gross)| RefundLine { source, quantity: 1, gross }).collect();
                if let Ok(partial) = credit_note(&c, &Refund::Lines(refunds)) {
                    assert_invariants(&partial);
                }
                let _ = compare_with_amazon(&c, Decimal::MAX, Decimal::MIN);
            }
        }
    }
}
