//! The clock of the search budget: counted work, not measured time.
//!
//! A budget on a measured clock (wall or process CPU seconds) makes the learner's answer
//! depend on the machine, the load and the thread count: the search is cut between stages,
//! so a slower run stops one stage earlier and returns another model. The learner instead
//! counts the dominant floating-point work of what it runs, a deterministic function of the
//! data size and the models visited, and converts it to *work seconds* with one calibration
//! constant, [`SECONDS_PER_UNIT`]. The same data and settings then give the same search, the
//! same stages and the same model on any machine, with any thread count, under any load.
//!
//! **Units** (one unit is about one multiply-add), with `N` rows, `D_k = r_{k-1} n_k r_k`
//! the size of core `k` and `D = sum_k D_k`:
//!
//! - an ALS sweep: `sum over its 2d - 1 local solves of (N D_k^2 + D_k^3)` (normal
//!   equations and their factorization, [`crate::optim::als`]);
//! - a natural-gradient step (NGD and its momentum variants): `N D^2 + D^3` (Gram matrix
//!   and its factorization);
//! - a first-order step (RGD, RCG, GD): `8 N D` (gradient and a few line-search trials);
//! - an evaluation of the model on `N` rows (train loss, validation error): `N D`.
//!
//! Ranks and functions are those of the stage's model (a stage does not change them).
//! Test-set evaluations are not counted: test data never steers the search.

use crate::optim::OptimizerConfig;
use tensor_train::TensorTrain;

/// Work seconds per unit: measured on the development machine (one core, release build) so
/// that the default budget ([`super::MIN_AUTO_SECONDS`], [`super::AUTO_SECONDS_PER_ROW`])
/// buys about the search it bought as CPU seconds. It is a constant, not a measurement: the
/// search is the same on a faster machine, which simply finishes sooner.
pub const SECONDS_PER_UNIT: f64 = 1.0e-10;

/// Core sizes `D_k = r_{k-1} n_k r_k` of `x`.
pub fn core_sizes(x: &TensorTrain) -> Vec<f64> {
    x.cores()
        .iter()
        .map(|c| {
            let (a, n, b) = c.dim();
            (a * n * b) as f64
        })
        .collect()
}

/// Units of one iteration of `opt` at the model `x` on `rows` training rows (see the module
/// docs).
pub fn iteration_units(opt: &OptimizerConfig, x: &TensorTrain, rows: usize) -> f64 {
    let dk = core_sizes(x);
    let n = rows as f64;
    let d: f64 = dk.iter().sum();
    match opt {
        OptimizerConfig::Als(_) => {
            // cores 1..d left to right, then d-1..1: every core twice but the last
            let last = dk.last().copied().unwrap_or(0.0);
            2.0 * dk.iter().map(|&s| n * s * s + s * s * s).sum::<f64>()
                - (n * last * last + last * last * last)
        }
        OptimizerConfig::Ngd(_) | OptimizerConfig::Momentum(_) => n * d * d + d * d * d,
        OptimizerConfig::Rgd(_) | OptimizerConfig::Rcg(_) | OptimizerConfig::Gd(_) => 8.0 * n * d,
    }
}

/// Units of one evaluation of `x` on `rows` rows.
pub fn evaluation_units(x: &TensorTrain, rows: usize) -> f64 {
    rows as f64 * core_sizes(x).iter().sum::<f64>()
}

/// The counted work of a search, in units; [`WorkMeter::seconds`] converts it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WorkMeter {
    units: f64,
}

impl WorkMeter {
    /// Add `units` of work.
    pub fn add(&mut self, units: f64) {
        self.units += units;
    }

    /// The units counted so far.
    pub fn units(&self) -> f64 {
        self.units
    }

    /// Work seconds: units times [`SECONDS_PER_UNIT`].
    pub fn seconds(&self) -> f64 {
        self.units * SECONDS_PER_UNIT
    }
}
