//! Injecting one fault into a lottery under way: which kinds apply now,
//! their targets, and what each does (a kill and its restart, a pause, a
//! pg_ctl restart, a second connection, a hostile peer, a full disk).

use std::time::{Duration, Instant};

use lottery_bet::AgencyId;

use super::{FILLER, LotteryRun, Pending};
use crate::agency::history::{HistoryEvent, parse_history};
use crate::chaos::check::ConflictProbe;
use crate::chaos::faults::{FaultKind, Injected};
use crate::chaos::peers::{Hostile, resend_stored_batch, spawn_hostile};
use crate::chaos::system::fill_disk;
use crate::synthetic::SplitMix64;

impl LotteryRun<'_> {
    /// Whether agency `index`'s history says every one of its bets is
    /// acknowledged.
    fn sent_all(&self, index: usize) -> bool {
        std::fs::read_to_string(&self.agencies[index].setup.history).is_ok_and(|text| {
            parse_history(&text)
                .iter()
                .any(|line| matches!(line.event, HistoryEvent::Sent { .. }))
        })
    }

    /// Whether central `index` is up and not waiting for a restart.
    pub(super) fn central_up(&self, index: usize) -> bool {
        self.centrals[index].pid().is_some()
            && !self.pending.iter().any(|(_, pending)| {
                matches!(pending, Pending::RestartCentral(i) | Pending::ResumeCentral(i) if *i == index)
            })
    }

    /// Injects one fault of a kind drawn among those enabled (or of kind
    /// `forced`); `None` when the drawn kind found nothing to hit now.
    pub(super) fn inject(
        &mut self,
        rng: &mut SplitMix64,
        forced: Option<FaultKind>,
    ) -> Result<Option<Injected>, String> {
        let kinds: Vec<FaultKind> = self
            .config
            .faults
            .iter()
            .copied()
            .filter(|kind| match kind {
                FaultKind::Kill
                | FaultKind::Stop
                | FaultKind::AgencyKill
                | FaultKind::AgencyStop => true,
                FaultKind::SecondConn | FaultKind::Hostile => true,
                FaultKind::DiskFull => self.disk.is_some(),
                FaultKind::PgRestart => self
                    .config
                    .postgres
                    .as_ref()
                    .is_some_and(|postgres| postgres.cluster.is_some()),
            })
            .collect();
        if kinds.is_empty() {
            return Ok(None);
        }
        let kind = forced.unwrap_or_else(|| *rng.pick(&kinds));
        let at = self.run_started.elapsed();
        let detail = match kind {
            FaultKind::DiskFull => {
                let disk = self.disk.as_ref().expect("kinds filtered");
                if self
                    .pending
                    .iter()
                    .any(|(_, p)| matches!(p, Pending::FreeDisk))
                {
                    return Ok(None);
                }
                let filled = fill_disk(&disk.join(FILLER))?;
                let hold = Duration::from_millis(rng.between(200, 3000));
                self.pending
                    .push((Instant::now() + hold, Pending::FreeDisk));
                format!(
                    "the store's disk filled ({} KiB more), freed after {} ms",
                    filled / 1024,
                    hold.as_millis()
                )
            }
            FaultKind::SecondConn => match self.second_connection(rng) {
                Some(detail) => detail,
                None => return Ok(None),
            },
            FaultKind::Hostile => {
                let up: Vec<usize> = (0..self.centrals.len())
                    .filter(|&index| self.central_up(index))
                    .collect();
                if up.is_empty() {
                    return Ok(None);
                }
                let central = &self.centrals[*rng.pick(&up)];
                let kind = *rng.pick(&[Hostile::Garbage, Hostile::Slowloris, Hostile::Silent]);
                spawn_hostile(
                    central.address(),
                    kind,
                    rng.next_u64(),
                    Duration::from_secs(10),
                );
                format!("a {} on {}", kind.name(), central.name)
            }
            FaultKind::PgRestart => {
                let mode = *rng.pick(&["fast", "immediate"]);
                let postgres = self.config.postgres.as_ref().expect("kinds filtered");
                let began = Instant::now();
                postgres.restart(mode)?;
                format!(
                    "pg_ctl restart -m {mode}: the database was back after {} ms",
                    began.elapsed().as_millis()
                )
            }
            FaultKind::Kill | FaultKind::Stop => {
                let index = rng.below(self.centrals.len() as u64) as usize;
                if !self.central_up(index) {
                    return Ok(None);
                }
                let name = self.centrals[index].name.clone();
                if kind == FaultKind::Kill {
                    let down = Duration::from_millis(rng.below(800));
                    self.centrals[index].kill();
                    self.pending
                        .push((Instant::now() + down, Pending::RestartCentral(index)));
                    let when = if forced.is_some() {
                        " near the end of the ingest"
                    } else {
                        ""
                    };
                    format!(
                        "{name} SIGKILLed{when}, restarted after {} ms",
                        down.as_millis()
                    )
                } else {
                    let pause = Duration::from_millis(rng.between(200, 6000));
                    self.centrals[index].pause(true)?;
                    self.pending
                        .push((Instant::now() + pause, Pending::ResumeCentral(index)));
                    format!("{name} SIGSTOPped for {} ms", pause.as_millis())
                }
            }
            _ => {
                let alive: Vec<usize> = (0..self.agencies.len())
                    .filter(|&i| self.agencies[i].alive() && !self.agencies[i].stopped)
                    .collect();
                if alive.is_empty() {
                    return Ok(None);
                }
                let index = *rng.pick(&alive);
                let id = self.agencies[index].setup.id;
                if kind == FaultKind::AgencyKill {
                    let down = Duration::from_millis(rng.below(500));
                    self.agencies[index].kill();
                    self.agencies[index].restart_at = Some(Instant::now() + down);
                    format!(
                        "agency {id} SIGKILLed, restarted after {} ms",
                        down.as_millis()
                    )
                } else {
                    let pause = Duration::from_millis(rng.between(200, 6000));
                    self.agencies[index].pause(true)?;
                    self.pending
                        .push((Instant::now() + pause, Pending::ResumeAgency(index)));
                    format!("agency {id} SIGSTOPped for {} ms", pause.as_millis())
                }
            }
        };
        Ok(Some(Injected {
            at,
            lottery: self.lottery,
            kind,
            detail,
        }))
    }

    /// A second connection for a live agency, on any central that is up:
    /// it resends a stored batch, with its bets or with others. What
    /// happened, or `None` when there was no one to impersonate.
    fn second_connection(&mut self, rng: &mut SplitMix64) -> Option<String> {
        let live: Vec<usize> = (0..self.agencies.len())
            .filter(|&index| self.agencies[index].alive())
            .collect();
        // An agency still sending has batches to conflict with and a window
        // of acks to lose; one waiting for its winners only a connection.
        let sending: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&index| !self.sent_all(index))
            .collect();
        let live = if sending.is_empty() { live } else { sending };
        let up: Vec<usize> = (0..self.centrals.len())
            .filter(|&index| self.central_up(index))
            .collect();
        if live.is_empty() || up.is_empty() {
            return None;
        }
        let index = *rng.pick(&live);
        let central = &self.centrals[*rng.pick(&up)];
        let id = self.agencies[index].setup.id;
        let agency = AgencyId::new(id).expect("agency ids from 1");
        let same_bets = rng.one_in(2);
        let (bets, batch_max) = &self.inputs[index];
        let size = *batch_max as usize;
        let batch_bets = |batch: u64| {
            let start = (batch as usize - 1).saturating_mul(size).min(bets.len());
            bets[start..(start + size).min(bets.len())].to_vec()
        };
        let which = if same_bets { "its own" } else { "other" };
        match resend_stored_batch(
            &central.address(),
            agency,
            self.pki.as_deref(),
            same_bets,
            rng,
            batch_bets,
        ) {
            // Its handshake replaced the agency's connection all the same.
            Ok(None) => Some(format!(
                "second connection for agency {id} on {}: nothing to resend (no batch stored, or finished); it replaced the agency's connection",
                central.name
            )),
            Ok(Some(resend)) => {
                if !same_bets {
                    self.conflicts.push(ConflictProbe {
                        agency: id,
                        batch: resend.batch,
                        acked: resend.acked,
                        answer: resend.answer.clone(),
                    });
                } else if !resend.acked {
                    self.notes.push(format!(
                        "lottery {}: agency {id}'s stored batch {} resent with its own bets on {} was not acknowledged: {}",
                        self.lottery, resend.batch, central.name, resend.answer
                    ));
                }
                Some(format!(
                    "second connection for agency {id} on {}: batch {} resent with {which} bets, answered {}",
                    central.name, resend.batch, resend.answer
                ))
            }
            Err(error) => Some(format!(
                "second connection for agency {id} on {}: {error}",
                central.name
            )),
        }
    }

    /// Starts central `index` again. While the store's disk is full it may
    /// refuse to start (it cannot move a torn tail aside): that is noted and
    /// the restart tried again once the disk is freed.
    pub(super) fn restart_central(&mut self, index: usize) -> Result<(), String> {
        let freed_at = self
            .pending
            .iter()
            .find_map(|(at, pending)| matches!(pending, Pending::FreeDisk).then_some(*at));
        match (self.centrals[index].start(), freed_at) {
            (Ok(()), _) => Ok(()),
            (Err(error), Some(at)) => {
                let first = error.lines().find(|line| line.contains("result: fail"));
                self.notes.push(format!(
                    "lottery {}: {} did not start on a full disk ({}); started again once it was freed",
                    self.lottery,
                    self.centrals[index].name,
                    first.unwrap_or("no error line").trim()
                ));
                self.pending.push((
                    at + Duration::from_millis(100),
                    Pending::RestartCentral(index),
                ));
                Ok(())
            }
            (Err(error), None) => Err(error),
        }
    }

    /// Frees the store's disk: the filler goes.
    pub(super) fn free_disk(&self) -> Result<(), String> {
        let Some(disk) = &self.disk else {
            return Ok(());
        };
        let filler = disk.join(FILLER);
        std::fs::remove_file(&filler)
            .map_err(|error| format!("remove {}: {error}", filler.display()))
    }
}
