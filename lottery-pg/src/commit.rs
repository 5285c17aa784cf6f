//! Group commit: every write taken while a transaction runs goes into the
//! next one, and a write is durable when the transaction holding it
//! committed.
//!
//! Writes are taken into a queue under a short lock (no I/O), each with a
//! sequence number (its [`lottery_core::ledger::PendingWrite`]). A thread waiting for its
//! write either finds its outcome, or, when no transaction is running,
//! becomes the leader: it takes every queued write, runs one transaction
//! for all of them on the writer connection (outside the queue lock), and
//! posts every outcome. Meanwhile new writes queue up for the next leader.
//!
//! Each write's fate is its own inside the transaction: a batch already
//! stored (a resend, or one another central stored) is acked without its
//! rows when its digest is the stored batch's, and refused as a conflict
//! when it is not (read in a statement of its own, after the insert: a
//! batch another central's transaction inserted while ours waited for it
//! is visible only then), a batch that would leave a hole or follows a finish is refused, a
//! finish whose count differs from the stored bets is refused; none of them
//! aborts the others. A failed transaction fails every write in it: nothing
//! of them is stored, and they may be taken again.
//!
//! # The draw
//! A transaction holding a finish first locks the one row of `lottery`
//! (`SELECT ... FOR UPDATE`), so that transactions recording finishes,
//! from every central, run one after another. After its finishes it counts
//! the finished agencies (each finish's outcome says how many are still
//! expected: the `remaining` of its answer, across every central); when
//! every expected agency finished and no draw
//! is recorded, it records the draw from every stored bet and notifies
//! (`pg_notify`, delivered at commit) every central listening. Exactly one
//! transaction sees the set complete without a draw: the draw happens once,
//! on whichever central took the last finish.
//!
//! That central alone announces it (`sorteo`), so it must know it drew even
//! when the answer to its COMMIT is lost (the database restarted, the
//! connection broke) though the COMMIT was taken: the agency's retry would
//! then find the draw recorded, and no central would say it drew. A
//! transaction that drew notes its id (`txid_current`); when its COMMIT
//! goes unanswered, the leader asks the database, on a new connection and
//! for up to a minute, whether that transaction committed (`txid_status`),
//! and posts its writes' outcomes, draw included, if it did.
//!
//! # The chain
//! Last, after the rows, the finishes and the draw, the transaction locks
//! the chain's head row (`SELECT ... FOR UPDATE`), gives each record it
//! stored (its new batches in (agency, batch) order, then its new
//! finishes) the next position and its link (computed here, `chain`),
//! writes them into the records' rows, moves the head, and commits: the
//! only part of a transaction that waits for other centrals' transactions
//! (theirs hold the head row from their own last step to their commit). A
//! transaction that stored no new record reads the head without the lock.
//! The head it saw becomes this ledger's head once the commit is answered
//! (`GroupCommit::head`), before any write of it is posted: every write
//! whose wait returned is inside the head a receipt then signs, whichever
//! central's transaction stored it (a batch found stored was committed
//! before this transaction's last statements, which see its head).
//!
//! # Locks
//! `queue` (short, never across I/O), `head` (short) and `writer` (the
//! connection, held by the leader across its transaction). The leader takes
//! `writer` with `queue` released; nobody takes `queue` then `writer` while
//! holding both; `head` is taken alone.

use std::collections::HashMap;
use std::io::Write as _;
use std::time::{Duration, Instant};

use lottery_bet::{AgencyId, BatchDigest};
use lottery_core::ledger::ChainHead;
use parking_lot::{Condvar, Mutex};

use crate::chain::Record;
use crate::connection::{Connection, NOTIFY_DRAW, Statements};
use crate::rows::{COPY_BETS, COPY_HEADER, COPY_TRAILER};

/// A write taken and not yet committed.
#[derive(Debug)]
pub(crate) enum Write {
    /// A batch: its record and its rows (binary COPY tuples).
    Batch {
        agency: AgencyId,
        batch: u64,
        bets: u32,
        /// Its content: what a stored batch of the same key must have.
        digest: BatchDigest,
        rows: Vec<u8>,
    },
    /// An agency's finish with the count it gave.
    Finish { agency: AgencyId, bets: u64 },
}

/// Why a write was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The transaction failed (or was rolled back): nothing of it is stored.
    Commit(String),
    /// A batch whose predecessor is not stored: `lost` is the first missing.
    PredecessorLost {
        agency: AgencyId,
        batch: u64,
        lost: u64,
    },
    /// Refused by what the database holds (the agency finished; a finish
    /// count that differs from the stored bets).
    Refused(String),
    /// The batch's key is stored with another digest: other bets.
    Conflict { agency: AgencyId, batch: u64 },
}

/// What a stored write came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// Stored (or found stored).
    Done,
    /// A finish recorded (or found recorded), with the expected agencies
    /// whose finish the database did not hold yet after it.
    Finished { remaining: u32 },
    /// A finish whose transaction recorded the draw: it was the last one.
    Drew,
}

/// The outcome of one write.
pub(crate) type Outcome = Result<Stored, Failure>;

/// What is queued and what came out.
#[derive(Debug, Default)]
struct Queue {
    /// The next sequence number (from 1).
    next: u64,
    /// Taken, waiting for a leader.
    taken: Vec<(u64, Write)>,
    /// Committed (or failed), not yet collected by their waiter.
    outcomes: HashMap<u64, Outcome>,
    /// Whether a leader's transaction runs.
    leading: bool,
    /// Test faults: transactions to roll back instead of committing.
    fail_commits: u32,
}

/// The group-commit engine over the writer connection.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    queue: Mutex<Queue>,
    /// Signalled when a leader posts its outcomes.
    posted: Condvar,
    writer: Mutex<Connection>,
    /// The chain's head as of the latest transaction committed here (or
    /// a later head this ledger read: the draw's).
    head: Mutex<ChainHead>,
}

impl GroupCommit {
    pub(crate) fn new(writer: Connection) -> Self {
        Self {
            queue: Mutex::new(Queue {
                next: 1,
                ..Queue::default()
            }),
            posted: Condvar::new(),
            writer: Mutex::new(writer),
            head: Mutex::new(ChainHead {
                records: 0,
                link: crate::chain::genesis(),
            }),
        }
    }

    /// The chain's head as of the latest transaction this ledger committed
    /// (or a later one it read): every write whose wait returned is inside.
    pub(crate) fn head(&self) -> ChainHead {
        *self.head.lock()
    }

    /// Takes `head` as this ledger's head if it is later than the one it
    /// has (the chain only grows: a head read from an older transaction
    /// never moves it back).
    pub(crate) fn saw_head(&self, head: ChainHead) {
        let mut known = self.head.lock();
        if head.records > known.records {
            *known = head;
        }
    }

    /// The writer connection, for the rare writes outside group commit (the
    /// rules, the draw).
    pub(crate) fn writer(&self) -> parking_lot::MutexGuard<'_, Connection> {
        self.writer.lock()
    }

    /// Queues `write`; returns its sequence number.
    pub(crate) fn take(&self, write: Write) -> u64 {
        let mut queue = self.queue.lock();
        let sequence = queue.next;
        queue.next += 1;
        queue.taken.push((sequence, write));
        sequence
    }

    /// Makes the next `count` transactions roll back instead of committing.
    #[cfg(feature = "test-support")]
    pub(crate) fn fail_next_commits(&self, count: u32) {
        self.queue.lock().fail_commits = count;
    }

    /// Waits for the outcome of write `sequence`, leading a transaction when
    /// none runs.
    pub(crate) fn wait(&self, sequence: u64) -> Outcome {
        let mut queue = self.queue.lock();
        loop {
            if let Some(outcome) = queue.outcomes.remove(&sequence) {
                return outcome;
            }
            let queued = queue.taken.iter().any(|(s, _)| *s == sequence);
            if !queued && !queue.leading {
                // Neither queued nor posted: never taken, or collected.
                return Err(Failure::Commit(format!(
                    "write {sequence} is unknown to this ledger"
                )));
            }
            if queue.leading {
                self.posted.wait(&mut queue);
                continue;
            }
            queue.leading = true;
            let writes = std::mem::take(&mut queue.taken);
            let roll_back = queue.fail_commits > 0;
            queue.fail_commits = queue.fail_commits.saturating_sub(1);
            drop(queue);
            let outcomes = self.commit(&writes, roll_back);
            queue = self.queue.lock();
            queue.leading = false;
            for ((sequence, _), outcome) in writes.iter().zip(outcomes) {
                queue.outcomes.insert(*sequence, outcome);
            }
            self.posted.notify_all();
        }
    }

    /// One transaction for `writes`; an outcome for each.
    fn commit(&self, writes: &[(u64, Write)], roll_back: bool) -> Vec<Outcome> {
        let mut writer = self.writer.lock();
        let failure = match run(&mut writer, writes, roll_back) {
            Ok((outcomes, head)) => {
                self.saw_head(head);
                return outcomes;
            }
            Err(Failed::Before(why)) => {
                // A failed transaction may leave the connection unusable:
                // the next leader starts on a new one.
                writer.reset();
                why
            }
            Err(Failed::Unanswered {
                txid,
                outcomes,
                head,
                why,
            }) => {
                writer.reset();
                match settle(&mut writer, txid, UNANSWERED_PATIENCE) {
                    Settled::Committed => {
                        self.saw_head(head);
                        return outcomes;
                    }
                    Settled::Aborted => why,
                    Settled::Unknown(unknown) => format!("{why}; {unknown}"),
                }
            }
        };
        let failure = Failure::Commit(failure);
        writes.iter().map(|_| Err(failure.clone())).collect()
    }
}

/// How long a leader whose COMMIT drew and got no answer keeps asking the
/// database what became of it (through a restart of the database, say)
/// before it gives the writes up as failed.
const UNANSWERED_PATIENCE: Duration = Duration::from_secs(60);

/// Why a transaction's writes have no outcome yet.
#[derive(Debug)]
enum Failed {
    /// It failed before its COMMIT was sent, or the database refused the
    /// COMMIT: nothing of it is stored.
    Before(String),
    /// It drew, sent its COMMIT and the answer never came (the connection
    /// broke): it committed or not, and `txid` tells which. Its writes'
    /// outcomes are `outcomes`, and the chain's head `head`, if it
    /// committed.
    Unanswered {
        txid: i64,
        outcomes: Vec<Outcome>,
        head: ChainHead,
        why: String,
    },
}

impl From<String> for Failed {
    fn from(why: String) -> Self {
        Self::Before(why)
    }
}

/// What became of a transaction whose COMMIT got no answer.
#[derive(Debug, PartialEq, Eq)]
enum Settled {
    Committed,
    Aborted,
    /// The database did not say within the patience given: why.
    Unknown(String),
}

/// Asks the database, on a new connection, whether transaction `txid`
/// committed (PostgreSQL's `txid_status`, made for a client that lost its
/// connection during COMMIT), again and again for up to `patience` while
/// the database is away or the transaction still ends.
fn settle(writer: &mut Connection, txid: i64, patience: Duration) -> Settled {
    let deadline = Instant::now() + patience;
    loop {
        let asked = writer
            .client()
            .and_then(|(client, _)| client.query_one("SELECT txid_status($1)", &[&txid]));
        let why = match asked {
            Ok(row) => match row.get::<_, Option<String>>(0).as_deref() {
                Some("committed") => return Settled::Committed,
                Some("aborted") => return Settled::Aborted,
                // "in progress": its backend has not seen the connection go
                // yet. No status: too old to be known, which a transaction
                // of a moment ago never is.
                status => format!("transaction {txid} is {status:?}"),
            },
            Err(error) => {
                writer.reset();
                error.to_string()
            }
        };
        if Instant::now() >= deadline {
            return Settled::Unknown(format!(
                "whether the commit that drew was taken is unknown ({why})"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The transaction: each write's statement, the rows of the batches it
/// stored by one binary COPY, the draw when its finishes complete the set,
/// the chain, the commit. Returns each write's outcome and the chain's head
/// it committed.
fn run(
    writer: &mut Connection,
    writes: &[(u64, Write)],
    roll_back: bool,
) -> Result<(Vec<Outcome>, ChainHead), Failed> {
    let text = |e: postgres::Error| e.to_string();
    let (client, statements) = writer.client().map_err(text)?;
    let mut tx = client.transaction().map_err(text)?;
    let (mut outcomes, stored, mut records) = store_batches(&mut tx, statements, writes)?;
    // Taken before the first finish: finishes of every central serialize.
    // (A finish is taken only once its agency's batches are durable, so
    // storing the batches first keeps every agency's order.)
    let mut lottery_locked = false;
    let mut last_finish = None;
    for (index, (_, write)) in writes.iter().enumerate() {
        let Write::Finish { agency, bets } = write else {
            continue;
        };
        if !lottery_locked {
            tx.execute(&statements.lock_lottery, &[]).map_err(text)?;
            lottery_locked = true;
        }
        let (outcome, inserted) = store_finish(&mut tx, statements, *agency, *bets)?;
        if outcome.is_ok() {
            last_finish = Some(index);
        }
        if inserted {
            records.push(Record::Finish {
                agency: *agency,
                bets: *bets,
            });
        }
        outcomes[index] = outcome;
    }
    if !stored.is_empty() {
        let mut copy = tx.copy_in(COPY_BETS).map_err(text)?;
        copy.write_all(COPY_HEADER).map_err(|e| e.to_string())?;
        for rows in stored {
            copy.write_all(rows).map_err(|e| e.to_string())?;
        }
        copy.write_all(COPY_TRAILER).map_err(|e| e.to_string())?;
        copy.finish().map_err(text)?;
    }
    // The transaction's id when it draws: the one transaction whose fate
    // must be known even when the answer to its COMMIT is lost, because its
    // finish is where the draw is announced (`sorteo`), on this central
    // alone. (A batch or finish whose COMMIT went unanswered is taken again
    // and found stored; only the draw would go unsaid.)
    let mut drew_in = None;
    if lottery_locked {
        let drew: bool = tx.query_one(&statements.draw, &[]).map_err(text)?.get(0);
        if drew {
            tx.execute(NOTIFY_DRAW, &[]).map_err(text)?;
            // The last finish of the set is the one that drew.
            if let Some(last) = last_finish {
                outcomes[last] = Ok(Stored::Drew);
            }
            let txid: i64 = tx
                .query_one("SELECT txid_current()", &[])
                .map_err(text)?
                .get(0);
            drew_in = Some(txid);
        }
    }
    let head = chain(&mut tx, statements, &records)?;
    if roll_back {
        tx.rollback().map_err(text)?;
        return Err(Failed::Before(
            "the commit was rolled back (an injected fault)".to_owned(),
        ));
    }
    match (tx.commit(), drew_in) {
        (Ok(()), _) => Ok((outcomes, head)),
        // The database answered: it refused the COMMIT.
        (Err(error), _) if error.as_db_error().is_some() => Err(Failed::Before(error.to_string())),
        (Err(error), Some(txid)) => Err(Failed::Unanswered {
            txid,
            outcomes,
            head,
            why: error.to_string(),
        }),
        (Err(error), None) => Err(Failed::Before(error.to_string())),
    }
}

/// The transaction's last step: `records` (what it stored, in chain order)
/// get the positions after the head and their links, under the head row's
/// lock; the head moves to the last of them. Without records, the head is
/// only read. Returns the head as this transaction leaves it.
fn chain(
    tx: &mut postgres::Transaction<'_>,
    statements: &Statements,
    records: &[Record],
) -> Result<ChainHead, String> {
    let text = |e: postgres::Error| e.to_string();
    let statement = if records.is_empty() {
        &statements.read_head
    } else {
        &statements.lock_head
    };
    let row = tx.query_one(statement, &[]).map_err(text)?;
    let (position, link): (i64, &[u8]) = (row.get(0), row.get(1));
    let (Ok(mut position), Ok(mut link)) = (u64::try_from(position), <[u8; 32]>::try_from(link))
    else {
        return Err(format!(
            "the chain's head (position {position}, a link of {} bytes) is not a head: the table chain_head was changed with SQL",
            link.len()
        ));
    };
    if records.is_empty() {
        return Ok(ChainHead {
            records: position,
            link,
        });
    }
    let (mut batch_agencies, mut batch_numbers, mut batch_positions, mut batch_links) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut finish_agencies, mut finish_positions, mut finish_links) =
        (Vec::new(), Vec::new(), Vec::new());
    for record in records {
        position += 1;
        link = record.link(&link);
        let at = i64::try_from(position).map_err(|_| "the chain is full".to_owned())?;
        match *record {
            Record::Batch { agency, batch, .. } => {
                batch_agencies.push(agency.get() as i32);
                batch_numbers.push(batch as i64);
                batch_positions.push(at);
                batch_links.push(link.to_vec());
            }
            Record::Finish { agency, .. } => {
                finish_agencies.push(agency.get() as i32);
                finish_positions.push(at);
                finish_links.push(link.to_vec());
            }
        }
    }
    let at = i64::try_from(position).map_err(|_| "the chain is full".to_owned())?;
    let row = tx
        .query_one(
            &statements.chain_records,
            &[
                &batch_agencies,
                &batch_numbers,
                &batch_positions,
                &batch_links,
                &finish_agencies,
                &finish_positions,
                &finish_links,
                &at,
                &link.as_slice(),
            ],
        )
        .map_err(text)?;
    let changed: (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    let expected = (batch_agencies.len() as i64, finish_agencies.len() as i64, 1);
    if changed != expected {
        // Rows this transaction inserted, or the head row, gone: refused,
        // never committed with records outside the chain.
        return Err(format!(
            "placing the records in the chain changed {changed:?} rows (batches, finishes, head), {expected:?} expected"
        ));
    }
    Ok(ChainHead {
        records: position,
        link,
    })
}

/// A batch of the transaction, as the statements take it.
struct Taken<'w> {
    index: usize,
    agency: AgencyId,
    batch: u64,
    bets: u32,
    digest: BatchDigest,
    rows: &'w [u8],
}

/// What [`store_batches`] gives: an outcome per write, the rows to COPY,
/// the records to chain.
type StoredBatches<'w> = (Vec<Outcome>, Vec<&'w [u8]>, Vec<Record>);

/// Every batch of `writes` by one statement; an outcome for each write
/// (finishes get a placeholder, decided after), the rows to COPY, and the
/// chain's records of the batches it inserted, in (agency, batch) order.
fn store_batches<'w>(
    tx: &mut postgres::Transaction<'_>,
    statements: &Statements,
    writes: &'w [(u64, Write)],
) -> Result<StoredBatches<'w>, String> {
    let mut outcomes = vec![Ok(Stored::Done); writes.len()];
    let batches: Vec<Taken<'w>> = writes
        .iter()
        .enumerate()
        .filter_map(|(index, (_, write))| match write {
            Write::Batch {
                agency,
                batch,
                bets,
                digest,
                rows,
            } => Some(Taken {
                index,
                agency: *agency,
                batch: *batch,
                bets: *bets,
                digest: *digest,
                rows: rows.as_slice(),
            }),
            Write::Finish { .. } => None,
        })
        .collect();
    if batches.is_empty() {
        return Ok((outcomes, Vec::new(), Vec::new()));
    }
    let agencies: Vec<i32> = batches.iter().map(|b| b.agency.get() as i32).collect();
    let numbers: Vec<i64> = batches.iter().map(|b| b.batch as i64).collect();
    let counts: Vec<i32> = batches.iter().map(|b| b.bets as i32).collect();
    let crcs: Vec<i64> = batches
        .iter()
        .map(|b| i64::from(b.digest.rows_crc()))
        .collect();
    let lens: Vec<i32> = batches
        .iter()
        .map(|b| i32::try_from(b.digest.rows_len()).unwrap_or(i32::MAX))
        .collect();
    let rows = tx
        .query(
            &statements.batch,
            &[&agencies, &numbers, &counts, &crcs, &lens],
        )
        .map_err(|e| e.to_string())?;
    let mut stored = Vec::new();
    let mut records = Vec::new();
    // Found stored (before, or by a concurrent transaction of another
    // central): their digests decide.
    let mut found = Vec::new();
    for (taken, row) in batches.iter().zip(&rows) {
        let (inserted, present, eligible, finished): (bool, bool, bool, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let (agency, batch) = (taken.agency, taken.batch);
        outcomes[taken.index] = if inserted {
            stored.push(taken.rows);
            records.push(Record::Batch {
                agency,
                batch,
                digest: taken.digest,
            });
            Ok(Stored::Done)
        } else if present || eligible {
            found.push(taken);
            Ok(Stored::Done)
        } else if finished {
            Err(Failure::Refused(format!(
                "agency {agency} finished: batch {batch} is not stored"
            )))
        } else {
            Err(Failure::PredecessorLost {
                agency,
                batch,
                lost: row.get::<_, i64>(4) as u64,
            })
        };
    }
    if !found.is_empty() {
        check_found(tx, statements, &found, &mut outcomes)?;
    }
    // An agency's batches in their order (the insert's order too).
    records.sort_by_key(|record| match *record {
        Record::Batch { agency, batch, .. } => (agency, batch),
        Record::Finish { agency, .. } => (agency, u64::MAX),
    });
    Ok((outcomes, stored, records))
}

/// Acks the batches found stored whose stored digest is theirs, and refuses
/// the others as conflicts (a batch found stored but not read back, which
/// no committed transaction leaves, is refused too: never acked unchecked).
fn check_found(
    tx: &mut postgres::Transaction<'_>,
    statements: &Statements,
    found: &[&Taken<'_>],
    outcomes: &mut [Outcome],
) -> Result<(), String> {
    let agencies: Vec<i32> = found.iter().map(|b| b.agency.get() as i32).collect();
    let numbers: Vec<i64> = found.iter().map(|b| b.batch as i64).collect();
    let rows = tx
        .query(&statements.stored_digests, &[&agencies, &numbers])
        .map_err(|e| e.to_string())?;
    let mut digests = HashMap::new();
    for row in rows {
        let key = (row.get::<_, i32>(0), row.get::<_, i64>(1));
        let digest = BatchDigest::from_parts(
            u32::try_from(row.get::<_, i64>(3)).unwrap_or(u32::MAX),
            u64::try_from(row.get::<_, i32>(4)).unwrap_or(u64::MAX),
            u64::try_from(row.get::<_, i32>(2)).unwrap_or(u64::MAX),
        );
        digests.insert(key, digest);
    }
    for taken in found {
        let key = (taken.agency.get() as i32, taken.batch as i64);
        if digests.get(&key) != Some(&taken.digest) {
            outcomes[taken.index] = Err(Failure::Conflict {
                agency: taken.agency,
                batch: taken.batch,
            });
        }
    }
    Ok(())
}

/// Records a finish; its outcome, and whether this statement inserted it
/// (a new record of the chain) rather than found it recorded.
fn store_finish(
    tx: &mut postgres::Transaction<'_>,
    statements: &Statements,
    agency: AgencyId,
    bets: u64,
) -> Result<(Outcome, bool), String> {
    let row = tx
        .query_one(
            &statements.finish,
            &[&(agency.get() as i32), &(bets as i64)],
        )
        .map_err(|e| e.to_string())?;
    let (done, stored_bets, remaining, inserted): (bool, i64, i64, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let outcome = if done {
        Ok(Stored::Finished {
            remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
        })
    } else {
        Err(Failure::Refused(format!(
            "agency {agency} finished with {bets} bets, the database holds {stored_bets}"
        )))
    };
    Ok((outcome, inserted))
}
