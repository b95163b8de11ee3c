//! Euro reference rates for documents in SEK, PLN or GBP (Art. 230: the VAT must also be
//! shown in EUR): the client of the endpoint in `invoices.ecb_endpoint`, over the shared
//! transport. The store caches every answer (`ecb_rates`), so a rate is asked for once:
//! [`cached_or_fetched`] is the one way commands get a day's rate.
//!
//! The endpoint answers `GET <endpoint>?date=YYYY-MM-DD` with
//! `{"date": "YYYY-MM-DD", "rates": {"SEK": "11.2345", …}, "source": "…"}` (rates as
//! strings or numbers, units per EUR); `date` is the publication the rates come from, which
//! for a weekend or holiday is the last one before it. 404 means nothing is published for
//! that date yet. The sandbox serves this shape; the ECB itself publishes XML and SDMX, so
//! a production set-up puts a small proxy (or a mirror of eurofxref) behind this key.

use std::str::FromStr as _;

use rust_decimal::Decimal;
use time::Date;

use crate::invoice::ledger::iso;

/// Named on a document when the endpoint does not name its source.
pub const DEFAULT_SOURCE: &str = "ECB euro reference rate";

/// One rate: units of the currency per EUR, the date it was published for, its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub rate: Decimal,
    pub date: Date,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FxError {
    #[error("the exchange-rate endpoint could not be reached: {0}")]
    Network(String),
    #[error(transparent)]
    Tls(crate::transport::TlsError),
    #[error("the exchange-rate endpoint answered HTTP {0}")]
    Status(u16),
    #[error("the exchange-rate answer could not be read: {0}")]
    Malformed(String),
    #[error("the exchange-rate answer has no {0} rate")]
    NoRate(String),
    #[error("the exchange-rate cache could not be used: {0}")]
    Store(String),
}

/// Reads an answer for `currency`.
///
/// # Errors
/// [`FxError::Malformed`] for an answer of another shape, [`FxError::NoRate`] without a
/// positive rate for the currency.
pub fn parse(body: &[u8], currency: &str) -> Result<Quote, FxError> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| FxError::Malformed(crate::transport::json_detail(&e)))?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let date = v["date"]
        .as_str()
        .and_then(|d| Date::parse(d.trim(), &fmt).ok())
        .ok_or_else(|| FxError::Malformed("no date".into()))?;
    let rate = match &v["rates"][currency] {
        serde_json::Value::String(s) => Decimal::from_str(s.trim()).ok(),
        serde_json::Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    }
    .filter(|r| *r > Decimal::ZERO)
    .ok_or_else(|| FxError::NoRate(currency.to_string()))?;
    let source = v["source"]
        .as_str()
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect::<String>()
                .trim()
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SOURCE.to_string());
    Ok(Quote {
        rate: rate.normalize(),
        date,
        source,
    })
}

/// Asks the endpoint for the rates of `date`; `Ok(None)` when none are published yet.
///
/// # Errors
/// [`FxError`] for transport problems, other statuses and unreadable answers.
pub fn fetch(
    http: &reqwest::blocking::Client,
    endpoint: &str,
    date: Date,
    currency: &str,
) -> Result<Option<Quote>, FxError> {
    let resp = http
        .get(endpoint)
        .query(&[("date", iso(date))])
        .header("accept", "application/json")
        .send()
        .map_err(|e| match crate::transport::tls_refusal(&e) {
            Some(refusal) => FxError::Tls(crate::transport::TlsError {
                op: "exchange rate",
                refusal,
            }),
            None => FxError::Network(crate::transport::transport_detail(&e)),
        })?;
    let status = resp.status().as_u16();
    tracing::debug!(status, date = %iso(date), currency, "exchange rate answer");
    if status == 404 {
        return Ok(None);
    }
    if !(200..300).contains(&status) {
        return Err(FxError::Status(status));
    }
    let body = resp
        .bytes()
        .map_err(|e| FxError::Network(crate::transport::transport_detail(&e)))?;
    parse(&body, currency).map(Some)
}

/// Where [`cached_or_fetched`] may look for a rate.
pub struct Source<'a> {
    /// The store; its cache (`ecb_rates`) is read first.
    pub conn: &'a rusqlite::Connection,
    /// Where to ask when the cache has nothing: the HTTP client and `invoices.ecb_endpoint`
    /// (`None` when it is not configured).
    pub fetch: Option<(&'a reqwest::blocking::Client, &'a str)>,
    /// When set (an RFC 3339 time), a fetched rate is cached under the day asked for; a
    /// read-only command leaves it `None` and writes nothing.
    pub cache_at: Option<&'a str>,
}

/// The rate published for `day` (the latest publication on or before it): from the cache,
/// else from the endpoint. `Ok(None)` when nothing is published for that day yet, or when
/// the cache has nothing and no endpoint is configured.
///
/// # Errors
/// [`FxError`] for transport problems, unreadable answers and a damaged cache row;
/// store errors are returned as [`FxError::Store`].
pub fn cached_or_fetched(
    src: &Source<'_>,
    currency: &str,
    day: Date,
) -> Result<Option<Quote>, FxError> {
    use crate::store::invoices as db;
    let store_err = |e: crate::store::StoreError| FxError::Store(e.to_string());
    if let Some((rate, rate_date, source)) =
        db::cached_rate(src.conn, currency, day).map_err(store_err)?
    {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        return match (rate.parse(), Date::parse(&rate_date, &fmt)) {
            (Ok(rate), Ok(date)) => Ok(Some(Quote { rate, date, source })),
            _ => Err(FxError::Malformed("damaged cache row".into())),
        };
    }
    let Some((http, endpoint)) = src.fetch else {
        return Ok(None);
    };
    let quote = fetch(http, endpoint, day, currency)?;
    if let (Some(q), Some(at)) = (&quote, src.cache_at) {
        let cached = db::CachedRate {
            rate: q.rate,
            date: q.date,
            source: &q.source,
        };
        db::cache_rate(src.conn, currency, day, &cached, at).map_err(store_err)?;
    }
    Ok(quote)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use time::macros::date;

    #[test]
    fn parses_strings_and_numbers_and_names_the_source() {
        let q = parse(
            br#"{"date":"2026-11-20","base":"EUR","rates":{"SEK":"11.2340","PLN":4.29},"source":"fulfil sandbox"}"#,
            "SEK",
        )
        .unwrap();
        assert_eq!(q.rate, dec!(11.234));
        assert_eq!(q.date, date!(2026 - 11 - 20));
        assert_eq!(q.source, "fulfil sandbox");
        let q = parse(br#"{"date":"2026-11-20","rates":{"PLN":4.29}}"#, "PLN").unwrap();
        assert_eq!(q.rate, dec!(4.29));
        assert_eq!(q.source, DEFAULT_SOURCE);
        assert_eq!(
            parse(br#"{"date":"2026-11-20","rates":{"PLN":"0"}}"#, "PLN").unwrap_err(),
            FxError::NoRate("PLN".into())
        );
        assert!(matches!(
            parse(b"<xml/>", "SEK"),
            Err(FxError::Malformed(_))
        ));
        assert!(matches!(
            parse(br#"{"rates":{"SEK":"1"}}"#, "SEK"),
            Err(FxError::Malformed(_))
        ));
    }
}

/// Property tests of the ECB answer parser (issue #8): whatever bytes or JSON arrive, it
/// gives a rate or an error, never a panic; a rate it gives is above zero.
#[cfg(test)]
mod props {
    use proptest::prelude::*;
    use serde_json::json;

    use crate::transport::fuzz::{self, arb_json, graft};

    proptest! {
        #![proptest_config(fuzz::config())]

        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = super::parse(&body, "SEK");
        }

        #[test]
        fn arbitrary_json_never_panics(v in arb_json()) {
            let _ = super::parse(v.to_string().as_bytes(), "SEK");
        }

        #[test]
        fn grafted_answers_never_panic(
            picks in prop::collection::vec((any::<usize>(), arb_json()), 1..4),
            drop_key in prop::option::of(any::<usize>()),
        ) {
            // Rate answers of the ECB endpoint.
            let fx = graft(&json!({ "date": "2026-11-20", "rates": { "SEK": "11.2", "PLN": 4.3 } }), &picks, drop_key);
            if let Ok(q) = super::parse(fx.to_string().as_bytes(), "SEK") {
                prop_assert!(q.rate > rust_decimal::Decimal::ZERO);
            }
        }
    }

    #[test]
    fn the_valid_answer_parses() {
        // The grafts above start from an answer like this one.
        assert!(super::parse(br#"{"date":"2026-11-20","rates":{"SEK":"11.2"}}"#, "SEK").is_ok());
    }
}
