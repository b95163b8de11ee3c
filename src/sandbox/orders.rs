//! Orders API 2026-01-01 (searchOrders, getOrder) and Orders v0 confirmShipment, over the
//! order book.
//!
//! The book keeps each order as its full JSON (every dataset, as it looks once UNSHIPPED) plus a
//! timeline of changes: status changes (PENDING → UNSHIPPED → CANCELLED / SHIPPED elsewhere)
//! and packages added by shipment confirmations. An answer shows the order as of sandbox now:
//! the latest visible status, the packages so far, `lastUpdatedTime` = time of the latest
//! visible change; then it removes what the status hides (PENDING: no address, no buyer PII,
//! no prices), what the app's roles hide (NOTES.md §5 PII table), and every dataset that
//! `includedData` did not ask for.

use crate::sandbox::clock::{fmt, parse};
use crate::sandbox::rng::Rng;
use crate::sandbox::{Ctx, Request, Response, Roles, State, invalid_input, path_segment, sp_error};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};

/// Fulfilment statuses of the v2026 model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    PendingAvailability,
    Pending,
    Unshipped,
    PartiallyShipped,
    Shipped,
    Cancelled,
    Unfulfillable,
}

impl Status {
    pub(crate) const ALL: [Status; 7] = [
        Status::PendingAvailability,
        Status::Pending,
        Status::Unshipped,
        Status::PartiallyShipped,
        Status::Shipped,
        Status::Cancelled,
        Status::Unfulfillable,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::PendingAvailability => "PENDING_AVAILABILITY",
            Status::Pending => "PENDING",
            Status::Unshipped => "UNSHIPPED",
            Status::PartiallyShipped => "PARTIALLY_SHIPPED",
            Status::Shipped => "SHIPPED",
            Status::Cancelled => "CANCELLED",
            Status::Unfulfillable => "UNFULFILLABLE",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    fn is_pending(self) -> bool {
        matches!(self, Status::Pending | Status::PendingAvailability)
    }
}

/// The `includedData` datasets.
pub(crate) const DATASETS: [&str; 11] = [
    "BUYER",
    "RECIPIENT",
    "PROCEEDS",
    "EXPENSE",
    "PROMOTION",
    "CANCELLATION",
    "FULFILLMENT",
    "PACKAGES",
    "TAX",
    "PAYMENT",
    "FULFILLMENT_ORDERS",
];

/// A set of datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Included(u16);

impl Included {
    pub(crate) fn all() -> Self {
        Self((1 << DATASETS.len()) - 1)
    }

    pub(crate) fn parse(values: &[String]) -> Result<Self, String> {
        let mut bits = 0u16;
        for v in values {
            match DATASETS.iter().position(|d| d == v) {
                Some(i) => bits |= 1 << i,
                None => {
                    return Err(format!(
                        "includedData value '{v}' is not valid. Valid values: {}.",
                        DATASETS.join(", ")
                    ));
                }
            }
        }
        Ok(Self(bits))
    }

    pub(crate) fn has(self, name: &str) -> bool {
        DATASETS
            .iter()
            .position(|d| *d == name)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }
}

/// One change in an order's life.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    Status {
        at: OffsetDateTime,
        status: Status,
        /// For cancellations: who cancelled and why.
        cancel: Option<(String, String)>,
    },
    Package {
        at: OffsetDateTime,
        package: Value,
        items: Vec<(String, i64)>,
        /// The confirmShipment request that made it (for idempotency), if any.
        confirmation: Option<Value>,
    },
}

impl Change {
    pub(crate) fn at(&self) -> OffsetDateTime {
        match self {
            Change::Status { at, .. } | Change::Package { at, .. } => *at,
        }
    }
}

/// One order: its full data and its timeline.
#[derive(Debug, Clone)]
pub(crate) struct OrderRec {
    pub id: String,
    pub marketplace_id: String,
    pub created: OffsetDateTime,
    /// Every dataset, in the shape of the model's `Order`.
    pub base: Value,
    /// For orders loaded from a file or added by a test: the status and time they came with;
    /// such orders are visible from the start. Generated orders have None and become visible
    /// with their first change.
    pub initial: Option<(Status, OffsetDateTime)>,
    /// Sorted by time (stable for equal times).
    pub changes: Vec<Change>,
}

/// An order's state at one moment.
#[derive(Debug)]
pub(crate) struct View {
    pub status: Status,
    pub last_updated: OffsetDateTime,
    pub packages: Vec<Value>,
    pub shipped: HashMap<String, i64>,
    pub cancel: Option<(String, String)>,
}

fn item_quantities(base: &Value) -> Vec<(String, i64)> {
    base["orderItems"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|it| {
                    Some((
                        it["orderItemId"].as_str()?.to_owned(),
                        it["quantityOrdered"].as_i64().unwrap_or(0),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn package_items(pkg: &Value) -> Vec<(String, i64)> {
    pkg["packageItems"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|it| {
                    Some((
                        it["orderItemId"].as_str()?.to_owned(),
                        it["quantity"].as_i64().unwrap_or(0),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

impl OrderRec {
    pub(crate) fn add_change(&mut self, change: Change) {
        let at = change.at();
        let pos = self.changes.partition_point(|c| c.at() <= at);
        self.changes.insert(pos, change);
    }

    /// The order's state at `now`; None while it does not exist yet.
    pub(crate) fn view(&self, now: OffsetDateTime) -> Option<View> {
        let (status, last_updated) = if let Some(initial) = self.initial {
            initial
        } else {
            let first = self.changes.first()?;
            if first.at() > now {
                return None;
            }
            (Status::Pending, first.at())
        };
        let mut view = View {
            status,
            last_updated,
            packages: Vec::new(),
            shipped: HashMap::new(),
            cancel: None,
        };
        if let Some(pkgs) = self.base["packages"].as_array() {
            for p in pkgs {
                for (id, q) in package_items(p) {
                    *view.shipped.entry(id).or_insert(0) += q;
                }
                view.packages.push(p.clone());
            }
        }
        let ordered = item_quantities(&self.base);
        for c in self.changes.iter().take_while(|c| c.at() <= now) {
            view.last_updated = view.last_updated.max(c.at());
            match c {
                Change::Status { status, cancel, .. } => {
                    view.status = *status;
                    if *status == Status::Cancelled {
                        view.cancel.clone_from(cancel);
                    }
                }
                Change::Package { package, items, .. } => {
                    view.packages.push(package.clone());
                    for (id, q) in items {
                        *view.shipped.entry(id.clone()).or_insert(0) += q;
                    }
                    let all = ordered
                        .iter()
                        .all(|(id, q)| view.shipped.get(id).copied().unwrap_or(0) >= *q);
                    view.status = if all {
                        Status::Shipped
                    } else {
                        Status::PartiallyShipped
                    };
                }
            }
        }
        Some(view)
    }

    /// The order as the API shows it at `now` for these datasets and roles.
    pub(crate) fn render(&self, now: OffsetDateTime, inc: Included, roles: Roles) -> Option<Value> {
        let view = self.view(now)?;
        let mut o = self.base.clone();
        let obj = o.as_object_mut()?;
        obj.insert(
            "lastUpdatedTime".into(),
            Value::String(fmt(view.last_updated)),
        );
        if let Some(f) = obj.get_mut("fulfillment").and_then(Value::as_object_mut) {
            f.insert(
                "fulfillmentStatus".into(),
                Value::String(view.status.as_str().into()),
            );
        } else {
            obj.insert(
                "fulfillment".into(),
                json!({ "fulfillmentStatus": view.status.as_str() }),
            );
        }
        if view.packages.is_empty() {
            obj.remove("packages");
        } else {
            obj.insert("packages".into(), Value::Array(view.packages.clone()));
        }
        let cancelled = view.status == Status::Cancelled;
        if let Some(items) = obj.get_mut("orderItems").and_then(Value::as_array_mut) {
            for it in items {
                let id = it["orderItemId"].as_str().unwrap_or("").to_owned();
                let ordered = it["quantityOrdered"].as_i64().unwrap_or(0);
                let done = view.shipped.get(&id).copied().unwrap_or(0).min(ordered);
                let Some(item) = it.as_object_mut() else {
                    continue;
                };
                let ful = item.entry("fulfillment").or_insert_with(|| json!({}));
                if let Some(ful) = ful.as_object_mut() {
                    ful.insert("quantityFulfilled".into(), json!(done));
                    ful.insert(
                        "quantityUnfulfilled".into(),
                        json!(if cancelled { 0 } else { ordered - done }),
                    );
                }
                if let (true, Some((by, reason))) = (cancelled, view.cancel.as_ref()) {
                    let mut c = Map::new();
                    if by == "BUYER" {
                        c.insert(
                            "cancellationRequest".into(),
                            json!({ "requester": "BUYER", "cancelReason": reason }),
                        );
                    }
                    c.insert(
                        "cancellationExecution".into(),
                        json!({ "cancelledBy": by, "cancelReason": reason }),
                    );
                    item.insert("cancellation".into(), Value::Object(c));
                }
            }
        }
        hide_for_status(&mut o, view.status, now);
        hide_for_roles(&mut o, roles);
        keep_datasets(&mut o, inc);
        prune_empty(&mut o);
        Some(o)
    }
}

const ADDRESS_PII: [&str; 6] = [
    "name",
    "addressLine1",
    "addressLine2",
    "addressLine3",
    "postalCode",
    "phone",
];

fn remove_path(v: &mut Value, path: &[&str]) {
    match path {
        [] => {}
        [last] => {
            if let Some(o) = v.as_object_mut() {
                o.remove(*last);
            }
        }
        [first, rest @ ..] => {
            if let Some(next) = v.get_mut(*first) {
                remove_path(next, rest);
            }
        }
    }
}

fn for_each_item(o: &mut Value, mut f: impl FnMut(&mut Value)) {
    if let Some(items) = o.get_mut("orderItems").and_then(Value::as_array_mut) {
        for it in items {
            f(it);
        }
    }
}

fn strip_address_pii(o: &mut Value) {
    for k in ADDRESS_PII {
        remove_path(o, &["recipient", "deliveryAddress", k]);
    }
    remove_path(o, &["recipient", "deliveryAddress", "extendedFields"]);
}

fn strip_item_pii(o: &mut Value) {
    for_each_item(o, |it| {
        remove_path(it, &["fulfillment", "packing", "giftOption", "giftMessage"]);
        remove_path(it, &["product", "customization", "customizedUrl"]);
    });
}

/// What an order's status hides (NOTES.md §5/§6, PITFALLS.md #8).
fn hide_for_status(o: &mut Value, status: Status, now: OffsetDateTime) {
    if status.is_pending() {
        remove_path(o, &["buyer", "buyerName"]);
        remove_path(o, &["buyer", "buyerEmail"]);
        remove_path(o, &["recipient", "deliveryAddress"]);
        remove_path(o, &["proceeds"]);
        remove_path(o, &["payment"]);
        remove_path(o, &["tax", "taxRegistrations"]);
        for_each_item(o, |it| {
            remove_path(it, &["product", "price"]);
            remove_path(it, &["proceeds"]);
            remove_path(it, &["promotion"]);
            remove_path(it, &["fulfillment", "packing", "giftOption"]);
            remove_path(it, &["product", "customization"]);
        });
    } else if status == Status::Cancelled {
        remove_path(o, &["buyer", "buyerName"]);
        remove_path(o, &["buyer", "buyerEmail"]);
        strip_address_pii(o);
        strip_item_pii(o);
    } else if status == Status::Shipped {
        // The phone is suppressed for shipped orders past the latest delivery date.
        let past = o["fulfillment"]["deliverByWindow"]["latestDateTime"]
            .as_str()
            .and_then(parse)
            .is_some_and(|t| now > t);
        if past {
            remove_path(o, &["recipient", "deliveryAddress", "phone"]);
        }
    }
}

/// What the app's restricted roles hide (NOTES.md §5 table).
fn hide_for_roles(o: &mut Value, roles: Roles) {
    if !roles.direct_to_consumer_shipping {
        strip_address_pii(o);
        remove_path(o, &["buyer", "buyerEmail"]);
        strip_item_pii(o);
    }
    if !(roles.direct_to_consumer_shipping || roles.tax_invoicing || roles.tax_remittance) {
        remove_path(o, &["buyer", "buyerName"]);
    }
    if !(roles.tax_invoicing || roles.tax_remittance) {
        remove_path(o, &["tax", "taxRegistrations"]);
    }
}

/// Removes every dataset `includedData` did not ask for.
fn keep_datasets(o: &mut Value, inc: Included) {
    let order_level: [(&str, &str); 8] = [
        ("BUYER", "buyer"),
        ("RECIPIENT", "recipient"),
        ("PROCEEDS", "proceeds"),
        ("FULFILLMENT", "fulfillment"),
        ("PACKAGES", "packages"),
        ("TAX", "tax"),
        ("PAYMENT", "payment"),
        ("FULFILLMENT_ORDERS", "fulfillmentOrders"),
    ];
    for (ds, key) in order_level {
        if !inc.has(ds) {
            remove_path(o, &[key]);
        }
    }
    let item_level: [(&str, &str); 6] = [
        ("PROCEEDS", "proceeds"),
        ("EXPENSE", "expense"),
        ("PROMOTION", "promotion"),
        ("CANCELLATION", "cancellation"),
        ("FULFILLMENT", "fulfillment"),
        ("TAX", "tax"),
    ];
    for_each_item(o, |it| {
        for (ds, key) in item_level {
            if !inc.has(ds) {
                remove_path(it, &[key]);
            }
        }
    });
}

/// Drops objects that redaction left empty (`"buyer": {}` and the like).
fn prune_empty(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                prune_empty(child);
            }
            map.retain(|_, c| !matches!(c, Value::Object(m) if m.is_empty()));
        }
        Value::Array(items) => {
            for child in items {
                prune_empty(child);
            }
        }
        _ => {}
    }
}

/// A page of a search that is still being paged through.
#[derive(Debug, Clone)]
struct PageToken {
    fingerprint: String,
    ids: Vec<String>,
    offset: usize,
    before: OffsetDateTime,
    issued: OffsetDateTime,
}

/// Lifetime of a pagination token.
const PAGE_TOKEN_LIFETIME: Duration = Duration::hours(24);

#[derive(Debug, Default)]
pub(crate) struct OrderBook {
    orders: Vec<OrderRec>,
    index: HashMap<String, usize>,
    tokens: HashMap<String, PageToken>,
    token_rng: Option<Rng>,
    /// Accepted shipment confirmations, for tests and `/_sandbox/shipments`.
    pub shipments: Vec<Value>,
}

impl OrderBook {
    pub(crate) fn from_records(recs: Vec<OrderRec>) -> Self {
        let mut book = Self::default();
        for r in recs {
            // Duplicate ids in a file: the later one wins.
            book.insert(r);
        }
        book
    }

    pub(crate) fn insert(&mut self, rec: OrderRec) {
        if let Some(&i) = self.index.get(&rec.id) {
            self.orders[i] = rec;
        } else {
            self.index.insert(rec.id.clone(), self.orders.len());
            self.orders.push(rec);
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&OrderRec> {
        self.index.get(id).map(|&i| &self.orders[i])
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut OrderRec> {
        self.index
            .get(id)
            .copied()
            .map(move |i| &mut self.orders[i])
    }

    pub(crate) fn ids(&self) -> Vec<String> {
        self.orders.iter().map(|o| o.id.clone()).collect()
    }

    pub(crate) fn full(&self, id: &str, now: OffsetDateTime) -> Option<Value> {
        self.get(id)?.render(now, Included::all(), Roles::ALL)
    }

    pub(crate) fn set_status(
        &mut self,
        id: &str,
        status: &str,
        at: OffsetDateTime,
    ) -> anyhow::Result<()> {
        let Some(st) = Status::parse(status) else {
            anyhow::bail!("unknown fulfillment status `{status}`");
        };
        let Some(rec) = self.get_mut(id) else {
            anyhow::bail!("unknown order `{id}`");
        };
        let cancel = (st == Status::Cancelled).then(|| {
            (
                "MERCHANT".to_owned(),
                "Set by the sandbox test control".to_owned(),
            )
        });
        rec.add_change(Change::Status {
            at,
            status: st,
            cancel,
        });
        Ok(())
    }

    fn new_token(&mut self, seed: u64) -> String {
        let rng = self
            .token_rng
            .get_or_insert_with(|| Rng::derived(seed, "pagination", 0));
        // Standard base64 with `+`, `/` and `=` in it, so a client that forgets to
        // percent-encode the token once is caught (PITFALLS.md #6).
        let mut bytes = [0u8; 25];
        bytes[0] = 0xfb;
        bytes[1] = 0xf0 | u8::try_from(rng.below(16)).unwrap_or(0);
        for b in bytes.iter_mut().skip(2) {
            *b = u8::try_from(rng.below(256)).unwrap_or(0);
        }
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
    }
}

/// The filters of one search, validated.
struct SearchParams {
    by_created: bool,
    after: OffsetDateTime,
    before: Option<OffsetDateTime>,
    statuses: Vec<String>,
    marketplaces: Vec<String>,
    fulfilled_by: Vec<String>,
    max: usize,
    included: Included,
    token: Option<String>,
}

impl SearchParams {
    /// Everything that must stay unchanged between pages.
    fn fingerprint(&self) -> String {
        let norm = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v.dedup();
            v.join(",")
        };
        format!(
            "{}|{}|{}|{}|{}|{}",
            if self.by_created {
                "created"
            } else {
                "updated"
            },
            fmt(self.after),
            self.before.map(fmt).unwrap_or_default(),
            norm(&self.statuses),
            norm(&self.marketplaces),
            norm(&self.fulfilled_by),
        )
    }
}

fn parse_time_param(req: &Request, name: &str) -> Result<Option<OffsetDateTime>, String> {
    match req.query_param(name) {
        None => Ok(None),
        Some(v) => parse(v)
            .map(Some)
            .ok_or_else(|| format!("{name} '{v}' is not a valid ISO 8601 date-time.")),
    }
}

fn parse_search(req: &Request, now: OffsetDateTime) -> Result<SearchParams, String> {
    let ca = parse_time_param(req, "createdAfter")?;
    let cb = parse_time_param(req, "createdBefore")?;
    let ua = parse_time_param(req, "lastUpdatedAfter")?;
    let ub = parse_time_param(req, "lastUpdatedBefore")?;
    let (by_created, after, before) = match (ca, ua) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(
                "Exactly one of createdAfter and lastUpdatedAfter must be specified.".into(),
            );
        }
        (Some(a), None) => {
            if ub.is_some() {
                return Err("lastUpdatedBefore cannot be specified with createdAfter.".into());
            }
            (true, a, cb)
        }
        (None, Some(a)) => {
            if cb.is_some() {
                return Err("createdBefore cannot be specified with lastUpdatedAfter.".into());
            }
            (false, a, ub)
        }
    };
    let before_name = if by_created {
        "createdBefore"
    } else {
        "lastUpdatedBefore"
    };
    let after_name = if by_created {
        "createdAfter"
    } else {
        "lastUpdatedAfter"
    };
    if let Some(b) = before {
        if b < after {
            return Err(format!(
                "{before_name} must be equal to or after {after_name}."
            ));
        }
        if b > now - Duration::minutes(2) {
            return Err(format!(
                "{before_name} must be at least two minutes before the time of the request."
            ));
        }
    }
    let statuses = req.query_list("fulfillmentStatuses").unwrap_or_default();
    if let Some(bad) = statuses.iter().find(|s| Status::parse(s).is_none()) {
        return Err(format!("fulfillmentStatuses value '{bad}' is not valid."));
    }
    let fulfilled_by = req.query_list("fulfilledBy").unwrap_or_default();
    if let Some(bad) = fulfilled_by
        .iter()
        .find(|s| !matches!(s.as_str(), "MERCHANT" | "AMAZON"))
    {
        return Err(format!(
            "fulfilledBy value '{bad}' is not valid. Valid values: MERCHANT, AMAZON."
        ));
    }
    let marketplaces = req.query_list("marketplaceIds").unwrap_or_default();
    if marketplaces.len() > 50 {
        return Err("marketplaceIds can contain at most 50 values.".into());
    }
    let max = match req.query_param("maxResultsPerPage") {
        None => 100,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => usize::try_from(n).unwrap_or(100),
            _ => {
                return Err(format!(
                    "maxResultsPerPage '{v}' must be an integer between 1 and 100."
                ));
            }
        },
    };
    let included = Included::parse(&req.query_list("includedData").unwrap_or_default())?;
    let token = req.query_param("paginationToken").map(str::to_owned);
    Ok(SearchParams {
        by_created,
        after,
        before,
        statuses,
        marketplaces,
        fulfilled_by,
        max,
        included,
        token,
    })
}

/// `GET /orders/2026-01-01/orders`.
pub(crate) fn search(st: &mut State, req: &Request, ctx: &Ctx<'_>) -> Response {
    let now = ctx.now;
    let p = match parse_search(req, now) {
        Ok(p) => p,
        Err(msg) => return invalid_input(&msg),
    };
    let fingerprint = p.fingerprint();
    let (ids, offset, before) = if let Some(tok) = &p.token {
        let Some(t) = st.orders.tokens.get(tok) else {
            return invalid_input("The paginationToken is not valid.");
        };
        if now - t.issued > PAGE_TOKEN_LIFETIME {
            return invalid_input(
                "The paginationToken has expired. Start the search again without it.",
            );
        }
        if t.fingerprint != fingerprint {
            return invalid_input(
                "The paginationToken was issued for different parameters. Repeat every parameter of the first request (only maxResultsPerPage and includedData may change).",
            );
        }
        (t.ids.clone(), t.offset, t.before)
    } else {
        let before = p.before.unwrap_or(now - Duration::minutes(2));
        let mut hits: Vec<(OffsetDateTime, String)> = st
            .orders
            .orders
            .iter()
            .filter_map(|o| {
                let v = o.view(now)?;
                let t = if p.by_created {
                    o.created
                } else {
                    v.last_updated
                };
                if t < p.after || t > before {
                    return None;
                }
                if !p.statuses.is_empty() && !p.statuses.iter().any(|s| s == v.status.as_str()) {
                    return None;
                }
                if !p.marketplaces.is_empty() && !p.marketplaces.contains(&o.marketplace_id) {
                    return None;
                }
                let fb = o.base["fulfillment"]["fulfilledBy"]
                    .as_str()
                    .unwrap_or("MERCHANT");
                if !p.fulfilled_by.is_empty() && !p.fulfilled_by.iter().any(|f| f == fb) {
                    return None;
                }
                Some((t, o.id.clone()))
            })
            .collect();
        hits.sort();
        (hits.into_iter().map(|(_, id)| id).collect(), 0, before)
    };
    let end = offset.saturating_add(p.max).min(ids.len());
    let roles = st.roles;
    let orders: Vec<Value> = ids
        .get(offset..end)
        .unwrap_or(&[])
        .iter()
        .filter_map(|id| st.orders.get(id)?.render(now, p.included, roles))
        .collect();
    let mut body = Map::new();
    body.insert("orders".into(), Value::Array(orders));
    if end < ids.len() {
        let token = st.orders.new_token(ctx.seed);
        st.orders
            .tokens
            .retain(|_, t| now - t.issued <= PAGE_TOKEN_LIFETIME);
        st.orders.tokens.insert(
            token.clone(),
            PageToken {
                fingerprint,
                ids,
                offset: end,
                before,
                issued: now,
            },
        );
        body.insert("pagination".into(), json!({ "nextToken": token }));
    }
    let key = if p.by_created {
        "createdBefore"
    } else {
        "lastUpdatedBefore"
    };
    body.insert(key.into(), Value::String(fmt(before)));
    Response::json(200, &Value::Object(body))
}

fn looks_like_order_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 3
        && [3, 7, 7]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit()))
}

fn not_found(what: &str) -> Response {
    sp_error(404, "NotFound", what, None)
}

/// `GET /orders/2026-01-01/orders/{orderId}`.
pub(crate) fn get(st: &State, req: &Request, ctx: &Ctx<'_>) -> Response {
    let id = path_segment(req, 3);
    let inc = match Included::parse(&req.query_list("includedData").unwrap_or_default()) {
        Ok(i) => i,
        Err(msg) => return invalid_input(&msg),
    };
    match st
        .orders
        .get(&id)
        .and_then(|o| o.render(ctx.now, inc, st.roles))
    {
        Some(order) => Response::json(200, &json!({ "order": order })),
        None if !looks_like_order_id(&id) => invalid_input(&format!("Invalid orderId '{id}'.")),
        None => not_found(&format!("Order {id} was not found.")),
    }
}

/// A validated `packageDetail.orderItems` list, summed per item id.
fn confirm_items(detail: &Value, rec: &OrderRec) -> Result<Vec<(String, i64)>, String> {
    let Some(items) = detail.get("orderItems").and_then(Value::as_array) else {
        return Err("packageDetail.orderItems is required and must be a list.".into());
    };
    if items.is_empty() {
        return Err("packageDetail.orderItems must not be empty.".into());
    }
    let ordered = item_quantities(&rec.base);
    let mut out: Vec<(String, i64)> = Vec::new();
    for it in items {
        let Some(id) = it.get("orderItemId").and_then(Value::as_str) else {
            return Err("Each orderItems entry needs an orderItemId string.".into());
        };
        if !ordered.iter().any(|(o, _)| o == id) {
            return Err(format!(
                "orderItemId {id} does not belong to order {}.",
                rec.id
            ));
        }
        let Some(q) = it
            .get("quantity")
            .and_then(Value::as_i64)
            .filter(|q| *q >= 1)
        else {
            return Err(format!(
                "quantity of orderItemId {id} must be a positive integer."
            ));
        };
        if let Some(codes) = it.get("transparencyCodes")
            && !codes
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_string))
        {
            return Err("transparencyCodes must be a list of strings.".into());
        }
        match out.iter_mut().find(|(o, _)| o == id) {
            Some(e) => e.1 += q,
            None => out.push((id.to_owned(), q)),
        }
    }
    Ok(out)
}

fn nonempty_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// `POST /orders/v0/orders/{orderId}/shipmentConfirmation`.
pub(crate) fn confirm(st: &mut State, req: &Request, ctx: &Ctx<'_>) -> Response {
    let now = ctx.now;
    let id = path_segment(req, 3);
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return invalid_input("The request body is not valid JSON.");
    };
    if !body.is_object() {
        return invalid_input("The request body must be a JSON object.");
    }
    let Some(rec) = st.orders.get(&id) else {
        return if looks_like_order_id(&id) {
            not_found(&format!("Order {id} was not found."))
        } else {
            invalid_input(&format!("Invalid orderId '{id}'."))
        };
    };
    let Some(view) = rec.view(now) else {
        return not_found(&format!("Order {id} was not found."));
    };
    let Some(mkt) = nonempty_str(&body, "marketplaceId") else {
        return invalid_input("marketplaceId is required.");
    };
    if mkt != rec.marketplace_id {
        return invalid_input(&format!(
            "marketplaceId {mkt} does not match the marketplace of order {id}."
        ));
    }
    let Some(detail) = body.get("packageDetail").filter(|d| d.is_object()) else {
        return invalid_input("packageDetail is required.");
    };
    let reference = match detail.get("packageReferenceId") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(_)) => {
            return invalid_input(
                "packageReferenceId must be a string holding a positive integer, not a number.",
            );
        }
        _ => return invalid_input("packageDetail.packageReferenceId is required."),
    };
    let positive = !reference.is_empty()
        && reference.bytes().all(|b| b.is_ascii_digit())
        && reference.bytes().any(|b| b != b'0');
    if !positive {
        return invalid_input(&format!(
            "packageReferenceId '{reference}' is not a positive integer."
        ));
    }
    let Some(carrier_code) = nonempty_str(detail, "carrierCode") else {
        return invalid_input("packageDetail.carrierCode is required.");
    };
    let carrier_name = nonempty_str(detail, "carrierName");
    if carrier_code == "Other" && carrier_name.is_none() {
        return invalid_input("carrierName is required when carrierCode is Other.");
    }
    let Some(tracking) = nonempty_str(detail, "trackingNumber") else {
        return invalid_input("packageDetail.trackingNumber is required.");
    };
    let Some(ship_raw) = nonempty_str(detail, "shipDate") else {
        return invalid_input("packageDetail.shipDate is required.");
    };
    let Some(ship_date) = parse(ship_raw) else {
        return invalid_input(&format!(
            "shipDate '{ship_raw}' is not an ISO 8601 date-time."
        ));
    };
    if ship_date < rec.created {
        return invalid_input("shipDate cannot be before the order was placed.");
    }
    let items = match confirm_items(detail, rec) {
        Ok(i) => i,
        Err(msg) => return invalid_input(&msg),
    };
    // Same package again: idempotent when identical, refused when different.
    let previous = rec.changes.iter().find_map(|c| match c {
        Change::Package {
            confirmation: Some(prev),
            package,
            ..
        } if package["packageReferenceId"].as_str() == Some(reference.as_str()) => Some(prev),
        _ => None,
    });
    if let Some(prev) = previous {
        return if *prev == body {
            Response::empty(204)
        } else {
            invalid_input(&format!(
                "packageReferenceId {reference} was already confirmed for order {id} with different data."
            ))
        };
    }
    match view.status {
        Status::Cancelled => {
            return invalid_input(&format!(
                "Order {id} has been cancelled and cannot be shipped."
            ));
        }
        s if s.is_pending() => {
            return invalid_input(&format!("Order {id} is pending and cannot be shipped yet."));
        }
        _ => {}
    }
    for (item_id, q) in &items {
        let ordered = item_quantities(&rec.base)
            .into_iter()
            .find(|(i, _)| i == item_id)
            .map_or(0, |(_, q)| q);
        let done = view.shipped.get(item_id).copied().unwrap_or(0);
        if done + q > ordered {
            return invalid_input(&format!(
                "quantity {q} for orderItemId {item_id} exceeds the {} unit(s) left to ship.",
                ordered - done
            ));
        }
    }
    let carrier = if carrier_code == "Other" {
        carrier_name.unwrap_or(carrier_code)
    } else {
        carrier_code
    };
    let mut package = json!({
        "packageReferenceId": reference,
        "createdTime": fmt(now),
        "packageStatus": { "status": "SHIPPED" },
        "carrier": carrier,
        "trackingNumber": tracking,
        "shipTime": fmt(ship_date),
        "packageItems": items.iter().map(|(i, q)| json!({ "orderItemId": i, "quantity": q })).collect::<Vec<_>>(),
    });
    if let (Some(m), Some(obj)) = (
        nonempty_str(detail, "shippingMethod"),
        package.as_object_mut(),
    ) {
        obj.insert("shippingService".into(), Value::String(m.to_owned()));
    }
    st.orders.shipments.push(json!({
        "orderId": id,
        "marketplaceId": mkt,
        "packageDetail": detail.clone(),
        "confirmedAt": fmt(now),
    }));
    if let Some(rec) = st.orders.get_mut(&id) {
        rec.add_change(Change::Package {
            at: now,
            package,
            items,
            confirmation: Some(body),
        });
    }
    Response::empty(204)
}
