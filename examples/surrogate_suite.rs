//! The surrogate suite (issue 10): fits built-in functions from fresh samples and prints test
//! errors and seconds for the adaptive learner (the `ttfit fit` default) and for optimizers at
//! fixed settings (rank 4, `legendre:8`, validation 0.2 with the best-validation iterate).
//!
//! ```text
//! taskset -c 0 cargo run --example surrogate_suite -- [--functions f1,f2] [--sizes 500,2000]
//!     [--optimizers als,ngd] [--test-size 10000] [--starts] [--refit] [--sobolev MU]
//!     [--damping lm|lm:TAU|off] [--fixed-validation F] [--fixed-iterations K] [--no-learner]
//!     [--learner-optimizer NAME]
//! ```
//!
//! Defaults: the must-show set (borehole, otl, ishigami; 2000 samples; the learner only).
//! `--functions all` runs every built-in (borehole, otl, piston, ishigami, friedman, sin-sum:10,
//! genz-oscillatory:10/20, genz-corner-peak:10/20). Training samples are drawn with seed 1, test
//! samples with seed 2 (independent draws from the built-in uniform samplers). One thread.
//! `--starts` prints the start comparison of `ttfit::learn::enrich` (ALS, rank 4, legendre:8 on
//! borehole from the additive, greedy and random starts). `--refit` and `--sobolev MU` run the
//! learner with the refit on all rows, or with a fixed Sobolev penalty instead of the automatic
//! choice (the figures for both defaults in docs/BENCHMARKS.md). `--damping` sets the
//! Levenberg–Marquardt damping of the fixed-settings NGD-family rows (default: the library's),
//! `--fixed-validation F` their hold-out fraction (0: none, the last iterate),
//! `--fixed-iterations K` gives them K iterations and no 5 s time limit, `--no-learner` skips
//! the learner rows, `--learner-optimizer NAME` runs the learner with another optimizer than
//! ALS (with `--damping` applied to it).

use std::time::{Duration, Instant};
use ttfit::basis::Basis;
use ttfit::fit::{fit, FitConfig};
use ttfit::functions::TestFunction;
use ttfit::init::Start;
use ttfit::learn::LearnConfig;
use ttfit::optim::OptimizerConfig;
use ttfit::train::{IterationRecord, StoppingRules};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn list(name: &str, default: &str) -> Vec<String> {
    arg(name)
        .unwrap_or_else(|| default.into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn fixed(optimizer: &str, start: Start) -> ttfit::Result<FitConfig> {
    let mut oc = OptimizerConfig::from_name(optimizer)?;
    let damping = arg("--damping");
    oc.apply_options(
        &ttfit::optim::config::OptimizerOptions {
            batch_size: None,
            solver: None,
            beta: None,
            damping: damping.as_deref(),
            names: ["", "", "", "--damping"],
        },
        false,
    )?;
    let iterations: Option<usize> =
        arg("--fixed-iterations").map(|s| s.parse().expect("--fixed-iterations: an integer"));
    let validation = arg("--fixed-validation").map_or(ttfit::learn::DEFAULT_VALIDATION, |s| {
        s.parse().expect("--fixed-validation: a number")
    });
    Ok(FitConfig {
        basis: Basis::Legendre { n: 8 },
        rank: vec![4],
        optimizer: oc,
        validation: (validation > 0.0).then_some(validation),
        stopping: StoppingRules {
            // --fixed-iterations K: K iterations and no time limit (load-independent rows)
            max_iter: iterations.unwrap_or(200),
            time_limit: iterations.is_none().then_some(Duration::from_secs(5)),
            validation_patience: (validation > 0.0).then_some(10),
            ..StoppingRules::default()
        },
        start,
        threads: Some(1),
        ..FitConfig::default()
    })
}

fn main() -> ttfit::Result<()> {
    let all = "borehole,otl,piston,ishigami,friedman,sin-sum:10,genz-oscillatory:10,genz-oscillatory:20,genz-corner-peak:10,genz-corner-peak:20";
    let mut functions = list("--functions", "borehole,otl,ishigami");
    if functions == ["all"] {
        functions = all.split(',').map(String::from).collect();
    }
    let sizes: Vec<usize> = list("--sizes", "2000")
        .iter()
        .map(|s| s.parse().expect("--sizes: integers"))
        .collect();
    let optimizers = list("--optimizers", "");
    let n_test: usize = arg("--test-size").map_or(10_000, |s| s.parse().expect("integer"));
    let noop = |_: &IterationRecord| {};
    // learner variants: --refit (refit on all rows), --sobolev MU (fixed penalty, no choice)
    let refit = std::env::args().any(|a| a == "--refit");
    let sobolev: Option<f64> = arg("--sobolev").map(|s| s.parse().expect("--sobolev: a number"));

    if std::env::args().any(|a| a == "--starts") {
        let f = TestFunction::parse("borehole")?;
        let (train, test) = (f.sample(2000, 1)?, f.sample(n_test, 2)?);
        println!("| start (ALS, rank 4, legendre:8, no validation, 50 sweeps) | train error | test error |");
        println!("|---|---|---|");
        for (name, start) in [
            ("additive (padded)", Start::Additive),
            ("greedy rank-one", Start::Greedy),
            ("random", Start::Random { scale: 1.0 }),
        ] {
            let cfg = FitConfig {
                validation: None,
                stopping: StoppingRules {
                    max_iter: 50,
                    ..StoppingRules::default()
                },
                ..fixed("als", start)?
            };
            let r = fit(&cfg, &train, Some(&test), noop)?;
            println!(
                "| {name} | {:.2e} | {:.2e} |",
                r.info.train_error,
                r.info.test_error.unwrap_or(f64::NAN)
            );
        }
        println!();
    }

    println!("| function | N | method | selected | test error | seconds |");
    println!("|---|---|---|---|---|---|");
    for fname in &functions {
        let f = TestFunction::parse(fname)?;
        for &n in &sizes {
            let (train, test) = (f.sample(n, 1)?, f.sample(n_test, 2)?);
            let lopt = arg("--learner-optimizer").unwrap_or_else(|| "als".into());
            let learner = FitConfig {
                optimizer: fixed(&lopt, Start::Greedy)?.optimizer,
                threads: Some(1),
                learn: Some(LearnConfig {
                    refit,
                    sobolev,
                    ..LearnConfig::default()
                }),
                ..FitConfig::default()
            };
            let skip = std::env::args().any(|a| a == "--no-learner");
            // as `ttfit fit --data train.csv --out model.json`: no test set during the fit
            // (per-iteration test errors would cost time the CLI does not spend)
            let t = Instant::now();
            let cpu0 = ttfit::learn::process_cpu_seconds();
            let r = if skip {
                None
            } else {
                Some(fit(&learner, &train, None, noop)?)
            };
            let secs = t.elapsed().as_secs_f64();
            let cpu = match (cpu0, ttfit::learn::process_cpu_seconds()) {
                (Some(a), Some(b)) => format!(" (cpu {:.2})", b - a),
                _ => String::new(),
            };
            if let Some(r) = r {
                let test_error = r
                    .model
                    .relative_error(&test, ttfit::basis::OutsidePolicy::Extrapolate)?;
                let sel = r.selection.as_ref().map(|s| {
                    let st = &s.stages[s.selected];
                    format!(
                        "ranks {:?}, functions {:?}; {} stages, {:.2} work s",
                        st.ranks,
                        st.functions,
                        s.stages.len(),
                        s.stages.last().map_or(0.0, |l| l.work_seconds)
                    )
                });
                println!(
                    "| {fname} | {n} | learner ({lopt}) | {} | {test_error:.2e} | {secs:.2}{cpu} |",
                    sel.unwrap_or_default(),
                );
                if std::env::args().any(|a| a == "--stages") {
                    for (i, st) in r.selection.iter().flat_map(|s| s.stages.iter()).enumerate() {
                        eprintln!(
                            "  stage {i} {}: ranks {:?} functions {:?} valid {:.3e}{} work {:.2} s",
                            st.kind,
                            st.ranks,
                            st.functions,
                            st.validation_error,
                            if st.accepted { " (accepted)" } else { "" },
                            st.work_seconds
                        );
                    }
                }
            }
            for o in &optimizers {
                let t = Instant::now();
                let res = fit(&fixed(o, Start::Greedy)?, &train, Some(&test), noop);
                let secs = t.elapsed().as_secs_f64();
                match res {
                    Ok(r) => println!(
                        "| {fname} | {n} | {o} (rank 4, legendre:8) | {} iterate {} of {}, train {:.2e} | {:.2e} | {secs:.2} |",
                        if r.result.history.iter().any(|h| h.validation_error.is_some()) { "best-validation" } else { "last" },
                        if r.result.history.iter().any(|h| h.validation_error.is_some()) { best_iter(&r.result.history) } else { r.result.history.len() - 1 },
                        r.result.history.len() - 1,
                        r.info.train_error,
                        r.info.test_error.unwrap_or(f64::NAN)
                    ),
                    Err(e) => println!("| {fname} | {n} | {o} (rank 4, legendre:8) | failed: {e} | | {secs:.2} |"),
                }
            }
        }
    }
    Ok(())
}

fn best_iter(h: &[IterationRecord]) -> usize {
    h.iter()
        .min_by(|a, b| {
            a.validation_error
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.validation_error.unwrap_or(f64::INFINITY))
        })
        .map_or(0, |r| r.iteration)
}
