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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

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
