//! The draw's pass over the store: it reads of each row only what the draw
//! needs (the agency, the number, and the document of a winning bet), without
//! building a [`Bet`](crate::Bet) per row.
//!
//! A row is `agency,first_name,last_name,document,birthdate,number`. The last
//! three fields are digits and dashes, never quoted (minimal quoting quotes
//! only fields holding a comma, a quote or a line break), so they are found
//! from the right whatever the names hold; the agency is the first field. Rows
//! never span lines (names refuse control characters).
//!
//! This trusts what the monitor vouches for: committed rows, written from
//! validated bets or checked whole when the store was opened. It still checks
//! every field it reads, and a row that does not have this shape is a
//! [`StoreError::Corrupt`], never a panic or a silently skipped bet. The
//! results equal those of [`StoreRows`](lottery_bet::StoreRows) fed to
//! [`DrawTally::add`] (a property test below says so).

use std::io::{self, Read};
use std::path::Path;

use lottery_bet::{AgencyId, BetNumber, Document, Field, FieldError, FieldReason};

use crate::error::StoreError;
use crate::lottery::draw::DrawTally;

/// Bytes read from the store at a time.
const CHUNK: usize = 256 * 1024;

/// Adds every row of `reader` to `tally`; returns how many rows it read.
///
/// # Errors
/// [`StoreError::Io`] when reading fails; [`StoreError::Corrupt`] (with the
/// line) for a row without the shape of a store row.
pub(crate) fn tally_rows(
    mut reader: impl Read,
    tally: &mut DrawTally,
    path: &Path,
) -> Result<u64, StoreError> {
    let mut buffer = vec![0u8; CHUNK];
    // Bytes `..filled` hold a partial line carried over, then what was read.
    let mut filled = 0;
    let mut line = 0u64;
    let mut rows = 0u64;
    loop {
        if filled == buffer.len() {
            // A line longer than the buffer: rows are short, but grow rather
            // than fail.
            buffer.resize(buffer.len() * 2, 0);
        }
        let read = match reader.read(&mut buffer[filled..]) {
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(StoreError::Io {
                    action: "read",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let end = filled + read;
        let last = read == 0;
        // Whole lines only, except the last one at the end of the store.
        let whole = if last {
            end
        } else {
            match memchr::memrchr(b'\n', &buffer[..end]) {
                Some(newline) => newline + 1,
                None => {
                    filled = end;
                    continue;
                }
            }
        };
        let mut start = 0;
        for newline in memchr::memchr_iter(b'\n', &buffer[..whole]) {
            line += 1;
            rows += take_line(&buffer[start..newline], line, tally, path)?;
            start = newline + 1;
        }
        if start < whole {
            // The end of the store, without a line end.
            line += 1;
            rows += take_line(&buffer[start..whole], line, tally, path)?;
        }
        if last {
            return Ok(rows);
        }
        buffer.copy_within(whole..end, 0);
        filled = end - whole;
    }
}

/// Adds the row on line `line` (without its `\n`) to `tally`; returns 1, or
/// 0 for an empty line.
fn take_line(
    text: &[u8],
    line: u64,
    tally: &mut DrawTally,
    path: &Path,
) -> Result<u64, StoreError> {
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    if text.is_empty() {
        return Ok(0);
    }
    add_row(text, tally).map_err(|error| StoreError::Corrupt {
        path: path.to_path_buf(),
        line,
        error,
    })?;
    Ok(1)
}

/// Adds one row (without its line end) to `tally`.
fn add_row(row: &[u8], tally: &mut DrawTally) -> Result<(), FieldError> {
    let malformed = || FieldError::new(Field::Row, FieldReason::Malformed);
    // Rows are short and these commas near their ends: a plain scan beats
    // `memchr`'s set-up here.
    let comma = |byte: &u8| *byte == b',';
    let agency_end = row.iter().position(comma).ok_or_else(malformed)?;
    // The last three fields, from the right: `...,document,birthdate,number`.
    let number_start = row.iter().rposition(comma).ok_or_else(malformed)?;
    let birthdate_start = row[..number_start]
        .iter()
        .rposition(comma)
        .ok_or_else(malformed)?;
    let document_start = row[..birthdate_start]
        .iter()
        .rposition(comma)
        .ok_or_else(malformed)?;
    // Two name fields between the agency and the document.
    if document_start <= agency_end || !row[agency_end + 1..document_start].iter().any(comma) {
        return Err(malformed());
    }
    // The fields' own parsers, as every other reader of a row uses them.
    let agency = AgencyId::from_text(&row[..agency_end])?;
    let number = BetNumber::from_text(&row[number_start + 1..])?;
    tally.add_fields(agency, number, || {
        let document = &row[document_start + 1..birthdate_start];
        // Digits only (checked again by `Document::new`), so valid UTF-8.
        let text = std::str::from_utf8(document)
            .map_err(|_| FieldError::new(Field::Document, FieldReason::NotDigits))?;
        Document::new(text)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::lottery::draw::Draw;
    use crate::lottery::rules::LotteryRules;
    use lottery_bet::Bet;
    use lottery_bet::Chunked;
    use lottery_bet::{StoreRows, encode_store_rows};

    fn rules() -> LotteryRules {
        LotteryRules {
            agencies: 3,
            winning: crate::Winning::Fixed(BetNumber::new(7).unwrap()),
        }
    }

    fn fast(bytes: &[u8]) -> Result<(Draw, u64), StoreError> {
        let mut tally = DrawTally::new(rules());
        let rows = tally_rows(bytes, &mut tally, Path::new("bets.csv"))?;
        Ok((tally.finish(), rows))
    }

    fn slow(bytes: &[u8]) -> (Draw, u64) {
        let mut tally = DrawTally::new(rules());
        let mut rows = 0;
        for row in StoreRows::new(bytes) {
            tally.add(row.unwrap());
            rows += 1;
        }
        (tally.finish(), rows)
    }

    fn name() -> impl Strategy<Value = String> {
        // Commas, quotes, accents and spaces: what quoting is about.
        "[a-zA-Z ,\"'áéíóúñÑ]{1,12}"
            .prop_filter("a valid name: not blank, no space at an end", |text| {
                !text.trim().is_empty() && text.trim() == text
            })
    }

    fn stored_bet() -> impl Strategy<Value = (u32, Bet)> {
        (1u32..=4, name(), name(), "[0-9]{1,20}", 0u32..12).prop_map(
            |(agency, first, last, document, number)| {
                let bet =
                    Bet::from_fields(&first, &last, &document, "1999-03-17", &number.to_string());
                (agency, bet.expect("generated fields are valid"))
            },
        )
    }

    proptest! {
        #[test]
        fn the_fast_scan_finds_what_the_full_parse_finds(
            bets in proptest::collection::vec(stored_bet(), 0..40),
            lf_only in any::<bool>(),
            chunk in 1usize..64,
        ) {
            let mut bytes = Vec::new();
            for (agency, bet) in &bets {
                encode_store_rows(AgencyId::new(*agency).unwrap(), std::slice::from_ref(bet), &mut bytes);
            }
            if lf_only {
                bytes.retain(|&byte| byte != b'\r');
            }
            let expected = slow(&bytes);
            prop_assert_eq!(&fast(&bytes).unwrap(), &expected);
            // However the reads split the rows.
            let mut tally = DrawTally::new(rules());
            let rows = tally_rows(Chunked::new(&bytes, chunk), &mut tally, Path::new("bets.csv")).unwrap();
            prop_assert_eq!((tally.finish(), rows), expected);
        }
    }

    #[test]
    fn a_last_row_without_a_line_end_counts() {
        let (draw, rows) = fast(b"1,Ana,Paz,11,2000-01-01,7\r\n2,Bo,Ri,22,2000-01-01,7").unwrap();
        assert_eq!(rows, 2);
        assert_eq!(draw.summary().winners_per_agency, [1, 1, 0]);
    }

    #[test]
    fn rows_without_the_store_shape_are_corrupt_with_their_line() {
        for (bytes, line) in [
            (&b"1,Ana,Paz,11,2000-01-01,7\r\nnot a row\r\n"[..], 2),
            (b"1,Ana,11,2000-01-01,7\n", 1),
            (b"1,Ana,Paz,11,2000-01-01,99999\n", 1),
            (b"x,Ana,Paz,11,2000-01-01,7\n", 1),
            (b"1,Ana,Paz,1a,2000-01-01,7\n", 1),
            (b"\n\n1,Ana,Paz,\"11\",2000-01-01,7\n", 3),
        ] {
            match fast(bytes) {
                Err(StoreError::Corrupt { line: found, .. }) => {
                    assert_eq!(found, line, "{bytes:?}")
                }
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
    }
}
