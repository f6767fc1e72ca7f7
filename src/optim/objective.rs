//! The objective the natural-gradient family minimizes (MATH.md §7.1 `prepare(X)`, §8).
//!
//! An objective is a loss `L(X) = ell(rows(X))` of `M` *rows* of the model: values at samples
//! (least squares and the pointwise losses), `C` logits per sample, PDE residuals at collocation
//! and boundary points. At an iterate `X` it provides everything an iteration needs:
//!
//! - [`Objective::prepare`]: the tangent space, the rows `r(X)`, the per-row derivatives
//!   `l'_i = d ell / d r_i` and the Gauss–Newton weights `l''_i` (or Hessian factors `F_i`,
//!   `F_i^T F_i = H_i`), and `L(X)` ([`Prepared`]);
//! - [`Objective::linearize`]: the [`LinearizedModel`] `J = d r / d c` in tangent coordinates,
//!   from which every Gram system, natural direction, momentum projection and slope
//!   `g^T c = <l', J c> / M` is computed;
//! - [`Objective::rows`], [`Objective::loss`], [`Objective::derivatives`]: the rows, loss and
//!   derivatives at a trial point (line search, Nesterov's look-ahead).
//!
//! [`crate::optim::rgd`], [`crate::optim::ngd`] and [`crate::optim::momentum`] read the problem
//! only through this trait ([`ObjectiveStep`]); their [`super::Optimizer::step`] on a
//! [`SampleSet`] is [`SampleObjective`] over the iteration's samples. The PDE residual is
//! [`crate::pde::ResidualProblem`]: new losses and operators plug in here, below the
//! optimizers.

use super::linearized::{LinearizedModel, SampleLinearization};
use super::{prepare, Prepared, StepReport};
use crate::error::Result;
use crate::loss::{HessianFactors, Loss};
use crate::samples::SampleSet;
use ndarray::{Array1, ArrayView1};
use tensor_train::interfaces;
use tensor_train::linalg::Par;
use tensor_train::tangent::TangentVector;
use tensor_train::TensorTrain;

/// Per-row loss derivatives at some rows: `l'`, `l''` and, for a vector-output loss, the
/// Hessian factors (then `l''` is not used by the Gram).
#[derive(Debug, Clone, PartialEq)]
pub struct RowDerivatives {
    /// `l'_i`.
    pub d1: Array1<f64>,
    /// `l''_i`.
    pub d2: Array1<f64>,
    /// Per-sample Hessian factors (`None`: the Hessian is `diag(l'')`).
    pub factors: Option<HessianFactors>,
}

/// A loss of the rows of a functional TT (module docs). Invariants (checked against dense
/// references in `tests/pde.rs`, `tests/ngd.rs`): `prepare(x).pred == rows(x)`,
/// `prepare(x).loss == loss(rows(x))`, and the Jacobian of `rows` along the retraction is
/// `linearize(prepare(x))`.
pub trait Objective: Sync {
    /// Everything computed at `x` and reused by its directions and line search.
    fn prepare(&self, x: &TensorTrain, par: Par) -> Result<Prepared>;
    /// The Jacobian of the rows at a prepared point, in its tangent coordinates.
    fn linearize<'p>(&'p self, p: &'p Prepared) -> Result<Box<dyn LinearizedModel + 'p>>;
    /// The rows of any TT.
    fn rows(&self, x: &TensorTrain, par: Par) -> Result<Array1<f64>>;
    /// The loss of rows.
    fn loss(&self, rows: ArrayView1<'_, f64>) -> f64;
    /// The per-row derivatives at rows.
    fn derivatives(&self, rows: ArrayView1<'_, f64>) -> RowDerivatives;
    /// Weights of the plain Gram of the momentum projections (the empirical measure, MATH.md
    /// §7): the sample weights; `None` when all are 1.
    fn measure_weights(&self) -> Option<ArrayView1<'_, f64>>;
    /// The rows of the first-order change along a tangent vector kept as a TT (the carried
    /// momentum variable `p_{k-1}`, when its row values were not kept with the state).
    fn tangent_rows(&self, t: &TensorTrain, par: Par) -> Result<Array1<f64>>;
    /// The Riemannian gradient `P_X grad L` at a prepared point (coordinates `J^T l' / M`).
    fn gradient(&self, p: &Prepared, par: Par) -> Result<TangentVector>;
    /// The row values `J c` of a tangent vector at a prepared point.
    fn tangent_values(&self, p: &Prepared, xi: &TangentVector, par: Par) -> Result<Array1<f64>>;
    /// Loss and rows of any TT.
    fn evaluate(&self, x: &TensorTrain, par: Par) -> Result<(f64, Array1<f64>)> {
        let rows = self.rows(x, par)?;
        Ok((self.loss(rows.view()), rows))
    }
}

/// A pointwise [`Loss`] on the samples of a [`SampleSet`]: rows are the model values at the
/// samples, `J_i = E_X^T Phi(x^i)` ([`SampleLinearization`]).
pub struct SampleObjective<'a> {
    data: &'a SampleSet,
    loss: &'a dyn Loss,
}

impl<'a> SampleObjective<'a> {
    /// The loss `loss` on the samples `data`.
    pub fn new(data: &'a SampleSet, loss: &'a dyn Loss) -> Self {
        SampleObjective { data, loss }
    }
}

impl Objective for SampleObjective<'_> {
    fn prepare(&self, x: &TensorTrain, par: Par) -> Result<Prepared> {
        prepare(x, self.data, self.loss, par)
    }
    fn linearize<'p>(&'p self, p: &'p Prepared) -> Result<Box<dyn LinearizedModel + 'p>> {
        Ok(Box::new(SampleLinearization::new(
            &p.ts,
            &p.si,
            &self.data.feature_views(),
        )))
    }
    fn rows(&self, x: &TensorTrain, par: Par) -> Result<Array1<f64>> {
        Ok(interfaces::values(x, &self.data.feature_views(), par)?)
    }
    fn loss(&self, rows: ArrayView1<'_, f64>) -> f64 {
        self.loss
            .value(rows, self.data.targets(), self.data.weights())
    }
    fn derivatives(&self, rows: ArrayView1<'_, f64>) -> RowDerivatives {
        let (t, w) = (self.data.targets(), self.data.weights());
        RowDerivatives {
            d1: self.loss.first_derivative(rows, t, w),
            d2: self.loss.second_derivative(rows, t, w),
            factors: self.loss.hessian_factors(rows, t, w),
        }
    }
    fn measure_weights(&self) -> Option<ArrayView1<'_, f64>> {
        self.data.weights()
    }
    fn tangent_rows(&self, t: &TensorTrain, par: Par) -> Result<Array1<f64>> {
        self.rows(t, par)
    }
    fn gradient(&self, p: &Prepared, par: Par) -> Result<TangentVector> {
        p.gradient(self.data, par)
    }
    fn tangent_values(&self, p: &Prepared, xi: &TangentVector, par: Par) -> Result<Array1<f64>> {
        p.tangent_values(self.data, xi, par)
    }
}

/// An optimizer of the natural-gradient family driven by any [`Objective`]: one iteration from
/// `x`. `full` says whether the objective covers the whole training problem (then the step
/// reports the loss after it, and the configured solver is used unshifted; `false`: a
/// mini-batch).
pub trait ObjectiveStep: super::Optimizer {
    /// One iteration on `obj` from `x`; returns the next iterate.
    fn step_objective(
        &mut self,
        x: &TensorTrain,
        obj: &dyn Objective,
        full: bool,
        par: Par,
    ) -> Result<(TensorTrain, StepReport)>;

    /// [`super::Optimizer::step`] on training samples: the iteration's samples (all of them,
    /// or a fresh seeded mini-batch of `batch_size` rows) as a [`SampleObjective`] with the
    /// context's loss; `full` when the batch is the whole set.
    fn step_samples(
        &mut self,
        x: &TensorTrain,
        data: &SampleSet,
        batch_size: Option<usize>,
        ctx: &mut super::StepContext<'_>,
    ) -> Result<(TensorTrain, StepReport)> {
        let full = batch_size.is_none_or(|b| b >= data.len());
        let batch = super::ngd::iteration_samples(data, batch_size, ctx.rng);
        let obj = SampleObjective::new(batch.as_ref(), ctx.loss);
        self.step_objective(x, &obj, full, ctx.par)
    }
}
