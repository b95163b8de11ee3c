//! Low-level PDF writer shared by the documents `fulfil` produces (invoices and credit
//! notes today): pages of positioned text, filled rectangles and rules, in embedded
//! TrueType fonts, written so that the same calls always give the same bytes.
//!
//! This module owns: reading a font's character map and metrics once ([`Font`]), mapping
//! text to glyphs (a character the font lacks becomes its `?` glyph, never a panic or an
//! invisible gap), measuring text, subsetting each font to the glyphs one document uses,
//! the CID font objects with a `ToUnicode` map (so text can be searched and extracted),
//! stream compression, the document information dictionary and the file identifier.
//! It knows nothing about invoices; layout decisions belong to the caller.
//!
//! # Crates and why
//!
//! * `pdf-writer` writes the PDF syntax (objects, content streams, cross-reference table):
//!   it emits exactly the objects asked for, in the order asked for, with no clock and no
//!   randomness, which is what byte-for-byte reproducible output needs.
//! * `subsetter` cuts a TrueType font down to the glyphs used (typst's subsetter: some
//!   20 µs for a one-page invoice).
//! * `skrifa` (Google Fonts' fontations) reads the character map, the name and the
//!   font-wide metrics; its re-exported `read-fonts` (`skrifa::raw`) gives the advance
//!   widths straight from `hmtx` as integers and the weight class from `OS/2`. It replaced
//!   `ttf-parser` (unmaintained, RUSTSEC-2026-0192); a unit test holds the glyph ids,
//!   advances and descriptor figures to what `ttf-parser` read from the same fonts.
//! * `miniz_oxide` deflates the streams. Setting up a compressor costs more than
//!   compressing a few kilobytes, so one compressor per thread is reset and reused.
//!
//! A higher-level writer (printpdf, krilla) was tried first: printpdf 0.12 writes a random
//! trailer `/ID` and random font resource names, and krilla re-shapes every string and
//! builds a fresh compressor per stream, which kept it near 140 documents per second.
//!
//! # Determinism
//!
//! Object numbers are handed out in call order; subset glyph ids in order of first use;
//! the subset tag (`ABCDEF+`) is derived from the glyphs embedded; dates and the file
//! identifier come from [`Info`]. Nothing reads the clock, the environment or a random
//! source. Identical calls therefore give identical bytes — as long as the versions of the
//! crates above and of the font bytes stay the same.
//!
//! # Coordinates
//!
//! Callers place things in points with the origin at the *top-left* corner of the page and
//! `y` growing downwards (text is placed by its baseline); this module flips to PDF's
//! bottom-left origin.

use std::cell::RefCell;

use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress, create_comp_flags_from_zip_params,
};
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::raw::TableProvider;
use skrifa::raw::tables::hmtx::Hmtx;
use skrifa::string::StringId;
use skrifa::{FontRef, GlyphId, MetadataProvider};
use subsetter::GlyphRemapper;

/// Width and height of an A4 page in points (210 mm x 297 mm).
pub const A4: (f32, f32) = (595.276, 841.89);

/// Code points below this limit are looked up in a table built once per font; the rest go
/// through the font's own character map. The table covers Latin, Greek, Cyrillic and the
/// general punctuation block (dashes, quotes, bullets, the euro sign at U+20AC).
const TABLE_LEN: usize = 0x2200;

/// Deflate level. Level 1 (miniz's fast path) cut the time per typical invoice from
/// 1.6 ms to 0.7 ms against the default 6, for 18.5 kB instead of 16.9 kB.
const DEFLATE_LEVEL: u8 = 1;

/// Streams shorter than this are stored as they are: resetting the compressor's tables
/// costs more than the few hundred bytes saved (a one-page `ToUnicode` map is about 1 kB).
/// Storing the two maps took a typical invoice from 0.7 ms to 0.6 ms and 18.5 to 20.2 kB.
const MIN_DEFLATE: usize = 2048;

/// Why a PDF could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// The font bytes are not a usable TrueType font.
    #[error("unusable font: {0}")]
    Font(String),
    /// The subsetter refused the font.
    #[error("font subsetting failed: {0}")]
    Subset(String),
    /// A stream could not be compressed.
    #[error("compression failed")]
    Compression,
    /// More distinct glyphs in one font than a PDF CID font can address.
    #[error("too many distinct glyphs in one document")]
    TooManyGlyphs,
}

/// An RGB colour, each channel 0.0..=1.0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Color {
    r: f32,
    g: f32,
    b: f32,
}

impl Color {
    /// Black.
    pub const BLACK: Color = Color::gray(0.0);

    /// A grey level: 0.0 black, 1.0 white.
    #[must_use]
    pub const fn gray(level: f32) -> Self {
        Color {
            r: level,
            g: level,
            b: level,
        }
    }

    /// A colour from 8-bit channels.
    #[must_use]
    pub fn rgb(r: u8, g: u8, b: u8) -> Self {
        Color {
            r: f32::from(r) / 255.0,
            g: f32::from(g) / 255.0,
            b: f32::from(b) / 255.0,
        }
    }
}

/// A TrueType font, parsed once and shared by any number of documents (and threads).
pub struct Font {
    data: &'static [u8],
    /// Character map, for code points past the table.
    charmap: Charmap<'static>,
    /// Advance widths, for glyphs past the table.
    hmtx: Hmtx<'static>,
    /// `(glyph id, advance in font units)` per code point below [`TABLE_LEN`]; glyph 0
    /// means the font has no glyph for it.
    table: Box<[(u16, u16)]>,
    /// Glyph and advance used for characters the font lacks: its `?`.
    fallback: (u16, u16),
    units_per_em: f32,
    postscript_name: String,
    /// Font-wide figures for the PDF font descriptor.
    metrics: Metrics,
}

/// The font-wide figures a PDF font descriptor needs, in font units, read once per font.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Metrics {
    /// Advance of glyph 0 (`.notdef`), which every subset carries.
    notdef_advance: u16,
    /// Bounding box of all glyphs (`head`): x min, y min, x max, y max.
    bbox: [f32; 4],
    ascent: f32,
    /// Negative below the baseline.
    descent: f32,
    /// `None` when the `OS/2` table is older than version 2.
    cap_height: Option<f32>,
    /// `OS/2` weight class (400 regular, 700 bold).
    weight: f32,
    monospaced: bool,
    /// Degrees counter-clockwise from vertical; 0 for upright fonts.
    italic_angle: f32,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Font")
            .field("postscript_name", &self.postscript_name)
            .finish_non_exhaustive()
    }
}

impl Font {
    /// Reads a TrueType font (for example `notosans::REGULAR_TTF`).
    ///
    /// # Errors
    /// [`PdfError::Font`] when the bytes are not a TrueType font (or the first font of a
    /// collection), lack the `head` or `hmtx` table, give units per em outside 16..=16384,
    /// or the font has no `?` glyph to stand in for missing characters.
    pub fn new(data: &'static [u8]) -> Result<Self, PdfError> {
        let unusable =
            |what: &str, e: skrifa::raw::ReadError| PdfError::Font(format!("{what}: {e}"));
        let font = FontRef::from_index(data, 0).map_err(|e| unusable("not a font", e))?;
        let units_per_em = font
            .head()
            .map_err(|e| unusable("head table", e))?
            .units_per_em();
        // The range the OpenType specification allows; it also keeps the divisions by it
        // in `width` and `to_pdf_units` finite.
        if !(16..=16384).contains(&units_per_em) {
            return Err(PdfError::Font(format!("{units_per_em} units per em")));
        }
        let hmtx = font.hmtx().map_err(|e| unusable("hmtx table", e))?;
        let charmap = font.charmap();
        let fallback = lookup(&charmap, &hmtx, '?')
            .filter(|(gid, _)| *gid != 0)
            .ok_or_else(|| PdfError::Font("the font has no '?' glyph".into()))?;
        let table: Box<[(u16, u16)]> = (0..TABLE_LEN)
            .map(|cp| {
                u32::try_from(cp)
                    .ok()
                    .and_then(char::from_u32)
                    .filter(|c| !c.is_control())
                    .and_then(|c| lookup(&charmap, &hmtx, c))
                    .unwrap_or((0, 0))
            })
            .collect();
        let postscript_name = font
            .localized_strings(StringId::POSTSCRIPT_NAME)
            .english_or_first()
            .map(|n| n.to_string())
            .filter(|n| !n.is_empty() && n.is_ascii())
            .unwrap_or_else(|| "Font".into());
        // Unscaled: the figures come out in font units, as integers held in f32.
        let m = font.metrics(Size::unscaled(), LocationRef::default());
        let metrics = Metrics {
            notdef_advance: hmtx.advance(GlyphId::NOTDEF).unwrap_or(0),
            bbox: m
                .bounds
                .map_or([0.0; 4], |b| [b.x_min, b.y_min, b.x_max, b.y_max]),
            ascent: m.ascent,
            descent: m.descent,
            cap_height: m.cap_height,
            // Read directly: skrifa's `attributes()` guesses a weight from the style name
            // when `OS/2` is missing, where the PDF wants the plain 400.
            weight: font
                .os2()
                .map_or(400.0, |os2| f32::from(os2.us_weight_class())),
            monospaced: m.is_monospace,
            italic_angle: m.italic_angle,
        };
        Ok(Font {
            data,
            units_per_em: f32::from(units_per_em),
            metrics,
            charmap,
            hmtx,
            table,
            fallback,
            postscript_name,
        })
    }

    /// Glyph id and advance (font units) for `c`; the `?` glyph when the font lacks `c`.
    fn glyph(&self, c: char) -> (u16, u16) {
        let cp = c as usize;
        let found = if cp < TABLE_LEN {
            self.table[cp]
        } else if c.is_control() {
            (0, 0)
        } else {
            lookup(&self.charmap, &self.hmtx, c).unwrap_or((0, 0))
        };
        if found.0 == 0 { self.fallback } else { found }
    }

    /// Whether the font has a glyph of its own for `c` (otherwise `?` is drawn).
    #[must_use]
    pub fn has_glyph(&self, c: char) -> bool {
        self.glyph(c) != self.fallback || c == '?'
    }

    /// Width of `text` at `size` points, exactly as [`Document::text`] will advance.
    #[must_use]
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let units: u32 = text.chars().map(|c| u32::from(self.glyph(c).1)).sum();
        // Exact for any realistic line: f32 holds integers up to 2^24 exactly.
        #[allow(clippy::cast_precision_loss)]
        let units = units as f32;
        units * size / self.units_per_em
    }

    /// Converts font units to the 1/1000 em of PDF glyph space.
    fn to_pdf_units(&self, v: f32) -> f32 {
        v * 1000.0 / self.units_per_em
    }
}

/// Glyph id and advance (font units) the font maps `c` to, if any. A glyph id past
/// 65,535 (possible only in a broken font's character map) counts as missing.
fn lookup(charmap: &Charmap<'_>, hmtx: &Hmtx<'_>, c: char) -> Option<(u16, u16)> {
    let gid = charmap.map(c)?;
    let id = u16::try_from(gid.to_u32()).ok()?;
    Some((id, hmtx.advance(gid).unwrap_or(0)))
}

/// Document information written to the PDF's Info dictionary and trailer.
#[derive(Debug, Clone)]
pub struct Info<'a> {
    /// Title shown by viewers.
    pub title: &'a str,
    /// Author (the issuing business).
    pub author: &'a str,
    /// Subject line.
    pub subject: &'a str,
    /// Creation and modification date, written as that day at 00:00:00Z.
    pub date: time::Date,
    /// File identifier (both halves of the trailer `/ID`).
    pub file_id: [u8; 16],
}

/// Glyphs of one font used so far in a document.
struct FontUse {
    remapper: GlyphRemapper,
    /// Character each subset glyph was first drawn for, by subset glyph id.
    chars: Vec<char>,
    /// Advance (font units) by subset glyph id.
    advances: Vec<u16>,
}

/// A PDF being built: pages of content plus the glyphs each font needs.
pub struct Document<'f> {
    fonts: &'f [Font],
    width: f32,
    height: f32,
    pages: Vec<Content>,
    used: Vec<Option<FontUse>>,
    /// Resource name of each font (`F0`, `F1`, ...).
    names: Vec<String>,
    scratch: Vec<u8>,
}

impl<'f> Document<'f> {
    /// An empty document whose pages are `width` x `height` points. `fonts` are addressed
    /// by index in [`Document::text`].
    #[must_use]
    pub fn new(fonts: &'f [Font], (width, height): (f32, f32)) -> Self {
        Document {
            fonts,
            width,
            height,
            pages: Vec::new(),
            used: fonts.iter().map(|_| None).collect(),
            names: (0..fonts.len()).map(|i| format!("F{i}")).collect(),
            scratch: Vec::new(),
        }
    }

    /// Appends a blank page and returns its index.
    pub fn add_page(&mut self) -> usize {
        self.pages.push(Content::new());
        self.pages.len() - 1
    }

    /// Number of pages so far.
    #[must_use]
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Draws `text` in font number `font` at `size` points with its baseline starting at
    /// (`x`, `y`). Characters the font lacks are drawn as `?`.
    ///
    /// # Errors
    /// [`PdfError::TooManyGlyphs`] past 65,535 distinct glyphs of one font.
    ///
    /// # Panics
    /// When `page` or `font` is out of range (a programming error).
    pub fn text(
        &mut self,
        page: usize,
        font: usize,
        size: f32,
        (x, y): (f32, f32),
        text: &str,
        color: Color,
    ) -> Result<(), PdfError> {
        if text.is_empty() {
            return Ok(());
        }
        let face = &self.fonts[font];
        let usage = self.used[font].get_or_insert_with(|| FontUse {
            remapper: GlyphRemapper::new(),
            chars: vec!['\0'],
            advances: vec![face.metrics.notdef_advance],
        });
        self.scratch.clear();
        for c in text.chars() {
            let (gid, advance) = face.glyph(c);
            if usage.chars.len() == usize::from(u16::MAX) && usage.remapper.get(gid).is_none() {
                return Err(PdfError::TooManyGlyphs);
            }
            let cid = usage.remapper.remap(gid);
            if usize::from(cid) == usage.chars.len() {
                usage
                    .chars
                    .push(if gid == face.fallback.0 { '?' } else { c });
                usage.advances.push(advance);
            }
            self.scratch.extend_from_slice(&cid.to_be_bytes());
        }
        self.pages[page]
            .set_fill_rgb(color.r, color.g, color.b)
            .begin_text()
            .set_font(Name(self.names[font].as_bytes()), size)
            .set_text_matrix([1.0, 0.0, 0.0, 1.0, x, self.height - y])
            .show(Str(&self.scratch))
            .end_text();
        Ok(())
    }

    /// Fills the rectangle whose top-left corner is (`x`, `y`).
    pub fn fill_rect(&mut self, page: usize, (x, y): (f32, f32), (w, h): (f32, f32), color: Color) {
        self.pages[page]
            .set_fill_rgb(color.r, color.g, color.b)
            .rect(x, self.height - y - h, w, h)
            .fill_nonzero();
    }

    /// Strokes a straight line `width` points thick.
    pub fn line(
        &mut self,
        page: usize,
        (x1, y1): (f32, f32),
        (x2, y2): (f32, f32),
        width: f32,
        color: Color,
    ) {
        self.pages[page]
            .set_stroke_rgb(color.r, color.g, color.b)
            .set_line_width(width)
            .move_to(x1, self.height - y1)
            .line_to(x2, self.height - y2)
            .stroke();
    }

    /// Writes the PDF: subsets and embeds the fonts used, compresses the streams of
    /// 2 kB or more, and returns the file's bytes.
    ///
    /// # Errors
    /// [`PdfError::Subset`] or [`PdfError::Compression`] when a font or stream cannot be
    /// processed.
    pub fn finish(self, info: &Info<'_>) -> Result<Vec<u8>, PdfError> {
        let mut pdf = Pdf::with_capacity(32 * 1024);
        let mut next = 0;
        let mut alloc = || {
            next += 1;
            Ref::new(next)
        };
        let catalog = alloc();
        let page_tree = alloc();
        let info_ref = alloc();
        let page_refs: Vec<(Ref, Ref)> = self.pages.iter().map(|_| (alloc(), alloc())).collect();
        let font_refs: Vec<(usize, FontRefs)> = self
            .used
            .iter()
            .enumerate()
            .filter(|(_, u)| u.is_some())
            .map(|(i, _)| {
                let refs = FontRefs {
                    type0: alloc(),
                    cid: alloc(),
                    descriptor: alloc(),
                    file: alloc(),
                    to_unicode: alloc(),
                };
                (i, refs)
            })
            .collect();

        pdf.catalog(catalog).pages(page_tree);
        let count = i32::try_from(page_refs.len()).unwrap_or(i32::MAX);
        pdf.pages(page_tree)
            .kids(page_refs.iter().map(|(page, _)| *page))
            .count(count);

        let mut deflated = Vec::new();
        for (content, (page_ref, content_ref)) in self.pages.into_iter().zip(&page_refs) {
            let mut page = pdf.page(*page_ref);
            page.media_box(Rect::new(0.0, 0.0, self.width, self.height))
                .parent(page_tree)
                .contents(*content_ref);
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            for (i, refs) in &font_refs {
                fonts.pair(Name(self.names[*i].as_bytes()), refs.type0);
            }
            fonts.finish();
            resources.finish();
            page.finish();
            let content = content.finish();
            let (bytes, compressed) = encode(&content, &mut deflated)?;
            let mut stream = pdf.stream(*content_ref, bytes);
            if compressed {
                stream.filter(Filter::FlateDecode);
            }
        }

        for (i, refs) in &font_refs {
            if let Some(usage) = &self.used[*i] {
                write_font(&mut pdf, &self.fonts[*i], usage, refs, &mut deflated)?;
            }
        }

        let date = pdf_date(info.date);
        pdf.document_info(info_ref)
            .title(TextStr(info.title))
            .author(TextStr(info.author))
            .subject(TextStr(info.subject))
            .creator(TextStr("fulfil"))
            // No version number: a release must not change the bytes of a re-rendered
            // document.
            .producer(TextStr("fulfil"))
            .creation_date(date)
            .modified_date(date);
        pdf.set_file_id((info.file_id.to_vec(), info.file_id.to_vec()));
        Ok(pdf.finish())
    }
}

/// Object numbers of one embedded font.
struct FontRefs {
    type0: Ref,
    cid: Ref,
    descriptor: Ref,
    file: Ref,
    to_unicode: Ref,
}

fn pdf_date(date: time::Date) -> pdf_writer::Date {
    pdf_writer::Date::new(u16::try_from(date.year()).unwrap_or(0))
        .month(u8::from(date.month()))
        .day(date.day())
        .hour(0)
        .minute(0)
        .second(0)
        .utc_offset_hour(0)
        .utc_offset_minute(0)
}

/// Writes the Type 0 font, its CID font, descriptor, subset font program and `ToUnicode`
/// map (Identity-H encoding: each character code is a subset glyph id).
fn write_font(
    pdf: &mut Pdf,
    font: &Font,
    usage: &FontUse,
    refs: &FontRefs,
    deflated: &mut Vec<u8>,
) -> Result<(), PdfError> {
    let program = subsetter::subset(font.data, 0, &usage.remapper)
        .map_err(|e| PdfError::Subset(format!("{e:?}")))?;
    let base_font = format!("{}+{}", subset_tag(&usage.chars), font.postscript_name);
    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };

    pdf.type0_font(refs.type0)
        .base_font(Name(base_font.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(refs.cid)
        .to_unicode(refs.to_unicode);

    let mut cid = pdf.cid_font(refs.cid);
    cid.subtype(CidFontType::Type2)
        .base_font(Name(base_font.as_bytes()))
        .system_info(system_info)
        .font_descriptor(refs.descriptor)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    cid.widths().consecutive(
        0,
        usage
            .advances
            .iter()
            .map(|a| font.to_pdf_units(f32::from(*a)).round()),
    );
    cid.finish();

    let m = &font.metrics;
    let scaled = |v: f32| font.to_pdf_units(v);
    let ascent = scaled(m.ascent);
    let mut flags = FontFlags::SYMBOLIC;
    if m.monospaced {
        flags |= FontFlags::FIXED_PITCH;
    }
    if m.italic_angle != 0.0 {
        flags |= FontFlags::ITALIC;
    }
    let [x_min, y_min, x_max, y_max] = m.bbox.map(scaled);
    pdf.font_descriptor(refs.descriptor)
        .name(Name(base_font.as_bytes()))
        .flags(flags)
        .bbox(Rect::new(x_min, y_min, x_max, y_max))
        .italic_angle(m.italic_angle)
        .ascent(ascent)
        .descent(scaled(m.descent))
        .cap_height(m.cap_height.map_or(ascent, scaled))
        // The usual estimate of the dominant stem width from the weight class.
        .stem_v(10.0 + 0.244 * (m.weight - 50.0))
        .font_file2(refs.file);

    let (bytes, compressed) = encode(&program, deflated)?;
    let mut stream = pdf.stream(refs.file, bytes);
    stream.pair(
        Name(b"Length1"),
        i32::try_from(program.len()).unwrap_or(i32::MAX),
    );
    if compressed {
        stream.filter(Filter::FlateDecode);
    }
    stream.finish();

    let mut cmap = UnicodeCmap::new(Name(b"Fulfil-UCS"), system_info);
    for (cid, c) in usage.chars.iter().enumerate().skip(1) {
        if let Ok(cid) = u16::try_from(cid) {
            cmap.pair(cid, *c);
        }
    }
    let cmap = cmap.finish();
    let (bytes, compressed) = encode(&cmap, deflated)?;
    let mut stream = pdf.cmap(refs.to_unicode, bytes);
    if compressed {
        stream.filter(Filter::FlateDecode);
    }
    Ok(())
}

/// Six capital letters naming a subset, derived from the characters it holds, as PDF
/// asks for subset font names (`ABCDEF+Name`).
fn subset_tag(chars: &[char]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for c in chars {
        ctx.update(&u32::from(*c).to_be_bytes());
    }
    ctx.finish()
        .as_ref()
        .iter()
        .take(6)
        .map(|b| char::from(b'A' + b % 26))
        .collect()
}

thread_local! {
    /// One compressor per thread, reset between streams: allocating and clearing a fresh
    /// one costs more than compressing a page of content.
    static COMPRESSOR: RefCell<Option<Box<CompressorOxide>>> = const { RefCell::new(None) };
}

/// What to store for `data`: its deflated form (in `scratch`) and `true`, or, below
/// [`MIN_DEFLATE`] bytes, `data` itself and `false`.
fn encode<'a>(data: &'a [u8], scratch: &'a mut Vec<u8>) -> Result<(&'a [u8], bool), PdfError> {
    if data.len() < MIN_DEFLATE {
        return Ok((data, false));
    }
    deflate(data, scratch)?;
    Ok((scratch.as_slice(), true))
}

/// Zlib-compresses `data` into `out` (replacing its contents).
fn deflate(data: &[u8], out: &mut Vec<u8>) -> Result<(), PdfError> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compressor = slot.get_or_insert_with(|| {
            Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
                i32::from(DEFLATE_LEVEL),
                1,
                0,
            )))
        });
        compressor.reset();
        out.clear();
        // Deflate never expands by more than a few bytes per 16 KiB block, plus the
        // zlib header and checksum.
        out.resize(data.len() + data.len() / 8 + 64, 0);
        let (status, _, written) = compress(compressor, data, out, TDEFLFlush::Finish);
        if status != TDEFLStatus::Done {
            return Err(PdfError::Compression);
        }
        out.truncate(written);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    fn fonts() -> Vec<Font> {
        vec![Font::new(notosans::REGULAR_TTF).expect("Noto Sans parses")]
    }

    fn info() -> Info<'static> {
        Info {
            title: "Test",
            author: "Seller B.V.",
            subject: "Test document",
            date: time::macros::date!(2026 - 01 - 20),
            file_id: [7; 16],
        }
    }

    fn one_page(fonts: &[Font], text: &str) -> Vec<u8> {
        let mut doc = Document::new(fonts, A4);
        let page = doc.add_page();
        doc.text(page, 0, 10.0, (50.0, 50.0), text, Color::BLACK)
            .expect("text");
        doc.line(page, (50.0, 60.0), (200.0, 60.0), 0.5, Color::gray(0.5));
        doc.fill_rect(page, (50.0, 70.0), (100.0, 20.0), Color::rgb(230, 230, 230));
        doc.finish(&info()).expect("finishes")
    }

    #[test]
    fn output_is_reproducible_and_dated() {
        let fonts = fonts();
        let a = one_page(&fonts, "Łukasz Żółć, Straße 1, 12,50 €");
        let b = one_page(&fonts, "Łukasz Żółć, Straße 1, 12,50 €");
        assert_eq!(a, b);
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("/CreationDate (D:20260120000000Z)"), "{text}");
        assert!(text.contains("/ModDate (D:20260120000000Z)"));
        assert!(text.starts_with("%PDF-1.7"));
        let doc = lopdf::Document::load_mem(&a).expect("lopdf parses it");
        assert_eq!(doc.get_pages().len(), 1);
    }

    #[test]
    fn missing_glyphs_become_question_marks_and_width_matches() {
        let fonts = fonts();
        let f = &fonts[0];
        // CJK and emoji are not in Noto Sans; control characters have no glyph.
        for c in ['漢', '😀', '\u{7}', '\n'] {
            assert!(!f.has_glyph(c), "{c:?}");
            assert!((f.width(&c.to_string(), 10.0) - f.width("?", 10.0)).abs() < 1e-4);
        }
        for c in "łőßåčøé€ŁŻÓĆØ?".chars() {
            assert!(f.has_glyph(c), "{c}");
        }
        // Does not panic, and the PDF still parses.
        let pdf = one_page(&fonts, "a漢😀\u{7}b");
        assert!(lopdf::Document::load_mem(&pdf).is_ok());
        assert!(f.width("MMM", 10.0) > f.width("iii", 10.0));
    }

    #[test]
    fn fonts_are_subset() {
        let fonts = fonts();
        let small = one_page(&fonts, "a");
        let large = one_page(
            &fonts,
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        );
        assert!(small.len() < 12_000, "{} bytes", small.len());
        assert!(large.len() > small.len());
        // The whole regular face is about 200 kB.
        assert!(large.len() < 40_000, "{} bytes", large.len());
    }

    /// SHA-256 over `(code point, glyph id, advance)` as [`Font::glyph`] resolves them, for
    /// every scalar value of the Basic Multilingual Plane (so everything below
    /// [`TABLE_LEN`] and the map lookups above it) and a few beyond, in hex.
    fn glyph_digest(font: &Font) -> String {
        let astral = [0x1_0000, 0x1_D400, 0x1_F600, 0x2_0000, 0xE_0001, 0x10_FFFF];
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for c in (0..0x1_0000).chain(astral).filter_map(char::from_u32) {
            let (gid, advance) = font.glyph(c);
            ctx.update(&u32::from(c).to_be_bytes());
            ctx.update(&gid.to_be_bytes());
            ctx.update(&advance.to_be_bytes());
        }
        ctx.finish()
            .as_ref()
            .iter()
            .fold(String::new(), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            })
    }

    /// Glyph ids, advances and descriptor figures of Noto Sans Regular and Bold as
    /// `ttf-parser` 0.25 read them, recorded before the switch to `skrifa`: a different
    /// reading of the font would change the bytes of documents already issued (and their
    /// re-rendering must match).
    #[test]
    fn glyphs_and_metrics_match_the_recorded_reading() {
        let regular = Font::new(notosans::REGULAR_TTF).expect("regular");
        let bold = Font::new(notosans::BOLD_TTF).expect("bold");
        for (c, expected) in GOLDEN_GLYPHS {
            assert_eq!(regular.glyph(c), expected, "{c:?}");
        }
        for (c, expected) in [
            ('?', (34, 977)),
            ('A', (36, 1413)),
            ('\u{FB01}', (564, 1417)),
        ] {
            assert_eq!(bold.glyph(c), expected, "bold {c:?}");
        }
        for f in [&regular, &bold] {
            assert_eq!(f.fallback, f.glyph('?'));
            assert!((f.units_per_em - 2048.0).abs() < f32::EPSILON);
        }
        assert_eq!(glyph_digest(&regular), GOLDEN_DIGEST);
        assert_eq!(
            glyph_digest(&bold),
            "7086183cc1408bcb366beca35abd440bc14035a776dcfafebde4e9c061a0223a"
        );
        assert_eq!(regular.postscript_name, "NotoSans");
        assert_eq!(bold.postscript_name, "NotoSans-Bold");
        assert_eq!(regular.metrics, GOLDEN_METRICS);
        assert_eq!(
            bold.metrics,
            Metrics {
                bbox: [-1268.0, -600.0, 2952.0, 2189.0],
                weight: 700.0,
                ..GOLDEN_METRICS
            }
        );
    }

    /// A readable sample of the digest below; `\0`, `漢` and `😀` fall back to `?`.
    const GOLDEN_GLYPHS: [(char, (u16, u16)); 21] = [
        ('\0', (34, 889)),
        (' ', (3, 532)),
        ('?', (34, 889)),
        ('A', (36, 1309)),
        ('a', (68, 1149)),
        ('W', (58, 1905)),
        ('i', (76, 528)),
        ('0', (19, 1171)),
        ('€', (540, 1171)),
        ('ß', (161, 1292)),
        ('Ł', (259, 1073)),
        ('ő', (275, 1239)),
        ('Ж', (432, 1749)),
        ('Ω', (374, 1602)),
        ('\u{2013}', (514, 1024)),
        ('\u{201C}', (522, 735)),
        ('\u{2022}', (527, 770)),
        ('\u{FB01}', (564, 1233)),
        ('\u{FFFD}', (589, 2048)),
        ('漢', (34, 889)),
        ('😀', (34, 889)),
    ];
    const GOLDEN_DIGEST: &str = "15289239d0689e226dfa15b54e97547efd60eabe81192b73050fc49363e12db5";
    const GOLDEN_METRICS: Metrics = Metrics {
        notdef_advance: 1229,
        bbox: [-1139.0, -559.0, 2706.0, 2146.0],
        ascent: 2189.0,
        descent: -600.0,
        cap_height: Some(1462.0),
        weight: 400.0,
        monospaced: false,
        italic_angle: 0.0,
    };

    #[test]
    fn bytes_that_are_not_a_usable_font_are_refused() {
        static GARBAGE: [u8; 64] = [0x5a; 64];
        let truncated = &notosans::REGULAR_TTF[..200];
        for data in [&GARBAGE[..], &[][..], truncated] {
            let err = Font::new(data).expect_err("refused");
            assert!(matches!(err, PdfError::Font(_)), "{err:?}");
            assert!(err.to_string().starts_with("unusable font: "), "{err}");
        }
    }

    #[test]
    fn deflate_round_trips() {
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        deflate(&data, &mut out).expect("compresses");
        let back = miniz_oxide::inflate::decompress_to_vec_zlib(&out).expect("inflates");
        assert_eq!(back, data);
        deflate(b"", &mut out).expect("empty input");
        assert!(!out.is_empty());
    }
}
