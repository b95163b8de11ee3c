//! The request recorder: one JSON object per request received, kept in memory and optionally
//! appended to a JSON-lines file.
//!
//! A record says which API and operation was called, with what method, path, query, the
//! headers that matter and the body, and which status came back. Secrets never reach a record:
//! access tokens, API keys and authorization headers become "[redacted]", and so do the
//! refresh token and client secret in an LWA form body. PDF bodies are recorded by length only.

use crate::sandbox::Request;
use serde_json::{Map, Value, json};
use std::fs::File;
use std::io::Write;
use std::path::Path;

pub(crate) const REDACTED: &str = "[redacted]";

/// Header names worth keeping, and whether their value is a secret.
const HEADERS: &[(&str, bool)] = &[
    ("user-agent", false),
    ("content-type", false),
    ("accept", false),
    ("content-length", false),
    ("x-amz-date", false),
    ("x-amz-access-token", true),
    ("authorization", true),
    ("apikey", true),
];

/// Form fields that carry secrets.
const SECRET_FIELDS: &[&str] = &["refresh_token", "client_secret", "code", "access_token"];

#[derive(Debug, Default)]
pub(crate) struct Recorder {
    file: Option<File>,
    mem: Vec<Value>,
}

impl Recorder {
    pub(crate) fn new(path: Option<&Path>) -> std::io::Result<Self> {
        let file = match path {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            None => None,
        };
        Ok(Self {
            file,
            mem: Vec::new(),
        })
    }

    pub(crate) fn push(&mut self, record: Value) {
        if let Some(f) = self.file.as_mut() {
            let mut line = record.to_string();
            line.push('\n');
            // A full disk must not take the sandbox down; the in-memory copy still has it.
            let _ = f.write_all(line.as_bytes()).and_then(|()| f.flush());
        }
        self.mem.push(record);
    }

    pub(crate) fn all(&self) -> Vec<Value> {
        self.mem.clone()
    }

    pub(crate) fn clear(&mut self) {
        self.mem.clear();
    }
}

/// Builds the record of one exchange.
pub(crate) struct Entry<'a> {
    pub seq: u64,
    pub at: String,
    pub api: &'a str,
    pub operation: &'a str,
    pub req: &'a Request,
    pub status: u16,
    pub fault: Option<&'static str>,
}

pub(crate) fn build(e: &Entry<'_>) -> Value {
    let mut headers = Map::new();
    for (name, secret) in HEADERS {
        if let Some(v) = e.req.header(name) {
            let v = if *secret { REDACTED } else { v };
            headers.insert((*name).to_owned(), Value::String(v.to_owned()));
        }
    }
    let mut query = Map::new();
    for (k, v) in &e.req.query {
        let v = if SECRET_FIELDS.contains(&k.as_str()) {
            REDACTED
        } else {
            v.as_str()
        };
        match query.get_mut(k) {
            Some(Value::Array(a)) => a.push(Value::String(v.to_owned())),
            Some(prev) => {
                let first = prev.take();
                *prev = Value::Array(vec![first, Value::String(v.to_owned())]);
            }
            None => {
                query.insert(k.clone(), Value::String(v.to_owned()));
            }
        }
    }
    let mut rec = json!({
        "seq": e.seq,
        "at": e.at,
        "api": e.api,
        "operation": e.operation,
        "method": e.req.method,
        "path": e.req.path,
        "query": query,
        "headers": headers,
        "body": body_value(e.req),
        "status": e.status,
    });
    if let (Some(f), Some(obj)) = (e.fault, rec.as_object_mut()) {
        obj.insert("fault".to_owned(), Value::String(f.to_owned()));
    }
    rec
}

fn body_value(req: &Request) -> Value {
    let body = &req.body;
    if body.is_empty() {
        return Value::Null;
    }
    if body.starts_with(b"%PDF") {
        return json!({ "pdfBytes": body.len() });
    }
    let ctype = req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("application/x-www-form-urlencoded") {
        let mut form = Map::new();
        for (k, v) in crate::sandbox::parse_form(body) {
            let v = if SECRET_FIELDS.contains(&k.as_str()) {
                REDACTED.to_owned()
            } else {
                v
            };
            form.insert(k, Value::String(v));
        }
        return Value::Object(form);
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return v;
    }
    match std::str::from_utf8(body) {
        Ok(text) if text.len() <= 4096 => Value::String(text.to_owned()),
        _ => json!({ "bytes": body.len() }),
    }
}
