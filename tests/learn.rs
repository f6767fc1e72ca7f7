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

/// With `cv = Some(3)` the selection is the compared model with the lowest mean 3-fold error,
/// and the compared models are distinct (ranks, functions) pairs of the search.
#[test]
fn cross_validation_selects_the_lowest_mean_fold_error() {
    let mut rng = StdRng::seed_from_u64(21);
    let d = 3;
    let x = uniform_points(&mut rng, 600, d);
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
    let fitted = fit(&config(d, Basis::Legendre { n: 8 }, lc), &data, None, noop).expect("fit");
    let sel = fitted.selection.expect("selection");
    assert!(sel.cv_errors.len() >= 2, "compared: {:?}", sel.cv_errors);
    let (best, _) = sel
        .cv_errors
        .iter()
        .cloned()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert_eq!(sel.selected, best);
    for (a, (i, _)) in sel.cv_errors.iter().enumerate() {
        for (j, _) in &sel.cv_errors[a + 1..] {
            let (si, sj) = (&sel.stages[*i], &sel.stages[*j]);
            assert!(si.ranks != sj.ranks || si.functions != sj.functions);
        }
    }
    assert_eq!(
        fitted.model.tt().internal_ranks(),
        sel.stages[best].ranks,
        "the returned model is the selected one"
    );
}
