//! Natural gradient descent and its momentum variants (MATH.md §6-7, §9.11-9.13).

use ndarray::{Array1, Array2, Array3};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use tensor_train::linalg::{self, Par};
use tensor_train::tangent::{SampleInterfaces, TangentSpace};
use tensor_train::{CoreDistribution, TensorTrain};
use ttfit::loss::{relative_error, LeastSquares};
use ttfit::optim::gram::{GramSolver, GramSystem};
use ttfit::optim::momentum::{
    BetaSchedule, GradientAt, Momentum, MomentumConfig, MomentumForm, MomentumParams,
};
use ttfit::optim::ngd::{Metric, Ngd, NgdConfig, StepRule};
use ttfit::optim::{predict, prepare, Optimizer};
use ttfit::samples::SampleSet;
use ttfit::train::{StoppingRules, Trainer};

/// Orthonormal Legendre features `sqrt(2j+1) P_j(x)` for the uniform measure on [-1, 1].
fn legendre(x: &[f64], n: usize) -> Array2<f64> {
    let mut f = Array2::zeros((x.len(), n));
    for (i, &t) in x.iter().enumerate() {
        let (mut p0, mut p1) = (1.0, t);
        for j in 0..n {
            let pj = if j == 0 {
                1.0
            } else if j == 1 {
                t
            } else {
                let p2 = ((2 * j - 1) as f64 * t * p1 - (j - 1) as f64 * p0) / j as f64;
                p0 = p1;
                p1 = p2;
                p2
            };
            f[[i, j]] = (2.0 * j as f64 + 1.0).sqrt() * pj;
        }
    }
    f
}

/// Features of `n_samples` points drawn by `draw` in every one of `d` variables.
fn features(
    d: usize,
    n: usize,
    n_samples: usize,
    rng: &mut StdRng,
    draw: impl Fn(&mut StdRng) -> f64,
) -> Vec<Array2<f64>> {
    (0..d)
        .map(|_| {
            let x: Vec<f64> = (0..n_samples).map(|_| draw(rng)).collect();
            legendre(&x, n)
        })
        .collect()
}

/// Random functional TT with a moderate dynamic range: identity-like degree-0 slices plus
/// noise decaying with the degree (the learning issue's recovery setup).
fn moderate_tt(d: usize, n: usize, r: usize, rng: &mut StdRng) -> TensorTrain {
    let ranks = tensor_train::clamp_ranks(&vec![n; d], &vec![r; d - 1]);
    let mut full = vec![1];
    full.extend(&ranks);
    full.push(1);
    let normal = Normal::new(0.0, 1.0).unwrap();
    let cores = (0..d)
        .map(|k| {
            Array3::from_shape_fn((full[k], n, full[k + 1]), |(a, j, b)| {
                let id = if j == 0 && a == b { 1.0 } else { 0.0 };
                id + 0.3 * normal.sample(rng) / (1.0 + j as f64).powi(2)
            })
        })
        .collect();
    TensorTrain::from_cores(cores).unwrap()
}

fn sample_set(tt: &TensorTrain, feats: Vec<Array2<f64>>) -> SampleSet {
    let views: Vec<_> = feats.iter().map(|f| f.view()).collect();
    let y = tt.eval_features(&views, Par::Seq).unwrap();
    SampleSet::new(feats, y, None).unwrap()
}

/// A point near `truth`: the truth plus a relative perturbation, rounded back to its ranks.
fn perturbed(truth: &TensorTrain, rel: f64, seed: u64) -> TensorTrain {
    let mut rng = StdRng::seed_from_u64(seed);
    let noise = TensorTrain::random(
        &truth.mode_sizes(),
        &truth.internal_ranks(),
        CoreDistribution::ScaledNormal,
        &mut rng,
    )
    .unwrap();
    let scale = rel * truth.norm().unwrap() / noise.norm().unwrap();
    let sum = truth.add(&noise.scaled(scale)).unwrap();
    sum.round(&tensor_train::Truncation::ranks(&truth.internal_ranks()))
        .unwrap()
        .tt
}

fn dense_diff(a: &TensorTrain, b: &TensorTrain) -> f64 {
    let da = a.to_dense().unwrap();
    let db = b.to_dense().unwrap();
    let num = (&da - &db).iter().map(|v| v * v).sum::<f64>().sqrt();
    num / db.iter().map(|v| v * v).sum::<f64>().sqrt()
}

#[test]
fn every_solver_gives_the_gauss_newton_step() {
    // N >> D, so the least-squares step is unique and J has full column rank
    let mut rng = StdRng::seed_from_u64(11);
    let truth = moderate_tt(3, 4, 2, &mut rng);
    let feats = features(3, 4, 600, &mut rng, |r| r.random_range(-1.0..1.0));
    let data = sample_set(&truth, feats);
    let x = perturbed(&truth, 0.2, 3);
    let p = prepare(&x, &data, &LeastSquares, Par::Seq).unwrap();
    let fv = data.feature_views();
    let j = p.ts.jacobian(&p.si, &fv, Par::Seq).unwrap();
    assert!(j.nrows() > 10 * j.ncols());
    let minus_e = p.d1.mapv(|v| -v);
    let dense = linalg::lstsq(j.view(), minus_e.view().insert_axis(ndarray::Axis(1)))
        .unwrap()
        .column(0)
        .to_owned();
    let solvers = [
        GramSolver::Cholesky { rel_shift: 0.0 },
        GramSolver::Eigen { rel_cutoff: 1e-14 },
        GramSolver::Qr,
        GramSolver::Lsqr {
            damp: 0.0,
            max_iter: 500,
            tol: 1e-15,
        },
    ];
    for solver in solvers {
        let sys = GramSystem::new(&p.ts, &p.si, &fv, None, solver, Par::Seq).unwrap();
        let c = sys.solve_target(minus_e.view()).unwrap();
        let err = (&c - &dense).iter().map(|v| v.abs()).fold(0.0, f64::max)
            / dense.iter().map(|v| v.abs()).fold(0.0, f64::max);
        assert!(
            err < 1e-8,
            "{solver:?}: relative deviation {err:e} from the dense least-squares step"
        );
        // the least-squares step beats random perturbations of it
        let r0 = (&j.dot(&c) - &minus_e).mapv(|v| v * v).sum();
        let pert = &c + &Array1::from_shape_fn(c.len(), |_| 1e-3 * rng.random_range(-1.0..1.0));
        assert!(r0 <= (&j.dot(&pert) - &minus_e).mapv(|v| v * v).sum());
    }
    // and the optimizer with alpha = 1 takes exactly the retraction of that step
    // the undamped Gauss-Newton step (the damped one: tests/damping.rs)
    let mut ngd = Ngd::new(NgdConfig {
        damping: ttfit::optim::damping::DampingRule::Off,
        step: StepRule::Fixed { alpha: 1.0 },
        solver: GramSolver::Qr,
        ..Default::default()
    })
    .unwrap();
    let mut rng2 = StdRng::seed_from_u64(0);
    let mut ctx = ttfit::optim::StepContext {
        loss: &LeastSquares,
        par: Par::Seq,
        rng: &mut rng2,
        iteration: 0,
    };
    let (next, rep) = ngd.step(&x, &data, &mut ctx).unwrap();
    assert_eq!(rep.step_size, 1.0);
    let expected =
        p.ts.retract(1.0, &p.ts.from_coords(dense.view()).unwrap())
            .unwrap();
    assert!(dense_diff(&next, &expected) < 1e-8);
}

#[test]
fn block_diagonal_solver_solves_each_core_block() {
    let mut rng = StdRng::seed_from_u64(5);
    let truth = moderate_tt(3, 3, 2, &mut rng);
    let data = sample_set(
        &truth,
        features(3, 3, 400, &mut rng, |r| r.random_range(-1.0..1.0)),
    );
    let x = perturbed(&truth, 0.3, 9);
    let p = prepare(&x, &data, &LeastSquares, Par::Seq).unwrap();
    let fv = data.feature_views();
    let j = p.ts.jacobian(&p.si, &fv, Par::Seq).unwrap();
    let t = p.d1.mapv(|v| -v);
    let sys = GramSystem::new(
        &p.ts,
        &p.si,
        &fv,
        None,
        GramSolver::BlockDiagonal { rel_shift: 0.0 },
        Par::Seq,
    )
    .unwrap();
    let c = sys.solve_target(t.view()).unwrap();
    let off = p.ts.block_offsets();
    for k in 0..p.ts.order() {
        let jk = j.slice(ndarray::s![.., off[k]..off[k + 1]]);
        if jk.ncols() == 0 {
            continue;
        }
        let ck = linalg::lstsq(jk, t.view().insert_axis(ndarray::Axis(1))).unwrap();
        for (a, b) in c
            .slice(ndarray::s![off[k]..off[k + 1]])
            .iter()
            .zip(ck.column(0))
        {
            approx::assert_abs_diff_eq!(*a, *b, epsilon = 1e-8 * (1.0 + b.abs()));
        }
    }
}

#[test]
fn empirical_projection_of_a_tangent_vector_returns_it() {
    let mut rng = StdRng::seed_from_u64(21);
    let truth = moderate_tt(4, 3, 2, &mut rng);
    let data = sample_set(
        &truth,
        features(4, 3, 500, &mut rng, |r| r.random_range(-1.0..1.0)),
    );
    let ts = TangentSpace::new(&truth).unwrap();
    let fv = data.feature_views();
    let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
    let c = Array1::from_shape_fn(ts.dim(), |_| rng.random_range(-1.0..1.0));
    let q = ts.jvp(&si, &fv, c.view(), Par::Seq).unwrap();
    for solver in [
        GramSolver::Cholesky { rel_shift: 0.0 },
        GramSolver::Qr,
        GramSolver::Eigen { rel_cutoff: 1e-14 },
    ] {
        let sys = GramSystem::new(&ts, &si, &fv, None, solver, Par::Seq).unwrap();
        let m = sys.solve_target(q.view()).unwrap();
        let err = (&m - &c).iter().map(|v| v.abs()).fold(0.0, f64::max);
        assert!(err < 1e-9, "{solver:?}: {err:e}");
    }
}

#[test]
fn one_step_solves_a_linear_model_class() {
    // d = 1: the TT is its single core, the model class is linear, R_X is the identity map
    let mut rng = StdRng::seed_from_u64(2);
    let n = 7;
    let x: Vec<f64> = (0..200).map(|_| rng.random_range(-1.0..1.0)).collect();
    let phi = legendre(&x, n);
    let y = Array1::from_iter(x.iter().map(|t| (2.0 * t).sin() + 0.1 * t * t * t * t));
    let data = SampleSet::new(vec![phi.clone()], y.clone(), None).unwrap();
    let x0 = TensorTrain::zeros(&[n], &[]).unwrap();
    // the undamped Gauss-Newton step (the damped one: tests/damping.rs)
    let mut ngd = Ngd::new(NgdConfig {
        damping: ttfit::optim::damping::DampingRule::Off,
        step: StepRule::Fixed { alpha: 1.0 },
        ..Default::default()
    })
    .unwrap();
    let mut r = StdRng::seed_from_u64(0);
    let mut ctx = ttfit::optim::StepContext {
        loss: &LeastSquares,
        par: Par::Seq,
        rng: &mut r,
        iteration: 0,
    };
    let (x1, _) = ngd.step(&x0, &data, &mut ctx).unwrap();
    let coef = linalg::lstsq(phi.view(), y.view().insert_axis(ndarray::Axis(1))).unwrap();
    for j in 0..n {
        approx::assert_abs_diff_eq!(x1.core(0)[[0, j, 0]], coef[[j, 0]], epsilon = 1e-12);
    }
}

fn run(
    opt: &mut dyn Optimizer,
    x0: &TensorTrain,
    data: &SampleSet,
    iters: usize,
    test: Option<&SampleSet>,
) -> ttfit::train::FitResult {
    let rules = StoppingRules {
        max_iter: iters,
        rel_tol: 0.0,
        ..Default::default()
    };
    Trainer::new(rules)
        .par(Par::Seq)
        .seed(4)
        .run(opt, x0.clone(), data, None, test)
        .unwrap()
}

#[test]
fn beta_zero_reproduces_ngd_exactly() {
    let mut rng = StdRng::seed_from_u64(8);
    let truth = moderate_tt(4, 4, 2, &mut rng);
    let data = sample_set(
        &truth,
        features(4, 4, 800, &mut rng, |r| r.random_range(-1.0..1.0)),
    );
    let x0 = perturbed(&truth, 0.3, 1);
    for metric in [Metric::Empirical, Metric::Population] {
        for batch in [None, Some(300)] {
            let natural = NgdConfig {
                metric,
                batch_size: batch,
                ..Default::default()
            };
            let zero = MomentumParams {
                beta: 0.0,
                restart: true,
                schedule: BetaSchedule::Constant,
            };
            let base = run(&mut Ngd::new(natural.clone()).unwrap(), &x0, &data, 6, None);
            let hb = run(
                &mut Momentum::new(MomentumConfig {
                    natural: natural.clone(),
                    momentum: zero,
                    form: MomentumForm::MomentumVariable,
                    gradient_at: GradientAt::Current,
                })
                .unwrap(),
                &x0,
                &data,
                6,
                None,
            );
            let nest = run(
                &mut Momentum::new(MomentumConfig {
                    natural: natural.clone(),
                    momentum: zero,
                    form: MomentumForm::IterateDifference,
                    gradient_at: GradientAt::Lookahead,
                })
                .unwrap(),
                &x0,
                &data,
                6,
                None,
            );
            for other in [&hb, &nest] {
                assert_eq!(base.history.len(), other.history.len());
                for (a, b) in base.history.iter().zip(&other.history) {
                    assert_eq!(a.train_loss, b.train_loss, "{metric:?} batch {batch:?}");
                }
                assert!(dense_diff(&base.tt, &other.tt) == 0.0);
            }
        }
    }
}

#[test]
fn momentum_losses_are_monotone_with_restart() {
    let mut rng = StdRng::seed_from_u64(31);
    let truth = moderate_tt(5, 4, 3, &mut rng);
    let data = sample_set(
        &truth,
        features(5, 4, 1500, &mut rng, |r| r.random_range(-1.0..1.0)),
    );
    let x0 = perturbed(&truth, 0.5, 2);
    for metric in [Metric::Empirical, Metric::Population] {
        let natural = NgdConfig {
            metric,
            ..Default::default()
        };
        let momentum = MomentumParams {
            beta: 0.8,
            restart: true,
            schedule: BetaSchedule::Constant,
        };
        let mut opts: Vec<Box<dyn Optimizer>> = vec![
            Box::new(
                Momentum::new(MomentumConfig {
                    natural: natural.clone(),
                    momentum,
                    form: MomentumForm::MomentumVariable,
                    gradient_at: GradientAt::Current,
                })
                .unwrap(),
            ),
            Box::new(
                Momentum::new(MomentumConfig {
                    natural: natural.clone(),
                    momentum,
                    form: MomentumForm::IterateDifference,
                    gradient_at: GradientAt::Current,
                })
                .unwrap(),
            ),
            Box::new(
                Momentum::new(MomentumConfig {
                    natural: natural.clone(),
                    momentum,
                    form: MomentumForm::IterateDifference,
                    gradient_at: GradientAt::Lookahead,
                })
                .unwrap(),
            ),
        ];
        for opt in opts.iter_mut() {
            let res = run(opt.as_mut(), &x0, &data, 15, None);
            for w in res.history.windows(2) {
                assert!(
                    w[1].train_loss <= w[0].train_loss * (1.0 + 1e-12),
                    "{}: loss rose",
                    opt.name()
                );
            }
        }
    }
}

/// Recovery of a random functional TT (d=6, 5 Legendre functions, ranks 3, 3,000 noise-free
/// samples) from the default start.
#[test]
fn ngd_family_recovers_a_random_functional_tt() {
    let mut rng = StdRng::seed_from_u64(2026);
    let (d, n, r) = (6, 5, 3);
    let truth = moderate_tt(d, n, r, &mut rng);
    let train = sample_set(
        &truth,
        features(d, n, 3000, &mut rng, |g| g.random_range(-1.0..1.0)),
    );
    let test = sample_set(
        &truth,
        features(d, n, 2000, &mut rng, |g| g.random_range(-1.0..1.0)),
    );
    let x0 = ttfit::init::initial_tt(&train, &vec![r; d - 1], &ttfit::init::Start::default(), 1)
        .unwrap();
    let mut opts: Vec<Box<dyn Optimizer>> = vec![
        Box::new(Ngd::new(NgdConfig::default()).unwrap()),
        Box::new(Momentum::new(MomentumConfig::heavy_ball()).unwrap()),
        Box::new(Momentum::new(MomentumConfig::nesterov()).unwrap()),
    ];
    for opt in opts.iter_mut() {
        let rules = StoppingRules {
            max_iter: 60,
            rel_tol: 0.0,
            target_loss: Some(1e-26),
            ..Default::default()
        };
        let res = Trainer::new(rules)
            .par(Par::Rayon(0))
            .run(opt.as_mut(), x0.clone(), &train, None, None)
            .unwrap();
        let err = relative_error(
            predict(&res.tt, &test, Par::Seq).unwrap().view(),
            test.targets(),
        );
        assert!(
            err < 1e-10,
            "{}: relative test error {err:e} after {} iterations",
            opt.name(),
            res.history.len() - 1
        );
    }
}

/// Population-metric NGD on an ill-conditioned empirical least-squares problem (non-uniform
/// inputs, N close to D) is gradient descent on a quadratic; Nesterov's momentum with the
/// optimal `beta = (sqrt(kappa) - 1)/(sqrt(kappa) + 1)` must need at most a third of its
/// iterations to reach relative error 1e-8.
#[test]
fn nesterov_accelerates_population_ngd_on_an_ill_conditioned_problem() {
    let mut rng = StdRng::seed_from_u64(1);
    let n = 10;
    // 25 inputs concentrated near -1 (x = 2 u^2 - 1): the empirical Gram is far from the identity
    let x: Vec<f64> = (0..25)
        .map(|_| 2.0 * rng.random_range(0.0f64..1.0).powi(2) - 1.0)
        .collect();
    let phi = legendre(&x, n);
    let truth = Array1::from_shape_fn(n, |j| 1.0 / (1.0 + j as f64));
    let y = phi.dot(&truth);
    let data = SampleSet::new(vec![phi.clone()], y, None).unwrap();
    let g = phi.t().dot(&phi) / x.len() as f64;
    let (lam, _) = linalg::eigh(g.view()).unwrap();
    let (lmin, lmax) = (lam[0], lam[n - 1]);
    let kappa = lmax / lmin;
    assert!(
        (100.0..1e4).contains(&kappa),
        "kappa = {kappa} out of the intended range"
    );
    let alpha = 1.0 / lmax;
    let beta = (kappa.sqrt() - 1.0) / (kappa.sqrt() + 1.0);
    let natural = NgdConfig {
        metric: Metric::Population,
        step: StepRule::Fixed { alpha },
        ..Default::default()
    };
    let x0 = TensorTrain::zeros(&[n], &[]).unwrap();
    let iters_to = |opt: &mut dyn Optimizer| -> usize {
        let res = run(opt, &x0, &data, 20_000, None);
        res.history
            .iter()
            .position(|h| h.train_error < 1e-8)
            .expect("never reached 1e-8")
    };
    let gd = iters_to(&mut Ngd::new(natural.clone()).unwrap());
    let nest = iters_to(
        &mut Momentum::new(MomentumConfig {
            natural,
            momentum: MomentumParams {
                beta,
                restart: true,
                schedule: BetaSchedule::Constant,
            },
            form: MomentumForm::IterateDifference,
            gradient_at: GradientAt::Lookahead,
        })
        .unwrap(),
    );
    eprintln!("kappa {kappa:.1}: population NGD {gd} iterations, Nesterov {nest}");
    assert!(3 * nest <= gd, "Nesterov {nest} vs NGD {gd}");
}
