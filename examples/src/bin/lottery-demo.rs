//! `lottery-demo`: the lottery's main job in one command (README, "The programs").

use std::process::ExitCode;

use clap::Parser;
use log::error;
use lottery_examples::demo::{DemoArgs, DemoRun, run, serve_status, write_data};
use lottery_log::chain;

fn main() -> ExitCode {
    let args = DemoArgs::parse();
    lottery_log::init(args.log_level).expect("the first logger of the process");
    if let Some(dir) = &args.write_data {
        return match write_data(&args, dir) {
            Ok(said) => {
                println!("{said}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                error!(
                    "action: write_data | result: fail | error: {}",
                    chain(&error)
                );
                ExitCode::FAILURE
            }
        };
    }
    match run(&args) {
        Ok(DemoRun { report, central }) => {
            println!("{report}");
            if let (Some(central), Some(seconds)) = (central, args.serve_status)
                && let Err(error) = serve_status(central, seconds, &mut std::io::stdout())
            {
                error!(
                    "action: serve_status | result: fail | error: {}",
                    chain(&error)
                );
                return ExitCode::FAILURE;
            }
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            error!("action: demo | result: fail | error: {}", chain(&error));
            ExitCode::FAILURE
        }
    }
}
