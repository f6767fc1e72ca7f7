//! Warm starts that carry the optimizer state from one stage of the search to the next.
//!
//! A rank move (`x + z` rounded to the grown ranks) or a degree move (zero slices appended)
//! starts the next stage at a new point `x0` of a larger manifold. What a momentum optimizer
//! remembers is a velocity `v`, a tangent vector at the previous stage's last iterate; as a
//! function it lives in the same space (after padding its modes like the model's), so it is
//! transported to `x0` by the orthogonal projection onto `T_{x0}`
//! ([`crate::optim::state::carry_momentum`]), the transport by projection MATH.md §5 uses
//! between iterates.
//!
//! **The damping is not carried**: the next stage restarts the Levenberg–Marquardt `lambda` at
//! `tau`. A stage ends near convergence, where gain ratios are small and `lambda` has grown;
//! the enlarged model's Gauss–Newton model is a new quadratic, and starting it heavily damped
//! stalls the stage for its patience, so the move looks useless and the search stops.
//! Measured with the learner on `ngd` (2000 rows, `surrogate_suite --learner-optimizer ngd`):
//! carrying `lambda` gave OTL 4.2e-6 and borehole 4.6e-5, restarting it 9.3e-9 and 2.0e-5.
//! Optimizers without state (ALS, NGD once its damping restarts) start every stage afresh.

use super::degree;
use crate::error::Result;
use crate::optim::momentum::MomentumState;
use crate::optim::state::{carry_momentum, momentum_velocity, OptimizerState};
use crate::optim::{Optimizer, OptimizerConfig, StepContext, StepReport};
use crate::samples::SampleSet;
use ndarray::Array1;
use tensor_train::TensorTrain;

/// The state `state` (of the optimizer `opt`, returned at the end of a stage) carried to the
/// start `x0` of the next stage; `None` when there is nothing to carry.
pub fn carried_state(
    opt: &OptimizerConfig,
    state: &OptimizerState,
    x0: &TensorTrain,
) -> Result<Option<OptimizerState>> {
    match (opt, state) {
        (OptimizerConfig::Momentum(mc), OptimizerState::Momentum(data)) => {
            // the damping restarts at tau (see the module docs)
            let st = MomentumState {
                damping: None,
                ..MomentumState::from_data(data)?
            };
            let Some(v) = momentum_velocity(&st, mc.form)? else {
                return Ok(None);
            };
            let Some(v) = match_modes(&v, &x0.mode_sizes())? else {
                // the modes cannot be matched: nothing to carry
                return Ok(None);
            };
            let carried = carry_momentum(&st, mc.form, &v, x0)?;
            Ok(Some(OptimizerState::Momentum(carried.to_data())))
        }
        _ => Ok(None),
    }
}

/// `v` with the mode sizes `modes`: zero slices appended (a degree move) or the first
/// functions kept (a pruning); `None` when some modes grow and others shrink.
fn match_modes(v: &TensorTrain, modes: &[usize]) -> Result<Option<TensorTrain>> {
    let have = v.mode_sizes();
    if have == modes {
        return Ok(Some(v.clone()));
    }
    if have.len() != modes.len() {
        return Ok(None);
    }
    if have.iter().zip(modes).all(|(a, b)| a <= b) {
        let extra: Vec<usize> = have.iter().zip(modes).map(|(a, b)| b - a).collect();
        return Ok(Some(degree::pad_modes(v, &extra)?));
    }
    if have.iter().zip(modes).all(|(a, b)| a >= b) {
        return Ok(Some(degree::truncate_modes(v, modes)?));
    }
    Ok(None)
}

/// An optimizer that starts from a given state: the trainer resets the optimizer at the start
/// of a run, and this puts the carried state back after the reset.
pub struct Seeded<'a> {
    inner: &'a mut dyn Optimizer,
    state: Option<OptimizerState>,
}

impl<'a> Seeded<'a> {
    /// `inner`, to start from `state` (checked now: a state the optimizer refuses is an error
    /// here, not a silent fresh start).
    pub fn new(inner: &'a mut dyn Optimizer, state: Option<OptimizerState>) -> Result<Self> {
        if let Some(s) = &state {
            inner.set_state(s)?;
        }
        Ok(Seeded { inner, state })
    }
}

impl Optimizer for Seeded<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn reset(&mut self) {
        self.inner.reset();
        if let Some(s) = &self.state {
            // accepted by `new`
            let _ = self.inner.set_state(s);
        }
    }
    fn take_train_predictions(&mut self) -> Option<Array1<f64>> {
        self.inner.take_train_predictions()
    }
    fn state(&self) -> OptimizerState {
        self.inner.state()
    }
    fn set_state(&mut self, s: &OptimizerState) -> Result<()> {
        self.inner.set_state(s)
    }
    fn step(
        &mut self,
        x: &TensorTrain,
        data: &SampleSet,
        ctx: &mut StepContext<'_>,
    ) -> Result<(TensorTrain, StepReport)> {
        self.inner.step(x, data, ctx)
    }
}
