//! The splitter measured on a corpus of addresses taken from other projects' public
//! splitter tests (`tests/data/address_corpus.tsv`, each case with its source) and on
//! the team's table of address cases (issue #18).
//!
//! Every case ends in one of three buckets, the way a seller sees it: labelled right (a
//! `Sure` split equal to the expected one), sent to review (a `Review`, or a `Check`
//! without a register to confirm it), or labelled wrong (a `Sure` split that differs).
//! The targets are no case labelled wrong, and at least 95 % of the cases with one
//! reading labelled without review.

use super::address::{AddressInput, Confidence, split};

const CORPUS: &str = include_str!("../../tests/data/address_corpus.tsv");

/// One corpus line.
pub(crate) struct Case<'a> {
    pub class: &'a str,
    pub country: &'a str,
    pub lines: [&'a str; 2],
    pub street: &'a str,
    pub nr: &'a str,
    pub ext: &'a str,
    /// The source's repository (or the issue), without commit and path.
    pub source: &'a str,
}

pub(crate) fn cases() -> Vec<Case<'static>> {
    CORPUS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 8, "corpus line has 8 fields: {l}");
            Case {
                class: f[0],
                country: f[1],
                lines: [f[2], f[3]],
                street: f[4],
                nr: f[5],
                ext: f[6],
                source: f[7]
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .split(" (")
                    .next()
                    .unwrap_or_default(),
            }
        })
        .collect()
}

pub(crate) fn zip_for(country: &str) -> &'static str {
    match country {
        "NL" => "1011 AB",
        "BE" => "1000",
        _ => "10115",
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub right: usize,
    pub review: usize,
    pub wrong: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bucket {
    Right,
    Review,
    Wrong,
}

fn bucket(case: &Case<'_>) -> Bucket {
    let input = AddressInput {
        lines: [case.lines[0], case.lines[1], ""],
        company: None,
        postal_code: zip_for(case.country),
        country: case.country,
    };
    match split(&input) {
        Ok(s) if s.confidence == Confidence::Sure => {
            if case.class != "reject"
                && s.street == case.street
                && s.house_nr == case.nr
                && s.house_nr_ext == case.ext
            {
                Bucket::Right
            } else {
                Bucket::Wrong
            }
        }
        Err(_) if case.class == "reject" => Bucket::Right,
        Ok(_) | Err(_) => Bucket::Review,
    }
}

#[test]
fn corpus_measurement() {
    let mut by_class: std::collections::BTreeMap<&str, Tally> =
        std::collections::BTreeMap::default();
    let mut by_source: std::collections::BTreeMap<(&str, &str), Tally> =
        std::collections::BTreeMap::default();
    let mut wrong = Vec::new();
    let mut review = Vec::new();
    for case in cases() {
        let t = by_class.entry(case.class).or_default();
        let b = bucket(&case);
        let u = by_source.entry((case.class, case.source)).or_default();
        match b {
            Bucket::Right => u.right += 1,
            Bucket::Review => u.review += 1,
            Bucket::Wrong => u.wrong += 1,
        }
        match b {
            Bucket::Right => t.right += 1,
            Bucket::Review => {
                t.review += 1;
                if case.class == "label" {
                    review.push(format!("{} {:?}", case.country, case.lines));
                }
            }
            Bucket::Wrong => {
                t.wrong += 1;
                wrong.push(format!("{} {:?}", case.country, case.lines));
            }
        }
    }
    eprintln!("corpus by class: {by_class:?}");
    for (key, t) in &by_source {
        eprintln!("corpus {key:?}: {t:?}");
    }
    eprintln!("labelled wrong: {wrong:#?}");
    eprintln!("label-class cases sent to review: {review:#?}");
    assert!(wrong.is_empty(), "labelled wrong: {wrong:#?}");
    let label = by_class.get("label").copied().unwrap_or_default();
    let total = label.right + label.review + label.wrong;
    assert!(total > 0);
    assert!(
        label.right * 100 >= total * 95,
        "only {} of {total} one-reading addresses labelled",
        label.right
    );
}
