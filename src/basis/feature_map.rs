//! From user inputs to feature matrices: [`InputMap`] (user coordinate → reference coordinate),
//! [`OutsidePolicy`] (what to do with points outside the domain) and [`FeatureMap`] (one basis
//! and input map per variable).

use super::{Basis, FeatureBasis, Measure};
use crate::{Error, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Affine map of one input variable onto the reference domain of its basis. Part of the model
/// file. Serializes as `{"kind": "interval", "lo": .., "hi": ..}` or
/// `{"kind": "standardize", "mean": .., "std": ..}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputMap {
    /// `[lo, hi] → [-1, 1]`: `t = (2x - lo - hi) / (hi - lo)`, `dt/dx = 2 / (hi - lo)`.
    /// For the uniform-measure families; the domain of the variable is `[lo, hi]`.
    Interval {
        /// Lower end of the domain.
        lo: f64,
        /// Upper end of the domain (`hi > lo`).
        hi: f64,
    },
    /// `t = (x - mean) / std`, `dt/dx = 1 / std`. For the Gaussian-measure families (Hermite);
    /// the domain is the whole line.
    Standardize {
        /// Mean of the input.
        mean: f64,
        /// Standard deviation of the input (`std > 0`).
        std: f64,
    },
}

impl InputMap {
    /// `Interval { lo, hi }`.
    pub fn interval(lo: f64, hi: f64) -> Self {
        InputMap::Interval { lo, hi }
    }

    /// `Standardize { mean, std }`.
    pub fn standardize(mean: f64, std: f64) -> Self {
        InputMap::Standardize { mean, std }
    }

    /// Checks finiteness, `hi > lo` and `std > 0`; `name` is the variable for the message.
    pub fn validate(&self, name: &str) -> Result<()> {
        match *self {
            InputMap::Interval { lo, hi } => {
                if !(lo.is_finite() && hi.is_finite() && hi > lo) {
                    return Err(Error::param(
                        "domain",
                        format!("variable \"{name}\": interval [{lo}, {hi}] must be finite with lo < hi"),
                    ));
                }
            }
            InputMap::Standardize { mean, std } => {
                if !(mean.is_finite() && std.is_finite() && std > 0.0) {
                    return Err(Error::param(
                        "domain",
                        format!("variable \"{name}\": standardization mean {mean}, std {std} must be finite with std > 0"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The reference coordinate `t(x)`.
    #[inline]
    pub fn to_reference(&self, x: f64) -> f64 {
        match *self {
            InputMap::Interval { lo, hi } => (2.0 * x - lo - hi) / (hi - lo),
            InputMap::Standardize { mean, std } => (x - mean) / std,
        }
    }

    /// The inverse map `x(t)`.
    #[inline]
    pub fn from_reference(&self, t: f64) -> f64 {
        match *self {
            InputMap::Interval { lo, hi } => 0.5 * (lo + hi) + 0.5 * (hi - lo) * t,
            InputMap::Standardize { mean, std } => mean + std * t,
        }
    }

    /// The chain-rule factor `dt/dx` (`2/(hi-lo)` or `1/std`); the `m`-th derivative of a
    /// feature with respect to `x` is `(dt/dx)^m` times the one with respect to `t`.
    #[inline]
    pub fn derivative_factor(&self) -> f64 {
        match *self {
            InputMap::Interval { lo, hi } => 2.0 / (hi - lo),
            InputMap::Standardize { std, .. } => 1.0 / std,
        }
    }

    /// The domain `[lo, hi]` in user coordinates, or `None` for the whole line.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        match *self {
            InputMap::Interval { lo, hi } => Some((lo, hi)),
            InputMap::Standardize { .. } => None,
        }
    }

    /// The reference measure this map is meant for.
    pub fn measure(&self) -> Measure {
        match self {
            InputMap::Interval { .. } => Measure::Uniform,
            InputMap::Standardize { .. } => Measure::Gaussian,
        }
    }
}

/// What to do with an input outside the domain `[lo, hi]` of an [`InputMap::Interval`]
/// (standardized variables have no bounds). Parses from `extrapolate`, `clamp`, `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutsidePolicy {
    /// Evaluate the features outside `[-1, 1]` anyway (polynomial / periodic extrapolation)
    /// and report how many rows were outside so that the caller can warn.
    #[default]
    Extrapolate,
    /// Replace the value by the nearest bound (derivative features of clamped values are 0,
    /// the derivative of `x ↦ φ(clamp(x))`); the number of rows clamped is reported.
    Clamp,
    /// Fail with [`Error::OutsideDomain`] naming the first offending row and variable.
    Error,
}

impl OutsidePolicy {
    /// Parses `extrapolate` | `clamp` | `error` (case-insensitive).
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "extrapolate" => Ok(OutsidePolicy::Extrapolate),
            "clamp" => Ok(OutsidePolicy::Clamp),
            "error" => Ok(OutsidePolicy::Error),
            _ => Err(Error::param(
                "--outside",
                format!("\"{s}\" is not a policy; use extrapolate, clamp or error"),
            )),
        }
    }
}

impl FromStr for OutsidePolicy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        OutsidePolicy::parse(s)
    }
}

impl fmt::Display for OutsidePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutsidePolicy::Extrapolate => "extrapolate",
            OutsidePolicy::Clamp => "clamp",
            OutsidePolicy::Error => "error",
        })
    }
}

/// The features of one input variable: its name, basis and input map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableFeatures<B = Basis> {
    /// Variable name (used in messages and to match CSV columns).
    pub name: String,
    /// The orthonormal basis on the reference domain.
    pub basis: B,
    /// The map from user to reference coordinates.
    pub map: InputMap,
}

/// One (basis, input map) per input variable: turns an `N x d` input matrix into the `d`
/// feature matrices `Φ_k ∈ R^{N x n_k}`, `Φ_k[i, j] = φ_{k,j}(t_k(x_{ik}))` (MATH.md §1.3).
///
/// Invariants (checked by [`FeatureMap::new`] and again by every evaluation, so that a
/// deserialized map is safe too): `d >= 1`, every basis has `dim() >= 1`, every input map is
/// valid and matches the measure of its basis (interval ↔ uniform, standardize ↔ Gaussian).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureMap<B = Basis> {
    variables: Vec<VariableFeatures<B>>,
}

impl<B: FeatureBasis> FeatureMap<B> {
    /// A feature map from its variables, validated (see the type documentation).
    pub fn new(variables: Vec<VariableFeatures<B>>) -> Result<Self> {
        let fm = FeatureMap { variables };
        fm.validate()?;
        Ok(fm)
    }

    /// Variables named `names[k]` with basis `bases[k]` and map `maps[k]`.
    pub fn from_parts(bases: Vec<B>, maps: Vec<InputMap>, names: Vec<String>) -> Result<Self> {
        if bases.len() != maps.len() || bases.len() != names.len() {
            return Err(Error::param(
                "features",
                format!(
                    "{} bases, {} input maps and {} names given; need one of each per variable",
                    bases.len(),
                    maps.len(),
                    names.len()
                ),
            ));
        }
        let variables = bases
            .into_iter()
            .zip(maps)
            .zip(names)
            .map(|((basis, map), name)| VariableFeatures { name, basis, map })
            .collect();
        Self::new(variables)
    }

    /// The same basis for every variable.
    pub fn with_basis(basis: B, maps: Vec<InputMap>, names: Vec<String>) -> Result<Self>
    where
        B: Clone,
    {
        let bases = vec![basis; maps.len()];
        Self::from_parts(bases, maps, names)
    }

    /// Checks the invariants (see the type documentation).
    pub fn validate(&self) -> Result<()> {
        if self.variables.is_empty() {
            return Err(Error::param(
                "features",
                "a feature map needs at least one variable",
            ));
        }
        for v in &self.variables {
            v.map.validate(&v.name)?;
            let n = v.basis.dim();
            if n == 0 {
                return Err(Error::param(
                    "basis",
                    format!("variable \"{}\": the basis has no features", v.name),
                ));
            }
            if v.basis.measure() != v.map.measure() {
                return Err(Error::param(
                    "basis",
                    format!(
                        "variable \"{}\": the basis is orthonormal for the {} measure but the input \
                         map is {}; use an interval map with legendre/fourier/piecewise/monomial \
                         and a standardize map with hermite/monomial-gaussian",
                        v.name,
                        v.basis.measure(),
                        match v.map {
                            InputMap::Interval { .. } => "an interval",
                            InputMap::Standardize { .. } => "a standardization",
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Number of variables `d`.
    pub fn n_variables(&self) -> usize {
        self.variables.len()
    }

    /// The variables.
    pub fn variables(&self) -> &[VariableFeatures<B>] {
        &self.variables
    }

    /// Variable names.
    pub fn names(&self) -> Vec<String> {
        self.variables.iter().map(|v| v.name.clone()).collect()
    }

    /// The input maps.
    pub fn maps(&self) -> Vec<InputMap> {
        self.variables.iter().map(|v| v.map).collect()
    }

    /// Mode sizes `n_k = dim(basis_k)`, the TT mode sizes.
    pub fn mode_sizes(&self) -> Vec<usize> {
        self.variables.iter().map(|v| v.basis.dim()).collect()
    }

    /// The per-variable domain `[lo, hi]` in user coordinates (`None`: unbounded).
    pub fn domain(&self) -> Vec<Option<(f64, f64)>> {
        self.variables.iter().map(|v| v.map.bounds()).collect()
    }

    /// Feature matrices `Φ_k` (`N x n_k`, `k = 0..d`) of the rows of `x` (`N x d`).
    /// Shorthand for [`FeatureMap::features_checked`] without the outside count.
    pub fn features(&self, x: ArrayView2<f64>, policy: OutsidePolicy) -> Result<Vec<Array2<f64>>> {
        Ok(self.features_checked(x, policy)?.0)
    }

    /// Feature matrices `Φ_k` of the rows of `x` and the number of rows with at least one
    /// coordinate outside the domain (extrapolated or clamped per `policy`; with
    /// [`OutsidePolicy::Error`] such a row is an [`Error::OutsideDomain`] instead).
    ///
    /// Errors: wrong number of columns, non-finite inputs ([`Error::Data`] naming row and
    /// variable), invalid map.
    pub fn features_checked(
        &self,
        x: ArrayView2<f64>,
        policy: OutsidePolicy,
    ) -> Result<(Vec<Array2<f64>>, usize)> {
        self.derivatives_checked(x, 0, policy)
    }

    /// Derivative features `d^order/dx_k^order Φ_k` with respect to the **user** coordinate
    /// `x_k` (chain rule: `(dt/dx)^order` times the reference derivative), `order` 0, 1 or 2.
    /// With [`OutsidePolicy::Clamp`] the rows of clamped coordinates are zero for `order >= 1`.
    pub fn derivatives(
        &self,
        x: ArrayView2<f64>,
        order: usize,
        policy: OutsidePolicy,
    ) -> Result<Vec<Array2<f64>>> {
        Ok(self.derivatives_checked(x, order, policy)?.0)
    }

    /// [`FeatureMap::derivatives`] with the count of rows outside the domain.
    pub fn derivatives_checked(
        &self,
        x: ArrayView2<f64>,
        order: usize,
        policy: OutsidePolicy,
    ) -> Result<(Vec<Array2<f64>>, usize)> {
        self.validate()?;
        let d = self.variables.len();
        if x.ncols() != d {
            return Err(Error::data(
                "input",
                format!(
                    "has {} columns but the feature map has {d} variables ({})",
                    x.ncols(),
                    self.names().join(", ")
                ),
            ));
        }
        let outside_rows = self.scan(x, policy)?;
        let mut out = Vec::with_capacity(d);
        for k in 0..d {
            out.push(self.column_features(k, x.column(k), order, policy)?);
        }
        Ok((out, outside_rows))
    }

    /// Features (or derivatives of order `order`) of variable `k` alone at the values `column`,
    /// with the number of values outside the domain.
    pub fn variable_features(
        &self,
        k: usize,
        column: ArrayView1<f64>,
        order: usize,
        policy: OutsidePolicy,
    ) -> Result<(Array2<f64>, usize)> {
        self.validate()?;
        if k >= self.variables.len() {
            return Err(Error::param(
                "variable",
                format!(
                    "index {k} out of range: the feature map has {} variables",
                    self.variables.len()
                ),
            ));
        }
        let x = column.insert_axis(ndarray::Axis(1));
        let count = self.scan_columns(x, &[k], policy)?;
        Ok((self.column_features(k, column, order, policy)?, count))
    }

    /// Checks all of `x` (finite values; outside points per `policy`); returns the number of
    /// rows with a coordinate outside the domain.
    fn scan(&self, x: ArrayView2<f64>, policy: OutsidePolicy) -> Result<usize> {
        let ks: Vec<usize> = (0..self.variables.len()).collect();
        self.scan_columns(x, &ks, policy)
    }

    /// Scans columns `j` of `x`, which hold variables `ks[j]`.
    fn scan_columns(
        &self,
        x: ArrayView2<f64>,
        ks: &[usize],
        policy: OutsidePolicy,
    ) -> Result<usize> {
        let mut outside_rows = 0;
        for (i, row) in x.outer_iter().enumerate() {
            let mut outside = false;
            for (j, &k) in ks.iter().enumerate() {
                let v = &self.variables[k];
                let value = row[j];
                if !value.is_finite() {
                    return Err(Error::data(
                        format!("input row {i}, variable \"{}\"", v.name),
                        format!("value {value} is not finite"),
                    ));
                }
                if let Some((lo, hi)) = v.map.bounds() {
                    if value < lo || value > hi {
                        if policy == OutsidePolicy::Error {
                            return Err(Error::OutsideDomain {
                                row: i,
                                variable: v.name.clone(),
                                value,
                                lo,
                                hi,
                            });
                        }
                        outside = true;
                    }
                }
            }
            outside_rows += usize::from(outside);
        }
        Ok(outside_rows)
    }

    /// Evaluates variable `k` on finite values (already scanned).
    fn column_features(
        &self,
        k: usize,
        column: ArrayView1<f64>,
        order: usize,
        policy: OutsidePolicy,
    ) -> Result<Array2<f64>> {
        let v = &self.variables[k];
        let bounds = v.map.bounds();
        let clamp = policy == OutsidePolicy::Clamp;
        let mut clamped_rows = Vec::new();
        let t: Array1<f64> = column
            .iter()
            .enumerate()
            .map(|(i, &x)| match bounds {
                Some((lo, hi)) if clamp && (x < lo || x > hi) => {
                    clamped_rows.push(i);
                    v.map.to_reference(x.clamp(lo, hi)).clamp(-1.0, 1.0)
                }
                _ => v.map.to_reference(x),
            })
            .collect();
        let mut phi = v.basis.evaluate(t.view(), order)?;
        if order > 0 {
            let factor = v.map.derivative_factor().powi(order as i32);
            phi.mapv_inplace(|p| p * factor);
            for &i in &clamped_rows {
                phi.row_mut(i).fill(0.0);
            }
        }
        Ok(phi)
    }
}
