//! `fulfil make-invoices`: VAT invoices for shipped orders, credit notes for invoiced
//! orders that were cancelled, and their upload to Amazon (issue #6).
//!
//! This file holds the order of the steps, the counts and the outcome (issue #16); the
//! work is done elsewhere: drafting in [`crate::invoice::draft`] (pure), the answers it
//! needs from VIES and the ECB in [`crate::invoice_lookups`], the numbering transaction in
//! [`crate::store::invoices::issue_documents`], the upload in [`crate::invoice_upload`],
//! and the files in [`crate::files`]. A run has four phases, each safe to interrupt at any
//! point:
//!
//! 1. **Repair.** A document whose PDF is missing (or has the wrong size) on disk is
//!    rendered again from its stored data; the bytes are identical to the ones issued,
//!    which the stored SHA-256 proves before the file is written.
//! 2. **Invoices.** For every order that is shipped and has no invoice: the order's rows
//!    are read, VIES is asked where the exemption needs it, the VAT engine computes the
//!    figures, which are compared with Amazon's own (TAX and grand total); a difference
//!    beyond one cent holds the order for review (`order_issues`, reason
//!    `amazon_totals_differ`) and consumes no number. The others are numbered and stored in
//!    batches: one transaction takes the next numbers of the series and writes, per
//!    document, the frozen document, the customer block apart, the ledger entry, the upload
//!    queue row and the file record. Only after the commit are the PDFs written (temporary
//!    file, then rename, mode 0600). A crash before the commit leaves no trace and no gap;
//!    a crash after it leaves records whose PDFs phase 1 writes on the next run.
//! 3. **Credit notes.** For every invoiced order now cancelled: a full credit note in its
//!    own series, negative, naming the invoice's number and date, the same way.
//! 4. **Refunds** (issue #17, unless `invoices.refunds = false` or `invoices.vcs`): the
//!    refunds Amazon paid out are read ([`crate::refunds`]) and each gets a credit note
//!    for exactly what was refunded ([`crate::invoice::refund`]), numbered in the same
//!    transaction that marks the refund credited.
//! 5. **Upload** (unless `invoices.upload = false`, `--no-upload`, or `invoices.vcs`): see
//!    [`crate::invoice_upload`] for the steps and the pacing by Amazon's rate limits.
//!
//! # Exit codes
//!
//! 0 when all went well (also when uploads wait for tokens); 3 when an order failed, was
//! held, or Amazon rejected an upload in this run (each named on stderr and in the JSON
//! summary); 4 when the upload stopped on a temporary error (network, 5xx, throttling)
//! or invoices wait for VIES, and nothing needs a person; 2 for a missing role or seller
//! data.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde_json::json;
use time::Date;

use crate::clock::rfc3339;
use crate::commands::Outcome;
use crate::ctx::{Ctx, Overdue};
use crate::error::Exit;
use crate::failpoint;
use crate::files::{self, Durability};
use crate::invoice::draft::{self, Draft, Drafter};
use crate::invoice::issue::Refusal;
use crate::invoice::render::Renderer;
use crate::invoice::vat::Currency;
use crate::invoice_lookups::{Lookups, VIES_WAITING};
use crate::invoice_upload;
use crate::store::invoices as db;
use crate::store::orders as order_db;

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

/// Documents numbered and stored per transaction.
const BATCH: usize = 64;
/// At most this many per-order lines on stderr; the JSON summary lists up to `MAX_LISTED`.
const MAX_WARNINGS: usize = 10;
const MAX_LISTED: usize = 100;

#[derive(Debug, Default)]
struct Counts {
    issued: u64,
    credit_notes: u64,
    held: u64,
    failed: u64,
    files_repaired: u64,
    /// Credit notes of refunds (also counted in `credit_notes`).
    refund_credit_notes: u64,
    /// Refunds that went to review in this run, and all that wait for their invoice.
    refunds_review: u64,
    refunds_waiting: u64,
    /// What reading the refunds did, when it ran.
    refunds: crate::refunds::Read,
    /// What the upload phase did, when it ran.
    upload: invoice_upload::Uploaded,
    /// (order id or document number, reason code), in the order they happened.
    problems: Vec<(String, String)>,
}

struct Run<'a> {
    ctx: &'a Ctx,
    drafter: Drafter,
    /// The invoices directory, made private.
    dir: PathBuf,
    /// `invoices.upload`.
    upload: bool,
    renderer: Renderer,
    counts: Counts,
    /// VIES answers and exchange rates, with their in-run memo.
    lookups: Lookups<'a>,
}

pub fn run(ctx: &Ctx, args: &MakeInvoicesArgs) -> anyhow::Result<Outcome> {
    let cfg = ctx.config()?;
    let mut drafter = Drafter::new(cfg)?;
    // The seller's day, not the UTC day: it dates the documents, picks the number
    // series' year and, through the dates, the tax quarter (issue #15).
    let today = drafter.zone.date(ctx.clock.now());
    // Take the writer lock before touching the directory: a run that is still writing
    // owns its temporary files.
    ctx.begin_writing(COMMAND, Overdue::RemoveFirst)?;
    // The rates of the last complete `fulfil rates update` (never fetched from here).
    let tedb = crate::store::tedb::layer(ctx.store(COMMAND)?.conn())?;
    drafter.table = std::mem::take(&mut drafter.table).with_tedb(tedb);
    let dir = cfg.invoices_dir();
    let dir = files::prepare_private_dir(&dir)
        .with_context(|| format!("cannot create the invoices directory {}", dir.display()))?;
    let requester = drafter.seller.vat_id.clone();
    let mut run = Run {
        ctx,
        drafter,
        dir,
        upload: cfg.invoices.upload && !args.no_upload,
        renderer: Renderer::new()?,
        counts: Counts::default(),
        lookups: Lookups::new(ctx, COMMAND, requester),
    };
    run.repair_files()?;
    run.lookups.prune_vies()?;
    run.issue_invoices(today, &args.accept_difference)?;
    run.issue_credit_notes(today)?;
    if cfg.invoices.refunds && !cfg.invoices.vcs {
        run.counts.refunds = crate::refunds::read(ctx, COMMAND)?;
        if let Some(why) = &run.counts.refunds.denied {
            tracing::warn!(error = %why, "refunds not read");
            run.counts
                .problems
                .push(("refunds".into(), "finances_refused".into()));
        }
    }
    run.credit_refunds(today)?;
    if run.upload {
        run.counts.upload = invoice_upload::upload(ctx, COMMAND, &run.renderer)?;
        let problems = std::mem::take(&mut run.counts.upload.problems);
        run.counts.problems.extend(problems);
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
            match draft::reproduce(&self.renderer, &issued)? {
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

    /// Phase 2.
    fn issue_invoices(&mut self, today: Date, accept: &[String]) -> anyhow::Result<()> {
        let fulfilled_by: Vec<String> = crate::spapi::orders::SearchParams::fulfilled_by_names(
            &self.ctx.config()?.amazon.fulfilled_by,
        );
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
                        self.lookups.vies.waiting += 1;
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

    /// One order's invoice: its rows, then the drafting steps with the answers they need
    /// (VIES before the VAT is computed, the EUR rate before the document is filled in).
    fn draft_invoice(
        &mut self,
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
        let prepared = match self.drafter.prepare(&facts, pii.as_ref(), purged) {
            Ok(p) => p,
            Err(r) => return Ok(Err(r)),
        };
        // Issue #14: the exemption needs a number VIES confirmed; ask before computing.
        let vies = match self.drafter.vies_candidate(&prepared) {
            Some(vat_id) => match self.lookups.vies_check(order_id, &vat_id)? {
                Ok(u) => Some(u),
                Err(r) => return Ok(Err(r)),
            },
            None => None,
        };
        let priced = match self.drafter.price(
            prepared,
            vies,
            pii.as_ref(),
            facts.is_business,
            accept_difference,
        ) {
            Ok(p) => p,
            Err(r) => return Ok(Err(r)),
        };
        let eur_rate = match priced.currency() {
            Currency::Eur => None,
            c => match self.lookups.eur_rate(c, today)? {
                Ok(r) => Some(r),
                Err(r) => return Ok(Err(r)),
            },
        };
        Ok(self.drafter.invoice(facts, priced, eur_rate, today))
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
        let committed = {
            let mut store = self.ctx.store(COMMAND)?;
            let batch = db::Batch {
                year: today.year(),
                issued_at: &at,
                dir: &self.dir,
                refused,
            };
            let renderer = &self.renderer;
            db::issue_documents(store.conn_mut(), &batch, drafts, |d, number| {
                Ok(d.seal(number, renderer)?)
            })?
        };
        failpoint::hit("make-invoices:after-commit");
        self.lookups
            .vies
            .consumer_fallback
            .extend(committed.vies_invalid);
        for (order_id, r) in refused.iter().chain(committed.render_failures.iter()) {
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
        for w in &committed.written {
            files::write_private(&w.path, &w.pdf, Durability::Rebuildable, Some(FILE_WRITTEN))?;
            failpoint::hit("make-invoices:after-file");
        }
        Ok(committed.written.len() as u64)
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
                match self.drafter.credit_note(&issued, today)? {
                    Ok(d) => drafts.push(d),
                    Err(r) => refused.push((issued.order_id.clone(), r)),
                }
            }
            let n = self.commit(drafts, &refused, today)?;
            self.counts.credit_notes += n;
        }
        Ok(())
    }

    /// Phase 4: a credit note per refund read (issue #17). A refund of an order that is
    /// still to be invoiced waits for its invoice; one that cannot be credited goes to
    /// review (`order_issues`, command `refunds`).
    fn credit_refunds(&mut self, today: Date) -> anyhow::Result<()> {
        use crate::invoice::refund::{self, Credited};
        use crate::store::refunds::{self as refund_db, OrderState};
        let open = refund_db::open(self.ctx.store(COMMAND)?.conn())?;
        if open.is_empty() {
            return Ok(());
        }
        let fulfilled_by: Vec<String> = crate::spapi::orders::SearchParams::fulfilled_by_names(
            &self.ctx.config()?.amazon.fulfilled_by,
        );
        // What this run's drafts credit, per invoice, before they are committed.
        let mut in_run: BTreeMap<i64, Credited> = BTreeMap::new();
        let at = self.now();
        for chunk in open.chunks(BATCH) {
            let mut drafts = Vec::with_capacity(chunk.len());
            for r in chunk {
                let store = self.ctx.store(COMMAND)?;
                let conn = store.conn();
                let state = refund_db::order_state(conn, &r.event.order_id, &fulfilled_by)?;
                let invoice_id = match state {
                    OrderState::Invoiced(id) => id,
                    OrderState::AwaitsInvoice => {
                        refund_db::mark_open(conn, &r.key, false, "waits_for_invoice", None, &at)?;
                        self.counts.refunds_waiting += 1;
                        continue;
                    }
                    OrderState::NoInvoice | OrderState::Unknown => {
                        let reason = if state == OrderState::Unknown {
                            "refund_unknown_order"
                        } else {
                            "refund_without_invoice"
                        };
                        refund_db::mark_open(conn, &r.key, true, reason, None, &at)?;
                        self.note_review(r, reason);
                        continue;
                    }
                };
                let issued =
                    db::issued(conn, invoice_id)?.context("an invoice vanished during the run")?;
                let original: crate::invoice::vat::Computation =
                    serde_json::from_str(&issued.computation)
                        .context("a stored VAT computation cannot be read")?;
                let mut already = in_run.get(&invoice_id).cloned().unwrap_or_default();
                for c in refund_db::credit_notes_of(conn, invoice_id)? {
                    let c: crate::invoice::vat::Computation = serde_json::from_str(&c)
                        .context("a stored VAT computation cannot be read")?;
                    for (k, v) in refund::credited_by(&c) {
                        *already.entry(k).or_default() += v;
                    }
                }
                drop(store);
                let currency = crate::invoice::issue::currency_code(original.currency);
                let drafted = match refund::refund_lines(&original, &already, &r.event, currency) {
                    Ok(lines) => {
                        let paid_on = crate::clock::parse_rfc3339(&r.event.posted_at)
                            .map_or(today, |t| self.drafter.zone.date(t));
                        let of = draft::RefundOf {
                            key: r.key.clone(),
                            paid_on,
                        };
                        self.drafter.refund_credit_note(&issued, lines, of, today)?
                    }
                    Err(refusal) => Err(refusal),
                };
                match drafted {
                    Ok(d) => {
                        let credited = in_run.entry(invoice_id).or_default();
                        for (k, v) in refund::credited_by(&d.computation) {
                            *credited.entry(k).or_default() += v;
                        }
                        drafts.push(d);
                    }
                    Err(refusal) => {
                        let conn = self.ctx.store(COMMAND)?;
                        refund_db::mark_open(
                            conn.conn(),
                            &r.key,
                            true,
                            refusal.reason,
                            refusal.detail.as_deref(),
                            &at,
                        )?;
                        drop(conn);
                        self.note_review(r, refusal.reason);
                    }
                }
            }
            let n = self.commit(drafts, &[], today)?;
            self.counts.credit_notes += n;
            self.counts.refund_credit_notes += n;
        }
        Ok(())
    }

    /// A refund in review: named once, when it goes there (a later run that finds it
    /// still there says nothing, so cron does not mail it every time).
    fn note_review(&mut self, r: &crate::store::refunds::Open, reason: &'static str) {
        if r.status != "review" {
            tracing::warn!(order_id = %r.event.order_id, reason, "refund needs review");
            self.counts.refunds_review += 1;
            self.counts
                .problems
                .push((r.event.order_id.clone(), reason.to_string()));
        }
    }

    fn finish(self) -> anyhow::Result<Outcome> {
        let c = &self.counts;
        let u = &c.upload;
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
        if let Some(why) = &u.upload_paused {
            ui.warn(&format!("upload paused: {why}; the next run continues"));
        }
        if let Some(why) = &c.refunds.paused
            && !why.starts_with("waiting for")
        {
            ui.warn(&format!(
                "refunds not read: {why}; the next run reads them again"
            ));
        }
        if let Some(why) = &c.refunds.denied {
            ui.warn(&format!(
                "refunds not read: {why}; grant the app the Finance and Accounting role, or set invoices.refunds = false"
            ));
        }
        let v = &self.lookups.vies;
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
                c.issued, c.credit_notes, c.held, c.failed, u.uploaded, u.accepted, u.upload_errors, queued, pending
            ));
        }
        let summary = json!({
            "command": COMMAND,
            "issued": c.issued,
            "credit_notes": c.credit_notes,
            "held": c.held,
            "failed": c.failed,
            "uploaded": u.uploaded,
            "accepted": u.accepted,
            "upload_errors": u.upload_errors,
            "upload_skipped": u.upload_skipped,
            "upload_queued": queued,
            "upload_pending": pending,
            "upload_paused": u.upload_paused,
            "waiting_for_tokens": u.waiting_for_tokens,
            "files_repaired": c.files_repaired,
            "refunds_read": c.refunds.events,
            "refunds_new": c.refunds.new,
            "refund_calls": c.refunds.calls,
            "refund_credit_notes": c.refund_credit_notes,
            "refunds_review": c.refunds_review,
            "refunds_waiting": c.refunds_waiting,
            "refunds_paused": c.refunds.paused,
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
        let needs_person = c.failed
            + c.held
            + u.upload_errors
            + c.refunds_review
            + u64::from(c.refunds.denied.is_some());
        let mut outcome = Outcome::from_failures(needs_person, summary);
        let refunds_paused = c
            .refunds
            .paused
            .as_ref()
            .is_some_and(|p| !p.starts_with("waiting for"));
        if needs_person == 0 && (u.upload_paused.is_some() || v.waiting > 0 || refunds_paused) {
            outcome.exit = Exit::Temporary;
        }
        Ok(outcome)
    }
}
