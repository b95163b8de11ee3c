//! `fulfil sandbox serve` as a seller's smoke script would use it.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use crate::common::TestEnv;

#[test]
fn serve_prints_its_address_first_and_a_sync_works_against_it() {
    let env = TestEnv::new();
    let record = env.dir.path().join("record.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .args([
            "sandbox",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--generate",
            "30",
            "--rate-limits",
            "off",
            "--record",
        ])
        .arg(&record)
        .env("FULFIL_NOW", crate::common::NOW)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    env.run(&["init", "--sandbox", &url]).assert_code(0);
    let r = env.run(&["--json", "sync-orders"]);
    child.kill().unwrap();
    let _ = child.wait();
    r.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert!(v["fetched"].as_u64().unwrap() > 0);
    // The recording shows what would have gone to Amazon, with the token redacted.
    let lines = std::fs::read_to_string(&record).unwrap();
    assert!(lines.lines().any(|l| l.contains("searchOrders")), "{lines}");
    assert!(!lines.contains("Atza|"), "access tokens are redacted");
}

#[test]
fn serve_refuses_a_non_loopback_address() {
    let env = TestEnv::new();
    let r = env.run(&["sandbox", "serve", "--listen", "0.0.0.0:0"]);
    r.assert_code(2);
    assert!(r.stderr.contains("loopback"), "{}", r.stderr);
}

#[test]
fn plain_http_to_a_non_loopback_endpoint_is_refused() {
    let env = TestEnv::sandboxed(1);
    env.set_config("endpoint", "\"http://192.0.2.1:8080\"");
    let r = env.run(&["sync-orders"]);
    r.assert_code(2);
    assert!(r.stderr.contains("loopback"), "{}", r.stderr);
}
