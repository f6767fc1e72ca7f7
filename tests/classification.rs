//! Cross-entropy classification (MATH.md §8) against independent dense references: the
//! natural step of the logistic loss with the `l''`-weighted Gram is the Newton–Fisher (IRLS)
//! step `c = (J^T W J)^{-1} J^T (y - p)`, `W = diag(p (1 - p))`, and the softmax step with
//! factored Hessian blocks is `c = (sum_i J_i^T H_i J_i)^+ (-J^T l')`, with `J = A E_X` built
//! from the Kronecker design matrix and the dense tangent basis (nothing of the optimizer is
//! reused).

use ndarray::{s, Array1, Array2, Axis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tensor_train::linalg::{self, Par};
use tensor_train::tangent::TangentSpace;
use tensor_train::{clamp_ranks, CoreDistribution, TensorTrain};
use ttfit::basis::Basis;
use ttfit::classify;
use ttfit::loss::{Logistic, Loss, Softmax};
use ttfit::optim::gram::GramSolver;
use ttfit::optim::ngd::{Ngd, NgdConfig, StepRule};
use ttfit::optim::{Optimizer, StepContext};
use ttfit::samples::SampleSet;

fn design(data: &SampleSet) -> Array2<f64> {
    let mut a = Array2::from_elem((data.len(), 1), 1.0);
    for f in data.feature_views() {
        let (p_n, m) = (a.ncols(), f.ncols());
        let mut next = Array2::zeros((data.len(), p_n * m));
        for i in 0..data.len() {
            for p in 0..p_n {
                for q in 0..m {
                    next[[i, p * m + q]] = a[[i, p]] * f[[i, q]];
                }
            }
        }
        a = next;
    }
    a
}

fn random_tt(modes: &[usize], r: usize, scale: f64, rng: &mut StdRng) -> TensorTrain {
    let ranks = clamp_ranks(modes, &vec![r; modes.len() - 1]);
    TensorTrain::random(modes, &ranks, CoreDistribution::ScaledNormal, rng)
        .unwrap()
        .scaled(scale)
}

/// Inputs in `[-1, 1]^d` with Legendre features, labels from a noisy score.
fn inputs(d: usize, n: usize, count: usize, rng: &mut StdRng) -> (Vec<Array2<f64>>, Array2<f64>) {
    let pts = Array2::from_shape_simple_fn((count, d), || rng.random_range(-1.0..1.0));
    let feats = pts
        .columns()
        .into_iter()
        .map(|c| Basis::legendre(n).eval(c))
        .collect();
    (feats, pts)
}

/// One undamped NGD step with `alpha = 1` (fixed) from `x` (the damped step is checked
/// against its own dense reference in `tests/damping.rs`).
fn ngd_step(x: &TensorTrain, data: &SampleSet, loss: &dyn Loss, solver: GramSolver) -> TensorTrain {
    let mut opt = Ngd::new(NgdConfig {
        solver,
        step: StepRule::Fixed { alpha: 1.0 },
        damping: ttfit::optim::damping::DampingRule::Off,
        ..Default::default()
    })
    .unwrap();
    let mut rng = StdRng::seed_from_u64(0);
    let mut ctx = StepContext {
        loss,
        par: Par::Seq,
        rng: &mut rng,
        iteration: 0,
    };
    let (y, rep) = opt.step(x, data, &mut ctx).unwrap();
    assert!(rep.step_size == 1.0 && rep.note.is_none(), "{rep:?}");
    y
}

fn dense(tt: &TensorTrain) -> Array1<f64> {
    Array1::from_iter(tt.to_dense().unwrap().iter().cloned())
}

fn max_abs(v: &Array1<f64>) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Logistic: the Hessian-weighted Gram step of every solver equals the dense Newton–Fisher
/// step. Both sides are then retracted by the same rounding, so the dense tensors agree to the
/// solve's accuracy: `kappa(J^T W J) ~ 1e2` here (N = 600 >> D = 22), direct solvers give
/// `kappa^2 eps ~ 1e-12`, the iterative ones are run to `1e-12`: `1e-8 |X|` is a wide margin
/// that a wrong weighting (plain Gram: a different step by O(1e-1)) cannot meet.
#[test]
fn logistic_step_is_the_dense_newton_fisher_step() {
    let mut rng = StdRng::seed_from_u64(7);
    let (d, n, r) = (3, 3, 2);
    let (feats, pts) = inputs(d, n, 600, &mut rng);
    let noise = Array1::from_shape_fn(pts.nrows(), |_| rng.random_range(-0.2..0.2));
    let y = Array1::from_shape_fn(pts.nrows(), |i| {
        let p = pts.row(i);
        ((p[0] * p[1] + 0.3 * p[2] + noise[i]) > 0.0) as u8 as f64
    });
    let data = SampleSet::new(feats, y, None).unwrap();
    let x = random_tt(&[n; 3], r, 0.3, &mut rng);
    let ts = TangentSpace::new(&x).unwrap();
    let j = design(&data).dot(&ts.basis_dense().unwrap());
    let z = design(&data).dot(&dense(&x));
    let p = z.mapv(|v| 1.0 / (1.0 + (-v).exp()));
    let w = p.mapv(|v| v * (1.0 - v));
    let wj = &j * &w.view().insert_axis(Axis(1));
    let fisher = j.t().dot(&wj);
    let c_ref = linalg::Cholesky::new(fisher.view(), 0.0)
        .unwrap()
        .solve_vec(&j.t().dot(&(data.targets().to_owned() - &p)))
        .unwrap();
    let want = dense(
        &ts.retract(1.0, &ts.from_coords(c_ref.view()).unwrap())
            .unwrap(),
    );
    // the plain-Gram step differs: the test can tell the weightings apart
    let c_plain = linalg::Cholesky::new(j.t().dot(&j).view(), 0.0)
        .unwrap()
        .solve_vec(&j.t().dot(&(data.targets().to_owned() - &p)))
        .unwrap();
    assert!(max_abs(&(&c_plain - &c_ref)) > 1e-2 * max_abs(&c_ref));
    for solver in [
        GramSolver::Cholesky { rel_shift: 0.0 },
        GramSolver::Qr,
        GramSolver::Eigen { rel_cutoff: 1e-14 },
        GramSolver::Pcg {
            rel_shift: 0.0,
            max_iter: 500,
            forcing: 1e-12,
            subsample: None,
        },
        GramSolver::Lsqr {
            damp: 0.0,
            max_iter: 2000,
            tol: 1e-13,
        },
    ] {
        let got = dense(&ngd_step(&x, &data, &Logistic, solver));
        let err = max_abs(&(&got - &want)) / max_abs(&want);
        assert!(err < 1e-8, "{solver:?}: relative error {err:e}");
    }
}

/// Softmax with `C = 3` classes (an extra class mode with one-hot features): the step with
/// factored Hessian blocks equals the dense minimum-norm Newton step
/// `(sum_i J_i^T H_i J_i)^+ (-J^T l')`, `H_i = diag(p_i) - p_i p_i^T`. The Gram is singular
/// along tangent directions that add the same function to every logit (the kernel `1` of each
/// `H_i`), so both sides use the pseudo-inverse with the same relative cutoff `1e-10`; the
/// remaining spectrum has `kappa ~ 1e3`, so `1e-7` relative is a safe tolerance.
#[test]
fn softmax_step_is_the_dense_block_newton_step() {
    let mut rng = StdRng::seed_from_u64(8);
    let (d, n, r, c) = (2, 3, 2, 3);
    let (feats, pts) = inputs(d, n, 500, &mut rng);
    let noise = Array1::from_shape_fn(pts.nrows(), |_| rng.random_range(-0.3..0.3));
    let labels: Vec<usize> = (0..pts.nrows())
        .map(|i| {
            let p = pts.row(i);
            let s = p[0] + 0.5 * p[1] + noise[i];
            if s < -0.4 {
                0
            } else if s < 0.4 {
                1
            } else {
                2
            }
        })
        .collect();
    let data = classify::expand_classes(&feats, &labels, c, None).unwrap();
    let x = random_tt(&[n, n, c], r, 0.5, &mut rng);
    let loss = Softmax { classes: c };
    let ts = TangentSpace::new(&x).unwrap();
    let j = design(&data).dot(&ts.basis_dense().unwrap());
    let z = design(&data).dot(&dense(&x));
    let probs = classify::probabilities(z.view(), c, true);
    let dim = j.ncols();
    let mut g = Array2::<f64>::zeros((dim, dim));
    let mut grad = Array1::<f64>::zeros(dim);
    for (i, &lab) in labels.iter().enumerate() {
        let pi = probs.row(i);
        let mut h = Array2::from_diag(&pi);
        h -= &(pi
            .view()
            .insert_axis(Axis(1))
            .dot(&pi.view().insert_axis(Axis(0))));
        let ji = j.slice(s![i * c..(i + 1) * c, ..]);
        g += &ji.t().dot(&h).dot(&ji);
        let mut l1 = pi.to_owned();
        l1[lab] -= 1.0;
        grad += &ji.t().dot(&l1);
    }
    let (lam, v) = linalg::eigh(g.view()).unwrap();
    let lmax = lam.iter().cloned().fold(0.0, f64::max);
    let inv = lam.mapv(|l| if l > 1e-10 * lmax { 1.0 / l } else { 0.0 });
    let c_ref = v.dot(&(v.t().dot(&(-&grad)) * &inv));
    let want = dense(
        &ts.retract(1.0, &ts.from_coords(c_ref.view()).unwrap())
            .unwrap(),
    );
    let got = dense(&ngd_step(
        &x,
        &data,
        &loss,
        GramSolver::Eigen { rel_cutoff: 1e-10 },
    ));
    let err = max_abs(&(&got - &want)) / max_abs(&want);
    assert!(err < 1e-7, "relative error {err:e}");
    // and the softmax loss decreases along it (Newton on a convex loss in the logits)
    let before = loss.value(z.view(), data.targets(), None);
    let after = loss.value(design(&data).dot(&got).view(), data.targets(), None);
    assert!(after < before, "{after} >= {before}");
}

/// Bad labels are refused with the row and the value named.
#[test]
fn bad_labels_are_named() {
    let y = Array1::from(vec![0.0, 1.0, 0.5, 1.0]);
    let err = classify::labels_from_targets(y.view(), 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("row 3") && err.contains("0.5"), "{err}");
    let y = Array1::from(vec![0.0, 2.0]);
    let err = classify::labels_from_targets(y.view(), 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("row 2") && err.contains("label 2"), "{err}");
}

/// The momentum presets run on the softmax loss (factored Hessian blocks in the subspace
/// model, the plain Gram of the `N C` rows in the projection, the look-ahead re-weighting the
/// factors): with restarts every accepted step lowers the loss (MATH.md §9.13), and after 8
/// iterations the loss is below half that of the uniform prediction (`log C / C` per row) on
/// these nearly separable labels.
#[test]
fn momentum_on_softmax_is_monotone() {
    use ttfit::optim::momentum::{BetaSchedule, Momentum, MomentumConfig};
    let mut rng = StdRng::seed_from_u64(9);
    let (d, n, r, c) = (2, 3, 2, 3);
    let (feats, pts) = inputs(d, n, 400, &mut rng);
    let labels: Vec<usize> = (0..pts.nrows())
        .map(|i| ((pts[[i, 0]] + 1.0) * 1.5).floor().min(2.0) as usize)
        .collect();
    let data = classify::expand_classes(&feats, &labels, c, None).unwrap();
    let loss = Softmax { classes: c };
    let x0 = random_tt(&[n, n, c], r, 0.3, &mut rng);
    let mut hb = MomentumConfig::heavy_ball();
    hb.momentum.schedule = BetaSchedule::Constant;
    for cfg in [hb, MomentumConfig::heavy_ball(), MomentumConfig::nesterov()] {
        let mut opt = Momentum::new(cfg.clone()).unwrap();
        let mut x = x0.clone();
        let mut last = loss.value(
            ttfit::optim::predict(&x, &data, Par::Seq).unwrap().view(),
            data.targets(),
            None,
        );
        for it in 0..8 {
            let mut rng = StdRng::seed_from_u64(0);
            let mut ctx = StepContext {
                loss: &loss,
                par: Par::Seq,
                rng: &mut rng,
                iteration: it,
            };
            let (y, rep) = opt.step(&x, &data, &mut ctx).unwrap();
            let now = rep.loss.unwrap();
            assert!(
                now <= last,
                "{}: iteration {it}: {now} > {last}",
                opt.name()
            );
            last = now;
            x = y;
        }
        assert!(last < 0.5 * 3f64.ln() / 3.0, "{}: loss {last}", opt.name());
    }
}
