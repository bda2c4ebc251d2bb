//! SQLite time strings → PostgreSQL date and time input, for the rows of a cross-engine
//! restore.
//!
//! SQLite has no date type: dates are text its date functions read
//! (<https://sqlite.org/lang_datefunc.html#time_values>): `YYYY-MM-DD`, optionally followed by
//! ` ` or `T` and `HH:MM[:SS[.fff]]`, or a time alone, optionally followed by `Z` or
//! `±HH:MM`. SQLite's clock and its functions work in UTC, so a time without a zone is UTC.
//! Anything else is refused with the value shown, rather than guessed.

use super::types::ValueKind;

/// The parts of a time string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimeString<'a> {
    date: Option<&'a str>,
    time: Option<&'a str>,
    /// `Z` or `±HH:MM`.
    zone: Option<&'a str>,
}

/// The value to load into a column of `kind` (a date/time kind), or why it cannot be.
pub fn adapt(text: &str, kind: ValueKind) -> Result<String, String> {
    let trimmed = text.trim();
    let parts = parse(trimmed).ok_or_else(|| {
        format!(
            "text {text:?} is not a date/time SQLite's date functions read (YYYY-MM-DD \
             HH:MM:SS)"
        )
    })?;
    let utc = parts.zone.is_none_or(|z| z.eq_ignore_ascii_case("Z"));
    match (kind, parts) {
        (
            ValueKind::Date,
            TimeString {
                date: Some(date),
                time,
                zone: None,
            },
        ) if time.is_none_or(is_midnight) => Ok(date.to_string()),
        (ValueKind::Date, _) => Err(format!(
            "{text:?} has a time of day, and the column becomes date — declare it DATETIME in \
             the schema file to keep it"
        )),
        (ValueKind::Timestamp, TimeString { date: Some(_), .. }) if utc => {
            Ok(without_zone(trimmed, parts))
        }
        (ValueKind::Timestamp, TimeString { date: Some(_), .. }) => Err(format!(
            "{text:?} has a time zone offset that timestamp without time zone would drop — \
             declare the column TIMESTAMPTZ in the schema file"
        )),
        (ValueKind::TimestampTz, TimeString { date: Some(_), .. }) if utc => {
            Ok(format!("{}+00", without_zone(trimmed, parts)))
        }
        (ValueKind::TimestampTz, TimeString { date: Some(_), .. }) => Ok(trimmed.to_string()),
        (
            ValueKind::Time,
            TimeString {
                date: None,
                time: Some(time),
                zone: None,
            },
        ) => Ok(time.to_string()),
        (ValueKind::Time, _) => Err(format!("{text:?} is not a time of day (HH:MM:SS)")),
        _ => Err(format!("{text:?} has no date")),
    }
}

fn without_zone(text: &str, parts: TimeString<'_>) -> String {
    match parts.zone {
        Some(zone) => text[..text.len() - zone.len()].to_string(),
        None => text.to_string(),
    }
}

fn is_midnight(time: &str) -> bool {
    time.bytes().all(|b| matches!(b, b'0' | b':' | b'.'))
}

fn parse(text: &str) -> Option<TimeString<'_>> {
    let (date, rest) = match text.get(..10) {
        Some(date) if is_date(date) => (Some(date), &text[10..]),
        _ => (None, text),
    };
    let rest = match (date, rest.as_bytes().first()) {
        (Some(_), None) => {
            return Some(TimeString {
                date,
                time: None,
                zone: None,
            })
        }
        (Some(_), Some(b' ' | b'T' | b't')) => &rest[1..],
        (Some(_), Some(_)) => return None,
        (None, _) => rest,
    };
    let (time, zone) = split_zone(rest);
    if !is_time(time) {
        return None;
    }
    Some(TimeString {
        date,
        time: Some(time),
        zone,
    })
}

/// `HH:MM…` and its zone suffix (`Z`, `±HH:MM`), if any.
fn split_zone(text: &str) -> (&str, Option<&str>) {
    if let Some(time) = text.strip_suffix(['Z', 'z']) {
        return (time.trim_end(), Some(&text[text.len() - 1..]));
    }
    if text.len() > 6 {
        let (time, zone) = text.split_at(text.len() - 6);
        let z = zone.as_bytes();
        if matches!(z[0], b'+' | b'-')
            && is_digits(&zone[1..3])
            && z[3] == b':'
            && is_digits(&zone[4..])
        {
            return (time.trim_end(), Some(zone));
        }
    }
    (text, None)
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY-MM-DD` with a plausible month and day (the server checks the rest).
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && is_digits(&s[..4])
        && b[4] == b'-'
        && is_digits(&s[5..7])
        && b[7] == b'-'
        && is_digits(&s[8..])
        && (1..=12).contains(&s[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&s[8..].parse::<u32>().unwrap_or(0))
}

/// `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff…`.
fn is_time(s: &str) -> bool {
    let (clock, fraction) = match s.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (s, None),
    };
    let fields: Vec<&str> = clock.split(':').collect();
    let valid_fields = match fields.as_slice() {
        [h, m] => fraction.is_none() && two_digits(h, 24) && two_digits(m, 59),
        [h, m, sec] => two_digits(h, 24) && two_digits(m, 59) && two_digits(sec, 60),
        _ => false,
    };
    valid_fields && fraction.is_none_or(is_digits)
}

fn two_digits(s: &str, max: u32) -> bool {
    s.len() == 2 && is_digits(s) && s.parse::<u32>().is_ok_and(|v| v <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_time_strings_load_as_postgres_values() {
        let ts = ValueKind::Timestamp;
        assert_eq!(
            adapt("2009-01-01 00:00:00", ts).unwrap(),
            "2009-01-01 00:00:00"
        );
        assert_eq!(adapt("2009-01-01T10:20", ts).unwrap(), "2009-01-01T10:20");
        assert_eq!(
            adapt("2009-01-01 10:20:30.123Z", ts).unwrap(),
            "2009-01-01 10:20:30.123"
        );
        assert_eq!(adapt("2009-01-01", ts).unwrap(), "2009-01-01");
        assert!(adapt("2009-01-01 10:00+02:00", ts).is_err());
        let tz = ValueKind::TimestampTz;
        assert_eq!(
            adapt("2009-01-01 10:00:00", tz).unwrap(),
            "2009-01-01 10:00:00+00"
        );
        assert_eq!(
            adapt("2009-01-01 10:00+02:00", tz).unwrap(),
            "2009-01-01 10:00+02:00"
        );
        assert_eq!(
            adapt("2009-01-01 10:00Z", tz).unwrap(),
            "2009-01-01 10:00+00"
        );
        let date = ValueKind::Date;
        assert_eq!(adapt("1962-02-18 00:00:00", date).unwrap(), "1962-02-18");
        assert!(adapt("1962-02-18 10:00:00", date).is_err());
        assert_eq!(adapt("10:20:30", ValueKind::Time).unwrap(), "10:20:30");
        for bad in [
            "yesterday",
            "2009-13-01",
            "2009-01-01 25:00",
            "1700000000",
            "now",
            "10:20",
        ] {
            assert!(adapt(bad, ts).is_err(), "{bad}");
        }
    }
}
