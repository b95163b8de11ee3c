//! Built-in table of EU VAT rates, dated, per member state and tax category.
//!
//! This module owns *which percentage applies*: a static table covering all 27 member
//! states from [`COVERAGE_START`] (1 July 2021, the start of the Union OSS) up to
//! [`VERIFIED_UNTIL`], plus [`RateTable`], which lets the configuration add or override
//! rows. It does no arithmetic on amounts; rounding lives in `super::vat`, which applies
//! the rule of `shared/compliance/VAT_INVOICE.md` §10 (VAT per rate group on the
//! VAT-inclusive total, rounded half away from zero to the cent).
//!
//! Lookups never guess. A country outside the EU, a date before [`COVERAGE_START`] or after
//! [`VERIFIED_UNTIL`], or a category the table has no row for gives a [`VatError`]; the
//! operator then adds a [`RateEntry`] in the configuration.
//!
//! Sources: standard rates and their change dates were checked against a TEDB-derived
//! public dataset (European Commission, Taxes in Europe Database); reduced rates come from
//! the Commission's published rate lists as remembered by the author and from
//! `VAT_INVOICE.md` §8. Rows marked `(verify)` in a comment are the author's best knowledge
//! and must be confirmed in TEDB before the tool relies on them for that country.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, macros::date};

use super::vat::VatError;

/// First day the built-in table covers: the Union OSS started on 1 July 2021; before that
/// date distance sales followed per-country thresholds, which this engine does not model.
pub const COVERAGE_START: Date = date!(2021 - 07 - 01);

/// Last day for which the built-in rows were checked. Later dates are refused until the
/// table is re-checked against TEDB (and this constant moved) or the configuration supplies
/// rows, because silently applying an outdated rate is worse than stopping.
pub const VERIFIED_UNTIL: Date = date!(2026 - 12 - 31);

/// ISO 3166-1 alpha-2 codes of the 27 member states (Greece as `GR`; the VAT prefix `EL`
/// is accepted on input and mapped to `GR`).
pub const EU_MEMBER_STATES: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// Returns the canonical member-state code for `code` (case-insensitive, trimmed; `EL` is
/// read as `GR`), or `None` when it is not one of the 27 member states.
#[must_use]
pub fn eu_member(code: &str) -> Option<&'static str> {
    let code = code.trim().to_ascii_uppercase();
    let code = if code == "EL" { "GR" } else { code.as_str() };
    EU_MEMBER_STATES.iter().copied().find(|m| *m == code)
}

/// What kind of goods a line is, for rate purposes. The rate for a category is looked up
/// per destination country, so one SKU needs one category for all of the EU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxCategory {
    /// Anything without a reduced rate: the country's standard rate.
    Standard,
    /// Ordinary foodstuffs for human consumption (not catering, not alcohol, not
    /// confectionery). Only countries that tax most food at one reduced rate have a row;
    /// elsewhere (e.g. DK, EE, ES, IE, IT, LT) the rate depends on the item and the
    /// configuration must say it.
    Reduced,
    /// Printed books (Annex III point 6 of the VAT Directive).
    Books,
    /// The country's super-reduced rate (below 5 %), which exists only in ES, FR, IE, IT
    /// and LU. The caller decides that a product qualifies.
    SuperReduced,
    /// Goods the seller has established are zero-rated in the country concerned (for
    /// example printed books in IE or CZ). 0 % in every member state; the table does not
    /// judge which goods qualify.
    Zero,
}

/// One dated rate: `rate` percent for `category` in `country` from `valid_from` to
/// `valid_to` (both inclusive; `None` = open-ended). Configuration rows have this shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateEntry {
    /// Member-state code (`GR` or `EL` for Greece).
    pub country: String,
    /// Category the rate applies to.
    pub category: TaxCategory,
    /// Percentage, e.g. `21` or `5.5`.
    pub rate: Decimal,
    /// First day the rate applies.
    #[serde(with = "iso_date")]
    pub valid_from: Date,
    /// Last day the rate applies; `None` while no end is known.
    #[serde(default, with = "iso_date::option")]
    pub valid_to: Option<Date>,
}

time::serde::format_description!(pub iso_date, Date, "[year]-[month]-[day]");

/// The rate lookup: the built-in rows plus configuration rows. Configuration rows are
/// searched first and the *later* of two overlapping configuration rows wins; built-in
/// rows are consulted only when no configuration row matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateTable {
    extra: Vec<RateEntry>,
    tedb: Option<TedbRates>,
}

impl RateTable {
    /// The built-in table without configuration rows.
    #[must_use]
    pub fn builtin() -> Self {
        Self::default()
    }

    /// The built-in table extended by `entries` (later entries win where they overlap).
    ///
    /// # Errors
    /// [`VatError::InvalidRateEntry`] when an entry names a non-member country, has a rate
    /// outside 0..100, or ends before it starts.
    pub fn with_entries(entries: Vec<RateEntry>) -> Result<Self, VatError> {
        let mut extra = Vec::with_capacity(entries.len());
        for entry in entries {
            let country = eu_member(&entry.country).ok_or_else(|| {
                VatError::InvalidRateEntry(format!(
                    "{:?} is not an EU member state code",
                    entry.country
                ))
            })?;
            if entry.rate < Decimal::ZERO || entry.rate >= Decimal::ONE_HUNDRED {
                return Err(VatError::InvalidRateEntry(format!(
                    "rate {} for {country} is outside 0..100",
                    entry.rate
                )));
            }
            if entry.valid_to.is_some_and(|to| to < entry.valid_from) {
                return Err(VatError::InvalidRateEntry(format!(
                    "rate for {country} ends before it starts ({})",
                    entry.valid_from
                )));
            }
            extra.push(RateEntry {
                country: country.to_owned(),
                rate: entry.rate.normalize(),
                ..entry
            });
        }
        Ok(Self { extra, tedb: None })
    }

    /// The percentage for `category` in `country` on `date`.
    ///
    /// # Errors
    /// As [`RateTable::lookup`].
    pub fn rate(
        &self,
        country: &str,
        category: TaxCategory,
        date: Date,
    ) -> Result<Decimal, VatError> {
        self.lookup(country, category, date).map(|r| r.percent)
    }
}

/// Rate from the built-in table alone; see [`RateTable::rate`].
///
/// # Errors
/// As [`RateTable::rate`].
pub fn rate(country: &str, category: TaxCategory, date: Date) -> Result<Decimal, VatError> {
    RateTable::builtin().rate(country, category, date)
}

/// The built-in rows, for listing or exporting (the `Zero` category, 0 % everywhere, is
/// implicit and not listed).
#[must_use]
pub fn builtin_entries() -> Vec<RateEntry> {
    BUILTIN
        .iter()
        .map(|r| RateEntry {
            country: r.country.to_owned(),
            category: r.category,
            rate: r.rate,
            valid_from: r.from,
            valid_to: r.to,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// STAND-IN for the rates.rs rewrite on main (issue #14). On merge, take main's rates.rs
// whole: it has this API (TedbRates, RateSource, Rate, Builtin, builtin(), with_tedb,
// verified_until, lookup, TaxCategory::ALL/as_str) with the same meaning. Only the `tedb`
// branch codes against it (src/tedb.rs, src/commands/rates.rs, make-invoices, tax-report).
// ---------------------------------------------------------------------------------------

impl TaxCategory {
    /// Every category, in the order they are listed.
    pub const ALL: [Self; 5] = [
        Self::Standard,
        Self::Reduced,
        Self::Books,
        Self::SuperReduced,
        Self::Zero,
    ];

    /// The name used in the configuration (`super_reduced`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Reduced => "reduced",
            Self::Books => "books",
            Self::SuperReduced => "super_reduced",
            Self::Zero => "zero",
        }
    }
}

/// Rates the European Commission's TEDB gave to one complete `fulfil rates update`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TedbRates {
    /// The rows TEDB gave, for every member state.
    pub entries: Vec<RateEntry>,
    /// The last day the update asked TEDB about; the rows are trusted up to it.
    pub covered_until: Date,
    /// The day the update ran.
    pub retrieved_on: Date,
}

/// Which layer a rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateSource {
    /// `[[invoices.extra_rates]]` in the configuration.
    Config,
    /// TEDB, as retrieved by `fulfil rates update` on that day.
    Tedb {
        /// Day of the update.
        retrieved_on: Date,
    },
    /// The built-in table.
    Builtin,
}

impl std::fmt::Display for RateSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config => f.write_str("configuration (invoices.extra_rates)"),
            Self::Tedb { retrieved_on } => write!(f, "TEDB, retrieved {retrieved_on}"),
            Self::Builtin => f.write_str("built-in table"),
        }
    }
}

/// A rate and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// The percentage.
    pub percent: Decimal,
    /// The layer that answered.
    pub source: RateSource,
}

/// The built-in table (rows with their sources, horizon, date of the last check).
#[derive(Debug)]
pub struct Builtin {
    /// Last day for which the rows were checked.
    pub verified_until: Date,
    /// The day the rows were last checked against their sources.
    pub checked_on: Date,
    /// The rows, each with its source.
    pub rows: Vec<(RateEntry, String)>,
}

static BUILTIN_TABLE: std::sync::LazyLock<Builtin> = std::sync::LazyLock::new(|| Builtin {
    verified_until: VERIFIED_UNTIL,
    checked_on: VERIFIED_UNTIL,
    rows: builtin_entries()
        .into_iter()
        .map(|e| {
            (
                e,
                "built-in table (see the comments in src/invoice/rates.rs)".to_owned(),
            )
        })
        .collect(),
});

/// The built-in table.
#[must_use]
pub fn builtin() -> &'static Builtin {
    &BUILTIN_TABLE
}

impl RateTable {
    /// Adds the rows of the last complete TEDB update (rows that are not usable are
    /// dropped).
    #[must_use]
    pub fn with_tedb(mut self, tedb: Option<TedbRates>) -> Self {
        self.tedb = tedb.map(|t| TedbRates {
            entries: t
                .entries
                .into_iter()
                .filter(|e| {
                    eu_member(&e.country).is_some()
                        && e.rate >= Decimal::ZERO
                        && e.rate < Decimal::ONE_HUNDRED
                        && e.valid_to.is_none_or(|to| to >= e.valid_from)
                })
                .map(|e| RateEntry {
                    country: eu_member(&e.country).unwrap_or("").to_owned(),
                    rate: e.rate.normalize(),
                    ..e
                })
                .collect(),
            ..t
        });
        self
    }

    /// The TEDB layer, if any.
    #[must_use]
    pub fn tedb(&self) -> Option<&TedbRates> {
        self.tedb.as_ref()
    }

    /// The later of the built-in horizon and the end of the last TEDB update's period.
    #[must_use]
    pub fn verified_until(&self) -> Date {
        self.tedb
            .as_ref()
            .map_or(VERIFIED_UNTIL, |t| t.covered_until.max(VERIFIED_UNTIL))
    }

    /// The percentage for `category` in `country` on `date`, and the layer it came from.
    ///
    /// # Errors
    /// [`VatError::NotEuMember`] for a country outside the EU; [`VatError::NoRate`] when
    /// no layer covers the date and category.
    pub fn lookup(
        &self,
        country: &str,
        category: TaxCategory,
        date: Date,
    ) -> Result<Rate, VatError> {
        let country =
            eu_member(country).ok_or_else(|| VatError::NotEuMember(country.to_owned()))?;
        let covers = |from: Date, to: Option<Date>| from <= date && to.is_none_or(|to| date <= to);
        let matches = |e: &&RateEntry| {
            e.country == country && e.category == category && covers(e.valid_from, e.valid_to)
        };
        if let Some(entry) = self.extra.iter().rev().find(matches) {
            return Ok(Rate {
                percent: entry.rate,
                source: RateSource::Config,
            });
        }
        let no_rate = |reason: String| VatError::NoRate {
            country: country.to_owned(),
            category,
            date,
            reason,
        };
        if date < COVERAGE_START {
            return Err(no_rate(format!(
                "the rate table starts on {COVERAGE_START}"
            )));
        }
        let horizon = self.verified_until();
        if date > horizon {
            return Err(no_rate(format!(
                "rates are verified only up to {horizon}; run `fulfil rates update` or configure the rate"
            )));
        }
        if let Some(tedb) = self.tedb.as_ref().filter(|t| date <= t.covered_until) {
            let source = RateSource::Tedb {
                retrieved_on: tedb.retrieved_on,
            };
            if category == TaxCategory::Zero {
                return Ok(Rate {
                    percent: Decimal::ZERO,
                    source,
                });
            }
            if let Some(entry) = tedb.entries.iter().find(matches) {
                return Ok(Rate {
                    percent: entry.rate,
                    source,
                });
            }
        }
        if date > VERIFIED_UNTIL {
            return Err(no_rate(format!(
                "TEDB gave no {} rate for {country} and the built-in table ends on {VERIFIED_UNTIL}; configure it",
                category.as_str()
            )));
        }
        if category == TaxCategory::Zero {
            return Ok(Rate {
                percent: Decimal::ZERO,
                source: RateSource::Builtin,
            });
        }
        BUILTIN
            .iter()
            .find(|r| r.country == country && r.category == category && covers(r.from, r.to))
            .map(|r| Rate {
                percent: r.rate,
                source: RateSource::Builtin,
            })
            .ok_or_else(|| {
                no_rate(
                    "no built-in rate for this category (it is item-specific or unverified there); configure it"
                        .to_owned(),
                )
            })
    }
}

// --------------------------------- end of the stand-in ---------------------------------

struct Row {
    country: &'static str,
    category: TaxCategory,
    rate: Decimal,
    from: Date,
    to: Option<Date>,
}

/// `mantissa` scaled down by `scale` decimal places: `pct(255, 1)` is 25.5.
const fn pct(mantissa: u32, scale: u32) -> Decimal {
    Decimal::from_parts(mantissa, 0, 0, false, scale)
}

const fn row(
    country: &'static str,
    category: TaxCategory,
    rate: Decimal,
    from: Date,
    to: Option<Date>,
) -> Row {
    Row {
        country,
        category,
        rate,
        from,
        to,
    }
}

const S: TaxCategory = TaxCategory::Standard;
const R: TaxCategory = TaxCategory::Reduced;
const B: TaxCategory = TaxCategory::Books;
const SR: TaxCategory = TaxCategory::SuperReduced;
const START: Date = COVERAGE_START;

/// Rows never overlap for one (country, category); a test checks it.
static BUILTIN: &[Row] = &[
    // --- Standard rates (checked against TEDB-derived data) ---
    row("AT", S, pct(20, 0), START, None),
    row("BE", S, pct(21, 0), START, None),
    row("BG", S, pct(20, 0), START, None),
    row("CY", S, pct(19, 0), START, None),
    row("CZ", S, pct(21, 0), START, None),
    row("DE", S, pct(19, 0), START, None),
    row("DK", S, pct(25, 0), START, None),
    // Estonia: 20 % until 2023, 22 % from 2024-01-01, 24 % from 2025-07-01.
    row("EE", S, pct(20, 0), START, Some(date!(2023 - 12 - 31))),
    row(
        "EE",
        S,
        pct(22, 0),
        date!(2024 - 01 - 01),
        Some(date!(2025 - 06 - 30)),
    ),
    row("EE", S, pct(24, 0), date!(2025 - 07 - 01), None),
    row("ES", S, pct(21, 0), START, None),
    // Finland: 24 % until 2024-08-31, 25.5 % from 2024-09-01.
    row("FI", S, pct(24, 0), START, Some(date!(2024 - 08 - 31))),
    row("FI", S, pct(255, 1), date!(2024 - 09 - 01), None),
    row("FR", S, pct(20, 0), START, None),
    row("GR", S, pct(24, 0), START, None),
    row("HR", S, pct(25, 0), START, None),
    row("HU", S, pct(27, 0), START, None),
    row("IE", S, pct(23, 0), START, None),
    row("IT", S, pct(22, 0), START, None),
    row("LT", S, pct(21, 0), START, None),
    // Luxembourg: temporary one-point cut for calendar year 2023.
    row("LU", S, pct(17, 0), START, Some(date!(2022 - 12 - 31))),
    row(
        "LU",
        S,
        pct(16, 0),
        date!(2023 - 01 - 01),
        Some(date!(2023 - 12 - 31)),
    ),
    row("LU", S, pct(17, 0), date!(2024 - 01 - 01), None),
    row("LV", S, pct(21, 0), START, None),
    row("MT", S, pct(18, 0), START, None),
    row("NL", S, pct(21, 0), START, None),
    row("PL", S, pct(23, 0), START, None),
    row("PT", S, pct(23, 0), START, None), // mainland; Madeira and the Azores differ
    // Romania: 19 % until 2025-07-31, 21 % from 2025-08-01.
    row("RO", S, pct(19, 0), START, Some(date!(2025 - 07 - 31))),
    row("RO", S, pct(21, 0), date!(2025 - 08 - 01), None),
    row("SE", S, pct(25, 0), START, None),
    row("SI", S, pct(22, 0), START, None),
    // Slovakia: 20 % until 2024-12-31, 23 % from 2025-01-01.
    row("SK", S, pct(20, 0), START, Some(date!(2024 - 12 - 31))),
    row("SK", S, pct(23, 0), date!(2025 - 01 - 01), None),
    // --- Reduced: ordinary foodstuffs ---
    row("AT", R, pct(10, 0), START, None),
    row("BE", R, pct(6, 0), START, None),
    row("CY", R, pct(5, 0), START, None), // (verify)
    // Czechia merged its 15 % and 10 % reduced rates into 12 % on 2024-01-01.
    row("CZ", R, pct(15, 0), START, Some(date!(2023 - 12 - 31))),
    row("CZ", R, pct(12, 0), date!(2024 - 01 - 01), None),
    row("DE", R, pct(7, 0), START, None),
    row("FI", R, pct(14, 0), START, Some(date!(2025 - 12 - 31))),
    row("FI", R, pct(135, 1), date!(2026 - 01 - 01), None), // (verify) food cut to 13.5 %
    row("FR", R, pct(55, 1), START, None),
    row("GR", R, pct(13, 0), START, None),
    row("LU", R, pct(3, 0), START, None), // food is in Luxembourg's 3 % band
    row("NL", R, pct(9, 0), START, None),
    // Poland: basic food 0 % from 2022-02-01 to 2024-03-31 (anti-inflation shield). (verify)
    row("PL", R, pct(5, 0), START, Some(date!(2022 - 01 - 31))),
    row(
        "PL",
        R,
        pct(0, 0),
        date!(2022 - 02 - 01),
        Some(date!(2024 - 03 - 31)),
    ),
    row("PL", R, pct(5, 0), date!(2024 - 04 - 01), None),
    // Romania merged 9 % and 5 % into 11 % on 2025-08-01. (verify the 11 % figure)
    row("RO", R, pct(9, 0), START, Some(date!(2025 - 07 - 31))),
    row("RO", R, pct(11, 0), date!(2025 - 08 - 01), None),
    // Sweden: food 12 %, temporarily 6 % from 2026-04-01 to 2027-12-31 (VAT_INVOICE.md §8);
    // what follows 2027 is left to configuration.
    row("SE", R, pct(12, 0), START, Some(date!(2026 - 03 - 31))),
    row(
        "SE",
        R,
        pct(6, 0),
        date!(2026 - 04 - 01),
        Some(date!(2027 - 12 - 31)),
    ),
    row("SI", R, pct(95, 1), START, None),
    // --- Books (printed) ---
    // Austria: 5 % COVID rate for publications until 2021-12-31. (verify)
    row("AT", B, pct(5, 0), START, Some(date!(2021 - 12 - 31))),
    row("AT", B, pct(10, 0), date!(2022 - 01 - 01), None),
    row("BE", B, pct(6, 0), START, None),
    row("CY", B, pct(5, 0), START, None), // (verify)
    // Czechia: 10 % until 2023; zero-rated from 2024-01-01. (verify)
    row("CZ", B, pct(10, 0), START, Some(date!(2023 - 12 - 31))),
    row("CZ", B, pct(0, 0), date!(2024 - 01 - 01), None),
    row("DE", B, pct(7, 0), START, None),
    row("DK", B, pct(25, 0), START, None), // Denmark has no reduced rate
    row("EE", B, pct(9, 0), START, None),  // (verify) unchanged by the 2025 reforms
    row("ES", B, pct(4, 0), START, None),
    row("FI", B, pct(10, 0), START, None), // (verify) books kept 10 % in 2025
    row("FR", B, pct(55, 1), START, None),
    row("GR", B, pct(6, 0), START, None),
    row("HR", B, pct(5, 0), START, None), // (verify)
    row("HU", B, pct(5, 0), START, None),
    row("IE", B, pct(0, 0), START, None),
    row("IT", B, pct(4, 0), START, None),
    row("LU", B, pct(3, 0), START, None),
    row("MT", B, pct(5, 0), START, None), // (verify)
    row("NL", B, pct(9, 0), START, None),
    row("PL", B, pct(5, 0), START, None),
    row("PT", B, pct(6, 0), START, None),
    row("RO", B, pct(5, 0), START, Some(date!(2025 - 07 - 31))),
    row("RO", B, pct(11, 0), date!(2025 - 08 - 01), None), // (verify)
    row("SE", B, pct(6, 0), START, None),
    row("SI", B, pct(5, 0), START, None),
    // Slovakia: 10 % until 2024; 5 % from 2025-01-01. (verify)
    row("SK", B, pct(10, 0), START, Some(date!(2024 - 12 - 31))),
    row("SK", B, pct(5, 0), date!(2025 - 01 - 01), None),
    // --- Super-reduced ---
    row("ES", SR, pct(4, 0), START, None),
    row("FR", SR, pct(21, 1), START, None),
    row("IE", SR, pct(48, 1), START, None),
    row("IT", SR, pct(4, 0), START, None),
    row("LU", SR, pct(3, 0), START, None),
];

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use time::macros::date;

    fn r(country: &str, category: TaxCategory, date: Date) -> Decimal {
        rate(country, category, date)
            .unwrap_or_else(|e| panic!("{country} {category:?} {date}: {e}"))
    }

    #[test]
    fn standard_rate_for_every_member_state_today() {
        let day = date!(2026 - 03 - 01);
        let expected = [
            ("AT", dec!(20)),
            ("BE", dec!(21)),
            ("BG", dec!(20)),
            ("CY", dec!(19)),
            ("CZ", dec!(21)),
            ("DE", dec!(19)),
            ("DK", dec!(25)),
            ("EE", dec!(24)),
            ("ES", dec!(21)),
            ("FI", dec!(25.5)),
            ("FR", dec!(20)),
            ("GR", dec!(24)),
            ("HR", dec!(25)),
            ("HU", dec!(27)),
            ("IE", dec!(23)),
            ("IT", dec!(22)),
            ("LT", dec!(21)),
            ("LU", dec!(17)),
            ("LV", dec!(21)),
            ("MT", dec!(18)),
            ("NL", dec!(21)),
            ("PL", dec!(23)),
            ("PT", dec!(23)),
            ("RO", dec!(21)),
            ("SE", dec!(25)),
            ("SI", dec!(22)),
            ("SK", dec!(23)),
        ];
        assert_eq!(expected.len(), EU_MEMBER_STATES.len());
        for (country, want) in expected {
            assert_eq!(r(country, TaxCategory::Standard, day), want, "{country}");
        }
    }

    #[test]
    fn every_member_state_has_standard_and_zero_over_the_whole_coverage() {
        for country in EU_MEMBER_STATES {
            let mut day = COVERAGE_START;
            while day <= VERIFIED_UNTIL {
                assert!(
                    rate(country, TaxCategory::Standard, day).is_ok(),
                    "{country} {day}"
                );
                assert_eq!(r(country, TaxCategory::Zero, day), Decimal::ZERO);
                day = day.next_day().expect("in range");
            }
        }
    }

    #[test]
    fn rate_changes_take_effect_on_the_day() {
        use TaxCategory::{Books, Reduced, Standard};
        // (country, category, last day of the old rate, old, new)
        #[rustfmt::skip]
        let cases = [
            ("EE", Standard, date!(2023 - 12 - 31), dec!(20), dec!(22)),
            ("EE", Standard, date!(2025 - 06 - 30), dec!(22), dec!(24)),
            ("FI", Standard, date!(2024 - 08 - 31), dec!(24), dec!(25.5)),
            ("SK", Standard, date!(2024 - 12 - 31), dec!(20), dec!(23)),
            ("RO", Standard, date!(2025 - 07 - 31), dec!(19), dec!(21)),
            ("LU", Standard, date!(2022 - 12 - 31), dec!(17), dec!(16)),
            ("LU", Standard, date!(2023 - 12 - 31), dec!(16), dec!(17)),
            ("CZ", Reduced, date!(2023 - 12 - 31), dec!(15), dec!(12)),
            ("CZ", Books, date!(2023 - 12 - 31), dec!(10), dec!(0)),
            ("FI", Reduced, date!(2025 - 12 - 31), dec!(14), dec!(13.5)),
            ("RO", Reduced, date!(2025 - 07 - 31), dec!(9), dec!(11)),
            ("RO", Books, date!(2025 - 07 - 31), dec!(5), dec!(11)),
            ("SK", Books, date!(2024 - 12 - 31), dec!(10), dec!(5)),
            ("PL", Reduced, date!(2022 - 01 - 31), dec!(5), dec!(0)),
            ("PL", Reduced, date!(2024 - 03 - 31), dec!(0), dec!(5)),
            ("SE", Reduced, date!(2026 - 03 - 31), dec!(12), dec!(6)),
            ("AT", Books, date!(2021 - 12 - 31), dec!(5), dec!(10)),
        ];
        for (country, category, last_old, old, new) in cases {
            let first_new = last_old.next_day().expect("in range");
            assert_eq!(
                r(country, category, last_old),
                old,
                "{country} {category:?} {last_old}"
            );
            assert_eq!(
                r(country, category, first_new),
                new,
                "{country} {category:?} {first_new}"
            );
        }
    }

    #[test]
    fn reduced_books_and_super_reduced_samples() {
        let day = date!(2026 - 02 - 15);
        let cases = [
            ("NL", TaxCategory::Reduced, dec!(9)),
            ("NL", TaxCategory::Books, dec!(9)),
            ("DE", TaxCategory::Reduced, dec!(7)),
            ("DE", TaxCategory::Books, dec!(7)),
            ("FR", TaxCategory::Reduced, dec!(5.5)),
            ("FR", TaxCategory::Books, dec!(5.5)),
            ("FR", TaxCategory::SuperReduced, dec!(2.1)),
            ("BE", TaxCategory::Reduced, dec!(6)),
            ("IT", TaxCategory::Books, dec!(4)),
            ("IT", TaxCategory::SuperReduced, dec!(4)),
            ("ES", TaxCategory::Books, dec!(4)),
            ("IE", TaxCategory::SuperReduced, dec!(4.8)),
            ("IE", TaxCategory::Books, dec!(0)),
            ("SE", TaxCategory::Books, dec!(6)),
            ("SE", TaxCategory::Reduced, dec!(12)),
            ("PL", TaxCategory::Books, dec!(5)),
            ("SI", TaxCategory::Reduced, dec!(9.5)),
            ("LU", TaxCategory::SuperReduced, dec!(3)),
        ];
        for (country, category, want) in cases {
            assert_eq!(r(country, category, day), want, "{country} {category:?}");
        }
    }

    #[test]
    fn missing_rows_are_errors_not_guesses() {
        let day = date!(2025 - 05 - 05);
        // Denmark has no reduced rate; Germany no super-reduced one.
        assert!(matches!(
            rate("DK", TaxCategory::Reduced, day),
            Err(VatError::NoRate { .. })
        ));
        assert!(matches!(
            rate("DE", TaxCategory::SuperReduced, day),
            Err(VatError::NoRate { .. })
        ));
        // Outside the EU.
        assert!(matches!(
            rate("CH", TaxCategory::Standard, day),
            Err(VatError::NotEuMember(_))
        ));
        assert!(matches!(
            rate("GB", TaxCategory::Standard, day),
            Err(VatError::NotEuMember(_))
        ));
        // Before coverage and past the verified horizon.
        assert!(matches!(
            rate("NL", TaxCategory::Standard, date!(2021 - 06 - 30)),
            Err(VatError::NoRate { .. })
        ));
        assert!(matches!(
            rate("NL", TaxCategory::Standard, date!(2027 - 01 - 01)),
            Err(VatError::NoRate { .. })
        ));
        // Sweden's temporary food rate has a legislated end; nothing is assumed after it.
        let se_after = RateTable::with_entries(vec![])
            .expect("empty is fine")
            .rate("SE", TaxCategory::Reduced, date!(2026 - 12 - 31));
        assert_eq!(se_after.expect("inside horizon"), dec!(6));
    }

    #[test]
    fn greece_accepts_el_and_codes_are_case_insensitive() {
        let day = date!(2025 - 01 - 10);
        assert_eq!(r("EL", TaxCategory::Standard, day), dec!(24));
        assert_eq!(r(" gr ", TaxCategory::Standard, day), dec!(24));
        assert_eq!(eu_member("nl"), Some("NL"));
        assert_eq!(eu_member("XI"), None);
    }

    #[test]
    fn configuration_rows_extend_and_override_later_wins() {
        let table = RateTable::with_entries(vec![
            RateEntry {
                country: "de".into(),
                category: TaxCategory::Standard,
                rate: dec!(20.00),
                valid_from: date!(2026 - 07 - 01),
                valid_to: None,
            },
            RateEntry {
                country: "DE".into(),
                category: TaxCategory::Standard,
                rate: dec!(18),
                valid_from: date!(2026 - 10 - 01),
                valid_to: Some(date!(2026 - 10 - 31)),
            },
            RateEntry {
                country: "DK".into(),
                category: TaxCategory::Reduced,
                rate: dec!(25),
                valid_from: COVERAGE_START,
                valid_to: None,
            },
        ])
        .expect("valid rows");
        assert_eq!(
            table
                .rate("DE", TaxCategory::Standard, date!(2026 - 06 - 30))
                .unwrap(),
            dec!(19)
        );
        assert_eq!(
            table
                .rate("DE", TaxCategory::Standard, date!(2026 - 07 - 01))
                .unwrap(),
            dec!(20)
        );
        assert_eq!(
            table
                .rate("DE", TaxCategory::Standard, date!(2026 - 10 - 15))
                .unwrap(),
            dec!(18)
        );
        // Configuration rows are not bound by the built-in horizon.
        assert_eq!(
            table
                .rate("DE", TaxCategory::Standard, date!(2030 - 01 - 01))
                .unwrap(),
            dec!(20)
        );
        assert_eq!(
            table
                .rate("DK", TaxCategory::Reduced, date!(2025 - 01 - 01))
                .unwrap(),
            dec!(25)
        );
    }

    #[test]
    fn bad_configuration_rows_are_rejected() {
        let base = RateEntry {
            country: "NL".into(),
            category: TaxCategory::Standard,
            rate: dec!(21),
            valid_from: date!(2026 - 01 - 01),
            valid_to: None,
        };
        for bad in [
            RateEntry {
                country: "CH".into(),
                ..base.clone()
            },
            RateEntry {
                rate: dec!(-1),
                ..base.clone()
            },
            RateEntry {
                rate: dec!(100),
                ..base.clone()
            },
            RateEntry {
                valid_to: Some(date!(2025 - 12 - 31)),
                ..base.clone()
            },
        ] {
            assert!(matches!(
                RateTable::with_entries(vec![bad]),
                Err(VatError::InvalidRateEntry(_))
            ));
        }
    }

    #[test]
    fn rate_entry_reads_from_json_with_plain_dates() {
        let json = r#"{"country":"SE","category":"reduced","rate":"6","valid_from":"2028-01-01"}"#;
        let entry: RateEntry = serde_json::from_str(json).expect("parses");
        assert_eq!(entry.valid_from, date!(2028 - 01 - 01));
        assert_eq!(entry.valid_to, None);
        assert_eq!(entry.rate, dec!(6));
        let back = serde_json::to_string(&entry).expect("serialises");
        assert!(back.contains(r#""valid_from":"2028-01-01""#), "{back}");
    }

    #[test]
    fn builtin_rows_do_not_overlap_and_are_sane() {
        let rows = builtin_entries();
        for (i, a) in rows.iter().enumerate() {
            assert!(eu_member(&a.country).is_some(), "{}", a.country);
            assert!(a.rate >= Decimal::ZERO && a.rate < Decimal::ONE_HUNDRED);
            assert!(a.valid_from >= COVERAGE_START);
            assert!(a.valid_to.is_none_or(|to| to >= a.valid_from));
            for b in &rows[i + 1..] {
                if a.country != b.country || a.category != b.category {
                    continue;
                }
                let a_end = a.valid_to.unwrap_or(Date::MAX);
                let b_end = b.valid_to.unwrap_or(Date::MAX);
                assert!(
                    a_end < b.valid_from || b_end < a.valid_from,
                    "overlap {} {:?}",
                    a.country,
                    a.category
                );
            }
        }
    }

    #[test]
    fn changed_rows_leave_no_gaps() {
        // Where a (country, category) has several rows, each must start the day after the
        // previous one ends.
        let rows = builtin_entries();
        for a in &rows {
            if let Some(end) = a.valid_to {
                let next = end.next_day().expect("in range");
                let follows = rows.iter().any(|b| {
                    b.country == a.country && b.category == a.category && b.valid_from == next
                });
                let legislated_end = a.country == "SE" && end == date!(2027 - 12 - 31);
                assert!(
                    follows || legislated_end,
                    "gap after {} {:?} {end}",
                    a.country,
                    a.category
                );
            }
        }
    }
}
