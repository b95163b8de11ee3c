//! make-labels like a shipping desk (issue #19): ZPL print files for thermal printers
//! (block count and barcode order, 203 and 300 dpi, raw bytes to a print command,
//! reprints in the stored or another format, no ZPL on A4 sheets) and the batch's pick
//! list (totals against the orders, text on stdout, turned off, no personal data).

use std::process::Command;

use serde_json::{Value, json};

use crate::common::{TestEnv, contains, files_under};
use crate::make_labels::{order, received, store};

/// An NL order whose items are (order item id, SKU, title, quantity).
fn order_with(env: &TestEnv, n: u32, items: &[(&str, &str, &str, i64)]) -> String {
    let id = order(
        env,
        n,
        [&format!("Hoofdstraat {}", n + 1), "", ""],
        "1011 AB",
        "NL",
        "MUG",
    );
    let mut o = env.sb().order(&id).unwrap();
    o["orderItems"] = items
        .iter()
        .map(|(item, sku, title, qty)| {
            json!({
                "orderItemId": item, "quantityOrdered": qty,
                "product": {"sellerSku": sku, "title": title},
            })
        })
        .collect();
    env.sb().add_order(o).unwrap();
    id
}

/// `n` plain NL orders, synced.
fn synced_orders(env: &TestEnv, n: u32) -> Vec<String> {
    let ids = (0..n)
        .map(|i| {
            order(
                env,
                i,
                [&format!("Hoofdstraat {}", i + 1), "", ""],
                "1011 AB",
                "NL",
                "MUG",
            )
        })
        .collect();
    env.run(&["sync-orders"]).assert_code(0);
    ids
}

/// The labels of a ZPL print file: each `^XA … ^XZ` block.
fn blocks(zpl: &str) -> Vec<&str> {
    zpl.match_indices("^XA")
        .map(|(i, _)| {
            let rest = &zpl[i..];
            let end = rest.find("^XZ").expect("every ^XA has its ^XZ") + 3;
            &rest[..end]
        })
        .collect()
}

/// The Code 128 barcode field of one ZPL label.
fn zpl_barcode(block: &str) -> String {
    let at = block.find("^BC").expect("a ^BC Code 128 barcode");
    let fd = block[at..].find("^FD").unwrap() + at + 3;
    let end = block[fd..].find("^FS").unwrap() + fd;
    block[fd..end].to_string()
}

/// The barcodes of the label calls, in the order PostNL received them.
fn barcodes_sent(env: &TestEnv) -> Vec<String> {
    env.calls("postnl.label")
        .iter()
        .filter(|r| r["status"] == 200)
        .flat_map(|r| {
            r["body"]["Shipments"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|s| s["Barcode"].as_str().unwrap().to_string())
        .collect()
}

fn printer_types(env: &TestEnv) -> Vec<String> {
    env.calls("postnl.label")
        .iter()
        .map(|r| {
            r["body"]["Message"]["Printertype"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn pdftotext(path: &std::path::Path) -> String {
    let o = Command::new("pdftotext")
        .args(["-layout"])
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed; .ci/run installs it");
    assert!(o.status.success(), "pdftotext failed");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn pick_lists(env: &TestEnv) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = files_under(&env.data().join("labels"))
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("picklist-")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn issue_19_zpl_print_file_has_one_block_per_label_in_print_order() {
    let env = TestEnv::sandboxed(0);
    env.add_config("labels", "format", "\"zpl-203\"");
    let ids = synced_orders(&env, 6);
    let out = env.data().join("today.zpl");
    let r = env.run(&["--json", "make-labels", "--out", out.to_str().unwrap()]);
    r.assert_code(0);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["format"], "zpl-203");
    assert_eq!(v["pages"], 6);
    assert_eq!(v["labelled"], 6);

    // PostNL was asked for 200 dpi ZPL in every call.
    let types = printer_types(&env);
    assert_eq!(types.len(), 2, "six parcels in two calls of at most four");
    assert!(
        types.iter().all(|t| t == "Zebra|Generic ZPL II 200 dpi"),
        "{types:?}"
    );

    let zpl = std::fs::read_to_string(&out).unwrap();
    assert_eq!(crate::common::mode(&out), 0o600);
    let labels = blocks(&zpl);
    assert_eq!(labels.len(), 6);
    assert_eq!(zpl.matches("^XZ").count(), 6);
    // Nothing but the labels: the file is the blocks one after another.
    assert_eq!(zpl.trim_end(), labels.join("\n"));
    // In print order, which is the order the labels were made: the barcodes as sent.
    let printed: Vec<String> = labels.iter().map(|b| zpl_barcode(b)).collect();
    assert_eq!(printed, barcodes_sent(&env));
    // Each label is the 8 dots/mm size (105 x 148 mm) and shows its address.
    for b in &labels {
        assert!(b.contains("^PW840^LL1184"), "{b}");
        assert!(b.contains("Hoofdstraat"), "{b}");
        assert!(b.contains("1011AB") || b.contains("1011 AB"), "{b}");
    }
    // Stored as ZPL for reprints, each order's label the one PostNL sent.
    for (id, barcode) in ids.iter().zip(&printed) {
        let sent = received(&env);
        assert_eq!(sent[id]["Barcode"], barcode.as_str());
        let label = fulfil::store::labels::label_file(store(&env).conn(), id)
            .unwrap()
            .unwrap();
        assert_eq!(label.format, "zpl-203");
        assert_eq!(label.bytes, env.sb().postnl_label(barcode).unwrap().0);
    }
    // Tracked for purge like a PDF print file.
    let tracked = fulfil::store::labels::tracked_files(store(&env).conn()).unwrap();
    assert_eq!(tracked.len(), 1);
    assert_eq!(tracked[0].0, out.display().to_string());
}

#[test]
fn issue_19_a_300_dpi_run_asks_postnl_for_300_dpi_and_names_the_file_zpl() {
    let env = TestEnv::sandboxed(0);
    synced_orders(&env, 2);
    let r = env.run(&["--json", "make-labels", "--format", "zpl-300"]);
    r.assert_code(0);
    assert_eq!(printer_types(&env), vec!["Zebra|Generic ZPL II 300 dpi"]);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let path = v["print_file"].as_str().unwrap();
    assert_eq!(
        std::path::Path::new(path).extension(),
        Some(std::ffi::OsStr::new("zpl")),
        "{path}"
    );
    let zpl = std::fs::read_to_string(path).unwrap();
    let labels = blocks(&zpl);
    assert_eq!(labels.len(), 2);
    // 12 dots/mm: 105 x 148 mm is 1260 x 1776 dots.
    assert!(labels.iter().all(|b| b.contains("^PW1260^LL1776")), "{zpl}");
}

#[test]
fn issue_19_the_print_command_gets_the_zpl_bytes_unchanged() {
    let env = TestEnv::sandboxed(0);
    synced_orders(&env, 5);
    let sink = env.dir.path().join("zebra-received.zpl");
    let cmd = format!("cat > {}", sink.display());
    env.run(&[
        "make-labels",
        "--format",
        "zpl-203",
        "--print-command",
        &cmd,
    ])
    .assert_code(0);
    let got = std::fs::read(&sink).unwrap();
    // Byte for byte what PostNL made, label after label, in print order.
    let want: Vec<u8> = barcodes_sent(&env)
        .iter()
        .flat_map(|b| env.sb().postnl_label(b).unwrap().0)
        .collect();
    assert_eq!(got, want);
    assert_eq!(blocks(&String::from_utf8(got).unwrap()).len(), 5);
    // No print file on disk; the pick list (no personal data) is.
    let labels = files_under(&env.data().join("labels"));
    assert_eq!(labels, pick_lists(&env), "only the pick list: {labels:?}");
    assert_eq!(
        fulfil::store::labels::tracked_files(store(&env).conn())
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn issue_19_zpl_with_a4_sheets_is_a_usage_error() {
    let env = TestEnv::sandboxed(0);
    synced_orders(&env, 1);
    env.add_config("labels", "layout", "\"a4\"");
    let r = env.run(&["make-labels", "--format", "zpl-203"]);
    r.assert_code(2);
    let e = r.one_error();
    assert!(e.contains("--format zpl-203") && e.contains("a4"), "{e}");
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert!(
        env.calls("postnl.label").is_empty(),
        "nothing was asked of PostNL"
    );
    assert!(env.calls("postnl.barcode").is_empty());

    // The same pair in the config is refused when it is read.
    env.add_config("labels", "format", "\"zpl-203\"");
    let r = env.run(&["make-labels"]);
    r.assert_code(2);
    assert!(r.one_error().contains("labels.format"), "{}", r.stderr);
}

#[test]
fn issue_19_reprint_in_the_stored_format_calls_nobody_and_in_another_asks_for_the_same_barcode() {
    let env = TestEnv::sandboxed(0);
    let ids = synced_orders(&env, 2);
    env.run(&["make-labels", "--format", "zpl-203"])
        .assert_code(0);
    let barcode = received(&env)[&ids[0]]["Barcode"]
        .as_str()
        .unwrap()
        .to_string();
    let stored = fulfil::store::labels::label_file(store(&env).conn(), &ids[0])
        .unwrap()
        .unwrap();

    // Without --format: the stored ZPL, as it is; nobody is called.
    let calls = env.sb().records().len();
    let sink = env.dir.path().join("again.zpl");
    let cmd = format!("cat > {}", sink.display());
    env.run(&["make-labels", "--reprint", &ids[0], "--print-command", &cmd])
        .assert_code(0);
    assert_eq!(std::fs::read(&sink).unwrap(), stored.bytes);
    assert_eq!(env.sb().records().len(), calls, "a reprint calls nobody");
    // Asking for the format it was made in changes nothing either.
    env.run(&[
        "make-labels",
        "--reprint",
        &ids[0],
        "--format",
        "zpl-203",
        "--print-command",
        &cmd,
    ])
    .assert_code(0);
    assert_eq!(env.sb().records().len(), calls);

    // As a PDF: PostNL is asked again, for the same barcode, without announcing the
    // parcel a second time, and the PDF is what gets printed.
    let out = env.data().join("again.pdf");
    let r = env.run(&[
        "--json",
        "make-labels",
        "--reprint",
        &ids[0],
        "--format",
        "pdf",
        "--out",
        out.to_str().unwrap(),
    ]);
    r.assert_code(0);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["made_again"], true);
    let label_calls = env.calls("postnl.label");
    let last = label_calls.last().unwrap();
    assert_eq!(last["body"]["Message"]["Printertype"], "GraphicFile|PDF");
    assert_eq!(last["body"]["Shipments"][0]["Barcode"], barcode.as_str());
    assert_eq!(last["query"]["confirm"], "false", "{last}");
    assert_eq!(env.calls("postnl.barcode").len(), 2, "no new barcode");
    assert!(std::fs::read(&out).unwrap().starts_with(b"%PDF"));
    assert!(pdftotext(&out).contains(&barcode));
    let now = fulfil::store::labels::label_file(store(&env).conn(), &ids[0])
        .unwrap()
        .unwrap();
    assert_eq!(now.format, "pdf");
    assert_eq!(crate::make_labels::stage(&env, &ids[0]), Some("shipped"));
}

#[test]
fn issue_19_labels_of_another_format_wait_for_a_run_in_their_format() {
    let env = TestEnv::sandboxed(0);
    synced_orders(&env, 2);
    // ZPL labels made and stored, the run killed before they were marked printed.
    let mut env = env;
    env.set_env("FULFIL_FAILPOINT", "make-labels:print-file-written");
    let _ = env.run(&["make-labels", "--format", "zpl-203", "--no-confirm"]);
    env.set_env("FULFIL_FAILPOINT", "");
    let unprinted = || {
        env.count(
            "SELECT count(*) FROM parcels WHERE labelled_at IS NOT NULL AND printed_at IS NULL",
        )
    };
    let made = unprinted();
    assert_eq!(made, 2);
    let r = env.run(&["make-labels", "--format", "pdf", "--no-confirm"]);
    r.assert_code(0);
    assert!(
        r.stderr.contains("--format zpl-203"),
        "the warning names the format that prints them: {}",
        r.stderr
    );
    assert_eq!(unprinted(), made, "no ZPL went into a PDF file");
    let out = env.data().join("zebra.zpl");
    env.run(&[
        "make-labels",
        "--format",
        "zpl-203",
        "--no-confirm",
        "--out",
        out.to_str().unwrap(),
    ])
    .assert_code(0);
    assert_eq!(unprinted(), 0);
    assert_eq!(
        blocks(&std::fs::read_to_string(&out).unwrap()).len() as u64,
        made
    );
}

#[test]
fn issue_19_pick_list_totals_match_the_orders_and_name_no_buyer() {
    let env = TestEnv::sandboxed(0);
    let canaries = crate::sync_orders::add_canary_order(&env);
    let a = order_with(
        &env,
        1,
        &[
            ("101", "MUG-RED", "Rode mok", 2),
            ("102", "TEA-50", "Thee, 50 zakjes", 1),
        ],
    );
    let b = order_with(
        &env,
        2,
        &[
            ("201", "MUG-RED", "Rode mok", 3),
            ("202", "GONE", "Verwijderd", 0),
        ],
    );
    env.run(&["sync-orders"]).assert_code(0);
    let r = env.run(&["make-labels", "--pick-list", "-"]);
    r.assert_code(0);
    let text = r.stdout.clone();
    // The canary order (MUG-1 x1) is in the batch too.
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "# pick list: 3 labels, 7 units", "{text}");
    assert!(lines.contains(&"total\tMUG-RED\t5\tRode mok"), "{text}");
    assert!(
        lines.contains(&"total\tTEA-50\t1\tThee, 50 zakjes"),
        "{text}"
    );
    assert!(lines.contains(&"total\tMUG-1\t1\tMok"), "{text}");
    assert!(
        !text.contains("GONE"),
        "an item without quantity is not picked"
    );
    // Each order with its label's number in the print file, which is print order.
    let order_lines: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("order\t"))
        .collect();
    assert_eq!(order_lines.len(), 3);
    let printed: Vec<String> = fulfil::store::labels::tracked_files(store(&env).conn())
        .unwrap()
        .into_iter()
        .map(|(_, _, ids)| ids)
        .collect();
    let print_order: Vec<String> = serde_json::from_str(&printed[0]).unwrap();
    for (n, id) in print_order.iter().enumerate() {
        assert_eq!(order_lines[n], format!("order\t{id}\t{}", n + 1));
    }
    assert!(lines.contains(&format!("item\t{a}\tTEA-50\t1\tThee, 50 zakjes").as_str()));
    assert!(lines.contains(&format!("item\t{b}\tMUG-RED\t3\tRode mok").as_str()));
    for c in &canaries {
        assert!(!text.contains(c.as_str()), "{c} in the pick list");
    }
    assert!(pick_lists(&env).is_empty(), "`-` writes no file");
}

#[test]
fn issue_19_pick_list_pdf_by_default_and_none_when_turned_off() {
    let mut env = TestEnv::sandboxed(0);
    let canaries = crate::sync_orders::add_canary_order(&env);
    order_with(&env, 1, &[("101", "VASE-XL", "Vaas, extra groot", 2)]);
    env.run(&["sync-orders"]).assert_code(0);
    env.set_env("FULFIL_LOG", "trace");
    let r = env.run(&["-vvv", "make-labels"]);
    r.assert_code(0);
    let lists = pick_lists(&env);
    assert_eq!(lists.len(), 1, "{lists:?}");
    let list = &lists[0];
    assert_eq!(crate::common::mode(list), 0o600);
    let text = pdftotext(list);
    assert!(text.contains("Pick list"), "{text}");
    assert!(
        text.contains("VASE-XL") && text.contains("Vaas, extra groot"),
        "{text}"
    );
    assert!(text.contains("2 labels, 3 units"), "{text}");
    let bytes = std::fs::read(list).unwrap();
    for c in &canaries {
        assert!(!text.contains(c.as_str()), "{c} in the pick list");
        assert!(!contains(&bytes, c), "{c} in the pick list's bytes");
        assert!(!r.stderr.contains(c.as_str()), "{c} in the log");
    }
    // Not tracked for purge: it holds nothing to remove.
    let tracked = fulfil::store::labels::tracked_files(store(&env).conn()).unwrap();
    assert!(tracked.iter().all(|(p, _, _)| !p.contains("picklist")));

    // Turned off: no pick list, the labels still made.
    let env = TestEnv::sandboxed(0);
    env.add_config("labels", "pick_list", "false");
    synced_orders(&env, 1);
    env.run(&["make-labels"]).assert_code(0);
    assert!(pick_lists(&env).is_empty());
    // A run that makes no labels writes none either.
    let env = TestEnv::sandboxed(0);
    env.run(&["make-labels"]).assert_code(0);
    assert!(pick_lists(&env).is_empty());
}

/// The confirmations Amazon accepted for an order: (packageReferenceId, trackingNumber,
/// items as (order item id, quantity)).
type Confirmation = (String, String, Vec<(String, i64)>);

fn confirmations(env: &TestEnv, id: &str) -> Vec<Confirmation> {
    let mut out: Vec<_> = env
        .sb()
        .shipments()
        .into_iter()
        .filter(|s| s["orderId"] == id)
        .map(|s| {
            let d = &s["packageDetail"];
            let items = d["orderItems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    (
                        i["orderItemId"].as_str().unwrap().to_string(),
                        i["quantity"].as_i64().unwrap(),
                    )
                })
                .collect();
            (
                d["packageReferenceId"].as_str().unwrap().to_string(),
                d["trackingNumber"].as_str().unwrap().to_string(),
                items,
            )
        })
        .collect();
    out.sort();
    out
}

/// An NL order of 3 mugs (400 g) and 2 vases (1500 g) with a 2 kg maximum per parcel:
/// three parcels (not synced yet).
fn heavy_order(env: &TestEnv) -> String {
    env.append_config(
        "[labels.weights]\nMUG = 400\nVASE = 1500\n\n[labels.parcels]\nmax_weight_g = 2000\n",
    );
    order_with(
        env,
        5,
        &[("501", "MUG", "Mok", 3), ("502", "VASE", "Vaas", 2)],
    )
}

/// Checks what PostNL and Amazon got for the three-parcel order of `heavy_order`: one
/// label call with the whole group, three confirmations with disjoint items that add up
/// to the order, each with its own packageReferenceId and tracking number.
fn assert_shipped_as_three(env: &TestEnv, id: &str) -> Vec<String> {
    let group: Vec<Value> = env
        .calls("postnl.label")
        .into_iter()
        .filter(|r| r["status"] == 200)
        .flat_map(|r| {
            r["body"]["Shipments"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|s| s["Reference"] == id)
        .collect();
    let barcodes: Vec<String> = group
        .iter()
        .map(|s| s["Barcode"].as_str().unwrap().to_string())
        .collect();
    let unique: std::collections::BTreeSet<_> = barcodes.iter().collect();
    assert_eq!(unique.len(), 3, "three barcodes: {barcodes:?}");
    for s in &group {
        let g = &s["Groups"][0];
        assert_eq!(g["GroupType"], "03");
        assert_eq!(g["GroupCount"], 3);
        assert_eq!(g["MainBarcode"], barcodes[0].as_str());
        assert!(
            s.get("Amounts").is_none(),
            "no insurance amount on any parcel"
        );
        assert!(s["Dimension"]["Weight"].as_u64().unwrap() <= 2000);
    }
    let seqs: Vec<u64> = group
        .iter()
        .map(|s| s["Groups"][0]["GroupSequence"].as_u64().unwrap())
        .collect();
    assert_eq!(&seqs[..3], &[1, 2, 3]);
    let confirmed = confirmations(env, id);
    assert_eq!(
        confirmed.len(),
        3,
        "one confirmation per parcel: {confirmed:?}"
    );
    let refs: Vec<&str> = confirmed.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(refs, ["1", "2", "3"]);
    let mut tracking: Vec<String> = confirmed.iter().map(|c| c.1.clone()).collect();
    tracking.sort();
    let mut want = barcodes[..3].to_vec();
    want.sort();
    assert_eq!(tracking, want, "each parcel's own tracking number");
    let mut total = std::collections::BTreeMap::<String, i64>::new();
    for (_, _, items) in &confirmed {
        assert!(!items.is_empty());
        for (item, q) in items {
            *total.entry(item.clone()).or_default() += q;
        }
    }
    assert_eq!(
        total,
        [("501".to_string(), 3), ("502".to_string(), 2)]
            .into_iter()
            .collect(),
        "the parcels' items add up to the order"
    );
    assert_eq!(crate::make_labels::stage(env, id), Some("shipped"));
    barcodes[..3].to_vec()
}

#[test]
fn issue_19_an_order_over_the_weight_limit_ships_as_a_multi_collo_group() {
    let env = TestEnv::sandboxed(0);
    let id = heavy_order(&env);
    // Two one-parcel orders before it (ids sort first): 2 + 3 parcels are more than a
    // call takes, and a group is never split over two calls.
    let first = order(&env, 3, ["Kerkweg 2", "", ""], "1011 AB", "NL", "MUG");
    let second = order(&env, 4, ["Kerkweg 4", "", ""], "1011 AB", "NL", "MUG");
    env.run(&["sync-orders"]).assert_code(0);
    let out = env.data().join("today.zpl");
    let r = env.run(&[
        "--json",
        "make-labels",
        "--format",
        "zpl-203",
        "--out",
        out.to_str().unwrap(),
        "--pick-list",
        "-",
    ]);
    r.assert_code(0);
    let calls = env.calls("postnl.label");
    let sizes: Vec<usize> = calls
        .iter()
        .map(|c| c["body"]["Shipments"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![2, 3]);
    let barcodes = assert_shipped_as_three(&env, &id);
    assert_eq!(env.calls("postnl.barcode").len(), 5);
    // Five labels in the print file: the two orders, then the group's three in sequence.
    let zpl = std::fs::read_to_string(&out).unwrap();
    let printed: Vec<String> = blocks(&zpl).iter().map(|b| zpl_barcode(b)).collect();
    assert_eq!(printed.len(), 5);
    assert_eq!(&printed[2..], barcodes.as_slice());
    // The pick list counts the order's items once and names its three labels.
    let text = r.stdout.as_str();
    assert!(
        text.starts_with("# pick list: 5 labels, 7 units\n"),
        "{text}"
    );
    assert!(text.contains(&format!("order\t{first}\t1\n")), "{text}");
    assert!(text.contains(&format!("order\t{second}\t2\n")), "{text}");
    assert!(text.contains(&format!("order\t{id}\t3,4,5\n")), "{text}");
    assert!(text.contains("total\tMUG\t5\t"), "{text}");
    // A reprint prints the whole group.
    let sink = env.dir.path().join("again.zpl");
    let cmd = format!("cat > {}", sink.display());
    env.run(&["make-labels", "--reprint", &id, "--print-command", &cmd])
        .assert_code(0);
    let again = std::fs::read_to_string(&sink).unwrap();
    let again: Vec<String> = blocks(&again).iter().map(|b| zpl_barcode(b)).collect();
    assert_eq!(again, barcodes);
    // ... and as a PDF, PostNL is asked again for the whole group, announcing nothing.
    let pdf = env.data().join("group.pdf");
    env.run(&[
        "make-labels",
        "--reprint",
        &id,
        "--format",
        "pdf",
        "--out",
        pdf.to_str().unwrap(),
    ])
    .assert_code(0);
    let last = env.calls("postnl.label").pop().unwrap();
    assert_eq!(last["query"]["confirm"], "false");
    let asked: Vec<&str> = last["body"]["Shipments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Barcode"].as_str().unwrap())
        .collect();
    assert_eq!(
        asked,
        barcodes.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        last["body"]["Shipments"][2]["Groups"][0]["GroupSequence"],
        3
    );
    let text = pdftotext(&pdf);
    for b in &barcodes {
        assert!(text.contains(b.as_str()), "{b} in the reprint");
    }
    // A rerun does nothing more.
    let before = env.sb().records().len();
    env.run(&["make-labels"]).assert_code(0);
    assert_eq!(env.sb().records().len(), before);
}

#[test]
fn issue_19_review_split_and_multi_collo_only_within_nl_and_be() {
    let env = TestEnv::sandboxed(0);
    env.append_config("[labels.parcels]\nalone = [\"VASE\"]\n");
    // Two vases to Germany would be two parcels: no multi-collo there, so review.
    let de = order(&env, 7, ["Industriestr. 8", "", ""], "10115", "DE", "VASE");
    let mut o = env.sb().order(&de).unwrap();
    o["orderItems"][0]["quantityOrdered"] = json!(2);
    env.sb().add_order(o).unwrap();
    let nl = order_with(
        &env,
        8,
        &[("801", "MUG", "Mok", 2), ("802", "TEA", "Thee", 1)],
    );
    env.run(&["sync-orders"]).assert_code(0);

    // A person splits the NL order before its label: bad counts are refused first.
    let r = env.run(&["review", "split", &nl, "--parcels", "5"]);
    r.assert_code(2);
    let r = env.run(&["review", "split", &nl, "--parcels", "4"]);
    r.assert_code(1);
    assert!(r.one_error().contains("3 units"), "{}", r.stderr);
    let r = env.run(&["review", "split", &de, "--parcels", "2"]);
    r.assert_code(1);
    assert!(r.one_error().contains("NL and BE"), "{}", r.stderr);
    env.run(&["review", "split", &nl, "--parcels", "2"])
        .assert_code(0);

    let r = env.run(&["make-labels"]);
    r.assert_code(3);
    assert_eq!(
        crate::make_labels::reasons(&env)
            .get(&de)
            .map(String::as_str),
        Some("multi_collo_country")
    );
    assert!(
        env.calls("postnl.barcode").len() == 2,
        "none for the German order"
    );
    let confirmed = confirmations(&env, &nl);
    assert_eq!(confirmed.len(), 2);
    let units: i64 = confirmed.iter().flat_map(|c| &c.2).map(|(_, q)| q).sum();
    assert_eq!(units, 3);
    // Once its barcodes are reserved, the split is what it is.
    let r = env.run(&["review", "split", &nl, "--parcels", "1"]);
    r.assert_code(1);
}

/// Issue #19: a kill at every crash point of the multi-collo flow, then a rerun: one set
/// of barcodes, each parcel confirmed once, the order shipped.
#[test]
fn issue_19_multi_collo_survives_a_kill_at_every_crash_point() {
    for point in [
        "make-labels:barcodes-reserved",
        "make-labels:label-answered",
        "make-labels:print-file-written",
        "make-labels:confirm-sent@1",
        "make-labels:confirm-sent@2",
        "make-labels:confirm-sent@3",
    ] {
        let mut env = TestEnv::sandboxed(0);
        let id = heavy_order(&env);
        env.run(&["sync-orders"]).assert_code(0);
        env.set_env("FULFIL_FAILPOINT", point);
        let r = env.run(&["make-labels"]);
        assert_ne!(r.code, 0, "{point}: the run was killed");
        env.set_env("FULFIL_FAILPOINT", "");
        env.run(&["make-labels"]).assert_code(0);
        let barcodes = assert_shipped_as_three(&env, &id);
        assert_eq!(
            env.calls("postnl.barcode").len(),
            3,
            "{point}: never a second set of barcodes"
        );
        // Only a lost answer makes PostNL label the same barcodes again.
        let made: Vec<u32> = barcodes
            .iter()
            .map(|b| env.sb().postnl_label(b).unwrap().1)
            .collect();
        let want = if point == "make-labels:label-answered" {
            2
        } else {
            1
        };
        assert_eq!(made, vec![want; 3], "{point}");
        let parcels = fulfil::store::labels::parcels(store(&env).conn(), &id).unwrap();
        assert_eq!(parcels.len(), 3, "{point}");
        assert!(parcels.iter().all(|p| p.confirmed_at.is_some()), "{point}");
        // Every label was printed once: in the killed run's file or the rerun's.
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) FROM parcels WHERE order_id = '{id}' AND printed_at IS NULL"
            )),
            0,
            "{point}"
        );
    }
}

/// Issue #19: PostNL refusing a group (here a child collo counted as insured, which the
/// sandbox does for a Reference starting SANDBOX-GROUP-INSURED) sends that order to
/// review with the group's reason; the other orders of the call still get labels.
#[test]
fn issue_19_a_refused_group_goes_to_review_with_a_reason() {
    let env = TestEnv::sandboxed(0);
    env.append_config("[labels.parcels]\nalone = [\"VASE\"]\n");
    let good = order(&env, 1, ["Hoofdstraat 1", "", ""], "1011 AB", "NL", "MUG");
    let id = "SANDBOX-GROUP-INSURED-001";
    let mut o = env.sb().order(&good).unwrap();
    o["orderId"] = json!(id);
    o["orderItems"] = json!([{
        "orderItemId": "901", "quantityOrdered": 2,
        "product": {"sellerSku": "VASE", "title": "Vaas"},
    }]);
    env.sb().add_order(o).unwrap();
    env.run(&["sync-orders"]).assert_code(0);
    let r = env.run(&["--json", "make-labels"]);
    r.assert_code(3);
    assert_eq!(
        crate::make_labels::reasons(&env)
            .get(id)
            .map(String::as_str),
        Some("postnl_group_21005")
    );
    assert_eq!(crate::make_labels::stage(&env, id), Some("review"));
    assert_eq!(crate::make_labels::stage(&env, &good), Some("shipped"));
    // Nothing of the group was labelled or confirmed, and its barcodes stay reserved
    // (a rerun would reuse them).
    assert!(confirmations(&env, id).is_empty());
    let parcels = fulfil::store::labels::parcels(store(&env).conn(), id).unwrap();
    assert_eq!(parcels.len(), 2);
    assert!(parcels.iter().all(|p| p.labelled_at.is_none()));
    assert!(
        fulfil::store::labels::label_files(store(&env).conn(), id)
            .unwrap()
            .is_empty()
    );
    let review = env.run(&["review"]);
    assert!(
        review
            .stdout
            .contains(&format!("{id}  make-labels       postnl_group_21005")),
        "{}",
        review.stdout
    );
}
