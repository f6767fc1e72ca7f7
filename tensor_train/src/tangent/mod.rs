//! The tangent space of the fixed-rank TT manifold `M_r` at a point `X` (MATH.md §3-5).
//!
//! With `X = U_1 ... U_{d-1} S_d` (left-orthogonal) and `X = S_1 V_2 ... V_d`
//! (right-orthogonal), every tangent vector is uniquely
//! `xi = sum_k U_1..U_{k-1} dG_k V_{k+1}..V_d` with the gauge conditions
//! `(U_k^L)^T dG_k^L = 0` for `k < d`. Writing `dG_k^L = Q_k^perp C_k`, with `Q_k^perp` the
//! trailing columns of the full Householder QR of `U_k^L`, the coordinates
//! `c = (vec C_1, ..., vec C_d)` (row-major `vec`) give an isometry `E_X: R^D -> T_X`,
//! `D = sum_k r_{k-1} n_k r_k - sum_{k<d} r_k^2`.
//!
//! - [`TangentSpace`]: built once per point (two orthogonalizations and `d - 1` Householder
//!   QRs); conversions between blocks and coordinates; the rank-`2r` TT of a tangent vector
//!   and of `X + t xi`; the retraction `R_X(xi) = H_r(X + xi)`.
//! - [`projection`]: `P_X` of a TT of any rank, of a weighted sum of rank-one feature tensors,
//!   and vector transport.
//! - [`jacobian`]: the sample Jacobian `J` in tangent coordinates, `J c` and `J^T w`.

pub mod jacobian;
pub mod projection;
mod retraction;

pub use jacobian::SampleInterfaces;

use crate::error::{Result, TtError};
use crate::gauge::left_unfolding;
use crate::linalg::Householder;
use crate::tt::TensorTrain;
use ndarray::{s, Array1, Array2, Array3, ArrayView1};

/// A tangent vector at a fixed point, as gauge-constrained blocks `dG_k` of the cores' shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct TangentVector {
    /// `blocks[k]` has the shape of core `k`; `(U_k^L)^T blocks[k]^L = 0` for `k < d - 1`.
    pub blocks: Vec<Array3<f64>>,
}

impl TangentVector {
    /// `sum_k <dG_k, dG'_k>_F`: the Frobenius (= `L^2(mu)`) inner product of two tangent
    /// vectors at the same point (the terms of the sum are mutually orthogonal, MATH.md §3.1).
    pub fn dot(&self, other: &TangentVector) -> f64 {
        self.blocks
            .iter()
            .zip(&other.blocks)
            .map(|(a, b)| (a * b).sum())
            .sum()
    }

    /// Frobenius norm of the tangent tensor.
    pub fn norm(&self) -> f64 {
        self.dot(self).sqrt()
    }

    /// `self <- self + alpha other`.
    pub fn axpy(&mut self, alpha: f64, other: &TangentVector) {
        for (a, b) in self.blocks.iter_mut().zip(&other.blocks) {
            a.scaled_add(alpha, b);
        }
    }

    /// `alpha self`.
    pub fn scaled(&self, alpha: f64) -> TangentVector {
        TangentVector {
            blocks: self.blocks.iter().map(|b| b * alpha).collect(),
        }
    }

    /// Store every block in row-major (C) order (the kernels reshape blocks to unfoldings).
    pub(crate) fn make_standard_layout(&mut self) {
        for b in self.blocks.iter_mut() {
            if !b.is_standard_layout() {
                *b = b.as_standard_layout().into_owned();
            }
        }
    }
}

/// The tangent space `T_X M_r` with its explicit orthonormal basis (see the module docs).
#[derive(Debug, Clone)]
pub struct TangentSpace {
    /// `X` in left-orthogonal form: `U_1..U_{d-1}` and `S_d` (last core).
    left: TensorTrain,
    /// `X` in right-orthogonal form: `S_1` and `V_2..V_d`.
    right: TensorTrain,
    /// Householder QR of `U_k^L` for `k < d - 1`.
    householder: Vec<Householder>,
    /// Coordinate block sizes `D_k`.
    block_dims: Vec<usize>,
    /// Start of block `k` in the coordinate vector.
    offsets: Vec<usize>,
}

impl TangentSpace {
    /// Build the tangent space at `x`: left- and right-orthogonal forms (only the sweeps the
    /// recorded gauge does not already provide) and the Householder QRs of `U_k^L`,
    /// `O(d n r^3)`.
    pub fn new(x: &TensorTrain) -> Result<Self> {
        // Inadmissible ranks (e.g. of a sum) cannot be orthogonalized: the QR sweeps would pad
        // the cores with zero rows/columns and E_X would not be an isometry.
        crate::tt::check_ranks(&x.mode_sizes(), &x.internal_ranks())?;
        let left = x.to_left_orthogonal()?;
        let right = left.to_right_orthogonal()?;
        let d = left.order();
        let mut householder = Vec::with_capacity(d.saturating_sub(1));
        let mut block_dims = Vec::with_capacity(d);
        for k in 0..d {
            let (a, n, b) = left.cores()[k].dim();
            if k + 1 < d {
                if a * n < b {
                    return Err(TtError::Rank {
                        bond: k + 1,
                        rank: b,
                        max: a * n,
                    });
                }
                householder.push(Householder::new(left_unfolding(&left.cores()[k]))?);
                block_dims.push((a * n - b) * b);
            } else {
                block_dims.push(a * n * b);
            }
        }
        let mut offsets = Vec::with_capacity(d + 1);
        let mut acc = 0;
        for &bd in &block_dims {
            offsets.push(acc);
            acc += bd;
        }
        offsets.push(acc);
        Ok(TangentSpace {
            left,
            right,
            householder,
            block_dims,
            offsets,
        })
    }

    /// The base point in left-orthogonal form (`U_1..U_{d-1}, S_d`).
    pub fn point(&self) -> &TensorTrain {
        &self.left
    }

    /// The base point in right-orthogonal form (`S_1, V_2..V_d`).
    pub fn point_right(&self) -> &TensorTrain {
        &self.right
    }

    /// Order `d`.
    pub fn order(&self) -> usize {
        self.left.order()
    }

    /// Dimension `D = sum_k r_{k-1} n_k r_k - sum_{k<d} r_k^2` of the manifold.
    pub fn dim(&self) -> usize {
        self.offsets[self.order()]
    }

    /// Coordinate block sizes `D_k` (`(r_{k-1} n_k - r_k) r_k` for `k < d`, `r_{d-1} n_d`).
    pub fn block_dims(&self) -> &[usize] {
        &self.block_dims
    }

    /// Offsets of the coordinate blocks (`d + 1` entries, the last is `D`).
    pub fn block_offsets(&self) -> &[usize] {
        &self.offsets
    }

    pub(crate) fn householder(&self, k: usize) -> &Householder {
        &self.householder[k]
    }

    /// The zero tangent vector.
    pub fn zero(&self) -> TangentVector {
        TangentVector {
            blocks: self
                .left
                .cores()
                .iter()
                .map(|c| Array3::zeros(c.raw_dim()))
                .collect(),
        }
    }

    /// `X` itself as a tangent vector: `dG_k = 0` for `k < d`, `dG_d = S_d`.
    pub fn point_as_tangent(&self) -> TangentVector {
        let mut t = self.zero();
        let d = self.order();
        t.blocks[d - 1].assign(&self.left.cores()[d - 1]);
        t
    }

    /// Apply the gauge projector `Pi_k = I - U_k^L (U_k^L)^T` to the left unfolding of every
    /// block `k < d` (the last block is free).
    pub fn enforce_gauge(&self, t: &mut TangentVector) -> Result<()> {
        self.check_vector(t)?;
        t.make_standard_layout();
        let d = self.order();
        for k in 0..d.saturating_sub(1) {
            let u = left_unfolding(&self.left.cores()[k]);
            let (a, n, b) = t.blocks[k].dim();
            let mut blk = t.blocks[k]
                .view_mut()
                .into_shape_with_order((a * n, b))
                .expect("C-order");
            let utb = crate::linalg::matmul(u.t(), blk.view())?;
            crate::linalg::gemm(
                -1.0,
                u,
                utb.view(),
                1.0,
                blk.view_mut(),
                crate::linalg::Par::Seq,
            )?;
        }
        Ok(())
    }

    /// Largest gauge violation `max_k max |(U_k^L)^T dG_k^L|` (tests, diagnostics).
    pub fn gauge_violation(&self, t: &TangentVector) -> f64 {
        let d = self.order();
        let mut err = 0.0f64;
        for k in 0..d.saturating_sub(1) {
            let u = left_unfolding(&self.left.cores()[k]);
            let blk = t.blocks[k].as_standard_layout();
            let (a, n, b) = blk.dim();
            let g = u.t().dot(
                &blk.view()
                    .into_shape_with_order((a * n, b))
                    .expect("C-order"),
            );
            err = g.iter().fold(err, |m, x| m.max(x.abs()));
        }
        err
    }

    /// Coordinates `c = E_X^T xi` of a tangent vector: `C_k = (Q_k^perp)^T dG_k^L`, applied
    /// through the Householder reflectors.
    pub fn to_coords(&self, t: &TangentVector) -> Result<Array1<f64>> {
        self.check_vector(t)?;
        let d = self.order();
        let mut c = Array1::zeros(self.dim());
        for k in 0..d {
            let (a, n, b) = t.blocks[k].dim();
            let mut blk = t.blocks[k]
                .as_standard_layout()
                .into_owned()
                .into_shape_with_order((a * n, b))
                .expect("C-order");
            let dst = &mut c.as_slice_mut().expect("owned")[self.offsets[k]..self.offsets[k + 1]];
            if k + 1 < d {
                self.householder[k].apply_qt(blk.view_mut());
                let tail = blk.slice(s![b.., ..]);
                for (o, v) in dst.iter_mut().zip(tail.iter()) {
                    *o = *v;
                }
            } else {
                dst.copy_from_slice(blk.as_slice().expect("C-order"));
            }
        }
        Ok(c)
    }

    /// The tangent vector `E_X c` with coordinates `c`: `dG_k^L = Q_k [0; C_k]`.
    pub fn from_coords(&self, c: ArrayView1<'_, f64>) -> Result<TangentVector> {
        if c.len() != self.dim() {
            return Err(TtError::Shape(format!(
                "{} coordinates for a tangent space of dimension {}",
                c.len(),
                self.dim()
            )));
        }
        let d = self.order();
        let mut blocks = Vec::with_capacity(d);
        for k in 0..d {
            let (a, n, b) = self.left.cores()[k].dim();
            let src = c.slice(s![self.offsets[k]..self.offsets[k + 1]]);
            let mut blk = Array2::zeros((a * n, b));
            if k + 1 < d {
                let mut tail = blk.slice_mut(s![b.., ..]);
                for (o, v) in tail.iter_mut().zip(src.iter()) {
                    *o = *v;
                }
                self.householder[k].apply_q(blk.view_mut());
            } else {
                for (o, v) in blk.iter_mut().zip(src.iter()) {
                    *o = *v;
                }
            }
            blocks.push(blk.into_shape_with_order((a, n, b)).expect("C-order"));
        }
        Ok(TangentVector { blocks })
    }

    /// The rank-`2r` TT of `shift X + t xi` (MATH.md §3.3): cores
    /// `W_1 = [t dG_1, U_1]`, `W_k = [[V_k, 0], [t dG_k, U_k]]`, `W_d = [V_d; shift S_d + t dG_d]`.
    /// `shift = 0, t = 1` gives the TT of `xi`; `shift = 1` the input of the retraction.
    pub fn combined_tt(&self, shift: f64, t: f64, xi: &TangentVector) -> Result<TensorTrain> {
        self.check_vector(xi)?;
        let d = self.order();
        let u = self.left.cores();
        let v = self.right.cores();
        if d == 1 {
            let c = &u[0] * shift + &xi.blocks[0] * t;
            return TensorTrain::from_cores(vec![c]);
        }
        let mut cores = Vec::with_capacity(d);
        for k in 0..d {
            let (a, n, b) = u[k].dim();
            let core = if k == 0 {
                let mut w = Array3::zeros((1, n, 2 * b));
                w.slice_mut(s![.., .., ..b]).assign(&(&xi.blocks[0] * t));
                w.slice_mut(s![.., .., b..]).assign(&u[0]);
                w
            } else if k == d - 1 {
                let mut w = Array3::zeros((2 * a, n, 1));
                w.slice_mut(s![..a, .., ..]).assign(&v[k]);
                w.slice_mut(s![a.., .., ..])
                    .assign(&(&u[k] * shift + &xi.blocks[k] * t));
                w
            } else {
                let mut w = Array3::zeros((2 * a, n, 2 * b));
                w.slice_mut(s![..a, .., ..b]).assign(&v[k]);
                w.slice_mut(s![a.., .., ..b]).assign(&(&xi.blocks[k] * t));
                w.slice_mut(s![a.., .., b..]).assign(&u[k]);
                w
            };
            cores.push(core);
        }
        TensorTrain::from_cores(cores)
    }

    /// The rank-`2r` TT of a tangent vector.
    pub fn to_tt(&self, xi: &TangentVector) -> Result<TensorTrain> {
        self.combined_tt(0.0, 1.0, xi)
    }

    /// Dense matrix of the basis `E_X` (`prod n_k x D`, columns `vec(E_X e_j)`), for tests on
    /// small sizes.
    pub fn basis_dense(&self) -> Result<Array2<f64>> {
        let total: usize = self.left.mode_sizes().iter().product();
        let dim = self.dim();
        let mut e = Array2::zeros((total, dim));
        for j in 0..dim {
            let mut c = Array1::zeros(dim);
            c[j] = 1.0;
            let xi = self.from_coords(c.view())?;
            let dense = self.to_tt(&xi)?.to_dense()?;
            e.column_mut(j)
                .assign(&ndarray::Array1::from_iter(dense.iter().cloned()));
        }
        Ok(e)
    }

    fn check_vector(&self, t: &TangentVector) -> Result<()> {
        let ok = t.blocks.len() == self.order()
            && t.blocks
                .iter()
                .zip(self.left.cores())
                .all(|(b, c)| b.shape() == c.shape());
        if ok {
            Ok(())
        } else {
            Err(TtError::Shape(
                "tangent vector blocks do not match the cores of the base point".into(),
            ))
        }
    }
}

/// Re-embed a TT whose ranks dropped below `ranks` by zero-padding its cores (the tensor is
/// unchanged; the point is then on the boundary of `M_r`, and the next QR sweep restores
/// orthonormal padding columns).
fn pad_ranks(tt: TensorTrain, ranks: &[usize]) -> Result<TensorTrain> {
    let cores = tt.into_cores();
    let mut full = vec![1];
    full.extend_from_slice(ranks);
    full.push(1);
    let padded = cores
        .into_iter()
        .enumerate()
        .map(|(k, c)| {
            let (a, n, b) = c.dim();
            let mut p = Array3::zeros((full[k], n, full[k + 1]));
            p.slice_mut(s![..a, .., ..b]).assign(&c);
            p
        })
        .collect::<Vec<_>>();
    TensorTrain::from_cores(padded)
}
