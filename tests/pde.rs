//! Issue 12 (PDE residuals): the residual rows' Jacobian (operator rows, the linearized cubic
//! term, Dirichlet rows) against central differences along the retraction, and `J c`, `J^T w`
//! against the dense rows; the shared NGD and Heavy-Ball steps on the residual objective
//! against dense Gauss–Newton / momentum formulas.

use ndarray::{Array1, Array2, Axis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use tensor_train::linalg::{self, Par};
use tensor_train::tangent::TangentSpace;
use tensor_train::{CoreDistribution, TensorTrain};
use ttfit::basis::{Basis, FeatureMap, InputMap};
use ttfit::optim::damping::DampingRule;
use ttfit::optim::gram::GramSolver;
use ttfit::optim::linearized::LinearizedModel;
use ttfit::optim::momentum::{BetaSchedule, Momentum, MomentumConfig, MomentumParams};
use ttfit::optim::ngd::{Ngd, NgdConfig, StepRule};
use ttfit::optim::objective::ObjectiveStep;
use ttfit::pde::solve::{solve, Method, SolveOptions};
use ttfit::pde::{constant, Collocation, Pde, ResidualProblem};

fn rel(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    let d: Array1<f64> = a - b;
    (d.dot(&d) / b.dot(b)).sqrt()
}

#[test]
fn residual_jacobian_is_the_derivative_of_the_residual_rows() {
    let mut rng = StdRng::seed_from_u64(5);
    let d = 3;
    let pde = Pde::new(vec![(-1.0, 1.0), (0.0, 2.0), (-1.0, 1.0)])
        .unwrap()
        .laplacian(0.7)
        .advection(1, Arc::new(|x: &[f64]| 1.0 + x[0]))
        .unwrap()
        .reaction(constant(0.5))
        .cubic(2.0)
        .rhs(Arc::new(|x: &[f64]| x.iter().sum()))
        .dirichlet(Arc::new(|x: &[f64]| x[0] * x[1]), 10.0)
        .unwrap();
    let fm = FeatureMap::from_parts(
        vec![Basis::legendre(4), Basis::legendre(5), Basis::legendre(3)],
        vec![
            InputMap::interval(-1.0, 1.0),
            InputMap::interval(0.0, 2.0),
            InputMap::interval(-1.0, 1.0),
        ],
        vec!["a".into(), "b".into(), "c".into()],
    )
    .unwrap();
    let pts = Collocation::random(pde.domain(), 40, 3, &mut rng);
    let problem = ResidualProblem::new(&pde, &fm, &pts).unwrap();
    assert_eq!(problem.n_rows(), 40 + 6 * 3);
    let x = TensorTrain::random(
        &[4, 5, 3],
        &[2, 3],
        CoreDistribution::ScaledNormal,
        &mut rng,
    )
    .unwrap();
    let ts = TangentSpace::new(&x).unwrap();
    let si = problem.interfaces(&ts, Par::Seq).unwrap();
    let kl = problem.kappa_lin(si.values());
    let lin = problem.linearize(&ts, &si, &kl).unwrap();
    // the residual at the base point agrees with the standalone two-state evaluation
    assert!(rel(&problem.residual_at(&lin), &problem.residual(&x).unwrap()) < 1e-12);
    let c = Array1::from_shape_fn(ts.dim(), |_| rng.random_range(-1.0..1.0));
    let jc = lin.jvp(c.view(), Par::Seq).unwrap();
    let xi = ts.from_coords(c.view()).unwrap();
    let errs: Vec<f64> = [1e-2, 1e-3]
        .iter()
        .map(|&t| {
            let rp = problem.residual(&ts.retract(t, &xi).unwrap()).unwrap();
            let rm = problem.residual(&ts.retract(-t, &xi).unwrap()).unwrap();
            rel(&((rp - rm) / (2.0 * t)), &jc)
        })
        .collect();
    assert!(
        errs[1] < 1e-4 && errs[1] < errs[0] / 30.0,
        "{errs:?} (d = {d})"
    );
    // rows, J c and J^T w agree
    let j = lin.jacobian(Par::Seq).unwrap();
    assert!(rel(&j.dot(&c), &jc) < 1e-12);
    let w = Array1::from_shape_fn(problem.n_rows(), |_| rng.random_range(-1.0..1.0));
    assert!(rel(&lin.vjp(w.view(), Par::Seq).unwrap(), &j.t().dot(&w)) < 1e-12);
}

/// A 3-variable residual problem (Laplacian, variable advection, reaction, a cubic term and
/// weighted Dirichlet rows) and a small random rank-(2, 2) start.
fn small_problem(seed: u64) -> (ResidualProblem, TensorTrain) {
    let mut rng = StdRng::seed_from_u64(seed);
    let pde = Pde::new(vec![(-1.0, 1.0), (0.0, 2.0), (-1.0, 1.0)])
        .unwrap()
        .laplacian(0.3)
        .advection(1, Arc::new(|x: &[f64]| 1.0 + 0.5 * x[0]))
        .unwrap()
        .reaction(constant(1.0))
        .cubic(0.5)
        .rhs(Arc::new(|x: &[f64]| 1.0 + x[0] * x[2] - x[1]))
        .dirichlet(Arc::new(|x: &[f64]| 0.5 * x[0] + x[1]), 4.0)
        .unwrap();
    let fm = FeatureMap::from_parts(
        vec![Basis::legendre(4), Basis::legendre(4), Basis::legendre(3)],
        vec![
            InputMap::interval(-1.0, 1.0),
            InputMap::interval(0.0, 2.0),
            InputMap::interval(-1.0, 1.0),
        ],
        vec!["a".into(), "b".into(), "c".into()],
    )
    .unwrap();
    let pts = Collocation::random(pde.domain(), 120, 6, &mut rng);
    let problem = ResidualProblem::new(&pde, &fm, &pts).unwrap();
    let x = TensorTrain::random(
        &[4, 4, 3],
        &[2, 2],
        CoreDistribution::ScaledNormal,
        &mut rng,
    )
    .unwrap();
    let x = x.scaled(0.3 / x.norm().unwrap());
    (problem, x)
}

/// The dense residual Jacobian (its rows are checked against the dense operator and finite
/// differences above and in `tensor_train/tests/operator.rs`) and the residual at `x`.
fn dense_jacobian(problem: &ResidualProblem, x: &TensorTrain) -> (Array2<f64>, Array1<f64>) {
    let ts = TangentSpace::new(x).unwrap();
    let si = problem.interfaces(&ts, Par::Seq).unwrap();
    let kl = problem.kappa_lin(si.values());
    let lin = problem.linearize(&ts, &si, &kl).unwrap();
    (
        lin.jacobian(Par::Seq).unwrap(),
        problem.residual(x).unwrap(),
    )
}

/// `argmin_c ||J c - t||` by the dense QR least-squares solver.
fn dense_lstsq(j: &Array2<f64>, t: &Array1<f64>) -> Array1<f64> {
    let b = t.clone().insert_axis(Axis(1));
    linalg::lstsq(j.view(), b.view())
        .unwrap()
        .column(0)
        .to_owned()
}

fn rel_dense(a: &TensorTrain, b: &TensorTrain) -> f64 {
    let (da, db) = (a.to_dense().unwrap(), b.to_dense().unwrap());
    let diff = &da - &db;
    (diff.iter().map(|v| v * v).sum::<f64>() / db.iter().map(|v| v * v).sum::<f64>()).sqrt()
}

fn undamped(solver: GramSolver, step: StepRule) -> NgdConfig {
    NgdConfig {
        solver,
        step,
        damping: DampingRule::Off,
        ..NgdConfig::default()
    }
}

/// Issue 12: the energy natural-gradient step of the shared `optim::Ngd` on the residual
/// objective is the dense Gauss–Newton step `R_X(argmin ||J d + R||)`, with the QR and the
/// Cholesky solvers.
#[test]
fn shared_ngd_step_on_the_residual_is_the_dense_gauss_newton_step() {
    let (problem, x) = small_problem(21);
    let (j, r) = dense_jacobian(&problem, &x);
    assert!(j.nrows() > j.ncols(), "{:?}", j.dim());
    let d = dense_lstsq(&j, &(-&r));
    let ts = TangentSpace::new(&x).unwrap();
    let x_ref = ts.retract(1.0, &ts.from_coords(d.view()).unwrap()).unwrap();
    // the step changes the point: the comparison is not between two copies of the start
    assert!(rel_dense(&x, &x_ref) > 1e-2);
    for (solver, tol) in [
        (GramSolver::Qr, 1e-9),
        (GramSolver::Cholesky { rel_shift: 1e-14 }, 1e-6),
    ] {
        let mut ngd = Ngd::new(undamped(solver, StepRule::Fixed { alpha: 1.0 })).unwrap();
        let (y, rep) = ngd.step_objective(&x, &problem, true, Par::Seq).unwrap();
        assert_eq!(rep.step_size, 1.0, "{solver:?}: {:?}", rep.note);
        let e = rel_dense(&y, &x_ref);
        assert!(e < tol, "{solver:?}: {e:e}");
        // the reported loss is the residual loss at the new point
        let ry = problem.residual(&y).unwrap();
        let want = ResidualProblem::loss_of(ry.view());
        assert!((rep.loss.unwrap() - want).abs() <= 1e-12 * want.max(1e-300));
    }
}

/// Issue 12: a Heavy-Ball step (fixed `beta`) of the shared `optim::Momentum` on the residual
/// objective equals the dense formula: step 1 `c_0 = alpha argmin ||J_0 c + R_0||`; step 2
/// `m = argmin ||J_1 m - J_0 c_0||` (the momentum variable's rows transported by least
/// squares), `d = argmin ||J_1 d + R_1||`, `X_2 = R_{X_1}(beta m + alpha d)`.
#[test]
fn shared_heavy_ball_step_on_the_residual_is_the_dense_formula() {
    let (problem, x0) = small_problem(22);
    let (alpha, beta) = (0.3, 0.5);
    let cfg = MomentumConfig {
        natural: undamped(GramSolver::Qr, StepRule::Fixed { alpha }),
        momentum: MomentumParams {
            beta,
            restart: true,
            schedule: BetaSchedule::Constant,
        },
        ..MomentumConfig::heavy_ball()
    };
    let mut hb = Momentum::new(cfg).unwrap();
    let (x1, rep1) = hb.step_objective(&x0, &problem, true, Par::Seq).unwrap();
    assert_eq!(rep1.step_size, alpha, "{:?}", rep1.note);
    let (j0, r0) = dense_jacobian(&problem, &x0);
    let c0 = dense_lstsq(&j0, &(-&r0)) * alpha;
    let ts0 = TangentSpace::new(&x0).unwrap();
    let x1_ref = ts0
        .retract(1.0, &ts0.from_coords(c0.view()).unwrap())
        .unwrap();
    assert!(rel_dense(&x1, &x1_ref) < 1e-9);
    let (x2, rep2) = hb.step_objective(&x1, &problem, true, Par::Seq).unwrap();
    assert!(!rep2.restarted, "{:?}", rep2.note);
    assert_eq!(rep2.step_size, alpha);
    let (j1, r1) = dense_jacobian(&problem, &x1);
    let m = dense_lstsq(&j1, &j0.dot(&c0));
    let d = dense_lstsq(&j1, &(-&r1));
    let ts1 = TangentSpace::new(&x1).unwrap();
    let s = &m * beta + &d * alpha;
    let x2_ref = ts1
        .retract(1.0, &ts1.from_coords(s.view()).unwrap())
        .unwrap();
    let e = rel_dense(&x2, &x2_ref);
    assert!(e < 1e-8, "{e:e}");
    // the momentum term matters: without it the point is elsewhere
    let plain = ts1
        .retract(1.0, &ts1.from_coords((&d * alpha).view()).unwrap())
        .unwrap();
    assert!(rel_dense(&x2, &plain) > 1e3 * e.max(1e-12));
}

/// The driver runs the shared optimizers: on a linear problem with an order-1 TT, the
/// residual is affine in the coefficients and one QR Gauss–Newton step solves the
/// least-squares problem (the default solver), so NGD reaches its floor in one iteration.
#[test]
fn driver_with_qr_solves_a_linear_one_dimensional_problem_in_one_step() {
    let eps = 0.1;
    let n = 16;
    let pde = Pde::new(vec![(0.0, 1.0)])
        .unwrap()
        .diffusion(0, constant(eps))
        .unwrap()
        .advection(0, constant(1.0))
        .unwrap()
        .rhs(constant(1.0))
        .dirichlet(constant(0.0), 1.0)
        .unwrap();
    let fm = FeatureMap::from_parts(
        vec![Basis::legendre(n)],
        vec![InputMap::interval(0.0, 1.0)],
        vec!["x".into()],
    )
    .unwrap();
    let pts = Collocation::gauss_1d(0.0, 1.0, 2 * n).unwrap();
    let problem = ResidualProblem::new(&pde, &fm, &pts).unwrap();
    let x0 = TensorTrain::from_cores(vec![ndarray::Array3::from_elem((1, n, 1), 0.1)]).unwrap();
    let opts = SolveOptions {
        max_iter: 3,
        ..Default::default()
    };
    let (x1, rec) = solve(&problem, &x0, Method::Ngd, &opts, &|_| 1.0).unwrap();
    assert_eq!(rec.name, "ngd");
    // dense least squares of the affine residual: the coefficients minimizing ||R||
    let (j, r) = dense_jacobian(&problem, &x0);
    let ts = TangentSpace::new(&x0).unwrap();
    let d = dense_lstsq(&j, &(-&r));
    let x_ref = ts.retract(1.0, &ts.from_coords(d.view()).unwrap()).unwrap();
    let l1 = rec.history[1].train_loss;
    let lref = ResidualProblem::loss_of(problem.residual(&x_ref).unwrap().view());
    assert!((l1 - lref).abs() <= 1e-9 * lref, "{l1:e} vs {lref:e}");
    assert!(rel_dense(&x1, &x_ref) < 1e-8 || rec.history.len() > 2);
}
