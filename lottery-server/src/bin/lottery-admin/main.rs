//! `lottery-admin`: the operator's tool.
//!
//! - `lottery-admin verify --store PATH` checks a store offline (read-only,
//!   without its lock) and prints what it holds; it exits 0 only when the
//!   store is whole. With `--store postgres://...` it checks a PostgreSQL
//!   ledger likewise (every batch's bets against the digest recorded when it
//!   was acknowledged, the checksum chain, finishes, the draw). With
//!   `--receipts FILE... --pubkey PEM...` it checks agencies' receipts
//!   against either.
//! - `lottery-admin export --store postgres://USER@HOST:PORT/DB --out FILE`
//!   writes the bets a PostgreSQL ledger holds as the course's `bets.csv`
//!   (byte-identical to Python's `csv.writer`), each agency's bets in the
//!   order it sent them; the file appears whole or not at all.
//! - `lottery-admin certs --agencies N --out DIR` writes a PKI for quick
//!   setups (a CA, the central's certificate, one per agency); it never
//!   overwrites a file.
//! - `lottery-admin keys --out DIR` writes a receipt key pair (the
//!   central's signing key and its public half); `certs` writes one too.
//! - `lottery-admin status --http ADDR` prints a running central's `/status`
//!   (its HTTP listener, `lottery-server --http`) as a table, or with `--json`
//!   as the JSON it served; over HTTPS with `--ca FILE`, with the port's
//!   bearer token from `--token-file FILE`.
//!
//! Exit codes: 0 done, 1 the job failed (a store not whole, a file that
//! exists, a central that cannot be reached or answers something else than
//! its status), 2 a bad flag (clap's usage errors).

mod receipts;
mod status;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lottery_bet::AgencyId;
use lottery_core::{
    MAX_AGENCIES,
    verify::{AgencyReport, StoreReport, verify_store},
};
use lottery_log::chain;
use lottery_tls::{PkiFiles, write_pki, write_receipt_keys};

/// The central's names when `--server-name` is not given: what a quick setup
/// on one machine connects to.
const DEFAULT_SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// The lottery operator's tool: checks a store offline, exports a PostgreSQL
/// ledger as bets.csv, writes certificates for quick setups, shows a
/// running central's status, and writes receipt keys.
///
/// Exit codes: 0 done, 1 the job failed, 2 a bad flag. `lottery-admin
/// COMMAND --help` says more about each command.
// The about is this doc comment, not the package's description (that is the
// central's: the binary lives in the lottery-server package).
#[derive(Debug, Parser)]
#[command(name = "lottery-admin", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Checks a store (bets.csv, its journal and manifest, or a PostgreSQL
    /// ledger) without changing it.
    ///
    /// A file store: every committed row, the checksum chain over them, the
    /// rules and the draw. A PostgreSQL ledger (one read-only snapshot):
    /// every bet, each batch's bets against the digest recorded when it was
    /// acknowledged, the checksum chain over every batch and finish, batch
    /// numbers without holes, finishes against the bets stored, the rules
    /// and the draw. Exits 0 only when the store is whole (and every
    /// receipt given holds).
    Verify {
        /// The store's bets.csv, or the database: postgres://USER@HOST:PORT/DB.
        #[arg(long, env = "SERVER_STORE", value_name = "PATH|URL")]
        store: PathBuf,
        /// Agencies' receipts files (`lottery-agency --receipts`), checked
        /// against the store: each receipt's signature, its head a prefix of
        /// the store's chain, its batch or finish in it unchanged.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        receipts: Vec<PathBuf>,
        /// A central's receipt public key (PEM); repeat it for centrals
        /// sharing a PostgreSQL ledger with keys of their own: each receipt
        /// must verify under one of them.
        #[arg(long, value_name = "PEM")]
        pubkey: Vec<PathBuf>,
    },
    /// Writes the bets a PostgreSQL ledger holds as the course's bets.csv.
    ///
    /// Columns agency,first_name,last_name,document,birthdate,number,
    /// minimal quoting, CRLF (as Python's csv.writer); each agency's bets in
    /// the order it sent them, agencies in id order. Reads only. The file is
    /// written beside OUT first and renamed when whole.
    Export {
        /// The database: postgres://USER@HOST:PORT/DB.
        #[arg(long, env = "SERVER_STORE", value_name = "URL")]
        store: String,
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Writes a new PKI for quick setups into DIR.
    ///
    /// DIR is created if missing. It gets ca.pem and ca.key (the certificate
    /// authority), server.pem and server.key (the central), receipt-key.pem and
    /// receipt-pubkey.pem (the receipt key pair, as `keys` writes it), agency-N.pem and agency-N.key for agencies 1
    /// to N (subjectAltName DNS agency-N). Private keys are mode 0600. No file
    /// is overwritten: if one exists, nothing is written and the exit code is
    /// 1. Keep ca.key offline; give each agency its own pair and ca.pem only.
    #[command(
        after_help = "Example: lottery-admin certs --agencies 5 --out pki --server-name central.example.org\n\
                      then: lottery-server --tls-cert pki/server.pem --tls-key pki/server.key --tls-client-ca pki/ca.pem"
    )]
    Certs {
        /// Agencies to issue certificates for (agencies 1 to N), 1 to 1000000.
        #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_agencies)]
        agencies: u32,
        /// The directory to write into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A name the agencies reach the central by (a DNS name or an IP
        /// address; repeat for several). Default: localhost and 127.0.0.1.
        #[arg(long = "server-name", value_name = "NAME")]
        server_names: Vec<String>,
    },
    /// Prints a running central's status (its /status) as a table.
    ///
    /// It asks GET /status of the central's HTTP listener (`lottery-server
    /// --http ADDR`) and prints: agencies expected, connected and finished,
    /// bets, batches, the draw, the store, TLS, uptime, ack and sync latency, and one row per agency. HTTPS
    /// with --ca (the CA of the status port's certificate). Exits 1 when the
    /// central cannot be reached, answers other than 200 OK or not with its
    /// status.
    #[command(
        after_help = "Example: lottery-admin status --http 127.0.0.1:9100\n         \
                      lottery-admin status --http https://central:9100 --ca ca.pem --token-file status.token"
    )]
    Status {
        /// The central's HTTP listener: HOST:PORT, http://HOST:PORT or
        /// https://HOST:PORT (HOST:PORT is https when --ca is given).
        #[arg(long = "http", env = "SERVER_HTTP_LISTEN", value_name = "ADDR", value_parser = status::parse_status_addr)]
        addr: status::StatusAddr,
        /// The CA (PEM) the status port's certificate must chain to: speak
        /// https, trusting only it.
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
        /// A file holding the status port's bearer token, sent as
        /// `Authorization: Bearer TOKEN`.
        #[arg(long = "token-file", value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Print the /status JSON as the central served it (for scripts)
        /// instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Writes a new receipt key pair into DIR.
    ///
    /// receipt-key.pem (Ed25519, PKCS#8, mode 0600: the central's
    /// --receipt-key) and receipt-pubkey.pem (give it to every agency,
    /// --receipt-pubkey, and to auditors, verify --pubkey). DIR is created if
    /// missing; nothing is overwritten (exit 1 if either file exists).
    #[command(after_help = "Example: lottery-admin keys --out keys
                      then: lottery-server --receipt-key keys/receipt-key.pem
                            lottery-agency --receipt-pubkey keys/receipt-pubkey.pem --receipts receipts-1.jsonl")]
    Keys {
        /// The directory to write into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Verify {
            store,
            receipts,
            pubkey,
        } => verify(&store, &receipts, &pubkey),
        Command::Export { store, out } => export(&store, &out),
        Command::Certs {
            agencies,
            out,
            server_names,
        } => certs(agencies, &out, server_names),
        Command::Keys { out } => keys(&out),
        Command::Status {
            addr,
            ca,
            token_file,
            json,
        } => show_status(&addr, ca.as_deref(), token_file.as_deref(), json),
    }
}

fn show_status(
    addr: &status::StatusAddr,
    ca: Option<&Path>,
    token_file: Option<&Path>,
    json: bool,
) -> ExitCode {
    let url = match addr.url(ca.is_some()) {
        Ok(url) => url,
        Err(usage) => {
            eprintln!("lottery-admin: status: {usage}");
            return ExitCode::from(2);
        }
    };
    let token = match token_file.map(status::read_token).transpose() {
        Ok(token) => token,
        Err(error) => {
            eprintln!("lottery-admin: status: {}", chain(&error));
            return ExitCode::from(2);
        }
    };
    let url = url.as_str();
    match status::fetch(url, ca, token.as_deref()) {
        Ok((body, _)) if json => {
            println!("{}", body.trim_end());
            ExitCode::SUCCESS
        }
        Ok((_, status)) => {
            print!("{}", status::table(url, &status));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("lottery-admin: status: {}", chain(&error));
            ExitCode::FAILURE
        }
    }
}

fn verify(store: &Path, receipts: &[PathBuf], pubkeys: &[PathBuf]) -> ExitCode {
    if let Some(usage) = receipts::usage(receipts, pubkeys) {
        eprintln!("lottery-admin: verify: {usage}");
        return ExitCode::from(2);
    }
    if let Some(url) = store
        .to_str()
        .filter(|url| lottery_pg::is_postgres_url(url))
    {
        return verify_ledger(url, receipts, pubkeys);
    }
    match verify_store(store) {
        Ok(report) => {
            print!("{}", describe(store, &report));
            if !report.is_whole() {
                return ExitCode::FAILURE;
            }
            if receipts.is_empty() {
                return ExitCode::SUCCESS;
            }
            match verify_receipts(receipts, pubkeys, &receipts::Ledgered::of_store(&report)) {
                Err(error) => {
                    eprintln!("lottery-admin: verify: {error}");
                    println!("receipts: fail");
                    ExitCode::FAILURE
                }
                Ok(()) => ExitCode::SUCCESS,
            }
        }
        Err(error) => {
            eprintln!("lottery-admin: verify: {}", chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// Checks `receipts` against the store `report` describes, each under one
/// of the public keys at the paths given, printing what held.
fn verify_receipts(
    receipts: &[PathBuf],
    pubkeys: &[PathBuf],
    report: &receipts::Ledgered<'_>,
) -> Result<(), String> {
    let pubkeys = pubkeys
        .iter()
        .map(|path| {
            lottery_tls::ReceiptPubkey::load(path)
                .map(|pubkey| (path.clone(), pubkey))
                .map_err(|error| chain(&error))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let checked = receipts::check_receipts(receipts, &pubkeys, report)?;
    let mut out = String::new();
    receipts::describe(&checked, &mut out);
    print!("{out}");
    Ok(())
}

/// A PostgreSQL ledger checked, and `receipts` against the chain its bets
/// give: those are checked even when the ledger's own check failed, so that
/// the receipt an edit touches is named too. Exits 0 only when both hold.
fn verify_ledger(url: &str, receipts: &[PathBuf], pubkeys: &[PathBuf]) -> ExitCode {
    let whole = match lottery_pg::verify_ledger(url) {
        Ok(report) => {
            print!("{}", describe_ledger(url, &report));
            true
        }
        Err(error) => {
            eprintln!("lottery-admin: verify: {}", chain(&error));
            false
        }
    };
    if receipts.is_empty() {
        return if whole {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let held = lottery_pg::ledger_chain(url)
        .map_err(|error| chain(&error))
        .and_then(|found| {
            verify_receipts(receipts, pubkeys, &receipts::Ledgered::of_ledger(&found))
        });
    match held {
        Ok(()) if whole => ExitCode::SUCCESS,
        Ok(()) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("lottery-admin: verify: {error}");
            println!("receipts: fail");
            ExitCode::FAILURE
        }
    }
}

fn export(store: &str, out: &Path) -> ExitCode {
    if !lottery_pg::is_postgres_url(store) {
        eprintln!(
            "lottery-admin: export: '{store}' is not a postgres:// URL (a file store is its own bets.csv)"
        );
        return ExitCode::FAILURE;
    }
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = create_partial(&partial)
        .map_err(|error| format!("cannot create {}: {error}", partial.display()))
        .and_then(|file| {
            let mut file = std::io::BufWriter::new(file);
            let bets = lottery_pg::export_csv(store, &mut file).map_err(|error| chain(&error))?;
            let file = file
                .into_inner()
                .map_err(|error| format!("cannot write {}: {error}", partial.display()))?;
            file.sync_all()
                .and_then(|()| std::fs::rename(&partial, out))
                .map_err(|error| format!("cannot write {}: {error}", out.display()))?;
            Ok(bets)
        });
    match written {
        Ok(bets) => {
            println!("exported {bets} bets to {}", out.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            eprintln!("lottery-admin: export: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Creates `OUT.partial` new: whatever is at that name (one a killed export
/// left, or a symbolic link placed there) is unlinked first, the link itself
/// and never what it points to, and the file is then created with
/// `create_new`, which refuses any name that exists (a link re-placed
/// meanwhile included) instead of writing through it. The rename into `OUT`
/// replaces a link there too, never its target.
fn create_partial(partial: &Path) -> std::io::Result<std::fs::File> {
    match std::fs::remove_file(partial) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(partial)
}

fn certs(agencies: u32, out: &Path, mut server_names: Vec<String>) -> ExitCode {
    if server_names.is_empty() {
        server_names = DEFAULT_SERVER_NAMES.map(str::to_owned).to_vec();
    }
    let ids: Vec<AgencyId> = (1..=agencies)
        .map(|id| AgencyId::new(id).expect("parse_agencies admits 1 to MAX_AGENCIES only"))
        .collect();
    match write_pki(out, &ids, &server_names) {
        Ok(files) => {
            print!("{}", written(&files, &ids, &server_names));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("lottery-admin: certs: {}", chain(&error));
            ExitCode::FAILURE
        }
    }
}

fn keys(out: &Path) -> ExitCode {
    match write_receipt_keys(out) {
        Ok((private, public)) => {
            println!(
                "wrote {} (the central's signing key, mode 0600: lottery-server --receipt-key; keep it secret)",
                private.display()
            );
            println!(
                "wrote {} (the public key: give it to every agency, --receipt-pubkey, and to auditors, verify --pubkey)",
                public.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("lottery-admin: keys: {}", chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// `--agencies`: 1 to [`MAX_AGENCIES`], refused with the range otherwise
/// (a usage error: exit 2).
fn parse_agencies(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(agencies) if (1..=MAX_AGENCIES).contains(&agencies) => Ok(agencies),
        _ => Err(format!(
            "not a number of agencies (expected 1 to {MAX_AGENCIES})"
        )),
    }
}

/// What `certs` wrote, one file a line (the agencies' pairs summarized past
/// a few), and how to hand the files out.
fn written(files: &PkiFiles, agencies: &[AgencyId], server_names: &[String]) -> String {
    /// Agencies listed one by one; more are summarized.
    const LISTED: usize = 10;
    let mut out = String::new();
    let ca_key = files.ca().with_file_name("ca.key");
    let (server_cert, server_key) = files.server();
    let _ = writeln!(
        out,
        "wrote {} (the CA certificate, `{}`: give it to the central and every agency; a \
         certificate from another run of certs has another CA and is refused)",
        files.ca().display(),
        files.ca_name()
    );
    let _ = writeln!(
        out,
        "wrote {} (the CA key: keep it offline)",
        ca_key.display()
    );
    let (receipt_key, receipt_pubkey) = files.receipt_keys();
    let _ = writeln!(
        out,
        "wrote {} and {} (the receipt key pair: --receipt-key for the central, the public key for agencies and auditors)",
        receipt_key.display(),
        receipt_pubkey.display()
    );
    let _ = writeln!(
        out,
        "wrote {} and {} (the central, valid for {})",
        server_cert.display(),
        server_key.display(),
        server_names.join(", ")
    );
    for &agency in agencies.iter().take(LISTED) {
        let (cert, key) = files.agency(agency);
        let _ = writeln!(
            out,
            "wrote {} and {} (agency {agency})",
            cert.display(),
            key.display()
        );
    }
    if let (Some(&first), Some(&last)) = (agencies.get(LISTED), agencies.last()) {
        let _ = writeln!(
            out,
            "wrote agency-{first}.pem/.key to agency-{last}.pem/.key likewise"
        );
    }
    out.push_str(
        "private keys (*.key) are mode 0600. Keep ca.key offline (whoever holds it can issue any agency's certificate); \
         each agency gets ca.pem and its own agency-N.pem and agency-N.key only.\n",
    );
    out
}

/// The report as a table, for terminals and scripts (one fact a line).
fn describe(store: &std::path::Path, report: &StoreReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "store: {}", store.display());
    let bets: u64 = report.agencies.values().map(|books| books.bets).sum();
    contents(
        report.rules,
        &report.agencies,
        bets,
        report.draw.as_ref(),
        &mut out,
    );
    if let Some(commitment) = &report.commitment {
        let _ = writeln!(out, "commitment: {commitment}");
        match (&report.secret, report.winning_number) {
            (Some(secret), Some(number)) => {
                let _ = writeln!(
                    out,
                    "secret: {secret} (winning number {number}: SHA-256(secret || chain head), reduced to 0-9999)"
                );
            }
            _ => out.push_str("secret: kept until the draw\n"),
        }
    }
    let _ = writeln!(out, "chain head: {}", report.chain_head);
    let _ = writeln!(
        out,
        "committed: {} bytes of bets.csv",
        report.committed_bytes
    );
    out.push_str(&verdict(report));
    out
}

/// A PostgreSQL ledger's report, in the file store's shape. Printed only
/// when every check passed.
fn describe_ledger(url: &str, report: &lottery_pg::LedgerReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "store: {}", lottery_pg::redacted_url(url));
    contents(
        report.rules,
        &report.agencies,
        report.bets,
        report.draw.as_ref(),
        &mut out,
    );
    let _ = writeln!(
        out,
        "digests: every batch's bets match the digest recorded when it was stored ({} bytes as bets.csv)",
        report.rows_bytes
    );
    let _ = writeln!(
        out,
        "chain: {} records, every link recomputed",
        report.chain_records
    );
    let _ = writeln!(out, "chain head: {}", report.chain_head);
    out.push_str("result: whole\n");
    out
}

/// What both kinds of store report: rules, agencies, bets, the draw.
fn contents(
    rules: Option<lottery_core::LotteryRules>,
    agencies: &BTreeMap<AgencyId, AgencyReport>,
    bets: u64,
    draw: Option<&lottery_core::DrawSummary>,
    out: &mut String,
) {
    match rules {
        Some(rules) => {
            let _ = writeln!(
                out,
                "rules: {} agencies, winning number {}",
                rules.agencies, rules.winning
            );
        }
        None => out.push_str("rules: none recorded yet\n"),
    }
    agencies_table(agencies, out);
    let _ = writeln!(out, "bets: {bets}");
    match draw {
        Some(draw) => {
            let winners: Vec<String> = draw.winners_per_agency.iter().map(u64::to_string).collect();
            let _ = writeln!(
                out,
                "draw: {} bets, winners per agency {}",
                draw.bets,
                winners.join(",")
            );
        }
        None => out.push_str("draw: not yet\n"),
    }
}

/// One line per agency: bets, batches, last batch, finished.
fn agencies_table(agencies: &BTreeMap<AgencyId, AgencyReport>, out: &mut String) {
    let _ = writeln!(
        out,
        "{:>8} {:>12} {:>9} {:>11} {:>9}",
        "agency", "bets", "batches", "last_batch", "finished"
    );
    for (agency, books) in agencies {
        let _ = writeln!(
            out,
            "{:>8} {:>12} {:>9} {:>11} {:>9}",
            agency.get(),
            books.bets,
            books.batches,
            books.last_batch,
            if books.finished { "yes" } else { "no" }
        );
    }
}

/// The last line: whole, or why not.
fn verdict(report: &StoreReport) -> String {
    let mut out = String::new();
    if report.is_whole() {
        out.push_str("result: whole\n");
    } else if !report.journaled {
        out.push_str(
            "result: not whole: no journal (a course store, adopted when a central opens it)\n",
        );
    } else {
        let _ = writeln!(
            out,
            "result: not whole: {} bytes of bets.csv and {} bytes of the journal beyond what the journal vouches for (a crash's tail; the next central moves them to quarantine)",
            report.data_tail, report.journal_tail
        );
    }
    out
}
