//! The upload of issued documents to Amazon (Feeds API, `UPLOAD_VAT_INVOICE`), the last
//! phase of `make-invoices` (issue #6; moved out of the command by issue #16).
//!
//! The queue in the store (`invoice_uploads`) is worked oldest first, Amazon Business
//! documents before the others (their deadline is one business day). Per document:
//! createFeedDocument, PUT of the PDF to the pre-signed URL, createFeed with the metadata
//! ([`feed_options`]); then every feed Amazon has not finished is polled once per run (no
//! sleeping in between) and, once DONE, its processing report decides: accepted, or
//! rejected with Amazon's error code kept.
//!
//! It lives beside the command rather than in `spapi/`, which is the client only and
//! knows nothing of the store: this module reads and updates the queue, reads the issued
//! PDF (or renders it again) and paces itself by the client's token buckets.
//!
//! # Pacing
//!
//! createFeed allows a burst of 15 and then one call per two minutes. A run never sleeps
//! for a token longer than [`MAX_TOKEN_WAIT`]: when the next createFeedDocument, createFeed,
//! getFeed or getFeedDocument token is further away, the run stops that part and leaves
//! the rest to the next cron run. Sleeping for minutes would hold the store's lock and make
//! every other command's run exit 4 meanwhile. With cron every ten minutes that uploads
//! about five documents per run once the burst is spent (some 720 a day).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;

use crate::clock::rfc3339;
use crate::ctx::Ctx;
use crate::error::{Classify as _, Exit};
use crate::failpoint;
use crate::files::sha256_hex;
use crate::invoice::draft;
use crate::invoice::ledger::money;
use crate::invoice::render::{InvoiceDocument, Renderer};
use crate::invoice::vat::DocumentKind;
use crate::spapi::feeds::{self, PDF};
use crate::spapi::{Operation, SpapiError};
use crate::store::invoices::{self as db, Issued};

/// The longest a run waits for a rate-limit token before leaving the rest to the next run.
pub const MAX_TOKEN_WAIT: Duration = Duration::from_secs(5);

/// What the upload did in this run.
#[derive(Debug, Default)]
pub struct Uploaded {
    pub uploaded: u64,
    pub accepted: u64,
    pub upload_errors: u64,
    pub upload_skipped: u64,
    /// Why the upload stopped early on a temporary error, if it did.
    pub upload_paused: Option<String>,
    /// Uploads left for a later run because a rate-limit token was too far away.
    pub waiting_for_tokens: bool,
    /// (document number, reason code), in the order they happened.
    pub problems: Vec<(String, String)>,
}

/// Works the upload queue and polls the open feeds once. An error stops the run: a
/// refused server, a missing role (exit 2) or the store; everything else is counted.
pub fn upload(ctx: &Ctx, command: &'static str, renderer: &Renderer) -> anyhow::Result<Uploaded> {
    let mut u = Uploader {
        ctx,
        command,
        renderer,
        done: Uploaded::default(),
    };
    u.upload()?;
    Ok(u.done)
}

struct Uploader<'a> {
    ctx: &'a Ctx,
    command: &'static str,
    renderer: &'a Renderer,
    done: Uploaded,
}

impl Uploader<'_> {
    fn now(&self) -> String {
        rfc3339(self.ctx.clock.now())
    }

    /// The queue, then the open feeds.
    fn upload(&mut self) -> anyhow::Result<()> {
        let inv = &self.ctx.config()?.invoices;
        let (queued, submitted) = {
            let store = self.ctx.store(self.command)?;
            let conn = store.conn();
            self.done.upload_skipped =
                db::skip_uploads(conn, &inv.skip_marketplaces, inv.vcs, &self.now())?;
            (db::queued_uploads(conn)?, db::submitted_uploads(conn)?)
        };
        if queued.is_empty() && submitted.is_empty() {
            return Ok(());
        }
        self.ctx.warn_secret_age()?;
        let client = self.ctx.spapi(self.command)?;
        let http = self.ctx.http()?;
        for q in &queued {
            if [Operation::CreateFeedDocument, Operation::CreateFeed]
                .iter()
                .any(|op| client.wait_for(*op) > MAX_TOKEN_WAIT)
            {
                self.done.waiting_for_tokens = true;
                break;
            }
            if !self.submit(&client, http, q.invoice_id)? {
                break;
            }
        }
        if self.done.upload_paused.is_some() {
            return Ok(());
        }
        let open = db::submitted_uploads(self.ctx.store(self.command)?.conn())?;
        for (invoice_id, number, feed_id) in open {
            if client.wait_for(Operation::GetFeed) > MAX_TOKEN_WAIT {
                self.done.waiting_for_tokens = true;
                break;
            }
            if !self.poll(&client, http, invoice_id, &number, &feed_id)? {
                break;
            }
        }
        Ok(())
    }

    /// Uploads one document. `Ok(false)` stops the upload phase for this run.
    fn submit(
        &mut self,
        client: &crate::spapi::Client<'_>,
        http: &reqwest::blocking::Client,
        invoice_id: i64,
    ) -> anyhow::Result<bool> {
        let issued = db::issued(self.ctx.store(self.command)?.conn(), invoice_id)?
            .context("a queued document vanished")?;
        let stored: InvoiceDocument = serde_json::from_str(&issued.document)
            .context("a stored invoice document cannot be read")?;
        let Some(pdf) = self.issued_pdf(&issued)? else {
            self.finish_upload(
                invoice_id,
                &issued.number,
                false,
                "NOT_SENT",
                Some(("pdf_unavailable", "the issued PDF can no longer be produced (customer data removed, or a different build)")),
            )?;
            return Ok(true);
        };
        let transaction_id = match self.ctx.config()?.invoices.credit_note_transaction_id {
            crate::config::TransactionIdSource::Refund => crate::store::refunds::transaction_id(
                self.ctx.store(self.command)?.conn(),
                invoice_id,
            )?,
            crate::config::TransactionIdSource::Number => None,
        };
        let options = feed_options(&stored, transaction_id.as_deref());
        let doc = match feeds::create_document(client, PDF) {
            Ok(d) => d,
            Err(e) => return self.upload_failed(invoice_id, &issued.number, e),
        };
        failpoint::hit("upload:document-created");
        if let Err(e) = feeds::put_document(http, &doc.url, PDF, pdf) {
            let msg = format!("upload of the PDF failed: {e}");
            db::mark_retry(
                self.ctx.store(self.command)?.conn(),
                invoice_id,
                &msg,
                &self.now(),
            )?;
            if let feeds::TransferError::Tls(refused) = e {
                // Queued again above; a refused server stops the run for a person.
                return Err(refused.into());
            }
            if e.is_temporary() {
                self.done.upload_paused = Some(msg);
                return Ok(false);
            }
            self.done.upload_errors += 1;
            self.done
                .problems
                .push((issued.number.clone(), "upload_failed".into()));
            return Ok(true);
        }
        failpoint::hit("upload:document-put");
        let feed_id = match feeds::create_feed(
            client,
            &issued.marketplace_id,
            &doc.feed_document_id,
            &options,
        ) {
            Ok(id) => id,
            Err(e) => return self.upload_failed(invoice_id, &issued.number, e),
        };
        // A crash right here loses the feed id; the next run uploads again and Amazon
        // reports the second upload as a duplicate number (see docs/invoices.md).
        failpoint::hit("upload:feed-created");
        db::mark_submitted(
            self.ctx.store(self.command)?.conn(),
            invoice_id,
            &doc.feed_document_id,
            &feed_id,
            &self.now(),
        )?;
        tracing::info!(number = %issued.number, feed_id = %feed_id, "invoice submitted to Amazon");
        self.done.uploaded += 1;
        Ok(true)
    }

    /// Sorts an SP-API error during an upload: temporary ones pause the upload (the
    /// document stays queued), a missing role ends the run (exit 2), others reject the
    /// document with Amazon's code.
    fn upload_failed(
        &mut self,
        invoice_id: i64,
        number: &str,
        e: SpapiError,
    ) -> anyhow::Result<bool> {
        match e.exit() {
            Exit::Temporary => {
                let msg = e.to_string();
                db::mark_retry(
                    self.ctx.store(self.command)?.conn(),
                    invoice_id,
                    &msg,
                    &self.now(),
                )?;
                self.done.upload_paused = Some(msg);
                Ok(false)
            }
            Exit::Config => Err(e.into()),
            _ => {
                let code = match &e {
                    SpapiError::BadRequest { code, .. } => code.clone(),
                    _ => "request_failed".into(),
                };
                self.finish_upload(
                    invoice_id,
                    number,
                    false,
                    "NOT_SENT",
                    Some((&code, &e.to_string())),
                )?;
                Ok(true)
            }
        }
    }

    fn finish_upload(
        &mut self,
        invoice_id: i64,
        number: &str,
        accepted: bool,
        status: &str,
        error: Option<(&str, &str)>,
    ) -> anyhow::Result<()> {
        db::mark_finished(
            self.ctx.store(self.command)?.conn(),
            invoice_id,
            accepted,
            status,
            error,
            &self.now(),
        )?;
        if accepted {
            self.done.accepted += 1;
        } else {
            let code = error.map_or("rejected", |e| e.0);
            tracing::warn!(number, code, "Amazon did not accept the document");
            self.done.upload_errors += 1;
            self.done
                .problems
                .push((number.to_string(), format!("upload_rejected:{code}")));
        }
        Ok(())
    }

    /// Polls one feed once; reads its report when it is done. `Ok(false)` stops polling.
    fn poll(
        &mut self,
        client: &crate::spapi::Client<'_>,
        http: &reqwest::blocking::Client,
        invoice_id: i64,
        number: &str,
        feed_id: &str,
    ) -> anyhow::Result<bool> {
        let feed = match feeds::get_feed(client, feed_id) {
            Ok(f) => f,
            Err(e) => return self.upload_failed(invoice_id, number, e),
        };
        if !feed.is_final() {
            db::mark_processing(
                self.ctx.store(self.command)?.conn(),
                invoice_id,
                &feed.processing_status,
                &self.now(),
            )?;
            return Ok(true);
        }
        let report = match &feed.result_feed_document_id {
            None => None,
            Some(doc_id) => {
                if client.wait_for(Operation::GetFeedDocument) > MAX_TOKEN_WAIT {
                    self.done.waiting_for_tokens = true;
                    return Ok(false);
                }
                let doc = match feeds::get_document(client, doc_id) {
                    Ok(d) => d,
                    Err(e) => return self.upload_failed(invoice_id, number, e),
                };
                match feeds::download(http, &doc) {
                    Ok(bytes) => Some(feeds::parse_report(&String::from_utf8_lossy(&bytes))),
                    // The feed stays open; a refused server stops the run for a person.
                    Err(feeds::TransferError::Tls(refused)) => return Err(refused.into()),
                    Err(e) if e.is_temporary() => {
                        self.done.upload_paused = Some(format!("report download failed: {e}"));
                        return Ok(false);
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        self.finish_upload(
                            invoice_id,
                            number,
                            false,
                            &feed.processing_status,
                            Some(("report_unreadable", &msg)),
                        )?;
                        return Ok(true);
                    }
                }
            }
        };
        let status = feed.processing_status.as_str();
        match report {
            Some(r) if status == "DONE" && r.accepted() => {
                self.finish_upload(invoice_id, number, true, status, None)?;
            }
            Some(r) => {
                let (code, message) = r
                    .errors
                    .first()
                    .cloned()
                    .unwrap_or_else(|| (status.to_string(), String::new()));
                self.finish_upload(invoice_id, number, false, status, Some((&code, &message)))?;
            }
            None => {
                self.finish_upload(
                    invoice_id,
                    number,
                    false,
                    status,
                    Some((status, "the feed ended without a processing report")),
                )?;
            }
        }
        Ok(true)
    }

    /// The issued PDF: the file on disk when it is intact, else rendered again.
    fn issued_pdf(&self, issued: &Issued) -> anyhow::Result<Option<Vec<u8>>> {
        if let Ok(bytes) = std::fs::read(&issued.file_path)
            && sha256_hex(&bytes) == issued.pdf_sha256
        {
            return Ok(Some(bytes));
        }
        Ok(draft::reproduce(self.renderer, issued)?)
    }
}

/// The `feedOptions` of a document: the figures printed on it, two decimals.
///
/// `transaction_id`: for a credit note, what goes in `metadata:transactionid` (the
/// refund's identifier or the credit note's number, see docs/invoices.md); `None` sends
/// the credit note's number.
pub fn feed_options(
    doc: &InvoiceDocument,
    transaction_id: Option<&str>,
) -> BTreeMap<String, String> {
    let mut o = BTreeMap::new();
    o.insert("metadata:orderid".to_string(), doc.order_id.clone());
    o.insert("metadata:invoicenumber".to_string(), doc.number.clone());
    o.insert(
        "metadata:documenttype".to_string(),
        match doc.kind {
            DocumentKind::Invoice => "Invoice",
            DocumentKind::CreditNote => "CreditNote",
        }
        .to_string(),
    );
    o.insert("metadata:totalamount".to_string(), money(doc.total_gross));
    o.insert("metadata:totalvatamount".to_string(), money(doc.total_vat));
    if doc.kind == DocumentKind::CreditNote {
        // Amazon wants the refund's transaction id, and does not say where a seller who
        // computes its own VAT finds it (issue #17): a refund's credit note sends the
        // refund's adjustment id or its own number (invoices.credit_note_transaction_id);
        // a cancellation has no refund, so its number stands in (see docs/invoices.md).
        o.insert(
            "metadata:transactionid".to_string(),
            transaction_id.map_or_else(|| doc.number.clone(), str::to_string),
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::ledger;
    use crate::invoice::rates::{RateTable, TaxCategory};
    use crate::invoice::render::{BuyerBlock, EurRate, Issue, OriginalInvoice, SellerBlock};
    use crate::invoice::vat::{
        Buyer, Computation, Currency, Invoice, Lang, Line, LineKind, Refund, Seller, compute,
        credit_note,
    };
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn arb_line() -> impl Strategy<Value = (LineKind, i64, bool, u32)> {
        (
            prop::sample::select(vec![
                LineKind::Goods,
                LineKind::Goods,
                LineKind::Shipping,
                LineKind::Discount,
            ]),
            1i64..200_000,
            any::<bool>(),
            0u32..4,
        )
    }

    fn arb_invoice() -> impl Strategy<Value = Invoice> {
        (
            prop::sample::select(vec!["NL", "DE", "FR", "SE", "PL", "BE", "IT"]),
            any::<bool>(),
            prop::sample::select(vec![Currency::Eur, Currency::Sek, Currency::Pln]),
            prop::collection::vec(arb_line(), 1..7),
        )
            .prop_map(|(country, business, currency, raw)| {
                let mut lines = vec![Line {
                    kind: LineKind::Goods,
                    description: "Goods".into(),
                    sku: None,
                    quantity: 1,
                    gross: Decimal::new(1999, 2),
                    category: TaxCategory::Standard,
                    belongs_to: None,
                }];
                for (kind, cents, books, quantity) in raw {
                    let gross = match kind {
                        LineKind::Discount => -Decimal::new(cents.min(999), 2),
                        _ => Decimal::new(cents, 2),
                    };
                    lines.push(Line {
                        kind,
                        description: format!("{kind:?}"),
                        sku: None,
                        quantity,
                        gross,
                        category: if books {
                            TaxCategory::Books
                        } else {
                            TaxCategory::Standard
                        },
                        belongs_to: None,
                    });
                }
                Invoice {
                    seller: Seller {
                        country: "NL".into(),
                        vat_id: "NL000099998B57".into(),
                        oss: true,
                    },
                    buyer: Buyer {
                        country: country.into(),
                        postal_code: None,
                        vat_id: business.then(|| "DE123456789".into()),
                        is_business: business,
                        vat_id_confirmed: business,
                    },
                    supply_date: time::macros::date!(2026 - 09 - 15),
                    currency,
                    lines,
                }
            })
    }

    fn blocks() -> (SellerBlock, BuyerBlock) {
        (
            SellerBlock {
                legal_name: "Voorbeeld B.V.".into(),
                address_lines: vec!["Voorbeeldweg 10".into(), "3511AB Utrecht".into()],
                country: "Netherlands".into(),
                vat_id: "NL000099998B57".into(),
                chamber_of_commerce: None,
                email: "a@b.nl".into(),
            },
            BuyerBlock {
                name: "A. Buyer".into(),
                company: None,
                address_lines: vec!["Street 1".into()],
                country: "Germany".into(),
                vat_id: None,
            },
        )
    }

    fn document(
        c: &Computation,
        number: &str,
        rate: Option<EurRate>,
        corrects: Option<OriginalInvoice>,
    ) -> InvoiceDocument {
        let (seller, buyer) = blocks();
        InvoiceDocument::from_computation(
            c,
            Issue {
                number: number.into(),
                issue_date: time::macros::date!(2026 - 11 - 20),
                order_id: "028-1234567-1234567".into(),
                marketplace: "amazon.de".into(),
                corrects,
                eur_rate: rate,
                lang: Lang::En,
            },
            seller,
            buyer,
        )
        .expect("document")
    }

    proptest! {
        /// Ledger totals = printed totals = uploaded totals, per rate and in EUR; and a
        /// full credit note is the exact negative of its invoice, also in EUR.
        #[test]
        fn ledger_pdf_and_feed_totals_agree(invoice in arb_invoice(), cents in 100i64..3000) {
            let Ok(c) = compute(&invoice, &RateTable::builtin()) else {
                return Err(TestCaseError::reject("the engine refuses this one"));
            };
            let rate = (c.currency != Currency::Eur).then(|| EurRate {
                rate: Decimal::new(cents, 2),
                date: time::macros::date!(2026 - 11 - 20),
                source: "test".into(),
            });
            let doc = document(&c, "INV-2026-000001", rate.clone(), None);
            let l = ledger::entry(&doc, &c, "A1PA6795UKMFR9", invoice.buyer.is_business);
            prop_assert_eq!((l.total_net, l.total_vat, l.total_gross), (doc.total_net, doc.total_vat, doc.total_gross));
            let sum = |f: fn(&ledger::LedgerRate) -> Decimal| l.rates.iter().map(f).sum::<Decimal>();
            prop_assert_eq!((sum(|r| r.net), sum(|r| r.vat), sum(|r| r.gross)), (l.total_net, l.total_vat, l.total_gross));
            prop_assert_eq!(l.total_vat_eur, doc.eur_vat.as_ref().map_or(doc.total_vat, |e| e.vat_eur));
            prop_assert_eq!(l.buyer_vat_id.is_some(), l.reverse_charge);
            let o = feed_options(&doc, None);
            prop_assert_eq!(&o["metadata:totalamount"], &money(l.total_gross));
            prop_assert_eq!(&o["metadata:totalvatamount"], &money(l.total_vat));

            let cn = credit_note(&c, &Refund::Full).expect("credit note");
            let cdoc = document(&cn, "CN-2026-000001", rate, Some(OriginalInvoice {
                number: doc.number.clone(),
                issue_date: doc.issue_date,
                reason: None,
            }));
            let cl = ledger::entry(&cdoc, &cn, "A1PA6795UKMFR9", invoice.buyer.is_business);
            prop_assert_eq!((cl.total_gross, cl.total_vat, cl.total_vat_eur, cl.total_net_eur), (-l.total_gross, -l.total_vat, -l.total_vat_eur, -l.total_net_eur));
            prop_assert_eq!(&feed_options(&cdoc, None)["metadata:totalamount"], &money(-l.total_gross));
        }
    }
}
