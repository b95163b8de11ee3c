//! The injectable clock.
//!
//! Every command asks the [`Clock`] for "now" instead of the system. `FULFIL_NOW`
//! (RFC 3339) pins the start of the run to a given instant, for tests and rehearsals;
//! the pinned clock then advances with the process's monotonic clock, so waits for a
//! rate limit and time stamps within one run still move forward.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone)]
pub struct Clock {
    origin: OffsetDateTime,
    started: Instant,
    pinned: bool,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self {
            origin: OffsetDateTime::now_utc(),
            started: Instant::now(),
            pinned: false,
        }
    }

    /// A clock that starts at `at` and runs from there.
    pub fn pinned(at: OffsetDateTime) -> Self {
        Self {
            origin: at,
            started: Instant::now(),
            pinned: true,
        }
    }

    /// Reads `FULFIL_NOW`; without it, the system clock.
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var("FULFIL_NOW") {
            Ok(v) if !v.trim().is_empty() => {
                let at = parse_rfc3339(v.trim()).map_err(|_| {
                    crate::error::AppError::config("FULFIL_NOW is not an RFC 3339 date-time")
                        .hint("use a form such as FULFIL_NOW=2026-11-29T10:00:00Z")
                })?;
                Ok(Self::pinned(at))
            }
            _ => Ok(Self::system()),
        }
    }

    /// Now, in UTC.
    pub fn now(&self) -> OffsetDateTime {
        if self.pinned {
            self.origin + self.started.elapsed()
        } else {
            OffsetDateTime::now_utc()
        }
    }

    pub fn is_pinned(&self) -> bool {
        self.pinned
    }

    /// Sleeps; the pinned clock advances by the same amount since it follows `Instant`.
    pub fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Parses an RFC 3339 date-time into UTC.
pub fn parse_rfc3339(s: &str) -> anyhow::Result<OffsetDateTime> {
    let t = OffsetDateTime::parse(s, &Rfc3339).with_context(|| "not an RFC 3339 date-time")?;
    Ok(t.to_offset(time::UtcOffset::UTC))
}

/// Formats in RFC 3339 with whole seconds, UTC (`2026-11-29T10:00:00Z`).
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Formats an instant as an HTTP `Date` (RFC 7231 IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(t: OffsetDateTime) -> String {
    httpdate::fmt_http_date(std::time::SystemTime::from(t))
}

/// Reads an HTTP `Date` header (any of the three forms RFC 7231 accepts).
pub fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    httpdate::parse_http_date(s.trim())
        .ok()
        .map(OffsetDateTime::from)
}

/// A server's clock as its `Date` headers show it, against ours (issue #15): the
/// difference `server − local` of the latest answer that carried a readable `Date`.
///
/// A `Date` has whole seconds and is written before the answer travels, so the server
/// seems up to a second plus the latency behind: a cutoff taken from it errs early.
#[derive(Debug, Default)]
pub struct PeerClock {
    offset: std::cell::Cell<Option<time::Duration>>,
}

impl PeerClock {
    /// Notes the `Date` of an answer received at `local` (our clock).
    pub fn observe(&self, date: Option<&str>, local: OffsetDateTime) {
        if let Some(server) = date.and_then(parse_http_date) {
            self.offset.set(Some(server - local));
        }
    }

    /// `server − local`, once an answer carried a `Date`.
    pub fn offset(&self) -> Option<time::Duration> {
        self.offset.get()
    }

    /// The server's time now, by our clock plus the last offset seen.
    pub fn now(&self, local: OffsetDateTime) -> Option<OffsetDateTime> {
        self.offset().map(|o| local + o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn http_dates_round_trip_and_peer_offsets() {
        let t = datetime!(2026-11-20 10:03:07 UTC);
        assert_eq!(http_date(t), "Fri, 20 Nov 2026 10:03:07 GMT");
        assert_eq!(parse_http_date("Fri, 20 Nov 2026 10:03:07 GMT"), Some(t));
        // The obsolete forms a recipient must accept.
        assert_eq!(parse_http_date("Friday, 20-Nov-26 10:03:07 GMT"), Some(t));
        assert_eq!(parse_http_date("Fri Nov 20 10:03:07 2026"), Some(t));
        assert_eq!(parse_http_date("2026-11-20T10:03:07Z"), None);
        let peer = PeerClock::default();
        assert_eq!(peer.offset(), None);
        peer.observe(Some("not a date"), t);
        assert_eq!(peer.now(t), None);
        peer.observe(Some("Fri, 20 Nov 2026 10:00:07 GMT"), t);
        assert_eq!(peer.offset(), Some(time::Duration::minutes(-3)));
        assert_eq!(
            peer.now(t + time::Duration::minutes(1)),
            Some(datetime!(2026-11-20 10:01:07 UTC))
        );
    }

    #[test]
    fn pinned_clock_starts_at_pin_and_moves_forward() {
        let c = Clock::pinned(datetime!(2026-01-01 00:00 UTC));
        let a = c.now();
        assert!(a >= datetime!(2026-01-01 00:00 UTC));
        assert!(a < datetime!(2026-01-01 00:01 UTC));
        assert!(c.now() >= a);
    }

    #[test]
    fn rfc3339_round_trip_in_utc() {
        let t = parse_rfc3339("2026-03-01T12:30:00+01:00").unwrap();
        assert_eq!(rfc3339(t), "2026-03-01T11:30:00Z");
    }
}
