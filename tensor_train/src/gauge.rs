//! Gauge: left/right orthogonalization and the orthogonality centre (MATH.md §2).
//!
//! `G_k <- G_k M`, `G_{k+1} <- M^{-1} G_{k+1}` leaves the tensor unchanged. We fix this freedom
//! by QR sweeps: core `k` is *left-orthogonal* when `(G_k^L)^T G_k^L = I` and
//! *right-orthogonal* when `G_k^R (G_k^R)^T = I`. In mixed canonical form at `c`, cores before
//! `c` are left-orthogonal and cores after it right-orthogonal, so `||X||_F = ||G_c||_F`.

use crate::error::Result;
use crate::linalg;
use crate::tt::TensorTrain;
use ndarray::{Array2, Array3};

/// Which canonical form the cores of a [`TensorTrain`] are known to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Gauge {
    /// Nothing is known.
    None,
    /// Mixed canonical form: cores `0..center` left-orthogonal, cores `center+1..d`
    /// right-orthogonal. `center = d - 1` is the left-orthogonal form, `center = 0` the
    /// right-orthogonal one.
    Mixed {
        /// The orthogonality centre (0-based core index).
        center: usize,
    },
}

/// Left unfolding `(r_{k-1} n_k) x r_k` of a core (a free reshape of row-major storage).
pub fn left_unfolding(core: &Array3<f64>) -> ndarray::ArrayView2<'_, f64> {
    let (a, n, b) = core.dim();
    core.view()
        .into_shape_with_order((a * n, b))
        .expect("row-major core reshapes to its left unfolding")
}

/// Right unfolding `r_{k-1} x (n_k r_k)` of a core.
pub fn right_unfolding(core: &Array3<f64>) -> ndarray::ArrayView2<'_, f64> {
    let (a, n, b) = core.dim();
    core.view()
        .into_shape_with_order((a, n * b))
        .expect("row-major core reshapes to its right unfolding")
}

/// `G[j] <- R G[j]` for every slice: left-multiply a core by an `r' x r_{k-1}` matrix.
pub fn left_multiply(r: &Array2<f64>, core: &Array3<f64>) -> Result<Array3<f64>> {
    let (_, n, b) = core.dim();
    let prod = linalg::matmul(r.view(), right_unfolding(core))?;
    Ok(prod
        .into_shape_with_order((r.nrows(), n, b))
        .expect("GEMM output is C-order"))
}

/// `G[j] <- G[j] R` for every slice: right-multiply a core by an `r_k x r'` matrix.
pub fn right_multiply(core: &Array3<f64>, r: &Array2<f64>) -> Result<Array3<f64>> {
    let (a, n, _) = core.dim();
    let prod = linalg::matmul(left_unfolding(core), r.view())?;
    Ok(prod
        .into_shape_with_order((a, n, r.ncols()))
        .expect("GEMM output is C-order"))
}

impl TensorTrain {
    /// Move the orthogonality centre to core `k` by QR sweeps, doing only the sweeps the
    /// recorded gauge does not already provide. Cost `O(d n r^3)` at most.
    pub fn orthogonalize_to(&mut self, k: usize) -> Result<()> {
        let d = self.order();
        if k >= d {
            return Err(crate::TtError::Shape(format!(
                "orthogonality centre {k} out of range for order {d}"
            )));
        }
        let (left_done, right_done) = match self.gauge() {
            // cores 0..c are left-orthogonal, c+1..d right-orthogonal
            Gauge::Mixed { center } => (center, center),
            Gauge::None => (0, d - 1),
        };
        // left sweep from the first non-left-orthogonal core up to k
        for i in left_done.min(k)..k {
            self.left_qr_step(i)?;
        }
        // right sweep from the last non-right-orthogonal core down to k
        for i in ((k + 1)..=right_done.max(k)).rev() {
            self.right_qr_step(i)?;
        }
        self.set_gauge(Gauge::Mixed { center: k });
        Ok(())
    }

    /// Left-orthogonal form: cores `0..d-1` left-orthogonal, the norm in the last core.
    pub fn left_orthogonalize(&mut self) -> Result<()> {
        self.orthogonalize_to(self.order() - 1)
    }

    /// Right-orthogonal form: cores `1..d` right-orthogonal, the norm in the first core.
    pub fn right_orthogonalize(&mut self) -> Result<()> {
        self.orthogonalize_to(0)
    }

    /// Copy in left-orthogonal form.
    pub fn to_left_orthogonal(&self) -> Result<TensorTrain> {
        let mut t = self.clone();
        t.left_orthogonalize()?;
        Ok(t)
    }

    /// Copy in right-orthogonal form.
    pub fn to_right_orthogonal(&self) -> Result<TensorTrain> {
        let mut t = self.clone();
        t.right_orthogonalize()?;
        Ok(t)
    }

    /// `G_i^L = Q R`, `G_i <- Q`, `G_{i+1}[j] <- R G_{i+1}[j]`.
    fn left_qr_step(&mut self, i: usize) -> Result<()> {
        let cores = self.cores_mut_raw();
        let (a, n, b) = cores[i].dim();
        let (q, r) = linalg::qr_thin(left_unfolding(&cores[i]))?;
        // thin QR of a (a n) x b matrix has min(a n, b) columns; admissible ranks give b <= a n
        let kq = q.ncols();
        let q = if kq == b {
            q
        } else {
            // rank larger than the unfolding allows: pad Q with zero columns keeps shapes fixed
            let mut qq = Array2::zeros((a * n, b));
            qq.slice_mut(ndarray::s![.., ..kq]).assign(&q);
            qq
        };
        let r = if r.nrows() == b {
            r
        } else {
            let mut rr = Array2::zeros((b, b));
            rr.slice_mut(ndarray::s![..r.nrows(), ..]).assign(&r);
            rr
        };
        cores[i] = q.into_shape_with_order((a, n, b)).expect("C-order");
        cores[i + 1] = left_multiply(&r, &cores[i + 1])?;
        Ok(())
    }

    /// `(G_i^R)^T = Q R`, `G_i^R <- Q^T`, `G_{i-1}[j] <- G_{i-1}[j] R^T`.
    fn right_qr_step(&mut self, i: usize) -> Result<()> {
        let cores = self.cores_mut_raw();
        let (a, n, b) = cores[i].dim();
        let (q, r) = linalg::qr_thin(right_unfolding(&cores[i]).t())?;
        let kq = q.ncols();
        let mut qt = Array2::zeros((a, n * b));
        qt.slice_mut(ndarray::s![..kq, ..]).assign(&q.t());
        let mut rt = Array2::zeros((a, a));
        rt.slice_mut(ndarray::s![.., ..kq]).assign(&r.t());
        cores[i] = qt.into_shape_with_order((a, n, b)).expect("C-order");
        cores[i - 1] = right_multiply(&cores[i - 1], &rt)?;
        Ok(())
    }

    /// Largest deviation from orthonormality `max_k ||(G_k^L)^T G_k^L - I||_max` over cores
    /// `0..upto` (diagnostic and tests).
    pub fn left_orthogonality_error(&self, upto: usize) -> f64 {
        let mut err = 0.0f64;
        for c in &self.cores()[..upto] {
            let l = left_unfolding(c);
            let g = l.t().dot(&l);
            for ((i, j), v) in g.indexed_iter() {
                let target = if i == j { 1.0 } else { 0.0 };
                err = err.max((v - target).abs());
            }
        }
        err
    }

    /// Largest deviation from orthonormality of the right unfoldings of cores `from..d`.
    pub fn right_orthogonality_error(&self, from: usize) -> f64 {
        let mut err = 0.0f64;
        for c in &self.cores()[from..] {
            let r = right_unfolding(c);
            let g = r.dot(&r.t());
            for ((i, j), v) in g.indexed_iter() {
                let target = if i == j { 1.0 } else { 0.0 };
                err = err.max((v - target).abs());
            }
        }
        err
    }

    /// Smallest singular value of every unfolding `X^<k>` (`k = 1..d-1`), from the centre
    /// cores of mixed canonical forms. The curvature of the fixed-rank manifold scales like
    /// `1 / min_k sigma_min` (MATH.md §2): a diagnostic for ill-conditioned iterates.
    pub fn min_singular_values(&self) -> Result<Vec<f64>> {
        let d = self.order();
        let mut t = self.to_left_orthogonal()?;
        let mut out = vec![0.0; d.saturating_sub(1)];
        // moving the centre leftwards: at centre k+1 the singular values of bond k are those
        // of the right unfolding of core k+1
        for k in (0..d.saturating_sub(1)).rev() {
            let c = &t.cores()[k + 1];
            let s = linalg::svd_thin(right_unfolding(c))?;
            out[k] = s.s.iter().cloned().fold(f64::INFINITY, f64::min);
            t.orthogonalize_to(k)?;
        }
        Ok(out)
    }
}
