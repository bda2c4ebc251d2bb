//! SQLite's type affinity: which storage class a column prefers, from its declared type
//! (<https://www.sqlite.org/datatype3.html#determination_of_column_affinity>). Backups need it
//! to encode values; a table rebuild needs it to tell whether retyping a column converts the
//! values it copies.

/// A column's affinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Affinity {
    Text,
    Numeric,
    Integer,
    Real,
    /// No conversion at all (`BLOB`, no declared type, or `ANY` in a STRICT table).
    Blob,
}

/// The affinity of a column declared as `declared_type`, in a STRICT table or not.
pub(super) fn affinity(declared_type: &str, strict: bool) -> Affinity {
    let declared = declared_type.trim().to_ascii_uppercase();
    if strict && declared == "ANY" {
        return Affinity::Blob;
    }
    let has = |part: &str| declared.contains(part);
    if has("INT") {
        Affinity::Integer
    } else if has("CHAR") || has("CLOB") || has("TEXT") {
        Affinity::Text
    } else if has("BLOB") || declared.is_empty() {
        Affinity::Blob
    } else if has("REAL") || has("FLOA") || has("DOUB") {
        Affinity::Real
    } else {
        Affinity::Numeric
    }
}

impl Affinity {
    /// Whether storing a value under this affinity can turn text into a number.
    pub(super) fn reads_numbers(self) -> bool {
        matches!(self, Affinity::Numeric | Affinity::Integer | Affinity::Real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_in_order() {
        assert_eq!(affinity("CHARINT", false), Affinity::Integer);
        assert_eq!(affinity("VARCHAR(80)", false), Affinity::Text);
        assert_eq!(affinity("", false), Affinity::Blob);
        assert_eq!(affinity("DOUBLE PRECISION", false), Affinity::Real);
        assert_eq!(affinity("FLOATING POINT", false), Affinity::Integer);
        assert_eq!(affinity("DECIMAL(10,2)", false), Affinity::Numeric);
        assert_eq!(affinity("ANY", true), Affinity::Blob);
        assert_eq!(affinity("ANY", false), Affinity::Numeric);
    }
}
