//! `fulfil rates update` and `fulfil rates show`: VAT rates from the European Commission's
//! TEDB, kept in the database as the rate table's middle layer (see docs/vat-rates.md).

use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::Date;

use crate::clock::rfc3339;
use crate::commands::Outcome;
use crate::ctx::{Ctx, Overdue};
use crate::error::{AppError, Exit};
use crate::invoice::rates::{EU_MEMBER_STATES, RateSource, RateTable, TaxCategory, eu_member};
use crate::store::tedb::{self as db, UpdateMeta};
use crate::tedb;

/// VAT rates: refresh them from the European Commission's TEDB, or show the ones in use
#[derive(Debug, Args)]
pub struct RatesArgs {
    #[command(subcommand)]
    pub command: RatesCommand,
}

#[derive(Debug, Subcommand)]
pub enum RatesCommand {
    Update(UpdateArgs),
    Show(ShowArgs),
}

/// Ask TEDB for the rates of all 27 member states and keep them (run it monthly from cron)
///
/// Asks for the rates in force on the 1st of each month from three months back to
/// --months ahead, and today. The update is kept only when every member state answered
/// for every day; anything less changes nothing. Prints where TEDB differs from the
/// built-in table.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// How many months ahead to ask about (0-36)
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(0..=36))]
    pub months: u32,
}

/// The rate in force per category, and where it came from
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// One member state (e.g. NL; EL is read as GR) [default: all 27]
    #[arg(long, value_name = "CC")]
    pub country: Option<String>,
    /// The day (YYYY-MM-DD) [default: today]
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
}

pub const UPDATE: &str = "rates update";
pub const SHOW: &str = "rates show";

pub fn run(ctx: &Ctx, args: &RatesArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        RatesCommand::Update(a) => update(ctx, a),
        RatesCommand::Show(a) => show(ctx, a),
    }
}

/// Where a rate came from, for `rates show --json`.
fn source_json(source: RateSource) -> Value {
    match source {
        RateSource::Config => json!({"layer": "config"}),
        RateSource::Tedb { retrieved_on } => {
            json!({"layer": "tedb", "retrieved_on": retrieved_on.to_string()})
        }
        RateSource::Builtin => json!({"layer": "builtin"}),
    }
}

fn update(ctx: &Ctx, args: &UpdateArgs) -> anyhow::Result<Outcome> {
    let cfg = ctx.config()?;
    let endpoint = cfg.rates.tedb_url();
    crate::transport::check_endpoint(&endpoint)?;
    // The writer lock first, as every writing command takes it.
    ctx.begin_writing(UPDATE, Overdue::RemoveFirst)?;
    let now = ctx.clock.now();
    let today = now.date();
    let days = tedb::sample_dates(today, args.months);
    let retry = crate::transport::RetryPolicy {
        max_tries: cfg.amazon.max_tries,
        base: Duration::from_millis(cfg.amazon.retry_base_ms),
        cap: Duration::from_secs(120),
    };
    let http = ctx.http()?;
    let mut samples = Vec::with_capacity(days.len());
    for day in &days {
        let results = tedb::fetch(http, &endpoint, *day, retry, &ctx.clock)
            .with_context(|| format!("rates for {day}"))?;
        let sample = tedb::pick(&results);
        let missing = tedb::missing_standard(&sample);
        if !missing.is_empty() {
            return Err(tedb::TedbError::Incomplete { on: *day, missing }.into());
        }
        samples.push((*day, sample));
    }
    let rows = tedb::merge(&samples);
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Err(AppError::new(Exit::Failed, "no days to ask about").into());
    };
    let meta = UpdateMeta {
        retrieved_at: rfc3339(now),
        covered_from: *first,
        covered_until: *last,
        samples: u32::try_from(days.len()).unwrap_or(u32::MAX),
        endpoint,
    };
    ctx.store(UPDATE)?
        .tx(|tx| db::replace(tx, &meta, &rows))
        .context("cannot store the rates")?;
    let differences = differences(&rows, *last);
    if !ctx.global.json {
        for d in &differences {
            ctx.ui.out(&d.line());
        }
    }
    Ok(Outcome::ok(json!({
        "days": days.len(),
        "rows": rows.len(),
        "covered_from": first.to_string(),
        "covered_until": last.to_string(),
        "differences": differences.iter().map(Difference::json).collect::<Vec<_>>(),
    })))
}

/// A TEDB row whose rate is not the built-in table's on its first day.
struct Difference {
    country: String,
    category: TaxCategory,
    from: Date,
    tedb: Decimal,
    builtin: Option<Decimal>,
    /// The built-in table ended before `from`; `builtin` is its last rate.
    past_horizon: bool,
}

impl Difference {
    fn line(&self) -> String {
        let builtin = match (self.builtin, self.past_horizon) {
            (Some(b), false) => format!("built-in table: {b} %"),
            (Some(b), true) => format!(
                "built-in table: {b} % until {}",
                crate::invoice::rates::builtin().verified_until
            ),
            (None, _) => "built-in table: none".to_owned(),
        };
        format!(
            "{} {}: TEDB {} % from {} ({builtin})",
            self.country,
            self.category.as_str(),
            self.tedb,
            self.from
        )
    }

    fn json(&self) -> Value {
        json!({
            "country": self.country,
            "category": self.category.as_str(),
            "from": self.from.to_string(),
            "tedb": self.tedb.to_string(),
            "builtin": self.builtin.map(|b| b.to_string()),
            "past_builtin_horizon": self.past_horizon,
        })
    }
}

fn differences(rows: &[crate::invoice::rates::RateEntry], covered_until: Date) -> Vec<Difference> {
    let builtin = crate::invoice::rates::builtin();
    let table = RateTable::builtin();
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| r.valid_from <= covered_until) {
        let past = r.valid_from > builtin.verified_until;
        let day = r.valid_from.min(builtin.verified_until);
        let b = table.rate(&r.country, r.category, day).ok();
        if b != Some(r.rate) {
            out.push(Difference {
                country: r.country.clone(),
                category: r.category,
                from: r.valid_from,
                tedb: r.rate,
                builtin: b,
                past_horizon: past,
            });
        }
    }
    out
}

fn show(ctx: &Ctx, args: &ShowArgs) -> anyhow::Result<Outcome> {
    let cfg = ctx.config()?;
    let date = match &args.date {
        None => ctx.clock.now().date(),
        Some(d) => {
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            Date::parse(d.trim(), &fmt)
                .map_err(|_| AppError::config(format!("--date {d:?} is not YYYY-MM-DD")))?
        }
    };
    let countries: Vec<&str> = match &args.country {
        None => EU_MEMBER_STATES.to_vec(),
        Some(c) => vec![eu_member(c).ok_or_else(|| {
            AppError::config(format!("--country {c:?} is not an EU member state"))
                .hint("use a two-letter code such as NL, DE or EL/GR")
        })?],
    };
    let (stored, layer) = {
        let store = ctx.store_read()?;
        (db::load(store.conn())?, db::layer(store.conn())?)
    };
    let table = cfg
        .invoices
        .rate_table()
        .map_err(|e| AppError::config(format!("invoices.extra_rates: {e}")))?
        .with_tedb(layer);
    let mut rates = Vec::new();
    let mut lines = Vec::new();
    for country in &countries {
        for category in TaxCategory::ALL {
            match table.lookup(country, category, date) {
                Ok(rate) => {
                    lines.push(format!(
                        "{country}  {:<13} {:>6} %  {}",
                        category.as_str(),
                        rate.percent,
                        rate.source
                    ));
                    rates.push(json!({
                        "country": country,
                        "category": category.as_str(),
                        "rate": rate.percent.to_string(),
                        "source": source_json(rate.source),
                    }));
                }
                Err(e) => {
                    lines.push(format!(
                        "{country}  {:<13}      -    {e}",
                        category.as_str()
                    ));
                    rates.push(json!({
                        "country": country,
                        "category": category.as_str(),
                        "rate": Value::Null,
                        "source": Value::Null,
                        "reason": e.to_string(),
                    }));
                }
            }
        }
    }
    let tedb = stored.as_ref().map(|(meta, entries)| {
        json!({
            "retrieved_at": meta.retrieved_at,
            "covered_from": meta.covered_from.to_string(),
            "covered_until": meta.covered_until.to_string(),
            "rows": entries.len(),
        })
    });
    if !ctx.global.json {
        ctx.ui.out(&format!(
            "VAT rates on {date}; verified until {}",
            table.verified_until()
        ));
        match &stored {
            Some((meta, _)) => ctx.ui.out(&format!(
                "TEDB update of {} covers {} to {}",
                meta.retrieved_at, meta.covered_from, meta.covered_until
            )),
            None => ctx
                .ui
                .out("no TEDB update stored (run `fulfil rates update`)"),
        }
        for l in &lines {
            ctx.ui.out(l);
        }
    }
    Ok(Outcome::ok(json!({
        "date": date.to_string(),
        "verified_until": table.verified_until().to_string(),
        "builtin_verified_until": crate::invoice::rates::builtin().verified_until.to_string(),
        "tedb": tedb,
        "rates": rates,
    })))
}
