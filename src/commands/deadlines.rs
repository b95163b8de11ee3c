//! Not a command: the ship-by check that `sync-orders`, `make-labels` and
//! `confirm-shipments` end with (issue #23), and the deadline figures `status` shows.
//!
//! A cron run is how a seller hears of trouble, so a run that leaves an order
//! unconfirmed within `alerts.ship_by_hours` of its ship-by deadline (or past it)
//! names every such order on stderr, also under `-q`, and exits 3. A run where every
//! order is on time says nothing. The lines carry the order id, the deadline in the
//! seller's zone and where the order is held up; never personal data.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::clock::{parse_rfc3339, rfc3339};
use crate::commands::Outcome;
use crate::ctx::Ctx;
use crate::error::Exit;
use crate::ship_by::{Alert, Due, Stuck, WindowCounts, needs_alert};
use crate::store::{self, Store, deadlines as db, orders::Stage};
use crate::zone::SellerZone;

/// The commands that end with the check.
pub const CHECKED: [&str; 3] = [
    crate::commands::sync_orders::COMMAND,
    crate::commands::make_labels::COMMAND,
    "confirm-shipments",
];

/// Orders not confirmed to Amazon whose deadline is past or at most `hours` away,
/// most urgent first.
pub fn alerts(store: &Store, now: OffsetDateTime, hours: u32) -> anyhow::Result<Vec<Alert>> {
    if store.schema_version()? < db::SINCE_SCHEMA {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for o in db::open(store.conn())? {
        let Some(deadline) = o
            .ship_by_latest
            .as_deref()
            .and_then(|t| parse_rfc3339(t).ok())
        else {
            continue;
        };
        if !needs_alert(deadline, now, hours) {
            continue;
        }
        let label_from = o
            .label_from
            .as_deref()
            .and_then(|t| parse_rfc3339(t).ok())
            .filter(|t| *t > now);
        let stuck = match (o.stage, label_from) {
            (Stage::Review, _) => Stuck::Review(o.reason.unwrap_or_else(|| "review".into())),
            (Stage::Labelled, _) => Stuck::NotConfirmed,
            (_, Some(at)) => Stuck::LabelWindow(at),
            _ => Stuck::WaitingForLabel,
        };
        found.push(Alert {
            order_id: o.order_id,
            deadline,
            stuck,
        });
    }
    Ok(found)
}

/// The check at the end of a checked command: prints one line per order at risk and
/// turns a clean outcome into exit 3. Best effort: a run whose store was never opened
/// (a configuration error, the lock held by another run) checks nothing, and a failure
/// to read is logged, never allowed to hide the command's own result.
pub fn check(ctx: &Ctx, command: &str, result: &mut anyhow::Result<Outcome>) {
    if !CHECKED.contains(&command) || !ctx.store_is_open() {
        return;
    }
    let found = (|| -> anyhow::Result<(Vec<Alert>, SellerZone)> {
        let cfg = ctx.config()?;
        let zone = cfg.seller.zone()?;
        let store = ctx.store_read()?;
        Ok((
            alerts(&store, ctx.clock.now(), cfg.alerts.ship_by_hours)?,
            zone,
        ))
    })();
    let (found, zone) = match found {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "ship-by check skipped");
            return;
        }
    };
    if found.is_empty() {
        return;
    }
    let now = ctx.clock.now();
    for a in &found {
        ctx.ui.alert(&a.line(now, &zone));
    }
    if let Ok(outcome) = result {
        if outcome.exit == Exit::Ok {
            outcome.exit = Exit::Partial;
        }
        if let Some(map) = outcome.summary.as_object_mut() {
            map.insert(
                "ship_by_alerts".into(),
                Value::Array(found.iter().map(|a| alert_json(a, now)).collect()),
            );
        }
    }
}

fn alert_json(a: &Alert, now: OffsetDateTime) -> Value {
    let (stuck, reason, label_from) = match &a.stuck {
        Stuck::Review(r) => ("review", Some(r.as_str()), None),
        Stuck::WaitingForLabel => ("waiting_for_label", None, None),
        Stuck::LabelWindow(at) => ("label_window", None, Some(rfc3339(*at))),
        Stuck::NotConfirmed => ("not_confirmed", None, None),
    };
    json!({
        "order_id": a.order_id,
        "ship_by": rfc3339(a.deadline),
        "late": a.deadline < now,
        "stuck": stuck,
        "reason": reason,
        "label_from": label_from,
    })
}

/// What `status` shows of the deadlines: open orders late, due today and tomorrow in
/// the seller's days, and the late-shipment and tracking rates over Amazon's windows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Overview {
    pub late: u64,
    pub due_today: u64,
    pub due_tomorrow: u64,
    pub windows: Vec<(u32, WindowCounts)>,
}

/// Amazon's windows for the late-shipment and tracking rates, in days.
pub const WINDOWS: [u32; 2] = [10, 30];

pub fn overview(store: &Store, now: OffsetDateTime, zone: &SellerZone) -> anyhow::Result<Overview> {
    let mut o = Overview::default();
    if store.schema_version()? < db::SINCE_SCHEMA {
        return Ok(o);
    }
    for order in db::open(store.conn())? {
        let deadline = order
            .ship_by_latest
            .as_deref()
            .and_then(|t| parse_rfc3339(t).ok());
        match Due::of(deadline, now, zone) {
            Due::Late => o.late += 1,
            Due::Today => o.due_today += 1,
            Due::Tomorrow => o.due_tomorrow += 1,
            Due::Later => {}
        }
    }
    for days in WINDOWS {
        let since = now - time::Duration::days(i64::from(days));
        o.windows
            .push((days, store::deadlines::window(store.conn(), since, now)?));
    }
    Ok(o)
}

impl Overview {
    pub fn to_json(&self) -> Value {
        let pct = |d: Option<rust_decimal::Decimal>| d.map(|d| d.to_string());
        json!({
            "late": self.late,
            "due_today": self.due_today,
            "due_tomorrow": self.due_tomorrow,
            "windows": self.windows.iter().map(|(days, w)| json!({
                "days": days,
                "orders_due": w.due,
                "shipped_late": w.late,
                "late_shipment_rate_percent": pct(w.late_shipment_rate()),
                "confirmed": w.confirmed,
                "with_tracking": w.tracked,
                "valid_tracking_rate_percent": pct(w.valid_tracking_rate()),
            })).collect::<Vec<_>>(),
        })
    }

    /// Lines for `status`.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "ship-by   {} late, {} due today, {} due tomorrow (not yet confirmed to Amazon)",
            self.late, self.due_today, self.due_tomorrow
        )];
        for (days, w) in &self.windows {
            let pct = |d: Option<rust_decimal::Decimal>| {
                d.map_or_else(|| "-".to_string(), |d| format!("{d} %"))
            };
            out.push(format!(
                "  {days:>2} days  late shipment {} ({} of {}), valid tracking {} ({} of {})",
                pct(w.late_shipment_rate()),
                w.late,
                w.due,
                pct(w.valid_tracking_rate()),
                w.tracked,
                w.confirmed
            ));
        }
        out
    }
}
