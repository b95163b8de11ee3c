//! Which PostNL product a parcel goes with, and how heavy it is.
//!
//! Rules (sender in the Netherlands): NL standard parcel (3085), or the letterbox
//! parcel (2928) when every item's SKU is marked as fitting a letterbox; Belgium 4946;
//! other EU countries 4907 with track & trace and the consumer or business option;
//! anywhere else is not supported yet and the order goes to review. The codes can be
//! changed in `[labels.products]`.

use crate::config::LabelsSection;

/// EU member states PostNL's Parcel EU (4907) serves from the Netherlands (NOTES §7.3).
const EU_4907: &[&str] = &[
    "AT", "BG", "HR", "CY", "DK", "EE", "FI", "FR", "DE", "SI", "GR", "HU", "IE", "IT", "LV", "LT",
    "LU", "MT", "CZ", "PL", "PT", "RO", "SK", "ES", "SE",
];

/// The barcode range a product needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Domestic,
    Europe,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub code: String,
    /// (Characteristic, Option) pairs.
    pub options: Vec<(String, String)>,
    pub letterbox: bool,
    pub zone: Zone,
}

/// Why no product fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoProduct {
    UnsupportedDestination,
    NoItems,
}

impl NoProduct {
    pub fn code(self) -> &'static str {
        match self {
            NoProduct::UnsupportedDestination => "unsupported_destination",
            NoProduct::NoItems => "no_items",
        }
    }
}

/// Chooses the product for a destination country and the order's SKUs.
pub fn choose(
    country: &str,
    skus: &[&str],
    business: bool,
    cfg: &LabelsSection,
) -> Result<Product, NoProduct> {
    if skus.is_empty() {
        return Err(NoProduct::NoItems);
    }
    let c = country.trim().to_ascii_uppercase();
    let p = &cfg.products;
    match c.as_str() {
        "NL" => {
            let letterbox = skus
                .iter()
                .all(|s| cfg.letterbox_skus.iter().any(|l| l == s));
            Ok(Product {
                code: if letterbox {
                    p.nl_letterbox.clone()
                } else {
                    p.nl.clone()
                },
                options: Vec::new(),
                letterbox,
                zone: Zone::Domestic,
            })
        }
        "BE" => Ok(Product {
            code: p.be.clone(),
            options: Vec::new(),
            letterbox: false,
            zone: Zone::Domestic,
        }),
        other if EU_4907.contains(&other) => Ok(Product {
            code: p.eu.clone(),
            options: vec![
                ("005".into(), "025".into()),
                ("101".into(), if business { "013" } else { "012" }.into()),
            ],
            letterbox: false,
            zone: Zone::Europe,
        }),
        _ => Err(NoProduct::UnsupportedDestination),
    }
}

/// Parcel weight in grams: each item's SKU weight (or the default) times its quantity.
pub fn weight(items: &[(&str, i64)], cfg: &LabelsSection) -> u32 {
    let grams: u64 = items
        .iter()
        .map(|(sku, qty)| {
            let w = cfg
                .weights
                .get(*sku)
                .copied()
                .unwrap_or(cfg.default_weight_g);
            u64::from(w) * u64::try_from((*qty).max(1)).unwrap_or(1)
        })
        .sum();
    u32::try_from(grams.max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> LabelsSection {
        LabelsSection {
            letterbox_skus: vec!["SOCKS".into(), "CARD".into()],
            weights: [("SOCKS".to_string(), 120)].into_iter().collect(),
            ..LabelsSection::default()
        }
    }

    #[test]
    fn product_per_destination() {
        let c = cfg();
        assert_eq!(choose("NL", &["MUG"], false, &c).unwrap().code, "3085");
        let lb = choose("nl", &["SOCKS", "CARD"], false, &c).unwrap();
        assert_eq!((lb.code.as_str(), lb.letterbox), ("2928", true));
        // One item that does not fit makes it a parcel.
        assert_eq!(
            choose("NL", &["SOCKS", "MUG"], false, &c).unwrap().code,
            "3085"
        );
        // Letterbox is NL only.
        assert_eq!(choose("BE", &["SOCKS"], false, &c).unwrap().code, "4946");
        let de = choose("DE", &["MUG"], false, &c).unwrap();
        assert_eq!(de.code, "4907");
        assert_eq!(de.zone, Zone::Europe);
        assert!(de.options.contains(&("101".into(), "012".into())));
        let b2b = choose("FR", &["MUG"], true, &c).unwrap();
        assert!(b2b.options.contains(&("101".into(), "013".into())));
        assert_eq!(
            choose("GB", &["MUG"], false, &c),
            Err(NoProduct::UnsupportedDestination)
        );
        assert_eq!(
            choose("CH", &["MUG"], false, &c),
            Err(NoProduct::UnsupportedDestination)
        );
        assert_eq!(choose("NL", &[], false, &c), Err(NoProduct::NoItems));
    }

    #[test]
    fn weights() {
        let c = cfg();
        assert_eq!(weight(&[("SOCKS", 3)], &c), 360);
        assert_eq!(weight(&[("SOCKS", 1), ("MUG", 2)], &c), 120 + 2000);
    }
}
