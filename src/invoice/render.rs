//! Invoice and credit-note PDFs: the frozen document data ([`InvoiceDocument`]) and its
//! rendering to an A4 PDF. Pure: data in, bytes out, no I/O, no clock.
//!
//! This module owns: what an issued document contains (every field Art. 226 of the VAT
//! Directive asks for, the credit-note reference of Art. 219, the EUR figure of Art. 230),
//! filling it from the VAT engine's [`Computation`] so the printed figures are the
//! engine's, checking that stored figures still add up before printing them, the labels in
//! English, Dutch and German, number and date formats, and the page layout (seller
//! top-left, title and number top-right, customer, dates, order reference, line table with
//! repeated header, VAT summary per rate, totals, legal wordings, footer with "page X of
//! Y"). It never computes VAT: amounts are printed as the engine produced them. The PDF
//! syntax, fonts and compression live in [`crate::pdf`].
//!
//! # Reproducibility
//!
//! The store keeps an [`InvoiceDocument`] as JSON; rendering it again gives the same bytes:
//! the PDF dates are the issue date at 00:00:00Z, the file identifier is derived from the
//! document kind and number, and nothing else varies. Byte identity holds for one build of
//! this module; a change to the layout, the fonts (`notosans`) or the compression
//! (`miniz_oxide`) changes the bytes, so keep the SHA-256 of the PDF that was issued.
//!
//! # Fonts and speed
//!
//! Text is set in Noto Sans (regular and bold, from the `notosans` crate), which covers
//! Latin, Latin-1, Latin Extended-A/B, Greek, Cyrillic and the euro sign. A character the
//! font lacks prints as `?`. Each PDF embeds only the glyphs it uses: subsetting per
//! document costs about 20 µs per font, so no batch-wide pre-subset (which would embed
//! some 540 glyphs, about 45 kB, in every PDF) is needed. A [`Renderer`] parses the fonts
//! once; [`render`] uses a shared one.

use std::sync::LazyLock;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use time::Date;

use super::rates::iso_date;
use super::vat::{Computation, Currency, DocumentKind, Lang, Regime};
use crate::pdf::{self, A4, Color, Font};

/// Why a document could not be built or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The document data is incomplete or its figures do not add up.
    #[error("invalid invoice document: {0}")]
    Invalid(String),
    /// The PDF writer failed.
    #[error(transparent)]
    Pdf(#[from] pdf::PdfError),
}

fn invalid(msg: impl Into<String>) -> RenderError {
    RenderError::Invalid(msg.into())
}

/// The issuing business, as printed at the top-left and in the footer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SellerBlock {
    /// Registered legal name.
    pub legal_name: String,
    /// Street, postcode and town, one printed line each.
    pub address_lines: Vec<String>,
    /// Country as printed (e.g. "Netherlands").
    pub country: String,
    /// VAT identification number (Art. 226(3)).
    pub vat_id: String,
    /// Chamber of Commerce number (Dutch `KvK`).
    #[serde(default)]
    pub chamber_of_commerce: Option<String>,
    /// Contact e-mail address.
    pub email: String,
}

/// The customer (Art. 226(5)); also personal data, removed under the retention policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyerBlock {
    /// Name of the person.
    pub name: String,
    /// Company, for business customers.
    #[serde(default)]
    pub company: Option<String>,
    /// Street, postcode and town, one printed line each.
    pub address_lines: Vec<String>,
    /// Country as printed.
    pub country: String,
    /// Customer's VAT number (Art. 226(4)); mandatory on an intra-Community supply.
    #[serde(default)]
    pub vat_id: Option<String>,
}

/// The invoice a credit note corrects (Art. 219).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginalInvoice {
    /// Number of the corrected invoice.
    pub number: String,
    /// Its date of issue.
    #[serde(with = "iso_date")]
    pub issue_date: Date,
    /// Why it is corrected (return, refund, ...), as printed.
    #[serde(default)]
    pub reason: Option<String>,
}

/// One printed line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentLine {
    /// Nature of the goods (Art. 226(6)).
    pub description: String,
    /// Seller SKU.
    #[serde(default)]
    pub sku: Option<String>,
    /// Units.
    pub quantity: u32,
    /// Unit price excluding VAT (Art. 226(8)); `None` when the quantity is 0.
    #[serde(default)]
    pub unit_net: Option<Decimal>,
    /// Taxable amount.
    pub net: Decimal,
    /// VAT rate in percent (Art. 226(9)).
    pub vat_rate: Decimal,
    /// VAT amount.
    pub vat: Decimal,
    /// Amount including VAT.
    pub gross: Decimal,
}

/// Totals for one VAT rate (Art. 226(8)-(10)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateSummary {
    /// VAT rate in percent.
    pub rate: Decimal,
    /// Taxable amount.
    pub net: Decimal,
    /// VAT amount.
    pub vat: Decimal,
    /// Amount including VAT.
    pub gross: Decimal,
}

/// An exchange rate from the ECB (or another source named), as given by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EurRate {
    /// Units of the document currency per 1 EUR, as the ECB quotes it.
    pub rate: Decimal,
    /// Date of the quotation.
    #[serde(with = "iso_date")]
    pub date: Date,
    /// Who published it, e.g. "European Central Bank".
    pub source: String,
}

/// The document's VAT expressed in EUR (Art. 230) for a non-EUR document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EurVat {
    /// Total VAT in EUR.
    pub vat_eur: Decimal,
    /// The rate it was converted at.
    pub rate: EurRate,
}

/// What a document is and which document it belongs to: the data besides the VAT figures
/// that [`InvoiceDocument::from_computation`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Number allocated in the invoice or credit-note series.
    pub number: String,
    /// Date of issue.
    pub issue_date: Date,
    /// Amazon order id.
    pub order_id: String,
    /// Marketplace, e.g. "amazon.de".
    pub marketplace: String,
    /// For a credit note, the invoice it corrects; `None` for an invoice.
    pub corrects: Option<OriginalInvoice>,
    /// For a document not in EUR, the rate to express its VAT in EUR; `None` for EUR.
    pub eur_rate: Option<EurRate>,
    /// Language of the document.
    pub lang: Lang,
}

fn default_lang() -> Lang {
    Lang::En
}

/// The exact, frozen content of one issued invoice or credit note. Stored as JSON; the
/// same value always renders to the same PDF bytes.
///
/// Build it with [`InvoiceDocument::from_computation`], which copies every figure from the
/// VAT engine. [`render`] checks the figures again ([`InvoiceDocument::validate`]) so that
/// a stored document that was edited by hand cannot print totals that do not add up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceDocument {
    /// Invoice or credit note.
    pub kind: DocumentKind,
    /// Sequential number (Art. 226(2)).
    pub number: String,
    /// Date of issue (Art. 226(1)).
    #[serde(with = "iso_date")]
    pub issue_date: Date,
    /// Date of supply (Art. 226(7)).
    #[serde(with = "iso_date")]
    pub supply_date: Date,
    /// For a credit note: the corrected invoice.
    #[serde(default)]
    pub corrects: Option<OriginalInvoice>,
    /// Amazon order id.
    pub order_id: String,
    /// Marketplace the order came from.
    pub marketplace: String,
    /// The seller.
    pub seller: SellerBlock,
    /// The customer; `None` once the personal data was removed under the retention policy
    /// (the PDF then says so and keeps every financial figure).
    pub buyer: Option<BuyerBlock>,
    /// Currency of all amounts.
    pub currency: Currency,
    /// The lines.
    pub lines: Vec<DocumentLine>,
    /// Totals per VAT rate, highest rate first.
    pub per_rate: Vec<RateSummary>,
    /// Sum of the taxable amounts.
    pub total_net: Decimal,
    /// Sum of the VAT.
    pub total_vat: Decimal,
    /// Sum including VAT.
    pub total_gross: Decimal,
    /// Mandatory wordings, already in the document language.
    pub legal_notes: Vec<String>,
    /// VAT in EUR for a document in another currency.
    #[serde(default)]
    pub eur_vat: Option<EurVat>,
    /// Language of labels and formats.
    #[serde(default = "default_lang")]
    pub lang: Lang,
}

impl InvoiceDocument {
    /// Builds the document for `computation`, copying every line, rate total, document
    /// total and legal wording (worded in `issue.lang`) from the engine.
    ///
    /// The buyer's VAT number printed is the one the engine used: if `buyer.vat_id` is
    /// empty it is filled from the computation, and if it differs the call fails. For a
    /// document not in EUR the total VAT is converted at `issue.eur_rate` and rounded half
    /// away from zero to the cent, the rule the engine uses.
    ///
    /// # Errors
    /// [`RenderError::Invalid`] when the issue data does not fit the computation: a credit
    /// note without the corrected invoice (or an invoice with one), a missing or
    /// superfluous EUR rate, a buyer VAT number that differs from the engine's, an
    /// intra-Community supply without one, or figures that do not add up.
    pub fn from_computation(
        computation: &Computation,
        issue: Issue,
        seller: SellerBlock,
        mut buyer: BuyerBlock,
    ) -> Result<Self, RenderError> {
        let c = computation;
        match (&buyer.vat_id, &c.buyer_vat_id) {
            (Some(given), Some(used)) if normalise_vat_id(given) != *used => {
                return Err(invalid(format!(
                    "buyer VAT number {given:?} differs from {used:?}, which the VAT computation used"
                )));
            }
            (Some(given), None) => {
                return Err(invalid(format!(
                    "buyer VAT number {given:?} was not used by the VAT computation; leave it out or recompute"
                )));
            }
            _ => buyer.vat_id.clone_from(&c.buyer_vat_id),
        }
        if c.regime == Regime::IntraCommunityReverseCharge && buyer.vat_id.is_none() {
            return Err(invalid(
                "an intra-Community supply needs the customer's VAT number",
            ));
        }
        let eur_vat = match (c.currency, issue.eur_rate) {
            (Currency::Eur, None) => None,
            (Currency::Eur, Some(_)) => {
                return Err(invalid("a EUR document needs no EUR exchange rate"));
            }
            (_, None) => {
                return Err(invalid(
                    "a document not in EUR must show its VAT in EUR (Art. 230): give eur_rate",
                ));
            }
            (_, Some(rate)) => {
                if rate.rate <= Decimal::ZERO {
                    return Err(invalid("the EUR exchange rate must be positive"));
                }
                let vat_eur = c
                    .total_vat
                    .checked_div(rate.rate)
                    .ok_or_else(|| invalid("the VAT cannot be converted at that rate"))?
                    .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
                Some(EurVat { vat_eur, rate })
            }
        };
        let doc = InvoiceDocument {
            kind: c.document,
            number: issue.number,
            issue_date: issue.issue_date,
            supply_date: c.supply_date,
            corrects: issue.corrects,
            order_id: issue.order_id,
            marketplace: issue.marketplace,
            seller,
            buyer: Some(buyer),
            currency: c.currency,
            lines: c
                .lines
                .iter()
                .map(|l| DocumentLine {
                    description: l.description.clone(),
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                    unit_net: l.unit_net,
                    net: l.net,
                    vat_rate: l.rate,
                    vat: l.vat,
                    gross: l.gross,
                })
                .collect(),
            per_rate: c
                .per_rate
                .iter()
                .map(|r| RateSummary {
                    rate: r.rate,
                    net: r.net,
                    vat: r.vat,
                    gross: r.gross,
                })
                .collect(),
            total_net: c.total_net,
            total_vat: c.total_vat,
            total_gross: c.total_gross,
            legal_notes: c.legal_notes.iter().map(|n| n.text(issue.lang)).collect(),
            eur_vat,
            lang: issue.lang,
        };
        doc.validate()?;
        Ok(doc)
    }

    /// The same document with the customer's personal data removed, as kept after the
    /// retention period. Every financial figure stays.
    #[must_use]
    pub fn without_buyer(self) -> Self {
        InvoiceDocument {
            buyer: None,
            ..self
        }
    }

    /// Checks that the document is complete and its figures add up: each line and rate
    /// `net + vat == gross`, the lines of each rate sum to that rate's totals, the document
    /// totals are the sums of the rates, and amounts are whole cents.
    ///
    /// # Errors
    /// [`RenderError::Invalid`] naming the first problem found.
    pub fn validate(&self) -> Result<(), RenderError> {
        if self.number.trim().is_empty() {
            return Err(invalid("the document number is empty"));
        }
        if self.seller.legal_name.trim().is_empty() || self.seller.vat_id.trim().is_empty() {
            return Err(invalid("the seller's name and VAT number are mandatory"));
        }
        match (self.kind, &self.corrects) {
            (DocumentKind::CreditNote, None) => {
                return Err(invalid(
                    "a credit note must name the invoice it corrects (Art. 219)",
                ));
            }
            (DocumentKind::Invoice, Some(_)) => {
                return Err(invalid("an invoice cannot correct another invoice"));
            }
            _ => {}
        }
        match (self.currency, &self.eur_vat) {
            (Currency::Eur, Some(_)) => return Err(invalid("a EUR document has no EUR figure")),
            (Currency::Pln | Currency::Sek | Currency::Gbp, None) => {
                return Err(invalid("a document not in EUR must show its VAT in EUR"));
            }
            _ => {}
        }
        if self.lines.is_empty() || self.per_rate.is_empty() {
            return Err(invalid("a document needs at least one line and one rate"));
        }
        let cents = |what: &str, d: Decimal| -> Result<(), RenderError> {
            if d.round_dp(2) == d {
                Ok(())
            } else {
                Err(invalid(format!(
                    "{what} {d} is not a whole number of cents"
                )))
            }
        };
        for (i, l) in self.lines.iter().enumerate() {
            for (what, d) in [("net", l.net), ("VAT", l.vat), ("gross", l.gross)] {
                cents(&format!("line {i} {what}"), d)?;
            }
            if l.net + l.vat != l.gross {
                return Err(invalid(format!("line {i}: net + VAT != gross")));
            }
            if !self.per_rate.iter().any(|r| r.rate == l.vat_rate) {
                return Err(invalid(format!(
                    "line {i}: rate {} has no rate total",
                    l.vat_rate
                )));
            }
        }
        for r in &self.per_rate {
            for d in [r.net, r.vat, r.gross] {
                cents(&format!("rate {} total", r.rate), d)?;
            }
            if r.net + r.vat != r.gross {
                return Err(invalid(format!("rate {}: net + VAT != gross", r.rate)));
            }
            let mut sums = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
            for l in self.lines.iter().filter(|l| l.vat_rate == r.rate) {
                sums = (sums.0 + l.net, sums.1 + l.vat, sums.2 + l.gross);
            }
            if sums != (r.net, r.vat, r.gross) {
                return Err(invalid(format!(
                    "the lines at {} % do not add up to that rate's totals",
                    r.rate
                )));
            }
        }
        let total = |f: fn(&RateSummary) -> Decimal| self.per_rate.iter().map(f).sum::<Decimal>();
        if (total(|r| r.net), total(|r| r.vat), total(|r| r.gross))
            != (self.total_net, self.total_vat, self.total_gross)
        {
            return Err(invalid("the document totals are not the sums of the rates"));
        }
        if let Some(eur) = &self.eur_vat {
            cents("VAT in EUR", eur.vat_eur)?;
            if eur.rate.rate <= Decimal::ZERO {
                return Err(invalid("the EUR exchange rate must be positive"));
            }
        }
        Ok(())
    }
}

/// A VAT number as the engine normalises it: upper case without spaces, dots or dashes.
fn normalise_vat_id(raw: &str) -> String {
    raw.chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '\u{a0}'))
        .collect::<String>()
        .to_ascii_uppercase()
}

/// Renders `doc` with a renderer shared by the whole process (fonts parsed on first use).
///
/// # Errors
/// [`RenderError::Invalid`] when the document fails [`InvoiceDocument::validate`];
/// [`RenderError::Pdf`] when the PDF cannot be written.
pub fn render(doc: &InvoiceDocument) -> Result<Vec<u8>, RenderError> {
    static SHARED: LazyLock<Result<Renderer, RenderError>> = LazyLock::new(Renderer::new);
    match &*SHARED {
        Ok(renderer) => renderer.render(doc),
        Err(e) => Err(e.clone()),
    }
}

const REGULAR: usize = 0;
const BOLD: usize = 1;

/// Parsed fonts, built once and reused for any number of documents; `Sync`, so one can
/// serve several threads.
#[derive(Debug)]
pub struct Renderer {
    fonts: [Font; 2],
}

impl Renderer {
    /// Parses Noto Sans regular and bold.
    ///
    /// # Errors
    /// [`RenderError::Pdf`] if the bundled fonts cannot be read (a broken build).
    pub fn new() -> Result<Self, RenderError> {
        Ok(Renderer {
            fonts: [
                Font::new(notosans::REGULAR_TTF)?,
                Font::new(notosans::BOLD_TTF)?,
            ],
        })
    }

    /// Renders `doc` as an A4 PDF.
    ///
    /// # Errors
    /// As [`render`].
    pub fn render(&self, doc: &InvoiceDocument) -> Result<Vec<u8>, RenderError> {
        doc.validate()?;
        let labels = Labels::of(doc.lang);
        let mut layout = Layout {
            pdf: pdf::Document::new(&self.fonts, A4),
            fonts: &self.fonts,
            doc,
            l: labels,
            page: 0,
            y: 0.0,
        };
        layout.first_page()?;
        layout.lines()?;
        layout.summary()?;
        layout.footers()?;
        let title = format!("{} {}", labels.title(doc.kind), doc.number);
        let subject = format!("{} {} ({})", labels.order_id, doc.order_id, doc.marketplace);
        let info = pdf::Info {
            title: &title,
            author: &doc.seller.legal_name,
            subject: &subject,
            date: doc.issue_date,
            file_id: file_id(doc),
        };
        Ok(layout.pdf.finish(&info)?)
    }
}

/// The PDF file identifier: the first 16 bytes of SHA-256 over the kind and number, so a
/// re-rendered document keeps its identifier and no two documents share one.
fn file_id(doc: &InvoiceDocument) -> [u8; 16] {
    let kind = match doc.kind {
        DocumentKind::Invoice => "invoice",
        DocumentKind::CreditNote => "credit-note",
    };
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"fulfil/");
    ctx.update(kind.as_bytes());
    ctx.update(b"/");
    ctx.update(doc.number.as_bytes());
    let digest = ctx.finish();
    let mut id = [0; 16];
    id.copy_from_slice(&digest.as_ref()[..16]);
    id
}

// ---------------------------------------------------------------------------------------
// Labels and formats
// ---------------------------------------------------------------------------------------

/// Every fixed text a document prints, in one language.
#[derive(Debug)]
struct Labels {
    invoice: &'static str,
    credit_note: &'static str,
    invoice_number: &'static str,
    credit_note_number: &'static str,
    date_of_issue: &'static str,
    date_of_supply: &'static str,
    original_invoice: &'static str,
    original_date: &'static str,
    corrects: &'static str,
    of_date: &'static str,
    reason: &'static str,
    order_id: &'static str,
    marketplace: &'static str,
    currency: &'static str,
    vat_id: &'static str,
    chamber: &'static str,
    customer: &'static str,
    buyer_removed: &'static str,
    description: &'static str,
    sku: &'static str,
    quantity: &'static str,
    unit_price: &'static str,
    net: &'static str,
    rate: &'static str,
    rate_short: &'static str,
    vat: &'static str,
    gross: &'static str,
    vat_summary: &'static str,
    total_net: &'static str,
    total_vat: &'static str,
    total: &'static str,
    amounts_in: &'static str,
    vat_in_eur: &'static str,
    exchange_rate: &'static str,
    continued: &'static str,
    page: &'static str,
    page_of: &'static str,
}

const EN: Labels = Labels {
    invoice: "Invoice",
    credit_note: "Credit note",
    invoice_number: "Invoice number",
    credit_note_number: "Credit note number",
    date_of_issue: "Date of issue",
    date_of_supply: "Date of supply",
    original_invoice: "Original invoice",
    original_date: "Original invoice date",
    corrects: "This credit note corrects invoice",
    of_date: "of",
    reason: "Reason",
    order_id: "Order ID",
    marketplace: "Marketplace",
    currency: "Currency",
    vat_id: "VAT ID",
    chamber: "Chamber of Commerce (KvK)",
    customer: "Customer",
    buyer_removed: "Customer name and address removed under the data retention policy.",
    description: "Description",
    sku: "SKU",
    quantity: "Qty",
    unit_price: "Unit price",
    net: "Net",
    rate: "VAT rate",
    rate_short: "VAT %",
    vat: "VAT",
    gross: "Gross",
    vat_summary: "VAT summary",
    total_net: "Total net",
    total_vat: "Total VAT",
    total: "Total",
    amounts_in: "Amounts in",
    vat_in_eur: "VAT in EUR",
    exchange_rate: "exchange rate",
    continued: "continued",
    page: "Page",
    page_of: "of",
};

const NL: Labels = Labels {
    invoice: "Factuur",
    credit_note: "Creditnota",
    invoice_number: "Factuurnummer",
    credit_note_number: "Creditnotanummer",
    date_of_issue: "Datum van uitgifte",
    date_of_supply: "Leveringsdatum",
    original_invoice: "Oorspronkelijke factuur",
    original_date: "Datum oorspronkelijke factuur",
    corrects: "Deze creditnota corrigeert factuur",
    of_date: "van",
    reason: "Reden",
    order_id: "Bestelnummer",
    marketplace: "Marktplaats",
    currency: "Valuta",
    vat_id: "Btw-nummer",
    chamber: "KvK-nummer",
    customer: "Klant",
    buyer_removed: "Naam en adres van de klant verwijderd volgens het bewaarbeleid.",
    description: "Omschrijving",
    sku: "SKU",
    quantity: "Aantal",
    unit_price: "Stukprijs",
    net: "Netto",
    rate: "Btw-tarief",
    rate_short: "Btw %",
    vat: "Btw",
    gross: "Bruto",
    vat_summary: "Btw-specificatie",
    total_net: "Totaal excl. btw",
    total_vat: "Totaal btw",
    total: "Totaal incl. btw",
    amounts_in: "Bedragen in",
    vat_in_eur: "Btw in EUR",
    exchange_rate: "wisselkoers",
    continued: "vervolg",
    page: "Pagina",
    page_of: "van",
};

// "Gutschrift" is avoided on purpose: under German VAT law it means a self-billed invoice.
const DE: Labels = Labels {
    invoice: "Rechnung",
    credit_note: "Rechnungskorrektur",
    invoice_number: "Rechnungsnummer",
    credit_note_number: "Korrekturnummer",
    date_of_issue: "Ausstellungsdatum",
    date_of_supply: "Lieferdatum",
    original_invoice: "Ursprüngliche Rechnung",
    original_date: "Datum der Originalrechnung",
    corrects: "Diese Rechnungskorrektur berichtigt die Rechnung",
    of_date: "vom",
    reason: "Grund",
    order_id: "Bestellnummer",
    marketplace: "Marktplatz",
    currency: "Währung",
    vat_id: "USt-IdNr.",
    chamber: "Handelsregister (KvK)",
    customer: "Kunde",
    buyer_removed: "Name und Anschrift des Kunden gemäß Aufbewahrungsrichtlinie entfernt.",
    description: "Beschreibung",
    sku: "SKU",
    quantity: "Menge",
    unit_price: "Einzelpreis",
    net: "Netto",
    rate: "USt-Satz",
    rate_short: "USt. %",
    vat: "USt.",
    gross: "Brutto",
    vat_summary: "USt-Aufstellung",
    total_net: "Summe netto",
    total_vat: "Summe USt.",
    total: "Gesamtbetrag",
    amounts_in: "Beträge in",
    vat_in_eur: "USt. in EUR",
    exchange_rate: "Wechselkurs",
    continued: "Fortsetzung",
    page: "Seite",
    page_of: "von",
};

const FR: Labels = Labels {
    invoice: "Facture",
    credit_note: "Avoir",
    invoice_number: "Numéro de facture",
    credit_note_number: "Numéro d'avoir",
    date_of_issue: "Date d'émission",
    date_of_supply: "Date de livraison",
    original_invoice: "Facture d'origine",
    original_date: "Date de la facture d'origine",
    corrects: "Cet avoir rectifie la facture",
    of_date: "du",
    reason: "Motif",
    order_id: "Numéro de commande",
    marketplace: "Place de marché",
    currency: "Devise",
    vat_id: "N° TVA",
    chamber: "Registre du commerce (KvK)",
    customer: "Client",
    buyer_removed: "Nom et adresse du client supprimés selon la politique de conservation des données.",
    description: "Désignation",
    sku: "Réf.",
    quantity: "Qté",
    unit_price: "Prix unitaire",
    net: "HT",
    rate: "Taux de TVA",
    rate_short: "TVA %",
    vat: "TVA",
    gross: "TTC",
    vat_summary: "Récapitulatif TVA",
    total_net: "Total HT",
    total_vat: "Total TVA",
    total: "Total TTC",
    amounts_in: "Montants en",
    vat_in_eur: "TVA en EUR",
    exchange_rate: "taux de change",
    continued: "suite",
    page: "Page",
    page_of: "sur",
};

const IT: Labels = Labels {
    invoice: "Fattura",
    credit_note: "Nota di credito",
    invoice_number: "Numero fattura",
    credit_note_number: "Numero nota di credito",
    date_of_issue: "Data di emissione",
    date_of_supply: "Data di consegna",
    original_invoice: "Fattura originale",
    original_date: "Data della fattura originale",
    corrects: "Questa nota di credito rettifica la fattura",
    of_date: "del",
    reason: "Motivo",
    order_id: "Numero ordine",
    marketplace: "Marketplace",
    currency: "Valuta",
    vat_id: "Partita IVA",
    chamber: "Registro delle imprese (KvK)",
    customer: "Cliente",
    buyer_removed: "Nome e indirizzo del cliente rimossi secondo la politica di conservazione dei dati.",
    description: "Descrizione",
    sku: "Codice",
    quantity: "Qtà",
    unit_price: "Prezzo unitario",
    net: "Imponibile",
    rate: "Aliquota IVA",
    rate_short: "IVA %",
    vat: "IVA",
    gross: "Totale",
    vat_summary: "Riepilogo IVA",
    total_net: "Totale imponibile",
    total_vat: "Totale IVA",
    total: "Totale documento",
    amounts_in: "Importi in",
    vat_in_eur: "IVA in EUR",
    exchange_rate: "tasso di cambio",
    continued: "segue",
    page: "Pagina",
    page_of: "di",
};

const ES: Labels = Labels {
    invoice: "Factura",
    credit_note: "Factura rectificativa",
    invoice_number: "Número de factura",
    credit_note_number: "Número de factura rectificativa",
    date_of_issue: "Fecha de expedición",
    date_of_supply: "Fecha de entrega",
    original_invoice: "Factura original",
    original_date: "Fecha de la factura original",
    corrects: "Esta factura rectificativa corrige la factura",
    of_date: "de",
    reason: "Motivo",
    order_id: "Número de pedido",
    marketplace: "Tienda",
    currency: "Moneda",
    vat_id: "NIF-IVA",
    chamber: "Registro mercantil (KvK)",
    customer: "Cliente",
    buyer_removed: "Nombre y dirección del cliente eliminados según la política de conservación de datos.",
    description: "Descripción",
    sku: "Ref.",
    quantity: "Cant.",
    unit_price: "Precio unitario",
    net: "Base",
    rate: "Tipo de IVA",
    rate_short: "IVA %",
    vat: "IVA",
    gross: "Importe",
    vat_summary: "Desglose del IVA",
    total_net: "Base imponible",
    total_vat: "Total IVA",
    total: "Total factura",
    amounts_in: "Importes en",
    vat_in_eur: "IVA en EUR",
    exchange_rate: "tipo de cambio",
    continued: "continuación",
    page: "Página",
    page_of: "de",
};

const SV: Labels = Labels {
    invoice: "Faktura",
    credit_note: "Kreditfaktura",
    invoice_number: "Fakturanummer",
    credit_note_number: "Kreditfakturanummer",
    date_of_issue: "Fakturadatum",
    date_of_supply: "Leveransdatum",
    original_invoice: "Ursprunglig faktura",
    original_date: "Datum för ursprunglig faktura",
    corrects: "Denna kreditfaktura rättar faktura",
    of_date: "av",
    reason: "Orsak",
    order_id: "Ordernummer",
    marketplace: "Marknadsplats",
    currency: "Valuta",
    vat_id: "Momsreg.nr",
    chamber: "Handelsregister (KvK)",
    customer: "Kund",
    buyer_removed: "Kundens namn och adress har tagits bort enligt policyn för lagring av uppgifter.",
    description: "Beskrivning",
    sku: "Art.nr",
    quantity: "Antal",
    unit_price: "À-pris",
    net: "Exkl. moms",
    rate: "Momssats",
    rate_short: "Moms %",
    vat: "Moms",
    gross: "Inkl. moms",
    vat_summary: "Momsspecifikation",
    total_net: "Summa exkl. moms",
    total_vat: "Summa moms",
    total: "Att betala",
    amounts_in: "Belopp i",
    vat_in_eur: "Moms i EUR",
    exchange_rate: "växelkurs",
    continued: "fortsättning",
    page: "Sida",
    page_of: "av",
};

const PL: Labels = Labels {
    invoice: "Faktura",
    credit_note: "Faktura korygująca",
    invoice_number: "Numer faktury",
    credit_note_number: "Numer faktury korygującej",
    date_of_issue: "Data wystawienia",
    date_of_supply: "Data dostawy",
    original_invoice: "Faktura pierwotna",
    original_date: "Data faktury pierwotnej",
    corrects: "Niniejsza faktura korygująca koryguje fakturę",
    of_date: "z dnia",
    reason: "Przyczyna",
    order_id: "Numer zamówienia",
    marketplace: "Sklep",
    currency: "Waluta",
    vat_id: "NIP UE",
    chamber: "Rejestr handlowy (KvK)",
    customer: "Nabywca",
    buyer_removed: "Imię, nazwisko i adres nabywcy usunięte zgodnie z zasadami przechowywania danych.",
    description: "Nazwa",
    sku: "Kod",
    quantity: "Ilość",
    unit_price: "Cena jedn.",
    net: "Netto",
    rate: "Stawka VAT",
    rate_short: "VAT %",
    vat: "VAT",
    gross: "Brutto",
    vat_summary: "Zestawienie VAT",
    total_net: "Razem netto",
    total_vat: "Razem VAT",
    total: "Do zapłaty",
    amounts_in: "Kwoty w",
    vat_in_eur: "VAT w EUR",
    exchange_rate: "kurs wymiany",
    continued: "ciąg dalszy",
    page: "Strona",
    page_of: "z",
};

impl Labels {
    fn of(lang: Lang) -> &'static Labels {
        match lang {
            Lang::En => &EN,
            Lang::Nl => &NL,
            Lang::De => &DE,
            Lang::Fr => &FR,
            Lang::It => &IT,
            Lang::Es => &ES,
            Lang::Sv => &SV,
            Lang::Pl => &PL,
        }
    }

    fn title(&self, kind: DocumentKind) -> &'static str {
        match kind {
            DocumentKind::Invoice => self.invoice,
            DocumentKind::CreditNote => self.credit_note,
        }
    }

    fn number(&self, kind: DocumentKind) -> &'static str {
        match kind {
            DocumentKind::Invoice => self.invoice_number,
            DocumentKind::CreditNote => self.credit_note_number,
        }
    }
}

/// ISO 4217 code.
fn currency_code(c: Currency) -> &'static str {
    match c {
        Currency::Eur => "EUR",
        Currency::Pln => "PLN",
        Currency::Sek => "SEK",
        Currency::Gbp => "GBP",
    }
}

/// A date as people in that language write it: 2026-01-20, 20-01-2026, 20.01.2026.
fn format_date(d: Date, lang: Lang) -> String {
    let (y, m, day) = (d.year(), u8::from(d.month()), d.day());
    match lang {
        Lang::En | Lang::Sv => format!("{y:04}-{m:02}-{day:02}"),
        Lang::Nl => format!("{day:02}-{m:02}-{y:04}"),
        Lang::De | Lang::Pl => format!("{day:02}.{m:02}.{y:04}"),
        Lang::Fr | Lang::It | Lang::Es => format!("{day:02}/{m:02}/{y:04}"),
    }
}

/// `(thousands separator, decimal separator)`.
fn separators(lang: Lang) -> (char, char) {
    match lang {
        Lang::En => (',', '.'),
        Lang::Nl | Lang::De | Lang::It | Lang::Es => ('.', ','),
        // French, Swedish and Polish group thousands with a space.
        Lang::Fr | Lang::Sv | Lang::Pl => (' ', ','),
    }
}

/// Formats `d` with at least `min` and at most `max` decimals (trailing zeros beyond
/// `min` dropped) and grouped thousands. Values are already rounded by the engine; `max`
/// only bounds what is shown.
fn format_number(d: Decimal, min: u32, max: u32, lang: Lang) -> String {
    let (group, point) = separators(lang);
    let d = d.round_dp_with_strategy(max, RoundingStrategy::MidpointAwayFromZero);
    let decimals = d.normalize().scale().clamp(min, max);
    let plain = format!("{:.*}", decimals as usize, d.abs());
    let (int, frac) = plain.split_once('.').unwrap_or((&plain, ""));
    let mut out = String::with_capacity(plain.len() + plain.len() / 3 + 1);
    if d.is_sign_negative() && !d.is_zero() {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(group);
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push(point);
        out.push_str(frac);
    }
    out
}

/// An amount in the document currency: two decimals.
fn money(d: Decimal, lang: Lang) -> String {
    format_number(d, 2, 2, lang)
}

/// A VAT rate: `21%`, `5.5%` / `5,5%`.
fn percent(d: Decimal, lang: Lang) -> String {
    format!("{}%", format_number(d, 0, 4, lang))
}

/// Text as one printed line: control, format and private-use characters removed, runs of
/// white space one space (the one cleaning of printed text, issue #15 item 6).
fn clean(s: &str) -> String {
    crate::printable::clean(s)
}

// ---------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------

/// Page geometry in points, origin top-left.
const LEFT: f32 = 50.0;
const RIGHT: f32 = A4.0 - 50.0;
const CONTENT_BOTTOM: f32 = 780.0;
/// Width of the seller's block at the top-left.
const SELLER_WIDTH: f32 = 250.0;
/// Left edge of the document data (numbers, dates) at the top-right.
const DATA_LEFT: f32 = 318.0;
const FOOTER_RULE: f32 = 796.0;

/// Table columns: `(left edge, right edge)`; amounts are right-aligned at the right edge.
const COL_DESC: (f32, f32) = (LEFT, 226.0);
const COL_QTY: (f32, f32) = (226.0, 258.0);
const COL_UNIT: (f32, f32) = (258.0, 320.0);
const COL_NET: (f32, f32) = (320.0, 385.0);
const COL_RATE: (f32, f32) = (385.0, 428.0);
const COL_VAT: (f32, f32) = (428.0, 483.0);
const COL_GROSS: (f32, f32) = (483.0, RIGHT);
const CELL_PAD: f32 = 4.0;

const BODY: f32 = 9.0;
const SMALL: f32 = 7.5;
const TABLE: f32 = 8.5;

const INK: Color = Color::BLACK;
const MUTED: Color = Color::gray(0.38);
const RULE: Color = Color::gray(0.78);
const SHADE: Color = Color::gray(0.93);

/// Longest description printed, in lines; a row must fit on one page.
const MAX_DESCRIPTION_LINES: usize = 24;
/// Longest SKU printed, in lines.
const MAX_SKU_LINES: usize = 3;

fn accent() -> Color {
    Color::rgb(22, 58, 100)
}

/// Splits `text` into lines no wider than `width` at `size`, breaking between words, and
/// inside a word only when the word alone is too wide.
fn wrap(font: &Font, size: f32, text: &str, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if font.width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if font.width(word, size) <= width {
            word.clone_into(&mut line);
        } else {
            for c in word.chars() {
                line.push(c);
                if font.width(&line, size) > width && line.chars().count() > 1 {
                    line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                }
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

struct Layout<'a> {
    pdf: pdf::Document<'a>,
    fonts: &'a [Font; 2],
    doc: &'a InvoiceDocument,
    l: &'static Labels,
    page: usize,
    /// Top of the free space on the current page.
    y: f32,
}

impl Layout<'_> {
    fn text(
        &mut self,
        font: usize,
        size: f32,
        x: f32,
        y: f32,
        s: &str,
        color: Color,
    ) -> Result<(), RenderError> {
        Ok(self.pdf.text(self.page, font, size, (x, y), s, color)?)
    }

    /// Right-aligned at `right`; shrunk to fit when wider than `max_width`.
    #[allow(clippy::too_many_arguments)]
    fn text_right(
        &mut self,
        font: usize,
        size: f32,
        right: f32,
        max_width: f32,
        y: f32,
        s: &str,
        color: Color,
    ) -> Result<(), RenderError> {
        let mut width = self.fonts[font].width(s, size);
        let mut size = size;
        if width > max_width && width > 0.0 {
            size *= max_width / width;
            width = max_width;
        }
        self.text(font, size, right - width, y, s, color)
    }

    fn new_page(&mut self) -> usize {
        self.page = self.pdf.add_page();
        self.page
    }

    /// Page one: seller, title, document data, customer, then the table header.
    fn first_page(&mut self) -> Result<(), RenderError> {
        let (doc, l) = (self.doc, self.l);
        self.new_page();
        let seller_bottom = self.seller()?;
        let meta_bottom = self.document_data()?;
        let customer_bottom = self.customer(seller_bottom.max(118.0) + 14.0)?;
        self.y = customer_bottom.max(meta_bottom) + 14.0;

        // The reference a credit note must carry (Art. 219), in words.
        if let Some(orig) = &doc.corrects {
            let sentence = format!(
                "{} {} {} {}.",
                l.corrects,
                clean(&orig.number),
                l.of_date,
                format_date(orig.issue_date, doc.lang)
            );
            self.paragraph(BOLD, BODY, &sentence, INK)?;
            if let Some(reason) = &orig.reason {
                let reason = format!("{}: {}", l.reason, clean(reason));
                self.paragraph(REGULAR, BODY, &reason, INK)?;
            }
            self.y += 6.0;
        }
        let note = format!("{} {}", l.amounts_in, currency_code(doc.currency));
        self.text_right(REGULAR, SMALL, RIGHT, 200.0, self.y, &note, MUTED)?;
        self.y += 5.0;
        self.table_header()
    }

    /// The seller at the top-left; returns the baseline below it.
    fn seller(&mut self) -> Result<f32, RenderError> {
        let (seller, l) = (&self.doc.seller, self.l);
        let mut y = 62.0;
        for line in wrap(
            &self.fonts[BOLD],
            13.0,
            &clean(&seller.legal_name),
            SELLER_WIDTH,
        ) {
            self.text(BOLD, 13.0, LEFT, y, &line, INK)?;
            y += 16.0;
        }
        let mut lines: Vec<String> = seller.address_lines.iter().map(|s| clean(s)).collect();
        lines.push(clean(&seller.country));
        y = self.block(REGULAR, BODY, (LEFT, y), SELLER_WIDTH, &lines, INK)?;
        let mut ids = vec![format!("{}: {}", l.vat_id, clean(&seller.vat_id))];
        if let Some(kvk) = &seller.chamber_of_commerce {
            ids.push(format!("{}: {}", l.chamber, clean(kvk)));
        }
        ids.push(clean(&seller.email));
        self.block(REGULAR, BODY, (LEFT, y + 3.0), SELLER_WIDTH, &ids, MUTED)
    }

    /// Title and the document's numbers and dates at the top-right; returns the baseline
    /// below them.
    fn document_data(&mut self) -> Result<f32, RenderError> {
        let (doc, l, lang) = (self.doc, self.l, self.doc.lang);
        self.text_right(BOLD, 22.0, RIGHT, 240.0, 68.0, l.title(doc.kind), accent())?;
        // The number is set in bold; every other value in regular.
        let mut rows: Vec<(&str, String, usize)> = vec![
            (l.number(doc.kind), clean(&doc.number), BOLD),
            (l.date_of_issue, format_date(doc.issue_date, lang), REGULAR),
            (
                l.date_of_supply,
                format_date(doc.supply_date, lang),
                REGULAR,
            ),
        ];
        if let Some(orig) = &doc.corrects {
            rows.push((l.original_invoice, clean(&orig.number), REGULAR));
            rows.push((l.original_date, format_date(orig.issue_date, lang), REGULAR));
        }
        rows.push((l.order_id, clean(&doc.order_id), REGULAR));
        rows.push((l.marketplace, clean(&doc.marketplace), REGULAR));
        rows.push((l.currency, currency_code(doc.currency).to_owned(), REGULAR));
        let mut y = 92.0;
        for (label, value, font) in &rows {
            self.text(REGULAR, 8.0, DATA_LEFT, y, label, MUTED)?;
            // The value may use the room its label leaves, and is shrunk beyond that.
            let label_end = DATA_LEFT + self.fonts[REGULAR].width(label, 8.0) + 8.0;
            let room = (RIGHT - label_end).min(130.0);
            self.text_right(*font, BODY, RIGHT, room, y, value, INK)?;
            y += 13.0;
        }
        Ok(y)
    }

    /// The customer from `y` down, or the line saying the data was removed; returns the
    /// baseline below it.
    fn customer(&mut self, mut y: f32) -> Result<f32, RenderError> {
        let l = self.l;
        self.text(BOLD, 8.0, LEFT, y, l.customer, MUTED)?;
        y += 13.0;
        let width = DATA_LEFT - LEFT - 20.0;
        let Some(buyer) = &self.doc.buyer else {
            for part in wrap(&self.fonts[REGULAR], BODY, l.buyer_removed, width) {
                self.text(REGULAR, BODY, LEFT, y, &part, MUTED)?;
                y += 12.5;
            }
            return Ok(y);
        };
        // The name in bold, then company, address, country and VAT number.
        for part in wrap(&self.fonts[BOLD], 10.0, &clean(&buyer.name), width) {
            self.text(BOLD, 10.0, LEFT, y, &part, INK)?;
            y += 12.5;
        }
        let mut lines: Vec<String> = buyer.company.iter().map(|s| clean(s)).collect();
        lines.extend(buyer.address_lines.iter().map(|s| clean(s)));
        lines.push(clean(&buyer.country));
        if let Some(vat_id) = &buyer.vat_id {
            lines.push(format!("{}: {}", l.vat_id, clean(vat_id)));
        }
        self.block(REGULAR, BODY, (LEFT, y), width, &lines, INK)
    }

    /// Non-empty `lines`, each wrapped to `width`, 12 points apart from `(x, y)` down;
    /// returns the baseline below the last one.
    fn block(
        &mut self,
        font: usize,
        size: f32,
        (x, mut y): (f32, f32),
        width: f32,
        lines: &[String],
        color: Color,
    ) -> Result<f32, RenderError> {
        for line in lines.iter().filter(|s| !s.is_empty()) {
            for part in wrap(&self.fonts[font], size, line, width) {
                self.text(font, size, x, y, &part, color)?;
                y += 12.0;
            }
        }
        Ok(y)
    }

    /// A wrapped paragraph over the full width at the current position.
    fn paragraph(
        &mut self,
        font: usize,
        size: f32,
        s: &str,
        color: Color,
    ) -> Result<(), RenderError> {
        for part in wrap(&self.fonts[font], size, &clean(s), RIGHT - LEFT) {
            self.ensure_space(size * 1.4)?;
            self.text(font, size, LEFT, self.y + size, &part, color)?;
            self.y += size * 1.4;
        }
        Ok(())
    }

    /// Starts a continuation page: a short heading naming the document.
    fn continuation_page(&mut self) -> Result<(), RenderError> {
        self.new_page();
        let heading = format!(
            "{} {} ({})",
            self.l.title(self.doc.kind),
            clean(&self.doc.number),
            self.l.continued
        );
        self.text(BOLD, 11.0, LEFT, 62.0, &heading, accent())?;
        self.y = 80.0;
        Ok(())
    }

    /// Moves to a new page unless `height` points still fit on this one.
    fn ensure_space(&mut self, height: f32) -> Result<bool, RenderError> {
        if self.y + height <= CONTENT_BOTTOM {
            return Ok(false);
        }
        self.continuation_page()?;
        Ok(true)
    }

    fn table_header(&mut self) -> Result<(), RenderError> {
        let l = self.l;
        let top = self.y;
        let height = 18.0;
        self.pdf
            .fill_rect(self.page, (LEFT, top), (RIGHT - LEFT, height), SHADE);
        let base = top + 12.0;
        self.text(BOLD, 8.0, COL_DESC.0 + CELL_PAD, base, l.description, INK)?;
        for (label, col) in [
            (l.quantity, COL_QTY),
            (l.unit_price, COL_UNIT),
            (l.net, COL_NET),
            (l.rate_short, COL_RATE),
            (l.vat, COL_VAT),
            (l.gross, COL_GROSS),
        ] {
            let width = col.1 - col.0 - CELL_PAD;
            self.text_right(BOLD, 8.0, col.1 - CELL_PAD, width, base, label, INK)?;
        }
        self.y = top + height;
        Ok(())
    }

    fn lines(&mut self) -> Result<(), RenderError> {
        let (doc, lang) = (self.doc, self.doc.lang);
        let desc_width = COL_DESC.1 - COL_DESC.0 - 2.0 * CELL_PAD;
        for line in &doc.lines {
            let mut desc = wrap(
                &self.fonts[REGULAR],
                TABLE,
                &clean(&line.description),
                desc_width,
            );
            if desc.len() > MAX_DESCRIPTION_LINES {
                desc.truncate(MAX_DESCRIPTION_LINES);
                if let Some(last) = desc.last_mut() {
                    last.push('…');
                }
            }
            let sku = line
                .sku
                .as_deref()
                .map(clean)
                .filter(|s| !s.is_empty())
                .map(|s| format!("{}: {s}", self.l.sku));
            let mut sku_lines = sku
                .as_deref()
                .map(|s| wrap(&self.fonts[REGULAR], SMALL, s, desc_width))
                .unwrap_or_default();
            sku_lines.truncate(MAX_SKU_LINES);
            let text_height = 11.0 * count_f32(desc.len()) + 9.5 * count_f32(sku_lines.len());
            let height = text_height + 7.0;
            if self.ensure_space(height)? {
                self.table_header()?;
            }
            let top = self.y;
            let mut y = top + 4.0 + TABLE;
            for part in &desc {
                self.text(REGULAR, TABLE, COL_DESC.0 + CELL_PAD, y, part, INK)?;
                y += 11.0;
            }
            y -= 1.0;
            for part in &sku_lines {
                self.text(REGULAR, SMALL, COL_DESC.0 + CELL_PAD, y, part, MUTED)?;
                y += 9.5;
            }
            let base = top + 4.0 + TABLE;
            let cells = [
                (line.quantity.to_string(), COL_QTY),
                (
                    line.unit_net
                        .map(|u| format_number(u, 2, 4, lang))
                        .unwrap_or_default(),
                    COL_UNIT,
                ),
                (money(line.net, lang), COL_NET),
                (percent(line.vat_rate, lang), COL_RATE),
                (money(line.vat, lang), COL_VAT),
                (money(line.gross, lang), COL_GROSS),
            ];
            for (value, col) in &cells {
                let width = col.1 - col.0 - CELL_PAD;
                self.text_right(REGULAR, TABLE, col.1 - CELL_PAD, width, base, value, INK)?;
            }
            self.y = top + height;
            self.pdf
                .line(self.page, (LEFT, self.y), (RIGHT, self.y), 0.4, RULE);
        }
        Ok(())
    }

    /// VAT summary per rate, totals, the EUR figure and the legal wordings.
    fn summary(&mut self) -> Result<(), RenderError> {
        let (doc, l, lang) = (self.doc, self.l, self.doc.lang);
        let rows = count_f32(doc.per_rate.len());
        let block = 26.0 + 18.0 + 14.0 * rows + 10.0 + 3.0 * 15.0;
        self.y += 16.0;
        self.ensure_space(block)?;

        // Per-rate summary on the right half.
        let cols = [
            (300.0, 350.0),
            (350.0, 415.0),
            (415.0, 480.0),
            (480.0, RIGHT),
        ];
        self.text(BOLD, BODY, cols[0].0, self.y + BODY, l.vat_summary, INK)?;
        self.y += 15.0;
        self.pdf.fill_rect(
            self.page,
            (cols[0].0, self.y),
            (RIGHT - cols[0].0, 16.0),
            SHADE,
        );
        let base = self.y + 11.0;
        for (label, col) in [l.rate, l.net, l.vat, l.gross].into_iter().zip(cols) {
            self.text_right(
                BOLD,
                8.0,
                col.1 - CELL_PAD,
                col.1 - col.0 - CELL_PAD,
                base,
                label,
                INK,
            )?;
        }
        self.y += 16.0;
        for r in &doc.per_rate {
            let base = self.y + 11.0;
            let values = [
                percent(r.rate, lang),
                money(r.net, lang),
                money(r.vat, lang),
                money(r.gross, lang),
            ];
            for (value, col) in values.iter().zip(cols) {
                self.text_right(
                    REGULAR,
                    TABLE,
                    col.1 - CELL_PAD,
                    col.1 - col.0 - CELL_PAD,
                    base,
                    value,
                    INK,
                )?;
            }
            self.y += 14.0;
            self.pdf
                .line(self.page, (cols[0].0, self.y), (RIGHT, self.y), 0.4, RULE);
        }

        // Document totals.
        self.y += 10.0;
        let code = currency_code(doc.currency);
        let totals = [
            (l.total_net, money(doc.total_net, lang), REGULAR, BODY),
            (l.total_vat, money(doc.total_vat, lang), REGULAR, BODY),
            (
                l.total,
                format!("{code} {}", money(doc.total_gross, lang)),
                BOLD,
                11.0,
            ),
        ];
        for (i, (label, value, font, size)) in totals.iter().enumerate() {
            if i == 2 {
                self.y += 3.0;
                self.pdf
                    .line(self.page, (cols[0].0, self.y), (RIGHT, self.y), 0.8, INK);
                self.y += 3.0;
            }
            let base = self.y + size + 1.0;
            self.text(*font, *size, cols[0].0, base, label, INK)?;
            self.text_right(*font, *size, RIGHT - CELL_PAD, 150.0, base, value, INK)?;
            self.y += size + 5.0;
        }

        // VAT in EUR for documents in another currency (Art. 230).
        if let Some(eur) = &doc.eur_vat {
            self.y += 10.0;
            let text = format!(
                "{}: {} ({} 1 EUR = {} {code}, {}, {})",
                l.vat_in_eur,
                money(eur.vat_eur, lang),
                l.exchange_rate,
                format_number(eur.rate.rate, 2, 6, lang),
                clean(&eur.rate.source),
                format_date(eur.rate.date, lang),
            );
            self.paragraph(BOLD, BODY, &text, INK)?;
        }

        // Legal wordings (exemption reference, reverse charge, OSS).
        if !doc.legal_notes.is_empty() {
            self.y += 12.0;
            for note in &doc.legal_notes {
                self.paragraph(BOLD, BODY, note, INK)?;
                self.y += 2.0;
            }
        }
        Ok(())
    }

    /// Seller identification and "page X of Y" at the foot of every page.
    fn footers(&mut self) -> Result<(), RenderError> {
        let (doc, l) = (self.doc, self.l);
        let seller = &doc.seller;
        let mut parts = vec![clean(&seller.legal_name)];
        parts.extend(seller.address_lines.iter().map(|s| clean(s)));
        parts.push(clean(&seller.country));
        parts.push(format!("{} {}", l.vat_id, clean(&seller.vat_id)));
        if let Some(kvk) = &seller.chamber_of_commerce {
            parts.push(format!("{} {}", l.chamber, clean(kvk)));
        }
        parts.push(clean(&seller.email));
        parts.retain(|p| !p.is_empty());
        let footer = parts.join(" · ");
        let lines = wrap(&self.fonts[REGULAR], 7.0, &footer, RIGHT - LEFT - 80.0);
        let total = self.pdf.page_count();
        for page in 0..total {
            self.page = page;
            self.pdf
                .line(page, (LEFT, FOOTER_RULE), (RIGHT, FOOTER_RULE), 0.5, RULE);
            let mut y = FOOTER_RULE + 12.0;
            for line in lines.iter().take(3) {
                self.text(REGULAR, 7.0, LEFT, y, line, MUTED)?;
                y += 9.0;
            }
            let number = format!("{} {} {} {}", l.page, page + 1, l.page_of, total);
            self.text_right(
                REGULAR,
                7.5,
                RIGHT,
                80.0,
                FOOTER_RULE + 12.0,
                &number,
                MUTED,
            )?;
        }
        Ok(())
    }
}

/// A small count as a length factor.
fn count_f32(n: usize) -> f32 {
    f32::from(u16::try_from(n).unwrap_or(u16::MAX))
}

#[cfg(test)]
#[path = "render/tests.rs"]
mod tests;
