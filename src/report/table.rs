//! The summary table: iterations and seconds each run needed to reach error thresholds.

use super::{ErrorColumn, RunRecord};
use crate::train::{IterationRecord, StopReason};

/// Relative-error thresholds of the summary table by default.
pub const DEFAULT_THRESHOLDS: [f64; 3] = [1e-2, 1e-4, 1e-6];

/// Where a run first reached an error threshold.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Reached {
    /// First iteration whose error is at or below the threshold (0: the start point).
    pub iteration: usize,
    /// Cumulative optimizer seconds at that iteration.
    pub seconds: f64,
}

impl Reached {
    /// The first record of `history` whose `column` value is at or below `threshold`
    /// (records without a value, or with a non-finite one, are skipped).
    pub fn first(
        history: &[IterationRecord],
        column: ErrorColumn,
        threshold: f64,
    ) -> Option<Reached> {
        history
            .iter()
            .find(|r| {
                column
                    .value(r)
                    .is_some_and(|e| e.is_finite() && e <= threshold)
            })
            .map(|r| Reached {
                iteration: r.iteration,
                seconds: r.seconds,
            })
    }
}

/// One row of the summary table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SummaryRow {
    /// Optimizer name.
    pub name: String,
    /// One entry per threshold; `None`: not reached.
    pub reached: Vec<Option<Reached>>,
    /// Final relative error (the run's `final_test_error` for the test column, else the last
    /// value of the column); `None` when the run has none.
    pub final_error: Option<f64>,
    /// Iterations run.
    pub iterations: usize,
    /// Optimizer seconds of the whole run.
    pub seconds: f64,
    /// Momentum/CG restarts.
    pub restarts: usize,
    /// Why the run ended.
    pub stop: StopReason,
}

/// The summary table of a set of runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// The error column every row uses.
    pub column: ErrorColumn,
    /// The thresholds, in the order given.
    pub thresholds: Vec<f64>,
    /// One row per run, in the order given.
    pub rows: Vec<SummaryRow>,
}

/// Build the summary of `runs` for `thresholds`, using [`ErrorColumn::choose`].
pub fn summarize(runs: &[RunRecord], thresholds: &[f64]) -> Summary {
    let column = ErrorColumn::choose(runs);
    let rows = runs
        .iter()
        .map(|run| {
            let last = run.history.iter().rev().find_map(|r| column.value(r));
            let final_error = match column {
                ErrorColumn::Test => run.final_test_error.or(last),
                _ => last,
            };
            SummaryRow {
                name: run.name.clone(),
                reached: thresholds
                    .iter()
                    .map(|&t| Reached::first(&run.history, column, t))
                    .collect(),
                final_error,
                iterations: run.iterations(),
                seconds: run.seconds(),
                restarts: run.restarts,
                stop: run.stop,
            }
        })
        .collect();
    Summary {
        column,
        thresholds: thresholds.to_vec(),
        rows,
    }
}

/// The summary of `runs` as Markdown (for `summary.md`): a sentence naming the error column,
/// then the table.
pub fn summary_markdown(runs: &[RunRecord], thresholds: &[f64]) -> String {
    summarize(runs, thresholds).to_markdown()
}

/// The summary of `runs` as an aligned plain-text table for the terminal.
pub fn summary_text(runs: &[RunRecord], thresholds: &[f64]) -> String {
    summarize(runs, thresholds).to_text()
}

/// Text shown for a threshold that was never reached.
const NOT_REACHED: &str = "not reached";
/// Text shown for a missing value.
const MISSING: &str = "—";

impl Summary {
    fn header(&self) -> Vec<String> {
        let mut h = vec!["optimizer".to_string()];
        h.extend(
            self.thresholds
                .iter()
                .map(|t| format!("≤ {}", format_threshold(*t))),
        );
        h.extend(["final error", "iterations", "seconds", "restarts", "stop"].map(String::from));
        h
    }

    fn cells(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| {
                let mut c = vec![r.name.clone()];
                c.extend(r.reached.iter().map(|x| match x {
                    Some(x) => format!("{} it, {} s", x.iteration, format_seconds(x.seconds)),
                    None => NOT_REACHED.to_string(),
                }));
                c.push(r.final_error.map_or(MISSING.to_string(), format_error));
                c.push(r.iterations.to_string());
                c.push(format_seconds(r.seconds));
                c.push(r.restarts.to_string());
                c.push(r.stop.to_string());
                c
            })
            .collect()
    }

    /// Columns aligned left (name and stop reason); the others are right-aligned.
    fn left_aligned(&self, col: usize, ncols: usize) -> bool {
        col == 0 || col + 1 == ncols
    }

    /// A sentence naming the error column and how to read the threshold cells.
    pub fn description(&self) -> String {
        format!(
            "Relative {} error (column `{}` of history.csv). A threshold cell gives the first \
             iteration at which the error was at or below the threshold and the optimizer \
             seconds spent until then (error evaluations not counted); \"{NOT_REACHED}\" when \
             it never was.",
            self.column,
            self.column.csv_name()
        )
    }

    /// Markdown rendering: the [`Summary::description`] paragraph and a pipe table.
    pub fn to_markdown(&self) -> String {
        let header = self.header();
        let ncols = header.len();
        let escape = |s: &str| s.replace('|', "\\|");
        let line = |cells: &[String]| {
            let inner: Vec<String> = cells.iter().map(|c| escape(c)).collect();
            format!("| {} |\n", inner.join(" | "))
        };
        let mut out = format!("{}\n\n", self.description());
        out.push_str(&line(&header));
        let rule: Vec<&str> = (0..ncols)
            .map(|i| {
                if self.left_aligned(i, ncols) {
                    "---"
                } else {
                    "---:"
                }
            })
            .collect();
        out.push_str(&format!("|{}|\n", rule.join("|")));
        for row in self.cells() {
            out.push_str(&line(&row));
        }
        out
    }

    /// Plain-text rendering: a one-line description, the header, a rule and one line per run,
    /// columns padded to a common width and separated by two spaces.
    pub fn to_text(&self) -> String {
        let header = self.header();
        let rows = self.cells();
        let ncols = header.len();
        let width = |s: &str| s.chars().count();
        let widths: Vec<usize> = (0..ncols)
            .map(|i| {
                rows.iter()
                    .map(|r| width(&r[i]))
                    .chain(std::iter::once(width(&header[i])))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let pad = " ".repeat(widths[i] - width(c));
                    if self.left_aligned(i, ncols) {
                        format!("{c}{pad}")
                    } else {
                        format!("{pad}{c}")
                    }
                })
                .collect();
            format!("{}\n", padded.join("  ").trim_end())
        };
        let mut out = format!(
            "relative {} error; threshold cells: first iteration and seconds at or below it\n",
            self.column
        );
        out.push_str(&line(&header));
        let total = widths.iter().sum::<usize>() + 2 * ncols.saturating_sub(1);
        out.push_str(&"-".repeat(total));
        out.push('\n');
        for r in &rows {
            out.push_str(&line(r));
        }
        out
    }
}

/// A relative error with two significant digits: `3.2e-7`, `0`, `NaN`, `inf`.
pub fn format_error(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        format!("{v}")
    } else {
        format!("{v:.1e}")
    }
}

/// Seconds with three significant digits (`0.531`, `12.3`), whole seconds from 100 on
/// (`1234`), `4.2e-5` below a millisecond.
pub fn format_seconds(s: f64) -> String {
    if s == 0.0 || !s.is_finite() {
        return format!("{s}");
    }
    let a = s.abs();
    if a < 1e-3 {
        return format!("{s:.1e}");
    }
    if a >= 99.95 {
        return format!("{s:.0}");
    }
    // round to 3 significant digits first so that 9.996 becomes "10.0", not "10.00"
    let mag = a.log10().floor() as i32;
    let scale = 10f64.powi(2 - mag);
    let r = (s * scale).round() / scale;
    let mag = r.abs().log10().floor() as i32;
    let decimals = (2 - mag).max(0) as usize;
    format!("{r:.decimals$}")
}

/// A threshold as in `1e-2`, `2.5e-4`.
fn format_threshold(t: f64) -> String {
    format!("{t:e}")
}
