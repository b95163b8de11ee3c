//! The shell commands fulfil runs for the seller (`*_command` secrets, `--print-command`):
//! each in a process group of its own, with a time limit (issue #15).
//!
//! When the limit passes, or when fulfil itself is stopped (SIGTERM, SIGINT, SIGHUP),
//! the whole group is ended: SIGTERM, then SIGKILL to what is left after a grace period.
//! Ending only the `sh -c` would leave what it started running. After a stop, fulfil
//! ends as the signal would have ended it. While no command runs, those signals keep
//! their default action.
//!
//! A command's stderr is not shown (a secret manager may print the secret there on an
//! error), and what it writes on stdout is returned only to the caller.

use std::io::{Read as _, Write as _};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use zeroize::Zeroizing;

/// How often a running command is looked at.
const POLL: Duration = Duration::from_millis(10);
/// How long a group has after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// What a command that finished left.
pub struct Finished {
    pub status: ExitStatus,
    /// Its stdout, when asked for (wiped when dropped: it may be a secret).
    pub stdout: Zeroizing<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("cannot start it: {0}")]
    Spawn(std::io::Error),
    #[error("it did not finish within {} s", .0.as_secs())]
    TimedOut(Duration),
    #[error("fulfil was stopped while it ran")]
    Stopped,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs `sh -c CMD` in its own process group and waits at most `limit` for it (and for
/// its stdout to close). `stdin` is written to it, or it gets /dev/null; its stdout is
/// captured when `capture` is set, else discarded.
pub fn run(
    cmd: &str,
    stdin: Option<&[u8]>,
    capture: bool,
    limit: Duration,
) -> Result<Finished, ChildError> {
    let signals = signals();
    let armed = Armed::new(signals);
    let pipe = |on: bool| if on { Stdio::piped() } else { Stdio::null() };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .process_group(0)
        .stdin(pipe(stdin.is_some()))
        .stdout(pipe(capture))
        .stderr(Stdio::null())
        .spawn()
        .map_err(ChildError::Spawn)?;
    let group = i32::try_from(child.id())
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| ChildError::Io(std::io::Error::other("no process id")))?;
    let deadline = Instant::now() + limit;
    let mut input = child.stdin.take();
    let mut output = child.stdout.take();
    let result = std::thread::scope(|scope| {
        // Both pipes on threads of their own: a command that does not read its input,
        // or fills its output, must not block the clock.
        let writer = input.take().map(|mut w| {
            scope.spawn(move || {
                let _ = w.write_all(stdin.unwrap_or_default());
            })
        });
        let reader = output.take().map(|mut r| {
            scope.spawn(move || {
                let mut buf = Zeroizing::new(Vec::new());
                let _ = r.read_to_end(&mut buf);
                buf
            })
        });
        let mut status = None;
        let outcome = loop {
            if status.is_none() {
                status = child.try_wait()?;
            }
            let piped = writer
                .as_ref()
                .is_none_or(std::thread::ScopedJoinHandle::is_finished)
                && reader
                    .as_ref()
                    .is_none_or(std::thread::ScopedJoinHandle::is_finished);
            if let Some(s) = status
                && piped
            {
                break Ok(s);
            }
            if signals.is_some_and(|s| s.pending.load(Ordering::SeqCst) != 0) {
                end_group(&mut child, group);
                break Err(ChildError::Stopped);
            }
            if Instant::now() >= deadline {
                end_group(&mut child, group);
                break Err(ChildError::TimedOut(limit));
            }
            std::thread::sleep(POLL);
        };
        // The group is gone or done: the pipes are closed and the threads end.
        if let Some(w) = writer {
            let _ = w.join();
        }
        let stdout = reader
            .and_then(|r| r.join().ok())
            .unwrap_or_else(|| Zeroizing::new(Vec::new()));
        outcome.map(|status| Finished { status, stdout })
    });
    // Gives the signals their default action back; after a stop, that ends fulfil.
    drop(armed);
    result
}

/// SIGTERM to the group, SIGKILL to what is left after [`GRACE`]; reaps the shell.
fn end_group(child: &mut Child, group: Pid) {
    let _ = rustix::process::kill_process_group(group, Signal::TERM);
    let until = Instant::now() + GRACE;
    loop {
        let _ = child.try_wait();
        if rustix::process::test_kill_process_group(group).is_err() {
            break;
        }
        if Instant::now() >= until {
            let _ = rustix::process::kill_process_group(group, Signal::KILL);
            break;
        }
        std::thread::sleep(POLL);
    }
    let _ = child.wait();
}

/// The signals fulfil listens for while a command runs.
struct Signals {
    /// The signal that arrived while a command ran (0: none).
    pending: Arc<AtomicUsize>,
    /// While true (no command runs), a signal has its default action.
    default: Arc<AtomicBool>,
}

const STOP_SIGNALS: [i32; 3] = [
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGHUP,
];

/// Installed once, at the first command; `None` if that failed (then a stop ends
/// fulfil at once, as before, and only the time limit ends the command).
fn signals() -> Option<&'static Signals> {
    static SIGNALS: OnceLock<Option<Signals>> = OnceLock::new();
    SIGNALS
        .get_or_init(|| {
            let s = Signals {
                pending: Arc::new(AtomicUsize::new(0)),
                default: Arc::new(AtomicBool::new(true)),
            };
            for sig in STOP_SIGNALS {
                signal_hook::flag::register_conditional_default(sig, Arc::clone(&s.default))
                    .ok()?;
                signal_hook::flag::register_usize(
                    sig,
                    Arc::clone(&s.pending),
                    usize::try_from(sig).unwrap_or(0),
                )
                .ok()?;
            }
            Some(s)
        })
        .as_ref()
}

/// Keeps the signals' default action off while a command runs.
struct Armed(Option<&'static Signals>);

impl Armed {
    fn new(signals: Option<&'static Signals>) -> Self {
        if let Some(s) = signals {
            s.pending.store(0, Ordering::SeqCst);
            s.default.store(false, Ordering::SeqCst);
        }
        Self(signals)
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        if let Some(s) = self.0 {
            s.default.store(true, Ordering::SeqCst);
            // A signal that came as the command ended: act on it now.
            if s.pending.load(Ordering::SeqCst) != 0 {
                stop_as_signalled(self.0);
            }
        }
    }
}

/// Ends fulfil as the pending signal would have, had no command been running.
fn stop_as_signalled(signals: Option<&'static Signals>) {
    if let Some(sig) = signals
        .map(|s| s.pending.swap(0, Ordering::SeqCst))
        .and_then(|n| i32::try_from(n).ok())
        .filter(|n| *n != 0)
    {
        let _ = signal_hook::low_level::emulate_default_handler(sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_status_and_input() {
        let f = run("printf 'a\\n'; exit 3", None, true, Duration::from_secs(10)).unwrap();
        assert_eq!(f.status.code(), Some(3));
        assert_eq!(&f.stdout[..], b"a\n");
        // A big input to a command that reads it all.
        let big = vec![b'x'; 1 << 20];
        let f = run("wc -c", Some(&big), true, Duration::from_secs(10)).unwrap();
        assert_eq!(String::from_utf8_lossy(&f.stdout).trim(), "1048576");
        // A big input to a command that does not read it does not block.
        let f = run("exit 0", Some(&big), false, Duration::from_secs(10)).unwrap();
        assert!(f.status.success());
    }

    #[test]
    fn a_hanging_group_is_ended_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("pid");
        let cmd = format!("sleep 1000 & echo $! > {}; wait", pid.display());
        let start = Instant::now();
        let input = vec![0; 1 << 20];
        let e = run(&cmd, Some(&input), true, Duration::from_millis(300));
        assert!(matches!(e, Err(ChildError::TimedOut(_))));
        assert!(start.elapsed() < GRACE + Duration::from_secs(2));
        let pid: i32 = std::fs::read_to_string(&pid)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let proc_stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            proc_stat.is_empty() || proc_stat.contains(") Z"),
            "the background child runs on: {proc_stat}"
        );
    }
}
