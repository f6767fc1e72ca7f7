//! Natural momentum against independent dense references (issue 9 item 5; MATH.md §7,
//! §9.3, §9.11-9.12): the transported momentum in both metrics and both forms for d = 3 and
//! d = 4, restarts, the Nesterov/Heavy-Ball identity, gauge invariance and exact quadrature.
//!
//! These are the undamped mechanics (Armijo, restarts, exact Gauss–Newton steps): every
//! configuration sets `damping: DampingRule::Off`; the damped step has its own tests in `tests/damping.rs`.
//!
//! References are built densely from `TangentSpace` coordinates: the dense basis `E_X`
//! (`TangentSpace::basis_dense`), dense tensors (`TensorTrain::to_dense`) and the dense design
//! matrix `A` of Kronecker feature rows, so that `J = A E_X`; nothing of the optimizer under
//! test is reused.

mod common;

use common::{features, legendre, uniform_points};
use ndarray::{Array1, Array2, Axis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tensor_train::gauge::{left_multiply, right_multiply};
use tensor_train::linalg::{self, Par};
use tensor_train::tangent::{SampleInterfaces, TangentSpace};
use tensor_train::TensorTrain;
use ttfit::loss::{LeastSquares, Loss};
use ttfit::optim::linesearch::{armijo, Armijo};
use ttfit::optim::momentum::{
    BetaSchedule, GradientAt, Momentum, MomentumConfig, MomentumForm, MomentumMemory,
    MomentumParams, MomentumState,
};
use ttfit::optim::ngd::{Metric, Ngd, NgdConfig};
use ttfit::optim::{prepare, Optimizer, OptimizerConfig, StepContext};
use ttfit::samples::SampleSet;
use ttfit::train::{FitResult, StoppingRules, Trainer};

/// Random TT with identity-like degree-0 slices plus noise decaying with the degree.
fn moderate_tt(d: usize, n: usize, r: usize, rng: &mut StdRng) -> TensorTrain {
    ttfit::functions::random_smooth_tt(d, n, r, rng).unwrap()
}

/// `truth` plus a relative perturbation of the same ranks, rounded back to them.
fn perturbed(truth: &TensorTrain, rel: f64, seed: u64) -> TensorTrain {
    let mut rng = StdRng::seed_from_u64(seed);
    let noise = moderate_tt(
        truth.order(),
        truth.mode_sizes()[0],
        truth.max_rank(),
        &mut rng,
    );
    let scale = rel * truth.norm().unwrap() / noise.norm().unwrap();
    let sum = truth.add(&noise.scaled(scale)).unwrap();
    sum.round(&tensor_train::Truncation::ranks(&truth.internal_ranks()))
        .unwrap()
        .tt
}

/// Noise-free samples of `tt` at `count` uniform points (optionally weighted).
fn samples(tt: &TensorTrain, count: usize, rng: &mut StdRng) -> SampleSet {
    let x = uniform_points(rng, count, tt.order());
    let feats = features(&x, tt.mode_sizes()[0]);
    labelled(tt, feats, None)
}

fn labelled(tt: &TensorTrain, feats: Vec<Array2<f64>>, w: Option<Array1<f64>>) -> SampleSet {
    let views: Vec<_> = feats.iter().map(|f| f.view()).collect();
    let y = tt.eval_features(&views, Par::Seq).unwrap();
    SampleSet::new(feats, y, w).unwrap()
}

/// Dense design matrix: row `i` is `phi_1(x^i) (x) ... (x) phi_d(x^i)` (first factor slowest,
/// the row-major flattening of dense tensors).
fn design(data: &SampleSet) -> Array2<f64> {
    let feats = data.feature_views();
    let mut a = Array2::from_elem((data.len(), 1), 1.0);
    for f in feats {
        let (n_rows, m) = (a.ncols(), f.ncols());
        let mut next = Array2::zeros((data.len(), n_rows * m));
        for i in 0..data.len() {
            for p in 0..n_rows {
                for q in 0..m {
                    next[[i, p * m + q]] = a[[i, p]] * f[[i, q]];
                }
            }
        }
        a = next;
    }
    a
}

fn flat(tt: &TensorTrain) -> Array1<f64> {
    Array1::from_iter(tt.to_dense().unwrap().iter().cloned())
}

fn max_abs(v: &Array1<f64>) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn with_memory(point: &TensorTrain, carried: TensorTrain) -> MomentumState {
    MomentumState {
        memory: Some(MomentumMemory {
            point: point.clone(),
            carried,
            values: None,
        }),
        since_restart: 1,
        last_beta: None,
        damping: None,
    }
}

fn config(
    metric: Metric,
    form: MomentumForm,
    at: GradientAt,
    beta: f64,
    sched: BetaSchedule,
) -> MomentumConfig {
    MomentumConfig {
        natural: NgdConfig {
            damping: ttfit::optim::damping::DampingRule::Off,
            metric,
            ..Default::default()
        },
        momentum: MomentumParams {
            beta,
            restart: true,
            schedule: sched,
        },
        form,
        gradient_at: at,
    }
}

/// A loss with non-constant curvature, `l = log cosh(v - y)`: `l' = tanh e`,
/// `l'' = 1 - tanh^2 e`. Its momentum projection must use the plain Gram, not `l''`.
#[derive(Debug)]
struct LogCosh;

impl Loss for LogCosh {
    fn value(
        &self,
        pred: ndarray::ArrayView1<'_, f64>,
        y: ndarray::ArrayView1<'_, f64>,
        _w: Option<ndarray::ArrayView1<'_, f64>>,
    ) -> f64 {
        let n = pred.len() as f64;
        pred.iter()
            .zip(y)
            .map(|(p, t)| (p - t).cosh().ln())
            .sum::<f64>()
            / n
    }
    fn first_derivative(
        &self,
        pred: ndarray::ArrayView1<'_, f64>,
        y: ndarray::ArrayView1<'_, f64>,
        _w: Option<ndarray::ArrayView1<'_, f64>>,
    ) -> Array1<f64> {
        Array1::from_iter(pred.iter().zip(y).map(|(p, t)| (p - t).tanh()))
    }
    fn second_derivative(
        &self,
        pred: ndarray::ArrayView1<'_, f64>,
        y: ndarray::ArrayView1<'_, f64>,
        _w: Option<ndarray::ArrayView1<'_, f64>>,
    ) -> Array1<f64> {
        Array1::from_iter(
            pred.iter()
                .zip(y)
                .map(|(p, t)| 1.0 - (p - t).tanh().powi(2)),
        )
    }
}

/// Population metric: `m = E_{X_k}^T vec(t)`, `t` the dense carried tensor (`p_{k-1}`, or
/// `X_k - X_{k-1}`). Empirical: `m = argmin ||A E_{X_k} m - A vec(t)||`, the dense
/// least-squares fit of the previous step's sample values.
///
/// Tolerances: the population reference and the code are both orthogonal projections
/// computed with backward-stable orthogonal transformations, so they agree to a few hundred
/// ulps of `|t|`: `1e-11 |t|`. The empirical solve goes through a Cholesky factorization of
/// `G = J^T J / N` with the default shift `1e-12 tr(G)/D`; with `N = 400 >> D` (24 and 36)
/// `kappa(G)` is O(10), so the shift's bias and the squared conditioning stay below
/// `1e-12 kappa + kappa^2 eps ~ 1e-11`: `1e-9 |m|` leaves two orders of margin.
#[test]
fn transported_momentum_matches_dense_references() {
    for d in [3usize, 4] {
        let mut rng = StdRng::seed_from_u64(10 + d as u64);
        let (n, r) = (3, 2);
        let truth = moderate_tt(d, n, r, &mut rng);
        let data = samples(&truth, 400, &mut rng);
        let xk = perturbed(&truth, 0.3, 1);
        let xprev = perturbed(&xk, 0.1, 2);
        let ts = TangentSpace::new(&xk).unwrap();
        let e = ts.basis_dense().unwrap();
        let a = design(&data);
        let j = a.dot(&e);
        // the previous step: a random tangent vector at X_{k-1}, as its rank-2r TT
        let ts_prev = TangentSpace::new(&xprev).unwrap();
        let c_prev = Array1::from_shape_fn(ts_prev.dim(), |_| rng.random_range(-1.0..1.0));
        let p_tt = ts_prev
            .to_tt(&ts_prev.from_coords(c_prev.view()).unwrap())
            .unwrap();
        for (loss, loss_name) in [
            (&LeastSquares as &dyn Loss, "ls"),
            (&LogCosh, "logcosh"),
            (&ttfit::loss::Logistic, "logistic"),
        ] {
            for metric in [Metric::Population, Metric::Empirical] {
                for form in [
                    MomentumForm::MomentumVariable,
                    MomentumForm::IterateDifference,
                ] {
                    let (carried, t) = match form {
                        MomentumForm::MomentumVariable => (p_tt.clone(), flat(&p_tt)),
                        MomentumForm::IterateDifference => {
                            (xprev.clone(), flat(&xk) - flat(&xprev))
                        }
                    };
                    let reference = match metric {
                        Metric::Population => e.t().dot(&t),
                        Metric::Empirical => {
                            let q = a.dot(&t);
                            linalg::lstsq(j.view(), q.view().insert_axis(Axis(1)))
                                .unwrap()
                                .column(0)
                                .to_owned()
                        }
                    };
                    let cfg = config(
                        metric,
                        form,
                        GradientAt::Current,
                        0.5,
                        BetaSchedule::Constant,
                    );
                    let mut opt = Momentum::new(cfg).unwrap();
                    opt.set_state(with_memory(&xk, carried));
                    let m = opt
                        .transported_momentum(&xk, &data, loss, Par::Seq)
                        .unwrap()
                        .expect("memory at X_k");
                    let err = max_abs(&(&m - &reference));
                    let tol = match metric {
                        Metric::Population => 1e-11 * max_abs(&t).max(1.0),
                        Metric::Empirical => 1e-9 * max_abs(&reference).max(1.0),
                    };
                    assert!(
                        err <= tol,
                        "d = {d}, {loss_name}, {metric:?}, {form:?}: |m - m_ref| = {err:e} > {tol:e}"
                    );
                    if metric == Metric::Empirical && loss_name == "logistic" {
                        // the l''-weighted projection is a different vector: the test fails if
                        // the projection used the loss-weighted Gram
                        let pred = a.dot(&flat(&xk));
                        let h = loss.second_derivative(pred.view(), data.targets(), None);
                        let sh = h.mapv(f64::sqrt);
                        let q = a.dot(&t) * &sh;
                        let hj = &j * &sh.view().insert_axis(Axis(1));
                        let weighted = linalg::lstsq(hj.view(), q.view().insert_axis(Axis(1)))
                            .unwrap()
                            .column(0)
                            .to_owned();
                        let gap = max_abs(&(&weighted - &reference));
                        assert!(
                            gap > 1e3 * tol,
                            "{loss_name}: weighted and plain projections too close ({gap:e})"
                        );
                    }
                }
            }
        }
    }
}

/// One step from `x` with a fresh context.
fn one_step(
    opt: &mut dyn Optimizer,
    x: &TensorTrain,
    data: &SampleSet,
) -> (TensorTrain, ttfit::optim::StepReport) {
    let mut rng = StdRng::seed_from_u64(0);
    let mut ctx = StepContext {
        loss: &LeastSquares,
        par: Par::Seq,
        rng: &mut rng,
        iteration: 0,
    };
    opt.step(x, data, &mut ctx).unwrap()
}

fn loss_at(x: &TensorTrain, data: &SampleSet) -> f64 {
    ttfit::optim::evaluate(x, data, &LeastSquares, Par::Seq)
        .unwrap()
        .0
}

/// A momentum pointing uphill (10 times the norm of `X_k` along `+g`, so `g^T beta m > 0`
/// dominates at every `alpha`) must trigger a restart that is exactly the plain NGD step at
/// `X_k` (same system, derivatives at `X_k`, not at the look-ahead), the loss must strictly
/// decrease, and the memory afterwards is that plain step. With the look-ahead the step may
/// correct itself without a restart; the loss must still strictly decrease, and a restart,
/// if any, must still be the plain step.
#[test]
fn forced_uphill_momentum_restarts_with_the_plain_step() {
    let mut rng = StdRng::seed_from_u64(5);
    let truth = moderate_tt(4, 3, 2, &mut rng);
    let data = samples(&truth, 500, &mut rng);
    let xk = perturbed(&truth, 0.3, 3);
    let ts = TangentSpace::new(&xk).unwrap();
    let fv = data.feature_views();
    let si = SampleInterfaces::new(&ts, &fv, Par::Seq).unwrap();
    let e = &si.values().to_owned() - &data.targets();
    let g = ts
        .vjp(&si, &fv, (e / data.len() as f64).view(), Par::Seq)
        .unwrap();
    let up = ts
        .from_coords((&g * (10.0 * xk.norm().unwrap() / max_abs(&g))).view())
        .unwrap();
    let up_tt = ts.to_tt(&up).unwrap();
    let behind = ts.retract(-1.0, &up).unwrap(); // X_k - X_{k-1} ~ up
    let l0 = loss_at(&xk, &data);
    for metric in [Metric::Empirical, Metric::Population] {
        let (plain, _) = one_step(
            &mut Ngd::new(NgdConfig {
                damping: ttfit::optim::damping::DampingRule::Off,
                metric,
                ..Default::default()
            })
            .unwrap(),
            &xk,
            &data,
        );
        for form in [
            MomentumForm::MomentumVariable,
            MomentumForm::IterateDifference,
        ] {
            for at in [GradientAt::Current, GradientAt::Lookahead] {
                let carried = match form {
                    MomentumForm::MomentumVariable => up_tt.clone(),
                    MomentumForm::IterateDifference => behind.clone(),
                };
                let mut opt =
                    Momentum::new(config(metric, form, at, 0.9, BetaSchedule::Constant)).unwrap();
                opt.set_state(with_memory(&xk, carried));
                let (x1, rep) = one_step(&mut opt, &xk, &data);
                let what = format!("{metric:?} {form:?} {at:?}");
                assert!(loss_at(&x1, &data) < l0, "{what}: loss did not decrease");
                if at == GradientAt::Lookahead && !rep.restarted {
                    // the look-ahead gradient corrects the momentum by itself (for least
                    // squares, beta m + d(y) ~ the Gauss-Newton step at X_k): no restart needed
                    continue;
                }
                assert!(rep.restarted, "{what}: no restart ({:?})", rep.note);
                assert_eq!(
                    x1.cores(),
                    plain.cores(),
                    "{what}: restart is not the plain NGD step"
                );
                let st = opt.state();
                let mem = st.memory.as_ref().expect("memory of the restart step");
                assert_eq!(mem.point.cores(), x1.cores());
                assert_eq!(st.since_restart, 1);
            }
        }
    }
}

/// A restart that fails too (a line search that cannot succeed) returns `X_k` and leaves the
/// memory zeroed; a step called at another point than the memory's drops it
/// and is the plain NGD step there.
#[test]
fn failed_restart_zeroes_the_memory_and_foreign_points_drop_it() {
    let mut rng = StdRng::seed_from_u64(6);
    let truth = moderate_tt(3, 3, 2, &mut rng);
    let data = samples(&truth, 300, &mut rng);
    let xk = perturbed(&truth, 0.2, 4);
    let ts = TangentSpace::new(&xk).unwrap();
    let c = Array1::from_shape_fn(ts.dim(), |_| rng.random_range(-1.0..1.0));
    let carried = ts.to_tt(&ts.from_coords(c.view()).unwrap()).unwrap();
    // a line search that cannot succeed: one trial at alpha = 1e6
    let mut cfg = config(
        Metric::Empirical,
        MomentumForm::MomentumVariable,
        GradientAt::Current,
        0.9,
        BetaSchedule::Constant,
    );
    cfg.natural.step = ttfit::optim::ngd::StepRule::Armijo {
        alpha0: 1e6,
        armijo: Armijo {
            max_trials: 1,
            ..Default::default()
        },
    };
    let mut failing = Momentum::new(cfg).unwrap();
    failing.set_state(with_memory(&xk, carried.clone()));
    let (x1, rep) = one_step(&mut failing, &xk, &data);
    assert_eq!(rep.step_size, 0.0, "{:?}", rep.note);
    assert!(rep.restarted);
    assert_eq!(x1.cores(), xk.cores());
    assert!(
        failing.state().memory.is_none(),
        "memory kept after a failed restart"
    );
    let mut opt = Momentum::new(config(
        Metric::Empirical,
        MomentumForm::MomentumVariable,
        GradientAt::Current,
        0.9,
        BetaSchedule::Constant,
    ))
    .unwrap();
    // foreign point: memory at the truth, step at X_k
    opt.set_state(with_memory(&truth, carried));
    let (x2, rep) = one_step(&mut opt, &xk, &data);
    let (plain, _) = one_step(
        &mut Ngd::new(NgdConfig {
            damping: ttfit::optim::damping::DampingRule::Off,
            ..NgdConfig::default()
        })
        .unwrap(),
        &xk,
        &data,
    );
    assert_eq!(x2.cores(), plain.cores(), "{:?}", rep.note);
}

/// Armijo on `alpha` with a frozen uphill part fails with `not_descent` at the first trial
/// whose combined step is no descent direction, instead of accepting a step whose Armijo bound
/// lies above `L(X)`.
#[test]
fn armijo_stops_when_the_combined_step_turns_uphill() {
    let mut rng = StdRng::seed_from_u64(7);
    let truth = moderate_tt(3, 3, 2, &mut rng);
    let data = samples(&truth, 300, &mut rng);
    let x = perturbed(&truth, 0.3, 5);
    let p = prepare(&x, &data, &LeastSquares, Par::Seq).unwrap();
    let g = p.gradient(&data, Par::Seq).unwrap();
    let gg = g.dot(&g);
    // h: a huge tangent vector orthogonal to g
    let ts = &p.ts;
    let r = Array1::from_shape_fn(ts.dim(), |_| rng.random_range(-1.0..1.0));
    let gc = ts.to_coords(&g).unwrap();
    let hc = &r - &(&gc * (r.dot(&gc) / gc.dot(&gc)));
    let h = ts
        .from_coords((&hc * (1e6 * gg.sqrt() / hc.dot(&hc).sqrt())).view())
        .unwrap();
    // fixed = g (g^T fixed = gg > 0); dir = -1e3 g + h (g^T dir = -1e3 gg): the combined step
    // (1 - 1e3 alpha) g + alpha h is a descent direction for alpha > 1e-3 only, and too long
    // (h) to be accepted there
    let fixed = g.scaled(1.0);
    let mut dir = g.scaled(-1e3);
    dir.axpy(1.0, &h);
    let rule = Armijo::default();
    let ls = armijo(
        &p,
        Some(&fixed),
        &dir,
        1.0,
        gg,
        -1e3 * gg,
        &data,
        &LeastSquares,
        Par::Seq,
        &rule,
    )
    .unwrap();
    assert!(ls.x.is_none(), "accepted a trial at alpha = {}", ls.alpha);
    assert!(ls.not_descent);
    assert!(gg - 1e3 * ls.alpha * gg >= 0.0);
    assert!(ls.trials < rule.max_trials);
}

fn run(opt: &mut dyn Optimizer, x0: &TensorTrain, data: &SampleSet, iters: usize) -> FitResult {
    let rules = StoppingRules {
        max_iter: iters,
        rel_tol: 0.0,
        ..Default::default()
    };
    Trainer::new(rules)
        .par(Par::Seq)
        .seed(4)
        .run(opt, x0.clone(), data, None, None)
        .unwrap()
}

/// Nesterov with the look-ahead off is Heavy-Ball in the iterate-difference form, bit for
/// bit, in both metrics, full and mini-batch, fixed and adaptive `beta`; with the look-ahead
/// on it is not (so the comparison can fail).
#[test]
fn nesterov_without_lookahead_is_iterate_difference_heavy_ball() {
    let mut rng = StdRng::seed_from_u64(8);
    let truth = moderate_tt(4, 4, 2, &mut rng);
    let data = samples(&truth, 800, &mut rng);
    let x0 = perturbed(&truth, 0.4, 1);
    for metric in [Metric::Empirical, Metric::Population] {
        for batch in [None, Some(300)] {
            for sched in [BetaSchedule::Constant, BetaSchedule::Adaptive] {
                let mut nes = MomentumConfig::nesterov();
                nes.natural.metric = metric;
                nes.natural.batch_size = batch;
                nes.momentum.beta = 0.7;
                nes.momentum.schedule = sched;
                let mut hb = MomentumConfig::heavy_ball();
                hb.natural = nes.natural.clone();
                hb.momentum = nes.momentum;
                hb.form = MomentumForm::IterateDifference;
                let with_la = run(&mut Momentum::new(nes.clone()).unwrap(), &x0, &data, 8);
                nes.gradient_at = GradientAt::Current;
                let a = run(&mut Momentum::new(nes).unwrap(), &x0, &data, 8);
                let b = run(&mut Momentum::new(hb).unwrap(), &x0, &data, 8);
                let what = format!("{metric:?} batch {batch:?} {sched:?}");
                assert_eq!(a.history.len(), b.history.len(), "{what}");
                for (ra, rb) in a.history.iter().zip(&b.history) {
                    assert_eq!(ra.train_loss.to_bits(), rb.train_loss.to_bits(), "{what}");
                }
                assert_eq!(a.tt.cores(), b.tt.cores(), "{what}");
                if sched == BetaSchedule::Constant {
                    assert_ne!(
                        a.tt.cores(),
                        with_la.tt.cores(),
                        "{what}: look-ahead had no effect"
                    );
                }
            }
        }
    }
}

/// Random re-gauging `G_k M_k`, `M_k^{-1} G_{k+1}` of the start changes no function-space
/// iterate of any Riemannian optimizer or ALS (MATH.md §9.3): every step is a function of the
/// tensor only (tangent spaces, projections and retractions are built from orthogonalized
/// cores). Differences come from round-off in the QR sweeps, `O(eps kappa(M))` per iterate,
/// amplified mildly over 5 iterations: `1e-8` relative. Plain GD on the cores is not gauge
/// invariant and is checked to differ, so that the comparison can fail.
#[test]
fn regauging_the_start_changes_no_iterate() {
    let mut rng = StdRng::seed_from_u64(9);
    let truth = moderate_tt(4, 3, 2, &mut rng);
    let data = samples(&truth, 600, &mut rng);
    let x0 = perturbed(&truth, 0.3, 2);
    let mut cores = x0.cores().to_vec();
    for k in 0..cores.len() - 1 {
        let r = cores[k].dim().2;
        let m = Array2::from_shape_fn((r, r), |(i, j)| {
            (if i == j { 1.5 } else { 0.0 }) + rng.random_range(-0.5..0.5)
        });
        let minv = linalg::lstsq(m.view(), Array2::eye(r).view()).unwrap();
        cores[k] = right_multiply(&cores[k], &m).unwrap();
        cores[k + 1] = left_multiply(&minv, &cores[k + 1]).unwrap();
    }
    let x0g = TensorTrain::from_cores(cores).unwrap();
    let rel = |a: &TensorTrain, b: &TensorTrain| {
        let (da, db) = (flat(a), flat(b));
        max_abs(&(&da - &db)) / max_abs(&db)
    };
    assert!(rel(&x0, &x0g) < 1e-13, "re-gauging changed the start");
    for name in [
        "ngd",
        "ngd-hb",
        "ngd-nesterov",
        "ngd-pop",
        "ngd-hb-pop",
        "ngd-nesterov-pop",
        "rgd",
        "rcg",
        "als",
        "gd",
    ] {
        let oc = OptimizerConfig::from_name(name).unwrap();
        let a = run(oc.build().unwrap().as_mut(), &x0, &data, 5);
        let b = run(oc.build().unwrap().as_mut(), &x0g, &data, 5);
        let diff = rel(&a.tt, &b.tt);
        if name == "gd" {
            assert!(diff > 1e-6, "gd unexpectedly gauge invariant ({diff:e})");
        } else {
            assert!(
                diff < 1e-8,
                "{name}: re-gauged start moved the iterate by {diff:e}"
            );
        }
    }
}

/// Tensor Gauss–Legendre nodes with `m = n` points per variable and weights `N prod w_k`:
/// `(1/N) sum_i w_i f(x^i) = int f dmu` for every product of two features (degree
/// `2n - 2 <= 2m - 1`), so `J^T W J / N = E^T E = I`. Then (§9.12) the empirical momentum
/// projection (plain Gram with the sample weights) equals the population one, and (§9.11)
/// the empirical NGD step (`alpha = 1`) equals the RGD / population-NGD step. Both sides are
/// the same linear algebra up to a well-conditioned (`G = I`) solve: `1e-10` relative.
#[test]
fn exact_quadrature_makes_empirical_and_population_coincide() {
    let (d, n, r) = (3usize, 3usize, 2usize);
    let mut rng = StdRng::seed_from_u64(12);
    let truth = moderate_tt(d, n, r, &mut rng);
    let rule = ttfit::basis::quadrature::gauss_legendre(n).unwrap();
    let m = rule.len();
    let total = m.pow(d as u32);
    let mut x = Array2::zeros((total, d));
    let mut w = Array1::from_elem(total, total as f64);
    for i in 0..total {
        let mut rest = i;
        for k in (0..d).rev() {
            let j = rest % m;
            rest /= m;
            x[[i, k]] = rule.nodes[j];
            w[i] *= rule.weights[j];
        }
    }
    let feats: Vec<Array2<f64>> = (0..d).map(|k| legendre(&x.column(k).to_vec(), n)).collect();
    let data = labelled(&truth, feats, Some(w));
    let xk = perturbed(&truth, 0.3, 6);
    let xprev = perturbed(&xk, 0.1, 7);
    let ts_prev = TangentSpace::new(&xprev).unwrap();
    let c = Array1::from_shape_fn(ts_prev.dim(), |_| rng.random_range(-1.0..1.0));
    let p_tt = ts_prev
        .to_tt(&ts_prev.from_coords(c.view()).unwrap())
        .unwrap();
    for form in [
        MomentumForm::MomentumVariable,
        MomentumForm::IterateDifference,
    ] {
        let carried = match form {
            MomentumForm::MomentumVariable => p_tt.clone(),
            MomentumForm::IterateDifference => xprev.clone(),
        };
        let mut ms = Vec::new();
        for metric in [Metric::Empirical, Metric::Population] {
            let mut opt = Momentum::new(config(
                metric,
                form,
                GradientAt::Current,
                0.5,
                BetaSchedule::Constant,
            ))
            .unwrap();
            opt.set_state(with_memory(&xk, carried.clone()));
            ms.push(
                opt.transported_momentum(&xk, &data, &LeastSquares, Par::Seq)
                    .unwrap()
                    .unwrap(),
            );
        }
        let err = max_abs(&(&ms[0] - &ms[1]));
        assert!(err < 1e-10 * max_abs(&ms[1]), "{form:?}: {err:e}");
    }
    let fixed = ttfit::optim::ngd::StepRule::Fixed { alpha: 1.0 };
    let (emp, _) = one_step(
        &mut Ngd::new(NgdConfig {
            damping: ttfit::optim::damping::DampingRule::Off,
            step: fixed,
            ..Default::default()
        })
        .unwrap(),
        &xk,
        &data,
    );
    let (pop, _) = one_step(
        &mut Ngd::new(NgdConfig {
            damping: ttfit::optim::damping::DampingRule::Off,
            metric: Metric::Population,
            step: fixed,
            ..Default::default()
        })
        .unwrap(),
        &xk,
        &data,
    );
    let (rgd, _) = one_step(
        OptimizerConfig::from_name("rgd")
            .unwrap()
            .build()
            .unwrap()
            .as_mut(),
        &xk,
        &data,
    );
    let step = max_abs(&(flat(&pop) - flat(&xk)));
    for (name, other) in [("population NGD", &pop), ("RGD", &rgd)] {
        let err = max_abs(&(flat(&emp) - flat(other)));
        assert!(
            err < 1e-10 * step.max(1e-300) + 1e-14,
            "{name}: {err:e} (step {step:e})"
        );
    }
}
