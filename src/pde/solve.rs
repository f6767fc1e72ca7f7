//! Optimizers for PDE residuals: Riemannian gradient descent, the energy natural gradient
//! (Gauss–Newton on the residual rows) and its Heavy-Ball and Nesterov momentum (MATH.md §7,
//! §8), driven through the [`LinearizedModel`] of the residual and [`GramSystem::from_model`].
//!
//! With `R` the residual rows at `X_k`, `J` their Jacobian in tangent coordinates and
//! `G = J^T J / M` (energy metric):
//! - **RGD:** `eta = -g`, `g = J^T R / M`, exact linearized step `t = -<R, J eta> / ||J eta||^2`;
//! - **NGD:** `d = argmin ||J d + R||`;
//! - **NGD-HB** (iterate difference): `m = argmin ||J m - (R_k - R_{k-1})||` (the empirical
//!   projection of `v_k - v_{k-1}`: its rows change `R` by `R_k - R_{k-1}` to first order),
//!   step `beta m + alpha d`;
//! - **NGD-Nesterov:** `m` as above, look-ahead `Y = R_X(beta m)`, `d = argmin ||J d + R(Y)||`.
//!
//! Every step is accepted by Armijo backtracking on `alpha` (from 1) with the momentum term
//! frozen; a non-descent momentum step or a failed search restarts (momentum dropped, plain
//! NGD step), so the loss is monotone. `beta` is fixed. These loops are the PDE analogue of
//! [`crate::optim::ngd`] / [`crate::optim::momentum`], which consume a `SampleSet` and a
//! pointwise `Loss` and so do not take residual rows yet.

use super::ResidualProblem;
use crate::error::{Error, Result};
use crate::optim::gram::{GramSolver, GramSystem};
use crate::optim::linearized::LinearizedModel;
use crate::optim::linesearch::Armijo;
use crate::optim::StepReport;
use crate::report::RunRecord;
use crate::train::{IterationRecord, StopReason};
use ndarray::Array1;
use std::time::Instant;
use tensor_train::linalg::Par;
use tensor_train::tangent::TangentSpace;
use tensor_train::TensorTrain;

/// The method of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Riemannian gradient descent (identity metric), exact linearized step + Armijo.
    Rgd,
    /// Energy natural gradient (Gauss–Newton on the residual rows) + Armijo.
    Ngd,
    /// NGD with Heavy-Ball momentum (iterate-difference form), momentum factor `beta`.
    HeavyBall {
        /// Momentum factor.
        beta: f64,
    },
    /// NGD with Nesterov momentum (gradient at the look-ahead point), factor `beta`.
    Nesterov {
        /// Momentum factor.
        beta: f64,
    },
}

impl Method {
    /// Name in tables and plots.
    pub fn name(&self) -> String {
        match self {
            Method::Rgd => "rgd".into(),
            Method::Ngd => "ngd".into(),
            Method::HeavyBall { beta } => format!("ngd-hb(b={beta})"),
            Method::Nesterov { beta } => format!("ngd-nesterov(b={beta})"),
        }
    }
}

/// Stopping rules and solver choices of a run.
#[derive(Debug, Clone)]
pub struct SolveOptions {
    /// Iteration cap.
    pub max_iter: usize,
    /// Stop when the error reported by the error function is at most this.
    pub target_error: f64,
    /// Stop after this many optimizer seconds.
    pub time_limit: f64,
    /// Gram solver (dense Cholesky by default; any [`GramSolver`] works on residual rows).
    pub solver: GramSolver,
    /// Armijo parameters.
    pub armijo: Armijo,
    /// Initial step size of the natural-gradient term.
    pub alpha0: f64,
    /// Parallelism of the sample reductions.
    pub par: Par,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            max_iter: 200,
            target_error: 0.0,
            time_limit: f64::INFINITY,
            solver: GramSolver::Cholesky { rel_shift: 1e-12 },
            armijo: Armijo::default(),
            alpha0: 1.0,
            par: Par::Seq,
        }
    }
}

/// Minimize `(1/2M) ||R(X)||^2` from `x0` with `method`; `error(X)` is evaluated after every
/// iteration (its time is not counted) and recorded as the test error. Returns the last iterate
/// and the run record (iteration 0 is the start).
pub fn solve(
    problem: &ResidualProblem,
    x0: &TensorTrain,
    method: Method,
    opts: &SolveOptions,
    error: &dyn Fn(&TensorTrain) -> f64,
) -> Result<(TensorTrain, RunRecord)> {
    if let Method::HeavyBall { beta } | Method::Nesterov { beta } = method {
        if !(0.0..1.0).contains(&beta) {
            return Err(Error::param("beta", format!("{beta}; use 0 <= beta < 1")));
        }
    }
    let par = opts.par;
    let m_rows = problem.n_rows() as f64;
    let rhs_norm = {
        // relative residual: ||R|| / ||R(0)|| with R(0) = -rhs
        let zero = TensorTrain::zeros(&x0.mode_sizes(), &x0.internal_ranks())?;
        let r0 = problem.residual(&zero)?;
        r0.dot(&r0).sqrt().max(f64::MIN_POSITIVE)
    };
    let mut x = x0.clone();
    let mut history = Vec::new();
    let mut seconds = 0.0;
    let mut restarts = 0;
    // (residual rows at the previous iterate) for the momentum methods
    let mut prev_r: Option<Array1<f64>> = None;
    let mut stop = StopReason::MaxIter;
    let r_start = problem.residual(&x)?;
    history.push(IterationRecord {
        iteration: 0,
        seconds: 0.0,
        train_loss: ResidualProblem::loss_of(r_start.view()),
        train_error: r_start.dot(&r_start).sqrt() / rhs_norm,
        validation_error: None,
        test_error: Some(error(&x)),
        step: StepReport::default(),
    });
    if history[0].test_error.unwrap_or(f64::INFINITY) <= opts.target_error {
        stop = StopReason::TargetLoss;
    }
    let mut it = 0;
    while stop == StopReason::MaxIter && it < opts.max_iter {
        it += 1;
        let t0 = Instant::now();
        let ts = TangentSpace::new(&x)?;
        let si = problem.interfaces(&ts, par)?;
        let kappa_lin = problem.kappa_lin(si.values());
        let lin = problem.linearize(&ts, &si, &kappa_lin)?;
        let r = problem.residual_at(&lin);
        let loss = ResidualProblem::loss_of(r.view());
        let g = lin.vjp((&r / m_rows).view(), par)?;
        let mut report = StepReport::default();
        // (momentum coordinates, natural/gradient direction coordinates)
        let (mom, dir): (Option<Array1<f64>>, Array1<f64>) = match method {
            Method::Rgd => {
                let eta = -&g;
                let jeta = lin.jvp(eta.view(), par)?;
                let den = jeta.dot(&jeta);
                let t = if den > 0.0 { -r.dot(&jeta) / den } else { 0.0 };
                (None, eta * t)
            }
            Method::Ngd | Method::HeavyBall { .. } | Method::Nesterov { .. } => {
                let sys = GramSystem::from_model(&lin, None, opts.solver, par)?;
                let beta = match method {
                    Method::HeavyBall { beta } | Method::Nesterov { beta } => beta,
                    _ => 0.0,
                };
                let mom = match (&prev_r, beta > 0.0) {
                    (Some(rp), true) => {
                        let target = &r - rp;
                        Some(sys.solve_target(target.view())? * beta)
                    }
                    _ => None,
                };
                let d = match (&mom, method) {
                    (Some(m), Method::Nesterov { .. }) => {
                        let y = ts.retract(1.0, &ts.from_coords(m.view())?)?;
                        let ry = problem.residual(&y)?;
                        report.trials += 1;
                        sys.solve_target((-&ry).view())?
                    }
                    _ => sys.solve_target((-&r).view())?,
                };
                (mom, d)
            }
        };
        let mut accepted = search(problem, &ts, &g, mom.as_ref(), &dir, loss, opts)?;
        if accepted.is_none() && mom.is_some() {
            report.restarted = true;
            report.note = Some("momentum step rejected; NGD restart".into());
            restarts += 1;
            accepted = search(problem, &ts, &g, None, &dir, loss, opts)?;
            if accepted.is_none() && matches!(method, Method::Nesterov { .. }) {
                let d = GramSystem::from_model(&lin, None, opts.solver, par)?
                    .solve_target((-&r).view())?;
                accepted = search(problem, &ts, &g, None, &d, loss, opts)?;
            }
        }
        let Some((x_new, r_new, alpha, trials)) = accepted else {
            stop = StopReason::NoProgress;
            break;
        };
        report.trials += trials;
        report.step_size = alpha;
        report.loss = Some(ResidualProblem::loss_of(r_new.view()));
        // after a restart too: the memory restarts from this (plain) step, X_{k-1} = X_k
        prev_r = Some(r);
        x = x_new;
        seconds += t0.elapsed().as_secs_f64();
        let err = error(&x);
        history.push(IterationRecord {
            iteration: it,
            seconds,
            train_loss: report.loss.unwrap_or(f64::NAN),
            train_error: r_new.dot(&r_new).sqrt() / rhs_norm,
            validation_error: None,
            test_error: Some(err),
            step: report,
        });
        if err <= opts.target_error {
            stop = StopReason::TargetLoss;
        } else if seconds >= opts.time_limit {
            stop = StopReason::TimeLimit;
        }
    }
    let last = history.last().expect("iteration 0 is recorded");
    let record = RunRecord {
        name: method.name(),
        final_test_error: last.test_error,
        selected: Some(last.iteration),
        history,
        stop,
        restarts,
    };
    Ok((x, record))
}

/// An accepted step: the new point, its residual rows, `alpha` and the trials spent.
type Accepted = (TensorTrain, Array1<f64>, f64, usize);

/// Armijo on `alpha` for the step `mom + alpha dir` (coordinates at `ts`): accept when
/// `L(R_X(step)) <= L + sigma g^T step`; `None` when the step is not a descent direction or
/// every trial failed. Returns the new point, its residual rows, `alpha` and the trials.
fn search(
    problem: &ResidualProblem,
    ts: &TangentSpace,
    g: &Array1<f64>,
    mom: Option<&Array1<f64>>,
    dir: &Array1<f64>,
    loss: f64,
    opts: &SolveOptions,
) -> Result<Option<Accepted>> {
    let mut alpha = opts.alpha0;
    let slope_m = mom.map_or(0.0, |m| g.dot(m));
    let slope_d = g.dot(dir);
    for trial in 1..=opts.armijo.max_trials {
        let slope = slope_m + alpha * slope_d;
        if slope >= 0.0 {
            return Ok(None);
        }
        let mut c = dir * alpha;
        if let Some(m) = mom {
            c += m;
        }
        let y = ts.retract(1.0, &ts.from_coords(c.view())?)?;
        let ry = problem.residual(&y)?;
        let ly = ResidualProblem::loss_of(ry.view());
        if ly.is_finite() && ly <= loss + opts.armijo.sigma * slope {
            return Ok(Some((y, ry, alpha, trial)));
        }
        alpha *= opts.armijo.shrink;
    }
    Ok(None)
}
