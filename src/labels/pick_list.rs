//! The pick list of a print file (issue #19): what the packer takes from the shelves for
//! the labels just printed. First each SKU with its title and the quantity summed over
//! the batch, then per order its id, the number of its label in the print file and its
//! items. It names no buyer and holds no address, so it is not personal data: purge has
//! nothing to remove in it and it is not tracked for purge.
//!
//! The list is built from the order items (pure, [`build`]) and written as an A4 PDF
//! through the shared writer in [`crate::pdf`] ([`pdf()`]) or as plain text for scripts
//! ([`text`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::pdf::{self, Color, Document, Font};

/// One line of the list: a SKU, its title and a quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickLine {
    pub sku: String,
    pub title: String,
    pub quantity: i64,
}

/// One order of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickOrder {
    pub order_id: String,
    /// The numbers of the order's labels in the print file, from 1 (several for an order
    /// that ships as several parcels).
    pub label_nos: Vec<usize>,
    pub items: Vec<PickLine>,
}

impl PickOrder {
    /// The label numbers joined by `sep`.
    #[must_use]
    pub fn numbers(&self, sep: &str) -> String {
        self.label_nos
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(sep)
    }
}

/// A batch's pick list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PickList {
    /// Per SKU, sorted by SKU, the quantity over the whole batch.
    pub totals: Vec<PickLine>,
    /// The orders in print-file order.
    pub orders: Vec<PickOrder>,
}

impl PickList {
    /// Labels in the print file.
    #[must_use]
    pub fn labels(&self) -> usize {
        self.orders.iter().map(|o| o.label_nos.len()).sum()
    }

    /// Units over the whole batch.
    #[must_use]
    pub fn units(&self) -> i64 {
        self.totals.iter().map(|l| l.quantity).sum()
    }
}

/// An order's items as the store gives them: (SKU, title, quantity).
pub type OrderItems = Vec<(String, String, i64)>;

/// Builds the list from the print file's labels in print order, each with its order's
/// (SKU, title, quantity) items; the labels of an order's parcels follow each other and
/// count its items once. Items without a quantity are left out; a SKU's title is the
/// first one seen.
#[must_use]
pub fn build(labels: &[(String, OrderItems)]) -> PickList {
    let mut totals: BTreeMap<&str, PickLine> = BTreeMap::new();
    let mut out: Vec<PickOrder> = Vec::new();
    for (n, (order_id, items)) in labels.iter().enumerate() {
        if let Some(last) = out.last_mut()
            && last.order_id == *order_id
        {
            last.label_nos.push(n + 1);
            continue;
        }
        let mut lines = Vec::new();
        for (sku, title, quantity) in items.iter().filter(|(_, _, q)| *q > 0) {
            totals
                .entry(sku.as_str())
                .and_modify(|l| l.quantity += quantity)
                .or_insert_with(|| PickLine {
                    sku: sku.clone(),
                    title: title.clone(),
                    quantity: *quantity,
                });
            lines.push(PickLine {
                sku: sku.clone(),
                title: title.clone(),
                quantity: *quantity,
            });
        }
        out.push(PickOrder {
            order_id: order_id.clone(),
            label_nos: vec![n + 1],
            items: lines,
        });
    }
    PickList {
        totals: totals.into_values().collect(),
        orders: out,
    }
}

/// Field data cleaned of control characters and tabs, so that a line is one record.
fn field(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The list as plain text, tab-separated so that scripts can cut it:
///
/// ```text
/// # pick list: 3 labels, 5 units
/// total<TAB>SKU<TAB>QUANTITY<TAB>TITLE
/// order<TAB>ORDER<TAB>LABEL-NO[,LABEL-NO…]
/// item<TAB>ORDER<TAB>SKU<TAB>QUANTITY<TAB>TITLE
/// ```
#[must_use]
pub fn text(list: &PickList) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# pick list: {} labels, {} units",
        list.labels(),
        list.units()
    );
    for l in &list.totals {
        let _ = writeln!(
            out,
            "total\t{}\t{}\t{}",
            field(&l.sku),
            l.quantity,
            field(&l.title)
        );
    }
    for o in &list.orders {
        let _ = writeln!(out, "order\t{}\t{}", field(&o.order_id), o.numbers(","));
        for l in &o.items {
            let _ = writeln!(
                out,
                "item\t{}\t{}\t{}\t{}",
                field(&o.order_id),
                field(&l.sku),
                l.quantity,
                field(&l.title)
            );
        }
    }
    out
}

const A4: (f32, f32) = (595.28, 841.89);
const MARGIN: f32 = 42.0;
const LINE: f32 = 14.0;
const BLACK: Color = Color::BLACK;
const GREY: Color = Color::gray(0.4);

/// Writes page after page of lines, starting a new page when one is full.
struct Pages<'f> {
    fonts: &'f [Font],
    doc: Document<'f>,
    page: usize,
    y: f32,
    heading: String,
}

impl<'f> Pages<'f> {
    fn new(fonts: &'f [Font], heading: String) -> Result<Self, pdf::PdfError> {
        let mut doc = Document::new(fonts, A4);
        let page = doc.add_page();
        let mut p = Pages {
            fonts,
            doc,
            page,
            y: MARGIN,
            heading,
        };
        p.head()?;
        Ok(p)
    }

    fn head(&mut self) -> Result<(), pdf::PdfError> {
        let n = self.page + 1;
        let heading = format!("{}   (page {n})", self.heading);
        self.doc
            .text(self.page, 1, 14.0, (MARGIN, self.y + 14.0), &heading, BLACK)?;
        self.y += 34.0;
        Ok(())
    }

    /// Room for `lines` more lines, or a new page.
    fn room(&mut self, lines: f32) -> Result<(), pdf::PdfError> {
        if self.y + lines * LINE > A4.1 - MARGIN {
            self.page = self.doc.add_page();
            self.y = MARGIN;
            self.head()?;
        }
        Ok(())
    }

    /// One line of columns: (x, bold, text).
    fn row(&mut self, cols: &[(f32, bool, &str)], color: Color) -> Result<(), pdf::PdfError> {
        self.room(1.0)?;
        for (i, (x, bold, text)) in cols.iter().enumerate() {
            let right = cols.get(i + 1).map_or(A4.0 - MARGIN, |c| c.0) - 6.0;
            let font = usize::from(*bold);
            let text = clip(&self.fonts[font], text, right - x);
            self.doc
                .text(self.page, font, 10.0, (*x, self.y + 10.0), &text, color)?;
        }
        self.y += LINE;
        Ok(())
    }

    fn rule(&mut self) {
        let y = self.y + 3.0;
        self.doc
            .line(self.page, (MARGIN, y), (A4.0 - MARGIN, y), 0.5, GREY);
        self.y += 8.0;
    }
}

/// `text` cut (with `…`) to fit `width` points at 10 pt.
fn clip(font: &Font, text: &str, width: f32) -> String {
    let text = field(text);
    let measure = |s: &str| font.width(s, 10.0);
    if measure(&text) <= width {
        return text;
    }
    let mut out: String = text;
    while !out.is_empty() && measure(&format!("{out}…")) > width {
        out.pop();
    }
    format!("{out}…")
}

/// The list as an A4 PDF: the totals table, then each order with its label number.
/// `date` is the run's day (the PDF's date, so the same run gives the same bytes).
///
/// # Errors
/// When a font cannot be read or the PDF cannot be written.
pub fn pdf(list: &PickList, date: time::Date) -> Result<Vec<u8>, pdf::PdfError> {
    let fonts = [
        Font::new(notosans::REGULAR_TTF)?,
        Font::new(notosans::BOLD_TTF)?,
    ];
    let heading = format!(
        "Pick list {date}: {} labels, {} units",
        list.labels(),
        list.units()
    );
    let mut p = Pages::new(&fonts, heading)?;
    let (qty_x, sku_x, title_x) = (MARGIN, MARGIN + 44.0, MARGIN + 190.0);
    p.row(
        &[
            (qty_x, true, "qty"),
            (sku_x, true, "SKU"),
            (title_x, true, "title"),
        ],
        BLACK,
    )?;
    p.rule();
    for l in &list.totals {
        let q = l.quantity.to_string();
        p.row(
            &[
                (qty_x, true, &q),
                (sku_x, false, &l.sku),
                (title_x, false, &l.title),
            ],
            BLACK,
        )?;
    }
    p.y += LINE;
    p.room(3.0)?;
    p.row(
        &[
            (qty_x, true, "label"),
            (sku_x, true, "order / SKU"),
            (title_x, true, "qty  title"),
        ],
        BLACK,
    )?;
    p.rule();
    for o in &list.orders {
        // The order's id with up to three of its items on the same page.
        let lines: u8 = 1 + u8::try_from(o.items.len().min(3)).unwrap_or(3);
        p.room(f32::from(lines))?;
        let n = format!("#{}", o.numbers(", #"));
        p.row(&[(qty_x, true, &n), (sku_x, true, &o.order_id)], BLACK)?;
        for l in &o.items {
            let line = format!("{} x  {}", l.quantity, l.title);
            p.row(
                &[
                    (qty_x, false, ""),
                    (sku_x, false, &l.sku),
                    (title_x, false, &line),
                ],
                GREY,
            )?;
        }
    }
    let mut id = [0u8; 16];
    // The file id from the batch's first order and size: fixed inputs, fixed bytes.
    let seed = format!(
        "{}{}{}",
        list.orders.first().map_or("", |o| o.order_id.as_str()),
        list.orders.len(),
        list.units()
    );
    for (i, b) in seed.bytes().enumerate() {
        id[i % 16] ^= b;
    }
    let info = pdf::Info {
        title: "Pick list",
        author: "fulfil",
        subject: "Pick list",
        date,
        file_id: id,
    };
    p.doc.finish(&info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders() -> Vec<(String, OrderItems)> {
        vec![
            (
                "028-0000001-0000001".into(),
                vec![
                    ("MUG-RED".into(), "Red mug".into(), 2),
                    ("TEA-50".into(), "Tea, 50 bags".into(), 1),
                    ("GONE".into(), "Removed item".into(), 0),
                ],
            ),
            (
                "028-0000002-0000002".into(),
                vec![("MUG-RED".into(), "Red mug".into(), 3)],
            ),
        ]
    }

    #[test]
    fn totals_add_up_over_the_batch_and_orders_keep_print_order() {
        let list = build(&orders());
        assert_eq!(
            list.totals,
            vec![
                PickLine {
                    sku: "MUG-RED".into(),
                    title: "Red mug".into(),
                    quantity: 5
                },
                PickLine {
                    sku: "TEA-50".into(),
                    title: "Tea, 50 bags".into(),
                    quantity: 1
                },
            ]
        );
        assert_eq!(list.units(), 6);
        assert_eq!(list.orders[0].label_nos, vec![1]);
        assert_eq!(list.orders[1].label_nos, vec![2]);
        assert_eq!(
            list.orders[0].items.len(),
            2,
            "the removed item is left out"
        );
    }

    #[test]
    fn an_order_of_several_parcels_counts_its_items_once() {
        let mut o = orders();
        // Order 2 ships as three parcels: three labels in a row.
        o.insert(2, o[1].clone());
        o.insert(2, o[1].clone());
        let list = build(&o);
        assert_eq!(list.orders.len(), 2);
        assert_eq!(list.orders[1].label_nos, vec![2, 3, 4]);
        assert_eq!(list.labels(), 4);
        assert_eq!(list.units(), 6);
        assert!(text(&list).contains("order\t028-0000002-0000002\t2,3,4\n"));
    }

    #[test]
    fn text_is_one_record_per_line() {
        let mut o = orders();
        o[0].1[0].1 = "Red\tmug\nwith a break".into();
        let t = text(&build(&o));
        assert!(t.starts_with("# pick list: 2 labels, 6 units\n"));
        assert!(t.contains("total\tMUG-RED\t5\tRed mug with a break\n"));
        assert!(t.contains("order\t028-0000002-0000002\t2\n"));
        assert!(t.contains("item\t028-0000001-0000001\tTEA-50\t1\tTea, 50 bags\n"));
        assert_eq!(t.lines().count(), 1 + 2 + 2 + 3);
    }

    #[test]
    fn pdf_is_deterministic_and_spans_pages() {
        let many: Vec<_> = (0..120)
            .map(|i| {
                (
                    format!("028-{i:07}-0000001"),
                    vec![(
                        format!("SKU-{i}"),
                        "A product with a long title ".repeat(6),
                        1,
                    )],
                )
            })
            .collect();
        let list = build(&many);
        let day = time::macros::date!(2026 - 12 - 05);
        let a = pdf(&list, day).unwrap();
        assert!(a.starts_with(b"%PDF"));
        assert_eq!(a, pdf(&list, day).unwrap());
        let doc = lopdf::Document::load_mem(&a).unwrap();
        assert!(doc.get_pages().len() > 2, "{} pages", doc.get_pages().len());
    }
}
