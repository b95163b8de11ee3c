//! `fulfil demo`: the newcomer's first five minutes. Starts the sandbox in-process with
//! generated orders, makes a fresh data directory, and runs the commands against it,
//! then prints what happened. No account, no network, no setup.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};

use crate::cli::GlobalArgs;
use crate::clock::Clock;
use crate::commands::{Outcome, init, make_invoices, make_labels, purge, sync_orders};
use crate::ctx::Ctx;
use crate::error::Exit;
use crate::sandbox::{Sandbox, SandboxConfig};

/// Run the whole job end to end on the built-in sandbox, in a new directory
///
/// Nothing reaches Amazon or PostNL: the sandbox on 127.0.0.1 answers as they would,
/// with synthetic orders.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many orders the sandbox generates
    #[arg(long, default_value_t = 200)]
    pub orders: usize,
    /// Seed for the generated orders
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Where to put the demo's data directory [default: a new directory under the
    /// system's temporary directory]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: &DemoArgs) -> anyhow::Result<Outcome> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => tempfile::Builder::new()
            .prefix("fulfil-demo-")
            .tempdir()
            .context("cannot make a temporary directory")?
            .keep(),
    };
    let start = ctx.clock.now();
    let sandbox = Sandbox::start(SandboxConfig {
        seed: args.seed,
        generate: args.orders,
        rate_limits: false,
        start,
        ..SandboxConfig::default()
    })?;
    let config = dir.join("fulfil.toml");
    let global = GlobalArgs {
        config: Some(config.clone()),
        verbose: 0,
        quiet: true,
        json: true,
    };
    let clock = Clock::pinned(start);
    let mut steps: Vec<(&str, Value)> = Vec::new();

    let out = step(&global, &clock, "init", |c| {
        init::run(
            c,
            &init::InitArgs {
                dir: Some(dir.clone()),
                sandbox: Some(sandbox.url()),
            },
        )
    })?;
    steps.push(("init", out));
    let out = step(&global, &clock, sync_orders::COMMAND, |c| {
        sync_orders::run(c, &sync_orders::SyncOrdersArgs {})
    })?;
    steps.push(("sync-orders", out));
    let labels_out = dir.join("labels-demo.pdf");
    let out = step(&global, &clock, make_labels::COMMAND, |c| {
        make_labels::run(
            c,
            &make_labels::MakeLabelsArgs {
                out: Some(labels_out.clone()),
                print_command: None,
                reprint: None,
                no_confirm: false,
            },
        )
    })?;
    steps.push(("make-labels", out));
    let out = step(&global, &clock, make_invoices::COMMAND, |c| {
        make_invoices::run(
            c,
            &make_invoices::MakeInvoicesArgs {
                no_upload: false,
                accept_difference: Vec::new(),
            },
        )
    })?;
    steps.push(("make-invoices", out));
    // Move the clock past the retention window: the personal data must go.
    let later = Clock::pinned(start + time::Duration::days(31));
    let out = step(&global, &later, purge::COMMAND, |c| {
        purge::run(
            c,
            &purge::PurgeArgs {
                dry_run: false,
                rotate_key: false,
                vacuum: false,
            },
        )
    })?;
    steps.push(("purge +31 days", out));

    if !ctx.global.json {
        let ui = &ctx.ui;
        ui.out(&format!(
            "fulfil demo: sandbox at {}, data in {}",
            sandbox.url(),
            dir.display()
        ));
        ui.out("");
        ui.out(&format!("{:<14} result", "step"));
        for (name, v) in &steps {
            ui.out(&format!("{name:<14} {}", describe(name, v)));
        }
        ui.out("");
        ui.out(&format!(
            "look around: fulfil --config {} status",
            config.display()
        ));
    }
    Ok(Outcome::ok(json!({
        "dir": dir.display().to_string(),
        "config": config.display().to_string(),
        "steps": steps.iter().map(|(n, v)| json!({"step": n, "summary": v})).collect::<Vec<_>>(),
    })))
}

/// Runs one command in its own context, records the run and returns its summary.
fn step(
    global: &GlobalArgs,
    clock: &Clock,
    name: &str,
    f: impl FnOnce(&Ctx) -> anyhow::Result<Outcome>,
) -> anyhow::Result<Value> {
    let ctx = Ctx::with_clock(global, clock.clone());
    match f(&ctx) {
        Ok(o) => {
            let outcome = if o.exit == Exit::Ok { "ok" } else { "partial" };
            ctx.finish(outcome, &o.summary);
            Ok(o.summary)
        }
        Err(e) => {
            ctx.finish("failed", &json!({}));
            Err(e.context(format!("demo step {name}")))
        }
    }
}

fn describe(name: &str, v: &Value) -> String {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    match name {
        "init" => "created config, key and encrypted database".to_string(),
        "make-labels" => format!(
            "{} labels ({} pages in {}), {} confirmed to Amazon, {} to review",
            n("labelled"),
            n("pages"),
            v.get("print_file").and_then(Value::as_str).unwrap_or("-"),
            n("confirmed"),
            n("to_review")
        ),
        "purge +31 days" => format!(
            "personal data of {} orders and {} files removed, {} bytes freed",
            n("purged"),
            n("files_removed"),
            n("bytes_freed")
        ),
        "sync-orders" => format!(
            "{} orders fetched ({} new, {} cancelled, {} skipped) in {} calls",
            n("fetched"),
            n("new"),
            n("cancelled"),
            n("skipped"),
            n("calls") + n("token_calls")
        ),
        "make-invoices" => format!(
            "{} invoices, {} credit notes ({} held, {} failed); {} uploaded to Amazon, {} skipped (BE/IE), {} awaiting the processing report",
            n("issued"),
            n("credit_notes"),
            n("held"),
            n("failed"),
            n("uploaded"),
            n("upload_skipped"),
            n("upload_pending")
        ),
        _ => v.to_string(),
    }
}
