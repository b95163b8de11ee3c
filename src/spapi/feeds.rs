//! Feeds API 2021-06-30 for `UPLOAD_VAT_INVOICE` (NOTES.md §9, PITFALLS.md #9).
//!
//! createFeedDocument gives a pre-signed URL; the PDF is PUT there with exactly the declared
//! Content-Type and no SP-API headers (the URL belongs to S3, not to the SP-API, and the
//! access token must not travel to it); createFeed names the document and carries the
//! invoice's metadata as `feedOptions`; getFeed is polled until DONE, CANCELLED or FATAL;
//! getFeedDocument gives the URL of the processing report, which is the only place that
//! says whether the invoice was accepted.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use super::{Call, Client, Method, Operation, SpapiError, transport_detail};

pub const DOCUMENTS_PATH: &str = "/feeds/2021-06-30/documents";
pub const FEEDS_PATH: &str = "/feeds/2021-06-30/feeds";
pub const VAT_INVOICE_FEED: &str = "UPLOAD_VAT_INVOICE";
pub const PDF: &str = "application/pdf";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedDocument {
    pub feed_document_id: String,
    pub url: String,
    pub compression_algorithm: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatedFeed {
    feed_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Feed {
    pub processing_status: String,
    pub result_feed_document_id: Option<String>,
}

impl Feed {
    /// DONE, CANCELLED and FATAL are final.
    pub fn is_final(&self) -> bool {
        matches!(
            self.processing_status.as_str(),
            "DONE" | "CANCELLED" | "FATAL"
        )
    }
}

/// createFeedDocument: where to upload a document of `content_type`.
pub fn create_document(
    client: &Client<'_>,
    content_type: &str,
) -> Result<FeedDocument, SpapiError> {
    let body = json!({ "contentType": content_type });
    client
        .call_json(&Call {
            op: Operation::CreateFeedDocument,
            method: Method::Post,
            path: DOCUMENTS_PATH.to_string(),
            query: &[],
            body: Some(&body),
        })
        .map(|(d, _)| d)
}

/// createFeed: an `UPLOAD_VAT_INVOICE` feed for one marketplace and one uploaded document.
pub fn create_feed(
    client: &Client<'_>,
    marketplace_id: &str,
    document_id: &str,
    options: &BTreeMap<String, String>,
) -> Result<String, SpapiError> {
    let body = json!({
        "feedType": VAT_INVOICE_FEED,
        "marketplaceIds": [marketplace_id],
        "inputFeedDocumentId": document_id,
        "feedOptions": options,
    });
    client
        .call_json::<CreatedFeed>(&Call {
            op: Operation::CreateFeed,
            method: Method::Post,
            path: FEEDS_PATH.to_string(),
            query: &[],
            body: Some(&body),
        })
        .map(|(f, _)| f.feed_id)
}

/// getFeed.
pub fn get_feed(client: &Client<'_>, feed_id: &str) -> Result<Feed, SpapiError> {
    client
        .call_json(&Call {
            op: Operation::GetFeed,
            method: Method::Get,
            path: format!("{FEEDS_PATH}/{}", path_safe(feed_id)),
            query: &[],
            body: None,
        })
        .map(|(f, _)| f)
}

/// getFeedDocument: where to download a result document.
pub fn get_document(client: &Client<'_>, document_id: &str) -> Result<FeedDocument, SpapiError> {
    client
        .call_json(&Call {
            op: Operation::GetFeedDocument,
            method: Method::Get,
            path: format!("{DOCUMENTS_PATH}/{}", path_safe(document_id)),
            query: &[],
            body: None,
        })
        .map(|(d, _)| d)
}

/// Ids come from Amazon; keep anything that could change the path out of it.
fn path_safe(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect()
}

/// A failed transfer to or from a pre-signed URL.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransferError {
    #[error("the pre-signed URL breaks the transport rule: {0}")]
    Url(String),
    #[error("network error: {0}")]
    Network(String),
    #[error(transparent)]
    Tls(crate::transport::TlsError),
    #[error("the storage answered HTTP {0}")]
    Status(u16),
    #[error("the report could not be decompressed")]
    Compression,
}

impl TransferError {
    /// Worth trying again on a later run (network trouble, 5xx, an expired URL).
    pub fn is_temporary(&self) -> bool {
        match self {
            TransferError::Network(_) => true,
            TransferError::Status(s) => *s >= 500 || *s == 403 || *s == 408 || *s == 429,
            TransferError::Url(_) | TransferError::Tls(_) | TransferError::Compression => false,
        }
    }
}

/// A failed exchange with the storage behind a pre-signed URL: a TLS refusal (which
/// must stop the run, as for the SP-API itself) or network trouble (a later run retries).
fn transfer_error(e: &reqwest::Error, op: &'static str) -> TransferError {
    match crate::transport::tls_refusal(e) {
        Some(refusal) => TransferError::Tls(crate::transport::TlsError { op, refusal }),
        None => TransferError::Network(transport_detail(e)),
    }
}

/// The pre-signed URL's address without its query (the signature stays out of logs).
fn url_path(url: &str) -> String {
    url.split('?').next().unwrap_or("").to_string()
}

/// PUTs `bytes` to a pre-signed upload URL with `content_type` (identical to the one given
/// to createFeedDocument). No SP-API token or other header goes along.
pub fn put_document(
    http: &reqwest::blocking::Client,
    url: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<(), TransferError> {
    crate::transport::check_endpoint(url).map_err(|e| TransferError::Url(e.to_string()))?;
    let resp = http
        .put(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(bytes)
        .send()
        .map_err(|e| transfer_error(&e, "document upload"))?;
    let status = resp.status().as_u16();
    tracing::debug!(url = %url_path(url), status, "document upload");
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(TransferError::Status(status))
    }
}

/// GETs a result document from its pre-signed URL, inflating it if Amazon gzipped it.
pub fn download(
    http: &reqwest::blocking::Client,
    doc: &FeedDocument,
) -> Result<Vec<u8>, TransferError> {
    crate::transport::check_endpoint(&doc.url).map_err(|e| TransferError::Url(e.to_string()))?;
    let resp = http
        .get(&doc.url)
        .send()
        .map_err(|e| transfer_error(&e, "report download"))?;
    let status = resp.status().as_u16();
    tracing::debug!(url = %url_path(&doc.url), status, "report download");
    if !(200..300).contains(&status) {
        return Err(TransferError::Status(status));
    }
    let body = resp
        .bytes()
        .map_err(|e| TransferError::Network(transport_detail(&e)))?
        .to_vec();
    if doc
        .compression_algorithm
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case("GZIP"))
    {
        gunzip(&body).ok_or(TransferError::Compression)
    } else {
        Ok(body)
    }
}

/// Inflates a gzip member (RFC 1952): header, optional fields, raw deflate data.
pub(crate) fn gunzip(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 18 || data[0] != 0x1f || data[1] != 0x8b || data[2] != 8 {
        return None;
    }
    let flags = data[3];
    let mut pos = 10;
    if flags & 0x04 != 0 {
        let len = usize::from(u16::from_le_bytes([*data.get(pos)?, *data.get(pos + 1)?]));
        pos += 2 + len;
    }
    for bit in [0x08, 0x10] {
        if flags & bit != 0 {
            pos += data.get(pos..)?.iter().position(|b| *b == 0)? + 1;
        }
    }
    if flags & 0x02 != 0 {
        pos += 2;
    }
    miniz_oxide::inflate::decompress_to_vec_with_limit(data.get(pos..)?, 64 * 1024 * 1024).ok()
}

/// What a processing report says about the one document of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub processed: Option<u32>,
    pub successful: Option<u32>,
    /// (error code, message) of every row whose type is Error.
    pub errors: Vec<(String, String)>,
}

impl Report {
    pub fn accepted(&self) -> bool {
        self.errors.is_empty() && self.successful.is_none_or(|n| n > 0)
    }
}

/// Reads Amazon's text processing report: the summary counts and the error table
/// (`error-code`, `error-type`, `error-message` columns, found by their header).
/// Messages are shortened to 300 characters.
pub fn parse_report(text: &str) -> Report {
    let count = |label: &str| {
        text.lines()
            .find(|l| l.to_ascii_lowercase().contains(label))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|n| n.parse().ok())
    };
    let mut errors = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for line in text.lines() {
        let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
        if header.is_none() {
            if cells.iter().any(|c| c.eq_ignore_ascii_case("error-code")) {
                header = Some(cells.iter().map(|c| c.to_ascii_lowercase()).collect());
            }
            continue;
        }
        let Some(h) = &header else { continue };
        let col = |name: &str| {
            h.iter()
                .position(|c| c == name)
                .and_then(|i| cells.get(i))
                .copied()
                .unwrap_or("")
        };
        let code = col("error-code");
        if code.is_empty() {
            continue;
        }
        if col("error-type").eq_ignore_ascii_case("warning") {
            continue;
        }
        let message: String = col("error-message")
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        errors.push((code.to_string(), message));
    }
    let successful = count("records successful");
    if errors.is_empty() && successful == Some(0) {
        errors.push((
            "unknown".to_string(),
            "the report counts no successful record and names no error".to_string(),
        ));
    }
    Report {
        processed: count("records processed"),
        successful,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_with_and_without_errors() {
        let ok = "Feed Processing Summary:\n\tNumber of records processed\t\t1\n\tNumber of records successful\t\t1\n\n";
        let r = parse_report(ok);
        assert_eq!((r.processed, r.successful), (Some(1), Some(1)));
        assert!(r.accepted());
        let bad = "Feed Processing Summary:\n\tNumber of records processed\t\t1\n\tNumber of records successful\t\t0\n\n\
                   original-record-number\torder-id\tinvoice-number\terror-code\terror-type\terror-message\n\
                   1\t028-1\tINV-2026-000001\t79513\tError\tmetadata:totalamount 24.19 does not match the order's figure 24.20.\n\
                   1\t028-1\tINV-2026-000001\t90001\tWarning\tjust a note\n";
        let r = parse_report(bad);
        assert!(!r.accepted());
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].0, "79513");
        assert!(r.errors[0].1.starts_with("metadata:totalamount 24.19"));
        let silent = "Number of records processed\t1\nNumber of records successful\t0\n";
        assert_eq!(parse_report(silent).errors[0].0, "unknown");
    }

    #[test]
    fn gzip_reports_inflate() {
        let text = b"Number of records successful\t\t1\n";
        let deflated = miniz_oxide::deflate::compress_to_vec(text, 6);
        let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
        gz.extend_from_slice(&deflated);
        gz.extend_from_slice(&[0; 8]);
        assert_eq!(gunzip(&gz).unwrap(), text);
        assert!(gunzip(b"not gzip at all, clearly").is_none());
    }

    #[test]
    fn ids_cannot_leave_the_path() {
        assert_eq!(path_safe("50120000037"), "50120000037");
        assert_eq!(path_safe("../x?y=1"), "..xy1");
    }
}
