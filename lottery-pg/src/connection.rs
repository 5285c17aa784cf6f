//! A connection to the database that comes back after the server went away
//! (a restart, a dropped socket), with its prepared statements.

use lottery_core::Durability;
use std::path::PathBuf;

use postgres::{Client, Config, NoTls, Statement};

/// Stores the batches of a transaction in one statement (`$1`, `$2`, `$3`,
/// `$4`, `$5`: their agencies, numbers, bet counts, rows' CRC32C and rows'
/// lengths, in the order they were taken):
/// each unless it is stored already, would leave a hole (it must follow the
/// agency's last stored batch, or a batch of the same agency stored by this
/// statement), or follows the agency's finish. One row per input, in input
/// order: whether it was inserted, whether it was stored before, whether
/// the agency finished, and the agency's last stored batch before.
const STORE_BATCHES: &str = "
WITH input AS (
    SELECT * FROM unnest($1::integer[], $2::bigint[], $3::integer[], $4::bigint[], $5::integer[])
        WITH ORDINALITY AS t (agency, batch, bets, rows_crc, rows_len, ord)
), known AS (
    SELECT i.*,
           EXISTS (SELECT 1 FROM batches b WHERE b.agency = i.agency AND b.batch = i.batch) AS present,
           EXISTS (SELECT 1 FROM finishes f WHERE f.agency = i.agency) AS finished,
           (SELECT coalesce(max(b.batch), 0) FROM batches b WHERE b.agency = i.agency) AS last
    FROM input i
), placed AS (
    SELECT k.*,
           count(*) FILTER (WHERE NOT k.present AND k.batch > k.last)
               OVER (PARTITION BY k.agency ORDER BY k.batch ROWS UNBOUNDED PRECEDING) AS rank
    FROM known k
), inserted AS (
    INSERT INTO batches (agency, batch, bets, rows_crc, rows_len)
    SELECT agency, batch, bets, rows_crc, rows_len FROM placed
    WHERE NOT present AND NOT finished AND batch > last AND batch - last = rank
    ORDER BY agency, batch
    ON CONFLICT DO NOTHING
    RETURNING agency, batch
)
SELECT i.agency IS NOT NULL, p.present,
       NOT p.present AND NOT p.finished AND p.batch > p.last AND p.batch - p.last = p.rank,
       p.finished, p.last + 1
FROM placed p LEFT JOIN inserted i ON i.agency = p.agency AND i.batch = p.batch
ORDER BY p.ord";

/// The digests of stored batches (`$1`, `$2`: agencies and numbers), in a
/// statement of their own: a batch another central's transaction inserted
/// while this one's insert waited for it is visible only to a later
/// statement. One row per stored batch: agency, number, bets, rows' CRC32C
/// and length.
const STORED_DIGESTS: &str = "
SELECT b.agency, b.batch, b.bets, b.rows_crc, b.rows_len
FROM batches b
JOIN unnest($1::integer[], $2::bigint[]) AS k (agency, batch)
    ON b.agency = k.agency AND b.batch = k.batch";

/// Records a finish when the count equals the bets stored for the agency,
/// in the same statement; says whether it does, the bets stored, how
/// many expected agencies have no finish recorded yet, this one counted, and
/// whether this statement inserted it (a new record of the chain)
/// (the statement's insert is not in its own snapshot, the transaction's
/// earlier finishes are; under the lottery's row lock, so every other
/// central's finishes are committed or wait).
const STORE_FINISH: &str = "
WITH stored AS (
    SELECT coalesce(sum(bets), 0)::bigint AS bets FROM batches WHERE agency = $1
), inserted AS (
    INSERT INTO finishes (agency, bets)
    SELECT $1, $2 FROM stored WHERE stored.bets = $2
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT stored.bets = $2, stored.bets,
       ((SELECT agencies FROM lottery) - (SELECT count(*) FROM finishes)
        - (SELECT count(*) FROM inserted))::bigint,
       EXISTS (SELECT 1 FROM inserted)
FROM stored";

/// Locks the chain's head row and reads it (position, link): the last step
/// of a transaction that adds records to the chain, so that transactions
/// of every central chain their records one after another, each after the
/// head the one before committed.
const LOCK_HEAD: &str = "SELECT position, link FROM chain_head FOR UPDATE";

/// Reads the chain's head (position, link) without locking it: a
/// transaction that adds no record (every write found stored) still learns
/// the head that covers what it found.
const READ_HEAD: &str = "SELECT position, link FROM chain_head";

/// Gives the records a transaction inserted their place in the chain and
/// moves the head, in one statement (one round trip under the head's
/// lock): the batches (`$1` to `$4`: agencies, numbers, positions, links),
/// the finishes (`$5` to `$7`: agencies, positions, links), the head (`$8`,
/// `$9`: position, link). Says how many rows of each it changed.
const CHAIN_RECORDS: &str = "
WITH b AS (
    UPDATE batches b SET position = c.position, link = c.link
    FROM unnest($1::integer[], $2::bigint[], $3::bigint[], $4::bytea[])
        AS c (agency, batch, position, link)
    WHERE b.agency = c.agency AND b.batch = c.batch
    RETURNING 1
), f AS (
    UPDATE finishes f SET position = c.position, link = c.link
    FROM unnest($5::integer[], $6::bigint[], $7::bytea[]) AS c (agency, position, link)
    WHERE f.agency = c.agency
    RETURNING 1
), h AS (
    UPDATE chain_head SET position = $8, link = $9 RETURNING 1
)
SELECT (SELECT count(*) FROM b), (SELECT count(*) FROM f), (SELECT count(*) FROM h)";

/// Locks the lottery's row: transactions recording finishes, from every
/// central, run one after another.
const LOCK_LOTTERY: &str = "SELECT 1 FROM lottery FOR UPDATE";

/// Records the draw when every expected agency finished and none is
/// recorded, from every stored bet;
/// says whether it did ([`NOTIFY_DRAW`] then tells the centrals). Run after the transaction's finishes, under the
/// lottery's row lock, so exactly one transaction does it.
const DRAW: &str = "
WITH winners AS (
    SELECT agency, count(*) AS n FROM bets
    WHERE number = (SELECT winning_number FROM lottery)
    GROUP BY agency
), drawn AS (
    UPDATE lottery SET
        draw_bets = (SELECT coalesce(sum(bets), 0)::bigint FROM batches),
        draw_winners = (
            SELECT array_agg(coalesce(w.n, 0)::bigint ORDER BY a.agency)
            FROM generate_series(1, lottery.agencies) AS a (agency)
            LEFT JOIN winners w ON w.agency = a.agency)
    WHERE draw_bets IS NULL
      AND (SELECT count(*) FROM finishes) = lottery.agencies
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM drawn)";

/// Tells every central listening that the draw is recorded (delivered when
/// the transaction commits).
pub(crate) const NOTIFY_DRAW: &str = "SELECT pg_notify('lottery_draw_' || current_schema(), '')";

/// The statements of the commit, prepared once per connection.
#[derive(Debug)]
pub(crate) struct Statements {
    pub(crate) batch: Statement,
    pub(crate) stored_digests: Statement,
    pub(crate) finish: Statement,
    pub(crate) lock_lottery: Statement,
    pub(crate) draw: Statement,
    pub(crate) lock_head: Statement,
    pub(crate) read_head: Statement,
    pub(crate) chain_records: Statement,
}

/// A client that reconnects when it finds itself closed.
pub(crate) struct Connection {
    config: Config,
    durability: Durability,
    live: Option<(Client, Statements)>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("live", &self.live.is_some())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects.
    ///
    /// # Errors
    /// The database's.
    pub(crate) fn open(config: Config, durability: Durability) -> Result<Self, postgres::Error> {
        let mut connection = Self {
            config,
            durability,
            live: None,
        };
        connection.client()?;
        Ok(connection)
    }

    /// A new plain client to the same database (for reads).
    ///
    /// # Errors
    /// The database's.
    pub(crate) fn connect(config: &Config) -> Result<Client, postgres::Error> {
        config.connect(NoTls)
    }

    /// The live client, connecting again first when the last one is closed.
    ///
    /// # Errors
    /// The database's.
    pub(crate) fn client(&mut self) -> Result<(&mut Client, &Statements), postgres::Error> {
        if self
            .live
            .as_ref()
            .is_some_and(|(client, _)| client.is_closed())
        {
            self.live = None;
        }
        if self.live.is_none() {
            let mut client = self.config.connect(NoTls)?;
            if self.durability == Durability::None {
                // An ack then promises the commit was taken, not flushed.
                client.batch_execute("SET synchronous_commit = off")?;
            }
            let batch = client.prepare(STORE_BATCHES)?;
            let stored_digests = client.prepare(STORED_DIGESTS)?;
            let finish = client.prepare(STORE_FINISH)?;
            let lock_lottery = client.prepare(LOCK_LOTTERY)?;
            let draw = client.prepare(DRAW)?;
            let statements = Statements {
                batch,
                stored_digests,
                finish,
                lock_lottery,
                draw,
                lock_head: client.prepare(LOCK_HEAD)?,
                read_head: client.prepare(READ_HEAD)?,
                chain_records: client.prepare(CHAIN_RECORDS)?,
            };
            self.live = Some((client, statements));
        }
        let (client, statements) = self.live.as_mut().expect("connected above");
        Ok((client, statements))
    }

    /// Forgets the client (a failed transaction may have left it unusable).
    pub(crate) fn reset(&mut self) {
        self.live = None;
    }
}

/// `url` without its password, as errors and logs name the store.
pub(crate) fn describe(config: &Config) -> PathBuf {
    let user = config.get_user().unwrap_or("");
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => String::new(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("");
    PathBuf::from(format!("postgres://{user}@{host}:{port}/{db}"))
}
