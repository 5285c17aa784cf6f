//! The `lottery-server` binary: settings, logging, the server, and an exit
//! code. Everything else is in the library.

use std::process::ExitCode;

use log::{error, info};
use lottery_log::chain;
use lottery_server::{Config, Server, open_watched_central};

fn main() -> ExitCode {
    let config = match Config::from_process() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("lottery-server: {}", chain(&error));
            return ExitCode::from(2);
        }
    };
    if let Err(error) = lottery_log::init(config.log_level) {
        eprintln!("lottery-server: {error}");
        return ExitCode::FAILURE;
    }
    info!("action: config | result: success | {config}");
    for warning in &config.warnings {
        warning.log();
    }
    let served = open_watched_central(&config.store, config.durability, config.rules).and_then(
        |(central, watch)| {
            Server::bind(
                config.listen,
                config.backlog,
                central,
                config.server.clone(),
            )?
            .watch_store(watch)
            .run()
        },
    );
    match served {
        Ok(reason) => {
            info!("action: exit | result: success | reason: {reason}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            error!("action: exit | result: fail | error: {}", chain(&failure));
            ExitCode::FAILURE
        }
    }
}
