//! The linearized model: what the Gram solvers and the momentum projections consume
//! (MATH.md §6.1, §6.4, §8).
//!
//! At an iterate `X` with orthonormal tangent coordinates `c ∈ R^D` (MATH.md §3.2), a
//! *linearized model* is a linear map `J : R^D -> R^M` from tangent coordinates to `M` *rows*:
//! the first-order change of whatever the loss sees (model values at samples; `C` logits per
//! sample; PDE residuals at collocation and boundary points; Hessian-factored rows
//! `H_i^{1/2} J_i`). Every natural-gradient solver only needs
//!
//! - `J c` ([`LinearizedModel::jvp`]) and `J^T w` in tangent coordinates ([`LinearizedModel::vjp`]),
//! - rows of `J` ([`LinearizedModel::jacobian_rows_into`]) for the tiled rank-k Gram update
//!   `G = J^T W J` and the Householder QR of `W^{1/2} J`,
//! - rows of the per-core column blocks `J^(k)` ([`LinearizedModel::jacobian_block_rows_into`],
//!   columns `block_offsets()[k]..block_offsets()[k+1]`) for the block-diagonal Gram
//!   `G_kk = J^(k)T W J^(k)` (block-Jacobi PCG, block-diagonal solver),
//!
//! together with non-negative *diagonal* row weights `W` held by the solver
//! ([`super::gram::GramSystem`]). A loss whose Hessian in the rows is not diagonal (softmax:
//! `H_i = diag(p_i) - p_i p_i^T`, `C x C` per sample) enters through [`FactoredRows`]: with
//! `H_i = F_i^T F_i` the Gram `sum_i J_i^T H_i J_i` is the plain Gram of the rows `F_i J_i`, so
//! the solvers only ever see weighted rows.
//!
//! Implementations: [`SampleLinearization`] (the least-squares / pointwise-loss case: one row per
//! sample, `J_i = E_X^T Phi(x^i)`), [`FactoredRows`] (block-Hessian rows over any model).
//! New losses and operators plug in here, below the optimizers.

use crate::error::{Error, Result};
use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayViewMut2, Axis};
use std::ops::Range;
use tensor_train::interfaces::CHUNK;
use tensor_train::linalg::Par;
use tensor_train::tangent::{SampleInterfaces, TangentSpace};

/// A linear map `J : R^D -> R^M` from tangent coordinates at an iterate to `M` rows (module
/// docs). Invariants every implementation keeps (checked against dense references in
/// `tests/linearized.rs`):
/// - `jvp(c)[i] = sum_j J[i, j] c[j]` and `vjp(w)[j] = sum_i J[i, j] w[i]`, with `J` the matrix
///   whose rows [`LinearizedModel::jacobian_rows_into`] writes;
/// - block `k` of a row is the row's columns `block_offsets()[k]..block_offsets()[k+1]`;
/// - every result is independent of the thread count (fixed chunking, ordered reductions).
pub trait LinearizedModel: Sync {
    /// Number of rows `M` (samples x outputs, or collocation + boundary rows).
    fn n_rows(&self) -> usize;
    /// Tangent dimension `D`.
    fn dim(&self) -> usize;
    /// Offsets of the per-core column blocks: block `k` is `offsets[k]..offsets[k+1]`,
    /// `offsets[d] = D`.
    fn block_offsets(&self) -> &[usize];
    /// `J c` (`M` values).
    fn jvp(&self, c: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>>;
    /// `J^T w` in tangent coordinates (`D` values).
    fn vjp(&self, w: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>>;
    /// Rows `rows` of `J` into `out` (`rows.len() x D`, any layout). Sequential: callers
    /// parallelize over row chunks.
    fn jacobian_rows_into(&self, rows: Range<usize>, out: ArrayViewMut2<'_, f64>) -> Result<()>;
    /// Rows `rows` of the column block `J^(k)` into `out` (`rows.len() x D_k`). The default
    /// forms the full rows and copies the block; implementations that can form one block alone
    /// (the ALS design matrix) should.
    fn jacobian_block_rows_into(
        &self,
        k: usize,
        rows: Range<usize>,
        mut out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        let off = self.block_offsets();
        let mut full = Array2::zeros((rows.len(), self.dim()));
        self.jacobian_rows_into(rows, full.view_mut())?;
        out.assign(&full.slice(s![.., off[k]..off[k + 1]]));
        Ok(())
    }
    /// The whole `M x D` Jacobian into `out` (any layout), in parallel over [`CHUNK`]-row
    /// chunks.
    fn jacobian_into(&self, out: ArrayViewMut2<'_, f64>, par: Par) -> Result<()> {
        if out.dim() != (self.n_rows(), self.dim()) {
            return Err(Error::param(
                "jacobian",
                format!(
                    "output is {:?}, expected ({}, {})",
                    out.dim(),
                    self.n_rows(),
                    self.dim()
                ),
            ));
        }
        tensor_train::reduce::for_row_chunks(out, CHUNK, par, |rows, mut o| {
            self.jacobian_rows_into(rows, o.view_mut())
        })
    }
    /// The model restricted to the rows `rows` (in that order), for operators built from a
    /// subsample (PCG's `subsample`); `None` when the implementation cannot restrict itself,
    /// and then all rows are used.
    fn select_rows(&self, rows: &[usize]) -> Option<Box<dyn LinearizedModel + '_>> {
        let _ = rows;
        None
    }
    /// The dense `M x D` Jacobian (tests and small problems).
    fn jacobian(&self, par: Par) -> Result<Array2<f64>> {
        let mut j = Array2::zeros((self.n_rows(), self.dim()));
        self.jacobian_into(j.view_mut(), par)?;
        Ok(j)
    }
}

impl<T: LinearizedModel + ?Sized> LinearizedModel for &T {
    fn n_rows(&self) -> usize {
        (**self).n_rows()
    }
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn block_offsets(&self) -> &[usize] {
        (**self).block_offsets()
    }
    fn jvp(&self, c: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>> {
        (**self).jvp(c, par)
    }
    fn vjp(&self, w: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>> {
        (**self).vjp(w, par)
    }
    fn jacobian_rows_into(&self, rows: Range<usize>, out: ArrayViewMut2<'_, f64>) -> Result<()> {
        (**self).jacobian_rows_into(rows, out)
    }
    fn jacobian_block_rows_into(
        &self,
        k: usize,
        rows: Range<usize>,
        out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        (**self).jacobian_block_rows_into(k, rows, out)
    }
    fn jacobian_into(&self, out: ArrayViewMut2<'_, f64>, par: Par) -> Result<()> {
        (**self).jacobian_into(out, par)
    }
    fn select_rows(&self, rows: &[usize]) -> Option<Box<dyn LinearizedModel + '_>> {
        (**self).select_rows(rows)
    }
}

/// The sample Jacobian of a functional TT (MATH.md §6.1): one row per sample,
/// `J_i = E_X^T Phi(x^i)`, block `k` of row `i` being
/// `((Q_k^perp)^T (ell^U_{k-1}(x^i) (x) phi_k(x^i_k))) (x) rho^V_{k+1}(x^i)`.
/// `J c` are the values of the tangent vector `E_X c` at the samples, `J^T w` the coordinates of
/// the sample projection of `sum_i w_i Phi(x^i)` (MATH.md §3.4(b)); cost `O(N d n r^2)` each.
pub struct SampleLinearization<'a> {
    ts: &'a TangentSpace,
    si: &'a SampleInterfaces,
    feats: Vec<ArrayView2<'a, f64>>,
}

impl<'a> SampleLinearization<'a> {
    /// The linearization at the tangent space `ts` with the interfaces `si` at the samples
    /// whose feature matrices are `feats`.
    pub fn new(
        ts: &'a TangentSpace,
        si: &'a SampleInterfaces,
        feats: &[ArrayView2<'a, f64>],
    ) -> Self {
        SampleLinearization {
            ts,
            si,
            feats: feats.to_vec(),
        }
    }

    /// The tangent space.
    pub fn tangent_space(&self) -> &'a TangentSpace {
        self.ts
    }

    /// The interfaces at the samples.
    pub fn interfaces(&self) -> &'a SampleInterfaces {
        self.si
    }

    /// Views of the feature matrices.
    pub fn features(&self) -> &[ArrayView2<'a, f64>] {
        &self.feats
    }
}

impl LinearizedModel for SampleLinearization<'_> {
    fn n_rows(&self) -> usize {
        self.si.n_samples()
    }
    fn dim(&self) -> usize {
        self.ts.dim()
    }
    fn block_offsets(&self) -> &[usize] {
        self.ts.block_offsets()
    }
    fn jvp(&self, c: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>> {
        Ok(self.ts.jvp(self.si, &self.feats, c, par)?)
    }
    fn vjp(&self, w: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>> {
        Ok(self.ts.vjp(self.si, &self.feats, w, par)?)
    }
    fn jacobian_rows_into(&self, rows: Range<usize>, out: ArrayViewMut2<'_, f64>) -> Result<()> {
        Ok(self.ts.jacobian_rows(self.si, &self.feats, rows, out)?)
    }
    fn jacobian_block_rows_into(
        &self,
        k: usize,
        rows: Range<usize>,
        out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        Ok(self
            .ts
            .jacobian_block_rows(self.si, &self.feats, k, rows, out)?)
    }
    fn jacobian_into(&self, out: ArrayViewMut2<'_, f64>, par: Par) -> Result<()> {
        Ok(self.ts.jacobian_into(self.si, &self.feats, out, par)?)
    }
    fn select_rows(&self, rows: &[usize]) -> Option<Box<dyn LinearizedModel + '_>> {
        let pick = |a: &Array2<f64>| a.select(Axis(0), rows);
        Some(Box::new(SelectedRows {
            ts: self.ts,
            si: SampleInterfaces {
                left_u: self.si.left_u.iter().map(pick).collect(),
                right_v: self.si.right_v.iter().map(pick).collect(),
            },
            feats: self.feats.iter().map(|f| f.select(Axis(0), rows)).collect(),
        }))
    }
}

/// A [`SampleLinearization`] that owns its interfaces and features: the model of some selected
/// rows ([`LinearizedModel::select_rows`], also of the streamed model,
/// [`super::streamed::StreamedLinearization`]).
pub struct SelectedRows<'a> {
    ts: &'a TangentSpace,
    si: SampleInterfaces,
    feats: Vec<Array2<f64>>,
}

impl<'a> SelectedRows<'a> {
    /// The model of the samples with features `feats` and interfaces `si` at `ts`.
    pub fn new(ts: &'a TangentSpace, si: SampleInterfaces, feats: Vec<Array2<f64>>) -> Self {
        SelectedRows { ts, si, feats }
    }
}

impl SelectedRows<'_> {
    fn lin(&self) -> SampleLinearization<'_> {
        let views: Vec<ArrayView2<'_, f64>> = self.feats.iter().map(|f| f.view()).collect();
        SampleLinearization::new(self.ts, &self.si, &views)
    }
}

impl LinearizedModel for SelectedRows<'_> {
    fn n_rows(&self) -> usize {
        self.si.n_samples()
    }
    fn dim(&self) -> usize {
        self.ts.dim()
    }
    fn block_offsets(&self) -> &[usize] {
        self.ts.block_offsets()
    }
    fn jvp(&self, c: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>> {
        self.lin().jvp(c, par)
    }
    fn vjp(&self, w: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>> {
        self.lin().vjp(w, par)
    }
    fn jacobian_rows_into(&self, rows: Range<usize>, out: ArrayViewMut2<'_, f64>) -> Result<()> {
        self.lin().jacobian_rows_into(rows, out)
    }
    fn jacobian_block_rows_into(
        &self,
        k: usize,
        rows: Range<usize>,
        out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        self.lin().jacobian_block_rows_into(k, rows, out)
    }
}

/// Rows `F_i J_i` of an inner model whose rows come in consecutive groups of `C` (one group per
/// sample: `C` outputs), with per-group factors `F_i` (`r x C`). The Gram of these rows is
/// `sum_i J_i^T F_i^T F_i J_i`: with `F_i^T F_i = H_i` it is the loss-weighted Gram of a
/// non-diagonal Hessian (MATH.md §8, vector outputs), and the solvers see plain rows.
/// `M = N r` rows; `J c` gives `F_i (J c)_i`, `J^T w` gives `J_inner^T (F_i^T w_i)`.
pub struct FactoredRows<M> {
    inner: M,
    /// `N x r x C` factors.
    factors: Array3<f64>,
}

impl<M: LinearizedModel> FactoredRows<M> {
    /// Wrap `inner` (`N C` rows) with `factors` (`N x r x C`).
    pub fn new(inner: M, factors: Array3<f64>) -> Result<Self> {
        let (n, _, c) = factors.dim();
        if n * c != inner.n_rows() {
            return Err(Error::param(
                "hessian factors",
                format!(
                    "{n} groups of {c} outputs for a model with {} rows",
                    inner.n_rows()
                ),
            ));
        }
        Ok(FactoredRows { inner, factors })
    }

    /// The wrapped model.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// `(groups N, factor rows r, outputs C)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        self.factors.dim()
    }

    /// Map inner-row values `v` (`N C`) to factored rows `F_i v_i` (`N r`).
    pub fn apply_factors(&self, v: ArrayView1<'_, f64>) -> Array1<f64> {
        apply_factors(&self.factors, v)
    }

    /// Map factored-row values `w` (`N r`) to inner rows `F_i^T w_i` (`N C`).
    pub fn apply_factors_t(&self, w: ArrayView1<'_, f64>) -> Array1<f64> {
        apply_factors_t(&self.factors, w)
    }
}

/// `F_i v_i` for factors `N x r x C` and inner-row values `v` (`N C`): `N r` values.
pub fn apply_factors(factors: &Array3<f64>, v: ArrayView1<'_, f64>) -> Array1<f64> {
    let (n, r, c) = factors.dim();
    let mut out = Array1::zeros(n * r);
    for i in 0..n {
        let f = factors.index_axis(Axis(0), i);
        let vi = v.slice(s![i * c..(i + 1) * c]);
        out.slice_mut(s![i * r..(i + 1) * r]).assign(&f.dot(&vi));
    }
    out
}

/// `F_i^T w_i` for factors `N x r x C` and factored-row values `w` (`N r`): `N C` values.
pub fn apply_factors_t(factors: &Array3<f64>, w: ArrayView1<'_, f64>) -> Array1<f64> {
    let (n, r, c) = factors.dim();
    let mut out = Array1::zeros(n * c);
    for i in 0..n {
        let f = factors.index_axis(Axis(0), i);
        let wi = w.slice(s![i * r..(i + 1) * r]);
        out.slice_mut(s![i * c..(i + 1) * c])
            .assign(&f.t().dot(&wi));
    }
    out
}

impl<M: LinearizedModel> FactoredRows<M> {
    /// The groups covering `rows` and the offset of `rows.start` in the first group's rows.
    fn groups_of(&self, rows: &Range<usize>) -> (Range<usize>, usize) {
        let r = self.factors.dim().1.max(1);
        let g0 = rows.start / r;
        let g1 = rows.end.div_ceil(r);
        (g0..g1, rows.start - g0 * r)
    }

    /// Factored rows `rows` from the inner rows of the covering groups, `inner(range, out)`
    /// writing inner rows `range` into `out`.
    fn rows_via(
        &self,
        rows: Range<usize>,
        width: usize,
        mut out: ArrayViewMut2<'_, f64>,
        inner: impl Fn(Range<usize>, ArrayViewMut2<'_, f64>) -> Result<()>,
    ) -> Result<()> {
        let (_, r, c) = self.factors.dim();
        let (groups, skip) = self.groups_of(&rows);
        let mut src = Array2::zeros((groups.len() * c, width));
        inner(groups.start * c..groups.end * c, src.view_mut())?;
        let mut all = Array2::zeros((groups.len() * r, width));
        for (gi, g) in groups.enumerate() {
            let f = self.factors.index_axis(Axis(0), g);
            all.slice_mut(s![gi * r..(gi + 1) * r, ..])
                .assign(&f.dot(&src.slice(s![gi * c..(gi + 1) * c, ..])));
        }
        out.assign(&all.slice(s![skip..skip + rows.len(), ..]));
        Ok(())
    }
}

impl<M: LinearizedModel> LinearizedModel for FactoredRows<M> {
    fn n_rows(&self) -> usize {
        let (n, r, _) = self.factors.dim();
        n * r
    }
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn block_offsets(&self) -> &[usize] {
        self.inner.block_offsets()
    }
    fn jvp(&self, c: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>> {
        Ok(self.apply_factors(self.inner.jvp(c, par)?.view()))
    }
    fn vjp(&self, w: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>> {
        self.inner.vjp(self.apply_factors_t(w).view(), par)
    }
    fn jacobian_rows_into(&self, rows: Range<usize>, out: ArrayViewMut2<'_, f64>) -> Result<()> {
        self.rows_via(rows, self.dim(), out, |r, o| {
            self.inner.jacobian_rows_into(r, o)
        })
    }
    fn jacobian_block_rows_into(
        &self,
        k: usize,
        rows: Range<usize>,
        out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        let off = self.block_offsets();
        self.rows_via(rows, off[k + 1] - off[k], out, |r, o| {
            self.inner.jacobian_block_rows_into(k, r, o)
        })
    }
}
