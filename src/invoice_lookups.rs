//! The answers from outside that drafting an invoice needs, looked up by `make-invoices`
//! before it hands them to [`crate::invoice::draft`] as values (issue #16): VIES on the
//! buyer's VAT number (issue #14) and the ECB rate of a document in another currency than
//! EUR (issue #6).
//!
//! Each is taken from the store's cache when it is recent enough, else asked of the
//! service through its client (`crate::vies`, `crate::fx`), and remembered for the rest of
//! the run, failures included, so that a dead endpoint is asked once per run. An order
//! whose answer cannot be had gets a [`Refusal`] with a fixed reason code; a refused
//! certificate or a requester VIES does not accept stops the run (exit 2).
//!
//! # VIES
//!
//! Valid: reverse charge, and the consultation number goes into `tax_ledger_vies` with the
//! document. Invalid: a consumer sale, named per order on stderr by the command.
//! Unavailable: the order waits ([`VIES_WAITING`], not recorded as a failure) and goes to
//! review (`vies_unavailable`) 24 hours after the first failure.

use std::collections::HashMap;
use std::time::Duration;

use time::Date;

use crate::clock::rfc3339;
use crate::ctx::Ctx;
use crate::fx;
use crate::invoice::draft::ViesUse;
use crate::invoice::issue::{self, Refusal};
use crate::invoice::ledger::iso;
use crate::invoice::render::EurRate;
use crate::invoice::vat::Currency;
use crate::store::vies as vies_db;
use crate::vies::{self, ViesError};

/// How long an invoice waits for VIES before the order goes to review (issue #14).
const VIES_PATIENCE: time::Duration = time::Duration::hours(24);
/// The refusal code of an order that waits for VIES: not a failure, not recorded.
pub const VIES_WAITING: &str = "vies_waiting";

/// VIES in this run (issue #14).
#[derive(Debug, Default)]
pub struct ViesCounts {
    /// Answers VIES gave in this run.
    pub checked: u64,
    /// Answers taken from the cache (invoices.vies_reuse_days).
    pub reused: u64,
    /// Orders whose number VIES confirmed / did not confirm.
    pub valid: u64,
    pub invalid: u64,
    /// Orders left for a later run because VIES could not answer.
    pub waiting: u64,
    /// Orders invoiced with VAT because VIES did not confirm the number.
    pub consumer_fallback: Vec<String>,
    /// Why VIES could not answer, the last time it could not.
    pub last_error: Option<String>,
}

/// The lookups of one run, with their in-run memo.
pub struct Lookups<'a> {
    ctx: &'a Ctx,
    /// The command whose store handle is used.
    command: &'static str,
    /// The seller's VAT number: the requester VIES names in its consultation number.
    requester: String,
    /// Exchange rates asked for in this run (also failures, so a dead endpoint is asked once).
    fx: HashMap<(Currency, Date), Result<EurRate, Refusal>>,
    /// VIES in this run; numbers VIES could not answer for are asked once per run.
    pub vies: ViesCounts,
    vies_failed: HashMap<String, ViesError>,
}

impl<'a> Lookups<'a> {
    pub fn new(ctx: &'a Ctx, command: &'static str, requester: String) -> Self {
        Lookups {
            ctx,
            command,
            requester,
            fx: HashMap::new(),
            vies: ViesCounts::default(),
            vies_failed: HashMap::new(),
        }
    }

    /// Removes VIES answers older than the reuse window, and those no order with personal
    /// data refers to any more.
    pub fn prune_vies(&self) -> anyhow::Result<()> {
        let days = i64::from(self.ctx.config()?.invoices.vies_reuse_days);
        let before = rfc3339(self.ctx.clock.now() - time::Duration::days(days));
        let n = vies_db::prune(self.ctx.store(self.command)?.conn(), &before)?;
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
    pub fn vies_check(
        &mut self,
        order_id: &str,
        vat_id: &str,
    ) -> anyhow::Result<Result<ViesUse, Refusal>> {
        let cfg = self.ctx.config()?;
        let inv = &cfg.invoices;
        let now = self.ctx.clock.now();
        let at = rfc3339(now);
        let country_code = vat_id.get(..2).unwrap_or_default().to_string();
        let since = rfc3339(now - time::Duration::days(i64::from(inv.vies_reuse_days)));
        {
            let store = self.ctx.store(self.command)?;
            let conn = store.conn();
            if let Some(check) = vies_db::cached(conn, vat_id, &since)? {
                vies_db::link(conn, vat_id, order_id)?;
                vies_db::stop_waiting(conn, order_id)?;
                self.vies.reused += 1;
                return Ok(Ok(self.vies_counted(order_id, country_code, check, true)));
            }
        }
        let known = self.vies_failed.get(vat_id).cloned();
        let answer = if let Some(e) = known {
            Err(e)
        } else {
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
                &self.requester,
                retry,
                &self.ctx.clock,
            );
            if let Err(e) = &got {
                self.vies_failed.insert(vat_id.to_string(), e.clone());
            }
            got
        };
        match answer {
            Ok(a) => {
                let check = vies_db::Check {
                    valid: a.valid,
                    request_date: a.request_date.unwrap_or_else(|| at.clone()),
                    request_identifier: a.request_identifier,
                    requester: self.requester.clone(),
                    checked_at: at,
                };
                {
                    let store = self.ctx.store(self.command)?;
                    let conn = store.conn();
                    vies_db::remember(conn, vat_id, &check)?;
                    vies_db::link(conn, vat_id, order_id)?;
                    vies_db::stop_waiting(conn, order_id)?;
                }
                self.vies.checked += 1;
                Ok(Ok(self.vies_counted(order_id, country_code, check, false)))
            }
            // A refused certificate, or VIES not accepting the seller as requester, is the
            // same for every order: stop the run for a person (exit 2).
            Err(ViesError::Tls(t)) => Err(t.into()),
            Err(e @ ViesError::Requester(_)) => Err(e.into()),
            Err(e) if e.is_temporary() => {
                let msg = e.to_string();
                let first = vies_db::note_waiting(
                    self.ctx.store(self.command)?.conn(),
                    order_id,
                    &at,
                    &msg,
                )?;
                self.vies.last_error = Some(msg.clone());
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
        &mut self,
        order_id: &str,
        country_code: String,
        check: vies_db::Check,
        reused: bool,
    ) -> ViesUse {
        let c = &mut self.vies;
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
    pub fn eur_rate(
        &mut self,
        currency: Currency,
        date: Date,
    ) -> anyhow::Result<Result<EurRate, Refusal>> {
        if let Some(known) = self.fx.get(&(currency, date)) {
            return Ok(known.clone());
        }
        let result = self.fetch_rate(issue::currency_code(currency), date)?;
        self.fx.insert((currency, date), result.clone());
        Ok(result)
    }

    fn fetch_rate(&self, code: &str, date: Date) -> anyhow::Result<Result<EurRate, Refusal>> {
        let endpoint = self.ctx.config()?.invoices.ecb_endpoint.as_deref();
        let http = match endpoint {
            Some(_) => Some(self.ctx.http()?),
            None => None,
        };
        let now = rfc3339(self.ctx.clock.now());
        let store = self.ctx.store(self.command)?;
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
}
