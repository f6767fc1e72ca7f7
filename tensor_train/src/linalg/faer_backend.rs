//! The default backend: faer 0.24 (pure Rust).

use super::convert::{faer_mut, faer_ref};
use super::{LinalgError, Svd};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder as hh;
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2};

/// Every factorization here runs on one thread: faer's high-level `qr()`, `thin_svd()`,
/// `llt()` and `self_adjoint_eigen()` read faer's *global* parallelism (all rayon threads), which
/// slows the small factorizations of the TT sweeps down by an order of magnitude on a loaded
/// machine and makes the bits depend on the thread count (LINALG.md §3-4). The low-level APIs
/// below take `Par` explicitly.
const PAR: faer::Par = faer::Par::Seq;

/// Householder QR in place: `(basis with unit diagonal, block coefficients, thin R)`.
fn qr_factor(a: ArrayView2<'_, f64>) -> (faer::Mat<f64>, faer::Mat<f64>, Array2<f64>) {
    use faer::linalg::qr::no_pivoting::factor as qrf;
    let (m, n) = a.dim();
    let k = m.min(n);
    let mut qr = faer_ref(&a).to_owned();
    let bs = qrf::recommended_block_size::<f64>(m, n);
    let mut coeff = faer::Mat::zeros(bs, k);
    let req = qrf::qr_in_place_scratch::<f64>(m, n, bs, PAR, Default::default());
    let mut buf = MemBuffer::new(req);
    qrf::qr_in_place(
        qr.as_mut(),
        coeff.as_mut(),
        PAR,
        MemStack::new(&mut buf),
        Default::default(),
    );
    let r = Array2::from_shape_fn((k, n), |(i, j)| if j >= i { qr[(i, j)] } else { 0.0 });
    // the basis is the strictly lower part with an implicit unit diagonal; make it explicit
    for j in 0..k {
        for i in 0..j {
            qr[(i, j)] = 0.0;
        }
        qr[(j, j)] = 1.0;
    }
    let basis = if n > k {
        qr.as_ref().get(.., ..k).to_owned()
    } else {
        qr
    };
    (basis, coeff, r)
}

pub(super) fn qr_thin(a: ArrayView2<'_, f64>) -> Result<(Array2<f64>, Array2<f64>), LinalgError> {
    let (m, n) = a.dim();
    let k = m.min(n);
    if k == 0 {
        return Ok((Array2::zeros((m, 0)), Array2::zeros((0, n))));
    }
    let (basis, coeff, r) = qr_factor(a);
    // thin Q = H_1 ... H_k [I_k; 0], applied directly into a C-order output
    let mut q = Array2::zeros((m, k));
    for i in 0..k {
        q[[i, i]] = 1.0;
    }
    let req = hh::apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(
        m,
        coeff.nrows(),
        k,
    );
    let mut buf = MemBuffer::new(req);
    {
        let mut qv = q.view_mut();
        hh::apply_block_householder_sequence_on_the_left_in_place_with_conj(
            basis.as_ref(),
            coeff.as_ref(),
            faer::Conj::No,
            faer_mut(&mut qv),
            PAR,
            MemStack::new(&mut buf),
        );
    }
    Ok((q, r))
}

pub(super) fn svd_thin(a: ArrayView2<'_, f64>) -> Result<Svd, LinalgError> {
    use faer::linalg::svd::{self as fsvd, ComputeSvdVectors};
    let (m, n) = a.dim();
    let k = m.min(n);
    // C-order output arrays seen as faer views: U (m x k) directly, V (n x k) as the transpose
    // of the C-order vt (k x n), so no copy back is needed
    let mut u = Array2::zeros((m, k));
    let mut vt = Array2::zeros((k, n));
    let mut sd = faer::diag::Diag::<f64>::zeros(k);
    let req = fsvd::svd_scratch::<f64>(
        m,
        n,
        ComputeSvdVectors::Thin,
        ComputeSvdVectors::Thin,
        PAR,
        Default::default(),
    );
    let mut buf = MemBuffer::new(req);
    {
        let mut uv = u.view_mut();
        let mut vv = vt.view_mut();
        let fv = faer_mut(&mut vv).transpose_mut();
        fsvd::svd(
            faer_ref(&a),
            sd.as_mut(),
            Some(faer_mut(&mut uv)),
            Some(fv),
            PAR,
            MemStack::new(&mut buf),
            Default::default(),
        )
        .map_err(|_| LinalgError::NoConvergence { op: "SVD" })?;
    }
    let sv = sd.column_vector();
    let s = Array1::from_shape_fn(k, |i| sv[i]);
    if s.iter().any(|x| !x.is_finite()) {
        return Err(LinalgError::NoConvergence { op: "SVD" });
    }
    Ok(Svd { u, s, vt })
}

pub(super) fn eigh(a: ArrayView2<'_, f64>) -> Result<(Array1<f64>, Array2<f64>), LinalgError> {
    use faer::linalg::evd;
    let n = a.nrows();
    let mut w = Array2::zeros((n, n));
    let mut sd = faer::diag::Diag::<f64>::zeros(n);
    let req = evd::self_adjoint_evd_scratch::<f64>(
        n,
        evd::ComputeEigenvectors::Yes,
        PAR,
        Default::default(),
    );
    let mut buf = MemBuffer::new(req);
    {
        let mut wv = w.view_mut();
        evd::self_adjoint_evd(
            faer_ref(&a),
            sd.as_mut(),
            Some(faer_mut(&mut wv)),
            PAR,
            MemStack::new(&mut buf),
            Default::default(),
        )
        .map_err(|_| LinalgError::NoConvergence {
            op: "eigendecomposition",
        })?;
    }
    let sv = sd.column_vector();
    let lam = Array1::from_shape_fn(n, |i| sv[i]);
    if lam.iter().any(|x| !x.is_finite()) {
        return Err(LinalgError::NoConvergence {
            op: "eigendecomposition",
        });
    }
    Ok((lam, w))
}

/// Cholesky in place on a C-order copy (only the lower triangle is read and written; the strict
/// upper triangle is zeroed). `par` is explicit: the Gram factorization (`D` in the thousands)
/// may split, the small block factorizations stay sequential.
pub(super) fn cholesky_lower(
    a: ArrayView2<'_, f64>,
    par: super::Par,
) -> Result<Array2<f64>, LinalgError> {
    use faer::linalg::cholesky::llt::factor as llt;
    if a.iter().any(|x| !x.is_finite()) {
        return Err(LinalgError::NoConvergence { op: "Cholesky" });
    }
    let n = a.nrows();
    let par = par.to_faer();
    // factor the transpose of a C-order copy: a column-major lower triangle, as faer prefers
    let mut lt = Array2::zeros((n, n)).reversed_axes();
    lt.assign(&a);
    let req = llt::cholesky_in_place_scratch::<f64>(n, par, Default::default());
    let mut buf = MemBuffer::new(req);
    {
        let mut lv = lt.view_mut();
        llt::cholesky_in_place(
            faer_mut(&mut lv),
            Default::default(),
            par,
            MemStack::new(&mut buf),
            Default::default(),
        )
        .map_err(|e| match e {
            llt::LltError::NonPositivePivot { index } => {
                LinalgError::NotPositiveDefinite { pivot: index }
            }
        })?;
    }
    let mut l = lt.as_standard_layout().into_owned();
    for i in 0..n {
        for j in i + 1..n {
            l[[i, j]] = 0.0;
        }
    }
    Ok(l)
}

pub(super) fn lstsq(
    a: ArrayView2<'_, f64>,
    b: ArrayView2<'_, f64>,
) -> Result<Array2<f64>, LinalgError> {
    let n = a.ncols();
    let (basis, coeff, r) = qr_factor(a);
    // x = R^{-1} (Q^T b)[..n]
    let mut x: Array2<f64> = b.to_owned();
    {
        let mut xv = x.view_mut();
        let req = hh::apply_block_householder_sequence_transpose_on_the_left_in_place_scratch::<f64>(
            a.nrows(),
            coeff.nrows(),
            b.ncols(),
        );
        let mut buf = MemBuffer::new(req);
        hh::apply_block_householder_sequence_transpose_on_the_left_in_place_with_conj(
            basis.as_ref(),
            coeff.as_ref(),
            faer::Conj::No,
            faer_mut(&mut xv),
            PAR,
            MemStack::new(&mut buf),
        );
    }
    let mut out = x.slice(s![..n, ..]).to_owned();
    {
        let rv = r.view();
        let mut ov = out.view_mut();
        faer::linalg::triangular_solve::solve_upper_triangular_in_place(
            faer_ref(&rv),
            faer_mut(&mut ov),
            PAR,
        );
    }
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
        let (basis, coeff, _) = qr_factor(a);
        Ok(Householder { basis, coeff, m, n })
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
