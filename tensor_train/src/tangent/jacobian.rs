//! The sample Jacobian in tangent coordinates (MATH.md §6.1).
//!
//! Row `i` of `J` (`N x D`) is `E_X^T Phi(x^i)`; block `k` is
//! `((Q_k^perp)^T (ell^U_{k-1}(x^i) (x) phi_k(x_k^i))) (x) rho^V_{k+1}(x^i)` and the last block is
//! `ell^U_{d-1}(x^i) (x) phi_d(x_d^i)`. The matrix-free products are `J c` = values of the tangent
//! vector `E_X c` at the samples and `J^T w` = coordinates of the sample projection.

use super::projection::face_split;
use super::{TangentSpace, TangentVector};
use crate::error::{Result, TtError};
use crate::interfaces::{self, left_step_into, CHUNK};
use crate::linalg::Par;
use crate::reduce;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};

/// Interfaces of the base point at `N` samples: `left_u[k]` from the left-orthogonal cores
/// (`N x r_k`, `k = 0..=d`) and `right_v[k]` from the right-orthogonal cores. Computed once
/// per iterate and shared by the gradient, the Jacobian and `J c`.
#[derive(Debug, Clone)]
pub struct SampleInterfaces {
    /// `left_u[k]`: rows `ell^U_k(x^i)`, products of `U_1..U_k`; `left_u[d]` are the values.
    pub left_u: Vec<Array2<f64>>,
    /// `right_v[k]`: rows `rho^V_k(x^i)^T`, products of `V_k..V_d`; `right_v[d]` is ones.
    pub right_v: Vec<Array2<f64>>,
}

impl SampleInterfaces {
    /// Compute both interface families, `O(N d n r^2)`.
    pub fn new(ts: &TangentSpace, features: &[ArrayView2<'_, f64>], par: Par) -> Result<Self> {
        let left_u = interfaces::left_interfaces(ts.point(), features, par)?;
        let right_v = interfaces::right_interfaces(ts.point_right(), features, par)?;
        Ok(SampleInterfaces { left_u, right_v })
    }

    /// Number of samples.
    pub fn n_samples(&self) -> usize {
        self.left_u[0].nrows()
    }

    /// Values of the base point at the samples.
    pub fn values(&self) -> ArrayView1<'_, f64> {
        self.left_u[self.left_u.len() - 1].column(0)
    }

    pub(crate) fn check(
        &self,
        ts: &TangentSpace,
        features: &[ArrayView2<'_, f64>],
    ) -> Result<usize> {
        let n = interfaces::check_features(ts.point(), features)?;
        if self.left_u.len() != ts.order() + 1 || self.n_samples() != n {
            return Err(TtError::Shape(format!(
                "sample interfaces were computed for {} samples and order {}, features have {n} samples and order {}",
                self.n_samples(),
                self.left_u.len().saturating_sub(1),
                ts.order()
            )));
        }
        Ok(n)
    }
}

impl TangentSpace {
    /// The dense Jacobian `J` (`N x D`, row-major), assembled block by block over row chunks:
    /// the face-splitting product `L (.) Phi` of a chunk, `Q_k^T` through the Householder
    /// reflectors (blocked, GEMM rate), then the Kronecker expansion with the right interface.
    pub fn jacobian(
        &self,
        si: &SampleInterfaces,
        features: &[ArrayView2<'_, f64>],
        par: Par,
    ) -> Result<Array2<f64>> {
        let n_samples = si.check(self, features)?;
        let mut j = Array2::zeros((n_samples, self.dim()));
        self.jacobian_into(si, features, j.view_mut(), par)?;
        Ok(j)
    }

    /// [`TangentSpace::jacobian`] into a preallocated `N x D` output (e.g. reused across
    /// iterations: first-touching a fresh `N x D` allocation can cost as much as assembling it).
    pub fn jacobian_into(
        &self,
        si: &SampleInterfaces,
        features: &[ArrayView2<'_, f64>],
        out: ndarray::ArrayViewMut2<'_, f64>,
        par: Par,
    ) -> Result<()> {
        let n_samples = si.check(self, features)?;
        if out.dim() != (n_samples, self.dim()) {
            return Err(TtError::Shape(format!(
                "Jacobian output is {:?}, expected ({n_samples}, {})",
                out.dim(),
                self.dim()
            )));
        }
        reduce::for_row_chunks(out, CHUNK, par, |rows, mut o| {
            self.jacobian_rows(si, features, rows, o.view_mut())
        })
    }

    /// Rows `rows` of `J` into `out` (`rows.len() x D`).
    pub fn jacobian_rows(
        &self,
        si: &SampleInterfaces,
        features: &[ArrayView2<'_, f64>],
        rows: std::ops::Range<usize>,
        mut out: ndarray::ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        let n_samples = si.check(self, features)?;
        if rows.end > n_samples || out.dim() != (rows.len(), self.dim()) {
            return Err(TtError::Shape(format!(
                "Jacobian rows {rows:?} of {n_samples} into an output of shape {:?} (expected ({}, {}))",
                out.dim(),
                rows.len(),
                self.dim()
            )));
        }
        let offsets = self.block_offsets();
        for k in 0..self.order() {
            let dst = out.slice_mut(s![.., offsets[k]..offsets[k + 1]]);
            self.jacobian_block_rows_unchecked(si, features, k, rows.clone(), dst);
        }
        Ok(())
    }

    /// Rows `rows` of the Jacobian block `J^(k)` (core `k`, `rows.len() x D_k`) into `out`:
    /// what the block-Jacobi preconditioner and the block-diagonal solver need, without
    /// forming the other blocks.
    pub fn jacobian_block_rows(
        &self,
        si: &SampleInterfaces,
        features: &[ArrayView2<'_, f64>],
        k: usize,
        rows: std::ops::Range<usize>,
        out: ndarray::ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        let n_samples = si.check(self, features)?;
        let dk = self.block_dims().get(k).copied().ok_or_else(|| {
            TtError::Shape(format!(
                "block {k} of a tangent space of order {}",
                self.order()
            ))
        })?;
        if rows.end > n_samples || out.dim() != (rows.len(), dk) {
            return Err(TtError::Shape(format!(
                "Jacobian block {k} rows {rows:?} of {n_samples} into an output of shape {:?} (expected ({}, {dk}))",
                out.dim(),
                rows.len(),
            )));
        }
        self.jacobian_block_rows_unchecked(si, features, k, rows, out);
        Ok(())
    }

    fn jacobian_block_rows_unchecked(
        &self,
        si: &SampleInterfaces,
        features: &[ArrayView2<'_, f64>],
        k: usize,
        rows: std::ops::Range<usize>,
        mut dst: ndarray::ArrayViewMut2<'_, f64>,
    ) {
        let d = self.order();
        let rb = self.point().cores()[k].shape()[2];
        let l = si.left_u[k].slice(s![rows.clone(), ..]);
        let phi = features[k].slice(s![rows.clone(), ..]);
        let m = l.ncols() * phi.ncols();
        if k + 1 < d && m == rb {
            return; // empty block: full-rank left unfolding
        }
        let mut a = face_split(l, phi); // rows x m, C-order
        if k + 1 == d {
            dst.assign(&a);
            return;
        }
        // Q_k^T on the columns of a^T (m x rows, unit row stride: faer's native layout, no
        // copy); afterwards a[i, rb..] = (Q_k^perp)^T (ell (x) phi)(x^i)
        self.householder(k).apply_qt(a.view_mut().reversed_axes());
        let r = si.right_v[k + 1].slice(s![rows.clone(), ..]);
        let a_s = a.as_slice().expect("face_split returns a C-order array");
        let mut rbuf = vec![0.0; rb];
        for (i, (arow, mut jrow)) in a_s.chunks_exact(m).zip(dst.rows_mut()).enumerate() {
            let p = &arow[rb..];
            let rrow = match r.row(i).to_slice() {
                Some(x) => x,
                None => {
                    for (o, &v) in rbuf.iter_mut().zip(r.row(i)) {
                        *o = v;
                    }
                    &rbuf[..]
                }
            };
            match jrow.as_slice_mut() {
                Some(js) => {
                    for (seg, &pa) in js.chunks_exact_mut(rb).zip(p) {
                        for (o, &rv) in seg.iter_mut().zip(rrow) {
                            *o = pa * rv;
                        }
                    }
                }
                None => {
                    for (a_idx, &pa) in p.iter().enumerate() {
                        for (b, &rv) in rrow.iter().enumerate() {
                            jrow[a_idx * rb + b] = pa * rv;
                        }
                    }
                }
            }
        }
    }

    /// `J c`: the values at the samples of the tangent vector `xi`,
    /// `sum_k ell^U_{k-1}(x) dA_k(x_k) rho^V_{k+1}(x)`, `O(N d n r^2)`, without forming `J`.
    pub fn tangent_values(
        &self,
        si: &SampleInterfaces,
        features: &[ArrayView2<'_, f64>],
        xi: &TangentVector,
        par: Par,
    ) -> Result<Array1<f64>> {
        let n_samples = si.check(self, features)?;
        self.check_vector(xi)?;
        let owned;
        let xi = if xi.blocks.iter().all(|b| b.is_standard_layout()) {
            xi
        } else {
            let mut c = xi.clone();
            c.make_standard_layout();
            owned = c;
            &owned
        };
        let mut out = Array1::zeros(n_samples);
        let fill =
            |rows: std::ops::Range<usize>, mut o: ndarray::ArrayViewMut1<'_, f64>| -> Result<()> {
                let mut work = Vec::new();
                for (k, (block, phi)) in xi.blocks.iter().zip(features).enumerate() {
                    let rb = block.shape()[2];
                    let mut t = Array2::zeros((rows.len(), rb));
                    left_step_into(
                        si.left_u[k].slice(s![rows.clone(), ..]),
                        block,
                        phi.slice(s![rows.clone(), ..]),
                        t.view_mut(),
                        &mut work,
                    )?;
                    let r = si.right_v[k + 1].slice(s![rows.clone(), ..]);
                    for (i, ov) in o.iter_mut().enumerate() {
                        *ov += t.row(i).dot(&r.row(i));
                    }
                }
                Ok(())
            };
        reduce::for_row_chunks(out.view_mut(), CHUNK, par, fill)?;
        Ok(out)
    }

    /// `J c` for coordinates `c`.
    pub fn jvp(
        &self,
        si: &SampleInterfaces,
        features: &[ArrayView2<'_, f64>],
        c: ArrayView1<'_, f64>,
        par: Par,
    ) -> Result<Array1<f64>> {
        let xi = self.from_coords(c)?;
        self.tangent_values(si, features, &xi, par)
    }

    /// `J^T w`: coordinates of the projection of `sum_i w_i Phi(x^i)`.
    pub fn vjp(
        &self,
        si: &SampleInterfaces,
        features: &[ArrayView2<'_, f64>],
        w: ArrayView1<'_, f64>,
        par: Par,
    ) -> Result<Array1<f64>> {
        let t = self.project_samples(si, features, w, par)?;
        self.to_coords(&t)
    }
}
