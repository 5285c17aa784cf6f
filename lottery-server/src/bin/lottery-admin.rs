//! `lottery-admin`: the operator's tool. `lottery-admin verify --store PATH`
//! checks a store offline (read-only, without its lock) and prints what it
//! holds; it exits 0 only when the store is whole.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lottery_core::{StoreReport, verify_store};
use lottery_log::chain;

/// The lottery operator's tool.
#[derive(Debug, Parser)]
#[command(name = "lottery-admin", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Checks a store (bets.csv, its journal and manifest) without changing
    /// it: every committed row, the checksum chain over them, the rules and the
    /// draw. Exits 0 only when the store is whole.
    Verify {
        /// The store's bets.csv.
        #[arg(long, env = "SERVER_STORE", value_name = "PATH")]
        store: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Verify { store } => match verify_store(&store) {
            Ok(report) => {
                print!("{}", describe(&store, &report));
                if report.is_whole() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(error) => {
                eprintln!("lottery-admin: verify: {}", chain(&error));
                ExitCode::FAILURE
            }
        },
    }
}

/// The report as a table, for terminals and scripts (one fact a line).
fn describe(store: &std::path::Path, report: &StoreReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "store: {}", store.display());
    match report.rules {
        Some(rules) => {
            let _ = writeln!(
                out,
                "rules: {} agencies, winning number {}",
                rules.agencies, rules.winning_number
            );
        }
        None => out.push_str("rules: none recorded yet\n"),
    }
    agencies_table(report, &mut out);
    let bets: u64 = report.agencies.values().map(|books| books.bets).sum();
    let _ = writeln!(out, "bets: {bets}");
    match &report.draw {
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
    let _ = writeln!(out, "chain head: {}", report.chain_head);
    let _ = writeln!(
        out,
        "committed: {} bytes of bets.csv",
        report.committed_bytes
    );
    out.push_str(&verdict(report));
    out
}

/// One line per agency: bets, batches, last batch, finished.
fn agencies_table(report: &StoreReport, out: &mut String) {
    let _ = writeln!(
        out,
        "{:>8} {:>12} {:>9} {:>11} {:>9}",
        "agency", "bets", "batches", "last_batch", "finished"
    );
    for (agency, books) in &report.agencies {
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
