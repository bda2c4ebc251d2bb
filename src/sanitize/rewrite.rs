//! The streaming row rewriter: a reader that turns one table's COPY text into its masked
//! form, row by row, as the loader reads it.
//!
//! Memory stays bounded whatever the table's size: one input line, about 64 KiB of output, and
//! — for a table with a `shuffle` column — one block of rows (the rule's window). Fields of
//! columns without a mask are copied byte for byte without being decoded. A row that cannot be
//! masked fails the read, and with it the loader's transaction: no row leaves the rewriter
//! unmasked.

use std::io::{self, BufRead, BufReader, Read};

use super::copytext::encode;
use super::key::Key;
use super::rules::Transform;
use super::transform::ColumnMask;

/// Output is handed to the loader in pieces of about this size.
const OUTPUT_TARGET: usize = 64 * 1024;

/// A table's rows, masked.
pub struct Rewriter<'a> {
    input: BufReader<&'a mut dyn Read>,
    key: &'a Key,
    table: String,
    /// Column names and masks, in stream order.
    columns: Vec<(String, Option<&'a ColumnMask>)>,
    /// Stream positions of shuffled columns, and the rows of a block.
    shuffled: Vec<usize>,
    window: usize,
    block: Vec<Vec<Vec<u8>>>,
    line: Vec<u8>,
    line_number: u64,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<'a> Rewriter<'a> {
    pub fn new(
        input: &'a mut dyn Read,
        key: &'a Key,
        table: &str,
        columns: Vec<(String, Option<&'a ColumnMask>)>,
    ) -> Rewriter<'a> {
        let mut window = usize::MAX;
        let mut shuffled = Vec::new();
        for (i, (_, mask)) in columns.iter().enumerate() {
            if let Some(ColumnMask {
                transform: Transform::Shuffle { window: w },
                ..
            }) = mask
            {
                shuffled.push(i);
                // One block size per table: the smallest a rule asks for.
                window = window.min(*w);
            }
        }
        Rewriter {
            input: BufReader::with_capacity(OUTPUT_TARGET, input),
            key,
            table: table.to_string(),
            columns,
            shuffled,
            window,
            block: Vec::new(),
            line: Vec::new(),
            line_number: 0,
            out: Vec::with_capacity(OUTPUT_TARGET + 4096),
            pos: 0,
            done: false,
        }
    }

    fn error(&self, column: Option<&str>, cause: &str) -> io::Error {
        let place = match column {
            Some(c) => format!("{}.{c}", self.table),
            None => self.table.clone(),
        };
        io::Error::other(format!(
            "sanitize: {place}, row {}: {cause} — nothing of this table was loaded",
            self.line_number
        ))
    }

    /// Masks rows until about [`OUTPUT_TARGET`] bytes are ready or the input ends.
    fn fill(&mut self) -> io::Result<()> {
        while self.out.len() < OUTPUT_TARGET {
            self.line.clear();
            let read = self.input.read_until(b'\n', &mut self.line)?;
            if self.line.last() == Some(&b'\n') {
                self.line.pop();
            }
            if read == 0 || self.line == b"\\." {
                self.flush_block();
                self.done = true;
                return Ok(());
            }
            self.line_number += 1;
            if self.shuffled.is_empty() {
                self.mask_row()?;
            } else {
                self.buffer_row()?;
                if self.block.len() >= self.window {
                    self.flush_block();
                }
            }
        }
        Ok(())
    }

    /// Masks the current line straight into the output.
    fn mask_row(&mut self) -> io::Result<()> {
        let line = std::mem::take(&mut self.line);
        let result = self.for_each_field(&line, |rewriter, i, raw| {
            if i > 0 {
                rewriter.out.push(b'\t');
            }
            rewriter.write_field(i, raw)
        });
        self.line = line;
        result?;
        self.out.push(b'\n');
        Ok(())
    }

    /// Masks the current line into the block, field by field.
    fn buffer_row(&mut self) -> io::Result<()> {
        let line = std::mem::take(&mut self.line);
        let mut fields = Vec::with_capacity(self.columns.len());
        let result = self.for_each_field(&line, |rewriter, i, raw| {
            let start = rewriter.out.len();
            rewriter.write_field(i, raw)?;
            fields.push(rewriter.out.split_off(start));
            Ok(())
        });
        self.line = line;
        result?;
        self.block.push(fields);
        Ok(())
    }

    /// Calls `each` with every raw field of `line`, checking the field count.
    fn for_each_field(
        &mut self,
        line: &[u8],
        mut each: impl FnMut(&mut Self, usize, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut fields = 0;
        for raw in line.split(|&b| b == b'\t') {
            if fields < self.columns.len() {
                each(self, fields, raw)?;
            }
            fields += 1;
        }
        if fields != self.columns.len() {
            return Err(self.error(
                None,
                &format!(
                    "malformed COPY data: {fields} field(s) where the table has {} column(s)",
                    self.columns.len()
                ),
            ));
        }
        Ok(())
    }

    /// Writes field `i` masked (or as it is) to the output.
    fn write_field(&mut self, i: usize, raw: &[u8]) -> io::Result<()> {
        let Some(mask) = self.columns[i].1 else {
            self.out.extend_from_slice(raw);
            return Ok(());
        };
        match mask.apply(self.key, raw) {
            Ok(None) => self.out.extend_from_slice(raw),
            Ok(Some(value)) => encode(&mut self.out, &value, mask.form),
            Err(cause) => return Err(self.error(Some(&self.columns[i].0), &cause)),
        }
        Ok(())
    }

    /// Permutes the shuffled columns among the block's rows and writes the rows out.
    fn flush_block(&mut self) {
        if self.block.is_empty() {
            return;
        }
        let mut block = std::mem::take(&mut self.block);
        for &column in &self.shuffled {
            let mut values: Vec<Vec<u8>> = block
                .iter_mut()
                .map(|row| std::mem::take(&mut row[column]))
                .collect();
            // The order depends on the key, the column and the block's values, so the same
            // input shuffles the same way every time.
            let mut hasher = self.key.shuffle_hasher();
            hasher.update(self.columns[column].0.as_bytes());
            for value in &values {
                hasher.update(&(value.len() as u64).to_le_bytes());
                hasher.update(value);
            }
            let mut stream = super::key::Stream::from_hasher(&hasher);
            for i in (1..values.len()).rev() {
                values.swap(i, stream.below(i + 1));
            }
            for (row, value) in block.iter_mut().zip(values) {
                row[column] = value;
            }
        }
        for row in block {
            for (i, field) in row.iter().enumerate() {
                if i > 0 {
                    self.out.push(b'\t');
                }
                self.out.extend_from_slice(field);
            }
            self.out.push(b'\n');
        }
    }
}

impl Read for Rewriter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.out.clear();
            self.pos = 0;
            self.fill()?;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
