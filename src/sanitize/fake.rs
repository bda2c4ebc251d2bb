//! Fake values: realistic, deterministic stand-ins for personal data.
//!
//! Names of people and places are made up from syllables (see `words`), so that no fake is
//! a real person's name by chance. Each fake is drawn from a pseudo-random stream seeded by the keyed hash of the original
//! value (and the kind of fake), so the same original always gives the same fake, and nobody
//! without the key can tell which original a fake came from. Fakes that must stay unique
//! (`email`, `username`) carry a part of that hash in their text — 65 and 50 bits — so two
//! originals collide only as often as the hash does. Shapes are kept where a column's readers
//! care: a phone number keeps its punctuation and length, a postal code its letters and
//! digits, an IP address its family and prefix length.

use super::key::{base32, Key, Stream};
use super::rules::FakeKind;
use super::words::{
    COMPANY_KINDS, EMAIL_DOMAINS, FAMILY_END, FAMILY_START, GIVEN_END, GIVEN_START, LOREM,
    PLACE_END, PLACE_START, STREET_KINDS,
};

/// The fake of kind `kind` for `original`.
pub fn fake(kind: FakeKind, key: &Key, original: &[u8]) -> String {
    let mut stream = key.fake_stream(kind.name(), original);
    let s = &mut stream;
    // Built by pushing pieces into one string: fakes are made by the million.
    let mut out = String::with_capacity(48);
    match kind {
        FakeKind::FirstName => given_name(s, &mut out),
        FakeKind::LastName => family_name(s, &mut out),
        FakeKind::Name => {
            given_name(s, &mut out);
            out.push(' ');
            family_name(s, &mut out);
        }
        FakeKind::Email => {
            given_name(s, &mut out);
            out.push('.');
            family_name(s, &mut out);
            out.make_ascii_lowercase();
            out.push('.');
            out.push_str(&token(s, 13));
            out.push('@');
            out.push_str(pick(s, EMAIL_DOMAINS));
        }
        FakeKind::Username => {
            given_name(s, &mut out);
            out.make_ascii_lowercase();
            out.push('_');
            out.push_str(&token(s, 10));
        }
        FakeKind::Phone => {
            let text = String::from_utf8_lossy(original);
            if text.chars().any(|c| c.is_ascii_digit()) {
                out = reshape(s, &text, false);
            } else {
                out.push_str("555-01");
                out.push(char::from(b'0' + s.digit()));
                out.push(char::from(b'0' + s.digit()));
            }
        }
        FakeKind::Address => {
            out.push_str(&(1 + s.below(9999)).to_string());
            out.push(' ');
            place(s, &mut out);
            out.push(' ');
            out.push_str(pick(s, STREET_KINDS));
        }
        FakeKind::City => place(s, &mut out),
        FakeKind::PostalCode | FakeKind::Format => {
            out = reshape(s, &String::from_utf8_lossy(original), true)
        }
        FakeKind::Company => {
            family_name(s, &mut out);
            out.push(' ');
            out.push_str(pick(s, COMPANY_KINDS));
        }
        FakeKind::Text => out = sentence(s, &String::from_utf8_lossy(original)),
        FakeKind::Ip => out = ip(s, &String::from_utf8_lossy(original)),
    }
    out
}

fn pick(stream: &mut Stream, words: &[&'static str]) -> &'static str {
    words[stream.below(words.len())]
}

/// Two syllables from two lists.
fn compose(stream: &mut Stream, start: &[&'static str], end: &[&'static str], out: &mut String) {
    out.push_str(pick(stream, start));
    out.push_str(pick(stream, end));
}

fn given_name(stream: &mut Stream, out: &mut String) {
    compose(stream, GIVEN_START, GIVEN_END, out)
}

fn family_name(stream: &mut Stream, out: &mut String) {
    compose(stream, FAMILY_START, FAMILY_END, out)
}

fn place(stream: &mut Stream, out: &mut String) {
    compose(stream, PLACE_START, PLACE_END, out)
}

/// `chars` base32 characters of the stream.
fn token(stream: &mut Stream, chars: usize) -> String {
    let mut bytes = vec![0u8; (chars * 5).div_ceil(8)];
    stream.fill(&mut bytes);
    base32(&bytes, chars)
}

/// Every digit becomes a digit; with `letters`, every ASCII letter a letter of the same case.
/// Everything else stays, so the value keeps its shape.
fn reshape(stream: &mut Stream, text: &str, letters: bool) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                char::from(b'0' + stream.digit())
            } else if letters && c.is_ascii_lowercase() {
                char::from(b'a' + stream.below(26) as u8)
            } else if letters && c.is_ascii_uppercase() {
                char::from(b'A' + stream.below(26) as u8)
            } else {
                c
            }
        })
        .collect()
}

/// Placeholder words, as many as the original has (at most 200).
fn sentence(stream: &mut Stream, original: &str) -> String {
    let count = original.split_whitespace().count().clamp(1, 200);
    let mut words: Vec<String> = (0..count)
        .map(|_| pick(stream, LOREM).to_string())
        .collect();
    if let Some(first) = words.first_mut() {
        if original.chars().next().is_some_and(char::is_uppercase) {
            let mut chars = first.chars();
            if let Some(c) = chars.next() {
                *first = c.to_uppercase().chain(chars).collect();
            }
        }
    }
    let mut out = words.join(" ");
    if original.trim_end().ends_with('.') {
        out.push('.');
    }
    out
}

/// An address in a private range of the original's family, with the original's prefix
/// length: `10.x.y.z` for IPv4, `fdxx:…` (unique local) for IPv6.
fn ip(stream: &mut Stream, original: &str) -> String {
    let (address, prefix) = match original.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (original, None),
    };
    let mut out = if address.contains(':') {
        let mut groups = vec![format!("fd{:02x}", stream.below(256))];
        groups.extend((0..7).map(|_| format!("{:x}", stream.below(65_536))));
        groups.join(":")
    } else {
        format!(
            "10.{}.{}.{}",
            stream.below(256),
            stream.below(256),
            stream.below(256)
        )
    };
    if let Some(prefix) = prefix {
        out.push('/');
        out.push_str(prefix);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from_bytes(b"a key for the fake tests, long enough").unwrap()
    }

    #[test]
    fn fakes_are_deterministic_and_depend_on_the_original() {
        let key = key();
        let a = fake(FakeKind::Email, &key, b"mary.smith@sakilacustomer.org");
        assert_eq!(
            a,
            fake(FakeKind::Email, &key, b"mary.smith@sakilacustomer.org")
        );
        assert_ne!(
            a,
            fake(
                FakeKind::Email,
                &key,
                b"patricia.johnson@sakilacustomer.org"
            )
        );
        let (local, domain) = a.split_once('@').unwrap();
        assert!(domain.starts_with("example."), "{a}");
        assert_eq!(local.split('.').count(), 3, "{a}");
        assert!(a.is_ascii() && !a.contains(' '));
    }

    #[test]
    fn emails_and_user_names_stay_unique() {
        let key = key();
        let mut emails = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for i in 0..20_000 {
            let original = format!("user{i}@example.com");
            assert!(emails.insert(fake(FakeKind::Email, &key, original.as_bytes())));
            assert!(names.insert(fake(FakeKind::Username, &key, original.as_bytes())));
        }
    }

    #[test]
    fn shapes_are_kept() {
        let key = key();
        let phone = fake(FakeKind::Phone, &key, b"+1 (555) 123-4567");
        assert_eq!(phone.len(), "+1 (555) 123-4567".len());
        assert!(phone.starts_with("+") && phone.contains(" (") && phone.contains(')'));
        let code = fake(FakeKind::PostalCode, &key, b"SW1A 1AA");
        assert!(code.chars().zip("SW1A 1AA".chars()).all(|(a, b)| {
            a.is_ascii_uppercase() == b.is_ascii_uppercase()
                && a.is_ascii_digit() == b.is_ascii_digit()
        }));
        let ip = fake(FakeKind::Ip, &key, b"192.168.1.20/24");
        assert!(ip.starts_with("10.") && ip.ends_with("/24"), "{ip}");
        assert!(fake(FakeKind::Ip, &key, b"2001:db8::1").starts_with("fd"));
        let text = fake(FakeKind::Text, &key, b"A Epic Drama of a Feminist.");
        assert_eq!(text.split(' ').count(), 6);
        assert!(text.ends_with('.') && text.starts_with(char::is_uppercase));
    }
}
