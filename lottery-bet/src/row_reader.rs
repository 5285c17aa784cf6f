//! The rows of a CSV source, split as the `csv` crate splits them, with the
//! line each starts on: what `row` ([`crate::AgencyFile`],
//! [`crate::StoreRows`]) reads its rows with.
//!
//! One grammar, two splitters. `csv_core`, the `csv` crate's own parser (with
//! `csv::Reader`'s defaults: `,`, `"` doubled inside quotes, CRLF, CR or LF
//! line ends, blank lines skipped), runs a state machine per byte and copies
//! every field out: some 750 instructions a course row, more than all the
//! checks of its bet. But a *plain* row (its line end already read, no `"`
//! and no other control byte before it) needs none of that grammar:
//! `csv_core` would end it at its first `\r` or `\n` and write, as its
//! fields, the bytes between its commas. So a plain row is split where it
//! lies in the read buffer (eight bytes at a time, and one `memchr` per
//! buffer for the next quote), and never copied; every other row (one
//! holding a quote or a tab, one cut by the end of the buffer, and the
//! source's first row, whose byte order mark `csv_core` strips on its first
//! read only) goes to `csv_core`.
//!
//! The two can take turns because, between rows, `csv_core` is in one of
//! three states (`StartRecord`, `EndRecord`, or `CRLF` after a row that a
//! `\r` ended), and the three treat the next byte alike: `\r` or `\n` is
//! skipped, anything else starts a row. The plain rows in between skip those
//! bytes the same way, so the parser resumes as if it had seen them. The
//! test oracle is `csv_core` alone, on every row, however the reads split
//! the source (`the_split_rows_are_those_of_csv_core_alone`).
//!
//! Lines: the reader counts the `\n`s consumed (its own count for plain rows
//! and skipped line ends, `csv_core::Reader::line`'s for what the parser
//! consumes), so a refused row is reported on the line where it starts,
//! whatever the line ends and however the source's reads split the bytes.

use std::io::{self, BufRead, Read};
use std::ops::Range;

use crate::swar::{bytes_below, bytes_equal};

/// How much of the source is read at a time: a row the end of the buffer
/// cuts goes to `csv_core`, so a larger buffer cuts fewer (one course row
/// in 1,400 at this size).
const READ_BUFFER: usize = 64 * 1024;

/// The rows of a CSV source, with the line each starts on.
///
/// A plain row's fields are read where they lie in the source's buffer; a
/// row `csv_core` parses has its fields written (unquoted) into `fields`.
/// `csv::Reader`'s own positions cannot name a row's line (they are taken
/// before it skips what comes before the row, and in a CRLF file that is the
/// `\n` of the previous line: rust-csv issues 395 and 208), hence the count
/// kept here. A row only records where its line ends; where it starts
/// (less the `\n`s inside its quoted fields) is worked out for a refused
/// row alone ([`RowReader::line`]).
#[derive(Debug)]
pub(crate) struct RowReader<R> {
    source: io::BufReader<R>,
    /// Boxed as `csv::Reader` boxes it: its tables are half a kilobyte, and
    /// an `AgencyFile` is moved around by value.
    parser: Box<csv_core::Reader>,
    /// The fields of the last row `csv_core` parsed, one after another;
    /// grown when a row does not fit, then reused.
    fields: Vec<u8>,
    /// Where each field of the last row ends (the first `field_count`): in
    /// `fields`, or in the plain row; grown like `fields`, never below
    /// [`PLAIN_FIELDS`].
    ends: Vec<usize>,
    /// How many fields the last row has (0 after the end or a failed read).
    field_count: usize,
    /// The last row's length when it is plain: it is then the front of the
    /// source's buffer (its bytes and its line end are consumed when the
    /// next row is read, so that they stay there).
    plain: Option<usize>,
    /// Bytes of the source's buffer still to consume: the last plain row and
    /// its line end.
    unconsumed: usize,
    /// Bytes of the source read so far (a byte order mark included).
    consumed: u64,
    /// No `"` lies in the source from `consumed` up to this offset (when it
    /// is past `consumed`): one `memchr` over the buffer finds the next
    /// quote, instead of a test per word of every row.
    quote_free_to: u64,
    /// How many `\n`s were among them.
    newlines: u64,
    /// Whether the last byte read was a `\n`.
    after_newline: bool,
    /// The line (from 1) where the last row ends, not counting the `\n` that
    /// ended it; after a failed read, the line of the last byte read.
    end_line: u64,
    /// Whether the source ended or failed: nothing more is read from it.
    done: bool,
}

impl<R: Read> RowReader<R> {
    pub(crate) fn new(source: R) -> Self {
        Self {
            source: io::BufReader::with_capacity(READ_BUFFER, source),
            parser: Box::new(csv_core::Reader::new()),
            fields: vec![0; 256],
            ends: vec![0; PLAIN_FIELDS],
            field_count: 0,
            plain: None,
            unconsumed: 0,
            consumed: 0,
            quote_free_to: 0,
            newlines: 0,
            after_newline: false,
            end_line: 0,
            done: false,
        }
    }

    /// Reads the next row into [`RowReader::row`]; `Ok(false)` once the
    /// source has no more.
    ///
    /// # Errors
    /// The source's (then every later call says `Ok(false)`, as
    /// `csv::Reader` does).
    #[inline]
    pub(crate) fn read(&mut self) -> io::Result<bool> {
        self.field_count = 0;
        self.plain = None;
        self.source.consume(std::mem::take(&mut self.unconsumed));
        if self.done {
            return Ok(false);
        }
        if self.consumed == 0 {
            // The first row: only `csv_core`'s first read strips a byte
            // order mark, and what it reads first decides whether it does.
            return self.parse();
        }
        loop {
            let input = match self.source.fill_buf() {
                Ok(input) => input,
                Err(error) => return Err(self.fail(error)),
            };
            let Some(&first) = input.first() else {
                self.done = true;
                return Ok(false);
            };
            if matches!(first, b'\r' | b'\n') {
                // Line ends before a row: a blank line, or the `\n` of a
                // CRLF whose `\r` ended the last row.
                let skipped = input
                    .iter()
                    .position(|&byte| !matches!(byte, b'\r' | b'\n'))
                    .unwrap_or(input.len());
                self.newlines += memchr::memchr_iter(b'\n', &input[..skipped]).count() as u64;
                self.after_newline = input[skipped - 1] == b'\n';
                self.consumed += skipped as u64;
                self.source.consume(skipped);
                continue;
            }
            // How far from here the buffer holds no quote: known from an
            // earlier search, or searched now (once a buffer, not a row).
            let known = usize::try_from(self.quote_free_to.saturating_sub(self.consumed))
                .unwrap_or(usize::MAX);
            let quote_free = if known >= input.len() || input[known] == b'"' {
                known
            } else {
                let rest = &input[known..];
                known + memchr::memchr(b'"', rest).unwrap_or(rest.len())
            };
            self.quote_free_to = self.consumed + quote_free as u64;
            let ends = (&mut self.ends[..PLAIN_FIELDS])
                .try_into()
                .expect("room for a plain row's fields");
            let Some(plain) = split_plain(input, quote_free, ends) else {
                return self.parse();
            };
            self.end_line = 1 + self.newlines;
            let newline = plain.line_end.has_newline();
            self.newlines += u64::from(newline);
            self.after_newline = newline;
            self.unconsumed = plain.len + plain.line_end.len();
            self.consumed += self.unconsumed as u64;
            self.field_count = plain.fields;
            self.plain = Some(plain.len);
            return Ok(true);
        }
    }

    /// Reads the rows that follow in the buffer, where they lie, for as
    /// long as `take` takes them: `take` is given the buffer from the next
    /// row on, and how far from there it holds no `"`; it returns the row's
    /// length and line end if it takes that row, which must then be a plain
    /// row, split by [`split_plain`] the same way (the row's bytes are all
    /// `take` sees of it: the caller parses and checks it in one go, see
    /// `bet_row`). Returns how many rows were taken.
    ///
    /// This is [`RowReader::read`]'s plain branch run over a whole buffer,
    /// with the reader's counts kept in locals and stored once: after it the
    /// reader stands exactly where `read` would after the same rows (the
    /// proptest `plain_runs_leave_the_reader_where_read_would` checks it).
    /// It reads nothing from the source and leaves to `read` every row it
    /// does not take (the first row of the source, any row `take` refuses);
    /// `read` then splits that row again, the slow way, and the caller
    /// reports it as before. Line ends before a row are skipped as `read`
    /// skips them.
    #[inline]
    pub(crate) fn read_plain(
        &mut self,
        mut take: impl FnMut(&[u8], usize) -> Option<RowEnd>,
    ) -> u64 {
        self.field_count = 0;
        self.plain = None;
        self.source.consume(std::mem::take(&mut self.unconsumed));
        if self.done || self.consumed == 0 {
            return 0;
        }
        let input = self.source.buffer();
        let (mut at, mut taken, mut newlines) = (0, 0, self.newlines);
        let mut quote_free_to = self.quote_free_to;
        let (mut end_line, mut after_newline) = (self.end_line, self.after_newline);
        while let Some(&first) = input.get(at) {
            if matches!(first, b'\r' | b'\n') {
                // As in `read`: line ends before a row (a blank line, or
                // the `\n` of a CRLF whose `\r` ended the last row).
                let rest = &input[at..];
                let skipped = rest
                    .iter()
                    .position(|&byte| !matches!(byte, b'\r' | b'\n'))
                    .unwrap_or(rest.len());
                newlines += memchr::memchr_iter(b'\n', &rest[..skipped]).count() as u64;
                after_newline = rest[skipped - 1] == b'\n';
                at += skipped;
                continue;
            }
            let rest = &input[at..];
            let consumed = self.consumed + at as u64;
            // As in `read`: how far from here the buffer holds no quote.
            let known =
                usize::try_from(quote_free_to.saturating_sub(consumed)).unwrap_or(usize::MAX);
            let quote_free = if known >= rest.len() || rest[known] == b'"' {
                known
            } else {
                let after = &rest[known..];
                known + memchr::memchr(b'"', after).unwrap_or(after.len())
            };
            quote_free_to = consumed + quote_free as u64;
            let Some(row) = take(rest, quote_free) else {
                break;
            };
            debug_assert!(row.len <= quote_free, "a plain row holds no quote");
            taken += 1;
            end_line = 1 + newlines;
            after_newline = row.line_end.has_newline();
            newlines += u64::from(after_newline);
            at += row.len + row.line_end.len();
        }
        self.quote_free_to = quote_free_to;
        self.end_line = end_line;
        self.after_newline = after_newline;
        self.newlines = newlines;
        self.consumed += at as u64;
        self.source.consume(at);
        taken
    }

    /// Reads the next row with `csv_core`, from where the source is.
    fn parse(&mut self) -> io::Result<bool> {
        use csv_core::ReadRecordResult as Parsed;
        let mut written = 0;
        loop {
            let input = match self.source.fill_buf() {
                Ok(input) => input,
                Err(error) => return Err(self.fail(error)),
            };
            let line = self.parser.line();
            let (parsed, read, out, ended) = self.parser.read_record(
                input,
                &mut self.fields[written..],
                &mut self.ends[self.field_count..],
            );
            self.newlines += self.parser.line() - line;
            if let Some(&last) = input[..read].last() {
                self.after_newline = last == b'\n';
            }
            self.source.consume(read);
            self.consumed += read as u64;
            written += out;
            self.field_count += ended;
            match parsed {
                Parsed::InputEmpty => {}
                Parsed::OutputFull => self.fields.resize(self.fields.len() * 2, 0),
                Parsed::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                Parsed::Record => {
                    // A row read with no input (the source's end) was not
                    // ended by a `\n`, even when its last field holds one.
                    let ended_by_newline = read > 0 && self.after_newline;
                    self.end_line = 1 + self.newlines - u64::from(ended_by_newline);
                    return Ok(true);
                }
                Parsed::End => {
                    self.done = true;
                    return Ok(false);
                }
            }
        }
    }

    /// Stops reading after the source failed: no row, and the line is the
    /// line of the last byte read (0 before the first), as the
    /// `csv::Reader` reported it.
    #[cold]
    fn fail(&mut self, error: io::Error) -> io::Error {
        self.done = true;
        self.field_count = 0;
        self.plain = None;
        self.end_line = 1 + self.newlines - u64::from(self.consumed == 0 || self.after_newline);
        error
    }

    /// The last row read (no fields after the end or a failed read).
    #[inline]
    pub(crate) fn row(&self) -> RawRow<'_> {
        let ends = &self.ends[..self.field_count];
        match self.plain {
            Some(len) => RawRow {
                bytes: &self.source.buffer()[..len],
                ends,
                separator: 1,
            },
            None => RawRow {
                bytes: &self.fields[..ends.last().copied().unwrap_or(0)],
                ends,
                separator: 0,
            },
        }
    }

    /// The line (from 1) where the last row starts; after a failed read,
    /// the line of the last byte read (0 if none was).
    pub(crate) fn line(&self) -> u64 {
        // Only a quoted field, which `csv_core` parsed, holds a `\n`.
        let inner_newlines = memchr::memchr_iter(b'\n', self.row().bytes).count() as u64;
        self.end_line
            .checked_sub(inner_newlines)
            .expect("the line ends inside a row were counted where it ends")
    }

    /// How many bytes of the source were read so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.consumed
    }
}

/// The most fields a plain row may have (more: it goes to `csv_core`; the
/// rows read have 5 or 6).
const PLAIN_FIELDS: usize = 16;

/// A plain row found at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plain {
    /// Its length, line end excluded.
    len: usize,
    /// How its line ends.
    line_end: LineEnd,
    /// How many fields it has (their ends are in `ends`).
    fields: usize,
}

/// Where a plain row a caller parsed itself ends ([`RowReader::read_plain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowEnd {
    /// The row's length, line end excluded.
    pub(crate) len: usize,
    /// How its line ends.
    pub(crate) line_end: LineEnd,
}

/// How a plain row's line ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineEnd {
    /// `\n`.
    Lf,
    /// `\r\n`, taken whole.
    CrLf,
    /// A `\r` that no `\n` follows in the buffer (one may begin the next
    /// read: it is then skipped before the next row).
    Cr,
}

impl LineEnd {
    /// Its bytes.
    pub(crate) fn len(self) -> usize {
        match self {
            LineEnd::Lf | LineEnd::Cr => 1,
            LineEnd::CrLf => 2,
        }
    }

    /// Whether it ends with a `\n`.
    fn has_newline(self) -> bool {
        self != LineEnd::Cr
    }
}

/// Splits the row at the front of `input` if it is plain, writing where
/// its fields end into `ends`; `None` for a row that needs `csv_core`.
/// `input` holds no `"` in its first `quote_free` bytes (and one right
/// after them, if it is longer).
///
/// Plain here: its line end is in `input`, no `"` and no other control byte
/// comes before it (`csv_core` would keep a tab in its field; such rows are
/// rare and left to it, which is exact), and it has at most
/// [`PLAIN_FIELDS`] fields. One pass, eight bytes at a time: each word
/// gives the exact positions of its commas and of its first byte below
/// 0x20; a `memchr` per comma costs more on rows of a few dozen bytes than
/// this whole pass. The row must not start with a line end (`csv_core`
/// would skip it). A `\r\n` is taken whole, where `csv_core` ends the row
/// at the `\r` and skips the `\n` before the next: the same rows and lines
/// either way.
#[inline]
fn split_plain(input: &[u8], quote_free: usize, ends: &mut [usize; PLAIN_FIELDS]) -> Option<Plain> {
    let mut fields = 0;
    let mut at = 0;
    let mut words = input.chunks_exact(8);
    let mut stop = None;
    for word in words.by_ref() {
        let word = u64::from_le_bytes(word.try_into().expect("chunks of eight bytes"));
        let stops = bytes_below(word, 0x20);
        // The commas before the first stop (all of them if there is none):
        // `stops ^ (stops - 1)` sets the first stop's bit and all below it.
        let mut commas = bytes_equal(word, b',') & (stops ^ stops.wrapping_sub(1));
        while commas != 0 {
            *ends.get_mut(fields)? = at + commas.trailing_zeros() as usize / 8;
            fields += 1;
            commas &= commas - 1;
        }
        if stops != 0 {
            stop = Some(at + stops.trailing_zeros() as usize / 8);
            break;
        }
        at += 8;
    }
    let len = match stop {
        Some(len) => len,
        None => {
            let tail = words.remainder();
            let stop = tail.iter().position(|&byte| byte < 0x20)?;
            for (offset, &byte) in tail[..stop].iter().enumerate() {
                if byte == b',' {
                    *ends.get_mut(fields)? = at + offset;
                    fields += 1;
                }
            }
            at + stop
        }
    };
    if len > quote_free {
        return None;
    }
    *ends.get_mut(fields)? = len;
    let line_end = match (input[len], input.get(len + 1)) {
        (b'\r', Some(b'\n')) => LineEnd::CrLf,
        (b'\r', _) => LineEnd::Cr,
        (b'\n', _) => LineEnd::Lf,
        _ => return None,
    };
    Some(Plain {
        len,
        line_end,
        fields: fields + 1,
    })
}

/// A row as read, its fields not checked yet: its bytes, where each field
/// ends in them, and how many bytes separate a field from the next.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawRow<'a> {
    /// The fields' bytes: the plain row itself (commas included), or the
    /// fields `csv_core` wrote, one after another.
    pub(crate) bytes: &'a [u8],
    /// Where each field ends in `bytes`.
    pub(crate) ends: &'a [usize],
    /// 1 in a plain row (the comma), 0 in `csv_core`'s fields.
    pub(crate) separator: usize,
}

impl<'a> RawRow<'a> {
    /// Where each field lies in [`RawRow::bytes`].
    pub(crate) fn ranges(&self) -> impl Iterator<Item = Range<usize>> + 'a {
        let separator = self.separator;
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let range = start..end;
            start = end + separator;
            range
        })
    }

    /// The fields of a row that has exactly `N`, as bytes.
    #[inline(always)]
    pub(crate) fn fields<const N: usize>(&self) -> Option<[&'a [u8]; N]> {
        if self.ends.len() != N {
            return None;
        }
        let mut fields = [&self.bytes[..0]; N];
        let mut start = 0;
        for (slot, &end) in fields.iter_mut().zip(self.ends) {
            *slot = &self.bytes[start..end];
            start = end + self.separator;
        }
        Some(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunked::Chunked;
    use proptest::prelude::*;

    /// What a reader yields: each row's fields and line, then how it ended
    /// (the line of a failed read, if one failed) and the bytes it read.
    #[derive(Debug, PartialEq, Eq)]
    struct Outcome {
        rows: Vec<(u64, Vec<Vec<u8>>)>,
        failed_on: Option<u64>,
        bytes_read: u64,
    }

    fn by_the_reader(source: Chunked<'_>) -> Outcome {
        let mut reader = RowReader::new(source);
        let mut rows = Vec::new();
        let failed_on = loop {
            match reader.read() {
                Ok(true) => {
                    let row = reader.row();
                    let fields = row.ranges().map(|range| row.bytes[range].to_vec());
                    rows.push((reader.line(), fields.collect()));
                }
                Ok(false) => break None,
                Err(_) => {
                    assert!(!reader.read().unwrap(), "nothing after a failure");
                    break Some(reader.line());
                }
            }
        };
        Outcome {
            rows,
            failed_on,
            bytes_read: reader.bytes_read(),
        }
    }

    /// The oracle: `csv_core` alone on every byte, fed the same reads, and
    /// the line of each row as the reader before plain rows computed it
    /// (checked against the `csv` crate by `row`'s tests).
    fn by_csv_core_alone(mut source: Chunked<'_>) -> Outcome {
        use csv_core::ReadRecordResult as Parsed;
        let mut source = io::BufReader::with_capacity(READ_BUFFER, &mut source);
        let mut parser = csv_core::Reader::new();
        let mut rows = Vec::new();
        let (mut fields, mut ends) = ([0u8; 4096], [0usize; 512]);
        let (mut written, mut ended) = (0, 0);
        let (mut consumed, mut after_newline) = (0u64, false);
        loop {
            let Ok(input) = source.fill_buf() else {
                let line = parser.line() - u64::from(consumed == 0 || after_newline);
                return Outcome {
                    rows,
                    failed_on: Some(line),
                    bytes_read: consumed,
                };
            };
            let (parsed, read, out, new_ends) =
                parser.read_record(input, &mut fields[written..], &mut ends[ended..]);
            if let Some(&last) = input[..read].last() {
                after_newline = last == b'\n';
            }
            source.consume(read);
            consumed += read as u64;
            written += out;
            ended += new_ends;
            match parsed {
                Parsed::InputEmpty => {}
                Parsed::Record => {
                    let row = RawRow {
                        bytes: &fields[..written],
                        ends: &ends[..ended],
                        separator: 0,
                    };
                    let row: Vec<Vec<u8>> =
                        row.ranges().map(|range| fields[range].to_vec()).collect();
                    let inner = memchr::memchr_iter(b'\n', &fields[..written]).count() as u64;
                    let ended_by_newline = read > 0 && after_newline;
                    let line = parser.line() - u64::from(ended_by_newline) - inner;
                    rows.push((line, row));
                    (written, ended) = (0, 0);
                }
                Parsed::End => {
                    return Outcome {
                        rows,
                        failed_on: None,
                        bytes_read: consumed,
                    };
                }
                Parsed::OutputFull | Parsed::OutputEndsFull => unreachable!("the rows are short"),
            }
        }
    }

    /// Bytes of every kind the grammar tells apart, and plain text between.
    fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            4 => proptest::sample::select(b",\"\r\n".to_vec()).prop_map(|byte| vec![byte]),
            2 => proptest::sample::select(vec![
                b"\r\n".to_vec(),
                b"\"\"".to_vec(),
                b"\xef\xbb\xbf".to_vec(),
                b"\xc3\xb1".to_vec(),
                b"\xff".to_vec(),
                b"Ana,Paz,1,2000-01-01,7".to_vec(),
            ]),
            3 => proptest::collection::vec(any::<u8>(), 1..6),
            3 => "[a-z0-9 -]{1,12}".prop_map(String::into_bytes),
        ];
        (
            proptest::option::of(Just(b"\xef\xbb\xbf".to_vec())),
            proptest::collection::vec(piece, 0..40),
        )
            .prop_map(|(bom, pieces)| [bom.unwrap_or_default(), pieces.concat()].concat())
    }

    proptest! {
        #[test]
        fn the_split_rows_are_those_of_csv_core_alone(
            bytes in csv_bytes(),
            chunk in prop_oneof![1usize..8, 8usize..100, Just(usize::MAX)],
            fails in any::<bool>(),
        ) {
            let source = || Chunked { bytes: &bytes, chunk, fails };
            let ours = by_the_reader(source());
            prop_assert_eq!(&ours, &by_csv_core_alone(source()));
            // (`csv_core` takes a first read holding only a byte order mark
            // for the end of the source: it is only the oracle's equal.)
            if !fails && !bytes.starts_with(b"\xef\xbb\xbf") {
                prop_assert_eq!(ours.bytes_read, bytes.len() as u64);
            }
        }
    }

    /// The state `read` leaves that the next read depends on.
    fn state<R>(reader: &RowReader<R>) -> (u64, u64, bool) {
        (reader.newlines, reader.consumed, reader.after_newline)
    }

    proptest! {
        #[test]
        fn plain_runs_leave_the_reader_where_read_would(
            bytes in csv_bytes(),
            chunk in prop_oneof![1usize..8, 8usize..100, Just(usize::MAX)],
            fails in any::<bool>(),
            refuse_every in 1usize..5,
        ) {
            // `runs` takes plain rows in runs (refusing some, as a caller
            // refuses an invalid bet), then reads one row the general way;
            // `rows` reads every row the general way.
            let source = || Chunked { bytes: &bytes, chunk, fails };
            let (mut runs, mut rows) = (RowReader::new(source()), RowReader::new(source()));
            let mut seen = 0usize;
            loop {
                let mut taken = Vec::new();
                let count = runs.read_plain(|rest, quote_free| {
                    let mut ends = [0; PLAIN_FIELDS];
                    let plain = split_plain(rest, quote_free, &mut ends)?;
                    seen += 1;
                    if seen.is_multiple_of(refuse_every) {
                        return None;
                    }
                    let row = RawRow { bytes: &rest[..plain.len], ends: &ends[..plain.fields], separator: 1 };
                    taken.push(row.ranges().map(|range| row.bytes[range].to_vec()).collect::<Vec<_>>());
                    Some(RowEnd { len: plain.len, line_end: plain.line_end })
                });
                prop_assert_eq!(count, taken.len() as u64);
                for fields in taken {
                    prop_assert!(rows.read().unwrap());
                    prop_assert!(rows.plain.is_some(), "a taken row is one `read` splits plainly");
                    let row = rows.row();
                    let expected: Vec<Vec<u8>> = row.ranges().map(|range| row.bytes[range].to_vec()).collect();
                    prop_assert_eq!(fields, expected);
                }
                match (runs.read(), rows.read()) {
                    (Ok(true), Ok(true)) => {
                        prop_assert_eq!(state(&runs), state(&rows));
                        let (a, b) = (runs.row(), rows.row());
                        let fields = |row: RawRow<'_>| row.ranges().map(|range| row.bytes[range].to_vec()).collect::<Vec<_>>();
                        prop_assert_eq!(fields(a), fields(b));
                        prop_assert_eq!(runs.line(), rows.line());
                    }
                    (Ok(false), Ok(false)) => break,
                    (Err(_), Err(_)) => {
                        prop_assert_eq!(runs.line(), rows.line());
                        break;
                    }
                    (a, b) => prop_assert!(false, "{:?} against {:?}", a.map_err(|e| e.kind()), b.map_err(|e| e.kind())),
                }
            }
            prop_assert_eq!(runs.bytes_read(), rows.bytes_read());
        }
    }

    #[test]
    fn plain_rows_are_split_where_they_lie_and_others_are_left_to_csv_core() {
        let mut ends = [0; PLAIN_FIELDS];
        let split = |input: &[u8], ends: &mut [usize; PLAIN_FIELDS]| {
            let quote_free = memchr::memchr(b'"', input).unwrap_or(input.len());
            split_plain(input, quote_free, ends)
        };
        assert_eq!(
            split(b"Ana,,Paz\r\nnext", &mut ends),
            Some(Plain {
                len: 8,
                line_end: LineEnd::CrLf,
                fields: 3
            })
        );
        assert_eq!(&ends[..3], [3, 4, 8]);
        let lone_cr = split(b"a,b\rc\n", &mut ends);
        assert_eq!(
            lone_cr.map(|plain| (plain.len, plain.line_end)),
            Some((3, LineEnd::Cr))
        );
        let cut_crlf = split(b"a\r", &mut ends);
        assert_eq!(
            cut_crlf.map(|plain| (plain.len, plain.line_end)),
            Some((1, LineEnd::Cr))
        );
        assert_eq!(split(b"a,\"b\",c\n", &mut ends), None, "a quote");
        assert_eq!(split(b"a\tb,c\n", &mut ends), None, "a tab");
        assert_eq!(split(b"a,b", &mut ends), None, "no line end yet");
        assert_eq!(split(b"a,b\n\"", &mut ends).map(|plain| plain.len), Some(3));
        // Longer than a word: commas and the line end found in every lane.
        let row = b"Santiago Lionel,Lorca,30904465,1999-03-17,2201\r\nAna";
        let plain = split(row, &mut ends).unwrap();
        assert_eq!(
            (plain.len, plain.line_end, plain.fields),
            (46, LineEnd::CrLf, 5)
        );
        assert_eq!(&ends[..5], [15, 21, 30, 41, 46]);
        assert_eq!(split(&row[..46], &mut ends), None, "no line end yet");
        assert_eq!(split(b"0123456789abcdef\"\n", &mut ends), None, "a quote");
        let most = [",".repeat(PLAIN_FIELDS - 1), "\n".into()].concat();
        let plain = split(most.as_bytes(), &mut ends).map(|plain| plain.fields);
        assert_eq!(plain, Some(PLAIN_FIELDS));
        let more = [",".repeat(PLAIN_FIELDS), "\n".into()].concat();
        assert_eq!(split(more.as_bytes(), &mut ends), None, "too many fields");
    }

    #[test]
    fn a_crlf_file_is_read_with_its_rows_plain_after_the_first() {
        let text = b"a,b\r\nc,d\r\n\r\ne,f\r\n";
        let mut reader = RowReader::new(&text[..]);
        let mut rows = Vec::new();
        while reader.read().unwrap() {
            rows.push((reader.line(), reader.plain.is_some()));
        }
        assert_eq!(rows, [(1, false), (2, true), (4, true)]);
        assert_eq!(reader.bytes_read(), text.len() as u64);
    }

    #[test]
    fn rows_after_a_quoted_row_are_plain_again() {
        let text = b"a,b\r\n\"c\",d\r\ne,f\r\n\"g\nh\",i\r\nj,\"k\"\"\"\r\nl,m\n";
        let mut reader = RowReader::new(&text[..]);
        let mut rows = Vec::new();
        while reader.read().unwrap() {
            rows.push((
                reader.line(),
                reader.row().ends.len(),
                reader.plain.is_some(),
            ));
        }
        let expected = [
            (1, 2, false),
            (2, 2, false),
            (3, 2, true),
            (4, 2, false),
            (6, 2, false),
            (7, 2, true),
        ];
        assert_eq!(rows, expected);
    }
}
