//! Optimizer state as data: the serializable forms of what optimizers keep between
//! iterations (checkpoints, resume, tests that inject a previous iterate).
//!
//! Everything is stored exactly: cores and tangent blocks as row-major `f64` values (JSON
//! round trips are exact with `serde_json`'s `float_roundtrip`), and the gauge a TT is known to
//! be in, so that a restored iterate is not re-orthogonalized (which would change its
//! round-off). Tangent spaces are not stored: they are rebuilt from the cores.

use crate::error::{Error, Result};
use ndarray::Array3;
use tensor_train::gauge::Gauge;
use tensor_train::TensorTrain;

/// A tensor train (or the blocks of a tangent vector) as plain data: per core its shape
/// `(r_{k-1}, n_k, r_k)` and its entries in row-major order (MATH.md §0), plus the gauge the
/// cores are known to be in.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TtData {
    /// Core shapes.
    pub shapes: Vec<[usize; 3]>,
    /// Core entries, row-major.
    pub cores: Vec<Vec<f64>>,
    /// The recorded gauge (`None`: nothing known, or tangent blocks).
    #[serde(default)]
    pub gauge: Option<Gauge>,
}

impl TtData {
    /// The cores and gauge of `tt`.
    pub fn from_tt(tt: &TensorTrain) -> Self {
        let mut d = Self::from_blocks(tt.cores());
        d.gauge = Some(tt.gauge());
        d
    }

    /// Arrays of core shape (tangent blocks).
    pub fn from_blocks(blocks: &[Array3<f64>]) -> Self {
        TtData {
            shapes: blocks
                .iter()
                .map(|c| {
                    let (a, n, b) = c.dim();
                    [a, n, b]
                })
                .collect(),
            cores: blocks.iter().map(|c| c.iter().cloned().collect()).collect(),
            gauge: None,
        }
    }

    /// The arrays, shapes checked against the data.
    pub fn to_blocks(&self) -> Result<Vec<Array3<f64>>> {
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
        self.shapes
            .iter()
            .zip(&self.cores)
            .enumerate()
            .map(|(k, (&[a, n, b], v))| {
                Array3::from_shape_vec((a, n, b), v.clone())
                    .map_err(|e| Error::param("tensor train data", format!("core {}: {e}", k + 1)))
            })
            .collect()
    }

    /// The tensor train, shapes validated and the recorded gauge checked.
    pub fn to_tt(&self) -> Result<TensorTrain> {
        let cores = self.to_blocks()?;
        Ok(TensorTrain::from_cores_with_gauge(
            cores,
            self.gauge.unwrap_or(Gauge::None),
            CHECKPOINT_GAUGE_TOL,
        )?)
    }
}

/// Orthogonality tolerance when restoring checkpointed cores: exact cores of an iterate are
/// orthogonal to round-off, `O(1e-15)`, far below it.
const CHECKPOINT_GAUGE_TOL: f64 = 1e-10;

/// The state of any optimizer, as data (see [`super::Optimizer::state`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum OptimizerState {
    /// Nothing is kept between iterations (ALS, RGD, undamped NGD).
    Stateless,
    /// Natural gradient descent: the Levenberg–Marquardt damping.
    Ngd {
        /// `lambda` and `nu` (`None`: not started).
        damping: Option<super::damping::DampingState>,
    },
    /// Natural momentum.
    Momentum(super::momentum::MomentumStateData),
    /// Riemannian conjugate gradient.
    Rcg(super::rcg::RcgStateData),
    /// Gradient descent on the cores: the last accepted step.
    Gd {
        /// Last accepted Armijo step.
        last_alpha: Option<f64>,
    },
}

impl OptimizerState {
    /// The error for a state of the wrong kind.
    pub fn mismatch(&self, optimizer: &str) -> Error {
        Error::param(
            "optimizer state",
            format!(
                "a {} state cannot be restored into {optimizer}; resume with the optimizer that wrote the checkpoint",
                match self {
                    OptimizerState::Stateless => "stateless",
                    OptimizerState::Ngd { .. } => "ngd",
                    OptimizerState::Momentum(_) => "momentum",
                    OptimizerState::Rcg(_) => "rcg",
                    OptimizerState::Gd { .. } => "gd",
                }
            ),
        )
    }
}

/// The velocity a momentum state carries, as a TT at its point `X_k`: the momentum variable
/// `p_{k-1}` itself ([`MomentumForm::MomentumVariable`]), or `X_k - X_{k-1}`
/// ([`MomentumForm::IterateDifference`]); `None` without memory.
///
/// [`MomentumForm::MomentumVariable`]: super::momentum::MomentumForm::MomentumVariable
/// [`MomentumForm::IterateDifference`]: super::momentum::MomentumForm::IterateDifference
pub fn momentum_velocity(
    state: &super::momentum::MomentumState,
    form: super::momentum::MomentumForm,
) -> Result<Option<TensorTrain>> {
    use super::momentum::MomentumForm;
    let Some(m) = &state.memory else {
        return Ok(None);
    };
    Ok(Some(match form {
        MomentumForm::MomentumVariable => m.carried.clone(),
        MomentumForm::IterateDifference => m.point.axpby(1.0, &m.carried, -1.0)?,
    }))
}

/// The momentum state transported to a new point `x` (after a rank or degree change that
/// keeps the function, so the old velocity `v` is a direction in the same space of
/// functions): the memory becomes the velocity `P_{T_x} v`, the orthogonal (Frobenius, and
/// with orthonormal features `L^2(mu)`) projection onto the tangent space at `x` (MATH.md
/// §3.4, the transport by projection of §5), stored at `x` in the form `form` expects
/// (`P_{T_x} v` itself, or `x - P_{T_x} v`), so that the next step from `x` transports
/// exactly that velocity. Everything else (the restart counter, the last `beta`, the
/// damping) is kept. `v` must have the mode sizes of `x`.
pub fn carry_momentum(
    state: &super::momentum::MomentumState,
    form: super::momentum::MomentumForm,
    v: &TensorTrain,
    x: &TensorTrain,
) -> Result<super::momentum::MomentumState> {
    use super::momentum::{MomentumForm, MomentumMemory, MomentumState};
    let ts = tensor_train::tangent::TangentSpace::new(x)?;
    let xi = ts.project_tt(v)?;
    let pv = ts.to_tt(&xi)?;
    let carried = match form {
        MomentumForm::MomentumVariable => pv,
        MomentumForm::IterateDifference => x.axpby(1.0, &pv, -1.0)?,
    };
    Ok(MomentumState {
        memory: Some(MomentumMemory {
            point: x.clone(),
            carried,
            values: None,
        }),
        ..state.clone()
    })
}
