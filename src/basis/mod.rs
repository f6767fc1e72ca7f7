//! Feature bases: the one-dimensional function families `φ_k` of the functional TT model and
//! the maps from user coordinates onto their reference domains (MATH.md §1.1).
//!
//! Every family here is **orthonormal in `L^2(μ)`** for its reference measure `μ`
//! ([`Measure`]): the uniform probability measure `dx/2` on `[-1, 1]` or the standard normal
//! `N(0, 1)`. The TT code only ever sees orthonormal features, so the Frobenius norm of the
//! coefficient tensor equals the `L^2(μ)` norm of the function (MATH.md §1.4).
//!
//! | [`Basis`] variant | measure | features (reference coordinate `t`) | `dim()` |
//! |---|---|---|---|
//! | `Legendre { n }` | uniform | `sqrt(2j+1) P_j(t)`, `j < n` | `n` |
//! | `Hermite { n }` | Gaussian | `h_j(t) = He_j(t)/sqrt(j!)`, `j < n` | `n` |
//! | `Fourier { n_freq: M }` | uniform | `1, sqrt2 cos(πmt), sqrt2 sin(πmt)`, `m = 1..M` interleaved | `2M+1` |
//! | `Piecewise { degree: p, cells: K }` | uniform | `sqrt(K(2q+1)) P_q(t_c(t))` on cell `c`, index `c(p+1)+q` | `K(p+1)` |
//! | `Monomial(..)` | either | `L^{-1} (1, t, .., t^p)`, `M = LL^T` the Gram matrix | `p+1` |
//!
//! Layers:
//! - [`FeatureBasis`]: the trait a family implements (batched evaluation of values and
//!   derivatives on reference coordinates); [`Basis`] implements it and so can user types,
//!   e.g. [`Orthonormalized`] over a closure family [`FnFamily`].
//! - [`InputMap`]: user coordinate `x` → reference coordinate `t` (affine), with the
//!   chain-rule factor `dt/dx`.
//! - [`FeatureMap`]: one (basis, input map, name) per variable; turns an `N x d` input matrix
//!   into the `d` feature matrices `N x n_k` consumed by the TT code, with an
//!   [`OutsidePolicy`] for points outside the domain.

pub mod feature_map;
pub mod fourier;
pub mod hermite;
pub mod legendre;
pub mod orthonormalized;
pub mod piecewise;
pub mod quadrature;

pub use feature_map::{FeatureMap, InputMap, OutsidePolicy, VariableFeatures};
pub use orthonormalized::{
    FnFamily, Monomials, OrthoMonomials, Orthonormalized, RawFamily, MAX_MONOMIAL_DEGREE,
};
pub use quadrature::QuadratureRule;

use crate::{Error, Result};
use ndarray::{Array2, ArrayView1, ArrayViewMut2};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Largest number of features per variable accepted by [`Basis::parse`] and
/// [`Basis::validate`] (a guard against typos such as `legendre:80000`).
pub const MAX_FEATURES: usize = 4096;

/// The reference probability measure a family is orthonormal for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Uniform on `[-1, 1]`, density `1/2`. Paired with [`InputMap::Interval`].
    Uniform,
    /// Standard normal `N(0, 1)`. Paired with [`InputMap::Standardize`].
    Gaussian,
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Measure::Uniform => "uniform on [-1, 1]",
            Measure::Gaussian => "standard normal",
        })
    }
}

/// A family of `dim()` functions on the reference line, orthonormal in `L^2(measure())`.
///
/// Implementors must guarantee `∫ φ_i φ_j dμ = δ_ij` (check with [`gram_matrix`]); the TT code
/// relies on it. Evaluation is batched so that implementors can reuse scratch space across
/// points.
pub trait FeatureBasis {
    /// Number of features `n`.
    fn dim(&self) -> usize;

    /// The measure the features are orthonormal for.
    fn measure(&self) -> Measure;

    /// Writes `out[i, j] = d^order/dt^order φ_j(t[i])` (`order == 0`: values) into `out`
    /// of shape `(t.len(), dim())`. Orders 0, 1 and 2 are supported by the built-in families;
    /// others return [`Error::InvalidParameter`]. Points outside the reference domain are
    /// extrapolated (the [`FeatureMap`] decides what to do with them beforehand).
    fn eval_into(&self, t: ArrayView1<f64>, order: usize, out: ArrayViewMut2<f64>) -> Result<()>;

    /// Allocating wrapper of [`FeatureBasis::eval_into`]: the `N x n` matrix of derivatives of
    /// order `order` at the `N` reference points `t`.
    fn evaluate(&self, t: ArrayView1<f64>, order: usize) -> Result<Array2<f64>> {
        let mut out = Array2::zeros((t.len(), self.dim()));
        self.eval_into(t, order, out.view_mut())?;
        Ok(out)
    }
}

/// Boxed bases (e.g. `Box<dyn FeatureBasis + Send + Sync>`) are bases, so a
/// `FeatureMap<Box<dyn FeatureBasis + Send + Sync>>` can mix built-in and user families.
impl<T: FeatureBasis + ?Sized> FeatureBasis for Box<T> {
    fn dim(&self) -> usize {
        (**self).dim()
    }

    fn measure(&self) -> Measure {
        (**self).measure()
    }

    fn eval_into(&self, t: ArrayView1<f64>, order: usize, out: ArrayViewMut2<f64>) -> Result<()> {
        (**self).eval_into(t, order, out)
    }
}

/// Shared bases are bases.
impl<T: FeatureBasis + ?Sized> FeatureBasis for std::sync::Arc<T> {
    fn dim(&self) -> usize {
        (**self).dim()
    }

    fn measure(&self) -> Measure {
        (**self).measure()
    }

    fn eval_into(&self, t: ArrayView1<f64>, order: usize, out: ArrayViewMut2<f64>) -> Result<()> {
        (**self).eval_into(t, order, out)
    }
}

/// Checks the output shape of a batched evaluation.
pub(crate) fn check_out_shape(n_points: usize, dim: usize, out: &ArrayViewMut2<f64>) -> Result<()> {
    if out.dim() != (n_points, dim) {
        return Err(Error::param(
            "feature output",
            format!(
                "output array has shape {:?}, expected ({n_points}, {dim})",
                out.dim()
            ),
        ));
    }
    Ok(())
}

fn check_order(order: usize) -> Result<()> {
    if order > 2 {
        return Err(Error::param(
            "derivative order",
            format!("{order} requested; the built-in feature families provide orders 0, 1 and 2"),
        ));
    }
    Ok(())
}

/// The built-in orthonormal feature families (see the module table). Serializes as an
/// internally tagged object, e.g. `{"family": "legendre", "n": 8}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum Basis {
    /// `n` orthonormal Legendre polynomials `sqrt(2j+1) P_j`, degrees `0..n-1`, uniform measure.
    Legendre {
        /// Number of features (polynomial degree `n - 1`).
        n: usize,
    },
    /// `n` orthonormal probabilists' Hermite polynomials, degrees `0..n-1`, Gaussian measure.
    Hermite {
        /// Number of features (polynomial degree `n - 1`).
        n: usize,
    },
    /// Real Fourier features with frequencies `1..=n_freq`: `2 n_freq + 1` features.
    Fourier {
        /// Highest frequency `M` (the features have period 2 in `t`).
        n_freq: usize,
    },
    /// Piecewise Legendre polynomials of degree `degree` on `cells` equal cells of `[-1, 1]`.
    Piecewise {
        /// Polynomial degree `p` in each cell.
        degree: usize,
        /// Number of equal cells `K`.
        cells: usize,
    },
    /// Monomials `1..t^p` orthonormalized by Cholesky of their Gram matrix.
    Monomial(OrthoMonomials),
}

impl Basis {
    /// `Legendre { n }`.
    pub fn legendre(n: usize) -> Self {
        Basis::Legendre { n }
    }

    /// `Hermite { n }`.
    pub fn hermite(n: usize) -> Self {
        Basis::Hermite { n }
    }

    /// `Fourier { n_freq }` (dimension `2 n_freq + 1`).
    pub fn fourier(n_freq: usize) -> Self {
        Basis::Fourier { n_freq }
    }

    /// `Piecewise { degree, cells }` (dimension `cells (degree + 1)`).
    pub fn piecewise(degree: usize, cells: usize) -> Self {
        Basis::Piecewise { degree, cells }
    }

    /// Orthonormalized monomials of degree `degree` for `measure` (errors above
    /// [`MAX_MONOMIAL_DEGREE`]).
    pub fn monomial(degree: usize, measure: Measure) -> Result<Self> {
        Ok(Basis::Monomial(OrthoMonomials::new(degree, measure)?))
    }

    /// Number of features `n`.
    pub fn dim(&self) -> usize {
        match self {
            Basis::Legendre { n } | Basis::Hermite { n } => *n,
            Basis::Fourier { n_freq } => 2 * n_freq + 1,
            Basis::Piecewise { degree, cells } => cells * (degree + 1),
            Basis::Monomial(m) => m.degree() + 1,
        }
    }

    /// The measure the features are orthonormal for.
    pub fn measure(&self) -> Measure {
        match self {
            Basis::Hermite { .. } => Measure::Gaussian,
            Basis::Monomial(m) => m.measure(),
            _ => Measure::Uniform,
        }
    }

    /// Checks `1 <= dim() <= MAX_FEATURES` (and `cells >= 1` for piecewise features).
    pub fn validate(&self) -> Result<()> {
        if let Basis::Piecewise { cells: 0, .. } = self {
            return Err(Error::param(
                "basis",
                "piecewise features need at least one cell",
            ));
        }
        let n = self.dim();
        if n == 0 || n > MAX_FEATURES {
            return Err(Error::param(
                "basis",
                format!("{self} has {n} features; use between 1 and {MAX_FEATURES}"),
            ));
        }
        Ok(())
    }

    /// The `N x n` matrix of feature values at the reference points `t`.
    pub fn eval(&self, t: ArrayView1<f64>) -> Array2<f64> {
        let mut out = Array2::zeros((t.len(), self.dim()));
        self.fill(t, 0, out.view_mut());
        out
    }

    /// The `N x n` matrix of `order`-th derivatives (`order` 0, 1 or 2) with respect to the
    /// reference coordinate `t`. Piecewise features: the derivative inside the cell of `t`.
    pub fn eval_derivative(&self, t: ArrayView1<f64>, order: usize) -> Result<Array2<f64>> {
        check_order(order)?;
        let mut out = Array2::zeros((t.len(), self.dim()));
        self.fill(t, order, out.view_mut());
        Ok(out)
    }

    /// Row-by-row kernel; `out` has the right shape and `order <= 2`.
    fn fill(&self, t: ArrayView1<f64>, order: usize, mut out: ArrayViewMut2<f64>) {
        match self {
            Basis::Monomial(m) => {
                // Shapes and order are checked by the callers; eval_raw of monomials never fails.
                let _ = m.eval_into(t, order, out);
            }
            _ => {
                for (i, &ti) in t.iter().enumerate() {
                    let mut row = out.row_mut(i);
                    match row.as_slice_mut() {
                        Some(s) => self.point_into(ti, order, s),
                        None => {
                            let mut buf = vec![0.0; row.len()];
                            self.point_into(ti, order, &mut buf);
                            row.iter_mut().zip(&buf).for_each(|(o, v)| *o = *v);
                        }
                    }
                }
            }
        }
    }

    /// Single-point kernel of the closed-form families.
    fn point_into(&self, t: f64, order: usize, out: &mut [f64]) {
        match self {
            Basis::Legendre { .. } => legendre::legendre_into(t, order, out),
            Basis::Hermite { .. } => hermite::hermite_into(t, order, out),
            Basis::Fourier { .. } => fourier::fourier_into(t, order, out),
            Basis::Piecewise { degree, cells } => {
                piecewise::piecewise_into(t, *degree, *cells, order, out)
            }
            Basis::Monomial(_) => {}
        }
    }

    /// A quadrature rule for [`Basis::measure`] that computes the Gram matrix
    /// `∫ φ φ^T dμ` of this basis exactly (up to rounding):
    /// Gauss–Legendre / Gauss–Hermite with `n` nodes for polynomial families of degree `n-1`,
    /// the periodic trapezoid rule with `2(2M+1)` points for Fourier, and the composite
    /// Gauss–Legendre rule with `p + 1` nodes per cell for piecewise features.
    pub fn gram_rule(&self) -> Result<QuadratureRule> {
        match self {
            Basis::Legendre { n } => quadrature::gauss_legendre((*n).max(1)),
            Basis::Hermite { n } => quadrature::gauss_hermite((*n).max(1)),
            Basis::Fourier { n_freq } => quadrature::periodic_trapezoid(2 * (2 * n_freq + 1)),
            Basis::Piecewise { degree, cells } => {
                quadrature::composite_gauss_legendre(degree + 1, (*cells).max(1))
            }
            Basis::Monomial(m) => orthonormalized::default_rule(m.measure(), m.degree() + 1),
        }
    }

    /// Parses the CLI notation: `legendre:N`, `hermite:N`, `fourier:M` (`2M+1` features),
    /// `piecewise:PxK` (degree `P`, `K` cells), `monomial:P` (uniform measure) and
    /// `monomial-gaussian:P`. Case-insensitive; surrounding spaces are ignored.
    pub fn parse(s: &str) -> Result<Self> {
        const HELP: &str = "expected one of legendre:N, hermite:N, fourier:M, piecewise:PxK, \
                            monomial:P, monomial-gaussian:P (e.g. legendre:8, piecewise:2x4)";
        let spec = s.trim().to_ascii_lowercase();
        let (family, arg) = match spec.split_once(':') {
            Some((f, a)) => (f.trim(), a.trim()),
            None => {
                return Err(Error::param(
                    "basis",
                    format!("\"{s}\" has no size after the family name; {HELP}"),
                ))
            }
        };
        let count = |what: &str, a: &str| -> Result<usize> {
            a.parse::<usize>().map_err(|_| {
                Error::param(
                    "basis",
                    format!("\"{s}\": {what} \"{a}\" is not a non-negative integer; {HELP}"),
                )
            })
        };
        let basis = match family {
            "legendre" => Basis::Legendre {
                n: count("number of features", arg)?,
            },
            "hermite" => Basis::Hermite {
                n: count("number of features", arg)?,
            },
            "fourier" => Basis::Fourier {
                n_freq: count("number of frequencies", arg)?,
            },
            "piecewise" => {
                let (p, k) = arg.split_once('x').ok_or_else(|| {
                    Error::param(
                        "basis",
                        format!("\"{s}\": piecewise needs DEGREExCELLS, e.g. piecewise:2x4"),
                    )
                })?;
                Basis::Piecewise {
                    degree: count("degree", p.trim())?,
                    cells: count("cells", k.trim())?,
                }
            }
            "monomial" => Basis::monomial(count("degree", arg)?, Measure::Uniform)?,
            "monomial-gaussian" => Basis::monomial(count("degree", arg)?, Measure::Gaussian)?,
            other => {
                return Err(Error::param(
                    "basis",
                    format!("unknown feature family \"{other}\" in \"{s}\"; {HELP}"),
                ))
            }
        };
        basis.validate()?;
        Ok(basis)
    }
}

impl fmt::Display for Basis {
    /// The [`Basis::parse`] notation, so that `Basis::parse(&b.to_string()) == b`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Basis::Legendre { n } => write!(f, "legendre:{n}"),
            Basis::Hermite { n } => write!(f, "hermite:{n}"),
            Basis::Fourier { n_freq } => write!(f, "fourier:{n_freq}"),
            Basis::Piecewise { degree, cells } => write!(f, "piecewise:{degree}x{cells}"),
            Basis::Monomial(m) => match m.measure() {
                Measure::Uniform => write!(f, "monomial:{}", m.degree()),
                Measure::Gaussian => write!(f, "monomial-gaussian:{}", m.degree()),
            },
        }
    }
}

impl FromStr for Basis {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Basis::parse(s)
    }
}

impl FeatureBasis for Basis {
    fn dim(&self) -> usize {
        Basis::dim(self)
    }

    fn measure(&self) -> Measure {
        Basis::measure(self)
    }

    fn eval_into(&self, t: ArrayView1<f64>, order: usize, out: ArrayViewMut2<f64>) -> Result<()> {
        check_order(order)?;
        check_out_shape(t.len(), Basis::dim(self), &out)?;
        self.fill(t, order, out);
        Ok(())
    }
}

/// The Gram matrix `G = Σ_q w_q φ(t_q) φ(t_q)^T` of `basis` under `rule`; equals the identity
/// (up to quadrature and rounding error) for an orthonormal family and an exact rule.
pub fn gram_matrix<B: FeatureBasis + ?Sized>(
    basis: &B,
    rule: &QuadratureRule,
) -> Result<Array2<f64>> {
    let t = ArrayView1::from(&rule.nodes[..]);
    let phi = basis.evaluate(t, 0)?;
    let w = ArrayView1::from(&rule.weights[..]);
    let weighted = &phi * &w.insert_axis(ndarray::Axis(1));
    Ok(weighted.t().dot(&phi))
}
