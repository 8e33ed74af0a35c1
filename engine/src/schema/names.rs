//! Field-name heuristics: a field called `email` gets e-mail addresses, `age` a human
//! age. Resolved once at compile time; an explicit `format`, `pattern`, `enum` or
//! `x-gen.faker` always wins.

use super::model::StringKind;

/// Lower-cases and drops `_`/`-` so `first_name`, `firstName` and `first-name` agree.
pub fn normalize(name: &str) -> String {
    name.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

/// A string kind from an `x-gen.faker` name.
pub fn faker_kind(name: &str) -> Option<StringKind> {
    Some(match normalize(name).as_str() {
        "word" | "words" => StringKind::Words,
        "sentence" | "title" => StringKind::Sentence,
        "paragraph" | "text" => StringKind::Paragraph,
        "name" | "fullname" => StringKind::Name,
        "firstname" => StringKind::FirstName,
        "lastname" => StringKind::LastName,
        "username" => StringKind::Username,
        "email" => StringKind::Email,
        "phone" | "phonenumber" => StringKind::Phone,
        "street" | "streetaddress" => StringKind::Street,
        "city" => StringKind::City,
        "state" => StringKind::State,
        "country" => StringKind::Country,
        "countrycode" => StringKind::CountryCode,
        "zip" | "zipcode" | "postcode" => StringKind::ZipCode,
        "company" => StringKind::Company,
        "jobtitle" => StringKind::JobTitle,
        "currency" | "currencycode" => StringKind::CurrencyCode,
        "color" => StringKind::Color,
        "url" | "uri" => StringKind::Uri,
        "hostname" | "domain" => StringKind::Hostname,
        "ipv4" | "ip" => StringKind::Ipv4,
        "ipv6" => StringKind::Ipv6,
        "uuid" => StringKind::Uuid,
        _ => return None,
    })
}

/// The faker names `x-gen.faker` accepts, for error messages.
pub const FAKER_NAMES: &str = "word, sentence, paragraph, name, firstName, lastName, username, \
    email, phone, street, city, state, country, countryCode, zip, company, jobTitle, currency, \
    color, url, hostname, ipv4, ipv6, uuid";

/// The string kind a field name suggests, if any.
pub fn string_kind_for(name: &str) -> Option<StringKind> {
    let n = normalize(name);
    let exact = match n.as_str() {
        "name" | "fullname" | "displayname" | "customername" | "contactname" | "authorname" | "ownername" => {
            Some(StringKind::Name)
        }
        "title" | "subject" | "headline" => Some(StringKind::Sentence),
        "ip" | "ipaddress" | "ipv4" => Some(StringKind::Ipv4),
        "ipv6" => Some(StringKind::Ipv6),
        "uuid" | "guid" => Some(StringKind::Uuid),
        "state" | "province" | "region" => Some(StringKind::State),
        "address" | "address1" | "addressline1" | "line1" => Some(StringKind::Street),
        _ => None,
    };
    if exact.is_some() {
        return exact;
    }
    // Constructors, not values: `StringKind` holds boxed patterns and is not `Copy`.
    type Make = fn() -> StringKind;
    const SUFFIXES: &[(&str, Make)] = &[
        ("email", || StringKind::Email),
        ("firstname", || StringKind::FirstName),
        ("givenname", || StringKind::FirstName),
        ("lastname", || StringKind::LastName),
        ("surname", || StringKind::LastName),
        ("familyname", || StringKind::LastName),
        ("username", || StringKind::Username),
        ("login", || StringKind::Username),
        ("companyname", || StringKind::Company),
        ("company", || StringKind::Company),
        ("employer", || StringKind::Company),
        ("organization", || StringKind::Company),
        ("jobtitle", || StringKind::JobTitle),
        ("phone", || StringKind::Phone),
        ("phonenumber", || StringKind::Phone),
        ("mobile", || StringKind::Phone),
        ("street", || StringKind::Street),
        ("streetaddress", || StringKind::Street),
        ("city", || StringKind::City),
        ("countrycode", || StringKind::CountryCode),
        ("country", || StringKind::Country),
        ("zip", || StringKind::ZipCode),
        ("zipcode", || StringKind::ZipCode),
        ("postalcode", || StringKind::ZipCode),
        ("postcode", || StringKind::ZipCode),
        ("description", || StringKind::Paragraph),
        ("comment", || StringKind::Paragraph),
        ("bio", || StringKind::Paragraph),
        ("notes", || StringKind::Paragraph),
        ("body", || StringKind::Paragraph),
        ("message", || StringKind::Paragraph),
        ("content", || StringKind::Paragraph),
        ("summary", || StringKind::Paragraph),
        ("url", || StringKind::Uri),
        ("website", || StringKind::Uri),
        ("homepage", || StringKind::Uri),
        ("link", || StringKind::Uri),
        ("hostname", || StringKind::Hostname),
        ("domain", || StringKind::Hostname),
        ("currency", || StringKind::CurrencyCode),
        ("currencycode", || StringKind::CurrencyCode),
        ("color", || StringKind::Color),
        ("colour", || StringKind::Color),
    ];
    SUFFIXES.iter().find(|(suffix, _)| n.ends_with(suffix)).map(|(_, kind)| kind())
}

/// A default numeric range for a field name, when the schema gives none.
/// Returns (min, max, decimals for doubles).
pub fn numeric_range_for(name: &str) -> Option<(f64, f64, Option<u32>)> {
    let n = normalize(name);
    let ends = |s: &str| n.ends_with(s);
    Some(if n == "age" || ends("age") && n.len() <= 6 {
        (18.0, 90.0, None)
    } else if ends("year") {
        (1970.0, 2025.0, None)
    } else if ["price", "amount", "total", "cost", "balance", "salary", "subtotal", "fee"].iter().any(|s| ends(s)) {
        (1.0, 1000.0, Some(2))
    } else if ["quantity", "qty"].iter().any(|s| ends(s)) {
        (1.0, 20.0, None)
    } else if ["rating", "stars", "score"].iter().any(|s| ends(s)) {
        (1.0, 5.0, Some(1))
    } else if n == "lat" || ends("latitude") {
        (-90.0, 90.0, Some(6))
    } else if n == "lng" || n == "lon" || ends("longitude") {
        (-180.0, 180.0, Some(6))
    } else if ["percent", "percentage", "pct"].iter().any(|s| ends(s)) {
        (0.0, 100.0, Some(1))
    } else {
        return None;
    })
}
