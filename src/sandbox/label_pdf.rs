//! Shipping-label PDFs for the PostNL sandbox.
//!
//! This module owns the drawing of the labels the sandbox hands out: an A6 portrait page
//! (105 × 148 mm) per shipment, or, for the `GraphicFile|PDF|MergeA..D` printer types, A4
//! sheets with up to four A6 labels each. It knows nothing about request JSON: the caller
//! fills a [`LabelSpec`] and gets PDF bytes back, so it can be tested on its own.
//!
//! What a label shows: a "SANDBOX" banner (these labels must never reach a real parcel),
//! the product code and label type (`Label`, or `BusPakjeExtra` for letterbox parcels),
//! the sender, the receiver address exactly as sent (name, company, street with house
//! number and extension, zipcode and city, country), the barcode as a Code 128 symbol drawn
//! with filled rectangles plus the barcode as text, the reference and the creation time.
//!
//! The Code 128 encoder lives here too ([`code128`]): a pattern table, subset B with a
//! switch to subset C for long digit runs, and the modulo-103 checksum.
//!
//! Determinism: the same [`LabelSpec`] always gives byte-identical output. printpdf puts a
//! random file identifier in the trailer, so the bytes are loaded once more with lopdf and
//! the identifier is replaced by one derived from the label's content; every date in the
//! document comes from [`LabelSpec::created`], never from the system clock.
//!
//! Text is set in the PDF base fonts (Helvetica, Courier), whose WinAnsi encoding covers
//! Western European letters; characters outside it print as `?`.

use printpdf::{
    BuiltinFont, Color, Greyscale, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, TextItem,
};
use std::fmt::Write as _;

use time::OffsetDateTime;

/// A6 portrait, in millimetres.
pub(crate) const A6_WIDTH_MM: f32 = 105.0;
pub(crate) const A6_HEIGHT_MM: f32 = 148.0;
const A4_WIDTH_MM: f32 = 210.0;
const A4_HEIGHT_MM: f32 = 297.0;

/// Which kind of label to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LabelKind {
    /// An ordinary parcel label (`Labeltype` "Label").
    Parcel,
    /// A letterbox-parcel label (`Labeltype` "BusPakjeExtra").
    Letterbox,
    /// Customs declaration for non-EU parcels (`Labeltype` "CN23"). The sandbox draws it
    /// on the same A6 layout as a label, not on PostNL's A5 form.
    Cn23,
    /// Dispatch note for non-EU parcels (`Labeltype` "CP71"), same stand-in layout.
    Cp71,
    /// Commercial invoice for non-EU commercial goods, same stand-in layout.
    CommercialInvoice,
}

impl LabelKind {
    /// The `Labeltype` string PostNL uses for this kind.
    pub(crate) fn label_type(self) -> &'static str {
        match self {
            LabelKind::Parcel => "Label",
            LabelKind::Letterbox => "BusPakjeExtra",
            LabelKind::Cn23 => "CN23",
            LabelKind::Cp71 => "CP71",
            LabelKind::CommercialInvoice => "CommercialInvoice",
        }
    }
}

/// An address as it should appear on the label; empty fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelAddress {
    pub first_name: String,
    pub name: String,
    pub company: String,
    /// The street, or the whole `StreetHouseNrExt` value when that field was used.
    pub street: String,
    pub house_nr: String,
    pub house_nr_ext: String,
    pub zipcode: String,
    pub city: String,
    pub country: String,
}

impl LabelAddress {
    /// The address as printed lines, top to bottom.
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        push_nonempty(&mut lines, join_words(&[&self.first_name, &self.name]));
        push_nonempty(&mut lines, self.company.trim().to_owned());
        push_nonempty(
            &mut lines,
            join_words(&[&self.street, &self.house_nr, &self.house_nr_ext]),
        );
        push_nonempty(&mut lines, join_words(&[&self.zipcode, &self.city]));
        push_nonempty(&mut lines, self.country.trim().to_owned());
        lines
    }
}

/// Everything one label needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelSpec {
    pub kind: LabelKind,
    pub barcode: String,
    pub product_code: String,
    pub sender: LabelAddress,
    pub receiver: LabelAddress,
    /// The seller's reference (order number); may be empty.
    pub reference: String,
    pub weight_grams: Option<u64>,
    /// Creation time; becomes the PDF's CreationDate and the printed date.
    pub created: OffsetDateTime,
}

/// Why a label could not be drawn.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum LabelError {
    #[error("barcode {0:?} cannot be encoded as Code 128 (printable ASCII only, 1-40 characters)")]
    Unencodable(String),
    #[error("no labels to draw")]
    Empty,
    #[error("the generated PDF could not be finalised: {0}")]
    Pdf(String),
}

/// One A6 page with one label.
pub(crate) fn render(spec: &LabelSpec) -> Result<Vec<u8>, LabelError> {
    let ops = label_ops(spec, 0.0, 0.0)?;
    let page = PdfPage::new(Mm(A6_WIDTH_MM), Mm(A6_HEIGHT_MM), ops);
    finish(
        &format!("{} {}", spec.kind.label_type(), spec.barcode),
        vec![page],
        spec.created,
        &identity_seed(std::slice::from_ref(spec)),
    )
}

/// A4 sheets with four A6 slots each (top-left, top-right, bottom-left, bottom-right), the
/// first label going into `first_slot` (0..=3) and the rest following; a new sheet starts
/// when one is full.
pub(crate) fn render_a4_sheets(
    specs: &[LabelSpec],
    first_slot: usize,
) -> Result<Vec<u8>, LabelError> {
    let first = specs.first().ok_or(LabelError::Empty)?;
    let mut pages = Vec::new();
    let mut ops = Vec::new();
    let mut slot = first_slot.min(3);
    for spec in specs {
        let column = slot % 2;
        let row = slot / 2;
        #[allow(clippy::cast_precision_loss)] // column and row are 0 or 1
        let (ox, oy) = (
            column as f32 * A6_WIDTH_MM,
            A4_HEIGHT_MM - (row as f32 + 1.0) * (A4_HEIGHT_MM / 2.0),
        );
        ops.extend(label_ops(spec, ox, oy)?);
        slot += 1;
        if slot == 4 {
            pages.push(PdfPage::new(
                Mm(A4_WIDTH_MM),
                Mm(A4_HEIGHT_MM),
                std::mem::take(&mut ops),
            ));
            slot = 0;
        }
    }
    if !ops.is_empty() {
        pages.push(PdfPage::new(Mm(A4_WIDTH_MM), Mm(A4_HEIGHT_MM), ops));
    }
    finish(
        &format!("Labels {}", first.barcode),
        pages,
        first.created,
        &identity_seed(specs),
    )
}

/// The same label as ZPL II text for a Zebra printer with `dots_per_mm` (8, 12 or 24 for
/// 200, 300 and 600 dpi). Only the printer draws the barcode here (`^BC`, Code 128).
pub(crate) fn render_zpl(spec: &LabelSpec, dots_per_mm: u32) -> Result<Vec<u8>, LabelError> {
    if code128::encode(&spec.barcode).is_none() {
        return Err(LabelError::Unencodable(spec.barcode.clone()));
    }
    let d = dots_per_mm.clamp(1, 24);
    let mut out = String::from("^XA^CI28\n");
    let _ = writeln!(out, "^PW{}^LL{}", 105 * d, 148 * d);
    zpl_text(&mut out, d, (5, 5, 4), "SANDBOX - NOT FOR SHIPPING");
    zpl_text(
        &mut out,
        d,
        (5, 13, 6),
        &format!("PostNL {}", spec.product_code),
    );
    zpl_text(&mut out, d, (65, 14, 3), spec.kind.label_type());
    let mut y = 24;
    for line in spec.sender.lines().iter().take(5) {
        zpl_text(&mut out, d, (5, y, 3), &clip(line, 70));
        y += 4;
    }
    let mut y = 60;
    for line in spec
        .receiver
        .lines()
        .iter()
        .flat_map(|l| wrap(l, 42))
        .take(6)
    {
        zpl_text(&mut out, d, (5, y, 4), &line);
        y += 5;
    }
    let _ = writeln!(
        out,
        "^FO{},{}^BY2^BCN,{},Y,N,N^FD{}^FS",
        8 * d,
        98 * d,
        22 * d,
        spec.barcode
    );
    if !spec.reference.is_empty() {
        let reference = format!("Ref: {}", clip(&spec.reference, 60));
        zpl_text(&mut out, d, (5, 138, 3), &reference);
    }
    out.push_str("^XZ\n");
    Ok(out.into_bytes())
}

/// One ZPL text field at (x, y) mm with a glyph height in mm, `d` dots per mm.
fn zpl_text(out: &mut String, d: u32, (x, y, height): (u32, u32, u32), text: &str) {
    // `^` and `~` start ZPL commands; they may not appear inside field data.
    let text: String = text
        .chars()
        .map(|ch| if ch == '^' || ch == '~' { ' ' } else { ch })
        .collect();
    let _ = writeln!(
        out,
        "^FO{},{}^A0N,{},{}^FD{}^FS",
        x * d,
        y * d,
        height * d,
        height * d,
        text
    );
}

fn identity_seed(specs: &[LabelSpec]) -> String {
    // Debug output covers every field, so two specs that differ anywhere get different ids.
    format!("{specs:?}")
}

/// Serialises the pages and pins everything printpdf would otherwise randomise.
fn finish(
    title: &str,
    pages: Vec<PdfPage>,
    created: OffsetDateTime,
    identity: &str,
) -> Result<Vec<u8>, LabelError> {
    let id = document_id(identity);
    let mut doc = PdfDocument::new(title);
    let when = printpdf::OffsetDateTime::from_unix_timestamp(created.unix_timestamp())
        .unwrap_or(printpdf::OffsetDateTime::epoch());
    doc.metadata.info.creation_date = when;
    doc.metadata.info.modification_date = when;
    doc.metadata.info.metadata_date = when;
    "fulfil PostNL sandbox".clone_into(&mut doc.metadata.info.creator);
    "fulfil PostNL sandbox".clone_into(&mut doc.metadata.info.producer);
    doc.metadata.info.identifier.clone_from(&id);
    doc.pages = pages;
    let mut warnings = Vec::new();
    let raw = doc.save(&PdfSaveOptions::default(), &mut warnings);

    let mut pdf = lopdf::Document::load_mem(&raw).map_err(|e| LabelError::Pdf(e.to_string()))?;
    let id_object = lopdf::Object::String(id.into_bytes(), lopdf::StringFormat::Literal);
    pdf.trailer.set(
        "ID",
        lopdf::Object::Array(vec![id_object.clone(), id_object]),
    );
    let mut out = Vec::new();
    pdf.save_to(&mut out)
        .map_err(|e| LabelError::Pdf(e.to_string()))?;
    Ok(out)
}

/// 32 hex digits derived from `seed` (two FNV-1a passes with different offsets).
fn document_id(seed: &str) -> String {
    let pass = |offset: u64| {
        seed.bytes().fold(offset, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        pass(0xcbf2_9ce4_8422_2325),
        pass(0x6c62_272e_07bb_0142)
    )
}

// ---------------------------------------------------------------------------------------
// Drawing

const BLACK: f32 = 0.0;

struct Canvas {
    ops: Vec<Op>,
    ox: f32,
    oy: f32,
}

impl Canvas {
    fn text(&mut self, font: BuiltinFont, size: f32, x_mm: f32, y_mm: f32, text: &str) {
        if text.is_empty() {
            return;
        }
        // One text object per line: `Td` is then an absolute position.
        self.ops.push(Op::StartTextSection);
        self.ops.push(Op::SetFont {
            font: PdfFontHandle::Builtin(font),
            size: Pt(size),
        });
        self.ops.push(Op::SetTextCursor {
            pos: Point {
                x: Mm(self.ox + x_mm).into(),
                y: Mm(self.oy + y_mm).into(),
            },
        });
        self.ops.push(Op::ShowText {
            items: vec![TextItem::Text(text.to_owned())],
        });
        self.ops.push(Op::EndTextSection);
    }

    fn rect(&mut self, x_mm: f32, y_mm: f32, w_mm: f32, h_mm: f32, mode: PaintMode) {
        let mut rectangle = Rect::from_xywh(
            Mm(self.ox + x_mm).into(),
            Mm(self.oy + y_mm).into(),
            Mm(w_mm).into(),
            Mm(h_mm).into(),
        );
        rectangle.mode = Some(mode);
        self.ops.push(Op::DrawRectangle { rectangle });
    }
}

/// The drawing operations of one label whose lower-left corner sits at (`ox`, `oy`) mm.
fn label_ops(spec: &LabelSpec, ox: f32, oy: f32) -> Result<Vec<Op>, LabelError> {
    let symbols = code128::encode(&spec.barcode)
        .ok_or_else(|| LabelError::Unencodable(spec.barcode.clone()))?;
    let modules = code128::widths(&symbols);

    let mut c = Canvas {
        ops: Vec::new(),
        ox,
        oy,
    };
    let grey = |percent| Color::Greyscale(Greyscale::new(percent, None));
    c.ops.push(Op::SetFillColor { col: grey(BLACK) });
    c.ops.push(Op::SetOutlineColor { col: grey(BLACK) });
    c.ops.push(Op::SetOutlineThickness { pt: Pt(0.8) });

    // Frame and banner.
    c.rect(
        3.0,
        3.0,
        A6_WIDTH_MM - 6.0,
        A6_HEIGHT_MM - 6.0,
        PaintMode::Stroke,
    );
    c.rect(3.0, 136.0, A6_WIDTH_MM - 6.0, 9.0, PaintMode::Fill);
    c.ops.push(Op::SetFillColor { col: grey(1.0) });
    c.text(
        BuiltinFont::HelveticaBold,
        10.0,
        6.0,
        139.0,
        "SANDBOX - NOT FOR SHIPPING",
    );
    c.ops.push(Op::SetFillColor { col: grey(BLACK) });

    // Product block.
    c.text(
        BuiltinFont::HelveticaBold,
        16.0,
        6.0,
        127.0,
        &format!("PostNL {}", spec.product_code),
    );
    c.text(
        BuiltinFont::HelveticaBold,
        10.0,
        62.0,
        127.5,
        spec.kind.label_type(),
    );
    if matches!(
        spec.kind,
        LabelKind::Cn23 | LabelKind::Cp71 | LabelKind::CommercialInvoice
    ) {
        c.text(
            BuiltinFont::Helvetica,
            6.5,
            6.0,
            132.0,
            "Customs document stand-in (PostNL prints this on A5/A4)",
        );
    }
    let mut facts = format!("Created {}", format_stamp(spec.created));
    if let Some(weight) = spec.weight_grams {
        let _ = write!(facts, "   Weight {weight} g");
    }
    c.text(BuiltinFont::Helvetica, 7.0, 6.0, 122.0, &facts);

    // Sender.
    c.text(
        BuiltinFont::HelveticaBold,
        6.5,
        6.0,
        115.0,
        "Afzender / Sender",
    );
    let mut y = 111.5;
    for line in spec.sender.lines().iter().take(5) {
        c.text(BuiltinFont::Helvetica, 7.5, 6.0, y, &clip(line, 70));
        y -= 3.3;
    }
    c.rect(3.0, 94.0, A6_WIDTH_MM - 6.0, 0.3, PaintMode::Fill);

    // Receiver, the largest text on the label.
    c.text(
        BuiltinFont::HelveticaBold,
        6.5,
        6.0,
        89.5,
        "Ontvanger / Receiver",
    );
    let mut y = 84.0;
    for line in spec
        .receiver
        .lines()
        .iter()
        .flat_map(|l| wrap(l, 42))
        .take(6)
    {
        c.text(BuiltinFont::Helvetica, 11.0, 6.0, y, &line);
        y -= 4.8;
    }
    c.rect(3.0, 54.0, A6_WIDTH_MM - 6.0, 0.3, PaintMode::Fill);

    // Barcode: bars between 23 and 48 mm, a quiet zone of ten modules on each side.
    let total_modules: u32 = modules.iter().map(|&w| u32::from(w)).sum();
    #[allow(clippy::cast_precision_loss)] // a few hundred modules at most
    let total_modules = total_modules as f32;
    let available = A6_WIDTH_MM - 12.0;
    let module = (available / (total_modules + 20.0)).min(0.5);
    let mut x = (A6_WIDTH_MM - total_modules * module) / 2.0;
    for (i, &width) in modules.iter().enumerate() {
        let w = f32::from(width) * module;
        if i % 2 == 0 {
            c.rect(x, 23.0, w, 25.0, PaintMode::Fill);
        }
        x += w;
    }
    // Courier glyphs are 0.6 em wide, which makes centring exact.
    #[allow(clippy::cast_precision_loss)] // barcodes are at most 40 characters
    let text_width_mm = spec.barcode.chars().count() as f32 * 0.6 * 11.0 / 2.834_646;
    c.text(
        BuiltinFont::CourierBold,
        11.0,
        (A6_WIDTH_MM - text_width_mm) / 2.0,
        17.0,
        &spec.barcode,
    );

    if !spec.reference.is_empty() {
        c.text(
            BuiltinFont::Helvetica,
            7.0,
            6.0,
            8.0,
            &format!("Ref: {}", clip(&spec.reference, 60)),
        );
    }
    Ok(c.ops)
}

fn format_stamp(t: OffsetDateTime) -> String {
    format!(
        "{:02}-{:02}-{:04} {:02}:{:02}",
        t.day(),
        u8::from(t.month()),
        t.year(),
        t.hour(),
        t.minute()
    )
}

fn push_nonempty(lines: &mut Vec<String>, line: String) {
    if !line.is_empty() {
        lines.push(line);
    }
}

fn join_words(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn clip(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max_chars.saturating_sub(3)).collect();
        out.push_str("...");
        out
    }
}

/// Breaks `text` into lines of at most `width` characters, at spaces where possible.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            let rest = word.split_off(width);
            lines.push(word.into_iter().collect());
            word = rest;
        }
        let needed = current.chars().count() + usize::from(!current.is_empty()) + word.len();
        if needed > width && !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.extend(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

// ---------------------------------------------------------------------------------------

/// Code 128 symbology: symbol values from text, and bar/space widths from symbol values.
pub(crate) mod code128 {
    /// Bar/space module widths of symbol values 0..=106, bar first. Every symbol is 11
    /// modules wide; the stop symbol (106) carries its 2-module termination bar and is 13.
    const PATTERNS: [&str; 107] = [
        "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
        "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
        "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
        "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
        "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
        "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
        "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
        "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
        "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
        "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
        "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
        "113141", "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
    ];

    pub(crate) const START_B: u8 = 104;
    pub(crate) const START_C: u8 = 105;
    /// In subset B: switch to subset C.
    pub(crate) const CODE_C: u8 = 99;
    /// In subset C: switch to subset B.
    pub(crate) const CODE_B: u8 = 100;
    pub(crate) const STOP: u8 = 106;

    /// Longest text accepted; PostNL barcodes are at most 15 characters.
    const MAX_LEN: usize = 40;

    /// Symbol values for `text`, start, checksum and stop included. `None` when the text
    /// is empty, too long or has characters outside printable ASCII.
    pub(crate) fn encode(text: &str) -> Option<Vec<u8>> {
        let bytes = text.as_bytes();
        if bytes.is_empty()
            || bytes.len() > MAX_LEN
            || !bytes.iter().all(|b| (32..=126).contains(b))
        {
            return None;
        }
        let digit_run = |from: usize| {
            bytes[from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };

        let mut symbols = Vec::with_capacity(bytes.len() + 4);
        let mut i = 0;
        let lead = digit_run(0);
        let mut in_c = (lead == bytes.len() && lead % 2 == 0) || lead >= 4;
        symbols.push(if in_c { START_C } else { START_B });
        while i < bytes.len() {
            if in_c {
                let run = digit_run(i);
                if run >= 2 {
                    symbols.push((bytes[i] - b'0') * 10 + (bytes[i + 1] - b'0'));
                    i += 2;
                    continue;
                }
                symbols.push(CODE_B);
                in_c = false;
            }
            let run = digit_run(i);
            // A switch to C pays off for six digits, or four that end the text.
            if run >= 6 || (run >= 4 && i + run == bytes.len()) {
                if run % 2 == 1 {
                    symbols.push(bytes[i] - 32);
                    i += 1;
                }
                symbols.push(CODE_C);
                in_c = true;
                continue;
            }
            symbols.push(bytes[i] - 32);
            i += 1;
        }
        symbols.push(checksum(&symbols));
        symbols.push(STOP);
        Some(symbols)
    }

    /// The modulo-103 check value over the start symbol and the data symbols.
    pub(crate) fn checksum(symbols: &[u8]) -> u8 {
        let sum = symbols.iter().enumerate().fold(0u32, |acc, (pos, &value)| {
            // The start symbol weighs 1, like the first data symbol.
            let weight = u32::try_from(pos.max(1)).unwrap_or(u32::MAX);
            (acc + weight.wrapping_mul(u32::from(value)) % 103) % 103
        });
        u8::try_from(sum).unwrap_or(0)
    }

    /// Alternating bar/space widths (in modules, bar first) for a symbol sequence.
    pub(crate) fn widths(symbols: &[u8]) -> Vec<u8> {
        symbols
            .iter()
            .filter_map(|&s| PATTERNS.get(usize::from(s)))
            .flat_map(|p| p.bytes().map(|b| b - b'0'))
            .collect()
    }

    #[cfg(test)]
    pub(crate) fn pattern(value: usize) -> &'static str {
        PATTERNS[value]
    }
}

#[cfg(test)]
mod tests {
    use super::code128::{self, CODE_B, CODE_C, START_B, START_C, STOP};
    use super::*;
    use time::macros::datetime;

    fn spec() -> LabelSpec {
        LabelSpec {
            kind: LabelKind::Parcel,
            barcode: "3SDEVC987000042".to_owned(),
            product_code: "3085".to_owned(),
            sender: LabelAddress {
                company: "Voorbeeld Winkel B.V.".to_owned(),
                street: "Industrieweg".to_owned(),
                house_nr: "8".to_owned(),
                zipcode: "3511AB".to_owned(),
                city: "Utrecht".to_owned(),
                country: "NL".to_owned(),
                ..LabelAddress::default()
            },
            receiver: LabelAddress {
                first_name: "Jan".to_owned(),
                name: "Jansen".to_owned(),
                company: "Testbedrijf".to_owned(),
                street: "Laan van Meerdervoort".to_owned(),
                house_nr: "1021".to_owned(),
                house_nr_ext: "bis".to_owned(),
                zipcode: "2564AZ".to_owned(),
                city: "Den Haag".to_owned(),
                country: "NL".to_owned(),
            },
            reference: "402-0000000-0000001".to_owned(),
            weight_grams: Some(850),
            created: datetime!(2025-02-03 09:15:00 UTC),
        }
    }

    /// Reads symbol values back from widths, checking each against the table.
    fn decode(widths: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = widths;
        while !rest.is_empty() {
            let take = if rest.len() == 7 { 7 } else { 6 };
            let chunk: String = rest[..take].iter().map(|w| char::from(b'0' + w)).collect();
            let value = (0..107)
                .find(|&v| code128::pattern(v) == chunk)
                .expect("every chunk is a table pattern");
            out.push(u8::try_from(value).unwrap());
            rest = &rest[take..];
        }
        out
    }

    /// The text a symbol sequence carries, after checking start, checksum and stop.
    fn text_of(symbols: &[u8]) -> String {
        let (&stop, rest) = symbols.split_last().unwrap();
        let (&check, body) = rest.split_last().unwrap();
        assert_eq!(stop, STOP);
        assert_eq!(check, code128::checksum(body));
        let mut in_c = match body[0] {
            START_B => false,
            START_C => true,
            other => panic!("unexpected start {other}"),
        };
        let mut text = String::new();
        for &s in &body[1..] {
            match (in_c, s) {
                (false, CODE_C) => in_c = true,
                (true, CODE_B) => in_c = false,
                (true, v) => {
                    let _ = write!(text, "{v:02}");
                }
                (false, v) => text.push(char::from(v + 32)),
            }
        }
        text
    }

    #[test]
    fn pattern_table_is_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for v in 0..107 {
            let p = code128::pattern(v);
            let widths: Vec<u32> = p.bytes().map(|b| u32::from(b - b'0')).collect();
            let total: u32 = widths.iter().sum();
            let bars: u32 = widths.iter().step_by(2).sum();
            if v == 106 {
                assert_eq!((widths.len(), total), (7, 13));
            } else {
                assert_eq!((widths.len(), total), (6, 11), "symbol {v}");
            }
            assert_eq!(bars % 2, 0, "bar modules of symbol {v} must be even");
            assert!(seen.insert(p), "duplicate pattern {p}");
        }
    }

    #[test]
    fn known_encoding_of_a_short_text() {
        // "PJJ123C" in subset B: values 48 42 42 17 18 19 35; the checksum by hand is
        // (104 + 48 + 2*42 + 3*42 + 4*17 + 5*18 + 6*19 + 7*35) mod 103 = 879 mod 103 = 55.
        let symbols = code128::encode("PJJ123C").unwrap();
        assert_eq!(symbols, vec![104, 48, 42, 42, 17, 18, 19, 35, 55, 106]);
    }

    #[test]
    fn encodes_postnl_barcodes_round_trip() {
        for text in [
            "3SDEVC987000042",
            "3SDEVC0000001",
            "CC12340001NL",
            "LA12345678NL",
            "12345678",
            "1234567",
            "3S12",
            "A",
        ] {
            let symbols = code128::encode(text).unwrap();
            assert_eq!(text_of(&symbols), text);
            assert_eq!(decode(&code128::widths(&symbols)), symbols);
        }
        // The digit tail of a 15-character 3S barcode goes into subset C.
        let symbols = code128::encode("3SDEVC987000042").unwrap();
        assert!(symbols.contains(&CODE_C));
        assert_eq!(code128::encode("12345678").unwrap()[0], START_C);
    }

    #[test]
    fn refuses_what_code128_b_cannot_carry() {
        assert_eq!(code128::encode(""), None);
        assert_eq!(code128::encode("3SDEVC\u{e9}"), None);
        assert_eq!(code128::encode(&"9".repeat(41)), None);
        assert!(matches!(
            render(&LabelSpec {
                barcode: "tab\there".to_owned(),
                ..spec()
            }),
            Err(LabelError::Unencodable(_))
        ));
    }

    #[test]
    fn label_is_one_a6_page_with_the_barcode_text() {
        let bytes = render(&spec()).unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        let doc = lopdf::Document::load_mem(&bytes).unwrap();
        let pages = doc.get_pages();
        assert_eq!(pages.len(), 1);
        let page_id = *pages.values().next().unwrap();
        let page = doc.get_dictionary(page_id).unwrap();
        let media_box: Vec<f32> = page
            .get(b"MediaBox")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_float().unwrap())
            .collect();
        assert_eq!(media_box.len(), 4);
        assert!(
            (media_box[2] - media_box[0] - 297.64).abs() < 0.1,
            "{media_box:?}"
        );
        assert!(
            (media_box[3] - media_box[1] - 419.53).abs() < 0.1,
            "{media_box:?}"
        );
        let text = doc.extract_text(&[1]).unwrap_or_default();
        let content = String::from_utf8_lossy(&doc.get_page_content(page_id)).into_owned();
        assert!(
            text.contains("3SDEVC987000042") || content.contains("(3SDEVC987000042)"),
            "barcode text missing"
        );
        for needle in [
            "Laan van Meerdervoort 1021 bis",
            "2564AZ Den Haag",
            "Testbedrijf",
            "3085",
        ] {
            assert!(
                text.contains(needle) || content.contains(needle),
                "{needle} missing"
            );
        }
        // Bars are filled rectangles: at least one `re` per bar.
        assert!(content.matches(" re").count() > 30);
    }

    #[test]
    fn identical_input_gives_identical_bytes() {
        let a = render(&spec()).unwrap();
        let b = render(&spec()).unwrap();
        assert_eq!(a, b);
        let c = render(&LabelSpec {
            barcode: "3SDEVC987000043".to_owned(),
            ..spec()
        })
        .unwrap();
        assert_ne!(a, c);
        let text = String::from_utf8_lossy(&a);
        assert!(
            text.contains("D:20250203091500"),
            "creation date from the spec"
        );
    }

    #[test]
    fn letterbox_label_names_its_type() {
        let bytes = render(&LabelSpec {
            kind: LabelKind::Letterbox,
            product_code: "2928".to_owned(),
            ..spec()
        })
        .unwrap();
        let doc = lopdf::Document::load_mem(&bytes).unwrap();
        let page_id = *doc.get_pages().values().next().unwrap();
        let content = String::from_utf8_lossy(&doc.get_page_content(page_id)).into_owned();
        assert!(content.contains("BusPakjeExtra"));
        assert_eq!(LabelKind::Letterbox.label_type(), "BusPakjeExtra");
    }

    #[test]
    fn sheets_hold_four_labels_each() {
        let specs = vec![spec(); 4];
        let one_sheet = render_a4_sheets(&specs, 0).unwrap();
        let doc = lopdf::Document::load_mem(&one_sheet).unwrap();
        assert_eq!(doc.get_pages().len(), 1);
        let two_sheets = render_a4_sheets(&specs, 3).unwrap();
        let doc = lopdf::Document::load_mem(&two_sheets).unwrap();
        assert_eq!(doc.get_pages().len(), 2);
        assert_eq!(render_a4_sheets(&[], 0), Err(LabelError::Empty));
    }

    #[test]
    fn zpl_variant_carries_the_barcode() {
        let zpl = String::from_utf8(render_zpl(&spec(), 8).unwrap()).unwrap();
        assert!(zpl.starts_with("^XA"));
        assert!(zpl.trim_end().ends_with("^XZ"));
        assert!(zpl.contains("^FD3SDEVC987000042^FS"));
        let odd = LabelSpec {
            reference: "a^b~c".to_owned(),
            ..spec()
        };
        let zpl = String::from_utf8(render_zpl(&odd, 12).unwrap()).unwrap();
        assert!(zpl.contains("Ref: a b c"));
    }

    #[test]
    fn long_lines_wrap_and_never_panic() {
        assert_eq!(wrap("aaa bbb ccc", 7), vec!["aaa bbb", "ccc"]);
        assert_eq!(wrap(&"x".repeat(10), 4), vec!["xxxx", "xxxx", "xx"]);
        assert_eq!(clip("abcdef", 5), "ab...");
        let long = LabelSpec {
            receiver: LabelAddress {
                street: "Straat ".repeat(40),
                name: "\u{1F600}".repeat(35),
                ..spec().receiver
            },
            reference: "R".repeat(5000),
            ..spec()
        };
        assert!(render(&long).is_ok());
    }
}
