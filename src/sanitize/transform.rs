//! Masking one value: a transform applied to one decoded field, with output that fits the
//! column's type.
//!
//! `hash` gives a 128-bit hex token for text (cut to the column's length), a keyed
//! permutation for integers (a bijection of the type's range: distinct inputs stay distinct,
//! so unique integer columns stay unique and foreign keys still match), a uuid for a uuid
//! (version 8, 122 bits of the keyed hash) and 32 bytes for a byte string. Errors never quote
//! the value: it may be the very data being protected.

use super::column::ColumnType;
use super::copytext::{self, Output, TextForm};
use super::fake::fake;
use super::key::{hex, Key};
use super::noise;
use super::rules::{Fixed, JsonAction, Spread, Transform};

type Json = serde_json::Value;

/// A column's transform, ready to apply.
#[derive(Debug, Clone)]
pub struct ColumnMask {
    pub transform: Transform,
    pub column_type: ColumnType,
    pub form: TextForm,
}

impl ColumnMask {
    fn sqlite(&self) -> bool {
        matches!(self.form, TextForm::Sqlite { .. })
    }

    /// The masked form of a raw COPY field, or `None` to keep it as it is.
    pub fn apply(&self, key: &Key, raw: &[u8]) -> Result<Option<Output>, String> {
        match &self.transform {
            Transform::Keep | Transform::Shuffle { .. } => return Ok(None),
            Transform::Null => return Ok(Some(Output::Null)),
            Transform::Fixed(value) => return Ok(Some(self.fixed(value))),
            _ => {}
        }
        if copytext::is_null(raw) {
            return Ok(None);
        }
        let field = copytext::decode(raw);
        if field.bytes.is_empty() && matches!(self.transform, Transform::Hash | Transform::Fake(_))
        {
            // An empty value hides nothing, and stays recognizably empty.
            return Ok(None);
        }
        let value = Class::classify(&field, &self.column_type, self.sqlite());
        let output = match &self.transform {
            Transform::Hash => self.hash(key, &value)?,
            Transform::Fake(kind) => {
                let text = fake(*kind, key, value.bytes());
                Output::Text(self.fit(text))
            }
            Transform::Range(spread) => self.range(key, &value, *spread)?,
            Transform::Json(paths) => match json(key, value.bytes(), paths)? {
                Some(document) => Output::Text(document),
                None => return Ok(None),
            },
            Transform::Keep | Transform::Null | Transform::Fixed(_) | Transform::Shuffle { .. } => {
                return Ok(None)
            }
        };
        Ok(Some(output))
    }

    fn fixed(&self, value: &Fixed) -> Output {
        match value {
            Fixed::Text(s) => Output::Text(s.clone()),
            Fixed::Integer(i) => Output::Literal(i.to_string()),
            Fixed::Float(f) => Output::Literal(format!("{f:?}")),
            Fixed::Bool(b) => Output::Literal(
                match (self.sqlite(), b) {
                    (true, true) => "1",
                    (true, false) => "0",
                    (false, true) => "t",
                    (false, false) => "f",
                }
                .into(),
            ),
            Fixed::Json(v) => Output::Text(v.to_string()),
        }
    }

    /// Text cut to the column's length.
    fn fit(&self, text: String) -> String {
        match self.column_type {
            ColumnType::Text {
                max_chars: Some(max),
            } if text.chars().count() > max => text.chars().take(max).collect(),
            _ => text,
        }
    }

    fn hash(&self, key: &Key, value: &Class<'_>) -> Result<Output, String> {
        Ok(match (value, &self.column_type) {
            (Class::Integer(i), ColumnType::Integer { bits }) => {
                Output::Literal(key.permute(*i, bits - 1).to_string())
            }
            (Class::Integer(i), _) => Output::Literal(key.permute(*i, 63).to_string()),
            (Class::Blob(bytes), _) => Output::Bytes(key.token(bytes).to_vec()),
            (Class::Text(bytes), ColumnType::Uuid) => {
                Output::Literal(uuid(&key.token(&bytes.to_ascii_lowercase())))
            }
            (Class::Text(_), ColumnType::Integer { .. }) if !self.sqlite() => {
                return Err("not an integer".into())
            }
            (Class::Text(bytes), _) | (Class::Real(bytes), _) => {
                Output::Text(self.fit(hex(&key.token(bytes)[..16])))
            }
        })
    }

    fn range(&self, key: &Key, value: &Class<'_>, spread: Spread) -> Result<Output, String> {
        let seed = key.noise(value.bytes());
        let text = std::str::from_utf8(value.bytes()).map_err(|_| "not valid UTF-8")?;
        let amount = match spread {
            Spread::Number(n) => n,
            Spread::Seconds(s) => s as f64,
        };
        Ok(match (&self.column_type, value, spread) {
            (ColumnType::Date, _, Spread::Seconds(s)) => Output::Text(noise::date(text, s, seed)?),
            (
                ColumnType::Timestamp | ColumnType::Dynamic | ColumnType::Text { .. },
                Class::Text(_),
                Spread::Seconds(s),
            ) => Output::Text(noise::timestamp(text, s, seed)?),
            (ColumnType::Integer { bits }, Class::Integer(i), _) => {
                Output::Literal(noise::integer(*i, amount, *bits, seed).to_string())
            }
            (_, Class::Integer(i), _) => {
                Output::Literal(noise::integer(*i, amount, 64, seed).to_string())
            }
            (ColumnType::Decimal { precision, .. }, _, Spread::Number(n)) => {
                Output::Literal(noise::decimal(text, n, *precision, seed)?)
            }
            (_, Class::Real(_), Spread::Number(n))
            | (ColumnType::Float, Class::Text(_), Spread::Number(n)) => {
                let number: f64 = match text {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    _ => text.parse().map_err(|_| "not a number")?,
                };
                let moved = noise::float(number, n, seed);
                Output::Literal(match moved {
                    m if m.is_nan() => "NaN".into(),
                    m if m == f64::INFINITY => "Infinity".into(),
                    m if m == f64::NEG_INFINITY => "-Infinity".into(),
                    m => format!("{m:?}"),
                })
            }
            _ => {
                return Err(format!(
                    "range cannot move this {} value",
                    self.column_type.describe()
                ))
            }
        })
    }
}

/// A field's value with its storage class, as far as masking needs it.
enum Class<'a> {
    Integer(i64),
    /// A number with a fraction or exponent (its text).
    Real(&'a [u8]),
    Blob(Vec<u8>),
    Text(&'a [u8]),
}

impl<'a> Class<'a> {
    /// PostgreSQL fields take their class from the column's type; SQLite fields from their
    /// form (a column may hold any class), except that a marked field is always text.
    fn classify(field: &'a copytext::Field, column_type: &ColumnType, sqlite: bool) -> Class<'a> {
        let bytes: &[u8] = &field.bytes;
        let integer = || std::str::from_utf8(bytes).ok()?.parse::<i64>().ok();
        if !sqlite {
            return match column_type {
                ColumnType::Integer { .. } => integer().map_or(Class::Text(bytes), Class::Integer),
                ColumnType::Bytes => {
                    copytext::hex_bytes(bytes).map_or(Class::Text(bytes), Class::Blob)
                }
                ColumnType::Decimal { .. } | ColumnType::Float => Class::Real(bytes),
                _ => Class::Text(bytes),
            };
        }
        if field.marked_text || matches!(column_type, ColumnType::Text { .. }) {
            return Class::Text(bytes);
        }
        if let Some(blob) = copytext::hex_bytes(bytes) {
            return Class::Blob(blob);
        }
        if let Some(i) = integer().filter(|i| i.to_string().as_bytes() == bytes) {
            return Class::Integer(i);
        }
        let real = std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .is_some();
        if real
            && bytes
                .first()
                .is_some_and(|b| b.is_ascii_digit() || *b == b'-')
        {
            return Class::Real(bytes);
        }
        Class::Text(bytes)
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Class::Integer(_) => b"",
            Class::Real(b) | Class::Text(b) => b,
            Class::Blob(b) => b,
        }
    }
}

/// A version-8 uuid from 16 bytes of a keyed hash.
fn uuid(hash: &[u8; 32]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Applies JSON path rules to a document; `None` when no path matched (the document is
/// then written exactly as it was).
fn json(
    key: &Key,
    document: &[u8],
    paths: &[(super::json::JsonPath, JsonAction)],
) -> Result<Option<String>, String> {
    let mut doc: Json = serde_json::from_slice(document).map_err(|_| "not valid JSON")?;
    let mut changed = false;
    for (path, action) in paths {
        changed |= path.apply(&mut doc, &mut |node| match action {
            JsonAction::Remove => Ok(true),
            JsonAction::Mask(transform) => {
                mask_json(key, node, transform).map_err(|e| format!("at {path}: {e}"))?;
                Ok(false)
            }
        })?;
    }
    // `to_string` of the crate, not `Display`: several times faster, and the same text.
    Ok(changed
        .then(|| serde_json::to_string(&doc))
        .transpose()
        .map_err(|_| "cannot write the masked document")?)
}

/// Masks one value inside a JSON document. JSON `null` stays null (except for `fixed`).
fn mask_json(key: &Key, node: &mut Json, transform: &Transform) -> Result<(), String> {
    if node.is_null() && !matches!(transform, Transform::Fixed(_)) {
        return Ok(());
    }
    let scalar_text = |node: &Json| -> Result<String, String> {
        match node {
            Json::String(s) => Ok(s.clone()),
            Json::Number(n) => Ok(n.to_string()),
            Json::Bool(b) => Ok(b.to_string()),
            _ => Err(format!(
                "{} applies to strings, numbers and booleans, not to an object or array",
                transform.describe()
            )),
        }
    };
    *node = match transform {
        Transform::Keep | Transform::Shuffle { .. } | Transform::Json(_) => return Ok(()),
        Transform::Null => Json::Null,
        Transform::Fixed(value) => match value {
            Fixed::Text(s) => Json::String(s.clone()),
            Fixed::Integer(i) => Json::from(*i),
            Fixed::Float(f) => Json::from(*f),
            Fixed::Bool(b) => Json::Bool(*b),
            Fixed::Json(v) => v.clone(),
        },
        Transform::Hash => match node.as_i64() {
            Some(i) => Json::from(key.permute(i, 63)),
            None => Json::String(hex(&key.token(scalar_text(node)?.as_bytes())[..16])),
        },
        Transform::Fake(kind) => {
            let made = fake(*kind, key, scalar_text(node)?.as_bytes());
            match (node.is_number(), made.parse::<i64>()) {
                (true, Ok(n)) => Json::from(n),
                _ => Json::String(made),
            }
        }
        Transform::Range(spread) => {
            let text = scalar_text(node)?;
            let seed = key.noise(text.as_bytes());
            match (&*node, spread) {
                (Json::Number(n), _) => {
                    let amount = match spread {
                        Spread::Number(a) => *a,
                        Spread::Seconds(s) => *s as f64,
                    };
                    match n.as_i64() {
                        Some(i) => Json::from(noise::integer(i, amount, 64, seed)),
                        None => Json::from(noise::float(n.as_f64().unwrap_or(0.0), amount, seed)),
                    }
                }
                (Json::String(s), Spread::Seconds(secs)) => {
                    Json::String(noise::timestamp(s, *secs, seed)?)
                }
                _ => {
                    return Err("range applies to numbers, and to ISO dates with a duration".into())
                }
            }
        }
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitize::json::JsonPath;
    use crate::sanitize::rules::FakeKind;

    fn key() -> Key {
        Key::from_bytes(b"transform tests need a long key").unwrap()
    }

    fn mask(transform: Transform, column_type: ColumnType, raw: &str) -> Option<Output> {
        ColumnMask {
            transform,
            column_type,
            form: TextForm::Plain,
        }
        .apply(&key(), raw.as_bytes())
        .unwrap()
    }

    #[test]
    fn hashes_fit_the_column_type() {
        let text = mask(
            Transform::Hash,
            ColumnType::Text { max_chars: None },
            "MARY",
        );
        let Some(Output::Text(token)) = text else {
            panic!("{text:?}")
        };
        assert_eq!(token.len(), 32);
        let short = mask(
            Transform::Hash,
            ColumnType::Text { max_chars: Some(8) },
            "MARY",
        );
        assert!(matches!(short, Some(Output::Text(t)) if t.len() == 8 && token.starts_with(&t)));
        let Some(Output::Literal(n)) =
            mask(Transform::Hash, ColumnType::Integer { bits: 16 }, "42")
        else {
            panic!()
        };
        let n: i64 = n.parse().unwrap();
        assert!((0..=i64::from(i16::MAX)).contains(&n));
        let Some(Output::Literal(u)) = mask(
            Transform::Hash,
            ColumnType::Uuid,
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        ) else {
            panic!()
        };
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "8");
        let Some(Output::Bytes(b)) = mask(Transform::Hash, ColumnType::Bytes, "\\\\x0102") else {
            panic!()
        };
        assert_eq!(b.len(), 32);
        assert_eq!(
            mask(Transform::Hash, ColumnType::Text { max_chars: None }, "\\N"),
            None
        );
    }

    #[test]
    fn json_paths_mask_inside_documents() {
        let paths = vec![
            (
                JsonPath::parse("$.phone").unwrap(),
                JsonAction::Mask(Transform::Fake(FakeKind::Phone)),
            ),
            (JsonPath::parse("$.ssn").unwrap(), JsonAction::Remove),
            (
                JsonPath::parse("$..email").unwrap(),
                JsonAction::Mask(Transform::Hash),
            ),
        ];
        let out = mask(
            Transform::Json(paths.clone()),
            ColumnType::Json,
            r#"{"phone": "555-1234", "ssn": "123-45-6789", "kids": [{"email": "a@b.c"}], "n": 1}"#,
        );
        let Some(Output::Text(doc)) = out else {
            panic!("{out:?}")
        };
        let doc: Json = serde_json::from_str(&doc).unwrap();
        assert!(doc.get("ssn").is_none());
        assert_ne!(doc["phone"], "555-1234");
        assert_eq!(doc["phone"].as_str().unwrap().len(), 8);
        assert_eq!(doc["kids"][0]["email"].as_str().unwrap().len(), 32);
        assert_eq!(doc["n"], 1);
        assert_eq!(
            mask(Transform::Json(paths), ColumnType::Json, r#"{"other": 1}"#),
            None
        );
    }

    #[test]
    fn errors_never_quote_the_value() {
        let err = ColumnMask {
            transform: Transform::Json(vec![]),
            column_type: ColumnType::Json,
            form: TextForm::Plain,
        }
        .apply(&key(), b"secret-not-json")
        .unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }
}
