//! Example 5(e) of issue 12: density estimation of a Gaussian mixture in d = 6 with a squared
//! TT, and the optimizers compared on it.
//!
//! Truth: `p(x) = Σ_c w_c Π_k N_[-1,1](x_k; m_ck, s)` on `[-1, 1]^6`, a mixture of two
//! products of truncated normals (means `±0.35` in every variable, `s = 0.35`, a third
//! component off-diagonal): known density, exact sampler (per-variable rejection). The model
//! `p = ψ^2 ρ_μ` (Legendre features of degree < `n`, rank `r`, `ρ_μ = 2^-6`) is fitted by
//! forward KL on `N` samples from the uniform start; every iteration records
//! `KL(p || p_model) = E_p[log p - log p_model]` (Monte Carlo with `M` fresh draws from the
//! truth, the same draws for every optimizer) and the Hellinger distance
//! `H^2 = 1 - E_p[sqrt(p_model / p)]`.
//!
//! Prints the table of iterations and optimizer seconds to (i) a target KL and (ii) gaps
//! `1e-3, 1e-5, 1e-7, 1e-10, 1e-12` of the training NLL above the run's own final value, for RGD, NGD (Fisher), NGD (empirical Gram), NGD-HB
//! and NGD-Nesterov in both metrics; writes convergence plots (KL, and the gap) with
//! `ttfit::report`.
//!
//! `cargo run --release --example density -- [--n 8] [--rank 3] [--samples 4000]
//!   [--iters 150] [--out target/density_example] [--only a,b] [--beta B] [--constant-beta]`

use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use std::path::PathBuf;
use tensor_train::linalg::Par;
use ttfit::basis::{quadrature::gauss_legendre, Basis, FeatureMap, InputMap, OutsidePolicy};
use ttfit::density::{self, DensityConfig, DensityRecord, SquaredTt};
use ttfit::model::FunctionalTT;
use ttfit::optim::StepReport;
use ttfit::report::{plot_convergence, RunRecord};
use ttfit::train::{IterationRecord, StopReason};

const D: usize = 6;
const S: f64 = 0.35;

struct Mixture {
    weights: Vec<f64>,
    means: Vec<[f64; D]>,
    /// `log Z_ck` of each truncated normal.
    log_z: Vec<[f64; D]>,
}

fn std_normal_mass(a: f64, b: f64) -> f64 {
    // ∫_a^b φ by 64-point Gauss–Legendre (smooth integrand: exact to round-off here)
    let r = gauss_legendre(64).unwrap();
    let h = b - a;
    r.nodes
        .iter()
        .zip(&r.weights)
        .map(|(t, w)| {
            let z = a + 0.5 * (t + 1.0) * h;
            w * h * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
        })
        .sum()
}

impl Mixture {
    fn new() -> Self {
        let a = [0.35; D];
        let b = [-0.35; D];
        let c = [0.5, -0.5, 0.5, -0.5, 0.5, -0.5];
        let means = vec![a, b, c];
        let log_z = means
            .iter()
            .map(|m| {
                let mut z = [0.0; D];
                for (zk, mk) in z.iter_mut().zip(m) {
                    *zk = std_normal_mass((-1.0 - mk) / S, (1.0 - mk) / S).ln();
                }
                z
            })
            .collect();
        Mixture {
            weights: vec![0.4, 0.4, 0.2],
            means,
            log_z,
        }
    }

    fn log_density(&self, x: &[f64]) -> f64 {
        let terms: Vec<f64> = (0..self.weights.len())
            .map(|c| {
                let mut l = self.weights[c].ln();
                for (k, xk) in x.iter().enumerate().take(D) {
                    let t = (xk - self.means[c][k]) / S;
                    l += -0.5 * t * t
                        - 0.5 * (2.0 * std::f64::consts::PI).ln()
                        - S.ln()
                        - self.log_z[c][k];
                }
                l
            })
            .collect();
        let mx = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        mx + terms.iter().map(|t| (t - mx).exp()).sum::<f64>().ln()
    }

    fn sample(&self, n: usize, rng: &mut StdRng) -> Array2<f64> {
        let mut x = Array2::zeros((n, D));
        for i in 0..n {
            let u: f64 = rng.random();
            let mut c = 0;
            let mut acc = self.weights[0];
            while u > acc && c + 1 < self.weights.len() {
                c += 1;
                acc += self.weights[c];
            }
            for k in 0..D {
                loop {
                    let z: f64 = StandardNormal.sample(rng);
                    let v = self.means[c][k] + S * z;
                    if (-1.0..=1.0).contains(&v) {
                        x[[i, k]] = v;
                        break;
                    }
                }
            }
        }
        x
    }
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Run {
    name: String,
    kl: Vec<f64>,
    hellinger: Vec<f64>,
    history: Vec<DensityRecord>,
}

fn main() -> ttfit::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = arg(&args, "--n", 8);
    let rank: usize = arg(&args, "--rank", 3);
    let n_train: usize = arg(&args, "--samples", 4000);
    let iters: usize = arg(&args, "--iters", 150);
    let m_test: usize = arg(&args, "--mc", 20000);
    let out: PathBuf = arg(&args, "--out", PathBuf::from("target/density_example"));
    let only: String = arg(&args, "--only", String::new());
    std::fs::create_dir_all(&out).map_err(|e| ttfit::Error::Io {
        path: out.clone(),
        source: e,
    })?;

    let truth = Mixture::new();
    let mut rng = StdRng::seed_from_u64(2026);
    let train = truth.sample(n_train, &mut rng);
    let test = truth.sample(m_test, &mut rng);
    let log_true: Array1<f64> = test
        .rows()
        .into_iter()
        .map(|r| truth.log_density(r.as_slice().unwrap()))
        .collect();
    let fm = FeatureMap::with_basis(
        Basis::legendre(n),
        vec![InputMap::interval(-1.0, 1.0); D],
        (0..D).map(|k| format!("x{k}")).collect(),
    )?;
    let ranks = vec![rank; D - 1];
    let start = density::uniform_start(&fm, &ranks, 0.1, 1)?;
    println!(
        "density example: d = {D}, legendre:{n}, rank {rank}, N = {n_train} samples, KL by Monte Carlo on M = {m_test} draws from the truth"
    );
    println!(
        "threads: {}, load: {}",
        rayon::current_num_threads(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let names = [
        "rgd",
        "ngd-fisher",
        "ngd-hb-fisher",
        "ngd-nesterov-fisher",
        "ngd",
        "ngd-hb",
        "ngd-nesterov",
    ];
    let mut runs = Vec::new();
    for name in names {
        if !only.is_empty() && !only.split(',').any(|o| o == name) {
            continue;
        }
        let mut optimizer = DensityConfig::optimizer_from_name(name)?;
        if let ttfit::optim::OptimizerConfig::Momentum(m) = &mut optimizer {
            // --beta B: the cap of the adaptive factor, or the fixed factor with --constant-beta
            m.momentum.beta = arg(&args, "--beta", m.momentum.beta);
            if args.iter().any(|a| a == "--constant-beta") {
                m.momentum.schedule = ttfit::optim::momentum::BetaSchedule::Constant;
            }
        }
        let cfg = DensityConfig {
            ranks: ranks.clone(),
            optimizer,
            max_iter: iters,
            rel_tol: 0.0,
            ..Default::default()
        };
        let (mut kl, mut hel) = (Vec::new(), Vec::new());
        let fit = density::fit_density(
            &fm,
            train.view(),
            None,
            start.clone(),
            &cfg,
            Par::Rayon(0),
            &mut |_, tt| {
                let model =
                    SquaredTt::new(FunctionalTT::new(fm.clone(), tt.clone()).unwrap()).unwrap();
                let lp = model
                    .evaluate(test.view(), OutsidePolicy::Clamp)
                    .unwrap()
                    .log_density;
                kl.push((&log_true - &lp).mean().unwrap());
                hel.push(
                    (1.0 - (&lp - &log_true).mapv(|v| (0.5 * v).exp()).mean().unwrap())
                        .max(0.0)
                        .sqrt(),
                );
                true
            },
        )?;
        let last = fit.history.last().unwrap();
        println!(
            "  {name:<20} {:>4} it  {:>7.2} s  train NLL {:.5}  KL {:.5}  Hellinger {:.4}  restarts {}",
            last.iteration,
            last.seconds,
            last.train_nll,
            kl.last().unwrap(),
            hel.last().unwrap(),
            fit.history.iter().filter(|r| r.step.restarted).count()
        );
        runs.push(Run {
            name: name.to_string(),
            kl,
            hellinger: hel,
            history: fit.history,
        });
    }
    let best_kl = runs
        .iter()
        .map(|r| *r.kl.last().unwrap())
        .fold(f64::INFINITY, f64::min);
    let best_nll = runs
        .iter()
        .flat_map(|r| r.history.iter().map(|h| h.train_nll))
        .fold(f64::INFINITY, f64::min);
    let kl_factor = arg(&args, "--kl-factor", 1.25);
    let kl_target = kl_factor * best_kl;
    println!();
    println!("target KL = {kl_target:.5} ({kl_factor} x the best final KL of any run, {best_kl:.5}); gap: train NLL minus the run's own final train NLL (runs end in different local minima; best final train NLL {best_nll:.6})");
    let levels = [1e-3, 1e-5, 1e-7, 1e-10, 1e-12];
    println!("| optimizer | it / s to KL target | it / s to gap 1e-3 | 1e-5 | 1e-7 | 1e-10 | 1e-12 | final train NLL | final KL | final Hellinger | restarts | s/it |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let fmt = |v: Option<(usize, f64)>| match v {
        Some((i, s)) => format!("{i} / {s:.2}"),
        None => "—".into(),
    };
    for r in &runs {
        let last = r.history.last().unwrap();
        let at_kl =
            r.kl.iter()
                .position(|&k| k <= kl_target)
                .map(|i| (i, r.history[i].seconds));
        let at_gap = |g: f64| {
            r.history
                .iter()
                .position(|h| h.train_nll - last.train_nll <= g)
                .map(|i| (i, r.history[i].seconds))
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.5} | {:.5} | {:.4} | {} | {:.4} |",
            r.name,
            fmt(at_kl),
            fmt(at_gap(levels[0])),
            fmt(at_gap(levels[1])),
            fmt(at_gap(levels[2])),
            fmt(at_gap(levels[3])),
            fmt(at_gap(levels[4])),
            last.train_nll,
            r.kl.last().unwrap(),
            r.hellinger.last().unwrap(),
            r.history.iter().filter(|h| h.step.restarted).count(),
            last.seconds / last.iteration.max(1) as f64
        );
    }
    // history CSV and plots
    let mut csv =
        String::from("optimizer,iteration,seconds,train_nll,kl,hellinger,step_size,restarted\n");
    for r in &runs {
        for (h, (k, e)) in r.history.iter().zip(r.kl.iter().zip(&r.hellinger)) {
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{}\n",
                r.name,
                h.iteration,
                h.seconds,
                h.train_nll,
                k,
                e,
                h.step.step_size,
                h.step.restarted
            ));
        }
    }
    let csv_path = out.join("history.csv");
    std::fs::write(&csv_path, csv).map_err(|e| ttfit::Error::Io {
        path: csv_path.clone(),
        source: e,
    })?;
    let records = |value: &dyn Fn(&Run, usize) -> f64| -> Vec<RunRecord> {
        runs.iter()
            .map(|r| RunRecord {
                name: r.name.clone(),
                history: r
                    .history
                    .iter()
                    .enumerate()
                    .map(|(i, h)| IterationRecord {
                        iteration: h.iteration,
                        seconds: h.seconds,
                        train_loss: h.train_nll,
                        train_error: value(r, i),
                        validation_error: None,
                        test_error: None,
                        step: StepReport::default(),
                    })
                    .collect(),
                stop: StopReason::MaxIter,
                restarts: 0,
                final_test_error: None,
                selected: None,
            })
            .collect()
    };
    let kl_dir = out.join("kl");
    let gap_dir = out.join("nll_gap");
    for dir in [&kl_dir, &gap_dir] {
        std::fs::create_dir_all(dir).map_err(|e| ttfit::Error::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
    }
    plot_convergence(
        &records(&|r, i| r.kl[i].max(1e-16)),
        &kl_dir,
        "KL(p_true || p_model), Monte Carlo (y axis)",
    )?;
    plot_convergence(
        &records(&|r, i| (r.history[i].train_nll - r.history.last().unwrap().train_nll).max(1e-16)),
        &gap_dir,
        "training NLL minus the run's final training NLL (y axis)",
    )?;
    println!(
        "\nwrote {}, plots in {} and {}",
        csv_path.display(),
        kl_dir.display(),
        gap_dir.display()
    );
    Ok(())
}
