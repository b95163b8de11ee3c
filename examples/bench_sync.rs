//! Benchmark: `fulfil sync-orders` against the in-process sandbox.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_sync -- throughput
//! cargo run --release --example bench_sync -- limits [ORDERS] [TIME_SCALE]
//! ```
//!
//! `throughput` syncs 1,000, 5,000 and 10,000 generated orders with the sandbox's rate
//! limits off and reports orders per second and the peak RSS of the `fulfil` process
//! (which should stay flat as N grows: pages are streamed into the store).
//!
//! `limits` syncs 5,000 orders with Amazon's production limits on a sandbox clock that
//! runs TIME_SCALE times faster, and compares the wall time with the floor the limits
//! allow: (pages − burst) / (rate × scale). The goal is within 5% of it with no 429.

#![allow(clippy::cast_precision_loss)] // figures for a report

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::time::Duration;

use fulfil::sandbox::{Sandbox, SandboxConfig};

fn main() -> anyhow::Result<()> {
    common::announce("bench_sync");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bin = common::fulfil_binary()?;
    if args.first().map(String::as_str) == Some("limits") {
        let n = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5_000);
        let scale = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200.0);
        limits(&bin, n, scale)
    } else {
        {
            println!("orders  wall_s  orders_per_s  peak_rss_kib  calls");
            for n in [1_000, 5_000, 10_000] {
                let r = run_once(&bin, n, false, 1.0)?;
                println!(
                    "{n:>6}  {:>6.2}  {:>12.0}  {:>12}  {:>5}",
                    r.wall.as_secs_f64(),
                    r.fetched as f64 / r.wall.as_secs_f64(),
                    r.peak_rss_kib,
                    r.calls
                );
            }
            Ok(())
        }
    }
}

struct Result1 {
    wall: Duration,
    peak_rss_kib: u64,
    fetched: u64,
    calls: u64,
    throttled: u64,
    sandbox_429: usize,
    pages: u64,
}

fn limits(bin: &Path, n: usize, scale: f64) -> anyhow::Result<()> {
    let r = run_once(bin, n, true, scale)?;
    let (rate, burst) = (0.0056_f64, 20_f64);
    let floor = ((r.pages as f64 - burst).max(0.0)) / (rate * scale);
    println!(
        "orders={} pages={} time_scale={scale} wall={:.2}s floor={:.2}s over_floor={:.1}% throttled_by_client_view={} sandbox_429={} peak_rss_kib={}",
        r.fetched,
        r.pages,
        r.wall.as_secs_f64(),
        floor,
        if floor > 0.0 {
            (r.wall.as_secs_f64() / floor - 1.0) * 100.0
        } else {
            0.0
        },
        r.throttled,
        r.sandbox_429,
        r.peak_rss_kib
    );
    Ok(())
}

fn run_once(bin: &Path, n: usize, rate_limits: bool, scale: f64) -> anyhow::Result<Result1> {
    let dir = tempfile::tempdir()?;
    let now = fulfil::clock::parse_rfc3339("2026-11-20T10:00:00Z")?;
    let sandbox = Sandbox::start(SandboxConfig {
        generate: n,
        seed: 3,
        rate_limits,
        time_scale: scale,
        start: now,
        ..SandboxConfig::default()
    })?;
    let config = dir.path().join("data/fulfil.toml");
    let status = common::cmd(bin, &config)
        .args(["init", "--sandbox", &sandbox.url()])
        .stdout(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "init failed");
    // Reach back far enough for every generated order.
    let text = std::fs::read_to_string(&config)?;
    std::fs::write(
        &config,
        text.replace("[amazon]\n", "[amazon]\nfirst_sync_days = 60\n"),
    )?;

    let mut child = common::cmd(bin, &config)
        .args(["--json", "sync-orders"])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let (wall, peak) = common::watch(&mut child)?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(out.status.success(), "sync failed: {:?}", out.status);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let sandbox_429 = sandbox
        .records()
        .iter()
        .filter(|r| r["status"] == 429)
        .count();
    Ok(Result1 {
        wall,
        peak_rss_kib: peak,
        fetched: s["fetched"].as_u64().unwrap_or(0),
        calls: s["calls"].as_u64().unwrap_or(0),
        throttled: s["throttled"].as_u64().unwrap_or(0),
        sandbox_429,
        pages: s["pages"].as_u64().unwrap_or(0),
    })
}
