//! Collecting a lottery's record once it is over: the centrals stopped,
//! the store read (`bets.csv`, or `lottery-admin export` of the schema), the
//! draw in the centrals' logs and the store, `lottery-admin verify`, the
//! agencies' histories.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use lottery_bet::{AgencyId, Bet, BetNumber, encode_store_rows};

use super::{FILLER, LotteryRun, Pending, Plan};
use crate::agency::history::{HistoryLine, parse_history};
use crate::chaos::check::{AgencyRecord, DrawLog, LotteryRecord, Revealed, SecretLog};
use crate::chaos::system::unmount;
use sha2::Digest as _;

impl LotteryRun<'_> {
    /// Stops the centrals and collects the lottery's record.
    pub(super) fn finish(mut self, plan: &Plan) -> Result<LotteryRecord, String> {
        // A restart still to come is made first, so the store is closed
        // cleanly by its central.
        for (_, pending) in std::mem::take(&mut self.pending) {
            match pending {
                Pending::ResumeCentral(index) => self.centrals[index].pause(false)?,
                Pending::RestartCentral(index) => self.centrals[index].start()?,
                Pending::FreeDisk => self.free_disk()?,
                Pending::ResumeAgency(_) => {}
            }
        }
        self.sample();
        for central in &mut self.centrals {
            central.terminate()?;
        }
        if let Some(disk) = self.disk.take() {
            // The store leaves the tmpfs for the checks (and for whoever
            // reads a failure's files).
            let kept = self.dir.join("store");
            copy_dir(&disk, &kept)?;
            unmount(&disk)?;
            self.store = kept.join("bets.csv").display().to_string();
        }
        let mut draw = DrawLog::default();
        let mut secret = self.config.committed.then(SecretLog::default);
        for central in &self.centrals {
            for log in &central.logs {
                let text = std::fs::read_to_string(log)
                    .map_err(|error| format!("read {}: {error}", log.display()))?;
                for line in text.lines() {
                    if line.contains("action: sorteo | result: success") {
                        draw.sorteo += 1;
                    } else if line.contains("action: recover_draw | result: success") {
                        draw.recovered += 1;
                    } else if let Some(secret) = &mut secret {
                        note_secret(line, secret);
                    }
                }
            }
        }
        // The number the agencies' winners must be the bets on: the fixed
        // one, or the one the secret gave (the checks of OneSecret say
        // whether the reveals agree; without one, no bet wins here and
        // the winners check fails on any agency that got some).
        let winning = match &secret {
            None => Some(BetNumber::DEFAULT_WINNING),
            Some(log) => log
                .revealed
                .first()
                .and_then(|revealed| BetNumber::from_text(revealed.number.as_bytes()).ok()),
        };
        let (stored_rows, verify) = match &self.config.postgres {
            Some(postgres) => {
                let stored_rows = self.export()?;
                let draw_bets = postgres.draw_bets(&self.store)?;
                draw.recorded = draw_bets == Some(stored_rows.len() as i64);
                (stored_rows, Some(self.verify()?.map(drop)))
            }
            None => {
                let verify = self.verify()?;
                draw.recorded = match &verify {
                    Ok(printed) | Err(printed) => printed
                        .lines()
                        .any(|line| line.starts_with("draw: ") && line != "draw: not yet"),
                };
                let bytes = std::fs::read(&self.store)
                    .map_err(|error| format!("read {}: {error}", self.store))?;
                (split_rows(&bytes), Some(verify.map(drop)))
            }
        };
        let mut agencies = BTreeMap::new();
        for (index, bets) in plan.bets.iter().enumerate() {
            let id = u32::try_from(index + 1).expect("few agencies");
            let history_path = &self.agencies[index].setup.history;
            let history = std::fs::read_to_string(history_path)
                .map(|text| parse_history(&text))
                .unwrap_or_default();
            agencies.insert(id, agency_record(id, bets, winning, history));
        }
        Ok(LotteryRecord {
            lottery: self.lottery,
            agencies,
            stored_rows,
            draw,
            verify,
            conflicts: std::mem::take(&mut self.conflicts),
            resources: std::mem::take(&mut self.peaks).into_values().collect(),
            secret,
        })
    }

    /// `lottery-admin verify` on the store (a file store or the PostgreSQL
    /// ledger): `Ok` with what it printed when it passed, `Err` with it when
    /// not.
    fn verify(&self) -> Result<Result<String, String>, String> {
        let output = Command::new(&self.config.binaries.admin)
            .args(["verify", "--store", &self.store])
            .output()
            .map_err(|error| format!("run lottery-admin verify: {error}"))?;
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(if output.status.success() {
            Ok(printed)
        } else {
            Err(printed)
        })
    }

    /// The rows of the PostgreSQL ledger, by `lottery-admin export`.
    fn export(&self) -> Result<Vec<Vec<u8>>, String> {
        let out = self.dir.join("export.csv");
        let output = Command::new(&self.config.binaries.admin)
            .args(["export", "--store", &self.store, "--out"])
            .arg(&out)
            .output()
            .map_err(|error| format!("run lottery-admin export: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "lottery-admin export failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let bytes =
            std::fs::read(&out).map_err(|error| format!("read {}: {error}", out.display()))?;
        Ok(split_rows(&bytes))
    }
}

/// Copies the files of `from` into `to` (created), the filler excepted.
fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|error| format!("create {}: {error}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|error| format!("read {}: {error}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|error| format!("read {}: {error}", from.display()))?;
        if entry.file_name() == FILLER {
            continue;
        }
        std::fs::copy(entry.path(), to.join(entry.file_name()))
            .map_err(|error| format!("copy {}: {error}", entry.path().display()))?;
    }
    Ok(())
}

/// The rows of a `bets.csv`, without their CRLF (no field holds a line
/// end: names refuse control characters).
pub fn split_rows(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split(|&byte| byte == b'\n')
        .map(|row| row.strip_suffix(b"\r").unwrap_or(row))
        .filter(|row| !row.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Notes `line` in `log` when it is a central's `commit_winning_number` or
/// `reveal_secret` line.
fn note_secret(line: &str, log: &mut SecretLog) {
    let field = |name: &str| -> Option<String> {
        let start = line.find(&format!("| {name}: "))? + name.len() + 4;
        Some(line[start..].split(' ').next()?.to_owned())
    };
    if line.contains("action: commit_winning_number | result: success") {
        if let Some(commitment) = field("commitment") {
            let new = field("store").as_deref() == Some("new");
            log.commitments.push((commitment, new));
        }
    } else if line.contains("action: reveal_secret | result: success")
        && let (Some(number), Some(secret)) = (field("winning_number"), field("secret"))
    {
        let bytes: Vec<u8> = (0..secret.len() / 2)
            .filter_map(|i| u8::from_str_radix(secret.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        let digest = sha2::Sha256::digest(&bytes);
        log.revealed.push(Revealed {
            number,
            secret,
            secret_sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
        });
    }
}

/// What agency `id` with input `bets` must end with under the winning
/// number `winning` (`None`: none is known, so none of its bets wins), and
/// its history.
pub fn agency_record(
    id: u32,
    bets: &[Bet],
    winning: Option<BetNumber>,
    history: Vec<HistoryLine>,
) -> AgencyRecord {
    let agency = AgencyId::new(id).expect("agency ids from 1");
    let expected_rows = bets
        .iter()
        .map(|bet| {
            let mut row = Vec::new();
            encode_store_rows(agency, std::slice::from_ref(bet), &mut row);
            split_rows(&row).pop().expect("one bet is one row")
        })
        .collect();
    let winning_documents = bets
        .iter()
        .filter(|bet| Some(bet.number) == winning)
        .map(|bet| bet.document.as_str().to_owned())
        .collect();
    AgencyRecord {
        expected_rows,
        winning_documents,
        history,
    }
}
