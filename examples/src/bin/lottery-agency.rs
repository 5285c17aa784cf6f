//! `lottery-agency`: sends an agency's bets to the central, finishes, waits for
//! the draw and logs how many of its bets won (SPEC section 5).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use log::{error, info};
use lottery_examples::agency::{AgencyArgs, AgencySettings, BetSource, run_session};
use lottery_examples::input::AgencyInput;
use lottery_net::client::{ClientConfig, Interrupter};
use lottery_server::chain;
use lottery_server::logging;
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
                logging::init(log::LevelFilter::Info).expect("the first logger of the process");
                error!("action: config | result: fail | error: {}", chain(&error));
                return ExitCode::from(2);
            }
        };
    logging::init(settings.log_level).expect("the first logger of the process");
    let agency = settings.id;
    let (data, single) = match &settings.source {
        BetSource::File(path) => (path.display().to_string(), None),
        BetSource::Single(bet) => ("<environment>".to_string(), Some(bet.clone())),
    };
    info!(
        "action: config | result: success | id: {agency} | server: {} | data: {data} | batch_max_amount: {} | in_flight: {} | reconnect_attempts: {} | log_level: {}",
        settings.server,
        settings
            .batch_max_amount
            .map_or_else(|| "frame".to_string(), |max| max.to_string()),
        settings.in_flight,
        settings.reconnect_attempts,
        logging::filter_name(settings.log_level)
    );
    let interrupter = Interrupter::new();
    if let Err(error) = watch_signals(agency.get(), interrupter.clone()) {
        error!("action: watch_signals | result: fail | error: {error}");
        return ExitCode::FAILURE;
    }

    let input = match &settings.source {
        BetSource::File(path) => AgencyInput::load(path),
        BetSource::Single(bet) => Ok(AgencyInput::single((**bet).clone())),
    };
    let input = match input {
        Ok(input) => input,
        Err(error) => {
            // Nothing was sent: the whole file is checked before connecting.
            error!(
                "action: load_bets | result: fail | agency: {agency} | error: {}",
                chain(&error)
            );
            return ExitCode::FAILURE;
        }
    };
    info!(
        "action: load_bets | result: success | agency: {agency} | data: {data} | bets: {}",
        input.count()
    );

    let mut config = ClientConfig::new(settings.server.clone(), agency);
    config.batch_max = settings.batch_max_amount.map(std::num::NonZeroUsize::get);
    config.in_flight = settings.in_flight.get();
    config.reconnect_attempts = settings.reconnect_attempts;
    let outcome = run_session(config, input, interrupter, true, |_| {
        if let Some(bet) = &single {
            info!(
                "action: apuesta_enviada | result: success | dni: {} | numero: {}",
                bet.document, bet.number
            );
        }
    });
    match outcome {
        Ok(outcome) => {
            info!(
                "action: consulta_ganadores | result: success | cant_ganadores: {}",
                outcome.winners.len()
            );
            info!("action: exit | result: success | agency: {agency}");
            ExitCode::SUCCESS
        }
        Err(error) if error.is_interrupted() => {
            // The client shut its socket down when the signal came.
            info!("action: close_connection | result: success | agency: {agency}");
            info!("action: exit | result: success | agency: {agency} | reason: signal");
            ExitCode::SUCCESS
        }
        Err(error) => {
            error!(
                "action: exit | result: fail | agency: {agency} | error: {}",
                chain(&error)
            );
            ExitCode::FAILURE
        }
    }
}

/// On SIGTERM (or SIGINT), logs and interrupts the client: it shuts its
/// socket down, which wakes whatever call blocks, and the session ends with
/// [`ClientError::Interrupted`](lottery_net::ClientError::Interrupted); `main`
/// then logs the close and exits 0. The central keeps every batch it acked,
/// so a restarted agency resumes from there. Should the session not end
/// within [`SHUTDOWN_GRACE`] (the client cannot interrupt a TCP connect
/// still under way), the process exits anyway, which closes the socket too;
/// so does a second signal.
fn watch_signals(agency: u32, interrupter: Interrupter) -> std::io::Result<()> {
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
            info!(
                "action: shutdown | result: in_progress | agency: {agency} | signal: {}",
                name(signal)
            );
            interrupter.interrupt();
            // `main` returning ends the process, and this thread with it.
            let deadline = std::time::Instant::now() + SHUTDOWN_GRACE;
            while std::time::Instant::now() < deadline && signals.pending().next().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            info!("action: close_connection | result: success | agency: {agency}");
            info!("action: exit | result: success | agency: {agency} | reason: signal");
            std::process::exit(0);
        })?;
    Ok(())
}
