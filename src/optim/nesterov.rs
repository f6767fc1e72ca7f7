//! Natural Nesterov momentum on the fixed-rank TT manifold (MATH.md §7, Nouy & Somacal 2026).
//!
//! `dv_k = beta P_{T_k}(v_k - v_{k-1}) - alpha P^{H_L}_{T_k} grad L(y_k)` with the look-ahead
//! `y_k = R_{X_k}(beta P_{T_k}(v_k - v_{k-1}))`: the gradient is taken at `y_k` but projected
//! onto `T_{X_k}`, and the step is retracted from `X_k` (not from `y_k`), as in the paper's
//! slides. The Gram matrix is `J` at `X_k`; the loss weights `l''` are taken at `y_k`
//! (MATH.md §11). With `lookahead = false` the gradient is taken at `X_k` (which makes it the
//! iterate-difference Heavy-Ball).
//!
//! Transport of `v_k - v_{k-1}`: population metric `c_{X_k} - coords(P_{T_k} X_{k-1})` by TT
//! projection; empirical metric `argmin ||J m - (pred_k - pred_{k-1})||`.
//! Step rules and restarts as in [`super::heavy_ball`].

use super::gram::GramSystem;
use super::heavy_ball::{momentum_step, MomentumParams};
use super::ngd::{iteration_samples, Metric, NaturalPoint, NgdConfig};
use super::{prepare, Optimizer, StepContext, StepReport};
use crate::error::Result;
use crate::samples::SampleSet;
use ndarray::Array1;
use tensor_train::interfaces;
use tensor_train::TensorTrain;

/// Configuration of natural Nesterov.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NesterovConfig {
    /// The natural-gradient part (metric, solver, step rule, mini-batch).
    pub natural: NgdConfig,
    /// Momentum parameters.
    pub momentum: MomentumParams,
    /// Gradient at the look-ahead point `y_k` (true, Nesterov) or at `X_k`.
    pub lookahead: bool,
}

impl Default for NesterovConfig {
    fn default() -> Self {
        NesterovConfig {
            natural: NgdConfig::default(),
            momentum: MomentumParams::default(),
            lookahead: true,
        }
    }
}

/// Natural Nesterov.
pub struct Nesterov {
    cfg: NesterovConfig,
    /// `X_{k-1}` and, in full-batch mode, its predictions on the training set.
    prev: Option<(TensorTrain, Option<Array1<f64>>)>,
    since_restart: usize,
}

impl Nesterov {
    /// Validate and build.
    pub fn new(cfg: NesterovConfig) -> Result<Self> {
        cfg.natural.validate()?;
        cfg.momentum.validate()?;
        Ok(Nesterov {
            cfg,
            prev: None,
            since_restart: 0,
        })
    }
}

impl Optimizer for Nesterov {
    fn name(&self) -> String {
        let la = if self.cfg.lookahead {
            ""
        } else {
            "-nolookahead"
        };
        format!("ngd-nesterov{la}{}", self.cfg.natural.suffix())
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
        let feats = batch.feature_views();
        // momentum m = coords of P_{T_k}(X_k - X_{k-1})
        let mut np = NaturalPoint::new(&p, batch, &self.cfg.natural, full, ctx.par)?;
        let m = match &self.prev {
            None => None,
            Some((x0, pred0)) => Some(match self.cfg.natural.metric {
                Metric::Population => {
                    let mut diff = p.ts.point_as_tangent();
                    diff.axpy(-1.0, &p.ts.project_tt(x0)?);
                    p.ts.to_coords(&diff)?
                }
                Metric::Empirical => {
                    let before = match (pred0, full) {
                        (Some(v), true) => v.clone(),
                        _ => interfaces::values(x0, &feats, ctx.par)?,
                    };
                    np.project_values((&p.pred - &before).view())?
                }
            }),
        };
        let beta = self
            .cfg
            .momentum
            .schedule
            .beta(self.cfg.momentum.beta, self.since_restart);
        // gradient at the look-ahead y_k = R_X(beta m), projected onto T_{X_k}
        let d = match (&m, self.cfg.lookahead && beta != 0.0) {
            (Some(m), true) => {
                let y = p.ts.retract(beta, &p.ts.from_coords(m.view())?)?;
                let pred_y = interfaces::values(&y, &feats, ctx.par)?;
                let d1 = ctx
                    .loss
                    .first_derivative(pred_y.view(), batch.targets(), batch.weights());
                let d2 =
                    ctx.loss
                        .second_derivative(pred_y.view(), batch.targets(), batch.weights());
                if self.cfg.natural.metric == Metric::Empirical && d2 != p.d2 {
                    // loss weights at y_k: refactor the Gram matrix with them
                    let sys = GramSystem::new(
                        &p.ts,
                        &p.si,
                        &feats,
                        Some(d2.view()),
                        self.cfg.natural.solver_for(full),
                        ctx.par,
                    )?;
                    np.sys = Some(sys);
                }
                np.direction(d1.view(), d2.view(), ctx.par)?
            }
            _ => np.direction(p.d1.view(), p.d2.view(), ctx.par)?,
        };
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
        self.since_restart = if outcome.restarted {
            1
        } else {
            self.since_restart + 1
        };
        if outcome.x.is_some() {
            self.prev = Some((x.clone(), full.then(|| p.pred.clone())));
        }
        outcome.finish(x, full)
    }
}
