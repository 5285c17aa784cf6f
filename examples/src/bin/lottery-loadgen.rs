//! `lottery-loadgen`: a benchmark client for the central (README, "The programs").

use std::process::ExitCode;

use clap::Parser;
use log::error;
use lottery_examples::loadgen::{LoadgenArgs, run};
use lottery_log::chain;

fn main() -> ExitCode {
    let args = LoadgenArgs::parse();
    lottery_log::init(args.log_level).expect("the first logger of the process");
    match run(&args) {
        Ok(report) => {
            if args.json {
                match serde_json::to_string(&report) {
                    Ok(json) => println!("{json}"),
                    Err(error) => {
                        error!("action: report | result: fail | error: {error}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                println!("{report}");
            }
            if report.failed_agencies == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            error!("action: load | result: fail | error: {}", chain(&error));
            ExitCode::FAILURE
        }
    }
}
