//! Optimizers on fixed-rank functional tensor trains.
//!
//! Following `argmin`'s design, an optimizer only knows one iteration ([`Optimizer::step`]); the
//! driver in [`crate::train`] runs iterations, applies stopping rules and feeds observers.
//! Internal memory (CG directions, momentum) lives in the optimizer, is dropped by
//! [`Optimizer::reset`], and is exposed as public serializable data by [`Optimizer::state`] /
//! [`Optimizer::set_state`] ([`state::OptimizerState`]) for checkpoints and resume.
//!
//! | file | method |
//! |---|---|
//! | [`als`] | alternating least squares sweeps with a moving orthogonality centre |
//! | [`rgd`] | Riemannian gradient descent, linearized exact step + Armijo |
//! | [`rcg`] | Riemannian conjugate gradient (Fletcher–Reeves / PR+), transport by projection |
//! | [`gd`] | plain gradient descent on the cores (no geometry) |
//! | [`ngd`] | natural gradient descent (Riemannian Gauss–Newton in the empirical metric) |
//! | [`damping`] | Levenberg–Marquardt damping of the natural step, gain-ratio acceptance |
//! | [`momentum`] | natural gradient with momentum: Heavy-Ball and Nesterov presets, adaptive `beta` |
//!
//! Any of them can run under rank continuation (start at rank 2, grow the ranks when the
//! optimizer stalls): [`crate::learn::continuation`].
//!
//! Shared machinery: [`objective`] (what an iteration reads of the problem: rows, loss
//! derivatives, the linearized model; samples and PDE residuals), [`prepare`] (tangent space,
//! interfaces, residuals at an iterate),
//! [`linesearch`] (Armijo on the retraction), [`gram`] (Gram systems and their solvers),
//! [`lsqr`] (matrix-free least squares).

pub mod als;
pub mod config;
pub mod constraint;
pub mod damping;
pub mod gd;
pub mod gram;
pub mod linearized;
pub mod linesearch;
pub mod lsqr;
pub mod momentum;
pub mod ngd;
pub mod objective;
pub mod pcg;
pub mod rcg;
pub mod rgd;
pub mod state;
pub mod streamed;

pub use config::OptimizerConfig;

use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::samples::SampleSet;
use ndarray::{Array1, ArrayView1};
use rand::rngs::StdRng;
use tensor_train::interfaces;
use tensor_train::linalg::Par;
use tensor_train::tangent::{SampleInterfaces, TangentSpace, TangentVector};
use tensor_train::TensorTrain;

/// What one iteration did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepReport {
    /// Training loss after the step on the samples the optimizer used, if it knows it for the
    /// whole training set (mini-batch methods leave it to the driver).
    pub loss: Option<f64>,
    /// Step size accepted (`alpha`; 1 for ALS sweeps).
    pub step_size: f64,
    /// Whether momentum or a CG direction was discarded this iteration.
    pub restarted: bool,
    /// Loss evaluations spent in the line search.
    pub trials: usize,
    /// Anything worth logging (why a restart happened, a solver fallback).
    pub note: Option<String>,
}

/// Context the driver hands to every step.
pub struct StepContext<'a> {
    /// The loss being minimized.
    pub loss: &'a dyn Loss,
    /// Parallelism of the sample kernels.
    pub par: Par,
    /// The seeded generator for mini-batches (same seed, same run).
    pub rng: &'a mut StdRng,
    /// Iteration number (0-based) of the step about to be taken.
    pub iteration: usize,
}

/// One iteration of an optimization method.
pub trait Optimizer: Send {
    /// Short name used in tables and plots (`ngd-nesterov`).
    fn name(&self) -> String;
    /// Drop internal memory (momentum, previous direction).
    fn reset(&mut self) {}
    /// Predictions on the full training set at the point the last [`Optimizer::step`]
    /// returned, when the step computed them (the accepted line-search trial); the driver
    /// then does not evaluate the model again. Taken once.
    fn take_train_predictions(&mut self) -> Option<Array1<f64>> {
        None
    }
    /// The driver's training loss at the iterate the next [`Optimizer::step`] starts from
    /// (called before every step, also after a resume); ignored by default. Wrappers that
    /// decide on the loss decrease of a step ([`crate::learn::continuation`]) read it here
    /// instead of evaluating the model again.
    fn loss_at_start(&mut self, _loss: f64) {}
    /// Everything the optimizer keeps between iterations, as data (checkpoints).
    fn state(&self) -> state::OptimizerState {
        state::OptimizerState::Stateless
    }
    /// Restore a state returned by [`Optimizer::state`] (resume): the next step continues
    /// exactly as the optimizer that produced it would have.
    fn set_state(&mut self, s: &state::OptimizerState) -> Result<()> {
        match s {
            state::OptimizerState::Stateless => {
                self.reset();
                Ok(())
            }
            other => Err(other.mismatch(&self.name())),
        }
    }
    /// One iteration from `x` on `data`; returns the next iterate.
    fn step(
        &mut self,
        x: &TensorTrain,
        data: &SampleSet,
        ctx: &mut StepContext<'_>,
    ) -> Result<(TensorTrain, StepReport)>;
}

/// Everything computed at an iterate and reused by its gradient, Gram matrix and line search
/// (MATH.md §7.1 `prepare(X)`).
pub struct Prepared {
    /// Tangent space (both gauges, Householder factors).
    pub ts: TangentSpace,
    /// Interfaces at the samples.
    pub si: SampleInterfaces,
    /// Model values at the samples.
    pub pred: Array1<f64>,
    /// `l'_i` (residuals `e` for least squares).
    pub d1: Array1<f64>,
    /// `l''_i`.
    pub d2: Array1<f64>,
    /// Loss value.
    pub loss: f64,
    /// The loss's constraint ([`Loss::constraint`]), applied to every direction and
    /// retracted point built from this point.
    pub constraint: Option<std::sync::Arc<dyn constraint::Constraint>>,
    /// [`Loss::population_metric_scale`].
    pub metric_scale: f64,
    /// [`Loss::tangent_curvature`].
    pub curvature: f64,
    /// Hessian factors of a vector-output loss ([`Loss::hessian_factors`]; `None`: the
    /// Hessian is `diag(d2)`).
    pub factors: Option<crate::loss::HessianFactors>,
    /// Per-row coefficients an [`objective::Objective`] keeps for its linearization at this
    /// point (the PDE residual's value coefficient `kappa + N'(v)`); `None` for sample losses.
    pub row_coefficients: Option<Array1<f64>>,
}

/// Compute [`Prepared`] at `x`, `O(N d n r^2 + d n r^3)`.
pub fn prepare(x: &TensorTrain, data: &SampleSet, loss: &dyn Loss, par: Par) -> Result<Prepared> {
    let ts = TangentSpace::new(x)?;
    let feats = data.feature_views();
    let si = SampleInterfaces::new(&ts, &feats, par)?;
    let pred = si.values().to_owned();
    let y = data.targets();
    let w = data.weights();
    let value = loss.value(pred.view(), y, w);
    check_finite(value, "loss")?;
    let d1 = loss.first_derivative(pred.view(), y, w);
    let d2 = loss.second_derivative(pred.view(), y, w);
    let factors = loss.hessian_factors(pred.view(), y, w);
    Ok(Prepared {
        ts,
        si,
        pred,
        d1,
        d2,
        loss: value,
        constraint: loss.constraint(),
        metric_scale: loss.population_metric_scale(),
        curvature: loss.tangent_curvature(),
        factors,
        row_coefficients: None,
    })
}

impl Prepared {
    /// Riemannian gradient `P_X grad L` as a tangent vector: the sample projection of
    /// `sum_i (l'_i / N) Phi(x^i)` (coordinates `g = J^T l' / N`).
    pub fn gradient(&self, data: &SampleSet, par: Par) -> Result<TangentVector> {
        let n = data.len() as f64;
        let w = &self.d1 / n;
        let g = self
            .ts
            .project_samples(&self.si, &data.feature_views(), w.view(), par)?;
        match &self.constraint {
            None => Ok(g),
            Some(_) => {
                let mut c = self.ts.to_coords(&g)?;
                self.constrain(&mut c, None)?;
                Ok(self.ts.from_coords(c.view())?)
            }
        }
    }

    /// Whether Levenberg–Marquardt damping ([`damping`]) applies at this point: a loss with a
    /// diagonal Hessian `l''`, no constraint and no curvature outside the samples (the damped
    /// model `g^T c + c^T (G + lambda s I) c / 2` is built from `l'` and `l''` alone).
    pub fn damping_applies(&self) -> bool {
        self.factors.is_none() && self.constraint.is_none() && self.curvature == 0.0
    }

    /// Apply the loss's constraint to tangent coordinates at this point (orthogonally in the
    /// metric with inverse `inv`; `None`: the identity). No-op without a constraint.
    pub fn constrain(
        &self,
        c: &mut Array1<f64>,
        inv: Option<constraint::InverseMetric<'_>>,
    ) -> Result<()> {
        match &self.constraint {
            Some(k) => k.project(&self.ts, c, inv),
            None => Ok(()),
        }
    }

    /// `R_X(xi)`, brought back onto the loss's constraint set.
    pub fn retract(&self, t: f64, xi: &TangentVector) -> Result<TensorTrain> {
        let y = self.ts.retract(t, xi)?;
        match &self.constraint {
            Some(k) => k.after_retraction(y),
            None => Ok(y),
        }
    }

    /// Values at the samples of a tangent vector (`J c`).
    pub fn tangent_values(
        &self,
        data: &SampleSet,
        xi: &TangentVector,
        par: Par,
    ) -> Result<Array1<f64>> {
        Ok(self
            .ts
            .tangent_values(&self.si, &data.feature_views(), xi, par)?)
    }
}

/// Loss and predictions of `x` on `data`.
pub fn evaluate(
    x: &TensorTrain,
    data: &SampleSet,
    loss: &dyn Loss,
    par: Par,
) -> Result<(f64, Array1<f64>)> {
    let pred = interfaces::values(x, &data.feature_views(), par)?;
    let value = loss.value(pred.view(), data.targets(), data.weights());
    Ok((value, pred))
}

/// Values of `x` at the samples of `data`.
pub fn predict(x: &TensorTrain, data: &SampleSet, par: Par) -> Result<Array1<f64>> {
    Ok(interfaces::values(x, &data.feature_views(), par)?)
}

/// The exact minimizer over `t` of the linearized loss along a tangent direction with sample
/// values `jeta`: `t* = -<l', J eta> / <l'', (J eta)^2>` (least squares: `-<e, J eta>/||J eta||^2`).
pub fn linearized_step(
    d1: ArrayView1<'_, f64>,
    d2: ArrayView1<'_, f64>,
    jeta: ArrayView1<'_, f64>,
) -> f64 {
    let num: f64 = d1.iter().zip(jeta.iter()).map(|(a, b)| a * b).sum();
    let den: f64 = d2.iter().zip(jeta.iter()).map(|(h, b)| h * b * b).sum();
    if den > 0.0 && den.is_finite() {
        -num / den
    } else {
        0.0
    }
}

pub(crate) fn check_finite(v: f64, what: &str) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Error::Diverged {
            iteration: 0,
            message: format!(
                "{what} is {v}; lower the step size or the rank, or check the data scale"
            ),
        })
    }
}
