//! String values: formats, faker-backed realistic values, patterns and lorem text.

use fake::Fake;
use fake::faker::address::en::{CityPrefix, CitySuffix, CountryCode, CountryName, StateName, StreetSuffix, ZipCode};
use fake::faker::company::en::CompanyName;
use fake::faker::currency::en::CurrencyCode;
use fake::faker::internet::en::{DomainSuffix, FreeEmailProvider, IPv4, IPv6, Username};
use fake::faker::job::en::Title as JobTitle;
use fake::faker::lorem::en::{Paragraph, Sentence, Word};
use fake::faker::name::en::{FirstName, LastName};
use rand::{Rng as _, RngCore as _};

use super::scalars;
use crate::schema::model::{StringGen, StringKind};
use crate::seed::Rng;

const COLORS: &[&str] = &[
    "red", "green", "blue", "yellow", "orange", "purple", "black", "white", "gray", "pink", "brown", "teal", "navy",
    "maroon", "olive", "silver",
];

pub fn string(g: &StringGen, rng: &mut Rng) -> String {
    if let (Some(dist), StringKind::Words | StringKind::Sentence | StringKind::Paragraph) = (&g.len, &g.kind) {
        let target = super::length::sample(dist, rng) as usize;
        return fit(text_of_length(target, rng), target, target, rng);
    }
    let s = raw(&g.kind, rng);
    fit(s, g.min_len as usize, g.max_len as usize, rng)
}

/// Lorem words up to at least `target` characters.
fn text_of_length(target: usize, rng: &mut Rng) -> String {
    let mut s = String::with_capacity(target + 16);
    while s.len() < target {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(Word().fake_with_rng(rng));
    }
    s
}

fn raw(kind: &StringKind, rng: &mut Rng) -> String {
    match kind {
        StringKind::Words => {
            let n = rng.random_range(1..=3);
            let mut s: String = Word().fake_with_rng(rng);
            for _ in 1..n {
                s.push(' ');
                s.push_str(Word().fake_with_rng(rng));
            }
            s
        }
        StringKind::Sentence => Sentence(3..8).fake_with_rng(rng),
        StringKind::Paragraph => Paragraph(1..4).fake_with_rng(rng),
        StringKind::Pattern(re) => rng.sample::<String, _>(re.as_ref()),
        StringKind::DateTime { min_ms, max_ms } => rfc3339(rng.random_range(*min_ms..=*max_ms)),
        StringKind::Date { min_ms, max_ms } => {
            let mut s = rfc3339(rng.random_range(*min_ms..=*max_ms));
            s.truncate(10);
            s
        }
        StringKind::Time => {
            let secs = rng.random_range(0..86_400u32);
            format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
        }
        StringKind::Uuid => scalars::uuid(rng).to_string(),
        StringKind::ObjectIdHex => scalars::object_id(rng).to_hex(),
        StringKind::Email => email(rng),
        StringKind::Uri => {
            let host: &str = Word().fake_with_rng(rng);
            let tld: String = DomainSuffix().fake_with_rng(rng);
            let path: &str = Word().fake_with_rng(rng);
            format!("https://{host}.{tld}/{path}")
        }
        StringKind::Hostname => {
            let host: &str = Word().fake_with_rng(rng);
            let tld: String = DomainSuffix().fake_with_rng(rng);
            format!("{host}.{tld}")
        }
        StringKind::Ipv4 => IPv4().fake_with_rng(rng),
        StringKind::Ipv6 => IPv6().fake_with_rng(rng),
        StringKind::Name => {
            let (first, last): (&str, &str) = (FirstName().fake_with_rng(rng), LastName().fake_with_rng(rng));
            join(&[first, " ", last])
        }
        StringKind::FirstName => FirstName().fake_with_rng(rng),
        StringKind::LastName => LastName().fake_with_rng(rng),
        StringKind::Username => Username().fake_with_rng(rng),
        StringKind::Phone => {
            // North American numbering: area and exchange codes never start with 0 or 1.
            let (area, exchange, line) =
                (rng.random_range(200..1000u16), rng.random_range(200..1000u16), rng.random_range(0..10_000u16));
            format!("+1-{area}-{exchange}-{line:04}")
        }
        StringKind::Street => {
            let number = itoa::Buffer::new().format(rng.random_range(1..20_000u32)).to_string();
            let (name, suffix): (&str, &str) = (LastName().fake_with_rng(rng), StreetSuffix().fake_with_rng(rng));
            join(&[&number, " ", name, " ", suffix])
        }
        StringKind::City => {
            let name: &str = LastName().fake_with_rng(rng);
            if rng.random_bool(0.5) {
                let suffix: &str = CitySuffix().fake_with_rng(rng);
                join(&[name, suffix])
            } else {
                let prefix: &str = CityPrefix().fake_with_rng(rng);
                join(&[prefix, " ", name])
            }
        }
        StringKind::State => StateName().fake_with_rng(rng),
        StringKind::Country => CountryName().fake_with_rng(rng),
        StringKind::CountryCode => CountryCode().fake_with_rng(rng),
        StringKind::ZipCode => ZipCode().fake_with_rng(rng),
        StringKind::Company => CompanyName().fake_with_rng(rng),
        StringKind::JobTitle => JobTitle().fake_with_rng(rng),
        StringKind::CurrencyCode => CurrencyCode().fake_with_rng(rng),
        StringKind::Color => COLORS[rng.random_range(0..COLORS.len())].to_string(),
        StringKind::Base64 => {
            use base64::Engine as _;
            let mut bytes = [0u8; 16];
            rng.fill_bytes(&mut bytes);
            base64::engine::general_purpose::STANDARD.encode(bytes)
        }
        StringKind::DecimalText => format!("{:.2}", rng.random_range(0.0..1_000_000.0f64)),
    }
}

/// Concatenation into one exactly-sized allocation (the faker's own composite values
/// go through template replacement, several times slower).
fn join(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| s.push_str(p));
    s
}

/// `first.last42@provider`: reads like a person's address, and is cheaper than the
/// faker's own e-mail (which transliterates and rewrites its output).
fn email(rng: &mut Rng) -> String {
    let first: &str = FirstName().fake_with_rng(rng);
    let last: &str = LastName().fake_with_rng(rng);
    let provider: &str = FreeEmailProvider().fake_with_rng(rng);
    let mut s = String::with_capacity(first.len() + last.len() + provider.len() + 5);
    let push_lower_alnum = |s: &mut String, part: &str| {
        s.extend(part.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()))
    };
    push_lower_alnum(&mut s, first);
    s.push('.');
    push_lower_alnum(&mut s, last);
    if rng.random_bool(0.5) {
        s.push_str(itoa::Buffer::new().format(rng.random_range(1..100u8)));
    }
    s.push('@');
    s.push_str(provider);
    s
}

/// RFC 3339 with millisecond precision, as MongoDB tools print dates.
pub fn rfc3339(ms: i64) -> String {
    bson::DateTime::from_millis(ms).try_to_rfc3339_string().unwrap_or_else(|_| ms.to_string())
}

/// Brings `s` within `min..=max` characters (JSON Schema counts characters, not
/// bytes): cut, or padded with lower-case letters.
fn fit(mut s: String, min: usize, max: usize, rng: &mut Rng) -> String {
    if let Some((cut, _)) = s.char_indices().nth(max) {
        s.truncate(cut);
        // A trailing space would read as a bug in the data; swap it for a letter.
        if s.ends_with(' ') {
            s.pop();
            s.push('x');
        }
    }
    let mut chars = s.chars().count();
    while chars < min {
        s.push(rng.random_range(b'a'..=b'z') as char);
        chars += 1;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn fit_respects_bounds() {
        let mut rng = Rng::seed_from_u64(3);
        assert_eq!(fit("hello world".into(), 0, 5, &mut rng), "hello");
        assert_eq!(fit("hello world".into(), 0, 6, &mut rng), "hellox");
        assert_eq!(fit("ab".into(), 5, 10, &mut rng).len(), 5);
        assert_eq!(fit("héllo".into(), 0, 2, &mut rng), "hé");
    }
}
