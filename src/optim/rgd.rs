//! Riemannian gradient descent on the fixed-rank TT manifold (MATH.md §7.1 `RGD`).
//!
//! One step at `X`:
//! 1. [`prepare`]: tangent space, interfaces, predictions `v`, `l'`, `l''`, loss `L(X)`;
//! 2. Riemannian gradient `g = P_X grad L` (coordinates `J^T l' / N`), direction `eta = -g`;
//! 3. initial step = exact minimizer of the linearized loss along `eta`,
//!    `t0 = -<l', J eta> / <l'', (J eta)^2>` (least squares: `-<e, J eta> / ||J eta||^2`, the
//!    RTTC step of Steinlechner 2016), with `J eta` the values of `eta` at the samples;
//! 4. Armijo backtracking on the retraction: accept `t` when
//!    `L(R_X(t eta)) <= L(X) - sigma t ||g||^2`, else `t <- shrink t`.
//!
//! When every Armijo trial fails (a stationary point up to round-off, or a direction the
//! curvature of the manifold spoils), the step returns `X` unchanged with `step_size = 0`, and
//! the driver stops with `NoProgress`. Cost per step `O(N d n r^2 + d n r^3)` plus
//! `O(N d n r^2 + d n r^3)` per line-search trial.
//!
//! With orthonormal features, RGD is natural gradient descent in the *population* metric
//! (MATH.md §6.2): the identity in tangent coordinates.

use super::linesearch::{armijo_on, Armijo};
use super::objective::{Objective, ObjectiveStep};
use super::{linearized_step, Optimizer, StepContext, StepReport};
use crate::error::Result;
use crate::samples::SampleSet;
use tensor_train::linalg::Par;
use tensor_train::TensorTrain;

/// Configuration of [`Rgd`].
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RgdConfig {
    /// Armijo backtracking (default `sigma = 1e-4`, `shrink = 0.5`, 12 trials) started from
    /// the linearized exact step.
    pub armijo: Armijo,
}

/// Riemannian gradient descent with the linearized exact step and Armijo backtracking.
#[derive(Debug, Clone)]
pub struct Rgd {
    config: RgdConfig,
}

impl Rgd {
    /// Validate the configuration (the Armijo parameters).
    pub fn new(config: RgdConfig) -> Result<Self> {
        config.armijo.validate()?;
        Ok(Rgd { config })
    }

    /// The configuration.
    pub fn config(&self) -> &RgdConfig {
        &self.config
    }
}

impl Optimizer for Rgd {
    fn name(&self) -> String {
        "rgd".into()
    }

    fn step(
        &mut self,
        x: &TensorTrain,
        data: &SampleSet,
        ctx: &mut StepContext<'_>,
    ) -> Result<(TensorTrain, StepReport)> {
        self.step_samples(x, data, None, ctx)
    }
}

impl ObjectiveStep for Rgd {
    fn step_objective(
        &mut self,
        x: &TensorTrain,
        obj: &dyn Objective,
        _full: bool,
        par: Par,
    ) -> Result<(TensorTrain, StepReport)> {
        let p = obj.prepare(x, par)?;
        let g = obj.gradient(&p, par)?;
        let gg = g.dot(&g);
        super::check_finite(gg, "the squared norm of the Riemannian gradient")?;
        if gg == 0.0 {
            return Ok((x.clone(), stationary(p.loss)));
        }
        let eta = g.scaled(-1.0);
        let jeta = obj.tangent_values(&p, &eta, par)?;
        let t0 = initial_step(linearized_step(p.d1.view(), p.d2.view(), jeta.view()));
        let ls = armijo_on(&p, None, &eta, t0, 0.0, -gg, obj, par, &self.config.armijo)?;
        match ls.x {
            Some(next) => Ok((
                next,
                StepReport {
                    loss: Some(ls.loss),
                    step_size: ls.alpha,
                    restarted: false,
                    trials: ls.trials,
                    note: None,
                },
            )),
            None => Ok((
                x.clone(),
                StepReport {
                    loss: Some(p.loss),
                    step_size: 0.0,
                    restarted: false,
                    trials: ls.trials,
                    note: Some(
                        "Armijo line search failed: no decrease along the negative gradient".into(),
                    ),
                },
            )),
        }
    }
}

/// The report of a step taken at a point with zero gradient.
pub(crate) fn stationary(loss: f64) -> StepReport {
    StepReport {
        loss: Some(loss),
        step_size: 0.0,
        restarted: false,
        trials: 0,
        note: Some("zero Riemannian gradient: stationary point".into()),
    }
}

/// The linearized exact step when it is a usable positive number, else 1.
pub(crate) fn initial_step(t: f64) -> f64 {
    if t.is_finite() && t > 0.0 {
        t
    } else {
        1.0
    }
}
