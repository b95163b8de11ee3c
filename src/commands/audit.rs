//! `fulfil audit`: lists the audit log; `fulfil audit verify` checks its chain (issue #9).
//! The log itself, its key and its checks are described in `crate::audit`.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::audit::{self, AuditKey, Entry};
use crate::commands::Outcome;
use crate::ctx::Ctx;
use crate::error::{AppError, Exit};
use crate::store;

/// Show the audit log: one entry per run of a command (time, command, OS user,
/// outcome, counts; never personal data)
///
/// With --json, prints one JSON array with an object per entry. Entries are kept at
/// least 13 months (`retention.audit_months`), then pruned by purge; the prune leaves
/// an entry of its own.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    /// Only entries from this day (YYYY-MM-DD, UTC) or instant (RFC 3339) on
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    pub since: Option<String>,
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that no entry was changed, removed or moved; exit 1 naming the first bad one
    ///
    /// Prints the head of the log (seq and MAC). Someone holding the database key could
    /// rewrite the log or cut off its newest entries without a trace inside the
    /// database: note the head somewhere else and check it later with --expect-head.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A head noted earlier, as SEQ:MAC (at least the first 16 hex characters of the
    /// MAC): fail unless the log still holds that entry unchanged
    #[arg(long, value_name = "SEQ:MAC", value_parser = parse_head)]
    pub expect_head: Option<(i64, String)>,
}

fn parse_since(s: &str) -> Result<String, String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &fmt) {
        return Ok(crate::clock::rfc3339(d.midnight().assume_utc()));
    }
    crate::clock::parse_rfc3339(s)
        .map(crate::clock::rfc3339)
        .map_err(|_| format!("`{s}` is neither a date (2026-11-29) nor an RFC 3339 time"))
}

fn parse_head(s: &str) -> Result<(i64, String), String> {
    let bad = || format!("`{s}` is not SEQ:MAC as printed by `fulfil audit verify`");
    let (seq, mac) = s.split_once(':').ok_or_else(bad)?;
    let seq: i64 = seq.trim().parse().map_err(|_| bad())?;
    let mac = mac.trim().to_ascii_lowercase();
    if mac.len() < 16 || mac.len() > 64 || !mac.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok((seq, mac))
}

pub fn run(ctx: &Ctx, args: &AuditArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        None => list(ctx, args.since.as_deref()),
        Some(AuditCommand::Verify(v)) => verify(ctx, v),
    }
}

/// The log, or nothing when the database predates it (the next writing run adds it).
fn load(s: &store::Store, since: Option<&str>) -> anyhow::Result<Vec<Entry>> {
    if s.schema_version()? < 4 {
        return Ok(Vec::new());
    }
    Ok(store::audit::entries(s.conn(), since)?)
}

fn list(ctx: &Ctx, since: Option<&str>) -> anyhow::Result<Outcome> {
    let entries = {
        let s = ctx.store_read()?;
        load(&s, since)?
    };
    if !ctx.global.json {
        if entries.is_empty() {
            ctx.ui.out("no audit entries");
        } else {
            ctx.ui.out(&format!(
                "{:>6}  {:<20}  {:<17}  {:<12}  {:<9}  counts",
                "seq", "at", "command", "user", "outcome"
            ));
        }
        for e in &entries {
            ctx.ui.out(&format!(
                "{:>6}  {:<20}  {:<17}  {:<12}  {:<9}  {}",
                e.seq,
                e.at,
                e.command,
                format!("{}({})", e.os_user, e.uid),
                e.outcome,
                e.counts
            ));
        }
    }
    Ok(Outcome::ok(Value::Array(
        entries.iter().map(entry_json).collect(),
    )))
}

fn entry_json(e: &Entry) -> Value {
    json!({
        "seq": e.seq,
        "at": e.at,
        "command": e.command,
        "uid": e.uid,
        "os_user": e.os_user,
        "outcome": e.outcome,
        "counts": serde_json::from_str::<Value>(&e.counts).unwrap_or(Value::Null),
        "key_epoch": e.key_epoch,
        "prev_mac": e.prev_mac,
        "mac": e.mac,
    })
}

fn verify(ctx: &Ctx, args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let s = ctx.store_read()?;
    let entries = load(&s, None)?;
    let (retired, current_epoch) = if s.schema_version()? < 4 {
        (Vec::new(), 0)
    } else {
        (
            store::audit::retired_keys(s.conn())?,
            store::audit::current_epoch(s.conn())?,
        )
    };
    let current = s.audit_key();
    let key_of = |epoch: i64| -> Option<&AuditKey> {
        if epoch == current_epoch {
            Some(current)
        } else {
            retired.iter().find(|(e, _)| *e == epoch).map(|(_, k)| k)
        }
    };
    let v = audit::verify(&entries, key_of).map_err(|b| {
        AppError::new(Exit::Failed, format!("the audit log is broken: {b}"))
            .hint("entries were changed, removed or reordered outside fulfil; keep the database file as it is and compare it with a backup")
            .hint("the check stops at the first bad entry; `fulfil audit` lists them all")
    })?;
    if let Some((seq, mac)) = &args.expect_head {
        match entries.iter().find(|e| e.seq == *seq) {
            None => {
                return Err(AppError::new(
                    Exit::Failed,
                    format!("the audit log no longer holds entry {seq}, the head you noted"),
                )
                .hint("newer entries were cut off or the log was replaced, unless 13 months passed and purge pruned it")
                .into());
            }
            Some(e) if !e.mac.starts_with(mac.as_str()) => {
                return Err(AppError::new(
                    Exit::Failed,
                    format!(
                        "audit entry {seq} ({}, {}) is not the head you noted: the log was rewritten",
                        e.at, e.command
                    ),
                )
                .hint("keep the database file as it is and compare it with a backup")
                .into());
            }
            Some(_) => {}
        }
    }
    let (head_seq, head_mac) = v.head.clone().unwrap_or((0, String::new()));
    if !ctx.global.json && !ctx.global.quiet {
        if v.entries == 0 {
            ctx.ui.out("audit log intact: 0 entries");
        } else {
            ctx.ui.out(&format!(
                "audit log intact: {} entries (seq {} to {head_seq})",
                v.entries,
                v.first.unwrap_or(0)
            ));
            ctx.ui.out(&format!(
                "head {head_seq}:{head_mac} (note it elsewhere; check with --expect-head)"
            ));
        }
    }
    Ok(Outcome::ok(json!({
        "intact": true,
        "entries": v.entries,
        "first_seq": v.first,
        "head_seq": head_seq,
        "head_mac": head_mac,
    })))
}
