//! The tamper-evident audit log (issue #9): what an entry is, how it is authenticated,
//! and how a chain of entries is checked. The SQL lives in `store::audit`.
//!
//! Every run of a command that opened the store appends one entry when it ends: the
//! time, the command, the OS user (uid and its name), the outcome and the run's counts.
//! Personal data never goes in: [`counts`] keeps numbers and flags of the command's
//! summary, turns lists into their length and drops free text.
//!
//! # The chain
//!
//! Entry `n` carries the MAC of entry `n - 1` (`prev_mac`; the first entry of a fresh
//! log carries [`GENESIS`]) and its own MAC, HMAC-SHA256 over a length-prefixed
//! encoding of seq, time, command, uid, user name, outcome, counts, key epoch and
//! `prev_mac` ([`encode`]). An edited entry no longer matches its MAC, a removed entry
//! leaves a gap in `seq`, and entries moved around no longer point at their
//! predecessor.
//!
//! # The key
//!
//! The MAC key is derived from the database key with HKDF-SHA256 under a fixed salt and
//! info naming its purpose ([`AuditKey::derive`]), so the audit key is never the database
//! key and learning it reveals nothing about the database key. It is held in zeroizing
//! memory (ring's `hmac::Key` is built for each use and dropped at once).
//!
//! # Key rotation
//!
//! `rotate-key` replaces the database key and destroys the old one, which also ends the
//! old audit key's derivation. Re-MACing the log under the new key would launder any
//! tampering done before; instead each entry records the key *epoch* it was made under.
//! Just before the database is re-keyed, the outgoing audit key is written to
//! `audit_keys` under its epoch, inside the database (so from then on it is encrypted
//! under the new database key), and entries made afterwards carry the next epoch.
//! Verification uses the stored key for old epochs and the key derived from the current
//! database key for the newest epoch, so every entry, before or after a rotation, is
//! still checked against its own MAC. Keeping the retired audit key does not weaken the
//! cryptographic erase: it authenticates, decrypts nothing, and HKDF cannot be run
//! backwards to the destroyed database key. It gives no one more power than the
//! current database key already does.
//!
//! # Retention
//!
//! Entries are kept at least [`MIN_RETENTION_MONTHS`] calendar months. Pruning removes
//! the oldest entries as one prefix of the chain and appends an `audit-prune` entry
//! naming the seq, MAC and time of the last removed entry (the *anchor*). Verification
//! of a log that no longer starts at seq 1 starts from the prune entry whose anchor the
//! first remaining entry points at; a prune entry that names another anchor, or one that
//! would have removed entries younger than the minimum, is reported.
//!
//! # What a chain alone cannot show
//!
//! Anyone holding the database key can recompute every MAC, and can cut off the newest
//! entries without leaving a trace inside the database. `audit verify` therefore prints
//! the head (seq and MAC) of the log: note it somewhere else (a ticket, a mail, a
//! notebook), and `audit verify --expect-head SEQ:MAC` later proves that the log still
//! contains that entry unchanged, which also catches a rewrite of everything before it.

use std::fmt;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::store::DbKey;

/// The shortest time an entry is kept, in calendar months (`retention.audit_months`
/// may only lengthen it).
pub const MIN_RETENTION_MONTHS: u32 = 13;

/// The `prev_mac` of the first entry of a log.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The command name of the entry a prune appends.
pub const PRUNE_COMMAND: &str = "audit-prune";

const HKDF_SALT: &[u8] = b"fulfil audit log v1 salt";
const HKDF_INFO: &[u8] = b"fulfil audit log v1";
const ENCODING_TAG: &[u8] = b"fulfil audit entry v1";

/// The HMAC-SHA256 key of the audit log for one key epoch.
pub struct AuditKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey([secret])")
    }
}

struct Len32;

impl ring::hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

impl AuditKey {
    /// Derives the audit key from the database key (HKDF-SHA256, fixed salt and info).
    pub fn derive(db_key: &DbKey) -> Self {
        let ikm = db_key.bytes();
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, HKDF_SALT).extract(ikm.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        // Both calls fail only for an output longer than 255 hash lengths.
        if let Ok(okm) = prk.expand(&[HKDF_INFO], Len32) {
            let _ = okm.fill(out.as_mut());
        }
        Self(out)
    }

    /// A retired key as stored in `audit_keys` (64 hex characters).
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.len() != 64 {
            return None;
        }
        let mut out = Zeroizing::new([0u8; 32]);
        for (i, pair) in s.as_bytes().chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).ok()?;
            out[i] = u8::from_str_radix(text, 16).ok()?;
        }
        Some(Self(out))
    }

    /// The key as 64 hex characters, for `audit_keys`.
    pub fn hex(&self) -> Zeroizing<String> {
        Zeroizing::new(crate::store::hex(self.0.as_ref()))
    }

    /// The MAC of an entry, as 64 hex characters.
    pub fn mac(&self, e: &Entry) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.0.as_ref());
        let tag = ring::hmac::sign(&key, &encode(e));
        crate::store::hex(tag.as_ref())
    }

    /// Whether the entry's stored MAC is the right one (compared in constant time).
    pub fn check(&self, e: &Entry) -> bool {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.0.as_ref());
        let Some(tag) = unhex(&e.mac) else {
            return false;
        };
        ring::hmac::verify(&key, &encode(e), &tag).is_ok()
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

/// One entry of the audit log, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    pub seq: i64,
    /// RFC 3339, UTC, whole seconds, from the run's clock.
    pub at: String,
    pub command: String,
    pub uid: i64,
    pub os_user: String,
    pub outcome: String,
    /// JSON text, see [`counts`].
    pub counts: String,
    pub key_epoch: i64,
    pub prev_mac: String,
    pub mac: String,
}

/// The bytes the MAC is computed over: a tag, then every field as an 8-byte big-endian
/// length followed by its bytes, so that no two different entries encode alike.
pub fn encode(e: &Entry) -> Vec<u8> {
    let seq = e.seq.to_string();
    let uid = e.uid.to_string();
    let epoch = e.key_epoch.to_string();
    let fields: [&[u8]; 10] = [
        ENCODING_TAG,
        seq.as_bytes(),
        e.at.as_bytes(),
        e.command.as_bytes(),
        uid.as_bytes(),
        e.os_user.as_bytes(),
        e.outcome.as_bytes(),
        e.counts.as_bytes(),
        epoch.as_bytes(),
        e.prev_mac.as_bytes(),
    ];
    let mut out = Vec::with_capacity(fields.iter().map(|f| f.len() + 8).sum());
    for f in fields {
        out.extend_from_slice(&(f.len() as u64).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// Summary keys whose text values are kept in the audit log: identifiers only.
const TEXT_KEYS: &[&str] = &["command", "order_id", "reprint", "quarter", "stage"];

/// What of a command's `--json` summary goes into the audit log: numbers, flags and
/// nulls as they are, lists as their length, nested objects the same way, and text only
/// under a few identifier keys (`command`, `order_id`, `quarter`, …) when it looks like
/// an identifier. Everything else is dropped, so that no summary (tax-report lists
/// customer VAT numbers, purge lists order ids, status names paths) can carry personal
/// data into the log, whatever it holds.
pub fn counts(summary: &Value) -> Value {
    match summary {
        Value::Object(m) => Value::Object(sanitize_map(m)),
        Value::Array(a) => serde_json::json!({ "items": a.len() }),
        Value::Null => Value::Object(Map::new()),
        other => scalar(other).map_or_else(
            || Value::Object(Map::new()),
            |v| serde_json::json!({ "value": v }),
        ),
    }
}

fn sanitize_map(m: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in m {
        if !is_identifier(k, 40) {
            continue;
        }
        let kept = match v {
            Value::Object(inner) => Some(Value::Object(sanitize_map(inner))),
            Value::Array(a) => Some(Value::from(a.len())),
            Value::String(s) if TEXT_KEYS.contains(&k.as_str()) && is_identifier(s, 64) => {
                Some(v.clone())
            }
            Value::String(_) => None,
            other => scalar(other),
        };
        if let Some(v) = kept {
            out.insert(k.clone(), v);
        }
    }
    out
}

fn scalar(v: &Value) -> Option<Value> {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => Some(v.clone()),
        _ => None,
    }
}

fn is_identifier(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// The real uid of this process and its user name from `/etc/passwd` (`?` when the
/// uid has no entry there; the uid itself is always recorded).
pub fn os_user() -> (i64, String) {
    let uid = rustix::process::getuid().as_raw();
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| passwd_name(&text, uid))
        .unwrap_or_else(|| "?".to_string());
    (i64::from(uid), name)
}

fn passwd_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let _password = f.next()?;
        let id: u32 = f.next()?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// `t` minus `months` calendar months; the day is clamped to the target month's length.
pub fn months_before(t: OffsetDateTime, months: u32) -> OffsetDateTime {
    let total = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 - i64::from(months);
    let year = i32::try_from(total.div_euclid(12)).unwrap_or(i32::MIN);
    let month = u8::try_from(total.rem_euclid(12) + 1)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .unwrap_or(time::Month::January);
    let day = t.day().min(time::util::days_in_month(month, year));
    time::Date::from_calendar_date(year, month, day).map_or(t, |d| t.replace_date(d))
}

/// What the counts of a prune entry say.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PruneCounts {
    pub removed: u64,
    pub anchor_seq: i64,
    pub anchor_mac: String,
    pub anchor_at: String,
    pub months: u32,
}

/// Why a log does not verify, at which entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The entry at which the problem shows.
    pub seq: i64,
    pub at: String,
    pub command: String,
    pub what: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The entry does not match its MAC: it was changed.
    MacMismatch,
    /// Entries `from..=to` are missing before this one.
    Missing { from: i64, to: i64 },
    /// The entry does not point at the entry before it.
    OutOfOrder,
    /// A key epoch lower than the entry before, or one no key is known for.
    BadEpoch(i64),
    /// The first entry of a log that was never pruned does not start the chain.
    BadStart,
    /// A prune entry whose anchor does not match the first remaining entry, or that
    /// would have removed entries younger than the minimum retention.
    PruneLies(&'static str),
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = format!("{}, {}", self.at, self.command);
        match &self.what {
            Problem::MacMismatch => write!(
                f,
                "entry {} ({at}) does not match its MAC: it was changed",
                self.seq
            ),
            Problem::Missing { from, to } if from == to => write!(
                f,
                "entry {from} is missing (a gap before entry {} ({at}))",
                self.seq
            ),
            Problem::Missing { from, to } => write!(
                f,
                "entries {from} to {to} are missing (a gap before entry {} ({at}))",
                self.seq
            ),
            Problem::OutOfOrder => write!(
                f,
                "entry {} ({at}) is out of order: it does not follow entry {}",
                self.seq,
                self.seq - 1
            ),
            Problem::BadEpoch(e) => write!(
                f,
                "entry {} ({at}) names key epoch {e}, which does not fit",
                self.seq
            ),
            Problem::BadStart => write!(
                f,
                "entry {} ({at}) claims to start the log but points at an earlier entry",
                self.seq
            ),
            Problem::PruneLies(why) => write!(f, "prune entry {} ({at}) {why}", self.seq),
        }
    }
}

/// A log that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: u64,
    /// The first and last entry (seq, MAC), if any.
    pub first: Option<i64>,
    pub head: Option<(i64, String)>,
}

/// Checks a log given in seq order. `key` answers the audit key of a key epoch
/// (`None` when no key is known for it).
pub fn verify<'k>(
    entries: &[Entry],
    key: impl Fn(i64) -> Option<&'k AuditKey>,
) -> Result<Verified, Broken> {
    let broken = |e: &Entry, what: Problem| Broken {
        seq: e.seq,
        at: e.at.clone(),
        command: e.command.clone(),
        what,
    };
    let Some(first) = entries.first() else {
        return Ok(Verified {
            entries: 0,
            first: None,
            head: None,
        });
    };
    check_start(entries, first).map_err(|(e, what)| broken(e, what))?;
    let mut prev: Option<&Entry> = None;
    for e in entries {
        if let Some(p) = prev {
            if e.seq != p.seq + 1 {
                return Err(broken(
                    e,
                    Problem::Missing {
                        from: p.seq + 1,
                        to: e.seq - 1,
                    },
                ));
            }
            if e.prev_mac != p.mac {
                return Err(broken(e, Problem::OutOfOrder));
            }
            if e.key_epoch < p.key_epoch {
                return Err(broken(e, Problem::BadEpoch(e.key_epoch)));
            }
        }
        let Some(k) = key(e.key_epoch) else {
            return Err(broken(e, Problem::BadEpoch(e.key_epoch)));
        };
        if !k.check(e) {
            return Err(broken(e, Problem::MacMismatch));
        }
        if e.command == PRUNE_COMMAND {
            check_prune(e).map_err(|what| broken(e, what))?;
        }
        prev = Some(e);
    }
    let last = entries.last().unwrap_or(first);
    Ok(Verified {
        entries: entries.len() as u64,
        first: Some(first.seq),
        head: Some((last.seq, last.mac.clone())),
    })
}

/// The first entry either starts the chain, or follows the anchor of a prune entry.
fn check_start<'a>(entries: &'a [Entry], first: &'a Entry) -> Result<(), (&'a Entry, Problem)> {
    if first.seq == 1 {
        return if first.prev_mac == GENESIS {
            Ok(())
        } else {
            Err((first, Problem::BadStart))
        };
    }
    let anchoring = entries
        .iter()
        .filter(|e| e.command == PRUNE_COMMAND)
        .filter_map(|e| Some((e, serde_json::from_str::<PruneCounts>(&e.counts).ok()?)))
        .find(|(_, c)| c.anchor_seq == first.seq - 1);
    match anchoring {
        None => Err((
            first,
            Problem::Missing {
                from: 1,
                to: first.seq - 1,
            },
        )),
        Some((p, c)) if c.anchor_mac != first.prev_mac => Err((
            p,
            Problem::PruneLies("names an anchor the first remaining entry does not follow"),
        )),
        Some(_) => Ok(()),
    }
}

fn check_prune(e: &Entry) -> Result<(), Problem> {
    let Ok(c) = serde_json::from_str::<PruneCounts>(&e.counts) else {
        return Err(Problem::PruneLies("does not say what it removed"));
    };
    let (Ok(at), Ok(anchor_at)) = (
        crate::clock::parse_rfc3339(&e.at),
        crate::clock::parse_rfc3339(&c.anchor_at),
    ) else {
        return Err(Problem::PruneLies("carries a time that cannot be read"));
    };
    if c.anchor_seq >= e.seq || anchor_at >= months_before(at, MIN_RETENTION_MONTHS) {
        return Err(Problem::PruneLies(
            "removed entries younger than the 13 months they must be kept",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn key(n: u8) -> AuditKey {
        let hex = format!("{n:02x}").repeat(32);
        AuditKey::derive(&DbKey::parse(&secrecy::SecretString::from(hex)).unwrap())
    }

    /// A chain of `n` entries under one key, an hour apart.
    fn chain(k: &AuditKey, n: i64) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for seq in 1..=n {
            let prev_mac = out.last().map_or(GENESIS.to_string(), |p| p.mac.clone());
            let mut e = Entry {
                seq,
                at: format!("2026-11-20T{:02}:00:00Z", seq % 24),
                command: "sync-orders".into(),
                uid: 1000,
                os_user: "seller".into(),
                outcome: "ok".into(),
                counts: format!("{{\"fetched\":{seq}}}"),
                key_epoch: 0,
                prev_mac,
                mac: String::new(),
            };
            e.mac = k.mac(&e);
            out.push(e);
        }
        out
    }

    fn run(entries: &[Entry], k: &AuditKey) -> Result<Verified, Broken> {
        verify(entries, |epoch| (epoch == 0).then_some(k))
    }

    #[test]
    fn derived_key_is_not_the_database_key_and_is_stable() {
        let db = DbKey::parse(&secrecy::SecretString::from("ab".repeat(32))).unwrap();
        let a = AuditKey::derive(&db);
        assert_ne!(a.hex().as_str(), db.hex());
        assert_eq!(a.hex(), AuditKey::derive(&db).hex());
        assert_ne!(a.hex(), key(0xcd).hex());
        assert_eq!(AuditKey::from_hex(&a.hex()).unwrap().hex(), a.hex());
        assert!(format!("{a:?}").contains("secret"));
    }

    #[test]
    fn an_intact_chain_verifies() {
        let k = key(1);
        let c = chain(&k, 5);
        let v = run(&c, &k).unwrap();
        assert_eq!(v.entries, 5);
        assert_eq!(v.head, Some((5, c[4].mac.clone())));
        assert_eq!(run(&[], &k).unwrap().entries, 0);
    }

    #[test]
    fn an_edited_entry_is_named() {
        let k = key(1);
        let mut c = chain(&k, 5);
        c[2].counts = "{\"fetched\":999}".into();
        let b = run(&c, &k).unwrap_err();
        assert_eq!((b.seq, b.what.clone()), (3, Problem::MacMismatch));
        assert!(b.to_string().contains("entry 3"), "{b}");
        // The wrong key fails on the first entry.
        let c = chain(&k, 2);
        assert_eq!(run(&c, &key(2)).unwrap_err().seq, 1);
    }

    #[test]
    fn a_deleted_entry_is_a_gap() {
        let k = key(1);
        let mut c = chain(&k, 5);
        c.remove(2);
        let b = run(&c, &k).unwrap_err();
        assert_eq!(b.what, Problem::Missing { from: 3, to: 3 });
        assert!(b.to_string().starts_with("entry 3 is missing"), "{b}");
        // Removing the first entries without a prune entry is caught too.
        let c = chain(&k, 5);
        let b = run(&c[2..], &k).unwrap_err();
        assert_eq!((b.seq, b.what), (3, Problem::Missing { from: 1, to: 2 }));
    }

    #[test]
    fn swapped_entries_are_out_of_order() {
        let k = key(1);
        let mut c = chain(&k, 5);
        c.swap(1, 2);
        let (a, b) = (c[1].seq, c[2].seq);
        c[1].seq = b;
        c[2].seq = a;
        let b = run(&c, &k).unwrap_err();
        assert_eq!((b.seq, b.what), (2, Problem::OutOfOrder));
    }

    #[test]
    fn epochs_use_their_own_keys() {
        let (old, new) = (key(1), key(2));
        let mut c = chain(&old, 3);
        let mut e = c[2].clone();
        e.seq = 4;
        e.key_epoch = 1;
        e.prev_mac = c[2].mac.clone();
        e.mac = new.mac(&e);
        c.push(e);
        let keys = |epoch| match epoch {
            0 => Some(&old),
            1 => Some(&new),
            _ => None,
        };
        assert_eq!(verify(&c, keys).unwrap().entries, 4);
        // Without the retired key the old entries cannot be checked: reported, not passed.
        let b = verify(&c, |epoch| (epoch == 1).then_some(&new)).unwrap_err();
        assert_eq!((b.seq, b.what), (1, Problem::BadEpoch(0)));
        // Tampering before the rotation is still found.
        c[1].outcome = "partial".into();
        assert_eq!(verify(&c, keys).unwrap_err().seq, 2);
    }

    fn prune(k: &AuditKey, c: &mut Vec<Entry>, upto: usize, at: &str, months: u32) {
        let anchor = c[upto - 1].clone();
        let head = c.last().unwrap().clone();
        c.drain(..upto);
        let counts = PruneCounts {
            removed: upto as u64,
            anchor_seq: anchor.seq,
            anchor_mac: anchor.mac,
            anchor_at: anchor.at,
            months,
        };
        let mut e = Entry {
            seq: head.seq + 1,
            at: at.into(),
            command: PRUNE_COMMAND.into(),
            uid: 0,
            os_user: "root".into(),
            outcome: "ok".into(),
            counts: serde_json::to_string(&counts).unwrap(),
            key_epoch: 0,
            prev_mac: head.mac,
            mac: String::new(),
        };
        e.mac = k.mac(&e);
        c.push(e);
    }

    #[test]
    fn a_pruned_log_verifies_from_its_anchor() {
        let k = key(1);
        let mut c = chain(&k, 5);
        prune(&k, &mut c, 3, "2028-01-01T00:00:00Z", 13);
        assert_eq!(run(&c, &k).unwrap().entries, 3);
        // Removing one more entry at the front no longer fits the anchor.
        let b = run(&c[1..], &k).unwrap_err();
        assert_eq!((b.seq, b.what), (5, Problem::Missing { from: 1, to: 4 }));
    }

    #[test]
    fn a_lying_prune_entry_is_reported() {
        let k = key(1);
        // Pruned too early: the removed entries were not 13 months old.
        let mut c = chain(&k, 5);
        prune(&k, &mut c, 3, "2027-12-01T00:00:00Z", 13);
        let b = run(&c, &k).unwrap_err();
        assert_eq!(b.seq, 6);
        assert!(matches!(b.what, Problem::PruneLies(_)), "{b}");
        // A forged anchor (one more entry removed, counts edited) breaks its MAC.
        let mut c = chain(&k, 5);
        prune(&k, &mut c, 3, "2028-01-01T00:00:00Z", 13);
        let mut forged: PruneCounts = serde_json::from_str(&c[2].counts).unwrap();
        forged.anchor_seq = c[0].seq;
        forged.anchor_mac = c[0].mac.clone();
        c[2].counts = serde_json::to_string(&forged).unwrap();
        c.remove(0);
        let b = run(&c, &k).unwrap_err();
        assert_eq!((b.seq, b.what), (6, Problem::MacMismatch));
    }

    #[test]
    fn counts_keep_numbers_and_drop_text() {
        let summary = serde_json::json!({
            "command": "tax-report",
            "quarter": "2026Q3",
            "documents": 4,
            "dry_run": false,
            "print_file": "/home/jan/labels.pdf",
            "intra_community": [{"vat_id": "DE123456789", "net_eur": "10.00"}],
            "stages": {"ready": 3, "review": 1},
            "order_id": "Jan de Vries",
            "Kerkweg 7": 1,
        });
        let c = counts(&summary);
        assert_eq!(
            c,
            serde_json::json!({
                "command": "tax-report",
                "quarter": "2026Q3",
                "documents": 4,
                "dry_run": false,
                "intra_community": 1,
                "stages": {"ready": 3, "review": 1},
            })
        );
        assert_eq!(
            counts(&serde_json::json!([1, 2])),
            serde_json::json!({"items": 2})
        );
    }

    #[test]
    fn encoding_is_unambiguous() {
        let k = key(1);
        let c = chain(&k, 1);
        let mut a = c[0].clone();
        let mut b = c[0].clone();
        a.command = "ab".into();
        a.os_user = "c".into();
        b.command = "a".into();
        b.os_user = "bc".into();
        assert_ne!(encode(&a), encode(&b));
    }

    #[test]
    fn passwd_and_months() {
        let text = "root:x:0:0:root:/root:/bin/sh\nseller:x:1000:1000::/home/seller:/bin/sh\n";
        assert_eq!(passwd_name(text, 1000).as_deref(), Some("seller"));
        assert_eq!(passwd_name(text, 7), None);
        assert_eq!(
            months_before(datetime!(2027-03-31 10:00 UTC), 13),
            datetime!(2026-02-28 10:00 UTC)
        );
        assert_eq!(
            months_before(datetime!(2027-12-15 00:00 UTC), 13),
            datetime!(2026-11-15 00:00 UTC)
        );
    }
}
