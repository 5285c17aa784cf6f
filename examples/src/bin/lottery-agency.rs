//! `lottery-agency`: sends an agency's bets to the central, finishes, waits for
//! the draw and logs how many of its bets won (README, "The programs").

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use log::LevelFilter;
use lottery_bet::AgencyId;
use lottery_examples::agency::history::{HistoryEvent, HistoryWriter};
use lottery_examples::agency::receipts::ReceiptsFile;
use lottery_examples::agency::{self, AgencyArgs, AgencySettings, SessionEvent, run_session};
use lottery_examples::input;
use lottery_net::{ClientConfig, Interrupter};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// How long a signalled agency waits for its session to end before it exits
/// anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let settings =
        match AgencySettings::resolve(AgencyArgs::parse(), |name| std::env::var(name).ok()) {
            Ok(settings) => settings,
            Err(error) => {
                lottery_log::init(LevelFilter::Info).expect("the first logger of the process");
                agency::log::config_failed(&error);
                return ExitCode::from(2);
            }
        };
    lottery_log::init(settings.log_level).expect("the first logger of the process");
    let id = settings.id;
    let (data, single) = (settings.source.name(), settings.source.single().cloned());
    agency::log::config(&settings, &data);
    for warning in &settings.warnings {
        warning.log();
    }
    let interrupter = Interrupter::new();
    if let Err(error) = watch_signals(id, interrupter.clone()) {
        agency::log::watch_signals_failed(&error);
        return ExitCode::FAILURE;
    }

    let mut history = match HistoryWriter::open(settings.history.as_deref(), id) {
        Ok(history) => history,
        Err(error) => {
            let path = settings.history.clone().unwrap_or_default();
            agency::log::history_failed(id, &path, &error);
            HistoryWriter::open(None, id).expect("a writer without a file opens")
        }
    };
    let mut receipts = match settings.receipts.as_deref().map(ReceiptsFile::open) {
        None => None,
        Some(Ok(file)) => Some(file),
        Some(Err(error)) => {
            let path = settings.receipts.clone().unwrap_or_default();
            agency::log::receipts_failed(id, &path, &error);
            return ExitCode::FAILURE;
        }
    };
    let mut receipts_lost = false;
    let input = match settings.source.load(input::today()) {
        Ok(input) => input,
        Err(error) => {
            // Nothing was sent: the whole file is checked before connecting.
            agency::log::load_bets_failed(id, &error);
            return ExitCode::FAILURE;
        }
    };
    if input.count() == 0 {
        agency::log::no_bets_loaded(id, &data);
    } else {
        agency::log::bets_loaded(id, &data, input.count());
    }
    history.record(HistoryEvent::Loaded {
        bets: input.count(),
    });

    let mut config = ClientConfig::new(settings.server.clone(), id);
    config.batch_max = settings.batch_max_amount.map(std::num::NonZeroUsize::get);
    config.in_flight = settings.in_flight.get();
    config.reconnect_attempts = settings.reconnect_attempts;
    config.tls = settings.tls.as_ref().map(|tls| tls.client.clone());
    config.jitter_seed = jitter_seed();
    config.receipt_pubkey = settings.receipt_pubkey.as_ref().map(|(key, _)| *key);
    let outcome = run_session(config, input, interrupter, true, |event| {
        if let (SessionEvent::Sent { .. }, Some(bet)) = (&event, &single) {
            agency::log::bet_sent(bet);
        }
        match event {
            SessionEvent::Stored { stored } => {
                history.record(HistoryEvent::Stored { bets: stored })
            }
            SessionEvent::Sent { bets } => history.record(HistoryEvent::Sent { bets }),
            SessionEvent::Finished => history.record(HistoryEvent::Finished),
            SessionEvent::Receipt(receipt) => {
                if let Some(file) = &mut receipts
                    && let Err(error) = file.append(&receipt)
                {
                    let path = settings.receipts.clone().unwrap_or_default();
                    agency::log::receipts_failed(id, &path, &error);
                    receipts_lost = true;
                }
            }
            _ => {}
        }
    });
    let (result, error) = match &outcome {
        Ok(outcome) => {
            history.record(HistoryEvent::Winners {
                documents: outcome.winners.clone(),
            });
            ("success", None)
        }
        Err(error) if error.is_interrupted() => ("success", None),
        Err(error) => ("fail", Some(lottery_log::chain(error))),
    };
    history.record(HistoryEvent::Exit {
        result: result.into(),
        error,
    });
    match outcome {
        Ok(outcome) if receipts_lost => {
            agency::log::winners_received(outcome.winners.len());
            ExitCode::FAILURE
        }
        Ok(outcome) => {
            agency::log::winners_received(outcome.winners.len());
            agency::log::exited(id);
            ExitCode::SUCCESS
        }
        Err(error) if error.is_interrupted() => {
            // The client shut its socket down when the signal came.
            agency::log::connection_closed(id);
            agency::log::exited_on_signal(id);
            ExitCode::SUCCESS
        }
        Err(error) => {
            agency::log::exit_failed(id, &error);
            ExitCode::FAILURE
        }
    }
}

/// The seed of the reconnect pauses' spread: 64 bits of std's `RandomState`,
/// whose keys come from the operating system's randomness, so that agencies
/// started together (the same numbers on many machines, or a restarted
/// fleet) do not draw the same pauses. The client itself takes no
/// randomness: it is handed this seed.
fn jitter_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::process::id())
}

/// On SIGTERM (or SIGINT), logs and interrupts the client: it shuts its
/// socket down, which wakes whatever call blocks, and the session ends with
/// [`ClientError::Interrupted`](lottery_net::ClientError::Interrupted); `main`
/// then logs the close and exits 0. The central keeps every batch it acked,
/// so a restarted agency resumes from there. Should the session not end
/// within [`SHUTDOWN_GRACE`] (the client cannot interrupt a TCP connect
/// still under way), the process exits anyway, which closes the socket too;
/// so does a second signal.
fn watch_signals(id: AgencyId, interrupter: Interrupter) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let name = |signal| {
                if signal == SIGTERM {
                    "SIGTERM"
                } else {
                    "SIGINT"
                }
            };
            let Some(signal) = signals.forever().next() else {
                return;
            };
            agency::log::shutting_down(id, name(signal));
            interrupter.interrupt();
            // `main` returning ends the process, and this thread with it.
            let deadline = std::time::Instant::now() + SHUTDOWN_GRACE;
            while std::time::Instant::now() < deadline && signals.pending().next().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            agency::log::connection_closed(id);
            agency::log::exited_on_signal(id);
            std::process::exit(0);
        })?;
    Ok(())
}
