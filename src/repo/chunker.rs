//! Content-defined chunking aligned to row boundaries (docs/FORMAT.md, "Chunks").
//!
//! [`Chunker`] is fed a stream in slices of any size and hands out chunks: FastCDC (2020) picks
//! a cut point, which is then moved to just after the next `\n`, so every chunk holds whole rows
//! of COPY text. A cut is only decided once `hard_max_size` bytes are buffered (or the stream
//! ends), which makes the chunks a pure function of the stream's bytes, independent of how the
//! caller slices its writes. Memory is bounded by about three times `hard_max_size`.
//!
//! This module only cuts; hashing, deduplication and storage belong to the writer.

use std::borrow::Cow;

use fastcdc::v2020::{self as cdc, Normalization};

use super::config::ChunkerParams;

/// Splits a byte stream into row-aligned, content-defined chunks.
pub struct Chunker {
    min_size: usize,
    avg_size: usize,
    max_size: usize,
    hard_max_size: usize,
    mask_s: u64,
    mask_l: u64,
    gear: Cow<'static, [u64]>,
    gear_ls: Cow<'static, [u64]>,
    buf: Vec<u8>,
    /// Where the next chunk starts in `buf`.
    start: usize,
}

impl Chunker {
    /// A chunker with validated parameters (see [`ChunkerParams::validate`]).
    pub fn new(params: &ChunkerParams) -> Chunker {
        let level = match params.normalization {
            0 => Normalization::Level0,
            1 => Normalization::Level1,
            2 => Normalization::Level2,
            _ => Normalization::Level3,
        };
        let (mask_s, mask_l) = cdc::select_masks(params.avg_size as usize, level);
        let (gear, gear_ls) = cdc::get_gear_with_seed(params.seed);
        Chunker {
            min_size: params.min_size as usize,
            avg_size: params.avg_size as usize,
            max_size: params.max_size as usize,
            hard_max_size: params.hard_max_size as usize,
            mask_s,
            mask_l,
            gear,
            gear_ls,
            buf: Vec::new(),
            start: 0,
        }
    }

    /// Feeds `data`; calls `emit` with every chunk that is complete.
    pub fn push<E>(
        &mut self,
        mut data: &[u8],
        emit: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        while !data.is_empty() {
            self.compact();
            let room = self.hard_max_size.max(1);
            let (head, tail) = data.split_at(data.len().min(room));
            self.buf.extend_from_slice(head);
            data = tail;
            self.emit_ready(false, emit)?;
        }
        Ok(())
    }

    /// Ends the stream: emits the remaining bytes as the final chunk(s).
    pub fn finish<E>(&mut self, emit: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        self.emit_ready(true, emit)?;
        self.buf.clear();
        self.start = 0;
        Ok(())
    }

    fn emit_ready<E>(
        &mut self,
        at_end: bool,
        emit: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(len) = self.next_chunk_len(at_end) {
            let chunk = &self.buf[self.start..self.start + len];
            self.start += len;
            emit(chunk)?;
        }
        Ok(())
    }

    /// Drops consumed bytes once there are enough of them to make the move worthwhile.
    fn compact(&mut self) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start >= self.hard_max_size {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Length of the next chunk, if it can be decided with the bytes buffered so far.
    fn next_chunk_len(&self, at_end: bool) -> Option<usize> {
        let pending = &self.buf[self.start..];
        if pending.is_empty() || (!at_end && pending.len() < self.hard_max_size) {
            return None;
        }
        let cut = self.cdc_cut(pending);
        Some(self.align_to_row(pending, cut))
    }

    /// FastCDC's cut point in `pending` (1..=max_size, or all of a short final remainder).
    fn cdc_cut(&self, pending: &[u8]) -> usize {
        let (_, cut) = cdc::cut_gear(
            pending,
            self.min_size,
            self.avg_size,
            self.max_size,
            self.mask_s,
            self.mask_l,
            self.mask_s << 1,
            self.mask_l << 1,
            &self.gear,
            &self.gear_ls,
        );
        cut.max(1)
    }

    /// Moves a cut to just after the first `\n` at or after byte `cut - 1`, within
    /// `hard_max_size`; without one, cuts at `hard_max_size` (or the end of the stream).
    fn align_to_row(&self, pending: &[u8], cut: usize) -> usize {
        let limit = pending.len().min(self.hard_max_size);
        let from = (cut - 1).min(limit);
        match pending[from..limit].iter().position(|&b| b == b'\n') {
            Some(p) => from + p + 1,
            None => limit,
        }
    }
}

/// Number of `\n` bytes: the row count of COPY text.
pub fn count_newlines(bytes: &[u8]) -> u64 {
    // Per-lane byte counters over 64-byte blocks vectorize well; they are flushed before
    // they can overflow (255 blocks).
    const LANES: usize = 64;
    let mut total = 0u64;
    for run in bytes.chunks(LANES * 255) {
        let mut lanes = [0u8; LANES];
        let blocks = run.chunks_exact(LANES);
        let tail = blocks.remainder();
        for block in blocks {
            for (lane, &b) in lanes.iter_mut().zip(block) {
                *lane += u8::from(b == b'\n');
            }
        }
        total += lanes.iter().map(|&n| u64::from(n)).sum::<u64>();
        total += tail.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small_params() -> ChunkerParams {
        ChunkerParams {
            min_size: 256,
            avg_size: 1024,
            max_size: 4096,
            hard_max_size: 8192,
            ..ChunkerParams::default()
        }
    }

    fn chunks_of(params: &ChunkerParams, data: &[u8], slice: usize) -> Vec<Vec<u8>> {
        let mut chunker = Chunker::new(params);
        let mut out = Vec::new();
        let mut emit = |c: &[u8]| -> Result<(), ()> {
            out.push(c.to_vec());
            Ok(())
        };
        for piece in data.chunks(slice.max(1)) {
            chunker.push(piece, &mut emit).unwrap();
        }
        chunker.finish(&mut emit).unwrap();
        out
    }

    fn rows(n: usize, seed: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut x = seed;
        for i in 0..n {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let width = (x >> 58) as usize;
            out.extend_from_slice(format!("{i}\tname-{x:x}\t{}\n", "v".repeat(width)).as_bytes());
        }
        out
    }

    #[test]
    fn chunks_end_at_row_boundaries_and_concatenate_to_the_input() {
        let data = rows(5000, 1);
        let chunks = chunks_of(&small_params(), &data, 777);
        assert!(chunks.len() > 10);
        assert!(chunks.iter().all(|c| c.ends_with(b"\n")));
        assert_eq!(chunks.concat(), data);
    }

    #[test]
    fn a_huge_row_is_cut_at_the_hard_maximum() {
        let params = small_params();
        let mut data = vec![b'x'; 20_000];
        data.push(b'\n');
        let chunks = chunks_of(&params, &data, 1000);
        assert_eq!(chunks[0].len(), params.hard_max_size as usize);
        assert_eq!(chunks.concat(), data);
    }

    #[test]
    fn empty_and_unterminated_streams() {
        assert!(chunks_of(&small_params(), b"", 10).is_empty());
        let chunks = chunks_of(&small_params(), b"1\tno newline", 3);
        assert_eq!(chunks, vec![b"1\tno newline".to_vec()]);
    }

    proptest! {
        // Each case chunks thousands of rows; a few dozen cases cover the write-size space.
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn newline_count_is_exact(bytes in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..40_000)) {
            let expected = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            prop_assert_eq!(count_newlines(&bytes), expected);
        }

        #[test]
        fn cuts_do_not_depend_on_write_sizes(n in 0usize..3000, seed in any::<u64>(), a in 1usize..5000, b in 1usize..20000) {
            let data = rows(n, seed);
            let params = small_params();
            prop_assert_eq!(chunks_of(&params, &data, a), chunks_of(&params, &data, b));
        }
    }
}
