//! CSV rows: agency files in, `bets.csv` rows out and back.
//!
//! `bets.csv` is written exactly as Python's `csv.writer` writes by default:
//! minimal quoting (a field is quoted only when it holds a comma or a quote, and
//! quotes inside are doubled) and CRLF line ends. The course's Python
//! `load_bets` reads our file, and we read theirs.
//!
//! Reading is streaming: one row at a time, never the whole file. A refused
//! row is reported on the line where it starts, whatever the line ends (CRLF,
//! LF, or a lone CR, which ends a row as in `csv`) and however the source's
//! reads split the bytes. The rows are split by the private `row_reader`
//! (the `csv` crate's grammar; plain rows split where they lie).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::bet::{AgencyId, Bet, Birthdate, StoredBet};
#[cfg(test)]
use crate::bet::{MAX_NAME_BYTES, Name};
use crate::bet_batch::AsBetBatch;
#[cfg(test)]
use crate::bet_batch::BetBatch;
use crate::bet_fields::{BetFields, PlainBet};
use crate::bet_row::split_bet;
use crate::field::{Field, FieldError, FieldReason, RowError};
use crate::row_reader::{RawRow, RowReader};

/// Appends the store rows of `bets`, taken by `agency`, to `out`.
///
/// The bytes are those of Python's `csv.writer` with its default dialect:
/// a name is quoted only when it holds a comma, a quote or a line break, its
/// quotes doubled; the other fields (digits and a date) never need quotes;
/// rows end with CRLF. Every batch the central stores goes through here, so
/// it writes straight from the batch's bytes ([`crate::BetBatch`]: the frame's, in
/// the central) into `out`: no allocation and no formatting machinery per
/// bet (the `csv` crate's writer, which agrees byte for byte, is the oracle
/// of the tests). Bets given as [`Bet`]s are made a batch first.
///
/// ```
/// use lottery_bet::{encode_store_rows, AgencyId, Bet};
/// let bet = Bet::from_fields("Ana, María", "O\"Neil", "007", "2000-02-29", "42").unwrap();
/// let mut out = Vec::new();
/// encode_store_rows(AgencyId::new(3).unwrap(), &[bet], &mut out);
/// assert_eq!(out, b"3,\"Ana, Mar\xc3\xada\",\"O\"\"Neil\",007,2000-02-29,42\r\n");
/// ```
pub fn encode_store_rows<B: AsBetBatch + ?Sized>(agency: AgencyId, bets: &B, out: &mut Vec<u8>) {
    // The rows are copies of the batch's bytes, shaped as its checks
    // found (see `BetBatch::write_store_rows`).
    bets.as_bet_batch().write_store_rows(agency, out);
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
    rows: RowReader<R>,
}

impl<R: Read> StoreRows<R> {
    /// Reads store rows from `source`.
    pub fn new(source: R) -> Self {
        Self {
            rows: RowReader::new(source),
        }
    }
}

impl<R: Read> Iterator for StoreRows<R> {
    type Item = Result<StoredBet, (u64, FieldError)>;

    fn next(&mut self) -> Option<Self::Item> {
        let error = match self.rows.read() {
            Ok(false) => return None,
            Ok(true) => match store_row(self.rows.row()) {
                Ok(stored) => return Some(Ok(stored)),
                Err(error) => error,
            },
            Err(_) => malformed(),
        };
        Some(Err((self.rows.line(), error)))
    }
}

/// A streaming reader of an agency file (`agency-N.csv`).
///
/// ```no_run
/// use lottery_bet::AgencyFile;
/// for bet in AgencyFile::open("agency-1.csv")? {
///     let bet = bet?;
///     println!("{} plays {}", bet.document, bet.number);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AgencyFile<R: Read = File> {
    path: PathBuf,
    rows: RowReader<R>,
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
            rows: RowReader::new(source),
            today: Birthdate::LAST,
        }
    }

    /// Refuses, from now on, rows whose birthdate is after `today` (the
    /// reader's own date: the core has no clock), with their line, as any
    /// other invalid row ([`Bet::check_born_by`]). By default no date is
    /// too late.
    ///
    /// ```
    /// use lottery_bet::{AgencyFile, Birthdate, Field, FieldReason};
    /// let text = "Ana,Paz,1,2000-01-01,7\nLuis,Sosa,2,2031-01-01,8\n";
    /// let mut rows = AgencyFile::from_reader("agency-1.csv", text.as_bytes());
    /// rows.born_by(Birthdate::new(2030, 12, 31)?);
    /// assert!(rows.next().unwrap().is_ok());
    /// let error = rows.next().unwrap().unwrap_err();
    /// assert_eq!((error.line, error.error.field), (2, Field::Birthdate));
    /// assert_eq!(error.error.reason, FieldReason::InFuture);
    /// # Ok::<(), lottery_bet::FieldError>(())
    /// ```
    pub fn born_by(&mut self, today: Birthdate) -> &mut Self {
        self.today = today;
        self
    }

    /// How many bytes of the source were read so far (for progress reports).
    pub fn bytes_read(&self) -> u64 {
        self.rows.bytes_read()
    }
}

impl<R: Read> AgencyFile<R> {
    /// Reads the next row and checks its fields where the parser wrote them,
    /// with no [`Bet`] built: what an agency writes straight into a frame
    /// ([`BetFields`]). The rows, their errors and their lines are those of
    /// the iterator, which is this and [`BetFields::to_bet`].
    ///
    /// ```
    /// use lottery_bet::{AgencyFile, Field};
    /// let text = "Ana,Paz,1,2000-01-01,7\r\nLuis,Sosa,2x,2000-01-01,8\r\n";
    /// let mut rows = AgencyFile::from_reader("agency-1.csv", text.as_bytes());
    /// assert_eq!(rows.next_fields().unwrap()?.number().get(), 7);
    /// let error = rows.next_fields().unwrap().unwrap_err();
    /// assert_eq!((error.line, error.error.field), (2, Field::Document));
    /// assert!(rows.next_fields().is_none());
    /// # Ok::<(), lottery_bet::RowError>(())
    /// ```
    ///
    /// # Errors
    /// A [`RowError`] naming the file, the line where the row starts and
    /// the first invalid field.
    #[inline]
    pub fn next_fields(&mut self) -> Option<Result<BetFields<'_>, RowError>> {
        let error = match self.rows.read() {
            Ok(false) => return None,
            Ok(true) => match agency_row(self.rows.row())
                .and_then(|fields| fields.check_born_by(self.today).map(|()| fields))
            {
                Ok(fields) => return Some(Ok(fields)),
                Err(error) => error,
            },
            Err(_) => malformed(),
        };
        Some(Err(RowError {
            path: self.path.clone(),
            line: self.rows.line(),
            error,
        }))
    }
}

impl<R: Read> AgencyFile<R> {
    /// Reads the plain rows that follow in the read buffer and are valid
    /// bets, handing each to `each` as a [`PlainBet`], and returns how many
    /// it read; it stops at the first other row, which it leaves unread.
    /// The rows read and the state after them are those of as many
    /// [`AgencyFile::next_fields`] calls (the same rules, the same lines):
    /// a fast path for the usual row, to be called in turns with
    /// `next_fields`, which reads the row it stopped at (a quoted one, a
    /// refused one with its error, the end) and refills the buffer.
    ///
    /// ```
    /// use lottery_bet::AgencyFile;
    /// let text = "Ana,Paz,1,2000-01-01,7\r\nLuis,Sosa,2,2000-01-01,8\r\n\"Rey, Ema\",Gil,3,2000-01-01,9\r\n";
    /// let mut rows = AgencyFile::from_reader("agency-1.csv", text.as_bytes());
    /// let mut documents = Vec::new();
    /// // The first row of a source is never plain (a byte order mark).
    /// assert_eq!(rows.read_plain_bets(|_| unreachable!()), 0);
    /// documents.push(rows.next_fields().unwrap()?.document().to_vec());
    /// assert_eq!(rows.read_plain_bets(|bet| documents.push(bet.fields().document().to_vec())), 1);
    /// // A quoted row is left to `next_fields`.
    /// assert_eq!(rows.read_plain_bets(|_| unreachable!()), 0);
    /// documents.push(rows.next_fields().unwrap()?.document().to_vec());
    /// assert!(rows.next_fields().is_none());
    /// assert_eq!(documents, [b"1", b"2", b"3"]);
    /// # Ok::<(), lottery_bet::RowError>(())
    /// ```
    #[inline]
    pub fn read_plain_bets(&mut self, mut each: impl FnMut(PlainBet<'_>)) -> u64 {
        let today = self.today;
        self.rows.read_plain(|rest, quote_free| {
            let (fields, head, end) = split_bet(rest, quote_free)?;
            fields.check_born_by(today).ok()?;
            each(PlainBet::new(fields, &rest[..head]));
            Some(end)
        })
    }
}

impl<R: Read> Iterator for AgencyFile<R> {
    type Item = Result<Bet, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_fields()?.map(|fields| fields.to_bet()))
    }
}

/// Checks one row of an agency file where it lies:
/// `first_name,last_name,document,birthdate,number`.
///
/// A row whose five fields pass their checks is UTF-8 (the names were
/// checked UTF-8, the other fields ASCII), so the row's own UTF-8 check runs
/// only for a refused row, to refuse it as before: not UTF-8 first, then
/// the field count, then the first invalid field.
///
/// # Errors
/// [`FieldReason::Malformed`] on a row that is not UTF-8,
/// [`FieldReason::FieldCount`] on a row with other than 5 fields, else the
/// first invalid field.
#[inline(always)]
fn agency_row(row: RawRow<'_>) -> Result<BetFields<'_>, FieldError> {
    let checked = match row.fields::<5>() {
        Some([first, last, document, birthdate, number]) => {
            BetFields::check(first, last, document, birthdate, number)
        }
        None => Err(field_count::<5>(row)),
    };
    checked.map_err(|error| row_fields::<5>(row).err().unwrap_or(error))
}

/// The refusal of a row with other than `N` fields.
#[cold]
fn field_count<const N: usize>(row: RawRow<'_>) -> FieldError {
    FieldError::new(
        Field::Row,
        FieldReason::FieldCount {
            expected: N,
            found: row.ends.len(),
        },
    )
}

/// Parses one row of `bets.csv`:
/// `agency,first_name,last_name,document,birthdate,number`.
///
/// # Errors
/// [`FieldReason::Malformed`] on a row that is not UTF-8,
/// [`FieldReason::FieldCount`] on a row with other than 6 fields, else the
/// first invalid field.
fn store_row(row: RawRow<'_>) -> Result<StoredBet, FieldError> {
    let [agency, first, last, document, birthdate, number] = row_fields(row)?;
    Ok(StoredBet {
        agency: agency.parse()?,
        bet: Bet::from_fields(first, last, document, birthdate, number)?,
    })
}

/// The fields of a row that must have exactly `N`, borrowed from it (rows
/// are parsed one per bet: no allocation here).
///
/// The row's bytes are checked UTF-8 in one pass: every field is UTF-8 if
/// and only if their concatenation is and each field ends on a character
/// boundary of it (one call instead of one per field: on rows of a few
/// dozen bytes, the check's fixed cost is most of it). The commas between
/// a plain row's fields are ASCII: they change neither.
///
/// # Errors
/// [`FieldReason::Malformed`] when a field is not UTF-8, else
/// [`FieldReason::FieldCount`] on a row with other than `N` fields.
fn row_fields<const N: usize>(row: RawRow<'_>) -> Result<[&str; N], FieldError> {
    let text = std::str::from_utf8(row.bytes).map_err(|_| malformed())?;
    let mut fields = [""; N];
    for (index, range) in row.ranges().enumerate() {
        let field = text.get(range).ok_or_else(malformed)?;
        if let Some(slot) = fields.get_mut(index) {
            *slot = field;
        }
    }
    if row.ends.len() != N {
        return Err(field_count::<N>(row));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunked::Chunked;
    use proptest::prelude::*;
    use std::ops::Range;

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
        prop_oneof![
            "[a-zA-Z ,\"'ñé🎲#;]{1,40}",
            "\\PC{1,30}",
            "[a-z,\"é]{100,127}"
        ]
        .prop_filter(
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

        #[test]
        fn rows_of_bets_checked_where_they_lie_are_what_the_csv_crate_writes(
            agency in 1u32..,
            bets in proptest::collection::vec(any_bet(), 0..8),
            junk in proptest::sample::select(vec![b'"', b',', b'\n', b'a', 0xFF]),
            gaps in prop_oneof![
                Just(vec![1; 33]),
                proptest::collection::vec(0usize..=3, 33),
            ],
        ) {
            // The bets' texts laid out as a frame lays them, with a byte of
            // junk (a quote, a comma...) before each, checked in place (the
            // rows are then the texts copied at once, the junk made
            // commas); or with gaps of other lengths (the rows are then
            // written field by field).
            let mut bytes = Vec::new();
            let mut ranges = Vec::new();
            for (at, bet) in bets.iter().enumerate() {
                for (field, text) in [
                    bet.first_name.as_str().as_bytes(),
                    bet.last_name.as_str().as_bytes(),
                    bet.document.as_str().as_bytes(),
                    &bet.birthdate.to_text(),
                ].into_iter().enumerate() {
                    bytes.extend(std::iter::repeat_n(junk, gaps[(4 * at + field) % 32]));
                    ranges.push(bytes.len()..bytes.len() + text.len());
                    bytes.extend_from_slice(text);
                }
            }
            bytes.extend(std::iter::repeat_n(junk, gaps[32]));
            let mut batch = BetBatch::builder(bytes, bets.len());
            for (bet, texts) in bets.iter().zip(ranges.chunks(4)) {
                let [first, last, document, birthdate] = <[Range<usize>; 4]>::try_from(texts.to_vec()).unwrap();
                batch.push(first, last, document, birthdate, bet.number.get().into()).unwrap();
            }
            let agency = AgencyId::new(agency).unwrap();
            let mut ours = b"earlier".to_vec();
            encode_store_rows(agency, &batch.finish(), &mut ours);
            let mut expected = b"earlier".to_vec();
            expected.extend(rows_by_the_csv_crate(agency, &bets));
            prop_assert_eq!(ours, expected);
        }
    }

    #[test]
    fn every_bet_number_is_written_in_decimal() {
        let bets: Vec<Bet> = (0..=9999)
            .map(|number| Bet::from_parts("A", "B", "1", b"2000-01-01", number).unwrap())
            .collect();
        let mut ours = Vec::new();
        encode_store_rows(AgencyId::new(12).unwrap(), &bets, &mut ours);
        assert_eq!(
            ours,
            rows_by_the_csv_crate(AgencyId::new(12).unwrap(), &bets)
        );
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

    /// The line of the first error of an agency file, read in chunks of
    /// every size from 1 byte to the whole text (they must agree).
    fn first_error_line(text: &str) -> u64 {
        let lines: Vec<u64> = (1..=text.len())
            .map(|chunk| {
                let source = Chunked::new(text.as_bytes(), chunk);
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
    fn an_unclosed_quote_at_the_end_is_reported_where_its_row_starts() {
        for end in ["\r\n", "\n"] {
            // The quote never closes: the row takes the rest of the file,
            // its last line end included, as one field.
            let text = [GOOD_ROWS[0], "\"Open,Ray,2,2000-01-01,2", ""].join(end);
            assert_eq!(first_error_line(&text), 2, "{text:?}");
        }
    }

    #[test]
    fn rows_longer_than_the_first_buffers_are_read_whole() {
        let long_name = "Ñ".repeat(MAX_NAME_BYTES / 2);
        let long = bet(&long_name, &long_name);
        let mut bytes = Vec::new();
        encode_store_rows(
            AgencyId::new(2).unwrap(),
            std::slice::from_ref(&long),
            &mut bytes,
        );
        bytes.extend_from_slice(&[b','; 40]);
        bytes.extend_from_slice(b"\r\n");
        encode_store_rows(
            AgencyId::new(2).unwrap(),
            std::slice::from_ref(&long),
            &mut bytes,
        );
        bytes.extend_from_slice(b"2,Bob,Ray,12x,2000-01-01,2\r\n");
        let rows: Vec<_> = StoreRows::new(&bytes[..]).collect();
        assert_eq!(
            rows,
            [
                Ok(StoredBet {
                    agency: AgencyId::new(2).unwrap(),
                    bet: long.clone()
                }),
                Err((
                    2,
                    FieldError::new(
                        Field::Row,
                        FieldReason::FieldCount {
                            expected: 6,
                            found: 41
                        }
                    )
                )),
                Ok(StoredBet {
                    agency: AgencyId::new(2).unwrap(),
                    bet: long
                }),
                Err((4, FieldError::new(Field::Document, FieldReason::NotDigits))),
            ]
        );
    }

    /// A source that hands out its bytes, then fails.
    struct FailingAfter<'a>(&'a [u8]);

    impl Read for FailingAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("unplugged"));
            }
            self.0.read(buf)
        }
    }

    #[test]
    fn a_failed_read_is_refused_once_on_the_line_of_the_last_byte_read() {
        let good = "A,B,1,2000-01-01,1";
        for (text, line) in [
            (format!("{good}\n"), 1),
            (format!("{good}\r\n"), 1),
            (format!("{good}\n\n"), 2),
            (format!("{good}\r\nC,D"), 2),
            (format!("{good}\n\"C\n"), 2),
        ] {
            let mut rows = AgencyFile::from_reader("x", FailingAfter(text.as_bytes()));
            assert!(rows.next().unwrap().is_ok(), "{text:?}");
            let error = rows.next().unwrap().unwrap_err();
            assert_eq!((error.line, error.error), (line, malformed()), "{text:?}");
            assert!(rows.next().is_none(), "{text:?}");
        }
    }

    /// The rows of `bytes` as `csv::Reader` reads them, each checked UTF-8
    /// field by field, then by `parse`; a refused row with the line where
    /// its first byte is: the oracle of [`RowReader`] (the first version of
    /// these readers, slow).
    fn read_by_the_csv_crate<T>(
        bytes: &[u8],
        parse: impl Fn(&[&str]) -> Result<T, FieldError>,
    ) -> Vec<Result<T, (u64, FieldError)>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut record = csv::ByteRecord::new();
        let mut rows = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            // The record's position is where the reader started looking for
            // it: the line ends it skipped come first.
            let mut start = usize::try_from(record.position().unwrap().byte()).unwrap();
            while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
                start += 1;
            }
            let line = 1 + bytes[..start].iter().filter(|&&byte| byte == b'\n').count() as u64;
            let fields: Result<Vec<&str>, _> = record.iter().map(std::str::from_utf8).collect();
            let row = fields
                .map_err(|_| malformed())
                .and_then(|fields| parse(&fields));
            rows.push(row.map_err(|error| (line, error)));
        }
        rows
    }

    fn field_count(expected: usize, fields: &[&str]) -> FieldError {
        FieldError::new(
            Field::Row,
            FieldReason::FieldCount {
                expected,
                found: fields.len(),
            },
        )
    }

    fn agency_fields(fields: &[&str]) -> Result<Bet, FieldError> {
        match *fields {
            [first, last, document, birthdate, number] => {
                Bet::from_fields(first, last, document, birthdate, number)
            }
            _ => Err(field_count(5, fields)),
        }
    }

    fn store_fields(fields: &[&str]) -> Result<StoredBet, FieldError> {
        match *fields {
            [agency, first, last, document, birthdate, number] => Ok(StoredBet {
                agency: agency.parse()?,
                bet: Bet::from_fields(first, last, document, birthdate, number)?,
            }),
            _ => Err(field_count(6, fields)),
        }
    }

    /// Pieces of CSV text: whole rows (good, bad, not UTF-8, of agency files
    /// and of the store), line ends of the three kinds, quoted fields with
    /// line ends inside, and a few bytes of what matters to the parser. (No
    /// byte order mark: `csv_core` strips one only when the first read holds
    /// all of it, so the rows it yields would depend on the reads, in both
    /// readers alike; its three bytes hold no line end.)
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        let rows = [
            GOOD_ROWS[0],
            GOOD_ROWS[1],
            GOOD_ROWS[2],
            GOOD_ROWS[3],
            "\"Bob, Jr.\",Ray,12x,2000-01-01,2",
            "B\u{f1}b,Ray,1,2000-02-30,2",
            "2,Ana,Pérez,1,2000-01-01,1",
            "3,\"Ríos, Lía\",\"O\"\"Neil\",4,1980-06-15,0",
            "0,Ana,Pérez,1,2000-01-01,1",
            "\"Two\nlines\",Ray,2,2000-01-01,2",
            "\"x\r\n\",y",
            "a,b,1,2000-01-01",
        ];
        let rows: Vec<Vec<u8>> = rows.iter().map(|row| row.as_bytes().to_vec()).collect();
        prop_oneof![
            4 => proptest::sample::select(rows),
            1 => Just(b"B\xffb,Ray,1,2000-01-01,2".to_vec()),
            3 => proptest::sample::select(vec![b"\r\n".to_vec(), b"\n".to_vec(), b"\r".to_vec()]),
            2 => proptest::collection::vec(
                proptest::sample::select(b"a1,\"\r\n\xc3\xb1\xff-".to_vec()),
                0..6,
            ),
        ]
    }

    proptest! {
        #[test]
        fn rows_and_their_lines_are_those_of_the_csv_crate_however_the_reads_split_them(
            pieces in proptest::collection::vec(piece(), 0..16),
            chunk in 1usize..80,
        ) {
            let bytes = pieces.concat();
            let source = || Chunked::new(&bytes, chunk);

            let mut agency = AgencyFile::from_reader("x", source());
            let read: Vec<_> = agency
                .by_ref()
                .map(|row| row.map_err(|error| (error.line, error.error)))
                .collect();
            prop_assert_eq!(read, read_by_the_csv_crate(&bytes, agency_fields));
            prop_assert_eq!(agency.bytes_read(), bytes.len() as u64);

            let read: Vec<_> = StoreRows::new(source()).collect();
            prop_assert_eq!(read, read_by_the_csv_crate(&bytes, store_fields));
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
        // The fields `a`, `b`, `1` and `2000-01-01`.
        let row = RawRow {
            bytes: b"ab12000-01-01",
            ends: &[1, 2, 3, 13],
            separator: 0,
        };
        let error = agency_row(row).unwrap_err();
        assert_eq!(
            error.reason,
            FieldReason::FieldCount {
                expected: 5,
                found: 4
            }
        );
    }
}
