//! Armijo backtracking along the retraction (MATH.md §7, step-size rule ii).
//!
//! The step is `xi(alpha) = fixed + alpha dir` (the fixed part is the frozen momentum term,
//! absent for plain methods), and `alpha` is accepted when
//! `L(R_X(xi(alpha))) <= L(X) + sigma g^T xi(alpha)`.
//!
//! The search fails as soon as a trial is not a descent direction, `g^T xi(alpha) >= 0`
//! (MATH.md §7 rule iii). Without a fixed part this never happens for a descent `dir`; with a
//! frozen momentum `beta m` and `g^T beta m > 0`, shrinking `alpha` eventually makes the
//! combined step point uphill, and the Armijo bound `L + sigma g^T xi(alpha)` then lies above
//! `L`: accepting it could raise the loss. The caller restarts instead.

use super::objective::{Objective, SampleObjective};
use super::Prepared;
use crate::error::Result;
use crate::loss::Loss;
use crate::samples::SampleSet;
use ndarray::Array1;
use tensor_train::linalg::Par;
use tensor_train::tangent::TangentVector;
use tensor_train::TensorTrain;

/// Parameters of Armijo backtracking.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Armijo {
    /// Sufficient-decrease constant `sigma` (default `1e-4`).
    pub sigma: f64,
    /// Factor applied to `alpha` after a rejected trial (default `0.5`).
    pub shrink: f64,
    /// Trials before giving up (default 12).
    pub max_trials: usize,
}

impl Default for Armijo {
    fn default() -> Self {
        Armijo {
            sigma: 1e-4,
            shrink: 0.5,
            max_trials: 12,
        }
    }
}

impl Armijo {
    /// Check the ranges: `0 < sigma < 1`, `0 < shrink < 1`, `max_trials >= 1`.
    pub fn validate(&self) -> Result<()> {
        if !(self.sigma > 0.0 && self.sigma < 1.0) {
            return Err(crate::Error::param(
                "armijo sigma",
                format!("must lie in (0, 1), got {}", self.sigma),
            ));
        }
        if !(self.shrink > 0.0 && self.shrink < 1.0) {
            return Err(crate::Error::param(
                "armijo shrink",
                format!("must lie in (0, 1), got {}", self.shrink),
            ));
        }
        if self.max_trials == 0 {
            return Err(crate::Error::param(
                "armijo max_trials",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Outcome of a line search.
#[derive(Debug, Clone)]
pub struct LineSearch {
    /// The accepted point, `None` when every trial failed.
    pub x: Option<TensorTrain>,
    /// The accepted (or last tried) `alpha`.
    pub alpha: f64,
    /// Loss at the accepted point.
    pub loss: f64,
    /// Predictions at the accepted point on the line-search samples.
    pub pred: Option<Array1<f64>>,
    /// Loss evaluations spent.
    pub trials: usize,
    /// The search stopped because the trial step was not a descent direction.
    pub not_descent: bool,
}

/// Backtrack on `alpha` from `alpha0` for the step `fixed + alpha dir` from the prepared
/// point. `slope_fixed = g^T fixed` and `slope_dir = g^T dir` (both in the metric-free
/// Frobenius product of tangent vectors; `slope_dir < 0` for a descent direction).
#[allow(clippy::too_many_arguments)]
pub fn armijo(
    p: &Prepared,
    fixed: Option<&TangentVector>,
    dir: &TangentVector,
    alpha0: f64,
    slope_fixed: f64,
    slope_dir: f64,
    data: &SampleSet,
    loss: &dyn Loss,
    par: Par,
    rule: &Armijo,
) -> Result<LineSearch> {
    let obj = SampleObjective::new(data, loss);
    armijo_on(
        p,
        fixed,
        dir,
        alpha0,
        slope_fixed,
        slope_dir,
        &obj,
        par,
        rule,
    )
}

/// [`armijo`] on any [`Objective`] (`pred` of the result: the objective's rows at the
/// accepted point).
#[allow(clippy::too_many_arguments)]
pub fn armijo_on(
    p: &Prepared,
    fixed: Option<&TangentVector>,
    dir: &TangentVector,
    alpha0: f64,
    slope_fixed: f64,
    slope_dir: f64,
    obj: &dyn Objective,
    par: Par,
    rule: &Armijo,
) -> Result<LineSearch> {
    let mut alpha = alpha0;
    let mut spent = 0;
    for trial in 1..=rule.max_trials {
        let slope = slope_fixed + alpha * slope_dir;
        // NaN counts as not descent
        if slope.is_nan() || slope >= 0.0 {
            return Ok(LineSearch {
                x: None,
                alpha,
                loss: p.loss,
                pred: None,
                trials: spent,
                not_descent: true,
            });
        }
        spent = trial;
        let mut xi = dir.scaled(alpha);
        if let Some(f) = fixed {
            xi.axpy(1.0, f);
        }
        let y = p.retract(1.0, &xi)?;
        let (value, pred) = obj.evaluate(&y, par)?;
        let bound = p.loss + rule.sigma * slope;
        if value.is_finite() && value <= bound {
            return Ok(LineSearch {
                x: Some(y),
                alpha,
                loss: value,
                pred: Some(pred),
                trials: trial,
                not_descent: false,
            });
        }
        alpha *= rule.shrink;
    }
    Ok(LineSearch {
        x: None,
        alpha,
        loss: p.loss,
        pred: None,
        trials: rule.max_trials,
        not_descent: false,
    })
}
