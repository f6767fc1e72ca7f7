//! Degree adaptivity per variable for nested orthonormal families (Legendre, Hermite): the
//! features of `n` functions are the first `n` columns of those of `n_max`, so every candidate
//! number of functions is a column slice of one feature matrix, and growing a variable's basis
//! is an exact embedding (a zero slice appended to its core).
//!
//! **Criterion.** With orthonormal features and the TT orthogonalized around core `k`,
//! `||G_k[:, j, :]||_F^2` is exactly the squared `L^2(mu)` norm of the model's component
//! along function `j` of variable `k`. A variable whose two highest functions carry a share
//! within a factor [`DEGREE_THETA`] of the largest share grows; a variable whose top share is
//! negligible keeps its few functions (an input that does not matter stays at 1–2).

use crate::error::{Error, Result};
use crate::samples::SampleSet;
use ndarray::{s, Array3};
use tensor_train::TensorTrain;

/// Variables whose top-function energy share is at least this fraction of the largest share grow.
pub const DEGREE_THETA: f64 = 0.1;

/// Number of highest functions whose energy share decides growth: two, so that a function of
/// one parity (an odd `sin(3x)` has no even components) does not stop the growth early.
pub const TOP_FUNCTIONS: usize = 2;

/// Whether a basis family is nested (the first `n` functions do not depend on `n_max`).
pub fn is_nested(basis: &crate::basis::Basis) -> bool {
    matches!(
        basis,
        crate::basis::Basis::Legendre { .. } | crate::basis::Basis::Hermite { .. }
    )
}

/// The samples restricted to the first `degrees[k]` features of each variable.
pub fn restrict(full: &SampleSet, degrees: &[usize]) -> Result<SampleSet> {
    let feats = full.feature_views();
    if feats.len() != degrees.len() {
        return Err(Error::param(
            "degrees",
            format!("{} degrees for {} variables", degrees.len(), feats.len()),
        ));
    }
    let mut out = Vec::with_capacity(feats.len());
    for (f, &n) in feats.iter().zip(degrees) {
        if n == 0 || n > f.ncols() {
            return Err(Error::param(
                "degrees",
                format!("{n} functions asked, 1..={} available", f.ncols()),
            ));
        }
        out.push(f.slice(s![.., ..n]).to_owned());
    }
    SampleSet::new(
        out,
        full.targets().to_owned(),
        full.weights().map(|w| w.to_owned()),
    )
}

/// `||G_k[:, n_k - 2 .., :]||^2 / ||X||^2` per variable: the share of the model's squared `L^2`
/// norm carried by the [`TOP_FUNCTIONS`] highest functions of each variable (never the first,
/// constant-like one unless it is the only one) (0 for a zero tensor).
pub fn top_energy(x: &TensorTrain) -> Result<Vec<f64>> {
    let d = x.order();
    let mut t = x.clone();
    let norm2 = x.norm()?.powi(2);
    let mut shares = Vec::with_capacity(d);
    for k in 0..d {
        t.orthogonalize_to(k)?;
        let core = t.core(k);
        let n = core.shape()[1];
        let top: f64 = core
            .slice(s![
                ..,
                n.saturating_sub(TOP_FUNCTIONS).max(1).min(n - 1)..,
                ..
            ])
            .iter()
            .map(|v| v * v)
            .sum();
        shares.push(if norm2 > 0.0 { top / norm2 } else { 0.0 });
    }
    Ok(shares)
}

/// The same tensor with `extra[k]` zero slices appended to core `k` (more functions, same
/// function).
pub fn pad_modes(x: &TensorTrain, extra: &[usize]) -> Result<TensorTrain> {
    let cores = x
        .cores()
        .iter()
        .zip(extra)
        .map(|(c, &e)| {
            let (a, n, b) = c.dim();
            let mut p = Array3::zeros((a, n + e, b));
            p.slice_mut(s![.., ..n, ..]).assign(c);
            p
        })
        .collect();
    Ok(TensorTrain::from_cores(cores)?)
}

/// The variables that grow and by how much: `n_k -> min(n_max, n_k + 2 + n_k / 4)` for those
/// with `share_k >= DEGREE_THETA max share` and `n_k < n_max`. All zeros when none can grow.
pub fn degree_growth(shares: &[f64], degrees: &[usize], n_max: usize) -> Vec<usize> {
    let top = shares
        .iter()
        .zip(degrees)
        .filter(|(_, &n)| n < n_max)
        .map(|(&s, _)| s)
        .fold(0.0, f64::max);
    shares
        .iter()
        .zip(degrees)
        .map(|(&s, &n)| {
            if n < n_max && top > 0.0 && s >= DEGREE_THETA * top {
                (n + 2 + n / 4).min(n_max) - n
            } else {
                0
            }
        })
        .collect()
}

/// The same cores keeping only the first `keep[k]` function slices of core `k` (a projection:
/// with orthonormal features it drops exactly the components along the removed functions).
pub fn truncate_modes(x: &TensorTrain, keep: &[usize]) -> Result<TensorTrain> {
    let cores = x
        .cores()
        .iter()
        .zip(keep)
        .map(|(c, &n)| c.slice(s![.., ..n.min(c.shape()[1]).max(1), ..]).to_owned())
        .collect();
    Ok(TensorTrain::from_cores(cores)?)
}
