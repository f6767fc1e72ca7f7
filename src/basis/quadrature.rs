//! Gauss quadrature rules for the reference measures of the feature families (MATH.md §1.1).
//!
//! All rules here integrate against a **probability** measure, so their weights sum to 1:
//!
//! - [`gauss_legendre`]: the uniform measure `dx/2` on `[-1, 1]`; an `n`-point rule is exact
//!   for polynomials of degree `<= 2n - 1`.
//! - [`gauss_hermite`]: the standard normal measure `N(0, 1)` (probabilists' convention); an
//!   `n`-point rule is exact for polynomials of degree `<= 2n - 1`.
//! - [`composite_gauss_legendre`]: `n` Gauss–Legendre points on each of `K` equal cells of
//!   `[-1, 1]`, exact for piecewise polynomials of degree `<= 2n - 1` on those cells.
//! - [`periodic_trapezoid`]: `m` equispaced points on the periodic interval `[-1, 1)`, exact
//!   for trigonometric polynomials `exp(i pi k x)` with `|k| <= m - 1`.
//!
//! Nodes are computed by Newton's method on the three-term recurrence from classical initial
//! guesses (Numerical Recipes `gauleg`/`gauher`), which converges to machine precision for the
//! sizes used here (tested up to 200 points).

use crate::{Error, Result};
use std::f64::consts::PI;

/// A quadrature rule for a probability measure: `∫ f dμ ≈ Σ_i weights[i] f(nodes[i])`.
///
/// Invariant: `nodes.len() == weights.len()`, the weights are positive and sum to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct QuadratureRule {
    /// The nodes, in increasing order.
    pub nodes: Vec<f64>,
    /// The weights (positive, summing to 1).
    pub weights: Vec<f64>,
}

impl QuadratureRule {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the rule has no nodes (never for the constructors of this module).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// `Σ_i w_i f(x_i)`.
    pub fn integrate(&self, mut f: impl FnMut(f64) -> f64) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&x, &w)| w * f(x))
            .sum()
    }
}

const MAX_NODES: usize = 100_000;

fn check_count(n: usize) -> Result<()> {
    if n == 0 || n > MAX_NODES {
        return Err(Error::param(
            "quadrature nodes",
            format!("{n} requested; give between 1 and {MAX_NODES}"),
        ));
    }
    Ok(())
}

/// `n`-point Gauss–Legendre rule for the uniform probability measure `dx/2` on `[-1, 1]`.
///
/// Nodes are the roots of `P_n`; weights `w_i = 1 / ((1 - x_i^2) P_n'(x_i)^2)` (the classical
/// weights halved). Exact for polynomials of degree `<= 2n - 1`.
pub fn gauss_legendre(n: usize) -> Result<QuadratureRule> {
    check_count(n)?;
    let mut nodes = vec![0.0; n];
    let mut weights = vec![0.0; n];
    let m = n.div_ceil(2);
    let nf = n as f64;
    for i in 0..m {
        // Chebyshev-like initial guess of the (i+1)-th largest root.
        let mut z = (PI * (i as f64 + 0.75) / (nf + 0.5)).cos();
        let mut dp = 1.0;
        for _ in 0..100 {
            let (p, d) = legendre_and_derivative(n, z);
            dp = d;
            let dz = p / d;
            z -= dz;
            if dz.abs() <= 1e-15 * z.abs().max(1.0) {
                break;
            }
        }
        let (_, d) = legendre_and_derivative(n, z);
        if d.is_finite() {
            dp = d;
        }
        let w = 1.0 / ((1.0 - z * z) * dp * dp);
        nodes[i] = -z;
        nodes[n - 1 - i] = z;
        weights[i] = w;
        weights[n - 1 - i] = w;
    }
    if n % 2 == 1 {
        nodes[n / 2] = 0.0;
    }
    Ok(QuadratureRule { nodes, weights })
}

/// `(P_n(x), P_n'(x))` by the three-term recurrence; the derivative by
/// `P_n' = n (x P_n - P_{n-1}) / (x^2 - 1)` (only used strictly inside `(-1, 1)`).
fn legendre_and_derivative(n: usize, x: f64) -> (f64, f64) {
    let mut p0 = 1.0;
    let mut p1 = x;
    if n == 0 {
        return (1.0, 0.0);
    }
    for j in 1..n {
        let jf = j as f64;
        let p2 = ((2.0 * jf + 1.0) * x * p1 - jf * p0) / (jf + 1.0);
        p0 = p1;
        p1 = p2;
    }
    let nf = n as f64;
    (p1, nf * (x * p1 - p0) / (x * x - 1.0))
}

/// `n`-point Gauss–Hermite rule for the standard normal measure `N(0, 1)`.
///
/// Nodes are the roots of the probabilists' Hermite polynomial `He_n`; with the orthonormal
/// `h_j = He_j / sqrt(j!)` the weights are `w_i = 1 / (n h_{n-1}(x_i)^2)`. Exact for polynomials
/// of degree `<= 2n - 1`.
pub fn gauss_hermite(n: usize) -> Result<QuadratureRule> {
    check_count(n)?;
    // Physicists' rule (weight exp(-z^2)) with orthonormal recurrence, then z = x / sqrt(2).
    let pim4 = PI.powf(-0.25);
    let nf = n as f64;
    let m = n.div_ceil(2);
    let mut z_nodes = vec![0.0; n];
    let mut z_weights = vec![0.0; n];
    let mut z = 0.0;
    for i in 0..m {
        z = match i {
            0 => (2.0 * nf + 1.0).sqrt() - 1.85575 * (2.0 * nf + 1.0).powf(-0.16667),
            1 => z - 1.14 * nf.powf(0.426) / z,
            2 => 1.86 * z - 0.86 * z_nodes[0],
            3 => 1.91 * z - 0.91 * z_nodes[1],
            _ => 2.0 * z - z_nodes[i - 2],
        };
        let mut pp = 1.0;
        for _ in 0..200 {
            let (p1, p2) = physicists_orthonormal(n, z, pim4);
            pp = (2.0 * nf).sqrt() * p2;
            let dz = p1 / pp;
            z -= dz;
            if dz.abs() <= 1e-15 * z.abs().max(1.0) {
                break;
            }
        }
        let (_, p2) = physicists_orthonormal(n, z, pim4);
        let pp_new = (2.0 * nf).sqrt() * p2;
        if pp_new.is_finite() && pp_new != 0.0 {
            pp = pp_new;
        }
        z_nodes[i] = z;
        z_nodes[n - 1 - i] = -z;
        let w = 2.0 / (pp * pp);
        z_weights[i] = w;
        z_weights[n - 1 - i] = w;
    }
    if n % 2 == 1 {
        z_nodes[n / 2] = 0.0;
    }
    // Physicists' weights sum to sqrt(pi); nodes are in decreasing order.
    let scale = 1.0 / PI.sqrt();
    let mut nodes: Vec<f64> = z_nodes
        .iter()
        .rev()
        .map(|z| z * std::f64::consts::SQRT_2)
        .collect();
    let mut weights: Vec<f64> = z_weights.iter().rev().map(|w| w * scale).collect();
    // Renormalize the tiny rounding drift of the weight sum.
    let s: f64 = weights.iter().sum();
    weights.iter_mut().for_each(|w| *w /= s);
    if n % 2 == 1 {
        nodes[n / 2] = 0.0;
    }
    Ok(QuadratureRule { nodes, weights })
}

/// Orthonormal physicists' Hermite values `(p_n(z), p_{n-1}(z))` for weight `exp(-z^2)`.
fn physicists_orthonormal(n: usize, z: f64, pim4: f64) -> (f64, f64) {
    let mut p1 = pim4;
    let mut p2 = 0.0;
    for j in 0..n {
        let p3 = p2;
        p2 = p1;
        let jf = j as f64;
        p1 = z * (2.0 / (jf + 1.0)).sqrt() * p2 - (jf / (jf + 1.0)).sqrt() * p3;
    }
    (p1, p2)
}

/// `n` Gauss–Legendre points on each of `cells` equal cells of `[-1, 1]`, for the uniform
/// probability measure `dx/2` (weights of each cell scaled by `1 / cells`).
///
/// Exact for functions that are polynomials of degree `<= 2n - 1` on every cell, such as
/// products of piecewise-polynomial features.
pub fn composite_gauss_legendre(n: usize, cells: usize) -> Result<QuadratureRule> {
    check_count(n)?;
    if cells == 0 || n.saturating_mul(cells) > MAX_NODES {
        return Err(Error::param(
            "quadrature cells",
            format!("{cells} cells of {n} nodes; need 1 <= cells and at most {MAX_NODES} nodes in total"),
        ));
    }
    let base = gauss_legendre(n)?;
    let k = cells as f64;
    let mut nodes = Vec::with_capacity(n * cells);
    let mut weights = Vec::with_capacity(n * cells);
    for c in 0..cells {
        let centre = -1.0 + (2.0 * c as f64 + 1.0) / k;
        for (&t, &w) in base.nodes.iter().zip(&base.weights) {
            nodes.push(centre + t / k);
            weights.push(w / k);
        }
    }
    Ok(QuadratureRule { nodes, weights })
}

/// `m` equispaced points `x_i = -1 + 2 i / m` with equal weights `1/m` (periodic trapezoid rule
/// on `[-1, 1)` for the uniform probability measure).
///
/// Exact for `exp(i pi k x)` whenever `|k| < m`, hence for products of Fourier features of
/// frequencies up to `M` when `m >= 2M + 1`.
pub fn periodic_trapezoid(m: usize) -> Result<QuadratureRule> {
    check_count(m)?;
    let mf = m as f64;
    let nodes = (0..m).map(|i| -1.0 + 2.0 * i as f64 / mf).collect();
    let weights = vec![1.0 / mf; m];
    Ok(QuadratureRule { nodes, weights })
}
