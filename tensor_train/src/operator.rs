//! Differential operators of sum-of-modes form on functional TTs, with two-state interfaces
//! (MATH.md §8, "PDE residual").
//!
//! For `(L v)(x) = sum_k (L_k v)(x) + kappa(x) v(x)` with `L_k = -a_k(x) d_k^2 + b_k(x) d_k`,
//! the operator acts on one mode at a time, so at a point `x^i` it only changes the features
//! of that mode: with the *modified features* `chi_k(x^i) = -a_k(x^i) phi_k''(x^i_k) +
//! b_k(x^i) phi_k'(x^i_k)` ([`modified_features`]) and `A^chi_k = sum_j chi_{k,j} G_k[j]`,
//! `sum_k (L_k v)(x) = sum_k A_1 .. A^chi_k .. A_d`. Two interface states carry this sum:
//! state 0 (no derivative yet) `ell_k = ell_{k-1} A_k`, state 1 (the one derivative term applied)
//! `ell^L_k = ell^L_{k-1} A_k + ell_{k-1} A^chi_k` (the block-triangular transfer
//! `[[A_k, A^chi_k], [0, A_k]]`), `ell^L_0 = 0`; right interfaces likewise,
//! `rho^L_k = A_k rho^L_{k+1} + A^chi_k rho_{k+1}`, `rho^L_{d+1} = 0`. Then
//! `sum_k (L_k v)(x^i) = ell^L_d(x^i)`, about twice the cost of an evaluation.
//!
//! Tangent vectors at `X` (left interfaces of the `U` cores, right ones of the `V` cores, as in
//! MATH.md §6.1): for the residual map `c -> (L E_X c)(x^i)` the row of the Jacobian has, in
//! block `k`, the two Kronecker terms
//! `(Q_k^perp)^T (ellt_{k-1} (x) phi_k + ell_{k-1} (x) chi_k) (x) rho_{k+1}
//!  + (Q_k^perp)^T (ell_{k-1} (x) phi_k) (x) rho^L_{k+1}` with `ellt = ell^L + kappa ell`
//! (the `kappa` term folded into the left state). [`OperatorLinearization`] gives `J c`, `J^T w`
//! and rows of `J`, each `O(N d n r^2)` (rows: `O(N D)` more), never a dense tensor.
//!
//! `kappa` here is the coefficient of the value term *in the linearization*: for a nonlinear
//! reaction `kappa v + N(v)` the caller passes `kappa + N'(v(x^i))` (e.g. `3 v^2` for `v^3`).

use crate::error::{Result, TtError};
use crate::interfaces::{check_features, left_step_into, right_step_into};
use crate::tangent::projection::weighted_face_split_gram;
use crate::tangent::{SampleInterfaces, TangentSpace, TangentVector};
use crate::tt::TensorTrain;
use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayViewMut2, Zip};

use crate::interfaces::face_split_into;
use crate::linalg::Par;

/// `chi = -a (.) phi'' + b (.) phi'` row by row: the modified features of one mode
/// (`N x n`; `a`, `b` are the coefficients at the `N` points).
pub fn modified_features(
    second: ArrayView2<'_, f64>,
    first: ArrayView2<'_, f64>,
    a: ArrayView1<'_, f64>,
    b: ArrayView1<'_, f64>,
) -> Result<Array2<f64>> {
    let n = second.nrows();
    if first.dim() != second.dim() || a.len() != n || b.len() != n {
        return Err(TtError::Shape(format!(
            "modified features: second derivatives {:?}, first {:?}, {} and {} coefficients",
            second.dim(),
            first.dim(),
            a.len(),
            b.len()
        )));
    }
    let mut chi = Array2::zeros(second.raw_dim());
    for i in 0..n {
        let (ai, bi) = (a[i], b[i]);
        Zip::from(chi.row_mut(i))
            .and(second.row(i))
            .and(first.row(i))
            .for_each(|c, &s2, &s1| *c = -ai * s2 + bi * s1);
    }
    Ok(chi)
}

/// The per-point data of an operator: feature values `Phi_k` and modified features `chi_k`
/// (`N x n_k` each, one per mode), and the value coefficient `kappa` (`N`).
#[derive(Debug, Clone)]
pub struct OperatorFeatures<'a> {
    /// `Phi_k`: feature values at the points.
    pub values: Vec<ArrayView2<'a, f64>>,
    /// `chi_k = -a_k Phi_k'' + b_k Phi_k'` at the points.
    pub chi: Vec<ArrayView2<'a, f64>>,
    /// Coefficient of the value term (of its linearization for nonlinear reactions).
    pub kappa: ArrayView1<'a, f64>,
}

impl<'a> OperatorFeatures<'a> {
    /// Check that `values` and `chi` match `tt`'s mode sizes and agree on `N`, and that
    /// `kappa` has `N` entries.
    pub fn new(
        tt: &TensorTrain,
        values: Vec<ArrayView2<'a, f64>>,
        chi: Vec<ArrayView2<'a, f64>>,
        kappa: ArrayView1<'a, f64>,
    ) -> Result<Self> {
        let n = check_features(tt, &values)?;
        let n_chi = check_features(tt, &chi)?;
        if n_chi != n || kappa.len() != n {
            return Err(TtError::Shape(format!(
                "operator data: {n} feature rows, {n_chi} modified-feature rows, {} kappa values",
                kappa.len()
            )));
        }
        Ok(OperatorFeatures { values, chi, kappa })
    }

    /// Number of points `N`.
    pub fn n_points(&self) -> usize {
        self.kappa.len()
    }
}

/// `(v(x^i), sum_k (L_k v)(x^i))` at the points of `of` for any TT (the derivative part
/// without the `kappa` term): one two-state left sweep, `O(N d n r^2)` (three GEMMs per core).
pub fn derivative_values(
    tt: &TensorTrain,
    of: &OperatorFeatures<'_>,
) -> Result<(Array1<f64>, Array1<f64>)> {
    check_features(tt, &of.values)?;
    let n = of.n_points();
    let mut l0 = Array2::ones((n, 1));
    let mut l1 = Array2::zeros((n, 1));
    let mut work = Vec::new();
    for (k, core) in tt.cores().iter().enumerate() {
        let rk = core.shape()[2];
        let mut n0 = Array2::zeros((n, rk));
        let mut n1 = Array2::zeros((n, rk));
        let mut tmp = Array2::zeros((n, rk));
        left_step_into(l0.view(), core, of.values[k], n0.view_mut(), &mut work)?;
        left_step_into(l1.view(), core, of.values[k], n1.view_mut(), &mut work)?;
        left_step_into(l0.view(), core, of.chi[k], tmp.view_mut(), &mut work)?;
        n1 += &tmp;
        l0 = n0;
        l1 = n1;
    }
    Ok((l0.column(0).to_owned(), l1.column(0).to_owned()))
}

/// The linearization of `c -> (L E_X c)(x^i)` at a tangent space: the state-1 interfaces of the
/// base point and everything `J c`, `J^T w` and rows of `J` need (see the module docs).
#[derive(Debug, Clone)]
pub struct OperatorLinearization<'a> {
    ts: &'a TangentSpace,
    si: &'a SampleInterfaces,
    of: OperatorFeatures<'a>,
    /// `ellt_k = ell^L_k + kappa ell_k` from the `U` cores (`N x r_k`, `k = 0..d`).
    left_t: Vec<Array2<f64>>,
    /// `rho^L_k` from the `V` cores (`N x r_k`, `k = 0..=d`, `right_l[d] = 0`).
    right_l: Vec<Array2<f64>>,
    /// `sum_k (L_k v)(x^i)` at the base point.
    derivative_part: Array1<f64>,
}

impl<'a> OperatorLinearization<'a> {
    /// Two-state interfaces at the base point of `ts`; `si` are its plain interfaces at the
    /// same points (`SampleInterfaces::new(ts, &of.values, par)`). `O(N d n r^2)`.
    pub fn new(
        ts: &'a TangentSpace,
        si: &'a SampleInterfaces,
        of: OperatorFeatures<'a>,
    ) -> Result<Self> {
        let n = check_features(ts.point(), &of.values)?;
        check_features(ts.point(), &of.chi)?;
        if si.n_samples() != n || si.left_u.len() != ts.order() + 1 || of.kappa.len() != n {
            return Err(TtError::Shape(format!(
                "operator linearization: interfaces for {} points, features for {n}, {} kappa values",
                si.n_samples(),
                of.kappa.len()
            )));
        }
        let d = ts.order();
        let u = ts.point().cores();
        let v = ts.point_right().cores();
        let mut work = Vec::new();
        // left state 1 from the U cores: ell^L_{k+1} = ell^L_k A_k + ell_k A^chi_k
        let mut left_l: Vec<Array2<f64>> = Vec::with_capacity(d + 1);
        left_l.push(Array2::zeros((n, 1)));
        for k in 0..d {
            let rk = u[k].shape()[2];
            let mut next = Array2::zeros((n, rk));
            let mut tmp = Array2::zeros((n, rk));
            left_step_into(
                left_l[k].view(),
                &u[k],
                of.values[k],
                next.view_mut(),
                &mut work,
            )?;
            left_step_into(
                si.left_u[k].view(),
                &u[k],
                of.chi[k],
                tmp.view_mut(),
                &mut work,
            )?;
            next += &tmp;
            left_l.push(next);
        }
        let derivative_part = left_l[d].column(0).to_owned();
        // right state 1 from the V cores: rho^L_k = A_k rho^L_{k+1} + A^chi_k rho_{k+1}
        let mut right_l: Vec<Array2<f64>> = vec![Array2::zeros((0, 0)); d + 1];
        right_l[d] = Array2::zeros((n, 1));
        for k in (0..d).rev() {
            let ra = v[k].shape()[0];
            let mut cur = Array2::zeros((n, ra));
            let mut tmp = Array2::zeros((n, ra));
            right_step_into(
                &v[k],
                of.values[k],
                right_l[k + 1].view(),
                cur.view_mut(),
                &mut work,
            )?;
            right_step_into(
                &v[k],
                of.chi[k],
                si.right_v[k + 1].view(),
                tmp.view_mut(),
                &mut work,
            )?;
            cur += &tmp;
            right_l[k] = cur;
        }
        let left_t = (0..d)
            .map(|k| {
                let mut t = left_l[k].clone();
                Zip::from(t.rows_mut())
                    .and(si.left_u[k].rows())
                    .and(&of.kappa)
                    .for_each(|mut t, l, &kap| t.scaled_add(kap, &l));
                t
            })
            .collect();
        Ok(OperatorLinearization {
            ts,
            si,
            of,
            left_t,
            right_l,
            derivative_part,
        })
    }

    /// `sum_k (L_k v)(x^i)` at the base point (without the `kappa` term).
    pub fn derivative_part(&self) -> ArrayView1<'_, f64> {
        self.derivative_part.view()
    }

    /// Values `v(x^i)` of the base point.
    pub fn values(&self) -> ArrayView1<'_, f64> {
        self.si.values()
    }

    /// `(L v)(x^i) = sum_k (L_k v)(x^i) + kappa_i v(x^i)` at the base point.
    pub fn operator_values(&self) -> Array1<f64> {
        &self.derivative_part + &(&self.of.kappa * &self.si.values())
    }

    /// Number of rows `N` (points).
    pub fn n_rows(&self) -> usize {
        self.of.n_points()
    }

    /// The tangent space.
    pub fn tangent_space(&self) -> &'a TangentSpace {
        self.ts
    }

    /// `J c = (L E_X c)(x^i)` for coordinates `c`, `O(N d n r^2)`: per core three left steps
    /// with the block `dG_k` (`ellt (x) phi`, `ell (x) chi` against `rho`, `ell (x) phi` against
    /// `rho^L`).
    pub fn jvp(&self, c: ArrayView1<'_, f64>) -> Result<Array1<f64>> {
        let xi = self.ts.from_coords(c)?;
        self.apply_tangent(&xi)
    }

    /// `(L xi)(x^i)` for a tangent vector given by blocks.
    pub fn apply_tangent(&self, xi: &TangentVector) -> Result<Array1<f64>> {
        let n = self.n_rows();
        let mut out = Array1::zeros(n);
        let mut work = Vec::new();
        for (k, block) in xi.blocks.iter().enumerate() {
            let block = block.as_standard_layout();
            let block: Array3<f64> = block.into_owned();
            let rb = block.shape()[2];
            let mut t = Array2::zeros((n, rb));
            let mut acc_r = Array2::zeros((n, rb));
            left_step_into(
                self.left_t[k].view(),
                &block,
                self.of.values[k],
                acc_r.view_mut(),
                &mut work,
            )?;
            left_step_into(
                self.si.left_u[k].view(),
                &block,
                self.of.chi[k],
                t.view_mut(),
                &mut work,
            )?;
            acc_r += &t;
            left_step_into(
                self.si.left_u[k].view(),
                &block,
                self.of.values[k],
                t.view_mut(),
                &mut work,
            )?;
            let r = &self.si.right_v[k + 1];
            let rl = &self.right_l[k + 1];
            for i in 0..n {
                out[i] += acc_r.row(i).dot(&r.row(i)) + t.row(i).dot(&rl.row(i));
            }
        }
        Ok(out)
    }

    /// `J^T w` in tangent coordinates: per core
    /// `(ellt (.) Phi + ell (.) chi)^T diag(w) R + (ell (.) Phi)^T diag(w) R^L`, then
    /// `(Q_k^perp)^T`, `O(N d n r^2)`. Deterministic for any `par` (the workspace's one
    /// sample reduction).
    pub fn vjp(&self, w: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>> {
        let n = self.n_rows();
        if w.len() != n {
            return Err(TtError::Shape(format!("{} weights for {n} rows", w.len())));
        }
        let mut blocks = Vec::with_capacity(self.ts.order());
        for k in 0..self.ts.order() {
            let (ra, nk, rb) = self.ts.point().cores()[k].dim();
            let r = self.si.right_v[k + 1].view();
            let rl = self.right_l[k + 1].view();
            let l = self.si.left_u[k].view();
            let mut acc =
                weighted_face_split_gram(self.left_t[k].view(), self.of.values[k], r, w, par)?;
            acc += &weighted_face_split_gram(l, self.of.chi[k], r, w, par)?;
            acc += &weighted_face_split_gram(l, self.of.values[k], rl, w, par)?;
            blocks.push(acc.into_shape_with_order((ra, nk, rb)).expect("C-order"));
        }
        // (Q_k^perp)^T drops the range(U_k) part: no gauge projection needed first
        self.ts.to_coords(&TangentVector { blocks })
    }

    /// Rows `rows` of `J` into `out` (`rows.len() x D`): block `k` of row `i` is
    /// `p1 (x) rho_{k+1} + p2 (x) rho^L_{k+1}` with `p1 = (Q_k^perp)^T (ellt (x) phi + ell (x) chi)`,
    /// `p2 = (Q_k^perp)^T (ell (x) phi)`; the last block is `ellt (x) phi + ell (x) chi`.
    pub fn jacobian_rows_into(
        &self,
        rows: std::ops::Range<usize>,
        mut out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        let n = self.n_rows();
        let dim = self.ts.dim();
        if rows.end > n || out.dim() != (rows.len(), dim) {
            return Err(TtError::Shape(format!(
                "operator Jacobian rows {rows:?} of {n} into {:?} (expected ({}, {dim}))",
                out.dim(),
                rows.len()
            )));
        }
        let d = self.ts.order();
        let off = self.ts.block_offsets();
        let len = rows.len();
        for k in 0..d {
            let rb = self.ts.point().cores()[k].shape()[2];
            let l = self.si.left_u[k].slice(s![rows.clone(), ..]);
            let lt = self.left_t[k].slice(s![rows.clone(), ..]);
            let phi = self.of.values[k].slice(s![rows.clone(), ..]);
            let chi = self.of.chi[k].slice(s![rows.clone(), ..]);
            let m = l.ncols() * phi.ncols();
            if k + 1 < d && m == rb {
                continue; // empty block: full-rank left unfolding
            }
            let mut p1 = Array2::zeros((len, m));
            let mut tmp = vec![0.0; len * m];
            face_split_into(lt, phi, p1.as_slice_mut().expect("C-order"));
            face_split_into(l, chi, &mut tmp);
            p1.as_slice_mut()
                .expect("C-order")
                .iter_mut()
                .zip(&tmp)
                .for_each(|(a, b)| *a += b);
            let mut dst = out.slice_mut(s![.., off[k]..off[k + 1]]);
            if k + 1 == d {
                dst.assign(&p1);
                continue;
            }
            let mut p2 = Array2::zeros((len, m));
            face_split_into(l, phi, p2.as_slice_mut().expect("C-order"));
            self.ts
                .householder(k)
                .apply_qt(p1.view_mut().reversed_axes());
            self.ts
                .householder(k)
                .apply_qt(p2.view_mut().reversed_axes());
            let r = self.si.right_v[k + 1].slice(s![rows.clone(), ..]);
            let rl = self.right_l[k + 1].slice(s![rows.clone(), ..]);
            for i in 0..len {
                let mut jrow = dst.row_mut(i);
                for a in 0..(m - rb) {
                    let (x1, x2) = (p1[[i, rb + a]], p2[[i, rb + a]]);
                    for b in 0..rb {
                        jrow[a * rb + b] = x1 * r[[i, b]] + x2 * rl[[i, b]];
                    }
                }
            }
        }
        Ok(())
    }

    /// The dense `N x D` Jacobian (tests and small problems).
    pub fn jacobian(&self) -> Result<Array2<f64>> {
        let mut j = Array2::zeros((self.n_rows(), self.ts.dim()));
        self.jacobian_rows_into(0..self.n_rows(), j.view_mut())?;
        Ok(j)
    }
}
