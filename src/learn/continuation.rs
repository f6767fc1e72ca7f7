//! Rank continuation: optimize on the manifold of the start's low ranks, and grow the ranks by
//! a greedy rank move each time the optimizer stalls there, up to the requested ranks.
//!
//! **Why.** A fixed-rank Riemannian method needs a start that is a *regular* point of the
//! manifold of the requested ranks `r`. The usual starts are not: the additive fit has TT
//! ranks `<= 2`, and lifting it to rank `r` ([`crate::init::Start::Additive`]) adds channels
//! whose bond singular values are tiny (`3.1e-6 ||X0||` at `d = 50`, rank 4,
//! `examples/start_singular_values.rs`). The manifold's curvature there is `~ 1 / sigma_min`,
//! the Gauss–Newton model omits the Weingarten term `~ ||residual|| / sigma_min`, and every
//! natural step is mis-modelled in the padded directions: on Genz oscillatory at
//! `(d, N, r, n) = (50, 2e5, 4, 6)` matrix-free NGD is at test error `4.6e-3` after 3
//! iterations where ALS (blind to the curvature) is at `2.0e-5` (docs/BENCHMARKS.md, "Solver
//! table"). On the rank-2 manifold the same additive fit is a regular point and NGD reaches
//! ALS's error in fewer seconds than ALS.
//!
//! **What.** [`Continuation`] wraps any optimizer. The fit starts at ranks
//! `min(r_k, START_RANK)` ([`START_RANK`] = 2, the additive fit's exact rank). After every
//! step whose relative decrease of the training loss, `(L_before - L_after) / L_before`, is
//! below [`RankContinuation::stall_tol`], and while some bond is below its target, the step's
//! iterate is replaced by a rank move ([`super::enrich::grow_ranks`]: `x + z` with `z` the
//! rank-one least-squares fit of the residual, rounded to ranks `min(r_k + 1, target_k)`; a
//! bond whose rank does not grow stays as it is, never zero-padded). The new channels carry the
//! singular values of a fitted correction, not of a random perturbation. A momentum
//! optimizer's velocity is carried to the grown point by projection and its damping restarts
//! ([`super::carry`], the learner's rule); other optimizers start afresh. The cost of the rank
//! move (the correction's [`super::enrich::CORRECTION_SWEEPS`] rank-1 ALS sweeps) is part of
//! the step, so it is in every reported second.
//!
//! Least squares only: the correction is a least-squares fit of the residual `y - x`.

use super::{carry, enrich};
use crate::error::{Error, Result};
use crate::optim::state::OptimizerState;
use crate::optim::{predict, Optimizer, OptimizerConfig, StepContext, StepReport};
use crate::samples::SampleSet;
use ndarray::Array1;
use rand::Rng;
use tensor_train::TensorTrain;

/// Ranks of the start under rank continuation (capped by the requested ranks): the additive
/// fit is an exact TT of ranks `<= 2`, so at rank 2 it is a regular point of the manifold.
pub const START_RANK: usize = 2;

/// Rows the rank move's correction is fitted on (drawn per move; all rows below this): the
/// correction only steers the growth, the optimizer's next steps use all rows. On all 2e5 rows
/// at `(d, r, n) = (50, 2, 6)` the move cost 6.9 s, 5 rank-2 ALS sweeps
/// (docs/BENCHMARKS.md, "Rank continuation").
pub const CORRECTION_ROWS: usize = 20_000;

/// Settings of rank continuation (`FitConfig::rank_continuation`, CLI `--rank-continuation`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RankContinuation {
    /// Grow the ranks after a step whose relative training-loss decrease is below this
    /// (default [`DEFAULT_STALL_TOL`]; in `(0, 1)`).
    pub stall_tol: f64,
}

/// Default [`RankContinuation::stall_tol`]: a natural-gradient step that gains less than 10 %
/// of the loss is close to the optimum of its rank (Gauss–Newton converges fast in the small
/// residual regime), so more steps at that rank buy little.
pub const DEFAULT_STALL_TOL: f64 = 0.1;

impl Default for RankContinuation {
    fn default() -> Self {
        RankContinuation {
            stall_tol: DEFAULT_STALL_TOL,
        }
    }
}

impl RankContinuation {
    /// Check ranges.
    pub fn validate(&self) -> Result<()> {
        if !(self.stall_tol > 0.0 && self.stall_tol < 1.0) {
            return Err(Error::param(
                "rank continuation",
                format!(
                    "the stall tolerance must lie in (0, 1), got {}",
                    self.stall_tol
                ),
            ));
        }
        Ok(())
    }

    /// The ranks the fit starts from: `min(r_k, START_RANK)` per bond.
    pub fn start_ranks(target: &[usize]) -> Vec<usize> {
        target.iter().map(|&r| r.min(START_RANK)).collect()
    }
}

/// An optimizer whose ranks grow from the start's to `target` (module docs).
pub struct Continuation {
    inner: Box<dyn Optimizer>,
    config: OptimizerConfig,
    target: Vec<usize>,
    stall_tol: f64,
    /// The driver's training loss at the iterate the next step starts from.
    loss_before: Option<f64>,
    /// The last step ended with a rank move: the inner optimizer's predictions are stale.
    moved_rank: bool,
    /// Training predictions at the grown point (computed for the move's gain in the step's
    /// note, handed to the trainer instead of the inner optimizer's stale ones).
    moved_pred: Option<Array1<f64>>,
}

impl Continuation {
    /// Wrap `inner` (built from `config`) to grow its iterates' ranks up to `target`.
    pub fn new(
        inner: Box<dyn Optimizer>,
        config: OptimizerConfig,
        target: Vec<usize>,
        settings: &RankContinuation,
    ) -> Result<Self> {
        settings.validate()?;
        Ok(Continuation {
            inner,
            config,
            target,
            stall_tol: settings.stall_tol,
            loss_before: None,
            moved_rank: false,
            moved_pred: None,
        })
    }

    fn below_target(&self, x: &TensorTrain) -> bool {
        x.internal_ranks()
            .iter()
            .zip(&self.target)
            .any(|(r, t)| r < t)
    }
}

impl Optimizer for Continuation {
    /// The inner optimizer's name with `+rc` (tables, plots and model files tell the two
    /// apart).
    fn name(&self) -> String {
        format!("{}+rc", self.inner.name())
    }
    fn reset(&mut self) {
        self.inner.reset();
        self.loss_before = None;
        self.moved_rank = false;
        self.moved_pred = None;
    }
    fn take_train_predictions(&mut self) -> Option<Array1<f64>> {
        let p = self.inner.take_train_predictions();
        if self.moved_rank {
            self.moved_pred.take()
        } else {
            p
        }
    }
    fn state(&self) -> OptimizerState {
        self.inner.state()
    }
    fn set_state(&mut self, s: &OptimizerState) -> Result<()> {
        self.inner.set_state(s)
    }
    fn loss_at_start(&mut self, loss: f64) {
        self.loss_before = Some(loss);
        self.inner.loss_at_start(loss);
    }
    fn step(
        &mut self,
        x: &TensorTrain,
        data: &SampleSet,
        ctx: &mut StepContext<'_>,
    ) -> Result<(TensorTrain, StepReport)> {
        self.moved_rank = false;
        self.moved_pred = None;
        let (y, mut report) = self.inner.step(x, data, ctx)?;
        if !self.below_target(&y) {
            return Ok((y, report));
        }
        let before = match self.loss_before {
            Some(l) => l,
            None => ctx.loss.value(
                predict(x, data, ctx.par)?.view(),
                data.targets(),
                data.weights(),
            ),
        };
        let after = match report.loss {
            Some(l) => l,
            None => ctx.loss.value(
                predict(&y, data, ctx.par)?.view(),
                data.targets(),
                data.weights(),
            ),
        };
        let decrease = (before - after) / before.max(f64::MIN_POSITIVE);
        if decrease >= self.stall_tol {
            return Ok((y, report));
        }
        let seed: u64 = ctx.rng.random();
        let grown = enrich::grow_ranks(&y, data, &self.target, CORRECTION_ROWS, seed, ctx.par)?;
        if grown.internal_ranks() == y.internal_ranks() {
            // the correction lies in the span of y at every bond: nothing to grow this time
            return Ok((y, report));
        }
        let state = self.inner.state();
        let carried = carry::carried_state(&self.config, &state, &grown)?;
        self.inner.reset();
        if let Some(c) = carried {
            self.inner.set_state(&c)?;
        }
        self.moved_rank = true;
        // the loss at the grown point: the move's own gain, for the note (a gain far below the
        // stalled step's tells that the residual has no rank-one structure left)
        let pred = predict(&grown, data, ctx.par)?;
        let moved_loss = ctx.loss.value(pred.view(), data.targets(), data.weights());
        self.moved_pred = Some(pred);
        let note = format!(
            "rank move {} -> {} (the step gained {:.1e} < {:.1e}; the move gained {:.1e})",
            ranks_label(&y.internal_ranks()),
            ranks_label(&grown.internal_ranks()),
            decrease,
            self.stall_tol,
            (after - moved_loss) / after.max(f64::MIN_POSITIVE)
        );
        report.note = Some(match report.note.take() {
            Some(n) => format!("{n}; {note}"),
            None => note,
        });
        report.loss = Some(moved_loss);
        if report.step_size == 0.0 {
            // the rank move is progress even when the inner step was rejected
            report.step_size = 1.0;
        }
        Ok((grown, report))
    }
}

/// `r` when every bond has rank `r`, else the list.
fn ranks_label(ranks: &[usize]) -> String {
    match ranks.split_first() {
        Some((first, rest)) if rest.iter().all(|r| r == first) => format!("{first}"),
        _ => format!("{ranks:?}"),
    }
}
