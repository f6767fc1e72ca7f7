//! Training data: [`Dataset`] (inputs `x`, targets `y`, optional sample weights, column names),
//! CSV input/output ([`csv`]), seeded splits ([`split`]) and domain inference
//! ([`infer_domain`]).
//!
//! Invariants of a validated [`Dataset`] (checked by [`Dataset::new`] and
//! [`Dataset::validate`]): `N >= 1` rows and `d >= 1` inputs; `x` is `N x d`, `y` has `N`
//! entries, `input_names` has `d`; all values finite; weights (if any) finite, `>= 0`, `N` of
//! them, with a positive sum.

pub mod csv;
pub mod output;
pub mod split;

pub use self::csv::{
    format_f64, read_inputs, read_inputs_from, write_atomic, write_csv, write_matrix_csv,
    InputTable,
};
pub use self::split::{split_indices, SplitSize};

use crate::basis::InputMap;
use crate::{Error, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};

/// Default relative margin of [`infer_domain`]: the interval `[min, max]` of each input is
/// widened by 1% of its width on each side.
pub const DEFAULT_DOMAIN_MARGIN: f64 = 0.01;

/// Largest magnitude of a target or input that a fit accepts ([`Dataset::check_fit_range`]):
/// `1e150`, so that sums of squares over up to `10^8` rows stay below `f64::MAX`.
pub const MAX_FIT_MAGNITUDE: f64 = 1e150;
/// Smallest magnitude of the largest target that a fit accepts: below, squares underflow.
pub const MIN_FIT_MAGNITUDE: f64 = 1e-150;

/// A regression data set: `N` samples `(x_i, y_i)` with optional non-negative weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Inputs, `N x d`, row `i` is sample `i`.
    pub x: Array2<f64>,
    /// Targets, length `N`.
    pub y: Array1<f64>,
    /// Optional sample weights, length `N`, finite, `>= 0`, positive sum.
    pub weights: Option<Array1<f64>>,
    /// Names of the `d` input columns.
    pub input_names: Vec<String>,
    /// Name of the target column.
    pub target_name: String,
}

impl Dataset {
    /// A validated data set (see the module invariants).
    pub fn new(
        x: Array2<f64>,
        y: Array1<f64>,
        weights: Option<Array1<f64>>,
        input_names: Vec<String>,
        target_name: impl Into<String>,
    ) -> Result<Self> {
        let ds = Dataset {
            x,
            y,
            weights,
            input_names,
            target_name: target_name.into(),
        };
        ds.validate()?;
        Ok(ds)
    }

    /// A data set with inputs named `x1..xd` and target `y`, no weights.
    pub fn from_arrays(x: Array2<f64>, y: Array1<f64>) -> Result<Self> {
        let names = (1..=x.ncols()).map(|k| format!("x{k}")).collect();
        Self::new(x, y, None, names, "y")
    }

    /// Checks the module invariants. Errors name the (0-based) row and the column.
    pub fn validate(&self) -> Result<()> {
        let (n, d) = self.x.dim();
        if n == 0 {
            return Err(Error::data(
                "dataset",
                "has no rows; at least one sample is needed",
            ));
        }
        if d == 0 {
            return Err(Error::data("dataset", "has no input columns"));
        }
        if self.y.len() != n {
            return Err(Error::data(
                "dataset",
                format!("{n} input rows but {} target values", self.y.len()),
            ));
        }
        if self.input_names.len() != d {
            return Err(Error::data(
                "dataset",
                format!(
                    "{d} input columns but {} input names",
                    self.input_names.len()
                ),
            ));
        }
        for (i, row) in self.x.outer_iter().enumerate() {
            for (k, &v) in row.iter().enumerate() {
                if !v.is_finite() {
                    return Err(Error::data(
                        format!("dataset row {i}, column \"{}\"", self.input_names[k]),
                        format!("value {v} is not finite"),
                    ));
                }
            }
            if !self.y[i].is_finite() {
                return Err(Error::data(
                    format!("dataset row {i}, column \"{}\"", self.target_name),
                    format!("target value {} is not finite", self.y[i]),
                ));
            }
        }
        if let Some(w) = &self.weights {
            if w.len() != n {
                return Err(Error::data(
                    "dataset",
                    format!("{n} rows but {} weights", w.len()),
                ));
            }
            for (i, &wi) in w.iter().enumerate() {
                if !wi.is_finite() || wi < 0.0 {
                    return Err(Error::data(
                        format!("dataset row {i}, weight"),
                        format!("weight {wi} must be finite and non-negative"),
                    ));
                }
            }
            if w.sum() <= 0.0 {
                return Err(Error::data("dataset", "all sample weights are zero"));
            }
        }
        Ok(())
    }

    /// Checks that least squares on this data stays inside the range of `f64`: every target
    /// satisfies `|y| <= MAX_FIT_MAGNITUDE` (the loss sums squares, which overflow beyond
    /// ~1.3e154) and the inputs' ranges have a finite width. Errors name the column and say
    /// how to rescale.
    pub fn check_fit_range(&self) -> Result<()> {
        let ymax = self.y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if ymax > MAX_FIT_MAGNITUDE {
            return Err(Error::data(
                format!("target column \"{}\"", self.target_name),
                format!(
                    "values reach {ymax:e}; least squares squares them, and squares above 1.8e308 overflow f64: divide the column by a power of ten (e.g. 1e{}) and multiply the predictions back",
                    ymax.log10().floor()
                ),
            ));
        }
        if ymax > 0.0 && ymax < MIN_FIT_MAGNITUDE {
            return Err(Error::data(
                format!("target column \"{}\"", self.target_name),
                format!(
                    "all values are below {MIN_FIT_MAGNITUDE:e} in magnitude (largest {ymax:e}); their squares underflow f64: multiply the column by a power of ten (e.g. 1e{}) and divide the predictions back",
                    -ymax.log10().floor()
                ),
            ));
        }
        for (k, col) in self.x.axis_iter(Axis(1)).enumerate() {
            let (lo, hi) = col
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                    (l.min(v), h.max(v))
                });
            if !(hi - lo).is_finite() || lo.abs().max(hi.abs()) > MAX_FIT_MAGNITUDE {
                return Err(Error::data(
                    format!("input column \"{}\"", self.input_names[k]),
                    format!(
                        "values span [{lo:e}, {hi:e}], too wide for f64 arithmetic on the inputs (features are polynomials of the scaled input): rescale the column, e.g. to [-1, 1]"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Number of samples `N`.
    pub fn n_samples(&self) -> usize {
        self.x.nrows()
    }

    /// Number of inputs `d`.
    pub fn n_inputs(&self) -> usize {
        self.x.ncols()
    }

    /// The rows `indices` (in that order) as a new data set.
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset> {
        let n = self.n_samples();
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(Error::param(
                "rows",
                format!("row index {bad} out of range for {n} rows"),
            ));
        }
        Dataset::new(
            self.x.select(Axis(0), indices),
            self.y.select(Axis(0), indices),
            self.weights.as_ref().map(|w| w.select(Axis(0), indices)),
            self.input_names.clone(),
            self.target_name.clone(),
        )
    }

    /// Per-input domain inferred from these inputs, see [`infer_domain`].
    pub fn infer_domain(&self, margin: f64) -> Result<InferredDomain> {
        infer_domain(self.x.view(), margin)
    }
}

/// Result of [`infer_domain`]: one interval per input and the constant columns.
#[derive(Debug, Clone, PartialEq)]
pub struct InferredDomain {
    /// `(lo, hi)` per input, `lo < hi`.
    pub bounds: Vec<(f64, f64)>,
    /// Indices of the inputs that are constant in the data (given a unit-width interval
    /// centred on the value); callers should warn: such an input carries no information.
    pub constant: Vec<usize>,
}

impl InferredDomain {
    /// The bounds as [`InputMap::Interval`]s.
    pub fn maps(&self) -> Vec<InputMap> {
        self.bounds
            .iter()
            .map(|&(lo, hi)| InputMap::Interval { lo, hi })
            .collect()
    }
}

/// Per-variable interval `[min - m w, max + m w]` of the columns of `x` (`N x d`), with
/// `w = max - min` and `m = margin` (e.g. [`DEFAULT_DOMAIN_MARGIN`]). A constant column
/// (`w == 0`, or `w` below `1e-12 · max(1, |value|)`) gets `[v - 0.5, v + 0.5]` and is listed in
/// [`InferredDomain::constant`].
///
/// Errors: no rows, non-finite values, `margin` negative or non-finite.
pub fn infer_domain(x: ArrayView2<f64>, margin: f64) -> Result<InferredDomain> {
    if !(margin.is_finite() && margin >= 0.0) {
        return Err(Error::param(
            "domain margin",
            format!("{margin} must be finite and >= 0"),
        ));
    }
    if x.nrows() == 0 {
        return Err(Error::data("inputs", "no rows to infer the domain from"));
    }
    let mut bounds = Vec::with_capacity(x.ncols());
    let mut constant = Vec::new();
    for (k, col) in x.axis_iter(Axis(1)).enumerate() {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (i, &v) in col.iter().enumerate() {
            if !v.is_finite() {
                return Err(Error::data(
                    format!("input row {i}, column {}", k + 1),
                    format!("value {v} is not finite"),
                ));
            }
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let w = hi - lo;
        if !(w.is_finite() && (lo - margin * w).is_finite() && (hi + margin * w).is_finite()) {
            return Err(Error::data(
                format!("input column {}", k + 1),
                format!("values span [{lo:e}, {hi:e}], whose width overflows f64: rescale the column (e.g. to [-1, 1]) or give --domain"),
            ));
        }
        if w <= 1e-12 * lo.abs().max(hi.abs()).max(1.0) {
            let c = 0.5 * (lo + hi);
            bounds.push((c - 0.5, c + 0.5));
            constant.push(k);
        } else {
            bounds.push((lo - margin * w, hi + margin * w));
        }
    }
    Ok(InferredDomain { bounds, constant })
}

/// Per-variable `(mean, std)` of the columns of `x` for [`InputMap::Standardize`] (population
/// standard deviation; a constant column gets `std = 1`). Returns the maps and the constant
/// column indices.
pub fn infer_standardization(x: ArrayView2<f64>) -> Result<(Vec<InputMap>, Vec<usize>)> {
    let n = x.nrows();
    if n == 0 {
        return Err(Error::data(
            "inputs",
            "no rows to infer the standardization from",
        ));
    }
    let mut maps = Vec::with_capacity(x.ncols());
    let mut constant = Vec::new();
    for (k, col) in x.axis_iter(Axis(1)).enumerate() {
        if let Some(i) = col.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                format!("input row {i}, column {}", k + 1),
                format!("value {} is not finite", col[i]),
            ));
        }
        let mean = col.sum() / n as f64;
        let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        let std = var.sqrt();
        if std <= 1e-12 * mean.abs().max(1.0) {
            maps.push(InputMap::Standardize { mean, std: 1.0 });
            constant.push(k);
        } else {
            maps.push(InputMap::Standardize { mean, std });
        }
    }
    Ok((maps, constant))
}
