//! A connection to the database that comes back after the server went away
//! (a restart, a dropped socket), with its prepared statements.

use lottery_core::Durability;
use postgres::{Client, Config, NoTls, Statement};

/// Stores a batch unless it is stored already, would leave a hole, or
/// follows the agency's finish; says which (see `commit`).
const STORE_BATCH: &str = "
WITH prior AS (
    SELECT EXISTS (SELECT 1 FROM batches WHERE agency = $1 AND batch = $2) AS present,
           ($2 = 1 OR EXISTS (SELECT 1 FROM batches WHERE agency = $1 AND batch = $2 - 1)) AS follows,
           EXISTS (SELECT 1 FROM finishes WHERE agency = $1) AS finished,
           (SELECT coalesce(max(batch), 0) + 1 FROM batches WHERE agency = $1) AS next
), inserted AS (
    INSERT INTO batches (agency, batch, bets)
    SELECT $1, $2, $3 FROM prior WHERE NOT present AND follows AND NOT finished
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted) = 1, present, follows, finished, next FROM prior";

/// Records a finish when the count equals the bets stored for the agency,
/// in the same statement; says whether it does.
const STORE_FINISH: &str = "
WITH stored AS (
    SELECT coalesce(sum(bets), 0)::bigint AS bets FROM batches WHERE agency = $1
), inserted AS (
    INSERT INTO finishes (agency, bets)
    SELECT $1, $2 FROM stored WHERE stored.bets = $2
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT stored.bets = $2, stored.bets FROM stored";

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
    pub(crate) finish: Statement,
    pub(crate) lock_lottery: Statement,
    pub(crate) draw: Statement,
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
            let batch = client.prepare(STORE_BATCH)?;
            let finish = client.prepare(STORE_FINISH)?;
            let lock_lottery = client.prepare(LOCK_LOTTERY)?;
            let draw = client.prepare(DRAW)?;
            let statements = Statements {
                batch,
                finish,
                lock_lottery,
                draw,
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
