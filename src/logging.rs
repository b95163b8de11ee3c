//! Logging set-up and the [`Pii`] wrapper that keeps personal data out of every log line.
//!
//! Logs go to stderr through `tracing`. The level comes from `FULFIL_LOG` (an
//! `EnvFilter` directive such as `fulfil=trace`) or from `-v`/`-vv`; the default shows
//! warnings and errors only, so a cron run that succeeds stays silent. Dependencies stay
//! at `warn` unless `FULFIL_LOG` names them.
//!
//! Personal data (names, addresses, phone, e-mail, VAT ids) is held in [`Pii`], whose
//! `Debug` and `Display` print `[pii]`. The value is reached only through
//! [`Pii::expose`], at the few places that store it or hand it to PostNL or a PDF.

use std::fmt;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(verbose: u8, quiet: bool) {
    let filter = match std::env::var("FULFIL_LOG") {
        Ok(spec) if !spec.trim().is_empty() => {
            EnvFilter::try_new(spec.trim()).unwrap_or_else(|_| EnvFilter::new("warn"))
        }
        _ => {
            let level = match (quiet, verbose) {
                (true, _) => "error",
                (false, 0) => "warn",
                (false, 1) => "info",
                (false, 2) => "debug",
                (false, _) => "trace",
            };
            EnvFilter::new(format!("warn,fulfil={level}"))
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init();
}

/// Personal data. Prints as `[pii]` in every `Debug` and `Display`.
///
/// Serialization is transparent, because the store and the PostNL request need the
/// value; never serialize a `Pii` into a log line.
#[derive(Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Pii<T>(T);

impl<T> Pii<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself. Call only where it is stored, printed on a label or invoice,
    /// or sent to PostNL.
    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[pii]")
    }
}

impl<T> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[pii]")
    }
}

impl<T> From<T> for Pii<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::Pii;

    #[test]
    fn pii_never_formats_its_value() {
        let p = Pii::new(String::from("Canary Jansen"));
        assert_eq!(format!("{p}"), "[pii]");
        assert_eq!(format!("{p:?}"), "[pii]");
        assert_eq!(format!("{:?}", Some(&p)), "Some([pii])");
        assert_eq!(p.expose(), "Canary Jansen");
    }
}
