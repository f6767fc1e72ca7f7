//! Run several optimizers on the same data from the same start point: the comparison behind
//! `ttfit compare`, `ttfit demo` and `examples/compare_optimizers.rs`.

use crate::data::Dataset;
use crate::error::Result;
use crate::fit::FitConfig;
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
    if cfg.loss != crate::fit::LossKind::LeastSquares {
        return Err(crate::error::Error::param(
            "--loss",
            "compare reports relative L2 errors, which do not measure a classifier; compare classifiers with `cargo run --release --example classification` (log-loss tables), or fit each optimizer with `ttfit fit --loss logistic`",
        ));
    }
    let problem = cfg.prepare(data, test)?;
    let mut runs = Vec::with_capacity(optimizers.len());
    for oc in optimizers {
        let mut opt = problem.optimizer(cfg, oc)?;
        let name = opt.name();
        let result = Trainer::new(cfg.stopping.clone())
            .par(cfg.par())
            .seed(cfg.seed)
            .observe(|rec: &IterationRecord| on_record(&name, rec))
            .run(
                opt.as_mut(),
                problem.start.clone(),
                &problem.train,
                problem.valid.as_ref(),
                problem.test.as_ref(),
            )
            .map_err(|e| e.to_string());
        runs.push(NamedRun { name, result });
    }
    Ok(runs)
}
