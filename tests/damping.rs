//! Levenberg–Marquardt damping of the natural-gradient step (`ttfit::optim::damping`,
//! MATH.md §12, docs/DAMPING.md): the damped step against a dense reference, and fits with
//! about as many samples as tangent dimensions.

mod common;

use common::{features, uniform_points};
use ndarray::{Array1, Array2, Axis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tensor_train::linalg::{self, Par};
use tensor_train::TensorTrain;
use ttfit::basis::Basis;
use ttfit::fit::{fit, FitConfig};
use ttfit::functions::TestFunction;
use ttfit::loss::LeastSquares;
use ttfit::optim::config::OptimizerOptions;
use ttfit::optim::damping::{direction_target, predicted_decrease, DampedGram, DampingState};
use ttfit::optim::gram::GramSolver;
use ttfit::optim::prepare;
use ttfit::optim::OptimizerConfig;
use ttfit::samples::SampleSet;
use ttfit::train::{IterationRecord, StoppingRules};

fn noop(_: &IterationRecord) {}

/// A seeded random TT of order 3, mode sizes `n`, ranks `r` (scaled normal cores).
fn random_tt(n: usize, r: usize, rng: &mut StdRng) -> TensorTrain {
    TensorTrain::random(
        &[n; 3],
        &[r; 2],
        tensor_train::CoreDistribution::ScaledNormal,
        rng,
    )
    .unwrap()
}

/// Rank 2, 5 Legendre functions per variable, borehole (d = 8): `D = 112` tangent dimensions.
fn fixed(name: &str, damping: &str, iterations: usize) -> FitConfig {
    let mut oc = OptimizerConfig::from_name(name).expect("optimizer");
    oc.apply_options(
        &OptimizerOptions {
            batch_size: None,
            solver: None,
            beta: None,
            damping: Some(damping),
            names: ["", "", "", "damping"],
        },
        false,
    )
    .expect("damping");
    FitConfig {
        basis: Basis::Legendre { n: 5 },
        rank: vec![2],
        optimizer: oc,
        validation: None,
        stopping: StoppingRules {
            max_iter: iterations,
            ..StoppingRules::default()
        },
        threads: Some(1),
        ..FitConfig::default()
    }
}

/// Borehole with `N = 1.1 D` samples (`D = 112`: rank 2, `legendre:5`), fixed settings, no
/// validation, 30 iterations from the greedy start. Undamped NGD (Armijo on the Gauss–Newton
/// step) blows up out of sample: its steps move far along the directions the 123 samples hardly
/// determine, and it ends with test error 2.0 for train error 2.2e-3, 16x ALS's test error
/// (0.12). Damped NGD and damped NGD-Nesterov (default `tau = 1e-6`) stay finite and end at
/// test error 0.36 (train 8.4e-4), 3.0x ALS: the overfitting that every least-squares fit at
/// `N ~ D` shows (ALS: train 3.2e-3), not the blow-up. Asserted: undamped >= 8x ALS with
/// train <= test / 100; damped finite, <= 4x ALS and <= 1/4 of undamped.
#[test]
fn lm_damping_keeps_fits_with_n_close_to_d_finite_and_non_interpolating() {
    let f = TestFunction::parse("borehole").expect("borehole");
    let n = 112 * 11 / 10;
    let train = f.sample(n, 1).expect("train");
    let test = f.sample(5000, 2).expect("test");
    let run = |name: &str, damping: &str| {
        let r = fit(&fixed(name, damping, 30), &train, Some(&test), noop).expect("fit");
        assert_eq!(
            r.result.history.len(),
            31,
            "{name} {damping}: 30 iterations"
        );
        (r.info.train_error, r.info.test_error.expect("test error"))
    };
    let (_, als) = run("als", "off");
    let (train_u, test_u) = run("ngd", "off");
    assert!(als.is_finite());
    assert!(
        test_u >= 8.0 * als && train_u <= test_u / 100.0,
        "undamped NGD should blow up out of sample: train {train_u:.2e}, test {test_u:.2e}, ALS {als:.2e}"
    );
    for name in ["ngd", "ngd-nesterov"] {
        let (tr, te) = run(name, "lm");
        assert!(tr.is_finite() && te.is_finite(), "{name}: {tr} {te}");
        assert!(
            te <= 4.0 * als && te <= test_u / 4.0,
            "damped {name}: test {te:.2e} (train {tr:.2e}), ALS {als:.2e}, undamped {test_u:.2e}"
        );
    }
}

/// Dense design matrix: row `i` is `phi_1(x^i) (x) ... (x) phi_d(x^i)` (first factor slowest),
/// so that `J = A E_X` with the dense tangent basis `E_X`.
fn design(data: &SampleSet) -> Array2<f64> {
    let mut a = Array2::from_elem((data.len(), 1), 1.0);
    for f in data.feature_views() {
        let (np, m) = (a.ncols(), f.ncols());
        let mut next = Array2::zeros((data.len(), np * m));
        for i in 0..data.len() {
            for p in 0..np {
                for q in 0..m {
                    next[[i, p * m + q]] = a[[i, p]] * f[[i, q]];
                }
            }
        }
        a = next;
    }
    a
}

/// The damped step of every dense solver is `-(G + lambda s I)^{-1} g` with `G = J^T W J / N`,
/// `g = J^T W e / N`, `s = tr(G) / D`, built densely from `E_X` and the Kronecker design matrix
/// (nothing of the solver is reused), with and without sample weights, at `N` just above `D`
/// (where `G` is ill-conditioned and the shift matters). `G + lambda s I` has condition number
/// at most `(lambda_max + lambda s) / (lambda s) <= 1e4` here, so the two solves agree to
/// `1e4 u ~ 1e-12` relative; the tolerance is `1e-9`. The model decrease is checked against
/// `-(g^T c + c^T G c / 2)`.
#[test]
fn damped_step_equals_the_dense_shifted_solve() {
    let mut rng = StdRng::seed_from_u64(5);
    let (d, n, r) = (3, 3, 2);
    let x0 = random_tt(n, r, &mut rng);
    // D = 3*2 + 2*3*2 + 2*3 - 2*2^2 = 16 tangent dimensions, N = 18 samples
    let x = uniform_points(&mut rng, 18, d);
    let y = Array1::from_shape_fn(18, |_| rng.random_range(-1.0..1.0));
    let w = Array1::from_shape_fn(18, |_| rng.random_range(0.5..2.0));
    for weights in [None, Some(w)] {
        let data = SampleSet::new(features(&x, n), y.clone(), weights.clone()).unwrap();
        let p = prepare(&x0, &data, &LeastSquares, Par::Seq).unwrap();
        let dim = p.ts.dim();
        assert_eq!(dim, 16);
        let j = design(&data).dot(&p.ts.basis_dense().unwrap());
        let ww = weights.clone().unwrap_or_else(|| Array1::ones(18));
        let nn = 18.0;
        let jw = &j * &ww.view().insert_axis(Axis(1));
        let g_mat = jw.t().dot(&j) / nn;
        let resid = &p.pred - &data.targets();
        let g = jw.t().dot(&resid) / nn;
        let s = g_mat.diag().sum() / dim as f64;
        let feats = data.feature_views();
        let h = weights.as_ref().map(|w| w.view());
        for solver in [
            GramSolver::Cholesky { rel_shift: 1e-12 },
            GramSolver::Qr,
            GramSolver::Eigen { rel_cutoff: 1e-10 },
        ] {
            let dg = DampedGram::new(&p.ts, &p.si, &feats, h, solver, Par::Seq).unwrap();
            for lambda in [1e-3, 1e-1, 10.0] {
                let f = dg.factor(lambda).unwrap().expect("positive definite");
                let c = f
                    .solve_target(direction_target(p.d1.view(), p.d2.view()).view())
                    .unwrap();
                let mut shifted = g_mat.clone();
                shifted.diag_mut().mapv_inplace(|v| v + lambda * s);
                let reference = -linalg::lstsq(shifted.view(), g.view().insert_axis(Axis(1)))
                    .unwrap()
                    .column(0)
                    .to_owned();
                let scale = reference.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let err = (&c - &reference).iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert!(
                    err <= 1e-9 * scale,
                    "{solver:?} lambda {lambda}: |c - ref| = {err:.2e} of {scale:.2e}"
                );
                let jc = j.dot(&c);
                let pred = predicted_decrease(&p.d1, &p.d2, &jc);
                let dense_pred = -(g.dot(&c) + 0.5 * c.dot(&g_mat.dot(&c)));
                assert!((pred - dense_pred).abs() <= 1e-10 * dense_pred.abs());
                assert!(pred > 0.0, "the damped step decreases the model");
            }
        }
    }
}

/// Nielsen's rule (MATH.md §12): an accepted trial with gain ratio `rho` multiplies `lambda`
/// by `max(1/3, 1 - (2 rho - 1)^3)` and resets `nu = 2`; a rejection multiplies it by `nu` and
/// doubles `nu`.
#[test]
fn nielsen_update_of_the_damping() {
    let mut st = DampingState {
        lambda: 1.0,
        nu: 2.0,
    };
    st.rejected();
    st.rejected();
    assert_eq!((st.lambda, st.nu), (8.0, 8.0));
    st.accepted(1.0);
    assert_eq!((st.lambda, st.nu), (8.0 / 3.0, 2.0));
    st.accepted(0.5);
    assert_eq!(st.lambda, 8.0 / 3.0);
    st.accepted(0.25);
    assert!((st.lambda - 8.0 / 3.0 * 1.125).abs() < 1e-15);
}

/// A damped momentum step whose momentum points uphill (constant `beta = 0.9`, the carried step
/// a large multiple of `+g`) is rejected by the gain ratio, restarts, and takes the plain damped
/// step at the doubled damping: the returned point equals the retraction of the independently
/// computed `-(G + 2 tau s I)^{-1} g` (same formula as the dense reference above, through the
/// public `DampedGram`), the loss decreases, and the state records `lambda` after Nielsen's update.
#[test]
fn rejected_damped_momentum_restarts_with_the_plain_damped_step() {
    use ttfit::optim::momentum::{
        BetaSchedule, Momentum, MomentumConfig, MomentumMemory, MomentumState,
    };
    use ttfit::optim::{evaluate, Optimizer, StepContext};
    let mut rng = StdRng::seed_from_u64(8);
    let (d, n, r) = (3, 3, 2);
    let truth = random_tt(n, r, &mut rng);
    let x = uniform_points(&mut rng, 200, d);
    let feats = features(&x, n);
    let views: Vec<_> = feats.iter().map(|f| f.view()).collect();
    let y = truth.eval_features(&views, Par::Seq).unwrap()
        + Array1::from_shape_fn(200, |_| 0.3 * rng.random_range(-1.0..1.0));
    let data = SampleSet::new(feats, y, None).unwrap();
    let xk = random_tt(n, r, &mut rng);
    let p = prepare(&xk, &data, &LeastSquares, Par::Seq).unwrap();
    let fv = data.feature_views();
    let g =
        p.ts.vjp(&p.si, &fv, (&p.d1 / data.len() as f64).view(), Par::Seq)
            .unwrap();
    let up =
        p.ts.from_coords((&g * (10.0 * xk.norm().unwrap() / g.dot(&g).sqrt())).view())
            .unwrap();
    let mut cfg = MomentumConfig::heavy_ball();
    cfg.momentum.schedule = BetaSchedule::Constant;
    cfg.momentum.beta = 0.9;
    let tau = 1e-6;
    let mut opt = Momentum::new(cfg).unwrap();
    opt.set_state(MomentumState {
        memory: Some(MomentumMemory {
            point: xk.clone(),
            carried: p.ts.to_tt(&up).unwrap(),
            values: None,
        }),
        since_restart: 1,
        last_beta: None,
        damping: None,
    });
    let mut srng = StdRng::seed_from_u64(0);
    let mut ctx = StepContext {
        loss: &LeastSquares,
        par: Par::Seq,
        rng: &mut srng,
        iteration: 0,
    };
    let (x1, rep) = opt.step(&xk, &data, &mut ctx).unwrap();
    assert!(rep.restarted, "{:?}", rep.note);
    // the reference: one rejection doubles lambda (nu = 2), then the plain damped step
    let dg = DampedGram::new(
        &p.ts,
        &p.si,
        &fv,
        None,
        GramSolver::Cholesky { rel_shift: 1e-12 },
        Par::Seq,
    )
    .unwrap();
    let c = dg
        .factor(2.0 * tau)
        .unwrap()
        .unwrap()
        .solve_target(direction_target(p.d1.view(), p.d2.view()).view())
        .unwrap();
    let x_ref =
        p.ts.retract(1.0, &p.ts.from_coords(c.view()).unwrap())
            .unwrap();
    let dense = |t: &TensorTrain| Array1::from_iter(t.to_dense().unwrap().iter().cloned());
    let err = (&dense(&x1) - &dense(&x_ref))
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        err <= 1e-12 * xk.norm().unwrap(),
        "restart is not the plain damped step: {err:e}"
    );
    let l1 = evaluate(&x1, &data, &LeastSquares, Par::Seq).unwrap().0;
    assert!(l1 < p.loss);
    let st = opt.state().damping.expect("damping state");
    assert!(st.lambda < 2.0 * tau && st.nu == 2.0, "{st:?}");
}

/// The halvings of a rejected matrix-free trial (`lm_loop` with `halvings > 0`): the proposal
/// is the Gauss–Newton step `-G^{-1} g` (dense reference from `E_X` and the Kronecker design,
/// `N = 18` samples for `D = 16`) plus a long component along the weakest direction of `G`
/// (model decrease still positive), so the full trial is rejected. The loop must return `R_X(t c)` for the first
/// `t = 1/2, 1/4, 1/8` whose gain ratio `(L(X) - L(R_X(t c))) / pred(t)` reaches `accept`,
/// with `pred(t) = -(t g^T c + t^2 c^T G c / 2)` and `L` both computed here densely (TT
/// evaluation on the samples, `G` and `g` from `J = A E_X`); it must not ask for a second
/// solve, and `lambda` must be raised once (`lambda nu`, then `nu = 2`). Without halvings the
/// same rejected trial asks for a new solve at the raised `lambda`.
#[test]
fn rejected_matrix_free_trial_is_halved_before_a_new_solve() {
    use ttfit::optim::damping::{lm_loop, Damping, Proposal};
    use ttfit::optim::objective::SampleObjective;
    let mut rng = StdRng::seed_from_u64(21);
    let (d, n, r) = (3, 3, 2);
    let truth = random_tt(n, r, &mut rng);
    let x = uniform_points(&mut rng, 18, d);
    let feats = features(&x, n);
    let views: Vec<_> = feats.iter().map(|f| f.view()).collect();
    let y = truth.eval_features(&views, Par::Seq).unwrap();
    let data = SampleSet::new(feats.clone(), y.clone(), None).unwrap();
    let xk = random_tt(n, r, &mut rng);
    let p = prepare(&xk, &data, &LeastSquares, Par::Seq).unwrap();
    let j = design(&data).dot(&p.ts.basis_dense().unwrap());
    let nn = data.len() as f64;
    let g_mat = j.t().dot(&j) / nn;
    let g = j.t().dot(&(&p.pred - &y)) / nn;
    let gn = -linalg::lstsq(g_mat.view(), g.view().insert_axis(Axis(1)))
        .unwrap()
        .column(0)
        .to_owned();
    // c = gn + v: v along G's weakest direction, made g-orthogonal and scaled to
    // v^T G v = q / 2 (q = -g^T gn = gn^T G gn), so that pred(1) = q/2 - v^T G v / 2 = q / 4 > 0
    // while the tangent step is long where the 18 samples constrain it least
    let q = -g.dot(&gn);
    let (_, vecs) = linalg::eigh(g_mat.view()).unwrap();
    let mut v = vecs.column(0).to_owned();
    let along = g.dot(&v) / g.dot(&g);
    v.scaled_add(-along, &g);
    v *= (0.5 * q / v.dot(&g_mat.dot(&v))).sqrt();
    let c = &gn + &v;
    let loss_at = |t: f64| {
        let yt =
            p.ts.retract(t, &p.ts.from_coords(c.view()).unwrap())
                .unwrap();
        let e = yt.eval_features(&views, Par::Seq).unwrap() - &y;
        e.dot(&e) / (2.0 * nn)
    };
    let pred_t = |t: f64| -(t * g.dot(&c) + 0.5 * t * t * c.dot(&g_mat.dot(&c)));
    let cfg = Damping::default();
    let rho = |t: f64| (p.loss - loss_at(t)) / pred_t(t);
    assert!(
        rho(1.0) < cfg.accept,
        "the overlong step must be rejected: rho {}",
        rho(1.0)
    );
    let expected = [0.5, 0.25, 0.125]
        .into_iter()
        .find(|&t| rho(t) >= cfg.accept)
        .expect("a halving of the overlong Gauss–Newton step is accepted");
    let obj = SampleObjective::new(&data, &LeastSquares);
    let propose_calls = std::cell::Cell::new(0);
    let propose = |_: f64, _: usize| {
        propose_calls.set(propose_calls.get() + 1);
        Ok(Some(Proposal {
            c: c.clone(),
            jc: j.dot(&c),
            alpha: 1.0,
            beta: 0.0,
        }))
    };
    let mut st = DampingState {
        lambda: 1e-3,
        nu: 2.0,
    };
    let taken = lm_loop(&cfg, &mut st, &p, &obj, Par::Seq, 3, propose).unwrap();
    assert_eq!(propose_calls.get(), 1, "no second solve");
    let pr = taken.proposal.expect("a halved step is accepted");
    assert_eq!(pr.alpha, expected);
    let xt = taken.x.expect("accepted point");
    let reference =
        p.ts.retract(expected, &p.ts.from_coords(c.view()).unwrap())
            .unwrap();
    let diff = (xt.to_dense().unwrap() - reference.to_dense().unwrap())
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        diff <= 1e-12 * reference.norm().unwrap(),
        "R_X(t c): {diff:.2e}"
    );
    assert!((taken.loss - loss_at(expected)).abs() <= 1e-12 * p.loss);
    assert_eq!((st.lambda, st.nu), (2e-3, 2.0));

    propose_calls.set(0);
    let mut st0 = DampingState {
        lambda: 1e-3,
        nu: 2.0,
    };
    let cfg2 = Damping {
        max_trials: 2,
        ..cfg
    };
    let taken0 = lm_loop(&cfg2, &mut st0, &p, &obj, Par::Seq, 0, propose).unwrap();
    assert_eq!(
        propose_calls.get(),
        2,
        "without halvings a rejection re-solves"
    );
    assert!(taken0.x.is_none());
}
