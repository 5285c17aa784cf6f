//! The acceptance test of issue 5: the real `lottery-server` binary and five
//! `lottery-agency` processes on the course data set (`../shared/data` next
//! to the workspace, when it exists; otherwise the synthetic data set, and
//! the test says so), checked the way the course checks it: the agencies'
//! `cant_ganadores` lines, one `sorteo` line, the `apuesta_recibida` counts,
//! and `bets.csv` holding exactly the input bets.

mod support;

use std::collections::HashMap;
use std::path::PathBuf;

use lottery_core::{AgencyFile, AgencyId, Bet, BetNumber, StoreRows};
use lottery_examples::synthetic::SyntheticDataSet;

use support::{Central, log_values, run_agency, workspace_root};

/// The course's data set and what the course expects of it.
const COURSE_WINNERS: [usize; 5] = [2, 3, 3, 2, 0];
const COURSE_BETS: u64 = 78_697;

fn read_bets(path: &PathBuf) -> Vec<Bet> {
    AgencyFile::open(path)
        .unwrap()
        .map(|bet| bet.expect("the input is valid"))
        .collect()
}

fn multiset(bets: impl IntoIterator<Item = Bet>) -> HashMap<Bet, usize> {
    let mut counts = HashMap::new();
    for bet in bets {
        *counts.entry(bet).or_insert(0) += 1;
    }
    counts
}

#[test]
fn five_agencies_on_the_course_data_get_their_winners_and_every_bet_is_stored_once() {
    let shared = workspace_root().join("../shared/data");
    let generated = tempfile::tempdir().unwrap();
    let course = shared.join("agency-1.csv").is_file();
    let files: Vec<PathBuf> = if course {
        eprintln!(
            "acceptance: running on the course data set in {}",
            shared.display()
        );
        (1..=5)
            .map(|id| shared.join(format!("agency-{id}.csv")))
            .collect()
    } else {
        eprintln!(
            "acceptance: {} not found: running on the synthetic data set instead",
            shared.display()
        );
        SyntheticDataSet::default()
            .write_agency_files(generated.path())
            .unwrap()
    };
    let inputs: Vec<Vec<Bet>> = files.iter().map(read_bets).collect();
    let expected_winners: Vec<usize> = inputs
        .iter()
        .map(|bets| {
            bets.iter()
                .filter(|bet| bet.number == BetNumber::DEFAULT_WINNING)
                .count()
        })
        .collect();
    let total: u64 = inputs.iter().map(|bets| bets.len() as u64).sum();
    if course {
        assert_eq!(expected_winners, COURSE_WINNERS, "the course data changed");
        assert_eq!(total, COURSE_BETS, "the course data changed");
    }

    let central = Central::start(5);
    let agencies: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(index, file)| {
            let id = (index + 1).to_string();
            let data = file.to_str().unwrap().to_string();
            let server = central.address();
            std::thread::spawn(move || {
                run_agency(&["--id", &id, "--server", &server, "--data", &data], &[])
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (index, agency) in agencies.into_iter().enumerate() {
        let output = agency.join().unwrap();
        assert!(
            output.status.success(),
            "agency {} failed:\n{}",
            index + 1,
            output.log
        );
        let lines = log_values(
            &output.log,
            "action: consulta_ganadores | result: success | cant_ganadores: ",
        );
        assert_eq!(lines.len(), 1, "agency {}: {}", index + 1, output.log);
        winners.push(lines[0] as usize);
    }
    assert_eq!(winners, expected_winners);

    let exited = central.wait_for_exit();
    let log = &exited.log;
    assert_eq!(
        log.matches("action: sorteo | result: success").count(),
        1,
        "{log}"
    );
    let received: u64 = log_values(
        log,
        "action: apuesta_recibida | result: success | cantidad: ",
    )
    .iter()
    .sum();
    assert_eq!(received, total);
    assert!(
        !log.contains("action: apuesta_recibida | result: fail"),
        "{log}"
    );

    let mut stored: HashMap<AgencyId, Vec<Bet>> = HashMap::new();
    let store_file = std::fs::File::open(&exited.store).unwrap();
    for row in StoreRows::new(std::io::BufReader::new(store_file)) {
        let row = row.expect("bets.csv rows parse");
        stored.entry(row.agency).or_default().push(row.bet);
    }
    assert_eq!(stored.len(), 5);
    for (index, input) in inputs.into_iter().enumerate() {
        let agency = AgencyId::new(index as u32 + 1).unwrap();
        let held = stored.remove(&agency).unwrap_or_default();
        assert_eq!(held.len(), input.len(), "agency {agency}");
        assert!(
            multiset(held) == multiset(input),
            "agency {agency}: bets.csv differs from its input"
        );
    }
}
