//! What changing a column from one type to another costs in PostgreSQL: whether the table is
//! rewritten, whether values can be lost (narrowing), whether the cast can fail.
//!
//! Types are compared as `format_type` spells them (`character varying(45)`, `numeric(5,2)`,
//! `integer[]`). Unknown pairs are assumed to rewrite and possibly fail.

/// The cost of one type change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TypeChange {
    /// The table is rewritten (not binary-coercible).
    pub rewrite: bool,
    /// Values may not fit (shorter length, smaller range, fewer digits).
    pub narrowing: bool,
    /// The conversion may fail on some values (text to number, …).
    pub may_fail: bool,
}

/// Splits `name(modifiers)` into the name and the numeric modifiers.
fn parse(t: &str) -> (&str, Vec<i64>) {
    match t.split_once('(') {
        Some((name, rest)) => {
            let mods = rest
                .trim_end_matches(')')
                .split(',')
                .filter_map(|m| m.trim().parse().ok())
                .collect();
            (name.trim(), mods)
        }
        None => (t.trim(), vec![]),
    }
}

fn integer_rank(name: &str) -> Option<u8> {
    match name {
        "smallint" => Some(1),
        "integer" => Some(2),
        "bigint" => Some(3),
        _ => None,
    }
}

fn is_text_like(name: &str) -> bool {
    matches!(name, "text" | "character varying")
}

pub fn classify_type_change(from: &str, to: &str) -> TypeChange {
    if from == to {
        return TypeChange::default();
    }
    if from.ends_with("[]") != to.ends_with("[]") {
        return TypeChange {
            rewrite: true,
            narrowing: false,
            may_fail: true,
        };
    }
    let (from_name, from_mods) = parse(from.trim_end_matches("[]"));
    let (to_name, to_mods) = parse(to.trim_end_matches("[]"));
    let no_rewrite = TypeChange::default();
    let rewrite = TypeChange {
        rewrite: true,
        ..TypeChange::default()
    };
    let narrowing = TypeChange {
        rewrite: true,
        narrowing: true,
        may_fail: true,
    };
    match (from_name, to_name) {
        ("character varying", "character varying") => match (from_mods.first(), to_mods.first()) {
            (Some(a), Some(b)) if b >= a => no_rewrite,
            (Some(_), None) => no_rewrite,
            (None, None) => no_rewrite,
            _ => TypeChange {
                rewrite: false,
                ..narrowing
            },
        },
        ("character varying", "text") => no_rewrite,
        ("text", "character varying") if to_mods.is_empty() => no_rewrite,
        ("text", "character varying") => TypeChange {
            rewrite: false,
            ..narrowing
        },
        ("numeric", "numeric") => match (from_mods.as_slice(), to_mods.as_slice()) {
            (_, []) => no_rewrite,
            ([p1], [p2]) | ([p1, 0], [p2]) | ([p1], [p2, 0]) if p2 >= p1 => no_rewrite,
            ([p1, s1], [p2, s2]) if s2 == s1 && p2 >= p1 => no_rewrite,
            ([p1, s1], [p2, s2]) if s2 >= s1 && p2 - s2 >= p1 - s1 => rewrite,
            _ => narrowing,
        },
        (a, b) if integer_rank(a).is_some() && integer_rank(b).is_some() => {
            if integer_rank(b) > integer_rank(a) {
                rewrite
            } else {
                narrowing
            }
        }
        (a, "numeric") if integer_rank(a).is_some() => rewrite,
        ("numeric", b) if integer_rank(b).is_some() => narrowing,
        ("real", "double precision") => rewrite,
        ("double precision", "real") => narrowing,
        (a, "double precision") if integer_rank(a).is_some() => rewrite,
        ("timestamp without time zone", "timestamp with time zone")
        | ("timestamp with time zone", "timestamp without time zone") => rewrite,
        ("json", "jsonb") => rewrite,
        ("jsonb", "json") => rewrite,
        ("cidr", "inet") => no_rewrite,
        (_, "text") | (_, "character varying") if to_mods.is_empty() => rewrite,
        (a, _) if is_text_like(a) => TypeChange {
            rewrite: true,
            narrowing: false,
            may_fail: true,
        },
        _ => TypeChange {
            rewrite: true,
            narrowing: false,
            may_fail: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_varchar_is_free_and_narrowing_is_flagged() {
        assert!(!classify_type_change("character varying(10)", "character varying(20)").rewrite);
        assert!(classify_type_change("character varying(20)", "character varying(10)").narrowing);
        assert!(!classify_type_change("character varying(20)", "text").rewrite);
        assert!(classify_type_change("text", "character varying(5)").narrowing);
    }

    #[test]
    fn integers_widen_with_a_rewrite_and_narrow_with_a_hazard() {
        let widen = classify_type_change("integer", "bigint");
        assert!(widen.rewrite && !widen.narrowing);
        assert!(classify_type_change("bigint", "integer").narrowing);
        assert!(classify_type_change("numeric(10,2)", "numeric(5,2)").narrowing);
        assert!(!classify_type_change("numeric(5,2)", "numeric(10,2)").rewrite);
    }

    #[test]
    fn text_to_anything_may_fail() {
        assert!(classify_type_change("text", "integer").may_fail);
    }
}
