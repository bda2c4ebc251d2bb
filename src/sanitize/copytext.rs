//! One field of PostgreSQL COPY text, in and out: the stream format both engines use for rows
//! (see the `//!` of `engine::sqlite::data` for how SQLite's storage classes ride on it).
//!
//! Decoding follows PostgreSQL's COPY input rules (`\b \f \n \r \t \v \\`, `\ooo` octal, `\xhh`
//! hex, any other escaped character stands for itself, `\N` alone is NULL). Encoding writes
//! what a masked value needs: text escaped, numbers as they are, bytes as `\\x` hex, and — for a
//! SQLite column — text that would read back as a number or a blob marked the way the SQLite
//! loader expects.

use rusqlite::types::ValueRef;

use crate::copy_text::{decode_escape, escape, hex_value};

/// A decoded field (borrowing the raw field when it has no escapes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    pub bytes: std::borrow::Cow<'a, [u8]>,
    /// The raw field began with an octal escape: SQLite's marker for "text, whatever it reads
    /// like".
    pub marked_text: bool,
}

/// Whether a raw field is NULL.
pub fn is_null(raw: &[u8]) -> bool {
    raw == b"\\N"
}

/// Decodes a raw (non-NULL) field.
pub fn decode(raw: &[u8]) -> Field<'_> {
    let marked_text = raw.len() >= 2 && raw[0] == b'\\' && (b'0'..=b'7').contains(&raw[1]);
    if !raw.contains(&b'\\') {
        return Field {
            bytes: std::borrow::Cow::Borrowed(raw),
            marked_text,
        };
    }
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' || i + 1 >= raw.len() {
            bytes.push(b);
            i += 1;
            continue;
        }
        let next = raw[i + 1];
        i += 2;
        decode_escape(next, raw, &mut i, &mut bytes);
    }
    Field {
        bytes: std::borrow::Cow::Owned(bytes),
        marked_text,
    }
}

/// A masked value, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Null,
    /// Written as it is: a number, a boolean literal (never needs escaping).
    Literal(String),
    Text(String),
    /// A byte string (`bytea`, a SQLite BLOB).
    Bytes(Vec<u8>),
}

/// How text is written into the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextForm {
    /// PostgreSQL: plain COPY escaping.
    Plain,
    /// SQLite: the column's TEXT affinity decides which texts need the marker.
    Sqlite { text_affinity: bool },
}

/// Appends `value` in COPY text form.
pub fn encode(out: &mut Vec<u8>, value: &Output, form: TextForm) {
    match value {
        Output::Null => out.extend_from_slice(b"\\N"),
        Output::Literal(s) => out.extend_from_slice(s.as_bytes()),
        Output::Text(s) => match form {
            TextForm::Plain => escape(out, s.as_bytes()),
            TextForm::Sqlite { text_affinity } => crate::engine::sqlite::data::write_value(
                out,
                ValueRef::Text(s.as_bytes()),
                text_affinity,
            ),
        },
        Output::Bytes(bytes) => {
            out.extend_from_slice(b"\\\\x");
            out.extend_from_slice(super::key::hex(bytes).as_bytes());
        }
    }
}

/// The bytes of a `bytea` / BLOB field in its `\x` hex form, if it is one.
pub fn hex_bytes(text: &[u8]) -> Option<Vec<u8>> {
    let digits = text.strip_prefix(b"\\x")?;
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|p| Some(hex_value(p[0])? * 16 + hex_value(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_as_postgresql_reads_them() {
        assert_eq!(&*decode(b"a\\tb\\\\c\\nd").bytes, b"a\tb\\c\nd");
        assert_eq!(&*decode(b"\\0642").bytes, b"42");
        assert!(decode(b"\\0642").marked_text);
        assert_eq!(&*decode(b"\\x41\\q").bytes, b"Aq");
        assert!(is_null(b"\\N"));
        assert_eq!(hex_bytes(b"\\x00ff"), Some(vec![0, 255]));
    }

    #[test]
    fn encoding_round_trips_text() {
        let text = "tab\there\\ and\nnewline";
        let mut out = Vec::new();
        encode(&mut out, &Output::Text(text.into()), TextForm::Plain);
        assert_eq!(&*decode(&out).bytes, text.as_bytes());
        out.clear();
        // In a SQLite column without TEXT affinity, a numeric-looking text keeps its class.
        encode(
            &mut out,
            &Output::Text("42".into()),
            TextForm::Sqlite {
                text_affinity: false,
            },
        );
        assert_eq!(out, b"\\0642");
        out.clear();
        encode(&mut out, &Output::Bytes(vec![1, 171]), TextForm::Plain);
        assert_eq!(out, b"\\\\x01ab");
    }
}
