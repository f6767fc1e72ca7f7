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
    /// `||b||`, the norm of the right-hand side of the normal equations (for the natural
    /// gradient: the norm of the Riemannian gradient in tangent coordinates, what
    /// [`EisenstatWalker`] reads). 0 where the solver does not form `b` (QR).
    #[serde(default)]
    pub rhs_norm: f64,
}

impl SolveReport {
    /// The report of a direct (exact) solve.
    pub fn direct() -> Self {
        SolveReport {
            iterations: 0,
            rel_residual: 0.0,
            tolerance: 0.0,
            converged: true,
            rhs_norm: 0.0,
        }
    }
}

/// Eisenstat–Walker forcing terms for the inexact Newton / Gauss–Newton solves (Eisenstat and
/// Walker 1996, "choice 2"): `eta_0 = eta_max`, then
/// `eta_k = gamma (||g_k|| / ||g_{k-1}||)^2`, kept at least `gamma eta_{k-1}^2` when that is
/// above 0.1 (so that one lucky step does not make the next solve needlessly tight), and
/// clamped to `[eta_min, eta_max]`. `g_k` is the gradient at iterate `k` (the right-hand side
/// `||b||` of its Gram system, [`SolveReport::rhs_norm`]). Loose solves far from the solution,
/// tight ones as the gradient falls: the local convergence of the exact method is kept while
/// early iterations cost few products.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EisenstatWalker {
    /// `gamma` in `(0, 1]` (0.9 in the paper).
    pub gamma: f64,
    /// Upper bound and first term (0.5).
    pub eta_max: f64,
    /// Lower bound (e.g. 1e-6): tighter than the rounding of `J v` is pointless.
    pub eta_min: f64,
    prev: Option<(f64, f64)>,
}

impl Default for EisenstatWalker {
    fn default() -> Self {
        EisenstatWalker::new(0.9, 0.5, 1e-6)
    }
}

impl EisenstatWalker {
    /// The rule with these constants and no history.
    pub fn new(gamma: f64, eta_max: f64, eta_min: f64) -> Self {
        EisenstatWalker {
            gamma,
            eta_max,
            eta_min,
            prev: None,
        }
    }

    /// The forcing term for the solve at an iterate whose gradient norm is `gnorm`; records
    /// `(gnorm, eta)` for the next call.
    pub fn next(&mut self, gnorm: f64) -> f64 {
        let eta = match self.prev {
            None => self.eta_max,
            Some((g_prev, eta_prev)) => {
                let ratio = if g_prev > 0.0 { gnorm / g_prev } else { 0.0 };
                let mut eta = self.gamma * ratio * ratio;
                let floor = self.gamma * eta_prev * eta_prev;
                if floor > 0.1 {
                    eta = eta.max(floor);
                }
                eta
            }
        };
        let eta = eta.clamp(self.eta_min, self.eta_max);
        self.prev = Some((gnorm, eta));
        eta
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
                rhs_norm: 0.0,
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
            rhs_norm: bnorm,
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
        assert!((rep.rhs_norm - b.dot(&b).sqrt()).abs() <= 1e-14 * rep.rhs_norm);
    }

    /// Galerkin property of every (truncated) iterate started at 0: `b - A x_j` is orthogonal
    /// to the Krylov space that holds `x_j`, so `b^T x_j = x_j^T A x_j`: along a PCG step the
    /// quadratic model `q(alpha x_j)` is minimized at `alpha = 1` (the solver table's model step
    /// relies on it). Checked after 1..5 iterations on a 60-dimensional SPD system; tolerance:
    /// rounding of O(n) terms of size `||A|| ||x||^2`, 1e-10 relative.
    #[test]
    fn truncated_iterates_satisfy_the_galerkin_condition() {
        let (g, b) = problem(60, 3);
        let diag = g.diag().to_owned();
        for max_iter in 1..=5 {
            let p = PcgParams {
                forcing: 1e-14,
                max_iter,
            };
            let (x, _) = pcg(|v| Ok(g.dot(v)), |r| Ok(r / &diag), &b, &p).unwrap();
            let (bx, xax) = (b.dot(&x), x.dot(&g.dot(&x)));
            assert!((bx - xax).abs() <= 1e-10 * xax, "{max_iter}: {bx} vs {xax}");
        }
    }

    /// The Eisenstat–Walker sequence against values worked by hand: first term `eta_max`;
    /// gradient halved: `0.9 * 0.25 = 0.225`, above the safeguard `0.9 * 0.5^2 = 0.225`;
    /// then a gradient drop by 100: `0.9e-4`, but the safeguard `0.9 * 0.225^2 = 0.0456` is
    /// below 0.1, so the term is `0.9e-4`; then no decrease: `0.9` clamped to `eta_max`;
    /// and a tiny ratio is clamped to `eta_min`.
    #[test]
    fn eisenstat_walker_follows_the_gradient_ratio() {
        let mut ew = EisenstatWalker::new(0.9, 0.5, 1e-6);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-15 * b.abs().max(1e-300);
        assert!(close(ew.next(1.0), 0.5));
        assert!(close(ew.next(0.5), 0.225));
        assert!(close(ew.next(0.005), 0.9e-4));
        assert!(close(ew.next(0.005), 0.5));
        // safeguard active: eta_prev = 0.5 gives floor 0.225 > 0.1
        assert!(close(ew.next(0.0005), 0.225));
        let mut ew = EisenstatWalker::new(0.9, 0.5, 1e-6);
        ew.next(1.0);
        ew.next(0.5); // eta 0.225, floor next 0.0456
        assert!(close(ew.next(1e-8), 1e-6));
    }
}
