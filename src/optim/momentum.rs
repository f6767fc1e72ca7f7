//! Natural gradient with momentum on the fixed-rank TT manifold (MATH.md §7, §12; Nouy &
//! Somacal 2026): one optimizer, two independent choices, Heavy-Ball and Nesterov as presets.
//!
//! At `X_k` the step is `dv_k = beta m_k + alpha d_k`, `X_{k+1} = R_{X_k}(dv_k)`, where
//! - `m_k` are the coordinates at `X_k` of the transported momentum, by [`MomentumForm`]:
//!   - [`MomentumForm::MomentumVariable`]: `P_{T_k} p_{k-1}`, `p_{k-1} = dv_{k-1}` kept as the
//!     rank-`2r` TT of the previous step;
//!   - [`MomentumForm::IterateDifference`]: `P_{T_k}(X_k - X_{k-1})`;
//!
//!   in the population metric by the exact TT projection (`E_{X_k}^T` of the dense tensor),
//!   in the empirical metric by the least-squares fit `argmin_m ||J_k m - t||` of the
//!   carried quantity's sample values `t` (`q_{k-1} = J_{k-1} c_{k-1}`, or
//!   `pred_k - pred_{k-1}`), with the **plain** Gram `J^T W J / N` (`W` the sample weights,
//!   if any: the empirical measure; MATH.md §7: the momentum projection uses the plain Gram,
//!   the gradient the loss-weighted `J^T diag(l'') J / N`). When `l''_i / w_i` is constant
//!   (least squares) both are the same least-squares problem and one factorization serves
//!   both.
//!   In mini-batch mode that system carries the batch's Tikhonov shift
//!   ([`NgdConfig::solver_for`]), which damps the transported momentum as it damps the
//!   natural direction: `m = (G + eps I)^{-1} J^T t / N`;
//! - `d_k` is the natural direction computed with `J` at `X_k` and the loss derivatives at the
//!   point chosen by [`GradientAt`]: `X_k`, or Nesterov's look-ahead
//!   `y_k = R_{X_k}(beta m_k)` (the Gram weights `l''` are then taken at `y_k`, MATH.md §11).
//!
//! **The momentum factor** ([`BetaSchedule`]): fixed (`Constant`, `Increasing`), with Armijo on
//! `alpha` and `beta m` frozen; or `Adaptive` (default): `(alpha, beta)` minimize the
//! Gauss–Newton model of the loss at `X_k` over `span{d, m}` (MATH.md §12),
//!
//! `[[dGd, dGm], [mGd, mGm]] (alpha, beta) = -(g.d, g.m)`, `G = J^T diag(l'') J / N`,
//!
//! computed from the sample values `J d`, `J m` (no extra solve), with `beta` clamped to
//! `[0, beta_cap]` (`MomentumParams::beta`) and `alpha` re-minimized. When `d` is the exact
//! Gauss–Newton step of least squares, `J^T (J d + e) = 0` gives `alpha = 1, beta = 0`:
//! momentum switches itself off where Gauss–Newton is already optimal and turns on where the
//! direction is damped (mini-batch), the population metric, or the look-ahead. The combined
//! step `s = alpha d + beta m` is the model's minimizer on a subspace, so `g.s = -s^T G s < 0`
//! and it is backtracked as a whole, `L(R_X(t s)) <= L + sigma t g.s`, `t = 1, 1/2, ...`. The
//! subspace is dropped (plain natural step) when `J d` and `J m` are numerically collinear.
//!
//! **Restart** (MATH.md §7 rule iii; O'Donoghue–Candès): when the momentum step is rejected
//! (Armijo fails, a trial is not a descent direction `g^T dv >= 0`, or a fixed step raises the
//! loss), the memory is zeroed and a plain natural step is taken at `X_k`, with the system
//! weighted at `X_k` and the derivatives at `X_k` (never the look-ahead direction). If that
//! fails too, `X_k` is returned and the memory stays zero. The memory is also dropped when
//! the step is called at another point than the one it returned.
//!
//! All of the optimizer's memory is the public data [`MomentumState`].

use super::damping::{direction_target, lm_loop, Damping, DampingState, Proposal};
use super::gram::GramSystem;
use super::ngd::{
    damped_system, natural_step, take_step, Metric, NaturalPoint, NgdConfig, StepRule, Taken,
};
use super::objective::{Objective, ObjectiveStep, RowDerivatives, SampleObjective};
use super::state::{OptimizerState, TtData};
use super::{Optimizer, StepContext, StepReport};
use crate::error::{Error, Result};
use crate::samples::SampleSet;
use ndarray::Array1;
use tensor_train::linalg::Par;
use tensor_train::TensorTrain;

/// Which momentum quantity is carried (MATH.md §7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MomentumForm {
    /// `p_{k-1}`, the previous tangent step (kept as a rank-`2r` TT).
    #[default]
    MomentumVariable,
    /// `v_k - v_{k-1}`, the difference of iterates (keeps `X_{k-1}`).
    IterateDifference,
}

/// Where the loss derivatives of the natural direction are taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GradientAt {
    /// At the current point `X_k` (Heavy-Ball).
    #[default]
    Current,
    /// At the look-ahead `y_k = R_{X_k}(beta m_k)`, projected onto `T_{X_k}` (Nesterov).
    Lookahead,
}

/// How `beta` is chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BetaSchedule {
    /// `beta_k = beta`.
    Constant,
    /// `beta_k = min(beta, j / (j + 3))`, `j` = iterations since the last restart
    /// (Nesterov's sequence, restarted with the momentum).
    Increasing,
    /// `(alpha_k, beta_k)` minimize the Gauss–Newton model over `span{d, m}` (module docs),
    /// `beta_k` clamped to `[0, beta]`.
    #[default]
    Adaptive,
}

impl BetaSchedule {
    /// Fixed-schedule `beta_k` for `since` iterations since the last restart (the cap `beta`
    /// for `Adaptive`).
    pub fn beta(&self, beta: f64, since: usize) -> f64 {
        match self {
            BetaSchedule::Constant | BetaSchedule::Adaptive => beta,
            BetaSchedule::Increasing => beta.min(since as f64 / (since as f64 + 3.0)),
        }
    }
}

/// Momentum parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MomentumParams {
    /// Momentum factor `beta` in `[0, 1)` of the fixed schedules (0 reproduces NGD exactly);
    /// under `Adaptive` the cap of the chosen `beta` and of the look-ahead factor.
    pub beta: f64,
    /// Restart (zero the memory, plain natural step) when the momentum step is rejected.
    pub restart: bool,
    /// How `beta` is chosen.
    #[serde(default)]
    pub schedule: BetaSchedule,
}

impl Default for MomentumParams {
    fn default() -> Self {
        MomentumParams {
            beta: 0.5,
            restart: true,
            schedule: BetaSchedule::Adaptive,
        }
    }
}

impl MomentumParams {
    /// Check `0 <= beta < 1`.
    pub fn validate(&self) -> Result<()> {
        if !(self.beta.is_finite() && (0.0..1.0).contains(&self.beta)) {
            return Err(Error::param(
                "beta",
                format!("momentum factor must lie in [0, 1), got {}", self.beta),
            ));
        }
        Ok(())
    }
}

/// Configuration of natural gradient with momentum.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MomentumConfig {
    /// The natural-gradient part (metric, solver, step rule, mini-batch).
    pub natural: NgdConfig,
    /// Momentum parameters.
    pub momentum: MomentumParams,
    /// Momentum-variable or iterate-difference form.
    #[serde(default)]
    pub form: MomentumForm,
    /// Gradient at `X_k` or at the look-ahead.
    #[serde(default)]
    pub gradient_at: GradientAt,
}

impl Default for MomentumConfig {
    fn default() -> Self {
        Self::heavy_ball()
    }
}

impl MomentumConfig {
    /// Natural Heavy-Ball: momentum variable, gradient at `X_k`, adaptive `beta`.
    pub fn heavy_ball() -> Self {
        MomentumConfig {
            natural: NgdConfig::default(),
            momentum: MomentumParams::default(),
            form: MomentumForm::MomentumVariable,
            gradient_at: GradientAt::Current,
        }
    }

    /// Natural Nesterov: iterate difference, gradient at the look-ahead, adaptive `beta`.
    pub fn nesterov() -> Self {
        MomentumConfig {
            form: MomentumForm::IterateDifference,
            gradient_at: GradientAt::Lookahead,
            ..Self::heavy_ball()
        }
    }

    /// Check ranges.
    pub fn validate(&self) -> Result<()> {
        self.natural.validate()?;
        self.momentum.validate()
    }
}

/// The memory of one momentum step, valid at [`MomentumMemory::point`].
#[derive(Debug, Clone, PartialEq)]
pub struct MomentumMemory {
    /// `X_k`, the point the last step returned.
    pub point: TensorTrain,
    /// The carried quantity: the rank-`2r` TT of `p_{k-1}` (momentum variable) or `X_{k-1}`
    /// (iterate difference).
    pub carried: TensorTrain,
    /// Its sample values on the full training set (`q_{k-1}` or `pred_{k-1}`), full-batch
    /// mode only; mini-batches evaluate `carried` at the new samples.
    pub values: Option<Array1<f64>>,
}

/// Everything natural momentum keeps between iterations (MATH.md §7 "State kept").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MomentumState {
    /// The momentum memory; `None` after a restart that failed, a reset, or at the start.
    pub memory: Option<MomentumMemory>,
    /// Iterations since the last restart (the `Increasing` schedule).
    pub since_restart: usize,
    /// The last adaptive `beta` (the next look-ahead factor, capped by the configured one).
    pub last_beta: Option<f64>,
    /// The Levenberg–Marquardt damping (`None` when undamped or not started).
    pub damping: Option<DampingState>,
}

/// Serializable form of [`MomentumState`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MomentumStateData {
    /// `X_k`.
    pub point: Option<TtData>,
    /// `p_{k-1}` as a rank-`2r` TT, or `X_{k-1}`.
    pub carried: Option<TtData>,
    /// Sample values of the carried quantity (full batch).
    pub values: Option<Vec<f64>>,
    /// Iterations since the last restart.
    pub since_restart: usize,
    /// The last adaptive `beta`.
    pub last_beta: Option<f64>,
    /// The Levenberg–Marquardt damping.
    #[serde(default)]
    pub damping: Option<DampingState>,
}

impl MomentumState {
    /// The serializable form.
    pub fn to_data(&self) -> MomentumStateData {
        let m = self.memory.as_ref();
        MomentumStateData {
            point: m.map(|m| TtData::from_tt(&m.point)),
            carried: m.map(|m| TtData::from_tt(&m.carried)),
            values: m.and_then(|m| m.values.as_ref().map(|v| v.to_vec())),
            since_restart: self.since_restart,
            last_beta: self.last_beta,
            damping: self.damping,
        }
    }

    /// Back from the serializable form.
    pub fn from_data(d: &MomentumStateData) -> Result<Self> {
        let memory = match (&d.point, &d.carried) {
            (Some(p), Some(c)) => Some(MomentumMemory {
                point: p.to_tt()?,
                carried: c.to_tt()?,
                values: d.values.as_ref().map(|v| Array1::from(v.clone())),
            }),
            (None, None) => None,
            _ => {
                return Err(Error::param(
                    "momentum state",
                    "the point and the carried TT must be given together",
                ))
            }
        };
        Ok(MomentumState {
            memory,
            since_restart: d.since_restart,
            last_beta: d.last_beta,
            damping: d.damping,
        })
    }
}

/// Natural gradient with momentum (see the module docs).
pub struct Momentum {
    cfg: MomentumConfig,
    state: MomentumState,
    /// Predictions on the full training set at the point the last step returned.
    carried_pred: Option<Array1<f64>>,
}

impl Momentum {
    /// Validate and build.
    pub fn new(cfg: MomentumConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Momentum {
            cfg,
            state: MomentumState::default(),
            carried_pred: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MomentumConfig {
        &self.cfg
    }

    /// The state (all the memory between iterations).
    pub fn state(&self) -> &MomentumState {
        &self.state
    }

    /// Replace the state (resume, tests that inject `X_{k-1}`).
    pub fn set_state(&mut self, state: MomentumState) {
        self.state = state;
    }

    /// Coordinates, in the basis of `TangentSpace::new(x)`, of the momentum the next undamped
    /// step from `x` on all of `data` would transport (before scaling by `beta`); `None`
    /// without memory at `x`. For tests against dense references.
    pub fn transported_momentum(
        &self,
        x: &TensorTrain,
        data: &SampleSet,
        loss: &dyn crate::loss::Loss,
        par: tensor_train::linalg::Par,
    ) -> Result<Option<Array1<f64>>> {
        let mem = match &self.state.memory {
            Some(m) if same_point(&m.point, x) => m,
            _ => return Ok(None),
        };
        let obj = SampleObjective::new(data, loss);
        let p = obj.prepare(x, par)?;
        let lin = obj.linearize(&p)?;
        // the undamped projection (a damped step solves the same fit with the shift)
        let natural = NgdConfig {
            damping: super::damping::DampingRule::Off,
            ..self.cfg.natural.clone()
        };
        let np = NaturalPoint::new(&p, &obj, lin.as_ref(), &natural, true, par)?;
        let sys = plain_system(&np, &natural, true, par)?;
        Ok(Some(self.transported(mem, &np, sys.as_ref(), true, par)?))
    }

    /// Coordinates at `X_k` of the transported momentum `m_k` (before scaling by `beta`) for
    /// the memory `mem` (see the module docs); `sys` is the unweighted empirical system.
    pub(crate) fn transported(
        &self,
        mem: &MomentumMemory,
        np: &NaturalPoint<'_>,
        sys: Option<&GramSystem<'_>>,
        full: bool,
        par: Par,
    ) -> Result<Array1<f64>> {
        let p = np.p;
        let mut m = match (self.cfg.natural.metric, self.cfg.form) {
            (Metric::Population, MomentumForm::MomentumVariable) => {
                Ok(p.ts.to_coords(&p.ts.project_tt(&mem.carried)?)?)
            }
            (Metric::Population, MomentumForm::IterateDifference) => {
                let mut diff = p.ts.point_as_tangent();
                diff.axpy(-1.0, &p.ts.project_tt(&mem.carried)?);
                Ok(p.ts.to_coords(&diff)?)
            }
            (Metric::Empirical, _) => {
                let target = self.momentum_target(mem, np, full, par)?;
                match (sys, &np.sys) {
                    (Some(s), _) => s.solve_target(target.view()),
                    (None, Some(s)) => s.solve_target(target.view()),
                    (None, None) => Err(Error::param(
                        "momentum",
                        "empirical projection without a Gram system",
                    )),
                }
            }
        }?;
        // a constrained loss (the density's sphere): momentum stays in the constrained
        // tangent space, the normal part removed in L^2(mu)
        p.constrain(&mut m, None)?;
        Ok(m)
    }

    /// The row values the empirical projection fits: `q_{k-1}` or `pred_k - pred_{k-1}`
    /// (residual rows `R_k - R_{k-1}` for a PDE objective).
    fn momentum_target(
        &self,
        mem: &MomentumMemory,
        np: &NaturalPoint<'_>,
        full: bool,
        par: Par,
    ) -> Result<Array1<f64>> {
        let carried = match (&mem.values, full, self.cfg.form) {
            (Some(v), true, _) => v.clone(),
            (_, _, MomentumForm::MomentumVariable) => np.obj.tangent_rows(&mem.carried, par)?,
            (_, _, MomentumForm::IterateDifference) => np.obj.rows(&mem.carried, par)?,
        };
        Ok(match self.cfg.form {
            MomentumForm::MomentumVariable => carried,
            MomentumForm::IterateDifference => &np.p.pred - &carried,
        })
    }

    /// The damped momentum step (empirical metric, [`super::damping`]): each trial solves
    /// `G + lambda s I` for the natural direction and (first trial, or every trial without
    /// restarts) the transported momentum, combines them (adaptive: the minimizer of the
    /// *damped* model over `span{d, m}`; fixed: `beta m + alpha d`), and is accepted by the
    /// gain ratio. A rejected momentum trial restarts with the plain damped step.
    /// Returns what was taken, the step, its sample values, the `beta` used and whether the
    /// momentum was dropped by a rejection.
    #[allow(clippy::too_many_arguments)]
    fn damped_outcome(
        &mut self,
        dmp: &Damping,
        memory: Option<&MomentumMemory>,
        np: &NaturalPoint<'_>,
        full: bool,
        par: Par,
    ) -> Result<DampedOutcome> {
        let cfg = self.cfg.clone();
        let p = np.p;
        let obj = np.obj;
        let solver = cfg.natural.solver_for(full);
        let dg = damped_system(np.lin, p.d2.view(), solver, par)?;
        let target = match memory {
            Some(mem) => Some(self.momentum_target(mem, np, full, par)?),
            None => None,
        };
        // the plain Gram of the projection, when it is not the loss-weighted one
        let w = obj.measure_weights();
        let plain = match &target {
            Some(_) if !proportional(&p.d2, w) => Some(super::damping::DampedGram::from_model(
                np.lin, w, solver, par,
            )?),
            _ => None,
        };
        let adaptive = cfg.momentum.schedule == BetaSchedule::Adaptive;
        let beta_fixed = cfg
            .momentum
            .schedule
            .beta(cfg.momentum.beta, self.state.since_restart);
        let look = if adaptive {
            self.state
                .last_beta
                .unwrap_or(cfg.momentum.beta)
                .clamp(0.0, cfg.momentum.beta)
        } else {
            beta_fixed
        };
        let t_dir = direction_target(p.d1.view(), p.d2.view());
        let n = p.d1.len() as f64;
        let mut st = self
            .state
            .damping
            .unwrap_or_else(|| DampingState::initial(dmp));
        let mut tried_momentum = false;
        let halvings = if dg.is_matrix_free() {
            super::damping::MATRIX_FREE_HALVINGS
        } else {
            0
        };
        let lm = lm_loop(dmp, &mut st, p, obj, par, halvings, |lambda, trial| {
            let Some(f) = dg.factor(lambda)? else {
                return Ok(None);
            };
            if let Some(t) = target
                .as_ref()
                .filter(|_| trial == 0 || !cfg.momentum.restart)
            {
                tried_momentum = true;
                let m = match &plain {
                    Some(pg) => match pg.factor(lambda)? {
                        Some(pf) => pf.solve_target(t.view())?,
                        None => return Ok(None),
                    },
                    None => f.solve_target(t.view())?,
                };
                let jm = np.values(&m, par)?;
                let d = match cfg.gradient_at {
                    GradientAt::Lookahead if look != 0.0 => {
                        let y = p.ts.retract(look, &p.ts.from_coords(m.view())?)?;
                        let pred_y = obj.rows(&y, par)?;
                        let RowDerivatives { d1, d2, .. } = obj.derivatives(pred_y.view());
                        let ty = direction_target(d1.view(), d2.view());
                        if d2 != p.d2 {
                            let dgy = damped_system(np.lin, d2.view(), solver, par)?;
                            let fy = match dgy.factor(lambda)? {
                                Some(fy) => fy,
                                None => return Ok(None),
                            };
                            fy.solve_target(ty.view())?
                        } else {
                            f.solve_target(ty.view())?
                        }
                    }
                    _ => f.solve_target(t_dir.view())?,
                };
                let jd = np.values(&d, par)?;
                let ab = if adaptive {
                    let sh = n * dg.shift(lambda);
                    let ridge = [sh * d.dot(&d), sh * d.dot(&m), sh * m.dot(&m)];
                    subspace_step_ridge(&p.d1, &p.d2, &jd, &jm, ridge, cfg.momentum.beta)
                } else {
                    let alpha = match cfg.natural.step {
                        StepRule::Fixed { alpha } | StepRule::Armijo { alpha0: alpha, .. } => alpha,
                    };
                    Some((alpha, beta_fixed))
                };
                if let Some((a, b)) = ab {
                    return Ok(Some(Proposal {
                        c: &d * a + &m * b,
                        jc: &jd * a + &jm * b,
                        alpha: a,
                        beta: b,
                    }));
                }
            }
            let c = f.solve_target(t_dir.view())?;
            let jc = np.values(&c, par)?;
            Ok(Some(Proposal {
                c,
                jc,
                alpha: 1.0,
                beta: 0.0,
            }))
        })?;
        self.state.damping = Some(st);
        let restarted = tried_momentum && cfg.momentum.restart && lm.first_rejected;
        let (step, jstep, alpha, beta) = match lm.proposal {
            Some(pr) => (pr.c, pr.jc, pr.alpha, pr.beta),
            None => (
                Array1::zeros(p.ts.dim()),
                Array1::zeros(p.d1.len()),
                0.0,
                0.0,
            ),
        };
        let taken = Taken {
            x: lm.x,
            alpha,
            loss: lm.loss,
            trials: lm.trials,
            pred: lm.pred,
            not_descent: false,
        };
        Ok((taken, step, jstep, beta, restarted))
    }
}

/// What a damped momentum step took: the outcome, the step coordinates, their sample values,
/// the `beta` used and whether the momentum was dropped by a rejection.
type DampedOutcome = (Taken, Array1<f64>, Array1<f64>, f64, bool);

/// The plain Gram system of the empirical momentum projection (sample weights only, no
/// `l''`), or `None` when the loss system serves (`l''_i / w_i` constant) or the metric is the
/// population one.
fn plain_system<'p>(
    np: &NaturalPoint<'p>,
    cfg: &NgdConfig,
    full: bool,
    par: Par,
) -> Result<Option<GramSystem<'p>>> {
    let w = np.obj.measure_weights();
    if cfg.metric == Metric::Population || proportional(&np.p.d2, w) {
        return Ok(None);
    }
    Ok(Some(GramSystem::from_model(
        np.lin,
        w,
        cfg.solver_for(full),
        par,
    )?))
}

/// The minimizer `(alpha, beta)` of the Gauss–Newton model
/// `sum_i [l'_i (a jd_i + b jm_i) + l''_i (a jd_i + b jm_i)^2 / 2]` over the plane (MATH.md
/// §12); `None` when `J d` and `J m` are numerically collinear in the `l''`-weighted product
/// (`det <= 1e-10 * G_dd G_mm`) or a diagonal entry vanishes. A `beta` outside
/// `[0, beta_max]` is clamped and `alpha` re-minimized for it: on a mini-batch the model is the
/// batch's, and an unbounded `beta` fits the batch's noise.
pub fn subspace_step(
    d1: &Array1<f64>,
    d2: &Array1<f64>,
    jd: &Array1<f64>,
    jm: &Array1<f64>,
    beta_max: f64,
) -> Option<(f64, f64)> {
    subspace_step_ridge(d1, d2, jd, jm, [0.0; 3], beta_max)
}

/// [`subspace_step`] for the damped model: `ridge = N lambda s (d.d, d.m, m.m)` is added to the
/// plane's Gram entries (the minimizer of the Levenberg–Marquardt model over `span{d, m}`;
/// `alpha = 1, beta = 0` when `d` is the exact damped step).
pub(crate) fn subspace_step_ridge(
    d1: &Array1<f64>,
    d2: &Array1<f64>,
    jd: &Array1<f64>,
    jm: &Array1<f64>,
    ridge: [f64; 3],
    beta_max: f64,
) -> Option<(f64, f64)> {
    let (mut a, mut b, mut c, mut u, mut v) = (ridge[0], ridge[1], ridge[2], 0.0, 0.0);
    for i in 0..d1.len() {
        let h = d2[i].max(0.0);
        a += h * jd[i] * jd[i];
        b += h * jd[i] * jm[i];
        c += h * jm[i] * jm[i];
        u += d1[i] * jd[i];
        v += d1[i] * jm[i];
    }
    subspace_solve([a, b, c, u, v], beta_max)
}

/// [`subspace_step`] from the model's moments `[dHd, dHm, mHm, l'.Jd, l'.Jm]` (any Hessian,
/// e.g. the block Hessians of a vector-output loss).
pub fn subspace_solve(moments: [f64; 5], beta_max: f64) -> Option<(f64, f64)> {
    let [a, b, c, u, v] = moments;
    let det = a * c - b * b;
    if !(a > 0.0 && c > 0.0 && det > 1e-10 * a * c) {
        return None;
    }
    let mut alpha = (-u * c + v * b) / det;
    let mut beta = (-v * a + u * b) / det;
    if !(0.0..=beta_max).contains(&beta) {
        beta = beta.clamp(0.0, beta_max);
        alpha = -(u + beta * b) / a;
    }
    (alpha.is_finite() && beta.is_finite()).then_some((alpha, beta))
}

/// `sum_i a_i b_i` summed in index order (the order `subspace_step` always used).
fn seq_dot(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    a.iter().zip(b.iter()).fold(0.0, |acc, (x, y)| acc + x * y)
}

/// Whether `h_i = c w_i` for one constant `c` (`w_i = 1` when absent): then the loss-weighted
/// and the plain Gram systems have the same minimizers (the relative shift scales with them).
fn proportional(h: &Array1<f64>, w: Option<ndarray::ArrayView1<'_, f64>>) -> bool {
    match w {
        None => h.iter().all(|&v| v == h[0]),
        Some(w) => {
            let mut ratio = None;
            h.iter().zip(w.iter()).all(|(&hi, &wi)| {
                if wi == 0.0 {
                    return hi == 0.0;
                }
                let r = hi / wi;
                *ratio.get_or_insert(r) == r
            })
        }
    }
}

/// Whether two TTs have the same cores (the gauge flag is not compared).
fn same_point(a: &TensorTrain, b: &TensorTrain) -> bool {
    a.cores() == b.cores()
}

impl Optimizer for Momentum {
    fn name(&self) -> String {
        let base = match (self.cfg.form, self.cfg.gradient_at) {
            (MomentumForm::MomentumVariable, GradientAt::Current) => "ngd-hb",
            (MomentumForm::IterateDifference, GradientAt::Current) => "ngd-hb-diff",
            (MomentumForm::IterateDifference, GradientAt::Lookahead) => "ngd-nesterov",
            (MomentumForm::MomentumVariable, GradientAt::Lookahead) => "ngd-nesterov-var",
        };
        let beta = match self.cfg.momentum.schedule {
            BetaSchedule::Adaptive => String::new(),
            BetaSchedule::Constant => format!("-beta{}", self.cfg.momentum.beta),
            BetaSchedule::Increasing => format!("-beta{}-inc", self.cfg.momentum.beta),
        };
        format!("{base}{beta}{}", self.cfg.natural.suffix())
    }

    fn reset(&mut self) {
        self.state = MomentumState::default();
        self.carried_pred = None;
    }

    fn take_train_predictions(&mut self) -> Option<Array1<f64>> {
        self.carried_pred.take()
    }

    fn state(&self) -> OptimizerState {
        OptimizerState::Momentum(self.state.to_data())
    }

    fn set_state(&mut self, s: &OptimizerState) -> Result<()> {
        match s {
            OptimizerState::Momentum(d) => {
                self.state = MomentumState::from_data(d)?;
                self.carried_pred = None;
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
        let batch_size = self.cfg.natural.batch_size;
        self.step_samples(x, data, batch_size, ctx)
    }
}

impl ObjectiveStep for Momentum {
    fn step_objective(
        &mut self,
        x: &TensorTrain,
        obj: &dyn Objective,
        full: bool,
        par: Par,
    ) -> Result<(TensorTrain, StepReport)> {
        self.carried_pred = None;
        let cfg = self.cfg.clone();
        let p = obj.prepare(x, par)?;
        let lin = obj.linearize(&p)?;
        let np = NaturalPoint::new(&p, obj, lin.as_ref(), &cfg.natural, full, par)?;
        let mut note: Option<String> = None;
        let memory = match self.state.memory.take() {
            Some(m) if same_point(&m.point, x) => Some(m),
            Some(_) => {
                note = Some("momentum dropped: called at another point than it returned".into());
                None
            }
            None => None,
        };
        let rule = cfg.natural.step;
        let adaptive = cfg.momentum.schedule == BetaSchedule::Adaptive;
        let damped = match cfg.natural.damping_at(np.p) {
            Some(dmp) => Some(self.damped_outcome(dmp, memory.as_ref(), &np, full, par)?),
            None => None,
        };
        let plain_sys = match (&memory, &damped) {
            (Some(_), None) => plain_system(&np, &cfg.natural, full, par)?,
            _ => None,
        };
        // (taken, step coordinates, sample values of the step, beta used, restarted)
        let mut outcome: Option<(Taken, Array1<f64>, Array1<f64>, f64)> = None;
        let mut restarted = false;
        let mut spent = 0;
        let mut reuse: Option<(Array1<f64>, Array1<f64>)> = None;
        if let (Some(mem), None) = (&memory, &damped) {
            let m = self.transported(mem, &np, plain_sys.as_ref(), full, par)?;
            let jm = np.values(&m, par)?;
            let slope_m = np.slope(&jm);
            let beta_fixed = cfg
                .momentum
                .schedule
                .beta(cfg.momentum.beta, self.state.since_restart);
            let look = if adaptive {
                self.state
                    .last_beta
                    .unwrap_or(cfg.momentum.beta)
                    .clamp(0.0, cfg.momentum.beta)
            } else {
                beta_fixed
            };
            let d = match cfg.gradient_at {
                GradientAt::Lookahead if look != 0.0 => {
                    let y = p.retract(look, &p.ts.from_coords(m.view())?)?;
                    let pred_y = obj.rows(&y, par)?;
                    np.lookahead_direction(&pred_y, &cfg.natural, full, par)?
                }
                _ => np.direction(p.d1.view(), p.d2.view(), None, par)?,
            };
            let jd = np.values(&d, par)?;
            let slope_d = np.slope(&jd);
            if cfg.gradient_at == GradientAt::Current || look == 0.0 {
                reuse = Some((d.clone(), jd.clone()));
            }
            if adaptive {
                // curvature outside the samples (the density loss's normalization term),
                // in the moments' row scale
                let kn = p.curvature * p.d1.len() as f64;
                let moments = [
                    np.hessian_product(&jd, &jd) + kn * d.dot(&d),
                    np.hessian_product(&jd, &jm) + kn * d.dot(&m),
                    np.hessian_product(&jm, &jm) + kn * m.dot(&m),
                    seq_dot(&p.d1, &jd),
                    seq_dot(&p.d1, &jm),
                ];
                match subspace_solve(moments, cfg.momentum.beta) {
                    Some((a, b)) => {
                        let s = &d * a + &m * b;
                        let js = &jd * a + &jm * b;
                        let slope = a * slope_d + b * slope_m;
                        let whole = StepRule::Armijo {
                            alpha0: 1.0,
                            armijo: match rule {
                                StepRule::Armijo { armijo, .. } => armijo,
                                StepRule::Fixed { .. } => Default::default(),
                            },
                        };
                        let taken = take_step(&p, None, &s, slope, &whole, obj, par)?;
                        spent = taken.trials;
                        if taken.x.is_some() {
                            let t = taken.alpha;
                            outcome = Some((
                                Taken {
                                    alpha: t * a,
                                    ..taken
                                },
                                s * t,
                                js * t,
                                t * b,
                            ));
                        } else {
                            restarted = true;
                            note = Some(format!(
                                "restart: {} (alpha {a:.3e}, beta {b:.3e})",
                                if taken.not_descent {
                                    "subspace step not a descent direction"
                                } else {
                                    "line search failed with momentum"
                                }
                            ));
                        }
                    }
                    None => {
                        note = Some("momentum dropped: J d and J m collinear".into());
                        if reuse.is_none() {
                            // the look-ahead direction is not the plain one at X_k
                            restarted = true;
                        }
                    }
                }
            } else {
                let fixed = &m * beta_fixed;
                let slope_fixed = beta_fixed * slope_m;
                let taken = take_step(
                    &p,
                    Some((&fixed, slope_fixed)),
                    &d,
                    slope_d,
                    &rule,
                    obj,
                    par,
                )?;
                spent = taken.trials;
                if taken.x.is_some() || !cfg.momentum.restart {
                    let a = taken.alpha;
                    outcome = Some((
                        taken,
                        fixed + &(&d * a),
                        &jm * beta_fixed + &(&jd * a),
                        beta_fixed,
                    ));
                } else {
                    restarted = true;
                    note = Some(format!(
                        "restart: {}",
                        if taken.not_descent {
                            "momentum step was not a descent direction"
                        } else {
                            "line search failed with momentum"
                        }
                    ));
                }
            }
            if restarted && !cfg.momentum.restart {
                restarted = false;
            }
        }
        let (taken, step, jstep, beta) = match (damped, outcome) {
            (Some((taken, step, jstep, beta, r)), _) => {
                restarted = r;
                if r {
                    note = Some("restart: damped momentum trial rejected".into());
                }
                (taken, step, jstep, beta)
            }
            (None, Some(o)) => o,
            (None, None) => {
                // first step, restart or dropped momentum: a plain natural step at X_k
                let (d, jd, mut taken, n2) = natural_step(&np, &rule, par, reuse.take())?;
                taken.trials += spent;
                if note.is_none() {
                    note = n2;
                }
                let a = taken.alpha;
                (taken, d * a, jd * a, 0.0)
            }
        };
        self.state.since_restart = if restarted {
            1
        } else {
            self.state.since_restart + 1
        };
        let report = |alpha: f64, loss: f64, trials: usize, note: Option<String>| StepReport {
            loss: full.then_some(loss),
            step_size: alpha,
            restarted,
            trials,
            note,
        };
        match taken.x {
            Some(y) => {
                let carried = match cfg.form {
                    MomentumForm::MomentumVariable => {
                        p.ts.to_tt(&p.ts.from_coords(step.view())?)?
                    }
                    MomentumForm::IterateDifference => x.clone(),
                };
                let values = full.then(|| match cfg.form {
                    MomentumForm::MomentumVariable => jstep,
                    MomentumForm::IterateDifference => p.pred.clone(),
                });
                if full {
                    self.carried_pred = taken.pred;
                }
                self.state.memory = Some(MomentumMemory {
                    point: y.clone(),
                    carried,
                    values,
                });
                self.state.last_beta = adaptive.then_some(beta);
                Ok((y, report(taken.alpha, taken.loss, taken.trials, note)))
            }
            None => {
                self.state.memory = None;
                self.state.last_beta = None;
                if full {
                    self.carried_pred = Some(p.pred.clone());
                }
                let msg = match cfg.natural.damping_at(&p) {
                    Some(_) => "no damped step decreased the loss",
                    None => "line search found no decrease",
                };
                let note = Some(match note {
                    Some(n) => format!("{n}; {msg}"),
                    None => msg.to_string(),
                });
                Ok((x.clone(), report(0.0, p.loss, taken.trials, note)))
            }
        }
    }
}
