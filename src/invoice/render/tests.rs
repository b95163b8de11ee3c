//! Tests of the invoice renderer: structure (lopdf), reproducibility, and the printed text
//! as `pdftotext` (poppler-utils) extracts it, which proves the font mapping end to end.

use std::fmt::Write as _;
use std::process::Command;

use rust_decimal_macros::dec;
use time::macros::date;

use super::*;
use crate::invoice::rates::{RateTable, TaxCategory};
use crate::invoice::vat::{
    Buyer, Invoice, LegalNote, Line, LineKind, Refund, Seller, compute, credit_note,
};

const SELLER_VAT: &str = "NL000099998B57";
const BUYER_VAT: &str = "DE123456789";
/// Names that only survive extraction when every glyph and its `ToUnicode` entry are right.
const CANARIES: [&str; 6] = [
    "Łukasz Żółć",
    "Bjørn Ødegård",
    "Straße",
    "Åsa Čečetka",
    "Erdős Kovács",
    "Café crème",
];

fn seller_block() -> SellerBlock {
    SellerBlock {
        legal_name: "Ødegård Trading B.V.".into(),
        address_lines: vec!["Keizersgracht 123".into(), "1015 CJ Amsterdam".into()],
        country: "Netherlands".into(),
        vat_id: SELLER_VAT.into(),
        chamber_of_commerce: Some("12345678".into()),
        email: "invoices@example.nl".into(),
    }
}

fn buyer_block(vat_id: Option<&str>) -> BuyerBlock {
    BuyerBlock {
        name: "Łukasz Żółć".into(),
        company: vat_id.map(|_| "Åsa Čečetka Straße GmbH".into()),
        address_lines: vec!["Hauptstraße 5".into(), "10115 Berlin".into()],
        country: "Germany".into(),
        vat_id: vat_id.map(Into::into),
    }
}

fn line(kind: LineKind, description: &str, gross: Decimal, category: TaxCategory) -> Line {
    Line {
        kind,
        description: description.into(),
        sku: Some(format!("SKU-{}", description.len())),
        quantity: 2,
        gross,
        category,
        belongs_to: None,
    }
}

fn three_lines() -> Vec<Line> {
    vec![
        line(
            LineKind::Goods,
            "Café crème bowl, Erdős Kovács edition (ceramic, 350 ml)",
            dec!(35.70),
            TaxCategory::Standard,
        ),
        line(
            LineKind::Goods,
            "Printed book: Ødegård & Straße, a history",
            dec!(21.40),
            TaxCategory::Books,
        ),
        line(
            LineKind::Shipping,
            "Shipping",
            dec!(4.99),
            TaxCategory::Standard,
        ),
    ]
}

fn computation(buyer: Buyer, currency: Currency, lines: Vec<Line>) -> Computation {
    let invoice = Invoice {
        seller: Seller {
            country: "NL".into(),
            vat_id: SELLER_VAT.into(),
            oss: true,
        },
        buyer,
        supply_date: date!(2026 - 01 - 19),
        currency,
        lines,
    };
    compute(&invoice, &RateTable::builtin()).expect("the engine computes the fixture")
}

fn business_de() -> Computation {
    computation(
        Buyer {
            country: "DE".into(),
            postal_code: Some("10115".into()),
            vat_id: Some(BUYER_VAT.into()),
            is_business: true,
            vat_id_confirmed: true,
        },
        Currency::Eur,
        three_lines(),
    )
}

fn consumer(country: &str, currency: Currency) -> Computation {
    computation(
        Buyer {
            country: country.into(),
            postal_code: None,
            vat_id: None,
            is_business: false,
            vat_id_confirmed: false,
        },
        currency,
        three_lines(),
    )
}

fn issue(number: &str, lang: Lang) -> Issue {
    Issue {
        number: number.into(),
        issue_date: date!(2026 - 01 - 20),
        order_id: "305-1234567-7654321".into(),
        marketplace: "amazon.de".into(),
        corrects: None,
        eur_rate: None,
        lang,
    }
}

fn b2b_invoice(lang: Lang) -> InvoiceDocument {
    InvoiceDocument::from_computation(
        &business_de(),
        issue("INV-2026-000123", lang),
        seller_block(),
        buyer_block(None),
    )
    .expect("document")
}

fn b2c_invoice(lang: Lang) -> InvoiceDocument {
    InvoiceDocument::from_computation(
        &consumer("DE", Currency::Eur),
        issue("INV-2026-000124", lang),
        seller_block(),
        buyer_block(None),
    )
    .expect("document")
}

fn b2c_credit_note(lang: Lang) -> InvoiceDocument {
    let cn = credit_note(&consumer("DE", Currency::Eur), &Refund::Full).expect("credit note");
    InvoiceDocument::from_computation(
        &cn,
        Issue {
            corrects: Some(OriginalInvoice {
                number: "INV-2026-000124".into(),
                issue_date: date!(2026 - 01 - 20),
                reason: Some("Return of all items".into()),
            }),
            issue_date: date!(2026 - 02 - 03),
            ..issue("CN-2026-000007", lang)
        },
        seller_block(),
        buyer_block(None),
    )
    .expect("document")
}

/// Text of `pdf` (pages `first..=last` when given) as poppler's pdftotext extracts it.
fn pdf_text(pdf: &[u8], pages: Option<(usize, usize)>) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let mut cmd = Command::new("pdftotext");
    // Raw mode keeps the content-stream order, so a wrapped paragraph stays together
    // instead of being interleaved with the column beside it.
    cmd.args(["-enc", "UTF-8", "-raw"]);
    if let Some((first, last)) = pages {
        cmd.args(["-f", &first.to_string(), "-l", &last.to_string()]);
    }
    let out = match cmd.arg(&path).arg("-").output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "pdftotext is not on PATH: install poppler-utils \
             (apt-get install -y poppler-utils); CI installs it"
        ),
        Err(e) => panic!("running pdftotext failed: {e}"),
    };
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    squash(&String::from_utf8(out.stdout).expect("pdftotext prints UTF-8"))
}

/// White space runs (including line breaks from wrapping) as one space.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_contains(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            text.contains(&squash(needle)),
            "{needle:?} missing from:\n{text}"
        );
    }
}

/// The amounts a document must print: every rate's net and VAT, and the totals.
fn assert_figures(doc: &InvoiceDocument, text: &str) {
    let lang = doc.lang;
    for r in &doc.per_rate {
        assert_contains(
            text,
            &[
                &percent(r.rate, lang),
                &money(r.net, lang),
                &money(r.vat, lang),
            ],
        );
    }
    assert_contains(
        text,
        &[
            &money(doc.total_net, lang),
            &money(doc.total_vat, lang),
            &money(doc.total_gross, lang),
        ],
    );
}

fn page_count(pdf: &[u8]) -> usize {
    lopdf::Document::load_mem(pdf)
        .expect("lopdf parses the PDF")
        .get_pages()
        .len()
}

#[test]
fn pdf_parses_with_a4_media_box_and_subset_fonts() {
    let pdf = render(&b2b_invoice(Lang::En)).expect("renders");
    let doc = lopdf::Document::load_mem(&pdf).expect("lopdf parses the PDF");
    let pages = doc.get_pages();
    assert_eq!(pages.len(), 1);
    for id in pages.values() {
        let page = doc.get_dictionary(*id).expect("page dictionary");
        let media_box: Vec<f32> = page
            .get(b"MediaBox")
            .and_then(lopdf::Object::as_array)
            .expect("MediaBox")
            .iter()
            .map(|o| o.as_float().expect("number"))
            .collect();
        assert_eq!(media_box.len(), 4);
        for (got, want) in media_box.iter().zip([0.0, 0.0, 595.276, 841.89]) {
            assert!((got - want).abs() < 0.01, "{media_box:?}");
        }
    }
    let mut fonts = 0;
    for object in doc.objects.values() {
        let Ok(dict) = object.as_dict() else {
            continue;
        };
        if let Ok(name) = dict.get(b"BaseFont").and_then(lopdf::Object::as_name) {
            let name = String::from_utf8_lossy(name);
            let (tag, rest) = name.split_once('+').expect("subset tag");
            assert!(tag.len() == 6 && tag.chars().all(|c| c.is_ascii_uppercase()));
            assert!(rest.starts_with("NotoSans"), "{name}");
            fonts += 1;
        }
    }
    // Regular and bold, each as a Type 0 font plus its CID font.
    assert_eq!(fonts, 4);
    // Both full faces together are some 400 kB; subsets of a one-page invoice are small.
    assert!(pdf.len() < 40_000, "{} bytes", pdf.len());
}

#[test]
fn same_document_gives_same_bytes_also_after_a_json_round_trip() {
    let doc = b2b_invoice(Lang::En);
    let a = render(&doc).expect("renders");
    let b = Renderer::new()
        .expect("fonts")
        .render(&doc)
        .expect("renders");
    assert_eq!(a, b);
    let json = serde_json::to_string(&doc).expect("serialises");
    let back: InvoiceDocument = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, doc);
    assert_eq!(render(&back).expect("renders"), a);
    let raw = String::from_utf8_lossy(&a);
    assert!(raw.contains("/CreationDate (D:20260120000000Z)"));
    assert!(raw.contains("/ModDate (D:20260120000000Z)"));

    let other = InvoiceDocument {
        number: "INV-2026-000125".into(),
        ..doc.clone()
    };
    let c = render(&other).expect("renders");
    assert_ne!(a, c);
    let id = |pdf: &[u8]| {
        lopdf::Document::load_mem(pdf)
            .expect("parses")
            .trailer
            .get(b"ID")
            .expect("ID")
            .clone()
    };
    assert_ne!(id(&a), id(&c));
}

#[test]
fn b2b_intra_community_invoice_prints_every_mandatory_field() {
    let doc = b2b_invoice(Lang::En);
    let text = pdf_text(&render(&doc).expect("renders"), None);
    assert_contains(
        &text,
        &[
            "Invoice",
            "INV-2026-000123",
            "Date of issue",
            "2026-01-20",
            "Date of supply",
            "2026-01-19",
            "305-1234567-7654321",
            "amazon.de",
            "Ødegård Trading B.V.",
            "Keizersgracht 123",
            SELLER_VAT,
            "12345678",
            "invoices@example.nl",
            "Łukasz Żółć",
            "Hauptstraße 5",
            BUYER_VAT,
            "Reverse charge",
            &LegalNote::IntraCommunitySupply.text(Lang::En),
            &LegalNote::ReverseCharge.text(Lang::En),
            "Page 1 of 1",
            "EUR 62.09",
        ],
    );
    assert_figures(&doc, &text);
    assert_contains(&text, &["0%"]);
}

#[test]
fn latin_extended_names_come_out_intact() {
    let mut doc = b2c_invoice(Lang::En);
    doc.lines[0].description = format!("{} — voucher worth 10 €", CANARIES.join(", "));
    let text = pdf_text(&render(&doc).expect("renders"), None);
    assert_contains(&text, &CANARIES);
    assert_contains(&text, &["€", "ł", "ő", "ß", "å", "č", "ø", "é"]);
}

#[test]
fn oss_invoice_shows_each_rate_and_the_oss_wording() {
    let doc = b2c_invoice(Lang::En);
    assert_eq!(doc.per_rate.len(), 2, "19 % and 7 % in Germany");
    let text = pdf_text(&render(&doc).expect("renders"), None);
    assert_figures(&doc, &text);
    assert_contains(&text, &["19%", "7%", "Union OSS"]);
}

#[test]
fn credit_note_refers_to_the_invoice_and_shows_negative_amounts() {
    let doc = b2c_credit_note(Lang::En);
    assert!(doc.total_gross < Decimal::ZERO);
    let text = pdf_text(&render(&doc).expect("renders"), None);
    assert_contains(
        &text,
        &[
            "Credit note",
            "CN-2026-000007",
            "Original invoice",
            "INV-2026-000124",
            "2026-01-20",
            "This credit note corrects invoice INV-2026-000124 of 2026-01-20.",
            "Return of all items",
            "-62.09",
        ],
    );
    assert_figures(&doc, &text);
    for r in &doc.per_rate {
        assert!(money(r.net, Lang::En).starts_with('-'));
    }
}

#[test]
fn removed_buyer_prints_one_line_and_keeps_the_figures() {
    for lang in [Lang::En, Lang::Nl, Lang::De] {
        let doc = b2b_invoice(lang).without_buyer();
        let text = pdf_text(&render(&doc).expect("renders"), None);
        assert_contains(&text, &[Labels::of(lang).buyer_removed]);
        assert!(!text.contains("Łukasz"), "{text}");
        assert!(!text.contains("Hauptstraße"), "{text}");
        assert!(!text.contains(BUYER_VAT), "{text}");
        assert_figures(&doc, &text);
        assert_contains(&text, &[&LegalNote::ReverseCharge.text(lang), SELLER_VAT]);
    }
}

#[test]
fn dutch_and_german_documents_are_translated() {
    let cases = [
        (
            Lang::Nl,
            "Factuur",
            "Creditnota",
            "20-01-2026",
            "Pagina 1 van 1",
        ),
        (
            Lang::De,
            "Rechnung",
            "Rechnungskorrektur",
            "20.01.2026",
            "Seite 1 von 1",
        ),
    ];
    for (lang, invoice, credit, date, page) in cases {
        let doc = b2c_invoice(lang);
        let text = pdf_text(&render(&doc).expect("renders"), None);
        assert_contains(&text, &[invoice, date, page, Labels::of(lang).total_vat]);
        assert_contains(
            &text,
            &[&LegalNote::OssUnionScheme {
                country: "DE".into(),
            }
            .text(lang)],
        );
        assert_figures(&doc, &text);
        assert!(text.contains("62,09"), "decimal comma: {text}");
        let text = pdf_text(&render(&b2c_credit_note(lang)).expect("renders"), None);
        assert_contains(&text, &[credit, "-62,09"]);
    }
}

#[test]
fn non_eur_invoice_states_its_vat_in_eur() {
    let c = consumer("SE", Currency::Sek);
    let doc = InvoiceDocument::from_computation(
        &c,
        Issue {
            eur_rate: Some(EurRate {
                rate: dec!(11.2345),
                date: date!(2026 - 01 - 16),
                source: "European Central Bank".into(),
            }),
            ..issue("INV-2026-000200", Lang::En)
        },
        seller_block(),
        buyer_block(None),
    )
    .expect("document");
    let eur = doc.eur_vat.as_ref().expect("EUR figure");
    assert_eq!(
        eur.vat_eur,
        (c.total_vat / dec!(11.2345))
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    );
    let text = pdf_text(&render(&doc).expect("renders"), None);
    assert_contains(
        &text,
        &[
            &format!("VAT in EUR: {}", money(eur.vat_eur, Lang::En)),
            "1 EUR = 11.2345 SEK",
            "European Central Bank",
            "2026-01-16",
            "SEK",
        ],
    );
    assert_figures(&doc, &text);
}

#[test]
fn many_lines_flow_over_pages_with_repeated_header() {
    let lines: Vec<Line> = (1..=120)
        .map(|i| Line {
            sku: Some(format!("SKU-{i:04}")),
            ..line(
                LineKind::Goods,
                &format!("Article number {i:03} Łódź"),
                Decimal::new(1_000 + i64::from(i), 2),
                TaxCategory::Standard,
            )
        })
        .collect();
    let c = computation(
        Buyer {
            country: "NL".into(),
            postal_code: None,
            vat_id: None,
            is_business: false,
            vat_id_confirmed: false,
        },
        Currency::Eur,
        lines,
    );
    let doc = InvoiceDocument::from_computation(
        &c,
        issue("INV-2026-000300", Lang::En),
        seller_block(),
        buyer_block(None),
    )
    .expect("document");
    let pdf = render(&doc).expect("renders");
    let pages = page_count(&pdf);
    assert!(pages >= 3, "{pages} pages");
    let all = pdf_text(&pdf, None);
    for i in 1..=120 {
        assert!(
            all.contains(&format!("Article number {i:03} Łódź")),
            "line {i}"
        );
    }
    assert_figures(&doc, &all);
    for p in 1..=pages {
        let text = pdf_text(&pdf, Some((p, p)));
        assert_contains(&text, &[&format!("Page {p} of {pages}"), SELLER_VAT]);
        if p > 1 {
            assert_contains(&text, &["Invoice INV-2026-000300 (continued)"]);
        }
        // Every page that carries lines starts them with the column headings.
        if text.contains("Article number") {
            assert_contains(&text, &["Description", "Unit price", "Gross"]);
        }
    }
}

#[test]
fn characters_missing_from_the_font_print_as_question_marks() {
    let mut doc = b2c_invoice(Lang::En);
    doc.lines[0].description = "Tea set 漢字 😀 boxed".into();
    let text = pdf_text(&render(&doc).expect("renders"), None);
    assert_contains(&text, &["Tea set ?? ? boxed"]);
}

#[test]
fn long_texts_wrap_instead_of_overflowing() {
    let mut doc = b2c_invoice(Lang::En);
    let long = "Stainless steel vacuum insulated bottle with bamboo lid ".repeat(12);
    doc.lines[0].description.clone_from(&long);
    doc.lines[0].sku = Some("X".repeat(300));
    let pdf = render(&doc).expect("renders");
    assert_eq!(page_count(&pdf), 1);
    let text = pdf_text(&pdf, None);
    assert!(text.matches("bamboo lid").count() >= 12, "{text}");
}

#[test]
fn from_computation_refuses_data_that_does_not_fit() {
    let b2b = business_de();
    let other_id = InvoiceDocument::from_computation(
        &b2b,
        issue("INV-1", Lang::En),
        seller_block(),
        buyer_block(Some("DE999999999")),
    );
    assert!(
        matches!(other_id, Err(RenderError::Invalid(_))),
        "{other_id:?}"
    );
    // The same number written differently is the same number.
    let spaced = InvoiceDocument::from_computation(
        &b2b,
        issue("INV-1", Lang::En),
        seller_block(),
        buyer_block(Some("de 123 456 789")),
    )
    .expect("same VAT number");
    assert_eq!(
        spaced.buyer.and_then(|b| b.vat_id).as_deref(),
        Some(BUYER_VAT)
    );
    // A consumer document cannot print a VAT number the engine did not use.
    let consumer_doc = InvoiceDocument::from_computation(
        &consumer("DE", Currency::Eur),
        issue("INV-1", Lang::En),
        seller_block(),
        buyer_block(Some(BUYER_VAT)),
    );
    assert!(consumer_doc.is_err());
    // Credit notes need the original invoice; invoices must not have one.
    let cn = credit_note(&b2b, &Refund::Full).expect("credit note");
    assert!(
        InvoiceDocument::from_computation(
            &cn,
            issue("CN-1", Lang::En),
            seller_block(),
            buyer_block(None)
        )
        .is_err()
    );
    let with_original = Issue {
        corrects: Some(OriginalInvoice {
            number: "INV-1".into(),
            issue_date: date!(2026 - 01 - 20),
            reason: None,
        }),
        ..issue("INV-2", Lang::En)
    };
    assert!(
        InvoiceDocument::from_computation(&b2b, with_original, seller_block(), buyer_block(None))
            .is_err()
    );
    // Currency and EUR rate go together.
    let sek = consumer("SE", Currency::Sek);
    assert!(
        InvoiceDocument::from_computation(
            &sek,
            issue("INV-3", Lang::En),
            seller_block(),
            buyer_block(None)
        )
        .is_err()
    );
    let eur_with_rate = Issue {
        eur_rate: Some(EurRate {
            rate: dec!(1),
            date: date!(2026 - 01 - 16),
            source: "European Central Bank".into(),
        }),
        ..issue("INV-4", Lang::En)
    };
    assert!(
        InvoiceDocument::from_computation(&b2b, eur_with_rate, seller_block(), buyer_block(None))
            .is_err()
    );
}

#[test]
fn tampered_figures_are_not_printed() {
    let good = b2c_invoice(Lang::En);
    let mut cases = Vec::new();
    let mut d = good.clone();
    d.total_vat += dec!(0.01);
    cases.push(d);
    let mut d = good.clone();
    d.lines[0].net += dec!(0.01);
    cases.push(d);
    let mut d = good.clone();
    d.per_rate[0].gross += dec!(1);
    d.per_rate[0].net += dec!(1);
    cases.push(d);
    let mut d = good.clone();
    d.lines[0].vat_rate = dec!(20);
    cases.push(d);
    let mut d = good.clone();
    d.lines[1].gross = dec!(1.001);
    cases.push(d);
    let mut d = good.clone();
    d.number = " ".into();
    cases.push(d);
    let mut d = good.clone();
    d.kind = DocumentKind::CreditNote;
    cases.push(d);
    let mut d = good.clone();
    d.lines.clear();
    cases.push(d);
    for (i, bad) in cases.iter().enumerate() {
        assert!(
            matches!(render(bad), Err(RenderError::Invalid(_))),
            "case {i} was rendered"
        );
    }
    assert!(render(&good).is_ok());
}

#[test]
fn stored_json_is_strict_and_defaults_to_english() {
    let doc = b2b_invoice(Lang::En);
    let mut value = serde_json::to_value(&doc).expect("serialises");
    assert_eq!(value["kind"], "invoice");
    assert_eq!(value["issue_date"], "2026-01-20");
    assert_eq!(value["total_gross"], "62.09");
    value.as_object_mut().expect("object").remove("lang");
    let back: InvoiceDocument = serde_json::from_value(value.clone()).expect("lang optional");
    assert_eq!(back.lang, Lang::En);
    value["surprise"] = serde_json::json!(1);
    assert!(serde_json::from_value::<InvoiceDocument>(value).is_err());
}

#[test]
fn numbers_dates_and_text_are_formatted_per_language() {
    assert_eq!(money(dec!(1234567.5), Lang::En), "1,234,567.50");
    assert_eq!(money(dec!(1234567.5), Lang::Nl), "1.234.567,50");
    assert_eq!(money(dec!(-0.05), Lang::De), "-0,05");
    assert_eq!(money(dec!(-1000), Lang::En), "-1,000.00");
    assert_eq!(money(dec!(0), Lang::En), "0.00");
    assert_eq!(money(dec!(999), Lang::En), "999.00");
    assert_eq!(percent(dec!(21), Lang::En), "21%");
    assert_eq!(percent(dec!(5.5), Lang::De), "5,5%");
    assert_eq!(percent(dec!(0), Lang::En), "0%");
    assert_eq!(format_number(dec!(6.6633), 2, 4, Lang::En), "6.6633");
    assert_eq!(format_number(dec!(12.5000), 2, 4, Lang::En), "12.50");
    assert_eq!(format_date(date!(2026 - 03 - 04), Lang::En), "2026-03-04");
    assert_eq!(format_date(date!(2026 - 03 - 04), Lang::Nl), "04-03-2026");
    assert_eq!(format_date(date!(2026 - 03 - 04), Lang::De), "04.03.2026");
    assert_eq!(clean(" a\n\tb  c\u{7}d "), "a b c d");
    let font = Font::new(notosans::REGULAR_TTF).expect("font");
    let lines = wrap(&font, 10.0, "aaaa bbbb cccc", font.width("aaaa bbbb", 10.0));
    assert_eq!(lines, ["aaaa bbbb", "cccc"]);
    let lines = wrap(&font, 10.0, &"x".repeat(40), font.width("xxxxxxxxxx", 10.0));
    assert_eq!(lines.len(), 4);
    assert_eq!(wrap(&font, 10.0, "", 50.0), [""]);
}

#[test]
fn renderer_is_shareable_and_output_does_not_depend_on_the_thread() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Renderer>();
    let doc = b2b_invoice(Lang::En);
    let here = render(&doc).expect("renders");
    // A fresh thread starts with a fresh compressor; the bytes must not notice.
    let there = std::thread::spawn(move || render(&doc).expect("renders"))
        .join()
        .expect("thread");
    assert_eq!(here, there);
}

/// Guards byte identity across builds: the store re-renders documents and expects the bytes
/// that were issued. If this fails after a layout change or a bump of `notosans`,
/// `pdf-writer`, `subsetter` or `miniz_oxide`, documents issued before the change no longer
/// re-render identically: update the hash only when that is understood and accepted.
#[test]
fn golden_hash_of_a_fixed_invoice() {
    let pdf = render(&b2b_invoice(Lang::En)).expect("renders");
    let digest = ring::digest::digest(&ring::digest::SHA256, &pdf);
    let hex: String = digest.as_ref().iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    });
    assert_eq!(
        hex,
        "8adbbaa9f913429e2bd9175c1dd23bf6aa331e2818caeebc822ca4fa69bb55cf"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    #[test]
    fn any_text_renders_without_panicking(
        description in "\\PC{0,300}",
        name in "\\PC{0,80}",
        sku in proptest::option::of("\\PC{0,60}"),
        number in "[A-Z0-9-]{1,30}",
    ) {
        let mut doc = b2b_invoice(Lang::De);
        doc.lines[0].description = description;
        doc.lines[0].sku = sku;
        doc.number = number;
        if let Some(buyer) = doc.buyer.as_mut() {
            buyer.name = name.clone();
            buyer.address_lines.push(name);
        }
        let pdf = render(&doc).expect("renders");
        proptest::prop_assert!(page_count(&pdf) >= 1);
    }
}

/// Every fixed text of [`Labels`], by field name.
fn label_texts(l: &Labels) -> Vec<(&'static str, &'static str)> {
    macro_rules! fields {
        ($($f:ident),* $(,)?) => { vec![$((stringify!($f), l.$f)),*] };
    }
    fields!(
        invoice,
        credit_note,
        invoice_number,
        credit_note_number,
        date_of_issue,
        date_of_supply,
        original_invoice,
        original_date,
        corrects,
        of_date,
        reason,
        order_id,
        marketplace,
        currency,
        vat_id,
        chamber,
        customer,
        buyer_removed,
        description,
        sku,
        quantity,
        unit_price,
        net,
        rate,
        rate_short,
        vat,
        gross,
        vat_summary,
        total_net,
        total_vat,
        total,
        amounts_in,
        vat_in_eur,
        exchange_rate,
        continued,
        page,
        page_of,
    )
}

/// Issue #17, item 5: no fixed text of a document is missing, or left in English, in any
/// language; and every language renders, with its own characters, into a PDF whose
/// text a reader can extract.
#[test]
fn every_fixed_text_is_there_in_every_language() {
    let english = label_texts(&EN);
    // Words that are the same in English and some other language.
    let shared = [
        "sku",
        "page",
        "net",
        "gross",
        "marketplace",
        "of_date",
        "page_of",
        "invoice",
        "vat",
        "rate_short",
        "customer",
        "reason",
        "currency",
        "total",
    ];
    for lang in Lang::ALL {
        let texts = label_texts(Labels::of(lang));
        assert_eq!(texts.len(), english.len());
        for ((name, text), (_, en)) in texts.iter().zip(&english) {
            assert!(!text.trim().is_empty(), "{lang:?}: {name} is empty");
            if lang != Lang::En && !shared.contains(name) {
                assert_ne!(text, en, "{lang:?}: {name} is still English");
            }
        }
        for note in [
            LegalNote::IntraCommunitySupply,
            LegalNote::ReverseCharge,
            LegalNote::OssUnionScheme {
                country: "DE".into(),
            },
        ] {
            let t = note.text(lang);
            assert!(!t.trim().is_empty(), "{lang:?}: {note:?}");
            if lang != Lang::En {
                assert_ne!(
                    t,
                    note.text(Lang::En),
                    "{lang:?}: {note:?} is still English"
                );
            }
        }
        for code in ["NL", "DE", "PL", "SE", "GB", "EL"] {
            let name = crate::invoice::issue::country_name(code, lang);
            assert!(name.len() > 2, "{lang:?}: no name for {code}");
        }
        for reason in [
            crate::invoice::issue::cancellation_reason(lang),
            crate::invoice::issue::refund_reason(lang),
        ] {
            assert!(!reason.trim().is_empty());
        }
        if lang != Lang::En {
            assert_ne!(
                crate::invoice::issue::refund_reason(lang),
                crate::invoice::issue::refund_reason(Lang::En)
            );
        }
        // The documents themselves.
        let doc = b2c_invoice(lang);
        let text = pdf_text(&render(&doc).expect("renders"), None);
        let l = Labels::of(lang);
        assert_contains(
            &text,
            &[l.invoice, l.date_of_issue, l.total_vat, l.vat_summary],
        );
        assert_figures(&doc, &text);
        let text = pdf_text(&render(&b2c_credit_note(lang)).expect("renders"), None);
        assert_contains(&text, &[l.credit_note, l.corrects]);
    }
}

#[test]
fn each_language_writes_dates_and_amounts_its_way() {
    let d = date!(2026 - 01 - 20);
    let cases = [
        (Lang::En, "2026-01-20", "1,234.50"),
        (Lang::Nl, "20-01-2026", "1.234,50"),
        (Lang::De, "20.01.2026", "1.234,50"),
        (Lang::Fr, "20/01/2026", "1 234,50"),
        (Lang::It, "20/01/2026", "1.234,50"),
        (Lang::Es, "20/01/2026", "1.234,50"),
        (Lang::Sv, "2026-01-20", "1 234,50"),
        (Lang::Pl, "20.01.2026", "1 234,50"),
    ];
    for (lang, date, amount) in cases {
        assert_eq!(format_date(d, lang), date, "{lang:?}");
        assert_eq!(money(dec!(1234.5), lang), amount, "{lang:?}");
    }
}
