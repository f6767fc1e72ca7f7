//! Momentum against plain NGD on exact low-rank targets (issue 9, "Must show"): for seeds 0-4,
//! the iterations `ngd`, `ngd-hb` and `ngd-nesterov` need to reach a relative training error
//! below 1e-10, on a random functional TT of rank 3 or 4 (6 inputs, Legendre features, 4000
//! samples) fitted at rank 4 with legendre:8 (over-parametrized for the rank-3 target).
//!
//! Run: `cargo run --release --example momentum_check [-- --optimizers ngd,ngd-hb-pop]`

use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ttfit::basis::Basis;
use ttfit::data::Dataset;
use ttfit::fit::{fit, FitConfig};
use ttfit::optim::OptimizerConfig;

fn target(d: usize, n: usize, r: usize, n_train: usize) -> ttfit::Result<Dataset> {
    let mut rng = StdRng::seed_from_u64(2026 + r as u64);
    let model = ttfit::functions::random_smooth_model(d, n, r, &mut rng)?;
    let x = Array2::from_shape_fn((n_train, d), |_| rng.random_range(-1.0..1.0));
    let y: Array1<f64> = model
        .predict(x.view(), ttfit::basis::OutsidePolicy::Error)?
        .values;
    Dataset::new(x, y, None, model.input_names(), "y")
}

fn main() -> ttfit::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let names: Vec<String> = args
        .iter()
        .position(|a| a == "--optimizers")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(String::from).collect())
        .unwrap_or_else(|| vec!["ngd".into(), "ngd-hb".into(), "ngd-nesterov".into()]);
    let d = 6;
    println!("iterations to train error < 1e-10 (final error, stop) per seed; fit rank 4, legendre:8, 4000 samples, d = {d}");
    for target_rank in [3, 4] {
        let data = target(d, 5, target_rank, 4000)?;
        println!("\n## target rank {target_rank}");
        for name in &names {
            let mut row = format!("{name:<16}");
            for seed in 0..5 {
                let mut cfg = FitConfig {
                    basis: Basis::Legendre { n: 8 },
                    rank: vec![4],
                    seed,
                    domain: Some(vec![(-1.0, 1.0); d]),
                    optimizer: OptimizerConfig::from_name(name)?,
                    ..FitConfig::default()
                };
                cfg.stopping.max_iter = 200;
                cfg.stopping.rel_tol = 0.0;
                let f = fit(&cfg, &data, None, |_: &ttfit::train::IterationRecord| {})?;
                let hit = f
                    .result
                    .history
                    .iter()
                    .find(|h| h.train_error < 1e-10)
                    .map(|h| h.iteration.to_string())
                    .unwrap_or_else(|| "-".into());
                let last = f
                    .result
                    .history
                    .last()
                    .map(|h| h.train_error)
                    .unwrap_or(f64::NAN);
                row.push_str(&format!(
                    " | {hit:>4} ({last:.1e}, {} it, {} restarts)",
                    f.result.history.len() - 1,
                    f.result.restarts
                ));
            }
            println!("{row}");
        }
    }
    Ok(())
}
