//! Levenberg–Marquardt damping of the natural-gradient step (MATH.md §12; `docs/DAMPING.md`).
//!
//! In the empirical metric the damped step at `X` is
//!
//! `c(lambda) = -(G + lambda s I)^{-1} g = argmin_c sum_i l''_i (J_i c + l'_i / l''_i)^2 / N + lambda s ||c||^2`,
//!
//! with `G = J^T diag(l'') J / N`, `g = J^T l' / N` and the scale `s = tr(G) / D` (so `lambda`
//! is dimensionless, MATH.md's `lambda_0 = tau tr(G) / D`, default `tau = 1e-6`). The identity is the population
//! (`L^2(mu)`) metric in the orthonormal tangent basis (MATH.md §6.2): `||c|| = ||E_X c||_{L^2(mu)}`,
//! so the damping is a trust region on the function-space length of the step, and the damped
//! step interpolates between Gauss–Newton (`lambda -> 0`) and the Riemannian gradient step
//! `-g / (lambda s)` (`lambda -> infinity`). It does not depend on the choice of the orthonormal
//! tangent basis (`diag(G)` would).
//!
//! A trial is accepted by the gain ratio `rho = (L(X) - L(R_X(c))) / pred` with the Gauss–Newton
//! model's decrease `pred = -(g^T c + c^T G c / 2) > 0` when `rho >= accept`; `lambda` then
//! follows Nielsen's rule `lambda <- lambda max(1/3, 1 - (2 rho - 1)^3)`, `nu <- 2`; a rejected
//! trial sets `lambda <- nu lambda`, `nu <- 2 nu` and solves again; for matrix-free solvers
//! it first tries the shortened steps `t c`, `t = 1/2, 1/4, 1/8`, by the same gain ratio
//! against the model's decrease along `t c` ([`lm_loop`], [`MATRIX_FREE_HALVINGS`]): a new
//! solve there costs a Krylov run, a halving one evaluation. `lambda` and `nu` are the
//! optimizer state ([`DampingState`]), carried across iterations and checkpoints.
//!
//! Dense solvers (Cholesky, eigen, QR after [`GramSolver::resolve`]) assemble `G` once per
//! iteration and factor `G + lambda s I` by Cholesky for each trial (`D^3 / 3`, no new
//! assembly); `lambda s > 0` makes the shifted matrix positive definite, so the choice among
//! the dense solvers no longer matters. Matrix-free solvers (PCG, LSQR, block-diagonal) take
//! `lambda` as their relative Tikhonov shift ([`GramSolver::with_min_shift`]), rebuilt per
//! trial; their scale `s` is taken as the mean `l''` (`E[G] = mean(l'') I` for orthonormal
//! features, MATH.md §6.2).

use super::gram::{gram_of, GramSolver, GramSystem};
use super::linearized::{LinearizedModel, SampleLinearization};
use super::objective::Objective;
use super::Prepared;
use crate::error::{Error, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use tensor_train::linalg::{Cholesky, Par};
use tensor_train::tangent::{SampleInterfaces, TangentSpace};
use tensor_train::TensorTrain;

/// Smallest damping kept (relative to `tr(G)/D`): below it the step is Gauss–Newton to
/// rounding, and the floor keeps `G + lambda s I` factorable.
pub const LAMBDA_MIN: f64 = 1e-12;
/// Largest damping tried: the step is then `-g / (lambda s)`, shorter than rounding matters.
pub const LAMBDA_MAX: f64 = 1e16;

/// Whether the natural-gradient step is damped (config files: `rule = "lm"` with the fields of
/// [`Damping`], or `rule = "off"`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum DampingRule {
    /// The undamped step under the configured step rule (Armijo by default).
    Off,
    /// Levenberg–Marquardt damping with gain-ratio acceptance.
    Lm(Damping),
}

impl Default for DampingRule {
    fn default() -> Self {
        DampingRule::Lm(Damping::default())
    }
}

impl DampingRule {
    /// The damping parameters when on.
    pub fn lm(&self) -> Option<&Damping> {
        match self {
            DampingRule::Off => None,
            DampingRule::Lm(d) => Some(d),
        }
    }

    /// Parse `off`, `lm` or `lm:TAU` (the front ends' `--damping`).
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match Damping::parse(s)? {
            Some(d) => DampingRule::Lm(d),
            None => DampingRule::Off,
        })
    }
}

/// Parameters of Levenberg–Marquardt damping.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Damping {
    /// `lambda_0 = tau`, relative to `tr(G) / D` (default `1e-6`: Gauss–Newton from a good
    /// start, damped only once a trial is rejected; `docs/DAMPING.md` for the evidence).
    pub tau: f64,
    /// Smallest gain ratio `rho` of an accepted trial (default `1e-4`).
    pub accept: f64,
    /// Trials (solves) per iteration before giving up (default 12).
    pub max_trials: usize,
}

impl Default for Damping {
    fn default() -> Self {
        Damping {
            tau: 1e-6,
            accept: 1e-4,
            max_trials: 12,
        }
    }
}

impl Damping {
    /// Check `tau > 0`, `0 <= accept < 1`, `max_trials >= 1`.
    pub fn validate(&self) -> Result<()> {
        if !(self.tau.is_finite() && self.tau > 0.0) {
            return Err(Error::param(
                "damping tau",
                format!("must be finite and > 0, got {}", self.tau),
            ));
        }
        if !(0.0..1.0).contains(&self.accept) {
            return Err(Error::param(
                "damping accept",
                format!(
                    "the gain-ratio threshold must lie in [0, 1), got {}",
                    self.accept
                ),
            ));
        }
        if self.max_trials == 0 {
            return Err(Error::param("damping max_trials", "must be at least 1"));
        }
        Ok(())
    }

    /// Parse `off` (`None`), `lm` or `lm:TAU` (the front ends' `--damping`).
    pub fn parse(s: &str) -> Result<Option<Self>> {
        let s = s.trim().to_ascii_lowercase();
        let (name, arg) = match s.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (s.as_str(), None),
        };
        match (name, arg) {
            ("off" | "none", None) => Ok(None),
            ("lm", None) => Ok(Some(Damping::default())),
            ("lm", Some(t)) => {
                let tau: f64 = t.parse().map_err(|_| {
                    Error::param("damping", format!("'{t}' is not a number; write lm:1e-3"))
                })?;
                let d = Damping {
                    tau,
                    ..Default::default()
                };
                d.validate()?;
                Ok(Some(d))
            }
            _ => Err(Error::param(
                "damping",
                format!("unknown damping '{s}'; write lm, lm:TAU (e.g. lm:1e-3) or off"),
            )),
        }
    }
}

/// The damping carried between iterations: `lambda` (relative to `tr(G)/D`) and Nielsen's
/// growth factor `nu`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DampingState {
    /// Current damping.
    pub lambda: f64,
    /// Factor of the next increase after a rejected trial.
    pub nu: f64,
}

impl DampingState {
    /// The first state, `lambda = tau`, `nu = 2`.
    pub fn initial(cfg: &Damping) -> Self {
        DampingState {
            lambda: cfg.tau,
            nu: 2.0,
        }
    }

    /// Nielsen's update after a trial with gain ratio `rho` was accepted.
    pub fn accepted(&mut self, rho: f64) {
        let f = (1.0 - (2.0 * rho - 1.0).powi(3)).max(1.0 / 3.0);
        self.lambda = (self.lambda * f).max(LAMBDA_MIN);
        self.nu = 2.0;
    }

    /// The increase after a rejected trial.
    pub fn rejected(&mut self) {
        self.lambda *= self.nu;
        self.nu *= 2.0;
    }
}

/// The decrease `-(g^T c + c^T G c / 2) = -(1/N) sum_i (l'_i jc_i + l''_i jc_i^2 / 2)` of the
/// Gauss–Newton model along coordinates with sample values `jc`.
pub fn predicted_decrease(d1: &Array1<f64>, d2: &Array1<f64>, jc: &Array1<f64>) -> f64 {
    let n = d1.len().max(1) as f64;
    let s: f64 = d1
        .iter()
        .zip(d2)
        .zip(jc)
        .map(|((a, h), v)| a * v + 0.5 * h.max(0.0) * v * v)
        .sum();
    -s / n
}

enum Kind {
    /// The assembled `G` and the configured relative shift (a floor of `lambda`).
    Dense { g: Array2<f64>, base: f64 },
    /// A matrix-free solver, shifted by `lambda` per trial.
    MatrixFree(GramSolver),
}

/// The empirical Gram system at one iterate, ready to be solved for any damping.
pub struct DampedGram<'p> {
    /// The rows' linearized model (`J c`, `J^T w`, rows of `J`).
    model: Box<dyn LinearizedModel + 'p>,
    /// Row weights `h` (`None`: all 1).
    h: Option<Array1<f64>>,
    /// `row weights h / N`, as the Gram assembly takes them.
    row_weights: Option<Array1<f64>>,
    n: f64,
    /// `s`: `tr(G)/D` (dense) or `mean(h)` (matrix-free).
    scale: f64,
    kind: Kind,
    par: Par,
}

/// `G + lambda s I`, factored (dense) or as a shifted matrix-free system.
pub enum DampedFactor<'s, 'p> {
    /// Cholesky of the shifted dense Gram.
    Dense(Cholesky, &'s DampedGram<'p>),
    /// A matrix-free system with the shift.
    System(Box<GramSystem<'s>>),
}

impl<'p> DampedGram<'p> {
    /// Assemble (dense solvers) the Gram with row weights `h` (`None` for all ones).
    pub fn new(
        ts: &'p TangentSpace,
        si: &'p SampleInterfaces,
        feats: &[ArrayView2<'p, f64>],
        h: Option<ArrayView1<'_, f64>>,
        solver: GramSolver,
        par: Par,
    ) -> Result<Self> {
        Self::from_model(SampleLinearization::new(ts, si, feats), h, solver, par)
    }

    /// [`DampedGram::new`] for the rows of any linearized model (PDE residual rows).
    pub fn from_model(
        model: impl LinearizedModel + 'p,
        h: Option<ArrayView1<'_, f64>>,
        solver: GramSolver,
        par: Par,
    ) -> Result<Self> {
        solver.validate()?;
        let model: Box<dyn LinearizedModel + 'p> = Box::new(model);
        let n = model.n_rows() as f64;
        let h = h.map(|h| h.mapv(|v| v.max(0.0)));
        let row_weights = h.as_ref().map(|h| h / n);
        let dim = model.dim();
        let (kind, scale) = match solver.resolve(dim) {
            GramSolver::Cholesky { rel_shift } => {
                let g = gram_of(model.as_ref(), row_weights.as_ref(), n, par)?;
                let s = g.diag().sum() / dim.max(1) as f64;
                (Kind::Dense { g, base: rel_shift }, s)
            }
            GramSolver::Eigen { .. } | GramSolver::Qr => {
                let g = gram_of(model.as_ref(), row_weights.as_ref(), n, par)?;
                let s = g.diag().sum() / dim.max(1) as f64;
                (Kind::Dense { g, base: 0.0 }, s)
            }
            other => {
                let s = match &h {
                    Some(h) => h.mean().unwrap_or(1.0),
                    None => 1.0,
                };
                (Kind::MatrixFree(other), s)
            }
        };
        Ok(DampedGram {
            model,
            h,
            row_weights,
            n,
            scale: if scale > 0.0 && scale.is_finite() {
                scale
            } else {
                1.0
            },
            kind,
            par,
        })
    }

    /// Whether a new `lambda` costs a Krylov solve (PCG, LSQR, block-diagonal) rather than a
    /// Cholesky of the assembled Gram.
    pub fn is_matrix_free(&self) -> bool {
        matches!(self.kind, Kind::MatrixFree(_))
    }

    /// The absolute shift `lambda s` of a relative damping (with the solver's own floor).
    pub fn shift(&self, lambda: f64) -> f64 {
        match &self.kind {
            Kind::Dense { base, .. } => lambda.max(*base) * self.scale,
            Kind::MatrixFree(_) => lambda * self.scale,
        }
    }

    /// `G + lambda s I`; `None` when the shifted matrix does not factor (then raise `lambda`).
    pub fn factor<'s>(&'s self, lambda: f64) -> Result<Option<DampedFactor<'s, 'p>>> {
        match &self.kind {
            Kind::Dense { g, .. } => Ok(Cholesky::new_with(g.view(), self.shift(lambda), self.par)
                .ok()
                .map(|c| DampedFactor::Dense(c, self))),
            Kind::MatrixFree(solver) => {
                match GramSystem::from_model(
                    self.model.as_ref(),
                    self.h.as_ref().map(|h| h.view()),
                    solver.with_min_shift(lambda),
                    self.par,
                ) {
                    Ok(s) => Ok(Some(DampedFactor::System(Box::new(s)))),
                    Err(Error::InvalidParameter { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

impl DampedFactor<'_, '_> {
    /// `c = (G + lambda s I)^{-1} J^T H t / N`: the damped least-squares fit of sample-space
    /// targets `t` (the natural direction for `t = -l'/l''`).
    pub fn solve_target(&self, t: ArrayView1<'_, f64>) -> Result<Array1<f64>> {
        match self {
            DampedFactor::Dense(ch, dg) => {
                let wt = match &dg.row_weights {
                    Some(w) => &t * w,
                    None => t.mapv(|v| v / dg.n),
                };
                let rhs = dg.model.vjp(wt.view(), dg.par)?;
                let c = ch.solve_vec(&rhs)?;
                if c.iter().any(|v| !v.is_finite()) {
                    return Err(Error::Diverged {
                        iteration: 0,
                        message: "the damped natural-gradient solve produced non-finite values"
                            .into(),
                    });
                }
                Ok(c)
            }
            DampedFactor::System(s) => s.solve_target(t),
        }
    }
}

/// The natural-direction target `-l'/l''` of a Gram solve.
pub fn direction_target(d1: ArrayView1<'_, f64>, d2: ArrayView1<'_, f64>) -> Array1<f64> {
    ndarray::Zip::from(&d1)
        .and(&d2)
        .map_collect(|&a, &h| -a / h.max(1e-12))
}

/// One trial of the damped loop: tangent coordinates, their sample values, and the `(alpha,
/// beta)` that made them (for reports and momentum).
pub struct Proposal {
    /// Step coordinates at `X`.
    pub c: Array1<f64>,
    /// Their sample values `J c`.
    pub jc: Array1<f64>,
    /// Natural-direction factor.
    pub alpha: f64,
    /// Momentum factor (0 for a plain step).
    pub beta: f64,
}

/// What the damped loop took.
pub struct LmTaken {
    /// The accepted point, `None` when every trial was rejected.
    pub x: Option<TensorTrain>,
    /// The accepted proposal.
    pub proposal: Option<Proposal>,
    /// Loss at the accepted point (at `X` otherwise).
    pub loss: f64,
    /// Predictions of the accepted point on the step's samples.
    pub pred: Option<Array1<f64>>,
    /// Trials (retractions) spent.
    pub trials: usize,
    /// Gain ratio of the last trial.
    pub rho: f64,
    /// The first trial was rejected.
    pub first_rejected: bool,
}

/// Halvings of a rejected trial tried before a new solve when the damped system is matrix-free
/// ([`DampedGram::is_matrix_free`]). There a new `lambda` costs a Krylov solve (tens of `J c`
/// / `J^T w` passes: 6 trials took 13.5 s of a 14.5 s fit at (20, 2e4, 4, 6) from the greedy
/// start, `examples/solver_table.rs`), a halving one retraction and one evaluation.
pub const MATRIX_FREE_HALVINGS: usize = 3;

/// Accept `y` if its gain ratio against `pred` reaches `cfg.accept`.
fn gain_accepts(cfg: &Damping, loss: f64, value: f64, pred: f64) -> (bool, f64) {
    let rho = (loss - value) / pred;
    (value.is_finite() && rho >= cfg.accept, rho)
}

/// The Levenberg–Marquardt loop: `propose(lambda, trial)` gives the step for the current
/// damping (`None` when the shifted system does not factor); each proposal is retracted and
/// accepted when its gain ratio is at least `cfg.accept`, with `state` updated by Nielsen's rule
/// (module docs).
///
/// With `halvings > 0` (matrix-free systems, [`MATRIX_FREE_HALVINGS`]) a rejected proposal `c`
/// is first shortened, `t c` for `t = 1/2, 1/4, ..`, each judged by the gain ratio against the
/// model's decrease along `t c`, `pred(t) = -(t g^T c + t^2 c^T G c / 2)`. `lambda` is raised
/// as for a rejection either way (the model was not trusted at full length), so the next
/// iteration starts more damped; an accepted shortened step resets `nu` to 2 and reports
/// `t alpha`, `t beta`.
#[allow(clippy::too_many_arguments)]
pub fn lm_loop(
    cfg: &Damping,
    state: &mut DampingState,
    p: &Prepared,
    obj: &dyn Objective,
    par: Par,
    halvings: usize,
    mut propose: impl FnMut(f64, usize) -> Result<Option<Proposal>>,
) -> Result<LmTaken> {
    let mut out = LmTaken {
        x: None,
        proposal: None,
        loss: p.loss,
        pred: None,
        trials: 0,
        rho: f64::NAN,
        first_rejected: false,
    };
    for trial in 0..cfg.max_trials {
        if state.lambda > LAMBDA_MAX {
            break;
        }
        let Some(prop) = propose(state.lambda, trial)? else {
            out.first_rejected |= trial == 0;
            state.rejected();
            continue;
        };
        let pred = predicted_decrease(&p.d1, &p.d2, &prop.jc);
        if !(pred > 0.0 && pred.is_finite()) {
            out.first_rejected |= trial == 0;
            state.rejected();
            continue;
        }
        out.trials += 1;
        let xi = p.ts.from_coords(prop.c.view())?;
        let y = p.ts.retract(1.0, &xi)?;
        let (value, pv) = obj.evaluate(&y, par)?;
        let (ok, rho) = gain_accepts(cfg, p.loss, value, pred);
        out.rho = rho;
        if ok {
            state.accepted(rho);
            out.x = Some(y);
            out.proposal = Some(prop);
            out.loss = value;
            out.pred = Some(pv);
            return Ok(out);
        }
        state.rejected();
        let mut t = 1.0;
        for _ in 0..halvings {
            t *= 0.5;
            let jc = &prop.jc * t;
            let pred_t = predicted_decrease(&p.d1, &p.d2, &jc);
            if !(pred_t > 0.0 && pred_t.is_finite()) {
                break;
            }
            out.trials += 1;
            let y = p.ts.retract(t, &xi)?;
            let (value, pv) = obj.evaluate(&y, par)?;
            let (ok, rho) = gain_accepts(cfg, p.loss, value, pred_t);
            out.rho = rho;
            if ok {
                state.nu = 2.0;
                out.x = Some(y);
                out.proposal = Some(Proposal {
                    c: &prop.c * t,
                    jc,
                    alpha: prop.alpha * t,
                    beta: prop.beta * t,
                });
                out.loss = value;
                out.pred = Some(pv);
                return Ok(out);
            }
        }
        out.first_rejected |= trial == 0;
    }
    Ok(out)
}

/// The damped plain natural step (NGD, and the restart of momentum): `c(lambda)` for the
/// loss derivatives at `X`, through [`lm_loop`].
#[allow(clippy::too_many_arguments)]
pub fn damped_natural_step(
    cfg: &Damping,
    state: &mut DampingState,
    dg: &DampedGram<'_>,
    p: &Prepared,
    obj: &dyn Objective,
    par: Par,
) -> Result<LmTaken> {
    let t = direction_target(p.d1.view(), p.d2.view());
    let halvings = if dg.is_matrix_free() {
        MATRIX_FREE_HALVINGS
    } else {
        0
    };
    lm_loop(cfg, state, p, obj, par, halvings, |lambda, _| {
        let Some(f) = dg.factor(lambda)? else {
            return Ok(None);
        };
        let c = f.solve_target(t.view())?;
        let jc = dg.model.jvp(c.view(), par)?;
        Ok(Some(Proposal {
            c,
            jc,
            alpha: 1.0,
            beta: 0.0,
        }))
    })
}
