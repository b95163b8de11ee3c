//! Resolving secrets from a value, a file or a command, without ever printing them.

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use zeroize::Zeroize as _;

use crate::child::ChildError;
use crate::config::{ConfigError, SecretSpec};

/// Seconds a `*_command` secret may take by default (`secrets.command_timeout_secs`).
pub const DEFAULT_COMMAND_TIMEOUT_SECS: u64 = 30;

/// Resolves one secret; a command gets `limit` to answer. Exactly one source must be set.
pub fn resolve(
    spec: &SecretSpec,
    source: &str,
    limit: Duration,
) -> Result<SecretString, ConfigError> {
    let name = spec.name;
    let set = usize::from(spec.value.is_some())
        + usize::from(spec.file.is_some())
        + usize::from(spec.command.is_some());
    if set == 0 {
        return Err(
            ConfigError::new(source, Some(name), "is not set").with_hint(format!(
                "set `{0}`, `{0}_file` or `{0}_command` in the config (or FULFIL_{1})",
                leaf(name),
                name.replace('.', "_").to_ascii_uppercase()
            )),
        );
    }
    if set > 1 {
        return Err(ConfigError::new(
            source,
            Some(name),
            "is given more than once (value, _file and _command are alternatives)",
        ));
    }
    if let Some(v) = &spec.value {
        return non_empty(v.0.clone(), source, name);
    }
    if let Some(path) = &spec.file {
        let mut text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                source,
                Some(&format!("{}_file", leaf(name))),
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let secret = SecretString::from(text.trim().to_string());
        text.zeroize();
        return non_empty(secret, source, name);
    }
    if let Some(cmd) = &spec.command {
        return run_command(cmd, source, name, limit);
    }
    unreachable!("one source is set")
}

fn leaf(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

fn non_empty(s: SecretString, source: &str, name: &str) -> Result<SecretString, ConfigError> {
    if s.expose_secret().trim().is_empty() {
        Err(ConfigError::new(source, Some(name), "is empty"))
    } else {
        Ok(s)
    }
}

/// Runs `sh -c CMD` (see [`crate::child`]: its own process group, a time limit); its
/// stdout (trimmed) is the secret. stderr is not shown, since a secret manager might
/// print the value there on error; nor is stdout in any error.
fn run_command(
    cmd: &str,
    source: &str,
    name: &str,
    limit: Duration,
) -> Result<SecretString, ConfigError> {
    let key = format!("{}_command", leaf(name));
    let finished = match crate::child::run(cmd, None, true, limit) {
        Ok(f) => f,
        Err(ChildError::TimedOut(_)) => {
            return Err(ConfigError::new(
                source,
                None,
                format!(
                    "{name}_command did not finish within {} s; it was stopped",
                    limit.as_secs()
                ),
            )
            .with_hint(format!(
                "a secret manager that asks for a passphrase waits for ever under cron; if the command needs longer, raise secrets.command_timeout_secs (now {})",
                limit.as_secs()
            )));
        }
        Err(e) => {
            return Err(ConfigError::new(
                source,
                Some(&key),
                format!("cannot run: {e}"),
            ));
        }
    };
    if !finished.status.success() {
        return Err(ConfigError::new(
            source,
            Some(&key),
            format!("the command failed ({})", finished.status),
        ));
    }
    let mut out = String::from_utf8_lossy(&finished.stdout).into_owned();
    let secret = SecretString::from(out.trim().to_string());
    out.zeroize();
    non_empty(secret, source, name)
}

/// Days after which Amazon expires an LWA client secret.
pub const LWA_SECRET_LIFETIME_DAYS: i64 = 180;
/// Days after the rotation from which fulfil warns.
pub const LWA_SECRET_WARN_DAYS: i64 = 150;

/// Where the LWA client secret stands against Amazon's 180-day expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretAge {
    /// `amazon.client_secret_rotated` is not set.
    NotRecorded,
    /// Younger than 150 days.
    Fresh { age: i64 },
    /// 150 to 179 days: expires in `days_left` days.
    Expiring { age: i64, days_left: i64 },
    /// 180 days or more: Amazon no longer takes it.
    Expired { age: i64 },
}

impl SecretAge {
    /// Classifies the rotation date against today's date.
    pub fn of(rotated: Option<time::Date>, today: time::Date) -> Self {
        let Some(rotated) = rotated else {
            return Self::NotRecorded;
        };
        let age = (today - rotated).whole_days();
        if age >= LWA_SECRET_LIFETIME_DAYS {
            Self::Expired { age }
        } else if age >= LWA_SECRET_WARN_DAYS {
            Self::Expiring {
                age,
                days_left: LWA_SECRET_LIFETIME_DAYS - age,
            }
        } else {
            Self::Fresh { age }
        }
    }

    /// The warning for an expiring or expired secret; none otherwise.
    pub fn warning(&self) -> Option<String> {
        match self {
            Self::Expired { age } => Some(format!(
                "the LWA client secret was rotated {age} days ago; Amazon expires it after {LWA_SECRET_LIFETIME_DAYS} days: rotate it in Seller Central and update amazon.client_secret_rotated"
            )),
            Self::Expiring { days_left, .. } => Some(format!(
                "the LWA client secret expires in {days_left} days: rotate it in Seller Central and update amazon.client_secret_rotated"
            )),
            Self::NotRecorded | Self::Fresh { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretText;

    const LIMIT: Duration = Duration::from_secs(DEFAULT_COMMAND_TIMEOUT_SECS);

    fn spec() -> SecretSpec {
        SecretSpec {
            name: "amazon.client_secret",
            ..SecretSpec::default()
        }
    }

    #[test]
    fn value_file_and_command() {
        let mut s = spec();
        s.value = Some(SecretText(SecretString::from("abc")));
        assert_eq!(resolve(&s, "cfg", LIMIT).unwrap().expose_secret(), "abc");

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        std::fs::write(&f, "from-file\n").unwrap();
        let mut s = spec();
        s.file = Some(f);
        assert_eq!(
            resolve(&s, "cfg", LIMIT).unwrap().expose_secret(),
            "from-file"
        );

        let mut s = spec();
        s.command = Some("printf 'from-cmd\\n'".into());
        assert_eq!(
            resolve(&s, "cfg", LIMIT).unwrap().expose_secret(),
            "from-cmd"
        );
    }

    #[test]
    fn missing_twice_and_failing() {
        let e = resolve(&spec(), "cfg", LIMIT).unwrap_err();
        assert!(e.to_string().contains("amazon.client_secret"));
        let mut s = spec();
        s.value = Some(SecretText(SecretString::from("a")));
        s.command = Some("true".into());
        assert!(resolve(&s, "cfg", LIMIT).is_err());
        let mut s = spec();
        s.command = Some("echo leaked-secret; exit 3".into());
        let e = resolve(&s, "cfg", LIMIT).unwrap_err().to_string();
        assert!(e.contains("client_secret_command"), "{e}");
        assert!(!e.contains("leaked-secret"), "{e}");
    }

    #[test]
    fn secret_age_thresholds() {
        use time::macros::date;
        let today = date!(2026 - 11 - 20);
        let back = |d: i64| Some(today - time::Duration::days(d));
        assert_eq!(SecretAge::of(None, today), SecretAge::NotRecorded);
        assert_eq!(
            SecretAge::of(back(149), today),
            SecretAge::Fresh { age: 149 }
        );
        assert_eq!(
            SecretAge::of(back(150), today),
            SecretAge::Expiring {
                age: 150,
                days_left: 30
            }
        );
        assert_eq!(
            SecretAge::of(back(179), today),
            SecretAge::Expiring {
                age: 179,
                days_left: 1
            }
        );
        assert_eq!(
            SecretAge::of(back(180), today),
            SecretAge::Expired { age: 180 }
        );
        assert!(SecretAge::of(back(10), today).warning().is_none());
        assert!(
            SecretAge::of(back(200), today)
                .warning()
                .unwrap()
                .contains("rotated 200 days ago")
        );
    }
}
