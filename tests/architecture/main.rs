//! The shape of the house, checked: what may import what in `src/` (docs/architecture.md
//! draws it). Reads the source as text: every `crate::a::b` path and `use crate::{…}` in
//! a file's product code (comments and `#[cfg(test)]` modules left out) is an edge from
//! that file to the file of the longest module path it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under src/, by module path (`invoice::rates`, `lib` for the root).
fn modules() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&root).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    let last = parts.pop().unwrap();
                    if parts.is_empty() {
                        parts.push(last);
                    }
                }
                out.insert(parts.join("::"), product_code(&path));
            }
        }
    }
    out
}

/// The file without comments and without its `#[cfg(test)]` part (tests sit at the end
/// of a file, or in a file of their own that is then not product code at all).
fn product_code(path: &PathBuf) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    if text.starts_with("//! Fidelity tests") || path.ends_with("render/tests.rs") {
        return String::new();
    }
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module a `crate::` path names: its longest prefix that is a module.
fn resolve<'a>(mods: &'a BTreeMap<String, String>, path: &[&str]) -> Option<&'a str> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find_map(|p| mods.get_key_value(&p).map(|(k, _)| k.as_str()))
}

fn edges(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, code) in mods {
        let set = out.entry(m.clone()).or_default();
        let mut add = |path: Vec<&str>| {
            if let Some(t) = resolve(mods, &path)
                && t != m
            {
                set.insert(t.to_owned());
            }
        };
        // `crate::a::b::c` anywhere.
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let path: Vec<&str> = rest[..end].split("::").filter(|s| !s.is_empty()).collect();
            if !path.is_empty() {
                add(path);
            }
            // `use crate::{a, b::c}` and `crate::x::{a, b}`.
            if rest[end..].starts_with('{') {
                let group = &rest[end + 1..rest[end..].find('}').map_or(rest.len(), |j| end + j)];
                let base: Vec<&str> = rest[..end].split("::").filter(|s| !s.is_empty()).collect();
                for item in group.split(',') {
                    let mut p = base.clone();
                    p.extend(
                        item.trim()
                            .split("::")
                            .map(str::trim)
                            .filter(|s| !s.is_empty()),
                    );
                    add(p);
                }
            }
        }
        // `super::x` inside a module directory.
        let parent: Vec<&str> = m.split("::").collect();
        let parent = &parent[..parent.len().saturating_sub(1)];
        for (i, _) in code.match_indices("super::") {
            let rest = &code[i + "super::".len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let mut p: Vec<&str> = parent.to_vec();
            p.extend(rest[..end].split("::").filter(|s| !s.is_empty()));
            add(p);
        }
    }
    out
}

fn top(m: &str) -> &str {
    m.split("::").next().unwrap()
}

/// Strongly connected components of more than `min` modules (Tarjan).
fn circles(g: &BTreeMap<String, BTreeSet<String>>, min: usize) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in &t.g[v] {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            t.out.push(comp);
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out.into_iter().filter(|c| c.len() > min).collect()
}

#[test]
fn no_import_circle_of_more_than_two_files() {
    let g = edges(&modules());
    assert!(g.len() > 60, "{} modules read", g.len());
    let big = circles(&g, 2);
    assert!(big.is_empty(), "import circles: {big:?}");
}

#[test]
fn the_leaves_import_nothing_of_the_project() {
    let g = edges(&modules());
    assert!(g["error"].is_empty(), "error imports {:?}", g["error"]);
    // The next ring up may use the error kinds and the crash points, nothing else.
    for leaf in ["clock", "failpoint", "trust", "files", "printable", "zone"] {
        let other: Vec<&String> = g[leaf]
            .iter()
            .filter(|t| !matches!(t.as_str(), "error" | "failpoint"))
            .collect();
        assert!(other.is_empty(), "{leaf} imports {other:?}");
    }
}

#[test]
fn what_must_never_import_what() {
    let g = edges(&modules());
    let imports = |from: &str, to_top: &str| -> Vec<String> {
        g.iter()
            .filter(|(m, _)| m.as_str() == from || m.starts_with(&format!("{from}::")))
            .flat_map(|(m, ts)| {
                ts.iter()
                    .filter(|t| top(t) == to_top)
                    .map(move |t| format!("{m} -> {t}"))
            })
            .collect()
    };
    // Only the sandbox's own commands reach into the simulator.
    for (m, ts) in &g {
        if top(m) == "sandbox"
            || ["commands::sandbox", "commands::demo", "commands::init"].contains(&m.as_str())
        {
            continue;
        }
        assert!(
            !ts.iter().any(|t| top(t) == "sandbox"),
            "{m} imports the sandbox: {ts:?}"
        );
    }
    // The clients share the transport and import no other client.
    for client in ["spapi", "postnl", "fx", "vies", "tedb"] {
        for other in ["spapi", "postnl", "fx", "vies", "tedb"] {
            if client != other {
                let found = imports(client, other);
                assert!(found.is_empty(), "{found:?}");
            }
        }
    }
    // The invoice domain is pure: no HTTP and no client.
    for to in [
        "transport",
        "spapi",
        "postnl",
        "fx",
        "vies",
        "tedb",
        "ctx",
        "commands",
    ] {
        let found = imports("invoice", to);
        assert!(found.is_empty(), "{found:?}");
    }
    let invoice_code: String = modules()
        .iter()
        .filter(|(m, _)| top(m) == "invoice")
        .map(|(_, c)| c.clone())
        .collect();
    assert!(
        !invoice_code.contains("reqwest"),
        "src/invoice uses reqwest"
    );
    // Nothing below the commands imports a command, and the context imports neither
    // the command line nor a command.
    for (m, ts) in &g {
        if top(m) == "commands" || m == "lib" || m == "cli" {
            continue;
        }
        let found: Vec<&String> = ts
            .iter()
            .filter(|t| top(t) == "commands" || t.as_str() == "cli")
            .collect();
        assert!(found.is_empty(), "{m} imports {found:?}");
    }
}

#[test]
fn sql_lives_in_the_store() {
    for (m, code) in modules() {
        if top(&m) == "store" || top(&m) == "sandbox" {
            continue;
        }
        // A statement is a string literal handed to one of rusqlite's calls.
        for needle in [
            ".prepare(",
            ".prepare_cached(",
            ".execute(",
            ".query_row(",
            ".execute_batch(",
        ] {
            for (i, _) in code.match_indices(needle) {
                let next = code[i + needle.len()..].trim_start();
                assert!(
                    !(next.starts_with('"') || next.starts_with("r\"") || next.starts_with("r#")),
                    "{m} runs SQL ({needle}); it belongs in src/store"
                );
            }
        }
    }
}
