//! Tests of the adaptive learner (`ttfit::learn`): best-validation selection, rank growth to
//! the ranks of an exact TT, degree selection per variable. Seeded and small (seconds).

mod common;

use common::{features, uniform_points};
use ndarray::{Array1, Array2, Array3};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal, StandardNormal};
use ttfit::basis::{Basis, OutsidePolicy};
use ttfit::data::split::SplitSize;
use ttfit::data::Dataset;
use ttfit::fit::{fit, FitConfig};
use ttfit::learn::LearnConfig;
use ttfit::optim::OptimizerConfig;
use ttfit::tensor_train::interfaces;
use ttfit::tensor_train::linalg::Par;
use ttfit::tensor_train::TensorTrain;
use ttfit::train::IterationRecord;

fn noop(_: &IterationRecord) {}

/// Add Gaussian noise of standard deviation `level * RMS(y)`.
fn noisy(y: Array1<f64>, level: f64, rng: &mut StdRng) -> Array1<f64> {
    let rms = (y.iter().map(|v| v * v).sum::<f64>() / y.len() as f64).sqrt();
    let nd = Normal::new(0.0, level * rms).expect("valid sd");
    y.mapv(|v| v + nd.sample(rng))
}

fn config(d: usize, basis: Basis, lc: LearnConfig) -> FitConfig {
    FitConfig {
        basis,
        optimizer: OptimizerConfig::from_name("als").expect("als"),
        domain: Some(vec![(-1.0, 1.0); d]),
        domain_margin: 0.0,
        threads: Some(1),
        learn: Some(LearnConfig {
            time_limit: Some(60.0),
            ..lc
        }),
        ..FitConfig::default()
    }
}

/// The returned model is the iterate with the lowest validation error of the whole history
/// (recomputed here from the model and the held-out rows, independently of the driver), and on
/// a noisy, over-parameterized problem this is strictly better than the last iterate.
#[test]
fn validation_selection_returns_the_best_iterate() {
    let mut rng = StdRng::seed_from_u64(3);
    let (d, n) = (3, 300);
    let x = uniform_points(&mut rng, n, d);
    let y: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|r| (2.0 * r[0]).sin() * (1.0 + r[1] * r[2]))
        .collect();
    let y = noisy(y, 0.05, &mut rng);
    let data = Dataset::from_arrays(x, y).expect("data");
    // fixed rank and degree: one stage, the selection is purely over iterates
    let lc = LearnConfig {
        adapt_rank: false,
        adapt_degree: false,
        stage_iterations: 150,
        stage_patience: 150,
        ..LearnConfig::default()
    };
    let cfg = FitConfig {
        rank: vec![4],
        // natural gradient (Gauss-Newton) jumps towards interpolation: the curve turns up
        optimizer: OptimizerConfig::from_name("ngd").expect("ngd"),
        start: ttfit::init::Start::Additive,
        ..config(d, Basis::Legendre { n: 10 }, lc)
    };
    let fitted = fit(&cfg, &data, None, noop).expect("fit");
    let sel = fitted.selection.expect("learner selection");
    let hist = &fitted.result.history;
    let vals: Vec<f64> = hist.iter().map(|h| h.validation_error.unwrap()).collect();
    let best = vals.iter().cloned().fold(f64::INFINITY, f64::min);
    let last = *vals.last().unwrap();
    assert!(
        best < 0.9 * last,
        "validation curve should turn up: best {best}, last {last} {vals:?}"
    );
    assert_eq!(vals[sel.selected_iterate], best);
    let (_, valid) = data.split(SplitSize::Fraction(0.2), cfg.seed).unwrap();
    let model_err = fitted
        .model
        .relative_error(&valid, OutsidePolicy::Extrapolate)
        .unwrap();
    approx::assert_relative_eq!(model_err, best, max_relative = 1e-9);
}

/// A random functional TT of ranks (2, 3, 2) on 4 Legendre features per variable, 3000
/// samples with 1e-4 relative noise: rank growth from rank 1 ends at exactly those ranks
/// (fewer leaves a 1e-1..1e-2 error; more only fits the noise).
#[test]
fn rank_growth_finds_the_ranks_of_an_exact_tt() {
    let mut rng = StdRng::seed_from_u64(11);
    let (d, n, ranks) = (4usize, 4usize, [1usize, 2, 3, 2, 1]);
    let cores: Vec<Array3<f64>> = (0..d)
        .map(|k| {
            Array3::from_shape_simple_fn((ranks[k], n, ranks[k + 1]), || {
                StandardNormal.sample(&mut rng)
            })
        })
        .collect();
    let truth = TensorTrain::from_cores(cores).unwrap();
    let x: Array2<f64> = uniform_points(&mut rng, 3000, d);
    let feats = features(&x, n);
    let views: Vec<_> = feats.iter().map(|f| f.view()).collect();
    let y = interfaces::values(&truth, &views, Par::Seq).unwrap();
    let y = noisy(y, 1e-4, &mut rng);
    let data = Dataset::from_arrays(x, y).expect("data");
    let lc = LearnConfig {
        adapt_degree: false,
        ..LearnConfig::default()
    };
    let fitted = fit(&cfg_rank(d, lc), &data, None, noop).expect("fit");
    let sel = fitted.selection.expect("selection");
    assert_eq!(
        fitted.model.tt().internal_ranks(),
        vec![2, 3, 2],
        "path: {:?}",
        sel.stages
            .iter()
            .map(|s| (&s.ranks, s.validation_error))
            .collect::<Vec<_>>()
    );
}

fn cfg_rank(d: usize, lc: LearnConfig) -> FitConfig {
    config(d, Basis::Legendre { n: 4 }, lc)
}

/// `f = sin(3 x1) + 0.05 x2 + 0.05 x3` (additive, one dominant variable, 1e-4 noise): the
/// dominant variable gets many functions, the two affine ones keep 2.
#[test]
fn degree_selection_on_an_additive_function_with_one_dominant_variable() {
    let mut rng = StdRng::seed_from_u64(5);
    let d = 3;
    let x = uniform_points(&mut rng, 1500, d);
    let y: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|r| (3.0 * r[0]).sin() + 0.05 * r[1] + 0.05 * r[2])
        .collect();
    let y = noisy(y, 1e-4, &mut rng);
    let data = Dataset::from_arrays(x, y).expect("data");
    let fitted = fit(
        &config(d, Basis::Legendre { n: 8 }, LearnConfig::default()),
        &data,
        None,
        noop,
    )
    .expect("fit");
    let sel = fitted.selection.expect("selection");
    let f = &sel.stages[sel.selected].functions;
    let path: Vec<_> = sel
        .stages
        .iter()
        .map(|s| (&s.kind, &s.ranks, &s.functions, s.validation_error))
        .collect();
    assert!(f[0] >= 8, "dominant variable: {f:?} {path:?}");
    assert!(f[1] <= 2 && f[2] <= 2, "affine variables: {f:?}");
}

/// The Sobolev-type ALS penalty solves exactly
/// `min_g ||Phi g - y||^2 / N + lambda ||g||^2 + mu sum_j j (j + 1) g_j^2` for one variable
/// (one sweep is one exact local solve), checked against a dense least-squares solve of the
/// augmented system `[Phi / sqrt(N); diag(sqrt(lambda + mu j (j + 1)))] g ~ [y / sqrt(N); 0]`.
#[test]
fn sobolev_penalty_matches_a_dense_augmented_least_squares_solve() {
    use ttfit::optim::als::{Als, AlsConfig};
    use ttfit::samples::SampleSet;
    use ttfit::train::{StoppingRules, Trainer};
    let mut rng = StdRng::seed_from_u64(9);
    let (n_pts, n) = (200usize, 6usize);
    let x = uniform_points(&mut rng, n_pts, 1);
    let y: Array1<f64> = x.column(0).mapv(|t| (2.0 * t).exp());
    let y = noisy(y, 0.05, &mut rng);
    let phi = features(&x, n).remove(0);
    let (lambda, mu) = (1e-3, 1e-2);
    let data = SampleSet::new(vec![phi.clone()], y.clone(), None).unwrap();
    let x0 = TensorTrain::from_cores(vec![Array3::from_elem((1, n, 1), 0.1)]).unwrap();
    let mut als = Als::new(AlsConfig {
        regularization: lambda,
        sobolev: mu,
    })
    .unwrap();
    let rules = StoppingRules {
        max_iter: 1,
        ..StoppingRules::default()
    };
    let fitted = Trainer::new(rules)
        .par(Par::Seq)
        .run(&mut als, x0, &data, None, None)
        .unwrap()
        .tt;
    let g: Vec<f64> = fitted.core(0).iter().copied().collect();
    // dense reference
    let sn = (n_pts as f64).sqrt();
    let mut a = Array2::zeros((n_pts + n, n));
    let mut b = Array2::zeros((n_pts + n, 1));
    for i in 0..n_pts {
        for j in 0..n {
            a[[i, j]] = phi[[i, j]] / sn;
        }
        b[[i, 0]] = y[i] / sn;
    }
    for j in 0..n {
        let jf = j as f64;
        a[[n_pts + j, j]] = (lambda + mu * jf * (jf + 1.0)).sqrt();
    }
    let reference = ttfit::tensor_train::linalg::lstsq(a.view(), b.view()).unwrap();
    for j in 0..n {
        approx::assert_relative_eq!(
            g[j],
            reference[[j, 0]],
            max_relative = 1e-9,
            epsilon = 1e-12
        );
    }
    // and the penalty matters: without it the solution differs
    let plain = {
        let mut als = Als::new(AlsConfig {
            regularization: lambda,
            sobolev: 0.0,
        })
        .unwrap();
        let x0 = TensorTrain::from_cores(vec![Array3::from_elem((1, n, 1), 0.1)]).unwrap();
        Trainer::new(StoppingRules {
            max_iter: 1,
            ..StoppingRules::default()
        })
        .par(Par::Seq)
        .run(&mut als, x0, &data, None, None)
        .unwrap()
        .tt
    };
    let diff: f64 = plain
        .core(0)
        .iter()
        .zip(&g)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max);
    assert!(
        diff > 1e-3,
        "the penalty should change the solution, max difference {diff}"
    );
}

/// The K folds partition the rows: disjoint, covering, sizes `floor(n/k)` or `ceil(n/k)`,
/// sorted, and a deterministic function of `(n, k, seed)`; `k < 2` and `k > n` are refused.
mod kfold {
    use proptest::prelude::*;
    use ttfit::data::split::{complement, kfold_indices};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn folds_partition_the_rows(n in 2usize..200, k in 2usize..12, seed in 0u64..1000) {
            prop_assume!(k <= n);
            let folds = kfold_indices(n, k, seed).unwrap();
            prop_assert_eq!(folds.len(), k);
            let mut seen = vec![0usize; n];
            for f in &folds {
                prop_assert!(f.len() == n / k || f.len() == n.div_ceil(k));
                prop_assert!(f.windows(2).all(|w| w[0] < w[1]));
                for &i in f {
                    seen[i] += 1;
                }
                let rest = complement(n, f);
                prop_assert_eq!(rest.len() + f.len(), n);
                prop_assert!(rest.iter().all(|i| f.binary_search(i).is_err()));
            }
            prop_assert!(seen.iter().all(|&c| c == 1));
            prop_assert_eq!(&folds, &kfold_indices(n, k, seed).unwrap());
        }
    }

    #[test]
    fn bad_k_is_refused() {
        assert!(kfold_indices(10, 1, 0).is_err());
        assert!(kfold_indices(10, 11, 0).is_err());
        assert!(kfold_indices(10, 10, 0).is_ok());
    }
}

fn cv_problem() -> (Dataset, FitConfig) {
    let mut rng = StdRng::seed_from_u64(21);
    let d = 3;
    let x = uniform_points(&mut rng, 300, d);
    let y: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|r| (2.0 * r[0]).sin() * (1.0 + 0.5 * r[1]) + 0.1 * r[2] * r[2])
        .collect();
    let y = noisy(y, 1e-3, &mut rng);
    let data = Dataset::from_arrays(x, y).expect("data");
    let lc = LearnConfig {
        cv: Some(3),
        ..LearnConfig::default()
    };
    (data, config(d, Basis::Legendre { n: 8 }, lc))
}

/// `--cv 3`: every reported fold error is recomputed here, independently of the learner's
/// bookkeeping: the fold's rows from `kfold_indices` on the raw data, a fit of the setting on
/// the *other* rows only (configured start, ALS, early stopping on the fold), and the relative
/// error of that model on the fold's raw rows through the public model API. A learner that
/// trained on the fold, scored another fold, or mixed up settings would not match. The
/// selection is the lowest mean, and the returned model has its settings, refitted on all rows.
#[test]
fn cross_validation_fold_errors_are_held_out_fits() {
    use ttfit::data::split::{complement, kfold_indices};
    use ttfit::train::{StoppingRules, Trainer};
    let (data, cfg) = cv_problem();
    let lc = cfg.learn.clone().unwrap();
    let fitted = fit(&cfg, &data, None, noop).expect("fit");
    let sel = fitted.selection.expect("selection");
    let cv = sel.cv.as_ref().expect("cv report");
    assert_eq!(cv.folds, 3);
    assert!(cv.candidates.len() >= 2, "compared: {:?}", cv.candidates);
    let folds = kfold_indices(data.n_samples(), 3, cfg.seed).unwrap();
    for c in &cv.candidates {
        let bases: Vec<Basis> = c.functions.iter().map(|&n| Basis::Legendre { n }).collect();
        let features = cfg.feature_map(bases.clone(), &data).unwrap();
        for (f, fold) in folds.iter().enumerate() {
            let train_rows = data.subset(&complement(data.n_samples(), fold)).unwrap();
            let fold_rows = data.subset(fold).unwrap();
            let train =
                ttfit::model::sample_set(&features, &train_rows, OutsidePolicy::Extrapolate)
                    .unwrap();
            let valid = ttfit::model::sample_set(&features, &fold_rows, OutsidePolicy::Extrapolate)
                .unwrap();
            let x0 = ttfit::init::initial_tt(&train, &c.ranks, &cfg.start, cfg.seed).unwrap();
            let rules = StoppingRules {
                max_iter: lc.stage_iterations,
                validation_patience: Some(lc.stage_patience),
                ..cfg.stopping.clone()
            };
            let opt_cfg = match &cfg.optimizer {
                OptimizerConfig::Als(a) => OptimizerConfig::Als(ttfit::optim::als::AlsConfig {
                    sobolev: c.sobolev,
                    ..a.clone()
                }),
                o => o.clone(),
            };
            let mut opt = opt_cfg.build().unwrap();
            let r = Trainer::new(rules)
                .par(Par::Seq)
                .seed(cfg.seed)
                .run(opt.as_mut(), x0, &train, Some(&valid), None)
                .unwrap();
            let model = ttfit::model::FunctionalTT::new(features.clone(), r.tt).unwrap();
            let e = model
                .relative_error(&fold_rows, OutsidePolicy::Extrapolate)
                .unwrap();
            approx::assert_relative_eq!(e, c.fold_errors[f], max_relative = 1e-8);
        }
        let mean = c.fold_errors.iter().sum::<f64>() / 3.0;
        approx::assert_relative_eq!(mean, c.mean_error, max_relative = 1e-12);
    }
    for (a, c) in cv.candidates.iter().enumerate() {
        assert!(cv.candidates[cv.selected].mean_error <= c.mean_error);
        for d in &cv.candidates[a + 1..] {
            assert!(c.ranks != d.ranks || c.functions != d.functions || c.sobolev != d.sobolev);
        }
    }
    let chosen = &cv.candidates[cv.selected];
    // the returned model: the chosen setting fitted on all rows for `refit_iterations`
    let bases: Vec<Basis> = chosen
        .functions
        .iter()
        .map(|&n| Basis::Legendre { n })
        .collect();
    let features = cfg.feature_map(bases, &data).unwrap();
    let all = ttfit::model::sample_set(&features, &data, OutsidePolicy::Extrapolate).unwrap();
    let x0 = ttfit::init::initial_tt(&all, &chosen.ranks, &cfg.start, cfg.seed).unwrap();
    let rules = StoppingRules {
        max_iter: cv.refit_iterations,
        validation_patience: None,
        ..cfg.stopping.clone()
    };
    let mut opt = OptimizerConfig::Als(ttfit::optim::als::AlsConfig {
        sobolev: chosen.sobolev,
        ..match &cfg.optimizer {
            OptimizerConfig::Als(a) => a.clone(),
            _ => unreachable!("the test fits with ALS"),
        }
    })
    .build()
    .unwrap();
    let r = Trainer::new(rules)
        .par(Par::Seq)
        .seed(cfg.seed)
        .run(opt.as_mut(), x0, &all, None, None)
        .unwrap();
    let reference = ttfit::model::FunctionalTT::new(features, r.tt).unwrap();
    let ours = fitted
        .model
        .predict(data.x.view(), OutsidePolicy::Extrapolate)
        .unwrap();
    let theirs = reference
        .predict(data.x.view(), OutsidePolicy::Extrapolate)
        .unwrap();
    for (a, b) in ours.values.iter().zip(theirs.values.iter()) {
        approx::assert_abs_diff_eq!(a, b, epsilon = 1e-9);
    }
    assert_eq!(fitted.model.tt().internal_ranks(), chosen.ranks);
    assert_eq!(fitted.model.tt().mode_sizes(), chosen.functions);
    assert!(sel.refitted);
    let summary = sel.summary();
    assert!(summary.contains("3-fold cross-validation"), "{summary}");
}

/// `cv` needs `2 <= K <= rows` and conflicts with an explicit validation fraction (the CLI's
/// `--cv` with `--validation 0` is tested in `tests/cli.rs`).
#[test]
fn cross_validation_settings_are_checked() {
    let (data, cfg) = cv_problem();
    let with = |cv: usize, validation: Option<f64>| FitConfig {
        validation,
        learn: Some(LearnConfig {
            cv: Some(cv),
            ..cfg.learn.clone().unwrap()
        }),
        ..cfg.clone()
    };
    let err = |c: FitConfig| match fit(&c, &data, None, noop) {
        Ok(_) => panic!("the settings were accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err(with(1, None)).contains("K >= 2"),
        "{}",
        err(with(1, None))
    );
    let e = err(with(301, None));
    assert!(e.contains("number of rows (300)"), "{e}");
    let e = err(with(3, Some(0.2)));
    assert!(e.contains("drop --validation"), "{e}");
}

// ---- the search budget is counted work ----------------------------------------------------

fn budget_problem() -> (Dataset, FitConfig) {
    let mut rng = StdRng::seed_from_u64(31);
    let d = 4;
    let x = uniform_points(&mut rng, 600, d);
    let y: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|r| (2.0 * r[0]).sin() * (1.0 + 0.5 * r[1]) + (r[2] * r[3]).exp())
        .collect();
    let y = noisy(y, 1e-4, &mut rng);
    let data = Dataset::from_arrays(x, y).expect("data");
    (
        data,
        config(d, Basis::Legendre { n: 8 }, LearnConfig::default()),
    )
}

/// A stage as exact data: kind, ranks, functions, validation error bits, work-second bits.
type StageBits = (String, Vec<usize>, Vec<usize>, u64, u64);

fn stage_path(sel: &ttfit::learn::Selection) -> Vec<StageBits> {
    sel.stages
        .iter()
        .map(|s| {
            (
                s.kind.clone(),
                s.ranks.clone(),
                s.functions.clone(),
                s.validation_error.to_bits(),
                s.work_seconds.to_bits(),
            )
        })
        .collect()
}

/// The budget is counted work ([`ttfit::learn::work`]), not a clock: with a budget that cuts
/// the search (fewer stages than without it), a fit run while another thread of the process
/// burns CPU (which made the old process-CPU clock run twice as fast and cut the search
/// earlier) and a fit with 2 threads take bit for bit the same path and return the same model.
#[test]
fn the_search_budget_is_counted_work_not_time() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let (data, cfg) = budget_problem();
    let free = fit(&cfg, &data, None, noop).expect("fit");
    let free_sel = free.selection.expect("selection");
    let total = free_sel.stages.last().unwrap().work_seconds;
    let search_stages = free_sel
        .stages
        .iter()
        .filter(|s| s.kind == "rank" || s.kind == "degree")
        .count();
    // a budget of half the work of the free search
    let mut cut_cfg = cfg.clone();
    cut_cfg.learn.as_mut().unwrap().time_limit = Some(total / 2.0);
    let cut = fit(&cut_cfg, &data, None, noop).expect("fit");
    let cut_sel = cut.selection.clone().expect("selection");
    let cut_search = cut_sel
        .stages
        .iter()
        .filter(|s| s.kind == "rank" || s.kind == "degree")
        .count();
    assert!(
        cut_search < search_stages,
        "the budget must cut the search: {cut_search} of {search_stages} moves"
    );
    // a second thread of this process spins during the fit
    let stop = Arc::new(AtomicBool::new(false));
    let spinner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut x = 0u64;
            while !stop.load(Ordering::Relaxed) {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            x
        })
    };
    let busy = fit(&cut_cfg, &data, None, noop).expect("fit");
    stop.store(true, Ordering::Relaxed);
    spinner.join().unwrap();
    let mut two = cut_cfg.clone();
    two.threads = Some(2);
    let threaded = fit(&two, &data, None, noop).expect("fit");
    for (name, other) in [("busy", &busy), ("2 threads", &threaded)] {
        let sel = other.selection.as_ref().expect("selection");
        assert_eq!(stage_path(sel), stage_path(&cut_sel), "{name}: the path");
        assert_eq!(
            other.model.tt().cores(),
            cut.model.tt().cores(),
            "{name}: the model"
        );
    }
}

// ---- momentum carried across a rank or degree change -------------------------------------

fn random_tt(rng: &mut StdRng, modes: &[usize], ranks: &[usize], scale: f64) -> TensorTrain {
    let mut r = vec![1];
    r.extend_from_slice(ranks);
    r.push(1);
    let cores: Vec<Array3<f64>> = (0..modes.len())
        .map(|k| {
            Array3::from_shape_simple_fn((r[k], modes[k], r[k + 1]), || {
                let g: f64 = StandardNormal.sample(&mut *rng);
                scale * g
            })
        })
        .collect();
    TensorTrain::from_cores(cores).unwrap()
}

/// `P v` for the dense tensor `v` and the tangent space at `x`, from the dense basis `E_x`
/// (checked orthonormal, so `P = E E^T`).
fn dense_projection(x: &TensorTrain, v: &ndarray::ArrayD<f64>) -> Array1<f64> {
    let ts = ttfit::tensor_train::tangent::TangentSpace::new(x).unwrap();
    let e = ts.basis_dense().unwrap();
    let gram = e.t().dot(&e);
    let eye = Array2::<f64>::eye(gram.nrows());
    assert!(
        (&gram - &eye).iter().all(|g| g.abs() < 1e-10),
        "the tangent basis is orthonormal"
    );
    let vv = Array1::from_iter(v.iter().cloned());
    e.dot(&e.t().dot(&vv))
}

/// The momentum the learner carries into the next stage, as a full tensor, is the dense
/// orthogonal projection of the old velocity's full tensor onto the tangent space at the new
/// point: for a rank growth (`x + z`, ranks (2, 2) -> (3, 3)) and a degree growth (zero slices
/// appended, the velocity padded alike), in both momentum forms. The optimizer then transports
/// exactly that velocity: `Momentum::transported_momentum` at the new point gives the
/// coordinates `E^T P v`. The damping is not carried (it restarts at `tau`).
#[test]
fn carried_momentum_is_the_dense_projection_onto_the_new_tangent_space() {
    use ttfit::learn::carry::carried_state;
    use ttfit::optim::momentum::{
        Momentum, MomentumConfig, MomentumForm, MomentumMemory, MomentumState,
    };
    use ttfit::optim::state::{momentum_velocity, OptimizerState};
    use ttfit::optim::Optimizer;
    let mut rng = StdRng::seed_from_u64(41);
    let modes = [3usize, 4, 3];
    let x_old = random_tt(&mut rng, &modes, &[2, 2], 1.0);
    let velocity = random_tt(&mut rng, &modes, &[3, 2], 0.1);
    let z = random_tt(&mut rng, &modes, &[1, 1], 1e-2);
    let grown_rank = x_old.add(&z).unwrap();
    assert_eq!(grown_rank.internal_ranks(), vec![3, 3]);
    let extra = [1usize, 0, 2];
    let grown_degree = ttfit::learn::degree::pad_modes(&x_old, &extra).unwrap();
    for cfg in [MomentumConfig::heavy_ball(), MomentumConfig::nesterov()] {
        let form = cfg.form;
        // the old state: velocity `v` at `x_old`, in the form's own storage
        let carried_old = match form {
            MomentumForm::MomentumVariable => velocity.clone(),
            MomentumForm::IterateDifference => x_old.axpby(1.0, &velocity, -1.0).unwrap(),
        };
        let old = MomentumState {
            memory: Some(MomentumMemory {
                point: x_old.clone(),
                carried: carried_old,
                values: None,
            }),
            since_restart: 3,
            last_beta: Some(0.4),
            // a grown damping at the end of a stage: the next stage restarts it at tau
            damping: Some(ttfit::optim::damping::DampingState {
                lambda: 0.5,
                nu: 4.0,
            }),
        };
        let v_old = momentum_velocity(&old, form)
            .unwrap()
            .unwrap()
            .to_dense()
            .unwrap();
        let opt = OptimizerConfig::Momentum(cfg.clone());
        for (name, x_new) in [("rank", &grown_rank), ("degree", &grown_degree)] {
            let state = carried_state(&opt, &OptimizerState::Momentum(old.to_data()), x_new)
                .unwrap()
                .expect("a carried state");
            let OptimizerState::Momentum(data) = &state else {
                panic!("a momentum state")
            };
            let new = MomentumState::from_data(data).unwrap();
            assert_eq!(new.since_restart, 3);
            assert_eq!(new.last_beta, Some(0.4));
            assert_eq!(new.damping, None, "the damping restarts at tau");
            let v_new = momentum_velocity(&new, form)
                .unwrap()
                .unwrap()
                .to_dense()
                .unwrap();
            // the old velocity as a tensor of the new mode sizes (zero slices for new functions)
            let new_modes = x_new.mode_sizes();
            let mut v_embedded = ndarray::ArrayD::<f64>::zeros(ndarray::IxDyn(&new_modes));
            v_embedded
                .slice_each_axis_mut(|ax| ndarray::Slice::from(0..modes[ax.axis.index()]))
                .assign(&v_old);
            let reference = dense_projection(x_new, &v_embedded);
            let got = Array1::from_iter(v_new.iter().cloned());
            let err = (&got - &reference).mapv(|e| e * e).sum().sqrt()
                / reference.mapv(|e| e * e).sum().sqrt();
            assert!(err < 1e-10, "{form:?}, {name}: relative error {err:e}");
            // what the optimizer transports from there (N = 400 >= D rows: an exact fit)
            let mut rng2 = StdRng::seed_from_u64(43);
            let pts = Array2::from_shape_simple_fn((400, 3), || {
                rand::Rng::random_range(&mut rng2, -1.0..1.0)
            });
            let feats: Vec<Array2<f64>> = (0..3)
                .map(|k| common::legendre(&pts.column(k).to_vec(), new_modes[k]))
                .collect();
            let views: Vec<_> = feats.iter().map(|f| f.view()).collect();
            let y = interfaces::values(x_new, &views, Par::Seq).unwrap();
            let data = ttfit::samples::SampleSet::new(feats.clone(), y, None).unwrap();
            let mut m = Momentum::new(cfg.clone()).unwrap();
            Optimizer::set_state(&mut m, &state).unwrap();
            let coords = m
                .transported_momentum(x_new, &data, &ttfit::loss::LeastSquares, Par::Seq)
                .unwrap()
                .expect("memory at the new point");
            let ts = ttfit::tensor_train::tangent::TangentSpace::new(x_new).unwrap();
            let e = ts.basis_dense().unwrap();
            let want = e.t().dot(&reference);
            let err =
                (&coords - &want).mapv(|e| e * e).sum().sqrt() / want.mapv(|e| e * e).sum().sqrt();
            assert!(
                err < 1e-8,
                "{form:?}, {name}: transported coordinates {err:e}"
            );
        }
    }
}

// ---- pruning by rounding ----------------------------------------------------------------

/// An exact rank-(2, 2) TT (a rank-one term plus one 10 times weaker) fitted at fixed ranks
/// (4, 4) (the extra ranks only fit the 1e-4 noise): `prune = 1e-3` rounds the selection to
/// ranks (2, 2), and one stage from there keeps the validation error, so the rounded model is
/// returned; a tolerance of 0.3 drops the weak term (rank 1), the validation error rises
/// and the selection is kept.
#[test]
fn pruning_by_rounding_finds_the_exact_ranks_and_refuses_a_worse_model() {
    let mut rng = StdRng::seed_from_u64(51);
    let (d, n) = (3usize, 4usize);
    // ranks (2, 2): a dominant rank-one term plus one 10 times weaker
    let strong = random_tt(&mut rng, &[n; 3], &[1, 1], 1.0);
    let weak = random_tt(&mut rng, &[n; 3], &[1, 1], 1.0);
    let truth = strong
        .axpby(
            1.0,
            &weak,
            0.1 * strong.norm().unwrap() / weak.norm().unwrap(),
        )
        .unwrap();
    assert_eq!(truth.internal_ranks(), vec![2, 2]);
    let x: Array2<f64> = uniform_points(&mut rng, 1500, d);
    let feats = features(&x, n);
    let views: Vec<_> = feats.iter().map(|f| f.view()).collect();
    let y = interfaces::values(&truth, &views, Par::Seq).unwrap();
    let y = noisy(y, 1e-4, &mut rng);
    let data = Dataset::from_arrays(x, y).expect("data");
    let run = |tol: f64| {
        let lc = LearnConfig {
            adapt_rank: false,
            adapt_degree: false,
            prune: Some(tol),
            ..LearnConfig::default()
        };
        let cfg = FitConfig {
            rank: vec![4],
            ..config(d, Basis::Legendre { n }, lc)
        };
        fit(&cfg, &data, None, noop).expect("fit")
    };
    let fitted = run(1e-3);
    let sel = fitted.selection.as_ref().expect("selection");
    let r = sel.rounding.as_ref().expect("rounding report");
    assert_eq!(r.from_ranks, vec![4, 4]);
    assert_eq!(r.to_ranks, vec![2, 2], "{}", sel.summary());
    assert!(r.kept, "{}", sel.summary());
    assert_eq!(fitted.model.tt().internal_ranks(), vec![2, 2]);
    assert!(sel.summary().contains("kept"), "{}", sel.summary());
    // the returned model's validation error is the reported one, within 1 % of the unpruned
    assert!(r.validation_after.unwrap() <= r.validation_before * 1.01);
    let coarse = run(0.3);
    let sel = coarse.selection.as_ref().expect("selection");
    let r = sel.rounding.as_ref().expect("rounding report");
    assert!(r.to_ranks.iter().sum::<usize>() < 4, "{r:?}");
    assert!(!r.kept, "{}", sel.summary());
    assert!(
        r.validation_after.unwrap() > r.validation_before * 10.0,
        "{r:?}"
    );
    assert_eq!(coarse.model.tt().internal_ranks(), vec![4, 4]);
    assert!(sel.summary().contains("not kept"), "{}", sel.summary());
}

/// `--cv 3` on the additive function with one dominant variable
/// (`sin(3 x1) + 0.05 x2 + 0.05 x3`): the K-fold comparison, whose fold fits are counted in
/// the budget, selects many functions for the dominant variable and at most 2 for the affine
/// ones, and the returned model has those functions.
#[test]
fn cross_validation_selects_the_degrees_of_an_additive_function() {
    let mut rng = StdRng::seed_from_u64(5);
    let d = 3;
    let x = uniform_points(&mut rng, 900, d);
    let y: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|r| (3.0 * r[0]).sin() + 0.05 * r[1] + 0.05 * r[2])
        .collect();
    let y = noisy(y, 1e-4, &mut rng);
    let data = Dataset::from_arrays(x, y).expect("data");
    let lc = LearnConfig {
        cv: Some(3),
        ..LearnConfig::default()
    };
    let fitted = fit(&config(d, Basis::Legendre { n: 8 }, lc), &data, None, noop).expect("fit");
    let sel = fitted.selection.expect("selection");
    let cv = sel.cv.as_ref().expect("cv report");
    let f = &cv.candidates[cv.selected].functions;
    assert!(f[0] >= 8, "dominant variable: {f:?}; {}", sel.summary());
    assert!(
        f[1] <= 2 && f[2] <= 2,
        "affine variables: {f:?}; {}",
        sel.summary()
    );
    assert_eq!(fitted.model.tt().mode_sizes(), *f);
}

/// A rounding tolerance outside (0, 1) is refused with advice, before any work.
#[test]
fn pruning_tolerance_is_checked() {
    for tol in [0.0, 1.0, -1e-3, f64::NAN] {
        let lc = LearnConfig {
            prune: Some(tol),
            ..LearnConfig::default()
        };
        let e = lc.validate().unwrap_err().to_string();
        assert!(e.contains("prune") && e.contains("(0, 1)"), "{tol}: {e}");
    }
}
