//! Accuracy-versus-time reports for optimizer comparisons.
//!
//! A [`RunRecord`] keeps what a comparison needs from one [`FitResult`]: the optimizer name,
//! the per-iteration history, why the run stopped and how often it restarted. From a slice of
//! runs this module writes
//!
//! | file | function | content |
//! |---|---|---|
//! | `history.csv` | [`history_csv`] | one row per run and iteration |
//! | `summary.md` | [`summary_markdown`] | iterations and seconds to reach 1e-2, 1e-4, 1e-6 |
//! | `error_vs_iteration.{png,svg}` | [`plot_convergence`] | relative error against iteration |
//! | `error_vs_seconds.{png,svg}` | [`plot_convergence`] | relative error against optimizer seconds |
//!
//! [`write_report`] writes all of them into one directory; [`summary_text`] renders the same
//! table for the terminal.
//!
//! Every table and plot uses one error column for all runs ([`ErrorColumn::choose`]): the test
//! error when every run has one, else the validation error when every run has one, else the
//! training error. All files are written atomically (temporary file, then rename).

mod plot;
mod table;

pub use plot::{plot_convergence, PLOT_SIZE};
pub use table::{
    format_error, format_seconds, summarize, summary_markdown, summary_text, Reached, Summary,
    SummaryRow, DEFAULT_THRESHOLDS,
};

use crate::data::csv::write_csv;
use crate::error::{Error, Result};
use crate::train::{FitResult, IterationRecord, StopReason};
use std::path::{Path, PathBuf};

/// What a report needs from one optimizer run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunRecord {
    /// Optimizer name as shown in tables and legends (`ngd-nesterov`).
    pub name: String,
    /// One record per iteration, starting with iteration 0 (the start point).
    pub history: Vec<IterationRecord>,
    /// Why the run ended.
    pub stop: StopReason,
    /// Number of momentum/CG restarts.
    pub restarts: usize,
    /// Relative test error of the model the run returned, if known.
    pub final_test_error: Option<f64>,
    /// Iteration of the returned iterate (the best-validation one under early stopping, else
    /// the last); the plots mark it with a circle.
    pub selected: Option<usize>,
}

impl RunRecord {
    /// The record of `fit`, shown as `name`.
    ///
    /// `final_test_error` is the test error of the iterate the trainer returned: the iterate
    /// with the smallest validation error when the run ended by early stopping, else the last
    /// one. When early stopping was enabled but another rule ended the run, the trainer still
    /// returns the best iterate; evaluate `fit.tt` and set the field to be exact.
    pub fn new(name: impl Into<String>, fit: &FitResult) -> Self {
        let returned = if fit.stop == StopReason::EarlyStopping {
            best_by_validation(&fit.history)
        } else {
            fit.history.last()
        };
        RunRecord {
            name: name.into(),
            history: fit.history.clone(),
            stop: fit.stop,
            restarts: fit.restarts,
            final_test_error: returned.and_then(|r| r.test_error),
            selected: returned.map(|r| r.iteration),
        }
    }

    /// The run returned its best-validation iterate (early stopping was on, whatever rule ended
    /// it): set [`RunRecord::selected`] and [`RunRecord::final_test_error`] from that record.
    pub fn returning_best_validation(mut self) -> Self {
        if let Some(r) = best_by_validation(&self.history) {
            self.selected = Some(r.iteration);
            self.final_test_error = r.test_error;
        }
        self
    }

    /// Replace [`RunRecord::final_test_error`] (e.g. by the test error of `fit.tt` evaluated
    /// by the caller).
    pub fn with_final_test_error(mut self, error: Option<f64>) -> Self {
        self.final_test_error = error;
        self
    }

    /// Number of iterations run (the iteration number of the last record; 0 for an empty
    /// history).
    pub fn iterations(&self) -> usize {
        self.history.last().map_or(0, |r| r.iteration)
    }

    /// Optimizer seconds of the whole run (0 for an empty history).
    pub fn seconds(&self) -> f64 {
        self.history.last().map_or(0.0, |r| r.seconds)
    }
}

impl<S: Into<String>> From<(S, &FitResult)> for RunRecord {
    fn from((name, fit): (S, &FitResult)) -> Self {
        RunRecord::new(name, fit)
    }
}

/// The first record with the smallest validation error (the trainer keeps the first best).
fn best_by_validation(history: &[IterationRecord]) -> Option<&IterationRecord> {
    let mut best: Option<&IterationRecord> = None;
    for r in history {
        if let Some(v) = r.validation_error {
            if best.and_then(|b| b.validation_error).is_none_or(|b| v < b) {
                best = Some(r);
            }
        }
    }
    best.or(history.last())
}

/// Which relative error the tables and plots show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ErrorColumn {
    /// Relative L2 error on the test set.
    Test,
    /// Relative L2 error on the validation set.
    Validation,
    /// Relative L2 error on the training samples.
    Train,
}

impl ErrorColumn {
    /// The test error if every run has one, else the validation error if every run has one,
    /// else the training error. A run "has" a column when at least one of its records has a
    /// value there (runs with an empty history are ignored).
    pub fn choose(runs: &[RunRecord]) -> ErrorColumn {
        let all_have = |col: ErrorColumn| {
            runs.iter()
                .filter(|r| !r.history.is_empty())
                .all(|r| r.history.iter().any(|h| col.value(h).is_some()))
        };
        if all_have(ErrorColumn::Test) {
            ErrorColumn::Test
        } else if all_have(ErrorColumn::Validation) {
            ErrorColumn::Validation
        } else {
            ErrorColumn::Train
        }
    }

    /// The value of this column in `record`.
    pub fn value(self, record: &IterationRecord) -> Option<f64> {
        match self {
            ErrorColumn::Test => record.test_error,
            ErrorColumn::Validation => record.validation_error,
            ErrorColumn::Train => Some(record.train_error),
        }
    }

    /// Column name in `history.csv` (`test_error`).
    pub fn csv_name(self) -> &'static str {
        match self {
            ErrorColumn::Test => "test_error",
            ErrorColumn::Validation => "validation_error",
            ErrorColumn::Train => "train_error",
        }
    }

    /// Human-readable name (`test`, `validation`, `training`).
    pub fn label(self) -> &'static str {
        match self {
            ErrorColumn::Test => "test",
            ErrorColumn::Validation => "validation",
            ErrorColumn::Train => "training",
        }
    }
}

impl std::fmt::Display for ErrorColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Column names of `history.csv`, in order.
pub const HISTORY_COLUMNS: [&str; 9] = [
    "optimizer",
    "iteration",
    "seconds",
    "train_loss",
    "train_error",
    "validation_error",
    "test_error",
    "step_size",
    "restarted",
];

/// Full-precision number for CSV cells (shortest text that reads back to the same `f64`,
/// exponent notation for very small or large magnitudes).
fn csv_number(v: f64) -> String {
    crate::data::csv::format_f64(v)
}

/// Write the histories of `runs` as CSV with the columns [`HISTORY_COLUMNS`]: one row per run
/// and iteration, an empty cell where a value is missing (no validation or test set),
/// `restarted` as `true`/`false`. The file is written atomically.
pub fn history_csv(runs: &[RunRecord], path: impl AsRef<Path>) -> Result<()> {
    let header: Vec<String> = HISTORY_COLUMNS.iter().map(|s| s.to_string()).collect();
    let opt = |v: Option<f64>| v.map(csv_number).unwrap_or_default();
    let rows: Vec<Vec<String>> = runs
        .iter()
        .flat_map(|run| {
            run.history.iter().map(move |h| {
                vec![
                    run.name.clone(),
                    h.iteration.to_string(),
                    csv_number(h.seconds),
                    csv_number(h.train_loss),
                    csv_number(h.train_error),
                    opt(h.validation_error),
                    opt(h.test_error),
                    csv_number(h.step.step_size),
                    h.step.restarted.to_string(),
                ]
            })
        })
        .collect();
    write_csv(path, &header, &rows)
}

/// Paths written by [`write_report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    /// The report directory.
    pub dir: PathBuf,
    /// `history.csv`.
    pub history_csv: PathBuf,
    /// `summary.md`.
    pub summary_md: PathBuf,
    /// `error_vs_iteration.png`, `.svg`, `error_vs_seconds.png`, `.svg`.
    pub plots: Vec<PathBuf>,
}

impl ReportFiles {
    /// Every file written.
    pub fn all(&self) -> Vec<PathBuf> {
        let mut v = vec![self.history_csv.clone(), self.summary_md.clone()];
        v.extend(self.plots.iter().cloned());
        v
    }
}

/// [`write_report_with_thresholds`] with [`DEFAULT_THRESHOLDS`] (1e-2, 1e-4, 1e-6).
pub fn write_report(runs: &[RunRecord], dir: impl AsRef<Path>, title: &str) -> Result<ReportFiles> {
    write_report_with_thresholds(runs, dir, title, &DEFAULT_THRESHOLDS)
}

/// Create `dir` if needed and write `history.csv`, `summary.md` (titled `title`, with the
/// summary table for `thresholds` and links to the plots) and the four convergence plots.
///
/// Errors: no runs, a threshold that is not finite and positive, or a file that cannot be
/// written (each file is written atomically; files already written stay).
pub fn write_report_with_thresholds(
    runs: &[RunRecord],
    dir: impl AsRef<Path>,
    title: &str,
    thresholds: &[f64],
) -> Result<ReportFiles> {
    let dir = dir.as_ref();
    if runs.is_empty() {
        return Err(Error::param("runs", "no optimizer runs to report"));
    }
    check_thresholds(thresholds)?;
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let history = dir.join("history.csv");
    history_csv(runs, &history)?;
    let plots = plot_convergence(runs, dir, title)?;

    let mut md = String::new();
    if !title.is_empty() {
        md.push_str(&format!("# {title}\n\n"));
    }
    md.push_str(&summary_markdown(runs, thresholds));
    md.push_str("\n![relative error vs optimizer seconds](error_vs_seconds.svg)\n\n");
    md.push_str("![relative error vs iteration](error_vs_iteration.svg)\n\n");
    md.push_str("Per-iteration values: [history.csv](history.csv).\n");
    let summary = dir.join("summary.md");
    crate::data::csv::write_atomic(&summary, |w| {
        use std::io::Write;
        w.write_all(md.as_bytes()).map_err(|source| Error::Io {
            path: summary.clone(),
            source,
        })
    })?;
    Ok(ReportFiles {
        dir: dir.to_path_buf(),
        history_csv: history,
        summary_md: summary,
        plots,
    })
}

/// Thresholds must be finite and positive.
fn check_thresholds(thresholds: &[f64]) -> Result<()> {
    if let Some(t) = thresholds.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
        return Err(Error::param(
            "thresholds",
            format!("error thresholds must be finite and positive, got {t}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::StepReport;
    use tensor_train::TensorTrain;

    fn rec(iteration: usize, seconds: f64, train: f64, test: Option<f64>) -> IterationRecord {
        IterationRecord {
            iteration,
            seconds,
            train_loss: 0.5 * train * train,
            train_error: train,
            validation_error: None,
            test_error: test,
            step: StepReport {
                step_size: if iteration == 0 { 0.0 } else { 0.5 },
                restarted: iteration == 2,
                ..Default::default()
            },
        }
    }

    /// `errors[k]` is the test error at iteration k, reached after `0.5 k` seconds.
    fn run(name: &str, errors: &[f64]) -> RunRecord {
        let history = errors
            .iter()
            .enumerate()
            .map(|(k, &e)| rec(k, 0.5 * k as f64, 2.0 * e, Some(e)))
            .collect();
        RunRecord {
            name: name.to_string(),
            history,
            stop: StopReason::MaxIter,
            restarts: 1,
            final_test_error: errors.last().copied(),
            selected: None,
        }
    }

    fn sample_runs() -> Vec<RunRecord> {
        vec![
            run("ngd-nesterov", &[1.0, 0.1, 5e-3, 2e-5, 1e-7]),
            run("als", &[1.0, 0.3, 0.05, 2e-3, 1.5e-3]),
        ]
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir = std::env::temp_dir().join(format!(
                "ttfit-report-{tag}-{}-{n}-{nanos}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn no_temp_files(dir: &Path) {
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.contains(".tmp."), "leftover temporary file {name}");
        }
    }

    #[test]
    fn thresholds_reached_and_not_reached() {
        let runs = sample_runs();
        let s = summarize(&runs, &DEFAULT_THRESHOLDS);
        assert_eq!(s.column, ErrorColumn::Test);
        assert_eq!(s.thresholds, DEFAULT_THRESHOLDS.to_vec());
        let ngd = &s.rows[0];
        assert_eq!(
            ngd.reached,
            vec![
                Some(Reached {
                    iteration: 2,
                    seconds: 1.0
                }),
                Some(Reached {
                    iteration: 3,
                    seconds: 1.5
                }),
                Some(Reached {
                    iteration: 4,
                    seconds: 2.0
                }),
            ]
        );
        assert_eq!(ngd.iterations, 4);
        assert_eq!(ngd.seconds, 2.0);
        assert_eq!(ngd.final_error, Some(1e-7));
        let als = &s.rows[1];
        assert_eq!(
            als.reached[0],
            Some(Reached {
                iteration: 3,
                seconds: 1.5
            })
        );
        assert_eq!(als.reached[1], None);
        assert_eq!(als.reached[2], None);
        // the threshold is inclusive, and iteration 0 counts
        let h = &runs[0].history;
        assert_eq!(
            Reached::first(h, ErrorColumn::Test, 5e-3),
            Some(Reached {
                iteration: 2,
                seconds: 1.0
            })
        );
        assert_eq!(
            Reached::first(h, ErrorColumn::Test, 1.0),
            Some(Reached {
                iteration: 0,
                seconds: 0.0
            })
        );
        // custom thresholds, in the order given
        let s = summarize(&runs, &[0.2, 1e-9]);
        assert_eq!(
            s.rows[1].reached,
            vec![
                Some(Reached {
                    iteration: 2,
                    seconds: 1.0
                }),
                None
            ]
        );
    }

    #[test]
    fn error_column_falls_back() {
        let mut runs = sample_runs();
        assert_eq!(ErrorColumn::choose(&runs), ErrorColumn::Test);
        for r in &mut runs[1].history {
            r.test_error = None;
        }
        assert_eq!(ErrorColumn::choose(&runs), ErrorColumn::Train);
        for run in &mut runs {
            for r in &mut run.history {
                r.validation_error = Some(r.train_error / 4.0);
            }
        }
        assert_eq!(ErrorColumn::choose(&runs), ErrorColumn::Validation);
        let s = summarize(&runs, &[1e-2]);
        // validation error = train / 4 = test / 2: ngd reaches 1e-2 at iteration 2 (5e-3)
        assert_eq!(
            s.rows[0].reached[0],
            Some(Reached {
                iteration: 2,
                seconds: 1.0
            })
        );
        assert!(summary_markdown(&runs, &[1e-2]).contains("`validation_error`"));
    }

    #[test]
    fn final_test_error_of_returned_iterate() {
        let mut history: Vec<IterationRecord> = [(0.9, 0.8), (0.2, 0.25), (0.3, 0.2), (0.25, 0.1)]
            .iter()
            .enumerate()
            .map(|(k, &(v, t))| {
                let mut r = rec(k, k as f64, t, Some(t));
                r.validation_error = Some(v);
                r
            })
            .collect();
        let fit = FitResult {
            tt: TensorTrain::zeros(&[2, 2], &[1]).unwrap(),
            history: history.clone(),
            stop: StopReason::EarlyStopping,
            restarts: 3,
        };
        let r = RunRecord::new("rgd", &fit);
        assert_eq!(r.name, "rgd");
        assert_eq!(r.restarts, 3);
        assert_eq!(r.history, history);
        assert_eq!(r.final_test_error, Some(0.25)); // best validation at iteration 1
        let fit = FitResult {
            stop: StopReason::MaxIter,
            ..fit
        };
        let r: RunRecord = ("rgd", &fit).into();
        assert_eq!(r.final_test_error, Some(0.1)); // last iterate
        assert_eq!(r.clone().with_final_test_error(None).final_test_error, None);
        history.clear();
        let fit = FitResult { history, ..fit };
        let r = RunRecord::new("empty", &fit);
        assert_eq!(
            (r.final_test_error, r.iterations(), r.seconds()),
            (None, 0, 0.0)
        );
    }

    #[test]
    fn history_csv_columns_and_rows() {
        let dir = TempDir::new("csv");
        let mut runs = sample_runs();
        runs[1].history[1].test_error = None;
        let path = dir.0.join("history.csv");
        history_csv(&runs, &path).unwrap();
        no_temp_files(&dir.0);
        let mut reader = ::csv::Reader::from_path(&path).unwrap();
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header, HISTORY_COLUMNS.to_vec());
        let rows: Vec<::csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 10);
        let row = |i: usize| rows[i].iter().collect::<Vec<&str>>();
        let r3 = row(3);
        assert_eq!(
            [r3[0], r3[1], r3[2], r3[5], r3[7], r3[8]],
            ["ngd-nesterov", "3", "1.5", "", "0.5", "false"]
        );
        // numbers read back exactly
        let e = 2e-5;
        let back = |s: &str| s.parse::<f64>().unwrap();
        assert_eq!(back(r3[3]), 0.5 * (2.0 * e) * (2.0 * e));
        assert_eq!(back(r3[4]), 2.0 * e);
        assert_eq!(back(r3[6]), e);
        assert_eq!(row(2)[8], "true");
        assert_eq!(row(5)[0], "als");
        assert_eq!(row(6)[6], ""); // missing test error
        assert_eq!(row(6)[5], ""); // no validation set
        assert_eq!(rows[9][4].parse::<f64>().unwrap(), 3e-3);
    }

    #[test]
    fn markdown_table_shape() {
        let md = summary_markdown(&sample_runs(), &DEFAULT_THRESHOLDS);
        assert!(
            md.starts_with("Relative test error (column `test_error`"),
            "{md}"
        );
        let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(table.len(), 4, "{md}");
        let ncols = 1 + 3 + 5;
        for l in &table {
            assert_eq!(l.matches('|').count(), ncols + 1, "{l}");
        }
        assert_eq!(
            table[0],
            "| optimizer | ≤ 1e-2 | ≤ 1e-4 | ≤ 1e-6 | final error | iterations | seconds | restarts | stop |"
        );
        assert_eq!(table[1], "|---|---:|---:|---:|---:|---:|---:|---:|---|");
        assert_eq!(
            table[2],
            "| ngd-nesterov | 2 it, 1.00 s | 3 it, 1.50 s | 4 it, 2.00 s | 1.0e-7 | 4 | 2.00 | 1 | iteration limit |"
        );
        assert_eq!(
            table[3],
            "| als | 3 it, 1.50 s | not reached | not reached | 1.5e-3 | 4 | 2.00 | 1 | iteration limit |"
        );
        // a pipe in a name does not break the table
        let mut runs = sample_runs();
        runs[0].name = "a|b".into();
        let md = summary_markdown(&runs, &[1e-2]);
        assert!(md.contains("| a\\|b |"));
    }

    #[test]
    fn text_table_is_aligned() {
        let text = summary_text(&sample_runs(), &DEFAULT_THRESHOLDS);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].contains("relative test error"));
        assert!(lines[2].chars().all(|c| c == '-'));
        // right-aligned columns end at the same character position on every line
        let col_end = |l: &str, needle: &str| {
            l.find(needle)
                .map(|i| l[..i + needle.len()].chars().count())
        };
        let end = col_end(lines[1], "iterations").unwrap();
        assert_eq!(col_end(lines[3], "  4  ").map(|e| e - 2), Some(end));
        assert_eq!(col_end(lines[4], "  4  ").map(|e| e - 2), Some(end));
        assert!(lines[4].starts_with("als          "));
        assert!(lines[4].contains("not reached"));
    }

    #[test]
    fn number_formats() {
        assert_eq!(format_error(3.2e-7), "3.2e-7");
        assert_eq!(format_error(0.01234), "1.2e-2");
        assert_eq!(format_error(0.0), "0");
        assert_eq!(format_error(f64::NAN), "NaN");
        assert_eq!(format_seconds(0.5312), "0.531");
        assert_eq!(format_seconds(12.34), "12.3");
        assert_eq!(format_seconds(1.0), "1.00");
        assert_eq!(format_seconds(9.996), "10.0");
        assert_eq!(format_seconds(1234.4), "1234");
        assert_eq!(format_seconds(0.001234), "0.00123");
        assert_eq!(format_seconds(4.2e-5), "4.2e-5");
        assert_eq!(format_seconds(0.0), "0");
    }

    #[test]
    fn plots_are_written() {
        let dir = TempDir::new("plot");
        let mut runs = sample_runs();
        runs.push(run("rcg", &[1.0, 0.0, f64::NAN, 1e-20]));
        runs[1].history[2].test_error = None;
        let files = plot_convergence(&runs, &dir.0, "synthetic comparison").unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "error_vs_iteration.png",
                "error_vs_iteration.svg",
                "error_vs_seconds.png",
                "error_vs_seconds.svg"
            ]
        );
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            assert!(
                bytes.len() > 1000,
                "{} is {} bytes",
                f.display(),
                bytes.len()
            );
            if f.extension().unwrap() == "png" {
                assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
            } else {
                let svg = String::from_utf8(bytes).unwrap();
                assert!(svg.starts_with("<svg"));
                for name in ["ngd-nesterov", "als", "rcg", "synthetic comparison"] {
                    assert!(svg.contains(name), "{name} missing from {}", f.display());
                }
            }
        }
        no_temp_files(&dir.0);
        // keep a copy for a person to look at when asked
        if let Some(out) = std::env::var_os("TTFIT_REPORT_TEST_OUT") {
            for f in &files {
                std::fs::copy(f, Path::new(&out).join(f.file_name().unwrap())).unwrap();
            }
        }
        assert!(plot_convergence(&[], &dir.0, "x").is_err());
        let missing = dir.0.join("no-such-dir");
        let err = plot_convergence(&runs, &missing, "x").unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }

    #[test]
    fn write_report_writes_everything() {
        let dir = TempDir::new("report");
        let out = dir.0.join("nested").join("report");
        let files = write_report(&sample_runs(), &out, "Synthetic").unwrap();
        assert_eq!(files.dir, out);
        assert_eq!(files.all().len(), 6);
        for f in files.all() {
            assert!(std::fs::metadata(&f).unwrap().len() > 0, "{}", f.display());
            assert_eq!(f.parent(), Some(out.as_path()));
        }
        let md = std::fs::read_to_string(&files.summary_md).unwrap();
        assert!(md.starts_with("# Synthetic\n\nRelative test error"));
        assert!(md.contains("(error_vs_seconds.svg)"));
        no_temp_files(&out);
        assert!(write_report(&[], &out, "x").is_err());
        let err =
            write_report_with_thresholds(&sample_runs(), &out, "x", &[1e-2, 0.0]).unwrap_err();
        assert!(err.to_string().contains("thresholds"), "{err}");
    }
}
