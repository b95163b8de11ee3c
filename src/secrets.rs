//! Resolving secrets from a value, a file or a command, without ever printing them.

use std::io::Read as _;
use std::process::{Command, Stdio};

use secrecy::{ExposeSecret as _, SecretString};
use zeroize::Zeroize as _;

use crate::config::{ConfigError, SecretSpec};

/// Resolves one secret. Exactly one source must be set.
pub fn resolve(spec: &SecretSpec, source: &str) -> Result<SecretString, ConfigError> {
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
        return run_command(cmd, source, name);
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

/// Runs `sh -c CMD`; its stdout (trimmed) is the secret. stderr is not shown, since a
/// secret manager might print the value there on error.
fn run_command(cmd: &str, source: &str, name: &str) -> Result<SecretString, ConfigError> {
    let key = format!("{}_command", leaf(name));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| ConfigError::new(source, Some(&key), format!("cannot run: {e}")))?;
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    let status = child
        .wait()
        .map_err(|e| ConfigError::new(source, Some(&key), format!("cannot run: {e}")))?;
    if !status.success() {
        out.zeroize();
        return Err(ConfigError::new(
            source,
            Some(&key),
            format!("the command failed ({status})"),
        ));
    }
    let secret = SecretString::from(out.trim().to_string());
    out.zeroize();
    non_empty(secret, source, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretText;

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
        assert_eq!(resolve(&s, "cfg").unwrap().expose_secret(), "abc");

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        std::fs::write(&f, "from-file\n").unwrap();
        let mut s = spec();
        s.file = Some(f);
        assert_eq!(resolve(&s, "cfg").unwrap().expose_secret(), "from-file");

        let mut s = spec();
        s.command = Some("printf 'from-cmd\\n'".into());
        assert_eq!(resolve(&s, "cfg").unwrap().expose_secret(), "from-cmd");
    }

    #[test]
    fn missing_twice_and_failing() {
        let e = resolve(&spec(), "cfg").unwrap_err();
        assert!(e.to_string().contains("amazon.client_secret"));
        let mut s = spec();
        s.value = Some(SecretText(SecretString::from("a")));
        s.command = Some("true".into());
        assert!(resolve(&s, "cfg").is_err());
        let mut s = spec();
        s.command = Some("echo leaked-secret; exit 3".into());
        let e = resolve(&s, "cfg").unwrap_err().to_string();
        assert!(e.contains("client_secret_command"), "{e}");
        assert!(!e.contains("leaked-secret"), "{e}");
    }
}
