//! CSV rows: agency files in, `bets.csv` rows out and back.
//!
//! `bets.csv` is written exactly as Python's `csv.writer` writes by default:
//! minimal quoting (a field is quoted only when it holds a comma or a quote, and
//! quotes inside are doubled) and CRLF line ends. The course's Python
//! `load_bets` reads our file, and we read theirs.
//!
//! Reading is streaming: one row at a time, never the whole file.

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

#[cfg(test)]
use crate::bet::Name;
use crate::bet::{AgencyId, Bet, Birthdate, StoredBet};
use crate::error::RowError;
use crate::field::{Field, FieldError, FieldReason};

/// Appends the store rows of `bets`, taken by `agency`, to `out`.
///
/// The bytes are those of Python's `csv.writer` with its default dialect:
/// a name is quoted only when it holds a comma, a quote or a line break, its
/// quotes doubled; the other fields (digits and a date) never need quotes;
/// rows end with CRLF. Every batch the central stores goes through here, so
/// it writes straight into `out`: no allocation and no formatting machinery
/// per bet (the `csv` crate's writer, which agrees byte for byte, is the
/// oracle of the tests).
///
/// ```
/// use lottery_core::{encode_store_rows, AgencyId, Bet};
/// let bet = Bet::from_fields("Ana, María", "O\"Neil", "007", "2000-02-29", "42").unwrap();
/// let mut out = Vec::new();
/// encode_store_rows(AgencyId::new(3).unwrap(), &[bet], &mut out);
/// assert_eq!(out, b"3,\"Ana, Mar\xc3\xada\",\"O\"\"Neil\",007,2000-02-29,42\r\n");
/// ```
pub fn encode_store_rows(agency: AgencyId, bets: &[Bet], out: &mut Vec<u8>) {
    let mut agency_text = itoa::Buffer::new();
    let agency = agency_text.format(agency.get()).as_bytes();
    let mut number_text = itoa::Buffer::new();
    out.reserve(bets.len() * TYPICAL_ROW_LEN);
    for bet in bets {
        out.extend_from_slice(agency);
        out.push(b',');
        put_name(out, bet.first_name.as_str());
        out.push(b',');
        put_name(out, bet.last_name.as_str());
        out.push(b',');
        out.extend_from_slice(bet.document.as_str().as_bytes());
        out.push(b',');
        out.extend_from_slice(&bet.birthdate.to_text());
        out.push(b',');
        out.extend_from_slice(number_text.format(bet.number.get()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// About the length of a course row; only a capacity hint.
const TYPICAL_ROW_LEN: usize = 64;

/// Writes a name as Python's `QUOTE_MINIMAL` does: bare, or between quotes
/// with its quotes doubled when it holds the delimiter, the quote or a line
/// break (names refuse control characters, but the rule stays whole).
fn put_name(out: &mut Vec<u8>, name: &str) {
    let needs_quotes = name
        .bytes()
        .any(|byte| matches!(byte, b',' | b'"' | b'\r' | b'\n'));
    if !needs_quotes {
        out.extend_from_slice(name.as_bytes());
        return;
    }
    out.push(b'"');
    for (index, piece) in name.split('"').enumerate() {
        if index > 0 {
            out.extend_from_slice(b"\"\"");
        }
        out.extend_from_slice(piece.as_bytes());
    }
    out.push(b'"');
}

/// The csv reader of a source, fed through a [`LineCounter`].
fn line_reader<R: Read>(source: R) -> csv::Reader<LineCounter<R>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(LineCounter::new(source))
}

/// Counts the lines of a source as the `csv` reader takes its bytes, and
/// hands it at most one line per read.
///
/// The positions the `csv` crate gives a record cannot name its line: it
/// takes them before the reader skips what comes before the record, and in a
/// CRLF file that is the `\n` of the previous line (a `\r` ends a record, its
/// `\n` is consumed by the next read), so every record after the first was
/// reported one line too low; a blank line skipped before a record did the
/// same in LF files (rust-csv issues 395 and 208). Here, since no read goes
/// past a `\n`, the `csv` reader, which refills its buffer only once it is
/// empty, never holds more than the rest of the line where its last record
/// ended: that record ends on [`LineCounter::line`], and starts as many lines
/// above as its fields hold `\n` (only a quoted field can).
#[derive(Debug)]
struct LineCounter<R> {
    source: io::BufReader<R>,
    /// `\n` bytes handed out so far.
    newlines: u64,
    /// Whether bytes were handed out after the last `\n`.
    in_line: bool,
}

impl<R: Read> LineCounter<R> {
    fn new(source: R) -> Self {
        Self {
            source: io::BufReader::new(source),
            newlines: 0,
            in_line: false,
        }
    }

    /// The line (from 1) of the last byte handed out.
    fn line(&self) -> u64 {
        self.newlines + u64::from(self.in_line)
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.source.fill_buf()?;
        let line_len = memchr::memchr(b'\n', available).map_or(available.len(), |end| end + 1);
        let len = line_len.min(buf.len());
        buf[..len].copy_from_slice(&available[..len]);
        self.source.consume(len);
        if let Some(&last) = buf[..len].last() {
            self.in_line = last != b'\n';
            self.newlines += u64::from(!self.in_line);
        }
        Ok(len)
    }
}

/// The line (from 1) where the record just read from `rows` started.
fn record_line<R: Read>(record: &csv::ByteRecord, rows: &csv::Reader<LineCounter<R>>) -> u64 {
    let inner_newlines = memchr::memchr_iter(b'\n', record.as_slice()).count() as u64;
    rows.get_ref().line().saturating_sub(inner_newlines)
}

/// A row that is not UTF-8. (Reading byte records of any length, the `csv`
/// reader fails only when its source does; a `FieldError` cannot say so, and
/// such a failure is reported as this too.)
fn malformed() -> FieldError {
    FieldError::new(Field::Row, FieldReason::Malformed)
}

/// A streaming reader of `bets.csv` rows.
///
/// Yields each stored bet with its line number (from 1), or the first row that
/// does not parse.
#[derive(Debug)]
pub struct StoreRows<R: Read> {
    rows: csv::Reader<LineCounter<R>>,
    record: csv::ByteRecord,
}

impl<R: Read> StoreRows<R> {
    /// Reads store rows from `source`.
    pub fn new(source: R) -> Self {
        Self {
            rows: line_reader(source),
            record: csv::ByteRecord::new(),
        }
    }
}

impl<R: Read> Iterator for StoreRows<R> {
    type Item = Result<StoredBet, (u64, FieldError)>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = self.rows.read_byte_record(&mut self.record);
        let line = record_line(&self.record, &self.rows);
        match result {
            Ok(false) => None,
            Ok(true) => Some(store_row(&self.record).map_err(|e| (line, e))),
            Err(_) => Some(Err((line, malformed()))),
        }
    }
}

/// A streaming reader of an agency file (`agency-N.csv`).
///
/// ```no_run
/// use lottery_core::AgencyFile;
/// for bet in AgencyFile::open("agency-1.csv")? {
///     let bet = bet?;
///     println!("{} plays {}", bet.document, bet.number);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AgencyFile<R: Read = File> {
    path: PathBuf,
    rows: csv::Reader<LineCounter<R>>,
    record: csv::ByteRecord,
    /// Birthdates after this are refused ([`Birthdate::LAST`]: none is).
    today: Birthdate,
}

impl AgencyFile<File> {
    /// Opens an agency file.
    ///
    /// # Errors
    /// The error of opening the file; [`io::ErrorKind::IsADirectory`] for a
    /// directory (which opens on Unix, then fails its first read).
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let file = File::open(path)?;
        if file.metadata()?.is_dir() {
            return Err(io::ErrorKind::IsADirectory.into());
        }
        Ok(Self::from_reader(path, file))
    }
}

impl<R: Read> AgencyFile<R> {
    /// Reads an agency file from `source`; `path` names it in errors.
    pub fn from_reader(path: impl Into<PathBuf>, source: R) -> Self {
        Self {
            path: path.into(),
            rows: line_reader(source),
            record: csv::ByteRecord::new(),
            today: Birthdate::LAST,
        }
    }

    /// Refuses, from now on, rows whose birthdate is after `today` (the
    /// reader's own date: the core has no clock), with their line, as any
    /// other invalid row ([`Bet::check_born_by`]). By default no date is
    /// too late.
    ///
    /// ```
    /// use lottery_core::{AgencyFile, Birthdate, Field, FieldReason};
    /// let text = "Ana,Paz,1,2000-01-01,7\nLuis,Sosa,2,2031-01-01,8\n";
    /// let mut rows = AgencyFile::from_reader("agency-1.csv", text.as_bytes());
    /// rows.born_by(Birthdate::new(2030, 12, 31)?);
    /// assert!(rows.next().unwrap().is_ok());
    /// let error = rows.next().unwrap().unwrap_err();
    /// assert_eq!((error.line, error.error.field), (2, Field::Birthdate));
    /// assert_eq!(error.error.reason, FieldReason::InFuture);
    /// # Ok::<(), lottery_core::FieldError>(())
    /// ```
    pub fn born_by(&mut self, today: Birthdate) -> &mut Self {
        self.today = today;
        self
    }

    /// How many bytes of the source were read so far (for progress reports).
    pub fn bytes_read(&self) -> u64 {
        self.rows.position().byte()
    }
}

impl<R: Read> Iterator for AgencyFile<R> {
    type Item = Result<Bet, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = self.rows.read_byte_record(&mut self.record);
        let line = record_line(&self.record, &self.rows);
        let error = match result {
            Ok(false) => return None,
            Ok(true) => match agency_row(&self.record)
                .and_then(|bet| bet.check_born_by(self.today).map(|()| bet))
            {
                Ok(bet) => return Some(Ok(bet)),
                Err(error) => error,
            },
            Err(_) => malformed(),
        };
        Some(Err(RowError {
            path: self.path.clone(),
            line,
            error,
        }))
    }
}

/// Parses one row of an agency file:
/// `first_name,last_name,document,birthdate,number`.
///
/// # Errors
/// [`FieldReason::FieldCount`] on a row with other than 5 fields, else the
/// first invalid field.
fn agency_row(record: &csv::ByteRecord) -> Result<Bet, FieldError> {
    let [first, last, document, birthdate, number] = row_fields(record)?;
    Bet::from_fields(first, last, document, birthdate, number)
}

/// Parses one row of `bets.csv`:
/// `agency,first_name,last_name,document,birthdate,number`.
///
/// # Errors
/// [`FieldReason::FieldCount`] on a row with other than 6 fields, else the
/// first invalid field.
fn store_row(record: &csv::ByteRecord) -> Result<StoredBet, FieldError> {
    let [agency, first, last, document, birthdate, number] = row_fields(record)?;
    Ok(StoredBet {
        agency: agency.parse()?,
        bet: Bet::from_fields(first, last, document, birthdate, number)?,
    })
}

/// The fields of a row that must have exactly `N`, borrowed from it (rows
/// are parsed one per bet: no allocation here).
///
/// # Errors
/// [`FieldReason::Malformed`] when a field is not UTF-8, else
/// [`FieldReason::FieldCount`] on a row with other than `N` fields.
fn row_fields<const N: usize>(record: &csv::ByteRecord) -> Result<[&str; N], FieldError> {
    let mut fields = [""; N];
    for (index, field) in record.iter().enumerate() {
        let text = std::str::from_utf8(field).map_err(|_| malformed())?;
        if let Some(slot) = fields.get_mut(index) {
            *slot = text;
        }
    }
    if record.len() != N {
        return Err(FieldError::new(
            Field::Row,
            FieldReason::FieldCount {
                expected: N,
                found: record.len(),
            },
        ));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rows as the `csv` crate writes them with Python's dialect: the
    /// oracle of the hand-written encoder.
    fn rows_by_the_csv_crate(agency: AgencyId, bets: &[Bet]) -> Vec<u8> {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(Vec::new());
        for bet in bets {
            writer
                .write_record([
                    agency.to_string(),
                    bet.first_name.to_string(),
                    bet.last_name.to_string(),
                    bet.document.to_string(),
                    bet.birthdate.to_string(),
                    bet.number.to_string(),
                ])
                .unwrap();
        }
        writer.into_inner().unwrap()
    }

    /// Names made of what matters to quoting (commas, quotes, spaces,
    /// non-ASCII) and anything else valid.
    fn name() -> impl Strategy<Value = String> {
        prop_oneof!["[a-zA-Z ,\"'ñé🎲#;]{1,40}", "\\PC{1,30}",].prop_filter(
            "a valid name (not only spaces, no control or format character)",
            |text| Name::new(Field::FirstName, text.as_str()).is_ok(),
        )
    }

    fn any_bet() -> impl Strategy<Value = Bet> {
        (
            name(),
            name(),
            "[0-9]{1,20}",
            (1u16..=9999, 1u8..=12, 1u8..=28),
            0u32..=9999,
        )
            .prop_map(|(first, last, document, (year, month, day), number)| Bet {
                first_name: Name::new(Field::FirstName, first).unwrap(),
                last_name: Name::new(Field::LastName, last).unwrap(),
                document: crate::bet::Document::new(document).unwrap(),
                birthdate: crate::bet::Birthdate::new(year, month, day).unwrap(),
                number: crate::bet::BetNumber::new(number).unwrap(),
            })
    }

    proptest! {
        #[test]
        fn store_rows_are_byte_for_byte_what_the_csv_crate_writes(
            agency in 1u32..,
            bets in proptest::collection::vec(any_bet(), 0..8),
        ) {
            let agency = AgencyId::new(agency).unwrap();
            let mut ours = b"earlier bytes stay".to_vec();
            encode_store_rows(agency, &bets, &mut ours);
            let mut expected = b"earlier bytes stay".to_vec();
            expected.extend(rows_by_the_csv_crate(agency, &bets));
            prop_assert_eq!(ours, expected);
        }
    }

    fn bet(first: &str, last: &str) -> Bet {
        Bet::from_fields(first, last, "0123", "1999-03-17", "7574").unwrap()
    }

    #[test]
    fn store_rows_round_trip_through_the_reader() {
        let bets = vec![bet("Ana, María", "Pérez"), bet("\"Quoted\"", "Ñandú")];
        let agency = AgencyId::new(2).unwrap();
        let mut bytes = Vec::new();
        encode_store_rows(agency, &bets, &mut bytes);
        let read: Vec<_> = StoreRows::new(&bytes[..]).map(Result::unwrap).collect();
        assert_eq!(read.len(), 2);
        assert!(read.iter().all(|stored| stored.agency == agency));
        assert_eq!(read.into_iter().map(|s| s.bet).collect::<Vec<_>>(), bets);
    }

    #[test]
    fn agency_file_errors_name_file_line_and_field() {
        let text = "Ana,Pérez,1,2000-01-01,1\nBob,Ray,12x,2000-01-01,2\n";
        let mut rows = AgencyFile::from_reader("agency-9.csv", text.as_bytes());
        assert!(rows.next().unwrap().is_ok());
        let error = rows.next().unwrap().unwrap_err();
        assert_eq!(error.line, 2);
        assert_eq!(error.error.field, Field::Document);
        assert_eq!(
            error.to_string(),
            "agency-9.csv:2: document is not made of decimal digits"
        );
    }

    #[test]
    fn agency_files_accept_crlf_and_lf() {
        let text = "A,B,1,2000-01-01,1\r\nC,D,2,2000-01-02,2\nE,F,3,2000-01-03,3";
        let rows: Vec<_> = AgencyFile::from_reader("x", text.as_bytes())
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows.len(), 3);
    }

    /// A reader handing out at most `chunk` bytes per read.
    struct Chunked<'a> {
        bytes: &'a [u8],
        chunk: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let len = self.chunk.min(buf.len()).min(self.bytes.len());
            buf[..len].copy_from_slice(&self.bytes[..len]);
            self.bytes = &self.bytes[len..];
            Ok(len)
        }
    }

    /// The line of the first error of an agency file, read in chunks of
    /// every size from 1 byte to the whole text (they must agree).
    fn first_error_line(text: &str) -> u64 {
        let lines: Vec<u64> = (1..=text.len())
            .map(|chunk| {
                let source = Chunked {
                    bytes: text.as_bytes(),
                    chunk,
                };
                AgencyFile::from_reader("x", source)
                    .find_map(Result::err)
                    .expect("the text has a bad row")
                    .line
            })
            .collect();
        assert!(lines.iter().all(|&line| line == lines[0]), "{lines:?}");
        lines[0]
    }

    const GOOD_ROWS: [&str; 4] = [
        "Ana,Pérez,1,2000-01-01,1",
        "\"Juan, Jr.\",\"Gómez, Díaz\",002,1990-12-31,12",
        "\"O\"\"Neil\",Ríos,3,1980-06-15,7574",
        "Lía,\"Ríos,,\",4,1980-06-15,0",
    ];

    #[test]
    fn a_bad_row_on_line_n_is_reported_on_line_n_with_crlf_or_lf_line_ends() {
        for end in ["\r\n", "\n"] {
            for bad in 0..=GOOD_ROWS.len() {
                let mut rows = GOOD_ROWS.to_vec();
                rows.insert(bad, "\"Bob, Jr.\",Ray,12x,2000-01-01,2");
                let expected = bad as u64 + 1;
                let text = rows.join(end);
                assert_eq!(first_error_line(&text), expected, "{text:?}");
                let text = text + end;
                assert_eq!(first_error_line(&text), expected, "{text:?}");
            }
        }
    }

    #[test]
    fn blank_lines_count_as_lines() {
        for end in ["\r\n", "\n"] {
            let text = [
                GOOD_ROWS[0],
                "",
                "",
                GOOD_ROWS[1],
                "",
                "Bob,Ray,12x,2000-01-01,2",
            ]
            .join(end);
            assert_eq!(first_error_line(&text), 6, "{text:?}");
        }
    }

    #[test]
    fn a_row_after_a_quoted_field_spanning_lines_is_reported_where_it_starts() {
        for end in ["\r\n", "\n"] {
            let text = [
                GOOD_ROWS[1],
                "\"Two",
                "lines\",Ray,2,2000-01-01,2",
                "Bob,Ray,12x,2000-01-01,3",
            ]
            .join(end);
            let errors: Vec<(u64, Field)> = AgencyFile::from_reader("x", text.as_bytes())
                .filter_map(Result::err)
                .map(|error| (error.line, error.error.field))
                .collect();
            // The name holding a line end is refused where its row starts.
            assert_eq!(
                errors,
                [(2, Field::FirstName), (4, Field::Document)],
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_bad_store_row_is_reported_on_its_line_with_crlf_or_lf_line_ends() {
        let bets = vec![bet("Ana, María", "Pérez"), bet("\"Quoted\"", "Ñandú, Sr.")];
        let mut bytes = Vec::new();
        encode_store_rows(AgencyId::new(2).unwrap(), &bets, &mut bytes);
        bytes.extend_from_slice(b"2,\"Bob, Jr.\",Ray,0123,1999-02-30,7574\r\n");
        encode_store_rows(AgencyId::new(2).unwrap(), &bets, &mut bytes);
        for lf_only in [false, true] {
            let mut bytes = bytes.clone();
            if lf_only {
                bytes.retain(|&byte| byte != b'\r');
            }
            let errors: Vec<(u64, FieldError)> =
                StoreRows::new(&bytes[..]).filter_map(Result::err).collect();
            assert_eq!(
                errors,
                [(
                    3,
                    FieldError::new(Field::Birthdate, FieldReason::InvalidDate)
                )],
                "lf_only: {lf_only}"
            );
        }
    }

    #[test]
    fn a_directory_is_not_an_agency_file() {
        let dir = tempfile::tempdir().unwrap();
        let error = AgencyFile::open(dir.path()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::IsADirectory);
    }

    #[test]
    fn rows_with_the_wrong_field_count_are_refused() {
        let row = csv::ByteRecord::from(vec!["a", "b", "1", "2000-01-01"]);
        let error = agency_row(&row).unwrap_err();
        assert_eq!(
            error.reason,
            FieldReason::FieldCount {
                expected: 5,
                found: 4
            }
        );
    }
}
