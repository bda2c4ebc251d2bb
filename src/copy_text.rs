//! PostgreSQL's COPY text format, one field at a time: the row stream format of every backup,
//! whichever the engine (see `engine::sqlite::data` for how SQLite's storage classes ride on
//! it). Decoding follows PostgreSQL's COPY input rules; encoding writes the escapes COPY
//! output uses.

/// Appends `text` escaped for a COPY text field: backslash, tab, newline and carriage return
/// as COPY writes them, and NUL (which only SQLite text can hold) as `\000`.
pub fn escape(out: &mut Vec<u8>, text: &[u8]) {
    if !text
        .iter()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r' | 0))
    {
        out.extend_from_slice(text);
        return;
    }
    for &b in text {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => out.extend_from_slice(b"\\000"),
            _ => out.push(b),
        }
    }
}

/// Appends what the COPY text escape `\\next` stands for (`raw[*i..]` holds what follows
/// `next`, consumed as far as an octal or hex escape reaches): `\b \f \n \r \t \v`, `\ooo`,
/// `\xhh`; any other escaped character stands for itself.
pub fn decode_escape(next: u8, raw: &[u8], i: &mut usize, out: &mut Vec<u8>) {
    match next {
        b'b' => out.push(8),
        b'f' => out.push(12),
        b'n' => out.push(b'\n'),
        b'r' => out.push(b'\r'),
        b't' => out.push(b'\t'),
        b'v' => out.push(11),
        b'0'..=b'7' => {
            let mut value = u32::from(next - b'0');
            for _ in 0..2 {
                match raw.get(*i) {
                    Some(&d @ b'0'..=b'7') => {
                        value = value * 8 + u32::from(d - b'0');
                        *i += 1;
                    }
                    _ => break,
                }
            }
            out.push((value & 0xff) as u8);
        }
        b'x' => match raw.get(*i).and_then(|&h| hex_value(h)) {
            Some(high) => {
                *i += 1;
                match raw.get(*i).and_then(|&h| hex_value(h)) {
                    Some(low) => {
                        *i += 1;
                        out.push(high * 16 + low);
                    }
                    None => out.push(high),
                }
            }
            None => out.push(b'x'),
        },
        other => out.push(other),
    }
}

pub fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
