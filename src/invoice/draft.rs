//! From an order's rows, or an issued invoice, to a document ready to be numbered
//! (issue #6; moved out of `make-invoices` by issue #16). Pure: rows and answers in,
//! values out; no HTTP, no store handle and no clock.
//!
//! This module owns what the configuration fixes for a run ([`Drafter`], checked once),
//! the steps of drafting an invoice in the order a run takes them ([`Drafter::prepare`],
//! then the VIES answer the caller looked up, [`Drafter::price`], then the EUR rate the
//! caller looked up, [`Drafter::invoice`]), the full credit note of a cancelled invoice
//! ([`Drafter::credit_note`]), giving a draft its number ([`Draft::seal`]: the PDF, the
//! stored texts and hashes, the ledger entry), and reading an issued document back
//! ([`full_document`], [`reproduce`]). Every refusal is a [`Refusal`] with a fixed
//! reason code, recorded in `order_issues` by the command.

use std::collections::BTreeMap;

use time::Date;

use super::issue::{self, OrderFacts, Prepared, Refusal};
use super::ledger::{self, LedgerEntry};
use super::rates::{RateTable, TaxCategory};
use super::render::{
    BuyerBlock, EurRate, InvoiceDocument, Issue, OriginalInvoice, RenderError, Renderer,
    SellerBlock,
};
use super::vat::{
    self, Computation, Currency, Lang, Refund, compare_with_amazon, compute, credit_note,
};
use crate::config::{Config, ConfigError, DocumentLanguage};
use crate::files::sha256_hex;
use crate::store::invoices::Issued;
use crate::store::orders::PiiRow;
use crate::store::vies as vies_db;
use crate::zone::SellerZone;

/// What the configuration fixes for a whole run.
pub struct Drafter {
    pub seller: vat::Seller,
    /// The supplier block in each language, in the order of [`Lang::ALL`].
    pub seller_blocks: Vec<SellerBlock>,
    /// `invoices.language`.
    pub language: DocumentLanguage,
    pub table: RateTable,
    /// The seller's zone: every date of a document is the seller's day (issue #15).
    pub zone: SellerZone,
    /// SKU → tax category (`invoices.tax_categories`).
    tax_categories: BTreeMap<String, TaxCategory>,
    /// The series of invoices and of credit notes.
    prefix: String,
    credit_note_prefix: String,
}

impl Drafter {
    pub fn new(cfg: &Config) -> Result<Self, ConfigError> {
        let src = cfg.source();
        let inv = &cfg.invoices;
        let missing = |key: &str| {
            ConfigError::new(&src, Some(key), "is needed on every invoice")
                .with_hint("fill in [seller]: legal name, VAT id, street, zipcode, city and email")
        };
        let seller_blocks = Lang::ALL
            .iter()
            .map(|l| issue::seller_block(&cfg.seller, *l))
            .collect::<Result<Vec<_>, _>>()
            .map_err(missing)?;
        let seller = vat::Seller {
            country: cfg.seller.country.clone().unwrap_or_else(|| "NL".into()),
            vat_id: seller_blocks[0].vat_id.clone(),
            oss: inv.oss,
        };
        // The engine refuses anything but a Dutch seller with a Dutch VAT number; say so now
        // rather than once per order.
        if vat::regime(
            &seller,
            &vat::Buyer {
                country: "NL".into(),
                postal_code: None,
                vat_id: None,
                is_business: false,
                vat_id_confirmed: false,
            },
        )
        .is_err()
        {
            return Err(ConfigError::new(
                &src,
                Some("seller.vat_id"),
                "must be a Dutch VAT number (NL + 9 digits + B + 2 digits) of a seller established in NL",
            ));
        }
        let table = inv
            .rate_table()
            .map_err(|e| ConfigError::new(&src, Some("invoices.extra_rates"), e))?;
        let zone = cfg
            .seller
            .zone()
            .map_err(|e| ConfigError::new(&src, Some("seller.timezone"), e.to_string()))?;
        Ok(Drafter {
            seller,
            seller_blocks,
            language: inv.language,
            table,
            zone,
            tax_categories: inv.tax_categories.clone(),
            prefix: inv.prefix.clone(),
            credit_note_prefix: inv.credit_note_prefix.clone(),
        })
    }

    /// Step 1 of an invoice: the order's figures checked and turned into the engine's
    /// input. `purged`: the order's personal data is gone.
    pub fn prepare(
        &self,
        facts: &OrderFacts,
        pii: Option<&PiiRow>,
        purged: bool,
    ) -> Result<Prepared, Refusal> {
        if purged {
            return Err(Refusal::new("personal_data_purged"));
        }
        // Figures that make no sense (negative, not adding up, charged without a
        // quantity) stop here, before a number is taken, and `--accept-difference`
        // does not let them through: it is for our VAT differing from Amazon's, not
        // for Amazon's figures contradicting themselves (issue #15, item 5).
        if let Err(n) = crate::order_check::check(facts.grand_total.as_deref(), &facts.items) {
            return Err(Refusal::new(n.reason).detail(n.detail));
        }
        let lang = match self.language {
            DocumentLanguage::Fixed(l) => l,
            DocumentLanguage::Marketplace => issue::marketplace_language(
                &facts.marketplace_id,
                pii.and_then(|p| p.postal_code.as_deref()),
            ),
        };
        issue::prepare(
            facts,
            pii,
            &self.seller,
            &self.tax_categories,
            lang,
            &self.zone,
        )
    }

    /// The buyer's VAT number VIES must confirm before the exemption applies (issue #14),
    /// if any: the caller looks it up and hands the answer to [`Drafter::price`].
    pub fn vies_candidate(&self, prepared: &Prepared) -> Option<String> {
        vat::vies_candidate(&self.seller, &prepared.invoice.buyer)
    }

    /// Step 2: the VAT computed with the VIES answer (if one was needed), compared with
    /// Amazon's totals unless `accept_difference`, and the customer block.
    pub fn price(
        &self,
        mut prepared: Prepared,
        vies: Option<ViesUse>,
        pii: Option<&PiiRow>,
        is_business: bool,
        accept_difference: bool,
    ) -> Result<Priced, Refusal> {
        if let Some(u) = &vies {
            prepared.invoice.buyer.vat_id_confirmed = u.check.valid;
        }
        // Amazon zero-rated a sale whose number VIES does not confirm: its totals differ
        // from ours by the VAT we must charge, so they are not compared (the run names
        // the order instead). Where Amazon charged VAT itself, they are.
        let refuted = vies.as_ref().is_some_and(|u| !u.check.valid)
            && prepared.amazon.is_some_and(|a| a.vat.is_zero());
        let computation = compute(&prepared.invoice, &self.table).map_err(|e| vat_refusal(&e))?;
        if let Some(amazon) = prepared.amazon
            && !accept_difference
            && !refuted
            && let Err(m) = compare_with_amazon(&computation, amazon.vat, amazon.gross)
        {
            return Err(Refusal::new("amazon_totals_differ").detail(m.to_string()));
        }
        let buyer = issue::buyer_block(pii, is_business, prepared.lang)?;
        Ok(Priced {
            vies,
            computation,
            buyer,
            lang: prepared.lang,
        })
    }

    /// Step 3: the invoice, dated `today`, with the EUR rate the caller looked up for a
    /// document in another currency ([`Priced::currency`]).
    pub fn invoice(
        &self,
        facts: OrderFacts,
        priced: Priced,
        eur_rate: Option<EurRate>,
        today: Date,
    ) -> Result<Draft, Refusal> {
        let doc = InvoiceDocument::from_computation(
            &priced.computation,
            Issue {
                number: "unnumbered".into(),
                issue_date: today,
                order_id: facts.order_id.clone(),
                marketplace: issue::marketplace_name(&facts.marketplace_id),
                corrects: None,
                eur_rate,
                lang: priced.lang,
            },
            self.seller_blocks[priced.lang.index()].clone(),
            priced.buyer,
        )
        .map_err(|e| Refusal::new("document_invalid").detail(e.to_string()))?;
        Ok(Draft {
            vies: priced.vies,
            prefix: self.prefix.clone(),
            order_id: facts.order_id,
            marketplace_id: facts.marketplace_id,
            is_business: facts.is_business,
            corrects: None,
            computation: priced.computation,
            doc,
            refund: None,
        })
    }

    /// The full credit note of an issued invoice whose order was cancelled, dated
    /// `today`, in the credit-note series.
    pub fn credit_note(
        &self,
        original: &Issued,
        today: Date,
    ) -> Result<Result<Draft, Refusal>, StoredError> {
        self.correction(original, &Refund::Full, None, today)
    }

    /// The credit note of a refund Amazon paid out (issue #17): `lines` of the invoice
    /// `original`, dated `today`, its tax point the seller's day the refund was posted.
    pub fn refund_credit_note(
        &self,
        original: &Issued,
        lines: Vec<vat::RefundLine>,
        refund: RefundOf,
        today: Date,
    ) -> Result<Result<Draft, Refusal>, StoredError> {
        self.correction(original, &Refund::Lines(lines), Some(refund), today)
    }

    fn correction(
        &self,
        original: &Issued,
        what: &Refund,
        refund: Option<RefundOf>,
        today: Date,
    ) -> Result<Result<Draft, Refusal>, StoredError> {
        let invoice: InvoiceDocument =
            serde_json::from_str(&original.document).map_err(StoredError::Document)?;
        let computation: Computation =
            serde_json::from_str(&original.computation).map_err(StoredError::Computation)?;
        // A refund can be paid after the customer's data was removed (a return more than
        // 30 days after dispatch): its credit note then names the invoice and carries
        // every figure, with the customer block removed as on the purged invoice (issue
        // #17). A cancellation has always been credited before the removal.
        let buyer: Option<BuyerBlock> = match &original.buyer {
            Some(b) => Some(serde_json::from_str(b).map_err(StoredError::Buyer)?),
            None if refund.is_some() => None,
            None => return Ok(Err(Refusal::new("buyer_data_removed"))),
        };
        let removed = buyer.is_none();
        let buyer = buyer.unwrap_or_else(|| BuyerBlock {
            name: String::new(),
            company: None,
            address_lines: Vec::new(),
            country: String::new(),
            vat_id: computation.buyer_vat_id.clone(),
        });
        let reversed = match credit_note(&computation, what) {
            Ok(c) => c,
            Err(e) => return Ok(Err(vat_refusal(&e))),
        };
        let reason = if refund.is_some() {
            issue::refund_reason(invoice.lang)
        } else {
            issue::cancellation_reason(invoice.lang)
        };
        let doc = InvoiceDocument::from_computation(
            &reversed,
            Issue {
                number: "unnumbered".into(),
                issue_date: today,
                order_id: original.order_id.clone(),
                marketplace: invoice.marketplace.clone(),
                corrects: Some(OriginalInvoice {
                    number: original.number.clone(),
                    issue_date: invoice.issue_date,
                    reason: Some(reason.to_string()),
                }),
                // The rate of the invoice, so that the EUR figures cancel out exactly.
                eur_rate: invoice.eur_vat.as_ref().map(|e| e.rate.clone()),
                lang: invoice.lang,
            },
            self.seller_blocks[invoice.lang.index()].clone(),
            buyer,
        );
        let doc = match doc {
            Ok(d) if removed => d.without_buyer(),
            Ok(d) => d,
            Err(e) => return Ok(Err(Refusal::new("document_invalid").detail(e.to_string()))),
        };
        Ok(Ok(Draft {
            vies: None,
            prefix: self.credit_note_prefix.clone(),
            order_id: original.order_id.clone(),
            marketplace_id: original.marketplace_id.clone(),
            is_business: original.is_business,
            corrects: Some(original.id),
            computation: reversed,
            doc,
            refund,
        }))
    }
}

/// The refund a credit note is made for (issue #17).
#[derive(Debug, Clone)]
pub struct RefundOf {
    /// The refund's identity in the store (`refunds.refund_key`).
    pub key: String,
    /// The seller's day the refund was paid: the credit note's tax point, so the refund
    /// enters the quarter in which it was paid.
    pub paid_on: Date,
}

/// A stored document, computation or customer block that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    #[error("a stored invoice document cannot be read")]
    Document(#[source] serde_json::Error),
    #[error("a stored VAT computation cannot be read")]
    Computation(#[source] serde_json::Error),
    #[error("a stored customer block cannot be read")]
    Buyer(#[source] serde_json::Error),
}

/// A VIES answer used for one invoice.
#[derive(Debug, Clone)]
pub struct ViesUse {
    pub country_code: String,
    pub check: vies_db::Check,
    pub reused: bool,
}

/// An invoice computed and compared, waiting for its EUR rate (if any) and its document.
pub struct Priced {
    vies: Option<ViesUse>,
    computation: Computation,
    buyer: BuyerBlock,
    lang: Lang,
}

impl Priced {
    /// The document currency: other than EUR, the caller looks up the EUR rate.
    pub fn currency(&self) -> Currency {
        self.computation.currency
    }
}

/// A document computed and filled in, waiting for its number.
pub struct Draft {
    /// The VIES check the regime rests on, for the ledger (issue #14).
    pub vies: Option<ViesUse>,
    pub prefix: String,
    pub order_id: String,
    pub marketplace_id: String,
    pub is_business: bool,
    pub corrects: Option<i64>,
    pub computation: Computation,
    pub doc: InvoiceDocument,
    /// For the credit note of a refund: which one (marked credited in the same
    /// transaction) and the day it was paid.
    pub refund: Option<RefundOf>,
}

/// A numbered draft, rendered: what the store keeps of it and the PDF to write.
pub struct Sealed {
    pub pdf: Vec<u8>,
    /// The document without the customer block.
    pub document_json: String,
    pub computation_json: String,
    /// The customer block (personal data); `None` for a refund's credit note issued after
    /// the customer's data was removed (issue #17).
    pub buyer_json: Option<String>,
    /// SHA-256 of the full document (with the customer block).
    pub document_sha256: String,
    pub pdf_sha256: String,
    pub ledger: LedgerEntry,
}

impl Draft {
    /// Gives the draft its `number` and renders it. A render failure is a refusal
    /// (`render_failed`): the caller inserts nothing, so the number stays free.
    pub fn seal(
        &mut self,
        number: String,
        renderer: &Renderer,
    ) -> Result<Result<Sealed, Refusal>, serde_json::Error> {
        self.doc.number = number;
        let pdf = match renderer.render(&self.doc) {
            Ok(p) => p,
            Err(e) => return Ok(Err(Refusal::new("render_failed").detail(e.to_string()))),
        };
        let full = serde_json::to_string(&self.doc)?;
        let buyer_json = match &self.doc.buyer {
            Some(b) => Some(serde_json::to_string(b)?),
            None => None,
        };
        let document_json = serde_json::to_string(&self.doc.clone().without_buyer())?;
        let computation_json = serde_json::to_string(&self.computation)?;
        let mut ledger = ledger::entry(
            &self.doc,
            &self.computation,
            &self.marketplace_id,
            self.is_business,
        );
        if let Some(r) = &self.refund {
            ledger.tax_point = r.paid_on;
        }
        Ok(Ok(Sealed {
            document_sha256: sha256_hex(full.as_bytes()),
            pdf_sha256: sha256_hex(&pdf),
            pdf,
            document_json,
            computation_json,
            buyer_json,
            ledger,
        }))
    }
}

/// The stored document with its customer block, as it was issued; `None` once the
/// customer block was removed.
pub fn full_document(issued: &Issued) -> Result<Option<InvoiceDocument>, StoredError> {
    let Some(buyer) = &issued.buyer else {
        return Ok(None);
    };
    let doc: InvoiceDocument =
        serde_json::from_str(&issued.document).map_err(StoredError::Document)?;
    let buyer: BuyerBlock = serde_json::from_str(buyer).map_err(StoredError::Buyer)?;
    Ok(Some(InvoiceDocument {
        buyer: Some(buyer),
        ..doc
    }))
}

/// Why an issued PDF could not be rendered again.
#[derive(Debug, thiserror::Error)]
pub enum ReproduceError {
    #[error(transparent)]
    Stored(#[from] StoredError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// The issued PDF again, from the stored document and customer block; `None` when the
/// customer block is gone or this build renders different bytes.
pub fn reproduce(renderer: &Renderer, issued: &Issued) -> Result<Option<Vec<u8>>, ReproduceError> {
    let Some(doc) = full_document(issued)? else {
        return Ok(None);
    };
    let pdf = renderer.render(&doc)?;
    Ok((sha256_hex(&pdf) == issued.pdf_sha256).then_some(pdf))
}

fn vat_refusal(e: &vat::VatError) -> Refusal {
    let reason = match e {
        vat::VatError::NotEuMember(_) | vat::VatError::Unsupported(_) => "vat_unsupported",
        vat::VatError::NoRate { .. } | vat::VatError::InvalidRateEntry(_) => "vat_no_rate",
        vat::VatError::InvalidAmount { .. } => "bad_amount",
        vat::VatError::InvalidInput(_) | vat::VatError::Allocation { .. } => "vat_invalid_input",
    };
    Refusal::new(reason).detail(e.to_string())
}
