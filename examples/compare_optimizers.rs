//! Compare ALS, RGD, RCG, GD, NGD, NGD-HB and NGD-Nesterov on four problems (borehole, OTL
//! circuit, a random functional TT, a 10-D Genz oscillatory function), full batch and
//! mini-batch: iterations and seconds to reach relative test errors 1e-2, 1e-4, 1e-6, final
//! error and restarts. Writes the reports (history.csv, summary.md, plots) under
//! `target/compare_optimizers/<problem>/`.
//!
//! Run: `cargo run --release --example compare_optimizers [-- --time-limit 5 --quick]`

use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;
use ttfit::basis::Basis;
use ttfit::compare::compare;
use ttfit::data::Dataset;
use ttfit::fit::FitConfig;
use ttfit::functions::TestFunction;
use ttfit::optim::OptimizerConfig;
use ttfit::report;

struct Problem {
    name: String,
    train: Dataset,
    test: Dataset,
    basis: Basis,
    rank: usize,
    domain: Vec<(f64, f64)>,
    batch: usize,
}

fn builtin(spec: &str, n: usize, basis: Basis, rank: usize) -> ttfit::Result<Problem> {
    let f = TestFunction::parse(spec)?;
    Ok(Problem {
        name: f.name().to_string()
            + &if f.dim() > 8 {
                format!("-{}d", f.dim())
            } else {
                String::new()
            },
        train: f.sample(n, 1)?,
        test: f.sample(2000, 2)?,
        basis,
        rank,
        domain: f.domain(),
        batch: n / 2,
    })
}

/// A random functional TT on [-1, 1]^d with Legendre features: identity-like degree-0 slices
/// plus noise decaying with the degree (the recovery setup of the learning issue).
fn random_tt_problem(d: usize, n: usize, r: usize, n_train: usize) -> ttfit::Result<Problem> {
    let mut rng = StdRng::seed_from_u64(2026);
    let model = ttfit::functions::random_smooth_model(d, n, r, &mut rng)?;
    let names = model.input_names();
    let domain = vec![(-1.0, 1.0); d];
    let mut draw = |m: usize| -> ttfit::Result<Dataset> {
        let x = Array2::from_shape_fn((m, d), |_| rng.random_range(-1.0..1.0));
        let y: Array1<f64> = model
            .predict(x.view(), ttfit::basis::OutsidePolicy::Error)?
            .values;
        Dataset::new(x, y, None, names.clone(), "y")
    };
    let train = draw(n_train)?;
    let test = draw(2000)?;
    Ok(Problem {
        name: format!("random-tt-{d}d"),
        train,
        test,
        basis: Basis::Legendre { n },
        rank: r,
        domain,
        batch: n_train / 2,
    })
}

fn main() -> ttfit::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let time_limit = args
        .iter()
        .position(|a| a == "--time-limit")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(if quick { 2.0 } else { 8.0 });
    let problems = vec![
        builtin("borehole", 2000, Basis::Legendre { n: 6 }, 4)?,
        builtin("otl", 2000, Basis::Legendre { n: 6 }, 4)?,
        random_tt_problem(6, 5, 3, 3000)?,
        builtin("genz-oscillatory:10", 3000, Basis::Legendre { n: 5 }, 3)?,
    ];
    let full = ["als", "rgd", "rcg", "gd", "ngd", "ngd-hb", "ngd-nesterov"];
    let minibatch = ["ngd", "ngd-hb", "ngd-nesterov"];
    for p in &problems {
        let mut cfg = FitConfig {
            basis: p.basis.clone(),
            rank: vec![p.rank],
            seed: 1,
            domain: Some(p.domain.clone()),
            ..FitConfig::default()
        };
        cfg.stopping.max_iter = if quick { 60 } else { 300 };
        cfg.stopping.time_limit = Some(Duration::from_secs_f64(time_limit));
        cfg.stopping.rel_tol = 1e-13;
        let mut opts: Vec<OptimizerConfig> = full
            .iter()
            .map(|n| OptimizerConfig::from_name(n))
            .collect::<ttfit::Result<_>>()?;
        for n in minibatch {
            let mut oc = OptimizerConfig::from_name(n)?;
            match &mut oc {
                OptimizerConfig::Ngd(c) => c.batch_size = Some(p.batch),
                OptimizerConfig::Momentum(c) => c.natural.batch_size = Some(p.batch),
                _ => {}
            }
            opts.push(oc);
        }
        println!(
            "\n## {} — {} inputs, {} training / {} test samples, {} rank {}, time limit {time_limit} s per optimizer",
            p.name,
            p.train.n_inputs(),
            p.train.n_samples(),
            p.test.n_samples(),
            p.basis,
            p.rank
        );
        let runs = compare(&cfg, &opts, &p.train, Some(&p.test), |_, _| {})?;
        let mut records = Vec::new();
        for run in &runs {
            match &run.result {
                Ok(r) => records.push(report::RunRecord::new(run.name.as_str(), r)),
                Err(e) => println!("{}: failed: {e}", run.name),
            }
        }
        println!(
            "{}",
            report::summary_text(&records, &report::DEFAULT_THRESHOLDS)
        );
        let dir = std::path::Path::new("target/compare_optimizers").join(&p.name);
        report::write_report(&records, &dir, &p.name)?;
    }
    Ok(())
}
