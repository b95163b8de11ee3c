//! From a stored order to what the VAT engine and the renderer need, and the document
//! numbers (issue #6). Pure: rows in, values out, no I/O and no clock.
//!
//! This module owns: turning an order's item rows (Amazon's VAT-inclusive ITEM, SHIPPING,
//! GIFT_WRAP and DISCOUNT proceeds) into engine lines, each charge tied to the goods line of
//! its own item (`belongs_to`), so that it takes that item's rate exactly as Amazon does;
//! picking the tax category per SKU; reading Amazon's own totals (Σ TAX and the grand
//! total) for the cross-check; the seller and customer blocks of the document; the
//! marketplace and country names printed; and the number format `PREFIX-YEAR-000123`.
//!
//! A refusal is a fixed reason code (plus an optional detail made of amounts, codes and
//! dates, never of personal data), recorded in `order_issues` by the command.

use std::collections::BTreeMap;
use std::str::FromStr as _;

use rust_decimal::Decimal;
use time::Date;

use super::rates::TaxCategory;
use super::render::{BuyerBlock, SellerBlock};
use super::vat::{Buyer, Currency, Invoice, Lang, Line, LineKind, Seller};
use crate::config::SellerSection;
use crate::store::orders::{ItemRow, PiiRow};
use crate::zone::SellerZone;

/// The anonymous facts of an order that an invoice is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFacts {
    pub order_id: String,
    pub marketplace_id: String,
    pub is_business: bool,
    pub currency: Option<String>,
    pub grand_total: Option<String>,
    pub destination_country: Option<String>,
    /// When the goods were dispatched (RFC 3339): the date of supply.
    pub fulfilled_at: Option<String>,
    pub items: Vec<ItemRow>,
}

/// Why an order gets no document this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A fixed code, e.g. `no_buyer_data`.
    pub reason: &'static str,
    /// Amounts, codes or dates that explain it; never personal data.
    pub detail: Option<String>,
}

impl Refusal {
    pub fn new(reason: &'static str) -> Self {
        Self {
            reason,
            detail: None,
        }
    }

    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Amazon's own figures for an order, to compare ours with before issuing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmazonTotals {
    pub vat: Decimal,
    pub gross: Decimal,
}

/// The engine's input for one order plus Amazon's totals (when Amazon sent a TAX block).
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub invoice: Invoice,
    pub amazon: Option<AmazonTotals>,
    /// The document's language (issue #17: the marketplace's, unless configured).
    pub lang: Lang,
}

/// The document currency of an ISO code, if the engine supports it.
pub fn currency(code: &str) -> Option<Currency> {
    match code.trim().to_ascii_uppercase().as_str() {
        "EUR" => Some(Currency::Eur),
        "PLN" => Some(Currency::Pln),
        "SEK" => Some(Currency::Sek),
        "GBP" => Some(Currency::Gbp),
        _ => None,
    }
}

/// The ISO code of a document currency.
pub fn currency_code(c: Currency) -> &'static str {
    match c {
        Currency::Eur => "EUR",
        Currency::Pln => "PLN",
        Currency::Sek => "SEK",
        Currency::Gbp => "GBP",
    }
}

fn amount(s: Option<&String>) -> Result<Option<Decimal>, Refusal> {
    match s {
        None => Ok(None),
        Some(t) => {
            let d = Decimal::from_str(t.trim()).map_err(|_| Refusal::new("bad_amount"))?;
            if d.round_dp(2) != d {
                return Err(Refusal::new("bad_amount").detail(format!("{d} is not whole cents")));
            }
            Ok(Some(d))
        }
    }
}

/// The date of supply: the seller's day (in `zone`) on which the order was dispatched,
/// never the UTC day (issue #15).
pub fn supply_date(facts: &OrderFacts, zone: &SellerZone) -> Result<Date, Refusal> {
    let at = facts
        .fulfilled_at
        .as_deref()
        .ok_or_else(|| Refusal::new("not_shipped"))?;
    crate::clock::parse_rfc3339(at)
        .map(|t| zone.date(t))
        .map_err(|_| Refusal::new("bad_timestamp"))
}

fn charge_text(kind: LineKind, lang: Lang) -> &'static str {
    let row: [&str; 8] = match kind {
        LineKind::Shipping => [
            "Shipping",
            "Verzendkosten",
            "Versandkosten",
            "Frais de port",
            "Spese di spedizione",
            "Gastos de envío",
            "Frakt",
            "Koszty wysyłki",
        ],
        LineKind::GiftWrap => [
            "Gift wrap",
            "Cadeauverpakking",
            "Geschenkverpackung",
            "Emballage cadeau",
            "Confezione regalo",
            "Envoltorio para regalo",
            "Presentinslagning",
            "Opakowanie prezentowe",
        ],
        LineKind::Discount => [
            "Promotion discount",
            "Promotiekorting",
            "Aktionsrabatt",
            "Remise promotionnelle",
            "Sconto promozionale",
            "Descuento promocional",
            "Kampanjrabatt",
            "Rabat promocyjny",
        ],
        LineKind::Goods => [
            "Item",
            "Artikel",
            "Artikel",
            "Article",
            "Articolo",
            "Artículo",
            "Artikel",
            "Artykuł",
        ],
    };
    row[lang.index()]
}

/// Builds the engine's input for an order: one goods line per item and one line per
/// charge, each charge belonging to its item's goods line.
///
/// # Errors
/// A [`Refusal`] when the order lacks what an invoice needs (destination, currency,
/// amounts, items) or carries a charge fulfil cannot place.
pub fn prepare(
    facts: &OrderFacts,
    pii: Option<&PiiRow>,
    seller: &Seller,
    categories: &BTreeMap<String, TaxCategory>,
    lang: Lang,
    zone: &SellerZone,
) -> Result<Prepared, Refusal> {
    let supply = supply_date(facts, zone)?;
    let country = facts
        .destination_country
        .clone()
        .or_else(|| pii.and_then(|p| p.country_code.clone()))
        .ok_or_else(|| Refusal::new("no_destination"))?;
    let code = facts
        .currency
        .clone()
        .or_else(|| facts.items.iter().find_map(|i| i.currency.clone()))
        .ok_or_else(|| Refusal::new("no_currency"))?;
    let cur =
        currency(&code).ok_or_else(|| Refusal::new("unsupported_currency").detail(code.clone()))?;
    if facts.items.is_empty() {
        return Err(Refusal::new("no_items"));
    }
    let mut lines = Vec::with_capacity(facts.items.len() * 2);
    let mut tax: Option<Decimal> = None;
    let mut proceeds: Option<Decimal> = None;
    for item in &facts.items {
        if item
            .other_amount
            .as_ref()
            .is_some_and(|o| Decimal::from_str(o.trim()).map_or(true, |d| !d.is_zero()))
        {
            return Err(Refusal::new("unknown_charge").detail(format!(
                "item {} has a proceeds type fulfil does not invoice",
                item.order_item_id
            )));
        }
        if item
            .currency
            .as_deref()
            .is_some_and(|c| currency(c) != Some(cur))
        {
            return Err(Refusal::new("mixed_currencies"));
        }
        let goods = amount(item.item_amount.as_ref())?;
        let charges = [
            (LineKind::Shipping, amount(item.shipping_amount.as_ref())?),
            (LineKind::GiftWrap, amount(item.gift_wrap_amount.as_ref())?),
            (LineKind::Discount, amount(item.discount_amount.as_ref())?),
        ];
        let quantity = u32::try_from(item.quantity).map_err(|_| Refusal::new("bad_quantity"))?;
        let Some(goods) = goods else {
            if quantity == 0 && charges.iter().all(|(_, a)| a.is_none_or(|d| d.is_zero())) {
                // An item Amazon lists without quantity or money (e.g. removed): nothing to bill.
                continue;
            }
            return Err(Refusal::new("missing_amounts")
                .detail(format!("item {} has no ITEM amount", item.order_item_id)));
        };
        if let Some(t) = amount(item.tax_amount.as_ref())? {
            tax = Some(tax.unwrap_or_default() + t);
        }
        if let Some(p) = amount(item.proceeds_total.as_ref())? {
            proceeds = Some(proceeds.unwrap_or_default() + p);
        }
        let category = item
            .seller_sku
            .as_ref()
            .and_then(|s| categories.get(s).copied())
            .unwrap_or(TaxCategory::Standard);
        let description = text(item.title.as_ref())
            .or_else(|| text(item.seller_sku.as_ref()))
            .unwrap_or_else(|| charge_text(LineKind::Goods, lang).to_string());
        let goods_index = lines.len();
        lines.push(Line {
            kind: LineKind::Goods,
            description,
            sku: item.seller_sku.clone(),
            quantity,
            gross: goods,
            category,
            belongs_to: None,
        });
        for (kind, value) in charges {
            if let Some(v) = value.filter(|v| !v.is_zero()) {
                lines.push(Line {
                    kind,
                    description: charge_text(kind, lang).to_string(),
                    sku: None,
                    quantity: 1,
                    gross: v,
                    category,
                    belongs_to: Some(goods_index),
                });
            }
        }
    }
    if lines.is_empty() {
        return Err(Refusal::new("no_items"));
    }
    let grand = amount(facts.grand_total.as_ref())?.or(proceeds);
    let amazon = match (tax, grand) {
        (Some(vat), Some(gross)) => Some(AmazonTotals { vat, gross }),
        _ => None,
    };
    let vat_id = if facts.is_business {
        pii.and_then(|p| p.buyer_vat_id.clone())
    } else {
        None
    };
    Ok(Prepared {
        invoice: Invoice {
            seller: seller.clone(),
            buyer: Buyer {
                country,
                postal_code: pii.and_then(|p| p.postal_code.clone()),
                vat_id,
                is_business: facts.is_business,
                // Set by the command once VIES confirmed the number (issue #14).
                vat_id_confirmed: false,
            },
            supply_date: supply,
            currency: cur,
            lines,
        },
        amazon,
        lang,
    })
}

/// The printable text of a field, or `None` when it has nothing sensible (issue #15,
/// item 6: control, format and private-use characters are never printed).
fn text(v: Option<&String>) -> Option<String> {
    v.and_then(|s| crate::printable::sensible(s))
}

/// Whether a field holds anything at all, printable or not.
fn given(v: Option<&String>) -> bool {
    v.is_some_and(|s| !s.trim().is_empty())
}

/// The customer block: the buyer's name (else the recipient's, else the company), the
/// company for business buyers, and the delivery address, which is the only address
/// Amazon gives a seller.
///
/// # Errors
/// `no_buyer_data` without personal data; `no_buyer_address` without an address.
pub fn buyer_block(
    pii: Option<&PiiRow>,
    is_business: bool,
    lang: Lang,
) -> Result<BuyerBlock, Refusal> {
    let p = pii.ok_or_else(|| Refusal::new("no_buyer_data"))?;
    // A name or an address that was given but has nothing printable left.
    let unprintable = |fields: &[&Option<String>]| {
        if fields.iter().any(|f| given(f.as_ref())) {
            Refusal::new(crate::printable::UNPRINTABLE)
        } else {
            Refusal::new("no_buyer_data")
        }
    };
    let company = text(p.buyer_company.as_ref()).or_else(|| text(p.recipient_company.as_ref()));
    let name = text(p.buyer_name.as_ref())
        .or_else(|| text(p.recipient_name.as_ref()))
        .or_else(|| company.clone())
        .ok_or_else(|| {
            unprintable(&[
                &p.buyer_name,
                &p.recipient_name,
                &p.buyer_company,
                &p.recipient_company,
            ])
        })?;
    let lines = [&p.address_line1, &p.address_line2, &p.address_line3];
    let mut address_lines: Vec<String> =
        lines.into_iter().filter_map(|l| text(l.as_ref())).collect();
    if address_lines.is_empty() && lines.iter().any(|l| given(l.as_ref())) {
        return Err(Refusal::new(crate::printable::UNPRINTABLE));
    }
    let town = [text(p.postal_code.as_ref()), text(p.city.as_ref())]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !town.is_empty() {
        address_lines.push(town);
    }
    if let Some(region) = text(p.state_region.as_ref()) {
        address_lines.push(region);
    }
    if address_lines.is_empty() {
        return Err(Refusal::new("no_buyer_address"));
    }
    let country = p
        .country_code
        .as_deref()
        .map_or_else(String::new, |c| country_name(c, lang));
    Ok(BuyerBlock {
        name,
        company: if is_business { company } else { None },
        address_lines,
        country,
        vat_id: None,
    })
}

/// The supplier block from `[seller]`.
///
/// # Errors
/// The config key that is missing.
pub fn seller_block(s: &SellerSection, lang: Lang) -> Result<SellerBlock, &'static str> {
    let need = |v: &Option<String>, key: &'static str| text(v.as_ref()).ok_or(key);
    let legal_name = text(s.legal_name.as_ref())
        .or_else(|| text(s.company.as_ref()))
        .or_else(|| text(s.name.as_ref()))
        .ok_or("seller.legal_name")?;
    let street = need(&s.street, "seller.street")?;
    let house = [text(s.house_nr.as_ref()), text(s.house_nr_ext.as_ref())]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let line1 = if house.is_empty() {
        street
    } else {
        format!("{street} {house}")
    };
    let line2 = format!(
        "{} {}",
        need(&s.zipcode, "seller.zipcode")?,
        need(&s.city, "seller.city")?
    );
    let country = text(s.country.as_ref()).unwrap_or_else(|| "NL".into());
    Ok(SellerBlock {
        legal_name,
        address_lines: vec![line1, line2],
        country: country_name(&country, lang),
        vat_id: need(&s.vat_id, "seller.vat_id")?,
        chamber_of_commerce: text(s.kvk.as_ref()),
        email: need(&s.email, "seller.email")?,
    })
}

/// `PREFIX-YEAR-000123`: six digits, more once a year passes 999,999 documents.
pub fn document_number(prefix: &str, year: i32, seq: i64) -> String {
    format!("{prefix}-{year}-{seq:06}")
}

/// Amazon's EU and nearby marketplaces: id, storefront, country (NOTES.md §4).
const MARKETPLACES: [(&str, &str, &str); 11] = [
    ("A1805IZSGTT6HS", "amazon.nl", "NL"),
    ("A1PA6795UKMFR9", "amazon.de", "DE"),
    ("AMEN7PMS3EDWL", "amazon.com.be", "BE"),
    ("A13V1IB3VIYZZH", "amazon.fr", "FR"),
    ("APJ6JRA9NG5V4", "amazon.it", "IT"),
    ("A1RKKUPIHCS9HS", "amazon.es", "ES"),
    ("A2NODRKZP88ZB9", "amazon.se", "SE"),
    ("A1C3SOZRARQ6R3", "amazon.pl", "PL"),
    ("A28R8C7NBKEWEA", "amazon.ie", "IE"),
    ("A1F83G8C2ARO7P", "amazon.co.uk", "GB"),
    ("A33AVAJ2PDY3EV", "amazon.com.tr", "TR"),
];

/// The storefront printed for a marketplace id (the id itself when unknown).
pub fn marketplace_name(id: &str) -> String {
    MARKETPLACES
        .iter()
        .find(|(m, _, _)| *m == id)
        .map_or_else(|| id.to_string(), |(_, name, _)| (*name).to_string())
}

/// Country names in every document language, in the order of [`Lang::ALL`] (EU member
/// states and the UK).
const COUNTRIES: [(&str, [&str; 8]); 28] = [
    (
        "AT",
        [
            "Austria",
            "Oostenrijk",
            "Österreich",
            "Autriche",
            "Austria",
            "Austria",
            "Österrike",
            "Austria",
        ],
    ),
    (
        "BE",
        [
            "Belgium", "België", "Belgien", "Belgique", "Belgio", "Bélgica", "Belgien", "Belgia",
        ],
    ),
    (
        "BG",
        [
            "Bulgaria",
            "Bulgarije",
            "Bulgarien",
            "Bulgarie",
            "Bulgaria",
            "Bulgaria",
            "Bulgarien",
            "Bułgaria",
        ],
    ),
    (
        "CY",
        [
            "Cyprus", "Cyprus", "Zypern", "Chypre", "Cipro", "Chipre", "Cypern", "Cypr",
        ],
    ),
    (
        "CZ",
        [
            "Czechia",
            "Tsjechië",
            "Tschechien",
            "Tchéquie",
            "Cechia",
            "Chequia",
            "Tjeckien",
            "Czechy",
        ],
    ),
    (
        "DE",
        [
            "Germany",
            "Duitsland",
            "Deutschland",
            "Allemagne",
            "Germania",
            "Alemania",
            "Tyskland",
            "Niemcy",
        ],
    ),
    (
        "DK",
        [
            "Denmark",
            "Denemarken",
            "Dänemark",
            "Danemark",
            "Danimarca",
            "Dinamarca",
            "Danmark",
            "Dania",
        ],
    ),
    (
        "EE",
        [
            "Estonia", "Estland", "Estland", "Estonie", "Estonia", "Estonia", "Estland", "Estonia",
        ],
    ),
    (
        "ES",
        [
            "Spain",
            "Spanje",
            "Spanien",
            "Espagne",
            "Spagna",
            "España",
            "Spanien",
            "Hiszpania",
        ],
    ),
    (
        "FI",
        [
            "Finland",
            "Finland",
            "Finnland",
            "Finlande",
            "Finlandia",
            "Finlandia",
            "Finland",
            "Finlandia",
        ],
    ),
    (
        "FR",
        [
            "France",
            "Frankrijk",
            "Frankreich",
            "France",
            "Francia",
            "Francia",
            "Frankrike",
            "Francja",
        ],
    ),
    (
        "GR",
        [
            "Greece",
            "Griekenland",
            "Griechenland",
            "Grèce",
            "Grecia",
            "Grecia",
            "Grekland",
            "Grecja",
        ],
    ),
    (
        "HR",
        [
            "Croatia",
            "Kroatië",
            "Kroatien",
            "Croatie",
            "Croazia",
            "Croacia",
            "Kroatien",
            "Chorwacja",
        ],
    ),
    (
        "HU",
        [
            "Hungary",
            "Hongarije",
            "Ungarn",
            "Hongrie",
            "Ungheria",
            "Hungría",
            "Ungern",
            "Węgry",
        ],
    ),
    (
        "IE",
        [
            "Ireland", "Ierland", "Irland", "Irlande", "Irlanda", "Irlanda", "Irland", "Irlandia",
        ],
    ),
    (
        "IT",
        [
            "Italy", "Italië", "Italien", "Italie", "Italia", "Italia", "Italien", "Włochy",
        ],
    ),
    (
        "LT",
        [
            "Lithuania",
            "Litouwen",
            "Litauen",
            "Lituanie",
            "Lituania",
            "Lituania",
            "Litauen",
            "Litwa",
        ],
    ),
    (
        "LU",
        [
            "Luxembourg",
            "Luxemburg",
            "Luxemburg",
            "Luxembourg",
            "Lussemburgo",
            "Luxemburgo",
            "Luxemburg",
            "Luksemburg",
        ],
    ),
    (
        "LV",
        [
            "Latvia", "Letland", "Lettland", "Lettonie", "Lettonia", "Letonia", "Lettland", "Łotwa",
        ],
    ),
    (
        "MT",
        [
            "Malta", "Malta", "Malta", "Malte", "Malta", "Malta", "Malta", "Malta",
        ],
    ),
    (
        "NL",
        [
            "Netherlands",
            "Nederland",
            "Niederlande",
            "Pays-Bas",
            "Paesi Bassi",
            "Países Bajos",
            "Nederländerna",
            "Holandia",
        ],
    ),
    (
        "PL",
        [
            "Poland", "Polen", "Polen", "Pologne", "Polonia", "Polonia", "Polen", "Polska",
        ],
    ),
    (
        "PT",
        [
            "Portugal",
            "Portugal",
            "Portugal",
            "Portugal",
            "Portogallo",
            "Portugal",
            "Portugal",
            "Portugalia",
        ],
    ),
    (
        "RO",
        [
            "Romania",
            "Roemenië",
            "Rumänien",
            "Roumanie",
            "Romania",
            "Rumanía",
            "Rumänien",
            "Rumunia",
        ],
    ),
    (
        "SE",
        [
            "Sweden", "Zweden", "Schweden", "Suède", "Svezia", "Suecia", "Sverige", "Szwecja",
        ],
    ),
    (
        "SI",
        [
            "Slovenia",
            "Slovenië",
            "Slowenien",
            "Slovénie",
            "Slovenia",
            "Eslovenia",
            "Slovenien",
            "Słowenia",
        ],
    ),
    (
        "SK",
        [
            "Slovakia",
            "Slowakije",
            "Slowakei",
            "Slovaquie",
            "Slovacchia",
            "Eslovaquia",
            "Slovakien",
            "Słowacja",
        ],
    ),
    (
        "GB",
        [
            "United Kingdom",
            "Verenigd Koninkrijk",
            "Vereinigtes Königreich",
            "Royaume-Uni",
            "Regno Unito",
            "Reino Unido",
            "Storbritannien",
            "Wielka Brytania",
        ],
    ),
];

/// The country's name in `lang`; the code itself when it is not in the list.
pub fn country_name(code: &str, lang: Lang) -> String {
    let c = code.trim().to_ascii_uppercase();
    let c = if c == "EL" { "GR".to_string() } else { c };
    COUNTRIES
        .iter()
        .find(|row| row.0 == c)
        .map_or(c.clone(), |row| row.1[lang.index()].to_string())
}

/// Why a credit note is issued, as printed.
pub fn cancellation_reason(lang: Lang) -> &'static str {
    [
        "Order cancelled",
        "Bestelling geannuleerd",
        "Bestellung storniert",
        "Commande annulée",
        "Ordine annullato",
        "Pedido cancelado",
        "Beställningen avbruten",
        "Zamówienie anulowane",
    ][lang.index()]
}

/// Why a credit note for a refund is issued, as printed (issue #17).
pub fn refund_reason(lang: Lang) -> &'static str {
    [
        "Refund",
        "Terugbetaling",
        "Erstattung",
        "Remboursement",
        "Rimborso",
        "Reembolso",
        "Återbetalning",
        "Zwrot płatności",
    ][lang.index()]
}

/// The language of a marketplace's documents (`invoices.language = "marketplace"`, issue
/// #17): Amazon.nl Dutch, .de German, .fr French, .it Italian, .es Spanish, .se Swedish,
/// .pl Polish; Amazon.com.be Dutch or French by the delivery postcode (Flanders 1500–3999
/// and 8000–9999 Dutch; Brussels and Wallonia French); every other marketplace English.
pub fn marketplace_language(marketplace_id: &str, postal_code: Option<&str>) -> Lang {
    match marketplace_id {
        "A1805IZSGTT6HS" => Lang::Nl,
        "A1PA6795UKMFR9" => Lang::De,
        "A13V1IB3VIYZZH" => Lang::Fr,
        "APJ6JRA9NG5V4" => Lang::It,
        "A1RKKUPIHCS9HS" => Lang::Es,
        "A2NODRKZP88ZB9" => Lang::Sv,
        "A1C3SOZRARQ6R3" => Lang::Pl,
        "AMEN7PMS3EDWL" => {
            let code: Option<u32> = postal_code
                .map(|p| p.chars().filter(char::is_ascii_digit).collect::<String>())
                .and_then(|d| d.get(..4).and_then(|d| d.parse().ok()));
            // Without a postcode, Dutch: the language of most of Amazon.com.be's buyers.
            match code {
                Some(1000..=1499 | 4000..=7999) => Lang::Fr,
                _ => Lang::Nl,
            }
        }
        _ => Lang::En,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::rates::RateTable;
    use crate::invoice::vat::{Regime, compare_with_amazon, compute};
    use rust_decimal_macros::dec;

    fn item(id: &str, sku: &str, qty: i64) -> ItemRow {
        ItemRow {
            order_item_id: id.into(),
            seller_sku: Some(sku.into()),
            asin: None,
            title: Some(format!("Product {sku}")),
            quantity: qty,
            quantity_shipped: None,
            unit_price: None,
            currency: Some("EUR".into()),
            item_amount: None,
            shipping_amount: None,
            gift_wrap_amount: None,
            discount_amount: None,
            tax_amount: None,
            other_amount: None,
            proceeds_total: None,
        }
    }

    fn seller() -> Seller {
        Seller {
            country: "NL".into(),
            vat_id: "NL000099998B57".into(),
            oss: true,
        }
    }

    fn facts(country: &str, items: Vec<ItemRow>) -> OrderFacts {
        OrderFacts {
            order_id: "028-1234567-1234567".into(),
            marketplace_id: "A1PA6795UKMFR9".into(),
            is_business: false,
            currency: Some("EUR".into()),
            grand_total: None,
            destination_country: Some(country.into()),
            fulfilled_at: Some("2026-09-14T16:30:00Z".into()),
            items,
        }
    }

    #[test]
    fn charges_follow_their_own_items_rate_as_amazon_does() {
        // DE consumer, OSS. Book 21.40 (7 %) with shipping 3.95; mug 12.95 (19 %) with a
        // discount of -1.30. Amazon's TAX per item: book (21.40 + 3.95) * 7/107 = 1.658..
        // -> 1.66; mug (12.95 - 1.30) * 19/119 = 1.860.. -> 1.86. Grand total 25.35 + 11.65.
        let mut book = item("1", "BOOK-1", 1);
        book.item_amount = Some("21.40".into());
        book.shipping_amount = Some("3.95".into());
        book.tax_amount = Some("1.66".into());
        book.proceeds_total = Some("25.35".into());
        let mut mug = item("2", "MUG-1", 1);
        mug.item_amount = Some("12.95".into());
        mug.discount_amount = Some("-1.30".into());
        mug.tax_amount = Some("1.86".into());
        mug.proceeds_total = Some("11.65".into());
        let mut f = facts("DE", vec![book, mug]);
        f.grand_total = Some("37.00".into());
        let cats = BTreeMap::from([("BOOK-1".to_string(), TaxCategory::Books)]);
        let p = prepare(
            &f,
            None,
            &seller(),
            &cats,
            Lang::En,
            &SellerZone::amsterdam(),
        )
        .unwrap();
        assert_eq!(p.invoice.lines.len(), 4);
        assert_eq!(p.invoice.lines[1].belongs_to, Some(0));
        assert_eq!(p.invoice.lines[3].belongs_to, Some(2));
        assert_eq!(p.invoice.lines[3].description, "Promotion discount");
        assert_eq!(p.invoice.supply_date, time::macros::date!(2026 - 09 - 14));
        let amazon = p.amazon.unwrap();
        assert_eq!(
            amazon,
            AmazonTotals {
                vat: dec!(3.52),
                gross: dec!(37.00)
            }
        );
        let c = compute(&p.invoice, &RateTable::builtin()).unwrap();
        assert_eq!(c.regime, Regime::OssDestination);
        assert_eq!(c.total_vat, dec!(3.52));
        assert_eq!(c.total_gross, dec!(37.00));
        compare_with_amazon(&c, amazon.vat, amazon.gross).unwrap();
    }

    #[test]
    fn refusals_name_what_is_missing() {
        let mut i = item("1", "X", 1);
        i.item_amount = Some("10.00".into());
        let mut f = facts("NL", vec![i.clone()]);
        f.fulfilled_at = None;
        let cats = BTreeMap::new();
        let err = |f: &OrderFacts| {
            prepare(
                f,
                None,
                &seller(),
                &cats,
                Lang::En,
                &SellerZone::amsterdam(),
            )
            .unwrap_err()
            .reason
        };
        assert_eq!(err(&f), "not_shipped");
        let mut f = facts("NL", vec![i.clone()]);
        f.currency = Some("USD".into());
        f.items[0].currency = None;
        assert_eq!(err(&f), "unsupported_currency");
        let mut f = facts("NL", vec![i.clone()]);
        f.destination_country = None;
        assert_eq!(err(&f), "no_destination");
        let mut j = i.clone();
        j.item_amount = Some("10.001".into());
        assert_eq!(err(&facts("NL", vec![j])), "bad_amount");
        let mut j = i.clone();
        j.item_amount = None;
        assert_eq!(err(&facts("NL", vec![j])), "missing_amounts");
        let mut j = i;
        j.other_amount = Some("1.00".into());
        assert_eq!(err(&facts("NL", vec![j])), "unknown_charge");
        assert_eq!(err(&facts("NL", vec![])), "no_items");
    }

    #[test]
    fn business_vat_number_is_used_only_for_business_orders() {
        let mut i = item("1", "X", 2);
        i.item_amount = Some("100.00".into());
        let pii = PiiRow {
            buyer_vat_id: Some("DE123456789".into()),
            ..PiiRow::default()
        };
        let mut f = facts("DE", vec![i]);
        let p = prepare(
            &f,
            Some(&pii),
            &seller(),
            &BTreeMap::new(),
            Lang::En,
            &SellerZone::amsterdam(),
        )
        .unwrap();
        assert_eq!(p.invoice.buyer.vat_id, None);
        f.is_business = true;
        let p = prepare(
            &f,
            Some(&pii),
            &seller(),
            &BTreeMap::new(),
            Lang::En,
            &SellerZone::amsterdam(),
        )
        .unwrap();
        assert_eq!(p.invoice.buyer.vat_id.as_deref(), Some("DE123456789"));
        // Unconfirmed by VIES (issue #14), it is a consumer sale...
        let c = compute(&p.invoice, &RateTable::builtin()).unwrap();
        assert_eq!(c.regime, Regime::OssDestination);
        // ...and exempt once the command has VIES's confirmation.
        let mut invoice = p.invoice;
        invoice.buyer.vat_id_confirmed = true;
        let c = compute(&invoice, &RateTable::builtin()).unwrap();
        assert_eq!(c.regime, Regime::IntraCommunityReverseCharge);
        assert_eq!(c.total_vat, dec!(0));
    }

    #[test]
    fn documents_speak_the_marketplaces_language() {
        let cases = [
            ("A1805IZSGTT6HS", None, Lang::Nl),
            ("A1PA6795UKMFR9", None, Lang::De),
            ("A13V1IB3VIYZZH", None, Lang::Fr),
            ("APJ6JRA9NG5V4", None, Lang::It),
            ("A1RKKUPIHCS9HS", None, Lang::Es),
            ("A2NODRKZP88ZB9", None, Lang::Sv),
            ("A1C3SOZRARQ6R3", None, Lang::Pl),
            // Amazon.com.be: Flanders Dutch, Brussels and Wallonia French.
            ("AMEN7PMS3EDWL", Some("2000"), Lang::Nl),
            ("AMEN7PMS3EDWL", Some("B-9000"), Lang::Nl),
            ("AMEN7PMS3EDWL", Some("1000"), Lang::Fr),
            ("AMEN7PMS3EDWL", Some("4000"), Lang::Fr),
            ("AMEN7PMS3EDWL", None, Lang::Nl),
            ("A28R8C7NBKEWEA", None, Lang::En),
            ("A1F83G8C2ARO7P", None, Lang::En),
        ];
        for (market, postcode, lang) in cases {
            assert_eq!(
                marketplace_language(market, postcode),
                lang,
                "{market} {postcode:?}"
            );
        }
        for lang in Lang::ALL {
            for kind in [
                LineKind::Shipping,
                LineKind::GiftWrap,
                LineKind::Discount,
                LineKind::Goods,
            ] {
                assert!(!charge_text(kind, lang).is_empty());
            }
            for (code, names) in COUNTRIES {
                assert!(!names[lang.index()].trim().is_empty(), "{code} {lang:?}");
            }
        }
        assert_eq!(country_name("NL", Lang::Pl), "Holandia");
        assert_eq!(charge_text(LineKind::Shipping, Lang::Fr), "Frais de port");
    }

    #[test]
    fn blocks_and_names() {
        let pii = PiiRow {
            buyer_name: Some(" Łukasz Żółć ".into()),
            buyer_company: Some("Żółć sp. z o.o.".into()),
            address_line1: Some("ul. Długa 5".into()),
            postal_code: Some("00-001".into()),
            city: Some("Warszawa".into()),
            country_code: Some("PL".into()),
            ..PiiRow::default()
        };
        let b = buyer_block(Some(&pii), true, Lang::De).unwrap();
        assert_eq!(b.name, "Łukasz Żółć");
        assert_eq!(b.company.as_deref(), Some("Żółć sp. z o.o."));
        assert_eq!(b.address_lines, vec!["ul. Długa 5", "00-001 Warszawa"]);
        assert_eq!(b.country, "Polen");
        assert!(
            buyer_block(Some(&pii), false, Lang::En)
                .unwrap()
                .company
                .is_none()
        );
        assert_eq!(
            buyer_block(None, false, Lang::En).unwrap_err().reason,
            "no_buyer_data"
        );
        let bare = PiiRow {
            buyer_name: Some("A".into()),
            ..PiiRow::default()
        };
        assert_eq!(
            buyer_block(Some(&bare), false, Lang::En)
                .unwrap_err()
                .reason,
            "no_buyer_address"
        );

        let mut s = SellerSection {
            company: Some("Voorbeeld B.V.".into()),
            vat_id: Some("NL000099998B57".into()),
            street: Some("Voorbeeldweg".into()),
            house_nr: Some("10".into()),
            house_nr_ext: Some("A".into()),
            zipcode: Some("3511AB".into()),
            city: Some("Utrecht".into()),
            email: Some("a@b.nl".into()),
            ..SellerSection::default()
        };
        let sb = seller_block(&s, Lang::Nl).unwrap();
        assert_eq!(sb.legal_name, "Voorbeeld B.V.");
        assert_eq!(
            sb.address_lines,
            vec!["Voorbeeldweg 10 A", "3511AB Utrecht"]
        );
        assert_eq!(sb.country, "Nederland");
        s.email = None;
        assert_eq!(seller_block(&s, Lang::En).unwrap_err(), "seller.email");

        assert_eq!(document_number("INV", 2026, 123), "INV-2026-000123");
        assert_eq!(document_number("CN", 2027, 1_234_567), "CN-2027-1234567");
        assert_eq!(marketplace_name("A2NODRKZP88ZB9"), "amazon.se");
        assert_eq!(marketplace_name("XYZ"), "XYZ");
        assert_eq!(country_name("el", Lang::En), "Greece");
        assert_eq!(country_name("US", Lang::En), "US");
    }
}
