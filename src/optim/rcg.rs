//! Riemannian conjugate gradient on the fixed-rank TT manifold (MATH.md §7.1 `RCG`).
//!
//! One step at `X_k` with gradient `g_k = P_{X_k} grad L`:
//! 1. transport the previous gradient and direction by projection (MATH.md §5):
//!    `g^ = P_{X_k} g_{k-1}`, `eta^ = P_{X_k} eta_{k-1}` (rank-`2r` TTs projected, `O(d n r^3)`);
//! 2. `beta_FR = ||g_k||^2 / ||g_{k-1}||^2` (Fletcher–Reeves) or
//!    `beta_PR+ = max(0, <g_k, g_k - g^> / ||g_{k-1}||^2)` (Polak–Ribière+, default);
//! 3. `eta_k = -g_k + beta eta^`;
//! 4. **restart** with `eta_k = -g_k` when `eta_k` is not a sufficient descent direction,
//!    `<g_k, eta_k> > -delta ||g_k|| ||eta_k||` (`delta = 1e-3` by default), every `D` steps
//!    (`D` = dimension of the manifold, the classical `n`-step restart), on the first step and
//!    after a failed line search;
//! 5. linearized exact initial step `t0 = -<l', J eta> / <l'', (J eta)^2>` and Armijo
//!    backtracking `L(R_X(t eta)) <= L(X) + sigma t <g, eta>`. If the line search fails along a
//!    CG direction, the step is retried at once along `-g` (counted as a restart); if it fails
//!    along `-g` as well, `X` is returned unchanged with `step_size = 0`.
//!
//! Restarts are reported by [`StepReport::restarted`] and explained in [`StepReport::note`].
//! The optimizer keeps the previous tangent space, gradient and direction; the memory is only
//! used when the next step starts from the point this optimizer returned (otherwise, and after
//! [`Optimizer::reset`], the step is a steepest-descent step).

use super::linesearch::{armijo, Armijo};
use super::rgd::{initial_step, stationary};
use super::state::{OptimizerState, TtData};
use super::{linearized_step, prepare, Optimizer, StepContext, StepReport};
use crate::error::{Error, Result};
use crate::samples::SampleSet;
use tensor_train::tangent::{TangentSpace, TangentVector};
use tensor_train::TensorTrain;

/// The conjugate-gradient parameter `beta`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CgBeta {
    /// Fletcher–Reeves `||g_k||^2 / ||g_{k-1}||^2`.
    FletcherReeves,
    /// Polak–Ribière+ `max(0, <g_k, g_k - P g_{k-1}> / ||g_{k-1}||^2)` (automatic restart when
    /// the gradient changes direction).
    #[default]
    PolakRibierePlus,
}

/// Configuration of [`Rcg`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RcgConfig {
    /// Formula for `beta` (default PR+).
    pub beta: CgBeta,
    /// Sufficient-descent constant `delta` in `(0, 1)` of the restart test
    /// `<g, eta> > -delta ||g|| ||eta||` (default `1e-3`).
    pub descent_tol: f64,
    /// Restart every this many steps; `None` (default) means `D`, the manifold dimension.
    pub restart_period: Option<usize>,
    /// Armijo backtracking from the linearized exact step.
    pub armijo: Armijo,
}

impl Default for RcgConfig {
    fn default() -> Self {
        RcgConfig {
            beta: CgBeta::default(),
            descent_tol: 1e-3,
            restart_period: None,
            armijo: Armijo::default(),
        }
    }
}

/// What RCG keeps from one step to the next.
#[derive(Debug, Clone)]
struct Memory {
    /// The point returned by the last step (the memory is valid only at this point).
    point: TensorTrain,
    /// Tangent space of the previous iterate.
    ts: TangentSpace,
    /// Previous gradient and direction, tangent at the previous iterate.
    g: TangentVector,
    eta: TangentVector,
    /// `||g_{k-1}||^2`.
    gg: f64,
    /// CG steps since the last steepest-descent step.
    since_restart: usize,
}

/// Serializable form of the RCG memory (the tangent space is rebuilt from `previous`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RcgStateData {
    /// The point the memory is valid at.
    pub point: TtData,
    /// The previous iterate (left-orthogonal form), base of `g` and `eta`.
    pub previous: TtData,
    /// Previous gradient blocks.
    pub g: TtData,
    /// Previous direction blocks.
    pub eta: TtData,
    /// `||g_{k-1}||^2`.
    pub gg: f64,
    /// CG steps since the last steepest-descent step.
    pub since_restart: usize,
}

/// Riemannian conjugate gradient (FR / PR+), transport by projection, linearized exact step
/// with Armijo backtracking.
#[derive(Debug, Clone)]
pub struct Rcg {
    config: RcgConfig,
    memory: Option<Memory>,
}

impl Rcg {
    /// Validate the configuration: `0 < descent_tol < 1`, `restart_period >= 1`, Armijo.
    pub fn new(config: RcgConfig) -> Result<Self> {
        config.armijo.validate()?;
        if !(config.descent_tol > 0.0 && config.descent_tol < 1.0) {
            return Err(Error::param(
                "rcg descent_tol",
                format!("must lie in (0, 1), got {}", config.descent_tol),
            ));
        }
        if config.restart_period == Some(0) {
            return Err(Error::param("rcg restart_period", "must be at least 1"));
        }
        Ok(Rcg {
            config,
            memory: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RcgConfig {
        &self.config
    }
}

impl Optimizer for Rcg {
    fn name(&self) -> String {
        match self.config.beta {
            CgBeta::FletcherReeves => "rcg-fr".into(),
            CgBeta::PolakRibierePlus => "rcg".into(),
        }
    }

    fn reset(&mut self) {
        self.memory = None;
    }

    fn state(&self) -> OptimizerState {
        match &self.memory {
            None => OptimizerState::Stateless,
            Some(m) => OptimizerState::Rcg(RcgStateData {
                point: TtData::from_tt(&m.point),
                previous: TtData::from_tt(m.ts.point()),
                g: TtData::from_blocks(&m.g.blocks),
                eta: TtData::from_blocks(&m.eta.blocks),
                gg: m.gg,
                since_restart: m.since_restart,
            }),
        }
    }

    fn set_state(&mut self, s: &OptimizerState) -> Result<()> {
        match s {
            OptimizerState::Stateless => {
                self.memory = None;
                Ok(())
            }
            OptimizerState::Rcg(d) => {
                let ts = TangentSpace::new(&d.previous.to_tt()?)?;
                let g = TangentVector {
                    blocks: d.g.to_blocks()?,
                };
                let eta = TangentVector {
                    blocks: d.eta.to_blocks()?,
                };
                // validate the block shapes against the rebuilt tangent space
                ts.to_coords(&g)?;
                ts.to_coords(&eta)?;
                self.memory = Some(Memory {
                    point: d.point.to_tt()?,
                    ts,
                    g,
                    eta,
                    gg: d.gg,
                    since_restart: d.since_restart,
                });
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
        let par = ctx.par;
        let memory = self.memory.take().filter(|m| m.point.cores() == x.cores());
        let p = prepare(x, data, ctx.loss, par)?;
        let g = p.gradient(data, par)?;
        let gg = g.dot(&g);
        super::check_finite(gg, "the squared norm of the Riemannian gradient")?;
        if gg == 0.0 {
            return Ok((x.clone(), stationary(p.loss)));
        }
        let period = self
            .config
            .restart_period
            .unwrap_or_else(|| p.ts.dim().max(1));
        let mut restarted = false;
        let mut note: Option<String> = None;
        let mut cg_dir: Option<(TangentVector, usize)> = None;
        if let Some(m) = memory {
            if m.since_restart + 1 >= period {
                restarted = true;
                note = Some(format!("periodic restart after {period} steps"));
            } else {
                let eta_t = p.ts.transport(&m.ts, &m.eta)?;
                let beta = match self.config.beta {
                    CgBeta::FletcherReeves => gg / m.gg,
                    CgBeta::PolakRibierePlus => {
                        let g_t = p.ts.transport(&m.ts, &m.g)?;
                        ((gg - g.dot(&g_t)) / m.gg).max(0.0)
                    }
                };
                let mut cand = eta_t.scaled(beta);
                cand.axpy(-1.0, &g);
                let slope = g.dot(&cand);
                if !(beta.is_finite() && slope.is_finite()) {
                    restarted = true;
                    note = Some("restart: non-finite CG coefficient".into());
                } else if slope > -self.config.descent_tol * gg.sqrt() * cand.norm() {
                    restarted = true;
                    note = Some(format!(
                        "restart: not a descent direction (beta = {beta:.3e})"
                    ));
                } else {
                    cg_dir = Some((cand, m.since_restart + 1));
                }
            }
        }
        let feasible = |eta: &TangentVector| -> Result<f64> {
            let jeta = p.tangent_values(data, eta, par)?;
            Ok(initial_step(linearized_step(
                p.d1.view(),
                p.d2.view(),
                jeta.view(),
            )))
        };
        let mut trials = 0;
        if let Some((eta, since)) = cg_dir {
            let slope = g.dot(&eta);
            let t0 = feasible(&eta)?;
            let ls = armijo(
                &p,
                None,
                &eta,
                t0,
                0.0,
                slope,
                data,
                ctx.loss,
                par,
                &self.config.armijo,
            )?;
            trials += ls.trials;
            if let Some(next) = ls.x {
                self.memory = Some(Memory {
                    point: next.clone(),
                    ts: p.ts,
                    g,
                    eta,
                    gg,
                    since_restart: since,
                });
                return Ok((
                    next,
                    StepReport {
                        loss: Some(ls.loss),
                        step_size: ls.alpha,
                        restarted,
                        trials,
                        note,
                    },
                ));
            }
            restarted = true;
            note = Some("restart: line search failed along the CG direction".into());
        }
        // steepest descent (first step, restart, or retry after a failed CG line search)
        let eta = g.scaled(-1.0);
        let t0 = feasible(&eta)?;
        let ls = armijo(
            &p,
            None,
            &eta,
            t0,
            0.0,
            -gg,
            data,
            ctx.loss,
            par,
            &self.config.armijo,
        )?;
        trials += ls.trials;
        match ls.x {
            Some(next) => {
                self.memory = Some(Memory {
                    point: next.clone(),
                    ts: p.ts,
                    g,
                    eta,
                    gg,
                    since_restart: 0,
                });
                Ok((
                    next,
                    StepReport {
                        loss: Some(ls.loss),
                        step_size: ls.alpha,
                        restarted,
                        trials,
                        note,
                    },
                ))
            }
            None => {
                let msg = "Armijo line search failed along the negative gradient";
                let note = Some(match note {
                    Some(n) => format!("{n}; {msg}"),
                    None => msg.to_string(),
                });
                Ok((
                    x.clone(),
                    StepReport {
                        loss: Some(p.loss),
                        step_size: 0.0,
                        restarted,
                        trials,
                        note,
                    },
                ))
            }
        }
    }
}
