//! The retraction `R_X(t xi) = H_r(X + t xi)` with the block structure of the rank-`2r` TT
//! (MATH.md §3.3, §4).
//!
//! TT rounding right-orthogonalizes its input, then truncates left to right. For
//! `Y = X + t xi` the cores are `W_1 = [A_1, U_1]`, `W_k = [[V_k, 0], [A_k, U_k]]`,
//! `W_d = [V_d; S_d + A_d]` with `A_k = t dG_k`, and the top block rows `[V_k, 0]` are
//! already orthonormal (`V_k` is right-orthogonal). The right-orthogonalization therefore
//! keeps them as the first `r_{k-1}` rows of the new core and only orthonormalizes the bottom
//! rows against them:
//!
//! 1. `H = B T^T`, `B <- B - H T` twice (classical Gram–Schmidt with one re-orthogonalization,
//!    "twice is enough"), where `T = [V_k, 0]` and `B` are the bottom rows;
//! 2. `B^T = Q R` (a thin QR of the `(n_k w_k) x r_{k-1}` transpose: half the width of the
//!    unstructured `2 r_{k-1}`, a quarter of its flops);
//! 3. the new core has rows `[T; Q^T]`, and `Y`'s core is `[[I, 0], [H, R^T]]` times it. Pushing
//!    that factor into core `k - 1` keeps its top block rows `[V_{k-1}, 0]` and makes its
//!    bottom rows `[A_{k-1} + U_{k-1} H, U_{k-1} R^T]` (one GEMM with `U_{k-1}`).
//!
//! The result is the same right-orthogonal representation of `Y` (up to the orthonormal basis
//! chosen for the complement), so the truncation sweep that follows is TT rounding exactly.
//! When the bottom rows are numerically dependent on the top ones or on each other (a
//! rank-deficient `B`, e.g. `t = 0` or a block of `xi` inside the span of `X`'s), the thin
//! `Q` would contain directions not orthogonal to `T`; this is detected from the orthogonality
//! `||T Q||_max` and the computation falls back to the unstructured rounding.

use super::{TangentSpace, TangentVector};
use crate::error::Result;
use crate::gauge::{left_unfolding, right_unfolding, Gauge};
use crate::linalg::{self, Par};
use crate::rounding::Truncation;
use crate::tt::TensorTrain;
use ndarray::{s, Array2, Array3, ArrayView3};

/// Largest accepted `||T Q||_max` for the structured sweep: the orthogonality the
/// unstructured Householder sweep delivers is `O(u sqrt(m))`; beyond `1e-12` the frame would
/// bias the truncation measurably, so the unstructured path is taken instead.
const ORTHOGONALITY_TOL: f64 = 1e-12;

impl TangentSpace {
    /// Retraction `R_X(t xi) = H_r(X + t xi)`: TT rounding of the rank-`2r` TT back to the
    /// ranks of `X`, `O(d n r^3)`, with the right-orthogonalization done on the bottom block
    /// rows only (see the module docs of `tangent::retraction`). The result is
    /// left-orthogonal, ready for the next [`TangentSpace::new`].
    pub fn retract(&self, t: f64, xi: &TangentVector) -> Result<TensorTrain> {
        self.check_vector(xi)?;
        let ranks = self.left.internal_ranks();
        let d = self.order();
        let y = match (d > 1).then(|| self.structured_right_orthogonal(t, xi)) {
            Some(Ok(Some(cores))) => {
                TensorTrain::from_cores_in_gauge(cores, Gauge::Mixed { center: 0 })
            }
            Some(Err(e)) => return Err(e),
            _ => self.combined_tt(1.0, t, xi)?,
        };
        let rounded = y.round_owned(&Truncation::ranks(&ranks), true)?;
        let mut tt = rounded.tt;
        debug_assert_eq!(tt.gauge(), Gauge::Mixed { center: d - 1 });
        // ranks can only drop if X + t xi has lower rank; keep the fixed-rank shapes
        if tt.internal_ranks() != ranks {
            tt = super::pad_ranks(tt, &ranks)?;
        }
        Ok(tt)
    }

    /// The right-orthogonal cores of `X + t xi` (first core carrying the norm), built with the
    /// block structure; `None` when the bottom rows are numerically rank deficient (the caller
    /// then rounds the unstructured TT). Requires `d >= 2`.
    fn structured_right_orthogonal(
        &self,
        t: f64,
        xi: &TangentVector,
    ) -> Result<Option<Vec<Array3<f64>>>> {
        let d = self.order();
        let u = self.left.cores();
        let v = self.right.cores();
        let mut out: Vec<Array3<f64>> = Vec::with_capacity(d);
        // bottom rows of core d: S_d + t dG_d (r_{d-1} x n x 1), V-part width 1, no U-part
        let mut bottom = &u[d - 1] + &(&xi.blocks[d - 1] * t);
        for k in (1..d).rev() {
            let (ra, n, w) = bottom.dim();
            let cv = v[k].dim().2;
            // 1. two passes of classical Gram–Schmidt against T = [V_k, 0]
            let vk = right_unfolding(&v[k]);
            let mut h = Array2::<f64>::zeros((ra, ra));
            for _ in 0..2 {
                let bv = bottom.slice(s![.., .., ..cv]);
                let bv2 = bv
                    .as_standard_layout()
                    .into_owned()
                    .into_shape_with_order((ra, n * cv))
                    .expect("C-order");
                let mut h1 = Array2::<f64>::zeros((ra, ra));
                linalg::gemm(1.0, bv2.view(), vk.t(), 0.0, h1.view_mut(), Par::Seq)?;
                // B_V <- B_V - H1 V_k
                let mut corr = Array2::<f64>::zeros((ra, n * cv));
                linalg::gemm(1.0, h1.view(), vk, 0.0, corr.view_mut(), Par::Seq)?;
                let corr = corr.into_shape_with_order((ra, n, cv)).expect("C-order");
                let mut bvm = bottom.slice_mut(s![.., .., ..cv]);
                bvm -= &corr;
                h += &h1;
            }
            // 2. an orthonormal basis Q (n w x m) of the new directions and E = R^T Q^T
            let (q, rt) = if n * w >= 2 * ra {
                // thin QR of the transposed right unfolding of the bottom rows
                let (q, r) = linalg::qr_thin(right_unfolding(&bottom).t())?;
                if q.ncols() < ra || !orthogonal_to_top(&q, v[k].view(), n, w)? {
                    return Ok(None);
                }
                (q, r.t().to_owned())
            } else {
                // fewer than 2 r_{k-1} columns: the rows of Y's core span at most n w
                // dimensions; E lies in the complement of T (dimension n w - r_{k-1}), so take
                // its basis and E = (E Q) Q^T exactly
                let mut tt = Array2::<f64>::zeros((n * w, ra));
                {
                    let mut t3 = tt
                        .view_mut()
                        .into_shape_with_order((n, w, ra))
                        .expect("C-order");
                    for a in 0..ra {
                        for j in 0..n {
                            for c in 0..cv {
                                t3[[j, c, a]] = v[k][[a, j, c]];
                            }
                        }
                    }
                }
                let q = linalg::Householder::new(tt.view())?.complement();
                let mut rt = Array2::<f64>::zeros((ra, q.ncols()));
                linalg::gemm(
                    1.0,
                    right_unfolding(&bottom),
                    q.view(),
                    0.0,
                    rt.view_mut(),
                    Par::Seq,
                )?;
                (q, rt)
            };
            let m = q.ncols();
            // 3. the new core [T; Q^T]
            let mut core = Array3::<f64>::zeros((ra + m, n, w));
            core.slice_mut(s![..ra, .., ..cv]).assign(&v[k]);
            core.slice_mut(s![ra.., .., ..]).assign(
                &q.t()
                    .as_standard_layout()
                    .into_shape_with_order((m, n, w))
                    .expect("C-order"),
            );
            out.push(core);
            // push [[I, 0], [H, R^T]] into core k - 1: bottom <- [A + U H, U R^T]
            let (ua, un, _) = u[k - 1].dim();
            let mut hr = Array2::<f64>::zeros((ra, ra + m));
            hr.slice_mut(s![.., ..ra]).assign(&h);
            hr.slice_mut(s![.., ra..]).assign(&rt);
            let mut nb = Array2::<f64>::zeros((ua * un, ra + m));
            linalg::gemm(
                1.0,
                left_unfolding(&u[k - 1]),
                hr.view(),
                0.0,
                nb.view_mut(),
                Par::Seq,
            )?;
            let mut nb = nb.into_shape_with_order((ua, un, ra + m)).expect("C-order");
            nb.slice_mut(s![.., .., ..ra])
                .scaled_add(t, &xi.blocks[k - 1]);
            bottom = nb;
        }
        // core 1 has no top rows: it is the bottom, carrying the norm
        out.push(bottom);
        out.reverse();
        Ok(Some(out))
    }
}

/// `||T Q||_max <= ORTHOGONALITY_TOL` with `T = [V_k, 0]` (`V_k` is `r x n x cv`, the rows of
/// `Q^T` are `r x n x w`, `w >= cv`).
fn orthogonal_to_top(q: &Array2<f64>, vk: ArrayView3<'_, f64>, n: usize, w: usize) -> Result<bool> {
    let (ra, _, cv) = vk.dim();
    let qc = q.ncols();
    // Q's rows indexed (j, c); keep c < cv
    let q3 = q.view().into_shape_with_order((n, w, qc)).expect("C-order");
    let qv = q3
        .slice(s![.., ..cv, ..])
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((n * cv, qc))
        .expect("C-order");
    let vk2 = vk
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((ra, n * cv))
        .expect("C-order");
    let mut p = Array2::<f64>::zeros((ra, qc));
    linalg::gemm(1.0, vk2.view(), qv.view(), 0.0, p.view_mut(), Par::Seq)?;
    Ok(p.iter().all(|x| x.abs() <= ORTHOGONALITY_TOL))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tt::{clamp_ranks, CoreDistribution};
    use ndarray::Array1;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    fn dense(t: &TensorTrain) -> Vec<f64> {
        t.to_dense().unwrap().iter().cloned().collect()
    }

    fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
        let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
        let den: f64 = b.iter().map(|y| y * y).sum();
        (num / den.max(f64::MIN_POSITIVE)).sqrt()
    }

    /// The structured retraction equals the unstructured TT rounding of `X + t xi` (dense
    /// tensors, independent of the gauge), and the structured path is the one taken for generic
    /// steps. Tolerance: both are the TT-SVD truncation of the same tensor; their difference is
    /// round-off amplified by `sigma_1 / (sigma_r - sigma_{r+1})` of the truncated unfoldings,
    /// which is moderate for random points and steps (the worst ratio seen here is printed on
    /// failure), so `1e-10` relative leaves a margin of ~1e4 over `u` times that ratio.
    #[test]
    fn structured_retraction_equals_rounding_of_the_sum() {
        let mut rng = StdRng::seed_from_u64(11);
        let cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
            (vec![3, 4], vec![2]),
            (vec![2, 3, 2], vec![2, 2]),
            (vec![3, 3, 3, 3], vec![2, 3, 2]),
            (vec![4, 2, 3, 2, 4], vec![3, 4, 3, 2]),
            (vec![2, 2, 2], vec![2, 2]),
            (vec![5, 4, 3], vec![1, 1]),
        ];
        for (sizes, req) in cases {
            let ranks = clamp_ranks(&sizes, &req);
            let x = TensorTrain::random(&sizes, &ranks, CoreDistribution::ScaledNormal, &mut rng)
                .unwrap();
            let ts = TangentSpace::new(&x).unwrap();
            let c = Array1::from_shape_simple_fn(ts.dim(), || StandardNormal.sample(&mut rng));
            let xi = ts.from_coords(c.view()).unwrap();
            for t in [1.0, 0.3, 1e-3, 1e-6, 0.0] {
                let reference = ts
                    .combined_tt(1.0, t, &xi)
                    .unwrap()
                    .round(&Truncation::ranks(&ranks))
                    .unwrap()
                    .tt;
                let r = ts.retract(t, &xi).unwrap();
                let e = rel_diff(&dense(&r), &dense(&reference));
                assert!(e <= 1e-10, "{sizes:?} {ranks:?} t={t}: {e:e}");
                assert_eq!(r.internal_ranks(), ranks);
                assert!(r.left_orthogonality_error(sizes.len() - 1) <= 1e-12);
                if t != 0.0 {
                    let s = ts.structured_right_orthogonal(t, &xi).unwrap();
                    assert!(s.is_some(), "{sizes:?} t={t}: fell back");
                    let y =
                        TensorTrain::from_cores_in_gauge(s.unwrap(), Gauge::Mixed { center: 0 });
                    assert!(y.right_orthogonality_error(1) <= 1e-12);
                    let e = rel_diff(&dense(&y), &dense(&ts.combined_tt(1.0, t, &xi).unwrap()));
                    assert!(e <= 1e-13, "{sizes:?} t={t}: {e:e}");
                }
            }
        }
    }
}
