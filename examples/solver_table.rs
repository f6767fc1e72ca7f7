//! Solver table (issue 11): seconds per iteration and test error after `k` iterations for
//! ALS, dense NGD (Cholesky), matrix-free NGD (block-Jacobi PCG) and matrix-free
//! NGD-Nesterov on the Genz oscillatory function, Legendre features, at given `(d, N, r, n)`.
//!
//! Run: `cargo run --release --example solver_table -- [--sizes 10,100000,8,8;20,20000,4,6]
//! [--iters 3] [--threads 2] [--methods als,ngd-dense,ngd-pcg,nesterov-pcg] [--forcing 1e-4]
//! [--pcg-iters 100] [--subsample m] [--time-limit s]`
//!
//! Seconds are optimizer seconds (the trainer excludes the evaluation of test errors); the
//! test set has 10,000 points. Peak memory is the process's `VmHWM` at the end of each row
//! (Linux), i.e. the maximum over this row and the rows before it.

use std::time::Duration;
use ttfit::basis::Basis;
use ttfit::fit::{fit, FitConfig};
use ttfit::functions::TestFunction;
use ttfit::optim::gram::GramSolver;
use ttfit::optim::OptimizerConfig;
use ttfit::train::{IterationRecord, StoppingRules};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn optimizer(method: &str) -> ttfit::Result<OptimizerConfig> {
    let set = |mut c: OptimizerConfig, s: GramSolver| {
        match &mut c {
            OptimizerConfig::Ngd(n) => n.solver = s,
            OptimizerConfig::Momentum(n) => n.natural.solver = s,
            _ => {}
        }
        c
    };
    let chol = GramSolver::Cholesky { rel_shift: 1e-12 };
    let pcg = match GramSolver::parse("pcg")? {
        GramSolver::Pcg {
            rel_shift,
            max_iter,
            forcing,
            subsample,
        } => GramSolver::Pcg {
            rel_shift,
            max_iter: arg("--pcg-iters")
                .and_then(|s| s.parse().ok())
                .unwrap_or(max_iter),
            forcing: arg("--forcing")
                .and_then(|s| s.parse().ok())
                .unwrap_or(forcing),
            subsample: arg("--subsample")
                .and_then(|s| s.parse().ok())
                .or(subsample),
        },
        other => other,
    };
    Ok(match method {
        "als" => OptimizerConfig::from_name("als")?,
        "ngd-dense" => set(OptimizerConfig::from_name("ngd")?, chol),
        "ngd-pcg" => set(OptimizerConfig::from_name("ngd")?, pcg),
        "nesterov-pcg" => set(OptimizerConfig::from_name("ngd-nesterov")?, pcg),
        "nesterov-dense" => set(OptimizerConfig::from_name("ngd-nesterov")?, chol),
        other => {
            return Err(ttfit::Error::param(
                "methods",
                format!("unknown method {other}"),
            ))
        }
    })
}

fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> ttfit::Result<()> {
    let sizes = arg("--sizes").unwrap_or_else(|| "10,100000,8,8;20,20000,4,6".into());
    let iters: usize = arg("--iters").and_then(|s| s.parse().ok()).unwrap_or(3);
    let threads: Option<usize> = arg("--threads").and_then(|s| s.parse().ok());
    let time_limit: Option<u64> = arg("--time-limit").and_then(|s| s.parse().ok());
    let methods = arg("--methods").unwrap_or_else(|| "als,ngd-dense,ngd-pcg,nesterov-pcg".into());
    println!(
        "| d | N | r | n | D | method | s/iter | test error after k | k | peak RSS MB |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for spec in sizes.split(';') {
        let v: Vec<usize> = spec
            .split(',')
            .map(|x| x.trim().parse().expect("sizes are d,N,r,n"))
            .collect();
        let (d, n_train, r, n) = (v[0], v[1], v[2], v[3]);
        let f = TestFunction::parse(&format!("genz-oscillatory:{d}"))?;
        let train = f.sample(n_train, 1)?;
        let test = f.sample(10_000, 2)?;
        let dim = {
            // D = sum_k (r_{k-1} n - r_k) r_k + r_{d-1} n (tangent dimension)
            let ranks = tensor_train::clamp_ranks(&vec![n; d], &vec![r; d - 1]);
            let mut full = vec![1];
            full.extend(&ranks);
            full.push(1);
            (0..d)
                .map(|k| {
                    if k + 1 < d {
                        (full[k] * n - full[k + 1]) * full[k + 1]
                    } else {
                        full[k] * n
                    }
                })
                .sum::<usize>()
        };
        for method in methods.split(',') {
            let cfg = FitConfig {
                basis: Basis::Legendre { n },
                rank: vec![r],
                optimizer: optimizer(method)?,
                stopping: StoppingRules {
                    max_iter: iters,
                    time_limit: time_limit.map(Duration::from_secs),
                    rel_tol: 0.0,
                    ..StoppingRules::default()
                },
                domain: Some(f.domain()),
                threads,
                seed: 1,
                ..FitConfig::default()
            };
            let mut last: Option<IterationRecord> = None;
            let fitted = fit(&cfg, &train, Some(&test), |rec: &IterationRecord| {
                last = Some(rec.clone());
            });
            match fitted {
                Ok(fitted) => {
                    let k = fitted.info.iterations;
                    let secs = last.as_ref().map_or(0.0, |l| l.seconds);
                    println!(
                        "| {d} | {n_train} | {r} | {n} | {dim} | {method} | {:.3} | {:.3e} | {k} | {:.0} |",
                        secs / k.max(1) as f64,
                        fitted.info.test_error.unwrap_or(f64::NAN),
                        peak_rss_mb().unwrap_or(f64::NAN)
                    );
                }
                Err(e) => println!(
                    "| {d} | {n_train} | {r} | {n} | {dim} | {method} | failed: {e} | | | |"
                ),
            }
        }
    }
    Ok(())
}
