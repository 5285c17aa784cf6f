//! Resuming a restarted agency: the bets the central holds are skipped, and
//! checked first.
//!
//! The handshake (`Welcome`) says how many of the agency's bets the central
//! stores and the CRC32C of their rows as its `bets.csv` holds them
//! ([`ResumePoint::rows_crc`]). Before anything new is sent, the client
//! computes the same CRC32C over the first `bets_stored` bets of its
//! sequence (packed into batches as they would be sent, decoded and checked
//! as the central decodes them, and written as the central's rows): a file
//! edited since those bets were sent (a row put at the top, a row changed)
//! is reported ([`ClientError::StoredBetsDiffer`]), never skipped by count.
//! This costs one encoding of the skipped bets, once per handshake that
//! finds bets stored; a first run (nothing stored) pays nothing.

use lottery_bet::{AgencyId, ResumePoint, append_rows_crc};

use crate::batch::{BatchBuilder, BatchSource};
use crate::checked::AgencyFrame;
use crate::decoder::Decoder;
use crate::error::ClientError;

/// Skips the bets `resume` says the central stores for `agency`, checking
/// them against its rows' CRC32C when it gives one. Returns how many were
/// skipped (fewer when the sequence is shorter: the caller reports that).
///
/// # Errors
/// [`ClientError::StoredBetsDiffer`] when the skipped bets are not the
/// stored ones; [`ClientError::Encode`] when one does not fit a frame of
/// `max_frame` bytes alone.
pub(super) fn skip_stored<S: BatchSource + ?Sized>(
    bets: &mut S,
    resume: &ResumePoint,
    agency: AgencyId,
    max_frame: usize,
) -> Result<u64, ClientError> {
    let Some(expected) = resume.rows_crc else {
        return Ok(bets.skip_bets(resume.bets_stored));
    };
    let mut skipped = 0u64;
    let mut crc = 0u32;
    let mut frame = Vec::new();
    let mut decoder = Decoder::new(max_frame);
    let mut invalid = false;
    while skipped < resume.bets_stored {
        let left = usize::try_from(resume.bets_stored - skipped).unwrap_or(usize::MAX);
        let mut builder = BatchBuilder::new(max_frame, Some(left));
        let (added, done) = bets.fill(&mut builder)?;
        if added == 0 {
            break;
        }
        frame.clear();
        builder.finish(1, &mut frame);
        decoder.extend(&frame);
        match decoder.next_agency_frame() {
            Ok(Some(AgencyFrame::Batch(checked))) => match checked.bets {
                Ok(batch) => crc = append_rows_crc(crc, agency, &batch),
                // A bet the central would refuse cannot be one it stores.
                Err(_) => invalid = true,
            },
            _ => invalid = true,
        }
        skipped += added;
        if done {
            break;
        }
    }
    if skipped == resume.bets_stored && (invalid || crc != expected) {
        return Err(ClientError::StoredBetsDiffer {
            agency,
            last_batch: resume.last_batch,
            bets_stored: resume.bets_stored,
        });
    }
    Ok(skipped)
}
