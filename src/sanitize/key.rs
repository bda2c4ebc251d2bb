//! The masking key and the keyed primitives every transform is built on.
//!
//! The key comes from `STRATA_SANITIZE_KEY` or a key file; masking refuses to run without one,
//! because an unkeyed hash of a name or an email can be reversed by hashing guesses. The key
//! bytes are stretched into one 32-byte master key with BLAKE3's key derivation, and each kind
//! of output (tokens, integer permutations, fakes, noise, shuffles) gets its own subkey, so an
//! output of one kind says nothing about another.
//!
//! Every output depends only on the key and the original value — never on the table, the
//! column or the row — so the same value masks the same way everywhere: foreign keys and
//! joins still match, and a database masked twice with the same key is identical.

use std::path::Path;

use crate::error::{Error, Result};

/// The environment variable holding the masking key.
pub const KEY_VARIABLE: &str = "STRATA_SANITIZE_KEY";

/// Shorter keys are refused: they could be found by trying keys.
const MIN_KEY_BYTES: usize = 16;

/// The secret every masked value is derived from.
#[derive(Clone)]
pub struct Key {
    token: [u8; 32],
    integer: [u8; 32],
    fake: [u8; 32],
    noise: [u8; 32],
    shuffle: [u8; 32],
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

impl Key {
    /// The key from `file` when given, else from [`KEY_VARIABLE`]; an error saying how to
    /// provide one otherwise.
    pub fn load(file: Option<&Path>) -> Result<Key> {
        let bytes = match file {
            Some(path) => {
                let mut bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
                while matches!(bytes.last(), Some(b'\n' | b'\r')) {
                    bytes.pop();
                }
                bytes
            }
            None => match std::env::var_os(KEY_VARIABLE) {
                Some(value) => value.into_encoded_bytes(),
                None => {
                    return Err(Error::Refused(format!(
                        "masking needs a secret key and none was given — set {KEY_VARIABLE} or \
                         pass --sanitize-key-file FILE (e.g. from `openssl rand -hex 32`); keep \
                         it secret, and reuse it to get the same masked values again"
                    )))
                }
            },
        };
        Key::from_bytes(&bytes)
    }

    /// A key from its secret bytes (at least 16).
    pub fn from_bytes(secret: &[u8]) -> Result<Key> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(Error::Refused(format!(
                "the masking key is {} bytes long; use at least {MIN_KEY_BYTES} random bytes \
                 (e.g. `openssl rand -hex 32`)",
                secret.len()
            )));
        }
        let master = blake3::derive_key("strata sanitize 2026-11 master key", secret);
        let sub = |purpose: &str| {
            let mut hasher = blake3::Hasher::new_derive_key(purpose);
            hasher.update(&master);
            *hasher.finalize().as_bytes()
        };
        Ok(Key {
            token: sub("strata sanitize 2026-11 token"),
            integer: sub("strata sanitize 2026-11 integer permutation"),
            fake: sub("strata sanitize 2026-11 fake"),
            noise: sub("strata sanitize 2026-11 noise"),
            shuffle: sub("strata sanitize 2026-11 shuffle"),
        })
    }

    /// The keyed hash of a value: the basis of `hash` tokens, uuids and byte strings.
    pub fn token(&self, value: &[u8]) -> [u8; 32] {
        *blake3::keyed_hash(&self.token, value).as_bytes()
    }

    /// A stream of pseudo-random numbers determined by `(kind, value)`: what a fake is drawn
    /// from.
    pub fn fake_stream(&self, kind: &str, value: &[u8]) -> Stream {
        let mut hasher = blake3::Hasher::new_keyed(&self.fake);
        hasher.update(kind.as_bytes());
        hasher.update(&[0]);
        hasher.update(value);
        Stream::new(hasher.finalize_xof())
    }

    /// A number determined by the value, for noise.
    pub fn noise(&self, value: &[u8]) -> u64 {
        let hash = blake3::keyed_hash(&self.noise, value);
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&hash.as_bytes()[..8]);
        u64::from_le_bytes(bytes)
    }

    /// A keyed hasher for a shuffle's seed (fed with the values being shuffled).
    pub fn shuffle_hasher(&self) -> blake3::Hasher {
        blake3::Hasher::new_keyed(&self.shuffle)
    }

    /// A keyed permutation of the non-negative integers below 2^`bits` (`bits` ≤ 63), extended
    /// to negative numbers by symmetry: a bijection of the whole signed `bits + 1`-bit range
    /// that keeps the sign. Being a bijection, distinct inputs give distinct outputs, which
    /// is how hashed integer keys stay unique.
    pub fn permute(&self, value: i64, bits: u32) -> i64 {
        if value < 0 {
            // -1 → 0, -2 → 1, …: the negative half mirrors the non-negative one.
            let mirrored = !value;
            return !(self.permute_unsigned(mirrored as u64, bits) as i64);
        }
        self.permute_unsigned(value as u64, bits) as i64
    }

    /// A Feistel network over `bits + 1` bits (an even width, two equal halves), walked in
    /// cycles until the result falls below 2^`bits`: a permutation of `0..2^bits`.
    fn permute_unsigned(&self, value: u64, bits: u32) -> u64 {
        let width = bits + 1;
        let half = width / 2;
        let mask = if half >= 64 {
            u64::MAX
        } else {
            (1u64 << half) - 1
        };
        let limit = 1u128 << bits;
        let mut x = value;
        loop {
            let (mut left, mut right) = (x >> half, x & mask);
            for round in 0..4u8 {
                let mut input = [0u8; 10];
                input[0] = width as u8;
                input[1] = round;
                input[2..].copy_from_slice(&right.to_le_bytes());
                let hash = blake3::keyed_hash(&self.integer, &input);
                let mut f = [0u8; 8];
                f.copy_from_slice(&hash.as_bytes()[..8]);
                let next = left ^ (u64::from_le_bytes(f) & mask);
                left = right;
                right = next;
            }
            x = (left << half) | right;
            // Cycle walking: the network permutes 0..2^width; applying it again until the
            // value is back in 0..2^bits gives a permutation of that smaller range.
            if u128::from(x) < limit {
                return x;
            }
        }
    }
}

/// Pseudo-random numbers read from a keyed BLAKE3 output stream, 32 bytes at a time: one
/// compression, which is all most fakes need (picks take two bytes, digits one).
pub struct Stream {
    reader: blake3::OutputReader,
    block: [u8; 32],
    used: usize,
}

impl Stream {
    fn new(reader: blake3::OutputReader) -> Stream {
        Stream {
            reader,
            block: [0; 32],
            used: 32,
        }
    }

    /// The output stream of a hasher fed with a seed.
    pub fn from_hasher(hasher: &blake3::Hasher) -> Stream {
        Stream::new(hasher.finalize_xof())
    }

    fn byte(&mut self) -> u8 {
        if self.used == self.block.len() {
            self.reader.fill(&mut self.block);
            self.used = 0;
        }
        self.used += 1;
        self.block[self.used - 1]
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        self.fill(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    /// A number in `0..bound` (`bound` > 0). Bounds up to 256 take two bytes (a bias below
    /// 0.4%, harmless for picking words); larger ones eight (below 2^-40 for the bounds used).
    pub fn below(&mut self, bound: usize) -> usize {
        let bound = bound.max(1);
        if bound <= 256 {
            let n = u16::from_le_bytes([self.byte(), self.byte()]);
            return usize::from(n) % bound;
        }
        (self.next_u64() % bound as u64) as usize
    }

    /// A decimal digit, without bias (bytes from 250 up are skipped).
    pub fn digit(&mut self) -> u8 {
        loop {
            let b = self.byte();
            if b < 250 {
                return b % 10;
            }
        }
    }

    /// Fills `out` with pseudo-random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.byte();
        }
    }
}

/// Lowercase RFC 4648 base32 without padding: letters and digits that read well in an email
/// address or a user name.
pub fn base32(bytes: &[u8], chars: usize) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(chars);
    let mut buffer = 0u32;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 && out.len() < chars {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 && out.len() < chars {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from_bytes(b"0123456789abcdef-test-key").unwrap()
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(Key::from_bytes(b"short").is_err());
    }

    #[test]
    fn the_integer_permutation_is_a_bijection_that_keeps_the_sign() {
        let key = key();
        for bits in [7u32, 8, 15] {
            let n = 1i64 << bits;
            let mut seen = std::collections::HashSet::new();
            for v in -n..n {
                let p = key.permute(v, bits);
                assert!(
                    (-n..n).contains(&p),
                    "{v} → {p} out of range for {bits} bits"
                );
                assert_eq!(v < 0, p < 0, "{v} → {p} changed sign");
                assert!(seen.insert(p), "{p} produced twice");
            }
        }
        let big = key.permute(i64::MAX, 63);
        assert!(big >= 0);
        assert_ne!(key.permute(12345, 31), 12345);
    }

    #[test]
    fn outputs_depend_on_the_key() {
        let other = Key::from_bytes(b"another key of enough length").unwrap();
        assert_ne!(key().token(b"x"), other.token(b"x"));
        assert_eq!(key().token(b"x"), key().token(b"x"));
        assert_ne!(key().permute(42, 31), other.permute(42, 31));
    }

    #[test]
    fn encodings() {
        assert_eq!(hex(&[0, 255, 16]), "00ff10");
        assert_eq!(base32(b"foobar", 10), "mzxw6ytboi");
    }
}
