//! Does a column look like personal data? By its name (`email`, `first_name`, `phone`,
//! `birth_date`, `ssn`, …) and by sampled values (email addresses, phone numbers, IP
//! addresses, card numbers that pass the Luhn check, IBANs, US social security numbers).
//!
//! A heuristic meant to catch the new column nobody wrote a rule for: it errs on the side of
//! asking — a false alarm costs one `keep` line in the rules, a miss costs a leak.

use std::net::IpAddr;

/// Name fragments (compared without `_`, `-` and case) and what they suggest.
const NAME_SIGNALS: &[(&[&str], &str)] = &[
    (&["email", "mail"], "an email address"),
    (
        &["phone", "mobile", "cellphone", "telephone", "fax", "msisdn"],
        "a phone number",
    ),
    (
        &[
            "firstname",
            "lastname",
            "fullname",
            "surname",
            "givenname",
            "familyname",
            "middlename",
            "maidenname",
            "nickname",
            "displayname",
            "contactname",
            "username",
        ],
        "a person's name",
    ),
    (
        &["ipaddress", "ipaddr", "remoteaddr", "clientip", "ip"],
        "an IP address",
    ),
    (
        &[
            "address",
            "street",
            "postcode",
            "postalcode",
            "zipcode",
            "zip",
        ],
        "a postal address",
    ),
    (&["birth", "dob", "birthday"], "a date of birth"),
    (
        &[
            "ssn",
            "socialsecurity",
            "nationalid",
            "passport",
            "taxid",
            "driverlicense",
            "driverslicense",
            "licensenumber",
            "idnumber",
            "personalnumber",
        ],
        "a national identifier",
    ),
    (
        &[
            "iban",
            "creditcard",
            "cardnumber",
            "ccnumber",
            "accountnumber",
            "bankaccount",
            "cvv",
        ],
        "a bank or card number",
    ),
    (
        &[
            "password",
            "passwd",
            "secret",
            "apikey",
            "accesstoken",
            "refreshtoken",
            "token",
        ],
        "a credential",
    ),
    (
        &["latitude", "longitude", "geolocation", "gps"],
        "a location",
    ),
    (
        &["gender", "sex", "ethnicity", "religion"],
        "a sensitive personal attribute",
    ),
    (
        &["photo", "picture", "avatar", "signature"],
        "a picture of a person",
    ),
];

/// Table names that hold people: in them, a bare `name` column is a person's name.
const PERSON_TABLES: &[&str] = &[
    "customer",
    "user",
    "person",
    "people",
    "employee",
    "staff",
    "member",
    "contact",
    "patient",
    "client",
    "account",
    "author",
    "student",
    "profile",
    "subscriber",
];

/// Why a column's name suggests personal data, if it does.
pub fn by_name(table: &str, column: &str) -> Option<String> {
    let words = words(column);
    let joined: String = words.concat();
    // A reference to another row (`address_id`, `email_key`) is not the data itself.
    let reference = matches!(
        words.last().map(String::as_str),
        Some(
            "id" | "ids" | "key" | "uuid" | "ref" | "fk" | "count" | "type" | "status" | "verified"
        )
    );
    for (fragments, meaning) in NAME_SIGNALS {
        let hit = fragments.iter().find(|f| {
            // Short fragments must be whole words (`ip` is not in `recipient`).
            if f.len() <= 3 {
                words.iter().any(|w| w == *f)
            } else {
                joined.contains(*f)
            }
        });
        if let Some(fragment) = hit {
            let identifier = *meaning == "a national identifier";
            if reference && !identifier {
                return None;
            }
            return Some(format!("the name (`{fragment}`) suggests {meaning}"));
        }
    }
    let bare_table = table
        .rsplit('.')
        .next()
        .unwrap_or(table)
        .to_ascii_lowercase();
    let person_table = PERSON_TABLES
        .iter()
        .any(|p| bare_table.trim_end_matches('s') == *p || bare_table == *p);
    if words == ["name"] && person_table {
        return Some(format!(
            "`name` in a table of people ({bare_table}) suggests a person's name"
        ));
    }
    None
}

/// Lowercase words of an identifier: split at `_`, `-`, spaces, digits and camelCase humps.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() || c.is_ascii_digit() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The kinds of personal values recognized in samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Email,
    Card,
    Iban,
    Ssn,
    Ip,
    Phone,
}

impl ValueKind {
    fn describe(self) -> &'static str {
        match self {
            ValueKind::Email => "email addresses",
            ValueKind::Card => "card numbers",
            ValueKind::Iban => "IBANs",
            ValueKind::Ssn => "social security numbers",
            ValueKind::Ip => "IP addresses",
            ValueKind::Phone => "phone numbers",
        }
    }
}

/// Why sampled values suggest personal data: when at least half of them (and at least three)
/// look like one kind of personal value.
pub fn by_values(values: &[String]) -> Option<String> {
    let values: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    if values.len() < 3 {
        return None;
    }
    let kinds = [
        ValueKind::Email,
        ValueKind::Card,
        ValueKind::Iban,
        ValueKind::Ssn,
        ValueKind::Ip,
        ValueKind::Phone,
    ];
    kinds.into_iter().find_map(|kind| {
        let matching = values.iter().filter(|v| classify(v) == Some(kind)).count();
        (matching * 2 >= values.len()).then(|| {
            format!(
                "{matching} of {} sampled values look like {}",
                values.len(),
                kind.describe()
            )
        })
    })
}

/// Why sampled JSON documents suggest personal data: when at least half of them (and at
/// least three) have a member whose name suggests it, or a string value that looks like one
/// kind of personal value.
pub fn by_documents(table: &str, documents: &[String]) -> Option<String> {
    let parsed: Vec<serde_json::Value> = documents
        .iter()
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    if parsed.len() < 3 {
        return None;
    }
    let mut by_key: std::collections::BTreeMap<String, usize> = Default::default();
    let mut by_kind: Vec<(ValueKind, usize)> = Vec::new();
    for document in &parsed {
        let (mut keys, mut kinds) = (Vec::new(), Vec::new());
        leaves(document, &mut keys, &mut kinds, 0);
        keys.sort();
        keys.dedup();
        for key in keys {
            if let Some(reason) = by_name(table, &key) {
                *by_key.entry(format!("`{key}`: {reason}")).or_default() += 1;
            }
        }
        kinds.dedup();
        for kind in kinds {
            match by_kind.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => by_kind.push((kind, 1)),
            }
        }
    }
    let half = |n: usize| n * 2 >= parsed.len();
    if let Some((reason, n)) = by_key.into_iter().find(|(_, n)| half(*n)) {
        return Some(format!(
            "{n} of {} sampled documents have a member {reason}",
            parsed.len()
        ));
    }
    by_kind
        .into_iter()
        .find(|(_, n)| half(*n))
        .map(|(kind, n)| {
            format!(
                "{n} of {} sampled documents hold {}",
                parsed.len(),
                kind.describe()
            )
        })
}

/// Member names and the kinds of string values in a document.
fn leaves(
    value: &serde_json::Value,
    keys: &mut Vec<String>,
    kinds: &mut Vec<ValueKind>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                keys.push(key.clone());
                leaves(child, keys, kinds, depth + 1);
            }
        }
        serde_json::Value::Array(items) => {
            for child in items {
                leaves(child, keys, kinds, depth + 1);
            }
        }
        serde_json::Value::String(s) => kinds.extend(classify(s)),
        _ => {}
    }
}

fn classify(value: &str) -> Option<ValueKind> {
    if is_email(value) {
        return Some(ValueKind::Email);
    }
    if is_ssn(value) {
        return Some(ValueKind::Ssn);
    }
    if is_iban(value) {
        return Some(ValueKind::Iban);
    }
    let address = value.split('/').next().unwrap_or(value);
    if address.parse::<IpAddr>().is_ok() {
        return Some(ValueKind::Ip);
    }
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    let punctuation_only = value
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if !punctuation_only || is_iso_date(value) {
        return None;
    }
    if (13..=19).contains(&digits.len()) && luhn(&digits) && !value.contains(['+', '(']) {
        return Some(ValueKind::Card);
    }
    let separated = value.contains([' ', '-', '(', '+']);
    let plausible = if separated { 7..=15 } else { 10..=15 };
    (plausible.contains(&digits.len()) && !value.contains('.')).then_some(ValueKind::Phone)
}

fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    let tld = domain.rsplit('.').next().unwrap_or_default();
    !local.is_empty()
        && !value.contains(char::is_whitespace)
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

fn is_ssn(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 11
        && b[3] == b'-'
        && b[6] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 3 || i == 6 || c.is_ascii_digit())
}

fn is_iso_date(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() >= 10 && b[4] == b'-' && b[7] == b'-' && b[..4].iter().all(u8::is_ascii_digit)
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Two letters, two check digits, 11–30 letters or digits (spaces allowed between groups),
/// and the ISO 7064 mod-97 check.
fn is_iban(value: &str) -> bool {
    let compact: String = value.chars().filter(|c| *c != ' ').collect();
    let b = compact.as_bytes();
    if !(15..=34).contains(&b.len())
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b[4..].iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let rearranged = compact[4..].chars().chain(compact[..4].chars());
    let mut remainder = 0u32;
    for c in rearranged {
        let value = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_suggest_personal_data() {
        for (table, column) in [
            ("public.customer", "email"),
            ("users", "EmailAddress"),
            ("public.customer", "first_name"),
            ("staff", "phone"),
            ("address", "postal_code"),
            ("sessions", "ip"),
            ("people", "date_of_birth"),
            ("users", "national_id"),
            ("customer", "name"),
            ("staff", "password"),
        ] {
            assert!(by_name(table, column).is_some(), "{table}.{column}");
        }
        for (table, column) in [
            ("public.customer", "address_id"),
            ("category", "name"),
            ("film", "description"),
            ("messages", "recipient"),
            ("rental", "rental_date"),
            ("users", "email_verified"),
        ] {
            assert!(by_name(table, column).is_none(), "{table}.{column}");
        }
    }

    #[test]
    fn values_that_look_personal() {
        let sample = |v: &[&str]| by_values(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(sample(&["a@b.org", "mary.smith@example.com", "x@y.io"])
            .unwrap()
            .contains("email"));
        assert!(sample(&["14033335568", "+1 (555) 123-4567", "6172235589"])
            .unwrap()
            .contains("phone"));
        assert!(sample(&["10.0.0.1", "192.168.1.2/24", "::1"])
            .unwrap()
            .contains("IP"));
        assert!(sample(&[
            "4111 1111 1111 1111",
            "5500-0000-0000-0004",
            "4012888888881881"
        ])
        .unwrap()
        .contains("card"));
        assert!(sample(&[
            "GB82 WEST 1234 5698 7654 32",
            "DE89370400440532013000",
            "GB82WEST12345698765432"
        ])
        .unwrap()
        .contains("IBAN"));
        assert!(sample(&["078-05-1120", "219-09-9999", "123-45-6789"])
            .unwrap()
            .contains("social"));
        assert!(sample(&["Drama", "Comedy", "Horror"]).is_none());
        assert!(sample(&["2022-01-24", "2022-01-25", "2022-02-01"]).is_none());
        assert!(sample(&["35200", "17886", "83579"]).is_none());
        assert!(sample(&["a@b.org"]).is_none(), "too few samples");
    }

    #[test]
    fn documents_with_personal_members_or_values() {
        let docs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let by_member = by_documents(
            "t",
            &docs(&[
                r#"{"contact": {"phone": "1"}}"#,
                r#"{"phone": null}"#,
                r#"{"x": 1}"#,
            ]),
        );
        assert!(by_member.unwrap().contains("`phone`"));
        let by_value = by_documents(
            "t",
            &docs(&[r#"{"a": "x@y.org"}"#, r#"["z@w.net"]"#, r#"{"b": 1}"#]),
        );
        assert!(by_value.unwrap().contains("email"));
        assert!(by_documents("t", &docs(&[r#"{"a": 1}"#, r#"{"b": 2}"#, r#"{"c": 3}"#])).is_none());
    }
}
