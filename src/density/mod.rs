//! Density estimation with a squared functional TT (MATH.md §8 "Density estimation").
//!
//! **The model.** `ψ` is a functional TT in `L^2(μ)`-orthonormal bases, `μ = μ_1 ⊗ .. ⊗ μ_d` the
//! product reference measure of the bases in user coordinates (for an [`InputMap::Interval`]
//! `[lo, hi]`: the uniform probability measure `dx / (hi - lo)`; for an
//! [`InputMap::Standardize`] `(m, s)`: `N(m, s^2)`). The density
//!
//! `π(x) = ψ(x)^2 / ||ψ||^2_{L^2(μ)}`   with respect to `μ`, and
//! `p(x) = π(x) ρ_μ(x)`,  `ρ_μ(x) = Π_k ρ_k(x_k)`   with respect to Lebesgue measure,
//!
//! integrates to 1 exactly: `||ψ||_{L^2(μ)} = ||Ψ||_F` (MATH.md §1.4), and the iterate is kept at
//! `||Ψ||_F = 1`. For Legendre features on a box `[lo, hi]^d`, `p` is the density on the box
//! (`ρ_μ = Π 1/(hi_k - lo_k)`) and is zero outside it.
//!
//! **The loss** (forward KL from samples `x^i ~ p`, up to the entropy of `p`):
//! `L(Ψ) = -(1/N) Σ_i log ψ(x^i)^2 + log ||Ψ||_F^2`. It is invariant under `Ψ → tΨ`, so it is
//! minimized on the unit sphere, where it is the pointwise loss [`SquaredTtKl`],
//! `l(v) = -log v^2`, `l' = -2/v`, `l'' = 2/v^2`; the sphere is the loss's
//! [`crate::optim::constraint::UnitSphere`] constraint, which the optimizers apply (radial
//! direction removed from gradients, directions and momentum; retracted points renormalized).
//! On the sphere, `c_X^T g = <l', ψ>/N + 2 = 0`, so the full gradient `g_pw + 2 c_X` is the
//! projection of the pointwise gradient `g_pw = J^T l' / N` onto `c_X^⊥`.
//!
//! **The metrics.** (i) *Fisher* (the population metric, `Metric::Population` with
//! [`SquaredTtKl::population_metric_scale`] = 4): with `log π = 2 log ψ - log ||ψ||^2`, the
//! score along `δψ` is `2 δψ/ψ - 2 <ψ, δψ>` at `||ψ|| = 1`, and
//! `E_π[score^2] = ∫ ψ^2 (2δψ/ψ - 2<ψ,δψ>)^2 dμ = 4 (||δψ||^2 - <ψ, δψ>^2)`: in the
//! orthonormal tangent basis, `4 (I - c_X c_X^T)`, i.e. `4 I` on `c_X^⊥`. The Fisher step is
//! `-g / 4`. (ii) *Empirical*: the sample Gram `G = J^T diag(l'') J / N` plus the curvature
//! `2 I` of the normalization term ([`SquaredTtKl::tangent_curvature`]), restricted to `c_X^⊥`
//! (the `G`-orthogonal projection of the step, [`crate::optim::constraint`]). On the sphere,
//! `||X + E c||^2 = 1 + ||c||^2` for `c ⊥ c_X`, so before rounding the loss along the tangent
//! step is exactly `(1/N) Σ l(ψ_i + J_i c) + log(1 + ||c||^2)`, whose Hessian at 0 is
//! `G + 2 I`: this metric is the exact Hessian on the tangent space (Riemannian Newton up to
//! the curvature of the manifold). The sample Gram alone is not usable: `G c_X =
//! J^T (2/ψ) / N = -g_pw` makes the unconstrained Gauss–Newton step the radial `c_X` itself,
//! and on `c_X^⊥` it has eigenvalues near 0 in directions supported where there are no
//! samples (its population limit is `2 ∫ p/ψ^2 J J^T dμ`, small where the data density `p`
//! is), so its steps are long in exactly those directions and Armijo cuts them to `1e-3`
//! (measured: `examples/density.rs`, 9 iterations, then no decrease). At the truth (`p = ψ^2`)
//! `G + 2I -> 4 I`, the Fisher metric.
//!
//! **The floor.** `l(0) = +inf`: a sample where `ψ` vanishes has zero model density, and the
//! forward KL is infinite there. Values are not floored: an Armijo trial with a vanishing
//! `ψ(x^i)` has an infinite loss and is rejected, so iterates never reach one; only a start
//! point can, and [`fit::fit_density`] rejects such a start with a clear error. The
//! derivatives floor `v^2` at [`DERIVATIVE_FLOOR`] so that `l'`, `l''` stay finite in
//! round-off (they are then never used at an accepted point).

pub mod estimate;
pub mod fit;
pub mod sample;

pub use estimate::{estimate, DensitySettings, Estimated};
pub use fit::{fit_density, DensityConfig, DensityFit, DensityRecord};
pub use sample::sample;

use crate::basis::{FeatureMap, InputMap, OutsidePolicy};
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::model::FunctionalTT;
use crate::optim::constraint::{Constraint, UnitSphere};
use ndarray::{Array1, Array3, ArrayView1, ArrayView2, Zip};
use std::sync::Arc;
use tensor_train::TensorTrain;

/// Smallest `v^2` used in the derivatives `l' = -2/v`, `l'' = 2/v^2` (see the module docs).
pub const DERIVATIVE_FLOOR: f64 = 1e-200;

/// The pointwise forward-KL loss of a squared TT on the unit sphere, `l(v) = -log v^2`
/// (module docs). Targets are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SquaredTtKl;

impl Loss for SquaredTtKl {
    fn value(
        &self,
        pred: ArrayView1<'_, f64>,
        _y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> f64 {
        let n = pred.len().max(1) as f64;
        let s = match w {
            None => pred.iter().map(|&v| -(v * v).ln()).sum::<f64>(),
            Some(w) => Zip::from(&pred)
                .and(&w)
                .fold(0.0, |a, &v, &wi| a - wi * (v * v).ln()),
        };
        s / n
    }

    fn first_derivative(
        &self,
        pred: ArrayView1<'_, f64>,
        _y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> Array1<f64> {
        crate::loss::weighted(pred.mapv(|v| -2.0 * v / (v * v).max(DERIVATIVE_FLOOR)), w)
    }

    fn second_derivative(
        &self,
        pred: ArrayView1<'_, f64>,
        _y: ArrayView1<'_, f64>,
        w: Option<ArrayView1<'_, f64>>,
    ) -> Array1<f64> {
        crate::loss::weighted(pred.mapv(|v| 2.0 / (v * v).max(DERIVATIVE_FLOOR)), w)
    }

    fn constraint(&self) -> Option<Arc<dyn Constraint>> {
        Some(Arc::new(UnitSphere))
    }

    fn population_metric_scale(&self) -> f64 {
        4.0
    }

    fn tangent_curvature(&self) -> f64 {
        2.0
    }
}

/// `log ρ_μ(x)` for every row: the log-density of the reference measure `μ` with respect to
/// Lebesgue measure in user coordinates (`-ln(hi - lo)` per interval variable, `-inf` outside
/// the interval; the normal log-density per standardized variable).
pub fn reference_log_density(features: &FeatureMap, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
    let maps = features.maps();
    if x.ncols() != maps.len() {
        return Err(Error::data(
            "density input",
            format!(
                "{} columns, the model has {} variables",
                x.ncols(),
                maps.len()
            ),
        ));
    }
    let mut out = Array1::zeros(x.nrows());
    for (k, m) in maps.iter().enumerate() {
        for (i, &xi) in x.column(k).iter().enumerate() {
            out[i] += match *m {
                InputMap::Interval { lo, hi } => {
                    if (lo..=hi).contains(&xi) {
                        -(hi - lo).ln()
                    } else {
                        f64::NEG_INFINITY
                    }
                }
                InputMap::Standardize { mean, std } => {
                    let t = (xi - mean) / std;
                    -0.5 * t * t - 0.5 * (2.0 * std::f64::consts::PI).ln() - std.ln()
                }
            };
        }
    }
    Ok(out)
}

/// A fitted density `p = ψ^2 ρ_μ` (module docs): a [`FunctionalTT`] `ψ` with `||Ψ||_F = 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct SquaredTt {
    psi: FunctionalTT,
}

/// Densities and log-densities at input rows.
#[derive(Debug, Clone, PartialEq)]
pub struct DensityValues {
    /// `p(x)` with respect to Lebesgue measure in user coordinates.
    pub density: Array1<f64>,
    /// `log p(x)` (`-inf` where `p = 0`: outside a bounded domain, or where `ψ = 0`).
    pub log_density: Array1<f64>,
    /// Rows outside the domain (their density is 0).
    pub outside: usize,
}

impl SquaredTt {
    /// Wrap `ψ`, normalizing it to `||Ψ||_F = 1` (an error for the zero TT).
    pub fn new(psi: FunctionalTT) -> Result<Self> {
        let tt = normalized(psi.tt())?;
        Ok(SquaredTt {
            psi: psi.with_tt(tt)?,
        })
    }

    /// The square-root model `ψ`.
    pub fn psi(&self) -> &FunctionalTT {
        &self.psi
    }

    /// `p(x)` and `log p(x)` at the rows of `x` (user coordinates). Rows outside a bounded
    /// domain have density 0 under [`OutsidePolicy::Extrapolate`] and `Clamp` (the support
    /// of `p` is the domain); `Error` fails on them.
    pub fn evaluate(&self, x: ArrayView2<'_, f64>, policy: OutsidePolicy) -> Result<DensityValues> {
        let policy = match policy {
            OutsidePolicy::Error => OutsidePolicy::Error,
            _ => OutsidePolicy::Clamp,
        };
        let pred = self.psi.predict(x, policy)?;
        let lr = reference_log_density(self.psi.features(), x)?;
        let log_density = Zip::from(&pred.values).and(&lr).map_collect(|&v, &l| {
            if l == f64::NEG_INFINITY {
                l
            } else {
                (v * v).ln() + l
            }
        });
        Ok(DensityValues {
            density: log_density.mapv(f64::exp),
            log_density,
            outside: pred.outside,
        })
    }

    /// Mean negative log-likelihood `-(1/N) Σ log p(x^i)` (Lebesgue).
    pub fn nll(&self, x: ArrayView2<'_, f64>) -> Result<f64> {
        let v = self.evaluate(x, OutsidePolicy::Clamp)?;
        Ok(-v.log_density.mean().unwrap_or(f64::NAN))
    }
}

/// `X / ||X||_F` (gauge kept).
pub fn normalized(x: &TensorTrain) -> Result<TensorTrain> {
    UnitSphere.after_retraction(x.clone())
}

/// `||Ψ||_F - 1` of a TT (the normalization error the tests bound).
pub fn norm_error(x: &TensorTrain) -> Result<f64> {
    Ok(x.norm()? - 1.0)
}

/// Coefficients of the constant function 1 in each basis of `features`: `c_kj = ∫ φ_kj dμ_k`
/// (orthonormal features), by the basis's own Gram quadrature rule.
pub fn constant_coefficients(features: &FeatureMap) -> Result<Vec<Array1<f64>>> {
    features
        .variables()
        .iter()
        .map(|v| {
            let rule = v.basis.gram_rule()?;
            let nodes = Array1::from(rule.nodes.clone());
            let phi = v.basis.eval(nodes.view());
            Ok(phi.t().dot(&Array1::from(rule.weights.clone())))
        })
        .collect()
}

/// The start point `ψ0 = H_r(1 + δ Z / ||Z||) / ||.||`: the uniform density with respect to
/// `μ`, lifted onto the rank-`r` manifold by a seeded random TT `Z` of ranks `r` (relative size
/// `delta`; without it the rank-1 constant would sit on the manifold's boundary).
pub fn uniform_start(
    features: &FeatureMap,
    ranks: &[usize],
    delta: f64,
    seed: u64,
) -> Result<TensorTrain> {
    use rand::SeedableRng;
    let ones = constant_coefficients(features)?;
    let cores: Vec<Array3<f64>> = ones
        .iter()
        .map(|c| {
            let n = c.len();
            Array3::from_shape_fn((1, n, 1), |(_, j, _)| c[j])
        })
        .collect();
    let one = TensorTrain::from_cores(cores)?;
    if ranks.iter().all(|&r| r == 1) {
        return normalized(&one);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let z = TensorTrain::random(
        &features.mode_sizes(),
        ranks,
        tensor_train::CoreDistribution::ScaledNormal,
        &mut rng,
    )?;
    let zn = z.norm()?;
    let y = one.axpby(1.0, &z, delta / zn)?;
    let rounded = y.round(&tensor_train::rounding::Truncation::ranks(ranks))?;
    normalized(&rounded.tt)
}
