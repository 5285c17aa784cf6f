//! Reading the stored bets back: the tally when a central starts, scans,
//! and the export of `bets.csv`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use lottery_bet::{StoredBet, encode_store_rows};
use lottery_core::StoreError;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls};

use crate::rows::{SELECT_BETS, bet_from_row};
use crate::schema;

/// A database failure as the core's store error.
pub(crate) fn db_error(action: &'static str, name: &Path, error: postgres::Error) -> StoreError {
    StoreError::Io {
        action,
        path: name.to_path_buf(),
        source: io::Error::other(error),
    }
}

/// A read-only, repeatable-read transaction on `client`: one snapshot of
/// the ledger for every read that must see it whole (the recovery, the
/// draw read back, the bets streamed, the offline check).
///
/// # Errors
/// [`StoreError::Io`] when the database fails (naming the store `name`).
pub(crate) fn snapshot<'c>(
    client: &'c mut Client,
    name: &Path,
) -> Result<postgres::Transaction<'c>, StoreError> {
    client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(|error| db_error("read", name, error))
}

/// Streams every stored bet to `visit`, each agency's in the order it sent
/// them (agencies in id order), from one snapshot; returns how many. Every
/// row is validated again.
///
/// # Errors
/// [`StoreError::Io`] when the database fails; [`StoreError::Corrupt`]
/// (`line` counts rows from 1) for a row that does not validate.
pub(crate) fn each_bet(
    client: &mut Client,
    name: &Path,
    visit: &mut dyn FnMut(StoredBet),
) -> Result<u64, StoreError> {
    let failed = |error| db_error("read", name, error);
    let mut tx = snapshot(client, name)?;
    let mut count = 0u64;
    let params: [&(dyn postgres::types::ToSql + Sync); 0] = [];
    let mut rows = tx.query_raw(SELECT_BETS, params).map_err(failed)?;
    while let Some(row) = rows.next().map_err(failed)? {
        count += 1;
        let stored = bet_from_row(&row).map_err(|error| StoreError::Corrupt {
            path: name.to_path_buf(),
            line: count,
            error,
        })?;
        visit(stored);
    }
    drop(rows);
    tx.commit().map_err(failed)?;
    Ok(count)
}

/// Connects to the database at `url` to read a lottery it holds: refused
/// ([`StoreError::Inconsistent`]) when it holds none, or one whose layout
/// version is not in `versions`; nothing is set up. Returns the client and
/// the store's name (the URL without its password).
///
/// # Errors
/// [`StoreError::Io`] when the URL does not parse or the database cannot be
/// reached or read; [`StoreError::Inconsistent`] as above.
pub(crate) fn connect_reader(url: &str, versions: &[i32]) -> Result<(Client, PathBuf), StoreError> {
    let config = Config::from_str(url).map_err(|error| StoreError::Io {
        action: "parse the URL of",
        path: PathBuf::from("postgres://"),
        source: io::Error::new(io::ErrorKind::InvalidInput, error),
    })?;
    let name = crate::connection::describe(&config);
    let mut client = config
        .connect(NoTls)
        .map_err(|error| db_error("connect to", &name, error))?;
    match schema::version(&mut client).map_err(|error| db_error("read", &name, error))? {
        Some(version) if versions.contains(&version) => Ok((client, name)),
        found => Err(StoreError::Inconsistent {
            path: name,
            problem: match found {
                None => "it holds no lottery (no lottery tables in its schema)".to_owned(),
                Some(version) => format!(
                    "its tables have layout version {version}, this program knows version {}",
                    schema::VERSION
                ),
            },
            remedy: "name the database (and schema) a central stores its bets in",
        }),
    }
}

/// Writes the bets stored in the database at `url` to `out` as the course's
/// `bets.csv` (`agency,first_name,last_name,document,birthdate,number`,
/// byte-identical to Python's `csv.writer`: minimal quoting, CRLF), each
/// agency's bets in the order it sent them, agencies in id order. Reads
/// only: a database without the lottery's tables is refused, not set up.
/// Returns how many bets were written. A ledger of layout version 2 (before
/// the chain, whose `bets` are those of version 3) is exported too: that is
/// how its bets leave it, since a central of this version refuses it.
///
/// # Errors
/// [`StoreError::Io`] when the URL does not parse, the database fails or
/// `out` cannot be written; [`StoreError::Inconsistent`] when the database
/// holds no lottery (or one of another layout version);
/// [`StoreError::Corrupt`] for a row that does not validate.
pub fn export_csv(url: &str, out: &mut dyn Write) -> Result<u64, StoreError> {
    let (mut client, name) = connect_reader(url, &[2, schema::VERSION])?;
    let mut row = Vec::with_capacity(128);
    let mut written: io::Result<()> = Ok(());
    let count = each_bet(&mut client, &name, &mut |stored| {
        if written.is_ok() {
            row.clear();
            encode_store_rows(stored.agency, std::slice::from_ref(&stored.bet), &mut row);
            written = out.write_all(&row);
        }
    })?;
    written
        .and_then(|()| out.flush())
        .map_err(|source| StoreError::Io {
            action: "write the export of",
            path: name,
            source,
        })?;
    Ok(count)
}
