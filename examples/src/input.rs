//! An agency's input file, checked whole before anything is sent.
//!
//! A bad row must stop an agency before it sends a single bet (a batch the
//! central stored cannot be taken back), so reading is two-phase:
//!
//! 1. [`AgencyInput::load`] streams the file once, validating every row and
//!    counting the bets. A file of at most [`IN_MEMORY_LIMIT`] bytes keeps its
//!    bets from this pass (the course's files are about 2 MB; parsing them
//!    twice would double the agency's CPU time for nothing).
//! 2. [`AgencyInput::into_bets`] hands the bets out: from memory, or for a longer
//!    file by streaming it again, so memory stays bounded whatever the size.
//!
//! Should a long file change between the passes, the second pass stops at the
//! first bad row and [`BetStream::finish`] reports it; the agency then fails
//! before it finishes, so the central never draws on a half-sent file.
//!
//! A row is bad for the central's reasons, and one more it cannot check
//! before the central: a birthdate after the agency's own date ([`today`]),
//! which the central would refuse too (with its own date).

use std::fs::File;
use std::path::{Path, PathBuf};

use std::time::{SystemTime, UNIX_EPOCH};

use lottery_core::{AgencyFile, Bet, BetNumber, Birthdate, Document};

use crate::error::InputError;

/// Files up to this size are parsed once and kept in memory; longer ones are
/// streamed twice (validate, then send).
pub const IN_MEMORY_LIMIT: u64 = 32 * 1024 * 1024;

/// A lower bound of the bytes of one row (`A,B,1,2000-01-01,1` and a line
/// end), to size the vector of a held file: an over-estimate of the count
/// costs only address space never touched.
const BYTES_PER_ROW: u64 = 24;

/// The agency's own date: the UTC date of its system clock (the date its
/// log lines show). A clock before 1970 is not believed: no date is then too
/// late.
pub fn today() -> Birthdate {
    let Ok(since_epoch) = SystemTime::now().duration_since(UNIX_EPOCH) else {
        return Birthdate::LAST;
    };
    let (year, month, day) = lottery_log::utc_date(since_epoch.as_secs());
    match (u16::try_from(year), u8::try_from(month), u8::try_from(day)) {
        (Ok(year), Ok(month), Ok(day)) => {
            Birthdate::new(year, month, day).unwrap_or(Birthdate::LAST)
        }
        _ => Birthdate::LAST,
    }
}

/// An agency's bets, every one of them already validated.
#[derive(Debug)]
pub struct AgencyInput {
    path: PathBuf,
    count: u64,
    held: Option<Vec<Bet>>,
    /// Rows born after this are refused (on every pass of the file).
    today: Birthdate,
}

impl AgencyInput {
    /// Validates the agency file at `path` (one streaming pass); a row
    /// whose birthdate is after `today` (the agency's date, [`today`]) is a
    /// bad row.
    ///
    /// # Errors
    /// [`InputError::Open`] when it cannot be opened (it does not exist, is a
    /// directory, may not be read), [`InputError::Row`] for the first bad row
    /// (file, line and field). An empty file is no error: it holds 0 bets.
    pub fn load(path: &Path, today: Birthdate) -> Result<Self, InputError> {
        Self::load_with_limit(path, IN_MEMORY_LIMIT, today)
    }

    /// [`AgencyInput::load`] with another in-memory limit (tests use 0 to
    /// force the streaming path).
    ///
    /// # Errors
    /// As [`AgencyInput::load`].
    pub fn load_with_limit(
        path: &Path,
        in_memory_limit: u64,
        today: Birthdate,
    ) -> Result<Self, InputError> {
        let open_error = |cause| InputError::Open {
            path: path.to_path_buf(),
            cause,
        };
        let size = std::fs::metadata(path).map_err(open_error)?.len();
        let mut rows = AgencyFile::open(path).map_err(open_error)?;
        rows.born_by(today);
        // Sized from the file up front (course rows take about 46 bytes), so
        // the bets are not copied again and again as the vector grows.
        let mut held = (size <= in_memory_limit)
            .then(|| Vec::with_capacity(usize::try_from(size / BYTES_PER_ROW).unwrap_or(0)));
        let mut count = 0;
        for bet in rows {
            let bet = bet?;
            count += 1;
            if let Some(held) = &mut held {
                held.push(bet);
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            count,
            held,
            today,
        })
    }

    /// One bet given directly (the course's single-bet mode).
    pub fn single(bet: Bet) -> Self {
        Self {
            path: PathBuf::from("<environment>"),
            count: 1,
            held: Some(vec![bet]),
            // Not checked here: the central refuses it with its own date.
            today: Birthdate::LAST,
        }
    }

    /// The file (or `<environment>` for a single bet).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many bets there are.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The bets, in file order, handed out without copies.
    ///
    /// # Errors
    /// [`InputError::Open`] when a streamed file cannot be opened again.
    pub fn into_bets(self) -> Result<BetStream, InputError> {
        let source = match self.held {
            Some(bets) => Source::Memory(bets.into_iter()),
            None => Source::File(open_again(&self.path, self.today)?),
        };
        Ok(BetStream {
            source,
            error: None,
        })
    }

    /// The documents of the bets playing `winning`, in file order: what the
    /// central must answer this agency after the draw.
    ///
    /// # Errors
    /// [`InputError::Open`] or [`InputError::Row`] when a streamed file cannot
    /// be read again as it was validated.
    pub fn winners(&self, winning: BetNumber) -> Result<Vec<Document>, InputError> {
        let plays = |bet: &Bet| bet.number == winning;
        match &self.held {
            Some(bets) => Ok(bets
                .iter()
                .filter(|bet| plays(bet))
                .map(|bet| bet.document.clone())
                .collect()),
            None => {
                let mut winners = Vec::new();
                for bet in open_again(&self.path, self.today)? {
                    let bet = bet?;
                    if plays(&bet) {
                        winners.push(bet.document);
                    }
                }
                Ok(winners)
            }
        }
    }
}

fn open_again(path: &Path, today: Birthdate) -> Result<AgencyFile<File>, InputError> {
    let mut rows = AgencyFile::open(path).map_err(|cause| InputError::Open {
        path: path.to_path_buf(),
        cause,
    })?;
    rows.born_by(today);
    Ok(rows)
}

enum Source {
    Memory(std::vec::IntoIter<Bet>),
    File(AgencyFile<File>),
}

/// The bets of an [`AgencyInput`], in file order. It ends early if a streamed
/// file no longer validates; [`BetStream::finish`] then says why.
pub struct BetStream {
    source: Source,
    error: Option<InputError>,
}

impl std::fmt::Debug for BetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BetStream").finish_non_exhaustive()
    }
}

impl BetStream {
    /// Whether every bet was handed out.
    ///
    /// # Errors
    /// [`InputError::Row`] when a streamed file changed since it was validated.
    pub fn finish(self) -> Result<(), InputError> {
        self.error.map_or(Ok(()), Err)
    }
}

impl Iterator for BetStream {
    type Item = Bet;

    fn next(&mut self) -> Option<Bet> {
        match &mut self.source {
            Source::Memory(bets) => bets.next(),
            Source::File(rows) => match rows.next()? {
                Ok(bet) => Some(bet),
                Err(error) => {
                    self.error = Some(InputError::Row(error));
                    None
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use lottery_core::Field;
    use lottery_log::chain;

    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    const ROWS: &str = "Ana,Pérez,1,2000-01-01,7574\r\n\"Juan, Jr.\",Gómez,002,1990-12-31,12\nLía,Ríos,3,1980-06-15,7574\n";

    #[test]
    fn both_paths_hand_out_every_bet_in_order() {
        let file = file(ROWS);
        for limit in [0, IN_MEMORY_LIMIT] {
            let input = AgencyInput::load_with_limit(file.path(), limit, today()).unwrap();
            assert_eq!(input.count(), 3);
            let mut bets = input.into_bets().unwrap();
            let documents: Vec<String> =
                bets.by_ref().map(|bet| bet.document.to_string()).collect();
            assert_eq!(documents, ["1", "002", "3"]);
            bets.finish().unwrap();
        }
    }

    #[test]
    fn winners_are_the_documents_playing_the_number_in_file_order() {
        let file = file(ROWS);
        for limit in [0, IN_MEMORY_LIMIT] {
            let input = AgencyInput::load_with_limit(file.path(), limit, today()).unwrap();
            let winners = input.winners(BetNumber::DEFAULT_WINNING).unwrap();
            let winners: Vec<&str> = winners.iter().map(Document::as_str).collect();
            assert_eq!(winners, ["1", "3"]);
        }
    }

    #[test]
    fn a_bad_row_is_reported_with_file_line_and_field() {
        let file = file("Ana,Pérez,1,2000-01-01,1\nBob,Ray,2,2000-01-01,10000\n");
        let error = AgencyInput::load(file.path(), today()).unwrap_err();
        let InputError::Row(row) = &error else {
            panic!("expected a row error, got {error}");
        };
        assert_eq!(row.line, 2);
        assert_eq!(row.error.field, Field::Number);
        assert_eq!(
            chain(&error),
            format!(
                "bad row: {}:2: number is out of range",
                file.path().display()
            )
        );
    }

    #[test]
    fn a_bad_row_of_a_crlf_file_is_reported_on_its_line() {
        let file = file("Ana,Pérez,1,2000-01-01,1\r\n\"Ray, Bob\",Ray,2,2000-02-30,10\r\n");
        let error = AgencyInput::load(file.path(), today()).unwrap_err();
        assert_eq!(
            chain(&error),
            format!(
                "bad row: {}:2: birthdate is not a real calendar date",
                file.path().display()
            )
        );
    }

    #[test]
    fn a_birthdate_after_today_is_a_bad_row_on_both_paths() {
        let file = file("Ana,Pérez,1,2000-01-01,1\nBob,Ray,2,2025-06-16,2\n");
        let day = |text: &str| text.parse::<Birthdate>().unwrap();
        for limit in [0, IN_MEMORY_LIMIT] {
            let error =
                AgencyInput::load_with_limit(file.path(), limit, day("2025-06-15")).unwrap_err();
            assert_eq!(
                chain(&error),
                format!(
                    "bad row: {}:2: birthdate is after today",
                    file.path().display()
                )
            );
            // Born today is fine; the streamed second pass checks it too.
            let input =
                AgencyInput::load_with_limit(file.path(), limit, day("2025-06-16")).unwrap();
            assert_eq!(input.into_bets().unwrap().count(), 2);
        }
    }

    #[test]
    fn a_missing_file_is_named_as_missing() {
        let error = AgencyInput::load(Path::new("/nonexistent/agency-1.csv"), today()).unwrap_err();
        assert!(matches!(error, InputError::Open { .. }), "{error}");
        assert_eq!(
            chain(&error),
            "cannot read the agency file /nonexistent/agency-1.csv: it does not exist"
        );
    }

    #[test]
    fn a_directory_is_named_as_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let error = AgencyInput::load(dir.path(), today()).unwrap_err();
        assert_eq!(
            chain(&error),
            format!(
                "cannot read the agency file {}: it is a directory, not a file",
                dir.path().display()
            )
        );
    }

    #[test]
    fn a_file_that_may_not_be_read_says_permission_denied() {
        // Built by hand: the tests may run as root, who reads any file.
        let error = InputError::Open {
            path: PathBuf::from("agency-1.csv"),
            cause: std::io::ErrorKind::PermissionDenied.into(),
        };
        assert_eq!(
            chain(&error),
            "cannot read the agency file agency-1.csv: permission denied"
        );
    }

    #[test]
    fn an_empty_file_holds_no_bets() {
        for text in ["", "\r\n\n"] {
            let file = file(text);
            for limit in [0, IN_MEMORY_LIMIT] {
                let input = AgencyInput::load_with_limit(file.path(), limit, today()).unwrap();
                assert_eq!(input.count(), 0);
                assert_eq!(input.into_bets().unwrap().count(), 0);
            }
        }
    }

    #[test]
    fn a_file_changed_after_validation_stops_the_stream_with_the_reason() {
        let file = file(ROWS);
        let input = AgencyInput::load_with_limit(file.path(), 0, today()).unwrap();
        std::fs::write(file.path(), "Ana,Pérez,1,2000-01-01,1\nbroken\n").unwrap();
        let mut bets = input.into_bets().unwrap();
        assert_eq!(bets.by_ref().count(), 1);
        assert!(matches!(bets.finish(), Err(InputError::Row(_))));
    }
}
