//! How many parcels an order ships as, and what goes in each (multi-collo, issue #19).
//! Pure: the order's items and the `[labels.parcels]` rules (or a person's `fulfil
//! review split ORDER --parcels N`) in, the parcels with their items and weights out.
//!
//! The rules, in this order: a SKU listed in `boxes` comes in that many boxes per unit
//! (the unit's item goes in its first box, so only that box is confirmed to Amazon:
//! Amazon takes no package without items); a SKU in `alone` ships every unit in a
//! parcel of its own; the other units share parcels of at most `max_weight_g` (heaviest
//! first, each into the first parcel it fits in; a unit heavier than the maximum still
//! gets a parcel of its own). Without rules an order is one parcel. PostNL takes at most
//! four parcels in one label call, so an order that would need more goes to review. A
//! person's number of parcels replaces the rules; 1 ships the order as one parcel.

use crate::config::LabelsSection;

/// Most parcels one order ships as: one label call holds the whole group.
pub const MAX_PARCELS: usize = 4;

/// One parcel of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParcelPlan {
    /// (order item id, quantity) in this parcel; empty for a further box of a SKU that
    /// comes in several boxes.
    pub items: Vec<(String, i64)>,
    /// Grams, at least 1.
    pub weight_g: u32,
}

/// Why an order cannot be split as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    /// The rules give more parcels than one label call takes.
    TooMany(usize),
    /// A person asked for more parcels than the order has units.
    TooFewUnits { units: usize, asked: usize },
}

impl SplitError {
    /// The review reason code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            SplitError::TooMany(_) => "too_many_parcels",
            SplitError::TooFewUnits { .. } => "too_few_units",
        }
    }
}

struct Unit<'a> {
    item: &'a str,
    sku: &'a str,
    grams: u64,
}

fn grams_of(sku: &str, cfg: &LabelsSection) -> u64 {
    u64::from(
        cfg.weights
            .get(sku)
            .copied()
            .unwrap_or(cfg.default_weight_g),
    )
}

/// Splits an order's items (order item id, SKU, quantity; quantities of 0 are left out)
/// into parcels: by the config's rules, or into `asked` parcels of about equal weight.
///
/// # Errors
/// [`SplitError`] when the result would be more than [`MAX_PARCELS`], or `asked` is
/// more than the order's units.
pub fn split(
    items: &[(String, String, i64)],
    cfg: &LabelsSection,
    asked: Option<usize>,
) -> Result<Vec<ParcelPlan>, SplitError> {
    let units: Vec<Unit<'_>> = items
        .iter()
        .filter(|(_, _, q)| *q > 0)
        .flat_map(|(item, sku, q)| {
            (0..*q).map(move |_| Unit {
                item: item.as_str(),
                sku: sku.as_str(),
                grams: 0,
            })
        })
        .map(|mut u| {
            u.grams = grams_of(u.sku, cfg);
            u
        })
        .collect();
    let mut bins: Vec<Vec<&Unit<'_>>> = Vec::new();
    // Extra boxes: (weight) with no items.
    let mut empty_boxes: Vec<u64> = Vec::new();
    if let Some(n) = asked {
        if n > units.len() {
            return Err(SplitError::TooFewUnits {
                units: units.len(),
                asked: n,
            });
        }
        if n > MAX_PARCELS {
            return Err(SplitError::TooMany(n));
        }
        bins = vec![Vec::new(); n.max(1)];
        let mut order: Vec<&Unit<'_>> = units.iter().collect();
        order.sort_by_key(|u| std::cmp::Reverse(u.grams));
        for u in order {
            // The lightest parcel (an empty one first) takes the next heaviest unit.
            let target = (0..bins.len())
                .min_by_key(|&i| (bins[i].iter().map(|u| u.grams).sum::<u64>(), bins[i].len()))
                .unwrap_or(0);
            bins[target].push(u);
        }
    } else {
        let rules = &cfg.parcels;
        let mut shared: Vec<&Unit<'_>> = Vec::new();
        let mut alone: Vec<Vec<&Unit<'_>>> = Vec::new();
        let mut boxed: Vec<Vec<&Unit<'_>>> = Vec::new();
        for u in &units {
            match rules.boxes.get(u.sku).copied().filter(|b| *b > 1) {
                Some(b) => {
                    let each = u.grams.div_ceil(u64::from(b));
                    boxed.push(vec![u]);
                    empty_boxes.extend(std::iter::repeat_n(each, b as usize - 1));
                }
                None if rules.alone.iter().any(|s| s == u.sku) => alone.push(vec![u]),
                None => shared.push(u),
            }
        }
        match rules.max_weight_g {
            Some(max) => {
                let max = u64::from(max);
                shared.sort_by_key(|u| std::cmp::Reverse(u.grams));
                let mut packed: Vec<Vec<&Unit<'_>>> = Vec::new();
                for u in shared {
                    let fits = packed
                        .iter()
                        .position(|b| b.iter().map(|x| x.grams).sum::<u64>() + u.grams <= max);
                    match fits {
                        Some(i) => packed[i].push(u),
                        None => packed.push(vec![u]),
                    }
                }
                bins.extend(packed);
            }
            None if !shared.is_empty() => bins.push(shared),
            None => {}
        }
        bins.extend(alone);
        // A boxed unit's first box carries the item, with its share of the weight.
        for b in boxed {
            bins.push(b);
        }
    }
    let boxes = &cfg.parcels.boxes;
    let mut out: Vec<ParcelPlan> = bins
        .into_iter()
        .filter(|b| !b.is_empty())
        .map(|b| {
            let mut items: Vec<(String, i64)> = Vec::new();
            let mut grams = 0u64;
            for u in b {
                grams += match boxes
                    .get(u.sku)
                    .copied()
                    .filter(|n| *n > 1 && asked.is_none())
                {
                    Some(n) => u.grams.div_ceil(u64::from(n)),
                    None => u.grams,
                };
                match items.iter_mut().find(|(i, _)| i == u.item) {
                    Some(e) => e.1 += 1,
                    None => items.push((u.item.to_string(), 1)),
                }
            }
            ParcelPlan {
                items,
                weight_g: u32::try_from(grams.max(1)).unwrap_or(u32::MAX),
            }
        })
        .collect();
    out.extend(empty_boxes.into_iter().map(|g| ParcelPlan {
        items: Vec::new(),
        weight_g: u32::try_from(g.max(1)).unwrap_or(u32::MAX),
    }));
    if out.len() > MAX_PARCELS {
        return Err(SplitError::TooMany(out.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ParcelRules;

    fn cfg(rules: ParcelRules) -> LabelsSection {
        LabelsSection {
            weights: [
                ("MUG".to_string(), 400),
                ("VASE".to_string(), 1500),
                ("TABLE".to_string(), 18_000),
                ("BIKE".to_string(), 14_000),
            ]
            .into_iter()
            .collect(),
            parcels: rules,
            ..LabelsSection::default()
        }
    }

    fn items(list: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
        list.iter()
            .map(|(i, s, q)| ((*i).to_string(), (*s).to_string(), *q))
            .collect()
    }

    /// Every unit of the order is in exactly one parcel.
    fn adds_up(order: &[(String, String, i64)], parcels: &[ParcelPlan]) {
        for (item, _, q) in order {
            let got: i64 = parcels
                .iter()
                .flat_map(|p| &p.items)
                .filter(|(i, _)| i == item)
                .map(|(_, n)| n)
                .sum();
            assert_eq!(got, (*q).max(0), "{item}");
        }
    }

    #[test]
    fn without_rules_an_order_is_one_parcel() {
        let o = items(&[("1", "MUG", 3), ("2", "VASE", 1), ("3", "GONE", 0)]);
        let p = split(&o, &cfg(ParcelRules::default()), None).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].weight_g, 3 * 400 + 1500);
        assert_eq!(p[0].items, vec![("1".into(), 3), ("2".into(), 1)]);
    }

    #[test]
    fn max_weight_packs_heaviest_first() {
        let rules = ParcelRules {
            max_weight_g: Some(2000),
            ..ParcelRules::default()
        };
        let o = items(&[("1", "MUG", 4), ("2", "VASE", 2)]);
        let p = split(&o, &cfg(rules), None).unwrap();
        // 1500+400 | 1500+400 | 400+400
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().all(|x| x.weight_g <= 2000));
        adds_up(&o, &p);
    }

    #[test]
    fn alone_and_boxes() {
        let rules = ParcelRules {
            alone: vec!["VASE".into()],
            boxes: [("TABLE".to_string(), 2)].into_iter().collect(),
            ..ParcelRules::default()
        };
        let o = items(&[("1", "MUG", 2), ("2", "VASE", 1), ("3", "TABLE", 1)]);
        let p = split(&o, &cfg(rules), None).unwrap();
        assert_eq!(p.len(), 4, "{p:?}");
        assert_eq!(p[0].items, vec![("1".into(), 2)]);
        assert_eq!(p[1].items, vec![("2".into(), 1)]);
        assert_eq!(p[2].items, vec![("3".into(), 1)]);
        assert_eq!(p[2].weight_g, 9000);
        assert!(p[3].items.is_empty());
        assert_eq!(p[3].weight_g, 9000);
        adds_up(&o, &p);
    }

    #[test]
    fn more_than_four_parcels_is_refused() {
        let rules = ParcelRules {
            alone: vec!["MUG".into()],
            ..ParcelRules::default()
        };
        let o = items(&[("1", "MUG", 5)]);
        assert_eq!(split(&o, &cfg(rules), None), Err(SplitError::TooMany(5)));
    }

    #[test]
    fn asked_parcels_balance_the_weight_and_never_leave_one_empty() {
        let o = items(&[("1", "MUG", 3), ("2", "BIKE", 1)]);
        let p = split(&o, &cfg(ParcelRules::default()), Some(2)).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].items, vec![("2".into(), 1)]);
        assert_eq!(p[1].items, vec![("1".into(), 3)]);
        adds_up(&o, &p);
        // One parcel, whatever the rules say.
        let alone = ParcelRules {
            alone: vec!["MUG".into()],
            ..ParcelRules::default()
        };
        let p = split(&o, &cfg(alone), Some(1)).unwrap();
        assert_eq!(p.len(), 1);
        adds_up(&o, &p);
        let p = split(&o, &cfg(ParcelRules::default()), Some(4)).unwrap();
        assert_eq!(p.len(), 4);
        assert!(p.iter().all(|x| !x.items.is_empty()));
        adds_up(&o, &p);
        assert_eq!(
            split(&o, &cfg(ParcelRules::default()), Some(5)),
            Err(SplitError::TooFewUnits { units: 4, asked: 5 })
        );
    }
}
