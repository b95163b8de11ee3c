//! `fulfil tax-report --quarter 2026Q3`: the figures of a quarter for the OSS return, the
//! Dutch VAT return and the EC Sales List (opgaaf ICP), from the anonymised tax ledger
//! alone, so it works the same after the personal data was purged (issue #6).
//!
//! OSS figures in SEK, PLN or GBP are converted at the ECB rate of the quarter's last day
//! (or the next publication after it), read from the rate cache or, failing that, asked
//! from `invoices.ecb_endpoint`. The report opens the store read-only and writes nothing
//! but its audit-log entry.

use clap::Args;

use crate::commands::Outcome;
use crate::ctx::Ctx;
use crate::error::{AppError, Exit};
use crate::fx;
use crate::invoice::ledger::{
    self, FxUsed, Quarter, QuarterRates, ReportLine, TaxReport, iso, money,
};
use crate::store::invoices as db;

/// Print a quarter's figures for the OSS return, the Dutch VAT return and the EC Sales List
///
/// Reads only the tax ledger that make-invoices writes, which holds no personal data and
/// outlives the purge. Amounts are in EUR: OSS sums in other currencies at the ECB rate of
/// the quarter's last day, the rest at the rate printed on each document. A period is the
/// date of supply for an invoice and the date of issue for a credit note.
#[derive(Debug, Args)]
pub struct TaxReportArgs {
    /// The quarter, e.g. 2026Q3
    #[arg(long, value_name = "YYYYQN", value_parser = parse_quarter)]
    pub quarter: Quarter,
    /// Print CSV (section,country,rate,vat_id,period,net_eur,vat_eur,documents)
    #[arg(long)]
    pub csv: bool,
}

fn parse_quarter(s: &str) -> Result<Quarter, String> {
    Quarter::parse(s).ok_or_else(|| format!("`{s}` is not a quarter such as 2026Q3"))
}

pub fn run(ctx: &Ctx, args: &TaxReportArgs) -> anyhow::Result<Outcome> {
    if ctx.global.json && args.csv {
        return Err(AppError::config("--csv and --json exclude each other").into());
    }
    let q = args.quarter;
    let rates;
    let rows;
    {
        let store = ctx.store_read()?;
        let conn = store.conn();
        rows = db::report_rows(conn, q.first_day(), q.last_day())?;
        let mut found = QuarterRates::new();
        for currency in ledger::oss_currencies(&rows) {
            let fx = quarter_end_rate(ctx, conn, &currency, q)?;
            found.insert(currency, fx);
        }
        rates = found;
    }
    let report = ledger::tax_report(q, &rows, &rates)
        .map_err(|c| AppError::new(Exit::Failed, format!("no quarter-end rate for {c}")))?;
    if args.csv {
        ctx.ui.out(ledger::to_csv(&report).trim_end());
    } else if !ctx.global.json {
        ctx.ui.out(&text(&report));
    }
    Ok(Outcome::ok(serde_json::to_value(&report)?))
}

/// The ECB rate of the quarter's last day, or of the first publication after it.
fn quarter_end_rate(
    ctx: &Ctx,
    conn: &rusqlite::Connection,
    currency: &str,
    q: Quarter,
) -> anyhow::Result<FxUsed> {
    let last = q.last_day();
    let endpoint = ctx.config()?.invoices.ecb_endpoint.clone();
    let http = match &endpoint {
        Some(_) => Some(ctx.http()?),
        None => None,
    };
    let src = fx::Source {
        conn,
        fetch: http.zip(endpoint.as_deref()),
        cache_at: None,
    };
    for ahead in 0..8 {
        let day = last + time::Duration::days(ahead);
        match fx::cached_or_fetched(&src, currency, day) {
            Ok(Some(quote)) if quote.date >= last => {
                return Ok(FxUsed {
                    currency: currency.to_string(),
                    rate: quote.rate,
                    date: quote.date,
                    source: quote.source,
                });
            }
            // A weekend or holiday answers with the publication before it: try the next day.
            Ok(Some(_)) => {}
            Ok(None) if endpoint.is_none() => {}
            Ok(None) => {
                return Err(AppError::new(
                    Exit::Failed,
                    format!("no ECB {currency} rate is published for {} yet", iso(day)),
                )
                .hint(format!(
                    "the OSS return converts at the rate of the quarter's last day ({}); run the report once it is published",
                    iso(last)
                ))
                .into());
            }
            Err(e) => {
                return Err(AppError::new(Exit::Temporary, e.to_string())
                    .hint("the next run retries")
                    .into());
            }
        }
    }
    Err(AppError::config(format!(
        "the OSS figures include {currency}, which needs the ECB rate of {}",
        iso(last)
    ))
    .hint("set invoices.ecb_endpoint to an endpoint serving EUR reference rates")
    .into())
}

fn text(r: &TaxReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Tax report {} ({} to {}): {} documents, amounts in EUR",
        r.quarter,
        iso(r.from),
        iso(r.to),
        r.documents
    );
    let rate = |l: &ReportLine| {
        l.rate
            .map(|d| format!("{}%", d.normalize()))
            .unwrap_or_default()
    };
    let row = |s: &mut String, label: String, l: &ReportLine| {
        let _ = writeln!(
            s,
            "  {label:<22} net {:>12}  VAT {:>10}  {:>5} documents",
            money(l.net_eur),
            money(l.vat_eur),
            l.documents
        );
    };
    let _ = writeln!(s, "\nOSS (Union scheme) per member state and rate");
    if r.oss.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for l in &r.oss {
        row(
            &mut s,
            format!("{} {}", l.country.as_deref().unwrap_or(""), rate(l)),
            l,
        );
    }
    if !r.oss_corrections.is_empty() {
        let _ = writeln!(s, "\nOSS corrections of earlier quarters");
        for l in &r.oss_corrections {
            row(
                &mut s,
                format!(
                    "{} {}",
                    l.country.as_deref().unwrap_or(""),
                    l.period.as_deref().unwrap_or("")
                ),
                l,
            );
        }
    }
    for fx in &r.oss_exchange_rates {
        let _ = writeln!(
            s,
            "  converted: {} {} per EUR of {} ({})",
            fx.rate.normalize(),
            fx.currency,
            iso(fx.date),
            fx.source
        );
    }
    let _ = writeln!(s, "\nDutch VAT (sales taxed in the Netherlands) per rate");
    if r.domestic.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for l in &r.domestic {
        row(&mut s, rate(l), l);
    }
    let _ = writeln!(
        s,
        "\nIntra-Community supplies (EC Sales List) per customer VAT number"
    );
    if r.intra_community.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for l in &r.intra_community {
        row(&mut s, l.vat_id.clone().unwrap_or_default(), l);
    }
    s.trim_end().to_string()
}
