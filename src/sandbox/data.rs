//! The sandbox's orders: a deterministic generator of realistic merchant-fulfilled EU orders,
//! and the loader for orders given as JSON (a file in the searchOrders shape, or a test's order).
//!
//! Everything generated is SYNTHETIC: names, streets, companies, e-mails (anonymised relay
//! shape `…@marketplace.amazon.<tld>`), phones and VAT numbers come from small built-in lists
//! and the seeded generator; VAT numbers only have to pass their syntax and check-digit rules.
//!
//! Money conventions of the generated orders (EU marketplaces price goods VAT-inclusive):
//! * `product.price.unitPrice` is the VAT-inclusive unit price;
//! * item `proceeds.breakdowns`: `ITEM` = unit × quantity (VAT-inclusive), `SHIPPING` (VAT-
//!   inclusive, on the first item only), `DISCOUNT` (negative, VAT-inclusive, with detailed
//!   `ITEM`/`SHIPPING` subtypes) and `TAX` = the VAT contained in the other lines (detailed
//!   `ITEM`/`SHIPPING`/`DISCOUNT` subtypes). `proceedsTotal` = ITEM + SHIPPING + DISCOUNT;
//!   TAX is contained in it, never added on top;
//! * order `proceeds`: the same categories summed over the items, `grandTotal` = Σ proceedsTotal;
//! * VAT follows the destination country's rate for the product's category (standard, books,
//!   food). Per order and rate, VAT = round_half_up(Σ gross × r / (100 + r), 2), shared over the
//!   lines so the lines add up to it exactly;
//! * Amazon Business orders shipped outside NL to a buyer with a VAT number are zero-rated
//!   (intra-Community supply): their prices are net and their TAX lines are 0.00.
//!
//! Orders change over time: each is created PENDING, becomes UNSHIPPED minutes later (a few stay
//! pending for hours), some are CANCELLED later and a few are SHIPPED through Seller Central;
//! the changes may lie after the sandbox start, so they appear as the clock advances.

use crate::sandbox::clock::{fmt, parse};
use crate::sandbox::creds;
use crate::sandbox::orders::{Change, OrderRec, Status};
use crate::sandbox::rng::Rng;
use anyhow::{Context, bail};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value, json};
use std::path::Path;
use time::{Duration, OffsetDateTime, Time};

/// One EU marketplace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Market {
    pub country: &'static str,
    pub id: &'static str,
    pub name: &'static str,
    pub currency: &'static str,
    pub mail_tld: &'static str,
    /// VAT rates in tenths of a percent: standard, books, food.
    pub rates: [i64; 3],
    /// Local currency units per EUR, in hundredths.
    pub fx: i64,
}

pub(crate) const MARKETS: [(u32, Market); 8] = [
    (
        600,
        Market {
            country: "NL",
            id: "A1805IZSGTT6HS",
            name: "Amazon.nl",
            currency: "EUR",
            mail_tld: "nl",
            rates: [210, 90, 90],
            fx: 100,
        },
    ),
    (
        140,
        Market {
            country: "DE",
            id: "A1PA6795UKMFR9",
            name: "Amazon.de",
            currency: "EUR",
            mail_tld: "de",
            rates: [190, 70, 70],
            fx: 100,
        },
    ),
    (
        100,
        Market {
            country: "BE",
            id: "AMEN7PMS3EDWL",
            name: "Amazon.com.be",
            currency: "EUR",
            mail_tld: "com.be",
            rates: [210, 60, 60],
            fx: 100,
        },
    ),
    (
        70,
        Market {
            country: "FR",
            id: "A13V1IB3VIYZZH",
            name: "Amazon.fr",
            currency: "EUR",
            mail_tld: "fr",
            rates: [200, 55, 55],
            fx: 100,
        },
    ),
    (
        30,
        Market {
            country: "IT",
            id: "APJ6JRA9NG5V4",
            name: "Amazon.it",
            currency: "EUR",
            mail_tld: "it",
            rates: [220, 40, 100],
            fx: 100,
        },
    ),
    (
        30,
        Market {
            country: "ES",
            id: "A1RKKUPIHCS9HS",
            name: "Amazon.es",
            currency: "EUR",
            mail_tld: "es",
            rates: [210, 40, 100],
            fx: 100,
        },
    ),
    (
        15,
        Market {
            country: "SE",
            id: "A2NODRKZP88ZB9",
            name: "Amazon.se",
            currency: "SEK",
            mail_tld: "se",
            rates: [250, 60, 60],
            fx: 1125,
        },
    ),
    (
        15,
        Market {
            country: "PL",
            id: "A1C3SOZRARQ6R3",
            name: "Amazon.pl",
            currency: "PLN",
            mail_tld: "pl",
            rates: [230, 50, 50],
            fx: 429,
        },
    ),
];

/// The marketplace with this id, if it is one the generator uses.
#[cfg(test)]
pub(crate) fn market_by_id(id: &str) -> Option<Market> {
    MARKETS.iter().map(|(_, m)| *m).find(|m| m.id == id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Standard,
    Book,
    Food,
}

/// (sku, title, EUR price in cents, category) — a small synthetic catalogue.
const PRODUCTS: [(&str, &str, i64, Category); 16] = [
    (
        "FLX-MUG-350",
        "Ceramic mug 350 ml, matte blue",
        1295,
        Category::Standard,
    ),
    (
        "FLX-TEE-M-NAVY",
        "Organic cotton T-shirt, size M, navy",
        1995,
        Category::Standard,
    ),
    (
        "FLX-BOOK-NL-01",
        "Het Kleine Pakketboek (paperback)",
        1450,
        Category::Book,
    ),
    (
        "FLX-BOOK-EN-02",
        "A Field Guide to Parcels (hardcover)",
        2499,
        Category::Book,
    ),
    (
        "FLX-LAMP-USB",
        "LED desk lamp with USB-C",
        3499,
        Category::Standard,
    ),
    (
        "FLX-SOCK-3P",
        "Wool socks, 3 pairs, size 39-42",
        1499,
        Category::Standard,
    ),
    (
        "FLX-CABLE-2M",
        "USB-C cable 2 m, braided",
        899,
        Category::Standard,
    ),
    (
        "FLX-PUZ-1000",
        "Jigsaw puzzle 1000 pieces, canal houses",
        1999,
        Category::Standard,
    ),
    ("FLX-TEA-20", "Rooibos tea, 20 bags", 495, Category::Food),
    (
        "FLX-CANDLE-CDR",
        "Scented candle, cedar",
        1250,
        Category::Standard,
    ),
    (
        "FLX-CASE-RCY",
        "Phone case, recycled plastic",
        1599,
        Category::Standard,
    ),
    (
        "FLX-BAG-20L",
        "Backpack 20 L, waterproof",
        4995,
        Category::Standard,
    ),
    ("FLX-PEN-12", "Gel pens, set of 12", 799, Category::Standard),
    (
        "FLX-COF-500",
        "Coffee beans 500 g, medium roast",
        1195,
        Category::Food,
    ),
    (
        "FLX-POT-14",
        "Ceramic planter 14 cm",
        1750,
        Category::Standard,
    ),
    (
        "FLX-HEAD-MIC",
        "Wired headphones with microphone",
        2950,
        Category::Standard,
    ),
];

fn asin_for(sku: &str) -> String {
    format!("B0{}", Rng::derived(0, sku, 0).alnum_upper(8))
}

// ---------------------------------------------------------------------------------------------
// Names, places, phones

fn names(country: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match country {
        "NL" => (
            &[
                "Sanne", "Daan", "Emma", "Lucas", "Julia", "Sem", "Lotte", "Milan", "Fleur",
                "Thijs", "Anouk", "Bram", "Noor", "Jesse", "Iris", "Ruben",
            ],
            &[
                "de Vries",
                "Jansen",
                "van den Berg",
                "Bakker",
                "Visser",
                "Smit",
                "Meijer",
                "de Boer",
                "Mulder",
                "de Groot",
                "Bos",
                "Vos",
                "Peters",
                "Hendriks",
                "van Dijk",
                "Dekker",
            ],
        ),
        "DE" => (
            &[
                "Lena", "Jonas", "Mia", "Leon", "Hannah", "Felix", "Lea", "Paul", "Anna", "Lukas",
                "Marie", "Tim",
            ],
            &[
                "Müller",
                "Schmidt",
                "Schneider",
                "Fischer",
                "Weber",
                "Meyer",
                "Wagner",
                "Becker",
                "Schulz",
                "Hoffmann",
                "Koch",
                "Richter",
            ],
        ),
        "BE" => (
            &[
                "Lars", "Elise", "Wout", "Louise", "Arthur", "Marie", "Noah", "Julie", "Lucie",
                "Victor",
            ],
            &[
                "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Dubois",
                "Lambert", "Dupont",
            ],
        ),
        "FR" => (
            &[
                "Camille", "Hugo", "Chloé", "Louis", "Manon", "Jules", "Léa", "Gabriel",
            ],
            &[
                "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
            ],
        ),
        "IT" => (
            &["Giulia", "Lorenzo", "Sofia", "Matteo", "Aurora", "Leonardo"],
            &["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano"],
        ),
        "ES" => (
            &["Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Daniel"],
            &[
                "García",
                "Fernández",
                "González",
                "Rodríguez",
                "López",
                "Martínez",
            ],
        ),
        "SE" => (
            &["Alice", "William", "Maja", "Oscar", "Elsa", "Hugo"],
            &[
                "Andersson",
                "Johansson",
                "Karlsson",
                "Nilsson",
                "Eriksson",
                "Larsson",
            ],
        ),
        _ => (
            &["Zuzanna", "Antoni", "Julia", "Jan", "Maja", "Aleksander"],
            &[
                "Nowak",
                "Kowalski",
                "Wiśniewski",
                "Wójcik",
                "Kamiński",
                "Lewandowski",
            ],
        ),
    }
}

fn person(rng: &mut Rng, country: &str) -> String {
    let (first, last) = names(country);
    format!("{} {}", rng.pick(first), rng.pick(last))
}

fn company(rng: &mut Rng, country: &str) -> String {
    let (_, last) = names(country);
    let word = rng.pick(&[
        "Techniek", "Handel", "Studio", "Service", "Office", "Trading", "Design",
    ]);
    let form = match country {
        "NL" => "B.V.",
        "DE" => "GmbH",
        "BE" => "BV",
        "FR" => "SARL",
        "IT" => "S.r.l.",
        "ES" => "S.L.",
        "SE" => "AB",
        _ => "sp. z o.o.",
    };
    format!("{} {word} {form}", rng.pick(last))
}

fn phone(rng: &mut Rng, country: &str) -> String {
    match country {
        "NL" => {
            if rng.chance(0.5) {
                format!("+31 6 {} {}", rng.digits(4), rng.digits(4))
            } else {
                format!("06-{}", rng.digits(8))
            }
        }
        "DE" => format!("+49 15{} {}", rng.digits(1), rng.digits(8)),
        "BE" => format!(
            "+32 4{} {} {} {}",
            rng.digits(2),
            rng.digits(2),
            rng.digits(2),
            rng.digits(2)
        ),
        "FR" => format!(
            "+33 6 {} {} {} {}",
            rng.digits(2),
            rng.digits(2),
            rng.digits(2),
            rng.digits(2)
        ),
        "IT" => format!("+39 3{} {}", rng.digits(2), rng.digits(7)),
        "ES" => format!("+34 6{}", rng.digits(8)),
        "SE" => format!("+46 7{} {}", rng.digits(1), rng.digits(7)),
        _ => format!("+48 {} {} {}", rng.digits(3), rng.digits(3), rng.digits(3)),
    }
}

/// (city, postcode prefix) per country.
fn cities(country: &str) -> &'static [(&'static str, &'static str)] {
    match country {
        "NL" => &[
            ("Amsterdam", "10"),
            ("Rotterdam", "30"),
            ("Utrecht", "35"),
            ("Den Haag", "25"),
            ("Eindhoven", "56"),
            ("Groningen", "97"),
            ("Zwolle", "80"),
            ("Haarlem", "20"),
            ("Leiden", "23"),
            ("Nijmegen", "65"),
            ("Arnhem", "68"),
            ("Breda", "48"),
            ("Maastricht", "62"),
            ("Tilburg", "50"),
            ("Delft", "26"),
        ],
        "BE" => &[
            ("Brussel", "1000"),
            ("Antwerpen", "2000"),
            ("Gent", "9000"),
            ("Leuven", "3000"),
            ("Liège", "4000"),
            ("Namur", "5000"),
            ("Brugge", "8000"),
            ("Mechelen", "2800"),
            ("Hasselt", "3500"),
            ("Charleroi", "6000"),
        ],
        "DE" => &[
            ("Berlin", "10"),
            ("Hamburg", "20"),
            ("München", "80"),
            ("Köln", "50"),
            ("Frankfurt am Main", "60"),
            ("Düsseldorf", "40"),
            ("Aachen", "52"),
            ("Münster", "48"),
            ("Bremen", "28"),
            ("Leipzig", "04"),
        ],
        "FR" => &[
            ("Paris", "750"),
            ("Lyon", "690"),
            ("Lille", "590"),
            ("Nantes", "440"),
            ("Strasbourg", "670"),
            ("Bordeaux", "330"),
        ],
        "IT" => &[
            ("Milano", "201"),
            ("Roma", "001"),
            ("Torino", "101"),
            ("Bologna", "401"),
        ],
        "ES" => &[
            ("Madrid", "280"),
            ("Barcelona", "080"),
            ("Valencia", "460"),
            ("Sevilla", "410"),
        ],
        "SE" => &[
            ("Stockholm", "11"),
            ("Göteborg", "41"),
            ("Malmö", "21"),
            ("Uppsala", "75"),
        ],
        _ => &[
            ("Warszawa", "0"),
            ("Kraków", "3"),
            ("Gdańsk", "8"),
            ("Poznań", "6"),
        ],
    }
}

fn streets(country: &str, french: bool) -> &'static [&'static str] {
    match (country, french) {
        ("NL", _) => &[
            "Hoofdstraat",
            "Kerkstraat",
            "Dorpsstraat",
            "Molenweg",
            "Schoolstraat",
            "Stationsweg",
            "Lindelaan",
            "Julianastraat",
            "Beukenlaan",
            "Prinsengracht",
            "Van Goghstraat",
            "Marnixstraat",
            "Tuinstraat",
            "Overtoom",
            "Westerstraat",
            "De La Reylaan",
        ],
        ("BE", false) => &[
            "Kerkstraat",
            "Dorpsstraat",
            "Stationsstraat",
            "Molenstraat",
            "Nieuwstraat",
            "Kapelstraat",
            "Meir",
            "Veldstraat",
        ],
        ("BE", true) => &[
            "Rue Royale",
            "Avenue Louise",
            "Rue de la Station",
            "Chaussée de Wavre",
            "Rue Haute",
            "Avenue des Arts",
            "Rue du Moulin",
        ],
        ("DE", _) => &[
            "Hauptstraße",
            "Schulstraße",
            "Gartenstraße",
            "Bahnhofstraße",
            "Dorfstraße",
            "Lindenstraße",
            "Bergstraße",
            "Am Weiher",
            "Kirchweg",
            "Musterstr.",
        ],
        ("FR", _) => &[
            "Rue de la Paix",
            "Rue Victor Hugo",
            "Avenue Jean Jaurès",
            "Rue du Château",
            "Boulevard Voltaire",
            "Rue des Lilas",
        ],
        ("IT", _) => &[
            "Via Roma",
            "Via Garibaldi",
            "Corso Italia",
            "Via Dante",
            "Via Mazzini",
        ],
        ("ES", _) => &[
            "Calle Mayor",
            "Calle Real",
            "Avenida de la Constitución",
            "Calle del Sol",
            "Paseo de Gracia",
        ],
        ("SE", _) => &[
            "Storgatan",
            "Kungsgatan",
            "Drottninggatan",
            "Skolgatan",
            "Parkvägen",
        ],
        _ => &[
            "ul. Długa",
            "ul. Polna",
            "ul. Lipowa",
            "ul. Leśna",
            "ul. Ogrodowa",
        ],
    }
}

fn nl_postcode(rng: &mut Rng, prefix: &str) -> String {
    const LETTERS: &[u8] = b"ABCEGHJKLMNPRTVWXZ";
    let letters: String = (0..2).map(|_| char::from(*rng.pick(LETTERS))).collect();
    let digits = format!("{prefix}{}", rng.range(11, 99));
    match rng.below(100) {
        0..=89 => format!("{digits} {letters}"),
        90..=96 => format!("{digits}{letters}"),
        _ => format!("{digits} {}", letters.to_lowercase()),
    }
}

/// A delivery address: lines, city, postcode, and whether it is a company address.
#[derive(Debug, Default)]
struct Address {
    lines: [String; 3],
    city: String,
    postal: String,
    company_line: bool,
}

fn num(rng: &mut Rng, hi: i64) -> i64 {
    // House numbers: mostly small.
    if rng.chance(0.8) {
        rng.range(1, 99)
    } else {
        rng.range(100, hi)
    }
}

/// NL address forms of ADDRESS_CASES.md §3.1/§3.2, most of them plain.
fn nl_lines(rng: &mut Rng, company: Option<&str>) -> (Vec<String>, bool) {
    let street = *rng.pick(streets("NL", false));
    let n = num(rng, 1200);
    if let Some(c) = company {
        // Company in line 1, street in line 2 (the Amazon business pattern, case 38).
        return (vec![c.to_owned(), format!("Industrieweg {n}")], false);
    }
    let form = *rng.weighted(&[
        (560u32, 0u8),
        (80, 1),
        (30, 2),
        (20, 3),
        (15, 4),
        (15, 5),
        (12, 6),
        (12, 7),
        (10, 8),
        (10, 9),
        (10, 10),
        (8, 11),
        (8, 12),
        (8, 13),
        (8, 14),
        (6, 15),
        (6, 16),
        (6, 17),
        (6, 18),
        (6, 19),
        (6, 20),
        (6, 21),
        (5, 22),
        (5, 23),
        (5, 24),
        (5, 25),
        (5, 26),
        (5, 27),
        (4, 28),
    ]);
    let lines = match form {
        0 => vec![format!("{street} {n}")],
        1 => vec![format!(
            "{street} {n}{}",
            rng.pick(&["a", "b", "c", "A", "B"])
        )],
        2 => vec![format!("{street} {n} {}", rng.pick(&["a", "A", "b"]))],
        3 => vec![format!(
            "{street} {n}-{}",
            rng.pick(&["C", "2", "1 hoog", "III"])
        )],
        4 => vec![format!("Laan van Meerdervoort {n} bis")],
        5 => vec![format!("Spuistraat {n} I")],
        6 => vec![format!("Kerkstraat {n}HS")],
        7 => vec![format!("Ruysdaelkade {n} hs")],
        8 => vec![format!("Tuinstraat {n} boven")],
        9 => vec![format!("2e Jan van der Heijdenstraat {n}-III")],
        10 => vec![format!("Plein 1945 {n}")],
        11 => vec![format!("1e Kruisweg {n}")],
        12 => vec![format!("Provincialeweg N205 {n}")],
        13 => vec![format!("Rivium 2e Straat {n}.")],
        14 => vec![format!("Kastanjelaan {n} app. {}", rng.range(1, 40))],
        15 => vec!["Kabelweg".into(), n.to_string()],
        16 => vec![format!("{street} {n}"), "-1 hoog".into()],
        17 => vec!["Teststraat".into(), n.to_string(), "-1 hoog".into()],
        18 => vec![format!("{street} {n}"), "bovenwoning".into()],
        19 => vec![String::new(), format!("Industrieweg {n}")],
        20 => vec![format!("{street} {n}a"), format!("{n}a")],
        21 => vec![format!("{street}{n}")],
        22 => vec![format!("{n} {street}")],
        23 => vec![format!("Kerkweg {n} {}", rng.range(1, 9))],
        24 => vec![format!("{street}\u{a0}{n}\u{a0}A")],
        25 => vec![format!("{} {n}", street.to_uppercase())],
        26 => vec![format!("{street} {n}"), format!("{street} {n}")],
        27 => vec![format!("Postbus {}", rng.range(10, 9999))],
        _ => vec![format!("{street} {n} t/m {}", n + 2)],
    };
    let po_box = form == 27;
    (lines, po_box)
}

fn be_lines(rng: &mut Rng, french: bool, company: Option<&str>) -> Vec<String> {
    let street = *rng.pick(streets("BE", french));
    let n = num(rng, 400);
    let mut lines = match rng.below(100) {
        60..=71 => vec![format!("{street} {n} bus {}", rng.range(1, 30))],
        72..=75 => vec![format!("{street} {n} boîte {}", rng.range(1, 12))],
        76..=80 => vec![format!("{street} {n}/{}", rng.range(1, 20))],
        81..=82 => vec![format!("{street} {n} B{}", rng.range(1, 20))],
        83..=88 if french => vec![format!("{n}, {street}")],
        89..=90 => vec![format!("5e Regiment Lancierslaan {n}")],
        _ => vec![format!("{street} {n}")],
    };
    if let Some(c) = company {
        lines.insert(0, c.to_owned());
    }
    lines
}

fn de_lines(rng: &mut Rng, company: Option<&str>) -> (Vec<String>, bool) {
    let street = *rng.pick(streets("DE", false));
    let n = num(rng, 300);
    if let Some(c) = company {
        return (vec![c.to_owned(), format!("Industriestr. {n}")], false);
    }
    let form = rng.below(100);
    let lines = match form {
        64..=71 => vec![format!("{street} {n}a")],
        72..=74 => vec![format!("{street} {n}-{}", n + 2)],
        75..=76 => vec![format!("{street} {n}/1")],
        77 => vec![format!("Reitelbauerstr. {n} 1/2")],
        78..=79 => vec![format!("Musterstr. {n}, 1 OG")],
        80 => vec![format!("{}{n}", street.trim_end_matches('.'))],
        81..=84 => vec![
            format!("c/o {}", person(rng, "DE")),
            format!("{street} {n}"),
        ],
        85..=87 => vec![
            format!("Packstation {}", rng.range(100, 250)),
            rng.digits(8),
        ],
        88 => vec![format!(
            "Postfach {} {} {}",
            rng.digits(2),
            rng.digits(2),
            rng.digits(2)
        )],
        _ => vec![format!("{street} {n}")],
    };
    (lines, form == 88)
}

fn other_lines(rng: &mut Rng, country: &str, company: Option<&str>) -> Vec<String> {
    let street = *rng.pick(streets(country, false));
    let n = num(rng, 200);
    let mut lines = match country {
        "FR" => {
            let mut l = vec![format!("{n} {street}")];
            if rng.chance(0.15) {
                l.push(format!("Bâtiment {}", rng.pick(&["A", "B", "C"])));
            }
            l
        }
        "ES" => vec![format!(
            "{street} {n}, {}º {}",
            rng.range(1, 8),
            rng.pick(&["A", "B", "C", "D"])
        )],
        "PL" => vec![format!("{street} {n}/{}", rng.range(1, 40))],
        _ => vec![format!("{street} {n}")],
    };
    if let Some(c) = company {
        lines.insert(0, c.to_owned());
    }
    lines
}

fn address(rng: &mut Rng, country: &str, company: Option<&str>) -> Address {
    let (city, prefix) = *rng.pick(cities(country));
    let french = country == "BE" && matches!(city, "Brussel" | "Liège" | "Namur" | "Charleroi");
    let (lines, _po_box) = match country {
        "NL" => nl_lines(rng, company),
        "BE" => (be_lines(rng, french, company), false),
        "DE" => de_lines(rng, company),
        _ => (other_lines(rng, country, company), false),
    };
    let postal = match country {
        "NL" => nl_postcode(rng, prefix),
        "BE" => {
            if rng.chance(0.05) {
                format!("B-{prefix}")
            } else {
                prefix.to_owned()
            }
        }
        "DE" => format!("{prefix}{}", rng.digits(3)),
        "FR" | "IT" | "ES" => format!("{prefix}{}", rng.digits(2)),
        "SE" => format!("{prefix}{} {}", rng.digits(1), rng.digits(2)),
        _ => format!("{prefix}{}-{}", rng.digits(1), rng.digits(3)),
    };
    let mut a = Address {
        city: city.to_owned(),
        postal,
        company_line: company.is_some(),
        ..Address::default()
    };
    for (slot, line) in a.lines.iter_mut().zip(lines) {
        *slot = line;
    }
    a
}

// ---------------------------------------------------------------------------------------------
// VAT numbers (syntax and check digits only)

fn digits_of(s: &str) -> Vec<u32> {
    s.chars().filter_map(|c| c.to_digit(10)).collect()
}

fn luhn_check_digit(body: &str) -> u32 {
    // Luhn: double every second digit from the right of the full number (check digit excluded).
    let sum: u32 = digits_of(body)
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                *d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

pub(crate) fn vat_number(rng: &mut Rng, country: &str) -> String {
    loop {
        let v = match country {
            "NL" => {
                let body = format!("{}{}", rng.range(1, 9), rng.digits(7));
                let sum: u32 = digits_of(&body)
                    .iter()
                    .zip((2..=9).rev())
                    .map(|(d, w)| d * w)
                    .sum();
                let check = sum % 11;
                if check == 10 {
                    continue;
                }
                format!("NL{body}{check}B{:02}", rng.range(1, 3))
            }
            "DE" => {
                let body = format!("{}{}", rng.range(1, 9), rng.digits(7));
                let mut product = 10;
                for d in digits_of(&body) {
                    let mut sum = (d + product) % 10;
                    if sum == 0 {
                        sum = 10;
                    }
                    product = (2 * sum) % 11;
                }
                let check = (11 - product) % 10;
                format!("DE{body}{check}")
            }
            "BE" => {
                let body = format!("0{}{}", rng.range(2, 9), rng.digits(6));
                let n: u64 = body.parse().unwrap_or(0);
                format!("BE{body}{:02}", 97 - n % 97)
            }
            "FR" => {
                let siren8 = format!("{}{}", rng.range(1, 9), rng.digits(7));
                let siren = format!("{siren8}{}", luhn_check_digit(&siren8));
                let n: u64 = siren.parse().unwrap_or(0);
                format!("FR{:02}{siren}", (12 + 3 * (n % 97)) % 97)
            }
            "IT" => {
                let body = format!(
                    "0{}{}",
                    rng.digits(6),
                    rng.pick(&["001", "015", "037", "058"])
                );
                format!("IT{body}{}", luhn_check_digit(&body))
            }
            "ES" => format!("ESB{}{}", rng.digits(7), rng.digits(1)),
            "SE" => {
                let body = format!("55{}", rng.digits(7));
                format!("SE{body}{}01", luhn_check_digit(&body))
            }
            _ => {
                let body = format!("{}{}", rng.range(1, 9), rng.digits(8));
                let w = [6, 5, 7, 2, 3, 4, 5, 6, 7];
                let sum: u32 = digits_of(&body).iter().zip(w).map(|(d, w)| d * w).sum();
                let check = sum % 11;
                if check == 10 {
                    continue;
                }
                format!("PL{body}{check}")
            }
        };
        return v;
    }
}

/// The number a generated business buyer gives, as the sandbox VIES will see it (issue #14):
/// registered, except about one in five foreign ones, which end in `200` so that VIES says
/// "invalid" and the demo shows an invoice with VAT instead of the exemption. A number whose
/// last three digits happen to pick another behaviour of the sandbox VIES is moved off it.
/// Derived from the order id, so the order generator's stream is untouched.
fn vies_number(mut vat: String, order_id: &str) -> String {
    if vat.starts_with("NL") || vat.len() < 5 {
        return vat;
    }
    let cut = vat.len() - 3;
    if Rng::derived(0, order_id, 0).chance(0.2) {
        vat.replace_range(cut.., "200");
    } else {
        while super::vies::RESERVED.contains(&&vat[cut..]) {
            let last = vat.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
            vat.push(char::from_digit((last + 1) % 10, 10).unwrap_or('1'));
        }
    }
    vat
}

// ---------------------------------------------------------------------------------------------
// Money

fn money(amount: Decimal, currency: &str) -> Value {
    json!({ "amount": format!("{:.2}", amount.round_dp(2)), "currencyCode": currency })
}

fn round2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Local price from an EUR price in cents: SEK whole crowns ending in 9, PLN ending in .99.
fn local_price(eur_cents: i64, m: &Market) -> Decimal {
    let eur = Decimal::new(eur_cents, 2);
    match m.currency {
        "SEK" => {
            let v = (eur * Decimal::new(m.fx, 2)).round_dp(0);
            v - (v % Decimal::TEN) + Decimal::from(9)
        }
        "PLN" => (eur * Decimal::new(m.fx, 2)).floor() + Decimal::new(99, 2),
        _ => eur,
    }
}

/// The market's rate (percent) for category index `idx` on `day`: the fixed table, except
/// that Belgium's standard rate follows the sandbox TEDB's seeded change (21 → 22 % on
/// `sandbox::tedb::SEEDED_CHANGE`), as Amazon's own figures would.
fn market_rate(market: &Market, idx: usize, day: time::Date) -> Decimal {
    if market.country == "BE" && idx == 0 && day >= super::tedb::SEEDED_CHANGE {
        return Decimal::from(22);
    }
    Decimal::new(market.rates[idx], 1)
}

/// One gross amount on an item that carries VAT.
#[derive(Debug, Clone)]
struct Line {
    item: usize,
    kind: &'static str,
    gross: Decimal,
    rate: Decimal,
    vat: Decimal,
}

/// Shares each rate's rounded VAT over its lines so the lines add up exactly.
fn allocate_vat(lines: &mut [Line]) {
    let mut rates: Vec<Decimal> = lines.iter().map(|l| l.rate).collect();
    rates.sort();
    rates.dedup();
    for r in rates {
        let idx: Vec<usize> = (0..lines.len()).filter(|i| lines[*i].rate == r).collect();
        let factor = r / (Decimal::ONE_HUNDRED + r);
        let total_gross: Decimal = idx.iter().map(|i| lines[*i].gross).sum();
        let total_vat = round2(total_gross * factor);
        let mut assigned = Decimal::ZERO;
        for i in &idx {
            lines[*i].vat = round2(lines[*i].gross * factor);
            assigned += lines[*i].vat;
        }
        let diff = total_vat - assigned;
        let biggest = idx.iter().copied().max_by_key(|i| lines[*i].gross.abs());
        if let (false, Some(big)) = (diff.is_zero(), biggest) {
            lines[big].vat += diff;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Orders

fn order_id(rng: &mut Rng) -> String {
    let prefix = rng.pick(&[
        "302", "303", "304", "305", "306", "028", "402", "403", "404", "405", "406", "407",
    ]);
    format!("{prefix}-{}-{}", rng.digits(7), rng.digits(7))
}

fn at_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Amazon's promise for a new order (issue #23): the service level, the ship-by
/// deadline from the seller's handling time in business days (weekends skipped, in the
/// Dutch seller's calendar), the delivery window, and for some orders the earliest time
/// a label may be printed.
///
/// Handling time: two business days for STANDARD, one for EXPEDITED and PRIORITY; the
/// same business day for NEXT_DAY (orders before 14:00) and SAME_DAY (before 11:00),
/// else the next. The deadline is the end of that day, 23:59:59 in Amsterdam. The
/// fast levels are only given to orders of the last six hours, and orders reach the
/// seller within twelve hours of being placed (see [`generate_one`]), so that on a
/// normal day, when the seller ships what came in, no order is late.
struct Promise {
    level: &'static str,
    ship_by: OffsetDateTime,
    deliver_from: OffsetDateTime,
    deliver_by: OffsetDateTime,
    label_from: Option<OffsetDateTime>,
}

impl Promise {
    fn of(
        id: &str,
        drawn: &'static str,
        created: OffsetDateTime,
        unshipped_at: OffsetDateTime,
        start: OffsetDateTime,
    ) -> Promise {
        // Its own stream of draws, so that the orders' other contents stay as they were
        // for every seed.
        let key = id
            .bytes()
            .fold(0u64, |h, b| crate::sandbox::rng::mix(h ^ u64::from(b)));
        let mut rng = Rng::derived(key, "promise", 0);
        let recent = created > start - Duration::hours(6);
        let level = match drawn {
            "NEXT_DAY" if recent => "NEXT_DAY",
            "NEXT_DAY" => "EXPEDITED",
            "EXPEDITED" if recent && rng.chance(0.2) => "PRIORITY",
            "STANDARD" if recent && rng.chance(0.02) => "SAME_DAY",
            other => other,
        };
        let zone = crate::zone::SellerZone::amsterdam();
        let placed = zone.local(unshipped_at);
        let day = placed.date();
        let before = |hour: u8| business_day(day) && placed.hour() < hour;
        let ship_day = match level {
            "SAME_DAY" if before(11) => day,
            "NEXT_DAY" if before(14) => day,
            "SAME_DAY" | "NEXT_DAY" | "EXPEDITED" | "PRIORITY" => add_business_days(day, 1),
            _ => add_business_days(day, 2),
        };
        let transit = match level {
            "SAME_DAY" => 0,
            "NEXT_DAY" | "PRIORITY" => 1,
            "EXPEDITED" => 2,
            _ => 3,
        };
        let deliver_first = if transit == 0 {
            ship_day
        } else {
            add_business_days(ship_day, 1)
        };
        let label_from = (created + Duration::hours(3) < start && rng.chance(0.1))
            .then(|| at_seconds(created + Duration::seconds(rng.range(3600, 3 * 3600))));
        Promise {
            level,
            ship_by: local_time(
                &zone,
                ship_day,
                Time::from_hms(23, 59, 59).unwrap_or(Time::MIDNIGHT),
            ),
            deliver_from: local_time(&zone, deliver_first, Time::MIDNIGHT),
            deliver_by: local_time(
                &zone,
                add_business_days(ship_day, transit),
                Time::from_hms(23, 59, 59).unwrap_or(Time::MIDNIGHT),
            ),
            label_from,
        }
    }
}

fn business_day(d: time::Date) -> bool {
    !matches!(d.weekday(), time::Weekday::Saturday | time::Weekday::Sunday)
}

/// `n` business days after `d` (Saturdays and Sundays skipped).
fn add_business_days(mut d: time::Date, n: u32) -> time::Date {
    let mut left = n;
    while left > 0 {
        d = d.next_day().unwrap_or(d);
        if business_day(d) {
            left -= 1;
        }
    }
    d
}

/// A wall-clock time on a day in `zone`, as a UTC instant.
fn local_time(zone: &crate::zone::SellerZone, day: time::Date, at: Time) -> OffsetDateTime {
    let naive = day.with_time(at);
    let offset = zone.offset(naive.assume_utc());
    naive.assume_offset(offset).to_offset(time::UtcOffset::UTC)
}

struct ItemPlan {
    product: usize,
    qty: i64,
    unit: Decimal,
    rate: Decimal,
    shipping: Decimal,
    discount_item: Decimal,
    discount_ship: Decimal,
    promotion: Option<String>,
}

/// Generates `n` orders for `seed`, placed in the twelve hours before `start`.
pub(crate) fn generate_records(n: usize, seed: u64, start: OffsetDateTime) -> Vec<OrderRec> {
    let mut used = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut rng = Rng::derived(seed, "order", u64::try_from(i).unwrap_or(u64::MAX));
        let mut rec = generate_one(&mut rng, start);
        while !used.insert(rec.id.clone()) {
            rec.id = order_id(&mut rng);
            if let Some(o) = rec.base.as_object_mut() {
                o.insert("orderId".into(), Value::String(rec.id.clone()));
            }
        }
        out.push(rec);
    }
    out.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
    out
}

fn generate_one(rng: &mut Rng, start: OffsetDateTime) -> OrderRec {
    let market = *rng.weighted(&MARKETS);
    let country = market.country;
    let business = rng.chance(0.10);
    let id = order_id(rng);

    // Timeline.
    let created = if rng.chance(0.05) {
        at_seconds(start - Duration::seconds(rng.range(30, 20 * 60)))
    } else {
        // Within the last twelve hours: a seller who runs fulfil every day or more often
        // sees each order within that time (issue #23: no order is late on a normal day).
        at_seconds(start - Duration::seconds(rng.range(20 * 60, 12 * 3600)))
    };
    let unshipped_at = if rng.chance(0.04) {
        created + Duration::seconds(rng.range(6 * 3600, 2 * 86_400))
    } else {
        created + Duration::seconds(rng.range(120, 30 * 60))
    };
    let cancelled = rng.chance(0.06);
    let shipped_elsewhere = !cancelled && rng.chance(0.04);

    // People and places.
    let buyer_name = person(rng, country);
    let company = business.then(|| company(rng, country));
    let vat = business.then(|| vies_number(vat_number(rng, country), &id));
    let recipient_name = if rng.chance(0.9) {
        buyer_name.clone()
    } else {
        person(rng, country)
    };
    let addr = address(rng, country, company.as_deref());
    let prime = rng.chance(0.2);
    // Amazon zero-rates a business sale abroad only when it could validate the buyer's
    // number; the sandbox VIES calls the numbers ending in 200 invalid (issue #14).
    let zero_rated =
        business && country != "NL" && !vat.as_deref().is_some_and(|v| v.ends_with("200"));

    // Items.
    let n_items = *rng.weighted(&[(75u32, 1usize), (18, 2), (7, 3)]);
    let mut picks: Vec<usize> = Vec::new();
    while picks.len() < n_items {
        let p = usize::try_from(rng.below(PRODUCTS.len() as u64)).unwrap_or(0);
        if !picks.contains(&p) {
            picks.push(p);
        }
    }
    let business_price = business && rng.chance(0.5);
    let mut plans: Vec<ItemPlan> = picks
        .iter()
        .map(|&p| {
            let (_, _, cents, cat) = PRODUCTS[p];
            let idx = match cat {
                Category::Standard => 0,
                Category::Book => 1,
                Category::Food => 2,
            };
            let rate = market_rate(&market, idx, created.date());
            let mut unit = local_price(cents, &market);
            if business_price {
                unit = round2(unit * Decimal::new(95, 2));
            }
            if zero_rated {
                unit = round2(unit / (Decimal::ONE + rate / Decimal::ONE_HUNDRED));
            }
            ItemPlan {
                product: p,
                qty: *rng.weighted(&[(85u32, 1i64), (12, 2), (3, 3)]),
                unit,
                rate: if zero_rated { Decimal::ZERO } else { rate },
                shipping: Decimal::ZERO,
                discount_item: Decimal::ZERO,
                discount_ship: Decimal::ZERO,
                promotion: None,
            }
        })
        .collect();
    let goods: Decimal = plans.iter().map(|p| p.unit * Decimal::from(p.qty)).sum();
    let threshold = local_price(2000, &market);
    if !prime && goods < threshold && rng.chance(0.7) {
        let ship = local_price(395, &market);
        plans[0].shipping = if zero_rated {
            round2(
                ship / (Decimal::ONE
                    + market_rate(&market, 0, created.date()) / Decimal::ONE_HUNDRED),
            )
        } else {
            ship
        };
        if rng.chance(0.08) {
            plans[0].discount_ship = -plans[0].shipping;
            plans[0].promotion = Some(format!("FREESHIP-{}", rng.alnum_upper(6)));
        }
    }
    if rng.chance(0.12) {
        let k = usize::try_from(rng.below(plans.len() as u64)).unwrap_or(0);
        let gross = plans[k].unit * Decimal::from(plans[k].qty);
        let off = if rng.chance(0.5) {
            round2(gross * Decimal::new(10, 2))
        } else {
            Decimal::new(200, 2).min(gross - Decimal::new(1, 2))
        };
        plans[k].discount_item = -off;
        plans[k].promotion = Some(format!("A{}", rng.alnum_upper(12)));
    }

    // VAT per line, allocated per rate.
    let mut lines: Vec<Line> = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        let mut push = |kind: &'static str, gross: Decimal| {
            if !gross.is_zero() {
                lines.push(Line {
                    item: i,
                    kind,
                    gross,
                    rate: p.rate,
                    vat: Decimal::ZERO,
                });
            }
        };
        push("ITEM", p.unit * Decimal::from(p.qty));
        push("SHIPPING", p.shipping);
        push("DISCOUNT_ITEM", p.discount_item);
        push("DISCOUNT_SHIPPING", p.discount_ship);
    }
    allocate_vat(&mut lines);

    let cur = market.currency;
    let mut order_sums: [Decimal; 4] = [Decimal::ZERO; 4]; // ITEM, SHIPPING, DISCOUNT, TAX
    let mut grand = Decimal::ZERO;
    let mut items_json = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        let (sku, title, _, _) = PRODUCTS[p.product];
        let mine: Vec<&Line> = lines.iter().filter(|l| l.item == i).collect();
        let sum_kind = |k: &str| {
            mine.iter()
                .filter(|l| l.kind == k)
                .map(|l| l.gross)
                .sum::<Decimal>()
        };
        let vat_kind = |k: &str| {
            mine.iter()
                .filter(|l| l.kind == k)
                .map(|l| l.vat)
                .sum::<Decimal>()
        };
        let item_gross = sum_kind("ITEM");
        let ship_gross = sum_kind("SHIPPING");
        let disc = sum_kind("DISCOUNT_ITEM") + sum_kind("DISCOUNT_SHIPPING");
        let tax: Decimal = mine.iter().map(|l| l.vat).sum();
        let total = item_gross + ship_gross + disc;
        let mut breakdowns = vec![json!({ "type": "ITEM", "subtotal": money(item_gross, cur) })];
        if !ship_gross.is_zero() {
            breakdowns.push(json!({ "type": "SHIPPING", "subtotal": money(ship_gross, cur) }));
        }
        if !disc.is_zero() {
            let mut detail = Vec::new();
            if !sum_kind("DISCOUNT_ITEM").is_zero() {
                detail.push(
                    json!({ "subtype": "ITEM", "value": money(sum_kind("DISCOUNT_ITEM"), cur) }),
                );
            }
            if !sum_kind("DISCOUNT_SHIPPING").is_zero() {
                detail.push(json!({ "subtype": "SHIPPING", "value": money(sum_kind("DISCOUNT_SHIPPING"), cur) }));
            }
            breakdowns.push(json!({ "type": "DISCOUNT", "subtotal": money(disc, cur), "detailedBreakdowns": detail }));
        }
        let mut tax_detail =
            vec![json!({ "subtype": "ITEM", "value": money(vat_kind("ITEM"), cur) })];
        if !ship_gross.is_zero() {
            tax_detail
                .push(json!({ "subtype": "SHIPPING", "value": money(vat_kind("SHIPPING"), cur) }));
        }
        if !disc.is_zero() {
            tax_detail.push(json!({ "subtype": "DISCOUNT", "value": money(vat_kind("DISCOUNT_ITEM") + vat_kind("DISCOUNT_SHIPPING"), cur) }));
        }
        breakdowns.push(
            json!({ "type": "TAX", "subtotal": money(tax, cur), "detailedBreakdowns": tax_detail }),
        );
        order_sums[0] += item_gross;
        order_sums[1] += ship_gross;
        order_sums[2] += disc;
        order_sums[3] += tax;
        grand += total;

        let mut product = json!({
            "asin": asin_for(sku),
            "title": title,
            "sellerSku": sku,
            "condition": { "conditionType": "NEW", "conditionSubtype": "NEW" },
            "price": { "unitPrice": money(p.unit, cur) },
        });
        if business_price {
            product["price"]["priceDesignation"] = json!("BUSINESS_PRICE");
        }
        let mut item = json!({
            "orderItemId": rng.digits(14),
            "quantityOrdered": p.qty,
            "product": product,
            "proceeds": { "proceedsTotal": money(total, cur), "breakdowns": breakdowns },
            "fulfillment": { "quantityFulfilled": 0, "quantityUnfulfilled": p.qty },
        });
        if let Some(promo) = &p.promotion {
            item["promotion"] = json!({ "breakdowns": [{ "promotionId": promo }] });
        }
        if rng.chance(0.03) {
            item["fulfillment"]["packing"] = json!({
                "giftOption": { "giftMessage": rng.pick(&["Gefeliciteerd!", "Alles Gute zum Geburtstag", "Veel liefs", "Joyeux anniversaire"]) }
            });
        }
        if !zero_rated && country != "NL" && !business {
            item["tax"] = json!({ "taxCalculationBreakdowns": [{ "reportingScheme": "UOSS" }] });
        }
        items_json.push(item);
    }
    let mut order_breakdowns =
        vec![json!({ "type": "ITEM", "subtotal": money(order_sums[0], cur) })];
    if !order_sums[1].is_zero() {
        order_breakdowns.push(json!({ "type": "SHIPPING", "subtotal": money(order_sums[1], cur) }));
    }
    if !order_sums[2].is_zero() {
        order_breakdowns.push(json!({ "type": "DISCOUNT", "subtotal": money(order_sums[2], cur) }));
    }
    order_breakdowns.push(json!({ "type": "TAX", "subtotal": money(order_sums[3], cur) }));

    // Buyer, recipient, tax.
    let mut buyer = json!({
        "buyerName": buyer_name,
        "buyerEmail": format!("{}@marketplace.amazon.{}", rng.alnum_lower(16), market.mail_tld),
    });
    if let Some(c) = &company {
        buyer["buyerCompanyName"] = json!(c);
        if rng.chance(0.5) {
            buyer["buyerPurchaseOrderNumber"] = json!(format!("PO-{}", rng.digits(6)));
        }
    }
    let mut delivery = Map::new();
    delivery.insert("name".into(), json!(recipient_name));
    if let Some(c) = &company {
        delivery.insert("companyName".into(), json!(c));
    }
    for (k, line) in ["addressLine1", "addressLine2", "addressLine3"]
        .iter()
        .zip(&addr.lines)
    {
        if !line.is_empty() || (*k == "addressLine1" && !addr.lines[1].is_empty()) {
            delivery.insert((*k).into(), json!(line));
        }
    }
    delivery.insert("city".into(), json!(addr.city));
    delivery.insert("postalCode".into(), json!(addr.postal));
    delivery.insert("countryCode".into(), json!(country));
    if rng.chance(0.95) {
        delivery.insert("phone".into(), json!(phone(rng, country)));
    }
    delivery.insert(
        "addressType".into(),
        json!(if addr.company_line || business {
            "COMMERCIAL"
        } else {
            "RESIDENTIAL"
        }),
    );
    let mut recipient = json!({ "deliveryAddress": Value::Object(delivery.clone()) });
    if rng.chance(0.05) {
        recipient["deliveryPreference"] = json!({
            "addressInstruction": rng.pick(&["Bij de buren afgeven", "Bitte beim Nachbarn abgeben", "Achterdeur gebruiken", "Laisser devant la porte"])
        });
    }
    let mut registrations = Vec::new();
    if let (Some(c), Some(v)) = (&company, &vat) {
        let mut reg_addr = delivery.clone();
        reg_addr.remove("phone");
        reg_addr.remove("name");
        reg_addr.remove("addressType");
        registrations.push(json!({
            "entityType": "BUYER",
            "legalName": c,
            "taxRegistrationType": "VAT",
            "taxRegistrationNumber": v,
            "taxRegistrationAddress": Value::Object(reg_addr),
        }));
    }
    registrations.push(json!({
        "entityType": "MERCHANT",
        "legalName": "Fulfil Sandbox Shop B.V.",
        "taxRegistrationType": "VAT",
        "taxRegistrationNumber": creds::SELLER_VAT,
    }));

    let mut programs = Vec::new();
    if business {
        programs.push("AMAZON_BUSINESS");
    }
    if prime {
        programs.push("PRIME");
    }
    let level = if country == "NL" && rng.chance(0.05) {
        "NEXT_DAY"
    } else if rng.chance(0.15) {
        "EXPEDITED"
    } else {
        "STANDARD"
    };
    let promise = Promise::of(&id, level, created, unshipped_at, start);
    let mut base = json!({
        "orderId": id,
        "createdTime": fmt(created),
        "lastUpdatedTime": fmt(created),
        "salesChannel": { "channelName": "AMAZON", "marketplaceId": market.id, "marketplaceName": market.name },
        "buyer": buyer,
        "recipient": recipient,
        "proceeds": { "grandTotal": money(grand, cur), "breakdowns": order_breakdowns },
        "tax": { "taxRegistrations": registrations },
        "fulfillment": {
            "fulfillmentStatus": "UNSHIPPED",
            "fulfilledBy": "MERCHANT",
            "fulfillmentServiceLevel": promise.level,
            "shipByWindow": {
                "earliestDateTime": fmt(unshipped_at),
                "latestDateTime": fmt(promise.ship_by),
            },
            "deliverByWindow": {
                "earliestDateTime": fmt(promise.deliver_from),
                "latestDateTime": fmt(promise.deliver_by),
            },
        },
        "orderItems": items_json,
    });
    if !programs.is_empty() {
        base["programs"] = json!(programs);
    }
    if let Some(at) = promise.label_from {
        // The model's note: the window has no end, only a start.
        base["fulfillment"]["labelPrintingWindow"] = json!({ "earliestDateTime": fmt(at) });
    }

    let mut rec = OrderRec {
        id: id.clone(),
        marketplace_id: market.id.to_owned(),
        created,
        base,
        initial: None,
        changes: Vec::new(),
    };
    rec.add_change(Change::Status {
        at: created,
        status: Status::Pending,
        cancel: None,
    });
    rec.add_change(Change::Status {
        at: unshipped_at,
        status: Status::Unshipped,
        cancel: None,
    });
    if cancelled {
        let at = unshipped_at + Duration::seconds(rng.range(600, 3 * 86_400));
        let (by, reason) = *rng.weighted(&[
            (6u32, ("BUYER", "Buyer requested cancellation")),
            (2, ("MERCHANT", "Out of stock")),
            (2, ("AMAZON", "Payment could not be authorised")),
        ]);
        rec.add_change(Change::Status {
            at: at_seconds(at),
            status: Status::Cancelled,
            cancel: Some((by.to_owned(), reason.to_owned())),
        });
    } else if shipped_elsewhere {
        let at = at_seconds(unshipped_at + Duration::seconds(rng.range(2 * 3600, 3 * 86_400)));
        let items: Vec<(String, i64)> = rec.base["orderItems"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|it| {
                        Some((
                            it["orderItemId"].as_str()?.to_owned(),
                            it["quantityOrdered"].as_i64()?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let carrier = *rng.pick(&["DHL", "DPD", "UPS"]);
        let package = json!({
            "packageReferenceId": "1",
            "createdTime": fmt(at),
            "packageStatus": { "status": "SHIPPED" },
            "carrier": carrier,
            "shipTime": fmt(at),
            "trackingNumber": format!("{}{}", rng.alnum_upper(4), rng.digits(10)),
            "packageItems": items.iter().map(|(i, q)| json!({ "orderItemId": i, "quantity": q })).collect::<Vec<_>>(),
        });
        rec.add_change(Change::Package {
            at,
            package,
            items,
            confirmation: None,
        });
    }
    rec
}

// ---------------------------------------------------------------------------------------------
// Orders given as JSON

/// Turns an order in the model's `Order` shape into a book entry, visible from the start with
/// the status it carries (`fulfillment.fulfillmentStatus`, default UNSHIPPED).
pub(crate) fn record_from_json(order: Value) -> anyhow::Result<OrderRec> {
    let Some(obj) = order.as_object() else {
        bail!("an order must be a JSON object");
    };
    let id = obj
        .get("orderId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .context("order without an orderId")?
        .to_owned();
    let created = obj
        .get("createdTime")
        .and_then(Value::as_str)
        .and_then(parse)
        .with_context(|| format!("order {id}: createdTime missing or not ISO 8601"))?;
    let updated = obj
        .get("lastUpdatedTime")
        .and_then(Value::as_str)
        .and_then(parse)
        .unwrap_or(created);
    if !obj.get("orderItems").is_some_and(Value::is_array) {
        bail!("order {id}: orderItems must be a list");
    }
    let status_s = order["fulfillment"]["fulfillmentStatus"]
        .as_str()
        .unwrap_or("UNSHIPPED");
    let status = Status::parse(status_s)
        .with_context(|| format!("order {id}: unknown fulfillmentStatus {status_s}"))?;
    let marketplace_id = order["salesChannel"]["marketplaceId"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let mut base = order;
    if base.get("salesChannel").is_none() {
        base["salesChannel"] = json!({ "channelName": "AMAZON", "marketplaceId": marketplace_id });
    }
    Ok(OrderRec {
        id,
        marketplace_id,
        created,
        base,
        initial: Some((status, updated)),
        changes: Vec::new(),
    })
}

/// Reads `{"orders":[...]}` from a file.
pub(crate) fn load_records(path: &Path) -> anyhow::Result<Vec<OrderRec>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the orders file {}", path.display()))?;
    let doc: Value = serde_json::from_str(&text)
        .with_context(|| format!("the orders file {} is not JSON", path.display()))?;
    let Some(orders) = doc.get("orders").and_then(Value::as_array) else {
        bail!("the orders file {} has no \"orders\" list", path.display());
    };
    orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            record_from_json(o.clone())
                .with_context(|| format!("orders[{i}] in {}", path.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #23: deadlines as Amazon sets them, and none late on a normal day.
    #[test]
    fn generated_deadlines_skip_weekends_and_are_not_late_when_the_orders_arrive() {
        let zone = crate::zone::SellerZone::amsterdam();
        let mut levels = std::collections::BTreeMap::<String, usize>::new();
        let mut windows = 0;
        // Every three hours over two weeks, so that every weekday, night and weekend
        // start is seen.
        for step in 0..112 {
            let start = time::macros::datetime!(2026-11-16 00:00 UTC) + Duration::hours(3 * step);
            for rec in generate_records(60, 7 + u64::try_from(step).unwrap(), start) {
                let f = &rec.base["fulfillment"];
                let level = f["fulfillmentServiceLevel"].as_str().unwrap().to_string();
                *levels.entry(level.clone()).or_default() += 1;
                let at = |k: &str, e: &str| parse(f[k][e].as_str().unwrap()).unwrap();
                let ship_by = at("shipByWindow", "latestDateTime");
                let local = zone.local(ship_by);
                assert!(ship_by > start, "{level} due {ship_by}, start {start}");
                assert!(
                    !matches!(
                        local.weekday(),
                        time::Weekday::Saturday | time::Weekday::Sunday
                    ),
                    "{level} due on a {}",
                    local.weekday()
                );
                assert_eq!((local.hour(), local.minute(), local.second()), (23, 59, 59));
                let (from, by) = (
                    at("deliverByWindow", "earliestDateTime"),
                    at("deliverByWindow", "latestDateTime"),
                );
                assert!(
                    from <= by && by >= ship_by,
                    "{level}: {from} {by} {ship_by}"
                );
                if let Some(label) = f["labelPrintingWindow"]["earliestDateTime"].as_str() {
                    windows += 1;
                    assert!(f["labelPrintingWindow"].get("latestDateTime").is_none());
                    let label = parse(label).unwrap();
                    assert!(label > rec.created && label < start, "{label}");
                }
            }
        }
        for level in ["STANDARD", "EXPEDITED", "NEXT_DAY", "PRIORITY", "SAME_DAY"] {
            assert!(levels.get(level).is_some_and(|n| *n > 0), "{levels:?}");
        }
        assert!(windows > 100, "{windows}");
    }

    #[test]
    fn generated_numbers_avoid_the_sandbox_vies_behaviours_but_a_few_invalid_ones() {
        let mut invalid = 0;
        for i in 0..400 {
            let id = format!("028-{i:07}-0000001");
            for raw in ["DE123456301", "DE123456302", "DE123456600", "DE123456789"] {
                let v = vies_number(raw.to_string(), &id);
                let suffix = &v[v.len() - 3..];
                assert!(
                    suffix == "200" || !super::super::vies::RESERVED.contains(&suffix),
                    "{v}"
                );
                if suffix == "200" {
                    invalid += 1;
                }
            }
        }
        assert!((200..=500).contains(&invalid), "{invalid} of 1600");
        assert_eq!(vies_number("NL123456789B01".into(), "x"), "NL123456789B01");
    }

    #[test]
    fn vat_numbers_have_their_shapes() {
        let mut rng = Rng::new(3);
        for _ in 0..50 {
            let nl = vat_number(&mut rng, "NL");
            assert_eq!(nl.len(), 14, "{nl}");
            assert_eq!(&nl[11..12], "B");
            let de = vat_number(&mut rng, "DE");
            assert_eq!(de.len(), 11, "{de}");
            let be = vat_number(&mut rng, "BE");
            let n: u64 = be[2..10].parse().expect("digits");
            let check: u64 = be[10..].parse().expect("digits");
            assert_eq!(97 - n % 97, check, "{be}");
            let pl = vat_number(&mut rng, "PL");
            assert_eq!(pl.len(), 12);
        }
    }

    #[test]
    fn luhn_matches_a_known_value() {
        // 7992739871 has Luhn check digit 3.
        assert_eq!(luhn_check_digit("7992739871"), 3);
    }

    #[test]
    fn vat_allocation_adds_up_per_rate() {
        let mut lines = vec![
            Line {
                item: 0,
                kind: "ITEM",
                gross: Decimal::new(1295, 2),
                rate: Decimal::new(21, 0),
                vat: Decimal::ZERO,
            },
            Line {
                item: 1,
                kind: "ITEM",
                gross: Decimal::new(899, 2),
                rate: Decimal::new(21, 0),
                vat: Decimal::ZERO,
            },
            Line {
                item: 0,
                kind: "SHIPPING",
                gross: Decimal::new(395, 2),
                rate: Decimal::new(21, 0),
                vat: Decimal::ZERO,
            },
        ];
        allocate_vat(&mut lines);
        let total: Decimal = lines.iter().map(|l| l.vat).sum();
        let expected = round2(Decimal::new(2589, 2) * Decimal::new(21, 0) / Decimal::new(121, 0));
        assert_eq!(total, expected);
    }
}
