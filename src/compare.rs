//! Run several optimizers on the same data from the same start point: the comparison behind
//! `ttfit compare`, `ttfit demo` and `examples/compare_optimizers.rs`.

use crate::basis::OutsidePolicy;
use crate::data::Dataset;
use crate::error::Result;
use crate::fit::FitConfig;
use crate::init::initial_tt;
use crate::model::sample_set;
use crate::optim::OptimizerConfig;
use crate::train::{FitResult, IterationRecord, Trainer};

/// One optimizer's run in a comparison.
#[derive(Debug, Clone)]
pub struct NamedRun {
    /// Optimizer name (`ngd-nesterov`).
    pub name: String,
    /// Its history and final iterate, or why it failed (a diverging optimizer does not stop
    /// the comparison).
    pub result: std::result::Result<FitResult, String>,
}

/// Run every optimizer in `optimizers` with the stopping rules, bases, ranks, start and seed
/// of `cfg`, on `data` (with the configured validation split) and report test errors on
/// `test`. All runs share the same start point and the same seed. `on_record(name, record)`
/// sees every iteration of every run.
pub fn compare(
    cfg: &FitConfig,
    optimizers: &[OptimizerConfig],
    data: &Dataset,
    test: Option<&Dataset>,
    mut on_record: impl FnMut(&str, &IterationRecord),
) -> Result<Vec<NamedRun>> {
    let bases = cfg.check(data.n_inputs())?;
    let (train, valid) = match cfg.validation {
        Some(f) => {
            let (t, v) = data.split(crate::data::split::SplitSize::Fraction(f), cfg.seed)?;
            (t, Some(v))
        }
        None => (data.clone(), None),
    };
    let features = cfg.feature_map(bases, &train)?;
    let ranks = cfg.ranks(&features.mode_sizes())?;
    let policy = OutsidePolicy::Extrapolate;
    let train_ss = sample_set(&features, &train, policy)?;
    let valid_ss = valid
        .as_ref()
        .map(|v| sample_set(&features, v, policy))
        .transpose()?;
    let test_ss = test.map(|t| sample_set(&features, t, policy)).transpose()?;
    let x0 = initial_tt(&train_ss, &ranks, &cfg.start, cfg.seed)?;
    let mut runs = Vec::with_capacity(optimizers.len());
    for oc in optimizers {
        let mut opt = oc.build()?;
        let name = opt.name();
        let result = Trainer::new(cfg.stopping.clone())
            .par(cfg.par())
            .seed(cfg.seed)
            .observe(|rec: &IterationRecord| on_record(&name, rec))
            .run(
                opt.as_mut(),
                x0.clone(),
                &train_ss,
                valid_ss.as_ref(),
                test_ss.as_ref(),
            )
            .map_err(|e| e.to_string());
        runs.push(NamedRun { name, result });
    }
    Ok(runs)
}
