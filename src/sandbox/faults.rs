//! Fault injection: which requests get a 500/503, a burst of 429s, a slow answer, a dropped
//! connection, a truncated or malformed body, or an early token expiry; for TEDB also a
//! SOAP fault (`soapfault`) or an answer that leaves out one member state (`incomplete`).
//!
//! The spec string reads like `500=0.05,503=0.05,429=0.1,slow=0.02:2s,drop=0.02,truncate=0.02,
//! malformed=0.02,expire=0.01`. Each request that reaches a simulated service gets an arrival
//! number; the fault for number n is drawn from the sandbox seed and the arrival order alone,
//! so the same seed and the same request sequence always see the same faults, whatever the
//! thread timing. A 429 draw opens a burst: the next one to three requests are throttled too.

use crate::sandbox::rng::Rng;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Probabilities (0..=1, summing to at most 1) of each kind of fault per request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultSpec {
    pub error_500: f64,
    pub error_503: f64,
    pub throttle_429: f64,
    pub slow: f64,
    pub slow_delay: Duration,
    pub drop: f64,
    pub truncate: f64,
    pub malformed: f64,
    pub expire: f64,
    /// TEDB only: a SOAP fault (HTTP 500 with a `Fault` body); other services get a 500.
    pub soap_fault: f64,
    /// TEDB only: a well-formed answer without one of the asked member states.
    pub incomplete: f64,
    /// Only requests whose path starts with this get faults (`only=/shipment/v2_2/label`).
    pub only: Option<String>,
    /// The first this many arrivals (since the faults were set) get no fault (`after=3`).
    pub after: u64,
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    Error500,
    Error503,
    Throttle,
    Slow(Duration),
    Drop,
    Truncate,
    Malformed,
    Expire,
    Soap,
    Incomplete,
}

impl Fault {
    pub(crate) fn label(self) -> Option<&'static str> {
        Some(match self {
            Fault::None => return None,
            Fault::Error500 => "500",
            Fault::Error503 => "503",
            Fault::Throttle => "429",
            Fault::Slow(_) => "slow",
            Fault::Drop => "drop",
            Fault::Truncate => "truncate",
            Fault::Malformed => "malformed",
            Fault::Expire => "expire",
            Fault::Soap => "soapfault",
            Fault::Incomplete => "incomplete",
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultSpecError {
    #[error("fault entry `{0}` is not KEY=PROBABILITY")]
    Syntax(String),
    #[error(
        "unknown fault kind `{0}` (known: 500, 503, 429, slow, drop, truncate, malformed, expire, soapfault, incomplete)"
    )]
    UnknownKind(String),
    #[error("fault probability `{0}` is not a number between 0 and 1")]
    Probability(String),
    #[error("slow delay `{0}` is not a duration such as 2s or 500ms")]
    Delay(String),
    #[error("fault probabilities add up to {0}, more than 1")]
    TooLarge(f64),
}

impl FaultSpec {
    /// No faults at all.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn is_none(&self) -> bool {
        self.total() <= 0.0
    }

    fn total(&self) -> f64 {
        self.error_500
            + self.error_503
            + self.throttle_429
            + self.slow
            + self.drop
            + self.truncate
            + self.malformed
            + self.expire
            + self.soap_fault
            + self.incomplete
    }
}

fn parse_delay(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, mult) = if let Some(v) = s.strip_suffix("ms") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.trim().parse().ok()?;
    if !(0.0..=600.0).contains(&(v * mult)) || !v.is_finite() {
        return None;
    }
    Some(Duration::from_secs_f64(v * mult))
}

impl FromStr for FaultSpec {
    type Err = FaultSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut spec = FaultSpec {
            slow_delay: Duration::from_secs(2),
            ..FaultSpec::default()
        };
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            return Ok(spec);
        }
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (key, value) = entry
                .split_once('=')
                .ok_or_else(|| FaultSpecError::Syntax(entry.to_owned()))?;
            if key.trim() == "after" {
                spec.after = value
                    .trim()
                    .parse()
                    .map_err(|_| FaultSpecError::Syntax(entry.to_owned()))?;
                continue;
            }
            if key.trim() == "only" {
                let prefix = value.trim();
                if !prefix.starts_with('/') {
                    return Err(FaultSpecError::Syntax(entry.to_owned()));
                }
                spec.only = Some(prefix.to_owned());
                continue;
            }
            let (prob, delay) = match value.split_once(':') {
                Some((p, d)) => (p, Some(d)),
                None => (value, None),
            };
            let p: f64 = prob
                .trim()
                .parse()
                .map_err(|_| FaultSpecError::Probability(prob.to_owned()))?;
            if !(0.0..=1.0).contains(&p) {
                return Err(FaultSpecError::Probability(prob.to_owned()));
            }
            let slot = match key.trim() {
                "500" => &mut spec.error_500,
                "503" => &mut spec.error_503,
                "429" => &mut spec.throttle_429,
                "slow" => {
                    if let Some(d) = delay {
                        spec.slow_delay =
                            parse_delay(d).ok_or_else(|| FaultSpecError::Delay(d.to_owned()))?;
                    }
                    &mut spec.slow
                }
                "drop" => &mut spec.drop,
                "truncate" => &mut spec.truncate,
                "malformed" => &mut spec.malformed,
                "expire" => &mut spec.expire,
                "soapfault" => &mut spec.soap_fault,
                "incomplete" => &mut spec.incomplete,
                other => return Err(FaultSpecError::UnknownKind(other.to_owned())),
            };
            if delay.is_some() && key.trim() != "slow" {
                return Err(FaultSpecError::Syntax(entry.to_owned()));
            }
            *slot = p;
        }
        let total = spec.total();
        if total > 1.0 + 1e-9 {
            return Err(FaultSpecError::TooLarge(total));
        }
        Ok(spec)
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (k, v) in [
            ("500", self.error_500),
            ("503", self.error_503),
            ("429", self.throttle_429),
        ] {
            if v > 0.0 {
                parts.push(format!("{k}={v}"));
            }
        }
        if self.slow > 0.0 {
            parts.push(format!(
                "slow={}:{}ms",
                self.slow,
                self.slow_delay.as_millis()
            ));
        }
        for (k, v) in [
            ("drop", self.drop),
            ("truncate", self.truncate),
            ("malformed", self.malformed),
            ("expire", self.expire),
            ("soapfault", self.soap_fault),
            ("incomplete", self.incomplete),
        ] {
            if v > 0.0 {
                parts.push(format!("{k}={v}"));
            }
        }
        if let Some(prefix) = &self.only {
            parts.push(format!("only={prefix}"));
        }
        if self.after > 0 {
            parts.push(format!("after={}", self.after));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

/// The draw sequence: arrival number → fault, with 429 bursts carried between arrivals.
#[derive(Debug)]
pub(crate) struct FaultPlan {
    spec: FaultSpec,
    seed: u64,
    arrivals: u64,
    burst_left: u32,
}

impl FaultPlan {
    pub(crate) fn new(spec: FaultSpec, seed: u64) -> Self {
        Self {
            spec,
            seed,
            arrivals: 0,
            burst_left: 0,
        }
    }

    /// New faults; arrivals are counted again from here (for `after`).
    pub(crate) fn set_spec(&mut self, spec: FaultSpec) {
        self.spec = spec;
        self.burst_left = 0;
        self.arrivals = 0;
    }

    /// The fault for the next arrival at `path`: none for paths outside `only`.
    pub(crate) fn next_for(&mut self, path: &str) -> (u64, Fault) {
        let (n, fault) = self.next();
        if n <= self.spec.after {
            return (n, Fault::None);
        }
        match &self.spec.only {
            Some(prefix) if !path.starts_with(prefix.as_str()) => (n, Fault::None),
            _ => (n, fault),
        }
    }

    /// The fault for the next arrival, and that arrival's number (1-based).
    pub(crate) fn next(&mut self) -> (u64, Fault) {
        self.arrivals += 1;
        let n = self.arrivals;
        if self.burst_left > 0 {
            self.burst_left -= 1;
            return (n, Fault::Throttle);
        }
        if self.spec.is_none() {
            return (n, Fault::None);
        }
        let mut rng = Rng::derived(self.seed, "faults", n);
        let x = rng.unit();
        let s = &self.spec;
        let table = [
            (s.error_500, Fault::Error500),
            (s.error_503, Fault::Error503),
            (s.throttle_429, Fault::Throttle),
            (s.slow, Fault::Slow(s.slow_delay)),
            (s.drop, Fault::Drop),
            (s.truncate, Fault::Truncate),
            (s.malformed, Fault::Malformed),
            (s.expire, Fault::Expire),
            (s.soap_fault, Fault::Soap),
            (s.incomplete, Fault::Incomplete),
        ];
        let mut acc = 0.0;
        for (p, fault) in table {
            acc += p;
            if x < acc {
                if fault == Fault::Throttle {
                    self.burst_left = u32::try_from(rng.below(3)).unwrap_or(0) + 1;
                }
                return (n, fault);
            }
        }
        (n, Fault::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let s: FaultSpec =
            "500=0.05,503=0.05,429=0.1,slow=0.02:2s,drop=0.02,truncate=0.02,malformed=0.02,expire=0.01"
                .parse()
                .expect("parses");
        assert!((s.error_500 - 0.05).abs() < 1e-12);
        assert!((s.throttle_429 - 0.1).abs() < 1e-12);
        assert_eq!(s.slow_delay, Duration::from_secs(2));
        assert!((s.expire - 0.01).abs() < 1e-12);
        let again: FaultSpec = s.to_string().parse().expect("round trip");
        assert_eq!(again, s);
        assert!("".parse::<FaultSpec>().expect("empty").is_none());
        assert_eq!(
            "slow=0.5:250ms"
                .parse::<FaultSpec>()
                .expect("ms")
                .slow_delay,
            Duration::from_millis(250)
        );
    }

    #[test]
    fn rejects_bad_specs() {
        assert!(matches!(
            "404=0.1".parse::<FaultSpec>(),
            Err(FaultSpecError::UnknownKind(_))
        ));
        assert!(matches!(
            "500=2".parse::<FaultSpec>(),
            Err(FaultSpecError::Probability(_))
        ));
        assert!(matches!(
            "500".parse::<FaultSpec>(),
            Err(FaultSpecError::Syntax(_))
        ));
        assert!(matches!(
            "500=0.6,503=0.6".parse::<FaultSpec>(),
            Err(FaultSpecError::TooLarge(_))
        ));
        assert!(matches!(
            "slow=0.1:fast".parse::<FaultSpec>(),
            Err(FaultSpecError::Delay(_))
        ));
        assert!(matches!(
            "500=0.1:2s".parse::<FaultSpec>(),
            Err(FaultSpecError::Syntax(_))
        ));
        assert!(matches!(
            "500=NaN".parse::<FaultSpec>(),
            Err(FaultSpecError::Probability(_))
        ));
    }

    #[test]
    fn same_seed_same_faults_and_rates_roughly_hold() {
        let spec: FaultSpec = "500=0.1,429=0.1,drop=0.05".parse().expect("spec");
        let draw = |seed| {
            let mut p = FaultPlan::new(spec.clone(), seed);
            (0..2000).map(|_| p.next().1).collect::<Vec<_>>()
        };
        let a = draw(42);
        assert_eq!(a, draw(42));
        assert_ne!(a, draw(43));
        let count = |f: Fault| a.iter().filter(|x| **x == f).count();
        let e500 = count(Fault::Error500);
        assert!((140..=260).contains(&e500), "500s: {e500}");
        // Bursts make 429s more frequent than their draw probability.
        assert!(
            count(Fault::Throttle) > 250,
            "429s: {}",
            count(Fault::Throttle)
        );
        assert!(count(Fault::Drop) > 40);
        let mut none = FaultPlan::new(FaultSpec::none(), 1);
        assert!((0..100).all(|_| none.next().1 == Fault::None));
    }
}
