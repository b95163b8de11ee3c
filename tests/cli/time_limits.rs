//! Issue #15, item 3: commands fulfil runs (`*_command` secrets, `--print-command`)
//! cannot hang a run. They get a time limit, their whole process group is ended when it
//! passes or when fulfil is stopped, and the writer lock is taken before anything that
//! can wait, so that a second cron run gets exit 4 at once.
//!
//! The commands below write their shell's pid and the pid of a `sleep` they start in
//! the background (same process group, a grandchild of fulfil), then wait: ending only
//! the shell would leave the `sleep` running.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Run, TestEnv};

/// A shell command that records its pids and hangs.
fn hanging(dir: &Path) -> String {
    format!(
        "echo $$ >> {0}/sh.pid; sleep 1000 & echo $! >> {0}/sleep.pid; wait",
        dir.display()
    )
}

/// The pids a hanging command wrote, once it has written both.
fn pids(dir: &Path) -> Option<Vec<u32>> {
    ["sh.pid", "sleep.pid"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(dir.join(f))
                .ok()?
                .trim()
                .parse()
                .ok()
        })
        .collect()
}

/// A process that exists and is not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.to_string()))
        .is_some_and(|rest| !rest.starts_with('Z'))
}

/// Ends whatever a test's hanging commands (and fulfil runs) left, so that a failing
/// test does not leave `sleep 1000` behind.
struct Reaper(PathBuf, std::cell::RefCell<Vec<i32>>);

impl Reaper {
    fn new(dir: &Path) -> Self {
        Self(dir.to_path_buf(), std::cell::RefCell::new(Vec::new()))
    }
    fn watch(&self, child: &Child) {
        self.1.borrow_mut().push(i32::try_from(child.id()).unwrap());
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        let mut all = self.1.borrow().clone();
        for f in ["sh.pid", "sleep.pid"] {
            let text = std::fs::read_to_string(self.0.join(f)).unwrap_or_default();
            all.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
        for pid in all.into_iter().filter_map(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

fn spawn(env: &TestEnv, args: &[&str]) -> Child {
    env.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fulfil")
}

/// Waits for a run at most `limit`; a run still going then is killed and `None`.
fn finish_within(mut child: Child, limit: Duration) -> Option<Run> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap().into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The LWA client secret comes from `cmd`.
fn secret_from(env: &TestEnv, cmd: &str) {
    env.replace_config_line(
        "client_secret =",
        &format!("client_secret_command = {}", toml_str(cmd)),
    );
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[test]
fn issue_15_a_hanging_secret_command_is_ended_at_its_limit() {
    let env = TestEnv::sandboxed(1);
    let _reaper = Reaper::new(env.dir.path());
    secret_from(&env, &hanging(env.dir.path()));
    env.add_config("secrets", "command_timeout_secs", "1");

    let start = Instant::now();
    let r = finish_within(spawn(&env, &["sync-orders"]), Duration::from_secs(20))
        .expect("sync-orders still runs after 20 s");
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    r.assert_code(2);
    let e = r.one_error();
    assert!(
        e.contains("amazon.client_secret_command did not finish within 1 s"),
        "{e}"
    );
    assert!(
        r.stderr.contains("hint:") && r.stderr.contains("secrets.command_timeout_secs"),
        "{}",
        r.stderr
    );
    let [sh, sleep] = pids(env.dir.path()).expect("the command ran")[..] else {
        unreachable!()
    };
    assert!(!alive(sh), "the command's shell is still running");
    assert!(!alive(sleep), "the command's child is still running");

    // doctor too ends it, and says which secret.
    for f in ["sh.pid", "sleep.pid"] {
        std::fs::remove_file(env.dir.path().join(f)).unwrap();
    }
    let r = finish_within(spawn(&env, &["doctor"]), Duration::from_secs(20))
        .expect("doctor still runs after 20 s");
    r.assert_code(1);
    let secrets = r
        .stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("secrets"))
        .unwrap();
    assert!(secrets.starts_with("fail"), "{}", r.stdout);
    assert!(
        secrets.contains("amazon.client_secret_command did not finish within 1 s"),
        "{secrets}"
    );
    let [sh, sleep] = pids(env.dir.path()).expect("the command ran")[..] else {
        unreachable!()
    };
    assert!(
        !alive(sh) && !alive(sleep),
        "doctor left the command running"
    );
}

#[test]
fn issue_15_a_second_run_gets_exit_4_at_once_and_a_stopped_run_ends_its_command() {
    let env = TestEnv::sandboxed(1);
    let reaper = Reaper::new(env.dir.path());
    // The default limit (30 s): the first run is stuck in the command meanwhile.
    secret_from(&env, &hanging(env.dir.path()));
    let first = spawn(&env, &["sync-orders"]);
    reaper.watch(&first);
    let start = Instant::now();
    let [sh, sleep] = loop {
        if let Some(p) = pids(env.dir.path()) {
            break [p[0], p[1]];
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the command never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    };

    let start = Instant::now();
    let r = finish_within(spawn(&env, &["sync-orders"]), Duration::from_secs(10))
        .expect("a second run waits for the first one's secret command");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    r.assert_code(4);
    assert!(
        r.one_error().contains("another fulfil run holds the lock"),
        "{}",
        r.stderr
    );

    // cron or a person stops the first run: its command goes with it.
    let pid = rustix::process::Pid::from_raw(i32::try_from(first.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let start = Instant::now();
    finish_within(first, Duration::from_secs(10)).expect("the stopped run ends");
    while (alive(sh) || alive(sleep)) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive(sh),
        "the stopped run's command shell is still running"
    );
    assert!(
        !alive(sleep),
        "the stopped run's command child is still running"
    );

    // And nothing is stuck: with the secret fixed the next run works.
    env.replace_config_line(
        "client_secret_command =",
        &format!(
            "client_secret = {}",
            toml_str(fulfil::sandbox::creds::LWA_CLIENT_SECRET)
        ),
    );
    env.run(&["sync-orders"]).assert_code(0);
}

#[test]
fn issue_15_a_hanging_print_command_is_ended_and_the_labels_stay_reprintable() {
    let env = TestEnv::sandboxed(4);
    let _reaper = Reaper::new(env.dir.path());
    env.run(&["sync-orders"]).assert_code(0);
    env.add_config("labels", "print_timeout_secs", "1");
    let cmd = hanging(env.dir.path());
    let start = Instant::now();
    let r = finish_within(
        spawn(&env, &["make-labels", "--print-command", &cmd]),
        Duration::from_secs(30),
    )
    .expect("make-labels still runs after 30 s");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    r.assert_code(1);
    let e = r.one_error();
    assert!(
        e.contains("--print-command did not finish within 1 s"),
        "{e}"
    );
    assert!(
        r.stderr.contains("labels.print_timeout_secs"),
        "{}",
        r.stderr
    );
    let [sh, sleep] = pids(env.dir.path()).expect("the command ran")[..] else {
        unreachable!()
    };
    assert!(
        !alive(sh) && !alive(sleep),
        "the print command is still running"
    );

    // The labels are made and kept, and not marked printed.
    let labelled: Vec<String> = {
        let s = env.read_store();
        fulfil::store::orders::ids(s.conn())
            .unwrap()
            .into_iter()
            .filter(|id| {
                fulfil::store::labels::parcel(s.conn(), id)
                    .unwrap()
                    .is_some_and(|p| p.labelled_at.is_some())
            })
            .collect()
    };
    assert!(!labelled.is_empty());
    assert_eq!(
        env.count("SELECT count(*) FROM parcels WHERE printed_at IS NOT NULL"),
        0
    );
    // One can be reprinted, and the next run prints them all.
    let out = env.dir.path().join("one.pdf");
    env.run(&[
        "make-labels",
        "--reprint",
        &labelled[0],
        "--out",
        out.to_str().unwrap(),
    ])
    .assert_code(0);
    assert!(std::fs::read(&out).unwrap().starts_with(b"%PDF"));
    let sink = env.dir.path().join("printer.pdf");
    let r = env.run(&[
        "make-labels",
        "--print-command",
        &format!("cat > {}", sink.display()),
    ]);
    assert!(r.code == 0 || r.code == 3, "{}", r.stderr);
    assert!(std::fs::read(&sink).unwrap().starts_with(b"%PDF"));
    assert_eq!(
        env.count(
            "SELECT count(*) FROM parcels WHERE labelled_at IS NOT NULL AND printed_at IS NULL"
        ),
        0
    );
}
