//! Pointwise losses `L = (1/N) sum_i w_i l(v(x^i), y_i)` and what the optimizers need of them
//! (MATH.md §8): the value, the first derivative `l'_i` (the function-space gradient at the
//! samples) and the second derivative `l''_i` (the weights of the natural-gradient Gram).
//!
//! Losses of several outputs per sample (softmax over `C` logits) see the model values in
//! consecutive groups of [`Loss::outputs`] rows and give their non-diagonal Hessian blocks
//! through [`Loss::hessian_factors`].

use crate::optim::constraint::Constraint;
use ndarray::{s, Array1, Array3, ArrayView1, Zip};
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
    /// `w_i d^2l/dv^2 (v_i, y_i)` (non-negative): `G = J^T diag(l'') J / N`. For losses with
    /// [`Loss::hessian_factors`] the diagonal of the Hessian blocks.
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
    /// Rows per sample: the model values come in consecutive groups of this many outputs
    /// (default 1). Values, targets and weights are given per row.
    fn outputs(&self) -> usize {
        1
    }
    /// For a loss whose Hessian in the outputs of one sample is a non-diagonal block `H_i`
    /// (`C x C`): factors `F_i` with `F_i^T F_i = w_i H_i` and Newton targets `t_i` with
    /// `F_i^T t_i = -l'_i`, so that `argmin_c sum_i ||F_i J_i c - t_i||^2` solves the
    /// loss-weighted Gauss–Newton system `(sum_i J_i^T H_i J_i) c = -J^T l'` (MATH.md §8).
    /// `None` (the default): the Hessian is the diagonal [`Loss::second_derivative`].
    fn hessian_factors(
        &self,
        pred: ArrayView1<'_, f64>,
        y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> Option<HessianFactors> {
        let _ = (pred, y, w);
        None
    }
}

/// Per-sample Hessian factors of a vector-output loss (see [`Loss::hessian_factors`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HessianFactors {
    /// `N x r x C`: `F_i^T F_i = w_i H_i`.
    pub factors: Array3<f64>,
    /// `N r` Newton targets, `F_i^T t_i = -l'_i`.
    pub targets: Array1<f64>,
}

/// `w_i a_i` (`a` unchanged without weights): the sample weights applied to per-row loss
/// derivatives.
pub fn weighted(mut a: Array1<f64>, w: Option<ArrayView1<'_, f64>>) -> Array1<f64> {
    if let Some(w) = w {
        a *= &w;
    }
    a
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
        weighted(&pred - &y, w)
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

/// `log(1 + e^z)` without overflow.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// The logistic function `1 / (1 + e^{-z})` without overflow.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Binary cross-entropy of a logit `z = v(x)` with labels `y ∈ {0, 1}` (MATH.md §8):
/// `l = -y log p - (1 - y) log(1 - p) = log(1 + e^z) - y z`, `p = sigma(z)`; `l' = p - y`,
/// `l'' = p (1 - p)`. The natural step with the `l''`-weighted Gram is Fisher scoring (IRLS) on
/// the tangent space.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Logistic;

impl Loss for Logistic {
    fn value(
        &self,
        pred: ArrayView1<'_, f64>,
        y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> f64 {
        let n = pred.len().max(1) as f64;
        let l = |z: f64, t: f64| softplus(z) - t * z;
        let s = match w {
            None => Zip::from(&pred)
                .and(&y)
                .fold(0.0, |acc, &z, &t| acc + l(z, t)),
            Some(w) => Zip::from(&pred)
                .and(&y)
                .and(&w)
                .fold(0.0, |acc, &z, &t, &wi| acc + wi * l(z, t)),
        };
        s / n
    }

    fn first_derivative(
        &self,
        pred: ArrayView1<'_, f64>,
        y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> Array1<f64> {
        weighted(
            Zip::from(&pred)
                .and(&y)
                .map_collect(|&z, &t| sigmoid(z) - t),
            w,
        )
    }

    fn second_derivative(
        &self,
        pred: ArrayView1<'_, f64>,
        _y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> Array1<f64> {
        weighted(
            pred.mapv(|z| {
                let p = sigmoid(z);
                p * (1.0 - p)
            }),
            w,
        )
    }
}

/// Multinomial cross-entropy over `C` logits per sample (MATH.md §8): the model values come in
/// groups of `C` consecutive rows `z_i ∈ R^C` (one row per class, e.g. a TT with an extra
/// discrete mode of one-hot class features), the targets are the one-hot labels `y_i`, and
/// `l_i = logsumexp(z_i) - y_i^T z_i`, `l'_i = p_i - y_i`, `H_i = diag(p_i) - p_i p_i^T`
/// (`p_i = softmax(z_i)`). `H_i` has the kernel `1` (adding a constant to all logits changes
/// nothing): its factor is `F_i = Q^T diag(p_i)^{1/2}`, `(C - 1) x C`, where the columns of `Q`
/// span `sqrt(p_i)^perp` (a Householder reflector), since `H_i = D^{1/2}(I - q q^T)D^{1/2}`,
/// `q = sqrt(p_i)`.
///
/// Normalization: the value is the mean over **rows**, `(1 / (N C)) sum_i w_i l_i`, so that
/// `g = J^T l' / (N C)` is its gradient with the row count the optimizers divide by; the mean
/// log-loss per sample is `C` times the value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softmax {
    /// Number of classes `C >= 2`.
    pub classes: usize,
}

impl Softmax {
    /// Softmax probabilities of each group of `C` logits (`N C` values in, `N C` out).
    pub fn probabilities(&self, pred: ArrayView1<'_, f64>) -> Array1<f64> {
        let c = self.classes;
        let mut p = pred.to_owned();
        for mut g in p.exact_chunks_mut(c) {
            let m = g.fold(f64::NEG_INFINITY, |a, &v| a.max(v));
            g.mapv_inplace(|v| (v - m).exp());
            let s = g.sum();
            g /= s;
        }
        p
    }

    /// Per-sample weights (the weight of the first row of each group).
    fn sample_weights(&self, w: Option<ArrayView1<'_, f64>>, n: usize) -> Array1<f64> {
        match w {
            Some(w) => Array1::from_iter((0..n).map(|i| w[i * self.classes])),
            None => Array1::ones(n),
        }
    }
}

impl Loss for Softmax {
    fn outputs(&self) -> usize {
        self.classes
    }

    fn value(
        &self,
        pred: ArrayView1<'_, f64>,
        y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> f64 {
        let c = self.classes;
        let n = pred.len() / c;
        let ws = self.sample_weights(w, n);
        let mut s = 0.0;
        for i in 0..n {
            let z = pred.slice(s![i * c..(i + 1) * c]);
            let t = y.slice(s![i * c..(i + 1) * c]);
            let m = z.fold(f64::NEG_INFINITY, |a, &v| a.max(v));
            let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            s += ws[i] * (lse * t.sum() - t.dot(&z));
        }
        s / pred.len().max(1) as f64
    }

    fn first_derivative(
        &self,
        pred: ArrayView1<'_, f64>,
        y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> Array1<f64> {
        weighted(self.probabilities(pred) - y, w)
    }

    fn second_derivative(
        &self,
        pred: ArrayView1<'_, f64>,
        _y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> Array1<f64> {
        weighted(self.probabilities(pred).mapv(|p| p * (1.0 - p)), w)
    }

    fn hessian_factors(
        &self,
        pred: ArrayView1<'_, f64>,
        y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> Option<HessianFactors> {
        let c = self.classes;
        let n = pred.len() / c;
        let r = c - 1;
        let p = self.probabilities(pred);
        let ws = self.sample_weights(w, n);
        let mut factors = Array3::zeros((n, r, c));
        let mut targets = Array1::zeros(n * r);
        let mut v = vec![0.0; c];
        for i in 0..n {
            // floor p as l'' is floored (MATH.md §8), renormalized so that sum p = 1 still holds
            let pi: Vec<f64> = (0..c).map(|a| p[i * c + a].max(1e-12)).collect();
            let tot: f64 = pi.iter().sum();
            let q: Vec<f64> = pi.iter().map(|x| (x / tot).sqrt()).collect();
            // Householder P = I - 2 v v^T / v^T v with P q = -sign(q_0) e_0; rows 1.. of P
            // span q^perp
            let sgn = if q[0] >= 0.0 { 1.0 } else { -1.0 };
            v.copy_from_slice(&q);
            v[0] += sgn;
            let vv: f64 = v.iter().map(|x| x * x).sum();
            let sw = ws[i].sqrt();
            for a in 0..r {
                let row = a + 1;
                let mut t = 0.0;
                for b in 0..c {
                    let pab = if row == b { 1.0 } else { 0.0 } - 2.0 * v[row] * v[b] / vv;
                    // F = sqrt(w) P[1.., :] D^{1/2};  t = -sqrt(w) P[1.., :] D^{-1/2} (p - y)
                    factors[[i, a, b]] = sw * pab * q[b];
                    t -= pab * (p[i * c + b] - y[i * c + b]) / q[b];
                }
                targets[i * r + a] = sw * t;
            }
        }
        Some(HessianFactors { factors, targets })
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
