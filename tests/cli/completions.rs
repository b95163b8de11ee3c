//! `fulfil completions` and `fulfil man`: every command in the scripts and the pages.

use crate::common::TestEnv;

/// The subcommands a user can type; completions and man pages must know all of them.
const SUBCOMMANDS: &[&str] = &[
    "init",
    "status",
    "sync-orders",
    "make-labels",
    "make-invoices",
    "tax-report",
    "rates",
    "confirm-shipments",
    "review",
    "purge",
    "forget-order",
    "rotate-key",
    "sandbox",
    "demo",
    "completions",
    "man",
    "doctor",
    "audit",
];

#[test]
fn completions_cover_every_command_and_are_valid_bash() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = env.run(&["--json", "completions", shell]);
        r.assert_code(0);
        for sub in SUBCOMMANDS {
            assert!(r.stdout.contains(sub), "{shell} completions lack {sub}");
        }
        // --json must not append a summary to the script.
        assert!(
            !r.stdout.contains("\"shell\""),
            "{shell}: JSON in the script"
        );
    }
    let r = env.run(&["completions", "bash"]);
    let script = env.dir.path().join("fulfil.bash");
    std::fs::write(&script, &r.stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let r = env.run(&["completions", "tcsh"]);
    r.assert_code(2);
    assert!(r.stderr.contains("possible values"), "{}", r.stderr);
}

#[test]
fn man_page_to_stdout_and_one_page_per_command() {
    let env = TestEnv::new();
    let r = env.run(&["man"]);
    r.assert_code(0);
    assert!(r.stdout.contains(".TH fulfil 1"), "{}", &r.stdout[..200]);
    assert!(r.stdout.contains("Exit codes"), "exit codes missing");
    for sub in SUBCOMMANDS {
        assert!(
            r.stdout.contains(&sub.replace('-', "\\-")),
            "man lacks {sub}"
        );
    }

    let dir = env.dir.path().join("man1");
    let r = env.run(&["--json", "man", "--dir", dir.to_str().unwrap()]);
    r.assert_code(0);
    let summary: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(summary["pages"], pages.len());
    for sub in SUBCOMMANDS {
        assert!(
            pages.contains(&format!("fulfil-{sub}.1")),
            "no page for {sub}: {pages:?}"
        );
    }
    assert!(pages.contains(&"fulfil.1".to_string()));
    assert!(pages.contains(&"fulfil-review-set-address.1".to_string()));
    // A subcommand's page shows how it is typed and the global flags.
    let page = std::fs::read_to_string(dir.join("fulfil-review-accept.1")).unwrap();
    assert!(page.contains("fulfil review accept"), "{page}");
    assert!(page.contains("\\-\\-config"), "{page}");
}
