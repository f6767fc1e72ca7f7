//! Orthogonal projection onto `T_X` and vector transport (MATH.md §3.4, §5).

use super::{SampleInterfaces, TangentSpace, TangentVector};
use crate::algebra::environment_step;
use crate::error::{Result, TtError};
use crate::gauge::{left_unfolding, right_unfolding};
use crate::interfaces::face_split_into;
use crate::linalg::{self, Par};
use crate::tt::TensorTrain;
use ndarray::{s, Array2, ArrayView1, ArrayView2};

impl TangentSpace {
    /// `P_X Z` for a TT `Z` of any ranks `s`, without dense tensors, `O(d n r s (r + s))`.
    ///
    /// Left environments `Theta_k = sum_j U_k[j]^T Theta_{k-1} Z_k[j]` and right environments
    /// `Omega_k = sum_j V_k[j] Omega_{k+1} Z_k[j]^T` give the unprojected block slices
    /// `Theta_{k-1} Z_k[j] Omega_{k+1}^T`; the gauge projector `Pi_k` then acts on the left
    /// unfolding.
    pub fn project_tt(&self, z: &TensorTrain) -> Result<TangentVector> {
        if z.mode_sizes() != self.point().mode_sizes() {
            return Err(TtError::Shape(format!(
                "cannot project a TT with mode sizes {:?} onto a tangent space with {:?}",
                z.mode_sizes(),
                self.point().mode_sizes()
            )));
        }
        let d = self.order();
        let u = self.point().cores();
        let v = self.point_right().cores();
        let zc = z.cores();
        // theta[k]: r_k x s_k after cores 0..k-1
        let mut theta = Vec::with_capacity(d);
        theta.push(Array2::ones((1, 1)));
        for k in 0..d - 1 {
            let next = environment_step(&theta[k], &u[k], &zc[k])?;
            theta.push(next);
        }
        // omega[k]: r_k x s_k after cores k..d-1 (omega[d] = 1), as right environments
        let mut omega = vec![Array2::ones((1, 1)); d + 1];
        for k in (1..d).rev() {
            // Omega_k = sum_j V_k[j] Omega_{k+1} Z_k[j]^T  (r_{k-1} x s_{k-1})
            let (ra, n, _) = v[k].dim();
            let (sa, _, sb) = zc[k].dim();
            // T = V_k^L-ish: (r_{k-1} n) x r_k times Omega_{k+1} (r_k x s_k) -> (r_{k-1} n) x s_k
            let t = linalg::matmul(left_unfolding(&v[k]), omega[k + 1].view())?;
            let t = t.into_shape_with_order((ra, n * sb)).expect("C-order");
            // contract with Z_k^R (s_{k-1} x n s_k): Omega_k = T (Z^R)^T
            let zr = zc[k]
                .view()
                .into_shape_with_order((sa, n * sb))
                .expect("C-order");
            omega[k] = linalg::matmul(t.view(), zr.t())?;
        }
        let mut blocks = Vec::with_capacity(d);
        for k in 0..d {
            let (ra, n, rb) = u[k].dim();
            let sb = zc[k].shape()[2];
            // Theta_{k-1} Z_k^R : r_{k-1} x (n s_k) -> (r_{k-1} n) x s_k
            let t = linalg::matmul(theta[k].view(), right_unfolding(&zc[k]))?;
            let t = t.into_shape_with_order((ra * n, sb)).expect("C-order");
            let blk = linalg::matmul(t.view(), omega[k + 1].t())?;
            blocks.push(blk.into_shape_with_order((ra, n, rb)).expect("C-order"));
        }
        let mut out = TangentVector { blocks };
        self.enforce_gauge(&mut out)?;
        Ok(out)
    }

    /// Vector transport `T_{X -> Y}(xi) = P_Y xi` of a tangent vector at another point
    /// `from` (its rank-`2r` TT is projected here), `O(d n r^3)`.
    pub fn transport(&self, from: &TangentSpace, xi: &TangentVector) -> Result<TangentVector> {
        self.project_tt(&from.to_tt(xi)?)
    }

    /// `P_X Z` for `Z = sum_i w_i phi_1(x_1^i) (x) ... (x) phi_d(x_d^i)`, the Euclidean gradient
    /// of every sample-based loss (`w = e / N` for least squares), without forming `Z`:
    /// `dG_k^L = Pi_k (L^U_{k-1} (.) Phi_k)^T diag(w) R^V_{k+1}`, one GEMM per core over row
    /// chunks, `O(N d n r^2)`.
    pub fn project_samples(
        &self,
        si: &SampleInterfaces,
        features: &[ArrayView2<'_, f64>],
        w: ArrayView1<'_, f64>,
        par: Par,
    ) -> Result<TangentVector> {
        let n_samples = si.check(self, features)?;
        if w.len() != n_samples {
            return Err(TtError::Shape(format!(
                "{} weights for {n_samples} samples",
                w.len()
            )));
        }
        let d = self.order();
        let mut blocks = Vec::with_capacity(d);
        for (k, &phi) in features.iter().enumerate() {
            let (ra, n, rb) = self.point().cores()[k].dim();
            let lk = si.left_u[k].view();
            let rk = si.right_v[k + 1].view();
            let acc = weighted_face_split_gram(lk, phi, rk, w, par)?;
            blocks.push(acc.into_shape_with_order((ra, n, rb)).expect("C-order"));
        }
        let mut out = TangentVector { blocks };
        self.enforce_gauge(&mut out)?;
        Ok(out)
    }
}

/// `(L (.) Phi)^T diag(w) R` (`(r_a n) x r_b`) over row chunks, summed by the workspace's
/// one sample reduction ([`crate::reduce::fold_chunks`]): each chunk's face split `L (.) Phi`
/// is formed in a scratch buffer and added by one GEMM into its leaf's accumulator, and the
/// leaves are merged in a fixed order, so the result does not depend on `par` or on the thread
/// schedule.
pub(crate) fn weighted_face_split_gram(
    l: ArrayView2<'_, f64>,
    phi: ArrayView2<'_, f64>,
    r: ArrayView2<'_, f64>,
    w: ArrayView1<'_, f64>,
    par: Par,
) -> Result<Array2<f64>> {
    let n_samples = l.nrows();
    let (ra, n, rb) = (l.ncols(), phi.ncols(), r.ncols());
    let m = ra * n;
    // accumulator with its scratch: the face split of a chunk and the weighted right interfaces
    type Acc = (Array2<f64>, Vec<f64>, Vec<f64>);
    let (acc, _, _) = crate::reduce::fold_chunks(
        n_samples,
        crate::reduce::Plan::default_for(n_samples),
        par,
        || -> Acc { (Array2::zeros((m, rb)), Vec::new(), Vec::new()) },
        |acc: &mut Acc, rows: std::ops::Range<usize>| -> Result<()> {
            let len = rows.len();
            let (g, fs, wr) = acc;
            fs.resize(len * m, 0.0);
            wr.resize(len * rb, 0.0);
            face_split_into(
                l.slice(s![rows.clone(), ..]),
                phi.slice(s![rows.clone(), ..]),
                &mut fs[..len * m],
            );
            for ((dst, rrow), &wi) in wr
                .chunks_exact_mut(rb)
                .zip(r.slice(s![rows.clone(), ..]).rows())
                .zip(w.slice(s![rows]).iter())
            {
                for (o, &x) in dst.iter_mut().zip(rrow.iter()) {
                    *o = wi * x;
                }
            }
            let a = ArrayView2::from_shape((len, m), &fs[..len * m]).expect("scratch sized above");
            let b =
                ArrayView2::from_shape((len, rb), &wr[..len * rb]).expect("scratch sized above");
            linalg::gemm(1.0, a.t(), b, 1.0, g.view_mut(), Par::Seq)?;
            Ok(())
        },
        |a: &mut Acc, b: Acc| a.0 += &b.0,
    )?;
    Ok(acc)
}

/// Row-wise Kronecker ("face-splitting") product: row `i` is `L[i, :] (x) Phi[i, :]`.
pub fn face_split(l: ArrayView2<'_, f64>, phi: ArrayView2<'_, f64>) -> Array2<f64> {
    let (rows, ra) = l.dim();
    let mut out = Array2::zeros((rows, ra * phi.ncols()));
    face_split_into(l, phi, out.as_slice_mut().expect("new arrays are C-order"));
    out
}
