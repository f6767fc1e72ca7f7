//! Bitwise reproducibility across thread counts: the same fit with `threads = 1, 2, 3` (each in
//! its own rayon pool, in process) gives byte-identical model files and bit-identical
//! predictions, for every optimizer, in full-batch and mini-batch mode, and with the
//! matrix-free PCG solver. This is what `tensor_train::reduce` (fixed chunking and summation
//! order) and the sequential factorizations guarantee.

use ttfit::fit::{fit, FitConfig};
use ttfit::functions::TestFunction;
use ttfit::model_file;
use ttfit::optim::config::{OptimizerConfig, OPTIMIZER_NAMES};
use ttfit::optim::gram::GramSolver;
use ttfit::train::{IterationRecord, StoppingRules};

fn configs() -> Vec<(String, OptimizerConfig)> {
    let mut out: Vec<(String, OptimizerConfig)> = OPTIMIZER_NAMES
        .iter()
        .map(|(name, _)| (name.to_string(), OptimizerConfig::from_name(name).unwrap()))
        .collect();
    // matrix-free natural gradient, and a mini-batch run (random batches from the seed)
    if let OptimizerConfig::Ngd(mut c) = OptimizerConfig::from_name("ngd").unwrap() {
        c.solver = GramSolver::parse("pcg").unwrap();
        out.push(("ngd+pcg".into(), OptimizerConfig::Ngd(c.clone())));
        c.solver = GramSolver::parse("pcg-sub900").unwrap();
        out.push(("ngd+pcg-sub".into(), OptimizerConfig::Ngd(c.clone())));
        c.solver = GramSolver::default();
        c.batch_size = Some(700);
        out.push(("ngd-mb700".into(), OptimizerConfig::Ngd(c)));
    }
    out
}

#[test]
fn fits_are_bitwise_identical_for_1_2_and_3_threads() {
    let f = TestFunction::parse("genz-oscillatory:5").unwrap();
    // 2300 rows: several 256- and 512-row chunks, a partial last chunk
    let train = f.sample(2300, 1).unwrap();
    let test = f.sample(500, 2).unwrap();
    let dir = std::env::temp_dir().join(format!("ttfit-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, opt) in configs() {
        let mut reference: Option<(Vec<u8>, Vec<u64>)> = None;
        for threads in [1usize, 2, 3] {
            let cfg = FitConfig {
                rank: vec![3],
                optimizer: opt.clone(),
                stopping: StoppingRules {
                    max_iter: 3,
                    ..StoppingRules::default()
                },
                threads: Some(threads),
                seed: 4,
                ..FitConfig::default()
            };
            let fitted = fit(&cfg, &train, Some(&test), |_: &IterationRecord| {})
                .unwrap_or_else(|e| panic!("{name}, {threads} threads: {e}"));
            let path = dir.join(format!("{name}-{threads}.json"));
            model_file::save(&fitted.model, None, &path).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            let pred = fitted
                .model
                .predict(test.x.view(), ttfit::basis::OutsidePolicy::Extrapolate)
                .unwrap();
            let bits: Vec<u64> = pred.values.iter().map(|v| v.to_bits()).collect();
            match &reference {
                None => reference = Some((bytes, bits)),
                Some((b0, p0)) => {
                    assert!(
                        &bytes == b0,
                        "{name}: the model file with {threads} threads differs from 1 thread"
                    );
                    assert!(
                        &bits == p0,
                        "{name}: predictions with {threads} threads differ from 1 thread"
                    );
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The adaptive default (`ttfit fit --data train.csv --out model.json`: the learner with ALS,
/// validation, rank and degree search) writes byte-identical model files with 1 and 2
/// threads, with the default budget and with a budget that cuts the search: the budget is
/// counted work (`ttfit::learn::work`), so the cut falls at the same stage whatever the timing.
#[test]
fn the_adaptive_default_is_bitwise_identical_for_1_and_2_threads() {
    let f = TestFunction::parse("borehole").unwrap();
    let train = f.sample(1000, 1).unwrap();
    let dir = std::env::temp_dir().join(format!("ttfit-threads-learn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for budget in [None, Some(0.05)] {
        let mut reference: Option<(Vec<u8>, usize)> = None;
        for threads in [1usize, 2] {
            let cfg = FitConfig {
                optimizer: OptimizerConfig::from_name("als").unwrap(),
                threads: Some(threads),
                learn: Some(ttfit::learn::LearnConfig {
                    time_limit: budget,
                    ..Default::default()
                }),
                ..FitConfig::default()
            };
            let fitted = fit(&cfg, &train, None, |_: &IterationRecord| {}).unwrap();
            let stages = fitted.selection.as_ref().unwrap().stages.len();
            let path = dir.join(format!("learn-{threads}.json"));
            model_file::save(&fitted.model, None, &path).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            match &reference {
                None => reference = Some((bytes, stages)),
                Some((b0, s0)) => {
                    assert_eq!(
                        stages, *s0,
                        "budget {budget:?}: stages with {threads} threads"
                    );
                    assert!(
                        &bytes == b0,
                        "budget {budget:?}: the model file with {threads} threads differs"
                    );
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
