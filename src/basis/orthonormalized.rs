//! Orthonormalization of an arbitrary family of functions (MATH.md §1.1): with the 1-D Gram
//! matrix `M = ∫ ψ ψ^T dμ` computed by a quadrature rule and its Cholesky factor `M = L L^T`,
//! the features `φ = L^{-1} ψ` are orthonormal in `L^2(μ)`: `∫ φ φ^T dμ = L^{-1} M L^{-T} = I`.
//!
//! `L^{-1}` is lower triangular, so `φ_j` is a combination of `ψ_0..ψ_j` (Gram–Schmidt in the
//! order of the family). It is stored row by row so that it serializes with the model.
//!
//! - [`RawFamily`]: what a family must provide (values and optionally derivatives at a point).
//! - [`Monomials`]: `ψ_j(t) = t^j`, `j = 0..=p`.
//! - [`FnFamily`]: a family given by closures, for library users.
//! - [`Orthonormalized`]: `L^{-1} ψ` for any [`RawFamily`]; implements [`FeatureBasis`].
//! - [`OrthoMonomials`]: the serializable orthonormalized monomials used by
//!   [`Basis::Monomial`](super::Basis::Monomial).
//!
//! Conditioning: monomials are badly conditioned (the Gram matrix of `1, t, .., t^p` on
//! `[-1, 1]` has a condition number growing exponentially in `p`), so the orthonormalized
//! features lose digits: measured `max|G - I|` is 2e-13 at degree 6, 1e-11 at degree 10,
//! 2e-9 at 12 and 1e-7 at 14 for the uniform measure (far less for the Gaussian one).
//! [`MAX_MONOMIAL_DEGREE`] = 10 caps the degree. Legendre features span the same space for the
//! uniform measure (and Hermite for the Gaussian one) and are evaluated stably; prefer them.

use super::quadrature::{gauss_hermite, gauss_legendre, QuadratureRule};
use super::{FeatureBasis, Measure};
use crate::{Error, Result};
use ndarray::{ArrayView1, ArrayViewMut2};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Highest monomial degree accepted by [`OrthoMonomials::new`] (beyond it orthonormality of the
/// orthonormalized monomials degrades quickly, see the module doc; use Legendre or Hermite).
pub const MAX_MONOMIAL_DEGREE: usize = 10;

/// A family of functions `ψ_0..ψ_{n-1}` on the reference line, not necessarily orthonormal.
pub trait RawFamily {
    /// Number of functions `n`.
    fn dim(&self) -> usize;

    /// Writes `out[j] = d^order/dt^order ψ_j(t)` (`out.len() == dim()`); `order == 0` must be
    /// supported, higher orders may return [`Error::InvalidParameter`].
    fn eval_raw(&self, t: f64, order: usize, out: &mut [f64]) -> Result<()>;
}

/// The monomials `ψ_j(t) = t^j`, `j = 0..=degree`, with derivatives of any order
/// `ψ_j^{(m)} = j!/(j-m)! t^{j-m}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monomials {
    /// Highest degree `p`; the family has `p + 1` functions.
    pub degree: usize,
}

impl RawFamily for Monomials {
    fn dim(&self) -> usize {
        self.degree + 1
    }

    fn eval_raw(&self, t: f64, order: usize, out: &mut [f64]) -> Result<()> {
        // out[j] = j (j-1) .. (j-order+1) t^(j-order)
        let mut pow = 1.0;
        for (j, o) in out.iter_mut().enumerate() {
            if j < order {
                *o = 0.0;
                continue;
            }
            let mut falling = 1.0;
            for i in 0..order {
                falling *= (j - i) as f64;
            }
            *o = falling * pow;
            pow *= t;
        }
        Ok(())
    }
}

/// Signature of the value closure of [`FnFamily`]: writes `ψ_j(t)` into the slice.
pub type FamilyFn = dyn Fn(f64, &mut [f64]) + Send + Sync;
/// Signature of the derivative closure of [`FnFamily`]: `(t, order >= 1, out)`; returns false
/// when the order is not available.
pub type FamilyDerivativeFn = dyn Fn(f64, usize, &mut [f64]) -> bool + Send + Sync;

/// A user family given by closures: `values(t, out)` writes `ψ_0(t)..ψ_{n-1}(t)` into `out`,
/// the optional `derivatives(t, order, out)` the derivatives of order `>= 1`.
///
/// ```
/// use ttfit::basis::{FnFamily, Orthonormalized, Measure, FeatureBasis};
/// // 1, t, |t| on [-1, 1], orthonormalized for dx/2 with a 40-point Gauss rule
/// // (|t| is not a polynomial, so the Gram matrix is only approximate).
/// let fam = FnFamily::new(3, |t, out| { out[0] = 1.0; out[1] = t; out[2] = t.abs(); });
/// let basis = Orthonormalized::new(fam, Measure::Uniform, 40)?;
/// assert_eq!(basis.dim(), 3);
/// # Ok::<(), ttfit::Error>(())
/// ```
pub struct FnFamily {
    dim: usize,
    values: Box<FamilyFn>,
    derivatives: Option<Box<FamilyDerivativeFn>>,
}

impl FnFamily {
    /// A family of `dim` functions whose values `values(t, out)` writes into `out`.
    pub fn new(dim: usize, values: impl Fn(f64, &mut [f64]) + Send + Sync + 'static) -> Self {
        FnFamily {
            dim,
            values: Box::new(values),
            derivatives: None,
        }
    }

    /// Adds derivatives: `derivatives(t, order, out)` writes the `order`-th derivatives
    /// (`order >= 1`) and returns false if that order is not available.
    pub fn with_derivatives(
        mut self,
        derivatives: impl Fn(f64, usize, &mut [f64]) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.derivatives = Some(Box::new(derivatives));
        self
    }
}

impl fmt::Debug for FnFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnFamily")
            .field("dim", &self.dim)
            .field("derivatives", &self.derivatives.is_some())
            .finish()
    }
}

impl RawFamily for FnFamily {
    fn dim(&self) -> usize {
        self.dim
    }

    fn eval_raw(&self, t: f64, order: usize, out: &mut [f64]) -> Result<()> {
        if order == 0 {
            (self.values)(t, out);
            return Ok(());
        }
        match &self.derivatives {
            Some(d) if d(t, order, out) => Ok(()),
            _ => Err(Error::param(
                "derivative order",
                format!("the user feature family provides no derivatives of order {order}"),
            )),
        }
    }
}

/// The default quadrature rule for orthonormalizing against `measure` with `nodes` points.
pub fn default_rule(measure: Measure, nodes: usize) -> Result<QuadratureRule> {
    match measure {
        Measure::Uniform => gauss_legendre(nodes),
        Measure::Gaussian => gauss_hermite(nodes),
    }
}

/// Computes `L^{-1}` (row-major, `n x n`, lower triangular) for the Gram matrix
/// `M_{ij} = Σ_q w_q ψ_i(t_q) ψ_j(t_q)` of `family` under `rule`, with `M = L L^T`.
///
/// Errors when the family is (numerically) linearly dependent on the rule's nodes: a Cholesky
/// pivot `L_jj^2 <= 1e-13 · max_i M_ii`.
pub fn orthonormalizing_matrix(family: &dyn RawFamily, rule: &QuadratureRule) -> Result<Vec<f64>> {
    let n = family.dim();
    if n == 0 {
        return Err(Error::param(
            "basis",
            "a feature family needs at least one function",
        ));
    }
    let mut gram = vec![0.0; n * n];
    let mut psi = vec![0.0; n];
    for (&t, &w) in rule.nodes.iter().zip(&rule.weights) {
        family.eval_raw(t, 0, &mut psi)?;
        if psi.iter().any(|v| !v.is_finite()) {
            return Err(Error::param(
                "basis",
                format!("the feature family returned a non-finite value at quadrature node {t}"),
            ));
        }
        for i in 0..n {
            let wi = w * psi[i];
            for j in 0..=i {
                gram[i * n + j] += wi * psi[j];
            }
        }
    }
    // Cholesky M = L L^T (lower triangle of `gram` overwritten by L).
    let max_diag = (0..n).map(|i| gram[i * n + i]).fold(0.0_f64, f64::max);
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        let mut diag = gram[j * n + j];
        for k in 0..j {
            diag -= l[j * n + k] * l[j * n + k];
        }
        if diag.is_nan() || diag <= 1e-13 * max_diag {
            return Err(Error::param(
                "basis",
                format!(
                    "function {j} of the feature family is (numerically) a combination of the \
                     previous ones on the quadrature nodes (Cholesky pivot {diag:.3e}); drop it, \
                     lower the degree or use more quadrature nodes"
                ),
            ));
        }
        let ljj = diag.sqrt();
        l[j * n + j] = ljj;
        for i in j + 1..n {
            let mut s = gram[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            l[i * n + j] = s / ljj;
        }
    }
    // Inverse of the lower-triangular L by forward substitution, column by column.
    let mut inv = vec![0.0; n * n];
    for c in 0..n {
        for i in c..n {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for k in c..i {
                s -= l[i * n + k] * inv[k * n + c];
            }
            inv[i * n + c] = s / l[i * n + i];
        }
    }
    Ok(inv)
}

/// `out = L^{-1} psi` for lower-triangular row-major `l_inv` (`n x n`).
#[inline]
fn apply_lower(l_inv: &[f64], psi: &[f64], out: &mut [f64]) {
    let n = psi.len();
    for (i, o) in out.iter_mut().enumerate().take(n) {
        let row = &l_inv[i * n..i * n + i + 1];
        *o = row.iter().zip(&psi[..=i]).map(|(a, b)| a * b).sum();
    }
}

/// Shared batched kernel: `out[i, :] = L^{-1} ψ^{(order)}(t_i)`, one scratch vector per call.
fn eval_orthonormalized(
    family: &dyn RawFamily,
    l_inv: &[f64],
    t: ArrayView1<f64>,
    order: usize,
    mut out: ArrayViewMut2<f64>,
) -> Result<()> {
    let n = family.dim();
    super::check_out_shape(t.len(), n, &out)?;
    let mut psi = vec![0.0; n];
    let mut tmp = vec![0.0; n];
    for (i, &ti) in t.iter().enumerate() {
        family.eval_raw(ti, order, &mut psi)?;
        apply_lower(l_inv, &psi, &mut tmp);
        out.row_mut(i)
            .iter_mut()
            .zip(&tmp)
            .for_each(|(o, v)| *o = *v);
    }
    Ok(())
}

/// The orthonormalized features `φ = L^{-1} ψ` of a [`RawFamily`] for a measure (see the
/// module documentation). Implements [`FeatureBasis`]; derivatives are `L^{-1} ψ^{(m)}`.
#[derive(Debug)]
pub struct Orthonormalized<F> {
    family: F,
    measure: Measure,
    l_inv: Vec<f64>,
}

impl<F: RawFamily> Orthonormalized<F> {
    /// Orthonormalizes `family` for `measure` with an `nodes`-point Gauss rule (Gauss–Legendre
    /// for [`Measure::Uniform`], Gauss–Hermite for [`Measure::Gaussian`]). The Gram matrix is
    /// exact when the products `ψ_i ψ_j` are polynomials of degree `<= 2 nodes - 1`.
    pub fn new(family: F, measure: Measure, nodes: usize) -> Result<Self> {
        let rule = default_rule(measure, nodes)?;
        Self::with_rule(family, measure, &rule)
    }

    /// Orthonormalizes `family` with a caller-chosen rule for `measure` (for instance a
    /// composite rule for piecewise families).
    pub fn with_rule(family: F, measure: Measure, rule: &QuadratureRule) -> Result<Self> {
        let l_inv = orthonormalizing_matrix(&family, rule)?;
        Ok(Orthonormalized {
            family,
            measure,
            l_inv,
        })
    }

    /// The lower-triangular `L^{-1}` (row-major `n x n`).
    pub fn l_inv(&self) -> &[f64] {
        &self.l_inv
    }

    /// The underlying raw family.
    pub fn family(&self) -> &F {
        &self.family
    }
}

impl<F: RawFamily> FeatureBasis for Orthonormalized<F> {
    fn dim(&self) -> usize {
        self.family.dim()
    }

    fn measure(&self) -> Measure {
        self.measure
    }

    fn eval_into(&self, t: ArrayView1<f64>, order: usize, out: ArrayViewMut2<f64>) -> Result<()> {
        eval_orthonormalized(&self.family, &self.l_inv, t, order, out)
    }
}

/// Orthonormalized monomials `L^{-1} (1, t, .., t^p)` for a measure: the serializable basis
/// behind [`Basis::Monomial`](super::Basis::Monomial). `L^{-1}` is stored in the model file
/// (rows of a lower-triangular matrix) and validated when read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "OrthoMonomialsRepr", into = "OrthoMonomialsRepr")]
pub struct OrthoMonomials {
    degree: usize,
    measure: Measure,
    l_inv: Vec<f64>,
}

/// Serialized form of [`OrthoMonomials`].
#[derive(Serialize, Deserialize)]
struct OrthoMonomialsRepr {
    degree: usize,
    measure: Measure,
    /// Rows of the lower-triangular `L^{-1}`: row `i` has `i + 1` entries.
    l_inv: Vec<Vec<f64>>,
}

impl OrthoMonomials {
    /// Orthonormalizes `1, t, .., t^degree` for `measure` with a `degree + 8`-point Gauss rule
    /// (exact: the Gram entries are polynomials of degree `<= 2 degree`).
    ///
    /// Errors for `degree > MAX_MONOMIAL_DEGREE`.
    pub fn new(degree: usize, measure: Measure) -> Result<Self> {
        if degree > MAX_MONOMIAL_DEGREE {
            return Err(Error::param(
                "basis",
                format!(
                    "monomial degree {degree} is above {MAX_MONOMIAL_DEGREE}: orthonormalized \
                     monomials are numerically unstable there; use {} which spans the same space",
                    match measure {
                        Measure::Uniform => format!("legendre:{}", degree + 1),
                        Measure::Gaussian => format!("hermite:{}", degree + 1),
                    }
                ),
            ));
        }
        let rule = default_rule(measure, degree + 8)?;
        let l_inv = orthonormalizing_matrix(&Monomials { degree }, &rule)?;
        Ok(OrthoMonomials {
            degree,
            measure,
            l_inv,
        })
    }

    /// The degree `p` (dimension `p + 1`).
    pub fn degree(&self) -> usize {
        self.degree
    }

    /// The measure the monomials were orthonormalized for.
    pub fn measure(&self) -> Measure {
        self.measure
    }

    /// The lower-triangular `L^{-1}` (row-major `(p+1) x (p+1)`).
    pub fn l_inv(&self) -> &[f64] {
        &self.l_inv
    }

    /// Batched evaluation (see [`FeatureBasis::eval_into`]).
    pub(crate) fn eval_into(
        &self,
        t: ArrayView1<f64>,
        order: usize,
        out: ArrayViewMut2<f64>,
    ) -> Result<()> {
        eval_orthonormalized(
            &Monomials {
                degree: self.degree,
            },
            &self.l_inv,
            t,
            order,
            out,
        )
    }
}

impl TryFrom<OrthoMonomialsRepr> for OrthoMonomials {
    type Error = String;

    fn try_from(r: OrthoMonomialsRepr) -> std::result::Result<Self, String> {
        let n = r.degree + 1;
        if r.degree > MAX_MONOMIAL_DEGREE {
            return Err(format!(
                "monomial degree {} above {MAX_MONOMIAL_DEGREE}",
                r.degree
            ));
        }
        if r.l_inv.len() != n {
            return Err(format!(
                "l_inv has {} rows, expected degree + 1 = {n}",
                r.l_inv.len()
            ));
        }
        let mut flat = vec![0.0; n * n];
        for (i, row) in r.l_inv.iter().enumerate() {
            if row.len() != i + 1 {
                return Err(format!(
                    "l_inv row {i} has {} entries, expected {}",
                    row.len(),
                    i + 1
                ));
            }
            for (j, &v) in row.iter().enumerate() {
                if !v.is_finite() {
                    return Err(format!("l_inv[{i}][{j}] is not finite"));
                }
                flat[i * n + j] = v;
            }
        }
        Ok(OrthoMonomials {
            degree: r.degree,
            measure: r.measure,
            l_inv: flat,
        })
    }
}

impl From<OrthoMonomials> for OrthoMonomialsRepr {
    fn from(m: OrthoMonomials) -> Self {
        let n = m.degree + 1;
        let l_inv = (0..n)
            .map(|i| m.l_inv[i * n..i * n + i + 1].to_vec())
            .collect();
        OrthoMonomialsRepr {
            degree: m.degree,
            measure: m.measure,
            l_inv,
        }
    }
}
