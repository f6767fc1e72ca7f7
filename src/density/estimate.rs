//! The high-level density fit from a sample matrix: settings in, a normalized [`SquaredTt`]
//! with its model-file metadata out. `ttfit density` and the Python `TTDensity` both call
//! [`estimate`], so the same samples and settings give the same model through either.
//!
//! The steps: the feature map (the domain box given or inferred from the samples with a 1 %
//! margin; standardization for a Gaussian-measure basis), the check that every sample lies in
//! the box (a density on the box gives 0 to the others, an infinite forward KL), the seeded
//! validation split, the uniform start ([`super::uniform_start`]) and [`fit_density`], whose
//! best-validation iterate (or last iterate, without validation) is returned.

use super::fit::{fit_density, DensityConfig, DensityFit, DensityRecord};
use super::SquaredTt;
use crate::basis::{Basis, FeatureMap, InputMap, Measure, OutsidePolicy};
use crate::data::split::{split_indices, SplitSize};
use crate::error::{Error, Result};
use crate::model::FunctionalTT;
use crate::model_file::TrainingInfo;
use ndarray::{Array2, ArrayView2};
use tensor_train::linalg::Par;
use tensor_train::TensorTrain;

/// Relative widening of an inferred domain box (as `ttfit density`).
pub const DENSITY_DOMAIN_MARGIN: f64 = 0.01;

/// Everything that defines a density fit from samples (the options of `ttfit density`).
#[derive(Debug, Clone, PartialEq)]
pub struct DensitySettings {
    /// Variable names (one per column of the samples).
    pub names: Vec<String>,
    /// Basis of every variable.
    pub basis: Basis,
    /// TT ranks of `ψ`: one value for every bond, or the `d - 1` bond ranks.
    pub rank: Vec<usize>,
    /// Optimizer name of [`super::fit::DENSITY_OPTIMIZERS`].
    pub optimizer: String,
    /// Iterations.
    pub max_iter: usize,
    /// Relative training-loss change below which an iteration counts as stalled (3 stop).
    pub rel_tol: f64,
    /// Held-out rows for the best-validation iterate (`None`: the last iterate).
    pub validation: Option<SplitSize>,
    /// Seed of the validation split and the start point.
    pub seed: u64,
    /// Domain box `(lo, hi)` per variable (default: inferred, see the module docs).
    pub domain: Option<Vec<(f64, f64)>>,
    /// Where the samples came from (recorded in the model file).
    pub data_source: Option<String>,
}

impl Default for DensitySettings {
    /// The defaults of `ttfit density` (without names).
    fn default() -> Self {
        DensitySettings {
            names: vec![],
            basis: Basis::Legendre { n: 8 },
            rank: vec![2],
            optimizer: "ngd-nesterov-fisher".into(),
            max_iter: 100,
            rel_tol: 1e-10,
            validation: Some(SplitSize::Fraction(0.2)),
            seed: 0,
            domain: None,
            data_source: None,
        }
    }
}

/// A fitted density with its metadata and history.
#[derive(Debug, Clone)]
pub struct Estimated {
    /// The density `p = ψ^2 ρ_μ`, `||Ψ||_F = 1`.
    pub model: SquaredTt,
    /// What the model file records (errors are mean negative log-likelihoods, nats).
    pub info: TrainingInfo,
    /// The optimizer's run (history, best iteration).
    pub fit: DensityFit,
}

impl DensitySettings {
    /// The internal ranks `r_1 .. r_{d-1}` for `d` variables.
    pub fn ranks(&self, d: usize) -> Result<Vec<usize>> {
        match self.rank.as_slice() {
            [r] => Ok(vec![*r; d.saturating_sub(1)]),
            r if r.len() + 1 == d => Ok(r.to_vec()),
            r => Err(Error::param(
                "rank",
                format!(
                    "{} values for {d} variables; give one value or d - 1 = {}",
                    r.len(),
                    d.saturating_sub(1)
                ),
            )),
        }
    }

    /// The feature map for the samples `x` (module docs).
    pub fn feature_map(&self, x: ArrayView2<'_, f64>) -> Result<FeatureMap> {
        let d = x.ncols();
        let maps: Vec<InputMap> = if self.basis.measure() == Measure::Gaussian {
            crate::data::infer_standardization(x)?.0
        } else {
            match &self.domain {
                Some(b) if b.len() != d => {
                    return Err(Error::param(
                        "domain",
                        format!("{} intervals for {d} variables", b.len()),
                    ))
                }
                Some(b) => {
                    for (k, &(lo, hi)) in b.iter().enumerate() {
                        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                            return Err(Error::param(
                                "domain",
                                format!("interval {} is [{lo}, {hi}]; need finite lo < hi", k + 1),
                            ));
                        }
                    }
                    b.iter()
                        .map(|&(lo, hi)| InputMap::interval(lo, hi))
                        .collect()
                }
                None => crate::data::infer_domain(x, DENSITY_DOMAIN_MARGIN)?
                    .bounds
                    .iter()
                    .map(|&(lo, hi)| InputMap::interval(lo, hi))
                    .collect(),
            }
        };
        FeatureMap::with_basis(self.basis.clone(), maps, self.names.clone())
    }
}

/// Fit a density to the samples `x` (`N x d`, rows are draws). `observer` sees every record
/// and iterate; returning `false` stops the fit. A sample outside the domain box is
/// [`Error::OutsideDomain`] (its row and variable), which callers translate into their own
/// advice.
pub fn estimate(
    settings: &DensitySettings,
    x: ArrayView2<'_, f64>,
    par: Par,
    observer: &mut dyn FnMut(&DensityRecord, &TensorTrain) -> bool,
) -> Result<Estimated> {
    let (n, d) = x.dim();
    if d == 0 || n == 0 {
        return Err(Error::data(
            "density samples",
            format!("{n} rows and {d} columns; need at least one of each"),
        ));
    }
    if settings.names.len() != d {
        return Err(Error::data(
            "density samples",
            format!("{d} columns but {} variable names", settings.names.len()),
        ));
    }
    if let Some(((i, k), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::data(
            format!("density samples, row {}", i + 1),
            format!("{} = {v} is not finite", settings.names[k]),
        ));
    }
    let ranks = settings.ranks(d)?;
    let fm = settings.feature_map(x)?;
    fm.features(x, OutsidePolicy::Error)?;
    let (train_idx, valid_idx) = match settings.validation {
        None => ((0..n).collect::<Vec<_>>(), None),
        Some(size) => {
            let parts = split_indices(n, &[(size, "validation")], settings.seed)?;
            (parts[0].clone(), Some(parts[1].clone()))
        }
    };
    let pick = |idx: &[usize]| Array2::from_shape_fn((idx.len(), d), |(i, k)| x[[idx[i], k]]);
    let xt = pick(&train_idx);
    let xv = valid_idx.as_deref().map(pick);
    let cfg = DensityConfig {
        ranks: ranks.clone(),
        optimizer: DensityConfig::optimizer_from_name(&settings.optimizer)?,
        max_iter: settings.max_iter,
        rel_tol: settings.rel_tol,
        seed: settings.seed,
        ..Default::default()
    };
    cfg.validate()?;
    tensor_train::check_ranks(&fm.mode_sizes(), &ranks)
        .map_err(|e| Error::param("rank", e.to_string()))?;
    let start = super::uniform_start(&fm, &ranks, cfg.start_delta, settings.seed)?;
    let fit = fit_density(
        &fm,
        xt.view(),
        xv.as_ref().map(|v| v.view()),
        start,
        &cfg,
        par,
        observer,
    )?;
    let last = fit
        .history
        .last()
        .ok_or_else(|| Error::param("density fit", "empty history"))?;
    let chosen = fit.best_iteration.map_or(last, |i| &fit.history[i]);
    let info = TrainingInfo {
        ttfit_version: env!("CARGO_PKG_VERSION").into(),
        optimizer: settings.optimizer.clone(),
        optimizer_config: serde_json::to_value(&cfg.optimizer).ok(),
        iterations: last.iteration,
        seconds: last.seconds,
        stop_reason: if last.iteration >= settings.max_iter {
            "max-iter".into()
        } else {
            "stalled".into()
        },
        n_train: xt.nrows(),
        train_error: chosen.train_nll,
        validation_error: chosen.validation_nll,
        test_error: None,
        seed: settings.seed,
        target: "density".into(),
        classification: None,
        data_source: settings.data_source.clone(),
        settings: Some(serde_json::json!({
            "density": {
                "errors": "train_error and validation_error are mean negative log-likelihoods (nats) of the returned iterate",
                "returned_iteration": chosen.iteration,
                "ranks": ranks,
                "basis": settings.basis.to_string(),
                "max_iter": settings.max_iter,
                "validation": match settings.validation {
                    None => "0".to_string(),
                    Some(SplitSize::Fraction(f)) => f.to_string(),
                    Some(SplitSize::Count(c)) => c.to_string(),
                },
            }
        })),
    };
    let model = SquaredTt::new(FunctionalTT::new(fm, fit.tt.clone())?)?;
    Ok(Estimated { model, info, fit })
}
