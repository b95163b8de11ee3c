//! Feeds API 2021-06-30 for VAT invoice upload (`UPLOAD_VAT_INVOICE`), with the pre-signed
//! upload and download URLs that Amazon serves from S3, here served by the sandbox itself.
//!
//! Flow: createFeedDocument → 201 `{feedDocumentId, url}` (url = `/_upload/{id}?…`, valid 5 min
//! of sandbox time) → PUT the PDF there (Content-Type must equal the declared contentType, body
//! must start with `%PDF`) → createFeed → 202 `{feedId}` → getFeed moves IN_QUEUE → IN_PROGRESS
//! → DONE (or FATAL) over successive polls → getFeedDocument → url of a tab-separated
//! processing report. The report is decided when the feed is created and checks what Amazon
//! checks: required metadata, known order, marketplace taking uploads (not BE/IE), totals equal
//! to the order's own figures to the cent, invoice number not used before by the seller.
//!
//! Error codes in reports: 79513 is Amazon's code for missing or mismatching metadata; the
//! others (79511 unknown order, 79520 duplicate invoice number, 79530 marketplace without
//! uploads, 79540 document problem) are the sandbox's own labels, chosen to look alike.
//! Uploaded documents are kept in memory for inspection (`Sandbox::uploaded_feeds`).

use crate::sandbox::clock::fmt;
use crate::sandbox::orders::Status;
use crate::sandbox::rng::Rng;
use crate::sandbox::{
    Ctx, Request, Response, State, invalid_input, path_segment, s3_error, sp_error, unauthorized,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use time::{Duration, OffsetDateTime};

/// Lifetime of a pre-signed URL.
const URL_LIFETIME: Duration = Duration::minutes(5);

/// Marketplaces whose ids do not take UPLOAD_VAT_INVOICE (NOTES.md §4): BE, IE.
const NO_UPLOAD_MARKETPLACES: [&str; 2] = ["AMEN7PMS3EDWL", "A28R8C7NBKEWEA"];

#[derive(Debug, Clone)]
struct Doc {
    content_type: String,
    content: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
struct Grant {
    doc_id: String,
    expires: OffsetDateTime,
    upload: bool,
}

#[derive(Debug, Clone)]
#[allow(clippy::struct_field_names)]
struct Feed {
    id: String,
    feed_type: String,
    marketplace_ids: Vec<String>,
    input_doc: String,
    options: BTreeMap<String, String>,
    created: OffsetDateTime,
    polls: u32,
    final_status: &'static str,
    started: Option<OffsetDateTime>,
    ended: Option<OffsetDateTime>,
    result_doc: Option<String>,
    report: String,
    accepted: bool,
    document: Vec<u8>,
    content_type: String,
}

impl Feed {
    fn status(&self) -> &'static str {
        match self.polls {
            0 | 1 => "IN_QUEUE",
            2 => "IN_PROGRESS",
            _ => self.final_status,
        }
    }
}

/// A feed as the sandbox received it, for inspection by tests and demos.
#[derive(Debug, Clone)]
pub struct UploadedFeed {
    pub feed_id: String,
    pub feed_type: String,
    pub marketplace_ids: Vec<String>,
    pub feed_options: BTreeMap<String, String>,
    pub document_id: String,
    pub content_type: String,
    /// The uploaded bytes (empty if nothing was uploaded).
    pub document: Vec<u8>,
    /// IN_QUEUE, IN_PROGRESS, DONE or FATAL, as the last getFeed showed it.
    pub processing_status: String,
    /// The processing report the feed has (or will have once DONE).
    pub report: String,
    /// True when the report has no errors.
    pub accepted: bool,
    pub created: OffsetDateTime,
}

impl UploadedFeed {
    pub(crate) fn summary(&self) -> Value {
        json!({
            "feedId": self.feed_id,
            "feedType": self.feed_type,
            "marketplaceIds": self.marketplace_ids,
            "feedOptions": self.feed_options,
            "documentId": self.document_id,
            "contentType": self.content_type,
            "documentBytes": self.document.len(),
            "processingStatus": self.processing_status,
            "accepted": self.accepted,
            "report": self.report,
            "createdTime": fmt(self.created),
        })
    }
}

#[derive(Debug)]
pub(crate) struct FeedsState {
    rng: Rng,
    docs: HashMap<String, Doc>,
    grants: HashMap<String, Grant>,
    feeds: Vec<Feed>,
    invoice_numbers: HashSet<String>,
}

impl FeedsState {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: Rng::derived(seed, "feeds", 0),
            docs: HashMap::new(),
            grants: HashMap::new(),
            feeds: Vec::new(),
            invoice_numbers: HashSet::new(),
        }
    }

    pub(crate) fn uploaded(&self) -> Vec<UploadedFeed> {
        self.feeds
            .iter()
            .map(|f| UploadedFeed {
                feed_id: f.id.clone(),
                feed_type: f.feed_type.clone(),
                marketplace_ids: f.marketplace_ids.clone(),
                feed_options: f.options.clone(),
                document_id: f.input_doc.clone(),
                content_type: f.content_type.clone(),
                document: f.document.clone(),
                processing_status: f.status().to_owned(),
                report: f.report.clone(),
                accepted: f.accepted,
                created: f.created,
            })
            .collect()
    }

    fn new_doc_id(&mut self) -> String {
        format!(
            "amzn1.tortuga.4.eu.{}.T{}",
            self.rng.uuid(),
            self.rng.alnum_upper(13)
        )
    }

    /// A pre-signed URL for one document.
    fn presign(&mut self, base: &str, doc_id: &str, now: OffsetDateTime, upload: bool) -> String {
        let sig = format!(
            "{:016x}{:016x}{:016x}",
            self.rng.next_u64(),
            self.rng.next_u64(),
            self.rng.next_u64()
        );
        self.grants
            .retain(|_, g| now - g.expires < Duration::hours(1));
        self.grants.insert(
            sig.clone(),
            Grant {
                doc_id: doc_id.to_owned(),
                expires: now + URL_LIFETIME,
                upload,
            },
        );
        let date = now
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_default();
        let kind = if upload { "_upload" } else { "_download" };
        format!(
            "{base}/{kind}/{doc_id}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={date}&X-Amz-Expires=300&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature={sig}"
        )
    }

    fn grant(&self, req: &Request, upload: bool, now: OffsetDateTime) -> Result<String, Response> {
        let id = path_segment(req, 1);
        let sig = req.query_param("X-Amz-Signature").unwrap_or("");
        match self.grants.get(sig) {
            Some(g) if g.doc_id == id && g.upload == upload => {
                if now > g.expires {
                    Err(s3_error(403, "AccessDenied", "Request has expired"))
                } else {
                    Ok(id)
                }
            }
            _ => Err(s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )),
        }
    }
}

fn body_object(req: &Request) -> Result<serde_json::Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(invalid_input("The request body must be a JSON object.")),
        Err(_) => Err(invalid_input("The request body is not valid JSON.")),
    }
}

/// `POST /feeds/2021-06-30/documents`.
pub(crate) fn create_document(st: &mut State, req: &Request, ctx: &Ctx<'_>) -> Response {
    let body = match body_object(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(ct) = body
        .get("contentType")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
    else {
        return invalid_input("contentType is required.");
    };
    let id = st.feeds.new_doc_id();
    st.feeds.docs.insert(
        id.clone(),
        Doc {
            content_type: ct.to_owned(),
            content: None,
        },
    );
    let url = st.feeds.presign(ctx.base_url, &id, ctx.now, true);
    Response::json(201, &json!({ "feedDocumentId": id, "url": url }))
}

/// `PUT /_upload/{id}` (the pre-signed upload URL).
pub(crate) fn put_upload(st: &mut State, req: &Request, ctx: &Ctx<'_>) -> Response {
    let id = match st.feeds.grant(req, true, ctx.now) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let Some(doc) = st.feeds.docs.get_mut(&id) else {
        return s3_error(404, "NoSuchKey", "The specified key does not exist.");
    };
    let sent = req.header("content-type").unwrap_or("").trim();
    if sent != doc.content_type.trim() {
        return s3_error(
            403,
            "SignatureDoesNotMatch",
            "The Content-Type of the upload differs from the contentType given to createFeedDocument.",
        );
    }
    if req.body.is_empty() {
        return s3_error(400, "MissingContent", "The upload body is empty.");
    }
    if doc.content_type.to_ascii_lowercase().contains("pdf") && !req.body.starts_with(b"%PDF") {
        return s3_error(
            400,
            "InvalidContent",
            "The upload declared as PDF does not start with %PDF.",
        );
    }
    doc.content = Some(req.body.clone());
    let etag = format!(
        "\"{:016x}\"",
        crate::sandbox::rng::mix(req.body.len() as u64)
    );
    Response::empty(200).with_header("ETag", &etag)
}

/// `GET /_download/{id}` (the pre-signed download URL).
pub(crate) fn get_download(st: &State, req: &Request, ctx: &Ctx<'_>) -> Response {
    let id = match st.feeds.grant(req, false, ctx.now) {
        Ok(id) => id,
        Err(r) => return r,
    };
    match st.feeds.docs.get(&id) {
        Some(Doc {
            content: Some(bytes),
            content_type,
        }) => Response::text(200, content_type, bytes.clone()),
        _ => s3_error(404, "NoSuchKey", "The specified key does not exist."),
    }
}

/// One report row.
struct ReportError {
    code: u32,
    message: String,
}

fn decimal_2dp(s: &str) -> Option<Decimal> {
    let d: Decimal = s.trim().parse().ok()?;
    (d.scale() <= 2).then_some(d)
}

/// Decides what Amazon would say about this invoice upload.
fn evaluate(
    st: &State,
    marketplaces: &[String],
    options: &BTreeMap<String, String>,
    doc: &Doc,
    now: OffsetDateTime,
) -> (Vec<ReportError>, bool) {
    let mut errors = Vec::new();
    let Some(content) = &doc.content else {
        errors.push(ReportError {
            code: 79540,
            message: "The feed document was never uploaded.".into(),
        });
        return (errors, true);
    };
    if !content.starts_with(b"%PDF") {
        errors.push(ReportError {
            code: 79540,
            message: "The feed document is not a PDF.".into(),
        });
        return (errors, true);
    }
    if marketplaces.len() != 1 {
        errors.push(ReportError {
            code: 79513,
            message: "An invoice upload must name exactly one marketplace.".into(),
        });
    }
    for m in marketplaces {
        if NO_UPLOAD_MARKETPLACES.contains(&m.as_str()) {
            errors.push(ReportError {
                code: 79530,
                message: format!("Invoice upload is not available in marketplace {m}."),
            });
        }
    }
    // Option keys are matched without regard to case (Amazon's docs and clients differ).
    let opt = |k: &str| {
        options
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let doc_type = opt("metadata:documenttype").unwrap_or("Invoice");
    if doc_type != "Invoice" && doc_type != "CreditNote" {
        errors.push(ReportError {
            code: 79513,
            message: format!("metadata:documenttype '{doc_type}' must be Invoice or CreditNote."),
        });
    }
    let mut missing = Vec::new();
    let order_id = opt("metadata:orderid");
    if order_id.is_none() {
        missing.push(if opt("metadata:shippingid").is_some() {
            "metadata:orderid (shipping ids are not simulated)"
        } else {
            "metadata:orderid"
        });
    }
    let invoice_number = opt("metadata:invoicenumber");
    if invoice_number.is_none() {
        missing.push("metadata:invoicenumber");
    }
    let total = opt("metadata:totalamount");
    let vat = opt("metadata:totalvatamount");
    if total.is_none() {
        missing.push("metadata:totalamount");
    }
    if vat.is_none() {
        missing.push("metadata:totalvatamount");
    }
    if doc_type == "CreditNote" && opt("metadata:transactionid").is_none() {
        missing.push("metadata:transactionid");
    }
    if !missing.is_empty() {
        errors.push(ReportError {
            code: 79513,
            message: format!("Missing required metadata: {}.", missing.join(", ")),
        });
    }
    if let Some(oid) = order_id {
        match st.orders.get(oid).and_then(|o| Some((o, o.view(now)?))) {
            None => errors.push(ReportError {
                code: 79511,
                message: format!("Order {oid} was not found for this seller."),
            }),
            Some((rec, view)) => {
                if let [m] = marketplaces
                    && *m != rec.marketplace_id
                {
                    errors.push(ReportError {
                        code: 79513,
                        message: format!(
                            "Order {oid} belongs to marketplace {}, not {m}.",
                            rec.marketplace_id
                        ),
                    });
                }
                if view.status == Status::Pending || view.status == Status::PendingAvailability {
                    errors.push(ReportError {
                        code: 79513,
                        message: format!("Order {oid} is pending and has no totals yet."),
                    });
                } else if let Some(full) = st.orders.full(oid, now) {
                    check_totals(&full, doc_type, total, vat, &mut errors);
                }
            }
        }
    }
    if let Some(num) = invoice_number
        && st.feeds.invoice_numbers.contains(num)
    {
        errors.push(ReportError {
            code: 79520,
            message: format!(
                "Invoice number {num} was already used for another document of this seller."
            ),
        });
    }
    (errors, false)
}

fn check_totals(
    order: &Value,
    doc_type: &str,
    total: Option<&str>,
    vat: Option<&str>,
    errors: &mut Vec<ReportError>,
) {
    let amount = |v: &Value| v["amount"].as_str().and_then(|s| s.parse::<Decimal>().ok());
    let order_total = amount(&order["proceeds"]["grandTotal"]);
    let order_vat = order["proceeds"]["breakdowns"].as_array().and_then(|b| {
        b.iter()
            .find(|x| x["type"] == "TAX")
            .and_then(|x| amount(&x["subtotal"]))
    });
    for (name, given, expected) in [
        ("metadata:totalamount", total, order_total),
        ("metadata:totalvatamount", vat, order_vat),
    ] {
        let (Some(given), Some(expected)) = (given, expected) else {
            continue;
        };
        let Some(g) = decimal_2dp(given) else {
            errors.push(ReportError {
                code: 79513,
                message: format!("{name} '{given}' is not an amount with at most two decimals."),
            });
            continue;
        };
        let ok = if doc_type == "CreditNote" {
            g.abs() <= expected.abs()
        } else {
            g == expected
        };
        if !ok {
            errors.push(ReportError {
                code: 79513,
                message: format!("{name} {given} does not match the order's figure {expected:.2}."),
            });
        }
    }
}

fn report_text(order: &str, invoice: &str, errors: &[ReportError]) -> String {
    let ok = usize::from(errors.is_empty());
    let mut s = format!(
        "Feed Processing Summary:\n\tNumber of records processed\t\t1\n\tNumber of records successful\t\t{ok}\n\n"
    );
    if !errors.is_empty() {
        s.push_str("original-record-number\torder-id\tinvoice-number\terror-code\terror-type\terror-message\n");
        for e in errors {
            let _ = writeln!(s, "1\t{order}\t{invoice}\t{}\tError\t{}", e.code, e.message);
        }
    }
    s
}

/// `POST /feeds/2021-06-30/feeds`.
pub(crate) fn create_feed(st: &mut State, req: &Request, ctx: &Ctx<'_>) -> Response {
    let body = match body_object(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(feed_type) = body
        .get("feedType")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return invalid_input("feedType is required.");
    };
    let marketplaces: Option<Vec<String>> = body
        .get("marketplaceIds")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        });
    let Some(marketplaces) = marketplaces.filter(|m| {
        (1..=25).contains(&m.len())
            && body["marketplaceIds"]
                .as_array()
                .is_some_and(|a| a.len() == m.len())
    }) else {
        return invalid_input("marketplaceIds must be a list of 1 to 25 marketplace id strings.");
    };
    let Some(doc_id) = body
        .get("inputFeedDocumentId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return invalid_input("inputFeedDocumentId is required.");
    };
    let mut options = BTreeMap::new();
    match body.get("feedOptions") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let Some(v) = v.as_str() else {
                    return invalid_input(&format!("feedOptions value of '{k}' must be a string."));
                };
                options.insert(k.clone(), v.to_owned());
            }
        }
        Some(_) => return invalid_input("feedOptions must be an object of string values."),
    }
    if feed_type != "UPLOAD_VAT_INVOICE" {
        return invalid_input(&format!(
            "feedType {feed_type} is not simulated by the sandbox (only UPLOAD_VAT_INVOICE)."
        ));
    }
    if !st.roles.tax_invoicing {
        return unauthorized("The application lacks the Tax Invoicing (Restricted) role.");
    }
    let Some(doc) = st.feeds.docs.get(doc_id).cloned() else {
        return invalid_input(&format!("inputFeedDocumentId {doc_id} does not exist."));
    };
    let (errors, fatal) = evaluate(st, &marketplaces, &options, &doc, ctx.now);
    let opt = |k: &str| {
        options
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map_or("", |(_, v)| v.as_str())
    };
    let order = opt("metadata:orderid").to_owned();
    let invoice = opt("metadata:invoicenumber").to_owned();
    let accepted = errors.is_empty();
    if accepted {
        st.feeds.invoice_numbers.insert(invoice.clone());
    }
    let n = st.feeds.feeds.len() as u64 + 1;
    let id = format!("{}", 50_120_000_000_u64 + n * 37);
    st.feeds.feeds.push(Feed {
        id: id.clone(),
        feed_type: feed_type.to_owned(),
        marketplace_ids: marketplaces,
        input_doc: doc_id.to_owned(),
        options,
        created: ctx.now,
        polls: 0,
        final_status: if fatal { "FATAL" } else { "DONE" },
        started: None,
        ended: None,
        result_doc: None,
        report: report_text(&order, &invoice, &errors),
        accepted,
        document: doc.content.clone().unwrap_or_default(),
        content_type: doc.content_type.clone(),
    });
    Response::json(202, &json!({ "feedId": id }))
}

/// `GET /feeds/2021-06-30/feeds/{feedId}`: each poll moves the feed one step on.
/// Sandbox time after which a feed is done at its next poll (before that, it moves
/// one step per poll: IN_QUEUE, IN_QUEUE, IN_PROGRESS, DONE).
const PROCESSING_TIME: time::Duration = time::Duration::minutes(15);

pub(crate) fn get_feed(st: &mut State, req: &Request, ctx: &Ctx<'_>) -> Response {
    let id = path_segment(req, 3);
    let Some(pos) = st.feeds.feeds.iter().position(|f| f.id == id) else {
        return sp_error(404, "NotFound", &format!("Feed {id} was not found."), None);
    };
    let now = ctx.now;
    let needs_doc = {
        let f = &mut st.feeds.feeds[pos];
        // Amazon finishes a feed in minutes whether anyone asks or not: one polled
        // again after PROCESSING_TIME of sandbox time is done, however few polls it saw.
        if now - f.created >= PROCESSING_TIME {
            f.polls = f.polls.max(2);
        }
        f.polls = f.polls.saturating_add(1);
        if f.polls == 2 {
            f.started = Some(now);
        }
        f.polls >= 3 && f.result_doc.is_none()
    };
    if needs_doc {
        let doc_id = st.feeds.new_doc_id();
        let report = st.feeds.feeds[pos].report.clone();
        st.feeds.docs.insert(
            doc_id.clone(),
            Doc {
                content_type: "text/tab-separated-values; charset=UTF-8".into(),
                content: Some(report.into_bytes()),
            },
        );
        let f = &mut st.feeds.feeds[pos];
        f.ended = Some(now);
        f.started.get_or_insert(now);
        f.result_doc = Some(doc_id);
    }
    let f = &st.feeds.feeds[pos];
    let mut out = json!({
        "feedId": f.id,
        "feedType": f.feed_type,
        "marketplaceIds": f.marketplace_ids,
        "createdTime": fmt(f.created),
        "processingStatus": f.status(),
    });
    if let Some(t) = f.started {
        out["processingStartTime"] = json!(fmt(t));
    }
    if f.polls >= 3 {
        if let Some(t) = f.ended {
            out["processingEndTime"] = json!(fmt(t));
        }
        if let Some(d) = &f.result_doc {
            out["resultFeedDocumentId"] = json!(d);
        }
    }
    Response::json(200, &out)
}

/// `GET /feeds/2021-06-30/documents/{feedDocumentId}`.
pub(crate) fn get_feed_document(st: &mut State, req: &Request, ctx: &Ctx<'_>) -> Response {
    let id = path_segment(req, 3);
    if !st.feeds.docs.contains_key(&id) {
        return sp_error(
            404,
            "NotFound",
            &format!("Feed document {id} was not found."),
            None,
        );
    }
    let url = st.feeds.presign(ctx.base_url, &id, ctx.now, false);
    Response::json(200, &json!({ "feedDocumentId": id, "url": url }))
}
