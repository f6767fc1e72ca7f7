//! The functional TT model `v(x) = A_1(x_1) ... A_d(x_d)`, `A_k(x_k) = sum_j phi_kj(t_k(x_k)) G_k[j]`
//! (MATH.md §1.2): a [`TensorTrain`] of coefficients plus one orthonormal basis and input map
//! per variable.

use crate::basis::{FeatureMap, OutsidePolicy};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::samples::SampleSet;
use ndarray::{Array1, ArrayView2};
use tensor_train::linalg::Par;
use tensor_train::{interfaces, TensorTrain};

/// A fitted (or to-be-fitted) functional tensor train.
///
/// Invariant: `tt.mode_sizes() == features.mode_sizes()`.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionalTT {
    features: FeatureMap,
    tt: TensorTrain,
}

/// Predictions with the count of input rows that lay outside the model's domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// `v(x^i)` for every row.
    pub values: Array1<f64>,
    /// Rows with a coordinate outside the domain (extrapolated or clamped per the policy).
    pub outside: usize,
}

impl FunctionalTT {
    /// Pair coefficients with features; the mode sizes must agree.
    pub fn new(features: FeatureMap, tt: TensorTrain) -> Result<Self> {
        if features.mode_sizes() != tt.mode_sizes() {
            return Err(Error::param(
                "model",
                format!(
                    "the TT has mode sizes {:?} but the bases have {:?} features",
                    tt.mode_sizes(),
                    features.mode_sizes()
                ),
            ));
        }
        Ok(FunctionalTT { features, tt })
    }

    /// The per-variable bases and input maps.
    pub fn features(&self) -> &FeatureMap {
        &self.features
    }

    /// The coefficient tensor train.
    pub fn tt(&self) -> &TensorTrain {
        &self.tt
    }

    /// Replace the coefficients (same mode sizes).
    pub fn with_tt(self, tt: TensorTrain) -> Result<Self> {
        FunctionalTT::new(self.features, tt)
    }

    /// Input variable names.
    pub fn input_names(&self) -> Vec<String> {
        self.features.names()
    }

    /// Evaluate at the rows of `x` (`N x d`, user coordinates), `O(N d n r^2)` at GEMM rate.
    pub fn predict(&self, x: ArrayView2<'_, f64>, policy: OutsidePolicy) -> Result<Prediction> {
        let (feats, outside) = self.features.features_checked(x, policy)?;
        let views: Vec<_> = feats.iter().map(|f| f.view()).collect();
        let values = interfaces::values(&self.tt, &views, Par::Rayon(0))?;
        Ok(Prediction { values, outside })
    }

    /// Relative L2 error `||v - y|| / ||y||` on a data set.
    pub fn relative_error(&self, data: &Dataset, policy: OutsidePolicy) -> Result<f64> {
        let p = self.predict(data.x.view(), policy)?;
        Ok(crate::loss::relative_error(p.values.view(), data.y.view()))
    }
}

/// The feature matrices, targets and weights of a data set under a feature map: what the
/// optimizers consume.
pub fn sample_set(
    features: &FeatureMap,
    data: &Dataset,
    policy: OutsidePolicy,
) -> Result<SampleSet> {
    if data.input_names.len() != features.n_variables() {
        return Err(Error::data(
            "data",
            format!(
                "{} input columns, the model has {} variables",
                data.input_names.len(),
                features.n_variables()
            ),
        ));
    }
    let feats = features.features(data.x.view(), policy)?;
    SampleSet::new(feats, data.y.clone(), data.weights.clone())
}
