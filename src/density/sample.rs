//! Exact sampling from a squared TT density by conditional sampling (module docs of
//! [`crate::density`]).
//!
//! With the right-orthogonal representation `(S_1, V_2, .., V_d)` of `Ψ` (`||Ψ|| = 1`), the
//! right interface functions `ρ_{k+1}` are orthonormal in `L^2(μ_{>k})`, so the marginal of
//! `π = ψ^2` on `x_{≤k}` (w.r.t. `μ_{≤k}`) is `||ℓ_k(x)||^2`, `ℓ_k = A_1(x_1) .. A_k(x_k)`, and
//! the conditional density of `x_k` given `x_{<k}` is, w.r.t. `μ_k`,
//!
//! `f(t) = ||u A_k(t)||^2 = φ(t)^T W W^T φ(t)`,  `u = ℓ_{k-1} / ||ℓ_{k-1}||`,
//! `W[j, β] = Σ_α u_α G_k[α, j, β]`,
//!
//! which integrates to 1 (right-orthogonality of `V_k`). Each `x_k` is drawn by inverting its
//! CDF: a composite Gauss–Legendre rule with `CELLS` cells and `n + 1` nodes per cell gives the
//! cell masses (exact for polynomial features of degree `< n`, whose `f` has degree
//! `2n - 2`); a uniform draw picks the cell, and the CDF inside the cell (the same rule mapped
//! onto `[a, t]`) is inverted by safeguarded Newton–bisection to `1e-13` of the cell width.
//! Sampling needs bounded variables (interval input maps).

use crate::basis::{Basis, InputMap};
use crate::error::{Error, Result};
use crate::model::FunctionalTT;
use ndarray::{Array1, Array2};
use rand::Rng;

/// Cells of the composite rule per unit of basis resolution (multiplied by the number of cells
/// of a piecewise basis, so that every cell of the rule lies inside one basis cell).
pub const CELLS: usize = 32;

struct Variable<'a> {
    basis: &'a Basis,
    lo: f64,
    hi: f64,
    cells: usize,
    /// Gauss–Legendre nodes and weights on [-1, 1] (weights sum to 2).
    gl: (Vec<f64>, Vec<f64>),
}

impl Variable<'_> {
    /// `∫_a^b f dμ` with `μ = dt/2` on `[-1, 1]`, `f(t) = ||φ(t)^T W||^2`.
    fn mass(&self, w: &Array2<f64>, a: f64, b: f64) -> f64 {
        let (nodes, weights) = &self.gl;
        let h = 0.5 * (b - a);
        let t: Array1<f64> = nodes.iter().map(|&z| a + h * (z + 1.0)).collect();
        let f = self.density(w, &t);
        0.5 * h * f.iter().zip(weights).map(|(fi, wi)| fi * wi).sum::<f64>()
    }

    fn density(&self, w: &Array2<f64>, t: &Array1<f64>) -> Array1<f64> {
        let phi = self.basis.eval(t.view());
        let z = phi.dot(w);
        z.rows().into_iter().map(|r| r.dot(&r)).collect()
    }
}

fn gauss_legendre_pm1(m: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    // the probability rule on [-1, 1] (weights sum to 1), rescaled to dt
    let r = crate::basis::quadrature::gauss_legendre(m)?;
    Ok((r.nodes, r.weights.iter().map(|w| 2.0 * w).collect()))
}

/// `n` independent draws from the density of `psi` (`ψ^2 / ||ψ||^2` w.r.t. `μ`), as an
/// `n x d` matrix in user coordinates.
pub fn sample<R: Rng + ?Sized>(psi: &FunctionalTT, n: usize, rng: &mut R) -> Result<Array2<f64>> {
    let feats = psi.features();
    let mut vars = Vec::new();
    for v in feats.variables() {
        let (lo, hi) = match v.map {
            InputMap::Interval { lo, hi } => (lo, hi),
            InputMap::Standardize { .. } => {
                return Err(Error::param(
                    "sample",
                    format!("variable \"{}\" has an unbounded (standardized) domain; sampling needs interval domains (legendre, fourier, piecewise bases)", v.name),
                ))
            }
        };
        let cells = match v.basis {
            Basis::Piecewise { cells, .. } => CELLS * cells,
            _ => CELLS,
        };
        vars.push(Variable {
            basis: &v.basis,
            lo,
            hi,
            cells,
            gl: gauss_legendre_pm1(v.basis.dim() + 1)?,
        });
    }
    let tt = psi.tt().to_right_orthogonal()?;
    let d = tt.order();
    let mut out = Array2::zeros((n, d));
    for i in 0..n {
        let mut u = Array1::from_elem(1, 1.0);
        for (k, var) in vars.iter().enumerate() {
            let g = tt.core(k);
            let (ra, nk, rb) = g.dim();
            // W[j, b] = sum_a u_a G[a, j, b]
            let w = Array2::from_shape_fn((nk, rb), |(j, b)| {
                (0..ra).map(|a| u[a] * g[[a, j, b]]).sum()
            });
            let t = draw(var, &w, rng.random::<f64>())?;
            let phi = var.basis.eval(Array1::from_elem(1, t).view());
            let mut next = phi.row(0).dot(&w);
            let nrm = next.dot(&next).sqrt();
            if !(nrm.is_finite() && nrm > 0.0) {
                return Err(Error::param(
                    "sample",
                    "the density vanishes on a drawn prefix; refit the model",
                ));
            }
            next /= nrm;
            u = next;
            out[[i, k]] = var.lo + 0.5 * (t + 1.0) * (var.hi - var.lo);
        }
    }
    Ok(out)
}

/// Invert the CDF of `f(t) = ||φ(t)^T W||^2 dμ` on `[-1, 1]` at `p ∈ [0, 1)`.
fn draw(var: &Variable<'_>, w: &Array2<f64>, p: f64) -> Result<f64> {
    let h = 2.0 / var.cells as f64;
    let masses: Vec<f64> = (0..var.cells)
        .map(|c| {
            var.mass(w, -1.0 + c as f64 * h, -1.0 + (c + 1) as f64 * h)
                .max(0.0)
        })
        .collect();
    let total: f64 = masses.iter().sum();
    if !(total.is_finite() && total > 0.0) {
        return Err(Error::param(
            "sample",
            "a conditional density has no mass; refit the model",
        ));
    }
    let mut target = p * total;
    let mut c = 0;
    while c + 1 < var.cells && target > masses[c] {
        target -= masses[c];
        c += 1;
    }
    let (a, b) = (-1.0 + c as f64 * h, -1.0 + (c + 1) as f64 * h);
    let target = target.min(masses[c]);
    // safeguarded Newton on F(t) = mass(a, t) - target, F increasing
    let (mut lo, mut hi) = (a, b);
    let mut t = if masses[c] > 0.0 {
        a + (b - a) * target / masses[c]
    } else {
        0.5 * (a + b)
    };
    for _ in 0..100 {
        let f = var.mass(w, a, t) - target;
        if f > 0.0 {
            hi = t;
        } else {
            lo = t;
        }
        if hi - lo <= 1e-13 * (b - a) {
            break;
        }
        let dens = 0.5 * var.density(w, &Array1::from_elem(1, t))[0];
        let newton = t - f / dens;
        t = if dens > 0.0 && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if f.abs() <= 1e-15 * total {
            break;
        }
    }
    Ok(t.clamp(-1.0, 1.0))
}
