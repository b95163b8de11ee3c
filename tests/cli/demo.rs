//! `fulfil demo`: two days of the whole pipeline against the sandbox, the first purged.

use crate::common::TestEnv;
use crate::make_invoices::summary;

#[test]
fn the_demo_runs_two_days_and_purges_the_first() {
    let env = TestEnv::new();
    let dir = env.dir.path().join("demo");
    let r = env.run(&[
        "--json",
        "demo",
        "--orders",
        "60",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    r.assert_code(0);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let s = summary(&r.stdout);
    let steps: Vec<(String, String)> = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            (
                st["day"].as_str().unwrap().to_string(),
                st["step"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("day 0", "init"),
        ("day 0", "rates update"),
        ("day 0", "sync-orders"),
        ("day 0", "review split"),
        ("day 0", "make-labels"),
        ("day 0", "make-invoices"),
        ("day 31", "purge"),
        ("day 31", "sync-orders"),
        ("day 31", "make-labels"),
        ("day 31", "make-invoices"),
    ]
    .iter()
    .map(|(d, n)| ((*d).to_string(), (*n).to_string()))
    .collect();
    assert_eq!(steps, expected);
    // Issue #19: one order of the first day ships as two parcels, and the table says so.
    let split = &s["steps"][3]["summary"];
    assert_eq!(split["parcels"], 2, "{split}");
    let labels0 = &s["steps"][4]["summary"];
    assert_eq!(labels0["multi_collo"], 1, "{labels0}");
    assert_eq!(
        labels0["parcels"].as_u64().unwrap(),
        labels0["labelled"].as_u64().unwrap() + 1,
        "{labels0}"
    );
    assert_eq!(labels0["confirmed"], labels0["parcels"], "{labels0}");
    // Issue #23: on a normal day no order is late once the labels are made.
    assert_eq!(labels0["ship_by"]["late"], 0, "{labels0}");
    let day0 = &s["steps"][5]["summary"];
    assert!(day0["issued"].as_u64().unwrap() > 0, "{day0}");
    assert_eq!(day0["failed"], 0, "{day0}");
    assert_eq!(day0["held"], 0, "{day0}");
    // Day 31: the first day's feeds are done by now and their reports read.
    let day31 = &s["steps"][9]["summary"];
    assert_eq!(day31["accepted"], day0["uploaded"], "{day31}");
    let purge = &s["steps"][6]["summary"];
    assert!(purge["purged"].as_u64().unwrap() > 0, "{purge}");

    // The first day's print file and invoices went with the purge; the second day's
    // are there to open, and the summary names them.
    assert!(!dir.join("labels-day0.pdf").exists());
    let print_file = s["print_file"].as_str().expect("a print file");
    assert!(print_file.ends_with("labels-day31.pdf"));
    assert!(std::fs::read(print_file).unwrap().starts_with(b"%PDF"));
    let left = std::fs::read_dir(dir.join("invoices")).map_or(0, Iterator::count);
    // Day 31 also credits the refunds Amazon paid for day 0's orders (issue #17).
    assert!(
        day31["refund_credit_notes"].as_u64().unwrap() > 0,
        "{day31}"
    );
    assert_eq!(
        left as u64,
        day31["issued"].as_u64().unwrap() + day31["credit_notes"].as_u64().unwrap()
    );
    // status counts the documents and where their uploads stand.
    let config = dir.join("fulfil.toml");
    let r = env.run(&["--config", config.to_str().unwrap(), "--json", "status"]);
    r.assert_code(0);
    let st = summary(&r.stdout);
    assert_eq!(
        st["documents"]["invoice"].as_u64().unwrap(),
        day0["issued"].as_u64().unwrap() + day31["issued"].as_u64().unwrap(),
        "{st}"
    );
    assert_eq!(st["uploads"]["accepted"], day0["uploaded"], "{st}");
    assert_eq!(st["uploads"]["submitted"], day31["uploaded"], "{st}");
    let shown = s["invoices"].as_array().unwrap();
    // The table names the split and the parcels.
    let r = env.run(&[
        "demo",
        "--orders",
        "60",
        "--dir",
        env.dir.path().join("demo2").to_str().unwrap(),
    ]);
    r.assert_code(0);
    assert!(
        r.stdout.contains("ships as 2 parcels (PostNL multi-collo)")
            && r.stdout.contains("(1 of them as several parcels;"),
        "{}",
        r.stdout
    );
    assert_eq!(shown.len(), 3.min(left));
    for p in shown {
        assert!(
            std::fs::read(p.as_str().unwrap())
                .unwrap()
                .starts_with(b"%PDF")
        );
    }
}
