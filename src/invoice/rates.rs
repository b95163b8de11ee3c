//! The dated table of EU VAT rates, per member state and tax category.
//!
//! This module owns *which percentage applies*. Three layers answer, first match wins:
//!
//! 1. rows from the seller's configuration (`[[invoices.extra_rates]]`), any date;
//! 2. rows the European Commission's TEDB gave to `fulfil rates update`, for dates up to
//!    the end of the period that update covered;
//! 3. the built-in table, `data/vat_rates.toml`, compiled into the binary, covering all 27
//!    member states from [`COVERAGE_START`] (1 July 2021, the start of the Union OSS) up to
//!    the date to which its rows were checked ([`builtin_verified_until`]). Every row there
//!    names its source; a rate change is a change of that file and of its test.
//!
//! It does no arithmetic on amounts and no I/O: the TEDB rows are handed in by the caller.
//! Rounding lives in `super::vat`, which applies the rounding rule described there (VAT per
//! rate group on the VAT-inclusive total, rounded half away from zero to the cent).
//!
//! Lookups never guess. A country outside the EU, a date before [`COVERAGE_START`] or past
//! the verified horizon ([`RateTable::verified_until`]), or a category no layer has a row
//! for gives a [`VatError`]; the operator then runs `fulfil rates update` or adds a
//! [`RateEntry`] in the configuration.

use std::sync::LazyLock;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, macros::date};

use super::vat::VatError;

/// First day the built-in table covers: the Union OSS started on 1 July 2021; before that
/// date distance sales followed per-country thresholds, which this engine does not model.
pub const COVERAGE_START: Date = date!(2021 - 07 - 01);

/// The built-in table as shipped, compiled in from the repository's data file.
const BUILTIN_TOML: &str = include_str!("../../data/vat_rates.toml");

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
    /// The country's general super-reduced rate (below 5 %), in ES, FR, IE, IT and LU. The
    /// caller decides that a product qualifies. Rates below 5 % that apply only to a list of
    /// goods (books at 3 % in CY, staples at 4.9 % in AT) are not rows of this category.
    SuperReduced,
    /// Goods the seller has established are zero-rated in the country concerned (for
    /// example printed books in IE or CZ). 0 % in every member state; the table does not
    /// judge which goods qualify.
    Zero,
}

impl TaxCategory {
    /// Every category, in the order they are listed.
    pub const ALL: [Self; 5] = [
        Self::Standard,
        Self::Reduced,
        Self::Books,
        Self::SuperReduced,
        Self::Zero,
    ];

    /// The name used in the configuration and the data file (`super_reduced`).
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

impl RateEntry {
    fn covers(&self, date: Date) -> bool {
        self.valid_from <= date && self.valid_to.is_none_or(|to| date <= to)
    }
}

time::serde::format_description!(pub iso_date, Date, "[year]-[month]-[day]");

/// One row of the built-in data file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataRow {
    country: String,
    category: TaxCategory,
    /// A string, so that no rate passes through a binary float.
    rate: String,
    #[serde(with = "iso_date")]
    from: Date,
    #[serde(default, with = "iso_date::option")]
    to: Option<Date>,
    /// Where the value was checked: TEDB, a government publication, a law.
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataFile {
    #[serde(with = "iso_date")]
    coverage_start: Date,
    #[serde(with = "iso_date")]
    verified_until: Date,
    #[serde(with = "iso_date")]
    checked_on: Date,
    rate: Vec<DataRow>,
}

/// The built-in table, parsed and checked.
#[derive(Debug)]
pub struct Builtin {
    /// Last day for which the rows were checked. Later dates are refused (unless TEDB or the
    /// configuration covers them), because silently applying an outdated rate is worse
    /// than stopping.
    pub verified_until: Date,
    /// The day the rows were last checked against their sources.
    pub checked_on: Date,
    /// The rows, each with its source.
    pub rows: Vec<(RateEntry, String)>,
}

/// Parses and checks a data file in the shape of `data/vat_rates.toml`.
fn parse_builtin(text: &str) -> Result<Builtin, String> {
    let file: DataFile = toml::from_str(text).map_err(|e| e.to_string())?;
    if file.coverage_start != COVERAGE_START {
        return Err(format!(
            "coverage_start is {}, the engine starts on {COVERAGE_START}",
            file.coverage_start
        ));
    }
    let mut rows = Vec::with_capacity(file.rate.len());
    for (i, r) in file.rate.into_iter().enumerate() {
        let at = format!("rate #{} ({} {})", i + 1, r.country, r.category.as_str());
        let entry = RateEntry {
            country: r.country.clone(),
            category: r.category,
            rate: r
                .rate
                .trim()
                .parse::<Decimal>()
                .map_err(|e| format!("{at}: rate {:?}: {e}", r.rate))?,
            valid_from: r.from,
            valid_to: r.to,
        };
        let entry = checked_entry(entry).map_err(|e| format!("{at}: {e}"))?;
        if r.category == TaxCategory::Zero {
            return Err(format!("{at}: the zero category is implicit"));
        }
        if entry.valid_from < COVERAGE_START {
            return Err(format!("{at}: starts before {COVERAGE_START}"));
        }
        if r.source.trim().len() < 8 {
            return Err(format!("{at}: every row names its source"));
        }
        rows.push((entry, r.source));
    }
    Ok(Builtin {
        verified_until: file.verified_until,
        checked_on: file.checked_on,
        rows,
    })
}

static BUILTIN: LazyLock<Builtin> = LazyLock::new(|| {
    // The file is part of the binary and checked by the tests; a broken one cannot ship.
    parse_builtin(BUILTIN_TOML).expect("data/vat_rates.toml is valid (checked by the tests)")
});

/// The built-in table (rows with their sources, horizon, date of the last check).
#[must_use]
pub fn builtin() -> &'static Builtin {
    &BUILTIN
}

/// Last day the built-in table was verified for.
#[must_use]
pub fn builtin_verified_until() -> Date {
    BUILTIN.verified_until
}

/// Checks one row: a member state, a rate in 0..100, an end not before its start. The
/// country comes back canonical (`EL` → `GR`) and the rate normalised.
fn checked_entry(entry: RateEntry) -> Result<RateEntry, VatError> {
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
    Ok(RateEntry {
        country: country.to_owned(),
        rate: entry.rate.normalize(),
        ..entry
    })
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
    /// The built-in table (`data/vat_rates.toml`).
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

/// From this many days before the verified horizon, `fulfil doctor` warns.
pub const DOCTOR_WARN_DAYS: i64 = 60;

/// From this many days before the verified horizon, every writing command prints one
/// warning line (also under `-q`: cron's mail is how the seller hears of it).
pub const RUN_WARN_DAYS: i64 = 14;

/// Where `today` stands against the last verified day `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Horizon {
    /// More than [`DOCTOR_WARN_DAYS`] days left.
    Far { days_left: i64 },
    /// 1 to [`DOCTOR_WARN_DAYS`] days left.
    Near { days_left: i64 },
    /// The last verified day is today or past: invoices for later days wait for rates.
    Reached { days_left: i64 },
}

impl Horizon {
    #[must_use]
    pub fn of(until: Date, today: Date) -> Self {
        let days_left = (until - today).whole_days();
        if days_left <= 0 {
            Self::Reached { days_left }
        } else if days_left <= DOCTOR_WARN_DAYS {
            Self::Near { days_left }
        } else {
            Self::Far { days_left }
        }
    }

    #[must_use]
    pub fn days_left(self) -> i64 {
        match self {
            Self::Far { days_left } | Self::Near { days_left } | Self::Reached { days_left } => {
                days_left
            }
        }
    }

    /// The one line a writing command prints in the last [`RUN_WARN_DAYS`] days, if any.
    #[must_use]
    pub fn run_warning(self, until: Date) -> Option<String> {
        let days = self.days_left();
        (days <= RUN_WARN_DAYS).then(|| {
            let when = match days {
                ..0 => format!("since {until}: invoices after that date wait for a rate"),
                0 => "up to today: invoices from tomorrow on wait for a rate".to_owned(),
                1 => "up to tomorrow".to_owned(),
                n => format!("up to {until} ({n} days)"),
            };
            format!(
                "VAT rates are verified only {when}; run `fulfil rates update` (or update fulfil)"
            )
        })
    }
}

/// The rate lookup over the three layers (see the module comment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateTable {
    extra: Vec<RateEntry>,
    tedb: Option<TedbRates>,
}

impl RateTable {
    /// The built-in table alone.
    #[must_use]
    pub fn builtin() -> Self {
        Self::default()
    }

    /// The built-in table extended by configuration rows `entries` (later entries win where
    /// they overlap).
    ///
    /// # Errors
    /// [`VatError::InvalidRateEntry`] when an entry names a non-member country, has a rate
    /// outside 0..100, or ends before it starts.
    pub fn with_entries(entries: Vec<RateEntry>) -> Result<Self, VatError> {
        let extra = entries
            .into_iter()
            .map(checked_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { extra, tedb: None })
    }

    /// Adds the rows of the last complete TEDB update (rows that are not usable are
    /// dropped: the store only keeps checked ones).
    #[must_use]
    pub fn with_tedb(mut self, tedb: Option<TedbRates>) -> Self {
        self.tedb = tedb.map(|t| TedbRates {
            entries: t
                .entries
                .into_iter()
                .filter_map(|e| checked_entry(e).ok())
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

    /// The last day for which rates are verified: the later of the built-in table's horizon
    /// and the end of the period the last TEDB update covered.
    #[must_use]
    pub fn verified_until(&self) -> Date {
        let builtin = builtin_verified_until();
        self.tedb
            .as_ref()
            .map_or(builtin, |t| t.covered_until.max(builtin))
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
        let matches =
            |e: &&RateEntry| e.country == country && e.category == category && e.covers(date);
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
            if category == TaxCategory::Zero {
                return Ok(Rate {
                    percent: Decimal::ZERO,
                    source: RateSource::Tedb {
                        retrieved_on: tedb.retrieved_on,
                    },
                });
            }
            if let Some(entry) = tedb.entries.iter().find(matches) {
                return Ok(Rate {
                    percent: entry.rate,
                    source: RateSource::Tedb {
                        retrieved_on: tedb.retrieved_on,
                    },
                });
            }
        }
        let builtin = builtin();
        if date > builtin.verified_until {
            return Err(no_rate(format!(
                "TEDB gave no {} rate for {country} and the built-in table ends on {}; configure it",
                category.as_str(),
                builtin.verified_until
            )));
        }
        if category == TaxCategory::Zero {
            return Ok(Rate {
                percent: Decimal::ZERO,
                source: RateSource::Builtin,
            });
        }
        builtin
            .rows
            .iter()
            .map(|(entry, _)| entry)
            .find(matches)
            .map(|entry| Rate {
                percent: entry.rate,
                source: RateSource::Builtin,
            })
            .ok_or_else(|| {
                no_rate(
                    "no built-in rate for this category (it is item-specific there); configure it"
                        .to_owned(),
                )
            })
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
    builtin().rows.iter().map(|(e, _)| e.clone()).collect()
}

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
            while day <= builtin_verified_until() {
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
            ("FI", Books, date!(2024 - 12 - 31), dec!(10), dec!(14)),
            ("FI", Books, date!(2025 - 12 - 31), dec!(14), dec!(13.5)),
            ("CY", Books, date!(2023 - 07 - 20), dec!(5), dec!(3)),
            ("LT", Books, date!(2025 - 12 - 31), dec!(9), dec!(5)),
            ("LV", Books, date!(2021 - 12 - 31), dec!(12), dec!(5)),
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
            rate("NL", TaxCategory::Standard, date!(2028 - 01 - 01)),
            Err(VatError::NoRate { .. })
        ));
        assert_eq!(
            r("NL", TaxCategory::Standard, date!(2027 - 12 - 31)),
            dec!(21)
        );
        // Sweden's temporary food rate runs to the end of 2027; nothing is assumed after it.
        let se_after = RateTable::with_entries(vec![])
            .expect("empty is fine")
            .rate("SE", TaxCategory::Reduced, date!(2027 - 12 - 31));
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
                // Rows that end on purpose with nothing after them: Sweden's temporary food
                // rate (what follows 2027 is not legislated yet), Austria's food from the
                // day its 4.9 % staples rate split it in two, Danish books from the year the
                // announced 0 % has no confirmed date.
                let ends_on_purpose = [
                    ("SE", TaxCategory::Reduced, date!(2027 - 12 - 31)),
                    ("AT", TaxCategory::Reduced, date!(2026 - 06 - 30)),
                    ("DK", TaxCategory::Books, date!(2025 - 12 - 31)),
                ]
                .contains(&(a.country.as_str(), a.category, end));
                assert!(
                    follows || ends_on_purpose,
                    "gap after {} {:?} {end}",
                    a.country,
                    a.category
                );
            }
        }
    }

    #[test]
    fn rows_that_stop_leave_the_rate_to_the_configuration() {
        // Austria taxes listed staples at 4.9 % from 2026-07-01 and other food at 10 %.
        assert_eq!(
            r("AT", TaxCategory::Reduced, date!(2026 - 06 - 30)),
            dec!(10)
        );
        assert!(rate("AT", TaxCategory::Reduced, date!(2026 - 07 - 01)).is_err());
        // Denmark announced 0 % on books for 2026 without a confirmed date.
        assert_eq!(r("DK", TaxCategory::Books, date!(2025 - 12 - 31)), dec!(25));
        assert!(rate("DK", TaxCategory::Books, date!(2026 - 01 - 01)).is_err());
        // Sweden's food rate is 6 % to the last verified day; nothing is assumed after it.
        assert_eq!(
            r("SE", TaxCategory::Reduced, date!(2027 - 12 - 31)),
            dec!(6)
        );
    }

    #[test]
    fn every_member_state_is_verified_through_2027() {
        // No standard-rate change was legislated for 2027 (see data/vat_rates.toml): the
        // rate of the last day of 2026 holds on the first and the last day of 2027.
        for country in EU_MEMBER_STATES {
            let end_2026 = r(country, TaxCategory::Standard, date!(2026 - 12 - 31));
            assert_eq!(
                r(country, TaxCategory::Standard, date!(2027 - 01 - 01)),
                end_2026
            );
            assert_eq!(
                r(country, TaxCategory::Standard, date!(2027 - 12 - 31)),
                end_2026
            );
            assert!(rate(country, TaxCategory::Standard, date!(2028 - 01 - 01)).is_err());
        }
    }

    #[test]
    fn the_shipped_data_file_parses_and_names_a_source_for_every_row() {
        let table = parse_builtin(BUILTIN_TOML).expect("data/vat_rates.toml");
        assert_eq!(table.verified_until, date!(2027 - 12 - 31));
        assert!(table.checked_on <= table.verified_until);
        assert!(table.rows.len() >= 87, "{} rows", table.rows.len());
        for (entry, source) in &table.rows {
            assert!(
                !source.contains("TODO") && source.len() >= 8,
                "{} {:?}: {source:?}",
                entry.country,
                entry.category
            );
        }
        for country in EU_MEMBER_STATES {
            assert!(
                table
                    .rows
                    .iter()
                    .any(|(e, _)| e.country == country && e.category == TaxCategory::Standard),
                "{country} has no standard rate"
            );
        }
    }

    #[test]
    fn a_broken_data_file_is_refused_with_the_row_named() {
        let head = "coverage_start = \"2021-07-01\"\nverified_until = \"2027-12-31\"\nchecked_on = \"2026-12-05\"\n";
        let row = |fields: &str| format!("{head}[[rate]]\n{fields}\n");
        let good = "country = \"NL\"\ncategory = \"standard\"\nrate = \"21\"\nfrom = \"2021-07-01\"\nsource = \"Wet OB 1968 art. 9\"";
        assert!(parse_builtin(&row(good)).is_ok());
        for (bad, says) in [
            (good.replace("\"21\"", "\"twenty\""), "rate"),
            (good.replace("\"21\"", "\"100\""), "outside"),
            (good.replace("NL", "CH"), "member state"),
            (good.replace("Wet OB 1968 art. 9", ""), "source"),
            (good.replace("2021-07-01", "2021-06-30"), "before"),
            (format!("{good}\nto = \"2020-01-01\""), "ends before"),
            (good.replace("standard", "zero"), "implicit"),
            (format!("{good}\nnote = \"x\""), "unknown field"),
        ] {
            let err = parse_builtin(&row(&bad)).expect_err(&bad);
            assert!(err.contains(says), "{err} should say {says}");
        }
        let err =
            parse_builtin(&row(good).replace("2021-07-01\"\nverified", "2021-01-01\"\nverified"))
                .expect_err("coverage");
        assert!(err.contains("coverage_start"), "{err}");
    }

    fn tedb(entries: Vec<RateEntry>, covered_until: Date) -> TedbRates {
        TedbRates {
            entries,
            covered_until,
            retrieved_on: date!(2027 - 11 - 20),
        }
    }

    fn entry(country: &str, category: TaxCategory, rate: Decimal, from: Date) -> RateEntry {
        RateEntry {
            country: country.into(),
            category,
            rate,
            valid_from: from,
            valid_to: None,
        }
    }

    #[test]
    fn tedb_rows_extend_the_horizon_and_say_where_they_came_from() {
        let nl = entry("NL", TaxCategory::Standard, dec!(21), date!(2027 - 09 - 01));
        let de = entry("DE", TaxCategory::Standard, dec!(20), date!(2028 - 02 - 01));
        let de_before = RateEntry {
            valid_to: Some(date!(2028 - 01 - 31)),
            ..entry("DE", TaxCategory::Standard, dec!(19), date!(2027 - 09 - 01))
        };
        let table = RateTable::builtin()
            .with_tedb(Some(tedb(vec![nl, de_before, de], date!(2028 - 08 - 31))));
        assert_eq!(table.verified_until(), date!(2028 - 08 - 31));
        let got = table
            .lookup("DE", TaxCategory::Standard, date!(2028 - 02 - 01))
            .unwrap();
        assert_eq!(got.percent, dec!(20));
        assert_eq!(
            got.source,
            RateSource::Tedb {
                retrieved_on: date!(2027 - 11 - 20)
            }
        );
        assert_eq!(
            table
                .rate("DE", TaxCategory::Standard, date!(2028 - 01 - 31))
                .unwrap(),
            dec!(19)
        );
        // Before the TEDB rows start, the built-in table answers.
        let early = table
            .lookup("DE", TaxCategory::Standard, date!(2027 - 03 - 01))
            .unwrap();
        assert_eq!(
            (early.percent, early.source),
            (dec!(19), RateSource::Builtin)
        );
        // A category TEDB did not give is not guessed past the built-in horizon ...
        assert!(matches!(
            table.rate("DE", TaxCategory::Reduced, date!(2028 - 03 - 01)),
            Err(VatError::NoRate { .. })
        ));
        // ... but the built-in row still serves inside it.
        assert_eq!(
            table
                .rate("DE", TaxCategory::Reduced, date!(2027 - 12 - 31))
                .unwrap(),
            dec!(7)
        );
        // Nothing past the period the update covered.
        let err = table
            .rate("NL", TaxCategory::Standard, date!(2028 - 09 - 01))
            .unwrap_err();
        assert!(err.to_string().contains("fulfil rates update"), "{err}");
        // Zero is zero wherever the table is verified.
        assert_eq!(
            table
                .rate("FR", TaxCategory::Zero, date!(2028 - 06 - 01))
                .unwrap(),
            Decimal::ZERO
        );
    }

    #[test]
    fn configuration_beats_tedb_and_tedb_beats_the_builtin_table() {
        let day = date!(2027 - 10 - 01);
        let table = RateTable::with_entries(vec![entry(
            "AT",
            TaxCategory::Standard,
            dec!(18),
            date!(2027 - 10 - 01),
        )])
        .unwrap()
        .with_tedb(Some(tedb(
            vec![
                entry("AT", TaxCategory::Standard, dec!(21), date!(2027 - 09 - 01)),
                entry("BE", TaxCategory::Standard, dec!(22), date!(2027 - 09 - 01)),
                // An unusable row from the store is dropped, not trusted.
                entry("CH", TaxCategory::Standard, dec!(8), date!(2027 - 09 - 01)),
            ],
            date!(2028 - 08 - 31),
        )));
        let at = table.lookup("AT", TaxCategory::Standard, day).unwrap();
        assert_eq!((at.percent, at.source), (dec!(18), RateSource::Config));
        let be = table.lookup("BE", TaxCategory::Standard, day).unwrap();
        assert_eq!(be.percent, dec!(22));
        assert!(matches!(be.source, RateSource::Tedb { .. }));
        assert_eq!(table.tedb().unwrap().entries.len(), 2);
        // An old TEDB update whose period ended before the built-in horizon does not shorten it.
        let old = RateTable::builtin().with_tedb(Some(tedb(vec![], date!(2027 - 02 - 28))));
        assert_eq!(old.verified_until(), builtin_verified_until());
        assert_eq!(
            RateSource::Tedb {
                retrieved_on: date!(2027 - 11 - 20)
            }
            .to_string(),
            "TEDB, retrieved 2027-11-20"
        );
    }

    #[test]
    fn horizon_warnings_start_60_and_14_days_ahead() {
        let until = date!(2027 - 12 - 31);
        let at = |days: i64| Horizon::of(until, until - time::Duration::days(days));
        assert_eq!(at(61), Horizon::Far { days_left: 61 });
        assert_eq!(at(60), Horizon::Near { days_left: 60 });
        assert_eq!(at(59), Horizon::Near { days_left: 59 });
        assert_eq!(at(1), Horizon::Near { days_left: 1 });
        assert_eq!(at(0), Horizon::Reached { days_left: 0 });
        assert_eq!(at(-3), Horizon::Reached { days_left: -3 });
        assert_eq!(at(15).run_warning(until), None);
        let line = at(14).run_warning(until).expect("14 days");
        assert!(
            line.contains("up to 2027-12-31 (14 days)") && line.contains("fulfil rates update"),
            "{line}"
        );
        assert!(at(0).run_warning(until).unwrap().contains("from tomorrow"));
        assert!(
            at(-1)
                .run_warning(until)
                .unwrap()
                .contains("since 2027-12-31")
        );
    }
}
