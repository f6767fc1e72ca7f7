//! Pointwise losses `L = (1/N) sum_i w_i l(v(x^i), y_i)` and what the optimizers need of them
//! (MATH.md §8): the value, the first derivative `l'_i` (the function-space gradient at the
//! samples) and the second derivative `l''_i` (the weights of the natural-gradient Gram).

use crate::optim::constraint::Constraint;
use ndarray::{Array1, ArrayView1, Zip};
use std::sync::Arc;

/// A pointwise loss of the model outputs at the samples.
pub trait Loss: Send + Sync + std::fmt::Debug {
    /// `L = (1/N) sum_i w_i l(v_i, y_i)`.
    fn value(
        &self,
        pred: ArrayView1<'_, f64>,
        y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> f64;
    /// `w_i dl/dv (v_i, y_i)`: `g = J^T l' / N` is the Riemannian gradient in tangent coordinates.
    fn first_derivative(
        &self,
        pred: ArrayView1<'_, f64>,
        y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> Array1<f64>;
    /// `w_i d^2l/dv^2 (v_i, y_i)` (non-negative): `G = J^T diag(l'') J / N`.
    fn second_derivative(
        &self,
        pred: ArrayView1<'_, f64>,
        y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> Array1<f64>;
    /// The constraint the iterate must satisfy for `L` to be this pointwise sum (`None`: the
    /// whole manifold `M_r`). The density loss is pointwise only on the unit sphere
    /// ([`crate::optim::constraint::UnitSphere`]).
    fn constraint(&self) -> Option<Arc<dyn Constraint>> {
        None
    }
    /// The population metric of the loss as a multiple `s` of the `L^2(mu)` identity on the
    /// (constrained) tangent space: `Metric::Population` directions are `-g / s`. 1 for least
    /// squares (MATH.md §6.2); 4 for the density loss (the Fisher metric, [`crate::density`]).
    fn population_metric_scale(&self) -> f64 {
        1.0
    }
    /// Curvature `kappa` of the loss in tangent coordinates that the sample Gram
    /// `J^T diag(l'') J / N` does not contain: the empirical natural step solves
    /// `(G + kappa I) c = -g`. 0 for pointwise losses; 2 for the density loss (the Hessian of
    /// its normalization term `log ||Psi||^2` on the sphere's tangent space).
    fn tangent_curvature(&self) -> f64 {
        0.0
    }
}

/// Least squares `l(v, y) = (v - y)^2 / 2`: `l' = v - y` (the residual `e`), `l'' = 1`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LeastSquares;

impl Loss for LeastSquares {
    fn value(
        &self,
        pred: ArrayView1<'_, f64>,
        y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> f64 {
        let n = pred.len().max(1) as f64;
        let s = match w {
            None => Zip::from(&pred)
                .and(&y)
                .fold(0.0, |acc, &p, &t| acc + (p - t) * (p - t)),
            Some(w) => Zip::from(&pred)
                .and(&y)
                .and(&w)
                .fold(0.0, |acc, &p, &t, &wi| acc + wi * (p - t) * (p - t)),
        };
        0.5 * s / n
    }

    fn first_derivative(
        &self,
        pred: ArrayView1<'_, f64>,
        y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> Array1<f64> {
        let mut e = &pred - &y;
        if let Some(w) = w {
            e *= &w;
        }
        e
    }

    fn second_derivative(
        &self,
        pred: ArrayView1<'_, f64>,
        _y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> Array1<f64> {
        match w {
            None => Array1::ones(pred.len()),
            Some(w) => w.to_owned(),
        }
    }
}

/// Root-mean-square error `sqrt(mean (v_i - y_i)^2)`.
pub fn rmse(pred: ArrayView1<'_, f64>, y: ArrayView1<'_, f64>) -> f64 {
    let n = pred.len().max(1) as f64;
    (Zip::from(&pred)
        .and(&y)
        .fold(0.0, |a, &p, &t| a + (p - t) * (p - t))
        / n)
        .sqrt()
}

/// Relative L2 error `||v - y|| / ||y||` (the empirical estimate of `||v - u||_{L^2} / ||u||`).
pub fn relative_error(pred: ArrayView1<'_, f64>, y: ArrayView1<'_, f64>) -> f64 {
    let num = Zip::from(&pred)
        .and(&y)
        .fold(0.0, |a, &p, &t| a + (p - t) * (p - t));
    let den = y.iter().map(|t| t * t).sum::<f64>();
    if den > 0.0 {
        (num / den).sqrt()
    } else {
        num.sqrt()
    }
}
