//! The tables, created on first use and versioned.
//!
//! One lottery per schema (the connection's `search_path` picks it): the
//! rules and the draw in the one-row table `lottery`, one row per stored
//! batch in `batches` (its primary key `(agency, batch)` is what makes a
//! batch stored at most once, whichever central takes it), one row per
//! finished agency in `finishes`, and the bets in `bets`, each with its
//! batch and its position in it, so that an agency's bets read back in the
//! order it sent them. `bets` has no index: rows go in by binary `COPY`,
//! as fast as the database takes them, and are read back whole (the draw's
//! tally when a central starts, the export), sorted then.
//!
//! Each row of `batches` also holds the batch's digest (`rows_crc`,
//! `rows_len` and `bets`: the CRC32C of its rows as `bets.csv` would hold
//! them, their length and its count; `lottery_bet::BatchDigest`), so that
//! a batch sent again under a stored number, through any central, is
//! acknowledged only when it holds the stored bets, and refused
//! (`BatchConflict`) otherwise.
//!
//! Every row of `batches` and `finishes` is also a record of the ledger's
//! checksum chain (the `chain` module): its `position` and `link`, and the
//! one row of `chain_head` holds the last position and link. The transaction
//! that stores a group fills them in at its end, under the head row's lock
//! (`SELECT ... FOR UPDATE`): the chain is serialized across the centrals
//! sharing the schema only for that last step and the commit. The columns
//! admit NULL only because the row is inserted before its place is known
//! (the batch statement decides what is stored; the rows are copied; only
//! then is the head locked); every committed row has them, and `verify`
//! refuses one that does not.
//!
//! `lottery_schema` holds the version of this layout; a database with
//! another version is refused, changing nothing. Version 1 (before the
//! digests) is not migrated: its batches carry no digest to check resends
//! against, and acknowledging them unchecked is what version 2 exists to
//! stop; export its bets (`lottery-admin export` of that version) and run
//! the lottery on a new schema. Version 2 (before the chain) is not
//! migrated either: a central of version 2 still running on the schema
//! would go on storing batches outside the chain, unseen by the centrals of
//! version 3 (nothing in its statements would fail), and receipts signed
//! over a chain that leaves acknowledged batches out would prove less than
//! they say. Finish its lottery with the version that created it, or export
//! its bets, and run version 3 on a new schema.

use postgres::Client;

/// The version of the layout below.
pub(crate) const VERSION: i32 = 3;

/// The layout, version [`VERSION`].
const TABLES: &str = "
CREATE TABLE lottery_schema (version integer NOT NULL);
CREATE TABLE lottery (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    agencies integer NOT NULL,
    winning_number integer NOT NULL,
    draw_bets bigint,
    draw_winners bigint[]
);
CREATE TABLE batches (
    agency integer NOT NULL,
    batch bigint NOT NULL,
    bets integer NOT NULL,
    rows_crc bigint NOT NULL,
    rows_len integer NOT NULL,
    position bigint UNIQUE,
    link bytea,
    PRIMARY KEY (agency, batch)
);
CREATE TABLE finishes (
    agency integer PRIMARY KEY,
    bets bigint NOT NULL,
    position bigint UNIQUE,
    link bytea
);
CREATE TABLE chain_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position bigint NOT NULL,
    link bytea NOT NULL
);
CREATE TABLE bets (
    agency integer NOT NULL,
    batch bigint NOT NULL,
    position integer NOT NULL,
    first_name text NOT NULL,
    last_name text NOT NULL,
    document text NOT NULL,
    birthdate text NOT NULL,
    number smallint NOT NULL
);
";

/// Takes the schema's transaction-scoped advisory lock: the tables'
/// creation ([`ensure`]) and the rules' record run under it, one central
/// after another, each seeing what the one before committed.
pub(crate) const LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtext('lottery_schema:' || current_schema()))";

/// What [`ensure`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// The tables of this version (created now, or found).
    Current,
    /// Tables of another version: refused.
    Other(i32),
}

/// Creates the tables in the connection's current schema unless they exist,
/// and says which version is there. Serialized across centrals by a
/// transaction-scoped advisory lock, so two centrals starting together do
/// not both create them.
///
/// # Errors
/// The database's.
pub(crate) fn ensure(client: &mut Client) -> Result<Layout, postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute(LOCK, &[])?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('lottery_schema') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        tx.batch_execute(TABLES)?;
        tx.execute(
            "INSERT INTO lottery_schema (version) VALUES ($1)",
            &[&VERSION],
        )?;
        // The empty chain: position 0, the link before the first record.
        tx.execute(
            "INSERT INTO chain_head (position, link) VALUES (0, $1)",
            &[&crate::chain::genesis().as_slice()],
        )?;
    }
    let version: i32 = tx
        .query_one("SELECT max(version) FROM lottery_schema", &[])?
        .get(0);
    tx.commit()?;
    Ok(if version == VERSION {
        Layout::Current
    } else {
        Layout::Other(version)
    })
}

/// The layout version of the tables in the connection's current schema
/// (`None`: no lottery tables), changing nothing.
///
/// # Errors
/// The database's.
pub(crate) fn version(client: &mut Client) -> Result<Option<i32>, postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('lottery_schema') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(None);
    }
    Ok(client
        .query_one("SELECT max(version) FROM lottery_schema", &[])?
        .get(0))
}
