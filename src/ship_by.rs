//! Ship-by deadlines (issue #23): which open orders are late, due today or tomorrow,
//! which ones a run must speak up about, and the two rates Amazon judges a seller by.
//!
//! Amazon sets every merchant-fulfilled order a ship-by window; the order counts as
//! shipped late when its shipment is confirmed after the window's end. The seller's
//! Late Shipment Rate (above 4 % Amazon may deactivate the account) and Valid Tracking
//! Rate (at least 95 %) are computed from those confirmations over 10 and 30 days.
//! This module is pure: the store gives it the orders, the clock gives it the time,
//! and it answers in the seller's calendar ([`SellerZone`]).

use rust_decimal::Decimal;
use time::{Duration, OffsetDateTime};

use crate::zone::SellerZone;

/// Where an order's deadline falls, seen from now, in the seller's days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// The deadline has passed.
    Late,
    /// Later today (the seller's calendar day).
    Today,
    /// Tomorrow.
    Tomorrow,
    /// After tomorrow, or no deadline known.
    Later,
}

impl Due {
    /// The bucket of a deadline at `now`.
    pub fn of(deadline: Option<OffsetDateTime>, now: OffsetDateTime, zone: &SellerZone) -> Due {
        let Some(deadline) = deadline else {
            return Due::Later;
        };
        if deadline < now {
            return Due::Late;
        }
        let today = zone.date(now);
        let day = zone.date(deadline);
        if day == today {
            Due::Today
        } else if today.next_day() == Some(day) {
            Due::Tomorrow
        } else {
            Due::Later
        }
    }
}

/// Where an order that is not confirmed to Amazon is held up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stuck {
    /// In `fulfil review`, with the reason code (never personal data).
    Review(String),
    /// Ready; the next `make-labels` makes its label.
    WaitingForLabel,
    /// Ready, but Amazon's label-printing window opens only at this time.
    LabelWindow(OffsetDateTime),
    /// Labelled, not yet confirmed to Amazon.
    NotConfirmed,
}

/// One order a run speaks up about: not confirmed to Amazon, and its ship-by deadline
/// is past or within the alert window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub order_id: String,
    pub deadline: OffsetDateTime,
    pub stuck: Stuck,
}

/// Whether an unconfirmed order with this deadline must be named at `now`: its deadline
/// is past or at most `hours` away.
pub fn needs_alert(deadline: OffsetDateTime, now: OffsetDateTime, hours: u32) -> bool {
    deadline <= now + Duration::hours(i64::from(hours))
}

impl Alert {
    /// The line for cron's mail: order id, deadline in the seller's zone, how long until
    /// (or since) and where the order is held up. No personal data.
    pub fn line(&self, now: OffsetDateTime, zone: &SellerZone) -> String {
        let when = if self.deadline < now {
            format!("LATE by {}", span(now - self.deadline))
        } else {
            format!("in {}", span(self.deadline - now))
        };
        let stuck = match &self.stuck {
            Stuck::Review(reason) => format!("in review ({reason})"),
            Stuck::WaitingForLabel => "waiting for a label".to_string(),
            Stuck::LabelWindow(at) => format!(
                "waiting for Amazon's label-printing window ({})",
                local(*at, zone)
            ),
            Stuck::NotConfirmed => "labelled, not confirmed to Amazon".to_string(),
        };
        format!(
            "order {} must ship by {} ({when}): {stuck}",
            self.order_id,
            local(self.deadline, zone)
        )
    }
}

/// `2026-12-05 18:00 +01:00`: the seller's wall clock with its offset.
pub fn local(at: OffsetDateTime, zone: &SellerZone) -> String {
    let t = zone.local(at);
    let off = t.offset();
    format!(
        "{} {:02}:{:02} {}{:02}:{:02}",
        t.date(),
        t.hour(),
        t.minute(),
        if off.is_negative() { '-' } else { '+' },
        off.whole_hours().unsigned_abs(),
        off.minutes_past_hour().unsigned_abs()
    )
}

/// `3 h 05 min`, `45 min`, `2 d 4 h`: a span to the nearest minute, or to the hour
/// past a day.
fn span(d: Duration) -> String {
    let minutes = ((d.whole_seconds() + 30) / 60).max(0);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {mins:02} min")
    } else {
        format!("{mins} min")
    }
}

/// Counts over one of Amazon's windows (10 or 30 days).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WindowCounts {
    /// Orders whose ship-by deadline fell in the window.
    pub due: u64,
    /// Of those, confirmed after the deadline or not confirmed at all.
    pub late: u64,
    /// Orders whose shipment was confirmed in the window.
    pub confirmed: u64,
    /// Of those, with a tracking number Amazon knows.
    pub tracked: u64,
}

impl WindowCounts {
    /// Late Shipment Rate in percent, one decimal; none without orders.
    pub fn late_shipment_rate(&self) -> Option<Decimal> {
        percent(self.late, self.due)
    }

    /// Valid Tracking Rate in percent, one decimal; none without confirmations.
    pub fn valid_tracking_rate(&self) -> Option<Decimal> {
        percent(self.tracked, self.confirmed)
    }
}

fn percent(part: u64, whole: u64) -> Option<Decimal> {
    (whole > 0).then(|| {
        (Decimal::from(part) * Decimal::ONE_HUNDRED / Decimal::from(whole))
            .round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn ams() -> SellerZone {
        SellerZone::amsterdam()
    }

    #[test]
    fn buckets_follow_the_sellers_calendar_not_utc() {
        // 23:30 UTC on 5 December is 00:30 on 6 December in Amsterdam.
        let now = datetime!(2026-12-05 23:30 UTC);
        let z = ams();
        let cases = [
            (datetime!(2026-12-05 23:29 UTC), Due::Late),
            (datetime!(2026-12-05 23:30 UTC), Due::Today),
            (datetime!(2026-12-06 22:59 UTC), Due::Today),
            (datetime!(2026-12-06 23:00 UTC), Due::Tomorrow),
            (datetime!(2026-12-07 22:59 UTC), Due::Tomorrow),
            (datetime!(2026-12-07 23:00 UTC), Due::Later),
        ];
        for (deadline, want) in cases {
            assert_eq!(Due::of(Some(deadline), now, &z), want, "{deadline}");
        }
        assert_eq!(Due::of(None, now, &z), Due::Later);
        // In UTC the same deadline is tomorrow's.
        let utc = SellerZone::named("UTC").unwrap();
        assert_eq!(
            Due::of(Some(datetime!(2026-12-06 22:59 UTC)), now, &utc),
            Due::Tomorrow
        );
    }

    #[test]
    fn days_are_right_across_the_summer_time_change() {
        // 25 October 2026: clocks go back at 03:00 CEST.
        let now = datetime!(2026-10-24 22:30 UTC); // 00:30 CEST on the 25th
        let z = ams();
        assert_eq!(
            Due::of(Some(datetime!(2026-10-25 22:59 UTC)), now, &z),
            Due::Today
        );
        assert_eq!(
            Due::of(Some(datetime!(2026-10-25 23:00 UTC)), now, &z),
            Due::Tomorrow
        );
    }

    #[test]
    fn alert_window_includes_its_edge_and_everything_late() {
        let now = datetime!(2026-12-05 12:00 UTC);
        assert!(needs_alert(datetime!(2026-12-05 16:00 UTC), now, 4));
        assert!(!needs_alert(datetime!(2026-12-05 16:01 UTC), now, 4));
        assert!(needs_alert(datetime!(2026-11-05 16:00 UTC), now, 0));
        assert!(!needs_alert(datetime!(2026-12-05 12:01 UTC), now, 0));
    }

    #[test]
    fn alert_lines_name_order_deadline_and_place() {
        let now = datetime!(2026-12-05 13:00 UTC);
        let z = ams();
        let a = |stuck, deadline| Alert {
            order_id: "028-1234567-1234567".into(),
            deadline,
            stuck,
        };
        assert_eq!(
            a(
                Stuck::Review("address_check".into()),
                datetime!(2026-12-05 16:55 UTC)
            )
            .line(now, &z),
            "order 028-1234567-1234567 must ship by 2026-12-05 17:55 +01:00 (in 3 h 55 min): in review (address_check)"
        );
        assert_eq!(
            a(Stuck::NotConfirmed, datetime!(2026-12-03 22:59 UTC)).line(now, &z),
            "order 028-1234567-1234567 must ship by 2026-12-03 23:59 +01:00 (LATE by 1 d 14 h): labelled, not confirmed to Amazon"
        );
        assert_eq!(
            a(Stuck::WaitingForLabel, datetime!(2026-12-05 13:20 UTC)).line(now, &z),
            "order 028-1234567-1234567 must ship by 2026-12-05 14:20 +01:00 (in 20 min): waiting for a label"
        );
        assert_eq!(
            a(
                Stuck::LabelWindow(datetime!(2026-12-05 14:00 UTC)),
                datetime!(2026-12-05 16:00 UTC)
            )
            .line(now, &z),
            "order 028-1234567-1234567 must ship by 2026-12-05 17:00 +01:00 (in 3 h 00 min): waiting for Amazon's label-printing window (2026-12-05 15:00 +01:00)"
        );
        // Summer time shows its own offset.
        assert_eq!(
            local(datetime!(2026-07-01 10:00 UTC), &z),
            "2026-07-01 12:00 +02:00"
        );
    }

    #[test]
    fn rates_are_percentages_with_one_decimal() {
        let w = WindowCounts {
            due: 3,
            late: 1,
            confirmed: 8,
            tracked: 7,
        };
        assert_eq!(w.late_shipment_rate(), Some(Decimal::new(333, 1)));
        assert_eq!(w.valid_tracking_rate(), Some(Decimal::new(875, 1)));
        assert_eq!(WindowCounts::default().late_shipment_rate(), None);
        assert_eq!(WindowCounts::default().valid_tracking_rate(), None);
    }
}
