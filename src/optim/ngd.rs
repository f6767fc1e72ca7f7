//! Natural gradient descent on the fixed-rank TT manifold (MATH.md §6, §7.1 `NGD`).
//!
//! At `X` with Jacobian `J` in the orthonormal tangent basis, the natural step is
//! `c = -alpha G^{-1} g` with `g = J^T l' / N` and
//! - `Metric::Empirical`: `G = J^T diag(l'') J / N`; for least squares with `alpha = 1` this is
//!   the Riemannian Gauss–Newton step `c = argmin ||J c + e||`, the best fit of the data in the
//!   affine tangent space, followed by the retraction;
//! - `Metric::Population`: `G = I` (orthonormal features and basis), so the step is the
//!   Riemannian gradient `-alpha g` (the projected functional gradient on the population
//!   loss).
//!
//! `X_{k+1} = R_X(E_X c)` with Armijo backtracking on `alpha` (or a fixed `alpha`). In the
//! empirical metric the default instead damps the step, `c = -(G + lambda s I)^{-1} g`, with
//! `lambda` adapted by the gain ratio ([`super::damping`], [`NgdConfig::damping`]).
//! Mini-batch mode draws a fresh seeded batch of `B` samples per iteration for `J`, `g` and the
//! line search.

use super::damping::{damped_natural_step, DampedGram, Damping, DampingRule, DampingState};
use super::gram::{GramSolver, GramSystem};
use super::linearized::{apply_factors, FactoredRows, LinearizedModel};
use super::linesearch::{armijo_on, Armijo};
use super::objective::{Objective, ObjectiveStep, RowDerivatives};
use super::state::OptimizerState;
use super::{Optimizer, Prepared, StepContext, StepReport};
use crate::error::{Error, Result};
use crate::loss::HessianFactors;
use crate::samples::SampleSet;
use ndarray::{Array1, ArrayView1};
use rand::rngs::StdRng;
use std::borrow::Cow;
use tensor_train::linalg::Par;
use tensor_train::TensorTrain;

/// The metric preconditioning the gradient (and projecting the momentum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Empirical Gram `J^T diag(l'') J / N` (Gauss–Newton).
    #[default]
    Empirical,
    /// `L^2(mu)` Gram = identity in the orthonormal tangent basis (Riemannian gradient).
    Population,
}

/// Step-size rule for `alpha`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum StepRule {
    /// Fixed `alpha` every iteration.
    Fixed {
        /// Step size.
        alpha: f64,
    },
    /// Armijo backtracking from `alpha0`.
    Armijo {
        /// First trial.
        alpha0: f64,
        /// Backtracking parameters.
        armijo: Armijo,
    },
}

impl Default for StepRule {
    fn default() -> Self {
        StepRule::Armijo {
            alpha0: 1.0,
            armijo: Armijo::default(),
        }
    }
}

impl StepRule {
    fn validate(&self) -> Result<()> {
        match self {
            StepRule::Fixed { alpha } | StepRule::Armijo { alpha0: alpha, .. }
                if !(alpha.is_finite() && *alpha > 0.0) =>
            {
                Err(Error::param(
                    "step size alpha",
                    format!("must be finite and > 0, got {alpha}"),
                ))
            }
            StepRule::Armijo { armijo, .. } => armijo.validate(),
            _ => Ok(()),
        }
    }
}

/// Configuration of natural gradient descent (shared by its momentum variants).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NgdConfig {
    /// Metric (default empirical).
    pub metric: Metric,
    /// Solver of the Gram system (empirical metric only).
    pub solver: GramSolver,
    /// Step-size rule (default Armijo from `alpha = 1`, the full Gauss–Newton step).
    pub step: StepRule,
    /// Mini-batch size `B`: a fresh seeded batch per iteration; `None` = full batch.
    pub batch_size: Option<usize>,
    /// Least regularization of the Gram solve in mini-batch mode, relative to the mean
    /// eigenvalue (`E[G] = I`): a batch Gram is a noisy estimate, singular when `B < D`, and
    /// an unregularized Gauss–Newton step fits the batch, not the function (default 1e-2).
    #[serde(default = "default_minibatch_shift")]
    pub minibatch_shift: f64,
    /// Levenberg–Marquardt damping of the empirical step, accepted by the gain ratio
    /// (`super::damping`, MATH.md §12); it replaces the step rule in the empirical metric.
    /// `Off`: the undamped step under `step`. Default: on (`docs/DAMPING.md` for the evidence).
    #[serde(default)]
    pub damping: DampingRule,
}

fn default_minibatch_shift() -> f64 {
    1e-2
}

impl Default for NgdConfig {
    fn default() -> Self {
        NgdConfig {
            metric: Metric::Empirical,
            solver: GramSolver::default(),
            step: StepRule::default(),
            batch_size: None,
            minibatch_shift: default_minibatch_shift(),
            damping: DampingRule::default(),
        }
    }
}

impl NgdConfig {
    /// Check ranges.
    pub fn validate(&self) -> Result<()> {
        self.solver.validate()?;
        self.step.validate()?;
        if self.batch_size == Some(0) {
            return Err(Error::param("batch size", "must be at least 1"));
        }
        if !(self.minibatch_shift.is_finite() && self.minibatch_shift >= 0.0) {
            return Err(Error::param(
                "minibatch shift",
                format!("must be finite and >= 0, got {}", self.minibatch_shift),
            ));
        }
        if let Some(d) = self.damping.lm() {
            d.validate()?;
        }
        Ok(())
    }

    /// The damping in force: configured and in the empirical metric (the population metric
    /// keeps its step rule, MATH.md §12).
    pub fn active_damping(&self) -> Option<&Damping> {
        match self.metric {
            Metric::Empirical => self.damping.lm(),
            Metric::Population => None,
        }
    }

    /// [`NgdConfig::active_damping`] at a prepared point: only for unconstrained losses with
    /// diagonal Hessians and no curvature outside the samples (the damped Gram
    /// `G + lambda s I` and its gain-ratio model are built from `l''` alone; softmax block
    /// Hessians and the density's sphere keep the undamped natural step).
    pub fn damping_at(&self, p: &Prepared) -> Option<&Damping> {
        self.active_damping().filter(|_| p.damping_applies())
    }

    /// The Gram solver of an iteration: as configured on the full data; on a mini-batch with
    /// at least `minibatch_shift` of Tikhonov regularization (QR becomes a shifted Cholesky).
    pub fn solver_for(&self, full_batch: bool) -> GramSolver {
        if full_batch {
            return self.solver;
        }
        self.solver.with_min_shift(self.minibatch_shift)
    }

    /// Short name suffix describing the metric and batching (`""`, `"-pop"`, `"-mb256"`).
    pub fn suffix(&self) -> String {
        let mut s = String::new();
        if self.metric == Metric::Population {
            s.push_str("-pop");
        }
        if let Some(b) = self.batch_size {
            s.push_str(&format!("-mb{b}"));
        }
        s
    }
}

/// The samples of this iteration: all of them, or a fresh seeded mini-batch.
pub(crate) fn iteration_samples<'d>(
    data: &'d SampleSet,
    batch: Option<usize>,
    rng: &mut StdRng,
) -> Cow<'d, SampleSet> {
    match batch {
        Some(b) if b < data.len() => {
            let idx = rand::seq::index::sample(rng, data.len(), b).into_vec();
            Cow::Owned(data.subset(&idx))
        }
        _ => Cow::Borrowed(data),
    }
}

/// What every member of the NGD family computes at an iterate of an [`Objective`]: the
/// prepared point, its linearized model and (empirical metric) the factored Gram system of the
/// loss, weighted by `l''` at `X`.
///
/// No gradient vector is formed here: the empirical direction's right-hand side `J^T l' / N`
/// is the one gradient of the iteration (inside [`GramSystem::solve_target`]), and slopes
/// `g^T c = <l', J c> / N` are read off the sample values `J c` that the step needs anyway.
pub(crate) struct NaturalPoint<'p> {
    pub p: &'p Prepared,
    /// The objective (rows, loss and derivatives at trial points).
    pub obj: &'p dyn Objective,
    /// The Jacobian of the rows at `X` (`J c`, `J^T w`, rows of `J`).
    pub lin: &'p dyn LinearizedModel,
    pub sys: Option<GramSystem<'p>>,
}

impl<'p> NaturalPoint<'p> {
    /// The point and (empirical metric) the Gram system with row weights `l''` at `X`; `lin`
    /// is `obj.linearize(p)`.
    pub fn new(
        p: &'p Prepared,
        obj: &'p dyn Objective,
        lin: &'p dyn LinearizedModel,
        cfg: &NgdConfig,
        full_batch: bool,
        par: Par,
    ) -> Result<Self> {
        let sys = match cfg.metric {
            Metric::Population => None,
            // the damped path solves through `damping::DampedGram`
            Metric::Empirical if cfg.damping_at(p).is_some() => None,
            Metric::Empirical => Some(loss_system(
                p,
                lin,
                p.d2.view(),
                p.factors.as_ref(),
                cfg.solver_for(full_batch),
                par,
            )?),
        };
        Ok(NaturalPoint { p, obj, lin, sys })
    }

    /// Natural direction for first/second loss derivatives `d1`, `d2` at the samples (at `X`,
    /// or at a look-ahead point for Nesterov) with the system `sys` (default: the one at `X`):
    /// empirical `argmin sum h (J c + l'/l'')^2`, population `-J^T l' / N`.
    pub fn direction(
        &self,
        d1: ArrayView1<'_, f64>,
        d2: ArrayView1<'_, f64>,
        sys: Option<&GramSystem<'_>>,
        par: Par,
    ) -> Result<Array1<f64>> {
        let solve = |sys: &GramSystem<'_>| {
            let t = ndarray::Zip::from(&d1)
                .and(&d2)
                .map_collect(|&a, &h| -a / h.max(1e-12));
            let mut c = sys.solve_target(t.view())?;
            if self.p.constraint.is_some() {
                // the minimizer of the Gram model over the constrained tangent space
                self.p
                    .constrain(&mut c, Some(&|r| sys.solve_coords(r.view())))?;
            }
            Ok(c)
        };
        match (sys, &self.sys) {
            (Some(s), _) => solve(s),
            (None, Some(s)) => match &self.p.factors {
                // block Hessians: the Newton targets of the factored rows
                Some(f) => s.solve_target(f.targets.view()),
                None => solve(s),
            },
            (None, None) => {
                let n = d1.len() as f64 * self.p.metric_scale;
                let w = d1.mapv(|v| -v / n);
                let mut c = self.lin.vjp(w.view(), par)?;
                self.p.constrain(&mut c, None)?;
                Ok(c)
            }
        }
    }

    /// The natural direction with `J` at `X` and the loss derivatives at a look-ahead point
    /// with rows `pred_y` (Nesterov, MATH.md §11): the empirical system is re-weighted at `y`
    /// (`l''` or the Hessian factors there) unless the weights are unchanged.
    pub fn lookahead_direction(
        &self,
        pred_y: &Array1<f64>,
        cfg: &NgdConfig,
        full_batch: bool,
        par: Par,
    ) -> Result<Array1<f64>> {
        let p = self.p;
        let RowDerivatives { d1, d2, factors } = self.obj.derivatives(pred_y.view());
        if cfg.metric == Metric::Population || (d2 == p.d2 && factors == p.factors) {
            return self.direction(d1.view(), d2.view(), None, par);
        }
        let sys_y = loss_system(
            p,
            self.lin,
            d2.view(),
            factors.as_ref(),
            cfg.solver_for(full_batch),
            par,
        )?;
        match &factors {
            Some(f) => sys_y.solve_target(f.targets.view()),
            None => self.direction(d1.view(), d2.view(), Some(&sys_y), par),
        }
    }

    /// The quadratic (Gauss–Newton) model's second moments of two directions with sample
    /// values `ja`, `jb`: `sum_i (J a)_i^T H_i (J b)_i` with `H_i = diag(l''_i)` or the
    /// factored blocks `F_i^T F_i`.
    pub fn hessian_product(&self, ja: &Array1<f64>, jb: &Array1<f64>) -> f64 {
        match &self.p.factors {
            Some(f) => {
                let fa = apply_factors(&f.factors, ja.view());
                let fb = apply_factors(&f.factors, jb.view());
                fa.dot(&fb)
            }
            None => ndarray::Zip::from(&self.p.d2)
                .and(ja)
                .and(jb)
                .fold(0.0, |acc, &h, &a, &b| acc + h.max(0.0) * a * b),
        }
    }

    /// Sample values `J c` of tangent coordinates `c`.
    pub fn values(&self, c: &Array1<f64>, par: Par) -> Result<Array1<f64>> {
        self.lin.jvp(c.view(), par)
    }

    /// Directional derivative of the loss at `X` along coordinates with sample values `jc`:
    /// `g^T c = <l', J c> / N`.
    pub fn slope(&self, jc: &Array1<f64>) -> f64 {
        self.p.d1.dot(jc) / self.p.d1.len() as f64
    }
}

/// The empirical Gram system of the rows `lin` at the prepared point with row weights `h`
/// (`None` when they are all 1, the least-squares case).
pub(crate) fn weighted_system<'p>(
    p: &Prepared,
    lin: &'p dyn LinearizedModel,
    h: ArrayView1<'_, f64>,
    solver: GramSolver,
    par: Par,
) -> Result<GramSystem<'p>> {
    GramSystem::from_model_shifted(lin, non_unit(h), solver, p.curvature, par)
}

/// The row weights, `None` when they are all 1 (the least-squares case).
pub(crate) fn non_unit(h: ArrayView1<'_, f64>) -> Option<ArrayView1<'_, f64>> {
    (!h.iter().all(|&v| v == 1.0)).then_some(h)
}

/// The damped Gram system of the rows `lin` with row weights `h`.
pub(crate) fn damped_system<'p>(
    lin: &'p dyn LinearizedModel,
    h: ArrayView1<'_, f64>,
    solver: GramSolver,
    par: Par,
) -> Result<DampedGram<'p>> {
    DampedGram::from_model(lin, non_unit(h), solver, par)
}

/// The loss-weighted empirical system at the prepared point: rows weighted by `h = l''`
/// (`None` when all 1), or, for a vector-output loss with Hessian factors, the factored rows
/// `F_i J_i` ([`FactoredRows`], MATH.md §8).
pub(crate) fn loss_system<'p>(
    p: &Prepared,
    lin: &'p dyn LinearizedModel,
    h: ArrayView1<'_, f64>,
    factors: Option<&HessianFactors>,
    solver: GramSolver,
    par: Par,
) -> Result<GramSystem<'p>> {
    match factors {
        Some(f) => {
            let rows = FactoredRows::new(lin, f.factors.clone())?;
            GramSystem::from_model(rows, None, solver, par)
        }
        None => weighted_system(p, lin, h, solver, par),
    }
}

/// Outcome of taking `fixed + alpha d` from a prepared point under a step rule.
pub(crate) struct Taken {
    pub x: Option<TensorTrain>,
    pub alpha: f64,
    pub loss: f64,
    pub trials: usize,
    /// Predictions of the accepted point on the step's samples.
    pub pred: Option<Array1<f64>>,
    /// The step was rejected because it was not a descent direction.
    pub not_descent: bool,
}

/// Take the step `fixed + alpha dir` (coordinates) under `rule`, with the slopes
/// `slope_fixed = g^T fixed` and `slope_dir = g^T dir`. Every trial must be a descent
/// direction (`g^T (fixed + alpha dir) < 0`); fixed steps are accepted when the loss does not
/// rise (`x = None` otherwise, so the caller can restart).
#[allow(clippy::too_many_arguments)]
pub(crate) fn take_step(
    p: &Prepared,
    fixed: Option<(&Array1<f64>, f64)>,
    dir: &Array1<f64>,
    slope_dir: f64,
    rule: &StepRule,
    obj: &dyn Objective,
    par: Par,
) -> Result<Taken> {
    let slope_fixed = fixed.map(|f| f.1).unwrap_or(0.0);
    match rule {
        StepRule::Fixed { alpha } => {
            let slope = slope_fixed + alpha * slope_dir;
            if slope.is_nan() || slope >= 0.0 {
                return Ok(Taken {
                    x: None,
                    alpha: *alpha,
                    loss: p.loss,
                    trials: 0,
                    pred: None,
                    not_descent: true,
                });
            }
            let mut c = dir * *alpha;
            if let Some((f, _)) = fixed {
                c += f;
            }
            let xi = p.ts.from_coords(c.view())?;
            let y = p.retract(1.0, &xi)?;
            let (value, pred) = obj.evaluate(&y, par)?;
            let ok = value.is_finite() && value <= p.loss;
            Ok(Taken {
                x: ok.then_some(y),
                alpha: *alpha,
                loss: value,
                trials: 1,
                pred: ok.then_some(pred),
                not_descent: false,
            })
        }
        StepRule::Armijo {
            alpha0,
            armijo: rule,
        } => {
            let dir_t = p.ts.from_coords(dir.view())?;
            let fixed_t = match fixed {
                Some((f, _)) => Some(p.ts.from_coords(f.view())?),
                None => None,
            };
            let ls = armijo_on(
                p,
                fixed_t.as_ref(),
                &dir_t,
                *alpha0,
                slope_fixed,
                slope_dir,
                obj,
                par,
                rule,
            )?;
            Ok(Taken {
                x: ls.x,
                alpha: ls.alpha,
                loss: ls.loss,
                trials: ls.trials,
                pred: ls.pred,
                not_descent: ls.not_descent,
            })
        }
    }
}

/// The Armijo rule used when a fixed step fails: the configured one, or Armijo from the fixed
/// `alpha`.
pub(crate) fn armijo_rule(rule: &StepRule) -> StepRule {
    match rule {
        StepRule::Fixed { alpha } => StepRule::Armijo {
            alpha0: *alpha,
            armijo: Armijo::default(),
        },
        r => *r,
    }
}

/// A plain natural step: the direction, its sample values, what was taken, and a note.
pub(crate) type NaturalStep = (Array1<f64>, Array1<f64>, Taken, Option<String>);

/// One plain natural-gradient step at a prepared point (MATH.md §7.1 `NGD`): the direction
/// with the system weighted at `X`, then `rule` (a failed fixed step falls back to Armijo).
/// Also the restart of every momentum method. `pre` is the direction and its sample values
/// when the caller already has them. Returns the direction, its values and what was taken.
pub(crate) fn natural_step(
    np: &NaturalPoint<'_>,
    rule: &StepRule,
    par: Par,
    pre: Option<(Array1<f64>, Array1<f64>)>,
) -> Result<NaturalStep> {
    let p = np.p;
    let (d, jd) = match pre {
        Some(pair) => pair,
        None => {
            let d = np.direction(p.d1.view(), p.d2.view(), None, par)?;
            let jd = np.values(&d, par)?;
            (d, jd)
        }
    };
    let slope = np.slope(&jd);
    let mut taken = take_step(p, None, &d, slope, rule, np.obj, par)?;
    let mut note = None;
    if taken.x.is_none() && matches!(rule, StepRule::Fixed { .. }) {
        // a fixed step that raised the loss: fall back to Armijo for this iteration
        taken = take_step(p, None, &d, slope, &armijo_rule(rule), np.obj, par)?;
        note = Some("fixed step raised the loss; took an Armijo step".to_string());
    }
    Ok((d, jd, taken, note))
}

/// Natural gradient descent (MATH.md §7.1 `NGD`).
#[derive(Debug, Clone)]
pub struct Ngd {
    cfg: NgdConfig,
    /// Predictions on the full training set at the point the last step returned.
    carried: Option<Array1<f64>>,
    /// The Levenberg–Marquardt damping carried between iterations.
    damping: Option<DampingState>,
}

impl Ngd {
    /// Validate and build.
    pub fn new(cfg: NgdConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Ngd {
            cfg,
            carried: None,
            damping: None,
        })
    }
}

impl Optimizer for Ngd {
    fn name(&self) -> String {
        format!("ngd{}", self.cfg.suffix())
    }

    fn reset(&mut self) {
        self.carried = None;
        self.damping = None;
    }

    fn take_train_predictions(&mut self) -> Option<Array1<f64>> {
        self.carried.take()
    }

    fn state(&self) -> OptimizerState {
        match self.damping {
            Some(d) => OptimizerState::Ngd { damping: Some(d) },
            None => OptimizerState::Stateless,
        }
    }

    fn set_state(&mut self, s: &OptimizerState) -> Result<()> {
        self.carried = None;
        match s {
            OptimizerState::Stateless => {
                self.damping = None;
                Ok(())
            }
            OptimizerState::Ngd { damping } => {
                self.damping = *damping;
                Ok(())
            }
            other => Err(other.mismatch(&self.name())),
        }
    }

    fn step(
        &mut self,
        x: &TensorTrain,
        data: &SampleSet,
        ctx: &mut StepContext<'_>,
    ) -> Result<(TensorTrain, StepReport)> {
        let batch_size = self.cfg.batch_size;
        self.step_samples(x, data, batch_size, ctx)
    }
}

impl ObjectiveStep for Ngd {
    fn step_objective(
        &mut self,
        x: &TensorTrain,
        obj: &dyn Objective,
        full: bool,
        par: Par,
    ) -> Result<(TensorTrain, StepReport)> {
        self.carried = None;
        let p = obj.prepare(x, par)?;
        let lin = obj.linearize(&p)?;
        let (taken, note) = match self.cfg.damping_at(&p) {
            Some(dmp) => {
                let dg = damped_system(lin.as_ref(), p.d2.view(), self.cfg.solver_for(full), par)?;
                let st = self
                    .damping
                    .get_or_insert_with(|| DampingState::initial(dmp));
                let lm = damped_natural_step(dmp, st, &dg, &p, obj, par)?;
                let taken = Taken {
                    alpha: match (&lm.x, &lm.proposal) {
                        (Some(_), Some(pr)) => pr.alpha,
                        _ => 0.0,
                    },
                    x: lm.x,
                    loss: lm.loss,
                    trials: lm.trials,
                    pred: lm.pred,
                    not_descent: false,
                };
                (taken, None)
            }
            None => {
                let np = NaturalPoint::new(&p, obj, lin.as_ref(), &self.cfg, full, par)?;
                let (_, _, taken, note) = natural_step(&np, &self.cfg.step, par, None)?;
                (taken, note)
            }
        };
        match taken.x {
            Some(y) => {
                if full {
                    self.carried = taken.pred;
                }
                Ok((
                    y,
                    StepReport {
                        loss: full.then_some(taken.loss),
                        step_size: taken.alpha,
                        restarted: false,
                        trials: taken.trials,
                        note,
                    },
                ))
            }
            None => {
                if full {
                    self.carried = Some(p.pred.clone());
                }
                Ok((
                    x.clone(),
                    StepReport {
                        loss: full.then_some(p.loss),
                        step_size: 0.0,
                        restarted: false,
                        trials: taken.trials,
                        note: Some(
                            match self.cfg.damping_at(&p) {
                                Some(_) => "no damped step decreased the loss",
                                None => "line search found no decrease",
                            }
                            .into(),
                        ),
                    },
                ))
            }
        }
    }
}
