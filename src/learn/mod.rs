//! The learner: model selection around the optimizers (validation, rank and degree adaptivity,
//! best-iterate selection, refit), independent of which optimizer runs a stage.
//!
//! **Protocol.** A seeded fraction of the rows is held out ([`LearnConfig::validation`]).
//! The search starts at rank 1 (the configured start, greedy by default) and from the additive
//! fit at rank 2, keeps the better, with [`LearnConfig::start_functions`] functions per variable, and
//! alternates two kinds of *moves*, each followed by one *stage* (the configured optimizer,
//! warm-started, with early stopping on the validation error and the best-validation iterate
//! returned, see [`crate::train::StoppingRules::validation_patience`]):
//!
//! - **rank move**: a rank-one correction of the residual, then per-bond growth of the bonds
//!   whose discarded singular value `sigma_{r_k+1}` is within [`LearnConfig::rank_theta`] of the
//!   largest ([`enrich`]);
//! - **degree move**: more functions for the variables whose highest function carries a
//!   non-negligible share of the model's `L^2` norm ([`degree`]).
//!
//! Each round tries both moves from the current model and keeps the one with the lower
//! validation error; the search stops when [`LearnConfig::patience`] rounds in a row did not
//! improve the best validation error (by a relative `1e-2`), when nothing can grow, or when
//! the budget is spent. The budget is counted work ([`work`]), not a clock, so the search and
//! its answer do not depend on the machine, the load or the thread count. Each stage after the
//! first is warm-started from the previous model, and a momentum optimizer carries its velocity
//! over, projected onto the new tangent space ([`carry`]; the damping restarts). The model
//! with the lowest validation error over the whole path is selected;
//! with [`LearnConfig::refit`] it is then refitted on all rows (train + validation) from the
//! selected iterate for as many iterations as its stage needed to reach it. Before that, a
//! variable's functions are *pruned* to the fewest whose truncation keeps the validation error
//! within `1 %` (a move can grow a weak variable alongside a strong one), and under the
//! automatic penalty a few penalties are tried on the selected model. Test data, when
//! given, is only recorded, never used to select.
//!
//! **K-fold cross-validation** ([`LearnConfig::cv`], `--cv K`). The rows are cut into `K`
//! seeded folds; the search above runs with fold 1 held out and proposes its
//! [`CV_CANDIDATES`] best distinct settings (ranks, functions, penalty). Each setting is
//! fitted from the configured start on the rows outside each fold and scored on that fold;
//! the setting with the lowest mean fold error is refitted on all rows from the start, for the
//! mean number of iterations its fold fits took ([`CvReport`]). The fold fits are counted in
//! the budget: the search stops at half of it, and a setting after the first is compared only
//! while the budget lasts. Caveats: a fold fit starts afresh, not warm-started along the search
//! path, and its iteration count is chosen on the scored fold (as in the search's stages), so
//! the fold errors are slightly optimistic.
//!
//! **Pruning by rounding** ([`LearnConfig::prune`], `--prune TOL`): the selected model is
//! rounded with relative tolerance `TOL`; when ranks drop, one stage from the rounded model
//! replaces the selection if its validation error stays within 1 % ([`Rounding`]).

pub mod carry;
pub mod continuation;
pub mod degree;
pub mod enrich;
pub mod work;

use crate::basis::Basis;
use crate::basis::OutsidePolicy;
use crate::data::split::SplitSize;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::fit::{FitConfig, Fitted};
use crate::init::initial_tt;
use crate::loss::relative_error;
use crate::model::{sample_set, FunctionalTT};
use crate::model_file::TrainingInfo;
use crate::optim::{predict, OptimizerConfig};
use crate::samples::SampleSet;
use crate::train::{FitResult, IterationRecord, Observer, StopReason, StoppingRules, Trainer};
use std::time::Instant;
use tensor_train::linalg::Par;
use tensor_train::TensorTrain;

/// Settings of the adaptive learner (`FitConfig::learn`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LearnConfig {
    /// Grow the ranks (from 1, per bond, up to `max_rank`); `false` keeps `FitConfig::rank`.
    pub adapt_rank: bool,
    /// Grow the number of functions per variable (nested families only: Legendre, Hermite);
    /// `false` keeps `FitConfig::basis`/`bases`.
    pub adapt_degree: bool,
    /// Largest bond rank (default 8).
    pub max_rank: usize,
    /// Functions per variable at the start of the degree search (default 3: quadratic, so
    /// that even functions such as `sin^2` show a share to grow from).
    pub start_functions: usize,
    /// Most functions per variable (default 16).
    pub max_functions: usize,
    /// Bond growth threshold `theta` on `sigma_{r_k+1}` relative to the largest (default 0.8).
    pub rank_theta: f64,
    /// Optimizer iterations per stage (default 40).
    pub stage_iterations: usize,
    /// Early stopping inside a stage: iterations without validation improvement (default 3).
    pub stage_patience: usize,
    /// Rounds without improvement of the best validation error before the search stops
    /// (default 2).
    pub patience: usize,
    /// Refit the selected model on all rows, from the selected iterate, for as many
    /// iterations as its stage took to reach it (default false: in docs/BENCHMARKS.md it
    /// gains a little on borehole and OTL but loses a factor 100 on Ishigami, where the ALS
    /// sweeps on all rows undo the early stopping).
    pub refit: bool,
    /// Sobolev-type ALS penalty `mu` ([`crate::optim::als::AlsConfig::sobolev`]); `None`
    /// (default): search with [`DEFAULT_SOBOLEV`], then choose among [`SOBOLEV_GRID`] by the
    /// validation error of one more stage on the selected model.
    pub sobolev: Option<f64>,
    /// K-fold cross-validation (`2 <= K <=` rows; `None`, default: one held-out split
    /// decides). The rows are cut into `K` seeded folds ([`crate::data::split::kfold_indices`]);
    /// the search runs with fold 1 held out and proposes its [`CV_CANDIDATES`] best distinct
    /// settings (ranks, functions, penalty); each setting is fitted from the configured start
    /// on every `K - 1` folds and scored on the fold left out; the lowest mean fold error is
    /// selected and refitted on all rows (see [`CvReport`]). Replaces the validation fraction
    /// and [`LearnConfig::refit`].
    pub cv: Option<usize>,
    /// Budget of the search in *work seconds* ([`work`]: counted floating-point work times
    /// one calibration constant, so the same data give the same search on any machine, under
    /// any load, with any thread count), checked between stages; `None` (default):
    /// [`AUTO_SECONDS_PER_ROW`] per data row, at least [`MIN_AUTO_SECONDS`] (4 s up to 2000
    /// rows, 20 s at 10,000). With `cv`, the search stops at half of it and the K-fold
    /// comparison spends the rest.
    pub time_limit: Option<f64>,
    /// Pruning by rounding (`--prune TOL`): after the search, the selected model is rounded
    /// with relative tolerance `TOL` (TT-SVD, `||x - round(x)|| <= TOL ||x||`); when that drops
    /// ranks, one stage from the rounded model, which replaces the selection if its validation
    /// error is within 1 % of the selected one ([`Rounding`] in the summary). `None`
    /// (default): no rounding.
    pub prune: Option<f64>,
}

impl Default for LearnConfig {
    fn default() -> Self {
        LearnConfig {
            adapt_rank: true,
            adapt_degree: true,
            max_rank: 8,
            start_functions: 3,
            max_functions: 16,
            rank_theta: 0.8,
            stage_iterations: 40,
            stage_patience: 3,
            patience: 2,
            refit: false,
            sobolev: None,
            cv: None,
            time_limit: None,
            prune: None,
        }
    }
}

/// Default validation fraction of the learner when `FitConfig::validation` is unset.
pub const DEFAULT_VALIDATION: f64 = 0.2;

/// CPU time of the process (all threads) in seconds, if the platform reports it.
pub fn process_cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime only writes the timespec it is given, which lives on our stack.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        if rc == 0 {
            return Some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9);
        }
    }
    None
}

/// Default search budget per data row: the cost of a stage grows linearly with the rows.
pub const AUTO_SECONDS_PER_ROW: f64 = 2e-3;

/// Smallest default search budget (small data sets: a 1 s budget at N = 500 cut Genz
/// oscillatory d = 10 from 6.8e-6 to 3.8e-3).
pub const MIN_AUTO_SECONDS: f64 = 4.0;

/// Sobolev penalty of the search when it is chosen automatically.
pub const DEFAULT_SOBOLEV: f64 = 1e-6;

/// Penalties tried on the selected model when the penalty is chosen automatically.
pub const SOBOLEV_GRID: [f64; 3] = [0.0, 1e-7, 1e-5];

/// Settings of the search compared by K-fold cross-validation when `cv` is set.
pub const CV_CANDIDATES: usize = 4;

/// Relative improvement of the best validation error that counts as progress.
const MIN_GAIN: f64 = 1e-2;

impl LearnConfig {
    /// Check ranges.
    pub fn validate(&self) -> Result<()> {
        if self.max_rank == 0 {
            return Err(Error::param("max-rank", "must be at least 1"));
        }
        if self.start_functions == 0 || self.start_functions > self.max_functions {
            return Err(Error::param(
                "learner functions",
                format!(
                    "need 1 <= start functions ({}) <= max functions ({})",
                    self.start_functions, self.max_functions
                ),
            ));
        }
        if !(self.rank_theta > 0.0 && self.rank_theta <= 1.0) {
            return Err(Error::param("rank theta", "must lie in (0, 1]"));
        }
        if self.stage_iterations == 0 || self.stage_patience == 0 {
            return Err(Error::param(
                "learner stages",
                "stage iterations and patience must be at least 1",
            ));
        }
        if self.cv.is_some_and(|k| k < 2) {
            return Err(Error::param("cv", "K-fold cross-validation needs K >= 2"));
        }
        if self.sobolev.is_some_and(|m| !(m.is_finite() && m >= 0.0)) {
            return Err(Error::param("sobolev", "must be finite and >= 0"));
        }
        if self
            .prune
            .is_some_and(|t| !(t.is_finite() && t > 0.0 && t < 1.0))
        {
            return Err(Error::param(
                "prune",
                "the rounding tolerance must lie in (0, 1), e.g. --prune 1e-4",
            ));
        }
        if self.time_limit.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
            return Err(Error::param("learner time limit", "must be finite and > 0"));
        }
        Ok(())
    }
}

/// What a stage of the search did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stage {
    /// `start`, `rank`, `degree` or `refit`.
    pub kind: String,
    /// Internal ranks of the stage's model.
    pub ranks: Vec<usize>,
    /// Functions per variable.
    pub functions: Vec<usize>,
    /// Sobolev penalty `mu` of the stage (ALS only; recorded but unused by other optimizers).
    pub sobolev: f64,
    /// Training error of the stage's best iterate.
    pub train_error: f64,
    /// Validation error of the stage's best iterate.
    pub validation_error: f64,
    /// Test error of that iterate, if test data was given (never used to select).
    pub test_error: Option<f64>,
    /// Index of that iterate in the concatenated history.
    pub iterate: usize,
    /// Whether the move became the current model.
    pub accepted: bool,
    /// Work seconds of the search when the stage ended ([`work`]; deterministic).
    pub work_seconds: f64,
}

/// The selection: the path and what was chosen.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Selection {
    /// Every stage, in order.
    pub stages: Vec<Stage>,
    /// Index in `stages` of the selected model.
    pub selected: usize,
    /// Index of the selected iterate in the concatenated history.
    pub selected_iterate: usize,
    /// Whether the selected model was refitted on all rows.
    pub refitted: bool,
    /// With `cv`: the K-fold comparison that chose the settings.
    pub cv: Option<CvReport>,
    /// With `prune`: what the rounding of the selected model did.
    pub rounding: Option<Rounding>,
}

/// The pruning by rounding of `--prune TOL` ([`LearnConfig::prune`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rounding {
    /// The relative tolerance `TOL`.
    pub tol: f64,
    /// Internal ranks of the model before rounding.
    pub from_ranks: Vec<usize>,
    /// Internal ranks after rounding (equal to `from_ranks` when nothing could be dropped).
    pub to_ranks: Vec<usize>,
    /// Validation error before rounding.
    pub validation_before: f64,
    /// Validation error of the rounded model after its stage (`None`: nothing dropped).
    pub validation_after: Option<f64>,
    /// Whether the rounded model replaced the selected one.
    pub kept: bool,
}

impl Rounding {
    /// One clause for the summary.
    pub fn summary(&self) -> String {
        match (self.validation_after, self.kept) {
            (None, _) => format!(
                "rounding at {:e} dropped no rank of {:?}",
                self.tol, self.from_ranks
            ),
            (Some(v), true) => format!(
                "rounded at {:e} from ranks {:?} to {:?}, validation {:.3e} -> {v:.3e}: kept",
                self.tol, self.from_ranks, self.to_ranks, self.validation_before
            ),
            (Some(v), false) => format!(
                "rounding at {:e} from ranks {:?} to {:?} raised the validation error {:.3e} -> {v:.3e}: not kept",
                self.tol, self.from_ranks, self.to_ranks, self.validation_before
            ),
        }
    }
}

/// One setting compared by K-fold cross-validation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CvCandidate {
    /// Index in [`Selection::stages`] of the search stage that proposed the setting.
    pub stage: usize,
    /// Internal ranks.
    pub ranks: Vec<usize>,
    /// Functions per variable.
    pub functions: Vec<usize>,
    /// Sobolev penalty (ALS).
    pub sobolev: f64,
    /// `fold_errors[f]`: relative error on fold `f` of the fit on the other folds (from the
    /// configured start, at most `stage_iterations` iterations, best iterate on fold `f`).
    pub fold_errors: Vec<f64>,
    /// Iteration of that best iterate, per fold.
    pub fold_iterations: Vec<usize>,
    /// Mean of `fold_errors`: the selection criterion.
    pub mean_error: f64,
}

/// The K-fold comparison of `--cv K`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CvReport {
    /// Number of folds `K`.
    pub folds: usize,
    /// The settings compared, in the order of their search validation error.
    pub candidates: Vec<CvCandidate>,
    /// Index in `candidates` of the selected setting (lowest `mean_error`; ties to the first).
    pub selected: usize,
    /// Iterations of the refit on all rows: the rounded mean of the selected setting's
    /// `fold_iterations`, at least 1.
    pub refit_iterations: usize,
}

impl Selection {
    /// One line: what was selected and why.
    pub fn summary(&self) -> String {
        if let Some(cv) = &self.cv {
            let c = &cv.candidates[cv.selected];
            let next = cv
                .candidates
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != cv.selected)
                .map(|(_, c)| c.mean_error)
                .fold(f64::INFINITY, f64::min);
            let folds: Vec<String> = c.fold_errors.iter().map(|e| format!("{e:.2e}")).collect();
            return format!(
                "selected ranks {:?}, functions {:?}, penalty {:e} by {}-fold cross-validation: lowest mean fold error {:.3e} (folds {}) among {} settings of the search{}; refitted on all rows for {} iterations",
                c.ranks,
                c.functions,
                c.sobolev,
                cv.folds,
                c.mean_error,
                folds.join(", "),
                cv.candidates.len(),
                if next.is_finite() {
                    format!(" (next best {next:.3e})")
                } else {
                    String::new()
                },
                cv.refit_iterations
            );
        }
        let s = &self.stages[self.selected];
        format!(
            "selected ranks {:?}, functions {:?} (stage {} of {}, lowest validation error {:.3e}){}{}",
            s.ranks,
            s.functions,
            self.selected + 1,
            self.stages.len(),
            s.validation_error,
            if self.refitted {
                "; refitted on all rows"
            } else {
                ""
            },
            self.rounding
                .as_ref()
                .map_or(String::new(), |r| format!("; {}", r.summary()))
        )
    }
}

/// A model of the search with its validation error.
#[derive(Clone)]
struct Candidate {
    x: TensorTrain,
    functions: Vec<usize>,
    valid: f64,
    best_iter: usize,
    /// The optimizer's state after the stage's last step (carried into the next stage).
    state: crate::optim::state::OptimizerState,
}

struct Search<'a, O: Observer> {
    cfg: &'a FitConfig,
    lc: &'a LearnConfig,
    train: SampleSet,
    valid: SampleSet,
    test: Option<SampleSet>,
    par: Par,
    history: Vec<IterationRecord>,
    seconds: f64,
    stages: Vec<Stage>,
    observer: O,
    restarts: usize,
    sobolev: f64,
    /// Counted work of everything the search ran (the budget's clock).
    work: work::WorkMeter,
    /// The whole budget (work seconds).
    budget: f64,
    /// The search's part of it (half with K folds, else all).
    search_budget: f64,
    /// The best iterate, functions and its iteration, of every stage (parallel to `stages`).
    models: Vec<(TensorTrain, Vec<usize>, usize)>,
}

impl<O: Observer> Search<'_, O> {
    /// One stage of the configured optimizer from `x0` with `functions`, early stopping on
    /// validation; records the history and returns the best-validation iterate.
    ///
    /// `from`: the stage this one continues; its optimizer state is carried to `x0`
    /// ([`carry`]).
    fn stage(
        &mut self,
        kind: &str,
        x0: TensorTrain,
        functions: &[usize],
        from: Option<&Candidate>,
    ) -> Result<Candidate> {
        let train = degree::restrict(&self.train, functions)?;
        let valid = degree::restrict(&self.valid, functions)?;
        let test = self
            .test
            .as_ref()
            .map(|t| degree::restrict(t, functions))
            .transpose()?;
        // the budget is counted work (see `work`): checked between stages, and a stage of the
        // search stops after the iterations the budget has left (at least one; the pruning
        // stages after the search, by degree or by rounding, are not cut)
        let per_iteration = work::iteration_units(&self.cfg.optimizer, &x0, train.len())
            + work::evaluation_units(&x0, train.len() + valid.len());
        let left = (self.search_budget - self.work.seconds()) / work::SECONDS_PER_UNIT;
        let max_iter = if kind.starts_with("prune") {
            self.lc.stage_iterations
        } else {
            self.lc
                .stage_iterations
                .min((left / per_iteration.max(1.0)).floor().max(1.0) as usize)
        };
        let rules = StoppingRules {
            max_iter,
            validation_patience: Some(self.lc.stage_patience),
            time_limit: None,
            ..self.cfg.stopping.clone()
        };
        let mut built = with_sobolev(&self.cfg.optimizer, self.sobolev).build()?;
        let carried = match from {
            Some(c) => carry::carried_state(&self.cfg.optimizer, &c.state, &x0)?,
            None => None,
        };
        let mut opt = carry::Seeded::new(built.as_mut(), carried)?;
        let offset = self.history.len();
        let t0 = self.seconds;
        let r = {
            let hist = &mut self.history;
            let obs = &mut self.observer;
            Trainer::new(rules)
                .par(self.par)
                .seed(self.cfg.seed)
                .observe(|rec: &IterationRecord| {
                    let mut g = rec.clone();
                    g.iteration = hist.len();
                    g.seconds += t0;
                    obs.observe(&g);
                    hist.push(g);
                })
                .run(&mut opt, x0, &train, Some(&valid), test.as_ref())?
        };
        let state = crate::optim::Optimizer::state(&opt);
        self.restarts += r.restarts;
        self.seconds = self.history.last().map_or(t0, |h| h.seconds);
        let iterations = r.history.len().saturating_sub(1) as f64;
        self.work.add(
            iterations * work::iteration_units(&self.cfg.optimizer, &r.tt, train.len())
                + (iterations + 1.0) * work::evaluation_units(&r.tt, train.len() + valid.len()),
        );
        let (bi, best) = r
            .history
            .iter()
            .enumerate()
            .min_by(|a, b| {
                let va = a.1.validation_error.unwrap_or(f64::INFINITY);
                let vb = b.1.validation_error.unwrap_or(f64::INFINITY);
                va.total_cmp(&vb)
            })
            .ok_or_else(|| Error::param("learner", "empty stage history"))?;
        let valid_err = best.validation_error.unwrap_or(f64::INFINITY);
        self.models.push((r.tt.clone(), functions.to_vec(), bi));
        self.stages.push(Stage {
            kind: kind.into(),
            ranks: r.tt.internal_ranks(),
            functions: functions.to_vec(),
            sobolev: self.sobolev,
            train_error: best.train_error,
            validation_error: valid_err,
            test_error: best.test_error,
            iterate: offset + bi,
            accepted: false,
            work_seconds: self.work.seconds(),
        });
        Ok(Candidate {
            x: r.tt,
            functions: functions.to_vec(),
            valid: valid_err,
            best_iter: bi,
            state,
        })
    }

    /// K-fold comparison of the [`CV_CANDIDATES`] best distinct settings (ranks, functions,
    /// penalty) of the search, by their search validation error: each setting is fitted on
    /// every fold's complement in `all` and scored on the fold ([`fold_fit`]).
    ///
    /// The fold fits are counted in the budget: a setting after the first is compared only
    /// while the counted work is below the budget.
    fn cross_validate(&mut self, all: &SampleSet, folds: &[Vec<usize>]) -> Result<CvReport> {
        let mut order: Vec<usize> = (0..self.stages.len()).collect();
        order.sort_by(|&a, &b| {
            self.stages[a]
                .validation_error
                .total_cmp(&self.stages[b].validation_error)
        });
        let mut picked: Vec<usize> = Vec::new();
        for i in order {
            let s = &self.stages[i];
            if picked.iter().all(|&j| {
                let t = &self.stages[j];
                t.ranks != s.ranks || t.functions != s.functions || t.sobolev != s.sobolev
            }) {
                picked.push(i);
            }
            if picked.len() == CV_CANDIDATES {
                break;
            }
        }
        let mut candidates = Vec::with_capacity(picked.len());
        for i in picked {
            if !candidates.is_empty() && self.work.seconds() >= self.budget {
                break;
            }
            let s = self.stages[i].clone();
            let mut fold_errors = Vec::with_capacity(folds.len());
            let mut fold_iterations = Vec::with_capacity(folds.len());
            for fold in folds {
                let (e, it, units) = fold_fit(
                    self.cfg,
                    self.lc,
                    self.par,
                    all,
                    fold,
                    &s.ranks,
                    &s.functions,
                    s.sobolev,
                )?;
                self.work.add(units);
                fold_errors.push(e);
                fold_iterations.push(it);
            }
            let mean_error = fold_errors.iter().sum::<f64>() / folds.len() as f64;
            candidates.push(CvCandidate {
                stage: i,
                ranks: s.ranks.clone(),
                functions: s.functions.clone(),
                sobolev: s.sobolev,
                fold_errors,
                fold_iterations,
                mean_error,
            });
        }
        let selected = candidates
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.mean_error.total_cmp(&b.1.mean_error))
            .map(|(i, _)| i)
            .ok_or_else(|| Error::param("cv", "the search proposed no setting"))?;
        let its = &candidates[selected].fold_iterations;
        let refit_iterations =
            ((its.iter().sum::<usize>() as f64 / its.len() as f64).round() as usize).max(1);
        Ok(CvReport {
            folds: folds.len(),
            candidates,
            selected,
            refit_iterations,
        })
    }

    fn rank_move(&mut self, cur: &Candidate) -> Result<Option<Candidate>> {
        if !self.lc.adapt_rank {
            return Ok(None);
        }
        let train = degree::restrict(&self.train, &cur.functions)?;
        let z = enrich::rank_one_correction(&cur.x, &train, self.cfg.seed, self.par)?;
        // the residual, then at most CORRECTION_SWEEPS rank-one ALS sweeps with evaluations
        let als = OptimizerConfig::from_name("als")?;
        self.work.add(
            work::evaluation_units(&cur.x, train.len())
                + enrich::CORRECTION_SWEEPS as f64
                    * (work::iteration_units(&als, &z, train.len())
                        + work::evaluation_units(&z, train.len())),
        );
        match enrich::choose_bonds(&cur.x, &z, self.lc.rank_theta, self.lc.max_rank)? {
            None => Ok(None),
            Some((grown, _)) => Ok(Some(self.stage(
                "rank",
                grown,
                &cur.functions,
                Some(cur),
            )?)),
        }
    }

    /// Pruning by rounding: `cur` rounded with relative tolerance `tol`
    /// (`||x - round(x)|| <= tol ||x||`, TT-SVD); if that drops a rank, one stage from the
    /// rounded model, kept (returned) when its validation error is within a relative
    /// [`MIN_GAIN`] of `cur`'s, the tolerance of the degree pruning.
    fn round(&mut self, cur: &Candidate, tol: f64) -> Result<(Rounding, Option<Candidate>)> {
        let from_ranks = cur.x.internal_ranks();
        let rounded = cur.x.round(&tensor_train::Truncation::relative(tol))?.tt;
        let to_ranks = rounded.internal_ranks();
        let mut report = Rounding {
            tol,
            from_ranks,
            to_ranks,
            validation_before: cur.valid,
            validation_after: None,
            kept: false,
        };
        if report.to_ranks == report.from_ranks {
            return Ok((report, None));
        }
        let c = self.stage("prune (rounding)", rounded, &cur.functions, Some(cur))?;
        report.validation_after = Some(c.valid);
        report.kept = c.valid <= cur.valid * (1.0 + MIN_GAIN);
        let kept = report.kept;
        Ok((report, kept.then_some(c)))
    }

    /// Degree pruning: per variable, the fewest functions whose truncation of `cur` keeps the
    /// validation error within a relative [`MIN_GAIN`]; then one stage from the pruned model.
    /// `None` when nothing can be dropped.
    fn prune(&mut self, cur: &Candidate) -> Result<Option<Candidate>> {
        let mut keep = cur.functions.clone();
        let limit = cur.valid * (1.0 + MIN_GAIN);
        for k in 0..keep.len() {
            for n in 1..keep[k] {
                let mut trial = keep.clone();
                trial[k] = n;
                if tensor_train::check_ranks(&trial, &cur.x.internal_ranks()).is_err() {
                    continue;
                }
                let x = degree::truncate_modes(&cur.x, &trial)?;
                let valid = degree::restrict(&self.valid, &trial)?;
                self.work.add(work::evaluation_units(&x, valid.len()));
                let pred = predict(&x, &valid, self.par)?;
                if relative_error(pred.view(), valid.targets()) <= limit {
                    keep = trial;
                    break;
                }
            }
        }
        if keep == cur.functions {
            return Ok(None);
        }
        let x = degree::truncate_modes(&cur.x, &keep)?;
        Ok(Some(self.stage("prune", x, &keep, Some(cur))?))
    }

    fn degree_move(&mut self, cur: &Candidate, n_max: usize) -> Result<Option<Candidate>> {
        if !self.lc.adapt_degree {
            return Ok(None);
        }
        let shares = degree::top_energy(&cur.x)?;
        let extra = degree::degree_growth(&shares, &cur.functions, n_max);
        if extra.iter().all(|&e| e == 0) {
            return Ok(None);
        }
        let x = degree::pad_modes(&cur.x, &extra)?;
        let functions: Vec<usize> = cur
            .functions
            .iter()
            .zip(&extra)
            .map(|(n, e)| n + e)
            .collect();
        Ok(Some(self.stage("degree", x, &functions, Some(cur))?))
    }
}

/// One fixed-settings fit of a K-fold comparison: the configured start at `ranks` on the rows
/// of `all` outside `fold` (restricted to `functions`), then the configured optimizer with
/// penalty `sobolev` for at most `stage_iterations` iterations, early stopping on `fold`.
/// Returns the lowest relative error on `fold` over the iterates, its iteration (the
/// iteration count is thus chosen on the scored fold, as in the search's stages) and the
/// work units of the fit ([`work`]).
#[allow(clippy::too_many_arguments)]
fn fold_fit(
    cfg: &FitConfig,
    lc: &LearnConfig,
    par: Par,
    all: &SampleSet,
    fold: &[usize],
    ranks: &[usize],
    functions: &[usize],
    sobolev: f64,
) -> Result<(f64, usize, f64)> {
    let rest = crate::data::split::complement(all.len(), fold);
    let train = degree::restrict(&all.subset(&rest), functions)?;
    let valid = degree::restrict(&all.subset(fold), functions)?;
    let x0 = initial_tt(&train, ranks, &cfg.start, cfg.seed)?;
    let rules = StoppingRules {
        max_iter: lc.stage_iterations,
        validation_patience: Some(lc.stage_patience),
        time_limit: None,
        ..cfg.stopping.clone()
    };
    let mut opt = with_sobolev(&cfg.optimizer, sobolev).build()?;
    let r = Trainer::new(rules).par(par).seed(cfg.seed).run(
        opt.as_mut(),
        x0,
        &train,
        Some(&valid),
        None,
    )?;
    let iterations = r.history.len().saturating_sub(1) as f64;
    let units = iterations * work::iteration_units(&cfg.optimizer, &r.tt, train.len())
        + (iterations + 1.0) * work::evaluation_units(&r.tt, train.len() + valid.len());
    let (e, it) = r
        .history
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.validation_error.map(|e| (e, i)))
        .fold((f64::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a });
    Ok((e, it, units))
}

/// Run the adaptive learner (see the module docs); `cfg.learn` must be set.
pub fn learn(
    cfg: &FitConfig,
    data: &Dataset,
    test: Option<&Dataset>,
    observer: impl Observer,
) -> Result<Fitted> {
    let wall = Instant::now();
    let lc = cfg
        .learn
        .clone()
        .ok_or_else(|| Error::param("learner", "no learner configuration"))?;
    lc.validate()?;
    let d = data.n_inputs();
    let bases = cfg.check(d)?;
    if let (Some(_), Some(v)) = (lc.cv, cfg.validation) {
        return Err(Error::param(
            "cv",
            if v == 0.0 {
                "--cv K and --validation 0 conflict: cross-validation holds out each fold in turn; drop --validation 0, or drop --cv and fix --rank and --basis to fit without validation".to_string()
            } else {
                format!("--cv K holds out each fold in turn and replaces the validation fraction ({v}): drop --validation")
            },
        ));
    }
    let n_rows = data.n_samples();
    let folds = lc
        .cv
        .map(|k| crate::data::split::kfold_indices(n_rows, k, cfg.seed))
        .transpose()?;
    let fraction = cfg.validation.unwrap_or(DEFAULT_VALIDATION);
    if fraction <= 0.0 {
        return Err(Error::param(
            "validation",
            "the adaptive learner selects ranks and degrees on held-out rows; give a validation fraction > 0, or fix --rank and --basis to fit without validation",
        ));
    }
    let adapt_degree =
        lc.adapt_degree && bases.iter().all(degree::is_nested) && cfg.bases.is_none();
    let lc = LearnConfig { adapt_degree, ..lc };
    // features at the largest size; every degree is a column slice of them
    let n_max = if adapt_degree { lc.max_functions } else { 0 };
    let full_bases: Vec<Basis> = if adapt_degree {
        bases.iter().map(|b| resize(b, n_max)).collect()
    } else {
        bases.clone()
    };
    let features = cfg.feature_map(full_bases, data)?;
    let policy = OutsidePolicy::Extrapolate;
    // with K folds the search holds out fold 1, otherwise a seeded fraction
    let (tr, va) = match &folds {
        Some(f) => (
            data.subset(&crate::data::split::complement(n_rows, &f[0]))?,
            data.subset(&f[0])?,
        ),
        None => data.split(SplitSize::Fraction(fraction), cfg.seed)?,
    };
    if let Some(t) = test {
        if t.input_names != data.input_names {
            return Err(Error::data(
                "test data",
                format!(
                    "input columns {:?} differ from the training columns {:?}",
                    t.input_names, data.input_names
                ),
            ));
        }
    }
    let budget = lc
        .time_limit
        .unwrap_or((AUTO_SECONDS_PER_ROW * data.n_samples() as f64).max(MIN_AUTO_SECONDS));
    let mut search = Search {
        cfg,
        lc: &lc,
        train: sample_set(&features, &tr, policy)?,
        valid: sample_set(&features, &va, policy)?,
        test: test.map(|t| sample_set(&features, t, policy)).transpose()?,
        par: cfg.par(),
        history: Vec::new(),
        seconds: 0.0,
        stages: Vec::new(),
        observer,
        restarts: 0,
        work: work::WorkMeter::default(),
        models: Vec::new(),
        budget,
        search_budget: if folds.is_some() {
            budget / 2.0
        } else {
            budget
        },
        sobolev: lc.sobolev.unwrap_or(DEFAULT_SOBOLEV),
    };
    let functions: Vec<usize> = if adapt_degree {
        {
            // fixed ranks need enough functions to be admissible (r_k <= r_{k-1} n_k)
            let need = if lc.adapt_rank {
                1
            } else {
                cfg.rank.iter().copied().max().unwrap_or(1)
            };
            vec![lc.start_functions.max(need).min(n_max); d]
        }
    } else {
        bases.iter().map(Basis::dim).collect()
    };
    let ranks = if lc.adapt_rank {
        vec![1; d.saturating_sub(1)]
    } else {
        cfg.ranks(&functions)?
    };
    let x0 = initial_tt(
        &degree::restrict(&search.train, &functions)?,
        &ranks,
        &cfg.start,
        cfg.seed,
    )?;
    let mut cur = search.stage("start", x0, &functions, None)?;
    let mut first = 0usize;
    // an additive function is exactly rank 2 but far from rank 1: also start from the
    // additive fit at rank 2 and keep the better of the two starts
    let two = vec![2usize; d.saturating_sub(1)];
    if lc.adapt_rank
        && d > 2
        && lc.max_rank >= 2
        && tensor_train::check_ranks(&functions, &two).is_ok()
    {
        let restricted = degree::restrict(&search.train, &functions)?;
        let x2 = initial_tt(&restricted, &two, &crate::init::Start::Additive, cfg.seed)?;
        let c = search.stage("start (additive, rank 2)", x2, &functions, None)?;
        if c.valid < cur.valid {
            cur = c;
            first = search.stages.len() - 1;
        }
    }
    search.stages[first].accepted = true;
    let mut best = (cur.clone(), first);
    let mut idle = 0usize;
    // with K folds the search leaves half of the budget to the fold fits
    let search_budget = search.search_budget;
    while idle < lc.patience && search.work.seconds() < search_budget {
        let a = search.rank_move(&cur)?;
        let ia = search.stages.len() - 1;
        let b = if search.work.seconds() < search_budget {
            search.degree_move(&cur, n_max)?
        } else {
            None
        };
        let ib = search.stages.len() - 1;
        let next = match (a, b) {
            (None, None) => break,
            (Some(a), None) => (a, ia),
            (None, Some(b)) => (b, ib),
            (Some(a), Some(b)) => {
                if a.valid <= b.valid {
                    (a, ia)
                } else {
                    (b, ib)
                }
            }
        };
        search.stages[next.1].accepted = true;
        // a move is selected only for a real gain: ties go to the smaller, earlier model
        if next.0.valid < best.0.valid * (1.0 - MIN_GAIN) {
            idle = 0;
            best = next.clone();
        } else {
            idle += 1;
        }
        cur = next.0;
    }
    if lc.adapt_degree {
        if let Some(c) = search.prune(&best.0)? {
            if c.valid <= best.0.valid * (1.0 + MIN_GAIN) {
                let i = search.stages.len() - 1;
                search.stages[i].accepted = true;
                best = (c, i);
            }
        }
    }
    if lc.sobolev.is_none() && matches!(cfg.optimizer, OptimizerConfig::Als(_)) {
        let base = search.sobolev;
        let mut chosen = base;
        for &mu in &SOBOLEV_GRID {
            if search.work.seconds() >= search_budget {
                break;
            }
            search.sobolev = mu;
            let c = search.stage(
                &format!("penalty {mu:e}"),
                best.0.x.clone(),
                &best.0.functions,
                None,
            )?;
            if c.valid < best.0.valid * (1.0 - MIN_GAIN) {
                let i = search.stages.len() - 1;
                search.stages[i].accepted = true;
                best = (c, i);
                chosen = mu;
            }
        }
        search.sobolev = chosen;
    }
    let mut rounding = None;
    if let Some(tol) = lc.prune {
        let (r, c) = search.round(&best.0, tol)?;
        if let Some(c) = c {
            let i = search.stages.len() - 1;
            search.stages[i].accepted = true;
            best = (c, i);
        }
        rounding = Some(r);
    }
    let mut cv_report = None;
    let (sel, sel_stage) = best;
    let mut sel_functions = sel.functions.clone();
    let mut sel_stage = sel_stage;
    let mut tt = sel.x.clone();
    let mut stop = StopReason::EarlyStopping;
    let mut refitted = lc.refit;
    if let Some(folds) = &folds {
        // K-fold choice among the search's settings, then a fresh fit on all rows
        let all = sample_set(&features, data, policy)?;
        let report = search.cross_validate(&all, folds)?;
        let c = &report.candidates[report.selected];
        let restricted = degree::restrict(&all, &c.functions)?;
        let x0 = initial_tt(&restricted, &c.ranks, &cfg.start, cfg.seed)?;
        let rules = StoppingRules {
            max_iter: report.refit_iterations,
            validation_patience: None,
            time_limit: None,
            ..cfg.stopping.clone()
        };
        let mut opt = with_sobolev(&cfg.optimizer, c.sobolev).build()?;
        let r = Trainer::new(rules).par(search.par).seed(cfg.seed).run(
            opt.as_mut(),
            x0,
            &restricted,
            None,
            None,
        )?;
        tt = r.tt;
        stop = r.stop;
        sel_stage = c.stage;
        sel_functions = c.functions.clone();
        search.stages[sel_stage].accepted = true;
        refitted = true;
        cv_report = Some(report);
    } else if lc.refit {
        let all = degree::restrict(&sample_set(&features, data, policy)?, &sel.functions)?;
        let rules = StoppingRules {
            max_iter: sel.best_iter.max(1),
            validation_patience: None,
            time_limit: None,
            ..cfg.stopping.clone()
        };
        let mut opt = with_sobolev(&cfg.optimizer, search.sobolev).build()?;
        let r = Trainer::new(rules).par(search.par).seed(cfg.seed).run(
            opt.as_mut(),
            tt,
            &all,
            None,
            None,
        )?;
        tt = r.tt;
        stop = r.stop;
    }
    let final_bases: Vec<Basis> = if adapt_degree {
        bases
            .iter()
            .zip(&sel_functions)
            .map(|(b, &n)| resize(b, n))
            .collect()
    } else {
        bases
    };
    let final_features = cfg.feature_map(final_bases, data)?;
    let model = FunctionalTT::new(final_features, tt.clone())?;
    let selected_iterate = search.stages[sel_stage].iterate;
    let selection = Selection {
        stages: search.stages.clone(),
        selected: sel_stage,
        selected_iterate,
        refitted,
        cv: cv_report,
        rounding,
    };
    let sel_rec = search.stages[sel_stage].clone();
    let train_error = model.relative_error(data, policy)?;
    let info = TrainingInfo {
        ttfit_version: env!("CARGO_PKG_VERSION").into(),
        optimizer: format!("learner({})", opt_name(&cfg.optimizer)),
        optimizer_config: serde_json::to_value(&cfg.optimizer).ok(),
        iterations: search.history.len().saturating_sub(1),
        seconds: wall.elapsed().as_secs_f64(),
        stop_reason: selection.summary(),
        n_train: data.n_samples(),
        train_error,
        // with K folds: the selected setting's mean fold error
        validation_error: Some(selection.cv.as_ref().map_or(sel_rec.validation_error, |c| {
            c.candidates[c.selected].mean_error
        })),
        test_error: test.map(|t| model.relative_error(t, policy)).transpose()?,
        seed: cfg.seed,
        target: data.target_name.clone(),
        data_source: None,
        settings: serde_json::to_value(cfg).ok(),
        classification: None,
    };
    Ok(Fitted {
        model,
        result: FitResult {
            tt,
            history: search.history,
            stop,
            restarts: search.restarts,
        },
        info,
        selection: Some(selection),
    })
}

/// The optimizer with the Sobolev penalty `mu` (ALS only; other optimizers unchanged).
fn with_sobolev(c: &OptimizerConfig, mu: f64) -> OptimizerConfig {
    match c {
        OptimizerConfig::Als(a) => OptimizerConfig::Als(crate::optim::als::AlsConfig {
            sobolev: mu,
            ..a.clone()
        }),
        other => other.clone(),
    }
}

fn opt_name(c: &OptimizerConfig) -> String {
    c.build().map(|o| o.name()).unwrap_or_else(|_| "?".into())
}

/// The same family with `n` functions (nested families only; others unchanged).
fn resize(b: &Basis, n: usize) -> Basis {
    match b {
        Basis::Legendre { .. } => Basis::Legendre { n },
        Basis::Hermite { .. } => Basis::Hermite { n },
        other => other.clone(),
    }
}
