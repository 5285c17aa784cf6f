//! The table a chaos run prints: what it ran, the faults injected by kind,
//! each invariant with the lotteries it was checked on and failed on, and,
//! when anything failed, the seed to replay and the smallest part of the
//! history that shows each failure.

use std::fmt::Write;

use super::check::Invariant;
use super::faults::{FaultKind, count_by_kind};
use super::run::ChaosReport;

/// The table of `report`; `setup` says what ran (store, TLS, centrals).
pub fn table(report: &ChaosReport, setup: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "lottery-chaos: seed {:#x}, {:.1} s, {setup}",
        report.seed,
        report.elapsed.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "lotteries: {}, agencies: {}, bets: {}",
        report.lotteries, report.agencies, report.bets
    );
    let counts = count_by_kind(&report.faults);
    let _ = writeln!(out, "\n{:<14} {:>8}", "fault", "injected");
    for kind in FaultKind::ALL {
        if let Some(count) = counts.get(&kind) {
            let _ = writeln!(out, "{:<14} {count:>8}", kind.name());
        }
    }
    let _ = writeln!(out, "{:<14} {:>8}", "total", report.faults.len());
    let _ = writeln!(
        out,
        "\n{:<54} {:>7} {:>6}",
        "invariant", "checked", "failed"
    );
    for invariant in Invariant::ALL {
        let verdicts = report
            .verdicts
            .iter()
            .filter(|verdict| verdict.invariant == invariant);
        let (checked, failed) = verdicts.fold((0, 0), |(checked, failed), verdict| {
            (checked + 1, failed + usize::from(verdict.failure.is_some()))
        });
        let _ = writeln!(
            out,
            "{:<54} {checked:>7} {failed:>6}",
            invariant.description()
        );
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\nnotes ({}):", report.notes.len());
        for note in report.notes.iter().take(20) {
            let _ = writeln!(out, "  {note}");
        }
    }
    let failures = report.failures();
    if failures.is_empty() {
        let _ = writeln!(out, "\nresult: pass (0 invariant failures)");
        return out;
    }
    let _ = writeln!(
        out,
        "\nresult: FAIL, {} invariant failures; replay with --seed {:#x} (files kept in {})",
        failures.len(),
        report.seed,
        report.dir.display()
    );
    for verdict in failures {
        let _ = writeln!(
            out,
            "\nlottery {}: {} FAILED:\n  {}",
            verdict.lottery,
            verdict.invariant,
            verdict.failure.as_deref().unwrap_or_default()
        );
        let _ = writeln!(out, "  faults injected in lottery {}:", verdict.lottery);
        for fault in report
            .faults
            .iter()
            .filter(|fault| fault.lottery == verdict.lottery)
        {
            let _ = writeln!(out, "    {fault}");
        }
    }
    out
}
