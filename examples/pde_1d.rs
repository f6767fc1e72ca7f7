//! Issue 12, examples 5(a) and 5(b): the paper's 1-D PINN problems on a functional TT of order 1
//! (the 1-D variable carries one core; see docs in the closing note for why this model is linear
//! in its parameters and what that means for momentum).
//!
//! (a) `-eps u'' + u' - 1 = 0` on `[0, 1]`, `u(0) = u(1) = 0`, `eps = 0.1` and `0.01`;
//!     exact `u = x - (e^{(x-1)/eps} - e^{-1/eps}) / (1 - e^{-1/eps})`. Legendre features, Dirichlet
//!     rows with weight 1, interior Gauss–Legendre collocation points.
//! (b) `-u'' + u^3 = f` on `[-1, 1]`, manufactured `u = sin(pi x)`, boundary-vanishing features
//!     (`(1 - t^2) P_j`, orthonormalized), no boundary rows.
//!
//! Run: `cargo run --release --example pde_1d [-- OUTDIR [SOLVER]]` (default `target/pde_1d`;
//! SOLVER as in `--solver`, default `qr`: Householder QR of `J`; `cholesky` factors `J^T J`).
//! Every method is a shared optimizer (`optim::rgd`, `optim::ngd`, `optim::momentum`) on the
//! residual objective; HB/Nesterov with the adaptive `beta` and with a fixed `beta = 0.5`.

#[path = "pde_common/mod.rs"]
mod common;

use common::{compare, TestError};
use ndarray::{Array2, Array3};
use std::f64::consts::PI;
use std::sync::Arc;
use tensor_train::TensorTrain;
use ttfit::basis::{Basis, FeatureMap, InputMap};
use ttfit::pde::solve::{Method, SolveOptions};
use ttfit::pde::{boundary_vanishing, constant, Collocation, Pde, ResidualProblem};

fn methods() -> Vec<Method> {
    vec![
        Method::Rgd,
        Method::Ngd,
        Method::heavy_ball(),
        Method::nesterov(),
        Method::heavy_ball_fixed(0.5),
        Method::nesterov_fixed(0.5),
    ]
}

/// The order-1 TT with small deterministic coefficients (a generic start, not zero).
fn start(n: usize) -> ttfit::Result<TensorTrain> {
    let core = Array3::from_shape_fn((1, n, 1), |(_, j, _)| 0.1 / (1.0 + j as f64));
    Ok(TensorTrain::from_cores(vec![core])?)
}

fn main() -> ttfit::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/pde_1d".into());
    let solver = match std::env::args().nth(2).as_deref() {
        Some(name) => ttfit::optim::gram::GramSolver::parse(name)?,
        None => SolveOptions::default().solver,
    };
    let test_pts = |lo: f64, hi: f64| {
        Array2::from_shape_fn((2001, 1), |(i, _)| lo + (hi - lo) * i as f64 / 2000.0)
    };
    // (a)
    for (eps, n) in [(0.1, 24usize), (0.01, 64)] {
        let pde = Pde::new(vec![(0.0, 1.0)])?
            .diffusion(0, constant(eps))?
            .advection(0, constant(1.0))?
            .rhs(constant(1.0))
            .dirichlet(constant(0.0), 1.0)?;
        let fm = FeatureMap::from_parts(
            vec![Basis::legendre(n)],
            vec![InputMap::interval(0.0, 1.0)],
            vec!["x".into()],
        )?;
        let pts = Collocation::gauss_1d(0.0, 1.0, 2 * n)?;
        let problem = ResidualProblem::new(&pde, &fm, &pts)?;
        let exact = move |x: &[f64]| {
            let x = x[0];
            x - (((x - 1.0) / eps).exp() - (-1.0 / eps).exp()) / (1.0 - (-1.0 / eps).exp())
        };
        let err = TestError::new(&fm, test_pts(0.0, 1.0), exact)?;
        let opts = SolveOptions {
            max_iter: 300,
            target_error: 1e-6,
            solver,
            ..Default::default()
        };
        compare(
            &format!("(a) -eps u'' + u' = 1, eps = {eps}, legendre:{n}, order-1 TT"),
            &format!("{out}/a_eps{eps}"),
            &problem,
            &start(n)?,
            &methods(),
            &opts,
            &err,
            &[1e-2, 1e-4, 1e-6],
        )?;
        println!("(best polynomial error at this n is the floor: NGD's first step reaches it)");
    }
    // (b)
    let n = 20;
    let pde = Pde::new(vec![(-1.0, 1.0)])?
        .laplacian(1.0)
        .cubic(1.0)
        .rhs(Arc::new(|x: &[f64]| {
            let s = (PI * x[0]).sin();
            PI * PI * s + s * s * s
        }));
    let basis = boundary_vanishing(n)?;
    let fm = FeatureMap::from_parts(
        vec![basis],
        vec![InputMap::interval(-1.0, 1.0)],
        vec!["x".into()],
    )?;
    let pts = Collocation::gauss_1d(-1.0, 1.0, 2 * n)?;
    let problem = ResidualProblem::new(&pde, &fm, &pts)?;
    let err = TestError::new(&fm, test_pts(-1.0, 1.0), |x: &[f64]| (PI * x[0]).sin())?;
    let opts = SolveOptions {
        max_iter: 300,
        target_error: 1e-8,
        solver,
        ..Default::default()
    };
    compare(
        "(b) -u'' + u^3 = f, u = sin(pi x), boundary-vanishing basis n = 20, order-1 TT",
        &format!("{out}/b_cubic"),
        &problem,
        &start(n)?,
        &methods(),
        &opts,
        &err,
        &[1e-2, 1e-4, 1e-6, 1e-8],
    )?;
    Ok(())
}
