//! `fulfil make-invoices`: VAT invoices for shipped orders, credit notes for invoiced
//! orders that were cancelled, and their upload to Amazon (issue #6).
//!
//! A run has four phases, each safe to interrupt at any point:
//!
//! 1. **Repair.** A document whose PDF is missing (or has the wrong size) on disk is
//!    rendered again from its stored data; the bytes are identical to the ones issued,
//!    which the stored SHA-256 proves before the file is written.
//! 2. **Invoices.** For every order that is shipped and has no invoice: the VAT engine
//!    computes the figures, which are compared with Amazon's own (TAX and grand total); a
//!    difference beyond one cent holds the order for review (`order_issues`, reason
//!    `amazon_totals_differ`) and consumes no number. The others are numbered and stored in
//!    batches: one transaction takes the next numbers of the series and writes, per
//!    document, the frozen document, the customer block apart, the ledger entry, the upload
//!    queue row and the file record. Only after the commit are the PDFs written (temporary
//!    file, then rename, mode 0600). A crash before the commit leaves no trace and no gap;
//!    a crash after it leaves records whose PDFs phase 1 writes on the next run.
//! 3. **Credit notes.** For every invoiced order now cancelled: a full credit note in its
//!    own series, negative, naming the invoice's number and date, the same way.
//! 4. **Upload** (unless `invoices.upload = false`, `--no-upload`, or `invoices.vcs`): the
//!    queue is worked oldest first, Amazon Business documents before the others (their
//!    deadline is one business day). Per document: createFeedDocument, PUT of the PDF to
//!    the pre-signed URL, createFeed with the metadata; then every feed Amazon has not
//!    finished is polled once per run (no sleeping in between) and, once DONE, its
//!    processing report decides: accepted, or rejected with Amazon's error code kept.
//!
//! # Pacing
//!
//! createFeed allows a burst of 15 and then one call per two minutes. A run never sleeps
//! for a token longer than [`MAX_TOKEN_WAIT`]: when the next createFeedDocument, createFeed,
//! getFeed or getFeedDocument token is further away, the run stops that part and leaves
//! the rest to the next cron run. Sleeping for minutes would hold the store's lock and make
//! every other command's run exit 4 meanwhile. With cron every ten minutes that uploads
//! about five documents per run once the burst is spent (some 720 a day).
//!
//! # Exit codes
//!
//! 0 when all went well (also when uploads wait for tokens); 3 when an order failed, was
//! held, or Amazon rejected an upload in this run (each named on stderr and in the JSON
//! summary); 4 when the upload stopped on a temporary error (network, 5xx, throttling)
//! or invoices wait for VIES, and nothing needs a person; 2 for a missing role or seller
//! data.
//!
//! # VIES (issue #14)
//!
//! Before an invoice applies the intra-Community exemption, the buyer's VAT number is
//! checked with VIES (`crate::vies`), or the answer cached within
//! `invoices.vies_reuse_days` is reused. Valid: reverse charge, and the consultation number
//! goes into `tax_ledger_vies` with the document. Invalid: a consumer sale, named per order
//! on stderr. Unavailable: the order waits (not recorded as a failure) and goes to review
//! (`vies_unavailable`) 24 hours after the first failure.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use serde_json::json;
use time::Date;

use crate::clock::rfc3339;
use crate::commands::Outcome;
use crate::config::{Config, ConfigError};
use crate::ctx::{Ctx, Overdue};
use crate::error::{Classify as _, Exit};
use crate::failpoint;
use crate::files::{self, Durability};
use crate::fx;
use crate::invoice::issue::{self, Refusal};
use crate::invoice::ledger::{self, iso, money};
use crate::invoice::rates::RateTable;
use crate::invoice::render::{
    BuyerBlock, EurRate, InvoiceDocument, Issue, OriginalInvoice, Renderer, SellerBlock,
};
use crate::invoice::vat::{
    self, Computation, Currency, DocumentKind, Lang, Refund, compare_with_amazon, compute,
    credit_note,
};
use crate::spapi::feeds::{self, PDF};
use crate::spapi::{Operation, SpapiError};
use crate::store::invoices::{self as db, Issued, NewDocument};
use crate::store::orders as order_db;
use crate::store::vies as vies_db;
use crate::vies::{self, ViesError};
use crate::zone::SellerZone;

pub const COMMAND: &str = "make-invoices";

/// The crash point between writing an invoice PDF and giving it its name.
const FILE_WRITTEN: &str = "make-invoices:file-written";

/// Issue VAT invoices for shipped orders and credit notes for cancelled ones, and upload
/// them to Amazon
///
/// Incremental and idempotent: run it from cron after sync-orders. Every shipped order gets
/// one invoice, numbered without gaps per series and year (invoices.prefix,
/// invoices.credit_note_prefix); an invoiced order that is cancelled gets one credit note.
/// PDFs go to invoices.dir (mode 0600). Uploads (Feeds API, UPLOAD_VAT_INVOICE) are paced
/// by Amazon's rate limits across runs; Belgian and Irish marketplaces and sellers on
/// Amazon's VAT Calculation Service are skipped (invoices.skip_marketplaces,
/// invoices.vcs). An order whose totals differ from Amazon's by more than a cent is held
/// for review and reported.
#[derive(Debug, Args)]
pub struct MakeInvoicesArgs {
    /// Issue documents but leave the upload queue for a later run
    #[arg(long)]
    pub no_upload: bool,
    /// Issue this order's invoice although its totals differ from Amazon's (after review;
    /// Amazon will then likely reject the upload). Repeatable.
    #[arg(long, value_name = "ORDER_ID")]
    pub accept_difference: Vec<String>,
}

/// The longest a run waits for a rate-limit token before leaving the rest to the next run.
pub const MAX_TOKEN_WAIT: Duration = Duration::from_secs(5);
/// Documents numbered and stored per transaction.
const BATCH: usize = 64;
/// Prefix of the temporary files PDFs are written to before the rename.
/// At most this many per-order lines on stderr; the JSON summary lists up to `MAX_LISTED`.
const MAX_WARNINGS: usize = 10;
const MAX_LISTED: usize = 100;
/// How long an invoice waits for VIES before the order goes to review (issue #14).
const VIES_PATIENCE: time::Duration = time::Duration::hours(24);
/// The refusal code of an order that waits for VIES: not a failure, not recorded.
const VIES_WAITING: &str = "vies_waiting";

/// VIES in this run (issue #14).
#[derive(Debug, Default)]
struct ViesCounts {
    /// Answers VIES gave in this run.
    checked: u64,
    /// Answers taken from the cache (invoices.vies_reuse_days).
    reused: u64,
    /// Orders whose number VIES confirmed / did not confirm.
    valid: u64,
    invalid: u64,
    /// Orders left for a later run because VIES could not answer.
    waiting: u64,
    /// Orders invoiced with VAT because VIES did not confirm the number.
    consumer_fallback: Vec<String>,
    /// Why VIES could not answer, the last time it could not.
    last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Counts {
    issued: u64,
    credit_notes: u64,
    held: u64,
    failed: u64,
    files_repaired: u64,
    uploaded: u64,
    accepted: u64,
    upload_errors: u64,
    upload_skipped: u64,
    /// Why the upload stopped early on a temporary error, if it did.
    upload_paused: Option<String>,
    /// Uploads left for a later run because a rate-limit token was too far away.
    waiting_for_tokens: bool,
    /// (order id or document number, reason code), in the order they happened.
    problems: Vec<(String, String)>,
}

/// What the configuration fixes for a whole run.
struct Settings<'c> {
    cfg: &'c Config,
    seller: vat::Seller,
    seller_block: SellerBlock,
    lang: Lang,
    table: RateTable,
    dir: PathBuf,
    /// The seller's zone: every date of a document is the seller's day (issue #15).
    zone: SellerZone,
}

impl<'c> Settings<'c> {
    fn new(cfg: &'c Config) -> Result<Self, ConfigError> {
        let src = cfg.source();
        let inv = &cfg.invoices;
        let missing = |key: &str| {
            ConfigError::new(&src, Some(key), "is needed on every invoice")
                .with_hint("fill in [seller]: legal name, VAT id, street, zipcode, city and email")
        };
        let seller_block = issue::seller_block(&cfg.seller, inv.language).map_err(missing)?;
        let seller = vat::Seller {
            country: cfg.seller.country.clone().unwrap_or_else(|| "NL".into()),
            vat_id: seller_block.vat_id.clone(),
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
        Ok(Settings {
            cfg,
            seller,
            seller_block,
            lang: inv.language,
            table,
            dir: cfg.invoices_dir(),
            zone,
        })
    }
}

/// A document computed and filled in, waiting for its number.
struct Draft {
    /// The VIES check the regime rests on, for the ledger (issue #14).
    vies: Option<ViesUse>,
    prefix: String,
    order_id: String,
    marketplace_id: String,
    is_business: bool,
    corrects: Option<i64>,
    computation: Computation,
    doc: InvoiceDocument,
}

/// A VIES answer used for one invoice.
#[derive(Debug, Clone)]
struct ViesUse {
    country_code: String,
    check: vies_db::Check,
    reused: bool,
}

/// A document numbered and committed whose PDF still has to be written.
struct Written {
    path: PathBuf,
    pdf: Vec<u8>,
}

struct Run<'a> {
    ctx: &'a Ctx,
    s: Settings<'a>,
    renderer: Renderer,
    counts: Counts,
    /// Exchange rates asked for in this run (also failures, so a dead endpoint is asked once).
    fx: RefCell<HashMap<(Currency, Date), Result<EurRate, Refusal>>>,
    /// VIES in this run; numbers VIES could not answer for are asked once per run.
    vies: RefCell<ViesCounts>,
    vies_failed: RefCell<HashMap<String, ViesError>>,
}

pub fn run(ctx: &Ctx, args: &MakeInvoicesArgs) -> anyhow::Result<Outcome> {
    let cfg = ctx.config()?;
    let mut settings = Settings::new(cfg)?;
    // The seller's day, not the UTC day: it dates the documents, picks the number
    // series' year and, through the dates, the tax quarter (issue #15).
    let today = settings.zone.date(ctx.clock.now());
    // Take the writer lock before touching the directory: a run that is still writing
    // owns its temporary files.
    ctx.begin_writing(COMMAND, Overdue::RemoveFirst)?;
    // The rates of the last complete `fulfil rates update` (never fetched from here).
    let tedb = crate::store::tedb::layer(ctx.store(COMMAND)?.conn())?;
    settings.table = std::mem::take(&mut settings.table).with_tedb(tedb);
    let dir = files::prepare_private_dir(&settings.dir).with_context(|| {
        format!(
            "cannot create the invoices directory {}",
            settings.dir.display()
        )
    })?;
    let mut run = Run {
        ctx,
        s: Settings { dir, ..settings },
        renderer: Renderer::new()?,
        counts: Counts::default(),
        fx: RefCell::new(HashMap::new()),
        vies: RefCell::new(ViesCounts::default()),
        vies_failed: RefCell::new(HashMap::new()),
    };
    run.repair_files()?;
    run.prune_vies()?;
    run.issue_invoices(today, &args.accept_difference)?;
    run.issue_credit_notes(today)?;
    if cfg.invoices.upload && !args.no_upload {
        run.upload()?;
    }
    run.finish()
}

impl Run<'_> {
    fn now(&self) -> String {
        rfc3339(self.ctx.clock.now())
    }

    /// Phase 1: PDFs that a crash (or a person) removed before purge did.
    fn repair_files(&mut self) -> anyhow::Result<()> {
        let rows = db::files_to_check(self.ctx.store(COMMAND)?.conn())?;
        for (id, path, size) in rows {
            let path = PathBuf::from(path);
            if std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == size.unsigned_abs())
            {
                continue;
            }
            let issued = db::issued(self.ctx.store(COMMAND)?.conn(), id)?;
            let Some(issued) = issued else { continue };
            match self.rerender(&issued)? {
                Some(pdf) => {
                    files::write_private(&path, &pdf, Durability::Rebuildable, Some(FILE_WRITTEN))?;
                    self.counts.files_repaired += 1;
                    tracing::info!(number = %issued.number, "invoice PDF written again");
                }
                None => self.ctx.ui.warn(&format!(
                    "the PDF of {} is missing and cannot be reproduced byte for byte by this build; its record is intact",
                    issued.number
                )),
            }
        }
        Ok(())
    }

    /// The issued PDF again, from the stored document and customer block; `None` when the
    /// customer block is gone or this build renders different bytes.
    fn rerender(&self, issued: &Issued) -> anyhow::Result<Option<Vec<u8>>> {
        let Some(doc) = full_document(issued)? else {
            return Ok(None);
        };
        let pdf = self.renderer.render(&doc)?;
        Ok((sha256_hex(&pdf) == issued.pdf_sha256).then_some(pdf))
    }

    /// Phase 2.
    fn issue_invoices(&mut self, today: Date, accept: &[String]) -> anyhow::Result<()> {
        let fulfilled_by: Vec<String> =
            crate::spapi::orders::SearchParams::fulfilled_by_names(&self.s.cfg.amazon.fulfilled_by);
        let candidates = db::invoice_candidates(self.ctx.store(COMMAND)?.conn(), &fulfilled_by)?;
        if candidates.is_empty() {
            return Ok(());
        }
        let bar = self.ctx.ui.progress(candidates.len() as u64, "invoices");
        for chunk in candidates.chunks(BATCH) {
            let mut drafts = Vec::with_capacity(chunk.len());
            let mut refused = Vec::new();
            for order_id in chunk {
                match self.draft_invoice(order_id, today, accept.contains(order_id))? {
                    Ok(d) => drafts.push(d),
                    // Waits for VIES: nothing to record, the next run tries again.
                    Err(r) if r.reason == VIES_WAITING => {
                        tracing::info!(order_id = %order_id, "invoice waits for VIES");
                        self.vies.get_mut().waiting += 1;
                    }
                    Err(r) => refused.push((order_id.clone(), r)),
                }
            }
            let n = self.commit(drafts, &refused, today)?;
            self.counts.issued += n;
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        Ok(())
    }

    fn draft_invoice(
        &self,
        order_id: &str,
        today: Date,
        accept_difference: bool,
    ) -> anyhow::Result<Result<Draft, Refusal>> {
        let (facts, pii, purged) = {
            let store = self.ctx.store(COMMAND)?;
            let conn = store.conn();
            let Some(facts) = db::order_facts(conn, order_id)? else {
                return Ok(Err(Refusal::new("unknown_order")));
            };
            (
                facts,
                order_db::pii(conn, order_id)?,
                db::pii_purged(conn, order_id)?,
            )
        };
        if purged {
            return Ok(Err(Refusal::new("personal_data_purged")));
        }
        // Figures that make no sense (negative, not adding up, charged without a
        // quantity) stop here, before a number is taken, and `--accept-difference`
        // does not let them through: it is for our VAT differing from Amazon's, not
        // for Amazon's figures contradicting themselves (issue #15, item 5).
        if let Err(n) = crate::order_check::check(facts.grand_total.as_deref(), &facts.items) {
            return Ok(Err(Refusal::new(n.reason).detail(n.detail)));
        }
        let inv = &self.s.cfg.invoices;
        let mut prepared = match issue::prepare(
            &facts,
            pii.as_ref(),
            &self.s.seller,
            &inv.tax_categories,
            self.s.lang,
            &self.s.zone,
        ) {
            Ok(p) => p,
            Err(r) => return Ok(Err(r)),
        };
        // Issue #14: the exemption needs a number VIES confirmed; ask before computing.
        let mut vies_use = None;
        if let Some(vat_id) = vat::vies_candidate(&self.s.seller, &prepared.invoice.buyer) {
            match self.vies_check(order_id, &vat_id)? {
                Ok(u) => {
                    prepared.invoice.buyer.vat_id_confirmed = u.check.valid;
                    vies_use = Some(u);
                }
                Err(r) => return Ok(Err(r)),
            }
        }
        // Amazon zero-rated a sale whose number VIES does not confirm: its totals differ
        // from ours by the VAT we must charge, so they are not compared (the run names
        // the order instead). Where Amazon charged VAT itself, they are.
        let refuted = vies_use.as_ref().is_some_and(|u| !u.check.valid)
            && prepared.amazon.is_some_and(|a| a.vat.is_zero());
        let computation = match compute(&prepared.invoice, &self.s.table) {
            Ok(c) => c,
            Err(e) => return Ok(Err(vat_refusal(&e))),
        };
        if let Some(amazon) = prepared.amazon
            && !accept_difference
            && !refuted
            && let Err(m) = compare_with_amazon(&computation, amazon.vat, amazon.gross)
        {
            return Ok(Err(
                Refusal::new("amazon_totals_differ").detail(m.to_string())
            ));
        }
        let buyer = match issue::buyer_block(pii.as_ref(), facts.is_business, self.s.lang) {
            Ok(b) => b,
            Err(r) => return Ok(Err(r)),
        };
        let eur_rate = match computation.currency {
            Currency::Eur => None,
            c => match self.eur_rate(c, today)? {
                Ok(r) => Some(r),
                Err(r) => return Ok(Err(r)),
            },
        };
        let doc = InvoiceDocument::from_computation(
            &computation,
            Issue {
                number: "unnumbered".into(),
                issue_date: today,
                order_id: facts.order_id.clone(),
                marketplace: issue::marketplace_name(&facts.marketplace_id),
                corrects: None,
                eur_rate,
                lang: self.s.lang,
            },
            self.s.seller_block.clone(),
            buyer,
        );
        let doc = match doc {
            Ok(d) => d,
            Err(e) => return Ok(Err(Refusal::new("document_invalid").detail(e.to_string()))),
        };
        Ok(Ok(Draft {
            vies: vies_use,
            prefix: inv.prefix.clone(),
            order_id: facts.order_id,
            marketplace_id: facts.marketplace_id,
            is_business: facts.is_business,
            corrects: None,
            computation,
            doc,
        }))
    }

    /// Removes VIES answers older than the reuse window, and those no order with personal
    /// data refers to any more.
    fn prune_vies(&self) -> anyhow::Result<()> {
        let days = i64::from(self.s.cfg.invoices.vies_reuse_days);
        let before = rfc3339(self.ctx.clock.now() - time::Duration::days(days));
        let n = vies_db::prune(self.ctx.store(COMMAND)?.conn(), &before)?;
        if n > 0 {
            tracing::debug!(removed = n, "VIES answers pruned");
        }
        Ok(())
    }

    /// VIES's answer about the buyer's `vat_id` for `order_id`: from the cache when it is
    /// recent enough, else from VIES (with the seller's VAT number as requester, so that
    /// VIES gives a consultation number). When VIES cannot answer, the order waits
    /// (refusal [`VIES_WAITING`]) and, 24 hours after the first failure, goes to review
    /// (`vies_unavailable`). Never logs or reports the number.
    fn vies_check(&self, order_id: &str, vat_id: &str) -> anyhow::Result<Result<ViesUse, Refusal>> {
        let inv = &self.s.cfg.invoices;
        let now = self.ctx.clock.now();
        let at = rfc3339(now);
        let country_code = vat_id.get(..2).unwrap_or_default().to_string();
        let since = rfc3339(now - time::Duration::days(i64::from(inv.vies_reuse_days)));
        {
            let store = self.ctx.store(COMMAND)?;
            let conn = store.conn();
            if let Some(check) = vies_db::cached(conn, vat_id, &since)? {
                vies_db::link(conn, vat_id, order_id)?;
                vies_db::stop_waiting(conn, order_id)?;
                self.vies.borrow_mut().reused += 1;
                return Ok(Ok(self.vies_counted(order_id, country_code, check, true)));
            }
        }
        let known = self.vies_failed.borrow().get(vat_id).cloned();
        let answer = if let Some(e) = known {
            Err(e)
        } else {
            let cfg = self.s.cfg;
            let retry = crate::transport::RetryPolicy {
                max_tries: cfg.amazon.max_tries,
                base: Duration::from_millis(cfg.amazon.retry_base_ms),
                cap: Duration::from_secs(30),
            };
            let endpoint = inv.vies_endpoint();
            crate::transport::check_endpoint(&endpoint)?;
            let got = vies::check(
                self.ctx.http()?,
                &endpoint,
                vat_id,
                &self.s.seller.vat_id,
                retry,
                &self.ctx.clock,
            );
            if let Err(e) = &got {
                self.vies_failed
                    .borrow_mut()
                    .insert(vat_id.to_string(), e.clone());
            }
            got
        };
        match answer {
            Ok(a) => {
                let check = vies_db::Check {
                    valid: a.valid,
                    request_date: a.request_date.unwrap_or_else(|| at.clone()),
                    request_identifier: a.request_identifier,
                    requester: self.s.seller.vat_id.clone(),
                    checked_at: at,
                };
                let store = self.ctx.store(COMMAND)?;
                let conn = store.conn();
                vies_db::remember(conn, vat_id, &check)?;
                vies_db::link(conn, vat_id, order_id)?;
                vies_db::stop_waiting(conn, order_id)?;
                self.vies.borrow_mut().checked += 1;
                Ok(Ok(self.vies_counted(order_id, country_code, check, false)))
            }
            // A refused certificate, or VIES not accepting the seller as requester, is the
            // same for every order: stop the run for a person (exit 2).
            Err(ViesError::Tls(t)) => Err(t.into()),
            Err(e @ ViesError::Requester(_)) => Err(e.into()),
            Err(e) if e.is_temporary() => {
                let msg = e.to_string();
                let first =
                    vies_db::note_waiting(self.ctx.store(COMMAND)?.conn(), order_id, &at, &msg)?;
                self.vies.borrow_mut().last_error = Some(msg.clone());
                let waited =
                    crate::clock::parse_rfc3339(&first).map_or(time::Duration::ZERO, |f| now - f);
                if waited >= VIES_PATIENCE {
                    Ok(Err(Refusal::new("vies_unavailable")
                        .detail(format!("{msg}; no answer since {first}"))))
                } else {
                    Ok(Err(Refusal::new(VIES_WAITING).detail(msg)))
                }
            }
            Err(e) => Ok(Err(Refusal::new("vies_refused").detail(e.to_string()))),
        }
    }

    fn vies_counted(
        &self,
        order_id: &str,
        country_code: String,
        check: vies_db::Check,
        reused: bool,
    ) -> ViesUse {
        let mut c = self.vies.borrow_mut();
        if check.valid {
            c.valid += 1;
        } else {
            c.invalid += 1;
            tracing::info!(order_id, "VAT number not valid in VIES");
        }
        ViesUse {
            country_code,
            check,
            reused,
        }
    }

    /// The EUR rate of `date` for a document in `currency`: the latest publication on or
    /// before it, from the store's cache or the endpoint, looking up to a week back.
    fn eur_rate(&self, currency: Currency, date: Date) -> anyhow::Result<Result<EurRate, Refusal>> {
        if let Some(known) = self.fx.borrow().get(&(currency, date)) {
            return Ok(known.clone());
        }
        let result = self.fetch_rate(issue::currency_code(currency), date)?;
        self.fx
            .borrow_mut()
            .insert((currency, date), result.clone());
        Ok(result)
    }

    fn fetch_rate(&self, code: &str, date: Date) -> anyhow::Result<Result<EurRate, Refusal>> {
        let endpoint = self.s.cfg.invoices.ecb_endpoint.as_deref();
        let http = match endpoint {
            Some(_) => Some(self.ctx.http()?),
            None => None,
        };
        let now = self.now();
        let store = self.ctx.store(COMMAND)?;
        let src = fx::Source {
            conn: store.conn(),
            fetch: http.zip(endpoint),
            cache_at: Some(&now),
        };
        for back in 0..7 {
            let asked = date - time::Duration::days(back);
            match fx::cached_or_fetched(&src, code, asked) {
                Ok(Some(q)) => {
                    return Ok(Ok(EurRate {
                        rate: q.rate,
                        date: q.date,
                        source: q.source,
                    }));
                }
                Ok(None) if endpoint.is_none() => {
                    return Ok(Err(Refusal::new("no_exchange_rate_source").detail(
                        format!(
                            "a {code} document must show its VAT in EUR: set invoices.ecb_endpoint"
                        ),
                    )));
                }
                Ok(None) => {}
                // Not this order's problem: the rate server was refused; stop the run.
                Err(fx::FxError::Tls(refused)) => return Err(refused.into()),
                Err(e) => {
                    return Ok(Err(
                        Refusal::new("exchange_rate_unavailable").detail(e.to_string())
                    ));
                }
            }
        }
        Ok(Err(Refusal::new("exchange_rate_unavailable").detail(
            format!("no {code} rate published in the week up to {}", iso(date)),
        )))
    }

    /// Numbers and stores `drafts` in one transaction, records `refused`, then writes the
    /// PDFs. Returns how many documents were issued.
    fn commit(
        &mut self,
        drafts: Vec<Draft>,
        refused: &[(String, Refusal)],
        today: Date,
    ) -> anyhow::Result<u64> {
        let at = self.now();
        let year = today.year();
        let mut written = Vec::with_capacity(drafts.len());
        let mut render_failures = Vec::new();
        let mut fallback = Vec::new();
        {
            let mut store = self.ctx.store(COMMAND)?;
            let tx = store.conn_mut().transaction()?;
            // The next free number of each series, read once per transaction; nothing else
            // writes while this run holds the lock.
            let mut next: HashMap<String, i64> = HashMap::new();
            for mut d in drafts {
                let seq = match next.get(&d.prefix) {
                    Some(n) => *n,
                    None => db::next_seq(&tx, &d.prefix, year)?,
                };
                d.doc.number = issue::document_number(&d.prefix, year, seq);
                let pdf = match self.renderer.render(&d.doc) {
                    Ok(p) => p,
                    Err(e) => {
                        // Nothing was inserted, so the number stays free.
                        render_failures.push((
                            d.order_id.clone(),
                            Refusal::new("render_failed").detail(e.to_string()),
                        ));
                        continue;
                    }
                };
                let full = serde_json::to_string(&d.doc)?;
                let buyer = serde_json::to_string(&d.doc.buyer)?;
                let anonymous = serde_json::to_string(&d.doc.clone().without_buyer())?;
                let computation = serde_json::to_string(&d.computation)?;
                let entry = ledger::entry(&d.doc, &d.computation, &d.marketplace_id, d.is_business);
                let path = self.s.dir.join(format!("{}.pdf", d.doc.number));
                let path_text = path.to_string_lossy().into_owned();
                db::insert_document(
                    &tx,
                    &NewDocument {
                        prefix: &d.prefix,
                        year,
                        seq,
                        corrects: d.corrects,
                        issued_at: &at,
                        document_json: &anonymous,
                        computation_json: &computation,
                        buyer_json: &buyer,
                        document_sha256: &sha256_hex(full.as_bytes()),
                        pdf_sha256: &sha256_hex(&pdf),
                        pdf_bytes: pdf.len(),
                        file_path: &path_text,
                        ledger: &entry,
                        urgent: d.is_business,
                    },
                )?;
                if let Some(v) = &d.vies {
                    vies_db::record_for_document(
                        &tx,
                        &d.doc.number,
                        &v.country_code,
                        &v.check,
                        v.reused,
                    )?;
                    if !v.check.valid {
                        fallback.push(d.order_id.clone());
                    }
                }
                next.insert(d.prefix.clone(), seq + 1);
                order_db::clear_issue(&tx, &d.order_id, COMMAND)?;
                tracing::info!(order_id = %d.order_id, number = %d.doc.number, "document issued");
                written.push(Written { path, pdf });
            }
            for (order_id, r) in refused.iter().chain(render_failures.iter()) {
                order_db::record_issue(&tx, order_id, COMMAND, r.reason, r.detail.as_deref(), &at)?;
            }
            failpoint::hit("make-invoices:before-commit");
            tx.commit()?;
        }
        failpoint::hit("make-invoices:after-commit");
        self.vies.get_mut().consumer_fallback.extend(fallback);
        for (order_id, r) in refused.iter().chain(render_failures.iter()) {
            tracing::warn!(order_id = %order_id, reason = r.reason, "no document this run");
            if r.reason == "amazon_totals_differ" {
                self.counts.held += 1;
            } else {
                self.counts.failed += 1;
            }
            self.counts
                .problems
                .push((order_id.clone(), r.reason.to_string()));
        }
        for w in &written {
            files::write_private(&w.path, &w.pdf, Durability::Rebuildable, Some(FILE_WRITTEN))?;
            failpoint::hit("make-invoices:after-file");
        }
        Ok(written.len() as u64)
    }

    /// Phase 3.
    fn issue_credit_notes(&mut self, today: Date) -> anyhow::Result<()> {
        let ids = db::credit_candidates(self.ctx.store(COMMAND)?.conn())?;
        for chunk in ids.chunks(BATCH) {
            let mut drafts = Vec::with_capacity(chunk.len());
            let mut refused = Vec::new();
            for id in chunk {
                let issued = db::issued(self.ctx.store(COMMAND)?.conn(), *id)?
                    .context("an invoice vanished during the run")?;
                match self.draft_credit_note(&issued, today)? {
                    Ok(d) => drafts.push(d),
                    Err(r) => refused.push((issued.order_id.clone(), r)),
                }
            }
            let n = self.commit(drafts, &refused, today)?;
            self.counts.credit_notes += n;
        }
        Ok(())
    }

    fn draft_credit_note(
        &self,
        original: &Issued,
        today: Date,
    ) -> anyhow::Result<Result<Draft, Refusal>> {
        let invoice: InvoiceDocument = serde_json::from_str(&original.document)
            .context("a stored invoice document cannot be read")?;
        let computation: Computation = serde_json::from_str(&original.computation)
            .context("a stored VAT computation cannot be read")?;
        let Some(buyer) = &original.buyer else {
            return Ok(Err(Refusal::new("buyer_data_removed")));
        };
        let buyer: BuyerBlock =
            serde_json::from_str(buyer).context("a stored customer block cannot be read")?;
        let reversed = match credit_note(&computation, &Refund::Full) {
            Ok(c) => c,
            Err(e) => return Ok(Err(vat_refusal(&e))),
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
                    reason: Some(issue::cancellation_reason(invoice.lang).to_string()),
                }),
                // The rate of the invoice, so that the EUR figures cancel out exactly.
                eur_rate: invoice.eur_vat.as_ref().map(|e| e.rate.clone()),
                lang: invoice.lang,
            },
            self.s.seller_block.clone(),
            buyer,
        );
        let doc = match doc {
            Ok(d) => d,
            Err(e) => return Ok(Err(Refusal::new("document_invalid").detail(e.to_string()))),
        };
        Ok(Ok(Draft {
            vies: None,
            prefix: self.s.cfg.invoices.credit_note_prefix.clone(),
            order_id: original.order_id.clone(),
            marketplace_id: original.marketplace_id.clone(),
            is_business: original.is_business,
            corrects: Some(original.id),
            computation: reversed,
            doc,
        }))
    }

    /// Phase 4.
    fn upload(&mut self) -> anyhow::Result<()> {
        let inv = &self.s.cfg.invoices;
        let (queued, submitted) = {
            let store = self.ctx.store(COMMAND)?;
            let conn = store.conn();
            self.counts.upload_skipped =
                db::skip_uploads(conn, &inv.skip_marketplaces, inv.vcs, &self.now())?;
            (db::queued_uploads(conn)?, db::submitted_uploads(conn)?)
        };
        if queued.is_empty() && submitted.is_empty() {
            return Ok(());
        }
        self.ctx.warn_secret_age()?;
        let client = self.ctx.spapi(COMMAND)?;
        let http = self.ctx.http()?;
        for q in &queued {
            if [Operation::CreateFeedDocument, Operation::CreateFeed]
                .iter()
                .any(|op| client.wait_for(*op) > MAX_TOKEN_WAIT)
            {
                self.counts.waiting_for_tokens = true;
                break;
            }
            if !self.submit(&client, http, q.invoice_id)? {
                break;
            }
        }
        if self.counts.upload_paused.is_some() {
            return Ok(());
        }
        let open = db::submitted_uploads(self.ctx.store(COMMAND)?.conn())?;
        for (invoice_id, number, feed_id) in open {
            if client.wait_for(Operation::GetFeed) > MAX_TOKEN_WAIT {
                self.counts.waiting_for_tokens = true;
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
        let issued = db::issued(self.ctx.store(COMMAND)?.conn(), invoice_id)?
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
        let options = feed_options(&stored);
        let doc = match feeds::create_document(client, PDF) {
            Ok(d) => d,
            Err(e) => return self.upload_failed(invoice_id, &issued.number, e),
        };
        failpoint::hit("upload:document-created");
        if let Err(e) = feeds::put_document(http, &doc.url, PDF, pdf) {
            let msg = format!("upload of the PDF failed: {e}");
            db::mark_retry(
                self.ctx.store(COMMAND)?.conn(),
                invoice_id,
                &msg,
                &self.now(),
            )?;
            if let feeds::TransferError::Tls(refused) = e {
                // Queued again above; a refused server stops the run for a person.
                return Err(refused.into());
            }
            if e.is_temporary() {
                self.counts.upload_paused = Some(msg);
                return Ok(false);
            }
            self.counts.upload_errors += 1;
            self.counts
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
            self.ctx.store(COMMAND)?.conn(),
            invoice_id,
            &doc.feed_document_id,
            &feed_id,
            &self.now(),
        )?;
        tracing::info!(number = %issued.number, feed_id = %feed_id, "invoice submitted to Amazon");
        self.counts.uploaded += 1;
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
                    self.ctx.store(COMMAND)?.conn(),
                    invoice_id,
                    &msg,
                    &self.now(),
                )?;
                self.counts.upload_paused = Some(msg);
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
            self.ctx.store(COMMAND)?.conn(),
            invoice_id,
            accepted,
            status,
            error,
            &self.now(),
        )?;
        if accepted {
            self.counts.accepted += 1;
        } else {
            let code = error.map_or("rejected", |e| e.0);
            tracing::warn!(number, code, "Amazon did not accept the document");
            self.counts.upload_errors += 1;
            self.counts
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
                self.ctx.store(COMMAND)?.conn(),
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
                    self.counts.waiting_for_tokens = true;
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
                        self.counts.upload_paused = Some(format!("report download failed: {e}"));
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
        self.rerender(issued)
    }

    fn finish(self) -> anyhow::Result<Outcome> {
        let c = &self.counts;
        let (pending, queued) = {
            let store = self.ctx.store(COMMAND)?;
            let counts: BTreeMap<String, u64> =
                db::upload_counts(store.conn())?.into_iter().collect();
            (
                counts.get("submitted").copied().unwrap_or(0),
                counts.get("queued").copied().unwrap_or(0),
            )
        };
        let ui = &self.ctx.ui;
        for (who, reason) in c.problems.iter().take(MAX_WARNINGS) {
            ui.warn(&format!("{who}: {reason}"));
        }
        if c.problems.len() > MAX_WARNINGS {
            ui.warn(&format!(
                "… and {} more; see order_issues and the JSON summary",
                c.problems.len() - MAX_WARNINGS
            ));
        }
        if c.held > 0 {
            ui.warn(&format!(
                "{} orders held: our totals differ from Amazon's by more than a cent; check the tax categories in [invoices], or issue with --accept-difference ORDER_ID",
                c.held
            ));
        }
        if let Some(why) = &c.upload_paused {
            ui.warn(&format!("upload paused: {why}; the next run continues"));
        }
        let v = self.vies.borrow();
        // One line per order whose buyer's number VIES did not confirm (never the number).
        for order_id in &v.consumer_fallback {
            ui.warn(&format!(
                "{order_id}: VAT number not valid in VIES, invoiced with VAT"
            ));
        }
        if v.waiting > 0 {
            ui.warn(&format!(
                "{} invoices wait for VIES ({}); the next run asks again, and after 24 hours such an order goes to review",
                v.waiting,
                v.last_error.as_deref().unwrap_or("no answer")
            ));
        }
        if !self.ctx.global.json && ui.interactive() {
            ui.status(&format!(
                "issued {} invoices and {} credit notes ({} held, {} failed); uploaded {}, accepted {}, rejected {}; {} queued, {} awaiting Amazon",
                c.issued, c.credit_notes, c.held, c.failed, c.uploaded, c.accepted, c.upload_errors, queued, pending
            ));
        }
        let summary = json!({
            "command": COMMAND,
            "issued": c.issued,
            "credit_notes": c.credit_notes,
            "held": c.held,
            "failed": c.failed,
            "uploaded": c.uploaded,
            "accepted": c.accepted,
            "upload_errors": c.upload_errors,
            "upload_skipped": c.upload_skipped,
            "upload_queued": queued,
            "upload_pending": pending,
            "upload_paused": c.upload_paused,
            "waiting_for_tokens": c.waiting_for_tokens,
            "files_repaired": c.files_repaired,
            "vies_checked": v.checked,
            "vies_reused": v.reused,
            "vies_valid": v.valid,
            "vies_invalid": v.invalid,
            "vies_waiting": v.waiting,
            "vies_invalid_orders": v.consumer_fallback.iter().take(MAX_LISTED).collect::<Vec<_>>(),
            "problems": c.problems.iter().take(MAX_LISTED)
                .map(|(who, reason)| json!({"id": who, "reason": reason}))
                .collect::<Vec<_>>(),
        });
        let needs_person = c.failed + c.held + c.upload_errors;
        let mut outcome = Outcome::from_failures(needs_person, summary);
        if needs_person == 0 && (c.upload_paused.is_some() || v.waiting > 0) {
            outcome.exit = Exit::Temporary;
        }
        Ok(outcome)
    }
}

/// The stored document with its customer block, as it was issued; `None` once the
/// customer block was removed.
fn full_document(issued: &Issued) -> anyhow::Result<Option<InvoiceDocument>> {
    let Some(buyer) = &issued.buyer else {
        return Ok(None);
    };
    let doc: InvoiceDocument = serde_json::from_str(&issued.document)
        .context("a stored invoice document cannot be read")?;
    let buyer: BuyerBlock =
        serde_json::from_str(buyer).context("a stored customer block cannot be read")?;
    Ok(Some(InvoiceDocument {
        buyer: Some(buyer),
        ..doc
    }))
}

/// The `feedOptions` of a document: the figures printed on it, two decimals.
pub fn feed_options(doc: &InvoiceDocument) -> BTreeMap<String, String> {
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
        // Amazon wants the refund's transaction id; fulfil has no refund data (no Finances
        // API), so the credit note's own number stands in (see docs/invoices.md).
        o.insert("metadata:transactionid".to_string(), doc.number.clone());
    }
    o
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

/// Lower-case hex SHA-256 (kept here for the tests that check issued PDFs).
pub use crate::files::sha256_hex;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::rates::TaxCategory;
    use crate::invoice::vat::{Buyer, Invoice, Line, LineKind, Seller};
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
            let o = feed_options(&doc);
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
            prop_assert_eq!(&feed_options(&cdoc)["metadata:totalamount"], &money(-l.total_gross));
        }
    }
}
