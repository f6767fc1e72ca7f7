//! The driver of PDE residual fits: runs one of the shared optimizers ([`Rgd`], [`Ngd`],
//! [`Momentum`]) on the [`ResidualProblem`] objective, with stopping rules on an error function
//! and a [`RunRecord`] per run (MATH.md §7, §8).
//!
//! With `R` the residual rows at `X_k`, `J` their Jacobian in tangent coordinates and
//! `G = J^T J / M` (energy metric), the optimizers compute, with nothing PDE-specific in them:
//! - **RGD:** `eta = -g`, `g = J^T R / M`, exact linearized step + Armijo;
//! - **NGD:** `d = argmin ||J d + R||` (Gauss–Newton), Armijo from `alpha = 1` (or
//!   Levenberg–Marquardt damping when [`SolveOptions::damping`] is on);
//! - **NGD-HB / NGD-Nesterov:** the shared natural momentum ([`MomentumConfig::heavy_ball`],
//!   [`MomentumConfig::nesterov`]): momentum projected by `argmin ||J m - t||` with `t` the
//!   carried step's rows (`J_{k-1} c_{k-1}`, or `R_k - R_{k-1}` for the iterate difference),
//!   `beta` adaptive (the Gauss–Newton model minimized over `span{d, m}`) or fixed
//!   ([`BetaSchedule::Constant`]), restarts on rejection.
//!
//! Default solver: Householder QR of `J` ([`GramSolver::Qr`]): `J` holds second derivatives of
//! the features, and Cholesky of `J^T J` squares its condition number (measured in the closing
//! note of issue 12: (a) needs 3 and 8 Cholesky iterations, 1 with QR).

use super::ResidualProblem;
use crate::error::{Error, Result};
use crate::optim::damping::DampingRule;
use crate::optim::gram::GramSolver;
use crate::optim::linesearch::Armijo;
use crate::optim::momentum::{BetaSchedule, Momentum, MomentumConfig, MomentumParams};
use crate::optim::ngd::{Metric, Ngd, NgdConfig, StepRule};
use crate::optim::objective::{Objective, ObjectiveStep};
use crate::optim::rgd::{Rgd, RgdConfig};
use crate::optim::StepReport;
use crate::report::RunRecord;
use crate::train::{IterationRecord, StopReason};
use std::time::Instant;
use tensor_train::linalg::Par;
use tensor_train::TensorTrain;

/// The method of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Riemannian gradient descent (identity metric), exact linearized step + Armijo.
    Rgd,
    /// Energy natural gradient (Gauss–Newton on the residual rows).
    Ngd,
    /// Natural Heavy-Ball ([`MomentumConfig::heavy_ball`]) with these momentum parameters.
    HeavyBall(MomentumParams),
    /// Natural Nesterov ([`MomentumConfig::nesterov`]) with these momentum parameters.
    Nesterov(MomentumParams),
}

impl Method {
    /// Heavy-Ball with the adaptive `beta` (capped at 0.5, the shared default).
    pub fn heavy_ball() -> Self {
        Method::HeavyBall(MomentumParams::default())
    }

    /// Nesterov with the adaptive `beta`.
    pub fn nesterov() -> Self {
        Method::Nesterov(MomentumParams::default())
    }

    /// Heavy-Ball with the fixed `beta` (Armijo on `alpha`, `beta m` frozen, restarts).
    pub fn heavy_ball_fixed(beta: f64) -> Self {
        Method::HeavyBall(fixed(beta))
    }

    /// Nesterov with the fixed `beta`.
    pub fn nesterov_fixed(beta: f64) -> Self {
        Method::Nesterov(fixed(beta))
    }

    /// The shared optimizer of this method under `opts`.
    pub fn optimizer(&self, opts: &SolveOptions) -> Result<Box<dyn ObjectiveStep>> {
        let natural = NgdConfig {
            metric: Metric::Empirical,
            solver: opts.solver,
            step: StepRule::Armijo {
                alpha0: opts.alpha0,
                armijo: opts.armijo,
            },
            batch_size: None,
            damping: opts.damping,
            ..NgdConfig::default()
        };
        let momentum = |preset: MomentumConfig, params: MomentumParams| MomentumConfig {
            natural: natural.clone(),
            momentum: params,
            ..preset
        };
        Ok(match *self {
            Method::Rgd => Box::new(Rgd::new(RgdConfig {
                armijo: opts.armijo,
            })?),
            Method::Ngd => Box::new(Ngd::new(natural.clone())?),
            Method::HeavyBall(params) => Box::new(Momentum::new(momentum(
                MomentumConfig::heavy_ball(),
                params,
            ))?),
            Method::Nesterov(params) => {
                Box::new(Momentum::new(momentum(MomentumConfig::nesterov(), params))?)
            }
        })
    }
}

fn fixed(beta: f64) -> MomentumParams {
    MomentumParams {
        beta,
        restart: true,
        schedule: BetaSchedule::Constant,
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
    /// Gram solver (default Householder QR of `J`, see the module docs; any [`GramSolver`]
    /// works on residual rows).
    pub solver: GramSolver,
    /// Armijo parameters.
    pub armijo: Armijo,
    /// Initial step size of the natural-gradient term.
    pub alpha0: f64,
    /// Levenberg–Marquardt damping of the natural step (default off: the undamped
    /// Gauss–Newton step under Armijo; a damped step solves `G + lambda s I` by Cholesky and
    /// loses QR's conditioning).
    pub damping: DampingRule,
    /// Parallelism of the sample reductions.
    pub par: Par,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            max_iter: 200,
            target_error: 0.0,
            time_limit: f64::INFINITY,
            solver: GramSolver::Qr,
            armijo: Armijo::default(),
            alpha0: 1.0,
            damping: DampingRule::Off,
            par: Par::Seq,
        }
    }
}

/// Minimize `(1/2M) ||R(X)||^2` from `x0` with `method` (the shared optimizer on the
/// [`ResidualProblem`] objective); `error(X)` is evaluated after every iteration (its time is
/// not counted) and recorded as the test error, and `train_error` is `||R|| / ||R(0)||`.
/// Returns the last iterate and the run record (iteration 0 is the start).
pub fn solve(
    problem: &ResidualProblem,
    x0: &TensorTrain,
    method: Method,
    opts: &SolveOptions,
    error: &dyn Fn(&TensorTrain) -> f64,
) -> Result<(TensorTrain, RunRecord)> {
    let mut opt = method.optimizer(opts)?;
    let par = opts.par;
    let m_rows = problem.n_rows() as f64;
    let rhs_norm = {
        // relative residual: ||R|| / ||R(0)|| with R(0) = -rhs
        let zero = TensorTrain::zeros(&x0.mode_sizes(), &x0.internal_ranks())?;
        let r0 = problem.residual(&zero)?;
        r0.dot(&r0).sqrt().max(f64::MIN_POSITIVE)
    };
    let rel_residual = |loss: f64| (2.0 * m_rows * loss).sqrt() / rhs_norm;
    let mut x = x0.clone();
    let mut history = Vec::new();
    let mut seconds = 0.0;
    let mut restarts = 0;
    let mut stop = StopReason::MaxIter;
    let loss0 = problem.loss(problem.rows(&x, par)?.view());
    history.push(IterationRecord {
        iteration: 0,
        seconds: 0.0,
        train_loss: loss0,
        train_error: rel_residual(loss0),
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
        let (y, report) = opt.step_objective(&x, problem, true, par)?;
        seconds += t0.elapsed().as_secs_f64();
        if report.restarted {
            restarts += 1;
        }
        if report.step_size == 0.0 {
            stop = StopReason::NoProgress;
            break;
        }
        let loss = report
            .loss
            .ok_or_else(|| Error::param("pde solve", "the optimizer did not report the loss"))?;
        x = y;
        let err = error(&x);
        history.push(IterationRecord {
            iteration: it,
            seconds,
            train_loss: loss,
            train_error: rel_residual(loss),
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
        name: opt.name(),
        final_test_error: last.test_error,
        selected: Some(last.iteration),
        history,
        stop,
        restarts,
    };
    Ok((x, record))
}
