//! Issue 12, example 5(c): reaction–diffusion `-Laplacian u + u = f` on `[-1, 1]^d`
//! (`d = 5` and `10`) with the known rank-2 solution
//! `u = prod_k (1 - x_k^2) + prod_k (1 - x_k^2) x_k`, homogeneous Dirichlet conditions by
//! boundary-vanishing features (`(1 - t^2) P_j`, `j < 4`, orthonormalized; they contain `u`
//! exactly), a TT of ranks 2 started from a seeded random TT, random interior collocation points.
//! The model is a genuine manifold (rank-2 TT): NGD is Riemannian Gauss–Newton on the residual.
//!
//! Run: `cargo run --release --example pde_highdim [-- OUTDIR [qr]]` (default
//! `target/pde_highdim`; `qr`: Householder QR of `J` instead of Cholesky of `J^T J`).

#[path = "pde_common/mod.rs"]
mod common;

use common::{compare, TestError};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use tensor_train::{CoreDistribution, TensorTrain};
use ttfit::basis::{FeatureMap, InputMap};
use ttfit::pde::solve::{Method, SolveOptions};
use ttfit::pde::{boundary_vanishing, constant, Collocation, Pde, ResidualProblem};

/// `u`, and `-Laplacian u + u` for the product pair `g = 1 - x^2`, `h = x - x^3`.
fn exact(x: &[f64]) -> f64 {
    let g: f64 = x.iter().map(|t| 1.0 - t * t).product();
    let h: f64 = x.iter().map(|t| t - t * t * t).product();
    g + h
}

fn rhs(x: &[f64]) -> f64 {
    let d = x.len();
    let mut lap = 0.0;
    for k in 0..d {
        // d^2/dx_k^2 of each product: g'' = -2, h'' = -6 x
        let mut pg = -2.0;
        let mut ph = -6.0 * x[k];
        for (j, t) in x.iter().enumerate() {
            if j != k {
                pg *= 1.0 - t * t;
                ph *= t - t * t * t;
            }
        }
        lap += pg + ph;
    }
    -lap + exact(x)
}

fn main() -> ttfit::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/pde_highdim".into());
    let solver = match std::env::args().nth(2).as_deref() {
        Some("qr") => ttfit::optim::gram::GramSolver::Qr,
        _ => SolveOptions::default().solver,
    };
    for d in [5usize, 10] {
        let n = 4;
        let pde = Pde::new(vec![(-1.0, 1.0); d])?
            .laplacian(1.0)
            .reaction(constant(1.0))
            .rhs(Arc::new(rhs));
        let fm = FeatureMap::from_parts(
            (0..d)
                .map(|_| boundary_vanishing(n))
                .collect::<ttfit::Result<Vec<_>>>()?,
            vec![InputMap::interval(-1.0, 1.0); d],
            (1..=d).map(|k| format!("x{k}")).collect(),
        )?;
        let mut rng = StdRng::seed_from_u64(12);
        let n_points = 800 * d / 5;
        let pts = Collocation::random(&vec![(-1.0, 1.0); d], n_points, 0, &mut rng);
        let problem = ResidualProblem::new(&pde, &fm, &pts)?;
        let test = Array2::from_shape_fn((4000, d), |_| rng.random_range(-1.0..1.0));
        let err = TestError::new(&fm, test, exact)?;
        let ranks = vec![2; d - 1];
        let x0 = TensorTrain::random(
            &vec![n; d],
            &ranks,
            CoreDistribution::ScaledNormal,
            &mut rng,
        )?;
        // the start is rescaled to the L2(mu) norm of the solution (Frobenius = L2(mu) for
        // orthonormal features, MATH.md §1.4), estimated on the collocation points
        let u_rms = (pts
            .interior
            .rows()
            .into_iter()
            .map(|r| exact(&r.to_vec()).powi(2))
            .sum::<f64>()
            / n_points as f64)
            .sqrt();
        let x0 = x0.scaled(u_rms / x0.norm()?);
        let methods = vec![
            Method::Rgd,
            Method::Ngd,
            Method::HeavyBall { beta: 0.5 },
            Method::Nesterov { beta: 0.5 },
            Method::HeavyBall { beta: 0.9 },
            Method::Nesterov { beta: 0.9 },
        ];
        let opts = SolveOptions {
            max_iter: 200,
            target_error: 1e-8,
            solver,
            ..Default::default()
        };
        compare(
            &format!("(c) -Laplacian u + u = f on [-1,1]^{d}, rank-2 solution, TT ranks 2, {n_points} points"),
            &format!("{out}/c_d{d}"),
            &problem,
            &x0,
            &methods,
            &opts,
            &err,
            &[1e-2, 1e-4, 1e-6, 1e-8],
        )?;
    }
    Ok(())
}
