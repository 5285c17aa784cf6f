//! CSV rows: agency files in, `bets.csv` rows out and back.
//!
//! `bets.csv` is written exactly as Python's `csv.writer` writes by default:
//! minimal quoting (a field is quoted only when it holds a comma or a quote, and
//! quotes inside are doubled) and CRLF line ends. The course's Python
//! `load_bets` reads our file, and we read theirs.
//!
//! Reading is streaming: one row at a time, never the whole file.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::bet::{AgencyId, Bet, StoredBet};
use crate::error::{Field, FieldError, FieldReason, RowError};

/// Appends the store rows of `bets`, taken by `agency`, to `out`.
///
/// ```
/// use lottery_core::{encode_store_rows, AgencyId, Bet};
/// let bet = Bet::from_fields("Ana, María", "O\"Neil", "007", "2000-02-29", "42").unwrap();
/// let mut out = Vec::new();
/// encode_store_rows(AgencyId::new(3).unwrap(), &[bet], &mut out);
/// assert_eq!(out, b"3,\"Ana, Mar\xc3\xada\",\"O\"\"Neil\",007,2000-02-29,42\r\n");
/// ```
pub fn encode_store_rows(agency: AgencyId, bets: &[Bet], out: &mut Vec<u8>) {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(out);
    let agency = agency.to_string();
    for bet in bets {
        let birthdate = bet.birthdate.to_string();
        let number = bet.number.to_string();
        writer
            .write_record([
                agency.as_str(),
                bet.first_name.as_str(),
                bet.last_name.as_str(),
                bet.document.as_str(),
                birthdate.as_str(),
                number.as_str(),
            ])
            .expect("writing to a Vec cannot fail");
    }
    writer.flush().expect("flushing to a Vec cannot fail");
}

fn reader_builder() -> csv::ReaderBuilder {
    let mut builder = csv::ReaderBuilder::new();
    builder.has_headers(false).flexible(true);
    builder
}

/// The line a record started on (from 1); the reader's own position when the
/// record could not be read.
fn record_line<R: Read>(record: &csv::StringRecord, rows: &csv::Reader<R>) -> u64 {
    record
        .position()
        .map_or_else(|| rows.position().line(), csv::Position::line)
}

fn malformed() -> FieldError {
    FieldError::new(Field::Row, FieldReason::Malformed)
}

/// A streaming reader of `bets.csv` rows.
///
/// Yields each stored bet with its line number (from 1), or the first row that
/// does not parse.
#[derive(Debug)]
pub struct StoreRows<R: Read> {
    rows: csv::Reader<R>,
    record: csv::StringRecord,
}

impl<R: Read> StoreRows<R> {
    /// Reads store rows from `source`.
    pub fn new(source: R) -> Self {
        Self {
            rows: reader_builder().from_reader(source),
            record: csv::StringRecord::new(),
        }
    }
}

impl<R: Read> Iterator for StoreRows<R> {
    type Item = Result<StoredBet, (u64, FieldError)>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = self.rows.read_record(&mut self.record);
        let line = record_line(&self.record, &self.rows);
        match result {
            Ok(false) => None,
            Ok(true) => Some(StoredBet::from_store_row(&self.record).map_err(|e| (line, e))),
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
    rows: csv::Reader<R>,
    record: csv::StringRecord,
}

impl AgencyFile<File> {
    /// Opens an agency file.
    ///
    /// # Errors
    /// The error of opening the file.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        Ok(Self::from_reader(path, File::open(path)?))
    }
}

impl<R: Read> AgencyFile<R> {
    /// Reads an agency file from `source`; `path` names it in errors.
    pub fn from_reader(path: impl Into<PathBuf>, source: R) -> Self {
        Self {
            path: path.into(),
            rows: reader_builder().from_reader(source),
            record: csv::StringRecord::new(),
        }
    }

    /// How many bytes of the source were read so far (for progress reports).
    pub fn bytes_read(&self) -> u64 {
        self.rows.position().byte()
    }
}

impl<R: Read> Iterator for AgencyFile<R> {
    type Item = Result<Bet, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = self.rows.read_record(&mut self.record);
        let line = record_line(&self.record, &self.rows);
        let error = match result {
            Ok(false) => return None,
            Ok(true) => match Bet::from_agency_row(&self.record) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
