//! Least squares by Householder QR kept as stored reflectors (no explicit `Q`), factored in
//! place in the caller's column-major buffer: the only `m x n` storage is the input's.
//!
//! Runs on faer in both backends (like [`super::gemm`]): LAPACK's route through ndarray-linalg
//! would form `Q` explicitly, which for the `N x D` Jacobian doubles the memory.

use super::convert::{faer_mut, faer_ref};
use super::{LinalgError, Par};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder as hh;
use faer::linalg::qr::no_pivoting::factor as qrf;
use ndarray::{s, Array1, Array2, ShapeBuilder};

/// `A = Q R` of a tall `m x n` matrix (`m >= n`), with `Q` as block Householder reflectors in
/// the strictly lower part of the factored buffer. [`QrLeastSquares::solve`] returns
/// `argmin_x ||A x - b||` as `R^{-1} (Q^T b)[..n]`, `O(m n)` per right-hand side.
#[derive(Debug, Clone)]
pub struct QrLeastSquares {
    /// The factored matrix (column-major): `R` on and above the diagonal, the reflectors below.
    qr: Array2<f64>,
    coeff: faer::Mat<f64>,
}

impl QrLeastSquares {
    /// An `m x n` zero buffer in the column-major layout [`QrLeastSquares::factor`] works in
    /// place on (fill it, e.g. with `TangentSpace::jacobian_into`, then factor it).
    pub fn buffer(m: usize, n: usize) -> Array2<f64> {
        Array2::zeros((m, n).f())
    }

    /// Factor `a` in place (`m >= n`). A C-order input is copied once into column-major order.
    /// `par` splits the blocked factorization (bits may then depend on the thread count).
    pub fn factor(a: Array2<f64>, par: Par) -> Result<Self, LinalgError> {
        let (m, n) = a.dim();
        if m < n {
            return Err(LinalgError::Shape {
                op: "QR least squares",
                detail: format!("matrix is {m}x{n}: needs at least as many rows as columns"),
            });
        }
        if a.iter().any(|x| !x.is_finite()) {
            return Err(LinalgError::NoConvergence {
                op: "QR least squares",
            });
        }
        let mut qr = if a.t().is_standard_layout() {
            a
        } else {
            let mut f = Self::buffer(m, n);
            f.assign(&a);
            f
        };
        let k = n;
        let bs = qrf::recommended_block_size::<f64>(m, n.max(1));
        let mut coeff = faer::Mat::zeros(bs, k);
        if k > 0 {
            let fpar = par.to_faer();
            let req = qrf::qr_in_place_scratch::<f64>(m, n, bs, fpar, Default::default());
            let mut buf = MemBuffer::new(req);
            let mut v = qr.view_mut();
            qrf::qr_in_place(
                faer_mut(&mut v),
                coeff.as_mut(),
                fpar,
                MemStack::new(&mut buf),
                Default::default(),
            );
        }
        Ok(QrLeastSquares { qr, coeff })
    }

    /// `min_i |R_ii| / max_i |R_ii|`: 0 for a rank-deficient matrix (a lower bound on
    /// `1 / cond(A)` up to a factor `n`).
    pub fn diag_ratio(&self) -> f64 {
        let n = self.qr.ncols();
        if n == 0 {
            return 1.0;
        }
        let d = self.qr.diag();
        let max = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let min = d.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
        if max > 0.0 {
            min / max
        } else {
            0.0
        }
    }

    /// `argmin_x ||A x - b||`.
    pub fn solve(&self, b: &Array1<f64>) -> Result<Array1<f64>, LinalgError> {
        let (m, n) = self.qr.dim();
        if b.len() != m {
            return Err(LinalgError::Shape {
                op: "QR least squares",
                detail: format!("A has {m} rows, b has {}", b.len()),
            });
        }
        if n == 0 {
            return Ok(Array1::zeros(0));
        }
        let mut x = b.clone().insert_axis(ndarray::Axis(1));
        {
            let mut xv = x.view_mut();
            let req = hh::apply_block_householder_sequence_transpose_on_the_left_in_place_scratch::<
                f64,
            >(m, self.coeff.nrows(), 1);
            let mut buf = MemBuffer::new(req);
            let basis = self.qr.view();
            hh::apply_block_householder_sequence_transpose_on_the_left_in_place_with_conj(
                faer_ref(&basis),
                self.coeff.as_ref(),
                faer::Conj::No,
                faer_mut(&mut xv),
                faer::Par::Seq,
                MemStack::new(&mut buf),
            );
        }
        let mut out = x.slice(s![..n, ..]).to_owned();
        {
            let r = self.qr.slice(s![..n, ..]);
            let mut ov = out.view_mut();
            faer::linalg::triangular_solve::solve_upper_triangular_in_place(
                faer_ref(&r),
                faer_mut(&mut ov),
                faer::Par::Seq,
            );
        }
        let out = out.index_axis_move(ndarray::Axis(1), 0);
        if out.iter().any(|v| !v.is_finite()) {
            return Err(LinalgError::NoConvergence {
                op: "QR least squares (rank-deficient matrix)",
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Against the normal equations of a well-conditioned random problem (cond ~ 3, so the
    /// normal-equation solution is accurate to ~1e-14 as well).
    #[test]
    fn matches_normal_equations() {
        let mut r = rand::rngs::StdRng::seed_from_u64(5);
        let a = Array2::from_shape_fn((300, 12), |_| r.random_range(-1.0..1.0));
        let b = Array1::from_shape_fn(300, |_| r.random_range(-1.0..1.0));
        let mut f = QrLeastSquares::buffer(300, 12);
        f.assign(&a);
        let qr = QrLeastSquares::factor(f, Par::Seq).unwrap();
        let x = qr.solve(&b).unwrap();
        let normal = a.t().dot(&(a.dot(&x) - &b));
        assert!(normal.iter().all(|v| v.abs() < 1e-11), "{normal}");
        // a C-order input gives the same solution
        let x2 = QrLeastSquares::factor(a.clone(), Par::Seq)
            .unwrap()
            .solve(&b)
            .unwrap();
        assert!((&x - &x2).iter().all(|v| v.abs() < 1e-13));
        assert!(qr.diag_ratio() > 0.1);
    }
}
