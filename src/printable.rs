//! What may be printed on a label or an invoice: the one cleaning of text that comes
//! from outside (a buyer's name, company, street, city, a product title) before it goes
//! to PostNL or onto a PDF (issue #15, item 6).
//!
//! [`clean`] removes terminal escape sequences whole (`ESC [31m`), format characters
//! (Cf: bidi overrides like U+202E, zero-width spaces and joiners, the soft hyphen, the
//! byte order mark), private-use (Co) and unassigned (Cn) code points. White space of
//! any kind (tabs, newlines, line and paragraph separators, no-break spaces) and the
//! other control characters (Cc: NUL, BEL, …) separate words: each run becomes one
//! space, and the result is trimmed. Everything a label or an invoice can show stays: letters with
//! diacritics, combining marks, CJK, punctuation and symbols. [`has_text`] says whether
//! anything sensible (a letter or a digit) is left; callers send an order to review
//! with `unprintable_text` when a field that had content has none left.
//!
//! The general category comes from `unicode-general-category` (already in the build
//! through the PDF and schema crates): std has `char::is_control` for Cc only, and a
//! hand-kept list of Cf and Co ranges would age with every Unicode release.
//!
//! Splitting an address into street and house number is another module's job
//! (`postnl::address`); it receives text that is already clean.

use unicode_general_category::{GeneralCategory, get_general_category};

/// The reason code for an order whose text has nothing printable left.
pub const UNPRINTABLE: &str = "unprintable_text";

/// `s` with escape sequences, format, private-use and unassigned characters removed and
/// every run of white space or control characters made one space, trimmed.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                skip_escape(&mut chars);
                continue;
            }
            // The one-character form of `ESC [`.
            '\u{9b}' => {
                skip_csi(&mut chars);
                continue;
            }
            _ => {}
        }
        // White space and the other control characters (NUL, BEL, …) separate words,
        // as they did in the invoice renderer before.
        if c.is_whitespace() || c.is_control() {
            space = true;
            continue;
        }
        if matches!(
            get_general_category(c),
            GeneralCategory::Format
                | GeneralCategory::PrivateUse
                | GeneralCategory::Unassigned
                | GeneralCategory::Surrogate
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        ) {
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    out
}

/// Whether `s` has a letter or a digit: something a label or an invoice can show.
pub fn has_text(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

/// The cleaned text, or `None` when nothing sensible is left.
pub fn sensible(s: &str) -> Option<String> {
    Some(clean(s)).filter(|c| has_text(c))
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// Skips the rest of an escape sequence after ESC: `ESC [ …` (CSI), `ESC ] … BEL|ESC \`
/// (OSC), or ESC and one more character.
fn skip_escape(chars: &mut Chars<'_>) {
    match chars.peek() {
        Some('[') => {
            chars.next();
            skip_csi(chars);
        }
        Some(']') => {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' {
                    if chars.peek() == Some(&'\\') {
                        chars.next();
                    }
                    break;
                }
            }
        }
        Some(c) if (' '..='~').contains(c) => {
            chars.next();
        }
        _ => {}
    }
}

/// Skips a CSI sequence's parameter and intermediate bytes and its final byte.
fn skip_csi(chars: &mut Chars<'_>) {
    while let Some(&c) = chars.peek() {
        if ('\u{30}'..='\u{3f}').contains(&c) || ('\u{20}'..='\u{2f}').contains(&c) {
            chars.next();
        } else {
            if ('\u{40}'..='\u{7e}').contains(&c) {
                chars.next();
            }
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_characters_go_and_printable_ones_stay() {
        assert_eq!(
            clean("Jan \u{202E}Jänsen\u{0}\u{7}\tde\nVries"),
            "Jan Jänsen de Vries"
        );
        assert_eq!(
            clean("\u{1b}[31mRood\u{1b}[0m en \u{9b}1;2Hblauw"),
            "Rood en blauw"
        );
        assert_eq!(
            clean("a\u{1b}]0;title\u{7}b\u{1b}]2;x\u{1b}\\c\u{1b}Md"),
            "abcd"
        );
        assert_eq!(clean("Amster\u{200B}dam\u{FEFF}\u{AD}"), "Amsterdam");
        assert_eq!(clean("\u{E000}Straße\u{F8FF} \u{10FFFD}1"), "Straße 1");
        assert_eq!(clean("  Łukasz\u{2028}Żółć \r\n "), "Łukasz Żółć");
        assert_eq!(
            clean("王芳 Анна Ελένη — O'Neil & Co. (ë)"),
            "王芳 Анна Ελένη — O'Neil & Co. (ë)"
        );
        // Combining marks stay with their letter.
        assert_eq!(clean("Jose\u{301}"), "Jose\u{301}");
        assert_eq!(clean("a\u{a0}\u{3000}b"), "a b");
        assert_eq!(clean("\u{1b}"), "");
        assert_eq!(clean("x\u{1b}[31"), "x");
    }

    #[test]
    fn nothing_sensible_left() {
        assert_eq!(sensible("\u{202E}\u{200B}\u{7}\u{E000}"), None);
        assert_eq!(sensible(" - . "), None);
        assert_eq!(sensible("\t7\n").as_deref(), Some("7"));
        assert!(has_text("王"));
    }
}
