//! The seller's time zone (issue #15, item 7).
//!
//! The clock gives instants in UTC; a document's dates are days of the seller's calendar.
//! The date of issue, the date of supply, the yearly number series and the quarter of
//! the tax report are all the seller's day, so an invoice issued at 00:30 on 1 January
//! in Amsterdam (23:30 UTC on 31 December) is dated 1 January and numbered in the new
//! year's series. `seller.timezone` names the zone (IANA, default `Europe/Amsterdam`).
//!
//! The rules come from `jiff` with the IANA time zone database compiled into the binary
//! (`tzdb-bundle-always`): the dates on an invoice must not depend on whether the server
//! has `/usr/share/zoneinfo`, nor change when its copy is updated or missing. `jiff`
//! rather than `time-tz` (whose last stable release is from 2023 and whose 3.0 is still a
//! release candidate) or `chrono-tz` (which would bring a second date-time library):
//! `jiff` is maintained in step with every tzdb release, and an instant crosses from
//! `time` to `jiff` and back as a Unix timestamp, so the rest of fulfil keeps `time`.

use std::fmt;

use time::{Date, OffsetDateTime, UtcOffset};

/// The default zone: fulfil's sellers are established in the Netherlands.
pub const DEFAULT: &str = "Europe/Amsterdam";

/// A named time zone with its rules.
#[derive(Clone)]
pub struct SellerZone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl fmt::Debug for SellerZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SellerZone").field(&self.name).finish()
    }
}

impl SellerZone {
    /// The zone of an IANA name such as `Europe/Amsterdam`.
    ///
    /// # Errors
    /// When the built-in time zone database has no zone of that name.
    pub fn named(name: &str) -> Result<Self, UnknownZone> {
        let trimmed = name.trim();
        if trimmed.is_empty() || trimmed.len() > 64 {
            return Err(UnknownZone(shorten(name)));
        }
        jiff::tz::TimeZone::get(trimmed)
            .map(|tz| Self {
                name: trimmed.to_string(),
                tz,
            })
            .map_err(|_| UnknownZone(shorten(name)))
    }

    /// Europe/Amsterdam.
    pub fn amsterdam() -> Self {
        Self::named(DEFAULT).expect("the built-in database has Europe/Amsterdam")
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's UTC offset at an instant.
    pub fn offset(&self, at: OffsetDateTime) -> UtcOffset {
        let seconds = jiff::Timestamp::from_second(at.unix_timestamp())
            .map_or(0, |ts| self.tz.to_offset(ts).seconds());
        UtcOffset::from_whole_seconds(seconds).unwrap_or(UtcOffset::UTC)
    }

    /// The instant on the zone's wall clock.
    pub fn local(&self, at: OffsetDateTime) -> OffsetDateTime {
        at.to_offset(self.offset(at))
    }

    /// The zone's calendar day at an instant.
    pub fn date(&self, at: OffsetDateTime) -> Date {
        self.local(at).date()
    }
}

impl Default for SellerZone {
    fn default() -> Self {
        Self::amsterdam()
    }
}

/// A zone name the database does not know (shortened, as given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownZone(pub String);

impl fmt::Display for UnknownZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a time zone of the IANA database", self.0)
    }
}

impl std::error::Error for UnknownZone {}

fn shorten(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn ams(at: OffsetDateTime) -> (Date, String) {
        let z = SellerZone::amsterdam();
        let l = z.local(at);
        (z.date(at), format!("{} {}", l.time(), l.offset()))
    }

    #[test]
    fn midnight_and_new_year() {
        // Winter time, UTC+1: the day starts at 23:00 UTC.
        assert_eq!(
            ams(datetime!(2026-12-31 22:59:59 UTC)),
            (date!(2026 - 12 - 31), "23:59:59.0 +01:00:00".into())
        );
        assert_eq!(
            ams(datetime!(2026-12-31 23:00 UTC)),
            (date!(2027 - 01 - 01), "0:00:00.0 +01:00:00".into())
        );
        assert_eq!(
            ams(datetime!(2026-12-31 23:30 UTC)).0,
            date!(2027 - 01 - 01)
        );
    }

    #[test]
    fn march_change_last_sunday_0200_becomes_0300() {
        // 28 March 2027 is the last Sunday of March; the change is at 01:00 UTC.
        assert_eq!(
            ams(datetime!(2027-03-28 00:59:59 UTC)),
            (date!(2027 - 03 - 28), "1:59:59.0 +01:00:00".into())
        );
        assert_eq!(
            ams(datetime!(2027-03-28 01:00 UTC)),
            (date!(2027 - 03 - 28), "3:00:00.0 +02:00:00".into())
        );
        // From then on the day starts at 22:00 UTC.
        assert_eq!(
            ams(datetime!(2027-03-28 21:59:59 UTC)).0,
            date!(2027 - 03 - 28)
        );
        assert_eq!(
            ams(datetime!(2027-03-28 22:00 UTC)).0,
            date!(2027 - 03 - 29)
        );
        // The night before, still winter time: 22:30 UTC is the same day.
        assert_eq!(
            ams(datetime!(2027-03-27 22:30 UTC)).0,
            date!(2027 - 03 - 27)
        );
        assert_eq!(
            ams(datetime!(2027-03-31 22:30 UTC)).0,
            date!(2027 - 04 - 01)
        );
    }

    #[test]
    fn october_change_last_sunday_0300_becomes_0200() {
        // 25 October 2026 is the last Sunday of October; the change is at 01:00 UTC.
        assert_eq!(
            ams(datetime!(2026-10-25 00:59:59 UTC)),
            (date!(2026 - 10 - 25), "2:59:59.0 +02:00:00".into())
        );
        assert_eq!(
            ams(datetime!(2026-10-25 01:00 UTC)),
            (date!(2026 - 10 - 25), "2:00:00.0 +01:00:00".into())
        );
        // Before the change the day started at 22:00 UTC, after it at 23:00 UTC.
        assert_eq!(
            ams(datetime!(2026-10-24 22:00 UTC)).0,
            date!(2026 - 10 - 25)
        );
        assert_eq!(
            ams(datetime!(2026-10-25 22:30 UTC)).0,
            date!(2026 - 10 - 25)
        );
        assert_eq!(
            ams(datetime!(2026-10-25 23:00 UTC)).0,
            date!(2026 - 10 - 26)
        );
    }

    #[test]
    fn other_zones_and_unknown_names() {
        let utc = SellerZone::named("UTC").unwrap();
        assert_eq!(
            utc.date(datetime!(2026-12-31 23:30 UTC)),
            date!(2026 - 12 - 31)
        );
        let berlin = SellerZone::named("Europe/Berlin").unwrap();
        assert_eq!(
            berlin.date(datetime!(2026-12-31 23:30 UTC)),
            date!(2027 - 01 - 01)
        );
        let auckland = SellerZone::named("Pacific/Auckland").unwrap();
        assert_eq!(
            auckland.date(datetime!(2026-12-31 11:30 UTC)),
            date!(2027 - 01 - 01)
        );
        for bad in [
            "Europe/Amsterdamm",
            "",
            "CEST",
            "../../etc/passwd",
            "Europe/\u{1b}[31m",
        ] {
            let e = SellerZone::named(bad).unwrap_err();
            assert!(!e.to_string().contains('\u{1b}'), "{e}");
        }
        assert_eq!(SellerZone::default().name(), "Europe/Amsterdam");
    }
}
