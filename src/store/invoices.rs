//! Invoices, credit notes, the tax ledger, the upload queue and the exchange-rate cache
//! (migration 0003, issue #6).
//!
//! Issued documents are inserted once and never updated: the only statements that touch
//! `invoices` are the insert in [`insert_document`] and reads. Numbers are taken with
//! [`next_seq`] inside the transaction that inserts the document, so the series has no
//! gaps and no repeats whatever happens to the process; [`issue_documents`] is that
//! transaction for a batch of drafts (issue #16).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};
use time::Date;

use super::StoreError;
use super::orders::{self as order_db, ItemRow};
use super::vies as vies_db;
use crate::invoice::draft::{Draft, Sealed};
use crate::invoice::issue::{self, OrderFacts, Refusal};
use crate::invoice::ledger::{
    LedgerEntry, LedgerRate, ReportRow, code_name, iso, kind_name, money, regime_name,
};
use crate::invoice::vat::VatCode;

/// Orders that need an invoice: shipped (by us, elsewhere, or by Amazon), with a date of
/// supply, fulfilled by one of `fulfilled_by`, and without an invoice yet. Oldest first.
pub fn invoice_candidates(
    conn: &Connection,
    fulfilled_by: &[String],
) -> Result<Vec<String>, StoreError> {
    let list = serde_json::to_string(fulfilled_by).unwrap_or_else(|_| "[]".into());
    let mut stmt = conn.prepare(
        "SELECT o.order_id FROM orders o
         WHERE o.stage IN ('shipped', 'shipped_elsewhere', 'amazon_fulfilled')
           AND o.fulfilled_at IS NOT NULL
           AND o.fulfilled_by IN (SELECT value FROM json_each(?1))
           AND NOT EXISTS (SELECT 1 FROM invoices i
                           WHERE i.order_id = o.order_id AND i.kind = 'invoice')
           -- An order whose personal data went before it was invoiced is reported once.
           AND NOT (o.pii_purged_at IS NOT NULL AND EXISTS (
                   SELECT 1 FROM order_issues x WHERE x.order_id = o.order_id
                   AND x.command = 'make-invoices' AND x.reason = 'personal_data_purged'))
         ORDER BY o.fulfilled_at, o.order_id",
    )?;
    let rows = stmt
        .query_map([list], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The anonymous facts of an order with its items.
pub fn order_facts(conn: &Connection, order_id: &str) -> Result<Option<OrderFacts>, StoreError> {
    let Some(mut facts) = conn
        .prepare_cached(
            "SELECT order_id, marketplace_id, is_business, currency, grand_total,
                    destination_country, fulfilled_at
             FROM orders WHERE order_id = ?1",
        )?
        .query_row([order_id], |r| {
            Ok(OrderFacts {
                order_id: r.get(0)?,
                marketplace_id: r.get(1)?,
                is_business: r.get(2)?,
                currency: r.get(3)?,
                grand_total: r.get(4)?,
                destination_country: r.get(5)?,
                fulfilled_at: r.get(6)?,
                items: Vec::new(),
            })
        })
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT order_item_id, seller_sku, asin, title, quantity, quantity_shipped, unit_price,
                currency, item_amount, shipping_amount, gift_wrap_amount, discount_amount,
                tax_amount, other_amount, proceeds_total
         FROM order_items WHERE order_id = ?1",
    )?;
    facts.items = stmt
        .query_map([order_id], |r| {
            Ok(ItemRow {
                order_item_id: r.get(0)?,
                seller_sku: r.get(1)?,
                asin: r.get(2)?,
                title: r.get(3)?,
                quantity: r.get(4)?,
                quantity_shipped: r.get(5)?,
                unit_price: r.get(6)?,
                currency: r.get(7)?,
                item_amount: r.get(8)?,
                shipping_amount: r.get(9)?,
                gift_wrap_amount: r.get(10)?,
                discount_amount: r.get(11)?,
                tax_amount: r.get(12)?,
                other_amount: r.get(13)?,
                proceeds_total: r.get(14)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(facts))
}

/// Whether the order's personal data was removed (then no full invoice can be made).
pub fn pii_purged(conn: &Connection, order_id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT pii_purged_at IS NOT NULL FROM orders WHERE order_id = ?1")?
        .query_row([order_id], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// Invoices of orders that are now cancelled and have no credit note yet.
pub fn credit_candidates(conn: &Connection) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT i.id FROM invoices i JOIN orders o ON o.order_id = i.order_id
         WHERE i.kind = 'invoice' AND o.stage = 'cancelled'
           AND NOT EXISTS (SELECT 1 FROM invoices c
                           WHERE c.corrects = i.id AND c.kind = 'credit_note')
         ORDER BY i.id",
    )?;
    let rows = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// An issued document as stored.
#[derive(Clone)]
pub struct Issued {
    pub id: i64,
    pub number: String,
    pub kind: String,
    pub order_id: String,
    pub marketplace_id: String,
    pub issue_date: String,
    /// The InvoiceDocument JSON without the customer block.
    pub document: String,
    /// The VAT engine's Computation JSON.
    pub computation: String,
    /// The customer block JSON (personal data), until purge removes it.
    pub buyer: Option<String>,
    pub pdf_sha256: String,
    pub pdf_bytes: i64,
    pub file_path: String,
    pub is_business: bool,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("id", &self.id)
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

/// The columns of an [`Issued`], in the order [`issued_row`] reads them.
const ISSUED_SELECT: &str =
    "SELECT i.id, i.number, i.kind, i.order_id, i.marketplace_id, i.issue_date,
        i.document, i.computation, p.buyer, i.pdf_sha256, i.pdf_bytes, i.file_path,
        COALESCE(l.is_b2b, 0)
     FROM invoices i
     LEFT JOIN invoice_pii p ON p.invoice_id = i.id
     LEFT JOIN tax_ledger l ON l.number = i.number";

fn issued_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Issued> {
    Ok(Issued {
        id: r.get(0)?,
        number: r.get(1)?,
        kind: r.get(2)?,
        order_id: r.get(3)?,
        marketplace_id: r.get(4)?,
        issue_date: r.get(5)?,
        document: r.get(6)?,
        computation: r.get(7)?,
        buyer: r.get(8)?,
        pdf_sha256: r.get(9)?,
        pdf_bytes: r.get(10)?,
        file_path: r.get(11)?,
        is_business: r.get(12)?,
    })
}

/// One issued document with its customer block.
pub fn issued(conn: &Connection, id: i64) -> Result<Option<Issued>, StoreError> {
    Ok(conn
        .query_row(
            &format!("{ISSUED_SELECT} WHERE i.id = ?1"),
            [id],
            issued_row,
        )
        .optional()?)
}

/// Every issued document with its customer block (while purge has not taken it), in
/// order of issue.
pub fn documents(conn: &Connection) -> Result<Vec<Issued>, StoreError> {
    let mut stmt = conn.prepare(&format!("{ISSUED_SELECT} ORDER BY i.id"))?;
    let rows = stmt
        .query_map([], issued_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The next number in a series (`prefix`, `year`): one more than the highest issued.
/// Call it inside the transaction that inserts the document.
pub fn next_seq(tx: &Transaction<'_>, prefix: &str, year: i32) -> Result<i64, StoreError> {
    Ok(tx
        .prepare_cached(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM invoices WHERE prefix = ?1 AND year = ?2",
        )?
        .query_row(params![prefix, year], |r| r.get(0))?)
}

/// Everything written when a document is issued.
pub struct NewDocument<'a> {
    pub prefix: &'a str,
    pub year: i32,
    pub seq: i64,
    pub corrects: Option<i64>,
    pub issued_at: &'a str,
    pub document_json: &'a str,
    pub computation_json: &'a str,
    /// `None`: issued without a customer block (no `invoice_pii` row).
    pub buyer_json: Option<&'a str>,
    pub document_sha256: &'a str,
    pub pdf_sha256: &'a str,
    pub pdf_bytes: usize,
    /// Where the PDF goes, also recorded in `tracked_files` so that purge finds it.
    pub file_path: &'a str,
    pub ledger: &'a LedgerEntry,
    /// Upload ahead of the others (Amazon Business: one business day to upload).
    pub urgent: bool,
}

/// Inserts the document, its customer block, its ledger entry, its upload-queue row and
/// its file record, in the caller's transaction. Returns the document's id.
pub fn insert_document(tx: &Transaction<'_>, d: &NewDocument<'_>) -> Result<i64, StoreError> {
    let l = d.ledger;
    tx.prepare_cached(
        "INSERT INTO invoices(number, kind, prefix, year, seq, order_id, marketplace_id, corrects,
            issue_date, issued_at, document, computation, document_sha256, pdf_sha256, pdf_bytes,
            file_path)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        l.number,
        kind_name(l.kind),
        d.prefix,
        d.year,
        d.seq,
        l.order_id,
        l.marketplace_id,
        d.corrects,
        iso(l.issue_date),
        d.issued_at,
        d.document_json,
        d.computation_json,
        d.document_sha256,
        d.pdf_sha256,
        i64::try_from(d.pdf_bytes).unwrap_or(i64::MAX),
        d.file_path,
    ])?;
    let id = tx.last_insert_rowid();
    if let Some(buyer) = d.buyer_json {
        tx.prepare_cached(
            "INSERT INTO invoice_pii(invoice_id, order_id, buyer) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id, l.order_id, buyer])?;
    }
    insert_ledger(tx, l, d.issued_at)?;
    tx.prepare_cached(
        "INSERT INTO invoice_uploads(invoice_id, marketplace_id, priority, status, queued_at,
            updated_at)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?4)",
    )?
    .execute(params![
        id,
        l.marketplace_id,
        i64::from(d.urgent),
        d.issued_at
    ])?;
    super::written_files::record(
        tx,
        &super::written_files::NewFile {
            path: d.file_path,
            kind: "invoice",
            order_ids: std::slice::from_ref(&l.order_id),
            size: d.pdf_bytes as u64,
            sha256: d.pdf_sha256,
            now: d.issued_at,
        },
    )?;
    Ok(id)
}

/// The command whose order issues [`issue_documents`] records and clears.
const COMMAND: &str = "make-invoices";

/// A batch of drafts to number and store in one transaction.
pub struct Batch<'a> {
    /// The year of the series (the seller's year of the date of issue).
    pub year: i32,
    pub issued_at: &'a str,
    /// The invoices directory: a document's PDF is `<dir>/<number>.pdf`.
    pub dir: &'a Path,
    /// Orders that get no document this run, recorded in `order_issues` in the same
    /// transaction.
    pub refused: &'a [(String, Refusal)],
}

/// A document numbered and committed whose PDF still has to be written.
pub struct Written {
    pub path: PathBuf,
    pub pdf: Vec<u8>,
}

/// What a committed batch leaves to the caller.
pub struct Committed {
    /// The documents issued, in order of their numbers.
    pub written: Vec<Written>,
    /// Drafts that could not be sealed (rendered): nothing was inserted, their numbers
    /// stayed free, and the refusal is recorded like those of [`Batch::refused`].
    pub render_failures: Vec<(String, Refusal)>,
    /// Orders invoiced with VAT because VIES did not confirm the buyer's number.
    pub vies_invalid: Vec<String>,
}

/// Numbers and stores `drafts` in one transaction, and records the refusals of the
/// batch: per document, `seal` gets the draft and its number and returns what is stored
/// (or a refusal, which leaves the number to the next draft); then the document, its
/// customer block, ledger entry, upload-queue row, file record and VIES consultation
/// are inserted and the order's open issue cleared. Nothing is written to disk here:
/// the PDFs are the caller's after the commit.
///
/// The errors of the transaction and of `seal` go up as they are (hence `anyhow`), so
/// that a run fails exactly as it did when the command held this transaction.
pub fn issue_documents(
    conn: &mut Connection,
    batch: &Batch<'_>,
    drafts: Vec<Draft>,
    mut seal: impl FnMut(&mut Draft, String) -> anyhow::Result<Result<Sealed, Refusal>>,
) -> anyhow::Result<Committed> {
    let (year, at) = (batch.year, batch.issued_at);
    let mut written = Vec::with_capacity(drafts.len());
    let mut render_failures = Vec::new();
    let mut fallback = Vec::new();
    let tx = conn.transaction()?;
    // The next free number of each series, read once per transaction; nothing else
    // writes while this run holds the lock.
    let mut next: HashMap<String, i64> = HashMap::new();
    for mut d in drafts {
        let seq = match next.get(&d.prefix) {
            Some(n) => *n,
            None => next_seq(&tx, &d.prefix, year)?,
        };
        let number = issue::document_number(&d.prefix, year, seq);
        let sealed = match seal(&mut d, number)? {
            Ok(s) => s,
            Err(refusal) => {
                // Nothing was inserted, so the number stays free.
                render_failures.push((d.order_id.clone(), refusal));
                continue;
            }
        };
        let path = batch.dir.join(format!("{}.pdf", d.doc.number));
        let path_text = path.to_string_lossy().into_owned();
        let id = insert_document(
            &tx,
            &NewDocument {
                prefix: &d.prefix,
                year,
                seq,
                corrects: d.corrects,
                issued_at: at,
                document_json: &sealed.document_json,
                computation_json: &sealed.computation_json,
                buyer_json: sealed.buyer_json.as_deref(),
                document_sha256: &sealed.document_sha256,
                pdf_sha256: &sealed.pdf_sha256,
                pdf_bytes: sealed.pdf.len(),
                file_path: &path_text,
                ledger: &sealed.ledger,
                urgent: d.is_business,
            },
        )?;
        if let Some(r) = &d.refund {
            super::refunds::mark_credited(&tx, &r.key, id, at)?;
        }
        if let Some(v) = &d.vies {
            vies_db::record_for_document(&tx, &d.doc.number, &v.country_code, &v.check, v.reused)?;
            if !v.check.valid {
                fallback.push(d.order_id.clone());
            }
        }
        next.insert(d.prefix.clone(), seq + 1);
        order_db::clear_issue(&tx, &d.order_id, COMMAND)?;
        tracing::info!(order_id = %d.order_id, number = %d.doc.number, "document issued");
        written.push(Written {
            path,
            pdf: sealed.pdf,
        });
    }
    for (order_id, r) in batch.refused.iter().chain(render_failures.iter()) {
        order_db::record_issue(&tx, order_id, COMMAND, r.reason, r.detail.as_deref(), at)?;
    }
    crate::failpoint::hit("make-invoices:before-commit");
    tx.commit()?;
    Ok(Committed {
        written,
        render_failures,
        vies_invalid: fallback,
    })
}

fn insert_ledger(tx: &Transaction<'_>, l: &LedgerEntry, at: &str) -> Result<(), StoreError> {
    let (rate, rate_date, rate_source) = match &l.eur_rate {
        Some(r) => (
            Some(r.rate.normalize().to_string()),
            Some(iso(r.date)),
            Some(r.source.clone()),
        ),
        None => (None, None, None),
    };
    tx.prepare_cached(
        "INSERT INTO tax_ledger(number, kind, issue_date, supply_date, tax_point, order_id,
            marketplace_id, corrects_number, corrects_date, regime, vat_country,
            destination_country, currency, total_net, total_vat, total_gross, eur_rate,
            eur_rate_date, eur_rate_source, total_net_eur, total_vat_eur, total_gross_eur,
            is_b2b, reverse_charge, buyer_vat_id, seller_vat_id, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
            ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
    )?
    .execute(params![
        l.number,
        kind_name(l.kind),
        iso(l.issue_date),
        iso(l.supply_date),
        iso(l.tax_point),
        l.order_id,
        l.marketplace_id,
        l.corrects.as_ref().map(|c| c.0.clone()),
        l.corrects.as_ref().map(|c| iso(c.1)),
        regime_name(l.regime),
        l.vat_country,
        l.destination_country,
        l.currency,
        money(l.total_net),
        money(l.total_vat),
        money(l.total_gross),
        rate,
        rate_date,
        rate_source,
        money(l.total_net_eur),
        money(l.total_vat_eur),
        money(l.total_gross_eur),
        l.is_b2b,
        l.reverse_charge,
        l.buyer_vat_id,
        l.seller_vat_id,
        at,
    ])?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO tax_ledger_rates(number, rate, code, net, vat, gross, net_eur, vat_eur)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for r in &l.rates {
        ins.execute(params![
            l.number,
            r.rate.normalize().to_string(),
            code_name(r.code),
            money(r.net),
            money(r.vat),
            money(r.gross),
            money(r.net_eur),
            money(r.vat_eur),
        ])?;
    }
    Ok(())
}

/// Documents whose PDF may need writing again: still holding the customer block, with a
/// file record that purge has not removed. (id, file path, expected size).
pub fn files_to_check(conn: &Connection) -> Result<Vec<(i64, String, i64)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT i.id, f.path, i.pdf_bytes FROM invoices i
         JOIN invoice_pii p ON p.invoice_id = i.id
         JOIN tracked_files f ON f.path = i.file_path AND f.removed_at IS NULL
         ORDER BY i.id",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Ledger entries whose tax point lies in `from..=to`, for the tax report.
pub fn report_rows(conn: &Connection, from: Date, to: Date) -> Result<Vec<ReportRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT l.number, l.regime, l.vat_country, l.currency, o.tax_point, l.buyer_vat_id
         FROM tax_ledger l LEFT JOIN tax_ledger o ON o.number = l.corrects_number
         WHERE l.tax_point BETWEEN ?1 AND ?2 ORDER BY l.number",
    )?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let mut rows = stmt
        .query_map(params![iso(from), iso(to)], |r| {
            let corrects: Option<String> = r.get(4)?;
            Ok(ReportRow {
                number: r.get(0)?,
                regime: r.get(1)?,
                vat_country: r.get(2)?,
                currency: r.get(3)?,
                corrects_tax_point: corrects.and_then(|d| Date::parse(&d, &fmt).ok()),
                buyer_vat_id: r.get(5)?,
                rates: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut rates = conn.prepare_cached(
        "SELECT rate, code, net, vat, gross, net_eur, vat_eur FROM tax_ledger_rates
         WHERE number = ?1 ORDER BY rate",
    )?;
    let dec = |s: String| s.parse::<rust_decimal::Decimal>().unwrap_or_default();
    for row in &mut rows {
        row.rates = rates
            .query_map([&row.number], |r| {
                let code: String = r.get(1)?;
                Ok(LedgerRate {
                    rate: dec(r.get(0)?),
                    code: match code.as_str() {
                        "K" => VatCode::K,
                        "Z" => VatCode::Z,
                        _ => VatCode::S,
                    },
                    net: dec(r.get(2)?),
                    vat: dec(r.get(3)?),
                    gross: dec(r.get(4)?),
                    net_eur: dec(r.get(5)?),
                    vat_eur: dec(r.get(6)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
    }
    Ok(rows)
}

// --- the upload queue ---------------------------------------------------------------

/// Marks queued uploads that must not go to Amazon as skipped: those of `marketplaces`, or
/// all of them when `vcs` is set. Returns how many.
pub fn skip_uploads(
    conn: &Connection,
    marketplaces: &[String],
    vcs: bool,
    at: &str,
) -> Result<u64, StoreError> {
    let mut n = 0;
    if vcs {
        n += conn.execute(
            "UPDATE invoice_uploads SET status = 'skipped', reason = 'vcs', updated_at = ?1
             WHERE status = 'queued'",
            [at],
        )?;
    }
    let list = serde_json::to_string(marketplaces).unwrap_or_else(|_| "[]".into());
    n += conn.execute(
        "UPDATE invoice_uploads SET status = 'skipped', reason = 'marketplace_without_upload',
            updated_at = ?2
         WHERE status = 'queued' AND marketplace_id IN (SELECT value FROM json_each(?1))",
        params![list, at],
    )?;
    Ok(n as u64)
}

/// A document waiting for upload.
#[derive(Debug, Clone)]
pub struct QueuedUpload {
    pub invoice_id: i64,
    pub number: String,
}

/// Queued uploads, urgent ones first, then in order of issue.
pub fn queued_uploads(conn: &Connection) -> Result<Vec<QueuedUpload>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT u.invoice_id, i.number FROM invoice_uploads u JOIN invoices i ON i.id = u.invoice_id
         WHERE u.status = 'queued' ORDER BY u.priority DESC, u.invoice_id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(QueuedUpload {
                invoice_id: r.get(0)?,
                number: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Uploads whose feed Amazon has not finished: (invoice id, number, feed id).
pub fn submitted_uploads(conn: &Connection) -> Result<Vec<(i64, String, String)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT u.invoice_id, i.number, u.feed_id FROM invoice_uploads u
         JOIN invoices i ON i.id = u.invoice_id
         WHERE u.status = 'submitted' AND u.feed_id IS NOT NULL ORDER BY u.invoice_id",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The feed was created: from now on only its outcome is awaited.
pub fn mark_submitted(
    conn: &Connection,
    invoice_id: i64,
    feed_document_id: &str,
    feed_id: &str,
    at: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE invoice_uploads SET status = 'submitted', feed_document_id = ?2, feed_id = ?3,
            processing_status = 'IN_QUEUE', attempts = attempts + 1, error_code = NULL,
            error_message = NULL, submitted_at = ?4, updated_at = ?4
         WHERE invoice_id = ?1",
        params![invoice_id, feed_document_id, feed_id, at],
    )?;
    Ok(())
}

/// A try that failed for a reason that may pass: the document stays queued.
pub fn mark_retry(
    conn: &Connection,
    invoice_id: i64,
    message: &str,
    at: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE invoice_uploads SET attempts = attempts + 1, error_message = ?2, updated_at = ?3
         WHERE invoice_id = ?1",
        params![invoice_id, message, at],
    )?;
    Ok(())
}

/// Amazon's processing status while the feed is not done.
pub fn mark_processing(
    conn: &Connection,
    invoice_id: i64,
    status: &str,
    at: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE invoice_uploads SET processing_status = ?2, updated_at = ?3 WHERE invoice_id = ?1",
        params![invoice_id, status, at],
    )?;
    Ok(())
}

/// The final verdict: `accepted`, or `rejected` with Amazon's error.
pub fn mark_finished(
    conn: &Connection,
    invoice_id: i64,
    accepted: bool,
    processing_status: &str,
    error: Option<(&str, &str)>,
    at: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE invoice_uploads SET status = ?2, processing_status = ?3, error_code = ?4,
            error_message = ?5, finished_at = ?6, updated_at = ?6
         WHERE invoice_id = ?1",
        params![
            invoice_id,
            if accepted { "accepted" } else { "rejected" },
            processing_status,
            error.map(|e| e.0),
            error.map(|e| e.1),
            at
        ],
    )?;
    Ok(())
}

/// How many documents of each kind (`invoice`, `credit_note`) were issued.
pub fn document_counts(conn: &Connection) -> Result<Vec<(String, u64)>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT kind, count(*) FROM invoices GROUP BY kind ORDER BY kind")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.unsigned_abs())))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Uploads per status.
pub fn upload_counts(conn: &Connection) -> Result<Vec<(String, u64)>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT status, count(*) FROM invoice_uploads GROUP BY status ORDER BY status")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.unsigned_abs())))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

// --- exchange rates ---------------------------------------------------------------------

/// A cached rate asked for `asked` (rate, publication date, source).
pub fn cached_rate(
    conn: &Connection,
    currency: &str,
    asked: Date,
) -> Result<Option<(String, String, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT rate, rate_date, source FROM ecb_rates WHERE currency = ?1 AND asked_date = ?2",
            params![currency, iso(asked)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// What the rate cache keeps of one answer: units per EUR, the publication's date, its
/// source.
pub struct CachedRate<'a> {
    pub rate: rust_decimal::Decimal,
    pub date: Date,
    pub source: &'a str,
}

/// Caches a rate asked for `asked`.
pub fn cache_rate(
    conn: &Connection,
    currency: &str,
    asked: Date,
    quote: &CachedRate<'_>,
    at: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO ecb_rates(currency, asked_date, rate_date, rate, source, fetched_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(currency, asked_date) DO NOTHING",
        params![
            currency,
            iso(asked),
            iso(quote.date),
            quote.rate.normalize().to_string(),
            quote.source,
            at
        ],
    )?;
    Ok(())
}
