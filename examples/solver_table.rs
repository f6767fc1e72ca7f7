//! Solver table (issue 11): seconds per iteration and test error after `k` iterations for
//! ALS, dense NGD (Cholesky), matrix-free NGD (block-Jacobi PCG) and matrix-free
//! NGD-Nesterov on the Genz oscillatory function, Legendre features, at given `(d, N, r, n)`.
//!
//! Run: `cargo run --release --example solver_table -- [--sizes 10,100000,8,8;20,20000,4,6]
//! [--iters 3] [--threads 2] [--methods als,ngd-dense,ngd-pcg,nesterov-pcg,streamed-pcg]
//! [--forcing 1e-4] [--pcg-iters 100] [--subsample m] [--time-limit s] [--trace]
//! [--start greedy|additive|random] [--start-rows m] [--damping off|lm] [--shift s]
//! [--ls-trials 8] [--no-model-step] [--test-points 10000] [--rank-continuation TOL]`
//!
//! `--rank-continuation TOL` runs the `FitConfig` methods (`als`, `ngd-*`, `nesterov-*`) under
//! rank continuation ([`ttfit::learn::continuation`]): the start is built at ranks `min(r, 2)`
//! and the ranks grow by one greedy rank move after each step that gains less than `TOL` of
//! the training loss, up to `r`; the rank moves are part of the seconds.
//!
//! Seconds are optimizer seconds (the trainer excludes the evaluation of test errors); the
//! test set has `--test-points` points (default 10,000; seed 2, the training set seed 1). Peak memory is the process's `VmHWM` at the end of each row
//! (Linux), i.e. the maximum over this row and the rows before it. `--trace` prints every
//! iteration (seconds so far, train and test error).
//!
//! `streamed-pcg` is the natural-gradient step at bounded memory
//! ([`ttfit::optim::streamed`]): the training set is held as raw inputs (`N x d`) only, and
//! every pass over it (the gradient, the line-search evaluations, the train error) computes
//! features and interfaces chunk by chunk. One iteration: tangent space at `X`; the
//! Gauss–Newton system through the streamed model with PCG, whose operator and block-Jacobi
//! preconditioner come from `--subsample m` rows (default 50,000; materialized, `O(m d (n+2r))`)
//! and whose right-hand side `J^T e / N` comes from all `N` rows; the retraction
//! `R_X(alpha xi)` with `alpha = alpha_0, alpha_0/2, ..` until the streamed training loss
//! decreases (at most `--ls-trials`, default 8), where `alpha_0 = min(1, alpha*)` and `alpha*`
//! minimizes the Gauss–Newton model of the loss on all `N` rows along the step (one `J c` over
//! the `N` rows; `--no-model-step`: `alpha_0 = 1`). The `gn-*` methods use the same driver. `streamed-full`
//! (`streamed-full-ew`: Eisenstat–Walker forcing) takes the operator `G = J^T J / N` from all `N`
//! streamed rows (one streamed `J v` and `J^T w` per PCG iteration, no shift) and only the
//! block-Jacobi preconditioner from the `--subsample` rows; the Galerkin property of PCG
//! (`c^T G c = b^T c` for every iterate) then gives `alpha* = 1`, so its line search starts at 1. Its start: `--start` (default `greedy`, as for the other methods) fitted on the
//! first `--start-rows` rows (default 20,000), held in memory only for the start. Its seconds include everything
//! but the test error.

use ndarray::{Array1, ArrayView1};
use std::time::{Duration, Instant};
use tensor_train::linalg::Par;
use tensor_train::tangent::TangentSpace;
use ttfit::basis::{Basis, FeatureMap, InputMap, OutsidePolicy};
use ttfit::data::Dataset;
use ttfit::fit::{fit, FitConfig};
use ttfit::functions::TestFunction;
use ttfit::init::{initial_tt, Start};
use ttfit::learn::continuation::RankContinuation;
use ttfit::optim::gram::{GramSolver, GramSystem};
use ttfit::optim::linearized::LinearizedModel;
use ttfit::optim::pcg::EisenstatWalker;
use ttfit::optim::streamed::StreamedSamples;
use ttfit::optim::OptimizerConfig;
use ttfit::train::{IterationRecord, StoppingRules};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn optimizer(method: &str) -> ttfit::Result<OptimizerConfig> {
    let damping = arg("--damping")
        .map(|s| ttfit::optim::damping::DampingRule::parse(&s))
        .transpose()?;
    let set = |mut c: OptimizerConfig, s: GramSolver| {
        match &mut c {
            OptimizerConfig::Ngd(n) => {
                n.solver = s;
                if let Some(d) = damping {
                    n.damping = d;
                }
            }
            OptimizerConfig::Momentum(n) => {
                n.natural.solver = s;
                if let Some(d) = damping {
                    n.natural.damping = d;
                }
            }
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

/// The Gram solver of the `streamed-*` / `gn-*` methods: `gn-dense` Cholesky (shift 1e-12);
/// the others PCG with `--forcing`, `--pcg-iters` and, for the streamed ones, `--subsample m`
/// (default 50,000 rows; the in-memory ones use all rows unless `--subsample` is given) and
/// the relative Tikhonov shift `--shift` (default 1e-12; a sub-sampled Gram is a noisy
/// estimate of `G` and wants more, as the mini-batch natural step does).
fn gn_solver(method: &str) -> ttfit::Result<GramSolver> {
    if method == "gn-dense" {
        return Ok(GramSolver::Cholesky { rel_shift: 1e-12 });
    }
    let sub: Option<usize> = arg("--subsample").and_then(|s| s.parse().ok());
    Ok(match optimizer("ngd-pcg")? {
        OptimizerConfig::Ngd(c) => match c.solver {
            GramSolver::Pcg {
                rel_shift,
                max_iter,
                forcing,
                ..
            } => GramSolver::Pcg {
                rel_shift: arg("--shift")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(rel_shift),
                max_iter,
                forcing,
                subsample: if method.starts_with("streamed") {
                    Some(sub.unwrap_or(50_000))
                } else {
                    sub
                },
            },
            other => other,
        },
        other => unreachable!("ngd-pcg is an NGD preset, got {other:?}"),
    })
}

/// User + system CPU seconds of this process (Linux `/proc/self/stat`, 100 ticks per second),
/// a load-independent companion of the wall seconds on a shared machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // fields after the parenthesized command name; utime and stime are fields 14 and 15
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

/// The start of every method: `--start greedy` (default, the fit's), `additive`, or `random`
/// (seeded random cores at the scale of the targets, [`Start::Random`] with scale 1).
fn start_kind() -> Start {
    match arg("--start").as_deref() {
        Some("additive") => Start::Additive,
        Some("random") => Start::Random { scale: 1.0 },
        _ => Start::Greedy,
    }
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// Relative L2 error `||pred - y|| / ||y||`.
fn rel_error(pred: &Array1<f64>, y: ArrayView1<'_, f64>) -> f64 {
    let e: f64 = pred.iter().zip(y).map(|(p, v)| (p - v).powi(2)).sum();
    let n: f64 = y.iter().map(|v| v * v).sum();
    (e / n).sqrt()
}

/// Result of a Gauss–Newton run: seconds per iteration, test error after the last one,
/// iterations.
struct GnRun {
    secs_per_iter: f64,
    test_error: f64,
    iterations: usize,
}

/// Where the Gauss–Newton driver reads the training samples from.
enum Source<'a> {
    /// Raw inputs, features and interfaces per chunk ([`StreamedSamples`]).
    Streamed(StreamedSamples<'a>),
    /// Feature matrices in memory, interfaces computed once per iterate.
    Memory(Vec<ndarray::Array2<f64>>),
}

/// The Gauss–Newton / natural-gradient driver of the `streamed-*` and `gn-*` methods (module
/// docs): the plain step `R_X(alpha xi)` with `xi` the PCG solution of the Gram system and
/// halving from `alpha = 1`; `ew` chooses Eisenstat–Walker forcing terms instead of the fixed
/// one of `solver`.
#[allow(clippy::too_many_arguments)]
fn gauss_newton(
    train: &Dataset,
    test: &Dataset,
    domain: &[(f64, f64)],
    (n, r, iters): (usize, usize, usize),
    (streamed, full_op): (bool, bool),
    solver: GramSolver,
    ew: bool,
    par: Par,
) -> ttfit::Result<GnRun> {
    let d = domain.len();
    let fmap = FeatureMap::with_basis(
        Basis::Legendre { n },
        domain
            .iter()
            .map(|&(lo, hi)| InputMap::interval(lo, hi))
            .collect(),
        train.input_names.clone(),
    )?;
    let policy = OutsidePolicy::Extrapolate;
    let clock = Instant::now();
    let start = {
        let m: usize = arg("--start-rows")
            .and_then(|s| s.parse().ok())
            .unwrap_or(if streamed { 20_000 } else { train.n_samples() })
            .min(train.n_samples());
        let idx: Vec<usize> = (0..m).collect();
        let sub = ttfit::model::sample_set(&fmap, &train.subset(&idx)?, policy)?;
        let kind = start_kind();
        let ranks = tensor_train::clamp_ranks(&vec![n; d], &vec![r; d - 1]);
        initial_tt(&sub, &ranks, &kind, 1)?
    };
    let start_secs = clock.elapsed().as_secs_f64();
    let source = if streamed {
        Source::Streamed(StreamedSamples::new(&fmap, train.x.view(), policy)?)
    } else {
        Source::Memory(fmap.features(train.x.view(), policy)?)
    };
    let values = |x: &tensor_train::TensorTrain| -> ttfit::Result<Array1<f64>> {
        match &source {
            Source::Streamed(s) => s.values(x, par),
            Source::Memory(f) => {
                let v: Vec<_> = f.iter().map(|a| a.view()).collect();
                Ok(x.eval_features(&v, par)?)
            }
        }
    };
    // streamed, so that a large `--test-points` set stays at O(N d) memory
    let test_set = StreamedSamples::new(&fmap, test.x.view(), policy)?;
    let y = train.y.view();
    let loss = |pred: &Array1<f64>| -> f64 {
        pred.iter()
            .zip(y)
            .map(|(p, v)| (p - v).powi(2))
            .sum::<f64>()
            / (2.0 * y.len() as f64)
    };
    let mut forcing = EisenstatWalker::default();
    let mut x = start;
    let mut secs = 0.0;
    let t0 = Instant::now();
    let mut pred = values(&x)?;
    secs += t0.elapsed().as_secs_f64();
    let mut k = 0;
    let mut test_error = rel_error(&test_set.values(&x, par)?, test.y.view());
    let trace = flag("--trace");
    if trace {
        println!(
            "  start ({start_secs:.1} s, not counted): train {:.3e}, test {test_error:.3e}",
            rel_error(&pred, y)
        );
    }
    while k < iters {
        let t0 = Instant::now();
        let cpu0 = cpu_seconds();
        let ts = TangentSpace::new(&x)?;
        let target = &train.y - &pred;
        // the interfaces must outlive the system that borrows them
        let si_mem;
        let lin;
        let mut sys = None;
        let (c, rep, t_sys) = match &source {
            Source::Streamed(s) if full_op => {
                // operator G = J^T J / N from all N rows (streamed, two passes per PCG
                // iteration), block-Jacobi preconditioner from m evenly strided rows
                lin = s.linearization(&ts, par)?;
                let GramSolver::Pcg {
                    rel_shift,
                    max_iter,
                    forcing: eta_fixed,
                    subsample,
                } = solver
                else {
                    unreachable!("streamed-full uses the PCG settings")
                };
                let n_rows = y.len();
                let m = subsample.unwrap_or(50_000).min(n_rows);
                let idx: Vec<usize> = (0..m).map(|j| j * n_rows / m).collect();
                let sub = lin.select_rows(&idx).ok_or_else(|| {
                    ttfit::Error::param("streamed-full", "could not materialize the sub-sample")
                })?;
                let prec = GramSystem::from_model(
                    &*sub,
                    None,
                    GramSolver::BlockDiagonal { rel_shift },
                    par,
                )?;
                let t_sys = t0.elapsed().as_secs_f64();
                let nn = n_rows as f64;
                let b = lin.vjp((&target / nn).view(), par)?;
                let eta = if ew {
                    forcing.next(b.dot(&b).sqrt())
                } else {
                    eta_fixed
                };
                let op = |v: &Array1<f64>| -> ttfit::Result<Array1<f64>> {
                    let jv = lin.jvp(v.view(), par)? / nn;
                    lin.vjp(jv.view(), par)
                };
                let (c, rep) = ttfit::optim::pcg::pcg(
                    op,
                    |r: &Array1<f64>| prec.solve_coords(r.view()),
                    &b,
                    &ttfit::optim::pcg::PcgParams {
                        forcing: eta,
                        max_iter,
                    },
                )?;
                (c, rep, t_sys)
            }
            _ => {
                let sys = sys.insert(match &source {
                    Source::Streamed(s) => {
                        GramSystem::from_model(s.linearization(&ts, par)?, None, solver, par)?
                    }
                    Source::Memory(f) => {
                        let v: Vec<_> = f.iter().map(|a| a.view()).collect();
                        si_mem = tensor_train::tangent::SampleInterfaces::new(&ts, &v, par)?;
                        GramSystem::from_model(
                            ttfit::optim::linearized::SampleLinearization::new(&ts, &si_mem, &v),
                            None,
                            solver,
                            par,
                        )?
                    }
                });
                let t_sys = t0.elapsed().as_secs_f64();
                let (c, rep) = if ew {
                    sys.solve_target_eta(target.view(), &mut |g| forcing.next(g))?
                } else {
                    sys.solve_target_report(target.view(), None)?
                };
                (c, rep, t_sys)
            }
        };
        let t_solve = t0.elapsed().as_secs_f64();
        let xi = ts.from_coords(c.view())?;
        let f0 = loss(&pred);
        // The Gauss–Newton model of the loss along c on all N rows,
        // f(X + alpha E_X c) ~ f0 - alpha (Jc)^T t / N + alpha^2 ||Jc||^2 / (2N), is minimized
        // at alpha* = (Jc)^T t / ||Jc||^2. With the full Gram and an exact solve alpha* >= 1;
        // a sub-sampled Gram misjudges the curvature along c, and alpha* corrects for it at
        // the cost of one J c over the N rows. The line search starts at min(1, alpha*).
        let t_ls = Instant::now();
        // (with the operator from all rows and no shift, PCG's Galerkin property
        // c^T G c = b^T c gives alpha* = 1: the pass is skipped)
        let (slope, curv) = match &sys {
            Some(sys) if !flag("--no-model-step") => {
                let jc = sys.model().jvp(c.view(), par)?;
                let nn = y.len() as f64;
                (jc.dot(&target) / nn, jc.dot(&jc) / nn)
            }
            _ => (f64::NAN, f64::NAN),
        };
        let t_jc = t_ls.elapsed().as_secs_f64();
        let alpha_model = slope / curv;
        let mut alpha = if alpha_model.is_finite() && alpha_model > 0.0 {
            alpha_model.min(1.0)
        } else {
            1.0
        };
        let trials_max: usize = arg("--ls-trials").and_then(|s| s.parse().ok()).unwrap_or(8);
        let mut trials = 0;
        let mut accepted = None;
        for _ in 0..trials_max {
            trials += 1;
            let y_new = ts.retract(alpha, &xi)?;
            let p_new = values(&y_new)?;
            if loss(&p_new) < f0 {
                accepted = Some((y_new, p_new));
                break;
            }
            alpha *= 0.5;
        }
        let t_eval = t_ls.elapsed().as_secs_f64() - t_jc;
        secs += t0.elapsed().as_secs_f64();
        k += 1;
        if trace {
            println!(
                "  iter {k} step: model slope {slope:.3e}, curvature {curv:.3e}, alpha* {alpha_model:.3e} (J c {t_jc:.2} s); {trials} trials ({t_eval:.2} s), loss {f0:.4e} -> {}",
                accepted
                    .as_ref()
                    .map_or("no decrease".to_string(), |(_, p)| format!("{:.4e}", loss(p)))
            );
        }
        let Some((y_new, p_new)) = accepted else {
            println!(
                "  no decrease along the natural step at iteration {k}: {secs:.2} s, {:.1} CPU-s (system {t_sys:.2} s, solve {:.2} s, {} its, rel res {:.1e})",
                cpu_seconds() - cpu0,
                t_solve - t_sys,
                rep.iterations,
                rep.rel_residual
            );
            break;
        };
        x = y_new;
        pred = p_new;
        let cpu_iter = cpu_seconds() - cpu0;
        test_error = rel_error(&test_set.values(&x, par)?, test.y.view());
        if trace {
            println!(
                "  iter {k}: {secs:.2} s, this iteration {:.1} CPU-s (system {t_sys:.2} s, solve {:.2} s, {} its, rel res {:.1e} at forcing {:.1e}; step {alpha}), train {:.3e}, test {test_error:.3e}, peak RSS {:.0} MB",
                cpu_iter,
                t_solve - t_sys,
                rep.iterations,
                rep.rel_residual,
                rep.tolerance,
                rel_error(&pred, y),
                peak_rss_mb().unwrap_or(f64::NAN)
            );
        }
    }
    Ok(GnRun {
        secs_per_iter: secs / k.max(1) as f64,
        test_error,
        iterations: k,
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
        let test_points: usize = arg("--test-points")
            .and_then(|s| s.parse().ok())
            .unwrap_or(10_000);
        let test = f.sample(test_points, 2)?;
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
            if let Some((streamed, full_op, ew)) = match method {
                "streamed-pcg" => Some((true, false, false)),
                "streamed-ew" => Some((true, false, true)),
                "streamed-full" => Some((true, true, false)),
                "streamed-full-ew" => Some((true, true, true)),
                "gn-pcg" => Some((false, false, false)),
                "gn-ew" => Some((false, false, true)),
                "gn-dense" => Some((false, false, false)),
                _ => None,
            } {
                let solver = gn_solver(method)?;
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads.unwrap_or(0))
                    .build()
                    .map_err(|e| ttfit::Error::param("threads", e.to_string()))?;
                let run = pool.install(|| {
                    gauss_newton(
                        &train,
                        &test,
                        &f.domain(),
                        (n, r, iters),
                        (streamed, full_op),
                        solver,
                        ew,
                        Par::Rayon(0),
                    )
                });
                match run {
                    Ok(s) => println!(
                        "| {d} | {n_train} | {r} | {n} | {dim} | {method} | {:.3} | {:.3e} | {} | {:.0} |",
                        s.secs_per_iter,
                        s.test_error,
                        s.iterations,
                        peak_rss_mb().unwrap_or(f64::NAN)
                    ),
                    Err(e) => println!(
                        "| {d} | {n_train} | {r} | {n} | {dim} | {method} | failed: {e} | | | |"
                    ),
                }
                continue;
            }
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
                start: start_kind(),
                rank_continuation: arg("--rank-continuation")
                    .map(|t| {
                        t.parse().map_err(|_| {
                            ttfit::Error::param(
                                "--rank-continuation",
                                "give the stall tolerance, e.g. 0.1",
                            )
                        })
                    })
                    .transpose()?
                    .map(|stall_tol| RankContinuation { stall_tol }),
                ..FitConfig::default()
            };
            let mut last: Option<IterationRecord> = None;
            let trace = flag("--trace");
            let fitted = fit(&cfg, &train, Some(&test), |rec: &IterationRecord| {
                if trace {
                    println!(
                        "  {method} iter {}: {:.2} s, train {:.3e}, test {:.3e}, step {:.3e}, {} trials{}",
                        rec.iteration,
                        rec.seconds,
                        rec.train_error,
                        rec.test_error.unwrap_or(f64::NAN),
                        rec.step.step_size,
                        rec.step.trials,
                        rec.step
                            .note
                            .as_ref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default()
                    );
                }
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
