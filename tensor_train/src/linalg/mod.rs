//! Dense linear algebra behind one small interface, on `ndarray` types.
//!
//! Every factorization the TT code needs goes through this module: thin QR (with the full
//! Householder factor for orthogonal complements), thin SVD with truncation helpers,
//! symmetric eigendecomposition, Cholesky with an optional diagonal shift, least squares,
//! and GEMM into a preallocated output.
//!
//! Backends, chosen at compile time:
//! - default: [`faer`] (pure Rust, builds anywhere);
//! - feature `lapack`: `ndarray-linalg` on the system OpenBLAS/LAPACK for the factorizations
//!   (GEMM stays on faer, which is the fastest product on the measured machines).
//!
//! Conventions kept by both backends (see `shared/docs/LINALG.md`):
//! - inputs are views of any layout, converted to faer without copying; outputs are owned
//!   C-order arrays;
//! - signs are normalized so that results do not depend on the backend: `diag(R) >= 0` in
//!   [`qr_thin`], and every left singular vector in [`svd_thin`] has its largest-magnitude entry
//!   positive;
//! - zero-size inputs (a rank 0 after truncation, an empty tangent block) return correctly
//!   shaped empty factors instead of reaching LAPACK;
//! - the factorizations run sequentially: the faer backend calls faer's low-level APIs with an
//!   explicit `Par::Seq` (faer's high-level `qr()`/`thin_svd()`/`llt()` would read faer's global
//!   parallelism, i.e. all rayon threads, even for the 32x32 matrices of a TT sweep), and the
//!   LAPACK backend pins OpenBLAS to one thread. Parallelism is applied above them, over
//!   samples or cores, where the work is large. [`gemm`] and [`Cholesky::new_with`] take their
//!   parallelism as a parameter.

mod convert;
#[cfg(not(feature = "lapack"))]
mod faer_backend;
#[cfg(feature = "lapack")]
mod lapack_backend;
mod qr_lstsq;
mod small_eigh;

#[cfg(not(feature = "lapack"))]
use faer_backend as backend;
#[cfg(feature = "lapack")]
use lapack_backend as backend;

pub use backend::Householder;
pub use convert::{faer_mut, faer_ref};
pub use qr_lstsq::QrLeastSquares;

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis};

/// Name of the backend compiled in (`"faer"` or `"lapack"`), for logs and benchmarks.
pub const BACKEND: &str = if cfg!(feature = "lapack") {
    "lapack"
} else {
    "faer"
};

/// Errors of the dense kernels. Both backends map their failures onto these.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinalgError {
    /// A Cholesky factorization met a non-positive pivot: the matrix (plus shift) is not
    /// positive definite. Increase the shift or use a pseudo-inverse solver.
    #[error("matrix is not positive definite (non-positive pivot at index {pivot}); increase the diagonal shift or use an eigen/QR solver")]
    NotPositiveDefinite {
        /// Index of the failing pivot.
        pivot: usize,
    },
    /// An iterative factorization (SVD, eigendecomposition) did not converge, which in practice
    /// means the input held NaN or infinite values.
    #[error("{op} did not converge (the input probably holds NaN or infinite values)")]
    NoConvergence {
        /// The operation that failed.
        op: &'static str,
    },
    /// Shapes do not fit the operation.
    #[error("shape mismatch in {op}: {detail}")]
    Shape {
        /// The operation that was called.
        op: &'static str,
        /// What did not fit.
        detail: String,
    },
    /// The backend reported another failure.
    #[error("{op} failed in the LAPACK backend: {detail}")]
    Backend {
        /// The operation that failed.
        op: &'static str,
        /// The backend's message.
        detail: String,
    },
}

/// Parallelism of a kernel: sequential, or on the global rayon pool with this many threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Par {
    /// One thread. The default: small products slow down when split (LINALG.md §3).
    #[default]
    Seq,
    /// Run on the *current* rayon pool (the global one, or the pool a caller `install`ed, as
    /// `ttfit::fit::fit` does for `--threads`). The sample kernels split into fixed chunks
    /// whatever the pool size; for [`gemm`], `n > 0` is the number of pieces faer splits the
    /// product into (`0`: the pool size). Results of the sample reductions do not depend on it
    /// (`crate::reduce`).
    Rayon(usize),
}

impl Par {
    pub(crate) fn to_faer(self) -> faer::Par {
        match self {
            Par::Seq => faer::Par::Seq,
            Par::Rayon(n) => faer::Par::rayon(n),
        }
    }
}

/// `C <- alpha * A B + beta * C` (GEMM) into a preallocated output of any layout.
///
/// `beta == 0` overwrites `C` (its old contents, NaN included, are ignored).
pub fn gemm(
    alpha: f64,
    a: ArrayView2<'_, f64>,
    b: ArrayView2<'_, f64>,
    beta: f64,
    mut c: ArrayViewMut2<'_, f64>,
    par: Par,
) -> Result<(), LinalgError> {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    if k != k2 || c.dim() != (m, n) {
        return Err(LinalgError::Shape {
            op: "gemm",
            detail: format!(
                "A is {m}x{k}, B is {k2}x{n}, C is {}x{}",
                c.nrows(),
                c.ncols()
            ),
        });
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if beta == 0.0 {
            c.fill(0.0);
        } else {
            c.mapv_inplace(|x| beta * x);
        }
        return Ok(());
    }
    let accum = if beta == 0.0 {
        faer::Accum::Replace
    } else {
        if beta != 1.0 {
            c.mapv_inplace(|x| beta * x);
        }
        faer::Accum::Add
    };
    let fa = faer_ref(&a);
    let fb = faer_ref(&b);
    let fc = faer_mut(&mut c);
    faer::linalg::matmul::matmul(fc, accum, fa, fb, alpha, par.to_faer());
    Ok(())
}

/// `A B` as a new C-order array (sequential GEMM).
pub fn matmul(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Result<Array2<f64>, LinalgError> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    gemm(1.0, a, b, 0.0, c.view_mut(), Par::Seq)?;
    Ok(c)
}

/// `A^T A` (the Gram matrix, SYRK-shaped) as a new C-order array.
pub fn gram(a: ArrayView2<'_, f64>, par: Par) -> Result<Array2<f64>, LinalgError> {
    let mut c = Array2::zeros((a.ncols(), a.ncols()));
    gemm(1.0, a.t(), a, 0.0, c.view_mut(), par)?;
    Ok(c)
}

/// Symmetric rank-k update of the lower triangle: `C <- alpha A^T A + beta C` on the entries
/// `C[i, j]`, `j <= i` (diagonal included), for an `m x n` matrix `A` and an `n x n` `C` of any
/// layout. The strict upper triangle of `C` is neither read nor written. Flops: `m n (n + 1)`,
/// half of the GEMM `A^T A` (faer's triangular `matmul` with a `TriangularLower` destination).
///
/// `beta == 0` overwrites the lower triangle (its old contents, NaN included, are ignored).
pub fn syrk_lower(
    alpha: f64,
    a: ArrayView2<'_, f64>,
    beta: f64,
    mut c: ArrayViewMut2<'_, f64>,
    par: Par,
) -> Result<(), LinalgError> {
    let (m, n) = a.dim();
    if c.dim() != (n, n) {
        return Err(LinalgError::Shape {
            op: "syrk_lower",
            detail: format!("A is {m}x{n}, C is {}x{}", c.nrows(), c.ncols()),
        });
    }
    if n == 0 {
        return Ok(());
    }
    let scale_lower = |c: &mut ArrayViewMut2<'_, f64>, f: &dyn Fn(f64) -> f64| {
        for i in 0..n {
            for j in 0..=i {
                c[[i, j]] = f(c[[i, j]]);
            }
        }
    };
    if m == 0 {
        if beta == 0.0 {
            scale_lower(&mut c, &|_| 0.0);
        } else if beta != 1.0 {
            scale_lower(&mut c, &|x| beta * x);
        }
        return Ok(());
    }
    let accum = if beta == 0.0 {
        faer::Accum::Replace
    } else {
        if beta != 1.0 {
            scale_lower(&mut c, &|x| beta * x);
        }
        faer::Accum::Add
    };
    let at = a.t();
    let fa = faer_ref(&at);
    let fb = faer_ref(&a);
    let fc = faer_mut(&mut c);
    use faer::linalg::matmul::triangular::{matmul, BlockStructure};
    matmul(
        fc,
        BlockStructure::TriangularLower,
        accum,
        fa,
        BlockStructure::Rectangular,
        fb,
        BlockStructure::Rectangular,
        alpha,
        par.to_faer(),
    );
    Ok(())
}

/// Mirror the lower triangle of a square matrix into its upper triangle: `C[j, i] = C[i, j]`
/// for `j < i`, so that a [`syrk_lower`] result becomes the full symmetric matrix.
pub fn mirror_lower(mut c: ArrayViewMut2<'_, f64>) {
    let n = c.nrows().min(c.ncols());
    for i in 0..n {
        for j in 0..i {
            c[[j, i]] = c[[i, j]];
        }
    }
}

/// Thin QR `A = Q R` of an `m x n` matrix: `Q` is `m x k` with orthonormal columns, `R` is
/// `k x n` upper trapezoidal, `k = min(m, n)`, and `diag(R) >= 0`.
///
/// Tall well-conditioned matrices (`m >= 4 n`, the unfoldings of TT sweeps) go through
/// CholeskyQR2 ([`qr_tall_cholesky`]): two Gram products, two `n x n` Cholesky factorizations
/// and two triangular solves, all at GEMM-class speed, where an unblocked Householder QR of a
/// `320 x 32` matrix runs at a tenth of it. Everything else, and every matrix the Cholesky
/// test finds ill-conditioned, goes through Householder QR.
///
/// NaN or infinite entries give [`LinalgError::NoConvergence`] (neither backend detects them
/// on its own: they would propagate silently into `Q` and `R`).
pub fn qr_thin(a: ArrayView2<'_, f64>) -> Result<(Array2<f64>, Array2<f64>), LinalgError> {
    if a.iter().any(|x| !x.is_finite()) {
        return Err(LinalgError::NoConvergence { op: "QR" });
    }
    if let Some(qr) = qr_tall_cholesky(a)? {
        return Ok(qr);
    }
    let (mut q, mut r) = backend::qr_thin(a)?;
    for i in 0..r.nrows() {
        if r[[i, i]] < 0.0 {
            r.row_mut(i).mapv_inplace(|x| -x);
            q.column_mut(i).mapv_inplace(|x| -x);
        }
    }
    Ok((q, r))
}

/// `(Q, R)` of a thin QR.
pub type QrFactors = (Array2<f64>, Array2<f64>);

/// Smallest accepted `min_i L_ii^2 / max_i G_ii` of the first CholeskyQR pass, i.e. roughly
/// `kappa(A) <= 1e5`. CholeskyQR2 is then orthogonal to `O(u)` (Yamamoto et al. 2015: two
/// passes suffice for `kappa(A) <~ u^{-1/2} = 6.7e7`); the margin of 600 keeps clear of that bound.
const CHOLQR_MIN_PIVOT: f64 = 1e-10;

/// CholeskyQR2 of a tall matrix (`m >= 4 n`, `n >= 1`): `G = A^T A = L L^T`, `Q_1 = A L^{-T}`,
/// then once more on `Q_1`, `R = L_2^T L_1^T`. `None` when `A` is not tall enough or the first
/// pass finds it too ill-conditioned (see `CHOLQR_MIN_PIVOT`); the caller then uses
/// Householder QR. `diag(R) > 0` by construction.
pub fn qr_tall_cholesky(a: ArrayView2<'_, f64>) -> Result<Option<QrFactors>, LinalgError> {
    let (m, n) = a.dim();
    if n == 0 || m < 4 * n {
        return Ok(None);
    }
    let mut q = a.as_standard_layout().into_owned();
    let mut r = Array2::<f64>::eye(n);
    for pass in 0..2 {
        let g = gram(q.view(), Par::Seq)?;
        let l = match backend::cholesky_lower(g.view(), Par::Seq) {
            Ok(l) => l,
            Err(LinalgError::NotPositiveDefinite { .. }) if pass == 0 => return Ok(None),
            Err(e) => return Err(e),
        };
        if pass == 0 {
            let ch = Cholesky { l: l.clone() };
            // NaN ratios (non-finite Gram) also fall back
            if ch.pivot_ratio().is_nan() || ch.pivot_ratio() <= CHOLQR_MIN_PIVOT {
                return Ok(None);
            }
        }
        // Q <- Q L^{-T}, i.e. Q^T <- L^{-1} Q^T (the transposed view of C-order Q is
        // column-major, faer's native layout)
        {
            let lv = l.view();
            let mut qt = q.view_mut().reversed_axes();
            faer::linalg::triangular_solve::solve_lower_triangular_in_place(
                faer_ref(&lv),
                faer_mut(&mut qt),
                faer::Par::Seq,
            );
        }
        // R <- L^T R
        let mut nr = Array2::zeros((n, n));
        gemm(1.0, l.t(), r.view(), 0.0, nr.view_mut(), Par::Seq)?;
        r = nr;
    }
    if q.iter().any(|x| !x.is_finite()) {
        return Ok(None);
    }
    Ok(Some((q, r)))
}

/// A thin SVD `A = U diag(s) V^T`: `U` is `m x k`, `s` has `k = min(m, n)` non-increasing
/// non-negative entries, `vt` is `k x n`.
#[derive(Debug, Clone)]
pub struct Svd {
    /// Left singular vectors (columns), `m x k`.
    pub u: Array2<f64>,
    /// Singular values, non-increasing.
    pub s: Array1<f64>,
    /// Right singular vectors (rows), `k x n`.
    pub vt: Array2<f64>,
}

impl Svd {
    /// Keep the leading `k` triplets.
    pub fn truncate(self, k: usize) -> Svd {
        let k = k.min(self.s.len());
        Svd {
            u: self.u.slice(ndarray::s![.., ..k]).to_owned(),
            s: self.s.slice(ndarray::s![..k]).to_owned(),
            vt: self.vt.slice(ndarray::s![..k, ..]).to_owned(),
        }
    }
}

/// Thin SVD with the sign convention of this module (largest-magnitude entry of each left
/// singular vector positive; the right vector flips with it).
pub fn svd_thin(a: ArrayView2<'_, f64>) -> Result<Svd, LinalgError> {
    let (m, n) = a.dim();
    if m == 0 || n == 0 {
        let k = 0;
        return Ok(Svd {
            u: Array2::zeros((m, k)),
            s: Array1::zeros(k),
            vt: Array2::zeros((k, n)),
        });
    }
    let mut svd = if m >= 4 * n {
        // tall: A = Q R (CholeskyQR2 when well conditioned, Householder otherwise: the
        // R-SVD, backward stable either way), R = U_R S V^T, U = Q U_R
        let (q, r) = match qr_tall_cholesky(a)? {
            Some(qr) => qr,
            None => backend::qr_thin(a)?,
        };
        let small = backend::svd_thin(r.view())?;
        let mut u = Array2::zeros((m, n));
        gemm(1.0, q.view(), small.u.view(), 0.0, u.view_mut(), Par::Seq)?;
        Svd {
            u,
            s: small.s,
            vt: small.vt,
        }
    } else {
        backend::svd_thin(a)?
    };
    for j in 0..svd.s.len() {
        let col = svd.u.column(j);
        let mut best = 0.0f64;
        let mut sign = 1.0;
        for &x in col.iter() {
            if x.abs() > best {
                best = x.abs();
                sign = x.signum();
            }
        }
        if sign < 0.0 {
            svd.u.column_mut(j).mapv_inplace(|x| -x);
            svd.vt.row_mut(j).mapv_inplace(|x| -x);
        }
    }
    Ok(svd)
}

/// Largest accepted `u ||A||_F^2 / (lambda_r - lambda_{r+1})` in [`truncate_by_gram`]: the
/// bound on the sine of the angle between the computed and the exact dominant right singular
/// subspace, up to a modest constant (see there). `1e-12` keeps that angle, and hence the
/// difference from the SVD truncation relative to `||A||`, two orders below the `1e-10` the
/// rounding tests ask for.
pub const GRAM_GAP_TOL: f64 = 1e-12;

/// Largest width `n` for which [`truncate_by_gram`] is tried (the `n x n` eigenproblem is
/// solved by the small dense kernel of `linalg::small_eigh`).
pub const GRAM_MAX_WIDTH: usize = 64;

/// A rank-`r` truncation `A_r = U C` with orthonormal `U` (`m x r`) and `C = U^T A` (`r x n`),
/// and the estimates of all `min(m, n)` singular values of `A` (non-increasing).
#[derive(Debug, Clone)]
pub struct Truncated {
    /// Orthonormal basis of the kept left subspace, `m x r`.
    pub u: Array2<f64>,
    /// `U^T A`, `r x n` (`diag(s_r) V_r^T` up to an `r x r` rotation).
    pub c: Array2<f64>,
    /// Singular value estimates `sqrt(max(lambda_i, 0))`, non-increasing.
    pub s: Array1<f64>,
}

/// The best rank-`r` approximation `A V_r V_r^T` of a tall `m x n` matrix (`m >= n`,
/// `1 <= r < n <= GRAM_MAX_WIDTH`) from the eigendecomposition of its Gram matrix
/// `G = A^T A = V diag(lambda) V^T` instead of an SVD, or `None` when that is not accurate
/// enough (the caller then uses [`svd_thin`]).
///
/// Steps: `G` (one GEMM), its eigenvectors (`linalg::small_eigh`), `W = A V_r S_r^{-1}` (nearly
/// orthonormal), one CholeskyQR pass `W = U L^T`, `C = L^T S_r V_r^T`; so `U C = A V_r V_r^T`,
/// `U` orthonormal to `O(u)`.
///
/// Accuracy. The computed `G` and the backward error of the eigensolver perturb `A^T A` by `E`
/// with `||E|| <= c_1 u ||A||_F^2` (`c_1` a low-degree polynomial in `m, n`; `sqrt(m)` typical).
/// By Davis–Kahan the computed `V_r` is at angle `sin(theta) <= ||E|| / (gap - ||E||)` from the
/// exact dominant subspace, `gap = lambda_r - lambda_{r+1}`, and
/// `||U C - A_r|| <= 2 sin(theta) ||A||`. The path is taken only when
/// `u ||A||_F^2 / gap <= GRAM_GAP_TOL`; it implies `sigma_r^2 >= gap >= sigma_1^2 / 4.5e3`, and
/// `W^T W = I + F` with `||F|| <= ~1e-12`, so one CholeskyQR pass leaves `U` orthonormal to
/// `O(u)` (Yamamoto et al. 2015: the loss of orthogonality is `O(u kappa(W)^2)`). An SVD is
/// accurate to `u sigma_1 / (sigma_r - sigma_{r+1})` instead (the square root of this
/// ratio): the Gram path trades that margin, which a wide gap makes irrelevant, for speed.
#[allow(clippy::needless_range_loop)] // triangular index loops
pub fn truncate_by_gram(
    a: ArrayView2<'_, f64>,
    r: usize,
) -> Result<Option<Truncated>, LinalgError> {
    let (m, n) = a.dim();
    if r == 0 || r >= n || n > GRAM_MAX_WIDTH || m < n {
        return Ok(None);
    }
    if a.iter().any(|x| !x.is_finite()) {
        return Err(LinalgError::NoConvergence { op: "SVD" });
    }
    let g = gram(a, Par::Seq)?;
    let trace: f64 = g.diag().sum();
    let (lam, wt) = small_eigh::eigh_descending(g.as_slice().expect("C-order"), n)?;
    let gap = lam[r - 1] - lam[r];
    if gap.is_nan() || gap <= 0.0 || f64::EPSILON * trace > GRAM_GAP_TOL * gap {
        return Ok(None);
    }
    let s = Array1::from_iter(lam.iter().map(|&l| l.max(0.0).sqrt()));
    // V_r^T scaled by 1 / sigma_i: W = A V_r S_r^{-1} has W^T W = I + F, |F| <= ~u ||A||_F^2 / gap
    let mut vts = Array2::from_shape_vec((r, n), wt[..r * n].to_vec()).expect("row-major");
    for (mut row, &si) in vts.rows_mut().into_iter().zip(s.iter()) {
        row.mapv_inplace(|x| x / si);
    }
    let mut u = Array2::zeros((m, r));
    gemm(1.0, a, vts.t(), 0.0, u.view_mut(), Par::Seq)?;
    // one CholeskyQR pass: W = Q L^T with L L^T = W^T W; orthogonality O(u kappa(W)^2) = O(u)
    let wtw = gram(u.view(), Par::Seq)?;
    let Some(l) = small_cholesky(&wtw) else {
        return Ok(None);
    };
    // U <- W L^{-T}, i.e. U^T = L^{-1} W^T by forward substitution on the rows of W^T:
    // row i of U^T is (w_i - sum_{k < i} l_ik u_k) / l_ii, whole rows at a time (contiguous,
    // so the m-long updates vectorize; no bounds checks in the inner loop)
    let mut ut = u.t().as_standard_layout().into_owned();
    let m_len = ut.ncols();
    let uts = ut.as_slice_mut().expect("C-order");
    for i in 0..r {
        let (done, rest) = uts.split_at_mut(i * m_len);
        let row = &mut rest[..m_len];
        for k in 0..i {
            let lik = l[[i, k]];
            for (x, &y) in row.iter_mut().zip(&done[k * m_len..(k + 1) * m_len]) {
                *x -= lik * y;
            }
        }
        let lii = l[[i, i]];
        for x in row.iter_mut() {
            *x /= lii;
        }
    }
    u.assign(&ut.t());
    // C = L^T S_r V_r^T
    let mut c = Array2::zeros((r, n));
    for i in 0..r {
        for k in i..r {
            let lk = l[[k, i]] * s[k];
            for j in 0..n {
                c[[i, j]] += lk * wt[k * n + j];
            }
        }
    }
    Ok(Some(Truncated { u, c, s }))
}

/// Lower Cholesky factor of a small, well-conditioned SPD matrix (the near-identity `W^T W` of
/// [`truncate_by_gram`]); `None` when a pivot is below `1/2` (not near-identity: the caller falls
/// back to the SVD).
#[allow(clippy::needless_range_loop)] // index form of the textbook recurrence
fn small_cholesky(a: &Array2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for j in 0..n {
        let mut d = a[[j, j]];
        for k in 0..j {
            d -= l[[j, k]] * l[[j, k]];
        }
        if d.is_nan() || d < 0.5 {
            return None;
        }
        let d = d.sqrt();
        l[[j, j]] = d;
        for i in j + 1..n {
            let mut v = a[[i, j]];
            for k in 0..j {
                v -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = v / d;
        }
    }
    Some(l)
}

/// The rank kept when truncating singular values `s` (non-increasing): the smallest `k` with
/// `sqrt(sum_{i >= k} s_i^2) <= abs_tol`, then capped at `max_rank`. At least 1 when `s` is
/// non-empty, so a truncated tensor never loses a bond entirely.
pub fn truncation_rank(s: &[f64], max_rank: Option<usize>, abs_tol: f64) -> usize {
    if s.is_empty() {
        return 0;
    }
    let tol2 = abs_tol.max(0.0).powi(2);
    // tail[k] = sum_{i >= k} s_i^2, accumulated from the small end for accuracy
    let mut k = s.len();
    let mut tail = 0.0;
    while k > 0 {
        let next = tail + s[k - 1] * s[k - 1];
        if next > tol2 {
            break;
        }
        tail = next;
        k -= 1;
    }
    let k = k.max(1);
    match max_rank {
        Some(r) => k.min(r.max(1)),
        None => k,
    }
}

/// Symmetric eigendecomposition `A = W diag(lambda) W^T`, eigenvalues ascending. Only the lower
/// triangle of `A` is read.
pub fn eigh(a: ArrayView2<'_, f64>) -> Result<(Array1<f64>, Array2<f64>), LinalgError> {
    square("eigh", &a)?;
    if a.nrows() == 0 {
        return Ok((Array1::zeros(0), Array2::zeros((0, 0))));
    }
    backend::eigh(a)
}

/// Cholesky factor `A + shift I = L L^T` of a symmetric positive definite matrix, with solves.
#[derive(Debug, Clone)]
pub struct Cholesky {
    l: Array2<f64>,
}

impl Cholesky {
    /// Factor `A + shift I` (only the lower triangle of `A` is read), sequentially.
    pub fn new(a: ArrayView2<'_, f64>, shift: f64) -> Result<Self, LinalgError> {
        Self::new_with(a, shift, Par::Seq)
    }

    /// Factor `A + shift I` with explicit parallelism (large Gram matrices; the result is the
    /// same for any `par` up to the summation order inside faer's blocked kernel).
    pub fn new_with(a: ArrayView2<'_, f64>, shift: f64, par: Par) -> Result<Self, LinalgError> {
        square("cholesky", &a)?;
        let n = a.nrows();
        let mut m = a.to_owned();
        if shift != 0.0 {
            m.diag_mut().mapv_inplace(|x| x + shift);
        }
        if n == 0 {
            return Ok(Cholesky { l: m });
        }
        let l = backend::cholesky_lower(m.view(), par)?;
        Ok(Cholesky { l })
    }

    /// `min_i L_ii^2 / max_i A_ii` of the factored (shifted) matrix. The pivots `L_ii^2` are the
    /// diagonal of the successive Schur complements; in floating point a singular positive
    /// semi-definite matrix still factors, with some pivot of the size of the rounding error
    /// `~ n u max_i A_ii` (Higham, *Accuracy and Stability*, Thm 10.3). A ratio at or below
    /// [`Cholesky::singular_ratio`] therefore means "numerically singular": the solve is then
    /// dominated by rounding and is not the minimum-norm least-squares solution.
    pub fn pivot_ratio(&self) -> f64 {
        let n = self.l.nrows();
        if n == 0 {
            return 1.0;
        }
        let dmax = (0..n)
            .map(|i| self.l.row(i).dot(&self.l.row(i)))
            .fold(0.0f64, f64::max);
        let pmin = self
            .l
            .diag()
            .iter()
            .map(|x| x * x)
            .fold(f64::INFINITY, f64::min);
        if dmax > 0.0 {
            pmin / dmax
        } else {
            0.0
        }
    }

    /// The threshold `n u` (`u` the unit round-off) below which [`Cholesky::pivot_ratio`]
    /// reports a numerically singular matrix of order `n`.
    pub fn singular_ratio(n: usize) -> f64 {
        n.max(1) as f64 * f64::EPSILON
    }

    /// The lower-triangular factor `L`.
    pub fn factor(&self) -> &Array2<f64> {
        &self.l
    }

    /// Solve `(A + shift I) X = B` in place (`B` is `n x k`).
    pub fn solve_in_place(&self, mut b: ArrayViewMut2<'_, f64>) -> Result<(), LinalgError> {
        if b.nrows() != self.l.nrows() {
            return Err(LinalgError::Shape {
                op: "cholesky solve",
                detail: format!(
                    "factor is {0}x{0}, rhs has {1} rows",
                    self.l.nrows(),
                    b.nrows()
                ),
            });
        }
        if b.is_empty() {
            return Ok(());
        }
        use faer::reborrow::ReborrowMut;
        let l = faer_ref(&self.l.view());
        let mut fb = faer_mut(&mut b);
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(
            l,
            fb.rb_mut(),
            faer::Par::Seq,
        );
        faer::linalg::triangular_solve::solve_upper_triangular_in_place(
            l.transpose(),
            fb,
            faer::Par::Seq,
        );
        Ok(())
    }

    /// Solve `(A + shift I) x = b` for one right-hand side.
    pub fn solve_vec(&self, b: &Array1<f64>) -> Result<Array1<f64>, LinalgError> {
        let mut x = b.clone().insert_axis(Axis(1));
        self.solve_in_place(x.view_mut())?;
        Ok(x.index_axis_move(Axis(1), 0))
    }
}

/// Least squares `argmin_X ||A X - B||_F` for a tall `A` (`m >= n`) of full column rank, by
/// Householder QR with faer, or by LAPACK's SVD-based gelsd with feature `lapack` (either way
/// the condition number of `A` enters, not its square). For a rank-deficient `A` the result
/// depends on the backend: faer may return an error, gelsd the minimum-norm solution.
pub fn lstsq(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Result<Array2<f64>, LinalgError> {
    let (m, n) = a.dim();
    if b.nrows() != m {
        return Err(LinalgError::Shape {
            op: "lstsq",
            detail: format!("A has {m} rows, B has {}", b.nrows()),
        });
    }
    if m < n {
        return Err(LinalgError::Shape {
            op: "lstsq",
            detail: format!("A is {m}x{n}: needs at least as many rows as columns"),
        });
    }
    if n == 0 || b.ncols() == 0 {
        return Ok(Array2::zeros((n, b.ncols())));
    }
    backend::lstsq(a, b)
}

fn square(op: &'static str, a: &ArrayView2<'_, f64>) -> Result<(), LinalgError> {
    if a.nrows() != a.ncols() {
        return Err(LinalgError::Shape {
            op,
            detail: format!("matrix is {}x{}, must be square", a.nrows(), a.ncols()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
