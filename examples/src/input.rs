//! An agency's input file, checked whole before anything is sent.
//!
//! A bad row must stop an agency before it sends a single bet (a batch the
//! central stored cannot be taken back), so reading is two-phase:
//!
//! 1. [`AgencyInput::load`] streams the file once, validating every row and
//!    counting the bets. A file of at most [`IN_MEMORY_LIMIT`] bytes keeps its
//!    bets from this pass (the course's files are about 2 MB; parsing them
//!    twice would double the agency's CPU time for nothing).
//!    The held bets are kept in their wire encoding ([`EncodedBets`]): each
//!    row is parsed, checked and encoded in one pass straight from the
//!    parser's bytes ([`AgencyFile::next_fields`]), with no `String` and no
//!    `Bet` per row, and sending them copies bytes into frames.
//! 2. [`AgencyInput::bets`] hands the bets out: from memory, or for a longer
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

use lottery_bet::{AgencyFile, Bet, BetNumber, Birthdate, Document};
use lottery_net::{
    BatchBuilder, BatchSource, EncodeError, EncodedBet, EncodedBets, EncodedIter, Pushed, ToBatch,
};

use crate::error::InputError;

/// Files up to this size are parsed once and kept in memory; longer ones are
/// streamed twice (validate, then send).
pub const IN_MEMORY_LIMIT: u64 = 32 * 1024 * 1024;

/// The agency's own date: the UTC date of its system clock (the date its
/// log lines show). A clock before 1970 is not believed: no date is then too
/// late.
pub fn today() -> Birthdate {
    lottery_log::utc_today().map_or(Birthdate::LAST, Birthdate::latest_on)
}

/// An agency's bets, every one of them already validated.
#[derive(Debug)]
pub struct AgencyInput {
    path: PathBuf,
    count: u64,
    held: Option<EncodedBets>,
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
        // An encoded bet takes about the bytes of its row (the line end
        // and the commas become length bytes; the number shrinks).
        let mut held = (size <= in_memory_limit)
            .then(|| EncodedBets::with_capacity(usize::try_from(size).unwrap_or(0)));
        let mut count = 0;
        loop {
            // The usual rows, plain and valid, a buffer at a time; then the
            // row that stopped them (quoted, refused, past the buffer, the
            // end) the general way, which reports a bad row as before.
            count += match &mut held {
                Some(held) => rows.read_plain_bets(|bet| held.push_plain(&bet)),
                None => rows.read_plain_bets(|_| {}),
            };
            let Some(bet) = rows.next_fields() else {
                break;
            };
            let bet = bet?;
            count += 1;
            if let Some(held) = &mut held {
                held.push_fields(&bet);
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
        let mut held = EncodedBets::default();
        held.push_bet(&bet);
        Self {
            path: PathBuf::from("<environment>"),
            count: 1,
            held: Some(held),
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
    pub fn bets(&self) -> Result<BetStream<'_>, InputError> {
        let source = match &self.held {
            Some(bets) => Source::Memory(bets.iter()),
            None => Source::File(open_again(&self.path, self.today)?),
        };
        Ok(BetStream {
            source,
            carried: None,
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
                .filter(|bet| bet.number() == winning.get())
                .map(|bet| Document::new(bet.document()).expect("a held document was validated"))
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

enum Source<'a> {
    Memory(EncodedIter<'a>),
    File(AgencyFile<File>),
}

/// One bet of an [`AgencyInput`]: encoded already (a held file), or read
/// again from a streamed file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum InputBet<'a> {
    /// A bet of a file held in memory, in its wire encoding.
    Held(EncodedBet<'a>),
    /// A bet of a streamed file.
    Read(Bet),
}

impl InputBet<'_> {
    /// The bet's document (DNI).
    pub fn document(&self) -> &str {
        match self {
            InputBet::Held(bet) => bet.document(),
            InputBet::Read(bet) => bet.document.as_str(),
        }
    }
}

impl ToBatch for InputBet<'_> {
    #[inline]
    fn push_to(&self, builder: &mut BatchBuilder) -> Result<Pushed, EncodeError> {
        match self {
            InputBet::Held(bet) => bet.push_to(builder),
            InputBet::Read(bet) => bet.push_to(builder),
        }
    }
}

/// The bets of an [`AgencyInput`], in file order. It ends early if a streamed
/// file no longer validates; [`BetStream::finish`] then says why.
pub struct BetStream<'a> {
    source: Source<'a>,
    /// A streamed bet that did not fit the last batch ([`BatchSource::fill`]):
    /// the next one handed out.
    carried: Option<InputBet<'a>>,
    error: Option<InputError>,
}

impl std::fmt::Debug for BetStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BetStream").finish_non_exhaustive()
    }
}

impl BetStream<'_> {
    /// Whether every bet was handed out.
    ///
    /// # Errors
    /// [`InputError::Row`] when a streamed file changed since it was validated.
    pub fn finish(self) -> Result<(), InputError> {
        self.error.map_or(Ok(()), Err)
    }
}

impl<'a> Iterator for BetStream<'a> {
    type Item = InputBet<'a>;

    #[inline]
    fn next(&mut self) -> Option<InputBet<'a>> {
        if let Some(bet) = self.carried.take() {
            return Some(bet);
        }
        match &mut self.source {
            Source::Memory(bets) => bets.next().map(InputBet::Held),
            Source::File(rows) => match rows.next()? {
                Ok(bet) => Some(InputBet::Read(bet)),
                Err(error) => {
                    self.error = Some(InputError::Row(error));
                    None
                }
            },
        }
    }
}

/// The client's view of the bets: a held file fills each batch with one
/// copy of its encoded bets; a streamed file, a bet at a time.
impl BatchSource for BetStream<'_> {
    fn skip_bets(&mut self, count: u64) -> u64 {
        if let (Source::Memory(bets), None) = (&mut self.source, &self.carried) {
            return bets.skip_bets(count);
        }
        let skipped = self
            .by_ref()
            .take(usize::try_from(count).unwrap_or(usize::MAX))
            .count();
        u64::try_from(skipped).expect("a count of bets fits u64")
    }

    #[inline]
    fn fill(&mut self, builder: &mut BatchBuilder) -> Result<(u64, bool), EncodeError> {
        if let (Source::Memory(bets), None) = (&mut self.source, &self.carried) {
            return bets.fill(builder);
        }
        let mut added = 0;
        while let Some(bet) = self.next() {
            if bet.push_to(builder)? == Pushed::Full {
                self.carried = Some(bet);
                break;
            }
            added += 1;
        }
        Ok((added, self.carried.is_none()))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use lottery_bet::Field;
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
            let mut bets = input.bets().unwrap();
            let documents: Vec<String> = bets
                .by_ref()
                .map(|bet| bet.document().to_string())
                .collect();
            assert_eq!(documents, ["1", "002", "3"]);
            bets.finish().unwrap();
        }
    }

    /// The frames of `bets`, packed as the client packs them.
    fn frames<B: ToBatch>(bets: impl IntoIterator<Item = B>) -> Vec<u8> {
        let mut builder = BatchBuilder::new(lottery_net::DEFAULT_MAX_FRAME, None);
        let (mut out, mut batch) = (Vec::new(), 1);
        for bet in bets {
            if bet.push_to(&mut builder).unwrap() == Pushed::Full {
                builder.finish(batch, &mut out);
                batch += 1;
                assert_eq!(bet.push_to(&mut builder).unwrap(), Pushed::Added);
            }
        }
        builder.finish(batch, &mut out);
        out
    }

    /// The frames sent for a file are byte for byte those of its rows made
    /// `Bet`s and encoded one by one (the path before rows were encoded as
    /// they are checked): on the course's agency files when they are there,
    /// and on rows with quotes, non-ASCII names and both line ends.
    #[test]
    fn the_frames_of_a_file_are_those_of_its_bets_encoded_one_by_one() {
        let mut texts =
            vec![ROWS.repeat(400) + "\"Ñandú, \"\"El\"\"\",\"Paz Ríos\",9,2000-02-29,0042\r\n"];
        for agency in 1..=5 {
            let path = format!("../../shared/data/agency-{agency}.csv");
            match std::fs::read_to_string(&path) {
                Ok(text) => texts.push(text),
                Err(_) => eprintln!("skipped {path}: not there"),
            }
        }
        for text in texts {
            let file = file(&text);
            let bets: Vec<Bet> = AgencyFile::from_reader("x", text.as_bytes())
                .map(Result::unwrap)
                .collect();
            let expected = frames(bets);
            for limit in [0, IN_MEMORY_LIMIT] {
                let input = AgencyInput::load_with_limit(file.path(), limit, today()).unwrap();
                let mut stream = input.bets().unwrap();
                assert_eq!(frames(stream.by_ref()), expected, "limit {limit}");
                stream.finish().unwrap();
            }
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
            assert_eq!(input.bets().unwrap().count(), 2);
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
                assert_eq!(input.bets().unwrap().count(), 0);
            }
        }
    }

    #[test]
    fn a_file_changed_after_validation_stops_the_stream_with_the_reason() {
        let file = file(ROWS);
        let input = AgencyInput::load_with_limit(file.path(), 0, today()).unwrap();
        std::fs::write(file.path(), "Ana,Pérez,1,2000-01-01,1\nbroken\n").unwrap();
        let mut bets = input.bets().unwrap();
        assert_eq!(bets.by_ref().count(), 1);
        assert!(matches!(bets.finish(), Err(InputError::Row(_))));
    }
}
