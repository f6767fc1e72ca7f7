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
