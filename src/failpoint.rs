//! Crash points for tests: `FULFIL_FAILPOINT=name` (or `name@N` for the N-th time the
//! point is reached) kills the process with SIGKILL right there, as a power cut or
//! `kill -9` would, so tests can prove that a command loses and repeats nothing whatever
//! the moment it dies (issue #6: invoice numbering under a kill at every step).
//!
//! Only debug builds look at the variable; in a release build [`hit`] does nothing.

/// Kills the process if `FULFIL_FAILPOINT` names this point (debug builds only).
pub fn hit(name: &str) {
    #[cfg(debug_assertions)]
    armed::hit(name);
    #[cfg(not(debug_assertions))]
    let _ = name;
}

#[cfg(debug_assertions)]
mod armed {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, Ordering};

    static SPEC: OnceLock<Option<(String, u32)>> = OnceLock::new();
    static SEEN: AtomicU32 = AtomicU32::new(0);

    fn spec() -> Option<&'static (String, u32)> {
        SPEC.get_or_init(|| {
            let raw = std::env::var("FULFIL_FAILPOINT").ok()?;
            let raw = raw.trim();
            match raw.split_once('@') {
                Some((name, n)) => Some((name.to_string(), n.parse().ok()?)),
                None if !raw.is_empty() => Some((raw.to_string(), 1)),
                None => None,
            }
        })
        .as_ref()
    }

    pub(super) fn hit(name: &str) {
        let Some((want, nth)) = spec() else { return };
        if want != name {
            return;
        }
        if SEEN.fetch_add(1, Ordering::SeqCst) + 1 == *nth {
            eprintln!("failpoint {name}: killing the process");
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
            std::process::abort();
        }
    }
}
