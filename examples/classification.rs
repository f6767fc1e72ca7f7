//! Cross-entropy classification with functional TTs (issue 12, 5(d)): iterations and seconds
//! to reach a target training loss for RGD, NGD (Fisher scoring), NGD-HB and NGD-Nesterov,
//! on
//! - **xor**: `d = 2`, labels `y ~ Bernoulli(sigma(6 x_1 x_2))` (a noisy XOR: the Bayes logit
//!   is rank one, so the loss has a finite minimizer), logistic loss, rank 2, `legendre:4`;
//! - **d10**: `d = 10`, labels `y ~ Bernoulli(sigma(z(x)))` with
//!   `z = 4 (sin(x_1 + x_2) x_3 + cos(2 x_4 x_5) - 0.8 + x_6 x_7 + x_8 / 2 - x_9 x_10 / 2)`,
//!   20000 samples, logistic loss, rank 2, `legendre:4`;
//! - **softmax3**: `d = 4`, three classes by the argmax of three noisy scores, softmax loss
//!   over a one-hot class mode (MATH.md §8), rank 3, `legendre:4`.
//!
//! The target is the training loss within `tol` (relative) of the best loss any method reached
//! in the budget, for `tol = 1e-3` and `1e-6`. Test accuracy and log-loss are on 20000 fresh
//! points. Convergence plots of the training loss (the plots' "error" axis shows
//! `loss - best + 1e-16`) are written to `target/classification/<problem>/`.
//!
//! Run: `cargo run --release --example classification [-- --iters 100 --problems xor,d10,softmax3]`

use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;
use tensor_train::linalg::Par;
use tensor_train::{clamp_ranks, TensorTrain};
use ttfit::basis::Basis;
use ttfit::classify;
use ttfit::loss::{sigmoid, Logistic, Loss, Softmax};
use ttfit::optim::momentum::BetaSchedule;
use ttfit::optim::{predict, OptimizerConfig};
use ttfit::report::{plot_convergence, RunRecord};
use ttfit::samples::SampleSet;
use ttfit::train::{StoppingRules, Trainer};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

struct Problem {
    name: &'static str,
    train: SampleSet,
    test: SampleSet,
    test_labels: Vec<usize>,
    classes: usize,
    softmax: bool,
    modes: Vec<usize>,
    rank: usize,
}

fn features(pts: &Array2<f64>, n: usize) -> Vec<Array2<f64>> {
    pts.columns()
        .into_iter()
        .map(|c| Basis::legendre(n).eval(c))
        .collect()
}

fn binary(
    name: &'static str,
    d: usize,
    n: usize,
    rank: usize,
    n_train: usize,
    logit: impl Fn(ndarray::ArrayView1<'_, f64>) -> f64,
) -> ttfit::Result<Problem> {
    let mut rng = StdRng::seed_from_u64(12);
    let mut draw = |count: usize| -> ttfit::Result<(SampleSet, Vec<usize>)> {
        let pts = Array2::<f64>::from_shape_simple_fn((count, d), || rng.random_range(-1.0..1.0));
        let labels: Vec<usize> = pts
            .rows()
            .into_iter()
            .map(|p| (rng.random::<f64>() < sigmoid(logit(p))) as usize)
            .collect();
        let y = Array1::from_iter(labels.iter().map(|&l| l as f64));
        Ok((SampleSet::new(features(&pts, n), y, None)?, labels))
    };
    let (train, _) = draw(n_train)?;
    let (test, test_labels) = draw(20_000)?;
    Ok(Problem {
        name,
        train,
        test,
        test_labels,
        classes: 2,
        softmax: false,
        modes: vec![n; d],
        rank,
    })
}

fn softmax3() -> ttfit::Result<Problem> {
    let (d, n, c) = (4, 4, 3);
    let mut rng = StdRng::seed_from_u64(13);
    let mut draw = |count: usize| -> ttfit::Result<(SampleSet, Vec<usize>)> {
        let pts = Array2::<f64>::from_shape_simple_fn((count, d), || rng.random_range(-1.0..1.0));
        let labels: Vec<usize> = pts
            .rows()
            .into_iter()
            .map(|p| {
                let s = [
                    2.0 * p[0] * p[1] + 0.5 * rng.random_range(-1.0..1.0),
                    (3.0 * p[2]).sin() + 0.5 * rng.random_range(-1.0..1.0),
                    p[3] * p[3] - 0.3 + 0.5 * rng.random_range(-1.0..1.0),
                ];
                (0..3)
                    .max_by(|&a, &b| s[a].total_cmp(&s[b]))
                    .expect("three scores")
            })
            .collect();
        Ok((
            classify::expand_classes(&features(&pts, n), &labels, c, None)?,
            labels,
        ))
    };
    let (train, _) = draw(3000)?;
    let (test, test_labels) = draw(20_000)?;
    let mut modes = vec![n; d];
    modes.push(c);
    Ok(Problem {
        name: "softmax3",
        train,
        test,
        test_labels,
        classes: c,
        softmax: true,
        modes,
        rank: 3,
    })
}

fn main() -> ttfit::Result<()> {
    let iters: usize = arg("--iters").and_then(|s| s.parse().ok()).unwrap_or(100);
    let wanted = arg("--problems").unwrap_or_else(|| "xor,d10,softmax3".into());
    // the adaptive presets, fixed-beta momentum (beta = 0.5, Armijo on alpha), and the
    // population-metric family (RGD with momentum)
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
    for name in wanted.split(',') {
        let pb = match name {
            "xor" => binary("xor", 2, 4, 2, 2000, |p| 6.0 * p[0] * p[1])?,
            "d10" => binary("d10", 10, 4, 2, 20_000, |p| {
                4.0 * ((p[0] + p[1]).sin() * p[2] + (2.0 * p[3] * p[4]).cos() - 0.8
                    + p[5] * p[6]
                    + 0.5 * p[7]
                    - 0.5 * p[8] * p[9])
            })?,
            "softmax3" => softmax3()?,
            other => {
                eprintln!("unknown problem {other}; choose xor, d10, softmax3");
                std::process::exit(2)
            }
        };
        // per-row loss -> per-sample log-loss
        let per_sample = if pb.softmax { pb.classes as f64 } else { 1.0 };
        let x0 = start(&pb.modes, pb.rank)?;
        let mut runs = Vec::new();
        let mut finals = Vec::new();
        for m in methods {
            let mut opt = optimizer(m)?.build()?;
            let rules = StoppingRules {
                max_iter: iters,
                rel_tol: 0.0,
                ..StoppingRules::default()
            };
            let t0 = Instant::now();
            let fit = Trainer::new(rules).seed(0).loss(loss_box(&pb)).run(
                opt.as_mut(),
                x0.clone(),
                &pb.train,
                None,
                None,
            )?;
            let wall = t0.elapsed().as_secs_f64();
            let z = predict(&fit.tt, &pb.test, Par::Rayon(0))?;
            let probs = classify::probabilities(z.view(), pb.classes, pb.softmax);
            finals.push((
                classify::accuracy(&probs, &pb.test_labels),
                classify::log_loss(&probs, &pb.test_labels),
                wall,
            ));
            runs.push((m, fit));
        }
        let best = runs
            .iter()
            .flat_map(|(_, f)| f.history.iter().map(|h| h.train_loss))
            .fold(f64::INFINITY, f64::min);
        println!(
            "\n## {} (N = {}, modes {:?}, rank {}, {} iterations max; best training log-loss {:.6e})",
            pb.name,
            pb.train.len() / if pb.softmax { pb.classes } else { 1 },
            pb.modes,
            pb.rank,
            iters,
            best * per_sample
        );
        println!("| method | it to 1e-3 | s to 1e-3 | it to 1e-6 | s to 1e-6 | final train log-loss | test accuracy | test log-loss | restarts |");
        println!("|---|---|---|---|---|---|---|---|---|");
        for ((m, fit), (acc, ll, _)) in runs.iter().zip(&finals) {
            let hit = |tol: f64| {
                fit.history
                    .iter()
                    .find(|h| h.train_loss <= best + tol * best.abs())
                    .map(|h| (h.iteration.to_string(), format!("{:.3}", h.seconds)))
                    .unwrap_or(("-".into(), "-".into()))
            };
            let (i3, s3) = hit(1e-3);
            let (i6, s6) = hit(1e-6);
            let last = fit.history.last().map_or(f64::NAN, |h| h.train_loss);
            println!(
                "| {m} | {i3} | {s3} | {i6} | {s6} | {:.6e} | {acc:.4} | {ll:.4e} | {} |",
                last * per_sample,
                fit.restarts
            );
        }
        // plots: the "error" is the loss gap to the best loss
        let records: Vec<RunRecord> = runs
            .iter()
            .map(|(m, fit)| {
                let mut r = RunRecord::new(*m, fit);
                for h in &mut r.history {
                    h.train_error = (h.train_loss - best) * per_sample + 1e-16;
                    h.test_error = None;
                    h.validation_error = None;
                }
                r
            })
            .collect();
        let dir = std::path::PathBuf::from("target/classification").join(pb.name);
        std::fs::create_dir_all(&dir).expect("create the plot folder");
        let files = plot_convergence(
            &records,
            &dir,
            &format!("{}: training log-loss minus the best", pb.name),
        )?;
        println!(
            "plots: {}",
            files[0]
                .parent()
                .map_or(String::new(), |p| p.display().to_string())
        );
    }
    Ok(())
}

/// The start: identity degree-0 slices plus 0.1-scaled noise (a near-constant function, away
/// from the saddle of a small random TT, whose interfaces all vanish), scaled to norm 0.3.
fn start(modes: &[usize], r: usize) -> ttfit::Result<TensorTrain> {
    let mut rng = StdRng::seed_from_u64(1);
    let ranks = clamp_ranks(modes, &vec![r; modes.len() - 1]);
    let mut full = vec![1];
    full.extend(&ranks);
    full.push(1);
    let cores = (0..modes.len())
        .map(|k| {
            ndarray::Array3::from_shape_fn((full[k], modes[k], full[k + 1]), |(a, j, b)| {
                let id = if j == 0 && a == b { 1.0 } else { 0.0 };
                id + 0.1 * rng.random_range(-1.0..1.0)
            })
        })
        .collect();
    let x = TensorTrain::from_cores(cores)?;
    Ok(x.scaled(0.3 / x.norm()?))
}

/// The optimizer of a table row: the named presets, and `<preset>-beta<b>` for a constant
/// momentum factor `b`.
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

fn loss_box(pb: &Problem) -> Box<dyn Loss> {
    if pb.softmax {
        Box::new(Softmax {
            classes: pb.classes,
        })
    } else {
        Box::new(Logistic)
    }
}
