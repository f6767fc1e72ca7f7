//! Integration tests of the baseline optimizers (ALS, RGD, RCG, GD) and of the start point.
//!
//! Problems (see `tests/common`): recovery of a random functional TT (d = 6, 5 Legendre
//! features, ranks 3, 3000 noise-free samples) and the borehole function (d = 8, 2000
//! samples). Everything is seeded; run with `cargo test --release --test baselines`.

mod common;

use common::{borehole_problem, recovery, Recovery, RECOVERY_RANKS};
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use ttfit::init::{initial_tt, Start, PERTURBATION};
use ttfit::loss::{relative_error, LeastSquares};
use ttfit::optim::als::{Als, AlsConfig};
use ttfit::optim::gd::{Gd, GdConfig, GdStep};
use ttfit::optim::rcg::{CgBeta, Rcg, RcgConfig};
use ttfit::optim::rgd::{Rgd, RgdConfig};
use ttfit::optim::{predict, Optimizer, StepContext};
use ttfit::samples::SampleSet;
use ttfit::tensor_train::linalg::Par;
use ttfit::tensor_train::TensorTrain;
use ttfit::train::{FitResult, IterationRecord, StopReason, StoppingRules, Trainer};
use ttfit::Error;

/// Builds a fresh optimizer.
type MakeOptimizer = fn() -> Box<dyn Optimizer>;

fn rules(max_iter: usize) -> StoppingRules {
    StoppingRules {
        max_iter,
        rel_tol: 0.0,
        ..Default::default()
    }
}

fn run(
    opt: &mut dyn Optimizer,
    x0: TensorTrain,
    train: &SampleSet,
    test: &SampleSet,
    r: StoppingRules,
    par: Par,
) -> FitResult {
    Trainer::new(r)
        .par(par)
        .run(opt, x0, train, None, Some(test))
        .expect("the fit runs")
}

fn recovery_start(p: &Recovery) -> TensorTrain {
    initial_tt(&p.train, &RECOVERY_RANKS, &Start::Additive, 7).expect("additive start")
}

fn final_test_error(res: &FitResult) -> f64 {
    res.history
        .last()
        .and_then(|r| r.test_error)
        .expect("test error recorded")
}

/// First iteration at which the relative training error is at or below `tol`.
fn iterations_to(history: &[IterationRecord], tol: f64) -> Option<usize> {
    history
        .iter()
        .find(|r| r.train_error <= tol)
        .map(|r| r.iteration)
}

fn assert_monotone(name: &str, history: &[IterationRecord]) {
    for w in history.windows(2) {
        assert!(
            w[1].train_loss <= w[0].train_loss,
            "{name}: loss increased at iteration {}: {:.6e} -> {:.6e}",
            w[1].iteration,
            w[0].train_loss,
            w[1].train_loss
        );
    }
}

#[test]
fn recovery_als_reaches_1e_8() {
    let p = recovery(3000, 2000, 1);
    let mut als = Als::new(AlsConfig::default()).unwrap();
    let res = run(
        &mut als,
        recovery_start(&p),
        &p.train,
        &p.test,
        rules(40),
        Par::Rayon(0),
    );
    let err = final_test_error(&res);
    assert!(
        err < 1e-8,
        "ALS test error {err:.3e} after {} sweeps",
        res.history.len() - 1
    );
    // every sweep is a sequence of exact local minimizations of 2 L + lambda ||X||^2: the loss
    // never increases by more than the ridge term can trade, lambda ||X||^2 ~ lambda mean(y^2)
    let slack = AlsConfig::default().regularization
        * p.train.targets().iter().map(|v| v * v).sum::<f64>()
        / p.train.len() as f64;
    for w in res.history.windows(2) {
        assert!(
            w[1].train_loss <= w[0].train_loss + slack,
            "ALS loss increased at sweep {}",
            w[1].iteration
        );
    }
}

#[test]
fn recovery_rcg_reaches_1e_8_and_beats_rgd() {
    let p = recovery(3000, 2000, 1);
    let x0 = recovery_start(&p);
    let mut rcg = Rcg::new(RcgConfig::default()).unwrap();
    let rcg_res = run(
        &mut rcg,
        x0.clone(),
        &p.train,
        &p.test,
        rules(150),
        Par::Rayon(0),
    );
    let err = final_test_error(&rcg_res);
    assert!(
        err < 1e-8,
        "RCG test error {err:.3e} ({:?} after {} iterations)",
        rcg_res.stop,
        rcg_res.history.len() - 1
    );
    assert_monotone("rcg", &rcg_res.history);

    let mut rgd = Rgd::new(RgdConfig::default()).unwrap();
    let rgd_res = run(&mut rgd, x0, &p.train, &p.test, rules(150), Par::Rayon(0));
    let err = final_test_error(&rgd_res);
    assert!(
        err < 1e-4,
        "RGD test error {err:.3e} after {} iterations",
        rgd_res.history.len() - 1
    );
    assert_monotone("rgd", &rgd_res.history);

    // conjugate directions pay off: fewer iterations to the same training error
    let tol = 1e-5;
    let n_rcg = iterations_to(&rcg_res.history, tol).expect("RCG reaches 1e-5");
    let n_rgd = iterations_to(&rgd_res.history, tol).expect("RGD reaches 1e-5");
    assert!(n_rcg < n_rgd, "RCG needed {n_rcg} iterations, RGD {n_rgd}");
}

#[test]
fn recovery_fletcher_reeves_and_restarts() {
    let p = recovery(3000, 1000, 1);
    let cfg = RcgConfig {
        beta: CgBeta::FletcherReeves,
        restart_period: Some(10),
        ..Default::default()
    };
    let mut rcg = Rcg::new(cfg).unwrap();
    assert_eq!(rcg.name(), "rcg-fr");
    let res = run(
        &mut rcg,
        recovery_start(&p),
        &p.train,
        &p.test,
        rules(40),
        Par::Rayon(0),
    );
    assert_monotone("rcg-fr", &res.history);
    // a restart every 10 steps at least
    assert!(
        res.restarts >= 3,
        "only {} restarts in 40 steps with period 10",
        res.restarts
    );
    assert!(res.history.iter().any(|r| r
        .step
        .note
        .as_deref()
        .is_some_and(|n| n.contains("periodic"))));
    assert!(final_test_error(&res) < 0.5 * res.history[0].test_error.unwrap());
}

#[test]
fn gd_decreases_monotonically_with_armijo() {
    let p = recovery(2000, 1000, 1);
    let mut gd = Gd::new(GdConfig::default()).unwrap();
    let res = run(
        &mut gd,
        recovery_start(&p),
        &p.train,
        &p.test,
        rules(60),
        Par::Rayon(0),
    );
    assert_monotone("gd", &res.history);
    let (first, last) = (
        res.history[0].train_loss,
        res.history.last().unwrap().train_loss,
    );
    assert!(
        last < 0.5 * first,
        "GD barely moved: {first:.3e} -> {last:.3e}"
    );
    // the step re-grows: some accepted steps are larger than an earlier one
    let steps: Vec<f64> = res.history[1..].iter().map(|r| r.step.step_size).collect();
    assert!(
        steps.windows(2).any(|w| w[1] > w[0]),
        "the GD step never grew: {steps:?}"
    );

    // a fixed, small learning rate also decreases the loss (no line search)
    let mut gd = Gd::new(GdConfig {
        step: GdStep::Fixed { lr: 1e-3 },
        ..Default::default()
    })
    .unwrap();
    let res = run(
        &mut gd,
        recovery_start(&p),
        &p.train,
        &p.test,
        rules(5),
        Par::Rayon(0),
    );
    assert!(res.history.iter().skip(1).all(|r| r.step.step_size == 1e-3));
    assert!(res.history.last().unwrap().train_loss < res.history[0].train_loss);
}

#[test]
fn borehole_als_approximation() {
    // 5 Legendre features per variable, rank 4: ALS reaches 1e-3 (about 3e-4 after 15 sweeps)
    let (train, test) = borehole_problem(2000, 2000, 5, 2);
    let x0 = initial_tt(&train, &[4; 7], &Start::Additive, 0).unwrap();
    let start_err = relative_error(
        predict(&x0, &test, Par::Rayon(0)).unwrap().view(),
        test.targets(),
    );
    let mut als = Als::new(AlsConfig::default()).unwrap();
    let res = run(&mut als, x0, &train, &test, rules(15), Par::Rayon(0));
    let err = final_test_error(&res);
    assert!(
        err < 1e-3,
        "borehole (n = 5) ALS test error {err:.3e} (start {start_err:.3e})"
    );

    // 8 Legendre features (D = 720 parameters for 2000 samples): ALS from the additive start
    // lands in a basin with test error ~2-5e-3 (see the report); guard that level
    let (train, test) = borehole_problem(2000, 2000, 8, 2);
    let x0 = initial_tt(&train, &[4; 7], &Start::Additive, 0).unwrap();
    let res = run(&mut als, x0, &train, &test, rules(8), Par::Rayon(0));
    let err = final_test_error(&res);
    assert!(err < 1e-2, "borehole (n = 8) ALS test error {err:.3e}");
}

#[test]
fn same_seed_same_result() {
    let p = recovery(1500, 500, 3);
    let a = initial_tt(&p.train, &RECOVERY_RANKS, &Start::Additive, 11).unwrap();
    let b = initial_tt(&p.train, &RECOVERY_RANKS, &Start::Additive, 11).unwrap();
    assert_eq!(a, b, "additive start not reproducible");
    let c = initial_tt(&p.train, &RECOVERY_RANKS, &Start::Additive, 12).unwrap();
    assert_ne!(a, c, "the seed does not enter the perturbation");
    let r1 = initial_tt(&p.train, &RECOVERY_RANKS, &Start::Random { scale: 1.0 }, 5).unwrap();
    let r2 = initial_tt(&p.train, &RECOVERY_RANKS, &Start::Random { scale: 1.0 }, 5).unwrap();
    assert_eq!(r1, r2, "random start not reproducible");

    let makers: Vec<(&str, MakeOptimizer)> = vec![
        ("als", || Box::new(Als::new(AlsConfig::default()).unwrap())),
        ("rgd", || Box::new(Rgd::new(RgdConfig::default()).unwrap())),
        ("rcg", || Box::new(Rcg::new(RcgConfig::default()).unwrap())),
        ("gd", || Box::new(Gd::new(GdConfig::default()).unwrap())),
    ];
    for (name, make) in makers {
        let runs: Vec<FitResult> = (0..2)
            .map(|_| {
                let mut opt = make();
                run(
                    opt.as_mut(),
                    a.clone(),
                    &p.train,
                    &p.test,
                    rules(6),
                    Par::Seq,
                )
            })
            .collect();
        assert_eq!(runs[0].tt, runs[1].tt, "{name}: final iterates differ");
        assert_eq!(runs[0].history.len(), runs[1].history.len());
        for (x, y) in runs[0].history.iter().zip(&runs[1].history) {
            assert_eq!(
                x.train_loss.to_bits(),
                y.train_loss.to_bits(),
                "{name}: loss differs at {}",
                x.iteration
            );
            assert_eq!(
                x.test_error.map(f64::to_bits),
                y.test_error.map(f64::to_bits),
                "{name}: test error differs"
            );
            assert_eq!(
                x.step, y.step,
                "{name}: step reports differ at {}",
                x.iteration
            );
        }
    }
}

#[test]
fn start_points() {
    let p = recovery(1500, 500, 3);
    // an additive target is reproduced by the additive start up to the perturbation
    let d = 6;
    let f = |k: usize, t: f64| (k as f64 + 1.0).sin() * t + 0.3 * t * t - 0.1 * k as f64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let x = common::uniform_points(&mut rng, 1500, d);
    let y: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|r| 2.0 + r.iter().enumerate().map(|(k, &t)| f(k, t)).sum::<f64>())
        .collect();
    let data = SampleSet::new(common::features(&x, 5), y, None).unwrap();
    for ranks in [[2usize; 5], [3; 5], [1, 2, 3, 2, 1]] {
        let x0 = initial_tt(&data, &ranks, &Start::Additive, 0).unwrap();
        assert_eq!(x0.internal_ranks(), ranks.to_vec());
        let err = relative_error(
            predict(&x0, &data, Par::Seq).unwrap().view(),
            data.targets(),
        );
        let bound = if ranks.contains(&1) {
            0.5
        } else {
            3.0 * PERTURBATION
        };
        assert!(
            err < bound,
            "additive start with ranks {ranks:?}: error {err:.3e}"
        );
        // full-rank unfoldings: the start lies on the fixed-rank manifold
        let smin = x0.min_singular_values().unwrap();
        let norm = x0.norm().unwrap();
        assert!(
            smin.iter().all(|&s| s > 1e-9 * norm),
            "rank-deficient start {smin:?}"
        );
    }
    // rank 1 everywhere: the best rank-1 rounding of the additive fit, still a useful start
    let x1 = initial_tt(&p.train, &[1; 5], &Start::Additive, 0).unwrap();
    let e1 = relative_error(
        predict(&x1, &p.train, Par::Seq).unwrap().view(),
        p.train.targets(),
    );
    assert!(e1 < 1.0, "rank-1 start error {e1:.3e}");
    // the random start has the requested norm relative to the targets
    let xr = initial_tt(&p.train, &RECOVERY_RANKS, &Start::Random { scale: 2.0 }, 0).unwrap();
    let rms = (p.train.targets().iter().map(|v| v * v).sum::<f64>() / p.train.len() as f64).sqrt();
    assert!((xr.norm().unwrap() / rms - 2.0).abs() < 1e-10);
    // d = 1: the additive fit is the least-squares fit of the single core
    let data1 = SampleSet::new(
        vec![common::legendre(&[0.1, -0.5, 0.7, 0.3], 2)],
        Array1::from(vec![1.0, 2.0, 3.0, 4.0]),
        None,
    )
    .unwrap();
    let t = initial_tt(&data1, &[], &Start::Additive, 0).unwrap();
    assert_eq!(t.order(), 1);
}

#[test]
fn sample_weights_are_honoured_by_als() {
    // zero weights on half of the samples = fitting the other half
    let p = recovery(1200, 10, 5);
    let n = p.train.len();
    let w = Array1::from_shape_fn(n, |i| if i % 2 == 0 { 1.0 } else { 0.0 });
    let feats: Vec<Array2<f64>> = p
        .train
        .feature_views()
        .iter()
        .map(|f| f.to_owned())
        .collect();
    let weighted = SampleSet::new(feats, p.train.targets().to_owned(), Some(w)).unwrap();
    let even: Vec<usize> = (0..n).step_by(2).collect();
    let half = p.train.subset(&even);
    let x0 = initial_tt(&half, &RECOVERY_RANKS, &Start::Additive, 0).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut step = |data: &SampleSet| {
        let mut als = Als::new(AlsConfig::default()).unwrap();
        let mut ctx = StepContext {
            loss: &LeastSquares,
            par: Par::Seq,
            rng: &mut rng,
            iteration: 0,
        };
        als.step(&x0, data, &mut ctx).unwrap().0
    };
    let (xw, xh) = (step(&weighted), step(&half));
    let (pw, ph) = (
        predict(&xw, &half, Par::Seq).unwrap(),
        predict(&xh, &half, Par::Seq).unwrap(),
    );
    let diff = relative_error(pw.view(), ph.view());
    // the weighted loss is normalized by N instead of N/2: same minimizers up to the ridge
    assert!(
        diff < 1e-8,
        "weighted ALS differs from the subset fit by {diff:.3e}"
    );
}

#[test]
fn errors_not_panics() {
    let p = recovery(300, 10, 1);
    // ranks not admissible for 5 features: r_1 <= 5, r_5 <= 5
    match initial_tt(&p.train, &[6, 6, 6, 6, 6], &Start::Additive, 0) {
        Err(Error::InvalidParameter { name, message }) => {
            assert_eq!(name, "rank");
            assert!(
                message.contains("[5, 6, 6, 6, 5]"),
                "the message should give the largest admissible ranks: {message}"
            );
        }
        other => panic!("expected a rank error, got {other:?}"),
    }
    assert!(
        initial_tt(&p.train, &[3, 3], &Start::Additive, 0).is_err(),
        "wrong number of ranks"
    );
    assert!(
        initial_tt(&p.train, &[3, 0, 3, 3, 3], &Start::Additive, 0).is_err(),
        "zero rank"
    );
    assert!(initial_tt(&p.train, &[3; 5], &Start::Random { scale: 0.0 }, 0).is_err());
    assert!(initial_tt(&p.train, &[3; 5], &Start::Random { scale: f64::NAN }, 0).is_err());

    // configuration errors
    assert!(Als::new(AlsConfig {
        regularization: -1.0,
        ..AlsConfig::default()
    })
    .is_err());
    assert!(Als::new(AlsConfig {
        regularization: f64::INFINITY,
        ..AlsConfig::default()
    })
    .is_err());
    assert!(Rcg::new(RcgConfig {
        descent_tol: 1.5,
        ..Default::default()
    })
    .is_err());
    assert!(Rcg::new(RcgConfig {
        restart_period: Some(0),
        ..Default::default()
    })
    .is_err());
    let mut bad = RgdConfig::default();
    bad.armijo.sigma = 2.0;
    assert!(Rgd::new(bad).is_err());
    assert!(Gd::new(GdConfig {
        step: GdStep::Fixed { lr: 0.0 },
        ..Default::default()
    })
    .is_err());
    assert!(Gd::new(GdConfig {
        step: GdStep::Armijo {
            initial: 1.0,
            grow: 0.5
        },
        ..Default::default()
    })
    .is_err());

    // a start point that does not match the data: 4 features instead of 5
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let wrong = TensorTrain::random(
        &[4; 6],
        &[2; 5],
        ttfit::tensor_train::CoreDistribution::ScaledNormal,
        &mut rng,
    )
    .unwrap();
    let wrong_order = TensorTrain::random(
        &[5; 4],
        &[2; 3],
        ttfit::tensor_train::CoreDistribution::ScaledNormal,
        &mut rng,
    )
    .unwrap();
    let mut opts: Vec<Box<dyn Optimizer>> = vec![
        Box::new(Als::new(AlsConfig::default()).unwrap()),
        Box::new(Rgd::new(RgdConfig::default()).unwrap()),
        Box::new(Rcg::new(RcgConfig::default()).unwrap()),
        Box::new(Gd::new(GdConfig::default()).unwrap()),
    ];
    for opt in opts.iter_mut() {
        let r = Trainer::new(rules(3)).run(opt.as_mut(), wrong.clone(), &p.train, None, None);
        assert!(
            r.is_err(),
            "{}: mismatching start accepted by the trainer",
            opt.name()
        );
        for x in [&wrong, &wrong_order] {
            let mut ctx = StepContext {
                loss: &LeastSquares,
                par: Par::Seq,
                rng: &mut rng,
                iteration: 0,
            };
            assert!(
                opt.step(x, &p.train, &mut ctx).is_err(),
                "{}: mismatching point accepted by step",
                opt.name()
            );
        }
    }
}

#[test]
fn stationary_point_stops_cleanly() {
    // the truth itself: zero residual, RGD/RCG/GD report no progress instead of failing
    let p = recovery(800, 10, 2);
    for (name, mut opt) in [
        (
            "rgd",
            Box::new(Rgd::new(RgdConfig::default()).unwrap()) as Box<dyn Optimizer>,
        ),
        ("rcg", Box::new(Rcg::new(RcgConfig::default()).unwrap())),
        ("gd", Box::new(Gd::new(GdConfig::default()).unwrap())),
    ] {
        let res = Trainer::new(rules(5))
            .par(Par::Seq)
            .run(opt.as_mut(), p.truth.clone(), &p.train, None, None)
            .unwrap();
        assert!(
            res.history[0].train_loss < 1e-25,
            "{name}: truth has loss {:.3e}",
            res.history[0].train_loss
        );
        assert!(
            matches!(res.stop, StopReason::NoProgress | StopReason::MaxIter),
            "{name}: {:?}",
            res.stop
        );
        assert!(res.history.last().unwrap().train_loss < 1e-20);
    }
}

#[test]
fn configs_round_trip_through_json() {
    use ttfit::optim::OptimizerConfig;
    for name in ["als", "rgd", "rcg", "gd"] {
        let cfg = OptimizerConfig::from_name(name).unwrap();
        let json = serde_json::to_string(&cfg).unwrap();
        let back: OptimizerConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(cfg, back, "{json}");
        // a bare method name takes every default
        let bare: OptimizerConfig =
            serde_json::from_str(&format!("{{\"method\": \"{name}\"}}")).unwrap();
        assert_eq!(cfg, bare, "{name}");
        assert!(bare.build().is_ok());
    }
    let partial: OptimizerConfig =
        serde_json::from_str(r#"{"method": "gd", "step": {"fixed": {"lr": 0.01}}}"#).unwrap();
    assert!(
        matches!(partial, OptimizerConfig::Gd(GdConfig { step: GdStep::Fixed { lr }, .. }) if lr == 0.01)
    );
    let rcg: OptimizerConfig =
        serde_json::from_str(r#"{"method": "rcg", "beta": "fletcher-reeves"}"#).unwrap();
    assert!(matches!(
        rcg,
        OptimizerConfig::Rcg(RcgConfig {
            beta: CgBeta::FletcherReeves,
            ..
        })
    ));
    let start: Start = serde_json::from_str(r#"{"random": {"scale": 2.0}}"#).unwrap();
    assert_eq!(start, Start::Random { scale: 2.0 });
    assert_eq!(
        serde_json::from_str::<Start>("\"additive\"").unwrap(),
        Start::Additive
    );
}
