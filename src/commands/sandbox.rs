//! `fulfil sandbox serve`: the project's local SP-API and PostNL simulator.
//!
//! The simulator lives in `crate::sandbox`; this file only turns flags into its
//! configuration and prints the address, so that scripts can read the first line.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::commands::Outcome;
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::sandbox::{FaultSpec, Roles, Sandbox, SandboxConfig};

/// Run the local SP-API and PostNL simulator (for tests, the demo and smoke scripts)
#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub command: SandboxCommand,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve on a loopback address until killed; the first stdout line is
    /// `listening on http://HOST:PORT`
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Loopback address to bind; port 0 picks a free port
    #[arg(long, default_value = "127.0.0.1:8650")]
    pub listen: SocketAddr,
    /// Seed for generated orders, tokens and faults
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of orders to generate
    #[arg(long, default_value_t = 100)]
    pub generate: usize,
    /// Serve the orders of this file (searchOrders response shape) instead of generating
    #[arg(long, value_name = "FILE")]
    pub orders: Option<PathBuf>,
    /// Run the sandbox clock this many times faster than real time
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Enforce Amazon's and PostNL's production rate limits
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    pub rate_limits: String,
    /// Inject faults, e.g. `500=0.05,429=0.1,drop=0.02,truncate=0.02,expire=0.01`
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// Append one JSON line per request received to this file
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// The restricted roles the simulated app holds: all, none, or a list of
    /// dtc-shipping, tax-invoicing, tax-remittance
    #[arg(long, default_value = "all")]
    pub roles: String,
}

pub fn run(ctx: &Ctx, args: &SandboxArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        SandboxCommand::Serve(a) => serve(ctx, a),
    }
}

fn serve(ctx: &Ctx, a: &ServeArgs) -> anyhow::Result<Outcome> {
    if !a.listen.ip().is_loopback() {
        return Err(AppError::config(format!(
            "the sandbox binds loopback addresses only, not {}",
            a.listen.ip()
        ))
        .hint("use --listen 127.0.0.1:PORT")
        .into());
    }
    if !(a.time_scale.is_finite() && a.time_scale > 0.0) {
        return Err(AppError::config("--time-scale must be a positive number").into());
    }
    let faults = match &a.faults {
        Some(spec) => spec
            .parse::<FaultSpec>()
            .map_err(|e| AppError::config(format!("--faults: {e}")))?,
        None => FaultSpec::none(),
    };
    let roles = a
        .roles
        .parse::<Roles>()
        .map_err(|e| AppError::config(format!("--roles: {e}")))?;
    let sandbox = Sandbox::start(SandboxConfig {
        listen: a.listen,
        seed: a.seed,
        generate: a.generate,
        orders_file: a.orders.clone(),
        time_scale: a.time_scale,
        rate_limits: a.rate_limits == "on",
        faults,
        record: a.record.clone(),
        start: ctx.clock.now(),
        roles,
    })?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", sandbox.url())?;
        out.flush()?;
    }
    sandbox.wait();
    Ok(Outcome::ok(serde_json::json!({})))
}
