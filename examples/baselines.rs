//! Baseline optimizers compared on accuracy per iteration and per second.
//!
//! Runs ALS, Riemannian GD, Riemannian CG (PR+) and plain GD on the cores, all from the additive
//! (first-order ANOVA) start, plus ALS from a random start (the known trap), on
//! - `recovery`: a random functional TT, d = 6, 5 Legendre features, ranks 3, 3000 noise-free
//!   samples (exactly representable);
//! - `borehole-8` / `borehole-5`: the borehole function, d = 8, 2000 samples, rank 4, 8 or 5
//!   Legendre features per variable.
//!
//! Prints one row per run: iterations, optimizer seconds (evaluation of the test error not
//! counted), final relative test error, and the iterations / seconds at which the relative test
//! error first fell below `1e-2`, `1e-4`, `1e-6`.
//!
//! `cargo run --release --example baselines` (about a minute on 2 cores).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;
use ttfit::init::{initial_tt, Start};
use ttfit::optim::als::{Als, AlsConfig};
use ttfit::optim::gd::{Gd, GdConfig};
use ttfit::optim::rcg::{Rcg, RcgConfig};
use ttfit::optim::rgd::{Rgd, RgdConfig};
use ttfit::optim::Optimizer;
use ttfit::samples::SampleSet;
use ttfit::tensor_train::linalg::Par;
use ttfit::train::{StoppingRules, Trainer};

const THRESHOLDS: [f64; 3] = [1e-2, 1e-4, 1e-6];

struct Problem {
    name: &'static str,
    train: SampleSet,
    test: SampleSet,
    ranks: Vec<usize>,
}

fn main() -> ttfit::Result<()> {
    let rec = common::recovery(3000, 2000, 1);
    let (b8_train, b8_test) = common::borehole_problem(2000, 2000, 8, 2);
    let (b5_train, b5_test) = common::borehole_problem(2000, 2000, 5, 2);
    let problems = vec![
        Problem {
            name: "recovery",
            train: rec.train,
            test: rec.test,
            ranks: common::RECOVERY_RANKS.to_vec(),
        },
        Problem {
            name: "borehole-8",
            train: b8_train,
            test: b8_test,
            ranks: vec![4; 7],
        },
        Problem {
            name: "borehole-5",
            train: b5_train,
            test: b5_test,
            ranks: vec![4; 7],
        },
    ];
    println!(
        "{:<11} {:<5} {:<8} {:>5} {:>7} {:>9}  {:>14} {:>14} {:>14}  stop",
        "problem",
        "opt",
        "start",
        "iters",
        "secs",
        "test err",
        "@1e-2 it/s",
        "@1e-4 it/s",
        "@1e-6 it/s"
    );
    for p in &problems {
        type Run = (&'static str, Start, usize, Box<dyn Optimizer>);
        let runs: Vec<Run> = vec![
            (
                "als",
                Start::Additive,
                30,
                Box::new(Als::new(AlsConfig::default())?),
            ),
            (
                "rgd",
                Start::Additive,
                300,
                Box::new(Rgd::new(RgdConfig::default())?),
            ),
            (
                "rcg",
                Start::Additive,
                300,
                Box::new(Rcg::new(RcgConfig::default())?),
            ),
            (
                "gd",
                Start::Additive,
                300,
                Box::new(Gd::new(GdConfig::default())?),
            ),
            (
                "als",
                Start::Random { scale: 1.0 },
                30,
                Box::new(Als::new(AlsConfig::default())?),
            ),
        ];
        for (name, start, max_iter, mut opt) in runs {
            let x0 = initial_tt(&p.train, &p.ranks, &start, 0)?;
            let rules = StoppingRules {
                max_iter,
                time_limit: Some(Duration::from_secs(4)),
                rel_tol: 1e-12,
                ..Default::default()
            };
            let res = Trainer::new(rules).par(Par::Rayon(0)).run(
                opt.as_mut(),
                x0,
                &p.train,
                None,
                Some(&p.test),
            )?;
            let last = res.history.last().expect("history has the start");
            let at = |tol: f64| -> String {
                match res
                    .history
                    .iter()
                    .find(|r| r.test_error.is_some_and(|e| e <= tol))
                {
                    Some(r) => format!("{}/{:.2}", r.iteration, r.seconds),
                    None => "-".into(),
                }
            };
            let start_name = match start {
                Start::Greedy => "greedy",
                Start::Additive => "additive",
                Start::Random { .. } => "random",
            };
            println!(
                "{:<11} {:<5} {:<8} {:>5} {:>7.2} {:>9.2e}  {:>14} {:>14} {:>14}  {}",
                p.name,
                name,
                start_name,
                last.iteration,
                last.seconds,
                last.test_error.unwrap_or(f64::NAN),
                at(THRESHOLDS[0]),
                at(THRESHOLDS[1]),
                at(THRESHOLDS[2]),
                res.stop
            );
        }
    }
    Ok(())
}
