//! The stored TEDB layer: the rows of the last complete `fulfil rates update`.

use std::str::FromStr as _;

use rusqlite::{Connection, OptionalExtension as _, params};
use rust_decimal::Decimal;
use time::Date;

use super::StoreError;
use crate::invoice::rates::{RateEntry, TaxCategory};

/// What an update was asked and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateMeta {
    pub retrieved_at: String,
    pub covered_from: Date,
    pub covered_until: Date,
    pub samples: u32,
    pub endpoint: String,
}

fn day(s: &str) -> Option<Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &fmt).ok()
}

fn category(s: &str) -> Option<TaxCategory> {
    TaxCategory::ALL.into_iter().find(|c| c.as_str() == s)
}

/// Replaces the stored update by `meta` and `rows`, in the caller's transaction.
///
/// # Errors
/// [`StoreError`] from SQLite.
pub fn replace(
    tx: &rusqlite::Transaction<'_>,
    meta: &UpdateMeta,
    rows: &[RateEntry],
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM tedb_rates", [])?;
    tx.execute("DELETE FROM tedb_update", [])?;
    tx.execute(
        "INSERT INTO tedb_update(id, retrieved_at, covered_from, covered_until, samples, endpoint)
         VALUES (1, ?1, ?2, ?3, ?4, ?5)",
        params![
            meta.retrieved_at,
            meta.covered_from.to_string(),
            meta.covered_until.to_string(),
            meta.samples,
            meta.endpoint
        ],
    )?;
    let mut stmt = tx.prepare(
        "INSERT INTO tedb_rates(country, category, rate, valid_from, valid_to)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for r in rows {
        stmt.execute(params![
            r.country,
            r.category.as_str(),
            r.rate.to_string(),
            r.valid_from.to_string(),
            r.valid_to.map(|d| d.to_string())
        ])?;
    }
    Ok(())
}

/// The stored update, or `None` when there is none (or the database predates it). Rows
/// that do not read back are skipped.
///
/// # Errors
/// [`StoreError`] from SQLite.
pub fn load(conn: &Connection) -> Result<Option<(UpdateMeta, Vec<RateEntry>)>, StoreError> {
    let exists: bool = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'tedb_update'",
        [],
        |r| r.get::<_, i64>(0),
    )? > 0;
    if !exists {
        return Ok(None);
    }
    let meta = conn
        .query_row(
            "SELECT retrieved_at, covered_from, covered_until, samples, endpoint FROM tedb_update",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((retrieved_at, from, until, samples, endpoint)) = meta else {
        return Ok(None);
    };
    let (Some(covered_from), Some(covered_until)) = (day(&from), day(&until)) else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT country, category, rate, valid_from, valid_to FROM tedb_rates
         ORDER BY country, category, valid_from",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let entries = rows
        .into_iter()
        .filter_map(|(country, cat, rate, from, to)| {
            Some(RateEntry {
                country,
                category: category(&cat)?,
                rate: Decimal::from_str(&rate).ok()?,
                valid_from: day(&from)?,
                valid_to: match to {
                    Some(t) => Some(day(&t)?),
                    None => None,
                },
            })
        })
        .collect();
    Ok(Some((
        UpdateMeta {
            retrieved_at,
            covered_from,
            covered_until,
            samples,
            endpoint,
        },
        entries,
    )))
}

/// The TEDB layer as the rate table takes it: the last complete update, `None` when there
/// is none.
///
/// # Errors
/// [`StoreError`] from SQLite.
pub fn layer(conn: &Connection) -> Result<Option<crate::invoice::rates::TedbRates>, StoreError> {
    Ok(load(conn)?.map(|(meta, entries)| {
        // The day of the update, in UTC like the stored time; the covered period says more.
        let retrieved_on = crate::clock::parse_rfc3339(&meta.retrieved_at)
            .map_or(meta.covered_from, time::OffsetDateTime::date);
        crate::invoice::rates::TedbRates {
            entries,
            covered_until: meta.covered_until,
            retrieved_on,
        }
    }))
}
