//! A `d = 2` TT on which NGD stalls (issue 12, 5(f)).
//!
//! The slides' toy `v = theta_1 b_1 + theta_1^2 b_2` is a one-parameter curve in function
//! space; a fixed-rank TT manifold is never a curve (the smallest, rank 1 with two features
//! per variable, is the 3-dimensional manifold of rank-one 2x2 coefficient matrices), so the
//! toy itself cannot be expressed. Its phenomenon can: a stationary point of the model class
//! that is not the minimizer. Rank-one fit of `u = phi_0 (x) phi_0 + s phi_1 (x) phi_1`
//! (`s = 0.9`, Legendre features, least squares on 2000 uniform samples), started at
//! `X_0 = s (phi_1 + eps phi_0) (x) (phi_1 + eps phi_0)` next to the saddle `s phi_1 (x) phi_1`
//! (the second singular pair): the component `phi_0 (x) phi_0` of the residual is normal to
//! the tangent space there, so every method sees a tiny gradient and must first escape the
//! plateau. The table gives iterations and seconds until the training loss is within
//! `1e-6` (relative) of the best loss any method reached, for `eps = 1e-2, 1e-4, 1e-6`.
//!
//! Run: `cargo run --release --example stall_toy [-- --iters 200]`; plots go to
//! `target/stall_toy/eps<e>/`.

use ndarray::{Array1, Array2, Array3};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tensor_train::TensorTrain;
use ttfit::basis::Basis;
use ttfit::loss::LeastSquares;
use ttfit::optim::momentum::BetaSchedule;
use ttfit::optim::OptimizerConfig;
use ttfit::report::{plot_convergence, RunRecord};
use ttfit::samples::SampleSet;
use ttfit::train::{StoppingRules, Trainer};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn optimizer(name: &str) -> ttfit::Result<OptimizerConfig> {
    match name.split_once("-beta") {
        Some((base, beta)) => {
            let mut cfg = OptimizerConfig::from_name(base)?;
            if let OptimizerConfig::Momentum(m) = &mut cfg {
                m.momentum.schedule = BetaSchedule::Constant;
                m.momentum.beta = beta.parse().expect("a number after -beta");
            }
            Ok(cfg)
        }
        None => OptimizerConfig::from_name(name),
    }
}

fn main() -> ttfit::Result<()> {
    let iters: usize = arg("--iters").and_then(|s| s.parse().ok()).unwrap_or(200);
    let s = 0.9;
    let mut rng = StdRng::seed_from_u64(5);
    let pts = Array2::<f64>::from_shape_simple_fn((2000, 2), || rng.random_range(-1.0..1.0));
    let feats: Vec<Array2<f64>> = pts
        .columns()
        .into_iter()
        .map(|c| Basis::legendre(2).eval(c))
        .collect();
    let y = Array1::from_shape_fn(pts.nrows(), |i| {
        feats[0][[i, 0]] * feats[1][[i, 0]] + s * feats[0][[i, 1]] * feats[1][[i, 1]]
    });
    let data = SampleSet::new(feats, y, None)?;
    let methods = [
        "rgd",
        "ngd",
        "ngd-hb",
        "ngd-nesterov",
        "ngd-hb-beta0.5",
        "ngd-nesterov-beta0.5",
        "ngd-pop",
        "ngd-hb-pop",
        "ngd-nesterov-pop",
    ];
    for eps in [1e-2, 1e-4, 1e-6] {
        let v: Array1<f64> = Array1::from(vec![eps, 1.0]);
        let v = &v / v.dot(&v).sqrt();
        let c1 = Array3::from_shape_fn((1, 2, 1), |(_, j, _)| s * v[j]);
        let c2 = Array3::from_shape_fn((1, 2, 1), |(_, j, _)| v[j]);
        let x0 = TensorTrain::from_cores(vec![c1, c2])?;
        let mut runs = Vec::new();
        for m in methods {
            let mut opt = optimizer(m)?.build()?;
            let rules = StoppingRules {
                max_iter: iters,
                rel_tol: 0.0,
                stall_patience: usize::MAX,
                ..StoppingRules::default()
            };
            let fit = Trainer::new(rules)
                .seed(0)
                .loss(Box::new(LeastSquares))
                .run(opt.as_mut(), x0.clone(), &data, None, None)?;
            runs.push((m, fit));
        }
        let best = runs
            .iter()
            .flat_map(|(_, f)| f.history.iter().map(|h| h.train_loss))
            .fold(f64::INFINITY, f64::min);
        let start = runs[0].1.history[0].train_loss;
        println!(
            "\n## eps = {eps:e}: start loss {start:.6e}, best loss {best:.6e} ({iters} iterations max)"
        );
        println!("| method | it to 1e-6 | s to 1e-6 | final loss | restarts |");
        println!("|---|---|---|---|---|");
        for (m, fit) in &runs {
            let hit = fit
                .history
                .iter()
                .find(|h| h.train_loss <= best * (1.0 + 1e-6))
                .map(|h| (h.iteration.to_string(), format!("{:.4}", h.seconds)))
                .unwrap_or(("-".into(), "-".into()));
            let last = fit.history.last().map_or(f64::NAN, |h| h.train_loss);
            println!(
                "| {m} | {} | {} | {last:.6e} | {} |",
                hit.0, hit.1, fit.restarts
            );
        }
        let records: Vec<RunRecord> = runs
            .iter()
            .map(|(m, fit)| {
                let mut r = RunRecord::new(*m, fit);
                for h in &mut r.history {
                    h.train_error = h.train_loss - best + 1e-16;
                }
                r
            })
            .collect();
        let dir = std::path::PathBuf::from(format!("target/stall_toy/eps{eps:e}"));
        std::fs::create_dir_all(&dir).expect("create the plot folder");
        plot_convergence(
            &records,
            &dir,
            &format!("stall toy, eps = {eps:e}: loss minus the best"),
        )?;
    }
    Ok(())
}
