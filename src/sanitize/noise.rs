//! `range`: moving numbers, dates and timestamps by a deterministic amount within ± a spread.
//!
//! The amount comes from the keyed hash of the original value, so equal values move equally
//! (aggregates over masked data stay close to the real ones; reruns give the same data).
//! Noise never changes a number's sign — a move that would cross zero stops at zero, so
//! `CHECK (amount >= 0)` still holds — and never leaves the column's range or precision.
//! Decimals keep their number of digits after the point; timestamps keep their fraction and
//! time zone text; dates move by whole days.

use crate::repo::time::{civil_from_days, days_from_civil};

/// A signed offset in `-max..=max` chosen by `seed`.
fn offset(seed: u64, max: u128) -> i128 {
    let span = 2 * max + 1;
    (u128::from(seed) % span) as i128 - max as i128
}

/// Adds `delta` to `value` without crossing zero, then clamps to `min..=max`.
fn move_within(value: i128, delta: i128, min: i128, max: i128) -> i128 {
    let moved = value + delta;
    let moved = if (value >= 0 && moved < 0) || (value <= 0 && moved > 0) {
        0
    } else {
        moved
    };
    moved.clamp(min, max)
}

/// An integer of `bits` bits moved by up to ± `spread` (at least ±1).
pub fn integer(value: i64, spread: f64, bits: u32, seed: u64) -> i64 {
    let max_delta = (spread.round() as u128).max(1);
    let top = (1i128 << (bits - 1)) - 1;
    move_within(i128::from(value), offset(seed, max_delta), -top - 1, top) as i64
}

/// A floating-point number moved by up to ± `spread`.
pub fn float(value: f64, spread: f64, seed: u64) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let unit = (seed >> 11) as f64 / (1u64 << 53) as f64;
    let moved = value + (2.0 * unit - 1.0) * spread;
    if (value >= 0.0 && moved < 0.0) || (value <= 0.0 && moved > 0.0) {
        0.0
    } else {
        moved
    }
}

/// A decimal in text form (`-12.50`) moved by up to ± `spread`, keeping its scale and the
/// column's precision (`numeric(p,s)`: at most `p` digits).
pub fn decimal(
    text: &str,
    spread: f64,
    precision: Option<u32>,
    seed: u64,
) -> Result<String, String> {
    if matches!(text, "NaN" | "Infinity" | "-Infinity") {
        return Ok(text.to_string());
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let well_formed = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && whole.len() + fraction.len() <= 36;
    if !well_formed {
        return Err("not a plain decimal number".into());
    }
    let scale = fraction.len() as u32;
    let units = whole
        .bytes()
        .chain(fraction.bytes())
        .fold(0i128, |n, d| n * 10 + i128::from(d - b'0'));
    let units = if negative { -units } else { units };
    let max_delta = ((spread * 10f64.powi(scale as i32)).round() as u128).max(1);
    let limit = match precision {
        Some(p) if p <= 36 => 10i128.pow(p) - 1,
        _ => i128::MAX / 4,
    };
    let moved = move_within(units, offset(seed, max_delta), -limit, limit);
    let digits = moved.unsigned_abs().to_string();
    let scale = scale as usize;
    let mut out = String::with_capacity(digits.len() + 3);
    if moved < 0 {
        out.push('-');
    }
    if scale == 0 {
        out.push_str(&digits);
    } else {
        // At least one digit before the point: 5 at scale 2 is 0.05.
        let padding = (scale + 1).saturating_sub(digits.len());
        out.extend(std::iter::repeat_n('0', padding));
        out.push_str(&digits);
        out.insert(out.len() - scale, '.');
    }
    Ok(out)
}

/// A date (`YYYY-MM-DD`) moved by up to ± `spread_seconds`, in whole days (at least ±1).
pub fn date(text: &str, spread_seconds: i64, seed: u64) -> Result<String, String> {
    if matches!(text, "infinity" | "-infinity") {
        return Ok(text.to_string());
    }
    let (y, m, d) = parse_date(text).ok_or("not an ISO date (YYYY-MM-DD)")?;
    let max_days = (spread_seconds / 86_400).max(1) as u128;
    let days = days_from_civil(y, m, d) + offset(seed, max_days) as i64;
    format_date(days)
}

/// A timestamp (`YYYY-MM-DD HH:MM[:SS[.ffffff]]` with `T` or a space, and any time zone
/// suffix) moved by up to ± `spread_seconds`, in whole seconds.
pub fn timestamp(text: &str, spread_seconds: i64, seed: u64) -> Result<String, String> {
    if matches!(text, "infinity" | "-infinity") {
        return Ok(text.to_string());
    }
    let invalid = "not an ISO timestamp (YYYY-MM-DD HH:MM:SS)";
    let date_end = text.find([' ', 'T']).unwrap_or(text.len());
    let (y, m, d) = parse_date(&text[..date_end]).ok_or(invalid)?;
    if date_end == text.len() {
        // A date stored in a date-time column (SQLite): it stays a date.
        return date(text, spread_seconds, seed);
    }
    let separator = &text[date_end..date_end + 1];
    let time = &text[date_end + 1..];
    let number = |s: &str| -> Option<i64> {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let hour = number(time.get(0..2).ok_or(invalid)?).ok_or(invalid)?;
    if time.get(2..3) != Some(":") {
        return Err(invalid.into());
    }
    let minute = number(time.get(3..5).ok_or(invalid)?).ok_or(invalid)?;
    let (second, rest) = match time.get(5..6) {
        Some(":") => (
            number(time.get(6..8).ok_or(invalid)?).ok_or(invalid)?,
            &time[8..],
        ),
        _ => (0, &time[5..]),
    };
    let with_seconds = time.get(5..6) == Some(":");
    if hour > 24 || minute > 59 || second > 60 {
        return Err(invalid.into());
    }
    let seconds = days_from_civil(y, m, d) * 86_400 + hour * 3600 + minute * 60 + second;
    let moved = seconds + offset(seed, spread_seconds.max(1) as u128) as i64;
    let (days, of_day) = (moved.div_euclid(86_400), moved.rem_euclid(86_400));
    let date = format_date(days)?;
    let clock = if with_seconds {
        format!(
            "{:02}:{:02}:{:02}",
            of_day / 3600,
            of_day % 3600 / 60,
            of_day % 60
        )
    } else {
        format!("{:02}:{:02}", of_day / 3600, of_day % 3600 / 60)
    };
    // The fraction and the zone (`.123456+02`, `Z`, …) are kept as they were.
    Ok(format!("{date}{separator}{clock}{rest}"))
}

fn parse_date(text: &str) -> Option<(i64, i64, i64)> {
    let mut parts = text.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y) && y.len() >= 4 && digits(m) && m.len() == 2 && digits(d) && d.len() == 2) {
        return None;
    }
    let (y, m, d) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some((y, m, d))
}

fn format_date(days: i64) -> Result<String, String> {
    let (y, m, d) = civil_from_days(days);
    if y < 1 {
        return Err("the noise would move the date before year 1".into());
    }
    let mut out = String::with_capacity(10);
    if y < 1000 {
        out.push_str(&"000"[..4 - y.to_string().len()]);
    }
    out.push_str(&y.to_string());
    for (separator, n) in [('-', m), ('-', d)] {
        out.push(separator);
        out.push(char::from(b'0' + (n / 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_move_within_the_spread_and_keep_their_sign() {
        for seed in 0..500u64 {
            let seed = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let v = integer(100, 10.0, 32, seed);
            assert!((90..=110).contains(&v));
            assert!(integer(3, 10.0, 32, seed) >= 0);
            assert!(integer(32_760, 100.0, 16, seed) <= i64::from(i16::MAX));
            let d = decimal("2.99", 0.5, Some(4), seed).unwrap();
            let n: f64 = d.parse().unwrap();
            assert!(
                (2.49..=3.49).contains(&n) && d.split('.').nth(1).unwrap().len() == 2,
                "{d}"
            );
            assert!(
                decimal("99.99", 5.0, Some(4), seed)
                    .unwrap()
                    .parse::<f64>()
                    .unwrap()
                    <= 99.99
            );
            let f = float(-1.5, 1.0, seed);
            assert!((-2.5..=0.0).contains(&f));
        }
        assert_eq!(decimal("-0.05", 0.01, None, 0).unwrap(), "-0.06");
        assert_eq!(decimal("NaN", 1.0, None, 7).unwrap(), "NaN");
        assert!(decimal("1e5", 1.0, None, 7).is_err());
    }

    #[test]
    fn dates_and_timestamps_move_by_days_and_seconds() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        for seed in 0..200u64 {
            let seed = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let moved = date("2022-03-01", 2 * 86_400, seed).unwrap();
            assert!(
                [
                    "2022-02-27",
                    "2022-02-28",
                    "2022-03-01",
                    "2022-03-02",
                    "2022-03-03"
                ]
                .contains(&moved.as_str()),
                "{moved}"
            );
            let ts = timestamp("2022-01-24 21:40:19.996577+00", 3600, seed).unwrap();
            assert!(
                ts.ends_with(".996577+00") && ts.starts_with("2022-01-2"),
                "{ts}"
            );
        }
        assert_eq!(timestamp("infinity", 60, 1).unwrap(), "infinity");
        assert!(date("0999-06-15", 86_400, 3)
            .unwrap()
            .starts_with("0999-06-1"));
        assert!(timestamp("24/01/2022 21:40", 60, 1).is_err());
        let t = timestamp("2022-01-24T21:40Z", 60, 5).unwrap();
        assert!(
            t.starts_with("2022-01-24T21:") && t.ends_with('Z') && t.len() == 17,
            "{t}"
        );
    }
}
