//! The training driver: runs an [`Optimizer`] one step at a time, applies stopping rules,
//! tracks validation/test errors and feeds observers (the executor of `argmin`'s design).

use crate::error::{Error, Result};
use crate::loss::{relative_error, LeastSquares, Loss};
use crate::optim::{evaluate, predict, Optimizer, StepContext, StepReport};
use crate::samples::SampleSet;
use rand::SeedableRng;
use std::time::{Duration, Instant};
use tensor_train::linalg::Par;
use tensor_train::TensorTrain;

/// When to stop. Every rule is optional except the iteration cap.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoppingRules {
    /// Maximal number of iterations (sweeps for ALS).
    pub max_iter: usize,
    /// Wall-clock budget of the whole run: optimizer steps, error evaluations and (through
    /// [`Trainer::started_at`], as `fit` does) the preparation before the first step. Checked
    /// after every iteration, so a run overshoots by at most one iteration.
    pub time_limit: Option<Duration>,
    /// Stop when the relative decrease of the training loss stays below this for
    /// `stall_patience` consecutive iterations (0 disables).
    pub rel_tol: f64,
    /// Consecutive stalled iterations tolerated (default 5).
    pub stall_patience: usize,
    /// Stop once the training loss is at or below this value.
    pub target_loss: Option<f64>,
    /// Early stopping: stop when the validation error has not improved for this many
    /// iterations, and return the best iterate (needs a validation set).
    pub validation_patience: Option<usize>,
}

impl Default for StoppingRules {
    fn default() -> Self {
        StoppingRules {
            max_iter: 100,
            time_limit: None,
            rel_tol: 1e-10,
            stall_patience: 5,
            target_loss: None,
            validation_patience: None,
        }
    }
}

impl StoppingRules {
    /// Check ranges.
    pub fn validate(&self) -> Result<()> {
        if self.max_iter == 0 {
            return Err(Error::param("max-iter", "must be at least 1"));
        }
        if !(self.rel_tol.is_finite() && self.rel_tol >= 0.0) {
            return Err(Error::param(
                "rel-tol",
                format!("must be finite and >= 0, got {}", self.rel_tol),
            ));
        }
        if let Some(t) = self.target_loss {
            if !(t.is_finite() && t >= 0.0) {
                return Err(Error::param(
                    "target-loss",
                    format!("must be a finite number >= 0, got {t}"),
                ));
            }
        }
        if self.time_limit.is_some_and(|t| t.is_zero()) {
            return Err(Error::param("time-limit", "must be positive"));
        }
        if self.validation_patience == Some(0) {
            return Err(Error::param("patience", "must be at least 1"));
        }
        Ok(())
    }
}

/// One row of the history: what an observer receives after every iteration.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IterationRecord {
    /// Iteration (0 is the start point, before any step).
    pub iteration: usize,
    /// Cumulative optimizer seconds.
    pub seconds: f64,
    /// Training loss `(1/2N) sum w_i e_i^2` (least squares).
    pub train_loss: f64,
    /// Relative L2 error on the training samples.
    pub train_error: f64,
    /// Relative L2 error on the validation set, if any.
    pub validation_error: Option<f64>,
    /// Relative L2 error on the test set, if any.
    pub test_error: Option<f64>,
    /// What the step reported.
    pub step: StepReport,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StopReason {
    /// Iteration cap reached.
    MaxIter,
    /// Time budget used.
    TimeLimit,
    /// Training loss at the target.
    TargetLoss,
    /// Relative loss decrease stalled.
    Stalled,
    /// Validation error stopped improving.
    EarlyStopping,
    /// The optimizer could not make progress (line search failed from a stationary point).
    NoProgress,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            StopReason::MaxIter => "iteration limit",
            StopReason::TimeLimit => "time limit",
            StopReason::TargetLoss => "target loss reached",
            StopReason::Stalled => "loss stalled",
            StopReason::EarlyStopping => "validation error stopped improving",
            StopReason::NoProgress => "no further progress",
        };
        f.write_str(s)
    }
}

/// Receives every [`IterationRecord`] (progress bars, logs, plots).
pub trait Observer {
    /// Called after the start point is evaluated and after every iteration.
    fn observe(&mut self, record: &IterationRecord);
}

impl<F: FnMut(&IterationRecord)> Observer for F {
    fn observe(&mut self, record: &IterationRecord) {
        self(record)
    }
}

/// Result of a run.
#[derive(Debug, Clone)]
pub struct FitResult {
    /// Final iterate (the best by validation error when early stopping is on).
    pub tt: TensorTrain,
    /// One record per iteration, starting with iteration 0.
    pub history: Vec<IterationRecord>,
    /// Why the run ended.
    pub stop: StopReason,
    /// Number of momentum/CG restarts.
    pub restarts: usize,
}

/// Drives an optimizer: `Trainer::new(rules).run(&mut opt, x0, &train, valid, test)`.
pub struct Trainer<'o> {
    rules: StoppingRules,
    loss: Box<dyn Loss>,
    par: Par,
    seed: u64,
    observers: Vec<Box<dyn Observer + 'o>>,
    started: Option<Instant>,
}

impl<'o> Trainer<'o> {
    /// A trainer with least-squares loss, all cores of the rayon pool, seed 0.
    pub fn new(rules: StoppingRules) -> Self {
        Trainer {
            rules,
            loss: Box::new(LeastSquares),
            par: Par::Rayon(0),
            seed: 0,
            observers: Vec::new(),
            started: None,
        }
    }

    /// The instant the time limit counts from (default: the start of [`Trainer::run`]).
    pub fn started_at(mut self, t: Instant) -> Self {
        self.started = Some(t);
        self
    }

    /// Seed of the generator handed to the optimizer (mini-batches).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Parallelism of the sample kernels.
    pub fn par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// Use another loss.
    pub fn loss(mut self, loss: Box<dyn Loss>) -> Self {
        self.loss = loss;
        self
    }

    /// Add an observer.
    pub fn observe(mut self, obs: impl Observer + 'o) -> Self {
        self.observers.push(Box::new(obs));
        self
    }

    /// Run `opt` from `x0` on `train`, tracking the relative errors on `valid` and `test`.
    pub fn run(
        &mut self,
        opt: &mut dyn Optimizer,
        x0: TensorTrain,
        train: &SampleSet,
        valid: Option<&SampleSet>,
        test: Option<&SampleSet>,
    ) -> Result<FitResult> {
        self.rules.validate()?;
        if valid.is_none() && self.rules.validation_patience.is_some() {
            return Err(Error::param(
                "patience",
                "early stopping needs a validation set",
            ));
        }
        if x0.mode_sizes() != train.mode_sizes() {
            return Err(Error::param(
                "start point",
                format!(
                    "mode sizes {:?} do not match the features {:?}",
                    x0.mode_sizes(),
                    train.mode_sizes()
                ),
            ));
        }
        let clock = self.started.unwrap_or_else(Instant::now);
        opt.reset();
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed);
        let par = self.par;
        let errors = |x: &TensorTrain| -> Result<(Option<f64>, Option<f64>)> {
            let v = match valid {
                Some(v) => Some(relative_error(predict(x, v, par)?.view(), v.targets())),
                None => None,
            };
            let t = match test {
                Some(t) => Some(relative_error(predict(x, t, par)?.view(), t.targets())),
                None => None,
            };
            Ok((v, t))
        };
        let (loss0, pred0) = evaluate(&x0, train, self.loss.as_ref(), par)?;
        if !loss0.is_finite() {
            return Err(Error::Diverged {
                iteration: 0,
                message: "the start point has a non-finite loss".into(),
            });
        }
        let (v0, t0) = errors(&x0)?;
        let mut history = vec![IterationRecord {
            iteration: 0,
            seconds: 0.0,
            train_loss: loss0,
            train_error: relative_error(pred0.view(), train.targets()),
            validation_error: v0,
            test_error: t0,
            step: StepReport {
                loss: Some(loss0),
                ..Default::default()
            },
        }];
        self.notify(&history[0]);
        let mut x = x0;
        let mut best = (v0.unwrap_or(f64::INFINITY), x.clone(), 0usize);
        let mut seconds = 0.0;
        let mut stalled = 0usize;
        let mut restarts = 0usize;
        let mut prev_loss = loss0;
        let mut stop = StopReason::MaxIter;
        for it in 1..=self.rules.max_iter {
            let t_start = Instant::now();
            let mut ctx = StepContext {
                loss: self.loss.as_ref(),
                par,
                rng: &mut rng,
                iteration: it - 1,
            };
            let (next, report) = opt.step(&x, train, &mut ctx).map_err(|e| match e {
                Error::Diverged { message, .. } => Error::Diverged {
                    iteration: it,
                    message,
                },
                other => other,
            })?;
            seconds += t_start.elapsed().as_secs_f64();
            let (train_loss, train_error) = {
                let pred = predict(&next, train, par)?;
                let l = self
                    .loss
                    .value(pred.view(), train.targets(), train.weights());
                (l, relative_error(pred.view(), train.targets()))
            };
            if !train_loss.is_finite() || train_loss > 1e8 * loss0.max(f64::MIN_POSITIVE) {
                return Err(Error::Diverged {
                    iteration: it,
                    message: format!(
                        "training loss went from {loss0:.3e} to {train_loss:.3e}; lower the step size, use Armijo steps, or lower the rank"
                    ),
                });
            }
            if report.restarted {
                restarts += 1;
            }
            // mini-batch steps (no full-data loss reported) may fail on one batch and succeed on the next
            let moved = report.step_size != 0.0 || report.loss.is_none_or(|l| l < prev_loss);
            x = next;
            let (v, t) = errors(&x)?;
            let rec = IterationRecord {
                iteration: it,
                seconds,
                train_loss,
                train_error,
                validation_error: v,
                test_error: t,
                step: report,
            };
            self.notify(&rec);
            history.push(rec);
            if let Some(ve) = v {
                if ve < best.0 {
                    best = (ve, x.clone(), it);
                }
            }
            // stopping rules, in order of precedence
            if self.rules.target_loss.is_some_and(|t| train_loss <= t) {
                stop = StopReason::TargetLoss;
                break;
            }
            if let (Some(p), Some(_)) = (self.rules.validation_patience, v) {
                if it - best.2 >= p {
                    stop = StopReason::EarlyStopping;
                    break;
                }
            }
            let decrease = (prev_loss - train_loss) / prev_loss.max(f64::MIN_POSITIVE);
            if !moved {
                stop = StopReason::NoProgress;
                break;
            }
            if self.rules.rel_tol > 0.0 && decrease.abs() < self.rules.rel_tol {
                stalled += 1;
                if stalled >= self.rules.stall_patience {
                    stop = StopReason::Stalled;
                    break;
                }
            } else {
                stalled = 0;
            }
            prev_loss = train_loss;
            if self
                .rules
                .time_limit
                .is_some_and(|tl| clock.elapsed() >= tl)
            {
                stop = StopReason::TimeLimit;
                break;
            }
        }
        let tt = if self.rules.validation_patience.is_some() {
            best.1
        } else {
            x
        };
        Ok(FitResult {
            tt,
            history,
            stop,
            restarts,
        })
    }

    fn notify(&mut self, rec: &IterationRecord) {
        for o in self.observers.iter_mut() {
            o.observe(rec);
        }
    }
}
