//! Recognising what strings and object keys hold: formats for `format`, and keys that
//! look like data rather than field names.

/// A string format `generate` knows, detected from values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Uuid,
    ObjectIdHex,
    Email,
    Uri,
    DateTime,
    Date,
}

impl Format {
    pub const ALL: [Format; 6] =
        [Format::Uuid, Format::ObjectIdHex, Format::Email, Format::Uri, Format::DateTime, Format::Date];

    pub fn name(self) -> &'static str {
        match self {
            Format::Uuid => "uuid",
            Format::ObjectIdHex => "objectid",
            Format::Email => "email",
            Format::Uri => "uri",
            Format::DateTime => "date-time",
            Format::Date => "date",
        }
    }

    pub fn matches(self, s: &str) -> bool {
        let b = s.as_bytes();
        match self {
            Format::Uuid => {
                b.len() == 36
                    && b.iter()
                        .enumerate()
                        .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { *c == b'-' } else { c.is_ascii_hexdigit() })
            }
            Format::ObjectIdHex => b.len() == 24 && b.iter().all(u8::is_ascii_hexdigit),
            Format::Email => {
                let Some((user, domain)) = s.split_once('@') else { return false };
                !user.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace)
            }
            Format::Uri => (s.starts_with("http://") || s.starts_with("https://")) && !s.contains(char::is_whitespace),
            Format::DateTime => {
                s.len() >= 20 && is_date(&b[..10]) && b[10] == b'T' && bson::DateTime::parse_rfc3339_str(s).is_ok()
            }
            Format::Date => b.len() == 10 && is_date(b),
        }
    }
}

/// Longest string whose shape is kept.
const SHAPE_MAX_LEN: usize = 64;

/// The shape of a string: each character as its class (`9` digit, `A` upper-case,
/// `a` lower-case letter) or, for ASCII punctuation and spaces, itself. `None` for
/// strings with no fixed shape to speak of (empty, long, or other characters).
pub fn shape_of(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || s.len() > SHAPE_MAX_LEN || !s.is_ascii() {
        return None;
    }
    s.bytes()
        .map(|c| match c {
            b'0'..=b'9' => Some(b'9'),
            b'A'..=b'Z' => Some(b'A'),
            b'a'..=b'z' => Some(b'a'),
            b' ' | b'-' | b'_' | b'.' | b'/' | b':' | b'#' | b'+' | b'(' | b')' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchored regular expression of a shape (`99999` → `^[0-9]{5}$`), for shapes
/// with a digit: strings of letters alone of one length are words, not codes.
pub fn shape_pattern(shape: &[u8]) -> Option<String> {
    if !shape.contains(&b'9') {
        return None;
    }
    let mut out = String::from("^");
    for run in shape.chunk_by(|a, b| a == b) {
        match run[0] {
            b'9' => out.push_str("[0-9]"),
            b'A' => out.push_str("[A-Z]"),
            b'a' => out.push_str("[a-z]"),
            c => {
                if matches!(c, b'.' | b'+' | b'(' | b')') {
                    out.push('\\');
                }
                out.push(c as char);
            }
        }
        if run.len() > 1 {
            out.push_str(&format!("{{{}}}", run.len()));
        }
    }
    out.push('$');
    Some(out)
}

fn is_date(b: &[u8]) -> bool {
    b.len() == 10 && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() })
}

/// What a key that looks like data holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    Uuid,
    ObjectId,
    Number,
    Date,
}

impl KeyFormat {
    pub fn of(key: &str) -> Option<Self> {
        if Format::Uuid.matches(key) {
            Some(KeyFormat::Uuid)
        } else if Format::ObjectIdHex.matches(key) {
            Some(KeyFormat::ObjectId)
        } else if !key.is_empty() && key.len() <= 18 && key.bytes().all(|c| c.is_ascii_digit()) {
            Some(KeyFormat::Number)
        } else if Format::Date.matches(key) {
            Some(KeyFormat::Date)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyFormat::Uuid => "uuid",
            KeyFormat::ObjectId => "objectId",
            KeyFormat::Number => "number",
            KeyFormat::Date => "date",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_formats() {
        assert!(Format::Uuid.matches("3f2504e0-4f89-41d3-9a0c-0305e82c3301"));
        assert!(Format::ObjectIdHex.matches("65a1b2c3d4e5f60718293a4b"));
        assert!(Format::Email.matches("ann.lee@example.com") && !Format::Email.matches("not an@email"));
        assert!(Format::DateTime.matches("2024-01-02T03:04:05.123Z") && !Format::DateTime.matches("2024-01-02"));
        assert!(Format::Date.matches("2024-01-02"));
        assert_eq!(KeyFormat::of("12345"), Some(KeyFormat::Number));
        assert_eq!(KeyFormat::of("name"), None);
    }

    #[test]
    fn shapes_become_patterns() {
        let pattern = |s: &str| shape_of(s).and_then(|sh| shape_pattern(&sh));
        assert_eq!(pattern("02139").as_deref(), Some("^[0-9]{5}$"));
        assert_eq!(pattern("AB-1234").as_deref(), Some("^[A-Z]{2}-[0-9]{4}$"));
        assert_eq!(pattern("(555) 010.2").as_deref(), Some("^\\([0-9]{3}\\) [0-9]{3}\\.[0-9]$"));
        assert_eq!(pattern("hello"), None, "letters alone are words");
        assert_eq!(shape_of("naïve"), None);
    }
}
