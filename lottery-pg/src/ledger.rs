//! [`PgLedger`]: the [`Ledger`] of a central in PostgreSQL.

use std::io;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use lottery_bet::{AgencyId, BatchDigest, BetBatch, BetNumber, Document, StoredBet};
use lottery_core::{
    Draw, DrawSecret, DrawSummary, DrawTally, Durability, LotteryRules, StoreError, Winning,
    ledger::{
        AgencyRecord, ChainHead, DrawAnnouncement, FinishRecorded, Ledger, PendingWrite, Recovery,
    },
};
use postgres::Config;

use crate::commit::{Failure, GroupCommit, Stored, Write};
use crate::connection::{Connection, describe};
use crate::listen;
use crate::read::{db_error, each_bet, snapshot};
use crate::rows::encode_batch_rows;
use crate::schema::{self, Layout};

/// The ledger of a central in a PostgreSQL database: a batch is stored by
/// the commit of the transaction holding it, keyed by (agency, batch
/// number), so a resend is acknowledged again and never stored twice, and
/// only when its digest is the stored batch's (else
/// [`StoreError::BatchConflict`]).
///
/// Writes are taken without I/O ([`Ledger::begin_append`] encodes the rows
/// and queues them) and made durable by [`Ledger::wait_durable`], which
/// leads or joins a group commit: every write taken while a transaction
/// runs goes into the next one.
///
/// ```no_run
/// use lottery_core::{Central, Durability, LotteryRules};
/// use lottery_pg::PgLedger;
/// let (ledger, recovery) = PgLedger::open("postgres://lottery@127.0.0.1:5432/lottery", Durability::Fsync)?;
/// let central = Central::new(LotteryRules::default(), ledger, &recovery)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PgLedger {
    config: Config,
    /// The store's name in errors and logs: the URL without its password.
    name: PathBuf,
    engine: Arc<GroupCommit>,
    /// The connection of reads (recovery, tally, scans), kept between them.
    reader: parking_lot::Mutex<Option<postgres::Client>>,
    /// Test faults: appends to refuse (0 outside tests).
    fail_appends: Arc<AtomicU32>,
    /// The channel the schema's draw is announced on.
    channel: String,
    /// Tells the announcement thread (if any) to end.
    stop_listening: Arc<AtomicBool>,
}

impl Drop for PgLedger {
    fn drop(&mut self) {
        // Not joined: the thread may be the one dropping the last handle of
        // the central (its announcement holds the central weakly).
        self.stop_listening.store(true, Ordering::Relaxed);
    }
}

/// For tests: faults to inject into a [`PgLedger`], also once a central
/// owns it.
#[cfg(feature = "test-support")]
#[derive(Debug, Clone)]
pub struct PgFaults {
    engine: Arc<GroupCommit>,
    fail_appends: Arc<AtomicU32>,
}

#[cfg(feature = "test-support")]
impl PgFaults {
    /// The next `count` appends are refused before anything is queued (as
    /// a failed write of the file store).
    pub fn fail_next_appends(&self, count: u32) {
        self.fail_appends.store(count, Ordering::SeqCst);
    }

    /// The next `count` transactions are rolled back instead of committed,
    /// failing every write in them (as a failed sync of the file store).
    pub fn fail_next_commits(&self, count: u32) {
        self.engine.fail_next_commits(count);
    }
}

impl std::fmt::Debug for PgLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLedger")
            .field("database", &self.name)
            .finish_non_exhaustive()
    }
}

/// Whether `store` names a PostgreSQL database (`postgres://` or
/// `postgresql://`) rather than a file.
pub fn is_postgres_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

/// A store URL as logs may show it: without its password (or any other
/// parameter), `postgres://USER@HOST:PORT/DB`. A URL that does not parse is
/// shown as `postgres://(a URL that does not parse)`, since its text may hold
/// a password anywhere; opening it reports the parse error.
///
/// ```
/// assert_eq!(
///     lottery_pg::redacted_url("postgres://ana:secret@db.example:5433/lottery"),
///     "postgres://ana@db.example:5433/lottery"
/// );
/// ```
pub fn redacted_url(url: &str) -> String {
    match Config::from_str(url) {
        Ok(config) => describe(&config).display().to_string(),
        Err(_) => "postgres://(a URL that does not parse)".to_owned(),
    }
}

impl PgLedger {
    /// Connects to the database at `url` (`postgres://USER@HOST:PORT/DB`,
    /// with any libpq-style parameters, `?options=-csearch_path%3DNAME` to
    /// pick a schema), creates its tables in the current schema if they are
    /// missing, and recovers what it holds: each agency's stored bets, last
    /// batch and finish, the rules, the draw. With [`Durability::None`] a
    /// commit is acknowledged before the database flushed it
    /// (`synchronous_commit = off`); otherwise the commit returned means on
    /// the database's disk.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the URL does not parse or the database
    /// cannot be reached or read; [`StoreError::Inconsistent`] when its
    /// tables have another layout version or hold rows no central writes.
    pub fn open(url: &str, durability: Durability) -> Result<(Self, Recovery), StoreError> {
        let mut config = Config::from_str(url).map_err(|error| StoreError::Io {
            action: "parse the URL of",
            path: PathBuf::from("postgres://"),
            source: io::Error::new(io::ErrorKind::InvalidInput, error),
        })?;
        config.notice_callback(log_notice);
        let name = describe(&config);
        let db = |action| {
            let name = name.clone();
            move |error| db_error(action, &name, error)
        };
        // The tables first: the writer prepares its statements over them.
        let mut client = Connection::connect(&config).map_err(db("connect to"))?;
        let layout = schema::ensure(&mut client).map_err(db("create the tables of"))?;
        let channel = listen::channel(&mut client).map_err(db("read"))?;
        drop(client);
        if let Layout::Other(version) = layout {
            return Err(StoreError::Inconsistent {
                path: name,
                problem: format!(
                    "its tables have layout version {version}, this central knows version {}",
                    schema::VERSION
                ),
                remedy: if version == 2 {
                    "its records have no place in a checksum chain, and a central of version 2 still running on it would store batches outside one: finish its lottery with centrals of version 2, or export its bets (lottery-admin export), and run this central on another database or schema"
                } else if version < schema::VERSION {
                    "its batches carry no digests to check resends against: export its bets with the version that wrote it (lottery-admin export), and run this central on another database or schema"
                } else {
                    "use a central of that version, or another database or schema"
                },
            });
        }
        let writer = Connection::open(config.clone(), durability).map_err(db("connect to"))?;
        let ledger = Self {
            config,
            name,
            engine: Arc::new(GroupCommit::new(writer)),
            reader: parking_lot::Mutex::new(None),
            fail_appends: Arc::new(AtomicU32::new(0)),
            channel,
            stop_listening: Arc::new(AtomicBool::new(false)),
        };
        let recovery = ledger.recover()?;
        Ok((ledger, recovery))
    }

    /// The store's name: its URL without a password.
    pub fn name(&self) -> &std::path::Path {
        &self.name
    }

    /// For tests: the handle that injects faults.
    #[cfg(feature = "test-support")]
    pub fn faults(&self) -> PgFaults {
        PgFaults {
            engine: Arc::clone(&self.engine),
            fail_appends: Arc::clone(&self.fail_appends),
        }
    }

    fn db_error(&self, action: &'static str) -> impl FnOnce(postgres::Error) -> StoreError + '_ {
        move |error| db_error(action, &self.name, error)
    }

    /// What the database holds: rules, draw, and per agency.
    fn recover(&self) -> Result<Recovery, StoreError> {
        let mut reader = self.reader()?;
        let client = reader.as_mut().expect("connected by reader()");
        let mut tx = snapshot(client, &self.name)?;
        let mut recovery = Recovery::default();
        let lottery = tx
            .query_opt(
                "SELECT agencies, winning_number, draw_bets, draw_winners FROM lottery",
                &[],
            )
            .map_err(self.db_error("read"))?;
        if let Some(row) = lottery {
            recovery.rules = Some(self.rules_of(row.get(0), row.get(1))?);
            let bets: Option<i64> = row.get(2);
            let winners: Option<Vec<i64>> = row.get(3);
            if let (Some(bets), Some(winners)) = (bets, winners) {
                recovery.draw = Some(DrawSummary {
                    bets: bets as u64,
                    winners_per_agency: winners.into_iter().map(|w| w as u64).collect(),
                });
            }
        }
        for row in tx
            .query(
                "SELECT agency, batch, bets, rows_crc, rows_len FROM batches ORDER BY agency, batch",
                &[],
            )
            .map_err(self.db_error("read"))?
        {
            let agency = self.agency_of(row.get(0))?;
            let digests = recovery.batches.entry(agency).or_default();
            if digests.len() as u64 + 1 == row.get::<_, i64>(1) as u64 {
                digests.push(digest_of(&row, 2));
            }
        }
        let rows = tx
            .query(
                "SELECT agency, max(batch), sum(bets)::bigint FROM batches GROUP BY agency",
                &[],
            )
            .map_err(self.db_error("read"))?;
        for row in rows {
            let record = AgencyRecord {
                last_batch: row.get::<_, i64>(1) as u64,
                bets: row.get::<_, i64>(2) as u64,
                finished: false,
            };
            recovery
                .agencies
                .insert(self.agency_of(row.get(0))?, record);
        }
        for row in tx
            .query("SELECT agency FROM finishes", &[])
            .map_err(self.db_error("read"))?
        {
            let agency = self.agency_of(row.get(0))?;
            recovery.agencies.entry(agency).or_default().finished = true;
        }
        self.engine.saw_head(self.read_head(&mut tx)?);
        tx.commit().map_err(self.db_error("read"))?;
        Ok(recovery)
    }

    /// Reads the chain's head after a read the books learn stored writes
    /// from (a handshake's record and digests, in statements before this
    /// one, so inside the head it reads): a resend the books then answer
    /// without a write is inside the head this central signs, whichever
    /// central stored it.
    fn learn_head(&self, client: &mut postgres::Client) -> Result<(), StoreError> {
        let mut tx = client.transaction().map_err(self.db_error("read"))?;
        let head = self.read_head(&mut tx)?;
        tx.commit().map_err(self.db_error("read"))?;
        self.engine.saw_head(head);
        Ok(())
    }

    /// The chain's head as `tx` sees it.
    fn read_head(&self, tx: &mut postgres::Transaction<'_>) -> Result<ChainHead, StoreError> {
        let row = tx
            .query_one("SELECT position, link FROM chain_head", &[])
            .map_err(self.db_error("read"))?;
        let (position, link): (i64, &[u8]) = (row.get(0), row.get(1));
        match (u64::try_from(position), <[u8; 32]>::try_from(link)) {
            (Ok(records), Ok(link)) => Ok(ChainHead { records, link }),
            _ => Err(self.inconsistent(format!(
                "its chain's head (position {position}, a link of {} bytes) is not a head",
                link.len()
            ))),
        }
    }

    /// The reader connection, connected (again) when it is missing or
    /// closed.
    fn reader(&self) -> Result<parking_lot::MutexGuard<'_, Option<postgres::Client>>, StoreError> {
        let mut reader = self.reader.lock();
        if reader.as_ref().is_none_or(postgres::Client::is_closed) {
            *reader = None;
            *reader = Some(Connection::connect(&self.config).map_err(self.db_error("connect to"))?);
        }
        Ok(reader)
    }

    fn inconsistent(&self, problem: String) -> StoreError {
        StoreError::Inconsistent {
            path: self.name.clone(),
            problem,
            remedy: "the database holds rows no central writes; look at them, or use another database",
        }
    }

    fn agency_of(&self, id: i32) -> Result<AgencyId, StoreError> {
        u32::try_from(id)
            .ok()
            .and_then(|id| AgencyId::new(id).ok())
            .ok_or_else(|| self.inconsistent(format!("agency {id} is not an agency id")))
    }

    fn rules_of(&self, agencies: i32, winning: i32) -> Result<LotteryRules, StoreError> {
        let number = u32::try_from(winning)
            .ok()
            .and_then(|n| BetNumber::new(n).ok());
        match (u32::try_from(agencies), number) {
            (Ok(agencies), Some(winning_number)) => Ok(LotteryRules {
                agencies,
                winning: Winning::Fixed(winning_number),
            }),
            _ => Err(self.inconsistent(format!(
                "its rules (agencies {agencies}, winning number {winning}) are not rules"
            ))),
        }
    }

    /// The recorded draw with its winners, from one snapshot.
    fn read_draw(
        &self,
        client: &mut postgres::Client,
        rules: LotteryRules,
    ) -> Result<Option<Draw>, StoreError> {
        let mut tx = snapshot(client, &self.name)?;
        let row = tx
            .query_opt("SELECT draw_bets, draw_winners FROM lottery", &[])
            .map_err(self.db_error("read"))?;
        let Some((Some(bets), Some(winners))) = row.map(|row| {
            (
                row.get::<_, Option<i64>>(0),
                row.get::<_, Option<Vec<i64>>>(1),
            )
        }) else {
            return Ok(None);
        };
        let recorded = DrawSummary {
            bets: bets as u64,
            winners_per_agency: winners.into_iter().map(|w| w as u64).collect(),
        };
        let mut documents: std::collections::BTreeMap<AgencyId, Vec<Document>> =
            std::collections::BTreeMap::new();
        // Committed rules are refused before any central records them (the
        // secret has no place shared by the centrals): the rules are fixed.
        let Some(number) = rules.fixed_number() else {
            return Err(self.inconsistent("it holds committed rules".to_owned()));
        };
        let number = i16::try_from(number.get()).expect("at most 9999");
        for row in tx
            .query(
                "SELECT agency, document FROM bets WHERE number = $1
                 ORDER BY agency, batch, position",
                &[&number],
            )
            .map_err(self.db_error("read"))?
        {
            let agency = self.agency_of(row.get(0))?;
            let document = Document::new(row.get::<_, &str>(1))
                .map_err(|error| self.inconsistent(format!("a winner's document: {error}")))?;
            documents.entry(agency).or_default().push(document);
        }
        // Nothing is chained after the draw: the head now is the draw's,
        // the one this central's signed draw must name even when another
        // central's transaction drew.
        let head = self.read_head(&mut tx)?;
        let mut tally = DrawTally::new(rules);
        for row in tx
            .query(
                "SELECT agency, sum(bets)::bigint FROM batches GROUP BY agency ORDER BY agency",
                &[],
            )
            .map_err(self.db_error("read"))?
        {
            let agency = self.agency_of(row.get(0))?;
            let winners = documents.remove(&agency).unwrap_or_default();
            tally.add_batch(agency, row.get::<_, i64>(1) as u64, winners);
        }
        tx.commit().map_err(self.db_error("read"))?;
        let draw = tally.finish();
        if draw.summary() != &recorded || !documents.is_empty() {
            return Err(self.inconsistent(format!(
                "it records a draw of {} bets with winners {:?}, its bets give {} and {:?}",
                recorded.bets,
                recorded.winners_per_agency,
                draw.summary().bets,
                draw.summary().winners_per_agency
            )));
        }
        self.engine.saw_head(head);
        Ok(Some(draw))
    }

    /// Streams every stored bet (see [`each_bet`]); returns how many.
    fn each_bet(&self, visit: &mut dyn FnMut(StoredBet)) -> Result<u64, StoreError> {
        let mut reader = self.reader()?;
        let client = reader.as_mut().expect("connected by reader()");
        each_bet(client, &self.name, visit)
    }
}

impl Ledger for PgLedger {
    fn begin_append(
        &self,
        agency: AgencyId,
        batch: u64,
        bets: &BetBatch,
    ) -> Result<(PendingWrite, BatchDigest), StoreError> {
        if self
            .fail_appends
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(db_refusal(
                &self.name,
                "take",
                "an injected write fault".into(),
            ));
        }
        let (Ok(_), Ok(count)) = (i64::try_from(batch), u32::try_from(bets.len())) else {
            return Err(db_refusal(
                &self.name,
                "append to",
                format!("batch {batch} of agency {agency} is too large a number or too long"),
            ));
        };
        let mut rows = Vec::new();
        encode_batch_rows(agency, batch, bets, &mut rows);
        // The digest of the rows `bets.csv` would hold (what the file
        // monitor keeps, and what the agency checks at its handshake): one
        // more encoding of the batch, outside every lock.
        let digest = BatchDigest::of(agency, bets);
        let sequence = self.engine.take(Write::Batch {
            agency,
            batch,
            bets: count,
            digest,
            rows,
        });
        Ok((PendingWrite::new(sequence, 0), digest))
    }

    fn begin_finish(&self, agency: AgencyId, bets: u64) -> Result<PendingWrite, StoreError> {
        let sequence = self.engine.take(Write::Finish { agency, bets });
        Ok(PendingWrite::new(sequence, 0))
    }

    fn wait_durable(&self, write: PendingWrite) -> Result<(), StoreError> {
        self.wait_finish(write).map(drop)
    }

    fn wait_finish(&self, write: PendingWrite) -> Result<FinishRecorded, StoreError> {
        match self.engine.wait(write.sequence()) {
            Ok(Stored::Done) => Ok(FinishRecorded::Recorded),
            Ok(Stored::Finished { remaining }) => Ok(FinishRecorded::Waiting { remaining }),
            Ok(Stored::Drew) => Ok(FinishRecorded::Drew),
            Err(Failure::PredecessorLost {
                agency,
                batch,
                lost,
            }) => Err(StoreError::PredecessorLost {
                agency,
                batch,
                lost,
            }),
            Err(Failure::Conflict { agency, batch }) => {
                Err(StoreError::BatchConflict { agency, batch })
            }
            Err(Failure::Commit(why)) => Err(db_refusal(&self.name, "commit to", why)),
            Err(Failure::Refused(why)) => Err(db_refusal(&self.name, "store in", why)),
        }
    }

    fn tally(&self, tally: &mut DrawTally) -> Result<u64, StoreError> {
        self.each_bet(&mut |stored| tally.add(stored))
    }

    fn record_rules(
        &self,
        rules: LotteryRules,
        _secret: Option<&DrawSecret>,
    ) -> Result<(), StoreError> {
        let Some(winning) = rules.fixed_number() else {
            // The central refuses committed rules over a shared ledger
            // before it records them; refused here too.
            return Err(StoreError::Inconsistent {
                path: self.name.clone(),
                problem:
                    "a committed winning number needs a file store: this ledger has no place for its secret that its centrals share"
                        .to_owned(),
                remedy: "run --winning-number committed on a file store",
            });
        };
        let mut writer = self.engine.writer();
        let (client, _) = writer.client().map_err(self.db_error("connect to"))?;
        let agencies = i32::try_from(rules.agencies).expect("at most MAX_AGENCIES");
        let winning = i32::from(winning.get());
        // Under the schema's advisory lock (the one `schema::ensure` takes),
        // so centrals starting together record the rules one after another,
        // each reading what the one before committed. One statement that
        // inserts `ON CONFLICT DO NOTHING` and reads the row back is not
        // enough: the loser waits for the winner's row, skips its insert,
        // and reads from a snapshot taken before that row was committed,
        // finding none ("query returned an unexpected number of rows").
        let record = self.db_error("record the rules in");
        let mut tx = client.transaction().map_err(record)?;
        tx.execute(schema::LOCK, &[])
            .map_err(self.db_error("record the rules in"))?;
        let found = tx
            .query_opt("SELECT agencies, winning_number FROM lottery", &[])
            .map_err(self.db_error("record the rules in"))?;
        let stored = match found {
            Some(row) => self.rules_of(row.get(0), row.get(1))?,
            None => {
                tx.execute(
                    "INSERT INTO lottery (agencies, winning_number) VALUES ($1, $2)",
                    &[&agencies, &winning],
                )
                .map_err(self.db_error("record the rules in"))?;
                rules
            }
        };
        tx.commit().map_err(self.db_error("record the rules in"))?;
        if stored != rules {
            // Another central, started meanwhile, recorded other rules.
            return Err(StoreError::Inconsistent {
                path: self.name.clone(),
                problem: format!(
                    "another central recorded its rules first: the store was created for {} agencies and winning number {}, the central is configured for {} agencies and winning number {}",
                    stored.agencies, stored.winning, rules.agencies, rules.winning
                ),
                remedy: "start every central of one database or schema with the same --agencies and --winning-number",
            });
        }
        Ok(())
    }

    fn record_draw(&self, draw: &DrawSummary) -> Result<(), StoreError> {
        let mut writer = self.engine.writer();
        let (client, _) = writer.client().map_err(self.db_error("connect to"))?;
        let bets = draw.bets as i64;
        let winners: Vec<i64> = draw.winners_per_agency.iter().map(|&w| w as i64).collect();
        // The row is locked and read first, then written if no draw is
        // there: read back in the same statement as a conditional update,
        // a draw another central committed meanwhile would be missed (the
        // statement's snapshot predates it), as the rules were.
        let mut tx = client
            .transaction()
            .map_err(self.db_error("record the draw in"))?;
        let row = tx
            .query_one(
                "SELECT draw_bets, draw_winners FROM lottery FOR UPDATE",
                &[],
            )
            .map_err(self.db_error("record the draw in"))?;
        let (stored_bets, stored_winners): (Option<i64>, Option<Vec<i64>>) =
            (row.get(0), row.get(1));
        if stored_bets.is_none() {
            tx.execute(
                "UPDATE lottery SET draw_bets = $1, draw_winners = $2",
                &[&bets, &winners],
            )
            .map_err(self.db_error("record the draw in"))?;
        }
        tx.commit().map_err(self.db_error("record the draw in"))?;
        if stored_bets.is_some()
            && (stored_bets != Some(bets) || stored_winners.as_ref() != Some(&winners))
        {
            return Err(self.inconsistent(format!(
                "it records another draw ({stored_bets:?} bets, winners {stored_winners:?})"
            )));
        }
        Ok(())
    }

    fn scan(&self, visit: &mut dyn FnMut(StoredBet)) -> Result<u64, StoreError> {
        self.each_bet(visit)
    }

    fn is_shared(&self) -> bool {
        true
    }

    /// The head as of this central's latest committed transaction (each
    /// one, with new records or without, reads the head after every write
    /// it found stored was committed), or of the recorded draw once it read
    /// it: the one chain every central of the schema extends.
    fn chain_head(&self) -> Option<ChainHead> {
        Some(self.engine.head())
    }

    fn agency_record(&self, agency: AgencyId) -> Result<Option<AgencyRecord>, StoreError> {
        let mut reader = self.reader()?;
        let client = reader.as_mut().expect("connected by reader()");
        let id = agency.get() as i32;
        let row = client
            .query_one(
                "SELECT coalesce(max(batch), 0), coalesce(sum(bets), 0)::bigint,
                        EXISTS (SELECT 1 FROM finishes WHERE agency = $1)
                 FROM batches WHERE agency = $1",
                &[&id],
            )
            .map_err(self.db_error("read"))?;
        self.learn_head(client)?;
        Ok(Some(AgencyRecord {
            last_batch: row.get::<_, i64>(0) as u64,
            bets: row.get::<_, i64>(1) as u64,
            finished: row.get(2),
        }))
    }

    fn batch_digests(&self, agency: AgencyId, after: u64) -> Result<Vec<BatchDigest>, StoreError> {
        let mut reader = self.reader()?;
        let client = reader.as_mut().expect("connected by reader()");
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = client
            .query(
                "SELECT batch, bets, rows_crc, rows_len FROM batches
                 WHERE agency = $1 AND batch > $2 ORDER BY batch",
                &[&(agency.get() as i32), &after],
            )
            .map_err(self.db_error("read"))?;
        self.learn_head(client)?;
        // Only the run of numbers right after `after` (batches are stored
        // without holes; a gap would end what can be adopted).
        let mut digests = Vec::new();
        for row in rows {
            if row.get::<_, i64>(0) != after + 1 + digests.len() as i64 {
                break;
            }
            digests.push(digest_of(&row, 1));
        }
        Ok(digests)
    }

    fn recorded_draw(&self, rules: LotteryRules) -> Result<Option<Draw>, StoreError> {
        // Read again, on a new connection, while the connection breaks (the
        // database restarting): the central whose finish drew reads the
        // draw here to announce it (`sorteo`), and if this read failed, no
        // central would. A read changes nothing, so trying it again is
        // always safe; a refusal of the database itself is returned at once.
        let deadline = Instant::now() + READ_PATIENCE;
        loop {
            let read = self.reader().and_then(|mut reader| {
                let client = reader.as_mut().expect("connected by reader()");
                let read = self.read_draw(client, rules);
                if read.as_ref().is_err_and(connection_lost) {
                    // The next try connects again.
                    *reader = None;
                }
                read
            });
            match read {
                Err(error) if connection_lost(&error) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                read => return read,
            }
        }
    }

    fn on_draw_recorded(&self, announce: DrawAnnouncement) {
        let spawned = listen::spawn(
            self.config.clone(),
            self.channel.clone(),
            announce,
            Arc::clone(&self.stop_listening),
        );
        // Without the thread, this central learns a draw made elsewhere at
        // the next finish or handshake only; nothing is lost.
        drop(spawned);
    }
}

/// How long reading the recorded draw keeps trying while the connection
/// to the database breaks (a restart of the database takes seconds).
const READ_PATIENCE: Duration = Duration::from_secs(60);

/// Whether `error` is the connection's, not the database's answer: the
/// socket broke or never connected, or the server is shutting down or
/// starting (SQLSTATE classes 08 and 57), so the same request may succeed
/// on a new connection.
fn connection_lost(error: &StoreError) -> bool {
    let StoreError::Io { source, .. } = error else {
        return false;
    };
    let Some(error) = source
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<postgres::Error>())
    else {
        return false;
    };
    error.as_db_error().is_none_or(|db| {
        let code = db.code().code();
        code.starts_with("08") || code.starts_with("57")
    })
}

/// A notice of the database (`NOTICE: schema ... does not exist, skipping`,
/// `WARNING: terminating connection due to administrator command`) as a
/// line of the course's format: the postgres client's own logs them as
/// free text, which the tools that parse the central's log cannot read.
/// Warnings (a restart cutting the connection) at WARNING, the rest
/// (schema chatter) at DEBUG.
fn log_notice(notice: postgres::error::DbError) {
    let message: String = notice
        .message()
        .chars()
        .map(|c| if c == '|' || c.is_control() { ' ' } else { c })
        .collect();
    let severity = notice.severity();
    if matches!(severity, "WARNING" | "ERROR" | "FATAL" | "PANIC") {
        log::warn!(
            "action: database_notice | result: success | severity: {severity} | code: {} | message: {message}",
            notice.code().code()
        );
    } else {
        log::debug!(
            "action: database_notice | result: success | severity: {severity} | code: {} | message: {message}",
            notice.code().code()
        );
    }
}

/// The digest in a row's columns `first..first + 3`: bets, rows' CRC32C,
/// rows' length.
fn digest_of(row: &postgres::Row, first: usize) -> BatchDigest {
    BatchDigest::from_parts(
        u32::try_from(row.get::<_, i64>(first + 1)).unwrap_or(u32::MAX),
        u64::try_from(row.get::<_, i32>(first + 2)).unwrap_or(u64::MAX),
        u64::try_from(row.get::<_, i32>(first)).unwrap_or(u64::MAX),
    )
}

/// A refusal of the database ledger as the core's store error.
fn db_refusal(name: &std::path::Path, action: &'static str, why: String) -> StoreError {
    StoreError::Io {
        action,
        path: name.to_path_buf(),
        source: io::Error::other(why),
    }
}
