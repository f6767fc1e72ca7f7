//! The optional backend (feature `lapack`): `ndarray-linalg` 0.18 on the system OpenBLAS/LAPACK.
//!
//! Traps handled here (see `shared/docs/LINALG.md` §3–4):
//! - `lax` runs LQ/transposed problems on C-order input, which is up to 5x slower for QR and
//!   1.7x for a tall SVD, so every input is first copied into the layout LAPACK wants (F-order,
//!   or for a wide SVD C-order, which LAPACK sees as the tall transpose). The copy is `O(mn)`
//!   against the `O(mn min(m, n))` factorization. Outputs are returned in C order.
//! - LAPACK segfaults on empty matrices: the wrappers in `mod.rs` return before calling
//!   into this module for zero sizes, and every function here guards them again.
//! - NaN or infinite input is rejected up front with [`LinalgError::NoConvergence`], so no
//!   non-finite value reaches LAPACK (gesdd would report an invalid argument, and geqrf or potrf
//!   would silently return NaN).
//! - OpenBLAS is switched to one thread on first use unless `OPENBLAS_NUM_THREADS` or
//!   `OMP_NUM_THREADS` is set, so the factorizations are sequential (as with faer) and results
//!   do not depend on the core count of the machine.

use super::{gemm, LinalgError, Par, Svd};
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};
use ndarray_linalg::error::LinalgError as NlError;
use ndarray_linalg::{
    CholeskyInto, EighInto, JobSvd, LeastSquaresSvdInto, QRInto, SVDDCInto, UPLO,
};
use std::sync::Once;

/// One OpenBLAS thread unless the user chose a thread count through the environment.
fn init_threads() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let user_set = ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        if !user_set {
            extern "C" {
                fn openblas_set_num_threads(num_threads: std::os::raw::c_int);
            }
            // SAFETY: a plain setter exported by libopenblas, which `openblas-src` links; it
            // takes an int by value and is called once, before this crate starts any LAPACK work.
            unsafe { openblas_set_num_threads(1) };
        }
    });
}

/// A copy of `a` in column-major (Fortran) order, the layout LAPACK works on directly.
fn f_order(a: &ArrayView2<'_, f64>) -> Array2<f64> {
    let mut f = Array2::zeros(a.dim().f());
    f.assign(a);
    f
}

/// A copy of `a` in row-major (C) order.
fn c_order(a: &ArrayView2<'_, f64>) -> Array2<f64> {
    let mut c = Array2::zeros(a.dim());
    c.assign(a);
    c
}

/// `a` itself if it is already C-order, else a C-order copy.
fn into_c_order(a: Array2<f64>) -> Array2<f64> {
    if a.is_standard_layout() {
        a
    } else {
        c_order(&a.view())
    }
}

fn check_finite(op: &'static str, a: &ArrayView2<'_, f64>) -> Result<(), LinalgError> {
    if a.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(LinalgError::NoConvergence { op })
    }
}

/// The order of a square matrix, or a shape error.
fn square(op: &'static str, a: &ArrayView2<'_, f64>) -> Result<usize, LinalgError> {
    if a.nrows() == a.ncols() {
        Ok(a.nrows())
    } else {
        Err(LinalgError::Shape {
            op,
            detail: format!("matrix is {}x{}, must be square", a.nrows(), a.ncols()),
        })
    }
}

/// The positive `info` of a LAPACK computational failure (`LapackComputationalFailure`).
///
/// `lax`'s error type is not re-exported by `ndarray-linalg` and `lax` is not a direct
/// dependency, so the variant is recognized from its `Debug` form; the unit tests pin this
/// (`cholesky_not_positive_definite` checks the pivot index).
fn failure_code(e: &NlError) -> Option<i32> {
    let NlError::Lapack(inner) = e else {
        return None;
    };
    let text = format!("{inner:?}");
    if !text.starts_with("LapackComputationalFailure") {
        return None;
    }
    let rest = &text[text.find("return_code:")? + "return_code:".len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().ok().filter(|&k| k > 0)
}

fn backend_err(op: &'static str, e: &NlError) -> LinalgError {
    LinalgError::Backend {
        op,
        detail: e.to_string(),
    }
}

/// Errors of iterative factorizations: a computational failure means no convergence.
fn iterative_err(op: &'static str, e: &NlError) -> LinalgError {
    match failure_code(e) {
        Some(_) => LinalgError::NoConvergence { op },
        None => backend_err(op, e),
    }
}

/// Thin QR by geqrf + orgqr on an F-order copy (signs are normalized in `mod.rs`).
pub(super) fn qr_thin(a: ArrayView2<'_, f64>) -> Result<(Array2<f64>, Array2<f64>), LinalgError> {
    let (m, n) = a.dim();
    let k = m.min(n);
    if k == 0 {
        return Ok((Array2::zeros((m, 0)), Array2::zeros((0, n))));
    }
    check_finite("QR", &a)?;
    init_threads();
    let (q, r) = f_order(&a).qr_into().map_err(|e| backend_err("QR", &e))?;
    Ok((into_c_order(q), into_c_order(r)))
}

/// Thin SVD by gesdd (divide and conquer) on the tall orientation.
pub(super) fn svd_thin(a: ArrayView2<'_, f64>) -> Result<Svd, LinalgError> {
    let (m, n) = a.dim();
    let k = m.min(n);
    if k == 0 {
        return Ok(Svd {
            u: Array2::zeros((m, 0)),
            s: Array1::zeros(0),
            vt: Array2::zeros((0, n)),
        });
    }
    check_finite("SVD", &a)?;
    init_threads();
    // gesdd is fastest on the tall orientation: F-order for m >= n; for a wide matrix a C-order
    // copy, which LAPACK sees as the tall F-order transpose (lax swaps U and V^T back).
    let work = if m >= n { f_order(&a) } else { c_order(&a) };
    let (u, s, vt) = work
        .svddc_into(JobSvd::Some)
        .map_err(|e| iterative_err("SVD", &e))?;
    let (Some(u), Some(vt)) = (u, vt) else {
        return Err(LinalgError::Backend {
            op: "SVD",
            detail: "gesdd returned no singular vectors".into(),
        });
    };
    if s.len() != k || u.dim() != (m, k) || vt.dim() != (k, n) {
        return Err(LinalgError::Backend {
            op: "SVD",
            detail: format!(
                "gesdd returned U {:?}, s {}, V^T {:?} for a {m}x{n} matrix",
                u.dim(),
                s.len(),
                vt.dim()
            ),
        });
    }
    if s.iter().any(|x| !x.is_finite()) {
        return Err(LinalgError::NoConvergence { op: "SVD" });
    }
    Ok(Svd {
        u: into_c_order(u),
        s,
        vt: into_c_order(vt),
    })
}

/// Symmetric eigendecomposition (dsyev via `ndarray-linalg`), eigenvalues ascending.
pub(super) fn eigh(a: ArrayView2<'_, f64>) -> Result<(Array1<f64>, Array2<f64>), LinalgError> {
    const OP: &str = "eigendecomposition";
    let n = square(OP, &a)?;
    if n == 0 {
        return Ok((Array1::zeros(0), Array2::zeros((0, 0))));
    }
    // Only the lower triangle is read: check that one for NaN, the upper may hold anything.
    for j in 0..n {
        if a.slice(s![j.., j]).iter().any(|x| !x.is_finite()) {
            return Err(LinalgError::NoConvergence { op: OP });
        }
    }
    init_threads();
    // F-order so that LAPACK's "lower" is this matrix's lower triangle.
    let (lam, w) = f_order(&a)
        .eigh_into(UPLO::Lower)
        .map_err(|e| iterative_err(OP, &e))?;
    if lam.iter().any(|x| !x.is_finite()) {
        return Err(LinalgError::NoConvergence { op: OP });
    }
    Ok((lam, into_c_order(w)))
}

/// Lower Cholesky factor by potrf; a failing pivot maps to `NotPositiveDefinite`. OpenBLAS runs
/// on one thread (see `init_threads`), so `_par` is not used.
pub(super) fn cholesky_lower(
    a: ArrayView2<'_, f64>,
    _par: Par,
) -> Result<Array2<f64>, LinalgError> {
    if square("Cholesky", &a)? == 0 {
        return Ok(Array2::zeros((0, 0)));
    }
    check_finite("Cholesky", &a)?;
    init_threads();
    let l = f_order(&a).cholesky_into(UPLO::Lower).map_err(|e| {
        match failure_code(&e) {
            // potrf's info is the 1-based order of the first non-positive leading minor.
            Some(k) => LinalgError::NotPositiveDefinite {
                pivot: usize::try_from(k - 1).unwrap_or(0),
            },
            None => backend_err("Cholesky", &e),
        }
    })?;
    Ok(into_c_order(l))
}

/// Least squares by gelsd (SVD-based, minimum-norm for rank-deficient `A`).
pub(super) fn lstsq(
    a: ArrayView2<'_, f64>,
    b: ArrayView2<'_, f64>,
) -> Result<Array2<f64>, LinalgError> {
    const OP: &str = "least squares";
    let (m, n) = a.dim();
    let p = b.ncols();
    if b.nrows() != m {
        return Err(LinalgError::Shape {
            op: OP,
            detail: format!("A has {m} rows, B has {}", b.nrows()),
        });
    }
    if m == 0 || n == 0 || p == 0 {
        return Ok(Array2::zeros((n, p)));
    }
    check_finite(OP, &a)?;
    check_finite(OP, &b)?;
    init_threads();
    // gelsd (SVD-based, rcond = machine precision): a rank-deficient A gets the minimum-norm
    // solution instead of an error.
    let res = f_order(&a)
        .least_squares_into(f_order(&b))
        .map_err(|e| iterative_err(OP, &e))?;
    let x = res.solution;
    if x.dim() != (n, p) {
        return Err(LinalgError::Backend {
            op: OP,
            detail: format!("gelsd returned a {:?} solution, expected {n}x{p}", x.dim()),
        });
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(LinalgError::NoConvergence { op: OP });
    }
    Ok(into_c_order(x))
}

/// Full QR of an `m x n` matrix, `A = Q [R; 0]`, with `Q` (`m x m`) stored as a dense
/// orthogonal matrix `[Q_thin | complement]`: `Q_thin` from LAPACK's Householder QR (geqrf +
/// orgqr), the complement from a full SVD of `Q_thin` (gesdd). Building it costs `O(m^2 n)`;
/// applying `Q` or `Q^T` to `p` vectors is a GEMM of cost `O(m^2 p)` (the faer backend keeps the
/// reflectors and needs `O(m n p)`). The trailing `m - n` columns of `Q` span the orthogonal
/// complement of `range(A)` (for full column rank), which is how tangent blocks are
/// parametrized (MATH.md §3.2).
#[derive(Debug, Clone)]
pub struct Householder {
    /// `Q = [Q_thin | complement]`, `m x m`, C-order.
    q: Array2<f64>,
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
        check_finite("Householder QR", &a)?;
        if n == 0 {
            // No reflectors: Q is the identity (also covers m == 0, which LAPACK must not see).
            return Ok(Householder {
                q: Array2::eye(m),
                m,
                n,
            });
        }
        init_threads();
        const OP: &str = "Householder QR";
        // Thin QR (geqrf + orgqr on an F-order copy): Q_thin spans range(A) and Q_thin^T A = R.
        let (q_thin, _r) = f_order(&a).qr_into().map_err(|e| backend_err(OP, &e))?;
        if q_thin.dim() != (m, n) {
            return Err(LinalgError::Backend {
                op: OP,
                detail: format!("orgqr returned a {:?} Q, expected {m}x{n}", q_thin.dim()),
            });
        }
        let mut q = Array2::zeros((m, m));
        q.slice_mut(s![.., ..n]).assign(&q_thin);
        if m > n {
            // The complement of range(Q_thin): the trailing m - n left singular vectors of a
            // full SVD of Q_thin (gesdd, jobz = 'A'). gesdd forms its m x m U from n reflectors
            // (orgqr with K = n), so this costs O(m^2 n), not the O(m^3) of factoring a padded
            // square matrix.
            let (u, _s, _vt) = f_order(&q_thin.view())
                .svddc_into(JobSvd::All)
                .map_err(|e| iterative_err(OP, &e))?;
            let Some(u) = u.filter(|u| u.dim() == (m, m)) else {
                return Err(LinalgError::Backend {
                    op: OP,
                    detail: "gesdd did not return a full m x m U".into(),
                });
            };
            q.slice_mut(s![.., n..]).assign(&u.slice(s![.., n..]));
        }
        Ok(Householder { q, m, n })
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
    pub fn apply_qt(&self, b: ArrayViewMut2<'_, f64>) {
        self.apply(true, b);
    }

    /// `B <- Q B` for `B` with `m` rows.
    ///
    /// # Panics
    /// If `B` does not have `m` rows.
    pub fn apply_q(&self, b: ArrayViewMut2<'_, f64>) {
        self.apply(false, b);
    }

    fn apply(&self, transpose: bool, mut b: ArrayViewMut2<'_, f64>) {
        assert_eq!(
            b.nrows(),
            self.m,
            "Householder: B has {} rows, Q is {}x{}",
            b.nrows(),
            self.m,
            self.m
        );
        if self.n == 0 || b.ncols() == 0 {
            return; // Q is the identity, or nothing to transform
        }
        let q = if transpose { self.q.t() } else { self.q.view() };
        let mut out = Array2::zeros(b.dim());
        gemm(1.0, q, b.view(), 0.0, out.view_mut(), Par::Seq)
            .expect("Householder: shapes were checked above");
        b.assign(&out);
    }

    /// The trailing `m - n` columns of `Q` as a dense matrix (tests, small sizes).
    pub fn complement(&self) -> Array2<f64> {
        self.q.slice(s![.., self.n..]).to_owned()
    }
}
