//! The default backend: faer 0.24 (pure Rust).

use super::convert::{faer_mut, faer_ref, to_ndarray};
use super::{LinalgError, Svd};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder as hh;
use faer::linalg::solvers::SolveLstsq;
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2};

pub(super) fn qr_thin(a: ArrayView2<'_, f64>) -> Result<(Array2<f64>, Array2<f64>), LinalgError> {
    let (m, n) = a.dim();
    let k = m.min(n);
    if k == 0 {
        return Ok((Array2::zeros((m, 0)), Array2::zeros((0, n))));
    }
    let qr = faer_ref(&a).qr();
    Ok((
        to_ndarray(qr.compute_thin_Q().as_ref()),
        to_ndarray(qr.thin_R()),
    ))
}

pub(super) fn svd_thin(a: ArrayView2<'_, f64>) -> Result<Svd, LinalgError> {
    let svd = faer_ref(&a)
        .thin_svd()
        .map_err(|_| LinalgError::NoConvergence { op: "SVD" })?;
    let k = a.nrows().min(a.ncols());
    let sv = svd.S().column_vector();
    let s = Array1::from_shape_fn(k, |i| sv[i]);
    let u = to_ndarray(svd.U());
    let v = svd.V();
    let vt = Array2::from_shape_fn((k, a.ncols()), |(i, j)| v[(j, i)]);
    if s.iter().any(|x| !x.is_finite()) {
        return Err(LinalgError::NoConvergence { op: "SVD" });
    }
    Ok(Svd { u, s, vt })
}

pub(super) fn eigh(a: ArrayView2<'_, f64>) -> Result<(Array1<f64>, Array2<f64>), LinalgError> {
    let evd = faer_ref(&a)
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|_| LinalgError::NoConvergence {
            op: "eigendecomposition",
        })?;
    let sv = evd.S().column_vector();
    let lam = Array1::from_shape_fn(a.nrows(), |i| sv[i]);
    if lam.iter().any(|x| !x.is_finite()) {
        return Err(LinalgError::NoConvergence {
            op: "eigendecomposition",
        });
    }
    Ok((lam, to_ndarray(evd.U())))
}

pub(super) fn cholesky_lower(a: ArrayView2<'_, f64>) -> Result<Array2<f64>, LinalgError> {
    if a.iter().any(|x| !x.is_finite()) {
        return Err(LinalgError::NoConvergence { op: "Cholesky" });
    }
    let llt = faer_ref(&a).llt(faer::Side::Lower).map_err(|e| match e {
        faer::linalg::cholesky::llt::factor::LltError::NonPositivePivot { index } => {
            LinalgError::NotPositiveDefinite { pivot: index }
        }
    })?;
    Ok(to_ndarray(llt.L()))
}

pub(super) fn lstsq(
    a: ArrayView2<'_, f64>,
    b: ArrayView2<'_, f64>,
) -> Result<Array2<f64>, LinalgError> {
    let qr = faer_ref(&a).qr();
    let mut x: Array2<f64> = b.to_owned();
    {
        let mut xv = x.view_mut();
        qr.solve_lstsq_in_place(faer_mut(&mut xv));
    }
    let n = a.ncols();
    let out = x.slice(s![..n, ..]).to_owned();
    if out.iter().any(|v| !v.is_finite()) {
        return Err(LinalgError::NoConvergence {
            op: "least squares (rank-deficient or non-finite input)",
        });
    }
    Ok(out)
}

/// Full Householder QR of an `m x n` matrix, `A = Q [R; 0]` with `Q` (`m x m`) kept as block
/// reflectors. Applying `Q` or `Q^T` to `p` vectors costs `O(m n p)`, not `O(m^2 p)`; the
/// trailing `m - n` columns of `Q` span the orthogonal complement of `range(A)` (for full
/// column rank), which is how tangent blocks are parametrized (MATH.md §3.2).
#[derive(Debug, Clone)]
pub struct Householder {
    basis: faer::Mat<f64>,
    coeff: faer::Mat<f64>,
    m: usize,
    n: usize,
}

impl Householder {
    /// Factor `A` (`m x n`, `m >= n` for a complement of dimension `m - n`).
    pub fn new(a: ArrayView2<'_, f64>) -> Result<Self, LinalgError> {
        let (m, n) = a.dim();
        if m < n {
            return Err(LinalgError::Shape {
                op: "Householder QR",
                detail: format!("matrix is {m}x{n}; the complement needs m >= n"),
            });
        }
        if a.iter().any(|x| !x.is_finite()) {
            return Err(LinalgError::NoConvergence {
                op: "Householder QR",
            });
        }
        if n == 0 {
            return Ok(Householder {
                basis: faer::Mat::zeros(m, 0),
                coeff: faer::Mat::zeros(1, 0),
                m,
                n,
            });
        }
        let qr = faer_ref(&a).qr();
        Ok(Householder {
            basis: qr.Q_basis().to_owned(),
            coeff: qr.Q_coeff().to_owned(),
            m,
            n,
        })
    }

    /// Rows `m` of the factored matrix (the size of `Q`).
    pub fn nrows(&self) -> usize {
        self.m
    }

    /// Columns `n` of the factored matrix; the complement has `m - n` columns.
    pub fn ncols(&self) -> usize {
        self.n
    }

    /// `B <- Q^T B` for `B` with `m` rows.
    ///
    /// # Panics
    /// If `B` does not have `m` rows.
    pub fn apply_qt(&self, mut b: ArrayViewMut2<'_, f64>) {
        assert_eq!(
            b.nrows(),
            self.m,
            "Householder: B has {} rows, Q is {}x{}",
            b.nrows(),
            self.m,
            self.m
        );
        if self.n == 0 || b.ncols() == 0 {
            return;
        }
        let req = hh::apply_block_householder_sequence_transpose_on_the_left_in_place_scratch::<f64>(
            self.m,
            self.coeff.nrows(),
            b.ncols(),
        );
        let mut buf = MemBuffer::new(req);
        hh::apply_block_householder_sequence_transpose_on_the_left_in_place_with_conj(
            self.basis.as_ref(),
            self.coeff.as_ref(),
            faer::Conj::No,
            faer_mut(&mut b),
            faer::Par::Seq,
            MemStack::new(&mut buf),
        );
    }

    /// `B <- Q B` for `B` with `m` rows.
    ///
    /// # Panics
    /// If `B` does not have `m` rows.
    pub fn apply_q(&self, mut b: ArrayViewMut2<'_, f64>) {
        assert_eq!(
            b.nrows(),
            self.m,
            "Householder: B has {} rows, Q is {}x{}",
            b.nrows(),
            self.m,
            self.m
        );
        if self.n == 0 || b.ncols() == 0 {
            return;
        }
        let req = hh::apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(
            self.m,
            self.coeff.nrows(),
            b.ncols(),
        );
        let mut buf = MemBuffer::new(req);
        hh::apply_block_householder_sequence_on_the_left_in_place_with_conj(
            self.basis.as_ref(),
            self.coeff.as_ref(),
            faer::Conj::No,
            faer_mut(&mut b),
            faer::Par::Seq,
            MemStack::new(&mut buf),
        );
    }

    /// The trailing `m - n` columns of `Q` as a dense matrix (tests, small sizes).
    pub fn complement(&self) -> Array2<f64> {
        let mut e = Array2::zeros((self.m, self.m - self.n));
        for j in 0..self.m - self.n {
            e[[self.n + j, j]] = 1.0;
        }
        self.apply_q(e.view_mut());
        e
    }
}
