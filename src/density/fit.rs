//! Fitting a squared TT density by forward KL (module docs of [`crate::density`]): the
//! iteration loop, the held-out negative log-likelihood and the best-validation iterate.

use super::{norm_error, reference_log_density, SquaredTtKl};
use crate::basis::{FeatureMap, OutsidePolicy};
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::optim::gram::GramSolver;
use crate::optim::{evaluate, OptimizerConfig, StepContext, StepReport};
use crate::samples::SampleSet;
use crate::train::iteration_rng;
use ndarray::{Array1, ArrayView2};
use std::time::Instant;
use tensor_train::linalg::Par;
use tensor_train::TensorTrain;

/// Optimizer names [`DensityConfig::optimizer_from_name`] accepts, with one line each.
pub const DENSITY_OPTIMIZERS: &[(&str, &str)] = &[
    (
        "rgd",
        "Riemannian gradient descent on the sphere (baseline)",
    ),
    (
        "ngd-fisher",
        "natural gradient, Fisher metric 4 I on the sphere's tangent space",
    ),
    (
        "ngd",
        "natural gradient, empirical Gram J^T diag(2/psi^2) J / N on the sphere's tangent space",
    ),
    ("ngd-hb-fisher", "Heavy-Ball momentum, Fisher metric"),
    ("ngd-nesterov-fisher", "Nesterov momentum, Fisher metric"),
    ("ngd-hb", "Heavy-Ball momentum, empirical Gram"),
    ("ngd-nesterov", "Nesterov momentum, empirical Gram"),
];

/// Configuration of a density fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DensityConfig {
    /// Internal TT ranks `r_1 .. r_{d-1}` of `ψ`.
    pub ranks: Vec<usize>,
    /// The optimizer (RGD, NGD or natural momentum; see [`DENSITY_OPTIMIZERS`]).
    pub optimizer: OptimizerConfig,
    /// Iterations.
    pub max_iter: usize,
    /// Stop when the training loss changes by less than `rel_tol` (relative to `1 + |L|`)
    /// for 3 iterations in a row (0: never).
    pub rel_tol: f64,
    /// Relative size of the random lift of the uniform start ([`super::uniform_start`]).
    pub start_delta: f64,
    /// Seed of the start point (and of mini-batches).
    pub seed: u64,
}

impl Default for DensityConfig {
    fn default() -> Self {
        DensityConfig {
            ranks: vec![],
            optimizer: DensityConfig::optimizer_from_name("ngd-fisher").expect("known name"),
            max_iter: 100,
            rel_tol: 0.0,
            start_delta: 0.1,
            seed: 0,
        }
    }
}

impl DensityConfig {
    /// The optimizer configuration for a name of [`DENSITY_OPTIMIZERS`]: `-fisher` is the
    /// population metric of [`SquaredTtKl`] (the Fisher metric); the empirical metric gets the
    /// dense Cholesky solver (the sphere projection needs `G^{-1}` on coordinates).
    pub fn optimizer_from_name(name: &str) -> Result<OptimizerConfig> {
        let n = name.trim().to_ascii_lowercase();
        if !DENSITY_OPTIMIZERS.iter().any(|(k, _)| *k == n) {
            let known: Vec<&str> = DENSITY_OPTIMIZERS.iter().map(|(k, _)| *k).collect();
            return Err(Error::param(
                "optimizer",
                format!(
                    "'{name}' is not a density optimizer; choose one of {}",
                    known.join(", ")
                ),
            ));
        }
        let mut cfg = OptimizerConfig::from_name(&n.replace("-fisher", "-pop"))?;
        let natural = match &mut cfg {
            OptimizerConfig::Ngd(c) => Some(c),
            OptimizerConfig::Momentum(c) => Some(&mut c.natural),
            _ => None,
        };
        if let Some(c) = natural {
            c.solver = GramSolver::Cholesky { rel_shift: 1e-12 };
        }
        Ok(cfg)
    }

    /// Check the optimizer kind and the ranges.
    pub fn validate(&self) -> Result<()> {
        match &self.optimizer {
            OptimizerConfig::Rgd(_) | OptimizerConfig::Ngd(_) | OptimizerConfig::Momentum(_) => {}
            _ => {
                return Err(Error::param(
                    "optimizer",
                    "density fits support rgd, ngd and natural momentum (they apply the sphere constraint); als, rcg and gd do not",
                ))
            }
        }
        if self.max_iter == 0 {
            return Err(Error::param("iterations", "must be at least 1"));
        }
        if !(self.rel_tol.is_finite() && self.rel_tol >= 0.0) {
            return Err(Error::param(
                "rel_tol",
                format!("must be >= 0, got {}", self.rel_tol),
            ));
        }
        if !(self.start_delta.is_finite() && self.start_delta > 0.0) {
            return Err(Error::param(
                "start delta",
                format!("must be > 0, got {}", self.start_delta),
            ));
        }
        Ok(())
    }
}

/// One iteration of a density fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DensityRecord {
    /// Iteration (0 = the start).
    pub iteration: usize,
    /// Seconds spent in optimizer steps so far.
    pub seconds: f64,
    /// Mean negative log-likelihood of the training samples (Lebesgue density).
    pub train_nll: f64,
    /// Mean negative log-likelihood of the held-out samples, if any.
    pub validation_nll: Option<f64>,
    /// `||Ψ||_F - 1` after the step.
    pub norm_error: f64,
    /// What the step did.
    pub step: StepReport,
}

/// Outcome of [`fit_density`].
#[derive(Debug, Clone)]
pub struct DensityFit {
    /// The returned `ψ`: the best-validation iterate when there is a validation set, else the
    /// last one (`||Ψ||_F = 1`).
    pub tt: TensorTrain,
    /// The iterate of the best held-out NLL (`None` without validation).
    pub best_iteration: Option<usize>,
    /// One record per iteration, the start included.
    pub history: Vec<DensityRecord>,
}

/// The samples of a density fit (targets unused).
pub fn density_samples(features: &FeatureMap, x: ArrayView2<'_, f64>) -> Result<SampleSet> {
    let feats = features.features(x, OutsidePolicy::Error)?;
    SampleSet::new(feats, Array1::zeros(x.nrows()), None)
}

/// Fit `ψ` from `start` (normalized here) on the training rows `train`, tracking the held-out
/// NLL on `valid`. `observer` sees every record and iterate; returning `false` stops the fit.
pub fn fit_density(
    features: &FeatureMap,
    train: ArrayView2<'_, f64>,
    valid: Option<ArrayView2<'_, f64>>,
    start: TensorTrain,
    cfg: &DensityConfig,
    par: Par,
    observer: &mut dyn FnMut(&DensityRecord, &TensorTrain) -> bool,
) -> Result<DensityFit> {
    cfg.validate()?;
    let loss = SquaredTtKl;
    let tr = density_samples(features, train)?;
    let va = valid.map(|v| density_samples(features, v)).transpose()?;
    // -mean log rho_mu: the constant turning the loss (NLL w.r.t. mu) into the Lebesgue NLL
    let shift = |x: ArrayView2<'_, f64>| -> Result<f64> {
        Ok(-reference_log_density(features, x)?.mean().unwrap_or(0.0))
    };
    let tr_shift = shift(train)?;
    let va_shift = valid.map(shift).transpose()?;
    let mut opt = cfg.optimizer.build()?;
    let mut x = super::normalized(&start)?;
    let (l0, pred0) = evaluate(&x, &tr, &loss, par)?;
    if !l0.is_finite() {
        let zero = pred0.iter().position(|v| *v == 0.0).unwrap_or(0);
        return Err(Error::param(
            "density start",
            format!("the start model vanishes at training row {} (zero density): change --seed or the start", zero + 1),
        ));
    }
    let valid_nll = |x: &TensorTrain| -> Result<Option<f64>> {
        match (&va, va_shift) {
            (Some(v), Some(s)) => Ok(Some(evaluate(x, v, &loss, par)?.0 + s)),
            _ => Ok(None),
        }
    };
    let rec0 = DensityRecord {
        iteration: 0,
        seconds: 0.0,
        train_nll: l0 + tr_shift,
        validation_nll: valid_nll(&x)?,
        norm_error: norm_error(&x)?,
        step: StepReport {
            loss: Some(l0),
            ..Default::default()
        },
    };
    let mut best = rec0.validation_nll.map(|v| (v, 0, x.clone()));
    let mut go_on = observer(&rec0, &x);
    let mut history = vec![rec0];
    let (mut seconds, mut prev, mut stalled) = (0.0, l0, 0);
    let mut it = 0;
    while go_on && it < cfg.max_iter {
        it += 1;
        let t0 = Instant::now();
        let mut rng = iteration_rng(cfg.seed, it);
        let mut ctx = StepContext {
            loss: &loss,
            par,
            rng: &mut rng,
            iteration: it - 1,
        };
        let (next, report) = opt.step(&x, &tr, &mut ctx)?;
        seconds += t0.elapsed().as_secs_f64();
        let l = match (report.loss, opt.take_train_predictions()) {
            (Some(l), _) => l,
            (None, Some(p)) if p.len() == tr.len() => loss.value(p.view(), tr.targets(), None),
            _ => evaluate(&next, &tr, &loss, par)?.0,
        };
        let moved = report.step_size != 0.0;
        x = next;
        let rec = DensityRecord {
            iteration: it,
            seconds,
            train_nll: l + tr_shift,
            validation_nll: valid_nll(&x)?,
            norm_error: norm_error(&x)?,
            step: report,
        };
        if let Some(v) = rec.validation_nll {
            if best.as_ref().is_none_or(|b| v < b.0) {
                best = Some((v, it, x.clone()));
            }
        }
        go_on = observer(&rec, &x) && moved;
        history.push(rec);
        if cfg.rel_tol > 0.0 {
            if (prev - l).abs() <= cfg.rel_tol * (1.0 + l.abs()) {
                stalled += 1;
                go_on &= stalled < 3;
            } else {
                stalled = 0;
            }
        }
        prev = l;
    }
    Ok(match best {
        Some((_, i, b)) => DensityFit {
            tt: b,
            best_iteration: Some(i),
            history,
        },
        None => DensityFit {
            tt: x,
            best_iteration: None,
            history,
        },
    })
}
