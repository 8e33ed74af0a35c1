//! `pattern` and `x-gen.keys.pattern`: regular expressions turned into generators.

use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, Hir, HirKind};

use super::SchemaError;

/// Compiles a JSON Schema `pattern` into a string generator.
///
/// JSON Schema patterns are unanchored and usually written as `^...$`; a generated
/// full match satisfies them either way, so outer anchors are dropped. Classes are
/// parsed as ASCII (`\d` is 0-9) and narrowed to printable ASCII, so `.` gives
/// readable characters rather than arbitrary bytes. Unbounded repetitions (`*`, `+`)
/// stop at 8 extra copies.
pub fn compile_pattern(pattern: &str, path: &str) -> Result<rand_regex::Regex, SchemaError> {
    let body = strip_anchors(pattern);
    let hir =
        regex_syntax::ParserBuilder::new().unicode(false).utf8(false).build().parse(body).map_err(|e| {
            SchemaError::new(path, format!("invalid pattern '{pattern}': {}", last_line(&e.to_string())))
        })?;
    rand_regex::Regex::with_hir(printable(hir), 8)
        .map_err(|e| SchemaError::new(path, format!("pattern '{pattern}' cannot be generated: {e}")))
}

fn strip_anchors(pattern: &str) -> &str {
    let p = pattern.strip_prefix('^').unwrap_or(pattern);
    match p.strip_suffix('$') {
        Some(rest) if !rest.ends_with('\\') => rest,
        _ => p,
    }
}

fn printable(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Class(Class::Bytes(mut class)) => {
            let mut narrowed = class.clone();
            narrowed.intersect(&ClassBytes::new([ClassBytesRange::new(b' ', b'~')]));
            if narrowed.ranges().is_empty() {
                // Only non-printable bytes match: keep what the author asked for, as ASCII.
                class.intersect(&ClassBytes::new([ClassBytesRange::new(0, 0x7f)]));
                Hir::class(Class::Bytes(class))
            } else {
                Hir::class(Class::Bytes(narrowed))
            }
        }
        HirKind::Repetition(mut rep) => {
            rep.sub = Box::new(printable(*rep.sub));
            Hir::repetition(rep)
        }
        HirKind::Capture(mut cap) => {
            cap.sub = Box::new(printable(*cap.sub));
            Hir::capture(cap)
        }
        HirKind::Concat(subs) => Hir::concat(subs.into_iter().map(printable).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.into_iter().map(printable).collect()),
        HirKind::Class(class) => Hir::class(class),
        HirKind::Literal(lit) => Hir::literal(lit.0),
        HirKind::Look(look) => Hir::look(look),
        HirKind::Empty => Hir::empty(),
    }
}

fn last_line(s: &str) -> String {
    s.lines().rfind(|l| !l.trim().is_empty()).unwrap_or(s).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn generated_strings_match_the_pattern() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        for pattern in ["^[A-Z]{3}-\\d{4}$", "^SKU-[0-9a-f]{6}$", "a.b", "(red|green|blue)"] {
            let g = compile_pattern(pattern, "#").unwrap();
            let re = regex_lite_match(pattern);
            for _ in 0..50 {
                let s: String = rng.sample(&g);
                assert!(re(&s), "{s:?} does not match {pattern}");
            }
        }
    }

    /// A tiny matcher for the test patterns above, so the test does not trust the generator.
    fn regex_lite_match(pattern: &str) -> impl Fn(&str) -> bool + '_ {
        move |s: &str| match pattern {
            "^[A-Z]{3}-\\d{4}$" => {
                s.len() == 8
                    && s[..3].bytes().all(|b| b.is_ascii_uppercase())
                    && &s[3..4] == "-"
                    && s[4..].bytes().all(|b| b.is_ascii_digit())
            }
            "^SKU-[0-9a-f]{6}$" => {
                s.len() == 10
                    && s.starts_with("SKU-")
                    && s[4..].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            }
            "a.b" => s.len() == 3 && s.starts_with('a') && s.ends_with('b') && (0x20..0x7f).contains(&s.as_bytes()[1]),
            "(red|green|blue)" => ["red", "green", "blue"].contains(&s),
            _ => unreachable!(),
        }
    }

    #[test]
    fn invalid_pattern_names_the_path() {
        let err = compile_pattern("[a-", "#/properties/sku/pattern").unwrap_err();
        assert_eq!(err.path, "#/properties/sku/pattern");
        assert!(err.message.contains("invalid pattern"), "{err}");
    }
}
