//! Preconditioned conjugate gradient for `(G + lambda I) c = b` with `G` symmetric positive
//! semi-definite, given only through products (MATH.md §12, "Matrix-free Gauss–Newton").
//!
//! Started at `c_0 = 0`, every iterate `c_j` minimizes the quadratic model
//! `q(c) = c^T (G + lambda I) c / 2 - b^T c` over a Krylov space that contains `b`, so
//! `q(c_j) < q(0) = 0` and `b^T c_j > 0` for `b != 0`: a truncated solve of the Gauss–Newton
//! system (`b = -g`) is always a descent direction. This is why stopping early (an inexact
//! Newton step with a forcing term) is safe.

use crate::error::Result;
use ndarray::Array1;

/// Stopping rule and cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PcgParams {
    /// Forcing term `eta`: stop when `||b - (G + lambda I) c_j|| <= eta ||b||`.
    pub forcing: f64,
    /// Iteration cap (each iteration: one operator product and one preconditioner solve).
    pub max_iter: usize,
}

/// How an iterative solve ended.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SolveReport {
    /// Iterations done (operator products).
    pub iterations: usize,
    /// `||b - A c|| / ||b||` at the returned `c` (0 for `b = 0`).
    pub rel_residual: f64,
    /// The tolerance it was asked to reach.
    pub tolerance: f64,
    /// `rel_residual <= tolerance`.
    pub converged: bool,
}

impl SolveReport {
    /// The report of a direct (exact) solve.
    pub fn direct() -> Self {
        SolveReport {
            iterations: 0,
            rel_residual: 0.0,
            tolerance: 0.0,
            converged: true,
        }
    }
}

/// PCG with operator `a(v) = (G + lambda I) v` and preconditioner `m_inv(r) ~ (G + lambda I)^{-1} r`
/// (symmetric positive definite). Returns the last iterate and the report; a non-convergence is
/// reported, not an error (see the module docs).
pub fn pcg<A, M>(
    a: A,
    m_inv: M,
    b: &Array1<f64>,
    p: &PcgParams,
) -> Result<(Array1<f64>, SolveReport)>
where
    A: Fn(&Array1<f64>) -> Result<Array1<f64>>,
    M: Fn(&Array1<f64>) -> Result<Array1<f64>>,
{
    let n = b.len();
    let mut x = Array1::zeros(n);
    let bnorm = b.dot(b).sqrt();
    if bnorm == 0.0 {
        return Ok((
            x,
            SolveReport {
                iterations: 0,
                rel_residual: 0.0,
                tolerance: p.forcing,
                converged: true,
            },
        ));
    }
    let mut r = b.clone();
    let mut z = m_inv(&r)?;
    let mut d = z.clone();
    let mut rz = r.dot(&z);
    let mut rel = 1.0;
    let mut it = 0;
    while it < p.max_iter && rel > p.forcing {
        let ad = a(&d)?;
        let dad = d.dot(&ad);
        if dad.is_nan() || dad <= 0.0 {
            // the operator is not positive definite along d (rounding at a singular G with
            // lambda = 0): stop with the last iterate, which is still a descent direction
            break;
        }
        let alpha = rz / dad;
        x.scaled_add(alpha, &d);
        r.scaled_add(-alpha, &ad);
        it += 1;
        rel = r.dot(&r).sqrt() / bnorm;
        if rel <= p.forcing {
            break;
        }
        z = m_inv(&r)?;
        let rz_new = r.dot(&z);
        let beta = rz_new / rz;
        rz = rz_new;
        d = &z + &(&d * beta);
    }
    Ok((
        x,
        SolveReport {
            iterations: it,
            rel_residual: rel,
            tolerance: p.forcing,
            converged: rel <= p.forcing,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};

    fn problem(n: usize, seed: u64) -> (Array2<f64>, Array1<f64>) {
        let mut r = rand::rngs::StdRng::seed_from_u64(seed);
        let j = Array2::from_shape_fn((3 * n, n), |_| r.random_range(-1.0..1.0));
        let b = Array1::from_shape_fn(n, |_| r.random_range(-1.0..1.0));
        (j.t().dot(&j), b)
    }

    /// Against a dense Cholesky solve: the returned residual is the true one, the tolerance is
    /// met, and the error is bounded by `cond(A) * tol` (cond of a 3n x n Gaussian Gram is ~ 10).
    #[test]
    fn converges_to_the_dense_solution() {
        let (g, b) = problem(40, 1);
        let ch = tensor_train::linalg::Cholesky::new(g.view(), 0.0).unwrap();
        let exact = ch.solve_vec(&b).unwrap();
        let diag = g.diag().to_owned();
        let p = PcgParams {
            forcing: 1e-10,
            max_iter: 200,
        };
        let (x, rep) = pcg(|v| Ok(g.dot(v)), |r| Ok(r / &diag), &b, &p).unwrap();
        assert!(rep.converged, "{rep:?}");
        let true_res = (&b - &g.dot(&x)).dot(&(&b - &g.dot(&x))).sqrt() / b.dot(&b).sqrt();
        assert!(true_res <= 1e-9, "{true_res}");
        let err = (&x - &exact).iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let scale = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(err <= 1e-7 * scale, "{err}");
    }

    /// The cap is honoured and reported; a truncated iterate is a descent direction (b^T x > 0).
    #[test]
    fn reports_non_convergence_and_stays_a_descent_direction() {
        let (g, b) = problem(60, 2);
        let p = PcgParams {
            forcing: 1e-14,
            max_iter: 3,
        };
        let (x, rep) = pcg(|v| Ok(g.dot(v)), |r| Ok(r.clone()), &b, &p).unwrap();
        assert_eq!(rep.iterations, 3);
        assert!(!rep.converged && rep.rel_residual > 1e-14);
        assert!(b.dot(&x) > 0.0);
    }
}
