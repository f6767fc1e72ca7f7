//! LSQR (Paige & Saunders 1982) for `min ||A x - b||^2 + damp^2 ||x||^2` with `A` given only
//! through the products `A v` and `A^T u` (here `J c` and `J^T w`, MATH.md §6.4).

use crate::error::Result;
use ndarray::Array1;

/// LSQR parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LsqrParams {
    /// Damping `lambda >= 0`.
    pub damp: f64,
    /// Iteration cap.
    pub max_iter: usize,
    /// Stop when `||A^T r|| <= tol ||A|| ||r||` (estimates from the bidiagonalization).
    pub tol: f64,
}

/// Solve by Golub–Kahan bidiagonalization; `n` is the number of unknowns.
pub fn lsqr<F, G>(av: F, atv: G, b: &Array1<f64>, n: usize, p: &LsqrParams) -> Result<Array1<f64>>
where
    F: Fn(&Array1<f64>) -> Result<Array1<f64>>,
    G: Fn(&Array1<f64>) -> Result<Array1<f64>>,
{
    let mut x = Array1::zeros(n);
    let mut u = b.clone();
    let mut beta = norm(&u);
    if beta == 0.0 {
        return Ok(x);
    }
    u /= beta;
    let mut v = atv(&u)?;
    let mut alpha = norm(&v);
    if alpha == 0.0 {
        return Ok(x);
    }
    v /= alpha;
    let mut w = v.clone();
    let mut phibar = beta;
    let mut rhobar = alpha;
    let mut anorm2 = alpha * alpha;
    for _ in 0..p.max_iter {
        // bidiagonalization: beta u = A v - alpha u ; alpha v = A^T u - beta v
        u = av(&v)? - &(&u * alpha);
        beta = norm(&u);
        if beta > 0.0 {
            u /= beta;
        }
        v = atv(&u)? - &(&v * beta);
        alpha = norm(&v);
        if alpha > 0.0 {
            v /= alpha;
        }
        anorm2 += alpha * alpha + beta * beta + p.damp * p.damp;
        // eliminate the damping term, then the subdiagonal beta (plane rotations)
        let rhobar1 = (rhobar * rhobar + p.damp * p.damp).sqrt();
        let cs1 = rhobar / rhobar1;
        phibar *= cs1;
        let rho = (rhobar1 * rhobar1 + beta * beta).sqrt();
        let cs = rhobar1 / rho;
        let sn = beta / rho;
        let theta = sn * alpha;
        rhobar = -cs * alpha;
        let phi = cs * phibar;
        phibar *= sn;
        x.scaled_add(phi / rho, &w);
        w = &v - &(&w * (theta / rho));
        // phibar changes sign with the damping rotation: the estimates use magnitudes
        let rnorm = phibar.abs();
        let arnorm = (alpha * cs).abs() * rnorm;
        if arnorm <= p.tol * anorm2.sqrt() * rnorm || rnorm == 0.0 || alpha == 0.0 {
            break;
        }
    }
    Ok(x)
}

fn norm(v: &Array1<f64>) -> f64 {
    v.dot(v).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn matches_normal_equations_with_damping() {
        let a = array![[1.0, 2.0], [3.0, 4.0], [5.0, 7.0], [0.5, -1.0]];
        let b = array![1.0, -2.0, 0.5, 3.0];
        for damp in [0.0, 0.3] {
            let p = LsqrParams {
                damp,
                max_iter: 50,
                tol: 1e-15,
            };
            let x = lsqr(|v| Ok(a.dot(v)), |u| Ok(a.t().dot(u)), &b, 2, &p).unwrap();
            // (A^T A + damp^2 I) x = A^T b
            let mut g = a.t().dot(&a);
            g[[0, 0]] += damp * damp;
            g[[1, 1]] += damp * damp;
            let rhs = a.t().dot(&b);
            let det = g[[0, 0]] * g[[1, 1]] - g[[0, 1]] * g[[1, 0]];
            let x0 = (g[[1, 1]] * rhs[0] - g[[0, 1]] * rhs[1]) / det;
            let x1 = (g[[0, 0]] * rhs[1] - g[[1, 0]] * rhs[0]) / det;
            approx::assert_abs_diff_eq!(x[0], x0, epsilon = 1e-10);
            approx::assert_abs_diff_eq!(x[1], x1, epsilon = 1e-10);
        }
    }
}

#[cfg(test)]
mod tall {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A tall random problem needs many iterations: the normal-equation residual must vanish.
    #[test]
    fn converges_on_a_tall_random_problem() {
        let mut r = rand::rngs::StdRng::seed_from_u64(1);
        let a = ndarray::Array2::from_shape_fn((600, 24), |_| r.random_range(-1.0..1.0));
        let b = ndarray::Array1::from_shape_fn(600, |_| r.random_range(-1.0..1.0));
        let p = LsqrParams {
            damp: 0.0,
            max_iter: 500,
            tol: 1e-15,
        };
        let x = lsqr(|v| Ok(a.dot(v)), |u| Ok(a.t().dot(u)), &b, 24, &p).unwrap();
        let res = a.t().dot(&a).dot(&x) - a.t().dot(&b);
        assert!(res.iter().all(|v| v.abs() < 1e-9), "normal residual {res}");
    }
}
