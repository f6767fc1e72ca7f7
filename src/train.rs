//! The training driver: runs an [`Optimizer`] one step at a time, applies stopping rules,
//! tracks validation/test errors and feeds observers (the executor of `argmin`'s design).

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::loss::{relative_error, LeastSquares, Loss};
use crate::optim::state::{OptimizerState, TtData};
use crate::optim::{evaluate, predict, Optimizer, StepContext, StepReport};
use crate::samples::SampleSet;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
    /// Interrupted (SIGINT/SIGTERM); a last checkpoint was written when checkpointing is on.
    Interrupted,
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
            StopReason::Interrupted => "interrupted",
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

/// Everything the driver keeps between iterations, as data: with the optimizer's state and
/// the iterate it is a complete checkpoint ([`crate::checkpoint`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainerState {
    /// Iterations done.
    pub iteration: usize,
    /// Cumulative optimizer seconds.
    pub seconds: f64,
    /// The current iterate (exact cores and gauge).
    pub x: TtData,
    /// The optimizer's state.
    pub optimizer: OptimizerState,
    /// The history so far (iteration 0 first).
    pub history: Vec<IterationRecord>,
    /// Training loss of the start point.
    pub loss0: f64,
    /// Training loss after the last iteration.
    pub prev_loss: f64,
    /// Consecutive stalled iterations.
    pub stalled: usize,
    /// Restarts so far.
    pub restarts: usize,
    /// Best validation error, its iteration and iterate (early stopping).
    pub best: Option<(f64, usize, TtData)>,
    /// Seed of the per-iteration generators.
    pub seed: u64,
}

/// The generator of iteration `it` (mini-batches): seeded by `(seed, it)` only, so that a
/// resumed run draws the same batches as an uninterrupted one.
pub fn iteration_rng(seed: u64, it: usize) -> StdRng {
    fn mix(mut z: u64) -> u64 {
        // splitmix64 finalizer
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    StdRng::seed_from_u64(mix(seed ^ mix(it as u64)))
}

/// Where and how often a run writes checkpoints.
struct Checkpointing {
    path: PathBuf,
    every: usize,
    config: serde_json::Value,
}

/// Drives an optimizer: `Trainer::new(rules).run(&mut opt, x0, &train, valid, test)`.
pub struct Trainer<'o> {
    rules: StoppingRules,
    loss: Box<dyn Loss>,
    par: Par,
    seed: u64,
    observers: Vec<Box<dyn Observer + 'o>>,
    checkpoint: Option<Checkpointing>,
    interrupt: Option<Arc<AtomicBool>>,
    resume: Option<TrainerState>,
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
            checkpoint: None,
            interrupt: None,
            resume: None,
            started: None,
        }
    }

    /// The instant the time limit counts from (default: the start of [`Trainer::run`]).
    pub fn started_at(mut self, t: Instant) -> Self {
        self.started = Some(t);
        self
    }

    /// Seed of the generators handed to the optimizer (mini-batches).
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

    /// Write a checkpoint (atomically) to `path` every `every` iterations, and when the run is
    /// interrupted; `config` is stored with it.
    pub fn checkpoint(mut self, path: PathBuf, every: usize, config: serde_json::Value) -> Self {
        self.checkpoint = Some(Checkpointing {
            path,
            every: every.max(1),
            config,
        });
        self
    }

    /// Stop after the current iteration once `flag` is set (SIGINT/SIGTERM), writing a last
    /// checkpoint when checkpointing is on; the run ends with [`StopReason::Interrupted`].
    pub fn interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = Some(flag);
        self
    }

    /// Continue from a saved state instead of starting at `x0` (whose mode sizes must still
    /// match).
    pub fn resume(mut self, state: TrainerState) -> Self {
        self.resume = Some(state);
        self
    }

    fn write_checkpoint(&self, state: &TrainerState) -> Result<()> {
        if let Some(c) = &self.checkpoint {
            Checkpoint::new(c.config.clone(), state.clone()).write(&c.path)?;
        }
        Ok(())
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
        let clock = self.started.unwrap_or_else(Instant::now);
        opt.reset();
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
        let (mut state, mut x) = match self.resume.take() {
            Some(st) => {
                let x = st.x.to_tt()?;
                opt.set_state(&st.optimizer)?;
                (st, x)
            }
            None => {
                let (loss0, pred0) = evaluate(&x0, train, self.loss.as_ref(), par)?;
                if !loss0.is_finite() {
                    return Err(Error::Diverged {
                        iteration: 0,
                        message: "the start point has a non-finite loss".into(),
                    });
                }
                let (v0, t0) = errors(&x0)?;
                let rec = IterationRecord {
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
                };
                self.notify(&rec);
                let st = TrainerState {
                    iteration: 0,
                    seconds: 0.0,
                    x: TtData::from_tt(&x0),
                    optimizer: opt.state(),
                    history: vec![rec],
                    loss0,
                    prev_loss: loss0,
                    stalled: 0,
                    restarts: 0,
                    best: v0.map(|v| (v, 0, TtData::from_tt(&x0))),
                    seed: self.seed,
                };
                (st, x0)
            }
        };
        if x.mode_sizes() != train.mode_sizes() {
            return Err(Error::param(
                "start point",
                format!(
                    "mode sizes {:?} do not match the features {:?}",
                    x.mode_sizes(),
                    train.mode_sizes()
                ),
            ));
        }
        let loss0 = state.loss0;
        // Divergence means growth far beyond the scale of the problem: the start's loss, or the
        // loss of the zero model (half the mean square target) when the start already
        // interpolates (a loss of 1e-34 rising to 1e-25 is round-off, not divergence).
        let zero_model_loss = self.loss.value(
            ndarray::Array1::zeros(train.len()).view(),
            train.targets(),
            train.weights(),
        );
        let divergence_scale = loss0.max(zero_model_loss).max(f64::MIN_POSITIVE);
        let mut stop = StopReason::MaxIter;
        for it in state.iteration + 1..=self.rules.max_iter {
            let t_start = Instant::now();
            let mut rng = iteration_rng(state.seed, it);
            let mut ctx = StepContext {
                loss: self.loss.as_ref(),
                par,
                rng: &mut rng,
                iteration: it - 1,
            };
            opt.loss_at_start(state.prev_loss);
            let (next, report) = opt.step(&x, train, &mut ctx).map_err(|e| match e {
                Error::Diverged { message, .. } => Error::Diverged {
                    iteration: it,
                    message,
                },
                other => other,
            })?;
            state.seconds += t_start.elapsed().as_secs_f64();
            let (train_loss, train_error) = {
                let pred = match opt.take_train_predictions() {
                    Some(p) if p.len() == train.len() => p,
                    _ => predict(&next, train, par)?,
                };
                let l = self
                    .loss
                    .value(pred.view(), train.targets(), train.weights());
                (l, relative_error(pred.view(), train.targets()))
            };
            if !train_loss.is_finite() || train_loss > 1e8 * divergence_scale {
                return Err(Error::Diverged {
                    iteration: it,
                    message: format!(
                        "training loss went from {loss0:.3e} to {train_loss:.3e}; lower the step size, use Armijo steps, or lower the rank"
                    ),
                });
            }
            if report.restarted {
                state.restarts += 1;
            }
            // mini-batch steps (no full-data loss reported) may fail on one batch and succeed on the next
            let moved = report.step_size != 0.0 || report.loss.is_none_or(|l| l < state.prev_loss);
            x = next;
            let (v, t) = errors(&x)?;
            let rec = IterationRecord {
                iteration: it,
                seconds: state.seconds,
                train_loss,
                train_error,
                validation_error: v,
                test_error: t,
                step: report,
            };
            self.notify(&rec);
            state.history.push(rec);
            state.iteration = it;
            if let Some(ve) = v {
                if state.best.as_ref().is_none_or(|b| ve < b.0) {
                    state.best = Some((ve, it, TtData::from_tt(&x)));
                }
            }
            let decrease = (state.prev_loss - train_loss) / state.prev_loss.max(f64::MIN_POSITIVE);
            // stopping rules, in order of precedence
            let mut stopped = None;
            if self.rules.target_loss.is_some_and(|t| train_loss <= t) {
                stopped = Some(StopReason::TargetLoss);
            } else if let (Some(p), Some(b)) = (self.rules.validation_patience, &state.best) {
                if it - b.1 >= p {
                    stopped = Some(StopReason::EarlyStopping);
                }
            }
            if stopped.is_none() && !moved {
                stopped = Some(StopReason::NoProgress);
            }
            if stopped.is_none() {
                if self.rules.rel_tol > 0.0 && decrease.abs() < self.rules.rel_tol {
                    state.stalled += 1;
                    if state.stalled >= self.rules.stall_patience {
                        stopped = Some(StopReason::Stalled);
                    }
                } else {
                    state.stalled = 0;
                }
            }
            if stopped.is_none() {
                state.prev_loss = train_loss;
                if self
                    .rules
                    .time_limit
                    .is_some_and(|tl| clock.elapsed() >= tl)
                {
                    stopped = Some(StopReason::TimeLimit);
                }
            }
            let interrupted = self
                .interrupt
                .as_ref()
                .is_some_and(|f| f.load(Ordering::SeqCst));
            let periodic = self.checkpoint.as_ref().is_some_and(|c| it % c.every == 0);
            if stopped.is_none() && (interrupted || periodic) {
                state.x = TtData::from_tt(&x);
                state.optimizer = opt.state();
                self.write_checkpoint(&state)?;
            }
            if let Some(s) = stopped {
                stop = s;
                break;
            }
            if interrupted {
                stop = StopReason::Interrupted;
                break;
            }
        }
        let tt = match (self.rules.validation_patience, &state.best) {
            (Some(_), Some(b)) => b.2.to_tt()?,
            _ => x,
        };
        Ok(FitResult {
            tt,
            history: state.history,
            stop,
            restarts: state.restarts,
        })
    }

    fn notify(&mut self, rec: &IterationRecord) {
        for o in self.observers.iter_mut() {
            o.observe(rec);
        }
    }
}
