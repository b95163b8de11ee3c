//! Benchmark: `fulfil make-labels` against the in-process sandbox.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_labels -- [ORDERS] [TIME_SCALE] [--format pdf|zpl-203|zpl-300]
//! ```
//!
//! Syncs ORDERS (default 1,000) generated orders, then times make-labels: once with the
//! sandbox's rate limits off (labels per second, peak RSS of the `fulfil` process, size
//! of the print file), once with PostNL's and confirmShipment's production limits on a
//! sandbox clock TIME_SCALE times faster (default 20), against the floor those limits
//! allow. `--format` is make-labels' own (default pdf): ZPL for thermal printers
//! (issue #19).

#![allow(clippy::cast_precision_loss)] // figures for a report

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use fulfil::sandbox::{Sandbox, SandboxConfig};

fn main() -> anyhow::Result<()> {
    common::announce("bench_labels");
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let format = match args.iter().position(|a| a == "--format") {
        Some(i) if i + 1 < args.len() => {
            let f = args.remove(i + 1);
            args.remove(i);
            f
        }
        Some(_) => anyhow::bail!("--format needs a value: pdf, zpl-203 or zpl-300"),
        None => "pdf".to_string(),
    };
    let n: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(1_000);
    let scale: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20.0);
    let bin = common::fulfil_binary()?;
    for limits in [false, true] {
        let r = run(&bin, n, limits, if limits { scale } else { 1.0 }, &format)?;
        let per_s = r.labelled as f64 / r.wall.as_secs_f64();
        print!(
            "format={format} limits={} orders={n} labelled={} confirmed={} wall={:.2}s labels_per_s={per_s:.0} peak_rss_kib={} sandbox_429={} print_file_bytes={} bytes_per_label={:.0}",
            if limits { "production" } else { "off" },
            r.labelled,
            r.confirmed,
            r.wall.as_secs_f64(),
            r.peak_rss_kib,
            r.sandbox_429,
            r.print_file_bytes,
            r.print_file_bytes as f64 / r.labelled.max(1) as f64
        );
        if limits {
            // confirmShipment: 2/s, burst 10, scaled; PostNL: 1000/min.
            let confirm_floor = (r.confirmed as f64 - 10.0).max(0.0) / (2.0 * scale);
            let postnl_calls = r.labelled as f64 + (r.labelled as f64 / 4.0).ceil();
            let postnl_floor = postnl_calls / (1000.0 / 60.0 * scale);
            let floor = confirm_floor.max(postnl_floor);
            print!(
                " floor={floor:.2}s over_floor={:.1}%",
                (r.wall.as_secs_f64() / floor - 1.0) * 100.0
            );
        }
        println!();
    }
    Ok(())
}

struct Figures {
    wall: Duration,
    peak_rss_kib: u64,
    labelled: u64,
    confirmed: u64,
    sandbox_429: usize,
    print_file_bytes: u64,
}

fn run(
    bin: &Path,
    n: usize,
    rate_limits: bool,
    scale: f64,
    format: &str,
) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let now = fulfil::clock::parse_rfc3339("2026-11-20T10:00:00Z")?;
    let sandbox = Sandbox::start(SandboxConfig {
        generate: n,
        seed: 5,
        rate_limits: false,
        time_scale: scale,
        start: now,
        ..SandboxConfig::default()
    })?;
    let config = dir.path().join("data/fulfil.toml");
    let ok = common::cmd(bin, &config)
        .args(["init", "--sandbox", &sandbox.url()])
        .stdout(Stdio::null())
        .status()?
        .success();
    anyhow::ensure!(ok, "init failed");
    let ok = common::cmd(bin, &config)
        .arg("sync-orders")
        .status()?
        .success();
    anyhow::ensure!(ok, "sync failed");
    sandbox.set_rate_limits(rate_limits);
    sandbox.clear_records();
    let mut child = common::cmd(bin, &config)
        .args(["--json", "make-labels", "--format", format])
        .stdout(Stdio::piped())
        .spawn()?;
    let (wall, peak) = common::watch(&mut child)?;
    let out = child.wait_with_output()?;
    let s: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let print_file_bytes = s["print_file"]
        .as_str()
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len());
    Ok(Figures {
        print_file_bytes,
        wall,
        peak_rss_kib: peak,
        labelled: s["labelled"].as_u64().unwrap_or(0),
        confirmed: s["confirmed"].as_u64().unwrap_or(0),
        sandbox_429: sandbox
            .records()
            .iter()
            .filter(|r| r["status"] == 429)
            .count(),
    })
}
