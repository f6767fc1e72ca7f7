//! Training samples as the optimizers see them: per-variable feature matrices, targets and
//! optional weights.

use crate::error::{Error, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use std::sync::Arc;

/// `N` samples in feature space: `features[k]` is the `N x n_k` matrix of `phi_k(x_k^i)`,
/// `y` the targets and `weights` optional non-negative sample weights (default 1).
///
/// Invariants (checked by [`SampleSet::new`]): at least one sample and one variable, every
/// feature matrix has `N` rows, all values finite, weights non-negative.
///
/// The feature matrices are shared (reference counted): a clone, or the same inputs with other
/// targets ([`SampleSet::with_targets`]), does not copy them.
#[derive(Debug, Clone)]
pub struct SampleSet {
    features: Arc<[Array2<f64>]>,
    y: Array1<f64>,
    weights: Option<Array1<f64>>,
}

impl SampleSet {
    /// Validate and build.
    pub fn new(
        features: Vec<Array2<f64>>,
        y: Array1<f64>,
        weights: Option<Array1<f64>>,
    ) -> Result<Self> {
        let n = y.len();
        if n == 0 {
            return Err(Error::data(
                "samples",
                "no samples: at least one (x, y) pair is needed",
            ));
        }
        if features.is_empty() {
            return Err(Error::data("samples", "no input variables"));
        }
        for (k, f) in features.iter().enumerate() {
            if f.nrows() != n {
                return Err(Error::data(
                    format!("feature matrix {k}"),
                    format!("has {} rows but there are {n} targets", f.nrows()),
                ));
            }
            if let Some(((i, j), _)) = f.indexed_iter().find(|(_, v)| !v.is_finite()) {
                return Err(Error::data(
                    format!("sample {i}, variable {k}, feature {j}"),
                    "non-finite feature value",
                ));
            }
        }
        finite_targets(&y)?;
        if let Some(w) = &weights {
            if w.len() != n {
                return Err(Error::data(
                    "weights",
                    format!("{} weights for {n} samples", w.len()),
                ));
            }
            if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Error::data(
                    format!("sample {i}"),
                    "weights must be finite and non-negative",
                ));
            }
        }
        Ok(SampleSet {
            features: features.into(),
            y,
            weights,
        })
    }

    /// The same inputs and weights with the targets `y` (e.g. the residual a rank move fits),
    /// sharing the feature matrices instead of copying them. Errors when `y` has the wrong length
    /// or a non-finite value.
    pub fn with_targets(&self, y: Array1<f64>) -> Result<SampleSet> {
        if y.len() != self.len() {
            return Err(Error::data(
                "targets",
                format!("{} targets for {} samples", y.len(), self.len()),
            ));
        }
        finite_targets(&y)?;
        Ok(SampleSet {
            features: Arc::clone(&self.features),
            y,
            weights: self.weights.clone(),
        })
    }

    /// Number of samples `N`.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Always false (a sample set holds at least one sample).
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Number of variables `d`.
    pub fn order(&self) -> usize {
        self.features.len()
    }

    /// Feature counts `n_k`.
    pub fn mode_sizes(&self) -> Vec<usize> {
        self.features.iter().map(|f| f.ncols()).collect()
    }

    /// Views of the feature matrices, as the TT kernels take them.
    pub fn feature_views(&self) -> Vec<ArrayView2<'_, f64>> {
        self.features.iter().map(|f| f.view()).collect()
    }

    /// Targets.
    pub fn targets(&self) -> ArrayView1<'_, f64> {
        self.y.view()
    }

    /// Weights, if any.
    pub fn weights(&self) -> Option<ArrayView1<'_, f64>> {
        self.weights.as_ref().map(|w| w.view())
    }

    /// The samples at `indices` (a mini-batch), in that order.
    pub fn subset(&self, indices: &[usize]) -> SampleSet {
        SampleSet {
            features: self
                .features
                .iter()
                .map(|f| f.select(Axis(0), indices))
                .collect(),
            y: self.y.select(Axis(0), indices),
            weights: self.weights.as_ref().map(|w| w.select(Axis(0), indices)),
        }
    }
}

/// The targets are finite; else an error naming the first sample that is not.
fn finite_targets(y: &Array1<f64>) -> Result<()> {
    match y.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::data(
            format!("sample {i}"),
            "non-finite target value",
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn with_targets_shares_the_inputs_and_checks_the_targets() {
        let f = vec![array![[1.0, 0.5], [1.0, -0.5], [1.0, 0.0]]];
        let s = SampleSet::new(f, array![1.0, 2.0, 3.0], Some(array![1.0, 0.0, 2.0])).unwrap();
        let r = s.with_targets(array![0.1, -0.2, 0.3]).unwrap();
        assert_eq!(r.targets(), array![0.1, -0.2, 0.3]);
        assert_eq!(r.weights(), s.weights());
        // the same buffer, not a copy
        assert_eq!(r.feature_views()[0].as_ptr(), s.feature_views()[0].as_ptr());
        let short = s.with_targets(array![1.0]).unwrap_err().to_string();
        assert!(short.contains("1 targets for 3 samples"), "{short}");
        let nan = s
            .with_targets(array![0.0, f64::NAN, 0.0])
            .unwrap_err()
            .to_string();
        assert!(
            nan.contains("sample 1") && nan.contains("non-finite"),
            "{nan}"
        );
    }
}
