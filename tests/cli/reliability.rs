//! The reliability suite (issue #8, first part).
//!
//! 1. `kill -9` at random moments of sync-orders, make-labels, make-invoices and purge,
//!    many times over, and at the named crash points (`FULFIL_FAILPOINT`), then runs to
//!    completion and checks that nothing was lost or doubled, here and at the sandbox.
//! 2. The sandbox's fault profiles across the whole pipeline: every command either
//!    completes or exits 4 and completes on a later run, with the same result as a run
//!    without faults.
//! 3. The whole pipeline at trace level with canary personal data: none of it in stdout,
//!    stderr or any file of the data directory (the label and invoice PDFs excepted, and
//!    those are gone after purge).
//!
//! The random tests print their seed; `FULFIL_TEST_SEED=N` replays a run.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fulfil::sandbox::{FaultSpec, SandboxConfig};
use serde_json::{Value, json};

use crate::common::{NOW, Run, TestEnv, contains, files_under};
use crate::make_invoices::{assert_documents_consistent, summary};

/// The world every test here works on: generated orders and the sandbox seed.
const ORDERS: usize = 60;
const WORLD: u64 = 17;
/// When purge runs: past every retention date of this world (30 days after a shipment
/// confirmed at `NOW`, 7 after a cancellation).
const LATER: &str = "2026-12-22T10:00:00Z";
/// Fault kinds after which PostNL or Amazon did the work but fulfil never saw the answer.
const LOST_ANSWER: [&str; 3] = ["drop", "truncate", "malformed"];

// ---------------------------------------------------------------------------------------
// Randomness and seeds

/// xorshift64*: small, good enough to pick kill delays, and reproducible from its seed.
struct Prng(u64);

impl Prng {
    fn new(seed: u64) -> Self {
        Prng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        // 53 random bits make an exact f64 fraction.
        #[allow(clippy::cast_precision_loss)]
        let v = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        v
    }
}

/// `FULFIL_TEST_SEED`, or a fresh seed from the clock; printed either way.
fn test_seed(test: &str) -> u64 {
    let seed = std::env::var("FULFIL_TEST_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            t.as_secs() ^ u64::from(t.subsec_nanos())
        });
    eprintln!("{test}: FULFIL_TEST_SEED={seed}");
    seed
}

// ---------------------------------------------------------------------------------------
// Environments and runs

/// A data directory against a sandbox with the test world, faults off.
fn world() -> TestEnv {
    TestEnv::with_sandbox(SandboxConfig {
        generate: ORDERS,
        seed: WORLD,
        rate_limits: false,
        ..SandboxConfig::default()
    })
}

/// How one spawned run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Killed,
    Exited(i32),
}

/// One run of the binary and the sandbox records it caused (`records[from..to]`).
#[derive(Debug, Clone)]
struct Span {
    from: usize,
    to: usize,
    fate: Fate,
}

/// Runs and kills, for the bookkeeping of who sent what.
#[derive(Default)]
struct Ledger {
    spans: Vec<Span>,
    kills: u32,
    finished_before_kill: u32,
    /// The sandbox's slow answers outlast the client's timeout: they are lost answers.
    slow_is_lost: bool,
}

impl Ledger {
    /// Runs `args` to the end, returning its output.
    fn run(&mut self, env: &TestEnv, args: &[&str]) -> Run {
        let from = env.sb().records().len();
        let r = env.run(args);
        self.spans.push(Span {
            from,
            to: env.sb().records().len(),
            fate: Fate::Exited(r.code),
        });
        assert_no_panic(&r.stderr);
        r
    }

    /// Starts `args` and sends it SIGKILL after `delay` unless it finished by then;
    /// returns how it ended and how long it ran.
    fn kill_after(&mut self, env: &TestEnv, args: &[&str], delay: Duration) -> (Fate, Duration) {
        self.spawn(env, env.command(args), Some(delay))
    }

    /// Runs `args` with `FULFIL_FAILPOINT=point`, expecting it to die there; returns the
    /// span of sandbox records it caused.
    #[track_caller]
    fn crash_at(&mut self, env: &TestEnv, args: &[&str], point: &str) -> Span {
        let mut cmd = env.command(args);
        cmd.env("FULFIL_FAILPOINT", point);
        let (fate, _) = self.spawn(env, cmd, None);
        assert_eq!(fate, Fate::Killed, "{args:?} did not reach {point}");
        assert_sound(env);
        self.spans.last().unwrap().clone()
    }

    fn spawn(
        &mut self,
        env: &TestEnv,
        mut cmd: std::process::Command,
        delay: Option<Duration>,
    ) -> (Fate, Duration) {
        let from = env.sb().records().len();
        let started = Instant::now();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn fulfil");
        if let Some(d) = delay {
            std::thread::sleep(d);
            if child.try_wait().expect("try_wait").is_none() {
                child.kill().expect("SIGKILL");
            }
        }
        let out = child.wait_with_output().expect("wait");
        let ran = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_no_panic(&stderr);
        let fate = if out.status.signal() == Some(9) {
            self.kills += 1;
            // A request the dead process sent may still be in a sandbox worker's hands.
            std::thread::sleep(Duration::from_millis(30));
            Fate::Killed
        } else {
            self.finished_before_kill += 1;
            let code = out.status.code().unwrap_or(-1);
            assert!(
                matches!(code, 0 | 3 | 4),
                "a run ended with exit {code}:\n{stderr}"
            );
            Fate::Exited(code)
        };
        self.spans.push(Span {
            from,
            to: env.sb().records().len(),
            fate,
        });
        (fate, ran)
    }

    fn killed_at(&self, record: usize) -> bool {
        self.spans
            .iter()
            .any(|s| s.fate == Fate::Killed && (s.from..s.to).contains(&record))
    }
}

#[track_caller]
fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "a panic:\n{stderr}"
    );
}

/// Runs `args` until it exits 0 or 3 (4 means "again later"); at most `tries` times.
fn settle(env: &TestEnv, ledger: &mut Ledger, args: &[&str], tries: usize) -> Run {
    let mut last = String::new();
    for _ in 0..tries {
        let r = ledger.run(env, args);
        last.clone_from(&r.stderr);
        match r.code {
            0 | 3 => return r,
            4 => {}
            c => panic!(
                "{args:?} exited {c}\n--- stdout\n{}\n--- stderr\n{}",
                r.stdout, r.stderr
            ),
        }
    }
    panic!("{args:?} did not complete in {tries} runs; the last said:\n{last}");
}

/// make-invoices until nothing waits for Amazon any more.
fn settle_invoices(env: &TestEnv, ledger: &mut Ledger, tries: usize) {
    let mut last = Value::Null;
    for _ in 0..tries {
        let r = settle(env, ledger, &["--json", "make-invoices"], tries);
        last = summary(&r.stdout);
        if last["upload_pending"] == 0 && last["upload_queued"] == 0 {
            return;
        }
    }
    panic!("uploads did not settle in {tries} runs: {last}");
}

/// Runs purge at `LATER`.
fn purge_later(env: &mut TestEnv, ledger: &mut Ledger) -> Run {
    env.now = LATER.to_string();
    let r = settle(env, ledger, &["purge"], 3);
    env.now = NOW.to_string();
    r
}

// ---------------------------------------------------------------------------------------
// Invariants

/// The database is sound: SQLite's and SQLCipher's own checks.
#[track_caller]
fn assert_sound(env: &TestEnv) {
    assert_eq!(env.query("PRAGMA integrity_check"), vec!["ok"]);
    let cipher = env.query("PRAGMA cipher_integrity_check");
    assert!(cipher.is_empty(), "cipher_integrity_check: {cipher:?}");
    // A killed run leaves no audit entry, and never a broken chain.
    let r = env.run(&["audit", "verify"]);
    assert_eq!(r.code, 0, "audit verify: {}{}", r.stdout, r.stderr);
}

/// Orders at the sandbox created at or before `cutoff`.
fn created_before(env: &TestEnv, cutoff: time::OffsetDateTime) -> BTreeSet<String> {
    env.sb()
        .order_ids()
        .into_iter()
        .filter(|id| {
            env.sb().order(id).is_some_and(|o| {
                o["createdTime"]
                    .as_str()
                    .and_then(|t| fulfil::clock::parse_rfc3339(t).ok())
                    .is_some_and(|t| t <= cutoff)
            })
        })
        .collect()
}

/// Orders every sync must have seen: created long enough before the sandbox start that
/// no run's cutoff (sandbox now − 2 min) can miss them.
fn must_have_synced(env: &TestEnv) -> BTreeSet<String> {
    created_before(
        env,
        fulfil::clock::parse_rfc3339(NOW).unwrap() - time::Duration::minutes(3),
    )
}

/// Orders whose history at the sandbox lies well before the test: their outcome cannot
/// depend on when during the test a run happened.
fn stable(env: &TestEnv) -> BTreeSet<String> {
    created_before(
        env,
        fulfil::clock::parse_rfc3339(NOW).unwrap() - time::Duration::hours(1),
    )
}

/// No order lost, none unknown to Amazon.
#[track_caller]
fn assert_synced(env: &TestEnv) {
    let stored: BTreeSet<String> = env
        .query("SELECT order_id FROM orders")
        .into_iter()
        .collect();
    let all: BTreeSet<String> = env.sb().order_ids().into_iter().collect();
    let missing: Vec<_> = must_have_synced(env).difference(&stored).cloned().collect();
    assert!(missing.is_empty(), "orders lost: {missing:?}");
    let unknown: Vec<_> = stored.difference(&all).collect();
    assert!(
        unknown.is_empty(),
        "orders Amazon does not have: {unknown:?}"
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM order_items WHERE order_id NOT IN (SELECT order_id FROM orders)"
        ),
        0
    );
}

/// What the label requests PostNL answered with 200 carried: per barcode, the record
/// indexes, in order, and the order (Reference) each named.
fn labels_at_postnl(records: &[Value]) -> BTreeMap<String, Vec<(usize, String, Option<String>)>> {
    let mut out: BTreeMap<String, Vec<(usize, String, Option<String>)>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if r["operation"] != "postnl.label" || r["status"] != 200 {
            continue;
        }
        for s in r["body"]["Shipments"].as_array().into_iter().flatten() {
            let barcode = s["Barcode"].as_str().unwrap_or_default().to_string();
            let reference = s["Reference"].as_str().unwrap_or_default().to_string();
            let fault = r["fault"].as_str().map(str::to_string);
            out.entry(barcode).or_default().push((i, reference, fault));
        }
    }
    out
}

/// The label invariants after a completed make-labels; returns how many barcodes got a
/// second label at PostNL (the known gap: an answer lost after PostNL made the label).
#[track_caller]
fn assert_labels(env: &TestEnv, ledger: &Ledger) -> usize {
    // Everything ready got a label and was confirmed, or went to review.
    let left = env
        .query("SELECT order_id || ' ' || stage FROM orders WHERE stage IN ('ready', 'labelled')");
    assert!(left.is_empty(), "orders left half done: {left:?}");
    let errors = env.query(
        "SELECT order_id || ' ' || confirm_error FROM parcels WHERE confirm_error IS NOT NULL",
    );
    assert!(errors.is_empty(), "refused confirmations: {errors:?}");
    let parcels: BTreeMap<String, String> = env
        .query("SELECT order_id || ' ' || barcode FROM parcels")
        .into_iter()
        .map(|r| {
            let (o, b) = r.split_once(' ').unwrap();
            (o.to_string(), b.to_string())
        })
        .collect();
    let by_barcode: BTreeMap<&String, &String> = parcels.iter().map(|(o, b)| (b, o)).collect();
    assert_eq!(
        by_barcode.len(),
        parcels.len(),
        "a barcode shared by two orders"
    );
    // Each shipped order: one parcel, its label stored under the same barcode (until
    // purge), and exactly one confirmation at Amazon naming that barcode.
    let shipped = env.query("SELECT order_id FROM orders WHERE stage = 'shipped'");
    let labels: BTreeMap<String, String> = env
        .query("SELECT order_id || ' ' || barcode FROM label_files")
        .into_iter()
        .map(|r| {
            let (o, b) = r.split_once(' ').unwrap();
            (o.to_string(), b.to_string())
        })
        .collect();
    let mut confirmations: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for s in env.sb().shipments() {
        confirmations
            .entry(s["orderId"].as_str().unwrap().to_string())
            .or_default()
            .push(s);
    }
    for id in &shipped {
        let barcode = parcels
            .get(id)
            .unwrap_or_else(|| panic!("{id} shipped without a parcel"));
        if env.count(&format!(
            "SELECT count(*) FROM orders WHERE order_id = '{id}' AND pii_purged_at IS NULL"
        )) == 1
        {
            assert_eq!(labels.get(id), Some(barcode), "{id}: stored label");
        }
        let c = confirmations.get(id).map_or(&[][..], Vec::as_slice);
        assert_eq!(c.len(), 1, "{id}: confirmations at Amazon {c:?}");
        assert_eq!(
            c[0]["packageDetail"]["trackingNumber"],
            barcode.as_str(),
            "{id}"
        );
    }
    for id in confirmations.keys() {
        assert!(
            shipped.contains(id),
            "{id} confirmed at Amazon but not shipped here"
        );
    }
    let records = env.sb().records();
    let refused: Vec<&Value> = records
        .iter()
        .filter(|r| {
            r["operation"] == "confirmShipment"
                && r["fault"].is_null()
                && r["status"]
                    .as_u64()
                    .is_some_and(|s| (400..500).contains(&s))
        })
        .collect();
    assert!(
        refused.is_empty(),
        "Amazon refused confirmations: {refused:?}"
    );
    // PostNL made labels only for barcodes this store holds, for the order it holds
    // them for; a second label only after the first answer was lost (the process was
    // killed before it stored the label, or the answer never arrived whole).
    let mut seconds = 0;
    for (barcode, reqs) in labels_at_postnl(&records) {
        let owner = by_barcode
            .get(&barcode)
            .unwrap_or_else(|| panic!("PostNL labelled {barcode}, which the store does not know"));
        for (_, reference, _) in &reqs {
            assert_eq!(reference, *owner, "{barcode} labelled for another order");
        }
        for (i, _, fault) in &reqs[..reqs.len() - 1] {
            let lost = fault
                .as_deref()
                .is_some_and(|f| LOST_ANSWER.contains(&f) || (ledger.slow_is_lost && f == "slow"));
            assert!(
                lost || ledger.killed_at(*i),
                "{barcode} labelled again although the answer of record {i} was not lost"
            );
        }
        if reqs.len() > 1 {
            seconds += 1;
        }
    }
    seconds
}

/// Invoices: gapless series, one per invoiced order, files intact (see
/// `assert_documents_consistent`), each uploadable document accepted by Amazon once.
/// Returns the number of documents.
#[track_caller]
fn assert_invoices(env: &TestEnv) -> u64 {
    let n = assert_documents_consistent(env);
    let eligible = env.query(
        "SELECT order_id FROM orders WHERE stage IN ('shipped', 'shipped_elsewhere')
         AND order_id NOT IN (SELECT order_id FROM order_issues WHERE command = 'make-invoices')
         AND order_id NOT IN (SELECT order_id FROM invoices WHERE kind = 'invoice')",
    );
    assert!(
        eligible.is_empty(),
        "shipped orders without an invoice: {eligible:?}"
    );
    let bad_credit = env.count(
        "SELECT count(*) FROM invoices c JOIN invoices i ON c.corrects = i.id
         WHERE c.kind = 'credit_note' AND (i.kind <> 'invoice' OR c.order_id <> i.order_id)",
    );
    assert_eq!(
        bad_credit, 0,
        "a credit note that corrects the wrong document"
    );
    for path in env.query("SELECT file_path FROM invoices WHERE file_path IN (SELECT path FROM tracked_files WHERE removed_at IS NULL)") {
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"%PDF-") && bytes.len() > 1000, "{path}");
        let tail = &bytes[bytes.len().saturating_sub(32)..];
        assert!(contains(tail, "%%EOF"), "{path} has no %%EOF");
    }
    let mut accepted: BTreeMap<String, u32> = BTreeMap::new();
    for f in env.sb().uploaded_feeds() {
        let number = f.feed_options["metadata:invoicenumber"].clone();
        if f.accepted {
            *accepted.entry(number).or_default() += 1;
        } else {
            // The one rejection a repeat may get: Amazon already has this number.
            assert!(
                f.report.contains("79520"),
                "{number} rejected: {}",
                f.report
            );
        }
    }
    let uploaded = env.query("SELECT i.number FROM invoices i JOIN invoice_uploads u ON u.invoice_id = i.id WHERE u.status <> 'skipped' ORDER BY i.number");
    assert_eq!(accepted.keys().cloned().collect::<Vec<_>>(), uploaded);
    assert!(accepted.values().all(|&c| c == 1), "{accepted:?}");
    n
}

/// After purge at `LATER`: no personal data of a due order in the store, no file of
/// theirs on disk, and no file in the label or invoice directories that purge does not
/// know about.
#[track_caller]
fn assert_purged(env: &TestEnv) {
    let due = env.query(&format!(
        "SELECT order_id FROM orders WHERE pii_due_at IS NOT NULL AND pii_due_at <= '{LATER}'"
    ));
    assert!(!due.is_empty());
    let kept = env.query(&format!(
        "SELECT order_id FROM orders WHERE pii_due_at <= '{LATER}' AND (pii_purged_at IS NULL OR has_pii = 1)"
    ));
    assert!(kept.is_empty(), "due but not purged: {kept:?}");
    for table in [
        "order_pii",
        "label_files",
        "address_overrides",
        "invoice_pii",
    ] {
        let n = env.count(&format!(
            "SELECT count(*) FROM {table} WHERE order_id IN (SELECT order_id FROM orders WHERE pii_purged_at IS NOT NULL)"
        ));
        assert_eq!(n, 0, "{table} keeps rows of purged orders");
    }
    let live: BTreeSet<String> = env
        .query("SELECT path FROM tracked_files WHERE removed_at IS NULL")
        .into_iter()
        .collect();
    for gone in env.query("SELECT path FROM tracked_files WHERE removed_at IS NOT NULL") {
        assert!(!Path::new(&gone).exists(), "{gone} survived purge");
    }
    // Pick lists hold no personal data and are not tracked (issue #19); the canary
    // checks read every file, them too.
    for dir in ["labels", "invoices"] {
        for f in crate::common::print_files_under(&env.data().join(dir)) {
            assert!(
                live.contains(&f.display().to_string()),
                "{} is not tracked (purge will never remove it)",
                f.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// 1. Kill -9

/// The uninterrupted pipeline, timed per command.
struct Reference {
    durations: BTreeMap<&'static str, Duration>,
    /// Stage of every stable order after make-labels, and who got an invoice.
    stages: BTreeMap<String, String>,
    invoiced: BTreeSet<String>,
    review: BTreeSet<String>,
}

fn reference() -> &'static Reference {
    static REF: OnceLock<Reference> = OnceLock::new();
    REF.get_or_init(|| {
        let mut env = world();
        let mut ledger = Ledger::default();
        let mut durations = BTreeMap::new();
        for (name, args) in [
            ("sync-orders", &["sync-orders"][..]),
            ("make-labels", &["make-labels"][..]),
            ("make-invoices", &["make-invoices"][..]),
        ] {
            let t = Instant::now();
            let r = ledger.run(&env, args);
            durations.insert(name, t.elapsed());
            assert!(matches!(r.code, 0 | 3), "{name}: {}", r.stderr);
        }
        settle_invoices(&env, &mut ledger, 8);
        let t = Instant::now();
        let r = purge_later(&mut env, &mut ledger);
        durations.insert("purge", t.elapsed());
        r.assert_code(0);
        let stable = stable(&env);
        let stages = env
            .query("SELECT order_id || ' ' || stage FROM orders")
            .into_iter()
            .filter_map(|r| {
                r.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .filter(|(id, _)| stable.contains(id))
            .collect();
        let invoiced = env
            .query("SELECT order_id FROM invoices WHERE kind = 'invoice'")
            .into_iter()
            .filter(|id| stable.contains(id))
            .collect();
        let review = env
            .query("SELECT order_id FROM orders WHERE stage = 'review'")
            .into_iter()
            .filter(|id| stable.contains(id))
            .collect();
        eprintln!("reference pipeline ({ORDERS} orders): {durations:?}");
        Reference {
            durations,
            stages,
            invoiced,
            review,
        }
    })
}

/// The same outcome as the run without kills or faults, for the orders whose history
/// does not depend on the moment.
#[track_caller]
fn assert_like_reference(env: &TestEnv, what: &str) {
    let r = reference();
    let stable = stable(env);
    let stages: BTreeMap<String, String> = env
        .query("SELECT order_id || ' ' || stage FROM orders")
        .into_iter()
        .filter_map(|r| {
            r.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .filter(|(id, _)| stable.contains(id))
        .collect();
    assert_eq!(
        stages, r.stages,
        "{what}: stages differ from the run without faults"
    );
    let invoiced: BTreeSet<String> = env
        .query("SELECT order_id FROM invoices WHERE kind = 'invoice'")
        .into_iter()
        .filter(|id| stable.contains(id))
        .collect();
    assert_eq!(invoiced, r.invoiced, "{what}: invoiced orders differ");
    let review: BTreeSet<String> = env
        .query("SELECT order_id FROM orders WHERE stage = 'review'")
        .into_iter()
        .filter(|id| stable.contains(id))
        .collect();
    assert_eq!(review, r.review, "{what}: review differs");
}

/// Kills `args` `kills` times at random moments, checking the database after each kill.
/// The first delays are drawn within `full` (the uninterrupted duration); once a run
/// finishes before its kill, within that run's own duration, so that the kills keep
/// falling into the work that is left rather than after it. Run k runs at `base` + k
/// minutes, as from cron: with one pinned instant, time-dependent repeats (file names,
/// dates sent again) would all look identical. Then runs to completion.
#[allow(clippy::too_many_arguments)]
fn kill_randomly(
    env: &mut TestEnv,
    ledger: &mut Ledger,
    rng: &mut Prng,
    args: &[&str],
    full: Duration,
    kills: usize,
    base: &str,
    step_minutes: i64,
) -> u32 {
    let base = fulfil::clock::parse_rfc3339(base).unwrap();
    let at = |k: usize| {
        fulfil::clock::rfc3339(
            base + time::Duration::minutes(step_minutes * i64::try_from(k).unwrap()),
        )
    };
    let before = ledger.kills;
    let mut window = full;
    for k in 0..kills {
        env.now = at(k);
        let delay = window.mul_f64(rng.unit());
        match ledger.kill_after(env, args, delay) {
            (Fate::Killed, _) => assert_sound(env),
            (Fate::Exited(_), ran) => window = ran.max(Duration::from_millis(20)),
        }
    }
    env.now = at(kills);
    let tries = if args == ["make-invoices"] { 0 } else { 3 };
    if tries > 0 {
        // 3 from make-labels when this run sent orders to review (a killed run may
        // have done that already, and then it is 0).
        settle(env, ledger, args, tries);
    } else {
        settle_invoices(env, ledger, 8);
    }
    env.now = NOW.to_string();
    ledger.kills - before
}

#[test]
fn random_kills_during_every_command_lose_and_double_nothing() {
    const KILLS: usize = 12;
    let seed = test_seed("random_kills");
    let mut rng = Prng::new(seed);
    let r = reference();
    let mut env = world();
    let mut ledger = Ledger::default();
    let started = Instant::now();
    let mut report = Vec::new();
    let mut kill =
        |env: &mut TestEnv, ledger: &mut Ledger, command: &'static str, base: &str, step: i64| {
            let n = kill_randomly(
                env,
                ledger,
                &mut rng,
                &[command],
                r.durations[command],
                KILLS,
                base,
                step,
            );
            report.push((command, n));
        };

    // sync-orders at the pinned instant: a clock ahead of the sandbox's would ask for
    // orders from its future, which Amazon refuses.
    kill(&mut env, &mut ledger, "sync-orders", NOW, 0);
    assert_synced(&env);
    kill(&mut env, &mut ledger, "make-labels", NOW, 1);
    let seconds = assert_labels(&env, &ledger);
    kill(
        &mut env,
        &mut ledger,
        "make-invoices",
        "2026-11-20T10:20:00Z",
        1,
    );
    assert_invoices(&env);
    assert_like_reference(&env, "after kills");
    kill(&mut env, &mut ledger, "purge", LATER, 1);
    assert_purged(&env);
    assert_sound(&env);
    assert_eq!(assert_labels(&env, &ledger), seconds);
    assert_invoices(&env);
    eprintln!(
        "random kills: {report:?} ({} runs finished before their kill), {seconds} barcodes labelled twice at PostNL, {:.1?}",
        ledger.finished_before_kill,
        started.elapsed()
    );
}

/// Barcodes in the label requests PostNL answered within a span of records.
fn labelled_in(records: &[Value], span: &Span) -> Vec<String> {
    records[span.from..span.to]
        .iter()
        .filter(|r| r["operation"] == "postnl.label" && r["status"] == 200)
        .flat_map(|r| {
            r["body"]["Shipments"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["Barcode"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn kills_at_the_named_crash_points_lose_and_double_nothing() {
    let mut env = world();
    let mut ledger = Ledger::default();

    // sync-orders: dead right after a page was stored.
    ledger.crash_at(&env, &["sync-orders"], "sync-orders:page-stored");
    settle(&env, &mut ledger, &["sync-orders"], 3).assert_code(0);
    assert_synced(&env);

    // make-labels, step by step through the nastiest moments.
    // a) Barcodes of the second batch committed, no label asked for them yet: they
    //    must be reused, and nobody gets a second label.
    let a = ledger.crash_at(&env, &["make-labels"], "make-labels:barcodes-reserved@2");
    let reserved = env.count("SELECT count(*) FROM parcels WHERE labelled_at IS NULL");
    assert!(reserved > 0, "the kill left reserved barcodes");
    // b) PostNL answered the first label call, the answer died with the process: the
    //    one case in which PostNL makes a second label for the same barcode.
    let b = ledger.crash_at(&env, &["make-labels"], "make-labels:label-answered");
    // c) Amazon accepted a confirmation that was never recorded here.
    ledger.crash_at(&env, &["make-labels"], "make-labels:confirm-sent@2");
    // d) The print file is on disk but not yet recorded for purge. The next run comes
    //    later, as from cron (with a pinned clock every run would see the same instant,
    //    and write the same file name and the same ship date).
    env.now = "2026-11-20T10:10:00Z".to_string();
    ledger.crash_at(&env, &["make-labels"], "make-labels:print-file-written");
    env.now = "2026-11-20T10:20:00Z".to_string();
    settle(&env, &mut ledger, &["make-labels"], 3);
    env.now = NOW.to_string();
    let records = env.sb().records();
    let once_only = labelled_in(&records, &a);
    assert!(!once_only.is_empty());
    let lost = labelled_in(&records, &b);
    assert!(!lost.is_empty() && lost.len() <= 4, "{lost:?}");
    let seconds = assert_labels(&env, &ledger);
    let per_barcode = labels_at_postnl(&records);
    for barcode in &once_only {
        assert_eq!(
            per_barcode[barcode].len(),
            1,
            "{barcode}: labelled again after a kill before the request"
        );
    }
    for barcode in &lost {
        assert_eq!(
            per_barcode[barcode].len(),
            2,
            "{barcode}: the lost label is asked once more"
        );
    }
    assert_eq!(
        seconds,
        lost.len(),
        "only the lost answer made second labels"
    );

    // make-invoices: the upload steps are covered in make_invoices.rs; one kill after a
    // commit and one after a createFeed, to see them together with the labels.
    ledger.crash_at(&env, &["make-invoices"], "make-invoices:after-commit");
    ledger.crash_at(&env, &["make-invoices"], "upload:feed-created@3");
    settle_invoices(&env, &mut ledger, 8);
    assert_invoices(&env);

    // purge: after the rows went, after a file was shredded, before the scrub.
    env.now = LATER.to_string();
    ledger.crash_at(&env, &["purge"], "purge:rows-removed");
    ledger.crash_at(&env, &["purge"], "purge:file-shredded@2");
    ledger.crash_at(&env, &["purge"], "purge:before-scrub");
    env.now = NOW.to_string();
    purge_later(&mut env, &mut ledger).assert_code(0);
    assert_purged(&env);
    assert_sound(&env);
    assert_like_reference(&env, "after the crash points");
}

// ---------------------------------------------------------------------------------------
// 2. Fault profiles across the whole pipeline

/// sync-orders → make-labels → make-invoices (with uploads) → purge against a sandbox
/// that injects `spec`: each command is repeated while it exits 4, and the end state
/// must be the one of a run without faults.
fn pipeline_under(spec: &str) {
    pipeline_in(world(), Ledger::default(), spec);
}

fn pipeline_in(mut env: TestEnv, mut ledger: Ledger, spec: &str) {
    env.sb().set_faults(spec.parse().expect("fault spec"));
    let started = Instant::now();
    let mut temporary = 0;
    for args in [&["sync-orders"][..], &["make-labels"][..]] {
        let before = ledger.spans.len();
        settle(&env, &mut ledger, args, 15);
        temporary += ledger.spans[before..]
            .iter()
            .filter(|s| s.fate == Fate::Exited(4))
            .count();
    }
    assert_synced(&env);
    let seconds = assert_labels(&env, &ledger);
    let before = ledger.spans.len();
    settle_invoices(&env, &mut ledger, 40);
    temporary += ledger.spans[before..]
        .iter()
        .filter(|s| s.fate == Fate::Exited(4))
        .count();
    assert_invoices(&env);
    let faults = env
        .sb()
        .records()
        .iter()
        .filter(|r| r["fault"].is_string())
        .count();
    env.sb().set_faults(FaultSpec::none());
    purge_later(&mut env, &mut ledger).assert_code(0);
    assert_purged(&env);
    assert_sound(&env);
    assert_eq!(assert_labels(&env, &ledger), seconds);
    assert_invoices(&env);
    assert_like_reference(&env, spec);
    assert!(faults > 0, "{spec}: no fault was injected");
    eprintln!(
        "faults {spec}: {faults} injected, {} runs ({temporary} exit 4), {seconds} barcodes labelled twice, {:.1?}",
        ledger.spans.len(),
        started.elapsed()
    );
}

#[test]
fn pipeline_under_a_5xx_storm() {
    pipeline_under("500=0.06,503=0.06");
}

#[test]
fn pipeline_under_a_429_storm() {
    pipeline_under("429=0.1");
}

#[test]
fn pipeline_under_slow_answers() {
    pipeline_under("slow=0.05:150ms");
}

/// Answers slower than the client's timeout (1 s here): the request counts as failed
/// and is tried again, though the sandbox may have done the work (a lost answer).
#[test]
fn pipeline_under_answers_slower_than_the_timeout() {
    let env = world();
    env.add_config("network", "timeout_secs", "1");
    let ledger = Ledger {
        slow_is_lost: true,
        ..Ledger::default()
    };
    pipeline_in(env, ledger, "slow=0.03:1500ms");
}

#[test]
fn pipeline_under_dropped_connections() {
    pipeline_under("drop=0.08");
}

#[test]
fn pipeline_under_truncated_bodies() {
    pipeline_under("truncate=0.08");
}

#[test]
fn pipeline_under_malformed_bodies() {
    pipeline_under("malformed=0.08");
}

#[test]
fn pipeline_under_expiring_tokens() {
    pipeline_under("expire=0.15");
}

#[test]
fn pipeline_under_a_mix_of_everything() {
    pipeline_under(
        "500=0.03,503=0.03,429=0.05,slow=0.02:200ms,drop=0.03,truncate=0.03,malformed=0.03,expire=0.03",
    );
}

// ---------------------------------------------------------------------------------------
// 3. Trace logging with canary personal data

/// Every field of personal data, each a value found nowhere else; the letter ones share
/// the token `qzx`, so any fragment of them (cased, escaped, split) is found too.
struct Canaries {
    /// Exact strings.
    values: Vec<String>,
    /// The order that goes to review for its address.
    review_order: String,
}

const TOKEN: &str = "qzx";

/// Adds three orders full of canaries: a consumer (name, street, city, postcode, phone,
/// e-mail), a business buyer (company, VAT id) copied from a generated one, and one with
/// an address that needs a person.
fn add_canary_orders(env: &TestEnv) -> Canaries {
    let consumer = json!({
        "orderId": "028-9999999-0000011",
        "createdTime": "2026-11-19T08:00:00Z",
        "lastUpdatedTime": "2026-11-19T09:00:00Z",
        "programs": [],
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": "A1805IZSGTT6HS", "marketplaceName": "Amazon.nl"},
        "buyer": {"buyerName": "Qzxkoper Kanarie", "buyerEmail": "qzxmail@marketplace.amazon.nl"},
        "recipient": {"deliveryAddress": {
            "name": "Qzxontvanger Kanarie", "addressLine1": "Qzxstraat 17", "city": "Qzxstad",
            "postalCode": "9741QZ", "countryCode": "NL", "phone": "+31 6 9753 1864",
            "addressType": "RESIDENTIAL"}},
        "proceeds": {"grandTotal": {"amount": "24.19", "currencyCode": "EUR"}},
        "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT", "fulfillmentServiceLevel": "STANDARD"},
        "orderItems": [{
            "orderItemId": "10000000000011", "quantityOrdered": 1,
            "product": {"asin": "B000CANARY", "title": "Mok", "sellerSku": "MUG-1",
                        "price": {"unitPrice": {"amount": "19.99", "currencyCode": "EUR"}}},
            "proceeds": {"proceedsTotal": {"amount": "24.19", "currencyCode": "EUR"},
                         "breakdowns": [{"type": "ITEM", "subtotal": {"amount": "24.19", "currencyCode": "EUR"}},
                                        {"type": "TAX", "subtotal": {"amount": "4.20", "currencyCode": "EUR"}}]}
        }]
    });
    let mut review = consumer.clone();
    review["orderId"] = json!("028-9999999-0000012");
    review["orderItems"][0]["orderItemId"] = json!("10000000000012");
    review["buyer"] = json!({"buyerName": "Qzxtweede Kanarie"});
    review["recipient"]["deliveryAddress"]["name"] = json!("Qzxtweede Kanarie");
    // "Kerkweg 7 8": 8 could be the addition or part of the number: a person decides.
    review["recipient"]["deliveryAddress"]["addressLine1"] = json!("Qzxweg 7 8");
    // A generated business order with a buyer VAT registration, renamed: its VAT
    // number (random digits) is itself a canary.
    let business_id = env
        .sb()
        .order_ids()
        .into_iter()
        .find(|id| {
            env.sb().order(id).is_some_and(|o| {
                o["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
                    && o["salesChannel"]["marketplaceId"] == "A1805IZSGTT6HS"
                    && o["tax"]["taxRegistrations"]
                        .as_array()
                        .is_some_and(|r| r.iter().any(|t| t["entityType"] == "BUYER"))
            })
        })
        .expect("a Dutch business order in the world");
    let mut business = env.sb().order(&business_id).unwrap();
    let text = business.to_string();
    let vat = business["tax"]["taxRegistrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["entityType"] == "BUYER")
        .unwrap()["taxRegistrationNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let company = business["tax"]["taxRegistrations"][0]["legalName"]
        .as_str()
        .unwrap()
        .to_string();
    let buyer = business["buyer"]["buyerName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let recipient = business["recipient"]["deliveryAddress"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut renamed = text;
    for (from, to) in [
        (&business_id, "028-9999999-0000013"),
        (&company, "Qzxbedrijf B.V."),
        (&buyer, "Qzxinkoper Kanarie"),
        (&recipient, "Qzxontvangst Kanarie"),
    ] {
        if !from.is_empty() {
            renamed = renamed.replace(from.as_str(), to);
        }
    }
    business = serde_json::from_str(&renamed).unwrap();
    for o in [consumer, review, business] {
        env.sb().add_order(o).unwrap();
    }
    let digits = vat
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .to_string();
    Canaries {
        values: vec![
            "Qzxkoper Kanarie".into(),
            "qzxmail@marketplace.amazon.nl".into(),
            "Qzxontvanger Kanarie".into(),
            "Qzxstraat".into(),
            "Qzxstad".into(),
            "9741QZ".into(),
            "9741 QZ".into(),
            "+31 6 9753 1864".into(),
            "+31697531864".into(),
            "97531864".into(),
            "9753 1864".into(),
            "Qzxtweede Kanarie".into(),
            "Qzxweg".into(),
            "Qzxbedrijf".into(),
            "Qzxinkoper Kanarie".into(),
            "Qzxontvangst Kanarie".into(),
            vat,
            digits,
        ],
        review_order: "028-9999999-0000012".into(),
    }
}

/// Where a canary shows up in `bytes`: any value in any case or JSON-escaped, or the
/// shared letter token in any case.
fn canary_in(bytes: &[u8], canaries: &Canaries) -> Option<String> {
    let lower = String::from_utf8_lossy(bytes).to_lowercase();
    if lower.contains(TOKEN) {
        return Some(TOKEN.into());
    }
    canary_value_in(&lower, canaries)
}

/// The same without the three-letter token, for encrypted files: ciphertext holds any
/// three given letters by chance, but not a whole value.
fn canary_value_in(lower: &str, canaries: &Canaries) -> Option<String> {
    for c in &canaries.values {
        let escaped = serde_json::to_string(c).unwrap();
        let forms = [
            c.to_lowercase(),
            escaped.trim_matches('"').to_lowercase(),
            c.replace(' ', "").to_lowercase(),
            c.replace(' ', "+").to_lowercase(),
            c.replace(' ', "%20").to_lowercase(),
        ];
        if forms
            .iter()
            .any(|f| !f.is_empty() && lower.contains(f.as_str()))
        {
            return Some(c.clone());
        }
    }
    None
}

#[test]
fn the_whole_pipeline_at_trace_level_shows_no_personal_data() {
    let mut env = world();
    let canaries = add_canary_orders(&env);
    env.set_env("FULFIL_LOG", "trace");
    let mut outputs: Vec<(String, Run)> = Vec::new();
    let mut step = |env: &TestEnv, args: &[&str], codes: &[i32]| -> Run {
        let mut full = vec!["-vvv"];
        full.extend_from_slice(args);
        let r = env.run(&full);
        assert!(
            codes.contains(&r.code),
            "{args:?}: exit {}\n{}",
            r.code,
            r.stderr
        );
        outputs.push((
            args.join(" "),
            Run {
                code: r.code,
                stdout: r.stdout.clone(),
                stderr: r.stderr.clone(),
            },
        ));
        r
    };
    step(&env, &["sync-orders"], &[0]);
    step(&env, &["status"], &[0]);
    step(&env, &["make-labels"], &[3]);
    let listed = step(&env, &["review"], &[0, 3]);
    assert!(
        listed.stdout.contains(&canaries.review_order),
        "review lists the order: {}",
        listed.stdout
    );
    step(
        &env,
        &[
            "review",
            "set-address",
            &canaries.review_order,
            "--street",
            "Qzxweg",
            "--house-nr",
            "7",
            "--ext",
            "8",
        ],
        &[0],
    );
    step(&env, &["make-labels"], &[0, 3]);
    step(&env, &["make-invoices"], &[0, 3]);
    step(&env, &["--json", "make-invoices"], &[0, 3]);
    step(&env, &["status"], &[0]);
    step(&env, &["--json", "status"], &[0]);
    for id in [
        "028-9999999-0000011",
        "028-9999999-0000012",
        "028-9999999-0000013",
    ] {
        let issues = env.query(&format!("SELECT command || ' ' || reason || ' ' || coalesce(detail, '') FROM order_issues WHERE order_id = '{id}'"));
        assert!(issues.is_empty(), "{id}: {issues:?}");
        assert_eq!(
            env.query(&format!("SELECT stage FROM orders WHERE order_id = '{id}'")),
            vec!["shipped"],
            "{id}"
        );
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) FROM invoices WHERE order_id = '{id}'"
            )),
            1,
            "{id}"
        );
    }
    // The control: the canaries did reach the store, PostNL and the PDFs.
    assert!(canary_in(env.dump_table("order_pii").as_bytes(), &canaries).is_some());
    assert!(env.dump_table("order_pii").contains("Qzxstraat"));
    assert!(env.dump_table("invoice_pii").contains("Qzxbedrijf"));
    let sent: String = env
        .calls("postnl.label")
        .iter()
        .map(Value::to_string)
        .collect();
    assert!(sent.contains("Qzxontvanger Kanarie") && sent.contains("Qzxstraat"));
    env.now = LATER.to_string();
    step(&env, &["purge", "--dry-run"], &[0]);
    step(&env, &["purge"], &[0]);
    step(&env, &["status"], &[0]);
    env.now = NOW.to_string();

    let mut trace_lines = 0;
    for (what, r) in &outputs {
        trace_lines += r.stderr.lines().count();
        for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            if let Some(c) = canary_in(text.as_bytes(), &canaries) {
                let line = text
                    .lines()
                    .find(|l| canary_in(l.as_bytes(), &canaries).is_some())
                    .unwrap_or_default();
                panic!("`{what}` {stream} shows {c}: {line}");
            }
        }
    }
    assert!(
        trace_lines > 500,
        "trace logging was on ({trace_lines} lines)"
    );
    // Dependencies log at trace too (the filter is FULFIL_LOG's alone).
    let all: String = outputs.iter().map(|(_, r)| r.stderr.as_str()).collect();
    assert!(
        all.contains("reqwest") || all.contains("hyper"),
        "dependency logs are in"
    );
    // After purge nothing under the data directory holds a canary: the database and
    // its WAL are encrypted, and the label and invoice PDFs that showed the names and
    // addresses are gone.
    assert!(env.dump_table("order_pii").is_empty() || !env.dump_table("order_pii").contains("Qzx"));
    for f in files_under(&env.data()) {
        let bytes = std::fs::read(&f).unwrap();
        let encrypted = f
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("fulfil.db"));
        let found = if encrypted {
            canary_value_in(&String::from_utf8_lossy(&bytes).to_lowercase(), &canaries)
        } else {
            canary_in(&bytes, &canaries)
        };
        assert!(
            found.is_none(),
            "{} holds personal data after purge",
            f.display()
        );
    }
    assert_eq!(
        crate::common::print_files_under(&env.data().join("labels")).len()
            + files_under(&env.data().join("invoices")).len(),
        0,
        "every print file and invoice PDF is gone"
    );
}
