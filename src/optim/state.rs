//! Optimizer state as data: the serializable forms of what optimizers keep between
//! iterations (checkpoints, resume, tests that inject a previous iterate).

use crate::error::{Error, Result};
use ndarray::Array3;
use tensor_train::TensorTrain;

/// A tensor train as plain data: per core its shape `(r_{k-1}, n_k, r_k)` and its entries in
/// row-major order (the storage order of MATH.md §0). JSON round trips are exact
/// (`serde_json`'s `float_roundtrip`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TtData {
    /// Core shapes.
    pub shapes: Vec<[usize; 3]>,
    /// Core entries, row-major.
    pub cores: Vec<Vec<f64>>,
}

impl TtData {
    /// The cores of `tt`.
    pub fn from_tt(tt: &TensorTrain) -> Self {
        TtData {
            shapes: tt
                .cores()
                .iter()
                .map(|c| {
                    let (a, n, b) = c.dim();
                    [a, n, b]
                })
                .collect(),
            cores: tt
                .cores()
                .iter()
                .map(|c| c.iter().cloned().collect())
                .collect(),
        }
    }

    /// The tensor train, with its shapes validated.
    pub fn to_tt(&self) -> Result<TensorTrain> {
        if self.shapes.len() != self.cores.len() {
            return Err(Error::param(
                "tensor train data",
                format!(
                    "{} shapes for {} cores",
                    self.shapes.len(),
                    self.cores.len()
                ),
            ));
        }
        let cores = self
            .shapes
            .iter()
            .zip(&self.cores)
            .enumerate()
            .map(|(k, (&[a, n, b], v))| {
                Array3::from_shape_vec((a, n, b), v.clone())
                    .map_err(|e| Error::param("tensor train data", format!("core {}: {e}", k + 1)))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TensorTrain::from_cores(cores)?)
    }
}
