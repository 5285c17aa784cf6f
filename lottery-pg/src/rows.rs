//! Bets to database rows and back: the one place that knows the columns of
//! `bets`.
//!
//! A batch is turned into the tuples of PostgreSQL's binary `COPY` format
//! when it is taken (outside every lock, on the caller's thread), so that
//! the commit only streams bytes. [`encode_batch_rows`] is the only
//! conversion from a batch's bets to rows; [`bet_from_row`] the only one
//! back.

use lottery_bet::{AgencyId, Bet, BetBatch, FieldError, StoredBet};

/// The statement the commit streams the rows with.
pub(crate) const COPY_BETS: &str = "COPY bets (agency, batch, position, first_name, last_name, \
     document, birthdate, number) FROM STDIN (FORMAT binary)";

/// The statement that reads every stored bet back, each agency's in the
/// order it sent them.
pub(crate) const SELECT_BETS: &str = "SELECT agency, first_name, last_name, document, birthdate, \
     number FROM bets ORDER BY agency, batch, position";

/// The binary COPY header: signature, flags, header extension length.
pub(crate) const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The binary COPY trailer: a tuple of -1 fields.
pub(crate) const COPY_TRAILER: &[u8] = &[0xff, 0xff];

/// Columns of a tuple.
const COLUMNS: i16 = 8;

/// Appends the binary COPY tuples of batch `batch` of `agency` to `out`:
/// `(agency, batch, position, first_name, last_name, document, birthdate,
/// number)`, `position` counting from 0 in the order of `bets`.
///
/// The caller checked that `batch` fits an `i64` and the batch's length an
/// `i32`.
pub(crate) fn encode_batch_rows(agency: AgencyId, batch: u64, bets: &BetBatch, out: &mut Vec<u8>) {
    let agency = i32::try_from(agency.get()).expect("agency ids fit an i32 (MAX_AGENCIES)");
    let batch = i64::try_from(batch).expect("checked by the caller");
    out.reserve(bets.len() * 96);
    for (position, bet) in bets.iter().enumerate() {
        let position = i32::try_from(position).expect("checked by the caller");
        out.extend_from_slice(&COLUMNS.to_be_bytes());
        field(out, &agency.to_be_bytes());
        field(out, &batch.to_be_bytes());
        field(out, &position.to_be_bytes());
        // The batch's own bytes: checked where they lie, written as they are.
        field(out, bet.first_name_bytes());
        field(out, bet.last_name_bytes());
        field(out, bet.document_bytes());
        field(out, bet.birthdate_text());
        let number = i16::try_from(bet.number().get()).expect("numbers are at most 9999");
        field(out, &number.to_be_bytes());
    }
}

/// One field of a tuple: its length, then its bytes.
fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = i32::try_from(bytes.len()).expect("fields are at most 255 bytes");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A row of [`SELECT_BETS`] back as a bet, validated again (what the
/// database holds is not trusted further than the file store's rows).
///
/// # Errors
/// The first field that does not validate (or an agency id that is not
/// one).
pub(crate) fn bet_from_row(row: &postgres::Row) -> Result<StoredBet, FieldError> {
    let agency: i32 = row.get(0);
    let number: i16 = row.get(5);
    let birthdate: &str = row.get(4);
    let agency = AgencyId::new(u32::try_from(agency).unwrap_or(0))?;
    let bet = Bet::from_parts(
        row.get(1),
        row.get(2),
        row.get(3),
        birthdate.as_bytes(),
        u32::try_from(number).unwrap_or(u32::MAX),
    )?;
    Ok(StoredBet { agency, bet })
}
