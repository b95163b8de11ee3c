//! The operator's print file: many PostNL label PDFs merged into one.
//!
//! Each label page becomes a form XObject, placed either on its own A6 page (a roll or
//! label printer) or four to an A4 sheet, starting at a chosen position so that a
//! partly used sheet of A6 stickers can be finished. Labels larger than a slot are
//! scaled down to fit, never cropped. The output has no dates or random ids, so the
//! same labels give the same bytes.

use std::fmt::Write as _;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream, dictionary};

/// A4 and A6 in PDF points.
const A4: (f32, f32) = (595.28, 841.89);
const A6: (f32, f32) = (297.64, 419.53);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One label per A6 page.
    A6,
    /// Four labels per A4 sheet; `start` is the first free position, 1 to 4
    /// (1 top left, 2 top right, 3 bottom left, 4 bottom right).
    A4 { start: u8 },
}

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("label {index} is not a readable PDF")]
    Unreadable { index: usize },
    #[error("label {index} has no page")]
    NoPage { index: usize },
    #[error("the A4 start position must be 1 to 4, not {0}")]
    BadStart(u8),
    #[error("could not write the print file: {0}")]
    Write(String),
}

/// One label page, lifted out of its document.
struct Placed {
    xobject: ObjectId,
    width: f32,
    height: f32,
}

/// Merges label PDFs into one print file; returns the PDF bytes and the page count.
pub fn merge(labels: &[Vec<u8>], layout: Layout) -> Result<(Vec<u8>, usize), PrintError> {
    if let Layout::A4 { start } = layout
        && !(1..=4).contains(&start)
    {
        return Err(PrintError::BadStart(start));
    }
    let mut out = Document::with_version("1.7");
    let mut placed = Vec::new();
    for (index, bytes) in labels.iter().enumerate() {
        let mut doc = Document::load_mem(bytes).map_err(|_| PrintError::Unreadable { index })?;
        doc.renumber_objects_with(out.max_id + 1);
        let pages: Vec<ObjectId> = doc.get_pages().into_values().collect();
        if pages.is_empty() {
            return Err(PrintError::NoPage { index });
        }
        let mut forms = Vec::new();
        for page in pages {
            let (w, h, bbox) = media_box(&doc, page);
            let content = doc.get_page_content(page);
            let resources = resources(&doc, page);
            let mut stream = Stream::new(
                dictionary! {
                    "Type" => "XObject",
                    "Subtype" => "Form",
                    "BBox" => bbox,
                    "Resources" => resources,
                },
                content,
            );
            let _ = stream.compress();
            forms.push((stream, w, h));
        }
        out.max_id = out.max_id.max(doc.max_id);
        out.objects.extend(doc.objects);
        for (stream, width, height) in forms {
            let xobject = out.add_object(stream);
            placed.push(Placed {
                xobject,
                width,
                height,
            });
        }
    }

    let pages_id = out.new_object_id();
    let mut kids = Vec::new();
    match layout {
        Layout::A6 => {
            for p in &placed {
                let (w, h) = if p.width > 0.0 && p.height > 0.0 {
                    (p.width, p.height)
                } else {
                    A6
                };
                let scale = fit(p, w, h);
                kids.push(add_page(
                    &mut out,
                    pages_id,
                    (w, h),
                    &[(p, 0.0, 0.0, scale)],
                ));
            }
        }
        Layout::A4 { start } => {
            let slot = (A4.0 / 2.0, A4.1 / 2.0);
            // Positions 1..4: top left, top right, bottom left, bottom right.
            let origin = |pos: usize| -> (f32, f32) {
                let col = if pos % 2 == 1 { 1.0 } else { 0.0 };
                let row = if pos < 2 { 1.0 } else { 0.0 };
                (col * slot.0, row * slot.1)
            };
            let mut pos = usize::from(start - 1);
            let mut sheet: Vec<(&Placed, f32, f32, f32)> = Vec::new();
            for p in &placed {
                let (x, y) = origin(pos);
                let scale = fit(p, slot.0, slot.1);
                sheet.push((p, x, y, scale));
                pos += 1;
                if pos == 4 {
                    kids.push(add_page(&mut out, pages_id, A4, &sheet));
                    sheet.clear();
                    pos = 0;
                }
            }
            if !sheet.is_empty() {
                kids.push(add_page(&mut out, pages_id, A4, &sheet));
            }
        }
    }
    let count = kids.len();
    out.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids.into_iter().map(Object::Reference).collect::<Vec<_>>(),
            "Count" => i64::try_from(count).unwrap_or(i64::MAX),
        }),
    );
    let catalog = out.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    out.trailer.set("Root", catalog);
    // The labels' own catalogs and page trees are no longer referenced.
    out.prune_objects();
    let mut bytes = Vec::new();
    out.save_to(&mut bytes)
        .map_err(|e| PrintError::Write(e.to_string()))?;
    Ok((bytes, count))
}

/// Joins ZPL labels into one print file: each label's bytes as they came from PostNL
/// (one or more `^XA … ^XZ` blocks), in the given order, each ending with a line break
/// so that the next label's `^XA` starts a line. Nothing is converted: a thermal printer
/// gets PostNL's own commands.
pub fn concat_zpl<'a>(labels: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for label in labels {
        out.extend_from_slice(label);
        if !label.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
    out
}

/// How many labels (`^XA` starts) a ZPL print file holds.
#[must_use]
pub fn zpl_blocks(zpl: &[u8]) -> usize {
    zpl.windows(3)
        .filter(|w| w.eq_ignore_ascii_case(b"^XA"))
        .count()
}

/// Scale that fits a label into a box without enlarging it.
fn fit(p: &Placed, w: f32, h: f32) -> f32 {
    if p.width <= 0.0 || p.height <= 0.0 {
        return 1.0;
    }
    (w / p.width).min(h / p.height).min(1.0)
}

fn add_page(
    out: &mut Document,
    parent: ObjectId,
    size: (f32, f32),
    items: &[(&Placed, f32, f32, f32)],
) -> ObjectId {
    let mut content = String::new();
    let mut xobjects = Dictionary::new();
    for (i, (p, x, y, scale)) in items.iter().enumerate() {
        let name = format!("L{i}");
        let _ = writeln!(content, "q {scale} 0 0 {scale} {x} {y} cm /{name} Do Q");
        xobjects.set(name, p.xobject);
    }
    let mut stream = Stream::new(Dictionary::new(), content.into_bytes());
    let _ = stream.compress();
    let content_id = out.add_object(stream);
    out.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => parent,
        "MediaBox" => vec![0.into(), 0.into(), Object::Real(size.0), Object::Real(size.1)],
        "Contents" => content_id,
        "Resources" => dictionary! { "XObject" => xobjects },
    })
}

/// The page's MediaBox (inherited if need be): width, height, and the box itself.
fn media_box(doc: &Document, page: ObjectId) -> (f32, f32, Vec<Object>) {
    let mut id = Some(page);
    while let Some(cur) = id {
        let Ok(dict) = doc.get_dictionary(cur) else {
            break;
        };
        if let Ok(arr) = dict
            .get(b"MediaBox")
            .and_then(|o| doc.dereference(o).map(|(_, o)| o))
            .and_then(Object::as_array)
        {
            let nums: Vec<f32> = arr.iter().filter_map(|o| o.as_float().ok()).collect();
            if nums.len() == 4 {
                return (nums[2] - nums[0], nums[3] - nums[1], arr.clone());
            }
        }
        id = dict.get(b"Parent").and_then(Object::as_reference).ok();
    }
    (
        A6.0,
        A6.1,
        vec![0.into(), 0.into(), Object::Real(A6.0), Object::Real(A6.1)],
    )
}

/// The page's resources, direct and inherited, merged into one dictionary.
fn resources(doc: &Document, page: ObjectId) -> Dictionary {
    let mut merged = Dictionary::new();
    if let Ok((direct, inherited)) = doc.get_page_resources(page) {
        if let Some(d) = direct {
            merged = d.clone();
        }
        for id in inherited {
            if let Ok(d) = doc.get_dictionary(id) {
                for (k, v) in d {
                    if !merged.has(k) {
                        merged.set(k.clone(), v.clone());
                    }
                }
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal one-page A6 PDF with some text, as a label stand-in.
    fn label(text: &str) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages = doc.new_object_id();
        let font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        let content = format!("BT /F1 12 Tf 20 380 Td ({text}) Tj ET");
        let c = doc.add_object(Stream::new(Dictionary::new(), content.into_bytes()));
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages, "Contents" => c,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(A6.0), Object::Real(A6.1)],
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
        });
        doc.objects.insert(
            pages,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1,
            }),
        );
        let cat = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
        doc.trailer.set("Root", cat);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    fn page_sizes(pdf: &[u8]) -> Vec<(f32, f32)> {
        let doc = Document::load_mem(pdf).unwrap();
        doc.get_pages()
            .values()
            .map(|&p| {
                let (w, h, _) = media_box(&doc, p);
                (w.round(), h.round())
            })
            .collect()
    }

    #[test]
    fn a6_one_page_per_label() {
        let labels: Vec<_> = (0..3)
            .map(|i| label(&format!("3SDEVC98700000{i}")))
            .collect();
        let (pdf, pages) = merge(&labels, Layout::A6).unwrap();
        assert_eq!(pages, 3);
        assert_eq!(page_sizes(&pdf), vec![(298.0, 420.0); 3]);
        let doc = Document::load_mem(&pdf).unwrap();
        // The labels' text survives inside the form XObjects.
        let all: String = doc
            .objects
            .values()
            .filter_map(|o| o.as_stream().ok())
            .filter_map(|s| {
                s.decompressed_content()
                    .ok()
                    .or_else(|| Some(s.content.clone()))
            })
            .map(|c| String::from_utf8_lossy(&c).into_owned())
            .collect();
        for i in 0..3 {
            assert!(
                all.contains(&format!("3SDEVC98700000{i}")),
                "label {i} lost"
            );
        }
    }

    #[test]
    fn a4_four_up_from_a_start_position() {
        let labels: Vec<_> = (0..6).map(|i| label(&format!("L{i}"))).collect();
        // Start at position 3: two labels finish sheet one, four fill sheet two.
        let (pdf, pages) = merge(&labels, Layout::A4 { start: 3 }).unwrap();
        assert_eq!(pages, 2);
        assert_eq!(page_sizes(&pdf), vec![(595.0, 842.0); 2]);
        let (_, pages) = merge(&labels, Layout::A4 { start: 1 }).unwrap();
        assert_eq!(pages, 2);
        let (_, pages) = merge(&labels[..4], Layout::A4 { start: 1 }).unwrap();
        assert_eq!(pages, 1);
        assert!(matches!(
            merge(&labels, Layout::A4 { start: 5 }),
            Err(PrintError::BadStart(5))
        ));
    }

    /// Issue #19: ZPL labels are joined unchanged, each starting on its own line.
    #[test]
    fn zpl_labels_are_joined_in_order_and_counted() {
        let a: &[u8] = b"^XA^FDone^FS^XZ\n";
        let b: &[u8] = b"^XA^FDtwo^FS^XZ";
        let c: &[u8] = b"^XA^FDthree^FS^XZ\n^XA^FDcn23^FS^XZ\n";
        let out = concat_zpl([a, b, c]);
        assert_eq!(
            out,
            b"^XA^FDone^FS^XZ\n^XA^FDtwo^FS^XZ\n^XA^FDthree^FS^XZ\n^XA^FDcn23^FS^XZ\n"
        );
        assert_eq!(zpl_blocks(&out), 4);
        assert_eq!(zpl_blocks(b""), 0);
    }

    #[test]
    fn deterministic_and_refuses_garbage() {
        let labels = vec![label("A"), label("B")];
        assert_eq!(
            merge(&labels, Layout::A6).unwrap().0,
            merge(&labels, Layout::A6).unwrap().0
        );
        assert!(matches!(
            merge(&[b"not a pdf".to_vec()], Layout::A6),
            Err(PrintError::Unreadable { index: 0 })
        ));
    }
}
