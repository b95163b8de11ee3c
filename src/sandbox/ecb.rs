//! A tiny stand-in for the ECB euro reference rates: `GET /_ecb/rates?date=YYYY-MM-DD`.
//!
//! THE RATES ARE SYNTHETIC. Each currency has a plausible anchor value and a deterministic
//! daily wobble of at most ±2 % derived from the date alone, so invoices converted with them
//! are reproducible but must never be mistaken for real ECB figures. Like the ECB, the service
//! publishes on weekdays only: a Saturday or Sunday answers with the preceding Friday's rates
//! (and that Friday's date), and a date after sandbox today answers 404.

use crate::sandbox::rng::Rng;
use crate::sandbox::{Ctx, Request, Response};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use time::{Date, Duration, Weekday};

/// Anchor rates (units of currency per 1 EUR) and decimals as the ECB quotes them.
const ANCHORS: &[(&str, i64, u32)] = &[
    // (code, anchor × 10^decimals, decimals)
    ("USD", 10_850, 4),
    ("GBP", 8_450, 4),
    ("SEK", 112_500, 4),
    ("PLN", 42_900, 4),
    ("DKK", 74_600, 4),
    ("CZK", 25_100, 3),
    ("HUF", 39_500, 2),
    ("CHF", 9_400, 4),
    ("NOK", 117_000, 4),
    ("RON", 49_750, 4),
    ("TRY", 380_000, 4),
];

pub(crate) fn rates_for(date: Date) -> (Date, Value) {
    let mut day = date;
    while matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
        day -= Duration::days(1);
    }
    let mut rates = Map::new();
    for (code, anchor, decimals) in ANCHORS {
        let mut rng = Rng::derived(u64::from(day.to_julian_day().unsigned_abs()), code, 0);
        // ±2 % wobble in steps of 0.01 %.
        let bp = rng.range(-200, 200);
        let value = Decimal::new(*anchor, *decimals) * (Decimal::ONE + Decimal::new(bp, 4));
        rates.insert(
            (*code).to_owned(),
            Value::String(value.round_dp(*decimals).to_string()),
        );
    }
    (day, Value::Object(rates))
}

pub(crate) fn rates(req: &Request, ctx: &Ctx<'_>) -> Response {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let Some(raw) = req.query_param("date") else {
        return Response::json(
            400,
            &json!({ "error": "missing query parameter date=YYYY-MM-DD" }),
        );
    };
    let Ok(date) = Date::parse(raw.trim(), &fmt) else {
        return Response::json(400, &json!({ "error": "date must be YYYY-MM-DD" }));
    };
    if date > ctx.now.date() {
        return Response::json(
            404,
            &json!({ "error": "no reference rates published for that date yet" }),
        );
    }
    let (day, rates) = rates_for(date);
    let day_s = day.format(&fmt).unwrap_or_default();
    Response::json(
        200,
        &json!({
            "date": day_s,
            "base": "EUR",
            "rates": rates,
            "synthetic": true,
            "source": "fulfil sandbox: deterministic synthetic rates, not ECB data",
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn deterministic_weekday_rates_near_anchor() {
        let (d1, r1) = rates_for(date!(2026 - 03 - 04));
        let (d2, r2) = rates_for(date!(2026 - 03 - 04));
        assert_eq!(d1, d2);
        assert_eq!(r1, r2);
        let sek: Decimal = r1["SEK"].as_str().expect("SEK").parse().expect("decimal");
        assert!(
            sek > Decimal::new(1100, 2) && sek < Decimal::new(1150, 2),
            "{sek}"
        );
        let (_, other) = rates_for(date!(2026 - 03 - 05));
        assert_ne!(r1, other);
    }

    #[test]
    fn weekend_falls_back_to_friday() {
        let (d, r) = rates_for(date!(2026 - 03 - 08)); // Sunday
        assert_eq!(d, date!(2026 - 03 - 06));
        assert_eq!(r, rates_for(date!(2026 - 03 - 06)).1);
    }
}
