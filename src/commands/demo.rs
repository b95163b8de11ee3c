//! `fulfil demo`: the newcomer's first five minutes. Starts the sandbox in-process with
//! generated orders, makes a fresh data directory, and runs the commands against it,
//! then prints what happened. No account, no network, no setup.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::commands::{
    Outcome, init, make_invoices, make_labels, purge, rates, review, status, sync_orders,
};
use crate::ctx::Ctx;
use crate::ctx::Global;
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
    if ctx.global.verbose == 0 {
        // The steps' warnings (orders sent to review) are in the table; without -v they
        // would only bury it.
        let quiet = tracing::subscriber::NoSubscriber::default();
        return tracing::subscriber::with_default(quiet, || demo(ctx, args, dir));
    }
    demo(ctx, args, dir)
}

fn demo(ctx: &Ctx, args: &DemoArgs, dir: PathBuf) -> anyhow::Result<Outcome> {
    let start = ctx.clock.now();
    let sandbox = Sandbox::start(SandboxConfig {
        seed: args.seed,
        generate: args.orders,
        rate_limits: false,
        start,
        ..SandboxConfig::default()
    })?;
    let config = dir.join("fulfil.toml");
    let global = Global {
        config: Some(config.clone()),
        verbose: 0,
        quiet: true,
        json: true,
    };
    let mut steps: Vec<(String, &str, Value)> = Vec::new();

    // Day 0: a seller's first day, from init to invoices.
    let day0 = Clock::pinned(start);
    let out = step(&global, &day0, "init", |c| {
        init::run(
            c,
            &init::InitArgs {
                dir: Some(dir.clone()),
                sandbox: Some(sandbox.url()),
            },
        )
    })?;
    steps.push(("day 0".into(), "init", out));
    // The monthly cron job: VAT rates from (the sandbox's) TEDB, so invoices past the
    // built-in table's horizon find their rates.
    let out = step(&global, &day0, rates::UPDATE, |c| {
        rates::run(
            c,
            &rates::RatesArgs {
                command: rates::RatesCommand::Update(rates::UpdateArgs { months: 12 }),
            },
        )
    })?;
    steps.push(("day 0".into(), "rates update", out));
    let first_print = dir.join("labels-day0.pdf");
    for (name, out) in working_day(&global, &day0, &first_print, true)? {
        steps.push(("day 0".into(), name, out));
    }

    // Day 31: the first day's orders are past the 30-day window, so their personal data
    // and files must go; a new day's orders come in and are handled as usual.
    let later = time::Duration::days(31);
    sandbox.advance(later);
    let day31 = Clock::pinned(start + later);
    let new_orders = (args.orders / 5).max(1);
    for order in crate::sandbox::generate(new_orders, args.seed.wrapping_add(1), start + later) {
        sandbox.add_order(order)?;
    }
    let out = step(&global, &day31, purge::COMMAND, |c| {
        purge::run(
            c,
            &purge::PurgeArgs {
                dry_run: false,
                rotate_key: false,
                vacuum: false,
                forget_file: Vec::new(),
            },
        )
    })?;
    steps.push(("day 31".into(), "purge", out));
    let print_file = dir.join("labels-day31.pdf");
    for (name, out) in working_day(&global, &day31, &print_file, false)? {
        steps.push(("day 31".into(), name, out));
    }
    let invoices = some_invoices(&dir.join("invoices"), 3);

    if !ctx.global.json {
        let ui = &ctx.ui;
        ui.out(&format!(
            "fulfil demo: sandbox at {}, data in {}",
            sandbox.url(),
            dir.display()
        ));
        ui.out("");
        ui.out(&format!("{:<7} {:<14} result", "when", "step"));
        for (day, name, v) in &steps {
            ui.out(&format!("{day:<7} {name:<14} {}", describe(name, v)));
        }
        ui.out("");
        if print_file.exists() {
            ui.out(&format!("label print file  {}", print_file.display()));
        }
        for path in &invoices {
            ui.out(&format!("invoice           {}", path.display()));
        }
        ui.out(&format!(
            "look around:      fulfil --config {} status",
            config.display()
        ));
    }
    Ok(Outcome::ok(json!({
        "dir": dir.display().to_string(),
        "config": config.display().to_string(),
        "print_file": print_file.exists().then(|| print_file.display().to_string()),
        "invoices": invoices.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "steps": steps
            .iter()
            .map(|(day, n, v)| json!({"day": day, "step": n, "summary": v}))
            .collect::<Vec<_>>(),
    })))
}

/// One day's work: fetch orders, make and confirm labels into `print_file`, invoice.
/// With `split_one`, one order of several units to NL or BE ships as two parcels
/// (`fulfil review split ORDER --parcels 2`, multi-collo, issue #19).
fn working_day(
    global: &Global,
    clock: &Clock,
    print_file: &std::path::Path,
    split_one: bool,
) -> anyhow::Result<Vec<(&'static str, Value)>> {
    let mut out = Vec::new();
    out.push((
        "sync-orders",
        step(global, clock, sync_orders::COMMAND, |c| {
            sync_orders::run(c, &sync_orders::SyncOrdersArgs {})
        })?,
    ));
    if split_one {
        let chosen = {
            let ctx = Ctx::with_clock(global, clock.clone());
            let store = ctx.store_read()?;
            crate::store::labels::ready_orders(store.conn())?
                .into_iter()
                .find(|o| {
                    let units: i64 = o.items.iter().map(|(_, _, q)| (*q).max(0)).sum();
                    units >= 2 && matches!(o.destination_country.as_deref(), Some("NL" | "BE"))
                })
        };
        if let Some(order) = chosen {
            out.push((
                "review split",
                step(global, clock, "review", |c| {
                    review::run(
                        c,
                        &review::ReviewArgs {
                            show_pii: false,
                            command: Some(review::ReviewCommand::Split(review::SplitArgs {
                                order: order.order_id.clone(),
                                parcels: 2,
                            })),
                        },
                    )
                })?,
            ));
        }
    }
    let mut labels = (
        "make-labels",
        step(global, clock, make_labels::COMMAND, |c| {
            make_labels::run(
                c,
                &make_labels::MakeLabelsArgs {
                    out: Some(print_file.to_path_buf()),
                    overwrite: false,
                    print_command: None,
                    reprint: None,
                    no_confirm: false,
                    format: None,
                    pick_list: None,
                },
            )
        })?,
    );
    // What `fulfil status` says of the deadlines once the day's labels are made (issue
    // #23), shown on the make-labels line.
    let status = step(global, clock, "status", |c| {
        status::run(c, &status::StatusArgs {})
    })?;
    labels.1["ship_by"] = status["ship_by"].clone();
    out.push(labels);
    out.push((
        "make-invoices",
        step(global, clock, make_invoices::COMMAND, |c| {
            make_invoices::run(
                c,
                &make_invoices::MakeInvoicesArgs {
                    no_upload: false,
                    accept_difference: Vec::new(),
                },
            )
        })?,
    ));
    Ok(out)
}

/// Up to `n` invoice PDFs under `dir` (the newest series first), for the reader to open.
fn some_invoices(dir: &std::path::Path, n: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "pdf") {
                found.push(p);
            }
        }
    }
    found.sort();
    found.reverse();
    found.truncate(n);
    found
}

/// Runs one command in its own context, records the run and returns its summary.
fn step(
    global: &Global,
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
        "rates update" => format!(
            "VAT rates of 27 member states from TEDB for {} days, {} to {} ({} differ from the built-in table)",
            n("days"),
            v.get("covered_from").and_then(Value::as_str).unwrap_or("-"),
            v.get("covered_until")
                .and_then(Value::as_str)
                .unwrap_or("-"),
            v.get("differences")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        ),
        "make-labels" => {
            let s = &v["ship_by"];
            let k = |key: &str| s[key].as_u64().unwrap_or(0);
            format!(
                "{} orders labelled as {} parcels ({} of them as several parcels; {} pages in {}), {} parcels confirmed to Amazon, {} to review; ship-by: {} late, {} due today, {} due tomorrow",
                n("labelled"),
                n("parcels"),
                n("multi_collo"),
                n("pages"),
                v.get("print_file").and_then(Value::as_str).unwrap_or("-"),
                n("confirmed"),
                n("to_review"),
                k("late"),
                k("due_today"),
                k("due_tomorrow"),
            )
        }
        "review split" => format!(
            "order {} ships as {} parcels (PostNL multi-collo)",
            v.get("order_id").and_then(Value::as_str).unwrap_or("-"),
            n("parcels")
        ),
        "purge" => format!(
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
            "{} invoices, {} credit notes ({} for refunds), {} to review; {} uploaded to Amazon, {} accepted, {} not for upload (BE/IE), {} awaiting Amazon's report",
            n("issued"),
            n("credit_notes"),
            n("refund_credit_notes"),
            n("held") + n("failed") + n("refunds_review"),
            n("uploaded"),
            n("accepted"),
            n("upload_skipped"),
            n("upload_pending")
        ),
        _ => v.to_string(),
    }
}
