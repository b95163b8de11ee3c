//! What the benchmark examples share: finding the release binary, running it with a
//! config and a pinned clock, and watching its peak memory.

#![allow(dead_code)] // each example uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The pinned "now" of every benchmark run.
pub const NOW: &str = "2026-11-20T10:00:00Z";

/// `fulfil` with a config and the pinned clock, without inherited log settings.
pub fn cmd(bin: &Path, config: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env("FULFIL_CONFIG", config)
        .env("FULFIL_NOW", NOW)
        .env_remove("FULFIL_LOG");
    c
}

/// The peak resident set of a running process, from /proc (KiB).
pub fn vm_hwm(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Waits for a child, sampling its peak RSS; returns the wall time and the peak (KiB).
pub fn watch(child: &mut Child) -> anyhow::Result<(Duration, u64)> {
    let started = Instant::now();
    let mut peak = 0;
    loop {
        if let Some(h) = vm_hwm(child.id()) {
            peak = peak.max(h);
        }
        if child.try_wait()?.is_some() {
            return Ok((started.elapsed(), peak));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The `fulfil` binary next to this example (target/<profile>/fulfil).
pub fn fulfil_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow::anyhow!("cannot locate the target directory"))?;
    let bin = dir.join("fulfil");
    anyhow::ensure!(
        bin.exists(),
        "build the binary first: cargo build --release"
    );
    Ok(bin)
}

/// Prints the command line that reproduces this benchmark, so every figure in the
/// output comes with the way to get it again.
pub fn announce(example: &str) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tail = if args.is_empty() {
        String::new()
    } else {
        format!(" -- {}", args.join(" "))
    };
    println!("$ cargo run --release --example {example}{tail}");
}

/// A sandbox of `n` generated orders (seed 3, rate limits off) whose unshipped orders
/// shipped ten minutes before [`NOW`], and a data directory in `dir` initialised against
/// it (first sync 60 days back) and synced: where the invoice and refund benchmarks
/// start. Returns the sandbox and the config's path.
pub fn shipped_and_synced(
    bin: &Path,
    dir: &Path,
    n: usize,
) -> anyhow::Result<(fulfil::sandbox::Sandbox, PathBuf)> {
    let start = fulfil::clock::parse_rfc3339(NOW)?;
    let sandbox = fulfil::sandbox::Sandbox::start(fulfil::sandbox::SandboxConfig {
        generate: n,
        seed: 3,
        rate_limits: false,
        start,
        ..fulfil::sandbox::SandboxConfig::default()
    })?;
    let shipped_at = start - time::Duration::minutes(10);
    for id in sandbox.order_ids() {
        if sandbox
            .order(&id)
            .is_some_and(|o| o["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED")
        {
            sandbox.set_order_status(&id, "SHIPPED", shipped_at)?;
        }
    }
    let config = dir.join("data/fulfil.toml");
    let ok = cmd(bin, &config)
        .args(["init", "--sandbox", &sandbox.url()])
        .stdout(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(ok.success(), "init failed");
    let text = std::fs::read_to_string(&config)?;
    std::fs::write(
        &config,
        text.replace("[amazon]\n", "[amazon]\nfirst_sync_days = 60\n"),
    )?;
    let ok = cmd(bin, &config).args(["sync-orders"]).status()?;
    anyhow::ensure!(ok.success(), "sync failed");
    Ok((sandbox, config))
}
