//! Issue 12 (PDE residuals): the residual rows' Jacobian (operator rows, the linearized cubic
//! term, Dirichlet rows) against central differences along the retraction, and `J c`, `J^T w`
//! against the dense rows.

use ndarray::Array1;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use tensor_train::linalg::Par;
use tensor_train::tangent::TangentSpace;
use tensor_train::{CoreDistribution, TensorTrain};
use ttfit::basis::{Basis, FeatureMap, InputMap};
use ttfit::optim::linearized::LinearizedModel;
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
