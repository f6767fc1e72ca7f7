//! Natural Heavy-Ball momentum on the fixed-rank TT manifold (MATH.md §7, Nouy & Somacal 2026).
//!
//! `dv_k = beta P_{T_k} p_{k-1} - alpha P^{H_L}_{T_k} grad L(v_k)`, `X_{k+1} = R_{X_k}(dv_k)`,
//! `p_k = dv_k` (momentum-variable form), or with `v_k - v_{k-1}` in place of `p_{k-1}`
//! (iterate-difference form). The transport `P_{T_k}` is
//! - population metric: the exact TT projection of the rank-`2r` TT of `p_{k-1}` (or of
//!   `X_{k-1}`: `P_{T_k}(X_k - X_{k-1}) = c_{X_k} - coords(P_{T_k} X_{k-1})`), `O(d n r^3)`;
//! - empirical metric: the least-squares fit in the new tangent space of the previous step's
//!   sample values `q_{k-1} = J_{k-1} c_{k-1}` (or of `pred_k - pred_{k-1}`), with the same
//!   factored Gram matrix as the gradient step (for least squares the whole step is one
//!   least-squares problem with target `beta q - alpha e`, solved here as two right-hand
//!   sides of one factorization).
//!
//! Step rules: fixed `alpha, beta`, or Armijo on `alpha` with the momentum term frozen; with
//! `restart`, the momentum is dropped (and a plain NGD Armijo step taken) whenever the step is
//! not a descent direction, Armijo fails, or a fixed step raises the loss (O'Donoghue–Candès).

use super::ngd::{
    armijo_rule, iteration_samples, take_step, Metric, NaturalPoint, NgdConfig, StepRule,
};
use super::{prepare, Optimizer, StepContext, StepReport};
use crate::error::{Error, Result};
use crate::samples::SampleSet;
use ndarray::Array1;
use tensor_train::interfaces;
use tensor_train::tangent::TangentSpace;
use tensor_train::TensorTrain;

/// Which momentum quantity is carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeavyBallForm {
    /// `p_{k-1}`, the previous tangent step (kept as a rank-`2r` TT at `X_{k-1}`).
    #[default]
    MomentumVariable,
    /// `v_k - v_{k-1}`, the difference of iterates.
    IterateDifference,
}

/// How `beta` evolves.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BetaSchedule {
    /// `beta_k = beta`.
    #[default]
    Constant,
    /// `beta_k = min(beta, j / (j + 3))`, `j` = iterations since the last restart
    /// (Nesterov's sequence, restarted with the momentum).
    Increasing,
}

impl BetaSchedule {
    /// `beta_k` for `since` iterations since the last restart.
    pub fn beta(&self, beta: f64, since: usize) -> f64 {
        match self {
            BetaSchedule::Constant => beta,
            BetaSchedule::Increasing => beta.min(since as f64 / (since as f64 + 3.0)),
        }
    }
}

/// Momentum parameters shared by Heavy-Ball and Nesterov.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MomentumParams {
    /// Momentum factor `beta` in `[0, 1)` (0 reproduces NGD exactly).
    pub beta: f64,
    /// Drop the momentum when it does not help (see the module docs).
    pub restart: bool,
    /// Evolution of `beta`.
    pub schedule: BetaSchedule,
}

impl Default for MomentumParams {
    fn default() -> Self {
        MomentumParams {
            beta: 0.5,
            restart: true,
            schedule: BetaSchedule::Constant,
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

/// Configuration of natural Heavy-Ball.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeavyBallConfig {
    /// The natural-gradient part (metric, solver, step rule, mini-batch).
    pub natural: NgdConfig,
    /// Momentum parameters.
    pub momentum: MomentumParams,
    /// Momentum-variable or iterate-difference form.
    pub form: HeavyBallForm,
}

/// Memory of the previous iteration.
struct Previous {
    /// Tangent space at `X_{k-1}` (momentum-variable form).
    ts: Option<TangentSpace>,
    /// Step coordinates at `X_{k-1}` (momentum-variable form).
    step: Option<Array1<f64>>,
    /// `X_{k-1}` (iterate-difference form).
    x: Option<TensorTrain>,
    /// Sample values of the carried quantity on the full training set (`J_{k-1} c_{k-1}` or
    /// `pred_{k-1}`), reused in full-batch mode.
    values: Option<Array1<f64>>,
}

/// Natural Heavy-Ball.
pub struct HeavyBall {
    cfg: HeavyBallConfig,
    prev: Option<Previous>,
    since_restart: usize,
}

impl HeavyBall {
    /// Validate and build.
    pub fn new(cfg: HeavyBallConfig) -> Result<Self> {
        cfg.natural.validate()?;
        cfg.momentum.validate()?;
        Ok(HeavyBall {
            cfg,
            prev: None,
            since_restart: 0,
        })
    }
}

impl Optimizer for HeavyBall {
    fn name(&self) -> String {
        let form = match self.cfg.form {
            HeavyBallForm::MomentumVariable => "",
            HeavyBallForm::IterateDifference => "-diff",
        };
        format!("ngd-hb{form}{}", self.cfg.natural.suffix())
    }

    fn reset(&mut self) {
        self.prev = None;
        self.since_restart = 0;
    }

    fn step(
        &mut self,
        x: &TensorTrain,
        data: &SampleSet,
        ctx: &mut StepContext<'_>,
    ) -> Result<(TensorTrain, StepReport)> {
        let full = self.cfg.natural.batch_size.is_none_or(|b| b >= data.len());
        let batch = iteration_samples(data, self.cfg.natural.batch_size, ctx.rng);
        let batch = batch.as_ref();
        let p = prepare(x, batch, ctx.loss, ctx.par)?;
        let np = NaturalPoint::new(&p, batch, &self.cfg.natural, full, ctx.par)?;
        let d = np.direction(p.d1.view(), p.d2.view(), ctx.par)?;
        let m = match &self.prev {
            None => None,
            Some(prev) => Some(self.transported(prev, &np, batch, full, ctx)?),
        };
        let beta = self
            .cfg
            .momentum
            .schedule
            .beta(self.cfg.momentum.beta, self.since_restart);
        let outcome = momentum_step(
            &np,
            m.as_ref(),
            &d,
            beta,
            &self.cfg.natural.step,
            self.cfg.momentum.restart,
            batch,
            ctx,
        )?;
        // remember what the next iteration transports
        self.since_restart = if outcome.restarted {
            1
        } else {
            self.since_restart + 1
        };
        if outcome.x.is_some() {
            let values = if full {
                Some(match self.cfg.form {
                    HeavyBallForm::MomentumVariable => {
                        p.ts.jvp(&p.si, &np.feats, outcome.step.view(), ctx.par)?
                    }
                    HeavyBallForm::IterateDifference => p.pred.clone(),
                })
            } else {
                None
            };
            let step = outcome.step.clone();
            let prev = match self.cfg.form {
                HeavyBallForm::MomentumVariable => Previous {
                    ts: None,
                    step: Some(step),
                    x: None,
                    values,
                },
                HeavyBallForm::IterateDifference => Previous {
                    ts: None,
                    step: None,
                    x: Some(x.clone()),
                    values,
                },
            };
            drop(np);
            let mut prev = prev;
            if self.cfg.form == HeavyBallForm::MomentumVariable {
                prev.ts = Some(p.ts);
            }
            self.prev = Some(prev);
        }
        outcome.finish(x, full)
    }
}

impl HeavyBall {
    /// Coordinates at `X_k` of the transported momentum (before scaling by `beta`).
    fn transported(
        &self,
        prev: &Previous,
        np: &NaturalPoint<'_>,
        batch: &SampleSet,
        full: bool,
        ctx: &StepContext<'_>,
    ) -> Result<Array1<f64>> {
        let p = np.p;
        match (self.cfg.natural.metric, self.cfg.form) {
            (Metric::Population, HeavyBallForm::MomentumVariable) => {
                let (ts0, c0) = prev_pair(prev)?;
                let xi0 = ts0.from_coords(c0.view())?;
                Ok(p.ts.to_coords(&p.ts.transport(ts0, &xi0)?)?)
            }
            (Metric::Population, HeavyBallForm::IterateDifference) => {
                let x0 = prev.x.as_ref().ok_or_else(missing)?;
                let mut diff = p.ts.point_as_tangent();
                diff.axpy(-1.0, &p.ts.project_tt(x0)?);
                Ok(p.ts.to_coords(&diff)?)
            }
            (Metric::Empirical, form) => {
                let target = match (&prev.values, full) {
                    (Some(v), true) => match form {
                        HeavyBallForm::MomentumVariable => v.clone(),
                        HeavyBallForm::IterateDifference => &p.pred - v,
                    },
                    _ => match form {
                        HeavyBallForm::MomentumVariable => {
                            let (ts0, c0) = prev_pair(prev)?;
                            let tt = ts0.to_tt(&ts0.from_coords(c0.view())?)?;
                            interfaces::values(&tt, &batch.feature_views(), ctx.par)?
                        }
                        HeavyBallForm::IterateDifference => {
                            let x0 = prev.x.as_ref().ok_or_else(missing)?;
                            &p.pred - &interfaces::values(x0, &batch.feature_views(), ctx.par)?
                        }
                    },
                };
                np.project_values(target.view())
            }
        }
    }
}

fn prev_pair(prev: &Previous) -> Result<(&TangentSpace, &Array1<f64>)> {
    match (&prev.ts, &prev.step) {
        (Some(t), Some(c)) => Ok((t, c)),
        _ => Err(missing()),
    }
}

fn missing() -> Error {
    Error::param(
        "momentum",
        "internal state of the previous iteration is missing",
    )
}

/// Result of a momentum step.
pub(crate) struct MomentumOutcome {
    pub x: Option<TensorTrain>,
    /// Coordinates of the step taken at `X_k` (`beta m + alpha d`).
    pub step: Array1<f64>,
    pub alpha: f64,
    pub loss: f64,
    pub trials: usize,
    pub restarted: bool,
    pub note: Option<String>,
}

impl MomentumOutcome {
    pub(crate) fn finish(self, x: &TensorTrain, full: bool) -> Result<(TensorTrain, StepReport)> {
        let report = StepReport {
            loss: full.then_some(self.loss),
            step_size: if self.x.is_some() { self.alpha } else { 0.0 },
            restarted: self.restarted,
            trials: self.trials,
            note: self.note,
        };
        Ok((self.x.unwrap_or_else(|| x.clone()), report))
    }
}

/// Take `beta m + alpha d` with the step rule; restart (drop `m`, plain NGD Armijo step) when
/// it is not a descent direction, Armijo fails or a fixed step raises the loss.
#[allow(clippy::too_many_arguments)]
pub(crate) fn momentum_step(
    np: &NaturalPoint<'_>,
    m: Option<&Array1<f64>>,
    d: &Array1<f64>,
    beta: f64,
    rule: &StepRule,
    restart: bool,
    batch: &SampleSet,
    ctx: &StepContext<'_>,
) -> Result<MomentumOutcome> {
    let fixed = m.filter(|_| beta != 0.0).map(|m| m * beta);
    if let Some(f) = &fixed {
        let alpha_try = match rule {
            StepRule::Fixed { alpha } => *alpha,
            StepRule::Armijo { alpha0, .. } => *alpha0,
        };
        let slope = np.g.dot(f) + alpha_try * np.g.dot(d);
        let descent = slope < 0.0;
        if descent || !restart {
            let taken = take_step(np, Some(f), d, rule, batch, ctx.loss, ctx.par)?;
            if taken.x.is_some() || !restart {
                let step = f + &(d * taken.alpha);
                return Ok(MomentumOutcome {
                    x: taken.x,
                    step,
                    alpha: taken.alpha,
                    loss: taken.loss,
                    trials: taken.trials,
                    restarted: false,
                    note: None,
                });
            }
        }
        // restart: plain natural step with Armijo
        let why = if descent {
            "line search failed with momentum"
        } else {
            "momentum step was not a descent direction"
        };
        let taken = take_step(np, None, d, &armijo_rule(rule), batch, ctx.loss, ctx.par)?;
        return Ok(MomentumOutcome {
            step: d * taken.alpha,
            x: taken.x,
            alpha: taken.alpha,
            loss: taken.loss,
            trials: taken.trials,
            restarted: true,
            note: Some(format!("restart: {why}")),
        });
    }
    let mut taken = take_step(np, None, d, rule, batch, ctx.loss, ctx.par)?;
    let mut note = None;
    if taken.x.is_none() && matches!(rule, StepRule::Fixed { .. }) {
        taken = take_step(np, None, d, &armijo_rule(rule), batch, ctx.loss, ctx.par)?;
        note = Some("fixed step raised the loss; took an Armijo step".into());
    }
    Ok(MomentumOutcome {
        step: d * taken.alpha,
        x: taken.x,
        alpha: taken.alpha,
        loss: taken.loss,
        trials: taken.trials,
        restarted: false,
        note,
    })
}
